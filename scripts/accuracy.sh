#!/usr/bin/env bash
# How accurate is the open model's response time? Two delays whose tail is
# known from their parameters alone, measured by opmon:
#
# 1. The embedded node adds a fixed latency and stalls periodically. The
#    open model (response time from the intended start, service time from
#    the actual start) runs beside a closed loop at the same pace, which is
#    what a closed-loop tool would report.
# 2. The load generator itself is held back: the bench process is stopped
#    (SIGSTOP) for the same stall every period, as an overloaded client
#    machine would be. Operations due meanwhile start late; the node is
#    unaffected, so service time stays flat and only response time, which
#    counts from the intended start, carries the delay.
#
#   scripts/accuracy.sh [RATE] [SECONDS] [LATENCY_MS] [STALL_MS] [EVERY_S]
source "$(dirname "$0")/common.sh"
rate=${1:-50}
seconds=${2:-30}
latency_ms=${3:-20}
stall_ms=${4:-500}
every_s=${5:-5}
faults=(--inject-latency "fixed:${latency_ms}ms" --stall "${stall_ms}ms/${every_s}s")

# The tail implied by the parameters alone. A request arriving d into a
# stall waits (stall - d) more, so within the stalled fraction
# f = stall / every, delays spread evenly over (0, stall]: for q > 1 - f,
# R(q) = latency + stall * (1 - (1 - q) / f), and R(q) = latency below.
implied() {
  awk -v q="$1" -v base="$latency_ms" -v s="$stall_ms" -v every="$every_s" 'BEGIN {
    f = s / (every * 1000)
    printf "%.1f", (q > 1 - f) ? base + s * (1 - (1 - q) / f) : base }'
}
i99=$(implied 0.99)
i999=$(implied 0.999)

row() { # LABEL P99 P99.9 [vs implied]
  if [ "${4:-}" = vs ]; then
    awk -v l="$1" -v a="$2" -v b="$3" -v x="$i99" -v y="$i999" 'BEGIN {
      printf "%-38s %10.1f %10.1f   (%+.1f%%, %+.1f%%)\n", l, a, b, (a / x - 1) * 100, (b / y - 1) * 100 }'
  else
    printf "%-38s %10.1f %10.1f\n" "$1" "$2" "$3"
  fi
}
header() { printf "\n%-38s %10s %10s\n" "$1" "p99 (ms)" "p99.9 (ms)"; row "implied by the parameters" "$i99" "$i999"; }

echo "== 1. the node stalls: open model, --rate $rate --duration ${seconds}s ${faults[*]}"
"$opmon" bench --scenario lookup --rate "$rate" --duration "${seconds}s" "${faults[@]}" \
  --quiet --out "$work/open" | tee "$work/open.txt"
echo "== closed loop: --concurrency 1 --duration ${seconds}s ${faults[*]}"
"$opmon" bench --scenario lookup --concurrency 1 --duration "${seconds}s" "${faults[@]}" \
  --quiet --out "$work/closed" >"$work/closed.txt"
head -3 "$work/closed.txt"

echo "== 2. the generator stalls: open model, --rate $rate --inject-latency fixed:${latency_ms}ms," \
  "the bench process stopped ${stall_ms}ms every ${every_s}s"
"$opmon" bench --scenario lookup --rate "$rate" --duration "${seconds}s" \
  --inject-latency "fixed:${latency_ms}ms" --quiet --out "$work/held" >"$work/held.txt" &
bench=$!
stop_s=$(awk -v s="$stall_ms" 'BEGIN { printf "%.3f", s / 1000 }')
run_s=$(awk -v s="$stall_ms" -v e="$every_s" 'BEGIN { printf "%.3f", e - s / 1000 }')
while kill -0 "$bench" 2>/dev/null; do
  sleep "$run_s"
  kill -STOP "$bench" 2>/dev/null || break
  sleep "$stop_s"
  kill -CONT "$bench" 2>/dev/null || break
done
wait "$bench"
head -3 "$work/held.txt"

header "1. node stalls"
row "open model, response time" "$(figure "$work/open" response_p99_ms)" \
  "$(figure "$work/open" response_p99_9_ms)" vs
row "open model, service time" "$(figure "$work/open" service_p99_ms)" \
  "$(figure "$work/open" service_p99_9_ms)" vs
row "closed loop (what it misses)" "$(figure "$work/closed" response_p99_ms)" \
  "$(figure "$work/closed" response_p99_9_ms)" vs
echo "largest scheduling lag of the open model: $(figure "$work/open" max_schedule_lag_ms) ms"

header "2. generator stalls"
row "open model, response time" "$(figure "$work/held" response_p99_ms)" \
  "$(figure "$work/held" response_p99_9_ms)" vs
row "open model, service time" "$(figure "$work/held" service_p99_ms)" \
  "$(figure "$work/held" service_p99_9_ms)"
# Calls in flight when the process stops (rate x latency, about one per
# pause) wait out the pause too: they reach service time's far tail only.
echo "(service time's far tail: the calls in flight when the process stopped)"
echo "largest scheduling lag of the held generator: $(figure "$work/held" max_schedule_lag_ms) ms" \
  "(about ${stall_ms} ms expected)"

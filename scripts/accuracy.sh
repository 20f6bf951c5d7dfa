#!/usr/bin/env bash
# How accurate is the open model's response time? The embedded node adds a
# fixed latency and stalls periodically; from those, the schedule implies
# the tail exactly. This runs the open model (response time from the
# intended start, service time from the actual start) and, for contrast, a
# closed loop at the same pace — what a closed-loop tool would report.
#
#   scripts/accuracy.sh [RATE] [SECONDS] [LATENCY_MS] [STALL_MS] [EVERY_S]
source "$(dirname "$0")/common.sh"
rate=${1:-50}
seconds=${2:-30}
latency_ms=${3:-20}
stall_ms=${4:-500}
every_s=${5:-5}
faults=(--inject-latency "fixed:${latency_ms}ms" --stall "${stall_ms}ms/${every_s}s")

echo "== open model: --rate $rate --duration ${seconds}s ${faults[*]}"
"$opmon" bench --scenario lookup --rate "$rate" --duration "${seconds}s" "${faults[@]}" \
  --quiet --out "$work/open" | tee "$work/open.txt"
echo "== closed loop: --concurrency 1 --duration ${seconds}s ${faults[*]}"
"$opmon" bench --scenario lookup --concurrency 1 --duration "${seconds}s" "${faults[@]}" \
  --quiet --out "$work/closed" >"$work/closed.txt"
head -3 "$work/closed.txt"

# One figure from a summary.csv, by column name.
figure() {
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i }
                        NR == 2 { print $col }' "$1/summary.csv"
}

# A request arriving d into a stall waits (stall - d) more: within the
# stalled fraction f = stall/every, response times spread evenly over
# (base, base + stall]. So for q > 1 - f: R(q) = base + stall * (1 - (1-q)/f).
# base is the unstalled response time: the median, as fewer than half stall.
base=$(figure "$work/open" response_p50_ms)
awk -v base="$base" -v s="$stall_ms" -v every="$every_s" \
    -v r99="$(figure "$work/open" response_p99_ms)" -v r999="$(figure "$work/open" response_p99_9_ms)" \
    -v s99="$(figure "$work/open" service_p99_ms)" -v s999="$(figure "$work/open" service_p99_9_ms)" \
    -v c99="$(figure "$work/closed" response_p99_ms)" -v c999="$(figure "$work/closed" response_p99_9_ms)" \
    -v lag="$(figure "$work/open" max_schedule_lag_ms)" 'BEGIN {
  f = s / (every * 1000)
  i99 = base + s * (1 - 0.01 / f); i999 = base + s * (1 - 0.001 / f)
  printf "\n%-34s %10s %10s\n", "", "p99 (ms)", "p99.9 (ms)"
  printf "%-34s %10.1f %10.1f\n", "implied by the schedule", i99, i999
  printf "%-34s %10.1f %10.1f   (%+.1f%%, %+.1f%%)\n", "open model, response time", r99, r999, (r99 / i99 - 1) * 100, (r999 / i999 - 1) * 100
  printf "%-34s %10.1f %10.1f\n", "open model, service time", s99, s999
  printf "%-34s %10.1f %10.1f\n", "closed loop (what it misses)", c99, c999
  printf "largest scheduling lag of the open model: %.2f ms\n", lag }'

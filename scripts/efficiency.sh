#!/usr/bin/env bash
# Requests per second of `opmon bench --scenario lookup` against the
# embedded node, beside h2load sending the same GetInboxIds request to the
# same node at the same concurrency (one HTTP/2 connection, N streams, as
# opmon's client uses). opmon runs twice per round, with its default worker
# threads (one per core) and with `--threads 1` as h2load's `-t 1`; rounds
# interleave the three so the machine's drift touches all alike. Needs
# h2load (Debian: nghttp2-client).
#
#   scripts/efficiency.sh [CONCURRENCY] [SECONDS] [ROUNDS]
source "$(dirname "$0")/common.sh"
concurrency=${1:-32}
seconds=${2:-20}
rounds=${3:-3}
command -v h2load >/dev/null || { echo "efficiency.sh: h2load is missing (apt-get install nghttp2-client)" >&2; exit 1; }

"$opmon" node --listen 127.0.0.1:0 >"$work/node.out" &
node=$!
cleanup="kill $node 2>/dev/null || true"
for _ in $(seq 50); do grep -q listening "$work/node.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/node.out")

# GetInboxIdsRequest{requests: [{identifier: 0x11…11, identifier_kind: ETHEREUM}]}
# in one gRPC frame: flag 0, length 48, then the message.
address="0x$(printf '1%.0s' $(seq 40))"
{
  printf '\x00\x00\x00\x00\x30'
  printf '\x0a\x2e\x0a\x2a%s\x10\x01' "$address"
} >"$work/request.bin"

# CPU seconds (user + system) a command used, from bash's own timer.
TIMEFORMAT='%U %S'
cpu_of() { awk '{print $1 + $2}' "$1"; }
# CPU seconds the node has used so far (clock ticks of 10 ms).
node_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$node/stat"; }

# One opmon run; prints "requests/s client-CPU-us/request node-CPU-us/request".
opmon_run() {
  local out="$work/opmon-$1-$2" before
  before=$(node_cpu)
  { time "$opmon" bench --node "$url" --gateway "$url" --scenario lookup \
    --concurrency "$concurrency" --duration "${seconds}s" --warmup 2s \
    ${1:+--threads "$1"} --quiet --out "$out" >/dev/null; } 2>"$out.time"
  awk -v r="$(figure "$out" throughput_per_s)" -v o="$(figure "$out" attempts)" \
    -v c="$(cpu_of "$out.time")" -v a="$before" -v b="$(node_cpu)" \
    'BEGIN {printf "%.0f %.1f %.1f\n", r, c / o * 1e6, (b - a) / o * 1e6}'
}

# One h2load run, printed the same way.
h2load_run() {
  local out="$work/h2load-$1" before
  before=$(node_cpu)
  { time h2load -c 1 -m "$concurrency" -t 1 -D "$seconds" --warm-up-time=2 \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "$work/request.bin" "$url/xmtp.xmtpv4.message_api.QueryApi/GetInboxIds" \
    >"$out.txt"; } 2>"$out.time"
  grep -q '^status codes: [0-9]* 2xx' "$out.txt" || { cat "$out.txt" >&2; exit 1; }
  local rps ops
  rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out.txt")
  ops=$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' "$out.txt")
  awk -v r="$rps" -v o="$ops" -v c="$(cpu_of "$out.time")" -v a="$before" -v b="$(node_cpu)" \
    'BEGIN {printf "%.0f %.1f %.1f\n", r, c / o * 1e6, (b - a) / o * 1e6}'
}

# CPU per request includes warm-up (and opmon's provisioning): an upper bound.
echo "lookups at concurrency $concurrency, ${seconds}s each, $rounds rounds"
printf '%-6s %-22s %10s %16s %16s %8s\n' round tool "requests/s" "client us/req" "node us/req" "ratio"
for round in $(seq "$rounds"); do
  default=$(opmon_run "" "$round")
  single=$(opmon_run 1 "$round")
  h2=$(h2load_run "$round")
  for row in "opmon:$default" "opmon --threads 1:$single" "h2load -t 1:$h2"; do
    set -- ${row#*:}
    awk -v r="$round" -v t="${row%%:*}" -v q="$1" -v c="$2" -v n="$3" -v h="${h2%% *}" \
      'BEGIN {printf "%-6s %-22s %10d %16.1f %16.1f %7.2fx\n", r, t, q, c, n, q / h}'
  done
done

#!/usr/bin/env bash
# Requests per second of `opmon bench --scenario lookup` against the
# embedded node, beside h2load sending the same GetInboxIds request to the
# same node at the same concurrency (one HTTP/2 connection, N streams, as
# opmon's client uses). Needs h2load (Debian: nghttp2-client).
#
#   scripts/efficiency.sh [CONCURRENCY] [SECONDS]
source "$(dirname "$0")/common.sh"
concurrency=${1:-32}
seconds=${2:-20}
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

echo "== opmon bench --scenario lookup --concurrency $concurrency --duration ${seconds}s"
before=$(node_cpu)
{ time "$opmon" bench --node "$url" --gateway "$url" --scenario lookup \
  --concurrency "$concurrency" --duration "${seconds}s" --warmup 2s \
  --quiet --out "$work/opmon" >"$work/opmon.txt"; } 2>"$work/opmon.time"
opmon_node=$(awk -v a="$before" -v b="$(node_cpu)" 'BEGIN {print b - a}')
cat "$work/opmon.txt"
opmon_rps=$(awk -F, 'NR==2 {print $23}' "$work/opmon/summary.csv")
opmon_ops=$(awk -F, 'NR==2 {print $20}' "$work/opmon/summary.csv")

echo "== h2load -c 1 -m $concurrency -D $seconds (same node, same request)"
before=$(node_cpu)
{ time h2load -c 1 -m "$concurrency" -t 1 -D "$seconds" --warm-up-time=2 \
  -H 'content-type: application/grpc' -H 'te: trailers' \
  -d "$work/request.bin" "$url/xmtp.xmtpv4.message_api.QueryApi/GetInboxIds" \
  >"$work/h2load.txt"; } 2>"$work/h2load.time"
h2load_node=$(awk -v a="$before" -v b="$(node_cpu)" 'BEGIN {print b - a}')
grep -E '^(finished|requests|status)' "$work/h2load.txt"
h2load_rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$work/h2load.txt")
h2load_ops=$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' "$work/h2load.txt")

# CPU per request includes provisioning and warm-up for both: an upper bound.
awk -v o="$opmon_rps" -v h="$h2load_rps" \
    -v oc="$(cpu_of "$work/opmon.time")" -v hc="$(cpu_of "$work/h2load.time")" \
    -v on="$opmon_node" -v hn="$h2load_node" -v oo="$opmon_ops" -v ho="$h2load_ops" 'BEGIN {
  printf "\nlookups/s: opmon %.0f, h2load %.0f, ratio %.2f\n", o, h, o / h
  printf "client CPU per request: opmon %.1f us, h2load %.1f us\n", oc / oo * 1e6, hc / ho * 1e6
  printf "node CPU per request:   under opmon %.1f us, under h2load %.1f us\n", on / oo * 1e6, hn / ho * 1e6 }'

#!/usr/bin/env bash
# Does memory stay flat over a long run? Runs each scenario against the
# embedded node for DURATION (default 10m) at concurrency 2, then a
# one-million-operation lookup run, and prints the client's and the node's
# RSS at 1, 5 and 10 minutes (and at the end), read from the per-second
# resource samples in run.json. Extra bench flags (the node's bounds, for
# instance) come from $SOAK_ARGS. Needs python3.
#
#   scripts/soak.sh [DURATION] [SCENARIO...]
#   scripts/soak.sh 10m mix group add-members
#   SOAK_ARGS="--max-store 64MiB" scripts/soak.sh 10m mix
source "$(dirname "$0")/common.sh"
duration=${1:-10m}
shift || true
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(mix group add-members)
command -v python3 >/dev/null || { echo "soak.sh: python3 is needed to read run.json" >&2; exit 1; }

report() {
  python3 - "$1/run.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
samples = run["resources"]["samples"]
mib = lambda b: b / 1048576 if b is not None else float("nan")
ops = sum(op["attempts"] for op in run["operations"])
failed = sum(op["attempts"] - op["ok"] for op in run["operations"])
print(f"  {ops} operations ({failed} failed) in {run['window']['measured_s']:.0f} s measured")
def at(t):
    # The sample closest to t seconds after the start of the run.
    return min(samples, key=lambda s: abs(s["t_s"] - t))
marks = [(60, "1 min"), (300, "5 min"), (600, "10 min")]
last = samples[-1]["t_s"]
rows = [(label, at(t)) for t, label in marks if t <= last + 1] + [("end", samples[-1])]
print(f"  {'at':>7} {'t (s)':>7} {'client MiB':>11} {'node MiB':>9}")
for label, s in rows:
    print(f"  {label:>7} {s['t_s']:7.0f} {mib(s['client_rss_bytes']):11.1f} {mib(s.get('node_rss_bytes')):9.1f}")
half = [s for s in samples if s["t_s"] >= last / 2]
growth = lambda key: mib(half[-1][key]) - mib(half[0][key]) if half[0].get(key) is not None else float("nan")
print(f"  second half: client {growth('client_rss_bytes'):+.1f} MiB, node {growth('node_rss_bytes'):+.1f} MiB")
PY
}

for scenario in "${scenarios[@]}"; do
  echo "== opmon bench --scenario $scenario --concurrency 2 --duration $duration --group-size 10 ${SOAK_ARGS:-}"
  # shellcheck disable=SC2086 # SOAK_ARGS is a list of flags
  "$opmon" bench --scenario "$scenario" --concurrency 2 --duration "$duration" \
    --group-size 10 ${SOAK_ARGS:-} --quiet --out "$work/$scenario" >/dev/null
  report "$work/$scenario"
done
echo "== opmon bench --scenario lookup --ops 1000000 --concurrency 32"
"$opmon" bench --scenario lookup --ops 1000000 --concurrency 32 --warmup 0s \
  --quiet --out "$work/lookup" >/dev/null
report "$work/lookup"

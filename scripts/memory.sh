#!/usr/bin/env bash
# Does the load generator's memory stay bounded? Runs OPS lookups against
# the embedded node and prints the client's RSS over the run (sampled every
# second into run.json). Needs python3 to read run.json.
#
#   scripts/memory.sh [OPS] [CONCURRENCY]
source "$(dirname "$0")/common.sh"
ops=${1:-1000000}
concurrency=${2:-32}
command -v python3 >/dev/null || { echo "memory.sh: python3 is needed to read run.json" >&2; exit 1; }

echo "== opmon bench --scenario lookup --ops $ops --concurrency $concurrency"
"$opmon" bench --scenario lookup --ops "$ops" --concurrency "$concurrency" \
  --warmup 0s --quiet --out "$work/run"
python3 - "$work/run/run.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
samples = run["resources"]["samples"]
mib = lambda b: b / 1048576
ops = sum(op["attempts"] for op in run["operations"])
rss = [mib(s["client_rss_bytes"]) for s in samples]
tenth = len(rss) // 10
print(f"\n{ops} operations in {run['window']['measured_s']:.0f} s; client RSS every second ({len(rss)} samples):")
print("  " + " ".join(f"{r:.1f}" for r in rss[:: max(1, len(rss) // 20)]))
print(f"  first {rss[0]:.1f} MiB, after 10% {rss[tenth]:.1f} MiB, last {rss[-1]:.1f} MiB, peak {max(rss):.1f} MiB")
print(f"  growth from 10% to the end: {rss[-1] - rss[tenth]:+.1f} MiB")
PY

#!/usr/bin/env bash
# V3 against V4 on the embedded node, operation by operation: RUNS runs of
# each API (the same mix, the same load), then `opmon compare` with V3 as
# the base, so the ratio column reads "V4 is N× V3". The node's
# --indexer-lag models V4's blockchain write path, so it applies to V4's
# chain-path writes only (identity updates and commits); V3 writes to a
# database and is readable at once. Each write is followed by what the
# other side sees (--visibility): identity.visible, member.visible and
# message.visible.
#
#   scripts/v3_vs_v4.sh [RUNS] [SECONDS] [INDEXER_LAG]
source "$(dirname "$0")/common.sh"
runs=${1:-4}
seconds=${2:-8}
lag=${3:-500ms}
load=(--scenario mix --mix identity=1,group=1,add-members=1,message=1 --visibility --group-size 3 --concurrency 4
      --duration "${seconds}s" --warmup 2s --indexer-lag "$lag" --quiet)

for i in $(seq "$runs"); do
  for api in v3 v4; do
    "$opmon" bench --api "$api" "${load[@]}" --out "$work/$api/$i" >/dev/null
  done
done
"$opmon" compare "$work"/v3/*/run.json --vs "$work"/v4/*/run.json ${COMPARE_FORMAT:+--format "$COMPARE_FORMAT"}

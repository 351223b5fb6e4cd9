#!/bin/bash
# usage: shards.sh <portunus-bin> <bench-bin> <outdir> [extra bench args…]
# The webinar over one and two shards (webinar-shards.{md,json}): for N in 200 500 and S in 1 2,
# a fresh `portunus --shards S` and a webinar of N subscribers, server and generator unpinned;
# each run writes <outdir>/shardsS-nN.{json,md}. Stops the server by PID after each run.
set -u
BIN=$1; BENCH=$2; D=$3; shift 3
mkdir -p "$D"
. "$(dirname "$0")/portunus-up.sh"
for N in 200 500; do
  for S in 1 2; do
    start_portunus "$D/server-shards$S-n$N.log" 18188 "$BIN" --shards $S
    "$BENCH" webinar --n $N --url ws://127.0.0.1:18188/ --server-pid $SP \
      --label portunus-shards$S --warmup 3 --duration 8 "$@" \
      --json "$D/shards$S-n$N.json" --markdown "$D/shards$S-n$N.md"
    kill $SP 2>/dev/null; wait $SP 2>/dev/null
  done
done

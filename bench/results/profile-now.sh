#!/bin/bash
# usage: profile-now.sh <portunus-bin> <bench-bin> <N> <outdir> [extra bench args…]
# Webinar of N subscribers against portunus (core 0, --shards 1; bench on core 1), then
# 8 s of `perf record -e cpu-clock -g` on the server. Summaries go to <outdir>/summary.txt.
set -u
BIN=$1; BENCH=$2; N=$3; D=$4; shift 4
mkdir -p "$D"
. "$(dirname "$0")/portunus-up.sh"
start_portunus $D/server.log 18688 taskset -c 0 "$BIN" --shards 1
taskset -c 1 "$BENCH" webinar --n "$N" --url ws://127.0.0.1:18688/ --server-pid $SP \
  --label portunus --warmup 3 --duration 16 "$@" >$D/bench.out 2>$D/bench.err &
BP=$!
wait_peers $((N + 1))
sleep 4
perf record -e cpu-clock -F 4000 -g -p $SP -o $D/perf.data -- sleep 8 >/dev/null 2>&1
wait $BP
kill $SP 2>/dev/null; wait $SP 2>/dev/null
{
  grep "N=$N:" $D/bench.err | tail -1
  uptime
  perf report -i $D/perf.data --no-children --percent-limit 1.5 --stdio -g none --sort dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$'
  python3 "$(dirname "$0")/profile-group.py" $D/perf.data
} > $D/summary.txt
cat $D/summary.txt

#!/bin/bash
# usage: gso-count.sh <portunus-bin> <bench-bin> <N> [extra bench args…]
# Starts portunus (core 0, --shards 1) and a webinar of N subscribers (core 1), then counts
# over 6 s: egress datagrams (/metrics packets_out), lo transmissions (one per GSO send or
# plain send; tracepoint net:net_dev_xmit) and io_uring_enter calls. Prints datagrams per
# send. Set PORTUNUS_NO_GSO=1 in the environment to measure without GSO. Stops both by PID.
set -u
BIN=$1; BENCH=$2; N=$3; shift 3
D=$(mktemp -d /tmp/gso-count.XXXX)
. "$(dirname "$0")/portunus-up.sh"
start_portunus $D/server.log 18488 taskset -c 0 "$BIN" --shards 1
taskset -c 1 "$BENCH" webinar --n "$N" --url ws://127.0.0.1:18488/ --server-pid $SP \
  --label portunus --warmup 3 --duration 14 "$@" >$D/bench.out 2>$D/bench.err &
BP=$!
wait_peers $((N + 1))
sleep 3
out() { curl -s "$METRICS" | awk '/^portunus_shard_packets_out_total/{s+=$2} END{print s+0}'; }
A=$(out); T0=$(awk '{print $14+$15}' /proc/$SP/stat)
perf stat -x, -e net:net_dev_xmit,syscalls:sys_enter_io_uring_enter -p $SP -o $D/stat.txt -- sleep 6
B=$(out); T1=$(awk '{print $14+$15}' /proc/$SP/stat)
X=$(awk -F, '/net_dev_xmit/{print $1}' $D/stat.txt); U=$(awk -F, '/io_uring_enter/{print $1}' $D/stat.txt)
TCK=$(getconf CLK_TCK)
echo "N=$N datagrams=$((B - A)) lo_xmits=$X uring_enters=$U per_send=$(echo "scale=2; ($B - $A) / $X" | bc) cpu_ns_per_pkt(ticks)=$(echo "($T1 - $T0) * 1000000000 / $TCK / ($B - $A)" | bc)"
wait $BP
grep "N=$N:" $D/bench.err | tail -1
kill $SP 2>/dev/null; wait $SP 2>/dev/null
rm -rf "$D"

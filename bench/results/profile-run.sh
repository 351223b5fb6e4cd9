#!/bin/bash
# usage: run.sh <tag> <srtp>
set -u
cd /work/main
TAG=$1; SRTP=$2; D=/tmp/prof/$TAG; mkdir -p $D
taskset -c 0 target/release/portunus --shards 1 --ws-port 18188 --http-port 18189 --admin-port 18190 >$D/server.log 2>&1 &
SP=$!; echo $SP > $D/server.pid
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18190/metrics && break; sleep 0.2; done
taskset -c 1 target/release/portunus-bench webinar --n 200 --srtp $SRTP --url ws://127.0.0.1:18188/ \
  --server-pid $SP --label portunus-$SRTP --warmup 3 --duration 24 --json $D/bench.json >$D/bench.out 2>$D/bench.err &
BP=$!; echo $BP > $D/bench.pid
# wait for 201 peers
for i in $(seq 120); do
  p=$(curl -s http://127.0.0.1:18190/metrics | awk '/^portunus_shard_peer_connections/{print $2}')
  [ "${p:-0}" -ge 201 ] 2>/dev/null && break; sleep 0.5
done
echo "peers=$p after $i polls" > $D/phase.txt
sleep 3
snap() { # label
  echo "== $1 $(date +%s.%N)"; cat /proc/$SP/stat | awk '{print "utime",$14,"stime",$15}'
  curl -s http://127.0.0.1:18190/metrics | grep -E '^portunus_shard_(packets|bytes|forwards|peer)'
}
# clean window: only a tracepoint count (cheap)
snap A >> $D/phase.txt
perf stat -e net:net_dev_xmit,syscalls:sys_enter_io_uring_enter -p $SP -o $D/stat.txt -- sleep 8
snap B >> $D/phase.txt
perf record -e cpu-clock -g -p $SP -o $D/perf.data -- sleep 8 2>$D/record.err
snap C >> $D/phase.txt
wait $BP; echo "bench rc=$?" >> $D/phase.txt
kill $SP; wait $SP 2>/dev/null
echo done >> $D/phase.txt

# Sourced by gso-count.sh, profile-now.sh and shards.sh: starting a server and waiting on it.

# start_portunus <log> <ws-port> <command…>: runs <command…> --ws-port P --http-port P+1
# --admin-port P+2 in the background (output to <log>), sets SP to its PID and METRICS to its
# /metrics address, and waits (at most 10 s) until /metrics answers.
start_portunus() {
  local log=$1 port=$2 i
  shift 2
  "$@" --ws-port "$port" --http-port $((port + 1)) --admin-port $((port + 2)) >"$log" 2>&1 &
  SP=$!
  METRICS=http://127.0.0.1:$((port + 2))/metrics
  for i in $(seq 50); do curl -s -o /dev/null "$METRICS" && break; sleep 0.2; done
}

# wait_peers <n>: waits (at most 120 s) until the server's shards hold <n> PeerConnections.
wait_peers() {
  local i p
  for i in $(seq 240); do
    p=$(curl -s "$METRICS" | awk '/^portunus_shard_peer_connections/{s+=$2} END{print s+0}')
    [ "${p:-0}" -ge "$1" ] && return 0
    sleep 0.5
  done
}

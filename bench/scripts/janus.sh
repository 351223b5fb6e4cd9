#!/usr/bin/env bash
# Starts and stops a private Janus 1.1 for portunus-bench, with a generated configuration in a
# work directory: WebSocket and HTTP transports on loopback, the Streaming, VideoRoom and
# EchoTest plugins only, ICE restricted to 127.0.0.1 (with the noloopback.c LD_PRELOAD shim,
# because libnice skips loopback interfaces), pinned to one core.
#
#   janus.sh start WORKDIR [--ws-port 18188] [--cpu 0] [--event-loops 0] [--debug-level 3]
#       prints the PID of the janus process on its last line of stdout
#   janus.sh stop PID
#
# The Debian package `janus` is installed (apt-get) when missing; nothing of it is started
# system-wide and /etc/janus is not read.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { sed -n '2,12p' "$0" >&2; exit 2; }

stop() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || exit 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || exit 0
        grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && exit 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

start() {
    local dir="$1"; shift
    local ws_port=18188 cpu=0 event_loops=0 debug_level=3
    while [ $# -gt 0 ]; do
        case "$1" in
            --ws-port) ws_port="$2"; shift 2 ;;
            --cpu) cpu="$2"; shift 2 ;;
            --event-loops) event_loops="$2"; shift 2 ;;
            --debug-level) debug_level="$2"; shift 2 ;;
            *) usage ;;
        esac
    done
    if ! command -v janus >/dev/null; then
        echo "janus.sh: installing the Debian package janus" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends janus >&2
    fi
    local lib=/usr/lib/x86_64-linux-gnu/janus
    [ -d "$lib" ] || lib="$(dirname "$(dpkg -L janus | grep -m1 '/janus/plugins/')")/.."
    mkdir -p "$dir"
    cc -O2 -shared -fPIC -o "$dir/noloopback.so" "$here/noloopback.c" -ldl

    # Everything but what the bench needs stays off.
    local keep_plugins="libjanus_streaming.so libjanus_videoroom.so libjanus_echotest.so"
    local disable_plugins="" disable_transports="" disable_events="" disable_loggers=""
    for f in "$lib"/plugins/*.so; do
        b="$(basename "$f")"
        case " $keep_plugins " in *" $b "*) ;; *) disable_plugins="$disable_plugins,$b" ;; esac
    done
    for f in "$lib"/transports/*.so; do
        b="$(basename "$f")"
        case "$b" in libjanus_http.so|libjanus_websockets.so) ;; *) disable_transports="$disable_transports,$b" ;; esac
    done
    for f in "$lib"/events/*.so; do disable_events="$disable_events,$(basename "$f")"; done
    for f in "$lib"/loggers/*.so; do [ -e "$f" ] && disable_loggers="$disable_loggers,$(basename "$f")"; done

    local loops=""
    [ "$event_loops" -gt 0 ] && loops="event_loops = $event_loops"
    cat > "$dir/janus.jcfg" <<JCFG
general: {
    configs_folder = "$dir"
    plugins_folder = "$lib/plugins"
    transports_folder = "$lib/transports"
    events_folder = "$lib/events"
    loggers_folder = "$lib/loggers"
    debug_level = $debug_level
    log_to_stdout = false
    log_to_file = "$dir/janus.log"
    admin_secret = "portunus-bench"
    session_timeout = 120
    $loops
}
certificates: {
}
media: {
    rtp_port_range = "30000-39999"
}
nat: {
    nice_debug = false
    ice_enforce_list = "127.0.0.1"
}
plugins: {
    disable = "${disable_plugins#,}"
}
transports: {
    disable = "${disable_transports#,}"
}
events: {
    broadcast = false
    disable = "${disable_events#,}"
}
loggers: {
    disable = "${disable_loggers#,}"
}
JCFG
    cat > "$dir/janus.transport.websockets.jcfg" <<JCFG
general: {
    json = "compact"
    ws = true
    ws_port = $ws_port
    ws_ip = "127.0.0.1"
    wss = false
}
admin: {
    admin_ws = false
    admin_wss = false
}
JCFG
    cat > "$dir/janus.transport.http.jcfg" <<JCFG
general: {
    json = "compact"
    base_path = "/janus"
    http = true
    port = $((ws_port + 1))
    ip = "127.0.0.1"
    https = false
}
admin: {
    admin_http = false
    admin_https = false
}
JCFG
    # The room and mountpoint the scenarios use (the bench also creates them through the
    # API, so a server without configuration files behaves the same).
    cat > "$dir/janus.plugin.videoroom.jcfg" <<JCFG
general: {
}
room-4242: {
    description = "portunus-bench"
    publishers = 600
    bitrate = 0
    fir_freq = 10
    audiocodec = "opus"
    videocodec = "vp8"
}
JCFG
    cat > "$dir/janus.plugin.streaming.jcfg" <<JCFG
general: {
}
bench-rtp: {
    type = "rtp"
    id = 4243
    description = "portunus-bench feed"
    media = (
        { type = "audio" mid = "a" port = 15002 pt = 111 codec = "opus" },
        { type = "video" mid = "v" port = 15004 pt = 96 codec = "vp8" }
    )
}
JCFG
    : > "$dir/janus.plugin.echotest.jcfg"

    LD_PRELOAD="$dir/noloopback.so" nohup taskset -c "$cpu" janus -C "$dir/janus.jcfg" -F "$dir" \
        >"$dir/stdout.log" 2>&1 </dev/null &
    echo $!
}

case "${1:-}" in
    start) [ $# -ge 2 ] || usage; shift; start "$@" ;;
    stop) [ $# -eq 2 ] || usage; stop "$2" ;;
    *) usage ;;
esac

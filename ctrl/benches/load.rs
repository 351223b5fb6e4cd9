//! Load figures for the control plane against a real server on 127.0.0.1 (issue 3's load
//! list), printed as a table:
//!
//! 1. sessions created and destroyed over HTTP keep-alive (requests/s);
//! 2. concurrent long polls held, then answered by plugin events (requests/s, RSS);
//! 3. WebSockets each holding a session, exchanging keepalives (round trips/s, RSS).
//!
//! The server runs on its own thread in this process ([`RunningServer`]); the clients are
//! plain blocking sockets with hand-written HTTP/1.1 and WebSocket framing, so they add
//! almost nothing to the resident set: RSS is reported before the load and while it is held,
//! and the difference is the server's cost. Sizes are scaled with `PORTUNUS_LOAD_SCALE`
//! (default 1.0; e.g. 0.1 for a quick look). Run: `cargo bench -p portunus-ctrl --bench load`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use portunus_ctrl::config::{Config, JsonStyle};
use portunus_ctrl::plugin::{MessageResult, Plugin, PluginInfo, PluginInput, PluginOutput};
use portunus_ctrl::{RunningServer, Server};
use serde_json::{Value, json};

const PLUGIN: &str = "portunus.plugin.benchecho";
/// Client threads for the keep-alive session run (the machine may have only 2 cores).
const HTTP_CLIENTS: usize = 4;
const IO_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful either.
    let scale: f64 = std::env::var("PORTUNUS_LOAD_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |base: usize| ((base as f64 * scale).round() as usize).max(1);
    let nofile = raise_nofile_limit();
    println!("portunus-ctrl load (RLIMIT_NOFILE {nofile}, scale {scale})");
    println!(
        "{:<58} {:>10} {:>12} {:>12} {:>12}",
        "scenario", "ops", "seconds", "ops/s", "RSS KiB"
    );
    sessions_over_keep_alive(n(10_000));
    long_polls(n(1_000));
    websockets(n(1_000), 10);
}

fn row(what: &str, ops: usize, elapsed: Duration, rss: Option<(u64, u64)>) {
    let rss = rss.map_or_else(String::new, |(before, during)| {
        format!("{during} (+{})", during.saturating_sub(before))
    });
    println!(
        "{:<58} {:>10} {:>12.3} {:>12.0} {:>12}",
        what,
        ops,
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64(),
        rss
    );
}

// -------------------------------------------------------------------------------------------
// Scenarios

/// `sessions` creates and destroys spread over [`HTTP_CLIENTS`] keep-alive connections.
fn sessions_over_keep_alive(sessions: usize) {
    let server = start();
    let port = server.ports.http.expect("http port");
    let per_client = sessions.div_ceil(HTTP_CLIENTS);
    let t0 = Instant::now();
    let workers: Vec<_> = (0..HTTP_CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut http = Http::connect(port);
                for _ in 0..per_client {
                    let r = http.post("/janus", &json!({"janus":"create","transaction":"c"}));
                    let sid = r["data"]["id"].as_u64().expect("session id");
                    let r = http.post(
                        &format!("/janus/{sid}"),
                        &json!({"janus":"destroy","transaction":"d"}),
                    );
                    assert_eq!(r["janus"], "success", "{r}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("client thread");
    }
    let elapsed = t0.elapsed();
    let total = per_client * HTTP_CLIENTS;
    row(
        &format!("HTTP keep-alive: {total} sessions create+destroy (requests)"),
        total * 2,
        elapsed,
        None,
    );
    assert_eq!(admin_session_count(&server), 0, "every session destroyed");
}

/// `polls` sessions each with a handle and a parked long poll; then one message per handle,
/// whose asynchronous event answers that session's poll.
fn long_polls(polls: usize) {
    let server = start();
    let port = server.ports.http.expect("http port");
    let mut http = Http::connect(port);
    let ids: Vec<(u64, u64)> = (0..polls)
        .map(|_| {
            let sid =
                http.post("/janus", &json!({"janus":"create","transaction":"c"}))["data"]["id"]
                    .as_u64()
                    .expect("session id");
            let hid = http.post(
                &format!("/janus/{sid}"),
                &json!({"janus":"attach","plugin":PLUGIN,"transaction":"a"}),
            )["data"]["id"]
                .as_u64()
                .expect("handle id");
            (sid, hid)
        })
        .collect();
    let rss_before = rss_kib();
    let t_park = Instant::now();
    let mut parked: Vec<BufReader<TcpStream>> = ids
        .iter()
        .map(|(sid, _)| {
            let mut s = connect(port);
            write!(
                s,
                "GET /janus/{sid}?rid=1&maxev=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            )
            .expect("poll request");
            BufReader::new(s)
        })
        .collect();
    // The loop must still answer at once while every poll is parked.
    let pong = http.post("/janus", &json!({"janus":"ping","transaction":"p"}));
    assert_eq!(pong["janus"], "pong");
    let park = t_park.elapsed();
    let rss_held = rss_kib();
    let t0 = Instant::now();
    for (sid, hid) in &ids {
        let r = http.post(
            &format!("/janus/{sid}/{hid}"),
            &json!({"janus":"message","transaction":"m","body":{"n":hid}}),
        );
        assert_eq!(r["janus"], "ack", "{r}");
    }
    for (poll, (_, hid)) in parked.iter_mut().zip(&ids) {
        let (status, body) = read_response(poll);
        assert_eq!(status, 200);
        let ev: Value = serde_json::from_slice(&body).expect("event JSON");
        assert_eq!(ev["janus"], "event", "{ev}");
        assert_eq!(ev["plugindata"]["data"]["n"], *hid, "{ev}");
    }
    let elapsed = t0.elapsed();
    row(
        &format!("HTTP: {polls} long polls parked (+ ping while parked)"),
        polls + 1,
        park,
        Some((rss_before, rss_held)),
    );
    row(
        &format!("HTTP: {polls} messages whose events answer the parked polls"),
        polls * 2,
        elapsed,
        Some((rss_before, rss_kib())),
    );
    drop(parked);
}

/// `sockets` WebSockets each creating a session, then `rounds` rounds in which every socket
/// sends a keepalive and reads its ack (all sends of a round go out before the reads).
fn websockets(sockets: usize, rounds: usize) {
    let server = start();
    let port = server.ports.ws.expect("ws port");
    let rss_before = rss_kib();
    let t0 = Instant::now();
    let mut clients: Vec<(Ws, u64)> = (0..sockets)
        .map(|_| {
            let mut ws = Ws::connect(port);
            ws.send(&json!({"janus":"create","transaction":"c"}));
            let sid = ws.recv()["data"]["id"].as_u64().expect("session id");
            (ws, sid)
        })
        .collect();
    let setup = t0.elapsed();
    let rss_setup = rss_kib();
    row(
        &format!("WebSocket: {sockets} connects + upgrade + create"),
        sockets,
        setup,
        Some((rss_before, rss_setup)),
    );
    let t1 = Instant::now();
    for _ in 0..rounds {
        for (ws, sid) in &mut clients {
            ws.send(&json!({"janus":"keepalive","transaction":"k","session_id":*sid}));
        }
        for (ws, _) in &mut clients {
            let r = ws.recv();
            assert_eq!(r["janus"], "ack", "{r}");
        }
    }
    row(
        &format!("WebSocket: {sockets} sessions x {rounds} keepalive round trips"),
        sockets * rounds,
        t1.elapsed(),
        Some((rss_before, rss_kib())),
    );
    assert_eq!(admin_session_count(&server), sockets);
    let t2 = Instant::now();
    drop(clients);
    while admin_session_count(&server) > 0 {
        assert!(
            t2.elapsed() < IO_TIMEOUT,
            "sessions outlived their WebSockets"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    row(
        &format!("WebSocket: {sockets} closed, their sessions destroyed"),
        sockets,
        t2.elapsed(),
        None,
    );
}

// -------------------------------------------------------------------------------------------
// Server

fn start() -> RunningServer {
    let mut c = Config::default();
    c.http.port = 0;
    c.websockets.port = 0;
    c.admin.port = 0;
    c.general.json = JsonStyle::Compact;
    c.http.max_connections = 1 << 20;
    RunningServer::spawn(c, |server: &mut Server| {
        server
            .control_plane()
            .register_plugin(Box::new(EchoPlugin::default()))
            .expect("register the bench plugin");
    })
    .expect("server starts")
}

fn admin_session_count(server: &RunningServer) -> usize {
    let mut admin = Http::connect(server.ports.admin.expect("admin port"));
    let r = admin.post(
        "/admin",
        &json!({"janus":"list_sessions","transaction":"l"}),
    );
    r["sessions"].as_array().map_or(0, Vec::len)
}

/// Acks every message, then sends its body back as the event's plugin data.
#[derive(Default)]
struct EchoPlugin {
    out: VecDeque<PluginOutput>,
}

impl Plugin for EchoPlugin {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PLUGIN,
            name: "Bench echo",
            author: "Portunus",
            description: "Echoes message bodies as asynchronous events (load bench)",
            version: 1,
            version_string: "0.0.1",
        }
    }

    fn handle(&mut self, _now: Instant, input: PluginInput) {
        if let PluginInput::Message {
            handle,
            transaction,
            body,
            ..
        } = input
        {
            self.out.push_back(PluginOutput::Reply {
                handle,
                result: MessageResult::Ack { hint: None },
            });
            self.out.push_back(PluginOutput::Event {
                handle,
                transaction: Some(transaction),
                data: Value::Object(body),
                jsep: None,
            });
        }
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop_front()
    }
}

// -------------------------------------------------------------------------------------------
// Clients: blocking sockets, minimal HTTP/1.1 and WebSocket framing.

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

struct Http(BufReader<TcpStream>);

impl Http {
    fn connect(port: u16) -> Self {
        Self(BufReader::new(connect(port)))
    }

    fn post(&mut self, path: &str, body: &Value) -> Value {
        let body = serde_json::to_vec(body).expect("JSON");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.0.get_mut();
        s.write_all(head.as_bytes()).expect("write head");
        s.write_all(&body).expect("write body");
        let (status, body) = read_response(&mut self.0);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("reply JSON")
    }
}

/// Read one Content-Length framed response: status and body.
fn read_response(r: &mut BufReader<TcpStream>) -> (u16, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut len = 0;
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().expect("content-length");
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).expect("body");
    (status, body)
}

struct Ws(BufReader<TcpStream>);

impl Ws {
    fn connect(port: u16) -> Self {
        let mut s = connect(port);
        s.write_all(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Protocol: janus-protocol\r\n\r\n",
        )
        .expect("upgrade request");
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).expect("status line");
        assert!(line.starts_with("HTTP/1.1 101"), "{line}");
        loop {
            line.clear();
            r.read_line(&mut line).expect("header");
            if line.trim_end().is_empty() {
                break;
            }
        }
        Self(r)
    }

    /// One masked text frame (clients must mask, RFC 6455 §5.3).
    fn send(&mut self, v: &Value) {
        let payload = serde_json::to_vec(v).expect("JSON");
        let mask = [0x5a, 0x17, 0xc3, 0x81];
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.push(0x81);
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&u16::try_from(n).expect("small frame").to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.0.get_mut().write_all(&frame).expect("write frame");
    }

    /// The next text message (control frames skipped).
    fn recv(&mut self) -> Value {
        loop {
            let mut head = [0u8; 2];
            self.0.read_exact(&mut head).expect("frame head");
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.0.read_exact(&mut b).expect("length");
                    usize::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.0.read_exact(&mut b).expect("length");
                    usize::try_from(u64::from_be_bytes(b)).expect("length")
                }
                n => usize::from(n),
            };
            let mut payload = vec![0; len];
            self.0.read_exact(&mut payload).expect("payload");
            if head[0] & 0x0f == 0x1 {
                return serde_json::from_slice(&payload).expect("message JSON");
            }
        }
    }
}

// -------------------------------------------------------------------------------------------
// Process

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Raise the soft open-file limit to the hard limit: every client socket and its server end
/// are descriptors of this one process. Returns the soft limit now in force.
fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit that only lifts the soft limit to the hard one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return raised.rlim_cur;
        }
    }
    lim.rlim_cur
}

//! Admin `resolve_address` and `test_stun` (admin.md §2): replies and errors as Janus gives
//! them, the STUN exchange against a small STUN server on 127.0.0.1, and the control thread
//! answering other requests while a check is in flight.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{Http, Ws, start, test_config};
use portunus_ctrl::config::Config;
use portunus_stun::{Class, MessageWriter, Method, StunMessage, TransactionId};
use serde_json::{Value, json};

const SECRET: &str = "janusoverlord";

fn config(stun_timeout_ms: u64) -> Config {
    let mut c = test_config();
    c.general.admin_secret = Some(SECRET.into());
    c.nat.stun_timeout_ms = stun_timeout_ms;
    c
}

fn admin(http: &mut Http, mut req: Value) -> Value {
    req["admin_secret"] = SECRET.into();
    http.call("/admin", req)
}

fn error(tx: &str, code: u16, reason: &str) -> Value {
    json!({"janus":"error","transaction":tx,"error":{"code":code,"reason":reason}})
}

/// A STUN server on 127.0.0.1 answering binding requests with the source address as
/// XOR-MAPPED-ADDRESS. With `hold`, each request is reported on `seen` and answered only
/// after `release` says so; `None` on `release` ends the server.
struct StunServer {
    addr: SocketAddr,
    seen: Receiver<SocketAddr>,
    release: Sender<Option<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StunServer {
    fn start(hold: bool) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let (seen_tx, seen) = channel();
        let (release, release_rx) = channel::<Option<()>>();
        let thread = std::thread::spawn(move || {
            let mut released = !hold;
            let mut held = Vec::new();
            let mut buf = [0u8; 1500];
            loop {
                match release_rx.try_recv() {
                    Ok(Some(())) => released = true,
                    Ok(None) | Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                    Err(std::sync::mpsc::TryRecvError::Empty) => {}
                }
                if released {
                    for (id, from) in held.drain(..) {
                        answer(&socket, id, from);
                    }
                }
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(req) = StunMessage::parse(&buf[..n]) else {
                    continue;
                };
                assert_eq!(
                    (req.class(), req.method()),
                    (Class::Request, Method::BINDING)
                );
                let _ = seen_tx.send(from);
                if released {
                    answer(&socket, req.transaction_id(), from);
                } else {
                    held.push((req.transaction_id(), from));
                }
            }
        });
        Self {
            addr,
            seen,
            release,
            thread: Some(thread),
        }
    }
}

/// A binding success response to `from` carrying `from` as XOR-MAPPED-ADDRESS.
fn answer(socket: &UdpSocket, id: TransactionId, from: SocketAddr) {
    let mut out = [0u8; 128];
    let mut w = MessageWriter::new(&mut out, Class::SuccessResponse, Method::BINDING, id);
    w.add_xor_mapped_address(from);
    let len = w.finish().expect("response fits");
    socket.send_to(&out[..len], from).expect("send");
}

impl Drop for StunServer {
    fn drop(&mut self) {
        let _ = self.release.send(None);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn resolve_address_gives_the_ip_and_the_elapsed_microseconds() {
    let (server, _) = start(config(1000));
    let mut a = Http::connect(server.ports.admin.unwrap());
    let r = admin(
        &mut a,
        json!({"janus":"resolve_address","transaction":"r","address":"localhost"}),
    );
    assert_eq!(r["janus"], "success", "{r}");
    assert_eq!(r["transaction"], "r");
    let ip: std::net::IpAddr = r["ip"].as_str().unwrap().parse().unwrap();
    assert!(ip.is_loopback(), "{r}");
    assert!(r["elapsed"].is_u64(), "{r}");
    for literal in ["192.0.2.44", "2001:db8::1"] {
        let r = admin(
            &mut a,
            json!({"janus":"resolve_address","transaction":"l","address":literal}),
        );
        assert_eq!(r["ip"], literal, "{r}");
        assert_eq!(
            r.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["janus", "transaction", "ip", "elapsed"]
        );
    }
}

#[test]
fn unresolvable_addresses_and_bad_fields_get_janus_errors() {
    let (server, _) = start(config(1000));
    let mut a = Http::connect(server.ports.admin.unwrap());
    for address in ["", "no-such-host.invalid"] {
        assert_eq!(
            admin(
                &mut a,
                json!({"janus":"resolve_address","transaction":"u","address":address})
            ),
            error("u", 490, "Could not resolve address")
        );
        assert_eq!(
            admin(
                &mut a,
                json!({"janus":"test_stun","transaction":"s","address":address,"port":3478})
            ),
            error("s", 490, "Could not resolve address")
        );
    }
    assert_eq!(
        admin(&mut a, json!({"janus":"resolve_address","transaction":"m"})),
        error("m", 456, "Missing mandatory element (address)")
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"resolve_address","transaction":"t","address":5})
        ),
        error(
            "t",
            467,
            "Invalid element type (address should be a string)"
        )
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"test_stun","transaction":"p","address":"127.0.0.1"})
        ),
        error("p", 456, "Missing mandatory element (port)")
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"test_stun","transaction":"n","address":"127.0.0.1","port":-1})
        ),
        error(
            "n",
            467,
            "Invalid element type (port should be a positive integer)"
        )
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"test_stun","transaction":"q","address":"127.0.0.1","port":1,"localport":"x"})
        ),
        error(
            "q",
            467,
            "Invalid element type (localport should be a positive integer)"
        )
    );
    // Without the secret: 403 before anything is looked up.
    let r = a.call(
        "/admin",
        json!({"janus":"resolve_address","transaction":"x","address":"localhost"}),
    );
    assert_eq!(r["error"]["code"], 403);
}

#[test]
fn test_stun_returns_the_mapped_address_over_http_and_websocket() {
    let stun = StunServer::start(false);
    let (server, _) = start(config(5000));
    let mut a = Http::connect(server.ports.admin.unwrap());
    let r = admin(
        &mut a,
        json!({"janus":"test_stun","transaction":"s","address":"127.0.0.1","port":stun.addr.port()}),
    );
    let seen = stun.seen.recv().unwrap();
    assert_eq!(r["janus"], "success", "{r}");
    assert_eq!(r["public_ip"], "127.0.0.1");
    assert_eq!(r["public_port"], seen.port());
    assert!(r["elapsed"].is_u64());
    assert_eq!(
        r.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "janus",
            "transaction",
            "public_ip",
            "public_port",
            "elapsed"
        ]
    );
    let mut ws = Ws::connect(server.ports.admin.unwrap(), "janus-admin-protocol");
    let r = ws.call(
        json!({"janus":"test_stun","transaction":"w","admin_secret":SECRET,
        "address":"localhost","port":stun.addr.port()}),
    );
    let seen = stun.seen.recv().unwrap();
    assert_eq!(r["janus"], "success", "{r}");
    assert_eq!(r["public_port"], seen.port());
}

#[test]
fn test_stun_sends_from_localport_when_given() {
    let stun = StunServer::start(false);
    let (server, _) = start(config(5000));
    let mut a = Http::connect(server.ports.admin.unwrap());
    // A port that was free a moment ago; the server binds it for the request.
    let local = UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = admin(
        &mut a,
        json!({"janus":"test_stun","transaction":"s","address":"127.0.0.1",
            "port":stun.addr.port(),"localport":local}),
    );
    assert_eq!(r["public_port"], local, "{r}");
    assert_eq!(stun.seen.recv().unwrap().port(), local);
}

#[test]
fn a_stun_server_that_never_answers_times_out_with_490() {
    // Bound, never read: requests vanish.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (server, _) = start(config(300));
    let mut a = Http::connect(server.ports.admin.unwrap());
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"test_stun","transaction":"s","address":"127.0.0.1","port":port})
        ),
        error("s", 490, "STUN request failed")
    );
    // Ports that cannot be sent to fail the same way.
    for (port, local) in [(0, 0), (70_000, 0), (port.into(), 70_000)] {
        let r = admin(
            &mut a,
            json!({"janus":"test_stun","transaction":"z","address":"127.0.0.1","port":port,"localport":local}),
        );
        assert_eq!(r, error("z", 490, "STUN request failed"), "{port} {local}");
    }
}

#[test]
fn other_requests_are_answered_while_a_check_is_in_flight() {
    let stun = StunServer::start(true);
    let (server, _) = start(config(20_000));
    let admin_port = server.ports.admin.unwrap();
    let mut ws = Ws::connect(admin_port, "janus-admin-protocol");
    ws.send_text(
        &json!({"janus":"test_stun","transaction":"slow","admin_secret":SECRET,
            "address":"127.0.0.1","port":stun.addr.port()})
        .to_string(),
    );
    // An HTTP request pipelined behind a held check on one connection waits its turn.
    let mut pipelined = Http::connect(admin_port);
    let stun_req = json!({"janus":"test_stun","transaction":"h1","admin_secret":SECRET,
        "address":"127.0.0.1","port":stun.addr.port()})
    .to_string();
    let ping = json!({"janus":"ping","transaction":"h2"}).to_string();
    let mut raw = Vec::new();
    for body in [&stun_req, &ping] {
        raw.extend_from_slice(
            format!(
                "POST /admin HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    pipelined.send_raw(&raw);
    // Both checks are now at the STUN server, held.
    stun.seen.recv().unwrap();
    stun.seen.recv().unwrap();
    // The control thread answers everything else meanwhile: the same WebSocket, another
    // admin connection, the Janus API, and a literal address (no lookup, so no worker).
    assert_eq!(
        ws.call(json!({"janus":"ping","transaction":"p"})),
        json!({"janus":"pong","transaction":"p"})
    );
    let mut other = Http::connect(admin_port);
    assert_eq!(
        admin(
            &mut other,
            json!({"janus":"list_sessions","transaction":"l"})
        ),
        json!({"janus":"success","transaction":"l","sessions":[]})
    );
    let mut api = Http::connect(server.ports.http.unwrap());
    let created = api.call("/janus", json!({"janus":"create","transaction":"c"}));
    assert_eq!(created["janus"], "success");
    assert_eq!(
        admin(
            &mut other,
            json!({"janus":"resolve_address","transaction":"r","address":"127.0.0.1"})
        )["ip"],
        "127.0.0.1"
    );
    stun.release.send(Some(())).unwrap();
    let r = ws.recv();
    assert_eq!(
        (r["janus"].as_str(), r["transaction"].as_str()),
        (Some("success"), Some("slow")),
        "{r}"
    );
    let first = pipelined.read_response().unwrap().json();
    assert_eq!(first["transaction"], "h1", "{first}");
    assert_eq!(first["public_ip"], "127.0.0.1");
    let second = pipelined.read_response().unwrap().json();
    assert_eq!(second, json!({"janus":"pong","transaction":"h2"}));
}

#[test]
fn checks_beyond_the_in_flight_limit_are_refused_at_once() {
    let stun = StunServer::start(true);
    let (server, _) = start(config(20_000));
    let mut ws = Ws::connect(server.ports.admin.unwrap(), "janus-admin-protocol");
    let limit = portunus_ctrl::netcheck::MAX_IN_FLIGHT;
    for i in 0..=limit {
        ws.send_text(
            &json!({"janus":"test_stun","transaction":format!("t{i}"),"admin_secret":SECRET,
                "address":"127.0.0.1","port":stun.addr.port()})
            .to_string(),
        );
    }
    // Nothing is answered by the held server yet, so the first reply is the refusal.
    assert_eq!(
        ws.recv(),
        error(&format!("t{limit}"), 490, "STUN request failed")
    );
    stun.seen.recv().unwrap();
    stun.release.send(Some(())).unwrap();
    let mut answered: Vec<String> = (0..limit)
        .map(|_| {
            let r = ws.recv();
            assert_eq!(r["janus"], "success", "{r}");
            r["transaction"].as_str().unwrap().to_owned()
        })
        .collect();
    answered.sort();
    let mut expected: Vec<String> = (0..limit).map(|i| format!("t{i}")).collect();
    expected.sort();
    assert_eq!(answered, expected);
}

#[test]
fn the_control_plane_alone_hands_out_jobs_and_builds_replies() {
    use portunus_ctrl::netcheck::{NetJob, NetOutcome};
    use portunus_ctrl::{AdminReply, ControlPlane};
    let now = std::time::Instant::now();
    let mut cp = ControlPlane::new(&Config::default(), now);
    let AdminReply::Later(ticket) = cp.admin_request(
        now,
        json!({"janus":"resolve_address","transaction":"a","address":"example.org"}),
    ) else {
        panic!("resolve_address waits for the network");
    };
    let (t, job) = cp.poll_net_job().unwrap();
    assert_eq!(t, ticket);
    assert_eq!(
        job,
        NetJob::Resolve {
            address: "example.org".into()
        }
    );
    let reply = cp.handle_net_outcome(
        ticket,
        NetOutcome::Resolved {
            ip: "203.0.113.9".parse().unwrap(),
            elapsed_us: 12,
        },
    );
    assert_eq!(
        reply,
        Some(json!({"janus":"success","transaction":"a","ip":"203.0.113.9","elapsed":12}))
    );
    assert_eq!(cp.handle_net_outcome(ticket, NetOutcome::Failed("x")), None);
    // The synchronous entry point never touches the network.
    assert_eq!(
        cp.handle_admin_request(
            now,
            json!({"janus":"test_stun","transaction":"b","address":"127.0.0.1","port":9})
        ),
        error("b", 490, "STUN request failed")
    );
    assert!(cp.poll_net_job().is_none());
}

//! Hostile and broken input: each gets Janus's answer or a clean close, and a bystander
//! client's session is unaffected.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{Http, Ws, start, test_config};
use portunus_ctrl::RunningServer;
use serde_json::json;
use tungstenite::Message;

fn config() -> portunus_ctrl::config::Config {
    let mut c = test_config();
    c.http.max_body_size = 4096;
    c.websockets.max_message_size = 4096;
    c.http.idle_timeout_ms = 400;
    c
}

/// A WebSocket client holding a session, to check nothing else broke.
struct Bystander {
    ws: Ws,
    sid: u64,
}

impl Bystander {
    fn new(server: &RunningServer) -> Self {
        let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
        let sid = ws.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
            .as_u64()
            .unwrap();
        Self { ws, sid }
    }

    fn assert_fine(&mut self) {
        let r = self
            .ws
            .call(json!({"janus":"keepalive","transaction":"k","session_id":self.sid}));
        assert_eq!(
            r,
            json!({"janus":"ack","session_id":self.sid,"transaction":"k"})
        );
    }
}

#[test]
fn http_bodies_that_are_not_requests() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let mut http = Http::connect(server.ports.http.unwrap());
    let r = http
        .request("POST", "/janus", Some(b"{\"janus\":"), &[])
        .json();
    assert_eq!(r["error"]["code"], 454);
    assert!(
        r["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("JSON error: on line 1: "),
        "{r}"
    );
    assert!(r.get("transaction").is_none());
    assert_eq!(
        http.request("POST", "/janus", Some(b"[1,2]"), &[]).json(),
        json!({"janus":"error","error":{"code":455,"reason":"JSON error: not an object"}})
    );
    assert_eq!(
        http.request("POST", "/janus", Some(b"42"), &[]).json()["error"]["code"],
        454
    );
    assert_eq!(
        http.request("POST", "/janus", Some(b"\xff\xfe"), &[])
            .json()["error"]["code"],
        454
    );
    assert_eq!(
        http.call(
            "/janus",
            json!({"janus":"create","transaction":"c","session_id":"x"})
        )["janus"],
        "success",
        "a non-integer session_id counts as absent"
    );
    by.assert_fine();
}

#[test]
fn oversize_body_gets_413_and_close() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let mut http = Http::connect(server.ports.http.unwrap());
    http.send_raw(b"POST /janus HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    let r = http.read_response().unwrap();
    assert_eq!(r.status, 413);
    assert!(http.read_response().is_none());
    by.assert_fine();
}

#[test]
fn unknown_paths_get_404_and_the_connection_stays_usable() {
    let (server, _) = start(config());
    let mut http = Http::connect(server.ports.http.unwrap());
    for path in ["/", "/foo", "/janusx", "/janus/1/2/3", "/admin"] {
        let r = http.post(path, &json!({"janus":"ping","transaction":"p"}));
        assert_eq!((r.status, r.body.len()), (404, 0), "{path}");
    }
    assert_eq!(
        http.call("/janus", json!({"janus":"ping","transaction":"p"}))["janus"],
        "pong"
    );
}

#[test]
fn garbage_and_huge_headers_get_an_error_status_and_close() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let port = server.ports.http.unwrap();
    let mut http = Http::connect(port);
    http.send_raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n");
    assert_eq!(http.read_response().unwrap().status, 400);
    assert!(http.read_response().is_none());
    let mut http = Http::connect(port);
    let mut big = b"GET /janus HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    http.send_raw(&big);
    assert_eq!(http.read_response().unwrap().status, 431);
    let mut http = Http::connect(port);
    http.send_raw(b"POST /janus HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(http.read_response().unwrap().status, 501);
    by.assert_fine();
}

#[test]
fn slow_half_open_connection_is_closed_without_disturbing_others() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let port = server.ports.http.unwrap();
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"POST /janus HTTP/1.1\r\nContent-Le")
        .unwrap();
    let mut idle = Http::connect(port);
    // Meanwhile everybody else is served.
    let mut http = Http::connect(port);
    for _ in 0..20 {
        assert_eq!(
            http.call("/janus", json!({"janus":"ping","transaction":"p"}))["janus"],
            "pong"
        );
    }
    by.assert_fine();
    let mut slow = Http::from_stream(slow);
    assert!(
        slow.closed_within(Duration::from_secs(3)),
        "the half-sent request is dropped after the idle timeout"
    );
    assert!(
        idle.closed_within(Duration::from_secs(3)),
        "idle keep-alive connections too"
    );
    by.assert_fine();
}

#[test]
fn websocket_garbage_frames_get_454_and_the_socket_stays_open() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    ws.send_text("this is not json");
    let r = ws.recv();
    assert_eq!(r["error"]["code"], 454);
    assert!(
        r["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Janus API request - <string>(1,"),
        "{r}"
    );
    ws.send_text("");
    assert_eq!(ws.recv()["error"]["code"], 454);
    ws.send_text("42");
    assert_eq!(ws.recv()["error"]["code"], 454);
    ws.send_text("[1]");
    assert_eq!(
        ws.recv(),
        json!({"janus":"error","error":{"code":456,"reason":"Missing mandatory element (transaction)"}})
    );
    ws.ws.send(Message::binary(vec![0xff, 0x00, 0x13])).unwrap();
    assert_eq!(ws.recv()["error"]["code"], 454);
    // Several objects in one frame are handled in order; one bad object spoils the frame.
    ws.send_text(
        "{\"janus\":\"ping\",\"transaction\":\"a\"} {\"janus\":\"ping\",\"transaction\":\"b\"}\n",
    );
    assert_eq!(ws.recv()["transaction"], "a");
    assert_eq!(ws.recv()["transaction"], "b");
    ws.send_text("{\"janus\":\"ping\",\"transaction\":\"c\"}{\"janus\":");
    let r = ws.recv();
    assert_eq!(r["error"]["code"], 454);
    assert!(r.get("transaction").is_none());
    assert_eq!(
        ws.call(json!({"janus":"ping","transaction":"d"}))["janus"],
        "pong"
    );
    by.assert_fine();
}

#[test]
fn huge_websocket_message_closes_the_connection() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let sid = ws.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    let huge = format!(
        "{{\"janus\":\"ping\",\"transaction\":\"{}\"}}",
        "x".repeat(10_000)
    );
    ws.send_text(&huge);
    assert!(ws.closed_within(Duration::from_secs(3)));
    // Its sessions went with it; the bystander's did not.
    let mut http = Http::connect(server.ports.http.unwrap());
    let t0 = std::time::Instant::now();
    loop {
        let r = http.call(
            "/janus",
            json!({"janus":"keepalive","transaction":"k","session_id":sid}),
        );
        if r["janus"] == "error" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(3));
        std::thread::sleep(Duration::from_millis(50));
    }
    by.assert_fine();
}

#[test]
fn raw_garbage_after_the_websocket_handshake_closes_the_connection() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    // An unmasked frame with reserved bits set: a protocol violation.
    ws.ws
        .get_mut()
        .write_all(&[0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1])
        .unwrap();
    assert!(ws.closed_within(Duration::from_secs(3)));
    by.assert_fine();
}

#[test]
fn websocket_handshake_without_the_subprotocol_is_refused() {
    let (server, _) = start(config());
    let mut by = Bystander::new(&server);
    let port = server.ports.ws.unwrap();
    assert!(Ws::try_connect(port, None).is_err());
    assert!(Ws::try_connect(port, Some("chat")).is_err());
    // A plain HTTP request on the WebSocket port is refused too.
    let mut http = Http::connect(port);
    assert_eq!(
        http.post("/janus", &json!({"janus":"ping","transaction":"p"}))
            .status,
        400
    );
    by.assert_fine();
}

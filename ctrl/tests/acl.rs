//! Per-listener ACLs (Janus `acl`, `ws_acl`, `admin_acl`): a client whose address matches no
//! prefix is disconnected without an answer; matching clients are served as usual.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Ws, start, test_config};
use serde_json::json;

/// Send a ping over plain HTTP and report whether any byte came back before the close.
fn http_answered(port: u16) -> bool {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the kernel accepts");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = r#"{"janus":"ping","transaction":"p"}"#;
    let req = format!(
        "POST /admin HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // The server may already have closed: a failed write is a refusal too.
    let _ = s.write_all(req.as_bytes());
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
        Err(e) => panic!("neither an answer nor a close: {e}"),
    }
}

#[test]
fn listeners_refuse_addresses_outside_their_acl() {
    let mut c = test_config();
    c.http.acl = vec!["10.".into()];
    c.admin.acl = vec!["192.168.".into(), "10.".into()];
    c.websockets.acl = vec!["127.0.0.".into()];
    let (server, _) = start(c);
    assert!(!http_answered(server.ports.http.unwrap()), "HTTP refused");
    assert!(!http_answered(server.ports.admin.unwrap()), "admin refused");
    // The WebSocket listener's ACL lets loopback in.
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let r = ws.call(json!({"janus":"ping","transaction":"p"}));
    assert_eq!(r["janus"], "pong");
}

#[test]
fn matching_prefix_is_served() {
    let mut c = test_config();
    c.admin.acl = vec!["10.".into(), "127.".into()];
    let (server, _) = start(c);
    assert!(http_answered(server.ports.admin.unwrap()));
}

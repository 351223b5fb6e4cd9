//! Server-side WebSocket ping/pong (Janus `pingpong_trigger` / `pingpong_timeout`): an idle
//! client is pinged, one that answers keeps its connection and session, one that does not is
//! disconnected and its session destroyed as for any lost transport. Off by default.

mod common;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use common::{Http, Ws, start, test_config};
use serde_json::json;
use tungstenite::Message;

fn pinging_config() -> portunus_ctrl::config::Config {
    let mut c = test_config();
    c.websockets.pingpong_trigger = 1;
    c.websockets.pingpong_timeout = 1;
    c
}

fn sessions(admin: &mut Http) -> Vec<u64> {
    admin.call("/admin", json!({"janus":"list_sessions","transaction":"l"}))["sessions"]
        .as_array()
        .expect("sessions array")
        .iter()
        .map(|s| s.as_u64().expect("id"))
        .collect()
}

#[test]
fn idle_client_that_answers_pings_keeps_its_connection_and_session() {
    let (server, _) = start(pinging_config());
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let sid = ws.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    // tungstenite answers each ping with a pong as it reads; three pings mean the server got
    // the earlier pongs in time (a missed one closes the connection after 1 s).
    let mut pings = 0;
    while pings < 3 {
        match ws.ws.read().expect("the connection stays open") {
            Message::Ping(_) => pings += 1,
            other => panic!("only pings while idle, got {other:?}"),
        }
    }
    let r = ws.call(json!({"janus":"keepalive","transaction":"k","session_id":sid}));
    assert_eq!(r["janus"], "ack");
    let mut admin = Http::connect(server.ports.admin.unwrap());
    assert_eq!(sessions(&mut admin), vec![sid]);
}

#[test]
fn client_that_never_answers_is_disconnected_and_loses_its_session() {
    let (server, _) = start(pinging_config());
    let mut admin = Http::connect(server.ports.admin.unwrap());
    let mut other = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let kept = other.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    let mut silent = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let lost = silent.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    // `silent` stops reading, so it never pongs; `other` keeps answering from a thread.
    let answering = std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(4) {
            if other.ws.read().is_err() {
                return None;
            }
        }
        Some(other)
    });
    let t0 = Instant::now();
    while sessions(&mut admin).contains(&lost) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the unanswered connection was not closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // What the silent client finds when it reads again: the ping, then the end.
    let mut saw_ping = false;
    loop {
        match silent.ws.read() {
            Ok(Message::Ping(_)) => saw_ping = true,
            Ok(Message::Close(_)) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                panic!("the server left the connection open")
            }
            Err(_) => break,
        }
    }
    assert!(saw_ping, "the server pinged before closing");
    let mut other = answering
        .join()
        .unwrap()
        .expect("the answering client stayed connected");
    assert_eq!(sessions(&mut admin), vec![kept]);
    let r = other.call(json!({"janus":"keepalive","transaction":"k","session_id":kept}));
    assert_eq!(r["janus"], "ack");
}

#[test]
fn no_pings_unless_configured() {
    let (server, _) = start(test_config());
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    ws.call(json!({"janus":"create","transaction":"c"}));
    ws.ws
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    match ws.ws.read() {
        Err(tungstenite::Error::Io(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("nothing should arrive on an idle connection, got {other:?}"),
    }
}

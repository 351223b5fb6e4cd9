//! Bounded load: many sessions over keep-alive HTTP, many concurrent long polls, many
//! WebSockets each holding a session. Prints throughput; asserts correctness, not speed.

mod common;

use std::time::{Duration, Instant};

use common::{Http, Ws, start, test_config};
use serde_json::json;

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

fn session_count(admin: &mut Http) -> usize {
    admin.call("/admin", json!({"janus":"list_sessions","transaction":"l"}))["sessions"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn two_thousand_sessions_created_and_destroyed_over_keep_alive() {
    let (server, _) = start(test_config());
    let port = server.ports.http.unwrap();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut http = Http::connect(port);
                for _ in 0..500 {
                    let sid = http.call("/janus", json!({"janus":"create","transaction":"c"}))
                            ["data"]["id"]
                            .as_u64()
                            .unwrap();
                    let r = http.call(
                        &format!("/janus/{sid}"),
                        json!({"janus":"destroy","transaction":"d"}),
                    );
                    assert_eq!(r["janus"], "success");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = t0.elapsed();
    println!(
        "load: 2000 sessions created+destroyed (4000 HTTP requests, 4 keep-alive connections) in {elapsed:?}: {:.0} requests/s, RSS {} KiB",
        4000.0 / elapsed.as_secs_f64(),
        rss_kib()
    );
    let mut admin = Http::connect(server.ports.admin.unwrap());
    assert_eq!(session_count(&mut admin), 0);
}

#[test]
fn two_hundred_concurrent_long_polls() {
    let mut c = test_config();
    c.http.long_poll_timeout_ms = 1500;
    let (server, _) = start(c);
    let port = server.ports.http.unwrap();
    let mut http = Http::connect(port);
    let sids: Vec<u64> = (0..200)
        .map(|_| {
            http.call("/janus", json!({"janus":"create","transaction":"c"}))["data"]["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut polls: Vec<Http> = Vec::new();
    for sid in &sids {
        let mut p = Http::connect(port);
        p.send_raw(
            format!("GET /janus/{sid}?rid=1&maxev=10 HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        polls.push(p);
    }
    // While 200 polls are parked, the server answers others at once.
    let t0 = Instant::now();
    assert_eq!(
        http.call("/janus", json!({"janus":"ping","transaction":"p"}))["janus"],
        "pong"
    );
    let ping = t0.elapsed();
    // Wake half of them with an event (a claim from HTTP answers them), the rest time out.
    for sid in sids.iter().take(100) {
        http.call(
            "/janus",
            json!({"janus":"claim","transaction":"cl","session_id":sid}),
        );
    }
    let mut keepalives = 0;
    for p in &mut polls {
        let r = p.read_response().expect("every poll is answered");
        assert_eq!(r.json(), json!([{"janus":"keepalive"}]));
        keepalives += 1;
    }
    println!(
        "load: 200 concurrent long polls answered ({keepalives}), ping while parked {ping:?}, RSS {} KiB",
        rss_kib()
    );
    assert!(ping < Duration::from_secs(1));
}

#[test]
fn two_hundred_websockets_holding_sessions() {
    let (server, _) = start(test_config());
    let port = server.ports.ws.unwrap();
    let t0 = Instant::now();
    let mut clients: Vec<(Ws, u64)> = (0..200)
        .map(|_| {
            let mut ws = Ws::connect(port, "janus-protocol");
            let sid = ws.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
                .as_u64()
                .unwrap();
            (ws, sid)
        })
        .collect();
    let setup = t0.elapsed();
    let t1 = Instant::now();
    for _ in 0..5 {
        for (ws, sid) in &mut clients {
            let r = ws.call(json!({"janus":"keepalive","transaction":"k","session_id":*sid}));
            assert_eq!(r["janus"], "ack");
        }
    }
    let rate = 1000.0 / t1.elapsed().as_secs_f64();
    let mut admin = Http::connect(server.ports.admin.unwrap());
    assert_eq!(session_count(&mut admin), 200);
    println!(
        "load: 200 WebSockets with a session each set up in {setup:?}; keepalive round trips {rate:.0}/s; RSS {} KiB",
        rss_kib()
    );
    drop(clients);
    let t2 = Instant::now();
    while session_count(&mut admin) > 0 {
        assert!(
            t2.elapsed() < Duration::from_secs(5),
            "sessions not destroyed with their sockets"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

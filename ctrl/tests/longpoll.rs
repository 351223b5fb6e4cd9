//! HTTP transport semantics: long polls (rid, maxev, keepalive), statuses, paths, CORS.

mod common;

use std::time::{Duration, Instant};

use common::{Http, TEST_PLUGIN, Ws, start, test_config};
use serde_json::json;

fn short_poll_config() -> portunus_ctrl::config::Config {
    let mut c = test_config();
    c.http.long_poll_timeout_ms = 200;
    c
}

fn create(http: &mut Http) -> u64 {
    http.call("/janus", json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap()
}

fn attach(http: &mut Http, sid: u64) -> u64 {
    let r = http.call(
        &format!("/janus/{sid}"),
        json!({"janus":"attach","transaction":"a","plugin":TEST_PLUGIN}),
    );
    r["data"]["id"].as_u64().unwrap()
}

#[test]
fn poll_without_maxev_answers_one_object_and_keepalive_after_timeout() {
    let (server, _) = start(short_poll_config());
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = create(&mut http);
    let t0 = Instant::now();
    let r = http.get(&format!("/janus/{sid}?rid=1700000000000"));
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "answered too early"
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.json(), json!({"janus":"keepalive"}));
    let r = http.get(&format!("/janus/{sid}?rid=2&maxev=5"));
    assert_eq!(r.json(), json!([{"janus":"keepalive"}]));
}

#[test]
fn queued_events_are_delivered_in_maxev_batches() {
    let (server, _) = start(short_poll_config());
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = create(&mut http);
    let hid = attach(&mut http, sid);
    for i in 0..3 {
        let r = http.call(
            &format!("/janus/{sid}/{hid}"),
            json!({"janus":"message","transaction":format!("m{i}"),"body":{"request":"async"}}),
        );
        assert_eq!(r["janus"], "ack");
    }
    let r = http.get(&format!("/janus/{sid}?maxev=2")).json();
    assert_eq!(r.as_array().unwrap().len(), 2);
    assert_eq!(r[0]["transaction"], "m0");
    assert_eq!(r[1]["transaction"], "m1");
    let r = http.get(&format!("/janus/{sid}?maxev=2")).json();
    assert_eq!(
        r.as_array().unwrap().len(),
        1,
        "an array even for one event: {r}"
    );
    assert_eq!(r[0]["transaction"], "m2");
    assert_eq!(r[0]["plugindata"]["data"], json!({"result":"done"}));
}

#[test]
fn parked_poll_is_answered_by_an_event_from_another_connection() {
    let mut c = test_config();
    c.http.long_poll_timeout_ms = 10_000;
    let (server, _) = start(c);
    let port = server.ports.http.unwrap();
    let mut http = Http::connect(port);
    let sid = create(&mut http);
    let hid = attach(&mut http, sid);
    let poller = std::thread::spawn(move || {
        let mut p = Http::connect(port);
        let t0 = Instant::now();
        let r = p.get(&format!("/janus/{sid}?rid=1&maxev=10"));
        (r.json(), t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    http.call(
        &format!("/janus/{sid}/{hid}"),
        json!({"janus":"message","transaction":"m","body":{"request":"async"}}),
    );
    let (events, waited) = poller.join().unwrap();
    assert!(waited < Duration::from_secs(5));
    assert_eq!(
        events,
        json!([{"janus":"event","session_id":sid,"transaction":"m","sender":hid,
                "plugindata":{"plugin":TEST_PLUGIN,"data":{"result":"done"}}}])
    );
}

#[test]
fn unknown_or_invalid_sessions_get_404_with_empty_body() {
    let (server, _) = start(short_poll_config());
    let mut http = Http::connect(server.ports.http.unwrap());
    for path in ["/janus/123456", "/janus/abc", "/janus", "/janus/0"] {
        let r = http.get(path);
        assert_eq!((r.status, r.body.len()), (404, 0), "{path}");
        assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    }
    // A session created over WebSocket is not known to the HTTP transport.
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let sid = ws.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    assert_eq!(http.get(&format!("/janus/{sid}")).status, 404);
}

#[test]
fn handle_path_poll_redirects_to_session() {
    let (server, _) = start(short_poll_config());
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = create(&mut http);
    let r = http.get(&format!("/janus/{sid}/77"));
    assert_eq!(r.status, 302);
    assert_eq!(r.header("Location"), Some(format!("/janus/{sid}").as_str()));
}

#[test]
fn poll_credentials_come_from_the_query_string() {
    let mut c = short_poll_config();
    c.general.api_secret = Some("sekrit".into());
    let (server, _) = start(c);
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = http.call(
        "/janus",
        json!({"janus":"create","transaction":"c","apisecret":"sekrit"}),
    )["data"]["id"]
        .as_u64()
        .unwrap();
    for q in ["", "?apisecret=wrong"] {
        let r = http.get(&format!("/janus/{sid}{q}"));
        assert_eq!((r.status, r.body.len()), (403, 0), "{q}");
    }
    // Forbidden wins over unknown session.
    assert_eq!(http.get("/janus/42").status, 403);
    let r = http.get(&format!("/janus/{sid}?rid=1&apisecret=sekrit"));
    assert_eq!(r.json(), json!({"janus":"keepalive"}));
}

#[test]
fn polls_keep_the_session_alive() {
    let mut c = short_poll_config();
    c.general.session_timeout = 1;
    let (server, _) = start(c);
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = create(&mut http);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2600) {
        let r = http.get(&format!("/janus/{sid}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), json!({"janus":"keepalive"}));
    }
    let r = http.call(
        &format!("/janus/{sid}"),
        json!({"janus":"keepalive","transaction":"k"}),
    );
    assert_eq!(r["janus"], "ack");
}

#[test]
fn paths_bodies_and_methods_follow_the_http_transport() {
    let (server, _) = start(short_poll_config());
    let port = server.ports.http.unwrap();
    let mut http = Http::connect(port);
    let sid = create(&mut http);
    // GET /janus/info is an info request with a generated transaction; other methods get 400.
    let info = http.get("/janus/info").json();
    assert_eq!(info["janus"], "server_info");
    assert_eq!(info["transaction"].as_str().unwrap().len(), 11);
    let r = http.post("/janus/info", &json!({"janus":"info","transaction":"x"}));
    assert_eq!((r.status, r.body.len()), (400, 0));
    // Path ids go into the request; a conflicting body id is 457 without transaction.
    let r = http.call(
        &format!("/janus/{sid}"),
        json!({"janus":"keepalive","transaction":"k"}),
    );
    assert_eq!(r, json!({"janus":"ack","session_id":sid,"transaction":"k"}));
    let r = http.call(
        &format!("/janus/{sid}"),
        json!({"janus":"keepalive","transaction":"k","session_id":sid + 1}),
    );
    assert_eq!(
        r,
        json!({"janus":"error","error":{"code":457,"reason":"Conflicting session ID (payload and path)"}})
    );
    let hid = attach(&mut http, sid);
    let r = http.call(
        &format!("/janus/{sid}/{hid}"),
        json!({"janus":"detach","transaction":"d","handle_id":1}),
    );
    assert_eq!(
        r,
        json!({"janus":"error","error":{"code":457,"reason":"Conflicting handle ID (payload and path)"}})
    );
    // Unsupported methods: a 450 error object.
    let r = http.request("PUT", "/janus", Some(b"{}"), &[]);
    assert_eq!(
        r.json(),
        json!({"janus":"error","error":{"code":450,"reason":"Unsupported method PUT"}})
    );
    // sendBeacon-style destroy: text/plain body on the session path.
    let r = http.call(
        &format!("/janus/{sid}"),
        json!({"janus":"destroy","transaction":"b"}),
    );
    assert_eq!(
        r,
        json!({"janus":"success","session_id":sid,"transaction":"b"})
    );
    // POST with an empty body: the connection is closed without an answer.
    let mut other = Http::connect(port);
    other.send_raw(b"POST /janus HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(other.read_response().is_none());
}

#[test]
fn options_preflight_echoes_cors_request_headers() {
    let (server, _) = start(short_poll_config());
    let mut http = Http::connect(server.ports.http.unwrap());
    let r = http.request(
        "OPTIONS",
        "/janus/123",
        None,
        &[
            ("Origin", "http://example.com"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    );
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(r.header("Access-Control-Allow-Methods"), Some("POST"));
    assert_eq!(
        r.header("Access-Control-Allow-Headers"),
        Some("content-type")
    );
    assert_eq!(r.header("Access-Control-Max-Age"), Some("86400"));
}

#[test]
fn enforced_cors_refuses_other_origins() {
    let mut c = short_poll_config();
    c.http.allow_origin = Some("https://good.example".into());
    c.http.enforce_cors = true;
    let (server, _) = start(c);
    let mut http = Http::connect(server.ports.http.unwrap());
    let body = json!({"janus":"ping","transaction":"p"}).to_string();
    let r = http.request(
        "POST",
        "/janus",
        Some(body.as_bytes()),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403);
    let r = http.request(
        "POST",
        "/janus",
        Some(body.as_bytes()),
        &[("Origin", "https://good.example")],
    );
    assert_eq!(r.json()["janus"], "pong");
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://good.example")
    );
    assert_eq!(r.header("Access-Control-Allow-Credentials"), Some("true"));
    assert_eq!(r.header("Vary"), Some("Origin"));
}

#[test]
fn keep_alive_serves_pipelined_requests_and_http10_closes() {
    let (server, _) = start(short_poll_config());
    let port = server.ports.http.unwrap();
    let mut http = Http::connect(port);
    let one = json!({"janus":"ping","transaction":"1"}).to_string();
    let two = json!({"janus":"ping","transaction":"2"}).to_string();
    let raw = format!(
        "POST /janus HTTP/1.1\r\nContent-Length: {}\r\n\r\n{one}POST /janus HTTP/1.1\r\nContent-Length: {}\r\n\r\n{two}",
        one.len(),
        two.len()
    );
    http.send_raw(raw.as_bytes());
    assert_eq!(http.read_response().unwrap().json()["transaction"], "1");
    assert_eq!(http.read_response().unwrap().json()["transaction"], "2");
    let mut old = Http::connect(port);
    old.send_raw(
        format!(
            "POST /janus HTTP/1.0\r\nContent-Length: {}\r\n\r\n{one}",
            one.len()
        )
        .as_bytes(),
    );
    let r = old.read_response().unwrap();
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(old.read_response().is_none());
    // A long poll asking to close gets its keepalive, then the close.
    let sid = create(&mut http);
    let mut poll = Http::connect(port);
    let r = poll.request(
        "GET",
        &format!("/janus/{sid}"),
        None,
        &[("Connection", "close")],
    );
    assert_eq!(r.json(), json!({"janus":"keepalive"}));
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(poll.read_response().is_none());
}

//! Session lifecycle across transports: timeout, transport loss, reclaim, claim, and
//! authentication (api_secret, stored tokens, accept_new_sessions).

mod common;

use std::time::{Duration, Instant};

use common::{Http, TEST_PLUGIN, Ws, start, test_config};
use serde_json::{Value, json};

fn ws_create(ws: &mut Ws) -> u64 {
    ws.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap()
}

fn keepalive(http: &mut Http, sid: u64) -> Value {
    http.call(
        "/janus",
        json!({"janus":"keepalive","transaction":"k","session_id":sid}),
    )
}

/// Poll until the session is gone (458) or `within` passes.
fn gone_within(http: &mut Http, sid: u64, within: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if keepalive(http, sid)["janus"] == "error" {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn idle_session_times_out_with_timeout_event_on_websocket() {
    let mut c = test_config();
    c.general.session_timeout = 1;
    let (server, log) = start(c);
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let sid = ws_create(&mut ws);
    let hid =
        ws.call(json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN}))
            ["data"]["id"]
            .as_u64()
            .unwrap();
    let t0 = Instant::now();
    assert_eq!(ws.recv(), json!({"janus":"timeout","session_id":sid}));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    let r = ws.call(json!({"janus":"keepalive","transaction":"k","session_id":sid}));
    assert_eq!(r["error"]["code"], 458);
    assert!(
        log.lock().unwrap().contains(&format!("detach {hid}")),
        "plugin told about the handle"
    );
}

#[test]
fn idle_session_times_out_with_timeout_event_on_long_poll() {
    let mut c = test_config();
    c.general.session_timeout = 1;
    c.http.long_poll_timeout_ms = 10_000;
    let (server, _) = start(c);
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = http.call("/janus", json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    // Polling counts as activity, so wait idle first, then poll just before expiry.
    std::thread::sleep(Duration::from_millis(700));
    let mut poller = Http::connect(server.ports.http.unwrap());
    let r = poller.get(&format!("/janus/{sid}?maxev=10"));
    assert_eq!(r.json(), json!([{"janus":"timeout","session_id":sid}]));
}

#[test]
fn closing_a_websocket_destroys_its_sessions() {
    let (server, _) = start(test_config());
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let sid = ws_create(&mut ws);
    let mut http = Http::connect(server.ports.http.unwrap());
    assert_eq!(keepalive(&mut http, sid)["janus"], "ack");
    drop(ws);
    assert!(gone_within(&mut http, sid, Duration::from_secs(3)));
}

#[test]
fn session_survives_transport_loss_until_claimed() {
    let mut c = test_config();
    c.general.reclaim_session_timeout = 2;
    let (server, _) = start(c);
    let port = server.ports.ws.unwrap();
    let mut ws = Ws::connect(port, "janus-protocol");
    let sid = ws_create(&mut ws);
    let hid =
        ws.call(json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN}))
            ["data"]["id"]
            .as_u64()
            .unwrap();
    drop(ws);
    std::thread::sleep(Duration::from_millis(300));
    let mut ws2 = Ws::connect(port, "janus-protocol");
    let r = ws2.call(json!({"janus":"claim","transaction":"cl","session_id":sid}));
    assert_eq!(
        r,
        json!({"janus":"success","session_id":sid,"transaction":"cl"})
    );
    let r = ws2.call(json!({"janus":"message","transaction":"m","session_id":sid,"handle_id":hid,"body":{"request":"async"}}));
    assert_eq!(r["janus"], "ack");
    assert_eq!(ws2.recv()["plugindata"]["data"], json!({"result":"done"}));
    // Past the reclaim timeout the claimed session lives on.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        ws2.call(json!({"janus":"keepalive","transaction":"k","session_id":sid}))["janus"],
        "ack"
    );

    // An unclaimed one is destroyed after the reclaim timeout (watched through the Admin API,
    // since Janus API requests would count as activity).
    let mut ws3 = Ws::connect(port, "janus-protocol");
    let sid3 = ws_create(&mut ws3);
    drop(ws3);
    let mut admin = Http::connect(server.ports.admin.unwrap());
    let listed = |admin: &mut Http| {
        let r = admin.call("/admin", json!({"janus":"list_sessions","transaction":"l"}));
        r["sessions"].as_array().unwrap().contains(&json!(sid3))
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(listed(&mut admin), "still waiting for a claim");
    let t0 = Instant::now();
    while listed(&mut admin) {
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "not destroyed after the reclaim timeout"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn claim_moves_events_to_the_claiming_connection() {
    let (server, _) = start(test_config());
    let port = server.ports.ws.unwrap();
    let mut ws1 = Ws::connect(port, "janus-protocol");
    let mut ws2 = Ws::connect(port, "janus-protocol");
    let sid = ws_create(&mut ws1);
    let hid =
        ws1.call(json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN}))
            ["data"]["id"]
            .as_u64()
            .unwrap();
    assert_eq!(
        ws2.call(json!({"janus":"claim","transaction":"cl","session_id":sid}))["janus"],
        "success"
    );
    // The message is sent on ws1, but the event goes to the owner, ws2.
    let r = ws1.call(json!({"janus":"message","transaction":"m","session_id":sid,"handle_id":hid,"body":{"request":"async"}}));
    assert_eq!(r["janus"], "ack");
    assert_eq!(ws2.recv()["transaction"], "m");
    assert!(
        !ws1.closed_within(Duration::from_millis(300)),
        "ws1 gets nothing and stays open"
    );

    // Claimed over HTTP: events are then delivered to long polls.
    let mut http = Http::connect(server.ports.http.unwrap());
    let r = http.call(
        "/janus",
        json!({"janus":"claim","transaction":"h","session_id":sid}),
    );
    assert_eq!(
        r,
        json!({"janus":"success","session_id":sid,"transaction":"h"})
    );
    ws1.call(json!({"janus":"message","transaction":"m2","session_id":sid,"handle_id":hid,"body":{"request":"async"}}));
    assert_eq!(
        http.get(&format!("/janus/{sid}")).json()["transaction"],
        "m2"
    );
}

#[test]
fn api_secret_is_required_except_for_info_and_ping() {
    let mut c = test_config();
    c.general.api_secret = Some("s3cret".into());
    let (server, _) = start(c);
    let mut http = Http::connect(server.ports.http.unwrap());
    let denied = |tx: &str| json!({"janus":"error","transaction":tx,"error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}});
    assert_eq!(
        http.call("/janus", json!({"janus":"create","transaction":"c"})),
        denied("c")
    );
    assert_eq!(
        http.call(
            "/janus",
            json!({"janus":"create","transaction":"c","apisecret":"nope"})
        ),
        denied("c")
    );
    assert_eq!(
        http.call("/janus", json!({"janus":"ping","transaction":"p"}))["janus"],
        "pong"
    );
    let info = http.call("/janus", json!({"janus":"info","transaction":"i"}));
    assert_eq!(info["api_secret"], true);
    let sid = http.call(
        "/janus",
        json!({"janus":"create","transaction":"c","apisecret":"s3cret"}),
    )["data"]["id"]
        .as_u64()
        .unwrap();
    let r = http.call(
        "/janus",
        json!({"janus":"keepalive","transaction":"k","session_id":sid}),
    );
    assert_eq!(r["error"]["code"], 403);
    assert_eq!(r["session_id"], sid);
    // A bad secret wins over an unknown session.
    let r = http.call(
        "/janus",
        json!({"janus":"keepalive","transaction":"k","session_id":1}),
    );
    assert_eq!(r["error"]["code"], 403);
    let r = http.call(
        "/janus",
        json!({"janus":"keepalive","transaction":"k","session_id":sid,"apisecret":"s3cret"}),
    );
    assert_eq!(r["janus"], "ack");
}

#[test]
fn stored_tokens_authorize_requests_and_plugins() {
    let mut c = test_config();
    c.general.token_auth = true;
    c.general.admin_secret = Some("adm".into());
    let (server, _) = start(c);
    let mut admin = Http::connect(server.ports.admin.unwrap());
    let r = admin.call(
        "/admin",
        json!({"janus":"add_token","transaction":"t","admin_secret":"adm","token":"good"}),
    );
    assert_eq!(
        r,
        json!({"janus":"success","transaction":"t","data":{"plugins":[TEST_PLUGIN]}})
    );
    let r = admin.call(
        "/admin",
        json!({"janus":"add_token","transaction":"t","admin_secret":"adm","token":"limited","plugins":["janus.plugin.other"]}),
    );
    assert_eq!(r["data"], json!({"plugins":[]}));

    let mut http = Http::connect(server.ports.http.unwrap());
    assert_eq!(
        http.call("/janus", json!({"janus":"create","transaction":"c"}))["error"]["code"],
        403
    );
    assert_eq!(
        http.call(
            "/janus",
            json!({"janus":"create","transaction":"c","token":"bad"})
        )["error"]["code"],
        403
    );
    let sid = http.call(
        "/janus",
        json!({"janus":"create","transaction":"c","token":"limited"}),
    )["data"]["id"]
        .as_u64()
        .unwrap();
    let r = http.call("/janus", json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN,"token":"limited"}));
    assert_eq!(
        r,
        json!({"janus":"error","session_id":sid,"transaction":"a",
               "error":{"code":405,"reason":format!("Provided token can't access plugin '{TEST_PLUGIN}'")}})
    );
    let r = http.call("/janus", json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN,"token":"good"}));
    assert_eq!(r["janus"], "success");
    // Removing the token locks its sessions out.
    admin.call(
        "/admin",
        json!({"janus":"remove_token","transaction":"r","admin_secret":"adm","token":"limited"}),
    );
    let r = http.call(
        "/janus",
        json!({"janus":"keepalive","transaction":"k","session_id":sid,"token":"limited"}),
    );
    assert_eq!(r["error"]["code"], 403);
}

#[test]
fn refusing_new_sessions_gives_472() {
    let (server, _) = start(test_config());
    let mut admin = Http::connect(server.ports.admin.unwrap());
    let r = admin.call(
        "/admin",
        json!({"janus":"accept_new_sessions","transaction":"t","accept":false}),
    );
    assert_eq!(
        r,
        json!({"janus":"success","transaction":"t","accept":false})
    );
    let mut http = Http::connect(server.ports.http.unwrap());
    let r = http.call("/janus", json!({"janus":"create","transaction":"c"}));
    assert_eq!(
        r,
        json!({"janus":"error","transaction":"c","error":{"code":472,"reason":"Currently not accepting new sessions"}})
    );
    assert_eq!(
        http.call("/janus", json!({"janus":"info","transaction":"i"}))["accepting-new-sessions"],
        false
    );
}

/// HMAC-SHA1 signed token as Janus's `token_auth_secret` mode expects it.
fn signed_token(secret: &str, data: &str) -> String {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let key = PKey::hmac(secret.as_bytes()).unwrap();
    let mut s = Signer::new(MessageDigest::sha1(), &key).unwrap();
    s.update(data.as_bytes()).unwrap();
    format!(
        "{data}:{}",
        openssl::base64::encode_block(&s.sign_to_vec().unwrap())
    )
}

#[test]
fn hmac_signed_tokens_authorize_requests_and_plugins() {
    let mut c = test_config();
    c.general.token_auth = true;
    c.general.token_auth_secret = Some("hmacsecret".into());
    c.http.long_poll_timeout_ms = 200;
    let (server, _) = start(c);
    let mut http = Http::connect(server.ports.http.unwrap());
    let good = signed_token("hmacsecret", &format!("4000000000,janus,{TEST_PLUGIN}"));
    let other_plugin = signed_token("hmacsecret", "4000000000,janus,janus.plugin.other");
    let expired = signed_token("hmacsecret", &format!("1000000000,janus,{TEST_PLUGIN}"));
    let forged = signed_token("wrong", &format!("4000000000,janus,{TEST_PLUGIN}"));
    for bad in [&expired, &forged] {
        let r = http.call(
            "/janus",
            json!({"janus":"create","transaction":"c","token":bad}),
        );
        assert_eq!(r["error"]["code"], 403, "{bad}");
    }
    let sid = http.call(
        "/janus",
        json!({"janus":"create","transaction":"c","token":other_plugin}),
    )["data"]["id"]
        .as_u64()
        .unwrap();
    let r = http.call("/janus", json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN,"token":other_plugin}));
    assert_eq!(r["error"]["code"], 405);
    let r = http.call("/janus", json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN,"token":good}));
    assert_eq!(r["janus"], "success");
    // Long polls take the token from the query string.
    let q = good
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
        .replace(':', "%3A")
        .replace(',', "%2C");
    assert_eq!(http.get(&format!("/janus/{sid}?token={q}")).status, 200);
    assert_eq!(http.get(&format!("/janus/{sid}")).status, 403);
    // Stored-token management is disabled in this mode.
    let mut admin = Http::connect(server.ports.admin.unwrap());
    let r = admin.call(
        "/admin",
        json!({"janus":"add_token","transaction":"t","token":"x"}),
    );
    assert_eq!(
        r["error"],
        json!({"code":490,"reason":"Stored-Token based authentication disabled"})
    );
}

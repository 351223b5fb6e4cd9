//! The Admin API over HTTP and WebSocket, with right and wrong secrets, and `/metrics`.

mod common;

use common::{Http, TEST_PLUGIN, Ws, start, test_config};
use serde_json::{Value, json};

const SECRET: &str = "janusoverlord";

fn config() -> portunus_ctrl::config::Config {
    let mut c = test_config();
    c.general.admin_secret = Some(SECRET.into());
    c.http.long_poll_timeout_ms = 300;
    c
}

fn denied(tx: &str) -> Value {
    json!({"janus":"error","transaction":tx,"error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}})
}

/// Admin request helper: adds the secret.
fn admin(http: &mut Http, mut req: Value) -> Value {
    req["admin_secret"] = SECRET.into();
    http.call("/admin", req)
}

#[test]
fn global_requests_need_the_secret_except_info_and_ping() {
    let (server, _) = start(config());
    let mut a = Http::connect(server.ports.admin.unwrap());
    assert_eq!(
        a.call("/admin", json!({"janus":"ping","transaction":"p"})),
        json!({"janus":"pong","transaction":"p"})
    );
    assert_eq!(
        a.call("/admin", json!({"janus":"info","transaction":"i"}))["janus"],
        "server_info"
    );
    assert_eq!(
        a.call("/admin", json!({"janus":"list_sessions","transaction":"l"})),
        denied("l")
    );
    assert_eq!(
        a.call(
            "/admin",
            json!({"janus":"list_sessions","transaction":"l","admin_secret":"x"})
        ),
        denied("l")
    );
    assert_eq!(
        a.call(
            "/admin",
            json!({"janus":"list_sessions","transaction":"l","admin_secret":5})
        ),
        denied("l")
    );
    assert_eq!(
        admin(&mut a, json!({"janus":"list_sessions","transaction":"l"})),
        json!({"janus":"success","transaction":"l","sessions":[]})
    );
    let status = admin(&mut a, json!({"janus":"get_status","transaction":"s"}));
    assert_eq!(status["status"]["session_timeout"], 60);
    assert_eq!(status["status"]["log_level"], 4);
    assert_eq!(status["status"]["nack-optimizations"], false);
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"set_log_level","transaction":"t","level":5})
        ),
        json!({"janus":"success","transaction":"t","level":5})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"set_log_level","transaction":"t","level":9})
        ),
        json!({"janus":"error","transaction":"t","error":{"code":467,"reason":"Invalid element type (level should be between 0 and 7)"}})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"set_session_timeout","transaction":"t","timeout":-5})
        ),
        json!({"janus":"error","transaction":"t","error":{"code":467,"reason":"Invalid element type (timeout should be a positive integer)"}})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"set_session_timeout","transaction":"t","timeout":30})
        ),
        json!({"janus":"success","transaction":"t","timeout":30})
    );
    assert_eq!(
        a.call("/admin", json!({"janus":"info","transaction":"i"}))["session-timeout"],
        30
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"set_nack_optimizations","transaction":"t","nack_optimizations":true})
        ),
        json!({"janus":"success","transaction":"t","nack-optimizations":true})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"set_no_media_timer","transaction":"t"})
        ),
        json!({"janus":"error","transaction":"t","error":{"code":456,"reason":"Missing mandatory element (no_media_timer)"}})
    );
    assert_eq!(
        admin(&mut a, json!({"janus":"bogus","transaction":"t"})),
        json!({"janus":"error","transaction":"t","error":{"code":457,"reason":"Unhandled request 'bogus' at this path"}})
    );
    assert_eq!(
        admin(&mut a, json!({"janus":"loops_info","transaction":"t"})),
        json!({"janus":"success","transaction":"t","loops":[]})
    );
    assert_eq!(
        admin(&mut a, json!({"janus":"list_tokens","transaction":"t"})),
        json!({"janus":"error","transaction":"t","error":{"code":490,"reason":"Stored-Token based authentication disabled"}})
    );
    let r = admin(
        &mut a,
        json!({"janus":"message_plugin","transaction":"t","plugin":TEST_PLUGIN,"request":{"request":"list"}}),
    );
    assert_eq!(
        r,
        json!({"janus":"success","transaction":"t","response":{"testecho":"success","request":{"request":"list"}}})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"message_plugin","transaction":"t","plugin":"nope"})
        ),
        json!({"janus":"error","transaction":"t","error":{"code":460,"reason":"Invalid plugin"}})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"query_logger","transaction":"t","logger":"x"})
        ),
        json!({"janus":"error","transaction":"t","error":{"code":460,"reason":"Invalid logger"}})
    );
}

#[test]
fn session_and_handle_requests() {
    let (server, _) = start(config());
    let mut a = Http::connect(server.ports.admin.unwrap());
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = http.call("/janus", json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    let attach = |http: &mut Http, opaque: &str| {
        http.call("/janus", json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN,"opaque_id":opaque}))
            ["data"]["id"]
            .as_u64()
            .unwrap()
    };
    let h1 = attach(&mut http, "one");
    let h2 = attach(&mut http, "two");
    http.call("/janus", json!({"janus":"message","transaction":"m","session_id":sid,"handle_id":h1,"body":{"request":"sync"}}));

    assert_eq!(
        admin(&mut a, json!({"janus":"list_sessions","transaction":"l"}))["sessions"],
        json!([sid])
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"list_handles","transaction":"l","session_id":sid})
        ),
        json!({"janus":"success","session_id":sid,"transaction":"l","handles":[h1,h2]})
    );
    // The secret is checked before the session lookup.
    let r = a.call(
        "/admin",
        json!({"janus":"list_handles","transaction":"l","session_id":sid}),
    );
    assert_eq!(r["error"]["code"], 403);
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"list_handles","transaction":"l","session_id":5})
        ),
        json!({"janus":"error","session_id":5,"transaction":"l","error":{"code":458,"reason":"No such session 5"}})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"handle_info","transaction":"l","session_id":sid,"handle_id":0})
        )["error"],
        json!({"code":458,"reason":"Session not found"})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"handle_info","transaction":"l","session_id":sid,"handle_id":9})
        )["error"],
        json!({"code":459,"reason":format!("No such handle 9 in session {sid}")})
    );

    let r = admin(
        &mut a,
        json!({"janus":"handle_info","transaction":"h","session_id":sid,"handle_id":h1}),
    );
    assert_eq!(r["janus"], "success");
    assert_eq!(r["session_id"], sid);
    assert_eq!(r["handle_id"], h1);
    let info = &r["info"];
    assert_eq!(info["session_id"], sid);
    assert_eq!(info["session_timeout"], 60);
    assert_eq!(info["session_transport"], "janus.transport.http");
    assert_eq!(info["handle_id"], h1);
    assert_eq!(info["opaque_id"], "one");
    assert_eq!(info["plugin"], TEST_PLUGIN);
    assert_eq!(info["plugin_specific"], json!({"messages":1}));
    assert_eq!(info["flags"]["got-offer"], false);
    assert!(info["created"].as_u64().unwrap() <= info["current_time"].as_u64().unwrap());
    let r = admin(
        &mut a,
        json!({"janus":"handle_info","transaction":"h","session_id":sid,"handle_id":h1,"plugin_only":true}),
    );
    assert!(r["info"].get("flags").is_none());

    let r = admin(
        &mut a,
        json!({"janus":"set_session_timeout","transaction":"t","session_id":sid,"timeout":-2}),
    );
    assert_eq!(
        r["error"],
        json!({"code":467,"reason":"Invalid element type (timeout should be a non-negative integer or -1)"})
    );
    let r = admin(
        &mut a,
        json!({"janus":"set_session_timeout","transaction":"t","session_id":sid,"timeout":u64::MAX}),
    );
    assert_eq!(r["error"]["code"], 467, "not 0 (never expire): {r}");
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"set_session_timeout","transaction":"t","session_id":sid,"timeout":0})
        ),
        json!({"janus":"success","transaction":"t","timeout":0,"session_id":sid})
    );

    // detach_handle: the client gets detached; hangup_webrtc without a PeerConnection: nothing.
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"hangup_webrtc","transaction":"t","session_id":sid,"handle_id":h2})
        ),
        json!({"janus":"success","session_id":sid,"transaction":"t"})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"detach_handle","transaction":"t","session_id":sid,"handle_id":h2})
        ),
        json!({"janus":"success","session_id":sid,"transaction":"t"})
    );
    assert_eq!(
        http.get(&format!("/janus/{sid}")).json(),
        json!({"janus":"detached","session_id":sid,"sender":h2})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"start_pcap","transaction":"t","session_id":sid,"handle_id":h1})
        )["error"]["code"],
        490
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"destroy_session","transaction":"t","session_id":sid})
        ),
        json!({"janus":"success","session_id":sid,"transaction":"t"})
    );
    let r = http.call(
        "/janus",
        json!({"janus":"keepalive","transaction":"k","session_id":sid}),
    );
    assert_eq!(r["error"]["code"], 458);
}

#[test]
fn token_management() {
    let mut c = config();
    c.general.token_auth = true;
    let (server, _) = start(c);
    let mut a = Http::connect(server.ports.admin.unwrap());
    admin(
        &mut a,
        json!({"janus":"add_token","transaction":"t","token":"tok","plugins":[TEST_PLUGIN,"unknown"]}),
    );
    assert_eq!(
        admin(&mut a, json!({"janus":"list_tokens","transaction":"t"})),
        json!({"janus":"success","transaction":"t","data":{"tokens":[{"token":"tok","allowed_plugins":[TEST_PLUGIN]}]}})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"disallow_token","transaction":"t","token":"tok","plugins":[TEST_PLUGIN]})
        ),
        json!({"janus":"success","transaction":"t","data":{"plugins":[]}})
    );
    assert_eq!(
        admin(&mut a, json!({"janus":"list_tokens","transaction":"t"}))["data"]["tokens"],
        json!([])
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"allow_token","transaction":"t","token":"zz","plugins":[TEST_PLUGIN]})
        )["error"],
        json!({"code":470,"reason":"Token zz not found"})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"allow_token","transaction":"t","token":"tok","plugins":[]})
        )["error"],
        json!({"code":467,"reason":"Invalid element type (plugins should be a non-empty array)"})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"allow_token","transaction":"t","token":"tok","plugins":["x"]})
        )["error"],
        json!({"code":467,"reason":"Invalid element type (some of the provided plugins are invalid)"})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"remove_token","transaction":"t","token":"tok"})
        ),
        json!({"janus":"success","transaction":"t"})
    );
    assert_eq!(
        admin(
            &mut a,
            json!({"janus":"remove_token","transaction":"t","token":"tok"})
        )["error"],
        json!({"code":490,"reason":"Error removing token"})
    );
}

#[test]
fn admin_over_websocket_needs_the_admin_subprotocol() {
    let (server, _) = start(config());
    let port = server.ports.admin.unwrap();
    assert!(Ws::try_connect(port, Some("janus-protocol")).is_err());
    assert!(Ws::try_connect(port, None).is_err());
    let mut ws = Ws::connect(port, "janus-admin-protocol");
    assert_eq!(
        ws.call(json!({"janus":"ping","transaction":"p"})),
        json!({"janus":"pong","transaction":"p"})
    );
    assert_eq!(
        ws.call(json!({"janus":"list_sessions","transaction":"l"})),
        denied("l")
    );
    let r = ws.call(json!({"janus":"list_sessions","transaction":"l","admin_secret":SECRET}));
    assert_eq!(
        r,
        json!({"janus":"success","transaction":"l","sessions":[]})
    );
    // The Janus API WebSocket refuses the admin subprotocol.
    assert!(Ws::try_connect(server.ports.ws.unwrap(), Some("janus-admin-protocol")).is_err());
}

#[test]
fn admin_http_paths() {
    let (server, _) = start(config());
    let mut a = Http::connect(server.ports.admin.unwrap());
    assert_eq!(a.get("/admin/info").json()["janus"], "server_info");
    assert_eq!(
        a.post("/admin/info", &json!({})).json(),
        json!({"janus":"error","error":{"code":450,"reason":"Use GET for the info endpoint"}})
    );
    assert_eq!(
        a.get("/admin").json(),
        json!({"janus":"error","error":{"code":454,"reason":"Request payload missing"}})
    );
    assert_eq!(a.get("/elsewhere").status, 404);
    // The Janus API port does not serve the Admin API.
    let mut j = Http::connect(server.ports.http.unwrap());
    assert_eq!(
        j.post(
            "/admin",
            &json!({"janus":"list_sessions","transaction":"l"})
        )
        .status,
        404
    );
}

#[test]
fn metrics_endpoint_reports_sessions_handles_and_requests() {
    let (server, _) = start(config());
    let mut http = Http::connect(server.ports.http.unwrap());
    let sid = http.call("/janus", json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    http.call(
        "/janus",
        json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN}),
    );
    let mut a = Http::connect(server.ports.admin.unwrap());
    a.call(
        "/admin",
        json!({"janus":"list_sessions","transaction":"l","admin_secret":SECRET}),
    );
    let r = a.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/plain; version=0.0.4"));
    let text = String::from_utf8(r.body).unwrap();
    for line in [
        "portunus_sessions 1\n",
        "portunus_handles 1\n",
        "portunus_api_requests_total{verb=\"create\"} 1\n",
        "portunus_api_requests_total{verb=\"attach\"} 1\n",
        "portunus_sessions_created_total 1\n",
        "portunus_admin_requests_total{verb=\"list_sessions\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

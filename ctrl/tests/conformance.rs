//! Every Janus API request over HTTP and over WebSocket, asserting the exact JSON of replies,
//! errors and events (shapes from shared/janus-api/core.md, Janus 1.1.2).

mod common;

use common::{
    Api, HttpApi, SDP, TEST_PLUGIN, Ws, WsApi, attach, create_session, start, test_config,
};
use serde_json::{Value, json};

fn err(session: Option<u64>, tx: Option<&str>, code: u16, reason: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("janus".into(), "error".into());
    if let Some(s) = session {
        m.insert("session_id".into(), s.into());
    }
    if let Some(t) = tx {
        m.insert("transaction".into(), t.into());
    }
    m.insert("error".into(), json!({"code": code, "reason": reason}));
    Value::Object(m)
}

fn envelope_and_session_requests(api: &mut dyn Api) -> u64 {
    assert_eq!(
        api.call(json!({"janus":"ping","transaction":"p"})),
        json!({"janus":"pong","transaction":"p"})
    );
    let info = api.call(json!({"janus":"info","transaction":"i"}));
    assert_eq!(info["janus"], "server_info");
    assert_eq!(info["transaction"], "i");
    assert_eq!(info["version"], 1102);
    assert_eq!(info["session-timeout"], 60);
    assert_eq!(info["api_secret"], false);
    assert_eq!(
        info["plugins"][TEST_PLUGIN],
        json!({"name":"Test echo plugin","author":"tests","description":"A plugin double for the host tests",
               "version_string":"0.0.1","version":1})
    );
    assert!(info["transports"]["janus.transport.http"].is_object());
    assert!(info["transports"]["janus.transport.websockets"].is_object());

    let r = api.call(json!({"janus":"Create","transaction":"c1","id":424242}));
    assert_eq!(
        r,
        json!({"janus":"success","transaction":"c1","data":{"id":424242}})
    );
    let r = api.call(json!({"janus":"create","transaction":"c2","id":424242}));
    assert_eq!(
        r,
        err(Some(424242), Some("c2"), 468, "Session ID already in use")
    );
    let r = api.call(json!({"janus":"create","transaction":"c3","id":-1}));
    assert_eq!(
        r,
        err(
            None,
            None,
            467,
            "Invalid element type (id should be a positive integer)"
        )
    );
    let r = api.call(json!({"janus":"destroy","transaction":"x","session_id":424242}));
    assert_eq!(
        r,
        json!({"janus":"success","session_id":424242,"transaction":"x"})
    );

    let sid = create_session(api);
    assert!(sid > 0 && sid < (1 << 53));
    let r = api.call(json!({"janus":"keepalive","transaction":"k","session_id":sid}));
    assert_eq!(r, json!({"janus":"ack","session_id":sid,"transaction":"k"}));

    // Envelope checks: no transaction member in these replies.
    assert_eq!(
        api.call(json!({"janus":"ping"})),
        err(None, None, 456, "Missing mandatory element (transaction)")
    );
    assert_eq!(
        api.call(json!({"janus":"keepalive","session_id":sid})),
        err(
            Some(sid),
            None,
            456,
            "Missing mandatory element (transaction)"
        )
    );
    assert_eq!(
        api.call(json!({"janus":"ping","transaction":5})),
        err(
            None,
            None,
            467,
            "Invalid element type (transaction should be a string)"
        )
    );
    assert_eq!(
        api.call(json!({"transaction":"t"})),
        err(None, None, 456, "Missing mandatory element (janus)")
    );

    // Levels and lookups.
    assert_eq!(
        api.call(json!({"janus":"attach","transaction":"t","plugin":TEST_PLUGIN})),
        err(
            None,
            Some("t"),
            457,
            "Unhandled request 'attach' at this path"
        )
    );
    assert_eq!(
        api.call(json!({"janus":"foo","transaction":"t","session_id":sid})),
        err(Some(sid), Some("t"), 453, "Unknown request 'foo'")
    );
    assert_eq!(
        api.call(json!({"janus":"info","transaction":"t","session_id":sid})),
        err(Some(sid), Some("t"), 453, "Unknown request 'info'")
    );
    assert_eq!(
        api.call(json!({"janus":"keepalive","transaction":"t","session_id":999})),
        err(Some(999), Some("t"), 458, "No such session 999")
    );
    assert_eq!(
        api.call(json!({"janus":"keepalive","transaction":"t","handle_id":5})),
        err(None, Some("t"), 458, "Session not found")
    );
    assert_eq!(
        api.call(json!({"janus":"message","transaction":"t","session_id":sid,"handle_id":0})),
        err(Some(sid), Some("t"), 459, "Handle not found")
    );
    assert_eq!(
        api.call(json!({"janus":"message","transaction":"t","session_id":sid,"handle_id":12345,"body":{}})),
        err(Some(sid), Some("t"), 459, &format!("No such handle 12345 in session {sid}"))
    );
    assert_eq!(
        api.call(json!({"janus":"detach","transaction":"t","session_id":sid})),
        err(
            Some(sid),
            Some("t"),
            457,
            "Unhandled request 'detach' at this path"
        )
    );
    sid
}

fn attach_requests(api: &mut dyn Api, sid: u64) -> u64 {
    let call = |api: &mut dyn Api, extra: Value| {
        let mut req = json!({"janus":"attach","transaction":"a","session_id":sid});
        req.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        api.call(req)
    };
    assert_eq!(
        call(api, json!({})),
        err(
            Some(sid),
            Some("a"),
            456,
            "Missing mandatory element (plugin)"
        )
    );
    assert_eq!(
        call(api, json!({"plugin":"janus.plugin.nope"})),
        err(
            Some(sid),
            Some("a"),
            460,
            "No such plugin 'janus.plugin.nope'"
        )
    );
    assert_eq!(
        call(api, json!({"plugin":TEST_PLUGIN,"opaque_id":null})),
        err(
            Some(sid),
            Some("a"),
            467,
            "Invalid element type (opaque_id should be a string)"
        )
    );
    assert_eq!(
        call(api, json!({"plugin":TEST_PLUGIN,"opaque_id":"refuse"})),
        err(
            Some(sid),
            Some("a"),
            461,
            "Couldn't attach to plugin: error '42'"
        )
    );
    let r = call(api, json!({"plugin":TEST_PLUGIN,"opaque_id":"me"}));
    let hid = r["data"]["id"].as_u64().unwrap();
    assert_eq!(
        r,
        json!({"janus":"success","session_id":sid,"transaction":"a","data":{"id":hid}})
    );
    let r = api.call(json!({"janus":"attach","transaction":"a2","session_id":sid,"handle_id":hid,"plugin":TEST_PLUGIN}));
    assert_eq!(
        r,
        err(
            Some(sid),
            Some("a2"),
            457,
            "Unhandled request 'attach' at this path"
        )
    );
    hid
}

fn message_requests(api: &mut dyn Api, sid: u64, hid: u64) {
    let msg = |tx: &str, body: Value| json!({"janus":"message","transaction":tx,"session_id":sid,"handle_id":hid,"body":body});
    assert_eq!(
        api.call(json!({"janus":"message","transaction":"m0","session_id":sid,"handle_id":hid})),
        err(
            Some(sid),
            Some("m0"),
            456,
            "Missing mandatory element (body)"
        )
    );
    assert_eq!(
        api.call(msg("m0", json!("x"))),
        err(
            Some(sid),
            Some("m0"),
            467,
            "Invalid element type (body should be an object)"
        )
    );
    let r = api.call(msg("m1", json!({"request":"sync","x":1})));
    assert_eq!(
        r,
        json!({"janus":"success","session_id":sid,"transaction":"m1","sender":hid,
               "plugindata":{"plugin":TEST_PLUGIN,"data":{"echo":{"request":"sync","x":1}}}})
    );
    let r = api.call(msg("m2", json!({"request":"async"})));
    assert_eq!(
        r,
        json!({"janus":"ack","session_id":sid,"transaction":"m2","hint":"wait"})
    );
    assert_eq!(
        api.event(sid),
        json!({"janus":"event","session_id":sid,"transaction":"m2","sender":hid,
               "plugindata":{"plugin":TEST_PLUGIN,"data":{"result":"done"}}})
    );
    assert_eq!(
        api.call(msg("m3", json!({"request":"error"}))),
        err(Some(sid), Some("m3"), 462, "boom")
    );
    assert_eq!(
        api.call(msg("m4", json!({"request":"silent"}))),
        err(Some(sid), Some("m4"), 462, "Plugin didn't give a result")
    );
    api.no_event(sid);
}

fn jsep_requests(api: &mut dyn Api, sid: u64, hid: u64) {
    let with_jsep = |tx: &str, jsep: Value| json!({"janus":"message","transaction":tx,"session_id":sid,"handle_id":hid,"body":{"request":"x"},"jsep":jsep});
    let cases = [
        (json!("offer"), 455, "Invalid jsep object"),
        (
            json!({"sdp": SDP}),
            456,
            "JSEP error: missing mandatory element (type)",
        ),
        (
            json!({"type":"offer"}),
            456,
            "JSEP error: missing mandatory element (sdp)",
        ),
        (
            json!({"type":"offer","sdp":SDP,"trickle":"yes"}),
            467,
            "JSEP error: invalid element type (trickle should be a boolean)",
        ),
        (
            json!({"type":"pranswer","sdp":SDP}),
            464,
            "JSEP error: unknown message type 'pranswer'",
        ),
        (
            json!({"type":"offer","sdp":"hello"}),
            465,
            "Invalid SDP (doesn't start with v=)",
        ),
        (
            json!({"type":"offer","sdp":"v=0\r\n"}),
            465,
            "Missing mandatory lines (o=, s= or m=)",
        ),
        (
            json!({"type":"answer","sdp":SDP}),
            469,
            "Unexpected ANSWER (did we offer?)",
        ),
    ];
    for (jsep, code, reason) in cases {
        assert_eq!(
            api.call(with_jsep("j", jsep)),
            err(Some(sid), Some("j"), code, reason)
        );
    }
    // A valid offer: ack, then the plugin's event with an answer merged by the core.
    let r = api.call(with_jsep(
        "j1",
        json!({"type":"OFFER","sdp":SDP,"trickle":true}),
    ));
    assert_eq!(
        r,
        json!({"janus":"ack","session_id":sid,"transaction":"j1"})
    );
    assert_eq!(
        api.event(sid),
        json!({"janus":"event","session_id":sid,"transaction":"j1","sender":hid,
               "plugindata":{"plugin":TEST_PLUGIN,"data":{"result":"jsep"}},
               "jsep":{"type":"answer","sdp":SDP}})
    );
}

fn trickle_requests(api: &mut dyn Api, sid: u64, hid: u64) {
    let trickle = |tx: &str, extra: Value| {
        let mut req = json!({"janus":"trickle","transaction":tx,"session_id":sid,"handle_id":hid});
        req.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        req
    };
    let cand = json!({"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host"});
    let ack = |tx: &str| json!({"janus":"ack","session_id":sid,"transaction":tx});
    assert_eq!(
        api.call(trickle("t0", json!({}))),
        err(
            Some(sid),
            Some("t0"),
            456,
            "Missing mandatory element (candidate|candidates)"
        )
    );
    assert_eq!(
        api.call(trickle("t0", json!({"candidate": cand, "candidates": []}))),
        err(
            Some(sid),
            Some("t0"),
            454,
            "Can't have both candidate and candidates"
        )
    );
    assert_eq!(
        api.call(trickle("t1", json!({"candidate": cand}))),
        ack("t1")
    );
    assert_eq!(
        api.call(trickle("t2", json!({"candidates": [cand, {"bad": 1}]}))),
        ack("t2")
    );
    assert_eq!(
        api.call(trickle("t3", json!({"candidate": {"candidate": "c"}}))),
        err(
            Some(sid),
            Some("t3"),
            456,
            "Trickle error: missing mandatory element (sdpMid or sdpMLineIndex)"
        )
    );
    assert_eq!(
        api.call(trickle(
            "t3",
            json!({"candidate": {"sdpMid": 0, "candidate": "c"}})
        )),
        err(
            Some(sid),
            Some("t3"),
            467,
            "Trickle error: invalid element type (sdpMid should be a string)"
        )
    );
    assert_eq!(
        api.call(trickle(
            "t3",
            json!({"candidate": {"sdpMLineIndex": -1, "candidate": "c"}})
        )),
        err(
            Some(sid),
            Some("t3"),
            467,
            "Trickle error: invalid element type (sdpMLineIndex should be a positive integer)"
        )
    );
    assert_eq!(
        api.call(trickle("t3", json!({"candidate": {"sdpMid": "0"}}))),
        err(
            Some(sid),
            Some("t3"),
            456,
            "Trickle error: missing mandatory element (candidate)"
        )
    );
    assert_eq!(
        api.call(trickle("t3", json!({"candidates": 5}))),
        err(Some(sid), Some("t3"), 467, "candidates is not an array")
    );
    assert_eq!(
        api.call(trickle("t4", json!({"candidate": {"completed": true}}))),
        ack("t4")
    );
    assert_eq!(
        api.call(trickle("t5", json!({"candidate": null}))),
        ack("t5")
    );
}

fn teardown_requests(api: &mut dyn Api, sid: u64, hid: u64) {
    let req = |verb: &str, tx: &str, h: u64| json!({"janus":verb,"transaction":tx,"session_id":sid,"handle_id":h});
    let ok = |tx: &str| json!({"janus":"success","session_id":sid,"transaction":tx});
    // hangup: success, then exactly one hangup event for the PeerConnection.
    assert_eq!(api.call(req("hangup", "h1", hid)), ok("h1"));
    assert_eq!(
        api.event(sid),
        json!({"janus":"hangup","session_id":sid,"sender":hid,"reason":"Janus API"})
    );
    assert_eq!(api.call(req("hangup", "h2", hid)), ok("h2"));
    api.no_event(sid);
    // detach: success, then detached (and no hangup: the PeerConnection is gone already).
    assert_eq!(api.call(req("detach", "d1", hid)), ok("d1"));
    assert_eq!(
        api.event(sid),
        json!({"janus":"detached","session_id":sid,"sender":hid})
    );
    assert_eq!(
        api.call(req("detach", "d2", hid)),
        err(
            Some(sid),
            Some("d2"),
            459,
            &format!("No such handle {hid} in session {sid}")
        )
    );

    // The plugin ends a handle: detached.
    let h2 = attach(api, sid);
    let r = api.call(json!({"janus":"message","transaction":"e","session_id":sid,"handle_id":h2,"body":{"request":"end"}}));
    assert_eq!(r["janus"], "ack");
    assert_eq!(
        api.event(sid),
        json!({"janus":"detached","session_id":sid,"sender":h2})
    );

    // The plugin offers, the client answers, then the plugin closes the PeerConnection.
    let h3 = attach(api, sid);
    let msg = |tx: &str, body: Value| json!({"janus":"message","transaction":tx,"session_id":sid,"handle_id":h3,"body":body});
    assert_eq!(
        api.call(msg("o1", json!({"request":"offer"})))["janus"],
        "ack"
    );
    let ev = api.event(sid);
    assert_eq!(ev["jsep"], json!({"type":"offer","sdp":SDP}));
    let mut answer = msg("o2", json!({"request":"x"}));
    answer["jsep"] = json!({"type":"answer","sdp":SDP});
    assert_eq!(api.call(answer)["janus"], "ack");
    assert_eq!(
        api.event(sid)["plugindata"]["data"],
        json!({"result":"jsep"})
    );
    assert_eq!(
        api.call(msg("o3", json!({"request":"close_pc"})))["janus"],
        "ack"
    );
    assert_eq!(
        api.event(sid),
        json!({"janus":"hangup","session_id":sid,"sender":h3,"reason":"Close PC"})
    );

    // claim of one's own session, then destroy: no events for the handles left.
    let _h4 = attach(api, sid);
    assert_eq!(
        api.call(json!({"janus":"claim","transaction":"cl","session_id":sid})),
        ok("cl")
    );
}

fn destroy(api: &mut dyn Api, sid: u64) {
    assert_eq!(
        api.call(json!({"janus":"destroy","transaction":"x","session_id":sid})),
        json!({"janus":"success","session_id":sid,"transaction":"x"})
    );
    assert_eq!(
        api.call(json!({"janus":"keepalive","transaction":"k","session_id":sid})),
        err(Some(sid), Some("k"), 458, &format!("No such session {sid}"))
    );
}

fn script(api: &mut dyn Api) {
    let sid = envelope_and_session_requests(api);
    let hid = attach_requests(api, sid);
    message_requests(api, sid, hid);
    jsep_requests(api, sid, hid);
    trickle_requests(api, sid, hid);
    teardown_requests(api, sid, hid);
    destroy(api, sid);
}

#[test]
fn every_request_over_http() {
    let mut c = test_config();
    c.http.long_poll_timeout_ms = 300;
    let (server, _log) = start(c);
    let mut api = HttpApi(common::Http::connect(server.ports.http.unwrap()));
    script(&mut api);
}

#[test]
fn every_request_over_websocket() {
    let (server, _log) = start(test_config());
    let mut api = WsApi(Ws::connect(server.ports.ws.unwrap(), "janus-protocol"));
    script(&mut api);
}

#[test]
fn indented_json_is_the_default_and_parses() {
    let mut c = test_config();
    c.general.json = portunus_ctrl::config::JsonStyle::Indented;
    let (server, _log) = start(c);
    let mut http = common::Http::connect(server.ports.http.unwrap());
    let r = http.post("/janus", &json!({"janus":"ping","transaction":"p"}));
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        "{\n   \"janus\": \"pong\",\n   \"transaction\": \"p\"\n}"
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
}

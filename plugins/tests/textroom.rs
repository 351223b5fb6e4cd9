//! TextRoom conformance: Janus API transcripts through the `ControlPlane`, data-channel
//! transcripts driven directly (the host does not route data channels yet), and every error
//! of textroom.md.

mod common;

use std::time::{Duration, SystemTime};

use common::{Direct, Host, sent};
use portunus_ctrl::HandleId;
use portunus_ctrl::media::HangupReason;
use portunus_ctrl::plugin::{MediaCommand, PeerEvent, PluginInput, PluginOutput};
use portunus_plugins::WallClock;
use portunus_plugins::textroom::{JsonFormat, TextRoom, TextRoomConfig};
use serde_json::{Value, json};

const PLUGIN: &str = "janus.plugin.textroom";
const DATE: &str = "2023-01-17T10:20:30+0000";

fn direct(config: TextRoomConfig) -> Direct<TextRoom> {
    let mut d = Direct::new(TextRoom::new(
        config,
        WallClock::new(
            std::time::Instant::now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_673_950_830),
        ),
        Some(7),
    ));
    // The clock anchor and `d.now` differ by nanoseconds; dates are to the second.
    d.now = std::time::Instant::now();
    for h in 1..=3 {
        d.attach(h);
    }
    d
}

fn compact() -> TextRoomConfig {
    TextRoomConfig {
        json: JsonFormat::Compact,
        ..TextRoomConfig::default()
    }
}

fn dc(d: &mut Direct<TextRoom>, h: u64, v: Value) -> Vec<(u64, Value)> {
    sent(&d.data(h, &v.to_string()))
}

fn join(d: &mut Direct<TextRoom>, h: u64, user: &str) -> Vec<(u64, Value)> {
    dc(
        d,
        h,
        json!({"textroom": "join", "transaction": "j", "room": 1234, "username": user}),
    )
}

// ---- Janus API -------------------------------------------------------------------------

#[test]
fn setup_offers_a_data_channel_and_ack_completes() {
    let mut h = Host::new();
    let t = h.attach(PLUGIN);
    let r = h.message(t, "s1", json!({"request": "setup"}), None);
    assert_eq!(
        r,
        json!({"janus": "ack", "session_id": h.session, "transaction": "s1"})
    );
    let sdp = "v=0\r\no=- 1673950830000000 1 IN IP4 127.0.0.1\r\ns=Janus TextRoom plugin\r\nt=0 0\r\n\
m=application 1 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 1.1.1.1\r\na=sctp-port:5000\r\n";
    assert_eq!(
        h.events(),
        vec![
            json!({"janus": "event", "session_id": h.session, "transaction": "s1",
            "sender": t, "plugindata": {"plugin": PLUGIN,
                "data": {"textroom": "event", "result": "ok"}},
            "jsep": {"type": "offer", "sdp": sdp}})
        ]
    );
    h.message(t, "s2", json!({"request": "setup"}), None);
    assert_eq!(
        h.events()[0]["plugindata"]["data"],
        json!({"textroom": "event", "error_code": 416, "error": "PeerConnection already setup"})
    );
    let answer = sdp.replace("s=Janus TextRoom plugin", "s=-");
    let r = h.message(
        t,
        "a1",
        json!({"request": "ack"}),
        Some(json!({"type": "answer", "sdp": answer})),
    );
    assert_eq!(r["janus"], "ack");
    let ev = h.events();
    assert_eq!(ev[0]["transaction"], "a1");
    assert_eq!(
        ev[0]["plugindata"]["data"],
        json!({"textroom": "event", "result": "ok"})
    );
    h.message(t, "r1", json!({"request": "restart"}), None);
    let ev = h.events();
    assert_eq!(
        ev[0]["plugindata"]["data"],
        json!({"textroom": "event", "result": "ok"})
    );
    assert!(ev[0]["jsep"]["sdp"].as_str().unwrap().contains(" 2 IN IP4"));
}

#[test]
fn restart_before_setup_is_416() {
    let mut h = Host::new();
    let t = h.attach(PLUGIN);
    h.message(t, "r", json!({"request": "restart"}), None);
    assert_eq!(
        h.events()[0]["plugindata"]["data"],
        json!({"textroom": "event", "error_code": 416, "error": "PeerConnection not setup"})
    );
}

#[test]
fn api_requests_answer_synchronously_with_api_wording() {
    let mut h = Host::new();
    let t = h.attach(PLUGIN);
    assert_eq!(
        h.sync(t, json!({"request": "list"})),
        json!({"textroom": "success", "list": [{"room": 1234, "description": "Demo Room",
            "pin_required": false, "num_participants": 0, "history": 0}]})
    );
    assert_eq!(
        h.sync(t, json!({"request": "exists", "room": 1234})),
        json!({"textroom": "success", "room": 1234, "exists": true})
    );
    assert_eq!(
        h.sync(t, json!({"request": "exists", "room": 1})),
        json!({"textroom": "success", "room": 1, "exists": false})
    );
    assert_eq!(
        h.sync(
            t,
            json!({"request": "create", "room": 42, "description": "d", "pin": "p",
            "is_private": true})
        ),
        json!({"textroom": "created", "room": 42, "permanent": false})
    );
    // Private rooms are not listed.
    assert_eq!(
        h.sync(t, json!({"request": "list"}))["list"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.sync(
            t,
            json!({"request": "edit", "room": 42, "new_description": "e",
            "new_is_private": false})
        ),
        json!({"textroom": "edited", "room": 42, "permanent": false})
    );
    assert_eq!(
        h.sync(t, json!({"request": "list"}))["list"][0],
        json!({"room": 42, "description": "e", "pin_required": true, "num_participants": 0,
            "history": 0})
    );
    assert_eq!(
        h.sync(t, json!({"request": "listparticipants", "room": 42})),
        json!({"room": 42, "participants": []})
    );
    assert_eq!(
        h.sync(
            t,
            json!({"request": "announcement", "room": 42, "text": "hi"})
        ),
        json!({"textroom": "success"})
    );
    assert_eq!(
        h.sync(
            t,
            json!({"request": "allowed", "room": 42, "action": "enable",
            "allowed": ["a", "b"]})
        ),
        json!({"textroom": "success", "room": 42, "allowed": ["a", "b"]})
    );
    assert_eq!(
        h.sync(
            t,
            json!({"request": "allowed", "room": 42, "action": "remove",
            "allowed": ["a"]})
        ),
        json!({"textroom": "success", "room": 42, "allowed": ["b"]})
    );
    assert_eq!(
        h.sync(
            t,
            json!({"request": "allowed", "room": 42, "action": "disable"})
        ),
        json!({"textroom": "success", "room": 42})
    );
    assert_eq!(
        h.sync(t, json!({"request": "destroy", "room": 42})),
        json!({"textroom": "destroyed", "room": 42, "permanent": false})
    );
    let created = h.sync(t, json!({"request": "create"}));
    assert_eq!(created["textroom"], "created");
    assert!(created["room"].as_u64().unwrap() > 0);
}

fn api_error(code: u16, reason: &str) -> Value {
    json!({"textroom": "error", "error_code": code, "error": reason})
}

#[test]
fn api_errors_have_codes_and_texts() {
    let mut h = Host::new();
    let t = h.attach(PLUGIN);
    let ev =
        |code: u16, reason: &str| json!({"textroom": "event", "error_code": code, "error": reason});
    let cases = [
        (json!({}), ev(413, "Missing mandatory element (request)")),
        (
            json!({"request": 5}),
            ev(414, "Invalid element type (request should be a string)"),
        ),
        (
            json!({"request": "join", "room": 1234}),
            ev(415, "Unknown request 'join'"),
        ),
        (
            json!({"request": "nope"}),
            ev(415, "Unknown request 'nope'"),
        ),
        (
            json!({"request": "exists"}),
            api_error(413, "Missing mandatory element (room)"),
        ),
        (
            json!({"request": "exists", "room": "x"}),
            api_error(
                414,
                "Invalid element type (room should be a positive integer)",
            ),
        ),
        (
            json!({"request": "listparticipants", "room": 9}),
            api_error(417, "No such room (9)"),
        ),
        (
            json!({"request": "create", "room": 1234}),
            api_error(418, "Room 1234 already exists"),
        ),
        (
            json!({"request": "create", "room": 5, "allowed": [1]}),
            api_error(414, "Invalid element in the allowed array (not a string)"),
        ),
        (
            json!({"request": "create", "room": 5, "permanent": true}),
            api_error(499, "No configuration file, can't create permanent room"),
        ),
        (
            json!({"request": "create", "history": -1}),
            api_error(
                414,
                "Invalid element type (history should be a positive integer)",
            ),
        ),
        (
            json!({"request": "destroy", "room": 1234}),
            api_error(413, "Missing mandatory element (secret)"),
        ),
        (
            json!({"request": "destroy", "room": 1234, "secret": "no"}),
            api_error(419, "Unauthorized (wrong secret)"),
        ),
        (
            json!({"request": "destroy", "room": 1234, "secret": 1}),
            api_error(414, "Invalid element type (secret should be a string)"),
        ),
        (
            json!({"request": "edit", "room": 1234, "secret": "x"}),
            api_error(419, "Unauthorized (wrong secret)"),
        ),
        (
            json!({"request": "announcement", "room": 1234, "secret": "adminpwd"}),
            api_error(413, "Missing mandatory element (text)"),
        ),
        (
            json!({"request": "kick", "room": 1234, "secret": "adminpwd", "username": "zed"}),
            api_error(423, "No such user zed in room 1234"),
        ),
        (
            json!({"request": "allowed", "room": 1234, "secret": "adminpwd", "action": "zap"}),
            api_error(414, "Unsupported action 'zap' (allowed)"),
        ),
        (
            json!({"request": "allowed", "room": 1234, "secret": "adminpwd", "action": "add"}),
            api_error(413, "Missing mandatory element (allowed)"),
        ),
        (
            json!({"request": "allowed", "room": 1234, "secret": "adminpwd"}),
            api_error(413, "Missing mandatory element (action)"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(h.sync(t, body.clone()), expected, "body {body}");
    }
}

#[test]
fn admin_key_guards_create_and_private_listing() {
    let mut h = Host::with(portunus_plugins::PluginsConfig {
        seed: Some(1),
        textroom: TextRoomConfig {
            admin_key: Some("k".into()),
            ..TextRoomConfig::default()
        },
        ..portunus_plugins::PluginsConfig::default()
    });
    let t = h.attach(PLUGIN);
    assert_eq!(
        h.sync(t, json!({"request": "create", "room": 7})),
        api_error(413, "Missing mandatory element (admin_key)")
    );
    assert_eq!(
        h.sync(t, json!({"request": "create", "room": 7, "admin_key": "x"})),
        api_error(419, "Unauthorized (wrong admin_key)")
    );
    h.sync(
        t,
        json!({"request": "create", "room": 7, "admin_key": "k", "is_private": true}),
    );
    assert_eq!(
        h.sync(t, json!({"request": "list"}))["list"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.sync(t, json!({"request": "list", "admin_key": "k"}))["list"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn admin_api_message_plugin_runs_room_requests() {
    let mut h = Host::new();
    let r = h.cp.handle_admin_request(
        h.now,
        json!({"janus": "message_plugin", "transaction": "m", "admin_secret": "janusoverlord",
            "plugin": PLUGIN, "request": {"request": "exists", "room": 1234}}),
    );
    assert_eq!(
        r["response"],
        json!({"textroom": "success", "room": 1234, "exists": true})
    );
}

// ---- Data channel ----------------------------------------------------------------------

#[test]
fn join_notifies_everyone_then_replies_with_the_others() {
    let mut d = direct(compact());
    assert_eq!(
        join(&mut d, 1, "alice"),
        vec![
            (
                1,
                json!({"textroom": "join", "room": 1234, "username": "alice"})
            ),
            (
                1,
                json!({"textroom": "success", "transaction": "j", "participants": []})
            ),
        ]
    );
    let out = dc(
        &mut d,
        2,
        json!({"textroom": "join", "transaction": "k", "room": 1234,
        "username": "bob", "display": "Bob"}),
    );
    let ev = json!({"textroom": "join", "room": 1234, "username": "bob", "display": "Bob"});
    assert_eq!(
        out,
        vec![
            (1, ev.clone()),
            (2, ev),
            (
                2,
                json!({"textroom": "success", "transaction": "k",
                "participants": [{"username": "alice"}]})
            ),
        ]
    );
    assert_eq!(
        dc(
            &mut d,
            1,
            json!({"textroom": "listparticipants", "transaction": "l", "room": 1234})
        ),
        vec![(
            1,
            json!({"transaction": "l", "room": 1234, "participants": [
            {"username": "alice"}, {"username": "bob", "display": "Bob"}]})
        )]
    );
}

#[test]
fn public_messages_reach_everyone_and_whispers_only_targets() {
    let mut d = direct(compact());
    join(&mut d, 1, "alice");
    join(&mut d, 2, "bob");
    join(&mut d, 3, "carol");
    let msg = json!({"textroom": "message", "room": 1234, "from": "alice", "date": DATE,
        "text": "hi"});
    assert_eq!(
        dc(
            &mut d,
            1,
            json!({"textroom": "message", "transaction": "m", "room": 1234, "text": "hi"})
        ),
        vec![
            (1, msg.clone()),
            (2, msg.clone()),
            (3, msg),
            (1, json!({"textroom": "success", "transaction": "m"}))
        ]
    );
    let w = json!({"textroom": "message", "room": 1234, "from": "alice", "date": DATE,
        "text": "psst", "whisper": true});
    assert_eq!(
        dc(
            &mut d,
            1,
            json!({"textroom": "message", "transaction": "w", "room": 1234,
            "text": "psst", "tos": ["bob", "zed"]})
        ),
        vec![
            (2, w.clone()),
            (
                1,
                json!({"textroom": "success", "transaction": "w",
                "sent": {"bob": true, "zed": false}})
            )
        ]
    );
    assert_eq!(
        dc(
            &mut d,
            1,
            json!({"textroom": "message", "transaction": "x", "room": 1234,
            "text": "psst", "to": "carol", "ack": false})
        ),
        vec![(3, w)]
    );
}

#[test]
fn leave_notifies_everyone_including_the_leaver() {
    let mut d = direct(compact());
    join(&mut d, 1, "alice");
    join(&mut d, 2, "bob");
    let ev = json!({"textroom": "leave", "room": 1234, "username": "bob"});
    assert_eq!(
        dc(
            &mut d,
            2,
            json!({"textroom": "leave", "transaction": "l", "room": 1234})
        ),
        vec![
            (1, ev.clone()),
            (2, ev),
            (2, json!({"textroom": "success", "transaction": "l"}))
        ]
    );
    assert_eq!(
        dc(
            &mut d,
            2,
            json!({"textroom": "leave", "transaction": "l", "room": 1234})
        ),
        vec![(
            2,
            json!({"textroom": "error", "error_code": 422, "error": "Not in room 1234",
            "transaction": "l"})
        )]
    );
}

#[test]
fn hangup_and_detach_leave_every_room() {
    let mut d = direct(compact());
    join(&mut d, 1, "alice");
    join(&mut d, 2, "bob");
    let out = sent(&d.peer(
        2,
        PeerEvent::Hangup {
            reason: HangupReason::IceFailed,
        },
    ));
    assert_eq!(
        out,
        vec![(
            1,
            json!({"textroom": "leave", "room": 1234, "username": "bob"})
        )]
    );
    join(&mut d, 3, "carol");
    let out = sent(&d.input(PluginInput::Detach {
        handle: HandleId(3),
    }));
    assert_eq!(
        out,
        vec![(
            1,
            json!({"textroom": "leave", "room": 1234, "username": "carol"})
        )]
    );
}

#[test]
fn kick_and_destroy_over_the_data_channel() {
    let mut d = direct(compact());
    join(&mut d, 1, "alice");
    join(&mut d, 2, "bob");
    let kicked = json!({"textroom": "kicked", "room": 1234, "username": "bob"});
    assert_eq!(
        dc(
            &mut d,
            1,
            json!({"textroom": "kick", "transaction": "k", "room": 1234,
            "secret": "adminpwd", "username": "bob"})
        ),
        vec![
            (1, kicked.clone()),
            (2, kicked),
            (1, json!({"textbridge": "success", "transaction": "k"}))
        ]
    );
    assert_eq!(
        dc(
            &mut d,
            2,
            json!({"textroom": "message", "transaction": "m", "room": 1234, "text": "x"})
        ),
        vec![(
            2,
            json!({"textroom": "error", "error_code": 422, "error": "Not in room 1234",
            "transaction": "m"})
        )]
    );
    assert_eq!(
        dc(
            &mut d,
            1,
            json!({"textroom": "destroy", "transaction": "d", "room": 1234,
            "secret": "adminpwd"})
        ),
        vec![
            (1, json!({"textroom": "destroyed", "room": 1234})),
            (
                1,
                json!({"textroom": "success", "transaction": "d", "room": 1234,
                "permanent": false})
            )
        ]
    );
    assert_eq!(
        dc(
            &mut d,
            1,
            json!({"textroom": "create", "transaction": "c", "room": 9})
        ),
        vec![(
            1,
            json!({"textroom": "success", "transaction": "c", "room": 9, "permanent": false})
        )]
    );
}

#[test]
fn announcement_reaches_everyone() {
    let mut d = direct(compact());
    join(&mut d, 1, "alice");
    let a = json!({"textroom": "announcement", "room": 1234, "date": DATE, "text": "news"});
    assert_eq!(
        dc(
            &mut d,
            2,
            json!({"textroom": "announcement", "transaction": "a", "room": 1234,
            "secret": "adminpwd", "text": "news"})
        ),
        vec![
            (1, a),
            (2, json!({"textroom": "success", "transaction": "a"}))
        ]
    );
}

#[test]
fn history_is_replayed_after_the_join_reply_unless_refused() {
    let mut d = direct(compact());
    dc(
        &mut d,
        1,
        json!({"textroom": "create", "transaction": "c", "room": 5, "history": 2}),
    );
    dc(
        &mut d,
        1,
        json!({"textroom": "join", "transaction": "j", "room": 5, "username": "a"}),
    );
    for text in ["one", "two", "three"] {
        dc(
            &mut d,
            1,
            json!({"textroom": "message", "transaction": "m", "room": 5, "text": text}),
        );
    }
    let out = dc(
        &mut d,
        2,
        json!({"textroom": "join", "transaction": "j", "room": 5,
        "username": "b"}),
    );
    let texts: Vec<&str> = out
        .iter()
        .filter(|(h, v)| *h == 2 && v["textroom"] == "message")
        .map(|(_, v)| v["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["two", "three"]);
    assert_eq!(out.last().unwrap().1["text"], "three");
    let out = dc(
        &mut d,
        3,
        json!({"textroom": "join", "transaction": "j", "room": 5,
        "username": "c", "history": false}),
    );
    assert!(out.iter().all(|(_, v)| v["textroom"] != "message"));
}

fn dc_err(code: u16, reason: &str, tx: &str) -> Value {
    json!({"textroom": "error", "error_code": code, "error": reason, "transaction": tx})
}

#[test]
fn data_channel_errors_have_codes_and_texts() {
    let mut d = direct(compact());
    dc(
        &mut d,
        1,
        json!({"textroom": "create", "transaction": "c", "room": 7, "pin": "p"}),
    );
    dc(
        &mut d,
        1,
        json!({"textroom": "allowed", "transaction": "c", "room": 7,
        "action": "enable", "allowed": ["tok"]}),
    );
    join(&mut d, 1, "alice");
    let cases = [
        (
            json!({"textroom": "join", "room": 1234}),
            dc_err(413, "Missing mandatory element (transaction)", ""),
        ),
        (
            json!({"transaction": "t"}),
            dc_err(413, "Missing mandatory element (textroom)", "t"),
        ),
        (
            json!({"transaction": 1, "textroom": "list"}),
            json!({"textroom": "error", "error_code": 414,
            "error": "Invalid element type (transaction should be a string)"}),
        ),
        (
            json!({"transaction": "t", "textroom": "fly"}),
            dc_err(415, "Unsupported request fly", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "setup"}),
            dc_err(415, "Unsupported request setup", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "join", "room": 1234}),
            dc_err(413, "Missing mandatory element (username)", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "join", "room": 3, "username": "x"}),
            dc_err(417, "No such room (3)", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "join", "room": 1234, "username": "alice"}),
            dc_err(421, "Already in room 1234", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "join", "room": 7, "username": "x"}),
            dc_err(413, "Missing mandatory element (pin)", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "join", "room": 7, "username": "x", "pin": "q"}),
            dc_err(419, "Unauthorized (wrong pin)", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "join", "room": 7, "username": "x", "pin": "p"}),
            dc_err(419, "Unauthorized (not in the allowed list)", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "message", "room": 1234, "text": "x", "to": "a",
            "tos": []}),
            dc_err(414, "Both to and tos array provided", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "message", "room": 1234}),
            dc_err(413, "Missing mandatory element (text)", "t"),
        ),
        (
            json!({"transaction": "t", "textroom": "kick", "room": 1234, "username": "x"}),
            dc_err(413, "Missing mandatory element (secret)", "t"),
        ),
    ];
    for (body, mut expected) in cases {
        if expected["transaction"] == "" {
            expected.as_object_mut().unwrap().remove("transaction");
        }
        assert_eq!(
            dc(&mut d, 1, body.clone()),
            vec![(1, expected)],
            "body {body}"
        );
    }
    // Another user with the same name in the same room.
    assert_eq!(
        join(&mut d, 2, "alice"),
        vec![(2, dc_err(420, "Username already taken", "j"))]
    );
    // A token from the list opens the room.
    let out = dc(
        &mut d,
        2,
        json!({"transaction": "t", "textroom": "join", "room": 7,
        "username": "x", "pin": "p", "token": "tok"}),
    );
    assert_eq!(out.last().unwrap().1["textroom"], "success");
    assert_eq!(
        sent(&d.data(1, "not json")),
        vec![(
            1,
            json!({"textroom": "error", "error_code": 412,
            "error": "JSON error: on line 1: expected ident at line 1 column 2"})
        )]
    );
    assert_eq!(
        sent(&d.data(1, "[1]")),
        vec![(
            1,
            json!({"textroom": "error", "error_code": 412, "error": "JSON error: not an object"})
        )]
    );
}

#[test]
fn replies_are_indented_with_three_spaces_by_default() {
    let mut d = direct(TextRoomConfig::default());
    let out = d.data(1, r#"{"textroom":"exists","transaction":"e","room":1234}"#);
    assert_eq!(
        out,
        vec![PluginOutput::Media(MediaCommand::SendData {
            handle: HandleId(1),
            label: None,
            binary: false,
            data: b"{\n   \"textroom\": \"success\",\n   \"transaction\": \"e\",\n   \"room\": 1234,\n   \"exists\": true\n}".to_vec(),
        })]
    );
    let mut d = direct(TextRoomConfig {
        json: JsonFormat::Plain,
        ..TextRoomConfig::default()
    });
    let out = sent(&d.data(1, r#"{"textroom":"exists","transaction":"e","room":1}"#));
    assert_eq!(out[0].1["exists"], false);
    let raw = d.data(1, r#"{"textroom":"exists","transaction":"e","room":1}"#);
    let Some(PluginOutput::Media(MediaCommand::SendData { data, .. })) = raw.first() else {
        panic!()
    };
    assert_eq!(
        std::str::from_utf8(data).unwrap(),
        r#"{"textroom": "success", "transaction": "e", "room": 1, "exists": false}"#
    );
}

#[test]
fn binary_data_is_ignored() {
    let mut d = direct(compact());
    let out = d.input(PluginInput::Data {
        handle: HandleId(1),
        label: None,
        binary: true,
        data: b"{}".to_vec(),
    });
    assert!(out.is_empty());
}

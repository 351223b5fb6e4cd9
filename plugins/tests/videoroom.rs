//! VideoRoom conformance (first cut): management transcripts, publisher and subscriber flows
//! with their events and forwarding intents, and the error codes of the implemented requests.

mod common;

use std::time::{Instant, SystemTime};

use common::{Direct, Host, OFFER, media, plugin_events};
use portunus_ctrl::HandleId;
use portunus_ctrl::media::HangupReason;
use portunus_ctrl::plugin::{Jsep, JsepType, LayerPrefs, MediaCommand, PeerEvent, PluginOutput};
use portunus_plugins::WallClock;
use portunus_plugins::videoroom::{VideoRoom, VideoRoomConfig};
use serde_json::{Value, json};

const PLUGIN: &str = "janus.plugin.videoroom";

fn err(code: u16, reason: &str) -> Value {
    json!({"videoroom": "event", "error_code": code, "error": reason})
}

fn direct() -> Direct<VideoRoom> {
    let now = Instant::now();
    let mut d = Direct::new(VideoRoom::new(
        VideoRoomConfig::default(),
        WallClock::new(now, SystemTime::UNIX_EPOCH),
        Some(3),
    ));
    d.now = now;
    for h in 1..=4 {
        d.attach(h);
    }
    d
}

/// The data of the single event in `out`.
fn event(out: &[PluginOutput]) -> Value {
    let ev = plugin_events(out);
    assert_eq!(ev.len(), 1, "{out:?}");
    ev[0].1.clone()
}

fn jsep_of(out: &[PluginOutput]) -> Option<Jsep> {
    out.iter().find_map(|o| match o {
        PluginOutput::Event { jsep, .. } => jsep.clone(),
        _ => None,
    })
}

/// Handle 1 joins as publisher `id` and publishes OFFER; returns the events.
fn publish(d: &mut Direct<VideoRoom>, h: u64, id: u64) -> Vec<PluginOutput> {
    d.message(
        h,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": id,
        "display": format!("user{id}")}),
        None,
    );
    let out = d.message(
        h,
        json!({"request": "publish", "descriptions": [{"mid": "1", "description": "cam"}]}),
        Some(Jsep::new(JsepType::Offer, OFFER)),
    );
    d.peer(h, PeerEvent::WebrtcUp);
    out
}

#[test]
fn management_requests_answer_synchronously() {
    let mut h = Host::new();
    let v = h.attach(PLUGIN);
    assert_eq!(
        h.sync(v, json!({"request": "exists", "room": 1234})),
        json!({"videoroom": "success", "room": 1234, "exists": true})
    );
    let list = h.sync(v, json!({"request": "list"}));
    assert_eq!(list["list"][0]["room"], 1234);
    assert_eq!(list["list"][0]["description"], "Demo Room");
    assert_eq!(list["list"][0]["max_publishers"], 6);
    assert_eq!(list["list"][0]["bitrate"], 128000);
    assert_eq!(list["list"][0]["audiocodec"], "opus");
    assert_eq!(list["list"][1]["videocodec"], "vp9");
    assert_eq!(list["list"][1]["video_svc"], true);
    assert_eq!(
        h.sync(
            v,
            json!({"request": "create", "room": 7, "videocodec": "vp9,h264",
            "bitrate": 1000, "secret": "s"})
        ),
        json!({"videoroom": "created", "room": 7, "permanent": false})
    );
    let list = h.sync(v, json!({"request": "list"}));
    assert_eq!(list["list"][0]["videocodec"], "vp9,h264");
    assert_eq!(list["list"][0]["bitrate"], 64000);
    assert_eq!(
        h.sync(
            v,
            json!({"request": "edit", "room": 7, "secret": "s", "new_description": "x"})
        ),
        json!({"videoroom": "edited", "room": 7, "permanent": false})
    );
    assert_eq!(
        h.sync(
            v,
            json!({"request": "allowed", "room": 7, "secret": "s", "action": "add",
            "allowed": ["t"]})
        ),
        json!({"videoroom": "success", "room": 7, "allowed": ["t"]})
    );
    assert_eq!(
        h.sync(v, json!({"request": "listparticipants", "room": 7})),
        json!({"videoroom": "participants", "room": 7, "participants": []})
    );
    assert_eq!(
        h.sync(v, json!({"request": "destroy", "room": 7, "secret": "s"})),
        json!({"videoroom": "destroyed", "room": 7, "permanent": false})
    );
}

#[test]
fn sync_errors_have_codes_and_texts() {
    let mut h = Host::new();
    let v = h.attach(PLUGIN);
    let cases = [
        (json!({}), err(429, "Missing mandatory element (request)")),
        (json!({"request": "fly"}), err(423, "Unknown request 'fly'")),
        (
            json!({"request": "exists"}),
            err(429, "Missing mandatory element (room)"),
        ),
        (
            json!({"request": "listparticipants", "room": 1}),
            err(426, "No such room (1)"),
        ),
        (
            json!({"request": "create", "room": 1234}),
            err(427, "Room 1234 already exists"),
        ),
        (
            json!({"request": "create", "room": 9, "videocodec": "opus"}),
            err(
                430,
                "Invalid element (videocodec can only be or contain vp8, vp9, av1, h264 or h265)",
            ),
        ),
        (
            json!({"request": "destroy", "room": 1234}),
            err(429, "Missing mandatory element (secret)"),
        ),
        (
            json!({"request": "destroy", "room": 1234, "secret": "x"}),
            err(433, "Unauthorized (wrong secret)"),
        ),
        (
            json!({"request": "kick", "room": 1234, "secret": "adminpwd", "id": 5}),
            err(428, "No such user 5 in room 1234"),
        ),
        (
            json!({"request": "allowed", "room": 1234, "secret": "adminpwd", "action": "x"}),
            err(430, "Unsupported action 'x' (allowed)"),
        ),
        (
            json!({"request": "allowed", "room": 1234, "secret": "adminpwd", "action": "add",
            "allowed": [1]}),
            err(430, "Invalid element in the allowed array (not a string)"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(h.sync(v, body.clone()), expected, "body {body}");
    }
}

#[test]
fn publisher_join_is_async_and_returns_joined() {
    let mut h = Host::new();
    let v = h.attach(PLUGIN);
    let r = h.message(
        v,
        "j",
        json!({"request": "join", "ptype": "publisher", "room": 1234,
        "id": 5555, "display": "alice"}),
        None,
    );
    assert_eq!(
        r,
        json!({"janus": "ack", "session_id": h.session, "transaction": "j"})
    );
    let ev = h.events();
    let data = &ev[0]["plugindata"]["data"];
    assert_eq!(ev[0]["transaction"], "j");
    assert!(data["private_id"].as_u64().unwrap() > 0);
    let mut data = data.clone();
    data.as_object_mut().unwrap().remove("private_id");
    assert_eq!(
        data,
        json!({"videoroom": "joined", "room": 1234, "description": "Demo Room", "id": 5555,
            "publishers": []})
    );
}

#[test]
fn publish_answers_and_announces_the_feed_at_webrtcup() {
    let mut d = direct();
    d.message(
        2,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 2}),
        None,
    );
    let out = publish(&mut d, 1, 1);
    let streams = json!([
        {"type": "audio", "mindex": 0, "mid": "0", "codec": "opus", "fec": true},
        {"type": "video", "mindex": 1, "mid": "1", "codec": "vp8", "description": "cam"},
        {"type": "data", "mindex": 2, "mid": "2"}]);
    assert_eq!(
        event(&out),
        json!({"videoroom": "event", "room": 1234, "configured": "ok", "audio_codec": "opus",
            "video_codec": "vp8", "streams": streams})
    );
    let answer = jsep_of(&out).expect("answer");
    assert!(
        answer.sdp.contains("s=VideoRoom 1234\r\n"),
        "{}",
        answer.sdp
    );
    assert!(answer.sdp.contains("a=recvonly\r\n"));
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetBitrateCap {
            handle: HandleId(1),
            bitrate: 128000
        }]
    );
    // The other participant heard about the feed when it came up.
    let out = d.message(
        3,
        json!({"request": "join", "ptype": "publisher", "room": 1234}),
        None,
    );
    assert_eq!(event(&out)["publishers"][0]["id"], 1);
    assert_eq!(event(&out)["publishers"][0]["display"], "user1");
}

#[test]
fn other_participants_get_publishers_unpublished_and_leaving() {
    let mut d = direct();
    d.message(
        2,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 2}),
        None,
    );
    d.message(
        1,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 1}),
        None,
    );
    d.message(
        1,
        json!({"request": "configure"}),
        Some(Jsep::new(JsepType::Offer, OFFER)),
    );
    let out = d.peer(1, PeerEvent::WebrtcUp);
    let ev = plugin_events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].1["publishers"][0]["id"], 1);
    assert!(matches!(
        &out[0],
        PluginOutput::Event {
            handle: HandleId(2),
            ..
        }
    ));
    let out = d.message(1, json!({"request": "unpublish"}), None);
    let evs = plugin_events(&out);
    assert_eq!(
        evs[0],
        (
            None,
            json!({"videoroom": "event", "room": 1234, "unpublished": 1})
        )
    );
    assert_eq!(
        evs[1],
        (
            Some("t".into()),
            json!({"videoroom": "event", "room": 1234, "unpublished": "ok"})
        )
    );
    assert!(out.contains(&PluginOutput::ClosePeerConnection {
        handle: HandleId(1)
    }));
    assert_eq!(
        event(&d.message(1, json!({"request": "unpublish"}), None)),
        err(435, "Can't unpublish, not published")
    );
    let out = d.message(1, json!({"request": "leave"}), None);
    let evs = plugin_events(&out);
    assert_eq!(
        evs[0],
        (
            None,
            json!({"videoroom": "event", "room": 1234, "leaving": 1})
        )
    );
    assert_eq!(
        evs[1].1,
        json!({"videoroom": "event", "room": 1234, "leaving": "ok"})
    );
}

#[test]
fn subscriber_gets_an_offer_and_forwards_at_webrtcup() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    let out = d.message(
        3,
        json!({"request": "join", "ptype": "subscriber", "room": 1234,
        "streams": [{"feed": 1, "mid": "1", "crossrefid": "x"}, {"feed": 1, "mid": "0"}]}),
        None,
    );
    assert_eq!(
        event(&out),
        json!({"videoroom": "attached", "room": 1234, "streams": [
            {"type": "video", "active": true, "mindex": 0, "mid": "0", "crossrefid": "x",
             "ready": false, "send": true, "feed_id": 1, "feed_display": "user1",
             "feed_mid": "1", "feed_description": "cam", "codec": "vp8"},
            {"type": "audio", "active": true, "mindex": 1, "mid": "1", "ready": false,
             "send": true, "feed_id": 1, "feed_display": "user1", "feed_mid": "0",
             "codec": "opus"}]})
    );
    let offer = jsep_of(&out).expect("offer");
    assert_eq!(offer.kind, JsepType::Offer);
    assert!(
        offer.sdp.contains("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"),
        "{}",
        offer.sdp
    );
    assert!(offer.sdp.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    assert!(offer.sdp.contains("a=sendonly\r\n"));
    let fwd = |from_mid: &str, to_mid: &str| MediaCommand::Forward {
        from: HandleId(1),
        from_mid: from_mid.into(),
        to: HandleId(3),
        to_mid: to_mid.into(),
        layers: LayerPrefs::default(),
    };
    assert_eq!(
        event(&d.message(
            3,
            json!({"request": "start"}),
            Some(Jsep::new(JsepType::Answer, "v=0"))
        )),
        json!({"videoroom": "event", "room": 1234, "started": "ok"})
    );
    assert_eq!(
        media(&d.peer(3, PeerEvent::WebrtcUp)),
        vec![fwd("1", "0"), fwd("0", "1")]
    );
    let out = d.message(3, json!({"request": "pause"}), None);
    assert_eq!(
        event(&out),
        json!({"videoroom": "event", "room": 1234, "paused": "ok"})
    );
    assert_eq!(media(&out).len(), 2);
    let out = d.message(3, json!({"request": "start"}), None);
    assert!(media(&out).contains(&MediaCommand::SetSending {
        to: HandleId(3),
        to_mid: "0".into(),
        send: true
    }));
    // The publisher's PeerConnection goes away: its forwards are removed.
    let out = d.peer(
        1,
        PeerEvent::Hangup {
            reason: HangupReason::DtlsAlert,
        },
    );
    assert_eq!(
        media(&out),
        vec![
            MediaCommand::Unforward {
                to: HandleId(3),
                to_mid: "0".into()
            },
            MediaCommand::Unforward {
                to: HandleId(3),
                to_mid: "1".into()
            },
        ]
    );
    let out = d.message(3, json!({"request": "leave"}), None);
    assert_eq!(
        event(&out),
        json!({"videoroom": "event", "room": 1234, "left": "ok"})
    );
}

#[test]
fn legacy_feed_subscribes_to_every_stream_including_data() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    let out = d.message(
        3,
        json!({"request": "join", "ptype": "subscriber", "room": 1234,
        "feed": 1}),
        None,
    );
    let streams = event(&out)["streams"].clone();
    assert_eq!(streams.as_array().unwrap().len(), 3);
    assert_eq!(
        streams[2],
        json!({"type": "data", "active": true, "mindex": 2, "mid": "2", "ready": false,
            "send": true, "sources": 1, "source_ids": [1]})
    );
}

#[test]
fn async_errors_have_codes_and_texts() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    let cases: Vec<(u64, Value, Option<Jsep>, Value)> = vec![
        (
            2,
            json!({"request": "configure"}),
            None,
            err(424, "Invalid request on unconfigured participant"),
        ),
        (
            2,
            json!({"request": "join", "room": 1234}),
            None,
            err(429, "Missing mandatory element (ptype)"),
        ),
        (
            2,
            json!({"request": "join", "room": 1234, "ptype": "x"}),
            None,
            err(430, "Invalid element (ptype)"),
        ),
        (
            2,
            json!({"request": "join", "room": 9, "ptype": "publisher"}),
            None,
            err(426, "No such room (9)"),
        ),
        (
            2,
            json!({"request": "join", "room": 1234, "ptype": "publisher", "id": 1}),
            None,
            err(436, "User ID 1 already exists"),
        ),
        (
            2,
            json!({"request": "join", "room": 1234, "ptype": "subscriber", "streams": [{"feed": 8}]}),
            None,
            err(428, "No such feed (8)"),
        ),
        (
            2,
            json!({"request": "join", "room": 1234, "ptype": "subscriber", "streams": [{"feed": 1, "mid": "9"}]}),
            None,
            err(428, "No such mid '9' in feed (1)"),
        ),
        (
            2,
            json!({"request": "join", "room": 1234, "ptype": "subscriber"}),
            None,
            err(
                429,
                "At least one between 'streams' and 'feed' must be specified",
            ),
        ),
        (
            1,
            json!({"request": "join", "room": 1234, "ptype": "publisher"}),
            None,
            err(425, "Already in as a publisher on this handle"),
        ),
        (
            1,
            json!({"request": "publish"}),
            Some(Jsep::new(JsepType::Offer, OFFER)),
            err(434, "Can't publish, already published"),
        ),
        (
            1,
            json!({"request": "configure", "videocodec": "h264"}),
            None,
            err(430, "Video codec unavailable in this room"),
        ),
        (
            1,
            json!({"request": "configure", "descriptions": [{"mid": "1"}]}),
            None,
            err(429, "Missing mandatory element (description)"),
        ),
        (
            1,
            json!({"request": "switch"}),
            None,
            err(499, "Request 'switch' not supported by this server"),
        ),
    ];
    for (h, body, jsep, expected) in cases {
        assert_eq!(
            event(&d.message(h, body.clone(), jsep)),
            expected,
            "body {body}"
        );
    }
}

#[test]
fn require_pvtid_needs_a_publisher_private_id() {
    let mut d = direct();
    d.message(
        4,
        json!({"request": "create", "room": 77, "require_pvtid": true}),
        None,
    );
    d.message(
        1,
        json!({"request": "join", "ptype": "publisher", "room": 77, "id": 1}),
        None,
    );
    let out = d.message(
        1,
        json!({"request": "configure"}),
        Some(Jsep::new(JsepType::Offer, OFFER)),
    );
    assert_eq!(event(&out)["configured"], "ok");
    let out = d.message(
        2,
        json!({"request": "join", "ptype": "publisher", "room": 77, "id": 2}),
        None,
    );
    let pvt = event(&out)["private_id"].as_u64().unwrap();
    let sub = |pvt: u64| {
        json!({"request": "join", "ptype": "subscriber", "room": 77,
        "private_id": pvt, "streams": [{"feed": 1}]})
    };
    assert_eq!(
        event(&d.message(3, sub(pvt + 1), None)),
        err(433, "Unauthorized (this room requires a valid private_id)")
    );
    assert_eq!(
        event(&d.message(3, sub(pvt), None))["videoroom"],
        "attached"
    );
}

#[test]
fn kick_closes_the_peer_and_tells_everyone() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    d.message(
        2,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 2}),
        None,
    );
    let out = d.message(
        4,
        json!({"request": "kick", "room": 1234, "secret": "adminpwd", "id": 1}),
        None,
    );
    let evs = plugin_events(&out);
    assert_eq!(
        evs[0].1,
        json!({"videoroom": "event", "room": 1234, "leaving": "ok", "reason": "kicked"})
    );
    assert_eq!(
        evs[1].1,
        json!({"videoroom": "event", "room": 1234, "kicked": 1})
    );
    assert!(out.contains(&PluginOutput::ClosePeerConnection {
        handle: HandleId(1)
    }));
    assert!(matches!(out.last(), Some(PluginOutput::Reply { .. })));
    assert_eq!(
        event(&d.message(
            1,
            json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 1}),
            None
        )),
        err(433, "Unauthorized, you have been kicked")
    );
}

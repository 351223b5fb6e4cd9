//! VideoRoom multistream conformance: subscription changes (`subscribe`, `unsubscribe`,
//! `update`, `switch`, `configure`), `updating`/autoupdate offers, moderation, RTP
//! forwarders, talk detection, `notify_joining`, `fir_freq`, and the errors of each.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{Direct, Host, OFFER, media, plugin_events};
use portunus_ctrl::HandleId;
use portunus_ctrl::media::HangupReason;
use portunus_ctrl::plugin::{
    Jsep, JsepType, LayerPrefs, MediaCommand, PeerEvent, Plugin, PluginInput, PluginOutput,
};
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
    for h in 1..=5 {
        d.attach(h);
    }
    d
}

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

fn answer() -> Option<Jsep> {
    Some(Jsep::new(JsepType::Answer, "v=0"))
}

/// Handle `h` joins room 1234 as publisher `id` and publishes OFFER, PeerConnection up.
fn publish(d: &mut Direct<VideoRoom>, h: u64, id: u64) {
    d.message(
        h,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": id,
        "display": format!("user{id}")}),
        None,
    );
    d.message(
        h,
        json!({"request": "publish"}),
        Some(Jsep::new(JsepType::Offer, OFFER)),
    );
    d.peer(h, PeerEvent::WebrtcUp);
}

fn fwd(from: u64, from_mid: &str, to: u64, to_mid: &str) -> MediaCommand {
    MediaCommand::Forward {
        from: HandleId(from),
        from_mid: from_mid.into(),
        to: HandleId(to),
        to_mid: to_mid.into(),
        layers: LayerPrefs::default(),
    }
}

fn video_entry(mindex: u64, feed: u64) -> Value {
    json!({"type": "video", "active": true, "mindex": mindex, "mid": mindex.to_string(),
        "ready": false, "send": true, "feed_id": feed, "feed_display": format!("user{feed}"),
        "feed_mid": "1", "codec": "vp8"})
}

/// Subscriber 3 on feed 1's video, answered and up.
fn subscriber(d: &mut Direct<VideoRoom>) {
    d.message(
        3,
        json!({"request": "join", "ptype": "subscriber", "room": 1234,
        "streams": [{"feed": 1, "mid": "1"}]}),
        None,
    );
    d.message(3, json!({"request": "start"}), answer());
    assert_eq!(
        media(&d.peer(3, PeerEvent::WebrtcUp)),
        vec![fwd(1, "1", 3, "0")]
    );
}

#[test]
fn subscribe_and_unsubscribe_renegotiate_and_reuse_inactive_mlines() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    publish(&mut d, 2, 2);
    subscriber(&mut d);
    let out = d.message(
        3,
        json!({"request": "subscribe", "streams": [{"feed": 2, "mid": "1"}]}),
        None,
    );
    assert_eq!(
        event(&out),
        json!({"videoroom": "updated", "room": 1234,
            "streams": [video_entry(0, 1), video_entry(1, 2)]})
    );
    let offer = jsep_of(&out).expect("offer");
    assert_eq!(offer.kind, JsepType::Offer);
    assert_eq!(offer.sdp.matches("m=video").count(), 2);
    assert!(media(&out).is_empty(), "forwards wait for the answer");
    let out = d.message(3, json!({"request": "start"}), answer());
    assert_eq!(media(&out), vec![fwd(2, "1", 3, "1")]);
    // Unsubscribing leaves an inactive m-line.
    let out = d.message(
        3,
        json!({"request": "unsubscribe", "streams": [{"sub_mid": "0"}]}),
        None,
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::Unforward {
            to: HandleId(3),
            to_mid: "0".into()
        }]
    );
    assert_eq!(
        event(&out),
        json!({"videoroom": "updated", "room": 1234, "streams": [
            {"type": "video", "active": false, "mindex": 0, "mid": "0", "ready": false,
             "send": true},
            video_entry(1, 2)]})
    );
    assert!(jsep_of(&out).expect("offer").sdp.contains("a=inactive"));
    d.message(3, json!({"request": "start"}), answer());
    // A new video subscription takes the inactive m-line again.
    let out = d.message(
        3,
        json!({"request": "update", "subscribe": [{"feed": 1, "mid": "1"}],
            "unsubscribe": [{"feed": 2}]}),
        None,
    );
    assert_eq!(
        event(&out),
        json!({"videoroom": "updated", "room": 1234, "streams": [
            video_entry(0, 1),
            {"type": "video", "active": false, "mindex": 1, "mid": "1", "ready": false,
             "send": true}]})
    );
    // Nothing to change: a bare `updated`.
    let out = d.message(
        3,
        json!({"request": "update", "unsubscribe": [{"feed": 99}]}),
        None,
    );
    assert_eq!(event(&out), json!({"videoroom": "updated", "room": 1234}));
}

#[test]
fn changes_while_an_offer_is_out_are_offered_after_the_answer() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    publish(&mut d, 2, 2);
    d.message(
        3,
        json!({"request": "join", "ptype": "subscriber", "room": 1234,
        "streams": [{"feed": 1, "mid": "1"}]}),
        None,
    );
    let out = d.message(
        3,
        json!({"request": "subscribe", "streams": [{"feed": 2, "mid": "0"}]}),
        None,
    );
    assert_eq!(event(&out), json!({"videoroom": "updating", "room": 1234}));
    assert!(jsep_of(&out).is_none());
    let out = d.message(3, json!({"request": "start"}), answer());
    let evs = plugin_events(&out);
    assert_eq!(evs.len(), 2, "{out:?}");
    assert_eq!(
        evs[0],
        (
            Some("t".into()),
            json!({"videoroom": "event", "room": 1234, "started": "ok"})
        )
    );
    assert_eq!(evs[1].0, None);
    assert_eq!(evs[1].1["videoroom"], "updated");
    assert_eq!(evs[1].1["streams"][1]["type"], "audio");
    assert!(jsep_of(&out[1..]).is_some());
}

#[test]
fn autoupdate_reoffers_when_a_feed_goes_away() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    subscriber(&mut d);
    let out = d.peer(
        1,
        PeerEvent::Hangup {
            reason: HangupReason::DtlsAlert,
        },
    );
    let updated: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            PluginOutput::Event {
                handle: HandleId(3),
                transaction,
                data,
                jsep,
            } => Some((transaction.clone(), data.clone(), jsep.is_some())),
            _ => None,
        })
        .collect();
    assert_eq!(
        updated,
        vec![(
            None,
            json!({"videoroom": "updated", "room": 1234, "streams": [
                {"type": "video", "active": false, "mindex": 0, "mid": "0", "ready": false,
                 "send": true}]}),
            true
        )]
    );
    // Without autoupdate, no offer.
    let mut d = direct();
    publish(&mut d, 1, 1);
    d.message(
        3,
        json!({"request": "join", "ptype": "subscriber", "room": 1234, "autoupdate": false,
        "streams": [{"feed": 1}]}),
        None,
    );
    let out = d.message(1, json!({"request": "unpublish"}), None);
    assert!(!out.iter().any(|o| matches!(
        o,
        PluginOutput::Event {
            handle: HandleId(3),
            ..
        }
    )));
}

#[test]
fn switch_moves_a_subscription_to_another_feed_without_renegotiation() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    publish(&mut d, 2, 2);
    subscriber(&mut d);
    let out = d.message(
        3,
        json!({"request": "switch", "streams": [{"feed": 2, "mid": "1", "sub_mid": "0"}]}),
        None,
    );
    assert_eq!(media(&out), vec![fwd(2, "1", 3, "0")]);
    assert_eq!(
        event(&out),
        json!({"videoroom": "event", "switched": "ok", "room": 1234, "changes": 1,
            "streams": [video_entry(0, 2)]})
    );
    assert!(jsep_of(&out).is_none());
    // A source of another kind does not fit the m-line: no change.
    let out = d.message(
        3,
        json!({"request": "switch", "streams": [{"feed": 1, "mid": "0", "sub_mid": "0"}]}),
        None,
    );
    assert_eq!(event(&out)["changes"], 0);
}

#[test]
fn subscriber_configure_sets_layers_and_sending() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    subscriber(&mut d);
    let out = d.message(
        3,
        json!({"request": "configure", "mid": "0", "substream": 0, "temporal": 1,
            "fallback": 500000}),
        None,
    );
    assert_eq!(
        event(&out),
        json!({"videoroom": "event", "room": 1234, "configured": "ok"})
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetLayers {
            to: HandleId(3),
            to_mid: "0".into(),
            layers: LayerPrefs {
                substream: 0,
                temporal: 1,
                fallback_us: 500_000
            }
        }]
    );
    let out = d.message(
        3,
        json!({"request": "configure", "streams": [{"mid": "0", "send": false}]}),
        None,
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetSending {
            to: HandleId(3),
            to_mid: "0".into(),
            send: false
        }]
    );
    let out = d.message(3, json!({"request": "configure", "video": true}), None);
    assert_eq!(
        media(&out),
        vec![
            MediaCommand::SetSending {
                to: HandleId(3),
                to_mid: "0".into(),
                send: true
            },
            MediaCommand::RequestKeyframe {
                handle: HandleId(1),
                mid: Some("1".into())
            }
        ]
    );
    let out = d.message(3, json!({"request": "configure", "update": true}), None);
    assert_eq!(jsep_of(&out).expect("offer").kind, JsepType::Offer);
}

#[test]
fn subscription_errors_have_codes_and_texts() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    subscriber(&mut d);
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({"request": "subscribe"}),
            err(429, "Missing mandatory element (streams)"),
        ),
        (
            json!({"request": "subscribe", "streams": []}),
            err(430, "Empty subscription list"),
        ),
        (
            json!({"request": "subscribe", "streams": [{"feed": 9}]}),
            err(428, "No such feed (9)"),
        ),
        (
            json!({"request": "subscribe", "streams": [{"feed": 1, "mid": "7"}]}),
            err(428, "No such mid '7' in feed (1)"),
        ),
        (
            json!({"request": "subscribe", "streams": [{"feed": 1, "substream": 3}]}),
            err(
                430,
                "Invalid value (substream/spatial_layer should be 0, 1 or 2)",
            ),
        ),
        (
            json!({"request": "subscribe", "streams": [{"feed": 1, "temporal_layer": 5}]}),
            err(
                430,
                "Invalid value (temporal/temporal_layer should be 0, 1 or 2)",
            ),
        ),
        (
            json!({"request": "subscribe", "streams": [1]}),
            err(
                430,
                "Invalid element type (streams should be an array of objects)",
            ),
        ),
        (
            json!({"request": "unsubscribe", "streams": []}),
            err(430, "Empty unsubscription list"),
        ),
        (
            json!({"request": "unsubscribe", "streams": [{"sub_mid": 1}]}),
            err(430, "Invalid element type (sub_mid should be a string)"),
        ),
        (
            json!({"request": "update"}),
            err(
                429,
                "At least one of either 'subscribe' or 'unsubscribe' must be present",
            ),
        ),
        (
            json!({"request": "update", "subscribe": {}}),
            err(430, "Invalid element type (subscribe should be an array)"),
        ),
        (
            json!({"request": "switch", "streams": []}),
            err(430, "Empty switch list"),
        ),
        (
            json!({"request": "switch", "streams": [{"feed": 1, "mid": "1"}]}),
            err(429, "Missing mandatory element (sub_mid)"),
        ),
        (
            json!({"request": "switch", "streams": [{"feed": 1, "mid": "1", "sub_mid": "5"}]}),
            err(428, "No such mid '5' in subscription"),
        ),
        (
            json!({"request": "switch", "streams": [{"feed": 8, "mid": "1", "sub_mid": "0"}]}),
            err(428, "No such feed (8)"),
        ),
        (
            json!({"request": "switch", "streams": [{"feed": 1, "mid": "4", "sub_mid": "0"}]}),
            err(428, "No such mid '4' in feed (1)"),
        ),
        (
            json!({"request": "configure", "mid": "3"}),
            err(428, "No such mid '3' in subscription"),
        ),
        (
            json!({"request": "configure", "substream": 7}),
            err(
                430,
                "Invalid value (substream/spatial_layer should be 0, 1 or 2)",
            ),
        ),
        (
            json!({"request": "configure", "send": "yes"}),
            err(430, "Invalid element type (send should be a boolean)"),
        ),
        (
            json!({"request": "configure", "streams": [{"send": true}]}),
            err(429, "Missing mandatory element (mid)"),
        ),
    ];
    for (body, expected) in cases {
        let out = d.message(3, body.clone(), None);
        assert_eq!(event(&out), expected, "for {body}");
        assert!(media(&out).is_empty(), "an error changed media for {body}");
    }
}

#[test]
fn moderation_mutes_a_stream_for_every_subscriber() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    subscriber(&mut d);
    d.message(
        4,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 4}),
        None,
    );
    let out = d.message(
        5,
        json!({"request": "moderate", "room": 1234, "secret": "adminpwd", "id": 1,
            "mid": "1", "mute": true}),
        None,
    );
    let ev = json!({"videoroom": "event", "room": 1234, "id": 1, "mid": "1",
        "moderation": "muted"});
    let events: Vec<(u64, Value)> = out
        .iter()
        .filter_map(|o| match o {
            PluginOutput::Event { handle, data, .. } => Some((handle.0, data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(events, vec![(1, ev.clone()), (4, ev)]);
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetSending {
            to: HandleId(3),
            to_mid: "0".into(),
            send: false
        }]
    );
    assert!(out.contains(&PluginOutput::Reply {
        handle: HandleId(5),
        result: portunus_ctrl::plugin::MessageResult::Success(json!({"videoroom": "success"}))
    }));
    // Listed as moderated to joiners.
    let out = d.message(
        2,
        json!({"request": "join", "ptype": "publisher", "room": 1234}),
        None,
    );
    assert_eq!(
        event(&out)["publishers"][0]["streams"][1]["moderated"],
        true
    );
    let out = d.message(
        5,
        json!({"request": "moderate", "room": 1234, "secret": "adminpwd", "id": 1,
            "mid": "1", "mute": false}),
        None,
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetSending {
            to: HandleId(3),
            to_mid: "0".into(),
            send: true
        }]
    );
}

#[test]
fn publisher_configure_pauses_a_stream_for_its_subscribers() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    subscriber(&mut d);
    let out = d.message(
        1,
        json!({"request": "configure", "streams": [{"mid": "1", "send": false}]}),
        None,
    );
    assert_eq!(
        event(&out),
        json!({"videoroom": "event", "room": 1234, "configured": "ok"})
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetSending {
            to: HandleId(3),
            to_mid: "0".into(),
            send: false
        }]
    );
    let out = d.message(
        1,
        json!({"request": "configure", "mid": "1", "keyframe": true}),
        None,
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::RequestKeyframe {
            handle: HandleId(1),
            mid: Some("1".into())
        }]
    );
    assert_eq!(
        event(&d.message(
            1,
            json!({"request": "configure", "mid": "9", "send": true}),
            None
        )),
        err(428, "No such mid '9' published")
    );
}

fn sync(h: &mut Host, v: u64, body: Value) -> Value {
    h.sync(v, body)
}

#[test]
fn rtp_forwarders_transcript() {
    let mut h = Host::new();
    let v = h.attach(PLUGIN);
    let p = h.attach(PLUGIN);
    h.message(
        p,
        "j",
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 7, "display": "al"}),
        None,
    );
    h.message(
        p,
        "p",
        json!({"request": "publish"}),
        Some(json!({"type": "offer", "sdp": OFFER})),
    );
    h.events();
    let r = sync(
        &mut h,
        v,
        json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
            "publisher_id": 7, "host": "10.0.0.9",
            "streams": [{"mid": "1", "port": 5004, "pt": 96, "ssrc": 1234},
                        {"mid": "0", "port": 5002, "host": "10.0.0.8", "rtcp_port": 5003}]}),
    );
    let ids: Vec<u64> = r["forwarders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["stream_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|&i| i > 0 && i <= u64::from(u32::MAX)));
    let forwarders = json!([
        {"stream_id": ids[0], "type": "video", "host": "10.0.0.9", "port": 5004, "pt": 96,
         "ssrc": 1234},
        {"stream_id": ids[1], "type": "audio", "host": "10.0.0.8", "port": 5002,
         "remote_rtcp_port": 5003}]);
    assert_eq!(
        r,
        json!({"videoroom": "rtp_forward", "room": 1234, "publisher_id": 7,
            "forwarders": forwarders})
    );
    assert_eq!(
        sync(
            &mut h,
            v,
            json!({"request": "listforwarders", "room": 1234, "secret": "adminpwd"})
        ),
        json!({"videoroom": "forwarders", "room": 1234, "publishers": [
            {"publisher_id": 7, "display": "al", "forwarders": forwarders}]})
    );
    assert_eq!(
        sync(
            &mut h,
            v,
            json!({"request": "stop_rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7, "stream_id": ids[0]})
        ),
        json!({"videoroom": "stop_rtp_forward", "room": 1234, "publisher_id": 7,
            "stream_id": ids[0]})
    );
    let legacy = sync(
        &mut h,
        v,
        json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
            "publisher_id": 7, "host": "10.0.0.9", "audio_port": 6000}),
    );
    let id = legacy["rtp_stream"]["audio_stream_id"].clone();
    assert_eq!(
        legacy,
        json!({"videoroom": "rtp_forward", "room": 1234, "publisher_id": 7,
            "rtp_stream": {"host": "10.0.0.9", "audio_stream_id": id, "audio": 6000,
                "warning": "deprecated_api"}})
    );
    let cases = [
        (
            json!({"request": "rtp_forward", "room": 1234, "publisher_id": 7,
                "host": "h"}),
            err(429, "Missing mandatory element (secret)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "x",
                "publisher_id": 7, "host": "h"}),
            err(433, "Unauthorized (wrong secret)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7}),
            err(429, "Missing mandatory element (host)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 8, "host": "h"}),
            err(428, "No such publisher (8)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7, "host": "h", "host_family": "ipx"}),
            err(430, "Unsupported protocol family (ipx)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7, "host": "h", "streams": [{"mid": "5", "port": 1}]}),
            err(428, "No such mid '5' published"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7, "host": "h", "streams": [{"mid": "1"}]}),
            err(429, "Missing mandatory element (port)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7, "host": "h", "srtp_suite": 33, "srtp_crypto": "k"}),
            err(430, "Invalid SRTP suite (33)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 99, "publisher_id": 7, "host": "h"}),
            err(426, "No such room (99)"),
        ),
        (
            json!({"request": "stop_rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7, "stream_id": 1}),
            err(428, "No such stream (1)"),
        ),
        (
            json!({"request": "stop_rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 3, "stream_id": 1}),
            err(428, "No such publisher (3)"),
        ),
        (
            json!({"request": "stop_rtp_forward", "room": 1234, "secret": "adminpwd",
                "publisher_id": 7}),
            err(429, "Missing mandatory element (stream_id)"),
        ),
        (
            json!({"request": "listforwarders", "room": 1234}),
            err(429, "Missing mandatory element (secret)"),
        ),
        (
            json!({"request": "moderate", "room": 1234, "secret": "adminpwd", "id": 7,
                "mid": "1"}),
            err(429, "Missing mandatory element (mute)"),
        ),
        (
            json!({"request": "moderate", "room": 1234, "secret": "adminpwd", "id": 9,
                "mid": "1", "mute": true}),
            err(428, "No such user 9 in room 1234"),
        ),
        (
            json!({"request": "moderate", "room": 1234, "secret": "adminpwd", "id": 7,
                "mid": "8", "mute": true}),
            err(428, "No such mid '8' published"),
        ),
        (
            json!({"request": "moderate", "room": 1234, "secret": "no", "id": 7,
                "mid": "1", "mute": true}),
            err(433, "Unauthorized (wrong secret)"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(sync(&mut h, v, body.clone()), expected, "for {body}");
    }
}

#[test]
fn rtp_forward_intents_name_the_publisher_and_stop_when_it_leaves() {
    let mut d = direct();
    publish(&mut d, 1, 1);
    let out = d.message(
        5,
        json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd",
            "publisher_id": 1, "host": "h", "srtp_suite": 80, "srtp_crypto": "a2V5",
            "streams": [{"mid": "1", "port": 5004}]}),
        None,
    );
    let [
        MediaCommand::RtpForward {
            id,
            from,
            mid,
            host,
            port,
            srtp,
            ..
        },
    ] = &media(&out)[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (from, mid.as_str(), host.as_str(), *port, srtp.clone()),
        (&HandleId(1), "1", "h", 5004, Some((80, "a2V5".to_owned())))
    );
    let id = *id;
    let out = d.message(1, json!({"request": "leave"}), None);
    assert!(media(&out).contains(&MediaCommand::StopRtpForward { id }));
}

#[test]
fn talk_detection_announces_talking_and_stopped_talking() {
    let mut d = direct();
    d.message(
        5,
        json!({"request": "create", "room": 9, "audiolevel_event": true,
            "audio_active_packets": 10, "audio_level_average": 30}),
        None,
    );
    d.message(
        1,
        json!({"request": "join", "ptype": "publisher", "room": 9, "id": 1}),
        None,
    );
    d.message(
        1,
        json!({"request": "publish"}),
        Some(Jsep::new(JsepType::Offer, OFFER)),
    );
    let level = |d: &mut Direct<VideoRoom>, packets: u32, sum: u32| {
        d.input(PluginInput::AudioLevel {
            handle: HandleId(1),
            mid: "0".into(),
            packets,
            level_sum: sum,
        })
    };
    assert!(
        level(&mut d, 5, 50).is_empty(),
        "half a window decides nothing"
    );
    let out = level(&mut d, 5, 55);
    assert_eq!(
        event(&out),
        json!({"videoroom": "talking", "room": 9, "id": 1, "mindex": 0, "mid": "0",
            "audio-level-dBov-avg": 10.5})
    );
    assert!(level(&mut d, 10, 100).is_empty(), "still talking: no event");
    let out = level(&mut d, 10, 700);
    assert_eq!(
        event(&out),
        json!({"videoroom": "stopped-talking", "room": 9, "id": 1, "mindex": 0, "mid": "0",
            "audio-level-dBov-avg": 70.0})
    );
    let list = d.message(5, json!({"request": "list"}), None);
    let PluginOutput::Reply {
        result: portunus_ctrl::plugin::MessageResult::Success(list),
        ..
    } = &list[0]
    else {
        panic!()
    };
    let room9 = list["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room"] == 9)
        .unwrap();
    assert_eq!(room9["audio_active_packets"], 10);
    assert_eq!(room9["audio_level_average"], 30);
}

#[test]
fn notify_joining_sends_joining_and_attendees() {
    let mut d = direct();
    d.message(
        5,
        json!({"request": "create", "room": 9, "notify_joining": true}),
        None,
    );
    d.message(
        1,
        json!({"request": "join", "ptype": "publisher", "room": 9, "id": 1, "display": "a"}),
        None,
    );
    let out = d.message(
        2,
        json!({"request": "join", "ptype": "publisher", "room": 9, "id": 2}),
        None,
    );
    let evs = plugin_events(&out);
    assert_eq!(
        evs[0],
        (
            None,
            json!({"videoroom": "event", "room": 9, "joining": {"id": 2}})
        )
    );
    assert_eq!(evs[1].1["attendees"], json!([{"id": 1, "display": "a"}]));
}

#[test]
fn fir_freq_requests_keyframes_periodically() {
    let mut d = direct();
    assert_eq!(d.plugin.poll_timeout(), None);
    publish(&mut d, 1, 1);
    let due = d.plugin.poll_timeout().expect("timer");
    assert_eq!(due, d.now + Duration::from_secs(10));
    d.now = due;
    assert_eq!(
        media(&d.input(PluginInput::Timeout)),
        vec![MediaCommand::RequestKeyframe {
            handle: HandleId(1),
            mid: None
        }]
    );
    assert_eq!(d.plugin.poll_timeout(), Some(due + Duration::from_secs(10)));
    d.message(1, json!({"request": "unpublish"}), None);
    assert_eq!(d.plugin.poll_timeout(), None);
}

#[test]
fn simulcast_publishers_are_described_with_layers() {
    let mut d = direct();
    let offer = OFFER.replace(
        "a=rtpmap:96 VP8/90000\r\n",
        "a=rtpmap:96 VP8/90000\r\na=rid:h send\r\na=rid:l send\r\na=simulcast:send h;l\r\n",
    );
    d.message(
        1,
        json!({"request": "join", "ptype": "publisher", "room": 1234, "id": 1}),
        None,
    );
    let out = d.message(
        1,
        json!({"request": "publish"}),
        Some(Jsep::new(JsepType::Offer, offer)),
    );
    assert_eq!(event(&out)["streams"][1]["simulcast"], true);
    d.peer(1, PeerEvent::WebrtcUp);
    let out = d.message(
        3,
        json!({"request": "join", "ptype": "subscriber", "room": 1234,
        "streams": [{"feed": 1, "mid": "1", "substream": 1}]}),
        None,
    );
    assert_eq!(
        event(&out)["streams"][0]["simulcast"],
        json!({"substream": -1, "substream-target": 1, "temporal-layer": -1,
            "temporal-layer-target": 2})
    );
}

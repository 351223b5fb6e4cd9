//! EchoTest conformance: request → ack/event transcripts through the `ControlPlane`, every
//! error of echotest.md, and the media intents and data-channel echo driven directly.

mod common;

use common::{Direct, Host, OFFER, media, plugin_events};
use portunus_ctrl::HandleId;
use portunus_ctrl::media::{HangupReason, MediaKind};
use portunus_ctrl::plugin::{
    Jsep, JsepType, LayerPrefs, MediaCommand, PeerEvent, PluginInput, PluginOutput,
};
use portunus_plugins::echotest::EchoTest;
use serde_json::{Value, json};

const PLUGIN: &str = "janus.plugin.echotest";

const ANSWER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
c=IN IP4 127.0.0.1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 goog-remb\r\n\
a=rtcp-fb:96 transport-cc\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n";

fn offer() -> Jsep {
    Jsep::new(JsepType::Offer, OFFER)
}

#[test]
fn offer_gets_ack_with_hint_then_ok_event_with_answer() {
    let mut h = Host::new();
    let e = h.attach(PLUGIN);
    let r = h.message(
        e,
        "t1",
        json!({"audio": true, "video": true}),
        Some(json!({"type": "offer", "sdp": OFFER})),
    );
    assert_eq!(
        r,
        json!({"janus": "ack", "session_id": h.session, "transaction": "t1",
            "hint": "I'm taking my time!"})
    );
    assert_eq!(
        h.events(),
        vec![
            json!({"janus": "event", "session_id": h.session, "transaction": "t1",
            "sender": e, "plugindata": {"plugin": PLUGIN,
                "data": {"echotest": "event", "result": "ok"}},
            "jsep": {"type": "answer", "sdp": ANSWER}})
        ]
    );
}

#[test]
fn e2ee_offer_is_mirrored_in_the_answer() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    let mut j = offer();
    j.e2ee = true;
    let out = e.message(1, json!({}), Some(j));
    let jsep = out.iter().find_map(|o| match o {
        PluginOutput::Event { jsep: Some(j), .. } => Some(j.clone()),
        _ => None,
    });
    assert!(jsep.expect("answer").e2ee);
}

#[test]
fn videocodec_forces_the_answer_codec() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    let out = e.message(1, json!({"videocodec": "h264"}), Some(offer()));
    let Some(PluginOutput::Event { jsep: Some(j), .. }) = out.get(1) else {
        panic!("{out:?}")
    };
    assert!(
        j.sdp.contains("m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"),
        "{}",
        j.sdp
    );
}

fn error_event(body: Value) -> Value {
    let mut h = Host::new();
    let e = h.attach(PLUGIN);
    let r = h.message(e, "x", body, None);
    assert_eq!(r["janus"], "ack");
    let ev = h.events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["transaction"], "x");
    assert!(ev[0].get("jsep").is_none());
    ev[0]["plugindata"]["data"].clone()
}

fn err(code: u16, reason: &str) -> Value {
    json!({"echotest": "event", "error_code": code, "error": reason})
}

#[test]
fn every_error_of_the_spec_has_its_code_and_text() {
    let cases = [
        (
            json!({"audio": 1}),
            "Invalid element type (audio should be a boolean)",
        ),
        (
            json!({"video": "yes"}),
            "Invalid element type (video should be a boolean)",
        ),
        (
            json!({"bitrate": -1}),
            "Invalid element type (bitrate should be a positive integer)",
        ),
        (
            json!({"bitrate": 1.5}),
            "Invalid element type (bitrate should be a positive integer)",
        ),
        (
            json!({"record": "no"}),
            "Invalid element type (record should be a boolean)",
        ),
        (
            json!({"filename": 3}),
            "Invalid element type (filename should be a string)",
        ),
        (
            json!({"substream": "1"}),
            "Invalid element type (substream should be a positive integer)",
        ),
        (
            json!({"temporal": -2}),
            "Invalid element type (temporal should be a positive integer)",
        ),
        (
            json!({"fallback": false}),
            "Invalid element type (fallback should be a positive integer)",
        ),
        (
            json!({"audiocodec": 1}),
            "Invalid element type (audiocodec should be a string)",
        ),
        (
            json!({"videocodec": []}),
            "Invalid element type (videocodec should be a string)",
        ),
        (
            json!({"videoprofile": {}}),
            "Invalid element type (videoprofile should be a string)",
        ),
        (
            json!({"opusred": 0}),
            "Invalid element type (opusred should be a boolean)",
        ),
        (
            json!({"min_delay": "1"}),
            "Invalid element type (min_delay should be an integer)",
        ),
        (
            json!({"max_delay": 0.5}),
            "Invalid element type (max_delay should be an integer)",
        ),
        (
            json!({"substream": 3}),
            "Invalid value (substream should be 0, 1 or 2)",
        ),
        (
            json!({"temporal": 9}),
            "Invalid value (temporal should be 0, 1 or 2)",
        ),
        (json!({}), "Message error: no supported attributes found"),
        (
            json!({"filename": "x"}),
            "Message error: no supported attributes found",
        ),
        (
            json!({"audiocodec": "opus"}),
            "Message error: no supported attributes found",
        ),
        (
            json!({"request": "whatever"}),
            "Message error: no supported attributes found",
        ),
    ];
    for (body, reason) in cases {
        assert_eq!(error_event(body.clone()), err(413, reason), "body {body}");
    }
}

#[test]
fn min_delay_alone_and_negative_values_are_accepted() {
    assert_eq!(
        error_event(json!({"min_delay": -1})),
        json!({"echotest": "event", "result": "ok"})
    );
    assert_eq!(
        error_event(json!({"record": true, "filename": "/tmp/x"})),
        json!({"echotest": "event", "result": "ok"})
    );
}

#[test]
fn bad_sdp_is_error_414() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    let out = e.message(
        1,
        json!({}),
        Some(Jsep::new(JsepType::Offer, "v=0\r\nbogus")),
    );
    let ev = plugin_events(&out);
    assert_eq!(ev[0].1["error_code"], 414);
    assert!(
        ev[0].1["error"]
            .as_str()
            .unwrap()
            .starts_with("Error parsing offer: "),
        "{}",
        ev[0].1
    );
}

#[test]
fn message_on_unknown_handle_is_a_hard_error() {
    let mut e = Direct::new(EchoTest::new());
    let out = e.message(9, json!({"audio": true}), None);
    assert_eq!(
        out,
        vec![PluginOutput::Reply {
            handle: HandleId(9),
            result: portunus_ctrl::plugin::MessageResult::Error(
                "No session associated with this handle...".into()
            )
        }]
    );
}

fn fwd(mid: &str) -> MediaCommand {
    MediaCommand::Forward {
        from: HandleId(1),
        from_mid: mid.into(),
        to: HandleId(1),
        to_mid: mid.into(),
        layers: LayerPrefs::default(),
    }
}

#[test]
fn webrtcup_installs_one_echo_forward_per_media_mid() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    assert!(media(&e.message(1, json!({}), Some(offer()))).is_empty());
    assert_eq!(
        media(&e.peer(1, PeerEvent::WebrtcUp)),
        vec![fwd("0"), fwd("1")]
    );
    // Only once per PeerConnection.
    assert!(e.peer(1, PeerEvent::WebrtcUp).is_empty());
}

#[test]
fn settings_before_webrtcup_apply_when_forwards_are_installed() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    let out = e.message(1, json!({"audio": false, "bitrate": 128000}), Some(offer()));
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetBitrateCap {
            handle: HandleId(1),
            bitrate: 128000
        }]
    );
    assert_eq!(
        media(&e.peer(1, PeerEvent::WebrtcUp)),
        vec![
            fwd("0"),
            MediaCommand::SetSending {
                to: HandleId(1),
                to_mid: "0".into(),
                send: false
            },
            fwd("1"),
            MediaCommand::SetBitrateCap {
                handle: HandleId(1),
                bitrate: 128000
            },
        ]
    );
}

#[test]
fn toggles_after_webrtcup_become_intents() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    e.message(1, json!({}), Some(offer()));
    e.peer(1, PeerEvent::WebrtcUp);
    let send = |mid: &str, send| MediaCommand::SetSending {
        to: HandleId(1),
        to_mid: mid.into(),
        send,
    };
    assert_eq!(
        media(&e.message(1, json!({"video": false}), None)),
        vec![send("1", false)]
    );
    assert_eq!(
        media(&e.message(1, json!({"video": true}), None)),
        vec![
            send("1", true),
            MediaCommand::RequestKeyframe {
                handle: HandleId(1),
                mid: None
            }
        ]
    );
    // Same value again: nothing to do.
    assert!(media(&e.message(1, json!({"video": true, "audio": true}), None)).is_empty());
    assert_eq!(
        media(&e.message(
            1,
            json!({"substream": 0, "temporal": 1, "fallback": 1000}),
            None
        )),
        vec![MediaCommand::SetLayers {
            to: HandleId(1),
            to_mid: "1".into(),
            layers: LayerPrefs {
                substream: 0,
                temporal: 1,
                fallback_us: 1000
            }
        }]
    );
    assert_eq!(
        media(&e.message(1, json!({"bitrate": 0}), None)),
        vec![MediaCommand::SetBitrateCap {
            handle: HandleId(1),
            bitrate: 0
        }]
    );
}

#[test]
fn invalid_substream_still_applies_the_earlier_settings_like_janus() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    let out = e.message(1, json!({"bitrate": 5000, "substream": 7}), None);
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetBitrateCap {
            handle: HandleId(1),
            bitrate: 5000
        }]
    );
    assert_eq!(plugin_events(&out)[0].1["error_code"], 413);
}

#[test]
fn data_channel_text_is_prefixed_and_binary_echoed_byte_for_byte() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    let out = e.input(PluginInput::Data {
        handle: HandleId(1),
        label: Some("chat".into()),
        binary: false,
        data: "héllo".as_bytes().to_vec(),
    });
    assert_eq!(
        media(&out),
        vec![MediaCommand::SendData {
            handle: HandleId(1),
            label: Some("chat".into()),
            binary: false,
            data: "Janus EchoTest here! You wrote: héllo".as_bytes().to_vec()
        }]
    );
    let bytes = vec![0u8, 255, 1, 2, 0x80];
    let out = e.input(PluginInput::Data {
        handle: HandleId(1),
        label: None,
        binary: true,
        data: bytes.clone(),
    });
    assert_eq!(
        media(&out),
        vec![MediaCommand::SendData {
            handle: HandleId(1),
            label: None,
            binary: true,
            data: bytes
        }]
    );
}

#[test]
fn hangup_sends_done_without_transaction_and_resets_settings() {
    let mut h = Host::new();
    let e = h.attach(PLUGIN);
    h.message(
        e,
        "t1",
        json!({"audio": false}),
        Some(json!({"type": "offer", "sdp": OFFER})),
    );
    h.events();
    h.peer(e, PeerEvent::WebrtcUp);
    h.peer(
        e,
        PeerEvent::Hangup {
            reason: HangupReason::DtlsAlert,
        },
    );
    let ev = h.events();
    let done: Vec<&Value> = ev.iter().filter(|v| v["janus"] == "event").collect();
    assert_eq!(
        done,
        vec![
            &json!({"janus": "event", "session_id": h.session, "sender": e,
            "plugindata": {"plugin": PLUGIN, "data": {"echotest": "event", "result": "done"}}})
        ]
    );
    let mut d = Direct::new(EchoTest::new());
    d.attach(1);
    d.message(1, json!({"audio": false}), Some(offer()));
    d.peer(1, PeerEvent::WebrtcUp);
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
                to: HandleId(1),
                to_mid: "0".into()
            },
            MediaCommand::Unforward {
                to: HandleId(1),
                to_mid: "1".into()
            },
        ]
    );
    let info = d.input(PluginInput::QueryHandle {
        handle: HandleId(1),
    });
    let Some(PluginOutput::HandleInfo { info, .. }) = info.first() else {
        panic!()
    };
    assert_eq!(info["audio_active"], true);
}

#[test]
fn slow_link_on_received_media_is_reported() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    e.message(1, json!({"bitrate": 256000}), None);
    let slow = |kind, uplink| PeerEvent::SlowLink {
        mid: "1".into(),
        kind,
        uplink,
        lost: 10,
    };
    assert_eq!(
        plugin_events(&e.peer(1, slow(MediaKind::Video, false))),
        vec![(
            None,
            json!({"echotest": "event", "event": "slow_link", "media": "video",
            "current-bitrate": 256000})
        )]
    );
    assert_eq!(
        plugin_events(&e.peer(1, slow(MediaKind::Audio, false))),
        vec![(
            None,
            json!({"echotest": "event", "event": "slow_link", "media": "audio"})
        )]
    );
    assert!(e.peer(1, slow(MediaKind::Video, true)).is_empty());
}

#[test]
fn handle_info_reports_settings_and_codecs() {
    let mut e = Direct::new(EchoTest::new());
    e.attach(1);
    e.message(1, json!({"video": false, "bitrate": 1000}), Some(offer()));
    let out = e.input(PluginInput::QueryHandle {
        handle: HandleId(1),
    });
    let Some(PluginOutput::HandleInfo { info, .. }) = out.first() else {
        panic!()
    };
    assert_eq!(
        Value::Object(info.clone()),
        json!({"audio_active": true, "video_active": false, "audio_codec": "opus",
            "video_codec": "vp8", "bitrate": 1000, "peer-bitrate": 0, "hangingup": 0,
            "destroyed": 0})
    );
}

#[test]
fn info_lists_the_plugin_with_janus_version() {
    let mut h = Host::new();
    let r = h.request(json!({"janus": "info", "transaction": "i"}));
    let p = &r["plugins"][PLUGIN];
    assert_eq!(p["version"], 7);
    assert_eq!(p["version_string"], "0.0.7");
    assert_eq!(p["name"], "JANUS EchoTest plugin");
}

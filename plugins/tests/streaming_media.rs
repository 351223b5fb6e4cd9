//! Streaming media intents, with the plugin driven directly: inputs opened and closed with
//! mountpoints, forwards installed when a viewer is up and answered, and what pause, stop,
//! switch, configure, disable and hangup do to them. Also arbitrary bodies with the
//! Streaming verbs never panic nor reach another handle.

mod common;

use std::time::{Instant, SystemTime};

use common::{Direct, media, plugin_events};
use portunus_ctrl::HandleId;
use portunus_ctrl::media::HangupReason;
use portunus_ctrl::plugin::{
    InputKind, Jsep, JsepType, LayerPrefs, MediaCommand, PeerEvent, Plugin, PluginInput,
    PluginOutput, RtpInput,
};
use portunus_plugins::WallClock;
use portunus_plugins::streaming::{Streaming, StreamingConfig};
use proptest::prelude::*;
use serde_json::{Value, json};

fn direct() -> (Direct<Streaming>, Vec<MediaCommand>) {
    let now = Instant::now();
    let mut plugin = Streaming::new(
        StreamingConfig::default(),
        WallClock::new(now, SystemTime::UNIX_EPOCH),
        Some(3),
    );
    let startup: Vec<MediaCommand> = std::iter::from_fn(|| plugin.poll())
        .map(|o| match o {
            PluginOutput::Media(c) => c,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let mut d = Direct::new(plugin);
    d.now = now;
    for h in 1..=3 {
        d.attach(h);
    }
    (d, startup)
}

fn answer() -> Jsep {
    Jsep::new(JsepType::Answer, "v=0\r\n")
}

/// Handle `h` watches `id`, answers and comes up; returns the intents of those steps.
fn watch_up(d: &mut Direct<Streaming>, h: u64, id: u64) -> Vec<MediaCommand> {
    let mut out = d.message(h, json!({"request": "watch", "id": id}), None);
    out.extend(d.message(h, json!({"request": "start"}), Some(answer())));
    out.extend(d.peer(h, PeerEvent::WebrtcUp));
    media(&out)
}

fn fwd(mp: u64, mid: &str, to: u64, to_mid: &str) -> MediaCommand {
    MediaCommand::ForwardMountpoint {
        mountpoint: mp,
        mid: mid.into(),
        to: HandleId(to),
        to_mid: to_mid.into(),
        layers: LayerPrefs::default(),
    }
}

fn sending(to: u64, mid: &str, send: bool) -> MediaCommand {
    MediaCommand::SetSending {
        to: HandleId(to),
        to_mid: mid.into(),
        send,
    }
}

#[test]
fn configured_mountpoints_open_their_inputs_at_start() {
    let (d, startup) = direct();
    let opus = RtpInput {
        mountpoint: 1,
        mid: "a".into(),
        kind: InputKind::Audio,
        ports: vec![5002],
        rtcp_port: None,
        mcast: None,
        iface: None,
        payload_type: Some(111),
        rtpmap: Some("opus/48000/2".into()),
        buffer_keyframe: false,
        svc: false,
        binary: false,
        srtp: None,
    };
    let vp8 = RtpInput {
        mid: "v".into(),
        kind: InputKind::Video,
        ports: vec![5004],
        payload_type: Some(100),
        rtpmap: Some("VP8/90000".into()),
        ..opus.clone()
    };
    assert_eq!(startup.len(), 5, "{startup:?}");
    assert_eq!(startup[0], MediaCommand::OpenRtpInput(opus));
    assert_eq!(startup[1], MediaCommand::OpenRtpInput(vp8));
    assert_eq!(
        d.plugin.inputs(),
        startup,
        "replayable for a restarted dataplane"
    );
}

#[test]
fn create_opens_and_destroy_closes_inputs() {
    let (mut d, _) = direct();
    let out = d.message(
        1,
        json!({"request": "create", "type": "rtp", "id": 9, "srtpsuite": 80,
        "srtpcrypto": "a2V5", "media": [
            {"type": "video", "mid": "v", "port": 0, "pt": 96, "codec": "vp8",
             "simulcast": true, "bufferkf": true},
            {"type": "data", "mid": "d", "port": 0}]}),
        None,
    );
    let m = media(&out);
    let MediaCommand::OpenRtpInput(v) = &m[0] else {
        panic!("{m:?}")
    };
    assert_eq!(v.ports, [10000, 10001, 10002], "three simulcast ports");
    assert!(v.buffer_keyframe);
    assert_eq!(v.srtp, Some((80, "a2V5".into())));
    let MediaCommand::OpenRtpInput(data) = &m[1] else {
        panic!("{m:?}")
    };
    assert_eq!(data.kind, InputKind::Data);
    assert_eq!(data.payload_type, None);
    let out = d.message(1, json!({"request": "destroy", "id": 9}), None);
    assert_eq!(
        media(&out),
        [
            MediaCommand::CloseRtpInput {
                mountpoint: 9,
                mid: "v".into()
            },
            MediaCommand::CloseRtpInput {
                mountpoint: 9,
                mid: "d".into()
            }
        ]
    );
}

#[test]
fn forwards_wait_for_the_answer_and_the_peer_connection() {
    let (mut d, _) = direct();
    assert!(media(&d.message(1, json!({"request": "watch", "id": 1}), None)).is_empty());
    // Up before the answer: still nothing to forward.
    let out = d.peer(1, PeerEvent::WebrtcUp);
    assert!(media(&out).is_empty());
    assert_eq!(
        plugin_events(&out),
        [(
            None,
            json!({"streaming": "event", "result": {"status": "started"}})
        )]
    );
    let out = d.message(1, json!({"request": "start"}), Some(answer()));
    assert_eq!(media(&out), [fwd(1, "a", 1, "a"), fwd(1, "v", 1, "v")]);
    assert_eq!(plugin_events(&out)[0].1["result"]["status"], "started");
    // A second viewer gets its own forwards; no keyframe request (the dataplane starts it
    // on a kept or the next keyframe).
    let m = watch_up(&mut d, 2, 1);
    assert_eq!(m, [fwd(1, "a", 2, "a"), fwd(1, "v", 2, "v")]);
}

#[test]
fn pause_start_configure_and_disable_toggle_sending() {
    let (mut d, _) = direct();
    watch_up(&mut d, 1, 1);
    let out = d.message(1, json!({"request": "pause"}), None);
    assert_eq!(
        media(&out),
        [sending(1, "a", false), sending(1, "v", false)]
    );
    let out = d.message(1, json!({"request": "start"}), None);
    assert_eq!(media(&out), [sending(1, "a", true), sending(1, "v", true)]);
    let out = d.message(
        1,
        json!({"request": "configure", "mid": "v", "send": false}),
        None,
    );
    assert_eq!(media(&out), [sending(1, "a", true), sending(1, "v", false)]);
    let out = d.message(
        1,
        json!({"request": "disable", "id": 1, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(
        media(&out),
        [sending(1, "a", false), sending(1, "v", false)]
    );
    let out = d.message(
        1,
        json!({"request": "enable", "id": 1, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(media(&out), [sending(1, "a", true), sending(1, "v", false)]);
}

#[test]
fn configure_layers_on_a_simulcast_mountpoint() {
    let (mut d, _) = direct();
    d.message(
        1,
        json!({"request": "create", "type": "rtp", "id": 50, "media": [
        {"type": "video", "mid": "v", "port": 0, "pt": 96, "codec": "vp8", "simulcast": true}]}),
        None,
    );
    let mut out = d.message(
        2,
        json!({"request": "watch", "id": 50, "substream": 0}),
        None,
    );
    out.extend(d.message(2, json!({"request": "start"}), Some(answer())));
    out.extend(d.peer(2, PeerEvent::WebrtcUp));
    let low = LayerPrefs {
        substream: 0,
        ..LayerPrefs::default()
    };
    assert_eq!(
        media(&out),
        [MediaCommand::ForwardMountpoint {
            mountpoint: 50,
            mid: "v".into(),
            to: HandleId(2),
            to_mid: "v".into(),
            layers: low
        }]
    );
    let out = d.message(
        2,
        json!({"request": "configure", "substream": 1, "temporal": 0, "fallback": 500000}),
        None,
    );
    let want = LayerPrefs {
        substream: 1,
        temporal: 0,
        fallback_us: 500_000,
    };
    assert_eq!(
        media(&out),
        [
            MediaCommand::SetLayers {
                to: HandleId(2),
                to_mid: "v".into(),
                layers: want
            },
            sending(2, "v", true)
        ]
    );
}

#[test]
fn switch_moves_forwards_to_the_other_mountpoint() {
    let (mut d, _) = direct();
    watch_up(&mut d, 1, 1);
    let out = d.message(1, json!({"request": "switch", "id": 123}), None);
    // Streams pair up by position: a→a, v→v1 (the viewer keeps its mids).
    assert_eq!(media(&out), [fwd(123, "a", 1, "a"), fwd(123, "v1", 1, "v")]);
    // Switching back from paused resumes explicitly.
    d.message(1, json!({"request": "pause"}), None);
    let out = d.message(1, json!({"request": "switch", "id": 1}), None);
    assert_eq!(
        media(&out),
        [
            fwd(1, "a", 1, "a"),
            fwd(1, "v", 1, "v"),
            sending(1, "a", true),
            sending(1, "v", true)
        ]
    );
}

#[test]
fn stop_hangup_and_destroy_remove_forwards() {
    let (mut d, _) = direct();
    watch_up(&mut d, 1, 1);
    let out = d.message(1, json!({"request": "stop"}), None);
    let unfwd = |h: u64, mid: &str| MediaCommand::Unforward {
        to: HandleId(h),
        to_mid: mid.into(),
    };
    assert_eq!(media(&out), [unfwd(1, "a"), unfwd(1, "v")]);
    assert!(out.contains(&PluginOutput::ClosePeerConnection {
        handle: HandleId(1)
    }));
    // The hangup that follows changes nothing more.
    let out = d.peer(
        1,
        PeerEvent::Hangup {
            reason: HangupReason::ClosePc,
        },
    );
    assert!(media(&out).is_empty(), "{out:?}");
    watch_up(&mut d, 2, 1);
    let out = d.peer(
        2,
        PeerEvent::Hangup {
            reason: HangupReason::DtlsAlert,
        },
    );
    assert_eq!(media(&out), [unfwd(2, "a"), unfwd(2, "v")]);
    // Watching again after a hangup is a fresh start.
    let out = d.message(2, json!({"request": "watch", "id": 1}), None);
    assert_eq!(plugin_events(&out)[0].1["result"]["status"], "preparing");
    // Detach leaves the mountpoint.
    watch_up(&mut d, 3, 1);
    d.input(PluginInput::Detach {
        handle: HandleId(3),
    });
    let out = d.message(
        1,
        json!({"request": "info", "id": 1, "secret": "adminpwd"}),
        None,
    );
    let PluginOutput::Reply { result, .. } = &out[0] else {
        panic!()
    };
    let portunus_ctrl::plugin::MessageResult::Success(info) = result else {
        panic!()
    };
    assert_eq!(
        info["info"]["viewers"], 1,
        "only handle 2 (watching, not up)"
    );
}

#[test]
fn renegotiation_and_ice_restart_send_new_offers() {
    let (mut d, _) = direct();
    watch_up(&mut d, 1, 1);
    let out = d.message(
        1,
        json!({"request": "watch", "id": 1, "restart": true}),
        None,
    );
    let PluginOutput::Event {
        data,
        jsep: Some(jsep),
        ..
    } = &out[1]
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        data,
        &json!({"streaming": "event", "result": {"status": "updating"}})
    );
    assert!(jsep.restart);
    assert!(jsep.sdp.contains("o=- 0 2 IN IP4"), "{}", jsep.sdp);
    let out = d.message(1, json!({"request": "watch", "id": 1}), None);
    assert_eq!(
        plugin_events(&out)[0].1,
        json!({"streaming": "event", "error_code": 460,
            "error": "Already renegotiating mountpoint 1"})
    );
    d.message(1, json!({"request": "start"}), Some(answer()));
    let out = d.message(1, json!({"request": "watch", "id": 1}), None);
    assert_eq!(plugin_events(&out)[0].1["result"]["status"], "preparing");
}

#[test]
fn query_and_admin_messages() {
    let (mut d, _) = direct();
    watch_up(&mut d, 1, 1);
    let out = d.input(PluginInput::QueryHandle {
        handle: HandleId(1),
    });
    let [PluginOutput::HandleInfo { info, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(info["state"], "watching");
    assert_eq!(info["mountpoint_id"], 1);
    assert_eq!(info["started"], 1);
    let out = d.input(PluginInput::AdminMessage {
        request: json!({"request": "info", "id": 123}),
    });
    let [PluginOutput::AdminReply { response }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(response["info"]["id"], 123);
    let out = d.input(PluginInput::AdminMessage {
        request: json!({"request": "watch", "id": 1}),
    });
    let [PluginOutput::AdminReply { response }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(response["error_code"], 452);
    let out = d.input(PluginInput::AdminMessage { request: json!(3) });
    let [PluginOutput::AdminReply { response }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(response["error_code"], 451);
}

fn body() -> impl Strategy<Value = Value> {
    let verb = prop::sample::select(vec![
        "watch",
        "start",
        "pause",
        "stop",
        "switch",
        "configure",
        "create",
        "edit",
        "destroy",
        "info",
        "list",
        "enable",
        "disable",
        "kick_all",
        "recording",
    ]);
    let key = prop::sample::select(vec![
        "id",
        "media",
        "type",
        "mid",
        "port",
        "pt",
        "codec",
        "secret",
        "pin",
        "restart",
        "send",
        "substream",
        "temporal",
        "audio",
        "video",
        "data",
        "simulcast",
        "action",
        "datatype",
        "new_metadata",
        "edited_event",
        "offer_audio",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..200).prop_map(Value::from),
        Just(Value::from(1)),
        Just(Value::from(123)),
        Just(Value::from(-1)),
        "[a-z]{0,4}".prop_map(Value::from),
        Just(Value::from("rtp")),
        Just(Value::from("adminpwd")),
    ];
    let value = leaf.prop_recursive(2, 12, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    });
    let key2 = prop::sample::select(vec![
        "id",
        "media",
        "type",
        "mid",
        "port",
        "pt",
        "codec",
        "secret",
        "pin",
        "restart",
        "send",
        "substream",
        "audio",
        "video",
        "simulcast",
        "action",
        "datatype",
    ]);
    (verb, prop::collection::vec((key2, value), 0..6)).prop_map(|(v, kv)| {
        let mut m: serde_json::Map<String, Value> =
            kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        m.insert("request".into(), v.into());
        Value::Object(m)
    })
}

proptest! {
    /// Handle 2 watches mountpoint 1 and is up; any sequence of bodies on handle 1 never
    /// panics and never produces output for handle 2 (except the events of destroying or
    /// kicking the mountpoint it watches, which are the point of those requests).
    #[test]
    fn arbitrary_streaming_bodies_never_panic_nor_leak(bodies in prop::collection::vec(body(), 1..6)) {
        let (mut d, _) = direct();
        watch_up(&mut d, 2, 1);
        for b in bodies {
            let admin = matches!(b["request"].as_str(), Some("destroy" | "kick_all" | "edit"));
            let out = d.message(1, b.clone(), Some(answer()));
            for o in &out {
                let to2 = match o {
                    PluginOutput::Reply { handle, .. } | PluginOutput::Event { handle, .. }
                    | PluginOutput::ClosePeerConnection { handle } => *handle == HandleId(2),
                    PluginOutput::Media(MediaCommand::ForwardMountpoint { to, .. }
                    | MediaCommand::SetSending { to, .. } | MediaCommand::SetLayers { to, .. }) =>
                        *to == HandleId(2),
                    _ => false,
                };
                let mgmt = matches!(b["request"].as_str(), Some("disable" | "enable"));
                prop_assert!(!to2 || admin || mgmt, "{b} reached handle 2: {o:?}");
            }
            let replies = out.iter().filter(|o| matches!(o, PluginOutput::Reply { .. })).count();
            prop_assert_eq!(replies, 1, "one reply per message: {}", b);
            d.peer(1, PeerEvent::WebrtcUp);
        }
    }
}

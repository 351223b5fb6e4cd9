//! AudioBridge conformance: management transcripts and error codes, participant flows with
//! their event fan-out, the mix intents (`OpenMix`, `JoinMix`, `UpdateMix`, `LeaveMix`,
//! `CloseMix`, mix RTP forwarders), the SDP answer and offer, talk detection, and arbitrary
//! request bodies.

mod common;

use std::time::{Instant, SystemTime};

use common::{Direct, Host, OFFER, media, plugin_events};
use portunus_ctrl::HandleId;
use portunus_ctrl::media::HangupReason;
use portunus_ctrl::plugin::{
    Jsep, JsepType, MediaCommand, MixCodec, MixParticipant, MixRoom, PeerEvent, PluginInput,
    PluginOutput,
};
use portunus_plugins::WallClock;
use portunus_plugins::audiobridge::{AbId, AudioBridge, AudioBridgeConfig, RoomConfig};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const PLUGIN: &str = "janus.plugin.audiobridge";

fn err(code: u16, reason: &str) -> Value {
    json!({"audiobridge": "event", "error_code": code, "error": reason})
}

fn plugin(config: AudioBridgeConfig) -> Direct<AudioBridge> {
    let now = Instant::now();
    let mut d = Direct::new(AudioBridge::new(
        config,
        WallClock::new(now, SystemTime::UNIX_EPOCH),
        Some(5),
    ));
    d.now = now;
    // The configured rooms' mixes open before any input.
    let opened: Vec<PluginOutput> =
        std::iter::from_fn(|| portunus_ctrl::plugin::Plugin::poll(&mut d.plugin)).collect();
    assert!(
        opened
            .iter()
            .all(|o| matches!(o, PluginOutput::Media(MediaCommand::OpenMix(_))))
    );
    for h in 1..=4 {
        d.attach(h);
    }
    d
}

fn direct() -> Direct<AudioBridge> {
    plugin(AudioBridgeConfig::default())
}

/// The reply data of a synchronous request.
fn sync(out: &[PluginOutput]) -> Value {
    out.iter()
        .find_map(|o| match o {
            PluginOutput::Reply {
                result: portunus_ctrl::plugin::MessageResult::Success(v),
                ..
            } => Some(v.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no sync reply: {out:?}"))
}

/// Events for handle `h` (data only).
fn events_for(out: &[PluginOutput], h: u64) -> Vec<Value> {
    out.iter()
        .filter_map(|o| match o {
            PluginOutput::Event { handle, data, .. } if handle.0 == h => Some(data.clone()),
            _ => None,
        })
        .collect()
}

/// The answer to the request itself (the event with the transaction).
fn own_event(out: &[PluginOutput]) -> (Value, Option<Jsep>) {
    out.iter()
        .find_map(|o| match o {
            PluginOutput::Event {
                transaction: Some(_),
                data,
                jsep,
                ..
            } => Some((data.clone(), jsep.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no transaction event in {out:?}"))
}

fn offer() -> Option<Jsep> {
    Some(Jsep::new(JsepType::Offer, OFFER))
}

/// Handle `h` joins room 1234 as `id` with the browser offer and its PeerConnection comes up.
fn join_up(d: &mut Direct<AudioBridge>, h: u64, id: u64) -> Vec<PluginOutput> {
    let mut out = d.message(
        h,
        json!({"request": "join", "room": 1234, "id": id, "display": format!("u{id}")}),
        offer(),
    );
    out.extend(d.peer(h, PeerEvent::WebrtcUp));
    out
}

fn opus_settings() -> MixParticipant {
    MixParticipant {
        fec: true,
        ..MixParticipant::default()
    }
}

#[test]
fn configured_room_1234_opens_its_mix_at_start() {
    let now = Instant::now();
    let mut ab = AudioBridge::new(
        AudioBridgeConfig::default(),
        WallClock::new(now, SystemTime::UNIX_EPOCH),
        Some(1),
    );
    let first = portunus_ctrl::plugin::Plugin::poll(&mut ab);
    let expected = MediaCommand::OpenMix(MixRoom {
        mix: 1,
        sampling_rate: 16_000,
        spatial: false,
    });
    assert_eq!(first, Some(PluginOutput::Media(expected.clone())));
    assert_eq!(portunus_ctrl::plugin::Plugin::poll(&mut ab), None);
    assert_eq!(ab.mixes(), vec![expected]);
}

#[test]
fn management_transcript_through_the_core() {
    let mut h = Host::new();
    let a = h.attach(PLUGIN);
    assert_eq!(
        h.sync(a, json!({"request": "list"})),
        json!({"audiobridge": "success", "list": [{"room": 1234, "description": "Demo Room",
            "sampling_rate": 16000, "spatial_audio": false, "pin_required": false,
            "record": false, "muted": false, "num_participants": 0}]})
    );
    assert_eq!(
        h.sync(a, json!({"request": "exists", "room": 1234})),
        json!({"audiobridge": "success", "room": 1234, "exists": true})
    );
    assert_eq!(
        h.sync(
            a,
            json!({"request": "create", "room": 77, "secret": "s", "pin": "p",
            "sampling_rate": 48000, "spatial_audio": true, "is_private": true})
        ),
        json!({"audiobridge": "created", "room": 77, "permanent": false})
    );
    // Private rooms are not listed.
    assert_eq!(
        h.sync(a, json!({"request": "list"}))["list"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        h.sync(
            a,
            json!({"request": "edit", "room": 77, "secret": "s",
            "new_description": "x", "new_is_private": false, "new_pin": ""})
        ),
        json!({"audiobridge": "edited", "room": 77, "permanent": false})
    );
    let list = h.sync(a, json!({"request": "list"}));
    let room = list["list"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["room"] == 77))
        .cloned()
        .unwrap_or_default();
    assert_eq!(room["description"], "x");
    assert_eq!(room["sampling_rate"], 48000);
    assert_eq!(room["spatial_audio"], true);
    assert_eq!(room["pin_required"], false);
    assert_eq!(
        h.sync(
            a,
            json!({"request": "allowed", "room": 77, "secret": "s", "action": "add",
            "allowed": ["t1"]})
        ),
        json!({"audiobridge": "success", "room": 77, "allowed": ["t1"]})
    );
    assert_eq!(
        h.sync(
            a,
            json!({"request": "allowed", "room": 77, "secret": "s", "action": "disable"})
        ),
        json!({"audiobridge": "success", "room": 77})
    );
    assert_eq!(
        h.sync(a, json!({"request": "listparticipants", "room": 77})),
        json!({"audiobridge": "participants", "room": 77, "participants": []})
    );
    assert_eq!(
        h.sync(a, json!({"request": "destroy", "room": 77, "secret": "s"})),
        json!({"audiobridge": "destroyed", "room": 77, "permanent": false})
    );
    // Random ids are 53-bit.
    let r = h.sync(a, json!({"request": "create"}));
    let id = r["room"].as_u64().unwrap_or(0);
    assert!(id > 0 && id < (1 << 53), "{r}");
    // Asynchronous requests are acked and answered by an event.
    let r = h.message(
        a,
        "j",
        json!({"request": "join", "room": 1234, "display": "x"}),
        None,
    );
    assert_eq!(r["janus"], "ack");
    let ev = h.events();
    assert_eq!(ev[0]["plugindata"]["data"]["audiobridge"], "joined");
    assert_eq!(ev[0]["transaction"], "j");
}

#[test]
fn synchronous_errors_have_janus_codes_and_texts() {
    let mut d = direct();
    let cases = [
        (
            json!({"request": "nope"}),
            err(482, "Unknown request 'nope'"),
        ),
        (
            json!({"request": 5}),
            err(484, "Invalid element type (request should be a string)"),
        ),
        (json!({}), err(483, "Missing mandatory element (request)")),
        (
            json!({"request": "exists"}),
            err(483, "Missing mandatory element (room)"),
        ),
        (
            json!({"request": "exists", "room": "x"}),
            err(
                484,
                "Invalid element type (room should be a positive integer)",
            ),
        ),
        (
            json!({"request": "create", "room": 1234}),
            err(486, "Room 1234 already exists"),
        ),
        (
            json!({"request": "create", "sampling_rate": 44100}),
            err(499, "Unsupported sampling rate 44100"),
        ),
        (
            json!({"request": "create", "permanent": true}),
            err(499, "No configuration file, can't create permanent room"),
        ),
        (
            json!({"request": "create", "groups": ["a", "b", "c", "d", "e", "f"]}),
            err(484, "Too many groups specified (max 5 allowed)"),
        ),
        (
            json!({"request": "create", "allowed": [1]}),
            err(484, "Invalid element in the allowed array (not a string)"),
        ),
        (
            json!({"request": "destroy", "room": 9}),
            err(485, "No such room (9)"),
        ),
        (
            json!({"request": "destroy", "room": 1234}),
            err(483, "Missing mandatory element (secret)"),
        ),
        (
            json!({"request": "destroy", "room": 1234, "secret": "bad"}),
            err(489, "Unauthorized (wrong secret)"),
        ),
        (
            json!({"request": "edit", "room": 1234, "secret": 1}),
            err(484, "Invalid element type (secret should be a string)"),
        ),
        (
            json!({"request": "allowed", "room": 1234, "secret": "adminpwd", "action": "x"}),
            err(484, "Unsupported action 'x' (allowed)"),
        ),
        (
            json!({"request": "kick", "room": 1234, "secret": "adminpwd", "id": 5}),
            err(492, "No such user 5 in room 1234"),
        ),
        (
            json!({"request": "mute", "room": 1234, "secret": "adminpwd"}),
            err(483, "Missing mandatory element (id)"),
        ),
        (
            json!({"request": "resetdecoder"}),
            err(487, "Can't reset (not in a room)"),
        ),
        (
            json!({"request": "play_file", "room": 1234, "filename": "a.opus"}),
            err(482, "Playing files unsupported in this instance"),
        ),
        (
            json!({"request": "enable_recording", "room": 1234, "secret": "adminpwd", "record": true}),
            err(499, "Recording unsupported in this instance"),
        ),
        (
            json!({"request": "enable_mjrs", "room": 1234, "secret": "adminpwd", "mjrs": true}),
            err(499, "Recording unsupported in this instance"),
        ),
        (
            json!({"request": "create", "record": true}),
            err(499, "Recording unsupported in this instance"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd", "host": "127.0.0.1", "port": 0}),
            err(484, "Invalid port number (0)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd", "host": "127.0.0.1", "port": 5000, "codec": "g722"}),
            err(484, "Unsupported codec (g722)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd", "host": "localhost", "port": 5000}),
            err(484, "Could not resolve address (localhost)..."),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd", "host": "127.0.0.1", "port": 5000, "srtp_suite": 31, "srtp_crypto": "x"}),
            err(484, "Invalid SRTP suite (31)"),
        ),
        (
            json!({"request": "rtp_forward", "room": 1234, "host": "127.0.0.1"}),
            err(483, "Missing mandatory element (port)"),
        ),
    ];
    for (body, expected) in cases {
        let out = d.message(1, body.clone(), None);
        assert_eq!(out.len(), 1, "{body}: {out:?}");
        assert_eq!(sync(&out), expected, "{body}");
    }
    // Turning recording off is fine.
    let out = d.message(
        1,
        json!({"request": "enable_recording", "room": 1234, "secret": "adminpwd", "record": false}),
        None,
    );
    assert_eq!(sync(&out)["audiobridge"], "success");
}

#[test]
fn asynchronous_errors_have_janus_codes_and_texts() {
    let mut d = plugin(AudioBridgeConfig {
        rooms: vec![
            RoomConfig {
                secret: Some("adminpwd".into()),
                ..RoomConfig::new(AbId::Num(1234))
            },
            RoomConfig {
                pin: Some("1".into()),
                groups: vec!["g".into()],
                allow_rtp_participants: true,
                ..RoomConfig::new(AbId::Num(5))
            },
        ],
        ..AudioBridgeConfig::default()
    });
    let cases = [
        (
            json!({"request": "configure"}),
            err(487, "Can't configure (not in a room)"),
        ),
        (
            json!({"request": "leave"}),
            err(487, "Can't leave (not in a room)"),
        ),
        (
            json!({"request": "changeroom", "room": 5}),
            err(487, "Can't change room (not in a room in the first place)"),
        ),
        (
            json!({"request": "join"}),
            err(483, "Missing mandatory element (room)"),
        ),
        (
            json!({"request": "join", "room": 9}),
            err(485, "No such room (9)"),
        ),
        (
            json!({"request": "join", "room": 1234, "codec": "g722"}),
            err(484, "Invalid element (codec must opus, pcmu or pcma)"),
        ),
        (
            json!({"request": "join", "room": 1234, "quality": 11}),
            err(
                484,
                "Invalid element (quality should be a positive integer between 1 and 10)",
            ),
        ),
        (
            json!({"request": "join", "room": 1234, "expected_loss": 21}),
            err(
                484,
                "Invalid element (expected_loss should be a positive integer between 0 and 20)",
            ),
        ),
        (
            json!({"request": "join", "room": 1234, "secret": "bad"}),
            err(489, "Unauthorized (wrong secret)"),
        ),
        (
            json!({"request": "join", "room": 1234, "rtp": {"ip": "127.0.0.1", "port": 5000}}),
            err(489, "Plain RTP participants not allowed in this room"),
        ),
        (
            json!({"request": "join", "room": 5}),
            err(483, "Missing mandatory element (pin)"),
        ),
        (
            json!({"request": "join", "room": 5, "pin": "2"}),
            err(489, "Unauthorized (wrong pin)"),
        ),
        (
            json!({"request": "join", "room": 5, "pin": "1"}),
            err(483, "Missing mandatory element (group)"),
        ),
        (
            json!({"request": "join", "room": 5, "pin": "1", "group": "h"}),
            err(494, "No such group (h)"),
        ),
        (
            json!({"request": "join", "room": 5, "pin": "1", "group": "g", "rtp": {"port": 5000}}),
            err(499, "Plain RTP participants unsupported in this instance"),
        ),
        (
            json!({"request": "join", "room": 1234, "record": true}),
            err(499, "Recording unsupported in this instance"),
        ),
    ];
    for (body, expected) in cases {
        let out = d.message(1, body.clone(), None);
        assert!(
            matches!(
                out.first(),
                Some(PluginOutput::Reply {
                    result: portunus_ctrl::plugin::MessageResult::Ack { .. },
                    ..
                })
            ),
            "{body}: {out:?}"
        );
        assert_eq!(own_event(&out).0, expected, "{body}");
        assert!(media(&out).is_empty(), "{body}");
    }
    // Joined: a second join, the same room again, a taken id, SDP type mix-ups.
    join_up(&mut d, 1, 11);
    let more = [
        (
            json!({"request": "join", "room": 1234}),
            None,
            err(
                491,
                "Already in a room (use changeroom to join another one)",
            ),
        ),
        (
            json!({"request": "changeroom", "room": 1234}),
            None,
            err(491, "Already in this room"),
        ),
        (
            json!({"request": "configure"}),
            Some(Jsep::new(JsepType::Answer, OFFER)),
            err(493, "Received an answer when we didn't send an offer"),
        ),
        (
            json!({"request": "configure"}),
            Some(Jsep::new(JsepType::Offer, "not sdp")),
            err(493, "Error parsing offer: Invalid SDP"),
        ),
    ];
    for (body, jsep, expected) in more {
        let out = d.message(1, body.clone(), jsep);
        let (data, _) = own_event(&out);
        if expected["error_code"] == 493 && data["error_code"] == 493 {
            assert!(
                data["error"].as_str().is_some_and(|e| e.starts_with(
                    expected["error"]
                        .as_str()
                        .unwrap_or_default()
                        .split(':')
                        .next()
                        .unwrap_or_default()
                )),
                "{data}"
            );
        } else {
            assert_eq!(data, expected, "{body}");
        }
    }
    let out = d.message(2, json!({"request": "join", "room": 1234, "id": 11}), None);
    assert_eq!(own_event(&out).0, err(490, "User ID 11 already exists"));
    let mut e2ee = Jsep::new(JsepType::Offer, OFFER);
    e2ee.e2ee = true;
    let out = d.message(3, json!({"request": "join", "room": 1234}), Some(e2ee));
    assert_eq!(
        own_event(&out).0,
        err(484, "Media encryption unsupported by this plugin")
    );
}

#[test]
fn join_answers_the_first_audio_mline_and_joins_the_mix_after_the_event() {
    let mut d = direct();
    let out = d.message(
        1,
        json!({"request": "join", "room": 1234, "id": 7, "display": "alice"}),
        offer(),
    );
    let (data, jsep) = own_event(&out);
    assert_eq!(
        data,
        json!({"audiobridge": "joined", "room": 1234, "id": 7, "participants": []})
    );
    let answer = jsep.expect("answer").sdp;
    assert!(answer.contains("s=AudioBridge 1234\r\n"), "{answer}");
    assert!(
        answer.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"),
        "{answer}"
    );
    assert!(answer.contains("a=rtpmap:111 opus/48000/2\r\n"), "{answer}");
    assert!(
        answer.contains(
            "a=fmtp:111 maxplaybackrate=16000; stereo=0; sprop-stereo=0; useinbandfec=1\r\n"
        ),
        "{answer}"
    );
    assert!(answer.contains("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"));
    assert!(answer.contains("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"));
    assert!(!answer.contains("abs-send-time"), "{answer}");
    assert!(answer.contains("m=video 0 "), "{answer}");
    assert!(answer.contains("m=application 0 "), "{answer}");
    assert!(!answer.contains("PCMU"), "{answer}");
    // The intent comes after the event that carries the answer.
    let event_at = out
        .iter()
        .position(|o| matches!(o, PluginOutput::Event { .. }))
        .unwrap_or(usize::MAX);
    let join_at = out
        .iter()
        .position(|o| matches!(o, PluginOutput::Media(MediaCommand::JoinMix { .. })))
        .unwrap_or(0);
    assert!(join_at > event_at, "{out:?}");
    assert_eq!(
        media(&out),
        vec![MediaCommand::JoinMix {
            mix: 1,
            handle: HandleId(1),
            mid: "0".into(),
            settings: opus_settings(),
        }]
    );
}

#[test]
fn join_settings_and_g711_answers() {
    let mut d = direct();
    let out = d.message(
        1,
        json!({"request": "join", "room": 1234, "codec": "pcmu", "muted": true, "volume": 150,
            "prebuffer": 10, "quality": 9, "expected_loss": 5, "bitrate": 32000}),
        offer(),
    );
    let answer = own_event(&out).1.expect("answer").sdp;
    assert!(
        answer.contains("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"),
        "{answer}"
    );
    assert!(answer.contains("a=rtpmap:0 PCMU/8000\r\n"), "{answer}");
    assert!(!answer.contains("a=fmtp"), "{answer}");
    assert_eq!(
        media(&out),
        vec![MediaCommand::JoinMix {
            mix: 1,
            handle: HandleId(1),
            mid: "0".into(),
            settings: MixParticipant {
                muted: true,
                volume_percent: 150,
                codec: MixCodec::Pcmu,
                prebuffer_packets: 10,
                spatial_position: 50,
                opus_bitrate: 32000,
                opus_complexity: 9,
                expected_loss: 5,
                fec: false,
                reset_decoder: false,
            },
        }]
    );
    // A join without an offer is in the room but not in the mix yet.
    let out = d.message(2, json!({"request": "join", "room": 1234}), None);
    assert!(media(&out).is_empty());
    assert!(own_event(&out).1.is_none());
}

#[test]
fn participants_see_each_other_join_set_up_and_leave() {
    let mut d = direct();
    join_up(&mut d, 1, 1);
    let out = d.message(
        2,
        json!({"request": "join", "room": 1234, "id": 2, "display": "bob"}),
        offer(),
    );
    assert_eq!(
        events_for(&out, 1),
        vec![
            json!({"audiobridge": "joined", "room": 1234, "participants": [
            {"id": 2, "display": "bob", "setup": false, "muted": false}]})
        ]
    );
    assert_eq!(
        own_event(&out).0,
        json!({"audiobridge": "joined", "room": 1234, "id": 2, "participants": [
            {"id": 1, "display": "u1", "setup": true, "muted": false, "talking": false}]})
    );
    let out = d.peer(2, PeerEvent::WebrtcUp);
    assert_eq!(
        plugin_events(&out),
        vec![(
            None,
            json!({"audiobridge": "event", "room": 1234, "participants": [
            {"id": 2, "display": "bob", "setup": true, "muted": false}]})
        )]
    );
    assert!(events_for(&out, 2).is_empty());
    // listparticipants shows `talking` for participants using the audio-level extension.
    let out = d.message(
        3,
        json!({"request": "listparticipants", "room": 1234}),
        None,
    );
    assert_eq!(
        sync(&out)["participants"],
        json!([{"id": 1, "display": "u1", "setup": true, "muted": false, "talking": false},
               {"id": 2, "display": "bob", "setup": true, "muted": false, "talking": false}])
    );
    // leave: `left` to the leaver, `leaving` to the others, out of the mix.
    let out = d.message(2, json!({"request": "leave"}), None);
    assert_eq!(
        own_event(&out).0,
        json!({"audiobridge": "left", "room": 1234, "id": 2})
    );
    assert_eq!(
        events_for(&out, 1),
        vec![json!({"audiobridge": "event", "room": 1234, "leaving": 2})]
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::LeaveMix {
            handle: HandleId(2)
        }]
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, PluginOutput::ClosePeerConnection { .. }))
    );
    // Rejoining on the same PeerConnection goes straight back into the mix.
    let out = d.message(2, json!({"request": "join", "room": 1234, "id": 2}), None);
    assert_eq!(events_for(&out, 1)[0]["participants"][0]["setup"], false);
    assert!(matches!(
        media(&out).as_slice(),
        [MediaCommand::JoinMix { mix: 1, .. }]
    ));
}

#[test]
fn configure_updates_the_mix_and_tells_the_others() {
    let mut d = direct();
    join_up(&mut d, 1, 1);
    join_up(&mut d, 2, 2);
    let out = d.message(
        2,
        json!({"request": "configure", "muted": true, "display": "b", "volume": 80,
            "prebuffer": 3, "quality": 10, "expected_loss": 20, "bitrate": 100}),
        None,
    );
    assert_eq!(
        own_event(&out).0,
        json!({"audiobridge": "event", "result": "ok"})
    );
    assert_eq!(
        events_for(&out, 1),
        vec![
            json!({"audiobridge": "event", "room": 1234, "participants": [
            {"id": 2, "display": "b", "setup": true, "muted": true}]})
        ]
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::UpdateMix {
            handle: HandleId(2),
            settings: MixParticipant {
                muted: true,
                volume_percent: 80,
                prebuffer_packets: 3,
                opus_complexity: 10,
                expected_loss: 20,
                opus_bitrate: 0,
                ..opus_settings()
            },
        }]
    );
    // Nothing changed: no intent; settings without a visible change: no notification.
    let out = d.message(2, json!({"request": "configure", "volume": 80}), None);
    assert!(media(&out).is_empty());
    assert!(events_for(&out, 1).is_empty());
    // resetdecoder is a one-shot flag on an update.
    let out = d.message(2, json!({"request": "resetdecoder"}), None);
    assert_eq!(sync(&out), json!({"audiobridge": "success"}));
    assert!(matches!(
        media(&out).as_slice(),
        [MediaCommand::UpdateMix {
            settings: MixParticipant {
                reset_decoder: true,
                ..
            },
            ..
        }]
    ));
}

#[test]
fn moderation_mutes_participants_and_rooms() {
    let mut d = direct();
    join_up(&mut d, 1, 1);
    join_up(&mut d, 2, 2);
    // Handle 3 joins as an admin (with the room secret): immune to mute_room.
    d.message(
        3,
        json!({"request": "join", "room": 1234, "id": 3, "secret": "adminpwd"}),
        offer(),
    );
    let out = d.message(
        4,
        json!({"request": "mute", "room": 1234, "secret": "adminpwd", "id": 2}),
        None,
    );
    assert_eq!(sync(&out), json!({"audiobridge": "success", "room": 1234}));
    let update = json!({"audiobridge": "event", "room": 1234, "participants": [
        {"id": 2, "display": "u2", "setup": true, "muted": true}]});
    for h in [1, 2, 3] {
        assert_eq!(events_for(&out, h), vec![update.clone()], "handle {h}");
    }
    assert!(matches!(
        media(&out).as_slice(),
        [MediaCommand::UpdateMix {
            handle: HandleId(2),
            settings: MixParticipant { muted: true, .. }
        }]
    ));
    // Already muted: bare success, no event.
    let out = d.message(
        4,
        json!({"request": "mute", "room": 1234, "secret": "adminpwd", "id": 2}),
        None,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(sync(&out), json!({"audiobridge": "success"}));
    let out = d.message(
        4,
        json!({"request": "unmute", "room": 1234, "secret": "adminpwd", "id": 2}),
        None,
    );
    assert_eq!(sync(&out), json!({"audiobridge": "success", "room": 1234}));
    // mute_room: everyone hears about it, admins keep talking.
    let out = d.message(
        4,
        json!({"request": "mute_room", "room": 1234, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(sync(&out), json!({"audiobridge": "success", "room": 1234}));
    for h in [1, 2, 3] {
        assert_eq!(
            events_for(&out, h),
            vec![json!({"audiobridge": "event", "room": 1234, "muted": true})]
        );
    }
    let muted: Vec<u64> = media(&out)
        .iter()
        .filter_map(|c| match c {
            MediaCommand::UpdateMix { handle, settings } if settings.muted => Some(handle.0),
            _ => None,
        })
        .collect();
    assert_eq!(muted, vec![1, 2]);
    let out = d.message(
        4,
        json!({"request": "mute_room", "room": 1234, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(sync(&out), json!({"audiobridge": "success"}));
    assert_eq!(out.len(), 1);
    let out = d.message(4, json!({"request": "list"}), None);
    assert_eq!(sync(&out)["list"][0]["muted"], true);
    let out = d.message(
        4,
        json!({"request": "unmute_room", "room": 1234, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(media(&out).len(), 2);
}

#[test]
fn hangup_detach_and_kick_leave_the_mix() {
    let mut d = direct();
    join_up(&mut d, 1, 1);
    join_up(&mut d, 2, 2);
    join_up(&mut d, 3, 3);
    // hangup request: close the PC, then the PC's hangup takes the participant out.
    let out = d.message(2, json!({"request": "hangup"}), None);
    assert_eq!(own_event(&out).0, json!({"audiobridge": "hangingup"}));
    assert!(
        out.iter()
            .any(|o| matches!(o, PluginOutput::ClosePeerConnection { handle } if handle.0 == 2))
    );
    let out = d.peer(
        2,
        PeerEvent::Hangup {
            reason: HangupReason::ClosePc,
        },
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::LeaveMix {
            handle: HandleId(2)
        }]
    );
    assert_eq!(
        events_for(&out, 1),
        vec![json!({"audiobridge": "event", "room": 1234, "leaving": 2})]
    );
    // kick: everyone (the kicked one too) hears it, the kicked one leaves the mix at once.
    let out = d.message(
        4,
        json!({"request": "kick", "room": 1234, "secret": "adminpwd", "id": 3}),
        None,
    );
    assert_eq!(sync(&out), json!({"audiobridge": "success"}));
    for h in [1, 3] {
        assert_eq!(
            events_for(&out, h),
            vec![json!({"audiobridge": "event", "room": 1234, "kicked": 3})]
        );
    }
    assert_eq!(
        media(&out),
        vec![MediaCommand::LeaveMix {
            handle: HandleId(3)
        }]
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, PluginOutput::ClosePeerConnection { handle } if handle.0 == 3))
    );
    let out = d.peer(
        3,
        PeerEvent::Hangup {
            reason: HangupReason::ClosePc,
        },
    );
    assert!(media(&out).is_empty(), "already out of the mix: {out:?}");
    assert_eq!(
        events_for(&out, 1),
        vec![json!({"audiobridge": "event", "room": 1234, "leaving": 3})]
    );
    // detach.
    let out = d.input(PluginInput::Detach {
        handle: HandleId(1),
    });
    assert_eq!(
        media(&out),
        vec![MediaCommand::LeaveMix {
            handle: HandleId(1)
        }]
    );
    let out = d.message(
        4,
        json!({"request": "listparticipants", "room": 1234}),
        None,
    );
    assert_eq!(sync(&out)["participants"], json!([]));
}

#[test]
fn kick_all_and_destroy_close_everything() {
    let mut d = direct();
    join_up(&mut d, 1, 1);
    join_up(&mut d, 2, 2);
    let out = d.message(
        4,
        json!({"request": "kick_all", "room": 1234, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(sync(&out), json!({"audiobridge": "success"}));
    assert_eq!(
        events_for(&out, 1),
        vec![json!({"audiobridge": "event", "room": 1234, "kicked_all": 1})]
    );
    assert_eq!(
        events_for(&out, 2),
        vec![json!({"audiobridge": "event", "room": 1234, "kicked_all": 2})]
    );
    assert_eq!(
        media(&out),
        vec![
            MediaCommand::LeaveMix {
                handle: HandleId(1)
            },
            MediaCommand::LeaveMix {
                handle: HandleId(2)
            }
        ]
    );
    // A fresh room with one participant, destroyed.
    let out = d.message(4, json!({"request": "create", "room": 50}), None);
    assert_eq!(
        media(&out),
        vec![MediaCommand::OpenMix(MixRoom {
            mix: 2,
            sampling_rate: 16000,
            spatial: false
        })]
    );
    d.message(3, json!({"request": "join", "room": 50, "id": 9}), offer());
    let out = d.message(4, json!({"request": "destroy", "room": 50}), None);
    assert_eq!(
        sync(&out),
        json!({"audiobridge": "destroyed", "room": 50, "permanent": false})
    );
    assert_eq!(
        events_for(&out, 3),
        vec![json!({"audiobridge": "destroyed", "room": 50})]
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, PluginOutput::ClosePeerConnection { handle } if handle.0 == 3))
    );
    assert_eq!(media(&out), vec![MediaCommand::CloseMix { mix: 2 }]);
    // Its PC closing later changes nothing more.
    let out = d.peer(
        3,
        PeerEvent::Hangup {
            reason: HangupReason::ClosePc,
        },
    );
    assert!(out.is_empty(), "{out:?}");
    let out = d.message(3, json!({"request": "configure"}), None);
    assert_eq!(
        own_event(&out).0,
        err(487, "Can't configure (not in a room)")
    );
}

#[test]
fn changeroom_moves_between_mixes() {
    let mut d = direct();
    d.message(
        4,
        json!({"request": "create", "room": 60, "sampling_rate": 48000}),
        None,
    );
    join_up(&mut d, 1, 1);
    join_up(&mut d, 2, 2);
    d.message(
        3,
        json!({"request": "join", "room": 60, "id": 3, "display": "c"}),
        None,
    );
    let out = d.message(
        2,
        json!({"request": "changeroom", "room": 60, "display": "b2"}),
        None,
    );
    assert_eq!(
        events_for(&out, 1),
        vec![json!({"audiobridge": "event", "room": 1234, "leaving": 2})]
    );
    let ev3 = events_for(&out, 3);
    assert_eq!(ev3.len(), 1);
    assert_eq!(ev3[0]["audiobridge"], "joined");
    assert_eq!(ev3[0]["participants"][0]["display"], "b2");
    assert_eq!(ev3[0]["participants"][0]["setup"], true);
    let (data, _) = own_event(&out);
    assert_eq!(data["audiobridge"], "roomchanged");
    assert_eq!(data["room"], 60);
    assert_eq!(
        data["participants"],
        json!([{"id": 3, "display": "c", "setup": false, "muted": false}])
    );
    let new_id = data["id"].as_u64().unwrap_or(0);
    assert!(new_id > 0);
    assert_eq!(
        media(&out),
        vec![
            MediaCommand::LeaveMix {
                handle: HandleId(2)
            },
            MediaCommand::JoinMix {
                mix: 2,
                handle: HandleId(2),
                mid: "0".into(),
                settings: opus_settings(),
            }
        ]
    );
}

#[test]
fn talk_detection_windows_audio_levels() {
    let mut d = plugin(AudioBridgeConfig {
        rooms: vec![RoomConfig {
            audiolevel_event: true,
            audio_active_packets: 50,
            audio_level_average: 30,
            ..RoomConfig::new(AbId::Num(1234))
        }],
        ..AudioBridgeConfig::default()
    });
    join_up(&mut d, 1, 1);
    join_up(&mut d, 2, 2);
    let level = |d: &mut Direct<AudioBridge>, mid: &str, packets: u32, avg: u32| {
        d.input(PluginInput::AudioLevel {
            handle: HandleId(1),
            mid: mid.into(),
            packets,
            level_sum: packets * avg,
        })
    };
    // Not a full window yet; another mid is ignored.
    assert!(level(&mut d, "0", 30, 10).is_empty());
    assert!(level(&mut d, "1", 100, 10).is_empty());
    let out = level(&mut d, "0", 20, 10);
    let talking = json!({"audiobridge": "talking", "room": 1234, "id": 1});
    assert_eq!(events_for(&out, 1), vec![talking.clone()]);
    assert_eq!(events_for(&out, 2), vec![talking]);
    let out = d.message(
        3,
        json!({"request": "listparticipants", "room": 1234}),
        None,
    );
    assert_eq!(sync(&out)["participants"][0]["talking"], true);
    // Still talking: no event; silent: stopped-talking.
    assert!(level(&mut d, "0", 50, 20).is_empty());
    let out = level(&mut d, "0", 60, 90);
    assert_eq!(
        events_for(&out, 2),
        vec![json!({"audiobridge": "stopped-talking", "room": 1234, "id": 1})]
    );
    // A room without audiolevel_event says nothing.
    let mut quiet = direct();
    join_up(&mut quiet, 1, 1);
    let out = quiet.input(PluginInput::AudioLevel {
        handle: HandleId(1),
        mid: "0".into(),
        packets: 500,
        level_sum: 0,
    });
    assert!(out.is_empty());
}

#[test]
fn mix_rtp_forwarders() {
    let mut d = direct();
    let out = d.message(
        1,
        json!({"request": "rtp_forward", "room": 1234, "secret": "adminpwd", "host": "127.0.0.1",
            "port": 6000, "codec": "pcma", "ptype": 8, "ssrc": 42, "always_on": true}),
        None,
    );
    let data = sync(&out);
    let sid = data["stream_id"].as_u64().unwrap_or(0);
    assert!(sid > 0 && sid <= u64::from(u32::MAX));
    assert_eq!(
        data,
        json!({"audiobridge": "success", "room": 1234, "stream_id": sid, "host": "127.0.0.1", "port": 6000})
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::MixRtpForward {
            id: sid as u32,
            mix: 1,
            host: "127.0.0.1".into(),
            port: 6000,
            codec: MixCodec::Pcma,
            payload_type: 8,
            ssrc: Some(42),
            srtp: None,
        }]
    );
    let out = d.message(
        1,
        json!({"request": "listforwarders", "room": 1234, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(
        sync(&out),
        json!({"audiobridge": "forwarders", "room": 1234, "rtp_forwarders": [
            {"stream_id": sid, "ip": "127.0.0.1", "port": 6000, "ssrc": 42, "codec": "pcma",
             "ptype": 8, "always_on": true}]})
    );
    let out = d.message(
        1,
        json!({"request": "stop_rtp_forward", "room": 1234, "secret": "adminpwd", "stream_id": sid}),
        None,
    );
    assert_eq!(
        sync(&out),
        json!({"audiobridge": "success", "room": 1234, "stream_id": sid})
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::StopMixRtpForward { id: sid as u32 }]
    );
    let out = d.message(
        1,
        json!({"request": "listforwarders", "room": 1234, "secret": "adminpwd"}),
        None,
    );
    assert_eq!(sync(&out)["rtp_forwarders"], json!([]));
}

#[test]
fn plugin_offer_then_client_answer() {
    let mut d = direct();
    let out = d.message(
        1,
        json!({"request": "join", "room": 1234, "generate_offer": true}),
        None,
    );
    let (data, jsep) = own_event(&out);
    assert_eq!(data["audiobridge"], "joined");
    let jsep = jsep.expect("offer");
    assert_eq!(jsep.kind, JsepType::Offer);
    let sdp = jsep.sdp;
    assert!(sdp.contains("s=AudioBridge 1234\r\n"), "{sdp}");
    assert!(sdp.contains("m=audio 9 UDP/TLS/RTP/SAVPF 100\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:100 opus/48000/2\r\n"), "{sdp}");
    assert!(
        sdp.contains("a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"),
        "{sdp}"
    );
    assert!(
        sdp.contains("a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"),
        "{sdp}"
    );
    assert!(sdp.contains("maxplaybackrate=16000"), "{sdp}");
    assert!(media(&out).is_empty(), "no mix before the answer");
    // An offer now is refused.
    let out = d.message(1, json!({"request": "configure"}), offer());
    assert_eq!(
        own_event(&out).0,
        err(493, "Received an offer on a plugin-offered session")
    );
    // The client's answer.
    let answer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n\
a=rtpmap:100 opus/48000/2\r\n";
    let out = d.message(
        1,
        json!({"request": "configure"}),
        Some(Jsep::new(JsepType::Answer, answer)),
    );
    assert_eq!(
        own_event(&out),
        (json!({"audiobridge": "event", "result": "ok"}), None)
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::JoinMix {
            mix: 1,
            handle: HandleId(1),
            mid: "0".into(),
            settings: MixParticipant::default(),
        }]
    );
}

#[test]
fn string_ids_rooms_and_participants() {
    let mut d = plugin(AudioBridgeConfig {
        string_ids: true,
        rooms: vec![RoomConfig::new(AbId::Str("lobby".into()))],
        ..AudioBridgeConfig::default()
    });
    let out = d.message(1, json!({"request": "exists", "room": 1234}), None);
    assert_eq!(
        sync(&out),
        err(484, "Invalid element type (room should be a string)")
    );
    let out = d.message(1, json!({"request": "create"}), None);
    let created = sync(&out);
    assert!(
        created["room"].as_str().is_some_and(|r| r.len() == 36),
        "{created}"
    );
    let out = d.message(
        1,
        json!({"request": "join", "room": "lobby", "id": "alice"}),
        offer(),
    );
    assert_eq!(
        own_event(&out).0,
        json!({"audiobridge": "joined", "room": "lobby", "id": "alice", "participants": []})
    );
    let out = d.message(2, json!({"request": "join", "room": "lobby"}), None);
    let id = own_event(&out).0["id"].clone();
    assert!(id.as_str().is_some(), "{id}");
    assert_eq!(events_for(&out, 1)[0]["participants"][0]["id"], id);
    let out = d.message(
        3,
        json!({"request": "kick", "room": "lobby", "id": "alice"}),
        None,
    );
    assert_eq!(sync(&out), json!({"audiobridge": "success"}));
}

#[test]
fn handle_info_and_admin_messages() {
    let mut d = direct();
    join_up(&mut d, 1, 1);
    let out = d.input(PluginInput::QueryHandle {
        handle: HandleId(1),
    });
    let [PluginOutput::HandleInfo { info, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(info["state"], "inroom");
    assert_eq!(info["room"], 1234);
    assert_eq!(info["id"], 1);
    assert_eq!(info["mid"], "0");
    let out = d.input(PluginInput::QueryHandle {
        handle: HandleId(2),
    });
    let [PluginOutput::HandleInfo { info, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(info["state"], "idle");
    let admin = |d: &mut Direct<AudioBridge>, request: Value| {
        let out = d.input(PluginInput::AdminMessage { request });
        match out.as_slice() {
            [PluginOutput::AdminReply { response }] => response.clone(),
            _ => panic!("{out:?}"),
        }
    };
    assert_eq!(
        admin(&mut d, json!({"request": "exists", "room": 1234})),
        json!({"audiobridge": "success", "room": 1234, "exists": true})
    );
    assert_eq!(
        admin(&mut d, json!({"request": "join"})),
        err(482, "Unknown request 'join'")
    );
    assert_eq!(
        admin(&mut d, json!([1])),
        err(481, "JSON error: not an object")
    );
    assert_eq!(
        admin(&mut d, json!({"request": "resetdecoder"})),
        err(487, "Can't reset (not in a room)")
    );
}

#[test]
fn unknown_handles_get_a_hard_error() {
    let mut d = direct();
    let out = d.message(99, json!({"request": "list"}), None);
    assert!(matches!(
        out.as_slice(),
        [PluginOutput::Reply {
            result: portunus_ctrl::plugin::MessageResult::Error(_),
            ..
        }]
    ));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u64..30).prop_map(Value::from),
        Just(Value::from(1234)),
        Just(Value::from("adminpwd")),
        "[a-z0-9.]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "room",
        "id",
        "secret",
        "pin",
        "display",
        "muted",
        "codec",
        "prebuffer",
        "bitrate",
        "quality",
        "expected_loss",
        "volume",
        "spatial_position",
        "group",
        "groups",
        "rtp",
        "generate_offer",
        "update",
        "record",
        "action",
        "allowed",
        "host",
        "port",
        "ptype",
        "ssrc",
        "stream_id",
        "srtp_suite",
        "srtp_crypto",
        "sampling_rate",
        "permanent",
        "audiolevel_event",
        "audio_active_packets",
        "token",
        "admin_key",
        "new_pin",
    ])
    .prop_map(str::to_owned)
}

fn verb() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        "create",
        "edit",
        "destroy",
        "list",
        "exists",
        "allowed",
        "kick",
        "kick_all",
        "mute",
        "unmute",
        "mute_room",
        "unmute_room",
        "listparticipants",
        "resetdecoder",
        "rtp_forward",
        "stop_rtp_forward",
        "listforwarders",
        "enable_recording",
        "play_file",
        "join",
        "configure",
        "changeroom",
        "leave",
        "hangup",
    ])
    .prop_map(Value::from)
}

proptest! {
    /// Arbitrary bodies on a handle next to two joined participants: no panic, exactly one
    /// reply per message, and the plugin still answers a plain `listparticipants`.
    #[test]
    fn arbitrary_bodies_never_panic(
        bodies in prop::collection::vec(
            (prop::collection::vec((key(), json_value()), 0..6), verb(), any::<bool>()), 1..6)
    ) {
        let mut d = direct();
        join_up(&mut d, 1, 1);
        join_up(&mut d, 2, 2);
        for (members, verb, with_offer) in bodies {
            let mut body: Map<String, Value> = members.into_iter().collect();
            body.insert("request".into(), verb);
            let out = d.message(3, Value::Object(body), with_offer.then(|| Jsep::new(JsepType::Offer, OFFER)));
            let replies = out.iter().filter(|o| matches!(o, PluginOutput::Reply { .. })).count();
            prop_assert_eq!(replies, 1);
            d.input(PluginInput::AudioLevel { handle: HandleId(3), mid: "0".into(), packets: 7, level_sum: 70 });
        }
        let out = d.message(4, json!({"request": "listparticipants", "room": 1234}), None);
        prop_assert_eq!(out.len(), 1);
    }
}

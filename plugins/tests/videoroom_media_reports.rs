//! VideoRoom and EchoTest fed the media side's reports: talk detection from audio levels that
//! arrive a few times a second with many packets each (windows split at report boundaries,
//! per-publisher settings), simulcast layer changes as `substream`/`temporal` events, the
//! `bitrate_cap` room option; and the host routing both reports to the plugin that owns the
//! handle.

mod common;

use std::time::{Instant, SystemTime};

use common::{Direct, Host, OFFER, media, plugin_events};
use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{
    Jsep, JsepType, MediaCommand, MessageResult, PeerEvent, PluginInput, PluginOutput,
};
use portunus_plugins::WallClock;
use portunus_plugins::echotest::EchoTest;
use portunus_plugins::videoroom::{VideoRoom, VideoRoomConfig};
use serde_json::{Value, json};

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

fn events(out: &[PluginOutput]) -> Vec<Value> {
    plugin_events(out).into_iter().map(|(_, v)| v).collect()
}

/// The events `handle` got among `out`.
fn events_to(out: &[PluginOutput], handle: u64) -> Vec<Value> {
    out.iter()
        .filter_map(|o| match o {
            PluginOutput::Event {
                handle: h, data, ..
            } if h.0 == handle => Some(data.clone()),
            _ => None,
        })
        .collect()
}

fn sync_reply(out: &[PluginOutput]) -> Value {
    match out.first() {
        Some(PluginOutput::Reply {
            result: MessageResult::Success(v),
            ..
        }) => v.clone(),
        other => panic!("not a success: {other:?}"),
    }
}

/// Handle `h` joins `room` as publisher `id` (with extra join fields) and publishes OFFER,
/// PeerConnection up; returns the `joined` event.
fn publish_in(d: &mut Direct<VideoRoom>, h: u64, room: u64, id: u64, extra: Value) -> Value {
    let mut join = json!({"request": "join", "ptype": "publisher", "room": room, "id": id});
    if let (Some(j), Value::Object(e)) = (join.as_object_mut(), extra) {
        j.extend(e);
    }
    let joined = events(&d.message(h, join, None));
    d.message(
        h,
        json!({"request": "publish"}),
        Some(Jsep::new(JsepType::Offer, OFFER)),
    );
    d.peer(h, PeerEvent::WebrtcUp);
    joined.into_iter().next().expect("joined")
}

fn level(d: &mut Direct<VideoRoom>, h: u64, packets: u32, level_sum: u32) -> Vec<PluginOutput> {
    d.input(PluginInput::AudioLevel {
        handle: HandleId(h),
        mid: "0".into(),
        packets,
        level_sum,
    })
}

#[test]
fn talk_windows_are_split_at_report_boundaries() {
    let mut d = direct();
    d.message(
        5,
        json!({"request": "create", "room": 9, "audiolevel_event": true}),
        None,
    );
    publish_in(&mut d, 1, 9, 1, json!({}));
    publish_in(&mut d, 2, 9, 2, json!({}));
    // Janus's default window: 100 packets. Reports of 13 packets at -10 dBov (one per
    // 250 ms at 50 packets/s): the 8th report crosses the window after 9 of its packets.
    for _ in 0..7 {
        assert!(level(&mut d, 1, 13, 130).is_empty());
    }
    let out = level(&mut d, 1, 13, 130);
    let talking = json!({"videoroom": "talking", "room": 9, "id": 1, "mindex": 0, "mid": "0",
        "audio-level-dBov-avg": 10.0});
    assert_eq!(events_to(&out, 1), vec![talking.clone()], "the speaker too");
    assert_eq!(events_to(&out, 2), vec![talking], "the other participant");
    // The next window starts with the 4 packets left over (40), then quiet reports at
    // -80 dBov: 7 × 13 packets, and 5 of the next 13 (400 of 1040).
    for _ in 0..7 {
        assert!(level(&mut d, 1, 13, 1040).is_empty());
    }
    let out = level(&mut d, 1, 13, 1040);
    assert_eq!(
        events_to(&out, 2),
        vec![
            json!({"videoroom": "stopped-talking", "room": 9, "id": 1, "mindex": 0, "mid": "0",
                "audio-level-dBov-avg": 77.2})
        ]
    );
    let list = sync_reply(&d.message(5, json!({"request": "listparticipants", "room": 9}), None));
    assert_eq!(list["participants"][0]["talking"], false);
}

#[test]
fn a_report_larger_than_the_window_decides_once_per_window() {
    let mut d = direct();
    d.message(
        5,
        json!({"request": "create", "room": 9, "audiolevel_event": true,
            "audio_active_packets": 10}),
        None,
    );
    publish_in(&mut d, 1, 9, 1, json!({}));
    // One report of 20 packets averaging 63.5 fills two windows, both quiet.
    assert!(level(&mut d, 1, 20, 1270).is_empty());
    // 25 loud packets: two full windows (talking once) and 5 packets carried over.
    let out = level(&mut d, 1, 25, 250);
    assert_eq!(events(&out).len(), 1, "{out:?}");
    assert_eq!(events(&out)[0]["videoroom"], "talking");
    // 5 quiet packets complete the window: (5×10 + 5×100) / 10 = 55.
    let out = level(&mut d, 1, 5, 500);
    assert_eq!(events(&out)[0]["videoroom"], "stopped-talking");
    assert_eq!(events(&out)[0]["audio-level-dBov-avg"], 55.0);
}

#[test]
fn publishers_can_set_their_own_talk_detection() {
    let mut d = direct();
    d.message(
        5,
        json!({"request": "create", "room": 9, "audiolevel_event": true}),
        None,
    );
    let joined = publish_in(
        &mut d,
        1,
        9,
        1,
        json!({"audio_active_packets": 20, "audio_level_average": 50}),
    );
    assert_eq!(joined["audio_active_packets"], 20);
    assert_eq!(joined["audio_level_average"], 50);
    // -40 dBov is quiet for the room (25) but talking for this publisher (50), decided
    // after 20 packets instead of 100.
    let out = level(&mut d, 1, 20, 800);
    assert_eq!(
        events(&out),
        vec![
            json!({"videoroom": "talking", "room": 9, "id": 1, "mindex": 0, "mid": "0",
                "audio-level-dBov-avg": 40.0})
        ]
    );
    // `configure` changes them again.
    d.message(
        1,
        json!({"request": "configure", "audio_level_average": 30}),
        None,
    );
    let out = level(&mut d, 1, 20, 800);
    assert_eq!(events(&out)[0]["videoroom"], "stopped-talking");
    // A publisher that set nothing has no such members in `joined`.
    let joined = publish_in(&mut d, 2, 9, 2, json!({}));
    assert!(joined.get("audio_active_packets").is_none(), "{joined}");
}

#[test]
fn no_talk_events_unless_the_room_asks() {
    let mut d = direct();
    publish_in(&mut d, 1, 1234, 1, json!({}));
    assert!(level(&mut d, 1, 200, 0).is_empty());
    // Reports for a subscriber's or an unknown handle's audio go nowhere either.
    assert!(level(&mut d, 4, 200, 0).is_empty());
}

/// Subscriber 3 on feed 1's video (its mid "0"), answered and up.
fn subscriber(d: &mut Direct<VideoRoom>) {
    d.message(
        3,
        json!({"request": "join", "ptype": "subscriber", "room": 1234,
        "streams": [{"feed": 1, "mid": "1"}]}),
        None,
    );
    d.message(
        3,
        json!({"request": "start"}),
        Some(Jsep::new(JsepType::Answer, "v=0")),
    );
    d.peer(3, PeerEvent::WebrtcUp);
}

fn layers(d: &mut Direct<VideoRoom>, h: u64, substream: u8, temporal: u8) -> Vec<PluginOutput> {
    d.input(PluginInput::LayerChanged {
        handle: HandleId(h),
        mid: "0".into(),
        substream,
        temporal,
    })
}

#[test]
fn layer_changes_become_substream_and_temporal_events() {
    let mut d = direct();
    publish_in(&mut d, 1, 1234, 1, json!({}));
    subscriber(&mut d);
    // The first report names both layers.
    let out = layers(&mut d, 3, 0, 2);
    assert_eq!(
        events_to(&out, 3),
        vec![
            json!({"videoroom": "event", "room": 1234, "mid": "0", "substream": 0}),
            json!({"videoroom": "event", "room": 1234, "mid": "0", "temporal": 2}),
        ]
    );
    assert_eq!(events(&out).len(), 2, "only the subscriber hears of it");
    // Then only what changed.
    let out = layers(&mut d, 3, 0, 1);
    assert_eq!(
        events(&out),
        vec![json!({"videoroom": "event", "room": 1234, "mid": "0", "temporal": 1})]
    );
    let out = layers(&mut d, 3, 2, 1);
    assert_eq!(
        events(&out),
        vec![json!({"videoroom": "event", "room": 1234, "mid": "0", "substream": 2})]
    );
    assert!(layers(&mut d, 3, 2, 1).is_empty(), "no change, no event");
    // Asking for the layer already forwarded is answered at once, before `configured`.
    let out = d.message(
        3,
        json!({"request": "configure", "mid": "0", "substream": 2}),
        None,
    );
    assert_eq!(
        events(&out),
        vec![
            json!({"videoroom": "event", "room": 1234, "mid": "0", "substream": 2}),
            json!({"videoroom": "event", "room": 1234, "configured": "ok"}),
        ]
    );
    // Reports for a publisher, an unknown mid or a handle without a role are ignored.
    assert!(layers(&mut d, 1, 0, 0).is_empty());
    assert!(layers(&mut d, 4, 0, 0).is_empty());
    let out = d.input(PluginInput::LayerChanged {
        handle: HandleId(3),
        mid: "7".into(),
        substream: 0,
        temporal: 0,
    });
    assert!(out.is_empty());
}

#[test]
fn simulcast_stream_lists_show_the_forwarded_layers() {
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
    d.message(
        1,
        json!({"request": "publish"}),
        Some(Jsep::new(JsepType::Offer, offer)),
    );
    d.peer(1, PeerEvent::WebrtcUp);
    subscriber(&mut d);
    layers(&mut d, 3, 1, 0);
    // `switch` onto the same feed lists the streams with what is forwarded now.
    let out = d.message(
        3,
        json!({"request": "switch", "streams": [{"feed": 1, "mid": "1", "sub_mid": "0"}]}),
        None,
    );
    assert_eq!(
        events(&out)[0]["streams"][0]["simulcast"],
        json!({"substream": 1, "substream-target": 2, "temporal-layer": 0,
            "temporal-layer-target": 2})
    );
}

#[test]
fn bitrate_cap_makes_the_room_bitrate_a_ceiling() {
    let mut d = direct();
    d.message(
        5,
        json!({"request": "create", "room": 7, "bitrate": 128000, "bitrate_cap": true}),
        None,
    );
    d.message(
        5,
        json!({"request": "create", "room": 8, "bitrate": 128000}),
        None,
    );
    publish_in(&mut d, 1, 7, 1, json!({}));
    publish_in(&mut d, 2, 8, 2, json!({}));
    let cap = |d: &mut Direct<VideoRoom>, h: u64, bitrate: u64| {
        media(&d.message(h, json!({"request": "configure", "bitrate": bitrate}), None))
    };
    let set = |h: u64, bitrate: u32| {
        vec![MediaCommand::SetBitrateCap {
            handle: HandleId(h),
            bitrate,
        }]
    };
    // Capped: a publisher can lower its bitrate, not raise it above the room's.
    assert_eq!(cap(&mut d, 1, 500_000), set(1, 128_000));
    assert_eq!(cap(&mut d, 1, 100_000), set(1, 100_000));
    // Not capped: the room's bitrate is only the default.
    assert_eq!(cap(&mut d, 2, 500_000), set(2, 500_000));
    assert_eq!(cap(&mut d, 2, 100_000), set(2, 100_000));
    // `list` shows `bitrate_cap` right after `bitrate`, and only when set.
    let list = sync_reply(&d.message(5, json!({"request": "list"}), None));
    let room = |id: u64| {
        list["list"]
            .as_array()
            .and_then(|l| l.iter().find(|r| r["room"] == id))
            .cloned()
            .expect("room listed")
    };
    let keys: Vec<String> = room(7)
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let at = keys.iter().position(|k| k == "bitrate").expect("bitrate");
    assert_eq!(keys.get(at + 1).map(String::as_str), Some("bitrate_cap"));
    assert_eq!(room(7)["bitrate_cap"], true);
    assert!(room(8).get("bitrate_cap").is_none(), "{}", room(8));
    // A wrong type is refused like any other field.
    let out = d.message(
        5,
        json!({"request": "create", "room": 10, "bitrate_cap": "yes"}),
        None,
    );
    assert_eq!(
        sync_reply(&out),
        json!({"videoroom": "event", "error_code": 430,
            "error": "Invalid element type (bitrate_cap should be a boolean)"})
    );
}

#[test]
fn configured_rooms_take_bitrate_cap_too() {
    let mut config = VideoRoomConfig::default();
    config.rooms[0].bitrate_cap = true;
    let now = Instant::now();
    let mut d = Direct::new(VideoRoom::new(
        config,
        WallClock::new(now, SystemTime::UNIX_EPOCH),
        Some(3),
    ));
    d.attach(1);
    publish_in(&mut d, 1, 1234, 1, json!({}));
    let out = d.message(
        1,
        json!({"request": "configure", "bitrate": 1_000_000}),
        None,
    );
    assert_eq!(
        media(&out),
        vec![MediaCommand::SetBitrateCap {
            handle: HandleId(1),
            bitrate: 128_000
        }]
    );
}

#[test]
fn echotest_reports_layer_changes_in_its_own_shape() {
    let mut d = Direct::new(EchoTest::new());
    d.attach(1);
    d.message(
        1,
        json!({"audio": true, "video": true}),
        Some(Jsep::new(JsepType::Offer, OFFER)),
    );
    d.peer(1, PeerEvent::WebrtcUp);
    let report = |d: &mut Direct<EchoTest>, mid: &str, substream: u8, temporal: u8| {
        events(&d.input(PluginInput::LayerChanged {
            handle: HandleId(1),
            mid: mid.into(),
            substream,
            temporal,
        }))
    };
    assert_eq!(
        report(&mut d, "1", 1, 2),
        vec![
            json!({"echotest": "event", "videocodec": "vp8", "substream": 1}),
            json!({"echotest": "event", "videocodec": "vp8", "temporal": 2}),
        ]
    );
    assert_eq!(
        report(&mut d, "1", 1, 0),
        vec![json!({"echotest": "event", "videocodec": "vp8", "temporal": 0})]
    );
    assert!(report(&mut d, "0", 0, 0).is_empty(), "the audio m-line");
    // Asking for the layer already forwarded: the event comes at once, then the result.
    let out = d.message(1, json!({"temporal": 0}), None);
    assert_eq!(
        events(&out),
        vec![
            json!({"echotest": "event", "videocodec": "vp8", "temporal": 0}),
            json!({"echotest": "event", "result": "ok"}),
        ]
    );
}

#[test]
fn the_host_routes_reports_to_the_handles_plugin() {
    let mut h = Host::new();
    let v = h.attach("janus.plugin.videoroom");
    let other = h.attach("janus.plugin.videoroom");
    let echo = h.attach("janus.plugin.echotest");
    let r = h.sync(
        v,
        json!({"request": "create", "room": 9, "audiolevel_event": true,
            "audio_active_packets": 10}),
    );
    assert_eq!(r["videoroom"], "created");
    h.message(
        other,
        "j",
        json!({"request": "join", "ptype": "publisher", "room": 9, "id": 2}),
        None,
    );
    h.message(
        v,
        "j",
        json!({"request": "join", "ptype": "publisher", "room": 9, "id": 1}),
        None,
    );
    h.message(
        v,
        "p",
        json!({"request": "publish"}),
        Some(json!({"type": "offer", "sdp": OFFER})),
    );
    h.peer(v, PeerEvent::WebrtcUp);
    h.events();
    let now = h.now;
    h.cp.handle_audio_level(now, HandleId(v), "0".into(), 10, 50);
    let evs = h.events();
    let talking: Vec<&Value> = evs
        .iter()
        .filter(|e| e["plugindata"]["data"]["videoroom"] == "talking")
        .collect();
    assert_eq!(talking.len(), 2, "{evs:?}");
    assert!(talking.iter().any(|e| e["sender"] == other));
    assert_eq!(talking[0]["plugindata"]["data"]["id"], 1);
    // A report for a handle of another plugin goes to that plugin (EchoTest ignores audio
    // levels), and one for an unknown handle goes nowhere.
    h.cp.handle_audio_level(now, HandleId(echo), "0".into(), 10, 50);
    h.cp.handle_audio_level(now, HandleId(999_999), "0".into(), 10, 50);
    h.cp.handle_layer_changed(now, HandleId(999_999), "0".into(), 0, 0);
    assert!(h.events().is_empty());
}

//! Talk detection end to end: a str0m publisher in a VideoRoom room with `audiolevel_event`
//! sends Opus carrying RFC 6464 audio levels; the shard reads them, the engine routes the
//! reports to VideoRoom, and the room hears `talking` while it is loud and `stopped-talking`
//! once it is quiet.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use str0m::Event;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};

use crate::webrtc_tests::{Browser, Client, free_udp_port, start_server_plus};

const ROOM: u64 = 77;

/// VideoRoom with room 77: talk detection over 25 packets (half a second of 20 ms Opus),
/// talking below -25 dBov.
fn videoroom() -> portunus_plugins::videoroom::VideoRoom {
    use portunus_plugins::videoroom::{VideoRoom, VideoRoomConfig};
    let mut config = VideoRoomConfig::default();
    let mut room = config.rooms[0].clone();
    room.room = ROOM;
    room.description = "talk".into();
    room.audiolevel_event = true;
    room.audio_active_packets = 25;
    room.audio_level_average = 25;
    config.rooms.push(room);
    let clock = portunus_plugins::WallClock::new(Instant::now(), SystemTime::now());
    VideoRoom::new(config, clock, Some(5))
}

/// Writes one 20 ms Opus packet with audio level `level` (-dBov).
fn send_level(browser: &mut Browser, mid: Mid, n: u64, now: Instant, level: u8) {
    send_opus_with_level(browser, mid, n, now, level, &[0xfc, 0xff, 0xfe]);
}

/// Writes 20 ms Opus frame number `n` (`payload`) with audio level `level` (-dBov) in the
/// RFC 6464 extension; 127 (silence) is marked as no voice.
pub(crate) fn send_opus_with_level(
    browser: &mut Browser,
    mid: Mid,
    n: u64,
    now: Instant,
    level: u8,
    payload: &[u8],
) {
    let Some(w) = browser.rtc.writer(mid) else {
        return;
    };
    let opus = w
        .payload_params()
        .find(|p| p.spec().codec == str0m::format::Codec::Opus)
        .map(|p| p.pt());
    if let Some(pt) = opus {
        let time = MediaTime::new(n * 960, Frequency::FORTY_EIGHT_KHZ);
        let w = w.audio_level(-(level as i8), level < 127);
        w.write(pt, now, time, payload).expect("write");
    }
}

/// The VideoRoom event data of a Janus message, when it is one.
fn videoroom_data(v: &Value) -> Option<&Value> {
    (v["janus"] == "event").then(|| &v["plugindata"]["data"])
}

#[test]
fn a_loud_publisher_is_talking_then_stops() {
    let server = start_server_plus(Duration::from_secs(30), free_udp_port(), |cp| {
        cp.register_plugin(Box::new(videoroom())).expect("register");
    });
    let port = server.ports.ws.expect("ws port");
    let mut speaker_api = Client::connect(port);
    let mut listener_api = Client::connect(port);
    let (session, handle) = speaker_api.attach("janus.plugin.videoroom");
    let (l_session, l_handle) = listener_api.attach("janus.plugin.videoroom");
    listener_api.send(&json!({"janus": "message", "transaction": "j",
        "session_id": l_session, "handle_id": l_handle,
        "body": {"request": "join", "ptype": "publisher", "room": ROOM, "id": 2}}));
    speaker_api.send(&json!({"janus": "message", "transaction": "j",
        "session_id": session, "handle_id": handle,
        "body": {"request": "join", "ptype": "publisher", "room": ROOM, "id": 1}}));

    let mut browser = Browser::new();
    let mut change = browser.rtc.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, pending) = change.apply().expect("offer");
    speaker_api.send(&json!({"janus": "message", "transaction": "p",
        "session_id": session, "handle_id": handle, "body": {"request": "publish"},
        "jsep": {"type": "offer", "sdp": offer.to_sdp_string()}}));
    let event = speaker_api.jsep_event();
    let answer = event["jsep"]["sdp"].as_str().expect("VideoRoom answers");
    assert!(
        answer.contains("urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        "the answer keeps the audio-level extension: {answer}"
    );
    browser.accept_answer(pending, answer);

    // Loud (-10 dBov) until both participants hear `talking`, then silence until
    // `stopped-talking`.
    let mut heard: Vec<(&str, Value)> = Vec::new();
    let (mut connected, mut n) = (false, 0u64);
    let deadline = Instant::now() + Duration::from_secs(20);
    let stopped = |heard: &[(&str, Value)]| {
        heard
            .iter()
            .any(|(who, d)| *who == "listener" && d["videoroom"] == "stopped-talking")
    };
    while Instant::now() < deadline && !stopped(&heard) {
        let now = Instant::now();
        let talking_heard = heard
            .iter()
            .filter(|(_, d)| d["videoroom"] == "talking")
            .count()
            >= 2;
        if connected {
            n += 1;
            let level = if talking_heard { 127 } else { 10 };
            send_level(&mut browser, mid, n, now, level);
        }
        for event in browser.pump(now) {
            if matches!(event, Event::Connected) {
                connected = true;
            }
        }
        for (who, api) in [
            ("speaker", &mut speaker_api),
            ("listener", &mut listener_api),
        ] {
            while let Some(v) = api.try_recv() {
                if let Some(d) = videoroom_data(&v)
                    && (d["videoroom"] == "talking" || d["videoroom"] == "stopped-talking")
                {
                    heard.push((who, d.clone()));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(connected, "ICE/DTLS never connected");
    let talk: Vec<&(&str, Value)> = heard
        .iter()
        .filter(|(_, d)| d["videoroom"] == "talking")
        .collect();
    assert_eq!(
        talk.len(),
        2,
        "speaker and listener hear `talking`: {heard:?}"
    );
    for (_, d) in &talk {
        assert_eq!(d["room"], ROOM);
        assert_eq!(d["id"], 1);
        assert_eq!(d["mid"], mid.to_string(), "the offer's audio mid");
        assert_eq!(d["audio-level-dBov-avg"], 10.0, "{d}");
    }
    let stop = heard
        .iter()
        .find(|(who, d)| *who == "listener" && d["videoroom"] == "stopped-talking")
        .unwrap_or_else(|| panic!("the listener hears `stopped-talking`: {heard:?}"));
    let avg = stop.1["audio-level-dBov-avg"].as_f64().unwrap_or(0.0);
    assert!(avg > 25.0, "quiet on average: {}", stop.1);
    server.stop().expect("the server stops cleanly");
}

//! Pausing and resuming what a handle receives, end to end through the Janus API with str0m
//! peers: EchoTest `audio: false` / `audio: true`, Streaming `pause` / `start`, and a
//! VideoRoom subscriber's `pause` / `start`, and the same on a Streaming `data` mountpoint. The plugins express these as
//! `MediaCommand::SetSending`, which the engine turns into a pause flag on the dataplane's
//! subscription. Each test counts what arrives over windows of steady sending: some before
//! the pause, none while paused (after a short settle for packets already on their way), some
//! again after the resume.

use std::cell::RefCell;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use str0m::Event;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind};

use crate::streaming_data_tests::{sync, watch};
use crate::videoroom_shards_tests::{Publisher, Viewer, opus_frame, vp8_frame, write};
use crate::webrtc_tests::{
    Browser, Client, free_udp_port, mountpoint_opus, start_server, start_server_with,
};

/// How long media flows for one count.
const WINDOW: Duration = Duration::from_millis(1000);

/// How long after a pause or resume request before counting: the request's way through the
/// plugin and the shard's command queue, and packets already sent.
const SETTLE: Duration = Duration::from_millis(300);

/// Fewest packets a flowing window must deliver (about 50 are sent per window).
const FLOWING: u32 = 10;

/// Runs `step` until it says connected, for at most 10 s.
fn connect(mut step: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if step() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Pumps `browser` once and drains `api`; whether str0m reported the connection up.
fn browser_connected(browser: &mut Browser, api: &mut Client) -> bool {
    let up = browser
        .pump(Instant::now())
        .iter()
        .any(|e| matches!(e, Event::Connected));
    while api.try_recv().is_some() {}
    up
}

/// Counts the frames each phase delivers: flowing, paused (after `pause`), resumed (after
/// `resume`); `frame(send)` pumps once, sending a frame when `send`, and returns what arrived.
fn phases(
    mut frame: impl FnMut(bool) -> u32,
    pause: impl FnOnce(),
    resume: impl FnOnce(),
) -> [u32; 3] {
    let mut next = Instant::now();
    let mut window = |d: Duration, frame: &mut dyn FnMut(bool) -> u32| {
        let end = Instant::now() + d;
        let mut total = 0;
        while Instant::now() < end {
            let now = Instant::now();
            let send = now >= next;
            if send {
                next = now + Duration::from_millis(20);
            }
            total += frame(send);
            std::thread::sleep(Duration::from_millis(2));
        }
        total
    };
    let flowing = window(WINDOW, &mut frame);
    pause();
    window(SETTLE, &mut frame);
    let paused = window(WINDOW, &mut frame);
    resume();
    let resumed = window(SETTLE + WINDOW, &mut frame);
    [flowing, paused, resumed]
}

fn message(api: &mut Client, session: u64, handle: u64, body: Value, jsep: Option<Value>) {
    let mut m = json!({"janus": "message", "transaction": "t", "session_id": session,
        "handle_id": handle, "body": body});
    if let Some(jsep) = jsep {
        m["jsep"] = jsep;
    }
    api.send(&m);
}

#[test]
fn echotest_audio_off_stops_the_echo_and_audio_on_resumes_it() {
    let server = start_server(Duration::from_secs(30));
    let mut api = Client::connect(server.ports.ws.expect("ws port"));
    let (session, handle) = api.attach("janus.plugin.echotest");
    let mut browser = Browser::new();
    let mut change = browser.rtc.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().expect("offer");
    let offer = json!({"type": "offer", "sdp": offer.to_sdp_string()});
    message(
        &mut api,
        session,
        handle,
        json!({"audio": true}),
        Some(offer),
    );
    let event = api.jsep_event();
    let answer = event["jsep"]["sdp"].as_str().expect("EchoTest answers");
    browser.accept_answer(pending, answer);
    assert!(
        connect(|| browser_connected(&mut browser, &mut api)),
        "ICE/DTLS never connected"
    );

    let replies = RefCell::new(Vec::new());
    let api = RefCell::new(api);
    let browser = RefCell::new(browser);
    let frame = |send: bool| {
        let now = Instant::now();
        let mut b = browser.borrow_mut();
        if send {
            b.send_opus(mid, now, b"echo me");
        }
        let echoed = b
            .pump(now)
            .iter()
            .filter(|e| matches!(e, Event::MediaData(m) if m.data[..] == b"echo me"[..]))
            .count();
        while let Some(v) = api.borrow_mut().try_recv() {
            replies.borrow_mut().push(v);
        }
        u32::try_from(echoed).unwrap_or(u32::MAX)
    };
    let set_audio = |on: bool| {
        message(
            &mut api.borrow_mut(),
            session,
            handle,
            json!({"audio": on}),
            None,
        );
    };
    let [flowing, paused, resumed] = phases(frame, || set_audio(false), || set_audio(true));
    let replies = replies.into_inner();
    assert!(flowing >= FLOWING, "echoed before the pause: {flowing}");
    assert_eq!(paused, 0, "echoed with audio off; server said {replies:?}");
    assert!(
        resumed >= FLOWING,
        "echoed after audio on: {resumed}; server said {replies:?}"
    );
    let ok = replies
        .iter()
        .filter(|v| v["plugindata"]["data"]["result"] == "ok")
        .count();
    assert_eq!(ok, 2, "both requests answered: {replies:?}");
    server.stop().expect("the server stops cleanly");
}

#[test]
fn streaming_pause_stops_a_viewer_and_start_resumes_it() {
    let port = free_udp_port();
    let server = start_server_with(Duration::from_secs(30), port);
    let mut api = Client::connect(server.ports.ws.expect("ws port"));
    let (session, handle) = api.attach("janus.plugin.streaming");
    message(
        &mut api,
        session,
        handle,
        json!({"request": "watch", "id": 99}),
        None,
    );
    let event = api.jsep_event();
    let offer = event["jsep"]["sdp"]
        .as_str()
        .expect("the mountpoint's offer");
    let (mut browser, answer) = Browser::answering(offer);
    let answer = json!({"type": "answer", "sdp": answer});
    message(
        &mut api,
        session,
        handle,
        json!({"request": "start"}),
        Some(answer),
    );
    assert!(
        connect(|| browser_connected(&mut browser, &mut api)),
        "the viewer never connected"
    );

    // The source: plain Opus RTP into the mountpoint's port, all along.
    let feeder = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut seq = 0u16;
    let replies = RefCell::new(Vec::new());
    let api = RefCell::new(api);
    let frame = |send: bool| {
        if send {
            seq = seq.wrapping_add(1);
            let rtp = mountpoint_opus(seq);
            feeder.send_to(&rtp, ("127.0.0.1", port)).expect("feed");
        }
        let got = browser
            .pump(Instant::now())
            .iter()
            .filter(|e| matches!(e, Event::MediaData(m) if m.data[..] == b"mountpoint opus"[..]))
            .count();
        while let Some(v) = api.borrow_mut().try_recv() {
            replies.borrow_mut().push(v);
        }
        u32::try_from(got).unwrap_or(u32::MAX)
    };
    let request = |name: &str| {
        message(
            &mut api.borrow_mut(),
            session,
            handle,
            json!({"request": name}),
            None,
        );
    };
    let [flowing, paused, resumed] = phases(frame, || request("pause"), || request("start"));
    let replies = replies.into_inner();
    assert!(flowing >= FLOWING, "received before the pause: {flowing}");
    assert_eq!(paused, 0, "received while paused; server said {replies:?}");
    assert!(
        resumed >= FLOWING,
        "received after start: {resumed}; server said {replies:?}"
    );
    let status: Vec<&Value> = replies
        .iter()
        .map(|v| &v["plugindata"]["data"]["result"]["status"])
        .filter(|s| s.is_string())
        .collect();
    assert_eq!(
        status,
        [&json!("pausing"), &json!("started")],
        "{replies:?}"
    );
    server.stop().expect("the server stops cleanly");
}

#[test]
fn videoroom_subscriber_pause_stops_its_streams_and_start_resumes_them() {
    let server = start_server_with(Duration::from_secs(30), free_udp_port());
    let ws = server.ports.ws.expect("ws port");

    let Publisher {
        participant: mut publisher,
        mut sender,
        feed,
        audio_mid,
        video_mid,
    } = Publisher::publish(ws, "alice");
    // Subscribing needs the publisher up on the server's side too (`webrtcup`).
    assert!(
        connect(|| {
            sender.pump(Instant::now());
            publisher.drain();
            publisher.seen.iter().any(|v| v["janus"] == "webrtcup")
        }),
        "the publisher never came up: {:?}",
        publisher.seen
    );

    let mut viewer = Viewer::join(ws, feed);
    assert!(
        connect(|| {
            sender.pump(Instant::now());
            viewer.pump();
            viewer.connected
        }),
        "the subscriber never connected"
    );

    let mut n = 0u64;
    let viewer = RefCell::new(viewer);
    let frame = |send: bool| {
        let now = Instant::now();
        if send {
            n += 1;
            write(
                &mut sender,
                audio_mid,
                Codec::Opus,
                now,
                n * 1800,
                opus_frame(n),
            );
            write(
                &mut sender,
                video_mid,
                Codec::Vp8,
                now,
                n * 3000,
                vp8_frame(n),
            );
        }
        sender.pump(now);
        publisher.drain();
        let mut v = viewer.borrow_mut();
        let before = v.audio.len() + v.video.len();
        v.pump();
        u32::try_from(v.audio.len() + v.video.len() - before).unwrap_or(u32::MAX)
    };
    let request = |name: &str| {
        viewer
            .borrow_mut()
            .p
            .message(json!({"request": name}), None)
    };
    let counts = RefCell::new(Vec::new());
    let snapshot = || {
        let v = viewer.borrow();
        counts.borrow_mut().push((v.audio.len(), v.video.len()));
    };
    let [flowing, paused, resumed] = phases(
        frame,
        || {
            snapshot();
            request("pause");
        },
        || {
            snapshot();
            request("start");
        },
    );
    let mut viewer = viewer.into_inner();
    let counts = counts.into_inner();
    assert!(flowing >= FLOWING, "received before the pause: {flowing}");
    assert_eq!(paused, 0, "received while paused: {:?}", viewer.p.seen);
    assert!(resumed >= FLOWING, "received after start: {resumed}");
    viewer.p.wait_event(|d| d["paused"] == "ok");
    viewer.p.wait_event(|d| d["started"] == "ok");
    // Both kinds stopped and came back.
    let (audio_at_pause, video_at_pause) = counts[0];
    let (audio_at_start, video_at_start) = counts[1];
    assert!(audio_at_pause > 0 && video_at_pause > 0, "{counts:?}");
    assert!(
        viewer.audio.len() > audio_at_start && viewer.video.len() > video_at_start,
        "audio {} and video {} frames after start at {counts:?}",
        viewer.audio.len(),
        viewer.video.len()
    );
    server.stop().expect("the server stops cleanly");
}

#[test]
fn streaming_pause_stops_a_data_viewer_and_start_resumes_it() {
    let server = start_server_with(Duration::from_secs(30), free_udp_port());
    let ws = server.ports.ws.expect("ws port");
    let mut api = Client::connect(ws);
    let (session, admin) = api.attach("janus.plugin.streaming");
    let port = free_udp_port();
    let created = sync(
        &mut api,
        session,
        admin,
        json!({"request": "create", "type": "rtp", "id": 4401, "datatype": "text",
            "media": [{"type": "data", "mid": "d", "port": port}]}),
    );
    assert_eq!(created["streaming"], "created", "{created}");
    let mut viewer = watch(ws, 4401);
    let feeder = UdpSocket::bind("127.0.0.1:0").expect("bind");
    // Messages flow once the viewer's data channel is open.
    assert!(
        connect(|| {
            feeder.send_to(b"data", ("127.0.0.1", port)).expect("feed");
            viewer.pump();
            !viewer.received.is_empty()
        }),
        "the viewer never received a message"
    );
    let viewer = RefCell::new(viewer);
    let frame = |send: bool| {
        if send {
            feeder.send_to(b"data", ("127.0.0.1", port)).expect("feed");
        }
        let mut v = viewer.borrow_mut();
        let before = v.received.len();
        v.pump();
        u32::try_from(v.received.len() - before).unwrap_or(u32::MAX)
    };
    let request = |name: &str| {
        let mut v = viewer.borrow_mut();
        let (session, handle) = (v.session, v.handle);
        message(&mut v.api, session, handle, json!({"request": name}), None);
    };
    let [flowing, paused, resumed] = phases(frame, || request("pause"), || request("start"));
    assert!(flowing >= FLOWING, "received before the pause: {flowing}");
    assert_eq!(paused, 0, "received while paused");
    assert!(resumed >= FLOWING, "received after start: {resumed}");
    assert!(
        viewer
            .borrow()
            .received
            .iter()
            .all(|(binary, m)| !binary && m == b"data"),
        "messages intact"
    );
    server.stop().expect("the server stops cleanly");
}

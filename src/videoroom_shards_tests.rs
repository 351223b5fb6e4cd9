//! VideoRoom across shards end to end, through the Janus API over WebSocket: a str0m
//! publisher (Opus + VP8) publishes in room 1234 of a two-shard server, two str0m subscribers
//! join as subscribers (server offer, client answer, `start`) and land on different shards
//! (Admin `handle_info` says which), and each receives the publisher's audio and video with
//! the payloads intact. Then `unpublish`: the publisher gets `unpublished: "ok"`, another
//! participant `unpublished: <id>`, and the subscribers an `updated` event (autoupdate).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use str0m::Event;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};

use crate::webrtc_tests::{
    Browser, Client, eventually, free_udp_port, http_post, start_server_with,
};

pub(crate) const ROOM: u64 = 1234;

/// One participant: its own WebSocket, session and handle, and what the server sent it.
pub(crate) struct Participant {
    api: Client,
    session: u64,
    handle: u64,
    pub(crate) seen: Vec<Value>,
}

impl Participant {
    pub(crate) fn new(ws_port: u16) -> Self {
        let mut api = Client::connect(ws_port);
        let (session, handle) = api.attach("janus.plugin.videoroom");
        Self {
            api,
            session,
            handle,
            seen: Vec::new(),
        }
    }

    pub(crate) fn message(&mut self, body: Value, jsep: Option<Value>) {
        let mut m = json!({"janus": "message", "transaction": "t", "session_id": self.session,
            "handle_id": self.handle, "body": body});
        if let Some(jsep) = jsep {
            m["jsep"] = jsep;
        }
        self.api.send(&m);
    }

    /// Keeps everything the server sent so far.
    pub(crate) fn drain(&mut self) {
        while let Some(v) = self.api.try_recv() {
            self.seen.push(v);
        }
    }

    /// The first plugin event (not yet consumed) whose data satisfies `want`, within 5 s.
    pub(crate) fn wait_event(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(i) = self
                .seen
                .iter()
                .position(|v| v["janus"] == "event" && want(&v["plugindata"]["data"]))
            {
                return self.seen.remove(i);
            }
            assert!(
                Instant::now() < deadline,
                "no such event; got {:?}",
                self.seen
            );
            self.drain();
        }
    }

    /// Its shard, from Admin `handle_info`.
    fn shard(&self, admin: u16) -> u64 {
        let request = json!({"janus": "handle_info", "transaction": "h",
            "session_id": self.session, "handle_id": self.handle});
        eventually(|| {
            let reply: Value = serde_json::from_str(&http_post(admin, "/admin", &request)).ok()?;
            reply["info"]["webrtc"]["ice"]["shard"].as_u64()
        })
        .expect("handle_info names the shard")
    }
}

/// A subscriber: its participant, its str0m peer and the frames it received.
pub(crate) struct Viewer {
    pub(crate) p: Participant,
    browser: Browser,
    pub(crate) connected: bool,
    pub(crate) audio: Vec<Vec<u8>>,
    pub(crate) video: Vec<Vec<u8>>,
}

impl Viewer {
    /// Joins as a subscriber of `feed`, answers the server's offer and starts.
    pub(crate) fn join(ws_port: u16, feed: u64) -> Self {
        let mut p = Participant::new(ws_port);
        p.message(
            json!({"request": "join", "ptype": "subscriber", "room": ROOM,
                "streams": [{"feed": feed}]}),
            None,
        );
        let attached = p.wait_event(|d| d["videoroom"] == "attached");
        let streams = &attached["plugindata"]["data"]["streams"];
        let types: Vec<&str> = streams
            .as_array()
            .expect("streams")
            .iter()
            .filter_map(|s| s["type"].as_str())
            .collect();
        assert_eq!(types, ["audio", "video"], "{attached}");
        assert!(
            streams
                .as_array()
                .expect("streams")
                .iter()
                .all(|s| s["feed_id"] == feed),
            "{attached}"
        );
        let offer = attached["jsep"]["sdp"].as_str().expect("server offer");
        let (browser, answer) = Browser::answering(offer);
        p.message(
            json!({"request": "start"}),
            Some(json!({"type": "answer", "sdp": answer})),
        );
        let started = p.wait_event(|d| d["started"] == "ok");
        assert_eq!(
            started["plugindata"]["data"],
            json!({"videoroom": "event", "room": ROOM, "started": "ok"})
        );
        Self {
            p,
            browser,
            connected: false,
            audio: Vec::new(),
            video: Vec::new(),
        }
    }

    pub(crate) fn pump(&mut self) {
        for event in self.browser.pump(Instant::now()) {
            match event {
                Event::Connected => self.connected = true,
                Event::MediaData(m) => match m.params.spec().codec {
                    Codec::Opus => self.audio.push(m.data.to_vec()),
                    Codec::Vp8 => self.video.push(m.data.to_vec()),
                    _ => {}
                },
                _ => {}
            }
        }
        self.p.drain();
    }
}

/// Audio frame `n`: bytes that name it.
pub(crate) fn opus_frame(n: u64) -> Vec<u8> {
    format!("opus frame {n:05}").into_bytes()
}

/// Video frame `n`: a VP8 keyframe header, then bytes that name the frame (one packet).
pub(crate) fn vp8_frame(n: u64) -> Vec<u8> {
    let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
    f.extend_from_slice(&n.to_be_bytes());
    while f.len() < 600 {
        f.push((f.len() as u64 ^ n) as u8);
    }
    f
}

/// Writes one frame of `codec` on `mid`.
pub(crate) fn write(
    browser: &mut Browser,
    mid: Mid,
    codec: Codec,
    now: Instant,
    time: u64,
    data: Vec<u8>,
) {
    let Some(w) = browser.rtc.writer(mid) else {
        return;
    };
    let pt = w
        .payload_params()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt());
    if let Some(pt) = pt {
        w.write(pt, now, MediaTime::from_90khz(time), data)
            .expect("str0m writes");
    }
}

#[test]
fn a_publisher_reaches_subscribers_on_two_shards_and_unpublish_updates_them() {
    let server = start_server_with(Duration::from_secs(30), free_udp_port());
    let ws = server.ports.ws.expect("ws port");
    let admin = server.ports.admin.expect("admin port");

    // A participant that only watches the room's notifications.
    let mut watcher = Participant::new(ws);
    watcher.message(
        json!({"request": "join", "ptype": "publisher", "room": ROOM, "display": "watcher"}),
        None,
    );
    watcher.wait_event(|d| d["videoroom"] == "joined");

    let Publisher {
        participant: mut publisher,
        mut sender,
        feed,
        audio_mid,
        video_mid,
    } = Publisher::publish(ws, "alice");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut up = false;
    while !up && Instant::now() < deadline {
        up = sender
            .pump(Instant::now())
            .iter()
            .any(|e| matches!(e, Event::Connected));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(up, "the publisher connects");
    // Once the server has it up too (webrtcup), the room hears of the new publisher.
    let mut announced = false;
    while !announced && Instant::now() < deadline {
        sender.pump(Instant::now());
        watcher.drain();
        announced = watcher
            .seen
            .iter()
            .any(|v| v["plugindata"]["data"]["publishers"][0]["id"] == feed);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(announced, "the publisher is announced: {:?}", watcher.seen);

    // Two subscribers, one after the other: each PeerConnection goes to the least loaded
    // shard, so the second lands where the first did not.
    let mut subs = [Viewer::join(ws, feed), Viewer::join(ws, feed)];
    let shards: Vec<u64> = subs.iter().map(|v| v.p.shard(admin)).collect();
    assert_ne!(
        shards[0], shards[1],
        "the subscribers are on different shards"
    );

    let (mut sent_audio, mut sent_video) = (HashSet::new(), HashSet::new());
    let (mut n, mut next) = (0u64, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(20);
    let enough = |v: &Viewer| v.audio.len() >= 10 && v.video.len() >= 10;
    while Instant::now() < deadline && !subs.iter().all(enough) {
        let now = Instant::now();
        if now >= next && subs.iter().all(|v| v.connected) {
            n += 1;
            next = now + Duration::from_millis(20);
            let (audio, video) = (opus_frame(n), vp8_frame(n));
            sent_audio.insert(audio.clone());
            sent_video.insert(video.clone());
            write(&mut sender, audio_mid, Codec::Opus, now, n * 1800, audio);
            write(&mut sender, video_mid, Codec::Vp8, now, n * 3000, video);
        }
        sender.pump(now);
        for v in &mut subs {
            v.pump();
        }
        publisher.drain();
        watcher.drain();
        std::thread::sleep(Duration::from_millis(2));
    }
    for (i, v) in subs.iter().enumerate() {
        assert!(v.connected, "subscriber {i} connects");
        assert!(
            enough(v),
            "subscriber {i} (shard {}) got {} audio and {} video frames of {n}",
            shards[i],
            v.audio.len(),
            v.video.len()
        );
        assert!(
            v.audio.iter().all(|f| sent_audio.contains(f)),
            "subscriber {i}: audio payloads intact"
        );
        assert!(
            v.video.iter().all(|f| sent_video.contains(f)),
            "subscriber {i}: video payloads intact"
        );
    }

    // Unpublish: the publisher is told, the room is told, the subscribers are updated.
    publisher.message(json!({"request": "unpublish"}), None);
    let unpublished = publisher.wait_event(|d| d.get("unpublished").is_some());
    assert_eq!(
        unpublished["plugindata"]["data"],
        json!({"videoroom": "event", "room": ROOM, "unpublished": "ok"})
    );
    let heard = watcher.wait_event(|d| d.get("unpublished").is_some());
    assert_eq!(
        heard["plugindata"]["data"],
        json!({"videoroom": "event", "room": ROOM, "unpublished": feed})
    );
    for (i, v) in subs.iter_mut().enumerate() {
        let updated = v.p.wait_event(|d| d["videoroom"] == "updated");
        let data = &updated["plugindata"]["data"];
        assert_eq!(data["room"], ROOM, "subscriber {i}: {updated}");
        // The feed's m-lines stay, inactive, in the new offer (videoroom.md §5.4).
        let streams = data["streams"].as_array().expect("streams");
        assert_eq!(streams.len(), 2, "subscriber {i}: {updated}");
        assert!(
            streams.iter().all(|s| s["active"] == false),
            "subscriber {i}: {updated}"
        );
        let offer = updated["jsep"]["sdp"].as_str().expect("a new offer");
        assert_eq!(
            updated["jsep"]["type"], "offer",
            "subscriber {i}: {updated}"
        );
        assert_eq!(offer.matches("a=inactive").count(), 2, "{offer}");
        assert!(
            updated.get("transaction").is_none(),
            "subscriber {i}: spontaneous, no transaction: {updated}"
        );
    }
    server.stop().expect("the server stops cleanly");
}

/// A VideoRoom publisher in [`ROOM`] whose str0m peer sends Opus + VP8 (sendonly): joined,
/// published, and the server's answer accepted (ICE/DTLS still to run: pump `sender`).
pub(crate) struct Publisher {
    /// Its Janus API handle.
    pub(crate) participant: Participant,
    /// Its str0m peer.
    pub(crate) sender: Browser,
    /// Its publisher id.
    pub(crate) feed: u64,
    /// Its audio m-line.
    pub(crate) audio_mid: Mid,
    /// Its video m-line.
    pub(crate) video_mid: Mid,
}

impl Publisher {
    pub(crate) fn publish(ws: u16, display: &str) -> Self {
        let mut participant = Participant::new(ws);
        participant.message(
            json!({"request": "join", "ptype": "publisher", "room": ROOM, "display": display}),
            None,
        );
        let joined = participant.wait_event(|d| d["videoroom"] == "joined");
        let feed = joined["plugindata"]["data"]["id"]
            .as_u64()
            .expect("publisher id");
        let mut sender = Browser::new();
        let mut change = sender.rtc.sdp_api();
        let audio_mid = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video_mid = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().expect("offer");
        participant.message(
            json!({"request": "publish"}),
            Some(json!({"type": "offer", "sdp": offer.to_sdp_string()})),
        );
        let configured = participant.wait_event(|d| d["configured"] == "ok");
        let answer = configured["jsep"]["sdp"].as_str().expect("answer");
        sender.accept_answer(pending, answer);
        Self {
            participant,
            sender,
            feed,
            audio_mid,
            video_mid,
        }
    }
}

//! Audio mixing end to end: two str0m peers join one mix through the Janus API, each sends
//! Opus carrying its own tone, and each hears the other's tone and not its own, through the
//! real media engine, dataplane shards and mixer thread.
//!
//! The AudioBridge plugin lives elsewhere; the plugin here is a test double that answers an
//! audio offer and emits the mix intents AudioBridge emits (`OpenMix`, then `JoinMix` ahead
//! of the answer, which exercises the engine's pending join).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use portunus_ctrl::RunningServer;
use portunus_ctrl::media::{Jsep, JsepType};
use portunus_ctrl::plugin::{
    MediaCommand, MessageResult, MixParticipant, MixRoom, Plugin, PluginInfo, PluginInput,
    PluginOutput,
};
use portunus_sdp::jsep::{self, AnswerConfig};
use serde_json::{Value, json};
use str0m::Event;
use str0m::media::{Direction, MediaKind};

use crate::webrtc_tests::{Browser, Client, eventually, http_get};

const PLUGIN: &str = "portunus.plugin.testmixer";
const MIX: u64 = 42;

/// Answers audio offers and puts every offering handle into mix [`MIX`].
#[derive(Default)]
struct Mixing {
    out: VecDeque<PluginOutput>,
    opened: bool,
}

impl Plugin for Mixing {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PLUGIN,
            name: "Test mixer",
            author: "Portunus",
            description: "Joins every offer into one audio mix (test double)",
            version: 1,
            version_string: "0.0.1",
        }
    }

    fn handle(&mut self, _now: Instant, input: PluginInput) {
        let PluginInput::Message {
            handle,
            transaction,
            jsep: Some(offer),
            ..
        } = input
        else {
            return;
        };
        self.out.push_back(PluginOutput::Reply {
            handle,
            result: MessageResult::Ack { hint: None },
        });
        let sdp = portunus_sdp::Sdp::parse(&offer.sdp).expect("the core hands over valid SDP");
        let mid = sdp
            .media
            .iter()
            .find_map(|m| m.mid())
            .expect("an audio m-line with a mid")
            .to_owned();
        let answer = jsep::generate_answer(&sdp, &AnswerConfig::echotest(), &[]).expect("answer");
        if !self.opened {
            self.opened = true;
            self.out
                .push_back(PluginOutput::Media(MediaCommand::OpenMix(MixRoom {
                    mix: MIX,
                    sampling_rate: 16_000,
                    spatial: false,
                })));
        }
        // Before the answer: the engine must keep it until our description exists.
        self.out
            .push_back(PluginOutput::Media(MediaCommand::JoinMix {
                mix: MIX,
                handle,
                mid,
                settings: MixParticipant {
                    prebuffer_packets: 3,
                    ..MixParticipant::default()
                },
            }));
        self.out.push_back(PluginOutput::Event {
            handle,
            transaction: Some(transaction),
            data: json!({"result": "ok"}),
            jsep: Some(Jsep::new(JsepType::Answer, answer.to_string())),
        });
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop_front()
    }
}

/// The standard test server plus the test double above.
fn start_server() -> RunningServer {
    crate::webrtc_tests::start_server_plus(
        Duration::from_secs(30),
        crate::webrtc_tests::free_udp_port(),
        |cp| {
            cp.register_plugin(Box::new(Mixing::default()))
                .expect("register");
        },
    )
}

/// Energy of `samples` (48 kHz) at `freq` (Goertzel), normalised by length.
fn goertzel(samples: &[i16], freq: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / 48_000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s0 = f64::from(*x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / samples.len().max(1) as f64
}

/// The mixer's `portunus_mixer_total{kind="<kind>"}` sample in a `/metrics` body.
fn mixer_total(metrics: &str, kind: &str) -> Option<u64> {
    let prefix = format!("portunus_mixer_total{{kind=\"{kind}\"}}");
    let line = metrics.lines().find(|l| l.starts_with(&prefix))?;
    line.rsplit(' ').next()?.parse().ok()
}

struct Peer {
    /// (session, handle) of its Janus API handle.
    api_handle: (u64, u64),
    browser: Browser,
    mid: str0m::media::Mid,
    tone: f64,
    encoder: opus::Encoder,
    sent: u32,
    connected: bool,
    /// When ICE and DTLS came up: the tone's 20 ms frames are timed from here.
    connected_at: Option<Instant>,
    heard: Vec<Vec<u8>>,
    /// The RFC 6464 audio level (-dBov) its packets carry, if any; at 127 (silence) its
    /// frames are silent too.
    audio_level: Option<u8>,
}

impl Peer {
    fn join(api: &mut Client, tone: f64) -> Self {
        Self::join_with(api, PLUGIN, &json!({"request": "join"}), tone)
    }

    /// Attaches `plugin` and sends `body` with an audio offer; takes the answer.
    fn join_with(api: &mut Client, plugin: &str, body: &Value, tone: f64) -> Self {
        let (session, handle) = api.attach(plugin);
        let mut browser = Browser::new();
        let mut change = browser.rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().expect("offer");
        api.send(
            &json!({"janus": "message", "transaction": "j", "session_id": session,
            "handle_id": handle, "body": body,
            "jsep": {"type": "offer", "sdp": offer.to_sdp_string()}}),
        );
        let event = api.jsep_event();
        let answer = event["jsep"]["sdp"].as_str().expect("an answer");
        browser.accept_answer(pending, answer);
        let encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio)
            .expect("encoder");
        Self {
            api_handle: (session, handle),
            browser,
            mid,
            tone,
            encoder,
            sent: 0,
            connected: false,
            connected_at: None,
            heard: Vec::new(),
            audio_level: None,
        }
    }

    /// Moves packets; sends the next 20 ms of its tone when one is due.
    fn step(&mut self, now: Instant) {
        for event in self.browser.pump(now) {
            match event {
                Event::Connected => {
                    self.connected = true;
                    self.connected_at = Some(now);
                }
                Event::MediaData(m) => self.heard.push(m.data.to_vec()),
                _ => {}
            }
        }
        // Every frame that is due: a loop round can take longer than 20 ms (the API
        // connections' reads wait), and the mixer should get a real 50 packets/s.
        while self
            .connected_at
            .is_some_and(|t| now >= t + Duration::from_millis(20 * u64::from(self.sent)))
        {
            let amplitude = if self.audio_level == Some(127) {
                0.0
            } else {
                8000.0
            };
            let mut frame = [0i16; 960];
            for (k, s) in frame.iter_mut().enumerate() {
                let t = f64::from(self.sent * 960 + k as u32) / 48_000.0;
                *s = (amplitude * (2.0 * std::f64::consts::PI * self.tone * t).sin()) as i16;
            }
            let mut payload = [0u8; 1500];
            let len = self.encoder.encode(&frame, &mut payload).expect("encode");
            match self.audio_level {
                Some(level) => crate::talking_tests::send_opus_with_level(
                    &mut self.browser,
                    self.mid,
                    u64::from(self.sent),
                    now,
                    level,
                    &payload[..len],
                ),
                None => self.browser.send_opus(self.mid, now, &payload[..len]),
            }
            self.sent += 1;
        }
    }

    /// What it heard, decoded, without the first second (prebuffers, decoder start).
    fn decoded(&self) -> Vec<i16> {
        self.decoded_from(50)
    }

    /// What it heard from packet `first` on, decoded.
    fn decoded_from(&self, first: usize) -> Vec<i16> {
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder");
        let mut pcm = Vec::new();
        let mut out = [0i16; 5760];
        for p in self.heard.iter().skip(first) {
            let n = decoder.decode(p, &mut out, false).expect("decodable Opus");
            pcm.extend_from_slice(&out[..n]);
        }
        pcm
    }
}

#[test]
fn two_peers_in_a_mix_each_hear_the_other_and_not_themselves() {
    let server = start_server();
    let ws = server.ports.ws.expect("ws port");
    let (mut api_a, mut api_b) = (Client::connect(ws), Client::connect(ws));
    let mut a = Peer::join(&mut api_a, 700.0);
    let mut b = Peer::join(&mut api_b, 1900.0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    while Instant::now() < deadline && (a.heard.len() < 150 || b.heard.len() < 150) {
        let now = Instant::now();
        a.step(now);
        b.step(now);
        while api_a.try_recv().is_some() {}
        while api_b.try_recv().is_some() {}
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(a.connected && b.connected, "ICE/DTLS never connected");
    for (name, peer, own, other) in [("a", &a, 700.0, 1900.0), ("b", &b, 1900.0, 700.0)] {
        assert!(
            peer.heard.len() >= 150,
            "{name} heard {} packets",
            peer.heard.len()
        );
        let pcm = peer.decoded();
        let (own, other) = (goertzel(&pcm, own), goertzel(&pcm, other));
        assert!(
            other > 1e5,
            "{name} does not hear the other peer: {other:.0}"
        );
        assert!(
            own < other / 100.0,
            "{name} hears itself: own {own:.0}, other {other:.0}"
        );
    }

    // The mixer's counters reach /metrics.
    let admin = server.ports.admin.expect("admin port");
    let mixed = eventually(|| {
        let n = mixer_total(&http_get(admin, "/metrics"), "packets_in")?;
        (n > 100).then_some(n)
    });
    assert!(
        mixed.is_some(),
        "mixer counters on /metrics: {}",
        http_get(admin, "/metrics")
    );
    server.stop().expect("the server stops cleanly");
}

/// Moves both peers and drains both API connections until `done` holds or `limit` passes;
/// the events the API connections got, in order.
fn run_until(
    peers: (&mut Peer, &mut Peer),
    apis: (&mut Client, &mut Client),
    limit: Duration,
    done: impl Fn(&Peer, &Peer) -> bool,
) -> Vec<Value> {
    let (mut events, of_b) = run_until_each(peers, apis, limit, |a, b, _, _| done(a, b));
    events.extend(of_b);
    events
}

/// [`run_until`] with the events of each API connection apart (`a`'s, `b`'s), which `done`
/// sees too.
fn run_until_each(
    (a, b): (&mut Peer, &mut Peer),
    (api_a, api_b): (&mut Client, &mut Client),
    limit: Duration,
    done: impl Fn(&Peer, &Peer, &[Value], &[Value]) -> bool,
) -> (Vec<Value>, Vec<Value>) {
    let deadline = Instant::now() + limit;
    let (mut of_a, mut of_b) = (Vec::new(), Vec::new());
    while Instant::now() < deadline && !done(a, b, &of_a, &of_b) {
        let now = Instant::now();
        a.step(now);
        b.step(now);
        while let Some(e) = api_a.try_recv() {
            of_a.push(e);
        }
        while let Some(e) = api_b.try_recv() {
            of_b.push(e);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (of_a, of_b)
}

/// A server with the real AudioBridge plugin (its sample room 1234 included).
fn start_audiobridge_server() -> RunningServer {
    crate::webrtc_tests::start_server_plus(
        Duration::from_secs(10),
        crate::webrtc_tests::free_udp_port(),
        |cp| {
            let clock = portunus_plugins::WallClock::new(Instant::now(), SystemTime::now());
            let audiobridge = portunus_plugins::audiobridge::AudioBridge::new(
                portunus_plugins::audiobridge::AudioBridgeConfig::default(),
                clock,
                Some(3),
            );
            cp.register_plugin(Box::new(audiobridge)).expect("register");
        },
    )
}

/// The real AudioBridge plugin and Janus's sample room 1234 (16 kHz): two str0m participants
/// hear each other through the mixer, and once one mutes itself (`configure`), the other hears
/// only silence while the mix keeps flowing.
#[test]
fn audiobridge_room_1234_mixes_two_participants_and_mute_silences_one() {
    let server = start_audiobridge_server();
    let ws = server.ports.ws.expect("ws port");
    let (mut api_a, mut api_b) = (Client::connect(ws), Client::connect(ws));
    let join = |display: &str| json!({"request": "join", "room": 1234, "display": display});
    let ab = "janus.plugin.audiobridge";
    let mut a = Peer::join_with(&mut api_a, ab, &join("alice"), 700.0);
    let mut b = Peer::join_with(&mut api_b, ab, &join("bob"), 1900.0);
    let events = run_until(
        (&mut a, &mut b),
        (&mut api_a, &mut api_b),
        Duration::from_secs(20),
        |a, b| a.heard.len() >= 150 && b.heard.len() >= 150,
    );
    assert!(a.connected && b.connected, "ICE/DTLS never connected");
    for (name, peer, own, other) in [("alice", &a, 700.0, 1900.0), ("bob", &b, 1900.0, 700.0)] {
        assert!(
            peer.heard.len() >= 150,
            "{name} heard {} packets",
            peer.heard.len()
        );
        let pcm = peer.decoded();
        let (own, other) = (goertzel(&pcm, own), goertzel(&pcm, other));
        assert!(other > 1e5, "{name} does not hear the other: {other:.0}");
        assert!(
            own < other / 100.0,
            "{name} hears itself: own {own:.0}, other {other:.0}"
        );
    }
    // Both PeerConnections came up, and AudioBridge told the others (`setup: true`).
    let setup_for = |display: &str| {
        events.iter().any(|e| {
            e["plugindata"]["data"]["participants"]
                .as_array()
                .is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["display"] == display && p["setup"] == true)
                })
        })
    };
    assert!(
        setup_for("bob") || setup_for("alice"),
        "no setup:true update among {events:?}"
    );

    // Alice mutes herself: Bob is told, and from then on hears silence.
    let (session, handle) = a.api_handle;
    api_a.send(
        &json!({"janus": "message", "transaction": "m", "session_id": session,
        "handle_id": handle, "body": {"request": "configure", "muted": true}}),
    );
    let heard_before = b.heard.len();
    let events = run_until(
        (&mut a, &mut b),
        (&mut api_a, &mut api_b),
        Duration::from_secs(20),
        |_, b| b.heard.len() >= heard_before + 150,
    );
    assert!(
        events
            .iter()
            .any(|e| e["plugindata"]["data"]["participants"]
                .as_array()
                .is_some_and(|ps| ps
                    .iter()
                    .any(|p| p["display"] == "alice" && p["muted"] == true))),
        "bob was not told that alice muted: {events:?}"
    );
    assert!(
        b.heard.len() >= heard_before + 150,
        "the mix stopped flowing to bob"
    );
    // Skip half a second after the request (the next tick, then the jitter of the return path).
    let pcm = b.decoded_from(heard_before + 25);
    let muted = goertzel(&pcm, 700.0);
    assert!(
        muted < 1e3,
        "bob still hears alice after she muted: {muted:.0}"
    );
    // Her shard stopped copying her audio to the mixer: over those ~3 s she sent ~150
    // packets, and the mixer saw only the few already on their way when she muted.
    let admin = server.ports.admin.expect("admin port");
    let dropped_muted = eventually(|| mixer_total(&http_get(admin, "/metrics"), "muted"))
        .expect("the mixer's muted counter on /metrics");
    assert!(
        dropped_muted < 20,
        "{dropped_muted} packets reached the mixer while alice was muted"
    );
    server.stop().expect("the server stops cleanly");
}

/// The AudioBridge event data of Janus message `v`, when it is a talk-detection event.
fn talk_event(v: &Value) -> Option<&Value> {
    let data = &v["plugindata"]["data"];
    (v["janus"] == "event"
        && (data["audiobridge"] == "talking" || data["audiobridge"] == "stopped-talking"))
        .then_some(data)
}

/// The talk-detection events among `events`.
fn talk_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter_map(talk_event).collect()
}

/// Talk detection through the real AudioBridge plugin, shards and mixer: in a room created
/// with `audiolevel_event`, a participant whose packets carry a loud RFC 6464 level (10 dBov)
/// is announced as `talking` to both participants (the speaker included, audiobridge.md
/// §4.6), and once its packets say silence (127), as `stopped-talking`. The other participant
/// sends no levels and is never announced.
#[test]
fn audiobridge_announces_talking_and_stopped_talking_to_the_whole_room() {
    const ROOM: u64 = 4321;
    let server = start_audiobridge_server();
    let ws = server.ports.ws.expect("ws port");
    let (mut api_a, mut api_b) = (Client::connect(ws), Client::connect(ws));
    let ab = "janus.plugin.audiobridge";

    // The room: talk detection over 10 packets (200 ms), talking below 25 dBov on average.
    let (session, handle) = api_a.attach(ab);
    api_a.send(
        &json!({"janus": "message", "transaction": "create", "session_id": session,
        "handle_id": handle, "body": {"request": "create", "room": ROOM,
        "audiolevel_event": true, "audio_active_packets": 10, "audio_level_average": 25}}),
    );
    let created = (0..10)
        .map(|_| api_a.recv())
        .find(|v| v["transaction"] == "create")
        .expect("a reply to create");
    assert_eq!(
        created["plugindata"]["data"],
        json!({"audiobridge": "created", "room": ROOM, "permanent": false}),
        "{created}"
    );

    let join = |id: u64, display: &str| json!({"request": "join", "room": ROOM, "id": id, "display": display});
    let mut a = Peer::join_with(&mut api_a, ab, &join(1, "alice"), 700.0);
    let mut b = Peer::join_with(&mut api_b, ab, &join(2, "bob"), 1900.0);
    a.audio_level = Some(10);

    let talking = json!({"audiobridge": "talking", "room": ROOM, "id": 1});
    let stopped = json!({"audiobridge": "stopped-talking", "room": ROOM, "id": 1});
    let has = |events: &[Value], want: &Value| talk_events(events).contains(&want);
    let (of_a, of_b) = run_until_each(
        (&mut a, &mut b),
        (&mut api_a, &mut api_b),
        Duration::from_secs(20),
        |_, _, of_a, of_b| has(of_a, &talking) && has(of_b, &talking),
    );
    assert!(a.connected && b.connected, "ICE/DTLS never connected");
    for (name, events) in [("alice", &of_a), ("bob", &of_b)] {
        assert_eq!(
            talk_events(events),
            vec![&talking],
            "{name} hears alice talking, once"
        );
    }

    // Alice goes quiet: both hear that she stopped, and nothing about bob, who sends no levels.
    a.audio_level = Some(127);
    let (of_a, of_b) = run_until_each(
        (&mut a, &mut b),
        (&mut api_a, &mut api_b),
        Duration::from_secs(20),
        |_, _, of_a, of_b| has(of_a, &stopped) && has(of_b, &stopped),
    );
    for (name, events) in [("alice", &of_a), ("bob", &of_b)] {
        assert_eq!(
            talk_events(events),
            vec![&stopped],
            "{name} hears alice stop talking, once"
        );
    }
    server.stop().expect("the server stops cleanly");
}

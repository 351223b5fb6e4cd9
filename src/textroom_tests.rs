//! TextRoom end to end between two str0m peers, as janus.js drives it: attach
//! `janus.plugin.textroom`, `setup` (the plugin offers one `m=application` line), str0m
//! answers, `ack` carries the answer; once ICE/DTLS/SCTP are up the peer opens its data
//! channel and speaks the TextRoom protocol on it (join, public message, whisper, leave)
//! while a management request (`listparticipants`) goes over the Janus API. Every message is
//! checked field by field against `shared/janus-api/textroom.md`, and each peer's whole
//! data-channel transcript is checked in order, so a whisper that reached a bystander or a
//! missing `leave` fails the test.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use str0m::Event;
use str0m::channel::{ChannelConfig, ChannelId};

use crate::streaming_data_tests::sync;
use crate::webrtc_tests::{Browser, Client, free_udp_port, start_server_plus};

const TEXTROOM: &str = "janus.plugin.textroom";

/// One chat client: its Janus API connection and handle, and its str0m peer.
struct Peer {
    api: Client,
    session: u64,
    handle: u64,
    browser: Browser,
    connected: bool,
    channel: Option<ChannelId>,
    open: bool,
    /// Every JSON text that arrived on the data channel, in order.
    received: Vec<Value>,
}

impl Peer {
    /// Attaches, asks for the plugin's offer with `setup`, answers it with `ack`.
    fn setup(ws_port: u16) -> Self {
        let mut api = Client::connect(ws_port);
        let (session, handle) = api.attach(TEXTROOM);
        api.send(
            &json!({"janus": "message", "transaction": "setup", "session_id": session,
            "handle_id": handle, "body": {"request": "setup"}}),
        );
        assert_eq!(
            api.recv(),
            json!({"janus": "ack", "session_id": session, "transaction": "setup"})
        );
        let event = api.recv();
        assert_eq!(event["janus"], "event", "{event}");
        assert_eq!(event["transaction"], "setup", "{event}");
        assert_eq!(event["plugindata"]["plugin"], TEXTROOM, "{event}");
        assert_eq!(
            event["plugindata"]["data"],
            json!({"textroom": "event", "result": "ok"})
        );
        assert_eq!(event["jsep"]["type"], "offer", "{event}");
        let offer = event["jsep"]["sdp"].as_str().expect("the plugin's offer");
        assert!(offer.contains("s=Janus TextRoom plugin\r\n"), "{offer}");
        assert!(
            offer.contains(" UDP/DTLS/SCTP webrtc-datachannel\r\n"),
            "{offer}"
        );
        assert!(offer.contains("a=sctp-port:5000\r\n"), "{offer}");
        assert_eq!(offer.matches("m=").count(), 1, "data only: {offer}");

        let (browser, answer) = Browser::answering(offer);
        api.send(
            &json!({"janus": "message", "transaction": "ack", "session_id": session,
            "handle_id": handle, "body": {"request": "ack"},
            "jsep": {"type": "answer", "sdp": answer}}),
        );
        assert_eq!(
            api.recv(),
            json!({"janus": "ack", "session_id": session, "transaction": "ack"})
        );
        let event = api.recv();
        assert_eq!(event["janus"], "event", "{event}");
        assert_eq!(event["transaction"], "ack", "{event}");
        assert_eq!(
            event["plugindata"]["data"],
            json!({"textroom": "event", "result": "ok"})
        );
        assert!(event.get("jsep").is_none(), "{event}");
        Self {
            api,
            session,
            handle,
            browser,
            connected: false,
            channel: None,
            open: false,
            received: Vec::new(),
        }
    }

    /// Moves datagrams, collects data-channel JSON and opens the channel once connected (as
    /// janus.js does: the browser creates `JanusDataChannel`). Janus API events
    /// (`webrtcup`…) are read and dropped.
    fn pump(&mut self) {
        while self.api.try_recv().is_some() {}
        for event in self.browser.pump(Instant::now()) {
            match event {
                Event::Connected => self.connected = true,
                Event::ChannelOpen(id, _) if Some(id) == self.channel => self.open = true,
                Event::ChannelData(d) => {
                    assert!(!d.binary, "TextRoom sends text");
                    let v: Value = serde_json::from_slice(&d.data).unwrap_or_else(|e| {
                        panic!("not JSON ({e}): {}", String::from_utf8_lossy(&d.data))
                    });
                    self.received.push(v);
                }
                _ => {}
            }
        }
        if self.connected && self.channel.is_none() {
            let config = ChannelConfig {
                label: "JanusDataChannel".into(),
                ..ChannelConfig::default()
            };
            self.channel = Some(self.browser.rtc.direct_api().create_data_channel(config));
        }
    }

    /// Sends one TextRoom request as text on the data channel.
    fn say(&mut self, request: &Value) {
        let id = self.channel.expect("the channel is open");
        let mut channel = self.browser.rtc.channel(id).expect("the channel exists");
        channel
            .write(false, request.to_string().as_bytes())
            .expect("written to the data channel");
    }
}

/// Pumps both peers until `done` holds, for at most 10 s.
fn pump_until(peers: &mut [&mut Peer], what: &str, mut done: impl FnMut(&[&mut Peer]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for p in peers.iter_mut() {
            p.pump();
        }
        if done(peers) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let transcripts: Vec<&Vec<Value>> = peers.iter().map(|p| &p.received).collect();
    panic!("{what}: not within 10 s; received so far {transcripts:?}");
}

/// Whether `date` has the shape of `strftime("%FT%T%z")`: `2023-01-17T10:20:30+0000`.
fn is_janus_date(date: &str) -> bool {
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (b[19] == b'+' || b[19] == b'-')
        && digits(20..24)
}

/// The transcript with each `message` event's `date` checked and taken out, so the rest can
/// be compared exactly.
fn dateless(received: &[Value]) -> Vec<Value> {
    received
        .iter()
        .map(|v| {
            let mut v = v.clone();
            if v["textroom"] == "message"
                && let Some(m) = v.as_object_mut()
            {
                let date = m.remove("date");
                let date = date.as_ref().and_then(Value::as_str).unwrap_or_default();
                assert!(is_janus_date(date), "date {date:?} in {v}");
            }
            v
        })
        .collect()
}

#[test]
fn two_str0m_peers_chat_through_a_textroom_over_data_channels() {
    let server = start_server_plus(Duration::from_secs(30), free_udp_port(), |cp| {
        use portunus_plugins::textroom::{TextRoom, TextRoomConfig};
        let clock = portunus_plugins::WallClock::new(Instant::now(), SystemTime::now());
        let textroom = TextRoom::new(TextRoomConfig::default(), clock, Some(3));
        cp.register_plugin(Box::new(textroom)).expect("register");
    });
    let ws = server.ports.ws.expect("ws port");
    let mut alice = Peer::setup(ws);
    let mut bob = Peer::setup(ws);
    pump_until(&mut [&mut alice, &mut bob], "data channels open", |p| {
        p.iter().all(|p| p.open)
    });

    // Alice joins an empty room: the join event about herself, then the reply.
    alice.say(
        &json!({"textroom": "join", "transaction": "ja", "room": 1234,
        "username": "alice"}),
    );
    pump_until(&mut [&mut alice, &mut bob], "alice's join", |p| {
        p[0].received.len() >= 2
    });
    // Bob joins with a display name: both see his join, his reply lists alice.
    bob.say(
        &json!({"textroom": "join", "transaction": "jb", "room": 1234,
        "username": "bob", "display": "Bob"}),
    );
    pump_until(&mut [&mut alice, &mut bob], "bob's join", |p| {
        p[0].received.len() >= 3 && p[1].received.len() >= 2
    });

    // The Janus API sees both (Janus keeps participants in a hash table: order is free).
    let listed = sync(
        &mut alice.api,
        alice.session,
        alice.handle,
        json!({"request": "listparticipants", "room": 1234}),
    );
    let mut participants = listed["participants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    participants.sort_by_key(|p| p["username"].as_str().map(str::to_owned));
    assert_eq!(
        listed.as_object().map(|m| m.len()),
        Some(2),
        "only room and participants, no textroom key: {listed}"
    );
    assert_eq!(listed["room"], 1234, "{listed}");
    assert_eq!(
        participants,
        vec![
            json!({"username": "alice"}),
            json!({"username": "bob", "display": "Bob"})
        ]
    );

    // A public message reaches both, the sender included; then the sender's reply.
    alice.say(
        &json!({"textroom": "message", "transaction": "m1", "room": 1234,
        "text": "hello everyone"}),
    );
    pump_until(&mut [&mut alice, &mut bob], "the public message", |p| {
        p[0].received.len() >= 5 && p[1].received.len() >= 3
    });
    // A whisper to alice: only she gets it; bob's reply says it was delivered. Bob's channel
    // is ordered and the plugin delivers before it replies, so a whisper leaking to bob
    // would sit before his reply in his transcript.
    bob.say(
        &json!({"textroom": "message", "transaction": "w1", "room": 1234,
        "text": "psst", "to": "alice"}),
    );
    pump_until(&mut [&mut alice, &mut bob], "the whisper", |p| {
        p[0].received.len() >= 6 && p[1].received.len() >= 4
    });
    // Bob leaves: alice is told, bob gets the event and his reply.
    bob.say(&json!({"textroom": "leave", "transaction": "lb", "room": 1234}));
    pump_until(&mut [&mut alice, &mut bob], "bob's leave", |p| {
        p[0].received.len() >= 7 && p[1].received.len() >= 6
    });

    let alice_saw = dateless(&alice.received);
    assert_eq!(
        alice_saw,
        vec![
            json!({"textroom": "join", "room": 1234, "username": "alice"}),
            json!({"textroom": "success", "transaction": "ja", "participants": []}),
            json!({"textroom": "join", "room": 1234, "username": "bob", "display": "Bob"}),
            json!({"textroom": "message", "room": 1234, "from": "alice",
                "text": "hello everyone"}),
            json!({"textroom": "success", "transaction": "m1"}),
            json!({"textroom": "message", "room": 1234, "from": "bob", "text": "psst",
                "whisper": true}),
            json!({"textroom": "leave", "room": 1234, "username": "bob"}),
        ]
    );
    let bob_saw = dateless(&bob.received);
    assert_eq!(
        bob_saw,
        vec![
            json!({"textroom": "join", "room": 1234, "username": "bob", "display": "Bob"}),
            json!({"textroom": "success", "transaction": "jb",
                "participants": [{"username": "alice"}]}),
            json!({"textroom": "message", "room": 1234, "from": "alice",
                "text": "hello everyone"}),
            json!({"textroom": "success", "transaction": "w1", "sent": {"alice": true}}),
            json!({"textroom": "leave", "room": 1234, "username": "bob"}),
            json!({"textroom": "success", "transaction": "lb"}),
        ]
    );

    // After the leave the API lists alice alone; bob's handle can still ask.
    let listed = sync(
        &mut bob.api,
        bob.session,
        bob.handle,
        json!({"request": "listparticipants", "room": 1234}),
    );
    assert_eq!(
        listed,
        json!({"room": 1234, "participants": [{"username": "alice"}]})
    );

    // Bob comes back, then hangs his PeerConnection up through the Janus API: closing the
    // PeerConnection takes him out of every room, and alice is told.
    bob.say(
        &json!({"textroom": "join", "transaction": "jb2", "room": 1234,
        "username": "bob"}),
    );
    pump_until(&mut [&mut alice, &mut bob], "bob's second join", |p| {
        p[0].received.len() >= 8 && p[1].received.len() >= 8
    });
    assert_eq!(
        dateless(&bob.received[6..]),
        vec![
            json!({"textroom": "join", "room": 1234, "username": "bob"}),
            json!({"textroom": "success", "transaction": "jb2",
                "participants": [{"username": "alice"}]}),
        ]
    );
    bob.api.send(
        &json!({"janus": "hangup", "transaction": "h", "session_id": bob.session,
        "handle_id": bob.handle}),
    );
    pump_until(&mut [&mut alice], "the leave after bob's hangup", |p| {
        p[0].received.len() >= 9
    });
    assert_eq!(
        dateless(&alice.received[7..]),
        vec![
            json!({"textroom": "join", "room": 1234, "username": "bob"}),
            json!({"textroom": "leave", "room": 1234, "username": "bob"}),
        ]
    );
    let listed = sync(
        &mut alice.api,
        alice.session,
        alice.handle,
        json!({"request": "listparticipants", "room": 1234}),
    );
    assert_eq!(
        listed,
        json!({"room": 1234, "participants": [{"username": "alice"}]})
    );
    server.stop().expect("the server stops cleanly");
}

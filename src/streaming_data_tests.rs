//! Streaming `data` mountpoints end to end: mountpoints created through the Janus API
//! (WebSocket) with a `data` stream, str0m viewers that `watch` (the offer has an
//! `m=application` data-channel line), answer with `start` and open their data channel, and
//! the datagrams sent to the mountpoints' ports arrive on those channels byte for byte, as
//! text or binary per `datatype`; with `buffermsg` a viewer first gets the message that
//! arrived before it watched.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use str0m::Event;
use str0m::channel::ChannelConfig;

use crate::webrtc_tests::{Browser, Client, free_udp_port, start_server_with};

/// A viewer of one mountpoint: its own WebSocket and handle, and its str0m peer.
pub(crate) struct Viewer {
    pub(crate) api: Client,
    pub(crate) session: u64,
    pub(crate) handle: u64,
    browser: Browser,
    pub(crate) connected: bool,
    channel_asked: bool,
    pub(crate) received: Vec<(bool, Vec<u8>)>,
}

/// A synchronous request on `handle`: the plugin's answer.
pub(crate) fn sync(api: &mut Client, session: u64, handle: u64, body: Value) -> Value {
    api.send(
        &json!({"janus": "message", "transaction": "sync", "session_id": session,
        "handle_id": handle, "body": body}),
    );
    let reply = api.recv();
    assert_eq!(reply["janus"], "success", "{reply}");
    reply["plugindata"]["data"].clone()
}

/// Watches mountpoint `id` with a fresh str0m viewer and answers its offer.
pub(crate) fn watch(ws_port: u16, id: u64) -> Viewer {
    let mut api = Client::connect(ws_port);
    let (session, handle) = api.attach("janus.plugin.streaming");
    api.send(
        &json!({"janus": "message", "transaction": "w", "session_id": session,
        "handle_id": handle, "body": {"request": "watch", "id": id}}),
    );
    let event = api.jsep_event();
    assert_eq!(
        event["plugindata"]["data"]["result"]["status"], "preparing",
        "{event}"
    );
    let offer = event["jsep"]["sdp"].as_str().expect("offer");
    assert!(
        offer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
        "{offer}"
    );
    let (browser, answer) = Browser::answering(offer);
    api.send(
        &json!({"janus": "message", "transaction": "s", "session_id": session,
        "handle_id": handle, "body": {"request": "start"},
        "jsep": {"type": "answer", "sdp": answer}}),
    );
    Viewer {
        api,
        session,
        handle,
        browser,
        connected: false,
        channel_asked: false,
        received: Vec::new(),
    }
}

impl Viewer {
    pub(crate) fn pump(&mut self) {
        while self.api.try_recv().is_some() {}
        for event in self.browser.pump(Instant::now()) {
            match event {
                Event::Connected => self.connected = true,
                Event::ChannelData(d) => self.received.push((d.binary, d.data)),
                _ => {}
            }
        }
        // As janus.js does for a data-capable viewer: the viewer opens the channel.
        if self.connected && !self.channel_asked {
            self.channel_asked = true;
            self.browser
                .rtc
                .direct_api()
                .create_data_channel(ChannelConfig {
                    label: "JanusDataChannel".into(),
                    ..ChannelConfig::default()
                });
        }
    }
}

#[test]
fn data_mountpoints_relay_datagrams_to_viewers_data_channels() {
    let server = start_server_with(Duration::from_secs(30), free_udp_port());
    let ws = server.ports.ws.expect("ws port");
    let mut api = Client::connect(ws);
    let (session, admin) = api.attach("janus.plugin.streaming");
    let (text_port, binary_port) = (free_udp_port(), free_udp_port());
    let created = sync(
        &mut api,
        session,
        admin,
        json!({"request": "create", "type": "rtp", "id": 4301, "datatype": "text",
            "media": [{"type": "data", "mid": "d", "port": text_port}]}),
    );
    assert_eq!(
        created["stream"]["ports"],
        json!([{"type": "data", "mid": "d", "port": text_port}]),
        "{created}"
    );
    let created = sync(
        &mut api,
        session,
        admin,
        json!({"request": "create", "type": "rtp", "id": 4302, "datatype": "binary",
            "buffermsg": true, "media": [{"type": "data", "mid": "d", "port": binary_port}]}),
    );
    assert_eq!(created["streaming"], "created", "{created}");
    let info = sync(
        &mut api,
        session,
        admin,
        json!({"request": "info", "id": 4302}),
    );
    assert_eq!(info["info"]["media"][0]["datatype"], "binary", "{info}");

    // Sent before anyone watches: only the buffered mountpoint keeps it for later.
    let feeder = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let kept = vec![0x00, 0xff, 0x10, 0x00, 0x80];
    let before = Instant::now() + Duration::from_millis(500);
    while Instant::now() < before {
        feeder
            .send_to(&kept, ("127.0.0.1", binary_port))
            .expect("feed");
        feeder
            .send_to(b"nobody hears this", ("127.0.0.1", text_port))
            .expect("feed");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut text_viewer = watch(ws, 4301);
    let mut binary_viewer = watch(ws, 4302);
    let texts = ["first caption", "second caption \u{2713}", "third"];
    let blobs: [Vec<u8>; 3] = [vec![1, 2, 3, 0], (0..=255u8).collect(), vec![0xee; 1000]];
    // Once both channels carry messages (the kept one on the buffered mountpoint, probes on
    // the other), send the sequence.
    let (mut probes, mut sent) = (0u32, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        text_viewer.pump();
        binary_viewer.pump();
        let text_ready = text_viewer.received.iter().any(|(_, d)| d == b"probe");
        let binary_ready = !binary_viewer.received.is_empty();
        if !sent && text_ready && binary_ready {
            for (t, b) in texts.iter().zip(&blobs) {
                feeder
                    .send_to(t.as_bytes(), ("127.0.0.1", text_port))
                    .expect("feed");
                feeder.send_to(b, ("127.0.0.1", binary_port)).expect("feed");
            }
            sent = true;
        } else if !sent && text_viewer.connected && binary_viewer.connected {
            probes += 1;
            if probes.is_multiple_of(10) {
                feeder
                    .send_to(b"probe", ("127.0.0.1", text_port))
                    .expect("feed");
            }
        }
        let tail = |v: &Viewer| v.received.len() >= 3 && sent;
        if tail(&text_viewer)
            && tail(&binary_viewer)
            && text_viewer.received.last().map(|(_, d)| d.as_slice()) == Some(b"third")
            && binary_viewer.received.last().map(|(_, d)| d.as_slice()) == Some(blobs[2].as_slice())
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        text_viewer.connected && binary_viewer.connected,
        "the viewers connect"
    );
    assert!(
        sent,
        "the viewers' channels never carried a message: text {:?}, binary {:?}, {}",
        text_viewer.received.len(),
        binary_viewer.received,
        crate::webrtc_tests::http_get(server.ports.admin.expect("admin"), "/metrics")
            .lines()
            .filter(|l| l.starts_with("portunus_shard") && !l.ends_with(" 0"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Text: only text frames, the sequence exactly, after the probes.
    assert!(text_viewer.received.iter().all(|(binary, _)| !binary));
    let text_tail: Vec<&[u8]> = text_viewer
        .received
        .iter()
        .map(|(_, d)| d.as_slice())
        .filter(|d| *d != b"probe")
        .collect();
    let expected: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    assert_eq!(text_tail, expected, "text, byte for byte, nothing else");

    // Binary: the kept message first (buffermsg), then the sequence exactly.
    assert!(binary_viewer.received.iter().all(|(binary, _)| *binary));
    assert_eq!(
        binary_viewer.received.first().map(|(_, d)| d),
        Some(&kept),
        "the message kept from before the viewer watched comes first"
    );
    let binary_tail: Vec<&Vec<u8>> = binary_viewer
        .received
        .iter()
        .map(|(_, d)| d)
        .skip(1)
        .collect();
    let expected: Vec<&Vec<u8>> = blobs.iter().collect();
    assert_eq!(binary_tail, expected, "binary, byte for byte, nothing else");

    // The viewers stop (acknowledged) before the server does.
    for v in [&mut text_viewer, &mut binary_viewer] {
        let (session, handle) = (v.session, v.handle);
        v.api.send(
            &json!({"janus": "message", "transaction": "x", "session_id": session,
            "handle_id": handle, "body": {"request": "stop"}}),
        );
        let stopping = v.api.recv();
        assert_eq!(stopping["janus"], "ack", "{stopping}");
    }
    server.stop().expect("the server stops cleanly");
}

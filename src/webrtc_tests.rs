//! End to end through the whole server: a client (str0m, an independent WebRTC stack) speaks
//! the Janus API over WebSocket, sends its offer in a `message`, gets the answer in the
//! plugin's event, connects ICE and DTLS to a dataplane shard over loopback UDP, and the
//! server reports `webrtcup` and `media`, then `hangup` after the client goes silent.
//!
//! The plugin here is a test double that answers offers as EchoTest's SDP rules do; the real
//! plugins are tested in their own crate.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{TcpStream, UdpSocket};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use portunus_ctrl::config::{Config, JsonStyle};
use portunus_ctrl::media::{Jsep, JsepType};
use portunus_ctrl::plugin::{MessageResult, Plugin, PluginInfo, PluginInput, PluginOutput};
use portunus_ctrl::{RunningServer, Server};
use portunus_dataplane::{Dataplane, DataplaneConfig};
use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions};
use portunus_sdp::jsep::{self, AnswerConfig};
use serde_json::{Value, json};
use str0m::media::{Direction, MediaKind, MediaTime};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

use crate::webrtc::{EngineHook, Shared, WebRtcEngine};

const PLUGIN: &str = "portunus.plugin.testanswerer";

/// Answers every offer with EchoTest's SDP rules: `ack`, then an event with the answer.
#[derive(Default)]
struct Answerer {
    out: VecDeque<PluginOutput>,
}

impl Plugin for Answerer {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PLUGIN,
            name: "Test answerer",
            author: "Portunus",
            description: "Answers offers (test double)",
            version: 1,
            version_string: "0.0.1",
        }
    }

    fn handle(&mut self, _now: Instant, input: PluginInput) {
        if let PluginInput::Message {
            handle,
            transaction,
            jsep: Some(offer),
            ..
        } = input
        {
            self.out.push_back(PluginOutput::Reply {
                handle,
                result: MessageResult::Ack { hint: None },
            });
            let sdp = portunus_sdp::Sdp::parse(&offer.sdp).expect("the core hands over valid SDP");
            let answer =
                jsep::generate_answer(&sdp, &AnswerConfig::echotest(), &[]).expect("answer");
            self.out.push_back(PluginOutput::Event {
                handle,
                transaction: Some(transaction),
                data: json!({"result": "ok"}),
                jsep: Some(Jsep::new(JsepType::Answer, answer.to_string())),
            });
        }
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop_front()
    }
}

pub(crate) fn start_server(consent: Duration) -> RunningServer {
    start_server_with(consent, free_udp_port())
}

/// A server with two shards and the test answerer, EchoTest, VideoRoom (Janus's sample
/// rooms) and Streaming (mountpoint 99 fed on `mountpoint_port`) plugins.
pub(crate) fn start_server_with(consent: Duration, mountpoint_port: u16) -> RunningServer {
    start_server_plus(consent, mountpoint_port, |cp| {
        let videoroom = portunus_plugins::videoroom::VideoRoom::new(
            portunus_plugins::videoroom::VideoRoomConfig::default(),
            portunus_plugins::WallClock::new(Instant::now(), SystemTime::now()),
            Some(11),
        );
        cp.register_plugin(Box::new(videoroom)).expect("register");
    })
}

/// The test server with the answerer, EchoTest and Streaming, plus the plugins `register`
/// adds (on the server thread, after the standard ones).
pub(crate) fn start_server_plus(
    consent: Duration,
    mountpoint_port: u16,
    register: impl FnOnce(&mut portunus_ctrl::ControlPlane) + Send + 'static,
) -> RunningServer {
    let mut config = Config::default();
    config.http.port = 0;
    config.websockets.port = 0;
    config.admin.port = 0;
    config.general.json = JsonStyle::Compact;
    RunningServer::spawn(config, move |server: &mut Server| {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let cert = DtlsCertificate::generate(wall).expect("certificate");
        let fingerprint = cert.fingerprint().to_string();
        let dtls = DtlsConfig::new(&cert, DtlsOptions::default()).expect("dtls");
        let mut dp = DataplaneConfig::new(Arc::new(dtls));
        dp.shards = 2;
        dp.pin_cores = false;
        dp.bind = vec!["127.0.0.1".parse().expect("ip")];
        dp.consent_timeout = consent;
        dp.stats_interval = Some(Duration::from_millis(100));
        let dataplane = Dataplane::start(dp).expect("dataplane");
        let shared = Rc::new(RefCell::new(Shared::new(
            dataplane,
            vec!["127.0.0.1".parse().expect("ip")],
            fingerprint,
            0,
        )));
        let cp = server.control_plane();
        cp.register_plugin(Box::new(Answerer::default()))
            .expect("register");
        let echotest = portunus_plugins::echotest::EchoTest::new();
        cp.register_plugin(Box::new(echotest)).expect("register");
        cp.register_plugin(Box::new(streaming_plugin(mountpoint_port)))
            .expect("register");
        register(cp);
        cp.set_media_engine(Box::new(WebRtcEngine(Rc::clone(&shared))));
        server.add_hook(Box::new(EngineHook(shared)));
        server.control_plane().start_plugins(Instant::now());
    })
    .expect("server")
}

/// A Streaming plugin with one Opus mountpoint (id 99, mid "a") fed on `port`.
fn streaming_plugin(port: u16) -> portunus_plugins::streaming::Streaming {
    use portunus_ctrl::plugin::InputKind;
    use portunus_plugins::streaming::{MountpointConfig, StreamConfig, Streaming, StreamingConfig};
    let mut mountpoint = MountpointConfig::new(99);
    mountpoint.name = Some("test-opus".into());
    let opus = portunus_sdp::CodecName::Opus;
    mountpoint.streams = vec![StreamConfig::rtp(InputKind::Audio, "a", port, 111, opus)];
    let config = StreamingConfig {
        mountpoints: vec![mountpoint],
        ..StreamingConfig::default()
    };
    let clock = portunus_plugins::WallClock::new(Instant::now(), SystemTime::now());
    Streaming::new(config, clock, Some(7))
}

/// A UDP port that was free a moment ago.
pub(crate) fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

pub(crate) struct Client {
    ws: WebSocket<TcpStream>,
}

impl Client {
    pub(crate) fn connect(port: u16) -> Self {
        let mut request = format!("ws://127.0.0.1:{port}/")
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "janus-protocol".parse().expect("header"),
        );
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // A generous timeout for the handshake (a loaded machine may take a while to answer);
        // a short one afterwards, so that polling for events does not stall the media loop.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let (ws, _) = tungstenite::client(request, stream).expect("handshake");
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        Self { ws }
    }

    pub(crate) fn send(&mut self, v: &Value) {
        self.ws.send(Message::text(v.to_string())).expect("send");
    }

    /// The next JSON message, if one arrives within the socket's read timeout.
    pub(crate) fn try_recv(&mut self) -> Option<Value> {
        match self.ws.read() {
            Ok(Message::Text(t)) => serde_json::from_str(&t).ok(),
            _ => None,
        }
    }

    /// `create` then `attach` to `plugin`: the session and handle ids.
    pub(crate) fn attach(&mut self, plugin: &str) -> (u64, u64) {
        self.send(&json!({"janus": "create", "transaction": "c"}));
        let session = self.recv()["data"]["id"].as_u64().expect("session id");
        self.send(
            &json!({"janus": "attach", "transaction": "a", "session_id": session,
            "plugin": plugin}),
        );
        let attached = self.recv();
        let handle = attached["data"]["id"].as_u64();
        (
            session,
            handle.unwrap_or_else(|| panic!("attach: {attached}")),
        )
    }

    /// The next event that carries a JSEP (skipping acks and other events).
    pub(crate) fn jsep_event(&mut self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let v = self.recv();
            if v["jsep"]["sdp"].is_string() {
                return v;
            }
        }
        panic!("no event with a JSEP within 5 s");
    }

    pub(crate) fn recv(&mut self) -> Value {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Some(v) = self.try_recv() {
                return v;
            }
        }
        panic!("no message from the server within 5 s");
    }
}

/// str0m playing the browser over a UDP socket on 127.0.0.1.
pub(crate) struct Browser {
    pub(crate) rtc: Rtc,
    socket: UdpSocket,
    local: std::net::SocketAddr,
    /// A silent browser neither reads nor sends (a client that went away).
    silent: bool,
    seq: u64,
}

impl Browser {
    pub(crate) fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        let local = socket.local_addr().expect("addr");
        let mut rtc = Rtc::builder().build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
        Self {
            rtc,
            socket,
            local,
            silent: false,
            seq: 0,
        }
    }

    /// A fresh browser that answers the server's `offer`; the answer's SDP.
    pub(crate) fn answering(offer: &str) -> (Self, String) {
        let mut browser = Self::new();
        let offer =
            str0m::change::SdpOffer::from_sdp_string(offer).expect("str0m parses the offer");
        let answer = browser
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .expect("str0m answers the offer");
        (browser, answer.to_sdp_string())
    }

    /// Takes the server's `answer` (SDP) to the offer that left `pending`.
    pub(crate) fn accept_answer(&mut self, pending: str0m::change::SdpPendingOffer, answer: &str) {
        let answer =
            str0m::change::SdpAnswer::from_sdp_string(answer).expect("str0m parses the answer");
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("str0m accepts the answer");
    }

    /// Moves datagrams both ways and returns what str0m reported.
    pub(crate) fn pump(&mut self, now: Instant) -> Vec<Event> {
        self.rtc.handle_input(Input::Timeout(now)).expect("timeout");
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            if self.silent {
                continue;
            }
            let contents = buf[..n].try_into().expect("datagram");
            let receive = Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.local,
                contents,
            };
            // str0m reports datagrams it cannot use as errors; the session goes on.
            let _ = self.rtc.handle_input(Input::Receive(now, receive));
        }
        let mut events = Vec::new();
        loop {
            match self.rtc.poll_output().expect("output") {
                Output::Timeout(_) => return events,
                Output::Transmit(t) if !self.silent => {
                    self.socket
                        .send_to(&t.contents, t.destination)
                        .expect("send");
                }
                Output::Transmit(_) => {}
                Output::Event(e) => events.push(e),
            }
        }
    }

    /// Sends one Opus frame on `mid` (20 ms of media time after the previous one).
    pub(crate) fn send_opus(&mut self, mid: str0m::media::Mid, now: Instant, frame: &[u8]) {
        let Some(w) = self.rtc.writer(mid) else {
            return;
        };
        let opus = w
            .payload_params()
            .find(|p| p.spec().codec == str0m::format::Codec::Opus)
            .map(|p| p.pt());
        if let Some(pt) = opus {
            self.seq += 1;
            let time = MediaTime::from_90khz(self.seq * 1800);
            w.write(pt, now, time, frame).expect("write");
        }
    }
}

#[test]
fn browser_offer_connects_through_the_api_to_a_shard() {
    let server = start_server(Duration::from_secs(2));
    let mut api = Client::connect(server.ports.ws.expect("ws port"));
    let (session, handle) = api.attach(PLUGIN);

    // The browser: one audio m-line and a data channel, host candidate on loopback.
    let mut browser = Browser::new();
    let mut change = browser.rtc.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    change.add_channel("chat".into());
    let (offer, pending) = change.apply().expect("offer");
    api.send(
        &json!({"janus": "message", "transaction": "m", "session_id": session,
        "handle_id": handle, "body": {"request": "go"},
        "jsep": {"type": "offer", "sdp": offer.to_sdp_string()}}),
    );
    assert_eq!(api.recv()["janus"], "ack");
    let event = api.recv();
    assert_eq!(event["janus"], "event", "{event}");
    let answer_sdp = event["jsep"]["sdp"].as_str().expect("answer sdp");
    assert!(answer_sdp.contains("a=ice-lite"), "{answer_sdp}");
    assert!(
        answer_sdp.contains("a=setup:active"),
        "Janus answers an actpass offer as DTLS client"
    );
    assert!(
        answer_sdp.contains("typ host\r\na=end-of-candidates"),
        "{answer_sdp}"
    );
    browser.accept_answer(pending, answer_sdp);

    // Drive the browser until the server says webrtcup and media, then go silent.
    let mut seen: Vec<Value> = Vec::new();
    let mut connected_at = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !seen.iter().any(|e| e["janus"] == "hangup") {
        let now = Instant::now();
        browser.silent = connected_at.is_some_and(|t: Instant| now - t > Duration::from_secs(1));
        if connected_at.is_some() && !browser.silent {
            browser.send_opus(mid, now, b"opus");
        }
        if browser
            .pump(now)
            .iter()
            .any(|e| matches!(e, Event::Connected))
        {
            connected_at = Some(now);
        }
        while let Some(v) = api.try_recv() {
            seen.push(v);
        }
    }
    let kinds: Vec<&str> = seen.iter().filter_map(|e| e["janus"].as_str()).collect();
    assert!(
        connected_at.is_some(),
        "the browser never connected; server said {kinds:?}"
    );
    let webrtcup = seen
        .iter()
        .find(|e| e["janus"] == "webrtcup")
        .expect("webrtcup");
    assert_eq!(
        webrtcup,
        &json!({"janus": "webrtcup", "session_id": session, "sender": handle})
    );
    let media = seen
        .iter()
        .find(|e| e["janus"] == "media" && e["receiving"] == true)
        .expect("media event");
    assert_eq!(media["type"], "audio");
    assert_eq!(media["mid"], mid.to_string());
    let hangup = seen
        .iter()
        .find(|e| e["janus"] == "hangup")
        .expect("hangup after silence");
    assert_eq!(hangup["reason"], "ICE failed");
    server.stop().expect("the server stops cleanly");
}

/// EchoTest end to end: the plugin's Forward intent (its handle to itself) becomes a
/// dataplane forward, so the client's Opus comes back to it, and its data-channel text comes
/// back with EchoTest's prefix. The shards' counters reach `/metrics` and Admin
/// `handle_info`.
#[test]
fn echotest_echoes_media_and_data_through_the_dataplane() {
    let server = start_server(Duration::from_secs(30));
    let mut api = Client::connect(server.ports.ws.expect("ws port"));
    let (session, handle) = api.attach("janus.plugin.echotest");
    let mut browser = Browser::new();
    let mut change = browser.rtc.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let channel = change.add_channel("echo".into());
    let (offer, pending) = change.apply().expect("offer");
    api.send(
        &json!({"janus": "message", "transaction": "m", "session_id": session,
        "handle_id": handle, "body": {"audio": true, "data": true},
        "jsep": {"type": "offer", "sdp": offer.to_sdp_string()}}),
    );
    let event = api.jsep_event();
    let answer = event["jsep"]["sdp"]
        .as_str()
        .expect("EchoTest answers the offer");
    browser.accept_answer(pending, answer);

    let (mut audio_back, mut text_back, mut sent_text, mut connected) = (0u32, None, false, false);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && (audio_back < 5 || text_back.is_none()) {
        let now = Instant::now();
        if connected {
            browser.send_opus(mid, now, b"echo me");
        }
        if connected
            && !sent_text
            && let Some(mut ch) = browser.rtc.channel(channel)
        {
            sent_text = ch.write(false, b"hello").is_ok();
        }
        for event in browser.pump(now) {
            match event {
                Event::Connected => connected = true,
                Event::MediaData(m) if m.data[..] == b"echo me"[..] => audio_back += 1,
                Event::ChannelData(d) => text_back = Some(d.data),
                _ => {}
            }
        }
        while api.try_recv().is_some() {}
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(connected, "ICE/DTLS never connected");
    assert!(audio_back >= 5, "only {audio_back} Opus frames came back");
    assert_eq!(
        text_back.as_deref(),
        Some(&b"Janus EchoTest here! You wrote: hello"[..])
    );

    // The shards' counters reach the admin port's Prometheus endpoint.
    let admin = server.ports.admin.expect("admin port");
    let received =
        eventually(|| Some(shard_packets_in(&http_get(admin, "/metrics"))).filter(|n| *n > 0))
            .expect("per-shard packet counters on /metrics");
    assert!(received >= 5, "{received}");

    // So do its sends (datagrams or GSO batches), which grow while the echo goes on.
    let sends = |metrics: &str| shard_sum(metrics, "portunus_shard_sends_total");
    let sends_before = eventually(|| Some(sends(&http_get(admin, "/metrics"))).filter(|n| *n > 0))
        .expect("per-shard send counters on /metrics");
    let (mut metrics, mut next_poll) = (String::new(), Instant::now());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && sends(&metrics) <= sends_before {
        let now = Instant::now();
        browser.send_opus(mid, now, b"echo me");
        let _echoes = browser.pump(now);
        while api.try_recv().is_some() {}
        if now >= next_poll {
            metrics = http_get(admin, "/metrics");
            next_poll = now + Duration::from_millis(250);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let sends_after = sends(&metrics);
    assert!(
        sends_after > sends_before,
        "{sends_before} -> {sends_after}"
    );
    let packets_out = shard_sum(&metrics, "portunus_shard_packets_out_total");
    assert!(
        sends_after <= packets_out,
        "{sends_after} sends, {packets_out} datagrams"
    );
    assert!(metrics.contains("# TYPE portunus_shard_gso_sends_total counter\n"));
    assert!(metrics.contains("# TYPE portunus_shard_gso_datagrams_total counter\n"));

    // Admin handle_info shows the PeerConnection as the dataplane reports it.
    let request = json!({"janus": "handle_info", "transaction": "h", "session_id": session,
        "handle_id": handle});
    let info = eventually(|| {
        let reply: Value = serde_json::from_str(&http_post(admin, "/admin", &request)).ok()?;
        let packets = reply["info"]["webrtc"]["media"]["0"]["stats"]["in"]["packets"].as_u64();
        (packets.unwrap_or(0) > 0).then(|| reply["info"].clone())
    })
    .expect("handle_info with media statistics");
    assert_eq!(info["webrtc"]["dtls"]["dtls-state"], "connected", "{info}");
    assert_eq!(info["webrtc"]["dtls"]["dtls-role"], "active", "{info}");
    assert_eq!(info["webrtc"]["media"]["0"]["type"], "audio", "{info}");
    assert!(
        info["webrtc"]["media"]["0"]["stats"]["out"]["packets"].as_u64() > Some(0),
        "{info}"
    );
    server.stop().expect("the server stops cleanly");
}

/// Streaming end to end: plain RTP sent to a mountpoint's port reaches a WebRTC viewer that
/// watched it through the Janus API.
#[test]
fn streaming_mountpoint_reaches_a_webrtc_viewer() {
    let port = free_udp_port();
    let server = start_server_with(Duration::from_secs(30), port);
    let mut api = Client::connect(server.ports.ws.expect("ws port"));
    let (session, handle) = api.attach("janus.plugin.streaming");
    api.send(
        &json!({"janus": "message", "transaction": "w", "session_id": session,
        "handle_id": handle, "body": {"request": "watch", "id": 99}}),
    );
    let event = api.jsep_event();
    let offer = event["jsep"]["sdp"]
        .as_str()
        .expect("the mountpoint's offer");
    let (mut browser, answer) = Browser::answering(offer);
    api.send(
        &json!({"janus": "message", "transaction": "s", "session_id": session,
        "handle_id": handle, "body": {"request": "start"},
        "jsep": {"type": "answer", "sdp": answer}}),
    );

    // The source: plain Opus RTP into the mountpoint's port.
    let feeder = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (mut received, mut connected, mut seq) = (0u32, false, 0u16);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && received < 10 {
        for event in browser.pump(Instant::now()) {
            match event {
                Event::Connected => connected = true,
                Event::MediaData(m) if m.data[..] == b"mountpoint opus"[..] => received += 1,
                _ => {}
            }
        }
        if connected {
            seq = seq.wrapping_add(1);
            let rtp = mountpoint_opus(seq);
            feeder.send_to(&rtp, ("127.0.0.1", port)).expect("feed");
        }
        while api.try_recv().is_some() {}
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(connected, "the viewer never connected");
    assert!(
        received >= 10,
        "the viewer got {received} Opus frames from the mountpoint"
    );
    server.stop().expect("the server stops cleanly");
}

/// Plain Opus RTP (payload type 111) for the test mountpoint: packet `seq`, 20 ms after the
/// previous one, carrying `b"mountpoint opus"`.
pub(crate) fn mountpoint_opus(seq: u16) -> Vec<u8> {
    let mut rtp = vec![0x80, 111];
    rtp.extend_from_slice(&seq.to_be_bytes());
    rtp.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    rtp.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
    rtp.extend_from_slice(b"mountpoint opus");
    rtp
}

/// Polls `probe` every 100 ms for up to 5 s.
pub(crate) fn eventually<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..50 {
        if let Some(v) = probe() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The sum of `portunus_shard_packets_in_total` over all shards.
pub(crate) fn shard_packets_in(metrics: &str) -> u64 {
    shard_sum(metrics, "portunus_shard_packets_in_total")
}

/// The sum of the per-shard samples of metric `family` over all shards.
pub(crate) fn shard_sum(metrics: &str, family: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.strip_prefix(family).is_some_and(|r| r.starts_with('{')))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A plain HTTP/1.1 GET on 127.0.0.1; returns the body.
pub(crate) fn http_get(port: u16, path: &str) -> String {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
}

/// A plain HTTP/1.1 POST of a JSON body on 127.0.0.1; returns the body.
pub(crate) fn http_post(port: u16, path: &str, body: &Value) -> String {
    let body = body.to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    http(port, &(head + &body))
}

/// One request on a fresh connection; returns the response body.
fn http(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("request");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

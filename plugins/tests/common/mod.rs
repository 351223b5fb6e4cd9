//! Test harnesses: the plugins behind a real `ControlPlane` (Janus API transcripts), and a
//! plugin driven directly (media intents and data channels, which the host does not route
//! yet).

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a subset")]

use std::time::{Duration, Instant, SystemTime};

use portunus_ctrl::config::Config;
use portunus_ctrl::plugin::{MediaCommand, PeerEvent, Plugin, PluginInput, PluginOutput};
use portunus_ctrl::{ControlPlane, HandleId, Output, SessionId, Transport};
use portunus_plugins::{PluginsConfig, WallClock};
use serde_json::{Map, Value, json};

/// A browser-like offer: Opus audio, VP8 + H.264 video, a data channel.
pub const OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1 2\r\n\
a=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:0 PCMU/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=mid:1\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=mid:2\r\n\
a=sctp-port:5000\r\n\
a=max-message-size:262144\r\n";

/// The plugins behind a `ControlPlane`, one session, a hand-advanced clock.
pub struct Host {
    pub cp: ControlPlane,
    pub now: Instant,
    pub session: u64,
}

impl Host {
    pub fn new() -> Self {
        Self::with(PluginsConfig {
            seed: Some(42),
            ..PluginsConfig::default()
        })
    }

    pub fn with(config: PluginsConfig) -> Self {
        let now = Instant::now();
        let mut c = Config::default();
        c.general.json = portunus_ctrl::config::JsonStyle::Compact;
        let mut cp = ControlPlane::new(&c, now);
        let clock = WallClock::new(
            now,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_673_950_830),
        );
        for p in portunus_plugins::all(&config, clock) {
            cp.register_plugin(p).expect("register");
        }
        let mut h = Self {
            cp,
            now,
            session: 0,
        };
        let r = h.request(json!({"janus": "create", "transaction": "c"}));
        h.session = r["data"]["id"].as_u64().expect("session id");
        h
    }

    pub fn request(&mut self, v: Value) -> Value {
        self.cp.handle_request(self.now, Transport::Http, v)
    }

    pub fn attach(&mut self, plugin: &str) -> u64 {
        let r = self.request(json!({"janus": "attach", "transaction": "a",
            "session_id": self.session, "plugin": plugin}));
        r["data"]["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("attach failed: {r}"))
    }

    /// A `message`; returns the synchronous reply (success/ack/error).
    pub fn message(&mut self, handle: u64, tx: &str, body: Value, jsep: Option<Value>) -> Value {
        let mut m = json!({"janus": "message", "transaction": tx,
            "session_id": self.session, "handle_id": handle, "body": body});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.request(m)
    }

    /// The `plugindata.data` of a synchronous `success`.
    pub fn sync(&mut self, handle: u64, body: Value) -> Value {
        let r = self.message(handle, "s", body, None);
        assert_eq!(r["janus"], "success", "not a success: {r}");
        r["plugindata"]["data"].clone()
    }

    /// Every event queued for clients, in order.
    pub fn events(&mut self) -> Vec<Value> {
        let mut v = Vec::new();
        while let Some(o) = self.cp.poll_output() {
            if let Output::Event { json, .. } = o {
                v.push(json);
            }
        }
        v
    }

    pub fn peer(&mut self, handle: u64, event: PeerEvent) {
        self.cp.handle_peer_event(self.now, HandleId(handle), event);
    }
}

/// One plugin driven directly, so its media intents are visible.
pub struct Direct<P: Plugin> {
    pub plugin: P,
    pub now: Instant,
}

impl<P: Plugin> Direct<P> {
    pub fn new(plugin: P) -> Self {
        Self {
            plugin,
            now: Instant::now(),
        }
    }

    pub fn input(&mut self, input: PluginInput) -> Vec<PluginOutput> {
        self.plugin.handle(self.now, input);
        std::iter::from_fn(|| self.plugin.poll()).collect()
    }

    pub fn attach(&mut self, h: u64) {
        let out = self.input(PluginInput::Attach {
            handle: HandleId(h),
            session: SessionId(h),
            opaque_id: None,
            token: None,
        });
        assert!(out.is_empty(), "attach produced {out:?}");
    }

    pub fn message(
        &mut self,
        h: u64,
        body: Value,
        jsep: Option<portunus_ctrl::plugin::Jsep>,
    ) -> Vec<PluginOutput> {
        let Value::Object(body) = body else {
            panic!("body must be an object")
        };
        self.input(PluginInput::Message {
            handle: HandleId(h),
            transaction: "t".into(),
            body,
            jsep,
        })
    }

    pub fn data(&mut self, h: u64, text: &str) -> Vec<PluginOutput> {
        self.input(PluginInput::Data {
            handle: HandleId(h),
            label: None,
            binary: false,
            data: text.as_bytes().to_vec(),
        })
    }

    pub fn peer(&mut self, h: u64, event: PeerEvent) -> Vec<PluginOutput> {
        self.input(PluginInput::Peer {
            handle: HandleId(h),
            event,
        })
    }
}

/// The media intents among outputs.
pub fn media(out: &[PluginOutput]) -> Vec<MediaCommand> {
    out.iter()
        .filter_map(|o| match o {
            PluginOutput::Media(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// Data-channel texts sent, as (handle, JSON).
pub fn sent(out: &[PluginOutput]) -> Vec<(u64, Value)> {
    out.iter()
        .filter_map(|o| match o {
            PluginOutput::Media(MediaCommand::SendData {
                handle,
                binary: false,
                data,
                ..
            }) => Some((
                handle.0,
                serde_json::from_slice(data)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned())),
            )),
            _ => None,
        })
        .collect()
}

/// The event data (`plugindata.data`) of plugin events, with their transaction.
pub fn plugin_events(out: &[PluginOutput]) -> Vec<(Option<String>, Value)> {
    out.iter()
        .filter_map(|o| match o {
            PluginOutput::Event {
                transaction, data, ..
            } => Some((transaction.clone(), data.clone())),
            _ => None,
        })
        .collect()
}

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

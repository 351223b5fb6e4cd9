//! `janus.plugin.streaming` (Janus 1.1.2, version 9): mountpoints that many viewers watch.
//! Specification: `shared/janus-api/streaming.md`.
//!
//! Done: RTP mountpoints (plain or SRTP input, audio/video/data, simulcast with three ports,
//! VP9 SVC, `port: 0` resolved from `rtp_port_range`) from [`StreamingConfig`] (Janus's
//! sample `rtp-sample` id 1 and `multistream-test` id 123) and `create` (the `media` array or
//! the legacy flat keys), `list`, `info`, `edit` (with `edited_event`), `destroy`, `enable`,
//! `disable`, `kick_all`; viewers `watch` (server offer with the mountpoint's payload types,
//! `media` filter, legacy `offer_*`, renegotiation and ICE `restart`), `start`, `pause`,
//! `stop`, `switch`, `configure` (`send`, simulcast/SVC layers). Media leaves as
//! [`MediaCommand::OpenRtpInput`]/[`MediaCommand::CloseRtpInput`] per stream and
//! [`MediaCommand::ForwardMountpoint`]/`SetSending`/`SetLayers`/`Unforward` per viewer
//! stream.
//!
//! Not done: file sources (`live`/`ondemand`: refused with Janus's creation error) and RTSP
//! (refused as a Janus built without libcurl), recording (`recording` `start` answers
//! `Error starting recorder`), `string_ids`, `permanent` (refused: no configuration file),
//! `age_ms` and layer-change notifications (they need reports from the dataplane), client
//! offers in `watch` (Janus 1.1.4). New viewers get no keyframe request: a mountpoint source
//! has no handle to send a PLI to, so [`MediaCommand::ForwardMountpoint`] relies on the
//! dataplane starting the viewer on a kept (or the next) keyframe.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{
    InputKind, Jsep, LayerPrefs, MediaCommand, Plugin, PluginInfo, PluginInput, PluginOutput,
};
use portunus_sdp::CodecName;
use serde_json::{Map, Value, json};

mod manage;
mod parse;
mod viewer;

use crate::rooms::{Codes, Failure};
use crate::util::{Ids, Kind, Outbox, Param, WallClock, get_str, validate};

/// Package name clients attach to.
pub const PACKAGE: &str = "janus.plugin.streaming";

const ERROR_INVALID_JSON: u16 = 451;
const ERROR_INVALID_REQUEST: u16 = 452;
const ERROR_MISSING_ELEMENT: u16 = 453;
const ERROR_INVALID_ELEMENT: u16 = 454;
const ERROR_NO_SUCH_MOUNTPOINT: u16 = 455;
const ERROR_CANT_CREATE: u16 = 456;
const ERROR_UNAUTHORIZED: u16 = 457;
const ERROR_CANT_RECORD: u16 = 459;
const ERROR_INVALID_STATE: u16 = 460;
const ERROR_UNKNOWN: u16 = 470;

const CODES: Codes = Codes {
    missing: ERROR_MISSING_ELEMENT,
    invalid: ERROR_INVALID_ELEMENT,
    unauthorized: ERROR_UNAUTHORIZED,
    unknown: ERROR_UNKNOWN,
};

/// One stream of an RTP mountpoint (a `media` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// Audio, video or data.
    pub kind: InputKind,
    /// The SDP mid offered to viewers (unique in the mountpoint).
    pub mid: String,
    /// Label shown in `list`/`info` (Janus: defaults to the type).
    pub label: String,
    /// `a=msid` stream and track ids, when configured.
    pub msid: Option<(String, String)>,
    /// RTP port; 0 = pick one from the plugin's `rtp_port_range`.
    pub port: u16,
    /// Simulcast: ports of the second and third layers (0 = pick).
    pub port2: u16,
    /// See [`Self::port2`].
    pub port3: u16,
    /// RTCP port with the source (0 = pick), when configured.
    pub rtcp_port: Option<u16>,
    /// Multicast group.
    pub mcast: Option<String>,
    /// Interface to bind.
    pub iface: Option<String>,
    /// Payload type the source sends and viewers are offered (audio/video).
    pub pt: u8,
    /// Codec (audio/video).
    pub codec: Option<CodecName>,
    /// `fmtp` offered to viewers.
    pub fmtp: Option<String>,
    /// Skew compensation.
    pub skew: bool,
    /// Keep the last keyframe for new viewers (video).
    pub bufferkf: bool,
    /// Three simulcast layers on `port`, `port2`, `port3` (video).
    pub simulcast: bool,
    /// VP9 SVC source (video).
    pub svc: bool,
    /// Data relayed as binary (`datatype: "binary"`) rather than text.
    pub binary: bool,
    /// Keep the last data message for new viewers.
    pub buffermsg: bool,
}

impl StreamConfig {
    /// An audio or video stream on `port` with payload type `pt`.
    pub fn rtp(kind: InputKind, mid: &str, port: u16, pt: u8, codec: CodecName) -> Self {
        Self {
            codec: Some(codec),
            pt,
            ..Self::data(mid, port)
        }
        .with_kind(kind)
    }

    /// A data stream on `port` (text).
    pub fn data(mid: &str, port: u16) -> Self {
        Self {
            kind: InputKind::Data,
            mid: mid.to_owned(),
            label: "data".to_owned(),
            msid: None,
            port,
            port2: 0,
            port3: 0,
            rtcp_port: None,
            mcast: None,
            iface: None,
            pt: 0,
            codec: None,
            fmtp: None,
            skew: false,
            bufferkf: false,
            simulcast: false,
            svc: false,
            binary: false,
            buffermsg: false,
        }
    }

    fn with_kind(mut self, kind: InputKind) -> Self {
        self.kind = kind;
        self.label = kind_str(kind).to_owned();
        self
    }
}

/// One mountpoint (a section of `janus.plugin.streaming.jcfg`, or `create`). Only RTP
/// sources are supported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountpointConfig {
    /// Mountpoint id (non-zero).
    pub id: u64,
    /// Name (default `mp-<id>`).
    pub name: Option<String>,
    /// Description (default: the name).
    pub description: Option<String>,
    /// Free text for applications.
    pub metadata: Option<String>,
    /// Hidden from `list` without the `admin_key`.
    pub is_private: bool,
    /// Secret for management requests.
    pub secret: Option<String>,
    /// PIN to watch.
    pub pin: Option<String>,
    /// The streams, in offer order.
    pub streams: Vec<StreamConfig>,
    /// SRTP suite (32/80) and base64 key of the input.
    pub srtp: Option<(u8, String)>,
    /// The source is end-to-end encrypted (the offer says `e2ee`).
    pub e2ee: bool,
    /// Offer the playout-delay extension on video.
    pub playoutdelay_ext: bool,
    /// SSRC collision window in ms (0: none).
    pub collision: u64,
    /// Helper threads (informational).
    pub threads: u64,
}

impl MountpointConfig {
    /// A public mountpoint with no streams yet.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            name: None,
            description: None,
            metadata: None,
            is_private: false,
            secret: None,
            pin: None,
            streams: Vec::new(),
            srtp: None,
            e2ee: false,
            playoutdelay_ext: false,
            collision: 0,
            threads: 0,
        }
    }
}

/// Streaming settings (`general` plus the mountpoints that exist at start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamingConfig {
    /// `general.admin_key`: required in `create`, unlocks private mountpoints in `list`.
    pub admin_key: Option<String>,
    /// `general.rtp_port_range` for `port: 0` (default 10000–60000).
    pub rtp_port_range: (u16, u16),
    /// Mountpoints that exist at start.
    pub mountpoints: Vec<MountpointConfig>,
}

impl Default for StreamingConfig {
    /// Janus's sample's RTP mountpoints: `rtp-sample` (id 1) and `multistream-test` (id 123).
    /// The file samples (`file-live-sample`, `file-ondemand-sample`) are left out: file
    /// sources are not supported.
    fn default() -> Self {
        let sample = MountpointConfig {
            name: Some("rtp-sample".into()),
            description: Some("Opus/VP8 live stream coming from external source".into()),
            metadata: Some("You can use this metadata section to put any info you want!".into()),
            secret: Some("adminpwd".into()),
            streams: vec![
                StreamConfig::rtp(InputKind::Audio, "a", 5002, 111, CodecName::Opus),
                StreamConfig::rtp(InputKind::Video, "v", 5004, 100, CodecName::Vp8),
            ],
            ..MountpointConfig::new(1)
        };
        let labelled = |s: StreamConfig, label: &str| StreamConfig {
            label: label.to_owned(),
            ..s
        };
        let multi = MountpointConfig {
            name: Some("multistream-test".into()),
            description: Some("Multistream test (1 audio, 2 video)".into()),
            metadata: Some("This is an example of a multistream mountpoint: you'll get an audio stream and two video feeds".into()),
            secret: Some("adminpwd".into()),
            streams: vec![
                labelled(
                    StreamConfig::rtp(InputKind::Audio, "a", 5102, 111, CodecName::Opus),
                    "Audio stream",
                ),
                labelled(
                    StreamConfig::rtp(InputKind::Video, "v1", 5104, 100, CodecName::Vp8),
                    "Video stream #1",
                ),
                labelled(
                    StreamConfig::rtp(InputKind::Video, "v2", 5106, 100, CodecName::Vp8),
                    "Video stream #2",
                ),
            ],
            ..MountpointConfig::new(123)
        };
        Self {
            admin_key: None,
            rtp_port_range: (10_000, 60_000),
            mountpoints: vec![sample, multi],
        }
    }
}

/// The Streaming plugin.
#[derive(Debug)]
pub struct Streaming {
    config: StreamingConfig,
    clock: WallClock,
    ids: Ids,
    mountpoints: BTreeMap<u64, Mountpoint>,
    viewers: HashMap<HandleId, Viewer>,
    /// Ports held by mountpoint inputs.
    ports: BTreeSet<u16>,
    /// Where the next `port: 0` search starts.
    next_port: u16,
    out: Outbox,
}

/// A mountpoint as it runs: its configuration with concrete ports, and its viewers.
#[derive(Debug)]
struct Mountpoint {
    config: MountpointConfig,
    name: String,
    description: String,
    enabled: bool,
    viewers: Vec<HandleId>,
}

/// A handle's viewing state.
#[derive(Debug, Default)]
struct Viewer {
    mountpoint: Option<u64>,
    streams: Vec<ViewerStream>,
    /// The PeerConnection is up (`webrtcup`).
    started: bool,
    paused: bool,
    /// The last offer was answered (`start` with a JSEP).
    answered: bool,
    /// A renegotiation offer is out.
    renegotiating: bool,
    /// `ForwardMountpoint`s are installed for the streams.
    forwarded: bool,
    sdp_session: u64,
    sdp_version: u64,
}

/// One m-line of a viewer.
#[derive(Debug, Clone)]
struct ViewerStream {
    /// The viewer's mid (the mid the stream was offered with).
    mid: String,
    /// The mountpoint stream feeding it (changes on `switch`).
    source_mid: String,
    kind: InputKind,
    send: bool,
    layers: LayerPrefs,
}

impl Streaming {
    /// A plugin with the configured mountpoints (those whose ports clash are skipped, as Janus
    /// skips a mountpoint it can't bind); `seed` makes random ids reproducible.
    pub fn new(config: StreamingConfig, clock: WallClock, seed: Option<u64>) -> Self {
        let mut s = Self {
            next_port: config.rtp_port_range.0,
            config,
            clock,
            ids: Ids::new(seed),
            mountpoints: BTreeMap::new(),
            viewers: HashMap::new(),
            ports: BTreeSet::new(),
            out: Outbox::default(),
        };
        for m in s.config.mountpoints.clone() {
            if m.id != 0 && !s.mountpoints.contains_key(&m.id) {
                // A clash leaves the mountpoint out, as Janus logs and skips it.
                let _ = s.add_mountpoint(m);
            }
        }
        s
    }

    /// The media intents to replay when the host (re)starts the dataplane: one
    /// [`MediaCommand::OpenRtpInput`] per stream of every mountpoint. The plugin also emits
    /// them from its first [`Plugin::poll`]s.
    pub fn inputs(&self) -> Vec<MediaCommand> {
        self.mountpoints.values().flat_map(|m| m.inputs()).collect()
    }

    fn handle_message(
        &mut self,
        handle: HandleId,
        tx: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) {
        if !self.viewers.contains_key(&handle) {
            self.out
                .hard_error(handle, "No session associated with this handle...");
            return;
        }
        if let Err(e) = validate(body, &[("request", Kind::Str, true)]) {
            self.out
                .success(handle, error(CODES.invalid_code(&e), e.reason()));
            return;
        }
        let request = get_str(body, "request").unwrap_or_default();
        if let Some(result) = self.sync_request(Some(handle), request, body) {
            let data = result.unwrap_or_else(|(c, r)| error(c, &r));
            self.out.success(handle, data);
            return;
        }
        let lower = request.to_ascii_lowercase();
        if !matches!(
            lower.as_str(),
            "watch" | "start" | "pause" | "stop" | "configure" | "switch"
        ) {
            let e = error(
                ERROR_INVALID_REQUEST,
                &format!("Unknown request '{request}'"),
            );
            self.out.success(handle, e);
            return;
        }
        self.out.ack(handle, None);
        let result = match lower.as_str() {
            "watch" => self.watch(handle, body),
            "start" => self.start(handle, jsep),
            "pause" => self.pause(handle),
            "stop" => self.stop(handle),
            "configure" => self.configure(handle, body),
            _ => self.switch(handle, body),
        };
        match result {
            Ok(Some((data, jsep))) => self.out.event(handle, Some(tx), data, jsep),
            Ok(None) => {}
            Err((c, r)) => self.out.event(handle, Some(tx), error(c, &r), None),
        }
    }

    /// The synchronous requests (also reachable through the Admin API); `None` for others.
    fn sync_request(
        &mut self,
        handle: Option<HandleId>,
        request: &str,
        body: &Map<String, Value>,
    ) -> Option<Result<Value, Failure>> {
        Some(match request.to_ascii_lowercase().as_str() {
            "list" => self.list(body),
            "info" => self.info(body),
            "create" => self.create(body),
            "edit" => self.edit(handle, body),
            "destroy" => self.destroy(body),
            "recording" => self.recording(body),
            "enable" => self.enable(body, true),
            "disable" => self.enable(body, false),
            "kick_all" => self.kick_all(body),
            _ => return None,
        })
    }

    fn query_handle(&self, handle: HandleId) -> Map<String, Value> {
        let mut info = Map::new();
        let viewer = self.viewers.get(&handle);
        let mp = viewer
            .and_then(|v| v.mountpoint)
            .and_then(|id| self.mountpoints.get(&id));
        info.insert(
            "state".into(),
            if mp.is_some() { "watching" } else { "idle" }.into(),
        );
        if let (Some(mp), Some(v)) = (mp, viewer) {
            info.insert("mountpoint_id".into(), mp.config.id.into());
            info.insert("mountpoint_name".into(), mp.name.clone().into());
            info.insert("mountpoint_viewers".into(), mp.viewers.len().into());
            let media: Vec<Value> = v
                .streams
                .iter()
                .enumerate()
                .map(|(i, s)| json!({"type": kind_str(s.kind), "mindex": i, "mid": s.mid}))
                .collect();
            info.insert("media".into(), media.into());
        }
        let v = viewer.map_or((false, false), |v| (v.started, v.paused));
        info.insert("started".into(), u8::from(v.0).into());
        info.insert("paused".into(), u8::from(v.1).into());
        info
    }
}

impl Mountpoint {
    fn inputs(&self) -> Vec<MediaCommand> {
        let id = self.config.id;
        self.config
            .streams
            .iter()
            .map(|s| {
                let mut ports = vec![s.port];
                if s.simulcast {
                    ports.extend([s.port2, s.port3]);
                }
                let rtp = s.kind != InputKind::Data;
                MediaCommand::OpenRtpInput(portunus_ctrl::plugin::RtpInput {
                    mountpoint: id,
                    mid: s.mid.clone(),
                    kind: s.kind,
                    ports,
                    rtcp_port: s.rtcp_port,
                    mcast: s.mcast.clone(),
                    iface: s.iface.clone(),
                    payload_type: rtp.then_some(s.pt),
                    rtpmap: s.codec.filter(|_| rtp).map(|c| c.rtpmap().to_owned()),
                    // A data stream keeps its last message instead (`buffermsg`).
                    buffer_keyframe: if rtp { s.bufferkf } else { s.buffermsg },
                    svc: s.svc,
                    binary: s.binary,
                    srtp: self.config.srtp.clone(),
                })
            })
            .collect()
    }

    fn stream(&self, mid: &str) -> Option<&StreamConfig> {
        self.config.streams.iter().find(|s| s.mid == mid)
    }
}

fn error(code: u16, reason: &str) -> Value {
    json!({"streaming": "event", "error_code": code, "error": reason})
}

fn check(body: &Map<String, Value>, params: &[Param]) -> Result<(), Failure> {
    CODES.check(body, params)
}

fn no_such(id: u64) -> Failure {
    (
        ERROR_NO_SUCH_MOUNTPOINT,
        format!("No such mountpoint/stream {id}"),
    )
}

const ID: Param = ("id", Kind::PosInt, true);

/// Janus's media type names.
fn kind_str(k: InputKind) -> &'static str {
    match k {
        InputKind::Audio => "audio",
        InputKind::Video => "video",
        InputKind::Data => "data",
    }
}

impl Plugin for Streaming {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PACKAGE,
            name: "JANUS Streaming plugin",
            author: "Meetecho s.r.l.",
            description: "This is a streaming plugin for Janus, allowing WebRTC peers to watch/listen to pre-recorded files or media generated by an external source.",
            version: 9,
            version_string: "0.0.9",
        }
    }

    fn handle(&mut self, now: Instant, input: PluginInput) {
        match input {
            PluginInput::Attach { handle, .. } => {
                let unix_us = u64::try_from(self.clock.unix(now).as_micros()).unwrap_or(u64::MAX);
                self.viewers.insert(
                    handle,
                    Viewer {
                        sdp_session: unix_us,
                        ..Viewer::default()
                    },
                );
            }
            PluginInput::Message {
                handle,
                transaction,
                body,
                jsep,
            } => self.handle_message(handle, &transaction, &body, jsep.as_ref()),
            PluginInput::Peer { handle, event } => self.handle_peer(handle, &event),
            PluginInput::Detach { handle } => {
                self.leave(handle);
                self.viewers.remove(&handle);
            }
            PluginInput::QueryHandle { handle } => {
                let info = self.query_handle(handle);
                self.out.push(PluginOutput::HandleInfo { handle, info });
            }
            PluginInput::AdminMessage { request } => {
                let response = match request {
                    Value::Object(body) => match validate(&body, &[("request", Kind::Str, true)]) {
                        Err(e) => error(CODES.invalid_code(&e), e.reason()),
                        Ok(()) => {
                            let r = get_str(&body, "request").unwrap_or_default().to_owned();
                            self.sync_request(None, &r, &body)
                                .unwrap_or_else(|| {
                                    Err((ERROR_INVALID_REQUEST, format!("Unknown request '{r}'")))
                                })
                                .unwrap_or_else(|(c, r)| error(c, &r))
                        }
                    },
                    _ => error(ERROR_INVALID_JSON, "JSON error: not an object"),
                };
                self.out.push(PluginOutput::AdminReply { response });
            }
            _ => {}
        }
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop()
    }
}

//! `janus.plugin.videoroom` (Janus 1.1.2 multistream API, version 9): an SFU.
//! Specification: `shared/janus-api/videoroom.md`.
//!
//! Done: rooms from [`VideoRoomConfig`] (Janus's sample rooms 1234 and 5678) and `create`,
//! `edit`, `destroy`, `exists`, `list`, `allowed`, `kick`, `moderate`, `listparticipants`;
//! RTP forwarders (`rtp_forward` with `streams` or the legacy ports, `stop_rtp_forward`,
//! `listforwarders`) as [`MediaCommand::RtpForward`]; publishers (`join`,
//! `joinandconfigure`, `publish`, `configure` with an offer, `descriptions` and per-stream
//! `send`/`keyframe`, `unpublish`, `leave`) with `joined`/`publishers`/`configured`/
//! `unpublished`/`leaving`/`joining`; subscribers (`join` with `streams` or the legacy `feed`,
//! `subscribe`, `unsubscribe`, `update`, `switch`, `configure` with `send` and simulcast/SVC
//! layers, `start`, `pause`, `leave`) with server offers from [`SubscriberOffer`] that reuse
//! inactive m-lines, `updated`/`updating` and autoupdate re-offers when a feed goes away;
//! talk detection from [`PluginInput::AudioLevel`] reports (`talking`/`stopped-talking`);
//! simulcast `substream`/`temporal` notifications to subscribers from
//! [`PluginInput::LayerChanged`] reports;
//! room limits (`publishers`, `bitrate` as [`MediaCommand::SetBitrateCap`] with
//! `bitrate_cap`, `fir_freq` as
//! periodic [`MediaCommand::RequestKeyframe`] through [`Plugin::poll_timeout`]);
//! `private_id` and `require_pvtid`.
//!
//! Not done (499 `Request '<x>' not supported by this server`): `enable_recording` and the
//! remote-publisher requests; also recording, `string_ids`, signed tokens, e2ee rooms,
//! dummy publishers, SVC layer notifications, and `switch` onto an inactive m-line.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{
    Jsep, JsepType, LayerPrefs, MediaCommand, PeerEvent, Plugin, PluginInfo, PluginInput,
    PluginOutput,
};
use portunus_sdp::jsep::{AnswerConfig, OfferStream, SubscriberOffer, generate_answer};
use portunus_sdp::{CodecName, Direction, MediaKind, Sdp, extension};
use serde_json::{Map, Value, json};

mod forwarders;
mod manage;
mod media;
mod publisher;
mod subscriber;
mod updates;

use publisher::{kind_str, publisher_json};

use crate::rooms::{Codes, Failure, TalkWindow};
use crate::util::{
    Ids, Kind, Outbox, Param, WallClock, get_bool, get_str, get_u64, mline_codec, validate,
};

/// Package name clients attach to.
pub const PACKAGE: &str = "janus.plugin.videoroom";

const ERROR_UNKNOWN: u16 = 499;
const ERROR_INVALID_REQUEST: u16 = 423;
const ERROR_JOIN_FIRST: u16 = 424;
const ERROR_ALREADY_JOINED: u16 = 425;
const ERROR_NO_SUCH_ROOM: u16 = 426;
const ERROR_ROOM_EXISTS: u16 = 427;
const ERROR_NO_SUCH_FEED: u16 = 428;
const ERROR_MISSING_ELEMENT: u16 = 429;
const ERROR_INVALID_ELEMENT: u16 = 430;
const ERROR_INVALID_SDP_TYPE: u16 = 431;
const ERROR_PUBLISHERS_FULL: u16 = 432;
const ERROR_UNAUTHORIZED: u16 = 433;
const ERROR_ALREADY_PUBLISHED: u16 = 434;
const ERROR_NOT_PUBLISHED: u16 = 435;
const ERROR_ID_EXISTS: u16 = 436;
const ERROR_INVALID_SDP: u16 = 437;

/// One room's settings (`room-<id>` in `janus.plugin.videoroom.jcfg`, or `create`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomConfig {
    /// Room id.
    pub room: u64,
    /// Description.
    pub description: String,
    /// Hidden from `list`.
    pub is_private: bool,
    /// Secret for management requests.
    pub secret: Option<String>,
    /// PIN to join.
    pub pin: Option<String>,
    /// Subscribers must present a publisher's `private_id`.
    pub require_pvtid: bool,
    /// Maximum concurrent publishers.
    pub publishers: u64,
    /// REMB cap for publishers (0: none).
    pub bitrate: u64,
    /// Publishers can't raise their own `bitrate` (`configure`) above [`Self::bitrate`];
    /// without it the room's value is only their default.
    pub bitrate_cap: bool,
    /// Keyframe request period in seconds (0: none).
    pub fir_freq: u64,
    /// Allowed audio codecs, in preference order.
    pub audiocodec: Vec<CodecName>,
    /// Allowed video codecs, in preference order.
    pub videocodec: Vec<CodecName>,
    /// VP9 SVC.
    pub video_svc: bool,
    /// Send `joining` events and `attendees` lists.
    pub notify_joining: bool,
    /// Emit `talking` / `stopped-talking` from audio levels.
    pub audiolevel_event: bool,
    /// Packets per talk-detection decision.
    pub audio_active_packets: u64,
    /// dBov threshold (0 loud … 127 silent) under which the average means talking.
    pub audio_level_average: u64,
}

impl RoomConfig {
    fn new(room: u64) -> Self {
        Self {
            room,
            description: format!("Room {room}"),
            is_private: false,
            secret: None,
            pin: None,
            require_pvtid: false,
            publishers: 3,
            bitrate: 0,
            bitrate_cap: false,
            fir_freq: 0,
            audiocodec: vec![CodecName::Opus],
            videocodec: vec![CodecName::Vp8],
            video_svc: false,
            notify_joining: false,
            audiolevel_event: false,
            audio_active_packets: 100,
            audio_level_average: 25,
        }
    }
}

/// VideoRoom settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoRoomConfig {
    /// `general.admin_key`: required in `create`.
    pub admin_key: Option<String>,
    /// `general.lock_rtp_forward`: `rtp_forward` also needs the `admin_key`.
    pub lock_rtp_forward: bool,
    /// Rooms that exist at start.
    pub rooms: Vec<RoomConfig>,
}

impl Default for VideoRoomConfig {
    /// Janus's sample: 1234 "Demo Room" and 5678 "VP9-SVC Demo Room".
    fn default() -> Self {
        let demo = RoomConfig {
            description: "Demo Room".into(),
            secret: Some("adminpwd".into()),
            publishers: 6,
            bitrate: 128_000,
            fir_freq: 10,
            ..RoomConfig::new(1234)
        };
        let svc = RoomConfig {
            description: "VP9-SVC Demo Room".into(),
            secret: Some("adminpwd".into()),
            publishers: 6,
            bitrate: 512_000,
            fir_freq: 10,
            videocodec: vec![CodecName::Vp9],
            video_svc: true,
            ..RoomConfig::new(5678)
        };
        Self {
            admin_key: None,
            lock_rtp_forward: false,
            rooms: vec![demo, svc],
        }
    }
}

/// The VideoRoom plugin.
#[derive(Debug)]
pub struct VideoRoom {
    config: VideoRoomConfig,
    clock: WallClock,
    ids: Ids,
    rooms: BTreeMap<u64, Room>,
    handles: HashMap<HandleId, Role>,
    /// Subscribers whose postponed re-offer goes out after the current request's event.
    deferred: Vec<HandleId>,
    out: Outbox,
}

#[derive(Debug)]
struct Room {
    config: RoomConfig,
    allowed: Option<Vec<String>>,
    /// Publisher-type participants by id.
    participants: BTreeMap<u64, HandleId>,
    /// Subscriber handles in the room.
    subscribers: Vec<HandleId>,
    /// Participant ids kicked out (they can't come back).
    kicked: Vec<u64>,
}

#[derive(Debug, Default)]
enum Role {
    #[default]
    None,
    Publisher(Publisher),
    Subscriber(Subscriber),
}

#[derive(Debug)]
struct Publisher {
    room: u64,
    id: u64,
    private_id: u64,
    display: Option<String>,
    streams: Vec<PubStream>,
    descriptions: HashMap<String, String>,
    /// An offer was answered (streams are known).
    negotiated: bool,
    /// The PeerConnection is up: the feed is visible to others.
    up: bool,
    /// RTP forwarders of this publisher's streams.
    forwarders: Vec<Forwarder>,
    /// When the next `fir_freq` keyframe request is due.
    next_fir: Option<Instant>,
    /// Its own `audio_active_packets` / `audio_level_average` (join or configure), in place
    /// of the room's.
    audio_active_packets: Option<u64>,
    audio_level_average: Option<u64>,
}

/// One `rtp_forward` stream.
#[derive(Debug, Clone)]
struct Forwarder {
    id: u32,
    mid: String,
    kind: MediaKind,
    host: String,
    port: u16,
    rtcp_port: Option<u16>,
    pt: Option<u8>,
    ssrc: Option<u32>,
    substream: Option<u8>,
    srtp: bool,
}

#[derive(Debug, Clone)]
struct PubStream {
    mindex: usize,
    mid: String,
    kind: MediaKind,
    codec: Option<CodecName>,
    disabled: bool,
    /// Simulcast offered (rid or SSRC group) with VP8 or H.264.
    simulcast: bool,
    /// VP9 SVC in a `video_svc` room.
    svc: bool,
    /// Opus in-band FEC negotiated.
    fec: bool,
    /// The publisher paused it (`configure` with `send: false`).
    paused: bool,
    /// Muted by a moderator.
    moderated: bool,
    talk: TalkWindow,
}

#[derive(Debug, Clone)]
struct Subscriber {
    room: u64,
    offer: SubscriberOffer,
    streams: Vec<SubStream>,
    paused: bool,
    up: bool,
    /// Re-offer by itself when a subscribed feed goes away.
    autoupdate: bool,
    /// An offer is out and its answer (`start` with JSEP) has not come.
    awaiting_answer: bool,
    /// Changes came while `awaiting_answer`: offer again after the answer.
    pending_update: bool,
}

#[derive(Debug, Clone)]
struct SubStream {
    mindex: usize,
    mid: String,
    kind: MediaKind,
    codec: Option<CodecName>,
    feed_id: u64,
    feed_handle: HandleId,
    feed_mid: String,
    crossrefid: Option<String>,
    /// The subscriber wants this stream (`configure` `send`).
    send: bool,
    layers: LayerPrefs,
    /// `fallback` was given (Janus then lists it).
    fallback_set: bool,
    /// A `Forward` for it is installed.
    forwarded: bool,
    /// The simulcast substream and temporal layer the media side last reported forwarding
    /// (`None` until it reports, and again after the source changes).
    current: Option<(u8, u8)>,
}

impl VideoRoom {
    /// A plugin with the configured rooms; `seed` makes random ids reproducible.
    pub fn new(config: VideoRoomConfig, clock: WallClock, seed: Option<u64>) -> Self {
        let rooms = config
            .rooms
            .iter()
            .map(|r| (r.room, Room::new(r.clone())))
            .collect();
        Self {
            config,
            clock,
            ids: Ids::new(seed),
            rooms,
            handles: HashMap::new(),
            deferred: Vec::new(),
            out: Outbox::default(),
        }
    }

    fn handle_message(
        &mut self,
        now: Instant,
        handle: HandleId,
        tx: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) {
        if !self.handles.contains_key(&handle) {
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
        let sync = match request {
            "create" => Some(self.create(body)),
            "edit" => Some(self.edit(body)),
            "destroy" => Some(self.destroy(body)),
            "list" => Some(Ok(self.list(body))),
            "exists" => Some(self.exists(body)),
            "allowed" => Some(self.allowed(body)),
            "kick" => Some(self.kick(body)),
            "listparticipants" => Some(self.list_participants(body)),
            "moderate" => Some(self.moderate(body)),
            "rtp_forward" => Some(self.rtp_forward(body)),
            "stop_rtp_forward" => Some(self.stop_rtp_forward(body)),
            "listforwarders" => Some(self.list_forwarders(body)),
            "enable_recording"
            | "publish_remotely"
            | "unpublish_remotely"
            | "listremotes"
            | "add_remote_publisher"
            | "update_remote_publisher"
            | "remove_remote_publisher" => Some(Err(unsupported(request))),
            "join" | "joinandconfigure" | "configure" | "publish" | "unpublish" | "start"
            | "pause" | "switch" | "subscribe" | "unsubscribe" | "update" | "leave" => None,
            other => Some(Err((
                ERROR_INVALID_REQUEST,
                format!("Unknown request '{other}'"),
            ))),
        };
        if let Some(result) = sync {
            let data = result.unwrap_or_else(|(c, r)| error(c, &r));
            self.out.success(handle, data);
            return;
        }
        self.out.ack(handle, None);
        let result = self.async_request(now, handle, request, body, jsep);
        let (data, jsep) = match result {
            Ok((data, jsep)) => (data, jsep),
            Err((c, r)) => (error(c, &r), None),
        };
        if !data.is_null() {
            self.out.event(handle, Some(tx), data, jsep);
        }
        for h in std::mem::take(&mut self.deferred) {
            if let Some((data, jsep)) = self.renegotiate(h) {
                self.out.event(h, None, data, jsep);
            }
        }
    }

    fn async_request(
        &mut self,
        now: Instant,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        let role = self.handles.get(&handle);
        match (role, request) {
            (Some(Role::None), "join" | "joinandconfigure") => {
                self.join(now, handle, request, body, jsep)
            }
            (Some(Role::None), _) => Err((
                ERROR_JOIN_FIRST,
                "Invalid request on unconfigured participant".into(),
            )),
            (Some(Role::Publisher(_)), "join" | "joinandconfigure") => Err((
                ERROR_ALREADY_JOINED,
                "Already in as a publisher on this handle".into(),
            )),
            (Some(Role::Subscriber(_)), "join" | "joinandconfigure") => Err((
                ERROR_ALREADY_JOINED,
                "Already in as a subscriber on this handle".into(),
            )),
            (Some(Role::Publisher(_)), "configure" | "publish") => {
                self.publish(handle, request, body, jsep)
            }
            (Some(Role::Publisher(_)), "unpublish") => self.unpublish(handle),
            (Some(Role::Publisher(_)), "leave") => self.publisher_leave(handle),
            (Some(Role::Subscriber(_)), "start") => self.start(handle, jsep),
            (Some(Role::Subscriber(_)), "pause") => self.pause(handle),
            (Some(Role::Subscriber(_)), "leave") => self.subscriber_leave(handle),
            (Some(Role::Subscriber(_)), "subscribe") => self.subscribe(handle, body),
            (Some(Role::Subscriber(_)), "unsubscribe") => self.unsubscribe(handle, body),
            (Some(Role::Subscriber(_)), "update") => self.update(handle, body),
            (Some(Role::Subscriber(_)), "switch") => self.switch(handle, body),
            (Some(Role::Subscriber(_)), "configure") => self.configure_subscriber(handle, body),
            (_, other) => Err(unsupported(other)),
        }
    }
}

impl Room {
    fn new(config: RoomConfig) -> Self {
        Self {
            config,
            allowed: None,
            participants: BTreeMap::new(),
            subscribers: Vec::new(),
            kicked: Vec::new(),
        }
    }
}

const ROOM: Param = ("room", Kind::PosInt, true);

fn error(code: u16, reason: &str) -> Value {
    json!({"videoroom": "event", "error_code": code, "error": reason})
}

const CODES: Codes = Codes {
    missing: ERROR_MISSING_ELEMENT,
    invalid: ERROR_INVALID_ELEMENT,
    unauthorized: ERROR_UNAUTHORIZED,
    unknown: ERROR_UNKNOWN,
};

fn check(body: &Map<String, Value>, params: &[Param]) -> Result<(), Failure> {
    CODES.check(body, params)
}

fn unsupported(request: &str) -> Failure {
    (
        ERROR_UNKNOWN,
        format!("Request '{request}' not supported by this server"),
    )
}

fn join_first() -> Failure {
    (
        ERROR_JOIN_FIRST,
        "Invalid request on unconfigured participant".into(),
    )
}

fn no_room(id: u64) -> Failure {
    (ERROR_NO_SUCH_ROOM, format!("No such room ({id})"))
}

fn unauthorized_text(text: &str) -> Failure {
    (ERROR_UNAUTHORIZED, text.to_owned())
}

/// Values 1–63999 become 64000, as Janus does.
fn bitrate_floor(b: u64) -> u64 {
    if b > 0 && b < 64_000 { 64_000 } else { b }
}

impl Plugin for VideoRoom {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PACKAGE,
            name: "JANUS VideoRoom plugin",
            author: "Meetecho s.r.l.",
            description: "This is a plugin implementing a videoconferencing SFU (Selective Forwarding Unit) for Janus, that is an audio/video router.",
            version: 9,
            version_string: "0.0.9",
        }
    }

    fn handle(&mut self, now: Instant, input: PluginInput) {
        match input {
            PluginInput::Attach { handle, .. } => {
                self.handles.insert(handle, Role::None);
            }
            PluginInput::Message {
                handle,
                transaction,
                body,
                jsep,
            } => self.handle_message(now, handle, &transaction, &body, jsep.as_ref()),
            PluginInput::Peer { handle, event } => self.handle_peer(now, handle, event),
            PluginInput::AudioLevel {
                handle,
                mid,
                packets,
                level_sum,
            } => self.handle_audio_level(handle, &mid, packets, level_sum),
            PluginInput::LayerChanged {
                handle,
                mid,
                substream,
                temporal,
            } => self.handle_layer_changed(handle, &mid, substream, temporal),
            PluginInput::Timeout => self.handle_timeout(now),
            PluginInput::Detach { handle } => self.detach(handle),
            PluginInput::QueryHandle { handle } => {
                let mut info = Map::new();
                match self.handles.get(&handle) {
                    Some(Role::Publisher(p)) => {
                        info.insert("type".into(), "publisher".into());
                        info.insert("room".into(), p.room.into());
                        info.insert("id".into(), p.id.into());
                    }
                    Some(Role::Subscriber(s)) => {
                        info.insert("type".into(), "subscriber".into());
                        info.insert("room".into(), s.room.into());
                    }
                    _ => {
                        info.insert("type".into(), "none".into());
                    }
                }
                self.out.push(PluginOutput::HandleInfo { handle, info });
            }
            PluginInput::AdminMessage { request } => {
                let response = match request {
                    Value::Object(body) => {
                        let r = get_str(&body, "request").unwrap_or_default().to_owned();
                        let result = match r.as_str() {
                            "create" => self.create(&body),
                            "edit" => self.edit(&body),
                            "destroy" => self.destroy(&body),
                            "list" => Ok(self.list(&body)),
                            "exists" => self.exists(&body),
                            "allowed" => self.allowed(&body),
                            "kick" => self.kick(&body),
                            "listparticipants" => self.list_participants(&body),
                            other => {
                                Err((ERROR_INVALID_REQUEST, format!("Unknown request '{other}'")))
                            }
                        };
                        result.unwrap_or_else(|(c, r)| error(c, &r))
                    }
                    _ => error(422, "JSON error: not an object"),
                };
                self.out.push(PluginOutput::AdminReply { response });
            }
            _ => {}
        }
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.handles
            .values()
            .filter_map(|r| match r {
                Role::Publisher(p) => p.next_fir,
                _ => None,
            })
            .min()
    }
}

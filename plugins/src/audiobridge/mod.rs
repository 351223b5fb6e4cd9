//! `janus.plugin.audiobridge` (Janus 1.1.2, API version 12): an audio conference mixer.
//! Specification: `shared/janus-api/audiobridge.md`.
//!
//! The plugin is the API state machine; the mixing is done by the media side, driven by the
//! intents [`MediaCommand::OpenMix`] (each room, at start for the configured ones and on
//! `create`), [`MediaCommand::CloseMix`] (`destroy`), [`MediaCommand::JoinMix`] (after the
//! event that carries the SDP answer, for the first audio m-line), [`MediaCommand::UpdateMix`]
//! (`configure`, moderator `mute`/`unmute`, `mute_room`/`unmute_room`, `resetdecoder`),
//! [`MediaCommand::LeaveMix`] (`leave`, `kick`, `changeroom`, `hangup`, PeerConnection hangup,
//! detach) and [`MediaCommand::MixRtpForward`]/[`MediaCommand::StopMixRtpForward`]
//! (`rtp_forward`/`stop_rtp_forward`).
//!
//! Done: rooms from [`AudioBridgeConfig`] (Janus's sample room 1234) and `create`, `edit`,
//! `destroy`, `list`, `exists`, `allowed`, `kick`, `kick_all`, `mute`, `unmute`, `mute_room`,
//! `unmute_room`, `listparticipants`, `resetdecoder`, `rtp_forward`, `stop_rtp_forward`,
//! `listforwarders`; participants `join` (client offer, or `generate_offer`), `configure`
//! (settings, renegotiation with `update`), `changeroom`, `leave`, `hangup`; talk detection
//! from [`PluginInput::AudioLevel`] reports; `string_ids`; groups (join/configure checks).
//!
//! Not done: recording (`record`/`mjrs` in `create`, `enable_recording`, `enable_mjrs`,
//! `record` in `join`/`configure` are refused with 499 `Recording unsupported in this
//! instance`; turning recording *off* succeeds), file announcements (`play_file`,
//! `is_playing`, `stop_file`: 482 `Playing files unsupported in this instance`, as a Janus
//! built without libogg), plain-RTP participants (489 unless the room allows them, then 499),
//! per-group RTP forwarders (a `group` in `rtp_forward` is refused with 499: the mix
//! contract has no per-group mix), host names in `rtp_forward` (only IP addresses: resolving
//! would block the control thread), the static forwarder of configured rooms, `permanent`
//! (refused: no configuration file), event handlers.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Instant;

use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{
    Jsep, JsepType, MediaCommand, MixCodec, MixParticipant, MixRoom, PeerEvent, Plugin, PluginInfo,
    PluginInput, PluginOutput,
};
use serde_json::{Map, Value, json};

mod manage;
mod participant;

use crate::rooms::{Codes, Failure, TalkWindow, pick_id, pick_string_id};
use crate::util::{Ids, Kind, Outbox, Param, WallClock, get_str, get_u64, validate};

/// Package name clients attach to.
pub const PACKAGE: &str = "janus.plugin.audiobridge";

const ERROR_UNKNOWN: u16 = 499;
const ERROR_INVALID_JSON: u16 = 481;
const ERROR_INVALID_REQUEST: u16 = 482;
const ERROR_MISSING_ELEMENT: u16 = 483;
const ERROR_INVALID_ELEMENT: u16 = 484;
const ERROR_NO_SUCH_ROOM: u16 = 485;
const ERROR_ROOM_EXISTS: u16 = 486;
const ERROR_NOT_JOINED: u16 = 487;
const ERROR_UNAUTHORIZED: u16 = 489;
const ERROR_ID_EXISTS: u16 = 490;
const ERROR_ALREADY_JOINED: u16 = 491;
const ERROR_NO_SUCH_USER: u16 = 492;
const ERROR_INVALID_SDP: u16 = 493;
const ERROR_NO_SUCH_GROUP: u16 = 494;

/// Janus's `MAX_PREBUFFERING`: larger values fall back to the room default.
const MAX_PREBUFFERING: u64 = 50;
/// Janus's `DEFAULT_PREBUFFERING`.
const DEFAULT_PREBUFFERING: u64 = 6;
/// Janus's `DEFAULT_COMPLEXITY`.
const DEFAULT_COMPLEXITY: u64 = 4;
/// Janus's `JANUS_AUDIOBRIDGE_MAX_GROUPS`.
const MAX_GROUPS: usize = 5;

const CODES: Codes = Codes {
    missing: ERROR_MISSING_ELEMENT,
    invalid: ERROR_INVALID_ELEMENT,
    unauthorized: ERROR_UNAUTHORIZED,
    unknown: ERROR_UNKNOWN,
};

/// A room or participant id: an integer, or a string when `string_ids` is on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AbId {
    /// Numeric id (the default).
    Num(u64),
    /// String id (`string_ids = true`).
    Str(String),
}

impl AbId {
    /// A fresh random id not `taken`: Janus's 53-bit number, or a UUID with `string_ids`.
    fn random(ids: &mut Ids, string_ids: bool, taken: impl Fn(&Self) -> bool) -> Self {
        if string_ids {
            Self::Str(pick_string_id(ids, |s| taken(&Self::Str(s.to_owned()))))
        } else {
            Self::Num(pick_id(None, ids, |n| taken(&Self::Num(n))))
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Num(n) => Value::from(*n),
            Self::Str(s) => Value::from(s.as_str()),
        }
    }
}

impl fmt::Display for AbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Num(n) => write!(f, "{n}"),
            Self::Str(s) => f.write_str(s),
        }
    }
}

/// One room's settings (`room-<id>` in `janus.plugin.audiobridge.jcfg`, or `create`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomConfig {
    /// Room id (must match the plugin's `string_ids` setting).
    pub room: AbId,
    /// Description (`Room <id>` when empty).
    pub description: String,
    /// Hidden from `list`.
    pub is_private: bool,
    /// Secret for management requests; joining with it makes a participant an admin.
    pub secret: Option<String>,
    /// PIN to join.
    pub pin: Option<String>,
    /// Mixing rate: 8000, 12000, 16000, 24000 or 48000.
    pub sampling_rate: u32,
    /// Stereo mix with per-participant panning.
    pub spatial_audio: bool,
    /// Read the `ssrc-audio-level` extension (needed for talk detection).
    pub audiolevel_ext: bool,
    /// Emit `talking` / `stopped-talking`.
    pub audiolevel_event: bool,
    /// Packets per talk-detection decision (0 when `audiolevel_event` is off, as in Janus).
    pub audio_active_packets: u64,
    /// dBov threshold (0 loud … 127 silent) under which the average means talking.
    pub audio_level_average: u64,
    /// Packets buffered per participant before mixing (max 50).
    pub default_prebuffering: u64,
    /// Default expected loss, 0–20.
    pub default_expectedloss: u64,
    /// Default Opus bitrate (0: libopus decides).
    pub default_bitrate: u64,
    /// Accept `rtp` participants (which this server then refuses as unsupported).
    pub allow_rtp_participants: bool,
    /// Group names (up to 5); participants must then join one.
    pub groups: Vec<String>,
}

impl RoomConfig {
    /// A room with Janus's defaults.
    pub fn new(room: AbId) -> Self {
        Self {
            description: format!("Room {room}"),
            room,
            is_private: false,
            secret: None,
            pin: None,
            sampling_rate: 16_000,
            spatial_audio: false,
            audiolevel_ext: true,
            audiolevel_event: false,
            audio_active_packets: 0,
            audio_level_average: 0,
            default_prebuffering: DEFAULT_PREBUFFERING,
            default_expectedloss: 0,
            default_bitrate: 0,
            allow_rtp_participants: false,
            groups: Vec::new(),
        }
    }
}

/// AudioBridge settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioBridgeConfig {
    /// `general.admin_key`: required in `create`, unlocks private rooms in `list`.
    pub admin_key: Option<String>,
    /// `general.lock_rtp_forward`: `rtp_forward`/`stop_rtp_forward` need the `admin_key` too.
    pub lock_rtp_forward: bool,
    /// `general.string_ids`: room and participant ids are strings.
    pub string_ids: bool,
    /// Rooms that exist at start.
    pub rooms: Vec<RoomConfig>,
}

impl Default for AudioBridgeConfig {
    /// Janus's sample: room 1234, "Demo Room", secret `adminpwd`, 16 kHz.
    fn default() -> Self {
        Self {
            admin_key: None,
            lock_rtp_forward: false,
            string_ids: false,
            rooms: vec![RoomConfig {
                description: "Demo Room".into(),
                secret: Some("adminpwd".into()),
                ..RoomConfig::new(AbId::Num(1234))
            }],
        }
    }
}

/// The AudioBridge plugin.
#[derive(Debug)]
pub struct AudioBridge {
    config: AudioBridgeConfig,
    clock: WallClock,
    ids: Ids,
    rooms: BTreeMap<AbId, Room>,
    sessions: HashMap<HandleId, Session>,
    /// The next mix id (never reused, so a late command for a destroyed room is harmless).
    next_mix: u64,
    out: Outbox,
}

#[derive(Debug)]
struct Room {
    config: RoomConfig,
    mix: u64,
    allowed: Option<Vec<String>>,
    /// `mute_room`: everyone but admins is silenced.
    muted: bool,
    participants: BTreeMap<AbId, HandleId>,
    forwarders: BTreeMap<u32, Forwarder>,
}

/// One `rtp_forward` of a room's mix.
#[derive(Debug, Clone)]
struct Forwarder {
    host: String,
    port: u16,
    ssrc: Option<u32>,
    codec: MixCodec,
    ptype: u8,
    srtp: bool,
    always_on: bool,
}

/// A handle's state.
#[derive(Debug, Default)]
struct Session {
    participant: Option<Participant>,
    /// The PeerConnection is up (`webrtcup` seen, no hangup since).
    started: bool,
    /// The plugin made the last offer (`generate_offer`).
    plugin_offer: bool,
    /// The negotiated audio m-line, once an answer was sent (or received).
    media: Option<Negotiated>,
    sdp_session: u64,
    sdp_version: u64,
    /// What the media side was last told: (mix, mid, settings).
    mixed: Option<(u64, String, MixParticipant)>,
}

/// The audio m-line the mix uses.
#[derive(Debug, Clone)]
struct Negotiated {
    mid: String,
    /// The offer asked for Opus in-band FEC.
    fec: bool,
    /// The `ssrc-audio-level` extension is in use (Janus `extmap_id > 0`).
    audio_level: bool,
}

#[derive(Debug, Clone)]
struct Participant {
    room: AbId,
    id: AbId,
    display: Option<String>,
    muted: bool,
    /// Joined with the room secret: immune to `mute_room`.
    admin: bool,
    group: Option<String>,
    codec: MixCodec,
    prebuffer: u64,
    volume: u64,
    spatial_position: u64,
    bitrate: u64,
    quality: u64,
    expected_loss: u64,
    /// Per-participant talk-detection overrides (0: the room's).
    audio_active_packets: u64,
    audio_level_average: u64,
    talk: TalkWindow,
    /// Kicked: out of the mix, waiting for its PeerConnection to close.
    kicked: bool,
}

/// The result of an asynchronous request: the event data and the JSEP offer/answer to send.
type AsyncResult = Result<(Value, Option<Jsep>), Failure>;

impl AudioBridge {
    /// A plugin with the configured rooms; their mixes are opened by the first [`Plugin::poll`]s
    /// (the host's `start_plugins`). `seed` makes random ids reproducible.
    pub fn new(config: AudioBridgeConfig, clock: WallClock, seed: Option<u64>) -> Self {
        let mut ab = Self {
            clock,
            ids: Ids::new(seed),
            rooms: BTreeMap::new(),
            sessions: HashMap::new(),
            next_mix: 1,
            out: Outbox::default(),
            config,
        };
        for r in ab.config.rooms.clone() {
            let ok_kind = matches!(r.room, AbId::Str(_)) == ab.config.string_ids;
            let ok_rate = valid_rate(r.sampling_rate);
            if ok_kind && ok_rate && !ab.rooms.contains_key(&r.room) {
                ab.add_room(r, None);
            }
        }
        ab
    }

    /// The intents to replay when the host (re)starts the media side: one
    /// [`MediaCommand::OpenMix`] per room.
    pub fn mixes(&self) -> Vec<MediaCommand> {
        self.rooms.values().map(Room::open_mix).collect()
    }

    fn add_room(&mut self, config: RoomConfig, allowed: Option<Vec<String>>) {
        let mix = self.next_mix;
        self.next_mix += 1;
        let room = Room {
            config,
            mix,
            allowed,
            muted: false,
            participants: BTreeMap::new(),
            forwarders: BTreeMap::new(),
        };
        self.out.media(room.open_mix());
        self.rooms.insert(room.config.room.clone(), room);
    }

    fn handle_message(
        &mut self,
        now: Instant,
        handle: HandleId,
        tx: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) {
        if !self.sessions.contains_key(&handle) {
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
        let lower = request.to_ascii_lowercase();
        if let Some(result) = self.sync_request(Some(handle), &lower, body) {
            let data = result.unwrap_or_else(|(c, r)| error(c, &r));
            self.out.success(handle, data);
            return;
        }
        if !matches!(
            lower.as_str(),
            "join" | "configure" | "changeroom" | "leave" | "hangup"
        ) {
            let e = error(
                ERROR_INVALID_REQUEST,
                &format!("Unknown request '{request}'"),
            );
            self.out.success(handle, e);
            return;
        }
        self.out.ack(handle, None);
        let result = self.async_request(now, handle, &lower, body, jsep);
        match result {
            Ok((data, jsep)) => self.out.event(handle, Some(tx), data, jsep),
            Err((c, r)) => self.out.event(handle, Some(tx), error(c, &r), None),
        }
        // The mix follows the state, after the event that carries the SDP.
        self.sync_mix(handle);
    }

    /// The synchronous requests (also reachable through the Admin API, `handle` `None`);
    /// `None` for the others.
    fn sync_request(
        &mut self,
        handle: Option<HandleId>,
        request: &str,
        body: &Map<String, Value>,
    ) -> Option<Result<Value, Failure>> {
        Some(match request {
            "create" => self.create(body),
            "edit" => self.edit(body),
            "destroy" => self.destroy(body),
            "list" => self.list(body),
            "exists" => self.exists(body),
            "allowed" => self.allowed(body),
            "kick" => self.kick(body),
            "kick_all" => self.kick_all(body),
            "mute" => self.mute(body, true),
            "unmute" => self.mute(body, false),
            "mute_room" => self.mute_room(body, true),
            "unmute_room" => self.mute_room(body, false),
            "listparticipants" => self.list_participants(body),
            "resetdecoder" => self.reset_decoder(handle),
            "rtp_forward" => self.rtp_forward(body),
            "stop_rtp_forward" => self.stop_rtp_forward(body),
            "listforwarders" => self.list_forwarders(body),
            "enable_recording" => self.enable_recording(body, "record"),
            "enable_mjrs" => self.enable_recording(body, "mjrs"),
            "play_file" | "is_playing" | "stop_file" => Err((
                ERROR_INVALID_REQUEST,
                "Playing files unsupported in this instance".into(),
            )),
            _ => return None,
        })
    }

    fn async_request(
        &mut self,
        now: Instant,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> AsyncResult {
        let (data, generate_offer) = match request {
            "join" => self.join(handle, body, jsep)?,
            "configure" => self.configure(handle, body, jsep)?,
            "changeroom" => self.change_room(handle, body)?,
            "leave" => self.leave(handle)?,
            _ => {
                self.out.push(PluginOutput::ClosePeerConnection { handle });
                (json!({"audiobridge": "hangingup"}), false)
            }
        };
        if jsep.is_none() && !generate_offer {
            return Ok((data, None));
        }
        let sdp = self.negotiate(now, handle, jsep, generate_offer)?;
        Ok((data, sdp))
    }

    /// Brings the media side in line with the handle's state: join, update or leave its mix.
    fn sync_mix(&mut self, handle: HandleId) {
        let wanted = self.wanted_mix(handle);
        let Some(s) = self.sessions.get_mut(&handle) else {
            return;
        };
        let mut cmds = Vec::new();
        match (&s.mixed, &wanted) {
            (None, None) => {}
            (Some(_), None) => cmds.push(MediaCommand::LeaveMix { handle }),
            (Some((mix, mid, old)), Some((new_mix, new_mid, settings))) => {
                if mix != new_mix || mid != new_mid {
                    cmds.push(MediaCommand::LeaveMix { handle });
                    cmds.push(join_mix(handle, *new_mix, new_mid, settings));
                } else if old != settings {
                    cmds.push(MediaCommand::UpdateMix {
                        handle,
                        settings: settings.clone(),
                    });
                }
            }
            (None, Some((mix, mid, settings))) => cmds.push(join_mix(handle, *mix, mid, settings)),
        }
        s.mixed = wanted;
        for c in cmds {
            self.out.media(c);
        }
    }

    /// What the handle's mix membership should be: in its room's mix once an audio m-line is
    /// negotiated, unless kicked.
    fn wanted_mix(&self, handle: HandleId) -> Option<(u64, String, MixParticipant)> {
        let s = self.sessions.get(&handle)?;
        let p = s.participant.as_ref().filter(|p| !p.kicked)?;
        let media = s.media.as_ref()?;
        let room = self.rooms.get(&p.room)?;
        let settings = MixParticipant {
            muted: p.muted || (room.muted && !p.admin),
            volume_percent: u32::try_from(p.volume).unwrap_or(u32::MAX),
            codec: p.codec,
            prebuffer_packets: u32::try_from(p.prebuffer).unwrap_or(u32::MAX),
            spatial_position: if room.config.spatial_audio {
                u8::try_from(p.spatial_position.min(100)).unwrap_or(100)
            } else {
                50
            },
            opus_bitrate: u32::try_from(p.bitrate).unwrap_or(u32::MAX),
            opus_complexity: u8::try_from(p.quality).unwrap_or(10),
            expected_loss: u8::try_from(p.expected_loss).unwrap_or(20),
            fec: media.fec && p.codec == MixCodec::Opus,
            reset_decoder: false,
        };
        Some((room.mix, media.mid.clone(), settings))
    }

    /// The `room` member as an id (validated as the `string_ids` setting wants it).
    fn room_param(
        &self,
        body: &Map<String, Value>,
        required: bool,
    ) -> Result<Option<AbId>, Failure> {
        self.id_param(body, "room", required)
    }

    fn id_param(
        &self,
        body: &Map<String, Value>,
        name: &'static str,
        required: bool,
    ) -> Result<Option<AbId>, Failure> {
        let kind = if self.config.string_ids {
            Kind::Str
        } else {
            Kind::PosInt
        };
        check(body, &[(name, kind, required)])?;
        Ok(match body.get(name) {
            Some(Value::String(s)) => Some(AbId::Str(s.clone())),
            Some(v) => v.as_u64().map(AbId::Num),
            None => None,
        })
    }

    /// The room named by a required `room`, which must exist.
    fn room_id(&self, body: &Map<String, Value>) -> Result<AbId, Failure> {
        let id = self.room_param(body, true)?.unwrap_or(AbId::Num(0));
        if self.rooms.contains_key(&id) {
            Ok(id)
        } else {
            Err(no_room(&id))
        }
    }

    /// An event to every participant of `room` (except `except`).
    fn notify(&mut self, room: &AbId, except: Option<HandleId>, ev: &Value) {
        if let Some(r) = self.rooms.get(room) {
            self.out
                .event_to_all(r.participants.values().copied(), except, ev);
        }
    }

    /// The participant entry of lists and updates; `setup` is the PeerConnection state.
    fn participant_json(&self, handle: HandleId, with_talking: bool) -> Option<Value> {
        let s = self.sessions.get(&handle)?;
        let p = s.participant.as_ref()?;
        let spatial = self
            .rooms
            .get(&p.room)
            .is_some_and(|r| r.config.spatial_audio);
        let mut m = Map::new();
        m.insert("id".into(), p.id.json());
        if let Some(d) = &p.display {
            m.insert("display".into(), d.clone().into());
        }
        m.insert("setup".into(), s.started.into());
        m.insert("muted".into(), p.muted.into());
        // Janus lists `talking` for participants whose audio-level extension is in use.
        if with_talking && s.media.as_ref().is_some_and(|n| n.audio_level) {
            m.insert("talking".into(), p.talk.talking.into());
        }
        if spatial {
            m.insert("spatial_position".into(), p.spatial_position.into());
        }
        Some(Value::Object(m))
    }

    /// Every participant of `room` but `except`, as the `participants` of `joined`.
    fn others_json(&self, room: &AbId, except: HandleId) -> Vec<Value> {
        self.rooms.get(room).map_or_else(Vec::new, |r| {
            r.participants
                .values()
                .filter(|h| **h != except)
                .filter_map(|h| self.participant_json(*h, true))
                .collect()
        })
    }

    /// An update about `handle` to the others in its room (`{"audiobridge":"event",
    /// "participants":[…]}`), or to everyone when `include_self`.
    fn notify_update(&mut self, handle: HandleId, include_self: bool) {
        let Some(room) = self.participant(handle).map(|p| p.room.clone()) else {
            return;
        };
        let Some(entry) = self.participant_json(handle, false) else {
            return;
        };
        let ev = json!({"audiobridge": "event", "room": room.json(), "participants": [entry]});
        let except = (!include_self).then_some(handle);
        self.notify(&room, except, &ev);
    }

    fn participant(&self, handle: HandleId) -> Option<&Participant> {
        self.sessions.get(&handle)?.participant.as_ref()
    }

    /// The PeerConnection went away (hangup, detach): the participant leaves its room.
    fn hangup_media(&mut self, handle: HandleId) {
        let Some(s) = self.sessions.get_mut(&handle) else {
            return;
        };
        s.started = false;
        s.plugin_offer = false;
        s.media = None;
        let left = s.participant.take();
        if let Some(p) = left {
            if let Some(r) = self.rooms.get_mut(&p.room) {
                r.participants.remove(&p.id);
            }
            let ev = json!({"audiobridge": "event", "room": p.room.json(), "leaving": p.id.json()});
            self.notify(&p.room, Some(handle), &ev);
        }
        self.sync_mix(handle);
    }

    fn handle_peer(&mut self, handle: HandleId, event: PeerEvent) {
        match event {
            PeerEvent::WebrtcUp => {
                let Some(s) = self.sessions.get_mut(&handle) else {
                    return;
                };
                if s.started {
                    return;
                }
                s.started = true;
                if s.participant.is_some() {
                    self.notify_update(handle, false);
                }
            }
            PeerEvent::Hangup { .. } => self.hangup_media(handle),
            _ => {}
        }
    }

    /// Audio levels from a participant: every `audio_active_packets` packets, a change between
    /// talking and silent is announced to the whole room (the speaker included); see
    /// [`TalkWindow::feed`].
    fn handle_audio_level(&mut self, handle: HandleId, mid: &str, packets: u32, level_sum: u32) {
        let Some(s) = self.sessions.get_mut(&handle) else {
            return;
        };
        if !s
            .media
            .as_ref()
            .is_some_and(|m| m.audio_level && m.mid == mid)
        {
            return;
        }
        let Some(p) = s.participant.as_mut() else {
            return;
        };
        let Some(room) = self.rooms.get(&p.room) else {
            return;
        };
        if !room.config.audiolevel_event {
            return;
        }
        let window = match p.audio_active_packets {
            0 => room.config.audio_active_packets,
            n => n,
        };
        let threshold = match p.audio_level_average {
            0 => room.config.audio_level_average,
            n => n,
        };
        if window == 0 {
            return;
        }
        let changes = p.talk.feed(packets, level_sum, window, threshold);
        if changes.is_empty() {
            return;
        }
        let (rid, id) = (p.room.clone(), p.id.clone());
        for (talking, _) in changes {
            let verb = if talking {
                "talking"
            } else {
                "stopped-talking"
            };
            let ev = json!({"audiobridge": verb, "room": rid.json(), "id": id.json()});
            self.notify(&rid, None, &ev);
        }
    }

    fn detach(&mut self, handle: HandleId) {
        self.hangup_media(handle);
        self.sessions.remove(&handle);
    }

    fn query_handle(&self, handle: HandleId) -> Map<String, Value> {
        let mut info = Map::new();
        let s = self.sessions.get(&handle);
        let p = s.and_then(|s| s.participant.as_ref());
        info.insert(
            "state".into(),
            if p.is_some() { "inroom" } else { "idle" }.into(),
        );
        if let (Some(s), Some(p)) = (s, p) {
            info.insert("room".into(), p.room.json());
            info.insert("id".into(), p.id.json());
            if let Some(g) = &p.group {
                info.insert("group".into(), g.clone().into());
            }
            if let Some(d) = &p.display {
                info.insert("display".into(), d.clone().into());
            }
            if p.admin {
                info.insert("admin".into(), true.into());
            }
            info.insert("muted".into(), p.muted.into());
            info.insert("active".into(), s.started.into());
            info.insert("prebuffer-count".into(), p.prebuffer.into());
            if self
                .rooms
                .get(&p.room)
                .is_some_and(|r| r.config.spatial_audio)
            {
                info.insert("spatial_position".into(), p.spatial_position.into());
            }
            if let Some(m) = &s.media {
                if m.audio_level {
                    info.insert("talking".into(), p.talk.talking.into());
                }
                info.insert("fec".into(), m.fec.into());
            }
            if p.fec_relevant() {
                info.insert("expected-loss".into(), p.expected_loss.into());
            }
            if p.bitrate > 0 {
                info.insert("opus-bitrate".into(), p.bitrate.into());
            }
            if let Some((mix, mid, _)) = &s.mixed {
                info.insert("mix".into(), (*mix).into());
                info.insert("mid".into(), mid.clone().into());
            }
        }
        if s.is_some_and(|s| s.plugin_offer) {
            info.insert("plugin-offer".into(), true.into());
        }
        info
    }

    fn admin_message(&mut self, request: Value) -> Value {
        let Value::Object(body) = request else {
            return error(ERROR_INVALID_JSON, "JSON error: not an object");
        };
        if let Err(e) = validate(&body, &[("request", Kind::Str, true)]) {
            return error(CODES.invalid_code(&e), e.reason());
        }
        let request = get_str(&body, "request").unwrap_or_default().to_owned();
        self.sync_request(None, &request.to_ascii_lowercase(), &body)
            .unwrap_or_else(|| {
                Err((
                    ERROR_INVALID_REQUEST,
                    format!("Unknown request '{request}'"),
                ))
            })
            .unwrap_or_else(|(c, r)| error(c, &r))
    }
}

impl Participant {
    fn fec_relevant(&self) -> bool {
        self.codec == MixCodec::Opus
    }
}

impl Room {
    fn open_mix(&self) -> MediaCommand {
        MediaCommand::OpenMix(MixRoom {
            mix: self.mix,
            sampling_rate: self.config.sampling_rate,
            spatial: self.config.spatial_audio,
        })
    }
}

fn join_mix(handle: HandleId, mix: u64, mid: &str, settings: &MixParticipant) -> MediaCommand {
    MediaCommand::JoinMix {
        mix,
        handle,
        mid: mid.to_owned(),
        settings: settings.clone(),
    }
}

fn valid_rate(rate: u32) -> bool {
    matches!(rate, 8_000 | 12_000 | 16_000 | 24_000 | 48_000)
}

fn error(code: u16, reason: &str) -> Value {
    json!({"audiobridge": "event", "error_code": code, "error": reason})
}

fn check(body: &Map<String, Value>, params: &[Param]) -> Result<(), Failure> {
    CODES.check(body, params)
}

fn no_room(id: &AbId) -> Failure {
    (ERROR_NO_SUCH_ROOM, format!("No such room ({id})"))
}

/// Janus's codec names for `codec`.
fn parse_codec(name: &str) -> Option<MixCodec> {
    match name.to_ascii_lowercase().as_str() {
        "opus" => Some(MixCodec::Opus),
        "pcmu" => Some(MixCodec::Pcmu),
        "pcma" => Some(MixCodec::Pcma),
        _ => None,
    }
}

fn codec_name(c: MixCodec) -> &'static str {
    match c {
        MixCodec::Opus => "opus",
        MixCodec::Pcmu => "pcmu",
        MixCodec::Pcma => "pcma",
    }
}

/// `Recording unsupported in this instance` (this server has no recorder).
fn no_recording() -> Failure {
    (
        ERROR_UNKNOWN,
        "Recording unsupported in this instance".into(),
    )
}

impl Plugin for AudioBridge {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PACKAGE,
            name: "JANUS AudioBridge plugin",
            author: "Meetecho s.r.l.",
            description: "This is a plugin implementing an audio conference bridge for Janus, mixing Opus streams.",
            version: 12,
            version_string: "0.0.12",
        }
    }

    fn handle(&mut self, now: Instant, input: PluginInput) {
        match input {
            PluginInput::Attach { handle, .. } => {
                self.sessions.insert(handle, Session::default());
            }
            PluginInput::Message {
                handle,
                transaction,
                body,
                jsep,
            } => self.handle_message(now, handle, &transaction, &body, jsep.as_ref()),
            PluginInput::Peer { handle, event } => self.handle_peer(handle, event),
            PluginInput::AudioLevel {
                handle,
                mid,
                packets,
                level_sum,
            } => self.handle_audio_level(handle, &mid, packets, level_sum),
            PluginInput::Detach { handle } => self.detach(handle),
            PluginInput::QueryHandle { handle } => {
                let info = self.query_handle(handle);
                self.out.push(PluginOutput::HandleInfo { handle, info });
            }
            PluginInput::AdminMessage { request } => {
                let response = self.admin_message(request);
                self.out.push(PluginOutput::AdminReply { response });
            }
            _ => {}
        }
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn string_ids_are_uuid_shaped_and_distinct() {
        let now = Instant::now();
        let config = AudioBridgeConfig {
            string_ids: true,
            rooms: Vec::new(),
            ..AudioBridgeConfig::default()
        };
        let mut ab = AudioBridge::new(config, WallClock::new(now, SystemTime::UNIX_EPOCH), Some(1));
        let a = AbId::random(&mut ab.ids, ab.config.string_ids, |_| false);
        let b = AbId::random(&mut ab.ids, ab.config.string_ids, |i| *i == a);
        let AbId::Str(text) = &a else {
            panic!("not a string id")
        };
        assert_eq!(text.len(), 36, "{text}");
        assert_eq!(text.as_bytes()[14], b'4');
        assert_ne!(a, b);
    }
}

//! `janus.plugin.videoroom` (Janus 1.1.2 multistream API, version 9): an SFU. First cut.
//! Specification: `shared/janus-api/videoroom.md`.
//!
//! Done: rooms from [`VideoRoomConfig`] (Janus's sample rooms 1234 and 5678) and `create`,
//! `edit`, `destroy`, `exists`, `list`, `allowed`, `kick`, `listparticipants`; publishers
//! (`join`, `joinandconfigure`, `publish`, `configure` with an offer and `descriptions`,
//! `unpublish`, `leave`) with `joined`/`publishers`/`configured`/`unpublished`/`leaving`;
//! subscribers (`join` with `streams` or the legacy `feed`, answered with `attached` and an
//! offer from [`SubscriberOffer`], `start`, `pause`, `leave`) with
//! [`MediaCommand::Forward`] per stream at `webrtcup`; `private_id` and `require_pvtid`.
//!
//! Not done yet (answered with 499 `Request '<x>' not supported by this server`):
//! `subscribe`, `unsubscribe`, `update`, `switch`, subscriber `configure`, `moderate`,
//! `rtp_forward`, `stop_rtp_forward`, `listforwarders`, `enable_recording` and the
//! remote-publisher requests; autoupdate offers when a feed goes away (its forwards are
//! removed), talk detection, recording, `string_ids`.

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

use crate::util::{
    Ids, Invalid, Kind, Outbox, Param, WallClock, get_bool, get_str, get_u64, mline_codec, validate,
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

type Failure = (u16, String);

/// One requested subscription: (feed, publisher mid, crossrefid).
type Wanted = (u64, Option<String>, Option<String>);

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
    /// Keyframe request period in seconds (0: none).
    pub fir_freq: u64,
    /// Allowed audio codecs, in preference order.
    pub audiocodec: Vec<CodecName>,
    /// Allowed video codecs, in preference order.
    pub videocodec: Vec<CodecName>,
    /// VP9 SVC.
    pub video_svc: bool,
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
            fir_freq: 0,
            audiocodec: vec![CodecName::Opus],
            videocodec: vec![CodecName::Vp8],
            video_svc: false,
        }
    }
}

/// VideoRoom settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoRoomConfig {
    /// `general.admin_key`: required in `create`.
    pub admin_key: Option<String>,
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
}

#[derive(Debug, Clone)]
struct PubStream {
    mindex: usize,
    mid: String,
    kind: MediaKind,
    codec: Option<CodecName>,
    disabled: bool,
}

#[derive(Debug)]
struct Subscriber {
    room: u64,
    offer: SubscriberOffer,
    streams: Vec<SubStream>,
    paused: bool,
    up: bool,
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
                .success(handle, error(invalid_code(&e), e.reason()));
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
            "moderate"
            | "listforwarders"
            | "enable_recording"
            | "rtp_forward"
            | "stop_rtp_forward"
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
            (_, other) => Err(unsupported(other)),
        }
    }

    // ----------------------------------------------------------------------------------
    // Room management

    fn room(&self, body: &Map<String, Value>) -> Result<u64, Failure> {
        let id = get_u64(body, "room").unwrap_or_default();
        if self.rooms.contains_key(&id) {
            Ok(id)
        } else {
            Err((ERROR_NO_SUCH_ROOM, format!("No such room ({id})")))
        }
    }

    fn room_with_secret(&self, body: &Map<String, Value>) -> Result<u64, Failure> {
        let id = self.room(body)?;
        check_secret(self.rooms[&id].config.secret.as_deref(), body, "secret")?;
        Ok(id)
    }

    fn create(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ("room", Kind::PosInt, false),
                ("permanent", Kind::Bool, false),
                ("admin_key", Kind::Str, false),
                ("description", Kind::Str, false),
                ("is_private", Kind::Bool, false),
                ("secret", Kind::Str, false),
                ("pin", Kind::Str, false),
                ("allowed", Kind::Array, false),
                ("require_pvtid", Kind::Bool, false),
                ("publishers", Kind::PosInt, false),
                ("bitrate", Kind::PosInt, false),
                ("fir_freq", Kind::PosInt, false),
                ("audiocodec", Kind::Str, false),
                ("videocodec", Kind::Str, false),
                ("video_svc", Kind::Bool, false),
            ],
        )?;
        if let Some(key) = &self.config.admin_key {
            check_secret(Some(key), body, "admin_key")?;
        }
        let allowed = allowed_list(body)?;
        let audio = codec_list(body, "audiocodec", MediaKind::Audio)?;
        let video = codec_list(body, "videocodec", MediaKind::Video)?;
        if get_bool(body, "permanent") == Some(true) {
            return Err((
                ERROR_UNKNOWN,
                "No configuration file, can't create permanent room".into(),
            ));
        }
        let id = match get_u64(body, "room").filter(|&r| r > 0) {
            Some(id) if self.rooms.contains_key(&id) => {
                return Err((ERROR_ROOM_EXISTS, format!("Room {id} already exists")));
            }
            Some(id) => id,
            None => loop {
                let id = self.ids.next();
                if !self.rooms.contains_key(&id) {
                    break id;
                }
            },
        };
        let mut c = RoomConfig::new(id);
        if let Some(d) = get_str(body, "description") {
            d.clone_into(&mut c.description);
        }
        c.is_private = get_bool(body, "is_private").unwrap_or(false);
        c.secret = get_str(body, "secret").map(str::to_owned);
        c.pin = get_str(body, "pin").map(str::to_owned);
        c.require_pvtid = get_bool(body, "require_pvtid").unwrap_or(false);
        c.publishers = get_u64(body, "publishers").unwrap_or(3);
        c.bitrate = bitrate_floor(get_u64(body, "bitrate").unwrap_or(0));
        c.fir_freq = get_u64(body, "fir_freq").unwrap_or(0);
        if let Some(a) = audio {
            c.audiocodec = a;
        }
        if let Some(v) = video {
            c.videocodec = v;
        }
        c.video_svc = get_bool(body, "video_svc").unwrap_or(false);
        let mut room = Room::new(c);
        room.allowed = allowed;
        self.rooms.insert(id, room);
        Ok(json!({"videoroom": "created", "room": id, "permanent": false}))
    }

    fn edit(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("new_description", Kind::Str, false),
                ("new_is_private", Kind::Bool, false),
                ("new_secret", Kind::Str, false),
                ("new_pin", Kind::Str, false),
                ("new_require_pvtid", Kind::Bool, false),
                ("new_bitrate", Kind::PosInt, false),
                ("new_fir_freq", Kind::PosInt, false),
                ("new_publishers", Kind::PosInt, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_with_secret(body)?;
        if get_bool(body, "permanent") == Some(true) {
            return Err((
                ERROR_UNKNOWN,
                "No configuration file, can't edit room permanently".into(),
            ));
        }
        let Some(c) = self.rooms.get_mut(&id).map(|r| &mut r.config) else {
            return Err(no_room(id));
        };
        if let Some(d) = get_str(body, "new_description").filter(|d| !d.is_empty()) {
            d.clone_into(&mut c.description);
        }
        if let Some(p) = get_bool(body, "new_is_private") {
            c.is_private = p;
        }
        if let Some(s) = get_str(body, "new_secret") {
            c.secret = Some(s.to_owned());
        }
        if let Some(p) = get_str(body, "new_pin") {
            c.pin = (!p.is_empty()).then(|| p.to_owned());
        }
        if let Some(p) = get_bool(body, "new_require_pvtid") {
            c.require_pvtid = p;
        }
        if let Some(b) = get_u64(body, "new_bitrate") {
            c.bitrate = bitrate_floor(b);
        }
        if let Some(f) = get_u64(body, "new_fir_freq") {
            c.fir_freq = f;
        }
        if let Some(p) = get_u64(body, "new_publishers") {
            c.publishers = p;
        }
        Ok(json!({"videoroom": "edited", "room": id, "permanent": false}))
    }

    fn destroy(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_with_secret(body)?;
        if get_bool(body, "permanent") == Some(true) {
            return Err((
                ERROR_UNKNOWN,
                "No configuration file, can't destroy room permanently".into(),
            ));
        }
        let Some(room) = self.rooms.remove(&id) else {
            return Err(no_room(id));
        };
        let ev = json!({"videoroom": "destroyed", "room": id});
        for h in room.participants.values().chain(&room.subscribers) {
            self.unforward_handle(*h);
            self.out.event(*h, None, ev.clone(), None);
            self.out
                .push(PluginOutput::ClosePeerConnection { handle: *h });
            if let Some(r) = self.handles.get_mut(h) {
                *r = Role::None;
            }
        }
        Ok(json!({"videoroom": "destroyed", "room": id, "permanent": false}))
    }

    fn list(&self, body: &Map<String, Value>) -> Value {
        let admin = self
            .config
            .admin_key
            .as_deref()
            .is_some_and(|k| get_str(body, "admin_key") == Some(k));
        let list: Vec<Value> = self
            .rooms
            .iter()
            .filter(|(_, r)| !r.config.is_private || admin)
            .map(|(id, r)| {
                let c = &r.config;
                let mut m = json!({
                    "room": id,
                    "description": c.description,
                    "pin_required": c.pin.is_some(),
                    "is_private": c.is_private,
                    "max_publishers": c.publishers,
                    "bitrate": c.bitrate,
                    "fir_freq": c.fir_freq,
                    "require_pvtid": c.require_pvtid,
                    "require_e2ee": false,
                    "dummy_publisher": false,
                    "notify_joining": false,
                    "audiocodec": join_codecs(&c.audiocodec),
                    "videocodec": join_codecs(&c.videocodec),
                    "opus_fec": true,
                    "record": false,
                    "lock_record": false,
                    "num_participants": r.participants.len(),
                    "audiolevel_ext": true,
                    "audiolevel_event": false,
                    "videoorient_ext": true,
                    "playoutdelay_ext": true,
                    "transport_wide_cc_ext": true,
                });
                if c.video_svc {
                    m["video_svc"] = true.into();
                }
                m
            })
            .collect();
        json!({"videoroom": "success", "list": list})
    }

    fn exists(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[ROOM])?;
        let id = get_u64(body, "room").unwrap_or_default();
        Ok(json!({"videoroom": "success", "room": id, "exists": self.rooms.contains_key(&id)}))
    }

    fn allowed(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("action", Kind::Str, true),
                ("allowed", Kind::Array, false),
            ],
        )?;
        let action = get_str(body, "action").unwrap_or_default();
        if !matches!(action, "enable" | "disable" | "add" | "remove") {
            return Err((
                ERROR_INVALID_ELEMENT,
                format!("Unsupported action '{action}' (allowed)"),
            ));
        }
        let tokens = allowed_list(body)?;
        if matches!(action, "add" | "remove") && tokens.is_none() {
            return Err((
                ERROR_MISSING_ELEMENT,
                "Missing mandatory element (allowed)".into(),
            ));
        }
        let id = self.room_with_secret(body)?;
        let Some(room) = self.rooms.get_mut(&id) else {
            return Err(no_room(id));
        };
        match action {
            "disable" => room.allowed = None,
            "remove" => {
                if let Some(list) = &mut room.allowed {
                    let remove = tokens.unwrap_or_default();
                    list.retain(|t| !remove.contains(t));
                }
            }
            _ => {
                let list = room.allowed.get_or_insert_with(Vec::new);
                for t in tokens.unwrap_or_default() {
                    if !list.contains(&t) {
                        list.push(t);
                    }
                }
            }
        }
        let mut m = json!({"videoroom": "success", "room": id});
        if let Some(list) = &room.allowed {
            m["allowed"] = list.clone().into();
        }
        Ok(m)
    }

    fn kick(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("id", Kind::PosInt, true),
            ],
        )?;
        let id = self.room_with_secret(body)?;
        let user = get_u64(body, "id").unwrap_or_default();
        let Some(&h) = self.rooms[&id].participants.get(&user) else {
            return Err((
                ERROR_NO_SUCH_FEED,
                format!("No such user {user} in room {id}"),
            ));
        };
        self.unforward_feed(h);
        self.unforward_handle(h);
        if let Some(room) = self.rooms.get_mut(&id) {
            room.participants.remove(&user);
            room.kicked.push(user);
        }
        self.handles.insert(h, Role::None);
        self.out.event(
            h,
            None,
            json!({"videoroom": "event", "room": id, "leaving": "ok", "reason": "kicked"}),
            None,
        );
        self.notify(
            id,
            None,
            &json!({"videoroom": "event", "room": id, "kicked": user}),
        );
        self.out
            .push(PluginOutput::ClosePeerConnection { handle: h });
        Ok(json!({"videoroom": "success"}))
    }

    fn list_participants(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[ROOM])?;
        let id = self.room(body)?;
        let list: Vec<Value> = self.rooms[&id]
            .participants
            .values()
            .filter_map(|h| match self.handles.get(h) {
                Some(Role::Publisher(p)) => {
                    let mut m = json!({"id": p.id});
                    if let Some(d) = &p.display {
                        m["display"] = d.clone().into();
                    }
                    m["publisher"] = p.up.into();
                    Some(m)
                }
                _ => None,
            })
            .collect();
        Ok(json!({"videoroom": "participants", "room": id, "participants": list}))
    }

    // ----------------------------------------------------------------------------------
    // Publishers

    fn join(
        &mut self,
        now: Instant,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(body, &[ROOM, ("ptype", Kind::Str, true)])?;
        match get_str(body, "ptype").unwrap_or_default() {
            "publisher" => self.join_publisher(handle, request, body, jsep),
            "subscriber" | "listener" => self.join_subscriber(now, handle, body),
            _ => Err((ERROR_INVALID_ELEMENT, "Invalid element (ptype)".into())),
        }
    }

    fn join_publisher(
        &mut self,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("id", Kind::PosInt, false),
                ("display", Kind::Str, false),
                ("token", Kind::Str, false),
                ("pin", Kind::Str, false),
            ],
        )?;
        let rid = self.room(body)?;
        let room = &self.rooms[&rid];
        check_secret(room.config.pin.as_deref(), body, "pin")?;
        if let Some(list) = &room.allowed {
            let token = get_str(body, "token").unwrap_or_default();
            if !list.iter().any(|t| t == token) {
                return Err(unauthorized("not in the allowed list"));
            }
        }
        let id = match get_u64(body, "id").filter(|&i| i > 0) {
            Some(id) if room.kicked.contains(&id) => {
                return Err(unauthorized_text("Unauthorized, you have been kicked"));
            }
            Some(id) if room.participants.contains_key(&id) => {
                return Err((ERROR_ID_EXISTS, format!("User ID {id} already exists")));
            }
            Some(id) => id,
            None => loop {
                let id = self.ids.next();
                if !room.participants.contains_key(&id) {
                    break id;
                }
            },
        };
        let private_id = self.ids.next();
        let publishers: Vec<Value> = room
            .participants
            .values()
            .filter_map(|h| match self.handles.get(h) {
                Some(Role::Publisher(p)) if p.up => Some(publisher_json(p)),
                _ => None,
            })
            .collect();
        let description = room.config.description.clone();
        let publisher = Publisher {
            room: rid,
            id,
            private_id,
            display: get_str(body, "display").map(str::to_owned),
            streams: Vec::new(),
            descriptions: HashMap::new(),
            negotiated: false,
            up: false,
        };
        if let Some(room) = self.rooms.get_mut(&rid) {
            room.participants.insert(id, handle);
        }
        self.handles.insert(handle, Role::Publisher(publisher));
        let joined = json!({"videoroom": "joined", "room": rid, "description": description,
            "id": id, "private_id": private_id, "publishers": publishers});
        if request == "joinandconfigure" && jsep.is_some() {
            // The answer rides on the `joined` event.
            let (_, answer) = self.publish(handle, "configure", body, jsep)?;
            return Ok((joined, answer));
        }
        Ok((joined, None))
    }

    fn publish(
        &mut self,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("audiocodec", Kind::Str, false),
                ("videocodec", Kind::Str, false),
                ("bitrate", Kind::PosInt, false),
                ("keyframe", Kind::Bool, false),
                ("record", Kind::Bool, false),
                ("filename", Kind::Str, false),
                ("display", Kind::Str, false),
                ("descriptions", Kind::Array, false),
            ],
        )?;
        let descriptions = descriptions(body)?;
        let Some(Role::Publisher(p)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let rid = p.room;
        let Some(room) = self.rooms.get(&rid) else {
            return Err(no_room(rid));
        };
        if request == "publish" && p.negotiated && jsep.is_none_or(|j| !j.update) {
            return Err((
                ERROR_ALREADY_PUBLISHED,
                "Can't publish, already published".into(),
            ));
        }
        let mut config = AnswerConfig::videoroom_publisher(&rid.to_string());
        config.audio_codecs.clone_from(&room.config.audiocodec);
        config.video_codecs.clone_from(&room.config.videocodec);
        if let Some(c) = pick_codec(body, "audiocodec", &room.config.audiocodec, "Audio")? {
            config.audio_codecs = vec![c];
        }
        if let Some(c) = pick_codec(body, "videocodec", &room.config.videocodec, "Video")? {
            config.video_codecs = vec![c];
        }
        let active = room
            .participants
            .values()
            .filter(|h| **h != handle)
            .filter(|h| matches!(self.handles.get(h), Some(Role::Publisher(p)) if p.negotiated))
            .count() as u64;
        let max = room.config.publishers;
        let bitrate = room.config.bitrate;
        let mut cmds = Vec::new();
        let answer = match jsep {
            Some(j) if j.kind == JsepType::Answer => {
                return Err((ERROR_INVALID_SDP_TYPE, "Only publishers send offers".into()));
            }
            Some(j) => {
                if !p.negotiated && active >= max {
                    return Err((
                        ERROR_PUBLISHERS_FULL,
                        format!("Maximum number of publishers ({max}) already reached"),
                    ));
                }
                let bad = |e: portunus_sdp::SdpError| {
                    (
                        ERROR_INVALID_SDP,
                        format!("Error parsing offer: {}", e.janus_reason()),
                    )
                };
                let offer = Sdp::parse(&j.sdp).map_err(bad)?;
                let answer = generate_answer(&offer, &config, &[]).map_err(bad)?;
                let streams = pub_streams(&offer, &answer);
                if streams.is_empty() {
                    return Err((
                        ERROR_INVALID_SDP,
                        "Can't offer an SDP with no stream".into(),
                    ));
                }
                Some((streams, Jsep::new(JsepType::Answer, answer.to_string())))
            }
            None => None,
        };
        let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) else {
            return Err(join_first());
        };
        p.descriptions.extend(descriptions);
        let mut renamed = None;
        if let Some(d) = get_str(body, "display") {
            if p.display.is_some() && p.display.as_deref() != Some(d) {
                renamed =
                    Some(json!({"videoroom": "event", "room": rid, "id": p.id, "display": d}));
            }
            p.display = Some(d.to_owned());
        }
        if let Some(b) = get_u64(body, "bitrate") {
            let b = if bitrate > 0 { b.min(bitrate) } else { b };
            cmds.push(MediaCommand::SetBitrateCap {
                handle,
                bitrate: u32::try_from(b).unwrap_or(u32::MAX),
            });
        }
        if get_bool(body, "keyframe") == Some(true) {
            cmds.push(MediaCommand::RequestKeyframe { handle, mid: None });
        }
        let mut data = json!({"videoroom": "event", "room": rid, "configured": "ok"});
        let mut answer_jsep = None;
        if let Some((streams, mut j)) = answer {
            j.e2ee = jsep.is_some_and(|o| o.e2ee);
            p.streams = streams;
            p.negotiated = true;
            if bitrate > 0 && get_u64(body, "bitrate").is_none() {
                cmds.push(MediaCommand::SetBitrateCap {
                    handle,
                    bitrate: u32::try_from(bitrate).unwrap_or(u32::MAX),
                });
            }
            let pj = publisher_json(p);
            for k in ["audio_codec", "video_codec", "streams"] {
                if let Some(v) = pj.get(k) {
                    data[k] = v.clone();
                }
            }
            answer_jsep = Some(j);
            if p.up {
                let ev = json!({"videoroom": "event", "room": rid, "publishers": [pj]});
                self.notify(rid, Some(handle), &ev);
            }
        }
        for c in cmds {
            self.out.media(c);
        }
        if let Some(ev) = renamed {
            self.notify(rid, Some(handle), &ev);
        }
        Ok((data, answer_jsep))
    }

    fn unpublish(&mut self, handle: HandleId) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Publisher(p)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        if !p.negotiated {
            return Err((ERROR_NOT_PUBLISHED, "Can't unpublish, not published".into()));
        }
        let rid = p.room;
        self.feed_gone(handle, true);
        self.out.push(PluginOutput::ClosePeerConnection { handle });
        Ok((
            json!({"videoroom": "event", "room": rid, "unpublished": "ok"}),
            None,
        ))
    }

    /// A publisher's streams are gone: subscribers lose them, others hear `unpublished`
    /// when `notify`.
    fn feed_gone(&mut self, handle: HandleId, notify: bool) {
        let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) else {
            return;
        };
        let was_up = p.up;
        let (rid, id) = (p.room, p.id);
        p.streams.clear();
        p.negotiated = false;
        p.up = false;
        self.unforward_feed(handle);
        if notify && was_up {
            let ev = json!({"videoroom": "event", "room": rid, "unpublished": id});
            self.notify(rid, Some(handle), &ev);
        }
    }

    fn publisher_leave(&mut self, handle: HandleId) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Publisher(p)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let (rid, id) = (p.room, p.id);
        self.unforward_feed(handle);
        if let Some(room) = self.rooms.get_mut(&rid) {
            room.participants.remove(&id);
        }
        self.handles.insert(handle, Role::None);
        let ev = json!({"videoroom": "event", "room": rid, "leaving": id});
        self.notify(rid, Some(handle), &ev);
        Ok((
            json!({"videoroom": "event", "room": rid, "leaving": "ok"}),
            None,
        ))
    }

    // ----------------------------------------------------------------------------------
    // Subscribers

    fn join_subscriber(
        &mut self,
        now: Instant,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("streams", Kind::Array, false),
                ("feed", Kind::PosInt, false),
                ("private_id", Kind::PosInt, false),
                ("use_msid", Kind::Bool, false),
                ("autoupdate", Kind::Bool, false),
            ],
        )?;
        let rid = self.room(body)?;
        let room = &self.rooms[&rid];
        check_secret(room.config.pin.as_deref(), body, "pin")?;
        if room.config.require_pvtid {
            let pvt = get_u64(body, "private_id");
            let valid = pvt.is_some_and(|pvt| {
                room.participants.values().any(|h| {
                    matches!(self.handles.get(h), Some(Role::Publisher(p)) if p.private_id == pvt)
                })
            });
            if !valid {
                return Err(unauthorized_text(
                    "Unauthorized (this room requires a valid private_id)",
                ));
            }
        }
        let wanted = requested_streams(body)?;
        let unix_us = u64::try_from(self.clock.unix(now).as_micros()).unwrap_or(u64::MAX);
        let mut offer = SubscriberOffer::new(&format!("VideoRoom {rid}"), unix_us);
        let mut streams = Vec::new();
        for (feed, mid, crossrefid) in wanted {
            let Some(Role::Publisher(p)) = room
                .participants
                .get(&feed)
                .and_then(|h| self.handles.get(h))
                .filter(|r| matches!(r, Role::Publisher(p) if p.negotiated))
            else {
                return Err((ERROR_NO_SUCH_FEED, format!("No such feed ({feed})")));
            };
            let feed_handle = room.participants[&feed];
            let chosen: Vec<&PubStream> = match &mid {
                Some(m) => {
                    let s = p.streams.iter().find(|s| &s.mid == m).ok_or_else(|| {
                        (
                            ERROR_NO_SUCH_FEED,
                            format!("No such mid '{m}' in feed ({feed})"),
                        )
                    })?;
                    vec![s]
                }
                None => p.streams.iter().collect(),
            };
            for s in chosen.into_iter().filter(|s| !s.disabled) {
                let os = match (s.kind, s.codec) {
                    (MediaKind::Audio, Some(c)) => OfferStream::audio(c)
                        .with_extension(extension::MID)
                        .with_extension(extension::AUDIO_LEVEL),
                    (MediaKind::Video, Some(c)) => OfferStream::video(c)
                        .with_extension(extension::MID)
                        .with_extension(extension::ABS_SEND_TIME)
                        .with_extension(extension::TRANSPORT_WIDE_CC)
                        .with_extension(extension::VIDEO_ORIENTATION)
                        .with_extension(extension::PLAYOUT_DELAY),
                    (MediaKind::Application, _) => OfferStream::data(),
                    _ => continue,
                };
                let mindex = offer.subscribe(os);
                streams.push(SubStream {
                    mindex,
                    mid: mindex.to_string(),
                    kind: s.kind,
                    codec: s.codec,
                    feed_id: feed,
                    feed_handle,
                    feed_mid: s.mid.clone(),
                    crossrefid: crossrefid.clone(),
                });
            }
        }
        if streams.is_empty() {
            return Err((
                ERROR_INVALID_SDP,
                "Can't offer an SDP with no stream".into(),
            ));
        }
        let sdp = offer
            .plugin_offer()
            .map_err(|e| (ERROR_UNKNOWN, e.janus_reason()))?
            .to_string();
        let list: Vec<Value> = streams
            .iter()
            .map(|s| self.sub_stream_json(s, &streams))
            .collect();
        let mut room_entry = self.rooms.get_mut(&rid);
        if let Some(r) = room_entry.as_mut() {
            r.subscribers.push(handle);
        }
        self.handles.insert(
            handle,
            Role::Subscriber(Subscriber {
                room: rid,
                offer,
                streams,
                paused: false,
                up: false,
            }),
        );
        Ok((
            json!({"videoroom": "attached", "room": rid, "streams": list}),
            Some(Jsep::new(JsepType::Offer, sdp)),
        ))
    }

    fn sub_stream_json(&self, s: &SubStream, all: &[SubStream]) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), kind_str(s.kind).into());
        m.insert("active".into(), true.into());
        m.insert("mindex".into(), s.mindex.into());
        m.insert("mid".into(), s.mid.clone().into());
        if let Some(c) = &s.crossrefid {
            m.insert("crossrefid".into(), c.clone().into());
        }
        m.insert("ready".into(), false.into());
        m.insert("send".into(), true.into());
        if s.kind == MediaKind::Application {
            let ids: Vec<u64> = all
                .iter()
                .filter(|o| o.kind == MediaKind::Application)
                .map(|o| o.feed_id)
                .collect();
            m.insert("sources".into(), ids.len().into());
            m.insert("source_ids".into(), ids.into());
            return Value::Object(m);
        }
        m.insert("feed_id".into(), s.feed_id.into());
        let feed = match self.handles.get(&s.feed_handle) {
            Some(Role::Publisher(p)) => Some(p),
            _ => None,
        };
        if let Some(d) = feed.and_then(|p| p.display.as_ref()) {
            m.insert("feed_display".into(), d.clone().into());
        }
        m.insert("feed_mid".into(), s.feed_mid.clone().into());
        if let Some(d) = feed.and_then(|p| p.descriptions.get(&s.feed_mid)) {
            m.insert("feed_description".into(), d.clone().into());
        }
        if let Some(c) = s.codec {
            m.insert("codec".into(), c.as_str().into());
        }
        Value::Object(m)
    }

    fn start(
        &mut self,
        handle: HandleId,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        if jsep.is_some_and(|j| j.kind == JsepType::Offer) {
            return Err((ERROR_INVALID_SDP_TYPE, "Only publishers send offers".into()));
        }
        let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) else {
            return Err(join_first());
        };
        let rid = s.room;
        if s.paused {
            s.paused = false;
            let cmds: Vec<MediaCommand> = s
                .streams
                .iter()
                .flat_map(|st| {
                    [
                        MediaCommand::SetSending {
                            to: handle,
                            to_mid: st.mid.clone(),
                            send: true,
                        },
                        MediaCommand::RequestKeyframe {
                            handle: st.feed_handle,
                            mid: Some(st.feed_mid.clone()),
                        },
                    ]
                })
                .filter(|c| !matches!(c, MediaCommand::RequestKeyframe { .. }) || s.up)
                .collect();
            for c in cmds {
                self.out.media(c);
            }
        }
        Ok((
            json!({"videoroom": "event", "room": rid, "started": "ok"}),
            None,
        ))
    }

    fn pause(&mut self, handle: HandleId) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) else {
            return Err(join_first());
        };
        s.paused = true;
        let rid = s.room;
        let cmds: Vec<MediaCommand> = s
            .streams
            .iter()
            .map(|st| MediaCommand::SetSending {
                to: handle,
                to_mid: st.mid.clone(),
                send: false,
            })
            .collect();
        for c in cmds {
            self.out.media(c);
        }
        Ok((
            json!({"videoroom": "event", "room": rid, "paused": "ok"}),
            None,
        ))
    }

    fn subscriber_leave(&mut self, handle: HandleId) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Subscriber(s)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let rid = s.room;
        self.unforward_handle(handle);
        if let Some(room) = self.rooms.get_mut(&rid) {
            room.subscribers.retain(|h| *h != handle);
        }
        self.handles.insert(handle, Role::None);
        self.out.push(PluginOutput::ClosePeerConnection { handle });
        Ok((
            json!({"videoroom": "event", "room": rid, "left": "ok"}),
            None,
        ))
    }

    // ----------------------------------------------------------------------------------
    // PeerConnection events and forwarding

    fn handle_peer(&mut self, handle: HandleId, event: PeerEvent) {
        match event {
            PeerEvent::WebrtcUp => match self.handles.get_mut(&handle) {
                Some(Role::Publisher(p)) if p.negotiated && !p.up => {
                    p.up = true;
                    let rid = p.room;
                    let ev = json!({"videoroom": "event", "room": rid,
                        "publishers": [publisher_json(p)]});
                    self.notify(rid, Some(handle), &ev);
                }
                Some(Role::Subscriber(s)) if !s.up => {
                    s.up = true;
                    let paused = s.paused;
                    let cmds: Vec<MediaCommand> = s
                        .streams
                        .iter()
                        .flat_map(|st| {
                            let fwd = MediaCommand::Forward {
                                from: st.feed_handle,
                                from_mid: st.feed_mid.clone(),
                                to: handle,
                                to_mid: st.mid.clone(),
                                layers: LayerPrefs::default(),
                            };
                            let pause = MediaCommand::SetSending {
                                to: handle,
                                to_mid: st.mid.clone(),
                                send: false,
                            };
                            std::iter::once(fwd).chain(paused.then_some(pause))
                        })
                        .collect();
                    for c in cmds {
                        self.out.media(c);
                    }
                }
                _ => {}
            },
            PeerEvent::Hangup { .. } => match self.handles.get_mut(&handle) {
                Some(Role::Publisher(_)) => self.feed_gone(handle, true),
                Some(Role::Subscriber(s)) => {
                    s.up = false;
                    self.unforward_handle(handle);
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn detach(&mut self, handle: HandleId) {
        match self.handles.get(&handle) {
            Some(Role::Publisher(p)) => {
                let (rid, id) = (p.room, p.id);
                // Janus: `unpublished` then `leaving` for a publishing handle.
                self.feed_gone(handle, true);
                if let Some(room) = self.rooms.get_mut(&rid) {
                    room.participants.remove(&id);
                }
                let ev = json!({"videoroom": "event", "room": rid, "leaving": id});
                self.notify(rid, Some(handle), &ev);
            }
            Some(Role::Subscriber(s)) => {
                let rid = s.room;
                self.unforward_handle(handle);
                if let Some(room) = self.rooms.get_mut(&rid) {
                    room.subscribers.retain(|h| *h != handle);
                }
            }
            _ => {}
        }
        self.handles.remove(&handle);
    }

    /// Stop everything fed into `handle` (a subscriber going away).
    fn unforward_handle(&mut self, handle: HandleId) {
        let Some(Role::Subscriber(s)) = self.handles.get(&handle) else {
            return;
        };
        if !s.up {
            return;
        }
        let cmds: Vec<MediaCommand> = s
            .streams
            .iter()
            .map(|st| MediaCommand::Unforward {
                to: handle,
                to_mid: st.mid.clone(),
            })
            .collect();
        for c in cmds {
            self.out.media(c);
        }
    }

    /// Stop every forward whose source is `feed` (a publisher going away).
    fn unforward_feed(&mut self, feed: HandleId) {
        let mut cmds = Vec::new();
        for (h, role) in &mut self.handles {
            if let Role::Subscriber(s) = role {
                let up = s.up;
                s.streams.retain(|st| {
                    if st.feed_handle != feed {
                        return true;
                    }
                    if up {
                        cmds.push(MediaCommand::Unforward {
                            to: *h,
                            to_mid: st.mid.clone(),
                        });
                    }
                    s.offer.unsubscribe(&st.mid);
                    false
                });
            }
        }
        cmds.sort_by_key(|c| match c {
            MediaCommand::Unforward { to, to_mid } => (to.0, to_mid.clone()),
            _ => (0, String::new()),
        });
        for c in cmds {
            self.out.media(c);
        }
    }

    /// An event to every publisher-type participant of the room except `except`.
    fn notify(&mut self, rid: u64, except: Option<HandleId>, ev: &Value) {
        let Some(room) = self.rooms.get(&rid) else {
            return;
        };
        let targets: Vec<HandleId> = room
            .participants
            .values()
            .copied()
            .filter(|h| Some(*h) != except)
            .collect();
        for h in targets {
            self.out.event(h, None, ev.clone(), None);
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

fn check(body: &Map<String, Value>, params: &[Param]) -> Result<(), Failure> {
    validate(body, params).map_err(|e| (invalid_code(&e), e.reason().to_owned()))
}

fn invalid_code(e: &Invalid) -> u16 {
    match e {
        Invalid::Missing(_) => ERROR_MISSING_ELEMENT,
        Invalid::Type(_) => ERROR_INVALID_ELEMENT,
    }
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

fn unauthorized(what: &str) -> Failure {
    (ERROR_UNAUTHORIZED, format!("Unauthorized ({what})"))
}

fn unauthorized_text(text: &str) -> Failure {
    (ERROR_UNAUTHORIZED, text.to_owned())
}

/// `JANUS_CHECK_SECRET`.
fn check_secret(
    expected: Option<&str>,
    body: &Map<String, Value>,
    name: &str,
) -> Result<(), Failure> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match body.get(name) {
        None => Err((
            ERROR_MISSING_ELEMENT,
            format!("Missing mandatory element ({name})"),
        )),
        Some(Value::String(s)) if s == expected => Ok(()),
        Some(Value::String(_)) => Err(unauthorized(&format!("wrong {name}"))),
        Some(_) => Err((
            ERROR_INVALID_ELEMENT,
            format!("Invalid element type ({name} should be a string)"),
        )),
    }
}

fn allowed_list(body: &Map<String, Value>) -> Result<Option<Vec<String>>, Failure> {
    let Some(Value::Array(items)) = body.get("allowed") else {
        return Ok(None);
    };
    items
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or((
                ERROR_INVALID_ELEMENT,
                "Invalid element in the allowed array (not a string)".to_owned(),
            ))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Values 1–63999 become 64000, as Janus does.
fn bitrate_floor(b: u64) -> u64 {
    if b > 0 && b < 64_000 { 64_000 } else { b }
}

fn codec_list(
    body: &Map<String, Value>,
    name: &str,
    kind: MediaKind,
) -> Result<Option<Vec<CodecName>>, Failure> {
    let Some(text) = get_str(body, name) else {
        return Ok(None);
    };
    let mut list = Vec::new();
    for part in text.split(',').take(5) {
        match CodecName::parse(part.trim()).filter(|c| c.kind() == kind) {
            Some(c) => list.push(c),
            None => {
                let what = if kind == MediaKind::Audio {
                    "Invalid element (audiocodec can only be or contain opus, isac32, isac16, pcmu, pcma or g722)"
                } else {
                    "Invalid element (videocodec can only be or contain vp8, vp9, av1, h264 or h265)"
                };
                return Err((ERROR_INVALID_ELEMENT, what.into()));
            }
        }
    }
    Ok(Some(list))
}

fn join_codecs(list: &[CodecName]) -> String {
    list.iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn pick_codec(
    body: &Map<String, Value>,
    name: &str,
    allowed: &[CodecName],
    what: &str,
) -> Result<Option<CodecName>, Failure> {
    let Some(text) = get_str(body, name) else {
        return Ok(None);
    };
    match CodecName::parse(text).filter(|c| allowed.contains(c)) {
        Some(c) => Ok(Some(c)),
        None => Err((
            ERROR_INVALID_ELEMENT,
            format!("{what} codec unavailable in this room"),
        )),
    }
}

fn descriptions(body: &Map<String, Value>) -> Result<Vec<(String, String)>, Failure> {
    let Some(Value::Array(items)) = body.get("descriptions") else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|d| {
            let m = d.as_object().ok_or((
                ERROR_INVALID_ELEMENT,
                "Invalid element type (descriptions should be an array of objects)".to_owned(),
            ))?;
            check(
                m,
                &[("mid", Kind::Str, true), ("description", Kind::Str, true)],
            )?;
            Ok((
                get_str(m, "mid").unwrap_or_default().to_owned(),
                get_str(m, "description").unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// `streams` (or the legacy `feed`) of a subscriber join: (feed, mid, crossrefid).
fn requested_streams(body: &Map<String, Value>) -> Result<Vec<Wanted>, Failure> {
    let streams = body.get("streams").and_then(Value::as_array);
    match streams {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|s| {
                let m = s.as_object().ok_or((
                    ERROR_INVALID_ELEMENT,
                    "Invalid element type (streams should be an array of objects)".to_owned(),
                ))?;
                check(
                    m,
                    &[
                        ("feed", Kind::PosInt, true),
                        ("mid", Kind::Str, false),
                        ("crossrefid", Kind::Str, false),
                    ],
                )?;
                Ok((
                    get_u64(m, "feed").unwrap_or_default(),
                    get_str(m, "mid").map(str::to_owned),
                    get_str(m, "crossrefid").map(str::to_owned),
                ))
            })
            .collect(),
        _ => match get_u64(body, "feed") {
            Some(feed) => Ok(vec![(feed, None, None)]),
            None => Err((
                ERROR_MISSING_ELEMENT,
                "At least one between 'streams' and 'feed' must be specified".into(),
            )),
        },
    }
}

/// The publisher's streams from its offer and our answer.
fn pub_streams(offer: &Sdp, answer: &Sdp) -> Vec<PubStream> {
    offer
        .media
        .iter()
        .zip(&answer.media)
        .enumerate()
        .map(|(i, (o, a))| PubStream {
            mindex: i,
            mid: o.mid_or_index(i).as_str().to_owned(),
            kind: a.kind(),
            codec: mline_codec(a),
            disabled: a.port() == 0
                || (a.kind() != MediaKind::Application && a.direction() == Direction::Inactive),
        })
        .collect()
}

fn kind_str(k: MediaKind) -> &'static str {
    match k {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
        MediaKind::Application => "data",
    }
}

fn publisher_json(p: &Publisher) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), p.id.into());
    if let Some(d) = &p.display {
        m.insert("display".into(), d.clone().into());
    }
    let first = |k: MediaKind| {
        p.streams
            .iter()
            .find(|s| s.kind == k && !s.disabled)
            .and_then(|s| s.codec)
    };
    if let Some(c) = first(MediaKind::Audio) {
        m.insert("audio_codec".into(), c.as_str().into());
    }
    if let Some(c) = first(MediaKind::Video) {
        m.insert("video_codec".into(), c.as_str().into());
    }
    let streams: Vec<Value> = p
        .streams
        .iter()
        .map(|s| {
            let mut o = Map::new();
            o.insert("type".into(), kind_str(s.kind).into());
            o.insert("mindex".into(), s.mindex.into());
            o.insert("mid".into(), s.mid.clone().into());
            if s.disabled {
                o.insert("disabled".into(), true.into());
                return Value::Object(o);
            }
            if let Some(c) = s.codec {
                o.insert("codec".into(), c.as_str().into());
            }
            if let Some(d) = p.descriptions.get(&s.mid) {
                o.insert("description".into(), d.clone().into());
            }
            Value::Object(o)
        })
        .collect();
    m.insert("streams".into(), streams.into());
    Value::Object(m)
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
            PluginInput::Peer { handle, event } => self.handle_peer(handle, event),
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
}

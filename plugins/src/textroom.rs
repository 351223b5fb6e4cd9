//! `janus.plugin.textroom` (Janus 1.1.2, API version 2): chat rooms over data channels.
//! Specification: `shared/janus-api/textroom.md`.
//!
//! Two request channels share one implementation: the Janus API (`request`, synchronous except
//! `setup`/`ack`/`restart`) and JSON text on the data channel (`textroom` + `transaction`,
//! arriving as [`PluginInput::Data`] and answered with
//! [`MediaCommand::SendData`](portunus_ctrl::plugin::MediaCommand::SendData)). The plugin
//! offers the PeerConnection (one `m=application` line) on `setup`.
//!
//! Not done: the `post` HTTP backend (accepted and stored, never called), `string_ids`,
//! signed tokens, `permanent` rooms (refused with 499 as Janus does without a configuration
//! file), event handlers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{
    Jsep, JsepType, PeerEvent, Plugin, PluginInfo, PluginInput, PluginOutput,
};
use serde_json::{Map, Value, json};

use crate::util::{Invalid, Kind, Outbox, Param, WallClock, get_bool, get_str, get_u64, validate};

/// Package name clients attach to.
pub const PACKAGE: &str = "janus.plugin.textroom";

const ERROR_INVALID_JSON: u16 = 412;
const ERROR_MISSING_ELEMENT: u16 = 413;
const ERROR_INVALID_ELEMENT: u16 = 414;
const ERROR_INVALID_REQUEST: u16 = 415;
const ERROR_ALREADY_SETUP: u16 = 416;
const ERROR_NO_SUCH_ROOM: u16 = 417;
const ERROR_ROOM_EXISTS: u16 = 418;
const ERROR_UNAUTHORIZED: u16 = 419;
const ERROR_USERNAME_EXISTS: u16 = 420;
const ERROR_ALREADY_IN_ROOM: u16 = 421;
const ERROR_NOT_IN_ROOM: u16 = 422;
const ERROR_NO_SUCH_USER: u16 = 423;
const ERROR_UNKNOWN: u16 = 499;

/// How data-channel JSON is written (`general.json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JsonFormat {
    /// Three-space indentation (Janus's default).
    #[default]
    Indented,
    /// One line with spaces after `:` and `,`.
    Plain,
    /// One line, no spaces.
    Compact,
}

/// One configured room (`room-<id>` in `janus.plugin.textroom.jcfg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomConfig {
    /// Room id.
    pub room: u64,
    /// Description (`Room <id>` when empty).
    pub description: String,
    /// Hidden from `list`.
    pub is_private: bool,
    /// Secret for edit/destroy/announcement/kick/allowed.
    pub secret: Option<String>,
    /// PIN to join.
    pub pin: Option<String>,
    /// Number of public messages kept and replayed to joiners.
    pub history: u64,
    /// HTTP backend for public messages (stored only).
    pub post: Option<String>,
}

/// TextRoom settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextRoomConfig {
    /// `general.admin_key`: required to create rooms and to list private ones.
    pub admin_key: Option<String>,
    /// `general.json`.
    pub json: JsonFormat,
    /// Rooms that exist at start.
    pub rooms: Vec<RoomConfig>,
}

impl Default for TextRoomConfig {
    /// Janus's sample configuration: room 1234, "Demo Room", secret `adminpwd`.
    fn default() -> Self {
        Self {
            admin_key: None,
            json: JsonFormat::Indented,
            rooms: vec![RoomConfig {
                room: 1234,
                description: "Demo Room".into(),
                is_private: false,
                secret: Some("adminpwd".into()),
                pin: None,
                history: 0,
                post: None,
            }],
        }
    }
}

/// The TextRoom plugin.
#[derive(Debug)]
pub struct TextRoom {
    config: TextRoomConfig,
    clock: WallClock,
    ids: crate::util::Ids,
    rooms: BTreeMap<u64, Room>,
    sessions: HashMap<HandleId, Session>,
    out: Outbox,
}

#[derive(Debug)]
struct Room {
    description: String,
    is_private: bool,
    secret: Option<String>,
    pin: Option<String>,
    history: u64,
    post: Option<String>,
    /// `Some` when the ACL is enabled.
    allowed: Option<Vec<String>>,
    participants: Vec<Participant>,
    messages: VecDeque<Value>,
}

#[derive(Debug)]
struct Participant {
    handle: HandleId,
    username: String,
    display: Option<String>,
}

#[derive(Debug, Default)]
struct Session {
    setup: bool,
    offers: u64,
    /// Rooms joined, with the username used in each.
    rooms: BTreeMap<u64, String>,
}

/// Which channel a request came in on: the wording of replies differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Api,
    DataChannel,
}

/// A successful answer: the verb key and value, and the members after it.
struct Answer {
    /// `textroom` (`textbridge` for kick, `None` for listparticipants).
    key: Option<&'static str>,
    /// The data-channel verb.
    dc: &'static str,
    /// The Janus API verb.
    api: &'static str,
    rest: Map<String, Value>,
}

type Failure = (u16, String);

impl Answer {
    fn success(rest: Map<String, Value>) -> Self {
        Self {
            key: Some("textroom"),
            dc: "success",
            api: "success",
            rest,
        }
    }
}

impl TextRoom {
    /// A plugin with the configured rooms; `seed` makes random room ids reproducible.
    pub fn new(config: TextRoomConfig, clock: WallClock, seed: Option<u64>) -> Self {
        let rooms = config
            .rooms
            .iter()
            .map(|r| {
                let description = if r.description.is_empty() {
                    format!("Room {}", r.room)
                } else {
                    r.description.clone()
                };
                let room = Room {
                    description,
                    is_private: r.is_private,
                    secret: r.secret.clone(),
                    pin: r.pin.clone(),
                    history: r.history,
                    post: r.post.clone(),
                    allowed: None,
                    participants: Vec::new(),
                    messages: VecDeque::new(),
                };
                (r.room, room)
            })
            .collect();
        Self {
            config,
            clock,
            ids: crate::util::Ids::new(seed),
            rooms,
            sessions: HashMap::new(),
            out: Outbox::default(),
        }
    }

    // ----------------------------------------------------------------------------------
    // Janus API

    fn handle_message(
        &mut self,
        now: Instant,
        handle: HandleId,
        transaction: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) {
        if !self.sessions.contains_key(&handle) {
            self.out
                .hard_error(handle, "No session associated with this handle...");
            return;
        }
        let event_error = |code: u16, reason: &str| json!({"textroom": "event", "error_code": code, "error": reason});
        if let Err(e) = validate(body, &[("request", Kind::Str, true)]) {
            let data = event_error(invalid_code(&e), e.reason());
            self.out.success(handle, data);
            return;
        }
        let request = get_str(body, "request").unwrap_or_default();
        match request {
            "list" | "listparticipants" | "exists" | "create" | "edit" | "announcement"
            | "allowed" | "kick" | "destroy" => {
                let data = match self.dispatch(now, handle, request, body, Via::Api) {
                    Ok(Some(a)) => render(a, Via::Api, None),
                    Ok(None) => json!({"textroom": "success"}),
                    Err((code, reason)) => {
                        json!({"textroom": "error", "error_code": code, "error": reason})
                    }
                };
                self.out.success(handle, data);
            }
            "setup" | "ack" | "restart" => {
                self.out.ack(handle, None);
                let (data, offer) = match self.peer_request(now, handle, request, jsep) {
                    Ok(offer) => (json!({"textroom": "event", "result": "ok"}), offer),
                    Err((code, reason)) => (event_error(code, &reason), None),
                };
                self.out.event(handle, Some(transaction), data, offer);
            }
            other => {
                let data =
                    event_error(ERROR_INVALID_REQUEST, &format!("Unknown request '{other}'"));
                self.out.success(handle, data);
            }
        }
    }

    fn peer_request(
        &mut self,
        now: Instant,
        handle: HandleId,
        request: &str,
        _jsep: Option<&Jsep>,
    ) -> Result<Option<Jsep>, Failure> {
        let unix_us = u64::try_from(self.clock.unix(now).as_micros()).unwrap_or(u64::MAX);
        let Some(s) = self.sessions.get_mut(&handle) else {
            return Ok(None);
        };
        match request {
            "setup" => {
                if s.setup {
                    return Err((ERROR_ALREADY_SETUP, "PeerConnection already setup".into()));
                }
                s.setup = true;
                s.offers = 1;
                Ok(Some(Jsep::new(JsepType::Offer, offer_sdp(unix_us, 1))))
            }
            "restart" => {
                if !s.setup {
                    return Err((ERROR_ALREADY_SETUP, "PeerConnection not setup".into()));
                }
                s.offers += 1;
                let mut j = Jsep::new(JsepType::Offer, offer_sdp(unix_us, s.offers));
                j.restart = true;
                Ok(Some(j))
            }
            // `ack`: the client's answer was applied by the core already.
            _ => Ok(None),
        }
    }

    // ----------------------------------------------------------------------------------
    // Data channel

    fn handle_data(&mut self, now: Instant, handle: HandleId, binary: bool, data: &[u8]) {
        if binary || !self.sessions.contains_key(&handle) {
            return;
        }
        let parsed: Result<Value, _> = serde_json::from_slice(data);
        let root = match parsed {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                self.dc_error(
                    handle,
                    None,
                    ERROR_INVALID_JSON,
                    "JSON error: not an object",
                );
                return;
            }
            Err(e) => {
                let reason = format!("JSON error: on line {}: {e}", e.line());
                self.dc_error(handle, None, ERROR_INVALID_JSON, &reason);
                return;
            }
        };
        let tx = get_str(&root, "transaction").map(str::to_owned);
        if let Err(e) = validate(
            &root,
            &[
                ("transaction", Kind::Str, true),
                ("textroom", Kind::Str, true),
            ],
        ) {
            self.dc_error(handle, tx.as_deref(), invalid_code(&e), e.reason());
            return;
        }
        let verb = get_str(&root, "textroom").unwrap_or_default().to_owned();
        match self.dispatch(now, handle, &verb, &root, Via::DataChannel) {
            Ok(Some(a)) => {
                let v = render(a, Via::DataChannel, tx.as_deref());
                self.send(handle, &v);
            }
            Ok(None) => {}
            Err((code, reason)) => self.dc_error(handle, tx.as_deref(), code, &reason),
        }
        // Joins replay the history after the reply.
        if verb == "join" {
            self.replay_history(handle, &root);
        }
    }

    fn dc_error(&mut self, handle: HandleId, tx: Option<&str>, code: u16, reason: &str) {
        let mut m = Map::new();
        m.insert("textroom".into(), "error".into());
        m.insert("error_code".into(), code.into());
        m.insert("error".into(), reason.into());
        if let Some(t) = tx {
            m.insert("transaction".into(), t.into());
        }
        self.send(handle, &Value::Object(m));
    }

    fn send(&mut self, handle: HandleId, v: &Value) {
        let text = format_json(v, self.config.json);
        self.out.send_text(handle, None, text);
    }

    fn broadcast(&mut self, room: u64, v: &Value, only: Option<&[String]>) {
        let Some(r) = self.rooms.get(&room) else {
            return;
        };
        let targets: Vec<HandleId> = r
            .participants
            .iter()
            .filter(|p| only.is_none_or(|o| o.contains(&p.username)))
            .map(|p| p.handle)
            .collect();
        for h in targets {
            self.send(h, v);
        }
    }

    // ----------------------------------------------------------------------------------
    // Requests shared by both channels

    fn dispatch(
        &mut self,
        now: Instant,
        handle: HandleId,
        verb: &str,
        body: &Map<String, Value>,
        via: Via,
    ) -> Result<Option<Answer>, Failure> {
        let api_only = |_: ()| (ERROR_INVALID_REQUEST, format!("Unsupported request {verb}"));
        match verb {
            "join" if via == Via::DataChannel => self.join(handle, body).map(Some),
            "leave" if via == Via::DataChannel => self.leave(handle, body).map(Some),
            "message" if via == Via::DataChannel => self.message(now, handle, body),
            "announcement" => self.announcement(now, body).map(Some),
            "list" => self.list(body).map(Some),
            "listparticipants" => self.list_participants(body).map(Some),
            "exists" => self.exists(body).map(Some),
            "create" => self.create(body).map(Some),
            "edit" => self.edit(body).map(Some),
            "destroy" => self.destroy(body).map(Some),
            "allowed" => self.allowed(body).map(Some),
            "kick" => self.kick(body).map(Some),
            _ => Err(api_only(())),
        }
    }

    fn room_id(&self, body: &Map<String, Value>) -> Result<u64, Failure> {
        let id = get_u64(body, "room").unwrap_or_default();
        if self.rooms.contains_key(&id) {
            Ok(id)
        } else {
            Err((ERROR_NO_SUCH_ROOM, format!("No such room ({id})")))
        }
    }

    fn join(&mut self, handle: HandleId, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("username", Kind::Str, true),
                ("pin", Kind::Str, false),
                ("display", Kind::Str, false),
                ("token", Kind::Str, false),
                ("history", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        let room = &self.rooms[&id];
        check_secret(room.pin.as_deref(), body, "pin")?;
        if let Some(list) = &room.allowed {
            let token = get_str(body, "token").unwrap_or_default();
            if !list.iter().any(|t| t == token) {
                return Err(unauthorized("not in the allowed list"));
            }
        }
        let session = self.sessions.entry(handle).or_default();
        if session.rooms.contains_key(&id) {
            return Err((ERROR_ALREADY_IN_ROOM, format!("Already in room {id}")));
        }
        let username = get_str(body, "username").unwrap_or_default().to_owned();
        let display = get_str(body, "display").map(str::to_owned);
        let room = self.rooms.get_mut(&id).ok_or_else(no_room(id))?;
        if room.participants.iter().any(|p| p.username == username) {
            return Err((ERROR_USERNAME_EXISTS, "Username already taken".into()));
        }
        let others: Vec<Value> = room.participants.iter().map(participant_json).collect();
        room.participants.push(Participant {
            handle,
            username: username.clone(),
            display: display.clone(),
        });
        session.rooms.insert(id, username.clone());
        let mut ev = Map::new();
        ev.insert("textroom".into(), "join".into());
        ev.insert("room".into(), id.into());
        ev.insert("username".into(), username.into());
        if let Some(d) = display {
            ev.insert("display".into(), d.into());
        }
        self.broadcast(id, &Value::Object(ev), None);
        let mut rest = Map::new();
        rest.insert("participants".into(), others.into());
        Ok(Answer::success(rest))
    }

    fn replay_history(&mut self, handle: HandleId, body: &Map<String, Value>) {
        if get_bool(body, "history") == Some(false) {
            return;
        }
        let id = get_u64(body, "room").unwrap_or_default();
        let joined = self
            .sessions
            .get(&handle)
            .is_some_and(|s| s.rooms.contains_key(&id));
        let Some(room) = self.rooms.get(&id).filter(|_| joined) else {
            return;
        };
        let msgs: Vec<Value> = room.messages.iter().cloned().collect();
        for m in msgs {
            self.send(handle, &m);
        }
    }

    fn leave(&mut self, handle: HandleId, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(body, &[ROOM])?;
        let id = self.room_id(body)?;
        let in_room = self
            .sessions
            .get(&handle)
            .is_some_and(|s| s.rooms.contains_key(&id));
        if !in_room {
            return Err((ERROR_NOT_IN_ROOM, format!("Not in room {id}")));
        }
        self.remove_from_room(handle, id, true);
        Ok(Answer::success(Map::new()))
    }

    /// Takes `handle` out of room `id`; everyone left (and the leaver when `tell_leaver`)
    /// gets a `leave` event.
    fn remove_from_room(&mut self, handle: HandleId, id: u64, tell_leaver: bool) {
        let Some(username) = self
            .sessions
            .get_mut(&handle)
            .and_then(|s| s.rooms.remove(&id))
        else {
            return;
        };
        if let Some(room) = self.rooms.get_mut(&id) {
            room.participants.retain(|p| p.handle != handle);
        }
        let ev = json!({"textroom": "leave", "room": id, "username": username});
        self.broadcast(id, &ev, None);
        if tell_leaver {
            self.send(handle, &ev);
        }
    }

    fn message(
        &mut self,
        now: Instant,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<Option<Answer>, Failure> {
        check(
            body,
            &[
                ROOM,
                ("text", Kind::Str, true),
                ("to", Kind::Str, false),
                ("tos", Kind::Array, false),
                ("ack", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        if body.contains_key("to") && body.contains_key("tos") {
            return Err((
                ERROR_INVALID_ELEMENT,
                "Both to and tos array provided".into(),
            ));
        }
        let Some(from) = self
            .sessions
            .get(&handle)
            .and_then(|s| s.rooms.get(&id))
            .cloned()
        else {
            return Err((ERROR_NOT_IN_ROOM, format!("Not in room {id}")));
        };
        let targets: Option<Vec<String>> = match (get_str(body, "to"), body.get("tos")) {
            (Some(to), _) => Some(vec![to.to_owned()]),
            (None, Some(Value::Array(tos))) => Some(
                tos.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        };
        let mut ev = Map::new();
        ev.insert("textroom".into(), "message".into());
        ev.insert("room".into(), id.into());
        ev.insert("from".into(), from.into());
        ev.insert("date".into(), self.clock.date(now).into());
        ev.insert(
            "text".into(),
            get_str(body, "text").unwrap_or_default().into(),
        );
        if targets.is_some() {
            ev.insert("whisper".into(), true.into());
        }
        let ev = Value::Object(ev);
        let mut rest = Map::new();
        match &targets {
            Some(t) => {
                let room = &self.rooms[&id];
                let sent: Map<String, Value> = t
                    .iter()
                    .map(|u| {
                        let present = room.participants.iter().any(|p| &p.username == u);
                        (u.clone(), present.into())
                    })
                    .collect();
                self.broadcast(id, &ev, Some(t));
                rest.insert("sent".into(), sent.into());
            }
            None => {
                self.broadcast(id, &ev, None);
                if let Some(room) = self.rooms.get_mut(&id)
                    && room.history > 0
                {
                    room.messages.push_back(ev);
                    while room.messages.len() as u64 > room.history {
                        room.messages.pop_front();
                    }
                }
            }
        }
        if get_bool(body, "ack") == Some(false) {
            return Ok(None);
        }
        Ok(Some(Answer::success(rest)))
    }

    fn announcement(&mut self, now: Instant, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("text", Kind::Str, true),
            ],
        )?;
        let id = self.room_id(body)?;
        check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        let ev = json!({
            "textroom": "announcement",
            "room": id,
            "date": self.clock.date(now),
            "text": get_str(body, "text").unwrap_or_default(),
        });
        self.broadcast(id, &ev, None);
        Ok(Answer::success(Map::new()))
    }

    fn list(&self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(body, &[("admin_key", Kind::Str, false)])?;
        let admin = self
            .config
            .admin_key
            .as_deref()
            .is_some_and(|k| get_str(body, "admin_key") == Some(k));
        let list: Vec<Value> = self
            .rooms
            .iter()
            .filter(|(_, r)| !r.is_private || admin)
            .map(|(id, r)| {
                json!({
                    "room": id,
                    "description": r.description,
                    "pin_required": r.pin.is_some(),
                    "num_participants": r.participants.len(),
                    "history": r.history,
                })
            })
            .collect();
        let mut rest = Map::new();
        rest.insert("list".into(), list.into());
        Ok(Answer::success(rest))
    }

    fn list_participants(&self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(body, &[ROOM])?;
        let id = self.room_id(body)?;
        let participants: Vec<Value> = self.rooms[&id]
            .participants
            .iter()
            .map(participant_json)
            .collect();
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("participants".into(), participants.into());
        Ok(Answer {
            key: None,
            ..Answer::success(rest)
        })
    }

    fn exists(&self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(body, &[ROOM])?;
        let id = get_u64(body, "room").unwrap_or_default();
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("exists".into(), self.rooms.contains_key(&id).into());
        Ok(Answer::success(rest))
    }

    fn create(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ("room", Kind::PosInt, false),
                ("admin_key", Kind::Str, false),
                ("description", Kind::Str, false),
                ("secret", Kind::Str, false),
                ("pin", Kind::Str, false),
                ("post", Kind::Str, false),
                ("is_private", Kind::Bool, false),
                ("history", Kind::PosInt, false),
                ("allowed", Kind::Array, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        if let Some(key) = &self.config.admin_key {
            check_secret(Some(key), body, "admin_key")?;
        }
        let allowed = allowed_list(body)?;
        if get_bool(body, "permanent") == Some(true) {
            return Err((
                ERROR_UNKNOWN,
                "No configuration file, can't create permanent room".into(),
            ));
        }
        let id = match get_u64(body, "room") {
            Some(id) if id > 0 => {
                if self.rooms.contains_key(&id) {
                    return Err((ERROR_ROOM_EXISTS, format!("Room {id} already exists")));
                }
                id
            }
            _ => loop {
                let id = self.ids.next();
                if !self.rooms.contains_key(&id) {
                    break id;
                }
            },
        };
        let room = Room {
            description: get_str(body, "description")
                .map_or_else(|| format!("Room {id}"), str::to_owned),
            is_private: get_bool(body, "is_private").unwrap_or(false),
            secret: get_str(body, "secret").map(str::to_owned),
            pin: get_str(body, "pin").map(str::to_owned),
            history: get_u64(body, "history").unwrap_or(0),
            post: get_str(body, "post").map(str::to_owned),
            allowed,
            participants: Vec::new(),
            messages: VecDeque::new(),
        };
        self.rooms.insert(id, room);
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("permanent".into(), false.into());
        Ok(Answer {
            api: "created",
            ..Answer::success(rest)
        })
    }

    fn edit(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("new_description", Kind::Str, false),
                ("new_secret", Kind::Str, false),
                ("new_pin", Kind::Str, false),
                ("new_post", Kind::Str, false),
                ("new_is_private", Kind::Bool, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        if get_bool(body, "permanent") == Some(true) {
            return Err((
                ERROR_UNKNOWN,
                "No configuration file, can't edit room permanently".into(),
            ));
        }
        let room = self.rooms.get_mut(&id).ok_or_else(no_room(id))?;
        if let Some(d) = get_str(body, "new_description").filter(|d| !d.is_empty()) {
            room.description = d.to_owned();
        }
        if let Some(s) = get_str(body, "new_secret") {
            room.secret = Some(s.to_owned());
        }
        if let Some(p) = get_str(body, "new_pin") {
            room.pin = (!p.is_empty()).then(|| p.to_owned());
        }
        if let Some(p) = get_str(body, "new_post") {
            room.post = (!p.is_empty()).then(|| p.to_owned());
        }
        if let Some(p) = get_bool(body, "new_is_private") {
            room.is_private = p;
        }
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("permanent".into(), false.into());
        Ok(Answer {
            api: "edited",
            ..Answer::success(rest)
        })
    }

    fn destroy(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        if get_bool(body, "permanent") == Some(true) {
            return Err((
                ERROR_UNKNOWN,
                "No configuration file, can't destroy room permanently".into(),
            ));
        }
        self.broadcast(id, &json!({"textroom": "destroyed", "room": id}), None);
        if let Some(room) = self.rooms.remove(&id) {
            for p in room.participants {
                if let Some(s) = self.sessions.get_mut(&p.handle) {
                    s.rooms.remove(&id);
                }
            }
        }
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("permanent".into(), false.into());
        Ok(Answer {
            api: "destroyed",
            ..Answer::success(rest)
        })
    }

    fn allowed(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("action", Kind::Str, true),
                ("allowed", Kind::Array, false),
            ],
        )?;
        let id = self.room_id(body)?;
        check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
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
        let room = self.rooms.get_mut(&id).ok_or_else(no_room(id))?;
        match action {
            "enable" => {
                let list = room.allowed.get_or_insert_with(Vec::new);
                extend_unique(list, tokens.unwrap_or_default());
            }
            "disable" => room.allowed = None,
            "add" => {
                let list = room.allowed.get_or_insert_with(Vec::new);
                extend_unique(list, tokens.unwrap_or_default());
            }
            _ => {
                if let Some(list) = &mut room.allowed {
                    let remove = tokens.unwrap_or_default();
                    list.retain(|t| !remove.contains(t));
                }
            }
        }
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        if let Some(list) = &room.allowed {
            rest.insert("allowed".into(), list.clone().into());
        }
        Ok(Answer::success(rest))
    }

    fn kick(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("username", Kind::Str, true),
            ],
        )?;
        let id = self.room_id(body)?;
        check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        let username = get_str(body, "username").unwrap_or_default().to_owned();
        let Some(kicked) = self.rooms[&id]
            .participants
            .iter()
            .find(|p| p.username == username)
            .map(|p| p.handle)
        else {
            return Err((
                ERROR_NO_SUCH_USER,
                format!("No such user {username} in room {id}"),
            ));
        };
        let ev = json!({"textroom": "kicked", "room": id, "username": username});
        self.broadcast(id, &ev, None);
        if let Some(room) = self.rooms.get_mut(&id) {
            room.participants.retain(|p| p.handle != kicked);
        }
        if let Some(s) = self.sessions.get_mut(&kicked) {
            s.rooms.remove(&id);
        }
        // Janus 1.1.2 misspells the key; clients match on it.
        Ok(Answer {
            key: Some("textbridge"),
            ..Answer::success(Map::new())
        })
    }

    /// The PeerConnection is gone: the user leaves every room.
    fn hangup(&mut self, handle: HandleId) {
        let rooms: Vec<u64> = self
            .sessions
            .get(&handle)
            .map(|s| s.rooms.keys().copied().collect())
            .unwrap_or_default();
        for id in rooms {
            self.remove_from_room(handle, id, false);
        }
        if let Some(s) = self.sessions.get_mut(&handle) {
            s.setup = false;
        }
    }
}

const ROOM: Param = ("room", Kind::PosInt, true);

fn check(body: &Map<String, Value>, params: &[Param]) -> Result<(), Failure> {
    validate(body, params).map_err(|e| (invalid_code(&e), e.reason().to_owned()))
}

fn invalid_code(e: &Invalid) -> u16 {
    match e {
        Invalid::Missing(_) => ERROR_MISSING_ELEMENT,
        Invalid::Type(_) => ERROR_INVALID_ELEMENT,
    }
}

/// `JANUS_CHECK_SECRET`: nothing to check without a configured value.
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

fn unauthorized(what: &str) -> Failure {
    (ERROR_UNAUTHORIZED, format!("Unauthorized ({what})"))
}

fn no_room(id: u64) -> impl FnOnce() -> Failure {
    move || (ERROR_NO_SUCH_ROOM, format!("No such room ({id})"))
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

fn extend_unique(list: &mut Vec<String>, add: Vec<String>) {
    for t in add {
        if !list.contains(&t) {
            list.push(t);
        }
    }
}

fn participant_json(p: &Participant) -> Value {
    let mut m = Map::new();
    m.insert("username".into(), p.username.clone().into());
    if let Some(d) = &p.display {
        m.insert("display".into(), d.clone().into());
    }
    Value::Object(m)
}

/// An answer as the channel words it: `{"textroom":<verb>,"transaction"?,…}`.
fn render(a: Answer, via: Via, tx: Option<&str>) -> Value {
    let mut m = Map::new();
    if let Some(key) = a.key {
        let verb = if via == Via::Api { a.api } else { a.dc };
        m.insert(key.into(), verb.into());
    }
    if let Some(t) = tx {
        m.insert("transaction".into(), t.into());
    }
    m.extend(a.rest);
    Value::Object(m)
}

/// The plugin's offer (before the core adds ICE/DTLS): one data channel m-line.
fn offer_sdp(session_id: u64, version: u64) -> String {
    format!(
        "v=0\r\no=- {session_id} {version} IN IP4 127.0.0.1\r\ns=Janus TextRoom plugin\r\nt=0 0\r\n\
         m=application 1 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 1.1.1.1\r\na=sctp-port:5000\r\n"
    )
}

/// Writes data-channel JSON the way jansson does for the configured format.
fn format_json(v: &Value, format: JsonFormat) -> String {
    match format {
        JsonFormat::Compact => v.to_string(),
        JsonFormat::Indented => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            match serde::Serialize::serialize(v, &mut ser) {
                Ok(()) => String::from_utf8(buf).unwrap_or_default(),
                Err(_) => v.to_string(),
            }
        }
        JsonFormat::Plain => {
            let mut buf = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, PlainFormatter);
            match serde::Serialize::serialize(v, &mut ser) {
                Ok(()) => String::from_utf8(buf).unwrap_or_default(),
                Err(_) => v.to_string(),
            }
        }
    }
}

/// jansson's `JSON_INDENT(0)`: one line, `", "` and `": "` separators.
struct PlainFormatter;

impl serde_json::ser::Formatter for PlainFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

impl Plugin for TextRoom {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PACKAGE,
            name: "JANUS TextRoom plugin",
            author: "Meetecho s.r.l.",
            description: "This is a plugin implementing a text-only room for Janus, using DataChannels.",
            version: 2,
            version_string: "0.0.2",
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
            PluginInput::Data {
                handle,
                binary,
                data,
                ..
            } => self.handle_data(now, handle, binary, &data),
            PluginInput::Peer {
                handle,
                event: PeerEvent::Hangup { .. },
            } => self.hangup(handle),
            PluginInput::Detach { handle } => {
                self.hangup(handle);
                self.sessions.remove(&handle);
            }
            PluginInput::QueryHandle { handle } => {
                let mut info = Map::new();
                if let Some(s) = self.sessions.get(&handle) {
                    let rooms: Vec<Value> = s
                        .rooms
                        .iter()
                        .map(|(r, u)| json!({"room": r, "username": u}))
                        .collect();
                    info.insert("rooms".into(), rooms.into());
                    info.insert("setup".into(), s.setup.into());
                }
                self.out.push(PluginOutput::HandleInfo { handle, info });
            }
            PluginInput::AdminMessage { request } => {
                // Janus accepts the synchronous room requests through the Admin API.
                let response = match request {
                    Value::Object(body) => {
                        let verb = get_str(&body, "request").unwrap_or_default().to_owned();
                        match self.dispatch(now, HandleId(0), &verb, &body, Via::Api) {
                            Ok(Some(a)) => render(a, Via::Api, None),
                            Ok(None) => json!({"textroom": "success"}),
                            Err((code, reason)) => {
                                json!({"textroom": "error", "error_code": code, "error": reason})
                            }
                        }
                    }
                    _ => {
                        json!({"textroom": "error", "error_code": ERROR_INVALID_JSON, "error": "JSON error: not an object"})
                    }
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

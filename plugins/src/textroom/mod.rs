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

mod chat;
mod format;
mod manage;

use chat::participant_json;
use format::{format_json, offer_sdp, render};

use crate::rooms::{Codes, Failure, token_allowed};
use crate::util::{Kind, Outbox, Param, WallClock, get_bool, get_str, get_u64, validate};

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
            let data = event_error(CODES.invalid_code(&e), e.reason());
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
            self.dc_error(handle, tx.as_deref(), CODES.invalid_code(&e), e.reason());
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
}

const ROOM: Param = ("room", Kind::PosInt, true);

const CODES: Codes = Codes {
    missing: ERROR_MISSING_ELEMENT,
    invalid: ERROR_INVALID_ELEMENT,
    unauthorized: ERROR_UNAUTHORIZED,
    unknown: ERROR_UNKNOWN,
};

fn check(body: &Map<String, Value>, params: &[Param]) -> Result<(), Failure> {
    CODES.check(body, params)
}

fn no_room(id: u64) -> impl FnOnce() -> Failure {
    move || (ERROR_NO_SUCH_ROOM, format!("No such room ({id})"))
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

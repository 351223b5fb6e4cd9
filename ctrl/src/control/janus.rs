//! The Janus API verbs (`janus_process_incoming_request`).

use std::time::Instant;

use serde_json::{Map, Value};

use super::{ControlPlane, Output, SessionOverReason, Transport};
use crate::api::response::{self, message};
use crate::api::validate::{JType, Texts, str_member, validate};
use crate::api::{ApiError, ApiKind, Envelope, JanusCode, decode_envelope};
use crate::media::{HangupReason, Jsep, JsepType, check_sdp};
use crate::plugin::{MessageResult, PluginInput, PluginOutput};
use crate::sessions::{Handle, RtcState, Session};
use crate::{HandleId, SessionId};

/// A trickle candidate after Janus's `janus_ice_trickle_parse` checks.
enum Candidate {
    /// End of candidates.
    Completed,
    /// A usable candidate.
    Usable(Value),
    /// For an m-line other than the first: ignored because everything is bundled.
    Ignored,
}

impl ControlPlane {
    /// Process one Janus API request from `from` and return the immediate reply.
    ///
    /// Anything that is not a JSON object is answered as Janus does (456, no transaction);
    /// events caused by the request are queued for [`poll_output`](Self::poll_output).
    pub fn handle_request(&mut self, now: Instant, from: Transport, request: Value) -> Value {
        let empty = Map::new();
        let obj = match &request {
            Value::Object(m) => m,
            _ => &empty,
        };
        let env = match decode_envelope(obj, ApiKind::Janus) {
            Ok(env) => env,
            Err(e) => {
                self.metrics.count_request("other");
                return response::error(e.session_id, None, &e.error);
            }
        };
        self.metrics.count_request(&env.verb_lower);
        match self.dispatch(now, from, obj, &env) {
            Ok(reply) => reply,
            Err(e) => response::error(env.session_id, Some(&env.transaction), &e),
        }
    }

    fn dispatch(
        &mut self,
        now: Instant,
        from: Transport,
        obj: &Map<String, Value>,
        env: &Envelope,
    ) -> Result<Value, ApiError> {
        let tx = env.transaction.as_str();
        if env.session_id == 0 && env.handle_id == 0 {
            return match env.verb_lower.as_str() {
                "info" => Ok(self.server_info(tx)),
                "ping" => Ok(Value::Object(message("pong", 0, Some(tx)))),
                "create" => self.create(now, from, obj, tx),
                _ => Err(unhandled(&env.verb)),
            };
        }
        if env.session_id == 0 {
            return Err(ApiError::plain(JanusCode::SessionNotFound));
        }
        if env.handle_present && env.handle_id == 0 {
            return Err(ApiError::plain(JanusCode::HandleNotFound));
        }
        if !self.check_secret(now, obj) {
            return Err(ApiError::plain(JanusCode::Unauthorized));
        }
        let sid = SessionId(env.session_id);
        let Some(session) = self.reg.sessions.get_mut(&sid) else {
            return Err(ApiError::new(
                JanusCode::SessionNotFound,
                format!("No such session {}", sid.0),
            ));
        };
        session.last_activity = now;
        let handle = match env.handle_id {
            0 => None,
            h if self.reg.handle_in(sid, HandleId(h)).is_some() => Some(HandleId(h)),
            h => {
                let reason = format!("No such handle {h} in session {}", sid.0);
                return Err(ApiError::new(JanusCode::HandleNotFound, reason));
            }
        };
        match (env.verb_lower.as_str(), handle) {
            ("keepalive", _) => Ok(Value::Object(message("ack", sid.0, Some(tx)))),
            ("claim", _) => Ok(self.claim(from, sid, tx)),
            ("attach", None) => self.attach(now, sid, obj, tx),
            ("destroy", None) => {
                self.metrics.sessions_destroyed += 1;
                self.end_session(now, sid, SessionOverReason::Destroyed);
                Ok(success(sid, tx))
            }
            ("detach", Some(h)) => {
                self.teardown_handle(now, h, true);
                Ok(success(sid, tx))
            }
            ("hangup", Some(h)) => {
                self.webrtc_hangup(now, h, HangupReason::JanusApi);
                Ok(success(sid, tx))
            }
            ("message", Some(h)) => self.message(now, sid, h, obj, tx),
            ("trickle", Some(h)) => self.trickle(now, sid, h, obj, tx),
            ("attach" | "destroy", Some(_))
            | ("detach" | "hangup" | "message" | "trickle", None) => Err(unhandled(&env.verb)),
            _ => Err(ApiError::new(
                JanusCode::UnknownRequest,
                format!("Unknown request '{}'", env.verb),
            )),
        }
    }

    /// `janus_request_check_secret`: either a valid `apisecret` or a valid `token` passes.
    fn check_secret(&self, now: Instant, obj: &Map<String, Value>) -> bool {
        let g = &self.config.general;
        if g.api_secret.is_none() && !g.token_auth {
            return true;
        }
        let secret_ok = g.api_secret.as_deref().is_some_and(|s| {
            str_member(obj, "apisecret")
                .is_some_and(|given| constant_time_eq(given.as_bytes(), s.as_bytes()))
        });
        let token_ok = g.token_auth
            && str_member(obj, "token").is_some_and(|t| self.token_valid(now, t, None));
        secret_ok || token_ok
    }

    fn create(
        &mut self,
        now: Instant,
        from: Transport,
        obj: &Map<String, Value>,
        tx: &str,
    ) -> Result<Value, ApiError> {
        if !self.status.accept_new_sessions {
            return Err(ApiError::plain(JanusCode::NotAcceptingSessions));
        }
        if !self.check_secret(now, obj) {
            return Err(ApiError::plain(JanusCode::Unauthorized));
        }
        let wanted = obj.get("id").and_then(Value::as_u64).unwrap_or(0);
        let sid = if wanted > 0 {
            if self.reg.sessions.contains_key(&SessionId(wanted)) {
                let e = ApiError::new(JanusCode::SessionConflict, "Session ID already in use");
                return Ok(response::error(wanted, Some(tx), &e));
            }
            SessionId(wanted)
        } else {
            self.reg.new_session_id()
        };
        let session = Session {
            owner: from,
            last_activity: now,
            timeout: -1,
            transport_gone: false,
            handles: Vec::new(),
        };
        self.reg.sessions.insert(sid, session);
        self.metrics.sessions_created += 1;
        tracing::debug!(
            session = sid.0,
            transport = from.package(),
            "session created"
        );
        let mut reply = message("success", 0, Some(tx));
        reply.insert("data".into(), id_data(sid.0));
        Ok(Value::Object(reply))
    }

    fn claim(&mut self, from: Transport, sid: SessionId, tx: &str) -> Value {
        if let Some(s) = self.reg.sessions.get_mut(&sid) {
            // Every HTTP request is its own transport instance in Janus, so an HTTP claim
            // always re-binds; a WebSocket claiming its own session is a no-op.
            if s.owner != from || from == Transport::Http {
                let old = s.owner;
                s.owner = from;
                s.transport_gone = false;
                let over = Output::SessionOver {
                    to: old,
                    session: sid,
                    reason: SessionOverReason::Claimed,
                };
                self.outputs.push_back(over);
            }
        }
        success(sid, tx)
    }

    fn attach(
        &mut self,
        now: Instant,
        sid: SessionId,
        obj: &Map<String, Value>,
        tx: &str,
    ) -> Result<Value, ApiError> {
        let params = [
            ("plugin", JType::Str, true),
            ("opaque_id", JType::Str, false),
            ("loop_index", JType::PosInt, false),
        ];
        validate(obj, &params, Texts::Plain)?;
        let name = str_member(obj, "plugin").unwrap_or_default();
        let Some(plugin) = self.plugin_index(name) else {
            return Err(ApiError::new(
                JanusCode::PluginNotFound,
                format!("No such plugin '{name}'"),
            ));
        };
        let token = if self.config.general.token_auth {
            str_member(obj, "token")
        } else {
            None
        };
        if let Some(t) = token
            && !self.token_valid(now, t, Some(name))
        {
            let reason = format!("Provided token can't access plugin '{name}'");
            return Err(ApiError::new(JanusCode::UnauthorizedPlugin, reason));
        }
        let hid = self.reg.new_handle_id();
        let opaque_id = str_member(obj, "opaque_id").map(str::to_owned);
        let handle = Handle {
            session: sid,
            plugin,
            opaque_id: opaque_id.clone(),
            token: token.map(str::to_owned),
            created: now,
            rtc: RtcState::default(),
        };
        self.reg.insert_handle(hid, handle);
        let input = PluginInput::Attach {
            handle: hid,
            session: sid,
            opaque_id,
            token: token.map(str::to_owned),
        };
        let scoped = self.drive(now, plugin, input);
        let refused = scoped.iter().find_map(|o| match o {
            PluginOutput::AttachRefused { handle, code } if *handle == hid => Some(*code),
            _ => None,
        });
        if let Some(code) = refused {
            self.reg.remove_handle(hid);
            let reason = format!("Couldn't attach to plugin: error '{code}'");
            return Err(ApiError::new(JanusCode::PluginAttach, reason));
        }
        self.metrics.handles_attached += 1;
        let mut reply = message("success", sid.0, Some(tx));
        reply.insert("data".into(), id_data(hid.0));
        Ok(Value::Object(reply))
    }

    fn message(
        &mut self,
        now: Instant,
        sid: SessionId,
        hid: HandleId,
        obj: &Map<String, Value>,
        tx: &str,
    ) -> Result<Value, ApiError> {
        validate(obj, &[("body", JType::Object, true)], Texts::Plain)?;
        let body = obj
            .get("body")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let jsep = match obj.get("jsep") {
            None => None,
            Some(j) => Some(self.process_remote_jsep(now, hid, j)?),
        };
        let plugin = self
            .reg
            .handles
            .get(&hid)
            .map(|h| h.plugin)
            .ok_or_else(no_plugin)?;
        let input = PluginInput::Message {
            handle: hid,
            transaction: tx.to_owned(),
            body,
            jsep,
        };
        let scoped = self.drive(now, plugin, input);
        let result = scoped.into_iter().find_map(|o| match o {
            PluginOutput::Reply { handle, result } if handle == hid => Some(result),
            _ => None,
        });
        match result {
            None => Err(ApiError::new(
                JanusCode::PluginMessage,
                "Plugin didn't give a result",
            )),
            Some(MessageResult::Error(text)) => Err(ApiError::new(JanusCode::PluginMessage, text)),
            Some(MessageResult::Ack { hint }) => {
                let mut reply = message("ack", sid.0, Some(tx));
                if let Some(h) = hint {
                    reply.insert("hint".into(), h.into());
                }
                Ok(Value::Object(reply))
            }
            Some(MessageResult::Success(data)) => {
                let mut reply = message("success", sid.0, Some(tx));
                reply.insert("sender".into(), hid.0.into());
                self.insert_opaque_id(&mut reply, hid);
                reply.insert("plugindata".into(), self.plugindata(plugin, data));
                Ok(Value::Object(reply))
            }
        }
    }

    /// The `jsep` checks of `message`, then the media engine; updates the handle's flags.
    fn process_remote_jsep(
        &mut self,
        now: Instant,
        hid: HandleId,
        j: &Value,
    ) -> Result<Jsep, ApiError> {
        let Value::Object(jo) = j else {
            return Err(ApiError::new(
                JanusCode::InvalidJsonObject,
                "Invalid jsep object",
            ));
        };
        let params = [
            ("type", JType::Str, true),
            ("sdp", JType::Str, true),
            ("trickle", JType::Bool, false),
            ("rid_order", JType::Str, false),
            ("force_relay", JType::Bool, false),
            ("e2ee", JType::Bool, false),
        ];
        validate(jo, &params, Texts::Jsep)?;
        let t = str_member(jo, "type").unwrap_or_default();
        let kind = match t.to_ascii_lowercase().as_str() {
            "offer" => JsepType::Offer,
            "answer" => JsepType::Answer,
            _ => {
                let reason = format!("JSEP error: unknown message type '{t}'");
                return Err(ApiError::new(JanusCode::JsepUnknownType, reason));
            }
        };
        let sdp = str_member(jo, "sdp").unwrap_or_default();
        check_sdp(sdp)?;
        let rtc = &self.reg.handles.get(&hid).ok_or_else(no_plugin)?.rtc;
        let renegotiation = rtc.negotiated;
        if kind == JsepType::Answer && !renegotiation && !rtc.has_pc {
            return Err(ApiError::new(
                JanusCode::UnexpectedAnswer,
                "Unexpected ANSWER (did we offer?)",
            ));
        }
        let mut jsep = Jsep::new(kind, sdp);
        jsep.trickle = jo.get("trickle").and_then(Value::as_bool);
        jsep.e2ee = jo.get("e2ee").and_then(Value::as_bool).unwrap_or(false);
        let for_plugin = self
            .media
            .handle_remote_jsep(now, hid, &jsep, renegotiation)?;
        if let Some(h) = self.reg.handles.get_mut(&hid) {
            apply_jsep_flags(&mut h.rtc, kind);
            h.rtc.trickle |= jsep.trickle.unwrap_or(true);
            h.rtc.e2ee |= jsep.e2ee;
            h.rtc.remote_sdp = Some(sdp.to_owned());
        }
        Ok(for_plugin)
    }

    fn trickle(
        &mut self,
        now: Instant,
        sid: SessionId,
        hid: HandleId,
        obj: &Map<String, Value>,
        tx: &str,
    ) -> Result<Value, ApiError> {
        let (candidate, candidates) = (obj.get("candidate"), obj.get("candidates"));
        match (candidate, candidates) {
            (None, None) => {
                let reason = "Missing mandatory element (candidate|candidates)";
                return Err(ApiError::new(JanusCode::MissingMandatoryElement, reason));
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::new(
                    JanusCode::InvalidJson,
                    "Can't have both candidate and candidates",
                ));
            }
            _ => {}
        }
        let h = self.reg.handles.get_mut(&hid).ok_or_else(no_plugin)?;
        h.rtc.trickle = true;
        let ready = h.rtc.has_pc && h.rtc.got_offer && h.rtc.got_answer;
        let plugin = h.plugin;
        let mut usable = Vec::new();
        let mut completed = false;
        if !ready {
            // Janus queues early candidates unchecked and parses them once the PeerConnection is
            // ready; the engine does the queueing.
            let raw: Vec<&Value> = match (candidate, candidates) {
                (Some(c), _) => vec![c],
                (_, Some(Value::Array(a))) => a.iter().collect(),
                _ => Vec::new(),
            };
            for c in raw {
                if is_completion(c) {
                    completed = true;
                } else {
                    usable.push(c.clone());
                }
            }
        } else if let Some(c) = candidate {
            match parse_candidate(c)? {
                Candidate::Completed => completed = true,
                Candidate::Usable(v) => usable.push(v),
                Candidate::Ignored => {}
            }
        } else {
            let Some(Value::Array(list)) = candidates else {
                return Err(ApiError::new(
                    JanusCode::InvalidElementType,
                    "candidates is not an array",
                ));
            };
            for c in list {
                match parse_candidate(c) {
                    Ok(Candidate::Completed) => completed = true,
                    Ok(Candidate::Usable(v)) => usable.push(v),
                    _ => {}
                }
            }
        }
        if completed && let Some(h) = self.reg.handles.get_mut(&hid) {
            h.rtc.all_trickles = true;
        }
        self.media.handle_trickle(now, hid, &usable, completed);
        let notice = PluginInput::Trickle {
            handle: hid,
            candidates: usable.len(),
            completed,
        };
        self.drive(now, plugin, notice);
        Ok(Value::Object(message("ack", sid.0, Some(tx))))
    }

    /// Add `opaque_id` to a handle reply or event when `opaqueid_in_api` is on.
    pub(super) fn insert_opaque_id(&self, m: &mut Map<String, Value>, hid: HandleId) {
        if self.config.general.opaqueid_in_api
            && let Some(o) = self
                .reg
                .handles
                .get(&hid)
                .and_then(|h| h.opaque_id.as_deref())
        {
            m.insert("opaque_id".into(), o.into());
        }
    }

    /// `{"plugin": <package>, "data": data}`.
    pub(super) fn plugindata(&self, plugin: usize, data: Value) -> Value {
        let mut pd = Map::new();
        let package = self.plugins.get(plugin).map_or("", |p| p.info.package);
        pd.insert("plugin".into(), package.into());
        pd.insert("data".into(), data);
        Value::Object(pd)
    }
}

/// Offer/answer bookkeeping shared by client and plugin JSEPs.
pub(super) fn apply_jsep_flags(rtc: &mut RtcState, kind: JsepType) {
    match kind {
        JsepType::Offer => {
            rtc.got_offer = true;
            rtc.got_answer = false;
        }
        JsepType::Answer => {
            rtc.got_answer = true;
            if rtc.got_offer {
                rtc.negotiated = true;
            }
        }
    }
    if !rtc.has_pc {
        rtc.has_pc = true;
        rtc.alert = false;
        rtc.ready = false;
    }
}

fn is_completion(c: &Value) -> bool {
    !c.is_object() || c.get("completed").is_some()
}

/// `janus_ice_trickle_parse`, with its texts and order.
fn parse_candidate(c: &Value) -> Result<Candidate, ApiError> {
    if is_completion(c) {
        return Ok(Candidate::Completed);
    }
    let mid = c.get("sdpMid");
    if mid.is_some_and(|m| !m.is_string()) {
        let reason = "Trickle error: invalid element type (sdpMid should be a string)";
        return Err(ApiError::new(JanusCode::InvalidElementType, reason));
    }
    let mline = c.get("sdpMLineIndex");
    if mline.is_some_and(|m| !m.is_u64()) {
        let reason =
            "Trickle error: invalid element type (sdpMLineIndex should be a positive integer)";
        return Err(ApiError::new(JanusCode::InvalidElementType, reason));
    }
    if mid.is_none() && mline.is_none() {
        let reason = "Trickle error: missing mandatory element (sdpMid or sdpMLineIndex)";
        return Err(ApiError::new(JanusCode::MissingMandatoryElement, reason));
    }
    match c.get("candidate") {
        None => {
            let reason = "Trickle error: missing mandatory element (candidate)";
            Err(ApiError::new(JanusCode::MissingMandatoryElement, reason))
        }
        Some(v) if !v.is_string() => {
            let reason = "Trickle error: invalid element type (candidate should be a string)";
            Err(ApiError::new(JanusCode::InvalidElementType, reason))
        }
        // Everything is bundled: candidates for later m-lines are dropped silently.
        Some(_) if mline.and_then(Value::as_u64).is_some_and(|i| i > 0) => Ok(Candidate::Ignored),
        Some(_) => Ok(Candidate::Usable(c.clone())),
    }
}

fn unhandled(verb: &str) -> ApiError {
    ApiError::new(
        JanusCode::InvalidRequestPath,
        format!("Unhandled request '{verb}' at this path"),
    )
}

fn no_plugin() -> ApiError {
    ApiError::new(JanusCode::PluginMessage, "No plugin to handle this message")
}

fn success(sid: SessionId, tx: &str) -> Value {
    Value::Object(message("success", sid.0, Some(tx)))
}

fn id_data(id: u64) -> Value {
    let mut data = Map::new();
    data.insert("id".into(), id.into());
    Value::Object(data)
}

/// Compare secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

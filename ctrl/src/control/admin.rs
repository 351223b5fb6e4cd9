//! The Admin API verbs (`janus_process_incoming_admin_request`).

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::janus::constant_time_eq;
use super::{AdminReply, ControlPlane};
use crate::api::response::{self, message};
use crate::api::validate::{JType, Texts, str_member, validate};
use crate::api::{ApiError, ApiKind, Envelope, JanusCode, decode_envelope};
use crate::media::HangupReason;
use crate::netcheck::{self, AdminTicket, NetJob, NetOutcome};
use crate::plugin::{PluginInput, PluginOutput};
use crate::{HandleId, SessionId};

type Reply = Result<Value, ApiError>;

/// What dispatching an Admin request produced.
enum Dispatched {
    /// The reply.
    Reply(Value),
    /// A network check to run before replying.
    Job(NetJob),
}

impl ControlPlane {
    /// Process one Admin API request: the reply, or a ticket for a request that waits for a
    /// network check (`resolve_address`, `test_stun`; see [`AdminReply::Later`]).
    pub fn admin_request(&mut self, now: Instant, request: Value) -> AdminReply {
        let empty = Map::new();
        let obj = match &request {
            Value::Object(m) => m,
            _ => &empty,
        };
        let env = match decode_envelope(obj, ApiKind::Admin) {
            Ok(env) => env,
            Err(e) => {
                self.metrics.count_admin_request("other");
                return AdminReply::Now(response::error(e.session_id, None, &e.error));
            }
        };
        self.metrics.count_admin_request(&env.verb_lower);
        match self.admin_dispatch(now, obj, &env) {
            Ok(Dispatched::Reply(reply)) => AdminReply::Now(reply),
            Ok(Dispatched::Job(job)) => {
                let ticket = AdminTicket(self.next_ticket);
                self.next_ticket += 1;
                let transaction = env.transaction.clone();
                self.pending_admin
                    .insert(ticket, super::PendingAdmin { transaction });
                if let Some(outcome) = job.run_if_immediate() {
                    let reply = self.handle_net_outcome(ticket, outcome);
                    return AdminReply::Now(reply.unwrap_or(Value::Null));
                }
                self.net_jobs.push_back((ticket, job));
                AdminReply::Later(ticket)
            }
            Err(e) => AdminReply::Now(response::error(env.session_id, Some(&env.transaction), &e)),
        }
    }

    /// Process one Admin API request and return the reply at once.
    ///
    /// For callers without a network worker (tests, fuzzing): a request that needs a network
    /// check is validated as usual and then answered with its failure (490 `Could not resolve
    /// address` / `STUN request failed`) without touching the network. The server uses
    /// [`admin_request`](Self::admin_request), which runs the checks.
    pub fn handle_admin_request(&mut self, now: Instant, request: Value) -> Value {
        match self.admin_request(now, request) {
            AdminReply::Now(reply) => reply,
            AdminReply::Later(ticket) => {
                let job = self
                    .net_jobs
                    .iter()
                    .position(|(t, _)| *t == ticket)
                    .and_then(|i| self.net_jobs.remove(i));
                let outcome = job.map_or(NetOutcome::Failed(netcheck::STUN_FAILED), |(_, j)| {
                    j.refused()
                });
                self.handle_net_outcome(ticket, outcome)
                    .unwrap_or(Value::Null)
            }
        }
    }

    /// The next network check to run (off the control thread), with its ticket.
    pub fn poll_net_job(&mut self) -> Option<(AdminTicket, NetJob)> {
        self.net_jobs.pop_front()
    }

    /// A network check finished: the reply for its request, or `None` for an unknown ticket.
    pub fn handle_net_outcome(
        &mut self,
        ticket: AdminTicket,
        outcome: NetOutcome,
    ) -> Option<Value> {
        let pending = self.pending_admin.remove(&ticket)?;
        let tx = pending.transaction.as_str();
        Some(match outcome {
            NetOutcome::Resolved { ip, elapsed_us } => {
                let mut m = message("success", 0, Some(tx));
                m.insert("ip".into(), ip.to_string().into());
                m.insert("elapsed".into(), elapsed_us.into());
                Value::Object(m)
            }
            NetOutcome::Mapped { public, elapsed_us } => {
                let mut m = message("success", 0, Some(tx));
                m.insert("public_ip".into(), public.ip().to_string().into());
                m.insert("public_port".into(), public.port().into());
                m.insert("elapsed".into(), elapsed_us.into());
                Value::Object(m)
            }
            NetOutcome::Failed(reason) => {
                response::error(0, Some(tx), &ApiError::new(JanusCode::Unknown, reason))
            }
        })
    }

    fn admin_dispatch(
        &mut self,
        now: Instant,
        obj: &Map<String, Value>,
        env: &Envelope,
    ) -> Result<Dispatched, ApiError> {
        let tx = env.transaction.as_str();
        if env.session_id == 0 && env.handle_id == 0 {
            match env.verb_lower.as_str() {
                "info" => return Ok(Dispatched::Reply(self.server_info(tx))),
                "ping" => {
                    return Ok(Dispatched::Reply(Value::Object(message(
                        "pong",
                        0,
                        Some(tx),
                    ))));
                }
                _ => {}
            }
            self.check_admin_secret(obj)?;
            if let Some(job) = self.net_job(obj, env)? {
                return Ok(Dispatched::Job(job));
            }
            return self.admin_global(now, obj, env).map(Dispatched::Reply);
        }
        if env.session_id == 0 || (env.handle_present && env.handle_id == 0) {
            // Quirk kept from Janus: a bad handle id is also 458 on the Admin API.
            return Err(ApiError::plain(JanusCode::SessionNotFound));
        }
        self.check_admin_secret(obj)?;
        let sid = SessionId(env.session_id);
        if !self.reg.sessions.contains_key(&sid) {
            return Err(ApiError::new(
                JanusCode::SessionNotFound,
                format!("No such session {}", sid.0),
            ));
        }
        if env.handle_id == 0 {
            return self
                .admin_session(now, sid, obj, env)
                .map(Dispatched::Reply);
        }
        let hid = HandleId(env.handle_id);
        if self.reg.handle_in(sid, hid).is_none() {
            let reason = format!("No such handle {} in session {}", hid.0, sid.0);
            return Err(ApiError::new(JanusCode::HandleNotFound, reason));
        }
        self.admin_handle(now, sid, hid, obj, env)
            .map(Dispatched::Reply)
    }

    /// `resolve_address` and `test_stun` (global requests): validate, and describe the check.
    fn net_job(
        &self,
        obj: &Map<String, Value>,
        env: &Envelope,
    ) -> Result<Option<NetJob>, ApiError> {
        match env.verb_lower.as_str() {
            "resolve_address" => {
                validate(obj, &[("address", JType::Str, true)], Texts::Plain)?;
                let address = str_member(obj, "address").unwrap_or_default().to_owned();
                Ok(Some(NetJob::Resolve { address }))
            }
            "test_stun" => {
                let params = [
                    ("address", JType::Str, true),
                    ("port", JType::PosInt, true),
                    ("localport", JType::PosInt, false),
                ];
                validate(obj, &params, Texts::Plain)?;
                let address = str_member(obj, "address").unwrap_or_default().to_owned();
                let port = obj.get("port").and_then(Value::as_u64).unwrap_or(0);
                let local_port = obj.get("localport").and_then(Value::as_u64).unwrap_or(0);
                // Janus casts to 16 bits; a port that does not fit cannot be what was meant.
                let (Ok(port), Ok(local_port)) = (u16::try_from(port), u16::try_from(local_port))
                else {
                    return Err(ApiError::new(JanusCode::Unknown, netcheck::STUN_FAILED));
                };
                Ok(Some(NetJob::Stun {
                    address,
                    port,
                    local_port,
                    timeout: self.config.nat.stun_timeout(),
                }))
            }
            _ => Ok(None),
        }
    }

    fn check_admin_secret(&self, obj: &Map<String, Value>) -> Result<(), ApiError> {
        let Some(secret) = self.config.general.admin_secret.as_deref() else {
            return Ok(());
        };
        match str_member(obj, "admin_secret") {
            Some(given) if constant_time_eq(given.as_bytes(), secret.as_bytes()) => Ok(()),
            _ => Err(ApiError::plain(JanusCode::Unauthorized)),
        }
    }

    fn admin_global(&mut self, now: Instant, obj: &Map<String, Value>, env: &Envelope) -> Reply {
        let tx = env.transaction.as_str();
        match env.verb_lower.as_str() {
            "get_status" => Ok(with(tx, "status", self.status_json())),
            "set_session_timeout" => {
                validate(obj, &[("timeout", JType::PosInt, true)], Texts::Plain)?;
                let t = obj.get("timeout").and_then(Value::as_u64).unwrap_or(0);
                self.status.session_timeout = t;
                Ok(with(tx, "timeout", t.into()))
            }
            "set_log_level" => {
                validate(obj, &[("level", JType::PosInt, true)], Texts::Plain)?;
                let level = obj.get("level").and_then(Value::as_u64).unwrap_or(0);
                let level = u8::try_from(level)
                    .ok()
                    .filter(|l| *l <= 7)
                    .ok_or_else(|| {
                        ApiError::new(
                            JanusCode::InvalidElementType,
                            "Invalid element type (level should be between 0 and 7)",
                        )
                    })?;
                self.status.log_level = level;
                if let Some(hook) = self.log_hook.as_mut() {
                    hook(level);
                }
                Ok(with(tx, "level", level.into()))
            }
            "set_locking_debug" => self.set_bool(obj, tx, "debug", "locking_debug", |s, v| {
                s.locking_debug = v
            }),
            "set_refcount_debug" => self.set_bool(obj, tx, "debug", "refcount_debug", |s, v| {
                s.refcount_debug = v
            }),
            "set_libnice_debug" => self.set_bool(obj, tx, "debug", "libnice_debug", |s, v| {
                s.libnice_debug = v
            }),
            "set_log_timestamps" => {
                self.set_bool(obj, tx, "timestamps", "log_timestamps", |s, v| {
                    s.log_timestamps = v
                })
            }
            "set_log_colors" => {
                self.set_bool(obj, tx, "colors", "log_colors", |s, v| s.log_colors = v)
            }
            "set_nack_optimizations" => self.set_bool(
                obj,
                tx,
                "nack_optimizations",
                "nack-optimizations",
                |s, v| {
                    s.nack_optimizations = v;
                },
            ),
            "accept_new_sessions" => self.set_bool(obj, tx, "accept", "accept", |s, v| {
                s.accept_new_sessions = v
            }),
            "set_min_nack_queue" => {
                self.set_uint(obj, tx, "min_nack_queue", |s, v| s.min_nack_queue = v)
            }
            "set_no_media_timer" => {
                self.set_uint(obj, tx, "no_media_timer", |s, v| s.no_media_timer = v)
            }
            "set_slowlink_threshold" => self.set_uint(obj, tx, "slowlink_threshold", |s, v| {
                s.slowlink_threshold = v
            }),
            "list_sessions" => {
                let list: Vec<Value> = self.reg.sessions.keys().map(|s| s.0.into()).collect();
                Ok(with(tx, "sessions", Value::Array(list)))
            }
            "message_plugin" => self.message_plugin(now, obj, tx),
            "query_transport" => self.query_named(obj, "transport", "Invalid transport"),
            "query_eventhandler" => self.query_named(obj, "handler", "Invalid event handler"),
            "query_logger" => self.query_named(obj, "logger", "Invalid logger"),
            "custom_event" => {
                validate(
                    obj,
                    &[("schema", JType::Str, true), ("data", JType::Object, true)],
                    Texts::Plain,
                )?;
                Ok(Value::Object(message("success", 0, Some(tx))))
            }
            "custom_logline" => {
                validate(
                    obj,
                    &[("line", JType::Str, true), ("level", JType::PosInt, false)],
                    Texts::Plain,
                )?;
                let line = str_member(obj, "line").unwrap_or_default();
                // Janus's levels: 0 none (always printed), 1 fatal, 2 err, 3 warn, 4 info,
                // 5 verb, 6 huge, 7 dbg; out of range is info.
                match obj.get("level").and_then(Value::as_u64).unwrap_or(4) {
                    0..=2 => tracing::error!(line, "custom_logline"),
                    3 => tracing::warn!(line, "custom_logline"),
                    5 => tracing::debug!(line, "custom_logline"),
                    6 | 7 => tracing::trace!(line, "custom_logline"),
                    _ => tracing::info!(line, "custom_logline"),
                }
                Ok(Value::Object(message("success", 0, Some(tx))))
            }
            "loops_info" => Ok(with(tx, "loops", json!([]))),
            "add_token" | "allow_token" | "disallow_token" | "list_tokens" | "remove_token" => {
                self.token_request(obj, env)
            }
            _ => Err(unhandled(&env.verb)),
        }
    }

    fn admin_session(
        &mut self,
        now: Instant,
        sid: SessionId,
        obj: &Map<String, Value>,
        env: &Envelope,
    ) -> Reply {
        let tx = env.transaction.as_str();
        match env.verb_lower.as_str() {
            "destroy_session" => {
                self.metrics.sessions_destroyed += 1;
                self.end_session(now, sid, super::SessionOverReason::Destroyed);
                Ok(Value::Object(message("success", sid.0, Some(tx))))
            }
            "set_session_timeout" => {
                validate(obj, &[("timeout", JType::Int, true)], Texts::Plain)?;
                // Above i64::MAX is no timeout Janus can hold (jansson refuses the integer);
                // it must not read as 0, "never expire".
                let Some(t) = obj
                    .get("timeout")
                    .and_then(Value::as_i64)
                    .filter(|t| *t >= -1)
                else {
                    let reason =
                        "Invalid element type (timeout should be a non-negative integer or -1)";
                    return Err(ApiError::new(JanusCode::InvalidElementType, reason));
                };
                if let Some(s) = self.reg.sessions.get_mut(&sid) {
                    s.timeout = t;
                }
                let mut m = message("success", 0, Some(tx));
                m.insert("timeout".into(), t.into());
                m.insert("session_id".into(), sid.0.into());
                Ok(Value::Object(m))
            }
            "list_handles" => {
                let list: Vec<Value> = self
                    .reg
                    .sessions
                    .get(&sid)
                    .map(|s| s.handles.iter().map(|h| h.0.into()).collect())
                    .unwrap_or_default();
                let mut m = message("success", sid.0, Some(tx));
                m.insert("handles".into(), Value::Array(list));
                Ok(Value::Object(m))
            }
            _ => Err(unhandled(&env.verb)),
        }
    }

    fn admin_handle(
        &mut self,
        now: Instant,
        sid: SessionId,
        hid: HandleId,
        obj: &Map<String, Value>,
        env: &Envelope,
    ) -> Reply {
        let tx = env.transaction.as_str();
        match env.verb_lower.as_str() {
            "detach_handle" => {
                self.teardown_handle(now, hid, true);
                Ok(Value::Object(message("success", sid.0, Some(tx))))
            }
            "hangup_webrtc" => {
                self.webrtc_hangup(now, hid, HangupReason::AdminApi);
                Ok(Value::Object(message("success", sid.0, Some(tx))))
            }
            "start_pcap" | "start_text2pcap" => {
                let params = [
                    ("folder", JType::Str, false),
                    ("filename", JType::Str, false),
                    ("truncate", JType::PosInt, false),
                ];
                validate(obj, &params, Texts::Plain)?;
                // Packet capture needs the dataplane; not available yet.
                let text = env.verb_lower == "start_text2pcap";
                let reason = if text {
                    "Error starting text2pcap dump"
                } else {
                    "Error starting pcap dump"
                };
                Err(ApiError::new(JanusCode::Unknown, reason))
            }
            "stop_pcap" | "stop_text2pcap" => {
                Err(ApiError::new(JanusCode::Unknown, "Capture not started"))
            }
            "handle_info" => {
                validate(obj, &[("plugin_only", JType::Bool, false)], Texts::Plain)?;
                let plugin_only = obj
                    .get("plugin_only")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let info = self.handle_info(now, sid, hid, plugin_only);
                let mut m = message("success", sid.0, Some(tx));
                m.insert("handle_id".into(), hid.0.into());
                m.insert("info".into(), info);
                Ok(Value::Object(m))
            }
            _ => Err(unhandled(&env.verb)),
        }
    }

    fn set_bool(
        &mut self,
        obj: &Map<String, Value>,
        tx: &str,
        param: &'static str,
        reply_key: &str,
        set: impl FnOnce(&mut super::Status, bool),
    ) -> Reply {
        validate(obj, &[(param, JType::Bool, true)], Texts::Plain)?;
        let v = obj.get(param).and_then(Value::as_bool).unwrap_or(false);
        set(&mut self.status, v);
        Ok(with(tx, reply_key, v.into()))
    }

    fn set_uint(
        &mut self,
        obj: &Map<String, Value>,
        tx: &str,
        param: &'static str,
        set: impl FnOnce(&mut super::Status, u64),
    ) -> Reply {
        validate(obj, &[(param, JType::PosInt, true)], Texts::Plain)?;
        let v = obj.get(param).and_then(Value::as_u64).unwrap_or(0);
        set(&mut self.status, v);
        Ok(with(tx, param, v.into()))
    }

    fn status_json(&self) -> Value {
        let s = &self.status;
        json!({
            "token_auth": self.config.general.token_auth,
            "session_timeout": s.session_timeout,
            "reclaim_session_timeout": self.config.general.reclaim_session_timeout,
            "candidates_timeout": self.config.general.candidates_timeout,
            "log_level": s.log_level,
            "log_timestamps": s.log_timestamps,
            "log_colors": s.log_colors,
            "locking_debug": s.locking_debug,
            "refcount_debug": s.refcount_debug,
            "libnice_debug": s.libnice_debug,
            "min_nack_queue": s.min_nack_queue,
            "nack-optimizations": s.nack_optimizations,
            "no_media_timer": s.no_media_timer,
            "slowlink_threshold": s.slowlink_threshold,
        })
    }

    fn message_plugin(&mut self, now: Instant, obj: &Map<String, Value>, tx: &str) -> Reply {
        validate(
            obj,
            &[
                ("plugin", JType::Str, true),
                ("request", JType::Object, false),
            ],
            Texts::Plain,
        )?;
        let name = str_member(obj, "plugin").unwrap_or_default();
        let plugin = self
            .plugin_index(name)
            .ok_or_else(|| ApiError::new(JanusCode::PluginNotFound, "Invalid plugin"))?;
        let request = obj.get("request").cloned().unwrap_or(Value::Null);
        let scoped = self.drive(now, plugin, PluginInput::AdminMessage { request });
        let response = scoped.into_iter().find_map(|o| match o {
            PluginOutput::AdminReply { response } => Some(response),
            _ => None,
        });
        match response {
            Some(r) => Ok(with(tx, "response", r)),
            None => Err(ApiError::new(
                JanusCode::Unknown,
                "Plugin doesn't support Admin API messages",
            )),
        }
    }

    /// `query_transport` / `query_eventhandler` / `query_logger`: nothing here answers queries.
    fn query_named(&self, obj: &Map<String, Value>, param: &'static str, invalid: &str) -> Reply {
        validate(
            obj,
            &[(param, JType::Str, true), ("request", JType::Object, false)],
            Texts::Plain,
        )?;
        let name = str_member(obj, param).unwrap_or_default();
        let known = param == "transport"
            && (name == "janus.transport.http" || name == "janus.transport.websockets");
        if !known {
            return Err(ApiError::new(JanusCode::PluginNotFound, invalid));
        }
        Err(ApiError::new(
            JanusCode::Unknown,
            "Transport plugin doesn't support queries",
        ))
    }

    fn token_request(&mut self, obj: &Map<String, Value>, env: &Envelope) -> Reply {
        let tx = env.transaction.as_str();
        if !self.config.general.token_auth || self.config.general.token_auth_secret.is_some() {
            return Err(ApiError::new(
                JanusCode::Unknown,
                "Stored-Token based authentication disabled",
            ));
        }
        let verb = env.verb_lower.as_str();
        if verb == "list_tokens" {
            let tokens: Vec<Value> = self
                .tokens
                .iter()
                .filter(|(_, p)| !p.is_empty())
                .map(|(t, p)| json!({"token": t, "allowed_plugins": p}))
                .collect();
            return Ok(with(tx, "data", json!({"tokens": tokens})));
        }
        if verb == "remove_token" {
            validate(obj, &[("token", JType::Str, true)], Texts::Plain)?;
            let token = str_member(obj, "token").unwrap_or_default();
            if !self.tokens.remove(token) {
                return Err(ApiError::new(JanusCode::Unknown, "Error removing token"));
            }
            return Ok(Value::Object(message("success", 0, Some(tx))));
        }
        validate(
            obj,
            &[
                ("token", JType::Str, true),
                ("plugins", JType::Array, false),
            ],
            Texts::Plain,
        )?;
        let token = str_member(obj, "token").unwrap_or_default().to_owned();
        let listed: Option<Vec<&str>> = obj
            .get("plugins")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        let all: Vec<&str> = self.plugins.iter().map(|p| p.info.package).collect();
        if verb == "add_token" {
            // Unknown names are skipped; no list means every plugin.
            let plugins: Vec<&str> = match &listed {
                Some(l) => l.iter().copied().filter(|p| all.contains(p)).collect(),
                None => all.clone(),
            };
            self.tokens.add(&token, &plugins);
            return Ok(with(
                tx,
                "data",
                json!({"plugins": self.tokens.plugins(&token)}),
            ));
        }
        let list = listed.filter(|l| !l.is_empty()).ok_or_else(|| {
            ApiError::new(
                JanusCode::InvalidElementType,
                "Invalid element type (plugins should be a non-empty array)",
            )
        })?;
        if list.iter().any(|p| !all.contains(p)) {
            let reason = "Invalid element type (some of the provided plugins are invalid)";
            return Err(ApiError::new(JanusCode::InvalidElementType, reason));
        }
        if !self.tokens.is_valid(&token) {
            return Err(ApiError::new(
                JanusCode::TokenNotFound,
                format!("Token {token} not found"),
            ));
        }
        if verb == "allow_token" {
            self.tokens.add(&token, &list);
        } else {
            self.tokens.disallow(&token, &list);
        }
        Ok(with(
            tx,
            "data",
            json!({"plugins": self.tokens.plugins(&token)}),
        ))
    }
}

/// `{"janus":"success","transaction":tx, key: value}`.
fn with(tx: &str, key: &str, value: Value) -> Value {
    let mut m = message("success", 0, Some(tx));
    m.insert(key.into(), value);
    Value::Object(m)
}

fn unhandled(verb: &str) -> ApiError {
    ApiError::new(
        JanusCode::InvalidRequestPath,
        format!("Unhandled request '{verb}' at this path"),
    )
}

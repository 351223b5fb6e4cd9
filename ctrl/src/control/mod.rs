//! The control plane proper: sessions, handles, plugins and the Janus/Admin API semantics,
//! without any IO.
//!
//! The transports (the mio server, or a test) feed requests and connection events in with the
//! current `Instant`, write the returned reply to the requester, and then drain
//! [`ControlPlane::poll_output`] for events addressed to whichever connection owns a session.

mod admin;
mod info;
mod janus;
mod plugins;

pub use janus::constant_time_eq;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::api::response;
use crate::config::Config;
use crate::media::{MediaEngine, NoMedia};
use crate::metrics::{Metrics, ShardCounters};
use crate::netcheck::{AdminTicket, NetJob};
use crate::plugin::{Plugin, PluginInfo};
use crate::sessions::Registry;
use crate::tokens::Tokens;
use crate::{CtrlError, SessionId};

/// How often the session watchdog runs (Janus: every 2 s).
const WATCHDOG_PERIOD: Duration = Duration::from_secs(1);

/// A transport connection, numbered by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where a request came from, and where a session's events go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// The HTTP transport: events are queued per session and handed to long polls.
    Http,
    /// One WebSocket connection.
    Ws(ConnId),
}

impl Transport {
    /// The Janus transport package name (`session_transport` in `handle_info`).
    pub fn package(self) -> &'static str {
        match self {
            Self::Http => "janus.transport.http",
            Self::Ws(_) => "janus.transport.websockets",
        }
    }
}

/// Why a session stopped belonging to a transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionOverReason {
    /// `destroy` or Admin `destroy_session`.
    Destroyed,
    /// The session timeout fired (a `timeout` event was queued just before).
    TimedOut,
    /// Its transport went away and it was not reclaimed.
    TransportGone,
    /// Another connection claimed it.
    Claimed,
}

/// What the control plane asks the transports to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Deliver an event to the connection that owns `session`.
    Event {
        /// Destination.
        to: Transport,
        /// The session the event belongs to.
        session: SessionId,
        /// The event object.
        json: Value,
    },
    /// `session` no longer belongs to `to`: pending HTTP long polls for it end.
    SessionOver {
        /// The previous owner.
        to: Transport,
        /// The session.
        session: SessionId,
        /// Why.
        reason: SessionOverReason,
    },
}

/// The answer to an Admin API request ([`ControlPlane::admin_request`]).
#[derive(Clone, Debug, PartialEq)]
pub enum AdminReply {
    /// The reply, to send now.
    Now(Value),
    /// The request waits for a network check (`resolve_address`, `test_stun`): run the job
    /// from [`ControlPlane::poll_net_job`] off the control thread and give its outcome to
    /// [`ControlPlane::handle_net_outcome`], which returns the reply for this ticket.
    Later(AdminTicket),
}

/// An Admin request waiting for its network check.
#[derive(Clone, Debug)]
struct PendingAdmin {
    transaction: String,
}

/// Why an HTTP long poll is refused (answered with an empty-bodied HTTP status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongPollRefusal {
    /// 404: no such session (for the HTTP transport).
    NotFound,
    /// 403: wrong or missing `apisecret` / `token` query parameter.
    Forbidden,
}

/// Settings the Admin API can change at run time.
#[derive(Clone, Debug)]
struct Status {
    session_timeout: u64,
    accept_new_sessions: bool,
    log_level: u8,
    log_timestamps: bool,
    log_colors: bool,
    locking_debug: bool,
    refcount_debug: bool,
    libnice_debug: bool,
    min_nack_queue: u64,
    nack_optimizations: bool,
    no_media_timer: u64,
    slowlink_threshold: u64,
}

struct PluginSlot {
    plugin: Box<dyn Plugin>,
    info: PluginInfo,
}

/// A hook called with the new Janus log level (0–7) when `set_log_level` succeeds.
pub type LogHook = Box<dyn FnMut(u8)>;

/// The Janus control plane state machine.
///
/// ```
/// use std::time::Instant;
/// use portunus_ctrl::{config::Config, ControlPlane, Transport};
/// use serde_json::json;
///
/// let now = Instant::now();
/// let mut cp = ControlPlane::new(&Config::default(), now);
/// let reply = cp.handle_request(now, Transport::Http, json!({"janus":"create","transaction":"t"}));
/// assert_eq!(reply["janus"], "success");
/// let sid = reply["data"]["id"].as_u64().unwrap();
/// let reply = cp.handle_request(now, Transport::Http, json!({"janus":"keepalive","transaction":"k","session_id":sid}));
/// assert_eq!(reply, json!({"janus":"ack","session_id":sid,"transaction":"k"}));
/// while let Some(out) = cp.poll_output() { /* deliver events */ let _ = out; }
/// ```
pub struct ControlPlane {
    config: Config,
    epoch: Instant,
    /// Unix seconds at `epoch` (the one wall-clock read, for token expiry).
    epoch_unix: u64,
    reg: Registry,
    plugins: Vec<PluginSlot>,
    tokens: Tokens,
    media: Box<dyn MediaEngine>,
    metrics: Metrics,
    outputs: VecDeque<Output>,
    status: Status,
    log_hook: Option<LogHook>,
    next_watchdog: Instant,
    /// Network checks handed out and not answered yet, by ticket.
    pending_admin: HashMap<AdminTicket, PendingAdmin>,
    /// Network checks not yet taken by [`ControlPlane::poll_net_job`].
    net_jobs: VecDeque<(AdminTicket, NetJob)>,
    next_ticket: u64,
}

impl ControlPlane {
    /// A control plane with no plugins and the [`NoMedia`] engine.
    pub fn new(config: &Config, now: Instant) -> Self {
        let g = &config.general;
        let m = &config.media;
        Self {
            config: config.clone(),
            epoch: now,
            epoch_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            reg: Registry::default(),
            plugins: Vec::new(),
            tokens: Tokens::default(),
            media: Box::new(NoMedia),
            metrics: Metrics::default(),
            outputs: VecDeque::new(),
            status: Status {
                session_timeout: g.session_timeout,
                accept_new_sessions: g.accept_new_sessions,
                log_level: g.debug_level,
                log_timestamps: false,
                log_colors: true,
                locking_debug: false,
                refcount_debug: false,
                libnice_debug: false,
                min_nack_queue: m.min_nack_queue,
                nack_optimizations: m.nack_optimizations,
                no_media_timer: m.no_media_timer,
                slowlink_threshold: m.slowlink_threshold,
            },
            log_hook: None,
            next_watchdog: now + WATCHDOG_PERIOD,
            pending_admin: HashMap::new(),
            net_jobs: VecDeque::new(),
            next_ticket: 1,
        }
    }

    /// Register a plugin under its package name (`info().package`). A plugin named in
    /// `plugins.disable` is dropped instead (logged), so `attach` to it gives 460 as for any
    /// plugin Janus did not load.
    ///
    /// # Errors
    /// [`CtrlError::DuplicatePlugin`] if a plugin with that package is already registered.
    pub fn register_plugin(&mut self, plugin: Box<dyn Plugin>) -> Result<(), CtrlError> {
        let info = plugin.info();
        if self.config.plugins.is_disabled(info.package) {
            tracing::info!(plugin = info.package, "plugin disabled by plugins.disable");
            return Ok(());
        }
        if self.plugin_index(info.package).is_some() {
            return Err(CtrlError::DuplicatePlugin(info.package.to_owned()));
        }
        self.plugins.push(PluginSlot { plugin, info });
        Ok(())
    }

    /// Replace the media engine (the SDP/ICE/DTLS/dataplane side).
    pub fn set_media_engine(&mut self, engine: Box<dyn MediaEngine>) {
        self.media = engine;
    }

    /// Install the hook `set_log_level` calls (the server wires it to the tracing reload handle).
    pub fn set_log_hook(&mut self, hook: LogHook) {
        self.log_hook = Some(hook);
    }

    /// Record the latest counters of a dataplane shard for `/metrics`.
    pub fn set_shard_counters(&mut self, shard: u16, counters: ShardCounters) {
        self.metrics.shards.insert(shard, counters);
    }

    /// The counters (the server bumps the transport ones).
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// The Prometheus text for `/metrics`.
    pub fn render_metrics(&self) -> String {
        let pcs = self.reg.handles.values().filter(|h| h.rtc.has_pc).count();
        self.metrics
            .render(self.reg.sessions.len(), self.reg.handles.len(), pcs)
    }

    /// The configuration this control plane was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.reg.sessions.len()
    }

    /// Number of live handles.
    pub fn handle_count(&self) -> usize {
        self.reg.handles.len()
    }

    /// The transport that owns `session`, if it exists.
    pub fn session_owner(&self, session: SessionId) -> Option<Transport> {
        self.reg.sessions.get(&session).map(|s| s.owner)
    }

    /// An HTTP long poll (`GET /janus/<session>`) arrived: check the query-string credentials and
    /// the session, and count the poll as activity (Janus injects a `keepalive`).
    ///
    /// # Errors
    /// [`LongPollRefusal`] telling which empty-bodied HTTP status to answer.
    pub fn handle_long_poll(
        &mut self,
        now: Instant,
        session: u64,
        apisecret: Option<&str>,
        token: Option<&str>,
    ) -> Result<SessionId, LongPollRefusal> {
        if session == 0 {
            return Err(LongPollRefusal::NotFound);
        }
        let secret_needed = self.config.general.api_secret.is_some();
        let token_needed = self.config.general.token_auth;
        if secret_needed || token_needed {
            let secret_ok = apisecret
                .zip(self.config.general.api_secret.as_deref())
                .is_some_and(|(given, s)| constant_time_eq(given.as_bytes(), s.as_bytes()));
            let token_ok = token_needed && token.is_some_and(|t| self.token_valid(now, t, None));
            if !secret_ok && !token_ok {
                return Err(LongPollRefusal::Forbidden);
            }
        }
        self.metrics.count_request("keepalive");
        let sid = SessionId(session);
        let s = self
            .reg
            .sessions
            .get_mut(&sid)
            .ok_or(LongPollRefusal::NotFound)?;
        s.last_activity = now;
        if s.owner != Transport::Http {
            // The HTTP transport only knows sessions created or claimed over HTTP.
            return Err(LongPollRefusal::NotFound);
        }
        Ok(sid)
    }

    /// A transport connection closed: its sessions are destroyed at once
    /// (`reclaim_session_timeout = 0`) or wait for a `claim`.
    pub fn handle_transport_closed(&mut self, now: Instant, from: Transport) {
        let owned: Vec<SessionId> = self
            .reg
            .sessions
            .iter()
            .filter(|(_, s)| s.owner == from && !s.transport_gone)
            .map(|(id, _)| *id)
            .collect();
        for sid in owned {
            if self.config.general.reclaim_session_timeout == 0 {
                self.metrics.sessions_transport_gone += 1;
                self.end_session(now, sid, SessionOverReason::TransportGone);
            } else if let Some(s) = self.reg.sessions.get_mut(&sid) {
                s.transport_gone = true;
            }
        }
    }

    /// Run the session watchdog and plugin timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_watchdog {
            self.next_watchdog = now + WATCHDOG_PERIOD;
            let expired = self.reg.expired(
                now,
                self.status.session_timeout,
                self.config.general.reclaim_session_timeout,
            );
            for (sid, why) in expired {
                let reason = match why {
                    crate::sessions::Expiry::Timeout => {
                        self.metrics.sessions_timed_out += 1;
                        SessionOverReason::TimedOut
                    }
                    crate::sessions::Expiry::TransportGone => {
                        self.metrics.sessions_transport_gone += 1;
                        SessionOverReason::TransportGone
                    }
                };
                self.end_session(now, sid, reason);
            }
        }
        self.run_plugin_timers(now);
    }

    /// The earliest instant [`handle_timeout`](Self::handle_timeout) must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let plugin = self
            .plugins
            .iter()
            .filter_map(|p| p.plugin.poll_timeout())
            .min();
        Some(plugin.map_or(self.next_watchdog, |p| p.min(self.next_watchdog)))
    }

    /// The next thing for the transports to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Token authentication: stored tokens, or HMAC-signed ones with `token_auth_secret`.
    /// With `plugin`, the token must also grant that plugin.
    fn token_valid(&self, now: Instant, token: &str, plugin: Option<&str>) -> bool {
        match self.config.general.token_auth_secret.as_deref() {
            Some(secret) => crate::tokens::check_signed(token, secret, self.unix_time(now), plugin),
            None => match plugin {
                Some(p) => self.tokens.allows(token, p),
                None => self.tokens.is_valid(token),
            },
        }
    }

    /// Wall-clock seconds at `now`, from the pair captured at construction.
    fn unix_time(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.epoch);
        self.epoch_unix.saturating_add(elapsed.as_secs())
    }

    fn plugin_index(&self, package: &str) -> Option<usize> {
        self.plugins.iter().position(|p| p.info.package == package)
    }

    /// Microseconds since this control plane started (Janus's monotonic timestamps).
    fn micros(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// Queue an event for the owner of `session`.
    fn emit(&mut self, session: SessionId, json: Map<String, Value>) {
        if let Some(s) = self.reg.sessions.get(&session) {
            self.metrics.events += 1;
            self.outputs.push_back(Output::Event {
                to: s.owner,
                session,
                json: Value::Object(json),
            });
        }
    }

    /// Remove a session and its handles; no handle events are sent (Janus sets the session's
    /// destroyed flag first). A timed-out session's owner gets `timeout`.
    fn end_session(&mut self, now: Instant, sid: SessionId, reason: SessionOverReason) {
        let Some(handles) = self.reg.sessions.get(&sid).map(|s| s.handles.clone()) else {
            return;
        };
        // Tear the handles down while the session still exists, so events plugins emit for
        // *other* sessions' handles (room notifications) are still routed; this session's own
        // handles are gone from the registry before their plugin is told.
        for h in handles {
            self.teardown_handle(now, h, false);
        }
        let Some(s) = self.reg.sessions.remove(&sid) else {
            return;
        };
        if reason == SessionOverReason::TimedOut {
            self.metrics.events += 1;
            let json = Value::Object(response::message("timeout", sid.0, None));
            self.outputs.push_back(Output::Event {
                to: s.owner,
                session: sid,
                json,
            });
        }
        self.outputs.push_back(Output::SessionOver {
            to: s.owner,
            session: sid,
            reason,
        });
        tracing::debug!(session = sid.0, ?reason, "session ended");
    }
}

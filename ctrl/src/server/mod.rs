//! The mio event loop: listeners, connections, timers, signals, and delivery of the control
//! plane's outputs.

mod conn;
pub(crate) mod http;
mod routes;
mod web;
mod ws;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use openssl::ssl::{HandshakeError, SslAcceptor};
use serde_json::Value;

use self::conn::{Conn, HttpConn, Role, State, Stream};
use crate::api::ApiKind;
use crate::config::{Config, JsonStyle};
use crate::netcheck::{NetOutcome, Workers};
use crate::{
    AdminTicket, ConnId, ControlPlane, CtrlError, Output, SessionId, SessionOverReason, Transport,
};

const WAKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const FIRST_LISTENER: usize = 2;
const FIRST_CONN: usize = 64;
/// Events kept per HTTP session while nobody polls (oldest dropped beyond this).
const MAX_QUEUED_EVENTS: usize = 10_000;

/// The ports the listeners actually bound (useful with port 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BoundPorts {
    /// Plain HTTP Janus API.
    pub http: Option<u16>,
    /// HTTPS Janus API.
    pub https: Option<u16>,
    /// Plain WebSocket Janus API.
    pub ws: Option<u16>,
    /// WSS Janus API.
    pub wss: Option<u16>,
    /// Admin API (HTTP, WebSocket, `/metrics`).
    pub admin: Option<u16>,
}

/// Stops a running [`Server`] from any thread.
#[derive(Clone)]
pub struct ServerHandle {
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
}

impl ServerHandle {
    /// Ask the loop to exit; returns at once.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    /// Wake the loop so its [`LoopHook`]s run now (call after queueing work for them, e.g.
    /// from a dataplane thread).
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }
}

/// Extra work the control thread runs every loop round, after socket events: the place to
/// drain dataplane queues into [`ControlPlane::handle_peer_event`] and
/// [`ControlPlane::set_shard_counters`]. Producers on other threads call
/// [`ServerHandle::wake`] after queueing.
pub trait LoopHook {
    /// Run at `now` with the control plane.
    fn on_round(&mut self, now: Instant, cp: &mut ControlPlane);

    /// When the hook next needs a round even without socket activity or a wake.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

struct Listener {
    socket: TcpListener,
    role: Role,
}

#[derive(Default)]
struct HttpQueue {
    events: VecDeque<Value>,
    polls: Vec<Token>,
}

/// The control-plane server: one thread, one mio `Poll`.
pub struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    conns: HashMap<Token, Conn>,
    next_token: usize,
    cp: ControlPlane,
    ports: BoundPorts,
    http_sessions: HashMap<SessionId, HttpQueue>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    tls: Option<SslAcceptor>,
    /// Connections to close after the current round (errors found while delivering).
    to_close: Vec<Token>,
    /// HTTP connections whose pipelined requests can be served again.
    to_resume: Vec<Token>,
    hooks: Vec<Box<dyn LoopHook>>,
    settings: Settings,
    /// The worker pool for Admin network checks.
    net: Workers,
    /// The connection each waiting Admin request came from.
    admin_waiting: HashMap<AdminTicket, Token>,
}

/// Copies of the config values the loop reads often.
#[derive(Clone, Debug)]
struct Settings {
    json: JsonStyle,
    cors: http::Cors,
    enforce_cors: bool,
    janus_base: String,
    admin_base: String,
    max_body: usize,
    long_poll: Duration,
    idle: Duration,
    max_connections: usize,
    ws_max_message: usize,
}

impl Server {
    /// Bind every configured listener and build the control plane.
    ///
    /// # Errors
    /// [`CtrlError::Io`] if a port cannot be bound, [`CtrlError::Tls`] for bad certificates.
    pub fn bind(config: &Config) -> Result<Self, CtrlError> {
        config.validate()?;
        let poll = Poll::new().map_err(|e| io_err("creating the poll", e))?;
        let waker = Arc::new(
            Waker::new(poll.registry(), WAKER).map_err(|e| io_err("creating the waker", e))?,
        );
        let wake = Arc::clone(&waker);
        let net = Workers::new(Arc::new(move || {
            let _ = wake.wake();
        }));
        let tls = if config.http.https || config.websockets.wss {
            Some(tls_acceptor(config)?)
        } else {
            None
        };
        let mut server = Self {
            poll,
            listeners: Vec::new(),
            conns: HashMap::new(),
            next_token: FIRST_CONN,
            cp: ControlPlane::new(config, Instant::now()),
            ports: BoundPorts::default(),
            http_sessions: HashMap::new(),
            timers: BinaryHeap::new(),
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            signals: None,
            tls,
            to_close: Vec::new(),
            to_resume: Vec::new(),
            hooks: Vec::new(),
            settings: Settings {
                json: config.general.json,
                cors: http::Cors {
                    allow_origin: config.http.allow_origin.clone(),
                },
                enforce_cors: config.http.enforce_cors,
                janus_base: config.http.base_path.clone(),
                admin_base: config.admin.base_path.clone(),
                max_body: config.http.max_body_size,
                long_poll: config.long_poll_timeout(),
                idle: Duration::from_millis(config.http.idle_timeout_ms.max(1)),
                max_connections: config.http.max_connections,
                ws_max_message: config.websockets.max_message_size,
            },
            net,
            admin_waiting: HashMap::new(),
        };
        server.bind_listeners(config)?;
        for note in config.ineffective_settings() {
            tracing::warn!("{note}");
        }
        Ok(server)
    }

    fn bind_listeners(&mut self, c: &Config) -> Result<(), CtrlError> {
        let janus = |http, ws, tls| Role {
            api: ApiKind::Janus,
            http,
            ws,
            tls,
        };
        if c.http.enabled {
            self.ports.http = Some(self.listen(
                SocketAddr::new(c.http.ip, c.http.port),
                janus(true, false, false),
            )?);
        }
        if c.http.https {
            let addr = SocketAddr::new(c.http.ip, c.http.secure_port);
            self.ports.https = Some(self.listen(addr, janus(true, false, true))?);
        }
        if c.websockets.enabled {
            let addr = SocketAddr::new(c.websockets.ip, c.websockets.port);
            self.ports.ws = Some(self.listen(addr, janus(false, true, false))?);
        }
        if c.websockets.wss {
            let addr = SocketAddr::new(c.websockets.ip, c.websockets.wss_port);
            self.ports.wss = Some(self.listen(addr, janus(false, true, true))?);
        }
        if c.admin.enabled {
            let role = Role {
                api: ApiKind::Admin,
                http: true,
                ws: true,
                tls: false,
            };
            self.ports.admin = Some(self.listen(SocketAddr::new(c.admin.ip, c.admin.port), role)?);
        }
        tracing::info!(ports = ?self.ports, "control plane listening");
        Ok(())
    }

    fn listen(&mut self, addr: SocketAddr, role: Role) -> Result<u16, CtrlError> {
        let mut socket =
            conn::bind_listener(addr).map_err(|e| io_err(&format!("binding {addr}"), e))?;
        let token = Token(FIRST_LISTENER + self.listeners.len());
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)
            .map_err(|e| io_err("registering a listener", e))?;
        let port = socket
            .local_addr()
            .map_err(|e| io_err("reading the bound port", e))?
            .port();
        self.listeners.push(Listener { socket, role });
        Ok(port)
    }

    /// The bound ports.
    pub fn ports(&self) -> BoundPorts {
        self.ports
    }

    /// The control plane, to register plugins and hooks before [`run`](Self::run).
    pub fn control_plane(&mut self) -> &mut ControlPlane {
        &mut self.cp
    }

    /// Run `hook` every loop round (see [`LoopHook`]).
    pub fn add_hook(&mut self, hook: Box<dyn LoopHook>) {
        self.hooks.push(hook);
    }

    /// A handle that stops or wakes the loop from another thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            waker: Arc::clone(&self.waker),
            stop: Arc::clone(&self.stop),
        }
    }

    /// Exit the loop on SIGINT or SIGTERM (signal-hook's self-pipe, registered with the poll).
    ///
    /// # Errors
    /// [`CtrlError::Io`] if the handlers cannot be installed.
    pub fn stop_on_signals(&mut self) -> Result<(), CtrlError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| io_err("installing signal handlers", e))?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|e| io_err("registering signals", e))?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Run until [`ServerHandle::shutdown`] or a registered signal.
    ///
    /// # Errors
    /// [`CtrlError::Io`] if polling fails.
    pub fn run(mut self) -> Result<(), CtrlError> {
        let mut events = Events::with_capacity(1024);
        while !self.stop.load(Ordering::SeqCst) {
            let timeout = self.next_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(io_err("polling", e));
            }
            let now = Instant::now();
            for ev in &events {
                match ev.token() {
                    WAKER => {}
                    SIGNALS => self.read_signals(),
                    Token(t) if t < FIRST_CONN => self.accept(now, t - FIRST_LISTENER),
                    token => self.service(now, token),
                }
            }
            self.after_round(now);
        }
        tracing::info!("control plane stopped");
        Ok(())
    }

    fn read_signals(&mut self) {
        if let Some(s) = self.signals.as_mut() {
            for sig in s.pending() {
                tracing::info!(signal = sig, "signal received, stopping");
                self.stop.store(true, Ordering::SeqCst);
            }
        }
    }

    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let mut at = self.cp.poll_timeout();
        for t in self.hooks.iter().filter_map(|h| h.poll_timeout()) {
            at = Some(at.map_or(t, |a| a.min(t)));
        }
        if let Some(Reverse((t, _))) = self.timers.peek() {
            at = Some(at.map_or(*t, |a| a.min(*t)));
        }
        at.map(|t| t.saturating_duration_since(now))
    }

    /// Timers, control-plane outputs, deferred closes and resumes, until quiet.
    fn after_round(&mut self, now: Instant) {
        for hook in &mut self.hooks {
            hook.on_round(now, &mut self.cp);
        }
        self.fire_timers(now);
        if self.cp.poll_timeout().is_some_and(|t| t <= now) {
            self.cp.handle_timeout(now);
        }
        loop {
            self.drain_outputs(now);
            self.pump_net_checks(now);
            if self.to_close.is_empty() && self.to_resume.is_empty() {
                break;
            }
            for token in std::mem::take(&mut self.to_close) {
                if let Some(c) = self.conns.remove(&token) {
                    self.close(now, token, c);
                }
            }
            for token in std::mem::take(&mut self.to_resume) {
                self.service(now, token);
            }
        }
    }

    /// Hand new network checks to the workers and deliver the replies of finished ones. A
    /// check the pool cannot take (too many in flight) is answered with its failure at once.
    fn pump_net_checks(&mut self, now: Instant) {
        while let Some((ticket, job)) = self.cp.poll_net_job() {
            if let Err(job) = self.net.submit(ticket, job) {
                tracing::warn!("too many Admin network checks in flight, refusing one");
                self.finish_net_check(now, ticket, job.refused());
            }
        }
        for (ticket, outcome) in self.net.drain() {
            self.finish_net_check(now, ticket, outcome);
        }
    }

    /// Send the reply of a network check to the connection that asked, if it is still there.
    fn finish_net_check(&mut self, now: Instant, ticket: AdminTicket, outcome: NetOutcome) {
        let reply = self.cp.handle_net_outcome(ticket, outcome);
        let (Some(reply), Some(token)) = (reply, self.admin_waiting.remove(&ticket)) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&token) else {
            return; // the client went away
        };
        match &mut conn.state {
            State::Ws(ws) => {
                if !ws::send_json(ws, &reply, self.settings.json) {
                    self.to_close.push(token);
                    return;
                }
                match ws.flush() {
                    Ok(()) => {}
                    Err(tungstenite::Error::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => self.to_close.push(token),
                }
            }
            State::Http(h) => {
                let Some(waiting) = h.awaiting.take_if(|a| a.ticket == ticket) else {
                    return;
                };
                let req = &waiting.request;
                let resp = http::Response::json(to_bytes(&reply, self.settings.json));
                http::write_response(
                    &mut h.wbuf,
                    &resp,
                    Some(req),
                    &self.settings.cors,
                    req.keep_alive,
                );
                h.close_after_write |= !req.keep_alive;
                if !h.flush() || (h.close_after_write && h.wbuf.is_empty()) {
                    self.to_close.push(token);
                    return;
                }
                // Requests pipelined behind this one are served now.
                self.to_resume.push(token);
                self.set_deadline(token, now + self.settings.idle);
            }
            State::TlsHandshake(_) | State::Closed => {}
        }
    }

    fn accept(&mut self, now: Instant, index: usize) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let role = listener.role;
            let (mut stream, addr) = match listener.socket.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            };
            if !conn::acl_allows(self.acl(role), addr.ip()) {
                tracing::debug!(%addr, "connection refused by the ACL");
                self.cp.metrics_mut().connections_dropped += 1;
                continue; // dropping the stream closes it
            }
            if self.conns.len() >= self.settings.max_connections {
                self.cp.metrics_mut().connections_dropped += 1;
                continue; // dropping the stream closes it
            }
            let token = Token(self.next_token);
            self.next_token += 1;
            let _ = stream.set_nodelay(true);
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                tracing::warn!(error = %e, "register failed");
                continue;
            }
            let Some(state) = self.start_state(stream, role) else {
                continue;
            };
            if matches!(state, State::Http(_)) {
                self.cp.metrics_mut().http_connections += 1;
            }
            self.conns.insert(token, Conn::new(role, state));
            self.set_deadline(token, now + self.settings.idle);
            self.service(now, token);
        }
    }

    /// The configured ACL of listeners with `role`.
    fn acl(&self, role: Role) -> &[String] {
        let c = self.cp.config();
        match (role.api, role.ws) {
            (ApiKind::Admin, _) => &c.admin.acl,
            (ApiKind::Janus, true) => &c.websockets.acl,
            (ApiKind::Janus, false) => &c.http.acl,
        }
    }

    fn start_state(&self, stream: TcpStream, role: Role) -> Option<State> {
        if !role.tls {
            return Some(State::Http(HttpConn::new(Stream::Plain(stream))));
        }
        let acceptor = self.tls.as_ref()?;
        match acceptor.accept(stream) {
            Ok(s) => Some(State::Http(HttpConn::new(Stream::Tls(Box::new(s))))),
            Err(HandshakeError::WouldBlock(mid)) => Some(State::TlsHandshake(mid)),
            Err(_) => None,
        }
    }

    /// Handle readiness (or a resume) of one connection.
    fn service(&mut self, now: Instant, token: Token) {
        let Some(mut conn) = self.conns.remove(&token) else {
            return;
        };
        let keep = match std::mem::replace(&mut conn.state, State::Closed) {
            State::TlsHandshake(mid) => match mid.handshake() {
                Ok(s) => {
                    conn.state = State::Http(HttpConn::new(Stream::Tls(Box::new(s))));
                    self.cp.metrics_mut().http_connections += 1;
                    self.to_resume.push(token);
                    true
                }
                Err(HandshakeError::WouldBlock(mid)) => {
                    conn.state = State::TlsHandshake(mid);
                    true
                }
                Err(_) => false,
            },
            State::Http(h) => self.service_http(now, token, &mut conn, h),
            State::Ws(ws) => self.service_ws(now, token, &mut conn, ws),
            State::Closed => false,
        };
        if keep {
            self.conns.insert(token, conn);
        } else {
            self.close(now, token, conn);
        }
    }

    fn close(&mut self, now: Instant, token: Token, conn: Conn) {
        match conn.state {
            State::Http(h) => {
                self.cp.metrics_mut().http_connections =
                    self.cp.metrics_mut().http_connections.saturating_sub(1);
                if let Some(p) = h.parked
                    && let Some(q) = self.http_sessions.get_mut(&p.session)
                {
                    q.polls.retain(|t| *t != token);
                }
            }
            State::Ws(_) => {
                let m = self.cp.metrics_mut();
                m.ws_connections = m.ws_connections.saturating_sub(1);
                self.cp
                    .handle_transport_closed(now, Transport::Ws(ConnId(token.0 as u64)));
            }
            State::TlsHandshake(_) | State::Closed => {}
        }
    }

    fn set_deadline(&mut self, token: Token, at: Instant) {
        if let Some(c) = self.conns.get_mut(&token)
            && let Some(push) = c.set_deadline(Some(at))
        {
            self.timers.push(Reverse((push, token.0)));
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, t))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let token = Token(t);
            let Some(c) = self.conns.get_mut(&token) else {
                continue;
            };
            if c.armed_at != Some(at) {
                continue; // superseded by an earlier entry
            }
            c.armed_at = None;
            match c.deadline {
                None => continue,
                Some(d) if d > now => {
                    c.armed_at = Some(d);
                    self.timers.push(Reverse((d, t)));
                    continue;
                }
                Some(_) => c.deadline = None,
            }
            match &c.state {
                State::Http(h) if h.parked.is_some() => self.answer_poll(now, token, true),
                State::Ws(_) => self.ws_deadline(now, token),
                _ => {
                    self.cp.metrics_mut().connections_dropped += 1;
                    self.to_close.push(token);
                }
            }
        }
    }

    fn drain_outputs(&mut self, now: Instant) {
        while let Some(out) = self.cp.poll_output() {
            match out {
                Output::Event {
                    to: Transport::Ws(id),
                    json,
                    ..
                } => {
                    let token = Token(usize::try_from(id.0).unwrap_or(usize::MAX));
                    if let Some(Conn {
                        state: State::Ws(ws),
                        ..
                    }) = self.conns.get_mut(&token)
                        && !ws::send_json(ws, &json, self.settings.json)
                    {
                        self.to_close.push(token);
                    }
                }
                Output::Event {
                    to: Transport::Http,
                    session,
                    json,
                } => {
                    let q = self.http_sessions.entry(session).or_default();
                    if q.events.len() >= MAX_QUEUED_EVENTS {
                        q.events.pop_front();
                        tracing::warn!(
                            session = session.0,
                            "HTTP event queue full, oldest event dropped"
                        );
                    }
                    q.events.push_back(json);
                    self.feed_polls(now, session);
                }
                Output::SessionOver {
                    to: Transport::Http,
                    session,
                    reason,
                } => {
                    self.http_session_over(now, session, reason);
                }
                Output::SessionOver {
                    to: Transport::Ws(_),
                    ..
                } => {}
            }
        }
    }

    fn feed_polls(&mut self, now: Instant, session: SessionId) {
        loop {
            let Some(q) = self.http_sessions.get_mut(&session) else {
                return;
            };
            if q.events.is_empty() || q.polls.is_empty() {
                return;
            }
            let token = q.polls.remove(0);
            self.answer_poll(now, token, false);
        }
    }

    fn http_session_over(&mut self, now: Instant, session: SessionId, reason: SessionOverReason) {
        let Some(mut q) = self.http_sessions.remove(&session) else {
            return;
        };
        for token in std::mem::take(&mut q.polls) {
            if reason == SessionOverReason::Claimed {
                self.answer_poll(now, token, true);
            } else {
                // Janus resumes such polls without a body: the connection just closes.
                self.to_close.push(token);
            }
        }
        if self.cp.session_owner(session) == Some(Transport::Http) {
            self.http_sessions.insert(session, q);
        }
    }

    /// Answer the parked long poll on `token` with queued events, or `keepalive`.
    fn answer_poll(&mut self, now: Instant, token: Token, keepalive: bool) {
        let Some(Conn {
            state: State::Http(h),
            ..
        }) = self.conns.get_mut(&token)
        else {
            return;
        };
        let Some(p) = h.parked.take() else {
            return;
        };
        let mut events = Vec::new();
        if let Some(q) = self.http_sessions.get_mut(&p.session) {
            q.polls.retain(|t| *t != token);
            if !keepalive {
                while events.len() < p.max_ev
                    && let Some(e) = q.events.pop_front()
                {
                    events.push(e);
                }
            }
        }
        if events.is_empty() {
            events.push(serde_json::json!({"janus": "keepalive"}));
        }
        let body = if p.max_ev == 1 {
            events.swap_remove(0)
        } else {
            Value::Array(events)
        };
        let resp = http::Response::json(to_bytes(&body, self.settings.json));
        http::write_response(&mut h.wbuf, &resp, None, &self.settings.cors, p.keep_alive);
        h.close_after_write |= !p.keep_alive;
        if !h.flush() || (h.close_after_write && h.wbuf.is_empty()) {
            self.to_close.push(token);
            return;
        }
        self.to_resume.push(token);
        self.set_deadline(token, now + self.settings.idle);
    }
}

/// Serialize a reply in the configured style.
pub(crate) fn to_bytes(v: &Value, style: JsonStyle) -> Vec<u8> {
    match style {
        JsonStyle::Indented => {
            let mut out = Vec::with_capacity(256);
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            if serde::Serialize::serialize(v, &mut ser).is_err() {
                out.clear();
            }
            out
        }
        JsonStyle::Plain | JsonStyle::Compact => serde_json::to_vec(v).unwrap_or_default(),
    }
}

fn io_err(what: &str, source: std::io::Error) -> CtrlError {
    CtrlError::Io {
        what: what.to_owned(),
        source,
    }
}

fn tls_acceptor(c: &Config) -> Result<SslAcceptor, CtrlError> {
    use openssl::pkey::PKey;
    use openssl::ssl::{SslFiletype, SslMethod};
    let tls = |e: &dyn std::fmt::Display| CtrlError::Tls(e.to_string());
    let (Some(cert), Some(key)) = (&c.certificates.cert_pem, &c.certificates.cert_key) else {
        return Err(CtrlError::Tls(
            "certificates.cert_pem and cert_key are required".into(),
        ));
    };
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).map_err(|e| tls(&e))?;
    b.set_certificate_chain_file(cert)
        .map_err(|e| tls(&format!("{}: {e}", cert.display())))?;
    match &c.certificates.cert_pwd {
        Some(pwd) => {
            let pem = std::fs::read(key).map_err(|e| tls(&format!("{}: {e}", key.display())))?;
            let pkey =
                PKey::private_key_from_pem_passphrase(&pem, pwd.as_bytes()).map_err(|e| tls(&e))?;
            b.set_private_key(&pkey).map_err(|e| tls(&e))?;
        }
        None => b
            .set_private_key_file(key, SslFiletype::PEM)
            .map_err(|e| tls(&format!("{}: {e}", key.display())))?,
    }
    b.check_private_key().map_err(|e| tls(&e))?;
    Ok(b.build())
}

/// A server running on its own thread (for tests and embedding).
pub struct RunningServer {
    /// The bound ports.
    pub ports: BoundPorts,
    handle: ServerHandle,
    thread: Option<JoinHandle<Result<(), CtrlError>>>,
}

impl RunningServer {
    /// Bind and run a server on a new thread; `setup` runs on that thread before the loop
    /// starts (register plugins and hooks there: they need not be `Send`).
    ///
    /// # Errors
    /// Whatever [`Server::bind`] returns.
    pub fn spawn(
        config: Config,
        setup: impl FnOnce(&mut Server) + Send + 'static,
    ) -> Result<Self, CtrlError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("portunus-ctrl".into())
            .spawn(move || {
                let mut server = match Server::bind(&config) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return Ok(());
                    }
                };
                setup(&mut server);
                let _ = tx.send(Ok((server.ports(), server.handle())));
                server.run()
            })
            .map_err(|e| io_err("spawning the control thread", e))?;
        match rx.recv() {
            Ok(Ok((ports, handle))) => Ok(Self {
                ports,
                handle,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(CtrlError::Thread("the control thread died during setup")),
        }
    }

    /// A stop handle.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stop the loop and wait for the thread.
    ///
    /// # Errors
    /// The loop's error, if it failed.
    pub fn stop(mut self) -> Result<(), CtrlError> {
        self.handle.shutdown();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(CtrlError::Thread("the control thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

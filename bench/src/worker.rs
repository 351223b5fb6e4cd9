//! A client thread: one Janus API connection and many simulated PeerConnections, all driven
//! from one loop over non-blocking sockets (mio). Peers do no decoding: a received packet is
//! unprotected (which verifies its SRTP authentication tag), its stamp read, its sequence
//! checked and its one-way latency recorded.
//!
//! Receiving is batched so a client costs little per packet: each readable socket is drained
//! with `recvmmsg`, and once every client has connected the loop wakes at most once per
//! [`WorkerConfig::rx_coalesce`], so a wakeup finds several packets on each socket. Latency
//! stays honest because it ends at the kernel's receive timestamp ([`crate::rx`]), not at the
//! moment the thread gets round to reading.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions};
use portunus_ice::{IceAgentConfig, IceCredentials, IceRole};
use portunus_peer::{IceMode, Peer, PeerConfig, PeerEvent, PeerState, Received};
use portunus_rtp::RtpPacket;
use portunus_sdp::jsep::SdpType;
use serde_json::{Value, json};

use crate::BenchError;
use crate::control::Control;
use crate::media::{MediaConfig, MediaSource, Stamp, mono_ns, stamp_clock_ns, thread_cpu_ns};
use crate::rx::{self, RxBatch};
use crate::sdp::{self, LocalParams};

/// What a simulated client does.
#[derive(Debug, Clone)]
pub enum Role {
    /// A VideoRoom publisher sending paced media.
    Publisher {
        /// Room id.
        room: u64,
        /// Stream ids of its media are `source * 4 + track`.
        source: u32,
        /// What it sends.
        media: MediaConfig,
    },
    /// A VideoRoom subscriber to the given publisher ids.
    Subscriber {
        /// Room id.
        room: u64,
        /// Publisher ids (`feed`s) to subscribe to.
        feeds: Vec<u64>,
    },
    /// A Streaming viewer of a mountpoint.
    Viewer {
        /// Mountpoint id.
        mountpoint: u64,
    },
}

/// One client to create: `id` is the caller's number for it, echoed in reports.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// Caller's id.
    pub id: usize,
    /// What it does.
    pub role: Role,
}

/// Instructions from the orchestrating thread.
#[derive(Debug)]
pub enum Command {
    /// Start these clients.
    Add(Vec<PeerSpec>),
    /// Start (true) or stop (false) the measurement window: counters reset at the start.
    Measure(bool),
    /// Send a [`WorkerReport`] now.
    Report(Sender<WorkerReport>),
    /// Destroy the session and end the thread.
    Stop,
}

/// What happened to one client, as it happens.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A publisher joined its room with this publisher id.
    Joined {
        /// Spec id.
        id: usize,
        /// The id subscribers use as `feed`.
        publisher: u64,
    },
    /// ICE and DTLS completed.
    Connected {
        /// Spec id.
        id: usize,
        /// From the first API request to DTLS completion.
        setup: Duration,
        /// The SRTP profile DTLS negotiated (its RFC name).
        profile: Option<&'static str>,
    },
    /// The server said the PeerConnection is up (`webrtcup`); sent for publishers only. A
    /// VideoRoom takes subscribers for a feed only from then on (Janus answers `428 No such
    /// feed` before), which can be a little after the client's own DTLS completion.
    Up {
        /// Spec id.
        id: usize,
    },
    /// The first stamped media packet arrived.
    FirstMedia {
        /// Spec id.
        id: usize,
        /// From the first API request.
        after: Duration,
    },
    /// The client failed; it takes no further part.
    Failed {
        /// Spec id.
        id: usize,
        /// Why.
        reason: String,
    },
}

/// The counters of one thread's measurement window.
#[derive(Debug, Clone)]
pub struct WorkerReport {
    /// Stamped media packets received and authenticated.
    pub received: u64,
    /// Packets missing from the stamp sequences (per stream, from the first one seen).
    pub lost: u64,
    /// Packets that failed SRTP unprotect (authentication or replay).
    pub srtp_failures: u64,
    /// Media packets sent by publishers.
    pub sent: u64,
    /// One-way latency in microseconds, send stamp to receipt.
    pub latency_us: Histogram<u64>,
    /// This thread's CPU time during the window.
    pub cpu_ns: u64,
}

/// Settings shared by every worker of a run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Janus API WebSocket URL.
    pub url: String,
    /// SRTP profiles the clients offer in DTLS.
    pub srtp: Vec<portunus_dtls::SrtpProfile>,
    /// Most setups in flight at once in this thread.
    pub max_in_flight: usize,
    /// A client that has not connected after this long fails.
    pub setup_timeout: Duration,
    /// Once no setup is in flight, the loop waits at least this long between wakeups so each
    /// one reads many packets (zero: wake for every packet). Latency is unaffected: it is
    /// taken from kernel receive timestamps.
    pub rx_coalesce: Duration,
    /// Client sockets take a server's GSO sends whole (`UDP_GRO`, see [`crate::rx`]).
    pub client_gro: bool,
}

/// Runs a worker thread until [`Command::Stop`]; progress goes to `progress`.
pub fn spawn(
    config: WorkerConfig,
    commands: Receiver<Command>,
    progress: Sender<Progress>,
) -> std::thread::JoinHandle<Result<(), BenchError>> {
    std::thread::spawn(move || {
        let mut worker = Worker::new(config, progress)?;
        worker.run(&commands)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Queued,
    Attaching,
    Joining,
    Negotiating,
    Connecting,
    Connected,
    Failed,
}

struct Client {
    spec: PeerSpec,
    step: Step,
    handle: Option<u64>,
    started: Option<Instant>,
    socket: Option<UdpSocket>,
    local: Option<LocalParams>,
    peer: Option<Peer>,
    pending_candidates: Vec<(SocketAddr, u32)>,
    source: Option<MediaSource>,
    deadline: Option<Instant>,
    streams: Vec<RxStream>,
    got_media: bool,
}

#[derive(Debug, Clone, Copy)]
struct RxStream {
    stream: u32,
    first: u64,
    max: u64,
    count: u64,
}

struct Worker {
    config: WorkerConfig,
    progress: Sender<Progress>,
    control: Control,
    session: u64,
    dtls: Arc<DtlsConfig>,
    fingerprint: String,
    poll: Poll,
    clients: Vec<Client>,
    by_transaction: HashMap<String, usize>,
    by_handle: HashMap<u64, usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    in_flight: usize,
    /// Clients not started yet, in order.
    queued: VecDeque<usize>,
    /// Clients with a media source.
    publishers: Vec<usize>,
    control_ready: bool,
    next_control_poll: Instant,
    measuring: bool,
    report: WorkerReport,
    cpu_at_start: u64,
    buf: Vec<u8>,
    rx: RxBatch,
    last_wake: Instant,
    next_keepalive: Instant,
}

const CONTROL: Token = Token(usize::MAX);

impl Worker {
    fn new(config: WorkerConfig, progress: Sender<Progress>) -> Result<Self, BenchError> {
        let mut control = Control::connect(&config.url)?;
        let created = control.request(json!({"janus": "create"}), Duration::from_secs(10))?;
        let session = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| BenchError::Api(format!("create: {created}")))?;
        let cert = DtlsCertificate::generate(SystemTime::now())
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let fingerprint = format!(
            "{} {}",
            cert.fingerprint().algorithm().sdp_name(),
            cert.fingerprint()
        );
        let options = DtlsOptions {
            srtp_profiles: config.srtp.clone(),
            ..DtlsOptions::default()
        };
        let dtls = Arc::new(
            DtlsConfig::new(&cert, options).map_err(|e| BenchError::Setup(e.to_string()))?,
        );
        let poll = Poll::new().map_err(|e| BenchError::Setup(e.to_string()))?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(control.socket());
        poll.registry()
            .register(&mut mio::unix::SourceFd(&fd), CONTROL, Interest::READABLE)
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        Ok(Self {
            config,
            progress,
            control,
            session,
            dtls,
            fingerprint,
            poll,
            clients: Vec::new(),
            by_transaction: HashMap::new(),
            by_handle: HashMap::new(),
            timers: BinaryHeap::new(),
            in_flight: 0,
            queued: VecDeque::new(),
            publishers: Vec::new(),
            control_ready: true,
            next_control_poll: Instant::now(),
            measuring: false,
            report: empty_report(),
            cpu_at_start: 0,
            buf: vec![0u8; 2048],
            rx: RxBatch::new(),
            last_wake: Instant::now(),
            next_keepalive: Instant::now() + KEEPALIVE,
        })
    }

    fn run(&mut self, commands: &Receiver<Command>) -> Result<(), BenchError> {
        let mut events = Events::with_capacity(1024);
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Add(specs)) => self.add(specs),
                    Ok(Command::Measure(on)) => self.measure(on),
                    Ok(Command::Report(to)) => {
                        let _ = to.send(self.report.clone());
                    }
                    Ok(Command::Stop) | Err(TryRecvError::Disconnected) => {
                        let _ = self
                            .control
                            .send(json!({"janus": "destroy", "session_id": self.session}));
                        let _ = self.control.poll();
                        return Ok(());
                    }
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            self.start_queued(now)?;
            // Reading the WebSocket costs a syscall: only when it is readable, after we wrote
            // to it, and now and then (tungstenite may hold complete messages in its buffer).
            if self.control_ready || now >= self.next_control_poll {
                self.control_ready = false;
                self.next_control_poll = now + CONTROL_POLL;
                while let Some(msg) = self.control.poll()? {
                    self.handle_api(Instant::now(), &msg)?;
                }
            }
            if now >= self.next_keepalive {
                self.control
                    .send(json!({"janus": "keepalive", "session_id": self.session}))?;
                self.next_keepalive = now + KEEPALIVE;
            }
            self.coalesce();
            let wake = self.next_wake(now);
            let timeout = wake
                .saturating_duration_since(Instant::now())
                .min(MAX_SLEEP);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != ErrorKind::Interrupted
            {
                return Err(BenchError::Setup(format!("poll: {e}")));
            }
            for event in &events {
                if event.token() == CONTROL {
                    self.control_ready = true;
                } else {
                    self.receive(event.token().0);
                }
            }
            let now = Instant::now();
            self.run_timers(now);
            self.send_media(now);
        }
    }

    /// Steady state only (nothing queued or setting up): sleeps out the rest of
    /// `rx_coalesce` since the last wakeup, letting packets gather on the sockets.
    fn coalesce(&mut self) {
        let coalesce = self.config.rx_coalesce;
        if !coalesce.is_zero() && self.in_flight == 0 && self.queued.is_empty() {
            let until = self.last_wake + coalesce;
            let now = Instant::now();
            if until > now {
                std::thread::sleep(until - now);
            }
        }
        self.last_wake = Instant::now();
    }

    fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = now + MAX_SLEEP;
        if let Some(Reverse((t, _))) = self.timers.peek() {
            wake = wake.min(*t);
        }
        for &idx in &self.publishers {
            let c = &self.clients[idx];
            if let (Some(source), Step::Connected) = (&c.source, c.step) {
                wake = wake.min(source.poll_timeout());
            }
        }
        wake
    }

    fn add(&mut self, specs: Vec<PeerSpec>) {
        for spec in specs {
            self.queued.push_back(self.clients.len());
            self.clients.push(Client {
                spec,
                step: Step::Queued,
                handle: None,
                started: None,
                socket: None,
                local: None,
                peer: None,
                pending_candidates: Vec::new(),
                source: None,
                deadline: None,
                streams: Vec::new(),
                got_media: false,
            });
        }
    }

    fn measure(&mut self, on: bool) {
        if on {
            self.report = empty_report();
            for c in &mut self.clients {
                c.streams.clear();
            }
            self.cpu_at_start = thread_cpu_ns();
        } else if self.measuring {
            self.report.cpu_ns = thread_cpu_ns().saturating_sub(self.cpu_at_start);
            self.report.lost = self
                .clients
                .iter()
                .flat_map(|c| c.streams.iter())
                .map(|s| (s.max - s.first + 1).saturating_sub(s.count))
                .sum();
        }
        self.measuring = on;
    }

    /// Sends `attach` for queued clients while fewer than `max_in_flight` are setting up.
    fn start_queued(&mut self, now: Instant) -> Result<(), BenchError> {
        if self.in_flight >= self.config.max_in_flight {
            return Ok(());
        }
        while self.in_flight < self.config.max_in_flight {
            let Some(idx) = self.queued.pop_front() else {
                break;
            };
            let plugin = match self.clients[idx].spec.role {
                Role::Viewer { .. } => "janus.plugin.streaming",
                _ => "janus.plugin.videoroom",
            };
            self.control_ready = true;
            let tx = self.control.send(json!({
                "janus": "attach", "session_id": self.session, "plugin": plugin,
            }))?;
            self.by_transaction.insert(tx, idx);
            let c = &mut self.clients[idx];
            c.step = Step::Attaching;
            c.started = Some(now);
            c.deadline = Some(now + self.config.setup_timeout);
            self.timers
                .push(Reverse((now + self.config.setup_timeout, idx)));
            self.in_flight += 1;
        }
        Ok(())
    }

    fn handle_api(&mut self, now: Instant, msg: &Value) -> Result<(), BenchError> {
        let idx = msg["transaction"]
            .as_str()
            .and_then(|t| self.by_transaction.get(t).copied())
            .or_else(|| {
                msg["sender"]
                    .as_u64()
                    .and_then(|h| self.by_handle.get(&h).copied())
            });
        let Some(idx) = idx else { return Ok(()) };
        let kind = msg["janus"].as_str().unwrap_or_default();
        match kind {
            "webrtcup" => {
                let c = &self.clients[idx];
                if matches!(c.spec.role, Role::Publisher { .. }) {
                    let _ = self.progress.send(Progress::Up { id: c.spec.id });
                }
                return Ok(());
            }
            "ack" | "media" | "slowlink" => return Ok(()),
            "error" => {
                self.fail(idx, format!("API error {}", msg["error"]));
                return Ok(());
            }
            "hangup" | "detached" => {
                if self.clients[idx].step != Step::Failed {
                    self.fail(idx, format!("server hung up: {}", msg["reason"]));
                }
                return Ok(());
            }
            "trickle" => {
                let cand = &msg["candidate"];
                if let Some(found) = cand["candidate"].as_str().and_then(sdp::parse_trickled) {
                    self.add_remote_candidate(idx, found, now);
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(tx) = msg["transaction"].as_str() {
            self.by_transaction.remove(tx);
        }
        let data = &msg["plugindata"]["data"];
        if let Some(code) = data.get("error_code") {
            self.fail(idx, format!("plugin error {code}: {}", data["error"]));
            return Ok(());
        }
        match self.clients[idx].step {
            Step::Attaching if kind == "success" => {
                let Some(handle) = msg["data"]["id"].as_u64() else {
                    self.fail(idx, "attach without a handle id".into());
                    return Ok(());
                };
                self.clients[idx].handle = Some(handle);
                self.by_handle.insert(handle, idx);
                self.join(idx, handle)?;
            }
            Step::Joining => self.joined(idx, now, msg)?,
            Step::Negotiating => {
                if let Some(sdp) = msg["jsep"]["sdp"].as_str() {
                    self.connect(idx, now, sdp, SdpType::Answer);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn join(&mut self, idx: usize, handle: u64) -> Result<(), BenchError> {
        let body = match &self.clients[idx].spec.role {
            Role::Publisher { room, source, .. } => json!({
                "request": "join", "ptype": "publisher", "room": room,
                "display": format!("bench-{source}"),
            }),
            Role::Subscriber { room, feeds } => json!({
                "request": "join", "ptype": "subscriber", "room": room,
                "streams": feeds.iter().map(|f| json!({"feed": f})).collect::<Vec<_>>(),
            }),
            Role::Viewer { mountpoint } => json!({"request": "watch", "id": mountpoint}),
        };
        self.message(idx, handle, body, None)?;
        self.clients[idx].step = Step::Joining;
        Ok(())
    }

    fn message(
        &mut self,
        idx: usize,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<(), BenchError> {
        let mut msg = json!({
            "janus": "message", "session_id": self.session, "handle_id": handle, "body": body,
        });
        if let Some(jsep) = jsep {
            msg["jsep"] = jsep;
        }
        let tx = self.control.send(msg)?;
        self.control_ready = true;
        self.by_transaction.insert(tx, idx);
        Ok(())
    }

    /// The answer to `join`/`watch`: a publisher now publishes with an offer; a subscriber or
    /// viewer got the server's offer and answers it.
    fn joined(&mut self, idx: usize, now: Instant, msg: &Value) -> Result<(), BenchError> {
        let Some(handle) = self.clients[idx].handle else {
            return Ok(());
        };
        let data = &msg["plugindata"]["data"];
        if let Role::Publisher { source, media, .. } = self.clients[idx].spec.role.clone() {
            if data["videoroom"] != "joined" {
                return Ok(());
            }
            if let Some(publisher) = data["id"].as_u64() {
                let _ = self.progress.send(Progress::Joined {
                    id: self.clients[idx].spec.id,
                    publisher,
                });
            }
            let local = match self.open_socket(idx) {
                Ok(l) => l,
                Err(e) => {
                    self.fail(idx, e.to_string());
                    return Ok(());
                }
            };
            let ssrc_base = 0x1000_0000 | (source << 4);
            let media_source = MediaSource::new(now, source, ssrc_base, &media);
            let audio = media_source.audio().map(|t| t.ssrc);
            let video: Vec<u32> = media_source.video().iter().map(|t| t.ssrc).collect();
            let offer = sdp::publisher_offer(&local, audio, &video);
            self.clients[idx].source = Some(media_source);
            self.publishers.push(idx);
            self.clients[idx].step = Step::Negotiating;
            let body =
                json!({"request": "publish", "audio": audio.is_some(), "video": !video.is_empty()});
            return self.message(
                idx,
                handle,
                body,
                Some(json!({"type": "offer", "sdp": offer})),
            );
        }
        let Some(offer) = msg["jsep"]["sdp"].as_str() else {
            return Ok(()); // e.g. an intermediate status event
        };
        if let Err(e) = self.open_socket(idx) {
            self.fail(idx, e.to_string());
            return Ok(());
        }
        let Some(answer) = self.connect(idx, now, offer, SdpType::Offer) else {
            return Ok(());
        };
        let body = json!({"request": "start"});
        self.message(
            idx,
            handle,
            body,
            Some(json!({"type": "answer", "sdp": answer})),
        )?;
        Ok(())
    }

    fn open_socket(&mut self, idx: usize) -> Result<LocalParams, BenchError> {
        let mut socket = UdpSocket::bind("127.0.0.1:0".parse().expect("literal address"))
            .map_err(|e| BenchError::Setup(format!("bind: {e}")))?;
        let addr = socket
            .local_addr()
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        rx::enable_timestamps(fd).map_err(|e| BenchError::Setup(format!("SO_TIMESTAMPNS: {e}")))?;
        if self.config.client_gro {
            rx::enable_gro(fd).map_err(|e| BenchError::Setup(format!("UDP_GRO: {e}")))?;
        }
        self.poll
            .registry()
            .register(&mut socket, Token(idx), Interest::READABLE)
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let local = LocalParams {
            ice: IceCredentials::generate(&random_bytes()),
            fingerprint: self.fingerprint.clone(),
            addr,
        };
        let c = &mut self.clients[idx];
        c.socket = Some(socket);
        c.local = Some(local.clone());
        Ok(local)
    }

    /// Reads the server's description, creates the Peer and starts ICE. Returns our answer
    /// when the server offered.
    fn connect(
        &mut self,
        idx: usize,
        now: Instant,
        text: &str,
        sdp_type: SdpType,
    ) -> Option<String> {
        let (desc, transport) = match sdp::read_server_sdp(text, sdp_type) {
            Ok(x) => x,
            Err(e) => {
                self.fail(idx, e.to_string());
                return None;
            }
        };
        let local = self.clients[idx].local.clone()?;
        let answer = if sdp_type == SdpType::Offer {
            match sdp::subscriber_answer(&desc, &local) {
                Ok(a) => Some(a),
                Err(e) => {
                    self.fail(idx, e.to_string());
                    return None;
                }
            }
        } else {
            None
        };
        // RFC 8445 §6.1.1: the offerer controls between two full agents; against ICE-lite we
        // always control.
        let role = if transport.ice_lite || sdp_type == SdpType::Answer {
            IceRole::Controlling
        } else {
            IceRole::Controlled
        };
        let config = PeerConfig {
            ice: IceMode::Controlling(IceAgentConfig {
                role,
                ..IceAgentConfig::default()
            }),
            local_credentials: local.ice.clone(),
            remote_credentials: Some(transport.ice.clone()),
            dtls_role: transport.our_dtls_role,
            remote_fingerprint: transport.fingerprint.clone(),
            data_channels: None,
            connect_timeout: self.config.setup_timeout,
            seed: idx as u64 ^ u64::from(local.addr.port()) << 32,
        };
        let mut peer = match Peer::new(now, &self.dtls, config) {
            Ok(p) => p,
            Err(e) => {
                self.fail(idx, format!("peer: {e}"));
                return None;
            }
        };
        let _ = peer.add_local_candidate(local.addr);
        let c = &mut self.clients[idx];
        for (addr, priority) in transport
            .candidates
            .iter()
            .chain(c.pending_candidates.iter())
        {
            let _ = peer.add_remote_candidate(*addr, *priority);
        }
        c.peer = Some(peer);
        c.step = Step::Connecting;
        self.drive(idx, now);
        answer
    }

    fn add_remote_candidate(&mut self, idx: usize, found: (SocketAddr, u32), now: Instant) {
        let c = &mut self.clients[idx];
        match &mut c.peer {
            Some(peer) => {
                let _ = peer.add_remote_candidate(found.0, found.1);
                self.drive(idx, now);
            }
            None => c.pending_candidates.push(found),
        }
    }

    /// Receives every datagram waiting on client `idx`'s socket, a batch per system call.
    fn receive(&mut self, idx: usize) {
        let Some(c) = self.clients.get_mut(idx) else {
            return;
        };
        let (Some(socket), Some(local)) = (&c.socket, &c.local) else {
            return;
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(socket);
        let local_addr = local.addr;
        let mut needs_drive = false;
        while let Ok(n) = self.rx.recv(fd) {
            // One clock read per batch: what a datagram without a kernel stamp falls back to,
            // and the `now` the peer's state machine sees.
            let batch_ns = stamp_clock_ns();
            let now = Instant::now();
            let mut next = (0, 0);
            while next.0 < n {
                let (i, seg) = next;
                next = if seg + 1 < self.rx.segments(i) {
                    (i, seg + 1)
                } else {
                    (i + 1, 0)
                };
                let Some((buf, Some(from), rx_ns)) = self.rx.get(i, seg) else {
                    continue;
                };
                let Some(peer) = c.peer.as_mut() else {
                    continue;
                };
                match peer.handle_datagram(now, local_addr, from, buf) {
                    Ok(Received::Rtp(len)) => {
                        let Some(stamp) = buf
                            .get(..len)
                            .and_then(|b| RtpPacket::parse(b).ok())
                            .and_then(|p| Stamp::read(p.payload()))
                        else {
                            continue;
                        };
                        if !c.got_media {
                            c.got_media = true;
                            if let Some(started) = c.started {
                                let _ = self.progress.send(Progress::FirstMedia {
                                    id: c.spec.id,
                                    after: now.saturating_duration_since(started),
                                });
                            }
                        }
                        if self.measuring {
                            let at = rx_ns.unwrap_or(batch_ns);
                            record(&mut c.streams, &mut self.report, stamp, at);
                        }
                    }
                    Ok(Received::Rtcp(len)) => {
                        if let Some(source) = c.source.as_mut()
                            && buf.get(..len).is_some_and(wants_keyframe)
                        {
                            source.request_keyframe();
                        }
                    }
                    Ok(Received::Consumed) => needs_drive = true,
                    Err(portunus_peer::PeerError::Srtp(_)) => {
                        if self.measuring {
                            self.report.srtp_failures += 1;
                        }
                    }
                    Err(_) => {}
                }
            }
            // Fewer than a full batch: the socket is empty (a datagram arriving after this
            // raises a new readiness edge).
            if n < rx::BATCH {
                break;
            }
        }
        if needs_drive {
            self.drive(idx, Instant::now());
        }
    }

    /// Drains a peer's transmits and events and re-arms its timer.
    fn drive(&mut self, idx: usize, now: Instant) {
        let c = &mut self.clients[idx];
        let (Some(peer), Some(socket)) = (c.peer.as_mut(), c.socket.as_ref()) else {
            return;
        };
        while let Some(t) = peer.poll_transmit(&mut self.buf) {
            let _ = socket.send_to(&self.buf[..t.len], t.remote);
        }
        let mut failed = None;
        let mut connected = false;
        while let Some(event) = peer.poll_event() {
            match event {
                PeerEvent::Connected { .. } => connected = true,
                PeerEvent::Hangup(reason) => failed = Some(format!("peer hung up: {reason:?}")),
                _ => {}
            }
        }
        let timeout = peer.poll_timeout();
        if peer.state() == PeerState::Connected && c.step == Step::Connecting {
            connected = true;
        }
        if connected && c.step == Step::Connecting {
            c.step = Step::Connected;
            c.deadline = None;
            self.in_flight = self.in_flight.saturating_sub(1);
            if let Some(source) = c.source.as_mut() {
                source.request_keyframe();
            }
            let setup = c
                .started
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
            let _ = self.progress.send(Progress::Connected {
                id: c.spec.id,
                setup,
                profile: peer.srtp_profile().map(profile_name),
            });
        }
        if let Some(t) = timeout {
            self.timers.push(Reverse((t, idx)));
        }
        if let Some(reason) = failed {
            self.fail(idx, reason);
        }
    }

    fn run_timers(&mut self, now: Instant) {
        while let Some(Reverse((t, idx))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let c = &mut self.clients[idx];
            if c.step == Step::Failed {
                continue;
            }
            if c.deadline.is_some_and(|d| now >= d) {
                self.fail(
                    idx,
                    format!("not connected after {:?}", self.config.setup_timeout),
                );
                continue;
            }
            let Some(peer) = c.peer.as_mut() else {
                continue;
            };
            if peer.poll_timeout().is_some_and(|pt| pt <= now) {
                peer.handle_timeout(now);
                self.drive(idx, now);
            }
        }
    }

    fn send_media(&mut self, now: Instant) {
        for &idx in &self.publishers {
            let c = &mut self.clients[idx];
            if c.step != Step::Connected {
                continue;
            }
            let (Some(source), Some(peer), Some(socket)) =
                (c.source.as_mut(), c.peer.as_mut(), c.socket.as_ref())
            else {
                continue;
            };
            let Some(path) = peer.path() else { continue };
            while let Some(len) = source.poll_packet(now, stamp_clock_ns(), &mut self.buf) {
                if let Ok(len) = peer.protect_rtp(&mut self.buf, len) {
                    let _ = socket.send_to(&self.buf[..len], path.remote);
                    if self.measuring {
                        self.report.sent += 1;
                    }
                }
            }
        }
    }

    fn fail(&mut self, idx: usize, reason: String) {
        let c = &mut self.clients[idx];
        if c.step == Step::Failed {
            return;
        }
        if !matches!(c.step, Step::Connected | Step::Queued) {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        c.step = Step::Failed;
        if let Some(peer) = c.peer.as_mut() {
            peer.close();
        }
        if let Some(mut socket) = c.socket.take() {
            let _ = self.poll.registry().deregister(&mut socket);
        }
        let _ = self.progress.send(Progress::Failed {
            id: c.spec.id,
            reason,
        });
    }
}

/// Counts one stamped packet, received at `rx_ns` ([`stamp_clock_ns`]'s clock), into its
/// stream's sequence accounting and the latency histogram.
fn record(streams: &mut Vec<RxStream>, report: &mut WorkerReport, stamp: Stamp, rx_ns: u64) {
    report.received += 1;
    let latency_us = rx_ns.saturating_sub(stamp.sent_ns) / 1000;
    report.latency_us.saturating_record(latency_us.max(1));
    match streams.iter_mut().find(|s| s.stream == stamp.stream) {
        Some(s) => {
            s.count += 1;
            s.max = s.max.max(stamp.seq);
            s.first = s.first.min(stamp.seq);
        }
        None => streams.push(RxStream {
            stream: stamp.stream,
            first: stamp.seq,
            max: stamp.seq,
            count: 1,
        }),
    }
}

/// Whether an RTCP compound packet carries a PLI or FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1).
fn wants_keyframe(mut rtcp: &[u8]) -> bool {
    while rtcp.len() >= 4 {
        let (fmt, pt) = (rtcp[0] & 0x1f, rtcp[1]);
        if pt == 206 && (fmt == 1 || fmt == 4) {
            return true;
        }
        let len = (usize::from(u16::from_be_bytes([rtcp[2], rtcp[3]])) + 1) * 4;
        rtcp = rtcp.get(len..).unwrap_or_default();
    }
    false
}

fn profile_name(p: portunus_srtp::SrtpProfile) -> &'static str {
    use portunus_srtp::SrtpProfile as P;
    match p {
        P::AeadAes128Gcm => "AEAD_AES_128_GCM",
        P::AeadAes256Gcm => "AEAD_AES_256_GCM",
        P::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
        P::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        _ => "other",
    }
}

fn empty_report() -> WorkerReport {
    WorkerReport {
        received: 0,
        lost: 0,
        srtp_failures: 0,
        sent: 0,
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        cpu_ns: 0,
    }
}

/// Random bytes for ICE credentials from the kernel.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // SAFETY: `out` is a writable buffer of exactly `N` bytes.
    let n = unsafe { libc::getrandom(out.as_mut_ptr().cast(), N, 0) };
    if n != N as isize {
        // Uniqueness is all the bench needs; fall back on the clock.
        let seed = mono_ns().to_le_bytes();
        for (i, b) in out.iter_mut().enumerate() {
            *b = seed[i % 8].wrapping_add(i as u8);
        }
    }
    out
}

const KEEPALIVE: Duration = Duration::from_secs(15);
const MAX_SLEEP: Duration = Duration::from_millis(5);
const CONTROL_POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframe_requests_are_found_in_compound_packets() {
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        let pli = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        let remb = [0x8f, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        assert!(wants_keyframe(&[rr.as_slice(), &pli].concat()));
        assert!(!wants_keyframe(&[rr.as_slice(), &remb].concat()));
        assert!(!wants_keyframe(&[0x80, 206]));
    }

    #[test]
    fn loss_counts_gaps_from_the_first_packet_seen() {
        let mut streams = Vec::new();
        let mut report = empty_report();
        for seq in [10, 11, 13, 14, 12, 17] {
            record(
                &mut streams,
                &mut report,
                Stamp {
                    stream: 4,
                    seq,
                    sent_ns: 1_000,
                },
                3_000_000,
            );
        }
        let s = streams[0];
        assert_eq!((s.first, s.max, s.count), (10, 17, 6));
        assert_eq!((s.max - s.first + 1) - s.count, 2);
        assert_eq!(report.received, 6);
    }
}

//! The shard-per-core dataplane of Portunus: UDP I/O, routing, forwarding and RTCP feedback
//! for every PeerConnection (ARCHITECTURE.md, STYLE.md §5–6).
//!
//! [`Dataplane::start`] binds one UDP port per shard (IPv4 and, where available, IPv6) and
//! starts N shard threads, each pinned to a core. A shard owns its sockets, its
//! PeerConnections ([`portunus_peer::Peer`]: ICE-lite, DTLS, SRTP, SCTP), a router (ICE ufrag
//! for STUN before a path is known, then 5-tuple), its timers and its [`Counters`]. The
//! control plane talks to shards only through typed messages: [`ShardCommand`]s into one
//! bounded queue per shard ([`Dataplane::send`] hands a command back when the queue is full),
//! and [`ShardEvent`]s out of one bounded queue, with an eventfd ([`Dataplane::wake_fd`])
//! that becomes readable when events are waiting, for a mio loop to register.
//!
//! Forwarding: a publisher's packet is decrypted once on its shard. Local subscribers get a
//! copy rewritten ([`Rewriter`]: SSRC, sequence number and timestamp kept gap-free across
//! switches; payload type; header-extension ids) and protected with their own SRTP context.
//! Other shards with subscribers get one refcounted buffer (an `Arc` from the publisher
//! shard's pool, copied once whatever the number of shards) through a per-pair SPSC ring,
//! and do the same for their subscribers. Sends of one loop iteration go out together, as
//! UDP GSO sends where several equal-size packets go to one destination.
//!
//! Two I/O backends pass the same tests: io_uring (multishot recvmsg into a provided buffer
//! ring, one submit for all sends) and epoll with recvmmsg/sendmmsg; [`BackendKind::Auto`]
//! picks io_uring when the kernel offers what it needs.
//!
//! RTCP: subscribers' PLI/FIR are relayed to the publisher (at most one PLI per stream per
//! [`DataplaneConfig::keyframe_min_interval`]); their NACKs are answered from a per-stream,
//! per-shard history of the last 256 packets (RTX when the subscription names an RTX SSRC
//! and payload type, plain retransmission otherwise).
//!
//! Simulcast: [`ShardCommand::SetSimulcast`] declares a publisher stream of up to three
//! substreams, named by SSRC (`ssrc-group:SIM`) or by rid (learnt from the `rtp-stream-id`
//! extension of the first packets). All substreams travel under one [`StreamKey`]; each
//! subscription with [`LayerPrefs`] selects one substream and a VP8 temporal layer, switches
//! substream only at a keyframe of the new one (asking for it with a rate-limited PLI), falls
//! back to a lower substream when the wanted one is silent for the `fallback` time, and keeps
//! sequence numbers, timestamps and VP8 picture ids / TL0PICIDX continuous across switches.
//! [`ShardCommand::SetLayers`] changes the wish, [`ShardEvent::LayerChanged`] reports what is
//! forwarded.
//!
//! RTCP of our own, every [`DataplaneConfig::rtcp_interval`]: receiver reports (loss,
//! jitter, LSR/DLSR) and REMB (the lowest subscriber estimate, capped by
//! [`RtcpConfig::bitrate_cap`] / [`ShardCommand::SetBitrateCap`]) towards publishers; sender
//! reports (NTP from a wall clock read once per shard, RTP time extrapolated from the last
//! packet sent) towards subscribers, whose receiver reports give loss, jitter and RTT. Gaps
//! in a publisher's video are NACKed at once when [`RtcpConfig::nack`] is set, and its RTX
//! answers are unwrapped and forwarded like the originals. [`ShardCommand::GetPeerStats`]
//! answers with [`ShardEvent::PeerStats`] (Admin `handle_info`); [`ShardEvent::SlowLink`]
//! reports loss over the configured threshold in either direction. When
//! [`RtcpConfig::twcc_ext`] names the peer's transport-wide sequence number extension, the
//! arrival of every number is kept in a fixed ring and reported back every 50 ms as
//! transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01
//! §3.1), split over several packets when one would exceed 1000 bytes.
//!
//! Plain RTP: [`ShardCommand::OpenRtpInput`] binds a Streaming mountpoint stream's UDP ports
//! (added to the running backend, io_uring or epoll, and removed again by
//! [`ShardCommand::CloseRtpInput`]); what arrives, SRTP-decrypted when keyed, becomes the
//! stream `StreamKey { publisher: PeerId::input(mountpoint), ssrc: key }` on that shard,
//! forwarded like a publisher's (three ports: simulcast substreams 0–2), renumbered so that
//! source restarts leave no jump. A plain source takes no PLI: a new viewer of its video
//! starts on a keyframe, the one the input kept ([`RtpInput::buffer_keyframe`], replayed to
//! the new viewer alone) or the next. [`ShardCommand::AddRtpOutput`] copies a stream from
//! its shard to a host:port as plain or SRTP RTP with its own SSRC and payload type
//! (VideoRoom `rtp_forward`).
//!
//! Data inputs: [`ShardCommand::OpenDataInput`] binds a Streaming mountpoint's `data` port;
//! each datagram becomes one data-channel message (text or binary) to every viewer
//! installed with [`Dataplane::add_data_forward`], on the viewer's first open channel,
//! crossing to viewers on other shards like RTP (a refcounted buffer through the ring).
//! With [`DataSubscription::replay_last`] (Janus's `buffermsg`) a viewer gets the input's
//! latest message as soon as its channel opens.
//!
//! Out of scope so far: transport-wide CC feedback, NACK retries (one NACK per gap); for
//! RTP inputs: RTCP ports, multicast groups.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//! use portunus_dataplane::{Dataplane, DataplaneConfig, ShardEvent};
//! use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions};
//!
//! let cert = DtlsCertificate::generate(SystemTime::now())?;
//! let dtls = Arc::new(DtlsConfig::new(&cert, DtlsOptions::default())?);
//! let mut config = DataplaneConfig::new(dtls);
//! config.shards = 2;
//! config.bind = vec!["127.0.0.1".parse()?];
//! let dp = Dataplane::start(config)?;
//! println!("shard 0 listens on {:?}", dp.local_addrs(portunus_dataplane::ShardId(0)));
//! // The control loop: send commands, then drain events whenever wake_fd() is readable.
//! while let Some(ev) = dp.recv_timeout(Duration::from_millis(10)) {
//!     if let ShardEvent::Hangup { peer, reason } = ev {
//!         println!("{peer:?}: {}", reason.janus_reason());
//!     }
//! }
//! dp.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

#[doc(hidden)]
pub mod bench;
mod counters;
pub mod forward;
mod io;
mod msg;
mod router;
mod shard;
mod xshard;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use portunus_dtls::DtlsConfig;

pub use counters::{Counters, DropReason, ShardStats};
pub use forward::Rewriter;
pub use io::EventFd;
pub use msg::{
    CreatePeer, DataInput, DataSubscription, InboundStats, InboundStream, LayerPrefs,
    MAX_SUBSTREAMS, MediaKind, OutboundStats, PeerId, PeerStats, ReplyTo, RtcpConfig, RtpInput,
    RtpOutput, RtpOutputId, ShardCommand, ShardError, ShardEvent, ShardId, SimulcastInbound,
    SrtpKey, StreamKey, Subscription,
};
pub use portunus_rtp::codec::VideoCodec;

use io::Sockets;
use msg::ShardSettings;
use shard::{Shard, ShardInit, State};
use xshard::Mesh;

/// Which I/O backend the shards use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// io_uring when the kernel supports multishot recvmsg, epoll otherwise.
    Auto,
    /// io_uring (fails to start without kernel support).
    IoUring,
    /// epoll with recvmmsg/sendmmsg.
    Epoll,
}

/// Settings of the whole dataplane.
#[derive(Debug, Clone)]
pub struct DataplaneConfig {
    /// Number of shards; 0 means one per available core (`--shards`).
    pub shards: usize,
    /// Pin shard `i` to core `i` (modulo the cores there are).
    pub pin_cores: bool,
    /// Local addresses every shard binds (one socket per address). An IPv6 address that
    /// cannot be bound (no IPv6 on the host) is skipped when another address was bound.
    pub bind: Vec<IpAddr>,
    /// Shard `i` binds port `port_base + i`; 0 lets the kernel choose each port.
    pub port_base: u16,
    /// The I/O backend.
    pub backend: BackendKind,
    /// The process-wide DTLS context (certificate, SRTP profiles).
    pub dtls: Arc<DtlsConfig>,
    /// ICE consent freshness: a path silent for this long is gone (RFC 7675: 30 s), and
    /// with no path left the PeerConnection hangs up.
    pub consent_timeout: Duration,
    /// ICE and DTLS must complete within this time.
    pub connect_timeout: Duration,
    /// An inbound stream silent this long is reported as stopped.
    pub media_timeout: Duration,
    /// At most one PLI per stream in this interval, however many subscribers ask.
    pub keyframe_min_interval: Duration,
    /// Receiver reports and REMB to publishers, sender reports to subscribers, and the
    /// slowlink check, this often.
    pub rtcp_interval: Duration,
    /// Emit a [`ShardEvent::Stats`] from every shard this often.
    pub stats_interval: Option<Duration>,
    /// Capacity of each shard's command queue.
    pub command_queue: usize,
    /// Commands a shard runs per loop iteration.
    pub command_budget: usize,
    /// Capacity of the shared event queue.
    pub event_queue: usize,
    /// Capacity of each shard↔shard ring (messages).
    pub xshard_queue: usize,
    /// Refcounted packet buffers per shard for packets shared with other shards.
    pub xshard_buffers: usize,
    /// Datagrams a shard can queue for sending in one iteration.
    pub tx_slots: usize,
    /// Use UDP GSO where the kernel offers it.
    pub gso: bool,
    /// DSCP code point (0–63) marked on everything the shards' media sockets send
    /// (IP_TOS / IPV6_TCLASS = dscp << 2); 0 leaves the sockets' default.
    pub dscp: u8,
}

impl DataplaneConfig {
    /// Defaults: one shard per core, pinned, binding 0.0.0.0 and :: on kernel-chosen ports.
    pub fn new(dtls: Arc<DtlsConfig>) -> Self {
        Self {
            shards: 0,
            pin_cores: true,
            bind: vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ],
            port_base: 0,
            backend: BackendKind::Auto,
            dtls,
            consent_timeout: Duration::from_secs(30),
            connect_timeout: portunus_peer::DEFAULT_CONNECT_TIMEOUT,
            media_timeout: Duration::from_secs(1),
            keyframe_min_interval: Duration::from_millis(500),
            rtcp_interval: Duration::from_secs(1),
            stats_interval: None,
            command_queue: 1024,
            command_budget: 64,
            event_queue: 8192,
            xshard_queue: 1024,
            xshard_buffers: 2048,
            tx_slots: 4096,
            gso: true,
            dscp: 0,
        }
    }
}

/// Why the dataplane did not start.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// A socket, eventfd or io_uring could not be set up.
    #[error("I/O setup: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration cannot work (ports out of range, nothing to bind …).
    #[error("configuration: {0}")]
    Config(&'static str),
}

/// Why [`Dataplane::send`] did not queue a command; each variant hands it back.
#[derive(Debug)]
pub enum SendError {
    /// The shard's queue is full: try again later (counted by the caller).
    Full(ShardCommand),
    /// The shard thread has ended.
    Disconnected(ShardCommand),
    /// No shard has this id.
    NoSuchShard(ShardCommand),
}

struct ShardHandle {
    commands: Sender<ShardCommand>,
    wake: Arc<EventFd>,
    addrs: Vec<SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

/// The running dataplane: the control plane's handle on every shard.
pub struct Dataplane {
    shards: Vec<ShardHandle>,
    events: Receiver<ShardEvent>,
    ctrl_wake: Arc<EventFd>,
    backend: BackendKind,
}

impl std::fmt::Debug for Dataplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataplane")
            .field("shards", &self.shards.len())
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Dataplane {
    /// Binds every shard's sockets and starts the shard threads.
    ///
    /// # Errors
    /// [`DataplaneError::Io`] when a socket cannot be bound or the chosen backend cannot be
    /// set up; [`DataplaneError::Config`] for impossible settings.
    pub fn start(config: DataplaneConfig) -> Result<Self, DataplaneError> {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let n = match config.shards {
            0 => cores.len().max(1),
            n => n,
        };
        if n > usize::from(u16::MAX) {
            return Err(DataplaneError::Config("too many shards"));
        }
        if config.port_base != 0 && usize::from(config.port_base) + n - 1 > 65_535 {
            return Err(DataplaneError::Config("port range exceeds 65535"));
        }
        if config.bind.is_empty() {
            return Err(DataplaneError::Config("no address to bind"));
        }
        let backend = match config.backend {
            BackendKind::Auto if io::uring::available() => BackendKind::IoUring,
            BackendKind::Auto => BackendKind::Epoll,
            b => b,
        };
        let mut sockets = Vec::with_capacity(n);
        for i in 0..n {
            let port = if config.port_base == 0 {
                0
            } else {
                config.port_base + i as u16
            };
            sockets.push(bind_shard(&config.bind, port, config.dscp)?);
        }
        let ctrl_wake = Arc::new(EventFd::new()?);
        let wakes: Vec<Arc<EventFd>> = (0..n)
            .map(|_| EventFd::new().map(Arc::new))
            .collect::<Result<_, _>>()?;
        let meshes = Mesh::build(n, config.xshard_queue, &wakes);
        let (ev_tx, ev_rx) = crossbeam_channel::bounded(config.event_queue.max(1));
        let settings = ShardSettings {
            consent_timeout: config.consent_timeout,
            connect_timeout: config.connect_timeout,
            media_timeout: config.media_timeout,
            keyframe_min_interval: config.keyframe_min_interval,
            rtcp_interval: config.rtcp_interval.max(Duration::from_millis(100)),
            stats_interval: config.stats_interval,
            command_budget: config.command_budget.max(1),
        };
        let mut shards = Vec::with_capacity(n);
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(n);
        for (i, (socks, mesh)) in sockets.into_iter().zip(meshes).enumerate() {
            let (cmd_tx, cmd_rx) = crossbeam_channel::bounded(config.command_queue.max(1));
            let addrs = socks.addrs.clone();
            let gso = config.gso && socks.socks.first().is_some_and(io::gso_supported);
            let init = ShardInit {
                id: ShardId(i as u16),
                settings: settings.clone(),
                dtls: Arc::clone(&config.dtls),
                sockets: socks,
                commands: cmd_rx,
                events: ev_tx.clone(),
                ctrl_wake: Arc::clone(&ctrl_wake),
                mesh,
                pool_buffers: config.xshard_buffers,
                tx_slots: config.tx_slots,
                gso,
            };
            let core = (config.pin_cores && !cores.is_empty()).then(|| cores[i % cores.len()]);
            let wake = Arc::clone(&wakes[i]);
            let ready = ready_tx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("portunus-shard-{i}"))
                .spawn(move || shard_main(init, backend, wake, core, ready))?;
            shards.push(ShardHandle {
                commands: cmd_tx,
                wake: Arc::clone(&wakes[i]),
                addrs,
                thread: Some(thread),
            });
        }
        let mut dp = Self {
            shards,
            events: ev_rx,
            ctrl_wake,
            backend,
        };
        for _ in 0..n {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    dp.shutdown();
                    return Err(DataplaneError::Io(e));
                }
                Err(_) => {
                    dp.shutdown();
                    return Err(DataplaneError::Config("a shard thread died at start"));
                }
            }
        }
        Ok(dp)
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The backend the shards run.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The addresses shard `shard` listens on (the host candidates of its PeerConnections);
    /// empty for an unknown shard.
    pub fn local_addrs(&self, shard: ShardId) -> &[SocketAddr] {
        self.shards
            .get(shard.index())
            .map_or(&[], |s| s.addrs.as_slice())
    }

    /// Queues a command for `shard` and wakes it. Never blocks.
    ///
    /// # Errors
    /// [`SendError`] hands the command back when the queue is full, the shard is gone or
    /// does not exist.
    pub fn send(&self, shard: ShardId, cmd: ShardCommand) -> Result<(), SendError> {
        let Some(s) = self.shards.get(shard.index()) else {
            return Err(SendError::NoSuchShard(cmd));
        };
        match s.commands.try_send(cmd) {
            Ok(()) => {
                s.wake.notify();
                Ok(())
            }
            Err(TrySendError::Full(c)) => Err(SendError::Full(c)),
            Err(TrySendError::Disconnected(c)) => Err(SendError::Disconnected(c)),
        }
    }

    /// Queues several commands for `shard` and wakes it once (one system call, one shard
    /// wake-up, where [`Self::send`] per command costs one of each). Never blocks; returns
    /// how many commands were refused (queue full, shard gone or unknown).
    pub fn send_all(
        &self,
        shard: ShardId,
        commands: impl IntoIterator<Item = ShardCommand>,
    ) -> usize {
        let Some(s) = self.shards.get(shard.index()) else {
            return commands.into_iter().count();
        };
        let (mut queued, mut refused) = (0, 0);
        for cmd in commands {
            match s.commands.try_send(cmd) {
                Ok(()) => queued += 1,
                Err(_) => refused += 1,
            }
        }
        if queued > 0 {
            s.wake.notify();
        }
        refused
    }

    /// Installs a forward: [`ShardCommand::AddForward`] to the subscriber's shard and, when
    /// the publisher lives elsewhere, [`ShardCommand::AddRoute`] to the publisher's shard.
    ///
    /// # Errors
    /// As [`Self::send`]; if the second command fails the first stays installed.
    pub fn add_forward(
        &self,
        subscriber_shard: ShardId,
        sub: Subscription,
    ) -> Result<(), SendError> {
        let (source, source_shard) = (sub.source, sub.source_shard);
        self.send(subscriber_shard, ShardCommand::AddForward(Box::new(sub)))?;
        if source_shard != subscriber_shard {
            self.send(
                source_shard,
                ShardCommand::AddRoute {
                    source,
                    to: subscriber_shard,
                },
            )?;
        }
        Ok(())
    }

    /// Installs a data forward: [`ShardCommand::AddDataForward`] to the viewer's shard and,
    /// when the data input lives elsewhere, [`ShardCommand::AddRoute`] to the input's shard.
    /// [`Self::remove_forward`] undoes it.
    ///
    /// # Errors
    /// As [`Self::send`]; if the second command fails the first stays installed.
    pub fn add_data_forward(
        &self,
        subscriber_shard: ShardId,
        sub: DataSubscription,
    ) -> Result<(), SendError> {
        let (source, source_shard) = (sub.source, sub.source_shard);
        self.send(
            subscriber_shard,
            ShardCommand::AddDataForward(Box::new(sub)),
        )?;
        if source_shard != subscriber_shard {
            let to = subscriber_shard;
            self.send(source_shard, ShardCommand::AddRoute { source, to })?;
        }
        Ok(())
    }

    /// Switches a subscriber's forward (subscriber-side SSRC `ssrc`) from `old` to `new`
    /// stream: [`ShardCommand::SwitchForward`] to the subscriber's shard, and the route
    /// changes on the publishers' shards.
    ///
    /// # Errors
    /// As [`Self::send`]; commands already sent stay sent.
    pub fn switch_forward(
        &self,
        subscriber_shard: ShardId,
        subscriber: PeerId,
        ssrc: u32,
        old: (StreamKey, ShardId),
        new: (StreamKey, ShardId),
    ) -> Result<(), SendError> {
        let cmd = ShardCommand::SwitchForward {
            subscriber,
            ssrc,
            source: new.0,
            source_shard: new.1,
        };
        self.send(subscriber_shard, cmd)?;
        if old.1 != subscriber_shard {
            let to = subscriber_shard;
            self.send(old.1, ShardCommand::RemoveRoute { source: old.0, to })?;
        }
        if new.1 != subscriber_shard {
            let to = subscriber_shard;
            self.send(new.1, ShardCommand::AddRoute { source: new.0, to })?;
        }
        Ok(())
    }

    /// Undoes [`Self::add_forward`]. The control plane calls it for every forward of a
    /// PeerConnection that closed or hung up, so publisher shards stop routing to it.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn remove_forward(
        &self,
        subscriber_shard: ShardId,
        subscriber: PeerId,
        source: StreamKey,
        source_shard: ShardId,
    ) -> Result<(), SendError> {
        self.send(
            subscriber_shard,
            ShardCommand::RemoveForward { subscriber, source },
        )?;
        if source_shard != subscriber_shard {
            self.send(
                source_shard,
                ShardCommand::RemoveRoute {
                    source,
                    to: subscriber_shard,
                },
            )?;
        }
        Ok(())
    }

    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<ShardEvent> {
        self.events.try_recv().ok()
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<ShardEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The event queue itself, e.g. for `crossbeam_channel::select!`.
    pub fn events(&self) -> &Receiver<ShardEvent> {
        &self.events
    }

    /// An eventfd that becomes readable when shards queued events: register it with the
    /// control loop (mio `SourceFd`), then call [`Self::clear_wake`] before draining.
    pub fn wake_fd(&self) -> RawFd {
        self.ctrl_wake.raw_fd()
    }

    /// Resets [`Self::wake_fd`]; call before draining events so none is missed.
    pub fn clear_wake(&self) {
        self.ctrl_wake.drain();
    }

    /// Stops every shard (closing its PeerConnections) and joins the threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        for s in &self.shards {
            // A full queue still stops the shard: dropping the sender below disconnects it.
            let _ = s.commands.try_send(ShardCommand::Stop);
            s.wake.notify();
        }
        for s in &mut self.shards {
            // Replace the sender so the shard sees a disconnect if Stop did not fit.
            let (dead, _) = crossbeam_channel::bounded(1);
            drop(std::mem::replace(&mut s.commands, dead));
            s.wake.notify();
            if let Some(t) = s.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds one socket per configured address for one shard.
fn bind_shard(bind: &[IpAddr], port: u16, dscp: u8) -> Result<Sockets, DataplaneError> {
    let mut addrs = Vec::new();
    let mut v6_failed = None;
    for ip in bind {
        let addr = SocketAddr::new(*ip, port);
        if ip.is_ipv6() && bind.len() > 1 {
            // Probe: skip IPv6 when the host has none.
            match Sockets::bind(&[addr]) {
                Ok(_) => addrs.push(addr),
                Err(e) => v6_failed = Some(e),
            }
        } else {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(v6_failed.map_or(DataplaneError::Config("no address to bind"), Into::into));
    }
    let sockets = Sockets::bind(&addrs)?;
    if dscp > 0 {
        for s in &sockets.socks {
            io::set_dscp(s, dscp)?;
        }
    }
    Ok(sockets)
}

/// A shard thread: pin, set up the backend, report readiness, run.
fn shard_main(
    init: ShardInit,
    backend: BackendKind,
    wake: Arc<EventFd>,
    core: Option<core_affinity::CoreId>,
    ready: Sender<std::io::Result<()>>,
) {
    if let Some(core) = core {
        core_affinity::set_for_current(core);
    }
    let (state, socks) = State::new(init);
    match backend {
        BackendKind::IoUring => match io::uring::UringBackend::new(socks, wake) {
            Ok(io) => {
                let _ = ready.send(Ok(()));
                Shard::new(io, state).run();
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        },
        _ => match io::epoll::EpollBackend::new(socks, wake) {
            Ok(io) => {
                let _ = ready.send(Ok(()));
                Shard::new(io, state).run();
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        },
    }
}

#[cfg(test)]
mod dscp_tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::bind_shard;

    #[test]
    fn shard_sockets_carry_the_configured_dscp() {
        let bind = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        // 46 = EF, the usual marking for voice.
        let marked = bind_shard(&bind, 0, 46).expect("bind");
        assert!(!marked.socks.is_empty());
        for (sock, addr) in marked.socks.iter().zip(&marked.addrs) {
            // getsockopt(IP_TOS) / getsockopt(IPV6_TCLASS)
            let class = if addr.is_ipv6() {
                sock.tclass_v6()
            } else {
                sock.tos_v4()
            };
            assert_eq!(class.expect("getsockopt"), 46 << 2, "{addr}");
        }
        let unmarked = bind_shard(&bind[..1], 0, 0).expect("bind");
        assert_eq!(unmarked.socks[0].tos_v4().expect("getsockopt"), 0);
    }
}

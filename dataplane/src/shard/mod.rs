//! One shard: a thread that owns its sockets, its PeerConnections, its forwarding table,
//! its timers and its counters (STYLE.md §5). Nothing in it is shared with another thread
//! except through the command/event queues and the shard↔shard rings.

mod commands;
mod data;
mod early;
pub(crate) mod media;
mod plain;
pub(crate) mod rtcp;
mod twcc;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use portunus_dtls::DtlsConfig;
use portunus_peer::{Peer, PeerEvent};
use smallvec::SmallVec;

use crate::counters::{Counters, DropReason, ShardStats};
use crate::forward::Forwarding;
use crate::io::{Backend, EventFd, RecvSink, Sockets, TxQueue};
use crate::msg::{MediaKind, PeerId, RtcpConfig, ShardCommand, ShardEvent, ShardId, ShardSettings};
use crate::router::Router;
use crate::xshard::{Mesh, Pool, XMsg};

/// Datagrams received per iteration before other work gets a turn.
const RECV_BUDGET: usize = 256;
/// Messages from other shards per iteration.
const XSHARD_BUDGET: usize = 256;
/// Events kept back when the control plane's queue is full, before they are dropped.
const EVENT_BACKLOG: usize = 4096;
/// How often media timeouts and statistics are looked at.
const HOUSEKEEPING: Duration = Duration::from_millis(100);
/// How often TWCC feedback goes to publishers that negotiated it (libwebrtc sends it
/// every 50 to 250 ms).
const TWCC_INTERVAL: Duration = Duration::from_millis(50);
/// Most inbound SSRCs tracked per PeerConnection.
const MAX_INBOUND: usize = 16;
/// How often the audio levels of publishers' streams go to the control plane: a talk
/// detector deciding every ~2 s (Janus's 100 packets) needs a handful of reports per
/// decision, not one per packet.
const AUDIO_LEVEL_INTERVAL: Duration = Duration::from_millis(250);

/// An inbound stream of a PeerConnection: what `Media` events and PLIs need.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub(crate) ssrc: u32,
    /// The forwarding key (`StreamKey::ssrc`): the SSRC itself, or a simulcast stream's key.
    pub(crate) key: u32,
    /// The simulcast substream, for a layer of a simulcast stream.
    pub(crate) layer: Option<u8>,
    pub(crate) rtx_ssrc: Option<u32>,
    pub(crate) mid: Option<String>,
    pub(crate) last_seen: Option<Instant>,
    pub(crate) receiving: bool,
    pub(crate) last_pli: Option<Instant>,
    pub(crate) packets: u64,
    /// Video: NACKed when packets go missing; REMB names it.
    pub(crate) video: bool,
    /// The RTP clock rate, for jitter.
    pub(crate) clock: u32,
    pub(crate) rx: rtcp::RxStats,
    /// The publisher's latest SR on it: (middle 32 bits of its NTP time, when).
    pub(crate) last_sr: Option<(u32, Instant)>,
    pub(crate) nacks_sent: u64,
    pub(crate) recovered: u64,
    pub(crate) plis_sent: u64,
    /// Audio streams: packets that carried an RFC 6464 level since the last
    /// [`ShardEvent::AudioLevel`], and the sum of those levels.
    pub(crate) level_packets: u32,
    pub(crate) level_sum: u32,
}

impl Inbound {
    /// A stream of its own (not a simulcast layer) with SSRC `ssrc`.
    pub(crate) fn new(ssrc: u32, mid: Option<String>, kind: MediaKind) -> Self {
        Self {
            ssrc,
            key: ssrc,
            layer: None,
            rtx_ssrc: None,
            mid,
            last_seen: None,
            receiving: false,
            last_pli: None,
            packets: 0,
            video: kind == MediaKind::Video,
            clock: match kind {
                MediaKind::Audio => 48_000,
                MediaKind::Video => 90_000,
            },
            rx: rtcp::RxStats::default(),
            last_sr: None,
            nacks_sent: 0,
            recovered: 0,
            plis_sent: 0,
            level_packets: 0,
            level_sum: 0,
        }
    }
}

/// One PeerConnection on the shard.
pub(crate) struct Session {
    pub(crate) id: PeerId,
    pub(crate) peer: Peer,
    pub(crate) ufrag: Box<[u8]>,
    /// Tuples the router learnt for this session, to forget them with it.
    pub(crate) remotes: SmallVec<[(u8, SocketAddr); 4]>,
    pub(crate) inbound: SmallVec<[Inbound; 2]>,
    /// Rid-based simulcast streams, whose layers' SSRCs are learnt from packets.
    pub(crate) rid_streams: SmallVec<[crate::msg::SimulcastInbound; 1]>,
    /// Forwarding-table subscriptions this session receives.
    pub(crate) subs: SmallVec<[usize; 4]>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) dirty: bool,
    /// The SSRC our RTCP feedback to this peer is sent from.
    pub(crate) rtcp_ssrc: u32,
    /// How we do RTCP with it.
    pub(crate) rtcp: RtcpConfig,
    /// The lowest subscriber estimate of its streams lately: (bit/s, since).
    pub(crate) estimate: Option<(u64, Instant)>,
    /// Packets it NACKed in this RTCP interval (downlink slowlink).
    pub(crate) nacked_in_interval: u64,
    /// Arrivals of its transport-wide sequence numbers, when TWCC was negotiated.
    pub(crate) twcc: Option<twcc::TwccRecorder>,
}

/// Events for the control plane, with a bounded backlog for when its queue is full.
pub(crate) struct Events {
    tx: Sender<ShardEvent>,
    backlog: VecDeque<ShardEvent>,
    ctrl: Arc<EventFd>,
    pending: bool,
}

impl Events {
    fn emit(&mut self, ev: ShardEvent, counters: &mut Counters) {
        if self.backlog.is_empty() {
            match self.tx.try_send(ev) {
                Ok(()) => {
                    self.pending = true;
                    counters.events += 1;
                }
                Err(TrySendError::Full(ev)) => self.backlog.push_back(ev),
                // The control plane is gone: nobody listens any more.
                Err(TrySendError::Disconnected(_)) => {}
            }
        } else if self.backlog.len() < EVENT_BACKLOG {
            self.backlog.push_back(ev);
        } else {
            counters.drop(DropReason::EventQueueFull);
        }
    }

    /// Retries the backlog and wakes the control thread if anything was delivered.
    fn flush(&mut self, counters: &mut Counters) {
        while let Some(ev) = self.backlog.pop_front() {
            match self.tx.try_send(ev) {
                Ok(()) => {
                    self.pending = true;
                    counters.events += 1;
                }
                Err(TrySendError::Full(ev)) => {
                    self.backlog.push_front(ev);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => self.backlog.clear(),
            }
        }
        if std::mem::take(&mut self.pending) {
            self.ctrl.notify();
        }
    }
}

/// Everything a shard thread starts with.
pub(crate) struct ShardInit {
    pub(crate) id: ShardId,
    pub(crate) settings: ShardSettings,
    pub(crate) dtls: Arc<DtlsConfig>,
    pub(crate) sockets: Sockets,
    pub(crate) commands: Receiver<ShardCommand>,
    pub(crate) events: Sender<ShardEvent>,
    pub(crate) ctrl_wake: Arc<EventFd>,
    pub(crate) mesh: Mesh,
    pub(crate) pool_buffers: usize,
    pub(crate) tx_slots: usize,
    pub(crate) gso: bool,
}

/// The shard's state: everything but the I/O backend, so the backend can hand datagrams to
/// it while both are borrowed.
pub(crate) struct State {
    pub(crate) id: ShardId,
    pub(crate) settings: ShardSettings,
    pub(crate) dtls: Arc<DtlsConfig>,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) sessions: slab::Slab<Session>,
    pub(crate) by_id: HashMap<PeerId, usize>,
    pub(crate) router: Router,
    timers: BinaryHeap<Reverse<(Instant, usize, PeerId)>>,
    dirty: Vec<usize>,
    pub(crate) fwd: Forwarding,
    pub(crate) tx: TxQueue,
    /// Below this many free send slots the shard stops taking datagrams in.
    tx_reserve: usize,
    pub(crate) mesh: Mesh,
    pub(crate) pool: Pool,
    commands: Receiver<ShardCommand>,
    pub(crate) events: Events,
    pub(crate) counters: Counters,
    /// Where a retransmission is rewritten before it becomes an RTX packet.
    pub(crate) scratch: Box<[u8; crate::io::tx::SLOT]>,
    pub(crate) now: Instant,
    /// The wall clock of sender reports.
    pub(crate) ntp: rtcp::NtpClock,
    next_rtcp: Instant,
    next_housekeeping: Instant,
    next_twcc: Instant,
    next_audio_level: Instant,
    /// The statuses of the TWCC feedback being written.
    twcc_scratch: Box<[Option<i16>; twcc::RING]>,
    next_stats: Option<Instant>,
    pub(crate) stopping: bool,
    /// RTP inputs, by slot and by stream.
    inputs: slab::Slab<plain::Input>,
    input_by_key: HashMap<crate::msg::StreamKey, usize>,
    /// Backend socket index → (input slot, substream), for input sockets.
    input_socks: Vec<Option<(usize, u8)>>,
    input_serial: u64,
    /// Socket work for the backend, done after the commands of an iteration.
    io_ops: Vec<plain::IoOp>,
    /// RTP outputs, by slot and by id.
    pub(crate) outputs: slab::Slab<plain::Output>,
    output_by_id: HashMap<crate::msg::RtpOutputId, usize>,
    /// Data inputs' viewers on this shard.
    data: data::DataRoutes,
    /// Checks that came before their PeerConnection (server offers).
    early: early::EarlyChecks,
}

/// A shard: its state and its I/O backend.
pub(crate) struct Shard<B> {
    io: B,
    st: State,
}

impl State {
    pub(crate) fn new(init: ShardInit) -> (Self, Vec<socket2::Socket>) {
        let now = Instant::now();
        let tx = TxQueue::new(init.tx_slots, init.gso);
        let rtcp_interval = init.settings.rtcp_interval;
        let st = Self {
            id: init.id,
            next_stats: init.settings.stats_interval.map(|d| now + d),
            settings: init.settings,
            dtls: init.dtls,
            addrs: init.sockets.addrs,
            sessions: slab::Slab::with_capacity(64),
            by_id: HashMap::with_capacity(64),
            router: Router::default(),
            timers: BinaryHeap::with_capacity(64),
            dirty: Vec::with_capacity(64),
            fwd: Forwarding::default(),
            // A quarter stays free for what the iteration sends after receiving (RTCP,
            // retransmissions); the rest holds whole frames for many subscribers, so a
            // frame's packets to one subscriber leave in one GSO send.
            tx_reserve: (init.tx_slots / 4).max(1),
            tx,
            mesh: init.mesh,
            pool: Pool::new(init.pool_buffers),
            commands: init.commands,
            events: Events {
                tx: init.events,
                backlog: VecDeque::new(),
                ctrl: init.ctrl_wake,
                pending: false,
            },
            counters: Counters::default(),
            scratch: Box::new([0; crate::io::tx::SLOT]),
            now,
            ntp: rtcp::NtpClock::new(now),
            next_rtcp: now + rtcp_interval,
            next_housekeeping: now + HOUSEKEEPING,
            next_twcc: now + TWCC_INTERVAL,
            next_audio_level: now + AUDIO_LEVEL_INTERVAL,
            twcc_scratch: Box::new([None; twcc::RING]),
            stopping: false,
            inputs: slab::Slab::new(),
            input_by_key: HashMap::new(),
            input_socks: Vec::new(),
            input_serial: 0,
            io_ops: Vec::new(),
            outputs: slab::Slab::new(),
            output_by_id: HashMap::new(),
            data: data::DataRoutes::default(),
            early: early::EarlyChecks::default(),
        };
        (st, init.sockets.socks)
    }

    /// Sends a session's outputs through the dirty list at the end of the iteration.
    pub(crate) fn mark_dirty(&mut self, slot: usize) {
        if let Some(s) = self.sessions.get_mut(slot)
            && !s.dirty
        {
            s.dirty = true;
            self.dirty.push(slot);
        }
    }

    /// Re-arms the timer of `slot` from its peer's `poll_timeout`.
    fn reschedule(&mut self, slot: usize) {
        let Some(s) = self.sessions.get_mut(slot) else {
            return;
        };
        let t = s.peer.poll_timeout();
        if t != s.deadline {
            s.deadline = t;
            if let Some(t) = t {
                self.timers.push(Reverse((t, slot, s.id)));
            }
        }
        // Stale entries pile up when deadlines move; rebuild once they dominate.
        if self.timers.len() > 4 * self.sessions.len() + 1024 {
            self.timers.clear();
            for (slot, s) in &self.sessions {
                if let Some(t) = s.deadline {
                    self.timers.push(Reverse((t, slot, s.id)));
                }
            }
        }
    }

    fn run_timers(&mut self) {
        while let Some(&Reverse((t, slot, id))) = self.timers.peek() {
            if t > self.now {
                break;
            }
            self.timers.pop();
            let now = self.now;
            let Some(s) = self.sessions.get_mut(slot) else {
                continue;
            };
            if s.id != id || s.deadline != Some(t) {
                continue; // stale entry
            }
            s.deadline = None;
            s.peer.handle_timeout(now);
            self.mark_dirty(slot);
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut d = self.next_housekeeping.min(self.next_twcc);
        if let Some(Reverse((t, _, _))) = self.timers.peek() {
            d = d.min(*t);
        }
        d
    }

    /// Drains one session's transmits and events; `false` when the send queue filled up
    /// before it was done (the session stays dirty).
    fn drain_session(&mut self, slot: usize) -> bool {
        loop {
            let Some(s) = self.sessions.get_mut(slot) else {
                return true;
            };
            let Some(buf) = self.tx.slot() else {
                return false;
            };
            let Some(t) = s.peer.poll_transmit(buf) else {
                break;
            };
            let sock = self
                .addrs
                .iter()
                .position(|a| *a == t.local)
                .or_else(|| Sockets::index_for(&self.addrs, &t.remote));
            match sock {
                Some(sock) => self.tx.push(sock, t.remote, t.len),
                None => self.counters.drop(DropReason::SendFailed),
            }
        }
        let mut hangup = false;
        while let Some(ev) = self
            .sessions
            .get_mut(slot)
            .and_then(|s| s.peer.poll_event())
        {
            hangup |= self.on_peer_event(slot, ev);
        }
        if hangup {
            self.remove_session(slot);
        } else {
            if let Some(s) = self.sessions.get_mut(slot) {
                s.dirty = false;
            }
            self.reschedule(slot);
        }
        true
    }

    /// Turns a peer event into a shard event; `true` for a hangup.
    fn on_peer_event(&mut self, slot: usize, ev: PeerEvent) -> bool {
        match &ev {
            PeerEvent::ChannelOpen { id, .. } | PeerEvent::ChannelOpened { id } => {
                self.data_channel_opened(slot, *id);
            }
            PeerEvent::ChannelClosed { id } => self.data_channel_closed(slot, *id),
            _ => {}
        }
        let Some(s) = self.sessions.get_mut(slot) else {
            return false;
        };
        let peer = s.id;
        let out = match ev {
            PeerEvent::PathSelected(pair) => {
                if let Some(sock) = Sockets::index_for(&self.addrs, &pair.remote) {
                    self.learn(slot, sock, pair.remote);
                }
                None
            }
            PeerEvent::Connected { profile } => Some(ShardEvent::PeerConnected { peer, profile }),
            PeerEvent::ChannelOpen {
                id,
                label,
                protocol,
                ..
            } => Some(ShardEvent::DataChannelOpen {
                peer,
                channel: id,
                label,
                protocol,
            }),
            PeerEvent::ChannelMessage { id, kind, data } => Some(ShardEvent::DataChannelMessage {
                peer,
                channel: id,
                kind,
                data,
            }),
            PeerEvent::ChannelClosed { id } => {
                Some(ShardEvent::DataChannelClosed { peer, channel: id })
            }
            PeerEvent::Hangup(reason) => {
                let ev = ShardEvent::Hangup { peer, reason };
                self.events.emit(ev, &mut self.counters);
                return true;
            }
            _ => None,
        };
        if let Some(ev) = out {
            self.events.emit(ev, &mut self.counters);
        }
        false
    }

    /// Routes `(sock, remote)` to `slot` from now on.
    pub(crate) fn learn(&mut self, slot: usize, sock: usize, remote: SocketAddr) {
        if self.router.knows(sock, remote, slot) {
            return;
        }
        let Some(s) = self.sessions.get_mut(slot) else {
            return;
        };
        if s.remotes.len() >= crate::router::MAX_REMOTES_PER_PEER {
            let (osock, old) = s.remotes.remove(0);
            self.router.forget(usize::from(osock), old, slot);
        }
        s.remotes.push((sock as u8, remote));
        if let Some(prev) = self.router.learn(sock, remote, slot) {
            // The address moved to this session (NAT rebinding): the other forgets it.
            if let Some(o) = self.sessions.get_mut(prev) {
                o.remotes
                    .retain(|(s, r)| !(usize::from(*s) == sock && *r == remote));
            }
        }
    }

    /// Removes a session and everything that names it.
    pub(crate) fn remove_session(&mut self, slot: usize) {
        let Some(s) = self.sessions.try_remove(slot) else {
            return;
        };
        self.by_id.remove(&s.id);
        self.router.remove_ufrag(&s.ufrag);
        for (sock, remote) in &s.remotes {
            self.router.forget(usize::from(*sock), *remote, slot);
        }
        for idx in &s.subs {
            self.fwd.remove_local(*idx);
        }
        self.fwd.remove_publisher(s.id);
        self.forget_data_peer(s.id);
    }

    fn housekeeping(&mut self) {
        if self.now >= self.next_twcc {
            self.next_twcc = self.now + TWCC_INTERVAL;
            self.twcc_tick();
        }
        if self.now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = self.now + HOUSEKEEPING;
        let timeout = self.settings.media_timeout;
        let now = self.now;
        let mut stopped: SmallVec<[ShardEvent; 4]> = SmallVec::new();
        for (_, s) in &mut self.sessions {
            for i in &mut s.inbound {
                if i.receiving && i.last_seen.is_some_and(|t| now.duration_since(t) > timeout) {
                    i.receiving = false;
                    stopped.push(ShardEvent::Media {
                        peer: s.id,
                        ssrc: i.ssrc,
                        mid: i.mid.clone(),
                        receiving: false,
                        substream: i.layer,
                    });
                }
            }
        }
        for ev in stopped {
            self.events.emit(ev, &mut self.counters);
        }
        self.input_timeouts();
        let unclaimed = self.early.expire(now);
        self.counters.drop_n(DropReason::NoRoute, unclaimed);
        if now >= self.next_audio_level {
            self.next_audio_level = now + AUDIO_LEVEL_INTERVAL;
            self.report_audio_levels();
        }
        if now >= self.next_rtcp {
            self.next_rtcp = now + self.settings.rtcp_interval;
            self.rtcp_tick();
        }
        if let (Some(at), Some(every)) = (self.next_stats, self.settings.stats_interval)
            && now >= at
        {
            self.next_stats = Some(now + every);
            self.emit_stats();
        }
    }

    /// One [`ShardEvent::AudioLevel`] per audio stream whose packets carried levels since
    /// the previous round; the sums start again from zero.
    fn report_audio_levels(&mut self) {
        let mut reports: SmallVec<[ShardEvent; 8]> = SmallVec::new();
        for (_, s) in &mut self.sessions {
            for i in &mut s.inbound {
                if i.level_packets == 0 {
                    continue;
                }
                reports.push(ShardEvent::AudioLevel {
                    peer: s.id,
                    ssrc: i.ssrc,
                    packets: std::mem::take(&mut i.level_packets),
                    level_sum: std::mem::take(&mut i.level_sum),
                });
            }
        }
        for ev in reports {
            self.events.emit(ev, &mut self.counters);
        }
    }

    pub(crate) fn emit_stats(&mut self) {
        let stats = ShardStats {
            shard: self.id,
            peers: self.sessions.len() as u32,
            forwards: (self.fwd.subs.len() + self.data.forward_count()) as u32,
            counters: self.counters.clone(),
        };
        self.events
            .emit(ShardEvent::Stats(Box::new(stats)), &mut self.counters);
    }

    fn drain_xshard(&mut self) -> usize {
        let mut n = 0;
        for from in 0..self.mesh.ins.len() {
            while n < XSHARD_BUDGET && self.tx.free() > self.tx_reserve {
                let Some(Some(c)) = self.mesh.ins.get_mut(from) else {
                    break;
                };
                let Ok(msg) = c.pop() else {
                    break;
                };
                n += 1;
                match msg {
                    XMsg::Rtp {
                        source,
                        layer,
                        buf,
                        len,
                        replay,
                    } => {
                        self.counters.xshard_in += 1;
                        let plain = buf.data.get(..usize::from(len)).unwrap_or(&[]);
                        self.forward_local(source, layer, plain, replay, None);
                    }
                    XMsg::Keyframe { source, layer } => {
                        let from = ShardId(from as u16);
                        self.keyframe_at_publisher(source, layer, from);
                    }
                    XMsg::Estimate { source, bitrate } => {
                        self.estimate_at_publisher(source, bitrate);
                    }
                    XMsg::Data {
                        source,
                        buf,
                        len,
                        replay,
                    } => {
                        self.counters.xshard_in += 1;
                        let msg = buf.data.get(..usize::from(len)).unwrap_or(&[]);
                        self.deliver_data(source, msg, replay);
                    }
                    XMsg::DataReplay { source } => {
                        self.data_replay_request(source, ShardId(from as u16));
                    }
                }
            }
        }
        n
    }
}

impl RecvSink for State {
    fn datagram(&mut self, sock: usize, remote: SocketAddr, buf: &mut [u8]) -> ControlFlow<()> {
        if sock < self.addrs.len() {
            self.handle_datagram(sock, remote, buf);
        } else {
            self.counters.rx_datagrams += 1;
            self.counters.rx_bytes += buf.len() as u64;
            self.on_input_datagram(sock, buf);
        }
        if self.tx.free() <= self.tx_reserve {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn truncated(&mut self) {
        self.counters.rx_datagrams += 1;
        self.counters.drop(DropReason::Truncated);
    }
}

impl<B: Backend> Shard<B> {
    pub(crate) fn new(io: B, st: State) -> Self {
        Self { io, st }
    }

    /// The loop; returns when told to stop (or when the control plane is gone).
    pub(crate) fn run(mut self) {
        loop {
            self.st.now = Instant::now();
            self.st.counters.iterations += 1;
            let received = self.io.recv(&mut self.st, RECV_BUDGET);
            let xs = self.st.drain_xshard();
            let commands = self.st.drain_commands();
            self.st.apply_io(&mut self.io);
            self.st.run_timers();
            self.drain_dirty();
            self.st.housekeeping();
            self.flush();
            self.st.mesh.wake_peers();
            self.st.events.flush(&mut self.st.counters);
            if self.st.stopping {
                break;
            }
            let busy = received >= RECV_BUDGET
                || xs >= XSHARD_BUDGET
                || commands >= self.st.settings.command_budget
                || self.st.mesh.has_input()
                || !self.st.commands.is_empty();
            if busy {
                self.st.counters.stalls += 1;
                continue;
            }
            let mut timeout = self
                .st
                .next_deadline()
                .saturating_duration_since(Instant::now());
            if self.st.io_pending() {
                // A bind waits for its port: try again soon.
                timeout = timeout.min(Duration::from_millis(5));
            }
            self.io.wait(Some(timeout));
        }
        self.shutdown();
    }

    fn drain_dirty(&mut self) {
        let mut i = 0;
        while i < self.st.dirty.len() {
            let slot = self.st.dirty[i];
            if self.st.tx.free() < 8 {
                self.flush();
            }
            if self.st.drain_session(slot) {
                i += 1;
            } else {
                self.flush();
            }
        }
        self.st.dirty.clear();
    }

    fn flush(&mut self) {
        let r = self.io.flush(&mut self.st.tx);
        let c = &mut self.st.counters;
        c.tx_datagrams += r.datagrams;
        c.tx_bytes += r.bytes;
        c.tx_sends += r.sends;
        c.tx_gso_sends += r.gso_sends;
        c.tx_gso_datagrams += r.gso_datagrams;
        c.drop_n(DropReason::SendFailed, r.failed);
    }

    fn shutdown(&mut self) {
        let slots: Vec<usize> = self.st.sessions.iter().map(|(k, _)| k).collect();
        for slot in slots {
            if let Some(s) = self.st.sessions.get_mut(slot) {
                s.peer.close();
            }
            if self.st.tx.free() < 8 {
                self.flush();
            }
            self.st.drain_session(slot);
            self.st.remove_session(slot);
        }
        self.flush();
        let id = self.st.id;
        self.st.emit_stats();
        self.st
            .events
            .emit(ShardEvent::Stopped { shard: id }, &mut self.st.counters);
        self.st.events.flush(&mut self.st.counters);
    }
}

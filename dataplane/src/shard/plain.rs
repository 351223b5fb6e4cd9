//! Plain-RTP endpoints on a shard: RTP inputs (Streaming mountpoints) whose packets become a
//! stream forwarded like a publisher's, data inputs whose datagrams become data-channel
//! messages (delivered by `super::data`), and RTP outputs (VideoRoom `rtp_forward`) that
//! copy a stream to a host:port.
//!
//! An input's sockets are bound and handed to the I/O backend between loop iterations
//! ([`State::apply_io`]): commands only queue [`IoOp`]s, because the backend is not theirs
//! to touch. Closing an input and reopening its ports in one batch works: removals run
//! first, and a bind that finds its port still held (io_uring lets go of a cancelled socket
//! a little later) is retried for [`REBIND_PATIENCE`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use portunus_rtp::codec::{VideoCodec, is_keyframe};
use portunus_rtp::{PacketKind, RtpPacketMut, classify};
use portunus_sctp::MessageKind;
use portunus_srtp::{SrtpContext, SrtpError};
use smallvec::{SmallVec, smallvec};

use super::State;
use crate::counters::{Counters, DropReason};
use crate::forward::{KnownKeyframe, Rewriter};
use crate::io::{Backend, MAX_DATAGRAM, Sockets, TxQueue, bind_udp};
use crate::msg::{
    DataInput, MediaKind, ReplyTo, RtpInput, RtpOutput, RtpOutputId, ShardError, ShardEvent,
    ShardId, SrtpKey, StreamKey,
};
use crate::xshard::{PacketBuf, XMsg};

/// How long a bind that finds its port in use is retried (the port of an input closed just
/// before may take a moment to be released).
pub(crate) const REBIND_PATIENCE: Duration = Duration::from_secs(1);
/// Most bytes of an input's kept keyframe and the packets after it, per substream.
const GOP_BYTES: usize = 512 * 1024;
/// Most packets of the same.
const GOP_PACKETS: usize = 512;
/// A sequence number this far ahead of (or any amount behind, past reordering) the last
/// one is a restarted source: the input's numbering re-bases instead of jumping.
const MAX_SEQ_JUMP: i16 = 3000;
const MAX_SEQ_BACK: i16 = -512;

/// Socket work for the backend, done between loop iterations.
#[derive(Debug)]
pub(crate) enum IoOp {
    /// Bind substream `layer` of input `input` (serial `serial`) at `addr`.
    Open {
        input: usize,
        serial: u64,
        layer: u8,
        addr: SocketAddr,
        until: Instant,
    },
    /// Stop receiving on backend socket `index` and close it.
    Remove(usize),
}

/// The packets of a substream since its latest keyframe, kept for new viewers.
#[derive(Debug, Default)]
struct Gop {
    data: Vec<u8>,
    packets: Vec<(u32, u16)>,
    /// A keyframe started it (and it is not overfull).
    valid: bool,
}

impl Gop {
    fn push(&mut self, pkt: &[u8], keyframe: bool) {
        if keyframe {
            // `clear` keeps the capacity: after the first GOPs nothing is allocated.
            self.data.clear();
            self.packets.clear();
            self.valid = true;
        }
        if !self.valid {
            return;
        }
        if self.packets.len() >= GOP_PACKETS || self.data.len() + pkt.len() > GOP_BYTES {
            // Too long to replay whole; what is kept still starts on the keyframe and the
            // viewer NACKs or waits for the rest.
            return;
        }
        self.packets
            .push((self.data.len() as u32, pkt.len() as u16));
        self.data.extend_from_slice(pkt);
    }

    fn packet(&self, i: usize) -> Option<&[u8]> {
        let &(at, len) = self.packets.get(i)?;
        let at = at as usize;
        self.data.get(at..at + usize::from(len))
    }
}

/// One port (substream) of an input.
#[derive(Debug)]
struct InputLayer {
    /// The backend socket index, once bound.
    sock: Option<usize>,
    addr: Option<SocketAddr>,
    /// Makes the sender's numbering the input's: continuous across source restarts.
    rewriter: Rewriter,
    /// The sender's SSRC and latest sequence number.
    last: Option<(u32, u16)>,
    last_seen: Option<Instant>,
    receiving: bool,
    packets: u64,
    bytes: u64,
    gop: Option<Box<Gop>>,
}

/// What a data input adds to an input: its datagrams are messages, not RTP.
#[derive(Debug)]
struct DataSource {
    kind: MessageKind,
    /// Janus's `buffermsg`: the latest message is kept in `last`.
    keep_last: bool,
    /// The latest message (capacity reserved at open: keeping it allocates nothing).
    last: Vec<u8>,
    has_last: bool,
}

/// An RTP (or data) input on the shard.
#[derive(Debug)]
pub(crate) struct Input {
    serial: u64,
    reply: ReplyTo,
    source: StreamKey,
    mid: String,
    codec: Option<VideoCodec>,
    srtp: Option<Box<SrtpContext>>,
    layers: SmallVec<[InputLayer; 1]>,
    /// Sockets still to bind before the input is reported open.
    unbound: usize,
    /// Set for a data input.
    data: Option<Box<DataSource>>,
}

/// An RTP output on the shard.
#[derive(Debug)]
pub(crate) struct Output {
    id: RtpOutputId,
    source: StreamKey,
    substream: u8,
    destination: SocketAddr,
    rewriter: Rewriter,
    payload_type: Option<u8>,
    /// The shard socket it sends from (the first of the destination's address family),
    /// found when it was added: the shard's sockets do not change while it runs. `None`:
    /// the shard has none of that family, and every packet is a counted `SendFailed`.
    sock: Option<usize>,
    srtp: Option<Box<SrtpContext>>,
    /// Where the output's one SSRC sits in its SRTP context (see
    /// [`SrtpContext::protect_rtp_hinted`]).
    srtp_hint: usize,
    packets: u64,
    bytes: u64,
}

fn srtp_context(key: &SrtpKey) -> Result<Box<SrtpContext>, ShardError> {
    let klen = key.profile.master_key_len();
    if key.key_and_salt.len() != klen + key.profile.master_salt_len() {
        return Err(ShardError::SrtpKey(format!(
            "{} bytes of key and salt, {:?} needs {}",
            key.key_and_salt.len(),
            key.profile,
            klen + key.profile.master_salt_len()
        )));
    }
    let (k, salt) = key.key_and_salt.split_at(klen);
    SrtpContext::new(key.profile, k, salt)
        .map(Box::new)
        .map_err(|e| ShardError::SrtpKey(e.to_string()))
}

impl Output {
    /// Copies one packet of substream `layer` of the source, when it is the one copied.
    pub(crate) fn send(
        &mut self,
        now: Instant,
        layer: u8,
        plain: &[u8],
        tx: &mut TxQueue,
        counters: &mut Counters,
    ) {
        if layer != self.substream {
            return;
        }
        let Some(sock) = self.sock else {
            counters.drop(DropReason::SendFailed);
            return;
        };
        let Some(slot) = tx.slot() else {
            counters.drop(DropReason::TxFull);
            return;
        };
        let n = plain.len();
        let overhead = self.srtp.as_ref().map_or(0, |s| s.rtp_overhead());
        let room = slot.len();
        let Some(dst) = slot.get_mut(..n).filter(|_| n + overhead <= room) else {
            counters.drop(DropReason::Truncated);
            return;
        };
        dst.copy_from_slice(plain);
        let Ok(mut pkt) = RtpPacketMut::parse(dst) else {
            counters.drop(DropReason::Malformed);
            return;
        };
        if !self.rewriter.rewrite(now, &mut pkt) {
            return;
        }
        if let Some(pt) = self.payload_type {
            let _ = pkt.set_payload_type(pt);
        }
        let len = match self.srtp.as_mut() {
            Some(srtp) => match srtp.protect_rtp_hinted(slot, n, &mut self.srtp_hint) {
                Ok(len) => len,
                Err(_) => {
                    counters.drop(DropReason::ProtectFailed);
                    return;
                }
            },
            None => n,
        };
        tx.push(sock, self.destination, len);
        counters.rtp_output_out += 1;
        self.packets += 1;
        self.bytes += len as u64;
    }
}

impl State {
    /// [`crate::ShardCommand::OpenRtpInput`]: records the input and queues its binds.
    pub(super) fn open_input(&mut self, c: RtpInput) {
        if let Some(&old) = self.input_by_key.get(&c.source) {
            self.close_input_slot(old);
        }
        let fail = |st: &mut Self, error| {
            let ev = ShardEvent::CommandFailed {
                reply: Some(c.reply),
                peer: c.source.publisher,
                error,
            };
            st.events.emit(ev, &mut st.counters);
        };
        if c.ports.is_empty() || c.ports.len() > crate::MAX_SUBSTREAMS {
            fail(self, ShardError::Socket("one to three ports".into()));
            return;
        }
        let srtp = match c.srtp.as_ref().map(srtp_context).transpose() {
            Ok(s) => s,
            Err(e) => {
                fail(self, e);
                return;
            }
        };
        let clock = match (c.clock_rate, c.kind) {
            (0, MediaKind::Audio) => 48_000,
            (0, MediaKind::Video) => 90_000,
            (r, _) => r,
        };
        self.input_serial += 1;
        let serial = self.input_serial;
        let layers = c
            .ports
            .iter()
            .map(|_| InputLayer {
                sock: None,
                addr: None,
                rewriter: Rewriter::new(c.source.ssrc, clock),
                last: None,
                last_seen: None,
                receiving: false,
                packets: 0,
                bytes: 0,
                gop: (c.buffer_keyframe && c.codec.is_some()).then(Box::default),
            })
            .collect();
        let slot = self.inputs.insert(Input {
            serial,
            reply: c.reply,
            source: c.source,
            mid: c.mid,
            codec: c.codec.filter(|_| c.kind == MediaKind::Video),
            srtp,
            layers,
            unbound: c.ports.len(),
            data: None,
        });
        self.input_by_key.insert(c.source, slot);
        let until = self.now + REBIND_PATIENCE;
        for (layer, port) in c.ports.iter().enumerate() {
            self.io_ops.push(IoOp::Open {
                input: slot,
                serial,
                layer: layer as u8,
                addr: SocketAddr::new(c.bind, *port),
                until,
            });
        }
    }

    /// [`crate::ShardCommand::OpenDataInput`]: an input of one socket whose datagrams are
    /// data-channel messages.
    pub(super) fn open_data_input(&mut self, c: DataInput) {
        if let Some(&old) = self.input_by_key.get(&c.source) {
            self.close_input_slot(old);
        }
        self.input_serial += 1;
        let serial = self.input_serial;
        let layer = InputLayer {
            sock: None,
            addr: None,
            // Unused: a data input has no RTP numbering.
            rewriter: Rewriter::new(c.source.ssrc, 90_000),
            last: None,
            last_seen: None,
            receiving: false,
            packets: 0,
            bytes: 0,
            gop: None,
        };
        let data = DataSource {
            kind: c.kind,
            keep_last: c.buffer_message,
            last: if c.buffer_message {
                Vec::with_capacity(MAX_DATAGRAM)
            } else {
                Vec::new()
            },
            has_last: false,
        };
        let slot = self.inputs.insert(Input {
            serial,
            reply: c.reply,
            source: c.source,
            mid: c.mid,
            codec: None,
            srtp: None,
            layers: smallvec![layer],
            unbound: 1,
            data: Some(Box::new(data)),
        });
        self.input_by_key.insert(c.source, slot);
        self.io_ops.push(IoOp::Open {
            input: slot,
            serial,
            layer: 0,
            addr: SocketAddr::new(c.bind, c.port),
            until: self.now + REBIND_PATIENCE,
        });
    }

    /// [`crate::ShardCommand::CloseRtpInput`].
    pub(super) fn close_input(&mut self, source: StreamKey) {
        if let Some(slot) = self.input_by_key.get(&source).copied() {
            self.close_input_slot(slot);
        }
    }

    fn close_input_slot(&mut self, slot: usize) {
        let Some(input) = self.inputs.try_remove(slot) else {
            return;
        };
        self.input_by_key.remove(&input.source);
        for (layer, l) in input.layers.iter().enumerate() {
            if let Some(sock) = l.sock {
                if let Some(e) = self.input_socks.get_mut(sock) {
                    *e = None;
                }
                self.io_ops.push(IoOp::Remove(sock));
            }
            if l.receiving {
                let ev = ShardEvent::Media {
                    peer: input.source.publisher,
                    ssrc: l.last.map_or(input.source.ssrc, |(s, _)| s),
                    mid: Some(input.mid.clone()),
                    receiving: false,
                    substream: (input.layers.len() > 1).then_some(layer as u8),
                };
                self.events.emit(ev, &mut self.counters);
            }
        }
    }

    /// Does the socket work commands queued: removals, then binds (retrying a port still
    /// held until its deadline).
    pub(super) fn apply_io<B: Backend>(&mut self, io: &mut B) {
        if self.io_ops.is_empty() {
            return;
        }
        let mut ops = std::mem::take(&mut self.io_ops);
        ops.sort_by_key(|op| !matches!(op, IoOp::Remove(_)));
        for op in ops.drain(..) {
            match op {
                IoOp::Remove(sock) => io.remove_socket(sock),
                IoOp::Open {
                    input,
                    serial,
                    layer,
                    addr,
                    until,
                } => {
                    if self.inputs.get(input).is_none_or(|i| i.serial != serial) {
                        continue; // closed meanwhile
                    }
                    match bind_udp(addr).and_then(|(s, local)| Ok((io.add_socket(s)?, local))) {
                        Ok((sock, local)) => self.attach(input, layer, sock, local),
                        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && self.now < until => {
                            self.io_ops.push(IoOp::Open {
                                input,
                                serial,
                                layer,
                                addr,
                                until,
                            });
                        }
                        Err(e) => self.input_failed(input, &format!("{addr}: {e}")),
                    }
                }
            }
        }
        // Keep the vector's capacity for the next batch.
        if self.io_ops.is_empty() {
            self.io_ops = ops;
        }
    }

    /// Whether binds are waiting for a port to be released (the loop must not sleep long).
    pub(super) fn io_pending(&self) -> bool {
        !self.io_ops.is_empty()
    }

    fn attach(&mut self, input: usize, layer: u8, sock: usize, local: SocketAddr) {
        if self.input_socks.len() <= sock {
            self.input_socks.resize(sock + 1, None);
        }
        self.input_socks[sock] = Some((input, layer));
        let Some(i) = self.inputs.get_mut(input) else {
            return;
        };
        if let Some(l) = i.layers.get_mut(usize::from(layer)) {
            l.sock = Some(sock);
            l.addr = Some(local);
        }
        i.unbound = i.unbound.saturating_sub(1);
        if i.unbound == 0 {
            let ev = ShardEvent::RtpInputOpened {
                reply: i.reply,
                source: i.source,
                shard: self.id,
                local_addrs: i.layers.iter().filter_map(|l| l.addr).collect(),
            };
            self.events.emit(ev, &mut self.counters);
        }
    }

    fn input_failed(&mut self, input: usize, why: &str) {
        let Some(i) = self.inputs.get(input) else {
            return;
        };
        let ev = ShardEvent::CommandFailed {
            reply: Some(i.reply),
            peer: i.source.publisher,
            error: ShardError::Socket(why.to_owned()),
        };
        self.events.emit(ev, &mut self.counters);
        self.close_input_slot(input);
    }

    /// A datagram on an input socket (backend index `sock`).
    pub(super) fn on_input_datagram(&mut self, sock: usize, buf: &mut [u8]) {
        let Some(&Some((slot, layer))) = self.input_socks.get(sock) else {
            self.counters.drop(DropReason::NoRoute);
            return;
        };
        if self.inputs.get(slot).is_some_and(|i| i.data.is_some()) {
            self.on_data_datagram(slot, buf);
            return;
        }
        self.counters.rtp_input_in += 1;
        if classify(buf) != PacketKind::Rtp {
            // RTCP from the source (or anything else) is not used.
            self.counters.drop(DropReason::UnknownPacket);
            return;
        }
        let now = self.now;
        let Some(input) = self.inputs.get_mut(slot) else {
            return;
        };
        let n = match input.srtp.as_mut() {
            Some(srtp) => match srtp.unprotect_rtp(buf) {
                Ok(n) => n,
                Err(e) => {
                    self.counters.drop(match e {
                        SrtpError::AuthenticationFailed => DropReason::SrtpAuth,
                        SrtpError::Replay | SrtpError::TooOld => DropReason::Replay,
                        _ => DropReason::SrtpOther,
                    });
                    return;
                }
            },
            None => buf.len(),
        };
        let Some(pkt) = buf.get_mut(..n) else {
            return;
        };
        let Ok(mut rtp) = RtpPacketMut::parse(pkt) else {
            self.counters.drop(DropReason::Malformed);
            return;
        };
        let (ssrc, seq) = {
            let v = rtp.as_packet();
            (v.ssrc().0, v.sequence_number())
        };
        let source = input.source;
        let codec = input.codec;
        let layers = input.layers.len();
        let Some(l) = input.layers.get_mut(usize::from(layer)) else {
            return;
        };
        let restarted = l.last.is_some_and(|(s, last)| {
            let d = seq.wrapping_sub(last) as i16;
            s != ssrc || !(MAX_SEQ_BACK..=MAX_SEQ_JUMP).contains(&d)
        });
        if restarted {
            l.rewriter.switch_source();
        }
        if !l.rewriter.rewrite(now, &mut rtp) {
            return; // reordered from before a restart
        }
        l.last = Some((ssrc, seq));
        l.last_seen = Some(now);
        l.packets += 1;
        l.bytes += n as u64;
        let started = !l.receiving;
        l.receiving = true;
        // Looked at once: the GOP keeps it here, the fan-out's selection takes the answer.
        let mut known = None;
        if let Some(gop) = l.gop.as_mut() {
            let key = codec.map(|codec| KnownKeyframe {
                codec,
                keyframe: is_keyframe(codec, rtp.as_packet().payload()),
            });
            gop.push(rtp.as_bytes(), key.is_some_and(|k| k.keyframe));
            known = key;
        }
        let mid = started.then(|| input.mid.clone());
        if let Some(mid) = mid {
            let ev = ShardEvent::Media {
                peer: source.publisher,
                ssrc,
                mid: Some(mid),
                receiving: true,
                substream: (layers > 1).then_some(layer),
            };
            self.events.emit(ev, &mut self.counters);
        }
        let Some(pkt) = buf.get(..n) else {
            return;
        };
        self.fan_out(source, layer, pkt, known);
    }

    /// A datagram on a data input's socket: one message for its viewers.
    fn on_data_datagram(&mut self, slot: usize, msg: &[u8]) {
        self.counters.data_input_in += 1;
        let now = self.now;
        let Some(input) = self.inputs.get_mut(slot) else {
            return;
        };
        let Some(data) = input.data.as_mut() else {
            return;
        };
        if data.kind == MessageKind::String && std::str::from_utf8(msg).is_err() {
            // A text channel carries UTF-8 only: a browser would fail on it.
            self.counters.drop(DropReason::Malformed);
            return;
        }
        if data.keep_last {
            data.last.clear();
            data.last.extend_from_slice(msg);
            data.has_last = true;
        }
        let source = input.source;
        let Some(l) = input.layers.first_mut() else {
            return;
        };
        l.last_seen = Some(now);
        l.packets += 1;
        l.bytes += msg.len() as u64;
        let started = !l.receiving;
        l.receiving = true;
        if started {
            let ev = ShardEvent::Media {
                peer: source.publisher,
                ssrc: source.ssrc,
                mid: Some(input.mid.clone()),
                receiving: true,
                substream: None,
            };
            self.events.emit(ev, &mut self.counters);
        }
        self.fan_out_data(source, msg);
    }

    /// The kept latest message of data input `source`, copied into a shared buffer (for a
    /// viewer that starts); `None` when there is none (or no buffer is free, counted).
    pub(super) fn share_data_last(&mut self, source: StreamKey) -> Option<(Arc<PacketBuf>, u16)> {
        let slot = *self.input_by_key.get(&source)?;
        let data = self.inputs.get(slot)?.data.as_ref()?;
        if !data.has_last {
            return None;
        }
        let Some(buf) = self.pool.share(&data.last) else {
            self.counters.drop(DropReason::PoolExhausted);
            return None;
        };
        Some((buf, data.last.len() as u16))
    }

    /// Sends the kept keyframe of substream `layer` of input `source` (and what followed
    /// it) to shard `to`, for its subscriptions that are starting.
    pub(super) fn replay_keyframe(&mut self, source: StreamKey, layer: u8, to: ShardId) {
        let Some(&slot) = self.input_by_key.get(&source) else {
            return;
        };
        let Some(gop) = self
            .inputs
            .get_mut(slot)
            .and_then(|i| i.layers.get_mut(usize::from(layer)))
            .and_then(|l| l.gop.take())
        else {
            return;
        };
        if gop.valid {
            for i in 0..gop.packets.len() {
                let Some(pkt) = gop.packet(i) else {
                    break;
                };
                self.counters.replayed += 1;
                if to == self.id {
                    self.forward_local(source, layer, pkt, true, None);
                    continue;
                }
                let Some(buf) = self.pool.share(pkt) else {
                    self.counters.drop(DropReason::PoolExhausted);
                    break;
                };
                let msg = XMsg::Rtp {
                    source,
                    layer,
                    buf,
                    len: pkt.len() as u16,
                    replay: true,
                };
                match self.mesh.push(to.index(), msg) {
                    Ok(()) => self.counters.xshard_out += 1,
                    Err(_) => {
                        self.counters.drop(DropReason::QueueFull);
                        break;
                    }
                }
            }
        }
        if let Some(l) = self
            .inputs
            .get_mut(slot)
            .and_then(|i| i.layers.get_mut(usize::from(layer)))
        {
            l.gop = Some(gop);
        }
    }

    /// Reports inputs whose substreams went silent.
    pub(super) fn input_timeouts(&mut self) {
        let timeout = self.settings.media_timeout;
        let now = self.now;
        for (_, i) in &mut self.inputs {
            let n = i.layers.len();
            for (layer, l) in i.layers.iter_mut().enumerate() {
                if l.receiving && l.last_seen.is_some_and(|t| now.duration_since(t) > timeout) {
                    l.receiving = false;
                    let ev = ShardEvent::Media {
                        peer: i.source.publisher,
                        ssrc: l.last.map_or(i.source.ssrc, |(s, _)| s),
                        mid: Some(i.mid.clone()),
                        receiving: false,
                        substream: (n > 1).then_some(layer as u8),
                    };
                    self.events.emit(ev, &mut self.counters);
                }
            }
        }
    }

    /// [`crate::ShardCommand::AddRtpOutput`].
    pub(super) fn add_output(&mut self, o: RtpOutput) {
        if let Some(&old) = self.output_by_id.get(&o.id) {
            self.remove_output_slot(old, false);
        }
        let srtp = match o.srtp.as_ref().map(srtp_context).transpose() {
            Ok(s) => s,
            Err(error) => {
                let ev = ShardEvent::CommandFailed {
                    reply: None,
                    peer: o.source.publisher,
                    error,
                };
                self.events.emit(ev, &mut self.counters);
                return;
            }
        };
        let idx = self.outputs.insert(Output {
            id: o.id,
            source: o.source,
            substream: o.substream,
            destination: o.destination,
            rewriter: Rewriter::new(o.ssrc, o.clock_rate),
            payload_type: o.payload_type,
            sock: Sockets::index_for(&self.addrs, &o.destination),
            srtp,
            srtp_hint: 0,
            packets: 0,
            bytes: 0,
        });
        self.output_by_id.insert(o.id, idx);
        self.fwd.add_output(o.source, idx);
    }

    /// [`crate::ShardCommand::RemoveRtpOutput`].
    pub(super) fn remove_output(&mut self, id: RtpOutputId) {
        if let Some(&idx) = self.output_by_id.get(&id) {
            self.remove_output_slot(idx, true);
        }
    }

    fn remove_output_slot(&mut self, idx: usize, report: bool) {
        let Some(o) = self.outputs.try_remove(idx) else {
            return;
        };
        self.output_by_id.remove(&o.id);
        self.fwd.remove_output(o.source, idx);
        if report {
            let ev = ShardEvent::RtpOutputStopped {
                id: o.id,
                packets: o.packets,
                bytes: o.bytes,
            };
            self.events.emit(ev, &mut self.counters);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, key: bool) -> Vec<u8> {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&[0x10, if key { 0x10 } else { 0x11 }, 0, 0x9d, 1, 0x2a]);
        p
    }

    #[test]
    fn the_kept_keyframe_restarts_at_each_keyframe_and_keeps_what_follows() {
        let mut g = Gop::default();
        g.push(&packet(1, false), false);
        assert!(!g.valid, "nothing before the first keyframe");
        g.push(&packet(2, true), true);
        g.push(&packet(3, false), false);
        assert_eq!(g.packets.len(), 2);
        assert!(portunus_rtp::RtpPacket::parse(g.packet(1).expect("kept")).is_ok());
        g.push(&packet(4, true), true);
        assert_eq!(g.packets.len(), 1, "a new keyframe starts over");
        assert_eq!(g.packet(0).expect("kept")[3], 4);
    }

    #[test]
    fn a_full_buffer_stops_growing_but_keeps_its_keyframe() {
        let mut g = Gop::default();
        g.push(&packet(0, true), true);
        for s in 1..2 * GOP_PACKETS as u16 {
            g.push(&packet(s, false), false);
        }
        assert_eq!(g.packets.len(), GOP_PACKETS);
        assert_eq!(g.packet(0).expect("kept")[3], 0);
    }

    #[test]
    fn srtp_keys_of_the_wrong_length_are_refused() {
        let key = SrtpKey {
            profile: portunus_srtp::SrtpProfile::Aes128CmHmacSha1_80,
            key_and_salt: vec![1; 29],
        };
        assert!(matches!(srtp_context(&key), Err(ShardError::SrtpKey(_))));
        let key = SrtpKey {
            key_and_salt: vec![1; 30],
            ..key
        };
        assert!(srtp_context(&key).is_ok());
    }
}

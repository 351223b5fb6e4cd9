//! The per-packet path: route a datagram to its session, and for decrypted RTP fan out to
//! local subscribers and other shards; RTCP feedback from subscribers goes to publishers.
//! No allocation, lock or log here.

use std::net::SocketAddr;
use std::time::Instant;

use portunus_peer::{PeerError, Received};
use portunus_rtp::ext::typed::{AudioLevel, Mid, Rid, TransportCc};
use portunus_rtp::rtcp::{RtcpCompound, RtcpPacket, write_pli};
use portunus_rtp::{PacketKind, RtpPacket, RtpPacketMut, Ssrc, classify, recover_rtx, write_rtx};
use portunus_srtp::{SrtpContext, SrtpError};
use smallvec::SmallVec;

use super::{Inbound, MAX_INBOUND, Session, State, early};
use crate::counters::{Counters, DropReason};
use crate::forward::{KnownKeyframe, Sub, Verdict, Vp8Ids};
use crate::io::MAX_DATAGRAM;
use crate::io::{Sockets, TxQueue};
use crate::msg::{MediaKind, ShardEvent, ShardId, StreamKey};
use crate::xshard::XMsg;

/// Starts tracking an SSRC the SDP did not name (allocates once per stream): a layer of a
/// rid-based simulcast stream when its rid extension says so (or that layer's RTX stream,
/// by the repaired-rid extension), a stream of its own otherwise. Returns its index.
fn learn_inbound(s: &mut Session, view: &RtpPacket<'_>) -> Option<usize> {
    if s.inbound.len() >= MAX_INBOUND {
        return None;
    }
    let ssrc = view.ssrc().0;
    let string_ext = |id: Option<u8>| id.and_then(|id| view.extension(id));
    for st in &s.rid_streams {
        let other_mid = string_ext(st.mid_ext)
            .and_then(|d| Mid::parse(d).ok())
            .is_some_and(|m| m.as_str() != st.mid);
        if other_mid {
            continue;
        }
        let layer_of = |d: &[u8]| {
            let rid = Rid::parse(d).ok()?;
            st.rids
                .iter()
                .position(|r| r.as_deref() == Some(rid.as_str()))
        };
        if let Some(layer) = string_ext(st.rid_ext).and_then(layer_of) {
            let mut i = Inbound::new(ssrc, Some(st.mid.clone()), MediaKind::Video);
            i.key = st.key;
            i.layer = Some(layer as u8);
            s.inbound.push(i);
            return Some(s.inbound.len() - 1);
        }
        if let Some(layer) = string_ext(st.repaired_rid_ext).and_then(layer_of) {
            let key = st.key;
            let media = s
                .inbound
                .iter()
                .position(|i| i.key == key && i.layer == Some(layer as u8))?;
            s.inbound[media].rtx_ssrc = Some(ssrc);
            return Some(media);
        }
    }
    // Unannounced: most likely video (audio is rarely left out of the SDP).
    s.inbound.push(Inbound::new(ssrc, None, MediaKind::Video));
    Some(s.inbound.len() - 1)
}

/// The RFC 6464 level (-dBov, 0 loudest … 127 silence; the V bit is not needed) a packet
/// carries under extension id `ext`. A packet without the element, or with one of the wrong
/// length, has no level: it is forwarded all the same, just not measured.
fn audio_level(view: &RtpPacket<'_>, ext: Option<u8>) -> Option<u8> {
    let data = view.extension(ext?)?;
    AudioLevel::parse(data).ok().map(|l| l.level)
}

/// The drop counter for a datagram a session refused.
fn drop_reason(e: &PeerError) -> DropReason {
    match e {
        PeerError::UnknownPacket => DropReason::UnknownPacket,
        PeerError::NotConnected => DropReason::NotConnected,
        PeerError::Closed => DropReason::PeerClosed,
        PeerError::Ice(_) => DropReason::StunRejected,
        PeerError::Dtls(_) => DropReason::DtlsRejected,
        PeerError::Srtp(SrtpError::AuthenticationFailed) => DropReason::SrtpAuth,
        PeerError::Srtp(SrtpError::Replay | SrtpError::TooOld) => DropReason::Replay,
        _ => DropReason::SrtpOther,
    }
}

impl State {
    /// One received datagram.
    pub(super) fn handle_datagram(&mut self, sock: usize, remote: SocketAddr, buf: &mut [u8]) {
        self.counters.rx_datagrams += 1;
        self.counters.rx_bytes += buf.len() as u64;
        self.route_datagram(sock, remote, buf);
    }

    /// A datagram (counted on arrival) to its session; a check for a session not created
    /// yet is held for it ([`super::early`]).
    pub(super) fn route_datagram(&mut self, sock: usize, remote: SocketAddr, buf: &mut [u8]) {
        let Some(slot) = self.router.route(sock, remote, buf) else {
            let reason = match classify(buf) {
                PacketKind::Unknown => DropReason::UnknownPacket,
                // A Binding request with a USERNAME: an ICE check.
                PacketKind::Stun if portunus_stun::username_local_part(buf).is_some() => {
                    match self.early.hold(self.now, sock, remote, buf) {
                        early::Kept::Held => {
                            self.counters.early_checks += 1;
                            return;
                        }
                        early::Kept::Evicted => self.counters.early_checks += 1,
                        early::Kept::Refused => {}
                    }
                    DropReason::NoRoute
                }
                _ => DropReason::NoRoute,
            };
            self.counters.drop(reason);
            return;
        };
        let Some(local) = self.addrs.get(sock).copied() else {
            return;
        };
        let now = self.now;
        let Some(s) = self.sessions.get_mut(slot) else {
            return;
        };
        let is_stun = buf.first().is_some_and(|&b| b <= 3);
        match s.peer.handle_datagram(now, local, remote, buf) {
            Ok(Received::Consumed) => {
                if is_stun {
                    // An authenticated check: its address may carry DTLS and media next.
                    self.learn(slot, sock, remote);
                }
                self.mark_dirty(slot);
            }
            Ok(Received::Rtp(n)) => {
                if let Some(pkt) = buf.get(..n) {
                    self.on_rtp(slot, pkt);
                }
            }
            Ok(Received::Rtcp(n)) => {
                self.counters.rtcp_in += 1;
                if let Some(pkt) = buf.get(..n) {
                    self.on_rtcp(slot, pkt);
                }
            }
            Err(e) => {
                self.counters.drop(drop_reason(&e));
                if is_stun || matches!(e, PeerError::Dtls(_)) {
                    // A rejected check may have queued an error response; DTLS may alert.
                    self.mark_dirty(slot);
                }
            }
        }
    }

    /// Routes the checks held for the session in `slot`, just created, to it.
    pub(super) fn answer_early_checks(&mut self, slot: usize) {
        let Some(ufrag) = self.sessions.get(slot).map(|s| s.ufrag.clone()) else {
            return;
        };
        // Bounded: each round takes one check out of a store of fixed size.
        for _ in 0..early::CAPACITY {
            let Some(mut held) = self.early.take_for(&ufrag) else {
                break;
            };
            self.counters.early_checks_answered += 1;
            let len = held.len;
            self.route_datagram(held.sock, held.remote, &mut held.buf[..len]);
        }
    }

    /// A decrypted RTP packet from the session in `slot`.
    fn on_rtp(&mut self, slot: usize, pkt: &[u8]) {
        self.counters.rtp_in += 1;
        self.on_session_rtp(slot, pkt, false);
    }

    /// An RTP packet of the session in `slot`: as it arrived, or (`recovered`) unwrapped
    /// from an RTX retransmission. A recovered packet was counted and its transport-wide
    /// sequence number recorded when the RTX packet arrived, and it is never unwrapped
    /// again (an SDP naming one SSRC as its own RTX cannot make this recurse).
    fn on_session_rtp(&mut self, slot: usize, pkt: &[u8], recovered: bool) {
        let Ok(view) = RtpPacket::parse(pkt) else {
            self.counters.drop(DropReason::Malformed);
            return;
        };
        let ssrc = view.ssrc().0;
        let now = self.now;
        let Some(s) = self.sessions.get_mut(slot) else {
            return;
        };
        let publisher = s.id;
        if !recovered
            && let (Some(id), Some(rec)) = (s.rtcp.twcc_ext, s.twcc.as_mut())
            && let Some(seq) = view.extension(id).and_then(|d| TransportCc::parse(d).ok())
        {
            let ticks = self.ntp.rtp_units(now, super::twcc::TICK_HZ);
            rec.on_packet(seq.0, ticks.max(0) as u64);
        }
        let pos = match s
            .inbound
            .iter()
            .position(|i| i.ssrc == ssrc || i.rtx_ssrc == Some(ssrc))
        {
            Some(p) => Some(p),
            None => learn_inbound(s, &view),
        };
        let (mut key, mut layer) = (ssrc, 0);
        let mut gap = None;
        if let Some(i) = pos.and_then(|p| s.inbound.get_mut(p)) {
            if i.rtx_ssrc == Some(ssrc) && !recovered {
                // A retransmission we asked for: unwrap it (RFC 4588) and take it as the
                // original; without a known RTX payload type it is dropped.
                let pt = view.payload_type();
                let Some(&(_, apt)) = s.rtcp.rtx_payload_types.iter().find(|(r, _)| *r == pt)
                else {
                    self.counters.drop(DropReason::RtxUnusable);
                    return;
                };
                // The recovered packet is the RTX packet's header (which parsed) and its
                // payload after the 2-byte original sequence number: it has a payload
                // exactly when that is longer than 2 bytes, and it is parsed once, below.
                // Without one it is a padding probe (bandwidth estimation), not a loss.
                if view.payload().len() <= 2 {
                    self.counters.rtx_padding += 1;
                    return;
                }
                let media = i.ssrc;
                let mut buf = [0u8; MAX_DATAGRAM];
                match recover_rtx(&view, apt, Ssrc(media), &mut buf) {
                    Ok(n) => {
                        i.recovered += 1;
                        self.counters.rtx_recovered += 1;
                        self.on_session_rtp(slot, &buf[..n], true);
                    }
                    Err(_) => self.counters.drop(DropReason::RtxUnusable),
                }
                return;
            }
            key = i.key;
            layer = i.layer.unwrap_or(0);
            i.last_seen = Some(now);
            i.packets += 1;
            if !i.video
                && let Some(level) = audio_level(&view, s.rtcp.audio_level_ext)
            {
                i.level_packets = i.level_packets.saturating_add(1);
                i.level_sum = i.level_sum.saturating_add(u32::from(level));
            }
            let arrival = self.ntp.rtp_units(now, i.clock);
            gap =
                i.rx.on_packet(view.sequence_number(), view.timestamp(), pkt.len(), arrival)
                    .filter(|_| i.video && s.rtcp.nack);
            if !i.receiving {
                i.receiving = true;
                let ev = ShardEvent::Media {
                    peer: publisher,
                    ssrc,
                    mid: i.mid.clone(),
                    receiving: true,
                    substream: i.layer,
                };
                self.events.emit(ev, &mut self.counters);
            }
        }
        if let (Some((first, last)), Some(p)) = (gap, pos) {
            Self::send_nack(
                s,
                p,
                &mut self.tx,
                &self.addrs,
                &mut self.counters,
                first,
                last,
            );
        }
        let source = StreamKey {
            publisher,
            ssrc: key,
        };
        self.fan_out(source, layer, pkt, None);
    }

    /// Sends a decrypted packet of `source` (substream `layer`) to the other shards that
    /// subscribe to it and to the local subscribers; `known`: the caller's keyframe check
    /// of it, if it made one.
    pub(super) fn fan_out(
        &mut self,
        source: StreamKey,
        layer: u8,
        pkt: &[u8],
        known: Option<KnownKeyframe>,
    ) {
        let Some(route) = self.fwd.routes.get(&source) else {
            self.counters.rtp_unrouted += 1;
            return;
        };
        if !route.shards.is_empty() {
            match self.pool.share(pkt) {
                Some(buf) => {
                    for &(shard, _) in &route.shards {
                        let msg = XMsg::Rtp {
                            source,
                            layer,
                            buf: buf.clone(),
                            len: pkt.len() as u16,
                            replay: false,
                        };
                        match self.mesh.push(shard.index(), msg) {
                            Ok(()) => self.counters.xshard_out += 1,
                            Err(_) => self.counters.drop(DropReason::QueueFull),
                        }
                    }
                }
                None => self
                    .counters
                    .drop_n(DropReason::PoolExhausted, route.shards.len() as u64),
            }
            self.mesh.wake_early();
        }
        self.forward_local(source, layer, pkt, false, known);
    }

    /// Sends a decrypted packet of substream `layer` of `source` to every local subscriber
    /// that selects it, and to the RTP outputs copying it. A `replay`ed packet (an RTP
    /// input's kept keyframe) goes only to subscriptions that are starting. `known`: the
    /// caller's keyframe check of the packet, if it made one.
    pub(super) fn forward_local(
        &mut self,
        source: StreamKey,
        layer: u8,
        plain: &[u8],
        replay: bool,
        known: Option<KnownKeyframe>,
    ) {
        let Some(route) = self.fwd.routes.get_mut(&source) else {
            return;
        };
        if !replay {
            for &o in &route.outputs {
                if let Some(out) = self.outputs.get_mut(o) {
                    out.send(self.now, layer, plain, &mut self.tx, &mut self.counters);
                }
            }
        }
        if route.local.is_empty() {
            return;
        }
        let info = if replay {
            // Not kept in the history again, nor counted as an arrival.
            RtpPacket::parse(plain)
                .ok()
                .map(|v| crate::forward::PacketInfo::inspect(route.codec, layer, &v, known))
        } else {
            route.inspect_known(self.now, layer, plain, known)
        };
        let Some(info) = info else {
            self.counters.drop(DropReason::Malformed);
            return;
        };
        let mut requests: SmallVec<[(u8, ShardId); 2]> = SmallVec::new();
        for &idx in &route.local {
            let Some(sub) = self.fwd.subs.get_mut(idx) else {
                continue;
            };
            if sub.paused {
                self.counters.paused_skipped += 1;
                continue;
            }
            let d = sub.select(self.now, &info, &route.seen, replay);
            if let Some(l) = d.keyframe_for {
                requests.push((l, sub.source_shard));
            }
            if let Some((substream, temporal)) = d.changed
                && let Some(s) = self.sessions.get(sub.slot)
            {
                self.counters.layer_changes += 1;
                let ev = ShardEvent::LayerChanged {
                    subscriber: s.id,
                    ssrc: sub.rewriter.ssrc(),
                    substream,
                    temporal,
                };
                self.events.emit(ev, &mut self.counters);
            }
            match d.verdict {
                Verdict::Forward => forward_one(
                    self.now,
                    sub,
                    &mut self.sessions,
                    &mut self.tx,
                    &self.addrs,
                    &mut self.counters,
                    plain,
                    info.vp8,
                ),
                Verdict::Skip => {
                    sub.rewriter.skip(info.seq);
                    self.counters.temporal_skipped += 1;
                }
                Verdict::Drop => {}
            }
        }
        for (layer, shard) in requests {
            self.request_keyframe(source, shard, layer);
        }
    }

    /// Asks the publisher of `source` (on `shard`) for a keyframe of substream `layer`.
    pub(crate) fn request_keyframe(&mut self, source: StreamKey, shard: ShardId, layer: u8) {
        if shard == self.id {
            self.keyframe_at_publisher(source, layer, self.id);
        } else if self
            .mesh
            .push(shard.index(), XMsg::Keyframe { source, layer })
            .is_err()
        {
            self.counters.drop(DropReason::QueueFull);
        }
    }

    /// Decrypted RTCP from the session in `slot`: keyframe requests from a subscriber go to
    /// the publisher of the stream they name.
    fn on_rtcp(&mut self, slot: usize, pkt: &[u8]) {
        for p in RtcpCompound::new(pkt) {
            let media = match p {
                Ok(RtcpPacket::Pli(pli)) => pli.media_ssrc().0,
                Ok(RtcpPacket::Fir(fir)) => match fir.entries().next() {
                    Some(e) => e.ssrc.0,
                    None => continue,
                },
                Ok(RtcpPacket::Nack(nack)) => {
                    self.counters.nack_in += 1;
                    self.answer_nack(slot, nack.media_ssrc().0, nack.lost());
                    continue;
                }
                Ok(RtcpPacket::Sr(sr)) => {
                    self.on_sender_report(slot, sr.ssrc().0, sr.sender_info().ntp_time);
                    for b in sr.report_blocks() {
                        self.on_report_block(slot, &b);
                    }
                    continue;
                }
                Ok(RtcpPacket::Rr(rr)) => {
                    for b in rr.report_blocks() {
                        self.on_report_block(slot, &b);
                    }
                    continue;
                }
                Ok(RtcpPacket::Remb(remb)) => {
                    let mut ssrcs = [0u32; 16];
                    let mut n = 0;
                    for (d, s) in ssrcs.iter_mut().zip(remb.ssrcs()) {
                        *d = s.0;
                        n += 1;
                    }
                    self.on_remb(slot, remb.bitrate(), &ssrcs[..n]);
                    continue;
                }
                Ok(_) => continue,
                Err(_) => {
                    self.counters.drop(DropReason::Malformed);
                    break;
                }
            };
            let Some(s) = self.sessions.get(slot) else {
                return;
            };
            let target = s.subs.iter().find_map(|&i| {
                let sub = self.fwd.subs.get_mut(i)?;
                if sub.rewriter.ssrc() != media {
                    return None;
                }
                sub.plis += 1;
                Some((sub.source, sub.source_shard, sub.layer()))
            });
            if let Some((source, shard, layer)) = target {
                self.request_keyframe(source, shard, layer);
            }
        }
    }

    /// Retransmits what a subscriber's NACK names from the stream's history (as RTX when
    /// the subscriber negotiated it).
    fn answer_nack(&mut self, slot: usize, media: u32, lost: impl Iterator<Item = u16>) {
        let Some(s) = self.sessions.get(slot) else {
            return;
        };
        let Some(idx) = s.subs.iter().copied().find(|&i| {
            self.fwd
                .subs
                .get(i)
                .is_some_and(|x| x.rewriter.ssrc() == media)
        }) else {
            return;
        };
        let Some(sub) = self.fwd.subs.get_mut(idx) else {
            return;
        };
        sub.nacks += 1;
        let layer = sub.layer();
        let Some(history) = self
            .fwd
            .routes
            .get(&sub.source)
            .and_then(|r| r.history(layer))
        else {
            return;
        };
        // A NACK names at most 17 packets per pair; bound the work a hostile one can cause.
        let mut nacked = 0;
        for out_seq in lost.take(MAX_NACKED) {
            nacked += 1;
            let Some(plain) = history.get(sub.rewriter.source_seq(out_seq)) else {
                self.counters.nack_missed += 1;
                continue;
            };
            let plain_len = plain.len();
            let Some(scratch) = self.scratch.get_mut(..plain_len) else {
                continue;
            };
            scratch.copy_from_slice(plain);
            retransmit(
                self.now,
                sub,
                &mut self.sessions,
                &mut self.tx,
                &self.addrs,
                &mut self.counters,
                scratch,
            );
        }
        if let Some(s) = self.sessions.get_mut(slot) {
            s.nacked_in_interval += nacked;
        }
    }

    /// Sends a PLI for substream `layer` to the publisher of `source` (on this shard), at
    /// most one per stream per `keyframe_min_interval`. For an RTP input, which takes no
    /// PLI, its kept keyframe is replayed to shard `from` instead.
    pub(crate) fn keyframe_at_publisher(&mut self, source: StreamKey, layer: u8, from: ShardId) {
        if source.publisher.is_input() {
            self.replay_keyframe(source, layer, from);
            return;
        }
        let Some(slot) = self.by_id.get(&source.publisher).copied() else {
            return;
        };
        let now = self.now;
        let min = self.settings.keyframe_min_interval;
        let Some(s) = self.sessions.get_mut(slot) else {
            return;
        };
        let mut media = source.ssrc;
        if let Some(i) = s
            .inbound
            .iter_mut()
            .find(|i| i.key == source.ssrc && i.layer.unwrap_or(0) == layer)
        {
            if i.last_pli.is_some_and(|t| now.duration_since(t) < min) {
                self.counters.pli_suppressed += 1;
                return;
            }
            i.last_pli = Some(now);
            i.plis_sent += 1;
            media = i.ssrc;
        } else if layer != 0 {
            // A substream whose SSRC is not known yet: nothing to ask.
            return;
        }
        let Some(path) = s.peer.path() else {
            return;
        };
        let Some(sock) = Sockets::index_for(&self.addrs, &path.remote) else {
            return;
        };
        let Some(buf) = self.tx.slot() else {
            self.counters.drop(DropReason::TxFull);
            return;
        };
        let Ok(n) = write_pli(buf, Ssrc(s.rtcp_ssrc), Ssrc(media)) else {
            return;
        };
        match s.peer.protect_rtcp(buf, n) {
            Ok(len) => {
                self.tx.push(sock, path.remote, len);
                self.counters.pli_sent += 1;
            }
            Err(_) => self.counters.drop(DropReason::ProtectFailed),
        }
    }
}

/// Most packets one NACK packet makes us resend.
const MAX_NACKED: usize = 64;

/// Resends one packet of the history to a subscriber: rewritten like the original (same
/// subscriber sequence number), then wrapped as RTX when negotiated (RFC 4588), protected
/// and queued. `plain` is a scratch copy that is rewritten in place.
fn retransmit(
    now: Instant,
    sub: &mut Sub,
    sessions: &mut slab::Slab<Session>,
    tx: &mut TxQueue,
    addrs: &[SocketAddr],
    counters: &mut Counters,
    plain: &mut [u8],
) {
    let Some(s) = sessions.get_mut(sub.slot) else {
        return;
    };
    let (Some(path), Some(srtp)) = (s.peer.path(), s.peer.srtp_tx()) else {
        return;
    };
    let Some(sock) = Sockets::index_for(addrs, &path.remote) else {
        return;
    };
    let Ok(mut pkt) = RtpPacketMut::parse(plain) else {
        return;
    };
    if !sub.rewrite(now, &mut pkt, false) {
        return;
    }
    let Some(slot) = tx.slot() else {
        counters.drop(DropReason::TxFull);
        return;
    };
    let n = match sub.rtx {
        Some((ssrc, pt)) => {
            sub.rtx_seq = sub.rtx_seq.wrapping_add(1);
            match write_rtx(&pkt.as_packet(), pt, Ssrc(ssrc), sub.rtx_seq, slot) {
                Ok(n) => n,
                Err(_) => return,
            }
        }
        None => {
            let bytes = pkt.as_bytes();
            let Some(dst) = slot.get_mut(..bytes.len()) else {
                return;
            };
            dst.copy_from_slice(bytes);
            bytes.len()
        }
    };
    if n + srtp.rtp_overhead() > slot.len() {
        counters.drop(DropReason::Truncated);
        return;
    }
    match srtp.protect_rtp(slot, n) {
        Ok(len) => {
            tx.push(sock, path.remote, len);
            counters.retransmitted += 1;
            sub.retransmitted += 1;
        }
        Err(_) => counters.drop(DropReason::ProtectFailed),
    }
}

/// Rewrites and protects one packet for one subscriber and queues it; `vp8_ids` are the
/// packet's VP8 ids as the fan-out read them.
#[allow(
    clippy::too_many_arguments,
    reason = "the hot path takes split borrows of the shard state"
)]
pub(crate) fn forward_one(
    now: Instant,
    sub: &mut Sub,
    sessions: &mut slab::Slab<Session>,
    tx: &mut TxQueue,
    addrs: &[SocketAddr],
    counters: &mut Counters,
    plain: &[u8],
    vp8_ids: Option<Vp8Ids>,
) {
    let Some(s) = sessions.get_mut(sub.slot) else {
        counters.drop(DropReason::SubscriberNotReady);
        return;
    };
    let Some(path) = s.peer.path() else {
        counters.drop(DropReason::SubscriberNotReady);
        return;
    };
    let Some(sock) = Sockets::index_for(addrs, &path.remote) else {
        counters.drop(DropReason::SubscriberNotReady);
        return;
    };
    let Some(srtp) = s.peer.srtp_tx() else {
        counters.drop(DropReason::SubscriberNotReady);
        return;
    };
    let dst = path.remote;
    forward_into(now, sub, srtp, tx, sock, dst, counters, plain, vp8_ids);
}

/// The per-subscriber core of the fan-out: copy into a send slot, rewrite, protect, queue.
#[allow(
    clippy::too_many_arguments,
    reason = "the hot path takes split borrows of the shard state"
)]
pub(crate) fn forward_into(
    now: Instant,
    sub: &mut Sub,
    srtp: &mut SrtpContext,
    tx: &mut TxQueue,
    sock: usize,
    dst: SocketAddr,
    counters: &mut Counters,
    plain: &[u8],
    vp8_ids: Option<Vp8Ids>,
) {
    let Some(slot) = tx.slot() else {
        counters.drop(DropReason::TxFull);
        return;
    };
    let n = plain.len();
    if n + srtp.rtp_overhead() > slot.len() {
        counters.drop(DropReason::Truncated);
        return;
    }
    slot[..n].copy_from_slice(plain);
    let Ok(mut pkt) = RtpPacketMut::parse(&mut slot[..n]) else {
        counters.drop(DropReason::Malformed);
        return;
    };
    if !sub.rewrite_known(now, &mut pkt, true, vp8_ids) {
        return;
    }
    let payload = pkt.as_packet().payload().len() as u64;
    match srtp.protect_rtp_hinted(slot, n, &mut sub.srtp_hint) {
        Ok(len) => {
            tx.push(sock, dst, len);
            counters.rtp_out += 1;
            sub.sent_packets += 1;
            sub.sent_bytes += payload;
        }
        Err(_) => counters.drop(DropReason::ProtectFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTP packet whose one-byte-header extension block holds one element `id` with
    /// `data` (1 to 16 bytes).
    fn packet_with(id: u8, data: &[u8]) -> Vec<u8> {
        let mut ext = vec![(id << 4) | (data.len() as u8 - 1)];
        ext.extend_from_slice(data);
        while ext.len() % 4 != 0 {
            ext.push(0);
        }
        let mut pkt = vec![0x90, 111, 0, 1, 0, 0, 0, 0];
        pkt.extend_from_slice(&0x1234u32.to_be_bytes());
        pkt.extend_from_slice(&0xbedeu16.to_be_bytes());
        pkt.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
        pkt.extend_from_slice(&ext);
        pkt.extend_from_slice(&[0xfc, 0xff, 0xfe]);
        pkt
    }

    #[test]
    fn audio_level_reads_the_level_without_the_voice_bit() {
        let pkt = packet_with(1, &[0x80 | 37]);
        let view = RtpPacket::parse(&pkt).unwrap();
        assert_eq!(audio_level(&view, Some(1)), Some(37));
        let pkt = packet_with(1, &[127]);
        let view = RtpPacket::parse(&pkt).unwrap();
        assert_eq!(audio_level(&view, Some(1)), Some(127));
    }

    #[test]
    fn no_level_without_the_extension_or_its_id() {
        let pkt = packet_with(3, &[20]);
        let view = RtpPacket::parse(&pkt).unwrap();
        assert_eq!(audio_level(&view, Some(1)), None, "another id");
        assert_eq!(audio_level(&view, None), None, "not negotiated");
        let plain = [0x80, 111, 0, 1, 0, 0, 3, 0xc0, 0, 0, 0, 9, 1, 2, 3];
        let view = RtpPacket::parse(&plain).unwrap();
        assert_eq!(audio_level(&view, Some(1)), None, "no extension block");
    }

    #[test]
    fn a_malformed_level_is_not_measured() {
        for data in [&[20u8, 21][..], &[1, 2, 3, 4]] {
            let pkt = packet_with(1, data);
            let view = RtpPacket::parse(&pkt).unwrap();
            assert_eq!(audio_level(&view, Some(1)), None, "{data:?}");
        }
    }
}

//! RTCP of our own: reception statistics of publishers' streams with receiver reports,
//! NACKs for their gaps and REMB towards them; sender reports towards subscribers and what
//! their reports tell (loss, jitter, RTT); per-PeerConnection statistics and slowlink.
//! Reports go out every `rtcp_interval` from the shard's housekeeping; NACKs go out as soon
//! as a gap shows.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portunus_rtp::rtcp::{ReportBlock, SenderInfo, write_nack, write_remb, write_rr, write_sr};
use portunus_rtp::{SeqExtender, Ssrc};
use smallvec::SmallVec;

use super::{MAX_INBOUND, Session, State};
use crate::counters::{Counters, DropReason};
use crate::io::{Sockets, TxQueue};
use crate::msg::{
    InboundStats, OutboundStats, PeerId, PeerStats, ReplyTo, ShardError, ShardEvent, StreamKey,
};
use crate::xshard::XMsg;

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// Most packets one gap makes us NACK (one NACK item covers 17).
const MAX_NACK_GAP: u16 = 17;

/// Reception statistics of one inbound stream (RFC 3550 §6.4.1, §A.3, §A.8).
#[derive(Debug, Default)]
pub(crate) struct RxStats {
    ext: SeqExtender,
    base: Option<u64>,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Jitter in 1/16 timestamp units, as RFC 3550 §A.8 keeps it.
    jitter16: u64,
    last_transit: Option<i64>,
    /// Packets lost in the latest report interval.
    pub(crate) interval_lost: u64,
    /// Packets found missing (gaps, before any retransmission) since the last report:
    /// what uplink slowlink counts, as Janus counts the NACKs it sends.
    pub(crate) missing: u64,
}

impl RxStats {
    /// Counts one packet; `arrival` is the arrival time in timestamp units. Returns the
    /// range of sequence numbers missing just before it, when it opens a gap.
    pub(crate) fn on_packet(
        &mut self,
        seq: u16,
        ts: u32,
        len: usize,
        arrival: i64,
    ) -> Option<(u16, u16)> {
        let before = self.ext.highest();
        let e = self.ext.extend(seq).0;
        self.base.get_or_insert(e);
        self.packets += 1;
        self.bytes += len as u64;
        let transit = arrival - i64::from(ts);
        if let Some(prev) = self.last_transit.replace(transit) {
            let d = (transit - prev).unsigned_abs();
            // J += (|D| - J) / 16, in 1/16 units.
            self.jitter16 = self.jitter16 + d - ((self.jitter16 + 8) >> 4);
        }
        let h = before?.0;
        if e > h + 1 {
            self.missing += e - h - 1;
        }
        (e > h + 1).then(|| {
            let first = (h + 1).max(e.saturating_sub(u64::from(MAX_NACK_GAP)));
            (first as u16, (e - 1) as u16)
        })
    }

    /// Packets lost so far (expected minus received).
    pub(crate) fn lost(&self) -> i64 {
        let (Some(base), Some(h)) = (self.base, self.ext.highest()) else {
            return 0;
        };
        (h.0 + 1 - base) as i64 - self.packets as i64
    }

    pub(crate) fn jitter(&self) -> u32 {
        (self.jitter16 >> 4) as u32
    }

    /// The report block for this interval; moves the interval on.
    pub(crate) fn block(
        &mut self,
        ssrc: u32,
        last_sr: Option<(u32, Duration)>,
    ) -> Option<ReportBlock> {
        let (base, h) = (self.base?, self.ext.highest()?.0);
        let expected = h + 1 - base;
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.packets.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.packets;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        self.interval_lost = lost_interval;
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        let (last_sr, delay_since_last_sr) = last_sr.map_or((0, 0), |(lsr, age)| {
            (
                lsr,
                (age.as_micros() * 65_536 / 1_000_000).min(u128::from(u32::MAX)) as u32,
            )
        });
        Some(ReportBlock {
            ssrc: Ssrc(ssrc),
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_seq: h as u32,
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// What a subscriber's latest receiver report said about one of our streams.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RemoteReport {
    pub(crate) lost: i32,
    pub(crate) fraction_lost: u8,
    pub(crate) jitter: u32,
    pub(crate) rtt: Option<Duration>,
}

/// The shard's wall clock: read once at start, advanced with the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NtpClock {
    start: Instant,
    wall: Duration,
}

impl NtpClock {
    pub(crate) fn new(start: Instant) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self { start, wall }
    }

    /// NTP time (32.32) at `now`.
    pub(crate) fn ntp(&self, now: Instant) -> u64 {
        let t = self.wall + now.saturating_duration_since(self.start);
        let secs = t.as_secs() + NTP_UNIX_OFFSET;
        let frac = (u64::from(t.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }

    /// `now` in units of a `clock_rate` Hz clock since the shard started.
    pub(crate) fn rtp_units(&self, now: Instant, clock_rate: u32) -> i64 {
        let us = now.saturating_duration_since(self.start).as_micros();
        (us * u128::from(clock_rate) / 1_000_000) as i64
    }
}

impl State {
    /// Sends a NACK for `first..=last` of inbound stream `inbound` of session `s`: the
    /// session and stream the caller holds, not looked up again.
    pub(super) fn send_nack(
        s: &mut Session,
        inbound: usize,
        tx: &mut TxQueue,
        addrs: &[SocketAddr],
        counters: &mut Counters,
        first: u16,
        last: u16,
    ) {
        let mut lost = [0u16; MAX_NACK_GAP as usize];
        let n = usize::from(last.wrapping_sub(first)) + 1;
        let n = n.min(lost.len());
        for (i, l) in lost.iter_mut().take(n).enumerate() {
            *l = first.wrapping_add(i as u16);
        }
        let Some(i) = s.inbound.get_mut(inbound) else {
            return;
        };
        let Some(path) = s.peer.path() else {
            return;
        };
        let Some(buf) = tx.slot() else {
            counters.drop(DropReason::TxFull);
            return;
        };
        let Some(sock) = Sockets::index_for(addrs, &path.remote) else {
            return;
        };
        let Ok(len) = write_nack(buf, Ssrc(s.rtcp_ssrc), Ssrc(i.ssrc), &lost[..n]) else {
            return;
        };
        match s.peer.protect_rtcp(buf, len) {
            Ok(len) => {
                tx.push(sock, path.remote, len);
                counters.nack_sent += 1;
                i.nacks_sent += 1;
            }
            Err(_) => counters.drop(DropReason::ProtectFailed),
        }
    }

    /// A publisher's sender report on `ssrc`: remembered for our receiver reports' LSR.
    pub(super) fn on_sender_report(&mut self, slot: usize, ssrc: u32, ntp: u64) {
        let now = self.now;
        if let Some(i) = self
            .sessions
            .get_mut(slot)
            .and_then(|s| s.inbound.iter_mut().find(|i| i.ssrc == ssrc))
        {
            i.last_sr = Some(((ntp >> 16) as u32, now));
        }
    }

    /// A report block from the peer in `slot` on one of the streams we send it.
    pub(super) fn on_report_block(&mut self, slot: usize, b: &ReportBlock) {
        let now_mid = (self.ntp.ntp(self.now) >> 16) as u32;
        let Some(s) = self.sessions.get(slot) else {
            return;
        };
        let Some(sub) = s
            .subs
            .iter()
            .find_map(|&i| {
                self.fwd
                    .subs
                    .get(i)
                    .filter(|x| x.rewriter.ssrc() == b.ssrc.0)
                    .map(|_| i)
            })
            .and_then(|i| self.fwd.subs.get_mut(i))
        else {
            return;
        };
        let rtt = (b.last_sr != 0).then(|| {
            let units = now_mid
                .wrapping_sub(b.last_sr)
                .wrapping_sub(b.delay_since_last_sr);
            // A clock step or a bogus report gives a huge value: no RTT then.
            (units < 65_536 * 10)
                .then(|| Duration::from_micros(u64::from(units) * 1_000_000 / 65_536))
        });
        sub.report = Some(RemoteReport {
            lost: b.cumulative_lost,
            fraction_lost: b.fraction_lost,
            jitter: b.jitter,
            rtt: rtt.flatten().or(sub.report.and_then(|r| r.rtt)),
        });
    }

    /// A subscriber's REMB: passed to the publishers of the streams it names.
    pub(super) fn on_remb(&mut self, slot: usize, bitrate: u64, ssrcs: &[u32]) {
        let Some(s) = self.sessions.get(slot) else {
            return;
        };
        let mut targets: SmallVec<[(StreamKey, crate::ShardId); 4]> = SmallVec::new();
        for &i in &s.subs {
            let Some(sub) = self.fwd.subs.get_mut(i) else {
                continue;
            };
            if ssrcs.is_empty() || ssrcs.contains(&sub.rewriter.ssrc()) {
                sub.remb = Some(bitrate);
                targets.push((sub.source, sub.source_shard));
            }
        }
        for (source, shard) in targets {
            if shard == self.id {
                self.estimate_at_publisher(source, bitrate);
            } else if self
                .mesh
                .push(shard.index(), XMsg::Estimate { source, bitrate })
                .is_err()
            {
                self.counters.drop(DropReason::QueueFull);
            }
        }
    }

    /// A subscriber's estimate for `source`: the publisher's next REMB carries the lowest
    /// estimate of the latest interval.
    pub(crate) fn estimate_at_publisher(&mut self, source: StreamKey, bitrate: u64) {
        let (now, interval) = (self.now, self.settings.rtcp_interval);
        let Some(s) = self
            .by_id
            .get(&source.publisher)
            .and_then(|slot| self.sessions.get_mut(*slot))
        else {
            return;
        };
        s.estimate = match s.estimate {
            Some((b, at)) if b <= bitrate && now.saturating_duration_since(at) < interval => {
                Some((b, at))
            }
            _ => Some((bitrate, now)),
        };
    }

    /// Receiver reports, REMB and sender reports for every PeerConnection, and slowlink.
    pub(super) fn rtcp_tick(&mut self) {
        let slots: SmallVec<[usize; 64]> = self.sessions.iter().map(|(k, _)| k).collect();
        for slot in slots {
            self.reports_for(slot);
        }
    }

    fn reports_for(&mut self, slot: usize) {
        let now = self.now;
        let interval = self.settings.rtcp_interval;
        let ntp = self.ntp.ntp(now);
        let Some(s) = self.sessions.get_mut(slot) else {
            return;
        };
        let (Some(path), true) = (s.peer.path(), s.peer.srtp_tx().is_some()) else {
            return;
        };
        let Some(sock) = Sockets::index_for(&self.addrs, &path.remote) else {
            return;
        };
        let peer = s.id;
        // Publisher side: RR (+ REMB).
        let mut blocks = [ReportBlock::default(); MAX_INBOUND];
        let mut media = [Ssrc(0); MAX_INBOUND];
        let (mut nb, mut nm, mut uplink_lost) = (0, 0, 0u64);
        for i in &mut s.inbound {
            let last_sr = i
                .last_sr
                .map(|(lsr, at)| (lsr, now.saturating_duration_since(at)));
            uplink_lost += std::mem::take(&mut i.rx.missing);
            if let Some(b) = i.rx.block(i.ssrc, last_sr) {
                if let Some(slot) = blocks.get_mut(nb) {
                    *slot = b;
                    nb += 1;
                }
                if i.video
                    && let Some(m) = media.get_mut(nm)
                {
                    *m = Ssrc(i.ssrc);
                    nm += 1;
                }
            }
        }
        if nb > 0
            && let Some(buf) = self.tx.slot()
        {
            let mut len = write_rr(buf, Ssrc(s.rtcp_ssrc), &blocks[..nb]).unwrap_or(0);
            let estimate = s
                .estimate
                .filter(|(_, at)| now.saturating_duration_since(*at) < interval * 3)
                .map(|(b, _)| b);
            let remb = match (s.rtcp.bitrate_cap, estimate) {
                (Some(c), Some(e)) => Some(c.min(e)),
                (c, e) => c.or(e),
            };
            if let (Some(bitrate), true, Some(rest)) = (remb, nm > 0 && len > 0, buf.get_mut(len..))
                && let Ok(n) = write_remb(rest, Ssrc(s.rtcp_ssrc), bitrate, &media[..nm])
            {
                len += n;
                self.counters.remb_sent += 1;
            }
            if len > 0 {
                match s.peer.protect_rtcp(buf, len) {
                    Ok(n) => {
                        self.tx.push(sock, path.remote, n);
                        self.counters.rr_sent += 1;
                    }
                    Err(_) => self.counters.drop(DropReason::ProtectFailed),
                }
            }
        }
        // Subscriber side: one SR per stream we send, in one compound.
        if !s.subs.is_empty()
            && let Some(buf) = self.tx.slot()
        {
            let mut len = 0;
            for &i in &s.subs {
                let Some(sub) = self.fwd.subs.get(i) else {
                    continue;
                };
                let Some((ts, at)) = sub.rewriter.last_sent() else {
                    continue;
                };
                let elapsed = self.ntp.rtp_units(now, sub.rewriter.clock_rate())
                    - self.ntp.rtp_units(at, sub.rewriter.clock_rate());
                let info = SenderInfo {
                    ntp_time: ntp,
                    rtp_time: ts.wrapping_add(elapsed as u32),
                    packet_count: sub.sent_packets as u32,
                    octet_count: sub.sent_bytes as u32,
                };
                let Some(rest) = buf.get_mut(len..) else {
                    break;
                };
                match write_sr(rest, Ssrc(sub.rewriter.ssrc()), &info, &[]) {
                    Ok(n) if len + n + 64 < buf.len() => len += n,
                    _ => break,
                }
            }
            if len > 0 {
                match s.peer.protect_rtcp(buf, len) {
                    Ok(n) => {
                        self.tx.push(sock, path.remote, n);
                        self.counters.sr_sent += 1;
                    }
                    Err(_) => self.counters.drop(DropReason::ProtectFailed),
                }
            }
        }
        // Slowlink, per second of the interval.
        let threshold = u64::from(s.rtcp.slowlink_threshold);
        // Per second of the interval.
        let per_second = |n: u64| (n * 1000 / (interval.as_millis().max(1) as u64)) as u32;
        let downlink = std::mem::take(&mut s.nacked_in_interval);
        let mut events: SmallVec<[ShardEvent; 2]> = SmallVec::new();
        if threshold > 0 {
            if u64::from(per_second(uplink_lost)) > threshold {
                events.push(ShardEvent::SlowLink {
                    peer,
                    uplink: true,
                    lost: per_second(uplink_lost),
                });
            }
            if u64::from(per_second(downlink)) > threshold {
                events.push(ShardEvent::SlowLink {
                    peer,
                    uplink: false,
                    lost: per_second(downlink),
                });
            }
        }
        for ev in events {
            self.events.emit(ev, &mut self.counters);
        }
    }

    /// Answers [`crate::ShardCommand::GetPeerStats`].
    pub(super) fn peer_stats(&mut self, peer: PeerId, reply: ReplyTo) {
        let Some(s) = self
            .by_id
            .get(&peer)
            .and_then(|slot| self.sessions.get(*slot))
        else {
            let ev = ShardEvent::CommandFailed {
                reply: Some(reply),
                peer,
                error: ShardError::NoSuchPeer,
            };
            self.events.emit(ev, &mut self.counters);
            return;
        };
        let inbound = s
            .inbound
            .iter()
            .map(|i| InboundStats {
                ssrc: i.ssrc,
                mid: i.mid.clone(),
                substream: i.layer,
                packets: i.rx.packets,
                bytes: i.rx.bytes,
                lost: i.rx.lost(),
                jitter: i.rx.jitter(),
                nacks_sent: i.nacks_sent,
                recovered: i.recovered,
                plis_sent: i.plis_sent,
            })
            .collect();
        let outbound = s
            .subs
            .iter()
            .filter_map(|&i| self.fwd.subs.get(i))
            .map(|sub| {
                let r = sub.report.unwrap_or_default();
                OutboundStats {
                    ssrc: sub.rewriter.ssrc(),
                    source: sub.source,
                    packets: sub.sent_packets,
                    bytes: sub.sent_bytes,
                    retransmitted: sub.retransmitted,
                    lost: r.lost,
                    fraction_lost: r.fraction_lost,
                    jitter: r.jitter,
                    rtt: r.rtt,
                    nacks: sub.nacks,
                    plis: sub.plis,
                    remb: sub.remb,
                }
            })
            .collect();
        let ev = ShardEvent::PeerStats(Box::new(PeerStats {
            reply,
            peer,
            inbound,
            outbound,
        }));
        self.events.emit(ev, &mut self.counters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reception_stats_count_loss_gaps_and_jitter() {
        let mut rx = RxStats::default();
        assert_eq!(rx.on_packet(100, 0, 100, 0), None);
        assert_eq!(rx.on_packet(101, 3000, 100, 3000), None);
        assert_eq!(rx.on_packet(104, 12_000, 100, 12_000), Some((102, 103)));
        assert_eq!(rx.lost(), 2);
        let b = rx.block(7, None).expect("block");
        assert_eq!(
            (b.cumulative_lost, b.highest_seq, b.fraction_lost),
            (2, 104, 102)
        );
        assert_eq!(rx.interval_lost, 2);
        // The late one arrives (a retransmission): one fewer lost, no gap.
        assert_eq!(rx.on_packet(102, 6000, 100, 20_000), None);
        assert_eq!(rx.lost(), 1);
        assert!(rx.jitter() > 0, "a late packet shows as jitter");
        // A huge jump NACKs only the packets just before it.
        assert_eq!(rx.on_packet(1000, 0, 100, 0), Some((983, 999)));
    }

    #[test]
    fn ntp_time_counts_from_1900() {
        let t0 = Instant::now();
        let c = NtpClock::new(t0);
        let a = c.ntp(t0);
        let b = c.ntp(t0 + Duration::from_millis(500));
        assert!(a >> 32 > NTP_UNIX_OFFSET + 1_700_000_000);
        let half = b - a;
        assert!((half as i64 - (1i64 << 31)).abs() < 10, "{half}");
        assert_eq!(c.rtp_units(t0 + Duration::from_secs(2), 90_000), 180_000);
    }
}

//! Forwarding: which subscribers get a publisher's stream, and the per-subscriber rewrite.
//!
//! A [`Rewriter`] keeps one subscriber's view of a stream continuous: its own SSRC, and
//! sequence numbers and timestamps that stay gap-free and monotonic when the source is
//! paused, resumed or switched (the offset is re-based so the first packet after the change
//! follows the last one sent). Gaps the publisher's network made stay gaps, so NACKs still
//! name real losses.

use std::collections::HashMap;
use std::time::Instant;

use portunus_rtp::{ExtIdMap, RtpPacketMut, SeqExtender, SeqNo, Ssrc};
use smallvec::SmallVec;

use crate::io::MAX_DATAGRAM;
use crate::msg::{MediaKind, PeerId, ShardId, StreamKey, Subscription};

/// The per-subscriber SSRC, sequence-number and timestamp rewrite of one stream.
#[derive(Debug, Clone)]
pub struct Rewriter {
    ssrc: u32,
    clock_rate: u32,
    seq_offset: u16,
    ts_offset: u32,
    /// Input sequence numbers extended since the latest re-base, and the first of them:
    /// older packets (reordered from before a switch) are dropped, not mapped into the
    /// new range.
    ext: SeqExtender,
    base: SeqNo,
    last: Option<Last>,
    resync: bool,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    seq: u16,
    ts: u32,
    at: Instant,
}

impl Rewriter {
    /// A rewriter to `ssrc` for a stream with an RTP clock of `clock_rate` Hz.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        Self {
            ssrc,
            clock_rate: clock_rate.max(1),
            seq_offset: 0,
            ts_offset: 0,
            ext: SeqExtender::new(),
            base: SeqNo(0),
            last: None,
            resync: true,
        }
    }

    /// The source changed (switch, resume after pause): the next packet is re-based to
    /// follow the last one sent.
    pub fn switch_source(&mut self) {
        self.resync = true;
    }

    /// The subscriber-side SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Maps a subscriber-side sequence number back to the source's, for NACKs.
    pub fn source_seq(&self, out_seq: u16) -> u16 {
        out_seq.wrapping_sub(self.seq_offset)
    }

    /// Rewrites SSRC, sequence number and timestamp of `pkt` (received at `now`) in place;
    /// `false` when the packet belongs before the latest re-base and must not be sent.
    pub fn rewrite(&mut self, now: Instant, pkt: &mut RtpPacketMut<'_>) -> bool {
        let (seq, ts) = {
            let v = pkt.as_packet();
            (v.sequence_number(), v.timestamp())
        };
        if self.resync {
            self.resync = false;
            self.ext = SeqExtender::new();
            self.base = self.ext.extend(seq);
            match self.last {
                None => {
                    self.seq_offset = 0;
                    self.ts_offset = 0;
                }
                Some(last) => {
                    self.seq_offset = last.seq.wrapping_add(1).wrapping_sub(seq);
                    // Space the timestamps by the wall time between the two packets, at
                    // least one tick so they keep increasing.
                    let elapsed = now.saturating_duration_since(last.at);
                    let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000)
                        .clamp(1, u128::from(u32::MAX / 2)) as u32;
                    self.ts_offset = last.ts.wrapping_add(ticks).wrapping_sub(ts);
                }
            }
        } else if self.ext.extend(seq) < self.base {
            return false;
        }
        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        pkt.set_ssrc(Ssrc(self.ssrc));
        pkt.set_sequence_number(out_seq);
        pkt.set_timestamp(out_ts);
        let newer = self
            .last
            .is_none_or(|l| (out_seq.wrapping_sub(l.seq) as i16) > 0);
        if newer {
            self.last = Some(Last {
                seq: out_seq,
                ts: out_ts,
                at: now,
            });
        }
        true
    }
}

/// One subscriber receiving one stream.
#[derive(Debug)]
pub(crate) struct Sub {
    /// The subscriber's session slot.
    pub(crate) slot: usize,
    pub(crate) source: StreamKey,
    pub(crate) source_shard: ShardId,
    pub(crate) rewriter: Rewriter,
    pub(crate) payload_types: SmallVec<[(u8, u8); 4]>,
    pub(crate) extensions: Box<ExtIdMap>,
    pub(crate) rtx: Option<(u32, u8)>,
    pub(crate) rtx_seq: u16,
    pub(crate) kind: MediaKind,
}

impl Sub {
    pub(crate) fn new(s: &Subscription, slot: usize) -> Self {
        Self {
            slot,
            source: s.source,
            source_shard: s.source_shard,
            rewriter: Rewriter::new(s.ssrc, s.clock_rate),
            payload_types: s.payload_types.iter().copied().collect(),
            extensions: Box::new(s.extensions.clone()),
            rtx: s.rtx,
            rtx_seq: 0,
            kind: s.kind,
        }
    }

    /// Rewrites a copy of the source packet for this subscriber, in place.
    pub(crate) fn rewrite(&mut self, now: Instant, pkt: &mut RtpPacketMut<'_>) -> bool {
        if !self.rewriter.rewrite(now, pkt) {
            return false;
        }
        let pt = pkt.as_packet().payload_type();
        if let Some(&(_, to)) = self.payload_types.iter().find(|(from, _)| *from == pt) {
            // A payload type the SDP produced is always < 128.
            let _ = pkt.set_payload_type(to);
        }
        pkt.remap_extension_ids(&self.extensions);
        true
    }
}

/// Packets a video stream's history keeps for retransmission (about 1–2 s of video).
pub(crate) const HISTORY: usize = 256;

/// The latest decrypted packets of one stream, by sequence number, for answering NACKs.
/// One per stream and shard, shared by the shard's subscribers of that stream.
pub(crate) struct History {
    slots: Box<[HistorySlot]>,
}

struct HistorySlot {
    seq: u16,
    len: u16,
    data: [u8; MAX_DATAGRAM],
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").finish_non_exhaustive()
    }
}

impl History {
    pub(crate) fn new() -> Self {
        let slots = (0..HISTORY)
            .map(|_| HistorySlot {
                seq: 0,
                len: 0,
                data: [0; MAX_DATAGRAM],
            })
            .collect();
        Self { slots }
    }

    /// Keeps a copy of a packet with sequence number `seq`.
    pub(crate) fn store(&mut self, seq: u16, plain: &[u8]) {
        let slot = &mut self.slots[usize::from(seq) % HISTORY];
        let Some(dst) = slot.data.get_mut(..plain.len()) else {
            return;
        };
        dst.copy_from_slice(plain);
        slot.seq = seq;
        slot.len = plain.len() as u16;
    }

    /// The packet with sequence number `seq`, if still kept.
    pub(crate) fn get(&self, seq: u16) -> Option<&[u8]> {
        let slot = &self.slots[usize::from(seq) % HISTORY];
        (slot.len > 0 && slot.seq == seq).then(|| &slot.data[..usize::from(slot.len)])
    }
}

/// Where one stream goes from this shard.
#[derive(Debug, Default)]
pub(crate) struct Route {
    /// Local subscriptions (indices into [`Forwarding::subs`]).
    pub(crate) local: SmallVec<[usize; 4]>,
    /// Other shards with subscribers, each with the number of subscriptions there.
    pub(crate) shards: SmallVec<[(ShardId, u32); 2]>,
    /// Video with local subscribers: the packets NACKs may ask for again.
    pub(crate) history: Option<Box<History>>,
}

impl Route {
    fn is_empty(&self) -> bool {
        self.local.is_empty() && self.shards.is_empty()
    }
}

/// The shard's forwarding table.
#[derive(Debug, Default)]
pub(crate) struct Forwarding {
    pub(crate) subs: slab::Slab<Sub>,
    pub(crate) routes: HashMap<StreamKey, Route>,
}

impl Forwarding {
    /// Installs a local subscription; returns its index.
    pub(crate) fn add_local(&mut self, sub: Sub) -> usize {
        let source = sub.source;
        let video = sub.kind == MediaKind::Video;
        let idx = self.subs.insert(sub);
        let route = self.routes.entry(source).or_default();
        route.local.push(idx);
        if video && route.history.is_none() {
            route.history = Some(Box::new(History::new()));
        }
        idx
    }

    /// Removes a local subscription.
    pub(crate) fn remove_local(&mut self, idx: usize) -> Option<Sub> {
        let sub = self.subs.try_remove(idx)?;
        if let Some(route) = self.routes.get_mut(&sub.source) {
            route.local.retain(|i| *i != idx);
            if route.local.is_empty() {
                route.history = None;
            }
            if route.is_empty() {
                self.routes.remove(&sub.source);
            }
        }
        Some(sub)
    }

    /// Moves subscription `idx` to another source; its rewriter re-bases on the next packet.
    pub(crate) fn switch(&mut self, idx: usize, source: StreamKey, source_shard: ShardId) {
        let Some(sub) = self.subs.get_mut(idx) else {
            return;
        };
        let old = sub.source;
        sub.source = source;
        sub.source_shard = source_shard;
        sub.rewriter.switch_source();
        let video = sub.kind == MediaKind::Video;
        if let Some(route) = self.routes.get_mut(&old) {
            route.local.retain(|i| *i != idx);
            if route.local.is_empty() {
                route.history = None;
            }
            if route.is_empty() {
                self.routes.remove(&old);
            }
        }
        let route = self.routes.entry(source).or_default();
        route.local.push(idx);
        if video && route.history.is_none() {
            route.history = Some(Box::new(History::new()));
        }
    }

    /// Counts one more subscription of `source` on shard `to`.
    pub(crate) fn add_remote(&mut self, source: StreamKey, to: ShardId) {
        let route = self.routes.entry(source).or_default();
        match route.shards.iter_mut().find(|(s, _)| *s == to) {
            Some((_, n)) => *n += 1,
            None => route.shards.push((to, 1)),
        }
    }

    /// Counts one subscription of `source` on shard `to` less.
    pub(crate) fn remove_remote(&mut self, source: StreamKey, to: ShardId) {
        let Some(route) = self.routes.get_mut(&source) else {
            return;
        };
        if let Some(pos) = route.shards.iter().position(|(s, _)| *s == to) {
            route.shards[pos].1 -= 1;
            if route.shards[pos].1 == 0 {
                route.shards.remove(pos);
            }
        }
        if route.is_empty() {
            self.routes.remove(&source);
        }
    }

    /// Drops every route of streams `publisher` sends (it left the shard).
    pub(crate) fn remove_publisher(&mut self, publisher: PeerId) {
        self.routes.retain(|k, r| {
            if k.publisher != publisher {
                return true;
            }
            // Local subscriptions stay installed (the publisher may come back with the same
            // SSRC) but only remote counts are dropped with the route.
            r.shards.clear();
            !r.local.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn packet(seq: u16, ts: u32) -> Vec<u8> {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&0x1111_1111u32.to_be_bytes());
        p.extend_from_slice(b"payload");
        p
    }

    fn run(r: &mut Rewriter, now: Instant, seq: u16, ts: u32) -> Option<(u16, u32, u32)> {
        let mut buf = packet(seq, ts);
        let mut pkt = RtpPacketMut::parse(&mut buf).expect("rtp");
        if !r.rewrite(now, &mut pkt) {
            return None;
        }
        let v = pkt.as_packet();
        Some((v.sequence_number(), v.timestamp(), v.ssrc().0))
    }

    #[test]
    fn a_source_switch_continues_sequence_and_timestamps_without_a_gap() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(0xabcd, 90_000);
        assert_eq!(run(&mut r, t0, 65_534, 1000), Some((65_534, 1000, 0xabcd)));
        assert_eq!(run(&mut r, t0, 65_535, 1000), Some((65_535, 1000, 0xabcd)));
        assert_eq!(
            run(&mut r, t0, 0, 4000),
            Some((0, 4000, 0xabcd)),
            "wraps with the source"
        );
        // Switch to a source whose numbers are far away; 100 ms later.
        r.switch_source();
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(
            run(&mut r, t1, 30_000, 7_000_000),
            Some((1, 4000 + 9000, 0xabcd))
        );
        assert_eq!(
            run(&mut r, t1, 30_001, 7_000_000),
            Some((2, 13_000, 0xabcd))
        );
        // A packet of the new source from before the switch point is not sent.
        assert_eq!(run(&mut r, t1, 29_999, 6_999_000), None);
        // A loss stays visible as a gap (the subscriber NACKs it); reordering maps too.
        assert_eq!(run(&mut r, t1, 30_004, 7_003_000).map(|x| x.0), Some(5));
        assert_eq!(run(&mut r, t1, 30_003, 7_003_000).map(|x| x.0), Some(4));
        assert_eq!(r.source_seq(4), 30_003);
    }

    #[test]
    fn a_long_stream_keeps_flowing_across_many_wraps() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(9, 90_000);
        for i in 0..200_000u32 {
            let seq = (1000 + i) as u16;
            assert_eq!(
                run(&mut r, t0, seq, i).map(|x| x.0),
                Some(seq),
                "packet {i}"
            );
        }
    }

    #[test]
    fn resume_without_elapsed_time_still_advances_the_timestamp() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(1, 48_000);
        assert_eq!(run(&mut r, t0, 10, 500).map(|x| x.1), Some(500));
        r.switch_source();
        assert_eq!(
            run(&mut r, t0, 10, 500).map(|x| (x.0, x.1)),
            Some((11, 501))
        );
    }

    #[test]
    fn a_switched_subscription_moves_between_routes() {
        let (a, b) = (
            StreamKey {
                publisher: PeerId(1),
                ssrc: 5,
            },
            StreamKey {
                publisher: PeerId(2),
                ssrc: 6,
            },
        );
        let mut f = Forwarding::default();
        let s = Subscription {
            subscriber: PeerId(3),
            source: a,
            source_shard: ShardId(0),
            ssrc: 77,
            rtx: None,
            payload_types: Vec::new(),
            extensions: ExtIdMap::new(),
            clock_rate: 90_000,
            kind: MediaKind::Video,
        };
        let idx = f.add_local(Sub::new(&s, 0));
        let t0 = Instant::now();
        let mut p = packet(100, 1000);
        let mut pkt = RtpPacketMut::parse(&mut p).expect("rtp");
        assert!(f.subs[idx].rewrite(t0, &mut pkt));
        f.switch(idx, b, ShardId(1));
        assert!(
            !f.routes.contains_key(&a),
            "the old route is gone with its last subscriber"
        );
        assert_eq!(f.routes[&b].local.as_slice(), &[idx]);
        assert!(f.routes[&b].history.is_some());
        let mut p = packet(9000, 55);
        let mut pkt = RtpPacketMut::parse(&mut p).expect("rtp");
        assert!(f.subs[idx].rewrite(t0, &mut pkt));
        assert_eq!(
            pkt.as_packet().sequence_number(),
            101,
            "continuous across the switch"
        );
        assert_eq!(pkt.as_packet().ssrc().0, 77);
    }

    #[test]
    fn routes_count_remote_shards_and_vanish_when_empty() {
        let mut f = Forwarding::default();
        let key = StreamKey {
            publisher: PeerId(1),
            ssrc: 5,
        };
        f.add_remote(key, ShardId(1));
        f.add_remote(key, ShardId(1));
        f.remove_remote(key, ShardId(1));
        assert_eq!(f.routes[&key].shards.as_slice(), &[(ShardId(1), 1)]);
        f.remove_remote(key, ShardId(1));
        assert!(f.routes.is_empty());
    }
}

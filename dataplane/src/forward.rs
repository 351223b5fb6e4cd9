//! Forwarding: which subscribers get a publisher's stream, and the per-subscriber rewrite.
//!
//! A [`Rewriter`] keeps one subscriber's view of a stream continuous: its own SSRC, and
//! sequence numbers and timestamps that stay gap-free and monotonic when the source is
//! paused, resumed or switched (the offset is re-based so the first packet after the change
//! follows the last one sent). Gaps the publisher's network made stay gaps, so NACKs still
//! name real losses.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use portunus_rtp::codec::vp8::{self, Vp8Descriptor};
use portunus_rtp::codec::{VideoCodec, is_keyframe};
use portunus_rtp::{ExtIdMap, RtpPacket, RtpPacketMut, SeqExtender, SeqNo, Ssrc};
use smallvec::SmallVec;

use crate::io::MAX_DATAGRAM;
use crate::msg::{LayerPrefs, MAX_SUBSTREAMS, MediaKind, PeerId, ShardId, StreamKey, Subscription};

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

    /// The RTP clock rate.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// The newest timestamp sent and when: what a sender report extrapolates from.
    pub fn last_sent(&self) -> Option<(u32, Instant)> {
        self.last.map(|l| (l.ts, l.at))
    }

    /// A packet of the source (sequence number `seq`) is deliberately not sent (a temporal
    /// layer above the subscriber's): the packets after it move down by one, so the
    /// subscriber sees no gap and asks for nothing.
    pub fn skip(&mut self, seq: u16) {
        if self.resync {
            // The next packet re-bases anyway.
            return;
        }
        let ext = self.ext.peek(seq);
        if ext >= self.base && self.ext.highest().is_none_or(|h| ext > h) {
            self.ext.extend(seq);
            self.seq_offset = self.seq_offset.wrapping_sub(1);
        }
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
    pub(crate) codec: Option<VideoCodec>,
    /// Simulcast layer selection; `None` forwards substream 0 only.
    pub(crate) selector: Option<Box<Selector>>,
    /// VP8 picture-id continuity (VP8 only).
    pub(crate) vp8: Option<Vp8Rewrite>,
    /// Packets and payload bytes sent (for sender reports and statistics).
    pub(crate) sent_packets: u64,
    pub(crate) sent_bytes: u64,
    pub(crate) retransmitted: u64,
    /// NACKs and PLI/FIRs the subscriber sent for it.
    pub(crate) nacks: u64,
    pub(crate) plis: u64,
    /// The subscriber's latest REMB estimate.
    pub(crate) remb: Option<u64>,
    /// The subscriber's latest receiver report on it.
    pub(crate) report: Option<crate::shard::rtcp::RemoteReport>,
    /// Where a subscription of an RTP input's video stands before its first keyframe.
    pub(crate) start: Start,
    /// Paused ([`crate::ShardCommand::PauseForward`]): nothing is sent, everything else
    /// (rewrite, layer wishes, statistics) is kept for the resume.
    pub(crate) paused: bool,
    /// Where this stream's state sits in the subscriber's SRTP context (a hint, checked by
    /// the context), so protecting skips the SSRC lookup.
    pub(crate) srtp_hint: usize,
}

/// How a new subscription to an RTP input's video begins: on a keyframe, the one the input
/// kept (replayed to it alone) or the next live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Forwarding live packets; replayed ones are for others.
    Live,
    /// Nothing forwarded yet: waiting for a keyframe, replayed or live.
    AwaitKeyframe,
    /// Receiving the input's kept keyframe and what followed it; the first live packet
    /// makes it [`Start::Live`].
    Replaying,
}

impl Sub {
    /// A subscription; `keyframe_interval` spaces its own keyframe requests.
    pub(crate) fn new(s: &Subscription, slot: usize, keyframe_interval: Duration) -> Self {
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
            codec: s.codec,
            selector: s
                .simulcast
                .map(|p| Box::new(Selector::new(p, keyframe_interval))),
            vp8: (s.codec == Some(VideoCodec::Vp8)).then(Vp8Rewrite::default),
            sent_packets: 0,
            sent_bytes: 0,
            retransmitted: 0,
            nacks: 0,
            plis: 0,
            remb: None,
            report: None,
            // A plain RTP source cannot be asked for a keyframe: a viewer must not start
            // mid-picture. Simulcast selection waits for keyframes by itself.
            start: if s.source.publisher.is_input()
                && s.kind == MediaKind::Video
                && s.codec.is_some()
                && s.simulcast.is_none()
            {
                Start::AwaitKeyframe
            } else {
                Start::Live
            },
            paused: false,
            srtp_hint: 0,
        }
    }

    /// Pauses or resumes the subscription; `true` when the resume needs a keyframe of
    /// substream 0 asked of the source. A resumed subscription continues the subscriber's
    /// sequence numbers and timestamps (a re-base, as for a switch), and video waits for a
    /// keyframe: the decoder could use nothing before one.
    pub(crate) fn set_paused(&mut self, paused: bool) -> bool {
        if self.paused == paused {
            return false;
        }
        self.paused = paused;
        if paused {
            return false;
        }
        self.switch_source();
        if let Some(sel) = self.selector.as_mut() {
            // The selector waits for a keyframe of the wanted substream and asks for it with
            // the next packet; a request made before the pause must not hold this one back.
            sel.set(None, None, None);
            return false;
        }
        if self.kind == MediaKind::Video && self.codec.is_some() {
            self.start = Start::AwaitKeyframe;
            return true;
        }
        false
    }

    /// The substream this subscription forwards (0 without simulcast).
    pub(crate) fn layer(&self) -> u8 {
        self.selector
            .as_ref()
            .map_or(0, |s| s.current.unwrap_or(s.prefs.substream))
    }

    /// Whether packet `info` goes to this subscriber; see [`Selector::select`]. `replay`:
    /// the packet is from an RTP input's kept keyframe, for subscriptions just starting.
    pub(crate) fn select(
        &mut self,
        now: Instant,
        info: &PacketInfo,
        seen: &Arrivals,
        replay: bool,
    ) -> Decision {
        let drop = Decision {
            verdict: Verdict::Drop,
            ..Decision::default()
        };
        match (self.start, replay) {
            (Start::Live, true) => return drop,
            (Start::AwaitKeyframe, _) if !info.keyframe => return drop,
            (Start::AwaitKeyframe, true) => self.start = Start::Replaying,
            (Start::AwaitKeyframe, false) | (Start::Replaying, false) => self.start = Start::Live,
            (Start::Live | Start::Replaying, _) => {}
        }
        let d = match self.selector.as_mut() {
            Some(sel) => sel.select(now, info, seen),
            None if info.layer == 0 => Decision::default(),
            None => drop,
        };
        if d.switched {
            self.rebase();
        }
        d
    }

    /// The packets forwarded come from another stream from the next one on: re-base the
    /// sequence numbers, timestamps and VP8 ids there.
    fn rebase(&mut self) {
        self.rewriter.switch_source();
        if let Some(v) = self.vp8.as_mut() {
            v.resync = true;
        }
    }

    /// The source changed (SwitchForward): re-base everything on the next packet.
    pub(crate) fn switch_source(&mut self) {
        self.rebase();
        if let Some(sel) = self.selector.as_mut() {
            sel.current = None;
        }
    }

    /// Rewrites a copy of the source packet for this subscriber, in place; `original` is
    /// false for retransmissions (they must not move the VP8 picture-id state).
    pub(crate) fn rewrite(
        &mut self,
        now: Instant,
        pkt: &mut RtpPacketMut<'_>,
        original: bool,
    ) -> bool {
        self.rewrite_known(now, pkt, original, None)
    }

    /// [`Self::rewrite`], given the packet's VP8 ids as the fan-out already read them once
    /// for every subscriber (`None`: read them here).
    pub(crate) fn rewrite_known(
        &mut self,
        now: Instant,
        pkt: &mut RtpPacketMut<'_>,
        original: bool,
        vp8_ids: Option<Vp8Ids>,
    ) -> bool {
        if !self.rewriter.rewrite(now, pkt) {
            return false;
        }
        let pt = pkt.as_packet().payload_type();
        if let Some(&(_, to)) = self.payload_types.iter().find(|(from, _)| *from == pt) {
            // A payload type the SDP produced is always < 128.
            let _ = pkt.set_payload_type(to);
        }
        pkt.remap_extension_ids(&self.extensions);
        if let Some(v) = self.vp8.as_mut() {
            match vp8_ids {
                Some(ids) => v.apply_ids(pkt.payload_mut(), original, ids),
                None => v.apply(pkt.payload_mut(), original),
            }
        }
        true
    }
}

/// When the substreams of a stream arrived, as one shard saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Arrivals {
    /// The latest packet of each substream.
    pub(crate) last: [Option<Instant>; MAX_SUBSTREAMS],
    /// The stream's first packet.
    pub(crate) first: Option<Instant>,
}

/// What the fan-out needs to know of one packet, found once for every subscriber.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PacketInfo {
    /// The simulcast substream it belongs to.
    pub(crate) layer: u8,
    pub(crate) seq: u16,
    /// The first packet of a keyframe.
    pub(crate) keyframe: bool,
    /// The VP8 temporal layer, when the descriptor names one.
    pub(crate) tid: Option<u8>,
    /// VP8 Y: the frame depends only on the base layer (a temporal switch point).
    pub(crate) layer_sync: bool,
    /// The first packet of a frame: temporal changes happen there only.
    pub(crate) frame_start: bool,
    /// The VP8 descriptor's ids (VP8 only), so subscribers need not parse it again.
    pub(crate) vp8: Option<Vp8Ids>,
}

/// The VP8 payload descriptor fields a subscriber's rewrite renumbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Vp8Ids {
    pub(crate) picture_id: Option<u16>,
    pub(crate) tl0_pic_idx: Option<u8>,
}

impl Vp8Ids {
    fn of(d: &Vp8Descriptor) -> Self {
        Self {
            picture_id: d.picture_id,
            tl0_pic_idx: d.tl0_pic_idx,
        }
    }
}

/// A keyframe check the caller already made on a packet (`is_keyframe(codec, payload)`),
/// so the fan-out does not make it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KnownKeyframe {
    pub(crate) codec: VideoCodec,
    pub(crate) keyframe: bool,
}

impl PacketInfo {
    /// Inspects a decrypted packet of substream `layer`, taking the caller's keyframe check
    /// (`known`) when it was made for the same codec (a check for another codec is not the
    /// answer for this one: made again).
    pub(crate) fn inspect(
        codec: Option<VideoCodec>,
        layer: u8,
        pkt: &RtpPacket<'_>,
        known: Option<KnownKeyframe>,
    ) -> Self {
        let payload = pkt.payload();
        let keyframe = match (codec, known) {
            (Some(c), Some(k)) if k.codec == c => k.keyframe,
            _ => codec.is_some_and(|c| is_keyframe(c, payload)),
        };
        let mut info = Self {
            layer,
            seq: pkt.sequence_number(),
            keyframe,
            tid: None,
            layer_sync: false,
            frame_start: true,
            vp8: None,
        };
        if codec == Some(VideoCodec::Vp8)
            && let Ok(d) = Vp8Descriptor::parse(payload)
        {
            info.vp8 = Some(Vp8Ids::of(&d));
            info.tid = d.tid;
            info.layer_sync = d.layer_sync.unwrap_or(false);
            info.frame_start = d.start_of_partition && d.partition_index == 0;
        }
        info
    }
}

/// What to do with one packet for one subscriber.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Rewrite and send it.
    #[default]
    Forward,
    /// Another substream's packet: not ours, no trace in our numbering.
    Drop,
    /// Our substream, but a temporal layer above the subscriber's: close the gap.
    Skip,
}

/// The outcome of [`Selector::select`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) verdict: Verdict,
    /// Ask the publisher for a keyframe of this substream.
    pub(crate) keyframe_for: Option<u8>,
    /// The substream changed with this packet (re-base the numbering).
    pub(crate) switched: bool,
    /// Substream or temporal layer changed: report `(substream, temporal)`.
    pub(crate) changed: Option<(u8, u8)>,
}

/// One subscriber's simulcast state: what it wants, what it gets.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    pub(crate) prefs: LayerPrefs,
    /// The substream being forwarded (`None` before the first keyframe).
    pub(crate) current: Option<u8>,
    /// The highest temporal layer being forwarded.
    pub(crate) temporal: u8,
    last_request: Option<Instant>,
    request_interval: Duration,
}

impl Selector {
    pub(crate) fn new(prefs: LayerPrefs, request_interval: Duration) -> Self {
        Self {
            prefs: clamp(prefs),
            current: None,
            temporal: prefs.temporal.min(2),
            last_request: None,
            request_interval,
        }
    }

    /// New preferences; the next packets act on them.
    pub(crate) fn set(
        &mut self,
        substream: Option<u8>,
        temporal: Option<u8>,
        fallback: Option<Duration>,
    ) {
        let mut p = self.prefs;
        if let Some(s) = substream {
            p.substream = s;
        }
        if let Some(t) = temporal {
            p.temporal = t;
        }
        if let Some(f) = fallback {
            p.fallback = f;
        }
        self.prefs = clamp(p);
        // A changed wish may need a keyframe at once.
        self.last_request = None;
    }

    /// The substream to be on: the wanted one if it arrives, else the highest lower one
    /// that does, else the lowest higher one.
    fn desired(&self, now: Instant, seen: &Arrivals) -> Option<u8> {
        let fallback = self.prefs.fallback;
        let active = |l: &u8| {
            seen.last
                .get(usize::from(*l))
                .copied()
                .flatten()
                .is_some_and(|t| now.saturating_duration_since(t) <= fallback)
        };
        let target = self.prefs.substream;
        if seen
            .first
            .is_none_or(|t| now.saturating_duration_since(t) < fallback)
        {
            // A young stream: its other substreams may just not have arrived yet.
            return Some(target);
        }
        (0..=target)
            .rev()
            .find(active)
            .or_else(|| (target + 1..MAX_SUBSTREAMS as u8).find(active))
    }

    fn request(&mut self, now: Instant, layer: u8) -> Option<u8> {
        if self
            .last_request
            .is_some_and(|t| now.saturating_duration_since(t) < self.request_interval)
        {
            return None;
        }
        self.last_request = Some(now);
        Some(layer)
    }

    /// Decides for one packet; `seen` is when each substream last arrived (this packet's
    /// included). A substream change happens only at a keyframe of the new one; the
    /// temporal layer changes only at frame starts, upwards only at a layer-sync frame.
    pub(crate) fn select(&mut self, now: Instant, info: &PacketInfo, seen: &Arrivals) -> Decision {
        let mut d = Decision::default();
        let desired = self.desired(now, seen);
        if self.current != Some(info.layer) {
            if desired != Some(info.layer) {
                d.verdict = Verdict::Drop;
                return d;
            }
            if !info.keyframe {
                d.keyframe_for = self.request(now, info.layer);
                d.verdict = Verdict::Drop;
                return d;
            }
            self.current = Some(info.layer);
            self.temporal = self.prefs.temporal;
            d.switched = true;
            d.changed = Some((info.layer, self.temporal));
        } else if let Some(w) = desired.filter(|w| *w != info.layer) {
            d.keyframe_for = self.request(now, w);
        }
        if let Some(tid) = info.tid {
            if info.frame_start && !d.switched {
                let want = self.prefs.temporal;
                let before = self.temporal;
                if want < self.temporal {
                    self.temporal = want;
                } else if want > self.temporal
                    && tid > self.temporal
                    && tid <= want
                    && (info.layer_sync || info.keyframe)
                {
                    self.temporal = tid;
                }
                if self.temporal != before {
                    d.changed = Some((info.layer, self.temporal));
                }
            }
            if tid > self.temporal {
                d.verdict = Verdict::Skip;
            }
        }
        d
    }
}

fn clamp(mut p: LayerPrefs) -> LayerPrefs {
    p.substream = p.substream.min(MAX_SUBSTREAMS as u8 - 1);
    p.temporal = p.temporal.min(2);
    p
}

/// Keeps a subscriber's VP8 picture ids and TL0PICIDX continuous when the source changes
/// (each simulcast layer numbers its own pictures).
#[derive(Debug, Clone, Default)]
pub(crate) struct Vp8Rewrite {
    pid_offset: u16,
    tl0_offset: u8,
    last_pid: Option<u16>,
    last_tl0: Option<u8>,
    pub(crate) resync: bool,
}

impl Vp8Rewrite {
    /// Rewrites the descriptor of `payload` in place; `original` packets advance the state.
    pub(crate) fn apply(&mut self, payload: &mut [u8], original: bool) {
        let Ok(d) = Vp8Descriptor::parse(payload) else {
            return;
        };
        self.apply_ids(payload, original, Vp8Ids::of(&d));
    }

    /// [`Self::apply`] with the descriptor's ids already read. The payload is written only
    /// when an offset moves them: until the first source change, never.
    pub(crate) fn apply_ids(&mut self, payload: &mut [u8], original: bool, ids: Vp8Ids) {
        if self.resync && original {
            self.resync = false;
            if let (Some(p), Some(last)) = (ids.picture_id, self.last_pid) {
                self.pid_offset = last.wrapping_add(1).wrapping_sub(p);
            }
            if let (Some(t), Some(last)) = (ids.tl0_pic_idx, self.last_tl0) {
                self.tl0_offset = last.wrapping_add(1).wrapping_sub(t);
            }
        }
        if let Some(p) = ids.picture_id {
            let out = p.wrapping_add(self.pid_offset) & 0x7fff;
            if self.pid_offset & 0x7fff != 0 {
                let _ = vp8::set_picture_id(payload, out);
            }
            let newer = self
                .last_pid
                .is_none_or(|l| out.wrapping_sub(l) & 0x7fff < 0x4000);
            if original && newer {
                self.last_pid = Some(out);
            }
        }
        if let Some(t) = ids.tl0_pic_idx {
            let out = t.wrapping_add(self.tl0_offset);
            if self.tl0_offset != 0 {
                let _ = vp8::set_tl0_pic_idx(payload, out);
            }
            let newer = self.last_tl0.is_none_or(|l| out.wrapping_sub(l) < 0x80);
            if original && newer {
                self.last_tl0 = Some(out);
            }
        }
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
    /// Video with local subscribers: the packets NACKs may ask for again, per substream
    /// (each numbers its own packets); allocated when a substream first arrives.
    pub(crate) history: [Option<Box<History>>; MAX_SUBSTREAMS],
    /// Whether a local video subscriber wants a history kept.
    keep_history: bool,
    /// When substreams arrived: what simulcast selection falls back on.
    pub(crate) seen: Arrivals,
    /// The codec the local subscribers named, for keyframe detection.
    pub(crate) codec: Option<VideoCodec>,
    /// RTP outputs copying the stream (indices into the shard's outputs).
    pub(crate) outputs: SmallVec<[usize; 1]>,
}

impl Route {
    fn is_empty(&self) -> bool {
        self.local.is_empty() && self.shards.is_empty() && self.outputs.is_empty()
    }

    /// Notes a decrypted packet of substream `layer` before it is fanned out: keeps it in
    /// the history and returns what the subscribers' selection needs.
    pub(crate) fn inspect(&mut self, now: Instant, layer: u8, plain: &[u8]) -> Option<PacketInfo> {
        self.inspect_known(now, layer, plain, None)
    }

    /// [`Self::inspect`] with the caller's keyframe check, if it made one.
    pub(crate) fn inspect_known(
        &mut self,
        now: Instant,
        layer: u8,
        plain: &[u8],
        known: Option<KnownKeyframe>,
    ) -> Option<PacketInfo> {
        let view = RtpPacket::parse(plain).ok()?;
        let l = usize::from(layer);
        *self.seen.last.get_mut(l)? = Some(now);
        self.seen.first.get_or_insert(now);
        if self.keep_history
            && let Some(h) = self.history.get_mut(l)
        {
            // Allocated once per substream and shard, when it first arrives.
            h.get_or_insert_with(|| Box::new(History::new()))
                .store(view.sequence_number(), plain);
        }
        Some(PacketInfo::inspect(self.codec, layer, &view, known))
    }

    /// The history of substream `layer`.
    pub(crate) fn history(&self, layer: u8) -> Option<&History> {
        self.history.get(usize::from(layer))?.as_deref()
    }

    fn add_sub(&mut self, idx: usize, sub: &Sub) {
        self.local.push(idx);
        if sub.kind == MediaKind::Video {
            self.keep_history = true;
        }
        if self.codec.is_none() {
            self.codec = sub.codec;
        }
    }

    fn remove_sub(&mut self, idx: usize) {
        self.local.retain(|i| *i != idx);
        if self.local.is_empty() {
            self.history = Default::default();
            self.keep_history = false;
        }
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
        let idx = self.subs.insert(sub);
        let route = self.routes.entry(source).or_default();
        route.add_sub(idx, &self.subs[idx]);
        idx
    }

    /// Removes a local subscription.
    pub(crate) fn remove_local(&mut self, idx: usize) -> Option<Sub> {
        let sub = self.subs.try_remove(idx)?;
        if let Some(route) = self.routes.get_mut(&sub.source) {
            route.remove_sub(idx);
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
        sub.switch_source();
        if let Some(route) = self.routes.get_mut(&old) {
            route.remove_sub(idx);
            if route.is_empty() {
                self.routes.remove(&old);
            }
        }
        let route = self.routes.entry(source).or_default();
        route.add_sub(idx, &self.subs[idx]);
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

    /// Copies `source` to RTP output `idx` too.
    pub(crate) fn add_output(&mut self, source: StreamKey, idx: usize) {
        self.routes.entry(source).or_default().outputs.push(idx);
    }

    /// Stops copying `source` to RTP output `idx`.
    pub(crate) fn remove_output(&mut self, source: StreamKey, idx: usize) {
        let Some(route) = self.routes.get_mut(&source) else {
            return;
        };
        route.outputs.retain(|i| *i != idx);
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
            !r.local.is_empty() || !r.outputs.is_empty()
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
            source: a,
            codec: None,
            ..vp8_subscription(None)
        };
        let idx = f.add_local(Sub::new(&s, 0, Duration::from_millis(500)));
        let t0 = Instant::now();
        let mut p = packet(100, 1000);
        let mut pkt = RtpPacketMut::parse(&mut p).expect("rtp");
        assert!(f.subs[idx].rewrite(t0, &mut pkt, true));
        f.switch(idx, b, ShardId(1));
        assert!(
            !f.routes.contains_key(&a),
            "the old route is gone with its last subscriber"
        );
        assert_eq!(f.routes[&b].local.as_slice(), &[idx]);
        assert!(f.routes[&b].keep_history);
        let route = f.routes.get_mut(&b).expect("route");
        assert!(route.inspect(t0, 0, &packet(9000, 55)).is_some());
        assert!(
            f.routes[&b]
                .history(0)
                .is_some_and(|h| h.get(9000).is_some())
        );
        let mut p = packet(9000, 55);
        let mut pkt = RtpPacketMut::parse(&mut p).expect("rtp");
        assert!(f.subs[idx].rewrite(t0, &mut pkt, true));
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

    /// A VP8 packet of substream-agnostic shape: 15-bit picture id, TL0PICIDX, TID/Y.
    fn vp8_packet(seq: u16, ts: u32, pid: u16, tl0: u8, tid: u8, sync: bool, key: bool) -> Vec<u8> {
        let mut p = packet(seq, ts);
        p.truncate(12);
        let [hi, lo] = pid.to_be_bytes();
        // X=1 S=1 PID=0; I L T set; M=1 long picture id; TID|Y|KEYIDX.
        p.extend_from_slice(&[
            0x90,
            0xe0,
            0x80 | hi,
            lo,
            tl0,
            (tid << 6) | (u8::from(sync) << 5),
        ]);
        // VP8 payload header: P bit 0 for a keyframe.
        p.push(if key { 0x10 } else { 0x11 });
        p.extend_from_slice(b"frame");
        p
    }

    fn info(layer: u8, p: &[u8]) -> PacketInfo {
        Route {
            codec: Some(VideoCodec::Vp8),
            ..Route::default()
        }
        .inspect(Instant::now(), layer, p)
        .expect("parses")
    }

    #[test]
    fn packet_info_reads_keyframes_and_temporal_layers() {
        let i = info(1, &vp8_packet(7, 0, 300, 4, 2, true, false));
        assert_eq!(
            i,
            PacketInfo {
                layer: 1,
                seq: 7,
                keyframe: false,
                tid: Some(2),
                layer_sync: true,
                frame_start: true,
                vp8: Some(Vp8Ids {
                    picture_id: Some(300),
                    tl0_pic_idx: Some(4)
                }),
            }
        );
        assert!(info(0, &vp8_packet(7, 0, 300, 4, 0, false, true)).keyframe);
    }

    #[test]
    fn a_keyframe_check_made_before_is_taken_for_its_codec_only() {
        let delta = vp8_packet(7, 0, 300, 4, 0, false, false);
        let view = RtpPacket::parse(&delta).expect("rtp");
        let vp8 = Some(VideoCodec::Vp8);
        let known = |codec, keyframe| Some(KnownKeyframe { codec, keyframe });
        // The caller's answer stands (the payload is not looked at again) …
        let taken = PacketInfo::inspect(vp8, 0, &view, known(VideoCodec::Vp8, true));
        assert!(taken.keyframe);
        assert_eq!(
            PacketInfo {
                keyframe: false,
                ..taken
            },
            PacketInfo::inspect(vp8, 0, &view, None),
            "only the keyframe flag comes from the caller"
        );
        // … but one made for another codec is not this codec's answer.
        let other = PacketInfo::inspect(vp8, 0, &view, known(VideoCodec::H264, true));
        assert!(!other.keyframe);
        let none = PacketInfo::inspect(None, 0, &view, known(VideoCodec::Vp8, true));
        assert!(!none.keyframe, "no codec named: no keyframes");
    }
    /// Arrivals of a stream that has been flowing for a while.
    fn arrivals(last: [Option<Instant>; 3]) -> Arrivals {
        let first = last
            .iter()
            .flatten()
            .min()
            .map(|t| *t - Duration::from_secs(1));
        Arrivals { last, first }
    }

    fn selector(substream: u8, temporal: u8) -> Selector {
        Selector::new(
            LayerPrefs {
                substream,
                temporal,
                fallback: Duration::from_millis(250),
            },
            Duration::from_millis(300),
        )
    }

    #[test]
    fn a_substream_switch_waits_for_a_keyframe_and_asks_for_one_rate_limited() {
        let t0 = Instant::now();
        let mut sel = selector(2, 2);
        let seen = arrivals([Some(t0), Some(t0), Some(t0)]);
        let delta = |layer| PacketInfo {
            layer,
            frame_start: true,
            ..PacketInfo::default()
        };
        let key = |layer| PacketInfo {
            keyframe: true,
            ..delta(layer)
        };
        // Nothing forwarded before a keyframe of the wanted substream; one request.
        let d = sel.select(t0, &delta(2), &seen);
        assert_eq!((d.verdict, d.keyframe_for), (Verdict::Drop, Some(2)));
        let d = sel.select(t0 + Duration::from_millis(10), &delta(2), &seen);
        assert_eq!(
            (d.verdict, d.keyframe_for),
            (Verdict::Drop, None),
            "rate-limited"
        );
        assert_eq!(sel.select(t0, &key(0), &seen).verdict, Verdict::Drop);
        let d = sel.select(t0, &key(2), &seen);
        assert_eq!(d.verdict, Verdict::Forward);
        assert!(d.switched);
        assert_eq!(d.changed, Some((2, 2)));
        assert_eq!(sel.select(t0, &delta(2), &seen).changed, None);
        // Asking for a lower substream: stay on 2 until 0's keyframe, then switch.
        sel.set(Some(0), None, None);
        let d = sel.select(t0, &delta(2), &seen);
        assert_eq!((d.verdict, d.keyframe_for), (Verdict::Forward, Some(0)));
        assert_eq!(sel.select(t0, &delta(0), &seen).verdict, Verdict::Drop);
        let d = sel.select(t0, &key(0), &seen);
        assert_eq!((d.verdict, d.changed), (Verdict::Forward, Some((0, 2))));
        assert_eq!(sel.select(t0, &key(2), &seen).verdict, Verdict::Drop);
    }

    #[test]
    fn a_stopped_substream_falls_back_to_the_highest_lower_one() {
        let t0 = Instant::now();
        let mut sel = selector(2, 2);
        let key = |layer| PacketInfo {
            layer,
            keyframe: true,
            frame_start: true,
            ..PacketInfo::default()
        };
        let seen = arrivals([Some(t0), Some(t0), Some(t0)]);
        assert!(sel.select(t0, &key(2), &seen).switched);
        // 300 ms later substream 2 is silent (fallback 250 ms): 1 is wanted now.
        let t1 = t0 + Duration::from_millis(300);
        let seen = arrivals([Some(t1), Some(t1), Some(t0)]);
        let d = sel.select(
            t1,
            &PacketInfo {
                keyframe: false,
                ..key(1)
            },
            &seen,
        );
        assert_eq!((d.verdict, d.keyframe_for), (Verdict::Drop, Some(1)));
        let d = sel.select(t1, &key(1), &seen);
        assert_eq!((d.verdict, d.changed), (Verdict::Forward, Some((1, 2))));
        // 2 comes back: switch up again at its keyframe.
        let seen = arrivals([Some(t1), Some(t1), Some(t1)]);
        assert_eq!(sel.select(t1, &key(2), &seen).changed, Some((2, 2)));
    }

    #[test]
    fn temporal_layers_above_the_wish_are_skipped_and_raised_only_at_a_sync_frame() {
        let t0 = Instant::now();
        let mut sel = selector(0, 0);
        let seen = arrivals([Some(t0), None, None]);
        let p = |tid, sync, keyframe| PacketInfo {
            layer: 0,
            keyframe,
            tid: Some(tid),
            layer_sync: sync,
            frame_start: true,
            ..PacketInfo::default()
        };
        assert_eq!(
            sel.select(t0, &p(0, false, true), &seen).verdict,
            Verdict::Forward
        );
        assert_eq!(
            sel.select(t0, &p(1, false, false), &seen).verdict,
            Verdict::Skip
        );
        sel.set(None, Some(2), None);
        assert_eq!(
            sel.select(t0, &p(2, false, false), &seen).verdict,
            Verdict::Skip,
            "no sync flag: not yet"
        );
        let d = sel.select(t0, &p(1, true, false), &seen);
        assert_eq!((d.verdict, d.changed), (Verdict::Forward, Some((0, 1))));
        let d = sel.select(t0, &p(2, true, false), &seen);
        assert_eq!((d.verdict, d.changed), (Verdict::Forward, Some((0, 2))));
        sel.set(None, Some(0), None);
        let d = sel.select(t0, &p(2, false, false), &seen);
        assert_eq!(
            (d.verdict, d.changed),
            (Verdict::Skip, Some((0, 0))),
            "down at once"
        );
    }

    #[test]
    fn skipped_packets_leave_no_gap_in_the_subscriber_numbering() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(5, 90_000);
        assert_eq!(run(&mut r, t0, 100, 0).map(|x| x.0), Some(100));
        r.skip(101);
        r.skip(102);
        assert_eq!(run(&mut r, t0, 103, 0).map(|x| x.0), Some(101));
        r.skip(101);
        assert_eq!(
            run(&mut r, t0, 104, 0).map(|x| x.0),
            Some(102),
            "an old packet skipped twice changes nothing"
        );
    }

    #[test]
    fn vp8_picture_ids_continue_across_a_source_change() {
        let mut v = Vp8Rewrite::default();
        let mut a = vp8_packet(1, 0, 1000, 10, 0, false, true);
        v.apply(&mut a[12..], true);
        let mut b = vp8_packet(2, 0, 1001, 10, 1, false, false);
        v.apply(&mut b[12..], true);
        v.resync = true;
        let mut c = vp8_packet(50, 0, 20_000, 200, 0, false, true);
        v.apply(&mut c[12..], true);
        let d = Vp8Descriptor::parse(&c[12..]).expect("descriptor");
        assert_eq!((d.picture_id, d.tl0_pic_idx), (Some(1002), Some(11)));
        let mut e = vp8_packet(51, 0, 20_001, 200, 1, false, false);
        v.apply(&mut e[12..], true);
        let d = Vp8Descriptor::parse(&e[12..]).expect("descriptor");
        assert_eq!((d.picture_id, d.tl0_pic_idx), (Some(1003), Some(11)));
        // A retransmission of the old picture keeps the mapping of its time.
        let mut old = vp8_packet(2, 0, 20_000, 200, 0, false, true);
        v.apply(&mut old[12..], false);
        assert_eq!(
            Vp8Descriptor::parse(&old[12..])
                .expect("descriptor")
                .picture_id,
            Some(1002)
        );
    }

    #[test]
    fn a_young_stream_waits_for_the_wanted_substream_before_substituting() {
        let t0 = Instant::now();
        let mut sel = selector(0, 2);
        let key = |layer| PacketInfo {
            layer,
            keyframe: true,
            frame_start: true,
            ..PacketInfo::default()
        };
        // Substream 1 arrives first; 0 may be just behind it.
        let seen = Arrivals {
            last: [None, Some(t0), None],
            first: Some(t0),
        };
        assert_eq!(sel.select(t0, &key(1), &seen).verdict, Verdict::Drop);
        // Past the fallback without 0, 1 stands in.
        let t1 = t0 + Duration::from_millis(300);
        let seen = Arrivals {
            last: [None, Some(t1), None],
            first: Some(t0),
        };
        assert_eq!(sel.select(t1, &key(1), &seen).changed, Some((1, 2)));
    }

    fn vp8_subscription(simulcast: Option<LayerPrefs>) -> Subscription {
        Subscription {
            subscriber: PeerId(3),
            source: StreamKey {
                publisher: PeerId(1),
                ssrc: 5,
            },
            source_shard: ShardId(0),
            ssrc: 77,
            rtx: None,
            payload_types: Vec::new(),
            extensions: ExtIdMap::new(),
            clock_rate: 90_000,
            kind: MediaKind::Video,
            codec: Some(VideoCodec::Vp8),
            simulcast,
        }
    }

    #[test]
    fn a_resumed_video_subscription_continues_its_numbers_from_a_keyframe() {
        let mut sub = Sub::new(&vp8_subscription(None), 0, Duration::from_millis(500));
        let t0 = Instant::now();
        let seen = arrivals([Some(t0), None, None]);
        let mut p = vp8_packet(100, 1000, 300, 0, 0, false, false);
        assert_eq!(
            sub.select(t0, &info(0, &p), &seen, false).verdict,
            Verdict::Forward
        );
        assert!(sub.rewrite(t0, &mut RtpPacketMut::parse(&mut p).expect("rtp"), true));

        // Pausing asks for nothing; pausing again changes nothing.
        assert!(!sub.set_paused(true));
        assert!(!sub.set_paused(true));
        assert!(sub.paused);
        // Resuming asks for a keyframe and forwards nothing before one.
        assert!(sub.set_paused(false));
        assert!(!sub.paused);
        assert!(!sub.set_paused(false), "resuming twice asks once");
        let t1 = t0 + Duration::from_secs(2);
        let delta = vp8_packet(400, 181_000, 600, 0, 0, false, false);
        assert_eq!(
            sub.select(t1, &info(0, &delta), &seen, false).verdict,
            Verdict::Drop
        );
        let mut key = vp8_packet(401, 181_000, 601, 0, 0, false, true);
        assert_eq!(
            sub.select(t1, &info(0, &key), &seen, false).verdict,
            Verdict::Forward
        );
        let mut pkt = RtpPacketMut::parse(&mut key).expect("rtp");
        assert!(sub.rewrite(t1, &mut pkt, true));
        let out = pkt.as_packet();
        assert_eq!(out.sequence_number(), 101, "no gap for the pause");
        assert_eq!(out.ssrc().0, 77);
        // Timestamps move on by the wall time of the pause.
        assert_eq!(out.timestamp(), 1000 + 180_000);
    }

    #[test]
    fn a_paused_simulcast_subscription_keeps_layer_wishes_for_the_resume() {
        let prefs = LayerPrefs {
            substream: 0,
            temporal: 2,
            fallback: Duration::from_millis(250),
        };
        let mut sub = Sub::new(
            &vp8_subscription(Some(prefs)),
            0,
            Duration::from_millis(500),
        );
        let t0 = Instant::now();
        let seen = arrivals([Some(t0), Some(t0), Some(t0)]);
        let key = |layer| info(layer, &vp8_packet(10, 0, 1, 0, 0, false, true));
        assert!(sub.select(t0, &key(0), &seen, false).switched);
        assert!(!sub.set_paused(true));
        // SetLayers while paused.
        let sel = sub.selector.as_mut().expect("simulcast");
        sel.set(Some(2), None, None);
        // The selector asks for the keyframe itself, with the next packet.
        assert!(!sub.set_paused(false));
        assert_eq!(sub.selector.as_ref().and_then(|s| s.current), None);
        let d = sub.select(t0, &key(0), &seen, false);
        assert_eq!(d.verdict, Verdict::Drop, "substream 0 is no longer wanted");
        let delta2 = info(2, &vp8_packet(11, 0, 2, 0, 0, false, false));
        let d = sub.select(t0, &delta2, &seen, false);
        assert_eq!((d.verdict, d.keyframe_for), (Verdict::Drop, Some(2)));
        let d = sub.select(t0, &key(2), &seen, false);
        assert_eq!((d.verdict, d.changed), (Verdict::Forward, Some((2, 2))));
    }

    #[test]
    fn a_resumed_audio_subscription_needs_no_keyframe() {
        let mut s = vp8_subscription(None);
        s.kind = MediaKind::Audio;
        s.codec = None;
        s.clock_rate = 48_000;
        let mut sub = Sub::new(&s, 0, Duration::from_millis(500));
        assert!(!sub.set_paused(true));
        assert!(!sub.set_paused(false));
        assert_eq!(sub.start, Start::Live);
    }
}

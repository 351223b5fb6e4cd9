//! Transport-wide congestion control feedback
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
//!
//! The FCI lists the fate of `status count` consecutive transport-wide sequence
//! numbers from `base seq`: packet chunks give each one a symbol (not received,
//! received with a 1-byte delta, received with a 2-byte delta), and the receive
//! deltas follow in 250 µs ticks.

use super::{FMT_TWCC, PT_RTPFB, RawRtcp, write_header};
use crate::bytes::{need, pad4, put, u16_at, u24_at, u32_at};
use crate::{RtpError, Ssrc};

/// Offset of the first packet chunk in the body (after the SSRCs and the fixed FCI).
const CHUNKS_AT: usize = 16;
/// Largest run a run-length chunk can carry (13 bits).
const MAX_RUN: usize = 0x1fff;

/// The fixed fields of a TWCC feedback after the SSRCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TwccHeader {
    /// Transport-wide sequence number of the first packet reported.
    pub base_seq: u16,
    /// Reference time in multiples of 64 ms, 24 bits; compare modulo 2^24.
    pub reference_time: u32,
    /// Feedback packet count, incremented per feedback sent.
    pub fb_pkt_count: u8,
}

/// The status a packet chunk gives one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwccSymbol {
    /// 00: not received.
    NotReceived,
    /// 01: received, delta in one unsigned byte.
    SmallDelta,
    /// 10: received, delta in two signed bytes.
    LargeDelta,
}

impl TwccSymbol {
    /// The symbol for 2-bit value `v`; `None` for the reserved 11.
    #[must_use]
    pub const fn from_bits(v: u16) -> Option<Self> {
        match v & 3 {
            0 => Some(Self::NotReceived),
            1 => Some(Self::SmallDelta),
            2 => Some(Self::LargeDelta),
            _ => None,
        }
    }

    /// The symbol that encodes an optional receive delta (in 250 µs ticks).
    #[must_use]
    pub const fn for_delta(delta: Option<i16>) -> Self {
        match delta {
            None => Self::NotReceived,
            Some(0..=255) => Self::SmallDelta,
            Some(_) => Self::LargeDelta,
        }
    }

    const fn bits(self) -> u16 {
        match self {
            Self::NotReceived => 0,
            Self::SmallDelta => 1,
            Self::LargeDelta => 2,
        }
    }

    const fn delta_len(self) -> usize {
        self.bits() as usize
    }
}

/// One packet chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwccChunk {
    /// T=0: `length` packets (13 bits) all with `symbol`.
    RunLength {
        /// The shared symbol.
        symbol: TwccSymbol,
        /// How many packets.
        length: u16,
    },
    /// T=1, S=0: 14 one-bit symbols, first in the most significant bit.
    OneBit(u16),
    /// T=1, S=1: 7 two-bit symbols, first in the most significant pair.
    TwoBit(u16),
}

impl TwccChunk {
    /// Decodes a 16-bit chunk; `None` for a run of the reserved symbol.
    #[must_use]
    pub const fn decode(word: u16) -> Option<Self> {
        if word & 0x8000 == 0 {
            match TwccSymbol::from_bits(word >> 13) {
                Some(symbol) => Some(Self::RunLength {
                    symbol,
                    length: word & 0x1fff,
                }),
                None => None,
            }
        } else if word & 0x4000 == 0 {
            Some(Self::OneBit(word & 0x3fff))
        } else {
            Some(Self::TwoBit(word & 0x3fff))
        }
    }

    /// The 16-bit wire form.
    #[must_use]
    pub const fn encode(self) -> u16 {
        match self {
            Self::RunLength { symbol, length } => (symbol.bits() << 13) | (length & 0x1fff),
            Self::OneBit(v) => 0x8000 | (v & 0x3fff),
            Self::TwoBit(v) => 0xc000 | (v & 0x3fff),
        }
    }

    /// How many packet statuses the chunk holds.
    #[must_use]
    pub const fn capacity(self) -> u16 {
        match self {
            Self::RunLength { length, .. } => length,
            Self::OneBit(_) => 14,
            Self::TwoBit(_) => 7,
        }
    }

    /// The symbol of the `i`-th packet in the chunk; `None` past the capacity or for
    /// a reserved 2-bit value.
    #[must_use]
    pub const fn symbol(self, i: u16) -> Option<TwccSymbol> {
        if i >= self.capacity() {
            return None;
        }
        match self {
            Self::RunLength { symbol, .. } => Some(symbol),
            Self::OneBit(v) => {
                if v >> (13 - i) & 1 == 1 {
                    Some(TwccSymbol::SmallDelta)
                } else {
                    Some(TwccSymbol::NotReceived)
                }
            }
            Self::TwoBit(v) => TwccSymbol::from_bits(v >> (2 * (6 - i))),
        }
    }
}

/// A transport-wide CC feedback view; validated so that iteration cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Twcc<'a> {
    pub(super) raw: RawRtcp<'a>,
    /// End of the chunk list in the body, where the deltas start.
    chunks_end: usize,
}

impl<'a> Twcc<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        let body = raw.body();
        let count = u16_at(body, 10).ok_or(RtpError::Truncated)?;
        if body.len() < CHUNKS_AT {
            return Err(RtpError::Truncated);
        }
        let mut remaining = count;
        let mut at = CHUNKS_AT;
        let mut delta_bytes = 0usize;
        while remaining > 0 {
            let word = u16_at(body, at).ok_or(RtpError::Truncated)?;
            at += 2;
            let chunk = TwccChunk::decode(word).ok_or(RtpError::BadValue)?;
            let n = chunk.capacity().min(remaining);
            if let TwccChunk::RunLength { symbol, .. } = chunk {
                delta_bytes += usize::from(n) * symbol.delta_len();
            } else {
                for i in 0..n {
                    let s = chunk.symbol(i).ok_or(RtpError::BadValue)?;
                    delta_bytes += s.delta_len();
                }
            }
            remaining -= n;
        }
        if body.len() < at + delta_bytes {
            return Err(RtpError::Truncated);
        }
        Ok(Self {
            raw,
            chunks_end: at,
        })
    }

    /// The SSRC of the feedback sender.
    #[must_use]
    pub fn sender_ssrc(&self) -> Ssrc {
        Ssrc(u32_at(self.raw.body(), 0).unwrap_or(0))
    }

    /// The media SSRC field (libwebrtc puts one of the media streams there).
    #[must_use]
    pub fn media_ssrc(&self) -> Ssrc {
        Ssrc(u32_at(self.raw.body(), 4).unwrap_or(0))
    }

    /// Base sequence number, reference time and feedback count.
    #[must_use]
    pub fn header(&self) -> TwccHeader {
        let b = self.raw.body();
        TwccHeader {
            base_seq: u16_at(b, 8).unwrap_or(0),
            reference_time: u24_at(b, 12).unwrap_or(0),
            fb_pkt_count: b.get(15).copied().unwrap_or(0),
        }
    }

    /// How many consecutive sequence numbers the feedback covers.
    #[must_use]
    pub fn status_count(&self) -> u16 {
        u16_at(self.raw.body(), 10).unwrap_or(0)
    }

    /// The packet chunks as sent.
    #[must_use]
    pub fn chunks(&self) -> TwccChunks<'a> {
        TwccChunks {
            raw: self
                .raw
                .body()
                .get(CHUNKS_AT..self.chunks_end)
                .unwrap_or(&[]),
        }
    }

    /// Each covered packet as `(sequence number, receive delta in 250 µs ticks)`,
    /// with `None` for packets not received.
    #[must_use]
    pub fn packets(&self) -> TwccPackets<'a> {
        TwccPackets {
            chunks: self.chunks(),
            deltas: self.raw.body().get(self.chunks_end..).unwrap_or(&[]),
            remaining: self.status_count(),
            seq: self.header().base_seq,
            cur: None,
            index: 0,
            len: 0,
        }
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

/// Iterator over the packet chunks of a TWCC feedback.
#[derive(Debug, Clone)]
pub struct TwccChunks<'a> {
    raw: &'a [u8],
}

impl Iterator for TwccChunks<'_> {
    type Item = TwccChunk;

    fn next(&mut self) -> Option<TwccChunk> {
        let (head, rest) = self.raw.split_first_chunk::<2>()?;
        self.raw = rest;
        TwccChunk::decode(u16::from_be_bytes(*head))
    }
}

/// Iterator over `(sequence number, delta)` of a TWCC feedback.
#[derive(Debug, Clone)]
pub struct TwccPackets<'a> {
    chunks: TwccChunks<'a>,
    deltas: &'a [u8],
    remaining: u16,
    seq: u16,
    cur: Option<TwccChunk>,
    index: u16,
    len: u16,
}

impl Iterator for TwccPackets<'_> {
    type Item = (u16, Option<i16>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let chunk = loop {
            match self.cur {
                Some(c) if self.index < self.len => break c,
                _ => {
                    let c = self.chunks.next()?;
                    self.cur = Some(c);
                    self.index = 0;
                    self.len = c.capacity().min(self.remaining);
                }
            }
        };
        let symbol = chunk.symbol(self.index)?;
        self.index += 1;
        self.remaining -= 1;
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        let delta = match symbol {
            TwccSymbol::NotReceived => None,
            TwccSymbol::SmallDelta => {
                let (&d, rest) = self.deltas.split_first()?;
                self.deltas = rest;
                Some(i16::from(d))
            }
            TwccSymbol::LargeDelta => {
                let (d, rest) = self.deltas.split_first_chunk::<2>()?;
                self.deltas = rest;
                Some(i16::from_be_bytes(*d))
            }
        };
        Some((seq, delta))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

/// Writes a TWCC feedback for `statuses[i]` describing sequence number
/// `header.base_seq + i`; returns its length.
///
/// Each status is `None` (not received) or the receive delta in 250 µs ticks
/// (0–255 takes one byte, anything else two). Chunks are chosen greedily: a run
/// when 14 or more statuses repeat, else a 1-bit vector when no large delta is near,
/// else a run of 7 or more, else a 2-bit vector. The packet is padded to 32 bits with
/// RTCP padding, as libwebrtc does.
///
/// # Errors
/// `ApiMisuse` for no statuses, more than 65535, or a reference time above 24 bits;
/// `BufferTooSmall`.
pub fn write_twcc(
    out: &mut [u8],
    sender: Ssrc,
    media: Ssrc,
    header: &TwccHeader,
    statuses: &[Option<i16>],
) -> Result<usize, RtpError> {
    let count = u16::try_from(statuses.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or(RtpError::ApiMisuse("TWCC needs 1 to 65535 statuses"))?;
    if header.reference_time > 0x00ff_ffff {
        return Err(RtpError::ApiMisuse("TWCC reference time above 24 bits"));
    }
    let (chunk_bytes, delta_bytes) = sizes(statuses);
    let unpadded = 4 + CHUNKS_AT + chunk_bytes + delta_bytes;
    let len = pad4(unpadded);
    need(out, len)?;
    write_header(out, FMT_TWCC, PT_RTPFB, len)?;
    put(out, 4, &sender.0.to_be_bytes())?;
    put(out, 8, &media.0.to_be_bytes())?;
    put(out, 12, &header.base_seq.to_be_bytes())?;
    put(out, 14, &count.to_be_bytes())?;
    put(out, 16, &header.reference_time.to_be_bytes()[1..])?;
    put(out, 19, &[header.fb_pkt_count])?;
    // Second pass: chunks, then deltas.
    let (mut at, mut rest) = (4 + CHUNKS_AT, statuses);
    while !rest.is_empty() {
        let (chunk, used) = next_chunk(rest);
        put(out, at, &chunk.encode().to_be_bytes())?;
        at += 2;
        rest = rest.get(used..).unwrap_or(&[]);
    }
    for d in statuses.iter().flatten() {
        match TwccSymbol::for_delta(Some(*d)) {
            TwccSymbol::SmallDelta => {
                put(out, at, &[*d as u8])?;
                at += 1;
            }
            _ => {
                put(out, at, &d.to_be_bytes())?;
                at += 2;
            }
        }
    }
    if len > unpadded {
        if let Some(z) = out.get_mut(unpadded..len) {
            z.fill(0);
        }
        put(out, len - 1, &[(len - unpadded) as u8])?;
        if let Some(b0) = out.first_mut() {
            *b0 |= 0x20;
        }
    }
    Ok(len)
}

/// Bytes that [`write_twcc`] needs for `statuses` (header, chunks, deltas and
/// padding), so a feedback generator can split its statuses to fit an MTU.
#[must_use]
pub fn twcc_encoded_len(statuses: &[Option<i16>]) -> usize {
    let (chunk_bytes, delta_bytes) = sizes(statuses);
    pad4(4 + CHUNKS_AT + chunk_bytes + delta_bytes)
}

/// Bytes of packet chunks and of receive deltas for `statuses`.
fn sizes(statuses: &[Option<i16>]) -> (usize, usize) {
    let mut chunk_bytes = 0;
    let mut rest = statuses;
    while !rest.is_empty() {
        let (_, used) = next_chunk(rest);
        chunk_bytes += 2;
        rest = rest.get(used..).unwrap_or(&[]);
    }
    let delta_bytes = statuses
        .iter()
        .map(|d| TwccSymbol::for_delta(*d).delta_len())
        .sum();
    (chunk_bytes, delta_bytes)
}

/// Picks the chunk for the front of `s` (non-empty) and how many statuses it covers.
fn next_chunk(s: &[Option<i16>]) -> (TwccChunk, usize) {
    let sym = |d: &Option<i16>| TwccSymbol::for_delta(*d);
    let first = s.first().map_or(TwccSymbol::NotReceived, sym);
    let run = s
        .iter()
        .take(MAX_RUN)
        .take_while(|d| sym(d) == first)
        .count();
    let one_bit = s
        .iter()
        .take(14)
        .take_while(|d| sym(d) != TwccSymbol::LargeDelta)
        .count();
    let run_chunk = TwccChunk::RunLength {
        symbol: first,
        length: run as u16,
    };
    if run >= 14 || run == s.len() {
        (run_chunk, run)
    } else if one_bit == s.len().min(14) {
        let mut v = 0u16;
        for (i, d) in s.iter().take(14).enumerate() {
            if d.is_some() {
                v |= 1 << (13 - i);
            }
        }
        (TwccChunk::OneBit(v), one_bit)
    } else if run >= 7 {
        (run_chunk, run)
    } else {
        let n = s.len().min(7);
        let mut v = 0u16;
        for (i, d) in s.iter().take(7).enumerate() {
            v |= sym(d).bits() << (2 * (6 - i));
        }
        (TwccChunk::TwoBit(v), n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::RtcpPacket;

    fn parse(b: &[u8]) -> Twcc<'_> {
        match RtcpPacket::parse(b) {
            Ok(RtcpPacket::Twcc(t)) => t,
            other => panic!("not TWCC: {other:?}"),
        }
    }

    #[test]
    fn chunk_codec_matches_draft_examples() {
        // draft §3.1.3: run of 221 "received, small delta" = 0x20dd.
        assert_eq!(
            TwccChunk::decode(0x20dd),
            Some(TwccChunk::RunLength {
                symbol: TwccSymbol::SmallDelta,
                length: 221
            })
        );
        // draft §3.1.4: 1-bit vector 0b1_0_01100_1000000 … first symbol in the MSB.
        let c = TwccChunk::decode(0b1001_1001_0000_0000).unwrap();
        assert_eq!(c.symbol(0), Some(TwccSymbol::NotReceived));
        assert_eq!(c.symbol(1), Some(TwccSymbol::SmallDelta));
        assert_eq!(c.symbol(2), Some(TwccSymbol::SmallDelta));
        assert_eq!(c.symbol(3), Some(TwccSymbol::NotReceived));
        // 2-bit vector: received large, then 6 not received.
        let c = TwccChunk::decode(0b1110_0000_0000_0000).unwrap();
        assert_eq!(c.symbol(0), Some(TwccSymbol::LargeDelta));
        assert_eq!(c.symbol(1), Some(TwccSymbol::NotReceived));
        assert_eq!(c.symbol(7), None);
        assert_eq!(TwccChunk::decode(0x6001), None);
        for w in [0x20dd, 0x8123, 0xc555, 0x0000] {
            assert_eq!(TwccChunk::decode(w).unwrap().encode(), w);
        }
    }

    #[test]
    fn parses_hand_built_feedback() {
        // base 100, 4 statuses: small(4), not received, large(-1), small(255).
        // 2-bit vector 01 00 10 01 00 00 00 → 0xd240.
        let b = [
            0x8f, 205, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 100, 0, 4, 0, 0, 0x10, 7, 0xd2, 0x40, 4,
            0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0,
        ];
        let t = parse(&b);
        assert_eq!(
            t.header(),
            TwccHeader {
                base_seq: 100,
                reference_time: 16,
                fb_pkt_count: 7
            }
        );
        assert_eq!(t.status_count(), 4);
        assert_eq!(
            t.packets().collect::<Vec<_>>(),
            [
                (100, Some(4)),
                (101, None),
                (102, Some(-1)),
                (103, Some(255))
            ]
        );
    }

    #[test]
    fn rejects_deltas_past_end_and_reserved_symbols() {
        // One small-delta status but no delta byte.
        let b = [
            0x8f, 205, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0x01, 0, 0,
        ];
        assert_eq!(RtcpPacket::parse(&b[..22]), Err(RtpError::BadLength));
        let mut short = b;
        short[3] = 4; // length 20: no room for the chunk
        assert_eq!(RtcpPacket::parse(&short[..20]), Err(RtpError::Truncated));
        let mut reserved = b;
        reserved[20] = 0x60; // run of symbol 11
        assert_eq!(RtcpPacket::parse(&reserved), Err(RtpError::BadValue));
    }

    #[test]
    fn run_of_received_packets_round_trips() {
        let st: Vec<Option<i16>> = (0..300).map(|i| Some((i % 200) as i16)).collect();
        let h = TwccHeader {
            base_seq: 65500,
            reference_time: 0x00ab_cdef,
            fb_pkt_count: 9,
        };
        let mut out = [0u8; 512];
        let n = write_twcc(&mut out, Ssrc(1), Ssrc(2), &h, &st).unwrap();
        assert_eq!(n % 4, 0);
        assert_eq!(n, twcc_encoded_len(&st));
        let t = parse(&out[..n]);
        assert_eq!(t.header(), h);
        assert_eq!(
            t.chunks().collect::<Vec<_>>(),
            [TwccChunk::RunLength {
                symbol: TwccSymbol::SmallDelta,
                length: 300
            }]
        );
        let got: Vec<_> = t.packets().collect();
        assert_eq!(got.len(), 300);
        assert_eq!(got[36], (0, Some(36)));
        assert!(got.iter().zip(&st).all(|(g, s)| g.1 == *s));
    }

    #[test]
    fn mixed_statuses_use_vectors_and_round_trip() {
        let st = [
            Some(1),
            None,
            Some(300),
            Some(-5),
            None,
            None,
            Some(0),
            Some(2),
            None,
            Some(255),
            Some(256),
        ];
        let mut out = [0u8; 128];
        let n = write_twcc(&mut out, Ssrc(1), Ssrc(2), &TwccHeader::default(), &st).unwrap();
        let t = parse(&out[..n]);
        let got: Vec<_> = t.packets().map(|p| p.1).collect();
        assert_eq!(got, st);
        assert!(
            t.chunks()
                .all(|c| matches!(c, TwccChunk::TwoBit(_) | TwccChunk::OneBit(_)))
        );
    }

    #[test]
    fn writer_rejects_bad_arguments() {
        let mut out = [0u8; 64];
        let h = TwccHeader::default();
        assert!(write_twcc(&mut out, Ssrc(1), Ssrc(2), &h, &[]).is_err());
        let big = TwccHeader {
            reference_time: 1 << 24,
            ..h
        };
        assert!(write_twcc(&mut out, Ssrc(1), Ssrc(2), &big, &[None]).is_err());
    }
}

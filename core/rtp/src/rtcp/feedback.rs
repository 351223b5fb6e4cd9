//! Feedback messages: generic NACK and PLI (RFC 4585 §6.2.1, §6.3.1), FIR
//! (RFC 5104 §4.3.1) and REMB (draft-alvestrand-rmcat-remb-03 §2.2).

use super::{FMT_AFB, FMT_FIR, FMT_NACK, FMT_PLI, PT_PSFB, PT_RTPFB, RawRtcp, write_header};
use crate::bytes::{need, put, u24_at, u32_at};
use crate::{RtpError, Ssrc};

/// Sender and media SSRC of any feedback message (RFC 4585 §6.1).
fn ssrcs(raw: &RawRtcp<'_>) -> (Ssrc, Ssrc) {
    let b = raw.body();
    (
        Ssrc(u32_at(b, 0).unwrap_or(0)),
        Ssrc(u32_at(b, 4).unwrap_or(0)),
    )
}

fn check_common(raw: &RawRtcp<'_>) -> Result<(), RtpError> {
    if raw.body().len() < 8 {
        Err(RtpError::Truncated)
    } else {
        Ok(())
    }
}

fn write_common(out: &mut [u8], sender: Ssrc, media: Ssrc) -> Result<(), RtpError> {
    put(out, 4, &sender.0.to_be_bytes())?;
    put(out, 8, &media.0.to_be_bytes())
}

/// One NACK FCI entry: a lost packet id and a bitmask of the 16 following.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NackPair {
    /// PID: a lost sequence number.
    pub pid: u16,
    /// BLP: bit i set means `pid + i + 1` is lost too.
    pub blp: u16,
}

impl NackPair {
    /// The lost sequence numbers this entry names, in order.
    pub fn lost(self) -> impl Iterator<Item = u16> {
        std::iter::once(self.pid).chain(
            (0..16u16)
                .filter(move |i| self.blp & (1 << i) != 0)
                .map(move |i| self.pid.wrapping_add(i + 1)),
        )
    }
}

/// A generic NACK view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> Nack<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        check_common(&raw)?;
        if !(raw.body().len() - 8).is_multiple_of(4) {
            return Err(RtpError::BadLength);
        }
        Ok(Self { raw })
    }

    /// The SSRC of the packet sender.
    #[must_use]
    pub fn sender_ssrc(&self) -> Ssrc {
        ssrcs(&self.raw).0
    }

    /// The SSRC of the media source the losses are in.
    #[must_use]
    pub fn media_ssrc(&self) -> Ssrc {
        ssrcs(&self.raw).1
    }

    /// The PID/BLP entries.
    #[must_use]
    pub fn pairs(&self) -> NackPairs<'a> {
        NackPairs {
            raw: self.raw.body().get(8..).unwrap_or(&[]),
        }
    }

    /// Every lost sequence number, expanded from the entries in order.
    #[must_use]
    pub fn lost(&self) -> NackLost<'a> {
        NackLost {
            pairs: self.pairs(),
            pid: 0,
            mask: 0,
        }
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

/// Iterator over NACK entries.
#[derive(Debug, Clone)]
pub struct NackPairs<'a> {
    raw: &'a [u8],
}

impl Iterator for NackPairs<'_> {
    type Item = NackPair;

    fn next(&mut self) -> Option<NackPair> {
        let (head, rest) = self.raw.split_first_chunk::<4>()?;
        self.raw = rest;
        Some(NackPair {
            pid: u16::from_be_bytes([head[0], head[1]]),
            blp: u16::from_be_bytes([head[2], head[3]]),
        })
    }
}

/// Iterator over the lost sequence numbers of a NACK.
#[derive(Debug, Clone)]
pub struct NackLost<'a> {
    pairs: NackPairs<'a>,
    pid: u16,
    /// Offsets from `pid` still to yield: bit 0 is the PID itself, bit i the BLP bit
    /// for `pid + i`.
    mask: u32,
}

impl Iterator for NackLost<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        while self.mask == 0 {
            let p = self.pairs.next()?;
            self.pid = p.pid;
            self.mask = 1 | (u32::from(p.blp) << 1);
        }
        let offset = self.mask.trailing_zeros();
        self.mask &= self.mask - 1;
        Some(self.pid.wrapping_add(offset as u16))
    }
}

/// Writes a generic NACK for the `lost` sequence numbers; returns its length.
///
/// Numbers are packed greedily into PID/BLP entries: each entry starts at a number
/// and takes in the next ones that lie 1–16 after it. Ascending input (with wraps)
/// gives the fewest entries; any order is still reported correctly.
///
/// # Errors
/// `ApiMisuse` for an empty list; `BufferTooSmall`.
pub fn write_nack(
    out: &mut [u8],
    sender: Ssrc,
    media: Ssrc,
    lost: &[u16],
) -> Result<usize, RtpError> {
    let Some((&first, rest)) = lost.split_first() else {
        return Err(RtpError::ApiMisuse("NACK with no lost packets"));
    };
    let mut at = 12;
    let mut cur = NackPair { pid: first, blp: 0 };
    for &seq in rest {
        let d = seq.wrapping_sub(cur.pid);
        if (1..=16).contains(&d) {
            cur.blp |= 1 << (d - 1);
        } else if d != 0 {
            write_pair(out, at, cur)?;
            at += 4;
            cur = NackPair { pid: seq, blp: 0 };
        }
    }
    write_pair(out, at, cur)?;
    at += 4;
    write_header(out, FMT_NACK, PT_RTPFB, at)?;
    write_common(out, sender, media)?;
    Ok(at)
}

/// Writes a generic NACK with exactly the given entries; returns its length.
///
/// # Errors
/// `ApiMisuse` for no entries; `BufferTooSmall`.
pub fn write_nack_pairs(
    out: &mut [u8],
    sender: Ssrc,
    media: Ssrc,
    pairs: &[NackPair],
) -> Result<usize, RtpError> {
    if pairs.is_empty() {
        return Err(RtpError::ApiMisuse("NACK with no lost packets"));
    }
    let len = 12 + 4 * pairs.len();
    write_header(out, FMT_NACK, PT_RTPFB, len)?;
    write_common(out, sender, media)?;
    for (i, p) in pairs.iter().enumerate() {
        write_pair(out, 12 + 4 * i, *p)?;
    }
    Ok(len)
}

fn write_pair(out: &mut [u8], at: usize, p: NackPair) -> Result<(), RtpError> {
    need(out, at + 4)?;
    put(out, at, &p.pid.to_be_bytes())?;
    put(out, at + 2, &p.blp.to_be_bytes())
}

/// A picture loss indication view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pli<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> Pli<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        check_common(&raw)?;
        Ok(Self { raw })
    }

    /// The SSRC of the packet sender.
    #[must_use]
    pub fn sender_ssrc(&self) -> Ssrc {
        ssrcs(&self.raw).0
    }

    /// The SSRC of the media source that needs a keyframe.
    #[must_use]
    pub fn media_ssrc(&self) -> Ssrc {
        ssrcs(&self.raw).1
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

/// Writes a PLI; returns its length (12).
///
/// # Errors
/// `BufferTooSmall`.
pub fn write_pli(out: &mut [u8], sender: Ssrc, media: Ssrc) -> Result<usize, RtpError> {
    write_header(out, FMT_PLI, PT_PSFB, 12)?;
    write_common(out, sender, media)?;
    Ok(12)
}

/// One FIR FCI entry (RFC 5104 §4.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirEntry {
    /// The media sender asked for a decoder refresh point.
    pub ssrc: Ssrc,
    /// Command sequence number, incremented per new request.
    pub seq: u8,
}

/// A full intra request view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> Fir<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        check_common(&raw)?;
        if !(raw.body().len() - 8).is_multiple_of(8) {
            return Err(RtpError::BadLength);
        }
        Ok(Self { raw })
    }

    /// The SSRC of the packet sender.
    #[must_use]
    pub fn sender_ssrc(&self) -> Ssrc {
        ssrcs(&self.raw).0
    }

    /// The media SSRC field (unused by FIR and normally 0).
    #[must_use]
    pub fn media_ssrc(&self) -> Ssrc {
        ssrcs(&self.raw).1
    }

    /// The requests, one per media sender.
    #[must_use]
    pub fn entries(&self) -> FirEntries<'a> {
        FirEntries {
            raw: self.raw.body().get(8..).unwrap_or(&[]),
        }
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

/// Iterator over FIR entries.
#[derive(Debug, Clone)]
pub struct FirEntries<'a> {
    raw: &'a [u8],
}

impl Iterator for FirEntries<'_> {
    type Item = FirEntry;

    fn next(&mut self) -> Option<FirEntry> {
        let (head, rest) = self.raw.split_first_chunk::<8>()?;
        self.raw = rest;
        Some(FirEntry {
            ssrc: Ssrc(u32::from_be_bytes([head[0], head[1], head[2], head[3]])),
            seq: head[4],
        })
    }
}

/// Writes a FIR with the given entries (media SSRC 0, RFC 5104 §4.3.1.2); returns
/// its length.
///
/// # Errors
/// `ApiMisuse` for no entries; `BufferTooSmall`.
pub fn write_fir(out: &mut [u8], sender: Ssrc, entries: &[FirEntry]) -> Result<usize, RtpError> {
    if entries.is_empty() {
        return Err(RtpError::ApiMisuse("FIR with no entries"));
    }
    let len = 12 + 8 * entries.len();
    write_header(out, FMT_FIR, PT_PSFB, len)?;
    write_common(out, sender, Ssrc(0))?;
    for (i, e) in entries.iter().enumerate() {
        let at = 12 + 8 * i;
        put(out, at, &e.ssrc.0.to_be_bytes())?;
        put(out, at + 4, &[e.seq, 0, 0, 0])?;
    }
    Ok(len)
}

const REMB_ID: &[u8; 4] = b"REMB";

/// A receiver estimated maximum bitrate view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> Remb<'a> {
    pub(super) fn is_remb(raw: &RawRtcp<'_>) -> bool {
        raw.body().get(8..12) == Some(REMB_ID)
    }

    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        let b = raw.body();
        let n = usize::from(*b.get(12).ok_or(RtpError::Truncated)?);
        if b.len() < 16 + 4 * n {
            return Err(RtpError::Truncated);
        }
        Ok(Self { raw })
    }

    /// The SSRC of the packet sender.
    #[must_use]
    pub fn sender_ssrc(&self) -> Ssrc {
        ssrcs(&self.raw).0
    }

    /// The 6-bit exponent.
    #[must_use]
    pub fn exponent(&self) -> u8 {
        (self.word() >> 18) as u8
    }

    /// The 18-bit mantissa.
    #[must_use]
    pub fn mantissa(&self) -> u32 {
        self.word() & 0x3_ffff
    }

    /// The estimate in bits per second, `mantissa << exponent`, saturating.
    #[must_use]
    pub fn bitrate(&self) -> u64 {
        let m = u64::from(self.mantissa());
        let e = u32::from(self.exponent());
        if m == 0 {
            0
        } else if e + (64 - m.leading_zeros()) > 64 {
            u64::MAX
        } else {
            m << e
        }
    }

    /// The media sources the estimate applies to.
    #[must_use]
    pub fn ssrcs(&self) -> RembSsrcs<'a> {
        let b = self.raw.body();
        let n = usize::from(b.get(12).copied().unwrap_or(0));
        RembSsrcs {
            raw: b.get(16..16 + 4 * n).unwrap_or(&[]),
        }
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }

    fn word(&self) -> u32 {
        u24_at(self.raw.body(), 13).unwrap_or(0)
    }
}

/// Iterator over the SSRCs of a REMB.
#[derive(Debug, Clone)]
pub struct RembSsrcs<'a> {
    raw: &'a [u8],
}

impl Iterator for RembSsrcs<'_> {
    type Item = Ssrc;

    fn next(&mut self) -> Option<Ssrc> {
        let (head, rest) = self.raw.split_first_chunk::<4>()?;
        self.raw = rest;
        Some(Ssrc(u32::from_be_bytes(*head)))
    }
}

/// Writes a REMB for `ssrcs`; returns its length.
///
/// `bitrate` is rounded down to the 18-bit mantissa the format carries.
///
/// # Errors
/// `ApiMisuse` for more than 255 SSRCs; `BufferTooSmall`.
pub fn write_remb(
    out: &mut [u8],
    sender: Ssrc,
    bitrate: u64,
    ssrcs: &[Ssrc],
) -> Result<usize, RtpError> {
    let n = u8::try_from(ssrcs.len()).map_err(|_| RtpError::ApiMisuse("over 255 REMB SSRCs"))?;
    let len = 20 + 4 * ssrcs.len();
    write_header(out, FMT_AFB, PT_PSFB, len)?;
    write_common(out, sender, Ssrc(0))?;
    let (mut m, mut e) = (bitrate, 0u32);
    while m > 0x3_ffff {
        m >>= 1;
        e += 1;
    }
    let word = (e << 18) | m as u32;
    put(out, 12, REMB_ID)?;
    put(out, 16, &[n])?;
    put(out, 17, &word.to_be_bytes()[1..])?;
    for (i, s) in ssrcs.iter().enumerate() {
        put(out, 20 + 4 * i, &s.0.to_be_bytes())?;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::RtcpPacket;

    #[test]
    fn nack_pair_expands_blp_bits() {
        // RFC 4585 §6.2.1: PID 100, BLP 0b1000_0000_0000_0101 → 100, 101, 103, 116.
        let p = NackPair {
            pid: 100,
            blp: 0x8005,
        };
        assert_eq!(p.lost().collect::<Vec<_>>(), [100, 101, 103, 116]);
    }

    #[test]
    fn parses_hand_built_nack() {
        let b = [
            0x81, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0x00, 0x01, 0x00, 0x10, 0, 0,
        ];
        let RtcpPacket::Nack(n) = RtcpPacket::parse(&b).unwrap() else {
            panic!("not NACK");
        };
        assert_eq!(n.sender_ssrc(), Ssrc(1));
        assert_eq!(n.media_ssrc(), Ssrc(2));
        assert_eq!(n.pairs().count(), 2);
        // The BLP wraps past 65535.
        assert_eq!(n.lost().collect::<Vec<_>>(), [65535, 0, 16]);
    }

    #[test]
    fn nack_builder_packs_runs_into_pairs() {
        let lost = [10, 11, 26, 27, 65535, 0, 3];
        let mut out = [0u8; 64];
        let n = write_nack(&mut out, Ssrc(1), Ssrc(2), &lost).unwrap();
        let RtcpPacket::Nack(nack) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not NACK");
        };
        assert_eq!(
            nack.pairs().collect::<Vec<_>>(),
            [
                NackPair {
                    pid: 10,
                    blp: 1 | (1 << 15)
                },
                NackPair { pid: 27, blp: 0 },
                NackPair {
                    pid: 65535,
                    blp: 1 | (1 << 3)
                },
            ]
        );
        assert_eq!(nack.lost().collect::<Vec<_>>(), lost);
        assert!(write_nack(&mut out, Ssrc(1), Ssrc(2), &[]).is_err());
    }

    #[test]
    fn nack_builder_reports_small_buffer() {
        let lost: Vec<u16> = (0..100).map(|i| i * 20).collect();
        let mut out = [0u8; 64];
        assert!(matches!(
            write_nack(&mut out, Ssrc(1), Ssrc(2), &lost),
            Err(RtpError::BufferTooSmall { .. })
        ));
    }

    #[test]
    fn pli_round_trip() {
        let mut out = [0u8; 12];
        assert_eq!(write_pli(&mut out, Ssrc(7), Ssrc(8)), Ok(12));
        assert_eq!(out, [0x81, 206, 0, 2, 0, 0, 0, 7, 0, 0, 0, 8]);
        let RtcpPacket::Pli(p) = RtcpPacket::parse(&out).unwrap() else {
            panic!("not PLI");
        };
        assert_eq!((p.sender_ssrc(), p.media_ssrc()), (Ssrc(7), Ssrc(8)));
    }

    #[test]
    fn fir_round_trip() {
        let e = [
            FirEntry {
                ssrc: Ssrc(9),
                seq: 3,
            },
            FirEntry {
                ssrc: Ssrc(10),
                seq: 255,
            },
        ];
        let mut out = [0u8; 32];
        let n = write_fir(&mut out, Ssrc(1), &e).unwrap();
        assert_eq!(n, 28);
        assert_eq!(&out[12..20], &[0, 0, 0, 9, 3, 0, 0, 0]);
        let RtcpPacket::Fir(f) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not FIR");
        };
        assert_eq!(f.media_ssrc(), Ssrc(0));
        assert_eq!(f.entries().collect::<Vec<_>>(), e);
    }

    #[test]
    fn parses_hand_built_remb() {
        // draft-alvestrand-rmcat-remb §2.2: 1 SSRC, exp 2, mantissa 0x3e8 → 4000 bps.
        let b = [
            0x8f, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 1, 0x08, 0x03, 0xe8,
            0, 0, 0, 9,
        ];
        let RtcpPacket::Remb(r) = RtcpPacket::parse(&b).unwrap() else {
            panic!("not REMB");
        };
        assert_eq!(r.exponent(), 2);
        assert_eq!(r.mantissa(), 1000);
        assert_eq!(r.bitrate(), 4000);
        assert_eq!(r.ssrcs().collect::<Vec<_>>(), [Ssrc(9)]);
    }

    #[test]
    fn remb_builder_rounds_to_mantissa() {
        let mut out = [0u8; 32];
        let n = write_remb(&mut out, Ssrc(1), 2_500_000, &[Ssrc(5), Ssrc(6)]).unwrap();
        let RtcpPacket::Remb(r) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not REMB");
        };
        assert!(r.mantissa() <= 0x3_ffff);
        let got = r.bitrate();
        assert!(got <= 2_500_000 && 2_500_000 - got < 1 << r.exponent());
        assert_eq!(r.ssrcs().count(), 2);
        let n = write_remb(&mut out, Ssrc(1), u64::MAX, &[]).unwrap();
        let RtcpPacket::Remb(r) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not REMB");
        };
        assert_eq!(r.exponent(), 46);
        assert_eq!(r.bitrate(), 0x3_ffff << 46);
    }

    #[test]
    fn remb_saturates_on_huge_exponent() {
        let b = [
            0x8f, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 0, 0xff, 0xff, 0xff,
        ];
        let RtcpPacket::Remb(r) = RtcpPacket::parse(&b).unwrap() else {
            panic!("not REMB");
        };
        assert_eq!(r.bitrate(), u64::MAX);
    }

    #[test]
    fn rejects_remb_with_missing_ssrcs() {
        let b = [
            0x8f, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 2, 0, 0, 1,
        ];
        assert_eq!(RtcpPacket::parse(&b), Err(RtpError::Truncated));
    }
}

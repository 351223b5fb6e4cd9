//! Sender and receiver reports (RFC 3550 §6.4).

use super::{PT_RR, PT_SR, RawRtcp, write_header};
use crate::bytes::{put, u32_at, u64_at};
use crate::{RtpError, Ssrc};

const BLOCK_LEN: usize = 24;
const SENDER_INFO_LEN: usize = 20;

/// The sender-info section of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SenderInfo {
    /// NTP timestamp, 32.32 fixed point.
    pub ntp_time: u64,
    /// RTP timestamp corresponding to `ntp_time`.
    pub rtp_time: u32,
    /// Packets sent since the start of transmission.
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission.
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost: a signed 24-bit value (negative with
    /// duplicates). The writer clamps it to −8388608..=8388607 (RFC 3550 §A.3).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> Option<Self> {
        let lost_word = u32_at(b, 4)?;
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((lost_word << 8) as i32) >> 8;
        Some(Self {
            ssrc: Ssrc(u32_at(b, 0)?),
            fraction_lost: (lost_word >> 24) as u8,
            cumulative_lost,
            highest_seq: u32_at(b, 8)?,
            jitter: u32_at(b, 12)?,
            last_sr: u32_at(b, 16)?,
            delay_since_last_sr: u32_at(b, 20)?,
        })
    }

    fn write(&self, out: &mut [u8], at: usize) -> Result<(), RtpError> {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        put(out, at, &self.ssrc.0.to_be_bytes())?;
        put(
            out,
            at + 4,
            &((u32::from(self.fraction_lost) << 24) | lost).to_be_bytes(),
        )?;
        put(out, at + 8, &self.highest_seq.to_be_bytes())?;
        put(out, at + 12, &self.jitter.to_be_bytes())?;
        put(out, at + 16, &self.last_sr.to_be_bytes())?;
        put(out, at + 20, &self.delay_since_last_sr.to_be_bytes())
    }
}

/// Iterator over report blocks.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    raw: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let (head, rest) = self.raw.split_at_checked(BLOCK_LEN)?;
        self.raw = rest;
        ReportBlock::parse(head)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.raw.len() / BLOCK_LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

/// A sender report view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> SenderReport<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        let need = 4 + SENDER_INFO_LEN + BLOCK_LEN * usize::from(raw.count());
        if raw.body().len() < need {
            return Err(RtpError::Truncated);
        }
        Ok(Self { raw })
    }

    /// The sender's SSRC.
    #[must_use]
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32_at(self.raw.body(), 0).unwrap_or(0))
    }

    /// The sender-info section.
    #[must_use]
    pub fn sender_info(&self) -> SenderInfo {
        let b = self.raw.body();
        SenderInfo {
            ntp_time: u64_at(b, 4).unwrap_or(0),
            rtp_time: u32_at(b, 12).unwrap_or(0),
            packet_count: u32_at(b, 16).unwrap_or(0),
            octet_count: u32_at(b, 20).unwrap_or(0),
        }
    }

    /// The reception report blocks.
    #[must_use]
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        blocks(self.raw, 4 + SENDER_INFO_LEN)
    }

    /// Profile-specific extension bytes after the blocks (usually empty).
    #[must_use]
    pub fn profile_extension(&self) -> &'a [u8] {
        tail(self.raw, 4 + SENDER_INFO_LEN)
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

/// A receiver report view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> ReceiverReport<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        if raw.body().len() < 4 + BLOCK_LEN * usize::from(raw.count()) {
            return Err(RtpError::Truncated);
        }
        Ok(Self { raw })
    }

    /// The reporter's SSRC.
    #[must_use]
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32_at(self.raw.body(), 0).unwrap_or(0))
    }

    /// The reception report blocks.
    #[must_use]
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        blocks(self.raw, 4)
    }

    /// Profile-specific extension bytes after the blocks (usually empty).
    #[must_use]
    pub fn profile_extension(&self) -> &'a [u8] {
        tail(self.raw, 4)
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

fn blocks(raw: RawRtcp<'_>, at: usize) -> ReportBlocks<'_> {
    let end = at + BLOCK_LEN * usize::from(raw.count());
    ReportBlocks {
        raw: raw.body().get(at..end).unwrap_or(&[]),
    }
}

fn tail(raw: RawRtcp<'_>, at: usize) -> &[u8] {
    let end = at + BLOCK_LEN * usize::from(raw.count());
    raw.body().get(end..).unwrap_or(&[])
}

/// Writes a sender report with up to 31 report blocks; returns its length.
///
/// # Errors
/// `ApiMisuse` for more than 31 blocks; `BufferTooSmall`.
pub fn write_sr(
    out: &mut [u8],
    ssrc: Ssrc,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Result<usize, RtpError> {
    let count = block_count(blocks)?;
    let len = 8 + SENDER_INFO_LEN + BLOCK_LEN * blocks.len();
    write_header(out, count, PT_SR, len)?;
    put(out, 4, &ssrc.0.to_be_bytes())?;
    put(out, 8, &info.ntp_time.to_be_bytes())?;
    put(out, 16, &info.rtp_time.to_be_bytes())?;
    put(out, 20, &info.packet_count.to_be_bytes())?;
    put(out, 24, &info.octet_count.to_be_bytes())?;
    for (i, b) in blocks.iter().enumerate() {
        b.write(out, 28 + BLOCK_LEN * i)?;
    }
    Ok(len)
}

/// Writes a receiver report with up to 31 report blocks; returns its length.
///
/// An RR with no blocks is the usual first packet of a compound that carries only
/// feedback (RFC 4585 §3.1).
///
/// # Errors
/// `ApiMisuse` for more than 31 blocks; `BufferTooSmall`.
pub fn write_rr(out: &mut [u8], ssrc: Ssrc, blocks: &[ReportBlock]) -> Result<usize, RtpError> {
    let count = block_count(blocks)?;
    let len = 8 + BLOCK_LEN * blocks.len();
    write_header(out, count, PT_RR, len)?;
    put(out, 4, &ssrc.0.to_be_bytes())?;
    for (i, b) in blocks.iter().enumerate() {
        b.write(out, 8 + BLOCK_LEN * i)?;
    }
    Ok(len)
}

fn block_count(blocks: &[ReportBlock]) -> Result<u8, RtpError> {
    u8::try_from(blocks.len())
        .ok()
        .filter(|&n| n <= 31)
        .ok_or(RtpError::ApiMisuse("more than 31 report blocks"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::RtcpPacket;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: Ssrc(0x0102_0304),
            fraction_lost: 0x40,
            cumulative_lost: -2,
            highest_seq: 0x0001_0010,
            jitter: 33,
            last_sr: 0xaabb_ccdd,
            delay_since_last_sr: 0x0001_8000,
        }
    }

    #[test]
    fn parses_hand_built_sender_report() {
        // RFC 3550 §6.4.1 layout, one report block.
        let mut b = vec![0x81, 200, 0, 12];
        b.extend_from_slice(&0x1111_2222u32.to_be_bytes()); // SSRC
        b.extend_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes()); // NTP
        b.extend_from_slice(&[0, 0, 0x0b, 0xb8]); // RTP ts 3000
        b.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0x04, 0]); // 10 packets, 1024 octets
        b.extend_from_slice(&[0, 0, 0, 7, 0x80, 0xff, 0xff, 0xfe]); // SSRC 7, 50 %, -2
        b.extend_from_slice(&[0, 1, 0, 5, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2]);
        let RtcpPacket::Sr(sr) = RtcpPacket::parse(&b).unwrap() else {
            panic!("not an SR");
        };
        assert_eq!(sr.ssrc(), Ssrc(0x1111_2222));
        assert_eq!(
            sr.sender_info(),
            SenderInfo {
                ntp_time: 0x0102_0304_0506_0708,
                rtp_time: 3000,
                packet_count: 10,
                octet_count: 1024
            }
        );
        let blocks: Vec<_> = sr.report_blocks().collect();
        assert_eq!(
            blocks,
            [ReportBlock {
                ssrc: Ssrc(7),
                fraction_lost: 0x80,
                cumulative_lost: -2,
                highest_seq: 0x0001_0005,
                jitter: 9,
                last_sr: 1,
                delay_since_last_sr: 2
            }]
        );
        assert!(sr.profile_extension().is_empty());
    }

    #[test]
    fn sr_and_rr_round_trip() {
        let mut out = [0u8; 128];
        let info = SenderInfo {
            ntp_time: 1 << 40,
            rtp_time: 90_000,
            packet_count: 3,
            octet_count: 3000,
        };
        let n = write_sr(&mut out, Ssrc(9), &info, &[block(), block()]).unwrap();
        assert_eq!(n, 28 + 48);
        let RtcpPacket::Sr(sr) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not an SR");
        };
        assert_eq!(sr.sender_info(), info);
        assert_eq!(sr.report_blocks().collect::<Vec<_>>(), [block(), block()]);

        let n = write_rr(&mut out, Ssrc(9), &[block()]).unwrap();
        let RtcpPacket::Rr(rr) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not an RR");
        };
        assert_eq!(rr.ssrc(), Ssrc(9));
        assert_eq!(rr.report_blocks().len(), 1);
        assert_eq!(rr.report_blocks().next(), Some(block()));
    }

    #[test]
    fn cumulative_lost_is_clamped_to_24_bits() {
        let mut b = block();
        b.cumulative_lost = 0x0100_0000;
        let mut out = [0u8; 32];
        let n = write_rr(&mut out, Ssrc(1), &[b]).unwrap();
        let RtcpPacket::Rr(rr) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not an RR");
        };
        assert_eq!(
            rr.report_blocks().next().unwrap().cumulative_lost,
            0x7f_ffff
        );
    }

    #[test]
    fn rejects_report_count_beyond_body() {
        let b = [0x81, 201, 0, 1, 0, 0, 0, 1];
        assert_eq!(RtcpPacket::parse(&b), Err(RtpError::Truncated));
    }

    #[test]
    fn rejects_too_many_blocks() {
        let blocks = [block(); 32];
        assert!(write_rr(&mut [0u8; 1024], Ssrc(1), &blocks).is_err());
    }
}

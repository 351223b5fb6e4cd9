//! RTCP (RFC 3550 §6) and its feedback messages: typed views over a compound
//! datagram, and `write_*` builders into caller buffers.
//!
//! [`RtcpCompound`] walks the packets of a (decrypted) datagram. It does not insist
//! that a compound starts with SR or RR, so reduced-size RTCP (RFC 5506) is accepted.
//! Each packet is parsed into an [`RtcpPacket`]; types this crate does not model
//! (APP, XR, other feedback formats) come through as [`RawRtcp`].
//!
//! Builders write one packet each and return its length; a compound is built by
//! writing packets one after another:
//!
//! ```
//! use portunus_rtp::rtcp::{RtcpCompound, RtcpPacket, write_nack, write_rr};
//! use portunus_rtp::Ssrc;
//! let mut buf = [0u8; 64];
//! let mut n = write_rr(&mut buf, Ssrc(1), &[])?;
//! n += write_nack(&mut buf[n..], Ssrc(1), Ssrc(2), &[100, 101, 117])?;
//! let mut lost = Vec::new();
//! for pkt in RtcpCompound::new(&buf[..n]) {
//!     if let RtcpPacket::Nack(nack) = pkt? {
//!         lost.extend(nack.lost());
//!     }
//! }
//! assert_eq!(lost, [100, 101, 117]);
//! # Ok::<(), portunus_rtp::RtpError>(())
//! ```

mod feedback;
mod report;
mod sdes;
mod twcc;

pub use feedback::{
    Fir, FirEntries, FirEntry, Nack, NackLost, NackPair, NackPairs, Pli, Remb, RembSsrcs,
    write_fir, write_nack, write_nack_pairs, write_pli, write_remb,
};
pub use report::{
    ReceiverReport, ReportBlock, ReportBlocks, SenderInfo, SenderReport, write_rr, write_sr,
};
pub use sdes::{
    Bye, ByeSsrcs, Sdes, SdesChunk, SdesChunks, SdesItem, SdesItems, write_bye, write_sdes,
};
pub use twcc::{
    Twcc, TwccChunk, TwccChunks, TwccHeader, TwccPackets, TwccSymbol, twcc_encoded_len, write_twcc,
};

use crate::RtpError;
use crate::bytes::{need, put, u16_at};

/// Packet type of a sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// Packet type of source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// Packet type of goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// Packet type of application-defined packets (RFC 3550 §6.7).
pub const PT_APP: u8 = 204;
/// Packet type of transport-layer feedback (RFC 4585 §6.2).
pub const PT_RTPFB: u8 = 205;
/// Packet type of payload-specific feedback (RFC 4585 §6.3).
pub const PT_PSFB: u8 = 206;

/// FMT of generic NACK (RFC 4585 §6.2.1).
pub const FMT_NACK: u8 = 1;
/// FMT of transport-wide congestion control feedback (draft-holmer-…-01 §3.1).
pub const FMT_TWCC: u8 = 15;
/// FMT of picture loss indication (RFC 4585 §6.3.1).
pub const FMT_PLI: u8 = 1;
/// FMT of full intra request (RFC 5104 §4.3.1).
pub const FMT_FIR: u8 = 4;
/// FMT of application-layer feedback, used by REMB (RFC 4585 §6.4).
pub const FMT_AFB: u8 = 15;

/// One RTCP packet of a compound, as a typed view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// Sender report.
    Sr(SenderReport<'a>),
    /// Receiver report.
    Rr(ReceiverReport<'a>),
    /// Source description.
    Sdes(Sdes<'a>),
    /// Goodbye.
    Bye(Bye<'a>),
    /// Generic NACK.
    Nack(Nack<'a>),
    /// Picture loss indication.
    Pli(Pli<'a>),
    /// Full intra request.
    Fir(Fir<'a>),
    /// Receiver estimated maximum bitrate.
    Remb(Remb<'a>),
    /// Transport-wide congestion control feedback.
    Twcc(Twcc<'a>),
    /// Any other packet (APP, XR, other feedback formats), passed through untouched.
    Unknown(RawRtcp<'a>),
}

impl<'a> RtcpPacket<'a> {
    /// Parses one RTCP packet that is exactly `buf` (its length field must match).
    ///
    /// # Errors
    /// `BadVersion`, `Truncated`, `BadLength` when the length field disagrees with
    /// `buf`, `BadPadding`, or the type-specific errors of each view.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let raw = RawRtcp::parse(buf)?;
        Ok(match (raw.pt, raw.count) {
            (PT_SR, _) => Self::Sr(SenderReport::new(raw)?),
            (PT_RR, _) => Self::Rr(ReceiverReport::new(raw)?),
            (PT_SDES, _) => Self::Sdes(Sdes::new(raw)?),
            (PT_BYE, _) => Self::Bye(Bye::new(raw)?),
            (PT_RTPFB, FMT_NACK) => Self::Nack(Nack::new(raw)?),
            (PT_RTPFB, FMT_TWCC) => Self::Twcc(Twcc::new(raw)?),
            (PT_PSFB, FMT_PLI) => Self::Pli(Pli::new(raw)?),
            (PT_PSFB, FMT_FIR) => Self::Fir(Fir::new(raw)?),
            (PT_PSFB, FMT_AFB) if Remb::is_remb(&raw) => Self::Remb(Remb::new(raw)?),
            _ => Self::Unknown(raw),
        })
    }

    /// The packet's bytes as received, header and padding included.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw().as_bytes()
    }

    /// The untyped view of the packet.
    #[must_use]
    pub fn raw(&self) -> RawRtcp<'a> {
        match self {
            Self::Sr(p) => p.raw,
            Self::Rr(p) => p.raw,
            Self::Sdes(p) => p.raw,
            Self::Bye(p) => p.raw,
            Self::Nack(p) => p.raw,
            Self::Pli(p) => p.raw,
            Self::Fir(p) => p.raw,
            Self::Remb(p) => p.raw,
            Self::Twcc(p) => p.raw,
            Self::Unknown(p) => *p,
        }
    }
}

/// An RTCP packet with its common header decoded and padding removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRtcp<'a> {
    bytes: &'a [u8],
    body: &'a [u8],
    count: u8,
    pt: u8,
}

impl<'a> RawRtcp<'a> {
    /// Parses the common header of the packet that is exactly `buf`.
    ///
    /// # Errors
    /// `Truncated` below 4 bytes, `BadVersion`, `BadLength` when the length field does
    /// not equal `buf.len()`, `BadPadding` for a zero or oversized padding count.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let len = packet_len(buf)?;
        if len != buf.len() {
            return Err(RtpError::BadLength);
        }
        let (b0, pt) = (buf[0], buf[1]);
        let mut end = len;
        if b0 & 0x20 != 0 {
            let pad = usize::from(buf[len - 1]);
            if pad == 0 || pad > len - 4 {
                return Err(RtpError::BadPadding);
            }
            end -= pad;
        }
        Ok(Self {
            bytes: buf,
            body: buf.get(4..end).unwrap_or(&[]),
            count: b0 & 0x1f,
            pt,
        })
    }

    /// The packet type (PT).
    #[must_use]
    pub const fn packet_type(&self) -> u8 {
        self.pt
    }

    /// The 5-bit count field: report count, source count or feedback FMT.
    #[must_use]
    pub const fn count(&self) -> u8 {
        self.count
    }

    /// Whether the P bit is set.
    #[must_use]
    pub fn has_padding(&self) -> bool {
        self.bytes.first().is_some_and(|b| b & 0x20 != 0)
    }

    /// Everything after the 4-byte common header, padding removed.
    #[must_use]
    pub const fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The packet as received.
    #[must_use]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Iterator over the packets of a compound RTCP datagram.
///
/// Yields one `Result` per packet. A packet whose length field is sound but whose
/// content is malformed yields `Err` and iteration goes on with the next packet; a
/// broken common header ends iteration after its `Err`, because the next packet's
/// start is unknown.
#[derive(Debug, Clone)]
pub struct RtcpCompound<'a> {
    rest: &'a [u8],
}

impl<'a> RtcpCompound<'a> {
    /// Starts iterating `datagram`.
    #[must_use]
    pub const fn new(datagram: &'a [u8]) -> Self {
        Self { rest: datagram }
    }
}

impl<'a> Iterator for RtcpCompound<'a> {
    type Item = Result<RtcpPacket<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let len = match packet_len(self.rest) {
            Ok(len) if len <= self.rest.len() => len,
            Ok(_) => {
                self.rest = &[];
                return Some(Err(RtpError::Truncated));
            }
            Err(e) => {
                self.rest = &[];
                return Some(Err(e));
            }
        };
        let (pkt, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(RtcpPacket::parse(pkt))
    }
}

/// Checks version and returns the total length announced by the common header.
fn packet_len(buf: &[u8]) -> Result<usize, RtpError> {
    let Some(&b0) = buf.first() else {
        return Err(RtpError::Truncated);
    };
    if b0 >> 6 != 2 {
        return Err(RtpError::BadVersion(b0 >> 6));
    }
    let words = u16_at(buf, 2).ok_or(RtpError::Truncated)?;
    Ok(4 * (usize::from(words) + 1))
}

/// Writes a common header for a packet of `len` bytes (a multiple of four).
fn write_header(out: &mut [u8], count: u8, pt: u8, len: usize) -> Result<(), RtpError> {
    need(out, len)?;
    let words = u16::try_from(len / 4 - 1)
        .map_err(|_| RtpError::ApiMisuse("RTCP packet longer than 262144 bytes"))?;
    put(out, 0, &[0x80 | (count & 0x1f), pt])?;
    put(out, 2, &words.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ssrc;

    #[test]
    fn raw_strips_padding_and_reads_header() {
        // RR with no blocks, P set and 4 bytes of padding.
        let b = [0xa0, 201, 0, 2, 0, 0, 0, 9, 0, 0, 0, 4];
        let r = RawRtcp::parse(&b).unwrap();
        assert_eq!(r.packet_type(), 201);
        assert_eq!(r.count(), 0);
        assert!(r.has_padding());
        assert_eq!(r.body(), &[0, 0, 0, 9]);
    }

    #[test]
    fn raw_rejects_bad_headers() {
        assert_eq!(RawRtcp::parse(&[0x80, 201]), Err(RtpError::Truncated));
        assert_eq!(
            RawRtcp::parse(&[0x40, 201, 0, 0]),
            Err(RtpError::BadVersion(1))
        );
        assert_eq!(
            RawRtcp::parse(&[0x80, 201, 0, 1, 0, 0, 0, 0, 0]),
            Err(RtpError::BadLength)
        );
        assert_eq!(
            RawRtcp::parse(&[0xa0, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtpError::BadPadding)
        );
        assert_eq!(
            RawRtcp::parse(&[0xa0, 201, 0, 1, 0, 0, 0, 5]),
            Err(RtpError::BadPadding)
        );
    }

    #[test]
    fn compound_yields_each_packet_and_stops_on_bad_length() {
        let mut buf = [0u8; 64];
        let mut n = write_rr(&mut buf, Ssrc(1), &[]).unwrap();
        n += write_pli(&mut buf[n..], Ssrc(1), Ssrc(2)).unwrap();
        let kinds: Vec<_> = RtcpCompound::new(&buf[..n])
            .map(|p| p.unwrap().raw().packet_type())
            .collect();
        assert_eq!(kinds, [PT_RR, PT_PSFB]);
        // Truncate the second packet: one Ok, then one Err, then the end.
        let mut it = RtcpCompound::new(&buf[..n - 1]);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.next().unwrap(), Err(RtpError::Truncated));
        assert!(it.next().is_none());
    }

    #[test]
    fn compound_continues_after_malformed_content() {
        // A NACK with a sound length but no room for its SSRCs, then a PLI.
        let mut buf = vec![0x81, 205, 0, 0];
        let mut pli = [0u8; 12];
        write_pli(&mut pli, Ssrc(3), Ssrc(4)).unwrap();
        buf.extend_from_slice(&pli);
        let got: Vec<_> = RtcpCompound::new(&buf).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Err(RtpError::Truncated));
        assert!(matches!(got[1], Ok(RtcpPacket::Pli(_))));
    }

    #[test]
    fn reduced_size_single_feedback_is_accepted() {
        let mut buf = [0u8; 12];
        let n = write_pli(&mut buf, Ssrc(1), Ssrc(2)).unwrap();
        let mut it = RtcpCompound::new(&buf[..n]);
        assert!(matches!(it.next(), Some(Ok(RtcpPacket::Pli(_)))));
        assert!(it.next().is_none());
    }

    #[test]
    fn unknown_types_pass_through_raw() {
        // APP packet: subtype 3, name "TEST", 4 bytes of data.
        let b = [
            0x83, 204, 0, 3, 0, 0, 0, 1, b'T', b'E', b'S', b'T', 1, 2, 3, 4,
        ];
        let p = RtcpPacket::parse(&b).unwrap();
        let RtcpPacket::Unknown(raw) = p else {
            panic!("expected Unknown, got {p:?}");
        };
        assert_eq!(raw.count(), 3);
        assert_eq!(raw.as_bytes(), &b);
        // A PSFB/AFB that is not REMB is unknown too.
        let afb = [
            0x8f, 206, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, b'A', b'B', b'C', b'D',
        ];
        assert!(matches!(
            RtcpPacket::parse(&afb),
            Ok(RtcpPacket::Unknown(_))
        ));
    }
}

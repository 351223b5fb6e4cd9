//! RTP retransmission payload format (RFC 4588 §4).
//!
//! An RTX packet repeats the original header (CSRCs and extensions included) with its
//! own payload type, SSRC and sequence number, and carries the original sequence
//! number (OSN) in the first two payload bytes. Padding is not carried over.

use crate::bytes::{need, put, u16_at};
use crate::{RtpError, RtpPacket, Ssrc};

/// Writes the RTX packet for `original` into `out` and returns its length.
///
/// # Errors
/// `ApiMisuse` for `rtx_pt` above 127; `BufferTooSmall` when `out` is short.
///
/// ```
/// use portunus_rtp::{RtpPacket, Ssrc, recover_rtx, write_rtx};
/// let orig = [0x80, 0x60, 0x01, 0x00, 0, 0, 0, 1, 0, 0, 0, 5, 0xaa];
/// let orig = RtpPacket::parse(&orig)?;
/// let mut rtx = [0u8; 32];
/// let n = write_rtx(&orig, 97, Ssrc(6), 9, &mut rtx)?;
/// let rtx = RtpPacket::parse(&rtx[..n])?;
/// assert_eq!(rtx.payload(), &[0x01, 0x00, 0xaa]);
/// let mut back = [0u8; 32];
/// let m = recover_rtx(&rtx, 96, Ssrc(5), &mut back)?;
/// assert_eq!(&back[..m], orig.as_bytes());
/// # Ok::<(), portunus_rtp::RtpError>(())
/// ```
pub fn write_rtx(
    original: &RtpPacket<'_>,
    rtx_pt: u8,
    rtx_ssrc: Ssrc,
    rtx_seq: u16,
    out: &mut [u8],
) -> Result<usize, RtpError> {
    if rtx_pt > 0x7f {
        return Err(RtpError::ApiMisuse("payload type above 127"));
    }
    let hlen = original.header_len();
    let payload = original.payload();
    let total = hlen + 2 + payload.len();
    need(out, total)?;
    let header = original.as_bytes().get(..hlen).ok_or(RtpError::Truncated)?;
    put(out, 0, header)?;
    put(out, hlen, &original.sequence_number().to_be_bytes())?;
    put(out, hlen + 2, payload)?;
    restamp(out, rtx_pt, rtx_seq, rtx_ssrc)?;
    Ok(total)
}

/// The original sequence number carried by an RTX packet, or `None` when its payload
/// is shorter than two bytes (padding-only RTX packets are used for bandwidth probing).
#[must_use]
pub fn rtx_osn(rtx: &RtpPacket<'_>) -> Option<u16> {
    u16_at(rtx.payload(), 0)
}

/// Rebuilds the original packet from an RTX packet into `out`; returns its length.
///
/// `original_pt` and `original_ssrc` come from the `a=fmtp:<rtx> apt=` and
/// `a=ssrc-group:FID` associations.
///
/// # Errors
/// `Truncated` when the RTX payload has no OSN; `ApiMisuse` for `original_pt` above
/// 127; `BufferTooSmall` when `out` is short.
pub fn recover_rtx(
    rtx: &RtpPacket<'_>,
    original_pt: u8,
    original_ssrc: Ssrc,
    out: &mut [u8],
) -> Result<usize, RtpError> {
    if original_pt > 0x7f {
        return Err(RtpError::ApiMisuse("payload type above 127"));
    }
    let osn = rtx_osn(rtx).ok_or(RtpError::Truncated)?;
    let hlen = rtx.header_len();
    let payload = rtx.payload().get(2..).unwrap_or(&[]);
    let total = hlen + payload.len();
    need(out, total)?;
    let header = rtx.as_bytes().get(..hlen).ok_or(RtpError::Truncated)?;
    put(out, 0, header)?;
    put(out, hlen, payload)?;
    restamp(out, original_pt, osn, original_ssrc)?;
    Ok(total)
}

/// Clears P and sets PT (keeping M), sequence number and SSRC of a copied header.
fn restamp(out: &mut [u8], pt: u8, seq: u16, ssrc: Ssrc) -> Result<(), RtpError> {
    let h = out.first_chunk_mut::<12>().ok_or(RtpError::Truncated)?;
    h[0] &= !0x20;
    h[1] = (h[1] & 0x80) | pt;
    h[2..4].copy_from_slice(&seq.to_be_bytes());
    h[8..12].copy_from_slice(&ssrc.0.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Marker set, PT 96, seq 0x1234, one CSRC, a one-byte extension, 3 payload bytes,
    // 2 padding bytes.
    const ORIG: [u8; 32] = [
        0xb1, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0, 0, 0, 0x55, 0, 0, 0, 0x66, 0xbe, 0xde, 0, 1,
        0x10, 0x07, 0, 0, 1, 2, 3, 0, 2, 0, 0, 0,
    ];

    fn orig() -> RtpPacket<'static> {
        RtpPacket::parse(&ORIG[..29]).unwrap()
    }

    #[test]
    fn rtx_carries_osn_and_keeps_header_extensions() {
        let o = orig();
        assert_eq!(o.payload(), &[1, 2, 3]);
        let mut out = [0u8; 64];
        let n = write_rtx(&o, 97, Ssrc(0x77), 500, &mut out).unwrap();
        let r = RtpPacket::parse(&out[..n]).unwrap();
        assert_eq!(r.payload_type(), 97);
        assert!(r.marker());
        assert!(!r.has_padding());
        assert_eq!(r.ssrc(), Ssrc(0x77));
        assert_eq!(r.sequence_number(), 500);
        assert_eq!(r.timestamp(), o.timestamp());
        assert_eq!(r.csrcs().collect::<Vec<_>>(), vec![Ssrc(0x66)]);
        assert_eq!(r.extension(1), Some(&[7][..]));
        assert_eq!(r.payload(), &[0x12, 0x34, 1, 2, 3]);
        assert_eq!(rtx_osn(&r), Some(0x1234));
    }

    #[test]
    fn recovers_original_without_padding() {
        let o = orig();
        let mut rtx = [0u8; 64];
        let n = write_rtx(&o, 97, Ssrc(0x77), 500, &mut rtx).unwrap();
        let r = RtpPacket::parse(&rtx[..n]).unwrap();
        let mut back = [0u8; 64];
        let m = recover_rtx(&r, 96, Ssrc(0x55), &mut back).unwrap();
        let b = RtpPacket::parse(&back[..m]).unwrap();
        assert_eq!(b.payload_type(), 96);
        assert_eq!(b.sequence_number(), 0x1234);
        assert_eq!(b.ssrc(), Ssrc(0x55));
        assert_eq!(b.payload(), o.payload());
        assert_eq!(b.extension(1), Some(&[7][..]));
        // Identical to the original minus its padding and P bit.
        let mut expect = ORIG[..27].to_vec();
        expect[0] &= !0x20;
        assert_eq!(&back[..m], &expect[..]);
    }

    #[test]
    fn padding_only_rtx_has_no_osn() {
        let p = [0xa0, 97, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4];
        let r = RtpPacket::parse(&p).unwrap();
        assert_eq!(rtx_osn(&r), None);
        assert_eq!(
            recover_rtx(&r, 96, Ssrc(1), &mut [0u8; 32]),
            Err(RtpError::Truncated)
        );
    }

    #[test]
    fn reports_small_output_buffer() {
        let o = orig();
        assert_eq!(
            write_rtx(&o, 97, Ssrc(1), 1, &mut [0u8; 10]),
            Err(RtpError::BufferTooSmall { needed: 29 })
        );
    }
}

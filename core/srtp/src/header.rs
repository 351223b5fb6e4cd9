//! The little RTP header parsing SRTP needs (RFC 3550 §5.1, RFC 8285 §4), and the RFC 9335
//! cryptex rearrangement.

use crate::SrtpError;

/// RFC 8285 one-byte header-extension profile.
pub(crate) const ONE_BYTE_PROFILE: u16 = 0xbede;
/// RFC 8285 two-byte header-extension profile (with appbits 0).
pub(crate) const TWO_BYTE_PROFILE: u16 = 0x1000;
/// RFC 9335 §5.1: a one-byte extension block whose contents (and the CSRCs) are encrypted.
pub(crate) const CRYPTEX_ONE_BYTE: u16 = 0xc0de;
/// RFC 9335 §5.1: the two-byte form.
pub(crate) const CRYPTEX_TWO_BYTE: u16 = 0xc2de;

const FIXED_HEADER_LEN: usize = 12;

/// Where the parts of an RTP header lie.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RtpHeader {
    /// Fixed header + CSRCs + extension (header and body): where the payload starts.
    pub(crate) len: usize,
    /// Number of CSRCs.
    pub(crate) cc: usize,
    /// The extension's "defined by profile" field, if the X bit is set.
    pub(crate) ext_profile: Option<u16>,
    pub(crate) seq: u16,
    pub(crate) ssrc: u32,
}

impl RtpHeader {
    /// Offset of the 4-byte extension header (valid when `ext_profile` is `Some`), which is
    /// also the end of the CSRC list.
    pub(crate) fn csrc_end(&self) -> usize {
        FIXED_HEADER_LEN + 4 * self.cc
    }
}

/// Parses the header of the RTP packet `pkt` (without any SRTP tag).
pub(crate) fn parse_rtp(pkt: &[u8]) -> Result<RtpHeader, SrtpError> {
    let Some(fixed) = pkt.get(..FIXED_HEADER_LEN) else {
        return Err(SrtpError::Truncated);
    };
    if fixed[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    let cc = usize::from(fixed[0] & 0x0f);
    let seq = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ssrc = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
    let mut len = FIXED_HEADER_LEN + 4 * cc;
    let mut ext_profile = None;
    if fixed[0] & 0x10 != 0 {
        let Some(ext) = pkt.get(len..len + 4) else {
            return Err(SrtpError::Truncated);
        };
        ext_profile = Some(u16::from_be_bytes([ext[0], ext[1]]));
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    if pkt.len() < len {
        return Err(SrtpError::Truncated);
    }
    Ok(RtpHeader {
        len,
        cc,
        ext_profile,
        seq,
        ssrc,
    })
}

/// The version check shared by RTP and RTCP on packets at least one byte long.
pub(crate) fn check_version(pkt: &[u8]) -> Result<(), SrtpError> {
    match pkt.first() {
        None => Err(SrtpError::Truncated),
        Some(b) if b >> 6 != 2 => Err(SrtpError::BadVersion),
        Some(_) => Ok(()),
    }
}

/// How `protect_rtp` applies cryptex to one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CryptexPlan {
    /// Plain RFC 3711 SRTP: cryptex is off, or there is nothing in the header to hide, or the
    /// extension uses a profile other than RFC 8285's (which RFC 9335 does not cover).
    Off,
    /// Retag the existing extension block with this cryptex profile.
    Retag(u16),
    /// CSRCs without an extension: RFC 9335 §5.1 inserts an empty 0xC0DE block, 4 bytes.
    InsertEmpty,
}

impl CryptexPlan {
    pub(crate) fn for_header(h: &RtpHeader) -> Self {
        match h.ext_profile {
            Some(ONE_BYTE_PROFILE) => Self::Retag(CRYPTEX_ONE_BYTE),
            Some(TWO_BYTE_PROFILE) => Self::Retag(CRYPTEX_TWO_BYTE),
            Some(_) => Self::Off,
            None if h.cc > 0 => Self::InsertEmpty,
            None => Self::Off,
        }
    }

    pub(crate) fn growth(self) -> usize {
        if self == Self::InsertEmpty { 4 } else { 0 }
    }
}

/// Applies `plan` to the packet `buf[..len]` (`buf` has room for the growth); returns the new
/// length. Afterwards the packet carries a cryptex extension block unless the plan is `Off`.
pub(crate) fn apply_cryptex_plan(
    buf: &mut [u8],
    len: usize,
    h: &RtpHeader,
    plan: CryptexPlan,
) -> usize {
    let at = h.csrc_end();
    match plan {
        CryptexPlan::Off => len,
        CryptexPlan::Retag(profile) => {
            buf[at..at + 2].copy_from_slice(&profile.to_be_bytes());
            len
        }
        CryptexPlan::InsertEmpty => {
            buf.copy_within(at..len, at + 4);
            buf[at..at + 4].copy_from_slice(&[0xc0, 0xde, 0, 0]);
            buf[0] |= 0x10;
            len + 4
        }
    }
}

/// RFC 9335 §5.2: the encrypted portion is CSRCs || extension body || payload as one
/// region, so the 4-byte extension header is moved in front of the CSRCs for the duration of
/// the cipher operation (for AEAD it then sits right after the fixed header, as the AAD).
/// Returns where the encrypted region starts.
pub(crate) fn cryptex_gather(buf: &mut [u8], cc: usize) -> usize {
    buf[FIXED_HEADER_LEN..FIXED_HEADER_LEN + 4 + 4 * cc].rotate_right(4);
    FIXED_HEADER_LEN + 4
}

/// Undoes [`cryptex_gather`].
pub(crate) fn cryptex_scatter(buf: &mut [u8], cc: usize) {
    buf[FIXED_HEADER_LEN..FIXED_HEADER_LEN + 4 + 4 * cc].rotate_left(4);
}

/// After decryption, gives the extension block back its RFC 8285 profile.
pub(crate) fn restore_profile(buf: &mut [u8], h: &RtpHeader) {
    let plain = match h.ext_profile {
        Some(CRYPTEX_ONE_BYTE) => ONE_BYTE_PROFILE,
        Some(CRYPTEX_TWO_BYTE) => TWO_BYTE_PROFILE,
        _ => return,
    };
    let at = h.csrc_end();
    buf[at..at + 2].copy_from_slice(&plain.to_be_bytes());
}

/// Whether the received packet used cryptex.
pub(crate) fn is_cryptex(h: &RtpHeader) -> bool {
    matches!(h.ext_profile, Some(CRYPTEX_ONE_BYTE | CRYPTEX_TWO_BYTE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csrcs_and_extension_lengths() {
        let pkt =
            hex::decode("920f1238decafbadcafebabe0001e2400000b26ebede000151000200abab").unwrap();
        let h = parse_rtp(&pkt).unwrap();
        assert_eq!(h.cc, 2);
        assert_eq!(h.csrc_end(), 20);
        assert_eq!(h.ext_profile, Some(ONE_BYTE_PROFILE));
        assert_eq!(h.len, 28);
        assert_eq!(h.seq, 0x1238);
        assert_eq!(h.ssrc, 0xcafebabe);
    }

    #[test]
    fn rejects_truncated_csrc_list_and_extension() {
        let pkt = hex::decode("920f1238decafbadcafebabe0001e240").unwrap();
        assert_eq!(parse_rtp(&pkt).unwrap_err(), SrtpError::Truncated);
        let pkt = hex::decode("900f1238decafbadcafebabebede0002510002").unwrap();
        assert_eq!(parse_rtp(&pkt).unwrap_err(), SrtpError::Truncated);
        let pkt = hex::decode("400f1238decafbadcafebabe").unwrap();
        assert_eq!(parse_rtp(&pkt).unwrap_err(), SrtpError::BadVersion);
    }

    #[test]
    fn gather_and_scatter_are_inverse() {
        let mut b: Vec<u8> = (0..40).collect();
        let orig = b.clone();
        assert_eq!(cryptex_gather(&mut b, 3), 16);
        assert_eq!(&b[12..16], &orig[24..28]);
        assert_eq!(&b[16..28], &orig[12..24]);
        cryptex_scatter(&mut b, 3);
        assert_eq!(b, orig);
    }
}

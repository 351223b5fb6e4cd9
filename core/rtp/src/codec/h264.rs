//! H.264 keyframe detection (RFC 6184 §5.2–§5.8).
//!
//! A packet is a keyframe start when it carries an IDR slice (NAL type 5) or a
//! sequence parameter set (type 7), directly, inside an aggregation packet
//! (STAP-A/B, MTAP16/24) or as the first fragment of a FU-A/FU-B.

use crate::bytes::u16_at;

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const STAP_A: u8 = 24;
const STAP_B: u8 = 25;
const MTAP16: u8 = 26;
const MTAP24: u8 = 27;
const FU_A: u8 = 28;
const FU_B: u8 = 29;

/// Whether the payload starts an H.264 keyframe (IDR slice or SPS).
#[must_use]
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some(&hdr) = payload.first() else {
        return false;
    };
    match hdr & 0x1f {
        STAP_A => aggregated(payload, 1, 0),
        // STAP-B and MTAPs carry a 16-bit DON (base) after the NAL header.
        STAP_B => aggregated(payload, 3, 0),
        // MTAP units add DOND (1) and a 16- or 24-bit timestamp offset.
        MTAP16 => aggregated(payload, 3, 3),
        MTAP24 => aggregated(payload, 3, 4),
        FU_A | FU_B => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_key_nal(fu & 0x1f)),
        t => is_key_nal(t),
    }
}

/// A NAL unit type that lets a decoder start.
const fn is_key_nal(t: u8) -> bool {
    t == NAL_IDR || t == NAL_SPS
}

/// Walks aggregation units of `size(16) | skip bytes | NAL` starting at `at`.
fn aggregated(p: &[u8], mut at: usize, skip: usize) -> bool {
    while let Some(size) = u16_at(p, at) {
        let nal = at + 2 + skip;
        let size = usize::from(size);
        if size <= skip {
            return false;
        }
        if p.get(nal).is_some_and(|h| is_key_nal(h & 0x1f)) {
            return true;
        }
        // The size counts the DOND/TS-offset bytes too in MTAPs (RFC 6184 §5.7.2).
        at = at + 2 + size;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_nal_idr_and_sps_are_keyframes() {
        assert!(is_keyframe(&[0x65, 0x88, 0x84])); // IDR, NRI 3
        assert!(is_keyframe(&[0x67, 0x42, 0x00, 0x1f])); // SPS
        assert!(!is_keyframe(&[0x68, 0xce])); // PPS
        assert!(!is_keyframe(&[0x41, 0x9a])); // non-IDR slice
        assert!(!is_keyframe(&[]));
    }

    #[test]
    fn stap_a_with_sps_is_keyframe() {
        // STAP-A: SPS (3 bytes), PPS (2 bytes), as browsers send before an IDR.
        let p = [0x78, 0, 3, 0x67, 0x42, 0x00, 0, 2, 0x68, 0xce];
        assert!(is_keyframe(&p));
        // STAP-A with only a PPS and a non-IDR slice.
        let p = [0x78, 0, 2, 0x68, 0xce, 0, 2, 0x41, 0x9a];
        assert!(!is_keyframe(&p));
        // Second unit's size runs past the end: the first is still examined.
        let p = [0x78, 0, 2, 0x68, 0xce, 0, 9, 0x65];
        assert!(is_keyframe(&p));
    }

    #[test]
    fn stap_b_skips_don() {
        let p = [0x79, 0x00, 0x01, 0, 2, 0x65, 0x88];
        assert!(is_keyframe(&p));
    }

    #[test]
    fn mtap16_skips_dond_and_offset() {
        // NAL header, DONB(2), then size 5: DOND(1) TS-offset(2) IDR(2).
        let p = [0x7a, 0, 0, 0, 5, 0, 0, 0, 0x65, 0x88];
        assert!(is_keyframe(&p));
    }

    #[test]
    fn fu_a_only_start_fragment_counts() {
        assert!(is_keyframe(&[0x7c, 0x85, 0xb8])); // S=1, type 5
        assert!(!is_keyframe(&[0x7c, 0x05, 0xb8])); // continuation
        assert!(!is_keyframe(&[0x7c, 0x81, 0xb8])); // start of a non-IDR slice
        assert!(!is_keyframe(&[0x7c])); // no FU header
        assert!(is_keyframe(&[0x7d, 0x87])); // FU-B start of an SPS
    }
}

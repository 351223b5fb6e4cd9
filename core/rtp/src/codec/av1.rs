//! AV1 keyframe detection (AOM "RTP Payload Format for AV1" §4.4).
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+
//! |Z|Y| W |N|-|-|-|  aggregation header
//! +-+-+-+-+-+-+-+-+
//! ```
//!
//! N = 1 marks the first packet of a coded video sequence, which starts with a
//! keyframe. A packet that carries an OBU sequence header (type 1) is also treated
//! as a keyframe start, since senders repeat it ahead of every keyframe.

/// OBU type of a sequence header (AV1 spec §6.2.2).
const OBU_SEQUENCE_HEADER: u8 = 1;

/// Whether the payload starts an AV1 keyframe (N bit, or an OBU sequence header in
/// an OBU element that starts in this packet).
#[must_use]
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some((&agg, _)) = payload.split_first() else {
        return false;
    };
    if agg & 0x08 != 0 {
        return true;
    }
    let continues_previous = agg & 0x80 != 0;
    let w = usize::from((agg >> 4) & 0x03);
    let mut at = 1;
    let mut index = 0usize;
    while at < payload.len() {
        // With W = 0 every element has a length; otherwise the W-th one does not.
        let last = w != 0 && index + 1 == w;
        let size = if last {
            payload.len() - at
        } else {
            let Some((size, n)) = leb128(payload.get(at..).unwrap_or(&[])) else {
                return false;
            };
            at += n;
            match usize::try_from(size) {
                Ok(s) => s,
                Err(_) => return false,
            }
        };
        let Some(element) = payload.get(at..at.saturating_add(size)) else {
            return false;
        };
        let fragment = index == 0 && continues_previous;
        if !fragment
            && element
                .first()
                .is_some_and(|h| (h >> 3) & 0x0f == OBU_SEQUENCE_HEADER)
        {
            return true;
        }
        at += size;
        index += 1;
        if last {
            break;
        }
    }
    false
}

/// Decodes an unsigned LEB128 value of at most 8 bytes (AV1 spec §4.10.5); returns
/// the value and the bytes used.
fn leb128(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().take(8).enumerate() {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_bit_marks_keyframe() {
        assert!(is_keyframe(&[0x18, 0x0a, 0x00]));
        assert!(!is_keyframe(&[]));
    }

    #[test]
    fn sequence_header_obu_marks_keyframe() {
        // W = 2: first element with a length (sequence header OBU 0x0a, 2 bytes),
        // second without (frame OBU 0x32).
        let p = [0x20, 0x02, 0x0a, 0x00, 0x32, 0x11];
        assert!(is_keyframe(&p));
        // W = 0: every element has a length; temporal delimiter then frame.
        let p = [0x00, 0x01, 0x12, 0x02, 0x32, 0x11];
        assert!(!is_keyframe(&p));
        // W = 1: the single element is a sequence header.
        assert!(is_keyframe(&[0x10, 0x0a, 0x0b]));
    }

    #[test]
    fn continuation_fragment_is_not_inspected() {
        // Z = 1: the first element continues an OBU from the previous packet, so its
        // first byte is OBU payload, not a header.
        let p = [0x90, 0x0a, 0x00];
        assert!(!is_keyframe(&p));
    }

    #[test]
    fn malformed_lengths_are_not_keyframes() {
        assert!(!is_keyframe(&[0x00, 0x05, 0x0a])); // element past end
        assert!(!is_keyframe(&[0x00, 0xff, 0xff])); // unterminated LEB128
    }

    #[test]
    fn leb128_decodes_multi_byte_values() {
        assert_eq!(leb128(&[0x05]), Some((5, 1)));
        assert_eq!(leb128(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(leb128(&[0xff; 9]), None);
    }
}

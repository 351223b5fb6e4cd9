//! VP9 payload descriptor (RFC 9628 §4.2, formerly draft-ietf-payload-vp9) and
//! keyframe detection.
//!
//! ```text
//!      +-+-+-+-+-+-+-+-+
//!      |I|P|L|F|B|E|V|Z| (required)
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PICTURE ID  |  second byte when M = 1
//! L:   | TID |U| SID |D|
//!      |   TL0PICIDX   |  non-flexible mode (F = 0) only
//! ```
//!
//! The reference indices (F = 1) and the scalability structure (V = 1) that may follow
//! are not parsed.

use crate::RtpError;

/// The leading fields of a VP9 payload descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vp9Descriptor {
    /// P: the frame is inter-picture predicted.
    pub inter_picture_predicted: bool,
    /// F: flexible mode.
    pub flexible: bool,
    /// B: the packet starts a frame.
    pub start_of_frame: bool,
    /// E: the packet ends a frame.
    pub end_of_frame: bool,
    /// V: a scalability structure follows.
    pub has_scalability_structure: bool,
    /// Z: the frame is not used for inter-layer prediction of higher layers.
    pub not_upper_layer_reference: bool,
    /// PICTURE ID, 7 or 15 bits, when I is set.
    pub picture_id: Option<u16>,
    /// Whether the PICTURE ID uses the 15-bit form.
    pub long_picture_id: bool,
    /// TID, the temporal layer, when L is set.
    pub tid: Option<u8>,
    /// U, switching-up point, when L is set.
    pub switching_up: Option<bool>,
    /// SID, the spatial layer, when L is set.
    pub sid: Option<u8>,
    /// D, inter-layer dependency, when L is set.
    pub inter_layer_dependency: Option<bool>,
    /// TL0PICIDX, when L is set in non-flexible mode.
    pub tl0_pic_idx: Option<u8>,
}

impl Vp9Descriptor {
    /// Parses the leading fields of the descriptor.
    ///
    /// # Errors
    /// `Truncated` when the payload ends inside them.
    pub fn parse(p: &[u8]) -> Result<Self, RtpError> {
        let b0 = *p.first().ok_or(RtpError::Truncated)?;
        let mut d = Self {
            inter_picture_predicted: b0 & 0x40 != 0,
            flexible: b0 & 0x10 != 0,
            start_of_frame: b0 & 0x08 != 0,
            end_of_frame: b0 & 0x04 != 0,
            has_scalability_structure: b0 & 0x02 != 0,
            not_upper_layer_reference: b0 & 0x01 != 0,
            ..Self::default()
        };
        let byte = |i: usize| p.get(i).copied().ok_or(RtpError::Truncated);
        let mut at = 1;
        if b0 & 0x80 != 0 {
            let m = byte(at)?;
            if m & 0x80 != 0 {
                d.long_picture_id = true;
                d.picture_id = Some((u16::from(m & 0x7f) << 8) | u16::from(byte(at + 1)?));
                at += 2;
            } else {
                d.picture_id = Some(u16::from(m));
                at += 1;
            }
        }
        if b0 & 0x20 != 0 {
            let l = byte(at)?;
            d.tid = Some(l >> 5);
            d.switching_up = Some(l & 0x10 != 0);
            d.sid = Some((l >> 1) & 0x07);
            d.inter_layer_dependency = Some(l & 0x01 != 0);
            if !d.flexible {
                d.tl0_pic_idx = Some(byte(at + 1)?);
            }
        }
        Ok(d)
    }
}

/// Whether the payload starts a VP9 keyframe: the start of a frame (B) that is not
/// inter-picture predicted (P = 0) in spatial layer 0.
#[must_use]
pub fn is_keyframe(payload: &[u8]) -> bool {
    Vp9Descriptor::parse(payload)
        .is_ok_and(|d| d.start_of_frame && !d.inter_picture_predicted && d.sid.unwrap_or(0) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_non_flexible_layered_descriptor() {
        // I L B set; PictureID 15-bit 0x0102; TID 1 U=1 SID 0 D=0; TL0PICIDX 7.
        let p = [0xa8, 0x81, 0x02, 0x30, 0x07, 0x83];
        let d = Vp9Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(0x0102));
        assert!(d.long_picture_id);
        assert_eq!(d.tid, Some(1));
        assert_eq!(d.switching_up, Some(true));
        assert_eq!(d.sid, Some(0));
        assert_eq!(d.tl0_pic_idx, Some(7));
        assert!(d.start_of_frame && !d.inter_picture_predicted);
        assert!(is_keyframe(&p));
    }

    #[test]
    fn upper_spatial_layer_is_not_a_keyframe_start() {
        // Flexible mode, L set with SID 1, P = 0, B = 1.
        let p = [0x38, 0x02, 0x00];
        let d = Vp9Descriptor::parse(&p).unwrap();
        assert_eq!(d.sid, Some(1));
        assert_eq!(d.tl0_pic_idx, None);
        assert!(!is_keyframe(&p));
    }

    #[test]
    fn inter_predicted_or_middle_packets_are_not_keyframes() {
        assert!(!is_keyframe(&[0x48, 0x00])); // P = 1
        assert!(!is_keyframe(&[0x04, 0x00])); // no B
        assert!(is_keyframe(&[0x0c]));
    }

    #[test]
    fn rejects_truncated_descriptor() {
        assert_eq!(Vp9Descriptor::parse(&[]), Err(RtpError::Truncated));
        assert_eq!(
            Vp9Descriptor::parse(&[0x80, 0x81]),
            Err(RtpError::Truncated)
        );
        assert_eq!(
            Vp9Descriptor::parse(&[0x28, 0x00]),
            Err(RtpError::Truncated)
        );
        assert!(!is_keyframe(&[0xa8, 0x81]));
    }
}

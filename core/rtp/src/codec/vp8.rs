//! VP8 payload descriptor (RFC 7741 §4.2) and keyframe detection (§4.3).
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |X|R|N|S|R| PID | (required)
//!      +-+-+-+-+-+-+-+-+
//! X:   |I|L|T|K| RSV   |
//! I:   |M| PictureID   |  second byte when M = 1
//! L:   |   TL0PICIDX   |
//! T/K: |TID|Y| KEYIDX  |
//! ```

use crate::RtpError;

/// The fields of a VP8 payload descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vp8Descriptor {
    /// N: the frame can be discarded without affecting others.
    pub non_reference: bool,
    /// S: the packet starts a VP8 partition.
    pub start_of_partition: bool,
    /// PID: the partition index.
    pub partition_index: u8,
    /// PictureID, 7 or 15 bits, when I is set.
    pub picture_id: Option<u16>,
    /// Whether the PictureID uses the 15-bit form (M = 1).
    pub long_picture_id: bool,
    /// TL0PICIDX, when L is set.
    pub tl0_pic_idx: Option<u8>,
    /// TID, the temporal layer, when T is set.
    pub tid: Option<u8>,
    /// Y, layer sync: the frame depends only on the base layer. Present with T.
    pub layer_sync: Option<bool>,
    /// KEYIDX, when K is set.
    pub key_idx: Option<u8>,
    /// Bytes of descriptor: where the VP8 payload starts.
    pub header_len: usize,
}

impl Vp8Descriptor {
    /// Parses the descriptor at the start of an RTP payload.
    ///
    /// # Errors
    /// `Truncated` when the payload ends inside the descriptor.
    pub fn parse(payload: &[u8]) -> Result<Self, RtpError> {
        let layout = Layout::parse(payload)?;
        let b = |i: Option<usize>| i.and_then(|i| payload.get(i).copied());
        let b0 = payload.first().copied().unwrap_or(0);
        let picture_id = match layout.picture_id {
            Some(at) if layout.long_picture_id => {
                let hi = u16::from(b(Some(at)).unwrap_or(0) & 0x7f);
                Some((hi << 8) | u16::from(b(Some(at + 1)).unwrap_or(0)))
            }
            Some(at) => b(Some(at)).map(|v| u16::from(v & 0x7f)),
            None => None,
        };
        let tk = b(layout.tid_key);
        Ok(Self {
            non_reference: b0 & 0x20 != 0,
            start_of_partition: b0 & 0x10 != 0,
            partition_index: b0 & 0x07,
            picture_id,
            long_picture_id: layout.long_picture_id,
            tl0_pic_idx: b(layout.tl0),
            tid: tk.filter(|_| layout.has_tid).map(|v| v >> 6),
            layer_sync: tk.filter(|_| layout.has_tid).map(|v| v & 0x20 != 0),
            key_idx: tk.filter(|_| layout.has_key).map(|v| v & 0x1f),
            header_len: layout.header_len,
        })
    }
}

/// Whether the payload is the first packet of a VP8 keyframe: S = 1, PID = 0 and
/// the inverse key-frame bit P of the VP8 payload header is 0 (RFC 7741 §4.3).
#[must_use]
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Ok(l) = Layout::parse(payload) else {
        return false;
    };
    let b0 = payload.first().copied().unwrap_or(0);
    b0 & 0x10 != 0 && b0 & 0x07 == 0 && payload.get(l.header_len).is_some_and(|h| h & 0x01 == 0)
}

/// Rewrites the PictureID in place, keeping its 7- or 15-bit width (the value is
/// truncated to it). Returns `false` when the descriptor has no PictureID.
///
/// # Errors
/// `Truncated` when the descriptor is malformed.
pub fn set_picture_id(payload: &mut [u8], picture_id: u16) -> Result<bool, RtpError> {
    let l = Layout::parse(payload)?;
    let Some(at) = l.picture_id else {
        return Ok(false);
    };
    if l.long_picture_id {
        let [hi, lo] = (picture_id & 0x7fff).to_be_bytes();
        let dst = payload.get_mut(at..at + 2).ok_or(RtpError::Truncated)?;
        dst[0] = 0x80 | hi;
        dst[1] = lo;
    } else {
        let dst = payload.get_mut(at).ok_or(RtpError::Truncated)?;
        *dst = (picture_id & 0x7f) as u8;
    }
    Ok(true)
}

/// Rewrites TL0PICIDX in place. Returns `false` when the descriptor has none.
///
/// # Errors
/// `Truncated` when the descriptor is malformed.
pub fn set_tl0_pic_idx(payload: &mut [u8], tl0_pic_idx: u8) -> Result<bool, RtpError> {
    let l = Layout::parse(payload)?;
    let Some(at) = l.tl0 else {
        return Ok(false);
    };
    *payload.get_mut(at).ok_or(RtpError::Truncated)? = tl0_pic_idx;
    Ok(true)
}

/// Offsets of the optional descriptor fields.
struct Layout {
    picture_id: Option<usize>,
    long_picture_id: bool,
    tl0: Option<usize>,
    tid_key: Option<usize>,
    has_tid: bool,
    has_key: bool,
    header_len: usize,
}

impl Layout {
    fn parse(p: &[u8]) -> Result<Self, RtpError> {
        let b0 = *p.first().ok_or(RtpError::Truncated)?;
        let mut l = Self {
            picture_id: None,
            long_picture_id: false,
            tl0: None,
            tid_key: None,
            has_tid: false,
            has_key: false,
            header_len: 1,
        };
        if b0 & 0x80 == 0 {
            return Ok(l);
        }
        let x = *p.get(1).ok_or(RtpError::Truncated)?;
        let mut at = 2;
        if x & 0x80 != 0 {
            let m = *p.get(at).ok_or(RtpError::Truncated)?;
            l.picture_id = Some(at);
            l.long_picture_id = m & 0x80 != 0;
            at += if l.long_picture_id { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            l.tl0 = Some(at);
            at += 1;
        }
        l.has_tid = x & 0x20 != 0;
        l.has_key = x & 0x10 != 0;
        if l.has_tid || l.has_key {
            l.tid_key = Some(at);
            at += 1;
        }
        if at > p.len() {
            return Err(RtpError::Truncated);
        }
        l.header_len = at;
        Ok(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // X=1 S=1 PID=0; I L T set; M=1 PictureID 0x1234; TL0PICIDX 0x56; TID 2 Y=1
    // KEYIDX 0; then a VP8 keyframe header (P = 0) and start code.
    const FULL: [u8; 9] = [0x90, 0xe0, 0x92, 0x34, 0x56, 0xa0, 0x10, 0x02, 0x00];

    #[test]
    fn parses_all_optional_fields() {
        let d = Vp8Descriptor::parse(&FULL).unwrap();
        assert!(d.start_of_partition && !d.non_reference);
        assert_eq!(d.partition_index, 0);
        assert_eq!(d.picture_id, Some(0x1234));
        assert!(d.long_picture_id);
        assert_eq!(d.tl0_pic_idx, Some(0x56));
        assert_eq!(d.tid, Some(2));
        assert_eq!(d.layer_sync, Some(true));
        assert_eq!(d.key_idx, None);
        assert_eq!(d.header_len, 6);
        assert!(is_keyframe(&FULL));
    }

    #[test]
    fn minimal_descriptor_has_no_optional_fields() {
        let p = [0x10, 0x9d];
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.header_len, 1);
        assert_eq!(d.picture_id, None);
        assert_eq!(d.tid, None);
        assert!(!is_keyframe(&p)); // P bit 1: interframe
    }

    #[test]
    fn short_picture_id_and_key_idx_only() {
        // I with M=0 PictureID 0x05; K only: TID/Y ignored, KEYIDX 3.
        let p = [0x80, 0x90, 0x05, 0xe3, 0x00];
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(5));
        assert!(!d.long_picture_id);
        assert_eq!(d.tid, None);
        assert_eq!(d.layer_sync, None);
        assert_eq!(d.key_idx, Some(3));
        assert!(!is_keyframe(&p)); // S = 0
    }

    #[test]
    fn keyframe_needs_start_of_partition_zero() {
        let mut p = FULL;
        p[0] = 0x91; // PID 1
        assert!(!is_keyframe(&p));
        p[0] = 0x90;
        p[6] = 0x11; // P = 1
        assert!(!is_keyframe(&p));
        assert!(!is_keyframe(&FULL[..6])); // no payload header
    }

    #[test]
    fn rejects_truncated_descriptor() {
        assert_eq!(Vp8Descriptor::parse(&[]), Err(RtpError::Truncated));
        assert_eq!(Vp8Descriptor::parse(&[0x80]), Err(RtpError::Truncated));
        assert_eq!(Vp8Descriptor::parse(&FULL[..4]), Err(RtpError::Truncated));
    }

    #[test]
    fn rewrites_picture_id_and_tl0_in_place() {
        let mut p = FULL;
        assert_eq!(set_picture_id(&mut p, 0xffff), Ok(true));
        assert_eq!(set_tl0_pic_idx(&mut p, 9), Ok(true));
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(0x7fff));
        assert!(d.long_picture_id);
        assert_eq!(d.tl0_pic_idx, Some(9));
        assert_eq!(d.tid, Some(2));
        assert_eq!(&p[6..], &FULL[6..]);

        let mut short = [0x80, 0x80, 0x05, 0x00];
        assert_eq!(set_picture_id(&mut short, 200), Ok(true));
        assert_eq!(
            Vp8Descriptor::parse(&short).unwrap().picture_id,
            Some(200 & 0x7f)
        );
        assert_eq!(set_tl0_pic_idx(&mut short, 1), Ok(false));
        let mut none = [0x10, 0x00];
        assert_eq!(set_picture_id(&mut none, 1), Ok(false));
    }
}

//! Keyframe detection and payload descriptors of the video formats an SFU forwards.
//!
//! All functions look at the depacketized RTP payload ([`RtpPacket::payload`]) of one
//! packet and never fail: malformed input is simply "not a keyframe".
//!
//! [`RtpPacket::payload`]: crate::RtpPacket::payload

pub mod av1;
pub mod h264;
pub mod vp8;
pub mod vp9;

/// The video codecs whose payloads this crate inspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VideoCodec {
    /// VP8, RFC 7741.
    Vp8,
    /// VP9, RFC 9628.
    Vp9,
    /// H.264, RFC 6184.
    H264,
    /// AV1, the AOM "RTP Payload Format for AV1".
    Av1,
}

impl VideoCodec {
    /// The codec for an SDP `a=rtpmap` encoding name (case-insensitive).
    #[must_use]
    pub fn from_encoding_name(name: &str) -> Option<Self> {
        [
            ("VP8", Self::Vp8),
            ("VP9", Self::Vp9),
            ("H264", Self::H264),
            ("AV1", Self::Av1),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| c)
    }
}

/// Whether `payload` starts (or is part of the start of) a keyframe that a decoder
/// can begin from. The SFU uses it to switch simulcast layers and answer PLIs.
#[must_use]
pub fn is_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8::is_keyframe(payload),
        VideoCodec::Vp9 => vp9::is_keyframe(payload),
        VideoCodec::H264 => h264::is_keyframe(payload),
        VideoCodec::Av1 => av1::is_keyframe(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_encoding_names() {
        assert_eq!(VideoCodec::from_encoding_name("vp8"), Some(VideoCodec::Vp8));
        assert_eq!(
            VideoCodec::from_encoding_name("H264"),
            Some(VideoCodec::H264)
        );
        assert_eq!(VideoCodec::from_encoding_name("opus"), None);
    }

    #[test]
    fn dispatches_per_codec() {
        // A VP8 keyframe start (S=1, PID=0, P=0) is not an H.264 IDR.
        let vp8 = [0x10, 0x00, 0x9d, 0x01, 0x2a];
        assert!(is_keyframe(VideoCodec::Vp8, &vp8));
        assert!(!is_keyframe(VideoCodec::H264, &vp8));
        assert!(is_keyframe(VideoCodec::H264, &[0x65, 0x88]));
        assert!(is_keyframe(VideoCodec::Av1, &[0x08, 0x0a]));
        assert!(is_keyframe(VideoCodec::Vp9, &[0x08, 0x00]));
    }
}

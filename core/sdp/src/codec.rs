//! Janus's codec table (`sdp-utils.c`, `rtp.c`) and RTP header extension URIs.

use std::fmt;

use crate::janus::atoi;
use crate::{Attribute, MediaKind};

/// A codec as Janus names it in requests and configuration (`audiocodec`, `videocodec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecName {
    /// `opus` (`opus/48000/2`)
    Opus,
    /// `multiopus` (`multiopus/48000/6`)
    Multiopus,
    /// `pcmu` (`PCMU/8000`)
    Pcmu,
    /// `pcma` (`PCMA/8000`)
    Pcma,
    /// `g722` (`G722/8000`)
    G722,
    /// `isac16` (`ISAC/16000`)
    Isac16,
    /// `isac32` (`ISAC/32000`)
    Isac32,
    /// `l16-48` (`L16/48000`)
    L16At48k,
    /// `l16` (`L16/16000`)
    L16,
    /// `dtmf` (`telephone-event/8000`)
    Dtmf,
    /// `vp8` (`VP8/90000`)
    Vp8,
    /// `vp9` (`VP9/90000`)
    Vp9,
    /// `h264` (`H264/90000`)
    H264,
    /// `av1` (`AV1/90000`)
    Av1,
    /// `h265` (`H265/90000`)
    H265,
}

impl CodecName {
    /// Every codec, audio first.
    pub const ALL: [Self; 15] = [
        Self::Opus,
        Self::Multiopus,
        Self::Pcmu,
        Self::Pcma,
        Self::G722,
        Self::Isac16,
        Self::Isac32,
        Self::L16At48k,
        Self::L16,
        Self::Dtmf,
        Self::Vp8,
        Self::Vp9,
        Self::H264,
        Self::Av1,
        Self::H265,
    ];

    /// The order `janus_sdp_generate_answer_mline` tries audio codecs in when the plugin
    /// does not force one.
    pub const JANUS_ANSWER_AUDIO: [Self; 9] = [
        Self::Opus,
        Self::Pcmu,
        Self::Pcma,
        Self::G722,
        Self::Isac32,
        Self::Isac16,
        Self::Multiopus,
        Self::L16At48k,
        Self::L16,
    ];

    /// The order Janus tries video codecs in (answers and its "preferred" list).
    pub const JANUS_VIDEO: [Self; 5] = [Self::Vp8, Self::Vp9, Self::H264, Self::Av1, Self::H265];

    /// Parses a Janus codec name (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }

    /// The Janus codec name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opus => "opus",
            Self::Multiopus => "multiopus",
            Self::Pcmu => "pcmu",
            Self::Pcma => "pcma",
            Self::G722 => "g722",
            Self::Isac16 => "isac16",
            Self::Isac32 => "isac32",
            Self::L16At48k => "l16-48",
            Self::L16 => "l16",
            Self::Dtmf => "dtmf",
            Self::Vp8 => "vp8",
            Self::Vp9 => "vp9",
            Self::H264 => "h264",
            Self::Av1 => "av1",
            Self::H265 => "h265",
        }
    }

    /// Audio or video.
    pub fn kind(self) -> MediaKind {
        match self {
            Self::Vp8 | Self::Vp9 | Self::H264 | Self::Av1 | Self::H265 => MediaKind::Video,
            _ => MediaKind::Audio,
        }
    }

    /// The `rtpmap` encoding Janus writes (`janus_sdp_get_codec_rtpmap`).
    pub fn rtpmap(self) -> &'static str {
        match self {
            Self::Opus => "opus/48000/2",
            Self::Multiopus => "multiopus/48000/6",
            Self::Pcmu => "PCMU/8000",
            Self::Pcma => "PCMA/8000",
            Self::G722 => "G722/8000",
            Self::Isac16 => "ISAC/16000",
            Self::Isac32 => "ISAC/32000",
            Self::L16At48k => "L16/48000",
            Self::L16 => "L16/16000",
            Self::Dtmf => "telephone-event/8000",
            Self::Vp8 => "VP8/90000",
            Self::Vp9 => "VP9/90000",
            Self::H264 => "H264/90000",
            Self::Av1 => "AV1/90000",
            Self::H265 => "H265/90000",
        }
    }

    /// The payload type Janus uses for this codec in the offers it makes.
    pub fn janus_payload_type(self) -> u8 {
        match self {
            Self::Opus | Self::Multiopus => 111,
            Self::Pcmu => 0,
            Self::Pcma => 8,
            Self::G722 => 9,
            Self::Isac16 => 103,
            Self::Isac32 => 104,
            Self::L16At48k => 105,
            Self::L16 => 106,
            Self::Dtmf => 126,
            Self::Vp8 => 96,
            Self::Vp9 => 101,
            Self::H264 => 107,
            Self::Av1 => 98,
            Self::H265 => 100,
        }
    }

    /// The strings `janus_sdp_get_codec_pt_full` looks for in an `rtpmap` value (it accepts
    /// all-lowercase or all-uppercase names only).
    fn rtpmap_needles(self) -> (&'static str, &'static str) {
        match self {
            Self::Opus => ("opus/48000/2", "OPUS/48000/2"),
            Self::Multiopus => ("multiopus/48000/6", "MULTIOPUS/48000/6"),
            Self::Pcmu => ("pcmu/8000", "PCMU/8000"),
            Self::Pcma => ("pcma/8000", "PCMA/8000"),
            Self::G722 => ("g722/8000", "G722/8000"),
            Self::Isac16 => ("isac/16000", "ISAC/16000"),
            Self::Isac32 => ("isac/32000", "ISAC/32000"),
            Self::L16At48k => ("l16/48000", "L16/48000"),
            Self::L16 => ("l16/16000", "L16/16000"),
            Self::Dtmf => ("telephone-event/8000", "TELEPHONE-EVENT/8000"),
            Self::Vp8 => ("vp8/90000", "VP8/90000"),
            Self::Vp9 => ("vp9/90000", "VP9/90000"),
            Self::H264 => ("h264/90000", "H264/90000"),
            Self::Av1 => ("av1/90000", "AV1/90000"),
            Self::H265 => ("h265/90000", "H265/90000"),
        }
    }
}

impl fmt::Display for CodecName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `janus_sdp_get_codec_pt_full`: the payload type of `codec` among an m-line's attributes,
/// in attribute order; with a VP9 `profile-id` or H.264 `profile-level-id` (only
/// `packetization-mode` other than 0) when a profile is given.
pub(crate) fn find_codec_pt(
    attributes: &[Attribute],
    codec: CodecName,
    profile: Option<&str>,
) -> Option<u8> {
    let (lower, upper) = codec.rtpmap_needles();
    let filter_profile = profile.filter(|_| matches!(codec, CodecName::Vp9 | CodecName::H264));
    let mut candidates = Vec::new();
    for a in attributes
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("rtpmap"))
    {
        let Some(v) = a.value.as_deref() else {
            continue;
        };
        let pt = atoi(v);
        if !(0..=127).contains(&pt) || !(v.contains(lower) || v.contains(upper)) {
            continue;
        }
        let pt = pt as u8;
        if filter_profile.is_none() {
            return Some(pt);
        }
        candidates.push(pt);
    }
    let profile = filter_profile?;
    for a in attributes
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("fmtp"))
    {
        let Some(v) = a.value.as_deref() else {
            continue;
        };
        let pt = atoi(v);
        let Some(&pt) = candidates.iter().find(|c| i64::from(**c) == pt) else {
            continue;
        };
        let found = match codec {
            CodecName::Vp9 => v.contains(&format!("profile-id={profile}")),
            _ => {
                !v.contains("packetization-mode=0")
                    && (v.contains(&format!(
                        "profile-level-id={}",
                        profile.to_ascii_lowercase()
                    )) || v.contains(&format!(
                        "profile-level-id={}",
                        profile.to_ascii_uppercase()
                    )))
            }
        };
        if found {
            return Some(pt);
        }
    }
    None
}

/// RTP header extension URIs Janus knows (`rtp.h`) and the ids it uses in its own offers.
pub mod extension {
    /// `urn:ietf:params:rtp-hdrext:ssrc-audio-level` (RFC 6464)
    pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    /// `urn:ietf:params:rtp-hdrext:toffset` (RFC 5450)
    pub const TOFFSET: &str = "urn:ietf:params:rtp-hdrext:toffset";
    /// abs-send-time
    pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// `urn:3gpp:video-orientation`
    pub const VIDEO_ORIENTATION: &str = "urn:3gpp:video-orientation";
    /// transport-wide congestion control sequence numbers
    pub const TRANSPORT_WIDE_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// playout-delay
    pub const PLAYOUT_DELAY: &str = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";
    /// `urn:ietf:params:rtp-hdrext:sdes:mid` (RFC 9143)
    pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// `urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id` (RFC 8852)
    pub const RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
    /// `urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id` (RFC 8852)
    pub const REPAIRED_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
    /// AV1 dependency descriptor
    pub const DEPENDENCY_DESCRIPTOR: &str =
        "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";
    /// `urn:ietf:params:rtp-hdrext:encrypt` (RFC 6904; Janus strips it)
    pub const ENCRYPTED: &str = "urn:ietf:params:rtp-hdrext:encrypt";

    /// The id Janus gives an extension in the offers it generates (`janus_rtp_extension_id`);
    /// `None` for extensions without a fixed id.
    pub fn janus_id(uri: &str) -> Option<u8> {
        let ids: [(&str, u8); 9] = [
            (AUDIO_LEVEL, 1),
            (TOFFSET, 14),
            (ABS_SEND_TIME, 2),
            (VIDEO_ORIENTATION, 13),
            (TRANSPORT_WIDE_CC, 3),
            (PLAYOUT_DELAY, 12),
            (MID, 4),
            (RID, 5),
            (REPAIRED_RID, 6),
        ];
        ids.into_iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(uri))
            .map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(list: &[(&str, &str)]) -> Vec<Attribute> {
        list.iter().map(|(n, v)| Attribute::new(*n, *v)).collect()
    }

    #[test]
    fn finds_codec_in_attribute_order() {
        let a = attrs(&[
            ("rtpmap", "102 H264/90000"),
            ("rtpmap", "96 VP8/90000"),
            ("rtpmap", "97 rtx/90000"),
        ]);
        assert_eq!(find_codec_pt(&a, CodecName::Vp8, None), Some(96));
        assert_eq!(find_codec_pt(&a, CodecName::H264, None), Some(102));
        assert_eq!(find_codec_pt(&a, CodecName::Vp9, None), None);
    }

    #[test]
    fn h264_profile_skips_packetization_mode_zero() {
        let a = attrs(&[
            ("rtpmap", "100 H264/90000"),
            (
                "fmtp",
                "100 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
            ),
            ("rtpmap", "102 H264/90000"),
            (
                "fmtp",
                "102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            ),
        ]);
        assert_eq!(
            find_codec_pt(&a, CodecName::H264, Some("42E01F")),
            Some(102)
        );
        assert_eq!(find_codec_pt(&a, CodecName::H264, Some("640c1f")), None);
        assert_eq!(find_codec_pt(&a, CodecName::H264, None), Some(100));
    }

    #[test]
    fn vp9_profile_matches_profile_id() {
        let a = attrs(&[
            ("rtpmap", "98 VP9/90000"),
            ("fmtp", "98 profile-id=0"),
            ("rtpmap", "100 VP9/90000"),
            ("fmtp", "100 profile-id=2"),
        ]);
        assert_eq!(find_codec_pt(&a, CodecName::Vp9, Some("2")), Some(100));
    }

    #[test]
    fn janus_extension_ids() {
        assert_eq!(extension::janus_id(extension::MID), Some(4));
        assert_eq!(extension::janus_id(extension::PLAYOUT_DELAY), Some(12));
        assert_eq!(extension::janus_id(extension::DEPENDENCY_DESCRIPTOR), None);
    }

    #[test]
    fn codec_names_round_trip() {
        for c in CodecName::ALL {
            assert_eq!(CodecName::parse(c.as_str()), Some(c));
        }
        assert_eq!(CodecName::parse("L16-48"), Some(CodecName::L16At48k));
    }
}

//! Typed values of the header extensions an SFU reads or writes.
//!
//! Each type parses the element data (`parse`) and writes it back (`write`, returning
//! the length). Extensions not listed here are passed through untouched as raw bytes.

use crate::RtpError;
use crate::bytes::{need, put, u16_at, u24_at};

/// The header extensions this crate understands, by their `a=extmap` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtensionKind {
    /// RFC 9143 §15 (was RFC 8843) media identification, [`Mid`].
    Mid,
    /// RFC 8852 §3.1 RtpStreamId, [`Rid`].
    Rid,
    /// RFC 8852 §3.2 RepairedRtpStreamId, [`Rid`].
    RepairedRid,
    /// RFC 6464 client-to-mixer audio level, [`AudioLevel`].
    AudioLevel,
    /// abs-send-time, [`AbsSendTime`].
    AbsSendTime,
    /// Transport-wide sequence number, [`TransportCc`].
    TransportCc,
    /// 3GPP TS 26.114 coordination of video orientation, [`VideoOrientation`].
    VideoOrientation,
    /// playout-delay, [`PlayoutDelay`].
    PlayoutDelay,
}

impl ExtensionKind {
    /// Every kind, for building lookup tables.
    pub const ALL: [Self; 8] = [
        Self::Mid,
        Self::Rid,
        Self::RepairedRid,
        Self::AudioLevel,
        Self::AbsSendTime,
        Self::TransportCc,
        Self::VideoOrientation,
        Self::PlayoutDelay,
    ];

    /// The URI used in `a=extmap`.
    #[must_use]
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Mid => "urn:ietf:params:rtp-hdrext:sdes:mid",
            Self::Rid => "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            Self::RepairedRid => "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
            Self::AudioLevel => "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            Self::AbsSendTime => "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            Self::TransportCc => {
                "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
            }
            Self::VideoOrientation => "urn:3gpp:video-orientation",
            Self::PlayoutDelay => "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
        }
    }

    /// The kind for an `a=extmap` URI, or `None` for one this crate does not parse.
    #[must_use]
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.uri() == uri)
    }
}

/// A media identification tag carried in the `sdes:mid` extension, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mid<'a>(&'a str);

/// An RtpStreamId or RepairedRtpStreamId (simulcast layer name), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rid<'a>(&'a str);

macro_rules! string_id {
    ($t:ident) => {
        impl<'a> $t<'a> {
            /// Parses the element data: visible ASCII, trailing NUL octets ignored.
            ///
            /// # Errors
            /// `BadValue` when empty or when a byte is not visible ASCII.
            pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
                parse_token(data).map(Self)
            }

            /// Wraps a string to write.
            ///
            /// # Errors
            /// `ApiMisuse` when empty, longer than 255 bytes or not visible ASCII.
            pub fn new(s: &'a str) -> Result<Self, RtpError> {
                if s.len() > 255 || parse_token(s.as_bytes()).is_err() {
                    return Err(RtpError::ApiMisuse("identifier is not 1-255 visible ASCII"));
                }
                Ok(Self(s))
            }

            /// The identifier.
            #[must_use]
            pub const fn as_str(&self) -> &'a str {
                self.0
            }

            /// Writes the identifier bytes into `out`; returns the length.
            ///
            /// # Errors
            /// `BufferTooSmall`.
            pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
                need(out, self.0.len())?;
                put(out, 0, self.0.as_bytes())?;
                Ok(self.0.len())
            }
        }
    };
}

string_id!(Mid);
string_id!(Rid);

fn parse_token(data: &[u8]) -> Result<&str, RtpError> {
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let s = data.get(..end).unwrap_or(&[]);
    if s.is_empty() || !s.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(RtpError::BadValue);
    }
    std::str::from_utf8(s).map_err(|_| RtpError::BadValue)
}

/// RFC 6464 §3 audio level: voice-activity flag and level in -dBov (0 loudest, 127
/// silence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioLevel {
    /// The V bit: the encoder saw voice activity.
    pub voice: bool,
    /// Level in -dBov, 0–127.
    pub level: u8,
}

impl AudioLevel {
    /// Parses the 1-byte element data.
    ///
    /// # Errors
    /// `BadExtension` unless the data is exactly 1 byte.
    pub fn parse(data: &[u8]) -> Result<Self, RtpError> {
        match data {
            [b] => Ok(Self {
                voice: b & 0x80 != 0,
                level: b & 0x7f,
            }),
            _ => Err(RtpError::BadExtension),
        }
    }

    /// Writes the 1-byte element data.
    ///
    /// # Errors
    /// `ApiMisuse` for a level above 127; `BufferTooSmall`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        if self.level > 0x7f {
            return Err(RtpError::ApiMisuse("audio level above 127"));
        }
        need(out, 1)?;
        put(out, 0, &[(u8::from(self.voice) << 7) | self.level])?;
        Ok(1)
    }
}

/// abs-send-time: the sender's clock as 6.18 fixed-point seconds, 24 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsSendTime(pub u32);

impl AbsSendTime {
    /// Parses the 3-byte element data.
    ///
    /// # Errors
    /// `BadExtension` unless the data is exactly 3 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, RtpError> {
        if data.len() != 3 {
            return Err(RtpError::BadExtension);
        }
        u24_at(data, 0).map(Self).ok_or(RtpError::BadExtension)
    }

    /// The value for a 64-bit NTP timestamp (32.32 fixed point): bits 14–37.
    #[must_use]
    pub const fn from_ntp(ntp: u64) -> Self {
        Self(((ntp >> 14) & 0x00ff_ffff) as u32)
    }

    /// Writes the 3-byte element data (the low 24 bits).
    ///
    /// # Errors
    /// `BufferTooSmall`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        need(out, 3)?;
        let b = self.0.to_be_bytes();
        put(out, 0, &b[1..])?;
        Ok(3)
    }
}

/// The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportCc(pub u16);

impl TransportCc {
    /// Parses the 2-byte element data.
    ///
    /// # Errors
    /// `BadExtension` unless the data is exactly 2 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, RtpError> {
        if data.len() != 2 {
            return Err(RtpError::BadExtension);
        }
        u16_at(data, 0).map(Self).ok_or(RtpError::BadExtension)
    }

    /// Writes the 2-byte element data.
    ///
    /// # Errors
    /// `BufferTooSmall`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        need(out, 2)?;
        put(out, 0, &self.0.to_be_bytes())?;
        Ok(2)
    }
}

/// Coordination of video orientation (3GPP TS 26.114 §7.4.5, `urn:3gpp:video-orientation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VideoOrientation {
    /// C: the back-facing camera captured the frame.
    pub camera_back: bool,
    /// F: the image is flipped horizontally.
    pub flip: bool,
    /// R1R0: clockwise rotation in quarter turns, 0–3.
    pub rotation: u8,
}

impl VideoOrientation {
    /// Parses the 1-byte element data; the upper 4 bits are ignored.
    ///
    /// # Errors
    /// `BadExtension` unless the data is exactly 1 byte.
    pub fn parse(data: &[u8]) -> Result<Self, RtpError> {
        match data {
            [b] => Ok(Self {
                camera_back: b & 0x08 != 0,
                flip: b & 0x04 != 0,
                rotation: b & 0x03,
            }),
            _ => Err(RtpError::BadExtension),
        }
    }

    /// Clockwise rotation in degrees.
    #[must_use]
    pub const fn degrees(&self) -> u16 {
        (self.rotation & 3) as u16 * 90
    }

    /// Writes the 1-byte element data.
    ///
    /// # Errors
    /// `ApiMisuse` for a rotation above 3; `BufferTooSmall`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        if self.rotation > 3 {
            return Err(RtpError::ApiMisuse("rotation above 3 quarter turns"));
        }
        need(out, 1)?;
        let b = (u8::from(self.camera_back) << 3) | (u8::from(self.flip) << 2) | self.rotation;
        put(out, 0, &[b])?;
        Ok(1)
    }
}

/// playout-delay: the minimum and maximum playout delay in 10 ms units, 12 bits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlayoutDelay {
    /// Minimum delay, 10 ms units (0–4095).
    pub min: u16,
    /// Maximum delay, 10 ms units (0–4095).
    pub max: u16,
}

impl PlayoutDelay {
    /// Parses the 3-byte element data.
    ///
    /// # Errors
    /// `BadExtension` unless the data is exactly 3 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, RtpError> {
        if data.len() != 3 {
            return Err(RtpError::BadExtension);
        }
        let v = u24_at(data, 0).ok_or(RtpError::BadExtension)?;
        Ok(Self {
            min: (v >> 12) as u16,
            max: (v & 0x0fff) as u16,
        })
    }

    /// Writes the 3-byte element data.
    ///
    /// # Errors
    /// `ApiMisuse` for a value above 4095; `BufferTooSmall`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        if self.min > 0x0fff || self.max > 0x0fff {
            return Err(RtpError::ApiMisuse("playout delay above 4095"));
        }
        need(out, 3)?;
        let v = (u32::from(self.min) << 12) | u32::from(self.max);
        put(out, 0, &v.to_be_bytes()[1..])?;
        Ok(3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_round_trip_for_every_kind() {
        for k in ExtensionKind::ALL {
            assert_eq!(ExtensionKind::from_uri(k.uri()), Some(k));
        }
        assert_eq!(ExtensionKind::from_uri("urn:example"), None);
    }

    #[test]
    fn mid_and_rid_parse_visible_ascii() {
        assert_eq!(Mid::parse(b"0").unwrap().as_str(), "0");
        assert_eq!(Rid::parse(b"hi\0\0").unwrap().as_str(), "hi");
        assert_eq!(Rid::parse(b""), Err(RtpError::BadValue));
        assert_eq!(Mid::parse(b"a b"), Err(RtpError::BadValue));
        assert_eq!(Mid::parse(&[0xc3, 0xa9]), Err(RtpError::BadValue));
        let mut out = [0u8; 4];
        assert_eq!(Rid::new("l").unwrap().write(&mut out), Ok(1));
        assert_eq!(out[0], b'l');
        assert!(Mid::new("").is_err());
    }

    #[test]
    fn audio_level_splits_voice_bit() {
        // RFC 6464 §3: V=1, level=0x21 (33 -dBov).
        let a = AudioLevel::parse(&[0xa1]).unwrap();
        assert_eq!(
            a,
            AudioLevel {
                voice: true,
                level: 33
            }
        );
        let mut out = [0u8; 1];
        a.write(&mut out).unwrap();
        assert_eq!(out, [0xa1]);
        assert!(AudioLevel::parse(&[1, 2]).is_err());
    }

    #[test]
    fn abs_send_time_is_24_bits() {
        assert_eq!(
            AbsSendTime::parse(&[0x12, 0x34, 0x56]),
            Ok(AbsSendTime(0x12_3456))
        );
        // 1.5 s as NTP 32.32 → 6.18: 1.5 * 2^18 = 0x60000.
        assert_eq!(AbsSendTime::from_ntp(0x1_8000_0000), AbsSendTime(0x6_0000));
        let mut out = [0u8; 3];
        AbsSendTime(0xab_cdef).write(&mut out).unwrap();
        assert_eq!(out, [0xab, 0xcd, 0xef]);
    }

    #[test]
    fn transport_cc_is_16_bits() {
        assert_eq!(TransportCc::parse(&[0x01, 0x02]), Ok(TransportCc(0x0102)));
        assert!(TransportCc::parse(&[1]).is_err());
    }

    #[test]
    fn video_orientation_reads_cfr_bits() {
        let v = VideoOrientation::parse(&[0x0b]).unwrap();
        assert!(v.camera_back && !v.flip);
        assert_eq!(v.rotation, 3);
        assert_eq!(v.degrees(), 270);
        let mut out = [0u8; 1];
        v.write(&mut out).unwrap();
        assert_eq!(out, [0x0b]);
    }

    #[test]
    fn playout_delay_packs_two_12_bit_values() {
        let p = PlayoutDelay::parse(&[0x00, 0x10, 0x64]).unwrap();
        assert_eq!(p, PlayoutDelay { min: 1, max: 100 });
        let mut out = [0u8; 3];
        PlayoutDelay { min: 4095, max: 1 }.write(&mut out).unwrap();
        assert_eq!(out, [0xff, 0xf0, 0x01]);
        assert!(PlayoutDelay { min: 4096, max: 0 }.write(&mut out).is_err());
    }
}

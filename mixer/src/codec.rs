//! Decoders and encoders of one participant (or forwarder), at the mix rate: Opus natively
//! (libopus decodes and encodes at 8–48 kHz), G.711 through 8 kHz with linear resampling.

use std::ffi::c_int;
use std::ptr::NonNull;

use opusic_sys as ffi;

use crate::dsp::{downmix, resample};
use crate::g711;

/// RTP clock of Opus (always 48 kHz, whatever the audio bandwidth).
pub const OPUS_CLOCK: u32 = 48_000;
/// RTP clock (and sample rate) of G.711.
pub const G711_CLOCK: u32 = 8_000;
/// Samples of one 20 ms G.711 frame.
const G711_FRAME: usize = 160;
/// Most samples per channel of a 20 ms frame (48 kHz).
pub const MAX_FRAME: usize = 960;

/// A participant's (or forwarder's) codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Opus.
    Opus,
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

impl Codec {
    /// RTP timestamp units per 20 ms frame.
    pub fn timestamp_step(self) -> u32 {
        match self {
            Self::Opus => OPUS_CLOCK / 50,
            Self::Pcmu | Self::Pcma => G711_CLOCK / 50,
        }
    }
}

/// Opus encoder settings (AudioBridge `bitrate`, `quality`, `expected_loss`, FEC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Bits per second; 0 lets libopus decide.
    pub bitrate: u32,
    /// Complexity 1–10.
    pub complexity: u8,
    /// Expected loss in percent, 0–20.
    pub expected_loss: u8,
    /// In-band forward error correction.
    pub fec: bool,
}

impl Default for OpusSettings {
    fn default() -> Self {
        Self {
            bitrate: 0,
            complexity: 4,
            expected_loss: 0,
            fec: false,
        }
    }
}

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecError;

/// Decodes one participant's packets to mono PCM at the mix rate.
pub enum Decoder {
    /// libopus, created at the mix rate, mono.
    Opus(Box<opus::Decoder>),
    /// µ-law.
    Pcmu,
    /// A-law.
    Pcma,
}

impl Decoder {
    /// A decoder for `codec` producing `rate` Hz mono.
    ///
    /// # Errors
    /// When libopus refuses the rate.
    pub fn new(codec: Codec, rate: u32) -> Result<Self, CodecError> {
        Ok(match codec {
            Codec::Opus => Self::Opus(Box::new(
                opus::Decoder::new(rate, opus::Channels::Mono).map_err(|_| CodecError)?,
            )),
            Codec::Pcmu => Self::Pcmu,
            Codec::Pcma => Self::Pcma,
        })
    }

    /// Decodes `payload` into `out` (one frame at the mix rate, zero-filled when the packet
    /// is shorter).
    ///
    /// # Errors
    /// A corrupt Opus packet, or one longer than 20 ms.
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<(), CodecError> {
        match self {
            Self::Opus(d) => {
                let n = d.decode(payload, out, false).map_err(|_| CodecError)?;
                out.get_mut(n..).into_iter().for_each(|r| r.fill(0));
                Ok(())
            }
            Self::Pcmu => {
                g711_decode(payload, out, g711::ulaw_decode);
                Ok(())
            }
            Self::Pcma => {
                g711_decode(payload, out, g711::alaw_decode);
                Ok(())
            }
        }
    }

    /// Fills `out` for a lost packet: Opus FEC from the packet that follows when there is
    /// one, else Opus packet loss concealment; silence for G.711.
    ///
    /// # Errors
    /// When libopus fails (the frame is then silence).
    pub fn conceal(&mut self, next: Option<&[u8]>, out: &mut [i16]) -> Result<(), CodecError> {
        match self {
            Self::Opus(d) => {
                let n = match next {
                    Some(next) => d.decode(next, out, true),
                    None => d.decode(&[], out, false),
                };
                let n = n.map_err(|_| {
                    out.fill(0);
                    CodecError
                })?;
                out.get_mut(n..).into_iter().for_each(|r| r.fill(0));
                Ok(())
            }
            Self::Pcmu | Self::Pcma => {
                out.fill(0);
                Ok(())
            }
        }
    }

    /// Forgets the decoder's history (AudioBridge `resetdecoder`).
    pub fn reset(&mut self) {
        if let Self::Opus(d) = self {
            let _ = d.reset_state();
        }
    }
}

fn g711_decode(payload: &[u8], out: &mut [i16], decode: fn(u8) -> i16) {
    let mut narrow = [0i16; G711_FRAME];
    for (s, code) in narrow.iter_mut().zip(payload) {
        *s = decode(*code);
    }
    resample(&narrow, out);
}

/// A libopus encoder held through the C API. The `opus` crate's wrapper hides the state,
/// and the mixer needs one thing it does not offer: copying a state. libopus documents an
/// encoder state as one contiguous, position-independent block of
/// `opus_encoder_get_size(channels)` bytes that a plain copy duplicates; handing a listener
/// from the shared encoder over to its own copies the shared state, so that its decoder sees
/// no discontinuity.
pub struct OpusEncoder {
    state: NonNull<ffi::OpusEncoder>,
    size: usize,
    channels: usize,
}

// SAFETY: the state is owned exclusively (no other handle to it exists) and libopus keeps
// no thread-local or global state per encoder, so it may move between threads.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    fn new(rate: u32, channels: usize) -> Result<Self, CodecError> {
        let ch = c_int::try_from(channels).map_err(|_| CodecError)?;
        let fs = i32::try_from(rate).map_err(|_| CodecError)?;
        let mut error: c_int = 0;
        // SAFETY: `error` is a valid out-pointer; libopus validates the rate and channels and
        // returns null on failure.
        let raw =
            unsafe { ffi::opus_encoder_create(fs, ch, ffi::OPUS_APPLICATION_VOIP, &mut error) };
        let state = NonNull::new(raw).ok_or(CodecError)?;
        // SAFETY: a pure function of the channel count (1 or 2 here, checked by create).
        let size = unsafe { ffi::opus_encoder_get_size(ch) };
        let encoder = Self {
            state,
            size: usize::try_from(size).unwrap_or(0),
            channels,
        };
        if error != ffi::OPUS_OK || encoder.size == 0 {
            return Err(CodecError);
        }
        Ok(encoder)
    }

    /// One `OPUS_SET_*` request taking an `opus_int32`.
    fn set(&mut self, request: c_int, value: i32) -> Result<(), CodecError> {
        // SAFETY: the state is live, and every request passed here takes exactly one
        // opus_int32 argument.
        let r = unsafe { ffi::opus_encoder_ctl(self.state.as_ptr(), request, value) };
        if r == ffi::OPUS_OK {
            Ok(())
        } else {
            Err(CodecError)
        }
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        let frame = c_int::try_from(pcm.len() / self.channels.max(1)).map_err(|_| CodecError)?;
        let room = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: the state is live; `pcm` holds `frame` samples per channel and `out` is
        // writable for `room` bytes (libopus writes no more).
        let n = unsafe {
            ffi::opus_encode(
                self.state.as_ptr(),
                pcm.as_ptr(),
                frame,
                out.as_mut_ptr(),
                room,
            )
        };
        usize::try_from(n).map_err(|_| CodecError)
    }

    /// Makes this encoder a copy of `other` (history and settings); false when their
    /// channel counts differ (nothing is copied then).
    pub fn copy_state_from(&mut self, other: &Self) -> bool {
        if self.size != other.size || self.channels != other.channels {
            return false;
        }
        // SAFETY: both states are live allocations of `size` bytes (opus_encoder_create
        // allocates opus_encoder_get_size bytes); they cannot overlap because `self` is
        // borrowed mutably while `other` is borrowed; libopus documents the state as
        // position independent, so the byte copy is a valid encoder.
        unsafe {
            std::ptr::copy_nonoverlapping(
                other.state.as_ptr().cast::<u8>(),
                self.state.as_ptr().cast::<u8>(),
                self.size,
            );
        }
        true
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create, destroyed once, here.
        unsafe { ffi::opus_encoder_destroy(self.state.as_ptr()) }
    }
}

/// Encodes PCM at the mix rate (mono, or interleaved stereo in a spatial mix).
pub enum Encoder {
    /// libopus at the mix rate.
    Opus(Box<OpusEncoder>),
    /// µ-law (stereo is averaged to mono first).
    Pcmu,
    /// A-law (the same).
    Pcma,
}

impl Encoder {
    /// An encoder for `codec` taking `rate` Hz audio of `channels` (1 or 2).
    ///
    /// # Errors
    /// When libopus refuses the rate or a setting.
    pub fn new(
        codec: Codec,
        rate: u32,
        channels: usize,
        settings: &OpusSettings,
    ) -> Result<Self, CodecError> {
        Ok(match codec {
            Codec::Opus => {
                let channels = if channels == 2 { 2 } else { 1 };
                let mut enc = Self::Opus(Box::new(OpusEncoder::new(rate, channels)?));
                enc.configure(settings)?;
                enc
            }
            Codec::Pcmu => Self::Pcmu,
            Codec::Pcma => Self::Pcma,
        })
    }

    /// Applies Opus settings (nothing for G.711).
    ///
    /// # Errors
    /// When libopus refuses a value.
    pub fn configure(&mut self, settings: &OpusSettings) -> Result<(), CodecError> {
        let Self::Opus(e) = self else {
            return Ok(());
        };
        let bitrate = match settings.bitrate {
            0 => ffi::OPUS_AUTO,
            b => i32::try_from(b.clamp(500, 512_000)).unwrap_or(512_000),
        };
        e.set(ffi::OPUS_SET_BITRATE_REQUEST, bitrate)?;
        e.set(
            ffi::OPUS_SET_COMPLEXITY_REQUEST,
            i32::from(settings.complexity.clamp(1, 10)),
        )?;
        e.set(ffi::OPUS_SET_INBAND_FEC_REQUEST, i32::from(settings.fec))?;
        e.set(
            ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST,
            i32::from(settings.expected_loss.min(20)),
        )
    }

    /// Continues from `other`'s state (Opus; G.711 has none): what a listener's decoder has
    /// seen when it moves from the shared encoder to its own.
    pub fn continue_from(&mut self, other: &Self) {
        if let (Self::Opus(mine), Self::Opus(theirs)) = (self, other) {
            mine.copy_state_from(theirs);
        }
    }

    /// Encodes one frame (`pcm`: one 20 ms frame, `channels` interleaved) into `out`;
    /// returns the payload length.
    ///
    /// # Errors
    /// When libopus fails or `out` is too small.
    pub fn encode(
        &mut self,
        pcm: &[i16],
        channels: usize,
        out: &mut [u8],
    ) -> Result<usize, CodecError> {
        match self {
            Self::Opus(e) => e.encode(pcm, out),
            Self::Pcmu => g711_encode(pcm, channels, out, g711::ulaw_encode),
            Self::Pcma => g711_encode(pcm, channels, out, g711::alaw_encode),
        }
    }
}

fn g711_encode(
    pcm: &[i16],
    channels: usize,
    out: &mut [u8],
    encode: fn(i16) -> u8,
) -> Result<usize, CodecError> {
    let mut mono = [0i16; MAX_FRAME];
    let frame = pcm.len() / channels.max(1);
    let mono = mono.get_mut(..frame).ok_or(CodecError)?;
    if channels == 2 {
        downmix(pcm, mono);
    } else {
        mono.copy_from_slice(pcm.get(..frame).ok_or(CodecError)?);
    }
    let mut narrow = [0i16; G711_FRAME];
    resample(mono, &mut narrow);
    let dst = out.get_mut(..G711_FRAME).ok_or(CodecError)?;
    for (code, s) in dst.iter_mut().zip(narrow) {
        *code = encode(s);
    }
    Ok(G711_FRAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<i16> {
        (0..320)
            .map(|k| {
                let t = (n * 320 + k) as f64 / 16_000.0;
                (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn an_encoder_continuing_from_another_encodes_exactly_as_it_would() {
        let settings = OpusSettings::default();
        let mut followed = Encoder::new(Codec::Opus, 16_000, 1, &settings).expect("encoder");
        let mut idle = Encoder::new(Codec::Opus, 16_000, 1, &settings).expect("encoder");
        let (mut a, mut b) = ([0u8; 1500], [0u8; 1500]);
        for n in 0..20 {
            followed.encode(&tone(n), 1, &mut a).expect("encode");
        }
        // Stale: it saw other audio (silence) than the stream a decoder followed.
        idle.encode(&[0; 320], 1, &mut b).expect("encode");
        let frame = tone(20);
        let mut stale = Encoder::new(Codec::Opus, 16_000, 1, &settings).expect("encoder");
        stale.continue_from(&idle);
        let la = followed.encode(&frame, 1, &mut a).expect("encode");
        let lb = stale.encode(&frame, 1, &mut b).expect("encode");
        assert_ne!(a[..la], b[..lb], "different histories encode differently");
        for n in 21..25 {
            idle.continue_from(&followed);
            let frame = tone(n);
            let la = followed.encode(&frame, 1, &mut a).expect("encode");
            let lb = idle.encode(&frame, 1, &mut b).expect("encode");
            assert_eq!(a[..la], b[..lb], "frame {n}: the copy is the same encoder");
        }
        let mut stereo = Encoder::new(Codec::Opus, 16_000, 2, &settings).expect("encoder");
        if let (Encoder::Opus(two), Encoder::Opus(one)) = (&mut stereo, &followed) {
            assert!(!two.copy_state_from(one), "channel counts differ: no copy");
        }
        stereo.continue_from(&followed);
        let two = [0i16; 640];
        assert!(
            stereo.encode(&two, 2, &mut b).is_ok(),
            "a mismatch copies nothing"
        );
    }
}

//! Decoders and encoders of one participant (or forwarder), at the mix rate: Opus natively
//! (libopus decodes and encodes at 8–48 kHz), G.711 through 8 kHz with linear resampling.

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

/// Encodes PCM at the mix rate (mono, or interleaved stereo in a spatial mix).
pub enum Encoder {
    /// libopus at the mix rate.
    Opus(Box<opus::Encoder>),
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
                let ch = if channels == 2 {
                    opus::Channels::Stereo
                } else {
                    opus::Channels::Mono
                };
                let enc = opus::Encoder::new(rate, ch, opus::Application::Voip)
                    .map_err(|_| CodecError)?;
                let mut enc = Self::Opus(Box::new(enc));
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
            0 => opus::Bitrate::Auto,
            b => opus::Bitrate::Bits(i32::try_from(b.clamp(500, 512_000)).unwrap_or(512_000)),
        };
        e.set_bitrate(bitrate).map_err(|_| CodecError)?;
        e.set_complexity(i32::from(settings.complexity.clamp(1, 10)))
            .map_err(|_| CodecError)?;
        e.set_inband_fec(settings.fec).map_err(|_| CodecError)?;
        e.set_packet_loss_perc(i32::from(settings.expected_loss.min(20)))
            .map_err(|_| CodecError)
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
            Self::Opus(e) => e.encode(pcm, out).map_err(|_| CodecError),
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

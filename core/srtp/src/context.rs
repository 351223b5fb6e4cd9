//! [`SrtpContext`]: one direction of an SRTP session (RFC 3711 §3.2).

use crate::crypto::{AesCmKeys, GCM_TAG_LEN, GcmKeys};
use crate::header::{self, CryptexPlan};
use crate::streams::Streams;
use crate::{SrtpError, SrtpProfile};

/// The highest SRTCP index (RFC 3711 §3.4: 31 bits).
const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;
/// The E bit of the SRTCP index word.
const E_BIT: u32 = 0x8000_0000;
/// SRTCP keeps the 8-byte RTCP header (V/P/RC, PT, length, sender SSRC) in clear.
const RTCP_HEADER_LEN: usize = 8;

/// The crypto transform with its precomputed keys.
#[allow(
    clippy::large_enum_variant,
    reason = "one per long-lived context; keys inline save a pointer chase per packet"
)]
enum Engine {
    AesCm {
        rtp: AesCmKeys,
        rtcp: AesCmKeys,
    },
    Gcm {
        rtp: GcmKeys,
        rtcp: GcmKeys,
    },
    /// `dangerous_null_srtp`: no encryption, all-zero tags that are never checked.
    Null,
}

/// One direction of SRTP/SRTCP protection (the "cryptographic context" of RFC 3711 §3.2)
/// for all SSRCs sent, or all received, under one master key.
///
/// Create one per direction from the DTLS-SRTP keys ([`crate::DtlsSrtpKeys`]): the
/// outbound context protects, the inbound one unprotects. Calling both on one context is not
/// meaningful (a sender does not replay-check).
///
/// # Per-SSRC state
///
/// The context tracks each SSRC it sees, created on its first packet (one allocation then,
/// none per packet): the SRTP rollover counter and highest sequence number, a replay list of
/// [`RTP_REPLAY_WINDOW`](crate::RTP_REPLAY_WINDOW) (1024) packets, and the SRTCP index and a
/// [`RTCP_REPLAY_WINDOW`](crate::RTCP_REPLAY_WINDOW) (128) packet replay list. The number of
/// SSRCs is bounded ([`DEFAULT_MAX_STREAMS`](crate::DEFAULT_MAX_STREAMS) = 256, about 330
/// bytes each); beyond it a new SSRC gets [`SrtpError::TooManyStreams`]. A receiving context
/// only creates state for packets that authenticate, so forged packets cannot fill the table.
/// A stream starts with ROC 0 at its first packet's sequence number.
///
/// # Buffers
///
/// Everything works in place on caller buffers; a protected packet is
/// [`rtp_overhead`](Self::rtp_overhead) / [`rtcp_overhead`](Self::rtcp_overhead) bytes longer
/// than its plaintext. After an `unprotect_*` error the buffer's contents are unspecified.
pub struct SrtpContext {
    profile: SrtpProfile,
    engine: Engine,
    cryptex: bool,
    streams: Streams,
}

impl SrtpContext {
    /// Creates a context from a master key and salt (RFC 3711 §4.3 key derivation with a key
    /// derivation rate of 0; RFC 7714 §11 for the AEAD profiles).
    ///
    /// # Errors
    /// [`SrtpError::BadMasterKeyLength`] / [`SrtpError::BadMasterSaltLength`] when the lengths
    /// differ from [`SrtpProfile::master_key_len`] / [`SrtpProfile::master_salt_len`].
    pub fn new(
        profile: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, SrtpError> {
        if master_key.len() != profile.master_key_len() {
            return Err(SrtpError::BadMasterKeyLength {
                expected: profile.master_key_len(),
                actual: master_key.len(),
            });
        }
        if master_salt.len() != profile.master_salt_len() {
            return Err(SrtpError::BadMasterSaltLength {
                expected: profile.master_salt_len(),
                actual: master_salt.len(),
            });
        }
        let engine = if profile.is_aead() {
            Engine::Gcm {
                rtp: GcmKeys::derive(master_key, master_salt, false),
                rtcp: GcmKeys::derive(master_key, master_salt, true),
            }
        } else {
            Engine::AesCm {
                rtp: AesCmKeys::derive(master_key, master_salt, false),
                rtcp: AesCmKeys::derive(master_key, master_salt, true),
            }
        };
        Ok(Self::with_engine(profile, engine))
    }

    /// A context that does **no cryptography**: packets keep their plaintext and get an
    /// all-zero tag of the `AES_CM_128_HMAC_SHA1_80` size, which unprotect never checks.
    /// Sequence tracking and replay checks still run.
    ///
    /// For benchmarks only, to separate protocol costs from crypto costs. Never use it on a
    /// network.
    pub fn dangerous_null_srtp() -> Self {
        Self::with_engine(SrtpProfile::Aes128CmHmacSha1_80, Engine::Null)
    }

    fn with_engine(profile: SrtpProfile, engine: Engine) -> Self {
        Self {
            profile,
            engine,
            cryptex: false,
            streams: Streams::new(),
        }
    }

    /// The profile this context was created for.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Turns RFC 9335 cryptex on or off for packets this context protects (negotiated with
    /// `a=cryptex`). Receiving contexts need no setting: `unprotect_rtp` always recognises the
    /// 0xC0DE / 0xC2DE extension profiles.
    ///
    /// With cryptex on, `protect_rtp` encrypts the CSRC list and the body of an RFC 8285
    /// one-byte (0xBEDE) or two-byte (0x1000) header extension along with the payload, and
    /// retags the extension 0xC0DE / 0xC2DE. A packet with CSRCs but no extension gets an empty
    /// 0xC0DE block (4 bytes longer, RFC 9335 §5.1). A packet whose extension uses any other
    /// profile is sent as plain SRTP.
    pub fn set_cryptex(&mut self, enabled: bool) {
        self.cryptex = enabled;
    }

    /// Whether cryptex is on for protected packets.
    pub fn cryptex(&self) -> bool {
        self.cryptex
    }

    /// The most bytes `protect_rtp` adds to a packet: the tag, plus 4 with cryptex on.
    pub fn rtp_overhead(&self) -> usize {
        self.profile.rtp_overhead() + if self.cryptex { 4 } else { 0 }
    }

    /// Bytes `protect_rtcp` adds: the E|index word and the tag.
    pub fn rtcp_overhead(&self) -> usize {
        self.profile.rtcp_overhead()
    }

    /// Sets the bound on tracked SSRCs (default
    /// [`DEFAULT_MAX_STREAMS`](crate::DEFAULT_MAX_STREAMS)). Lowering it below the current
    /// count evicts nothing; it only refuses new SSRCs.
    pub fn set_max_streams(&mut self, max: usize) {
        self.streams.set_max(max);
    }

    /// The bound on tracked SSRCs.
    pub fn max_streams(&self) -> usize {
        self.streams.max()
    }

    /// How many SSRCs this context tracks.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Forgets an SSRC (after RTCP BYE or when a track is removed), freeing its slot. A later
    /// packet for it starts a fresh stream (ROC 0, empty replay list). Returns whether it was
    /// tracked.
    pub fn remove_stream(&mut self, ssrc: u32) -> bool {
        self.streams.remove(ssrc)
    }

    /// The highest SRTP packet index (ROC × 65536 + sequence number, RFC 3711 §3.3.1) seen on
    /// `ssrc`; `None` if no RTP packet of it was processed.
    pub fn highest_rtp_index(&self, ssrc: u32) -> Option<u64> {
        let i = self.streams.position(ssrc)?;
        self.streams.get(i).rtp.highest()
    }

    /// Protects the RTP packet `buf[..len]` in place (RFC 3711 §3.3, RFC 7714 §8, RFC 9335
    /// §5.2) and returns the SRTP packet's length; `buf` must have
    /// [`rtp_overhead`](Self::rtp_overhead) bytes of room after `len`.
    ///
    /// The packet index comes from the sequence number and the stream's ROC, which advances
    /// when the sequence number wraps; re-protecting an old sequence number (a retransmission)
    /// reuses its index.
    ///
    /// # Errors
    /// `Truncated` / `BadVersion` for a malformed RTP header, `BufferTooSmall`,
    /// `TooManyStreams`, `TooOld` for a sequence number before the stream's first that would
    /// need a negative ROC, `KeyExhausted`.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.protect_rtp_inner(buf, len, None)
    }

    /// [`protect_rtp`](Self::protect_rtp) for a caller that sends one SSRC on this context
    /// over and over (a forwarder's subscription): `hint` remembers where the stream's state
    /// sits, so the next packet skips the lookup. Any value is safe: a stale hint is checked
    /// and replaced. Start with `0`.
    ///
    /// # Errors
    /// As [`protect_rtp`](Self::protect_rtp).
    pub fn protect_rtp_hinted(
        &mut self,
        buf: &mut [u8],
        len: usize,
        hint: &mut usize,
    ) -> Result<usize, SrtpError> {
        self.protect_rtp_inner(buf, len, Some(hint))
    }

    fn protect_rtp_inner(
        &mut self,
        buf: &mut [u8],
        len: usize,
        hint: Option<&mut usize>,
    ) -> Result<usize, SrtpError> {
        let Some(pkt) = buf.get(..len) else {
            return Err(SrtpError::BufferTooSmall { needed: len });
        };
        let h = header::parse_rtp(pkt)?;
        let plan = if self.cryptex {
            CryptexPlan::for_header(&h)
        } else {
            CryptexPlan::Off
        };
        let tag_len = self.profile.rtp_tag_len();
        let needed = len + plan.growth() + tag_len;
        if buf.len() < needed {
            return Err(SrtpError::BufferTooSmall { needed });
        }

        let i = match hint {
            Some(hint) => {
                let i = self.streams.find_hinted(h.ssrc, *hint)?;
                *hint = i;
                i
            }
            None => self.streams.find_or_insert(h.ssrc)?,
        };
        let window = &mut self.streams.get_mut(i).rtp;
        let index = window.estimate_rtp_index(h.seq)?;
        window.accept(index);
        let roc = (index >> 16) as u32;

        let len = header::apply_cryptex_plan(buf, len, &h, plan);
        let gathered = plan != CryptexPlan::Off;
        let enc_start = if gathered {
            header::cryptex_gather(buf, h.cc)
        } else {
            h.len
        };
        match &self.engine {
            Engine::AesCm { rtp, .. } => {
                rtp.apply_keystream(h.ssrc, index, &mut buf[enc_start..len]);
                if gathered {
                    header::cryptex_scatter(buf, h.cc);
                }
                let tag = rtp.mac(&buf[..len], &roc.to_be_bytes());
                buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
            }
            Engine::Gcm { rtp, .. } => {
                let nonce = rtp.rtp_nonce(h.ssrc, roc, h.seq);
                let (aad, body) = buf.split_at_mut(enc_start);
                let tag = rtp.seal(nonce, aad, &mut body[..len - enc_start]);
                if gathered {
                    header::cryptex_scatter(buf, h.cc);
                }
                buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
            }
            Engine::Null => {
                if gathered {
                    header::cryptex_scatter(buf, h.cc);
                }
                buf[len..len + tag_len].fill(0);
            }
        }
        Ok(len + tag_len)
    }

    /// Copies the RTP packet `plain` into `out` and protects it there; returns the SRTP
    /// length. `out` needs `plain.len() + rtp_overhead()` bytes. This is the per-receiver step
    /// of a fan-out: `plain` stays untouched for the next receiver.
    ///
    /// # Errors
    /// As [`protect_rtp`](Self::protect_rtp).
    pub fn protect_rtp_into(&mut self, plain: &[u8], out: &mut [u8]) -> Result<usize, SrtpError> {
        let Some(dst) = out.get_mut(..plain.len()) else {
            return Err(SrtpError::BufferTooSmall {
                needed: plain.len() + self.rtp_overhead(),
            });
        };
        dst.copy_from_slice(plain);
        self.protect_rtp(out, plain.len())
    }

    /// Verifies and decrypts the SRTP packet `buf` in place; returns the RTP packet's length
    /// (a prefix of `buf`). A cryptex packet (extension profile 0xC0DE / 0xC2DE) comes back
    /// with its CSRCs and extension decrypted and the profile restored to 0xBEDE / 0x1000.
    ///
    /// The index is estimated from the sequence number and the stream's ROC
    /// (RFC 3711 Appendix A), checked against the replay list before the (costly)
    /// authentication, and recorded only after authentication succeeds.
    ///
    /// # Errors
    /// `Truncated` / `BadVersion` (malformed), `Replay` (index already received), `TooOld`
    /// (older than the 1024-packet window), `AuthenticationFailed`, `TooManyStreams` (a new
    /// SSRC beyond the bound), `KeyExhausted`.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        header::check_version(buf)?;
        let tag_len = self.profile.rtp_tag_len();
        let Some(body_len) = buf.len().checked_sub(tag_len) else {
            return Err(SrtpError::Truncated);
        };
        let h = header::parse_rtp(&buf[..body_len])?;
        let index = match self.streams.find_or_room(h.ssrc)? {
            Some(i) => {
                let window = &self.streams.get(i).rtp;
                let index = window.estimate_rtp_index(h.seq)?;
                window.check(index)?;
                index
            }
            None => u64::from(h.seq),
        };
        let roc = (index >> 16) as u32;
        let cryptex = header::is_cryptex(&h);

        match &self.engine {
            Engine::AesCm { rtp, .. } => {
                let (body, tag) = buf.split_at_mut(body_len);
                rtp.verify(body, &roc.to_be_bytes(), tag)?;
                if cryptex {
                    let start = header::cryptex_gather(body, h.cc);
                    rtp.apply_keystream(h.ssrc, index, &mut body[start..]);
                    header::cryptex_scatter(body, h.cc);
                } else {
                    rtp.apply_keystream(h.ssrc, index, &mut body[h.len..]);
                }
            }
            Engine::Gcm { rtp, .. } => {
                let start = if cryptex {
                    header::cryptex_gather(buf, h.cc)
                } else {
                    h.len
                };
                let nonce = rtp.rtp_nonce(h.ssrc, roc, h.seq);
                let (aad, body) = buf.split_at_mut(start);
                rtp.open(nonce, aad, body)?;
                if cryptex {
                    header::cryptex_scatter(buf, h.cc);
                }
            }
            Engine::Null => {}
        }
        if cryptex {
            header::restore_profile(buf, &h);
        }
        let i = self.streams.find_or_insert(h.ssrc)?;
        self.streams.get_mut(i).rtp.accept(index);
        Ok(body_len)
    }

    /// Protects the (compound) RTCP packet `buf[..len]` in place (RFC 3711 §3.4,
    /// RFC 7714 §9) with the next SRTCP index of its sender SSRC, always encrypted (E = 1);
    /// returns the SRTCP length. `buf` needs [`rtcp_overhead`](Self::rtcp_overhead) bytes of
    /// room after `len`.
    ///
    /// Wire layout: AES-CM `header8 || ciphertext || E|index || tag`; GCM
    /// `header8 || ciphertext || tag || E|index` with AAD `header8 || E|index`.
    ///
    /// # Errors
    /// `Truncated` (under 8 bytes), `BadVersion`, `BufferTooSmall`, `TooManyStreams`,
    /// `KeyExhausted` after 2^31 packets of one SSRC.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let Some(pkt) = buf.get(..len) else {
            return Err(SrtpError::BufferTooSmall { needed: len });
        };
        header::check_version(pkt)?;
        let Some(h) = pkt.get(..RTCP_HEADER_LEN) else {
            return Err(SrtpError::Truncated);
        };
        let ssrc = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let tag_len = self.profile.rtcp_tag_len();
        let needed = len + 4 + tag_len;
        if buf.len() < needed {
            return Err(SrtpError::BufferTooSmall { needed });
        }
        let i = self.streams.find_or_insert(ssrc)?;
        let state = self.streams.get_mut(i);
        let index = state.rtcp_tx_next;
        if index > MAX_SRTCP_INDEX {
            return Err(SrtpError::KeyExhausted);
        }
        state.rtcp_tx_next += 1;
        let word = (E_BIT | index).to_be_bytes();

        match &self.engine {
            Engine::AesCm { rtcp, .. } => {
                rtcp.apply_keystream(ssrc, u64::from(index), &mut buf[RTCP_HEADER_LEN..len]);
                buf[len..len + 4].copy_from_slice(&word);
                let tag = rtcp.mac(&buf[..len + 4], &[]);
                buf[len + 4..needed].copy_from_slice(&tag[..tag_len]);
            }
            Engine::Gcm { rtcp, .. } => {
                let mut aad = [0u8; RTCP_HEADER_LEN + 4];
                aad[..RTCP_HEADER_LEN].copy_from_slice(&buf[..RTCP_HEADER_LEN]);
                aad[RTCP_HEADER_LEN..].copy_from_slice(&word);
                let nonce = rtcp.rtcp_nonce(ssrc, index);
                let tag = rtcp.seal(nonce, &aad, &mut buf[RTCP_HEADER_LEN..len]);
                buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                buf[len + GCM_TAG_LEN..needed].copy_from_slice(&word);
            }
            Engine::Null => {
                buf[len..len + 4].copy_from_slice(&word);
                buf[len + 4..needed].fill(0);
            }
        }
        Ok(needed)
    }

    /// Verifies and decrypts the SRTCP packet `buf` in place; returns the RTCP length.
    /// Packets with E = 0 (authenticated, not encrypted; RFC 3711 §3.4) are accepted too.
    ///
    /// # Errors
    /// `Truncated`, `BadVersion`, `Replay`, `TooOld` (older than the 128-packet window),
    /// `AuthenticationFailed`, `TooManyStreams`.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        header::check_version(buf)?;
        let len = buf.len();
        let tag_len = self.profile.rtcp_tag_len();
        let Some(plain_len) = len.checked_sub(4 + tag_len) else {
            return Err(SrtpError::Truncated);
        };
        if plain_len < RTCP_HEADER_LEN {
            return Err(SrtpError::Truncated);
        }
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        // AES-CM puts the index word before the tag, GCM after it (RFC 7714 §9.3).
        let word_at = if self.profile.is_aead() {
            len - 4
        } else {
            plain_len
        };
        let word = u32::from_be_bytes([
            buf[word_at],
            buf[word_at + 1],
            buf[word_at + 2],
            buf[word_at + 3],
        ]);
        let encrypted = word & E_BIT != 0;
        let index = word & MAX_SRTCP_INDEX;
        if let Some(i) = self.streams.find_or_room(ssrc)? {
            self.streams.get(i).rtcp_rx.check(u64::from(index))?;
        }

        match &self.engine {
            Engine::AesCm { rtcp, .. } => {
                let (body, tag) = buf.split_at_mut(len - tag_len);
                rtcp.verify(body, &[], tag)?;
                if encrypted {
                    rtcp.apply_keystream(
                        ssrc,
                        u64::from(index),
                        &mut body[RTCP_HEADER_LEN..plain_len],
                    );
                }
            }
            Engine::Gcm { rtcp, .. } => {
                let nonce = rtcp.rtcp_nonce(ssrc, index);
                if encrypted {
                    let mut aad = [0u8; RTCP_HEADER_LEN + 4];
                    aad[..RTCP_HEADER_LEN].copy_from_slice(&buf[..RTCP_HEADER_LEN]);
                    aad[RTCP_HEADER_LEN..].copy_from_slice(&word.to_be_bytes());
                    rtcp.open(nonce, &aad, &mut buf[RTCP_HEADER_LEN..len - 4])?;
                } else {
                    // Unencrypted: the AAD is the whole packet followed by the index word
                    // (RFC 7714 §9.3). Move the word in front of the tag to make it
                    // contiguous; the plaintext is empty.
                    buf[plain_len..].rotate_right(4);
                    let (aad, tag) = buf.split_at_mut(plain_len + 4);
                    rtcp.open(nonce, aad, tag)?;
                }
            }
            Engine::Null => {}
        }
        let i = self.streams.find_or_insert(ssrc)?;
        self.streams.get_mut(i).rtcp_rx.accept(u64::from(index));
        Ok(plain_len)
    }
}

impl core::fmt::Debug for SrtpContext {
    // Keys stay out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("null", &matches!(self.engine, Engine::Null))
            .field("cryptex", &self.cryptex)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
impl SrtpContext {
    /// A context from session keys (the RFC 7714 vectors give those, not master keys).
    pub(crate) fn from_gcm_session_keys(profile: SrtpProfile, key: &[u8], salt: &[u8; 12]) -> Self {
        Self::with_engine(
            profile,
            Engine::Gcm {
                rtp: GcmKeys::from_session_keys(key, salt),
                rtcp: GcmKeys::from_session_keys(key, salt),
            },
        )
    }

    /// Sets the next SRTCP index `ssrc` sends with.
    pub(crate) fn set_next_srtcp_index(&mut self, ssrc: u32, index: u32) {
        let i = self.streams.find_or_insert(ssrc).unwrap();
        self.streams.get_mut(i).rtcp_tx_next = index;
    }
}

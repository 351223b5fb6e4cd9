//! SRTP and SRTCP packet protection for Portunus: RFC 3711 (AES-CM + HMAC-SHA1), RFC 7714
//! (AES-GCM) and RFC 9335 (cryptex), sans-IO and allocation-free per packet.
//!
//! An [`SrtpContext`] protects or unprotects packets for one direction of a DTLS-SRTP
//! session, in place in caller-owned buffers. It keeps the per-SSRC state RFC 3711 requires
//! (rollover counter, highest sequence number, replay list, SRTCP index) and precomputes all
//! key material at creation: AES round keys and HMAC pad states for AES-CM, ring's
//! `LessSafeKey` for GCM. For the SFU's fan-out, [`protect_rtp_fanout`] and
//! [`SrtpContext::protect_rtp_into`] protect one decrypted packet for many receivers.
//!
//! # Driving it
//!
//! ```
//! use portunus_srtp::{DtlsSrtpKeys, SrtpContext, SrtpError, SrtpProfile};
//!
//! // The profile and keying material come from the DTLS handshake (RFC 5764 §4.2).
//! let profile = SrtpProfile::from_iana_id(0x0007).unwrap();
//! let material = [0x42u8; 56];
//! let keys = DtlsSrtpKeys::split(profile, &material)?;
//! // As the DTLS client: send with the client keys, receive with the server keys. Here the
//! // receiver uses the client keys too, to talk to itself.
//! let mut outbound = SrtpContext::new(profile, keys.client_key, keys.client_salt)?;
//! let mut inbound = SrtpContext::new(profile, keys.client_key, keys.client_salt)?;
//!
//! // An RTP packet: 12-byte header (seq 1, SSRC 0x11223344) and a payload, with room for
//! // the tag after it.
//! let rtp = [0x80, 96, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4];
//! let mut buf = [0u8; 1500];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let srtp_len = outbound.protect_rtp(&mut buf, rtp.len())?;
//! assert_eq!(srtp_len, rtp.len() + outbound.rtp_overhead());
//!
//! let mut wire = buf[..srtp_len].to_vec();
//! let rtp_len = inbound.unprotect_rtp(&mut wire)?;
//! assert_eq!(&wire[..rtp_len], &rtp);
//! // The same packet again is a replay: count it and drop it.
//! let mut again = buf[..srtp_len].to_vec();
//! assert_eq!(inbound.unprotect_rtp(&mut again), Err(SrtpError::Replay));
//! # Ok::<(), SrtpError>(())
//! ```
//!
//! # Implemented
//!
//! - RFC 3711 §3.3 / §3.4 packet processing, §3.3.1 and Appendix A ROC estimation, §3.3.2
//!   replay protection (1024-packet SRTP window, 128-packet SRTCP window), §4.1.1 AES-CM,
//!   §4.2.1 HMAC-SHA1, §4.3 key derivation with a key derivation rate of 0.
//! - RFC 5764 §4.1.2 profile ids (`SRTP_AES128_CM_HMAC_SHA1_80` / `_32`) and §4.2 keying
//!   material layout; RFC 7714 §8–§9 (AEAD_AES_128_GCM and AEAD_AES_256_GCM, ids 7 and 8),
//!   §11 key derivation with the 12-byte salt padded as erratum 4938 says.
//! - RFC 9335 cryptex: encrypted CSRCs and RFC 8285 header extensions, both directions.
//!
//! # Out of scope
//!
//! MKI (DTLS-SRTP does not use it), key derivation rates other than 0, SDES key exchange,
//! NULL ciphers (other than the [`SrtpContext::dangerous_null_srtp`] bench aid), RFC 6904
//! header-extension encryption, the AES-192/256-CM profiles, rekeying (create a new context),
//! and key zeroization on drop.
#![deny(missing_docs)]

mod context;
mod crypto;
mod error;
mod fanout;
mod header;
mod kdf;
mod profile;
mod replay;
mod streams;
#[cfg(test)]
mod vectors;

pub use context::SrtpContext;
pub use error::SrtpError;
pub use fanout::protect_rtp_fanout;
pub use profile::{DtlsSrtpKeys, SrtpProfile};
pub use replay::{RTCP_REPLAY_WINDOW, RTP_REPLAY_WINDOW};
pub use streams::DEFAULT_MAX_STREAMS;

/// Fuzzing bodies, wired into cargo-fuzz by the `fuzz/` shims. Not API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::{SrtpContext, SrtpProfile};

    const KEY: [u8; 32] = [0x5a; 32];
    const SALT: [u8; 14] = [0xa5; 14];
    const PROFILES: [SrtpProfile; 4] = [
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
    ];

    fn context(profile: SrtpProfile) -> SrtpContext {
        SrtpContext::new(
            profile,
            &KEY[..profile.master_key_len()],
            &SALT[..profile.master_salt_len()],
        )
        .expect("fixed key and salt have the profile's lengths")
    }

    /// Feeds `data` to `unprotect_rtp` and `unprotect_rtcp` of every profile (must not panic),
    /// then, where `data` is an RTP or RTCP packet, checks that protect∘unprotect gives it
    /// back, with and without cryptex.
    pub fn unprotect(data: &[u8]) {
        for profile in PROFILES {
            let mut rx = context(profile);
            let _ = rx.unprotect_rtp(&mut data.to_vec());
            let _ = rx.unprotect_rtcp(&mut data.to_vec());
            round_trip_rtp(profile, data, false);
            round_trip_rtp(profile, data, true);
            round_trip_rtcp(profile, data);
        }
    }

    fn round_trip_rtp(profile: SrtpProfile, data: &[u8], cryptex: bool) {
        let Ok(h) = crate::header::parse_rtp(data) else {
            return;
        };
        // A plaintext already tagged with a cryptex profile would be misread on receipt.
        if crate::header::is_cryptex(&h) {
            return;
        }
        let mut tx = context(profile);
        tx.set_cryptex(cryptex);
        let mut buf = vec![0u8; data.len() + tx.rtp_overhead()];
        buf[..data.len()].copy_from_slice(data);
        let n = tx
            .protect_rtp(&mut buf, data.len())
            .expect("valid RTP protects");
        let mut rx = context(profile);
        let m = rx
            .unprotect_rtp(&mut buf[..n])
            .expect("own packet unprotects");
        let mut expected = data.to_vec();
        if cryptex && h.cc > 0 && h.ext_profile.is_none() {
            // RFC 9335 §5.1: an empty extension block was added; it comes back as 0xBEDE.
            let at = h.csrc_end();
            expected.splice(at..at, [0xbe, 0xde, 0, 0]);
            expected[0] |= 0x10;
        }
        assert_eq!(&buf[..m], &expected[..]);
    }

    fn round_trip_rtcp(profile: SrtpProfile, data: &[u8]) {
        if data.len() < 8 || data[0] >> 6 != 2 {
            return;
        }
        let mut tx = context(profile);
        let mut buf = vec![0u8; data.len() + tx.rtcp_overhead()];
        buf[..data.len()].copy_from_slice(data);
        let n = tx
            .protect_rtcp(&mut buf, data.len())
            .expect("valid RTCP protects");
        let mut rx = context(profile);
        let m = rx
            .unprotect_rtcp(&mut buf[..n])
            .expect("own packet unprotects");
        assert_eq!(&buf[..m], data);
    }
}

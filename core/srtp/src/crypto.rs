//! Per-session crypto state, keyed once at context creation: AES-CM + HMAC-SHA1
//! (RFC 3711 §4.1.1, §4.2.1) and AES-GCM (RFC 7714 §8–§9).
//!
//! Nothing here runs a key schedule per packet: the AES round keys, the HMAC inner/outer pad
//! states and ring's GCM key (with its GHASH table) are computed in `new` and reused.

use aes::Aes128Enc;
use aes::cipher::{InnerIvInit, KeyInit, StreamCipherCore};
use ctr::CtrCore;
use ctr::flavors::Ctr128BE;
use hmac::{Hmac, Mac};
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha1::Sha1;

use crate::SrtpError;
use crate::kdf::{self, Label};

/// HMAC-SHA1 output length; the tag is its leftmost 4 or 10 bytes.
pub(crate) const HMAC_SHA1_LEN: usize = 20;
/// GCM tag length (RFC 7714 §7: 16 octets).
pub(crate) const GCM_TAG_LEN: usize = 16;

/// AES-CM + HMAC-SHA1 keys for one of SRTP or SRTCP.
#[derive(Clone)]
pub(crate) struct AesCmKeys {
    aes: Aes128Enc,
    salt: [u8; 14],
    mac: Hmac<Sha1>,
}

impl AesCmKeys {
    /// Derives the session keys for SRTP (`rtcp == false`) or SRTCP from the master key/salt.
    pub(crate) fn derive(master_key: &[u8], master_salt: &[u8], rtcp: bool) -> Self {
        let (le, la, ls) = if rtcp {
            (Label::RtcpEncryption, Label::RtcpAuth, Label::RtcpSalt)
        } else {
            (Label::RtpEncryption, Label::RtpAuth, Label::RtpSalt)
        };
        let mut key = [0u8; 16];
        let mut auth = [0u8; HMAC_SHA1_LEN];
        let mut salt = [0u8; 14];
        kdf::derive(master_key, master_salt, le, &mut key);
        kdf::derive(master_key, master_salt, la, &mut auth);
        kdf::derive(master_key, master_salt, ls, &mut salt);
        Self::from_session_keys(&key, &salt, &auth)
    }

    /// Builds the state from session keys directly (test vectors give them).
    pub(crate) fn from_session_keys(key: &[u8; 16], salt: &[u8; 14], auth: &[u8]) -> Self {
        Self {
            aes: Aes128Enc::new(key.into()),
            salt: *salt,
            mac: <Hmac<Sha1> as KeyInit>::new_from_slice(auth)
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// XORs the AES-CM keystream for (`ssrc`, `index`) onto `data` (RFC 3711 §4.1.1):
    /// IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
    pub(crate) fn apply_keystream(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *d ^= s;
        }
        // The 48-bit index sits in bytes 8..14.
        for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *d ^= s;
        }
        self.apply_keystream_iv(&iv, data);
    }

    pub(crate) fn apply_keystream_iv(&self, iv: &[u8; 16], data: &mut [u8]) {
        let core = CtrCore::<&Aes128Enc, Ctr128BE>::inner_iv_init(&self.aes, iv.into());
        // A packet is below 64 KiB, i.e. at most 4096 blocks, and the IV's low 16 bits start
        // at zero, so the 128-bit counter cannot run out.
        core.try_apply_keystream_partial(data.into())
            .expect("128-bit counter cannot be exhausted by one packet");
    }

    /// HMAC-SHA1 over `a || b` (the packet, then the ROC or nothing), full 20 bytes.
    ///
    /// The keyed state is cloned: that is a copy of two SHA-1 states, not a key schedule.
    pub(crate) fn mac(&self, a: &[u8], b: &[u8]) -> [u8; HMAC_SHA1_LEN] {
        let mut mac = self.mac.clone();
        mac.update(a);
        mac.update(b);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check of a truncated tag.
    pub(crate) fn verify(&self, a: &[u8], b: &[u8], tag: &[u8]) -> Result<(), SrtpError> {
        let mut mac = self.mac.clone();
        mac.update(a);
        mac.update(b);
        mac.verify_truncated_left(tag)
            .map_err(|_| SrtpError::AuthenticationFailed)
    }
}

/// AES-GCM key and salt for one of SRTP or SRTCP.
pub(crate) struct GcmKeys {
    key: LessSafeKey,
    salt: [u8; 12],
}

impl GcmKeys {
    /// Derives the session key and 12-byte salt (RFC 7714 §11) from the master key/salt.
    pub(crate) fn derive(master_key: &[u8], master_salt: &[u8], rtcp: bool) -> Self {
        let (le, ls) = if rtcp {
            (Label::RtcpEncryption, Label::RtcpSalt)
        } else {
            (Label::RtpEncryption, Label::RtpSalt)
        };
        let mut key = [0u8; 32];
        let key = &mut key[..master_key.len()];
        let mut salt = [0u8; 12];
        kdf::derive(master_key, master_salt, le, key);
        kdf::derive(master_key, master_salt, ls, &mut salt);
        Self::from_session_keys(key, &salt)
    }

    /// Builds the state from a 16- or 32-byte session key and the 12-byte session salt.
    pub(crate) fn from_session_keys(key: &[u8], salt: &[u8; 12]) -> Self {
        let alg = if key.len() == 32 {
            &AES_256_GCM
        } else {
            &AES_128_GCM
        };
        let unbound = UnboundKey::new(alg, key).expect("caller checked the key length");
        Self {
            key: LessSafeKey::new(unbound),
            salt: *salt,
        }
    }

    /// RFC 7714 §8.1 SRTP IV: salt XOR (00 00 || SSRC || ROC || SEQ).
    pub(crate) fn rtp_nonce(&self, ssrc: u32, roc: u32, seq: u16) -> [u8; 12] {
        let mut iv = self.salt;
        xor_into(&mut iv[2..6], &ssrc.to_be_bytes());
        xor_into(&mut iv[6..10], &roc.to_be_bytes());
        xor_into(&mut iv[10..12], &seq.to_be_bytes());
        iv
    }

    /// RFC 7714 §9.1 SRTCP IV: salt XOR (00 00 || SSRC || 00 00 || 0 || index(31)).
    pub(crate) fn rtcp_nonce(&self, ssrc: u32, index: u32) -> [u8; 12] {
        let mut iv = self.salt;
        xor_into(&mut iv[2..6], &ssrc.to_be_bytes());
        xor_into(&mut iv[8..12], &(index & 0x7fff_ffff).to_be_bytes());
        iv
    }

    /// Encrypts `data` in place; returns the tag.
    pub(crate) fn seal(&self, nonce: [u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; GCM_TAG_LEN] {
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), data)
            // ring only refuses inputs longer than GCM's 64 GiB limit.
            .expect("packet far below the GCM length limit");
        let mut out = [0u8; GCM_TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Verifies and decrypts `data_and_tag` in place; returns the plaintext length.
    pub(crate) fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        data_and_tag: &mut [u8],
    ) -> Result<usize, SrtpError> {
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                data_and_tag,
            )
            .map(|p| p.len())
            .map_err(|_| SrtpError::AuthenticationFailed)
    }
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC3711: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/test-vectors/srtp-aes-cm-rfc3711.json"
    ));

    fn hex(v: &serde_json::Value) -> Vec<u8> {
        hex::decode(v.as_str().unwrap()).unwrap()
    }

    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let j: serde_json::Value = serde_json::from_str(RFC3711).unwrap();
        let ks = &j["keystream"];
        let key: [u8; 16] = hex(&ks["session_key"]).try_into().unwrap();
        let shifted = hex(&ks["session_salt_shifted"]);
        let salt: [u8; 14] = shifted[..14].try_into().unwrap();
        let keys = AesCmKeys::from_session_keys(&key, &salt, &[0u8; 20]);
        let blocks = ks["blocks"].as_array().unwrap();
        let last = blocks
            .iter()
            .map(|b| b["index"].as_u64().unwrap())
            .max()
            .unwrap() as usize;
        // Generate the whole segment up to the last listed block through the SRTP IV path
        // (SSRC 0, index 0), then compare the listed blocks.
        let mut stream = vec![0u8; (last + 1) * 16];
        keys.apply_keystream(0, 0, &mut stream);
        assert_eq!(blocks.len(), 6);
        for b in blocks {
            let i = b["index"].as_u64().unwrap() as usize;
            assert_eq!(
                hex::encode(&stream[i * 16..(i + 1) * 16]),
                b["keystream"].as_str().unwrap(),
                "block {i}"
            );
        }
    }

    #[test]
    fn gcm_nonces_match_rfc7714_examples() {
        let j: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/test-vectors/srtp-aes-gcm-rfc7714.json"
        )))
        .unwrap();
        let c = &j["common"];
        let salt: [u8; 12] = hex(&c["salt"]).try_into().unwrap();
        let keys = GcmKeys::from_session_keys(&hex(&c["key_128"]), &salt);
        let rtp = hex(&c["rtp_packet"]);
        let ssrc = u32::from_be_bytes(rtp[8..12].try_into().unwrap());
        let seq = u16::from_be_bytes([rtp[2], rtp[3]]);
        assert_eq!(keys.rtp_nonce(ssrc, 0, seq).to_vec(), hex(&c["rtp_iv"]));
        let rtcp = hex(&c["rtcp_packet"]);
        let ssrc = u32::from_be_bytes(rtcp[4..8].try_into().unwrap());
        let idx = u32::from_be_bytes(hex(&c["srtcp_index"]).try_into().unwrap());
        // The E bit never enters the nonce.
        assert_eq!(
            keys.rtcp_nonce(ssrc, idx | 0x8000_0000).to_vec(),
            hex(&c["rtcp_iv"])
        );
    }

    #[test]
    fn truncated_hmac_verification_rejects_a_flipped_bit() {
        let keys = AesCmKeys::from_session_keys(&[1; 16], &[2; 14], &[3; 20]);
        let full = keys.mac(b"packet", b"\0\0\0\0");
        assert!(keys.verify(b"packet", b"\0\0\0\0", &full[..10]).is_ok());
        let mut bad = full;
        bad[9] ^= 1;
        assert_eq!(
            keys.verify(b"packet", b"\0\0\0\0", &bad[..10]),
            Err(SrtpError::AuthenticationFailed)
        );
    }
}

//! SRTP key derivation (RFC 3711 §4.3 with a key derivation rate of 0; RFC 7714 §11).

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128Enc, Aes256Enc};

/// RFC 3711 §4.3.1 key derivation labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Label {
    RtpEncryption = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpEncryption = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// Fills `out` with the RFC 3711 §4.3.3 AES-CM PRF output for `label`.
///
/// The AES input is `(master_salt XOR (label << 48)) * 2^16` with the block counter in the low
/// 16 bits. A 12-byte (AEAD) master salt is first right-padded with two zero bytes, as RFC 7714
/// erratum 4938 clarifies. `master_key` must be 16 or 32 bytes and `master_salt` 12 or 14
/// bytes (checked by the caller); `out` at most 1 MiB.
pub(crate) fn derive(master_key: &[u8], master_salt: &[u8], label: Label, out: &mut [u8]) {
    let mut x = [0u8; 16];
    // The salt occupies bytes 0..14 of the block; a short AEAD salt leaves 12..14 zero.
    let salt_len = master_salt.len().min(14);
    x[..salt_len].copy_from_slice(&master_salt[..salt_len]);
    x[7] ^= label as u8;
    match master_key.len() {
        32 => {
            let aes = Aes256Enc::new_from_slice(master_key).expect("caller checked: 32 bytes");
            prf(|b| aes.encrypt_block(b.into()), x, out);
        }
        _ => {
            let aes = Aes128Enc::new_from_slice(master_key).expect("caller checked: 16 bytes");
            prf(|b| aes.encrypt_block(b.into()), x, out);
        }
    }
}

fn prf(encrypt: impl Fn(&mut [u8; 16]), x: [u8; 16], out: &mut [u8]) {
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        let mut block = x;
        // Counter in the low 16 bits; key derivation never needs more than a few blocks.
        let ctr = (i as u16).to_be_bytes();
        block[14] = ctr[0];
        block[15] = ctr[1];
        encrypt(&mut block);
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC3711: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/test-vectors/srtp-aes-cm-rfc3711.json"
    ));
    const CRYPTEX: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/test-vectors/srtp-cryptex-rfc9335.json"
    ));

    fn hex(v: &serde_json::Value) -> Vec<u8> {
        hex::decode(v.as_str().unwrap()).unwrap()
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let j: serde_json::Value = serde_json::from_str(RFC3711).unwrap();
        let kd = &j["key_derivation"];
        let key = hex(&kd["master_key"]);
        let salt = hex(&kd["master_salt"]);
        let outputs = kd["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 3);
        for o in outputs {
            let label = match o["label"].as_u64().unwrap() {
                0 => Label::RtpEncryption,
                1 => Label::RtpAuth,
                2 => Label::RtpSalt,
                other => panic!("unexpected label {other}"),
            };
            let want = hex(&o["value"]);
            let mut got = vec![0u8; want.len()];
            derive(&key, &salt, label, &mut got);
            assert_eq!(hex::encode(&got), hex::encode(&want), "label {label:?}");
        }
    }

    #[test]
    fn rfc9335_session_keys_from_both_master_salt_sizes() {
        let j: serde_json::Value = serde_json::from_str(CRYPTEX).unwrap();
        for (suite, salt_len) in [("aes_cm", 14), ("aes_gcm", 12)] {
            let s = &j[suite];
            let key = hex(&s["master_key"]);
            let salt = hex(&s["master_salt"]);
            assert_eq!(salt.len(), salt_len);
            let mut k = [0u8; 16];
            derive(&key, &salt, Label::RtpEncryption, &mut k);
            assert_eq!(k.to_vec(), hex(&s["session_key"]), "{suite} key");
            let mut ss = vec![0u8; salt_len];
            derive(&key, &salt, Label::RtpSalt, &mut ss);
            assert_eq!(
                ss,
                hex(&s["session_salt"]),
                "{suite} salt (erratum 4938 padding)"
            );
            if suite == "aes_cm" {
                let mut a = [0u8; 20];
                derive(&key, &salt, Label::RtpAuth, &mut a);
                assert_eq!(a.to_vec(), hex(&s["auth_key"]));
            }
        }
    }

    /// No published vector covers the AES-256 PRF; these values were computed independently
    /// (Python `cryptography`, AES-256-ECB over the RFC 3711 §4.3.3 input blocks).
    #[test]
    fn aes_256_prf_matches_an_independent_computation() {
        let key: Vec<u8> = (0..32).collect();
        let salt = hex::decode("a0a1a2a3a4a5a6a7a8a9aaab").unwrap();
        let mut k = [0u8; 32];
        derive(&key, &salt, Label::RtpEncryption, &mut k);
        assert_eq!(
            hex::encode(k),
            "b7a435ce454463b760dc82c838468a115c699625af4b93a0f8220a2a6119c5d0"
        );
        let mut s = [0u8; 12];
        derive(&key, &salt, Label::RtpSalt, &mut s);
        assert_eq!(hex::encode(s), "944bd21c268a962cd09c674a");
        derive(&key, &salt, Label::RtcpEncryption, &mut k);
        assert_eq!(
            hex::encode(k),
            "3c90f52a0a13ff8a853397cadc245b9eac76b36edb4a6062bf624aa1174eebf2"
        );
    }

    #[test]
    fn rtcp_labels_give_different_keys() {
        let key = [7u8; 16];
        let salt = [9u8; 14];
        let mut rtp = [0u8; 16];
        let mut rtcp = [0u8; 16];
        derive(&key, &salt, Label::RtpEncryption, &mut rtp);
        derive(&key, &salt, Label::RtcpEncryption, &mut rtcp);
        assert_ne!(rtp, rtcp);
        for l in [Label::RtcpAuth, Label::RtcpSalt] {
            let mut o = [0u8; 16];
            derive(&key, &salt, l, &mut o);
            assert_ne!(o, rtcp);
        }
    }
}

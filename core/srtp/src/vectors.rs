//! Full-packet test vectors: libsrtp interop (RFC 3711 keys), RFC 7714 §16–17, RFC 9335
//! Appendix A. The key-derivation (B.3) and keystream (B.2) vectors sit beside `kdf` and
//! `crypto`.

use serde_json::Value;

use crate::crypto::GcmKeys;
use crate::{SrtpContext, SrtpProfile};

const LIBSRTP: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/test-vectors/srtp-aes-cm-libsrtp-interop.json"
));
const RFC7714: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/test-vectors/srtp-aes-gcm-rfc7714.json"
));
const RFC9335: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/test-vectors/srtp-cryptex-rfc9335.json"
));

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn protect_rtp(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + ctx.rtp_overhead(), 0);
    let n = ctx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn protect_rtcp(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + ctx.rtcp_overhead(), 0);
    let n = ctx.protect_rtcp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect_rtp(ctx: &mut SrtpContext, wire: &[u8]) -> Vec<u8> {
    let mut buf = wire.to_vec();
    let n = ctx.unprotect_rtp(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect_rtcp(ctx: &mut SrtpContext, wire: &[u8]) -> Vec<u8> {
    let mut buf = wire.to_vec();
    let n = ctx.unprotect_rtcp(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn libsrtp_interop_srtp_and_srtcp_packets() {
    let j: Value = serde_json::from_str(LIBSRTP).unwrap();
    let key = hex(&j["master_key"]);
    let salt = hex(&j["master_salt"]);
    let p = SrtpProfile::Aes128CmHmacSha1_80;
    let mut tx = SrtpContext::new(p, &key, &salt).unwrap();
    let mut rx = SrtpContext::new(p, &key, &salt).unwrap();

    let rtp = hex(&j["rtp_plaintext"]);
    let srtp = hex(&j["srtp_protected"]);
    assert_eq!(hex::encode(protect_rtp(&mut tx, &rtp)), hex::encode(&srtp));
    assert_eq!(unprotect_rtp(&mut rx, &srtp), rtp);

    let rtcp = hex(&j["rtcp_plaintext"]);
    let srtcp = hex(&j["srtcp_protected"]);
    // libsrtp numbers its first SRTCP packet 1; RFC 3711 §3.4 starts at 0. Sending one packet
    // first brings this context to index 1.
    assert_eq!(j["srtcp_index"].as_u64(), Some(1));
    protect_rtcp(&mut tx, &rtcp);
    assert_eq!(
        hex::encode(protect_rtcp(&mut tx, &rtcp)),
        hex::encode(&srtcp)
    );
    assert_eq!(unprotect_rtcp(&mut rx, &srtcp), rtcp);
}

#[test]
fn libsrtp_interop_packet_fails_under_the_32_bit_tag_profile() {
    // Same keys, but the _32 profile expects a 4-byte tag, so the last 10 bytes misparse.
    let j: Value = serde_json::from_str(LIBSRTP).unwrap();
    let p = SrtpProfile::Aes128CmHmacSha1_32;
    let mut rx = SrtpContext::new(p, &hex(&j["master_key"]), &hex(&j["master_salt"])).unwrap();
    let mut srtp = hex(&j["srtp_protected"]);
    assert!(rx.unprotect_rtp(&mut srtp).is_err());
}

/// RFC 7714 §16–17. The session keys are given directly. Both key sizes are implemented.
#[test]
fn rfc7714_gcm_vectors() {
    let j: Value = serde_json::from_str(RFC7714).unwrap();
    let c = &j["common"];
    let salt: [u8; 12] = hex(&c["salt"]).try_into().unwrap();
    let rtp = hex(&c["rtp_packet"]);
    let rtcp = hex(&c["rtcp_packet"]);
    let srtcp_index = u32::from_be_bytes(hex(&c["srtcp_index"]).try_into().unwrap());
    let rtcp_ssrc = u32::from_be_bytes(rtcp[4..8].try_into().unwrap());
    let vectors = j["vectors"].as_array().unwrap();
    let mut checked = 0;
    for v in vectors {
        let key = hex(&c[v["key"].as_str().unwrap()]);
        let profile = if key.len() == 32 {
            SrtpProfile::AeadAes256Gcm
        } else {
            SrtpProfile::AeadAes128Gcm
        };
        let section = v["section"].as_str().unwrap();
        let mut tx = SrtpContext::from_gcm_session_keys(profile, &key, &salt);
        let mut rx = SrtpContext::from_gcm_session_keys(profile, &key, &salt);
        match v["kind"].as_str().unwrap() {
            "srtp" => {
                let want = hex(&v["protected"]);
                assert_eq!(
                    hex::encode(protect_rtp(&mut tx, &rtp)),
                    hex::encode(&want),
                    "{section}"
                );
                assert_eq!(unprotect_rtp(&mut rx, &want), rtp, "{section}");
            }
            "srtcp" => {
                let want = hex(&v["protected"]);
                tx.set_next_srtcp_index(rtcp_ssrc, srtcp_index);
                assert_eq!(
                    hex::encode(protect_rtcp(&mut tx, &rtcp)),
                    hex::encode(&want),
                    "{section}"
                );
                assert_eq!(unprotect_rtcp(&mut rx, &want), rtcp, "{section}");
            }
            "srtp-auth-only" => {
                // SRTP without encryption is not a profile we offer; check the tag itself:
                // the whole packet is AAD and the plaintext is empty (RFC 7714 §8.2).
                let keys = GcmKeys::from_session_keys(&key, &salt);
                let nonce = hex(&c["rtp_iv"]).try_into().unwrap();
                let tag = keys.seal(nonce, &rtp, &mut []);
                assert_eq!(tag.to_vec(), hex(&v["tag"]), "{section}");
            }
            "srtcp-auth-only" => {
                // The vector lists AAD || tag, i.e. packet || 0|index || tag. On the wire the
                // tag precedes the index word (RFC 7714 §9.3 layout, as libsrtp sends it).
                let listed = hex(&v["protected"]);
                let (aad, tag) = listed.split_at(listed.len() - 16);
                let (packet, word) = aad.split_at(aad.len() - 4);
                assert_eq!(packet, &rtcp[..]);
                assert_eq!(word, &srtcp_index.to_be_bytes(), "E bit clear");
                let wire = [packet, tag, word].concat();
                assert_eq!(unprotect_rtcp(&mut rx, &wire), rtcp, "{section}");
                let mut tampered = wire.clone();
                tampered[20] ^= 1;
                let mut rx2 = SrtpContext::from_gcm_session_keys(profile, &key, &salt);
                assert!(rx2.unprotect_rtcp(&mut tampered).is_err(), "{section}");
            }
            other => panic!("unknown vector kind {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}

/// RFC 9335 Appendix A, both suites, from master keys (the GCM set exercises the 12-byte
/// salt padding of erratum 4938).
#[test]
fn rfc9335_cryptex_vectors_for_both_profiles() {
    let j: Value = serde_json::from_str(RFC9335).unwrap();
    for (suite, profile, field) in [
        (
            "aes_cm",
            SrtpProfile::Aes128CmHmacSha1_80,
            "aes_cm_protected",
        ),
        ("aes_gcm", SrtpProfile::AeadAes128Gcm, "aes_gcm_protected"),
    ] {
        let key = hex(&j[suite]["master_key"]);
        let salt = hex(&j[suite]["master_salt"]);
        let mut tx = SrtpContext::new(profile, &key, &salt).unwrap();
        tx.set_cryptex(true);
        let mut rx = SrtpContext::new(profile, &key, &salt).unwrap();
        let vectors = j["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 6);
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let plain = hex(&v["plaintext"]);
            let want = hex(&v[field]);
            assert_eq!(
                hex::encode(protect_rtp(&mut tx, &plain)),
                hex::encode(&want),
                "{suite}: {name}"
            );
            assert_eq!(unprotect_rtp(&mut rx, &want), plain, "{suite}: {name}");
        }
    }
}

#[test]
fn cryptex_vectors_unprotect_without_enabling_cryptex() {
    let j: Value = serde_json::from_str(RFC9335).unwrap();
    let key = hex(&j["aes_gcm"]["master_key"]);
    let salt = hex(&j["aes_gcm"]["master_salt"]);
    let mut rx = SrtpContext::new(SrtpProfile::AeadAes128Gcm, &key, &salt).unwrap();
    assert!(!rx.cryptex());
    for v in j["vectors"].as_array().unwrap() {
        assert_eq!(
            unprotect_rtp(&mut rx, &hex(&v["aes_gcm_protected"])),
            hex(&v["plaintext"])
        );
    }
}

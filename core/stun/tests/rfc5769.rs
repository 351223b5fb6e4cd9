//! RFC 5769 §2.1-§2.4 test vectors: parse, verify MESSAGE-INTEGRITY and FINGERPRINT, and
//! rebuild each message byte for byte with the writer.

use std::net::SocketAddr;

use portunus_stun::{
    Class, IntegrityKey, MessageWriter, Method, StunError, StunMessage, long_term_key,
};
use serde_json::Value;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/test-vectors/stun-rfc5769.json"
));

struct Vector {
    bytes: Vec<u8>,
    v: Value,
}

fn vector(section: &str) -> Vector {
    let all: Value = serde_json::from_str(VECTORS).expect("vector file is JSON");
    let v = all["vectors"]
        .as_array()
        .expect("vectors array")
        .iter()
        .find(|v| v["section"] == section)
        .unwrap_or_else(|| panic!("no vector {section}"))
        .clone();
    let bytes = hex::decode(v["message_hex"].as_str().expect("hex")).expect("valid hex");
    Vector { bytes, v }
}

fn expect_str<'a>(v: &'a Vector, field: &str) -> &'a str {
    v.v["expect"][field].as_str().expect("string field")
}

fn expect_hex(v: &Vector, field: &str) -> Vec<u8> {
    hex::decode(expect_str(v, field)).expect("hex field")
}

fn password(v: &Vector) -> &str {
    v.v["credential"]["password"].as_str().expect("password")
}

#[test]
fn sample_request_parses_with_ice_attributes() {
    let v = vector("RFC 5769 2.1");
    let msg = StunMessage::parse(&v.bytes).unwrap();
    assert_eq!(msg.class(), Class::Request);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(
        msg.transaction_id().0.to_vec(),
        hex::decode(expect_str(&v, "transaction_id")).unwrap()
    );
    assert_eq!(msg.software(), Some(expect_str(&v, "SOFTWARE").as_bytes()));
    assert_eq!(msg.priority(), Some(0x6e00_01ff));
    assert_eq!(msg.ice_controlled(), Some(0x932f_f9b1_5126_3b36));
    assert_eq!(msg.ice_controlling(), None);
    assert!(!msg.use_candidate());
    assert_eq!(msg.username(), Some(expect_str(&v, "USERNAME").as_bytes()));
    assert_eq!(
        msg.message_integrity().unwrap().to_vec(),
        expect_hex(&v, "MESSAGE-INTEGRITY")
    );
    assert_eq!(msg.fingerprint(), Some(0xe57a_3bcf));
    assert_eq!(msg.unknown_comprehension_required().count(), 0);
}

#[test]
fn all_vectors_verify_integrity_and_fingerprint() {
    for section in ["RFC 5769 2.1", "RFC 5769 2.2", "RFC 5769 2.3"] {
        let v = vector(section);
        let msg = StunMessage::parse(&v.bytes).unwrap();
        assert!(msg.verify_fingerprint(), "{section} fingerprint");
        assert!(
            msg.verify_integrity(password(&v).as_bytes()),
            "{section} integrity"
        );
        assert!(
            !msg.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBT"),
            "{section} wrong key"
        );
    }
}

#[test]
fn responses_decode_xor_mapped_address_v4_and_v6() {
    for section in ["RFC 5769 2.2", "RFC 5769 2.3"] {
        let v = vector(section);
        let msg = StunMessage::parse(&v.bytes).unwrap();
        assert_eq!(msg.class(), Class::SuccessResponse);
        let want: SocketAddr = expect_str(&v, "XOR-MAPPED-ADDRESS").parse().unwrap();
        assert_eq!(msg.xor_mapped_address(), Some(want), "{section}");
        assert_eq!(msg.software(), Some(&b"test vector"[..]));
    }
}

#[test]
fn long_term_vector_verifies_with_md5_key() {
    let v = vector("RFC 5769 2.4");
    let msg = StunMessage::parse(&v.bytes).unwrap();
    let c = &v.v["credential"];
    let user = c["username"].as_str().unwrap();
    let realm = c["realm"].as_str().unwrap();
    assert_eq!(msg.username(), Some(user.as_bytes()));
    assert_eq!(msg.realm(), Some(realm.as_bytes()));
    assert_eq!(msg.nonce(), Some(c["nonce"].as_str().unwrap().as_bytes()));
    assert_eq!(msg.fingerprint(), None);
    assert!(!msg.verify_fingerprint());
    let key = long_term_key(user.as_bytes(), realm.as_bytes(), password(&v).as_bytes());
    assert!(msg.verify_integrity(&key));
    assert!(msg.verify_integrity_with(&IntegrityKey::long_term(
        user.as_bytes(),
        realm.as_bytes(),
        password(&v).as_bytes()
    )));
    // The unprocessed password (before SASLprep) is a different key.
    let raw = c["password_before_saslprep"].as_str().unwrap();
    assert!(!msg.verify_integrity(&long_term_key(
        user.as_bytes(),
        realm.as_bytes(),
        raw.as_bytes()
    )));
}

#[test]
fn rebuilds_sample_request_byte_exact() {
    let v = vector("RFC 5769 2.1");
    let msg = StunMessage::parse(&v.bytes).unwrap();
    let mut out = [0u8; 256];
    let mut w = MessageWriter::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        msg.transaction_id(),
    );
    w.set_padding_byte(b' ')
        .add_software(b"STUN test client")
        .add_priority(0x6e00_01ff)
        .add_ice_controlled(0x932f_f9b1_5126_3b36)
        .add_username(b"evtj:h6vY");
    let key = IntegrityKey::new(password(&v).as_bytes());
    let n = w.finish_with_integrity_and_fingerprint(&key).unwrap();
    assert_eq!(hex::encode(&out[..n]), hex::encode(&v.bytes));
}

#[test]
fn rebuilds_both_responses_byte_exact() {
    for section in ["RFC 5769 2.2", "RFC 5769 2.3"] {
        let v = vector(section);
        let msg = StunMessage::parse(&v.bytes).unwrap();
        let addr: SocketAddr = expect_str(&v, "XOR-MAPPED-ADDRESS").parse().unwrap();
        let mut out = [0u8; 256];
        let mut w = MessageWriter::new(
            &mut out,
            Class::SuccessResponse,
            Method::BINDING,
            msg.transaction_id(),
        );
        w.set_padding_byte(b' ')
            .add_software(b"test vector")
            .add_xor_mapped_address(addr);
        let key = IntegrityKey::new(password(&v).as_bytes());
        let n = w.finish_with_integrity_and_fingerprint(&key).unwrap();
        assert_eq!(hex::encode(&out[..n]), hex::encode(&v.bytes), "{section}");
    }
}

#[test]
fn rebuilds_long_term_request_byte_exact() {
    let v = vector("RFC 5769 2.4");
    let msg = StunMessage::parse(&v.bytes).unwrap();
    let c = &v.v["credential"];
    let (user, realm) = (
        c["username"].as_str().unwrap(),
        c["realm"].as_str().unwrap(),
    );
    let mut out = [0u8; 256];
    // This vector pads with zero bytes, unlike the three above.
    let mut w = MessageWriter::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        msg.transaction_id(),
    );
    w.add_username(user.as_bytes())
        .add_nonce(c["nonce"].as_str().unwrap().as_bytes())
        .add_realm(realm.as_bytes());
    let key = IntegrityKey::long_term(user.as_bytes(), realm.as_bytes(), password(&v).as_bytes());
    let n = w.finish_with_integrity(&key).unwrap();
    assert_eq!(hex::encode(&out[..n]), hex::encode(&v.bytes));
}

#[test]
fn any_flipped_bit_fails_integrity_or_fingerprint() {
    let v = vector("RFC 5769 2.1");
    let key = IntegrityKey::new(password(&v).as_bytes());
    // Every bit after the header's type field (flipping type bits changes the class).
    for byte in 2..v.bytes.len() {
        for bit in 0..8 {
            let mut b = v.bytes.clone();
            b[byte] ^= 1 << bit;
            match StunMessage::parse(&b) {
                Ok(m) => assert!(
                    !(m.verify_fingerprint() && m.verify_integrity_with(&key)),
                    "flip at {byte}.{bit} went unnoticed"
                ),
                Err(e) => assert_ne!(e, StunError::Truncated),
            }
        }
    }
}

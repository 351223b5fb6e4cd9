//! Fuzz bodies, compiled always so `cargo test` and the cargo-fuzz shims share them.

use crate::{
    Class, IntegrityKey, MessageWriter, StunHeader, StunMessage, is_stun, username_local_part,
};

/// Parses arbitrary bytes; when the parse succeeds, writes every counted attribute back
/// verbatim, re-parses, and asserts both views agree. Must never panic otherwise.
pub fn parse(data: &[u8]) {
    let _ = username_local_part(data);
    let _ = StunHeader::parse(data);
    let Ok(msg) = StunMessage::parse(data) else {
        return;
    };
    assert!(
        is_stun(data) || data[0] > 3,
        "a parsed message passes is_stun"
    );
    let key = IntegrityKey::new(b"fuzz-password");
    let _ = msg.verify_integrity_with(&key);
    let _ = msg.verify_fingerprint();
    let _ = (
        msg.username(),
        msg.priority(),
        msg.use_candidate(),
        msg.ice_controlling(),
    );
    let _ = (
        msg.ice_controlled(),
        msg.xor_mapped_address(),
        msg.mapped_address(),
    );
    let _ = (
        msg.error_code(),
        msg.message_integrity(),
        msg.fingerprint(),
        msg.software(),
    );
    let _ = msg.unknown_attributes().count();
    let _ = msg.unknown_comprehension_required().count();

    let mut out = [0u8; 65_536];
    let mut w = MessageWriter::new(&mut out, msg.class(), msg.method(), msg.transaction_id());
    for a in msg.attributes() {
        w.add_attribute(a.typ(), a.value());
    }
    let n = w.finish().expect("a re-written message fits in 64 KiB");
    let again = StunMessage::parse(&out[..n]).expect("a re-written message parses");
    assert_eq!(again.class(), msg.class());
    assert_eq!(again.method(), msg.method());
    assert_eq!(again.transaction_id(), msg.transaction_id());
    assert!(
        again
            .attributes()
            .map(|a| (a.typ(), a.value()))
            .eq(msg.attributes().map(|a| (a.typ(), a.value())))
    );
    assert_eq!(again.xor_mapped_address(), msg.xor_mapped_address());
    assert_eq!(again.message_integrity(), msg.message_integrity());
    if msg.class() == Class::Request {
        assert_eq!(
            username_local_part(&out[..n]).is_some(),
            msg.username().is_some() && msg.method() == crate::Method::BINDING
        );
    }
}

//! Cross-checks against `stun-types`, an independent STUN implementation: what we write
//! parses and verifies there, and what it writes parses and verifies here.

use std::net::SocketAddr;

use portunus_stun::{
    AttributeType, Class, IntegrityKey, MessageWriter, Method, StunMessage, TransactionId,
};
use proptest::prelude::*;
use stun_types::attribute::{
    AttributeType as TheirType, ErrorCode as TheirErrorCode, RawAttribute as TheirRaw,
    Software as TheirSoftware, Username as TheirUsername, XorMappedAddress as TheirXor,
};
use stun_types::message::{
    BINDING, IntegrityAlgorithm, Message, MessageClass, MessageIntegrityCredentials, MessageType,
    MessageWrite, MessageWriteExt, MessageWriteVec, ShortTermCredentials,
    TransactionId as TheirTid,
};

const PWD: &str = "H7oEtG4bYmRSk9hb0UD6JQpT";

fn their_tid(t: TransactionId) -> TheirTid {
    let mut b = [0u8; 16];
    b[4..].copy_from_slice(&t.0);
    u128::from_be_bytes(b).into()
}

fn our_tid(t: TheirTid) -> TransactionId {
    let b = u128::from(t).to_be_bytes();
    TransactionId(b[4..].try_into().unwrap())
}

fn their_creds() -> MessageIntegrityCredentials {
    ShortTermCredentials::new(PWD.to_owned()).into()
}

fn raw_u32(m: &Message<'_>, t: u16) -> Option<u32> {
    let a = m.raw_attribute(TheirType::new(t))?;
    Some(u32::from_be_bytes(a.value[..4].try_into().unwrap()))
}

fn raw_u64(m: &Message<'_>, t: u16) -> Option<u64> {
    let a = m.raw_attribute(TheirType::new(t))?;
    Some(u64::from_be_bytes(a.value[..8].try_into().unwrap()))
}

/// An ICE check written here, as `stun-types` sees it.
fn check_ours_in_theirs(tid: [u8; 12], user: &str, prio: u32, tb: u64, use_cand: bool) {
    let key = IntegrityKey::new(PWD.as_bytes());
    let mut buf = [0u8; 1024];
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId(tid),
    );
    w.add_username(user.as_bytes())
        .add_priority(prio)
        .add_ice_controlling(tb);
    if use_cand {
        w.add_use_candidate();
    }
    let n = w.finish_with_integrity_and_fingerprint(&key).unwrap();

    let m = Message::from_bytes(&buf[..n]).expect("stun-types parses our request");
    assert!(m.has_class(MessageClass::Request));
    assert!(m.has_method(BINDING));
    assert_eq!(our_tid(m.transaction_id()), TransactionId(tid));
    assert!(m.validate_integrity(&their_creds()).is_ok());
    assert_eq!(m.attribute::<TheirUsername>().unwrap().username(), user);
    assert_eq!(raw_u32(&m, 0x0024), Some(prio));
    assert_eq!(raw_u64(&m, 0x802a), Some(tb));
    assert_eq!(m.raw_attribute(TheirType::new(0x0025)).is_some(), use_cand);
}

/// A response written here, as `stun-types` sees it.
fn response_ours_in_theirs(tid: [u8; 12], addr: SocketAddr) {
    let key = IntegrityKey::new(PWD.as_bytes());
    let mut buf = [0u8; 256];
    let mut w = MessageWriter::new(
        &mut buf,
        Class::SuccessResponse,
        Method::BINDING,
        TransactionId(tid),
    );
    w.add_xor_mapped_address(addr);
    let n = w.finish_with_integrity_and_fingerprint(&key).unwrap();
    let m = Message::from_bytes(&buf[..n]).expect("stun-types parses our response");
    assert!(m.has_class(MessageClass::Success));
    assert!(m.validate_integrity(&their_creds()).is_ok());
    let x = m.attribute::<TheirXor>().unwrap();
    assert_eq!(x.addr(m.transaction_id()), addr);
}

/// A message `stun-types` wrote, as seen here.
fn theirs_in_ours(tid: [u8; 12], user: &str, prio: u32, addr: SocketAddr) {
    let ttid = their_tid(TransactionId(tid));
    let mtype = MessageType::from_class_method(MessageClass::Request, BINDING);
    let mut w = Message::builder(mtype, ttid, MessageWriteVec::new());
    w.add_attribute(&TheirUsername::new(user).unwrap()).unwrap();
    let prio_bytes = prio.to_be_bytes();
    w.add_attribute(&TheirRaw::new(TheirType::new(0x0024), &prio_bytes))
        .unwrap();
    w.add_attribute(&TheirRaw::new(TheirType::new(0x0025), &[]))
        .unwrap();
    w.add_attribute(&TheirXor::new(addr, ttid)).unwrap();
    w.add_message_integrity(&their_creds(), IntegrityAlgorithm::Sha1)
        .unwrap();
    w.add_fingerprint().unwrap();
    let bytes = w.finish();

    let m = StunMessage::parse(&bytes).expect("we parse stun-types' request");
    assert_eq!(m.class(), Class::Request);
    assert_eq!(m.transaction_id(), TransactionId(tid));
    assert!(m.verify_fingerprint());
    assert!(m.verify_integrity(PWD.as_bytes()));
    assert_eq!(m.username(), Some(user.as_bytes()));
    assert_eq!(m.priority(), Some(prio));
    assert!(m.use_candidate());
    assert_eq!(m.xor_mapped_address(), Some(addr));
}

#[test]
fn our_ice_check_parses_and_verifies_in_stun_types() {
    check_ours_in_theirs(
        [3; 12],
        "remote:local",
        0x6e00_01ff,
        0x0102_0304_0506_0708,
        true,
    );
}

#[test]
fn our_success_responses_parse_in_stun_types_v4_and_v6() {
    response_ours_in_theirs([9; 12], "198.51.100.7:40000".parse().unwrap());
    response_ours_in_theirs([9; 12], "[2001:db8::1]:443".parse().unwrap());
}

#[test]
fn our_error_response_carries_code_in_stun_types() {
    let mut buf = [0u8; 256];
    let mut w = MessageWriter::new(
        &mut buf,
        Class::ErrorResponse,
        Method::BINDING,
        TransactionId([5; 12]),
    );
    w.add_error_code(487, "Role Conflict")
        .add_software(b"portunus");
    let n = w.finish_with_fingerprint().unwrap();
    let m = Message::from_bytes(&buf[..n]).unwrap();
    assert!(m.has_class(MessageClass::Error));
    let e = m.attribute::<TheirErrorCode>().unwrap();
    assert_eq!(e.code(), 487);
    assert_eq!(e.reason(), "Role Conflict");
    assert_eq!(
        m.attribute::<TheirSoftware>().unwrap().software(),
        "portunus"
    );
}

#[test]
fn stun_types_request_parses_and_verifies_here() {
    theirs_in_ours([1; 12], "a:b", 12345, "203.0.113.9:9".parse().unwrap());
}

#[test]
fn stun_types_error_response_parses_here() {
    let req = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
    let req = Message::from_bytes(&req).unwrap();
    let mut w = Message::builder_error(&req, MessageWriteVec::new());
    w.add_attribute(&TheirErrorCode::new(420, "Unknown Attribute").unwrap())
        .unwrap();
    w.add_attribute(&stun_types::attribute::UnknownAttributes::new(&[
        TheirType::new(0x7777),
    ]))
    .unwrap();
    w.add_fingerprint().unwrap();
    let bytes = w.finish();
    let m = StunMessage::parse(&bytes).unwrap();
    assert_eq!(m.class(), Class::ErrorResponse);
    assert!(m.verify_fingerprint());
    let e = m.error_code().unwrap();
    assert_eq!((e.code, e.reason), (420, &b"Unknown Attribute"[..]));
    assert_eq!(
        m.unknown_attributes().collect::<Vec<_>>(),
        vec![AttributeType(0x7777)]
    );
}

fn any_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
    ]
}

proptest! {
    #[test]
    fn random_checks_agree_with_stun_types(
        tid in any::<[u8; 12]>(),
        user in "[a-zA-Z0-9+/]{4,32}:[a-zA-Z0-9+/]{4,32}",
        prio in any::<u32>(),
        tb in any::<u64>(),
        use_cand in any::<bool>(),
        addr in any_addr(),
    ) {
        check_ours_in_theirs(tid, &user, prio, tb, use_cand);
        response_ours_in_theirs(tid, addr);
        theirs_in_ours(tid, &user, prio, addr);
    }
}

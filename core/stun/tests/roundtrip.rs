//! Property tests: parse∘write round-trips, and arbitrary bytes never panic.

use std::net::SocketAddr;

use portunus_stun::{
    AttributeType, Class, IntegrityKey, MessageWriter, Method, StunMessage, TransactionId, fuzzing,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Attr {
    Username(Vec<u8>),
    Software(Vec<u8>),
    Priority(u32),
    UseCandidate,
    Controlling(u64),
    Controlled(u64),
    XorMapped(SocketAddr),
    Mapped(SocketAddr),
    Error(u16, String),
    /// A comprehension-optional attribute nobody knows.
    Optional(u16, Vec<u8>),
}

impl Attr {
    fn write(&self, w: &mut MessageWriter<'_>) {
        match self {
            Self::Username(u) => w.add_username(u),
            Self::Software(s) => w.add_software(s),
            Self::Priority(p) => w.add_priority(*p),
            Self::UseCandidate => w.add_use_candidate(),
            Self::Controlling(t) => w.add_ice_controlling(*t),
            Self::Controlled(t) => w.add_ice_controlled(*t),
            Self::XorMapped(a) => w.add_xor_mapped_address(*a),
            Self::Mapped(a) => w.add_mapped_address(*a),
            Self::Error(c, r) => w.add_error_code(*c, r),
            Self::Optional(t, v) => w.add_attribute(AttributeType(*t), v),
        };
    }

    fn typ(&self) -> AttributeType {
        match self {
            Self::Username(_) => AttributeType::USERNAME,
            Self::Software(_) => AttributeType::SOFTWARE,
            Self::Priority(_) => AttributeType::PRIORITY,
            Self::UseCandidate => AttributeType::USE_CANDIDATE,
            Self::Controlling(_) => AttributeType::ICE_CONTROLLING,
            Self::Controlled(_) => AttributeType::ICE_CONTROLLED,
            Self::XorMapped(_) => AttributeType::XOR_MAPPED_ADDRESS,
            Self::Mapped(_) => AttributeType::MAPPED_ADDRESS,
            Self::Error(..) => AttributeType::ERROR_CODE,
            Self::Optional(t, _) => AttributeType(*t),
        }
    }
}

fn any_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
    ]
}

fn any_attr() -> impl Strategy<Value = Attr> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Attr::Username),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Attr::Software),
        any::<u32>().prop_map(Attr::Priority),
        Just(Attr::UseCandidate),
        any::<u64>().prop_map(Attr::Controlling),
        any::<u64>().prop_map(Attr::Controlled),
        any_addr().prop_map(Attr::XorMapped),
        any_addr().prop_map(Attr::Mapped),
        (300u16..700, "[ -~]{0,40}").prop_map(|(c, r)| Attr::Error(c, r)),
        // 0x8022 and up are known; pick unknown optional types below the FINGERPRINT range.
        (
            0xc000u16..0xffff,
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(t, v)| Attr::Optional(t, v)),
    ]
}

fn any_class() -> impl Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Request),
        Just(Class::Indication),
        Just(Class::SuccessResponse),
        Just(Class::ErrorResponse),
    ]
}

/// Asserts the first attribute of `attr`'s type reads back as `attr`.
fn assert_first_reads_back(m: &StunMessage<'_>, attr: &Attr) {
    match attr {
        Attr::Username(u) => assert_eq!(m.username(), Some(&u[..])),
        Attr::Software(s) => assert_eq!(m.software(), Some(&s[..])),
        Attr::Priority(p) => assert_eq!(m.priority(), Some(*p)),
        Attr::UseCandidate => assert!(m.use_candidate()),
        Attr::Controlling(t) => assert_eq!(m.ice_controlling(), Some(*t)),
        Attr::Controlled(t) => assert_eq!(m.ice_controlled(), Some(*t)),
        Attr::XorMapped(a) => assert_eq!(m.xor_mapped_address(), Some(*a)),
        Attr::Mapped(a) => assert_eq!(m.mapped_address(), Some(*a)),
        Attr::Error(c, r) => {
            let e = m.error_code().unwrap();
            assert_eq!((e.code, e.reason), (*c, r.as_bytes()));
        }
        Attr::Optional(t, v) => assert_eq!(m.attribute(AttributeType(*t)).unwrap().value(), &v[..]),
    }
}

proptest! {
    #[test]
    fn parse_of_write_round_trips(
        class in any_class(),
        tid in any::<[u8; 12]>(),
        attrs in proptest::collection::vec(any_attr(), 0..10),
        integrity in any::<bool>(),
        fingerprint in any::<bool>(),
        padding in any::<u8>(),
    ) {
        let key = IntegrityKey::new(b"round-trip-password-xyz");
        let mut buf = vec![0u8; 4096];
        let mut w = MessageWriter::new(&mut buf, class, Method::BINDING, TransactionId(tid));
        w.set_padding_byte(padding);
        for a in &attrs {
            a.write(&mut w);
        }
        let n = match (integrity, fingerprint) {
            (true, true) => w.finish_with_integrity_and_fingerprint(&key),
            (true, false) => w.finish_with_integrity(&key),
            (false, true) => w.finish_with_fingerprint(),
            (false, false) => w.finish(),
        }.unwrap();
        let m = StunMessage::parse(&buf[..n]).unwrap();
        prop_assert_eq!(m.class(), class);
        prop_assert_eq!(m.method(), Method::BINDING);
        prop_assert_eq!(m.transaction_id(), TransactionId(tid));
        prop_assert_eq!(m.verify_integrity_with(&key), integrity);
        prop_assert_eq!(m.verify_fingerprint(), fingerprint);
        prop_assert_eq!(m.unknown_comprehension_required().count(), 0);
        let mut types: Vec<_> = attrs.iter().map(Attr::typ).collect();
        if integrity { types.push(AttributeType::MESSAGE_INTEGRITY); }
        if fingerprint { types.push(AttributeType::FINGERPRINT); }
        prop_assert_eq!(m.attributes().map(|a| a.typ()).collect::<Vec<_>>(), types);
        for (i, a) in attrs.iter().enumerate() {
            // Getters return the first occurrence of a type.
            if attrs[..i].iter().all(|b| b.typ() != a.typ()) {
                assert_first_reads_back(&m, a);
            }
        }
        fuzzing::parse(&buf[..n]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::parse(&data);
    }

    #[test]
    fn bytes_behind_a_valid_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        tid in any::<[u8; 12]>(),
    ) {
        // A correct header with a matching length gets past the framing checks, so the
        // attribute walker sees the random bytes.
        let body_len = body.len() & !3;
        let mut data = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        data[2..4].copy_from_slice(&(body_len as u16).to_be_bytes());
        data.extend_from_slice(&tid);
        data.extend_from_slice(&body[..body_len]);
        fuzzing::parse(&data);
    }

    #[test]
    fn mutated_messages_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut buf = [0u8; 256];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, TransactionId([4; 12]));
        w.add_username(b"abcd:efgh").add_priority(7).add_use_candidate().add_ice_controlling(1)
            .add_xor_mapped_address("[::1]:5".parse().unwrap()).add_error_code(400, "x");
        let n = w.finish_with_integrity_and_fingerprint(&IntegrityKey::new(b"p")).unwrap();
        let mut data = buf[..n].to_vec();
        for (at, x) in flips {
            let i = at % data.len();
            data[i] ^= x;
        }
        data.truncate(cut % (n + 1));
        fuzzing::parse(&data);
    }
}

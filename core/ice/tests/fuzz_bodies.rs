//! Runs the fuzz bodies on arbitrary input so `cargo test` exercises them.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams_never_connect_a_lite_agent(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        portunus_ice::fuzzing::lite_datagram(&data);
    }

    #[test]
    fn stun_shaped_datagrams_never_connect_a_lite_agent(
        class in 0u8..4,
        body in proptest::collection::vec(any::<u8>(), 0..120),
        tid in any::<[u8; 12]>(),
    ) {
        // A correct header and length so the attributes are reached.
        let len = body.len() & !3;
        let mut d = vec![0x00, 0x01 | ((class & 1) << 4), 0, 0, 0x21, 0x12, 0xa4, 0x42];
        d[0] = (class >> 1) & 1;
        d[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        d.extend_from_slice(&tid);
        d.extend_from_slice(&body[..len]);
        portunus_ice::fuzzing::lite_datagram(&d);
    }

    #[test]
    fn op_sequences_keep_lite_invariants(ops in proptest::collection::vec(any::<u8>(), 0..200)) {
        portunus_ice::fuzzing::lite_ops(&ops);
    }
}

#[test]
fn op_sequence_with_signed_nomination_connects() {
    // op 3: a signed check with USE-CANDIDATE, so the body's positive path runs too.
    portunus_ice::fuzzing::lite_ops(&[0x03, 0x06, 0x13, 0x07, 0x07]);
}

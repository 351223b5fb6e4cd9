//! Feeds random and RTP/RTCP-shaped bytes to the fuzz bodies so `cargo test` runs them.

use portunus_rtp::fuzzing;
use proptest::prelude::*;

/// Bytes that start like RTP or RTCP (version 2) so the parsers get past the header.
fn v2_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        0x80u8..=0xbf,
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(b0, b1, rest)| {
            let mut v = vec![b0, b1];
            v.extend(rest);
            v
        })
}

/// A plausible RTCP packet: version 2, a report or feedback type and a length field
/// that matches the `n` body words (it counts the words after the first).
fn rtcp_shaped() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..32,
        prop_oneof![
            Just(200u8),
            Just(201),
            Just(202),
            Just(203),
            Just(205),
            Just(206)
        ],
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(count, pt, words)| {
            let n = words.len() / 4;
            let mut v = vec![0x80 | count, pt];
            v.extend_from_slice(&(n as u16).to_be_bytes());
            v.extend_from_slice(&words[..4 * n]);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn rtp_body_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::rtp(&data);
    }

    #[test]
    fn rtp_body_on_version_2_input(data in v2_bytes()) {
        fuzzing::rtp(&data);
    }

    #[test]
    fn rtcp_body_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::rtcp(&data);
    }

    #[test]
    fn rtcp_body_on_plausible_packets(
        a in rtcp_shaped(),
        b in rtcp_shaped(),
        c in rtcp_shaped(),
    ) {
        let mut d = a;
        d.extend(b);
        d.extend(c);
        fuzzing::rtcp(&d);
    }

    #[test]
    fn demux_body_never_panics(data in proptest::collection::vec(any::<u8>(), 0..8)) {
        fuzzing::demux(&data);
    }

    #[test]
    fn codecs_body_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        fuzzing::codecs(&data);
    }
}

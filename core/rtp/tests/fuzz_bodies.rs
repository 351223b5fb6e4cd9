//! Feeds random and RTP/RTCP-shaped bytes to the fuzz bodies so `cargo test` runs them.

use portunus_rtp::rtcp::{self, FirEntry, SdesItem, TwccHeader};
use portunus_rtp::{ExtensionBlock, ExtensionElement, RtpHeader, Ssrc, fuzzing, write_rtp};
use proptest::prelude::*;

/// Valid packets of every kind, for mutation: flipped bytes reach far deeper into the
/// parsers than uniformly random input (a one-byte extension header with id 0 and a
/// non-zero length was found this way).
fn seeds() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let elems = [
        ExtensionElement { id: 1, data: b"0" },
        ExtensionElement {
            id: 3,
            data: &[1, 2],
        },
        ExtensionElement { id: 20, data: &[] },
    ];
    let vp8 = [
        0x90, 0xe0, 0x92, 0x34, 0x56, 0xa0, 0x10, 0x02, 0x00, 0x7c, 0x85,
    ];
    for ext in [&elems[..0], &elems[..2], &elems[..]] {
        let h = RtpHeader {
            payload_type: 96,
            csrcs: &[Ssrc(1), Ssrc(2)],
            extensions: Some(ExtensionBlock::auto(ext).expect("valid elements")),
            ..RtpHeader::default()
        };
        let mut out = [0u8; 200];
        let n = write_rtp(&mut out, &h, &vp8, 5).expect("fits");
        v.push(out[..n].to_vec());
    }
    let mut out = [0u8; 1024];
    let w = |r: Result<usize, portunus_rtp::RtpError>| r.expect("fits");
    let mut n = w(rtcp::write_sr(
        &mut out,
        Ssrc(1),
        &Default::default(),
        &[Default::default()],
    ));
    let items = [SdesItem {
        kind: 1,
        value: b"abc",
    }];
    n += w(rtcp::write_sdes(&mut out[n..], &[(Ssrc(1), &items[..])]));
    n += w(rtcp::write_nack(
        &mut out[n..],
        Ssrc(1),
        Ssrc(2),
        &[1, 2, 5, 40],
    ));
    let fir = [FirEntry {
        ssrc: Ssrc(3),
        seq: 1,
    }];
    n += w(rtcp::write_fir(&mut out[n..], Ssrc(1), &fir));
    n += w(rtcp::write_remb(
        &mut out[n..],
        Ssrc(1),
        1_000_000,
        &[Ssrc(4)],
    ));
    let st: Vec<Option<i16>> = (0..40)
        .map(|i| match i {
            _ if i % 5 == 0 => None,
            _ if i % 7 == 0 => Some(-3),
            _ => Some(i),
        })
        .collect();
    n += w(rtcp::write_twcc(
        &mut out[n..],
        Ssrc(1),
        Ssrc(2),
        &TwccHeader::default(),
        &st,
    ));
    n += w(rtcp::write_bye(&mut out[n..], &[Ssrc(1)], Some(b"x")));
    v.push(out[..n].to_vec());
    v.push(vec![0x20, 0x02, 0x0a, 0x00, 0x32, 0x11]); // AV1
    v.push(vec![0x78, 0, 3, 0x67, 0x42, 0x00, 0, 2, 0x68, 0xce]); // H.264 STAP-A
    v
}

/// A seed with 1–4 bytes overwritten and possibly truncated.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    let count = seeds.len();
    (
        0..count,
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..5),
        proptest::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(move |(i, edits, cut)| {
            let mut d = seeds[i].clone();
            for (at, b) in edits {
                let at = at.index(d.len());
                d[at] = b;
            }
            if let Some(c) = cut {
                d.truncate(c.index(d.len()).max(1));
            }
            d
        })
}

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
    #![proptest_config(ProptestConfig::with_cases(3000))]

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
    fn all_bodies_on_mutated_valid_packets(data in mutated()) {
        fuzzing::rtp(&data);
        fuzzing::rtcp(&data);
        fuzzing::codecs(&data);
        fuzzing::codecs(data.get(4..).unwrap_or(&[]));
        fuzzing::rtcp(data.get(data.len() / 2..).unwrap_or(&[]));
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

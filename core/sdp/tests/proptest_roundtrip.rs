//! Property tests: parse∘write round trips for generated descriptions with random
//! attributes, typed attribute round trips, and the fuzz body on arbitrary or mutated input.

use portunus_sdp::attr::{
    Candidate, CandidateType, Extmap, RidDescription, Simulcast, SimulcastStream,
};
use portunus_sdp::{Attribute, Direction, Field, Line, Media, MediaKind, MediaLine, Rid, Sdp};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,11}"
}

/// A value without CR/LF (printable ASCII and spaces), never empty.
fn value() -> impl Strategy<Value = String> {
    "[ -~]{1,40}"
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (token(), value()).prop_map(|(n, v)| Attribute::new(n, v)),
        token().prop_map(Attribute::flag),
        (1u16..15, "urn:[a-z:-]{1,30}")
            .prop_map(|(id, uri)| Attribute::new("extmap", format!("{id} {uri}"))),
        (
            96u8..128,
            "[A-Za-z0-9-]{1,10}",
            prop::sample::select(vec![8000u32, 48000, 90000])
        )
            .prop_map(|(pt, enc, rate)| Attribute::new("rtpmap", format!("{pt} {enc}/{rate}"))),
        prop::sample::select(vec!["sendrecv", "sendonly", "recvonly", "inactive"])
            .prop_map(Attribute::flag),
    ]
}

/// Lines Janus ignores but the model keeps verbatim.
fn other_field() -> impl Strategy<Value = Line> {
    (
        prop::sample::select(vec!['i', 'u', 'e', 'p', 'k', 'z', 'r', 'x']),
        value(),
    )
        .prop_map(|(letter, value)| Line::Field(Field { letter, value }))
}

fn ipv4() -> impl Strategy<Value = String> {
    any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
}

fn field(letter: char, value: String) -> Line {
    Line::Field(Field { letter, value })
}

fn media() -> impl Strategy<Value = Media> {
    let kind = prop::sample::select(vec![
        MediaKind::Audio,
        MediaKind::Video,
        MediaKind::Application,
    ]);
    let formats = prop::collection::vec(
        prop_oneof!["[0-9]{1,3}", Just("webrtc-datachannel".to_owned())],
        1..6,
    );
    let proto = prop::sample::select(vec![
        "UDP/TLS/RTP/SAVPF",
        "UDP/DTLS/SCTP",
        "DTLS/SCTP",
        "RTP/AVP",
    ]);
    let body = prop::collection::vec(
        prop_oneof![4 => attribute().prop_map(Line::Attribute), 1 => other_field()],
        0..12,
    );
    (
        kind,
        any::<u16>(),
        prop::option::of(1u16..4),
        proto,
        formats,
        prop::option::of(ipv4()),
        prop::option::of(0u32..100_000),
        body,
    )
        .prop_map(|(kind, port, port_count, proto, formats, c, bw, body)| {
            let mut mline = MediaLine::new(kind, port, proto, formats);
            mline.port_count = port_count;
            let mut lines = Vec::new();
            if let Some(c) = c {
                lines.push(field('c', format!("IN IP4 {c}")));
            }
            if let Some(bw) = bw {
                lines.push(field('b', format!("AS:{bw}")));
            }
            lines.extend(body);
            Media { mline, lines }
        })
}

fn sdp() -> impl Strategy<Value = Sdp> {
    (
        any::<u64>(),
        any::<u64>(),
        ipv4(),
        "[!-~][ -~]{0,20}",
        prop::option::of(ipv4()),
        prop::collection::vec(
            prop_oneof![3 => attribute().prop_map(Line::Attribute), 1 => other_field()],
            0..8,
        ),
        prop::collection::vec(media(), 1..5),
    )
        .prop_map(|(id, version, addr, name, c, attrs, media)| {
            let mut session = vec![
                field('v', "0".into()),
                field('o', format!("- {id} {version} IN IP4 {addr}")),
                field('s', name),
                field('t', "0 0".into()),
            ];
            if let Some(c) = c {
                session.push(field('c', format!("IN IP4 {c}")));
            }
            session.extend(attrs);
            Sdp { session, media }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn write_parse_is_identity_on_generated_text(model in sdp()) {
        let text = model.to_string();
        let parsed = Sdp::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parse_write_is_identity_on_generated_models(model in sdp()) {
        let parsed = Sdp::parse(&model.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed, model);
    }

    #[test]
    fn lf_endings_parse_like_crlf(model in sdp()) {
        let text = model.to_string();
        prop_assert_eq!(Sdp::parse(&text.replace("\r\n", "\n")).unwrap(), Sdp::parse(&text).unwrap());
    }

    #[test]
    fn direction_accessor_sees_the_last_direction(model in sdp()) {
        for m in &model.media {
            let last = m.attributes().filter(|a| a.value.is_none()).filter_map(|a| Direction::parse(&a.name)).last();
            prop_assert_eq!(m.direction(), last.unwrap_or(Direction::SendRecv));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        portunus_sdp::fuzzing::sdp(&data);
    }

    #[test]
    fn arbitrary_sdp_like_lines_never_panic(lines in prop::collection::vec("[vosctbamix]=[ -~]{0,60}", 1..30)) {
        let text = format!("v=0\r\n{}\r\n", lines.join("\r\n"));
        portunus_sdp::fuzzing::sdp(text.as_bytes());
    }

    #[test]
    fn mutated_generated_sdps_never_panic(model in sdp(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = model.to_string().into_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        portunus_sdp::fuzzing::sdp(&bytes);
    }

    #[test]
    fn candidates_round_trip(
        foundation in "[a-zA-Z0-9+/]{1,32}",
        component in 1u16..3,
        priority in any::<u32>(),
        address in prop_oneof![ipv4(), "[0-9a-f]{8}-[0-9a-f]{4}\\.local", Just("2001:db8::1".to_owned())],
        port in any::<u16>(),
        kind in prop::sample::select(vec![CandidateType::Host, CandidateType::ServerReflexive, CandidateType::PeerReflexive, CandidateType::Relay]),
        related in prop::option::of((ipv4(), any::<u16>())),
        generation in prop::option::of(0u8..4),
    ) {
        let mut text = format!("{foundation} {component} udp {priority} {address} {port} typ {}", kind.as_str());
        if let Some((a, p)) = &related {
            text.push_str(&format!(" raddr {a} rport {p}"));
        }
        if let Some(g) = generation {
            text.push_str(&format!(" generation {g}"));
        }
        let c = Candidate::parse(&text).unwrap();
        prop_assert_eq!((c.kind, c.port, c.priority), (kind, port, priority));
        prop_assert_eq!(c.related_port, related.map(|(_, p)| p));
        prop_assert_eq!(c.to_string(), text.clone());
        prop_assert_eq!(Candidate::parse(&format!("candidate:{text}")), Some(c));
    }

    #[test]
    fn simulcast_round_trips(send in prop::collection::vec(prop::collection::vec(("[a-z0-9]{1,4}", any::<bool>()), 1..3), 1..4),
                             recv in prop::collection::vec(prop::collection::vec(("[a-z0-9]{1,4}", any::<bool>()), 1..3), 0..4),
                             legacy in any::<bool>()) {
        let conv = |l: Vec<Vec<(String, bool)>>| l.into_iter().map(|alts| alts.into_iter().map(|(r, paused)| SimulcastStream { rid: Rid(r), paused }).collect()).collect();
        let s = Simulcast { send: conv(send), recv: conv(recv), legacy };
        prop_assert_eq!(Simulcast::parse(&s.to_string()), Some(s));
    }

    #[test]
    fn rid_and_extmap_round_trip(id in "[a-zA-Z0-9_-]{1,8}", send in any::<bool>(), pts in prop::collection::vec(96u8..128, 0..3),
                                 ext in 1u16..256, dir in prop::option::of(prop::sample::select(vec![Direction::SendOnly, Direction::RecvOnly, Direction::Inactive, Direction::SendRecv]))) {
        let r = RidDescription { rid: Rid(id), send, payload_types: pts, restrictions: vec![("max-width".into(), Some("1280".into()))] };
        prop_assert_eq!(RidDescription::parse(&r.to_string()), Some(r));
        let e = Extmap { id: ext, direction: dir, uri: "urn:ietf:params:rtp-hdrext:sdes:mid".into(), attributes: None };
        prop_assert_eq!(Extmap::parse(&e.to_string()), Some(e));
    }
}

#[test]
fn fuzz_body_accepts_every_browser_offer() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sdp") {
            let data = std::fs::read(&path).unwrap();
            assert!(
                Sdp::parse(std::str::from_utf8(&data).unwrap()).is_ok(),
                "{}",
                path.display()
            );
            portunus_sdp::fuzzing::sdp(&data);
        }
    }
}

//! Property tests: parse ∘ write round trips for RTP (random CSRCs, extensions and
//! padding) and for every RTCP type, alone and in compounds.

use std::collections::BTreeSet;

use portunus_rtp::rtcp::{
    self, FirEntry, ReportBlock, RtcpCompound, RtcpPacket, SdesItem, SenderInfo, TwccHeader,
};
use portunus_rtp::{
    ExtIdMap, ExtensionBlock, ExtensionElement, ExtensionForm, RtpHeader, RtpPacket, RtpPacketMut,
    Ssrc, fuzzing, write_rtp,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Extension elements as `(id, data)`.
type Elems = Vec<(u8, Vec<u8>)>;
/// SDES chunks as `(ssrc, items as (kind, value))`.
type SdesSpec = Vec<(u32, Elems)>;

#[derive(Debug, Clone)]
struct RtpSpec {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    csrcs: Vec<Ssrc>,
    ext: Option<(ExtensionForm, Elems)>,
    payload: Vec<u8>,
    padding: u8,
}

fn one_byte_elems() -> impl Strategy<Value = Elems> {
    vec((1u8..=14, vec(any::<u8>(), 1..=16)), 0..6)
}

fn two_byte_elems() -> impl Strategy<Value = Elems> {
    vec((1u8..=255, vec(any::<u8>(), 0..=40)), 0..6)
}

fn ext_spec() -> impl Strategy<Value = Option<(ExtensionForm, Elems)>> {
    prop_oneof![
        Just(None),
        one_byte_elems().prop_map(|e| Some((ExtensionForm::OneByte, e))),
        (0u8..16, two_byte_elems())
            .prop_map(|(app_bits, e)| Some((ExtensionForm::TwoByte { app_bits }, e))),
    ]
}

fn rtp_spec() -> impl Strategy<Value = RtpSpec> {
    (
        (
            any::<bool>(),
            0u8..128,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        ),
        vec(any::<u32>().prop_map(Ssrc), 0..=15),
        ext_spec(),
        vec(any::<u8>(), 0..300),
        prop_oneof![Just(0u8), 1u8..=255],
    )
        .prop_map(
            |((marker, pt, seq, ts, ssrc), csrcs, ext, payload, padding)| RtpSpec {
                marker,
                pt,
                seq,
                ts,
                ssrc,
                csrcs,
                ext,
                payload,
                padding,
            },
        )
}

fn write_spec(s: &RtpSpec) -> Vec<u8> {
    let elems: Vec<ExtensionElement<'_>> = s
        .ext
        .iter()
        .flat_map(|(_, e)| e.iter())
        .map(|(id, data)| ExtensionElement { id: *id, data })
        .collect();
    let hdr = RtpHeader {
        marker: s.marker,
        payload_type: s.pt,
        sequence_number: s.seq,
        timestamp: s.ts,
        ssrc: Ssrc(s.ssrc),
        csrcs: &s.csrcs,
        extensions: s.ext.as_ref().map(|(form, _)| ExtensionBlock {
            form: *form,
            elements: &elems,
        }),
    };
    let mut out = vec![0u8; 2048];
    let n = write_rtp(&mut out, &hdr, &s.payload, s.padding).expect("spec is writable");
    out.truncate(n);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn rtp_parse_after_write_returns_every_field(s in rtp_spec()) {
        let bytes = write_spec(&s);
        let p = RtpPacket::parse(&bytes).expect("written packet parses");
        prop_assert_eq!(p.marker(), s.marker);
        prop_assert_eq!(p.payload_type(), s.pt);
        prop_assert_eq!(p.sequence_number(), s.seq);
        prop_assert_eq!(p.timestamp(), s.ts);
        prop_assert_eq!(p.ssrc(), Ssrc(s.ssrc));
        prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), s.csrcs.clone());
        prop_assert_eq!(p.has_padding(), s.padding > 0);
        prop_assert_eq!(p.padding_len(), usize::from(s.padding));
        prop_assert_eq!(p.payload(), &s.payload[..]);
        match &s.ext {
            None => prop_assert!(p.extensions().is_none()),
            Some((form, elems)) => {
                let e = p.extensions().expect("block present");
                prop_assert_eq!(e.form(), Some(*form));
                prop_assert!(e.validate().is_ok());
                let got: Elems = e.iter().map(|x| (x.id, x.data.to_vec())).collect();
                prop_assert_eq!(&got, elems);
            }
        }
        fuzzing::rtp(&bytes);
    }

    #[test]
    fn in_place_rewrite_touches_only_the_rewritten_fields(
        s in rtp_spec(),
        seq in any::<u16>(),
        ts in any::<u32>(),
        ssrc in any::<u32>(),
        shift in 1u8..=13,
    ) {
        let orig = write_spec(&s);
        let mut buf = orig.clone();
        let mut map = ExtIdMap::new();
        for id in 1..=255u8 {
            map.set(id, id.saturating_add(shift)).expect("non-zero id");
        }
        let mut p = RtpPacketMut::parse(&mut buf).expect("parses");
        p.set_sequence_number(seq);
        p.set_timestamp(ts);
        p.set_ssrc(Ssrc(ssrc));
        let removed = p.remap_extension_ids(&map);
        let v = p.as_packet();
        prop_assert_eq!(v.sequence_number(), seq);
        prop_assert_eq!(v.timestamp(), ts);
        prop_assert_eq!(v.ssrc(), Ssrc(ssrc));
        prop_assert_eq!(v.payload(), &s.payload[..]);
        prop_assert_eq!(v.csrcs().collect::<Vec<_>>(), s.csrcs.clone());
        prop_assert_eq!(buf.len(), orig.len());
        if let Some((form, elems)) = &s.ext {
            let fits = |id: u8| match form {
                ExtensionForm::OneByte => id <= 14,
                ExtensionForm::TwoByte { .. } => true,
            };
            let want: Elems = elems
                .iter()
                .map(|(id, d)| (id.saturating_add(shift), d.clone()))
                .filter(|(id, _)| fits(*id))
                .collect();
            let got: Elems = RtpPacket::parse(&buf)
                .expect("still parses")
                .extensions()
                .expect("block")
                .iter()
                .map(|x| (x.id, x.data.to_vec()))
                .collect();
            prop_assert_eq!(removed, elems.len() - want.len());
            prop_assert_eq!(got, want);
        }
    }
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..=0x7f_ffff,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(ssrc, f, c, h, j, l, d)| ReportBlock {
            ssrc: Ssrc(ssrc),
            fraction_lost: f,
            cumulative_lost: c,
            highest_seq: h,
            jitter: j,
            last_sr: l,
            delay_since_last_sr: d,
        })
}

/// Runs of statuses, so that run-length and both vector chunk kinds all appear.
fn twcc_statuses() -> impl Strategy<Value = Vec<Option<i16>>> {
    let status = prop_oneof![
        Just(None),
        (0i16..=255).prop_map(Some),
        any::<i16>().prop_map(Some),
    ];
    vec((status, 1usize..40), 1..30).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(s, n)| std::iter::repeat_n(s, n))
            .take(65_535)
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Spec {
    Sr(u32, SenderInfo, Vec<ReportBlock>),
    Rr(u32, Vec<ReportBlock>),
    Sdes(SdesSpec),
    Bye(Vec<Ssrc>, Option<Vec<u8>>),
    Nack(u32, u32, Vec<u16>),
    Pli(u32, u32),
    Fir(u32, Vec<FirEntry>),
    Remb(u32, u64, Vec<Ssrc>),
    Twcc(u32, u32, TwccHeader, Vec<Option<i16>>),
}

fn spec() -> impl Strategy<Value = Spec> {
    let info = (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c, d)| {
        SenderInfo {
            ntp_time: a,
            rtp_time: b,
            packet_count: c,
            octet_count: d,
        }
    });
    let ssrcs = |n| vec(any::<u32>().prop_map(Ssrc), 0..n);
    prop_oneof![
        (any::<u32>(), info, vec(report_block(), 0..=31)).prop_map(|(s, i, b)| Spec::Sr(s, i, b)),
        (any::<u32>(), vec(report_block(), 0..=31)).prop_map(|(s, b)| Spec::Rr(s, b)),
        vec(
            (
                any::<u32>(),
                vec((1u8..=255, vec(any::<u8>(), 0..=40)), 0..4)
            ),
            0..6
        )
        .prop_map(Spec::Sdes),
        (ssrcs(32), proptest::option::of(vec(any::<u8>(), 0..=255)))
            .prop_map(|(s, r)| Spec::Bye(s, r)),
        (any::<u32>(), any::<u32>(), vec(any::<u16>(), 1..60))
            .prop_map(|(a, b, l)| Spec::Nack(a, b, l)),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Spec::Pli(a, b)),
        (
            any::<u32>(),
            vec(
                (any::<u32>(), any::<u8>()).prop_map(|(s, q)| FirEntry {
                    ssrc: Ssrc(s),
                    seq: q
                }),
                1..10
            )
        )
            .prop_map(|(s, e)| Spec::Fir(s, e)),
        (any::<u32>(), any::<u64>(), ssrcs(20)).prop_map(|(s, b, l)| Spec::Remb(s, b, l)),
        (
            any::<u32>(),
            any::<u32>(),
            (any::<u16>(), 0u32..=0xff_ffff, any::<u8>()),
            twcc_statuses()
        )
            .prop_map(|(a, b, (base_seq, reference_time, fb_pkt_count), st)| {
                Spec::Twcc(
                    a,
                    b,
                    TwccHeader {
                        base_seq,
                        reference_time,
                        fb_pkt_count,
                    },
                    st,
                )
            }),
    ]
}

fn write(spec: &Spec, out: &mut [u8]) -> usize {
    let r = match spec {
        Spec::Sr(s, i, b) => rtcp::write_sr(out, Ssrc(*s), i, b),
        Spec::Rr(s, b) => rtcp::write_rr(out, Ssrc(*s), b),
        Spec::Sdes(chunks) => {
            let items: Vec<(Ssrc, Vec<SdesItem<'_>>)> = chunks
                .iter()
                .map(|(s, it)| {
                    let v = it
                        .iter()
                        .map(|(k, val)| SdesItem {
                            kind: *k,
                            value: val,
                        })
                        .collect();
                    (Ssrc(*s), v)
                })
                .collect();
            let refs: Vec<(Ssrc, &[SdesItem<'_>])> =
                items.iter().map(|(s, v)| (*s, v.as_slice())).collect();
            rtcp::write_sdes(out, &refs)
        }
        Spec::Bye(s, r) => rtcp::write_bye(out, s, r.as_deref()),
        Spec::Nack(a, b, l) => rtcp::write_nack(out, Ssrc(*a), Ssrc(*b), l),
        Spec::Pli(a, b) => rtcp::write_pli(out, Ssrc(*a), Ssrc(*b)),
        Spec::Fir(s, e) => rtcp::write_fir(out, Ssrc(*s), e),
        Spec::Remb(s, b, l) => rtcp::write_remb(out, Ssrc(*s), *b, l),
        Spec::Twcc(a, b, h, st) => rtcp::write_twcc(out, Ssrc(*a), Ssrc(*b), h, st),
    };
    r.expect("spec is writable")
}

fn check(spec: &Spec, pkt: &RtcpPacket<'_>) -> Result<(), TestCaseError> {
    match (spec, pkt) {
        (Spec::Sr(s, i, b), RtcpPacket::Sr(p)) => {
            prop_assert_eq!(p.ssrc(), Ssrc(*s));
            prop_assert_eq!(p.sender_info(), *i);
            prop_assert_eq!(&p.report_blocks().collect::<Vec<_>>(), b);
        }
        (Spec::Rr(s, b), RtcpPacket::Rr(p)) => {
            prop_assert_eq!(p.ssrc(), Ssrc(*s));
            prop_assert_eq!(&p.report_blocks().collect::<Vec<_>>(), b);
        }
        (Spec::Sdes(chunks), RtcpPacket::Sdes(p)) => {
            let got: SdesSpec = p
                .chunks()
                .map(|c| {
                    let items = c.items().map(|i| (i.kind, i.value.to_vec())).collect();
                    (c.ssrc().0, items)
                })
                .collect();
            prop_assert_eq!(&got, chunks);
        }
        (Spec::Bye(s, r), RtcpPacket::Bye(p)) => {
            prop_assert_eq!(&p.ssrcs().collect::<Vec<_>>(), s);
            prop_assert_eq!(p.reason(), r.as_deref());
        }
        (Spec::Nack(a, b, l), RtcpPacket::Nack(p)) => {
            prop_assert_eq!((p.sender_ssrc(), p.media_ssrc()), (Ssrc(*a), Ssrc(*b)));
            let got: BTreeSet<u16> = p.lost().collect();
            let want: BTreeSet<u16> = l.iter().copied().collect();
            prop_assert_eq!(got, want);
            prop_assert!(p.pairs().count() <= l.len());
        }
        (Spec::Pli(a, b), RtcpPacket::Pli(p)) => {
            prop_assert_eq!((p.sender_ssrc(), p.media_ssrc()), (Ssrc(*a), Ssrc(*b)));
        }
        (Spec::Fir(s, e), RtcpPacket::Fir(p)) => {
            prop_assert_eq!(p.sender_ssrc(), Ssrc(*s));
            prop_assert_eq!(&p.entries().collect::<Vec<_>>(), e);
        }
        (Spec::Remb(s, b, l), RtcpPacket::Remb(p)) => {
            prop_assert_eq!(p.sender_ssrc(), Ssrc(*s));
            let got = p.bitrate();
            prop_assert!(got <= *b);
            prop_assert!(*b - got < 1u64 << p.exponent());
            prop_assert!(p.mantissa() <= 0x3_ffff);
            prop_assert_eq!(&p.ssrcs().collect::<Vec<_>>(), l);
        }
        (Spec::Twcc(a, b, h, st), RtcpPacket::Twcc(p)) => {
            prop_assert_eq!((p.sender_ssrc(), p.media_ssrc()), (Ssrc(*a), Ssrc(*b)));
            prop_assert_eq!(p.header(), *h);
            prop_assert_eq!(usize::from(p.status_count()), st.len());
            let got: Vec<(u16, Option<i16>)> = p.packets().collect();
            let want: Vec<(u16, Option<i16>)> = st
                .iter()
                .enumerate()
                .map(|(i, d)| (h.base_seq.wrapping_add(i as u16), *d))
                .collect();
            prop_assert_eq!(got, want);
        }
        _ => prop_assert!(false, "type mismatch: {:?} vs {:?}", spec, pkt),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn each_rtcp_type_round_trips(s in spec()) {
        let mut out = vec![0u8; 70_000];
        let n = write(&s, &mut out);
        prop_assert_eq!(n % 4, 0);
        if let Spec::Twcc(_, _, _, st) = &s {
            prop_assert_eq!(n, rtcp::twcc_encoded_len(st));
        }
        let pkt = RtcpPacket::parse(&out[..n]).expect("written packet parses");
        check(&s, &pkt)?;
        fuzzing::rtcp(&out[..n]);
    }

    #[test]
    fn compounds_round_trip_in_order(specs in vec(spec(), 1..6)) {
        let mut out = vec![0u8; 6 * 70_000];
        let mut n = 0;
        for s in &specs {
            n += write(s, &mut out[n..]);
        }
        let pkts: Vec<_> = RtcpCompound::new(&out[..n])
            .map(|p| p.expect("each packet parses"))
            .collect();
        prop_assert_eq!(pkts.len(), specs.len());
        for (s, p) in specs.iter().zip(&pkts) {
            check(s, p)?;
        }
    }
}

#[test]
fn nack_of_ascending_run_is_reported_in_order() {
    let lost: Vec<u16> = (65_500..=65_535).chain(0..40).step_by(3).collect();
    let mut out = [0u8; 256];
    let n = rtcp::write_nack(&mut out, Ssrc(1), Ssrc(2), &lost).unwrap();
    let RtcpPacket::Nack(p) = RtcpPacket::parse(&out[..n]).unwrap() else {
        panic!("not NACK");
    };
    assert_eq!(p.lost().collect::<Vec<_>>(), lost);
    // 26 numbers spaced 3 apart: each PID covers itself and 5 more (offsets 3..15).
    assert_eq!(p.pairs().count(), 5);
}

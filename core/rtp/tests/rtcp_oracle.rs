//! rtcp-types as an independent oracle: what we write parses there with the same
//! values, and what it writes parses here.

use portunus_rtp::Ssrc;
use portunus_rtp::rtcp::{
    self, FirEntry, ReportBlock, RtcpCompound, RtcpPacket, SenderInfo, TwccHeader,
};
use rtcp_types::prelude::*;

fn oracle_packets(buf: &[u8]) -> Vec<rtcp_types::Packet<'_>> {
    rtcp_types::Compound::parse(buf)
        .expect("oracle accepts the compound")
        .map(|p| p.expect("oracle parses the packet"))
        .collect()
}

fn ours(buf: &[u8]) -> Vec<RtcpPacket<'_>> {
    RtcpCompound::new(buf)
        .map(|p| p.expect("we parse the packet"))
        .collect()
}

fn block(i: u32) -> ReportBlock {
    ReportBlock {
        ssrc: Ssrc(0x1000 + i),
        fraction_lost: (i * 17) as u8,
        cumulative_lost: 1000 * i as i32,
        highest_seq: 0x0002_0000 + i,
        jitter: 40 + i,
        last_sr: 0xdead_0000 + i,
        delay_since_last_sr: 0x0001_0000 * i,
    }
}

#[test]
fn our_sr_and_rr_parse_in_oracle() {
    let info = SenderInfo {
        ntp_time: 0xe8a1_2345_6789_abcd,
        rtp_time: 123_456,
        packet_count: 77,
        octet_count: 77_000,
    };
    let mut buf = [0u8; 256];
    let mut n = rtcp::write_sr(&mut buf, Ssrc(0xaaaa), &info, &[block(1), block(2)]).unwrap();
    n += rtcp::write_rr(&mut buf[n..], Ssrc(0xbbbb), &[block(3)]).unwrap();
    let pk = oracle_packets(&buf[..n]);
    let rtcp_types::Packet::Sr(sr) = &pk[0] else {
        panic!("oracle saw {:?}", pk[0]);
    };
    assert_eq!(sr.ssrc(), 0xaaaa);
    assert_eq!(sr.ntp_timestamp(), info.ntp_time);
    assert_eq!(sr.rtp_timestamp(), info.rtp_time);
    assert_eq!(sr.packet_count(), info.packet_count);
    assert_eq!(sr.octet_count(), info.octet_count);
    let blocks: Vec<_> = sr.report_blocks().collect();
    assert_eq!(blocks.len(), 2);
    for (b, i) in blocks.iter().zip(1..) {
        let e = block(i);
        assert_eq!(b.ssrc(), e.ssrc.0);
        assert_eq!(b.fraction_lost(), e.fraction_lost);
        assert_eq!(b.cumulative_lost(), e.cumulative_lost as u32);
        assert_eq!(b.extended_sequence_number(), e.highest_seq);
        assert_eq!(b.interarrival_jitter(), e.jitter);
        assert_eq!(b.last_sender_report_timestamp(), e.last_sr);
        assert_eq!(
            b.delay_since_last_sender_report_timestamp(),
            e.delay_since_last_sr
        );
    }
    let rtcp_types::Packet::Rr(rr) = &pk[1] else {
        panic!("oracle saw {:?}", pk[1]);
    };
    assert_eq!(rr.ssrc(), 0xbbbb);
    assert_eq!(rr.report_blocks().next().unwrap().ssrc(), 0x1003);
}

#[test]
fn oracle_sr_and_rr_parse_here() {
    let rb = rtcp_types::ReportBlock::builder(0x55)
        .fraction_lost(3)
        .cumulative_lost(0x00ff_fffe) // -2 as 24-bit two's complement
        .extended_sequence_number(0x0001_0203)
        .interarrival_jitter(9)
        .last_sender_report_timestamp(0x1234_5678)
        .delay_since_last_sender_report_timestamp(0x0000_8000);
    let sr = rtcp_types::SenderReport::builder(0x66)
        .ntp_timestamp(0x0102_0304_0506_0708)
        .rtp_timestamp(90_000)
        .packet_count(5)
        .octet_count(500)
        .add_report_block(rb);
    let rr = rtcp_types::ReceiverReport::builder(0x77);
    let compound = rtcp_types::Compound::builder()
        .add_packet(sr)
        .add_packet(rr);
    let mut buf = vec![0u8; compound.calculate_size().unwrap()];
    let n = compound.write_into(&mut buf).unwrap();
    let pk = ours(&buf[..n]);
    let RtcpPacket::Sr(sr) = pk[0] else {
        panic!("we saw {:?}", pk[0]);
    };
    assert_eq!(sr.ssrc(), Ssrc(0x66));
    assert_eq!(
        sr.sender_info(),
        SenderInfo {
            ntp_time: 0x0102_0304_0506_0708,
            rtp_time: 90_000,
            packet_count: 5,
            octet_count: 500
        }
    );
    assert_eq!(
        sr.report_blocks().collect::<Vec<_>>(),
        [ReportBlock {
            ssrc: Ssrc(0x55),
            fraction_lost: 3,
            cumulative_lost: -2,
            highest_seq: 0x0001_0203,
            jitter: 9,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x8000
        }]
    );
    let RtcpPacket::Rr(rr) = pk[1] else {
        panic!("we saw {:?}", pk[1]);
    };
    assert_eq!(rr.ssrc(), Ssrc(0x77));
    assert_eq!(rr.report_blocks().len(), 0);
}

#[test]
fn our_nack_parses_in_oracle() {
    let lost = [5u16, 6, 9, 21, 22, 100, 65535, 0, 2];
    let mut buf = [0u8; 128];
    let mut n = rtcp::write_rr(&mut buf, Ssrc(1), &[]).unwrap();
    n += rtcp::write_nack(&mut buf[n..], Ssrc(1), Ssrc(0x4242), &lost).unwrap();
    let pk = oracle_packets(&buf[..n]);
    let rtcp_types::Packet::TransportFeedback(fb) = &pk[1] else {
        panic!("oracle saw {:?}", pk[1]);
    };
    assert_eq!(fb.sender_ssrc(), 1);
    assert_eq!(fb.media_ssrc(), 0x4242);
    let nack = fb.parse_fci::<rtcp_types::Nack>().unwrap();
    let mut got: Vec<u16> = nack.entries().collect();
    let mut want = lost.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn oracle_nack_parses_here() {
    let lost = [10u16, 11, 12, 30, 1000, 1016, 1017];
    let mut b = rtcp_types::Nack::builder();
    for s in lost {
        b = b.add_rtp_sequence(s);
    }
    let fb = rtcp_types::TransportFeedback::builder_owned(b)
        .sender_ssrc(7)
        .media_ssrc(8);
    let mut buf = vec![0u8; fb.calculate_size().unwrap()];
    let n = fb.write_into(&mut buf).unwrap();
    let RtcpPacket::Nack(nack) = ours(&buf[..n])[0] else {
        panic!("not a NACK");
    };
    assert_eq!((nack.sender_ssrc(), nack.media_ssrc()), (Ssrc(7), Ssrc(8)));
    let mut got: Vec<u16> = nack.lost().collect();
    got.sort_unstable();
    assert_eq!(got, lost);
}

#[test]
fn pli_agrees_both_ways() {
    let mut buf = [0u8; 12];
    let n = rtcp::write_pli(&mut buf, Ssrc(3), Ssrc(4)).unwrap();
    let pk = oracle_packets(&buf[..n]);
    let rtcp_types::Packet::PayloadFeedback(fb) = &pk[0] else {
        panic!("oracle saw {:?}", pk[0]);
    };
    assert!(fb.parse_fci::<rtcp_types::Pli>().is_ok());
    assert_eq!((fb.sender_ssrc(), fb.media_ssrc()), (3, 4));

    let fb = rtcp_types::PayloadFeedback::builder_owned(rtcp_types::Pli::builder())
        .sender_ssrc(5)
        .media_ssrc(6);
    let mut buf = vec![0u8; fb.calculate_size().unwrap()];
    let n = fb.write_into(&mut buf).unwrap();
    let RtcpPacket::Pli(p) = ours(&buf[..n])[0] else {
        panic!("not a PLI");
    };
    assert_eq!((p.sender_ssrc(), p.media_ssrc()), (Ssrc(5), Ssrc(6)));
}

#[test]
fn fir_agrees_both_ways() {
    let entries = [
        FirEntry {
            ssrc: Ssrc(0x10),
            seq: 1,
        },
        FirEntry {
            ssrc: Ssrc(0x20),
            seq: 200,
        },
    ];
    let mut buf = [0u8; 64];
    let n = rtcp::write_fir(&mut buf, Ssrc(9), &entries).unwrap();
    let pk = oracle_packets(&buf[..n]);
    let rtcp_types::Packet::PayloadFeedback(fb) = &pk[0] else {
        panic!("oracle saw {:?}", pk[0]);
    };
    let fir = fb.parse_fci::<rtcp_types::Fir>().unwrap();
    let got: Vec<(u32, u8)> = fir.entries().map(|e| (e.ssrc(), e.sequence())).collect();
    assert_eq!(got, [(0x10, 1), (0x20, 200)]);

    let b = rtcp_types::Fir::builder()
        .add_ssrc(0x30, 7)
        .add_ssrc(0x40, 8);
    let fb = rtcp_types::PayloadFeedback::builder_owned(b).sender_ssrc(1);
    let mut buf = vec![0u8; fb.calculate_size().unwrap()];
    let n = fb.write_into(&mut buf).unwrap();
    let RtcpPacket::Fir(f) = ours(&buf[..n])[0] else {
        panic!("not a FIR");
    };
    // The oracle's FIR builder keeps entries in a HashMap, so their order is random.
    let mut got: Vec<(u32, u8)> = f.entries().map(|e| (e.ssrc.0, e.seq)).collect();
    got.sort_unstable();
    assert_eq!(got, [(0x30, 7), (0x40, 8)]);
}

fn oracle_twcc_status(d: Option<i16>) -> rtcp_types::TwccPacketStatus {
    match d {
        None => rtcp_types::TwccPacketStatus::NotReceived,
        Some(delta) => rtcp_types::TwccPacketStatus::Received { delta },
    }
}

fn statuses() -> Vec<Option<i16>> {
    let mut v = Vec::new();
    v.extend((0..20).map(|i| Some(i * 3)));
    v.extend([None; 30]);
    v.extend([
        Some(-4),
        Some(1000),
        None,
        Some(255),
        Some(256),
        Some(0),
        None,
    ]);
    v.extend((0..9).map(|i| if i % 2 == 0 { Some(i) } else { None }));
    v.extend([Some(-300); 10]);
    v
}

#[test]
fn our_twcc_parses_in_oracle() {
    let st = statuses();
    let h = TwccHeader {
        base_seq: 65_530,
        reference_time: 0x12_3456,
        fb_pkt_count: 42,
    };
    let mut buf = [0u8; 512];
    let n = rtcp::write_twcc(&mut buf, Ssrc(1), Ssrc(2), &h, &st).unwrap();
    let pk = oracle_packets(&buf[..n]);
    let rtcp_types::Packet::TransportFeedback(fb) = &pk[0] else {
        panic!("oracle saw {:?}", pk[0]);
    };
    let twcc = fb.parse_fci::<rtcp_types::Twcc>().unwrap();
    assert_eq!(twcc.base_sequence_number(), h.base_seq);
    assert_eq!(twcc.reference_time(), h.reference_time);
    assert_eq!(twcc.feedback_packet_count(), h.fb_pkt_count);
    let got: Vec<(u16, rtcp_types::TwccPacketStatus)> =
        twcc.packets().map(|p| p.expect("oracle decodes")).collect();
    let want: Vec<(u16, rtcp_types::TwccPacketStatus)> = st
        .iter()
        .enumerate()
        .map(|(i, d)| (h.base_seq.wrapping_add(i as u16), oracle_twcc_status(*d)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn oracle_twcc_parses_here() {
    let st = statuses();
    let list: Vec<_> = st.iter().map(|d| oracle_twcc_status(*d)).collect();
    let b = rtcp_types::Twcc::builder(100, 0xab_cdef, 3, &list, None);
    let fb = rtcp_types::TransportFeedback::builder_owned(b)
        .sender_ssrc(11)
        .media_ssrc(12);
    let mut buf = vec![0u8; fb.calculate_size().unwrap()];
    let n = fb.write_into(&mut buf).unwrap();
    let RtcpPacket::Twcc(t) = ours(&buf[..n])[0] else {
        panic!("not TWCC");
    };
    assert_eq!(
        t.header(),
        TwccHeader {
            base_seq: 100,
            reference_time: 0xab_cdef,
            fb_pkt_count: 3
        }
    );
    assert_eq!((t.sender_ssrc(), t.media_ssrc()), (Ssrc(11), Ssrc(12)));
    let got: Vec<Option<i16>> = t.packets().map(|p| p.1).collect();
    assert_eq!(got, st);
    let seqs: Vec<u16> = t.packets().map(|p| p.0).collect();
    assert!(seqs.iter().zip(100u16..).all(|(a, b)| *a == b));
}

#[test]
fn sdes_and_bye_agree_with_oracle() {
    let items = [rtcp::SdesItem {
        kind: rtcp::SdesItem::CNAME,
        value: b"user@host",
    }];
    let mut buf = [0u8; 64];
    let mut n = rtcp::write_sdes(&mut buf, &[(Ssrc(5), &items[..])]).unwrap();
    n += rtcp::write_bye(&mut buf[n..], &[Ssrc(5)], Some(b"done")).unwrap();
    let pk = oracle_packets(&buf[..n]);
    let rtcp_types::Packet::Sdes(s) = &pk[0] else {
        panic!("oracle saw {:?}", pk[0]);
    };
    let chunk = s.chunks().next().unwrap();
    assert_eq!(chunk.ssrc(), 5);
    let item = chunk.items().next().unwrap();
    assert_eq!((item.type_(), item.value()), (1, &b"user@host"[..]));
    let rtcp_types::Packet::Bye(b) = &pk[1] else {
        panic!("oracle saw {:?}", pk[1]);
    };
    assert_eq!(b.ssrcs().collect::<Vec<_>>(), [5]);
    assert_eq!(b.reason(), Some(&b"done"[..]));
}

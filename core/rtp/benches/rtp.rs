//! Per-packet costs on the SFU path: parsing a 1200-byte video packet, rewriting it for
//! a subscriber, and parsing the feedback compound a subscriber typically sends.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portunus_rtp::codec::vp8;
use portunus_rtp::rtcp::{self, RtcpCompound, RtcpPacket, TwccHeader};
use portunus_rtp::{
    ExtIdMap, ExtensionBlock, ExtensionElement, RtpHeader, RtpPacket, RtpPacketMut, Ssrc, write_rtp,
};

/// A 1200-byte VP8 packet with mid, abs-send-time and transport-cc extensions, the
/// way Chrome sends video.
fn video_packet() -> Vec<u8> {
    let elems = [
        ExtensionElement { id: 4, data: b"1" },
        ExtensionElement {
            id: 2,
            data: &[0x12, 0x34, 0x56],
        },
        ExtensionElement {
            id: 3,
            data: &[0x01, 0x02],
        },
    ];
    let hdr = RtpHeader {
        marker: false,
        payload_type: 96,
        sequence_number: 4242,
        timestamp: 90_000,
        ssrc: Ssrc(0x1234_5678),
        csrcs: &[],
        extensions: Some(ExtensionBlock::auto(&elems).expect("fits one-byte form")),
    };
    let header_len = hdr.encoded_len().expect("valid header");
    let mut payload = vec![0x5au8; 1200 - header_len];
    payload[..4].copy_from_slice(&[0x90, 0x80, 0x81, 0x23]); // VP8 descriptor
    let mut out = vec![0u8; 1200];
    let n = write_rtp(&mut out, &hdr, &payload, 0).expect("fits");
    assert_eq!(n, 1200);
    out
}

/// RR with one block + NACK of 5 packets + REMB for 2 SSRCs.
fn feedback_compound() -> Vec<u8> {
    let mut out = vec![0u8; 256];
    let block = rtcp::ReportBlock {
        ssrc: Ssrc(0x1234_5678),
        fraction_lost: 3,
        cumulative_lost: 17,
        highest_seq: 0x0001_1092,
        jitter: 12,
        last_sr: 0xabcd_0000,
        delay_since_last_sr: 0x0000_8000,
    };
    let mut n = rtcp::write_rr(&mut out, Ssrc(1), &[block]).expect("fits");
    n += rtcp::write_nack(
        &mut out[n..],
        Ssrc(1),
        Ssrc(0x1234_5678),
        &[4200, 4201, 4203, 4230, 4231],
    )
    .expect("fits");
    n += rtcp::write_remb(
        &mut out[n..],
        Ssrc(1),
        2_500_000,
        &[Ssrc(0x1234_5678), Ssrc(0x1234_5679)],
    )
    .expect("fits");
    out.truncate(n);
    out
}

fn bench_rtp(c: &mut Criterion) {
    let pkt = video_packet();
    c.bench_function("rtp/parse_1200B_3ext", |b| {
        b.iter(|| {
            let p = RtpPacket::parse(black_box(&pkt)).expect("valid");
            black_box((
                p.sequence_number(),
                p.timestamp(),
                p.ssrc(),
                p.extension(3),
                p.payload().len(),
            ))
        });
    });

    // Swapping 3 <-> 5 keeps the packet valid across iterations at the same cost.
    let mut map = ExtIdMap::identity();
    map.set(3, 5).expect("valid");
    map.set(5, 3).expect("valid");
    let mut buf = pkt.clone();
    let mut seq = 0u16;
    c.bench_function("rtp/rewrite_in_place_ssrc_seq_ts_extid", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let mut p = RtpPacketMut::parse(black_box(&mut buf)).expect("valid");
            p.set_ssrc(Ssrc(0xdead_beef));
            p.set_sequence_number(seq);
            p.set_timestamp(u32::from(seq) * 3000);
            black_box(p.remap_extension_ids(&map))
        });
    });

    // Fan-out shape: copy into the subscriber's buffer, then rewrite.
    let mut sub = vec![0u8; 1500];
    c.bench_function("rtp/copy_1200B_then_rewrite", |b| {
        b.iter(|| {
            let dst = &mut sub[..pkt.len()];
            dst.copy_from_slice(black_box(&pkt));
            let mut p = RtpPacketMut::parse(dst).expect("valid");
            p.set_ssrc(Ssrc(0xdead_beef));
            p.set_sequence_number(7);
            p.set_timestamp(9000);
            black_box(p.remap_extension_ids(&map))
        });
    });

    let payload_at = RtpPacket::parse(&pkt).expect("valid").header_len();
    let mut vp = pkt[payload_at..].to_vec();
    c.bench_function("rtp/vp8_descriptor_keyframe_and_picture_id_rewrite", |b| {
        b.iter(|| {
            let key = vp8::is_keyframe(black_box(&vp));
            let tid = vp8::Vp8Descriptor::parse(&vp).map(|d| d.tid);
            let _ = vp8::set_picture_id(&mut vp, 77);
            black_box((key, tid))
        });
    });
}

fn bench_rtcp(c: &mut Criterion) {
    let compound = feedback_compound();
    c.bench_function("rtcp/parse_compound_rr_nack_remb", |b| {
        b.iter(|| {
            let (mut lost, mut bitrate, mut blocks) = (0u32, 0u64, 0usize);
            for pkt in RtcpCompound::new(black_box(&compound)) {
                match pkt.expect("valid") {
                    RtcpPacket::Rr(rr) => blocks += rr.report_blocks().count(),
                    RtcpPacket::Nack(n) => lost += n.lost().map(u32::from).sum::<u32>(),
                    RtcpPacket::Remb(r) => bitrate = r.bitrate(),
                    _ => {}
                }
            }
            black_box((lost, bitrate, blocks))
        });
    });

    let mut out = [0u8; 128];
    c.bench_function("rtcp/write_rr_nack_compound", |b| {
        b.iter(|| {
            let mut n = rtcp::write_rr(&mut out, Ssrc(1), &[]).expect("fits");
            n += rtcp::write_nack(&mut out[n..], Ssrc(1), Ssrc(2), black_box(&[10, 11, 14]))
                .expect("fits");
            black_box(n)
        });
    });

    // 100 packets, mostly received with small deltas, a few losses.
    let statuses: Vec<Option<i16>> = (0..100)
        .map(|i| if i % 17 == 0 { None } else { Some(i % 40) })
        .collect();
    let mut twcc = [0u8; 512];
    let h = TwccHeader {
        base_seq: 1000,
        reference_time: 77,
        fb_pkt_count: 1,
    };
    c.bench_function("rtcp/write_twcc_100", |b| {
        b.iter(|| {
            black_box(rtcp::write_twcc(
                &mut twcc,
                Ssrc(1),
                Ssrc(2),
                &h,
                black_box(&statuses),
            ))
        });
    });
    let n = rtcp::write_twcc(&mut twcc, Ssrc(1), Ssrc(2), &h, &statuses).expect("fits");
    let twcc = &twcc[..n];
    c.bench_function("rtcp/parse_twcc_100", |b| {
        b.iter(|| {
            let Ok(RtcpPacket::Twcc(t)) = RtcpPacket::parse(black_box(twcc)) else {
                unreachable!("valid TWCC");
            };
            black_box(t.packets().filter_map(|p| p.1).map(i32::from).sum::<i32>())
        });
    });
}

criterion_group!(benches, bench_rtp, bench_rtcp);
criterion_main!(benches);

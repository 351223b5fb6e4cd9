//! Fuzz bodies: each parses arbitrary bytes and, where a parse succeeds, writes the
//! result back, re-parses it and asserts that the two agree. `fuzz/` holds one-line
//! shims over these; `tests/fuzz_bodies.rs` feeds them random bytes.
//!
//! They allocate freely: they are never on the dataplane path.

use crate::codec::{self, VideoCodec, vp8, vp9};
use crate::ext::{ExtIdMap, ExtensionBlock, ExtensionElement};
use crate::rtcp::{self, RtcpCompound, RtcpPacket, SdesItem};
use crate::{
    PacketKind, RtpHeader, RtpPacket, RtpPacketMut, Ssrc, classify, recover_rtx, write_rtp,
    write_rtx,
};

/// RTP: parse, rebuild with [`write_rtp`], rewrite in place, and RTX round trip.
pub fn rtp(data: &[u8]) {
    let Ok(p) = RtpPacket::parse(data) else {
        return;
    };
    let csrcs: Vec<Ssrc> = p.csrcs().collect();
    assert_eq!(csrcs.len(), usize::from(p.csrc_count()));
    let elems: Vec<ExtensionElement<'_>> = p.extensions().into_iter().flatten().collect();
    let form = p.extensions().and_then(|e| e.form());
    let header = RtpHeader {
        marker: p.marker(),
        payload_type: p.payload_type(),
        sequence_number: p.sequence_number(),
        timestamp: p.timestamp(),
        ssrc: p.ssrc(),
        csrcs: &csrcs,
        extensions: form.map(|form| ExtensionBlock {
            form,
            elements: &elems,
        }),
    };
    let pad = u8::try_from(p.padding_len()).expect("padding count is one octet");
    let mut out = vec![0u8; data.len() + 64];
    let n = write_rtp(&mut out, &header, p.payload(), pad).expect("parsed packet re-encodes");
    let q = RtpPacket::parse(&out[..n]).expect("written packet parses");
    assert_eq!(
        (q.marker(), q.payload_type(), q.sequence_number()),
        (p.marker(), p.payload_type(), p.sequence_number())
    );
    assert_eq!((q.timestamp(), q.ssrc()), (p.timestamp(), p.ssrc()));
    assert!(q.csrcs().eq(csrcs.iter().copied()));
    assert!(
        q.extensions()
            .into_iter()
            .flatten()
            .eq(elems.iter().copied())
    );
    assert_eq!(q.payload(), p.payload());
    assert_eq!(q.padding_len(), p.padding_len());

    in_place(data, &p);

    let mut rtx = vec![0u8; data.len() + 2];
    let n = write_rtx(&p, 97, Ssrc(0xfeed), 7, &mut rtx).expect("RTX fits");
    let r = RtpPacket::parse(&rtx[..n]).expect("RTX parses");
    let mut back = vec![0u8; n];
    let m = recover_rtx(&r, p.payload_type(), p.ssrc(), &mut back).expect("RTX recovers");
    let b = RtpPacket::parse(&back[..m]).expect("recovered parses");
    assert_eq!(b.sequence_number(), p.sequence_number());
    assert_eq!(b.payload(), p.payload());
    assert_eq!(b.as_bytes().get(1..), p.as_bytes().get(1..m));
}

fn in_place(data: &[u8], p: &RtpPacket<'_>) {
    let mut buf = data.to_vec();
    let mut m = RtpPacketMut::parse(&mut buf).expect("same bytes parse mutably");
    m.set_marker(!p.marker());
    m.set_payload_type(p.payload_type() ^ 0x01)
        .expect("7-bit PT");
    m.set_sequence_number(p.sequence_number().wrapping_add(1));
    m.set_timestamp(p.timestamp().wrapping_add(3000));
    m.set_ssrc(Ssrc(!p.ssrc().0));
    assert_eq!(m.remap_extension_ids(&ExtIdMap::identity()), 0);
    let mut map = ExtIdMap::new();
    for id in 1..=13u8 {
        map.set(id, id + 1).expect("non-zero id");
    }
    let removed = m.remap_extension_ids(&map);
    let v = m.as_packet();
    assert_eq!(v.marker(), !p.marker());
    assert_eq!(v.payload_type(), p.payload_type() ^ 0x01);
    assert_eq!(v.sequence_number(), p.sequence_number().wrapping_add(1));
    assert_eq!(v.ssrc(), Ssrc(!p.ssrc().0));
    assert_eq!(v.payload(), p.payload());
    let before = p.extensions().into_iter().flatten();
    let kept: Vec<_> = before
        .filter_map(|e| map.get(e.id).map(|id| (id, e.data)))
        .collect();
    let after: Vec<_> = v
        .extensions()
        .into_iter()
        .flatten()
        .map(|e| (e.id, e.data))
        .collect();
    if p.extensions().and_then(|e| e.form()).is_some() {
        assert_eq!(after, kept);
        let total = p.extensions().into_iter().flatten().count();
        assert_eq!(removed, total - kept.len());
    }
}

/// RTCP: iterate a compound; re-encode each typed packet and compare.
pub fn rtcp(data: &[u8]) {
    for pkt in RtcpCompound::new(data) {
        let Ok(pkt) = pkt else {
            continue;
        };
        let mut out = vec![0u8; pkt.as_bytes().len() * 4 + 64];
        let Some(n) = rewrite_rtcp(&pkt, &mut out) else {
            continue;
        };
        let again = RtcpPacket::parse(&out[..n]).expect("written RTCP parses");
        assert_same_rtcp(&pkt, &again);
    }
}

fn rewrite_rtcp(pkt: &RtcpPacket<'_>, out: &mut [u8]) -> Option<usize> {
    let r = match pkt {
        RtcpPacket::Sr(sr) => {
            let blocks: Vec<_> = sr.report_blocks().collect();
            rtcp::write_sr(out, sr.ssrc(), &sr.sender_info(), &blocks)
        }
        RtcpPacket::Rr(rr) => {
            let blocks: Vec<_> = rr.report_blocks().collect();
            rtcp::write_rr(out, rr.ssrc(), &blocks)
        }
        RtcpPacket::Sdes(s) => {
            let items: Vec<(Ssrc, Vec<SdesItem<'_>>)> = s
                .chunks()
                .map(|c| (c.ssrc(), c.items().collect()))
                .collect();
            let chunks: Vec<(Ssrc, &[SdesItem<'_>])> =
                items.iter().map(|(s, i)| (*s, i.as_slice())).collect();
            rtcp::write_sdes(out, &chunks)
        }
        RtcpPacket::Bye(b) => {
            let ssrcs: Vec<_> = b.ssrcs().collect();
            rtcp::write_bye(out, &ssrcs, b.reason())
        }
        RtcpPacket::Nack(n) => {
            let pairs: Vec<_> = n.pairs().collect();
            rtcp::write_nack_pairs(out, n.sender_ssrc(), n.media_ssrc(), &pairs)
        }
        RtcpPacket::Pli(p) => rtcp::write_pli(out, p.sender_ssrc(), p.media_ssrc()),
        RtcpPacket::Fir(f) => {
            let entries: Vec<_> = f.entries().collect();
            rtcp::write_fir(out, f.sender_ssrc(), &entries)
        }
        RtcpPacket::Remb(r) if r.bitrate() != u64::MAX => {
            let ssrcs: Vec<_> = r.ssrcs().collect();
            rtcp::write_remb(out, r.sender_ssrc(), r.bitrate(), &ssrcs)
        }
        RtcpPacket::Twcc(t) => {
            let st: Vec<_> = t.packets().map(|p| p.1).collect();
            rtcp::write_twcc(out, t.sender_ssrc(), t.media_ssrc(), &t.header(), &st)
        }
        _ => return None,
    };
    r.ok()
}

fn assert_same_rtcp(a: &RtcpPacket<'_>, b: &RtcpPacket<'_>) {
    match (a, b) {
        (RtcpPacket::Sr(x), RtcpPacket::Sr(y)) => {
            assert_eq!((x.ssrc(), x.sender_info()), (y.ssrc(), y.sender_info()));
            assert!(x.report_blocks().eq(y.report_blocks()));
        }
        (RtcpPacket::Rr(x), RtcpPacket::Rr(y)) => {
            assert_eq!(x.ssrc(), y.ssrc());
            assert!(x.report_blocks().eq(y.report_blocks()));
        }
        (RtcpPacket::Sdes(x), RtcpPacket::Sdes(y)) => {
            assert!(
                x.chunks()
                    .map(|c| c.ssrc())
                    .eq(y.chunks().map(|c| c.ssrc()))
            );
            assert!(
                x.chunks()
                    .flat_map(|c| c.items())
                    .eq(y.chunks().flat_map(|c| c.items()))
            );
        }
        (RtcpPacket::Bye(x), RtcpPacket::Bye(y)) => {
            assert!(x.ssrcs().eq(y.ssrcs()));
            assert_eq!(x.reason(), y.reason());
        }
        (RtcpPacket::Nack(x), RtcpPacket::Nack(y)) => {
            assert_eq!(x.sender_ssrc(), y.sender_ssrc());
            assert!(x.lost().eq(y.lost()));
        }
        (RtcpPacket::Pli(x), RtcpPacket::Pli(y)) => {
            assert_eq!(x.media_ssrc(), y.media_ssrc());
        }
        (RtcpPacket::Fir(x), RtcpPacket::Fir(y)) => assert!(x.entries().eq(y.entries())),
        (RtcpPacket::Remb(x), RtcpPacket::Remb(y)) => {
            assert_eq!(x.bitrate(), y.bitrate());
            assert!(x.ssrcs().eq(y.ssrcs()));
        }
        (RtcpPacket::Twcc(x), RtcpPacket::Twcc(y)) => {
            assert_eq!(x.header(), y.header());
            assert!(x.packets().eq(y.packets()));
        }
        _ => panic!("re-encoded RTCP changed type: {a:?} → {b:?}"),
    }
}

/// Demux: the classification agrees with the RFC 7983 ranges.
pub fn demux(data: &[u8]) {
    let k = classify(data);
    match data.first() {
        None => assert_eq!(k, PacketKind::Unknown),
        Some(0..=3) => assert_eq!(k, PacketKind::Stun),
        Some(20..=63) => assert_eq!(k, PacketKind::Dtls),
        Some(128..=191) if data.len() >= 2 => {
            assert!(matches!(k, PacketKind::Rtp | PacketKind::Rtcp));
        }
        Some(_) => assert_eq!(k, PacketKind::Unknown),
    }
}

/// Codecs: keyframe detectors never panic; VP8 descriptor rewrites are faithful.
pub fn codecs(data: &[u8]) {
    for c in [
        VideoCodec::Vp8,
        VideoCodec::Vp9,
        VideoCodec::H264,
        VideoCodec::Av1,
    ] {
        let _ = codec::is_keyframe(c, data);
    }
    let _ = vp9::Vp9Descriptor::parse(data);
    let Ok(d) = vp8::Vp8Descriptor::parse(data) else {
        return;
    };
    let mut buf = data.to_vec();
    let pid = d.picture_id.map_or(0, |p| p.wrapping_add(1));
    let tl0 = d.tl0_pic_idx.map_or(0, |t| t.wrapping_add(1));
    assert_eq!(
        vp8::set_picture_id(&mut buf, pid),
        Ok(d.picture_id.is_some())
    );
    assert_eq!(
        vp8::set_tl0_pic_idx(&mut buf, tl0),
        Ok(d.tl0_pic_idx.is_some())
    );
    let e = vp8::Vp8Descriptor::parse(&buf).expect("rewrite keeps layout");
    let mask = if d.long_picture_id { 0x7fff } else { 0x7f };
    assert_eq!(e.picture_id, d.picture_id.map(|_| pid & mask));
    assert_eq!(e.tl0_pic_idx, d.tl0_pic_idx.map(|_| tl0));
    assert_eq!(
        (e.tid, e.layer_sync, e.key_idx),
        (d.tid, d.layer_sync, d.key_idx)
    );
    assert_eq!(e.header_len, d.header_len);
    assert_eq!(buf.get(d.header_len..), data.get(d.header_len..));
    assert_eq!(vp8::is_keyframe(&buf), vp8::is_keyframe(data));
}

//! Every packet a publisher sends on its RTX SSRC is accounted for: a padding probe (no
//! payload beyond the original sequence number) counts `rtx_padding`, a payload type that is
//! not an RTX one counts an `rtx_unusable` drop, and a retransmission counts `rtx_recovered`.
//! The packets are crafted through str0m's direct API on the SSRC the publisher announced for
//! RTX, so the counts are exact. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::{connect_all, publisher, run_until};
use portunus_dataplane::{BackendKind, DropReason, RtcpConfig, ShardId, ShardStats};
use str0m::media::{Pt, Rid};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};

/// What one crafted packet on the RTX SSRC is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Crafted {
    /// An RTX payload type and `n` ≤ 2 payload bytes: a padding probe.
    Padding(usize),
    /// The media payload type (not an RTX one) on the RTX SSRC, with `n` payload bytes.
    NotRtx(usize),
    /// A retransmission of the original with this sequence number.
    Recovery(u16),
}

/// Sent interleaved, so each outcome is counted per packet and not per run of packets. A
/// non-RTX packet is refused whatever its length: one is as short as a padding probe.
const PACKETS: [Crafted; 9] = [
    Crafted::Recovery(1000),
    Crafted::Padding(0),
    Crafted::NotRtx(40),
    Crafted::Padding(1),
    Crafted::Recovery(1001),
    Crafted::NotRtx(2),
    Crafted::Padding(2),
    Crafted::Recovery(1003),
    Crafted::Recovery(1002),
];

fn count(kind: fn(&Crafted) -> bool) -> u64 {
    PACKETS.iter().filter(|p| kind(p)).count() as u64
}

/// The payload of a crafted packet: for a recovery, the original sequence number (RFC 4588)
/// and then a VP8 payload that names it.
fn payload(p: Crafted) -> Vec<u8> {
    match p {
        Crafted::Padding(n) | Crafted::NotRtx(n) => vec![0x5a; n],
        Crafted::Recovery(osn) => {
            let mut v = osn.to_be_bytes().to_vec();
            v.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
            v.extend_from_slice(&osn.to_be_bytes());
            v.resize(120, 0x44);
            v
        }
    }
}

fn shard_stats(
    dp: &portunus_dataplane::Dataplane,
    clients: &mut [&mut common::Client],
    events: &mut Vec<portunus_dataplane::ShardEvent>,
    rtp_in: u64,
) -> ShardStats {
    let mut st = common::stats(dp, ShardId(0), clients, events);
    for _ in 0..50 {
        if st.counters.rtp_in >= rtp_in {
            break;
        }
        run_until(dp, clients, events, Duration::from_millis(50), |_, _| false);
        st = common::stats(dp, ShardId(0), clients, events);
    }
    st
}

fn rtx_accounting(backend: BackendKind) {
    let dp = common::start(backend, 1, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = publisher(&dp, ShardId(0), 7, now);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ], &mut events);

    let vp8 = publ.pt;
    assert!(
        publ.rtx_pts.iter().any(|(_, apt)| *apt == vp8),
        "str0m offers RTX for VP8: {:?}",
        publ.rtx_pts
    );
    // str0m writes only its codecs' own payload types through the direct API (it sends its
    // RTX payload types only in answer to NACKs, or as BWE padding, neither of which a test
    // can count on). So the control plane's part, played here, names one more payload type,
    // one str0m can write and this video m-line does not use, as RTX for VP8 besides the negotiated ones.
    let rtx_pt = publ
        .rtc
        .codec_config()
        .params()
        .iter()
        .map(|p| *p.pt())
        .find(|pt| *pt != vp8 && publ.rtx_pts.iter().all(|(r, a)| r != pt && a != pt))
        .expect("str0m has another payload type");
    let mut rtx_payload_types = publ.rtx_pts.clone();
    rtx_payload_types.push((rtx_pt, vp8));
    publ.configure_rtcp(
        &dp,
        RtcpConfig {
            rtx_payload_types,
            // No NACKs: str0m sends nothing on the RTX SSRC but the crafted packets.
            nack: false,
            bitrate_cap: None,
            slowlink_threshold: 0,
            twcc_ext: None,
            audio_level_ext: None,
        },
    );
    // Commands are applied in order: once the stats answer, the table is in place.
    let before = common::stats(&dp, ShardId(0), &mut [&mut publ], &mut events);
    assert_eq!(before.counters.rtp_in, 0, "{before:?}");

    let mut direct = publ.rtc.direct_api();
    let main = direct
        .stream_tx_by_mid(publ.mid, None)
        .expect("the publisher's stream");
    assert_eq!(*main.ssrc(), publ.ssrc);
    let rtx_ssrc: Ssrc = main.rtx().expect("the publisher announced an RTX SSRC");
    // A stream of its own on the RTX SSRC (str0m's pacer tells streams of one m-line apart by
    // rid), whose packets str0m protects and gives its mid and rid
    // extensions, but sends with the payload type, sequence number and payload written.
    let crafted = direct.declare_stream_tx(rtx_ssrc, None, publ.mid, Some(Rid::from("x")));
    for (i, p) in PACKETS.iter().enumerate() {
        let pt = match p {
            Crafted::NotRtx(_) => vp8,
            _ => rtx_pt,
        };
        let seq = SeqNo::from(500 + i as u64);
        let write = RtpWrite::new(Pt::from(pt), seq, 3000 * i as u32, now, payload(*p));
        crafted.write_rtp(write);
    }

    let sent = PACKETS.len() as u64;
    let mut clients = [&mut publ];
    let st = shard_stats(&dp, &mut clients, &mut events, sent);
    let c = &st.counters;
    assert_eq!(c.rtp_in, sent, "every crafted packet arrived: {st:?}");
    assert_eq!(
        (
            c.rtx_padding,
            c.drops(DropReason::RtxUnusable),
            c.rtx_recovered
        ),
        (
            count(|p| matches!(p, Crafted::Padding(_))),
            count(|p| matches!(p, Crafted::NotRtx(_))),
            count(|p| matches!(p, Crafted::Recovery(_)))
        ),
        "(padding, unusable, recovered): {st:?}"
    );
    dp.stop();
}

#[test]
fn rtx_padding_unusable_and_recovered_are_counted_per_packet_epoll() {
    rtx_accounting(BackendKind::Epoll);
}

#[test]
fn rtx_padding_unusable_and_recovered_are_counted_per_packet_io_uring() {
    rtx_accounting(BackendKind::IoUring);
}

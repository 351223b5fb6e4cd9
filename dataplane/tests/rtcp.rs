//! RTCP of the dataplane's own, seen by str0m peers over loopback: NACKs and RTX recovery
//! of a publisher's losses, receiver reports and a capped REMB at the publisher, sender
//! reports at the subscriber, and per-PeerConnection statistics. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::{connect_all, publisher, run_until, subscribe, subscriber};
use portunus_dataplane::{
    BackendKind, PeerStats, ReplyTo, RtcpConfig, ShardCommand, ShardEvent, ShardId,
};

const FRAMES: u32 = 40;
const CAP: u64 = 300_000;

fn peer_stats(
    dp: &portunus_dataplane::Dataplane,
    clients: &mut [&mut common::Client],
    events: &mut Vec<ShardEvent>,
    who: usize,
) -> PeerStats {
    let (peer, shard) = (clients[who].peer, clients[who].shard);
    let reply = ReplyTo(1000 + who as u64);
    common::send(dp, shard, ShardCommand::GetPeerStats { peer, reply });
    let before = events.len();
    let ok = run_until(dp, clients, events, Duration::from_secs(5), |_, evs| {
        evs[before..]
            .iter()
            .any(|e| matches!(e, ShardEvent::PeerStats(s) if s.reply == reply))
    });
    assert!(ok, "stats answered");
    events[before..]
        .iter()
        .find_map(|e| match e {
            ShardEvent::PeerStats(s) if s.reply == reply => Some((**s).clone()),
            _ => None,
        })
        .expect("stats")
}

fn rtcp_round_trip(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = publisher(&dp, ShardId(0), 14, now);
    let mut sub = subscriber(&dp, ShardId(1), 15, now);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ, &mut sub], &mut events);
    assert!(!publ.rtx_pts.is_empty(), "str0m offers RTX");
    publ.configure_rtcp(
        &dp,
        RtcpConfig {
            rtx_payload_types: publ.rtx_pts.clone(),
            nack: true,
            bitrate_cap: Some(CAP),
            slowlink_threshold: 1,
            twcc_ext: None,
            audio_level_ext: None,
        },
    );
    subscribe(&dp, &publ, &sub);
    // 5 % loss between the publisher and the dataplane.
    publ.drop_out_every = 20;
    let mut clients = [&mut publ, &mut sub];
    for n in 0..FRAMES {
        clients[0].write_frame(Instant::now(), n);
        run_until(
            &dp,
            &mut clients,
            &mut events,
            Duration::from_millis(20),
            |_, _| false,
        );
    }
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(5),
        |cs, _| {
            cs[1].frames.len() as u32 >= FRAMES - 1
                && cs[0].rr_seen
                && !cs[0].remb.is_empty()
                && cs[1].sr_packets.is_some_and(|p| p > 0)
        },
    );
    let [publ, sub] = &clients;
    assert!(
        done,
        "frames {} rr {} remb {:?} sr {:?}",
        sub.frames.len(),
        publ.rr_seen,
        publ.remb,
        sub.sr_packets
    );
    // Every frame arrived whole and in order although the publisher's path lost packets.
    for (i, f) in sub.frames.iter().enumerate() {
        let n = u32::from_be_bytes(f.data[10..14].try_into().expect("4 bytes"));
        assert_eq!(*f.data, *common::frame(n), "frame {i} is whole");
        if i > 0 {
            assert_eq!(
                *f.seq_range.start(),
                (**sub.frames[i - 1].seq_range.end() + 1).into(),
                "frame {i} follows without a gap"
            );
        }
    }
    assert!(publ.rtp_out >= 20, "the loss happened");
    let remb = *publ.remb.last().expect("remb");
    assert!(
        remb <= CAP && remb > CAP * 9 / 10,
        "REMB carries the cap: {remb}"
    );

    let p = peer_stats(&dp, &mut clients, &mut events, 0);
    let i = &p.inbound[0];
    assert_eq!(i.ssrc, clients[0].ssrc);
    assert!(
        i.packets > u64::from(FRAMES) && i.bytes > i.packets * 100,
        "{p:?}"
    );
    assert!(i.nacks_sent >= 1 && i.recovered >= 1, "{p:?}");
    assert!(i.lost <= 1, "retransmissions filled the gaps: {p:?}");
    assert!(
        events.iter().any(
            |e| matches!(e, ShardEvent::SlowLink { peer, uplink: true, .. }
            if *peer == clients[0].peer)
        ),
        "the losses were reported as an uplink slowlink"
    );
    // str0m answers our sender reports in its next receiver report.
    let mut s = peer_stats(&dp, &mut clients, &mut events, 1);
    for _ in 0..25 {
        if s.outbound[0].rtt.is_some() {
            break;
        }
        run_until(
            &dp,
            &mut clients,
            &mut events,
            Duration::from_millis(200),
            |_, _| false,
        );
        s = peer_stats(&dp, &mut clients, &mut events, 1);
    }
    let o = &s.outbound[0];
    assert_eq!(o.ssrc, clients[1].ssrc);
    assert!(o.packets > u64::from(FRAMES), "{s:?}");
    assert!(
        o.rtt.is_some_and(|r| r < Duration::from_secs(1)),
        "RTT from its RR: {s:?}"
    );
    let st = common::stats(&dp, ShardId(0), &mut clients, &mut events);
    assert!(
        st.counters.rr_sent >= 1 && st.counters.remb_sent >= 1,
        "{st:?}"
    );
    assert!(st.counters.rtx_recovered >= 1, "{st:?}");
    // Each recovery counts once, in the shard's counter and the stream's alike (the
    // publisher's is the only stream with RTX on shard 0; its losses were answered long
    // before, so nothing arrives between the two snapshots).
    let p = peer_stats(&dp, &mut clients, &mut events, 0);
    let recovered: u64 = p.inbound.iter().map(|i| i.recovered).sum();
    assert_eq!(st.counters.rtx_recovered, recovered, "{p:?} {st:?}");
    // And each RTP datagram that reached the shard once: an RTX packet is not counted again
    // as the packet it carried.
    let publ = &clients[0];
    let delivered = publ.rtp_out - publ.rtp_out / publ.drop_out_every;
    assert_eq!(st.counters.rtp_in, u64::from(delivered), "{st:?}");
    dp.stop();
}

#[test]
fn publisher_losses_are_nacked_and_recovered_and_reports_flow_both_ways_epoll() {
    rtcp_round_trip(BackendKind::Epoll);
}

#[test]
fn publisher_losses_are_nacked_and_recovered_and_reports_flow_both_ways_io_uring() {
    rtcp_round_trip(BackendKind::IoUring);
}

//! Transport-wide congestion control feedback seen by a str0m publisher over loopback:
//! with the transport-wide sequence number negotiated and [`RtcpConfig::twcc_ext`] set, the
//! dataplane reports every packet's arrival and str0m's send-side estimate rises from its
//! starting point; without it, no feedback goes out. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::{connect_all, publisher_with_bwe, run_until};
use portunus_dataplane::{BackendKind, RtcpConfig, ShardEvent, ShardId};
use str0m::bwe::Bitrate;

const INITIAL: u64 = 100_000;

/// Sends ~1.2 Mbit/s of video for `secs` seconds; returns the TWCC feedbacks the shard
/// sent and str0m's estimates.
fn publish(backend: BackendKind, twcc: bool) -> (u64, Vec<u64>) {
    let dp = common::start(backend, 1, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = publisher_with_bwe(&dp, ShardId(0), 7, now, Bitrate::bps(INITIAL));
    let mut events: Vec<ShardEvent> = Vec::new();
    connect_all(&dp, &mut [&mut publ], &mut events);
    let ext = publ.twcc_ext;
    assert!(
        ext.is_some(),
        "str0m offers the transport-wide sequence number"
    );
    publ.rtc
        .bwe()
        .set_bitrate(Bitrate::bps(INITIAL), Bitrate::bps(5_000_000));
    publ.configure_rtcp(
        &dp,
        RtcpConfig {
            rtx_payload_types: publ.rtx_pts.clone(),
            nack: true,
            twcc_ext: ext.filter(|_| twcc),
            ..RtcpConfig::default()
        },
    );
    let mut clients = [&mut publ];
    for n in 0..150 {
        clients[0].write_frame(Instant::now(), n);
        run_until(
            &dp,
            &mut clients,
            &mut events,
            Duration::from_millis(20),
            |_, _| false,
        );
    }
    let st = common::stats(&dp, ShardId(0), &mut clients, &mut events);
    (st.counters.twcc_sent, publ.twcc.clone())
}

fn estimate_rises_with_feedback(backend: BackendKind) {
    let (sent, estimates) = publish(backend, true);
    // 3 s at one feedback per 50 ms.
    assert!(sent >= 30, "feedbacks sent: {sent}");
    let best = estimates.iter().copied().max().unwrap_or(0);
    assert!(
        best > INITIAL * 2,
        "str0m's estimate rose from {INITIAL}: {estimates:?}"
    );
}

fn no_feedback_without_the_extension(backend: BackendKind) {
    let (sent, estimates) = publish(backend, false);
    assert_eq!(sent, 0);
    let best = estimates.iter().copied().max().unwrap_or(0);
    assert!(best <= INITIAL, "no feedback, no rise: {estimates:?}");
}

#[test]
fn twcc_feedback_raises_the_publishers_estimate_epoll() {
    estimate_rises_with_feedback(BackendKind::Epoll);
}

#[test]
fn twcc_feedback_raises_the_publishers_estimate_io_uring() {
    estimate_rises_with_feedback(BackendKind::IoUring);
}

#[test]
fn no_twcc_feedback_unless_negotiated_epoll() {
    no_feedback_without_the_extension(BackendKind::Epoll);
}

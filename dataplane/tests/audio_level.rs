//! RFC 6464 audio levels of a str0m audio publisher over loopback: with
//! [`RtcpConfig::audio_level_ext`] set, the shard sums the levels of the packets that carry
//! one and reports them as [`ShardEvent::AudioLevel`] a few times a second (never per
//! packet); packets without the extension, or a peer without the id configured, report
//! nothing.

mod common;

use std::time::{Duration, Instant};

use common::{Client, audio_publisher, connect_all, run_until};
use portunus_dataplane::{BackendKind, Dataplane, RtcpConfig, ShardEvent, ShardId};

/// The packets and level sums of every `AudioLevel` report in `events`, with their SSRCs.
fn reports(events: &[ShardEvent]) -> Vec<(u32, u32, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            ShardEvent::AudioLevel {
                ssrc,
                packets,
                level_sum,
                ..
            } => Some((*ssrc, *packets, *level_sum)),
            _ => None,
        })
        .collect()
}

fn measured(events: &[ShardEvent]) -> u32 {
    reports(events).iter().map(|r| r.1).sum()
}

/// A connected audio publisher whose RTCP config names `level_ext` (or not).
fn connected(dp: &Dataplane, configure: bool) -> (Client, Vec<ShardEvent>) {
    let (mut publ, ext) = audio_publisher(dp, ShardId(0), 11, Instant::now());
    assert!(
        ext.is_some(),
        "str0m offers ssrc-audio-level and it is answered"
    );
    let mut events = Vec::new();
    connect_all(dp, &mut [&mut publ], &mut events);
    publ.configure_rtcp(
        dp,
        RtcpConfig {
            audio_level_ext: ext.filter(|_| configure),
            ..RtcpConfig::default()
        },
    );
    // Commands run in order: once the stats answer comes, the config is in place.
    common::stats(dp, publ.shard, &mut [&mut publ], &mut events);
    (publ, events)
}

/// Sends `levels.len()` Opus packets 20 ms apart, then drives the clients until `done`
/// (bounded).
fn send_audio(
    dp: &Dataplane,
    publ: &mut Client,
    events: &mut Vec<ShardEvent>,
    levels: &[Option<u8>],
    done: impl FnMut(&[&mut Client], &[ShardEvent]) -> bool,
) -> bool {
    let mut clients = [publ];
    for (n, level) in levels.iter().enumerate() {
        clients[0].write_audio(Instant::now(), n as u32, *level);
        run_until(
            dp,
            &mut clients,
            events,
            Duration::from_millis(20),
            |_, _| false,
        );
    }
    run_until(dp, &mut clients, events, Duration::from_secs(3), done)
}

fn levels_are_summed_and_batched(backend: BackendKind) {
    let dp = common::start(backend, 1, Duration::from_secs(30));
    let (mut publ, mut events) = connected(&dp, true);
    // 40 packets at -30 dBov, then 20 without a level: only the first 40 are measured.
    let mut levels = vec![Some(30); 40];
    levels.extend([None; 20]);
    let ok = send_audio(&dp, &mut publ, &mut events, &levels, |_, evs| {
        measured(evs) >= 40
    });
    assert!(
        ok,
        "the levels of 40 packets are reported: {:?}",
        reports(&events)
    );
    // Nothing more comes for the packets without a level.
    let mut clients = [&mut publ];
    run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_millis(600),
        |_, _| false,
    );
    let r = reports(&events);
    assert_eq!(measured(&events), 40, "{r:?}");
    assert!(r.iter().all(|(ssrc, _, _)| *ssrc == publ.ssrc), "{r:?}");
    assert!(
        r.iter().all(|(_, packets, sum)| *sum == 30 * packets),
        "every level is 30: {r:?}"
    );
    assert!(
        r.len() < 40,
        "reports carry many packets each, not one per packet: {r:?}"
    );
}

#[test]
fn audio_levels_are_summed_and_batched_epoll() {
    levels_are_summed_and_batched(BackendKind::Epoll);
}

#[test]
fn audio_levels_are_summed_and_batched_io_uring() {
    levels_are_summed_and_batched(BackendKind::IoUring);
}

#[test]
fn no_audio_levels_unless_configured() {
    let dp = common::start(BackendKind::Epoll, 1, Duration::from_secs(30));
    let (mut publ, mut events) = connected(&dp, false);
    let levels = vec![Some(10); 30];
    let peer = publ.peer;
    // The stream arrives (a `Media` event) but no level is read from it.
    let ok = send_audio(&dp, &mut publ, &mut events, &levels, |_, evs| {
        evs.iter()
            .any(|e| matches!(e, ShardEvent::Media { peer: p, receiving: true, .. } if *p == peer))
    });
    assert!(ok, "media arrives");
    let mut clients = [&mut publ];
    run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_millis(600),
        |_, _| false,
    );
    assert_eq!(reports(&events), Vec::new());
}

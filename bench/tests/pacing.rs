//! The publisher's pacer, driven with explicit instants (no wall-clock timing): a keyframe
//! leaves spread over 5 ms budget intervals at 2.5 × the bitrate, audio is not held behind
//! it, and `pacing_factor: 0` restores the old burst.

use std::time::{Duration, Instant};

use portunus_bench::media::{
    DEFAULT_PACING_FACTOR, MediaConfig, MediaSource, OPUS_PT, PACING_INTERVAL, Pacer, VP8_PT,
};

fn config(audio: bool, pacing_factor: f64) -> MediaConfig {
    MediaConfig {
        video_bitrate: 1_500_000,
        simulcast: false,
        audio,
        keyframe_interval: Duration::from_secs(10),
        pacing_factor,
    }
}

/// Polls `source` every 100 µs for `ms` milliseconds; returns (µs since start, payload type,
/// RTP length) of every packet, as a sender loop that wakes at `poll_timeout` would see them.
fn drive(source: &mut MediaSource, start: Instant, ms: u64) -> Vec<(u64, u8, usize)> {
    let mut buf = [0u8; 1500];
    let mut sent = Vec::new();
    for us in (0..ms * 1000).step_by(100) {
        let now = start + Duration::from_micros(us);
        while let Some(len) = source.poll_packet(now, us, &mut buf) {
            sent.push((us, buf[1] & 0x7f, len));
        }
    }
    sent
}

#[test]
fn a_keyframe_is_spread_over_budget_intervals_at_the_pacing_rate() {
    let start = Instant::now();
    let mut source = MediaSource::new(start, 0, 1000, &config(false, DEFAULT_PACING_FACTOR));
    // The first frame is a keyframe: 3 × 1.5 Mbit/s / 30 fps = 18750 bytes, 18 packets.
    let sent = drive(&mut source, start, 30);
    let key: Vec<_> = sent.iter().filter(|p| p.1 == VP8_PT).collect();
    assert_eq!(key.len(), 14, "what 2.5 × 1.5 Mbit/s lets out in 30 ms");
    // 2.5 × 1.5 Mbit/s = 2343.75 bytes per 5 ms: a packet of 1054 bytes leaves while the
    // budget is positive, so three go at once and then two or three per interval, each group
    // at an interval boundary.
    let at = |ms: u64| key.iter().filter(|p| p.0 / 1000 == ms).count();
    assert_eq!(at(0), 3);
    assert!(key.iter().all(|p| p.0 % 5000 == 0), "{key:?}");
    for tick in 1..6 {
        assert!((2..=3).contains(&at(tick * 5)), "tick {tick}: {key:?}");
    }
    // Bytes out over 30 ms (six intervals) stay within one packet of the budget.
    let bytes: usize = key.iter().map(|p| p.2).sum();
    let budget = 2343.75 * 6.0;
    assert!(
        (bytes as f64) < budget + 1100.0 && bytes as f64 > budget - 1100.0,
        "{bytes}"
    );
    // The rest of the keyframe and the next frame (due at 33.3 ms) follow.
    let all = drive(&mut source, start + Duration::from_millis(30), 40);
    assert!(all.iter().filter(|p| p.1 == VP8_PT).count() >= 6 + 6);
}

#[test]
fn burst_mode_sends_a_whole_keyframe_at_once() {
    let start = Instant::now();
    let mut source = MediaSource::new(start, 0, 1000, &config(false, 0.0));
    let sent = drive(&mut source, start, 30);
    assert_eq!(sent.len(), 18);
    assert!(sent.iter().all(|p| p.0 == 0));
}

#[test]
fn audio_is_not_held_behind_a_paced_keyframe() {
    let start = Instant::now();
    let mut source = MediaSource::new(start, 0, 1000, &config(true, DEFAULT_PACING_FACTOR));
    let sent = drive(&mut source, start, 100);
    let audio: Vec<u64> = sent
        .iter()
        .filter(|p| p.1 == OPUS_PT)
        .map(|p| p.0)
        .collect();
    assert_eq!(audio, vec![0, 20_000, 40_000, 60_000, 80_000]);
}

#[test]
fn poll_timeout_names_the_next_interval_while_the_budget_is_spent() {
    let start = Instant::now();
    let mut source = MediaSource::new(start, 0, 1000, &config(false, DEFAULT_PACING_FACTOR));
    let mut buf = [0u8; 1500];
    let mut n = 0;
    while source.poll_packet(start, 0, &mut buf).is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
    assert_eq!(source.poll_timeout(), start + PACING_INTERVAL);
}

#[test]
fn a_debt_is_paid_before_the_budget_turns_positive_again() {
    let start = Instant::now();
    // 8000 bit/s: 5 bytes per interval.
    let mut pacer = Pacer::new(start, 8000.0);
    assert!(pacer.can_send(start));
    pacer.on_sent(start, 12);
    // Budget 5 − 12 = −7: two refills (−2, then 3) before the next packet.
    assert!(!pacer.can_send(start + PACING_INTERVAL));
    assert_eq!(pacer.next_send(), start + PACING_INTERVAL * 2);
    assert!(pacer.can_send(start + PACING_INTERVAL * 2));
    // An unused budget is not kept beyond one interval's worth.
    assert!(pacer.can_send(start + PACING_INTERVAL * 50));
    pacer.on_sent(start + PACING_INTERVAL * 50, 6);
    assert!(!pacer.can_send(start + PACING_INTERVAL * 50));
}

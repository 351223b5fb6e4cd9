//! Simulcast over loopback with str0m: a rid-simulcast publisher on one shard, a subscriber
//! on the other. Substream switches wait for keyframes (asked for by PLI), a silent
//! substream falls back to a lower one, and the subscriber's sequence numbers run on
//! without a gap through every switch. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::{Client, connect_all, run_until, simulcast_publisher, subscriber};
use portunus_dataplane::{
    BackendKind, Dataplane, LayerPrefs, MediaKind, ShardCommand, ShardEvent, ShardId, StreamKey,
    Subscription, VideoCodec,
};
use portunus_rtp::ExtIdMap;

const KEY: u32 = 0x5151_0000;

/// Writes one frame on each substream in `layers`, a keyframe where it is the layer's first
/// or the publisher was asked for one; then drives everyone for 20 ms.
struct Feed {
    n: u32,
    started: [bool; 3],
    requests_seen: usize,
}

impl Feed {
    fn step(
        &mut self,
        dp: &Dataplane,
        clients: &mut [&mut Client],
        events: &mut Vec<ShardEvent>,
        layers: &[usize],
    ) {
        let now = Instant::now();
        let publ = &mut *clients[0];
        let asked: Vec<String> = publ.keyframe_rids[self.requests_seen..].to_vec();
        self.requests_seen = publ.keyframe_rids.len();
        for &l in layers {
            let key = !self.started[l] || asked.contains(&publ.rids[l]);
            self.started[l] = true;
            publ.write_layer(now, l, self.n, key);
        }
        self.n += 1;
        run_until(dp, clients, events, Duration::from_millis(20), |_, _| false);
    }
}

fn layer_of(data: &[u8]) -> u8 {
    data[6]
}

fn changes(events: &[ShardEvent]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            ShardEvent::LayerChanged { substream, .. } => Some(*substream),
            _ => None,
        })
        .collect()
}

fn simulcast_switches(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = simulcast_publisher(&dp, ShardId(0), 12, now, KEY);
    let mut sub = subscriber(&dp, ShardId(1), 13, now);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ, &mut sub], &mut events);
    let s = Subscription {
        subscriber: sub.peer,
        source: StreamKey {
            publisher: publ.peer,
            ssrc: KEY,
        },
        source_shard: publ.shard,
        ssrc: sub.ssrc,
        rtx: None,
        payload_types: vec![(publ.pt, sub.pt)],
        extensions: ExtIdMap::new(),
        clock_rate: 90_000,
        kind: MediaKind::Video,
        codec: Some(VideoCodec::Vp8),
        simulcast: Some(LayerPrefs {
            substream: 0,
            ..LayerPrefs::default()
        }),
    };
    dp.add_forward(sub.shard, s).expect("queue has room");
    let mut feed = Feed {
        n: 0,
        started: [false; 3],
        requests_seen: 0,
    };
    let mut clients = [&mut publ, &mut sub];
    let all = [0, 1, 2];
    for _ in 0..15 {
        feed.step(&dp, &mut clients, &mut events, &all);
    }
    assert_eq!(changes(&events), [0], "starts on substream 0");
    assert!(
        events.iter().any(|e| matches!(
            e,
            ShardEvent::Media {
                receiving: true,
                substream: Some(2),
                mid: Some(_),
                ..
            }
        )),
        "media start is reported per substream"
    );

    // Up to the highest: at its next keyframe, which the dataplane asks for.
    common::send(
        &dp,
        sub_shard(),
        ShardCommand::SetLayers {
            subscriber: clients[1].peer,
            ssrc: clients[1].ssrc,
            substream: Some(2),
            temporal: None,
            fallback: None,
        },
    );
    let mut extra = 0;
    while extra < 10 && feed.n < 200 {
        feed.step(&dp, &mut clients, &mut events, &all);
        if changes(&events).len() == 2 {
            extra += 1;
        }
    }
    assert_eq!(changes(&events), [0, 2], "switched up to 2");
    assert!(
        clients[0].keyframe_rids.contains(&clients[0].rids[2]),
        "a PLI asked for substream 2's keyframe: {:?}",
        clients[0].keyframe_rids
    );

    // Substream 2 stops: after the fallback, down to 1 at its keyframe.
    let mut extra = 0;
    while extra < 10 && feed.n < 400 {
        feed.step(&dp, &mut clients, &mut events, &[0, 1]);
        if changes(&events).len() == 3 {
            extra += 1;
        }
    }
    assert_eq!(changes(&events), [0, 2, 1], "fell back to 1");
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_millis(300),
        |_, _| false,
    );
    assert!(!done);

    // What the subscriber saw: layer 0 frames, then 2, then 1, each run starting with a
    // keyframe, and sequence numbers without a gap throughout.
    let frames = &clients[1].frames;
    assert!(frames.len() >= 30, "got {} frames", frames.len());
    let mut runs: Vec<u8> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let layer = layer_of(&f.data);
        if runs.last() != Some(&layer) {
            runs.push(layer);
            assert_eq!(
                f.data[0] & 1,
                0,
                "frame {i} starts substream {layer} with a keyframe"
            );
        }
        if i > 0 {
            assert_eq!(
                *f.seq_range.start(),
                (**frames[i - 1].seq_range.end() + 1).into(),
                "frame {i}: sequence numbers run on without a gap"
            );
        }
    }
    assert_eq!(runs, [0, 2, 1]);
    dp.stop();
}

fn sub_shard() -> ShardId {
    ShardId(1)
}

#[test]
fn simulcast_switches_at_keyframes_and_falls_back_gap_free_epoll() {
    simulcast_switches(BackendKind::Epoll);
}

#[test]
fn simulcast_switches_at_keyframes_and_falls_back_gap_free_io_uring() {
    simulcast_switches(BackendKind::IoUring);
}

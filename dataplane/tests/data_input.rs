//! Data inputs over loopback, both backends: datagrams sent to a Streaming `data` port reach
//! str0m viewers' data channels on the input's shard and on the other one, text and binary,
//! byte for byte; garbage (not UTF-8 on a text input) and oversize datagrams are dropped and
//! counted, as are messages for a viewer without an open channel; with `buffermsg` a viewer
//! that starts late (or whose channel opens late) gets the input's latest message once.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{Client, connect_all, publisher, publisher_with, run_until, send, stats};
use portunus_dataplane::{
    BackendKind, DataInput, DataSubscription, Dataplane, DropReason, PeerId, ReplyTo, ShardCommand,
    ShardEvent, ShardId, StreamKey,
};
use portunus_sctp::MessageKind;

const MOUNTPOINT: u64 = 7;

fn key(ssrc: u32) -> StreamKey {
    StreamKey {
        publisher: PeerId::input(MOUNTPOINT),
        ssrc,
    }
}

fn open_data_input(
    dp: &Dataplane,
    source: StreamKey,
    kind: MessageKind,
    buffer_message: bool,
    events: &mut Vec<ShardEvent>,
) -> SocketAddr {
    let input = DataInput {
        reply: ReplyTo(source.ssrc.into()),
        source,
        mid: "d".into(),
        bind: "127.0.0.1".parse().expect("ip"),
        port: 0,
        kind,
        buffer_message,
    };
    send(dp, ShardId(0), ShardCommand::OpenDataInput(Box::new(input)));
    let mut addr = None;
    let ok = run_until(dp, &mut [], events, Duration::from_secs(5), |_, evs| {
        addr = evs.iter().find_map(|e| match e {
            ShardEvent::RtpInputOpened {
                source: s,
                local_addrs,
                shard: ShardId(0),
                ..
            } if *s == source => local_addrs.first().copied(),
            _ => None,
        });
        addr.is_some()
    });
    assert!(ok, "the data input opens: {events:?}");
    addr.expect("address")
}

fn watch(dp: &Dataplane, viewer: &Client, source: StreamKey, kind: MessageKind, replay: bool) {
    let sub = DataSubscription {
        subscriber: viewer.peer,
        source,
        source_shard: ShardId(0),
        kind,
        replay_last: replay,
    };
    dp.add_data_forward(viewer.shard, sub)
        .expect("queue has room");
}

/// Waits until the server saw a data channel open on each of `peers`.
fn channels_open(
    dp: &Dataplane,
    clients: &mut [&mut Client],
    events: &mut Vec<ShardEvent>,
    peers: &[PeerId],
) {
    let ok = run_until(dp, clients, events, Duration::from_secs(10), |_, evs| {
        peers.iter().all(|p| {
            evs.iter()
                .any(|e| matches!(e, ShardEvent::DataChannelOpen { peer, .. } if peer == p))
        })
    });
    assert!(ok, "the viewers' data channels open");
}

/// Both shards have applied every command sent so far (each answers in order).
fn settle(dp: &Dataplane, clients: &mut [&mut Client], events: &mut Vec<ShardEvent>) {
    stats(dp, ShardId(0), clients, events);
    stats(dp, ShardId(1), clients, events);
}

fn of_kind(c: &Client, binary: bool) -> Vec<Vec<u8>> {
    c.channel_data
        .iter()
        .filter(|(b, _)| *b == binary)
        .map(|(_, d)| d.clone())
        .collect()
}

fn relays_text_and_binary_to_both_shards(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let mut near = publisher_with(&dp, ShardId(0), 1, now, true);
    let mut far = publisher_with(&dp, ShardId(1), 2, now, true);
    // No data channels negotiated at all: every message for it is a counted drop.
    let mut blind = publisher(&dp, ShardId(1), 3, now);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut near, &mut far, &mut blind], &mut events);
    let peers = [near.peer, far.peer];
    channels_open(
        &dp,
        &mut [&mut near, &mut far, &mut blind],
        &mut events,
        &peers,
    );

    let text = key(1);
    let binary = key(2);
    let text_addr = open_data_input(&dp, text, MessageKind::String, false, &mut events);
    let binary_addr = open_data_input(&dp, binary, MessageKind::Binary, false, &mut events);
    for v in [&near, &far] {
        watch(&dp, v, text, MessageKind::String, false);
        watch(&dp, v, binary, MessageKind::Binary, false);
    }
    watch(&dp, &blind, text, MessageKind::String, false);
    settle(&dp, &mut [&mut near, &mut far, &mut blind], &mut events);
    let near_stats = stats(&dp, ShardId(0), &mut [], &mut events);
    let far_stats = stats(&dp, ShardId(1), &mut [], &mut events);
    // The forwards gauge counts data forwards (viewer × input): near's two on shard 0, far's
    // two and blind's one on shard 1.
    assert_eq!(near_stats.forwards, 2, "data forwards on shard 0");
    assert_eq!(far_stats.forwards, 3, "data forwards on shard 1");
    let before = near_stats.counters;
    let before_far = far_stats.counters;

    let texts: Vec<Vec<u8>> = vec![
        b"caption one".to_vec(),
        "unicode \u{2713} \u{1f600}".as_bytes().to_vec(),
        b"{\"json\":true}".to_vec(),
    ];
    let blobs: Vec<Vec<u8>> = vec![
        vec![0x00, 0xff, 0x80, 0x7f, 0x00],
        (0..=255u8).collect(),
        vec![0xc3; 1200],
    ];
    let feeder = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for (t, b) in texts.iter().zip(&blobs) {
        feeder.send_to(t, text_addr).expect("feed text");
        feeder.send_to(b, binary_addr).expect("feed binary");
    }
    // Not UTF-8 on the text input; larger than any receive buffer on the binary one.
    feeder
        .send_to(&[0x66, 0xff, 0xfe, 0x66], text_addr)
        .expect("feed garbage");
    feeder
        .send_to(&vec![0x11; 4000], binary_addr)
        .expect("feed oversize");

    let ok = run_until(
        &dp,
        &mut [&mut near, &mut far, &mut blind],
        &mut events,
        Duration::from_secs(10),
        |cs, _| cs[..2].iter().all(|c| c.channel_data.len() >= 6),
    );
    assert!(
        ok,
        "both viewers get six messages: near {:?}, far {:?}",
        near.channel_data.len(),
        far.channel_data.len()
    );
    // A moment for anything unexpected (the garbage, the oversize) to show up too.
    run_until(
        &dp,
        &mut [&mut near, &mut far, &mut blind],
        &mut events,
        Duration::from_millis(300),
        |_, _| false,
    );
    for v in [&near, &far] {
        assert_eq!(of_kind(v, false), texts, "text, byte for byte, in order");
        assert_eq!(of_kind(v, true), blobs, "binary, byte for byte, in order");
        assert_eq!(v.channel_data.len(), 6, "nothing else arrives");
    }
    assert!(blind.channel_data.is_empty());

    let after = stats(&dp, ShardId(0), &mut [], &mut events).counters;
    let after_far = stats(&dp, ShardId(1), &mut [], &mut events).counters;
    assert_eq!(
        after.data_input_in - before.data_input_in,
        7,
        "six + garbage"
    );
    assert_eq!(
        after.drops(DropReason::Malformed) - before.drops(DropReason::Malformed),
        1,
        "the text that is not UTF-8"
    );
    assert!(
        after.drops(DropReason::Truncated) > before.drops(DropReason::Truncated),
        "the oversize datagram"
    );
    assert_eq!(after.data_out - before.data_out, 6, "to the near viewer");
    assert_eq!(
        after_far.data_out - before_far.data_out,
        6,
        "to the far one"
    );
    assert_eq!(
        after_far.drops(DropReason::ChannelNotOpen) - before_far.drops(DropReason::ChannelNotOpen),
        3,
        "the viewer without a channel"
    );
    assert!(after.xshard_out - before.xshard_out >= 6, "crossed shards");
    dp.stop();
}

fn buffermsg_replays_the_latest_message(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let mut events = Vec::new();
    let source = key(3);
    let addr = open_data_input(&dp, source, MessageKind::String, true, &mut events);
    let feeder = UdpSocket::bind("127.0.0.1:0").expect("bind");
    feeder.send_to(b"first", addr).expect("feed");
    feeder.send_to(b"latest", addr).expect("feed");
    let ok = run_until(
        &dp,
        &mut [],
        &mut events,
        Duration::from_secs(5),
        |_, evs| {
            evs.iter()
            .any(|e| matches!(e, ShardEvent::Media { peer, receiving: true, .. } if *peer == source.publisher))
        },
    );
    assert!(ok, "the input reports data arriving");
    settle(&dp, &mut [], &mut events);

    let now = Instant::now();
    let mut near = publisher_with(&dp, ShardId(0), 11, now, true);
    let mut far = publisher_with(&dp, ShardId(1), 12, now, true);
    // The far viewer subscribes before its channel exists: the message waits for it.
    watch(&dp, &far, source, MessageKind::String, true);
    connect_all(&dp, &mut [&mut near, &mut far], &mut events);
    let peers = [near.peer, far.peer];
    channels_open(&dp, &mut [&mut near, &mut far], &mut events, &peers);
    // The near one subscribes once its channel is open: the message goes at once.
    watch(&dp, &near, source, MessageKind::String, true);
    let ok = run_until(
        &dp,
        &mut [&mut near, &mut far],
        &mut events,
        Duration::from_secs(10),
        |cs, _| cs.iter().all(|c| !c.channel_data.is_empty()),
    );
    assert!(ok, "both viewers get the kept message");
    run_until(
        &dp,
        &mut [&mut near, &mut far],
        &mut events,
        Duration::from_millis(300),
        |_, _| false,
    );
    for v in [&near, &far] {
        assert_eq!(v.channel_data, vec![(false, b"latest".to_vec())], "once");
    }
    // Live messages follow the replay.
    feeder.send_to(b"live", addr).expect("feed");
    let ok = run_until(
        &dp,
        &mut [&mut near, &mut far],
        &mut events,
        Duration::from_secs(5),
        |cs, _| cs.iter().all(|c| c.channel_data.len() == 2),
    );
    assert!(ok, "live messages follow");
    assert_eq!(far.channel_data[1], (false, b"live".to_vec()));
    dp.stop();
}

#[test]
fn epoll_data_input_relays_text_and_binary_to_viewers_on_both_shards() {
    relays_text_and_binary_to_both_shards(BackendKind::Epoll);
}

#[test]
fn uring_data_input_relays_text_and_binary_to_viewers_on_both_shards() {
    relays_text_and_binary_to_both_shards(BackendKind::IoUring);
}

#[test]
fn epoll_buffermsg_gives_late_viewers_the_latest_message_once() {
    buffermsg_replays_the_latest_message(BackendKind::Epoll);
}

#[test]
fn uring_buffermsg_gives_late_viewers_the_latest_message_once() {
    buffermsg_replays_the_latest_message(BackendKind::IoUring);
}

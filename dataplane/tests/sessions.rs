//! End-to-end over loopback UDP with str0m as the browser: forwarding across shards,
//! keyframe relay, consent-freshness hangup, garbage resistance and batched commands.
//! Every scenario runs on both backends.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Client, connect_all, publisher, run_until, stats, subscribe, subscriber};
use portunus_dataplane::{BackendKind, DropReason, ShardCommand, ShardEvent, ShardId};
use portunus_peer::HangupReason;
use portunus_sctp::MessageKind;
use str0m::media::KeyframeRequestKind;

const FRAMES: u32 = 30;

/// Publishes `range` frames, one every 10 ms, driving every client meanwhile.
fn publish(
    dp: &portunus_dataplane::Dataplane,
    clients: &mut [&mut Client],
    events: &mut Vec<ShardEvent>,
    range: std::ops::Range<u32>,
) {
    for n in range {
        clients[0].write_frame(Instant::now(), n);
        run_until(dp, clients, events, Duration::from_millis(10), |_, _| false);
    }
}

/// The frames a subscriber got are whole, in order, consecutive, and their rewritten
/// sequence numbers run on without a gap.
fn assert_gap_free(sub: &Client, first: u32, last: u32) {
    let frames = &sub.frames;
    assert!(
        frames.len() as u32 >= last - first - 1,
        "{:?} got {} of {} frames",
        sub.peer,
        frames.len(),
        last - first
    );
    let number = |data: &[u8]| u32::from_be_bytes(data[10..14].try_into().expect("4 bytes"));
    let n0 = number(&frames[0].data);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(
            *f.data,
            *common::frame(n0 + i as u32),
            "frame {i} arrives whole, in order"
        );
        assert!(f.contiguous || i == 0, "frame {i} follows the previous one");
        if i > 0 {
            let prev_end = *frames[i - 1].seq_range.end();
            assert_eq!(
                *f.seq_range.start(),
                (*prev_end + 1).into(),
                "sequence numbers run on without a gap"
            );
        }
        assert_eq!(
            f.pt,
            sub.pt.into(),
            "payload type rewritten to the subscriber's"
        );
    }
}

fn forwarding_across_shards(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = publisher(&dp, ShardId(0), 1, now);
    let mut local = subscriber(&dp, ShardId(0), 2, now);
    let mut remote = subscriber(&dp, ShardId(1), 3, now);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ, &mut local, &mut remote], &mut events);
    let created = events
        .iter()
        .filter(|e| matches!(e, ShardEvent::PeerCreated { .. }))
        .count();
    assert_eq!(created, 3);
    subscribe(&dp, &publ, &local);
    subscribe(&dp, &publ, &remote);

    let mut clients = [&mut publ, &mut local, &mut remote];
    publish(&dp, &mut clients, &mut events, 0..FRAMES);
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(5),
        |cs, _| cs[1].frames.len() as u32 >= FRAMES - 1 && cs[2].frames.len() as u32 >= FRAMES - 1,
    );
    assert!(done, "both subscribers receive the frames");
    let [publ, local, remote] = clients;
    assert_gap_free(local, 0, FRAMES);
    assert_gap_free(remote, 0, FRAMES);
    assert!(
        events.iter().any(|e| matches!(e,
            ShardEvent::Media { peer, receiving: true, ssrc, mid: Some(_), substream: None }
                if *peer == publ.peer && *ssrc == publ.ssrc)),
        "media start reported for the publisher's stream"
    );

    // Keyframe requests from both shards reach the publisher as PLIs.
    for sub in [&mut *local, &mut *remote] {
        let mid = sub.mid;
        sub.rtc
            .writer(mid)
            .expect("writer")
            .request_keyframe(None, KeyframeRequestKind::Pli)
            .expect("str0m can ask for a keyframe");
    }
    let mut clients = [publ, local, remote];
    let relayed = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(5),
        |cs, _| cs[0].keyframe_requests >= 1,
    );
    assert!(relayed, "the publisher is asked for a keyframe");

    let s0 = stats(&dp, ShardId(0), &mut clients, &mut events);
    let s1 = stats(&dp, ShardId(1), &mut clients, &mut events);
    assert!(s0.counters.xshard_out >= u64::from(FRAMES), "{s0:?}");
    assert!(s1.counters.xshard_in >= u64::from(FRAMES), "{s1:?}");
    assert!(s0.counters.rtp_out >= u64::from(FRAMES) && s1.counters.rtp_out >= u64::from(FRAMES));
    assert!(s0.counters.pli_sent >= 1);
    assert_eq!(s0.counters.drops(DropReason::QueueFull), 0);
    eprintln!(
        "{backend:?}: shard 0 sends {} (GSO {} carrying {}) for {} datagrams",
        s0.counters.tx_sends,
        s0.counters.tx_gso_sends,
        s0.counters.tx_gso_datagrams,
        s0.counters.tx_datagrams
    );
    for c in [&s0.counters, &s1.counters] {
        // Every send carries at least one datagram and a GSO send at least two.
        assert!(c.tx_sends >= 1 && c.tx_sends <= c.tx_datagrams, "{c:?}");
        assert!(c.tx_gso_datagrams >= 2 * c.tx_gso_sends, "{c:?}");
        assert!(c.tx_gso_datagrams <= c.tx_datagrams, "{c:?}");
        assert!(
            c.tx_datagrams - c.tx_gso_datagrams == c.tx_sends - c.tx_gso_sends,
            "sends without GSO carry one datagram each: {c:?}"
        );
    }
    dp.stop();
}

#[test]
fn publisher_reaches_subscribers_on_both_shards_gap_free_epoll() {
    forwarding_across_shards(BackendKind::Epoll);
}

#[test]
fn publisher_reaches_subscribers_on_both_shards_gap_free_io_uring() {
    forwarding_across_shards(BackendKind::IoUring);
}

fn silent_peer_hangs_up(backend: BackendKind) {
    let dp = common::start(backend, 1, Duration::from_millis(800));
    let mut publ = publisher(&dp, ShardId(0), 7, Instant::now());
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ], &mut events);
    publ.silent = true;
    let started = Instant::now();
    let hung_up = run_until(
        &dp,
        &mut [&mut publ],
        &mut events,
        Duration::from_secs(8),
        |_, evs| evs.iter().any(|e| matches!(e, ShardEvent::Hangup { .. })),
    );
    assert!(hung_up, "a silent peer hangs up; events: {events:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "not before consent expires"
    );
    let reason = events.iter().find_map(|e| match e {
        ShardEvent::Hangup { peer, reason } if *peer == publ.peer => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, Some(HangupReason::IceFailed));
    let s = stats(&dp, ShardId(0), &mut [&mut publ], &mut events);
    assert_eq!(s.peers, 0, "the PeerConnection is gone from the shard");
    dp.stop();
}

#[test]
fn consent_timeout_ends_a_silent_peer_with_hangup_epoll() {
    silent_peer_hangs_up(BackendKind::Epoll);
}

#[test]
fn consent_timeout_ends_a_silent_peer_with_hangup_io_uring() {
    silent_peer_hangs_up(BackendKind::IoUring);
}

fn garbage_is_counted(backend: BackendKind) {
    let dp = common::start(backend, 1, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = publisher(&dp, ShardId(0), 4, now);
    let mut sub = subscriber(&dp, ShardId(0), 5, now);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ, &mut sub], &mut events);
    subscribe(&dp, &publ, &sub);
    let mut clients = [&mut publ, &mut sub];
    publish(&dp, &mut clients, &mut events, 0..10);
    let before = stats(&dp, ShardId(0), &mut clients, &mut events).counters;

    // From the publisher's own 5-tuple: unknown first bytes and forged SRTP; from a
    // stranger: anything.
    let server = clients[0].server;
    let stranger = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for i in 0..100u8 {
        let mut junk = [i; 60];
        junk[0] = 0xff;
        clients[0].sock.send_to(&junk, server).expect("send");
        junk[0] = 0x80;
        junk[1] = 96;
        clients[0].sock.send_to(&junk, server).expect("send");
        stranger.send_to(&junk, server).expect("send");
    }
    publish(&dp, &mut clients, &mut events, 10..FRAMES);
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(5),
        |cs, _| cs[1].frames.len() as u32 >= FRAMES - 1,
    );
    assert!(done, "the session carries on through the garbage");
    assert_gap_free(clients[1], 0, FRAMES);
    let s = stats(&dp, ShardId(0), &mut clients, &mut events);
    let c = &s.counters;
    let delta = |r: DropReason| c.drops(r) - before.drops(r);
    assert_eq!(delta(DropReason::UnknownPacket), 100, "{c:?}");
    assert_eq!(delta(DropReason::SrtpAuth), 100, "{c:?}");
    assert_eq!(delta(DropReason::NoRoute), 100, "{c:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ShardEvent::Hangup { .. })),
        "nobody hung up"
    );
    dp.stop();
}

#[test]
fn garbage_datagrams_are_counted_as_drops_and_the_session_continues_epoll() {
    garbage_is_counted(BackendKind::Epoll);
}

#[test]
fn garbage_datagrams_are_counted_as_drops_and_the_session_continues_io_uring() {
    garbage_is_counted(BackendKind::IoUring);
}

fn nack_recovers_loss(backend: BackendKind) {
    let dp = common::start(backend, 1, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = publisher(&dp, ShardId(0), 8, now);
    let mut sub = subscriber(&dp, ShardId(0), 9, now);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ, &mut sub], &mut events);
    subscribe(&dp, &publ, &sub);
    // 5 % loss on the way to the subscriber.
    sub.drop_every = 20;
    let mut clients = [&mut publ, &mut sub];
    publish(&dp, &mut clients, &mut events, 0..FRAMES);
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(5),
        |cs, _| cs[1].frames.len() as u32 >= FRAMES - 1,
    );
    assert!(done, "the subscriber gets its frames despite the loss");
    assert!(clients[1].rtp_dropped >= 3, "the loss happened");
    assert_gap_free(clients[1], 0, FRAMES);
    let s = stats(&dp, ShardId(0), &mut clients, &mut events);
    assert!(s.counters.nack_in >= 1, "{s:?}");
    assert!(s.counters.retransmitted >= 3, "{s:?}");
    dp.stop();
}

#[test]
fn nacks_are_answered_from_the_history_under_5_percent_loss_epoll() {
    nack_recovers_loss(BackendKind::Epoll);
}

#[test]
fn nacks_are_answered_from_the_history_under_5_percent_loss_io_uring() {
    nack_recovers_loss(BackendKind::IoUring);
}

fn data_channel_round_trip(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let mut client = common::publisher_with(&dp, ShardId(1), 11, Instant::now(), true);
    client.greeting = Some("hello from str0m".into());
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut client], &mut events);
    let got = run_until(
        &dp,
        &mut [&mut client],
        &mut events,
        Duration::from_secs(5),
        |_, evs| {
            evs.iter()
                .any(|e| matches!(e, ShardEvent::DataChannelMessage { .. }))
        },
    );
    assert!(got, "the greeting arrives; events: {events:?}");
    let opened = events.iter().find_map(|e| match e {
        ShardEvent::DataChannelOpen {
            peer,
            channel,
            label,
            ..
        } if *peer == client.peer => Some((*channel, label.clone())),
        _ => None,
    });
    let (channel, label) = opened.expect("the channel open is reported");
    assert_eq!(label, "chat");
    let (kind, data) = events
        .iter()
        .find_map(|e| match e {
            ShardEvent::DataChannelMessage {
                channel: c,
                kind,
                data,
                ..
            } if *c == channel => Some((*kind, data.clone())),
            _ => None,
        })
        .expect("message on the opened channel");
    assert_eq!(kind, MessageKind::String);
    assert_eq!(data, b"hello from str0m");
    common::send(
        &dp,
        ShardId(1),
        ShardCommand::SendData {
            peer: client.peer,
            channel,
            kind: MessageKind::String,
            data: b"hello from the dataplane".to_vec(),
        },
    );
    let back = run_until(
        &dp,
        &mut [&mut client],
        &mut events,
        Duration::from_secs(5),
        |cs, _| !cs[0].messages.is_empty(),
    );
    assert!(back, "SendData reaches the browser");
    assert_eq!(client.messages, ["hello from the dataplane"]);
    dp.stop();
}

#[test]
fn data_channel_messages_cross_both_ways_epoll() {
    data_channel_round_trip(BackendKind::Epoll);
}

#[test]
fn data_channel_messages_cross_both_ways_io_uring() {
    data_channel_round_trip(BackendKind::IoUring);
}

/// `send_all` queues a batch behind one wake-up and every command of it is carried out;
/// commands for a shard that does not exist are refused and counted.
fn batch_of_commands(backend: BackendKind) {
    let dp = common::start(backend, 1, Duration::from_secs(30));
    let refused = dp.send_all(ShardId(0), (0..3).map(|_| ShardCommand::GetStats));
    assert_eq!(refused, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut answers = 0;
    while answers < 3 && Instant::now() < deadline {
        match dp.recv_timeout(Duration::from_millis(100)) {
            Some(ShardEvent::Stats(s)) if s.shard == ShardId(0) => answers += 1,
            _ => {}
        }
    }
    assert_eq!(answers, 3, "each command of the batch is answered");
    assert_eq!(
        dp.send_all(ShardId(9), (0..2).map(|_| ShardCommand::GetStats)),
        2
    );
    dp.stop();
}

#[test]
fn a_batch_of_commands_is_carried_out_whole_epoll() {
    batch_of_commands(BackendKind::Epoll);
}

#[test]
fn a_batch_of_commands_is_carried_out_whole_io_uring() {
    batch_of_commands(BackendKind::IoUring);
}

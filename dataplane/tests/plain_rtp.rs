//! Plain-RTP endpoints over loopback, both backends: an RTP input (a Streaming mountpoint's
//! port) fed by a plain UDP socket reaches str0m WebRTC subscribers on both shards gap-free
//! across a source restart, late viewers start on the kept keyframe, an SRTP input is
//! decrypted, closing an input frees its port; RTP outputs (`rtp_forward`) copy a str0m
//! publisher's stream to plain UDP sockets, in clear and SRTP-protected.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{Client, connect_all, publisher, run_until, send, subscriber};
use portunus_dataplane::{
    BackendKind, Dataplane, DropReason, MediaKind, PeerId, ReplyTo, RtpInput, RtpOutput,
    RtpOutputId, ShardCommand, ShardEvent, ShardId, SrtpKey, StreamKey, Subscription, VideoCodec,
};
use portunus_rtp::{ExtIdMap, RtpPacket};
use portunus_srtp::{SrtpContext, SrtpProfile};

const INPUT_PT: u8 = 96;

fn key_material() -> Vec<u8> {
    (0..30u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect()
}

fn srtp_key() -> SrtpKey {
    SrtpKey {
        profile: SrtpProfile::Aes128CmHmacSha1_80,
        key_and_salt: key_material(),
    }
}

fn srtp_context() -> SrtpContext {
    let k = key_material();
    SrtpContext::new(SrtpProfile::Aes128CmHmacSha1_80, &k[..16], &k[16..]).expect("context")
}

/// One RTP packet carrying all of VP8 frame `n` (marker set): a VP8 descriptor (S=1), then
/// a payload header whose P bit says keyframe or not, then the frame number.
fn vp8_rtp(ssrc: u32, seq: u16, ts: u32, n: u32, key: bool) -> Vec<u8> {
    let mut p = vec![0x80, 0x80 | INPUT_PT];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.push(0x10);
    p.extend_from_slice(&[if key { 0x10 } else { 0x11 }, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
    p.extend_from_slice(&n.to_be_bytes());
    p.resize(300, 0x42);
    p
}

/// The frame number a subscriber received in a frame (after the VP8 payload header).
fn frame_number(data: &[u8]) -> u32 {
    u32::from_be_bytes([data[6], data[7], data[8], data[9]])
}

/// A plain RTP sender: its own numbering, restartable.
struct Sender {
    sock: UdpSocket,
    to: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
    srtp: Option<SrtpContext>,
}

impl Sender {
    fn new(to: SocketAddr, srtp: Option<SrtpContext>) -> Self {
        Self {
            sock: UdpSocket::bind("127.0.0.1:0").expect("bind"),
            to,
            ssrc: 0x1234_5678,
            seq: 65_530,
            ts: 1_000,
            srtp,
        }
    }

    fn frame(&mut self, n: u32, key: bool) {
        let mut p = vp8_rtp(self.ssrc, self.seq, self.ts, n, key);
        if let Some(srtp) = self.srtp.as_mut() {
            let len = p.len();
            p.resize(len + srtp.rtp_overhead(), 0);
            let len = srtp.protect_rtp(&mut p, len).expect("protect");
            p.truncate(len);
        }
        self.sock.send_to(&p, self.to).expect("send");
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(3000);
    }

    /// The source restarts: another SSRC, numbering from elsewhere.
    fn restart(&mut self) {
        self.ssrc ^= 0xffff;
        self.seq = 20_000;
        self.ts = 777_000_000;
    }
}

fn open_input(
    dp: &Dataplane,
    shard: ShardId,
    source: StreamKey,
    srtp: Option<SrtpKey>,
    events: &mut Vec<ShardEvent>,
) -> SocketAddr {
    let input = RtpInput {
        reply: ReplyTo(source.ssrc.into()),
        source,
        mid: "v".into(),
        kind: MediaKind::Video,
        codec: Some(VideoCodec::Vp8),
        clock_rate: 90_000,
        bind: "127.0.0.1".parse().expect("ip"),
        ports: vec![0],
        buffer_keyframe: true,
        srtp,
    };
    send(dp, shard, ShardCommand::OpenRtpInput(Box::new(input)));
    let mut addr = None;
    let ok = run_until(dp, &mut [], events, Duration::from_secs(5), |_, evs| {
        addr = evs.iter().find_map(|e| match e {
            ShardEvent::RtpInputOpened {
                source: s,
                local_addrs,
                shard: sh,
                ..
            } if *s == source && *sh == shard => local_addrs.first().copied(),
            _ => None,
        });
        addr.is_some()
    });
    assert!(ok, "the input opens: {events:?}");
    addr.expect("address")
}

fn view(dp: &Dataplane, source: StreamKey, source_shard: ShardId, sub: &Client) {
    let s = Subscription {
        subscriber: sub.peer,
        source,
        source_shard,
        ssrc: sub.ssrc,
        rtx: None,
        payload_types: vec![(INPUT_PT, sub.pt)],
        extensions: ExtIdMap::new(),
        clock_rate: 90_000,
        kind: MediaKind::Video,
        codec: Some(VideoCodec::Vp8),
        simulcast: None,
    };
    dp.add_forward(sub.shard, s).expect("queue has room");
}

/// Sends frames `range` (a keyframe every 10th, and the first), driving everyone 15 ms
/// after each.
fn feed(
    dp: &Dataplane,
    tx: &mut Sender,
    clients: &mut [&mut Client],
    events: &mut Vec<ShardEvent>,
    range: std::ops::Range<u32>,
) {
    for n in range {
        tx.frame(n, n % 10 == 0);
        run_until(dp, clients, events, Duration::from_millis(15), |_, _| false);
    }
}

/// The frame numbers a subscriber got, asserting its sequence numbers ran without a gap.
fn received(c: &Client) -> Vec<u32> {
    for w in c.frames.windows(2) {
        let (a, b) = (&w[0].seq_range, &w[1].seq_range);
        assert_eq!(**a.end() + 1, **b.start(), "gap-free sequence numbers");
    }
    c.frames.iter().map(|f| frame_number(&f.data)).collect()
}

fn input_to_webrtc_viewers(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let source = StreamKey {
        publisher: PeerId::input(7),
        ssrc: 1,
    };
    let mut events = Vec::new();
    let addr = open_input(&dp, ShardId(0), source, None, &mut events);
    let mut early = subscriber(&dp, ShardId(1), 3, now);
    let mut late0 = subscriber(&dp, ShardId(0), 4, now);
    let mut late1 = subscriber(&dp, ShardId(1), 5, now);
    connect_all(&dp, &mut [&mut early, &mut late0, &mut late1], &mut events);
    view(&dp, source, ShardId(0), &early);
    run_until(
        &dp,
        &mut [],
        &mut events,
        Duration::from_millis(50),
        |_, _| false,
    );
    let mut tx = Sender::new(addr, None);
    let mut clients = [&mut early, &mut late0, &mut late1];
    // Frames 0..25 with a source restart at 15; late viewers join after frame 24 and
    // start on the kept keyframe 20.
    feed(&dp, &mut tx, &mut clients, &mut events, 0..15);
    tx.restart();
    feed(&dp, &mut tx, &mut clients, &mut events, 15..25);
    view(&dp, source, ShardId(0), clients[1]);
    view(&dp, source, ShardId(0), clients[2]);
    run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_millis(100),
        |_, _| false,
    );
    feed(&dp, &mut tx, &mut clients, &mut events, 25..35);
    let want = |r: std::ops::Range<u32>| r.collect::<Vec<u32>>();
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(3),
        |cs, _| {
            cs.iter()
                .all(|c| c.frames.last().is_some_and(|f| frame_number(&f.data) == 34))
        },
    );
    assert!(done, "every viewer gets the last frame");
    assert_eq!(
        received(clients[0]),
        want(0..35),
        "early viewer: all, no dup"
    );
    assert_eq!(received(clients[1]), want(20..35), "same-shard late viewer");
    assert_eq!(
        received(clients[2]),
        want(20..35),
        "other-shard late viewer"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        ShardEvent::Media { peer, receiving: true, mid: Some(m), .. } if *peer == source.publisher && m == "v"
    )));
    let st = common::stats(&dp, ShardId(0), &mut clients, &mut events);
    assert_eq!(st.counters.rtp_input_in, 35);
    assert!(
        st.counters.replayed >= 2 * 5,
        "frames 20..25 replayed to both"
    );

    // Closing stops the media and frees the port.
    send(&dp, ShardId(0), ShardCommand::CloseRtpInput { source });
    let stopped = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(2),
        |_, evs| {
            evs.iter().any(|e| {
            matches!(e, ShardEvent::Media { peer, receiving: false, .. } if *peer == source.publisher)
        })
        },
    );
    assert!(stopped, "media stop reported on close");
    let mut rebound = None;
    for _ in 0..100 {
        if let Ok(s) = UdpSocket::bind(addr) {
            rebound = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(rebound.is_some(), "the port is free again");
    drop(rebound);
    let before = clients[0].frames.len();
    feed(&dp, &mut tx, &mut clients, &mut events, 35..40);
    assert_eq!(clients[0].frames.len(), before, "nothing flows after close");
    dp.stop();
}

fn srtp_input_and_rtp_outputs(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let source = StreamKey {
        publisher: PeerId::input(8),
        ssrc: 2,
    };
    let mut events = Vec::new();
    let addr = open_input(&dp, ShardId(1), source, Some(srtp_key()), &mut events);
    let mut viewer = subscriber(&dp, ShardId(0), 6, now);
    let mut publ = publisher(&dp, ShardId(0), 7, now);
    connect_all(&dp, &mut [&mut viewer, &mut publ], &mut events);
    view(&dp, source, ShardId(1), &viewer);

    // Outputs of the str0m publisher's stream, on its shard: clear and SRTP.
    let plain_rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let srtp_rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for s in [&plain_rx, &srtp_rx] {
        s.set_nonblocking(true).expect("nonblocking");
    }
    let stream = StreamKey {
        publisher: publ.peer,
        ssrc: publ.ssrc,
    };
    for (id, rx, srtp) in [(1, &plain_rx, None), (2, &srtp_rx, Some(srtp_key()))] {
        let out = RtpOutput {
            id: RtpOutputId(id),
            source: stream,
            substream: 0,
            destination: rx.local_addr().expect("addr"),
            ssrc: 0xabc0 + id as u32,
            payload_type: Some(100),
            clock_rate: 90_000,
            srtp,
        };
        send(&dp, ShardId(0), ShardCommand::AddRtpOutput(Box::new(out)));
    }
    // Let the shards install forwards and outputs before media flows.
    run_until(
        &dp,
        &mut [],
        &mut events,
        Duration::from_millis(50),
        |_, _| false,
    );

    let mut tx = Sender::new(addr, Some(srtp_context()));
    let mut clients = [&mut viewer, &mut publ];
    for n in 0..20 {
        tx.frame(n, n % 10 == 0);
        clients[1].write_frame(Instant::now(), n);
        run_until(
            &dp,
            &mut clients,
            &mut events,
            Duration::from_millis(15),
            |_, _| false,
        );
    }
    // A packet under another key is refused.
    let mut forged = Sender::new(addr, {
        let k = [9u8; 30];
        Some(SrtpContext::new(SrtpProfile::Aes128CmHmacSha1_80, &k[..16], &k[16..]).expect("ctx"))
    });
    forged.seq = tx.seq; // fresh: not a replay, only the key is wrong
    forged.frame(99, true);
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(3),
        |cs, _| {
            cs[0]
                .frames
                .last()
                .is_some_and(|f| frame_number(&f.data) == 19)
        },
    );
    assert!(done, "the SRTP input's frames arrive");
    assert_eq!(received(clients[0]), (0..20).collect::<Vec<_>>());
    let st = common::stats(&dp, ShardId(1), &mut clients, &mut events);
    assert_eq!(
        st.counters.drops(DropReason::SrtpAuth),
        1,
        "the forged packet"
    );

    // The outputs' packets: plain ones as is, SRTP ones after unprotect.
    let mut srtp_in = srtp_context();
    let check = |rx: &UdpSocket, ssrc: u32, mut unprotect: Option<&mut SrtpContext>| {
        let mut buf = [0u8; 2048];
        let mut seqs = Vec::new();
        while let Ok(n) = rx.recv(&mut buf) {
            let n = match unprotect.as_mut() {
                Some(ctx) => ctx.unprotect_rtp(&mut buf[..n]).expect("decrypts"),
                None => n,
            };
            let p = RtpPacket::parse(&buf[..n]).expect("rtp");
            assert_eq!((p.ssrc().0, p.payload_type()), (ssrc, 100));
            seqs.push(p.sequence_number());
        }
        assert!(
            seqs.len() >= 20,
            "every frame (several packets each): {}",
            seqs.len()
        );
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1), "in order, no gap");
        }
        seqs.len() as u64
    };
    let plain_n = check(&plain_rx, 0xabc1, None);
    let srtp_n = check(&srtp_rx, 0xabc2, Some(&mut srtp_in));
    assert_eq!(plain_n, srtp_n);
    send(
        &dp,
        ShardId(0),
        ShardCommand::RemoveRtpOutput { id: RtpOutputId(1) },
    );
    let mut stopped = None;
    run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(2),
        |_, evs| {
            stopped = evs.iter().find_map(|e| match e {
                ShardEvent::RtpOutputStopped { id, packets, .. } if *id == RtpOutputId(1) => {
                    Some(*packets)
                }
                _ => None,
            });
            stopped.is_some()
        },
    );
    assert_eq!(stopped, Some(plain_n), "counted what it sent");
    clients[1].write_frame(Instant::now(), 20);
    run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_millis(100),
        |_, _| false,
    );
    let mut buf = [0u8; 2048];
    assert!(
        plain_rx.recv(&mut buf).is_err(),
        "a stopped output sends nothing"
    );
    assert!(srtp_rx.recv(&mut buf).is_ok(), "the other one goes on");
    dp.stop();
}

/// Three ports are substreams 0–2: a simulcast viewer gets the one it selects.
fn simulcast_input(backend: BackendKind) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let source = StreamKey {
        publisher: PeerId::input(9),
        ssrc: 3,
    };
    let mut events = Vec::new();
    let input = RtpInput {
        reply: ReplyTo(9),
        source,
        mid: "sim".into(),
        kind: MediaKind::Video,
        codec: Some(VideoCodec::Vp8),
        clock_rate: 90_000,
        bind: "127.0.0.1".parse().expect("ip"),
        ports: vec![0, 0, 0],
        buffer_keyframe: false,
        srtp: None,
    };
    send(&dp, ShardId(0), ShardCommand::OpenRtpInput(Box::new(input)));
    let mut addrs = Vec::new();
    run_until(
        &dp,
        &mut [],
        &mut events,
        Duration::from_secs(5),
        |_, evs| {
            if let Some(ShardEvent::RtpInputOpened { local_addrs, .. }) = evs
                .iter()
                .find(|e| matches!(e, ShardEvent::RtpInputOpened { .. }))
            {
                addrs.clone_from(local_addrs);
            }
            !addrs.is_empty()
        },
    );
    assert_eq!(addrs.len(), 3, "one address per substream");
    let mut viewer = subscriber(&dp, ShardId(1), 8, now);
    connect_all(&dp, &mut [&mut viewer], &mut events);
    let s = Subscription {
        subscriber: viewer.peer,
        source,
        source_shard: ShardId(0),
        ssrc: viewer.ssrc,
        rtx: None,
        payload_types: vec![(INPUT_PT, viewer.pt)],
        extensions: ExtIdMap::new(),
        clock_rate: 90_000,
        kind: MediaKind::Video,
        codec: Some(VideoCodec::Vp8),
        simulcast: Some(portunus_dataplane::LayerPrefs {
            substream: 1,
            ..Default::default()
        }),
    };
    dp.add_forward(viewer.shard, s).expect("queue has room");
    run_until(
        &dp,
        &mut [],
        &mut events,
        Duration::from_millis(50),
        |_, _| false,
    );
    let mut txs: Vec<Sender> = addrs.iter().map(|a| Sender::new(*a, None)).collect();
    let mut clients = [&mut viewer];
    for n in 0..15 {
        for (layer, tx) in txs.iter_mut().enumerate() {
            tx.ssrc = 0x100 + layer as u32;
            tx.frame(1000 * layer as u32 + n, n % 10 == 0);
        }
        run_until(
            &dp,
            &mut clients,
            &mut events,
            Duration::from_millis(15),
            |_, _| false,
        );
    }
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_secs(3),
        |cs, _| cs[0].frames.len() >= 15,
    );
    assert!(done, "frames arrive: {}", clients[0].frames.len());
    assert_eq!(received(clients[0]), (1000..1015).collect::<Vec<_>>());
    let subs: Vec<Option<u8>> = events
        .iter()
        .filter_map(|e| match e {
            ShardEvent::Media {
                receiving: true,
                substream,
                ..
            } => Some(*substream),
            _ => None,
        })
        .collect();
    assert_eq!(subs.len(), 3, "a media start per substream: {subs:?}");
    dp.stop();
}

#[test]
fn epoll_simulcast_input_ports_are_substreams() {
    simulcast_input(BackendKind::Epoll);
}

#[test]
fn uring_simulcast_input_ports_are_substreams() {
    simulcast_input(BackendKind::IoUring);
}

#[test]
fn epoll_rtp_input_reaches_webrtc_viewers_gap_free_and_late_ones_start_on_a_keyframe() {
    input_to_webrtc_viewers(BackendKind::Epoll);
}

#[test]
fn uring_rtp_input_reaches_webrtc_viewers_gap_free_and_late_ones_start_on_a_keyframe() {
    input_to_webrtc_viewers(BackendKind::IoUring);
}

#[test]
fn epoll_srtp_input_decrypts_and_rtp_outputs_copy_a_publisher() {
    srtp_input_and_rtp_outputs(BackendKind::Epoll);
}

#[test]
fn uring_srtp_input_decrypts_and_rtp_outputs_copy_a_publisher() {
    srtp_input_and_rtp_outputs(BackendKind::IoUring);
}

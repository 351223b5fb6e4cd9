//! The per-packet forwarding path without sockets, for `benches/forward.rs`. Not API.
//!
//! [`ForwardPath::forward`] runs what a shard runs for one publisher datagram, minus the
//! receive and send system calls: first-byte demux, 5-tuple route, SRTP unprotect (once),
//! stream route, then per subscriber the copy into a send slot, the rewrite and the SRTP
//! protect (the shard's own `forward_into`), and queueing.

use std::net::SocketAddr;
use std::time::Instant;

use portunus_rtp::codec::VideoCodec;
use portunus_rtp::{ExtIdMap, PacketKind, RtpPacket, classify};
use portunus_srtp::{DtlsSrtpKeys, SrtpContext, SrtpProfile};

use crate::counters::Counters;
use crate::forward::{Forwarding, Sub};
use crate::io::TxQueue;
use crate::msg::{MediaKind, PeerId, ShardId, StreamKey, Subscription};
use crate::router::Router;
use crate::shard::media::forward_into;

const PUBLISHER_SSRC: u32 = 0x1234_5678;

fn context(profile: SrtpProfile, salt_byte: u8) -> SrtpContext {
    let material = [salt_byte; 64];
    let len = profile.keying_material_len();
    let keys = DtlsSrtpKeys::split(profile, &material[..len]).expect("keying material");
    SrtpContext::new(profile, keys.client_key, keys.client_salt).expect("context")
}

/// A publisher: protects RTP packets the way a browser would.
#[derive(Debug)]
pub struct Publisher {
    tx: SrtpContext,
    seq: u16,
}

impl Publisher {
    /// A publisher whose packets [`ForwardPath`] (same profile) can unprotect.
    pub fn new(profile: SrtpProfile) -> Self {
        Self {
            tx: context(profile, 1),
            seq: 0,
        }
    }

    /// The next SRTP packet with `payload` bytes of VP8 payload (a descriptor with a 15-bit
    /// picture id, as browsers send, then filler), written into `out`.
    pub fn next(&mut self, payload: usize, out: &mut [u8]) -> usize {
        self.seq = self.seq.wrapping_add(1);
        let mut hdr = [0u8; 12];
        hdr[0] = 0x80;
        hdr[1] = 96;
        hdr[2..4].copy_from_slice(&self.seq.to_be_bytes());
        hdr[4..8].copy_from_slice(&(u32::from(self.seq) * 3000).to_be_bytes());
        hdr[8..12].copy_from_slice(&PUBLISHER_SSRC.to_be_bytes());
        out[..12].copy_from_slice(&hdr);
        out[12..12 + payload].fill(0x5a);
        // X=1, then I=1 with M=1: a 15-bit picture id (one per packet here).
        let pid = 0x8000 | (self.seq & 0x7fff);
        out[12..16].copy_from_slice(&[0x80, 0x80, (pid >> 8) as u8, pid as u8]);
        self.tx.protect_rtp(out, 12 + payload).expect("protect")
    }
}

/// One publisher stream fanned out to `n` subscribers on one shard.
pub struct ForwardPath {
    router: Router,
    rx: SrtpContext,
    fwd: Forwarding,
    subscribers: Vec<(SrtpContext, SocketAddr)>,
    tx: TxQueue,
    counters: Counters,
    source: StreamKey,
    publisher_addr: SocketAddr,
    now: Instant,
}

impl std::fmt::Debug for ForwardPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardPath")
            .field("subscribers", &self.subscribers.len())
            .finish_non_exhaustive()
    }
}

impl ForwardPath {
    /// A path with `n` subscribers using `profile`. Each packet's sends are grouped as the
    /// shard groups them (GSO on), then dropped: no system call happens.
    pub fn new(n: usize, profile: SrtpProfile) -> Self {
        let publisher_addr: SocketAddr = "192.0.2.1:40000".parse().expect("addr");
        let mut router = Router::default();
        router.learn(0, publisher_addr, 0);
        let source = StreamKey {
            publisher: PeerId(1),
            ssrc: PUBLISHER_SSRC,
        };
        let mut fwd = Forwarding::default();
        let mut ext = ExtIdMap::new();
        ext.set(3, 5).expect("id");
        let mut subscribers = Vec::with_capacity(n);
        for i in 0..n {
            let s = Subscription {
                subscriber: PeerId(100 + i as u64),
                source,
                source_shard: ShardId(0),
                ssrc: 0x1000 + i as u32,
                rtx: None,
                payload_types: vec![(96, 100)],
                extensions: ext.clone(),
                clock_rate: 90_000,
                kind: MediaKind::Video,
                codec: Some(VideoCodec::Vp8),
                simulcast: None,
            };
            let idx = fwd.add_local(Sub::new(&s, i, std::time::Duration::from_millis(500)));
            assert_eq!(idx, i);
            let dst = SocketAddr::from(([198, 51, 100, 1], 10_000 + i as u16));
            subscribers.push((context(profile, 2 + (i % 200) as u8), dst));
        }
        Self {
            router,
            rx: context(profile, 1),
            fwd,
            subscribers,
            tx: TxQueue::new(n.max(1), true),
            counters: Counters::default(),
            source,
            publisher_addr,
            now: Instant::now(),
        }
    }

    /// Runs the per-packet path for one received datagram; returns the packets queued
    /// (then discards them, as if sent).
    pub fn forward(&mut self, datagram: &mut [u8]) -> usize {
        if classify(datagram) != PacketKind::Rtp {
            return 0;
        }
        let Some(_slot) = self.router.route(0, self.publisher_addr, datagram) else {
            return 0;
        };
        let Ok(n) = self.rx.unprotect_rtp(datagram) else {
            return 0;
        };
        let plain = &datagram[..n];
        let Ok(view) = RtpPacket::parse(plain) else {
            return 0;
        };
        let key = StreamKey {
            publisher: self.source.publisher,
            ssrc: view.ssrc().0,
        };
        let Some(route) = self.fwd.routes.get_mut(&key) else {
            return 0;
        };
        let Some(info) = route.inspect(self.now, 0, plain) else {
            return 0;
        };
        for &idx in &route.local {
            let (Some(sub), Some((srtp, dst))) =
                (self.fwd.subs.get_mut(idx), self.subscribers.get_mut(idx))
            else {
                continue;
            };
            if sub.select(self.now, &info, &route.seen, false).verdict
                != crate::forward::Verdict::Forward
            {
                continue;
            }
            forward_into(
                self.now,
                sub,
                srtp,
                &mut self.tx,
                0,
                *dst,
                &mut self.counters,
                plain,
                info.vp8,
            );
        }
        let queued = self.subscribers.len().max(1) - self.tx.free();
        self.tx.plan();
        self.tx.clear();
        queued
    }
}

//! Two transports wired back to back in memory, in virtual time.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::fuzzing::{crc32c, set_checksum};
use crate::{
    ChannelId, MessageKind, Reliability, SctpConfig, SctpError, SctpEvent, SctpRole, SctpTransport,
};

/// A link between a client and a server transport. Packets cross instantly; time only moves
/// when both sides are idle, straight to the next timer.
struct Net {
    client: SctpTransport,
    server: SctpTransport,
    now: Instant,
    client_events: Vec<SctpEvent>,
    server_events: Vec<SctpEvent>,
    /// Every client-to-server packet as it went on the wire (after any rewrite).
    client_sent: Vec<Vec<u8>>,
    /// Applied to each client-to-server packet; returns whether it changed the packet.
    rewrite: Option<fn(&mut [u8]) -> bool>,
    /// Percentage of packets dropped in each direction, with its seeded generator.
    loss_percent: u64,
    rng: u64,
    dropped: usize,
    timeouts_fired: usize,
}

impl Net {
    fn new(client: SctpConfig, server: SctpConfig) -> Self {
        Self {
            client: SctpTransport::new(SctpRole::Client, client),
            server: SctpTransport::new(SctpRole::Server, server),
            now: base_instant(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_sent: Vec::new(),
            rewrite: None,
            loss_percent: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            dropped: 0,
            timeouts_fired: 0,
        }
    }

    /// Both sides connected, events cleared.
    fn connected() -> Self {
        Self::connected_with(SctpConfig::default(), SctpConfig::default())
    }

    fn connected_with(client: SctpConfig, server: SctpConfig) -> Self {
        let mut net = Self::new(client, server);
        net.client.connect(net.now).unwrap();
        assert!(net.run_until(Duration::from_secs(10), |n| {
            n.client_events.contains(&SctpEvent::Connected)
                && n.server_events.contains(&SctpEvent::Connected)
        }));
        net.client_events.clear();
        net.server_events.clear();
        net
    }

    fn lose(&mut self) -> bool {
        if self.loss_percent == 0 {
            return false;
        }
        // xorshift64: a fixed seed gives the same loss pattern every run.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let lost = self.rng % 100 < self.loss_percent;
        if lost {
            self.dropped += 1;
        }
        lost
    }

    /// Exchange packets until neither side has anything to send.
    fn flush(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            while let Some(mut packet) = self.client.poll_transmit_vec() {
                moved = true;
                if let Some(rewrite) = self.rewrite
                    && rewrite(&mut packet)
                {
                    set_checksum(&mut packet);
                }
                assert!(packet.len() <= MAX_PACKET, "{} byte packet", packet.len());
                self.client_sent.push(packet.clone());
                if !self.lose() {
                    accept(self.server.handle_packet(self.now, &packet));
                }
            }
            while let Some(packet) = self.server.poll_transmit_vec() {
                moved = true;
                assert!(packet.len() <= MAX_PACKET, "{} byte packet", packet.len());
                if !self.lose() {
                    accept(self.client.handle_packet(self.now, &packet));
                }
            }
            self.client_events
                .extend(std::iter::from_fn(|| self.client.poll_event()));
            self.server_events
                .extend(std::iter::from_fn(|| self.server.poll_event()));
            if !moved {
                return;
            }
        }
        panic!("packets never stopped flowing");
    }

    /// Run until `done` holds or `limit` of virtual time has passed.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = self.now + limit;
        loop {
            self.flush();
            if done(self) {
                return true;
            }
            let next = match (self.client.poll_timeout(), self.server.poll_timeout()) {
                (Some(a), Some(b)) => a.min(b),
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => return false,
            };
            if next > deadline {
                return false;
            }
            self.now = self.now.max(next);
            for side in [&mut self.client, &mut self.server] {
                if side.poll_timeout().is_some_and(|t| t <= self.now) {
                    side.handle_timeout(self.now);
                    self.timeouts_fired += 1;
                }
            }
        }
    }

    /// Let a few seconds of virtual time pass.
    fn settle(&mut self) {
        self.run_until(Duration::from_secs(5), |_| false);
    }

    /// Client opens a channel and waits for the ACK; events cleared.
    fn open_from_client(
        &mut self,
        label: &str,
        ordered: bool,
        reliability: Reliability,
    ) -> ChannelId {
        let id = self
            .client
            .open_channel(label, "", ordered, reliability)
            .unwrap();
        assert!(self.run_until(Duration::from_secs(10), |n| {
            n.client_events.contains(&SctpEvent::ChannelOpened { id })
        }));
        self.client_events.clear();
        self.server_events.clear();
        id
    }

    fn messages(events: &[SctpEvent], id: ChannelId) -> Vec<(MessageKind, Vec<u8>)> {
        events
            .iter()
            .filter_map(|e| match e {
                SctpEvent::Message { id: i, kind, data } if *i == id => Some((*kind, data.clone())),
                _ => None,
            })
            .collect()
    }
}

/// The default `SctpConfig::max_packet_size`, which every packet in these tests respects.
const MAX_PACKET: usize = 1200;

/// Packets the stack produced are never malformed; after shutdown they are merely late.
fn accept(result: Result<(), SctpError>) {
    match result {
        Ok(()) | Err(SctpError::Closed) => {}
        Err(e) => panic!("packet from the peer refused: {e}"),
    }
}

fn base_instant() -> Instant {
    #[allow(
        clippy::disallowed_methods,
        reason = "tests need one base instant; virtual time is stepped from it by hand"
    )]
    Instant::now()
}

/// The DATA chunks (RFC 9260 §3.3.1) of an SCTP packet as (offset, flags, stream, ppid, payload).
fn data_chunks(packet: &[u8]) -> Vec<(usize, u8, u16, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 12;
    while at + 4 <= packet.len() {
        let kind = packet[at];
        let flags = packet[at + 1];
        let len = usize::from(u16::from_be_bytes([packet[at + 2], packet[at + 3]]));
        if len < 4 || at + len > packet.len() {
            break;
        }
        if kind == 0 && len >= 16 {
            let stream = u16::from_be_bytes([packet[at + 8], packet[at + 9]]);
            let ppid = u32::from_be_bytes(packet[at + 12..at + 16].try_into().unwrap());
            out.push((at, flags, stream, ppid, packet[at + 16..at + len].to_vec()));
        }
        at += len.div_ceil(4) * 4;
    }
    out
}

#[test]
fn association_setup_reports_connected_on_both_sides() {
    let mut net = Net::new(SctpConfig::default(), SctpConfig::default());
    assert!(!net.client.is_established());
    net.client.connect(net.now).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.client.is_established() && n.server.is_established()
    }));
    assert_eq!(net.client_events, [SctpEvent::Connected]);
    assert_eq!(net.server_events, [SctpEvent::Connected]);
}

#[test]
fn association_setup_survives_lost_init() {
    let mut net = Net::new(SctpConfig::default(), SctpConfig::default());
    net.client.connect(net.now).unwrap();
    // The INIT goes nowhere; its retransmission (T1-init) must still connect.
    assert!(net.client.poll_transmit_vec().is_some());
    assert!(net.run_until(Duration::from_secs(30), |n| {
        n.client.is_established() && n.server.is_established()
    }));
}

#[test]
fn server_role_may_not_initiate() {
    let mut server = SctpTransport::new(SctpRole::Server, SctpConfig::default());
    assert!(matches!(
        server.connect(base_instant()),
        Err(SctpError::ApiMisuse(_))
    ));
    assert!(server.poll_transmit_vec().is_none());
}

#[test]
fn client_channel_gets_even_id_and_server_sees_label_and_protocol() {
    let mut net = Net::connected();
    let id = net
        .client
        .open_channel("chat", "json-rpc", true, Reliability::Reliable)
        .unwrap();
    assert_eq!(id, ChannelId(0));
    assert!(net.run_until(Duration::from_secs(5), |n| {
        n.client_events.contains(&SctpEvent::ChannelOpened { id })
    }));
    assert_eq!(
        net.server_events,
        [SctpEvent::ChannelOpen {
            id,
            label: "chat".into(),
            protocol: "json-rpc".into(),
            ordered: true,
            reliability: Reliability::Reliable,
            priority: 256,
        }]
    );
    let second = net
        .client
        .open_channel("b", "", true, Reliability::Reliable)
        .unwrap();
    assert_eq!(second, ChannelId(2));
}

#[test]
fn server_channel_gets_odd_id_and_is_acknowledged() {
    let mut net = Net::connected();
    let id = net
        .server
        .open_channel("from-server", "", false, Reliability::MaxRetransmits(3))
        .unwrap();
    assert_eq!(id, ChannelId(1));
    assert!(net.run_until(Duration::from_secs(5), |n| {
        n.server_events.contains(&SctpEvent::ChannelOpened { id })
    }));
    assert_eq!(
        net.client_events,
        [SctpEvent::ChannelOpen {
            id,
            label: "from-server".into(),
            protocol: String::new(),
            ordered: false,
            reliability: Reliability::MaxRetransmits(3),
            priority: 256,
        }]
    );
    assert_eq!(
        net.server
            .open_channel("x", "", true, Reliability::Reliable)
            .unwrap(),
        ChannelId(3)
    );
}

#[test]
fn channel_opened_before_association_goes_out_on_connect() {
    let mut net = Net::new(SctpConfig::default(), SctpConfig::default());
    let id = net
        .client
        .open_channel("early", "", true, Reliability::MaxLifetimeMs(500))
        .unwrap();
    assert!(matches!(
        net.client.send(id, MessageKind::String, b"too soon"),
        Err(SctpError::NotEstablished)
    ));
    net.client.connect(net.now).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.client_events.contains(&SctpEvent::ChannelOpened { id })
    }));
    assert_eq!(net.client_events[0], SctpEvent::Connected);
    assert!(net.server_events.iter().any(|e| matches!(
        e,
        SctpEvent::ChannelOpen { id: i, label, reliability: Reliability::MaxLifetimeMs(500), .. }
            if *i == id && label == "early"
    )));
}

#[test]
fn ordered_channel_carries_string_and_binary_both_ways_byte_for_byte() {
    let mut net = Net::connected();
    let id = net.open_from_client("data", true, Reliability::Reliable);
    let sent: Vec<(MessageKind, Vec<u8>)> = (0..50u8)
        .map(|i| {
            let kind = if i % 2 == 0 {
                MessageKind::String
            } else {
                MessageKind::Binary
            };
            let data: Vec<u8> = (0..usize::from(i) * 97).map(|j| (j as u8) ^ i).collect();
            (kind, data)
        })
        .collect();
    for (kind, data) in &sent {
        net.client.send(id, *kind, data).unwrap();
        net.server.send(id, *kind, data).unwrap();
    }
    net.settle();
    assert_eq!(Net::messages(&net.server_events, id), sent);
    assert_eq!(Net::messages(&net.client_events, id), sent);
}

#[test]
fn unordered_channel_delivers_every_message() {
    let mut net = Net::connected();
    let id = net.open_from_client("u", false, Reliability::Reliable);
    for i in 0..30u32 {
        net.client
            .send(id, MessageKind::Binary, &i.to_be_bytes())
            .unwrap();
    }
    net.settle();
    let mut got: Vec<u32> = Net::messages(&net.server_events, id)
        .into_iter()
        .map(|(_, d)| u32::from_be_bytes(d.try_into().unwrap()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..30).collect::<Vec<_>>());
}

#[test]
fn unordered_channel_sends_ordered_until_acknowledged() {
    let mut net = Net::connected();
    let id = net
        .client
        .open_channel("u", "", false, Reliability::Reliable)
        .unwrap();
    // Sent before the ACK can have arrived: RFC 8832 §6 wants it ordered.
    net.client.send(id, MessageKind::Binary, b"early").unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| {
        n.client_events.contains(&SctpEvent::ChannelOpened { id })
    }));
    net.client.send(id, MessageKind::Binary, b"later").unwrap();
    net.settle();
    let flags_of = |payload: &[u8]| {
        net.client_sent
            .iter()
            .flat_map(|p| data_chunks(p))
            .find(|c| c.4 == payload)
            .map(|c| c.1)
            .unwrap()
    };
    const UNORDERED: u8 = 0x04;
    assert_eq!(flags_of(b"early") & UNORDERED, 0);
    assert_eq!(flags_of(b"later") & UNORDERED, UNORDERED);
    assert_eq!(Net::messages(&net.server_events, id).len(), 2);
}

#[test]
fn empty_messages_arrive_empty_with_their_kind() {
    let mut net = Net::connected();
    let id = net.open_from_client("e", true, Reliability::Reliable);
    net.client.send(id, MessageKind::String, b"").unwrap();
    net.client.send(id, MessageKind::Binary, b"").unwrap();
    net.server.send(id, MessageKind::Binary, b"").unwrap();
    net.settle();
    assert_eq!(
        Net::messages(&net.server_events, id),
        [(MessageKind::String, vec![]), (MessageKind::Binary, vec![])]
    );
    assert_eq!(
        Net::messages(&net.client_events, id),
        [(MessageKind::Binary, vec![])]
    );
    // RFC 8831 §6.6: one zero byte with PPID 56 / 57.
    let ppids: Vec<(u32, Vec<u8>)> = net
        .client_sent
        .iter()
        .flat_map(|p| data_chunks(p))
        .filter(|c| c.3 == 56 || c.3 == 57)
        .map(|c| (c.3, c.4))
        .collect();
    assert_eq!(ppids, [(56, vec![0]), (57, vec![0])]);
}

#[test]
fn message_of_exactly_remote_max_size_is_delivered_and_one_byte_more_is_refused() {
    let mut net = Net::connected();
    let id = net.open_from_client("big", true, Reliability::Reliable);
    let max = net.client.max_message_size_remote();
    assert_eq!(max, 65536);
    let exact: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    net.client.send(id, MessageKind::Binary, &exact).unwrap();
    net.settle();
    assert_eq!(
        Net::messages(&net.server_events, id),
        [(MessageKind::Binary, exact.clone())]
    );

    let over = vec![7u8; max as usize + 1];
    let before = net.client_sent.len();
    assert!(matches!(
        net.client.send(id, MessageKind::Binary, &over),
        Err(SctpError::MessageTooLarge {
            size: 65537,
            max: 65536
        })
    ));
    net.settle();
    let data_after: usize = net.client_sent[before..]
        .iter()
        .map(|p| data_chunks(p).len())
        .sum();
    assert_eq!(data_after, 0, "nothing of the refused message went out");
    assert_eq!(Net::messages(&net.server_events, id).len(), 1);
}

#[test]
fn remote_max_message_size_from_sdp_is_enforced() {
    let client = SctpConfig {
        max_message_size_remote: 1000,
        ..SctpConfig::default()
    };
    let mut net = Net::connected_with(client, SctpConfig::default());
    let id = net.open_from_client("small", true, Reliability::Reliable);
    net.client
        .send(id, MessageKind::String, &[b'a'; 1000])
        .unwrap();
    assert!(matches!(
        net.client.send(id, MessageKind::String, &[b'a'; 1001]),
        Err(SctpError::MessageTooLarge {
            size: 1001,
            max: 1000
        })
    ));
    net.client.set_max_message_size_remote(2000);
    net.client
        .send(id, MessageKind::String, &[b'b'; 2000])
        .unwrap();
    net.settle();
    let sizes: Vec<usize> = Net::messages(&net.server_events, id)
        .iter()
        .map(|m| m.1.len())
        .collect();
    assert_eq!(sizes, [1000, 2000]);
}

#[test]
fn large_message_crosses_lossy_link_by_retransmission() {
    let mut net = Net::connected();
    let id = net.open_from_client("lossy", true, Reliability::Reliable);
    net.loss_percent = 10;
    let message: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    net.client.send(id, MessageKind::Binary, &message).unwrap();
    let fired_before = net.timeouts_fired;
    assert!(net.run_until(Duration::from_secs(600), |n| {
        !Net::messages(&n.server_events, id).is_empty()
    }));
    assert_eq!(
        Net::messages(&net.server_events, id),
        [(MessageKind::Binary, message)]
    );
    assert!(net.dropped > 0, "the seeded link dropped packets");
    assert!(net.timeouts_fired > fired_before, "timers drove recovery");
}

#[test]
fn channel_closed_by_client_is_reported_on_both_sides() {
    let mut net = Net::connected();
    let id = net.open_from_client("c", true, Reliability::Reliable);
    net.client
        .send(id, MessageKind::String, b"last words")
        .unwrap();
    net.client.close_channel(id).unwrap();
    assert!(matches!(
        net.client.send(id, MessageKind::String, b"x"),
        Err(SctpError::ChannelNotOpen(_))
    ));
    net.settle();
    assert!(net.client_events.contains(&SctpEvent::ChannelClosed { id }));
    assert_eq!(
        net.server_events,
        [
            SctpEvent::Message {
                id,
                kind: MessageKind::String,
                data: b"last words".to_vec()
            },
            SctpEvent::ChannelClosed { id },
        ]
    );
    assert!(matches!(
        net.server.send(id, MessageKind::String, b"x"),
        Err(SctpError::UnknownChannel(_))
    ));
    // Other channels keep working.
    let other = net.open_from_client("d", true, Reliability::Reliable);
    net.server.send(other, MessageKind::Binary, b"ok").unwrap();
    net.settle();
    assert_eq!(
        Net::messages(&net.client_events, other),
        [(MessageKind::Binary, b"ok".to_vec())]
    );
}

#[test]
fn channel_closed_by_server_is_reported_on_both_sides() {
    let mut net = Net::connected();
    let id = net.open_from_client("c", true, Reliability::Reliable);
    net.server.close_channel(id).unwrap();
    net.settle();
    assert_eq!(net.client_events, [SctpEvent::ChannelClosed { id }]);
    assert_eq!(net.server_events, [SctpEvent::ChannelClosed { id }]);
}

#[test]
fn closed_channel_id_is_reused_after_reset_completes() {
    let mut net = Net::connected();
    let id = net.open_from_client("c", true, Reliability::Reliable);
    net.client.close_channel(id).unwrap();
    net.settle();
    let again = net.open_from_client("c2", true, Reliability::Reliable);
    assert_eq!(again, ChannelId(2));
    // The allocator moves on; ids are reusable once it wraps, but not before the reset ends.
    net.server.send(again, MessageKind::String, b"hi").unwrap();
    net.settle();
    assert_eq!(Net::messages(&net.client_events, again).len(), 1);
}

#[test]
fn closing_a_queued_channel_drops_it_immediately() {
    let mut client = SctpTransport::new(SctpRole::Client, SctpConfig::default());
    let id = client
        .open_channel("never", "", true, Reliability::Reliable)
        .unwrap();
    client.close_channel(id).unwrap();
    assert_eq!(client.poll_event(), Some(SctpEvent::ChannelClosed { id }));
    assert!(matches!(
        client.close_channel(id),
        Err(SctpError::UnknownChannel(_))
    ));
}

#[test]
fn association_shutdown_reports_closed_on_both_sides() {
    let mut net = Net::connected();
    let id = net.open_from_client("c", true, Reliability::Reliable);
    net.client.close();
    net.settle();
    assert!(net.client_events.contains(&SctpEvent::Closed));
    assert!(net.server_events.contains(&SctpEvent::Closed));
    assert!(matches!(
        net.client.send(id, MessageKind::String, b"x"),
        Err(SctpError::Closed)
    ));
    assert!(matches!(
        net.server.handle_packet(net.now, &[0; 12]),
        Err(SctpError::Closed)
    ));
}

#[test]
fn sending_on_unknown_channel_is_an_error() {
    let mut net = Net::connected();
    assert!(matches!(
        net.client.send(ChannelId(8), MessageKind::Binary, b"x"),
        Err(SctpError::UnknownChannel(ChannelId(8)))
    ));
}

#[test]
fn truncated_packet_is_rejected() {
    let mut server = SctpTransport::new(SctpRole::Server, SctpConfig::default());
    assert!(matches!(
        server.handle_packet(base_instant(), &[0; 11]),
        Err(SctpError::Truncated)
    ));
}

#[test]
fn output_buffer_too_small_keeps_the_packet_queued() {
    let mut client = SctpTransport::new(SctpRole::Client, SctpConfig::default());
    client.connect(base_instant()).unwrap();
    let mut small = [0u8; 8];
    let Err(SctpError::BufferTooSmall { needed }) = client.poll_transmit(&mut small) else {
        panic!("an INIT does not fit 8 bytes");
    };
    let mut big = vec![0u8; 1500];
    assert_eq!(client.poll_transmit(&mut big).unwrap(), Some(needed));
    assert_eq!(big[12], 1, "the first chunk is an INIT");
}

/// Rewrites PPID 53/51 to the deprecated partial 54/52 for payloads starting with `P`.
fn mark_partials(packet: &mut [u8]) -> bool {
    let mut changed = false;
    for (at, _, _, ppid, payload) in data_chunks(packet) {
        if payload.first() == Some(&b'P') && (ppid == 51 || ppid == 53) {
            packet[at + 12..at + 16].copy_from_slice(&(ppid + 1).to_be_bytes());
            changed = true;
        }
    }
    changed
}

#[test]
fn legacy_partial_ppids_are_joined_with_the_final_piece() {
    let mut net = Net::connected();
    let id = net.open_from_client("legacy", true, Reliability::Reliable);
    net.rewrite = Some(mark_partials);
    for piece in [&b"P1-"[..], b"P2-", b"end"] {
        net.client.send(id, MessageKind::Binary, piece).unwrap();
    }
    for piece in [&b"Pa"[..], b"z"] {
        net.client.send(id, MessageKind::String, piece).unwrap();
    }
    net.settle();
    assert_eq!(
        Net::messages(&net.server_events, id),
        [
            (MessageKind::Binary, b"P1-P2-end".to_vec()),
            (MessageKind::String, b"Paz".to_vec()),
        ]
    );
}

/// Turns every DATA_CHANNEL_OPEN into one with the unassigned channel type 0x03.
fn corrupt_open(packet: &mut [u8]) -> bool {
    let mut changed = false;
    for (at, _, _, ppid, payload) in data_chunks(packet) {
        if ppid == 50 && payload.first() == Some(&0x03) {
            packet[at + 17] = 0x03;
            changed = true;
        }
    }
    changed
}

#[test]
fn unparseable_open_is_answered_with_a_stream_reset() {
    let mut net = Net::connected();
    net.rewrite = Some(corrupt_open);
    let id = net
        .client
        .open_channel("bad", "", true, Reliability::Reliable)
        .unwrap();
    net.settle();
    assert_eq!(net.client_events, [SctpEvent::ChannelClosed { id }]);
    assert!(net.server_events.is_empty());
}

#[test]
fn garbage_does_not_disturb_an_established_association() {
    let mut net = Net::connected();
    let id = net.open_from_client("g", true, Reliability::Reliable);
    let header: Vec<u8> = net.client_sent.last().unwrap()[..12].to_vec();
    let mut rng = 7u64;
    for n in 0..200usize {
        let mut junk: Vec<u8> = (0..n)
            .map(|_| {
                rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (rng >> 33) as u8
            })
            .collect();
        let _ = net.server.handle_packet(net.now, &junk);
        // Same bytes behind a valid header and checksum: reaches chunk parsing. Chunk types
        // that would legitimately end the association (ABORT, SHUTDOWN...) are avoided.
        if let Some(kind) = junk.first_mut() {
            *kind = [0x00, 0x03, 0x04, 0x05, 0x0a, 0x0b, 0x82][n % 7];
        }
        let mut packet = header.clone();
        packet.extend_from_slice(&junk);
        set_checksum(&mut packet);
        let _ = net.server.handle_packet(net.now, &packet);
    }
    net.client
        .send(id, MessageKind::String, b"still here")
        .unwrap();
    net.settle();
    assert!(net.server.is_established());
    assert!(
        Net::messages(&net.server_events, id)
            .contains(&(MessageKind::String, b"still here".to_vec()))
    );
}

#[test]
fn checksum_helper_matches_rfc3720_vectors_and_sctp_proto() {
    let json: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/test-vectors/crc32c-rfc3720.json"
    )))
    .unwrap();
    let vectors = json["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 5);
    for v in vectors {
        let data = hex::decode(v["data"].as_str().unwrap()).unwrap();
        let wire = hex::decode(v["crc_wire"].as_str().unwrap()).unwrap();
        assert_eq!(crc32c(&data).to_le_bytes().to_vec(), wire, "{}", v["name"]);
    }
    // A packet sctp-proto produced keeps its checksum when we recompute it.
    let mut client = SctpTransport::new(SctpRole::Client, SctpConfig::default());
    client.connect(base_instant()).unwrap();
    let init = client.poll_transmit_vec().unwrap();
    let mut again = init.clone();
    set_checksum(&mut again);
    assert_eq!(again, init);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fuzz_body_sctp_packet_accepts_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        crate::fuzzing::sctp_packet(&data);
    }

    #[test]
    fn fuzz_body_sctp_packet_accepts_chunk_shaped_bytes(
        kind in prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 0x82, 0xc0, 0xc1]),
        flags: u8,
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let len = u16::try_from(body.len() + 4).unwrap();
        let mut chunk = vec![kind, flags];
        chunk.extend_from_slice(&len.to_be_bytes());
        chunk.extend_from_slice(&body);
        crate::fuzzing::sctp_packet(&chunk);
    }
}

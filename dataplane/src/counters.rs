//! Per-shard counters: plain integers owned by the shard thread, published to the control
//! plane as [`ShardStats`] snapshots. Every dropped packet increments one [`DropReason`].

use crate::msg::ShardId;

/// Why a shard dropped a packet (or a message). Each has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// A datagram that matched no PeerConnection (neither ICE ufrag nor 5-tuple).
    NoRoute,
    /// A datagram that is neither STUN, DTLS, RTP nor RTCP (RFC 7983).
    UnknownPacket,
    /// SRTP/SRTCP authentication failed.
    SrtpAuth,
    /// SRTP/SRTCP replay (or too old for the replay window).
    Replay,
    /// Any other SRTP failure (truncated, too many streams …).
    SrtpOther,
    /// RTP/RTCP before DTLS completed.
    NotConnected,
    /// A STUN message ICE rejected.
    StunRejected,
    /// A DTLS record DTLS rejected.
    DtlsRejected,
    /// A datagram for a PeerConnection that already closed.
    PeerClosed,
    /// An RTP or RTCP packet that does not parse after decryption.
    Malformed,
    /// A packet for another shard found that shard's ring full.
    QueueFull,
    /// No free refcounted buffer for a packet going to other shards.
    PoolExhausted,
    /// A forward to a subscriber that is not connected yet (no SRTP keys or path).
    SubscriberNotReady,
    /// The shard's send queue was full.
    TxFull,
    /// The kernel refused a send.
    SendFailed,
    /// A datagram larger than a receive buffer.
    Truncated,
    /// An event for the control plane found its queue (and the shard's backlog) full.
    EventQueueFull,
    /// SRTP protection for a subscriber failed.
    ProtectFailed,
    /// A data input's message for a viewer whose data channel is not open (and whose
    /// subscription keeps no message for later).
    ChannelNotOpen,
    /// A viewer's SCTP refused a data input's message (over its max-message-size, or the
    /// association is gone).
    DataRejected,
    /// An RTX packet whose payload type was not negotiated as RTX, or whose original
    /// packet does not unwrap (RFC 4588).
    RtxUnusable,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 21] = [
        Self::NoRoute,
        Self::UnknownPacket,
        Self::SrtpAuth,
        Self::Replay,
        Self::SrtpOther,
        Self::NotConnected,
        Self::StunRejected,
        Self::DtlsRejected,
        Self::PeerClosed,
        Self::Malformed,
        Self::QueueFull,
        Self::PoolExhausted,
        Self::SubscriberNotReady,
        Self::TxFull,
        Self::SendFailed,
        Self::Truncated,
        Self::EventQueueFull,
        Self::ProtectFailed,
        Self::ChannelNotOpen,
        Self::DataRejected,
        Self::RtxUnusable,
    ];

    /// A stable snake_case name for metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoRoute => "no_route",
            Self::UnknownPacket => "unknown_packet",
            Self::SrtpAuth => "srtp_auth",
            Self::Replay => "replay",
            Self::SrtpOther => "srtp_other",
            Self::NotConnected => "not_connected",
            Self::StunRejected => "stun_rejected",
            Self::DtlsRejected => "dtls_rejected",
            Self::PeerClosed => "peer_closed",
            Self::Malformed => "malformed",
            Self::QueueFull => "queue_full",
            Self::PoolExhausted => "pool_exhausted",
            Self::SubscriberNotReady => "subscriber_not_ready",
            Self::TxFull => "tx_full",
            Self::SendFailed => "send_failed",
            Self::Truncated => "truncated",
            Self::EventQueueFull => "event_queue_full",
            Self::ProtectFailed => "protect_failed",
            Self::ChannelNotOpen => "channel_not_open",
            Self::DataRejected => "data_rejected",
            Self::RtxUnusable => "rtx_unusable",
        }
    }
}

/// A shard's counters. Monotonic since the shard started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams received.
    pub rx_datagrams: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Datagrams sent (each GSO segment counts).
    pub tx_datagrams: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Send system calls or SQEs (one per GSO batch).
    pub tx_sends: u64,
    /// Sends that carried more than one GSO segment.
    pub tx_gso_sends: u64,
    /// Datagrams (GSO segments) carried by those sends.
    pub tx_gso_datagrams: u64,
    /// ICE checks that named a PeerConnection not created yet, held for it (those that no
    /// PeerConnection claims in time are also counted as `no_route` drops).
    pub early_checks: u64,
    /// Held checks handed to their PeerConnection once it was created.
    pub early_checks_answered: u64,
    /// RTP packets decrypted from peers.
    pub rtp_in: u64,
    /// RTCP compound packets decrypted from peers.
    pub rtcp_in: u64,
    /// RTP packets protected for subscribers.
    pub rtp_out: u64,
    /// RTP packets that arrived for a stream nobody subscribes to (not a drop).
    pub rtp_unrouted: u64,
    /// Packets handed to other shards.
    pub xshard_out: u64,
    /// Packets received from other shards.
    pub xshard_in: u64,
    /// PLIs sent to publishers.
    pub pli_sent: u64,
    /// Keyframe requests suppressed by the rate limit.
    pub pli_suppressed: u64,
    /// NACKs received from subscribers.
    pub nack_in: u64,
    /// Packets retransmitted in answer to NACKs.
    pub retransmitted: u64,
    /// NACKed packets no longer in the history.
    pub nack_missed: u64,
    /// NACKs sent to publishers for gaps in their streams.
    pub nack_sent: u64,
    /// Lost packets recovered from publishers' RTX retransmissions.
    pub rtx_recovered: u64,
    /// RTX packets that carried no original packet: padding probes a sender's bandwidth
    /// estimation sends (consumed, not a drop).
    pub rtx_padding: u64,
    /// Receiver reports sent to publishers.
    pub rr_sent: u64,
    /// REMBs sent to publishers.
    pub remb_sent: u64,
    /// Transport-wide congestion control feedback packets sent to publishers.
    pub twcc_sent: u64,
    /// Sender-report compounds sent to subscribers.
    pub sr_sent: u64,
    /// Packets of a VP8 temporal layer above a subscriber's, deliberately not sent (not a
    /// drop).
    pub temporal_skipped: u64,
    /// Packets (and data messages) not sent to a paused subscription (not a drop).
    pub paused_skipped: u64,
    /// Simulcast substream or temporal-layer changes of subscriptions.
    pub layer_changes: u64,
    /// Datagrams received on RTP input sockets.
    pub rtp_input_in: u64,
    /// RTP packets sent by RTP outputs (`rtp_forward`).
    pub rtp_output_out: u64,
    /// Packets of RTP inputs' kept keyframes replayed to starting viewers.
    pub replayed: u64,
    /// Datagrams received on data inputs (each one message).
    pub data_input_in: u64,
    /// Data inputs' messages handed to viewers' data channels.
    pub data_out: u64,
    /// Commands executed.
    pub commands: u64,
    /// Events delivered to the control plane.
    pub events: u64,
    /// Loop iterations.
    pub iterations: u64,
    /// Iterations that ended with work left over (a budget ran out).
    pub stalls: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl Counters {
    /// Counts one dropped packet.
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drop_n(reason, 1);
    }

    /// Counts `n` dropped packets.
    #[inline]
    pub fn drop_n(&mut self, reason: DropReason, n: u64) {
        if let Some(c) = self.drops.get_mut(reason as usize) {
            *c += n;
        }
    }

    /// Packets dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops.get(reason as usize).copied().unwrap_or(0)
    }

    /// Packets dropped for any reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// A snapshot of one shard, sent as [`crate::ShardEvent::Stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStats {
    /// The shard.
    pub shard: ShardId,
    /// PeerConnections on the shard.
    pub peers: u32,
    /// Forwards on the shard: media (subscriber × stream) and data (viewer × data input).
    pub forwards: u32,
    /// The counters.
    pub counters: Counters,
}

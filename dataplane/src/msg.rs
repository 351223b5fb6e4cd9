//! The typed messages between the control thread and the shards (STYLE.md §6).
//!
//! Commands go ctrl → shard through one bounded queue per shard; events come back through one
//! bounded queue shared by all shards. Nothing here is a closure or a shared object: every
//! message is plain owned data.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use portunus_dtls::{DtlsRole, Fingerprint};
use portunus_ice::IceCredentials;
use portunus_peer::HangupReason;
use portunus_rtp::ExtIdMap;
use portunus_rtp::codec::VideoCodec;
use portunus_sctp::{ChannelId, MessageKind, SctpConfig};
use portunus_srtp::SrtpProfile;

use crate::counters::ShardStats;

/// Index of a shard, `0..Dataplane::shard_count()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub u16);

impl ShardId {
    /// The index as a `usize`.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The control plane's name for a PeerConnection (Janus uses the handle id). Unique across
/// all shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

impl PeerId {
    /// The top bit marks the synthetic publishers of RTP inputs ([`Self::input`]); the control
    /// plane's handle ids (53-bit) never set it.
    pub const INPUT_BIT: u64 = 1 << 63;

    /// The synthetic publisher of the RTP inputs of Streaming mountpoint `mountpoint`: its
    /// streams are `StreamKey { publisher: PeerId::input(mountpoint), ssrc: <key per mid> }`.
    pub const fn input(mountpoint: u64) -> Self {
        Self(mountpoint | Self::INPUT_BIT)
    }

    /// Whether this is an RTP input's synthetic publisher rather than a PeerConnection.
    pub const fn is_input(self) -> bool {
        self.0 & Self::INPUT_BIT != 0
    }
}

/// Correlates a command with the event that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyTo(pub u64);

/// One media stream a publisher sends: its publisher and its (media) SSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamKey {
    /// The PeerConnection the stream arrives on.
    pub publisher: PeerId,
    /// The SSRC the publisher sends it with.
    pub ssrc: u32,
}

/// Audio or video: decides the keyframe and history handling of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// Audio: no keyframes, no retransmission history.
    Audio,
    /// Video: keyframe requests are relayed and a retransmission history is kept.
    Video,
}

/// A stream the peer will send us, from its SDP (`a=ssrc`, `a=mid`, RTX `a=ssrc-group:FID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundStream {
    /// The media SSRC.
    pub ssrc: u32,
    /// The SSRC of its RTX repair stream, when one was negotiated.
    pub rtx_ssrc: Option<u32>,
    /// The m-line's mid, reported back in [`ShardEvent::Media`].
    pub mid: String,
    /// Audio or video.
    pub kind: MediaKind,
}

/// Most simulcast substreams of one publisher stream.
pub const MAX_SUBSTREAMS: usize = 3;

/// A simulcast video stream a publisher sends, from its SDP; see [`ShardCommand::SetSimulcast`].
///
/// Substream 0 is the lowest quality, 2 the highest (Janus's order). Layers are named either by
/// SSRC (`a=ssrc-group:SIM`: [`Self::ssrcs`]) or by rid (`a=rid` / `a=simulcast`:
/// [`Self::rids`] with the negotiated `rtp-stream-id` extension id); with rids the shard learns
/// each layer's SSRC from the first packet that names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimulcastInbound {
    /// The stream's name for forwarding: subscribers name it as
    /// `StreamKey { publisher, ssrc: key }` and receive whichever layer they select. Any
    /// value no other stream of this publisher uses as its key or SSRC; the SSRC of
    /// substream 0 when the SDP names one is a good choice.
    pub key: u32,
    /// The m-line's mid, reported in [`ShardEvent::Media`].
    pub mid: String,
    /// SSRC-based simulcast: the media SSRC of each substream (`peer_ssrcs` in
    /// `portunus-sdp`).
    pub ssrcs: [Option<u32>; MAX_SUBSTREAMS],
    /// The RTX SSRC of each substream, when negotiated.
    pub rtx_ssrcs: [Option<u32>; MAX_SUBSTREAMS],
    /// Rid-based simulcast: the rid of each substream (`simulcast_rids`).
    pub rids: [Option<String>; MAX_SUBSTREAMS],
    /// The negotiated id of `urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id`.
    pub rid_ext: Option<u8>,
    /// The negotiated id of `urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id`
    /// (names the layer an RTX packet repairs).
    pub repaired_rid_ext: Option<u8>,
    /// The negotiated id of `urn:ietf:params:rtp-hdrext:sdes:mid`: when set, a packet whose
    /// mid extension names another m-line is not taken for this stream's layer.
    pub mid_ext: Option<u8>,
}

/// A subscriber's simulcast layer preferences (VideoRoom/EchoTest `substream`, `temporal`,
/// `fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerPrefs {
    /// The wanted substream (0 lowest … 2 highest). When it is not arriving the highest
    /// lower one that is (or else the lowest higher one) is forwarded instead.
    pub substream: u8,
    /// The highest VP8 temporal layer to forward (0 … 2); ignored for codecs without one.
    pub temporal: u8,
    /// A substream silent this long counts as stopped (Janus's `fallback`, 250 ms).
    pub fallback: Duration,
}

impl Default for LayerPrefs {
    /// The highest substream and temporal layer, with Janus's 250 ms fallback.
    fn default() -> Self {
        Self {
            substream: 2,
            temporal: 2,
            fallback: Duration::from_millis(250),
        }
    }
}

/// RTCP behaviour towards one PeerConnection; see [`ShardCommand::ConfigureRtcp`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtcpConfig {
    /// The peer's RTX payload types `(rtx pt, original pt)` from `a=fmtp:<rtx> apt=<pt>`:
    /// its retransmissions are unwrapped (RFC 4588) and forwarded like the originals.
    pub rtx_payload_types: Vec<(u8, u8)>,
    /// Send NACKs for gaps in the peer's video streams (`a=rtcp-fb:* nack` negotiated).
    pub nack: bool,
    /// Cap of the REMB sent to the peer, in bit/s (VideoRoom/EchoTest `bitrate`); without
    /// one the REMB carries the lowest estimate of the subscribers, when there is one.
    pub bitrate_cap: Option<u64>,
    /// [`ShardEvent::SlowLink`] when more packets than this are lost per second in either
    /// direction (Janus's `slowlink_threshold`); 0 disables it.
    pub slowlink_threshold: u32,
    /// The peer's id of the transport-wide sequence number extension
    /// (`http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01`) when
    /// negotiated: the arrival of every number is then reported back in TWCC feedback
    /// every 50 ms, which a browser's send-side bandwidth estimate needs to rise.
    pub twcc_ext: Option<u8>,
    /// The peer's id of the RFC 6464 client-to-mixer audio level extension
    /// (`urn:ietf:params:rtp-hdrext:ssrc-audio-level`) when negotiated: the levels of its
    /// audio streams are summed and reported in [`ShardEvent::AudioLevel`] every 250 ms.
    pub audio_level_ext: Option<u8>,
}

/// Reception statistics of one stream a peer sends us.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboundStats {
    /// The SSRC.
    pub ssrc: u32,
    /// The m-line's mid, when known.
    pub mid: Option<String>,
    /// The simulcast substream, for a layer of a simulcast stream.
    pub substream: Option<u8>,
    /// Packets received (recovered retransmissions included).
    pub packets: u64,
    /// Bytes of RTP received (headers included).
    pub bytes: u64,
    /// Packets lost (expected minus received, RFC 3550 §A.3).
    pub lost: i64,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// NACKs we sent for it.
    pub nacks_sent: u64,
    /// Lost packets recovered by the peer's retransmissions.
    pub recovered: u64,
    /// PLIs we sent for it.
    pub plis_sent: u64,
}

/// Sending statistics of one stream we forward to a peer (a subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundStats {
    /// The subscriber-side SSRC.
    pub ssrc: u32,
    /// The stream it carries.
    pub source: StreamKey,
    /// Packets sent (retransmissions excluded).
    pub packets: u64,
    /// Payload bytes sent.
    pub bytes: u64,
    /// Retransmissions sent in answer to NACKs.
    pub retransmitted: u64,
    /// Packets the peer reports lost (its latest receiver report).
    pub lost: i32,
    /// The fraction lost of its latest report, in 1/256.
    pub fraction_lost: u8,
    /// The jitter of its latest report, in RTP timestamp units.
    pub jitter: u32,
    /// Round-trip time from its latest report on one of our sender reports.
    pub rtt: Option<Duration>,
    /// NACKs received for it.
    pub nacks: u64,
    /// PLIs and FIRs received for it.
    pub plis: u64,
    /// The peer's latest REMB estimate, in bit/s.
    pub remb: Option<u64>,
}

/// Statistics of one PeerConnection, for the Admin API's `handle_info`; see
/// [`ShardCommand::GetPeerStats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStats {
    /// The command's correlation id.
    pub reply: ReplyTo,
    /// The PeerConnection.
    pub peer: PeerId,
    /// Streams it sends us.
    pub inbound: Vec<InboundStats>,
    /// Streams we forward to it.
    pub outbound: Vec<OutboundStats>,
}

/// Everything a shard needs to create a PeerConnection; see [`ShardCommand::CreatePeer`].
#[derive(Debug, Clone)]
pub struct CreatePeer {
    /// The control plane's id for the PeerConnection.
    pub peer: PeerId,
    /// Echoed in [`ShardEvent::PeerCreated`] or [`ShardEvent::CommandFailed`].
    pub reply: ReplyTo,
    /// Our `a=ice-ufrag` / `a=ice-pwd`; the ufrag routes the peer's first checks to it, so
    /// it must be unique on the shard.
    pub local_credentials: IceCredentials,
    /// The peer's credentials, when its description is already known.
    pub remote_credentials: Option<IceCredentials>,
    /// Our DTLS role from the `a=setup` negotiation.
    pub dtls_role: DtlsRole,
    /// The peer's `a=fingerprint`.
    pub remote_fingerprint: Fingerprint,
    /// SCTP settings when data channels were negotiated.
    pub data_channels: Option<SctpConfig>,
    /// Streams the peer publishes (may be empty; unknown SSRCs are tracked as they come).
    pub inbound: Vec<InboundStream>,
}

/// An SRTP master key and salt for a plain-RTP endpoint (Janus's `srtpsuite` /
/// `srtpcrypto`, base64-decoded by the control plane).
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    /// The crypto suite: [`SrtpProfile::Aes128CmHmacSha1_80`] (Janus suite 80),
    /// [`SrtpProfile::Aes128CmHmacSha1_32`] (suite 32) or an AEAD profile.
    pub profile: SrtpProfile,
    /// The master key followed by the master salt (30 bytes for AES-CM-128).
    pub key_and_salt: Vec<u8>,
}

impl std::fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SrtpKey")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// A plain-RTP input (one stream of a Streaming mountpoint); see
/// [`ShardCommand::OpenRtpInput`].
///
/// The shard binds one UDP socket per port; what arrives becomes stream `source`, forwarded
/// like a publisher's: [`Subscription`]s and [`crate::Dataplane::add_forward`] with
/// `source_shard` = the shard the input was opened on serve viewers on any shard. Each port
/// is one simulcast substream (port 0 of [`Self::ports`] is substream 0). Sequence numbers
/// and timestamps leave the input continuous under SSRC `source.ssrc` whatever the sender
/// does (restarts, SSRC changes), so viewers see one unbroken stream. A plain RTP source
/// takes no keyframe requests: they are answered from the kept keyframe
/// ([`Self::buffer_keyframe`]) or not at all.
#[derive(Debug, Clone)]
pub struct RtpInput {
    /// Echoed in [`ShardEvent::RtpInputOpened`] or [`ShardEvent::CommandFailed`].
    pub reply: ReplyTo,
    /// The stream's name for forwarding: `publisher` should be [`PeerId::input`] of the
    /// mountpoint, `ssrc` any key unique within it (e.g. the mid's index). Opening an input
    /// with the key of an open one replaces it.
    pub source: StreamKey,
    /// The mountpoint stream's mid, reported in [`ShardEvent::Media`].
    pub mid: String,
    /// Audio or video.
    pub kind: MediaKind,
    /// The video codec (from the `rtpmap`): keyframes are found with it. `None` for audio.
    pub codec: Option<VideoCodec>,
    /// The RTP clock rate (90000 for video, 48000 for Opus).
    pub clock_rate: u32,
    /// The address to bind (Janus's `iface`; `0.0.0.0` or `127.0.0.1` typically).
    pub bind: IpAddr,
    /// One port, or three for simulcast video (substreams 0, 1, 2); 0 lets the kernel pick
    /// (the event reports the port bound).
    pub ports: Vec<u16>,
    /// Keep the packets since the latest keyframe (Janus's `bufferkf`), so a new viewer
    /// starts on it at once instead of waiting for the next one.
    pub buffer_keyframe: bool,
    /// Expect SRTP protected with this key.
    pub srtp: Option<SrtpKey>,
}

/// A data input (a `data` stream of a Streaming mountpoint); see
/// [`ShardCommand::OpenDataInput`].
///
/// The shard binds one UDP socket; each datagram that arrives becomes one data-channel
/// message to every viewer subscribed with [`DataSubscription`] (on any shard), on the
/// viewer's first open channel. A datagram is at most the shard's receive buffer (larger
/// ones are dropped as [`crate::DropReason::Truncated`]); text inputs drop datagrams that are
/// not UTF-8 ([`crate::DropReason::Malformed`]).
#[derive(Debug, Clone)]
pub struct DataInput {
    /// Echoed in [`ShardEvent::RtpInputOpened`] or [`ShardEvent::CommandFailed`].
    pub reply: ReplyTo,
    /// The input's name, as for [`RtpInput::source`]; closed with
    /// [`ShardCommand::CloseRtpInput`].
    pub source: StreamKey,
    /// The mountpoint stream's mid, reported in [`ShardEvent::Media`].
    pub mid: String,
    /// The address to bind (Janus's `iface`).
    pub bind: IpAddr,
    /// The port; 0 lets the kernel pick (the event reports the port bound).
    pub port: u16,
    /// Text (Janus's `datatype: "text"`) or binary messages.
    pub kind: MessageKind,
    /// Keep the latest message (Janus's `buffermsg`) for viewers that subscribe later.
    pub buffer_message: bool,
}

/// How one viewer receives a data input; see [`ShardCommand::AddDataForward`] and
/// [`crate::Dataplane::add_data_forward`]. Removed like a media forward, with
/// [`ShardCommand::RemoveForward`] (or [`crate::Dataplane::remove_forward`]).
#[derive(Debug, Clone)]
pub struct DataSubscription {
    /// The receiving PeerConnection (on the shard this command goes to).
    pub subscriber: PeerId,
    /// The data input.
    pub source: StreamKey,
    /// The shard the input lives on.
    pub source_shard: ShardId,
    /// Text or binary, as the input's [`DataInput::kind`].
    pub kind: MessageKind,
    /// Janus's `buffermsg`: the input's latest message (and, until the viewer's channel is
    /// open, the latest one that could not be delivered yet) goes to the viewer as soon as
    /// its channel is open. Without it, messages that find no open channel are dropped
    /// ([`crate::DropReason::ChannelNotOpen`]).
    pub replay_last: bool,
}

/// A plain-RTP copy of a stream to `host:port` (VideoRoom `rtp_forward`); see
/// [`ShardCommand::AddRtpOutput`].
#[derive(Debug, Clone)]
pub struct RtpOutput {
    /// The control plane's id, for [`ShardCommand::RemoveRtpOutput`].
    pub id: RtpOutputId,
    /// The stream copied: a publisher's (its media SSRC or simulcast key) or an RTP input's.
    pub source: StreamKey,
    /// Which simulcast substream to copy (0 for a plain stream).
    pub substream: u8,
    /// Where the packets go; sent from the shard's own socket of the same address family.
    pub destination: SocketAddr,
    /// The SSRC written into the copies.
    pub ssrc: u32,
    /// The payload type written into the copies; `None` keeps the source's.
    pub payload_type: Option<u8>,
    /// The RTP clock rate of the stream.
    pub clock_rate: u32,
    /// Protect the copies with SRTP under this key.
    pub srtp: Option<SrtpKey>,
}

/// The control plane's name for an [`RtpOutput`] (unique per shard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RtpOutputId(pub u64);

/// How one subscriber receives one stream; see [`ShardCommand::AddForward`].
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The receiving PeerConnection (on the shard this command goes to).
    pub subscriber: PeerId,
    /// The stream it receives.
    pub source: StreamKey,
    /// The shard the publisher lives on: keyframe requests go there.
    pub source_shard: ShardId,
    /// The SSRC the subscriber's SDP announced for this stream.
    pub ssrc: u32,
    /// The subscriber's RTX SSRC and payload type, when it negotiated RTX.
    pub rtx: Option<(u32, u8)>,
    /// Payload-type rewrites `(publisher pt, subscriber pt)`; unlisted types pass unchanged.
    pub payload_types: Vec<(u8, u8)>,
    /// Publisher extension id → subscriber extension id; unmapped extensions are removed.
    pub extensions: ExtIdMap,
    /// The RTP clock rate (90000 for video, 48000 for Opus): spaces timestamps across a
    /// source switch by the wall time that passed.
    pub clock_rate: u32,
    /// Audio or video.
    pub kind: MediaKind,
    /// The video codec: needed for simulcast (switches wait for a keyframe) and rewrites
    /// VP8 picture ids so they stay continuous across switches. `None` for audio.
    pub codec: Option<VideoCodec>,
    /// Layer selection when `source` is a simulcast stream ([`ShardCommand::SetSimulcast`]);
    /// without it only substream 0 is forwarded.
    pub simulcast: Option<LayerPrefs>,
}

/// Control plane → shard.
#[derive(Debug)]
pub enum ShardCommand {
    /// Create a PeerConnection (ICE-lite, DTLS, SRTP, SCTP). Answered with
    /// [`ShardEvent::PeerCreated`] carrying the addresses the SDP candidates must name.
    CreatePeer(Box<CreatePeer>),
    /// The peer's ICE credentials arrived later than [`ShardCommand::CreatePeer`].
    SetRemoteCredentials {
        /// The PeerConnection.
        peer: PeerId,
        /// Its `a=ice-ufrag` / `a=ice-pwd`.
        credentials: IceCredentials,
    },
    /// Close a PeerConnection (DTLS close_notify, then gone). Also removes every forward
    /// it takes part in on this shard. No hangup event follows.
    ClosePeer {
        /// The PeerConnection.
        peer: PeerId,
    },
    /// Sent to the subscriber's shard: deliver `source` to the subscriber. When the source
    /// lives on another shard, also send [`ShardCommand::AddRoute`] to that shard (or use
    /// [`crate::Dataplane::add_forward`], which sends both).
    AddForward(Box<Subscription>),
    /// Sent to the subscriber's shard: stop delivering `source` to `subscriber` (a media
    /// or a data forward).
    RemoveForward {
        /// The receiving PeerConnection.
        subscriber: PeerId,
        /// The stream.
        source: StreamKey,
    },
    /// Sent to the subscriber's shard: pause (`paused: true`) or resume delivering `source`
    /// to `subscriber` (a media or a data forward) without removing it. A paused forward
    /// keeps its rewrite state and layer wishes ([`ShardCommand::SetLayers`] still applies);
    /// on resume the subscriber's sequence numbers and timestamps continue where they
    /// stopped, and video starts again on a keyframe, asked of the source (a PLI, or the
    /// kept keyframe of an RTP input). Repeating the current state does nothing.
    PauseForward {
        /// The receiving PeerConnection.
        subscriber: PeerId,
        /// The stream.
        source: StreamKey,
        /// Whether delivery stops.
        paused: bool,
    },
    /// Sent to the subscriber's shard: the subscription that delivers under subscriber-side
    /// SSRC `ssrc` takes its packets from `source` from now on (VideoRoom switch), keeping
    /// the subscriber's sequence numbers and timestamps continuous. Routes on publisher
    /// shards change with [`ShardCommand::RemoveRoute`] / [`ShardCommand::AddRoute`] (or use
    /// [`crate::Dataplane::switch_forward`]).
    SwitchForward {
        /// The receiving PeerConnection.
        subscriber: PeerId,
        /// The subscriber-side SSRC of the subscription.
        ssrc: u32,
        /// The new stream.
        source: StreamKey,
        /// The new stream's shard.
        source_shard: ShardId,
    },
    /// Sent to the publisher's shard (after [`ShardCommand::CreatePeer`]): one of its streams
    /// is simulcast. Its layers are forwarded under one [`StreamKey`] (`ssrc` =
    /// [`SimulcastInbound::key`]); a stream already declared with the same key is replaced.
    SetSimulcast {
        /// The publishing PeerConnection.
        peer: PeerId,
        /// The stream's layers.
        stream: Box<SimulcastInbound>,
    },
    /// Sent to the subscriber's shard: change what a simulcast subscription (subscriber-side
    /// SSRC `ssrc`) selects; `None` keeps a value. Switching up waits for a keyframe of the
    /// new substream (asked for with a rate-limited PLI); [`ShardEvent::LayerChanged`]
    /// reports each change actually made.
    SetLayers {
        /// The receiving PeerConnection.
        subscriber: PeerId,
        /// The subscriber-side SSRC of the subscription.
        ssrc: u32,
        /// The wanted substream (0 … 2).
        substream: Option<u8>,
        /// The highest temporal layer (0 … 2).
        temporal: Option<u8>,
        /// How long a substream may be silent before a lower one replaces it.
        fallback: Option<Duration>,
    },
    /// Sent to the publisher's shard: pass `source`'s decrypted packets to shard `to`
    /// (counted: one per subscriber there).
    AddRoute {
        /// The stream.
        source: StreamKey,
        /// The subscribers' shard.
        to: ShardId,
    },
    /// Undoes one [`ShardCommand::AddRoute`].
    RemoveRoute {
        /// The stream.
        source: StreamKey,
        /// The subscribers' shard.
        to: ShardId,
    },
    /// Send one data-channel message.
    SendData {
        /// The PeerConnection.
        peer: PeerId,
        /// The channel.
        channel: ChannelId,
        /// Text or binary.
        kind: MessageKind,
        /// The message.
        data: Vec<u8>,
    },
    /// Ask the publisher of `source` (on this shard) for a keyframe (PLI), rate-limited; for
    /// a simulcast stream, of every substream.
    RequestKeyframe {
        /// The stream.
        source: StreamKey,
    },
    /// Set how the shard does RTCP with `peer` (NACKs, RTX unwrapping, REMB cap, slowlink).
    ConfigureRtcp {
        /// The PeerConnection.
        peer: PeerId,
        /// The settings.
        config: Box<RtcpConfig>,
    },
    /// Change the REMB cap of `peer` (VideoRoom `bitrate`); `None` removes it.
    SetBitrateCap {
        /// The publishing PeerConnection.
        peer: PeerId,
        /// The cap in bit/s.
        bitrate: Option<u64>,
    },
    /// Answer with [`ShardEvent::PeerStats`] for `peer` (or
    /// [`ShardEvent::CommandFailed`] when it is not on the shard).
    GetPeerStats {
        /// The PeerConnection.
        peer: PeerId,
        /// Echoed in the answer.
        reply: ReplyTo,
    },
    /// Bind an RTP input's sockets and forward what arrives on them as stream
    /// [`RtpInput::source`] from this shard. Answered with [`ShardEvent::RtpInputOpened`]
    /// (or [`ShardEvent::CommandFailed`] when a port cannot be bound).
    OpenRtpInput(Box<RtpInput>),
    /// Bind a data input's socket and relay what arrives on it as data-channel messages.
    /// Answered like [`ShardCommand::OpenRtpInput`] ([`ShardEvent::RtpInputOpened`] with
    /// one address); closed with [`ShardCommand::CloseRtpInput`].
    OpenDataInput(Box<DataInput>),
    /// Sent to the viewer's shard: deliver a data input's messages to the viewer's data
    /// channel. When the input lives on another shard, also send [`ShardCommand::AddRoute`]
    /// to that shard (or use [`crate::Dataplane::add_data_forward`], which sends both).
    AddDataForward(Box<DataSubscription>),
    /// Close an RTP (or data) input: its sockets close (the ports are free again) and its
    /// stream stops; viewers' forwards stay installed until removed, receiving nothing.
    CloseRtpInput {
        /// The input's stream.
        source: StreamKey,
    },
    /// Sent to the shard the source lives on (the publisher's or the input's): copy the
    /// stream as plain (or SRTP) RTP to a host:port.
    AddRtpOutput(Box<RtpOutput>),
    /// Stop an RTP output; answered with [`ShardEvent::RtpOutputStopped`] and its counts.
    RemoveRtpOutput {
        /// The output.
        id: RtpOutputId,
    },
    /// Answer with a [`ShardEvent::Stats`] snapshot now.
    GetStats,
    /// Stop the shard: every PeerConnection is closed and the thread ends.
    Stop,
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// No PeerConnection with this id on the shard.
    #[error("no such PeerConnection on this shard")]
    NoSuchPeer,
    /// The subscriber has no forward with this SSRC.
    #[error("no such forward on this PeerConnection")]
    NoSuchForward,
    /// A PeerConnection with this id or ICE ufrag already exists on the shard.
    #[error("duplicate PeerConnection id or ICE ufrag")]
    Duplicate,
    /// The protocol stack refused (DTLS setup, SCTP send, …); the text says what.
    #[error("PeerConnection: {0}")]
    Peer(String),
    /// A socket of an RTP input could not be set up (port in use …); the text says why.
    #[error("RTP input: {0}")]
    Socket(String),
    /// An SRTP key of the wrong length for its profile.
    #[error("bad SRTP key: {0}")]
    SrtpKey(String),
}

/// Shard → control plane.
#[derive(Debug, Clone)]
pub enum ShardEvent {
    /// [`ShardCommand::CreatePeer`] succeeded.
    PeerCreated {
        /// The command's correlation id.
        reply: ReplyTo,
        /// The new PeerConnection.
        peer: PeerId,
        /// Its shard.
        shard: ShardId,
        /// The shard's socket addresses: the host candidates for the SDP (an unspecified
        /// IP means every local address; the control plane writes its public IP).
        local_addrs: Vec<SocketAddr>,
    },
    /// A command failed.
    CommandFailed {
        /// The correlation id, for commands that carry one.
        reply: Option<ReplyTo>,
        /// The PeerConnection concerned.
        peer: PeerId,
        /// Why.
        error: ShardError,
    },
    /// ICE and DTLS completed: Janus's `webrtcup`.
    PeerConnected {
        /// The PeerConnection.
        peer: PeerId,
        /// The negotiated SRTP profile.
        profile: SrtpProfile,
    },
    /// Media started or stopped arriving on one inbound stream (Janus's `media` event).
    Media {
        /// The PeerConnection.
        peer: PeerId,
        /// The stream's SSRC.
        ssrc: u32,
        /// The stream's mid, when the SDP declared it.
        mid: Option<String>,
        /// Started (`true`) or stopped for longer than the media timeout (`false`).
        receiving: bool,
        /// The simulcast substream of the SSRC, for a [`SimulcastInbound`] layer.
        substream: Option<u8>,
    },
    /// What a simulcast subscription forwards changed (Janus's `substream` / `temporal`
    /// events to the subscriber): after a switch at a keyframe, a fallback to a lower
    /// substream, or a temporal-layer change.
    LayerChanged {
        /// The receiving PeerConnection.
        subscriber: PeerId,
        /// The subscriber-side SSRC of the subscription.
        ssrc: u32,
        /// The substream now forwarded.
        substream: u8,
        /// The highest temporal layer now forwarded.
        temporal: u8,
    },
    /// Audio levels read from the RFC 6464 extension of one of the peer's audio streams since
    /// its previous report ([`RtcpConfig::audio_level_ext`]); sent at most every 250 ms per
    /// stream, and only when packets carried a level. For talk detection (VideoRoom
    /// `talking`, AudioBridge).
    AudioLevel {
        /// The sending PeerConnection.
        peer: PeerId,
        /// The stream's media SSRC.
        ssrc: u32,
        /// Packets that carried a level.
        packets: u32,
        /// The sum of their levels, in -dBov (0 loudest … 127 silence each).
        level_sum: u32,
    },
    /// The PeerConnection ended by itself (ICE consent lost, DTLS failed …). It is gone
    /// from the shard already.
    Hangup {
        /// The PeerConnection.
        peer: PeerId,
        /// Why; [`HangupReason::janus_reason`] gives Janus's text.
        reason: HangupReason,
    },
    /// The peer opened a data channel.
    DataChannelOpen {
        /// The PeerConnection.
        peer: PeerId,
        /// The channel.
        channel: ChannelId,
        /// Its label.
        label: String,
        /// Its sub-protocol.
        protocol: String,
    },
    /// A data-channel message.
    DataChannelMessage {
        /// The PeerConnection.
        peer: PeerId,
        /// The channel.
        channel: ChannelId,
        /// Text or binary.
        kind: MessageKind,
        /// The message.
        data: Vec<u8>,
    },
    /// A data channel closed.
    DataChannelClosed {
        /// The PeerConnection.
        peer: PeerId,
        /// The channel.
        channel: ChannelId,
    },
    /// The answer to [`ShardCommand::GetPeerStats`].
    PeerStats(Box<PeerStats>),
    /// More packets than the peer's slowlink threshold were lost in the last second
    /// (Janus's `slowlink` event); sent at most once per RTCP interval per direction.
    SlowLink {
        /// The PeerConnection.
        peer: PeerId,
        /// `true`: media the peer sends us is being lost; `false`: media we send it (as its
        /// NACKs tell).
        uplink: bool,
        /// Packets lost (uplink) or NACKed (downlink) per second.
        lost: u32,
    },
    /// [`ShardCommand::OpenRtpInput`] succeeded.
    RtpInputOpened {
        /// The command's correlation id.
        reply: ReplyTo,
        /// The input's stream.
        source: StreamKey,
        /// Its shard (the `source_shard` of its viewers' subscriptions).
        shard: ShardId,
        /// The addresses bound, one per port, substream 0 first.
        local_addrs: Vec<SocketAddr>,
    },
    /// An RTP output ended after [`ShardCommand::RemoveRtpOutput`].
    RtpOutputStopped {
        /// The output.
        id: RtpOutputId,
        /// RTP packets it sent.
        packets: u64,
        /// Bytes it sent (headers and SRTP tags included).
        bytes: u64,
    },
    /// A counters snapshot, periodic or after [`ShardCommand::GetStats`].
    Stats(Box<ShardStats>),
    /// The shard thread ended after [`ShardCommand::Stop`].
    Stopped {
        /// The shard.
        shard: ShardId,
    },
}

/// Per-shard settings, copied from [`crate::DataplaneConfig`].
#[derive(Debug, Clone)]
pub(crate) struct ShardSettings {
    pub(crate) consent_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) media_timeout: Duration,
    pub(crate) keyframe_min_interval: Duration,
    pub(crate) rtcp_interval: Duration,
    pub(crate) stats_interval: Option<Duration>,
    pub(crate) command_budget: usize,
}

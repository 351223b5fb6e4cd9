//! The plugin host contract: a plugin is a state machine on the control thread.
//!
//! The host feeds a plugin typed [`PluginInput`]s through [`Plugin::handle`] and, right after
//! each one, drains [`Plugin::poll`] until it returns `None`. Outputs that answer the input
//! (a [`PluginOutput::Reply`] to a [`PluginInput::Message`], a refusal of an
//! [`PluginInput::Attach`], a [`PluginOutput::HandleInfo`] or [`PluginOutput::AdminReply`])
//! must be emitted during that drain; events ([`PluginOutput::Event`]) may be emitted at any
//! time, and are picked up after the next input or tick.
//!
//! This mirrors Janus's `janus_plugin` callbacks (`src/plugins/plugin.h`):
//!
//! | Janus callback        | here |
//! |-----------------------|------|
//! | `create_session`      | [`PluginInput::Attach`] (refuse with [`PluginOutput::AttachRefused`]) |
//! | `handle_message`      | [`PluginInput::Message`] → [`PluginOutput::Reply`] with [`MessageResult`] |
//! | `setup_media`         | [`PluginInput::Peer`] with [`PeerEvent::WebrtcUp`] |
//! | `hangup_media`        | [`PluginInput::Peer`] with [`PeerEvent::Hangup`] |
//! | `slow_link`           | [`PluginInput::Peer`] with [`PeerEvent::SlowLink`] |
//! | `destroy_session`     | [`PluginInput::Detach`] |
//! | `query_session`       | [`PluginInput::QueryHandle`] → [`PluginOutput::HandleInfo`] |
//! | `handle_admin_message`| [`PluginInput::AdminMessage`] → [`PluginOutput::AdminReply`] |
//! | `push_event`          | [`PluginOutput::Event`] |
//! | `close_pc`            | [`PluginOutput::ClosePeerConnection`] |
//! | `end_session`         | [`PluginOutput::EndHandle`] |
//!
//! Messages are answered either synchronously (`Reply` with [`MessageResult::Success`]: the
//! client gets `success` with `plugindata`) or asynchronously ([`MessageResult::Ack`]: the client
//! gets `ack`, then later an `event` carrying the same `transaction`). Plugin-level errors go
//! inside the plugin's data, as in Janus (`{"videoroom":"event","error_code":426,…}`);
//! [`MessageResult::Error`] is for hard failures (Janus code 462).
//!
//! Media intents (forwarding rules, REMB caps, keyframe requests, data-channel sends, RTP
//! forwarders) leave as [`PluginOutput::Media`] carrying a [`MediaCommand`]: plugins never see
//! packets, they say what should happen in terms of handles and mids, and the host maps that
//! onto shards; Streaming mountpoints name their RTP inputs ([`MediaCommand::OpenRtpInput`],
//! [`MediaCommand::ForwardMountpoint`]). Data-channel messages arrive as [`PluginInput::Data`],
//! audio-level summaries for talk detection as [`PluginInput::AudioLevel`]. The host may emit
//! `Media` outputs at any time; the current host drops them until the dataplane is wired (they
//! are never mistaken for a reply). Both enums are `#[non_exhaustive]` so that more can follow.

use std::time::Instant;

use serde_json::{Map, Value};

pub use crate::media::{HangupReason, Jsep, JsepType, MediaKind, PeerEvent};
use crate::{HandleId, SessionId};

/// What a plugin says about itself; shown in `info` under `plugins`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    /// Package name clients attach to, e.g. `janus.plugin.echotest`.
    pub package: &'static str,
    /// Human name, e.g. `JANUS EchoTest plugin`.
    pub name: &'static str,
    /// Author.
    pub author: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Numeric version (Janus: echotest 7, videoroom 9 …).
    pub version: u32,
    /// Version as text, e.g. `0.0.7`.
    pub version_string: &'static str,
}

/// A Janus plugin as a sans-IO state machine driven by the control thread.
pub trait Plugin {
    /// Static description; `package` is the registration key.
    fn info(&self) -> PluginInfo;

    /// Feed one input at `now`.
    fn handle(&mut self, now: Instant, input: PluginInput);

    /// The next output, `None` when there is nothing more for now.
    fn poll(&mut self) -> Option<PluginOutput>;

    /// When the plugin next wants a [`PluginInput::Timeout`]; `None` when it has no timer.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Inputs the host feeds a plugin.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PluginInput {
    /// A client attached a new handle to this plugin (`attach`).
    Attach {
        /// The new handle.
        handle: HandleId,
        /// Its session.
        session: SessionId,
        /// The `opaque_id` the client gave, if any.
        opaque_id: Option<String>,
        /// The token used, when token authentication is on.
        token: Option<String>,
    },
    /// A `message` request for a handle of this plugin. Must be answered with one
    /// [`PluginOutput::Reply`] during the drain that follows.
    Message {
        /// The handle.
        handle: HandleId,
        /// The client's transaction; echo it on the asynchronous [`PluginOutput::Event`].
        transaction: String,
        /// The request body (a JSON object).
        body: Map<String, Value>,
        /// The client's JSEP after the core processed it (anonymized SDP, `update` on
        /// renegotiation, `simulcast` info), if any.
        jsep: Option<Jsep>,
    },
    /// The client trickled candidates (informational: the core applies them).
    Trickle {
        /// The handle.
        handle: HandleId,
        /// Number of candidates in the request.
        candidates: usize,
        /// Whether the client signalled the end of its candidates.
        completed: bool,
    },
    /// A PeerConnection event for a handle (webrtcup, media, slowlink, hangup).
    Peer {
        /// The handle.
        handle: HandleId,
        /// What happened.
        event: PeerEvent,
    },
    /// The handle is going away (detach, session destroy or timeout). No output is sent to the
    /// client for this handle after it.
    Detach {
        /// The handle.
        handle: HandleId,
    },
    /// The Admin API asks for this handle's plugin-specific state (`handle_info`); answer with
    /// [`PluginOutput::HandleInfo`].
    QueryHandle {
        /// The handle.
        handle: HandleId,
    },
    /// An Admin API `message_plugin` request; answer with [`PluginOutput::AdminReply`].
    AdminMessage {
        /// The `request` object (JSON null when absent).
        request: Value,
    },
    /// The instant returned by [`Plugin::poll_timeout`] has passed.
    Timeout,
    /// Audio levels (RFC 6464 `ssrc-audio-level`, dBov: 0 loud … 127 silence) the media side
    /// read from packets arriving on `handle`/`mid` since its previous report: `packets`
    /// packets whose levels add up to `level_sum`. The media side reports at its own pace
    /// (every 250 ms per audio stream with the extension); plugins window the sums
    /// themselves (VideoRoom: `audio_active_packets` per talking/stopped-talking decision).
    AudioLevel {
        /// The sending peer's handle.
        handle: HandleId,
        /// Its audio m-line.
        mid: String,
        /// Packets measured.
        packets: u32,
        /// Sum of their levels.
        level_sum: u32,
    },
    /// What a simulcast subscription of `handle` forwards on its m-line `mid` changed (after
    /// a switch at a keyframe, a fallback to a lower substream, or a temporal-layer change):
    /// Janus's `substream` / `temporal` notifications. Both values are the current ones;
    /// the plugin tells which changed.
    LayerChanged {
        /// The receiving handle.
        handle: HandleId,
        /// Its m-line (the subscriber-side mid).
        mid: String,
        /// The substream now forwarded (0 lowest … 2 highest).
        substream: u8,
        /// The highest temporal layer now forwarded (0 … 2).
        temporal: u8,
    },
    /// A data-channel message arrived from the handle's peer (Janus `incoming_data`).
    Data {
        /// The handle.
        handle: HandleId,
        /// The channel's label, when known.
        label: Option<String>,
        /// Binary (`true`) or text (`false`; then `data` is UTF-8 as the peer sent it).
        binary: bool,
        /// The payload.
        data: Vec<u8>,
    },
}

/// Outputs a plugin hands back to the host.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PluginOutput {
    /// The answer to the [`PluginInput::Message`] just handled.
    Reply {
        /// The handle the message was for.
        handle: HandleId,
        /// Synchronous data, an ack, or a hard error.
        result: MessageResult,
    },
    /// Refuse the handle of the [`PluginInput::Attach`] just handled (Janus 461
    /// `Couldn't attach to plugin: error '<code>'`).
    AttachRefused {
        /// The handle.
        handle: HandleId,
        /// The plugin's error number, quoted in the reason.
        code: i32,
    },
    /// An event for the client (`janus: "event"`).
    Event {
        /// The handle.
        handle: HandleId,
        /// The transaction of the asynchronous request this answers, if any.
        transaction: Option<String>,
        /// Goes into `plugindata.data`.
        data: Value,
        /// An offer or answer from the plugin; the core merges its ICE/DTLS details first.
        jsep: Option<Jsep>,
    },
    /// Close the handle's PeerConnection (Janus `close_pc`; the client gets `hangup` with
    /// reason `Close PC`).
    ClosePeerConnection {
        /// The handle.
        handle: HandleId,
    },
    /// End the handle (Janus `end_session`; the client gets `detached`).
    EndHandle {
        /// The handle.
        handle: HandleId,
    },
    /// Answer to [`PluginInput::QueryHandle`]: goes into `plugin_specific` of `handle_info`.
    HandleInfo {
        /// The handle.
        handle: HandleId,
        /// Plugin-specific state.
        info: Map<String, Value>,
    },
    /// Answer to [`PluginInput::AdminMessage`]: goes into `response`.
    AdminReply {
        /// The plugin's reply.
        response: Value,
    },
    /// A media intent for the dataplane (see [`MediaCommand`]); not a reply to anything.
    Media(MediaCommand),
}

/// What a plugin wants the media side to do, in handles and mids (never shards or SSRCs).
///
/// A "mid" is always the mid of the m-line in the SDP of the handle it is paired with: for
/// `Forward`, `from_mid` is a mid of `from`'s PeerConnection (what it sends to us) and
/// `to_mid` a mid of `to`'s PeerConnection (what we send to it). EchoTest forwards a handle to
/// itself, mid to same mid.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MediaCommand {
    /// Relay the RTP (and answer its RTCP feedback) arriving on `from`/`from_mid` out of
    /// `to`/`to_mid`, replacing whatever fed `to_mid` before.
    Forward {
        /// Source handle.
        from: HandleId,
        /// Source m-line.
        from_mid: String,
        /// Destination handle.
        to: HandleId,
        /// Destination m-line.
        to_mid: String,
        /// Simulcast/SVC layer wishes for this destination.
        layers: LayerPrefs,
    },
    /// Stop feeding `to`/`to_mid` (the m-line stays negotiated).
    Unforward {
        /// Destination handle.
        to: HandleId,
        /// Destination m-line.
        to_mid: String,
    },
    /// Pause (`send: false`) or resume relaying into `to`/`to_mid` without changing its source;
    /// resuming should request a keyframe from the source.
    SetSending {
        /// Destination handle.
        to: HandleId,
        /// Destination m-line.
        to_mid: String,
        /// Whether packets flow.
        send: bool,
    },
    /// New layer wishes for an existing forward into `to`/`to_mid`.
    SetLayers {
        /// Destination handle.
        to: HandleId,
        /// Destination m-line.
        to_mid: String,
        /// The wishes.
        layers: LayerPrefs,
    },
    /// Cap what the peer of `handle` sends us: REMB with this value (bits/s; 0 = no cap, Janus
    /// then sends 10 000 000).
    SetBitrateCap {
        /// The sending peer.
        handle: HandleId,
        /// Bits per second.
        bitrate: u32,
    },
    /// Ask the peer of `handle` for a keyframe (PLI) on `mid`, or on every video m-line.
    RequestKeyframe {
        /// The sending peer.
        handle: HandleId,
        /// The m-line; `None` = all video.
        mid: Option<String>,
    },
    /// Send one data-channel message to the peer of `handle`.
    SendData {
        /// The handle.
        handle: HandleId,
        /// Channel label; `None` = the first (default) channel.
        label: Option<String>,
        /// Binary (`true`) or text.
        binary: bool,
        /// The payload.
        data: Vec<u8>,
    },
    /// Copy what arrives on `from`/`mid` as plain (or SRTP) RTP to `host:port`
    /// (VideoRoom `rtp_forward`).
    RtpForward {
        /// Plugin-chosen forwarder id (`stream_id`), unique per plugin.
        id: u32,
        /// Source handle.
        from: HandleId,
        /// Source m-line.
        mid: String,
        /// Destination host (name or address, as the client gave it).
        host: String,
        /// Destination UDP port.
        port: u16,
        /// SSRC to write, when the client chose one.
        ssrc: Option<u32>,
        /// Payload type to write, when the client chose one.
        payload_type: Option<u8>,
        /// SRTP suite (32 or 80) and base64 key, when encrypted.
        srtp: Option<(u8, String)>,
    },
    /// Stop an RTP forwarder.
    StopRtpForward {
        /// The id given in [`MediaCommand::RtpForward`].
        id: u32,
    },
    /// Listen for plain RTP (SRTP when [`RtpInput::srtp`] is set) for one stream of a
    /// Streaming mountpoint. Every port is concrete (the plugin resolves Janus's `port: 0`
    /// from its `rtp_port_range`). Reopening an open (mountpoint, mid) replaces it.
    OpenRtpInput(RtpInput),
    /// Stop listening for a mountpoint stream (its viewers' forwards stop with it).
    CloseRtpInput {
        /// Mountpoint id.
        mountpoint: u64,
        /// The stream's mid.
        mid: String,
    },
    /// Relay what arrives on a mountpoint stream out of `to`/`to_mid`, like
    /// [`MediaCommand::Forward`] with a mountpoint as the source: the viewer should start on a
    /// keyframe (the one kept with [`RtpInput::buffer_keyframe`], else the next one), and
    /// [`LayerPrefs`] pick among the input's simulcast ports. `Unforward`, `SetSending` and
    /// `SetLayers` on `to`/`to_mid` apply as for any forward.
    ForwardMountpoint {
        /// Mountpoint id.
        mountpoint: u64,
        /// The mountpoint stream's mid.
        mid: String,
        /// Destination handle (a viewer).
        to: HandleId,
        /// Destination m-line.
        to_mid: String,
        /// Simulcast/SVC layer wishes.
        layers: LayerPrefs,
    },
    /// Create an audio mix (an AudioBridge room), or change the settings of an open one.
    /// Participants hear the sum of everyone else at the mix's sampling rate.
    OpenMix(MixRoom),
    /// End a mix: its participants leave it and its RTP forwarders stop.
    CloseMix {
        /// The mix id given in [`MixRoom::mix`].
        mix: u64,
    },
    /// Put the handle's audio m-line `mid` into `mix` (leaving any mix it was in): what the
    /// peer sends there is decoded and mixed into the others' audio, and the mix of the others
    /// is sent back on the same m-line. May be sent right after the event carrying the
    /// plugin's SDP answer: the media side applies it once the PeerConnection exists.
    JoinMix {
        /// The mix.
        mix: u64,
        /// The participant's handle.
        handle: HandleId,
        /// Its (first) audio m-line.
        mid: String,
        /// Per-participant settings.
        settings: MixParticipant,
    },
    /// New settings for a handle already in a mix (mute, volume, pan, encoder).
    UpdateMix {
        /// The participant's handle.
        handle: HandleId,
        /// The settings that replace the previous ones.
        settings: MixParticipant,
    },
    /// Take the handle out of its mix (its PeerConnection stays up, silent).
    LeaveMix {
        /// The participant's handle.
        handle: HandleId,
    },
    /// Send the encoded mix of everyone in `mix` as plain (or SRTP) RTP to `host:port`
    /// (AudioBridge `rtp_forward`).
    MixRtpForward {
        /// Plugin-chosen forwarder id (`stream_id`), unique per plugin.
        id: u32,
        /// The mix.
        mix: u64,
        /// Destination address (an IP address, as the client gave it).
        host: String,
        /// Destination UDP port.
        port: u16,
        /// Codec of the forwarded stream.
        codec: MixCodec,
        /// Payload type to write (Janus: 100 for Opus, 0 PCMU, 8 PCMA).
        payload_type: u8,
        /// SSRC to write, when the client chose one.
        ssrc: Option<u32>,
        /// SRTP suite (32 or 80) and base64 key, when encrypted.
        srtp: Option<(u8, String)>,
    },
    /// Stop a mix forwarder.
    StopMixRtpForward {
        /// The id given in [`MediaCommand::MixRtpForward`].
        id: u32,
    },
}

/// An audio mix (AudioBridge room) as the media side needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixRoom {
    /// Plugin-chosen mix id (AudioBridge maps room ids, string or numeric, onto these).
    pub mix: u64,
    /// Mixing rate in Hz: 8000, 12000, 16000, 24000 or 48000.
    pub sampling_rate: u32,
    /// Stereo mix with each participant panned by [`MixParticipant::spatial_position`].
    pub spatial: bool,
}

/// The codec a participant (or a mix forwarder) speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixCodec {
    /// Opus (`opus/48000/2`).
    Opus,
    /// G.711 µ-law (`PCMU/8000`).
    Pcmu,
    /// G.711 A-law (`PCMA/8000`).
    Pcma,
}

/// Per-participant mixing and encoding settings (AudioBridge `join`/`configure` fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixParticipant {
    /// Muted participants are not mixed into anyone's audio (they still hear the others).
    pub muted: bool,
    /// Gain applied to this participant's voice, in percent (100 = unchanged).
    pub volume_percent: u32,
    /// The codec negotiated on the participant's m-line.
    pub codec: MixCodec,
    /// Packets buffered before this participant is mixed (jitter absorption).
    pub prebuffer_packets: u32,
    /// Pan in spatial mixes, 0 (left) … 100 (right); 50 is centre.
    pub spatial_position: u8,
    /// Opus encoder bitrate in bits/s; 0 lets libopus decide.
    pub opus_bitrate: u32,
    /// Opus encoder complexity, 1–10.
    pub opus_complexity: u8,
    /// Expected packet loss in percent, 0–20 (tunes Opus in-band FEC).
    pub expected_loss: u8,
    /// The peer offered `useinbandfec=1`: encode with in-band FEC.
    pub fec: bool,
    /// Drop the decoder state now (AudioBridge `resetdecoder`).
    pub reset_decoder: bool,
}

impl Default for MixParticipant {
    fn default() -> Self {
        Self {
            muted: false,
            volume_percent: 100,
            codec: MixCodec::Opus,
            prebuffer_packets: 6,
            spatial_position: 50,
            opus_bitrate: 0,
            opus_complexity: 4,
            expected_loss: 0,
            fec: false,
            reset_decoder: false,
        }
    }
}

/// One RTP input of a Streaming mountpoint (a `media` entry of an `rtp` mountpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpInput {
    /// Mountpoint id.
    pub mountpoint: u64,
    /// The stream's mid (unique in the mountpoint).
    pub mid: String,
    /// What the stream carries.
    pub kind: InputKind,
    /// UDP ports: one, or three for a simulcast video stream (layers 0, 1, 2 = `port`,
    /// `port2`, `port3`).
    pub ports: Vec<u16>,
    /// Port for RTCP with the source, when configured.
    pub rtcp_port: Option<u16>,
    /// Multicast group to join, when configured.
    pub mcast: Option<String>,
    /// Interface (address) to bind, when configured.
    pub iface: Option<String>,
    /// Expected payload type (audio/video); packets are rewritten to the viewer's.
    pub payload_type: Option<u8>,
    /// `rtpmap` encoding, e.g. `opus/48000/2`, `VP8/90000` (audio/video).
    pub rtpmap: Option<String>,
    /// Keep the last keyframe to start new viewers on (`bufferkf`); for a data stream, keep
    /// the last message for new viewers (`buffermsg`).
    pub buffer_keyframe: bool,
    /// VP9 SVC source (layers are picked per viewer from one port).
    pub svc: bool,
    /// Data: relay as binary (`true`) or text.
    pub binary: bool,
    /// SRTP suite (32 or 80) and base64 key, when the source encrypts.
    pub srtp: Option<(u8, String)>,
}

/// The kind of a mountpoint stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// RTP audio.
    Audio,
    /// RTP video.
    Video,
    /// Datagrams relayed as data-channel messages.
    Data,
}

/// Simulcast/SVC layer wishes for one forward (Janus defaults: highest layers, 250 ms
/// fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerPrefs {
    /// Simulcast spatial layer 0–2 (or VP9/AV1 SVC spatial layer).
    pub substream: u8,
    /// Temporal layer 0–2.
    pub temporal: u8,
    /// Microseconds without packets on the target layer before falling back to a lower one.
    pub fallback_us: u64,
}

impl Default for LayerPrefs {
    fn default() -> Self {
        Self {
            substream: 2,
            temporal: 2,
            fallback_us: 250_000,
        }
    }
}

/// How a plugin answers a `message`.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageResult {
    /// Synchronous result: the client gets `success` with `plugindata.data` = this value
    /// (plugin-level errors go in here too).
    Success(Value),
    /// Asynchronous: the client gets `ack` (with `hint` if given); an [`PluginOutput::Event`]
    /// with the same transaction follows.
    Ack {
        /// Optional `hint` text (EchoTest sends `I'm taking my time!`).
        hint: Option<String>,
    },
    /// Hard failure: Janus code 462 with this text.
    Error(String),
}

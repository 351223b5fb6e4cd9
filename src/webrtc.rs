//! The control plane's media engine over the dataplane: the JSEP from a client goes through
//! the core (SDP, ICE credentials, DTLS role and fingerprint) before and after the plugin sees
//! it, as in Janus, and every PeerConnection lives on a dataplane shard.
//!
//! - A client offer is parsed ([`RemoteDescription`]); the plugin gets the anonymized SDP; a
//!   PeerConnection is created on the least loaded shard right away (the offer says everything
//!   it needs). The plugin's answer is merged with our ICE credentials, DTLS fingerprint and
//!   the shard's candidates (`a=ice-lite`: Portunus never sends checks).
//! - A plugin offer (subscriber flows) is merged the same way; the PeerConnection is created
//!   when the client's answer brings its credentials, fingerprint and DTLS role.
//! - Dataplane events come back on the control thread through [`EngineHook`] and become the
//!   core's `webrtcup`, `media` and `hangup` events.
//!
//! - Plugins' media intents ([`MediaCommand`]) become dataplane forwarding rules: the
//!   publisher's SSRC, payload types and header-extension ids (from its description) are
//!   mapped onto what the subscriber's description announced. Data-channel messages travel
//!   both ways between peers and plugins.
//!
//! - Streaming mountpoints open plain-RTP inputs on a shard and forward them to viewers;
//!   VideoRoom `rtp_forward` starts plain or SRTP RTP outputs on the publisher's shard.
//!
//! Not wired yet: data-channel mountpoint inputs, host names in `rtp_forward` (resolving
//! would block the control thread), trickled candidates (an ICE-lite server learns addresses
//! from the checks themselves), renegotiation beyond keeping the latest description, and ICE
//! restarts.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use portunus_ctrl::api::{ApiError, JanusCode};
use portunus_ctrl::media::{
    CloseReason, HangupReason, Jsep, JsepType, MediaEngine, MediaKind, PeerEvent,
};
use portunus_ctrl::metrics::ShardCounters;
use portunus_ctrl::plugin::{
    InputKind, LayerPrefs as PluginLayers, MediaCommand, RtpInput as PluginRtpInput,
};
use portunus_ctrl::{ControlPlane, HandleId, LoopHook};
use portunus_dataplane::{
    CreatePeer, Dataplane, DropReason, InboundStream, LayerPrefs, MediaKind as DpKind, PeerId,
    PeerStats, ReplyTo, RtcpConfig, RtpInput, RtpOutput, RtpOutputId, ShardCommand, ShardEvent,
    ShardId, SimulcastInbound, SrtpKey, StreamKey, Subscription,
};
use portunus_dtls::{DtlsRole, Fingerprint};
use portunus_ice::IceCredentials;
use portunus_rtp::codec::VideoCodec;
use portunus_rtp::ext::ExtIdMap;
use portunus_sctp::SctpConfig;
use portunus_sctp::{ChannelId, MessageKind};
use portunus_sdp::jsep::RemoteMedia;
use portunus_sdp::jsep::{self, LocalTransport, MergeContext, RemoteDescription, SdpType};
use portunus_sdp::{MediaKind as SdpKind, Sdp};
use serde_json::{Map, Value};

/// How often the hook looks at the dataplane's events while PeerConnections exist. Events are
/// control-rate (webrtcup, media start/stop, hangups), so a short poll costs nothing and
/// spares a wakeup thread.
const EVENT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The same while no PeerConnection exists: only statistics snapshots arrive then.
const IDLE_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How often every shard reports its counters (for `/metrics`).
pub(crate) const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// State shared by the engine (called by the host) and the hook (called every loop round),
/// both on the control thread.
pub(crate) struct Shared {
    dataplane: Dataplane,
    /// Addresses written into candidates in place of a wildcard bind.
    ice_ips: Vec<IpAddr>,
    fingerprint: String,
    handles: HashMap<HandleId, HandleMedia>,
    /// PeerConnections per shard, to place the next one on the least loaded shard.
    load: Vec<usize>,
    next_ssrc: u32,
    /// Open data channels per handle, in opening order (the first is the default one).
    channels: HashMap<HandleId, Vec<(ChannelId, String)>>,
    /// Installed forwards by receiving (handle, mid): the source stream and its shard.
    forwards: HashMap<(HandleId, String), (StreamKey, ShardId)>,
    /// Lost packets per second that make a `slowlink` event; 0 disables them.
    slowlink_threshold: u32,
    /// Open Streaming inputs by (mountpoint, mid).
    inputs: HashMap<(u64, String), InputState>,
    /// RTP forwarders (VideoRoom `rtp_forward`) by id: the shard that runs each.
    rtp_outputs: HashMap<u32, ShardId>,
}

/// A mountpoint stream fed by plain RTP.
struct InputState {
    source: StreamKey,
    shard: ShardId,
    payload_type: Option<u8>,
    codec: Option<VideoCodec>,
    clock_rate: u32,
    kind: DpKind,
    simulcast: bool,
}

/// What the core keeps per handle with a PeerConnection.
struct HandleMedia {
    shard: ShardId,
    local_ice: IceCredentials,
    /// The client's latest description.
    remote: Option<RemoteDescription>,
    /// Our side of the negotiation (SSRCs, RTX, DTLS role for offers).
    merge: Option<MergeContext>,
    /// Our latest description as the client received it (codecs, extmaps, SSRCs we send).
    local: Option<RemoteDescription>,
    /// The PeerConnection exists on its shard.
    created: bool,
    /// `kind` of each m-line by mid, for `media` events.
    kinds: HashMap<String, MediaKind>,
    /// The SRTP profile, once the PeerConnection is up (`webrtcup`).
    connected: Option<portunus_srtp::SrtpProfile>,
    /// The latest statistics the shard reported (refreshed with the shards' counters).
    stats: Option<Box<PeerStats>>,
}

impl Shared {
    pub(crate) fn new(
        dataplane: Dataplane,
        ice_ips: Vec<IpAddr>,
        fingerprint: String,
        slowlink_threshold: u32,
    ) -> Self {
        let shards = dataplane.shard_count();
        Self {
            dataplane,
            ice_ips,
            fingerprint,
            handles: HashMap::new(),
            load: vec![0; shards],
            next_ssrc: rand::random::<u32>() | 1,
            channels: HashMap::new(),
            forwards: HashMap::new(),
            slowlink_threshold,
            inputs: HashMap::new(),
            rtp_outputs: HashMap::new(),
        }
    }

    fn least_loaded_shard(&self) -> ShardId {
        let index = (0..self.load.len())
            .min_by_key(|i| self.load[*i])
            .unwrap_or(0);
        ShardId(u16::try_from(index).unwrap_or(0))
    }

    /// `a=candidate` values for the shard's sockets, one per address family bound.
    fn candidates(&self, shard: ShardId) -> Vec<String> {
        let mut out = Vec::new();
        for addr in self.dataplane.local_addrs(shard) {
            let ips: Vec<IpAddr> = if addr.ip().is_unspecified() {
                let family: Vec<IpAddr> = self
                    .ice_ips
                    .iter()
                    .copied()
                    .filter(|ip| ip.is_ipv4() == addr.is_ipv4())
                    .collect();
                family
            } else {
                vec![addr.ip()]
            };
            for ip in ips {
                let foundation = out.len() + 1;
                let priority = 2_130_706_431u32 - u32::try_from(out.len()).unwrap_or(0);
                out.push(format!(
                    "{foundation} 1 udp {priority} {ip} {} typ host",
                    addr.port()
                ));
            }
        }
        out
    }

    fn transport(&self, shard: ShardId, ice: &IceCredentials) -> LocalTransport {
        let public_ip = self
            .ice_ips
            .first()
            .map_or_else(|| "127.0.0.1".to_owned(), ToString::to_string);
        LocalTransport {
            ice_ufrag: ice.ufrag().to_owned(),
            ice_pwd: ice.pwd().to_owned(),
            fingerprint: self.fingerprint.clone(),
            public_ip,
            candidates: Some(self.candidates(shard)),
            ice_lite: true,
        }
    }

    fn new_handle_media(&self) -> HandleMedia {
        let shard = self.least_loaded_shard();
        HandleMedia {
            shard,
            local_ice: IceCredentials::generate(&rand::random()),
            remote: None,
            merge: None,
            local: None,
            created: false,
            kinds: HashMap::new(),
            connected: None,
            stats: None,
        }
    }

    /// Creates the PeerConnection on its shard once both descriptions are known.
    fn create_peer(&mut self, handle: HandleId, dtls_role: jsep::DtlsRole) -> Result<(), ApiError> {
        let media = self
            .handles
            .get_mut(&handle)
            .ok_or_else(|| unknown_handle(handle))?;
        if media.created {
            return Ok(());
        }
        let remote = media
            .remote
            .as_ref()
            .ok_or_else(|| unknown_handle(handle))?;
        let command = create_peer_command(handle, media, remote, dtls_role)?;
        let shard = media.shard;
        self.dataplane
            .send(shard, ShardCommand::CreatePeer(Box::new(command)))
            .map_err(|_| {
                ApiError::new(
                    JanusCode::Unknown,
                    "The dataplane could not take the PeerConnection",
                )
            })?;
        // The peer's own streams: simulcast layers, then RTCP behaviour. Queued behind
        // CreatePeer on the same shard, so they find the PeerConnection.
        let peer = peer_id(handle);
        let mut follow_up: Vec<ShardCommand> = remote
            .media
            .iter()
            .filter(|m| m.kind == SdpKind::Video && m.port != 0 && m.is_simulcast())
            .map(|m| ShardCommand::SetSimulcast {
                peer,
                stream: Box::new(simulcast_inbound(m)),
            })
            .collect();
        follow_up.push(ShardCommand::ConfigureRtcp {
            peer,
            config: Box::new(RtcpConfig {
                rtx_payload_types: remote
                    .media
                    .iter()
                    .flat_map(|m| m.rtx.iter().copied())
                    .collect(),
                nack: remote.media.iter().any(|m| m.nack),
                bitrate_cap: None,
                slowlink_threshold: self.slowlink_threshold,
            }),
        });
        for command in follow_up {
            let _ = self.dataplane.send(shard, command);
        }
        media.created = true;
        if let Some(load) = self.load.get_mut(usize::from(shard.0)) {
            *load += 1;
        }
        Ok(())
    }

    /// Closes the handle's PeerConnection on its shard.
    fn close(&mut self, handle: HandleId) {
        if let Some(media) = self.forget(handle)
            && media.created
        {
            let peer = peer_id(handle);
            let _ = self
                .dataplane
                .send(media.shard, ShardCommand::ClosePeer { peer });
        }
    }

    /// Drops the handle's media state (its PeerConnection is gone or going).
    fn forget(&mut self, handle: HandleId) -> Option<HandleMedia> {
        self.channels.remove(&handle);
        self.remove_forwards_of(handle);
        let media = self.handles.remove(&handle)?;
        if media.created
            && let Some(load) = self.load.get_mut(usize::from(media.shard.0))
        {
            *load = load.saturating_sub(1);
        }
        Some(media)
    }

    /// Installs a forward of `from`'s stream on `from_mid` to `to`'s `to_mid`, translating
    /// SSRC, payload types and extension ids between the two descriptions.
    fn forward(
        &mut self,
        from: HandleId,
        from_mid: &str,
        to: HandleId,
        to_mid: &str,
        layers: &PluginLayers,
    ) -> Result<(), &'static str> {
        let publisher = self
            .handles
            .get(&from)
            .ok_or("no media state for the publisher")?;
        let subscriber = self
            .handles
            .get(&to)
            .ok_or("no media state for the subscriber")?;
        let source = publisher
            .remote
            .as_ref()
            .and_then(|r| r.media_by_mid(from_mid))
            .ok_or("the publisher has no such mid")?;
        let target = subscriber
            .local
            .as_ref()
            .and_then(|l| l.media_by_mid(to_mid))
            .ok_or("the subscriber has no such mid")?;
        let source_ssrc = if source.is_simulcast() {
            simulcast_key(source)
        } else {
            publisher_ssrc(source).ok_or("the publisher announced no SSRC for the mid")?
        };
        let ssrc = target
            .ssrcs
            .first()
            .map(|s| s.ssrc)
            .ok_or("the subscriber's m-line sends nothing")?;
        let key = StreamKey {
            publisher: peer_id(from),
            ssrc: source_ssrc,
        };
        let sub = Subscription {
            subscriber: peer_id(to),
            source: key,
            source_shard: publisher.shard,
            ssrc,
            rtx: subscriber_rtx(subscriber, target),
            payload_types: payload_type_map(source, target),
            extensions: extension_map(source, target),
            clock_rate: target.codecs.first().map_or(90_000, |c| c.clock_rate),
            kind: if target.kind == SdpKind::Audio {
                DpKind::Audio
            } else {
                DpKind::Video
            },
            codec: (target.kind == SdpKind::Video)
                .then(|| {
                    target
                        .codecs
                        .first()
                        .and_then(|c| VideoCodec::from_encoding_name(&c.name))
                })
                .flatten(),
            simulcast: source.is_simulcast().then(|| layer_prefs(layers)),
        };
        let (subscriber_shard, source_shard) = (subscriber.shard, publisher.shard);
        self.unforward(to, to_mid);
        self.dataplane
            .add_forward(subscriber_shard, sub)
            .map_err(|_| "the dataplane refused the forward")?;
        self.forwards
            .insert((to, to_mid.to_owned()), (key, source_shard));
        Ok(())
    }

    fn unforward(&mut self, to: HandleId, to_mid: &str) {
        let Some((source, source_shard)) = self.forwards.remove(&(to, to_mid.to_owned())) else {
            return;
        };
        if let Some(subscriber) = self.handles.get(&to) {
            let _ =
                self.dataplane
                    .remove_forward(subscriber.shard, peer_id(to), source, source_shard);
        }
    }

    /// Removes every forward `handle` receives or feeds.
    fn remove_forwards_of(&mut self, handle: HandleId) {
        let involved: Vec<(HandleId, String)> = self
            .forwards
            .iter()
            .filter(|((to, _), (source, _))| *to == handle || source.publisher == peer_id(handle))
            .map(|(k, _)| k.clone())
            .collect();
        for (to, mid) in involved {
            self.unforward(to, &mid);
        }
    }

    fn request_keyframe(&self, handle: HandleId, mid: Option<&str>) -> Result<(), &'static str> {
        let media = self.handles.get(&handle).ok_or("no media state")?;
        let remote = media.remote.as_ref().ok_or("no remote description")?;
        let shard = media.shard;
        let video = remote
            .media
            .iter()
            .filter(|m| m.kind == SdpKind::Video && mid.is_none_or(|x| m.mid.as_str() == x));
        let sources: Vec<u32> = video.filter_map(publisher_ssrc).collect();
        for ssrc in sources {
            let source = StreamKey {
                publisher: peer_id(handle),
                ssrc,
            };
            let _ = self
                .dataplane
                .send(shard, ShardCommand::RequestKeyframe { source });
        }
        Ok(())
    }

    fn send_data(
        &self,
        handle: HandleId,
        label: Option<&str>,
        binary: bool,
        data: Vec<u8>,
    ) -> Result<(), &'static str> {
        let shard = self.handles.get(&handle).ok_or("no media state")?.shard;
        let channels = self
            .channels
            .get(&handle)
            .ok_or("no data channel is open")?;
        let channel = label
            .and_then(|l| channels.iter().find(|(_, name)| name == l))
            .or_else(|| channels.first())
            .map(|(id, _)| *id)
            .ok_or("no data channel is open")?;
        let kind = if binary {
            MessageKind::Binary
        } else {
            MessageKind::String
        };
        let command = ShardCommand::SendData {
            peer: peer_id(handle),
            channel,
            kind,
            data,
        };
        self.dataplane
            .send(shard, command)
            .map_err(|_| "the dataplane refused the message")
    }

    /// Changes what a simulcast subscription selects.
    fn set_layers(
        &self,
        to: HandleId,
        to_mid: &str,
        layers: &PluginLayers,
    ) -> Result<(), &'static str> {
        let subscriber = self.handles.get(&to).ok_or("no media state")?;
        let target = subscriber
            .local
            .as_ref()
            .and_then(|l| l.media_by_mid(to_mid))
            .ok_or("the subscriber has no such mid")?;
        let ssrc = target
            .ssrcs
            .first()
            .map(|s| s.ssrc)
            .ok_or("the m-line sends nothing")?;
        let prefs = layer_prefs(layers);
        let command = ShardCommand::SetLayers {
            subscriber: peer_id(to),
            ssrc,
            substream: Some(prefs.substream),
            temporal: Some(prefs.temporal),
            fallback: Some(prefs.fallback),
        };
        self.dataplane
            .send(subscriber.shard, command)
            .map_err(|_| "the dataplane refused the layers")
    }

    /// Caps the REMB sent to `handle`'s peer (0: no cap).
    fn set_bitrate_cap(&self, handle: HandleId, bitrate: u32) -> Result<(), &'static str> {
        let media = self.handles.get(&handle).ok_or("no media state")?;
        let command = ShardCommand::SetBitrateCap {
            peer: peer_id(handle),
            bitrate: (bitrate > 0).then_some(u64::from(bitrate)),
        };
        self.dataplane
            .send(media.shard, command)
            .map_err(|_| "the dataplane refused the cap")
    }

    /// Opens a Streaming mountpoint's RTP input on the least loaded shard.
    fn open_rtp_input(&mut self, input: &PluginRtpInput) -> Result<(), &'static str> {
        let kind = match input.kind {
            InputKind::Audio => DpKind::Audio,
            InputKind::Video => DpKind::Video,
            InputKind::Data => return Err("data inputs are not supported by the dataplane yet"),
        };
        let (codec_name, clock_rate) = rtpmap_codec(input.rtpmap.as_deref(), kind);
        let codec = codec_name
            .as_deref()
            .and_then(VideoCodec::from_encoding_name);
        let srtp = input
            .srtp
            .as_ref()
            .map(|(suite, key)| srtp_key(*suite, key))
            .transpose()?;
        let bind = input
            .iface
            .as_deref()
            .and_then(|i| i.parse().ok())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let source = StreamKey {
            publisher: PeerId::input(input.mountpoint),
            ssrc: mid_key(&input.mid),
        };
        let shard = self.least_loaded_shard();
        self.close_rtp_input(input.mountpoint, &input.mid);
        let command = RtpInput {
            reply: ReplyTo(input.mountpoint),
            source,
            mid: input.mid.clone(),
            kind,
            codec,
            clock_rate,
            bind,
            ports: input.ports.clone(),
            buffer_keyframe: input.buffer_keyframe,
            srtp,
        };
        self.dataplane
            .send(shard, ShardCommand::OpenRtpInput(Box::new(command)))
            .map_err(|_| "the dataplane refused the input")?;
        let state = InputState {
            source,
            shard,
            payload_type: input.payload_type,
            codec,
            clock_rate,
            kind,
            simulcast: input.ports.len() > 1,
        };
        self.inputs
            .insert((input.mountpoint, input.mid.clone()), state);
        Ok(())
    }

    fn close_rtp_input(&mut self, mountpoint: u64, mid: &str) {
        let Some(input) = self.inputs.remove(&(mountpoint, mid.to_owned())) else {
            return;
        };
        let _ = self.dataplane.send(
            input.shard,
            ShardCommand::CloseRtpInput {
                source: input.source,
            },
        );
        // Viewers' forwards end with the input.
        self.forwards
            .retain(|_, (source, _)| *source != input.source);
    }

    /// Forwards a mountpoint stream to a viewer's m-line.
    fn forward_mountpoint(
        &mut self,
        mountpoint: u64,
        mid: &str,
        to: HandleId,
        to_mid: &str,
        layers: &PluginLayers,
    ) -> Result<(), &'static str> {
        let input = self
            .inputs
            .get(&(mountpoint, mid.to_owned()))
            .ok_or("no such mountpoint input")?;
        let viewer = self
            .handles
            .get(&to)
            .ok_or("no media state for the viewer")?;
        let target = viewer
            .local
            .as_ref()
            .and_then(|l| l.media_by_mid(to_mid))
            .ok_or("the viewer has no such mid")?;
        let ssrc = target
            .ssrcs
            .first()
            .map(|s| s.ssrc)
            .ok_or("the viewer's m-line sends nothing")?;
        let payload_types = match (input.payload_type, target.codecs.first()) {
            (Some(from), Some(codec)) => vec![(from, codec.payload_type)],
            _ => Vec::new(),
        };
        let sub = Subscription {
            subscriber: peer_id(to),
            source: input.source,
            source_shard: input.shard,
            ssrc,
            rtx: subscriber_rtx(viewer, target),
            payload_types,
            extensions: ExtIdMap::new(),
            clock_rate: input.clock_rate,
            kind: input.kind,
            codec: input.codec,
            simulcast: input.simulcast.then(|| layer_prefs(layers)),
        };
        let (viewer_shard, key, input_shard) = (viewer.shard, input.source, input.shard);
        self.unforward(to, to_mid);
        self.dataplane
            .add_forward(viewer_shard, sub)
            .map_err(|_| "the dataplane refused the forward")?;
        self.forwards
            .insert((to, to_mid.to_owned()), (key, input_shard));
        Ok(())
    }

    /// Starts a VideoRoom RTP forwarder: a copy of `from`'s stream on `mid` to `host:port`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the fields of one rtp_forward request"
    )]
    fn rtp_forward(
        &mut self,
        id: u32,
        from: HandleId,
        mid: &str,
        (host, port): (&str, u16),
        ssrc: Option<u32>,
        payload_type: Option<u8>,
        srtp: Option<&(u8, String)>,
    ) -> Result<(), &'static str> {
        let publisher = self
            .handles
            .get(&from)
            .ok_or("no media state for the publisher")?;
        let media = publisher
            .remote
            .as_ref()
            .and_then(|r| r.media_by_mid(mid))
            .ok_or("the publisher has no such mid")?;
        let source_ssrc = if media.is_simulcast() {
            simulcast_key(media)
        } else {
            publisher_ssrc(media).ok_or("the publisher announced no SSRC for the mid")?
        };
        // Janus resolves names; this control thread must not block on DNS, so only
        // addresses are taken for now.
        let ip: IpAddr = host
            .parse()
            .map_err(|_| "rtp_forward host is not an IP address")?;
        let srtp = srtp.map(|(suite, key)| srtp_key(*suite, key)).transpose()?;
        let output = RtpOutput {
            id: RtpOutputId(u64::from(id)),
            source: StreamKey {
                publisher: peer_id(from),
                ssrc: source_ssrc,
            },
            substream: 0,
            destination: SocketAddr::new(ip, port),
            ssrc: ssrc.unwrap_or_else(rand::random),
            payload_type,
            clock_rate: media.codecs.first().map_or(90_000, |c| c.clock_rate),
            srtp,
        };
        let shard = publisher.shard;
        self.dataplane
            .send(shard, ShardCommand::AddRtpOutput(Box::new(output)))
            .map_err(|_| "the dataplane refused the forwarder")?;
        self.rtp_outputs.insert(id, shard);
        Ok(())
    }

    fn stop_rtp_forward(&mut self, id: u32) {
        if let Some(shard) = self.rtp_outputs.remove(&id) {
            let command = ShardCommand::RemoveRtpOutput {
                id: RtpOutputId(u64::from(id)),
            };
            let _ = self.dataplane.send(shard, command);
        }
    }

    /// Asks a shard for the statistics of its connected PeerConnections (for Admin
    /// `handle_info`); the answers arrive as `PeerStats` events.
    fn request_peer_stats(&self, shard: ShardId) {
        let connected = self
            .handles
            .iter()
            .filter(|(_, m)| m.shard == shard && m.connected.is_some());
        for (handle, _) in connected {
            let command = ShardCommand::GetPeerStats {
                peer: peer_id(*handle),
                reply: ReplyTo(handle.0),
            };
            let _ = self.dataplane.send(shard, command);
        }
    }

    fn ssrc_source(&mut self) -> impl FnMut() -> u32 + '_ {
        move || {
            self.next_ssrc = self.next_ssrc.wrapping_add(2);
            self.next_ssrc
        }
    }
}

/// The [`MediaEngine`] the host calls.
pub(crate) struct WebRtcEngine(pub(crate) Rc<RefCell<Shared>>);

impl MediaEngine for WebRtcEngine {
    fn handle_remote_jsep(
        &mut self,
        _now: Instant,
        handle: HandleId,
        jsep: &Jsep,
        _renegotiation: bool,
    ) -> Result<Jsep, ApiError> {
        let sdp_type = match jsep.kind {
            JsepType::Offer => SdpType::Offer,
            JsepType::Answer => SdpType::Answer,
        };
        let remote = RemoteDescription::parse(&jsep.sdp, sdp_type).map_err(|e| sdp_error(&e))?;
        let plugin_view = jsep::anonymize(&remote.sdp).map_err(|e| sdp_error(&e))?;
        let mut shared = self.0.borrow_mut();
        let dtls_role = match jsep.kind {
            JsepType::Offer => {
                if !shared.handles.contains_key(&handle) {
                    let media = shared.new_handle_media();
                    shared.handles.insert(handle, media);
                }
                remote.dtls_role
            }
            JsepType::Answer => {
                let media = shared.handles.get_mut(&handle).ok_or_else(|| {
                    ApiError::new(
                        JanusCode::UnexpectedAnswer,
                        "Unexpected ANSWER (did we offer?)",
                    )
                })?;
                let ctx = media.merge.as_mut().ok_or_else(|| unknown_handle(handle))?;
                ctx.apply_remote_answer(&remote);
                ctx.dtls_role
            }
        };
        let media = shared
            .handles
            .get_mut(&handle)
            .ok_or_else(|| unknown_handle(handle))?;
        media.kinds = media_kinds(&remote);
        media.remote = Some(remote);
        // A client offer can be acted on now; an answer completes our own offer.
        shared.create_peer(handle, dtls_role)?;
        let mut out = Jsep::new(jsep.kind, plugin_view.to_string());
        out.update = jsep.update;
        Ok(out)
    }

    fn handle_local_jsep(
        &mut self,
        _now: Instant,
        handle: HandleId,
        jsep: &Jsep,
    ) -> Result<Jsep, ApiError> {
        let plugin_sdp = Sdp::parse(&jsep.sdp).map_err(|e| sdp_error(&e))?;
        let mut shared = self.0.borrow_mut();
        if !shared.handles.contains_key(&handle) {
            let media = shared.new_handle_media();
            shared.handles.insert(handle, media);
        }
        let (shard, ice, previous, remote) = {
            let media = shared
                .handles
                .get(&handle)
                .ok_or_else(|| unknown_handle(handle))?;
            (
                media.shard,
                media.local_ice.clone(),
                media.merge.clone(),
                media.remote.clone(),
            )
        };
        let transport = shared.transport(shard, &ice);
        let ctx = {
            let mut next_ssrc = shared.ssrc_source();
            match (jsep.kind, &remote) {
                (JsepType::Answer, Some(remote)) => {
                    MergeContext::for_answer(remote, transport, &mut next_ssrc)
                }
                (JsepType::Answer, None) => {
                    return Err(ApiError::new(
                        JanusCode::UnexpectedAnswer,
                        "Unexpected ANSWER (no offer to answer)",
                    ));
                }
                (JsepType::Offer, _) => MergeContext::for_offer(
                    &plugin_sdp,
                    transport,
                    previous.as_ref(),
                    &mut next_ssrc,
                )
                .map_err(|e| sdp_error(&e))?,
            }
        };
        let merged = jsep::merge(&plugin_sdp, &ctx)
            .map_err(|e| sdp_error(&e))?
            .to_string();
        let own_type = match jsep.kind {
            JsepType::Offer => SdpType::Offer,
            JsepType::Answer => SdpType::Answer,
        };
        let local = RemoteDescription::parse(&merged, own_type).map_err(|e| sdp_error(&e))?;
        if let Some(media) = shared.handles.get_mut(&handle) {
            media.merge = Some(ctx);
            media.local = Some(local);
        }
        Ok(Jsep::new(jsep.kind, merged))
    }

    fn handle_trickle(
        &mut self,
        _now: Instant,
        _handle: HandleId,
        _candidates: &[Value],
        _completed: bool,
    ) {
        // ICE-lite: the client's checks tell the shard its addresses; trickled candidates
        // add nothing a lite agent could use.
    }

    fn handle_close(&mut self, _now: Instant, handle: HandleId, _reason: CloseReason) {
        self.0.borrow_mut().close(handle);
    }

    fn handle_media_command(&mut self, _now: Instant, command: MediaCommand) {
        let mut shared = self.0.borrow_mut();
        let outcome = match command {
            MediaCommand::Forward {
                from,
                from_mid,
                to,
                to_mid,
                layers,
            } => shared.forward(from, &from_mid, to, &to_mid, &layers),
            MediaCommand::Unforward { to, to_mid } => {
                shared.unforward(to, &to_mid);
                Ok(())
            }
            MediaCommand::SetSending {
                to,
                to_mid,
                send: false,
            } => {
                shared.unforward(to, &to_mid);
                Ok(())
            }
            MediaCommand::RequestKeyframe { handle, mid } => {
                shared.request_keyframe(handle, mid.as_deref())
            }
            MediaCommand::SendData {
                handle,
                label,
                binary,
                data,
            } => shared.send_data(handle, label.as_deref(), binary, data),
            MediaCommand::OpenRtpInput(input) => shared.open_rtp_input(&input),
            MediaCommand::CloseRtpInput { mountpoint, mid } => {
                shared.close_rtp_input(mountpoint, &mid);
                Ok(())
            }
            MediaCommand::ForwardMountpoint {
                mountpoint,
                mid,
                to,
                to_mid,
                layers,
            } => shared.forward_mountpoint(mountpoint, &mid, to, &to_mid, &layers),
            MediaCommand::RtpForward {
                id,
                from,
                mid,
                host,
                port,
                ssrc,
                payload_type,
                srtp,
            } => shared.rtp_forward(
                id,
                from,
                &mid,
                (&host, port),
                ssrc,
                payload_type,
                srtp.as_ref(),
            ),
            MediaCommand::StopRtpForward { id } => {
                shared.stop_rtp_forward(id);
                Ok(())
            }
            MediaCommand::SetLayers { to, to_mid, layers } => {
                shared.set_layers(to, &to_mid, &layers)
            }
            MediaCommand::SetBitrateCap { handle, bitrate } => {
                shared.set_bitrate_cap(handle, bitrate)
            }
            other => {
                tracing::debug!(?other, "media command not wired to the dataplane yet");
                Ok(())
            }
        };
        if let Err(why) = outcome {
            tracing::debug!(why, "media command dropped");
        }
    }

    fn handle_info(&self, handle: HandleId) -> Option<Map<String, Value>> {
        let shared = self.0.borrow();
        let media = shared.handles.get(&handle)?;
        Some(handle_info_json(media, &shared.fingerprint))
    }
}

/// Moves dataplane events into the control plane on every loop round.
pub(crate) struct EngineHook(pub(crate) Rc<RefCell<Shared>>);

impl LoopHook for EngineHook {
    fn on_round(&mut self, now: Instant, cp: &mut ControlPlane) {
        loop {
            let event = self.0.borrow().dataplane.try_recv();
            let Some(event) = event else { break };
            match event {
                ShardEvent::DataChannelOpen {
                    peer,
                    channel,
                    label,
                    ..
                } => {
                    let mut shared = self.0.borrow_mut();
                    shared
                        .channels
                        .entry(handle_id(peer))
                        .or_default()
                        .push((channel, label));
                }
                ShardEvent::DataChannelMessage {
                    peer,
                    channel,
                    kind,
                    data,
                } => {
                    let handle = handle_id(peer);
                    let label = self.channel_label(handle, channel);
                    cp.handle_data(now, handle, label, kind == MessageKind::Binary, data);
                }
                ShardEvent::Stats(stats) => {
                    let counters = &stats.counters;
                    let drops = DropReason::ALL
                        .iter()
                        .map(|r| (r.name().to_owned(), counters.drops(*r)))
                        .collect();
                    let shard = ShardCounters {
                        packets_in: counters.rx_datagrams,
                        packets_out: counters.tx_datagrams,
                        bytes_in: counters.rx_bytes,
                        bytes_out: counters.tx_bytes,
                        drops,
                        peers: u64::from(stats.peers),
                        forwards: u64::from(stats.forwards),
                    };
                    cp.set_shard_counters(stats.shard.0, shard);
                    self.0.borrow().request_peer_stats(stats.shard);
                }
                ShardEvent::PeerStats(stats) => {
                    let mut shared = self.0.borrow_mut();
                    if let Some(media) = shared.handles.get_mut(&handle_id(stats.peer)) {
                        media.stats = Some(stats);
                    }
                }
                other => {
                    if let Some((handle, event)) = self.translate(other) {
                        cp.handle_peer_event(now, handle, event);
                    }
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // Idle, only the shards' periodic statistics arrive: look less often.
        let interval = if self.0.borrow().handles.is_empty() {
            IDLE_POLL_INTERVAL
        } else {
            EVENT_POLL_INTERVAL
        };
        Some(Instant::now() + interval)
    }
}

impl EngineHook {
    fn channel_label(&self, handle: HandleId, channel: ChannelId) -> Option<String> {
        let shared = self.0.borrow();
        let channels = shared.channels.get(&handle)?;
        channels
            .iter()
            .find(|(id, _)| *id == channel)
            .map(|(_, label)| label.clone())
    }

    fn translate(&self, event: ShardEvent) -> Option<(HandleId, PeerEvent)> {
        match event {
            ShardEvent::PeerConnected { peer, profile } => {
                let handle = handle_id(peer);
                if let Some(media) = self.0.borrow_mut().handles.get_mut(&handle) {
                    media.connected = Some(profile);
                }
                Some((handle, PeerEvent::WebrtcUp))
            }
            ShardEvent::Media {
                peer,
                mid,
                receiving,
                ..
            } => {
                let handle = handle_id(peer);
                let mid = mid?;
                let kind = self
                    .0
                    .borrow()
                    .handles
                    .get(&handle)?
                    .kinds
                    .get(&mid)
                    .copied()?;
                Some((
                    handle,
                    PeerEvent::Media {
                        mid,
                        kind,
                        substream: None,
                        receiving,
                    },
                ))
            }
            ShardEvent::SlowLink { peer, uplink, lost } => {
                let handle = handle_id(peer);
                let shared = self.0.borrow();
                let kinds = &shared.handles.get(&handle)?.kinds;
                // The dataplane counts per PeerConnection; Janus names an m-line: the video
                // one when there is one, where losses matter most.
                let (mid, kind) = kinds
                    .iter()
                    .min_by_key(|(mid, kind)| (**kind != MediaKind::Video, (*mid).clone()))
                    .map(|(mid, kind)| (mid.clone(), *kind))?;
                // Janus's `uplink` is from its own side: true means trouble on what it sends.
                // The dataplane's means media the peer sends us is being lost.
                Some((
                    handle,
                    PeerEvent::SlowLink {
                        mid,
                        kind,
                        uplink: !uplink,
                        lost,
                    },
                ))
            }
            ShardEvent::Hangup { peer, reason } => {
                let handle = handle_id(peer);
                // The shard already dropped the PeerConnection.
                self.0.borrow_mut().forget(handle);
                let reason = hangup_reason(reason.janus_reason());
                Some((handle, PeerEvent::Hangup { reason }))
            }
            _ => None,
        }
    }
}

fn create_peer_command(
    handle: HandleId,
    media: &HandleMedia,
    remote: &RemoteDescription,
    dtls_role: jsep::DtlsRole,
) -> Result<CreatePeer, ApiError> {
    let fingerprint = remote
        .fingerprint
        .as_ref()
        .and_then(|f| Fingerprint::from_sdp(&format!("{} {}", f.hash, f.value)).ok())
        .ok_or_else(|| {
            ApiError::new(
                JanusCode::JsepInvalidSdp,
                "SDP missing mandatory information",
            )
        })?;
    let remote_credentials =
        IceCredentials::new(&remote.ice_ufrag, &remote.ice_pwd).map_err(|_| {
            ApiError::new(
                JanusCode::JsepInvalidSdp,
                "SDP missing mandatory information",
            )
        })?;
    let data_channels = remote
        .media
        .iter()
        .find(|m| m.kind == SdpKind::Application && m.port != 0)
        .map(|m| SctpConfig {
            max_message_size_remote: m
                .max_message_size
                .map_or(65_536, |v| u32::try_from(v).unwrap_or(u32::MAX)),
            ..SctpConfig::default()
        });
    let inbound = remote
        .media
        .iter()
        .filter(|m| m.kind != SdpKind::Application && m.port != 0)
        .flat_map(|m| {
            let kind = if m.kind == SdpKind::Audio {
                DpKind::Audio
            } else {
                DpKind::Video
            };
            m.peer_ssrcs
                .iter()
                .zip(m.peer_rtx_ssrcs.iter())
                .filter_map(move |(ssrc, rtx)| {
                    ssrc.map(|ssrc| InboundStream {
                        ssrc,
                        rtx_ssrc: *rtx,
                        mid: m.mid.to_string(),
                        kind,
                    })
                })
        })
        .collect();
    Ok(CreatePeer {
        peer: peer_id(handle),
        reply: ReplyTo(handle.0),
        local_credentials: media.local_ice.clone(),
        remote_credentials: Some(remote_credentials),
        dtls_role: match dtls_role {
            jsep::DtlsRole::Client => DtlsRole::Client,
            jsep::DtlsRole::Server => DtlsRole::Server,
        },
        remote_fingerprint: fingerprint,
        data_channels,
        inbound,
    })
}

/// The forwarding key of a simulcast m-line: its substream-0 SSRC when the SDP names one,
/// else a value derived from the m-line index that no real SSRC of the peer is likely to
/// take (rid-only offers name no SSRC at all).
fn simulcast_key(media: &RemoteMedia) -> u32 {
    media.peer_ssrcs[0]
        .or(media.fallback_ssrc)
        .unwrap_or(0x5157_0000 | u32::try_from(media.index & 0xffff).unwrap_or(0))
}

/// What the dataplane needs to know of a simulcast m-line.
fn simulcast_inbound(media: &RemoteMedia) -> SimulcastInbound {
    let ext = |uri: &str| {
        media
            .extmaps
            .iter()
            .find(|e| e.uri == uri)
            .and_then(|e| u8::try_from(e.id).ok())
    };
    SimulcastInbound {
        key: simulcast_key(media),
        mid: media.mid.to_string(),
        ssrcs: media.peer_ssrcs,
        rtx_ssrcs: media.peer_rtx_ssrcs,
        rids: media.simulcast_rids.clone().map(|r| r.map(|r| r.0)),
        rid_ext: ext(portunus_sdp::extension::RID),
        repaired_rid_ext: ext(portunus_sdp::extension::REPAIRED_RID),
        mid_ext: ext(portunus_sdp::extension::MID),
    }
}

/// Admin `handle_info`'s ICE/DTLS/media sections, in Janus's shape (admin.md §5) as far as
/// this server has the facts.
fn handle_info_json(media: &HandleMedia, fingerprint: &str) -> Map<String, Value> {
    let mut info = Map::new();
    info.insert("ice-mode".into(), "lite".into());
    info.insert("ice-role".into(), "controlled".into());
    let mut sdps = Map::new();
    if let Some(remote) = &media.remote {
        sdps.insert(
            "profile".into(),
            remote.rtp_profile.clone().unwrap_or_default().into(),
        );
        sdps.insert("remote".into(), remote.sdp.to_string().into());
    }
    if let Some(local) = &media.local {
        sdps.insert("local".into(), local.sdp.to_string().into());
    }
    info.insert("sdps".into(), Value::Object(sdps));
    let state = if media.connected.is_some() {
        "connected"
    } else {
        "checking"
    };
    let ice = serde_json::json!({
        "state": state,
        "shard": media.shard.0,
        "local-ufrag": media.local_ice.ufrag(),
        "remote-ufrag": media.remote.as_ref().map(|r| r.ice_ufrag.clone()),
        "ready": u8::from(media.connected.is_some()),
    });
    let remote_fp = media.remote.as_ref().and_then(|r| r.fingerprint.as_ref());
    let dtls_role = media.merge.as_ref().map(|m| match m.dtls_role {
        jsep::DtlsRole::Client => "active",
        jsep::DtlsRole::Server => "passive",
    });
    let dtls = serde_json::json!({
        "fingerprint": fingerprint,
        "remote-fingerprint": remote_fp.map(|f| f.value.clone()),
        "remote-fingerprint-hash": remote_fp.map(|f| f.hash.clone()),
        "dtls-role": dtls_role,
        "dtls-state": if media.connected.is_some() { "connected" } else { "created" },
        "srtp-profile": media.connected.map(srtp_profile_name),
        "ready": media.connected.is_some(),
    });
    let mut webrtc = Map::new();
    webrtc.insert("ice".into(), ice);
    webrtc.insert("dtls".into(), dtls);
    webrtc.insert("media".into(), Value::Object(media_info(media)));
    info.insert("webrtc".into(), Value::Object(webrtc));
    info
}

/// The `media` map of `handle_info`, keyed by m-line index, with the shard's statistics.
fn media_info(media: &HandleMedia) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(remote) = &media.remote else {
        return out;
    };
    for m in &remote.media {
        let kind = match m.kind {
            SdpKind::Audio => "audio",
            SdpKind::Video => "video",
            SdpKind::Application => "data",
        };
        let mut entry =
            serde_json::json!({"type": kind, "mindex": m.index, "mid": m.mid.to_string()});
        let ours = media
            .local
            .as_ref()
            .and_then(|l| l.media_by_mid(m.mid.as_str()));
        if m.kind != SdpKind::Application {
            let ssrc = ours.and_then(|o| o.ssrcs.first()).map(|s| s.ssrc);
            entry["ssrc"] = serde_json::json!({"ssrc": ssrc, "ssrc-peer": publisher_ssrc(m)});
            if let Some(codec) = ours.and_then(|o| o.codecs.first()) {
                entry["codecs"] = serde_json::json!({"pt": codec.payload_type, "codec": codec.name.to_lowercase()});
            }
        }
        if let Some(stats) = &media.stats {
            let inbound = stats
                .inbound
                .iter()
                .filter(|s| s.mid.as_deref() == Some(m.mid.as_str()));
            let (packets_in, bytes_in, nacks_in, lost_in) =
                inbound.fold((0, 0, 0, 0i64), |a, s| {
                    (
                        a.0 + s.packets,
                        a.1 + s.bytes,
                        a.2 + s.nacks_sent,
                        a.3 + s.lost,
                    )
                });
            let ssrc = ours.and_then(|o| o.ssrcs.first()).map(|s| s.ssrc);
            let outbound = stats.outbound.iter().filter(|s| Some(s.ssrc) == ssrc);
            let (packets_out, bytes_out, nacks_out, rtt) = outbound
                .fold((0, 0, 0, None), |a, s| {
                    (a.0 + s.packets, a.1 + s.bytes, a.2 + s.nacks, a.3.or(s.rtt))
                });
            entry["stats"] = serde_json::json!({
                "in": {"packets": packets_in, "bytes": bytes_in, "nacks": nacks_in},
                "out": {"packets": packets_out, "bytes": bytes_out, "nacks": nacks_out},
            });
            entry["rtcp"] = serde_json::json!({"main": {
                "lost": lost_in,
                "rtt": rtt.map(|r: Duration| u64::try_from(r.as_millis()).unwrap_or(u64::MAX)),
            }});
        }
        out.insert(m.index.to_string(), entry);
    }
    out
}

/// OpenSSL's name of a DTLS-SRTP profile, as Janus reports it.
fn srtp_profile_name(profile: portunus_srtp::SrtpProfile) -> &'static str {
    match profile {
        portunus_srtp::SrtpProfile::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
        portunus_srtp::SrtpProfile::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_SHA1_32",
        portunus_srtp::SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
        _ => "SRTP_AEAD_AES_256_GCM",
    }
}

/// A mountpoint stream's forwarding key: stable per mid, so a re-opened input keeps it.
fn mid_key(mid: &str) -> u32 {
    // FNV-1a: tiny, stable across runs, and good enough to keep a mountpoint's few mids apart.
    mid.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The codec name and clock rate of an `rtpmap` value such as `VP8/90000`.
fn rtpmap_codec(rtpmap: Option<&str>, kind: DpKind) -> (Option<String>, u32) {
    let default_rate = if kind == DpKind::Audio {
        48_000
    } else {
        90_000
    };
    let Some(rtpmap) = rtpmap else {
        return (None, default_rate);
    };
    let mut parts = rtpmap.split('/');
    let name = parts
        .next()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let rate = parts
        .next()
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(default_rate);
    (name, rate)
}

/// Janus's `srtpsuite` (32 or 80) and base64 `srtpcrypto` (master key then salt).
fn srtp_key(suite: u8, key: &str) -> Result<SrtpKey, &'static str> {
    use base64::Engine as _;
    let profile = match suite {
        32 => portunus_srtp::SrtpProfile::Aes128CmHmacSha1_32,
        80 => portunus_srtp::SrtpProfile::Aes128CmHmacSha1_80,
        _ => return Err("SRTP suite must be 32 or 80"),
    };
    let key_and_salt = base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .map_err(|_| "SRTP key is not base64")?;
    Ok(SrtpKey {
        profile,
        key_and_salt,
    })
}

fn layer_prefs(layers: &PluginLayers) -> LayerPrefs {
    LayerPrefs {
        substream: layers.substream.min(2),
        temporal: layers.temporal.min(2),
        fallback: Duration::from_micros(layers.fallback_us),
    }
}

/// The SSRC a publisher's m-line sends its (lowest) stream with.
fn publisher_ssrc(media: &RemoteMedia) -> Option<u32> {
    media
        .peer_ssrcs
        .iter()
        .flatten()
        .next()
        .copied()
        .or(media.fallback_ssrc)
        .or_else(|| media.ssrcs.first().map(|s| s.ssrc))
}

/// Publisher payload type → subscriber payload type, matched by codec name and clock rate;
/// RTX payload types follow their codec.
fn payload_type_map(source: &RemoteMedia, target: &RemoteMedia) -> Vec<(u8, u8)> {
    let mut map = Vec::new();
    for codec in &source.codecs {
        let Some(theirs) = target
            .codecs
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&codec.name) && c.clock_rate == codec.clock_rate)
        else {
            continue;
        };
        if codec.name.eq_ignore_ascii_case("rtx") {
            continue;
        }
        map.push((codec.payload_type, theirs.payload_type));
        if let (Some(a), Some(b)) = (codec.rtx_payload_type, theirs.rtx_payload_type) {
            map.push((a, b));
        }
    }
    map
}

/// Publisher extension id → subscriber extension id for every URI both negotiated.
fn extension_map(source: &RemoteMedia, target: &RemoteMedia) -> ExtIdMap {
    let mut map = ExtIdMap::new();
    for ext in &source.extmaps {
        let Some(theirs) = target.extmaps.iter().find(|e| e.uri == ext.uri) else {
            continue;
        };
        if let (Ok(from), Ok(to)) = (u8::try_from(ext.id), u8::try_from(theirs.id)) {
            // Only id 0 is refused, and no SDP assigns it: nothing to handle.
            let _ = map.set(from, to);
        }
    }
    map
}

/// The subscriber's RTX SSRC and payload type for the m-line, when it negotiated RTX.
fn subscriber_rtx(subscriber: &HandleMedia, target: &RemoteMedia) -> Option<(u32, u8)> {
    let state = subscriber
        .merge
        .as_ref()?
        .media
        .iter()
        .find(|m| m.mid == target.mid)?;
    let rtx_ssrc = state.rtx_ssrc?;
    let rtx_pt = target.codecs.first()?.rtx_payload_type?;
    Some((rtx_ssrc, rtx_pt))
}

fn media_kinds(remote: &RemoteDescription) -> HashMap<String, MediaKind> {
    remote
        .media
        .iter()
        .filter_map(|m| match m.kind {
            SdpKind::Audio => Some((m.mid.to_string(), MediaKind::Audio)),
            SdpKind::Video => Some((m.mid.to_string(), MediaKind::Video)),
            SdpKind::Application => None,
        })
        .collect()
}

/// Handle ids are unique across sessions, so they name PeerConnections too.
fn peer_id(handle: HandleId) -> PeerId {
    PeerId(handle.0)
}

fn handle_id(peer: PeerId) -> HandleId {
    HandleId(peer.0)
}

fn hangup_reason(janus_text: &str) -> HangupReason {
    match janus_text {
        "ICE failed" => HangupReason::IceFailed,
        "DTLS alert" => HangupReason::DtlsAlert,
        "DTLS timeout" => HangupReason::DtlsTimeout,
        "DTLS-SRTP stack error" => HangupReason::DtlsSrtpError,
        _ => HangupReason::DtlsError,
    }
}

fn sdp_error(error: &portunus_sdp::SdpError) -> ApiError {
    ApiError::new(JanusCode::JsepInvalidSdp, error.janus_reason())
}

fn unknown_handle(handle: HandleId) -> ApiError {
    ApiError::new(
        JanusCode::HandleNotFound,
        format!("No such handle {}", handle.0),
    )
}

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
//! - Streaming mountpoints open plain-RTP inputs on a shard and forward them to viewers
//!   (`data` streams: UDP inputs whose datagrams reach the viewers' data channels);
//!   VideoRoom `rtp_forward` starts plain or SRTP RTP outputs on the publisher's shard.
//!
//! Not wired yet: host names in `rtp_forward` (resolving
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
    CreatePeer, DataInput, DataSubscription, Dataplane, DropReason, InboundStream, LayerPrefs,
    MediaKind as DpKind, PeerId, PeerStats, ReplyTo, RtcpConfig, RtpInput, RtpOutput, RtpOutputId,
    ShardCommand, ShardEvent, ShardId, SimulcastInbound, SrtpKey, StreamKey, Subscription,
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

mod forwarding;
mod info;
mod mix;
mod plain;

use forwarding::{audio_level_ext, dataplane_kind, simulcast_inbound};
use info::handle_info_json;
use plain::InputState;

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
    /// Audio mixes (AudioBridge) and the mixer thread.
    mix: mix::MixState,
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
            mix: mix::MixState::default(),
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
            let family: Vec<IpAddr> = self
                .ice_ips
                .iter()
                .copied()
                .filter(|ip| ip.is_ipv4() == addr.is_ipv4())
                .collect();
            // Configured addresses win over a specific bound one too (a 1:1 NAT in front of
            // `general.interface`); a wildcard bind has only them.
            let ips = if family.is_empty() && !addr.ip().is_unspecified() {
                vec![addr.ip()]
            } else {
                family
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
                // One id for the whole BUNDLE: the first m-line that maps it.
                twcc_ext: remote
                    .media
                    .iter()
                    .flat_map(|m| m.extmaps.iter())
                    .find(|e| e.uri == portunus_sdp::extension::TRANSPORT_WIDE_CC)
                    .and_then(|e| u8::try_from(e.id).ok()),
                audio_level_ext: audio_level_ext(remote),
            }),
        });
        let _ = self.dataplane.send_all(shard, follow_up);
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
        self.leave_mix(handle);
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
        if let Err(why) = shared.apply_pending_mix(handle) {
            tracing::debug!(why, "mix join dropped");
        }
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
        if let Err(why) = shared.apply_pending_mix(handle) {
            tracing::debug!(why, "mix join dropped");
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
            MediaCommand::SetSending { to, to_mid, send } => shared.set_sending(to, &to_mid, send),
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
            MediaCommand::OpenMix(room) => shared.open_mix(room),
            MediaCommand::CloseMix { mix } => {
                shared.close_mix(mix);
                Ok(())
            }
            MediaCommand::JoinMix {
                mix,
                handle,
                mid,
                settings,
            } => shared.join_mix(mix, handle, mid, settings),
            MediaCommand::UpdateMix { handle, settings } => shared.update_mix(handle, settings),
            MediaCommand::LeaveMix { handle } => {
                shared.leave_mix(handle);
                Ok(())
            }
            MediaCommand::MixRtpForward {
                id,
                mix,
                host,
                port,
                codec,
                payload_type,
                ssrc,
                srtp,
            } => shared.mix_rtp_forward(
                id,
                mix,
                (&host, port),
                codec,
                payload_type,
                ssrc,
                srtp.as_ref(),
            ),
            MediaCommand::StopMixRtpForward { id } => {
                shared.stop_mix_rtp_forward(id);
                Ok(())
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
                        sends: counters.tx_sends,
                        gso_sends: counters.tx_gso_sends,
                        gso_datagrams: counters.tx_gso_datagrams,
                        drops,
                        peers: u64::from(stats.peers),
                        forwards: u64::from(stats.forwards),
                    };
                    cp.set_shard_counters(stats.shard.0, shard);
                    if let Some(mixer) = self.0.borrow().mix_stats() {
                        cp.metrics_mut().mixer = mixer.named();
                    }
                    self.0.borrow().request_peer_stats(stats.shard);
                }
                ShardEvent::AudioLevel {
                    peer,
                    ssrc,
                    packets,
                    level_sum,
                } => {
                    let handle = handle_id(peer);
                    let mid = self
                        .0
                        .borrow()
                        .handles
                        .get(&handle)
                        .and_then(|m| m.audio_mid(ssrc));
                    if let Some(mid) = mid {
                        cp.handle_audio_level(now, handle, mid, packets, level_sum);
                    }
                }
                ShardEvent::LayerChanged {
                    subscriber,
                    ssrc,
                    substream,
                    temporal,
                } => {
                    let handle = handle_id(subscriber);
                    let mid = self
                        .0
                        .borrow()
                        .handles
                        .get(&handle)
                        .and_then(|m| m.sending_mid(ssrc));
                    if let Some(mid) = mid {
                        cp.handle_layer_changed(now, handle, mid, substream, temporal);
                    }
                }
                // A mix participant's return path is bound: the mixer learns its port.
                ShardEvent::RtpInputOpened {
                    source,
                    ref local_addrs,
                    ..
                } if mix::is_mix_input(source) => {
                    let to = local_addrs.first().copied();
                    self.0.borrow_mut().mix_input_opened(source, to);
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
            let kind = dataplane_kind(m.kind);
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

#[cfg(test)]
mod candidate_tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use portunus_dataplane::{Dataplane, DataplaneConfig};
    use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions};

    use super::*;

    fn shared(ice_ips: &[&str]) -> Shared {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let cert = DtlsCertificate::generate(wall).expect("certificate");
        let dtls = DtlsConfig::new(&cert, DtlsOptions::default()).expect("dtls");
        let mut dp = DataplaneConfig::new(Arc::new(dtls));
        dp.shards = 1;
        dp.pin_cores = false;
        dp.bind = vec!["127.0.0.1".parse().expect("ip")];
        let dataplane = Dataplane::start(dp).expect("dataplane");
        let ips = ice_ips.iter().map(|s| s.parse().expect("ip")).collect();
        Shared::new(dataplane, ips, String::new(), 0)
    }

    #[test]
    fn configured_addresses_replace_a_specific_bound_one() {
        // A 1:1 NAT in front of general.interface: the public address is advertised.
        let nat = shared(&["203.0.113.1"]);
        let c = nat.candidates(ShardId(0));
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains(" 203.0.113.1 "), "{c:?}");
        // keep_private_host: both, public first.
        let both = shared(&["203.0.113.1", "127.0.0.1"]);
        let c = both.candidates(ShardId(0));
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c[1].contains(" 127.0.0.1 "), "{c:?}");
        // Nothing configured for the family: the bound address itself.
        let v6_only = shared(&["2001:db8::1"]);
        let c = v6_only.candidates(ShardId(0));
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains(" 127.0.0.1 "), "{c:?}");
    }
}

//! Plain RTP endpoints: Streaming mountpoints' RTP inputs and VideoRoom's `rtp_forward`
//! outputs, placed on shards.

use super::forwarding::{forwarding_key, layer_prefs, subscriber_rtx};
use super::*;

/// A mountpoint stream fed by plain RTP.
pub(super) struct InputState {
    source: StreamKey,
    shard: ShardId,
    payload_type: Option<u8>,
    codec: Option<VideoCodec>,
    clock_rate: u32,
    kind: DpKind,
    simulcast: bool,
    /// A data input: its messages' kind and whether it keeps the latest (`buffermsg`).
    data: Option<(MessageKind, bool)>,
}

impl Shared {
    /// Opens a Streaming mountpoint's RTP (or data) input on the least loaded shard.
    pub(super) fn open_rtp_input(&mut self, input: &PluginRtpInput) -> Result<(), &'static str> {
        let kind = match input.kind {
            InputKind::Audio => DpKind::Audio,
            InputKind::Video => DpKind::Video,
            InputKind::Data => return self.open_data_input(input),
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
            data: None,
        };
        self.inputs
            .insert((input.mountpoint, input.mid.clone()), state);
        Ok(())
    }

    /// Opens a mountpoint's `data` stream: its datagrams become data-channel messages to
    /// the viewers ([`RtpInput::buffer_keyframe`] carries `buffermsg` for a data stream).
    fn open_data_input(&mut self, input: &PluginRtpInput) -> Result<(), &'static str> {
        let port = *input.ports.first().ok_or("a data stream needs a port")?;
        let bind = input
            .iface
            .as_deref()
            .and_then(|i| i.parse().ok())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let source = StreamKey {
            publisher: PeerId::input(input.mountpoint),
            ssrc: mid_key(&input.mid),
        };
        let kind = if input.binary {
            MessageKind::Binary
        } else {
            MessageKind::String
        };
        let shard = self.least_loaded_shard();
        self.close_rtp_input(input.mountpoint, &input.mid);
        let command = DataInput {
            reply: ReplyTo(input.mountpoint),
            source,
            mid: input.mid.clone(),
            bind,
            port,
            kind,
            buffer_message: input.buffer_keyframe,
        };
        self.dataplane
            .send(shard, ShardCommand::OpenDataInput(Box::new(command)))
            .map_err(|_| "the dataplane refused the input")?;
        let state = InputState {
            source,
            shard,
            payload_type: None,
            codec: None,
            clock_rate: 0,
            kind: DpKind::Audio,
            simulcast: false,
            data: Some((kind, input.buffer_keyframe)),
        };
        self.inputs
            .insert((input.mountpoint, input.mid.clone()), state);
        Ok(())
    }

    pub(super) fn close_rtp_input(&mut self, mountpoint: u64, mid: &str) {
        let Some(input) = self.inputs.remove(&(mountpoint, mid.to_owned())) else {
            return;
        };
        let _ = self.dataplane.send(
            input.shard,
            ShardCommand::CloseRtpInput {
                source: input.source,
            },
        );
        // Viewers' forwards end with the input. The dataplane keeps them installed (and
        // paused ones paused) until told: a re-opened input has the same key and would feed
        // them again beside the viewers' next forwards.
        let viewers: Vec<(HandleId, String)> = self
            .forwards
            .iter()
            .filter(|(_, (source, _))| *source == input.source)
            .map(|(k, _)| k.clone())
            .collect();
        for (to, to_mid) in viewers {
            self.unforward(to, &to_mid);
        }
    }

    /// Forwards a mountpoint stream to a viewer's m-line.
    pub(super) fn forward_mountpoint(
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
        if let Some((kind, replay_last)) = input.data {
            // The viewer's data channel, not an m-line SSRC, receives a data stream.
            let sub = DataSubscription {
                subscriber: peer_id(to),
                source: input.source,
                source_shard: input.shard,
                kind,
                replay_last,
            };
            let (viewer_shard, key, input_shard) = (viewer.shard, input.source, input.shard);
            self.unforward(to, to_mid);
            self.dataplane
                .add_data_forward(viewer_shard, sub)
                .map_err(|_| "the dataplane refused the forward")?;
            self.forwards
                .insert((to, to_mid.to_owned()), (key, input_shard));
            return Ok(());
        }
        let (target, ssrc) = viewer.sending_mline(to_mid)?;
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
    pub(super) fn rtp_forward(
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
        let media = publisher.remote_mline(mid)?;
        let source_ssrc = forwarding_key(media)?;
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

    pub(super) fn stop_rtp_forward(&mut self, id: u32) {
        if let Some(shard) = self.rtp_outputs.remove(&id) {
            let command = ShardCommand::RemoveRtpOutput {
                id: RtpOutputId(u64::from(id)),
            };
            let _ = self.dataplane.send(shard, command);
        }
    }
}

/// A mountpoint stream's forwarding key: stable per mid, so a re-opened input keeps it.
pub(super) fn mid_key(mid: &str) -> u32 {
    // FNV-1a: tiny, stable across runs, and good enough to keep a mountpoint's few mids apart.
    mid.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The codec name and clock rate of an `rtpmap` value such as `VP8/90000`.
pub(super) fn rtpmap_codec(rtpmap: Option<&str>, kind: DpKind) -> (Option<String>, u32) {
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
pub(super) fn srtp_key(suite: u8, key: &str) -> Result<SrtpKey, &'static str> {
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

//! Forwarding rules from plugins' intents: a publisher's stream (SSRC, payload types,
//! header-extension ids, simulcast layers) mapped onto what a subscriber's description
//! announced, and the other per-handle media intents (keyframes, data, layers, REMB caps).

use super::*;

impl Shared {
    /// Installs a forward of `from`'s stream on `from_mid` to `to`'s `to_mid`, translating
    /// SSRC, payload types and extension ids between the two descriptions.
    pub(super) fn forward(
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
        let source = publisher.remote_mline(from_mid)?;
        let (target, ssrc) = subscriber.sending_mline(to_mid)?;
        let key = StreamKey {
            publisher: peer_id(from),
            ssrc: forwarding_key(source)?,
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
            kind: dataplane_kind(target.kind),
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

    pub(super) fn unforward(&mut self, to: HandleId, to_mid: &str) {
        let Some((source, source_shard)) = self.forwards.remove(&(to, to_mid.to_owned())) else {
            return;
        };
        if let Some(subscriber) = self.handles.get(&to) {
            let _ =
                self.dataplane
                    .remove_forward(subscriber.shard, peer_id(to), source, source_shard);
        }
    }

    /// Pauses or resumes the forward into `to`'s `to_mid`, whatever its source (a peer, a
    /// mountpoint's RTP or data input).
    ///
    /// The pause is a flag on the dataplane's subscription rather than a removal here and a
    /// re-install on resume: the subscription keeps the subscriber's sequence numbers and
    /// timestamps continuous across the pause (a new one would restart them from the
    /// source's, a jump the receiver takes for loss or, after a simulcast switch, for old
    /// packets), keeps its simulcast wishes (a `SetLayers` while paused applies as usual)
    /// and asks the source for a keyframe when it resumes. It costs the fan-out one branch
    /// per packet. A new forward on the same m-line, an unforward, a hangup or the input's
    /// closing remove the subscription, and its pause with it.
    pub(super) fn set_sending(
        &self,
        to: HandleId,
        to_mid: &str,
        send: bool,
    ) -> Result<(), &'static str> {
        let (source, _) = self
            .forwards
            .get(&(to, to_mid.to_owned()))
            .ok_or("no forward into the m-line")?;
        let subscriber = self.handles.get(&to).ok_or("no media state")?;
        let command = ShardCommand::PauseForward {
            subscriber: peer_id(to),
            source: *source,
            paused: !send,
        };
        self.dataplane
            .send(subscriber.shard, command)
            .map_err(|_| "the dataplane refused the pause")
    }

    /// Removes every forward `handle` receives or feeds.
    pub(super) fn remove_forwards_of(&mut self, handle: HandleId) {
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

    pub(super) fn request_keyframe(
        &self,
        handle: HandleId,
        mid: Option<&str>,
    ) -> Result<(), &'static str> {
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

    pub(super) fn send_data(
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
    pub(super) fn set_layers(
        &self,
        to: HandleId,
        to_mid: &str,
        layers: &PluginLayers,
    ) -> Result<(), &'static str> {
        let subscriber = self.handles.get(&to).ok_or("no media state")?;
        let (_, ssrc) = subscriber.sending_mline(to_mid)?;
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
    pub(super) fn set_bitrate_cap(
        &self,
        handle: HandleId,
        bitrate: u32,
    ) -> Result<(), &'static str> {
        let media = self.handles.get(&handle).ok_or("no media state")?;
        let command = ShardCommand::SetBitrateCap {
            peer: peer_id(handle),
            bitrate: (bitrate > 0).then_some(u64::from(bitrate)),
        };
        self.dataplane
            .send(media.shard, command)
            .map_err(|_| "the dataplane refused the cap")
    }
}

impl HandleMedia {
    /// The peer's m-line `mid`: what it sends us.
    pub(super) fn remote_mline(&self, mid: &str) -> Result<&RemoteMedia, &'static str> {
        self.remote
            .as_ref()
            .and_then(|r| r.media_by_mid(mid))
            .ok_or("the publisher has no such mid")
    }

    /// Our m-line `mid` as the peer received it, and the SSRC we announced on it.
    pub(super) fn sending_mline(&self, mid: &str) -> Result<(&RemoteMedia, u32), &'static str> {
        let mline = self
            .local
            .as_ref()
            .and_then(|l| l.media_by_mid(mid))
            .ok_or("the subscriber has no such mid")?;
        let ssrc = mline
            .ssrcs
            .first()
            .map(|s| s.ssrc)
            .ok_or("the m-line sends nothing")?;
        Ok((mline, ssrc))
    }
}

impl HandleMedia {
    /// The mid of the peer's audio m-line that sends `ssrc` (for audio-level reports); with
    /// an SSRC the description did not name, its only audio m-line when it has one.
    pub(super) fn audio_mid(&self, ssrc: u32) -> Option<String> {
        let remote = self.remote.as_ref()?;
        let mut audio = remote.media.iter().filter(|m| m.kind == SdpKind::Audio);
        let named = audio.clone().find(|m| {
            m.peer_ssrcs.contains(&Some(ssrc))
                || m.fallback_ssrc == Some(ssrc)
                || m.ssrcs.iter().any(|s| s.ssrc == ssrc)
        });
        let only = || match (audio.next(), audio.next()) {
            (Some(m), None) => Some(m),
            _ => None,
        };
        named.or_else(only).map(|m| m.mid.to_string())
    }

    /// The mid of our m-line that sends to the peer under `ssrc` (the subscriber-side SSRC
    /// of a forward, as layer-change reports name it).
    pub(super) fn sending_mid(&self, ssrc: u32) -> Option<String> {
        self.local
            .as_ref()?
            .media
            .iter()
            .find(|m| m.ssrcs.first().is_some_and(|s| s.ssrc == ssrc))
            .map(|m| m.mid.to_string())
    }
}

/// The peer's id of the ssrc-audio-level extension on its audio m-lines (one id for the
/// whole BUNDLE).
pub(super) fn audio_level_ext(remote: &RemoteDescription) -> Option<u8> {
    remote
        .media
        .iter()
        .filter(|m| m.kind == SdpKind::Audio)
        .flat_map(|m| m.extmaps.iter())
        .find(|e| e.uri == portunus_sdp::extension::AUDIO_LEVEL)
        .and_then(|e| u8::try_from(e.id).ok())
}

/// The SSRC a publisher's m-line is forwarded under: the simulcast key for a simulcast
/// m-line, else the SSRC it announced.
pub(super) fn forwarding_key(media: &RemoteMedia) -> Result<u32, &'static str> {
    if media.is_simulcast() {
        Ok(simulcast_key(media))
    } else {
        publisher_ssrc(media).ok_or("the publisher announced no SSRC for the mid")
    }
}

pub(super) fn dataplane_kind(kind: SdpKind) -> DpKind {
    if kind == SdpKind::Audio {
        DpKind::Audio
    } else {
        DpKind::Video
    }
}

/// The forwarding key of a simulcast m-line: its substream-0 SSRC when the SDP names one,
/// else a value derived from the m-line index that no real SSRC of the peer is likely to
/// take (rid-only offers name no SSRC at all).
pub(super) fn simulcast_key(media: &RemoteMedia) -> u32 {
    media.peer_ssrcs[0]
        .or(media.fallback_ssrc)
        .unwrap_or(0x5157_0000 | u32::try_from(media.index & 0xffff).unwrap_or(0))
}

/// What the dataplane needs to know of a simulcast m-line.
pub(super) fn simulcast_inbound(media: &RemoteMedia) -> SimulcastInbound {
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

pub(super) fn layer_prefs(layers: &PluginLayers) -> LayerPrefs {
    LayerPrefs {
        substream: layers.substream.min(2),
        temporal: layers.temporal.min(2),
        fallback: Duration::from_micros(layers.fallback_us),
    }
}

/// The SSRC a publisher's m-line sends its (lowest) stream with.
pub(super) fn publisher_ssrc(media: &RemoteMedia) -> Option<u32> {
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
pub(super) fn payload_type_map(source: &RemoteMedia, target: &RemoteMedia) -> Vec<(u8, u8)> {
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
pub(super) fn extension_map(source: &RemoteMedia, target: &RemoteMedia) -> ExtIdMap {
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
pub(super) fn subscriber_rtx(subscriber: &HandleMedia, target: &RemoteMedia) -> Option<(u32, u8)> {
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

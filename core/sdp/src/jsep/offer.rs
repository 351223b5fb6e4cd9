//! Offers Janus makes (`janus_sdp_generate_offer` / `janus_sdp_generate_offer_mline`), and
//! the VideoRoom subscriber's m-line bookkeeping across renegotiations.

use crate::janus::{JConn, JMline, JSdp};
use crate::jsep::{LocalTransport, MergeContext, merge};
use crate::{Attribute, CodecName, Direction, MediaKind, Mid, Sdp, SdpError, extension};

/// One m-line of a Janus offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferStream {
    /// Media type.
    pub kind: MediaKind,
    /// `a=mid` (the core falls back to the m-line index).
    pub mid: Option<Mid>,
    /// Codec (audio/video); `None` is Opus or VP8.
    pub codec: Option<CodecName>,
    /// Payload type; `None` is the codec's Janus payload type (opus 111, VP8 96, …).
    pub payload_type: Option<u8>,
    /// Direction; `None` writes none (the client reads `sendrecv`).
    pub direction: Option<Direction>,
    /// `a=msid:<stream> <track>`; without it the core writes `janus janus<mid>`.
    pub msid: Option<(String, String)>,
    /// An `fmtp` for the codec (audio: e.g. `useinbandfec=1`; video when no profile is set).
    pub fmtp: Option<String>,
    /// VP9 `profile-id`.
    pub vp9_profile: Option<String>,
    /// H.264 `profile-level-id` (written with `packetization-mode=1`).
    pub h264_profile: Option<String>,
    /// Header extensions `(uri, id)`; written sorted by id, ids 1-14 only, duplicates
    /// dropped.
    pub extensions: Vec<(String, u8)>,
    /// Video: Janus's default `rtcp-fb` (`ccm fir`, `nack`, `nack pli`, `goog-remb`).
    pub video_rtcp_fb: bool,
    /// Audio: add `telephone-event/8000` as payload type 126.
    pub dtmf: bool,
    /// Audio: offer Opus RED first with this payload type.
    pub opus_red_payload_type: Option<u8>,
    /// Data: legacy `DTLS/SCTP 5000` with `a=sctpmap`.
    pub data_legacy: bool,
}

/// A Janus offer: session parameters and m-lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferBuilder {
    /// `s=` (`VideoRoom <room>`, `Mountpoint <id>`).
    pub session_name: String,
    /// Address for `o=` and `c=` before the core replaces it (plugins pass `0.0.0.0`).
    pub address: String,
    /// `o=` session id (Janus: the wall clock in microseconds).
    pub session_id: u64,
    /// `o=` version (VideoRoom counts its offers from 1).
    pub session_version: u64,
    /// The m-lines in order.
    pub streams: Vec<OfferStream>,
}

impl OfferStream {
    /// An audio m-line with Janus's payload type for `codec`.
    pub fn audio(codec: CodecName) -> Self {
        Self::new(MediaKind::Audio, Some(codec))
    }

    /// A video m-line with Janus's payload type for `codec` and the default `rtcp-fb`.
    pub fn video(codec: CodecName) -> Self {
        Self::new(MediaKind::Video, Some(codec))
    }

    /// A data channel m-line (`UDP/DTLS/SCTP webrtc-datachannel`, `a=sctp-port:5000`).
    pub fn data() -> Self {
        Self::new(MediaKind::Application, None)
    }

    fn new(kind: MediaKind, codec: Option<CodecName>) -> Self {
        Self {
            kind,
            mid: None,
            codec,
            payload_type: None,
            direction: None,
            msid: None,
            fmtp: None,
            vp9_profile: None,
            h264_profile: None,
            extensions: Vec::new(),
            video_rtcp_fb: true,
            dtmf: false,
            opus_red_payload_type: None,
            data_legacy: false,
        }
    }

    /// Adds a header extension with the id Janus uses for it ([`extension::janus_id`]);
    /// extensions without a fixed id are ignored.
    #[must_use]
    pub fn with_extension(mut self, uri: &str) -> Self {
        if let Some(id) = extension::janus_id(uri) {
            self.extensions.push((uri.to_owned(), id));
        }
        self
    }

    /// Sets the mid.
    #[must_use]
    pub fn with_mid(mut self, mid: &str) -> Self {
        self.mid = Some(Mid::from(mid));
        self
    }

    /// Sets the direction.
    #[must_use]
    pub fn with_direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    fn to_mline(&self, address: &str) -> Result<JMline, SdpError> {
        let proto = match (self.kind, self.data_legacy) {
            (MediaKind::Application, true) => "DTLS/SCTP",
            (MediaKind::Application, false) => "UDP/DTLS/SCTP",
            _ => "UDP/TLS/RTP/SAVPF",
        };
        let mut m = JMline::new(self.kind, 9, proto, self.direction);
        m.c = Some(JConn {
            ipv4: true,
            addr: address.to_owned(),
        });
        if let Some(mid) = &self.mid {
            m.attributes.push(Attribute::new("mid", mid.as_str()));
        }
        if self.kind == MediaKind::Application {
            if self.data_legacy {
                m.fmts.push("5000".to_owned());
                m.attributes
                    .push(Attribute::new("sctpmap", "5000 webrtc-datachannel 16"));
            } else {
                m.fmts.push("webrtc-datachannel".to_owned());
                m.attributes.push(Attribute::new("sctp-port", "5000"));
            }
            return Ok(m);
        }
        let codec = self.codec.unwrap_or(if self.kind == MediaKind::Audio {
            CodecName::Opus
        } else {
            CodecName::Vp8
        });
        if codec.kind() != self.kind || codec == CodecName::Dtmf {
            return Err(SdpError::UnsupportedCodec(codec.as_str().to_owned()));
        }
        let pt = self
            .payload_type
            .unwrap_or_else(|| codec.janus_payload_type());
        if let Some((stream, track)) = &self.msid {
            m.attributes
                .push(Attribute::new("msid", format!("{stream} {track}")));
        }
        let audio = self.kind == MediaKind::Audio;
        let red = self.opus_red_payload_type.filter(|_| audio);
        if let Some(red) = red {
            m.ptypes.push(i64::from(red));
            m.attributes
                .push(Attribute::new("rtpmap", format!("{red} red/48000/2")));
        }
        m.ptypes.push(i64::from(pt));
        m.attributes
            .push(Attribute::new("rtpmap", format!("{pt} {}", codec.rtpmap())));
        if audio && self.dtmf {
            m.ptypes.push(126);
            m.attributes.push(Attribute::new(
                "rtpmap",
                format!("126 {}", CodecName::Dtmf.rtpmap()),
            ));
        }
        if !audio && self.video_rtcp_fb {
            for fb in ["ccm fir", "nack", "nack pli", "goog-remb"] {
                m.attributes
                    .push(Attribute::new("rtcp-fb", format!("{pt} {fb}")));
            }
        }
        // Every audio/video m-line of a Janus offer gets transport-cc feedback.
        m.attributes
            .push(Attribute::new("rtcp-fb", format!("{pt} transport-cc")));
        let mut exts: Vec<&(String, u8)> = self
            .extensions
            .iter()
            .filter(|(_, id)| (1..15).contains(id))
            .collect();
        exts.sort_by_key(|(_, id)| *id);
        exts.dedup_by_key(|(_, id)| *id);
        let mut seen: Vec<&str> = Vec::new();
        for (uri, id) in exts {
            if !seen.contains(&uri.as_str()) {
                seen.push(uri);
                m.attributes
                    .push(Attribute::new("extmap", format!("{id} {uri}")));
            }
        }
        if let Some(red) = red {
            m.attributes
                .push(Attribute::new("fmtp", format!("{red} {pt}/{pt}")));
        }
        let fmtp = match (codec, &self.vp9_profile, &self.h264_profile) {
            _ if audio => self.fmtp.clone(),
            (CodecName::Vp9, Some(p), _) => Some(format!("profile-id={p}")),
            (CodecName::H264, _, Some(p)) => {
                Some(format!("profile-level-id={p};packetization-mode=1"))
            }
            _ => self.fmtp.clone(),
        };
        if let Some(f) = fmtp {
            m.attributes
                .push(Attribute::new("fmtp", format!("{pt} {f}")));
        }
        Ok(m)
    }
}

impl OfferBuilder {
    /// An offer with Janus's session defaults and no m-lines yet.
    pub fn new(session_name: &str, session_id: u64, session_version: u64) -> Self {
        Self {
            session_name: session_name.to_owned(),
            address: "0.0.0.0".to_owned(),
            session_id,
            session_version,
            streams: Vec::new(),
        }
    }

    /// The plugin's offer, as Janus's writer prints it (before the core's [`merge`]).
    ///
    /// # Errors
    ///
    /// [`SdpError::UnsupportedCodec`] for a codec of the wrong kind.
    pub fn build(&self) -> Result<Sdp, SdpError> {
        let mut j = JSdp::new(
            &self.session_name,
            &self.address,
            self.session_id,
            self.session_version,
        );
        for s in &self.streams {
            j.mlines.push(s.to_mline(&self.address)?);
        }
        Ok(j.to_sdp())
    }
}

/// The m-lines of one VideoRoom subscription, kept across renegotiations: an unsubscribed
/// stream leaves an `inactive` m-line with its mid, and a later subscription of the same kind
/// and codec takes the first such slot again instead of adding an m-line. All data sources
/// share one data m-line, which stays `sendonly`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberOffer {
    /// `s=` (`VideoRoom <room>`).
    pub session_name: String,
    /// `o=` session id.
    pub session_id: u64,
    /// The last offer's `o=` version (0 before the first offer).
    pub session_version: u64,
    /// The m-lines, by index.
    pub slots: Vec<SubscriberSlot>,
}

/// One m-line of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberSlot {
    /// The m-line's settings (its mid is the m-line index).
    pub stream: OfferStream,
    /// Whether a source feeds it (`sendonly`) or not (`inactive`).
    pub active: bool,
}

impl SubscriberOffer {
    /// A subscription without streams.
    pub fn new(session_name: &str, session_id: u64) -> Self {
        Self {
            session_name: session_name.to_owned(),
            session_id,
            session_version: 0,
            slots: Vec::new(),
        }
    }

    /// Adds a stream: reuses the first inactive m-line of the same kind and codec (or the data
    /// m-line), else appends one whose mid is its index. Returns the m-line index.
    pub fn subscribe(&mut self, mut stream: OfferStream) -> usize {
        let reusable = self.slots.iter().position(|s| {
            s.stream.kind == stream.kind
                && (s.stream.kind == MediaKind::Application
                    || (!s.active && s.stream.codec == stream.codec))
        });
        let index = reusable.unwrap_or(self.slots.len());
        let mid = self
            .slots
            .get(index)
            .and_then(|s| s.stream.mid.clone())
            .unwrap_or_else(|| Mid(index.to_string()));
        stream.mid = Some(mid);
        stream.direction = Some(Direction::SendOnly);
        let slot = SubscriberSlot {
            stream,
            active: true,
        };
        match self.slots.get_mut(index) {
            Some(s) => *s = slot,
            None => self.slots.push(slot),
        }
        index
    }

    /// Marks the audio/video m-line with this mid as having no source: it is offered
    /// `inactive`, without `msid` and without the extensions that came from the source
    /// (only mid, transport-cc and abs-send-time stay). Returns whether such an m-line was
    /// active.
    pub fn unsubscribe(&mut self, mid: &str) -> bool {
        let Some(slot) = self.slots.iter_mut().find(|s| {
            s.active
                && s.stream.kind != MediaKind::Application
                && s.stream.mid.as_ref().is_some_and(|m| m.as_str() == mid)
        }) else {
            return false;
        };
        slot.active = false;
        let s = &mut slot.stream;
        s.direction = Some(Direction::Inactive);
        s.msid = None;
        if s.kind == MediaKind::Audio {
            s.fmtp = None;
        }
        s.extensions.retain(|(uri, _)| {
            [
                extension::MID,
                extension::TRANSPORT_WIDE_CC,
                extension::ABS_SEND_TIME,
            ]
            .contains(&uri.as_str())
        });
        true
    }

    /// The plugin's next offer (the `o=` version goes up by one).
    ///
    /// # Errors
    ///
    /// [`SdpError::UnsupportedCodec`] for a stream with a codec of the wrong kind.
    pub fn plugin_offer(&mut self) -> Result<Sdp, SdpError> {
        self.session_version += 1;
        let mut b = OfferBuilder::new(&self.session_name, self.session_id, self.session_version);
        b.streams = self.slots.iter().map(|s| s.stream.clone()).collect();
        b.build()
    }

    /// The next offer as the client receives it, and the core state to keep for the next
    /// renegotiation (pass it back as `previous`).
    ///
    /// # Errors
    ///
    /// As [`Self::plugin_offer`].
    pub fn offer(
        &mut self,
        transport: LocalTransport,
        previous: Option<&MergeContext>,
        next_ssrc: &mut dyn FnMut() -> u32,
    ) -> Result<(Sdp, MergeContext), SdpError> {
        let plugin = self.plugin_offer()?;
        let ctx = MergeContext::for_offer(&plugin, transport, previous, next_ssrc)?;
        Ok((merge(&plugin, &ctx)?, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_offer_has_janus_payload_types_and_sorted_extmaps() {
        let mut b = OfferBuilder::new("VideoRoom 1234", 1_700_000_000_000_000, 1);
        let mut audio = OfferStream::audio(CodecName::Opus)
            .with_mid("0")
            .with_direction(Direction::SendOnly)
            .with_extension(extension::MID)
            .with_extension(extension::AUDIO_LEVEL);
        audio.fmtp = Some("useinbandfec=1".into());
        b.streams.push(audio);
        b.streams.push(
            OfferStream::video(CodecName::Vp9)
                .with_mid("1")
                .with_direction(Direction::SendOnly)
                .with_extension(extension::ABS_SEND_TIME)
                .with_extension(extension::MID)
                .with_extension(extension::DEPENDENCY_DESCRIPTOR),
        );
        b.streams.push(
            OfferStream::data()
                .with_mid("2")
                .with_direction(Direction::SendOnly),
        );
        let out = b.build().unwrap().to_string();
        let expected = "v=0\r\no=- 1700000000000000 1 IN IP4 0.0.0.0\r\ns=VideoRoom 1234\r\nt=0 0\r\nc=IN IP4 0.0.0.0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=fmtp:111 useinbandfec=1\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 101\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=mid:1\r\na=rtpmap:101 VP9/90000\r\n\
a=rtcp-fb:101 ccm fir\r\na=rtcp-fb:101 nack\r\na=rtcp-fb:101 nack pli\r\na=rtcp-fb:101 goog-remb\r\na=rtcp-fb:101 transport-cc\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=mid:2\r\na=sctp-port:5000\r\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn wrong_kind_codec_is_refused() {
        let mut b = OfferBuilder::new("x", 1, 1);
        b.streams
            .push(OfferStream::new(MediaKind::Audio, Some(CodecName::Vp8)));
        assert_eq!(
            b.build().unwrap_err(),
            SdpError::UnsupportedCodec("vp8".into())
        );
    }

    #[test]
    fn unsubscribed_slot_is_reused_by_same_kind_and_codec() {
        let mut sub = SubscriberOffer::new("VideoRoom 1", 5);
        assert_eq!(sub.subscribe(OfferStream::audio(CodecName::Opus)), 0);
        assert_eq!(sub.subscribe(OfferStream::video(CodecName::Vp8)), 1);
        assert_eq!(sub.subscribe(OfferStream::data()), 2);
        assert_eq!(
            sub.subscribe(OfferStream::data()),
            2,
            "one data m-line for every source"
        );
        assert!(sub.unsubscribe("1"));
        assert!(!sub.unsubscribe("1"));
        let out = sub.plugin_offer().unwrap().to_string();
        assert!(
            out.contains(
                "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=inactive\r\na=mid:1\r\n"
            ),
            "{out}"
        );
        assert!(out.contains("o=- 5 1 IN IP4"));
        // A VP9 stream cannot take the VP8 slot; a VP8 one can.
        assert_eq!(sub.subscribe(OfferStream::video(CodecName::Vp9)), 3);
        assert_eq!(sub.subscribe(OfferStream::video(CodecName::Vp8)), 1);
        let out = sub.plugin_offer().unwrap();
        assert_eq!(out.media[1].mid(), Some("1"));
        assert_eq!(out.media[1].direction(), Direction::SendOnly);
        assert_eq!(out.media[3].mid(), Some("3"));
        assert!(out.to_string().contains("o=- 5 2 IN IP4"));
    }
}

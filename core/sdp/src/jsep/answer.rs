//! A plugin's answer to a client offer (`janus_sdp_generate_answer` and
//! `janus_sdp_generate_answer_mline`), with the EchoTest and VideoRoom-publisher policies.

use crate::attr::Extmap;
use crate::codec::find_codec_pt;
use crate::janus::{JConn, JMline, JSdp, atoi};
use crate::{Attribute, CodecName, Direction, MediaKind, Sdp, SdpError, extension};

/// How a plugin answers client offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerConfig {
    /// `s=` of the answer (`VideoRoom <room>`); `None` copies the offer's.
    pub session_name: Option<String>,
    /// Audio codecs in preference order: the first one the offer contains is chosen.
    pub audio_codecs: Vec<CodecName>,
    /// Video codecs in preference order.
    pub video_codecs: Vec<CodecName>,
    /// VP9 `profile-id` to require (and write).
    pub vp9_profile: Option<String>,
    /// H.264 `profile-level-id` to require (and write, with `packetization-mode=1`).
    pub h264_profile: Option<String>,
    /// The direction the plugin wants on audio/video m-lines; `None` accepts the offer's
    /// (Janus's default). Combined with the offered direction as Janus does: an offered
    /// `sendonly` becomes `recvonly` unless the plugin refuses to receive, and so on.
    pub direction: Option<Direction>,
    /// Header extension URIs accepted on audio m-lines (ids are the offer's).
    pub audio_extensions: Vec<String>,
    /// Header extension URIs accepted on video m-lines.
    pub video_extensions: Vec<String>,
    /// Opus parameters echoed when the offer has them (`useinbandfec=1`, `usedtx=1`,
    /// `stereo=1`).
    pub opus_fmtp: OpusFmtp,
    /// A fixed audio `fmtp` instead of the echoed Opus parameters.
    pub audio_fmtp: Option<String>,
    /// Accept Opus RED (`red/48000/2`) when offered.
    pub opus_red: bool,
    /// Accept `telephone-event/8000` when offered.
    pub dtmf: bool,
    /// Write Janus's default video `rtcp-fb` (`ccm fir`, `nack`, `nack pli`, `goog-remb`);
    /// `transport-cc` is always written.
    pub video_rtcp_fb: bool,
    /// Accept a data channel m-line.
    pub accept_data: bool,
    /// An audio/video m-line that would be `sendonly` becomes `inactive` (EchoTest never
    /// originates media).
    pub downgrade_sendonly: bool,
}

/// Which Opus parameters to echo from the offer's audio `fmtp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpusFmtp {
    /// `useinbandfec=1`
    pub fec: bool,
    /// `usedtx=1`
    pub dtx: bool,
    /// `stereo=1`
    pub stereo: bool,
}

/// Per m-line overrides for [`generate_answer`], by m-line index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlinePolicy {
    /// `false` rejects the m-line (port 0).
    pub enabled: bool,
    /// Direction the plugin wants (overrides [`AnswerConfig::direction`]).
    pub direction: Option<Direction>,
    /// Codec to use instead of the preference list.
    pub codec: Option<CodecName>,
    /// `a=msid:<stream> <track>` to write.
    pub msid: Option<(String, String)>,
}

impl Default for MlinePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            direction: None,
            codec: None,
            msid: None,
        }
    }
}

impl AnswerConfig {
    /// The EchoTest plugin: Janus's fallback codec order, every extension EchoTest accepts,
    /// Opus FEC/DTX/stereo echoed, directions mirrored with `sendonly` turned `inactive`.
    pub fn echotest() -> Self {
        let exts: Vec<String> = [
            extension::MID,
            extension::RID,
            extension::REPAIRED_RID,
            extension::AUDIO_LEVEL,
            extension::VIDEO_ORIENTATION,
            extension::PLAYOUT_DELAY,
            extension::TRANSPORT_WIDE_CC,
            extension::DEPENDENCY_DESCRIPTOR,
        ]
        .map(str::to_owned)
        .to_vec();
        Self {
            session_name: None,
            audio_codecs: CodecName::JANUS_ANSWER_AUDIO.to_vec(),
            video_codecs: CodecName::JANUS_VIDEO.to_vec(),
            vp9_profile: None,
            h264_profile: None,
            direction: None,
            audio_extensions: exts.clone(),
            video_extensions: exts,
            opus_fmtp: OpusFmtp {
                fec: true,
                dtx: true,
                stereo: true,
            },
            audio_fmtp: None,
            opus_red: false,
            dtmf: false,
            video_rtcp_fb: true,
            accept_data: true,
            downgrade_sendonly: true,
        }
    }

    /// A VideoRoom publisher with the room defaults (`audiocodec=opus`, `videocodec=vp8`,
    /// `opus_fec`, every extension switch on): `s=VideoRoom <room>`, `recvonly`.
    pub fn videoroom_publisher(room: &str) -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Self {
            session_name: Some(format!("VideoRoom {room}")),
            audio_codecs: vec![CodecName::Opus],
            video_codecs: vec![CodecName::Vp8],
            vp9_profile: None,
            h264_profile: None,
            direction: Some(Direction::RecvOnly),
            audio_extensions: owned(&[
                extension::MID,
                extension::RID,
                extension::REPAIRED_RID,
                extension::AUDIO_LEVEL,
            ]),
            video_extensions: owned(&[
                extension::MID,
                extension::RID,
                extension::REPAIRED_RID,
                extension::VIDEO_ORIENTATION,
                extension::PLAYOUT_DELAY,
                extension::TRANSPORT_WIDE_CC,
            ]),
            opus_fmtp: OpusFmtp {
                fec: true,
                dtx: false,
                stereo: true,
            },
            audio_fmtp: None,
            opus_red: false,
            dtmf: false,
            video_rtcp_fb: true,
            accept_data: true,
            downgrade_sendonly: false,
        }
    }
}

/// Answers an offer as a Janus plugin does, m-line by m-line.
///
/// `offer` is what the plugin sees (the output of [`super::anonymize`]). Each audio/video
/// m-line gets the first codec of the configured list that the offer contains (in the
/// offer's `rtpmap` order when several payload types carry it), its `rtpmap`, Janus's video
/// `rtcp-fb` set plus `transport-cc`, the accepted `extmap`s with the offered ids and
/// directions reversed, and for VP8/VP9/H.264 without a forced profile the offered `fmtp`.
/// No codec in common rejects the m-line (port 0). Data m-lines are accepted with the
/// offered formats. RTX, ICE/DTLS, mids, `ssrc`s, simulcast and candidates are added later
/// by [`super::merge`].
///
/// `policies[i]` overrides the configuration for m-line `i`.
///
/// # Errors
///
/// Only for an offer Janus's parser refuses (one built by hand).
pub fn generate_answer(
    offer: &Sdp,
    config: &AnswerConfig,
    policies: &[MlinePolicy],
) -> Result<Sdp, SdpError> {
    let offer = JSdp::from_sdp(offer)?;
    let mut answer = JSdp {
        version: offer.version,
        o_name: offer.o_name.clone(),
        o_sessid: offer.o_sessid,
        o_version: offer.o_version,
        o_ipv4: offer.o_ipv4,
        o_addr: offer.o_addr.clone(),
        s_name: config
            .session_name
            .clone()
            .unwrap_or_else(|| offer.s_name.clone()),
        t_start: 0,
        t_stop: 0,
        c: Some(offer.c.clone().unwrap_or(JConn {
            ipv4: true,
            addr: "127.0.0.1".to_owned(),
        })),
        attributes: Vec::new(),
        mlines: Vec::new(),
    };
    let audio_fmtp = config
        .audio_fmtp
        .clone()
        .or_else(|| echoed_opus_fmtp(&offer, config.opus_fmtp));
    let default_policy = MlinePolicy::default();
    for (i, offered) in offer.mlines.iter().enumerate() {
        let policy = policies.get(i).unwrap_or(&default_policy);
        let mut am = JMline::new(offered.kind, 0, &offered.proto, Some(Direction::Inactive));
        am.type_str.clone_from(&offered.type_str);
        am.c = Some(JConn {
            ipv4: offered.c.as_ref().is_none_or(|c| c.ipv4),
            addr: "127.0.0.1".to_owned(),
        });
        let enabled =
            policy.enabled && (offered.kind != MediaKind::Application || config.accept_data);
        if !enabled {
            am.ptypes.push(0);
            if offered.kind == MediaKind::Application {
                am.fmts.clone_from(&offered.fmts);
            }
        } else if offered.kind == MediaKind::Application {
            am.port = 9;
            am.direction = None;
            am.fmts.clone_from(&offered.fmts);
        } else {
            answer_media(&mut am, offered, config, policy, audio_fmtp.as_deref());
        }
        answer.mlines.push(am);
    }
    if config.downgrade_sendonly {
        for m in answer
            .mlines
            .iter_mut()
            .filter(|m| m.kind != MediaKind::Application)
        {
            if m.direction == Some(Direction::SendOnly) {
                m.direction = Some(Direction::Inactive);
            }
        }
    }
    Ok(answer.to_sdp())
}

/// EchoTest/VideoRoom: the Opus parameters of the offer's enabled audio `fmtp` lines.
fn echoed_opus_fmtp(offer: &JSdp, wanted: OpusFmtp) -> Option<String> {
    let mut params: Vec<&str> = Vec::new();
    for m in offer
        .mlines
        .iter()
        .filter(|m| m.kind == MediaKind::Audio && m.port > 0)
    {
        for v in m
            .attributes
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("fmtp"))
            .filter_map(|a| a.value.as_deref())
        {
            for (on, p) in [
                (wanted.fec, "useinbandfec=1"),
                (wanted.dtx, "usedtx=1"),
                (wanted.stereo, "stereo=1"),
            ] {
                if on && v.contains(p) {
                    params.push(p);
                }
            }
        }
    }
    (!params.is_empty()).then(|| params.join(";"))
}

fn answer_direction(offered: Option<Direction>, wanted: Option<Direction>) -> Option<Direction> {
    let may_send = matches!(
        wanted,
        None | Some(Direction::SendRecv | Direction::SendOnly)
    );
    let may_recv = matches!(
        wanted,
        None | Some(Direction::SendRecv | Direction::RecvOnly)
    );
    match offered {
        Some(Direction::RecvOnly) => Some(if may_send {
            Direction::SendOnly
        } else {
            Direction::Inactive
        }),
        Some(Direction::SendOnly) => Some(if may_recv {
            Direction::RecvOnly
        } else {
            Direction::Inactive
        }),
        Some(Direction::Inactive) => Some(Direction::Inactive),
        Some(Direction::SendRecv) | None => wanted,
    }
}

fn answer_media(
    am: &mut JMline,
    offered: &JMline,
    config: &AnswerConfig,
    policy: &MlinePolicy,
    audio_fmtp: Option<&str>,
) {
    am.port = 9;
    am.direction = answer_direction(offered.direction, policy.direction.or(config.direction));
    let audio = offered.kind == MediaKind::Audio;
    let prefs = if audio {
        &config.audio_codecs
    } else {
        &config.video_codecs
    };
    let codec = policy.codec.or_else(|| {
        prefs
            .iter()
            .copied()
            .find(|c| find_codec_pt(&offered.attributes, *c, None).is_some())
    });
    let profile = match codec {
        Some(CodecName::Vp9) => config.vp9_profile.as_deref(),
        Some(CodecName::H264) => config.h264_profile.as_deref(),
        _ => None,
    };
    let Some((codec, pt)) = codec
        .filter(|c| c.kind() == offered.kind)
        .and_then(|c| Some((c, find_codec_pt(&offered.attributes, c, profile)?)))
    else {
        // No codec in common: reject.
        am.port = 0;
        am.direction = Some(Direction::Inactive);
        am.ptypes.push(0);
        return;
    };
    am.ptypes.push(i64::from(pt));
    if let Some((stream, track)) = &policy.msid {
        am.attributes
            .push(Attribute::new("msid", format!("{stream} {track}")));
    }
    if audio {
        answer_audio(am, offered, config, codec, pt, audio_fmtp);
    } else {
        am.attributes
            .push(Attribute::new("rtpmap", format!("{pt} {}", codec.rtpmap())));
        if config.video_rtcp_fb {
            for fb in ["ccm fir", "nack", "nack pli", "goog-remb"] {
                am.attributes
                    .push(Attribute::new("rtcp-fb", format!("{pt} {fb}")));
            }
        }
        am.attributes
            .push(Attribute::new("rtcp-fb", format!("{pt} transport-cc")));
        match (codec, &config.vp9_profile, &config.h264_profile) {
            (CodecName::Vp9, Some(p), _) => am
                .attributes
                .push(Attribute::new("fmtp", format!("{pt} profile-id={p}"))),
            (CodecName::H264, _, Some(p)) => {
                am.attributes.push(Attribute::new(
                    "fmtp",
                    format!("{pt} profile-level-id={p};packetization-mode=1"),
                ));
            }
            _ => {}
        }
    }
    let accepted = if audio {
        &config.audio_extensions
    } else {
        &config.video_extensions
    };
    if accepted.is_empty() {
        return;
    }
    // Extensions in the offer's order, with the offered ids; for VP8, VP9 and H.264 without a
    // forced profile, the offered fmtp of the chosen payload type is copied in place.
    let copy_fmtp = !audio
        && match codec {
            CodecName::Vp8 => true,
            CodecName::Vp9 => config.vp9_profile.is_none(),
            CodecName::H264 => config.h264_profile.is_none(),
            _ => false,
        };
    for a in &offered.attributes {
        let Some(v) = a.value.as_deref() else {
            continue;
        };
        if a.name.eq_ignore_ascii_case("extmap") {
            let Some(e) = Extmap::parse(v) else { continue };
            if accepted.contains(&e.uri) {
                let dir = match e.direction {
                    Some(Direction::SendOnly) => "/recvonly",
                    Some(Direction::RecvOnly) => "/sendonly",
                    Some(Direction::Inactive) => "/inactive",
                    _ => "",
                };
                am.attributes
                    .push(Attribute::new("extmap", format!("{}{dir} {}", e.id, e.uri)));
            }
        } else if copy_fmtp && a.name.eq_ignore_ascii_case("fmtp") && atoi(v) == i64::from(pt) {
            am.attributes.push(Attribute::new("fmtp", v));
        }
    }
}

fn answer_audio(
    am: &mut JMline,
    offered: &JMline,
    config: &AnswerConfig,
    codec: CodecName,
    pt: u8,
    audio_fmtp: Option<&str>,
) {
    let mut red_pt = None;
    if codec == CodecName::Opus && config.opus_red {
        red_pt = offered
            .attributes
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("rtpmap"))
            .filter_map(|a| a.value.as_deref())
            .find(|v| v.contains("red/48000/2"))
            .map(atoi)
            .filter(|p| (0..=127).contains(p));
        if let Some(red) = red_pt {
            am.ptypes.insert(0, red);
            am.attributes
                .push(Attribute::new("rtpmap", format!("{red} red/48000/2")));
        }
    }
    am.attributes
        .push(Attribute::new("rtpmap", format!("{pt} {}", codec.rtpmap())));
    if config.dtmf
        && let Some(dtmf) = find_codec_pt(&offered.attributes, CodecName::Dtmf, None)
    {
        am.ptypes.push(i64::from(dtmf));
        am.attributes.push(Attribute::new(
            "rtpmap",
            format!("{dtmf} {}", CodecName::Dtmf.rtpmap()),
        ));
    }
    if let Some(red) = red_pt {
        am.attributes
            .push(Attribute::new("fmtp", format!("{red} {pt}/{pt}")));
    }
    // multiopus needs the offer's channel mapping: Janus copies the first fmtp it finds.
    let multiopus_fmtp = (codec == CodecName::Multiopus
        && audio_fmtp.is_none_or(|f| !f.contains("channel_mapping")))
    .then(|| {
        offered
            .attributes
            .iter()
            .find(|a| a.name.contains("fmtp"))
            .and_then(|a| a.value.as_deref()?.split_once(' '))
    })
    .flatten()
    .map(|(_, params)| params.to_owned())
    .filter(|p| !p.is_empty());
    if let Some(fmtp) = multiopus_fmtp.as_deref().or(audio_fmtp) {
        am.attributes
            .push(Attribute::new("fmtp", format!("{pt} {fmtp}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 77 2 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 0\r\nc=IN IP4 1.1.1.1\r\na=sendrecv\r\na=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:0 PCMU/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 102 96\r\nc=IN IP4 1.1.1.1\r\na=sendonly\r\na=mid:1\r\n\
a=extmap:13 urn:3gpp:video-orientation\r\na=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:10/sendonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n\
a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:96 VP8/90000\r\na=fmtp:96 max-fs=12288\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 1.1.1.1\r\na=sendrecv\r\na=mid:2\r\n";

    fn answer(config: &AnswerConfig, policies: &[MlinePolicy]) -> String {
        generate_answer(&Sdp::parse(OFFER).unwrap(), config, policies)
            .unwrap()
            .to_string()
    }

    #[test]
    fn echotest_answer_is_janus_byte_for_byte() {
        let expected = "v=0\r\no=- 77 2 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nc=IN IP4 127.0.0.1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=recvonly\r\n\
a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\n\
a=extmap:13 urn:3gpp:video-orientation\r\na=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:10/recvonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\na=fmtp:96 max-fs=12288\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n";
        assert_eq!(answer(&AnswerConfig::echotest(), &[]), expected);
    }

    #[test]
    fn videoroom_publisher_receives_in_the_rooms_codecs() {
        let out = answer(&AnswerConfig::videoroom_publisher("1234"), &[]);
        assert!(out.contains("s=VideoRoom 1234\r\n"));
        // sendrecv audio offered, plugin wants recvonly; sendonly video offered → recvonly.
        assert!(
            out.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\na=recvonly\r\n"),
            "{out}"
        );
        assert!(
            out.contains("m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=recvonly\r\n"),
            "{out}"
        );
        assert!(!out.contains("abs-send-time"));
    }

    #[test]
    fn codec_order_is_the_servers_not_the_offerers() {
        let mut config = AnswerConfig::echotest();
        config.video_codecs = vec![CodecName::H264, CodecName::Vp8];
        let out = answer(&config, &[]);
        assert!(out.contains("m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"));
        assert!(out.contains("a=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n"));
    }

    #[test]
    fn missing_codec_or_disabled_policy_rejects_the_mline() {
        let mut config = AnswerConfig::echotest();
        config.video_codecs = vec![CodecName::Av1];
        let out = answer(&config, &[]);
        assert!(
            out.contains(
                "m=video 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\na=inactive\r\nm=application"
            ),
            "{out}"
        );
        let policies = [MlinePolicy {
            enabled: false,
            ..MlinePolicy::default()
        }];
        let out = answer(&AnswerConfig::echotest(), &policies);
        assert!(out.contains("m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n"), "{out}");
    }

    #[test]
    fn opus_red_and_forced_codec() {
        let mut config = AnswerConfig::echotest();
        config.opus_red = true;
        let policies = [
            MlinePolicy::default(),
            MlinePolicy {
                codec: Some(CodecName::H264),
                ..MlinePolicy::default()
            },
        ];
        let out = answer(&config, &policies);
        assert!(
            out.contains("m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n"),
            "{out}"
        );
        assert!(out.contains("a=rtpmap:63 red/48000/2\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:63 111/111\r\na=fmtp:111 useinbandfec=1\r\n"), "{out}");
        assert!(out.contains("m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"));
    }

    #[test]
    fn direction_table() {
        use Direction::*;
        assert_eq!(answer_direction(Some(SendRecv), None), None);
        assert_eq!(
            answer_direction(Some(SendRecv), Some(RecvOnly)),
            Some(RecvOnly)
        );
        assert_eq!(
            answer_direction(Some(SendOnly), Some(SendOnly)),
            Some(Inactive)
        );
        assert_eq!(answer_direction(Some(RecvOnly), None), Some(SendOnly));
        assert_eq!(
            answer_direction(Some(RecvOnly), Some(RecvOnly)),
            Some(Inactive)
        );
        assert_eq!(
            answer_direction(Some(Inactive), Some(SendRecv)),
            Some(Inactive)
        );
    }
}

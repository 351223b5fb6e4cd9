//! The client side of SDP: the publisher's offer and the subscriber's answer, written by hand
//! (they are small and fixed), and what a client needs from the server's description.

use std::fmt::Write as _;
use std::net::SocketAddr;

use portunus_dtls::{DtlsRole, Fingerprint};
use portunus_ice::IceCredentials;
use portunus_sdp::MediaKind;
use portunus_sdp::attr::{Candidate, Setup};
use portunus_sdp::jsep::{RemoteDescription, SdpType};

use crate::BenchError;
use crate::media::{OPUS_PT, VP8_PT};

/// What a client puts in its own descriptions.
#[derive(Debug, Clone)]
pub struct LocalParams {
    /// Our ICE credentials.
    pub ice: IceCredentials,
    /// Our certificate's `a=fingerprint` value (`sha-256 AB:…`).
    pub fingerprint: String,
    /// The one host candidate: the peer's UDP socket.
    pub addr: SocketAddr,
}

/// The transport parameters a client takes from the server's description.
#[derive(Debug, Clone)]
pub struct ServerTransport {
    /// The server's ICE credentials.
    pub ice: IceCredentials,
    /// The server's certificate fingerprint.
    pub fingerprint: Fingerprint,
    /// The DTLS role *we* play.
    pub our_dtls_role: DtlsRole,
    /// The server is ICE-lite (Portunus): we must be controlling.
    pub ice_lite: bool,
    /// UDP candidates with their priorities (loopback ones only, when there are any).
    pub candidates: Vec<(SocketAddr, u32)>,
}

/// Parses the server's description (`offer` when the server offered).
///
/// # Errors
/// [`BenchError::Sdp`] when the description cannot be read or lacks ICE or DTLS parameters.
pub fn read_server_sdp(
    text: &str,
    sdp_type: SdpType,
) -> Result<(RemoteDescription, ServerTransport), BenchError> {
    let desc = RemoteDescription::parse(text, sdp_type)
        .map_err(|e| BenchError::Sdp(format!("server SDP: {e}")))?;
    let ice = IceCredentials::new(&desc.ice_ufrag, &desc.ice_pwd)
        .map_err(|e| BenchError::Sdp(format!("server ICE credentials: {e}")))?;
    let fp = desc
        .fingerprint
        .as_ref()
        .ok_or_else(|| BenchError::Sdp("server SDP has no fingerprint".into()))?;
    let fingerprint = Fingerprint::from_sdp(&format!("{} {}", fp.hash, fp.value))
        .map_err(|e| BenchError::Sdp(format!("server fingerprint: {e}")))?;
    // RFC 5763 §5: the server's `active` makes us the DTLS server; `passive` makes us the
    // client; to an `actpass` offer we answer `active` and are the client.
    let our_dtls_role = match desc.setup {
        Some(Setup::Active) => DtlsRole::Server,
        _ => DtlsRole::Client,
    };
    let candidates = candidates(&desc);
    let transport = ServerTransport {
        ice,
        fingerprint,
        our_dtls_role,
        ice_lite: desc.ice_lite,
        candidates,
    };
    Ok((desc, transport))
}

/// UDP candidates of the description (BUNDLE transport first, then any m-line's), keeping
/// loopback ones only when there are any: the bench runs on one machine.
fn candidates(desc: &RemoteDescription) -> Vec<(SocketAddr, u32)> {
    let all = desc
        .candidates
        .iter()
        .chain(desc.media.iter().flat_map(|m| m.candidates.iter()));
    let mut out: Vec<(SocketAddr, u32)> = Vec::new();
    for (addr, priority) in all.filter_map(udp_candidate) {
        if !out.iter().any(|(a, _)| *a == addr) {
            out.push((addr, priority));
        }
    }
    if out.iter().any(|(a, _)| a.ip().is_loopback()) {
        out.retain(|(a, _)| a.ip().is_loopback());
    }
    out
}

/// Parses one trickled `candidate:…` line into a UDP address and priority.
pub fn parse_trickled(line: &str) -> Option<(SocketAddr, u32)> {
    udp_candidate(&Candidate::parse(line.strip_prefix("a=").unwrap_or(line))?)
}

/// A UDP candidate with an IP address, as its address and priority.
fn udp_candidate(c: &Candidate) -> Option<(SocketAddr, u32)> {
    if !c.transport.eq_ignore_ascii_case("udp") {
        return None;
    }
    Some((SocketAddr::new(c.ip()?, c.port), c.priority))
}

/// The publisher's offer: Opus (mid `0`) and VP8 (mid `1`, with `ssrc-group:SIM` when there
/// are three layers), both `sendonly`, bundled, rtcp-mux.
pub fn publisher_offer(
    local: &LocalParams,
    audio_ssrc: Option<u32>,
    video_ssrcs: &[u32],
) -> String {
    let mut mids = Vec::new();
    if audio_ssrc.is_some() {
        mids.push("0");
    }
    if !video_ssrcs.is_empty() {
        mids.push("1");
    }
    let mut s = session_header(local, &mids);
    let mut first = true;
    if let Some(ssrc) = audio_ssrc {
        media_header(
            &mut s, local, "audio", OPUS_PT, "0", "sendonly", "actpass", first,
        );
        first = false;
        let _ = write!(
            s,
            "a=rtpmap:{OPUS_PT} opus/48000/2\r\na=fmtp:{OPUS_PT} minptime=10;useinbandfec=1\r\n\
             a=ssrc:{ssrc} cname:bench\r\na=ssrc:{ssrc} msid:bench bench-a\r\n"
        );
    }
    if !video_ssrcs.is_empty() {
        media_header(
            &mut s, local, "video", VP8_PT, "1", "sendonly", "actpass", first,
        );
        let _ = write!(
            s,
            "a=rtpmap:{VP8_PT} VP8/90000\r\na=rtcp-fb:{VP8_PT} nack\r\na=rtcp-fb:{VP8_PT} nack pli\r\n\
             a=rtcp-fb:{VP8_PT} ccm fir\r\n"
        );
        if video_ssrcs.len() > 1 {
            s.push_str("a=ssrc-group:SIM");
            for ssrc in video_ssrcs {
                let _ = write!(s, " {ssrc}");
            }
            s.push_str("\r\n");
        }
        for ssrc in video_ssrcs {
            let _ = write!(
                s,
                "a=ssrc:{ssrc} cname:bench\r\na=ssrc:{ssrc} msid:bench bench-v\r\n"
            );
        }
    }
    s
}

/// The subscriber's answer to a server offer: every audio/video m-line accepted `recvonly`
/// with its first VP8 or Opus format (else its first format), anything else rejected.
///
/// # Errors
/// [`BenchError::Sdp`] when no m-line could be accepted.
pub fn subscriber_answer(
    offer: &RemoteDescription,
    local: &LocalParams,
) -> Result<String, BenchError> {
    let accepted: Vec<bool> = offer
        .media
        .iter()
        .map(|m| {
            m.port != 0
                && matches!(m.kind, MediaKind::Audio | MediaKind::Video)
                && !m.codecs.is_empty()
        })
        .collect();
    let mids: Vec<&str> = offer
        .media
        .iter()
        .zip(&accepted)
        .filter(|(_, a)| **a)
        .map(|(m, _)| m.mid.as_str())
        .collect();
    if mids.is_empty() {
        return Err(BenchError::Sdp(
            "the server offered no audio or video".into(),
        ));
    }
    let mut s = session_header(local, &mids);
    let mut first = true;
    for (m, ok) in offer.media.iter().zip(&accepted) {
        let kind = match m.kind {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Application => "application",
        };
        if !ok {
            let mline = offer.sdp.media.get(m.index).map(|x| &x.mline);
            let proto = mline.map_or("UDP/TLS/RTP/SAVPF", |l| l.proto.as_str());
            let fmt = mline
                .and_then(|l| l.formats.first())
                .map_or("0", String::as_str);
            let _ = write!(
                s,
                "m={kind} 0 {proto} {fmt}\r\nc=IN IP4 0.0.0.0\r\na=mid:{}\r\na=inactive\r\n",
                m.mid.as_str()
            );
            continue;
        }
        let codec = m
            .codecs
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("vp8") || c.name.eq_ignore_ascii_case("opus"))
            .unwrap_or(&m.codecs[0]);
        let direction = if m.direction.sends() {
            "recvonly"
        } else {
            "inactive"
        };
        media_header(
            &mut s,
            local,
            kind,
            codec.payload_type,
            m.mid.as_str(),
            direction,
            "active",
            first,
        );
        first = false;
        let channels = codec.channels.map(|c| format!("/{c}")).unwrap_or_default();
        let _ = write!(
            s,
            "a=rtpmap:{} {}/{}{channels}\r\n",
            codec.payload_type, codec.name, codec.clock_rate
        );
        if let Some(fmtp) = &codec.fmtp {
            let _ = write!(s, "a=fmtp:{} {fmtp}\r\n", codec.payload_type);
        }
    }
    Ok(s)
}

fn session_header(local: &LocalParams, mids: &[&str]) -> String {
    let mut s = String::with_capacity(2048);
    let _ = write!(
        s,
        "v=0\r\no=- {} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE {}\r\na=msid-semantic: WMS bench\r\n",
        local.addr.port(),
        mids.join(" ")
    );
    s
}

#[allow(
    clippy::too_many_arguments,
    reason = "one SDP section's parameters, written once"
)]
fn media_header(
    s: &mut String,
    local: &LocalParams,
    kind: &str,
    pt: u8,
    mid: &str,
    direction: &str,
    setup: &str,
    with_candidate: bool,
) {
    let _ = write!(
        s,
        "m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 127.0.0.1\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    );
    if with_candidate {
        let _ = write!(
            s,
            "a=candidate:1 1 udp 2130706431 {} {} typ host\r\na=end-of-candidates\r\n",
            local.addr.ip(),
            local.addr.port()
        );
    }
    let _ = write!(
        s,
        "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:{}\r\na=setup:{setup}\r\na=mid:{mid}\r\na={direction}\r\na=rtcp-mux\r\n",
        local.ice.ufrag(),
        local.ice.pwd(),
        local.fingerprint
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalParams {
        LocalParams {
            ice: IceCredentials::generate(&[3; IceCredentials::RANDOM_BYTES]),
            fingerprint: format!("sha-256 {}", ["AB"; 32].join(":")),
            addr: "127.0.0.1:40000".parse().expect("addr"),
        }
    }

    #[test]
    fn publisher_offer_reads_back_as_a_janus_offer_with_simulcast() {
        let text = publisher_offer(&local(), Some(10), &[20, 21, 22]);
        let desc = RemoteDescription::parse(&text, SdpType::Offer).expect("valid offer");
        assert_eq!(desc.media.len(), 2);
        assert_eq!(desc.candidates.len(), 1);
        assert_eq!(desc.setup, Some(Setup::ActPass));
        assert_eq!(desc.media[1].peer_ssrcs, [Some(20), Some(21), Some(22)]);
        assert_eq!(desc.media[0].codecs[0].name.to_ascii_lowercase(), "opus");
    }

    #[test]
    fn subscriber_answer_accepts_media_and_rejects_data() {
        let offer = publisher_offer(&local(), Some(10), &[20])
            + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\na=mid:2\r\na=sctp-port:5000\r\n";
        let (desc, transport) = read_server_sdp(&offer, SdpType::Offer).expect("offer");
        assert_eq!(transport.our_dtls_role, DtlsRole::Client);
        assert_eq!(
            transport.candidates,
            vec![("127.0.0.1:40000".parse().expect("a"), 2_130_706_431)]
        );
        let answer = subscriber_answer(&desc, &local()).expect("answer");
        let back = RemoteDescription::parse(&answer, SdpType::Answer).expect("valid answer");
        assert_eq!(back.media.len(), 3);
        assert_eq!(back.media[2].port, 0);
        assert!(answer.contains("a=group:BUNDLE 0 1\r\n"));
        assert!(answer.contains("a=setup:active"));
        assert!(answer.contains("a=recvonly"));
    }

    #[test]
    fn trickled_candidates_parse() {
        assert_eq!(
            parse_trickled("candidate:1 1 udp 2015363327 127.0.0.1 51234 typ host"),
            Some(("127.0.0.1:51234".parse().expect("a"), 2_015_363_327))
        );
        assert_eq!(
            parse_trickled("candidate:1 1 tcp 1 127.0.0.1 9 typ host"),
            None
        );
    }
}

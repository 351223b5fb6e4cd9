//! `janus_sdp_anonymize`: the SDP a plugin sees.

use crate::janus::{JConn, JSdp, atoi};
use crate::{MediaKind, Sdp, SdpError, extension};

/// Session attributes the core handles itself.
const SESSION_STRIPPED: [&str; 8] = [
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "fingerprint",
    "group",
    "msid-semantic",
    "extmap-allow-mixed",
    "rtcp-rsize",
];

/// Media attributes the core handles itself.
const MEDIA_STRIPPED: [&str; 21] = [
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "crypto",
    "fingerprint",
    "setup",
    "connection",
    "group",
    "msid-semantic",
    "rid",
    "simulcast",
    "rtcp",
    "rtcp-mux",
    "rtcp-rsize",
    "candidate",
    "end-of-candidates",
    "ssrc",
    "ssrc-group",
    "sctpmap",
    "sctp-port",
    "max-message-size",
];

/// Payload types the core hides from plugins (it handles RTX itself; RED/FEC for video are
/// not supported).
const PURGED_ENCODINGS: [&str; 4] = ["red/90000", "ulpfec/90000", "flexfec-03/90000", "rtx/90000"];

/// What Janus hands a plugin for a client SDP: the description as Janus's writer prints it
/// after its pre-parse and anonymizer.
///
/// * `o=` address becomes `1.1.1.1`; media `c=` addresses too (a session `c=` is kept).
/// * Session attributes `ice-ufrag`, `ice-pwd`, `ice-options`, `fingerprint`, `group`,
///   `msid-semantic`, `extmap-allow-mixed`, `rtcp-rsize` are removed.
/// * Enabled audio/video m-lines get port 9 (also a first m-line or a `bundle-only` one with
///   port 0); the first DTLS/SCTP data m-line gets 9, any other application m-line 0.
/// * Media attributes `ice-*`, `crypto`, `fingerprint`, `setup`, `connection`, `group`,
///   `msid-semantic`, `rid`, `simulcast`, `rtcp`, `rtcp-mux`, `rtcp-rsize`, `candidate`,
///   `end-of-candidates`, `ssrc`, `ssrc-group`, `sctpmap`, `sctp-port`, `max-message-size`
///   are removed, and any attribute naming `urn:ietf:params:rtp-hdrext:encrypt`.
/// * The payload types of `red/90000`, `ulpfec/90000`, `flexfec-03/90000` and `rtx/90000` are
///   removed with every attribute that refers to them. `mid`, `msid`, directions,
///   codecs with their `rtpmap`/`fmtp`/`rtcp-fb`, `extmap`s and audio RED stay.
///
/// As Janus's writer does, the direction is printed first in each m-line (`sendrecv` when
/// absent), lines other than `v o s t c b a m` disappear, and a rejected m-line keeps only
/// format `0` and its `a=mid`.
///
/// # Errors
///
/// Only for a description Janus's parser refuses (one built by hand).
pub fn anonymize(sdp: &Sdp) -> Result<Sdp, SdpError> {
    let mut j = JSdp::from_sdp(sdp)?;
    preparse_ports(&mut j);
    anonymize_janus(&mut j);
    Ok(j.to_sdp())
}

/// The port fixes of `janus_sdp_preparse`: the first m-line and `bundle-only` m-lines are
/// never disabled, because everything is bundled on the first transport.
pub(crate) fn preparse_ports(j: &mut JSdp) {
    for (index, m) in j.mlines.iter_mut().enumerate() {
        if m.port == 0
            && (index == 0
                || m.attributes
                    .iter()
                    .any(|a| a.name.eq_ignore_ascii_case("bundle-only")))
        {
            m.port = 9;
        }
    }
}

/// `janus_sdp_anonymize` on Janus's representation.
pub(crate) fn anonymize_janus(j: &mut JSdp) {
    j.o_ipv4 = true;
    j.o_addr = "1.1.1.1".to_owned();
    j.attributes.retain(|a| {
        !SESSION_STRIPPED
            .iter()
            .any(|s| a.name.eq_ignore_ascii_case(s))
    });
    let mut data = 0;
    for m in &mut j.mlines {
        m.port = match m.kind {
            MediaKind::Audio | MediaKind::Video if m.port > 0 => 9,
            MediaKind::Application if m.port > 0 && m.is_sctp() => {
                data += 1;
                if data == 1 { 9 } else { 0 }
            }
            _ => 0,
        };
        if m.c.is_some() {
            m.c = Some(JConn {
                ipv4: true,
                addr: "1.1.1.1".to_owned(),
            });
        }
        m.attributes.retain(|a| {
            !MEDIA_STRIPPED
                .iter()
                .any(|s| a.name.eq_ignore_ascii_case(s))
        });
        m.attributes.retain(|a| {
            a.value
                .as_deref()
                .is_none_or(|v| !v.contains(extension::ENCRYPTED))
        });
        let purged: Vec<i64> = m
            .attributes
            .iter()
            .filter_map(|a| a.value.as_deref())
            .filter(|v| PURGED_ENCODINGS.iter().any(|e| v.contains(e)))
            .map(atoi)
            .filter(|pt| *pt >= 0)
            .collect();
        for pt in purged {
            m.remove_payload_type(pt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
o=- 123 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1 2\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS s\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\n\
a=ice-ufrag:uf\r\n\
a=ice-pwd:pw\r\n\
a=fingerprint:sha-256 AA\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:9 urn:ietf:params:rtp-hdrext:encrypt urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendrecv\r\n\
a=msid:s t\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=ssrc:1 cname:c\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 98\r\n\
c=IN IP4 0.0.0.0\r\n\
b=AS:500\r\n\
a=mid:1\r\n\
a=rid:h send\r\n\
a=simulcast:send h\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=rtpmap:98 ulpfec/90000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=mid:2\r\n\
a=sctp-port:5000\r\n\
a=max-message-size:262144\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
a=mid:3\r\n";

    #[test]
    fn plugin_sees_the_documented_anonymized_form() {
        let out = anonymize(&Sdp::parse(OFFER).unwrap()).unwrap().to_string();
        let expected = "v=0\r\n\
o=- 123 2 IN IP4 1.1.1.1\r\n\
s=-\r\n\
t=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n\
c=IN IP4 1.1.1.1\r\n\
a=sendrecv\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=msid:s t\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
c=IN IP4 1.1.1.1\r\n\
b=AS:500\r\n\
a=sendrecv\r\n\
a=mid:1\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 1.1.1.1\r\n\
a=sendrecv\r\n\
a=mid:2\r\n\
m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n\
a=sendrecv\r\n\
a=mid:3\r\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn bundle_only_and_first_mline_are_enabled() {
        let text = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n\
            m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=bundle-only\r\na=rtpmap:96 VP8/90000\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n";
        let out = anonymize(&Sdp::parse(text).unwrap()).unwrap();
        assert_eq!(
            out.media.iter().map(|m| m.port()).collect::<Vec<_>>(),
            [9, 9, 0]
        );
        assert_eq!(out.media[2].mline.formats, ["0"]);
    }
}

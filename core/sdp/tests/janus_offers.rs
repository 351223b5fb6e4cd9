//! Janus-initiated negotiations (VideoRoom subscriber, Streaming viewer): the merged offer,
//! the client's answer, and renegotiations that reuse inactive m-lines.

use portunus_sdp::jsep::{
    LocalTransport, MergeContext, OfferBuilder, OfferStream, RemoteDescription, SdpType,
    SubscriberOffer, merge,
};
use portunus_sdp::{CodecName, Direction, Sdp, extension};
use webrtc_sdp::attribute_type::{SdpAttribute, SdpAttributeSetup, SdpAttributeType};

fn transport() -> LocalTransport {
    LocalTransport {
        ice_ufrag: "Qw3r".into(),
        ice_pwd: "pAsSwOrDpAsSwOrDpAsSwO".into(),
        fingerprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89".into(),
        public_ip: "198.51.100.7".into(),
        candidates: Some(vec!["1 1 udp 2015363327 198.51.100.7 40000 typ host".into()]),
        ice_lite: true,
    }
}

fn counter(start: u32) -> impl FnMut() -> u32 {
    let mut n = start;
    move || {
        n += 1;
        n
    }
}

fn videoroom_audio() -> OfferStream {
    let mut s = OfferStream::audio(CodecName::Opus)
        .with_extension(extension::AUDIO_LEVEL)
        .with_extension(extension::MID);
    s.fmtp = Some("useinbandfec=1".into());
    s.msid = Some(("6666".into(), "0".into()));
    s
}

fn videoroom_video() -> OfferStream {
    OfferStream::video(CodecName::Vp8)
        .with_extension(extension::MID)
        .with_extension(extension::ABS_SEND_TIME)
        .with_extension(extension::TRANSPORT_WIDE_CC)
        .with_extension(extension::PLAYOUT_DELAY)
        .with_extension(extension::VIDEO_ORIENTATION)
}

#[test]
fn subscriber_offer_is_janus_byte_for_byte_and_strictly_valid() {
    let mut sub = SubscriberOffer::new("VideoRoom 1234", 1_717_171_717_171_717);
    sub.subscribe(videoroom_audio());
    sub.subscribe(videoroom_video());
    sub.subscribe(OfferStream::data());
    let (offer, _ctx) = sub.offer(transport(), None, &mut counter(500)).unwrap();
    let text = offer.to_string();
    let expected = "v=0\r\n\
o=- 1717171717171717 1 IN IP4 198.51.100.7\r\n\
s=VideoRoom 1234\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1 2\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS *\r\n\
a=ice-lite\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
c=IN IP4 198.51.100.7\r\n\
a=sendonly\r\n\
a=mid:0\r\n\
a=rtcp-mux\r\n\
a=ice-ufrag:Qw3r\r\n\
a=ice-pwd:pAsSwOrDpAsSwOrDpAsSwO\r\n\
a=ice-options:trickle\r\n\
a=setup:actpass\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=fmtp:111 useinbandfec=1\r\n\
a=msid:6666 0\r\n\
a=ssrc:501 cname:janus\r\n\
a=candidate:1 1 udp 2015363327 198.51.100.7 40000 typ host\r\n\
a=end-of-candidates\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n\
c=IN IP4 198.51.100.7\r\n\
a=sendonly\r\n\
a=mid:1\r\n\
a=rtcp-mux\r\n\
a=ice-ufrag:Qw3r\r\n\
a=ice-pwd:pAsSwOrDpAsSwOrDpAsSwO\r\n\
a=ice-options:trickle\r\n\
a=setup:actpass\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 ccm fir\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtcp-fb:96 nack pli\r\n\
a=rtcp-fb:96 goog-remb\r\n\
a=rtcp-fb:96 transport-cc\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=extmap:12 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n\
a=extmap:13 urn:3gpp:video-orientation\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=ssrc-group:FID 502 503\r\n\
a=msid:janus janus1\r\n\
a=ssrc:502 cname:janus\r\n\
a=ssrc:503 cname:janus\r\n\
a=candidate:1 1 udp 2015363327 198.51.100.7 40000 typ host\r\n\
a=end-of-candidates\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 198.51.100.7\r\n\
a=sendonly\r\n\
a=mid:2\r\n\
a=sctp-port:5000\r\n\
a=ice-ufrag:Qw3r\r\n\
a=ice-pwd:pAsSwOrDpAsSwOrDpAsSwO\r\n\
a=ice-options:trickle\r\n\
a=setup:actpass\r\n\
a=candidate:1 1 udp 2015363327 198.51.100.7 40000 typ host\r\n\
a=end-of-candidates\r\n";
    assert_eq!(text, expected);
    let parsed = webrtc_sdp::parse_sdp(&text, true).unwrap();
    for m in &parsed.media {
        assert!(matches!(
            m.get_attribute(SdpAttributeType::Setup),
            Some(SdpAttribute::Setup(SdpAttributeSetup::Actpass))
        ));
    }
}

/// A Chrome-style answer to the offer above.
fn client_answer(mids: &[(&str, &str, &str)]) -> String {
    let mut s = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n".to_owned();
    for (kind, mid, fmt) in mids {
        let proto = if *kind == "application" {
            "UDP/DTLS/SCTP"
        } else {
            "UDP/TLS/RTP/SAVPF"
        };
        s.push_str(&format!(
            "m={kind} 9 {proto} {fmt}\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:cLnt\r\na=ice-pwd:clientpasswordclientpw\r\n\
             a=fingerprint:sha-256 11:22\r\na=setup:active\r\na=mid:{mid}\r\na=recvonly\r\n"
        ));
        if *fmt == "96 97" {
            s.push_str("a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n");
        }
    }
    s
}

#[test]
fn client_answer_sets_the_dtls_role_and_keeps_rtx() {
    let mut sub = SubscriberOffer::new("VideoRoom 1", 7);
    sub.subscribe(videoroom_audio());
    sub.subscribe(videoroom_video());
    let (_, mut ctx) = sub.offer(transport(), None, &mut counter(0)).unwrap();
    let answer = client_answer(&[("audio", "0", "111"), ("video", "1", "96 97")]);
    let remote = RemoteDescription::parse(&answer, SdpType::Answer).unwrap();
    assert_eq!(remote.dtls_role, portunus_sdp::jsep::DtlsRole::Server);
    ctx.apply_remote_answer(&remote);
    assert!(ctx.rfc4588);
    assert_eq!(ctx.media[1].rtx_ssrc, Some(3));

    // An answer without apt turns RFC 4588 off: later offers carry no RTX.
    let answer = client_answer(&[("audio", "0", "111"), ("video", "1", "96")]);
    ctx.apply_remote_answer(&RemoteDescription::parse(&answer, SdpType::Answer).unwrap());
    let plugin = sub.plugin_offer().unwrap();
    let next =
        MergeContext::for_offer(&plugin, transport(), Some(&ctx), &mut counter(100)).unwrap();
    let text = merge(&plugin, &next).unwrap().to_string();
    assert!(
        !text.contains("rtx/90000") && !text.contains("FID"),
        "{text}"
    );
    assert!(
        text.contains("a=ssrc:2 cname:janus"),
        "SSRCs survive renegotiation\n{text}"
    );
}

#[test]
fn unsubscribed_mline_goes_inactive_and_is_reused_with_new_ssrcs() {
    let mut sub = SubscriberOffer::new("VideoRoom 1", 7);
    sub.subscribe(videoroom_audio());
    sub.subscribe(videoroom_video());
    let mut ssrcs = counter(0);
    let (_, ctx1) = sub.offer(transport(), None, &mut ssrcs).unwrap();
    assert_eq!(
        (ctx1.media[1].ssrc, ctx1.media[1].rtx_ssrc),
        (Some(2), Some(3))
    );

    assert!(sub.unsubscribe("1"));
    let (offer2, ctx2) = sub.offer(transport(), Some(&ctx1), &mut ssrcs).unwrap();
    let video = &offer2.media[1];
    assert_eq!(
        (video.port(), video.direction(), video.mid()),
        (9, Direction::Inactive, Some("1"))
    );
    assert!(
        video.msid().is_none() && video.ssrc_lines().is_empty() && video.ssrc_groups().is_empty()
    );
    assert_eq!(
        video.extmaps().len(),
        3,
        "mid, abs-send-time and transport-cc stay"
    );
    assert_eq!(offer2.bundle_group(), Some(vec!["0", "1"]));
    assert!(offer2.to_string().contains("o=- 7 2 IN IP4"));
    assert!(webrtc_sdp::parse_sdp(&offer2.to_string(), true).is_ok());

    // A new VP8 subscription takes m-line 1 back, with fresh SSRCs and the same RTX type.
    assert_eq!(sub.subscribe(videoroom_video()), 1);
    let (offer3, ctx3) = sub.offer(transport(), Some(&ctx2), &mut ssrcs).unwrap();
    assert_eq!(offer3.media.len(), 2);
    assert_eq!(offer3.media[1].direction(), Direction::SendOnly);
    assert_eq!(
        (ctx3.media[1].ssrc, ctx3.media[1].rtx_ssrc),
        (Some(4), Some(5))
    );
    assert_eq!(ctx3.media[0].ssrc, Some(1));
    assert!(offer3.to_string().contains("a=ssrc-group:FID 4 5\r\n"));
    assert_eq!(offer3.media[1].mline.formats, ["96", "97"]);
}

#[test]
fn streaming_mountpoint_offer_with_custom_payload_type() {
    let mut b = OfferBuilder::new("Mountpoint 1", 42, 1);
    let mut audio = OfferStream::audio(CodecName::Opus)
        .with_mid("a")
        .with_direction(Direction::SendOnly)
        .with_extension(extension::MID);
    audio.payload_type = Some(111);
    let mut video = OfferStream::video(CodecName::Vp8)
        .with_mid("v")
        .with_direction(Direction::SendOnly)
        .with_extension(extension::MID)
        .with_extension(extension::ABS_SEND_TIME);
    video.payload_type = Some(100);
    b.streams = vec![audio, video];
    let plugin = b.build().unwrap();
    let ctx = MergeContext::for_offer(&plugin, transport(), None, &mut counter(9)).unwrap();
    let text = merge(&plugin, &ctx).unwrap().to_string();
    let sdp = Sdp::parse(&text).unwrap();
    assert_eq!(sdp.bundle_group(), Some(vec!["a", "v"]));
    // RTX for PT 100 is 101.
    assert_eq!(sdp.media[1].mline.formats, ["100", "101"]);
    assert!(text.contains("a=fmtp:101 apt=100\r\n"));
    assert!(webrtc_sdp::parse_sdp(&text, true).is_ok());
}

#[test]
fn full_trickle_and_ipv6_public_address() {
    let mut t = transport();
    t.candidates = None;
    t.public_ip = "2001:db8::7".into();
    t.ice_lite = false;
    let mut b = OfferBuilder::new("x", 1, 1);
    b.streams
        .push(OfferStream::audio(CodecName::Pcmu).with_mid("0"));
    let plugin = b.build().unwrap();
    let ctx = MergeContext::for_offer(&plugin, t, None, &mut counter(0)).unwrap();
    let text = merge(&plugin, &ctx).unwrap().to_string();
    assert!(text.starts_with("v=0\r\no=- 1 1 IN IP6 2001:db8::7\r\n"));
    assert!(
        text.contains("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP6 2001:db8::7\r\na=sendrecv\r\n"),
        "{text}"
    );
    assert!(!text.contains("candidate") && !text.contains("ice-lite"));
}

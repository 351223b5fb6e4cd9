//! Real browser offers (see `testdata/README.md`) answered the way Janus's EchoTest and
//! VideoRoom-publisher answer them, with every answer checked by Mozilla's strict parser
//! (`webrtc-sdp`) as an independent validator.

use portunus_sdp::attr::CandidateType;
use portunus_sdp::jsep::{
    self, AnswerConfig, LocalTransport, MergeContext, RemoteDescription, SdpType,
};
use portunus_sdp::{MediaKind, Sdp};
use webrtc_sdp::attribute_type::{
    SdpAttribute, SdpAttributeFingerprintHashType, SdpAttributeSetup, SdpAttributeType,
};
use webrtc_sdp::media_type::SdpMediaValue;

macro_rules! testdata {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/", $name))
    };
}

/// An offer and what the answer must contain.
struct Case {
    name: &'static str,
    text: &'static str,
    /// Expected `(encoding, payload type)` per m-line of an EchoTest answer; `None` for data.
    codecs: &'static [Option<(&'static str, u8)>],
    /// rids Janus must answer `recv` for, per m-line with simulcast.
    rids: &'static [(usize, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "chrome-156-audio-video-data",
        text: testdata!("chrome-156-audio-video-data.sdp"),
        codecs: &[Some(("opus", 111)), Some(("VP8", 96)), None],
        rids: &[],
    },
    Case {
        name: "chrome-156-simulcast-rid",
        text: testdata!("chrome-156-simulcast-rid.sdp"),
        codecs: &[Some(("opus", 111)), Some(("VP8", 96))],
        rids: &[(1, "h;m;l")],
    },
    Case {
        name: "chrome-156-two-video",
        text: testdata!("chrome-156-two-video.sdp"),
        codecs: &[Some(("opus", 111)), Some(("VP8", 96)), Some(("VP8", 96))],
        rids: &[],
    },
    Case {
        name: "firefox-152-simulcast-rid",
        text: testdata!("firefox-152-simulcast-rid.sdp"),
        codecs: &[Some(("VP8", 120)), Some(("opus", 109))],
        rids: &[(0, "h;m;l")],
    },
    Case {
        name: "firefox-85-datachannel-candidates",
        text: testdata!("firefox-85-datachannel-candidates.sdp"),
        codecs: &[None],
        rids: &[],
    },
    Case {
        name: "firefox-46-legacy-sctpmap",
        text: testdata!("firefox-46-legacy-sctpmap.sdp"),
        codecs: &[Some(("opus", 109)), Some(("VP8", 120)), None],
        rids: &[],
    },
    Case {
        name: "safari-26.5.2-audio-video-data",
        text: testdata!("safari-26.5.2-audio-video-data.sdp"),
        codecs: &[Some(("opus", 111)), Some(("VP8", 107)), None],
        rids: &[],
    },
];

fn transport() -> LocalTransport {
    LocalTransport {
        ice_ufrag: "Jn5s".into(),
        ice_pwd: "rS4GPb2rPYkJ3v6Ll8mQYd".into(),
        fingerprint: "D2:B9:31:8F:DF:24:D8:0E:ED:D2:EF:25:9E:AF:6F:B8:34:AE:53:9C:E6:F3:8F:F2:64:15:FA:E8:7F:53:2D:38".into(),
        public_ip: "192.0.2.2".into(),
        candidates: Some(vec!["1 1 udp 2015363327 192.0.2.2 34080 typ host".into()]),
        ice_lite: false,
    }
}

/// The full Janus pipeline for a client offer: core checks, anonymize, plugin answer, merge.
fn answer(offer: &str, config: &AnswerConfig) -> (RemoteDescription, String) {
    let remote = RemoteDescription::parse(offer, SdpType::Offer).expect("browser offer accepted");
    let plugin_view = jsep::anonymize(&remote.sdp).unwrap();
    let plugin_answer = jsep::generate_answer(&plugin_view, config, &[]).unwrap();
    let mut ssrc = 0x1000_0000u32;
    let ctx = MergeContext::for_answer(&remote, transport(), &mut || {
        ssrc += 1;
        ssrc
    });
    let merged = jsep::merge(&plugin_answer, &ctx).unwrap().to_string();
    (remote, merged)
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[test]
fn every_offer_round_trips_byte_for_byte() {
    for case in CASES {
        let sdp = Sdp::parse(case.text).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(sdp.to_string(), crlf(case.text), "{}", case.name);
        assert!(
            webrtc_sdp::parse_sdp(case.text, false).is_ok(),
            "{}: webrtc-sdp accepts the offer",
            case.name
        );
    }
}

#[test]
fn answers_pass_the_strict_validator_and_match_the_offer() {
    for config in [
        AnswerConfig::echotest(),
        AnswerConfig::videoroom_publisher("1234"),
    ] {
        for case in CASES {
            let (remote, text) = answer(case.text, &config);
            let name = case.name;
            let parsed = webrtc_sdp::parse_sdp(&text, true)
                .unwrap_or_else(|e| panic!("{name}: strict parse failed: {e:?}\n{text}"));
            assert_eq!(
                parsed.media.len(),
                remote.media.len(),
                "{name}: one answer m-line per offered m-line"
            );
            let mut accepted = Vec::new();
            for (i, m) in parsed.media.iter().enumerate() {
                let Some(SdpAttribute::Mid(mid)) = m.get_attribute(SdpAttributeType::Mid) else {
                    panic!("{name}: m-line {i} has no mid");
                };
                assert_eq!(
                    mid,
                    remote.media[i].mid.as_str(),
                    "{name}: mids follow the offer"
                );
                if m.get_port() == 0 {
                    continue;
                }
                accepted.push(mid.clone());
                let setup = m.get_attribute(SdpAttributeType::Setup);
                assert!(
                    matches!(setup, Some(SdpAttribute::Setup(SdpAttributeSetup::Active))),
                    "{name}: actpass offer → active"
                );
                assert!(
                    m.get_attribute(SdpAttributeType::EndOfCandidates).is_some(),
                    "{name}: half-trickle"
                );
            }
            let Some(SdpAttribute::Group(group)) = parsed.get_attribute(SdpAttributeType::Group)
            else {
                panic!("{name}: no BUNDLE group");
            };
            assert_eq!(
                group.tags, accepted,
                "{name}: BUNDLE lists the accepted mids"
            );
            let Some(SdpAttribute::Fingerprint(fp)) =
                parsed.get_attribute(SdpAttributeType::Fingerprint)
            else {
                panic!("{name}: no fingerprint");
            };
            assert_eq!(fp.hash_algorithm, SdpAttributeFingerprintHashType::Sha256);
            assert_eq!(fp.fingerprint.len(), 32);
            check_codecs(case, &parsed, &text);
        }
    }
}

fn check_codecs(case: &Case, parsed: &webrtc_sdp::SdpSession, text: &str) {
    for (i, expected) in case.codecs.iter().enumerate() {
        let m = &parsed.media[i];
        match expected {
            None => assert_eq!(*m.get_type(), SdpMediaValue::Application, "{}", case.name),
            Some((codec, pt)) => {
                let Some(SdpAttribute::Rtpmap(r)) = m.get_attribute(SdpAttributeType::Rtpmap)
                else {
                    panic!("{}: m-line {i} has no rtpmap\n{text}", case.name);
                };
                assert_eq!(
                    (r.codec_name.as_str(), r.payload_type),
                    (*codec, *pt),
                    "{}: m-line {i}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn simulcast_offers_get_rid_recv_in_offer_order() {
    for case in CASES.iter().filter(|c| !c.rids.is_empty()) {
        let (_, text) = answer(case.text, &AnswerConfig::videoroom_publisher("1"));
        let sdp = Sdp::parse(&text).unwrap();
        for (index, list) in case.rids {
            let m = &sdp.media[*index];
            let rids: Vec<String> = m
                .rids()
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r.rid.as_str(),
                        if r.send { "send" } else { "recv" }
                    )
                })
                .collect();
            let expected: Vec<String> = list.split(';').map(|r| format!("{r} recv")).collect();
            assert_eq!(rids, expected, "{}", case.name);
            assert_eq!(
                m.attribute_value("simulcast"),
                Some(format!("recv {list}").as_str()),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn remote_descriptions_read_browser_specifics() {
    let chrome = RemoteDescription::parse(CASES[0].text, SdpType::Offer).unwrap();
    assert_eq!(chrome.media.len(), 3);
    assert!(
        chrome
            .candidates
            .iter()
            .all(|c| c.is_mdns() && c.kind == CandidateType::Host)
    );
    assert!(chrome.rfc4588);
    let video = &chrome.media[1];
    assert_eq!(video.codec(96).unwrap().rtx_payload_type, Some(97));
    assert!(video.peer_ssrcs[0].is_some() && video.peer_rtx_ssrcs[0].is_some());
    assert_eq!(chrome.media[2].max_message_size, Some(262_144));

    let simulcast = RemoteDescription::parse(CASES[1].text, SdpType::Offer).unwrap();
    let v = &simulcast.media[1];
    assert!(v.is_simulcast());
    assert_eq!(
        v.simulcast_rids
            .iter()
            .flatten()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        ["l", "m", "h"]
    );
    assert_eq!(v.rid_extension_id(), Some(10));

    let ff = RemoteDescription::parse(CASES[3].text, SdpType::Offer).unwrap();
    assert_eq!(ff.media[0].kind, MediaKind::Video);
    assert_eq!(ff.ice_ufrag, "eceb5b58");
    assert_eq!(
        ff.media[0].msid.as_ref().map(|m| m.stream.as_str()),
        Some("-")
    );
    assert_eq!(
        ff.media[0]
            .extmaps
            .iter()
            .find(|e| e.id == 9)
            .and_then(|e| e.direction),
        Some(portunus_sdp::Direction::SendOnly)
    );

    let ff85 = RemoteDescription::parse(CASES[4].text, SdpType::Offer).unwrap();
    assert_eq!(ff85.candidates.len(), 6);
    assert!(ff85.end_of_candidates);
    assert!(ff85.candidates[0].is_mdns());
    assert_eq!(ff85.candidates[1].tcp_type.as_deref(), Some("active"));
    assert_eq!(ff85.candidates[2].kind, CandidateType::Relay);
    assert_eq!(ff85.media[0].max_message_size, Some(1_073_741_823));

    let legacy = RemoteDescription::parse(CASES[5].text, SdpType::Offer).unwrap();
    assert_eq!(legacy.media[2].sctp_port, Some(5000));
    assert_eq!(legacy.media[2].max_message_size, Some(65_536));
    assert_eq!(legacy.bundle.as_ref().map(Vec::len), Some(3));

    let safari = RemoteDescription::parse(CASES[6].text, SdpType::Offer).unwrap();
    assert_eq!(safari.media[1].codecs[0].name, "H264");
}

#[test]
fn legacy_data_channel_is_answered_with_sctpmap() {
    let (_, text) = answer(CASES[5].text, &AnswerConfig::echotest());
    assert!(text.contains("m=application 9 DTLS/SCTP 5000\r\nc=IN IP4 192.0.2.2\r\na=sendrecv\r\na=mid:sdparta_2\r\na=sctpmap:5000 webrtc-datachannel 16\r\n"));
    assert!(!text.contains("max-message-size"));
}

#[test]
fn echotest_answer_to_chrome_matches_the_documented_layout() {
    let (_, text) = answer(CASES[0].text, &AnswerConfig::echotest());
    let video = &text[text.find("m=video").unwrap()..text.find("m=application").unwrap()];
    let expected = "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n\
c=IN IP4 192.0.2.2\r\n\
a=sendrecv\r\n\
a=mid:1\r\n\
a=rtcp-mux\r\n\
a=ice-ufrag:Jn5s\r\n\
a=ice-pwd:rS4GPb2rPYkJ3v6Ll8mQYd\r\n\
a=ice-options:trickle\r\n\
a=setup:active\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 ccm fir\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtcp-fb:96 nack pli\r\n\
a=rtcp-fb:96 goog-remb\r\n\
a=rtcp-fb:96 transport-cc\r\n\
a=extmap:13 urn:3gpp:video-orientation\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n\
a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=ssrc-group:FID 268435458 268435459\r\n\
a=msid:janus janus1\r\n\
a=ssrc:268435458 cname:janus\r\n\
a=ssrc:268435459 cname:janus\r\n\
a=candidate:1 1 udp 2015363327 192.0.2.2 34080 typ host\r\n\
a=end-of-candidates\r\n";
    assert_eq!(video, expected);
    let session = &text[..text.find("m=audio").unwrap()];
    assert!(session.ends_with(
        "t=0 0\r\na=group:BUNDLE 0 1 2\r\na=ice-options:trickle\r\na=fingerprint:sha-256 D2:B9:31:8F:DF:24:D8:0E:ED:D2:EF:25:9E:AF:6F:B8:34:AE:53:9C:E6:F3:8F:F2:64:15:FA:E8:7F:53:2D:38\r\n\
a=extmap-allow-mixed\r\na=msid-semantic: WMS *\r\n"
    ));
}

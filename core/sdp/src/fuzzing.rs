//! Fuzz bodies, compiled always so `cargo test` and the cargo-fuzz shims share them.

use crate::Sdp;
use crate::jsep::{
    self, AnswerConfig, LocalTransport, MergeContext, RemoteDescription, RemoteOptions, SdpType,
};

/// Parses arbitrary bytes as an SDP (lossy UTF-8). When the parse succeeds: writes it back,
/// re-parses and asserts the model is unchanged and the text stable; then runs the JSEP
/// layer (remote description, anonymize, EchoTest answer, merge) on it. Must never panic.
pub fn sdp(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::attr::Candidate::parse(&text);
    let _ = crate::attr::Simulcast::parse(&text);
    let _ = crate::attr::RidDescription::parse(&text);
    let Ok(parsed) = Sdp::parse(&text) else {
        return;
    };
    let written = parsed.to_string();
    let again = Sdp::parse(&written).expect("a written SDP parses again");
    assert_eq!(again, parsed, "parse(write(sdp)) == sdp");
    assert_eq!(again.to_string(), written, "writing is stable");

    for m in &parsed.media {
        let _ = (
            m.rtpmaps(),
            m.extmaps(),
            m.candidates(),
            m.rids(),
            m.simulcast(),
            m.ssrc_groups(),
        );
        let _ = (
            m.ssrc_lines(),
            m.msid(),
            m.sctp_port(),
            m.max_message_size(),
            m.direction(),
        );
    }
    let anonymized = jsep::anonymize(&parsed).expect("a parsed SDP anonymizes");
    // Janus's writer can print an m-line without formats (every payload type purged), which
    // its parser then refuses; the JSEP steps may fail on such input but must not panic.
    let Ok(answer) = jsep::generate_answer(&anonymized, &AnswerConfig::echotest(), &[]) else {
        return;
    };
    let options = RemoteOptions {
        require_fingerprint: false,
        ..RemoteOptions::default()
    };
    let Ok(remote) = RemoteDescription::from_sdp(parsed, SdpType::Offer, options) else {
        return;
    };
    let transport = LocalTransport {
        ice_ufrag: "fuzz".into(),
        ice_pwd: "fuzzfuzzfuzzfuzzfuzzfu".into(),
        fingerprint: "00:11".into(),
        public_ip: "192.0.2.1".into(),
        candidates: Some(vec!["1 1 udp 1 192.0.2.1 9 typ host".into()]),
        ice_lite: false,
    };
    let mut n = 0u32;
    let ctx = MergeContext::for_answer(&remote, transport, &mut || {
        n += 1;
        n
    });
    if let Ok(merged) = jsep::merge(&answer, &ctx) {
        let _ = Sdp::parse(&merged.to_string());
    }
}

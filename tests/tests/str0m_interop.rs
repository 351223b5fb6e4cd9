//! Interop: a full WebRTC session between a PeerConnection built on Portunus's core
//! (`portunus-peer`, with SDP from `portunus-sdp`) and str0m, an independent sans-IO WebRTC
//! stack (its own ICE, DTLS via dimpl, SRTP, SCTP), playing the browser.
//!
//! The two Janus flows decide the DTLS roles, as they do for real clients:
//! - the client offers (EchoTest, VideoRoom publisher): Portunus answers `a=setup:active` and
//!   is the DTLS client;
//! - Portunus offers (VideoRoom subscriber, Streaming viewer) with `a=setup:actpass`: the
//!   client answers `active` and Portunus is the DTLS server.
//!
//! In the second flow the client only receives media, as a subscriber does. Each flow runs with AEAD_AES_128_GCM and with AES_CM_128_HMAC_SHA1_80, in memory and over
//! real UDP sockets on 127.0.0.1. A run passes when ICE and DTLS connect, Opus RTP crosses
//! both ways through SRTP, and a data channel carries a string and a binary message both
//! ways, byte for byte.

use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions, DtlsRole, Fingerprint, SrtpProfile};
use portunus_ice::{IceCredentials, IceLiteConfig};
use portunus_peer::{IceMode, Peer, PeerConfig, PeerEvent, Received};
use portunus_sctp::{MessageKind, Reliability, SctpConfig};
use portunus_sdp::jsep::{
    self, AnswerConfig, LocalTransport, MergeContext, OfferStream, RemoteDescription, SdpType,
    SubscriberOffer,
};
use portunus_sdp::{CodecName, MediaKind};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind as StrKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// Who writes the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// The browser (str0m) offers `actpass`; Portunus answers `active`: DTLS client.
    ClientOffers,
    /// The browser's offer says `a=setup:active` (str0m's offer is munged on the way, as a
    /// client that insists on being the DTLS client would write it); Portunus answers
    /// `passive` and is the DTLS server.
    ClientOffersActive,
    /// Portunus offers `actpass`; the browser's answer decides the DTLS roles.
    ServerOffers,
}

/// How datagrams travel between the two stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// Handed over in memory, in virtual time.
    Memory,
    /// Real UDP sockets on 127.0.0.1, real time.
    Loopback,
}

const OPUS_FRAME: &[u8] = b"an opus frame, opaque to every hop";
const TEXT: &str = "Janus EchoTest here! Portunus wrote this";

fn dtls_certificate() -> &'static DtlsCertificate {
    static CERT: OnceLock<DtlsCertificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        DtlsCertificate::generate(wall).expect("certificate")
    })
}

/// The Portunus end: a peer plus what the SDP negotiation told it.
struct Portunus {
    peer: Peer,
    addr: SocketAddr,
    audio_ssrc: u32,
    audio_pt: u8,
}

/// The str0m end.
struct Browser {
    rtc: Rtc,
    addr: SocketAddr,
    audio_mid: Mid,
}

fn negotiate(
    flow: Flow,
    profile: SrtpProfile,
    ours: SocketAddr,
    theirs: SocketAddr,
    now: Instant,
) -> (Portunus, Browser) {
    let cert = dtls_certificate();
    let dtls = DtlsConfig::new(
        cert,
        DtlsOptions {
            srtp_profiles: vec![profile],
            ..DtlsOptions::default()
        },
    )
    .expect("DTLS config");
    let local_ice = IceCredentials::generate(&[0x42; IceCredentials::RANDOM_BYTES]);
    let transport = LocalTransport {
        ice_ufrag: local_ice.ufrag().to_owned(),
        ice_pwd: local_ice.pwd().to_owned(),
        fingerprint: cert.fingerprint().to_string(),
        public_ip: ours.ip().to_string(),
        candidates: Some(vec![format!(
            "1 1 udp 2130706431 {} {} typ host",
            ours.ip(),
            ours.port()
        )]),
        ice_lite: true,
    };
    let mut rtc = Rtc::builder().build(now);
    rtc.add_local_candidate(Candidate::host(theirs, "udp").expect("candidate"));
    let mut next_ssrc = {
        let mut ssrc = 0x5000_0000u32;
        move || {
            ssrc += 1;
            ssrc
        }
    };

    let (remote, our_sdp, audio_mid) = match flow {
        Flow::ClientOffers | Flow::ClientOffersActive => {
            let mut change = rtc.sdp_api();
            let mid = change.add_media(StrKind::Audio, Direction::SendRecv, None, None, None);
            change.add_channel("chat".into());
            let (offer, pending) = change.apply().expect("offer");
            let mut offer_text = offer.to_sdp_string();
            if flow == Flow::ClientOffersActive {
                offer_text = offer_text.replace("a=setup:actpass", "a=setup:active");
            }
            let remote =
                RemoteDescription::parse(&offer_text, SdpType::Offer).expect("parse offer");
            let plugin_view = jsep::anonymize(&remote.sdp).expect("anonymize");
            let plugin_answer = jsep::generate_answer(&plugin_view, &AnswerConfig::echotest(), &[])
                .expect("answer");
            let ctx = MergeContext::for_answer(&remote, transport, &mut next_ssrc);
            let answer = jsep::merge(&plugin_answer, &ctx)
                .expect("merge")
                .to_string();
            let parsed = SdpAnswer::from_sdp_string(&answer).expect("str0m parses our answer");
            rtc.sdp_api()
                .accept_answer(pending, parsed)
                .expect("str0m accepts our answer");
            (remote, answer, mid)
        }
        Flow::ServerOffers => {
            let mut offer = SubscriberOffer::new("Portunus", 4242);
            offer.subscribe(
                OfferStream::audio(CodecName::Opus)
                    .with_direction(portunus_sdp::Direction::SendRecv),
            );
            offer.subscribe(OfferStream::data());
            let (sdp, _ctx) = offer.offer(transport, None, &mut next_ssrc).expect("offer");
            let offer_text = sdp.to_string();
            let parsed = SdpOffer::from_sdp_string(&offer_text).expect("str0m parses our offer");
            let answer = rtc
                .sdp_api()
                .accept_offer(parsed)
                .expect("str0m accepts our offer");
            let remote = RemoteDescription::parse(&answer.to_sdp_string(), SdpType::Answer)
                .expect("parse answer");
            let mid = Mid::from(remote.media[0].mid.as_str());
            (remote, offer_text, mid)
        }
    };

    // What the core keeps of the negotiation: our side of the audio m-line.
    let ours_type = if flow == Flow::ServerOffers {
        SdpType::Offer
    } else {
        SdpType::Answer
    };
    let ours_parsed = RemoteDescription::parse(&our_sdp, ours_type).expect("our own SDP parses");
    let audio = ours_parsed
        .media
        .iter()
        .find(|m| m.kind == MediaKind::Audio)
        .expect("audio m-line");
    let audio_ssrc = audio
        .ssrcs
        .first()
        .map(|s| s.ssrc)
        .expect("we announce an audio SSRC");
    let audio_pt = audio
        .codecs
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case("opus"))
        .expect("opus")
        .payload_type;

    let dtls_role = match remote.dtls_role {
        jsep::DtlsRole::Client => DtlsRole::Client,
        jsep::DtlsRole::Server => DtlsRole::Server,
    };
    // Janus's rules (jsep-sdp.md §3): an offer's actpass/passive makes us the client, its
    // active the server; in an answer to our actpass, active makes us the server.
    let expected_role = match remote.setup {
        Some(portunus_sdp::attr::Setup::Active) => DtlsRole::Server,
        _ => DtlsRole::Client,
    };
    assert_eq!(
        dtls_role, expected_role,
        "the setup rules decide our DTLS role"
    );
    if flow == Flow::ClientOffersActive {
        assert_eq!(dtls_role, DtlsRole::Server);
    }
    let fingerprint = remote.fingerprint.as_ref().expect("fingerprint");
    let remote_fingerprint =
        Fingerprint::from_sdp(&format!("{} {}", fingerprint.hash, fingerprint.value))
            .expect("fingerprint");
    let data = remote
        .media
        .iter()
        .find(|m| m.kind == MediaKind::Application)
        .expect("data m-line");
    let peer = Peer::new(
        now,
        &dtls,
        PeerConfig {
            ice: IceMode::Lite(IceLiteConfig::default()),
            local_credentials: local_ice,
            remote_credentials: Some(
                IceCredentials::new(&remote.ice_ufrag, &remote.ice_pwd).expect("credentials"),
            ),
            dtls_role,
            remote_fingerprint,
            data_channels: Some(SctpConfig {
                max_message_size_remote: data
                    .max_message_size
                    .unwrap_or(65_536)
                    .try_into()
                    .unwrap_or(u32::MAX),
                ..SctpConfig::default()
            }),
            ..PeerConfig::default_for_tests()
        },
    )
    .expect("peer");
    (
        Portunus {
            peer,
            addr: ours,
            audio_ssrc,
            audio_pt,
        },
        Browser {
            rtc,
            addr: theirs,
            audio_mid,
        },
    )
}

/// What each side saw; the session passes when every flag is set.
#[derive(Debug, Default)]
struct Outcome {
    /// A Janus offer makes the client a receiver only (subscriber flow): no RTP is expected
    /// from it.
    browser_only_receives: bool,
    portunus_connected: bool,
    browser_connected: bool,
    rtp_to_portunus: bool,
    rtp_to_browser: bool,
    text_to_portunus: bool,
    binary_to_portunus: bool,
    text_to_browser: bool,
    binary_to_browser: bool,
}

impl Outcome {
    fn done(&self) -> bool {
        self.portunus_connected
            && self.browser_connected
            && (self.rtp_to_portunus || self.browser_only_receives)
            && self.rtp_to_browser
            && self.text_to_portunus
            && self.binary_to_portunus
            && self.text_to_browser
            && self.binary_to_browser
    }
}

fn binary_message() -> Vec<u8> {
    (0..=255u8).cycle().take(3000).collect()
}

/// One session, driven until everything crossed or the budget ran out.
fn run_session(flow: Flow, profile: SrtpProfile, wire: Wire) -> Outcome {
    let (sockets, ours, theirs) = match wire {
        Wire::Memory => (
            None,
            "127.0.0.1:20000".parse().expect("addr"),
            "127.0.0.1:30000".parse().expect("addr"),
        ),
        Wire::Loopback => {
            let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
            for s in [&a, &b] {
                s.set_read_timeout(Some(Duration::from_millis(1)))
                    .expect("timeout");
            }
            let (oa, ob) = (a.local_addr().expect("addr"), b.local_addr().expect("addr"));
            (Some((a, b)), oa, ob)
        }
    };
    let start = Instant::now();
    let mut now = start;
    let (mut p, mut b) = negotiate(flow, profile, ours, theirs, now);
    let mut outcome = Outcome {
        browser_only_receives: flow == Flow::ServerOffers,
        ..Outcome::default()
    };
    let mut to_portunus: Vec<Vec<u8>> = Vec::new();
    let mut to_browser: Vec<Vec<u8>> = Vec::new();
    let mut seq = 0u16;
    let mut buf = vec![0u8; 2048];
    let budget = Duration::from_secs(20);

    while now - start < budget && !outcome.done() {
        // --- Portunus -------------------------------------------------------------------
        p.peer.handle_timeout(now);
        for mut d in to_portunus.drain(..) {
            // ICE, DTLS and SCTP are consumed inside; only RTP is checked here.
            if let Ok(Received::Rtp(n)) = p.peer.handle_datagram(now, p.addr, b.addr, &mut d) {
                outcome.rtp_to_portunus |= d[..n].ends_with(OPUS_FRAME);
            }
        }
        while let Some(e) = p.peer.poll_event() {
            match e {
                PeerEvent::Connected { .. } => {
                    outcome.portunus_connected = true;
                    if flow == Flow::ServerOffers {
                        // An answerer opens no channel of its own; Janus then opens one from the
                        // server side, as it does when a plugin sends data first.
                        p.peer
                            .open_channel("JanusDataChannel", "", true, Reliability::Reliable)
                            .expect("open a channel");
                    }
                }
                PeerEvent::ChannelMessage { id, kind, data } => {
                    match kind {
                        MessageKind::String => outcome.text_to_portunus |= data == TEXT.as_bytes(),
                        MessageKind::Binary => {
                            outcome.binary_to_portunus |= data == binary_message()
                        }
                    }
                    // Echo it back, as the EchoTest plugin does.
                    p.peer.send_data(id, kind, &data).expect("echo");
                }
                PeerEvent::Hangup(reason) => panic!("Portunus hung up: {reason:?}"),
                _ => {}
            }
        }
        if outcome.portunus_connected {
            // Media from Portunus: one Opus packet per 20 ms tick of the loop.
            seq = seq.wrapping_add(1);
            let mut rtp = vec![0x80, p.audio_pt];
            rtp.extend_from_slice(&seq.to_be_bytes());
            rtp.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
            rtp.extend_from_slice(&p.audio_ssrc.to_be_bytes());
            rtp.extend_from_slice(OPUS_FRAME);
            buf[..rtp.len()].copy_from_slice(&rtp);
            let n = p.peer.protect_rtp(&mut buf, rtp.len()).expect("protect");
            to_browser.push(buf[..n].to_vec());
        }
        while let Some(t) = p.peer.poll_transmit(&mut buf) {
            assert!(
                t.len <= 1200,
                "a datagram over the 1200-byte MTU: {}",
                t.len
            );
            to_browser.push(buf[..t.len].to_vec());
        }

        // --- str0m -----------------------------------------------------------------------
        b.rtc
            .handle_input(Input::Timeout(now))
            .expect("str0m timeout");
        for d in to_browser.drain(..) {
            let receive = Receive {
                proto: Protocol::Udp,
                source: p.addr,
                destination: b.addr,
                contents: d
                    .as_slice()
                    .try_into()
                    .expect("str0m classifies the datagram"),
            };
            // str0m reports datagrams it cannot use as errors; the session goes on.
            let _ = b.rtc.handle_input(Input::Receive(now, receive));
        }
        let writer = (outcome.browser_connected && !outcome.browser_only_receives)
            .then(|| b.rtc.writer(b.audio_mid))
            .flatten();
        if let Some(w) = writer {
            let opus = w
                .payload_params()
                .find(|p| p.spec().codec == str0m::format::Codec::Opus)
                .map(|p| p.pt());
            if let Some(pt) = opus {
                let time = MediaTime::from_90khz(u64::from(seq) * 1800);
                w.write(pt, now, time, OPUS_FRAME)
                    .expect("str0m writes audio");
            }
        }
        loop {
            match b.rtc.poll_output().expect("str0m output") {
                Output::Timeout(_) => break,
                Output::Transmit(t) => to_portunus.push(t.contents.to_vec()),
                Output::Event(e) => match e {
                    Event::Connected => outcome.browser_connected = true,
                    Event::ChannelOpen(id, _) => {
                        if let Some(mut ch) = b.rtc.channel(id) {
                            ch.write(false, TEXT.as_bytes()).expect("str0m writes text");
                            ch.write(true, &binary_message())
                                .expect("str0m writes binary");
                        }
                    }
                    Event::ChannelData(d) => {
                        if d.binary {
                            outcome.binary_to_browser |= d.data == binary_message();
                        } else {
                            outcome.text_to_browser |= d.data == TEXT.as_bytes();
                        }
                    }
                    Event::MediaData(m) => outcome.rtp_to_browser |= m.data[..] == *OPUS_FRAME,
                    _ => {}
                },
            }
        }

        // --- the wire ------------------------------------------------------------------
        match &sockets {
            None => now += Duration::from_millis(20),
            Some((ours_sock, theirs_sock)) => {
                for d in std::mem::take(&mut to_browser) {
                    ours_sock.send_to(&d, b.addr).expect("send");
                }
                for d in std::mem::take(&mut to_portunus) {
                    theirs_sock.send_to(&d, p.addr).expect("send");
                }
                std::thread::sleep(Duration::from_millis(2));
                let mut rbuf = [0u8; 2048];
                while let Ok((n, _)) = ours_sock.recv_from(&mut rbuf) {
                    to_portunus.push(rbuf[..n].to_vec());
                }
                while let Ok((n, _)) = theirs_sock.recv_from(&mut rbuf) {
                    to_browser.push(rbuf[..n].to_vec());
                }
                now = Instant::now().max(now + Duration::from_millis(1));
            }
        }
    }
    outcome
}

fn assert_session(flow: Flow, profile: SrtpProfile, wire: Wire) {
    let outcome = run_session(flow, profile, wire);
    assert!(outcome.done(), "{flow:?} {profile:?} {wire:?}: {outcome:?}");
}

#[test]
fn client_offers_gcm_in_memory() {
    assert_session(Flow::ClientOffers, SrtpProfile::AeadAes128Gcm, Wire::Memory);
}

#[test]
fn client_offers_aes_cm_in_memory() {
    assert_session(
        Flow::ClientOffers,
        SrtpProfile::Aes128CmSha1_80,
        Wire::Memory,
    );
}

#[test]
fn client_offers_active_gcm_in_memory() {
    assert_session(
        Flow::ClientOffersActive,
        SrtpProfile::AeadAes128Gcm,
        Wire::Memory,
    );
}

#[test]
fn client_offers_active_aes_cm_in_memory() {
    assert_session(
        Flow::ClientOffersActive,
        SrtpProfile::Aes128CmSha1_80,
        Wire::Memory,
    );
}

#[test]
fn client_offers_active_gcm_over_loopback_udp() {
    assert_session(
        Flow::ClientOffersActive,
        SrtpProfile::AeadAes128Gcm,
        Wire::Loopback,
    );
}

#[test]
fn client_offers_active_aes_cm_over_loopback_udp() {
    assert_session(
        Flow::ClientOffersActive,
        SrtpProfile::Aes128CmSha1_80,
        Wire::Loopback,
    );
}

#[test]
fn server_offers_gcm_in_memory() {
    assert_session(Flow::ServerOffers, SrtpProfile::AeadAes128Gcm, Wire::Memory);
}

#[test]
fn server_offers_aes_cm_in_memory() {
    assert_session(
        Flow::ServerOffers,
        SrtpProfile::Aes128CmSha1_80,
        Wire::Memory,
    );
}

#[test]
fn client_offers_gcm_over_loopback_udp() {
    assert_session(
        Flow::ClientOffers,
        SrtpProfile::AeadAes128Gcm,
        Wire::Loopback,
    );
}

#[test]
fn client_offers_aes_cm_over_loopback_udp() {
    assert_session(
        Flow::ClientOffers,
        SrtpProfile::Aes128CmSha1_80,
        Wire::Loopback,
    );
}

#[test]
fn server_offers_gcm_over_loopback_udp() {
    assert_session(
        Flow::ServerOffers,
        SrtpProfile::AeadAes128Gcm,
        Wire::Loopback,
    );
}

#[test]
fn server_offers_aes_cm_over_loopback_udp() {
    assert_session(
        Flow::ServerOffers,
        SrtpProfile::Aes128CmSha1_80,
        Wire::Loopback,
    );
}

//! Two peers (a lite server and a controlling client) over an emulated link in virtual time.
#![allow(
    clippy::disallowed_methods,
    reason = "tests take one base instant, then advance it by hand"
)]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use portunus_dtls::{
    DtlsCertificate, DtlsConfig, DtlsOptions, DtlsRole, SrtpProfile as DtlsProfile,
};
use portunus_ice::{IceAgentConfig, IceCredentials, IceLiteConfig};
use portunus_netem::{Link, LinkConfig, Loss};
use portunus_sctp::{MessageKind, Reliability, SctpConfig};
use portunus_srtp::SrtpError;

use super::*;

struct Certs {
    server: DtlsCertificate,
    client: DtlsCertificate,
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        Certs {
            server: DtlsCertificate::generate(wall).expect("certificate"),
            client: DtlsCertificate::generate(wall).expect("certificate"),
        }
    })
}

fn options(profiles: &[DtlsProfile]) -> DtlsOptions {
    DtlsOptions {
        srtp_profiles: profiles.to_vec(),
        // OpenSSL runs these timers on the real clock: keep them short so lossy runs end fast.
        initial_retransmit_timeout: Duration::from_millis(10),
        max_retransmit_timeout: Duration::from_millis(80),
        max_retransmissions: 40,
        ..DtlsOptions::default()
    }
}

const SERVER: &str = "10.0.0.1:5000";
const CLIENT: &str = "10.0.0.2:40000";

struct Pair {
    server: Peer,
    client: Peer,
    to_server: Link<Vec<u8>>,
    to_client: Link<Vec<u8>>,
    now: Instant,
    server_events: Vec<PeerEvent>,
    client_events: Vec<PeerEvent>,
}

impl Pair {
    fn new(server_dtls: DtlsRole, profiles: &[DtlsProfile], link: LinkConfig, data: bool) -> Self {
        let certs = certs();
        let server_cfg = DtlsConfig::new(&certs.server, options(profiles)).expect("config");
        let client_cfg = DtlsConfig::new(&certs.client, options(profiles)).expect("config");
        let server_ice = IceCredentials::generate(&[3; IceCredentials::RANDOM_BYTES]);
        let client_ice = IceCredentials::generate(&[4; IceCredentials::RANDOM_BYTES]);
        let client_dtls = match server_dtls {
            DtlsRole::Server => DtlsRole::Client,
            DtlsRole::Client => DtlsRole::Server,
        };
        let now = Instant::now();
        let sctp = data.then(SctpConfig::default);
        let server = Peer::new(
            now,
            &server_cfg,
            PeerConfig {
                ice: IceMode::Lite(IceLiteConfig::default()),
                local_credentials: server_ice.clone(),
                remote_credentials: Some(client_ice.clone()),
                dtls_role: server_dtls,
                remote_fingerprint: certs.client.fingerprint().clone(),
                data_channels: sctp.clone(),
                ..PeerConfig::default_for_tests()
            },
        )
        .expect("server peer");
        let mut client = Peer::new(
            now,
            &client_cfg,
            PeerConfig {
                ice: IceMode::Controlling(IceAgentConfig::default()),
                local_credentials: client_ice,
                remote_credentials: Some(server_ice),
                dtls_role: client_dtls,
                remote_fingerprint: certs.server.fingerprint().clone(),
                data_channels: sctp,
                seed: 11,
                ..PeerConfig::default_for_tests()
            },
        )
        .expect("client peer");
        client.add_local_candidate(addr(CLIENT)).expect("candidate");
        client
            .add_remote_candidate(addr(SERVER), 2_130_706_431)
            .expect("candidate");
        Self {
            server,
            client,
            to_server: Link::new(link.clone(), 1),
            to_client: Link::new(link, 2),
            now,
            server_events: Vec::new(),
            client_events: Vec::new(),
        }
    }

    /// Advances virtual time by `step`, moving every datagram across the links.
    fn step(&mut self, step: Duration) {
        let mut buf = vec![0u8; 2048];
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        while let Some(t) = self.client.poll_transmit(&mut buf) {
            self.to_server.send(self.now, buf[..t.len].to_vec());
        }
        while let Some(t) = self.server.poll_transmit(&mut buf) {
            self.to_client.send(self.now, buf[..t.len].to_vec());
        }
        self.now += step;
        while let Some(mut d) = self.to_server.poll_deliver(self.now) {
            let _ = self
                .server
                .handle_datagram(self.now, addr(SERVER), addr(CLIENT), &mut d);
        }
        while let Some(mut d) = self.to_client.poll_deliver(self.now) {
            let _ = self
                .client
                .handle_datagram(self.now, addr(CLIENT), addr(SERVER), &mut d);
        }
        self.server_events
            .extend(std::iter::from_fn(|| self.server.poll_event()));
        self.client_events
            .extend(std::iter::from_fn(|| self.client.poll_event()));
    }

    /// Steps until both peers are connected (and, with data channels, SCTP is up), or
    /// `budget` of virtual time has passed. OpenSSL's retransmission timer runs on the real
    /// clock, so each step also yields a little real time when the link loses packets.
    fn connect(&mut self, budget: Duration, real_pause: Duration) -> bool {
        let end = self.now + budget;
        while self.now < end {
            self.step(Duration::from_millis(5));
            let up = |events: &[PeerEvent], data: bool| {
                events
                    .iter()
                    .any(|e| matches!(e, PeerEvent::Connected { .. }))
                    && (!data || events.contains(&PeerEvent::DataChannelsReady))
            };
            let data = self.server.sctp.is_some();
            if up(&self.server_events, data) && up(&self.client_events, data) {
                return true;
            }
            if !real_pause.is_zero() {
                std::thread::sleep(real_pause);
            }
        }
        false
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn rtp_packet(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44]);
    p.extend_from_slice(payload);
    p
}

fn send_rtp(
    from: &mut Peer,
    to: &mut Peer,
    now: Instant,
    packet: &[u8],
) -> Result<Received, PeerError> {
    let mut buf = vec![0u8; 1500];
    buf[..packet.len()].copy_from_slice(packet);
    let len = from.protect_rtp(&mut buf, packet.len())?;
    to.handle_datagram(now, addr(SERVER), addr(CLIENT), &mut buf[..len])
}

#[test]
fn connects_in_both_dtls_roles_with_each_profile() {
    for role in [DtlsRole::Server, DtlsRole::Client] {
        for profile in [
            DtlsProfile::AeadAes128Gcm,
            DtlsProfile::Aes128CmSha1_80,
            DtlsProfile::Aes128CmSha1_32,
        ] {
            let mut pair = Pair::new(role, &[profile], LinkConfig::default(), false);
            assert!(
                pair.connect(Duration::from_secs(5), Duration::ZERO),
                "{role:?} {profile:?}"
            );
            assert_eq!(pair.server.state(), PeerState::Connected);
            let expected = SrtpProfile::from_iana_id(profile.iana_id());
            assert_eq!(pair.server.srtp_profile(), expected);
            assert_eq!(pair.client.srtp_profile(), expected);
            assert_eq!(pair.server.path().map(|p| p.remote), Some(addr(CLIENT)));

            let packet = rtp_packet(7, b"media both ways");
            let now = pair.now;
            let got =
                send_rtp(&mut pair.client, &mut pair.server, now, &packet).expect("to server");
            assert_eq!(got, Received::Rtp(packet.len()));
            let got =
                send_rtp(&mut pair.server, &mut pair.client, now, &packet).expect("to client");
            assert_eq!(got, Received::Rtp(packet.len()));
        }
    }
}

#[test]
fn srtp_rejects_replayed_and_forged_packets() {
    let mut pair = Pair::new(
        DtlsRole::Server,
        &[DtlsProfile::AeadAes128Gcm],
        LinkConfig::default(),
        false,
    );
    assert!(pair.connect(Duration::from_secs(5), Duration::ZERO));
    let packet = rtp_packet(100, b"once only");
    let mut buf = vec![0u8; 1500];
    buf[..packet.len()].copy_from_slice(&packet);
    let len = pair
        .client
        .protect_rtp(&mut buf, packet.len())
        .expect("protect");
    let wire = buf[..len].to_vec();

    let mut first = wire.clone();
    let now = pair.now;
    assert!(
        pair.server
            .handle_datagram(now, addr(SERVER), addr(CLIENT), &mut first)
            .is_ok()
    );
    let mut replay = wire.clone();
    let err = pair
        .server
        .handle_datagram(now, addr(SERVER), addr(CLIENT), &mut replay);
    assert!(
        matches!(err, Err(PeerError::Srtp(SrtpError::Replay))),
        "{err:?}"
    );
    let mut forged = wire;
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let err = pair
        .server
        .handle_datagram(now, addr(SERVER), addr(CLIENT), &mut forged);
    assert!(
        matches!(
            err,
            Err(PeerError::Srtp(
                SrtpError::AuthenticationFailed | SrtpError::Replay
            ))
        ),
        "{err:?}"
    );
}

#[test]
fn rtp_before_dtls_is_refused_not_panicking() {
    let mut pair = Pair::new(
        DtlsRole::Server,
        &[DtlsProfile::AeadAes128Gcm],
        LinkConfig::default(),
        false,
    );
    let mut packet = rtp_packet(1, b"too early");
    let now = pair.now;
    let err = pair
        .server
        .handle_datagram(now, addr(SERVER), addr(CLIENT), &mut packet);
    assert!(matches!(err, Err(PeerError::NotConnected)));
}

#[test]
fn data_channel_carries_string_and_binary_both_ways() {
    for role in [DtlsRole::Server, DtlsRole::Client] {
        let mut pair = Pair::new(
            role,
            &[DtlsProfile::AeadAes128Gcm],
            LinkConfig::default(),
            true,
        );
        assert!(
            pair.connect(Duration::from_secs(5), Duration::ZERO),
            "{role:?}"
        );
        let id = pair
            .client
            .open_channel("chat", "", true, Reliability::Reliable)
            .expect("open");
        for _ in 0..20 {
            pair.step(Duration::from_millis(5));
        }
        assert!(
            pair.server_events
                .iter()
                .any(|e| matches!(e, PeerEvent::ChannelOpen { label, .. } if label == "chat"))
        );
        pair.client
            .send_data(id, MessageKind::String, b"hello")
            .expect("send");
        let binary: Vec<u8> = (0..=255).collect();
        pair.server
            .send_data(id, MessageKind::Binary, &binary)
            .expect("send");
        for _ in 0..20 {
            pair.step(Duration::from_millis(5));
        }
        assert!(pair.server_events.contains(&PeerEvent::ChannelMessage {
            id,
            kind: MessageKind::String,
            data: b"hello".to_vec()
        }));
        assert!(pair.client_events.contains(&PeerEvent::ChannelMessage {
            id,
            kind: MessageKind::Binary,
            data: binary
        }));
    }
}

#[test]
fn connects_over_a_link_losing_twenty_percent() {
    let link = LinkConfig {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        loss: Loss::Random(0.2),
        duplicate: 0.02,
        reorder: 0.05,
        ..LinkConfig::default()
    };
    for role in [DtlsRole::Server, DtlsRole::Client] {
        let mut pair = Pair::new(role, &[DtlsProfile::AeadAes128Gcm], link.clone(), true);
        // Real pauses let OpenSSL's wall-clock retransmission timer expire between steps.
        assert!(
            pair.connect(Duration::from_secs(60), Duration::from_millis(2)),
            "{role:?}"
        );
        let lost = pair.to_server.stats().lost + pair.to_client.stats().lost;
        assert!(lost > 0, "the link lost nothing; the test proves nothing");
    }
}

#[test]
fn silence_after_connect_ends_in_ice_failed_hangup() {
    let mut pair = Pair::new(
        DtlsRole::Server,
        &[DtlsProfile::AeadAes128Gcm],
        LinkConfig::default(),
        false,
    );
    assert!(pair.connect(Duration::from_secs(5), Duration::ZERO));
    // The client goes away: nothing reaches the server any more.
    pair.to_server.set_config(LinkConfig {
        loss: Loss::Random(1.0),
        ..LinkConfig::default()
    });
    for _ in 0..(31_000 / 100) {
        pair.step(Duration::from_millis(100));
    }
    assert!(
        pair.server_events
            .contains(&PeerEvent::Hangup(HangupReason::IceFailed))
    );
    assert_eq!(pair.server.state(), PeerState::Closed);
    assert_eq!(HangupReason::IceFailed.janus_reason(), "ICE failed");
}

#[test]
fn no_connection_within_the_timeout_hangs_up() {
    let mut pair = Pair::new(
        DtlsRole::Server,
        &[DtlsProfile::AeadAes128Gcm],
        LinkConfig {
            loss: Loss::Random(1.0),
            ..LinkConfig::default()
        },
        false,
    );
    for _ in 0..(31_000 / 100) {
        pair.step(Duration::from_millis(100));
    }
    assert!(
        pair.server_events
            .contains(&PeerEvent::Hangup(HangupReason::ConnectTimeout))
    );
}

mod arbitrary_input {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// No datagram sequence makes a peer panic, before or after it connected.
        #[test]
        fn arbitrary_datagrams_never_panic(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20), connect: bool) {
            let mut pair = Pair::new(DtlsRole::Server, &[DtlsProfile::AeadAes128Gcm], LinkConfig::default(), true);
            if connect {
                prop_assert!(pair.connect(Duration::from_secs(5), Duration::ZERO));
            }
            let now = pair.now;
            for mut d in datagrams {
                let _ = pair.server.handle_datagram(now, addr(SERVER), addr(CLIENT), &mut d);
                let _ = pair.client.handle_datagram(now, addr(CLIENT), addr(SERVER), &mut d);
            }
            pair.step(Duration::from_millis(5));
        }
    }
}

mod fuzzing_body {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn accepts_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            crate::fuzzing::datagrams(&data);
        }
    }
}

//! Interop with an independent DTLS stack: dimpl (pure Rust, sans-IO), reached through
//! str0m's public `DtlsProvider`. An OpenSSL↔OpenSSL test cannot catch a key split that is
//! wrong the same way on both ends; a foreign peer can.

mod common;

use std::time::Instant;

use common::{Endpoint, Side, base_instant};
use openssl::hash::{MessageDigest, hash};
use portunus_dtls::{
    DtlsEvent, DtlsOptions, DtlsRole, Fingerprint, FingerprintAlgorithm, SrtpKeyingMaterial,
    SrtpProfile,
};
use str0m::config::{DtlsCert, DtlsVersion};
use str0m::crypto::dtls::{DtlsInstance, DtlsOutput};

/// The str0m/dimpl end and what it reported.
struct Peer {
    dtls: Box<dyn DtlsInstance>,
    active: bool,
    cert: DtlsCert,
    connected: bool,
    peer_cert: Option<Vec<u8>>,
    keys: Option<(Vec<u8>, u16)>,
    received: Vec<Vec<u8>>,
    closed: bool,
}

impl Peer {
    fn new(active: bool, now: Instant) -> Self {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .expect("dimpl makes certs");
        let mut dtls = provider
            .dtls_provider
            .new_dtls(&cert, now, DtlsVersion::Dtls12, Some(1200))
            .unwrap();
        dtls.set_active(active);
        Self {
            dtls,
            active,
            cert,
            connected: false,
            peer_cert: None,
            keys: None,
            received: Vec::new(),
            closed: false,
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let digest = hash(MessageDigest::sha256(), &self.cert.certificate).unwrap();
        Fingerprint::new(FingerprintAlgorithm::Sha256, &digest).unwrap()
    }

    /// Drains dimpl's output up to its `Timeout`; returns the packets.
    fn poll(&mut self) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        let mut buf = vec![0u8; 20_000];
        loop {
            match self.dtls.poll_output(&mut buf) {
                DtlsOutput::Packet(p) => packets.push(p.to_vec()),
                DtlsOutput::Timeout(_) => break,
                DtlsOutput::Connected => self.connected = true,
                DtlsOutput::PeerCert(c) => self.peer_cert = Some(c.to_vec()),
                DtlsOutput::KeyingMaterial(m, profile) => {
                    let id = match profile {
                        str0m::crypto::dtls::SrtpProfile::AES128_CM_SHA1_80 => 0x0001,
                        str0m::crypto::dtls::SrtpProfile::AEAD_AES_128_GCM => 0x0007,
                        other => panic!("unexpected profile {other:?}"),
                    };
                    self.keys = Some((m.to_vec(), id));
                }
                DtlsOutput::ApplicationData(d) => self.received.push(d.to_vec()),
                DtlsOutput::CloseNotify => self.closed = true,
                other => panic!("unexpected output {other:?}"),
            }
        }
        packets
    }

    /// dimpl's export split the RFC 5764 §4.2 way for its own role, as (local, remote).
    fn split_keys(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, u16) {
        let (m, id) = self.keys.clone().expect("dimpl exported keys");
        let salt = if id == 0x0007 { 12 } else { 14 };
        let (ck, sk) = (m[..16].to_vec(), m[16..32].to_vec());
        let (cs, ss) = (
            m[32..32 + salt].to_vec(),
            m[32 + salt..32 + 2 * salt].to_vec(),
        );
        assert_eq!(m.len(), 32 + 2 * salt);
        if self.active {
            (ck, cs, sk, ss, id)
        } else {
            (sk, ss, ck, cs, id)
        }
    }
}

/// Runs a handshake between `ours` and `peer` until both report connected.
fn handshake(ours: &mut Side, peer: &mut Peer, now: Instant) {
    ours.conn.handle_timeout(now);
    peer.dtls.handle_timeout(now).unwrap();
    for _ in 0..16 {
        for d in peer.poll() {
            ours.conn.handle_datagram(now, &d).unwrap();
        }
        for d in ours.take_transmits() {
            peer.dtls.handle_packet(&d).unwrap();
        }
        ours.drain_events();
        if peer.connected && ours.keys().is_some() && peer.keys.is_some() {
            return;
        }
    }
    panic!("no handshake: ours {:?}", ours.events);
}

fn assert_keys_agree(ours: &SrtpKeyingMaterial, peer: &Peer) {
    let (local_key, local_salt, remote_key, remote_salt, id) = peer.split_keys();
    assert_eq!(ours.profile_id, id);
    assert_eq!(
        ours.local_key, remote_key,
        "our write key is the peer's read key"
    );
    assert_eq!(ours.local_salt, remote_salt);
    assert_eq!(ours.remote_key, local_key);
    assert_eq!(ours.remote_salt, local_salt);
}

#[test]
fn openssl_and_dimpl_agree_on_keys_in_both_roles() {
    for our_role in [DtlsRole::Server, DtlsRole::Client] {
        let now = base_instant();
        let ep = Endpoint::new(DtlsOptions::default());
        let mut peer = Peer::new(our_role == DtlsRole::Server, now);
        let mut ours = Side::new(&ep, our_role, peer.fingerprint());
        handshake(&mut ours, &mut peer, now);
        assert_keys_agree(ours.keys().unwrap(), &peer);
        assert_eq!(
            ours.keys().unwrap().profile(),
            Some(SrtpProfile::AeadAes128Gcm)
        );
        // dimpl saw our certificate, which hashes to the fingerprint we advertise.
        let seen = peer
            .peer_cert
            .as_deref()
            .expect("dimpl reports the peer certificate");
        let digest = hash(MessageDigest::sha256(), seen).unwrap();
        assert_eq!(&digest[..], ep.config.fingerprint().digest());
        // The handshake stayed within the MTU.
        assert!(ours.sent.iter().all(|d| d.len() <= 1200));
    }
}

#[test]
fn forced_aes_cm_80_interoperates() {
    let now = base_instant();
    let ep = Endpoint::new(DtlsOptions {
        srtp_profiles: vec![SrtpProfile::Aes128CmSha1_80],
        ..DtlsOptions::default()
    });
    let mut peer = Peer::new(true, now);
    let mut ours = Side::new(&ep, DtlsRole::Server, peer.fingerprint());
    handshake(&mut ours, &mut peer, now);
    assert_eq!(
        ours.keys().unwrap().profile(),
        Some(SrtpProfile::Aes128CmSha1_80)
    );
    assert_keys_agree(ours.keys().unwrap(), &peer);
}

#[test]
fn application_data_and_close_notify_cross_to_dimpl() {
    let now = base_instant();
    let ep = Endpoint::new(DtlsOptions::default());
    let mut peer = Peer::new(true, now);
    let mut ours = Side::new(&ep, DtlsRole::Server, peer.fingerprint());
    handshake(&mut ours, &mut peer, now);

    let big = vec![0x5A; 4000];
    peer.dtls.send_application_data(b"from dimpl").unwrap();
    peer.dtls.send_application_data(&big).unwrap();
    for d in peer.poll() {
        ours.conn.handle_datagram(now, &d).unwrap();
    }
    ours.drain_events();
    assert_eq!(
        ours.application_data(),
        vec![b"from dimpl".to_vec(), big.clone()]
    );

    ours.conn.send_application_data(b"from openssl").unwrap();
    ours.conn.send_application_data(&big).unwrap();
    ours.conn.close();
    for d in ours.take_transmits() {
        peer.dtls.handle_packet(&d).unwrap();
    }
    peer.poll();
    assert_eq!(peer.received, vec![b"from openssl".to_vec(), big]);
    assert!(peer.closed, "dimpl saw our close_notify");
}

#[test]
fn wrong_fingerprint_for_dimpl_fails_our_side() {
    let now = base_instant();
    let ep = Endpoint::new(DtlsOptions::default());
    let mut peer = Peer::new(true, now);
    let other = Peer::new(true, now).fingerprint();
    let mut ours = Side::new(&ep, DtlsRole::Server, other);
    ours.conn.handle_timeout(now);
    peer.dtls.handle_timeout(now).unwrap();
    for _ in 0..8 {
        for d in peer.poll() {
            let _ = ours.conn.handle_datagram(now, &d);
        }
        for d in ours.take_transmits() {
            let _ = peer.dtls.handle_packet(&d);
        }
    }
    ours.drain_events();
    assert!(
        matches!(
            ours.events.last(),
            Some(DtlsEvent::Failed(
                portunus_dtls::DtlsError::FingerprintMismatch
            ))
        ),
        "{:?}",
        ours.events
    );
    assert!(ours.keys().is_none());
}

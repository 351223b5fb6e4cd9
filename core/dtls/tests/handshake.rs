//! Handshakes between two in-memory endpoints: roles, SRTP profiles, fingerprints, MTU.

mod common;

use common::{Endpoint, Pair, assert_mirrored, base_instant};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use portunus_dtls::{
    AlertDescription, DtlsCertificate, DtlsConfig, DtlsError, DtlsErrorKind, DtlsEvent,
    DtlsOptions, DtlsRole, Fingerprint, FingerprintAlgorithm, SrtpProfile,
};

fn options_with(profiles: &[SrtpProfile]) -> DtlsOptions {
    DtlsOptions {
        srtp_profiles: profiles.to_vec(),
        ..DtlsOptions::default()
    }
}

#[test]
fn handshake_completes_in_both_role_assignments_with_mirrored_keys() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut seen = Vec::new();
    for x_role in [DtlsRole::Client, DtlsRole::Server] {
        let mut pair = Pair::new(&x, &y, x_role);
        pair.handshake(base_instant());
        let (kx, ky) = (
            pair.a.keys().expect("x connected"),
            pair.b.keys().expect("y connected"),
        );
        assert_mirrored(kx, ky);
        assert!(pair.a.conn.is_connected() && pair.b.conn.is_connected());
        assert_eq!(pair.a.conn.role(), x_role);
        // The client writes with the client write key: swapping roles swaps which half
        // of the export each end protects with, so two handshakes give unrelated keys.
        seen.push(kx.local_key.clone());
    }
    assert_ne!(seen[0], seen[1]);
}

#[test]
fn default_profiles_negotiate_gcm() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, DtlsRole::Client);
    pair.handshake(base_instant());
    let keys = pair.a.keys().unwrap();
    assert_eq!(keys.profile_id, 0x0007);
    assert_eq!(keys.profile(), Some(SrtpProfile::AeadAes128Gcm));
    assert_eq!((keys.local_key.len(), keys.local_salt.len()), (16, 12));
}

#[test]
fn each_forced_profile_is_negotiated_with_its_key_sizes() {
    for (profile, id, salt_len) in [
        (SrtpProfile::AeadAes128Gcm, 0x0007, 12),
        (SrtpProfile::Aes128CmSha1_80, 0x0001, 14),
        (SrtpProfile::Aes128CmSha1_32, 0x0002, 14),
    ] {
        // The server forces one profile; the client offers all three.
        let server = Endpoint::new(options_with(&[profile]));
        let client = Endpoint::new(DtlsOptions::default());
        let mut pair = Pair::new(&server, &client, DtlsRole::Server);
        pair.handshake(base_instant());
        let (ks, kc) = (
            pair.a.keys().expect("server connected"),
            pair.b.keys().unwrap(),
        );
        assert_eq!(ks.profile_id, id, "{profile:?}");
        assert_eq!(ks.local_key.len(), 16);
        assert_eq!(ks.local_salt.len(), salt_len);
        assert_mirrored(ks, kc);
    }
}

#[test]
fn server_preference_order_picks_the_profile() {
    let server = Endpoint::new(options_with(&[
        SrtpProfile::Aes128CmSha1_80,
        SrtpProfile::AeadAes128Gcm,
    ]));
    let client = Endpoint::new(options_with(&[
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::Aes128CmSha1_80,
    ]));
    let mut pair = Pair::new(&server, &client, DtlsRole::Server);
    pair.handshake(base_instant());
    assert_eq!(
        pair.a.keys().unwrap().profile(),
        Some(SrtpProfile::Aes128CmSha1_80)
    );
}

#[test]
fn disjoint_profile_lists_fail_on_the_client() {
    // OpenSSL's server then answers without use_srtp, and the client has no keys to use.
    let server = Endpoint::new(options_with(&[SrtpProfile::Aes128CmSha1_32]));
    let client = Endpoint::new(options_with(&[SrtpProfile::AeadAes128Gcm]));
    let mut pair = Pair::new(&client, &server, DtlsRole::Client);
    pair.handshake(base_instant());
    assert!(pair.a.keys().is_none() && pair.b.keys().is_none());
    assert!(pair.a.conn.is_ended() && pair.b.conn.is_ended());
    let err = pair
        .a
        .failure()
        .or(pair.b.failure())
        .expect("one side reports the failure");
    assert_eq!(err.kind(), DtlsErrorKind::Peer);
}

#[test]
fn fingerprint_mismatch_fails_whichever_side_checks() {
    let (x, y, other) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    for x_role in [DtlsRole::Client, DtlsRole::Server] {
        // x expects some other certificate; y expects x's real one.
        let mut pair = Pair::with_expected(&x, other.fingerprint(), &y, x.fingerprint(), x_role);
        pair.handshake(base_instant());
        assert!(
            matches!(pair.a.failure(), Some(DtlsError::FingerprintMismatch)),
            "{x_role:?}: {:?}",
            pair.a.events
        );
        assert!(
            pair.a.keys().is_none() && pair.b.keys().is_none(),
            "{x_role:?}"
        );
        // The checking side sent bad_certificate, which the other side reports.
        assert!(
            pair.b.events.iter().any(|e| matches!(
                e,
                DtlsEvent::Alert {
                    fatal: true,
                    description: AlertDescription::BAD_CERTIFICATE
                }
            )),
            "{x_role:?}: {:?}",
            pair.b.events
        );
        assert!(matches!(
            pair.b.failure(),
            Some(DtlsError::PeerAlert(AlertDescription::BAD_CERTIFICATE))
        ));
        assert!(pair.a.conn.is_ended() && pair.b.conn.is_ended());
    }
}

#[test]
fn fingerprint_with_another_hash_function_is_accepted() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let der = y.cert.certificate_pem().unwrap();
    let y_cert = X509::from_pem(&der).unwrap();
    let sha512 = y_cert.digest(MessageDigest::sha512()).unwrap();
    let fp = Fingerprint::new(FingerprintAlgorithm::Sha512, &sha512).unwrap();
    let mut pair = Pair::with_expected(&x, fp, &y, x.fingerprint(), DtlsRole::Server);
    pair.handshake(base_instant());
    assert!(pair.a.keys().is_some() && pair.b.keys().is_some());
}

#[test]
fn handshake_datagrams_stay_within_the_1200_byte_mtu() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, DtlsRole::Client);
    pair.handshake(base_instant());
    assert!(pair.a.keys().is_some());
    let all: Vec<_> = pair.a.sent.iter().chain(&pair.b.sent).collect();
    assert!(
        all.iter().all(|d| d.len() <= 1200),
        "{:?}",
        all.iter().map(|d| d.len()).collect::<Vec<_>>()
    );
    // A flight is packed into few datagrams, not one per handshake message.
    assert_eq!(
        all.len(),
        4,
        "ClientHello; server flight; client flight; CCS+Finished"
    );
}

#[test]
fn large_certificate_is_fragmented_within_the_mtu() {
    // A 4096-bit RSA client certificate is over 1 KB: with a small MTU its Certificate
    // message must be split into handshake fragments (RFC 6347 §4.2.3).
    let rsa_client = {
        let key = PKey::from_rsa(Rsa::generate(4096).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "rsa-client").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(1_700_000_000).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(1_900_000_000).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        assert!(cert.to_der().unwrap().len() > 1000);
        DtlsCertificate::from_pem(
            &cert.to_pem().unwrap(),
            &key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap()
    };
    for mtu in [1200u16, 500, 300] {
        let opts = DtlsOptions {
            mtu,
            ..DtlsOptions::default()
        };
        let client = Endpoint {
            config: DtlsConfig::new(&rsa_client, opts.clone()).unwrap(),
            cert: rsa_client.clone(),
        };
        let server = Endpoint::new(opts);
        let mut pair = Pair::new(&client, &server, DtlsRole::Client);
        pair.handshake(base_instant());
        assert!(
            pair.a.keys().is_some() && pair.b.keys().is_some(),
            "mtu {mtu}"
        );
        let longest = pair
            .a
            .sent
            .iter()
            .chain(&pair.b.sent)
            .map(Vec::len)
            .max()
            .unwrap();
        assert!(
            longest <= usize::from(mtu),
            "mtu {mtu}: {longest}-byte datagram"
        );
    }
}

#[test]
fn malformed_datagram_is_dropped_before_openssl() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, DtlsRole::Server);
    let now = base_instant();
    for junk in [&b""[..], b"\x16\xfe\xfd", b"\x00\x01\x00\x00", &[0x80; 40]] {
        let err = pair.a.conn.handle_datagram(now, junk).unwrap_err();
        assert!(matches!(err, DtlsError::MalformedDatagram));
        assert_eq!(err.kind(), DtlsErrorKind::Dropped);
    }
    // Nothing was started by the junk: the real handshake still completes.
    pair.handshake(now);
    assert!(pair.a.keys().is_some() && pair.b.keys().is_some());
}

#[test]
fn well_framed_garbage_does_not_disturb_a_server() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, DtlsRole::Server);
    let now = base_instant();
    // A handshake record whose body is garbage: OpenSSL discards it or fails the handshake,
    // but never answers with data the client could mistake for a ServerHello.
    let mut record = vec![22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20];
    record.extend([0xAB; 20]);
    pair.a.conn.handle_datagram(now, &record).unwrap();
    pair.a.drain_events();
    assert!(pair.a.keys().is_none());
}

#[test]
fn config_rejects_out_of_range_options() {
    let cert = DtlsCertificate::generate(common::wall()).unwrap();
    for bad in [
        DtlsOptions {
            srtp_profiles: vec![],
            ..DtlsOptions::default()
        },
        DtlsOptions {
            mtu: 100,
            ..DtlsOptions::default()
        },
        DtlsOptions {
            initial_retransmit_timeout: Default::default(),
            ..DtlsOptions::default()
        },
    ] {
        assert!(matches!(
            DtlsConfig::new(&cert, bad),
            Err(DtlsError::InvalidConfig(_))
        ));
    }
    let bad_ciphers = DtlsOptions {
        cipher_list: "NO-SUCH-CIPHER".into(),
        ..DtlsOptions::default()
    };
    assert!(matches!(
        DtlsConfig::new(&cert, bad_ciphers),
        Err(DtlsError::Ssl(_))
    ));
    assert_eq!(
        DtlsConfig::new(&cert, DtlsOptions::default())
            .unwrap()
            .fingerprint(),
        cert.fingerprint()
    );
}

#[test]
fn connections_can_move_between_threads_and_configs_can_be_shared() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<portunus_dtls::DtlsConnection>();
    send::<DtlsEvent>();
    send_sync::<DtlsConfig>();
    send_sync::<DtlsCertificate>();
}

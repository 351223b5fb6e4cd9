//! Runs the fuzz bodies on arbitrary and on well-framed inputs, so `cargo test` exercises
//! them; cargo-fuzz runs the same bodies for longer.

use portunus_dtls::fuzzing;
use proptest::prelude::*;

/// One DTLS record with valid framing around an arbitrary body, so the input reaches OpenSSL.
fn record() -> impl Strategy<Value = Vec<u8>> {
    (
        20u8..=25,
        prop::array::uniform8(any::<u8>()),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(content_type, epoch_seq, body)| {
            let mut r = vec![content_type, 0xFE, 0xFD];
            r.extend_from_slice(&epoch_seq);
            r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
            r.extend(body);
            r
        })
}

/// Several datagrams of one or more records, length-prefixed as `server_handshake` expects.
fn framed_datagrams() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::collection::vec(record(), 1..4), 1..6).prop_map(|datagrams| {
        let mut out = Vec::new();
        for records in datagrams {
            let d: Vec<u8> = records.concat();
            out.extend_from_slice(&u16::try_from(d.len()).unwrap().to_be_bytes());
            out.extend(d);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_handshake_survives_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        fuzzing::server_handshake(&data);
    }

    #[test]
    fn server_handshake_survives_well_framed_garbage(data in framed_datagrams()) {
        fuzzing::server_handshake(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_handshake_never_panics_or_mismatches_keys(
        data in prop::collection::vec(any::<u8>(), 0..64)
    ) {
        fuzzing::corrupted_handshake(&data);
    }
}

#[test]
fn server_handshake_survives_a_real_client_hello_cut_at_every_length() {
    // Well-formed prefix then truncation: each cut is either dropped by the framing check or
    // reaches OpenSSL as a short handshake record.
    let hello = real_client_hello();
    for cut in 0..=hello.len() {
        let mut input = u16::try_from(cut).unwrap().to_be_bytes().to_vec();
        input.extend_from_slice(&hello[..cut]);
        fuzzing::server_handshake(&input);
    }
}

fn real_client_hello() -> Vec<u8> {
    use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsConnection, DtlsOptions, DtlsRole};
    let wall = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000);
    let cert = DtlsCertificate::generate(wall).unwrap();
    let cfg = DtlsConfig::new(&cert, DtlsOptions::default()).unwrap();
    let mut client =
        DtlsConnection::new(&cfg, DtlsRole::Client, cert.fingerprint().clone()).unwrap();
    #[allow(clippy::disallowed_methods, reason = "tests need one base Instant")]
    client.handle_timeout(std::time::Instant::now());
    let mut buf = [0u8; 1500];
    let n = client.poll_transmit(&mut buf).unwrap();
    buf[..n].to_vec()
}

//! Handshake cost: a full in-memory DTLS 1.2 + DTLS-SRTP handshake (ECDSA P-256, ECDHE,
//! AES-128-GCM), both ends on one thread, and the server's share of it.

#![allow(
    clippy::disallowed_methods,
    reason = "benchmarks need an Instant to pass in"
)]

use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use portunus_dtls::{
    DtlsCertificate, DtlsConfig, DtlsConnection, DtlsEvent, DtlsOptions, DtlsRole, MAX_DATAGRAM_LEN,
};

struct Fixture {
    server_cfg: DtlsConfig,
    client_cfg: DtlsConfig,
    server_cert: DtlsCertificate,
    client_cert: DtlsCertificate,
}

fn fixture() -> Fixture {
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let server_cert = DtlsCertificate::generate(wall).unwrap();
    let client_cert = DtlsCertificate::generate(wall).unwrap();
    Fixture {
        server_cfg: DtlsConfig::new(&server_cert, DtlsOptions::default()).unwrap(),
        client_cfg: DtlsConfig::new(&client_cert, DtlsOptions::default()).unwrap(),
        server_cert,
        client_cert,
    }
}

/// Runs one handshake; returns the time spent inside the server's calls.
fn handshake(f: &Fixture, buf: &mut [u8]) -> Duration {
    let now = Instant::now();
    let mut server_time = Duration::ZERO;
    let t = Instant::now();
    let mut server = DtlsConnection::new(
        &f.server_cfg,
        DtlsRole::Server,
        f.client_cert.fingerprint().clone(),
    )
    .unwrap();
    server_time += t.elapsed();
    let mut client = DtlsConnection::new(
        &f.client_cfg,
        DtlsRole::Client,
        f.server_cert.fingerprint().clone(),
    )
    .unwrap();
    client.handle_timeout(now);
    let mut connected = 0;
    while connected < 2 {
        while let Some(n) = client.poll_transmit(buf) {
            let t = Instant::now();
            server.handle_datagram(now, &buf[..n]).unwrap();
            server_time += t.elapsed();
        }
        let t = Instant::now();
        let mut out = Vec::new();
        while let Some(n) = server.poll_transmit(buf) {
            out.push(buf[..n].to_vec());
        }
        while let Some(ev) = server.poll_event() {
            connected += usize::from(matches!(ev, DtlsEvent::Connected { .. }));
        }
        server_time += t.elapsed();
        for d in out {
            client.handle_datagram(now, &d).unwrap();
        }
        while let Some(ev) = client.poll_event() {
            connected += usize::from(matches!(ev, DtlsEvent::Connected { .. }));
        }
    }
    server_time
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let mut buf = vec![0u8; MAX_DATAGRAM_LEN];
    c.bench_function("dtls_handshake_both_ends", |b| {
        b.iter(|| handshake(&f, &mut buf))
    });
    c.bench_function("dtls_handshake_server_share", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| handshake(&f, &mut buf)).sum())
    });
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    c.bench_function("dtls_certificate_generate", |b| {
        b.iter(|| DtlsCertificate::generate(wall).unwrap())
    });
    let cert = DtlsCertificate::generate(wall).unwrap();
    c.bench_function("dtls_config_new", |b| {
        b.iter(|| DtlsConfig::new(&cert, DtlsOptions::default()).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

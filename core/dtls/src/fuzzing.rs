//! Fuzz bodies, compiled always so `cargo test` and the cargo-fuzz shims share them.
//!
//! OpenSSL parses the records; what is fuzzed here is that nothing a peer sends makes this
//! crate (or OpenSSL through it) panic, loop or misreport.

#![allow(
    clippy::disallowed_methods,
    reason = "fuzz bodies need one base Instant; the connection under test never reads clocks"
)]

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::{
    DtlsCertificate, DtlsConfig, DtlsConnection, DtlsErrorKind, DtlsEvent, DtlsOptions, DtlsRole,
    MAX_DATAGRAM_LEN,
};

/// Splits `data` into datagrams (each prefixed by a big-endian two-byte length, cut short
/// at the end of `data`) and feeds them to a fresh server connection, draining every output
/// after each. Must never panic, and every refused datagram must be a counted drop.
pub fn server_handshake(data: &[u8]) {
    let f = fixture();
    let Ok(mut server) = DtlsConnection::new(
        &f.server_cfg,
        DtlsRole::Server,
        f.client_cert.fingerprint().clone(),
    ) else {
        return;
    };
    let now = Instant::now();
    let mut out = vec![0u8; MAX_DATAGRAM_LEN];
    let mut rest = data;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let (datagram, tail) = tail.split_at(usize::from(u16::from_be_bytes(*len)).min(tail.len()));
        rest = tail;
        if let Err(e) = server.handle_datagram(now, datagram) {
            assert_eq!(
                e.kind(),
                DtlsErrorKind::Dropped,
                "input errors are drops: {e}"
            );
        }
        server.handle_timeout(now);
        drain(&mut server, &mut out);
    }
}

/// Runs a real client↔server handshake in which `data` picks datagrams to corrupt: each
/// 4-byte group is (datagram index, byte offset, xor mask, drop-or-flip). Must never panic,
/// and a connection that reports `Connected` must have matching keys on both sides.
pub fn corrupted_handshake(data: &[u8]) {
    let f = fixture();
    let (Ok(mut server), Ok(mut client)) = (
        DtlsConnection::new(
            &f.server_cfg,
            DtlsRole::Server,
            f.client_cert.fingerprint().clone(),
        ),
        DtlsConnection::new(
            &f.client_cfg,
            DtlsRole::Client,
            f.server_cert.fingerprint().clone(),
        ),
    ) else {
        return;
    };
    let now = Instant::now();
    let mut out = vec![0u8; MAX_DATAGRAM_LEN];
    let mutations: Vec<[u8; 4]> = data
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    let mut index = 0u8;
    let (mut client_keys, mut server_keys) = (None, None);
    client.handle_timeout(now);
    for _ in 0..8 {
        shuttle(
            &mut client,
            &mut server,
            &mutations,
            &mut index,
            &mut out,
            now,
        );
        shuttle(
            &mut server,
            &mut client,
            &mutations,
            &mut index,
            &mut out,
            now,
        );
        for (conn, keys) in [
            (&mut client, &mut client_keys),
            (&mut server, &mut server_keys),
        ] {
            while let Some(ev) = conn.poll_event() {
                if let DtlsEvent::Connected { srtp } = ev {
                    *keys = Some(srtp);
                }
            }
        }
    }
    if let (Some(c), Some(s)) = (client_keys, server_keys) {
        assert_eq!(c.profile_id, s.profile_id);
        assert_eq!((c.local_key, c.local_salt), (s.remote_key, s.remote_salt));
        assert_eq!((c.remote_key, c.remote_salt), (s.local_key, s.local_salt));
    }
}

/// Moves every queued datagram from `from` to `to`, applying the mutations aimed at it.
fn shuttle(
    from: &mut DtlsConnection,
    to: &mut DtlsConnection,
    mutations: &[[u8; 4]],
    index: &mut u8,
    out: &mut [u8],
    now: Instant,
) {
    while let Some(n) = from.poll_transmit(out) {
        let datagram = &mut out[..n];
        let mut dropped = false;
        for m in mutations.iter().filter(|m| m[0] == *index) {
            if m[3] & 1 == 1 {
                dropped = true;
            } else if let Some(b) = datagram.get_mut(usize::from(m[1]) * 4) {
                *b ^= m[2];
            }
        }
        *index = index.wrapping_add(1);
        if !dropped {
            let _ = to.handle_datagram(now, datagram);
        }
    }
}

fn drain(conn: &mut DtlsConnection, out: &mut [u8]) {
    while conn.poll_transmit(out).is_some() {}
    while conn.poll_event().is_some() {}
    let _ = conn.poll_timeout();
}

struct Fixture {
    server_cfg: DtlsConfig,
    client_cfg: DtlsConfig,
    server_cert: DtlsCertificate,
    client_cert: DtlsCertificate,
}

/// Certificates and contexts cost too much to build per fuzz input; build them once.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let server_cert = DtlsCertificate::generate(time).expect("certificate generation");
        let client_cert = DtlsCertificate::generate(time).expect("certificate generation");
        Fixture {
            server_cfg: DtlsConfig::new(&server_cert, DtlsOptions::default()).expect("config"),
            client_cfg: DtlsConfig::new(&client_cert, DtlsOptions::default()).expect("config"),
            server_cert,
            client_cert,
        }
    })
}

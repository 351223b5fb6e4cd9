//! Retransmission and give-up. OpenSSL runs its retransmission timer on the real clock, so
//! the tests that need a retransmission use short timeouts and really sleep (a few hundred
//! milliseconds in total); the handshake deadline follows the injected `now` and needs none.

#![allow(
    clippy::disallowed_methods,
    reason = "OpenSSL's DTLS timers read the wall clock; these tests must let real time pass"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Endpoint, Pair, Side, assert_mirrored};
use portunus_dtls::{DtlsError, DtlsEvent, DtlsOptions, DtlsRole};

/// Short timers so that a handshake over a lossy link takes a fraction of a second. Note that
/// OpenSSL treats a timer with less than 15 ms left as expired, so anything below ~20 ms
/// retransmits on the next `handle_timeout`.
fn fast_options() -> DtlsOptions {
    DtlsOptions {
        initial_retransmit_timeout: Duration::from_millis(20),
        max_retransmit_timeout: Duration::from_millis(80),
        max_retransmissions: 40,
        handshake_timeout: Duration::from_secs(10),
        ..DtlsOptions::default()
    }
}

/// Sleeps until the earliest of the given timeouts, at most `cap`.
fn sleep_until(timeouts: &[Option<Instant>], cap: Duration) {
    let now = Instant::now();
    let wake = timeouts
        .iter()
        .flatten()
        .min()
        .copied()
        .unwrap_or(now + cap);
    std::thread::sleep(
        wake.saturating_duration_since(now)
            .clamp(Duration::from_millis(1), cap),
    );
}

/// xorshift64*: a seeded, dependency-free RNG for the lossy link.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[derive(Default)]
struct LinkStats {
    dropped: usize,
    reordered: usize,
    retransmissions_seen: bool,
}

/// Runs a handshake over a link that drops 20 % of datagrams and holds back 15 % to deliver
/// them after later ones. Returns whether both sides connected within 3 s of real time.
fn lossy_handshake(seed: u64, a_role: DtlsRole, stats: &mut LinkStats) -> bool {
    let (x, y) = (Endpoint::new(fast_options()), Endpoint::new(fast_options()));
    let mut pair = Pair::new(&x, &y, a_role);
    let mut rng = Rng(seed);
    let mut held: Vec<(bool, Vec<u8>)> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let now = Instant::now();
        pair.a.conn.handle_timeout(now);
        pair.b.conn.handle_timeout(now);
        let mut deliver: Vec<(bool, Vec<u8>)> = Vec::new();
        let batch = pair.a.take_transmits().into_iter().map(|d| (true, d));
        for (to_b, d) in batch.chain(pair.b.take_transmits().into_iter().map(|d| (false, d))) {
            match rng.below(100) {
                0..20 => stats.dropped += 1,
                20..35 => {
                    stats.reordered += 1;
                    held.push((to_b, d));
                }
                _ => deliver.push((to_b, d)),
            }
        }
        // Held datagrams arrive after the ones sent later: reordering.
        if rng.below(2) == 0 {
            deliver.append(&mut held);
        }
        for (to_b, d) in deliver {
            let side = if to_b { &mut pair.b } else { &mut pair.a };
            let _ = side.conn.handle_datagram(now, &d);
        }
        pair.a.drain_events();
        pair.b.drain_events();
        if pair.a.keys().is_some() && pair.b.keys().is_some() {
            assert_mirrored(pair.a.keys().unwrap(), pair.b.keys().unwrap());
            // A lossless handshake is four datagrams; more means retransmissions.
            stats.retransmissions_seen |= pair.a.sent.len() + pair.b.sent.len() > 4;
            return true;
        }
        assert!(
            pair.a.failure().is_none(),
            "seed {seed}: {:?}",
            pair.a.events
        );
        assert!(
            pair.b.failure().is_none(),
            "seed {seed}: {:?}",
            pair.b.events
        );
        sleep_until(
            &[pair.a.conn.poll_timeout(), pair.b.conn.poll_timeout()],
            Duration::from_millis(20),
        );
    }
    false
}

#[test]
fn handshake_completes_over_a_lossy_reordering_link() {
    let mut stats = LinkStats::default();
    for (seed, role) in [
        (0x9e37_79b9_7f4a_7c15, DtlsRole::Client),
        (0x2545_f491_4f6c_dd1d, DtlsRole::Server),
        (0xdead_beef_cafe_f00d, DtlsRole::Client),
        (0x0123_4567_89ab_cdef, DtlsRole::Server),
    ] {
        assert!(
            lossy_handshake(seed, role, &mut stats),
            "seed {seed:#x} did not connect"
        );
    }
    assert!(
        stats.dropped > 0 && stats.reordered > 0,
        "the link must actually misbehave"
    );
    assert!(
        stats.retransmissions_seen,
        "losses must have been repaired by retransmission"
    );
}

#[test]
fn lost_client_hello_is_retransmitted_after_the_initial_timeout() {
    let (x, y) = (Endpoint::new(fast_options()), Endpoint::new(fast_options()));
    let mut pair = Pair::new(&x, &y, DtlsRole::Client);
    let t0 = Instant::now();
    pair.a.conn.handle_timeout(t0);
    let lost = pair.a.take_transmits();
    assert_eq!(lost.len(), 1);
    let due = pair
        .a
        .conn
        .poll_timeout()
        .expect("a timer runs while handshaking");
    assert!(due > t0 && due <= t0 + Duration::from_millis(20));
    // Nothing is due yet by OpenSSL's clock only if we ask immediately; after sleeping past
    // the deadline the flight comes again.
    sleep_until(&[Some(due)], Duration::from_millis(50));
    std::thread::sleep(Duration::from_millis(2));
    pair.a.conn.handle_timeout(Instant::now());
    let again = pair.a.take_transmits();
    assert_eq!(again.len(), 1, "the ClientHello is sent again");
    // Same handshake message (from byte 13 on); a new record sequence number.
    assert_eq!(again[0][13..], lost[0][13..]);
    assert_ne!(again[0][5..11], lost[0][5..11]);
    let now = Instant::now();
    pair.b.conn.handle_datagram(now, &again[0]).unwrap();
    pair.pump(now);
    assert!(pair.a.keys().is_some() && pair.b.keys().is_some());
}

#[test]
fn handshake_gives_up_after_the_retransmission_budget() {
    let x = Endpoint::new(DtlsOptions {
        initial_retransmit_timeout: Duration::from_millis(20),
        max_retransmit_timeout: Duration::from_millis(20),
        max_retransmissions: 3,
        ..DtlsOptions::default()
    });
    let y = Endpoint::new(DtlsOptions::default());
    let mut client = Side::new(&x, DtlsRole::Client, y.fingerprint());
    let start = Instant::now();
    client.conn.handle_timeout(start);
    while client.failure().is_none() && start.elapsed() < Duration::from_secs(2) {
        sleep_until(&[client.conn.poll_timeout()], Duration::from_millis(30));
        client.conn.handle_timeout(Instant::now());
        client.take_transmits();
        client.drain_events();
    }
    assert!(
        matches!(
            client.failure(),
            Some(DtlsError::HandshakeTimeout { retransmissions: 3 })
        ),
        "{:?}",
        client.events
    );
    assert_eq!(
        client.sent.len(),
        4,
        "the ClientHello and three retransmissions"
    );
    assert!(client.conn.is_ended());
    assert!(client.conn.poll_timeout().is_none());
    let hello = &client.sent[0];
    assert!(matches!(
        client.conn.handle_datagram(Instant::now(), hello),
        Err(DtlsError::ConnectionEnded)
    ));
}

#[test]
fn handshake_deadline_follows_the_injected_clock() {
    let x = Endpoint::new(DtlsOptions {
        handshake_timeout: Duration::from_secs(5),
        ..DtlsOptions::default()
    });
    let y = Endpoint::new(DtlsOptions::default());
    let mut client = Side::new(&x, DtlsRole::Client, y.fingerprint());
    assert!(
        client.conn.poll_timeout().is_none(),
        "no timer before the first input"
    );
    let t0 = Instant::now();
    client.conn.handle_timeout(t0);
    assert_eq!(client.take_transmits().len(), 1);
    let due = client.conn.poll_timeout().unwrap();
    assert!(
        due > t0 && due <= t0 + Duration::from_millis(100),
        "first retransmission at 100 ms"
    );
    // Five virtual seconds later the handshake is over, whatever OpenSSL's clock says.
    client.conn.handle_timeout(t0 + Duration::from_secs(5));
    client.drain_events();
    assert!(matches!(
        client.failure(),
        Some(DtlsError::HandshakeTimeout { retransmissions: 0 })
    ));
    assert!(client.take_transmits().is_empty());
}

#[test]
fn server_waits_for_the_client_without_a_timer() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut server = Side::new(&x, DtlsRole::Server, y.fingerprint());
    let t0 = Instant::now();
    server.conn.handle_timeout(t0);
    server.conn.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(server.take_transmits().is_empty());
    assert!(server.conn.poll_timeout().is_none());
    server.drain_events();
    assert!(server.events.is_empty());
}

#[test]
fn connected_sides_report_their_remaining_timers_only() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, DtlsRole::Client);
    let now = Instant::now();
    pair.handshake(now);
    assert!(matches!(
        pair.a.events.first(),
        Some(DtlsEvent::Connected { .. })
    ));
    // The client received the last flight: nothing left to retransmit.
    assert!(pair.a.conn.poll_timeout().is_none());
    // Whatever the server reports, waking for it must not emit anything on a healthy link.
    if let Some(t) = pair.b.conn.poll_timeout() {
        assert!(t >= now);
    }
    pair.b.conn.handle_timeout(now);
    assert!(pair.b.take_transmits().is_empty());
}

#[test]
fn openssl_gives_up_a_flight_after_twelve_expiries_whatever_the_budget() {
    let x = Endpoint::new(DtlsOptions {
        initial_retransmit_timeout: Duration::from_millis(20),
        max_retransmit_timeout: Duration::from_millis(20),
        max_retransmissions: 100,
        ..DtlsOptions::default()
    });
    let y = Endpoint::new(DtlsOptions::default());
    let mut client = Side::new(&x, DtlsRole::Client, y.fingerprint());
    let start = Instant::now();
    client.conn.handle_timeout(start);
    while client.failure().is_none() && start.elapsed() < Duration::from_secs(2) {
        sleep_until(&[client.conn.poll_timeout()], Duration::from_millis(30));
        client.conn.handle_timeout(Instant::now());
        client.take_transmits();
        client.drain_events();
    }
    assert!(
        matches!(
            client.failure(),
            Some(DtlsError::HandshakeTimeout {
                retransmissions: 12
            })
        ),
        "{:?}",
        client.events
    );
    assert_eq!(
        client.sent.len(),
        13,
        "the ClientHello and twelve retransmissions"
    );
}

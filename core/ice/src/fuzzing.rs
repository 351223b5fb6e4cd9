//! Fuzz bodies, compiled always so `cargo test` and the cargo-fuzz shims share them.

use core::net::SocketAddr;
use core::time::Duration;
use std::time::Instant;

use portunus_stun::{Class, IntegrityKey, MessageWriter, Method, TransactionId};

use crate::{IceCredentials, IceEvent, IceLite, IceLiteConfig, IceState, MAX_MESSAGE_LEN};

const LOCAL_RANDOM: [u8; 32] = [11; 32];
const REMOTE_RANDOM: [u8; 32] = [22; 32];

/// Feeds one arbitrary datagram to a fresh [`IceLite`]: it must not panic, and nothing
/// unauthenticated may connect it.
pub fn lite_datagram(data: &[u8]) {
    let mut lite = IceLite::new(
        IceLiteConfig::default(),
        IceCredentials::generate(&LOCAL_RANDOM),
    );
    let now = base_instant();
    let (l, r) = addrs(0);
    let _ = lite.handle_stun(now, l, r, data);
    drain(&mut lite);
    assert_ne!(
        lite.state(),
        IceState::Connected,
        "connected without integrity"
    );
    assert!(lite.selected_pair().is_none());
}

/// Interprets `data` as a sequence of operations on one [`IceLite`]: arbitrary datagrams,
/// correctly signed checks (with or without USE-CANDIDATE), time steps and setting the
/// remote credentials. Asserts that only signed checks ever select a pair.
pub fn lite_ops(data: &[u8]) {
    let local = IceCredentials::generate(&LOCAL_RANDOM);
    let remote = IceCredentials::generate(&REMOTE_RANDOM);
    let key = IntegrityKey::new(local.pwd().as_bytes());
    let mut lite = IceLite::new(
        IceLiteConfig {
            max_pairs: 4,
            ..Default::default()
        },
        local.clone(),
    );
    let start = base_instant();
    let mut now = start;
    let mut signed_nomination = false;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let (l, r) = addrs(op >> 4);
        match op & 0x07 {
            0 | 1 => {
                let len = usize::from(rest.first().copied().unwrap_or(0))
                    .min(rest.len().saturating_sub(1));
                let dgram = rest.get(1..1 + len).unwrap_or(&[]);
                rest = rest.get(1 + len..).unwrap_or(&[]);
                let _ = lite.handle_stun(now, l, r, dgram);
            }
            2 | 3 => {
                let use_candidate = op & 0x01 == 1;
                let mut buf = [0u8; MAX_MESSAGE_LEN];
                let n = signed_check(&mut buf, &local, &remote, &key, op, use_candidate);
                if lite.handle_stun(now, l, r, &buf[..n]).is_ok() && use_candidate {
                    signed_nomination = true;
                }
            }
            4 | 5 => now += Duration::from_millis(u64::from(op) * 150),
            6 => lite.set_remote_credentials(remote.clone()),
            _ => now += Duration::from_secs(31),
        }
        lite.handle_timeout(now);
        let connected = drain(&mut lite);
        assert!(
            !connected || signed_nomination,
            "selected a pair without a signed nomination"
        );
        assert!(lite.poll_timeout().is_none_or(|t| t > start));
    }
}

fn signed_check(
    buf: &mut [u8],
    local: &IceCredentials,
    remote: &IceCredentials,
    key: &IntegrityKey,
    op: u8,
    use_candidate: bool,
) -> usize {
    let mut w = MessageWriter::new(
        buf,
        Class::Request,
        Method::BINDING,
        TransactionId([op; 12]),
    );
    w.add_username_parts(local.ufrag().as_bytes(), remote.ufrag().as_bytes())
        .add_priority(u32::from(op))
        .add_ice_controlling(u64::from(op));
    if use_candidate {
        w.add_use_candidate();
    }
    w.finish_with_integrity_and_fingerprint(key).unwrap_or(0)
}

/// Drains transmits and events; true when a pair got selected.
fn drain(lite: &mut IceLite) -> bool {
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    while let Some(t) = lite.poll_transmit(&mut buf) {
        assert!(t.len <= buf.len());
        assert!(
            portunus_stun::StunMessage::parse(&buf[..t.len]).is_ok(),
            "writes valid STUN"
        );
    }
    let mut selected = false;
    while let Some(e) = lite.poll_event() {
        selected |= matches!(e, IceEvent::SelectedPairChanged(_) | IceEvent::Connected);
    }
    selected
}

/// The origin of the fuzz bodies' virtual time.
#[allow(
    clippy::disallowed_methods,
    reason = "fuzz harness: one base instant for virtual time, never read again"
)]
fn base_instant() -> Instant {
    Instant::now()
}

fn addrs(sel: u8) -> (SocketAddr, SocketAddr) {
    let local = SocketAddr::from(([10, 0, 0, 1], 4000));
    let remote = if sel & 1 == 0 {
        SocketAddr::from(([192, 0, 2, sel], 5000 + u16::from(sel)))
    } else {
        SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(sel)], 6000))
    };
    (local, remote)
}

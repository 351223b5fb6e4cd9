//! The IceLite hot path (answering a Binding request) must not allocate: checked with a
//! counting global allocator around `handle_stun` + `poll_transmit`.

#![allow(
    clippy::disallowed_methods,
    reason = "tests take one base Instant for virtual time and never read the clock again"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use portunus_ice::{IceCredentials, IceLite, IceLiteConfig, MAX_MESSAGE_LEN};
use portunus_stun::{Class, IntegrityKey, MessageWriter, Method, TransactionId};

struct Counting;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls on this thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ENABLED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    ENABLED.with(|e| e.set(true));
    f();
    ENABLED.with(|e| e.set(false));
    COUNT.with(Cell::get)
}

#[test]
fn answering_binding_requests_does_not_allocate() {
    let local = IceCredentials::generate(&[2; 32]);
    let remote = IceCredentials::generate(&[1; 32]);
    let key = IntegrityKey::new(local.pwd().as_bytes());
    let mut lite = IceLite::new(IceLiteConfig::default(), local.clone());
    lite.set_remote_credentials(remote.clone());
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let peers: Vec<SocketAddr> = (0..4)
        .map(|i| SocketAddr::from(([198, 51, 100, i], 6000)))
        .collect();
    let checks: Vec<Vec<u8>> = (0..8u8)
        .map(|i| {
            let mut buf = [0u8; MAX_MESSAGE_LEN];
            let mut w = MessageWriter::new(
                &mut buf,
                Class::Request,
                Method::BINDING,
                TransactionId([i; 12]),
            );
            w.add_username_parts(local.ufrag().as_bytes(), remote.ufrag().as_bytes())
                .add_priority(1)
                .add_ice_controlling(7);
            if i % 2 == 0 {
                w.add_use_candidate();
            }
            let n = w.finish_with_integrity_and_fingerprint(&key).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    let mut now = Instant::now();
    let mut out = [0u8; MAX_MESSAGE_LEN];
    let mut answered = 0;
    let mut run = |now: Instant, lite: &mut IceLite| {
        for (i, check) in checks.iter().enumerate() {
            lite.handle_stun(now, server, peers[i % peers.len()], check)
                .unwrap();
            while lite.poll_transmit(&mut out).is_some() {
                answered += 1;
            }
            while lite.poll_event().is_some() {}
        }
        lite.handle_timeout(now);
    };
    // The first round creates pairs and events (state changes may allocate in principle;
    // they are preallocated too, but only steady state is the contract).
    run(now, &mut lite);
    now += Duration::from_secs(1);
    let n = allocations_during(|| run(now, &mut lite));
    assert_eq!(n, 0, "allocations while answering checks");
    assert_eq!(answered, 16);
}

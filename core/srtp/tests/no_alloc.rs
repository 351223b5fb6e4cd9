//! Per-packet paths must not allocate: after a stream exists, protect, unprotect (RTP and
//! RTCP, every profile, with cryptex) and the fan-out run with the allocator untouched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use portunus_srtp::{SrtpContext, SrtpProfile, protect_rtp_fanout};

/// Counts allocations made by the current thread (the test harness's own threads may
/// allocate at any time, so a global count would be flaky).
struct Counting;

thread_local! {
    // `const` initialisation: reading it never allocates, so the allocator may use it.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn count() {
    // `try_with` because the allocator also runs while thread-locals are torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rtp(seq: u16, buf: &mut [u8]) -> usize {
    // CC = 1 and a one-byte extension, so cryptex has work to do.
    let hdr = [
        0x91, 96, 0, 0, 0, 0, 0, 1, 0, 0, 0, 42, 0, 0, 0, 7, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0,
    ];
    buf[..hdr.len()].copy_from_slice(&hdr);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[hdr.len()..hdr.len() + 1000].fill(0x5a);
    hdr.len() + 1000
}

#[test]
fn per_packet_paths_do_not_allocate() {
    for profile in [
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
    ] {
        let key = [1u8; 32];
        let salt = [2u8; 14];
        let make = || {
            SrtpContext::new(
                profile,
                &key[..profile.master_key_len()],
                &salt[..profile.master_salt_len()],
            )
            .unwrap()
        };
        let (mut tx, mut rx, mut fan_a, mut fan_b) = (make(), make(), make(), make());
        tx.set_cryptex(true);
        let mut buf = vec![0u8; 1500];
        let mut out_a = vec![0u8; 1500];
        let mut out_b = vec![0u8; 1500];
        let mut results = [Ok(0); 2];
        let mut step = |seq: u16| {
            let len = rtp(seq, &mut buf);
            let n = tx.protect_rtp(&mut buf, len).unwrap();
            let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
            let mut receivers = [(&mut fan_a, &mut out_a[..]), (&mut fan_b, &mut out_b[..])];
            protect_rtp_fanout(&buf[..m], &mut receivers, |_, _| {}, &mut results).unwrap();
            assert!(results.iter().all(Result::is_ok));
            buf[..8].copy_from_slice(&[0x80, 200, 0, 1, 0, 0, 0, 42]);
            let n = tx.protect_rtcp(&mut buf, 8).unwrap();
            rx.unprotect_rtcp(&mut buf[..n]).unwrap();
        };
        // The first packet creates the stream state (allowed to allocate once).
        step(0);
        let before = allocations();
        for seq in 1..500 {
            step(seq);
        }
        assert_eq!(allocations(), before, "{profile:?}");
    }
}

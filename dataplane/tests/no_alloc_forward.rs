//! The fan-out must not allocate per packet: once a stream has flowed, forwarding a
//! publisher's packet to every subscriber (unprotect once, then per subscriber copy, rewrite
//! with VP8 picture ids, SRTP protect, queue, and the GSO grouping of the queued sends) runs
//! with the allocator untouched, for both SRTP profiles.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use portunus_dataplane::bench::{ForwardPath, Publisher};
use portunus_srtp::SrtpProfile;

/// Counts allocations made by the current thread (the harness's own threads may allocate at
/// any time, so a global count would be flaky).
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

#[test]
fn forwarding_to_fifty_subscribers_allocates_nothing_per_packet() {
    for profile in [SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmHmacSha1_80] {
        let subscribers = 50;
        let mut path = ForwardPath::new(subscribers, profile);
        let mut publisher = Publisher::new(profile);
        let mut buf = vec![0u8; 2048];
        // The first packets create each subscriber's SRTP stream state (one allocation per
        // stream, by design).
        for _ in 0..4 {
            let n = publisher.next(1100, &mut buf);
            assert_eq!(path.forward(&mut buf[..n]), subscribers);
        }
        let before = allocations();
        for _ in 0..200 {
            let n = publisher.next(1100, &mut buf);
            assert_eq!(path.forward(&mut buf[..n]), subscribers);
        }
        assert_eq!(
            allocations() - before,
            0,
            "{profile:?}: the forward path allocated"
        );
    }
}

//! Connectivity checks that arrive before their PeerConnection.
//!
//! When the server makes the offer (a Streaming viewer, a VideoRoom subscriber), the client
//! has our candidates and credentials as soon as it has the offer: it applies it, sends its
//! answer over the API and starts its checks at once. The check travels straight to the
//! shard while the answer goes through the control plane, which only then creates the
//! PeerConnection here, so the first check often finds no session for its ufrag. Dropping it
//! costs the client a retransmission: 500 ms with an RFC 8445 agent, 50–250 ms with a
//! browser, on every such join. Instead the shard keeps a few such checks for a moment and
//! answers them as soon as the session with their ufrag appears.
//!
//! The store is fixed at start (no allocation per datagram); when it is full the oldest
//! check makes room, and a check that no session claims within [`HOLD`] is dropped with
//! reason `no_route`, as it would have been on arrival.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a check waits for its session.
pub(crate) const HOLD: Duration = Duration::from_secs(1);
/// Checks kept at once per shard.
pub(crate) const CAPACITY: usize = 32;
/// The largest check kept (ICE checks are ~100–200 bytes; USERNAME is at most 513).
const MAX_LEN: usize = 576;

/// A held check; handed back by [`EarlyChecks::take_for`] to be routed again.
#[derive(Clone, Copy)]
pub(crate) struct Held {
    at: Instant,
    pub(crate) sock: usize,
    pub(crate) remote: SocketAddr,
    pub(crate) len: usize,
    pub(crate) buf: [u8; MAX_LEN],
}

/// Early checks, oldest first within a fixed ring.
pub(crate) struct EarlyChecks {
    slots: Box<[Option<Held>; CAPACITY]>,
    /// Where the next check goes (the oldest when full).
    next: usize,
}

impl std::fmt::Debug for EarlyChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarlyChecks")
            .field("held", &self.slots.iter().flatten().count())
            .finish()
    }
}

impl Default for EarlyChecks {
    fn default() -> Self {
        Self {
            slots: Box::new([None; CAPACITY]),
            next: 0,
        }
    }
}

/// What keeping a check did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// Kept, and nothing else went.
    Held,
    /// Kept in place of the oldest check, which is dropped.
    Evicted,
    /// Not kept (too large): dropped.
    Refused,
}

impl EarlyChecks {
    /// Keeps `datagram`, a STUN request whose ufrag named no session.
    pub(crate) fn hold(
        &mut self,
        now: Instant,
        sock: usize,
        remote: SocketAddr,
        datagram: &[u8],
    ) -> Kept {
        let len = datagram.len();
        if len > MAX_LEN {
            return Kept::Refused;
        }
        let at = self.next;
        self.next = (self.next + 1) % CAPACITY;
        let slot = &mut self.slots[at];
        let kept = if slot.is_some() {
            Kept::Evicted
        } else {
            Kept::Held
        };
        let mut held = Held {
            at: now,
            sock,
            remote,
            len,
            buf: [0; MAX_LEN],
        };
        held.buf[..len].copy_from_slice(datagram);
        *slot = Some(held);
        kept
    }

    /// Takes out the next held check whose USERNAME starts with `ufrag` (RFC 8445 §7.2.2:
    /// `<our ufrag>:<theirs>`), oldest first.
    pub(crate) fn take_for(&mut self, ufrag: &[u8]) -> Option<Held> {
        for i in 0..CAPACITY {
            let at = (self.next + i) % CAPACITY;
            let slot = &mut self.slots[at];
            let matches = slot.as_ref().is_some_and(|h| {
                portunus_stun::username_local_part(&h.buf[..h.len]) == Some(ufrag)
            });
            if matches {
                return slot.take();
            }
        }
        None
    }

    /// Drops checks held longer than [`HOLD`]; returns how many.
    pub(crate) fn expire(&mut self, now: Instant) -> u64 {
        let mut expired = 0;
        for slot in self.slots.iter_mut() {
            if slot
                .as_ref()
                .is_some_and(|h| now.duration_since(h.at) >= HOLD)
            {
                *slot = None;
                expired += 1;
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::tests::check;

    fn remote(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn a_held_check_is_released_to_its_ufrag_only_once() {
        let now = Instant::now();
        let mut e = EarlyChecks::default();
        assert_eq!(e.hold(now, 0, remote(1), &check(b"abcd:x")), Kept::Held);
        assert_eq!(e.hold(now, 1, remote(2), &check(b"efgh:y")), Kept::Held);
        assert_eq!(e.hold(now, 0, remote(3), &check(b"abcd:x")), Kept::Held);
        assert!(e.take_for(b"zzzz").is_none());
        let first = e.take_for(b"abcd").expect("the first abcd check");
        assert_eq!((first.sock, first.remote), (0, remote(1)));
        assert_eq!(&first.buf[..first.len], &check(b"abcd:x")[..]);
        assert_eq!(e.take_for(b"abcd").expect("the second").remote, remote(3));
        assert!(e.take_for(b"abcd").is_none());
        assert_eq!(e.take_for(b"efgh").expect("efgh").sock, 1);
        assert!(e.take_for(b"ab").is_none(), "a prefix is not the ufrag");
    }

    #[test]
    fn the_oldest_check_makes_room_and_old_checks_expire() {
        let now = Instant::now();
        let mut e = EarlyChecks::default();
        for i in 0..CAPACITY {
            assert_eq!(
                e.hold(now, 0, remote(i as u16), &check(b"old1:x")),
                Kept::Held
            );
        }
        assert_eq!(
            e.hold(now, 0, remote(999), &check(b"new1:x")),
            Kept::Evicted
        );
        let mut released = 0;
        while e.take_for(b"old1").is_some() {
            released += 1;
        }
        assert_eq!(released, CAPACITY - 1);
        assert_eq!(
            e.hold(now, 0, remote(1), &[0u8; MAX_LEN + 1]),
            Kept::Refused
        );
        assert_eq!(e.expire(now + HOLD / 2), 0);
        assert_eq!(e.expire(now + HOLD), 1, "the new1 check");
        assert!(e.take_for(b"new1").is_none());
    }
}

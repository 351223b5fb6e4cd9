//! The shard's router: which PeerConnection slot a datagram belongs to.
//!
//! Before ICE has a path, only STUN can be routed: the USERNAME of a check starts with our
//! ufrag (RFC 8445 §7.2.2), which names the session. A check that the session accepted
//! teaches the router its 5-tuple, and every later datagram (DTLS, SRTP) is routed by the
//! tuple alone. One socket per address family and shard, so the tuple is (socket, remote).

use std::collections::HashMap;
use std::net::SocketAddr;

/// Most remote addresses one session may teach the router (ICE pairs it answered).
pub(crate) const MAX_REMOTES_PER_PEER: usize = 8;

/// Slot lookups by ufrag and by 5-tuple.
#[derive(Debug, Default)]
pub(crate) struct Router {
    by_ufrag: HashMap<Box<[u8]>, usize>,
    by_tuple: HashMap<(u8, SocketAddr), usize>,
}

impl Router {
    /// Registers a session's local ufrag; `false` when another session has it.
    pub(crate) fn add_ufrag(&mut self, ufrag: &[u8], slot: usize) -> bool {
        if self.by_ufrag.contains_key(ufrag) {
            return false;
        }
        self.by_ufrag.insert(ufrag.into(), slot);
        true
    }

    /// The session a datagram belongs to: by ufrag for STUN requests that carry one (the
    /// authoritative name, even from a known address), by 5-tuple otherwise.
    pub(crate) fn route(&self, sock: usize, remote: SocketAddr, datagram: &[u8]) -> Option<usize> {
        if datagram.first().is_some_and(|&b| b <= 3)
            && let Some(ufrag) = portunus_stun::username_local_part(datagram)
        {
            return self.by_ufrag.get(ufrag).copied();
        }
        self.by_tuple.get(&(sock as u8, remote)).copied()
    }

    /// Whether `(sock, remote)` already routes to `slot`.
    pub(crate) fn knows(&self, sock: usize, remote: SocketAddr, slot: usize) -> bool {
        self.by_tuple.get(&(sock as u8, remote)) == Some(&slot)
    }

    /// Routes `(sock, remote)` to `slot` from now on; returns the slot it routed to before.
    pub(crate) fn learn(&mut self, sock: usize, remote: SocketAddr, slot: usize) -> Option<usize> {
        self.by_tuple.insert((sock as u8, remote), slot)
    }

    /// Forgets a tuple if it still routes to `slot`.
    pub(crate) fn forget(&mut self, sock: usize, remote: SocketAddr, slot: usize) {
        if self.knows(sock, remote, slot) {
            self.by_tuple.remove(&(sock as u8, remote));
        }
    }

    /// Forgets a session's ufrag.
    pub(crate) fn remove_ufrag(&mut self, ufrag: &[u8]) {
        self.by_ufrag.remove(ufrag);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use portunus_stun::{Class, MessageWriter, Method};

    use super::*;

    /// A STUN binding request carrying `username` (an ICE check as far as routing goes).
    pub(crate) fn check(username: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; 128];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            Default::default(),
        );
        w.add_username(username);
        let n = w.finish().expect("stun");
        buf[..n].to_vec()
    }

    #[test]
    fn stun_routes_by_ufrag_and_media_by_learned_tuple() {
        let mut r = Router::default();
        let remote: SocketAddr = "192.0.2.9:4000".parse().expect("addr");
        assert!(r.add_ufrag(b"abcd", 3));
        assert!(!r.add_ufrag(b"abcd", 4), "a ufrag names one session");
        assert_eq!(r.route(0, remote, &check(b"abcd:peer")), Some(3));
        assert_eq!(r.route(0, remote, &check(b"zzzz:peer")), None);
        let srtp = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(r.route(0, remote, &srtp), None, "no tuple learned yet");
        assert_eq!(r.learn(0, remote, 3), None);
        assert_eq!(r.route(0, remote, &srtp), Some(3));
        assert_eq!(
            r.route(1, remote, &srtp),
            None,
            "another socket is another tuple"
        );
        r.forget(0, remote, 4);
        assert_eq!(
            r.route(0, remote, &srtp),
            Some(3),
            "only the owner forgets a tuple"
        );
        r.forget(0, remote, 3);
        r.remove_ufrag(b"abcd");
        assert_eq!(r.route(0, remote, &srtp), None);
        assert_eq!(r.route(0, remote, &check(b"abcd:peer")), None);
    }
}

//! Sessions and handles: the registry the control plane keeps, with Janus's id rules.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::control::Transport;
use crate::{HandleId, SessionId};

/// Janus draws ids as `random_u64 & 0x1FFFFFFFFFFFFF` so they are safe JavaScript numbers.
const ID_MASK: u64 = 0x1F_FFFF_FFFF_FFFF;

/// One Janus session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The connection events go to (the one that created or last claimed it).
    pub(crate) owner: Transport,
    /// Last request addressed to it (or HTTP long poll).
    pub(crate) last_activity: Instant,
    /// Per-session timeout: -1 = global, 0 = never, n = seconds.
    pub(crate) timeout: i64,
    /// The owner connection closed; the session waits for `claim`.
    pub(crate) transport_gone: bool,
    /// Handles, in attach order.
    pub(crate) handles: Vec<HandleId>,
}

/// The WebRTC flags Janus keeps per handle (the subset the control plane can know).
#[derive(Clone, Debug, Default)]
pub(crate) struct RtcState {
    pub(crate) got_offer: bool,
    pub(crate) got_answer: bool,
    pub(crate) negotiated: bool,
    /// A PeerConnection (ICE agent) exists.
    pub(crate) has_pc: bool,
    /// `webrtcup` was sent for the current PeerConnection.
    pub(crate) ready: bool,
    /// A hangup happened for the current PeerConnection (at most one `hangup` per PC).
    pub(crate) alert: bool,
    pub(crate) trickle: bool,
    pub(crate) all_trickles: bool,
    pub(crate) e2ee: bool,
    pub(crate) local_sdp: Option<String>,
    pub(crate) remote_sdp: Option<String>,
}

/// One handle (a session's attachment to a plugin).
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) session: SessionId,
    /// Index of the plugin in the host's table.
    pub(crate) plugin: usize,
    pub(crate) opaque_id: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) created: Instant,
    pub(crate) rtc: RtcState,
}

/// Why the watchdog ends a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// No request for `session_timeout`: the client gets `timeout`.
    Timeout,
    /// Its transport went away and nobody claimed it in time.
    TransportGone,
}

/// All sessions and handles. Handle ids are unique across sessions (stricter than Janus,
/// which only guarantees uniqueness within a session), so plugins can key on them alone.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) sessions: HashMap<SessionId, Session>,
    pub(crate) handles: HashMap<HandleId, Handle>,
}

impl Registry {
    /// A fresh random session id (53 bits, non-zero, unused).
    pub(crate) fn new_session_id(&self) -> SessionId {
        loop {
            let id = rand::random::<u64>() & ID_MASK;
            if id != 0 && !self.sessions.contains_key(&SessionId(id)) {
                return SessionId(id);
            }
        }
    }

    /// A fresh random handle id.
    pub(crate) fn new_handle_id(&self) -> HandleId {
        loop {
            let id = rand::random::<u64>() & ID_MASK;
            if id != 0 && !self.handles.contains_key(&HandleId(id)) {
                return HandleId(id);
            }
        }
    }

    /// The handle if it belongs to `session`.
    pub(crate) fn handle_in(&self, session: SessionId, handle: HandleId) -> Option<&Handle> {
        self.handles.get(&handle).filter(|h| h.session == session)
    }

    /// Insert a handle and list it in its session.
    pub(crate) fn insert_handle(&mut self, id: HandleId, handle: Handle) {
        if let Some(s) = self.sessions.get_mut(&handle.session) {
            s.handles.push(id);
        }
        self.handles.insert(id, handle);
    }

    /// Remove a handle and unlist it.
    pub(crate) fn remove_handle(&mut self, id: HandleId) -> Option<Handle> {
        let h = self.handles.remove(&id)?;
        if let Some(s) = self.sessions.get_mut(&h.session) {
            s.handles.retain(|x| *x != id);
        }
        Some(h)
    }

    /// Sessions the watchdog must end at `now`.
    pub(crate) fn expired(
        &self,
        now: Instant,
        global_timeout: u64,
        reclaim_timeout: u64,
    ) -> Vec<(SessionId, Expiry)> {
        let mut out = Vec::new();
        for (id, s) in &self.sessions {
            let idle = now.saturating_duration_since(s.last_activity);
            let timeout = match s.timeout {
                -1 => global_timeout,
                t => u64::try_from(t).unwrap_or(0),
            };
            if timeout > 0 && idle >= Duration::from_secs(timeout) {
                out.push((*id, Expiry::Timeout));
            } else if s.transport_gone && idle >= Duration::from_secs(reclaim_timeout) {
                out.push((*id, Expiry::TransportGone));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: Instant) -> Session {
        Session {
            owner: Transport::Http,
            last_activity: now,
            timeout: -1,
            transport_gone: false,
            handles: Vec::new(),
        }
    }

    #[test]
    fn ids_fit_in_53_bits() {
        let r = Registry::default();
        for _ in 0..1000 {
            let s = r.new_session_id();
            assert!(s.0 != 0 && s.0 <= ID_MASK);
        }
    }

    #[test]
    fn expiry_uses_per_session_override() {
        let t0 = Instant::now();
        let mut r = Registry::default();
        r.sessions.insert(SessionId(1), session(t0));
        let mut never = session(t0);
        never.timeout = 0;
        r.sessions.insert(SessionId(2), never);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(
            r.expired(later, 60, 0),
            vec![(SessionId(1), Expiry::Timeout)]
        );
        assert!(r.expired(t0 + Duration::from_secs(59), 60, 0).is_empty());
    }

    #[test]
    fn handle_lookup_checks_session() {
        let t0 = Instant::now();
        let mut r = Registry::default();
        r.sessions.insert(SessionId(1), session(t0));
        let h = Handle {
            session: SessionId(1),
            plugin: 0,
            opaque_id: None,
            token: None,
            created: t0,
            rtc: RtcState::default(),
        };
        r.insert_handle(HandleId(9), h);
        assert!(r.handle_in(SessionId(1), HandleId(9)).is_some());
        assert!(r.handle_in(SessionId(2), HandleId(9)).is_none());
        assert_eq!(r.sessions[&SessionId(1)].handles, vec![HandleId(9)]);
        r.remove_handle(HandleId(9));
        assert!(r.sessions[&SessionId(1)].handles.is_empty());
    }
}

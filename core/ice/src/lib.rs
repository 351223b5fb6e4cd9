//! Sans-IO ICE for Portunus: the server's ICE-lite controlled agent ([`IceLite`]) and a full
//! controlling agent ([`IceAgent`]) for the load generator and tests, with consent
//! freshness. Neither owns a socket or reads a clock.
//!
//! # Driving an agent
//!
//! Inputs are `handle_stun` (a datagram, where it arrived and where from) and
//! `handle_timeout`; time is always an argument. After any input, drain `poll_transmit`
//! (into a caller-owned buffer of at least [`MAX_MESSAGE_LEN`] bytes) and `poll_event`,
//! then call `handle_timeout` again at `poll_timeout()` (at once if that is in the past).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use portunus_ice::{IceAgent, IceAgentConfig, IceCredentials, IceEvent, IceLite, IceLiteConfig};
//!
//! let server = IceCredentials::generate(&[7; 32]);
//! let client = IceCredentials::generate(&[9; 32]);
//! let (srv_addr, cli_addr) = ("192.0.2.1:3478".parse().unwrap(), "198.51.100.2:50000".parse().unwrap());
//!
//! let mut lite = IceLite::new(IceLiteConfig::default(), server.clone());
//! lite.set_remote_credentials(client.clone());
//! let mut now = Instant::now(); // the caller's clock; core crates never read it
//! let mut agent = IceAgent::new(now, IceAgentConfig::default(), client, 0x5eed);
//! agent.set_remote_credentials(server);
//! agent.add_local_candidate(cli_addr)?;
//! agent.add_remote_candidate(srv_addr, 2_130_706_431)?;
//! agent.end_of_remote_candidates();
//!
//! let mut buf = [0u8; portunus_ice::MAX_MESSAGE_LEN];
//! for _ in 0..20 {
//!     agent.handle_timeout(now);
//!     while let Some(t) = agent.poll_transmit(&mut buf) {
//!         // "Send" the check to the lite agent, and its answer back.
//!         lite.handle_stun(now, t.remote, t.local, &buf[..t.len])?;
//!         while let Some(r) = lite.poll_transmit(&mut buf) {
//!             agent.handle_stun(now, r.remote, r.local, &buf[..r.len])?;
//!         }
//!     }
//!     now += Duration::from_millis(50);
//! }
//! assert!(std::iter::from_fn(|| lite.poll_event()).any(|e| e == IceEvent::Connected));
//! assert_eq!(agent.selected_pair().map(|p| p.remote), Some(srv_addr));
//! # Ok::<(), portunus_ice::IceError>(())
//! ```
//!
//! # Scope
//!
//! Implemented: RFC 8445 §2.5 and §7.3 (lite responder: authentication, 487 role conflict,
//! USE-CANDIDATE nomination), §5.1.2 and §6.1.2.3 (priorities), §6.1.4 and §7.2 (paced
//! checks with retransmission, triggered checks, peer-reflexive remote candidates, regular
//! nomination of the first valid pair), §7.3.1.1 (role-conflict resolution), §5.3 and
//! RFC 8839 §5.4 (credentials), RFC 7675 (consent freshness on both sides).
//!
//! Out of scope: candidate gathering (no STUN/TURN servers: callers pass host addresses),
//! more than one component or data stream (BUNDLE and rtcp-mux only), candidate
//! foundations and frozen pairs, ICE restarts (make a new agent), TCP candidates, and
//! local peer-reflexive candidates from XOR-MAPPED-ADDRESS.
#![deny(missing_docs)]

mod agent;
mod check;
mod credentials;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod lite;
mod priority;
mod rng;

use core::net::SocketAddr;

pub use agent::{IceAgent, IceAgentConfig};
pub use credentials::IceCredentials;
pub use error::IceError;
pub use lite::{IceLite, IceLiteConfig, IceLiteStats};
pub use priority::{CandidateType, candidate_priority, pair_priority};

/// A buffer of this many bytes holds any message the agents write (the largest is a check
/// with two 256-character ufrags: 596 bytes).
pub const MAX_MESSAGE_LEN: usize = 600;

/// One datagram to send: `len` bytes of the `out` buffer given to `poll_transmit`, from
/// the local address `local` to `remote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceTransmit {
    /// The local address (socket) to send from.
    pub local: SocketAddr,
    /// The destination.
    pub remote: SocketAddr,
    /// Bytes written at the start of the buffer.
    pub len: usize,
}

/// A local and a remote transport address that checks run between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CandidatePair {
    /// Our address.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
}

/// State changes reported by `poll_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceEvent {
    /// Media should now flow on this pair (first selection, re-nomination, or fallback
    /// after the selected pair lost consent).
    SelectedPairChanged(CandidatePair),
    /// The agent reached [`IceState::Connected`]; follows the first `SelectedPairChanged`.
    Connected,
    /// The selected pair lost consent (RFC 7675 §5.1): stop sending on it.
    ConsentLost(CandidatePair),
    /// No pair is selected any more, but some still have consent (lite only): waiting for
    /// the peer to nominate one.
    Disconnected,
    /// Terminal: no usable pair remains. The agent takes no more input.
    Failed,
}

/// Overall agent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    /// Nothing happened yet.
    New,
    /// Checks are flowing; nothing is selected yet.
    Checking,
    /// A pair is selected and has consent.
    Connected,
    /// The selected pair was lost; other pairs still have consent (lite only).
    Disconnected,
    /// Terminal failure.
    Failed,
}

/// The ICE role (RFC 8445 §6.1.1): the controlling agent nominates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceRole {
    /// Nominates pairs with USE-CANDIDATE.
    Controlling,
    /// Follows the peer's nominations.
    Controlled,
}

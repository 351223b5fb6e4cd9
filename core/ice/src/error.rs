//! The crate's one error type.

use portunus_stun::StunError;

/// Why a datagram was rejected or a call was refused.
///
/// Errors from `handle_stun` are per-datagram outcomes for the dataplane's drop counters,
/// not faults: the agent stays usable, and an error response may already be queued for
/// `poll_transmit` (the doc of each variant says when).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceError {
    /// Not a STUN message, or its FINGERPRINT is wrong (RFC 8445 §7.3: discarded silently).
    #[error("not a STUN message")]
    NotStun,
    /// A malformed or unauthenticated STUN message. When it was a request, the matching
    /// error response (400, 401 or 420 per [`StunError::response_code`]) is queued.
    #[error("rejected STUN message: {0}")]
    Stun(#[from] StunError),
    /// A request claimed our role (RFC 8445 §7.3.1.1); a 487 response is queued.
    #[error("role conflict: 487 sent")]
    RoleConflict,
    /// A response or method this agent has no use for (a response to no outstanding
    /// transaction, a non-Binding message); dropped.
    #[error("unexpected STUN message")]
    Unexpected,
    /// The agent has failed (consent lost or every pair failed) and takes no more input;
    /// an ICE restart means a new agent.
    #[error("ICE agent has failed")]
    AgentFailed,
    /// Caller misuse: credentials that are not RFC 8839 §5.4 ufrag/pwd strings.
    #[error("invalid ICE credentials")]
    InvalidCredentials,
    /// Caller misuse: a candidate or pair this agent does not know or cannot hold.
    #[error("unknown or unusable candidate pair")]
    UnknownPair,
    /// Caller misuse: the configured candidate or pair limit is reached.
    #[error("candidate or pair limit reached")]
    LimitReached,
}

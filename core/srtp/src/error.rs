//! The crate's one error type.

/// Why an SRTP operation failed.
///
/// Per-packet variants map one-to-one onto the dataplane's drop-reason counters; the variant
/// says who is at fault:
/// - malformed input from the network: [`Truncated`](Self::Truncated),
///   [`BadVersion`](Self::BadVersion);
/// - a packet that fails the security checks: [`AuthenticationFailed`](Self::AuthenticationFailed),
///   [`Replay`](Self::Replay), [`TooOld`](Self::TooOld);
/// - caller misuse or configuration: [`BufferTooSmall`](Self::BufferTooSmall), the key-length
///   variants, [`TooManyStreams`](Self::TooManyStreams);
/// - the key must be replaced: [`KeyExhausted`](Self::KeyExhausted).
///
/// After an error from an `unprotect_*` call, the contents of the buffer are unspecified
/// (it may have been partly decrypted); drop the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The master key has the wrong length for the profile.
    #[error("master key is {actual} bytes; the profile needs {expected}")]
    BadMasterKeyLength {
        /// Length the profile needs.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// The master salt has the wrong length for the profile.
    #[error("master salt is {actual} bytes; the profile needs {expected}")]
    BadMasterSaltLength {
        /// Length the profile needs.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// DTLS-SRTP keying material has the wrong length for the profile.
    #[error("keying material is {actual} bytes; the profile needs {expected}")]
    BadKeyingMaterialLength {
        /// Length the profile needs.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// The packet is shorter than its fixed header, CSRC list, header extension, index word
    /// and authentication tag.
    #[error("packet shorter than its headers plus trailer")]
    Truncated,
    /// The RTP/RTCP version field is not 2.
    #[error("not an RTP/RTCP version 2 packet")]
    BadVersion,
    /// The caller's buffer cannot hold the result (or `len` exceeds the buffer).
    #[error("buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes the operation needs.
        needed: usize,
    },
    /// The authentication tag does not verify (wrong key, tampering or a wrong ROC guess).
    #[error("authentication tag does not match")]
    AuthenticationFailed,
    /// The packet index was already received: a replayed or duplicated packet.
    #[error("packet index already received (replay)")]
    Replay,
    /// The packet index is older than the replay window covers (or lies before the stream's
    /// first packet), so it cannot be checked for replay and is dropped.
    #[error("packet index older than the replay window")]
    TooOld,
    /// A packet for a new SSRC arrived while the context already tracks its maximum number of
    /// streams; see [`crate::SrtpContext::set_max_streams`].
    #[error("too many SSRCs on this context (limit {limit})")]
    TooManyStreams {
        /// The configured limit.
        limit: usize,
    },
    /// The 48-bit SRTP or 31-bit SRTCP index space of this key is used up
    /// (RFC 3711 §9.2); the session must be rekeyed.
    #[error("packet index space exhausted; rekey")]
    KeyExhausted,
}

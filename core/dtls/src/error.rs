//! The crate's one error type, classified by who is at fault.

use std::fmt;

use openssl::error::ErrorStack;

/// Everything that can go wrong in this crate.
///
/// [`DtlsError::kind`] says who is at fault and so what the caller should do with it;
/// [`DtlsError::alert`] gives the DTLS alert that goes (or went) on the wire for it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DtlsError {
    // --- the peer's fault ------------------------------------------------------------------
    /// The peer's certificate does not hash to the `a=fingerprint` from its SDP
    /// (RFC 8122 §5, RFC 8827 §6.5). A `bad_certificate` alert was sent.
    #[error("peer certificate does not match the SDP fingerprint")]
    FingerprintMismatch,
    /// The peer sent no certificate, which WebRTC requires of both sides (RFC 8827 §6.5).
    #[error("peer sent no certificate")]
    NoPeerCertificate,
    /// The peer sent a fatal alert.
    #[error("peer sent a fatal alert: {0}")]
    PeerAlert(AlertDescription),
    /// The handshake finished without a DTLS-SRTP protection profile (RFC 5764 §4.1.1):
    /// there are no SRTP keys, so the connection is useless for WebRTC. A `close_notify` was
    /// sent.
    #[error("peer negotiated no DTLS-SRTP protection profile")]
    NoSrtpProfile,
    /// OpenSSL aborted the handshake, e.g. no shared cipher or a malformed handshake message.
    #[error("DTLS handshake failed: {reason}")]
    HandshakeFailed {
        /// OpenSSL's reason.
        reason: String,
        /// The fatal alert this side sent, if any.
        sent_alert: Option<AlertDescription>,
    },
    /// The handshake did not finish within the configured retransmissions or total time.
    #[error("DTLS handshake timed out after {retransmissions} retransmissions")]
    HandshakeTimeout {
        /// Flights retransmitted before giving up.
        retransmissions: u32,
    },

    // --- input dropped: count it -----------------------------------------------------------
    /// The datagram is not a sequence of whole DTLS records (RFC 6347 §4.1); it was dropped
    /// without reaching OpenSSL.
    #[error("datagram is not a sequence of whole DTLS records")]
    MalformedDatagram,
    /// The datagram arrived after the connection was closed or failed; it was dropped.
    #[error("datagram arrived after the connection ended")]
    ConnectionEnded,

    // --- caller misuse ---------------------------------------------------------------------
    /// Application data was offered before the handshake finished or after it ended.
    #[error("DTLS connection is not established")]
    NotConnected,
    /// Application data larger than one DTLS record can carry (RFC 6347 §4.1: 2^14 bytes).
    #[error("application data of {len} bytes exceeds the {max}-byte record limit")]
    MessageTooLarge {
        /// Offered length.
        len: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// A fingerprint string or digest could not be understood.
    #[error("invalid fingerprint: {0}")]
    InvalidFingerprint(&'static str),
    /// A configuration value is out of range.
    #[error("invalid DTLS configuration: {0}")]
    InvalidConfig(&'static str),

    // --- local failure ---------------------------------------------------------------------
    /// OpenSSL failed for a local reason (allocation, bad certificate or key material).
    #[error("OpenSSL error: {0}")]
    Ssl(#[from] ErrorStack),
}

/// Who is at fault for a [`DtlsError`], which decides what the caller does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsErrorKind {
    /// The peer misbehaved or failed authentication: end the connection, report it.
    Peer,
    /// One input datagram was dropped (malformed or too late): count it, carry on.
    Dropped,
    /// The caller used the API wrongly: a bug on this side.
    Misuse,
    /// A local failure inside OpenSSL (resources, key material).
    Local,
}

impl DtlsError {
    /// Who is at fault.
    pub fn kind(&self) -> DtlsErrorKind {
        match self {
            Self::FingerprintMismatch
            | Self::NoPeerCertificate
            | Self::PeerAlert(_)
            | Self::NoSrtpProfile
            | Self::HandshakeFailed { .. }
            | Self::HandshakeTimeout { .. } => DtlsErrorKind::Peer,
            Self::MalformedDatagram | Self::ConnectionEnded => DtlsErrorKind::Dropped,
            Self::NotConnected
            | Self::MessageTooLarge { .. }
            | Self::InvalidFingerprint(_)
            | Self::InvalidConfig(_) => DtlsErrorKind::Misuse,
            Self::Ssl(_) => DtlsErrorKind::Local,
        }
    }

    /// The alert this side sends (OpenSSL sends it itself) for this error, RFC 5246 §7.2.
    /// `None` where no alert goes out: dropped input, misuse, a timeout, or the peer's own
    /// alert.
    pub fn alert(&self) -> Option<AlertDescription> {
        match self {
            Self::FingerprintMismatch => Some(AlertDescription::BAD_CERTIFICATE),
            Self::NoPeerCertificate => Some(AlertDescription::HANDSHAKE_FAILURE),
            Self::NoSrtpProfile => Some(AlertDescription::CLOSE_NOTIFY),
            Self::HandshakeFailed { sent_alert, .. } => *sent_alert,
            _ => None,
        }
    }
}

/// A TLS/DTLS alert description code (RFC 5246 §7.2, RFC 8446 §6 for later codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    /// `close_notify` (0).
    pub const CLOSE_NOTIFY: Self = Self(0);
    /// `unexpected_message` (10).
    pub const UNEXPECTED_MESSAGE: Self = Self(10);
    /// `bad_record_mac` (20).
    pub const BAD_RECORD_MAC: Self = Self(20);
    /// `handshake_failure` (40).
    pub const HANDSHAKE_FAILURE: Self = Self(40);
    /// `bad_certificate` (42).
    pub const BAD_CERTIFICATE: Self = Self(42);
    /// `certificate_unknown` (46).
    pub const CERTIFICATE_UNKNOWN: Self = Self(46);
    /// `illegal_parameter` (47).
    pub const ILLEGAL_PARAMETER: Self = Self(47);
    /// `decode_error` (50).
    pub const DECODE_ERROR: Self = Self(50);
    /// `decrypt_error` (51).
    pub const DECRYPT_ERROR: Self = Self(51);
    /// `protocol_version` (70).
    pub const PROTOCOL_VERSION: Self = Self(70);
    /// `insufficient_security` (71).
    pub const INSUFFICIENT_SECURITY: Self = Self(71);
    /// `internal_error` (80).
    pub const INTERNAL_ERROR: Self = Self(80);
    /// `user_canceled` (90).
    pub const USER_CANCELED: Self = Self(90);
    /// `no_renegotiation` (100).
    pub const NO_RENEGOTIATION: Self = Self(100);
    /// `unsupported_extension` (110).
    pub const UNSUPPORTED_EXTENSION: Self = Self(110);

    /// The registered name, or `None` for a code this crate does not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            60 => "export_restriction",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            110 => "unsupported_extension",
            _ => return None,
        })
    }
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "alert {}", self.0),
        }
    }
}

//! The crate's one error type and its mapping to STUN error response codes.

use crate::types::{AttributeType, codes};

/// Why a datagram was not accepted as a STUN message, or why writing one failed.
///
/// Parse and validation errors say who is at fault through [`StunError::response_code`]:
/// `Some(code)` is the RFC 8489 §14.8 error response a server sends back to a request,
/// `None` means the datagram is dropped silently (it may not even be STUN) or the error is
/// the caller's (a buffer too small for the message being written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    /// Fewer than the 20 bytes of a STUN header.
    #[error("datagram shorter than the 20-byte STUN header")]
    Truncated,
    /// The first two bits are not zero or the magic cookie is wrong (RFC 8489 §6.3).
    #[error("not a STUN message (leading bits or magic cookie)")]
    NotStun,
    /// The header's length field does not match the datagram or is not a multiple of 4.
    #[error("STUN length field {declared} does not match the {actual} bytes after the header")]
    BadLength {
        /// Length from the header.
        declared: usize,
        /// Bytes actually present after the header.
        actual: usize,
    },
    /// An attribute's length runs past the end of the message.
    #[error("attribute {attr:?} overruns the message")]
    AttributeOverrun {
        /// The attribute whose value does not fit.
        attr: AttributeType,
    },
    /// A known attribute has a value of the wrong size or shape.
    #[error("attribute {attr:?} is malformed")]
    MalformedAttribute {
        /// The malformed attribute.
        attr: AttributeType,
    },
    /// FINGERPRINT is present but is not the last attribute (RFC 8489 §14.7).
    #[error("FINGERPRINT is not the last attribute")]
    FingerprintNotLast,
    /// FINGERPRINT does not match the message: not STUN, or corrupted.
    #[error("FINGERPRINT does not match")]
    BadFingerprint,
    /// A FINGERPRINT was required but is absent (RFC 8445 §7.2.2 requires it for ICE).
    #[error("FINGERPRINT is missing")]
    MissingFingerprint,
    /// MESSAGE-INTEGRITY or USERNAME was required but is absent (RFC 8489 §9.1.3).
    #[error("MESSAGE-INTEGRITY or USERNAME is missing")]
    MissingIntegrity,
    /// USERNAME does not name a valid credential (RFC 8489 §9.1.3).
    #[error("USERNAME is not recognised")]
    UnknownUsername,
    /// MESSAGE-INTEGRITY does not match (RFC 8489 §9.1.3).
    #[error("MESSAGE-INTEGRITY does not match")]
    BadIntegrity,
    /// A comprehension-required attribute this implementation does not know (RFC 8489 §6.3.1).
    #[error("unknown comprehension-required attribute {attr:?}")]
    UnknownAttribute {
        /// The first such attribute.
        attr: AttributeType,
    },
    /// A request for a method the receiver does not implement (ICE uses only Binding).
    #[error("unsupported STUN method")]
    UnsupportedMethod,
    /// The output buffer cannot hold the message being written.
    #[error("output buffer too small for the STUN message")]
    BufferTooSmall,
    /// A value given to the writer is too long for its attribute or the message.
    #[error("value too long for attribute {attr:?}")]
    ValueTooLong {
        /// The attribute being written.
        attr: AttributeType,
    },
    /// An ERROR-CODE outside 300..=699 was given to the writer.
    #[error("error code {0} outside 300..=699")]
    InvalidErrorCode(u16),
}

impl StunError {
    /// The RFC 8489 §14.8 error code a server answers a request with, or `None` when the
    /// message must be dropped without an answer (not STUN, no readable transaction id,
    /// bad FINGERPRINT) or when the error is the writer's caller's.
    pub const fn response_code(&self) -> Option<u16> {
        match self {
            Self::BadLength { .. }
            | Self::AttributeOverrun { .. }
            | Self::MalformedAttribute { .. }
            | Self::FingerprintNotLast
            | Self::MissingFingerprint
            | Self::MissingIntegrity
            | Self::UnsupportedMethod => Some(codes::BAD_REQUEST),
            Self::UnknownUsername | Self::BadIntegrity => Some(codes::UNAUTHORIZED),
            Self::UnknownAttribute { .. } => Some(codes::UNKNOWN_ATTRIBUTE),
            // A FINGERPRINT mismatch means the datagram is not (intact) STUN: RFC 8445 §7.3
            // says to discard it, so no response.
            Self::Truncated
            | Self::NotStun
            | Self::BadFingerprint
            | Self::BufferTooSmall
            | Self::ValueTooLong { .. }
            | Self::InvalidErrorCode(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_failures_answer_401() {
        assert_eq!(StunError::BadIntegrity.response_code(), Some(401));
        assert_eq!(StunError::UnknownUsername.response_code(), Some(401));
    }

    #[test]
    fn malformed_requests_answer_400_and_unknown_attributes_420() {
        assert_eq!(StunError::MissingIntegrity.response_code(), Some(400));
        let attr = AttributeType(0x7fff);
        assert_eq!(
            StunError::MalformedAttribute { attr }.response_code(),
            Some(400)
        );
        assert_eq!(
            StunError::UnknownAttribute { attr }.response_code(),
            Some(420)
        );
    }

    #[test]
    fn non_stun_and_writer_errors_have_no_wire_answer() {
        assert_eq!(StunError::NotStun.response_code(), None);
        assert_eq!(StunError::BadFingerprint.response_code(), None);
        assert_eq!(StunError::BufferTooSmall.response_code(), None);
    }
}

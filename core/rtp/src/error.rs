//! The crate's one error type.

/// Why a packet could not be parsed or written.
///
/// The variants fall in two groups, which [`RtpError::is_caller_misuse`] tells apart:
/// malformed input from the network (drop the packet and count it) and caller mistakes
/// (an output buffer too small, a value outside its field's range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// The input ends before the structure that it announces.
    #[error("input is truncated")]
    Truncated,
    /// The version field is not 2 (RFC 3550 §5.1).
    #[error("unsupported RTP/RTCP version {0}")]
    BadVersion(u8),
    /// The padding count is zero or larger than the packet (RFC 3550 §5.1).
    #[error("invalid padding")]
    BadPadding,
    /// An RTCP length field disagrees with the packet's content (RFC 3550 §6.4).
    #[error("RTCP length field does not match the packet")]
    BadLength,
    /// An RFC 8285 header-extension element or block is malformed.
    #[error("malformed RTP header extension")]
    BadExtension,
    /// A field holds a value that its specification forbids (reserved TWCC status,
    /// invalid identifier characters, and so on).
    #[error("field value not allowed by the specification")]
    BadValue,
    /// The RTCP packet is not of the type that the view expects.
    #[error("RTCP packet is not of the expected type")]
    WrongPacketType,
    /// The caller's output buffer is too small; `needed` bytes are required.
    #[error("output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes that the write needs.
        needed: usize,
    },
    /// The caller passed a value that the wire format cannot carry.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
}

impl RtpError {
    /// Whether the error is the caller's fault rather than the peer's.
    ///
    /// Network input never produces these, so the dataplane can count the others as
    /// `DropReason::Malformed` and treat these as bugs.
    #[must_use]
    pub const fn is_caller_misuse(&self) -> bool {
        matches!(self, Self::BufferTooSmall { .. } | Self::ApiMisuse(_))
    }
}

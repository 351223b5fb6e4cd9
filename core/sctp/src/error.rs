//! The crate's error types.

use crate::ChannelId;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SctpError {
    /// The input is shorter than the 12-byte SCTP common header (RFC 9260 §3.1); dropped.
    #[error("packet shorter than the 12-byte SCTP common header")]
    Truncated,
    /// The association is not established yet, so nothing can be sent.
    #[error("SCTP association not established")]
    NotEstablished,
    /// The association has ended (`SctpEvent::Closed` was or will be emitted).
    #[error("SCTP association closed")]
    Closed,
    /// Caller misuse: the operation does not fit this transport's role or state.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
    /// No data channel with this id exists.
    #[error("unknown data channel {0:?}")]
    UnknownChannel(ChannelId),
    /// The channel exists but is not open for sending (still pending, or closing).
    #[error("data channel {0:?} is not open")]
    ChannelNotOpen(ChannelId),
    /// The message exceeds the peer's `a=max-message-size` (RFC 8841 §6); nothing was sent.
    #[error("message of {size} bytes exceeds the remote max-message-size of {max}")]
    MessageTooLarge {
        /// Size of the rejected message.
        size: usize,
        /// The remote limit in force.
        max: u32,
    },
    /// Every stream id of our parity is in use (RFC 8832 §6: even for the DTLS client).
    #[error("no free SCTP stream id left for a new data channel")]
    NoStreamAvailable,
    /// The caller's output buffer cannot hold the next packet; it stays queued.
    #[error("output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Size of the queued packet.
        needed: usize,
    },
    /// The label or protocol does not fit a DCEP length field.
    #[error(transparent)]
    Dcep(#[from] DcepError),
    /// sctp-proto refused the operation.
    #[error("sctp-proto: {0}")]
    Sctp(#[from] sctp_proto::Error),
}

/// Why a DCEP message (RFC 8832 §5) could not be parsed or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcepError {
    /// The message ends before its fixed fields or its label/protocol.
    #[error("DCEP message truncated")]
    Truncated,
    /// Bytes follow the last field.
    #[error("DCEP message has trailing bytes")]
    TrailingBytes,
    /// Message type other than DATA_CHANNEL_OPEN (0x03) or DATA_CHANNEL_ACK (0x02).
    #[error("unknown DCEP message type {0:#04x}")]
    UnknownMessageType(u8),
    /// Channel type not listed in RFC 8832 §8.2.2.
    #[error("unknown DCEP channel type {0:#04x}")]
    UnknownChannelType(u8),
    /// The label or protocol is not UTF-8.
    #[error("DCEP label or protocol is not UTF-8")]
    InvalidUtf8,
    /// The label or protocol is longer than 65535 bytes.
    #[error("DCEP label or protocol longer than 65535 bytes")]
    FieldTooLong,
    /// The output buffer is too small.
    #[error("output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

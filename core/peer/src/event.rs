//! What a [`crate::Peer`] reports through `poll_event`.

use portunus_dtls::{AlertDescription, DtlsError};
use portunus_ice::CandidatePair;
use portunus_sctp::{ChannelId, MessageKind};
use portunus_srtp::SrtpProfile;

/// Something that happened on a PeerConnection, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// ICE selected (or re-selected) the path media and DTLS use.
    PathSelected(CandidatePair),
    /// ICE reached its connected state.
    IceConnected,
    /// The selected pair lost consent (RFC 7675); ICE may select another.
    ConsentLost(CandidatePair),
    /// DTLS completed and SRTP keys are installed: Janus's `webrtcup`.
    Connected {
        /// The negotiated SRTP profile.
        profile: SrtpProfile,
    },
    /// The peer sent a DTLS alert (a fatal one is followed by a hangup).
    DtlsAlert {
        /// Whether the alert was fatal.
        fatal: bool,
        /// The alert.
        description: AlertDescription,
    },
    /// The SCTP association is up: data channels can carry messages.
    DataChannelsReady,
    /// The peer opened a data channel (DCEP DATA_CHANNEL_OPEN, acknowledged already).
    ChannelOpen {
        /// Stream id of the channel.
        id: ChannelId,
        /// The channel's label.
        label: String,
        /// The channel's sub-protocol.
        protocol: String,
        /// Whether delivery is ordered.
        ordered: bool,
    },
    /// A channel we opened was acknowledged.
    ChannelOpened {
        /// Stream id of the channel.
        id: ChannelId,
    },
    /// A data-channel message.
    ChannelMessage {
        /// The channel it arrived on.
        id: ChannelId,
        /// String or binary.
        kind: MessageKind,
        /// The message, whole.
        data: Vec<u8>,
    },
    /// A channel was closed (by either side).
    ChannelClosed {
        /// Stream id of the channel.
        id: ChannelId,
    },
    /// The SCTP association ended.
    DataChannelsClosed,
    /// Terminal: the PeerConnection is gone.
    Hangup(HangupReason),
}

/// Why a PeerConnection ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupReason {
    /// No usable ICE pair remains (consent expired everywhere, or every check failed).
    IceFailed,
    /// ICE and DTLS did not complete within the connect timeout.
    ConnectTimeout,
    /// The DTLS handshake or connection failed.
    Dtls(DtlsFailure),
    /// The peer closed DTLS with close_notify.
    DtlsClosed,
    /// DTLS negotiated an SRTP profile the SRTP stack could not set up.
    SrtpSetup,
}

impl HangupReason {
    /// The `reason` Janus 1.1 puts in its `hangup` event for this cause.
    pub fn janus_reason(self) -> &'static str {
        match self {
            Self::IceFailed => "ICE failed",
            Self::ConnectTimeout => "DTLS timeout",
            Self::Dtls(DtlsFailure::Timeout) => "DTLS timeout",
            Self::Dtls(DtlsFailure::Alert) => "DTLS alert",
            Self::Dtls(DtlsFailure::Error) => "DTLS error",
            Self::DtlsClosed => "DTLS alert",
            Self::SrtpSetup => "DTLS-SRTP stack error",
        }
    }
}

/// How DTLS failed, in the three classes Janus reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsFailure {
    /// The handshake did not finish in time.
    Timeout,
    /// The peer sent a fatal alert.
    Alert,
    /// Anything else: fingerprint mismatch, no SRTP profile, handshake failure.
    Error,
}

impl From<&DtlsError> for DtlsFailure {
    fn from(error: &DtlsError) -> Self {
        match error {
            DtlsError::HandshakeTimeout { .. } => Self::Timeout,
            DtlsError::PeerAlert(_) => Self::Alert,
            _ => Self::Error,
        }
    }
}

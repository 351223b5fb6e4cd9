//! Why a [`crate::Peer`] refused a datagram or a call.

use portunus_dtls::DtlsError;
use portunus_ice::IceError;
use portunus_sctp::SctpError;
use portunus_srtp::SrtpError;

/// Why a datagram was dropped or a call refused. Datagram errors are per-packet outcomes
/// for the dataplane's drop counters, not failures of the PeerConnection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The first byte matches no protocol of a PeerConnection (RFC 7983).
    #[error("datagram is neither STUN, DTLS, RTP nor RTCP")]
    UnknownPacket,
    /// RTP or RTCP arrived before DTLS exported the SRTP keys, or media was sent too early.
    #[error("SRTP is not set up yet")]
    NotConnected,
    /// The peer failed or was closed.
    #[error("the PeerConnection is closed")]
    Closed,
    /// A call only a controlling (full) agent accepts was made on an ICE-lite peer.
    #[error("only a controlling ICE agent takes candidates")]
    NotControlling,
    /// A data-channel call on a PeerConnection that negotiated no data channels.
    #[error("no data channels were negotiated")]
    NoDataChannels,
    /// ICE rejected a STUN message or a call.
    #[error("ICE: {0}")]
    Ice(#[from] IceError),
    /// DTLS rejected a datagram or a call.
    #[error("DTLS: {0}")]
    Dtls(#[from] DtlsError),
    /// SRTP/SRTCP could not protect or unprotect a packet (authentication, replay, …).
    #[error("SRTP: {0}")]
    Srtp(#[from] SrtpError),
    /// SCTP refused a data-channel call.
    #[error("SCTP: {0}")]
    Sctp(#[from] SctpError),
}

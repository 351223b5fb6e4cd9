//! WebRTC data channels: SCTP over DTLS with the Data Channel Establishment Protocol, sans-IO.
//!
//! [`SctpTransport`] runs one SCTP association whose packets are DTLS application data
//! (RFC 8261 §4: no UDP encapsulation) and multiplexes data channels over its streams
//! (RFC 8831). Channels are opened in-band with DCEP (RFC 8832), implemented here in [`dcep`];
//! the SCTP protocol machine itself is [`sctp_proto`].
//!
//! # Implemented
//!
//! - RFC 8831 §6.5 channel ids = stream ids; §6.6 message PPIDs 51/53, empty-message PPIDs
//!   56/57 (sent as one zero byte), deprecated partial PPIDs 52/54 reassembled on receipt;
//!   §6.7 closing a channel by resetting its streams (RFC 6525).
//! - RFC 8832 §5 DATA_CHANNEL_OPEN / DATA_CHANNEL_ACK, §6 even/odd stream ids by DTLS role,
//!   ordered sending until the ACK arrives, automatic ACK for channels the peer opens.
//! - RFC 8841 §6 max-message-size: [`SctpTransport::send`] refuses messages larger than the
//!   peer's limit; our own limit bounds reassembly.
//! - Partial reliability (RFC 3758) through DCEP channel types, via sctp-proto.
//!
//! # Out of scope
//!
//! SCTP over UDP (RFC 6951), multi-homing, negotiated (out-of-band, `negotiated: true`)
//! channels, SNAP (`a=sctp-init`), stream priorities beyond carrying the DCEP field.
//! Only the DTLS client initiates: sctp-proto cannot merge two crossing INITs into one
//! association, so [`SctpTransport::connect`] is refused for [`SctpRole::Server`].
//!
//! # Driving it
//!
//! After any `handle_*`, `connect` or API call, drain [`SctpTransport::poll_transmit`] (hand
//! each packet to DTLS) and [`SctpTransport::poll_event`], then re-arm the timer with
//! [`SctpTransport::poll_timeout`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use portunus_sctp::{MessageKind, Reliability, SctpConfig, SctpEvent, SctpRole, SctpTransport};
//!
//! let mut now = Instant::now(); // the caller's clock; the transport never reads one
//! let mut client = SctpTransport::new(SctpRole::Client, SctpConfig::default());
//! let mut server = SctpTransport::new(SctpRole::Server, SctpConfig::default());
//! client.connect(now).unwrap();
//! let id = client.open_channel("chat", "", true, Reliability::Reliable).unwrap();
//!
//! let mut received = Vec::new();
//! let mut buf = vec![0u8; 2048]; // caller-owned; a DTLS record's worth
//! for _ in 0..20 {
//!     // What one side's DTLS sends, the other side's DTLS delivers.
//!     while let Some(len) = client.poll_transmit(&mut buf).unwrap() {
//!         server.handle_packet(now, &buf[..len]).unwrap();
//!     }
//!     while let Some(len) = server.poll_transmit(&mut buf).unwrap() {
//!         client.handle_packet(now, &buf[..len]).unwrap();
//!     }
//!     while let Some(event) = client.poll_event() {
//!         if event == (SctpEvent::ChannelOpened { id }) {
//!             client.send(id, MessageKind::String, b"hello").unwrap();
//!         }
//!     }
//!     while let Some(event) = server.poll_event() {
//!         received.push(event);
//!     }
//!     now += Duration::from_millis(10);
//!     for side in [&mut client, &mut server] {
//!         if side.poll_timeout().is_some_and(|t| t <= now) {
//!             side.handle_timeout(now);
//!         }
//!     }
//! }
//! assert!(received.contains(&SctpEvent::Message {
//!     id,
//!     kind: MessageKind::String,
//!     data: b"hello".to_vec(),
//! }));
//! ```
//!
//! # Costs
//!
//! sctp-proto takes each inbound packet as owned `Bytes` (one copy per packet) and allocates
//! internally; each delivered message is one `Vec<u8>`. Data channels are not on the
//! per-packet media path, so this is accepted.

#![deny(missing_docs)]

pub mod dcep;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod transport;

pub use dcep::{DataChannelOpen, DcepMessage, Reliability};
pub use error::{DcepError, SctpError};
pub use transport::{ChannelId, MessageKind, SctpConfig, SctpEvent, SctpRole, SctpTransport};

#[cfg(test)]
mod tests;

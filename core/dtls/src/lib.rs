//! DTLS 1.2 with DTLS-SRTP for WebRTC, driven sans-IO over OpenSSL.
//!
//! [`DtlsCertificate`] makes the self-signed ECDSA P-256 certificate a WebRTC endpoint
//! presents and gives its SDP [`Fingerprint`]. [`DtlsConfig`] builds the OpenSSL context once
//! per process. [`DtlsConnection`] is one association in either [`DtlsRole`]: it takes
//! datagrams and timer ticks, and gives datagrams to send, a timeout, and [`DtlsEvent`]s —
//! the exported SRTP keys on connect, decrypted application data (SCTP packets), alerts and
//! the end of the connection. It owns no socket and reads no clock.
//!
//! Implemented: RFC 6347 (DTLS 1.2; retransmission timers §4.2.4 with a configurable initial
//! timeout, doubling, and a bounded give-up), RFC 5764 §4.1 (use_srtp negotiation, server
//! preference order) and §4.2 (key export, split by DTLS role), RFC 7714 §14.2 (the
//! AEAD_AES_128_GCM profile), RFC 5763 §5 / RFC 8827 §6.5 (both sides present certificates;
//! each is checked against the peer's `a=fingerprint`, RFC 8122 §5, instead of a CA).
//!
//! Out of scope: DTLS 1.3 (OpenSSL 3.0 has none), DTLS 1.0, renegotiation (refused), session
//! resumption, cookie exchange (`HelloVerifyRequest`: ICE already proved the peer's address),
//! connection ids, AEAD_AES_256_GCM, RFC 7983 demultiplexing (the caller routes datagrams
//! with first byte 20..=63 here) and path MTU discovery.
//!
//! **Clock limitation.** OpenSSL keeps the retransmission timer on its own wall clock.
//! [`DtlsConnection::poll_timeout`] reports `now + the time OpenSSL says is left`, where `now`
//! is the latest instant passed in, and a retransmission happens only once OpenSSL agrees the
//! timer expired. Handshakes therefore cannot be replayed in virtual time; the handshake
//! deadline and give-up count, by contrast, follow the `now` passed in.
//!
//! # Driving a connection
//!
//! After every `handle_*` call, drain [`DtlsConnection::poll_transmit`] and
//! [`DtlsConnection::poll_event`], then re-arm the timer from
//! [`DtlsConnection::poll_timeout`]. A client starts with one `handle_timeout`.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use portunus_dtls::*;
//!
//! // Once per process (the wall-clock time comes from the caller).
//! let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
//! let (server_cert, client_cert) = (DtlsCertificate::generate(wall)?, DtlsCertificate::generate(wall)?);
//! let server_cfg = DtlsConfig::new(&server_cert, DtlsOptions::default())?;
//! let client_cfg = DtlsConfig::new(&client_cert, DtlsOptions::default())?;
//!
//! // Per PeerConnection: the remote fingerprint comes from the peer's SDP.
//! let mut server = DtlsConnection::new(&server_cfg, DtlsRole::Server, client_cert.fingerprint().clone())?;
//! let mut client = DtlsConnection::new(&client_cfg, DtlsRole::Client, server_cert.fingerprint().clone())?;
//!
//! let now = Instant::now();
//! client.handle_timeout(now); // a client sends its ClientHello
//! let mut buf = [0u8; 2048];
//! let (mut client_keys, mut server_keys) = (None, None);
//! for _ in 0..10 {
//!     while let Some(n) = client.poll_transmit(&mut buf) {
//!         server.handle_datagram(now, &buf[..n])?;
//!     }
//!     while let Some(n) = server.poll_transmit(&mut buf) {
//!         client.handle_datagram(now, &buf[..n])?;
//!     }
//!     while let Some(ev) = server.poll_event() {
//!         if let DtlsEvent::Connected { srtp } = ev { server_keys = Some(srtp); }
//!     }
//!     while let Some(ev) = client.poll_event() {
//!         if let DtlsEvent::Connected { srtp } = ev { client_keys = Some(srtp); }
//!     }
//!     // A real loop also sleeps until poll_timeout() and then calls handle_timeout().
//! }
//! let (c, s) = (client_keys.unwrap(), server_keys.unwrap());
//! assert_eq!(c.profile(), Some(SrtpProfile::AeadAes128Gcm));
//! assert_eq!((c.local_key, c.local_salt), (s.remote_key, s.remote_salt));
//!
//! // SCTP packets travel as application data.
//! client.send_application_data(b"sctp packet")?;
//! let n = client.poll_transmit(&mut buf).unwrap();
//! server.handle_datagram(now, &buf[..n])?;
//! assert!(matches!(server.poll_event(), Some(DtlsEvent::ApplicationData(d)) if d == b"sctp packet"));
//! # Ok::<(), DtlsError>(())
//! ```
#![deny(missing_docs)]

mod callbacks;
mod cert;
mod config;
mod connection;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod pipe;
mod record;

pub use cert::{DtlsCertificate, Fingerprint, FingerprintAlgorithm};
pub use config::{DtlsConfig, DtlsOptions, SrtpProfile};
pub use connection::{DtlsConnection, DtlsEvent, DtlsRole, SrtpKeyingMaterial};
pub use error::{AlertDescription, DtlsError, DtlsErrorKind};
pub use record::RECORD_HEADER_LEN;

/// Largest payload [`DtlsConnection::send_application_data`] accepts: one record's plaintext
/// (RFC 6347 §4.1 via RFC 5246 §6.2.1, 2^14 bytes).
pub const MAX_APPLICATION_DATA_LEN: usize = 1 << 14;

/// Upper bound on what a record adds to its payload with this crate's cipher suites: header,
/// explicit IV or nonce, MAC or tag, padding.
pub const MAX_RECORD_OVERHEAD: usize = 128;

/// A buffer this large always holds whatever [`DtlsConnection::poll_transmit`] returns.
pub const MAX_DATAGRAM_LEN: usize = MAX_APPLICATION_DATA_LEN + MAX_RECORD_OVERHEAD;

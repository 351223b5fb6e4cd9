//! `portunus-bench`: the bundled load generator. It speaks the Janus API (WebSocket,
//! `janus-protocol`) and real ICE, DTLS-SRTP and SRTP, so it loads Portunus and Janus 1.1
//! alike, and it produces the side-by-side comparison the project's performance claims rest on.
//!
//! Simulated clients are cheap: a few threads each drive many PeerConnections
//! ([`portunus_peer::Peer`], controlling or controlled ICE, DTLS client or server per the
//! `a=setup` rules) over non-blocking UDP sockets. A received packet is unprotected (checking
//! its SRTP tag), and the [`media::Stamp`] at the end of its payload gives its stream, its
//! sequence (for loss) and its send time on `CLOCK_MONOTONIC` (for one-way latency into an
//! HDR histogram). Nothing is decoded.
//!
//! Scenarios ([`scenario::Scenario`]): `stream` (a paced RTP feeder into a Streaming
//! mountpoint, N viewers), `webinar` (one VideoRoom publisher, N subscribers), `meeting`
//! (N publishers each subscribed to all others) and `join-storm` (setups as fast as the
//! server takes them). Server CPU and memory come from `/proc/<pid>`.
//!
//! Out of scope: decoding, congestion control, NACK/RTX (clients send no feedback), TURN,
//! data channels, HTTP long-poll (WebSocket only). RFCs exercised through the core crates:
//! RFC 8445 (ICE), RFC 6347 and 5764 (DTLS-SRTP), RFC 3711 and 7714 (SRTP), RFC 7741 (the
//! VP8 payload descriptor it writes).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use portunus_bench::media::{MediaConfig, MediaSource, Stamp};
//!
//! // A publisher's media: paced VP8-shaped video and Opus-shaped audio, each packet stamped.
//! let config = MediaConfig {
//!     video_bitrate: 1_500_000,
//!     simulcast: false,
//!     audio: true,
//!     keyframe_interval: Duration::from_secs(2),
//!     pacing_factor: 2.5,
//! };
//! let now = Instant::now();
//! let mut source = MediaSource::new(now, 0, 1000, &config);
//! let mut buf = [0u8; 1500];
//! let len = source.poll_packet(now, 42, &mut buf).expect("a keyframe is due at once");
//! let stamp = Stamp::read(&buf[12..len]).expect("stamped");
//! assert_eq!(stamp.sent_ns, 42);
//! ```
#![deny(missing_docs)]

pub mod baseline;
pub mod control;
pub mod media;
pub mod report;
pub mod rx;
pub mod scenario;
pub mod sdp;
pub mod server;
pub mod worker;

/// What can go wrong in a bench run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The Janus API refused or failed a request.
    #[error("Janus API: {0}")]
    Api(String),
    /// A server description could not be used.
    #[error("SDP: {0}")]
    Sdp(String),
    /// Local setup (sockets, DTLS context, threads) failed.
    #[error("setup: {0}")]
    Setup(String),
    /// The server process could not be started, probed or stopped.
    #[error("server: {0}")]
    Server(String),
}

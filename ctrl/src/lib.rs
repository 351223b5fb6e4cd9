//! # portunus-ctrl — the Janus API control plane
//!
//! One thread, one [`mio`] event loop, no async runtime. It speaks the Janus 1.1 client API
//! (HTTP REST with long polls, and WebSocket with the `janus-protocol` subprotocol) and the
//! Admin API (HTTP `/admin` and WebSocket `janus-admin-protocol` on the admin port, plus a
//! Prometheus `/metrics`), keeps sessions and handles, and hosts plugins as state machines.
//! janus.js and janode work against it unchanged.
//!
//! Layers, from the wire inwards:
//!
//! * [`Server`] (module `server`): the mio loop, HTTP/1.1 framing with `httparse`, WebSocket
//!   framing with `tungstenite`, long-poll parking, timers, signals.
//! * [`ControlPlane`]: the Janus semantics without IO — every request is
//!   `handle_request(now, from, json) -> reply`, events come out of `poll_output()`.
//! * [`plugin::Plugin`]: what plugins implement; [`media::MediaEngine`] and
//!   [`ControlPlane::handle_peer_event`]: the seam to SDP processing and the dataplane.
//!
//! ```
//! use std::time::Instant;
//! use portunus_ctrl::{config::Config, ControlPlane, Transport};
//! use serde_json::json;
//!
//! let now = Instant::now();
//! let mut cp = ControlPlane::new(&Config::default(), now);
//! let r = cp.handle_request(now, Transport::Http, json!({"janus":"ping","transaction":"x"}));
//! assert_eq!(r, json!({"janus":"pong","transaction":"x"}));
//! // After any handle_* call, drain the outputs and honour the timer:
//! while let Some(_out) = cp.poll_output() {}
//! let _wake_at = cp.poll_timeout();
//! ```
//!
//! Out of scope here: SDP processing, ICE, DTLS and media (see `portunus-sdp` and the
//! dataplane, wired through [`media::MediaEngine`]); event handlers; packet captures
//! (`start_pcap`); the Unix-socket, MQTT, RabbitMQ and NATS transports.
//! Specification: `shared/janus-api/core.md` and `admin.md` (Janus 1.1.2); HTTP/1.1 per
//! RFC 9112 (framing subset: Content-Length bodies, keep-alive); WebSocket per RFC 6455.

#![deny(missing_docs)]

pub mod api;
pub mod cli;
pub mod config;
mod control;
pub mod logging;
pub mod media;
pub mod metrics;
pub mod netcheck;
pub mod plugin;
mod server;
mod sessions;
mod tokens;

#[doc(hidden)]
pub mod fuzzing;

pub use control::{
    AdminReply, ConnId, ControlPlane, LogHook, LongPollRefusal, Output, SessionOverReason,
    Transport, constant_time_eq,
};
pub use netcheck::AdminTicket;
pub use server::{BoundPorts, LoopHook, RunningServer, Server, ServerHandle};

/// A Janus session id (53-bit random unless the client chose one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// A handle id (53-bit random, unique across all sessions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandleId(pub u64);

/// Errors of this crate (wire-level errors are [`api::ApiError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CtrlError {
    /// A plugin with this package name is already registered.
    #[error("plugin {0} is already registered")]
    DuplicatePlugin(String),
    /// A configuration setting is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Binding a listener or polling failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The control thread of a [`RunningServer`] failed.
    #[error("{0}")]
    Thread(&'static str),
}

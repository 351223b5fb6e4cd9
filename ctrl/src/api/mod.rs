//! The Janus API wire format: error codes, request decoding and reply builders.
//!
//! Everything here is pure (no IO): bytes or `serde_json` values in, values or [`ApiError`]s
//! out. The check order and the texts follow `janus_process_incoming_request` of Janus 1.1.2.

pub mod error;
pub mod request;
pub(crate) mod response;
pub(crate) mod validate;

pub use error::{ApiError, JanusCode};
pub use request::{
    ApiKind, Envelope, EnvelopeError, decode_envelope, parse_http_body, parse_ws_frame,
};

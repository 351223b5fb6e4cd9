//! # portunus-plugins — the Janus plugins
//!
//! Janus-compatible plugins as sans-IO state machines implementing
//! [`portunus_ctrl::plugin::Plugin`]: they take requests, PeerConnection events and
//! data-channel messages, and emit Janus replies and events with the exact JSON of Janus 1.1.2
//! plus media intents ([`portunus_ctrl::plugin::MediaCommand`]) that the host maps onto the
//! dataplane. They never touch sockets or packets and never read a clock: time comes in as
//! `Instant`s, the wall clock as a [`WallClock`] anchor, randomness from a seed.
//!
//! * [`echotest::EchoTest`] — `janus.plugin.echotest` (`shared/janus-api/echotest.md`)
//! * [`textroom::TextRoom`] — `janus.plugin.textroom` (`shared/janus-api/textroom.md`)
//! * [`videoroom::VideoRoom`] — `janus.plugin.videoroom` (`shared/janus-api/videoroom.md`),
//!   the 1.x multistream API: see its module docs for what is missing
//! * [`streaming::Streaming`] — `janus.plugin.streaming` (`shared/janus-api/streaming.md`),
//!   RTP mountpoints: see its module docs for what is missing
//! * [`audiobridge::AudioBridge`] — `janus.plugin.audiobridge`
//!   (`shared/janus-api/audiobridge.md`), the API state machine of the audio mixer (the
//!   mixing is the media side's, from `OpenMix`/`JoinMix`/… intents)
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use portunus_ctrl::{config::Config, ControlPlane, Output, Transport};
//! use portunus_plugins::{PluginsConfig, WallClock};
//! use serde_json::json;
//!
//! let now = Instant::now();
//! let mut cp = ControlPlane::new(&Config::default(), now);
//! let clock = WallClock::new(now, SystemTime::UNIX_EPOCH);
//! for p in portunus_plugins::all(&PluginsConfig::default(), clock) {
//!     cp.register_plugin(p).unwrap();
//! }
//! let r = cp.handle_request(now, Transport::Http, json!({"janus":"create","transaction":"a"}));
//! let session = r["data"]["id"].as_u64().unwrap();
//! let r = cp.handle_request(now, Transport::Http, json!({"janus":"attach","transaction":"b",
//!     "session_id":session,"plugin":"janus.plugin.echotest"}));
//! let handle = r["data"]["id"].as_u64().unwrap();
//! let r = cp.handle_request(now, Transport::Http, json!({"janus":"message","transaction":"c",
//!     "session_id":session,"handle_id":handle,"body":{"audio":false}}));
//! assert_eq!(r["janus"], "ack");
//! // After every handle_* call, drain the outputs: here the EchoTest event.
//! let Some(Output::Event { json, .. }) = cp.poll_output() else { panic!() };
//! assert_eq!(json["plugindata"]["data"], json!({"echotest":"event","result":"ok"}));
//! ```
//!
//! Out of scope: recording, event handlers, the `post` backend of TextRoom, configuration
//! files (rooms come from [`PluginsConfig`], whose default is Janus's sample configuration),
//! `permanent` rooms (accepted, never written anywhere).

#![deny(missing_docs)]

pub mod audiobridge;
pub mod echotest;
mod rooms;
pub mod streaming;
pub mod textroom;
mod util;
pub mod videoroom;

#[doc(hidden)]
pub mod fuzzing;

use portunus_ctrl::plugin::Plugin;

pub use util::WallClock;

/// Settings of every plugin, built once at start.
#[derive(Clone, Debug, Default)]
pub struct PluginsConfig {
    /// TextRoom settings (default: Janus's sample with room 1234).
    pub textroom: textroom::TextRoomConfig,
    /// VideoRoom settings (default: Janus's sample with rooms 1234 and 5678).
    pub videoroom: videoroom::VideoRoomConfig,
    /// Streaming settings (default: Janus's sample RTP mountpoints 1 and 123).
    pub streaming: streaming::StreamingConfig,
    /// AudioBridge settings (default: Janus's sample with room 1234).
    pub audiobridge: audiobridge::AudioBridgeConfig,
    /// Seed for room/user/private ids; `None` draws one from the OS. Tests pass a fixed one.
    pub seed: Option<u64>,
}

/// Errors of this crate (the wire errors are plugin-specific JSON, not Rust errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginsError {
    /// A configured room is invalid.
    #[error("invalid room configuration: {0}")]
    Config(String),
}

/// Every plugin of this crate, ready for `ControlPlane::register_plugin`.
pub fn all(config: &PluginsConfig, clock: WallClock) -> Vec<Box<dyn Plugin>> {
    vec![
        Box::new(echotest::EchoTest::new()),
        Box::new(textroom::TextRoom::new(
            config.textroom.clone(),
            clock,
            config.seed,
        )),
        Box::new(videoroom::VideoRoom::new(
            config.videoroom.clone(),
            clock,
            config.seed.map(|s| s ^ 0x5652),
        )),
        Box::new(streaming::Streaming::new(
            config.streaming.clone(),
            clock,
            config.seed.map(|s| s ^ 0x5354),
        )),
        Box::new(audiobridge::AudioBridge::new(
            config.audiobridge.clone(),
            clock,
            config.seed.map(|s| s ^ 0x4142),
        )),
    ]
}

//! The audio mixer behind AudioBridge rooms.
//!
//! Each participant's RTP arrives (decrypted, as plain RTP over loopback from the dataplane)
//! on the mixer thread's socket and is demultiplexed by SSRC into the participant's
//! [`JitterBuffer`]: fixed slots, ordered by sequence number, released one packet per 20 ms
//! tick once the participant's prebuffer has filled. Every tick the mixer decodes one frame
//! per participant at the mix rate (Opus natively, G.711 through 8 kHz; a missing packet is
//! concealed with Opus FEC or PLC), applies its volume (and in a spatial mix its pan), sums
//! the frames into one `i32` mix, and for each participant subtracts its own frame (N-1),
//! saturates to 16 bits, encodes with the participant's encoder and sends one RTP packet with
//! its own sequence number, timestamp and SSRC. Forwarders get the whole mix. Participants
//! that add nothing audible (muted, silent, prebuffering) hear the whole mix and share one
//! encode per distinct encoder setting, each behind its own RTP header; muted participants'
//! packets are dropped on arrival, never buffered or decoded.
//!
//! [`Mixer`] is the sans-IO core (tests and benches drive it directly); [`MixerThread`] runs
//! it with a socket and a drift-free 20 ms clock; [`MixerPool`] places rooms on several such
//! threads. Nothing is allocated per packet or per tick once participants have joined; every
//! drop is counted in [`Counters`].
//!
//! ```
//! use portunus_mixer::{Codec, Join, Mixer, ParticipantSettings};
//!
//! let mut mixer = Mixer::default();
//! mixer.open_room(1, 16_000, false).unwrap();
//! let settings = ParticipantSettings { codec: Codec::Pcmu, prebuffer: 1, ..Default::default() };
//! let join = Join { mix: 1, participant: 7, ssrc: 0x1234, payload_type_in: Some(0),
//!     payload_type_out: 0, settings };
//! mixer.join(&join).unwrap();
//! mixer.set_destination(7, "127.0.0.1:5000".parse().unwrap()).unwrap();
//! let mut sent = 0;
//! mixer.tick(&mut |_to, packet| { sent += packet.len(); true });
//! assert_eq!(sent, 12 + 160, "one PCMU packet of silence: nobody else speaks");
//! ```

pub mod codec;
mod counters;
pub mod dsp;
pub mod g711;
pub mod jitter;
mod mixer;
mod pool;
mod thread;

pub use codec::{Codec, OpusSettings};
pub use counters::{Counters, MixStats};
pub use jitter::JitterBuffer;
pub use mixer::{
    ForwarderSpec, Join, MixError, Mixer, OWN_ENCODER_HOLD, ParticipantSettings, SAMPLING_RATES,
    frame_samples,
};
pub use pool::MixerPool;
pub use thread::{MixerCommand, MixerThread, TICK};

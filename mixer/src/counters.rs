//! What the mixer counts: every packet it takes in or sends, and every one it drops, by
//! reason. Written by the mixer thread only (relaxed atomics, no lock), read by anyone.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// The mixer's live counters.
        #[derive(Debug, Default)]
        pub struct Counters {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A copy of [`Counters`] at one moment.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct MixStats {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Reads every counter.
            pub fn snapshot(&self) -> MixStats {
                MixStats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }

        impl std::ops::AddAssign for MixStats {
            fn add_assign(&mut self, other: Self) {
                $(self.$name += other.$name;)*
            }
        }

        impl MixStats {
            /// Every counter with its name, for metrics.
            pub fn named(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name),)*]
            }
        }
    };
}

counters! {
    /// RTP packets received from participants.
    packets_in,
    /// Mixed packets sent (to participants and forwarders).
    packets_out,
    /// Ticks run.
    ticks,
    /// Ticks skipped because the thread fell more than a few ticks behind.
    ticks_skipped,
    /// Dropped: not RTP.
    malformed,
    /// Dropped: no participant has the SSRC.
    unknown_ssrc,
    /// Dropped: a payload type other than the participant's codec.
    wrong_payload_type,
    /// Dropped: the participant is muted (its audio is neither mixed nor kept).
    muted,
    /// Dropped: arrived after its turn to be mixed.
    late,
    /// Dropped: already queued.
    duplicate,
    /// Dropped: over the jitter buffer's bound (sender faster than the mixer, or a jump).
    overflow,
    /// Dropped: payload larger than a jitter-buffer slot.
    too_big,
    /// Dropped: the decoder rejected the packet.
    decode_errors,
    /// Lost packets concealed (Opus PLC or FEC; silence for G.711).
    concealed,
    /// Times a participant's buffer ran dry while playing (it prebuffers again).
    underruns,
    /// Frames encoded (own mixes, shared listener mixes and forwarders).
    encodes,
    /// Mixed packets sent to a listener from an encode shared with other listeners.
    shared_sends,
    /// Frames the encoder failed on (not sent).
    encode_errors,
    /// Mixed packets the socket refused (or SRTP could not protect).
    send_errors,
    /// Commands the mixer refused (unknown mix or participant, SSRC clash, codec setup).
    rejected_commands,
}

impl Counters {
    /// Adds `n` to one counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

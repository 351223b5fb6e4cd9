//! Identifier newtypes: SSRC and the extended sequence number.

use std::fmt;

/// A synchronization source identifier (RFC 3550 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

impl From<u32> for Ssrc {
    fn from(v: u32) -> Self {
        Self(v)
    }
}

impl From<Ssrc> for u32 {
    fn from(v: Ssrc) -> Self {
        v.0
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An extended RTP sequence number: the 16-bit wire value plus a rollover count
/// in the upper bits (RFC 3550 §A.1, RFC 3711 §3.3.1 calls the count ROC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SeqNo(pub u64);

impl SeqNo {
    /// Builds the extended number from a rollover count and a wire sequence number.
    #[must_use]
    pub const fn from_parts(rollover: u64, seq: u16) -> Self {
        Self((rollover << 16) | seq as u64)
    }

    /// The 16-bit value as carried on the wire.
    #[must_use]
    pub const fn wire(self) -> u16 {
        self.0 as u16
    }

    /// How many times the 16-bit value has wrapped (the SRTP ROC, truncated to 32 bits
    /// by callers that need it).
    #[must_use]
    pub const fn rollover(self) -> u64 {
        self.0 >> 16
    }
}

impl fmt::Display for SeqNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Extends `seq` to 64 bits, choosing the value closest to `reference`.
///
/// A wire value up to 32767 ahead of or 32768 behind the reference is taken as that
/// far ahead or behind, so both reordering and wraps are handled. With no reference,
/// the value starts in rollover 0. A value that would land before 0 (reordering across
/// the very first wrap) is placed in rollover 0 instead.
#[must_use]
pub fn extend_seq(reference: Option<SeqNo>, seq: u16) -> SeqNo {
    let Some(reference) = reference else {
        return SeqNo(u64::from(seq));
    };
    let delta = seq.wrapping_sub(reference.wire()) as i16;
    let ext = if delta >= 0 {
        reference.0.wrapping_add(delta as u64)
    } else {
        match reference.0.checked_sub(u64::from(delta.unsigned_abs())) {
            Some(v) => v,
            None => u64::from(seq),
        }
    };
    SeqNo(ext)
}

/// Tracks the highest sequence number of one stream and extends each new 16-bit value.
///
/// ```
/// use portunus_rtp::{SeqExtender, SeqNo};
/// let mut ext = SeqExtender::new();
/// assert_eq!(ext.extend(65535), SeqNo(65535));
/// assert_eq!(ext.extend(0), SeqNo(65536)); // wrapped
/// assert_eq!(ext.extend(65534), SeqNo(65534)); // late packet from before the wrap
/// assert_eq!(ext.highest(), Some(SeqNo(65536)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqExtender {
    highest: Option<SeqNo>,
}

impl SeqExtender {
    /// A tracker that has seen no packet.
    #[must_use]
    pub const fn new() -> Self {
        Self { highest: None }
    }

    /// Extends `seq` relative to the highest value seen, and remembers it if higher.
    pub fn extend(&mut self, seq: u16) -> SeqNo {
        let ext = extend_seq(self.highest, seq);
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        ext
    }

    /// Extends `seq` without updating the tracker.
    #[must_use]
    pub fn peek(&self, seq: u16) -> SeqNo {
        extend_seq(self.highest, seq)
    }

    /// The highest extended sequence number seen so far.
    #[must_use]
    pub const fn highest(&self) -> Option<SeqNo> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_starts_in_rollover_zero() {
        assert_eq!(extend_seq(None, 1234), SeqNo(1234));
    }

    #[test]
    fn forward_wrap_increments_rollover() {
        let r = Some(SeqNo::from_parts(3, 65530));
        assert_eq!(extend_seq(r, 5), SeqNo::from_parts(4, 5));
    }

    #[test]
    fn late_packet_before_wrap_keeps_previous_rollover() {
        let r = Some(SeqNo::from_parts(4, 3));
        assert_eq!(extend_seq(r, 65533), SeqNo::from_parts(3, 65533));
    }

    #[test]
    fn reorder_before_first_wrap_clamps_to_rollover_zero() {
        assert_eq!(extend_seq(Some(SeqNo(2)), 65535), SeqNo(65535));
    }

    #[test]
    fn half_range_ahead_is_forward_and_beyond_is_backward() {
        let r = Some(SeqNo::from_parts(1, 0));
        assert_eq!(extend_seq(r, 32767), SeqNo::from_parts(1, 32767));
        assert_eq!(extend_seq(r, 32768), SeqNo::from_parts(0, 32768));
    }

    #[test]
    fn extender_tracks_highest_only() {
        let mut e = SeqExtender::new();
        assert_eq!(e.extend(10), SeqNo(10));
        assert_eq!(e.extend(8), SeqNo(8));
        assert_eq!(e.highest(), Some(SeqNo(10)));
        assert_eq!(e.peek(11), SeqNo(11));
        assert_eq!(e.highest(), Some(SeqNo(10)));
    }

    #[test]
    fn extender_follows_many_wraps() {
        let mut e = SeqExtender::new();
        let mut last = SeqNo(0);
        for i in 0u64..300_000 {
            last = e.extend((i * 7) as u16);
            assert_eq!(last, SeqNo(i * 7));
        }
        assert_eq!(last.rollover(), (299_999 * 7) >> 16);
    }
}

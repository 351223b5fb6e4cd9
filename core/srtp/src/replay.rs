//! Packet index tracking: ROC estimation (RFC 3711 §3.3.1, Appendix A) and the replay list
//! (RFC 3711 §3.3.2) as a sliding bitmap.

use crate::SrtpError;

/// SRTP replay window, in packets. RFC 3711 §3.3.2 asks for at least 64; libwebrtc configures
/// libsrtp with 1024 because video bursts and retransmissions arrive far out of order, and a
/// smaller window would drop them as "too old". 1024 bits cost 128 bytes per SSRC.
pub const RTP_REPLAY_WINDOW: u64 = 1024;
/// SRTCP replay window, in packets. RTCP is sparse, so 128 is ample.
pub const RTCP_REPLAY_WINDOW: u64 = 128;

/// The highest index seen on a stream plus a bitmap of which of the last `64 * WORDS`
/// indices were received.
///
/// The bitmap is a ring indexed by `index % (64 * WORDS)`: advancing the highest index only
/// clears the bits it skips over (one bit for in-order traffic), instead of shifting a large
/// integer.
#[derive(Clone)]
pub(crate) struct ReplayWindow<const WORDS: usize> {
    highest: u64,
    started: bool,
    bits: [u64; WORDS],
}

impl<const WORDS: usize> ReplayWindow<WORDS> {
    const SIZE: u64 = 64 * WORDS as u64;

    pub(crate) const fn new() -> Self {
        Self {
            highest: 0,
            started: false,
            bits: [0; WORDS],
        }
    }

    /// The highest index accepted so far; `None` before the first packet.
    pub(crate) fn highest(&self) -> Option<u64> {
        self.started.then_some(self.highest)
    }

    /// Estimates the 48-bit SRTP index of a packet carrying `seq` (RFC 3711 Appendix A):
    /// the candidate among ROC-1, ROC and ROC+1 closest to the highest sequence number seen.
    ///
    /// # Errors
    /// [`SrtpError::TooOld`] when the estimate would need a ROC below 0 (a packet from before
    /// the stream's first one), [`SrtpError::KeyExhausted`] past ROC 2^32-1.
    pub(crate) fn estimate_rtp_index(&self, seq: u16) -> Result<u64, SrtpError> {
        if !self.started {
            return Ok(u64::from(seq));
        }
        let roc = self.highest >> 16;
        let s_l = self.highest as u16;
        let v = if s_l < 0x8000 {
            if u32::from(seq) > u32::from(s_l) + 0x8000 {
                roc.checked_sub(1).ok_or(SrtpError::TooOld)?
            } else {
                roc
            }
        } else if u32::from(s_l) - 0x8000 > u32::from(seq) {
            roc + 1
        } else {
            roc
        };
        if v > u64::from(u32::MAX) {
            return Err(SrtpError::KeyExhausted);
        }
        Ok((v << 16) | u64::from(seq))
    }

    /// Replay check (RFC 3711 §3.3.2) without changing state.
    pub(crate) fn check(&self, index: u64) -> Result<(), SrtpError> {
        if !self.started || index > self.highest {
            return Ok(());
        }
        if self.highest - index >= Self::SIZE {
            return Err(SrtpError::TooOld);
        }
        if self.bit(index) {
            Err(SrtpError::Replay)
        } else {
            Ok(())
        }
    }

    /// Records `index` as received (after it authenticated), advancing the window if needed.
    pub(crate) fn accept(&mut self, index: u64) {
        if !self.started {
            self.started = true;
            self.highest = index;
            self.bits = [0; WORDS];
        } else if index > self.highest {
            let delta = index - self.highest;
            if delta >= Self::SIZE {
                self.bits = [0; WORDS];
            } else {
                self.clear_range(self.highest + 1, index);
            }
            self.highest = index;
        } else if self.highest - index >= Self::SIZE {
            // Outside the window: nothing to record (callers checked first; senders may
            // re-send old indices, which do not move the window).
            return;
        }
        let (w, b) = Self::slot(index);
        self.bits[w] |= 1 << b;
    }

    fn bit(&self, index: u64) -> bool {
        let (w, b) = Self::slot(index);
        self.bits[w] & (1 << b) != 0
    }

    /// Clears the bits of indices `from..=to` (fewer than `SIZE` of them).
    fn clear_range(&mut self, from: u64, to: u64) {
        let mut i = from;
        while i <= to {
            let (w, b) = Self::slot(i);
            if b == 0 && to - i >= 63 {
                self.bits[w] = 0;
                i += 64;
            } else {
                self.bits[w] &= !(1 << b);
                i += 1;
            }
        }
    }

    fn slot(index: u64) -> (usize, u32) {
        let pos = index % Self::SIZE;
        ((pos / 64) as usize, (pos % 64) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type W = ReplayWindow<16>;

    #[test]
    fn estimates_roc_across_wrap_in_both_directions() {
        let mut w = W::new();
        w.accept(0xfff0);
        assert_eq!(w.estimate_rtp_index(0x0002).unwrap(), 0x1_0002);
        assert_eq!(w.estimate_rtp_index(0xffef).unwrap(), 0xffef);
        w.accept(0x1_0002);
        // A late packet from before the wrap maps back to ROC 0.
        assert_eq!(w.estimate_rtp_index(0xfffe).unwrap(), 0xfffe);
        assert_eq!(w.estimate_rtp_index(0x0003).unwrap(), 0x1_0003);
    }

    #[test]
    fn estimate_below_roc_zero_is_too_old() {
        let mut w = W::new();
        w.accept(5);
        assert_eq!(w.estimate_rtp_index(0xfff0), Err(SrtpError::TooOld));
    }

    #[test]
    fn rejects_duplicates_and_indices_older_than_the_window() {
        let mut w = W::new();
        for i in 100..2000u64 {
            if i % 3 != 0 {
                w.check(i).unwrap();
                w.accept(i);
            }
        }
        assert_eq!(w.check(1999), Err(SrtpError::Replay));
        assert_eq!(w.check(1998), Ok(()), "never received, inside the window");
        assert_eq!(w.check(1999 - 1023), Err(SrtpError::Replay));
        assert_eq!(w.check(1999 - 1024), Err(SrtpError::TooOld));
        assert_eq!(w.check(5000), Ok(()));
    }

    #[test]
    fn large_jump_clears_the_whole_window() {
        let mut w = W::new();
        w.accept(10);
        w.accept(10 + 1024);
        assert_eq!(w.check(10 + 1024), Err(SrtpError::Replay));
        for i in 11..10 + 1024 {
            assert_eq!(w.check(i), Ok(()), "index {i}");
        }
        // A jump of 200 (crossing word boundaries) clears exactly the skipped range.
        w.accept(10 + 1024 - 5);
        w.accept(10 + 1024 + 200);
        assert_eq!(w.check(10 + 1024 - 5), Err(SrtpError::Replay));
        for i in 10 + 1024 + 1..10 + 1024 + 200 {
            assert_eq!(w.check(i), Ok(()), "index {i}");
        }
    }
}

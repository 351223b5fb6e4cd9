//! Per-SSRC state, kept in a bounded table sorted by SSRC.

use crate::SrtpError;
use crate::replay::{RTCP_REPLAY_WINDOW, RTP_REPLAY_WINDOW, ReplayWindow};

/// Default bound on SSRCs per context; see [`crate::SrtpContext::set_max_streams`].
pub const DEFAULT_MAX_STREAMS: usize = 256;

const RTP_WORDS: usize = (RTP_REPLAY_WINDOW / 64) as usize;
const RTCP_WORDS: usize = (RTCP_REPLAY_WINDOW / 64) as usize;

/// What one context remembers about one SSRC.
#[derive(Clone)]
pub(crate) struct StreamState {
    /// SRTP: highest index (ROC and sequence number) and, when receiving, the replay list.
    pub(crate) rtp: ReplayWindow<RTP_WORDS>,
    /// SRTCP receive side: highest index and replay list.
    pub(crate) rtcp_rx: ReplayWindow<RTCP_WORDS>,
    /// SRTCP send side: the index the next protected packet gets (RFC 3711 §3.4: starts at 0).
    pub(crate) rtcp_tx_next: u32,
}

impl StreamState {
    pub(crate) const fn new() -> Self {
        Self {
            rtp: ReplayWindow::new(),
            rtcp_rx: ReplayWindow::new(),
            rtcp_tx_next: 0,
        }
    }
}

/// SSRC → state, as two parallel vectors sorted by SSRC (binary search over a dense `u32`
/// array) plus a one-entry cache, because consecutive packets mostly share an SSRC.
pub(crate) struct Streams {
    ssrcs: Vec<u32>,
    states: Vec<StreamState>,
    last: usize,
    max: usize,
}

impl Streams {
    pub(crate) const fn new() -> Self {
        Self {
            ssrcs: Vec::new(),
            states: Vec::new(),
            last: 0,
            max: DEFAULT_MAX_STREAMS,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ssrcs.len()
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Position of `ssrc`, if tracked.
    pub(crate) fn find(&mut self, ssrc: u32) -> Option<usize> {
        if self.ssrcs.get(self.last) == Some(&ssrc) {
            return Some(self.last);
        }
        let i = self.ssrcs.binary_search(&ssrc).ok()?;
        self.last = i;
        Some(i)
    }

    /// Position of `ssrc` without touching the cache (for `&self` accessors).
    pub(crate) fn position(&self, ssrc: u32) -> Option<usize> {
        self.ssrcs.binary_search(&ssrc).ok()
    }

    /// Position of `ssrc` if tracked; `Ok(None)` if it is new and there is room for it;
    /// `TooManyStreams` if it is new and the table is full.
    pub(crate) fn find_or_room(&mut self, ssrc: u32) -> Result<Option<usize>, SrtpError> {
        match self.find(ssrc) {
            Some(i) => Ok(Some(i)),
            None if self.ssrcs.len() >= self.max => {
                Err(SrtpError::TooManyStreams { limit: self.max })
            }
            None => Ok(None),
        }
    }

    /// Position of `ssrc`, inserting a fresh state if it is new.
    pub(crate) fn find_or_insert(&mut self, ssrc: u32) -> Result<usize, SrtpError> {
        if let Some(i) = self.find(ssrc) {
            return Ok(i);
        }
        if self.ssrcs.len() >= self.max {
            return Err(SrtpError::TooManyStreams { limit: self.max });
        }
        let i = self.ssrcs.partition_point(|&s| s < ssrc);
        // One allocation at most, when a new stream first appears.
        self.ssrcs.insert(i, ssrc);
        self.states.insert(i, StreamState::new());
        self.last = i;
        Ok(i)
    }

    /// Position of `ssrc` when the caller believes it is at `hint` (no search, and the
    /// shared last-hit cache is left alone); otherwise as [`Self::find_or_insert`].
    pub(crate) fn find_hinted(&mut self, ssrc: u32, hint: usize) -> Result<usize, SrtpError> {
        if self.ssrcs.get(hint) == Some(&ssrc) {
            return Ok(hint);
        }
        self.find_or_insert(ssrc)
    }

    pub(crate) fn get(&self, i: usize) -> &StreamState {
        &self.states[i]
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> &mut StreamState {
        &mut self.states[i]
    }

    pub(crate) fn remove(&mut self, ssrc: u32) -> bool {
        let Ok(i) = self.ssrcs.binary_search(&ssrc) else {
            return false;
        };
        self.ssrcs.remove(i);
        self.states.remove(i);
        self.last = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_hint_is_checked_and_a_good_one_skips_the_search() {
        let mut s = Streams::new();
        let a = s.find_hinted(50, 7).unwrap();
        let b = s.find_hinted(10, a).unwrap();
        // 10 sorts before 50: inserting it moved 50, so `a` is stale now.
        assert_eq!((a, b), (0, 0));
        assert_eq!(s.find_hinted(50, a).unwrap(), 1);
        assert_eq!(s.find_hinted(50, 1).unwrap(), 1);
        assert_eq!(s.find_hinted(10, 1).unwrap(), 0);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn finds_streams_after_out_of_order_inserts() {
        let mut s = Streams::new();
        for ssrc in [50u32, 10, 30, 20, 40] {
            s.find_or_insert(ssrc).unwrap();
        }
        for ssrc in [10u32, 20, 30, 40, 50] {
            let i = s.find(ssrc).unwrap();
            s.get_mut(i).rtcp_tx_next = ssrc;
        }
        for ssrc in [50u32, 10, 30] {
            let i = s.find(ssrc).unwrap();
            assert_eq!(s.get(i).rtcp_tx_next, ssrc);
        }
        assert_eq!(s.find(35), None);
        assert!(s.remove(30));
        assert!(!s.remove(30));
        assert_eq!(s.find(30), None);
        let i = s.find(40).unwrap();
        assert_eq!(s.get(i).rtcp_tx_next, 40);
    }

    #[test]
    fn refuses_new_streams_beyond_the_limit() {
        let mut s = Streams::new();
        s.set_max(2);
        s.find_or_insert(1).unwrap();
        s.find_or_insert(2).unwrap();
        assert_eq!(
            s.find_or_insert(3),
            Err(SrtpError::TooManyStreams { limit: 2 })
        );
        assert!(matches!(s.find_or_room(2), Ok(Some(_))));
        assert!(s.find_or_room(3).is_err());
        assert_eq!(s.position(1), Some(0));
        assert_eq!(s.len(), 2);
    }
}

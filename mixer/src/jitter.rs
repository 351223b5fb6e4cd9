//! A participant's jitter buffer: packets kept in fixed slots indexed by RTP sequence
//! number, released one per mixer tick in sequence order once `prebuffer` packets have
//! gathered. Nothing is allocated after construction.

/// Slots per participant: the largest prebuffer Janus allows (50) plus room for drift.
pub const SLOTS: usize = 64;
/// Largest payload kept (a full Ethernet datagram's worth; Opus caps a frame at 1275 bytes).
pub const MAX_PAYLOAD: usize = 1500;
/// Largest prebuffer honoured (Janus's cap).
pub const MAX_PREBUFFER: usize = 50;
/// Packets allowed beyond the prebuffer before the oldest are dropped: a sender whose clock
/// runs fast fills the buffer slowly, and this bounds the delay it can add.
const DRIFT_SLACK: usize = 10;

#[derive(Clone, Copy, Default)]
struct Slot {
    seq: u16,
    len: u16,
    used: bool,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Kept for its turn.
    Queued,
    /// Its turn has passed.
    Late,
    /// Already queued.
    Duplicate,
    /// Larger than [`MAX_PAYLOAD`].
    TooBig,
}

/// What [`JitterBuffer::pop`] gives for one tick.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped<'a> {
    /// Still prebuffering (or idle): nothing to mix.
    Waiting,
    /// The buffer ran dry while playing: it prebuffers again.
    Underrun,
    /// The next packet in sequence.
    Packet(&'a [u8]),
    /// The next packet is missing but later ones are here (conceal it); the packet after it,
    /// when queued, may carry its forward error correction.
    Lost {
        /// The following packet, for in-band FEC.
        next: Option<&'a [u8]>,
    },
}

/// A fixed-slot, sequence-ordered packet queue with a prebuffer.
pub struct JitterBuffer {
    slots: Box<[Slot]>,
    data: Box<[u8]>,
    /// The sequence number to play next.
    next: Option<u16>,
    /// The newest sequence number queued.
    newest: u16,
    queued: usize,
    playing: bool,
    prebuffer: usize,
    /// Packets dropped to keep the buffer bounded since the last [`Self::take_overflow`].
    overflow: u64,
}

impl JitterBuffer {
    /// An empty buffer that starts playing once `prebuffer` packets are queued.
    pub fn new(prebuffer: usize) -> Self {
        Self {
            slots: vec![Slot::default(); SLOTS].into_boxed_slice(),
            data: vec![0; SLOTS * MAX_PAYLOAD].into_boxed_slice(),
            next: None,
            newest: 0,
            queued: 0,
            playing: false,
            prebuffer: prebuffer.clamp(1, MAX_PREBUFFER),
            overflow: 0,
        }
    }

    /// Changes the prebuffer (applies from the next time the buffer prebuffers).
    pub fn set_prebuffer(&mut self, prebuffer: usize) {
        self.prebuffer = prebuffer.clamp(1, MAX_PREBUFFER);
    }

    /// Empties the buffer; it prebuffers again.
    pub fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.next = None;
        self.queued = 0;
        self.playing = false;
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.queued
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Whether the prebuffer filled and packets are being released.
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// Packets dropped to bound the buffer since the previous call.
    pub fn take_overflow(&mut self) -> u64 {
        std::mem::take(&mut self.overflow)
    }

    /// Queues packet `seq`.
    pub fn push(&mut self, seq: u16, payload: &[u8]) -> Pushed {
        if payload.len() > MAX_PAYLOAD {
            return Pushed::TooBig;
        }
        let next = *self.next.get_or_insert(seq);
        if self.queued == 0 && !self.playing {
            // Nothing queued and nothing promised: start wherever the sender is.
            self.next = Some(seq);
            self.newest = seq;
        }
        let ahead = seq.wrapping_sub(self.next.unwrap_or(next)) as i16;
        if ahead < 0 {
            let span = self.newest.wrapping_sub(seq) as usize;
            if self.playing || span >= SLOTS {
                return Pushed::Late;
            }
            // Reordered before playback started: play from the earlier packet.
            self.next = Some(seq);
        } else if ahead as usize >= SLOTS {
            // Far ahead (a restarted sender, or a long outage): start over from it.
            self.advance_to(seq);
        }
        let slot_index = usize::from(seq) % SLOTS;
        let Some(slot) = self.slots.get_mut(slot_index) else {
            return Pushed::TooBig;
        };
        if slot.used && slot.seq == seq {
            return Pushed::Duplicate;
        }
        if slot.used {
            // A stale packet from a previous lap of the window.
            self.queued -= 1;
            self.overflow += 1;
        }
        let at = slot_index * MAX_PAYLOAD;
        if let Some(dst) = self.data.get_mut(at..at + payload.len()) {
            dst.copy_from_slice(payload);
        }
        *slot = Slot {
            seq,
            len: payload.len() as u16,
            used: true,
        };
        self.queued += 1;
        if (seq.wrapping_sub(self.newest) as i16) > 0 {
            self.newest = seq;
        }
        if !self.playing && self.queued >= self.prebuffer {
            self.playing = true;
        }
        if self.playing {
            // Bound the delay a fast sender can build up.
            let limit = self.prebuffer + DRIFT_SLACK;
            if self.span() > limit {
                self.advance_to(self.newest.wrapping_sub(limit as u16 - 1));
            }
        }
        Pushed::Queued
    }

    /// Sequence numbers from the next to play to the newest, inclusive.
    fn span(&self) -> usize {
        match self.next {
            Some(next) if self.queued > 0 => usize::from(self.newest.wrapping_sub(next)) + 1,
            _ => 0,
        }
    }

    /// Drops everything before `seq` and makes it the next to play.
    fn advance_to(&mut self, seq: u16) {
        let Some(mut next) = self.next else {
            self.next = Some(seq);
            return;
        };
        let mut steps = 0;
        while next != seq && steps < SLOTS && self.queued > 0 {
            if let Some(slot) = self.slots.get_mut(usize::from(next) % SLOTS)
                && slot.used
                && slot.seq == next
            {
                slot.used = false;
                self.queued -= 1;
                self.overflow += 1;
            }
            next = next.wrapping_add(1);
            steps += 1;
        }
        self.next = Some(seq);
    }

    /// The packet for this tick.
    pub fn pop(&mut self) -> Popped<'_> {
        if !self.playing {
            return Popped::Waiting;
        }
        let Some(next) = self.next else {
            return Popped::Waiting;
        };
        if self.queued == 0 {
            self.playing = false;
            return Popped::Underrun;
        }
        self.next = Some(next.wrapping_add(1));
        let index = usize::from(next) % SLOTS;
        let hit = self
            .slots
            .get(index)
            .is_some_and(|s| s.used && s.seq == next);
        if hit {
            let len = self.slots.get(index).map_or(0, |s| usize::from(s.len));
            if let Some(slot) = self.slots.get_mut(index) {
                slot.used = false;
            }
            self.queued -= 1;
            let at = index * MAX_PAYLOAD;
            return Popped::Packet(self.data.get(at..at + len).unwrap_or(&[]));
        }
        let following = next.wrapping_add(1);
        let index = usize::from(following) % SLOTS;
        let next = self
            .slots
            .get(index)
            .filter(|s| s.used && s.seq == following)
            .map(|s| usize::from(s.len))
            .and_then(|len| {
                self.data
                    .get(index * MAX_PAYLOAD..index * MAX_PAYLOAD + len)
            });
        Popped::Lost { next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_plays_until_the_prebuffer_is_full() {
        let mut jb = JitterBuffer::new(3);
        assert_eq!(jb.push(100, b"a"), Pushed::Queued);
        assert_eq!(jb.pop(), Popped::Waiting);
        jb.push(101, b"b");
        assert_eq!(jb.pop(), Popped::Waiting);
        jb.push(102, b"c");
        assert!(jb.is_playing());
        assert_eq!(jb.pop(), Popped::Packet(b"a"));
        assert_eq!(jb.pop(), Popped::Packet(b"b"));
        assert_eq!(jb.pop(), Popped::Packet(b"c"));
        assert_eq!(jb.pop(), Popped::Underrun, "dry: prebuffer again");
        assert_eq!(jb.pop(), Popped::Waiting);
    }

    #[test]
    fn packets_play_in_sequence_order_and_gaps_are_reported_lost() {
        let mut jb = JitterBuffer::new(2);
        jb.push(11, b"second");
        jb.push(10, b"first");
        assert_eq!(jb.pop(), Popped::Packet(b"first"), "reordered at the start");
        jb.push(13, b"fourth");
        jb.push(14, b"fifth");
        assert_eq!(jb.pop(), Popped::Packet(b"second"));
        assert_eq!(
            jb.pop(),
            Popped::Lost {
                next: Some(b"fourth")
            }
        );
        assert_eq!(jb.pop(), Popped::Packet(b"fourth"));
        assert_eq!(jb.push(12, b"third"), Pushed::Late);
        assert_eq!(jb.push(14, b"again"), Pushed::Duplicate);
        assert_eq!(jb.pop(), Popped::Packet(b"fifth"));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut jb = JitterBuffer::new(1);
        jb.push(65_535, b"x");
        jb.push(0, b"y");
        assert_eq!(jb.pop(), Popped::Packet(b"x"));
        assert_eq!(jb.pop(), Popped::Packet(b"y"));
    }

    #[test]
    fn a_fast_sender_cannot_grow_the_delay_without_bound() {
        let mut jb = JitterBuffer::new(4);
        for seq in 0..100u16 {
            jb.push(seq, &[seq as u8]);
        }
        assert!(jb.len() <= 4 + DRIFT_SLACK, "{}", jb.len());
        assert_eq!(jb.take_overflow(), 100 - (4 + DRIFT_SLACK) as u64);
        assert_eq!(jb.pop(), Popped::Packet(&[86u8][..]), "the newest are kept");
    }

    #[test]
    fn a_jump_far_ahead_restarts_the_window_and_oversized_packets_are_refused() {
        let mut jb = JitterBuffer::new(1);
        jb.push(0, b"old");
        assert_eq!(jb.push(1000, b"new"), Pushed::Queued);
        assert_eq!(jb.take_overflow(), 1);
        assert_eq!(jb.pop(), Popped::Packet(b"new"));
        assert_eq!(jb.push(5, &[0; MAX_PAYLOAD + 1]), Pushed::TooBig);
        jb.clear();
        assert!(jb.is_empty());
        assert_eq!(jb.pop(), Popped::Waiting);
    }
}

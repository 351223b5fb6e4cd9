//! Transport-wide congestion control feedback to publishers
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): the arrival time of every
//! transport-wide sequence number a publisher's RTP carries is kept in a fixed ring, and
//! the shard's timer turns what arrived since the last feedback into TWCC packets. Without
//! this feedback a browser's send-side estimate never rises and a simulcast publisher
//! sends only its lowest layer.

use portunus_rtp::SeqExtender;
use portunus_rtp::rtcp::{TwccHeader, write_twcc};

use super::State;
use crate::counters::DropReason;
use crate::io::Sockets;

/// Sequence numbers the ring remembers: at one feedback every 50 ms, 20 000 packets/s.
pub(crate) const RING: usize = 1024;
/// Largest TWCC packet we write (before SRTCP's index and tag), well inside an MTU.
const BUDGET: usize = 1000;
/// Receive deltas are counted in 250 µs ticks; the reference time in 64 ms (256 ticks).
pub(crate) const TICK_HZ: u32 = 4000;
const TICKS_PER_REF: u64 = 256;

/// Arrivals of one PeerConnection's transport-wide sequence numbers.
#[derive(Debug)]
pub(crate) struct TwccRecorder {
    ext: SeqExtender,
    /// Arrival in ticks since the shard started, plus one (0: nothing arrived), of the
    /// extended sequence number `n` at `n % RING`, for `next..next + RING`.
    ring: Box<[u64; RING]>,
    /// The first extended sequence number not reported yet.
    next: Option<u64>,
    fb_count: u8,
}

impl TwccRecorder {
    pub(crate) fn new() -> Self {
        Self {
            ext: SeqExtender::default(),
            ring: Box::new([0; RING]),
            next: None,
            fb_count: 0,
        }
    }

    /// Records that `seq` arrived `ticks` (250 µs) after the shard started. A number
    /// already reported (as missing) is ignored; one that leaves the ring's window pushes
    /// the oldest unreported ones out unreported.
    pub(crate) fn on_packet(&mut self, seq: u16, ticks: u64) {
        let e = self.ext.extend(seq).0;
        let next = *self.next.get_or_insert(e);
        if e < next {
            return;
        }
        let window = RING as u64;
        if e >= next + window {
            let new_next = e + 1 - window;
            // Forget what the window no longer holds: at most the whole ring.
            for n in next..new_next.min(next + window) {
                self.ring[(n % window) as usize] = 0;
            }
            self.next = Some(new_next);
        }
        // A recovered retransmission carries the number again: the first arrival counts.
        let slot = &mut self.ring[(e % window) as usize];
        if *slot == 0 {
            *slot = ticks + 1;
        }
    }

    /// Writes the next feedback packet into `out` (from `sender` about `media`'s
    /// transport), consuming what it reports; `None` when nothing is left to report.
    /// `statuses` is scratch of at least [`RING`] entries. Call again until `None`: a long
    /// span is split so each packet stays within `BUDGET` bytes and each receive
    /// delta fits in 16 bits.
    pub(crate) fn poll_feedback(
        &mut self,
        out: &mut [u8],
        sender: u32,
        media: u32,
        statuses: &mut [Option<i16>],
    ) -> Option<usize> {
        let window = RING as u64;
        let highest = self.ext.highest()?.0;
        let next = self.next?;
        // The reference time comes from the first one received; losses before it are
        // reported with it.
        let first = (next..=highest.min(next + window - 1))
            .find(|n| self.ring[(n % window) as usize] != 0)?;
        let first_ticks = self.ring[(first % window) as usize] - 1;
        let reference = first_ticks / TICKS_PER_REF;
        let mut prev = reference * TICKS_PER_REF;
        // Upper bound of the encoded length: the fixed part, padding, a chunk per 7
        // statuses (every chunk but the last covers at least 7) and the deltas.
        let (mut n, mut delta_bytes) = (0usize, 0usize);
        let base = next;
        let mut seq = base;
        while seq <= highest && n < statuses.len() && seq < base + window {
            let slot = (seq % window) as usize;
            let status = match self.ring[slot] {
                0 => None,
                t => {
                    let d = (t - 1) as i64 - prev as i64;
                    let Ok(d) = i16::try_from(d) else {
                        break; // too far from the previous: the next packet starts here
                    };
                    Some(d)
                }
            };
            let add = match status {
                None => 0,
                Some(d) if (0..=255).contains(&d) => 1,
                Some(_) => 2,
            };
            if 20 + 3 + 2 * (n + 1).div_ceil(7) + delta_bytes + add > BUDGET {
                break;
            }
            if let Some(d) = status {
                prev = (prev as i64 + i64::from(d)) as u64;
            }
            delta_bytes += add;
            statuses[n] = status;
            self.ring[slot] = 0;
            n += 1;
            seq += 1;
        }
        self.next = Some(seq);
        let header = TwccHeader {
            base_seq: base as u16,
            reference_time: (reference & 0x00ff_ffff) as u32,
            fb_pkt_count: self.fb_count,
        };
        let len = write_twcc(
            out,
            portunus_rtp::Ssrc(sender),
            portunus_rtp::Ssrc(media),
            &header,
            &statuses[..n],
        )
        .ok()?;
        self.fb_count = self.fb_count.wrapping_add(1);
        Some(len)
    }
}

impl State {
    /// TWCC feedback for every PeerConnection that negotiated it.
    pub(super) fn twcc_tick(&mut self) {
        let statuses = &mut self.twcc_scratch[..];
        for (_, s) in &mut self.sessions {
            let Some(rec) = s.twcc.as_mut() else {
                continue;
            };
            let (Some(path), true) = (s.peer.path(), s.peer.srtp_tx().is_some()) else {
                continue;
            };
            let Some(sock) = Sockets::index_for(&self.addrs, &path.remote) else {
                continue;
            };
            let media = s.inbound.first().map_or(0, |i| i.ssrc);
            while let Some(buf) = self.tx.slot() {
                let Some(len) = rec.poll_feedback(buf, s.rtcp_ssrc, media, statuses) else {
                    break;
                };
                match s.peer.protect_rtcp(buf, len) {
                    Ok(n) => {
                        self.tx.push(sock, path.remote, n);
                        self.counters.twcc_sent += 1;
                    }
                    Err(_) => self.counters.drop(DropReason::ProtectFailed),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use portunus_rtp::rtcp::{RtcpPacket, twcc_encoded_len};

    use super::*;

    fn feedback(rec: &mut TwccRecorder) -> Option<Vec<(u16, Option<i64>)>> {
        let mut out = [0u8; 1500];
        let mut scratch = [None; RING];
        let n = rec.poll_feedback(&mut out, 1, 2, &mut scratch)?;
        assert!(n <= BUDGET, "{n}");
        let Ok(RtcpPacket::Twcc(t)) = RtcpPacket::parse(&out[..n]) else {
            panic!("not TWCC");
        };
        let mut at = i64::from(t.header().reference_time) * 256;
        Some(
            t.packets()
                .map(|(seq, d)| {
                    (
                        seq,
                        d.map(|d| {
                            at += i64::from(d);
                            at
                        }),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn feedback_reports_arrivals_and_losses_in_sequence_order() {
        let mut rec = TwccRecorder::new();
        assert!(feedback(&mut rec).is_none(), "nothing arrived yet");
        rec.on_packet(10, 1000);
        rec.on_packet(12, 1004);
        rec.on_packet(11, 1010); // reordered
        rec.on_packet(14, 1020);
        let fb = feedback(&mut rec).expect("feedback");
        assert_eq!(
            fb,
            vec![
                (10, Some(1000)),
                (11, Some(1010)),
                (12, Some(1004)),
                (13, None),
                (14, Some(1020)),
            ]
        );
        assert!(feedback(&mut rec).is_none(), "everything was reported");
        rec.on_packet(13, 1030); // too late: already reported lost
        assert!(feedback(&mut rec).is_none());
        rec.on_packet(15, 1040);
        assert_eq!(feedback(&mut rec).expect("next"), vec![(15, Some(1040))]);
    }

    #[test]
    fn sequence_numbers_wrap_without_a_gap() {
        let mut rec = TwccRecorder::new();
        rec.on_packet(65_534, 100);
        rec.on_packet(65_535, 101);
        rec.on_packet(0, 102);
        rec.on_packet(1, 103);
        let fb = feedback(&mut rec).expect("feedback");
        let seqs: Vec<u16> = fb.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![65_534, 65_535, 0, 1]);
        assert!(fb.iter().all(|(_, d)| d.is_some()));
    }

    #[test]
    fn a_long_span_is_split_into_packets_that_fit() {
        let mut rec = TwccRecorder::new();
        // Every other packet lost, large deltas: many bytes per status.
        for i in 0..1000u16 {
            if i % 2 == 0 {
                rec.on_packet(i, u64::from(i) * 300);
            }
        }
        let mut seen = Vec::new();
        let mut packets = 0;
        while let Some(fb) = feedback(&mut rec) {
            packets += 1;
            seen.extend(fb);
        }
        assert!(packets >= 2, "split into {packets}");
        assert_eq!(seen.len(), 999, "every number once, in order");
        for (i, (seq, at)) in seen.iter().enumerate() {
            assert_eq!(usize::from(*seq), i);
            assert_eq!(at.is_some(), i % 2 == 0);
            if let Some(at) = at {
                assert_eq!(*at, i as i64 * 300, "seq {seq}");
            }
        }
    }

    #[test]
    fn a_jump_beyond_the_ring_forgets_the_oldest() {
        let mut rec = TwccRecorder::new();
        rec.on_packet(0, 10);
        rec.on_packet(5000, 20);
        // The window ends at 5000: the ring's worth of numbers before it are lost, 0 is
        // forgotten.
        let fb = feedback(&mut rec).expect("feedback");
        assert_eq!(fb.first(), Some(&(5000 - RING as u16 + 1, None)));
        assert_eq!(fb.last(), Some(&(5000, Some(20))));
        assert_eq!(fb.len(), RING);
        assert!(fb[..RING - 1].iter().all(|(_, d)| d.is_none()));
        assert!(feedback(&mut rec).is_none());
    }

    #[test]
    fn a_long_pause_starts_a_new_reference_time() {
        let mut rec = TwccRecorder::new();
        rec.on_packet(1, 0);
        // 20 s later: more than a 16-bit delta of 250 µs ticks.
        rec.on_packet(2, 80_000);
        let a = feedback(&mut rec).expect("first");
        let b = feedback(&mut rec).expect("second");
        assert_eq!(a, vec![(1, Some(0))]);
        assert_eq!(b, vec![(2, Some(80_000))]);
    }

    #[test]
    fn the_length_bound_holds_for_mixed_statuses() {
        let statuses: Vec<Option<i16>> = (0..400)
            .map(|i| match i % 5 {
                0 => None,
                1 => Some(-3),
                _ => Some(i as i16 % 200),
            })
            .collect();
        let deltas: usize = statuses
            .iter()
            .map(|d| match d {
                None => 0,
                Some(d) if (0..=255).contains(d) => 1,
                Some(_) => 2,
            })
            .sum();
        assert!(twcc_encoded_len(&statuses) <= 20 + 3 + 2 * statuses.len().div_ceil(7) + deltas);
    }
}

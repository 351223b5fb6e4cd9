//! A sans-IO link emulator in virtual time.
//!
//! [`Link`] models one direction of a network path. Callers hand it datagrams with
//! [`Link::send`] at a virtual `now`, and take delivered datagrams back with
//! [`Link::poll_deliver`]; [`Link::poll_timeout`] says when the next one is due. It reads no
//! clock and draws all randomness from a seeded generator, so a test run is reproducible.
//!
//! Impairments, each optional (see [`LinkConfig`]):
//! - latency plus uniform jitter (jitter alone reorders packets, as on a real path),
//! - independent loss, or bursty loss with a two-state Gilbert–Elliott model,
//! - duplication,
//! - explicit reordering (a packet held back by an extra delay),
//! - a bottleneck rate with a bounded queue (tail drop when full).
//!
//! Out of scope: modelling routers, MTU, or anything beyond one direction; two `Link`s make a
//! bidirectional path.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use portunus_netem::{Link, LinkConfig};
//!
//! let start = Instant::now(); // tests build one instant, then only add to it
//! let mut link = Link::new(LinkConfig { latency: Duration::from_millis(20), ..LinkConfig::default() }, 7);
//! link.send(start, b"hello".to_vec());
//! assert!(link.poll_deliver(start).is_none());
//! let due = link.poll_timeout().expect("one datagram in flight");
//! assert_eq!(due, start + Duration::from_millis(20));
//! assert_eq!(link.poll_deliver(due).as_deref(), Some(&b"hello"[..]));
//! ```
#![deny(missing_docs)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// How a [`Link`] treats the datagrams that cross it. All probabilities are in `0.0..=1.0`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per datagram.
    pub jitter: Duration,
    /// Loss model.
    pub loss: Loss,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_delay` on top of its other delays.
    pub reorder: f64,
    /// The extra delay of a reordered datagram.
    pub reorder_delay: Duration,
    /// Bottleneck rate in bits per second; `None` for an unlimited link.
    pub rate_bps: Option<u64>,
    /// Bytes the bottleneck may queue before it drops at the tail.
    pub queue_bytes: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: Loss::None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            rate_bps: None,
            queue_bytes: 256 * 1024,
        }
    }
}

/// Which datagrams a [`Link`] loses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Nothing is lost.
    None,
    /// Each datagram is lost independently with this probability.
    Random(f64),
    /// Gilbert–Elliott: a good and a bad state with their own loss probabilities, switching
    /// with the given per-datagram transition probabilities. Models bursts.
    Bursty {
        /// Probability of moving from the good to the bad state.
        good_to_bad: f64,
        /// Probability of moving from the bad to the good state.
        bad_to_good: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
}

/// What happened to the datagrams handed to a [`Link`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams passed to [`Link::send`].
    pub sent: u64,
    /// Datagrams dropped by the loss model.
    pub lost: u64,
    /// Datagrams dropped because the bottleneck queue was full.
    pub queue_dropped: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Datagrams given an extra reordering delay.
    pub reordered: u64,
    /// Datagrams returned by [`Link::poll_deliver`].
    pub delivered: u64,
}

/// One direction of an emulated network path carrying items of type `T` (usually `Vec<u8>`).
#[derive(Debug)]
pub struct Link<T> {
    config: LinkConfig,
    rng: SplitMix64,
    in_bad_state: bool,
    /// In-flight datagrams by delivery instant; the counter keeps equal instants in send order.
    in_flight: BinaryHeap<Reverse<(Instant, u64, Slot)>>,
    payloads: Vec<Option<T>>,
    free_slots: Vec<usize>,
    next_order: u64,
    /// When the bottleneck finishes serialising what it already holds.
    bottleneck_free_at: Option<Instant>,
    stats: LinkStats,
}

/// Index of a payload in `Link::payloads`; wrapped so the heap never compares payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot(usize);

impl<T: Clone> Link<T> {
    /// A link with `config`, drawing its randomness from `seed`.
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        Self {
            config,
            rng: SplitMix64(seed),
            in_bad_state: false,
            in_flight: BinaryHeap::new(),
            payloads: Vec::new(),
            free_slots: Vec::new(),
            next_order: 0,
            bottleneck_free_at: None,
            stats: LinkStats::default(),
        }
    }

    /// Hand a datagram of `size` bytes to the link at `now`; it may be lost, delayed,
    /// duplicated or reordered according to the configuration.
    pub fn send_sized(&mut self, now: Instant, item: T, size: usize) {
        self.stats.sent += 1;
        if self.draw_loss() {
            self.stats.lost += 1;
            return;
        }
        let Some(leaves_bottleneck) = self.pass_bottleneck(now, size) else {
            self.stats.queue_dropped += 1;
            return;
        };
        let copies = if self.rng.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 1..copies {
            let at = self.delivery_instant(leaves_bottleneck);
            self.enqueue(at, item.clone());
        }
        let at = self.delivery_instant(leaves_bottleneck);
        self.enqueue(at, item);
    }

    /// The next datagram due at or before `now`, in delivery order.
    pub fn poll_deliver(&mut self, now: Instant) -> Option<T> {
        let Reverse((at, _, slot)) = *self.in_flight.peek()?;
        if at > now {
            return None;
        }
        self.in_flight.pop();
        self.stats.delivered += 1;
        self.free_slots.push(slot.0);
        self.payloads[slot.0].take()
    }

    /// When the next in-flight datagram is due; `None` when the link is empty.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Number of datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Counters since the link was created.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Replace the configuration; datagrams already in flight keep their delivery instants.
    pub fn set_config(&mut self, config: LinkConfig) {
        self.config = config;
    }

    fn draw_loss(&mut self) -> bool {
        match self.config.loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.chance(p),
            Loss::Bursty {
                good_to_bad,
                bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let switch = if self.in_bad_state {
                    bad_to_good
                } else {
                    good_to_bad
                };
                if self.rng.chance(switch) {
                    self.in_bad_state = !self.in_bad_state;
                }
                let p = if self.in_bad_state {
                    loss_bad
                } else {
                    loss_good
                };
                self.rng.chance(p)
            }
        }
    }

    /// Serialise through the bottleneck: returns when the datagram leaves it, or `None` when
    /// the queue in front of it is full.
    fn pass_bottleneck(&mut self, now: Instant, size: usize) -> Option<Instant> {
        let Some(rate) = self.config.rate_bps.filter(|r| *r > 0) else {
            return Some(now);
        };
        let busy_until = self.bottleneck_free_at.filter(|t| *t > now).unwrap_or(now);
        let backlog = busy_until - now;
        let backlog_bytes = (backlog.as_secs_f64() * rate as f64 / 8.0) as usize;
        if backlog_bytes + size > self.config.queue_bytes {
            return None;
        }
        let serialisation = Duration::from_secs_f64(size as f64 * 8.0 / rate as f64);
        let leaves = busy_until + serialisation;
        self.bottleneck_free_at = Some(leaves);
        Some(leaves)
    }

    fn delivery_instant(&mut self, leaves_bottleneck: Instant) -> Instant {
        let mut at = leaves_bottleneck + self.config.latency;
        if !self.config.jitter.is_zero() {
            at += self.config.jitter.mul_f64(self.rng.unit());
        }
        if self.rng.chance(self.config.reorder) {
            self.stats.reordered += 1;
            at += self.config.reorder_delay;
        }
        at
    }

    fn enqueue(&mut self, at: Instant, item: T) {
        let slot = match self.free_slots.pop() {
            Some(free) => {
                self.payloads[free] = Some(item);
                free
            }
            None => {
                self.payloads.push(Some(item));
                self.payloads.len() - 1
            }
        };
        self.in_flight
            .push(Reverse((at, self.next_order, Slot(slot))));
        self.next_order += 1;
    }
}

impl Link<Vec<u8>> {
    /// Hand a datagram to the link at `now` (see [`Link::send_sized`]).
    pub fn send(&mut self, now: Instant, datagram: Vec<u8>) {
        let size = datagram.len();
        self.send_sized(now, datagram, size);
    }
}

/// SplitMix64: a tiny, well-distributed generator; plenty for test impairments and
/// dependency-free so that a seed means the same run on every machine and toolchain.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests take one base instant, then advance it by hand"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(link: &mut Link<Vec<u8>>, until: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(d) = link.poll_deliver(until) {
            out.push(d);
        }
        out
    }

    #[test]
    fn delivers_in_order_after_latency() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            latency: Duration::from_millis(5),
            ..LinkConfig::default()
        };
        let mut link = Link::new(cfg, 1);
        for i in 0..10u8 {
            link.send(t0 + Duration::from_millis(u64::from(i)), vec![i]);
        }
        assert!(drain(&mut link, t0 + Duration::from_millis(4)).is_empty());
        let got = drain(&mut link, t0 + Duration::from_millis(100));
        assert_eq!(got, (0..10u8).map(|i| vec![i]).collect::<Vec<_>>());
        assert_eq!(link.stats().delivered, 10);
    }

    #[test]
    fn random_loss_rate_is_close_to_configured() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            loss: Loss::Random(0.2),
            ..LinkConfig::default()
        };
        let mut link = Link::new(cfg, 42);
        for i in 0..10_000u32 {
            link.send(t0, i.to_be_bytes().to_vec());
        }
        let lost = link.stats().lost;
        assert!((1_800..=2_200).contains(&lost), "lost {lost} of 10000");
        assert_eq!(drain(&mut link, t0).len() as u64, 10_000 - lost);
    }

    #[test]
    fn bursty_loss_clusters_losses() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            loss: Loss::Bursty {
                good_to_bad: 0.01,
                bad_to_good: 0.2,
                loss_good: 0.0,
                loss_bad: 1.0,
            },
            ..LinkConfig::default()
        };
        let mut link = Link::new(cfg, 9);
        let mut delivered = vec![false; 20_000];
        for i in 0..20_000u32 {
            link.send(t0, i.to_be_bytes().to_vec());
        }
        for d in drain(&mut link, t0) {
            let i = u32::from_be_bytes(d.try_into().expect("4 bytes")) as usize;
            delivered[i] = true;
        }
        // Losses come in runs: the mean run of consecutive losses must exceed 1 clearly
        // (a bad state lasts five datagrams on average).
        let (mut runs, mut lost) = (0u32, 0u32);
        for w in delivered.windows(2) {
            if !w[1] {
                lost += 1;
                if w[0] {
                    runs += 1;
                }
            }
        }
        assert!(runs > 0);
        let mean_run = f64::from(lost) / f64::from(runs);
        assert!(mean_run > 3.0, "mean loss run {mean_run}");
    }

    #[test]
    fn duplication_and_reorder_are_counted_and_delivered() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            duplicate: 0.1,
            reorder: 0.1,
            reorder_delay: Duration::from_millis(3),
            latency: Duration::from_millis(1),
            ..LinkConfig::default()
        };
        let mut link = Link::new(cfg, 5);
        for i in 0..1_000u32 {
            link.send(
                t0 + Duration::from_micros(u64::from(i) * 100),
                i.to_be_bytes().to_vec(),
            );
        }
        let got = drain(&mut link, t0 + Duration::from_secs(1));
        let stats = link.stats();
        assert!(stats.duplicated > 50 && stats.reordered > 50, "{stats:?}");
        assert_eq!(got.len() as u64, 1_000 + stats.duplicated);
        let seqs: Vec<u32> = got
            .iter()
            .map(|d| u32::from_be_bytes(d.as_slice().try_into().expect("4 bytes")))
            .collect();
        assert!(
            seqs.windows(2).any(|w| w[1] < w[0]),
            "nothing was reordered"
        );
    }

    #[test]
    fn bottleneck_paces_and_tail_drops() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            rate_bps: Some(8_000_000), // 1 byte per microsecond
            queue_bytes: 10_000,
            ..LinkConfig::default()
        };
        let mut link = Link::new(cfg, 3);
        for _ in 0..20 {
            link.send(t0, vec![0; 1_000]);
        }
        assert_eq!(link.stats().queue_dropped, 10);
        assert_eq!(link.poll_timeout(), Some(t0 + Duration::from_micros(1_000)));
        assert_eq!(
            drain(&mut link, t0 + Duration::from_micros(10_000)).len(),
            10
        );
    }

    proptest! {
        #[test]
        fn never_delivers_early_and_conserves_datagrams(
            seed: u64,
            latency_ms in 0u64..50,
            jitter_ms in 0u64..50,
            loss in 0.0f64..0.5,
            dup in 0.0f64..0.5,
            count in 1usize..200,
        ) {
            let t0 = Instant::now();
            let cfg = LinkConfig {
                latency: Duration::from_millis(latency_ms),
                jitter: Duration::from_millis(jitter_ms),
                loss: Loss::Random(loss),
                duplicate: dup,
                reorder: 0.1,
                ..LinkConfig::default()
            };
            let mut link = Link::new(cfg, seed);
            for i in 0..count {
                link.send(t0, vec![(i % 256) as u8]);
            }
            let mut delivered = 0u64;
            while let Some(at) = link.poll_timeout() {
                prop_assert!(at >= t0 + Duration::from_millis(latency_ms));
                while link.poll_deliver(at).is_some() {
                    delivered += 1;
                }
            }
            let s = link.stats();
            prop_assert_eq!(delivered, s.sent - s.lost - s.queue_dropped + s.duplicated);
        }
    }
}

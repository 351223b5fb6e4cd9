//! Shard ↔ shard: one SPSC ring (rtrb) per ordered pair of shards, carrying refcounted
//! decrypted packets and keyframe requests.
//!
//! A publisher's shard copies a decrypted packet once into a buffer of its own pool and
//! sends an `Arc` of it to every other shard with subscribers: no copy per shard, no
//! allocation per packet. The pool keeps one reference to each buffer forever; a buffer is
//! free again when every other shard dropped its reference (`Arc::get_mut` succeeds), so
//! buffers return to their owner without a return queue.

use std::sync::Arc;

use rtrb::{Consumer, Producer, RingBuffer};

use crate::io::{EventFd, MAX_DATAGRAM};
use crate::msg::StreamKey;

/// A decrypted RTP packet shared between shards.
#[derive(Debug)]
pub(crate) struct PacketBuf {
    pub(crate) data: [u8; MAX_DATAGRAM],
}

/// What travels between shards.
#[derive(Debug)]
pub(crate) enum XMsg {
    /// A publisher's decrypted RTP packet, `len` bytes of `buf`.
    Rtp {
        source: StreamKey,
        /// The simulcast substream (0 for a plain stream).
        layer: u8,
        buf: Arc<PacketBuf>,
        len: u16,
        /// From an RTP input's kept keyframe: only for subscriptions that are starting.
        replay: bool,
    },
    /// A subscriber asked for a keyframe of substream `layer` of `source` (rate-limited at
    /// the publisher).
    Keyframe { source: StreamKey, layer: u8 },
    /// A subscriber's REMB estimate for `source`, in bit/s.
    Estimate { source: StreamKey, bitrate: u64 },
    /// A data input's message, `len` bytes of `buf`; a `replay` (its kept latest message)
    /// is only for the viewers that asked with [`XMsg::DataReplay`].
    Data {
        source: StreamKey,
        buf: Arc<PacketBuf>,
        len: u16,
        replay: bool,
    },
    /// A viewer shard asks data input `source`'s shard for its kept latest message.
    DataReplay { source: StreamKey },
}

/// The shard's refcounted packet buffers.
#[derive(Debug)]
pub(crate) struct Pool {
    bufs: Vec<Arc<PacketBuf>>,
    cursor: usize,
}

/// How many buffers one allocation looks at before calling the pool exhausted.
const SCAN: usize = 64;

impl Pool {
    /// A pool of `n` buffers, allocated now.
    pub(crate) fn new(n: usize) -> Self {
        let bufs = (0..n.max(1))
            .map(|_| {
                Arc::new(PacketBuf {
                    data: [0; MAX_DATAGRAM],
                })
            })
            .collect();
        Self { bufs, cursor: 0 }
    }

    /// A buffer holding a copy of `data`, shared from now on; `None` when every buffer
    /// looked at is still referenced by another shard.
    pub(crate) fn share(&mut self, data: &[u8]) -> Option<Arc<PacketBuf>> {
        let n = self.bufs.len();
        for _ in 0..SCAN.min(n) {
            let i = self.cursor;
            self.cursor = (self.cursor + 1) % n;
            let Some(b) = Arc::get_mut(&mut self.bufs[i]) else {
                continue;
            };
            b.data.get_mut(..data.len())?.copy_from_slice(data);
            return Some(Arc::clone(&self.bufs[i]));
        }
        None
    }
}

/// One shard's ends of the mesh.
pub(crate) struct Mesh {
    /// `outs[b]`: the ring to shard `b` (`None` for ourselves).
    pub(crate) outs: Vec<Option<Producer<XMsg>>>,
    /// `ins[a]`: the ring from shard `a` (`None` for ourselves).
    pub(crate) ins: Vec<Option<Consumer<XMsg>>>,
    /// Every shard's wakeup.
    pub(crate) wakes: Vec<Arc<EventFd>>,
    /// Shards pushed to since they were last woken.
    pub(crate) to_wake: Vec<bool>,
    /// Shards already woken early in this iteration ([`Self::wake_early`]).
    woken_early: Vec<bool>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("shards", &self.wakes.len())
            .finish_non_exhaustive()
    }
}

impl Mesh {
    /// Builds the rings of `n` shards, `capacity` messages each; one `Mesh` per shard.
    pub(crate) fn build(n: usize, capacity: usize, wakes: &[Arc<EventFd>]) -> Vec<Self> {
        let mut meshes: Vec<Self> = (0..n)
            .map(|_| Self {
                outs: (0..n).map(|_| None).collect(),
                ins: (0..n).map(|_| None).collect(),
                wakes: wakes.to_vec(),
                to_wake: vec![false; n],
                woken_early: vec![false; n],
            })
            .collect();
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let (p, c) = RingBuffer::new(capacity.max(2));
                    meshes[a].outs[b] = Some(p);
                    meshes[b].ins[a] = Some(c);
                }
            }
        }
        meshes
    }

    /// Pushes `msg` to shard `to`; hands it back when the ring is full.
    pub(crate) fn push(&mut self, to: usize, msg: XMsg) -> Result<(), XMsg> {
        let Some(Some(p)) = self.outs.get_mut(to) else {
            return Err(msg);
        };
        match p.push(msg) {
            Ok(()) => {
                self.to_wake[to] = true;
                Ok(())
            }
            Err(rtrb::PushError::Full(m)) => Err(m),
        }
    }

    /// Wakes, once per iteration, the shards just pushed to: a packet's copies for other
    /// shards then fan out there while this shard serves its own subscribers, instead of
    /// after this shard's whole iteration (which made a room spread over shards no faster
    /// than one shard).
    pub(crate) fn wake_early(&mut self) {
        for (i, w) in self.to_wake.iter_mut().enumerate() {
            if *w && !self.woken_early[i] {
                *w = false;
                self.woken_early[i] = true;
                self.wakes[i].notify();
            }
        }
    }

    /// At the end of an iteration: wakes every shard pushed to since it was last woken
    /// (a shard woken early may have gone back to sleep before the later messages).
    pub(crate) fn wake_peers(&mut self) {
        for (i, w) in self.to_wake.iter_mut().enumerate() {
            if std::mem::take(w) {
                self.wakes[i].notify();
            }
        }
        self.woken_early.fill(false);
    }

    /// Whether any incoming ring has messages.
    pub(crate) fn has_input(&self) -> bool {
        self.ins.iter().flatten().any(|c| !c.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_reused_only_after_every_other_holder_dropped_it() {
        let mut pool = Pool::new(2);
        let a = pool.share(b"one").expect("free");
        let b = pool.share(b"two").expect("free");
        assert!(pool.share(b"three").is_none(), "both still held elsewhere");
        assert_eq!(&a.data[..3], b"one");
        drop(a);
        let c = pool.share(b"three").expect("a's buffer came back");
        assert_eq!(&c.data[..5], b"three");
        assert_eq!(&b.data[..3], b"two", "a held buffer is never overwritten");
    }

    #[test]
    fn rings_connect_every_ordered_pair_and_hand_back_when_full() {
        let wakes: Vec<_> = (0..3)
            .map(|_| Arc::new(EventFd::new().expect("eventfd")))
            .collect();
        let mut m = Mesh::build(3, 2, &wakes);
        let key = StreamKey {
            publisher: crate::PeerId(1),
            ssrc: 2,
        };
        assert!(
            m[0].push(
                0,
                XMsg::Keyframe {
                    source: key,
                    layer: 0
                }
            )
            .is_err(),
            "no ring to self"
        );
        assert!(
            m[0].push(
                2,
                XMsg::Keyframe {
                    source: key,
                    layer: 0
                }
            )
            .is_ok()
        );
        assert!(
            m[0].push(
                2,
                XMsg::Keyframe {
                    source: key,
                    layer: 0
                }
            )
            .is_ok()
        );
        assert!(
            m[0].push(
                2,
                XMsg::Keyframe {
                    source: key,
                    layer: 0
                }
            )
            .is_err(),
            "full"
        );
        assert!(m[2].has_input());
        assert!(!m[1].has_input());
        let c = m[2].ins[0].as_mut().expect("ring from 0");
        assert!(matches!(c.pop(), Ok(XMsg::Keyframe { .. })));
    }
}

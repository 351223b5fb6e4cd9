//! The shard's send queue and its grouping into UDP GSO sends.
//!
//! Datagrams are written into fixed slots of one arena during an iteration. At flush time
//! they are grouped per (socket, destination) in queue order: a group carries equal-size
//! segments, the last of which may be shorter (the kernel's UDP_SEGMENT rule), so the
//! packets of one video frame to one subscriber leave in one `sendmsg` whose iovecs point at
//! the slots, without copying. Order towards one destination is kept: a packet that cannot
//! join its destination's open group closes it and starts the next.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;

use super::sockaddr;

/// `UDP_SEGMENT` from linux/udp.h.
pub(crate) const UDP_SEGMENT: libc::c_int = 103;
/// Bytes of one send slot: an MTU-sized datagram plus SRTP tag and RTX header.
pub(crate) const SLOT: usize = 2048;
/// Most segments in one GSO send (the kernel's UDP_MAX_SEGMENTS).
const MAX_SEGMENTS: u32 = 64;
/// Most bytes in one GSO send (a UDP datagram's length field).
const MAX_GSO_BYTES: u32 = 65_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    sock: u8,
    dst: SocketAddr,
    len: u16,
}

/// One send: `count` datagrams (GSO segments of `seg` bytes) to `dst` on socket `sock`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub(crate) sock: u8,
    pub(crate) dst: SocketAddr,
    pub(crate) seg: u16,
    pub(crate) count: u32,
    pub(crate) bytes: u32,
    closed: bool,
    /// Where this group's entry indices start in `order` (filled in the second pass).
    start: u32,
}

/// A cheap hasher for the per-flush grouping map (keys are our own peers' paths).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The shard's queue of datagrams to send, flushed once per loop iteration.
pub(crate) struct TxQueue {
    arena: Box<[u8]>,
    entries: Vec<Entry>,
    slots: usize,
    gso: bool,
    groups: Vec<Group>,
    order: Vec<u32>,
    open: HashMap<(u8, SocketAddr), u32, BuildHasherDefault<FxHasher>>,
    entry_group: Vec<u32>,
    name_lens: Vec<libc::socklen_t>,
    // Stable storage for the system-call structures of one flush.
    pub(crate) iovs: Vec<libc::iovec>,
    pub(crate) names: Vec<libc::sockaddr_storage>,
    pub(crate) cmsgs: Vec<[u64; 4]>,
    pub(crate) hdrs: Vec<libc::mmsghdr>,
}

impl std::fmt::Debug for TxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxQueue")
            .field("queued", &self.entries.len())
            .field("slots", &self.slots)
            .field("gso", &self.gso)
            .finish_non_exhaustive()
    }
}

impl TxQueue {
    /// A queue of `slots` datagrams; `gso` allows grouping into UDP_SEGMENT sends.
    pub(crate) fn new(slots: usize, gso: bool) -> Self {
        let slots = slots.max(1);
        let mut arena = vec![0u8; slots * SLOT].into_boxed_slice();
        // Fault every page in now: the arena is a fixed cost of the shard, and touching it
        // lazily would show up as memory growth with the first large fan-out instead.
        for page in arena.chunks_mut(4096) {
            // SAFETY: `page` is a live, writable, non-empty slice of the arena.
            unsafe { std::ptr::write_volatile(page.as_mut_ptr(), 0) };
        }
        Self {
            arena,
            entries: Vec::with_capacity(slots),
            slots,
            gso,
            groups: Vec::with_capacity(slots),
            order: Vec::with_capacity(slots),
            open: HashMap::with_capacity_and_hasher(slots, BuildHasherDefault::default()),
            entry_group: Vec::with_capacity(slots),
            name_lens: Vec::with_capacity(slots),
            iovs: Vec::with_capacity(slots),
            names: Vec::with_capacity(slots),
            cmsgs: Vec::with_capacity(slots),
            hdrs: Vec::with_capacity(slots),
        }
    }

    /// Turns GSO grouping off (the kernel refused it).
    pub(crate) fn disable_gso(&mut self) {
        self.gso = false;
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Free slots.
    pub(crate) fn free(&self) -> usize {
        self.slots - self.entries.len()
    }

    /// The next free slot to write a datagram into, or `None` when the queue is full.
    pub(crate) fn slot(&mut self) -> Option<&mut [u8]> {
        let at = self.entries.len();
        if at >= self.slots {
            return None;
        }
        self.arena.get_mut(at * SLOT..(at + 1) * SLOT)
    }

    /// Queues the `len` bytes written into the slot [`Self::slot`] returned.
    pub(crate) fn push(&mut self, sock: usize, dst: SocketAddr, len: usize) {
        debug_assert!(len <= SLOT && self.entries.len() < self.slots);
        self.entries.push(Entry {
            sock: sock as u8,
            dst,
            len: len.min(SLOT) as u16,
        });
    }

    /// Copies `data` into the next slot and queues it; `false` when the queue is full.
    #[cfg(test)]
    pub(crate) fn push_copy(&mut self, sock: usize, dst: SocketAddr, data: &[u8]) -> bool {
        let Some(slot) = self.slot() else {
            return false;
        };
        let Some(out) = slot.get_mut(..data.len()) else {
            return false;
        };
        out.copy_from_slice(data);
        self.push(sock, dst, data.len());
        true
    }

    /// Groups the queue into sends and builds one `msghdr` per send in `hdrs` (pointing at
    /// `iovs`, `names` and `cmsgs`, which stay untouched until [`Self::clear`]).
    pub(crate) fn plan(&mut self) {
        self.group();
        self.iovs.clear();
        self.names.clear();
        self.cmsgs.clear();
        self.hdrs.clear();
        let base = self.arena.as_mut_ptr();
        for &i in &self.order {
            let e = self.entries[i as usize];
            self.iovs.push(libc::iovec {
                // SAFETY: slot `i` lies inside the arena (i < slots).
                iov_base: unsafe { base.add(i as usize * SLOT) }.cast(),
                iov_len: usize::from(e.len),
            });
        }
        self.name_lens.clear();
        for g in &self.groups {
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            self.name_lens.push(sockaddr::write(&g.dst, &mut st));
            self.names.push(st);
            let mut cmsg = [0u64; 4];
            if g.count > 1 {
                write_segment_cmsg(&mut cmsg, g.seg);
            }
            self.cmsgs.push(cmsg);
        }
        // Pointers are taken only now that the vectors no longer grow.
        for (gi, g) in self.groups.iter().enumerate() {
            // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_name = (&raw mut self.names[gi]).cast();
            h.msg_namelen = self.name_lens[gi];
            // SAFETY: the group's iovecs are `count` consecutive entries from `start`.
            h.msg_iov = unsafe { self.iovs.as_mut_ptr().add(g.start as usize) };
            h.msg_iovlen = g.count as usize;
            if g.count > 1 {
                h.msg_control = (&raw mut self.cmsgs[gi]).cast();
                h.msg_controllen = cmsg_space_u16();
            }
            self.hdrs.push(libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            });
        }
    }

    /// The sends [`Self::plan`] built, in order (one `hdrs` entry each).
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Empties the queue after its sends completed.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.groups.clear();
        self.order.clear();
        self.hdrs.clear();
    }

    /// Assigns each entry a group and lays the entry indices out group by group in `order`.
    fn group(&mut self) {
        self.groups.clear();
        self.open.clear();
        self.entry_group.clear();
        for e in &self.entries {
            let key = (e.sock, e.dst);
            let joined = if self.gso {
                self.open.get(&key).copied().filter(|&gi| {
                    let g = &self.groups[gi as usize];
                    !g.closed
                        && e.len <= g.seg
                        && g.count < MAX_SEGMENTS
                        && g.bytes + u32::from(e.len) <= MAX_GSO_BYTES
                })
            } else {
                None
            };
            let gi = match joined {
                Some(gi) => {
                    let g = &mut self.groups[gi as usize];
                    g.count += 1;
                    g.bytes += u32::from(e.len);
                    // A shorter segment can only be the last one.
                    g.closed = e.len < g.seg;
                    gi
                }
                None => {
                    let gi = self.groups.len() as u32;
                    self.groups.push(Group {
                        sock: e.sock,
                        dst: e.dst,
                        seg: e.len,
                        count: 1,
                        bytes: u32::from(e.len),
                        closed: false,
                        start: 0,
                    });
                    if self.gso {
                        // Replaces (and so closes) an earlier group to the same destination.
                        self.open.insert(key, gi);
                    }
                    gi
                }
            };
            self.entry_group.push(gi);
        }
        let mut at = 0u32;
        for g in &mut self.groups {
            g.start = at;
            at += g.count;
        }
        self.order.clear();
        self.order.resize(self.entries.len(), 0);
        for (i, &gi) in self.entry_group.iter().enumerate() {
            let g = &mut self.groups[gi as usize];
            // `start` doubles as the fill cursor; restored below.
            self.order[g.start as usize] = i as u32;
            g.start += 1;
        }
        for g in &mut self.groups {
            g.start -= g.count;
        }
    }
}

/// `CMSG_SPACE(sizeof(u16))`.
fn cmsg_space_u16() -> usize {
    // SAFETY: CMSG_SPACE is a pure size computation.
    unsafe { libc::CMSG_SPACE(2) as usize }
}

/// Writes a `SOL_UDP / UDP_SEGMENT` control message carrying `seg` into `buf`.
fn write_segment_cmsg(buf: &mut [u64; 4], seg: u16) {
    let hdr = buf.as_mut_ptr().cast::<libc::cmsghdr>();
    // SAFETY: `buf` is 32 bytes, 8-aligned, and CMSG_SPACE(2) (24 on 64-bit, 16 on 32-bit)
    // fits in it; the header and data are written inside that space.
    unsafe {
        (*hdr).cmsg_level = libc::SOL_UDP;
        (*hdr).cmsg_type = UDP_SEGMENT;
        (*hdr).cmsg_len = libc::CMSG_LEN(2) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(hdr).cast::<u16>(), seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(tx: &mut TxQueue, dst: &str, len: usize) {
        let dst: SocketAddr = dst.parse().expect("addr");
        assert!(tx.push_copy(0, dst, &vec![7u8; len]));
    }

    #[test]
    fn equal_sizes_to_one_destination_become_one_gso_send_with_a_short_tail() {
        let mut tx = TxQueue::new(16, true);
        for _ in 0..3 {
            queue(&mut tx, "127.0.0.1:1000", 1200);
            queue(&mut tx, "127.0.0.1:2000", 1000);
        }
        queue(&mut tx, "127.0.0.1:1000", 500);
        queue(&mut tx, "127.0.0.1:1000", 1200);
        let groups: Vec<(u16, u32)> = {
            tx.plan();
            tx.groups()
        }
        .iter()
        .map(|g| (g.seg, g.count))
        .collect();
        // The short 500-byte packet closes the first group; the next 1200 starts another.
        assert_eq!(groups, [(1200, 4), (1000, 3), (1200, 1)]);
        assert_eq!(tx.hdrs.len(), 3);
        assert_eq!(tx.hdrs[0].msg_hdr.msg_iovlen, 4);
        assert_eq!(tx.hdrs[0].msg_hdr.msg_controllen, cmsg_space_u16());
        assert_eq!(tx.hdrs[2].msg_hdr.msg_controllen, 0);
    }

    #[test]
    fn a_larger_packet_starts_a_new_group_and_keeps_order() {
        let mut tx = TxQueue::new(16, true);
        queue(&mut tx, "127.0.0.1:1000", 100);
        queue(&mut tx, "127.0.0.1:1000", 200);
        queue(&mut tx, "127.0.0.1:1000", 100);
        let groups: Vec<(u16, u32)> = {
            tx.plan();
            tx.groups()
        }
        .iter()
        .map(|g| (g.seg, g.count))
        .collect();
        assert_eq!(groups, [(100, 1), (200, 2)]);
        let lens: Vec<usize> = tx.iovs.iter().map(|v| v.iov_len).collect();
        assert_eq!(lens, [100, 200, 100]);
    }

    #[test]
    fn without_gso_every_datagram_is_its_own_send() {
        let mut tx = TxQueue::new(4, false);
        for _ in 0..4 {
            queue(&mut tx, "127.0.0.1:1000", 100);
        }
        assert!(!tx.push_copy(0, "127.0.0.1:1".parse().expect("addr"), &[1]));
        tx.plan();
        assert_eq!(tx.groups().len(), 4);
        tx.clear();
        assert!(tx.is_empty());
        assert_eq!(tx.free(), 4);
    }
}

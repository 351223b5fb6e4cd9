//! The io_uring backend: one multishot `recvmsg` per socket into a provided buffer ring
//! (re-armed when the kernel ends it, e.g. on ENOBUFS), a multishot poll on the wakeup
//! eventfd, and all sends of an iteration as `sendmsg` SQEs (GSO groups) in one submit.
//!
//! Sends are waited for within [`Backend::flush`]: a UDP `sendmsg` completes inline at
//! submit time unless the socket buffer is full, so the wait is normally free, and the send
//! arena can be reused at once. Receive completions that arrive meanwhile are stashed and
//! handed out by the next [`Backend::recv`].

use std::io;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{BufRingEntry, Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue};
use socket2::Socket;

use super::{Backend, EventFd, MAX_DATAGRAM, RecvSink, SendReport, TxQueue, sockaddr};

/// Provided receive buffers (a power of two, at most 32768).
const BUFFERS: u16 = 1024;
/// The buffer group id of the receive buffers.
const BGID: u16 = 0;
/// `sizeof(struct io_uring_recvmsg_out)`.
const RECVMSG_OUT: usize = 16;
/// Name space reserved in every receive buffer.
const NAME_LEN: usize = size_of::<libc::sockaddr_storage>();
/// One receive buffer: the recvmsg_out header, the name, then the payload.
const BUF_SIZE: usize = RECVMSG_OUT + NAME_LEN + MAX_DATAGRAM;

/// user_data tags (high byte), the low bits carry the socket index.
const TAG_RECV: u64 = 1 << 56;
const TAG_SEND: u64 = 2 << 56;
const TAG_WAKE: u64 = 3 << 56;
const TAG_CANCEL: u64 = 4 << 56;
const TAG_MASK: u64 = 0xff << 56;

/// A page-aligned, mmap'd ring of provided-buffer descriptors.
struct BufRing {
    base: *mut BufRingEntry,
    map_len: usize,
    /// Our copy of the tail: descriptors added but maybe not yet published.
    tail: u16,
}

impl BufRing {
    fn new() -> io::Result<Self> {
        let map_len = usize::from(BUFFERS) * size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping; no pointer is passed in, the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            base: p.cast(),
            map_len,
            tail: 0,
        })
    }

    /// Adds buffer `bid` (at `addr`, `len` bytes) behind the tail, unpublished.
    fn add(&mut self, bid: u16, addr: *mut u8, len: usize) {
        let idx = usize::from(self.tail & (BUFFERS - 1));
        // SAFETY: `idx < BUFFERS`, inside the mapping; the kernel reads descriptors only up
        // to the published tail, and this one is beyond it until `publish`.
        let e = unsafe { &mut *self.base.add(idx) };
        e.set_addr(addr as u64);
        e.set_len(len as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes every added descriptor visible to the kernel.
    fn publish(&self) {
        // SAFETY: the tail is the `resv` u16 of entry 0 (io_uring_buf_ring layout), inside
        // the mapping and 2-aligned; the kernel reads it atomically, so we store atomically
        // with Release to order the descriptor writes before it.
        unsafe {
            let tail = BufRingEntry::tail(self.base).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; the ring was unregistered (or
        // the io_uring closed) before, since `UringBackend` drops the ring first.
        unsafe {
            libc::munmap(self.base.cast(), self.map_len);
        }
    }
}

/// One socket index of the backend.
enum Slot {
    /// Receiving.
    Active(Socket),
    /// Removed: its multishot receive is being cancelled; the index is reused once its last
    /// completion arrived, so no stale completion is taken for another socket's.
    Closing,
    /// Unused.
    Free,
}

impl Slot {
    fn active(&self) -> Option<&Socket> {
        match self {
            Self::Active(s) => Some(s),
            _ => None,
        }
    }
}

/// io_uring over the shard's sockets.
pub(crate) struct UringBackend {
    // Field order matters for Drop: the ring goes before the memory it points into.
    ring: IoUring,
    bufring: BufRing,
    arena: Box<[u8]>,
    socks: Vec<Slot>,
    wake: Arc<EventFd>,
    /// The template `msghdr` every multishot recvmsg reads its name/control sizes from.
    msghdr: Box<libc::msghdr>,
    /// Sockets whose multishot receive ended and must be re-armed.
    rearm: Vec<bool>,
    wake_armed: bool,
    /// Receive completions seen while waiting for sends: (user_data, result, flags).
    stash: Vec<(u64, i32, u32)>,
    stash_at: usize,
}

impl UringBackend {
    /// Sets up the ring, the provided buffers and the multishot receives.
    pub(crate) fn new(socks: Vec<Socket>, wake: Arc<EventFd>) -> io::Result<Self> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_coop_taskrun()
            .build(1024)
            .or_else(|_| IoUring::new(1024))?;
        let mut bufring = BufRing::new()?;
        // SAFETY: the ring memory is page-aligned, BUFFERS entries long, and lives as long
        // as `self` (dropped after `ring`).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufring.base as u64, BUFFERS, BGID, 0)?;
        }
        let mut arena = vec![0u8; usize::from(BUFFERS) * BUF_SIZE].into_boxed_slice();
        let base = arena.as_mut_ptr();
        for bid in 0..BUFFERS {
            // SAFETY: buffer `bid` lies inside the arena.
            let addr = unsafe { base.add(usize::from(bid) * BUF_SIZE) };
            bufring.add(bid, addr, BUF_SIZE);
        }
        bufring.publish();
        // SAFETY: all-zero is a valid msghdr.
        let mut msghdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msghdr.msg_namelen = NAME_LEN as libc::socklen_t;
        let n = socks.len();
        let mut this = Self {
            ring,
            bufring,
            arena,
            socks: socks.into_iter().map(Slot::Active).collect(),
            wake,
            msghdr,
            rearm: vec![true; n],
            wake_armed: false,
            stash: Vec::with_capacity(1024),
            stash_at: 0,
        };
        this.arm();
        this.ring.submit()?;
        Ok(this)
    }

    /// Queues the multishot operations that are not running.
    fn arm(&mut self) {
        for si in 0..self.socks.len() {
            if !self.rearm[si] {
                continue;
            }
            let Some(sock) = self.socks[si].active() else {
                continue;
            };
            let e = opcode::RecvMsgMulti::new(Fd(sock.as_raw_fd()), &raw const *self.msghdr, BGID)
                .build()
                .user_data(TAG_RECV | si as u64);
            if self.push(&e) {
                self.rearm[si] = false;
            }
        }
        if !self.wake_armed {
            let e = opcode::PollAdd::new(Fd(self.wake.raw_fd()), libc::POLLIN as u32)
                .multi(true)
                .build()
                .user_data(TAG_WAKE);
            if self.push(&e) {
                self.wake_armed = true;
            }
        }
    }

    /// Pushes one SQE, submitting first if the queue is full.
    fn push(&mut self, e: &squeue::Entry) -> bool {
        if self.ring.submission().is_full() {
            let _ = self.ring.submit();
        }
        // SAFETY: every pointer an SQE carries (the msghdr template, send headers in the
        // TxQueue, buffers) stays valid until its completion is reaped: the template lives
        // in `self`, sends are waited for in `flush`.
        unsafe { self.ring.submission().push(e).is_ok() }
    }

    /// Handles one receive completion; returns the sink's verdict.
    fn on_recv(
        &mut self,
        ud: u64,
        res: i32,
        flags: u32,
        sink: &mut dyn RecvSink,
    ) -> ControlFlow<()> {
        let si = (ud & !TAG_MASK) as usize;
        if !cqueue::more(flags)
            && let Some(r) = self.rearm.get_mut(si)
        {
            *r = true;
            if let Some(slot @ Slot::Closing) = self.socks.get_mut(si) {
                // The cancelled receive's last completion: the index is free.
                *slot = Slot::Free;
            }
        }
        let active = self.socks.get(si).is_some_and(|s| s.active().is_some());
        let Some(bid) = cqueue::buffer_select(flags) else {
            // ENOBUFS or another error: no buffer was used; re-armed below.
            return ControlFlow::Continue(());
        };
        let start = usize::from(bid) * BUF_SIZE;
        let len = usize::try_from(res).unwrap_or(0).min(BUF_SIZE);
        let mut verdict = ControlFlow::Continue(());
        if active && let Some(buf) = self.arena.get_mut(start..start + len) {
            verdict = deliver(si, buf, sink);
        }
        // The buffer goes back to the kernel.
        let base = self.arena.as_mut_ptr();
        // SAFETY: buffer `bid` lies inside the arena; we no longer reference it.
        let addr = unsafe { base.add(start) };
        self.bufring.add(bid, addr, BUF_SIZE);
        verdict
    }
}

/// Parses a multishot recvmsg buffer (io_uring_recvmsg_out, name, payload) and hands the
/// datagram to the sink.
fn deliver(si: usize, buf: &mut [u8], sink: &mut dyn RecvSink) -> ControlFlow<()> {
    let Some(h) = buf.get(..RECVMSG_OUT) else {
        return ControlFlow::Continue(());
    };
    let word = |i: usize| u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (namelen, payloadlen, flags) = (word(0) as usize, word(8) as usize, word(12));
    if flags & libc::MSG_TRUNC as u32 != 0 {
        sink.truncated();
        return ControlFlow::Continue(());
    }
    let name_end = RECVMSG_OUT + namelen.min(NAME_LEN);
    let Some(remote) = buf.get(RECVMSG_OUT..name_end).and_then(sockaddr::parse) else {
        return ControlFlow::Continue(());
    };
    let at = RECVMSG_OUT + NAME_LEN;
    match buf.get_mut(at..at + payloadlen) {
        Some(payload) => sink.datagram(si, remote, payload),
        None => {
            sink.truncated();
            ControlFlow::Continue(())
        }
    }
}

impl Backend for UringBackend {
    fn recv(&mut self, sink: &mut dyn RecvSink, budget: usize) -> usize {
        let mut n = 0;
        let mut stop = false;
        // First what arrived while we waited for sends.
        while self.stash_at < self.stash.len() && n < budget && !stop {
            let (ud, res, flags) = self.stash[self.stash_at];
            self.stash_at += 1;
            n += 1;
            stop = self.on_recv(ud, res, flags, sink).is_break();
        }
        if self.stash_at == self.stash.len() {
            self.stash.clear();
            self.stash_at = 0;
        }
        while n < budget && !stop {
            let Some(cqe) = self.ring.completion().next() else {
                break;
            };
            let (ud, res, flags) = (cqe.user_data(), cqe.result(), cqe.flags());
            match ud & TAG_MASK {
                TAG_RECV => {
                    n += 1;
                    stop = self.on_recv(ud, res, flags, sink).is_break();
                }
                TAG_WAKE => {
                    self.wake.drain();
                    if !cqueue::more(flags) {
                        self.wake_armed = false;
                    }
                }
                _ => {}
            }
        }
        self.bufring.publish();
        self.arm();
        n
    }

    fn flush(&mut self, tx: &mut TxQueue) -> SendReport {
        let mut report = SendReport::default();
        if tx.is_empty() {
            return report;
        }
        tx.plan();
        let count = tx.groups().len();
        let mut pending = 0usize;
        for gi in 0..count {
            let g = tx.groups()[gi];
            let Some(sock) = self.socks.get(usize::from(g.sock)).and_then(Slot::active) else {
                report.failed += u64::from(g.count);
                continue;
            };
            let e = opcode::SendMsg::new(Fd(sock.as_raw_fd()), &raw const tx.hdrs[gi].msg_hdr)
                .build()
                .user_data(TAG_SEND | gi as u64);
            if self.push(&e) {
                pending += 1;
            } else {
                report.failed += u64::from(g.count);
            }
        }
        let mut gso_refused = false;
        while pending > 0 {
            if let Err(e) = self.ring.submit_and_wait(1)
                && e.raw_os_error() != Some(libc::EINTR)
            {
                break;
            }
            while let Some(cqe) = self.ring.completion().next() {
                let (ud, res, flags) = (cqe.user_data(), cqe.result(), cqe.flags());
                match ud & TAG_MASK {
                    TAG_SEND => {
                        pending -= 1;
                        let Some(g) = tx.groups().get((ud & !TAG_MASK) as usize) else {
                            continue;
                        };
                        if res < 0 {
                            if g.count > 1 && matches!(-res, libc::EIO | libc::EINVAL) {
                                gso_refused = true;
                            }
                            report.failed += u64::from(g.count);
                        } else {
                            report.sends += 1;
                            report.datagrams += u64::from(g.count);
                            report.bytes += u64::from(g.bytes);
                            if g.count > 1 {
                                report.gso_sends += 1;
                                report.gso_datagrams += u64::from(g.count);
                            }
                        }
                    }
                    TAG_WAKE => {
                        self.wake.drain();
                        if !cqueue::more(flags) {
                            self.wake_armed = false;
                        }
                    }
                    TAG_RECV => self.stash.push((ud, res, flags)),
                    _ => {}
                }
            }
        }
        if gso_refused {
            tx.disable_gso();
        }
        tx.clear();
        self.arm();
        report
    }

    fn wait(&mut self, timeout: Option<Duration>) {
        self.arm();
        if self.stash_at < self.stash.len() || !self.ring.completion().is_empty() {
            let _ = self.ring.submit();
            return;
        }
        let result = match timeout {
            Some(t) => {
                let ts = Timespec::new().sec(t.as_secs()).nsec(t.subsec_nanos());
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        // ETIME (the deadline) and EINTR are normal ways to wake up.
        let _ = result;
    }

    fn add_socket(&mut self, sock: Socket) -> io::Result<usize> {
        let index = match self.socks.iter().position(|s| matches!(s, Slot::Free)) {
            Some(i) => {
                self.socks[i] = Slot::Active(sock);
                self.rearm[i] = true;
                i
            }
            None => {
                self.socks.push(Slot::Active(sock));
                self.rearm.push(true);
                self.socks.len() - 1
            }
        };
        // Queued now, submitted with the next submit (every loop iteration has one).
        self.arm();
        Ok(index)
    }

    fn remove_socket(&mut self, index: usize) {
        let Some(slot) = self.socks.get_mut(index) else {
            return;
        };
        let Slot::Active(sock) = std::mem::replace(slot, Slot::Free) else {
            return;
        };
        if self.rearm[index] {
            // No receive in flight (it ended and was not re-armed): close at once.
            drop(sock);
            return;
        }
        *slot = Slot::Closing;
        // The receive SQE may still sit unsubmitted: hand it to the kernel before the
        // descriptor closes (its number could be reused at once by the next bind).
        let _ = self.ring.submit();
        let e = opcode::AsyncCancel::new(TAG_RECV | index as u64)
            .build()
            .user_data(TAG_CANCEL | index as u64);
        // `push` submits to make room; should it still fail, the index stays Closing and is
        // never reused, which wastes one index but delivers nothing wrong.
        let _ = self.push(&e);
        let _ = self.ring.submit();
        // The kernel holds its own reference while the receive is in flight; the port is
        // released when the cancelled request lets go of it.
        drop(sock);
    }
}

/// Whether this kernel runs io_uring with everything the backend needs.
pub(crate) fn available() -> bool {
    let Ok(ring) = IoUring::new(8) else {
        return false;
    };
    let mut probe = io_uring::Probe::new();
    if ring.submitter().register_probe(&mut probe).is_err() {
        return false;
    }
    probe.is_supported(opcode::RecvMsgMulti::CODE)
        && probe.is_supported(opcode::SendMsg::CODE)
        && probe.is_supported(opcode::PollAdd::CODE)
}

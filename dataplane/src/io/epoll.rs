//! The portable backend: epoll for readiness, `recvmmsg` in batches, `sendmmsg` for the
//! queued sends (with UDP GSO groups).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use socket2::Socket;

use super::{Backend, EventFd, MAX_DATAGRAM, RecvSink, SendReport, TxQueue, sockaddr};

/// Datagrams per `recvmmsg` call.
const BATCH: usize = 32;
/// The epoll token of the wakeup eventfd (socket tokens are their indices).
const WAKE_TOKEN: u64 = u64::MAX;

/// epoll + recvmmsg/sendmmsg over the shard's sockets.
pub(crate) struct EpollBackend {
    epoll: OwnedFd,
    /// Sockets by index; `None` where an RTP input socket was removed (reused by the next).
    socks: Vec<Option<Socket>>,
    wake: Arc<EventFd>,
    bufs: Box<[[u8; MAX_DATAGRAM]]>,
    names: Box<[libc::sockaddr_storage]>,
    /// Sockets that may still have datagrams queued (readiness seen, not yet drained).
    readable: Vec<bool>,
}

impl EpollBackend {
    /// Registers `socks` and `wake` with a new epoll instance.
    pub(crate) fn new(socks: Vec<Socket>, wake: Arc<EventFd>) -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        for (i, s) in socks.iter().enumerate() {
            epoll_add(&epoll, s.as_raw_fd(), i as u64)?;
        }
        epoll_add(&epoll, wake.raw_fd(), WAKE_TOKEN)?;
        let n = socks.len();
        Ok(Self {
            epoll,
            socks: socks.into_iter().map(Some).collect(),
            wake,
            bufs: vec![[0u8; MAX_DATAGRAM]; BATCH].into_boxed_slice(),
            // SAFETY: all-zero is a valid sockaddr_storage.
            names: vec![unsafe { std::mem::zeroed::<libc::sockaddr_storage>() }; BATCH]
                .into_boxed_slice(),
            // Start by trying every socket: nothing is lost by one EAGAIN.
            readable: vec![true; n],
        })
    }

    /// One `recvmmsg` on socket `si`; returns how many datagrams it handed to `sink` and
    /// whether the sink asked to stop.
    fn recv_batch(&mut self, si: usize, sink: &mut dyn RecvSink, max: usize) -> (usize, bool) {
        let want = max.min(BATCH);
        // SAFETY: all-zero is a valid iovec/mmsghdr (null pointers, zero lengths).
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..want {
            iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: MAX_DATAGRAM,
            };
            hdrs[i].msg_hdr.msg_iov = &raw mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_name = (&raw mut self.names[i]).cast();
            hdrs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        }
        let Some(Some(sock)) = self.socks.get(si) else {
            self.readable[si] = false;
            return (0, false);
        };
        let fd = sock.as_raw_fd();
        // SAFETY: `hdrs[..want]` point at live buffers, names and iovecs owned by `self` or
        // this frame, all of which outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                want as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            self.readable[si] = false;
            return (0, false);
        }
        let n = n as usize;
        if n < want {
            self.readable[si] = false;
        }
        let mut stop = false;
        for (i, h) in hdrs.iter().enumerate().take(n) {
            if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                sink.truncated();
                continue;
            }
            let Some(remote) =
                sockaddr::parse(sockaddr::bytes(&self.names[i], h.msg_hdr.msg_namelen))
            else {
                continue;
            };
            let len = (h.msg_len as usize).min(MAX_DATAGRAM);
            // Datagrams already read must be handled even after a Break: they are ours now.
            if sink
                .datagram(si, remote, &mut self.bufs[i][..len])
                .is_break()
            {
                stop = true;
            }
        }
        (n, stop)
    }
}

impl Backend for EpollBackend {
    fn recv(&mut self, sink: &mut dyn RecvSink, budget: usize) -> usize {
        let mut total = 0;
        for si in 0..self.socks.len() {
            while self.readable[si] && total < budget {
                let (n, stop) = self.recv_batch(si, sink, budget - total);
                total += n;
                if stop {
                    return total;
                }
            }
        }
        total
    }

    fn flush(&mut self, tx: &mut TxQueue) -> SendReport {
        let mut report = SendReport::default();
        if tx.is_empty() {
            return report;
        }
        tx.plan();
        let hdrs = tx.hdrs.as_mut_ptr();
        let groups = tx.groups();
        let mut gso_refused = false;
        for si in 0..self.socks.len() {
            // The headers of this socket's groups, sent in as few sendmmsg calls as possible.
            let mut at = 0;
            while at < groups.len() {
                // Runs of consecutive groups on this socket share one call.
                while at < groups.len() && usize::from(groups[at].sock) != si {
                    at += 1;
                }
                let start = at;
                while at < groups.len() && usize::from(groups[at].sock) == si {
                    at += 1;
                }
                let mut sent = start;
                while sent < at {
                    let Some(Some(sock)) = self.socks.get(si) else {
                        for g in &groups[sent..at] {
                            report.failed += u64::from(g.count);
                        }
                        break;
                    };
                    let fd = sock.as_raw_fd();
                    // SAFETY: `hdrs[sent..at]` were built by `plan` and point into `tx`'s
                    // arena and stable vectors, untouched until `clear` below.
                    let n = unsafe {
                        libc::sendmmsg(
                            fd,
                            hdrs.add(sent),
                            (at - sent) as libc::c_uint,
                            libc::MSG_DONTWAIT,
                        )
                    };
                    if n <= 0 {
                        let err = io::Error::last_os_error();
                        let g = &groups[sent];
                        if g.count > 1
                            && matches!(err.raw_os_error(), Some(libc::EIO | libc::EINVAL))
                        {
                            // GSO refused (no checksum offload on this device): never again.
                            gso_refused = true;
                        }
                        report.failed += u64::from(g.count);
                        sent += 1;
                        continue;
                    }
                    for g in &groups[sent..sent + n as usize] {
                        report.sends += 1;
                        report.datagrams += u64::from(g.count);
                        report.bytes += u64::from(g.bytes);
                        if g.count > 1 {
                            report.gso_sends += 1;
                            report.gso_datagrams += u64::from(g.count);
                        }
                    }
                    sent += n as usize;
                }
            }
        }
        if gso_refused {
            tx.disable_gso();
        }
        tx.clear();
        report
    }

    fn wait(&mut self, timeout: Option<Duration>) {
        if self.readable.iter().any(|&r| r) {
            return;
        }
        // Round up so a timer is never woken for early.
        let ms = timeout.map_or(-1, |t| {
            i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
        });
        // SAFETY: all-zero is a valid epoll_event.
        let mut evs: [libc::epoll_event; 8] = unsafe { std::mem::zeroed() };
        // SAFETY: `evs` is a live array of 8 events.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), evs.as_mut_ptr(), 8, ms) };
        for ev in evs.iter().take(n.max(0) as usize) {
            let token = ev.u64;
            if token == WAKE_TOKEN {
                self.wake.drain();
            } else if let Some(r) = self.readable.get_mut(token as usize) {
                *r = true;
            }
        }
    }

    fn add_socket(&mut self, sock: Socket) -> io::Result<usize> {
        let index = self
            .socks
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.socks.len());
        epoll_add(&self.epoll, sock.as_raw_fd(), index as u64)?;
        if index == self.socks.len() {
            self.socks.push(Some(sock));
            self.readable.push(true);
        } else {
            self.socks[index] = Some(sock);
            self.readable[index] = true;
        }
        Ok(index)
    }

    fn remove_socket(&mut self, index: usize) {
        let Some(sock) = self.socks.get_mut(index).and_then(Option::take) else {
            return;
        };
        // SAFETY: the descriptor is open (closed when `sock` drops below); a null event is
        // allowed for EPOLL_CTL_DEL.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                sock.as_raw_fd(),
                std::ptr::null_mut(),
            );
        }
        self.readable[index] = false;
    }
}

/// Registers `raw` for readability under `token`.
fn epoll_add(epoll: &OwnedFd, raw: i32, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: `ev` is a live epoll_event; both descriptors are open.
    let rc = unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, raw, &mut ev) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

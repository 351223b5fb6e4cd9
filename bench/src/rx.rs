//! Batched receive for the simulated clients: one `recvmmsg` takes every datagram waiting on
//! a socket (up to [`BATCH`]), each with the kernel's receive timestamp (`SO_TIMESTAMPNS`).
//!
//! With [`enable_gro`] a socket also takes a server's UDP GSO send whole (one buffer holding
//! several equal-size datagrams, `UDP_GRO`), as a receiver behind a NIC with segmentation
//! offload would see it: on loopback the server's kernel otherwise segments it again and
//! delivers each piece, work that lands on the server's CPU and that no real network charges
//! it. [`RxBatch::get`] hands out the segments one by one either way.
//!
//! The timestamp is what makes the latency figure honest. It is taken when the datagram
//! reaches the socket, before the load generator's own queueing: a client thread that wakes
//! late, or that deliberately lets packets pile up to read them in one call, still measures
//! the server's delay, not its own. It is `CLOCK_REALTIME`, so stamps are written on that
//! clock too ([`crate::media::stamp_clock_ns`]).

use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Most datagrams (or coalesced GSO sends) one call takes.
pub const BATCH: usize = 32;
/// Bytes per receive buffer: a whole GSO send (at most 64 KiB).
pub const BUF: usize = 65_536;
/// Room for `SCM_TIMESTAMPNS` (a timespec) and `UDP_GRO` (an int) control messages.
const CMSG_WORDS: usize = 12;
/// `UDP_GRO` from linux/udp.h.
const UDP_GRO: libc::c_int = 104;

/// Receive buffers and the `mmsghdr` array of one thread.
pub struct RxBatch {
    bufs: Box<[u8]>,
    lens: [usize; BATCH],
    /// Segment size of a coalesced receive (`UDP_GRO`); the buffer's length otherwise.
    segs: [usize; BATCH],
    names: Box<[libc::sockaddr_storage]>,
    cmsgs: Box<[[u64; CMSG_WORDS]]>,
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
    stamps: [Option<u64>; BATCH],
    count: usize,
}

impl std::fmt::Debug for RxBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxBatch")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl Default for RxBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RxBatch {
    /// Buffers for [`BATCH`] datagrams.
    pub fn new() -> Self {
        // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr (null pointers,
        // zero lengths); every pointer is set before each call.
        let zero_name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zero_iov: libc::iovec = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Self {
            bufs: vec![0u8; BUF * BATCH].into_boxed_slice(),
            lens: [0; BATCH],
            segs: [0; BATCH],
            names: vec![zero_name; BATCH].into_boxed_slice(),
            cmsgs: vec![[0u64; CMSG_WORDS]; BATCH].into_boxed_slice(),
            iovs: vec![zero_iov; BATCH].into_boxed_slice(),
            hdrs: vec![zero_hdr; BATCH].into_boxed_slice(),
            stamps: [None; BATCH],
            count: 0,
        }
    }

    /// Takes what is waiting on the non-blocking socket `fd` (up to [`BATCH`] datagrams) and
    /// returns how many; `Ok(0)` when nothing was.
    ///
    /// # Errors
    /// The kernel's, other than `EAGAIN`.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        for i in 0..BATCH {
            self.iovs[i] = libc::iovec {
                // SAFETY: buffer `i` lies inside `bufs` (BUF × BATCH bytes).
                iov_base: unsafe { self.bufs.as_mut_ptr().add(i * BUF) }.cast(),
                iov_len: BUF,
            };
            // SAFETY: all-zero is a valid msghdr; the pointers set below stay valid for the
            // call (boxed slices that do not move while `self` is borrowed).
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_name = (&raw mut self.names[i]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &raw mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.cmsgs[i].as_mut_ptr().cast();
            h.msg_controllen = CMSG_WORDS * 8;
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
        }
        // SAFETY: `hdrs` holds BATCH initialised mmsghdrs whose buffers, names and control
        // areas live in `self` for the duration of the call; a null timeout is allowed.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.count = 0;
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            };
        }
        self.count = n as usize;
        for i in 0..self.count {
            let len = (self.hdrs[i].msg_len as usize).min(BUF);
            let (stamp, seg) = read_cmsgs(&self.hdrs[i].msg_hdr);
            self.lens[i] = len;
            self.segs[i] = seg.filter(|&s| s > 0).unwrap_or(len).max(1);
            self.stamps[i] = stamp;
        }
        Ok(self.count)
    }

    /// Receives the last [`Self::recv`] took (a coalesced GSO send counts once).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the last [`Self::recv`] took nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many datagrams receive `i` holds (more than one when the kernel coalesced them).
    pub fn segments(&self, i: usize) -> usize {
        if i >= self.count {
            return 0;
        }
        self.lens[i].div_ceil(self.segs[i])
    }

    /// Datagram `seg` of receive `i` of the last call: its bytes (writable, for in-place
    /// decryption), its source, and the kernel's receive time on `CLOCK_REALTIME` in
    /// nanoseconds when it gave one.
    pub fn get(
        &mut self,
        i: usize,
        seg: usize,
    ) -> Option<(&mut [u8], Option<SocketAddr>, Option<u64>)> {
        if i >= self.count {
            return None;
        }
        let from = read_addr(&self.names[i]);
        let start = seg.checked_mul(self.segs[i])?;
        let end = (start + self.segs[i]).min(self.lens[i]);
        if start >= end {
            return None;
        }
        let buf = self.bufs.get_mut(i * BUF + start..i * BUF + end)?;
        Some((buf, from, self.stamps[i]))
    }
}

/// Lets `fd` receive a GSO send whole (`UDP_GRO`); see the module docs.
///
/// # Errors
/// The kernel's (before Linux 5.0 the option does not exist).
pub fn enable_gro(fd: RawFd) -> io::Result<()> {
    set_int(fd, libc::SOL_UDP, UDP_GRO)
}

/// Asks the kernel to stamp every datagram `fd` receives (`SO_TIMESTAMPNS`).
///
/// # Errors
/// The kernel's.
pub fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS)
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live c_int.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The receive timestamp and the GRO segment size, when the kernel attached them.
fn read_cmsgs(h: &libc::msghdr) -> (Option<u64>, Option<usize>) {
    let (mut stamp, mut seg) = (None, None);
    // SAFETY: `h` was filled by recvmmsg; CMSG_FIRSTHDR/NXTHDR stay within msg_control and
    // msg_controllen; a SCM_TIMESTAMPNS payload is one timespec and a UDP_GRO one an int
    // (both read unaligned).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            let (level, kind) = ((*c).cmsg_level, (*c).cmsg_type);
            if level == libc::SOL_SOCKET && kind == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            } else if level == libc::SOL_UDP && kind == UDP_GRO {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                seg = usize::try_from(size).ok();
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    (stamp, seg)
}

fn read_addr(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(st.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(std::ptr::from_ref(st).cast::<libc::sockaddr_in>()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                u32::from_be(a.sin_addr.s_addr).into(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(std::ptr::from_ref(st).cast::<libc::sockaddr_in6>()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    /// A non-blocking receiver with `option` turned on, and a sender, both on loopback.
    fn socket_pair(
        option: fn(RawFd) -> io::Result<()>,
        name: &str,
    ) -> (std::net::UdpSocket, std::net::UdpSocket) {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        rx.set_nonblocking(true).expect("nonblocking");
        option(rx.as_raw_fd()).expect(name);
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        (rx, tx)
    }

    #[test]
    fn one_call_takes_every_waiting_datagram_with_its_source_and_a_kernel_timestamp() {
        let (rx, tx) = socket_pair(enable_timestamps, "SO_TIMESTAMPNS");
        let before = crate::media::stamp_clock_ns();
        for i in 0..5u8 {
            tx.send_to(&[i; 100], rx.local_addr().expect("addr"))
                .expect("send");
        }
        let mut batch = RxBatch::new();
        assert_eq!(batch.recv(rx.as_raw_fd()).expect("recv"), 5);
        for i in 0..5 {
            assert_eq!(batch.segments(i), 1);
            let (data, from, at) = batch.get(i, 0).expect("datagram");
            assert_eq!(data.len(), 100);
            assert_eq!(data[0], i as u8);
            assert_eq!(from, tx.local_addr().ok());
            let at = at.expect("timestamp");
            assert!(at >= before, "kernel stamp {at} before send {before}");
        }
        assert!(batch.get(5, 0).is_none());
        assert!(batch.get(0, 1).is_none());
        assert_eq!(batch.recv(rx.as_raw_fd()).expect("recv"), 0);
        assert!(batch.is_empty());
    }

    #[test]
    fn a_gso_send_arrives_whole_and_splits_into_its_segments() {
        let (rx, tx) = socket_pair(enable_gro, "UDP_GRO");
        let seg: libc::c_int = 100;
        // SAFETY: setsockopt reads one c_int from a live local.
        let rc = unsafe {
            libc::setsockopt(
                tx.as_raw_fd(),
                libc::SOL_UDP,
                103, // UDP_SEGMENT
                (&raw const seg).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "UDP_SEGMENT");
        let mut data = vec![0u8; 340];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i / 100) as u8;
        }
        tx.send_to(&data, rx.local_addr().expect("addr"))
            .expect("send");
        let mut batch = RxBatch::new();
        assert_eq!(batch.recv(rx.as_raw_fd()).expect("recv"), 1);
        assert_eq!(batch.segments(0), 4);
        for seg in 0..4 {
            let (d, _, _) = batch.get(0, seg).expect("segment");
            assert_eq!(d.len(), if seg == 3 { 40 } else { 100 });
            assert!(d.iter().all(|b| usize::from(*b) == seg));
        }
        assert!(batch.get(0, 4).is_none());
    }
}

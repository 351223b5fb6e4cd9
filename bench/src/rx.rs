//! Batched receive for the simulated clients: one `recvmmsg` takes every datagram waiting on
//! a socket (up to [`BATCH`]), each with the kernel's receive timestamp (`SO_TIMESTAMPNS`).
//!
//! The timestamp is what makes the latency figure honest. It is taken when the datagram
//! reaches the socket, before the load generator's own queueing: a client thread that wakes
//! late, or that deliberately lets packets pile up to read them in one call, still measures
//! the server's delay, not its own. It is `CLOCK_REALTIME`, so stamps are written on that
//! clock too ([`crate::media::stamp_clock_ns`]).

use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Most datagrams one call takes.
pub const BATCH: usize = 32;
/// Bytes per receive buffer (a datagram longer than this is truncated and fails SRTP).
pub const BUF: usize = 2048;
/// Room for one `SCM_TIMESTAMPNS` control message (a timespec), with slack.
const CMSG_WORDS: usize = 8;

/// Receive buffers and the `mmsghdr` array of one thread.
pub struct RxBatch {
    bufs: Box<[[u8; BUF]]>,
    lens: [usize; BATCH],
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
            bufs: vec![[0u8; BUF]; BATCH].into_boxed_slice(),
            lens: [0; BATCH],
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
                iov_base: self.bufs[i].as_mut_ptr().cast(),
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
            self.lens[i] = (self.hdrs[i].msg_len as usize).min(BUF);
            self.stamps[i] = read_timestamp(&self.hdrs[i].msg_hdr);
        }
        Ok(self.count)
    }

    /// Datagrams the last [`Self::recv`] took.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the last [`Self::recv`] took nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Datagram `i` of the last call: its bytes (writable, for in-place decryption), its
    /// source, and the kernel's receive time on `CLOCK_REALTIME` in nanoseconds when it gave
    /// one.
    pub fn get(&mut self, i: usize) -> Option<(&mut [u8], Option<SocketAddr>, Option<u64>)> {
        if i >= self.count {
            return None;
        }
        let from = read_addr(&self.names[i]);
        let len = self.lens[i];
        Some((&mut self.bufs[i][..len], from, self.stamps[i]))
    }
}

/// Asks the kernel to stamp every datagram `fd` receives (`SO_TIMESTAMPNS`).
///
/// # Errors
/// The kernel's.
pub fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live c_int.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
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

fn read_timestamp(h: &libc::msghdr) -> Option<u64> {
    // SAFETY: `h` was filled by recvmmsg; CMSG_FIRSTHDR/NXTHDR stay within msg_control and
    // msg_controllen, and a SCM_TIMESTAMPNS payload is one timespec (read unaligned).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
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

    #[test]
    fn one_call_takes_every_waiting_datagram_with_its_source_and_a_kernel_timestamp() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        rx.set_nonblocking(true).expect("nonblocking");
        enable_timestamps(rx.as_raw_fd()).expect("SO_TIMESTAMPNS");
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let before = crate::media::stamp_clock_ns();
        for i in 0..5u8 {
            tx.send_to(&[i; 100], rx.local_addr().expect("addr"))
                .expect("send");
        }
        let mut batch = RxBatch::new();
        assert_eq!(batch.recv(rx.as_raw_fd()).expect("recv"), 5);
        for i in 0..5 {
            let (data, from, at) = batch.get(i).expect("datagram");
            assert_eq!(data.len(), 100);
            assert_eq!(data[0], i as u8);
            assert_eq!(from, tx.local_addr().ok());
            let at = at.expect("timestamp");
            assert!(at >= before, "kernel stamp {at} before send {before}");
        }
        assert!(batch.get(5).is_none());
        assert_eq!(batch.recv(rx.as_raw_fd()).expect("recv"), 0);
        assert!(batch.is_empty());
    }
}

//! UDP I/O for one shard: sockets, the wakeup eventfd, the send queue with its UDP GSO
//! grouping, and the two backends (io_uring and epoll + recvmmsg/sendmmsg).
//!
//! A backend does three things for the shard loop: hand every received datagram to a sink
//! (decrypted in place there, so the buffer is writable), send everything queued in a
//! [`TxQueue`] with as few system calls as it can, and sleep until a datagram, a wakeup or a
//! deadline.

pub(crate) mod epoll;
mod sockaddr;
pub(crate) mod tx;
pub(crate) mod uring;

use std::io;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

pub(crate) use tx::TxQueue;

/// Largest datagram a shard receives; larger ones are counted as truncated.
pub(crate) const MAX_DATAGRAM: usize = 1800;

/// One datagram handed to the shard: which socket, from where, the bytes.
pub(crate) trait RecvSink {
    /// Handles one datagram; `Break` asks the backend to stop for this iteration (the send
    /// queue is filling up) and keep the rest for the next.
    fn datagram(&mut self, sock: usize, remote: SocketAddr, buf: &mut [u8]) -> ControlFlow<()>;
    /// A datagram that did not fit a receive buffer.
    fn truncated(&mut self);
}

/// What a backend did with a flush.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SendReport {
    pub(crate) datagrams: u64,
    pub(crate) bytes: u64,
    pub(crate) sends: u64,
    pub(crate) gso_sends: u64,
    pub(crate) gso_datagrams: u64,
    pub(crate) failed: u64,
}

/// The operations the shard loop needs from its I/O backend.
pub(crate) trait Backend {
    /// Hands received datagrams to `sink`, at most `budget` of them.
    fn recv(&mut self, sink: &mut dyn RecvSink, budget: usize) -> usize;
    /// Sends everything in `tx` and empties it.
    fn flush(&mut self, tx: &mut TxQueue) -> SendReport;
    /// Sleeps until something may be ready or `timeout` passed (`None`: no deadline).
    fn wait(&mut self, timeout: Option<Duration>);
    /// Starts receiving on another socket (an RTP input) at run time; returns the index its
    /// datagrams are handed to the sink with. Indices of removed sockets are reused.
    fn add_socket(&mut self, sock: Socket) -> io::Result<usize>;
    /// Stops receiving on socket `index` (one [`Self::add_socket`] returned) and closes it
    /// as soon as the kernel lets go of it. Datagrams already queued for it are discarded.
    fn remove_socket(&mut self, index: usize);
}

/// The shard's UDP sockets, bound at start so their addresses are known before any peer.
#[derive(Debug)]
pub(crate) struct Sockets {
    pub(crate) socks: Vec<Socket>,
    pub(crate) addrs: Vec<SocketAddr>,
}

impl Sockets {
    /// Binds one non-blocking UDP socket per address (port 0: any free port).
    pub(crate) fn bind(addrs: &[SocketAddr]) -> io::Result<Self> {
        let mut socks = Vec::with_capacity(addrs.len());
        let mut bound = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let (s, local) = bind_udp(*addr)?;
            socks.push(s);
            bound.push(local);
        }
        Ok(Self {
            socks,
            addrs: bound,
        })
    }

    /// The socket index for sending to `remote`: the first socket of its address family.
    pub(crate) fn index_for(addrs: &[SocketAddr], remote: &SocketAddr) -> Option<usize> {
        addrs.iter().position(|a| a.is_ipv4() == remote.is_ipv4())
    }
}

/// Binds one non-blocking UDP socket to `addr` (port 0: any free port); returns it with the
/// address it got.
pub(crate) fn bind_udp(addr: SocketAddr) -> io::Result<(Socket, SocketAddr)> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    // Larger buffers absorb bursts between loop iterations; the kernel caps them at
    // net.core.[rw]mem_max, which is fine.
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    let local = s
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("socket has no IP address"))?;
    Ok((s, local))
}

/// Marks everything `sock` sends with the DSCP code point `dscp` (the upper six bits of the
/// IPv4 TOS / IPv6 traffic class byte), as Janus does for its ICE sockets.
pub(crate) fn set_dscp(sock: &Socket, dscp: u8) -> io::Result<()> {
    let class = u32::from(dscp & 0x3f) << 2;
    match sock.local_addr()?.as_socket() {
        Some(SocketAddr::V6(_)) => sock.set_tclass_v6(class),
        _ => sock.set_tos_v4(class),
    }
}

/// Whether the kernel takes UDP_SEGMENT on this socket (Linux ≥ 4.18).
pub(crate) fn gso_supported(sock: &Socket) -> bool {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `v`, a live c_int, and updates len.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_UDP,
            tx::UDP_SEGMENT,
            (&raw mut v).cast(),
            &raw mut len,
        )
    };
    rc == 0
}

/// A non-blocking eventfd: the wakeup of a shard (commands, packets from other shards) or of
/// the control thread (events). Writing is async-signal-safe and lock-free.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new eventfd.
    ///
    /// # Errors
    /// The kernel's, from `eventfd(2)`.
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Makes the fd readable (wakes whoever polls it).
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own. A full counter
        // (EAGAIN) still leaves the fd readable, which is all a wakeup needs.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8);
        }
    }

    /// Resets the fd to not readable.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN (nothing pending) is fine.
        unsafe {
            libc::read(self.fd.as_raw_fd(), (&raw mut v).cast(), 8);
        }
    }

    /// The descriptor, to register with an event loop (e.g. mio's `SourceFd`).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

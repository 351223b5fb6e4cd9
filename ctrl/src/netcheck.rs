//! The network checks behind Admin `resolve_address` and `test_stun`.
//!
//! Both block (a DNS lookup, a STUN binding request with a timeout), and the control thread
//! must never block, so the [`ControlPlane`](crate::ControlPlane) only validates the request
//! and hands out a [`NetJob`]; the server runs it on a small pool of worker threads
//! (`Workers`: a bounded job queue, a bounded number in flight) and feeds the
//! [`NetOutcome`] back on the control thread, woken through its `mio::Waker`.
//!
//! The checks follow Janus 1.1.2 (`janus_process_incoming_admin_request` and
//! `janus_ice_test_stun_server`): the first address `getaddrinfo` returns, a binding request
//! from a socket on the wildcard address of that family (loopback for a loopback server; port
//! `localport` or any), the
//! XOR-MAPPED-ADDRESS of the answer (MAPPED-ADDRESS for old servers), elapsed time in µs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portunus_stun::{Class, MessageWriter, Method, StunMessage, TransactionId};

/// Reason of the 490 reply when the address does not resolve (Janus's text).
pub const RESOLVE_FAILED: &str = "Could not resolve address";
/// Reason of the 490 reply when the STUN exchange fails or times out (Janus's text).
pub const STUN_FAILED: &str = "STUN request failed";

/// A blocking check to run off the control thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetJob {
    /// `resolve_address`: resolve a host name or parse a literal address.
    Resolve {
        /// The `address` of the request.
        address: String,
    },
    /// `test_stun`: resolve `address`, send it a binding request, read the mapped address.
    Stun {
        /// The STUN server's name or address.
        address: String,
        /// Its UDP port (0 or unusable ports fail the request).
        port: u16,
        /// Local port to send from; 0 lets the kernel choose.
        local_port: u16,
        /// How long to wait for the response.
        timeout: Duration,
    },
}

/// What a [`NetJob`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetOutcome {
    /// The address resolved.
    Resolved {
        /// The first address found.
        ip: IpAddr,
        /// Microseconds the resolution took.
        elapsed_us: u64,
    },
    /// The STUN server answered.
    Mapped {
        /// The address and port it saw.
        public: SocketAddr,
        /// Microseconds resolution plus exchange took.
        elapsed_us: u64,
    },
    /// The check failed; the 490 reason to reply with ([`RESOLVE_FAILED`], [`STUN_FAILED`]).
    Failed(&'static str),
}

impl NetJob {
    /// The failure reply when the job cannot be run at all (too many in flight): the same
    /// reason a failed run gives, so clients see only Janus's texts.
    pub fn refused(&self) -> NetOutcome {
        match self {
            Self::Resolve { .. } => NetOutcome::Failed(RESOLVE_FAILED),
            Self::Stun { .. } => NetOutcome::Failed(STUN_FAILED),
        }
    }

    /// The outcome, when it needs no network and cannot block: resolving a literal address
    /// (or an empty one). The control plane answers those at once.
    pub fn run_if_immediate(&self) -> Option<NetOutcome> {
        match self {
            Self::Resolve { address }
                if address.is_empty() || address.parse::<IpAddr>().is_ok() =>
            {
                Some(self.run())
            }
            _ => None,
        }
    }

    /// Run the check on this thread. Blocks for the DNS lookup and up to `timeout` for STUN.
    pub fn run(&self) -> NetOutcome {
        let start = Instant::now();
        match self {
            Self::Resolve { address } => match resolve(address) {
                Some(ip) => NetOutcome::Resolved {
                    ip,
                    elapsed_us: micros(start.elapsed()),
                },
                None => NetOutcome::Failed(RESOLVE_FAILED),
            },
            Self::Stun {
                address,
                port,
                local_port,
                timeout,
            } => {
                let Some(ip) = resolve(address) else {
                    return NetOutcome::Failed(RESOLVE_FAILED);
                };
                match binding_request(SocketAddr::new(ip, *port), *local_port, *timeout) {
                    Some(public) => NetOutcome::Mapped {
                        public,
                        elapsed_us: micros(start.elapsed()),
                    },
                    None => NetOutcome::Failed(STUN_FAILED),
                }
            }
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The first address `getaddrinfo` gives for `address` (literals parse without a lookup).
fn resolve(address: &str) -> Option<IpAddr> {
    if address.is_empty() {
        return None;
    }
    (address, 0u16)
        .to_socket_addrs()
        .ok()?
        .next()
        .map(|a| a.ip())
}

/// One binding request to `server` from `local_port`; the mapped address of the first
/// success response with our transaction id, or `None` on error, error response or timeout.
pub fn binding_request(
    server: SocketAddr,
    local_port: u16,
    timeout: Duration,
) -> Option<SocketAddr> {
    if server.port() == 0 || timeout.is_zero() {
        return None;
    }
    // Janus sends from the wildcard address; a loopback server is reached from loopback so
    // that checking a local server opens nothing to the network.
    let local = match server.ip() {
        ip if ip.is_loopback() => ip,
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind(SocketAddr::new(local, local_port)).ok()?;
    let id = TransactionId(rand::random());
    let mut request = [0u8; 64];
    let len = MessageWriter::new(&mut request, Class::Request, Method::BINDING, id)
        .finish()
        .ok()?;
    socket.send_to(request.get(..len)?, server).ok()?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        socket.set_read_timeout(Some(left)).ok()?;
        let n = match socket.recv_from(&mut buf) {
            Ok((n, _)) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None, // timeout, or an ICMP error reported on the socket
        };
        let Some(msg) = buf.get(..n).and_then(|b| StunMessage::parse(b).ok()) else {
            continue; // not STUN: keep waiting for the answer
        };
        if msg.transaction_id() != id || msg.method() != Method::BINDING {
            continue;
        }
        return match msg.class() {
            Class::SuccessResponse => msg.xor_mapped_address().or_else(|| msg.mapped_address()),
            _ => None,
        };
    }
}

/// An Admin request waiting for its network check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdminTicket(pub u64);

/// Worker threads the pool starts (one slow STUN server does not hold up a lookup).
const WORKERS: usize = 2;
/// Jobs queued or running at once; more are refused at once with the verb's failure.
pub const MAX_IN_FLIGHT: usize = 8;

/// The pool that runs [`NetJob`]s: threads start with the first job and end when the pool is
/// dropped (after their current job).
pub(crate) struct Workers {
    jobs: Option<SyncSender<(AdminTicket, NetJob)>>,
    results: Receiver<(AdminTicket, NetOutcome)>,
    results_tx: Sender<(AdminTicket, NetOutcome)>,
    wake: Arc<dyn Fn() + Send + Sync>,
    in_flight: usize,
}

impl Workers {
    /// A pool whose workers call `wake` after each result.
    pub(crate) fn new(wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        let (results_tx, results) = std::sync::mpsc::channel();
        Self {
            jobs: None,
            results,
            results_tx,
            wake,
            in_flight: 0,
        }
    }

    /// Queue `job`; gives it back when [`MAX_IN_FLIGHT`] are already queued or running, or
    /// no worker thread could be started.
    pub(crate) fn submit(&mut self, ticket: AdminTicket, job: NetJob) -> Result<(), NetJob> {
        if self.in_flight >= MAX_IN_FLIGHT {
            return Err(job);
        }
        if self.jobs.is_none() {
            self.jobs = self.start();
        }
        let Some(jobs) = &self.jobs else {
            return Err(job);
        };
        match jobs.try_send((ticket, job)) {
            Ok(()) => {
                self.in_flight += 1;
                Ok(())
            }
            Err(TrySendError::Full((_, job)) | TrySendError::Disconnected((_, job))) => Err(job),
        }
    }

    /// Results that came back since the last call.
    pub(crate) fn drain(&mut self) -> Vec<(AdminTicket, NetOutcome)> {
        let out: Vec<_> = self.results.try_iter().collect();
        self.in_flight = self.in_flight.saturating_sub(out.len());
        out
    }

    fn start(&self) -> Option<SyncSender<(AdminTicket, NetJob)>> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(AdminTicket, NetJob)>(MAX_IN_FLIGHT);
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..WORKERS {
            let rx = Arc::clone(&rx);
            let results = self.results_tx.clone();
            let wake = Arc::clone(&self.wake);
            let spawned = std::thread::Builder::new()
                .name(format!("portunus-netcheck-{i}"))
                .spawn(move || {
                    loop {
                        // The lock only hands the next job to one worker; it is not held while
                        // the job runs.
                        let next = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok((ticket, job)) = next else {
                            return; // the pool is gone
                        };
                        if results.send((ticket, job.run())).is_err() {
                            return;
                        }
                        wake();
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::warn!(error = %e, "cannot start a network-check worker"),
            }
        }
        (started > 0).then_some(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_addresses_resolve_without_a_lookup() {
        let run = |a: &str| NetJob::Resolve { address: a.into() }.run();
        assert!(
            matches!(run("192.0.2.7"), NetOutcome::Resolved { ip, .. } if ip == IpAddr::from([192, 0, 2, 7]))
        );
        assert!(
            matches!(run("::1"), NetOutcome::Resolved { ip, .. } if ip == IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(run(""), NetOutcome::Failed(RESOLVE_FAILED));
    }

    #[test]
    fn port_zero_fails_without_sending() {
        let job = NetJob::Stun {
            address: "127.0.0.1".into(),
            port: 0,
            local_port: 0,
            timeout: Duration::from_millis(50),
        };
        assert_eq!(job.run(), NetOutcome::Failed(STUN_FAILED));
    }
}

//! Connection state: plain or TLS streams, HTTP buffers, WebSocket.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::{TcpListener, TcpStream};
use openssl::ssl::{MidHandshakeSslStream, SslStream};
use tungstenite::WebSocket;

use super::http::Request;
use crate::api::ApiKind;
use crate::{AdminTicket, SessionId};

/// Connections the kernel completes and queues while the loop is busy elsewhere. mio and std
/// use 128: a burst of a thousand clients (a reconnect storm, a load test) then sees its SYNs
/// dropped and retried one and three seconds later. The kernel caps this at
/// `net.core.somaxconn` (4096 by default since Linux 5.4).
const LISTEN_BACKLOG: i32 = 4096;

/// Bind a non-blocking TCP listener with [`LISTEN_BACKLOG`] and `SO_REUSEADDR` (as mio does).
pub(super) fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Whether a client at `ip` may use a listener with this `acl` (Janus's rule: the address as
/// text starts with one of the prefixes; an empty list allows everyone).
pub(super) fn acl_allows(acl: &[String], ip: std::net::IpAddr) -> bool {
    if acl.is_empty() {
        return true;
    }
    let text = ip.to_string();
    acl.iter().any(|prefix| text.starts_with(prefix.as_str()))
}

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Role {
    /// Janus API or Admin API.
    pub(super) api: ApiKind,
    /// Plain HTTP requests are served.
    pub(super) http: bool,
    /// WebSocket upgrades are accepted.
    pub(super) ws: bool,
    /// Connections start with a TLS handshake.
    pub(super) tls: bool,
}

/// A byte stream, plain or TLS.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

/// An HTTP long poll waiting for events.
#[derive(Clone, Copy, Debug)]
pub(super) struct Parked {
    pub(super) session: SessionId,
    pub(super) max_ev: usize,
    /// Whether the connection stays open after the answer.
    pub(super) keep_alive: bool,
}

/// An HTTP request whose Admin reply waits for a network check.
#[derive(Clone, Debug)]
pub(super) struct Awaiting {
    pub(super) ticket: AdminTicket,
    /// The request without its body (its CORS headers and keep-alive shape the answer).
    pub(super) request: Request,
}

/// An HTTP/1.1 connection.
pub(super) struct HttpConn {
    pub(super) stream: Stream,
    pub(super) rbuf: Vec<u8>,
    pub(super) wbuf: Vec<u8>,
    pub(super) parked: Option<Parked>,
    /// An Admin request waiting for its network check; later requests wait behind it, so
    /// pipelined replies keep their order.
    pub(super) awaiting: Option<Box<Awaiting>>,
    pub(super) close_after_write: bool,
}

impl HttpConn {
    pub(super) fn new(stream: Stream) -> Self {
        Self {
            stream,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            parked: None,
            awaiting: None,
            close_after_write: false,
        }
    }

    /// Read everything available (edge-triggered). Returns false on EOF or error.
    pub(super) fn fill(&mut self, cap: usize) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.rbuf.extend_from_slice(&chunk[..n]);
                    if self.rbuf.len() > cap {
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Write as much of the output buffer as the socket takes. Returns false on error.
    pub(super) fn flush(&mut self) -> bool {
        let mut written = 0;
        let ok = loop {
            if written == self.wbuf.len() {
                break true;
            }
            match self.stream.write(&self.wbuf[written..]) {
                Ok(0) => break false,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break false,
            }
        };
        self.wbuf.drain(..written);
        ok
    }
}

/// What a connection currently is.
pub(super) enum State {
    /// TLS handshake in progress.
    TlsHandshake(MidHandshakeSslStream<TcpStream>),
    /// Speaking HTTP.
    Http(HttpConn),
    /// Speaking WebSocket.
    Ws(Box<WebSocket<Stream>>),
    /// Being torn down (placeholder while the state moves).
    Closed,
}

/// One accepted connection.
pub(super) struct Conn {
    pub(super) role: Role,
    pub(super) state: State,
    /// When the connection must be looked at (idle close, long-poll keepalive); `None` = never.
    pub(super) deadline: Option<Instant>,
    /// The earliest instant for which a timer-heap entry is outstanding. Entries are re-armed
    /// lazily when they fire, so the heap holds at most a couple of entries per connection
    /// however often the deadline moves.
    pub(super) armed_at: Option<Instant>,
    /// A WebSocket ping went out and nothing has come back since (`pingpong_timeout` runs).
    pub(super) ping_outstanding: bool,
}

impl Conn {
    pub(super) fn new(role: Role, state: State) -> Self {
        Self {
            role,
            state,
            deadline: None,
            armed_at: None,
            ping_outstanding: false,
        }
    }

    /// Move the deadline; returns the instant to push on the timer heap, if one is needed.
    pub(super) fn set_deadline(&mut self, at: Option<Instant>) -> Option<Instant> {
        self.deadline = at;
        let at = at?;
        if self.armed_at.is_some_and(|armed| armed <= at) {
            return None; // the outstanding entry fires first and re-arms
        }
        self.armed_at = Some(at);
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn acl_matches_address_prefixes_as_janus_does() {
        let acl = vec!["127.".to_owned(), "192.168.0.".to_owned(), "::1".to_owned()];
        assert!(acl_allows(&acl, "127.0.0.1".parse().unwrap()));
        assert!(acl_allows(&acl, "192.168.0.77".parse().unwrap()));
        assert!(acl_allows(&acl, "::1".parse().unwrap()));
        assert!(!acl_allows(&acl, "192.168.1.1".parse().unwrap()));
        assert!(!acl_allows(&acl, "10.127.0.1".parse().unwrap()));
        assert!(acl_allows(&[], "10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn listener_queues_a_burst_of_connections_nobody_accepts_yet() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // Far beyond the 128 of mio's `bind`; each connect completes from the queue alone,
        // where a full queue would drop the SYN and leave the connect waiting a second.
        let clients: Vec<_> = (0..600)
            .map(|i| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(700))
                    .unwrap_or_else(|e| panic!("connection {i} not queued: {e}"))
            })
            .collect();
        assert_eq!(clients.len(), 600);
        drop(listener);
    }
}

//! Connection state: plain or TLS streams, HTTP buffers, WebSocket.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use openssl::ssl::{MidHandshakeSslStream, SslStream};
use tungstenite::WebSocket;

use crate::SessionId;
use crate::api::ApiKind;

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

/// An HTTP/1.1 connection.
pub(super) struct HttpConn {
    pub(super) stream: Stream,
    pub(super) rbuf: Vec<u8>,
    pub(super) wbuf: Vec<u8>,
    pub(super) parked: Option<Parked>,
    pub(super) close_after_write: bool,
}

impl HttpConn {
    pub(super) fn new(stream: Stream) -> Self {
        Self {
            stream,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            parked: None,
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
}

impl Conn {
    pub(super) fn new(role: Role, state: State) -> Self {
        Self {
            role,
            state,
            deadline: None,
            armed_at: None,
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

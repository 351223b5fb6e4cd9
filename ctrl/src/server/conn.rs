//! Connection state: plain or TLS streams, HTTP buffers, WebSocket.

use std::io::{self, Read, Write};

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
    /// Generation of the current deadline (stale timer entries are ignored).
    pub(super) timer_gen: u64,
}

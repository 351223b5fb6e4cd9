//! The in-memory datagram pipe OpenSSL reads from and writes to.
//!
//! OpenSSL talks to it through the `openssl` crate's custom BIO, one `read` or `write` per
//! datagram: during the handshake OpenSSL stacks a buffering BIO on top and flushes each
//! MTU-sized chunk of a flight as one write; afterwards every record is one write. So each
//! `write` here is exactly one outgoing datagram.

use std::collections::VecDeque;
use std::io;

/// Datagrams in both directions; owns no socket.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    /// The datagram being fed to OpenSSL, if it has not read it yet.
    incoming: Vec<u8>,
    has_incoming: bool,
    /// Datagrams OpenSSL wrote, oldest first.
    outgoing: VecDeque<Vec<u8>>,
    /// Emptied buffers for reuse, so steady traffic does not allocate per datagram.
    spare: Vec<Vec<u8>>,
}

impl Pipe {
    /// Offers one datagram to the next `read`.
    pub(crate) fn push_incoming(&mut self, datagram: &[u8]) {
        self.incoming.clear();
        self.incoming.extend_from_slice(datagram);
        self.has_incoming = true;
    }

    /// Forgets an offered datagram OpenSSL did not read.
    pub(crate) fn clear_incoming(&mut self) {
        self.has_incoming = false;
    }

    /// Length of the oldest outgoing datagram.
    pub(crate) fn next_outgoing_len(&self) -> Option<usize> {
        self.outgoing.front().map(Vec::len)
    }

    /// Moves the oldest outgoing datagram into `out`. `None` when there is none or when it
    /// does not fit (it then stays queued).
    pub(crate) fn pop_outgoing(&mut self, out: &mut [u8]) -> Option<usize> {
        let len = self.outgoing.front()?.len();
        let dst = out.get_mut(..len)?;
        let datagram = self.outgoing.pop_front()?;
        dst.copy_from_slice(&datagram);
        if self.spare.len() < MAX_SPARE {
            self.spare.push(datagram);
        }
        Some(len)
    }

    /// Drops everything queued for sending.
    pub(crate) fn discard_outgoing(&mut self) {
        self.outgoing.clear();
    }
}

impl io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.has_incoming {
            // The custom BIO turns this into "retry read", i.e. SSL_ERROR_WANT_READ.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.has_incoming = false;
        // Datagram semantics: a datagram longer than OpenSSL's buffer is cut, and OpenSSL
        // then discards the broken record (RFC 6347 §4.1.2.7).
        let n = self.incoming.len().min(buf.len());
        buf[..n].copy_from_slice(&self.incoming[..n]);
        Ok(n)
    }
}

impl io::Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut datagram = self.spare.pop().unwrap_or_default();
        datagram.clear();
        datagram.extend_from_slice(buf);
        self.outgoing.push_back(datagram);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Spare buffers kept per connection.
const MAX_SPARE: usize = 8;

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn keeps_datagram_boundaries() {
        let mut p = Pipe::default();
        p.write_all(b"one").unwrap();
        p.write_all(b"three").unwrap();
        let mut out = [0u8; 8];
        assert_eq!(p.next_outgoing_len(), Some(3));
        assert_eq!(p.pop_outgoing(&mut out), Some(3));
        assert_eq!(&out[..3], b"one");
        assert_eq!(p.pop_outgoing(&mut out), Some(5));
        assert_eq!(&out[..5], b"three");
        assert_eq!(p.pop_outgoing(&mut out), None);
    }

    #[test]
    fn too_small_buffer_leaves_datagram_queued() {
        let mut p = Pipe::default();
        p.write_all(b"datagram").unwrap();
        assert_eq!(p.pop_outgoing(&mut [0u8; 4]), None);
        assert_eq!(p.pop_outgoing(&mut [0u8; 8]), Some(8));
    }

    #[test]
    fn read_yields_one_datagram_then_would_block() {
        let mut p = Pipe::default();
        let mut buf = [0u8; 16];
        assert_eq!(
            p.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        p.push_incoming(b"abc");
        assert_eq!(p.read(&mut buf).unwrap(), 3);
        assert_eq!(
            p.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}

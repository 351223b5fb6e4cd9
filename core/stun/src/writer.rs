//! Allocation-free STUN message building into a caller-owned buffer.

use core::net::SocketAddr;

use crate::addr;
use crate::error::StunError;
use crate::integrity::{IntegrityKey, fingerprint_of};
use crate::types::{AttributeType, Class, Method, TransactionId, encode_message_type};
use crate::{HEADER_LEN, MAGIC_COOKIE};

/// Longest USERNAME written: two 256-character ICE ufrags and a colon (RFC 8445 §5.3).
const MAX_USERNAME: usize = 513;
/// Longest REALM, NONCE, SOFTWARE or reason phrase: 127/128 characters of up to 6 bytes
/// (RFC 8489 §14.8-§14.14).
const MAX_TEXT: usize = 763;

/// Builds one STUN message into a caller-owned buffer without allocating.
///
/// The `add_*` methods chain; the first failure (buffer too small, value too long) sticks
/// and is returned by the `finish*` call, which writes the length field, optionally appends
/// MESSAGE-INTEGRITY and FINGERPRINT, and returns the message length.
///
/// ```
/// use portunus_stun::{Class, IntegrityKey, Method, MessageWriter, StunMessage, TransactionId};
///
/// let key = IntegrityKey::new(b"VOkJxbRl1RmTxUk/WvJxBt");
/// let mut buf = [0u8; 128];
/// let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, TransactionId([7; 12]));
/// w.add_username(b"evtj:h6vY").add_priority(0x6e00_01ff).add_ice_controlling(42);
/// let len = w.finish_with_integrity_and_fingerprint(&key)?;
///
/// let msg = StunMessage::parse(&buf[..len])?;
/// assert!(msg.verify_integrity_with(&key) && msg.verify_fingerprint());
/// assert_eq!(msg.ice_controlling(), Some(42));
/// # Ok::<(), portunus_stun::StunError>(())
/// ```
#[derive(Debug)]
pub struct MessageWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    transaction_id: TransactionId,
    padding: u8,
    error: Option<StunError>,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message of `class` and `method` in `out`, writing the 20-byte header.
    pub fn new(
        out: &'b mut [u8],
        class: Class,
        method: Method,
        transaction_id: TransactionId,
    ) -> Self {
        let mut w = Self {
            buf: out,
            len: HEADER_LEN,
            transaction_id,
            padding: 0,
            error: None,
        };
        match w.buf.get_mut(..HEADER_LEN) {
            Some(h) => {
                h[0..2].copy_from_slice(&encode_message_type(class, method).to_be_bytes());
                h[2..4].copy_from_slice(&0u16.to_be_bytes());
                h[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                h[8..20].copy_from_slice(&transaction_id.0);
            }
            None => w.error = Some(StunError::BufferTooSmall),
        }
        w
    }

    /// Pads attribute values with `byte` instead of zero. RFC 8489 §14 lets senders choose;
    /// the RFC 5769 vectors use 0x20, so only a byte-exact rebuild of them needs this.
    pub fn set_padding_byte(&mut self, byte: u8) -> &mut Self {
        self.padding = byte;
        self
    }

    /// Bytes written so far (header and attributes, no trailers yet).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True when no attribute has been added yet (the message is only a header).
    pub const fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Appends an attribute with an arbitrary value, padded to 4 bytes.
    pub fn add_attribute(&mut self, typ: AttributeType, value: &[u8]) -> &mut Self {
        if let Some(v) = self.reserve(typ, value.len()) {
            v.copy_from_slice(value);
        }
        self
    }

    /// Appends USERNAME (RFC 8489 §14.3); for ICE `remote-ufrag:local-ufrag` (RFC 8445 §7.2.2).
    pub fn add_username(&mut self, username: &[u8]) -> &mut Self {
        self.add_text(AttributeType::USERNAME, username, MAX_USERNAME)
    }

    /// Appends USERNAME built from `first ":" second` without a temporary buffer.
    pub fn add_username_parts(&mut self, first: &[u8], second: &[u8]) -> &mut Self {
        let len = first.len() + 1 + second.len();
        if len > MAX_USERNAME {
            return self.fail(StunError::ValueTooLong {
                attr: AttributeType::USERNAME,
            });
        }
        if let Some(v) = self.reserve(AttributeType::USERNAME, len) {
            v[..first.len()].copy_from_slice(first);
            v[first.len()] = b':';
            v[first.len() + 1..].copy_from_slice(second);
        }
        self
    }

    /// Appends SOFTWARE (RFC 8489 §14.14).
    pub fn add_software(&mut self, software: &[u8]) -> &mut Self {
        self.add_text(AttributeType::SOFTWARE, software, MAX_TEXT)
    }

    /// Appends REALM (RFC 8489 §14.9).
    pub fn add_realm(&mut self, realm: &[u8]) -> &mut Self {
        self.add_text(AttributeType::REALM, realm, MAX_TEXT)
    }

    /// Appends NONCE (RFC 8489 §14.10).
    pub fn add_nonce(&mut self, nonce: &[u8]) -> &mut Self {
        self.add_text(AttributeType::NONCE, nonce, MAX_TEXT)
    }

    /// Appends PRIORITY (RFC 8445 §7.1.1).
    pub fn add_priority(&mut self, priority: u32) -> &mut Self {
        self.add_attribute(AttributeType::PRIORITY, &priority.to_be_bytes())
    }

    /// Appends USE-CANDIDATE (RFC 8445 §7.1.2).
    pub fn add_use_candidate(&mut self) -> &mut Self {
        self.add_attribute(AttributeType::USE_CANDIDATE, &[])
    }

    /// Appends ICE-CONTROLLING with `tie_breaker` (RFC 8445 §7.1.3).
    pub fn add_ice_controlling(&mut self, tie_breaker: u64) -> &mut Self {
        self.add_attribute(AttributeType::ICE_CONTROLLING, &tie_breaker.to_be_bytes())
    }

    /// Appends ICE-CONTROLLED with `tie_breaker` (RFC 8445 §7.1.3).
    pub fn add_ice_controlled(&mut self, tie_breaker: u64) -> &mut Self {
        self.add_attribute(AttributeType::ICE_CONTROLLED, &tie_breaker.to_be_bytes())
    }

    /// Appends XOR-MAPPED-ADDRESS (RFC 8489 §14.2), XORed with this message's transaction id.
    pub fn add_xor_mapped_address(&mut self, addr: SocketAddr) -> &mut Self {
        let tid = self.transaction_id;
        if let Some(v) = self.reserve(AttributeType::XOR_MAPPED_ADDRESS, addr::encoded_len(&addr)) {
            addr::encode(v, &addr, Some(&tid));
        }
        self
    }

    /// Appends MAPPED-ADDRESS (RFC 8489 §14.1).
    pub fn add_mapped_address(&mut self, addr: SocketAddr) -> &mut Self {
        if let Some(v) = self.reserve(AttributeType::MAPPED_ADDRESS, addr::encoded_len(&addr)) {
            addr::encode(v, &addr, None);
        }
        self
    }

    /// Appends ERROR-CODE (RFC 8489 §14.8); `code` must be 300..=699. An empty `reason`
    /// is sent as given; [`crate::codes::reason_phrase`] has the usual phrases.
    pub fn add_error_code(&mut self, code: u16, reason: &str) -> &mut Self {
        if !(300..=699).contains(&code) {
            return self.fail(StunError::InvalidErrorCode(code));
        }
        if reason.len() > MAX_TEXT {
            return self.fail(StunError::ValueTooLong {
                attr: AttributeType::ERROR_CODE,
            });
        }
        if let Some(v) = self.reserve(AttributeType::ERROR_CODE, 4 + reason.len()) {
            v[0] = 0;
            v[1] = 0;
            v[2] = (code / 100) as u8;
            v[3] = (code % 100) as u8;
            v[4..].copy_from_slice(reason.as_bytes());
        }
        self
    }

    /// Appends UNKNOWN-ATTRIBUTES (RFC 8489 §14.13) listing `types`, for a 420 response.
    pub fn add_unknown_attributes(&mut self, types: &[AttributeType]) -> &mut Self {
        if let Some(v) = self.reserve(AttributeType::UNKNOWN_ATTRIBUTES, types.len() * 2) {
            for (chunk, t) in v.chunks_exact_mut(2).zip(types) {
                chunk.copy_from_slice(&t.0.to_be_bytes());
            }
        }
        self
    }

    /// Writes the length field and returns the message length.
    ///
    /// # Errors
    /// The first error of an `add_*` call ([`StunError::BufferTooSmall`],
    /// [`StunError::ValueTooLong`], [`StunError::InvalidErrorCode`]).
    pub fn finish(mut self) -> Result<usize, StunError> {
        self.finish_inner(None, false)
    }

    /// Appends FINGERPRINT and returns the message length.
    ///
    /// # Errors
    /// As [`Self::finish`].
    pub fn finish_with_fingerprint(mut self) -> Result<usize, StunError> {
        self.finish_inner(None, true)
    }

    /// Appends MESSAGE-INTEGRITY keyed by `key` and returns the message length.
    ///
    /// # Errors
    /// As [`Self::finish`].
    pub fn finish_with_integrity(mut self, key: &IntegrityKey) -> Result<usize, StunError> {
        self.finish_inner(Some(key), false)
    }

    /// Appends MESSAGE-INTEGRITY keyed by `key`, then FINGERPRINT, as every ICE check and
    /// response carries (RFC 8445 §7.2.2, §7.3.1.5), and returns the message length.
    ///
    /// # Errors
    /// As [`Self::finish`].
    pub fn finish_with_integrity_and_fingerprint(
        mut self,
        key: &IntegrityKey,
    ) -> Result<usize, StunError> {
        self.finish_inner(Some(key), true)
    }

    fn finish_inner(
        &mut self,
        key: Option<&IntegrityKey>,
        fingerprint: bool,
    ) -> Result<usize, StunError> {
        if let Some(key) = key {
            let off = self.len;
            if self.reserve(AttributeType::MESSAGE_INTEGRITY, 20).is_some() {
                let tag = key.sign(self.buf, off, (self.len - HEADER_LEN) as u16);
                self.buf[off + 4..off + 24].copy_from_slice(&tag);
            }
        }
        if fingerprint {
            let off = self.len;
            if self.reserve(AttributeType::FINGERPRINT, 4).is_some() {
                self.write_length();
                let crc = fingerprint_of(&self.buf[..off]);
                self.buf[off + 4..off + 8].copy_from_slice(&crc.to_be_bytes());
            }
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        self.write_length();
        Ok(self.len)
    }

    fn write_length(&mut self) {
        // `reserve` keeps the attribute bytes within u16::MAX.
        let length = (self.len - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&length.to_be_bytes());
    }

    fn add_text(&mut self, typ: AttributeType, value: &[u8], max: usize) -> &mut Self {
        if value.len() > max {
            return self.fail(StunError::ValueTooLong { attr: typ });
        }
        self.add_attribute(typ, value)
    }

    fn fail(&mut self, e: StunError) -> &mut Self {
        self.error.get_or_insert(e);
        self
    }

    /// Writes the type-length header and padding of a `len`-byte attribute and returns its
    /// value bytes to fill in, or records an error and returns `None`.
    fn reserve(&mut self, typ: AttributeType, len: usize) -> Option<&mut [u8]> {
        if self.error.is_some() {
            return None;
        }
        let padded = (len + 3) & !3;
        let end = self.len + 4 + padded;
        if len > usize::from(u16::MAX) || end - HEADER_LEN > usize::from(u16::MAX) {
            self.error = Some(StunError::ValueTooLong { attr: typ });
            return None;
        }
        if end > self.buf.len() {
            self.error = Some(StunError::BufferTooSmall);
            return None;
        }
        let start = self.len;
        self.buf[start..start + 2].copy_from_slice(&typ.0.to_be_bytes());
        self.buf[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
        self.buf[start + 4 + len..end].fill(self.padding);
        self.len = end;
        Some(&mut self.buf[start + 4..start + 4 + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StunMessage;

    #[test]
    fn reports_buffer_too_small_instead_of_panicking() {
        let mut tiny = [0u8; 10];
        let w = MessageWriter::new(
            &mut tiny,
            Class::Request,
            Method::BINDING,
            TransactionId::default(),
        );
        assert_eq!(w.finish(), Err(StunError::BufferTooSmall));

        let mut buf = [0u8; 40];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId::default(),
        );
        w.add_username(b"abcd:efgh");
        // 20 + 16 fits, MESSAGE-INTEGRITY (24) does not.
        assert_eq!(
            w.finish_with_integrity(&IntegrityKey::new(b"k")),
            Err(StunError::BufferTooSmall)
        );
    }

    #[test]
    fn first_error_sticks() {
        let mut buf = [0u8; 2048];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::ErrorResponse,
            Method::BINDING,
            TransactionId::default(),
        );
        w.add_error_code(200, "no").add_username(&[b'a'; 600]);
        assert_eq!(w.finish(), Err(StunError::InvalidErrorCode(200)));
    }

    #[test]
    fn rejects_overlong_username() {
        let mut buf = [0u8; 2048];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId::default(),
        );
        w.add_username_parts(&[b'a'; 256], &[b'b'; 257]);
        assert_eq!(
            w.finish(),
            Err(StunError::ValueTooLong {
                attr: AttributeType::USERNAME
            })
        );
    }

    #[test]
    fn username_parts_join_with_colon() {
        let mut buf = [0u8; 128];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId::default(),
        );
        w.add_username_parts(b"remote", b"local");
        let n = w.finish().unwrap();
        assert_eq!(
            StunMessage::parse(&buf[..n]).unwrap().username(),
            Some(&b"remote:local"[..])
        );
    }

    #[test]
    fn empty_message_is_a_bare_header() {
        let mut buf = [0u8; 20];
        let w = MessageWriter::new(
            &mut buf,
            Class::Indication,
            Method::BINDING,
            TransactionId([2; 12]),
        );
        assert!(w.is_empty());
        assert_eq!(w.finish(), Ok(20));
        assert_eq!(&buf[..4], &[0x00, 0x11, 0, 0]);
    }
}

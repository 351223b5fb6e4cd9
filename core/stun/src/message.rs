//! Zero-copy STUN message parsing (RFC 8489 §5, §6.3, §14).

use core::net::SocketAddr;

use crate::addr;
use crate::error::StunError;
use crate::integrity::{IntegrityKey, fingerprint_of};
use crate::types::{AttributeType, Class, ErrorCode, Method, TransactionId, decode_message_type};
use crate::{HEADER_LEN, MAGIC_COOKIE};

/// The fixed 20-byte STUN header (RFC 8489 §5), readable without parsing attributes.
///
/// Useful when a full parse failed but a 400 response still needs the transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunHeader {
    /// Request, indication, success or error response.
    pub class: Class,
    /// The STUN method.
    pub method: Method,
    /// The length field: bytes of attributes after the header.
    pub length: u16,
    /// The 96-bit transaction id.
    pub transaction_id: TransactionId,
}

impl StunHeader {
    /// Reads the header at the start of `buf`, checking the leading zero bits and the magic
    /// cookie (RFC 8489 §6.3). Neither the length field nor the attributes are checked.
    ///
    /// # Errors
    /// [`StunError::Truncated`] below 20 bytes, [`StunError::NotStun`] for a wrong prefix.
    pub fn parse(buf: &[u8]) -> Result<Self, StunError> {
        let Some(head) = buf.get(..HEADER_LEN) else {
            return Err(StunError::Truncated);
        };
        let msg_type = read_u16(head, 0);
        if msg_type & 0xc000 != 0 || read_u32(head, 4) != MAGIC_COOKIE {
            return Err(StunError::NotStun);
        }
        let (class, method) = decode_message_type(msg_type);
        let mut tid = [0u8; 12];
        tid.copy_from_slice(&head[8..HEADER_LEN]);
        Ok(Self {
            class,
            method,
            length: read_u16(head, 2),
            transaction_id: TransactionId(tid),
        })
    }
}

/// A validated STUN message borrowed from a datagram; parsing copies nothing.
///
/// [`StunMessage::parse`] checks the framing and the shape of every attribute this crate
/// knows, so the typed getters below cannot fail: they return the first occurrence of their
/// attribute (RFC 8489 §14: later duplicates are ignored) or `None`. Attributes that follow
/// MESSAGE-INTEGRITY, other than FINGERPRINT, are ignored as RFC 8489 §14.5 requires: they are
/// neither validated nor returned.
#[derive(Debug, Clone, Copy)]
pub struct StunMessage<'a> {
    buf: &'a [u8],
    header: StunHeader,
    /// Offset of the MESSAGE-INTEGRITY attribute header, if present.
    integrity: Option<usize>,
    /// Offset of the FINGERPRINT attribute header, if present (always the last attribute).
    fingerprint: Option<usize>,
    /// End of the attributes that count: MESSAGE-INTEGRITY's end, or the end of the message
    /// (FINGERPRINT excluded), whichever comes first.
    counted_end: usize,
}

impl<'a> StunMessage<'a> {
    /// Parses one STUN message that fills `buf` exactly (one UDP datagram).
    ///
    /// # Errors
    /// Framing errors ([`StunError::Truncated`], [`StunError::NotStun`],
    /// [`StunError::BadLength`], [`StunError::AttributeOverrun`],
    /// [`StunError::FingerprintNotLast`]) and [`StunError::MalformedAttribute`] for a known
    /// attribute with a bad value. Integrity and fingerprint are checked separately by
    /// [`Self::verify_integrity`] and [`Self::verify_fingerprint`].
    pub fn parse(buf: &'a [u8]) -> Result<Self, StunError> {
        let header = StunHeader::parse(buf)?;
        let declared = usize::from(header.length);
        let actual = buf.len() - HEADER_LEN;
        if declared != actual || !declared.is_multiple_of(4) {
            return Err(StunError::BadLength { declared, actual });
        }
        let mut msg = Self {
            buf,
            header,
            integrity: None,
            fingerprint: None,
            counted_end: buf.len(),
        };
        let mut pos = HEADER_LEN;
        while pos < buf.len() {
            let attr = read_attribute(buf, pos)?;
            if msg.fingerprint.is_some() {
                return Err(StunError::FingerprintNotLast);
            }
            if attr.typ == AttributeType::FINGERPRINT {
                validate_attribute(&attr)?;
                msg.fingerprint = Some(pos);
                if msg.integrity.is_none() {
                    msg.counted_end = pos;
                }
            } else if msg.integrity.is_none() {
                validate_attribute(&attr)?;
                if attr.typ == AttributeType::MESSAGE_INTEGRITY {
                    msg.integrity = Some(pos);
                    msg.counted_end = attr.next_offset();
                }
            }
            pos = attr.next_offset();
        }
        Ok(msg)
    }

    /// The raw message bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The header fields.
    pub const fn header(&self) -> &StunHeader {
        &self.header
    }

    /// Request, indication, success or error response.
    pub const fn class(&self) -> Class {
        self.header.class
    }

    /// The STUN method (Binding for ICE).
    pub const fn method(&self) -> Method {
        self.header.method
    }

    /// The 96-bit transaction id.
    pub const fn transaction_id(&self) -> TransactionId {
        self.header.transaction_id
    }

    /// Iterates over the attributes that count, in wire order: everything up to and including
    /// MESSAGE-INTEGRITY, then FINGERPRINT. Ignored trailing attributes are skipped.
    pub const fn attributes(&self) -> Attributes<'a> {
        Attributes {
            buf: self.buf,
            pos: HEADER_LEN,
            end: self.counted_end,
            fingerprint: self.fingerprint,
        }
    }

    /// The first attribute of type `typ`, if any.
    pub fn attribute(&self, typ: AttributeType) -> Option<RawAttribute<'a>> {
        self.attributes().find(|a| a.typ == typ)
    }

    /// Comprehension-required attributes this crate does not know, for a 420 response's
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1). Duplicates are reported once per occurrence.
    pub fn unknown_comprehension_required(&self) -> impl Iterator<Item = AttributeType> + 'a {
        self.attributes()
            .map(|a| a.typ)
            .filter(|t| t.is_comprehension_required() && !t.is_known())
    }

    /// USERNAME (RFC 8489 §14.3), as raw bytes. For ICE it is `receiver-ufrag:sender-ufrag`.
    pub fn username(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeType::USERNAME).map(|a| a.value)
    }

    /// SOFTWARE (RFC 8489 §14.14).
    pub fn software(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeType::SOFTWARE).map(|a| a.value)
    }

    /// REALM (RFC 8489 §14.9).
    pub fn realm(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeType::REALM).map(|a| a.value)
    }

    /// NONCE (RFC 8489 §14.10).
    pub fn nonce(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeType::NONCE).map(|a| a.value)
    }

    /// PRIORITY (RFC 8445 §7.1.1).
    pub fn priority(&self) -> Option<u32> {
        self.attribute(AttributeType::PRIORITY)
            .map(|a| read_u32(a.value, 0))
    }

    /// True when USE-CANDIDATE (RFC 8445 §7.1.2) is present.
    pub fn use_candidate(&self) -> bool {
        self.attribute(AttributeType::USE_CANDIDATE).is_some()
    }

    /// The tie-breaker of ICE-CONTROLLING (RFC 8445 §7.1.3), if present.
    pub fn ice_controlling(&self) -> Option<u64> {
        self.attribute(AttributeType::ICE_CONTROLLING)
            .map(|a| read_u64(a.value))
    }

    /// The tie-breaker of ICE-CONTROLLED (RFC 8445 §7.1.3), if present.
    pub fn ice_controlled(&self) -> Option<u64> {
        self.attribute(AttributeType::ICE_CONTROLLED)
            .map(|a| read_u64(a.value))
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), decoded with this message's transaction id.
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        let a = self.attribute(AttributeType::XOR_MAPPED_ADDRESS)?;
        addr::decode(a.value, Some(&self.header.transaction_id))
    }

    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        let a = self.attribute(AttributeType::MAPPED_ADDRESS)?;
        addr::decode(a.value, None)
    }

    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    pub fn alternate_server(&self) -> Option<SocketAddr> {
        let a = self.attribute(AttributeType::ALTERNATE_SERVER)?;
        addr::decode(a.value, None)
    }

    /// ERROR-CODE (RFC 8489 §14.8).
    pub fn error_code(&self) -> Option<ErrorCode<'a>> {
        let a = self.attribute(AttributeType::ERROR_CODE)?;
        let v = a.value;
        let code = u16::from(v[2] & 0x07) * 100 + u16::from(v[3]);
        Some(ErrorCode {
            code,
            reason: &v[4..],
        })
    }

    /// The attribute types listed in UNKNOWN-ATTRIBUTES (RFC 8489 §14.13) of a 420 response.
    pub fn unknown_attributes(&self) -> impl Iterator<Item = AttributeType> + 'a {
        let value = self
            .attribute(AttributeType::UNKNOWN_ATTRIBUTES)
            .map_or(&[][..], |a| a.value);
        value
            .chunks_exact(2)
            .map(|c| AttributeType(u16::from_be_bytes([c[0], c[1]])))
    }

    /// The 20-byte HMAC of MESSAGE-INTEGRITY (RFC 8489 §14.5), if present.
    pub fn message_integrity(&self) -> Option<&'a [u8; 20]> {
        let off = self.integrity?;
        self.buf.get(off + 4..off + 24)?.try_into().ok()
    }

    /// The FINGERPRINT value (RFC 8489 §14.7), if present.
    pub fn fingerprint(&self) -> Option<u32> {
        let off = self.fingerprint?;
        Some(read_u32(self.buf, off + 4))
    }

    /// Checks MESSAGE-INTEGRITY with a raw key: the password for short-term credentials
    /// (ICE), or the 16-byte [`crate::long_term_key`] for long-term ones. False when absent.
    pub fn verify_integrity(&self, key: &[u8]) -> bool {
        self.verify_integrity_with(&IntegrityKey::new(key))
    }

    /// Checks MESSAGE-INTEGRITY with a prepared key, which saves the HMAC key schedule (two
    /// SHA-1 blocks) per message. The HMAC covers the message up to MESSAGE-INTEGRITY with the
    /// length field set as if MESSAGE-INTEGRITY ended the message (RFC 8489 §14.5); the
    /// comparison is constant-time. False when absent.
    pub fn verify_integrity_with(&self, key: &IntegrityKey) -> bool {
        let Some(off) = self.integrity else {
            return false;
        };
        let Some(tag) = self.buf.get(off + 4..off + 24) else {
            return false;
        };
        // Bounded by the 16-bit length field, so it fits.
        let length = (off + 24 - HEADER_LEN) as u16;
        key.verify(self.buf, off, length, tag)
    }

    /// Checks FINGERPRINT: CRC-32 of everything before it, XOR 0x5354554e (RFC 8489 §14.7).
    /// False when absent.
    pub fn verify_fingerprint(&self) -> bool {
        let Some(off) = self.fingerprint else {
            return false;
        };
        // FINGERPRINT is last, so the header's length field already counts it.
        fingerprint_of(&self.buf[..off]) == read_u32(self.buf, off + 4)
    }
}

/// One attribute as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    typ: AttributeType,
    value: &'a [u8],
    offset: usize,
}

impl<'a> RawAttribute<'a> {
    /// The attribute type.
    pub const fn typ(&self) -> AttributeType {
        self.typ
    }

    /// The value, without padding.
    pub const fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Offset of the attribute's 4-byte type-length header within the message.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Offset just past the value and its padding.
    const fn next_offset(&self) -> usize {
        self.offset + 4 + ((self.value.len() + 3) & !3)
    }
}

/// Iterator over the attributes of a [`StunMessage`]; see [`StunMessage::attributes`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    fingerprint: Option<usize>,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<RawAttribute<'a>> {
        if self.pos < self.end {
            // The message was validated by `parse`, so reading cannot fail; stop if it did.
            let attr = read_attribute(self.buf, self.pos).ok()?;
            self.pos = attr.next_offset();
            return Some(attr);
        }
        let off = self.fingerprint.take()?;
        read_attribute(self.buf, off).ok()
    }
}

/// Reads the attribute whose header starts at `pos`, checking that it and its padding fit.
pub(crate) fn read_attribute(buf: &[u8], pos: usize) -> Result<RawAttribute<'_>, StunError> {
    let Some(tl) = buf.get(pos..pos + 4) else {
        return Err(StunError::AttributeOverrun {
            attr: AttributeType(0),
        });
    };
    let typ = AttributeType(read_u16(tl, 0));
    let len = usize::from(read_u16(tl, 2));
    let start = pos + 4;
    let padded_end = start + ((len + 3) & !3);
    if padded_end > buf.len() {
        return Err(StunError::AttributeOverrun { attr: typ });
    }
    Ok(RawAttribute {
        typ,
        value: &buf[start..start + len],
        offset: pos,
    })
}

/// Checks the shape of known attributes so that the typed getters cannot fail.
fn validate_attribute(attr: &RawAttribute<'_>) -> Result<(), StunError> {
    let v = attr.value;
    let ok = match attr.typ {
        AttributeType::PRIORITY | AttributeType::FINGERPRINT => v.len() == 4,
        AttributeType::USE_CANDIDATE => v.is_empty(),
        AttributeType::ICE_CONTROLLED | AttributeType::ICE_CONTROLLING => v.len() == 8,
        AttributeType::MESSAGE_INTEGRITY => v.len() == 20,
        AttributeType::MAPPED_ADDRESS
        | AttributeType::XOR_MAPPED_ADDRESS
        | AttributeType::ALTERNATE_SERVER => addr::decode(v, None).is_some(),
        AttributeType::ERROR_CODE => {
            // Class 3..=6 and number 0..=99 (RFC 8489 §14.8).
            v.len() >= 4 && (3..=6).contains(&(v[2] & 0x07)) && v[3] < 100
        }
        AttributeType::UNKNOWN_ATTRIBUTES => v.len().is_multiple_of(2),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(StunError::MalformedAttribute { attr: attr.typ })
    }
}

/// Big-endian u16 at `at`; callers guarantee the bounds.
pub(crate) fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Big-endian u32 at `at`; callers guarantee the bounds.
pub(crate) fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Big-endian u64 from the first 8 bytes; callers guarantee the bounds.
fn read_u64(b: &[u8]) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[..8]);
    u64::from_be_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IntegrityKey, MessageWriter};

    fn header(len: u16) -> Vec<u8> {
        let mut h = vec![0x00, 0x01];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        h.extend_from_slice(&[0xab; 12]);
        h
    }

    fn with_attrs(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, v) in attrs {
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            body.resize((body.len() + 3) & !3, 0);
        }
        let mut m = header(body.len() as u16);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn rejects_truncated_header() {
        assert_eq!(
            StunMessage::parse(&header(0)[..19]).unwrap_err(),
            StunError::Truncated
        );
    }

    #[test]
    fn rejects_wrong_cookie_and_leading_bits() {
        let mut m = header(0);
        m[4] = 0;
        assert_eq!(StunMessage::parse(&m).unwrap_err(), StunError::NotStun);
        let mut m = header(0);
        m[0] = 0x40;
        assert_eq!(StunMessage::parse(&m).unwrap_err(), StunError::NotStun);
    }

    #[test]
    fn rejects_length_field_that_disagrees_with_datagram() {
        let mut m = header(4);
        assert!(matches!(
            StunMessage::parse(&m),
            Err(StunError::BadLength {
                declared: 4,
                actual: 0
            })
        ));
        m.extend_from_slice(&[0, 0x80, 0, 0, 0]);
        m[3] = 5;
        assert!(matches!(
            StunMessage::parse(&m),
            Err(StunError::BadLength { .. })
        ));
    }

    #[test]
    fn rejects_attribute_running_past_the_end() {
        let mut m = header(8);
        m.extend_from_slice(&[0x80, 0x22, 0x00, 0x09, 1, 2, 3, 4]);
        assert_eq!(
            StunMessage::parse(&m).unwrap_err(),
            StunError::AttributeOverrun {
                attr: AttributeType::SOFTWARE
            }
        );
    }

    #[test]
    fn rejects_malformed_known_attributes() {
        for (t, v) in [
            (0x0024u16, &[1u8, 2, 3][..]),
            (0x0025, &[1][..]),
            (0x802a, &[1, 2, 3, 4][..]),
            (0x0008, &[0; 16][..]),
            (0x0020, &[0, 3, 0, 0, 1, 2, 3, 4][..]),
            (0x0020, &[0, 1, 0, 0, 1, 2, 3][..]),
            (0x0009, &[0, 0, 2, 0][..]),
            (0x0009, &[0, 0, 4, 100][..]),
        ] {
            let m = with_attrs(&[(t, v)]);
            assert_eq!(
                StunMessage::parse(&m).unwrap_err(),
                StunError::MalformedAttribute {
                    attr: AttributeType(t)
                },
                "{t:#06x}"
            );
        }
    }

    #[test]
    fn rejects_attribute_after_fingerprint() {
        let m = with_attrs(&[(0x8028, &[0; 4]), (0x8022, b"x")]);
        assert_eq!(
            StunMessage::parse(&m).unwrap_err(),
            StunError::FingerprintNotLast
        );
    }

    #[test]
    fn ignores_attributes_after_message_integrity_except_fingerprint() {
        let m = with_attrs(&[
            (0x0006, b"a:b"),
            (0x0008, &[0; 20]),
            (0x0024, &[1, 2, 3]), // malformed, but ignored
            (0x0025, &[]),
            (0x8028, &[0; 4]),
        ]);
        let msg = StunMessage::parse(&m).unwrap();
        assert!(!msg.use_candidate());
        assert_eq!(msg.priority(), None);
        let types: Vec<_> = msg.attributes().map(|a| a.typ().0).collect();
        assert_eq!(types, vec![0x0006, 0x0008, 0x8028]);
        assert_eq!(msg.fingerprint(), Some(0));
    }

    #[test]
    fn first_duplicate_attribute_wins() {
        let m = with_attrs(&[(0x0024, &[0, 0, 0, 1]), (0x0024, &[0, 0, 0, 2])]);
        assert_eq!(StunMessage::parse(&m).unwrap().priority(), Some(1));
    }

    #[test]
    fn reports_unknown_comprehension_required_attributes_only() {
        let m = with_attrs(&[
            (0x0006, b"u"),
            (0x7777, b""),
            (0xc057, b"ab"),
            (0x0003, &[0; 4]),
        ]);
        let msg = StunMessage::parse(&m).unwrap();
        let unknown: Vec<_> = msg.unknown_comprehension_required().collect();
        assert_eq!(unknown, vec![AttributeType(0x7777), AttributeType(0x0003)]);
    }

    #[test]
    fn integrity_and_fingerprint_are_false_when_absent() {
        let m = with_attrs(&[(0x0006, b"u")]);
        let msg = StunMessage::parse(&m).unwrap();
        assert!(!msg.verify_integrity(b"x"));
        assert!(!msg.verify_fingerprint());
        assert_eq!(msg.message_integrity(), None);
    }

    #[test]
    fn integrity_covers_attributes_before_it_but_not_after() {
        let key = IntegrityKey::new(b"pw");
        let mut buf = [0u8; 128];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId([1; 12]),
        );
        w.add_username(b"a:b");
        let n = w.finish_with_integrity(&key).unwrap();
        // Append an ignored attribute after MESSAGE-INTEGRITY and fix the length field.
        let mut m = buf[..n].to_vec();
        m.extend_from_slice(&[0x80, 0x22, 0, 1, b'z', 0, 0, 0]);
        let len = (m.len() - HEADER_LEN) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        let msg = StunMessage::parse(&m).unwrap();
        assert!(msg.verify_integrity_with(&key));
        assert_eq!(msg.software(), None);
    }

    #[test]
    fn header_reads_class_method_and_transaction_id() {
        let h = StunHeader::parse(&header(0)).unwrap();
        assert_eq!(h.class, Class::Request);
        assert_eq!(h.method, Method::BINDING);
        assert_eq!(h.transaction_id, TransactionId([0xab; 12]));
    }
}

//! STUN message parsing and building for ICE: RFC 8489 messages with the RFC 8445 §7.1 ICE
//! attributes, zero-copy and allocation-free.
//!
//! [`StunMessage::parse`] validates a datagram and borrows it; typed getters read the
//! attributes ICE needs. [`MessageWriter`] builds a message into a caller-owned buffer and
//! appends MESSAGE-INTEGRITY (HMAC-SHA1 from RustCrypto, which uses SHA-NI where the CPU has
//! it) and FINGERPRINT (CRC-32). [`is_stun`] and [`username_local_part`] are cheap checks
//! for a dataplane router that demultiplexes by first byte (RFC 7983) and by ICE ufrag.
//!
//! Implemented: RFC 8489 §5 (header, class/method encoding), §6.3 (framing checks), §14.1-
//! §14.3, §14.5, §14.7-§14.10, §14.13-§14.15 (attributes), §9.1 short-term and §9.2.2
//! long-term MD5 keys; RFC 8445 §7.1 (PRIORITY, USE-CANDIDATE, ICE-CONTROLLED,
//! ICE-CONTROLLING). Tested against the RFC 5769 vectors and the `stun-types` crate.
//!
//! Out of scope: transactions and retransmission (the ICE crate does that), TCP framing,
//! MESSAGE-INTEGRITY-SHA256, USERHASH and PASSWORD-ALGORITHMS, SASLprep/OpaqueString, TURN
//! attributes, the long-term credential nonce/realm state machine.
//!
//! ```
//! use portunus_stun::{Class, IntegrityKey, Method, MessageWriter, StunMessage};
//!
//! // A server answering an ICE Binding request (short-term credentials: key = password).
//! let key = IntegrityKey::new(b"local-password-1234567890");
//! let mut req = [0u8; 128];
//! let mut w = MessageWriter::new(&mut req, Class::Request, Method::BINDING, Default::default());
//! w.add_username(b"local:remote").add_priority(1).add_use_candidate().add_ice_controlling(9);
//! let n = w.finish_with_integrity_and_fingerprint(&key)?;
//!
//! let msg = StunMessage::parse(&req[..n])?;
//! assert!(portunus_stun::is_stun(&req[..n]));
//! assert_eq!(portunus_stun::username_local_part(&req[..n]), Some(&b"local"[..]));
//! assert!(msg.verify_fingerprint() && msg.verify_integrity_with(&key));
//! assert!(msg.use_candidate());
//!
//! let mut resp = [0u8; 128];
//! let from = "192.0.2.1:5000".parse().unwrap();
//! let mut w = MessageWriter::new(&mut resp, Class::SuccessResponse, msg.method(), msg.transaction_id());
//! w.add_xor_mapped_address(from);
//! let n = w.finish_with_integrity_and_fingerprint(&key)?;
//! assert_eq!(StunMessage::parse(&resp[..n])?.xor_mapped_address(), Some(from));
//! # Ok::<(), portunus_stun::StunError>(())
//! ```
#![deny(missing_docs)]

mod addr;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod integrity;
mod message;
mod types;
mod writer;

pub use error::StunError;
pub use integrity::{IntegrityKey, long_term_key};
pub use message::{Attributes, RawAttribute, StunHeader, StunMessage};
pub use types::{AttributeType, Class, ErrorCode, Method, TransactionId, codes};
pub use writer::MessageWriter;

use message::{read_attribute, read_u16, read_u32};

/// The magic cookie in every RFC 8489 header (§5).
pub const MAGIC_COOKIE: u32 = 0x2112_a442;
/// Length of the STUN header.
pub const HEADER_LEN: usize = 20;

/// Fast check that `datagram` looks like STUN: at least a header, a first byte of 0..=3
/// (RFC 7983 §7 demultiplexing) and the magic cookie. Attributes are not looked at.
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN && datagram[0] <= 3 && read_u32(datagram, 4) == MAGIC_COOKIE
}

/// The part of USERNAME before the first ':' in a Binding request: for an ICE check this is
/// the receiver's ufrag (RFC 8445 §7.2.2), which a router maps to a session.
///
/// Only the framing up to USERNAME is read; nothing is authenticated, so the caller must
/// still run the full check (integrity, fingerprint) in the session it routes to.
pub fn username_local_part(datagram: &[u8]) -> Option<&[u8]> {
    if !is_stun(datagram) {
        return None;
    }
    let header = StunHeader::parse(datagram).ok()?;
    if header.class != Class::Request || header.method != Method::BINDING {
        return None;
    }
    let end = HEADER_LEN + usize::from(read_u16(datagram, 2));
    let msg = datagram.get(..end)?;
    let mut pos = HEADER_LEN;
    while pos < end {
        let attr = read_attribute(msg, pos).ok()?;
        if attr.typ() == AttributeType::USERNAME {
            let v = attr.value();
            return Some(v.split(|&b| b == b':').next().unwrap_or(v));
        }
        pos += 4 + ((attr.value().len() + 3) & !3);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(username: &[u8]) -> ([u8; 128], usize) {
        let mut buf = [0u8; 128];
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId([1; 12]),
        );
        w.add_priority(5).add_username(username);
        let n = w.finish_with_fingerprint().unwrap();
        (buf, n)
    }

    #[test]
    fn is_stun_rejects_short_and_non_stun_first_bytes() {
        let (buf, n) = request(b"a:b");
        assert!(is_stun(&buf[..n]));
        assert!(!is_stun(&buf[..19]));
        let mut rtp = buf;
        rtp[0] = 0x80;
        assert!(!is_stun(&rtp[..n]));
        let mut bad_cookie = buf;
        bad_cookie[5] ^= 1;
        assert!(!is_stun(&bad_cookie[..n]));
    }

    #[test]
    fn username_local_part_splits_at_first_colon() {
        let (buf, n) = request(b"srvufrag:peer:x");
        assert_eq!(username_local_part(&buf[..n]), Some(&b"srvufrag"[..]));
        let (buf, n) = request(b"nocolon");
        assert_eq!(username_local_part(&buf[..n]), Some(&b"nocolon"[..]));
    }

    #[test]
    fn username_local_part_ignores_responses_and_truncation() {
        let (mut buf, n) = request(b"u:v");
        assert_eq!(username_local_part(&buf[..n - 12]), None);
        buf[1] = 0x01;
        buf[0] = 0x01; // success response
        assert_eq!(username_local_part(&buf[..n]), None);
    }
}

//! MESSAGE-INTEGRITY keys (RFC 8489 §9, §14.5) and FINGERPRINT (RFC 8489 §14.7).

use ::hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

/// XOR constant applied to the CRC-32 in FINGERPRINT (RFC 8489 §14.7): "STUN".
pub(crate) const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// A MESSAGE-INTEGRITY key with its HMAC-SHA1 key schedule done once.
///
/// Cloning the prepared state per message skips hashing the inner and outer pads, about
/// half the HMAC cost for a 100-byte ICE check. Keep one per credential (an ICE agent keeps
/// its local password's key for its whole life).
#[derive(Clone)]
pub struct IntegrityKey {
    mac: Hmac<Sha1>,
}

impl IntegrityKey {
    /// A key from raw bytes: the password itself for short-term credentials (ICE; RFC 8489
    /// §9.1.1, no SASLprep/OpaqueString processing is applied here) or the output of
    /// [`long_term_key`].
    pub fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length (long ones are hashed first), so this cannot fail.
        let mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key)
            .expect("HMAC-SHA1 accepts keys of any length");
        Self { mac }
    }

    /// A key for long-term credentials: MD5(username ":" realm ":" password) (RFC 8489
    /// §9.2.2). The password must already be SASLprep/OpaqueString-processed.
    pub fn long_term(username: &[u8], realm: &[u8], password: &[u8]) -> Self {
        Self::new(&long_term_key(username, realm, password))
    }

    /// The HMAC of `buf[..end]` with the header's length field replaced by `length`.
    pub(crate) fn sign(&self, buf: &[u8], end: usize, length: u16) -> [u8; 20] {
        let mac = self.mac_over(buf, end, length);
        let mut out = [0u8; 20];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    /// Constant-time check of `tag` against the HMAC of `buf[..end]` with `length` patched in.
    pub(crate) fn verify(&self, buf: &[u8], end: usize, length: u16, tag: &[u8]) -> bool {
        self.mac_over(buf, end, length).verify_slice(tag).is_ok()
    }

    fn mac_over(&self, buf: &[u8], end: usize, length: u16) -> Hmac<Sha1> {
        let mut mac = self.mac.clone();
        mac.update(&buf[..2]);
        mac.update(&length.to_be_bytes());
        mac.update(&buf[4..end]);
        mac
    }
}

impl core::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.write_str("IntegrityKey(..)")
    }
}

/// The long-term credential key MD5(username ":" realm ":" password) (RFC 8489 §9.2.2).
pub fn long_term_key(username: &[u8], realm: &[u8], password: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(username);
    h.update(b":");
    h.update(realm);
    h.update(b":");
    h.update(password);
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize());
    out
}

/// FINGERPRINT value for `bytes` (the message up to the attribute, with a final length).
pub(crate) fn fingerprint_of(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes) ^ FINGERPRINT_XOR
}

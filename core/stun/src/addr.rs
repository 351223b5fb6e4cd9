//! (XOR-)MAPPED-ADDRESS value encoding (RFC 8489 §14.1, §14.2).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::MAGIC_COOKIE;
use crate::types::TransactionId;

const FAMILY_V4: u8 = 0x01;
const FAMILY_V6: u8 = 0x02;

/// Decodes an address value; with `xor` set, undoes the XOR with the cookie and the
/// transaction id. `None` when the family or length is wrong.
pub(crate) fn decode(v: &[u8], xor: Option<&TransactionId>) -> Option<SocketAddr> {
    let mask = xor.map(xor_mask);
    let family = *v.get(1)?;
    let port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    match (family, v.len()) {
        (FAMILY_V4, 8) => {
            let mut ip = [v[4], v[5], v[6], v[7]];
            if let Some(m) = &mask {
                apply(&mut ip, m);
            }
            let port = if mask.is_some() {
                port ^ (MAGIC_COOKIE >> 16) as u16
            } else {
                port
            };
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        (FAMILY_V6, 20) => {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&v[4..20]);
            if let Some(m) = &mask {
                apply(&mut ip, m);
            }
            let port = if mask.is_some() {
                port ^ (MAGIC_COOKIE >> 16) as u16
            } else {
                port
            };
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => None,
    }
}

/// Length of the encoded value for `addr`.
pub(crate) const fn encoded_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 8,
        SocketAddr::V6(_) => 20,
    }
}

/// Encodes `addr` into `out` (exactly [`encoded_len`] bytes), XORed when `xor` is set.
pub(crate) fn encode(out: &mut [u8], addr: &SocketAddr, xor: Option<&TransactionId>) {
    let mask = xor.map(xor_mask);
    let port = if mask.is_some() {
        addr.port() ^ (MAGIC_COOKIE >> 16) as u16
    } else {
        addr.port()
    };
    out[0] = 0;
    out[2..4].copy_from_slice(&port.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            out[1] = FAMILY_V4;
            let mut b = ip.octets();
            if let Some(m) = &mask {
                apply(&mut b, m);
            }
            out[4..8].copy_from_slice(&b);
        }
        IpAddr::V6(ip) => {
            out[1] = FAMILY_V6;
            let mut b = ip.octets();
            if let Some(m) = &mask {
                apply(&mut b, m);
            }
            out[4..20].copy_from_slice(&b);
        }
    }
}

/// The 16-byte XOR mask: magic cookie then transaction id (RFC 8489 §14.2).
fn xor_mask(tid: &TransactionId) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    m[4..].copy_from_slice(&tid.0);
    m
}

fn apply(bytes: &mut [u8], mask: &[u8; 16]) {
    for (b, m) in bytes.iter_mut().zip(mask) {
        *b ^= m;
    }
}

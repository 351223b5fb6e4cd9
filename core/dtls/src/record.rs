//! A cheap framing check run before a datagram reaches OpenSSL.
//!
//! OpenSSL silently discards invalid records (RFC 6347 §4.1.2.7), which leaves nothing to
//! count. Checking the record framing first lets the caller count junk as a drop.

use crate::DtlsError;

/// Length of a DTLS record header (RFC 6347 §4.1): type, version, epoch, sequence, length.
pub const RECORD_HEADER_LEN: usize = 13;

/// Checks that `datagram` is one or more whole DTLS records: a known content type (20..=25,
/// the RFC 7983 §7 DTLS range this crate can receive), a DTLS version (major 0xFE) and
/// lengths that end exactly at the end of the datagram.
pub(crate) fn check_datagram(datagram: &[u8]) -> Result<(), DtlsError> {
    let mut rest = datagram;
    if rest.is_empty() {
        return Err(DtlsError::MalformedDatagram);
    }
    while !rest.is_empty() {
        let Some(header) = rest.first_chunk::<RECORD_HEADER_LEN>() else {
            return Err(DtlsError::MalformedDatagram);
        };
        let content_type = header[0];
        let version_major = header[1];
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        // 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data, 24 heartbeat,
        // 25 tls12_cid.
        if !(20..=25).contains(&content_type) || version_major != 0xFE || len > MAX_RECORD_LEN {
            return Err(DtlsError::MalformedDatagram);
        }
        let Some(next) = rest.get(RECORD_HEADER_LEN + len..) else {
            return Err(DtlsError::MalformedDatagram);
        };
        rest = next;
    }
    Ok(())
}

/// RFC 6347 §4.1 via RFC 5246 §6.2.3: a ciphertext fragment is at most 2^14 + 2048 bytes.
const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, body_len: usize) -> Vec<u8> {
        let mut r = vec![content_type, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1];
        r.extend_from_slice(&u16::try_from(body_len).unwrap().to_be_bytes());
        r.resize(RECORD_HEADER_LEN + body_len, 0xAA);
        r
    }

    #[test]
    fn accepts_several_whole_records() {
        let mut d = record(22, 100);
        d.extend(record(20, 1));
        d.extend(record(23, 0));
        assert!(check_datagram(&d).is_ok());
    }

    #[test]
    fn rejects_truncated_record() {
        let d = record(22, 100);
        assert!(check_datagram(&d[..d.len() - 1]).is_err());
        assert!(check_datagram(&d[..5]).is_err());
    }

    #[test]
    fn rejects_trailing_bytes_after_last_record() {
        let mut d = record(22, 10);
        d.push(0);
        assert!(check_datagram(&d).is_err());
    }

    #[test]
    fn rejects_non_dtls_first_bytes() {
        // STUN (0), RTP (128) and TLS (major 3) are not DTLS.
        for first in [0u8, 19, 26, 64, 128] {
            assert!(check_datagram(&record(first, 4)).is_err(), "{first}");
        }
        let mut tls = record(22, 4);
        tls[1] = 3;
        assert!(check_datagram(&tls).is_err());
        assert!(check_datagram(&[]).is_err());
    }
}

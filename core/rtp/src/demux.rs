//! First-byte demultiplexing of a BUNDLEd, rtcp-muxed 5-tuple (RFC 7983 §7,
//! RFC 5761 §4).

/// What a datagram on the media 5-tuple carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// First byte 0–3.
    Stun,
    /// First byte 20–63.
    Dtls,
    /// First byte 128–191 and a second byte outside 192–223.
    Rtp,
    /// First byte 128–191 and a second byte (RTCP packet type) in 192–223.
    Rtcp,
    /// Anything else: ZRTP (16–19), TURN channels (64–79), empty or too short.
    Unknown,
}

/// Classifies a datagram by its first byte (RFC 7983 §7) and, for RTP/RTCP, by its
/// second (RFC 5761 §4: RTCP packet types 192–223 cannot be confused with RTP payload
/// types because RTP payload types 64–95 are not used with rtcp-mux).
///
/// ```
/// use portunus_rtp::{PacketKind, classify};
/// assert_eq!(classify(&[0x00, 0x01]), PacketKind::Stun);
/// assert_eq!(classify(&[22, 254, 253]), PacketKind::Dtls);
/// assert_eq!(classify(&[0x80, 96]), PacketKind::Rtp);
/// assert_eq!(classify(&[0x81, 201]), PacketKind::Rtcp);
/// ```
#[must_use]
pub fn classify(datagram: &[u8]) -> PacketKind {
    match datagram {
        [0..=3, ..] => PacketKind::Stun,
        [20..=63, ..] => PacketKind::Dtls,
        [128..=191, 192..=223, ..] => PacketKind::Rtcp,
        [128..=191, _, ..] => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc7983() {
        for b in 0..=255u8 {
            let k = classify(&[b, 0x60]);
            let expect = match b {
                0..=3 => PacketKind::Stun,
                20..=63 => PacketKind::Dtls,
                128..=191 => PacketKind::Rtp,
                _ => PacketKind::Unknown,
            };
            assert_eq!(k, expect, "first byte {b}");
        }
    }

    #[test]
    fn rtcp_by_packet_type_range() {
        for pt in 0..=255u8 {
            let k = classify(&[0x80, pt]);
            let expect = if (192..=223).contains(&pt) {
                PacketKind::Rtcp
            } else {
                PacketKind::Rtp
            };
            assert_eq!(k, expect, "second byte {pt}");
        }
        // RTP with marker set and PT 96 (0xe0) stays RTP; marker + PT 72 reads as
        // RTCP SR, which is why RFC 5761 §4 forbids PT 64–95 with rtcp-mux.
        assert_eq!(classify(&[0x80, 0xe0]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 72]), PacketKind::Rtcp);
    }

    #[test]
    fn short_or_empty_datagrams() {
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
        assert_eq!(classify(&[0x00]), PacketKind::Stun);
    }
}

//! Fuzz bodies, wired into cargo-fuzz by `fuzz/`; also run by the crate's proptests.

use std::time::{Duration, Instant};

use crate::{DcepMessage, SctpConfig, SctpRole, SctpTransport};

/// Parse arbitrary bytes as a DCEP message; whatever parses must re-serialize to a message
/// that parses to the same value.
pub fn dcep(data: &[u8]) {
    let Ok(message) = DcepMessage::parse(data) else {
        return;
    };
    let wire = message
        .to_vec()
        .expect("a parsed message has fields that fit their length prefixes");
    assert_eq!(wire.len(), message.encoded_len());
    let again = DcepMessage::parse(&wire).expect("a written message parses");
    assert_eq!(again, message);
}

/// Feed arbitrary bytes to an established server-side transport: as they are, as a packet
/// with the association's verification tag and a valid checksum, and as chunks behind a
/// valid common header. Then keep both sides talking for a while. Nothing may panic.
pub fn sctp_packet(data: &[u8]) {
    #[allow(
        clippy::disallowed_methods,
        reason = "a fuzz body needs one base instant; virtual time is stepped from it"
    )]
    let mut now = Instant::now();
    let mut client = SctpTransport::new(SctpRole::Client, SctpConfig::default());
    let mut server = SctpTransport::new(SctpRole::Server, SctpConfig::default());
    client
        .connect(now)
        .expect("a fresh client transport can connect");
    let mut header = [0u8; 12];
    for _ in 0..8 {
        exchange(&mut client, &mut server, now, &mut header);
    }
    assert!(server.is_established(), "in-memory handshake completes");

    let _ = server.handle_packet(now, data);
    if data.len() >= 12 {
        let mut packet = data.to_vec();
        packet[4..8].copy_from_slice(&header[4..8]);
        set_checksum(&mut packet);
        let _ = server.handle_packet(now, &packet);
    }
    let mut packet = header.to_vec();
    packet.extend_from_slice(data);
    set_checksum(&mut packet);
    let _ = server.handle_packet(now, &packet);

    for _ in 0..4 {
        exchange(&mut client, &mut server, now, &mut header);
        now += Duration::from_secs(2);
        client.handle_timeout(now);
        server.handle_timeout(now);
    }
    while client.poll_event().is_some() {}
    while server.poll_event().is_some() {}
}

/// One round of packets both ways; remembers the last client-to-server common header.
fn exchange(
    client: &mut SctpTransport,
    server: &mut SctpTransport,
    now: Instant,
    header: &mut [u8; 12],
) {
    while let Some(packet) = client.poll_transmit_vec() {
        if let Some(h) = packet.get(..12) {
            header.copy_from_slice(h);
        }
        let _ = server.handle_packet(now, &packet);
    }
    while let Some(packet) = server.poll_transmit_vec() {
        let _ = client.handle_packet(now, &packet);
    }
}

/// Write the CRC-32C of an SCTP packet into bytes 8..12 (RFC 9260 Appendix A), least
/// significant byte first, as the checksum is transmitted.
pub(crate) fn set_checksum(packet: &mut [u8]) {
    let Some(field) = packet.get_mut(8..12) else {
        return;
    };
    field.fill(0);
    let crc = crc32c(packet);
    packet[8..12].copy_from_slice(&crc.to_le_bytes());
}

/// Bitwise CRC-32C (Castagnoli, reflected, init and xor-out all ones). Slow, test use only.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

//! The Data Channel Establishment Protocol codec (RFC 8832 §5).
//!
//! DCEP messages travel on the data channel's own SCTP stream with PPID 50. There are two:
//! DATA_CHANNEL_OPEN (RFC 8832 §5.1) and DATA_CHANNEL_ACK (RFC 8832 §5.2). Parsing borrows the
//! label and protocol from the input, so it never allocates.

use crate::error::DcepError;

/// How a channel retransmits lost messages (RFC 8832 §5.1 "Channel Type" and
/// "Reliability Parameter"; the partial-reliability extension is RFC 3758).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reliability {
    /// Every message is retransmitted until acknowledged.
    #[default]
    Reliable,
    /// A message is retransmitted at most this many times, then abandoned.
    MaxRetransmits(u32),
    /// A message is abandoned once it has been in flight this many milliseconds.
    MaxLifetimeMs(u32),
}

/// A decoded DCEP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcepMessage<'a> {
    /// DATA_CHANNEL_OPEN: the peer asks to open a channel on this stream.
    Open(DataChannelOpen<'a>),
    /// DATA_CHANNEL_ACK: the peer accepted our DATA_CHANNEL_OPEN.
    Ack,
}

/// The fields of a DATA_CHANNEL_OPEN message (RFC 8832 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelOpen<'a> {
    /// Whether messages must be delivered in order (channel type bit 0x80 clear).
    pub ordered: bool,
    /// Retransmission policy (low bits of the channel type plus the reliability parameter).
    pub reliability: Reliability,
    /// Relative priority; RFC 8831 §6.4 / W3C use 128, 256, 512 and 1024.
    pub priority: u16,
    /// The channel's label (UTF-8).
    pub label: &'a str,
    /// The sub-protocol, empty when unspecified (UTF-8).
    pub protocol: &'a str,
}

impl<'a> DcepMessage<'a> {
    /// Parse one DCEP message from the payload of a PPID 50 SCTP message.
    ///
    /// # Errors
    ///
    /// [`DcepError`] when the message is truncated, carries an unknown message or channel type,
    /// has a label or protocol that is not UTF-8, or has bytes after its protocol field.
    pub fn parse(buf: &'a [u8]) -> Result<Self, DcepError> {
        let (&message_type, rest) = buf.split_first().ok_or(DcepError::Truncated)?;
        match message_type {
            MESSAGE_TYPE_ACK => {
                // RFC 8832 §5.2: the ACK is exactly one byte.
                if rest.is_empty() {
                    Ok(Self::Ack)
                } else {
                    Err(DcepError::TrailingBytes)
                }
            }
            MESSAGE_TYPE_OPEN => DataChannelOpen::parse_body(rest).map(Self::Open),
            other => Err(DcepError::UnknownMessageType(other)),
        }
    }

    /// Number of bytes [`DcepMessage::write`] produces.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Ack => 1,
            Self::Open(open) => OPEN_HEADER_LEN + open.label.len() + open.protocol.len(),
        }
    }

    /// Serialize into `out`, returning the number of bytes written.
    ///
    /// # Errors
    ///
    /// [`DcepError::BufferTooSmall`] when `out` is shorter than [`DcepMessage::encoded_len`];
    /// [`DcepError::FieldTooLong`] when the label or protocol exceeds 65535 bytes.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, DcepError> {
        let needed = self.encoded_len();
        let out = out
            .get_mut(..needed)
            .ok_or(DcepError::BufferTooSmall { needed })?;
        match self {
            Self::Ack => out[0] = MESSAGE_TYPE_ACK,
            Self::Open(open) => open.write_into(out)?,
        }
        Ok(needed)
    }

    /// Serialize into a new vector.
    ///
    /// # Errors
    ///
    /// [`DcepError::FieldTooLong`] when the label or protocol exceeds 65535 bytes.
    pub fn to_vec(&self) -> Result<Vec<u8>, DcepError> {
        let mut out = vec![0; self.encoded_len()];
        self.write(&mut out)?;
        Ok(out)
    }
}

impl<'a> DataChannelOpen<'a> {
    /// The RFC 8832 §8.2.2 channel type byte for this channel.
    pub fn channel_type(&self) -> u8 {
        let base = match self.reliability {
            Reliability::Reliable => CHANNEL_RELIABLE,
            Reliability::MaxRetransmits(_) => CHANNEL_PARTIAL_RELIABLE_REXMIT,
            Reliability::MaxLifetimeMs(_) => CHANNEL_PARTIAL_RELIABLE_TIMED,
        };
        if self.ordered {
            base
        } else {
            base | CHANNEL_UNORDERED_BIT
        }
    }

    fn reliability_parameter(&self) -> u32 {
        match self.reliability {
            // RFC 8832 §5.1: MUST be 0 for reliable channels.
            Reliability::Reliable => 0,
            Reliability::MaxRetransmits(n) | Reliability::MaxLifetimeMs(n) => n,
        }
    }

    /// Parse everything after the message type byte.
    fn parse_body(body: &'a [u8]) -> Result<Self, DcepError> {
        let header = body
            .get(..OPEN_HEADER_LEN - 1)
            .ok_or(DcepError::Truncated)?;
        let channel_type = header[0];
        let priority = u16::from_be_bytes([header[1], header[2]]);
        let parameter = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        let label_len = usize::from(u16::from_be_bytes([header[7], header[8]]));
        let protocol_len = usize::from(u16::from_be_bytes([header[9], header[10]]));

        let reliability = match channel_type & !CHANNEL_UNORDERED_BIT {
            CHANNEL_RELIABLE => Reliability::Reliable,
            CHANNEL_PARTIAL_RELIABLE_REXMIT => Reliability::MaxRetransmits(parameter),
            CHANNEL_PARTIAL_RELIABLE_TIMED => Reliability::MaxLifetimeMs(parameter),
            _ => return Err(DcepError::UnknownChannelType(channel_type)),
        };

        let strings = &body[OPEN_HEADER_LEN - 1..];
        if strings.len() < label_len + protocol_len {
            return Err(DcepError::Truncated);
        }
        if strings.len() > label_len + protocol_len {
            return Err(DcepError::TrailingBytes);
        }
        let (label, protocol) = strings.split_at(label_len);
        Ok(Self {
            ordered: channel_type & CHANNEL_UNORDERED_BIT == 0,
            reliability,
            priority,
            label: core::str::from_utf8(label).map_err(|_| DcepError::InvalidUtf8)?,
            protocol: core::str::from_utf8(protocol).map_err(|_| DcepError::InvalidUtf8)?,
        })
    }

    /// Write the whole message into `out`, which is exactly `encoded_len` bytes long.
    fn write_into(&self, out: &mut [u8]) -> Result<(), DcepError> {
        let label_len = u16::try_from(self.label.len()).map_err(|_| DcepError::FieldTooLong)?;
        let protocol_len =
            u16::try_from(self.protocol.len()).map_err(|_| DcepError::FieldTooLong)?;
        let (header, strings) = out.split_at_mut(OPEN_HEADER_LEN);
        header[0] = MESSAGE_TYPE_OPEN;
        header[1] = self.channel_type();
        header[2..4].copy_from_slice(&self.priority.to_be_bytes());
        header[4..8].copy_from_slice(&self.reliability_parameter().to_be_bytes());
        header[8..10].copy_from_slice(&label_len.to_be_bytes());
        header[10..12].copy_from_slice(&protocol_len.to_be_bytes());
        let (label, protocol) = strings.split_at_mut(self.label.len());
        label.copy_from_slice(self.label.as_bytes());
        protocol.copy_from_slice(self.protocol.as_bytes());
        Ok(())
    }
}

/// RFC 8832 §8.2.1 message types.
const MESSAGE_TYPE_ACK: u8 = 0x02;
const MESSAGE_TYPE_OPEN: u8 = 0x03;
/// RFC 8832 §8.2.2 channel types (the unordered variants set bit 0x80).
const CHANNEL_RELIABLE: u8 = 0x00;
const CHANNEL_PARTIAL_RELIABLE_REXMIT: u8 = 0x01;
const CHANNEL_PARTIAL_RELIABLE_TIMED: u8 = 0x02;
const CHANNEL_UNORDERED_BIT: u8 = 0x80;
/// Fixed part of DATA_CHANNEL_OPEN: type, channel type, priority, parameter, two lengths.
const OPEN_HEADER_LEN: usize = 12;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// DATA_CHANNEL_OPEN laid out field by field as in the RFC 8832 §5.1 figure.
    fn open_bytes(
        channel_type: u8,
        priority: u16,
        param: u32,
        label: &[u8],
        proto: &[u8],
    ) -> Vec<u8> {
        let mut v = vec![0x03, channel_type];
        v.extend_from_slice(&priority.to_be_bytes());
        v.extend_from_slice(&param.to_be_bytes());
        v.extend_from_slice(&(label.len() as u16).to_be_bytes());
        v.extend_from_slice(&(proto.len() as u16).to_be_bytes());
        v.extend_from_slice(label);
        v.extend_from_slice(proto);
        v
    }

    #[test]
    fn parses_reliable_ordered_open_with_label_and_protocol() {
        let wire = [
            0x03, 0x00, 0x01, 0x00, // OPEN, DATA_CHANNEL_RELIABLE, priority 256
            0x00, 0x00, 0x00, 0x00, // reliability parameter
            0x00, 0x04, 0x00, 0x04, // label length 4, protocol length 4
            b'c', b'h', b'a', b't', // label
            b'j', b's', b'o', b'n', // protocol
        ];
        let msg = DcepMessage::parse(&wire).unwrap();
        assert_eq!(
            msg,
            DcepMessage::Open(DataChannelOpen {
                ordered: true,
                reliability: Reliability::Reliable,
                priority: 256,
                label: "chat",
                protocol: "json",
            })
        );
        assert_eq!(msg.to_vec().unwrap(), wire);
    }

    #[test]
    fn maps_each_rfc8832_channel_type() {
        let cases = [
            (0x00, true, Reliability::Reliable),
            (0x80, false, Reliability::Reliable),
            (0x01, true, Reliability::MaxRetransmits(7)),
            (0x81, false, Reliability::MaxRetransmits(7)),
            (0x02, true, Reliability::MaxLifetimeMs(7)),
            (0x82, false, Reliability::MaxLifetimeMs(7)),
        ];
        for (channel_type, ordered, reliability) in cases {
            let wire = open_bytes(channel_type, 512, 7, b"", b"");
            let DcepMessage::Open(open) = DcepMessage::parse(&wire).unwrap() else {
                panic!("not an open");
            };
            assert_eq!(open.ordered, ordered, "type {channel_type:#x}");
            assert_eq!(open.reliability, reliability, "type {channel_type:#x}");
            assert_eq!(open.priority, 512);
            assert_eq!(open.channel_type(), channel_type);
            if reliability != Reliability::Reliable {
                assert_eq!(DcepMessage::Open(open).to_vec().unwrap(), wire);
            }
        }
    }

    #[test]
    fn reliable_channel_ignores_and_zeroes_reliability_parameter() {
        // RFC 8832 §5.1: set to 0 when sending, ignored when receiving.
        let wire = open_bytes(0x00, 0, 0xdead_beef, b"x", b"");
        let msg = DcepMessage::parse(&wire).unwrap();
        let DcepMessage::Open(open) = &msg else {
            panic!("not an open")
        };
        assert_eq!(open.reliability, Reliability::Reliable);
        assert_eq!(&msg.to_vec().unwrap()[4..8], &[0, 0, 0, 0]);
    }

    #[test]
    fn partial_reliability_parameter_is_big_endian() {
        let wire = open_bytes(0x01, 0, 0x0102_0304, b"", b"");
        let DcepMessage::Open(open) = DcepMessage::parse(&wire).unwrap() else {
            panic!("not an open");
        };
        assert_eq!(open.reliability, Reliability::MaxRetransmits(0x0102_0304));
    }

    #[test]
    fn parses_and_writes_one_byte_ack() {
        assert_eq!(DcepMessage::parse(&[0x02]).unwrap(), DcepMessage::Ack);
        assert_eq!(DcepMessage::Ack.to_vec().unwrap(), [0x02]);
    }

    #[test]
    fn rejects_ack_with_trailing_bytes() {
        assert_eq!(
            DcepMessage::parse(&[0x02, 0x00]),
            Err(DcepError::TrailingBytes)
        );
    }

    #[test]
    fn rejects_unknown_message_type() {
        assert_eq!(
            DcepMessage::parse(&[0x01]),
            Err(DcepError::UnknownMessageType(1))
        );
        assert_eq!(DcepMessage::parse(&[]), Err(DcepError::Truncated));
    }

    #[test]
    fn rejects_unknown_channel_type() {
        let wire = open_bytes(0x03, 0, 0, b"", b"");
        assert_eq!(
            DcepMessage::parse(&wire),
            Err(DcepError::UnknownChannelType(3))
        );
    }

    #[test]
    fn rejects_truncated_open() {
        let wire = open_bytes(0x00, 0, 0, b"label", b"proto");
        for len in 1..wire.len() {
            assert_eq!(
                DcepMessage::parse(&wire[..len]),
                Err(DcepError::Truncated),
                "length {len}"
            );
        }
    }

    #[test]
    fn rejects_open_with_bytes_after_protocol() {
        let mut wire = open_bytes(0x00, 0, 0, b"a", b"b");
        wire.push(0);
        assert_eq!(DcepMessage::parse(&wire), Err(DcepError::TrailingBytes));
    }

    #[test]
    fn rejects_label_that_is_not_utf8() {
        let wire = open_bytes(0x00, 0, 0, &[0xff, 0xfe], b"");
        assert_eq!(DcepMessage::parse(&wire), Err(DcepError::InvalidUtf8));
    }

    #[test]
    fn write_reports_short_buffer() {
        let msg = DcepMessage::Open(DataChannelOpen {
            ordered: true,
            reliability: Reliability::Reliable,
            priority: 0,
            label: "abc",
            protocol: "",
        });
        let mut out = [0u8; 14];
        assert_eq!(
            msg.write(&mut out),
            Err(DcepError::BufferTooSmall { needed: 15 })
        );
    }

    fn arb_reliability() -> impl Strategy<Value = Reliability> {
        prop_oneof![
            Just(Reliability::Reliable),
            any::<u32>().prop_map(Reliability::MaxRetransmits),
            any::<u32>().prop_map(Reliability::MaxLifetimeMs),
        ]
    }

    proptest! {
        #[test]
        fn open_round_trips(
            ordered: bool,
            reliability in arb_reliability(),
            priority: u16,
            label in "\\PC{0,40}",
            protocol in "\\PC{0,40}",
        ) {
            let msg = DcepMessage::Open(DataChannelOpen {
                ordered, reliability, priority, label: &label, protocol: &protocol,
            });
            let wire = msg.to_vec().unwrap();
            prop_assert_eq!(wire.len(), msg.encoded_len());
            prop_assert_eq!(DcepMessage::parse(&wire).unwrap(), msg);
        }

        #[test]
        fn fuzz_body_accepts_arbitrary_bytes(data: Vec<u8>) {
            crate::fuzzing::dcep(&data);
        }

        #[test]
        fn fuzz_body_accepts_mutated_opens(
            channel_type: u8, label_len: u16, protocol_len: u16, tail: Vec<u8>,
        ) {
            let mut wire = vec![0x03, channel_type, 0, 1, 0, 0, 0, 9];
            wire.extend_from_slice(&label_len.to_be_bytes());
            wire.extend_from_slice(&protocol_len.to_be_bytes());
            wire.extend_from_slice(&tail);
            crate::fuzzing::dcep(&wire);
        }
    }
}

//! RTP packets (RFC 3550 §5.1): a read-only view, an in-place view and a writer.

use crate::bytes::{need, put, u16_at, u32_at};
use crate::ext::{ExtIdMap, ExtensionBlock, Extensions};
use crate::{RtpError, Ssrc};

/// Size of the fixed RTP header (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;

/// A parsed RTP packet borrowing its buffer; nothing is copied.
///
/// The whole slice is the packet. [`RtpPacket::payload`] excludes the padding.
///
/// ```
/// use portunus_rtp::{RtpPacket, Ssrc};
/// let bytes = [0x80, 0xe0, 0x00, 0x07, 0, 0, 0, 9, 0, 0, 0, 42, 0xaa, 0xbb];
/// let pkt = RtpPacket::parse(&bytes).unwrap();
/// assert!(pkt.marker());
/// assert_eq!(pkt.payload_type(), 96);
/// assert_eq!(pkt.sequence_number(), 7);
/// assert_eq!(pkt.ssrc(), Ssrc(42));
/// assert_eq!(pkt.payload(), &[0xaa, 0xbb]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    layout: Layout,
}

/// An RTP packet over a mutable buffer whose header fields can be rewritten in place.
///
/// The SFU uses it per subscriber: rewrite SSRC, sequence number, timestamp and
/// extension ids without copying the payload.
#[derive(Debug, PartialEq, Eq)]
pub struct RtpPacketMut<'a> {
    buf: &'a mut [u8],
    layout: Layout,
}

/// Offsets found by one validating pass over the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Where the extension block's 4-byte header starts, when X is set.
    ext_at: Option<usize>,
    /// Bytes of fixed header, CSRCs and extension block.
    header_len: usize,
    /// End of the payload, where padding starts.
    payload_end: usize,
}

impl Layout {
    fn parse(buf: &[u8]) -> Result<Self, RtpError> {
        let Some(&b0) = buf.first() else {
            return Err(RtpError::Truncated);
        };
        if b0 >> 6 != 2 {
            return Err(RtpError::BadVersion(b0 >> 6));
        }
        if buf.len() < RTP_HEADER_LEN {
            return Err(RtpError::Truncated);
        }
        let mut header_len = RTP_HEADER_LEN + 4 * usize::from(b0 & 0x0f);
        let mut ext_at = None;
        if b0 & 0x10 != 0 {
            let words = u16_at(buf, header_len + 2).ok_or(RtpError::Truncated)?;
            ext_at = Some(header_len);
            header_len += 4 + 4 * usize::from(words);
        }
        if buf.len() < header_len {
            return Err(RtpError::Truncated);
        }
        let mut payload_end = buf.len();
        if b0 & 0x20 != 0 {
            // RFC 3550 §5.1: the last octet counts the padding, itself included.
            let pad = usize::from(buf[buf.len() - 1]);
            if pad == 0 || pad > buf.len() - header_len {
                return Err(RtpError::BadPadding);
            }
            payload_end -= pad;
        }
        Ok(Self {
            ext_at,
            header_len,
            payload_end,
        })
    }
}

impl<'a> RtpPacket<'a> {
    /// Parses and validates the header of the RTP packet that is all of `buf`.
    ///
    /// # Errors
    /// `BadVersion` unless the version is 2; `Truncated` when the CSRC list or the
    /// extension block runs past the end; `BadPadding` for a padding count of zero or
    /// one larger than the space after the header. Extension elements are not
    /// validated here (see [`Extensions::validate`]).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let layout = Layout::parse(buf)?;
        Ok(Self { buf, layout })
    }

    /// The RTP version; always 2 for a parsed packet.
    #[must_use]
    pub fn version(&self) -> u8 {
        self.b(0) >> 6
    }

    /// Whether the P bit is set.
    #[must_use]
    pub fn has_padding(&self) -> bool {
        self.b(0) & 0x20 != 0
    }

    /// Whether the X bit is set.
    #[must_use]
    pub fn has_extension(&self) -> bool {
        self.b(0) & 0x10 != 0
    }

    /// The CC field: how many CSRCs follow the fixed header.
    #[must_use]
    pub fn csrc_count(&self) -> u8 {
        self.b(0) & 0x0f
    }

    /// The M bit.
    #[must_use]
    pub fn marker(&self) -> bool {
        self.b(1) & 0x80 != 0
    }

    /// The 7-bit payload type.
    #[must_use]
    pub fn payload_type(&self) -> u8 {
        self.b(1) & 0x7f
    }

    /// The 16-bit sequence number.
    #[must_use]
    pub fn sequence_number(&self) -> u16 {
        u16_at(self.buf, 2).unwrap_or(0)
    }

    /// The RTP timestamp.
    #[must_use]
    pub fn timestamp(&self) -> u32 {
        u32_at(self.buf, 4).unwrap_or(0)
    }

    /// The synchronization source.
    #[must_use]
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32_at(self.buf, 8).unwrap_or(0))
    }

    /// The contributing sources, in order.
    #[must_use]
    pub fn csrcs(&self) -> Csrcs<'a> {
        let end = RTP_HEADER_LEN + 4 * usize::from(self.csrc_count());
        Csrcs {
            raw: self.buf.get(RTP_HEADER_LEN..end).unwrap_or(&[]),
        }
    }

    /// The header-extension block, when the X bit is set.
    #[must_use]
    pub fn extensions(&self) -> Option<Extensions<'a>> {
        let at = self.layout.ext_at?;
        let profile = u16_at(self.buf, at)?;
        let body = self.buf.get(at + 4..self.layout.header_len)?;
        Some(Extensions::new(profile, body))
    }

    /// The data of the first RFC 8285 element with `id`, if any.
    #[must_use]
    pub fn extension(&self, id: u8) -> Option<&'a [u8]> {
        self.extensions()?.get(id)
    }

    /// The payload, without header and padding.
    #[must_use]
    pub fn payload(&self) -> &'a [u8] {
        self.buf
            .get(self.layout.header_len..self.layout.payload_end)
            .unwrap_or(&[])
    }

    /// Bytes of padding at the end, including the count octet (0 without the P bit).
    #[must_use]
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.layout.payload_end
    }

    /// Length of fixed header, CSRCs and extension block: the payload offset.
    #[must_use]
    pub fn header_len(&self) -> usize {
        self.layout.header_len
    }

    /// The whole packet as parsed.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    fn b(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }
}

impl<'a> RtpPacketMut<'a> {
    /// Parses the RTP packet that is all of `buf` for in-place rewriting.
    ///
    /// # Errors
    /// As [`RtpPacket::parse`].
    pub fn parse(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        let layout = Layout::parse(buf)?;
        Ok(Self { buf, layout })
    }

    /// A read-only view of the packet as it is now.
    #[must_use]
    pub fn as_packet(&self) -> RtpPacket<'_> {
        RtpPacket {
            buf: self.buf,
            layout: self.layout,
        }
    }

    /// Sets or clears the M bit.
    pub fn set_marker(&mut self, marker: bool) {
        if let Some(b) = self.buf.get_mut(1) {
            *b = (*b & 0x7f) | (u8::from(marker) << 7);
        }
    }

    /// Sets the payload type, keeping the M bit.
    ///
    /// # Errors
    /// `ApiMisuse` when `pt` does not fit in 7 bits.
    pub fn set_payload_type(&mut self, pt: u8) -> Result<(), RtpError> {
        if pt > 0x7f {
            return Err(RtpError::ApiMisuse("payload type above 127"));
        }
        if let Some(b) = self.buf.get_mut(1) {
            *b = (*b & 0x80) | pt;
        }
        Ok(())
    }

    /// Sets the 16-bit sequence number.
    pub fn set_sequence_number(&mut self, seq: u16) {
        self.put(2, &seq.to_be_bytes());
    }

    /// Sets the RTP timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.put(4, &ts.to_be_bytes());
    }

    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        self.put(8, &ssrc.0.to_be_bytes());
    }

    /// The data of the first RFC 8285 element with `id`, writable in place (for
    /// example to restamp abs-send-time or a transport-wide sequence number).
    pub fn extension_mut(&mut self, id: u8) -> Option<&mut [u8]> {
        let at = self.layout.ext_at?;
        let profile = u16_at(self.buf, at)?;
        let body = self.buf.get_mut(at + 4..self.layout.header_len)?;
        crate::ext::get_mut(profile, body, id)
    }

    /// Rewrites extension ids in place through `map`, returning how many elements were
    /// removed (overwritten with padding) because `map` has no target for them or the
    /// target id does not fit the block's form.
    ///
    /// Sizes never change, so this is free of copies. Blocks with a non-RFC 8285
    /// profile are left untouched.
    pub fn remap_extension_ids(&mut self, map: &ExtIdMap) -> usize {
        let Some(at) = self.layout.ext_at else {
            return 0;
        };
        let Some(profile) = u16_at(self.buf, at) else {
            return 0;
        };
        match self.buf.get_mut(at + 4..self.layout.header_len) {
            Some(body) => map.apply(profile, body),
            None => 0,
        }
    }

    /// The payload, writable in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, e) = (self.layout.header_len, self.layout.payload_end);
        self.buf.get_mut(h..e).unwrap_or(&mut [])
    }

    /// The whole packet.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf
    }

    fn put(&mut self, at: usize, v: &[u8]) {
        if let Some(dst) = self.buf.get_mut(at..at + v.len()) {
            dst.copy_from_slice(v);
        }
    }
}

/// Iterator over the CSRC list of a packet.
#[derive(Debug, Clone)]
pub struct Csrcs<'a> {
    raw: &'a [u8],
}

impl Iterator for Csrcs<'_> {
    type Item = Ssrc;

    fn next(&mut self) -> Option<Ssrc> {
        let (head, rest) = self.raw.split_first_chunk::<4>()?;
        self.raw = rest;
        Some(Ssrc(u32::from_be_bytes(*head)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.raw.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Csrcs<'_> {}

/// The header fields of an RTP packet to write with [`write_rtp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader<'a> {
    /// The M bit.
    pub marker: bool,
    /// Payload type, 0–127.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: Ssrc,
    /// Contributing sources, at most 15.
    pub csrcs: &'a [Ssrc],
    /// An RFC 8285 extension block; sets the X bit when present (even if empty).
    pub extensions: Option<ExtensionBlock<'a>>,
}

impl RtpHeader<'_> {
    /// Bytes that [`RtpHeader::write`] produces.
    ///
    /// # Errors
    /// `ApiMisuse` when a field cannot be encoded (see [`RtpHeader::write`]).
    pub fn encoded_len(&self) -> Result<usize, RtpError> {
        if self.csrcs.len() > 15 {
            return Err(RtpError::ApiMisuse("more than 15 CSRCs"));
        }
        if self.payload_type > 0x7f {
            return Err(RtpError::ApiMisuse("payload type above 127"));
        }
        let ext = match &self.extensions {
            Some(b) => b.encoded_len()?,
            None => 0,
        };
        Ok(RTP_HEADER_LEN + 4 * self.csrcs.len() + ext)
    }

    /// Writes the fixed header, CSRCs and extension block into `out`; returns the
    /// length, which is where the payload goes. The P bit is left clear.
    ///
    /// # Errors
    /// `ApiMisuse` for more than 15 CSRCs, a payload type above 127 or extension
    /// elements that do not fit the chosen form; `BufferTooSmall` when `out` is short.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        let len = self.encoded_len()?;
        need(out, len)?;
        let b0 = 0x80 | (u8::from(self.extensions.is_some()) << 4) | self.csrcs.len() as u8;
        let b1 = (u8::from(self.marker) << 7) | self.payload_type;
        put(out, 0, &[b0, b1])?;
        put(out, 2, &self.sequence_number.to_be_bytes())?;
        put(out, 4, &self.timestamp.to_be_bytes())?;
        put(out, 8, &self.ssrc.0.to_be_bytes())?;
        let mut at = RTP_HEADER_LEN;
        for c in self.csrcs {
            put(out, at, &c.0.to_be_bytes())?;
            at += 4;
        }
        if let Some(b) = &self.extensions {
            at += b.write(out.get_mut(at..).unwrap_or(&mut []))?;
        }
        Ok(at)
    }
}

/// Writes a whole RTP packet into `out` and returns its length.
///
/// `padding` is the number of padding octets to append (0 for none); when non-zero
/// the P bit is set and the last octet carries the count (RFC 3550 §5.1).
///
/// # Errors
/// As [`RtpHeader::write`].
///
/// ```
/// use portunus_rtp::{ExtensionBlock, ExtensionElement, RtpHeader, RtpPacket, Ssrc, write_rtp};
/// let elems = [ExtensionElement { id: 3, data: &[0x12, 0x34] }];
/// let hdr = RtpHeader {
///     payload_type: 111,
///     sequence_number: 1,
///     ssrc: Ssrc(7),
///     extensions: Some(ExtensionBlock::auto(&elems)?),
///     ..RtpHeader::default()
/// };
/// let mut buf = [0u8; 64];
/// let n = write_rtp(&mut buf, &hdr, b"opus", 0)?;
/// let pkt = RtpPacket::parse(&buf[..n])?;
/// assert_eq!(pkt.extension(3), Some(&[0x12, 0x34][..]));
/// assert_eq!(pkt.payload(), b"opus");
/// # Ok::<(), portunus_rtp::RtpError>(())
/// ```
pub fn write_rtp(
    out: &mut [u8],
    header: &RtpHeader<'_>,
    payload: &[u8],
    padding: u8,
) -> Result<usize, RtpError> {
    let hlen = header.encoded_len()?;
    let total = hlen + payload.len() + usize::from(padding);
    need(out, total)?;
    header.write(out)?;
    put(out, hlen, payload)?;
    if padding > 0 {
        let pad_at = hlen + payload.len();
        if let Some(p) = out.get_mut(pad_at..total) {
            p.fill(0);
            if let Some(last) = p.last_mut() {
                *last = padding;
            }
        }
        if let Some(b0) = out.first_mut() {
            *b0 |= 0x20;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExtensionElement;

    // RFC 3550 §5.1 fixed header: V=2 P=0 X=0 CC=0 M=0 PT=0, seq 0x1234,
    // ts 0xdecafbad, SSRC 0xcafebabe.
    const MINIMAL: [u8; 14] = [
        0x80, 0x00, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x01, 0x02,
    ];

    #[test]
    fn parses_fixed_header_fields() {
        let p = RtpPacket::parse(&MINIMAL).unwrap();
        assert_eq!(p.version(), 2);
        assert!(!p.has_padding() && !p.has_extension() && !p.marker());
        assert_eq!(p.csrc_count(), 0);
        assert_eq!(p.payload_type(), 0);
        assert_eq!(p.sequence_number(), 0x1234);
        assert_eq!(p.timestamp(), 0xdeca_fbad);
        assert_eq!(p.ssrc(), Ssrc(0xcafe_babe));
        assert_eq!(p.payload(), &[1, 2]);
        assert_eq!(p.header_len(), 12);
        assert!(p.extensions().is_none());
    }

    #[test]
    fn rejects_version_other_than_two() {
        let mut b = MINIMAL;
        b[0] = 0x40;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadVersion(1)));
    }

    #[test]
    fn rejects_truncated_header_and_csrc_list() {
        assert_eq!(RtpPacket::parse(&MINIMAL[..11]), Err(RtpError::Truncated));
        assert_eq!(RtpPacket::parse(&[]), Err(RtpError::Truncated));
        let mut b = MINIMAL;
        b[0] = 0x81; // one CSRC but only 2 bytes follow
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::Truncated));
    }

    #[test]
    fn rejects_extension_block_past_end() {
        let mut b = MINIMAL.to_vec();
        b[0] = 0x90;
        b.truncate(12);
        b.extend_from_slice(&[0xbe, 0xde, 0x00, 0x02, 0x10, 0xff]);
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::Truncated));
    }

    #[test]
    fn strips_padding_from_payload() {
        let mut b = MINIMAL.to_vec();
        b[0] |= 0x20;
        b.extend_from_slice(&[0, 0, 3]);
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.payload(), &[1, 2]);
        assert_eq!(p.padding_len(), 3);
    }

    #[test]
    fn rejects_zero_or_oversized_padding() {
        let mut b = MINIMAL.to_vec();
        b[0] |= 0x20;
        b.push(0);
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding));
        *b.last_mut().unwrap() = 4; // only 3 bytes after the header
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding));
        let mut h = MINIMAL[..12].to_vec();
        h[0] |= 0x20;
        assert_eq!(RtpPacket::parse(&h), Err(RtpError::BadPadding));
    }

    #[test]
    fn padding_only_packet_has_empty_payload() {
        let mut b = MINIMAL[..12].to_vec();
        b[0] |= 0x20;
        b.extend_from_slice(&[0, 0, 0, 4]);
        let p = RtpPacket::parse(&b).unwrap();
        assert!(p.payload().is_empty());
    }

    #[test]
    fn reads_csrcs_in_order() {
        let mut b = MINIMAL[..12].to_vec();
        b[0] = 0x82;
        b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 9]);
        let p = RtpPacket::parse(&b).unwrap();
        let c: Vec<_> = p.csrcs().collect();
        assert_eq!(c, vec![Ssrc(1), Ssrc(2)]);
        assert_eq!(p.csrcs().len(), 2);
        assert_eq!(p.payload(), &[9]);
    }

    #[test]
    fn setters_rewrite_in_place_and_keep_payload() {
        let mut b = MINIMAL;
        let mut p = RtpPacketMut::parse(&mut b).unwrap();
        p.set_marker(true);
        p.set_payload_type(96).unwrap();
        p.set_sequence_number(0xbeef);
        p.set_timestamp(0x0102_0304);
        p.set_ssrc(Ssrc(0x0a0b_0c0d));
        assert_eq!(
            p.set_payload_type(128),
            Err(RtpError::ApiMisuse("payload type above 127"))
        );
        let v = p.as_packet();
        assert!(v.marker());
        assert_eq!(v.payload_type(), 96);
        assert_eq!(v.sequence_number(), 0xbeef);
        assert_eq!(v.timestamp(), 0x0102_0304);
        assert_eq!(v.ssrc(), Ssrc(0x0a0b_0c0d));
        assert_eq!(v.payload(), &[1, 2]);
        p.set_marker(false);
        assert!(!p.as_packet().marker());
        assert_eq!(p.as_packet().payload_type(), 96);
        p.payload_mut()[0] = 7;
        assert_eq!(b[12], 7);
    }

    #[test]
    fn extension_mut_restamps_element_data() {
        let elems = [
            ExtensionElement { id: 1, data: &[9] },
            ExtensionElement {
                id: 3,
                data: &[0, 0],
            },
        ];
        let h = RtpHeader {
            extensions: Some(ExtensionBlock::auto(&elems).unwrap()),
            ..RtpHeader::default()
        };
        let mut buf = [0u8; 32];
        let n = write_rtp(&mut buf, &h, &[1, 2, 3], 0).unwrap();
        let mut p = RtpPacketMut::parse(&mut buf[..n]).unwrap();
        p.extension_mut(3).unwrap().copy_from_slice(&[0x12, 0x34]);
        assert!(p.extension_mut(7).is_none());
        let v = p.as_packet();
        assert_eq!(v.extension(3), Some(&[0x12, 0x34][..]));
        assert_eq!(v.extension(1), Some(&[9][..]));
        assert_eq!(v.payload(), &[1, 2, 3]);
    }

    #[test]
    fn mutable_view_rejects_what_the_read_only_view_rejects() {
        let mut b = MINIMAL;
        b[0] = 0x40;
        assert_eq!(RtpPacketMut::parse(&mut b), Err(RtpError::BadVersion(1)));
        let mut short = [0x80u8; 11];
        assert_eq!(RtpPacketMut::parse(&mut short), Err(RtpError::Truncated));
    }

    #[test]
    fn writes_header_with_csrcs_extensions_and_padding() {
        let csrcs = [Ssrc(5), Ssrc(6)];
        let elems = [
            ExtensionElement { id: 1, data: &[9] },
            ExtensionElement {
                id: 2,
                data: &[1, 2, 3],
            },
        ];
        let h = RtpHeader {
            marker: true,
            payload_type: 100,
            sequence_number: 65535,
            timestamp: 1,
            ssrc: Ssrc(2),
            csrcs: &csrcs,
            extensions: Some(ExtensionBlock::auto(&elems).unwrap()),
        };
        let mut out = [0u8; 64];
        let n = write_rtp(&mut out, &h, &[0xab; 5], 3).unwrap();
        // 12 fixed + 8 CSRC + 4 ext header + 8 ext body + 5 payload + 3 padding
        assert_eq!(n, 40);
        let p = RtpPacket::parse(&out[..n]).unwrap();
        assert!(p.marker() && p.has_padding() && p.has_extension());
        assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
        assert_eq!(p.extension(1), Some(&[9][..]));
        assert_eq!(p.extension(2), Some(&[1, 2, 3][..]));
        assert_eq!(p.payload(), &[0xab; 5]);
    }

    #[test]
    fn write_reports_buffer_too_small() {
        let h = RtpHeader::default();
        let mut out = [0u8; 13];
        assert_eq!(
            write_rtp(&mut out, &h, &[1, 2], 0),
            Err(RtpError::BufferTooSmall { needed: 14 })
        );
    }

    #[test]
    fn write_rejects_sixteen_csrcs() {
        let csrcs = [Ssrc(0); 16];
        let h = RtpHeader {
            csrcs: &csrcs,
            ..RtpHeader::default()
        };
        assert!(write_rtp(&mut [0u8; 128], &h, &[], 0).is_err());
    }
}

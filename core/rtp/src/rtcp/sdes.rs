//! Source description (RFC 3550 §6.5) and goodbye (RFC 3550 §6.6).

use super::{PT_BYE, PT_SDES, RawRtcp, write_header};
use crate::bytes::{need, pad4, put, u32_at};
use crate::{RtpError, Ssrc};

/// One SDES item: its type and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SdesItem<'a> {
    /// Item type (1 CNAME … 8 PRIV; 0 is the end marker and never appears here).
    pub kind: u8,
    /// Item value, up to 255 bytes.
    pub value: &'a [u8],
}

impl SdesItem<'_> {
    /// Item type of the canonical end-point name.
    pub const CNAME: u8 = 1;
}

/// A source description view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> Sdes<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        // Walk every chunk once so that the iterators below never meet bad input.
        let mut chunks = SdesChunks {
            body: raw.body(),
            left: raw.count(),
        };
        while chunks.left > 0 {
            chunks.next_checked()?;
        }
        Ok(Self { raw })
    }

    /// The chunks, one per source.
    #[must_use]
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            body: self.raw.body(),
            left: self.raw.count(),
        }
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

/// Iterator over the chunks of an SDES packet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    body: &'a [u8],
    left: u8,
}

impl<'a> SdesChunks<'a> {
    fn next_checked(&mut self) -> Result<SdesChunk<'a>, RtpError> {
        let ssrc = Ssrc(u32_at(self.body, 0).ok_or(RtpError::Truncated)?);
        let mut at = 4;
        loop {
            let kind = *self.body.get(at).ok_or(RtpError::Truncated)?;
            if kind == 0 {
                break;
            }
            let len = usize::from(*self.body.get(at + 1).ok_or(RtpError::Truncated)?);
            at += 2 + len;
            if at > self.body.len() {
                return Err(RtpError::Truncated);
            }
        }
        let items = self.body.get(4..at).unwrap_or(&[]);
        // The null octet, then zeros up to the next 32-bit boundary.
        let next = pad4(at + 1).min(self.body.len());
        self.body = self.body.get(next..).unwrap_or(&[]);
        self.left -= 1;
        Ok(SdesChunk { ssrc, items })
    }
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        if self.left == 0 {
            return None;
        }
        self.next_checked().ok()
    }
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    ssrc: Ssrc,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The source described.
    #[must_use]
    pub const fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Its items, in order.
    #[must_use]
    pub const fn items(&self) -> SdesItems<'a> {
        SdesItems { raw: self.items }
    }

    /// The value of the CNAME item, if present.
    #[must_use]
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|i| i.kind == SdesItem::CNAME)
            .map(|i| i.value)
    }
}

/// Iterator over the items of an SDES chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    raw: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, rest) = self.raw.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let (value, rest) = rest.split_at_checked(usize::from(len))?;
        self.raw = rest;
        Some(SdesItem { kind, value })
    }
}

/// Writes an SDES packet with one chunk per `(source, items)`; returns its length.
///
/// # Errors
/// `ApiMisuse` for more than 31 chunks, an item of type 0 or a value over 255 bytes;
/// `BufferTooSmall`.
pub fn write_sdes(out: &mut [u8], chunks: &[(Ssrc, &[SdesItem<'_>])]) -> Result<usize, RtpError> {
    let count = u8::try_from(chunks.len())
        .ok()
        .filter(|&n| n <= 31)
        .ok_or(RtpError::ApiMisuse("more than 31 SDES chunks"))?;
    let mut len = 4;
    for (_, items) in chunks {
        let mut c = 4;
        for i in *items {
            if i.kind == 0 || i.value.len() > 255 {
                return Err(RtpError::ApiMisuse("SDES item type 0 or value over 255"));
            }
            c += 2 + i.value.len();
        }
        len += pad4(c + 1);
    }
    need(out, len)?;
    let mut at = 4;
    for (ssrc, items) in chunks {
        let start = at;
        put(out, at, &ssrc.0.to_be_bytes())?;
        at += 4;
        for i in *items {
            put(out, at, &[i.kind, i.value.len() as u8])?;
            put(out, at + 2, i.value)?;
            at += 2 + i.value.len();
        }
        let end = start + pad4(at - start + 1);
        if let Some(z) = out.get_mut(at..end) {
            z.fill(0);
        }
        at = end;
    }
    write_header(out, count, PT_SDES, len)?;
    Ok(len)
}

/// A goodbye view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    pub(super) raw: RawRtcp<'a>,
}

impl<'a> Bye<'a> {
    pub(super) fn new(raw: RawRtcp<'a>) -> Result<Self, RtpError> {
        let ids = 4 * usize::from(raw.count());
        if raw.body().len() < ids {
            return Err(RtpError::Truncated);
        }
        if let Some(&n) = raw.body().get(ids)
            && raw.body().len() < ids + 1 + usize::from(n)
        {
            return Err(RtpError::Truncated);
        }
        Ok(Self { raw })
    }

    /// The sources leaving.
    #[must_use]
    pub fn ssrcs(&self) -> ByeSsrcs<'a> {
        let ids = 4 * usize::from(self.raw.count());
        ByeSsrcs {
            raw: self.raw.body().get(..ids).unwrap_or(&[]),
        }
    }

    /// The reason for leaving, if given.
    #[must_use]
    pub fn reason(&self) -> Option<&'a [u8]> {
        let ids = 4 * usize::from(self.raw.count());
        let n = usize::from(*self.raw.body().get(ids)?);
        self.raw.body().get(ids + 1..ids + 1 + n)
    }

    /// The untyped view.
    #[must_use]
    pub const fn raw(&self) -> RawRtcp<'a> {
        self.raw
    }
}

/// Iterator over the sources of a BYE.
#[derive(Debug, Clone)]
pub struct ByeSsrcs<'a> {
    raw: &'a [u8],
}

impl Iterator for ByeSsrcs<'_> {
    type Item = Ssrc;

    fn next(&mut self) -> Option<Ssrc> {
        let (head, rest) = self.raw.split_first_chunk::<4>()?;
        self.raw = rest;
        Some(Ssrc(u32::from_be_bytes(*head)))
    }
}

/// Writes a BYE for up to 31 sources with an optional reason; returns its length.
///
/// # Errors
/// `ApiMisuse` for more than 31 sources or a reason over 255 bytes; `BufferTooSmall`.
pub fn write_bye(out: &mut [u8], ssrcs: &[Ssrc], reason: Option<&[u8]>) -> Result<usize, RtpError> {
    let count = u8::try_from(ssrcs.len())
        .ok()
        .filter(|&n| n <= 31)
        .ok_or(RtpError::ApiMisuse("more than 31 BYE sources"))?;
    let reason_len = match reason {
        Some(r) if r.len() > 255 => return Err(RtpError::ApiMisuse("BYE reason over 255")),
        Some(r) => pad4(1 + r.len()),
        None => 0,
    };
    let len = 4 + 4 * ssrcs.len() + reason_len;
    write_header(out, count, PT_BYE, len)?;
    let mut at = 4;
    for s in ssrcs {
        put(out, at, &s.0.to_be_bytes())?;
        at += 4;
    }
    if let Some(r) = reason {
        if let Some(z) = out.get_mut(at..len) {
            z.fill(0);
        }
        put(out, at, &[r.len() as u8])?;
        put(out, at + 1, r)?;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::RtcpPacket;

    #[test]
    fn parses_hand_built_sdes_with_two_chunks() {
        // Chunk 1: SSRC 1, CNAME "ab", NAME "x", end + pad. Chunk 2: SSRC 2, no items.
        let b = [
            0x82, 202, 0, 5, 0, 0, 0, 1, 1, 2, b'a', b'b', 2, 1, b'x', 0, 0, 0, 0, 2, 0, 0, 0, 0,
        ];
        let RtcpPacket::Sdes(s) = RtcpPacket::parse(&b).unwrap() else {
            panic!("not SDES");
        };
        let chunks: Vec<_> = s.chunks().collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].ssrc(), Ssrc(1));
        assert_eq!(chunks[0].cname(), Some(&b"ab"[..]));
        assert_eq!(
            chunks[0].items().collect::<Vec<_>>(),
            [
                SdesItem {
                    kind: 1,
                    value: b"ab"
                },
                SdesItem {
                    kind: 2,
                    value: b"x"
                }
            ]
        );
        assert_eq!(chunks[1].ssrc(), Ssrc(2));
        assert_eq!(chunks[1].items().count(), 0);
    }

    #[test]
    fn rejects_sdes_item_past_end() {
        let b = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', b'b'];
        assert_eq!(RtcpPacket::parse(&b), Err(RtpError::Truncated));
        // No null octet before the end.
        let b = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b'];
        assert_eq!(RtcpPacket::parse(&b), Err(RtpError::Truncated));
    }

    #[test]
    fn sdes_round_trip_pads_each_chunk() {
        let items = [SdesItem {
            kind: SdesItem::CNAME,
            value: b"portunus",
        }];
        let mut out = [0u8; 64];
        let n = write_sdes(&mut out, &[(Ssrc(5), &items[..]), (Ssrc(6), &[])]).unwrap();
        // 4 header + (4 + 10 + 1 → 16) + (4 + 1 → 8)
        assert_eq!(n, 28);
        let RtcpPacket::Sdes(s) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not SDES");
        };
        let c: Vec<_> = s.chunks().collect();
        assert_eq!(c[0].cname(), Some(&b"portunus"[..]));
        assert_eq!(c[1].ssrc(), Ssrc(6));
    }

    #[test]
    fn bye_with_and_without_reason() {
        let mut out = [0u8; 32];
        let n = write_bye(&mut out, &[Ssrc(1), Ssrc(2)], Some(b"bye")).unwrap();
        assert_eq!(n, 16);
        assert_eq!(&out[12..16], &[3, b'b', b'y', b'e']);
        let RtcpPacket::Bye(b) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not BYE");
        };
        assert_eq!(b.ssrcs().collect::<Vec<_>>(), [Ssrc(1), Ssrc(2)]);
        assert_eq!(b.reason(), Some(&b"bye"[..]));
        let n = write_bye(&mut out, &[Ssrc(1)], None).unwrap();
        let RtcpPacket::Bye(b) = RtcpPacket::parse(&out[..n]).unwrap() else {
            panic!("not BYE");
        };
        assert_eq!(b.reason(), None);
    }

    #[test]
    fn rejects_bye_reason_past_end() {
        let b = [0x81, 203, 0, 2, 0, 0, 0, 1, 9, b'a', b'b', b'c'];
        assert_eq!(RtcpPacket::parse(&b), Err(RtpError::Truncated));
    }
}

//! RFC 8285 header extensions: the one-byte (0xBEDE) and two-byte (0x100X) forms.
//!
//! [`Extensions`] iterates a block's elements, [`ExtIdMap`] rewrites their ids in
//! place for a subscriber, and [`ExtensionBlock`] writes a new block. Typed values
//! of the common extensions live in [`typed`].

pub mod typed;

use crate::RtpError;
use crate::bytes::{need, pad4, put};

/// Profile value of the one-byte form (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xbede;
/// Profile value of the two-byte form with zero app bits (RFC 8285 §4.3).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// Which RFC 8285 form a block uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtensionForm {
    /// Profile 0xBEDE: ids 1–14, 1–16 data bytes per element.
    OneByte,
    /// Profile 0x100X: ids 1–255, 0–255 data bytes; `app_bits` is the low nibble X.
    TwoByte {
        /// The 4 application bits in the profile's low nibble.
        app_bits: u8,
    },
}

impl ExtensionForm {
    /// The form that a block's profile field announces, or `None` for other profiles.
    #[must_use]
    pub const fn from_profile(profile: u16) -> Option<Self> {
        if profile == ONE_BYTE_PROFILE {
            Some(Self::OneByte)
        } else if profile & 0xfff0 == TWO_BYTE_PROFILE {
            Some(Self::TwoByte {
                app_bits: (profile & 0x0f) as u8,
            })
        } else {
            None
        }
    }

    /// The profile field for this form.
    #[must_use]
    pub const fn profile(self) -> u16 {
        match self {
            Self::OneByte => ONE_BYTE_PROFILE,
            Self::TwoByte { app_bits } => TWO_BYTE_PROFILE | (app_bits & 0x0f) as u16,
        }
    }

    /// Whether an element with `id` and `len` data bytes can be written in this form.
    #[must_use]
    pub const fn fits(self, id: u8, len: usize) -> bool {
        match self {
            Self::OneByte => id >= 1 && id <= 14 && len >= 1 && len <= 16,
            Self::TwoByte { .. } => id >= 1 && len <= 255,
        }
    }

    const fn is_two_byte(self) -> bool {
        matches!(self, Self::TwoByte { .. })
    }
}

/// One extension element: its local id and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtensionElement<'a> {
    /// The local identifier negotiated with `a=extmap`.
    pub id: u8,
    /// The element's data, without the element header.
    pub data: &'a [u8],
}

/// The header-extension block of an RTP packet: profile and body, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions<'a> {
    profile: u16,
    body: &'a [u8],
}

impl<'a> Extensions<'a> {
    /// A view over a block with `profile` whose elements are `body` (the bytes after
    /// the 4-byte block header).
    #[must_use]
    pub const fn new(profile: u16, body: &'a [u8]) -> Self {
        Self { profile, body }
    }

    /// The "defined by profile" field.
    #[must_use]
    pub const fn profile(&self) -> u16 {
        self.profile
    }

    /// The RFC 8285 form, or `None` for another profile (whose body is opaque).
    #[must_use]
    pub const fn form(&self) -> Option<ExtensionForm> {
        ExtensionForm::from_profile(self.profile)
    }

    /// The block body as on the wire.
    #[must_use]
    pub const fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The elements in order. Padding is skipped; iteration stops at the end, at
    /// id 15 in the one-byte form (RFC 8285 §4.2), or at a malformed element.
    #[must_use]
    pub fn iter(&self) -> ExtensionIter<'a> {
        ExtensionIter {
            form: self.form(),
            body: self.body,
            pos: 0,
        }
    }

    /// The data of the first element with `id`.
    #[must_use]
    pub fn get(&self, id: u8) -> Option<&'a [u8]> {
        self.iter().find(|e| e.id == id).map(|e| e.data)
    }

    /// Checks every element of an RFC 8285 block.
    ///
    /// # Errors
    /// `BadExtension` when an element runs past the block, or when the profile is not
    /// an RFC 8285 one.
    pub fn validate(&self) -> Result<(), RtpError> {
        let form = self.form().ok_or(RtpError::BadExtension)?;
        let mut pos = 0;
        loop {
            match step(form.is_two_byte(), self.body, pos) {
                Step::End => return Ok(()),
                Step::Malformed => return Err(RtpError::BadExtension),
                Step::Element { end, .. } => pos = end,
            }
        }
    }
}

impl<'a> IntoIterator for Extensions<'a> {
    type Item = ExtensionElement<'a>;
    type IntoIter = ExtensionIter<'a>;

    fn into_iter(self) -> ExtensionIter<'a> {
        self.iter()
    }
}

/// Iterator over the elements of an extension block (see [`Extensions::iter`]).
#[derive(Debug, Clone)]
pub struct ExtensionIter<'a> {
    form: Option<ExtensionForm>,
    body: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = ExtensionElement<'a>;

    fn next(&mut self) -> Option<ExtensionElement<'a>> {
        let form = self.form?;
        match step(form.is_two_byte(), self.body, self.pos) {
            Step::Element { id, start, end, .. } => {
                self.pos = end;
                Some(ExtensionElement {
                    id,
                    data: self.body.get(start..end)?,
                })
            }
            Step::End | Step::Malformed => {
                self.pos = self.body.len();
                None
            }
        }
    }
}

/// One parse step over a block body, shared by iteration, lookup and remapping.
enum Step {
    Element {
        /// Offset of the element header.
        at: usize,
        id: u8,
        start: usize,
        end: usize,
    },
    End,
    Malformed,
}

fn step(two_byte: bool, body: &[u8], mut pos: usize) -> Step {
    loop {
        let Some(&b) = body.get(pos) else {
            return Step::End;
        };
        if b == 0 || (!two_byte && b >> 4 == 0) {
            // Id 0 is padding in both forms (RFC 8285 §4.2, §4.3). A one-byte header
            // with id 0 and a non-zero length nibble is skipped as a single octet too,
            // as libwebrtc does, rather than read as an element.
            pos += 1;
            continue;
        }
        let (id, start, len) = if two_byte {
            let Some(&len) = body.get(pos + 1) else {
                return Step::Malformed;
            };
            (b, pos + 2, usize::from(len))
        } else {
            let id = b >> 4;
            if id == 15 {
                // RFC 8285 §4.2: id 15 ends processing of the whole block.
                return Step::End;
            }
            (id, pos + 1, usize::from(b & 0x0f) + 1)
        };
        let end = start + len;
        if end > body.len() {
            return Step::Malformed;
        }
        return Step::Element {
            at: pos,
            id,
            start,
            end,
        };
    }
}

/// Finds the data of element `id` in a block body, writable.
pub(crate) fn get_mut(profile: u16, body: &mut [u8], id: u8) -> Option<&mut [u8]> {
    let two = ExtensionForm::from_profile(profile)?.is_two_byte();
    let mut pos = 0;
    loop {
        match step(two, body, pos) {
            Step::Element {
                id: found,
                start,
                end,
                ..
            } => {
                if found == id {
                    return body.get_mut(start..end);
                }
                pos = end;
            }
            Step::End | Step::Malformed => return None,
        }
    }
}

/// A table from a publisher's extension ids to one subscriber's negotiated ids.
///
/// Ids without an entry are dropped by [`ExtIdMap::apply`]. The table is 256 bytes
/// and built once per subscriber, so the per-packet rewrite is one lookup per element.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtIdMap {
    to: [u8; 256],
}

impl std::fmt::Debug for ExtIdMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs = (1..=255u8).filter_map(|i| self.get(i).map(|t| (i, t)));
        f.debug_map().entries(pairs).finish()
    }
}

impl Default for ExtIdMap {
    fn default() -> Self {
        Self::new()
    }
}

impl ExtIdMap {
    /// A table that drops every element.
    #[must_use]
    pub const fn new() -> Self {
        Self { to: [0; 256] }
    }

    /// A table that keeps every id unchanged.
    #[must_use]
    pub fn identity() -> Self {
        let mut to = [0u8; 256];
        for (i, t) in to.iter_mut().enumerate() {
            *t = i as u8;
        }
        Self { to }
    }

    /// Maps publisher id `from` to subscriber id `to`; `to == 0` drops it.
    ///
    /// # Errors
    /// `ApiMisuse` when `from` is 0 (padding, never an id).
    pub fn set(&mut self, from: u8, to: u8) -> Result<(), RtpError> {
        if from == 0 {
            return Err(RtpError::ApiMisuse("extension id 0 is padding"));
        }
        self.to[usize::from(from)] = to;
        Ok(())
    }

    /// The subscriber id for publisher id `from`, or `None` when dropped.
    #[must_use]
    pub fn get(&self, from: u8) -> Option<u8> {
        match self.to[usize::from(from)] {
            0 => None,
            t => Some(t),
        }
    }

    /// Rewrites the ids of a block body in place; returns how many elements were
    /// replaced by padding because they have no target or the target does not fit
    /// the form (one-byte ids stop at 14). Other profiles are left untouched.
    pub fn apply(&self, profile: u16, body: &mut [u8]) -> usize {
        let Some(form) = ExtensionForm::from_profile(profile) else {
            return 0;
        };
        let two = form.is_two_byte();
        let mut removed = 0;
        let mut pos = 0;
        loop {
            let Step::Element { at, id, end, .. } = step(two, body, pos) else {
                return removed;
            };
            let target = self.to[usize::from(id)];
            let keep = target != 0 && (two || target <= 14);
            if let Some(h) = body.get_mut(at) {
                if !keep {
                    // Zero octets are padding, so blanking the element removes it
                    // without moving anything.
                    if let Some(e) = body.get_mut(at..end) {
                        e.fill(0);
                    }
                    removed += 1;
                } else if two {
                    *h = target;
                } else {
                    *h = (target << 4) | (*h & 0x0f);
                }
            }
            pos = end;
        }
    }
}

/// An extension block to write: a form and its elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionBlock<'e> {
    /// The form to encode with.
    pub form: ExtensionForm,
    /// The elements, written in order.
    pub elements: &'e [ExtensionElement<'e>],
}

impl<'e> ExtensionBlock<'e> {
    /// The one-byte form when every element fits it, else the two-byte form.
    ///
    /// # Errors
    /// `ApiMisuse` when an element fits neither (id 0 or more than 255 bytes).
    pub fn auto(elements: &'e [ExtensionElement<'e>]) -> Result<Self, RtpError> {
        let one = elements
            .iter()
            .all(|e| ExtensionForm::OneByte.fits(e.id, e.data.len()));
        let form = if one {
            ExtensionForm::OneByte
        } else {
            ExtensionForm::TwoByte { app_bits: 0 }
        };
        let b = Self { form, elements };
        b.encoded_len()?;
        Ok(b)
    }

    /// Bytes of the block: the 4-byte header plus the body padded to 32 bits.
    ///
    /// # Errors
    /// `ApiMisuse` when an element does not fit the form or the block exceeds the
    /// 16-bit word count.
    pub fn encoded_len(&self) -> Result<usize, RtpError> {
        let mut body = 0usize;
        for e in self.elements {
            if !self.form.fits(e.id, e.data.len()) {
                return Err(RtpError::ApiMisuse("extension element does not fit form"));
            }
            body += e.data.len() + if self.form.is_two_byte() { 2 } else { 1 };
        }
        if pad4(body) / 4 > usize::from(u16::MAX) {
            return Err(RtpError::ApiMisuse("extension block too long"));
        }
        Ok(4 + pad4(body))
    }

    /// Writes the block (header, elements, zero padding) into `out`; returns its length.
    ///
    /// # Errors
    /// As [`ExtensionBlock::encoded_len`], and `BufferTooSmall`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        let len = self.encoded_len()?;
        need(out, len)?;
        put(out, 0, &self.form.profile().to_be_bytes())?;
        put(out, 2, &(((len - 4) / 4) as u16).to_be_bytes())?;
        let mut at = 4;
        for e in self.elements {
            let n = e.data.len();
            if self.form.is_two_byte() {
                put(out, at, &[e.id, n as u8])?;
                at += 2;
            } else {
                put(out, at, &[(e.id << 4) | (n as u8 - 1)])?;
                at += 1;
            }
            put(out, at, e.data)?;
            at += n;
        }
        if let Some(p) = out.get_mut(at..len) {
            p.fill(0);
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elems(e: &Extensions<'_>) -> Vec<(u8, Vec<u8>)> {
        e.iter().map(|x| (x.id, x.data.to_vec())).collect()
    }

    #[test]
    fn one_byte_form_skips_padding_between_elements() {
        // RFC 8285 §4.2 figure: id 1 len 1, id 2 len 2, padding, id 3 len 4.
        let body = [0x10, 0xaa, 0x21, 0xbb, 0xbb, 0x00, 0x00, 0x33, 1, 2, 3, 4];
        let e = Extensions::new(ONE_BYTE_PROFILE, &body);
        assert_eq!(
            elems(&e),
            vec![
                (1, vec![0xaa]),
                (2, vec![0xbb, 0xbb]),
                (3, vec![1, 2, 3, 4])
            ]
        );
        assert!(e.validate().is_ok());
        assert_eq!(e.get(2), Some(&[0xbb, 0xbb][..]));
        assert_eq!(e.get(4), None);
    }

    #[test]
    fn one_byte_id_zero_is_padding_whatever_its_length_nibble() {
        let body = [0x01, 0x10, 0xaa, 0x0f, 0x00, 0x00, 0x00, 0x00];
        let e = Extensions::new(ONE_BYTE_PROFILE, &body);
        assert_eq!(elems(&e), vec![(1, vec![0xaa])]);
        assert!(e.validate().is_ok());
    }

    #[test]
    fn one_byte_id_15_stops_processing() {
        let body = [0x10, 0xaa, 0xf0, 0x20, 0xcc, 0x00, 0x00, 0x00];
        let e = Extensions::new(ONE_BYTE_PROFILE, &body);
        assert_eq!(elems(&e), vec![(1, vec![0xaa])]);
        assert_eq!(e.get(2), None);
    }

    #[test]
    fn two_byte_form_allows_empty_and_long_elements() {
        // RFC 8285 §4.3: id 1 with 0 bytes, id 200 with 3 bytes, then padding.
        let body = [0x01, 0x00, 0xc8, 0x03, 7, 8, 9, 0x00];
        let e = Extensions::new(0x1003, &body);
        assert_eq!(e.form(), Some(ExtensionForm::TwoByte { app_bits: 3 }));
        assert_eq!(elems(&e), vec![(1, vec![]), (200, vec![7, 8, 9])]);
    }

    #[test]
    fn element_past_block_end_is_malformed() {
        let body = [0x10, 0xaa, 0x23, 0x01, 0x02];
        let e = Extensions::new(ONE_BYTE_PROFILE, &body);
        assert_eq!(elems(&e), vec![(1, vec![0xaa])]);
        assert_eq!(e.validate(), Err(RtpError::BadExtension));
        let two = Extensions::new(TWO_BYTE_PROFILE, &[0x05]);
        assert_eq!(two.validate(), Err(RtpError::BadExtension));
    }

    #[test]
    fn unknown_profile_yields_no_elements() {
        let e = Extensions::new(0x1234, &[0x10, 0xaa, 0, 0]);
        assert_eq!(e.form(), None);
        assert_eq!(e.iter().count(), 0);
        assert_eq!(e.validate(), Err(RtpError::BadExtension));
    }

    #[test]
    fn remap_rewrites_ids_and_blanks_unmapped() {
        let mut body = [0x10, 0xaa, 0x21, 0xbb, 0xbb, 0x30, 0xcc, 0x00];
        let mut m = ExtIdMap::new();
        m.set(1, 9).unwrap();
        m.set(3, 15).unwrap(); // does not fit the one-byte form
        let removed = m.apply(ONE_BYTE_PROFILE, &mut body);
        assert_eq!(removed, 2);
        assert_eq!(body, [0x90, 0xaa, 0, 0, 0, 0, 0, 0]);
        let e = Extensions::new(ONE_BYTE_PROFILE, &body);
        assert_eq!(elems(&e), vec![(9, vec![0xaa])]);
    }

    #[test]
    fn remap_two_byte_allows_large_ids() {
        let mut body = [0x01, 0x01, 0xaa, 0x02, 0x00, 0x00, 0x00, 0x00];
        let mut m = ExtIdMap::new();
        m.set(1, 200).unwrap();
        m.set(2, 3).unwrap();
        assert_eq!(m.apply(TWO_BYTE_PROFILE, &mut body), 0);
        let e = Extensions::new(TWO_BYTE_PROFILE, &body);
        assert_eq!(elems(&e), vec![(200, vec![0xaa]), (3, vec![])]);
    }

    #[test]
    fn identity_map_leaves_block_unchanged() {
        let orig = [0x10, 0xaa, 0x21, 0xbb, 0xbb, 0x00, 0x00, 0x00];
        let mut body = orig;
        assert_eq!(ExtIdMap::identity().apply(ONE_BYTE_PROFILE, &mut body), 0);
        assert_eq!(body, orig);
        assert!(ExtIdMap::new().set(0, 1).is_err());
    }

    #[test]
    fn auto_picks_one_byte_when_possible() {
        let a = [ExtensionElement {
            id: 14,
            data: &[0; 16],
        }];
        assert_eq!(
            ExtensionBlock::auto(&a).unwrap().form,
            ExtensionForm::OneByte
        );
        let b = [ExtensionElement { id: 15, data: &[1] }];
        assert!(ExtensionBlock::auto(&b).unwrap().form.is_two_byte());
        let c = [ExtensionElement { id: 1, data: &[] }];
        assert!(ExtensionBlock::auto(&c).unwrap().form.is_two_byte());
        let d = [ExtensionElement {
            id: 1,
            data: &[0; 17],
        }];
        assert!(ExtensionBlock::auto(&d).unwrap().form.is_two_byte());
        let bad = [ExtensionElement { id: 0, data: &[1] }];
        assert!(ExtensionBlock::auto(&bad).is_err());
    }

    #[test]
    fn writes_one_byte_block_with_zero_padding() {
        let a = [
            ExtensionElement {
                id: 5,
                data: &[0, 2],
            },
            ExtensionElement { id: 1, data: &[7] },
        ];
        let b = ExtensionBlock {
            form: ExtensionForm::OneByte,
            elements: &a,
        };
        let mut out = [0xffu8; 12];
        let n = b.write(&mut out).unwrap();
        assert_eq!(n, 12);
        assert_eq!(out, [0xbe, 0xde, 0, 2, 0x51, 0, 2, 0x10, 7, 0, 0, 0]);
    }

    #[test]
    fn writes_empty_block_as_header_only() {
        let b = ExtensionBlock {
            form: ExtensionForm::TwoByte { app_bits: 0 },
            elements: &[],
        };
        let mut out = [0u8; 4];
        assert_eq!(b.write(&mut out), Ok(4));
        assert_eq!(out, [0x10, 0, 0, 0]);
    }

    #[test]
    fn get_mut_edits_element_data() {
        let mut body = [0x10, 0xaa, 0x21, 0xbb, 0xbb, 0, 0, 0];
        get_mut(ONE_BYTE_PROFILE, &mut body, 2).unwrap()[1] = 0x11;
        assert_eq!(body[4], 0x11);
        assert!(get_mut(ONE_BYTE_PROFILE, &mut body, 3).is_none());
    }
}

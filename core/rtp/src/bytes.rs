//! Bounds-checked big-endian reads and writes shared by the parsers.

use crate::RtpError;

/// Reads a big-endian `u16` at `at`, or `None` past the end.
#[inline]
pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Reads a big-endian 24-bit value at `at`, or `None` past the end.
#[inline]
pub(crate) fn u24_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some(u32::from_be_bytes([0, s[0], s[1], s[2]]))
}

/// Reads a big-endian `u32` at `at`, or `None` past the end.
#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a big-endian `u64` at `at`, or `None` past the end.
#[inline]
pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

/// Copies `src` into `out` at `at`; the caller has checked the size up front, so a
/// failure here is a size-computation bug reported as `Truncated` rather than a panic.
#[inline]
pub(crate) fn put(out: &mut [u8], at: usize, src: &[u8]) -> Result<(), RtpError> {
    let end = at.checked_add(src.len()).ok_or(RtpError::Truncated)?;
    out.get_mut(at..end)
        .ok_or(RtpError::BufferTooSmall { needed: end })?
        .copy_from_slice(src);
    Ok(())
}

/// Fails with `BufferTooSmall` unless `out` holds at least `needed` bytes.
#[inline]
pub(crate) fn need(out: &[u8], needed: usize) -> Result<(), RtpError> {
    if out.len() < needed {
        Err(RtpError::BufferTooSmall { needed })
    } else {
        Ok(())
    }
}

/// Rounds `n` up to the next multiple of four (32-bit words, RFC 3550 §6.4).
#[inline]
pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

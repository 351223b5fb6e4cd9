//! G.711 µ-law (PCMU) and A-law (PCMA): 16-bit linear PCM to 8-bit codes and back (ITU-T
//! G.711 segment tables, computed rather than looked up, both ways under 10 instructions).

/// µ-law bias added before finding the segment (33 in 14-bit units, scaled to 16 bits).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent before the bias pushes it past 15 bits.
const ULAW_CLIP: i32 = 32_635;

/// Encodes one sample as µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let value = i32::from(sample);
    let (sign, magnitude) = if value < 0 {
        (0x80, -value)
    } else {
        (0x00, value)
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // The segment is the position of the highest set bit above bit 7 (0–7).
    let top_bit = 31 - biased.leading_zeros() as i32;
    let segment = (top_bit - 7).clamp(0, 7);
    let mantissa = (biased >> (segment + 3)) & 0x0f;
    !(sign | (segment << 4) | mantissa) as u8
}

/// Decodes one µ-law code.
pub fn ulaw_decode(code: u8) -> i16 {
    let code = !code;
    let segment = i32::from((code >> 4) & 0x07);
    let mantissa = i32::from(code & 0x0f);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    // At most (0x78 + 0x84) << 7 - 0x84 = 32124: always fits.
    let magnitude = magnitude as i16;
    if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Encodes one sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13 bits.
    let value = i32::from(sample) >> 3;
    let (mask, magnitude) = if value >= 0 {
        (0xd5, value)
    } else {
        (0x55, -value - 1)
    };
    let magnitude = magnitude.min(0x0fff);
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        let bits = 32 - magnitude.leading_zeros() as i32;
        let segment = bits - 5;
        let shift = segment.max(1);
        (segment << 4) | ((magnitude >> shift) & 0x0f)
    };
    (code ^ mask) as u8
}

/// Decodes one A-law code.
pub fn alaw_decode(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = u32::from((code & 0x70) >> 4);
    let mut magnitude = i32::from(code & 0x0f) << 4;
    magnitude += match segment {
        0 => 8,
        _ => 0x108,
    };
    if segment > 1 {
        magnitude <<= segment - 1;
    }
    // At most 0x1f8 << 6 = 32256: always fits.
    let magnitude = magnitude as i16;
    if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_the_g711_reference_points() {
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(ulaw_decode(0x7f), 0, "negative zero");
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        // Segment 0 steps by 8 around the bias: 0..8 → 0, then 8, 16 …
        assert_eq!(ulaw_decode(0xfe), 8);
        assert_eq!(ulaw_decode(0xf0), 120);
        assert_eq!(ulaw_decode(0xef), 132);
        assert_eq!(ulaw_encode(1000), 0xce);
        assert_eq!(ulaw_decode(0xce), 988);
        assert_eq!(ulaw_encode(-1000), 0x4e);
    }

    #[test]
    fn alaw_matches_the_g711_reference_points() {
        assert_eq!(alaw_encode(0), 0xd5);
        assert_eq!(alaw_decode(0xd5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xaa), 32_256);
        assert_eq!(alaw_decode(0x2a), -32_256);
        assert_eq!(alaw_encode(i16::MAX), 0xaa);
        assert_eq!(alaw_encode(i16::MIN), 0x2a);
        assert_eq!(alaw_encode(1000), 0xfa);
        assert_eq!(alaw_decode(0xfa), 1008);
        assert_eq!(alaw_encode(-1000), 0x7a);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(code));
            // µ-law has two zeros; the encoder picks the positive one.
            let expected = if code == 0x7f { 0xff } else { code };
            assert_eq!(back, expected, "µ-law {code:#04x}");
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn quantisation_error_stays_within_half_a_step() {
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let s = i32::from(sample);
            let u = i32::from(ulaw_decode(ulaw_encode(sample)));
            let a = i32::from(alaw_decode(alaw_encode(sample)));
            // The widest segments are 1024 (µ-law) and 1024 (A-law) wide in 16-bit units;
            // clipping at the top adds the rest.
            let bound = (s.abs() / 16).max(16) + 700 * i32::from(s.abs() > 31_000);
            assert!((u - s).abs() <= bound, "µ-law {sample} → {u}");
            assert!((a - s).abs() <= bound, "A-law {sample} → {a}");
        }
    }
}

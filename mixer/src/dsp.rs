//! The arithmetic of mixing: gain, panning, summing with headroom, N-1 and saturation, and
//! the linear resampling that carries 8 kHz G.711 to and from the mix rate. Sums are kept in
//! `i32` so that nothing clips until a participant's own mix is written out.

/// Multiplies by `percent` / 100 (AudioBridge `volume`).
pub fn gain(sample: i16, percent: u32) -> i32 {
    if percent == 100 {
        return i32::from(sample);
    }
    // |sample| * percent stays far below i64 range; the result may exceed i16 on purpose:
    // clipping happens once, after mixing.
    let scaled = i64::from(sample) * i64::from(percent) / 100;
    scaled.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Left and right gains in percent for a spatial position 0 (left) … 100 (right): full on
/// the near side, falling linearly to 0 at the far edge on the other (centre: both full).
pub fn pan_gains(position: u8) -> (u32, u32) {
    let p = u32::from(position.min(100));
    let left = if p <= 50 { 100 } else { 100 - (p - 50) * 2 };
    let right = if p >= 50 { 100 } else { 100 - (50 - p) * 2 };
    (left, right)
}

/// Writes one participant's contribution: `decoded` (mono) scaled by `volume`, and in a
/// stereo mix (`contribution` twice as long) panned by `position`.
pub fn contribution(decoded: &[i16], volume: u32, position: Option<u8>, contribution: &mut [i32]) {
    match position {
        None => {
            for (out, s) in contribution.iter_mut().zip(decoded) {
                *out = gain(*s, volume);
            }
        }
        Some(position) => {
            let (left, right) = pan_gains(position);
            for (out, s) in contribution.chunks_exact_mut(2).zip(decoded) {
                let v = gain(*s, volume);
                if let [l, r] = out {
                    *l = scale(v, left);
                    *r = scale(v, right);
                }
            }
        }
    }
}

fn scale(v: i32, percent: u32) -> i32 {
    (i64::from(v) * i64::from(percent) / 100) as i32
}

/// Adds `contribution` into `mix`.
pub fn accumulate(mix: &mut [i32], contribution: &[i32]) {
    for (m, c) in mix.iter_mut().zip(contribution) {
        *m = m.saturating_add(*c);
    }
}

/// One participant's output: the mix minus its own contribution (when it has one),
/// saturated to 16 bits.
pub fn mix_minus(mix: &[i32], own: Option<&[i32]>, out: &mut [i16]) {
    match own {
        Some(own) => {
            for ((o, m), c) in out.iter_mut().zip(mix).zip(own) {
                *o = saturate(m.saturating_sub(*c));
            }
        }
        None => {
            for (o, m) in out.iter_mut().zip(mix) {
                *o = saturate(*m);
            }
        }
    }
}

/// Clamps to the 16-bit range (hard clipping, as Janus does).
pub fn saturate(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Averages interleaved stereo into mono.
pub fn downmix(stereo: &[i16], mono: &mut [i16]) {
    for (m, pair) in mono.iter_mut().zip(stereo.chunks_exact(2)) {
        if let [l, r] = pair {
            *m = ((i32::from(*l) + i32::from(*r)) / 2) as i16;
        }
    }
}

/// Resamples `input` to fill `output` by linear interpolation (the lengths give the ratio;
/// equal lengths copy). Good enough for speech between 8 kHz and the mix rate; a polyphase
/// filter would alias less when going down.
pub fn resample(input: &[i16], output: &mut [i16]) {
    if input.len() == output.len() {
        output.copy_from_slice(input);
        return;
    }
    let (Some(&last), false) = (input.last(), output.is_empty()) else {
        output.fill(0);
        return;
    };
    let (n_in, n_out) = (input.len() as u64, output.len() as u64);
    for (i, out) in output.iter_mut().enumerate() {
        // Position in the input in 1/n_out steps: i * n_in / n_out.
        let pos = i as u64 * n_in;
        let index = (pos / n_out) as usize;
        let frac = (pos % n_out) as i64;
        let a = i64::from(input.get(index).copied().unwrap_or(last));
        let b = i64::from(input.get(index + 1).copied().unwrap_or(last));
        *out = (a + (b - a) * frac / n_out as i64) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_minus_removes_exactly_the_own_voice() {
        let a = [1000i32, -2000, 3000];
        let b = [10i32, 20, 30];
        let c = [-5i32, 5, 0];
        let mut mix = [0i32; 3];
        for p in [&a, &b, &c] {
            accumulate(&mut mix, p);
        }
        let mut out = [0i16; 3];
        mix_minus(&mix, Some(&a), &mut out);
        assert_eq!(out, [5, 25, 30], "b + c");
        mix_minus(&mix, Some(&b), &mut out);
        assert_eq!(out, [995, -1995, 3000], "a + c");
        mix_minus(&mix, None, &mut out);
        assert_eq!(out, [1005, -1975, 3030], "everyone (a forwarder)");
    }

    #[test]
    fn volume_scales_before_mixing_and_may_exceed_16_bits_until_the_end() {
        assert_eq!(gain(1000, 100), 1000);
        assert_eq!(gain(1000, 50), 500);
        assert_eq!(gain(-1000, 0), 0);
        assert_eq!(gain(30_000, 200), 60_000, "headroom kept in the sum");
        let mut c = [0i32; 2];
        contribution(&[400, -400], 25, None, &mut c);
        assert_eq!(c, [100, -100]);
    }

    #[test]
    fn loud_sums_saturate_instead_of_wrapping() {
        let mut mix = [0i32; 2];
        accumulate(&mut mix, &[30_000, -30_000]);
        accumulate(&mut mix, &[30_000, -30_000]);
        let mut out = [0i16; 2];
        mix_minus(&mix, None, &mut out);
        assert_eq!(out, [i16::MAX, i16::MIN]);
        // One participant's own loud voice removed first: the rest fits again.
        mix_minus(&mix, Some(&[30_000, -30_000]), &mut out);
        assert_eq!(out, [30_000, -30_000]);
        assert_eq!(saturate(i32::MAX), i16::MAX);
        let mut big = [i32::MAX];
        accumulate(&mut big, &[1]);
        assert_eq!(big, [i32::MAX], "the sum itself saturates");
    }

    #[test]
    fn panning_follows_the_spatial_position() {
        assert_eq!(pan_gains(50), (100, 100));
        assert_eq!(pan_gains(0), (100, 0));
        assert_eq!(pan_gains(100), (0, 100));
        assert_eq!(pan_gains(75), (50, 100));
        assert_eq!(pan_gains(200), (0, 100), "out of range clamps");
        let mut stereo = [0i32; 4];
        contribution(&[1000, -1000], 100, Some(0), &mut stereo);
        assert_eq!(stereo, [1000, 0, -1000, 0], "hard left");
        contribution(&[1000, -1000], 50, Some(75), &mut stereo);
        assert_eq!(stereo, [250, 500, -250, -500], "volume then pan");
    }

    #[test]
    fn resampling_keeps_a_ramp_a_ramp() {
        let input: Vec<i16> = (0..160).map(|i| i * 10).collect();
        let mut up = [0i16; 320];
        resample(&input, &mut up);
        assert_eq!(up[0], 0);
        assert_eq!(up[1], 5);
        assert_eq!(up[2], 10);
        assert_eq!(up[200], 1000);
        let mut down = [0i16; 160];
        resample(&up, &mut down);
        assert_eq!(&down[..159], &input[..159]);
        let mut same = [0i16; 160];
        resample(&input, &mut same);
        assert_eq!(same.as_slice(), input.as_slice());
        let mut stereo_down = [0i16; 2];
        downmix(&[100, 300, -10, -30], &mut stereo_down);
        assert_eq!(stereo_down, [200, -20]);
    }
}

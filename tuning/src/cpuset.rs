//! Sets of CPU numbers in the two notations the kernel uses: lists (`0-3,8`, as in
//! `smp_affinity_list`, `/proc/cmdline` and `cpu/online`) and hex masks (`00000000,0000000f`,
//! as in `rps_cpus` and `smp_affinity`).

use std::collections::BTreeSet;
use std::fmt;

use crate::TuneError;

/// The largest CPU number accepted, one below the kernel's `NR_CPUS` ceiling (8192). It keeps
/// a hostile or corrupt list such as `0-4294967295` from allocating without bound.
pub const MAX_CPU: u32 = 8191;

/// A set of CPU numbers, kept sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CpuSet(BTreeSet<u32>);

impl CpuSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a kernel CPU list: comma-separated numbers and inclusive ranges (`0-3,8,10-11`).
    /// Surrounding whitespace is ignored and an empty string is the empty set.
    ///
    /// # Errors
    /// [`TuneError::CpuList`] for anything else, including the `a-b:used/group` stride form
    /// and CPU numbers above [`MAX_CPU`].
    pub fn parse_list(text: &str) -> Result<Self, TuneError> {
        let bad = || TuneError::CpuList(text.to_owned());
        let mut set = Self::new();
        let text = text.trim();
        if text.is_empty() {
            return Ok(set);
        }
        for part in text.split(',') {
            let (lo, hi) = match part.split_once('-') {
                Some((lo, hi)) => (
                    parse_cpu(lo).ok_or_else(bad)?,
                    parse_cpu(hi).ok_or_else(bad)?,
                ),
                None => {
                    let cpu = parse_cpu(part).ok_or_else(bad)?;
                    (cpu, cpu)
                }
            };
            if lo > hi {
                return Err(bad());
            }
            set.0.extend(lo..=hi);
        }
        Ok(set)
    }

    /// Parses a kernel CPU mask: hex words of up to 32 bits separated by commas, most
    /// significant first (`3`, `00000000,00000003`). An optional `0x` prefix is accepted.
    ///
    /// # Errors
    /// [`TuneError::CpuMask`] when a word is empty, longer than 8 hex digits or not hex, or
    /// when a bit above [`MAX_CPU`] is set.
    pub fn parse_mask(text: &str) -> Result<Self, TuneError> {
        let bad = || TuneError::CpuMask(text.to_owned());
        let trimmed = text.trim();
        let trimmed = trimmed.strip_prefix("0x").unwrap_or(trimmed);
        let mut set = Self::new();
        for (index, word) in trimmed.rsplit(',').enumerate() {
            if word.is_empty() || word.len() > 8 || !word.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let bits = u32::from_str_radix(word, 16).map_err(|_| bad())?;
            for bit in 0..32u32 {
                if bits & (1 << bit) != 0 {
                    let cpu = u32::try_from(index)
                        .ok()
                        .and_then(|i| i.checked_mul(32))
                        .and_then(|base| base.checked_add(bit))
                        .filter(|cpu| *cpu <= MAX_CPU)
                        .ok_or_else(bad)?;
                    set.0.insert(cpu);
                }
            }
        }
        Ok(set)
    }

    /// The set as a kernel CPU list with ranges collapsed (`0-3,8`); empty for the empty set.
    pub fn to_list(&self) -> String {
        let mut out = String::new();
        let mut iter = self.0.iter().copied().peekable();
        while let Some(start) = iter.next() {
            let mut end = start;
            while iter.peek() == Some(&(end + 1)) {
                end += 1;
                iter.next();
            }
            if !out.is_empty() {
                out.push(',');
            }
            if start == end {
                out.push_str(&start.to_string());
            } else {
                out.push_str(&format!("{start}-{end}"));
            }
        }
        out
    }

    /// The set as a kernel CPU mask: the most significant 32-bit word unpadded, the rest as
    /// 8 hex digits, comma-separated (`3`, `1,00000000`); `0` for the empty set. This is the
    /// form `rps_cpus` accepts on every kernel.
    pub fn to_mask(&self) -> String {
        let Some(&highest) = self.0.last() else {
            return "0".to_owned();
        };
        let mut words = vec![0u32; highest as usize / 32 + 1];
        for &cpu in &self.0 {
            words[cpu as usize / 32] |= 1 << (cpu % 32);
        }
        let mut out = String::new();
        for (i, word) in words.iter().rev().enumerate() {
            if i == 0 {
                out.push_str(&format!("{word:x}"));
            } else {
                out.push_str(&format!(",{word:08x}"));
            }
        }
        out
    }

    /// Adds `cpu` to the set.
    pub fn insert(&mut self, cpu: u32) {
        self.0.insert(cpu);
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.contains(&cpu)
    }

    /// Whether every CPU of `self` is also in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The CPUs in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        Self(self.0.intersection(&other.0).copied().collect())
    }

    /// The number of CPUs in the set.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The CPUs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }

    /// The first `n` CPUs in ascending order.
    pub fn first(&self, n: usize) -> Self {
        Self(self.0.iter().copied().take(n).collect())
    }
}

impl FromIterator<u32> for CpuSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for CpuSet {
    /// Writes the list form, or `none` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.to_list())
        }
    }
}

fn parse_cpu(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|cpu| *cpu <= MAX_CPU)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_with_ranges_and_singles() {
        let set = CpuSet::parse_list("0-3,8,10-11\n").unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(set.to_list(), "0-3,8,10-11");
        assert!(CpuSet::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_lists() {
        for bad in ["3-1", "a", "1,,2", "-1", "0-8192", "0-7:2/4", "1-"] {
            assert!(CpuSet::parse_list(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn parses_masks_in_kernel_word_format() {
        assert_eq!(CpuSet::parse_mask("f").unwrap().to_list(), "0-3");
        assert_eq!(
            CpuSet::parse_mask("00000000,00000003\n").unwrap().to_list(),
            "0-1"
        );
        assert_eq!(CpuSet::parse_mask("1,00000000").unwrap().to_list(), "32");
        assert_eq!(CpuSet::parse_mask("0x5").unwrap().to_list(), "0,2");
        assert!(CpuSet::parse_mask("00").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_masks() {
        for bad in ["", "g", "123456789", "1,,2", ","] {
            assert!(CpuSet::parse_mask(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn formats_masks_with_32_bit_words() {
        let set: CpuSet = [0, 1].into_iter().collect();
        assert_eq!(set.to_mask(), "3");
        let set: CpuSet = [1, 35].into_iter().collect();
        assert_eq!(set.to_mask(), "8,00000002");
        assert_eq!(CpuSet::new().to_mask(), "0");
    }
}

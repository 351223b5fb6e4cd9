//! A small deterministic generator fed by the caller's seed (no global RNG in core crates).

/// SplitMix64: fast, statistically fine for transaction ids and timer jitter. Transaction
/// ids need to be unpredictable to off-path attackers only as much as the seed is.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn transaction_id(&mut self) -> portunus_stun::TransactionId {
        let mut t = [0u8; 12];
        t[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        t[8..].copy_from_slice(&self.next_u64().to_le_bytes()[..4]);
        portunus_stun::TransactionId(t)
    }

    /// A value uniform in `lo..=hi` (up to a negligible modulo bias).
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

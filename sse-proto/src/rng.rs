//! Injected randomness: the [`Rng`] trait and a small seedable generator.
//!
//! The client machine draws jitter for its reconnection backoff from an `Rng` the driver
//! supplies, so a simulated conversation is deterministic under a fixed seed.

/// A source of random numbers supplied by the driver.
pub trait Rng {
    /// A uniformly distributed 64-bit value.
    fn next_u64(&mut self) -> u64;
}

/// SplitMix64: a tiny, fast, seedable generator (not cryptographic; jitter does not need it).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose whole sequence is determined by `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl<R: Rng + ?Sized> Rng for &mut R {
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

/// A value drawn uniformly from `0..=max` (multiply-shift; bias is below 2^-32 for the ranges
/// used here).
pub(crate) fn below_or_equal(rng: &mut dyn Rng, max: u64) -> u64 {
    if max == u64::MAX {
        return rng.next_u64();
    }
    ((u128::from(rng.next_u64()) * u128::from(max + 1)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_stay_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut seen_max = false;
        for _ in 0..1000 {
            let v = below_or_equal(&mut a, 3);
            assert!(v <= 3);
            seen_max |= v == 3;
        }
        assert!(seen_max);
        assert_eq!(below_or_equal(&mut a, 0), 0);
    }
}

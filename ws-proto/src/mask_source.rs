//! Injected randomness for masking keys.
//!
//! RFC 6455 section 5.3 asks that a client's masking keys be unpredictable, so a production
//! driver backs [`MaskSource`] with a cryptographically strong generator. Tests and fuzzers use
//! [`SeededMasks`] so a whole simulated conversation is deterministic.

/// A source of 4-byte masking keys, called once per frame a client sends.
pub trait MaskSource {
    /// The next masking key.
    fn next_mask(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4]> MaskSource for F {
    fn next_mask(&mut self) -> [u8; 4] {
        self()
    }
}

/// A deterministic, seedable key generator (SplitMix64). Not cryptographically strong: for
/// tests, simulations and fuzzing, or seeded per connection from a strong source.
#[derive(Debug, Clone)]
pub struct SeededMasks {
    state: u64,
}

impl SeededMasks {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        SeededMasks { state: seed }
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl MaskSource for SeededMasks {
    fn next_mask(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_ne_bytes()
    }
}

/// Masking keys from the operating system's secure random source (feature `std`), read 256
/// keys at a time: what a client should use in production.
///
/// The OS source failing after it worked once (which `getrandom` documents as not expected
/// to happen on supported systems) is an unrecoverable environment failure: it panics rather
/// than hand out predictable keys.
#[cfg(feature = "std")]
pub struct OsMasks {
    buf: [u8; 1024],
    pos: usize,
}

#[cfg(feature = "std")]
impl OsMasks {
    /// A source, or the OS's error if its random source is not available.
    pub fn new() -> Result<Self, getrandom::Error> {
        let mut buf = [0u8; 1024];
        getrandom::fill(&mut buf)?;
        Ok(OsMasks { buf, pos: 0 })
    }
}

#[cfg(feature = "std")]
impl core::fmt::Debug for OsMasks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the keys to come.
        f.debug_struct("OsMasks").finish_non_exhaustive()
    }
}

#[cfg(feature = "std")]
impl MaskSource for OsMasks {
    fn next_mask(&mut self) -> [u8; 4] {
        if self.pos == self.buf.len() {
            getrandom::fill(&mut self.buf).expect("the OS random source failed");
            self.pos = 0;
        }
        let key = [
            self.buf[self.pos],
            self.buf[self.pos + 1],
            self.buf[self.pos + 2],
            self.buf[self.pos + 3],
        ];
        self.pos += 4;
        key
    }
}

/// The mask source of a server, which never masks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoMasks;

impl MaskSource for NoMasks {
    fn next_mask(&mut self) -> [u8; 4] {
        [0; 4]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "std")]
    #[test]
    fn os_masks_vary_past_a_refill() {
        let mut m = OsMasks::new().unwrap();
        let keys: alloc::vec::Vec<[u8; 4]> = (0..600).map(|_| m.next_mask()).collect();
        // 600 keys cross the 256-key refill; random 32-bit keys repeat with negligible odds.
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert!(sorted.len() > 590, "{} distinct of 600", sorted.len());
        assert!(!format!("{m:?}").contains(&format!("{:?}", keys[0])));
    }

    #[test]
    fn seeded_is_deterministic_and_varies() {
        let mut a = SeededMasks::new(7);
        let mut b = SeededMasks::new(7);
        let ka: [[u8; 4]; 4] = core::array::from_fn(|_| a.next_mask());
        let kb: [[u8; 4]; 4] = core::array::from_fn(|_| b.next_mask());
        assert_eq!(ka, kb);
        assert_ne!(ka[0], ka[1]);
        let mut n = 0u8;
        let mut f = move || {
            n += 1;
            [n; 4]
        };
        assert_eq!(f.next_mask(), [1; 4]);
        assert_eq!(f.next_mask(), [2; 4]);
    }
}

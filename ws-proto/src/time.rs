//! Injected time: a monotonic instant the driver supplies, so the crate needs no clock.
//!
//! An [`Instant`] is a count of microseconds since an epoch the driver chooses (process start,
//! a test's virtual zero, ...). Only differences between instants matter.

use core::time::Duration;

/// A point in time, in microseconds since an epoch chosen by the driver.
///
/// Tests use virtual time (`Instant::from_micros(0)` and up); a std driver typically measures
/// `std::time::Instant::now() - start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1000))
    }

    /// An instant `d` after the epoch (saturating at the largest instant).
    pub fn from_duration(d: Duration) -> Self {
        Instant(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// This instant plus `d`, saturating at the largest representable instant.
    pub fn saturating_add(self, d: Duration) -> Self {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(micros))
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!(t.as_micros(), 5000);
        assert_eq!(t.saturating_add(Duration::from_millis(1)).as_micros(), 6000);
        assert_eq!(
            Instant::from_micros(u64::MAX - 1)
                .saturating_add(Duration::from_secs(1))
                .as_micros(),
            u64::MAX
        );
        assert_eq!(Instant::ZERO.saturating_duration_since(t), Duration::ZERO);
        assert_eq!(
            t.saturating_duration_since(Instant::ZERO),
            Duration::from_millis(5)
        );
        assert_eq!(
            Instant::from_duration(Duration::from_secs(2)).as_micros(),
            2_000_000
        );
    }
}

//! Injected time: [`Instant`] is microseconds since an epoch the driver chooses.
//!
//! The protocol never reads a clock. The driver passes `now` into every `handle_*` call and
//! asks `poll_timeout` when to call `handle_timeout`. Arithmetic saturates: an `Instant` never
//! overflows or panics.

use core::fmt;
use core::ops::Add;
use core::time::Duration;

/// A point in time: microseconds since an epoch chosen by the driver (process start, Unix
/// epoch, or zero in a simulation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(0);
    /// The latest representable instant.
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(micros))
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let cases = [
            (Instant::ZERO, Duration::from_millis(5), 5_000),
            (Instant::from_millis(1), Duration::from_micros(1), 1_001),
            (Instant::MAX, Duration::from_secs(1), u64::MAX),
            (Instant::ZERO, Duration::MAX, u64::MAX),
        ];
        for (at, d, want) in cases {
            assert_eq!((at + d).as_micros(), want, "{at} + {d:?}");
        }
        assert_eq!(
            Instant::from_millis(1).saturating_duration_since(Instant::from_millis(3)),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_millis(3).saturating_duration_since(Instant::from_millis(1)),
            Duration::from_millis(2)
        );
        assert_eq!(
            alloc::format!("{}", Instant::from_micros(1_500_000)),
            "1.500000s"
        );
    }
}

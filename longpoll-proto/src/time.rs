//! Injected time: [`Instant`], microseconds since an epoch the driver chooses.
//!
//! The crate never reads a clock. The driver passes `now` into every call that needs it and
//! asks `poll_timeout` when to call `handle_timeout`. Arithmetic saturates: it never panics
//! and never wraps. (The three protocol crates define the same `Instant`, with the same API;
//! `tests/tests/instant_api.rs` keeps them identical.)

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time: microseconds since an epoch chosen by the driver (process start, the
/// Unix epoch, or zero in a simulation). Only differences between instants matter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(0);
    /// The latest representable instant.
    pub const MAX: Instant = Instant(u64::MAX);

    /// `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000))
    }

    /// `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Instant(secs.saturating_mul(1_000_000))
    }

    /// `d` after the epoch (saturating at [`Instant::MAX`]).
    pub const fn from_duration(d: Duration) -> Self {
        Instant(duration_micros(d))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub const fn saturating_add(self, d: Duration) -> Self {
        Instant(self.0.saturating_add(duration_micros(d)))
    }

    /// `self - d`, saturating at the epoch.
    pub const fn saturating_sub(self, d: Duration) -> Self {
        Instant(self.0.saturating_sub(duration_micros(d)))
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// Whole microseconds in `d`, saturating.
const fn duration_micros(d: Duration) -> u64 {
    let micros = d.as_micros();
    if micros > u64::MAX as u128 {
        u64::MAX
    } else {
        micros as u64
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at [`Instant::MAX`].
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the epoch.
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
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
            let mut t = at;
            t += d;
            assert_eq!(t.as_micros(), want, "{at} += {d:?}");
        }
        assert_eq!(
            Instant::from_millis(1_500) - Duration::from_secs(10),
            Instant::ZERO
        );
        assert_eq!(
            Instant::from_millis(3) - Duration::from_millis(1),
            Instant::from_millis(2)
        );
        assert_eq!(
            Instant::from_millis(1).saturating_duration_since(Instant::from_millis(3)),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_millis(3).saturating_duration_since(Instant::from_millis(1)),
            Duration::from_millis(2)
        );
        assert_eq!(Instant::from_secs(2), Instant::from_millis(2_000));
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
        assert_eq!(
            Instant::from_duration(Duration::from_secs(2)).as_micros(),
            2_000_000
        );
        assert_eq!(Instant::from_duration(Duration::MAX), Instant::MAX);
        assert_eq!(
            alloc::format!("{}", Instant::from_micros(1_500_000)),
            "1.500000s"
        );
    }
}

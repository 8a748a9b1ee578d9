//! [`Backoff`]: when to try again after consecutive failures. The base wait doubles per
//! failure from [`ClientConfig::backoff_initial`] up to [`ClientConfig::backoff_max`];
//! with [`ClientConfig::jitter`] each wait is uniform in `[base/2, base]`, drawn from the
//! injected [`Rng`], so clients that failed together do not come back together.
//!
//! The poll loops ([`Client`](crate::Client), [`MultiClient`](crate::MultiClient)) use it,
//! and so does a driver that resends a failed upstream batch
//! ([`Outbox::handle_failure`](crate::upstream::Outbox::handle_failure)).

use core::time::Duration;

use crate::config::ClientConfig;
use crate::rng::Rng;
use crate::time::Instant;

/// Exponential backoff with jitter over consecutive failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: bool,
    failures: u32,
}

impl Backoff {
    /// No failure yet; waits follow `config`'s `backoff_initial`, `backoff_max`, `jitter`.
    pub fn new(config: &ClientConfig) -> Self {
        Backoff {
            initial: config.backoff_initial,
            max: config.backoff_max,
            jitter: config.jitter,
            failures: 0,
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// An attempt failed at `now`: when to try again.
    pub fn handle_failure(&mut self, now: Instant, rng: &mut impl Rng) -> Instant {
        self.failures = self.failures.saturating_add(1);
        let shift = (self.failures - 1).min(20);
        let base = self.initial.saturating_mul(1 << shift).min(self.max);
        let wait = if self.jitter {
            let half = base / 2;
            let span = u64::try_from((base - half).as_micros()).unwrap_or(u64::MAX);
            half + Duration::from_micros(rng.next_u64() % span.saturating_add(1))
        } else {
            base
        };
        now + wait
    }

    /// An attempt succeeded: the next failure waits `backoff_initial` again.
    pub fn handle_success(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn config(jitter: bool) -> ClientConfig {
        ClientConfig {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            jitter,
            ..ClientConfig::default()
        }
    }

    #[test]
    fn doubles_to_the_cap_and_starts_over_after_a_success() {
        let mut b = Backoff::new(&config(false));
        let mut rng = SplitMix64::new(1);
        let t0 = Instant::ZERO;
        let waits: alloc::vec::Vec<u64> = (0..6)
            .map(|_| b.handle_failure(t0, &mut rng).as_micros() / 1000)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.failures(), 6);
        b.handle_success();
        assert_eq!(
            b.handle_failure(t0, &mut rng),
            t0 + Duration::from_millis(100)
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_varies() {
        let mut rng = SplitMix64::new(7);
        let mut seen = alloc::collections::BTreeSet::new();
        for _ in 0..64 {
            let mut b = Backoff::new(&config(true));
            b.handle_failure(Instant::ZERO, &mut rng);
            let at = b.handle_failure(Instant::ZERO, &mut rng).as_micros();
            assert!((100_000..=200_000).contains(&at), "{at}");
            seen.insert(at);
        }
        assert!(seen.len() > 32, "jitter spreads the waits");
    }
}

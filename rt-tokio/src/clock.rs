//! The clock the protocol machines run on: tokio time (so tests can pause it), as
//! microseconds since a process-wide epoch an hour before first use.
//!
//! The margin matters with several runtimes in one process (a test binary): a paused
//! runtime's clock stands at the moment the runtime was created, which may be before the
//! first use elsewhere; without the margin its first readings would all be zero and its
//! deadlines late by the difference.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(|| {
        let now = Instant::now();
        now.checked_sub(Duration::from_secs(3600)).unwrap_or(now)
    })
}

/// Microseconds since the epoch, now: the `now` every protocol machine is fed.
pub(crate) fn now_micros() -> u64 {
    micros_at(Instant::now())
}

/// Microseconds since the epoch at `t` (zero before the epoch).
pub(crate) fn micros_at(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_micros()).unwrap_or(u64::MAX)
}

/// The tokio instant of a protocol deadline in microseconds since the epoch.
pub(crate) fn instant_at(micros: u64) -> Instant {
    epoch() + Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time_both_ways() {
        let before = now_micros();
        tokio::time::advance(Duration::from_millis(250)).await;
        let after = now_micros();
        assert_eq!(after - before, 250_000);
        assert_eq!(micros_at(instant_at(after)), after);
    }

    /// A paused runtime created before the clock's first use (elsewhere, later) still
    /// reads time moving from its first instant on.
    #[test]
    fn a_runtime_paused_before_the_first_use_elsewhere_reads_moving_time() {
        let paused = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        std::thread::spawn(now_micros).join().unwrap();
        paused.block_on(async {
            let before = now_micros();
            tokio::time::advance(Duration::from_millis(1)).await;
            assert_eq!(now_micros() - before, 1_000);
        });
    }
}

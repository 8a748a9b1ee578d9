//! The clock the protocol machines run on: tokio time (so tests can pause it), as
//! microseconds since a process-wide epoch taken at first use.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
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
}

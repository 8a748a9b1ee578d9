//! The demo's limits ([`Limits`], every one with a name and a default), the per-connection
//! [`TokenBucket`], and [`RecentIds`], which turns a retried send into its first cursor.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use rt_tokio::hub::Cursor;
use tokio::time::Instant;

/// What the demo accepts from a browser or a script.
///
/// | knob | default | when hit |
/// | --- | --- | --- |
/// | `max_frame_bytes` | 4 KiB | WebSocket: close 1009 (ws-proto's `max_message_size`); `POST /send`: 413 `too_large` |
/// | `max_text_chars` | 500 | `too_long` (WebSocket error message, HTTP 413) |
/// | `max_name_chars` | 32 | `invalid_message` (HTTP 400) |
/// | `send_burst` / `send_per_second` | 8 / 2 | `rate_limited` (WebSocket error message, HTTP 429 with `Retry-After`) |
/// | `frame_burst` / `frames_per_second` | 40 / 10 | WebSocket: close 1008 (a flood) |
/// | `hello_timeout` | 10 s | WebSocket: close 1008 (no `hello`) |
/// | `history_messages` | 500 | oldest messages leave the history; a page that missed them sees a gap |
/// | `backlog` | 50 | a new page starts this many messages back |
/// | `recent_ids` | 10,000 | older message ids are forgotten (a retry that late publishes again) |
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest WebSocket message and `POST /send` body, in bytes.
    pub max_frame_bytes: usize,
    /// Longest message text, in characters.
    pub max_text_chars: usize,
    /// Longest display name, in characters.
    pub max_name_chars: usize,
    /// Sends a connection may make at once.
    pub send_burst: u32,
    /// Sends a connection may make per second, on average.
    pub send_per_second: f64,
    /// WebSocket messages of any kind a connection may send at once.
    pub frame_burst: u32,
    /// WebSocket messages of any kind per second, on average.
    pub frames_per_second: f64,
    /// How long a WebSocket may stay without its `hello`.
    pub hello_timeout: Duration,
    /// Messages the hub keeps per channel.
    pub history_messages: usize,
    /// Messages a new page is shown from the history.
    pub backlog: u64,
    /// Message ids remembered for de-duplicating retried sends.
    pub recent_ids: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 4 << 10,
            max_text_chars: 500,
            max_name_chars: 32,
            send_burst: 8,
            send_per_second: 2.0,
            frame_burst: 40,
            frames_per_second: 10.0,
            hello_timeout: Duration::from_secs(10),
            history_messages: 500,
            backlog: 50,
            recent_ids: 10_000,
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Debug)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, per_second: f64) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            burst,
            per_second: per_second.max(0.001),
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            ))
        }
    }
}

/// The cursors of the last `capacity` message ids published, oldest forgotten first.
#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    cursors: HashMap<String, Cursor>,
    order: VecDeque<String>,
}

impl RecentIds {
    /// Remembers up to `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        RecentIds {
            capacity: capacity.max(1),
            cursors: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The cursor `id` was published at, if remembered.
    pub fn get(&self, id: &str) -> Option<Cursor> {
        self.cursors.get(id).copied()
    }

    /// Remembers that `id` was published at `cursor`.
    pub fn insert(&mut self, id: String, cursor: Cursor) {
        if self.cursors.insert(id.clone(), cursor).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.cursors.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_a_burst_then_the_rate() {
        let mut b = TokenBucket::new(3, 2.0);
        for _ in 0..3 {
            assert_eq!(b.take(), Ok(()));
        }
        let wait = b.take().unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(b.take(), Ok(()));
        assert!(b.take().is_err());
        // Refills never exceed the burst.
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            assert_eq!(b.take(), Ok(()));
        }
        assert!(b.take().is_err());
    }

    #[test]
    fn recent_ids_forget_the_oldest() {
        let mut r = RecentIds::new(2);
        r.insert("a".into(), Cursor::new(1, 1));
        r.insert("b".into(), Cursor::new(1, 2));
        r.insert("a".into(), Cursor::new(1, 1));
        r.insert("c".into(), Cursor::new(1, 3));
        assert_eq!(r.get("a"), None);
        assert_eq!(r.get("b"), Some(Cursor::new(1, 2)));
        assert_eq!(r.get("c"), Some(Cursor::new(1, 3)));
    }
}

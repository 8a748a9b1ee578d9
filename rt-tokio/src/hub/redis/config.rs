//! [`RedisConfig`]: the knobs of a [`RedisBackend`](super::RedisBackend): history bounds,
//! key names, timeouts and reconnection.

use std::time::Duration;

/// Configuration of a [`RedisBackend`](super::RedisBackend).
///
/// | knob | default | when hit |
/// | --- | --- | --- |
/// | `max_messages` | 1024 | oldest trimmed (later readers get a gap) |
/// | `max_bytes` | 1 MiB | oldest trimmed |
/// | `max_message_bytes` | 64 KiB | [`PublishError::Refused`](crate::hub::PublishError::Refused) `MessageTooLarge` |
/// | `max_age` | none | older messages trimmed |
/// | `channel_ttl` | 1 day | a channel's keys expire this long after its last publish (a new epoch then) |
/// | `feed_capacity` | 1024 | a lagging feed yields [`FeedItem::Lost`](crate::hub::FeedItem::Lost) |
/// | `command_timeout` | 2 s | the call fails ([`PublishError::Unavailable`](crate::hub::PublishError::Unavailable) / [`BackendError`](crate::hub::BackendError)) |
/// | `reconnect_min` / `reconnect_max` | 50 ms / 2 s | backoff between reconnection attempts |
/// | `ping_interval` | 5 s | the pub/sub connection is checked; a failed ping reconnects it |
/// | `max_listed_channels` | 1000 | [`Backend::channels`](crate::hub::Backend::channels) lists no more |
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// Prefix of every key and pub/sub channel (`PREFIX:{CHANNEL}:m` meta hash,
    /// `PREFIX:{CHANNEL}:s` stream, `PREFIX:{CHANNEL}` pub/sub). ASCII letters, digits,
    /// `-`, `_`, `.`; 1 to 64 bytes. Default `rt-hub`.
    pub key_prefix: String,
    /// Most messages kept per channel. Default 1024.
    pub max_messages: usize,
    /// Most payload bytes kept per channel. Default 1 MiB.
    pub max_bytes: usize,
    /// Largest message. Default 64 KiB (capped at `max_bytes`).
    pub max_message_bytes: usize,
    /// Messages older than this (by the Redis server's clock) are trimmed. Default `None`.
    pub max_age: Option<Duration>,
    /// A channel's keys expire this long after its last publish (or its creation by a read),
    /// so unused channels do not stay in Redis forever; its next use starts a new epoch
    /// (clients get a reset). `None`: never. Default 1 day.
    pub channel_ttl: Option<Duration>,
    /// Announcements buffered per watched channel for the hub's fan-out. Default 1024.
    pub feed_capacity: usize,
    /// Longest wait for one Redis call (connecting included). Default 2 s.
    pub command_timeout: Duration,
    /// First delay before reconnecting after a lost connection. Default 50 ms.
    pub reconnect_min: Duration,
    /// Longest delay between reconnection attempts (the delay doubles up to it, with
    /// jitter). Default 2 s.
    pub reconnect_max: Duration,
    /// How often the pub/sub connection is pinged (a dead one is replaced). Default 5 s.
    pub ping_interval: Duration,
    /// Most channels [`Backend::channels`](crate::hub::Backend::channels) lists. Default 1000.
    pub max_listed_channels: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: "rt-hub".to_string(),
            max_messages: 1024,
            max_bytes: 1 << 20,
            max_message_bytes: 64 << 10,
            max_age: None,
            channel_ttl: Some(Duration::from_secs(24 * 3600)),
            feed_capacity: 1024,
            command_timeout: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            ping_interval: Duration::from_secs(5),
            max_listed_channels: 1000,
        }
    }
}

impl RedisConfig {
    /// Checks the key prefix; the reason when it is not usable.
    pub(super) fn check(&self) -> Result<(), String> {
        let p = &self.key_prefix;
        if p.is_empty() || p.len() > 64 {
            return Err(format!("key_prefix must be 1 to 64 bytes, got {}", p.len()));
        }
        if let Some(b) = p
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
        {
            return Err(format!(
                "key_prefix may hold ASCII letters, digits, '-', '_', '.'; found {:?}",
                b as char
            ));
        }
        Ok(())
    }

    pub(super) fn max_message_bytes(&self) -> usize {
        self.max_message_bytes.min(self.max_bytes)
    }
}

/// Milliseconds for a script argument (0 means "none").
pub(super) fn millis(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| (d.as_millis() as u64).max(1))
}

//! Configuration: every limit with its name, its default and the error it produces.
//!
//! | knob | default | error / outcome when hit |
//! | --- | --- | --- |
//! | [`ChannelConfig::max_messages`] | 1024 | eviction ([`Overflow::EvictOldest`]) or [`PublishError::ChannelFullMessages`](crate::PublishError::ChannelFullMessages) |
//! | [`ChannelConfig::max_bytes`] | 1 MiB | eviction or [`PublishError::ChannelFullBytes`](crate::PublishError::ChannelFullBytes) |
//! | [`ChannelConfig::max_message_bytes`] | 64 KiB | [`PublishError::MessageTooLarge`](crate::PublishError::MessageTooLarge) |
//! | [`HubConfig::max_batch_messages`] | 256 | batch cut short; the next poll continues |
//! | [`HubConfig::max_batch_bytes`] | 256 KiB | batch cut short (a batch always holds at least one message) |
//! | [`HubConfig::max_held_polls`] | 100,000 | [`RejectReason::TooManyPolls`](crate::RejectReason::TooManyPolls) |
//! | [`HubConfig::max_polls_per_client`] | 4 | [`RejectReason::TooManyPollsForClient`](crate::RejectReason::TooManyPollsForClient) |
//! | [`HubConfig::max_sessions`] | 100,000 | [`RejectReason::TooManySessions`](crate::RejectReason::TooManySessions) |
//! | [`HubConfig::max_channels`] | 10,000 | [`RejectReason::TooManyChannels`](crate::RejectReason::TooManyChannels), [`PublishError::TooManyChannels`](crate::PublishError::TooManyChannels) |
//! | [`HubConfig::max_channels_per_poll`] | 16 | [`RejectReason::TooManyChannelsPerPoll`](crate::RejectReason::TooManyChannelsPerPoll) |
//! | [`HubConfig::hold`] / [`HubConfig::max_hold`] | 25 s / 30 s | poll answered empty ([`EmptyReason::Timeout`](crate::EmptyReason::Timeout)) |
//! | [`HubConfig::session_ttl`] | 60 s | [`HubEvent::SessionExpired`](crate::HubEvent::SessionExpired) |
//! | [`HubConfig::coalesce`] | 0 (off) | — |
//! | [`HubConfig::duplicate_poll`] | [`DuplicatePoll::Supersede`] | older poll answered empty, or [`RejectReason::DuplicatePoll`](crate::RejectReason::DuplicatePoll) |
//! | [`UpstreamConfig::max_batch_messages`] / [`UpstreamConfig::max_batch_bytes`] | 64 / 64 KiB | [`UpstreamError::BatchTooLarge`](crate::UpstreamError::BatchTooLarge) |
//! | [`UpstreamConfig::max_queued_messages`] / [`UpstreamConfig::max_queued_bytes`] | 1024 / 1 MiB | [`UpstreamError::QueueFull`](crate::UpstreamError::QueueFull) |
//! | [`ClientConfig::backoff_initial`] / [`ClientConfig::backoff_max`] | 500 ms / 30 s | — |

use core::time::Duration;

/// What a full channel does with a new message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Evict the oldest messages to make room. A client that had not received them is told
    /// of a gap on its next poll.
    #[default]
    EvictOldest,
    /// Refuse the publisher ([`PublishError::ChannelFullMessages`](crate::PublishError::ChannelFullMessages)
    /// / [`PublishError::ChannelFullBytes`](crate::PublishError::ChannelFullBytes)).
    /// In the hub, a message is dropped from history once every live session that polls the
    /// channel has acknowledged it (polled with a cursor at or past it), which makes room.
    RejectPublish,
}

/// Limits of one channel's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelConfig {
    /// Most messages kept in history. Default 1024. At least 1 is used.
    pub max_messages: usize,
    /// Most payload bytes kept in history. Default 1 MiB.
    pub max_bytes: usize,
    /// Largest single message. Default 64 KiB. Capped at `max_bytes`.
    pub max_message_bytes: usize,
    /// What a full channel does. Default [`Overflow::EvictOldest`].
    pub overflow: Overflow,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            max_messages: 1024,
            max_bytes: 1 << 20,
            max_message_bytes: 64 << 10,
            overflow: Overflow::EvictOldest,
        }
    }
}

/// What the hub does with a second poll from the same client on the same channel while the
/// first is still held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DuplicatePoll {
    /// Answer the older poll empty with its own cursor ([`EmptyReason::Superseded`](crate::EmptyReason::Superseded))
    /// and hold the new one. Lossless: the cursor did not move.
    #[default]
    Supersede,
    /// Refuse the new poll ([`RejectReason::DuplicatePoll`](crate::RejectReason::DuplicatePoll)).
    Reject,
    /// Hold both (up to [`HubConfig::max_polls_per_client`]).
    AllowBoth,
}

/// Hub configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    /// Limits for every channel the hub creates.
    pub channel: ChannelConfig,
    /// How long a poll is held when the request names no timeout. Default 25 s (below
    /// common proxy idle timeouts).
    pub hold: Duration,
    /// Upper bound on a timeout requested by the client. Default 30 s.
    pub max_hold: Duration,
    /// Most messages in one response. Default 256.
    pub max_batch_messages: usize,
    /// Most payload bytes in one response (a batch always holds at least one message).
    /// Default 256 KiB.
    pub max_batch_bytes: usize,
    /// A session with no poll held and no poll for this long expires. Default 60 s.
    pub session_ttl: Duration,
    /// Policy for a second poll from one client on one channel. Default supersede.
    pub duplicate_poll: DuplicatePoll,
    /// Most polls held at once for one client (all channels). Default 4.
    pub max_polls_per_client: usize,
    /// Most polls held at once in the hub. Default 100,000.
    pub max_held_polls: usize,
    /// Most live sessions. Default 100,000.
    pub max_sessions: usize,
    /// Most channels. Default 10,000.
    pub max_channels: usize,
    /// Most channels in one multi-channel poll. Default 16.
    pub max_channels_per_poll: usize,
    /// Coalescing window: a publish that would release held polls waits this long so a
    /// burst goes out as one response. Default zero (off: release at once).
    pub coalesce: Duration,
    /// Limits of client→server batches ([`Hub::handle_send`](crate::Hub::handle_send)).
    pub upstream: UpstreamConfig,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            channel: ChannelConfig::default(),
            hold: Duration::from_secs(25),
            max_hold: Duration::from_secs(30),
            max_batch_messages: 256,
            max_batch_bytes: 256 << 10,
            session_ttl: Duration::from_secs(60),
            duplicate_poll: DuplicatePoll::Supersede,
            max_polls_per_client: 4,
            max_held_polls: 100_000,
            max_sessions: 100_000,
            max_channels: 10_000,
            max_channels_per_poll: 16,
            coalesce: Duration::ZERO,
            upstream: UpstreamConfig::default(),
        }
    }
}

/// Client poll loop configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Hold time the client asks for (`timeout` query parameter). Default `None`: the
    /// server's default.
    pub hold: Option<Duration>,
    /// First backoff after an error. Default 500 ms.
    pub backoff_initial: Duration,
    /// Backoff cap. Default 30 s.
    pub backoff_max: Duration,
    /// Full jitter: each wait is uniform in `[base/2, base]`. Default true.
    pub jitter: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            hold: None,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            jitter: true,
        }
    }
}

/// Limits of the client→server (upstream) message path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamConfig {
    /// Most messages in one POSTed batch. Default 64.
    pub max_batch_messages: usize,
    /// Most payload bytes in one POSTed batch (a batch holds at least one message).
    /// Default 64 KiB.
    pub max_batch_bytes: usize,
    /// Most messages queued on the client, not yet acknowledged. Default 1024.
    pub max_queued_messages: usize,
    /// Most bytes queued on the client, not yet acknowledged. Default 1 MiB.
    pub max_queued_bytes: usize,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            max_batch_messages: 64,
            max_batch_bytes: 64 << 10,
            max_queued_messages: 1024,
            max_queued_bytes: 1 << 20,
        }
    }
}

//! The hub's errors: publishing, subscribing, receiving. Each says which limit or which
//! failure it is, so the caller knows what to change or whether to retry.

use std::fmt;

use super::backend::BackendError;
use super::Cursor;

/// A publish did not happen (nothing was stored or announced).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PublishError {
    /// The backend refused the message: too large (`max_message_bytes`), too many channels
    /// (`max_channels`), sequence numbers exhausted.
    Refused(longpoll_proto::PublishError),
    /// The backend could not be reached or failed; the message may be retried.
    Unavailable(BackendError),
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Refused(e) => write!(f, "publish refused: {e}"),
            PublishError::Unavailable(e) => write!(f, "publish failed, backend unavailable: {e}"),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PublishError::Refused(e) => Some(e),
            PublishError::Unavailable(e) => Some(e),
        }
    }
}

/// A subscription could not start.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The cursor is past the channel's head in its epoch: it was never issued.
    CursorAhead {
        /// The cursor asked for.
        cursor: Cursor,
        /// The channel's head.
        head: Cursor,
    },
    /// `HubConfig::max_subscribers` subscriptions are live.
    TooManySubscribers {
        /// The limit.
        max_subscribers: usize,
    },
    /// The backend failed (could not start the feed or read the head).
    Backend(BackendError),
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscribeError::CursorAhead { cursor, head } => write!(
                f,
                "cursor {cursor} is past the channel's head {head}: it was never issued"
            ),
            SubscribeError::TooManySubscribers { max_subscribers } => {
                write!(f, "max_subscribers ({max_subscribers}) reached")
            }
            SubscribeError::Backend(e) => write!(f, "backend failed: {e}"),
        }
    }
}

impl std::error::Error for SubscribeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SubscribeError::Backend(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a subscription ended. It yields nothing after this; resubscribe from its
/// [`cursor`](super::Subscription::cursor) to go on without loss.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RecvError {
    /// Its queue overflowed and the hub's policy is
    /// [`SlowSubscriber::Disconnect`](super::SlowSubscriber::Disconnect).
    SlowSubscriber,
    /// Reading history failed.
    Backend(BackendError),
    /// History did not follow the cursor (a backend broke its contract: out-of-order
    /// messages, or a cursor past the head in the same epoch).
    Inconsistent {
        /// The subscription's cursor.
        cursor: Cursor,
    },
    /// The backend's feed ended (the backend shut down).
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::SlowSubscriber => {
                f.write_str("subscriber cut off: its queue overflowed (SlowSubscriber::Disconnect)")
            }
            RecvError::Backend(e) => write!(f, "reading history failed: {e}"),
            RecvError::Inconsistent { cursor } => {
                write!(f, "backend history does not follow cursor {cursor}")
            }
            RecvError::Closed => f.write_str("the backend's feed ended"),
        }
    }
}

impl std::error::Error for RecvError {}

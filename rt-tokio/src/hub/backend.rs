//! [`Backend`]: where a hub keeps channels: it assigns cursors, holds bounded history and
//! announces publishes. [`MemoryBackend`](super::MemoryBackend) is the in-process one; a
//! networked store (Redis Streams + pub/sub) implements the same trait.
//!
//! The trait is object-safe: every method takes owned arguments and returns a boxed
//! `'static` future, so an implementation clones its connection handle into the future,
//! and a [`Hub`](super::Hub) holds any backend as `Arc<dyn Backend>`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use super::error::PublishError;
use super::{ChannelName, Cursor, Epoch, Seq};

/// A boxed, sendable future (what every [`Backend`] method returns).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A boxed, sendable stream (a [`Backend::watch`] feed).
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = T> + Send + 'static>>;

/// A message as stored: its cursor and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The cursor the backend assigned.
    pub cursor: Cursor,
    /// The payload.
    pub data: Bytes,
}

/// How much one [`Backend::read`] may return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimit {
    /// Most messages (at least one is returned when any is available).
    pub max_messages: usize,
    /// Most payload bytes (a read holds at least one message even if it alone is larger).
    pub max_bytes: usize,
}

/// The answer of [`Backend::read`] to "what follows this cursor?".
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistoryRead {
    /// The messages right after the cursor: at least one, consecutive, in the cursor's
    /// epoch, starting at `cursor.seq + 1`, bounded by the [`ReadLimit`].
    Messages(Vec<Published>),
    /// Nothing follows the cursor yet (it is the channel's head).
    AtHead,
    /// `missed_from..=missed_to` are no longer held; read again from `resume`.
    Gap {
        /// The cursor's seq + 1.
        missed_from: Seq,
        /// The last seq no longer held.
        missed_to: Seq,
        /// `(epoch, missed_to)`.
        resume: Cursor,
    },
    /// The cursor's epoch is not the channel's; read again from `resume` (`(epoch, 0)`).
    Reset {
        /// The cursor's epoch.
        previous: Epoch,
        /// The start of the channel's epoch.
        resume: Cursor,
    },
    /// The cursor is past the channel's head in the same epoch: it was never issued.
    Ahead {
        /// The channel's head.
        head: Cursor,
    },
}

/// One item of a [`Backend::watch`] feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedItem {
    /// A message was published.
    Published(Published),
    /// The feed may have missed messages (it lagged, or its connection to the store was
    /// re-established): subscribers catch up from history.
    Lost,
}

/// Facts about one channel for a status page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel.
    pub name: ChannelName,
    /// The last cursor assigned (`seq` 0 before the first publish in this epoch).
    pub head: Cursor,
    /// The oldest seq still held (`head.seq + 1` when nothing is held).
    pub oldest: Seq,
    /// Messages held.
    pub messages: usize,
    /// Payload bytes held.
    pub bytes: usize,
}

/// The store behind a [`Hub`](super::Hub).
///
/// Contract, for every channel:
/// - [`publish`](Self::publish) appends atomically: it assigns the next cursor
///   (`head.seq + 1` in the current epoch), stores the message in history and announces it
///   on every feed, or fails and changes nothing. A store that cannot be reached is an
///   error ([`PublishError::Unavailable`]), never a silent drop.
/// - History is bounded; what fell out is answered as a gap, a lost history (restart,
///   eviction of the whole channel) as a new epoch, so [`read`](Self::read) never skips
///   silently.
/// - [`watch`](Self::watch) resolves once the feed is live: every message published after
///   that is yielded in cursor order, or a [`FeedItem::Lost`] follows the point where some
///   may be missing. The feed ends only when the backend shuts down (a networked backend
///   reconnects by itself and yields `Lost`).
/// - [`head`](Self::head) of a channel never published to is `(current epoch, 0)`.
pub trait Backend: Send + Sync + 'static {
    /// Appends `data` to `channel`; the cursor it got.
    fn publish(&self, channel: ChannelName, data: Bytes)
        -> BoxFuture<Result<Cursor, PublishError>>;

    /// What follows `after` in `channel`'s history.
    fn read(
        &self,
        channel: ChannelName,
        after: Cursor,
        limit: ReadLimit,
    ) -> BoxFuture<Result<HistoryRead, BackendError>>;

    /// The last cursor assigned in `channel`.
    fn head(&self, channel: ChannelName) -> BoxFuture<Result<Cursor, BackendError>>;

    /// A live feed of what is published on `channel` from now on.
    fn watch(&self, channel: ChannelName) -> BoxFuture<Result<BoxStream<FeedItem>, BackendError>>;

    /// Every channel the backend holds history for.
    fn channels(&self) -> BoxFuture<Result<Vec<ChannelInfo>, BackendError>>;
}

/// The backend could not do what was asked (store unreachable, protocol error...).
#[derive(Clone)]
pub struct BackendError {
    message: Arc<str>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// An error described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        BackendError {
            message: Arc::from(message.into()),
            source: None,
        }
    }

    /// An error described by `message`, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        BackendError {
            message: Arc::from(message.into()),
            source: Some(Arc::new(source)),
        }
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendError")
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{}: {s}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// The feed stream of a backend that announces on a tokio broadcast channel: a subscriber that
/// falls behind the channel's capacity gets [`FeedItem::Lost`]; the stream ends when the sender
/// is gone. `guard` lives as long as the stream (for example to count watchers).
pub(crate) fn broadcast_feed<G: Send + 'static>(
    receiver: tokio::sync::broadcast::Receiver<FeedItem>,
    guard: G,
) -> BoxStream<FeedItem> {
    use tokio::sync::broadcast::error::RecvError;
    Box::pin(futures_util::stream::unfold(
        (receiver, guard),
        |(mut receiver, guard)| async move {
            let item = match receiver.recv().await {
                Ok(item) => item,
                Err(RecvError::Lagged(_)) => FeedItem::Lost,
                Err(RecvError::Closed) => return None,
            };
            Some((item, (receiver, guard)))
        },
    ))
}

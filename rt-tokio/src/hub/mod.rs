//! The publish/subscribe hub behind all three transports.
//!
//! An application publishes to a channel once; every subscriber gets the message, whether
//! it is on WebSocket, SSE or long polling, and a subscriber that comes back with its
//! cursor resumes without loss.
//!
//! - [`Hub`]: a cloneable handle over a [`Backend`]. [`MemoryBackend`] keeps channels in
//!   this process (history is longpoll-proto's [`Channel`](longpoll_proto::Channel)); a
//!   networked backend implements the same trait, so scaling out changes one line.
//! - [`Cursor`] `(epoch, seq)`: a message's position. Its text form `EPOCH:SEQ`
//!   (`Display`/`FromStr`, longpoll-proto's) is what every transport carries unchanged: the
//!   SSE `id:`, the long-poll cursor, a field of an application's WebSocket messages.
//! - [`Hub::subscribe`] from a cursor replays history, then follows live publishes, with
//!   no gap or duplicate at the seam; it yields [`Item`]s: messages, or an explicit
//!   [`Item::Gap`] (history no longer holds what was missed) or [`Item::Reset`] (the epoch
//!   changed). Never a silent skip, never a duplicate, always in order.
//! - Slow subscribers are bounded ([`HubConfig::queue_messages`], [`HubConfig::queue_bytes`]):
//!   on overflow a subscriber catches up from history (a gap if it fell out) or is cut
//!   off ([`SlowSubscriber`]); the publisher never waits for it.
//!
//! ```
//! use rt_tokio::hub::{ChannelName, Hub, Item, MemoryBackend, MemoryConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Hub::new(MemoryBackend::new(MemoryConfig::default()));
//! let chat: ChannelName = ChannelName::new("chat")?;
//!
//! let first = hub.publish(&chat, "hello").await?;
//! let mut live = hub.subscribe(&chat, None).await?; // from now on
//! let second = hub.publish(&chat, "world").await?;
//!
//! // A subscriber resuming after `first` gets exactly what followed it.
//! let resume: rt_tokio::hub::Cursor = first.to_string().parse()?;
//! let mut resumed = hub.subscribe(&chat, Some(resume)).await?;
//! for sub in [&mut live, &mut resumed] {
//!     match sub.recv().await? {
//!         Item::Message { cursor, data } => {
//!             assert_eq!((cursor, &data[..]), (second, &b"world"[..]));
//!         }
//!         other => panic!("{other:?}"),
//!     }
//! }
//! let stats = hub.stats().await;
//! assert_eq!((stats.published, stats.subscribers), (2, 2));
//! # Ok(())
//! # }
//! ```

mod backend;
mod config;
mod error;
mod fanout;
mod item;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod stats;
mod subscription;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

#[cfg(feature = "redis")]
pub use self::redis::{RedisBackend, RedisConfig};
pub use backend::{
    Backend, BackendError, BoxFuture, BoxStream, ChannelInfo, FeedItem, HistoryRead, Published,
    ReadLimit,
};
pub use config::{HubConfig, SlowSubscriber};
pub use error::{PublishError, RecvError, SubscribeError};
pub use item::Item;
pub use longpoll_proto::{ChannelName, Cursor, CursorError, Epoch, NameError, Seq};
pub use memory::{MemoryBackend, MemoryConfig};
pub use stats::{ChannelStats, ConnectionGuard, Connections, Stats, Transport};
pub use subscription::Subscription;

use fanout::{lock, Counters, Fanout, FanoutMap, Queue};

/// A handle to the hub: clone it freely (it is an `Arc`), use it from any task.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

pub(crate) struct HubInner {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: HubConfig,
    fanouts: Arc<FanoutMap>,
    counters: Arc<Counters>,
    next_queue: std::sync::atomic::AtomicU64,
    subscribers: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.inner.config)
            .field(
                "subscribers",
                &self.inner.subscribers.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub over `backend` with the default [`HubConfig`].
    pub fn new(backend: impl Backend) -> Self {
        Self::with_config(backend, HubConfig::default())
    }

    /// A hub over `backend`.
    pub fn with_config(backend: impl Backend, config: HubConfig) -> Self {
        Self::from_arc(Arc::new(backend), config)
    }

    /// A hub over a shared backend.
    pub fn from_arc(backend: Arc<dyn Backend>, config: HubConfig) -> Self {
        Hub {
            inner: Arc::new(HubInner {
                backend,
                config,
                fanouts: Arc::new(Mutex::new(HashMap::new())),
                counters: Arc::new(Counters::default()),
                next_queue: 1.into(),
                subscribers: 0.into(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// Publishes `data` on `channel`: stored in history and offered to every subscriber
    /// (without waiting for any). Returns the message's cursor once the backend has it.
    pub async fn publish(
        &self,
        channel: &ChannelName,
        data: impl Into<Bytes>,
    ) -> Result<Cursor, PublishError> {
        let result = self
            .inner
            .backend
            .publish(channel.clone(), data.into())
            .await;
        let counter = match result {
            Ok(_) => &self.inner.counters.published,
            Err(_) => &self.inner.counters.publish_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Subscribes to `channel`: `from: None` yields what is published from now on;
    /// `Some(cursor)` first replays what followed `cursor` (or a gap/reset saying what is
    /// lost), then live messages, without gap or duplicate between the two. A cursor past
    /// the channel's head in its epoch is refused.
    pub async fn subscribe(
        &self,
        channel: &ChannelName,
        from: Option<Cursor>,
    ) -> Result<Subscription, SubscribeError> {
        let inner = &self.inner;
        let (fanout, queue) = inner.register(channel)?;
        // From here on, dropping `sub` (an error, a cancelled future) unregisters.
        let mut sub = Subscription::new(inner.clone(), fanout.clone(), queue, channel.clone());
        fanout
            .start(
                &inner.backend,
                &inner.fanouts,
                inner.config,
                &inner.counters,
            )
            .await
            .map_err(SubscribeError::Backend)?;
        // The feed is live: whatever is published from now on reaches the queue, and
        // whatever was published before is in history.
        let head = inner
            .backend
            .head(channel.clone())
            .await
            .map_err(SubscribeError::Backend)?;
        match from {
            None => sub.start_at(head, false),
            Some(cursor) => {
                if cursor.epoch == head.epoch && cursor.seq > head.seq {
                    return Err(SubscribeError::CursorAhead { cursor, head });
                }
                sub.start_at(cursor, true);
            }
        }
        Ok(sub)
    }

    /// The last cursor assigned in `channel`.
    pub async fn head(&self, channel: &ChannelName) -> Result<Cursor, BackendError> {
        self.inner.backend.head(channel.clone()).await
    }

    /// Counts one open connection of `transport` until the guard is dropped (for
    /// [`Stats::connections`]).
    pub fn connection(&self, transport: Transport) -> ConnectionGuard {
        ConnectionGuard::new(self.inner.counters.clone(), transport)
    }

    /// A snapshot of the hub's counters, its queues and the backend's channels.
    pub async fn stats(&self) -> Stats {
        let inner = &self.inner;
        let c = &inner.counters;
        let mut stats = Stats {
            published: c.published.load(Ordering::Relaxed),
            publish_errors: c.publish_errors.load(Ordering::Relaxed),
            overflow_gaps: c.overflow_gaps.load(Ordering::Relaxed),
            cut_off: c.cut_off.load(Ordering::Relaxed),
            connections: stats::connections(c),
            subscribers: inner.subscribers.load(Ordering::Relaxed),
            ..Stats::default()
        };
        let mut per_channel: HashMap<ChannelName, usize> = HashMap::new();
        for (name, fanout) in lock(&inner.fanouts).iter() {
            let queues = lock(&fanout.queues);
            per_channel.insert(name.clone(), queues.len());
            for q in queues.iter() {
                let s = lock(&q.state);
                stats.queued_messages += s.items.len();
                stats.queued_bytes += s.bytes;
                stats.longest_queue = stats.longest_queue.max(s.items.len());
            }
        }
        match inner.backend.channels().await {
            Ok(channels) => {
                stats.channels = channels
                    .into_iter()
                    .map(|info| ChannelStats {
                        subscribers: per_channel.get(&info.name).copied().unwrap_or(0),
                        info,
                    })
                    .collect();
            }
            Err(e) => stats.backend_error = Some(e.to_string()),
        }
        stats
    }
}

impl HubInner {
    /// Adds a queue to `channel`'s fan-out (created if needed).
    fn register(&self, channel: &ChannelName) -> Result<(Arc<Fanout>, Arc<Queue>), SubscribeError> {
        let max = self.config.max_subscribers;
        let mut map = lock(&self.fanouts);
        if self.subscribers.load(Ordering::Relaxed) >= max {
            return Err(SubscribeError::TooManySubscribers {
                max_subscribers: max,
            });
        }
        let fanout = map
            .entry(channel.clone())
            .or_insert_with(|| Arc::new(Fanout::new(channel.clone())))
            .clone();
        let queue = Arc::new(Queue {
            id: self.next_queue.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(Default::default()),
        });
        lock(&fanout.queues).push(queue.clone());
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        Ok((fanout, queue))
    }

    /// Removes a queue; the last one out stops the channel's feed.
    pub(crate) fn unregister(&self, fanout: &Arc<Fanout>, queue: u64) {
        self.subscribers.fetch_sub(1, Ordering::Relaxed);
        let mut map = lock(&self.fanouts);
        let mut queues = lock(&fanout.queues);
        queues.retain(|q| q.id != queue);
        if queues.is_empty() {
            drop(queues);
            if map
                .get(&fanout.channel)
                .is_some_and(|f| Arc::ptr_eq(f, fanout))
            {
                map.remove(&fanout.channel);
            }
            fanout.stop();
        }
    }
}

//! Per-channel fan-out: one backend feed per channel per hub, copied into each
//! subscriber's bounded queue.
//!
//! Invariants: a feed item is offered to every registered queue without waiting (a full
//! queue gets the hub's [`SlowSubscriber`] policy, never a wait); a queue never holds more
//! than `queue_messages` items or `queue_bytes` payload bytes, except one message larger
//! than `queue_bytes` alone; lock order is the hub's
//! fan-out map, then a fan-out's subscriber list, then one queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Waker;

use futures_util::StreamExt;
use tokio::sync::OnceCell;
use tokio::task::AbortHandle;

use super::backend::{Backend, BackendError, BoxStream, FeedItem, Published};
use super::config::{HubConfig, SlowSubscriber};
use super::ChannelName;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counters shared by the hub, its fan-outs and its subscriptions.
#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) publish_errors: AtomicU64,
    pub(crate) overflow_gaps: AtomicU64,
    pub(crate) cut_off: AtomicU64,
    pub(crate) connections: [AtomicU64; 4],
}

/// One subscriber's queue, filled by the fan-out, drained by its subscription.
#[derive(Default)]
pub(crate) struct QueueState {
    pub(crate) items: VecDeque<Published>,
    pub(crate) bytes: usize,
    /// Items were dropped on overflow: catch up from history.
    pub(crate) lagged: bool,
    /// Cut off on overflow (policy `Disconnect`).
    pub(crate) cut_off: bool,
    /// The feed ended.
    pub(crate) ended: bool,
    pub(crate) waker: Option<Waker>,
}

impl QueueState {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

pub(crate) struct Queue {
    pub(crate) id: u64,
    pub(crate) state: Mutex<QueueState>,
}

/// The fan-out of one channel.
pub(crate) struct Fanout {
    pub(crate) channel: ChannelName,
    pub(crate) queues: Mutex<Vec<Arc<Queue>>>,
    started: OnceCell<()>,
    task: Mutex<Option<AbortHandle>>,
}

pub(crate) type FanoutMap = Mutex<HashMap<ChannelName, Arc<Fanout>>>;

impl Fanout {
    pub(crate) fn new(channel: ChannelName) -> Self {
        Fanout {
            channel,
            queues: Mutex::new(Vec::new()),
            started: OnceCell::new(),
            task: Mutex::new(None),
        }
    }

    /// Starts the backend feed once (concurrent callers wait for the first); resolves when
    /// the feed is live.
    pub(crate) async fn start(
        self: &Arc<Self>,
        backend: &Arc<dyn Backend>,
        map: &Arc<FanoutMap>,
        config: HubConfig,
        counters: &Arc<Counters>,
    ) -> Result<(), BackendError> {
        self.started
            .get_or_try_init(|| async {
                let feed = backend.watch(self.channel.clone()).await?;
                let task = tokio::spawn(run(
                    self.clone(),
                    Arc::downgrade(map),
                    feed,
                    config,
                    counters.clone(),
                ));
                *lock(&self.task) = Some(task.abort_handle());
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Stops the feed task (the fan-out has no subscriber left).
    pub(crate) fn stop(&self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }

    fn offer(&self, item: &Published, config: &HubConfig, counters: &Counters) {
        let mut queues = lock(&self.queues);
        queues.retain(|q| {
            let mut s = lock(&q.state);
            if s.lagged || s.cut_off {
                // It catches up from history anyway (or is gone): hold nothing for it.
                return !s.cut_off;
            }
            // An empty queue takes any one message, so a message larger than
            // `queue_bytes` does not count every subscriber as slow.
            let full = !s.items.is_empty()
                && (s.items.len() >= config.queue_messages.max(1)
                    || s.bytes + item.data.len() > config.queue_bytes);
            if full {
                s.items = VecDeque::new();
                s.bytes = 0;
                s.wake();
                match config.slow_subscriber {
                    SlowSubscriber::Disconnect => {
                        s.cut_off = true;
                        counters.cut_off.fetch_add(1, Ordering::Relaxed);
                        return false;
                    }
                    _ => {
                        s.lagged = true;
                        counters.overflow_gaps.fetch_add(1, Ordering::Relaxed);
                        return true;
                    }
                }
            }
            s.bytes += item.data.len();
            s.items.push_back(item.clone());
            s.wake();
            true
        });
    }

    fn mark_all(&self, f: impl Fn(&mut QueueState)) {
        for q in lock(&self.queues).iter() {
            let mut s = lock(&q.state);
            f(&mut s);
            s.wake();
        }
    }
}

/// Copies the feed into the queues until it ends, then tells every subscriber.
async fn run(
    fanout: Arc<Fanout>,
    map: Weak<FanoutMap>,
    mut feed: BoxStream<FeedItem>,
    config: HubConfig,
    counters: Arc<Counters>,
) {
    while let Some(item) = feed.next().await {
        match item {
            FeedItem::Published(p) => fanout.offer(&p, &config, &counters),
            FeedItem::Lost => fanout.mark_all(|s| {
                s.items = VecDeque::new();
                s.bytes = 0;
                s.lagged = true;
            }),
        }
    }
    tracing::debug!(channel = %fanout.channel, "hub: backend feed ended");
    if let Some(map) = map.upgrade() {
        let mut map = lock(&map);
        if map
            .get(&fanout.channel)
            .is_some_and(|f| Arc::ptr_eq(f, &fanout))
        {
            map.remove(&fanout.channel);
        }
    }
    fanout.mark_all(|s| s.ended = true);
}

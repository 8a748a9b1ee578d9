//! [`MemoryBackend`]: channels in this process. History is longpoll-proto's
//! [`Channel`](longpoll_proto::Channel) (epoch, consecutive sequence numbers, bounded by count
//! and bytes, gap and reset decisions), plus an optional age bound kept here; each channel
//! announces publishes on a bounded broadcast feed.
//!
//! Invariants: a channel's history and its publish times cover the same sequence numbers;
//! a channel with no history, no publish in its epoch and no watcher is dropped, so
//! subscriptions to made-up names cannot fill `max_channels`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use longpoll_proto::{Channel, ChannelConfig, Outcome, Read, RejectReason};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::backend::{
    Backend, BackendError, BoxFuture, BoxStream, ChannelInfo, FeedItem, HistoryRead, Published,
    ReadLimit,
};
use super::error::PublishError;
use super::{ChannelName, Cursor, Epoch, Seq};

/// Limits of a [`MemoryBackend`].
///
/// | knob | default | when hit |
/// | --- | --- | --- |
/// | `max_messages` | 1024 | oldest evicted (later readers get a gap) |
/// | `max_bytes` | 1 MiB | oldest evicted |
/// | `max_message_bytes` | 64 KiB | [`PublishError::Refused`] `MessageTooLarge` |
/// | `max_age` | none | older messages evicted |
/// | `max_channels` | 10,000 | [`PublishError::Refused`] `TooManyChannels`, or a failed watch |
/// | `feed_capacity` | 1024 | a lagging feed yields [`FeedItem::Lost`] |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryConfig {
    /// Most messages kept per channel. Default 1024.
    pub max_messages: usize,
    /// Most payload bytes kept per channel. Default 1 MiB.
    pub max_bytes: usize,
    /// Largest message. Default 64 KiB (capped at `max_bytes`).
    pub max_message_bytes: usize,
    /// Messages older than this are evicted. Default `None` (no age bound).
    pub max_age: Option<Duration>,
    /// Most channels. Default 10,000.
    pub max_channels: usize,
    /// Announcements a channel's feed buffers for its watcher. Default 1024.
    pub feed_capacity: usize,
    /// The epoch channels start in. Default `None`: a fresh one from the clock, so clients
    /// of a previous process are told of the reset.
    pub epoch: Option<Epoch>,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            max_messages: 1024,
            max_bytes: 1 << 20,
            max_message_bytes: 64 << 10,
            max_age: None,
            max_channels: 10_000,
            feed_capacity: 1024,
            epoch: None,
        }
    }
}

impl MemoryConfig {
    fn channel_config(&self) -> ChannelConfig {
        let mut c = ChannelConfig::default();
        c.max_messages = self.max_messages.max(1);
        c.max_bytes = self.max_bytes;
        c.max_message_bytes = self.max_message_bytes;
        c
    }
}

struct MemChannel {
    history: Channel,
    /// `(seq, publish time)` of each message in history, oldest first (only with `max_age`).
    times: VecDeque<(Seq, Instant)>,
    feed: broadcast::Sender<FeedItem>,
    watchers: usize,
}

impl MemChannel {
    /// Drops messages older than `max_age` and publish times of evicted messages.
    fn trim(&mut self, max_age: Option<Duration>, now: Instant) {
        let oldest = self.history.oldest();
        while self.times.front().is_some_and(|&(seq, _)| seq < oldest) {
            self.times.pop_front();
        }
        let Some(max_age) = max_age else { return };
        let mut through = None;
        while let Some(&(seq, at)) = self.times.front() {
            if now.saturating_duration_since(at) < max_age {
                break;
            }
            through = Some(seq);
            self.times.pop_front();
        }
        if let Some(seq) = through {
            self.history.trim_through(seq);
        }
    }
}

struct State {
    config: MemoryConfig,
    epoch: Epoch,
    channels: HashMap<ChannelName, MemChannel>,
}

impl State {
    fn channel(&mut self, name: &ChannelName) -> Option<&mut MemChannel> {
        if !self.channels.contains_key(name) {
            if self.channels.len() >= self.config.max_channels {
                return None;
            }
            let (feed, _) = broadcast::channel(self.config.feed_capacity.max(1));
            self.channels.insert(
                name.clone(),
                MemChannel {
                    history: Channel::new(self.epoch, self.config.channel_config()),
                    times: VecDeque::new(),
                    feed,
                    watchers: 0,
                },
            );
        }
        self.channels.get_mut(name)
    }

    fn drop_if_unused(&mut self, name: &ChannelName) {
        let epoch = self.epoch;
        if self
            .channels
            .get(name)
            .is_some_and(|c| c.watchers == 0 && c.history.head() == Cursor::start_of(epoch))
        {
            self.channels.remove(name);
        }
    }
}

/// Channels held in this process, behind a [`Hub`](super::Hub). Cloning shares the
/// channels. A new process (or [`MemoryBackend::reset`]) starts a new epoch: subscribers
/// that come back with an old cursor get a [`Item::Reset`](super::Item::Reset).
#[derive(Clone)]
pub struct MemoryBackend {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("MemoryBackend")
            .field("epoch", &state.epoch)
            .field("channels", &state.channels.len())
            .finish()
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the state half-changed in a way that
    // matters more than stopping every later call: keep serving.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// An epoch from the wall clock (nanoseconds), so each process start gets a new one.
fn fresh_epoch() -> Epoch {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    Epoch(nanos.max(1))
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new(config: MemoryConfig) -> Self {
        MemoryBackend {
            state: Arc::new(Mutex::new(State {
                epoch: config.epoch.unwrap_or_else(fresh_epoch),
                config,
                channels: HashMap::new(),
            })),
        }
    }

    /// The epoch channels are in (new channels start in it).
    pub fn epoch(&self) -> Epoch {
        lock(&self.state).epoch
    }

    /// Forgets every channel's history and moves them all to `epoch`, as a restart would;
    /// watchers are told ([`FeedItem::Lost`]) so subscribers catch up and see the reset.
    pub fn reset(&self, epoch: Epoch) {
        let mut state = lock(&self.state);
        state.epoch = epoch;
        for c in state.channels.values_mut() {
            c.history.reset(epoch);
            c.times.clear();
            let _ = c.feed.send(FeedItem::Lost);
        }
        let names: Vec<ChannelName> = state.channels.keys().cloned().collect();
        for name in names {
            state.drop_if_unused(&name);
        }
    }

    fn publish_now(&self, channel: &ChannelName, data: Bytes) -> Result<Cursor, PublishError> {
        let mut state = lock(&self.state);
        let max_age = state.config.max_age;
        let max_channels = state.config.max_channels;
        let Some(c) = state.channel(channel) else {
            return Err(PublishError::Refused(
                longpoll_proto::PublishError::TooManyChannels { max_channels },
            ));
        };
        let now = Instant::now();
        c.trim(max_age, now);
        let result = c.history.publish(data.clone());
        let seq = match result {
            Ok((seq, _evicted)) => seq,
            Err(e) => {
                state.drop_if_unused(channel);
                return Err(PublishError::Refused(e));
            }
        };
        if max_age.is_some() {
            c.times.push_back((seq, now));
        }
        c.trim(None, now);
        let cursor = Cursor {
            epoch: c.history.epoch(),
            seq,
        };
        // No receiver: nobody watches this channel now; history still has the message.
        let _ = c.feed.send(FeedItem::Published(Published { cursor, data }));
        Ok(cursor)
    }

    fn read_now(&self, channel: &ChannelName, after: Cursor, limit: ReadLimit) -> HistoryRead {
        let mut state = lock(&self.state);
        let epoch = state.epoch;
        let max_age = state.config.max_age;
        let Some(c) = state.channels.get_mut(channel) else {
            // Never published in this process: as an empty channel in the current epoch.
            let empty = Channel::new(epoch, ChannelConfig::default());
            return convert(empty.read(Some(after), 1, 0), &empty);
        };
        c.trim(max_age, Instant::now());
        convert(
            c.history
                .read(Some(after), limit.max_messages.max(1), limit.max_bytes),
            &c.history,
        )
    }

    fn head_now(&self, channel: &ChannelName) -> Cursor {
        let state = lock(&self.state);
        state
            .channels
            .get(channel)
            .map_or(Cursor::start_of(state.epoch), |c| c.history.head())
    }

    fn watch_now(&self, channel: &ChannelName) -> Result<BoxStream<FeedItem>, BackendError> {
        let mut state = lock(&self.state);
        let max_channels = state.config.max_channels;
        let Some(c) = state.channel(channel) else {
            return Err(BackendError::new(format!(
                "max_channels ({max_channels}) reached"
            )));
        };
        c.watchers += 1;
        let receiver = c.feed.subscribe();
        let guard = WatchGuard {
            state: Arc::downgrade(&self.state),
            channel: channel.clone(),
        };
        Ok(super::backend::broadcast_feed(receiver, guard))
    }

    fn channels_now(&self) -> Vec<ChannelInfo> {
        let mut state = lock(&self.state);
        let max_age = state.config.max_age;
        let now = Instant::now();
        let mut out: Vec<ChannelInfo> = state
            .channels
            .iter_mut()
            .map(|(name, c)| {
                c.trim(max_age, now);
                ChannelInfo {
                    name: name.clone(),
                    head: c.history.head(),
                    oldest: c.history.oldest(),
                    messages: c.history.len(),
                    bytes: c.history.bytes(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// longpoll-proto's read decision in the hub's terms.
fn convert(read: Read, channel: &Channel) -> HistoryRead {
    match read {
        Read::Hold(_) => HistoryRead::AtHead,
        Read::Answer(Outcome::Batch { messages, next }) => HistoryRead::Messages(
            messages
                .into_iter()
                .map(|m| Published {
                    cursor: Cursor {
                        epoch: next.epoch,
                        seq: m.seq,
                    },
                    data: m.data,
                })
                .collect(),
        ),
        Read::Answer(Outcome::Gap {
            missed_from,
            missed_to,
            resume,
        }) => HistoryRead::Gap {
            missed_from,
            missed_to,
            resume,
        },
        Read::Answer(Outcome::Reset { previous, resume }) => {
            HistoryRead::Reset { previous, resume }
        }
        Read::Answer(Outcome::Rejected {
            reason: RejectReason::CursorAhead,
        }) => HistoryRead::Ahead {
            head: channel.head(),
        },
        // Channel::read answers nothing else.
        Read::Answer(_) => HistoryRead::Ahead {
            head: channel.head(),
        },
    }
}

/// Unregisters a watcher when its feed is dropped.
struct WatchGuard {
    state: Weak<Mutex<State>>,
    channel: ChannelName,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            let mut state = lock(&state);
            if let Some(c) = state.channels.get_mut(&self.channel) {
                c.watchers = c.watchers.saturating_sub(1);
            }
            state.drop_if_unused(&self.channel);
        }
    }
}

impl Backend for MemoryBackend {
    fn publish(
        &self,
        channel: ChannelName,
        data: Bytes,
    ) -> BoxFuture<Result<Cursor, PublishError>> {
        let result = self.publish_now(&channel, data);
        Box::pin(async move { result })
    }

    fn read(
        &self,
        channel: ChannelName,
        after: Cursor,
        limit: ReadLimit,
    ) -> BoxFuture<Result<HistoryRead, BackendError>> {
        let result = self.read_now(&channel, after, limit);
        Box::pin(async move { Ok(result) })
    }

    fn head(&self, channel: ChannelName) -> BoxFuture<Result<Cursor, BackendError>> {
        let head = self.head_now(&channel);
        Box::pin(async move { Ok(head) })
    }

    fn watch(&self, channel: ChannelName) -> BoxFuture<Result<BoxStream<FeedItem>, BackendError>> {
        let result = self.watch_now(&channel);
        Box::pin(async move { result })
    }

    fn channels(&self) -> BoxFuture<Result<Vec<ChannelInfo>, BackendError>> {
        let channels = self.channels_now();
        Box::pin(async move { Ok(channels) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(name: &str) -> ChannelName {
        ChannelName::new(name).unwrap()
    }

    fn limit() -> ReadLimit {
        ReadLimit {
            max_messages: 100,
            max_bytes: 1 << 20,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn history_is_bounded_by_count_bytes_and_age() {
        let config = MemoryConfig {
            max_messages: 3,
            max_bytes: 10,
            max_message_bytes: 4,
            max_age: Some(Duration::from_secs(60)),
            epoch: Some(Epoch(5)),
            ..MemoryConfig::default()
        };
        let b = MemoryBackend::new(config);
        let c = ch("c");
        for i in 1..=4u64 {
            let cursor = b
                .publish(c.clone(), Bytes::from_static(b"xx"))
                .await
                .unwrap();
            assert_eq!(cursor, Cursor::new(5, i));
        }
        // Count bound: 2..=4 held.
        let info = &b.channels().await.unwrap()[0];
        assert_eq!((info.messages, info.bytes, info.oldest), (3, 6, Seq(2)));
        assert!(matches!(
            b.publish(c.clone(), Bytes::from_static(b"12345")).await,
            Err(PublishError::Refused(
                longpoll_proto::PublishError::MessageTooLarge { .. }
            ))
        ));
        // 2 + 4 + 4 = 10 bytes fits; one more 4-byte message evicts by count and by bytes.
        for data in [b"aaaa", b"bbbb", b"cccc"] {
            b.publish(c.clone(), Bytes::from_static(data))
                .await
                .unwrap();
        }
        let info = &b.channels().await.unwrap()[0];
        assert_eq!((info.messages, info.bytes, info.oldest), (2, 8, Seq(6)));
        assert_eq!(
            b.read(c.clone(), Cursor::new(5, 1), limit()).await.unwrap(),
            HistoryRead::Gap {
                missed_from: Seq(2),
                missed_to: Seq(5),
                resume: Cursor::new(5, 5)
            }
        );
        // Age bound: 61 s later everything is gone, the head stays.
        tokio::time::advance(Duration::from_secs(61)).await;
        let info = &b.channels().await.unwrap()[0];
        assert_eq!((info.messages, info.head), (0, Cursor::new(5, 7)));
        assert_eq!(
            b.read(c.clone(), Cursor::new(5, 7), limit()).await.unwrap(),
            HistoryRead::AtHead
        );
        assert_eq!(
            b.read(c.clone(), Cursor::new(5, 8), limit()).await.unwrap(),
            HistoryRead::Ahead {
                head: Cursor::new(5, 7)
            }
        );
        assert_eq!(
            b.read(c, Cursor::new(4, 7), limit()).await.unwrap(),
            HistoryRead::Reset {
                previous: Epoch(4),
                resume: Cursor::new(5, 0)
            }
        );
    }

    #[tokio::test]
    async fn unused_channels_are_dropped_and_max_channels_holds() {
        let config = MemoryConfig {
            max_channels: 1,
            ..MemoryConfig::default()
        };
        let b = MemoryBackend::new(config);
        let feed = b.watch(ch("a")).await.unwrap();
        assert!(b.watch(ch("b")).await.is_err(), "max_channels");
        drop(feed);
        // "a" was never published to: dropped with its last watcher.
        let _feed = b.watch(ch("b")).await.unwrap();
        assert!(matches!(
            b.publish(ch("a"), Bytes::new()).await,
            Err(PublishError::Refused(
                longpoll_proto::PublishError::TooManyChannels { max_channels: 1 }
            ))
        ));
    }

    #[tokio::test]
    async fn feed_announces_in_order_and_reports_lag_and_reset() {
        let config = MemoryConfig {
            feed_capacity: 2,
            epoch: Some(Epoch(1)),
            ..MemoryConfig::default()
        };
        let b = MemoryBackend::new(config);
        let mut feed = b.watch(ch("c")).await.unwrap();
        use futures_util::StreamExt;
        b.publish(ch("c"), Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(
            feed.next().await,
            Some(FeedItem::Published(Published {
                cursor: Cursor::new(1, 1),
                data: Bytes::from_static(b"1")
            }))
        );
        for _ in 0..5 {
            b.publish(ch("c"), Bytes::from_static(b"x")).await.unwrap();
        }
        assert_eq!(feed.next().await, Some(FeedItem::Lost));
        b.reset(Epoch(2));
        let mut items = Vec::new();
        while let Some(item) = futures_util::FutureExt::now_or_never(feed.next()).flatten() {
            items.push(item);
        }
        assert_eq!(items.last(), Some(&FeedItem::Lost));
        assert_eq!(b.head(ch("c")).await.unwrap(), Cursor::new(2, 0));
    }
}

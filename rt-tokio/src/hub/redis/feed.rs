//! The pub/sub side of a [`RedisBackend`](super::RedisBackend): one dedicated connection
//! per backend, subscribed to every channel some feed watches, re-established with backoff
//! when it drops.
//!
//! Invariants: a channel's feed resolves only once Redis confirmed its SUBSCRIBE (so
//! whatever is published after that reaches it); after a reconnection every channel that
//! was live is resubscribed and then told [`FeedItem::Lost`], so its subscribers catch up
//! from the stream by cursor (what was published while the connection was down is there,
//! or a gap/reset says what is not). The entry of a channel exists exactly while it has
//! watchers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::config::RedisConfig;
use crate::hub::backend::{BackendError, BoxStream, FeedItem, Published};
use crate::hub::{Cursor, Epoch, Seq};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Watched {
    sender: broadcast::Sender<FeedItem>,
    watchers: usize,
    /// Redis confirmed the SUBSCRIBE on the current connection.
    live: bool,
    /// Feeds waiting for `live`.
    waiting: Vec<oneshot::Sender<()>>,
}

struct Shared {
    /// Watched pub/sub channels by name.
    channels: Mutex<HashMap<String, Watched>>,
    commands: mpsc::UnboundedSender<Command>,
}

enum Command {
    /// Subscribe this channel if it is watched and not live.
    Subscribe(String),
    /// Unsubscribe this channel if nobody watches it any more.
    Unsubscribe(String),
}

/// The backend's handle on its pub/sub connection. Dropping it stops the connection task
/// and ends every feed.
pub(super) struct Feeds {
    shared: Arc<Shared>,
    capacity: usize,
    timeout: Duration,
}

impl Feeds {
    /// Starts the connection task (it connects in the background).
    /// `commands` is the backend's command connection: after a reconnection it is checked
    /// (and so re-established) before subscribers are told to catch up through it.
    pub(super) fn start(
        client: redis::Client,
        commands: redis::aio::ConnectionManager,
        config: &RedisConfig,
    ) -> Feeds {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            channels: Mutex::new(HashMap::new()),
            commands: sender,
        });
        tokio::spawn(run(
            client,
            commands,
            Arc::downgrade(&shared),
            receiver,
            config.clone(),
        ));
        Feeds {
            shared,
            capacity: config.feed_capacity.max(1),
            timeout: config.command_timeout,
        }
    }

    /// A feed of `pubsub`, resolved once Redis confirmed the subscription (an error when that
    /// does not happen within the command timeout).
    pub(super) async fn watch(&self, pubsub: String) -> Result<BoxStream<FeedItem>, BackendError> {
        let (receiver, ready) = {
            let mut channels = lock(&self.shared.channels);
            let w = channels.entry(pubsub.clone()).or_insert_with(|| Watched {
                sender: broadcast::channel(self.capacity).0,
                watchers: 0,
                live: false,
                waiting: Vec::new(),
            });
            w.watchers += 1;
            let ready = if w.live {
                None
            } else {
                let (tx, rx) = oneshot::channel();
                w.waiting.push(tx);
                Some(rx)
            };
            (w.sender.subscribe(), ready)
        };
        // From here on, dropping the guard (an error, a cancelled future) unwatches.
        let guard = WatchGuard {
            shared: Arc::downgrade(&self.shared),
            pubsub: pubsub.clone(),
        };
        if let Some(ready) = ready {
            let _ = self
                .shared
                .commands
                .send(Command::Subscribe(pubsub.clone()));
            match tokio::time::timeout(self.timeout, ready).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(BackendError::new("the Redis backend shut down")),
                Err(_) => {
                    return Err(BackendError::new(format!(
                        "Redis did not confirm the subscription to {pubsub} within {:?}",
                        self.timeout
                    )))
                }
            }
        }
        Ok(crate::hub::backend::broadcast_feed(receiver, guard))
    }
}

/// Unwatches a channel when its feed is dropped.
struct WatchGuard {
    shared: Weak<Shared>,
    pubsub: String,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut channels = lock(&shared.channels);
        let Some(w) = channels.get_mut(&self.pubsub) else {
            return;
        };
        w.watchers = w.watchers.saturating_sub(1);
        if w.watchers == 0 {
            channels.remove(&self.pubsub);
            let _ = shared
                .commands
                .send(Command::Unsubscribe(self.pubsub.clone()));
        }
    }
}

/// Parses an announcement `EPOCH:SEQ PAYLOAD`.
pub(super) fn parse_announcement(payload: &[u8]) -> Option<Published> {
    let space = payload.iter().position(|&b| b == b' ')?;
    let head = std::str::from_utf8(&payload[..space]).ok()?;
    let (epoch, seq) = head.split_once(':')?;
    Some(Published {
        cursor: Cursor {
            epoch: Epoch(epoch.parse().ok()?),
            seq: Seq(seq.parse().ok()?),
        },
        data: Bytes::copy_from_slice(&payload[space + 1..]),
    })
}

/// A delay in `[d/2, d]` (jitter, so nodes do not reconnect in lockstep).
fn jittered(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(d.as_nanos() as u64);
    let fraction = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(0.5 + fraction / 2.0)
}

/// The connection task: connect, subscribe every watched channel, dispatch messages and
/// commands until the connection fails, then again after a backoff. Ends when the backend
/// is dropped.
async fn run(
    client: redis::Client,
    connection: redis::aio::ConnectionManager,
    shared: Weak<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    config: RedisConfig,
) {
    let mut delay = config.reconnect_min;
    let mut connected_before = false;
    loop {
        let session = session(
            &client,
            &connection,
            &shared,
            &mut commands,
            &config,
            connected_before,
        );
        match session.await {
            Session::BackendDropped => return,
            Session::Failed { was_live, error } => {
                if was_live {
                    connected_before = true;
                    delay = config.reconnect_min;
                    tracing::warn!(%error, "hub: Redis pub/sub connection lost; reconnecting");
                } else {
                    tracing::debug!(%error, ?delay, "hub: Redis pub/sub connection failed");
                }
            }
        }
        if let Some(shared) = shared.upgrade() {
            for w in lock(&shared.channels).values_mut() {
                w.live = false;
            }
        }
        tokio::time::sleep(jittered(delay)).await;
        delay = (delay * 2).min(config.reconnect_max.max(config.reconnect_min));
        // Commands queued meanwhile are covered by the resubscription of every watched
        // channel at the next connection.
        loop {
            match commands.try_recv() {
                Ok(_) => {}
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
    }
}

enum Session {
    BackendDropped,
    Failed { was_live: bool, error: String },
}

fn failed(was_live: bool, error: impl std::fmt::Display) -> Session {
    Session::Failed {
        was_live,
        error: error.to_string(),
    }
}

/// One connection's life.
async fn session(
    client: &redis::Client,
    connection: &redis::aio::ConnectionManager,
    shared: &Weak<Shared>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    config: &RedisConfig,
    reconnected: bool,
) -> Session {
    let timeout = config.command_timeout;
    let pubsub = match tokio::time::timeout(timeout, client.get_async_pubsub()).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return failed(false, e),
        Err(_) => return failed(false, "connecting timed out"),
    };
    let (mut sink, mut messages) = pubsub.split();
    // Everything watched now, subscribed in one command.
    let names: Vec<String> = match shared.upgrade() {
        Some(s) => lock(&s.channels).keys().cloned().collect(),
        None => return Session::BackendDropped,
    };
    if !names.is_empty() {
        match tokio::time::timeout(timeout, sink.subscribe(&names)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return failed(false, e),
            Err(_) => return failed(false, "SUBSCRIBE timed out"),
        }
    }
    if reconnected {
        // The command connection most likely dropped too and would only notice on its next
        // use: the catch-up reads about to start. Have it reconnect first.
        for _ in 0..2 {
            let mut c = connection.clone();
            let cmd = redis::cmd("PING");
            let ping = cmd.query_async::<String>(&mut c);
            if let Ok(Ok(_)) = tokio::time::timeout(timeout, ping).await {
                break;
            }
        }
    }
    let Some(s) = shared.upgrade() else {
        return Session::BackendDropped;
    };
    mark_live(&s, &names, reconnected);
    drop(s);
    if reconnected {
        tracing::info!(
            channels = names.len(),
            "hub: Redis pub/sub reconnected; subscribers catch up from the streams"
        );
    }
    let mut ping = tokio::time::interval(config.ping_interval.max(Duration::from_millis(10)));
    ping.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return failed(true, "the connection closed");
                };
                let Some(s) = shared.upgrade() else { return Session::BackendDropped };
                dispatch(&s, message.get_channel_name(), message.get_payload_bytes());
            }
            command = commands.recv() => {
                let Some(command) = command else { return Session::BackendDropped };
                let Some(s) = shared.upgrade() else { return Session::BackendDropped };
                match command {
                    Command::Subscribe(name) => {
                        let wanted = lock(&s.channels).get(&name).is_some_and(|w| !w.live);
                        if !wanted {
                            continue;
                        }
                        drop(s);
                        match tokio::time::timeout(timeout, sink.subscribe(&name)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => return failed(true, e),
                            Err(_) => return failed(true, "SUBSCRIBE timed out"),
                        }
                        let Some(s) = shared.upgrade() else { return Session::BackendDropped };
                        mark_live(&s, std::slice::from_ref(&name), false);
                    }
                    Command::Unsubscribe(name) => {
                        let unwatched = !lock(&s.channels).contains_key(&name);
                        drop(s);
                        if unwatched {
                            match tokio::time::timeout(timeout, sink.unsubscribe(&name)).await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => return failed(true, e),
                                Err(_) => return failed(true, "UNSUBSCRIBE timed out"),
                            }
                        }
                    }
                }
            }
            _ = ping.tick() => {
                match tokio::time::timeout(timeout, sink.ping::<String>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return failed(true, e),
                    Err(_) => return failed(true, "PING timed out"),
                }
            }
        }
    }
}

/// Marks `names` live and wakes their waiting feeds; `lost`: tell their feeds that
/// messages may have been missed while the connection was down.
fn mark_live(shared: &Shared, names: &[String], lost: bool) {
    let mut channels = lock(&shared.channels);
    for name in names {
        if let Some(w) = channels.get_mut(name) {
            w.live = true;
            for tx in w.waiting.drain(..) {
                let _ = tx.send(());
            }
            if lost {
                let _ = w.sender.send(FeedItem::Lost);
            }
        }
    }
}

fn dispatch(shared: &Shared, channel: &str, payload: &[u8]) {
    let channels = lock(&shared.channels);
    let Some(w) = channels.get(channel) else {
        return; // unwatched meanwhile
    };
    match parse_announcement(payload) {
        Some(p) => {
            // No receiver: every feed was dropped just now; history has the message.
            let _ = w.sender.send(FeedItem::Published(p));
        }
        None => {
            tracing::warn!(channel, "hub: malformed announcement on Redis pub/sub");
            let _ = w.sender.send(FeedItem::Lost);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_parse_and_bad_ones_are_refused() {
        let p = parse_announcement(b"17:42 hello world").unwrap();
        assert_eq!(p.cursor, Cursor::new(17, 42));
        assert_eq!(&p.data[..], b"hello world");
        assert_eq!(&parse_announcement(b"1:1 ").unwrap().data[..], b"");
        for bad in [&b"17:42"[..], b"x:1 d", b"1:y d", b"17 d", b"", b"1:-1 d"] {
            assert_eq!(parse_announcement(bad), None, "{bad:?}");
        }
    }
}

//! [`RedisBackend`]: channels in Redis, shared by every server node connected to it.
//!
//! - History is a Redis Stream per channel (entry id `0-SEQ`, the payload and the publish
//!   time as fields) next to a meta hash holding the channel's epoch, its head seq and the
//!   bytes held. Both keys share the hash tag `{CHANNEL}`.
//! - A publish is one Lua script: ensure the epoch, increment the seq, `XADD`, trim by
//!   count, bytes and age, `PUBLISH` the announcement `EPOCH:SEQ PAYLOAD`. So the channel
//!   has one global order, an entry is in history exactly when it was announced, and a
//!   publish either happened entirely or not at all.
//! - The epoch is created (from the Redis server's clock, in microseconds) whenever the
//!   meta hash is missing: first use, expiry (`channel_ttl`), eviction, a restart without
//!   persistence, a failover to a replica without the key. A cursor of another epoch gets
//!   a reset, never messages of the wrong history.
//! - Every node keeps one pub/sub connection (`feed.rs`) for the channels its hub watches
//!   and one multiplexed command connection (redis' `ConnectionManager`, which reconnects
//!   by itself). Both reconnect with backoff; after a pub/sub reconnection the hub's
//!   subscribers catch up from the stream by cursor.

mod config;
mod feed;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::Value;

pub use config::RedisConfig;

use super::backend::{
    Backend, BackendError, BoxFuture, BoxStream, ChannelInfo, FeedItem, HistoryRead, Published,
    ReadLimit,
};
use super::error::PublishError;
use super::{ChannelName, Cursor, Epoch, Seq};
use config::millis;
use feed::Feeds;

const COMMON: &str = include_str!("common.lua");

fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{COMMON}{body}"))
}

struct Scripts {
    publish: redis::Script,
    read: redis::Script,
    head: redis::Script,
    info: redis::Script,
}

/// A hub backend on Redis: every node whose [`Hub`](super::Hub) runs on a `RedisBackend`
/// with the same URL and [`RedisConfig::key_prefix`] shares the channels: a publish on any
/// node reaches subscribers on every node, in one order, and a cursor from one node
/// resumes on another.
///
/// Cloning shares the connections. Redis 6.2 or later (scripts use `XTRIM MINID` and
/// exclusive ranges).
#[derive(Clone)]
pub struct RedisBackend {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    config: RedisConfig,
    connection: ConnectionManager,
    feeds: Feeds,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn backend_error(what: &str, e: redis::RedisError) -> BackendError {
    BackendError::with_source(format!("Redis {what} failed"), e)
}

impl RedisBackend {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`).
    /// Fails when the URL or [`RedisConfig::key_prefix`] is invalid or the server cannot be
    /// reached within [`RedisConfig::command_timeout`]. Call inside a tokio runtime (it
    /// spawns the pub/sub connection task).
    pub async fn connect(url: &str, config: RedisConfig) -> Result<RedisBackend, BackendError> {
        config.check().map_err(BackendError::new)?;
        let client = redis::Client::open(url)
            .map_err(|e| BackendError::with_source(format!("bad Redis URL {url:?}"), e))?;
        let timeout = config.command_timeout;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_min_delay(config.reconnect_min)
            .set_max_delay(config.reconnect_max)
            .set_number_of_retries(2);
        let connection = tokio::time::timeout(
            timeout,
            ConnectionManager::new_with_config(client.clone(), manager_config),
        )
        .await
        .map_err(|_| BackendError::new(format!("connecting to Redis at {url} timed out")))?
        .map_err(|e| BackendError::with_source(format!("connecting to Redis at {url}"), e))?;
        let feeds = Feeds::start(client, connection.clone(), &config);
        Ok(RedisBackend {
            inner: std::sync::Arc::new(Inner {
                feeds,
                connection,
                scripts: Scripts {
                    publish: script(include_str!("publish.lua")),
                    read: script(include_str!("read.lua")),
                    head: script(include_str!("head.lua")),
                    info: script(include_str!("info.lua")),
                },
                config,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }
}

impl Inner {
    fn keys(&self, channel: &ChannelName) -> (String, String) {
        let p = &self.config.key_prefix;
        (
            format!("{p}:{{{channel}}}:m"),
            format!("{p}:{{{channel}}}:s"),
        )
    }

    fn pubsub(&self, channel: &ChannelName) -> String {
        format!("{}:{{{channel}}}", self.config.key_prefix)
    }

    fn ttl(&self) -> u64 {
        millis(self.config.channel_ttl)
    }

    /// Runs a script invocation within the command timeout. `retry`: the script may run
    /// twice (reads), so a connection found dropped (the first use after Redis restarted)
    /// is retried once on the reconnected connection; a publish is never retried, as the
    /// first attempt may have run.
    async fn invoke(
        &self,
        what: &str,
        invocation: redis::ScriptInvocation<'_>,
        retry: bool,
    ) -> Result<Value, BackendError> {
        let timeout = self.config.command_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut attempt = 0;
        loop {
            let mut connection = self.connection.clone();
            let call = invocation.invoke_async(&mut connection);
            match tokio::time::timeout_at(deadline, call).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e))
                    if retry && attempt == 0 && (e.is_connection_dropped() || e.is_io_error()) =>
                {
                    tracing::debug!(error = %e, what, "hub: Redis connection dropped; retrying once");
                    attempt += 1;
                }
                Ok(Err(e)) => return Err(backend_error(what, e)),
                Err(_) => {
                    return Err(BackendError::new(format!(
                        "Redis {what} timed out after {timeout:?}"
                    )))
                }
            }
        }
    }

    async fn publish(&self, channel: ChannelName, data: Bytes) -> Result<Cursor, PublishError> {
        let max = self.config.max_message_bytes();
        if data.len() > max {
            return Err(PublishError::Refused(
                longpoll_proto::PublishError::MessageTooLarge {
                    size: data.len(),
                    max_message_bytes: max,
                },
            ));
        }
        let (meta, stream) = self.keys(&channel);
        let mut invocation = self.scripts.publish.key(meta);
        invocation
            .key(stream)
            .arg(&data[..])
            .arg(self.pubsub(&channel))
            .arg(self.config.max_messages.max(1))
            .arg(self.config.max_bytes)
            .arg(millis(self.config.max_age))
            .arg(self.ttl());
        let reply = self
            .invoke("publish", invocation, false)
            .await
            .map_err(PublishError::Unavailable)?;
        let mut r = Reply::new(reply, "publish").map_err(PublishError::Unavailable)?;
        let cursor = Cursor {
            epoch: r.epoch()?,
            seq: Seq(r.int()?),
        };
        Ok(cursor)
    }

    async fn read(
        &self,
        channel: ChannelName,
        after: Cursor,
        limit: ReadLimit,
    ) -> Result<HistoryRead, BackendError> {
        let (meta, stream) = self.keys(&channel);
        let mut invocation = self.scripts.read.key(meta);
        invocation
            .key(stream)
            .arg(after.epoch.0)
            .arg(after.seq.0)
            .arg(limit.max_messages.max(1))
            .arg(limit.max_bytes)
            .arg(millis(self.config.max_age))
            .arg(self.ttl());
        let reply = self.invoke("history read", invocation, true).await?;
        let mut r = Reply::new(reply, "history read")?;
        let kind = r.text()?;
        let epoch = r.epoch()?;
        Ok(match kind.as_str() {
            "reset" => HistoryRead::Reset {
                previous: after.epoch,
                resume: Cursor::start_of(epoch),
            },
            "ahead" => HistoryRead::Ahead {
                head: Cursor {
                    epoch,
                    seq: Seq(r.int()?),
                },
            },
            "athead" => HistoryRead::AtHead,
            "gap" => {
                let missed_from = Seq(r.int()?);
                let missed_to = Seq(r.int()?);
                HistoryRead::Gap {
                    missed_from,
                    missed_to,
                    resume: Cursor {
                        epoch,
                        seq: missed_to,
                    },
                }
            }
            "msgs" => {
                let mut messages = Vec::new();
                while !r.is_empty() {
                    let seq = Seq(r.text()?.parse().map_err(|_| r.bad())?);
                    let data = r.bytes()?;
                    messages.push(Published {
                        cursor: Cursor { epoch, seq },
                        data,
                    });
                }
                HistoryRead::Messages(messages)
            }
            _ => return Err(r.bad()),
        })
    }

    async fn head(&self, channel: ChannelName) -> Result<Cursor, BackendError> {
        let (meta, stream) = self.keys(&channel);
        let mut invocation = self.scripts.head.key(meta);
        invocation.key(stream).arg(self.ttl());
        let reply = self.invoke("head", invocation, true).await?;
        let mut r = Reply::new(reply, "head")?;
        Ok(Cursor {
            epoch: r.epoch()?,
            seq: Seq(r.int()?),
        })
    }

    async fn channels(&self) -> Result<Vec<ChannelInfo>, BackendError> {
        let pattern = format!("{}:{{*}}:m", self.config.key_prefix);
        let prefix_len = self.config.key_prefix.len() + 2;
        let max = self.config.max_listed_channels;
        let mut connection = self.connection.clone();
        let timeout = self.config.command_timeout;
        let mut names = Vec::new();
        let mut cursor: u64 = 0;
        // Bounded: at most `max` names, and SCAN ends after one pass over the keyspace.
        loop {
            let mut scan_cmd = redis::cmd("SCAN");
            scan_cmd
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500);
            let scan = scan_cmd.query_async::<(u64, Vec<String>)>(&mut connection);
            let (next, keys) = tokio::time::timeout(timeout, scan)
                .await
                .map_err(|_| BackendError::new("Redis SCAN timed out"))?
                .map_err(|e| backend_error("SCAN", e))?;
            for key in keys {
                let name = key
                    .get(prefix_len..key.len().saturating_sub(3))
                    .and_then(|n| ChannelName::new(n).ok());
                if let Some(name) = name {
                    if names.len() < max && !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            cursor = next;
            if cursor == 0 || names.len() >= max {
                break;
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let (meta, stream) = self.keys(&name);
            let mut invocation = self.scripts.info.key(meta);
            invocation.key(stream);
            let reply = self.invoke("channel info", invocation, true).await?;
            let mut r = Reply::new(reply, "channel info")?;
            if r.is_empty() {
                continue; // expired between SCAN and now
            }
            let epoch = r.epoch()?;
            let head = Seq(r.int()?);
            out.push(ChannelInfo {
                name,
                head: Cursor { epoch, seq: head },
                oldest: Seq(r.int()?),
                messages: r.int()? as usize,
                bytes: r.int()? as usize,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// A script's array reply, read front to back.
struct Reply {
    items: std::vec::IntoIter<Value>,
    what: &'static str,
}

impl Reply {
    fn new(value: Value, what: &'static str) -> Result<Reply, BackendError> {
        match value {
            Value::Array(items) => Ok(Reply {
                items: items.into_iter(),
                what,
            }),
            other => Err(BackendError::new(format!(
                "unexpected Redis reply to {what}: {other:?}"
            ))),
        }
    }

    fn bad(&self) -> BackendError {
        BackendError::new(format!("malformed Redis reply to {}", self.what))
    }

    fn is_empty(&self) -> bool {
        self.items.len() == 0
    }

    fn bytes(&mut self) -> Result<Bytes, BackendError> {
        match self.items.next() {
            Some(Value::BulkString(b)) => Ok(Bytes::from(b)),
            Some(Value::SimpleString(s)) => Ok(Bytes::from(s)),
            _ => Err(self.bad()),
        }
    }

    fn text(&mut self) -> Result<String, BackendError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.bad())
    }

    fn int(&mut self) -> Result<u64, BackendError> {
        match self.items.next() {
            Some(Value::Int(n)) if n >= 0 => Ok(n as u64),
            Some(Value::BulkString(b)) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| self.bad()),
            _ => Err(self.bad()),
        }
    }

    fn epoch(&mut self) -> Result<Epoch, BackendError> {
        Ok(Epoch(self.text()?.parse().map_err(|_| self.bad())?))
    }
}

impl From<BackendError> for PublishError {
    fn from(e: BackendError) -> Self {
        PublishError::Unavailable(e)
    }
}

impl Backend for RedisBackend {
    fn publish(
        &self,
        channel: ChannelName,
        data: Bytes,
    ) -> BoxFuture<Result<Cursor, PublishError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.publish(channel, data).await })
    }

    fn read(
        &self,
        channel: ChannelName,
        after: Cursor,
        limit: ReadLimit,
    ) -> BoxFuture<Result<HistoryRead, BackendError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.read(channel, after, limit).await })
    }

    fn head(&self, channel: ChannelName) -> BoxFuture<Result<Cursor, BackendError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.head(channel).await })
    }

    fn watch(&self, channel: ChannelName) -> BoxFuture<Result<BoxStream<FeedItem>, BackendError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let pubsub = inner.pubsub(&channel);
            inner.feeds.watch(pubsub).await
        })
    }

    fn channels(&self) -> BoxFuture<Result<Vec<ChannelInfo>, BackendError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.channels().await })
    }
}

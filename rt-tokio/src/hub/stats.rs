//! Counts for a status page ([`Stats`]) and the per-transport connection gauge
//! ([`ConnectionGuard`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::backend::ChannelInfo;
use super::fanout::Counters;

/// A transport, for the connection counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// WebSocket.
    WebSocket,
    /// Server-Sent Events.
    Sse,
    /// Long polling (one per request held open).
    LongPoll,
    /// Anything else an application counts.
    Other,
}

impl Transport {
    fn index(self) -> usize {
        match self {
            Transport::WebSocket => 0,
            Transport::Sse => 1,
            Transport::LongPoll => 2,
            Transport::Other => 3,
        }
    }
}

/// Counts one open connection of a transport until dropped
/// ([`Hub::connection`](super::Hub::connection)).
#[derive(Debug)]
pub struct ConnectionGuard {
    counters: Arc<Counters>,
    transport: Transport,
}

impl ConnectionGuard {
    pub(crate) fn new(counters: Arc<Counters>, transport: Transport) -> Self {
        counters.connections[transport.index()].fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            counters,
            transport,
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.counters.connections[self.transport.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Open connections per transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connections {
    /// WebSocket connections.
    pub websocket: u64,
    /// SSE streams.
    pub sse: u64,
    /// Long-poll requests held.
    pub longpoll: u64,
    /// Others.
    pub other: u64,
}

/// One channel's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelStats {
    /// History as the backend holds it.
    pub info: ChannelInfo,
    /// Subscriptions of this hub on the channel.
    pub subscribers: usize,
}

/// A snapshot of a hub ([`Hub::stats`](super::Hub::stats)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages published through this hub.
    pub published: u64,
    /// Publishes that failed.
    pub publish_errors: u64,
    /// Live subscriptions.
    pub subscribers: usize,
    /// Messages waiting in all subscriber queues.
    pub queued_messages: usize,
    /// Payload bytes waiting in all subscriber queues.
    pub queued_bytes: usize,
    /// Longest subscriber queue.
    pub longest_queue: usize,
    /// Queue overflows turned into a catch-up from history (policy `Gap`).
    pub overflow_gaps: u64,
    /// Subscribers cut off on overflow (policy `Disconnect`).
    pub cut_off: u64,
    /// Open connections per transport.
    pub connections: Connections,
    /// Every channel the backend holds, by name.
    pub channels: Vec<ChannelStats>,
    /// Why `channels` is empty, if the backend failed to list them.
    pub backend_error: Option<String>,
}

pub(crate) fn connections(counters: &Counters) -> Connections {
    let c = |i: usize| counters.connections[i].load(Ordering::Relaxed);
    Connections {
        websocket: c(0),
        sse: c(1),
        longpoll: c(2),
        other: c(3),
    }
}

//! Server helpers: the response head fields, a keep-alive timer, and a bounded replay buffer
//! that resumes a client from its `Last-Event-ID`.
//!
//! Invariants: the replay buffer never holds more than [`ReplayConfig`] allows; a resume from
//! an id it does not hold is reported as [`Replay::Missed`], never as a silent skip or a
//! replay of everything.

use alloc::collections::vec_deque;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::config::ReplayConfig;
use crate::error::ReplayError;
use crate::event::{write_comment, Event};
use crate::time::Instant;

/// Header fields of a `text/event-stream` response: the content type, `no-cache` so no cache
/// serves a stale stream, `no-transform` so no proxy compresses (and so buffers) it, and
/// `X-Accel-Buffering: no` so nginx-style proxies do not buffer it.
pub const RESPONSE_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache, no-transform"),
    ("X-Accel-Buffering", "no"),
];

/// Emits a comment line when the stream has been quiet for `interval`, so proxies and clients
/// with an idle timeout see it is alive.
///
/// Drive it like any machine: `handle_timeout` at [`poll_timeout`](Self::poll_timeout), then
/// drain [`poll_transmit`](Self::poll_transmit). Tell it about real events with
/// [`handle_sent`](Self::handle_sent) so no keep-alive goes out while events flow.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    interval: Duration,
    next: Instant,
    due: bool,
}

impl KeepAlive {
    /// A timer whose first keep-alive is due at `now + interval`.
    pub fn new(now: Instant, interval: Duration) -> Self {
        KeepAlive {
            interval,
            next: now + interval,
            due: false,
        }
    }

    /// Something was written at `now`: the next keep-alive moves to `now + interval`.
    pub fn handle_sent(&mut self, now: Instant) {
        self.next = now + self.interval;
        self.due = false;
    }

    /// Time passed. Calling it early is a harmless no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next {
            self.due = true;
            self.next = now + self.interval;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// Appends the keep-alive comment (`:\n`) to `out` if one is due; returns its length.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        if !core::mem::take(&mut self.due) {
            return None;
        }
        Some(write_comment("", out))
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The event's `id:` field, if it had one.
    id: Option<String>,
    bytes: Vec<u8>,
}

/// The recent events of a stream, serialized, bounded in count and bytes (oldest evicted).
///
/// ```
/// use sse_proto::{Event, Replay, ReplayBuffer, ReplayConfig};
///
/// let mut buffer = ReplayBuffer::new(ReplayConfig::DEFAULT);
/// buffer.push(&Event::new().id("1")?.data("a"))?;
/// buffer.push(&Event::new().id("2")?.data("b"))?;
/// match buffer.replay_since("1") {
///     Replay::Events(events) => assert_eq!(events.concat(), b"id: 2\ndata: b\n\n"),
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(buffer.replay_since("0"), Replay::Missed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    config: ReplayConfig,
    entries: VecDeque<Entry>,
    bytes: usize,
}

/// The answer to "what did a client resuming from this `Last-Event-ID` miss?".
#[derive(Debug)]
pub enum Replay<'a> {
    /// The client sent no `Last-Event-ID` (or an empty one): a new subscriber, nothing to
    /// replay.
    Fresh,
    /// The id is in the buffer: these events followed it (possibly none), oldest first.
    Events(ReplayEvents<'a>),
    /// The id is not in the buffer: it fell out (the client missed more than the buffer
    /// holds) or was never issued. Tell the client it missed data (e.g. a `reset` event).
    Missed,
}

/// Serialized events to replay, oldest first.
#[derive(Debug, Clone)]
pub struct ReplayEvents<'a> {
    inner: vec_deque::Iter<'a, Entry>,
}

impl<'a> Iterator for ReplayEvents<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.inner.next().map(|e| e.bytes.as_slice())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for ReplayEvents<'_> {}

impl ReplayEvents<'_> {
    /// All the events as one byte string.
    pub fn concat(self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in self {
            out.extend_from_slice(e);
        }
        out
    }
}

impl ReplayBuffer {
    /// An empty buffer with these bounds.
    pub fn new(config: ReplayConfig) -> Self {
        ReplayBuffer {
            config,
            entries: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No events held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of serialized events held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Serializes `event` and keeps it, evicting the oldest events beyond the bounds. Returns
    /// the serialized bytes to send to the connected clients.
    pub fn push(&mut self, event: &Event<'_>) -> Result<&[u8], ReplayError> {
        let size = event.encoded_len();
        if size > self.config.max_bytes {
            return Err(ReplayError::EventTooLarge {
                size,
                limit: self.config.max_bytes,
            });
        }
        let mut bytes = Vec::with_capacity(size);
        event.write_to(&mut bytes);
        self.bytes += size;
        self.entries.push_back(Entry {
            id: event.get_id().map(String::from),
            bytes,
        });
        while self.entries.len() > self.config.max_events || self.bytes > self.config.max_bytes {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.bytes.len(),
                None => break,
            }
        }
        Ok(self.entries.back().map_or(&[][..], |e| e.bytes.as_slice()))
    }

    /// What a client resuming after `last_event_id` must receive. The newest event carrying
    /// that id is the resume point.
    pub fn replay_since(&self, last_event_id: &str) -> Replay<'_> {
        if last_event_id.is_empty() {
            return Replay::Fresh;
        }
        let found = self
            .entries
            .iter()
            .rposition(|e| e.id.as_deref() == Some(last_event_id));
        match found {
            Some(i) => Replay::Events(ReplayEvents {
                inner: self.entries.range(i + 1..),
            }),
            None => Replay::Missed,
        }
    }
}

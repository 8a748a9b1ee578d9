//! [`Subscription`]: one subscriber's ordered view of a channel. It replays history from
//! its cursor, then follows its live queue; whenever the queue cannot continue the cursor
//! (an overflow, a lost feed, a hole, a new epoch) it reads history from the cursor again.
//!
//! Invariant: `cursor` is the cursor of the last item handed out (or the starting one);
//! an item is handed out only if it continues `cursor` (a message at `cursor.seq + 1` in
//! the same epoch, or a gap/reset from history), so nothing is skipped or repeated.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;

use super::backend::{BackendError, BoxFuture, HistoryRead, ReadLimit};
use super::error::RecvError;
use super::fanout::{lock, Fanout, Queue};
use super::{ChannelName, Cursor, HubInner, Item};

enum Mode {
    /// Following the live queue.
    Live,
    /// Reading history from the cursor (a read in flight, or about to start).
    CatchUp(Option<BoxFuture<Result<HistoryRead, BackendError>>>),
    /// Ended with this error.
    Done(RecvError),
}

/// A live, ordered subscription to one channel of a [`Hub`](super::Hub).
///
/// Receive with [`recv`](Self::recv) or as a [`Stream`] of `Result<Item, RecvError>`
/// (it ends after the first error). `Send`, so any task can own it. Dropping it
/// unsubscribes.
pub struct Subscription {
    pub(crate) hub: Arc<HubInner>,
    pub(crate) fanout: Arc<Fanout>,
    pub(crate) queue: Arc<Queue>,
    pub(crate) channel: ChannelName,
    pub(crate) cursor: Cursor,
    mode: Mode,
    ready: VecDeque<Item>,
    ended: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(
        hub: Arc<HubInner>,
        fanout: Arc<Fanout>,
        queue: Arc<Queue>,
        channel: ChannelName,
    ) -> Self {
        Subscription {
            hub,
            fanout,
            queue,
            channel,
            cursor: Cursor::default(),
            mode: Mode::Live,
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// Sets the starting point: `catch_up` reads history from `cursor` first.
    pub(crate) fn start_at(&mut self, cursor: Cursor, catch_up: bool) {
        self.cursor = cursor;
        self.mode = if catch_up {
            Mode::CatchUp(None)
        } else {
            Mode::Live
        };
    }

    /// The channel.
    pub fn channel(&self) -> &ChannelName {
        &self.channel
    }

    /// The cursor after the last item received (or the starting cursor): resubscribe from
    /// it to go on without loss.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Messages waiting in this subscription's live queue.
    pub fn queued(&self) -> usize {
        lock(&self.queue.state).items.len()
    }

    /// The next item. After an error every call returns that error again.
    pub async fn recv(&mut self) -> Result<Item, RecvError> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Item, RecvError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Poll::Ready(Ok(item));
            }
            match &mut self.mode {
                Mode::Done(e) => return Poll::Ready(Err(e.clone())),
                Mode::CatchUp(slot) => {
                    let hub = &self.hub;
                    let read = slot.get_or_insert_with(|| {
                        hub.backend.read(
                            self.channel.clone(),
                            self.cursor,
                            ReadLimit {
                                max_messages: hub.config.catch_up_messages.max(1),
                                max_bytes: hub.config.catch_up_bytes,
                            },
                        )
                    });
                    let result = match std::future::Future::poll(read.as_mut(), cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => r,
                    };
                    *slot = None;
                    if let Err(e) = self.apply_read(result) {
                        self.mode = Mode::Done(e);
                    }
                }
                Mode::Live => {
                    let mut q = lock(&self.queue.state);
                    if q.cut_off {
                        drop(q);
                        self.mode = Mode::Done(RecvError::SlowSubscriber);
                        continue;
                    }
                    if q.lagged {
                        q.lagged = false;
                        drop(q);
                        self.mode = Mode::CatchUp(None);
                        continue;
                    }
                    let Some(p) = q.items.pop_front() else {
                        if q.ended {
                            drop(q);
                            self.mode = Mode::Done(RecvError::Closed);
                            continue;
                        }
                        q.waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    };
                    q.bytes -= p.data.len();
                    drop(q);
                    if p.cursor.epoch == self.cursor.epoch {
                        if p.cursor.seq <= self.cursor.seq {
                            continue; // already delivered from history
                        }
                        if p.cursor.seq == self.cursor.seq.next() {
                            self.cursor = p.cursor;
                            return Poll::Ready(Ok(Item::Message {
                                cursor: p.cursor,
                                data: p.data,
                            }));
                        }
                    }
                    // A hole or another epoch: history says what happened in between.
                    self.mode = Mode::CatchUp(None);
                }
            }
        }
    }

    /// Turns one history read into items; stays in catch-up until the head is reached.
    fn apply_read(&mut self, result: Result<HistoryRead, BackendError>) -> Result<(), RecvError> {
        match result.map_err(RecvError::Backend)? {
            HistoryRead::AtHead => self.mode = Mode::Live,
            HistoryRead::Messages(messages) => {
                if messages.is_empty() {
                    self.mode = Mode::Live;
                }
                for m in messages {
                    if m.cursor.epoch != self.cursor.epoch || m.cursor.seq != self.cursor.seq.next()
                    {
                        return Err(RecvError::Inconsistent {
                            cursor: self.cursor,
                        });
                    }
                    self.cursor = m.cursor;
                    self.ready.push_back(Item::Message {
                        cursor: m.cursor,
                        data: m.data,
                    });
                }
            }
            HistoryRead::Gap {
                missed_from,
                missed_to,
                resume,
            } => {
                if resume.epoch != self.cursor.epoch || resume.seq <= self.cursor.seq {
                    return Err(RecvError::Inconsistent {
                        cursor: self.cursor,
                    });
                }
                self.cursor = resume;
                self.ready.push_back(Item::Gap {
                    missed_from,
                    missed_to,
                    resume,
                });
            }
            HistoryRead::Reset { previous, resume } => {
                if resume.epoch == self.cursor.epoch {
                    return Err(RecvError::Inconsistent {
                        cursor: self.cursor,
                    });
                }
                self.cursor = resume;
                self.ready.push_back(Item::Reset { previous, resume });
            }
            HistoryRead::Ahead { .. } => {
                return Err(RecvError::Inconsistent {
                    cursor: self.cursor,
                })
            }
        }
        Ok(())
    }
}

impl Stream for Subscription {
    type Item = Result<Item, RecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.poll_recv(cx) {
            Poll::Ready(Err(e)) => {
                this.ended = true;
                Poll::Ready(Some(Err(e)))
            }
            other => other.map(Some),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unregister(&self.fanout, self.queue.id);
    }
}

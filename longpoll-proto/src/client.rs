//! [`Client`]: the client-side poll loop for one channel.
//!
//! It keeps the cursor, asks for the next poll as soon as a response arrives, de-duplicates
//! by sequence number (delivery is at-least-once), reports gaps and resets, and backs off
//! with jitter after errors. Time and randomness are injected.
//!
//! States: `Ready` (a poll should be sent: [`Client::poll_request`]) → `InFlight` (waiting
//! for [`Client::handle_response`] or [`Client::handle_error`]) → `Ready` after a response,
//! `Backoff { until }` after an error or a rejection, `Ready` again at `until`
//! ([`Client::handle_timeout`]).
//!
//! Invariant: the application sees every message after its starting cursor exactly once and
//! in order, or a [`ClientEvent::Gap`] / [`ClientEvent::Reset`] that covers exactly what is
//! missing. A batch that skips sequence numbers the server did not report as a gap is
//! reported as a gap too: never silent loss.

use alloc::collections::VecDeque;
use core::time::Duration;

use crate::config::ClientConfig;
use crate::cursor::{Cursor, Epoch, Seq};
use crate::response::{Message, Outcome, RejectReason};
use crate::rng::Rng;
use crate::time::Instant;

/// What the client should send next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextPoll {
    /// The cursor to send (`None`: from now on).
    pub cursor: Option<Cursor>,
    /// The hold time to ask for.
    pub timeout: Option<Duration>,
}

/// What the application learns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A new message (never a duplicate).
    Message {
        /// The epoch it belongs to.
        epoch: Epoch,
        /// The message.
        message: Message,
    },
    /// Messages `from..=to` of `epoch` are lost to this client.
    Gap {
        /// Epoch.
        epoch: Epoch,
        /// First missed seq.
        from: Seq,
        /// Last missed seq.
        to: Seq,
    },
    /// The channel's history was lost (server restart or reset): everything of `previous`
    /// after the client's cursor is gone. Delivery continues in `epoch` from seq 1.
    Reset {
        /// The epoch the client was in.
        previous: Epoch,
        /// The new epoch.
        epoch: Epoch,
    },
    /// The server refused the poll; the client backs off and retries.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
    /// A request failed; the next poll is sent at `at`.
    Backoff {
        /// When the next poll goes out.
        at: Instant,
        /// Consecutive failures so far.
        failures: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ready,
    InFlight,
    Backoff { until: Instant },
}

/// The poll loop for one channel.
#[derive(Debug)]
pub struct Client<R> {
    config: ClientConfig,
    rng: R,
    cursor: Option<Cursor>,
    state: State,
    failures: u32,
    events: VecDeque<ClientEvent>,
}

impl<R: Rng> Client<R> {
    /// A client starting at `cursor` (`None`: only messages published from its first poll
    /// on; `Some(Cursor::start_of(epoch))`: everything still in history).
    pub fn new(config: ClientConfig, rng: R, cursor: Option<Cursor>) -> Self {
        Client {
            config,
            rng,
            cursor,
            state: State::Ready,
            failures: 0,
            events: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// The last message received (what the next poll sends).
    pub fn cursor(&self) -> Option<Cursor> {
        self.cursor
    }

    /// True while a poll is on the wire.
    pub fn is_in_flight(&self) -> bool {
        self.state == State::InFlight
    }

    // ---- inputs ----

    /// The response to the poll in flight (as parsed by
    /// [`http::parse_poll_response`](crate::http::parse_poll_response)). Ignored if no poll
    /// is in flight.
    pub fn handle_response(&mut self, now: Instant, outcome: Outcome) {
        if self.state != State::InFlight {
            return;
        }
        self.state = State::Ready;
        match outcome {
            Outcome::Batch { messages, next } => {
                self.failures = 0;
                self.enter_epoch(next.epoch);
                for message in messages {
                    self.accept(next.epoch, message);
                }
                self.advance_to(next);
            }
            Outcome::Empty { cursor, .. } => {
                self.failures = 0;
                if self.cursor.is_none() {
                    self.cursor = Some(cursor);
                }
            }
            Outcome::Gap {
                missed_from,
                missed_to,
                resume,
            } => {
                self.failures = 0;
                self.enter_epoch(resume.epoch);
                let from = match self.cursor {
                    Some(c) => missed_from.max(c.seq.next()),
                    None => missed_from,
                };
                if from <= missed_to {
                    self.events.push_back(ClientEvent::Gap {
                        epoch: resume.epoch,
                        from,
                        to: missed_to,
                    });
                }
                match self.cursor {
                    Some(c) if c.epoch == resume.epoch && c.seq >= resume.seq => {}
                    _ => self.cursor = Some(resume),
                }
            }
            Outcome::Reset { previous, resume } => {
                self.failures = 0;
                self.events.push_back(ClientEvent::Reset {
                    previous,
                    epoch: resume.epoch,
                });
                self.cursor = Some(resume);
            }
            Outcome::Rejected { reason } => {
                self.events.push_back(ClientEvent::Rejected { reason });
                self.back_off(now);
            }
        }
    }

    /// The poll in flight failed (network error, unexpected status, timeout of the
    /// request itself): back off with jitter, then poll again with the same cursor.
    pub fn handle_error(&mut self, now: Instant) {
        if self.state == State::InFlight {
            self.back_off(now);
        }
    }

    /// Time passed: a finished backoff makes the next poll ready.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Backoff { until } = self.state {
            if now >= until {
                self.state = State::Ready;
            }
        }
    }

    // ---- outputs ----

    /// The poll to send now, if one is due; the client is then in flight until
    /// `handle_response` or `handle_error`.
    pub fn poll_request(&mut self, now: Instant) -> Option<NextPoll> {
        self.handle_timeout(now);
        if self.state != State::Ready {
            return None;
        }
        self.state = State::InFlight;
        Some(NextPoll {
            cursor: self.cursor,
            timeout: self.config.hold,
        })
    }

    /// When to call [`Client::handle_timeout`] (end of backoff).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Backoff { until } => Some(until),
            _ => None,
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    // ---- internals ----

    /// A response from another epoch than the cursor's without a reset: report one.
    fn enter_epoch(&mut self, epoch: Epoch) {
        if let Some(c) = self.cursor {
            if c.epoch != epoch {
                self.events.push_back(ClientEvent::Reset {
                    previous: c.epoch,
                    epoch,
                });
                self.cursor = Some(Cursor::start_of(epoch));
            }
        }
    }

    fn accept(&mut self, epoch: Epoch, message: Message) {
        if let Some(c) = self.cursor {
            if message.seq <= c.seq {
                return; // duplicate (at-least-once delivery)
            }
            if message.seq > c.seq.next() {
                self.events.push_back(ClientEvent::Gap {
                    epoch,
                    from: c.seq.next(),
                    to: Seq(message.seq.0 - 1),
                });
            }
        }
        self.cursor = Some(Cursor {
            epoch,
            seq: message.seq,
        });
        self.events
            .push_back(ClientEvent::Message { epoch, message });
    }

    /// Moves the cursor to a batch's `next`; a jump past messages never delivered is
    /// reported as a gap.
    fn advance_to(&mut self, next: Cursor) {
        match self.cursor {
            Some(c) if c.epoch == next.epoch && c.seq >= next.seq => {}
            Some(c) if c.epoch == next.epoch => {
                self.events.push_back(ClientEvent::Gap {
                    epoch: next.epoch,
                    from: c.seq.next(),
                    to: next.seq,
                });
                self.cursor = Some(next);
            }
            _ => self.cursor = Some(next),
        }
    }

    fn back_off(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let shift = (self.failures - 1).min(20);
        let base = self
            .config
            .backoff_initial
            .saturating_mul(1 << shift)
            .min(self.config.backoff_max);
        let wait = if self.config.jitter {
            let half = base / 2;
            let span = u64::try_from((base - half).as_micros()).unwrap_or(u64::MAX);
            half + Duration::from_micros(self.rng.next_u64() % span.saturating_add(1))
        } else {
            base
        };
        let at = now + wait;
        self.state = State::Backoff { until: at };
        self.events.push_back(ClientEvent::Backoff {
            at,
            failures: self.failures,
        });
    }
}

//! [`Client`]: the client-side poll loop for one channel; [`MultiClient`]: the same for
//! several channels polled in one request.
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
use alloc::vec::Vec;
use core::time::Duration;

use crate::backoff::Backoff;
use crate::config::ClientConfig;
use crate::cursor::{Cursor, Epoch, Seq};
use crate::hub::Subscription;
use crate::id::ChannelName;
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
    /// A poll is due (since `since`).
    Ready {
        since: Instant,
    },
    InFlight,
    Backoff {
        until: Instant,
    },
}

/// One channel's cursor and the rules that move it: de-duplication, gap and reset
/// reporting. Shared by [`Client`] and [`MultiClient`].
#[derive(Clone, Copy, Debug)]
struct Tracker {
    cursor: Option<Cursor>,
}

impl Tracker {
    /// Applies a per-channel answer, queueing what the application must learn. A
    /// rejection is returned for the caller to back off.
    fn apply(
        &mut self,
        outcome: Outcome,
        mut emit: impl FnMut(ClientEvent),
    ) -> Result<(), RejectReason> {
        match outcome {
            Outcome::Batch { messages, next } => {
                self.enter_epoch(next.epoch, &mut emit);
                for message in messages {
                    self.accept(next.epoch, message, &mut emit);
                }
                self.advance_to(next, &mut emit);
            }
            Outcome::Empty { cursor, .. } => {
                if self.cursor.is_none() {
                    self.cursor = Some(cursor);
                }
            }
            Outcome::Gap {
                missed_from,
                missed_to,
                resume,
            } => {
                self.enter_epoch(resume.epoch, &mut emit);
                let from = match self.cursor {
                    Some(c) => missed_from.max(c.seq.next()),
                    None => missed_from,
                };
                if from <= missed_to {
                    emit(ClientEvent::Gap {
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
                emit(ClientEvent::Reset {
                    previous,
                    epoch: resume.epoch,
                });
                self.cursor = Some(resume);
            }
            Outcome::Rejected { reason } => return Err(reason),
            // Not a per-channel answer: the caller handles these.
            Outcome::Multi { .. } | Outcome::MultiEmpty { .. } => {}
        }
        Ok(())
    }

    /// A response from another epoch than the cursor's without a reset: report one.
    fn enter_epoch(&mut self, epoch: Epoch, emit: &mut impl FnMut(ClientEvent)) {
        if let Some(c) = self.cursor {
            if c.epoch != epoch {
                emit(ClientEvent::Reset {
                    previous: c.epoch,
                    epoch,
                });
                self.cursor = Some(Cursor::start_of(epoch));
            }
        }
    }

    fn accept(&mut self, epoch: Epoch, message: Message, emit: &mut impl FnMut(ClientEvent)) {
        if let Some(c) = self.cursor {
            if message.seq <= c.seq {
                return; // duplicate (at-least-once delivery)
            }
            if message.seq > c.seq.next() {
                emit(ClientEvent::Gap {
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
        emit(ClientEvent::Message { epoch, message });
    }

    /// Moves the cursor to a batch's `next`; a jump past messages never delivered is
    /// reported as a gap.
    fn advance_to(&mut self, next: Cursor, emit: &mut impl FnMut(ClientEvent)) {
        match self.cursor {
            Some(c) if c.epoch == next.epoch && c.seq >= next.seq => {}
            Some(c) if c.epoch == next.epoch => {
                emit(ClientEvent::Gap {
                    epoch: next.epoch,
                    from: c.seq.next(),
                    to: next.seq,
                });
                self.cursor = Some(next);
            }
            _ => self.cursor = Some(next),
        }
    }
}

/// Request state and backoff with jitter, shared by [`Client`] and [`MultiClient`].
#[derive(Debug)]
struct Pacer<R> {
    config: ClientConfig,
    rng: R,
    state: State,
    backoff: Backoff,
}

impl<R: Rng> Pacer<R> {
    fn new(now: Instant, config: ClientConfig, rng: R) -> Self {
        Pacer {
            config,
            rng,
            state: State::Ready { since: now },
            backoff: Backoff::new(&config),
        }
    }

    /// A response arrived: true if one was expected.
    fn answered(&mut self, now: Instant) -> bool {
        if self.state != State::InFlight {
            return false;
        }
        self.state = State::Ready { since: now };
        true
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let State::Backoff { until } = self.state {
            if now >= until {
                self.state = State::Ready { since: until };
            }
        }
    }

    fn start(&mut self, now: Instant) -> bool {
        self.handle_timeout(now);
        if !matches!(self.state, State::Ready { .. }) {
            return false;
        }
        self.state = State::InFlight;
        true
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Ready { since } => Some(since),
            State::Backoff { until } => Some(until),
            State::InFlight => None,
        }
    }

    /// Backs off (see [`Backoff`]) and returns the event to report.
    fn back_off(&mut self, now: Instant) -> ClientEvent {
        let at = self.backoff.handle_failure(now, &mut self.rng);
        self.state = State::Backoff { until: at };
        ClientEvent::Backoff {
            at,
            failures: self.backoff.failures(),
        }
    }
}

/// The poll loop for one channel.
#[derive(Debug)]
pub struct Client<R> {
    pacer: Pacer<R>,
    tracker: Tracker,
    events: VecDeque<ClientEvent>,
}

impl<R: Rng> Client<R> {
    /// A client created at `now`, starting at `cursor` (`None`: only messages published
    /// from its first poll on; `Some(Cursor::start_of(epoch))`: everything still in history).
    /// Its first poll is due at once.
    pub fn new(now: Instant, config: ClientConfig, rng: R, cursor: Option<Cursor>) -> Self {
        Client {
            pacer: Pacer::new(now, config, rng),
            tracker: Tracker { cursor },
            events: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// The last message received (what the next poll sends).
    pub fn cursor(&self) -> Option<Cursor> {
        self.tracker.cursor
    }

    /// True while a poll is on the wire.
    pub fn is_in_flight(&self) -> bool {
        self.pacer.state == State::InFlight
    }

    // ---- inputs ----

    /// The response to the poll in flight (as parsed by
    /// [`http::parse_poll_response`](crate::http::parse_poll_response)). Ignored if no poll
    /// is in flight.
    pub fn handle_response(&mut self, now: Instant, outcome: Outcome) {
        if !self.pacer.answered(now) {
            return;
        }
        if matches!(outcome, Outcome::Multi { .. } | Outcome::MultiEmpty { .. }) {
            // A multi-channel answer to a single-channel poll: a broken server.
            let event = self.pacer.back_off(now);
            self.events.push_back(event);
            return;
        }
        let events = &mut self.events;
        match self.tracker.apply(outcome, |e| events.push_back(e)) {
            Ok(()) => self.pacer.backoff.handle_success(),
            Err(reason) => {
                self.events.push_back(ClientEvent::Rejected { reason });
                let event = self.pacer.back_off(now);
                self.events.push_back(event);
            }
        }
    }

    /// The poll in flight failed (network error, unexpected status, timeout of the
    /// request itself): back off with jitter, then poll again with the same cursor.
    pub fn handle_error(&mut self, now: Instant) {
        if self.pacer.state == State::InFlight {
            let event = self.pacer.back_off(now);
            self.events.push_back(event);
        }
    }

    /// Time passed: a finished backoff makes the next poll ready.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pacer.handle_timeout(now);
    }

    // ---- outputs ----

    /// The poll to send now, if one is due; the client is then in flight until
    /// `handle_response` or `handle_error`.
    pub fn poll_request(&mut self, now: Instant) -> Option<NextPoll> {
        if !self.pacer.start(now) {
            return None;
        }
        Some(NextPoll {
            cursor: self.tracker.cursor,
            timeout: self.pacer.config.hold,
        })
    }

    /// When the client next needs the driver: the instant a poll became due (already past:
    /// call [`poll_request`](Self::poll_request)), or the end of a backoff (call
    /// [`handle_timeout`](Self::handle_timeout)); `None` while a poll is in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pacer.poll_timeout()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }
}

/// What a [`MultiClient`] should send next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextMultiPoll {
    /// Every channel with its cursor.
    pub subscriptions: Vec<Subscription>,
    /// The hold time to ask for.
    pub timeout: Option<Duration>,
}

/// The poll loop for several channels polled in one request
/// ([`Hub::handle_multi_poll`](crate::Hub::handle_multi_poll)). Per channel it keeps the
/// same guarantees as [`Client`]; events are tagged with their channel.
#[derive(Debug)]
pub struct MultiClient<R> {
    pacer: Pacer<R>,
    channels: Vec<(ChannelName, Tracker)>,
    events: VecDeque<(ChannelName, ClientEvent)>,
}

impl<R: Rng> MultiClient<R> {
    /// A client created at `now` for `subscriptions` (each with its starting cursor; a name
    /// given twice counts once). Its first poll is due at once.
    pub fn new(
        now: Instant,
        config: ClientConfig,
        rng: R,
        subscriptions: Vec<Subscription>,
    ) -> Self {
        let mut channels: Vec<(ChannelName, Tracker)> = Vec::new();
        for s in subscriptions {
            if !channels.iter().any(|(n, _)| *n == s.channel) {
                channels.push((s.channel, Tracker { cursor: s.cursor }));
            }
        }
        MultiClient {
            pacer: Pacer::new(now, config, rng),
            channels,
            events: VecDeque::new(),
        }
    }

    /// The cursor of `channel`, if the client follows it and has one.
    pub fn cursor(&self, channel: &ChannelName) -> Option<Cursor> {
        self.channels
            .iter()
            .find(|(n, _)| n == channel)
            .and_then(|(_, t)| t.cursor)
    }

    /// True while a poll is on the wire.
    pub fn is_in_flight(&self) -> bool {
        self.pacer.state == State::InFlight
    }

    /// The response to the poll in flight (as parsed by
    /// [`http::parse_multi_poll_response`](crate::http::parse_multi_poll_response)).
    pub fn handle_response(&mut self, now: Instant, outcome: Outcome) {
        if !self.pacer.answered(now) {
            return;
        }
        match outcome {
            Outcome::Multi { answers } => {
                let mut rejected = false;
                for answer in answers {
                    let Some((name, tracker)) =
                        self.channels.iter_mut().find(|(n, _)| *n == answer.channel)
                    else {
                        continue; // a channel we do not follow
                    };
                    let events = &mut self.events;
                    if let Err(reason) =
                        tracker.apply(answer.outcome, |e| events.push_back((name.clone(), e)))
                    {
                        events.push_back((name.clone(), ClientEvent::Rejected { reason }));
                        rejected = true;
                    }
                }
                if rejected {
                    self.back_off(now);
                } else {
                    self.pacer.backoff.handle_success();
                }
            }
            Outcome::MultiEmpty { .. } => self.pacer.backoff.handle_success(),
            Outcome::Rejected { reason } => {
                for (name, _) in &self.channels {
                    self.events
                        .push_back((name.clone(), ClientEvent::Rejected { reason }));
                }
                self.back_off(now);
            }
            // A single-channel answer to a multi-channel poll: a broken server.
            _ => self.back_off(now),
        }
    }

    /// The poll in flight failed: back off with jitter, then poll again.
    pub fn handle_error(&mut self, now: Instant) {
        if self.pacer.state == State::InFlight {
            self.back_off(now);
        }
    }

    /// Time passed: a finished backoff makes the next poll ready.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pacer.handle_timeout(now);
    }

    /// The poll to send now, if one is due.
    pub fn poll_request(&mut self, now: Instant) -> Option<NextMultiPoll> {
        if !self.pacer.start(now) {
            return None;
        }
        Some(NextMultiPoll {
            subscriptions: self
                .channels
                .iter()
                .map(|(n, t)| Subscription {
                    channel: n.clone(),
                    cursor: t.cursor,
                })
                .collect(),
            timeout: self.pacer.config.hold,
        })
    }

    /// When the client next needs the driver, as [`Client::poll_timeout`] says.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pacer.poll_timeout()
    }

    /// The next event for the application, with its channel. A backoff is reported once,
    /// tagged with the first channel.
    pub fn poll_event(&mut self) -> Option<(ChannelName, ClientEvent)> {
        self.events.pop_front()
    }

    fn back_off(&mut self, now: Instant) {
        let event = self.pacer.back_off(now);
        if let Some((name, _)) = self.channels.first() {
            self.events.push_back((name.clone(), event));
        }
    }
}

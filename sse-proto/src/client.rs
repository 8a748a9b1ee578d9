//! The EventSource client machine: connection lifecycle, response validation, reconnection
//! with the server's `retry`, backoff with jitter, idle timeout.
//!
//! It never opens a connection itself: it tells the driver when to
//! ([`ClientEvent::Connect`]), which header fields to send ([`Client::request_headers`]), and
//! the driver reports what happened through the `handle_*` methods. State changes go through
//! [`crate::state`] only. Invariants: at most one connection at a time; every wait is visible
//! through [`Client::poll_timeout`]; the event queue only grows by what the driver fed.

use alloc::collections::VecDeque;
use alloc::string::String;
use core::time::Duration;

use crate::config::ClientConfig;
use crate::error::{ParseError, ResponseError, UsageError};
use crate::input::Input;
use crate::parser::{Item, MessageEvent, Parser};
use crate::rng::{below_or_equal, Rng};
use crate::state::{ConnState, ReadyState, Transition};
use crate::time::Instant;

/// Why the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The driver reported a network error (or the stream ended before a response head).
    NetworkError,
    /// The server ended the stream cleanly.
    EndOfStream,
    /// No byte arrived for [`ClientConfig::idle_timeout`].
    IdleTimeout,
    /// The response had this 5xx status and [`ClientConfig::retry_server_errors`] is on.
    ServerError {
        /// The status code.
        status: u16,
    },
}

/// An output of the [`Client`], in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Open a new request now, with the fields of [`Client::request_headers`].
    Connect,
    /// The response was a redirect: follow it (same request fields, new URL) and report the
    /// next response head as usual.
    Redirect {
        /// The `Location` field value, as received (resolve it against the request URL).
        location: String,
    },
    /// The response was accepted: `readyState` is now OPEN (the browser's `open` event).
    Open,
    /// An event was dispatched (the browser's `message` / named event).
    Message(MessageEvent),
    /// The stream exceeded a parser limit. The parser skipped the offending line or event and
    /// goes on; the driver may instead drop the connection
    /// ([`Client::handle_network_error`]) or [`Client::close`].
    ParseError(ParseError),
    /// The machine gave up on the current connection (idle timeout): drop it now, without
    /// reporting anything back. A [`ClientEvent::Reconnecting`] follows.
    Disconnect,
    /// The connection is gone; a new one starts at `at` (the browser's `error` event while
    /// CONNECTING).
    Reconnecting {
        /// When [`ClientEvent::Connect`] will come (through `handle_timeout`).
        at: Instant,
        /// Why the connection ended.
        reason: DisconnectReason,
    },
    /// The response head failed the EventSource for good (the browser's `error` event with
    /// `readyState` CLOSED).
    Failed(ResponseError),
    /// The stream ended cleanly and [`ClientConfig::reconnect_after_end`] is off: CLOSED.
    Ended,
}

/// The EventSource client machine.
///
/// Methods, as in every machine of this workspace:
/// - getters: [`ready_state`](Self::ready_state), [`last_event_id`](Self::last_event_id),
///   [`reconnection_time`](Self::reconnection_time), [`request_headers`](Self::request_headers);
/// - inputs: [`handle_response_head`](Self::handle_response_head),
///   [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_network_error`](Self::handle_network_error),
///   [`handle_timeout`](Self::handle_timeout);
/// - local action: [`close`](Self::close);
/// - outputs: [`poll_timeout`](Self::poll_timeout), [`poll_event`](Self::poll_event).
///
/// After any input, drain [`poll_event`](Self::poll_event) until `None` and re-read
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct Client<R: Rng> {
    config: ClientConfig,
    state: ConnState,
    parser: Parser,
    /// The reconnection time (initially from config, then from `retry:`).
    reconnection_time: Duration,
    /// Consecutive connections that ended before [`ClientConfig::healthy_period`].
    failures: u32,
    /// Last time a connection was started or sent anything (for the idle timeout).
    last_activity: Instant,
    rng: R,
    events: VecDeque<ClientEvent>,
}

impl<R: Rng> Client<R> {
    /// A client that starts connecting at once: the first [`poll_event`](Self::poll_event) is
    /// [`ClientEvent::Connect`].
    pub fn new(now: Instant, config: ClientConfig, rng: R) -> Self {
        let mut events = VecDeque::new();
        events.push_back(ClientEvent::Connect);
        Client {
            parser: Parser::with_config(config.parser),
            reconnection_time: config.initial_reconnection_time,
            config,
            state: ConnState::Requesting { redirects: 0 },
            failures: 0,
            last_activity: now,
            rng,
            events,
        }
    }

    /// Like [`new`](Self::new), resuming after `last_event_id` (sent as `Last-Event-ID`).
    pub fn with_last_event_id(
        now: Instant,
        config: ClientConfig,
        rng: R,
        last_event_id: &str,
    ) -> Self {
        let mut client = Self::new(now, config, rng);
        client.parser.set_last_event_id(last_event_id);
        client
    }

    // ---- getters ----

    /// The `readyState`.
    pub fn ready_state(&self) -> ReadyState {
        self.state.ready_state()
    }

    /// The last event ID string, sent as `Last-Event-ID` on reconnection.
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// The current reconnection time (before clamping and backoff).
    pub fn reconnection_time(&self) -> Duration {
        self.reconnection_time
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Header fields for the request: `Accept: text/event-stream`, `Cache-Control: no-store`,
    /// and `Last-Event-ID` when the last event ID is not empty.
    pub fn request_headers(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let id = self.last_event_id();
        [
            Some(("Accept", "text/event-stream")),
            Some(("Cache-Control", "no-store")),
            (!id.is_empty()).then_some(("Last-Event-ID", id)),
        ]
        .into_iter()
        .flatten()
    }

    // ---- inputs ----

    /// The response head of the request in flight arrived.
    ///
    /// 200 with a content type whose essence is `text/event-stream` opens the stream; a
    /// redirect (301, 302, 303, 307, 308) with a `Location` is reported for the driver to
    /// follow; a 5xx with [`ClientConfig::retry_server_errors`] reconnects like a network
    /// error ([`DisconnectReason::ServerError`], with backoff); anything else (204
    /// included) fails the EventSource for good.
    pub fn handle_response_head(
        &mut self,
        now: Instant,
        status: u16,
        content_type: Option<&str>,
        location: Option<&str>,
    ) -> Result<(), UsageError> {
        let ConnState::Requesting { redirects } = self.state else {
            return Err(UsageError::NoRequestInFlight);
        };
        self.last_activity = now;
        match status {
            301 | 302 | 303 | 307 | 308 => match location {
                None => self.fail(ResponseError::RedirectWithoutLocation),
                Some(_) if redirects >= self.config.max_redirects => {
                    self.fail(ResponseError::TooManyRedirects {
                        limit: self.config.max_redirects,
                    })
                }
                Some(location) => {
                    self.transition(Transition::Redirect);
                    self.events.push_back(ClientEvent::Redirect {
                        location: String::from(location),
                    });
                }
            },
            200 if content_type.is_some_and(is_event_stream) => {
                self.transition(Transition::ResponseOk { now });
                self.events.push_back(ClientEvent::Open);
            }
            200 => self.fail(ResponseError::ContentType),
            500..=599 if self.config.retry_server_errors => {
                self.connection_lost(now, DisconnectReason::ServerError { status })
            }
            other => self.fail(ResponseError::Status(other)),
        }
        Ok(())
    }

    /// Body bytes of the open stream arrived (any chunking; borrowed or shared, see
    /// [`Input`]).
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        bytes: impl Into<Input<'a>>,
    ) -> Result<(), UsageError> {
        if !matches!(self.state, ConnState::Open { .. }) {
            return Err(UsageError::NotOpen);
        }
        self.last_activity = now;
        let mut bytes = bytes.into();
        while !bytes.is_empty() {
            match self.parser.next_item(&mut bytes) {
                Ok(Some(Item::Event(event))) => self.events.push_back(ClientEvent::Message(event)),
                Ok(Some(Item::Retry(millis))) => {
                    self.reconnection_time = Duration::from_millis(millis);
                }
                Ok(None) => {}
                Err(e) => self.events.push_back(ClientEvent::ParseError(e)),
            }
        }
        Ok(())
    }

    /// The server ended the stream cleanly: reconnect after the reconnection time, or, with
    /// [`ClientConfig::reconnect_after_end`] off, close. Before a response head this counts
    /// as a network error. A harmless no-op when no connection exists.
    pub fn handle_eof(&mut self, now: Instant) {
        match self.state {
            ConnState::Open { .. } if !self.config.reconnect_after_end => {
                self.parser.handle_eof();
                self.transition(Transition::Finished);
                self.events.push_back(ClientEvent::Ended);
            }
            ConnState::Open { .. } => self.connection_lost(now, DisconnectReason::EndOfStream),
            ConnState::Requesting { .. } => {
                self.connection_lost(now, DisconnectReason::NetworkError)
            }
            _ => {}
        }
    }

    /// The connection failed (could not connect, reset, TLS error...): reconnect after the
    /// reconnection time, with backoff on repeated failures. A harmless no-op when no
    /// connection exists.
    pub fn handle_network_error(&mut self, now: Instant) {
        if self.state.is_connected() {
            self.connection_lost(now, DisconnectReason::NetworkError);
        }
    }

    /// Time passed. Calling it early is a harmless no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            ConnState::Waiting { until } if now >= until => {
                self.transition(Transition::Connect);
                self.last_activity = now;
                self.events.push_back(ClientEvent::Connect);
            }
            state if state.is_connected() => {
                if let Some(idle) = self.config.idle_timeout {
                    if now >= self.last_activity + idle {
                        self.events.push_back(ClientEvent::Disconnect);
                        self.connection_lost(now, DisconnectReason::IdleTimeout);
                    }
                }
            }
            _ => {}
        }
    }

    // ---- local actions ----

    /// Closes the client for good at `now` (`EventSource.close()`); the driver drops its
    /// connection. Queued events stay pollable.
    pub fn close(&mut self, now: Instant) {
        self.last_activity = now;
        self.transition(Transition::Close);
        self.parser.handle_eof();
    }

    // ---- outputs ----

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ConnState::Waiting { until } => Some(until),
            state if state.is_connected() => self
                .config
                .idle_timeout
                .map(|idle| self.last_activity + idle),
            _ => None,
        }
    }

    /// The next output, in order.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    // ---- internals ----

    fn transition(&mut self, t: Transition) {
        if let Some(next) = self.state.next(t) {
            self.state = next;
        }
    }

    fn fail(&mut self, error: ResponseError) {
        self.transition(Transition::Fail);
        self.events.push_back(ClientEvent::Failed(error));
    }

    fn connection_lost(&mut self, now: Instant, reason: DisconnectReason) {
        self.parser.handle_eof();
        let healthy = matches!(self.state, ConnState::Open { since }
            if now.saturating_duration_since(since) >= self.config.healthy_period);
        self.failures = if healthy {
            0
        } else {
            self.failures.saturating_add(1)
        };
        let at = now + self.reconnect_delay();
        self.transition(Transition::ConnectionLost { reconnect_at: at });
        self.events
            .push_back(ClientEvent::Reconnecting { at, reason });
    }

    /// The reconnection time clamped to the configured floor and ceiling; from the second
    /// consecutive failure on, doubled per failure up to `max_backoff`, plus random jitter.
    fn reconnect_delay(&mut self) -> Duration {
        let c = &self.config;
        let base = self
            .reconnection_time
            .max(c.min_reconnection_time)
            .min(c.max_reconnection_time.max(c.min_reconnection_time));
        if self.failures <= 1 {
            return base;
        }
        let doublings = (self.failures - 1).min(32);
        let backoff = base
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(Duration::MAX)
            .min(c.max_backoff.max(base));
        let max_jitter = backoff
            .as_millis()
            .saturating_mul(u128::from(c.jitter_percent))
            / 100;
        let max_jitter = u64::try_from(max_jitter).unwrap_or(u64::MAX);
        let jitter = below_or_equal(&mut self.rng, max_jitter);
        backoff.saturating_add(Duration::from_millis(jitter))
    }
}

/// Whether a `Content-Type` value's MIME type essence is `text/event-stream` (parameters such
/// as `charset=utf-8` are allowed; case-insensitive; HTTP whitespace trimmed).
pub fn is_event_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("");
    essence
        .trim_matches([' ', '\t', '\r', '\n'])
        .eq_ignore_ascii_case("text/event-stream")
}

//! Every transition of the connection's lifecycle, in one place.
//!
//! ```text
//!              local close()                     peer's Close
//!   Open ─────────────────────────▶ CloseSent ───────────────────┐
//!    │ peer's Close (echo queued)        │ timeout / EOF          │
//!    │                                   ▼                        ▼
//!    ├──── server ───────────────▶ Finished ◀── EOF / timeout ── AwaitingEof (client only)
//!    ├──── client ──────────────────────────────────────────────▲
//!    │ protocol error (Close queued), EOF, keepalive timeout
//!    └──────────────────────────▶ Finished
//! ```
//!
//! A server closes the transport as soon as both Close frames are exchanged; a client waits
//! for the server to do so (RFC 6455 section 7.1.1), up to `close_timeout`. `Closed` is the last
//! event, queued when the connection becomes `Finished`.

use crate::close::{CloseCode, CloseFrame};
use crate::connection::{Connection, Queued};
use crate::error::ProtocolError;
use crate::message::{Closed, Event};
use crate::time::Instant;
use crate::Role;
use alloc::string::String;

/// Where the connection is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Data flows both ways.
    Open,
    /// We sent a Close and wait for the peer's until `deadline`.
    CloseSent {
        /// Give up waiting at this instant.
        deadline: Instant,
    },
    /// Both Close frames were exchanged; this client waits for the server to close the
    /// transport until `deadline`.
    AwaitingEof {
        /// Close the transport ourselves at this instant.
        deadline: Instant,
        /// The close as the peer reported it.
        closed: Closed,
    },
    /// Over: the driver flushes `poll_transmit` and closes the transport.
    Finished,
}

impl Phase {
    /// Whether received bytes are still processed.
    pub(crate) fn reads(&self) -> bool {
        matches!(self, Phase::Open | Phase::CloseSent { .. })
    }

    /// Whether data and pings may still be sent.
    pub(crate) fn can_send(&self) -> bool {
        matches!(self, Phase::Open)
    }
}

impl Connection {
    /// The application called `close()` (its Close frame is already queued).
    pub(crate) fn on_local_close(&mut self, now: Instant) {
        if self.phase == Phase::Open {
            self.phase = Phase::CloseSent {
                deadline: now.saturating_add(self.config.close_timeout),
            };
        }
    }

    /// A valid Close frame arrived (applied when the events before it were taken).
    pub(crate) fn on_peer_close(&mut self, frame: Option<CloseFrame>) {
        let closed = Closed {
            code: frame.as_ref().map_or(CloseCode::NO_STATUS, |f| f.code),
            reason: frame
                .as_ref()
                .map_or_else(String::new, |f| f.reason.clone()),
            clean: true,
        };
        let echo = matches!(self.phase, Phase::Open);
        if echo {
            // Echo the status code (an empty Close is answered with an empty one).
            self.write_close(frame.as_ref().map(|f| f.code), "");
        }
        self.discard_partial_message();
        self.emit(Event::CloseReceived(frame));
        let deadline = match &self.phase {
            Phase::CloseSent { deadline } => *deadline,
            // The echo starts the wait for the transport close from "now"; the last input
            // instant is the best "now" available here.
            _ => self.last_input.saturating_add(self.config.close_timeout),
        };
        match self.role {
            Role::Server => self.finish(closed),
            Role::Client => self.phase = Phase::AwaitingEof { deadline, closed },
        }
    }

    /// The peer broke the protocol: queue our Close with the error's code and stop (applied
    /// when the events before it were taken).
    pub(crate) fn fail(&mut self, error: &ProtocolError) {
        let code = error.close_code();
        if matches!(self.phase, Phase::Open) {
            self.write_close(Some(code), "");
        }
        self.discard_partial_message();
        self.finish(Closed {
            code,
            reason: String::new(),
            clean: false,
        });
    }

    /// Apply, in queue order, the transitions still waiting behind undelivered events (a
    /// peer's Close, a protocol failure): an end of stream or a timer comes after them.
    fn apply_pending_transitions(&mut self) {
        if self.events.iter().all(|q| matches!(q, Queued::Event(_))) {
            return;
        }
        for queued in core::mem::take(&mut self.events) {
            match queued {
                Queued::Event(e) => self.emit(e),
                Queued::PeerClose(frame) => self.on_peer_close(frame),
                Queued::Fail(error) => self.fail(&error),
            }
        }
    }

    /// The transport was closed by the peer (end of stream).
    pub fn handle_eof(&mut self, _now: Instant) {
        self.apply_pending_transitions();
        match core::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::Finished => {}
            Phase::AwaitingEof { closed, .. } => self.finish(closed),
            Phase::Open | Phase::CloseSent { .. } => {
                self.discard_partial_message();
                self.finish(Closed {
                    code: CloseCode::ABNORMAL,
                    reason: String::new(),
                    clean: false,
                });
            }
        }
    }

    /// The next instant at which [`Connection::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.has_pending_work() {
            // Work is waiting (see `has_pending_work`): due at once.
            return Some(self.last_input);
        }
        match &self.phase {
            Phase::Finished => None,
            Phase::CloseSent { deadline } | Phase::AwaitingEof { deadline, .. } => Some(*deadline),
            Phase::Open => self.config.keepalive.map(|k| {
                let ping_at = self
                    .last_input
                    .max(self.last_ping)
                    .saturating_add(k.interval);
                let dead_at = self.last_input.saturating_add(k.timeout);
                ping_at.min(dead_at)
            }),
        }
    }

    /// Timers: the close handshake's deadline and keepalive. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.apply_pending_transitions();
        if self.has_pending_work() {
            // The error, if any, is reported through the queued Close and `Closed` event.
            let _ = self.process(now, &[]);
            return;
        }
        match &self.phase {
            Phase::Finished => {}
            Phase::CloseSent { deadline } => {
                if now >= *deadline {
                    self.discard_partial_message();
                    self.finish(Closed {
                        code: CloseCode::ABNORMAL,
                        reason: String::new(),
                        clean: false,
                    });
                }
            }
            Phase::AwaitingEof { deadline, closed } => {
                if now >= *deadline {
                    let closed = closed.clone();
                    self.finish(closed);
                }
            }
            Phase::Open => {
                let Some(k) = self.config.keepalive else {
                    return;
                };
                if now >= self.last_input.saturating_add(k.timeout) {
                    // Dead peer: no Close (it would not be read), just end.
                    self.discard_partial_message();
                    self.finish(Closed {
                        code: CloseCode::ABNORMAL,
                        reason: String::new(),
                        clean: false,
                    });
                } else if now
                    >= self
                        .last_input
                        .max(self.last_ping)
                        .saturating_add(k.interval)
                {
                    // A failed ping (buffer full) is retried at the next interval.
                    let _ = self.ping(now, b"");
                    self.last_ping = now;
                }
            }
        }
    }

    fn finish(&mut self, closed: Closed) {
        if self.phase == Phase::Finished && self.closed_emitted {
            return;
        }
        self.closed_emitted = true;
        self.phase = Phase::Finished;
        self.emit(Event::Closed(closed));
    }
}

//! The connection's lifecycle: every state it can be in, and every transition, as one pure
//! function ([`next`]) from a state and an input to the next state and what to do.
//!
//! ```text
//!              close()                              peer's Close
//!   Open ─────────────────────────▶ CloseSent ───────────────────┐
//!    │ peer's Close (echo queued)        │ timeout / EOF          │
//!    │                                   ▼                        ▼
//!    ├──── server ───────────────▶ Finished ◀── EOF / timeout ── AwaitingEof (client only)
//!    ├──── client ──────────────────────────────────────────────▲
//!    │ protocol error (Close queued), EOF, keepalive timeout
//!    └──────────────────────────▶ Finished
//! ```
//!
//! Besides the phase, the state holds whether input is still read (a Close or a protocol
//! violation stops it at once, while its transition waits behind the events read before it)
//! and the keepalive clock (last input, last ping). A server closes the transport as soon as
//! both Close frames are exchanged; a client waits for the server to do so (RFC 6455 section
//! 7.1.1), up to `close_timeout`. Entering `Finished` always says how the connection ended
//! (`Actions::closed`), exactly once.

use alloc::string::String;
use core::time::Duration;

use crate::close::{CloseCode, CloseFrame};
use crate::config::Keepalive;
use crate::message::Closed;
use crate::time::Instant;
use crate::Role;

/// Where the connection is.
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

/// The whole lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    /// The phase.
    pub(crate) phase: Phase,
    /// Received bytes are still read: false once a Close or a violation was read.
    pub(crate) input_open: bool,
    /// When bytes last arrived (keepalive, and the client's wait after echoing a Close).
    pub(crate) last_input: Instant,
    /// When we last sent a Ping (keepalive).
    pub(crate) last_ping: Instant,
}

/// What the lifecycle depends on and never changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub(crate) role: Role,
    pub(crate) close_timeout: Duration,
    pub(crate) keepalive: Option<Keepalive>,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// Bytes arrived from the transport. (The connection applies it in place, with
    /// [`State::received`], which is this transition.)
    #[cfg_attr(not(test), allow(dead_code))]
    Received(Instant),
    /// The application started the close handshake (its Close frame is queued).
    LocalClose(Instant),
    /// A Ping was queued (by the application or the keepalive).
    PingSent(Instant),
    /// A valid Close frame was read: nothing more is read. Its effect waits in the event
    /// queue ([`Input::PeerClose`]).
    CloseRead,
    /// The peer broke the protocol: nothing more is read. Its effect waits in the event queue
    /// ([`Input::Fail`]).
    ViolationRead,
    /// The peer's Close takes effect (the events read before it were taken).
    PeerClose(Option<CloseFrame>),
    /// The peer's violation takes effect, closing with this code.
    Fail(CloseCode),
    /// The transport reached end of stream.
    Eof,
    /// Time passed (a timer fired, or the driver calls early: nothing is due then).
    Timeout(Instant),
}

/// What the connection must do after a transition, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Actions {
    /// Queue a Close frame: `Some(None)` an empty one, `Some(Some(code))` with a code.
    pub(crate) send_close: Option<Option<CloseCode>>,
    /// Queue a keepalive Ping.
    pub(crate) send_ping: bool,
    /// Drop the message being received (the connection is ending).
    pub(crate) discard_message: bool,
    /// Emit `Event::CloseReceived` with this frame.
    pub(crate) close_received: Option<Option<CloseFrame>>,
    /// Emit `Event::Closed`: the connection is over (entering `Finished`).
    pub(crate) closed: Option<Closed>,
}

impl State {
    /// A connection opened at `now`.
    pub(crate) fn open(now: Instant) -> State {
        State {
            phase: Phase::Open,
            input_open: true,
            last_input: now,
            last_ping: now,
        }
    }

    /// Whether received bytes are still read.
    pub(crate) fn reads(&self) -> bool {
        self.input_open && matches!(self.phase, Phase::Open | Phase::CloseSent { .. })
    }

    /// Whether data and pings may still be sent.
    pub(crate) fn can_send(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Whether the connection is over.
    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// [`Input::Received`] in place: what [`next`] does with it (only the keepalive clock
    /// moves; no phase changes, no actions), without building a new state. The connection
    /// takes it for every read; `received_in_place_is_next` checks that it agrees with `next`.
    #[inline]
    pub(crate) fn received(&mut self, now: Instant) {
        if self.phase != Phase::Finished {
            self.last_input = self.last_input.max(now);
        }
    }

    /// The next instant at which [`Input::Timeout`] has something to do.
    pub(crate) fn deadline(&self, rules: &Rules) -> Option<Instant> {
        match &self.phase {
            Phase::Finished => None,
            Phase::CloseSent { deadline } | Phase::AwaitingEof { deadline, .. } => Some(*deadline),
            Phase::Open => rules.keepalive.map(|k| {
                let ping_at = self.last_input.max(self.last_ping) + k.interval;
                ping_at.min(self.last_input + k.timeout)
            }),
        }
    }
}

/// How a connection ended without a clean close handshake.
fn abnormal() -> Closed {
    Closed {
        code: CloseCode::ABNORMAL,
        reason: String::new(),
        clean: false,
    }
}

/// The transition function: from `state`, on `input`, the next state and what to do.
pub(crate) fn next(state: &State, input: Input, rules: &Rules) -> (State, Actions) {
    let mut s = state.clone();
    let mut a = Actions::default();
    let finish = |s: &mut State, a: &mut Actions, closed: Closed| {
        s.phase = Phase::Finished;
        s.input_open = false;
        a.closed = Some(closed);
    };
    if s.phase == Phase::Finished {
        return (s, a);
    }
    match input {
        Input::Received(now) => s.received(now),
        Input::LocalClose(now) => {
            if s.phase == Phase::Open {
                s.phase = Phase::CloseSent {
                    deadline: now + rules.close_timeout,
                };
            }
        }
        Input::PingSent(now) => s.last_ping = s.last_ping.max(now),
        Input::CloseRead | Input::ViolationRead => s.input_open = false,
        Input::PeerClose(frame) => {
            let deadline = match &s.phase {
                Phase::Open => {
                    // Echo the status code (an empty Close is answered with an empty one).
                    a.send_close = Some(frame.as_ref().map(|f| f.code));
                    // The echo starts the wait for the transport close from "now"; the last
                    // input instant is the best "now" available here.
                    s.last_input + rules.close_timeout
                }
                Phase::CloseSent { deadline } => *deadline,
                Phase::AwaitingEof { .. } | Phase::Finished => return (s, a),
            };
            s.input_open = false;
            a.discard_message = true;
            let closed = Closed {
                code: frame.as_ref().map_or(CloseCode::NO_STATUS, |f| f.code),
                reason: frame
                    .as_ref()
                    .map_or_else(String::new, |f| f.reason.clone()),
                clean: true,
            };
            a.close_received = Some(frame);
            match rules.role {
                Role::Server => finish(&mut s, &mut a, closed),
                Role::Client => s.phase = Phase::AwaitingEof { deadline, closed },
            }
        }
        Input::Fail(code) => {
            if s.phase == Phase::Open {
                a.send_close = Some(Some(code));
            }
            a.discard_message = true;
            finish(
                &mut s,
                &mut a,
                Closed {
                    code,
                    reason: String::new(),
                    clean: false,
                },
            );
        }
        Input::Eof => match core::mem::replace(&mut s.phase, Phase::Open) {
            Phase::AwaitingEof { closed, .. } => finish(&mut s, &mut a, closed),
            _ => {
                a.discard_message = true;
                finish(&mut s, &mut a, abnormal());
            }
        },
        Input::Timeout(now) => match s.phase.clone() {
            Phase::CloseSent { deadline } if now >= deadline => {
                a.discard_message = true;
                finish(&mut s, &mut a, abnormal());
            }
            Phase::AwaitingEof { deadline, closed } if now >= deadline => {
                finish(&mut s, &mut a, closed);
            }
            Phase::Open => {
                let Some(k) = rules.keepalive else {
                    return (s, a);
                };
                if now >= s.last_input + k.timeout {
                    // Dead peer: no Close (it would not be read), just end.
                    a.discard_message = true;
                    finish(&mut s, &mut a, abnormal());
                } else if now >= s.last_input.max(s.last_ping) + k.interval {
                    // A ping the send buffer refuses is retried at the next interval.
                    a.send_ping = true;
                    s.last_ping = now;
                }
            }
            _ => {}
        },
    }
    (s, a)
}

#[cfg(test)]
mod tests;

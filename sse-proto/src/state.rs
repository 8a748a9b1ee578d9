//! Every state of the EventSource client machine and every legal transition between them,
//! in one place. [`Client`](crate::Client) computes the inputs (times, reasons); only
//! [`ConnState::next`] changes the state.
//!
//! ```text
//!             Connect (new / wait over)
//!   Waiting ------------------------------> Requesting --ResponseOk--> Open
//!     ^                                     |  ^   |                    |
//!     |          ConnectionLost             |  |   | Redirect (loop)    |
//!     +-------------------------------------+  +---+                    |
//!     +-------------------------------------------------------------------+ ConnectionLost
//!   Requesting --Fail--> Closed     Open --Finished--> Closed     any --Close--> Closed
//! ```

use crate::time::Instant;

/// The `readyState` of an EventSource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyState {
    /// A connection is being established, or the client waits to reconnect.
    Connecting,
    /// The response was accepted; events flow.
    Open,
    /// Failed for good or closed; nothing more happens.
    Closed,
}

/// The machine's state, with what each state needs to remember.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// A request is in flight; `redirects` followed so far.
    Requesting { redirects: u8 },
    /// The stream is open since `since`.
    Open { since: Instant },
    /// Waiting until `until` to reconnect.
    Waiting { until: Instant },
    /// Terminal.
    Closed,
}

/// What happened, as far as the state is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Start a request (the wait is over).
    Connect,
    /// A redirect was accepted for following.
    Redirect,
    /// The response head was accepted.
    ResponseOk { now: Instant },
    /// The response head fails the connection for good.
    Fail,
    /// The connection was lost (network error, end of stream, idle timeout): wait.
    ConnectionLost { reconnect_at: Instant },
    /// The stream ended and no reconnection is wanted.
    Finished,
    /// The local user closed the client.
    Close,
}

impl ConnState {
    /// The state after `t`, or `None` if `t` is not legal here (the caller leaves the state
    /// unchanged).
    pub(crate) fn next(self, t: Transition) -> Option<ConnState> {
        use ConnState::*;
        use Transition::*;
        match (self, t) {
            (_, Close) => Some(Closed),
            (Waiting { .. }, Connect) => Some(Requesting { redirects: 0 }),
            (Requesting { redirects }, Redirect) => Some(Requesting {
                redirects: redirects.saturating_add(1),
            }),
            (Requesting { .. }, ResponseOk { now }) => Some(Open { since: now }),
            (Requesting { .. }, Fail) => Some(Closed),
            (Requesting { .. } | Open { .. }, ConnectionLost { reconnect_at }) => Some(Waiting {
                until: reconnect_at,
            }),
            (Requesting { .. } | Open { .. }, Finished) => Some(Closed),
            _ => None,
        }
    }

    /// The `readyState` this state shows.
    pub(crate) fn ready_state(self) -> ReadyState {
        match self {
            ConnState::Requesting { .. } | ConnState::Waiting { .. } => ReadyState::Connecting,
            ConnState::Open { .. } => ReadyState::Open,
            ConnState::Closed => ReadyState::Closed,
        }
    }

    /// A connection exists (request in flight or stream open).
    pub(crate) fn is_connected(self) -> bool {
        matches!(self, ConnState::Requesting { .. } | ConnState::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_table() {
        let t0 = Instant::from_secs(1);
        let req = ConnState::Requesting { redirects: 0 };
        let open = ConnState::Open { since: t0 };
        let wait = ConnState::Waiting { until: t0 };
        let lost = Transition::ConnectionLost { reconnect_at: t0 };
        let cases = [
            (wait, Transition::Connect, Some(req)),
            (
                req,
                Transition::Redirect,
                Some(ConnState::Requesting { redirects: 1 }),
            ),
            (req, Transition::ResponseOk { now: t0 }, Some(open)),
            (req, Transition::Fail, Some(ConnState::Closed)),
            (req, lost, Some(wait)),
            (open, lost, Some(wait)),
            (open, Transition::Finished, Some(ConnState::Closed)),
            (open, Transition::Close, Some(ConnState::Closed)),
            (wait, Transition::Close, Some(ConnState::Closed)),
            // Illegal: the state stays.
            (open, Transition::Connect, None),
            (open, Transition::ResponseOk { now: t0 }, None),
            (open, Transition::Redirect, None),
            (wait, lost, None),
            (wait, Transition::ResponseOk { now: t0 }, None),
            (ConnState::Closed, Transition::Connect, None),
            (ConnState::Closed, lost, None),
        ];
        for (from, t, want) in cases {
            assert_eq!(from.next(t), want, "{from:?} --{t:?}-->");
        }
        assert_eq!(wait.ready_state(), ReadyState::Connecting);
        assert_eq!(open.ready_state(), ReadyState::Open);
    }
}

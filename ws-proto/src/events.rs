//! The event queue: events for the application, in order, with the lifecycle transitions
//! that must wait behind them.
//!
//! A peer's Close (or a protocol violation) is read at once, but takes effect only when the
//! events read before it have been taken: the application can still answer a message that
//! arrived before the Close, and its answer goes out before the Close echo. So the queue holds
//! both, in arrival order; [`EventQueue::pop`] hands out the next event, or the transition
//! that is now due for the connection to apply.

use alloc::collections::VecDeque;

use crate::close::CloseFrame;
use crate::error::ProtocolError;
use crate::message::Event;

/// A transition waiting behind the events read before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deferred {
    /// The peer's valid Close frame.
    PeerClose(Option<CloseFrame>),
    /// The peer broke the protocol.
    Fail(ProtocolError),
}

/// What [`EventQueue::pop`] gives.
#[derive(Debug)]
pub(crate) enum Next {
    /// An event for the application.
    Event(Event),
    /// A transition now due.
    Apply(Deferred),
}

/// Events and the deferred transition, in arrival order. Nothing is ever queued behind a
/// deferred transition (reading stops at a Close or a violation), so there is at most one,
/// and it comes after every queued event.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    events: VecDeque<Event>,
    deferred: Option<Deferred>,
}

impl EventQueue {
    /// Queue an event.
    #[inline]
    pub(crate) fn push(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// Queue a transition behind the events queued so far.
    pub(crate) fn defer(&mut self, d: Deferred) {
        debug_assert!(self.deferred.is_none(), "one transition at most");
        self.deferred = Some(d);
    }

    /// The next event, or the transition (once every event before it was taken).
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Next> {
        match self.events.pop_front() {
            Some(e) => Some(Next::Event(e)),
            None => self.deferred.take().map(Next::Apply),
        }
    }

    /// Take the deferred transition out of the queue, leaving the events before it queued
    /// (an end of stream or a timer applies it before its own effect); the events its
    /// application queues come after them, in order.
    pub(crate) fn take_deferred(&mut self) -> Option<Deferred> {
        self.deferred.take()
    }

    /// Number of queued events (the transition not counted).
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn transitions_come_out_behind_the_events_before_them() {
        let mut q = EventQueue::default();
        q.push(Event::Message(Message::text("a")));
        q.defer(Deferred::PeerClose(None));
        assert_eq!(q.len(), 1);
        assert!(matches!(q.pop(), Some(Next::Event(_))));
        assert!(matches!(
            q.pop(),
            Some(Next::Apply(Deferred::PeerClose(None)))
        ));
        assert!(q.pop().is_none());
    }

    #[test]
    fn take_deferred_leaves_the_events_before_it() {
        let mut q = EventQueue::default();
        q.push(Event::Message(Message::text("a")));
        q.defer(Deferred::Fail(ProtocolError::InvalidUtf8));
        assert_eq!(
            q.take_deferred(),
            Some(Deferred::Fail(ProtocolError::InvalidUtf8))
        );
        assert_eq!(q.take_deferred(), None);
        q.push(Event::Message(Message::text("after")));
        let texts: alloc::vec::Vec<Event> = core::iter::from_fn(|| match q.pop() {
            Some(Next::Event(e)) => Some(e),
            _ => None,
        })
        .collect();
        assert_eq!(
            texts,
            [
                Event::Message(Message::text("a")),
                Event::Message(Message::text("after"))
            ]
        );
    }
}

//! Client→server messages over plain requests, so long polling carries traffic both ways.
//!
//! The client's [`Outbox`] numbers each message (1, 2, 3, …), sends them in bounded batches
//! (one batch in flight at a time) and keeps them until the server acknowledges them; after
//! a failure the same sequence numbers are sent again. The server's [`Inbox`] (one per
//! session, kept by the [`Hub`](crate::Hub)) acknowledges the highest consecutive sequence
//! it has seen and reports only the messages it had not seen before: a retried batch is
//! de-duplicated, a batch that would skip messages is refused ([`UpstreamError::SeqGap`]).
//!
//! Invariant: every pushed message is delivered to the application exactly once, in order,
//! as long as the client retries until acknowledged.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::config::UpstreamConfig;
use crate::error::UpstreamError;

/// A batch of client→server messages with consecutive sequence numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamBatch {
    /// Sequence number of `messages[0]` (≥ 1).
    pub first_seq: u64,
    /// Payloads.
    pub messages: Vec<Bytes>,
}

/// The server's answer to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// `batch.messages[fresh_from..]` had not been seen: deliver those to the application.
    pub fresh_from: usize,
    /// The highest consecutive sequence number received: send it back as the acknowledgement.
    pub ack: u64,
}

/// Server side: de-duplication state for one client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inbox {
    acked: u64,
}

impl Inbox {
    /// A fresh inbox (nothing received).
    pub const fn new() -> Self {
        Inbox { acked: 0 }
    }

    /// The highest consecutive sequence number received.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Checks a batch against the limits and the sequence; on success returns which messages
    /// are new. On error nothing changed.
    pub fn handle_batch(
        &mut self,
        config: &UpstreamConfig,
        batch: &UpstreamBatch,
    ) -> Result<Accepted, UpstreamError> {
        let bytes: usize = batch.messages.iter().map(Bytes::len).sum();
        if batch.messages.len() > config.max_batch_messages.max(1)
            || (batch.messages.len() > 1 && bytes > config.max_batch_bytes)
        {
            return Err(UpstreamError::BatchTooLarge {
                max_batch_messages: config.max_batch_messages,
                max_batch_bytes: config.max_batch_bytes,
            });
        }
        if batch.first_seq == 0 {
            return Err(UpstreamError::ZeroSeq);
        }
        let expected = self.acked.saturating_add(1);
        if batch.first_seq > expected {
            return Err(UpstreamError::SeqGap {
                expected,
                got: batch.first_seq,
            });
        }
        let Some(last) = batch
            .first_seq
            .checked_add((batch.messages.len() as u64).saturating_sub(1))
        else {
            return Err(UpstreamError::SeqOverflow);
        };
        // Messages numbered at or below `acked` were delivered before.
        let already = match self.acked.checked_sub(batch.first_seq) {
            Some(d) => d.saturating_add(1).min(batch.messages.len() as u64) as usize,
            None => 0,
        };
        self.acked = self.acked.max(last);
        Ok(Accepted {
            fresh_from: already,
            ack: self.acked,
        })
    }
}

/// Client side: numbers, batches and retries outgoing messages.
#[derive(Clone, Debug)]
pub struct Outbox {
    config: UpstreamConfig,
    /// Sequence number of `queue[0]`.
    first_unacked: u64,
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    /// Messages in the batch on the wire (0: none).
    in_flight: usize,
}

impl Outbox {
    /// An empty outbox; the first message gets sequence number 1.
    pub fn new(config: UpstreamConfig) -> Self {
        Outbox {
            config,
            first_unacked: 1,
            queue: VecDeque::new(),
            queued_bytes: 0,
            in_flight: 0,
        }
    }

    /// Messages queued and not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// True while a batch is on the wire.
    pub fn is_in_flight(&self) -> bool {
        self.in_flight > 0
    }

    /// Queues a message; returns its sequence number. On error nothing changed.
    pub fn push(&mut self, data: Bytes) -> Result<u64, UpstreamError> {
        if self.queue.len() >= self.config.max_queued_messages
            || self.queued_bytes + data.len() > self.config.max_queued_bytes
        {
            return Err(UpstreamError::QueueFull {
                max_queued_messages: self.config.max_queued_messages,
                max_queued_bytes: self.config.max_queued_bytes,
            });
        }
        self.queued_bytes += data.len();
        self.queue.push_back(data);
        Ok(self.first_unacked + self.queue.len() as u64 - 1)
    }

    /// The next batch to send, if none is in flight and something is queued. It starts at
    /// the oldest unacknowledged message.
    pub fn poll_batch(&mut self) -> Option<UpstreamBatch> {
        if self.in_flight > 0 || self.queue.is_empty() {
            return None;
        }
        let mut messages = Vec::new();
        let mut bytes = 0;
        for data in &self.queue {
            if messages.len() >= self.config.max_batch_messages.max(1)
                || (!messages.is_empty() && bytes + data.len() > self.config.max_batch_bytes)
            {
                break;
            }
            bytes += data.len();
            messages.push(data.clone());
        }
        self.in_flight = messages.len();
        Some(UpstreamBatch {
            first_seq: self.first_unacked,
            messages,
        })
    }

    /// The server acknowledged everything through `ack`; the batch is no longer in flight.
    pub fn handle_ack(&mut self, ack: u64) {
        while self.first_unacked <= ack {
            match self.queue.pop_front() {
                Some(data) => {
                    self.queued_bytes -= data.len();
                    self.first_unacked += 1;
                }
                None => break,
            }
        }
        self.in_flight = 0;
    }

    /// The batch failed (network error, 5xx): the next `poll_batch` sends it again.
    pub fn handle_failure(&mut self) {
        self.in_flight = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn retry_is_deduplicated_and_gap_refused() {
        let cfg = UpstreamConfig {
            max_batch_messages: 2,
            ..UpstreamConfig::default()
        };
        let mut out = Outbox::new(cfg);
        let mut inbox = Inbox::new();
        for (i, m) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(out.push(b(m)), Ok(i as u64 + 1));
        }
        let first = out.poll_batch().unwrap();
        assert_eq!((first.first_seq, first.messages.len()), (1, 2));
        assert_eq!(out.poll_batch(), None, "one batch in flight");
        // The server gets it but the ack is lost.
        assert_eq!(
            inbox.handle_batch(&cfg, &first),
            Ok(Accepted {
                fresh_from: 0,
                ack: 2
            })
        );
        out.handle_failure();
        let retry = out.poll_batch().unwrap();
        assert_eq!(retry, first);
        assert_eq!(
            inbox.handle_batch(&cfg, &retry),
            Ok(Accepted {
                fresh_from: 2,
                ack: 2
            })
        );
        out.handle_ack(2);
        assert_eq!(out.pending(), 1);
        let next = out.poll_batch().unwrap();
        assert_eq!((next.first_seq, next.messages.len()), (3, 1));
        // A batch that skips seq 3 is refused, state unchanged.
        let skipping = UpstreamBatch {
            first_seq: 4,
            messages: alloc::vec![b("d")],
        };
        assert_eq!(
            inbox.handle_batch(&cfg, &skipping),
            Err(UpstreamError::SeqGap {
                expected: 3,
                got: 4
            })
        );
        assert_eq!(inbox.acked(), 2);
        // Overlapping batch: only the new tail is fresh.
        let overlap = UpstreamBatch {
            first_seq: 2,
            messages: alloc::vec![b("b"), b("c")],
        };
        assert_eq!(
            inbox.handle_batch(&cfg, &overlap),
            Ok(Accepted {
                fresh_from: 1,
                ack: 3
            })
        );
        out.handle_ack(3);
        assert_eq!((out.pending(), out.is_in_flight()), (0, false));
    }

    #[test]
    fn sequence_numbers_at_the_top_of_the_range_do_not_overflow() {
        let cfg = UpstreamConfig::default();
        let mut inbox = Inbox {
            acked: u64::MAX - 1,
        };
        let two = UpstreamBatch {
            first_seq: u64::MAX,
            messages: alloc::vec![b("a"), b("b")],
        };
        assert_eq!(
            inbox.handle_batch(&cfg, &two),
            Err(UpstreamError::SeqOverflow)
        );
        let one = UpstreamBatch {
            first_seq: u64::MAX,
            messages: alloc::vec![b("a")],
        };
        let accepted = Accepted {
            fresh_from: 0,
            ack: u64::MAX,
        };
        assert_eq!(inbox.handle_batch(&cfg, &one), Ok(accepted));
        // A retry after the top is a duplicate, not an overflow.
        assert_eq!(
            inbox.handle_batch(&cfg, &one),
            Ok(Accepted {
                fresh_from: 1,
                ..accepted
            })
        );
    }

    #[test]
    fn limits() {
        let cfg = UpstreamConfig {
            max_batch_messages: 2,
            max_batch_bytes: 3,
            max_queued_messages: 3,
            max_queued_bytes: 4,
        };
        let mut out = Outbox::new(cfg);
        out.push(b("aa")).unwrap();
        out.push(b("bb")).unwrap();
        assert_eq!(
            out.push(b("c")),
            Err(UpstreamError::QueueFull {
                max_queued_messages: 3,
                max_queued_bytes: 4
            })
        );
        // Bytes limit cuts the batch at one message.
        assert_eq!(out.poll_batch().unwrap().messages.len(), 1);
        let mut inbox = Inbox::new();
        let big = UpstreamBatch {
            first_seq: 1,
            messages: alloc::vec![b("aa"), b("bb")],
        };
        assert!(matches!(
            inbox.handle_batch(&cfg, &big),
            Err(UpstreamError::BatchTooLarge { .. })
        ));
        let zero = UpstreamBatch {
            first_seq: 0,
            messages: alloc::vec![b("a")],
        };
        assert_eq!(inbox.handle_batch(&cfg, &zero), Err(UpstreamError::ZeroSeq));
        assert_eq!(inbox.acked(), 0);
    }
}

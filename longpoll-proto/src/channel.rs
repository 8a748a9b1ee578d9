//! [`Channel`]: one channel's bounded history of `(seq, message)` with an epoch, and the
//! pure decision of what a poll with a given cursor gets ([`Channel::read`]).
//!
//! Invariants: history holds consecutive sequence numbers `oldest..=head`; `head` is the last
//! published seq (0 before the first publish); the number of messages never exceeds
//! `max_messages` and their payload bytes never exceed `max_bytes`; a message larger than
//! `max_message_bytes` (or `max_bytes`) is never accepted.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::config::{ChannelConfig, Overflow};
use crate::cursor::{Cursor, Epoch, Seq};
use crate::error::PublishError;
use crate::response::{Message, Outcome, RejectReason};

/// What a poll with a cursor gets from a channel right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// Answer at once with this outcome (batch, gap, reset or rejection).
    Answer(Outcome),
    /// Nothing newer than this cursor (the resolved cursor: the head for a poll without
    /// one): hold the poll.
    Hold(Cursor),
}

/// A channel's bounded history.
#[derive(Clone, Debug)]
pub struct Channel {
    epoch: Epoch,
    /// The seq the next publish gets (1 in a fresh epoch).
    next_seq: u64,
    /// `history[i]` has seq `next_seq - history.len() + i`.
    history: VecDeque<Bytes>,
    bytes: usize,
    config: ChannelConfig,
}

impl Channel {
    /// An empty channel in `epoch`.
    pub fn new(epoch: Epoch, config: ChannelConfig) -> Self {
        Channel {
            epoch,
            next_seq: 1,
            history: VecDeque::new(),
            bytes: 0,
            config,
        }
    }

    // ---- getters ----

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The cursor of the last published message (`seq` 0 before the first publish).
    pub fn head(&self) -> Cursor {
        Cursor {
            epoch: self.epoch,
            seq: Seq(self.next_seq - 1),
        }
    }

    /// The oldest seq still in history (`head + 1` when history is empty).
    pub fn oldest(&self) -> Seq {
        Seq(self.next_seq - self.history.len() as u64)
    }

    /// Messages in history.
    pub fn len(&self) -> usize {
        self.history.len()
    }

    /// True when history holds no message.
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// Payload bytes in history.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The limits.
    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    // ---- mutators ----

    /// Appends a message. Returns its seq and how many old messages were evicted to make
    /// room. On error nothing changed.
    pub fn publish(&mut self, data: Bytes) -> Result<(Seq, usize), PublishError> {
        let max_messages = self.config.max_messages.max(1);
        let max_message_bytes = self.config.max_message_bytes.min(self.config.max_bytes);
        if data.len() > max_message_bytes {
            return Err(PublishError::MessageTooLarge {
                size: data.len(),
                max_message_bytes,
            });
        }
        if self.next_seq == u64::MAX {
            return Err(PublishError::SeqExhausted);
        }
        let mut evicted = 0;
        match self.config.overflow {
            Overflow::RejectPublish => {
                if self.history.len() >= max_messages {
                    return Err(PublishError::ChannelFullMessages { max_messages });
                }
                if self.bytes + data.len() > self.config.max_bytes {
                    return Err(PublishError::ChannelFullBytes {
                        max_bytes: self.config.max_bytes,
                    });
                }
            }
            Overflow::EvictOldest => {
                while self.history.len() >= max_messages
                    || self.bytes + data.len() > self.config.max_bytes
                {
                    match self.history.pop_front() {
                        Some(old) => {
                            self.bytes -= old.len();
                            evicted += 1;
                        }
                        None => break,
                    }
                }
            }
        }
        self.bytes += data.len();
        self.history.push_back(data);
        let seq = Seq(self.next_seq);
        self.next_seq += 1;
        Ok((seq, evicted))
    }

    /// Drops every message with seq `<= through` (all clients have them). Returns how many.
    pub fn trim_through(&mut self, through: Seq) -> usize {
        let mut n = 0;
        while self.oldest() <= through {
            match self.history.pop_front() {
                Some(old) => {
                    self.bytes -= old.len();
                    n += 1;
                }
                None => break,
            }
        }
        n
    }

    /// Forgets all history and starts `epoch` at seq 1. Clients with a cursor in the old
    /// epoch get [`Outcome::Reset`].
    pub fn reset(&mut self, epoch: Epoch) {
        self.restart_at(Cursor::start_of(epoch));
    }

    /// Forgets all history and continues at `head`: the next publish gets `head.seq + 1` in
    /// `head.epoch`. For a channel that follows another store's history (a replica whose
    /// source skipped or lost messages): cursors before `head` then get [`Outcome::Gap`],
    /// cursors of another epoch [`Outcome::Reset`]. A `head.seq` of `u64::MAX` is kept at
    /// `u64::MAX - 1` so the next seq exists.
    pub fn restart_at(&mut self, head: Cursor) {
        self.epoch = head.epoch;
        self.next_seq = head.seq.0.min(u64::MAX - 1) + 1;
        self.history.clear();
        self.bytes = 0;
    }

    // ---- the decision ----

    /// What a poll with `cursor` gets now, with a batch bounded by `max_messages` and
    /// `max_bytes` (a batch always holds at least one message). `None` means "from now on"
    /// (the head).
    ///
    /// | cursor | answer |
    /// | --- | --- |
    /// | other epoch | [`Outcome::Reset`] to `(epoch, 0)` |
    /// | past the head | [`Outcome::Rejected`] `CursorAhead` |
    /// | at the head | [`Read::Hold`] |
    /// | before `oldest - 1` | [`Outcome::Gap`] `cursor+1 ..= oldest-1`, resume at `oldest-1` |
    /// | otherwise | [`Outcome::Batch`] from `cursor + 1` |
    pub fn read(&self, cursor: Option<Cursor>, max_messages: usize, max_bytes: usize) -> Read {
        let cursor = cursor.unwrap_or_else(|| self.head());
        if cursor.epoch != self.epoch {
            return Read::Answer(Outcome::Reset {
                previous: cursor.epoch,
                resume: Cursor::start_of(self.epoch),
            });
        }
        let head = self.next_seq - 1;
        if cursor.seq.0 > head {
            return Read::Answer(Outcome::Rejected {
                reason: RejectReason::CursorAhead,
            });
        }
        if cursor.seq.0 == head {
            return Read::Hold(cursor);
        }
        let oldest = self.oldest().0;
        if cursor.seq.0 + 1 < oldest {
            return Read::Answer(Outcome::Gap {
                missed_from: cursor.seq.next(),
                missed_to: Seq(oldest - 1),
                resume: Cursor {
                    epoch: self.epoch,
                    seq: Seq(oldest - 1),
                },
            });
        }
        let start = (cursor.seq.0 + 1 - oldest) as usize;
        let max_messages = max_messages.max(1);
        let mut messages = Vec::new();
        let mut bytes = 0usize;
        for (i, data) in self.history.iter().enumerate().skip(start) {
            if messages.len() >= max_messages
                || (!messages.is_empty() && bytes + data.len() > max_bytes)
            {
                break;
            }
            bytes += data.len();
            messages.push(Message {
                seq: Seq(oldest + i as u64),
                data: data.clone(),
            });
        }
        let next = Cursor {
            epoch: self.epoch,
            seq: messages.last().map_or(cursor.seq, |m| m.seq),
        };
        Read::Answer(Outcome::Batch { messages, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max_messages: usize, max_bytes: usize, overflow: Overflow) -> ChannelConfig {
        ChannelConfig {
            max_messages,
            max_bytes,
            max_message_bytes: max_bytes,
            overflow,
        }
    }

    fn seqs(read: &Read) -> Vec<u64> {
        match read {
            Read::Answer(Outcome::Batch { messages, .. }) => {
                messages.iter().map(|m| m.seq.0).collect()
            }
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    #[test]
    fn read_decision_table() {
        let mut ch = Channel::new(Epoch(7), cfg(3, 100, Overflow::EvictOldest));
        // Empty channel: absent cursor and (7,0) are held, other epoch reset, ahead rejected.
        assert_eq!(ch.read(None, 10, 100), Read::Hold(Cursor::new(7, 0)));
        assert_eq!(
            ch.read(Some(Cursor::new(7, 0)), 10, 100),
            Read::Hold(Cursor::new(7, 0))
        );
        assert_eq!(
            ch.read(Some(Cursor::new(6, 3)), 10, 100),
            Read::Answer(Outcome::Reset {
                previous: Epoch(6),
                resume: Cursor::new(7, 0)
            })
        );
        assert_eq!(
            ch.read(Some(Cursor::new(7, 1)), 10, 100),
            Read::Answer(Outcome::Rejected {
                reason: RejectReason::CursorAhead
            })
        );
        for i in 1..=5u8 {
            ch.publish(Bytes::from(alloc::vec![i; 1])).unwrap();
        }
        // History is 3..=5 now.
        assert_eq!((ch.oldest(), ch.head()), (Seq(3), Cursor::new(7, 5)));
        assert_eq!(seqs(&ch.read(Some(Cursor::new(7, 2)), 10, 100)), [3, 4, 5]);
        assert_eq!(seqs(&ch.read(Some(Cursor::new(7, 3)), 10, 100)), [4, 5]);
        assert_eq!(seqs(&ch.read(Some(Cursor::new(7, 2)), 2, 100)), [3, 4]);
        assert_eq!(seqs(&ch.read(Some(Cursor::new(7, 2)), 10, 2)), [3, 4]);
        // A batch always carries one message even when it alone exceeds max_bytes.
        assert_eq!(seqs(&ch.read(Some(Cursor::new(7, 2)), 10, 0)), [3]);
        assert_eq!(ch.read(None, 10, 100), Read::Hold(Cursor::new(7, 5)));
        assert_eq!(
            ch.read(Some(Cursor::new(7, 0)), 10, 100),
            Read::Answer(Outcome::Gap {
                missed_from: Seq(1),
                missed_to: Seq(2),
                resume: Cursor::new(7, 2)
            })
        );
        assert_eq!(
            ch.read(Some(Cursor::new(7, 1)), 10, 100),
            Read::Answer(Outcome::Gap {
                missed_from: Seq(2),
                missed_to: Seq(2),
                resume: Cursor::new(7, 2)
            })
        );
        match ch.read(Some(Cursor::new(7, 4)), 10, 100) {
            Read::Answer(Outcome::Batch { next, messages }) => {
                assert_eq!(next, Cursor::new(7, 5));
                assert_eq!(messages[0].data.as_ref(), &[5]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn evict_oldest_by_count_and_bytes() {
        let mut ch = Channel::new(Epoch(1), cfg(3, 10, Overflow::EvictOldest));
        assert_eq!(ch.publish(Bytes::from_static(b"aaaa")), Ok((Seq(1), 0)));
        assert_eq!(ch.publish(Bytes::from_static(b"bbbb")), Ok((Seq(2), 0)));
        // 4 + 4 + 4 > 10: evicts seq 1 by bytes.
        assert_eq!(ch.publish(Bytes::from_static(b"cccc")), Ok((Seq(3), 1)));
        assert_eq!((ch.len(), ch.bytes(), ch.oldest()), (2, 8, Seq(2)));
        assert_eq!(ch.publish(Bytes::from_static(b"d")), Ok((Seq(4), 0)));
        // Count limit 3: evicts seq 2.
        assert_eq!(ch.publish(Bytes::from_static(b"e")), Ok((Seq(5), 1)));
        assert_eq!((ch.len(), ch.bytes(), ch.oldest()), (3, 6, Seq(3)));
        // A message as large as max_bytes evicts everything.
        assert_eq!(
            ch.publish(Bytes::from_static(b"0123456789")),
            Ok((Seq(6), 3))
        );
        assert_eq!(
            ch.publish(Bytes::from_static(b"0123456789a")),
            Err(PublishError::MessageTooLarge {
                size: 11,
                max_message_bytes: 10
            })
        );
        assert_eq!((ch.len(), ch.head()), (1, Cursor::new(1, 6)));
    }

    #[test]
    fn reject_publish_when_full_then_trim_makes_room() {
        let mut ch = Channel::new(Epoch(1), cfg(2, 6, Overflow::RejectPublish));
        ch.publish(Bytes::from_static(b"aa")).unwrap();
        ch.publish(Bytes::from_static(b"bb")).unwrap();
        assert_eq!(
            ch.publish(Bytes::from_static(b"c")),
            Err(PublishError::ChannelFullMessages { max_messages: 2 })
        );
        assert_eq!(ch.trim_through(Seq(1)), 1);
        assert_eq!(
            ch.publish(Bytes::from_static(b"ccccc")),
            Err(PublishError::ChannelFullBytes { max_bytes: 6 })
        );
        // Refusals changed nothing.
        assert_eq!((ch.len(), ch.bytes(), ch.head()), (1, 2, Cursor::new(1, 2)));
        assert_eq!(ch.publish(Bytes::from_static(b"cccc")), Ok((Seq(3), 0)));
        assert_eq!(ch.trim_through(Seq(10)), 2);
        assert!(ch.is_empty());
        assert_eq!(ch.oldest(), Seq(4));
        // A poll at the head holds; a poll from 0 sees the trimmed messages as a gap.
        assert_eq!(
            ch.read(Some(Cursor::new(1, 3)), 9, 9),
            Read::Hold(Cursor::new(1, 3))
        );
        assert!(matches!(
            ch.read(Some(Cursor::new(1, 0)), 9, 9),
            Read::Answer(Outcome::Gap {
                missed_to: Seq(3),
                ..
            })
        ));
    }

    #[test]
    fn restart_at_continues_after_the_given_head() {
        let mut ch = Channel::new(Epoch(1), ChannelConfig::default());
        ch.publish(Bytes::from_static(b"x")).unwrap();
        ch.restart_at(Cursor::new(3, 40));
        assert_eq!(
            (ch.head(), ch.len(), ch.oldest()),
            (Cursor::new(3, 40), 0, Seq(41))
        );
        assert_eq!(ch.publish(Bytes::from_static(b"y")), Ok((Seq(41), 0)));
        assert_eq!(
            ch.read(Some(Cursor::new(3, 2)), 9, 9),
            Read::Answer(Outcome::Gap {
                missed_from: Seq(3),
                missed_to: Seq(40),
                resume: Cursor::new(3, 40)
            })
        );
        assert!(matches!(
            ch.read(Some(Cursor::new(1, 1)), 9, 9),
            Read::Answer(Outcome::Reset { .. })
        ));
    }

    #[test]
    fn reset_starts_a_new_epoch() {
        let mut ch = Channel::new(Epoch(1), ChannelConfig::default());
        ch.publish(Bytes::from_static(b"x")).unwrap();
        ch.reset(Epoch(2));
        assert_eq!((ch.head(), ch.len(), ch.bytes()), (Cursor::new(2, 0), 0, 0));
        assert_eq!(ch.publish(Bytes::from_static(b"y")), Ok((Seq(1), 0)));
    }
}

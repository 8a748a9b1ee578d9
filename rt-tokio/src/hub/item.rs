//! [`Item`]: what a subscription yields. A message with its cursor, or an explicit gap or
//! reset: a subscriber is never left to guess what it missed.

use bytes::Bytes;

use super::{Cursor, Epoch, Seq};

/// One item of a [`Subscription`](super::Subscription), in order.
///
/// Invariant over a subscription's items: every message published on the channel after
/// the subscription's starting cursor appears exactly once as a [`Item::Message`], or is
/// covered by exactly one [`Item::Gap`] or [`Item::Reset`]. [`Item::cursor`] is the cursor to
/// resume from after the item (a transport sends it as SSE `id:`, the long-poll cursor...).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A published message.
    Message {
        /// Its position: resume after it with this cursor.
        cursor: Cursor,
        /// Its payload (shared, not copied, among subscribers).
        data: Bytes,
    },
    /// Messages `missed_from..=missed_to` of `resume.epoch` are no longer held: this
    /// subscriber will never see them. Delivery resumes after `resume` (`missed_to`).
    Gap {
        /// First missed sequence number.
        missed_from: Seq,
        /// Last missed sequence number.
        missed_to: Seq,
        /// Where delivery resumes: `(epoch, missed_to)`.
        resume: Cursor,
    },
    /// The channel's history was lost (a restart, a flushed store): whatever followed the
    /// subscriber's cursor in `previous` is gone. Delivery resumes at `resume`, the start of
    /// the new epoch.
    Reset {
        /// The epoch the subscriber's cursor was in.
        previous: Epoch,
        /// `(new epoch, 0)`.
        resume: Cursor,
    },
}

impl Item {
    /// The cursor to resume from after this item.
    pub fn cursor(&self) -> Cursor {
        match self {
            Item::Message { cursor, .. } => *cursor,
            Item::Gap { resume, .. } | Item::Reset { resume, .. } => *resume,
        }
    }
}

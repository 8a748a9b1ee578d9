//! What the hub tells the driver: a [`Response`] per poll (what to answer on which request)
//! and [`HubEvent`]s (sessions expired). The driver holds no protocol state: it maps
//! [`PollId`] to its connection and writes what it is told, e.g. through
//! [`http::render_response`](crate::http::render_response).

use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

use crate::cursor::{Cursor, Epoch, Seq};
use crate::id::{ChannelName, ClientId, PollId};

/// One message of a channel's history. `data` is reference-counted: a message released to
/// 10,000 polls is stored once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Position in the channel's history.
    pub seq: Seq,
    /// Payload.
    pub data: Bytes,
}

/// The answer to one poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The poll this answers.
    pub poll: PollId,
    /// What to answer.
    pub outcome: Outcome,
}

/// Why a poll was answered with no messages and the same cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmptyReason {
    /// The hold deadline passed with nothing new.
    Timeout,
    /// A newer poll from the same client on the same channel replaced this one.
    Superseded,
}

impl EmptyReason {
    /// The machine-readable token used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            EmptyReason::Timeout => "timeout",
            EmptyReason::Superseded => "superseded",
        }
    }
}

/// Why a poll was refused (nothing about the client's cursor changed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// A poll from this client on this channel is already held and the policy is
    /// [`DuplicatePoll::Reject`](crate::DuplicatePoll::Reject).
    DuplicatePoll,
    /// `HubConfig::max_polls_per_client` polls are already held for this client.
    TooManyPollsForClient,
    /// `HubConfig::max_held_polls` polls are already held.
    TooManyPolls,
    /// `HubConfig::max_sessions` sessions are live.
    TooManySessions,
    /// `HubConfig::max_channels` channels exist.
    TooManyChannels,
    /// The cursor names a message that was never published in the current epoch.
    CursorAhead,
    /// A multi-channel poll names no channel or more than `HubConfig::max_channels_per_poll`.
    TooManyChannelsPerPoll,
}

impl RejectReason {
    /// The machine-readable token used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::DuplicatePoll => "duplicate_poll",
            RejectReason::TooManyPollsForClient => "too_many_polls_for_client",
            RejectReason::TooManyPolls => "too_many_polls",
            RejectReason::TooManySessions => "too_many_sessions",
            RejectReason::TooManyChannels => "too_many_channels",
            RejectReason::CursorAhead => "cursor_ahead",
            RejectReason::TooManyChannelsPerPoll => "too_many_channels_per_poll",
        }
    }

    /// Parses [`RejectReason::as_str`].
    pub fn from_token(token: &str) -> Option<Self> {
        [
            RejectReason::DuplicatePoll,
            RejectReason::TooManyPollsForClient,
            RejectReason::TooManyPolls,
            RejectReason::TooManySessions,
            RejectReason::TooManyChannels,
            RejectReason::CursorAhead,
            RejectReason::TooManyChannelsPerPoll,
        ]
        .into_iter()
        .find(|r| r.as_str() == token)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to answer a poll with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Consecutive messages after the poll's cursor, and the cursor to poll with next
    /// (the last message's).
    Batch {
        /// At least one message, consecutive sequence numbers.
        messages: Vec<Message>,
        /// The next cursor.
        next: Cursor,
    },
    /// Nothing new: poll again with the same cursor.
    Empty {
        /// The poll's cursor (for a poll without a cursor: the channel's head).
        cursor: Cursor,
        /// Why.
        reason: EmptyReason,
    },
    /// Messages `missed_from..=missed_to` are no longer in history: the client missed them.
    /// Poll again from `resume` (= `missed_to`).
    Gap {
        /// First missed sequence number (the cursor's seq + 1).
        missed_from: Seq,
        /// Last missed sequence number.
        missed_to: Seq,
        /// Cursor to poll with next.
        resume: Cursor,
    },
    /// The cursor's epoch is not the channel's: its history after the cursor is lost.
    /// Poll again from `resume` (the start of the new epoch).
    Reset {
        /// The epoch the client's cursor named.
        previous: Epoch,
        /// Cursor to poll with next: `(new epoch, 0)`.
        resume: Cursor,
    },
    /// The poll was refused.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
    /// The answer to a multi-channel poll: one entry per channel with something to say
    /// (at least one). Channels not listed had nothing new: keep their cursors.
    Multi {
        /// Per-channel answers (each a `Batch`, `Gap`, `Reset` or `Rejected` `cursor_ahead`).
        answers: Vec<ChannelAnswer>,
    },
    /// A multi-channel poll ended with nothing new on any channel: keep every cursor.
    MultiEmpty {
        /// Why.
        reason: EmptyReason,
    },
}

/// One channel's part of an [`Outcome::Multi`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelAnswer {
    /// The channel.
    pub channel: ChannelName,
    /// Its answer.
    pub outcome: Outcome,
}

/// Something the application should know about that is not an answer to a poll.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HubEvent {
    /// The session had no poll for `HubConfig::session_ttl` and was removed (its upstream
    /// de-duplication state and its acknowledgements with it).
    SessionExpired {
        /// The client.
        client: ClientId,
    },
}

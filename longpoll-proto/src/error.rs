//! Errors. Each is `#[non_exhaustive]`, has a `Display` written for a human and implements
//! `core::error::Error`. Misuse by the local caller (publishing a too-large message) leaves
//! the state unchanged; bad input from a peer (a malformed query) is reported, never a panic.

use core::fmt;

/// A cursor's text form (`EPOCH:SEQ`) is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CursorError {
    /// No `:` between epoch and sequence.
    MissingColon,
    /// A part is empty or holds something other than ASCII digits.
    NotANumber,
    /// A part does not fit in 64 bits.
    Overflow,
    /// Longer than any valid cursor.
    TooLong,
}

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CursorError::MissingColon => "cursor must be EPOCH:SEQ (no colon found)",
            CursorError::NotANumber => "cursor parts must be non-empty decimal digits",
            CursorError::Overflow => "cursor part does not fit in 64 bits",
            CursorError::TooLong => "cursor text is too long",
        })
    }
}

impl core::error::Error for CursorError {}

/// A channel name or client id is not a valid token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than `max` bytes.
    TooLong {
        /// The limit ([`MAX_NAME_LEN`](crate::MAX_NAME_LEN)).
        max: usize,
    },
    /// The byte at `at` is not one of `A-Z a-z 0-9 - _ . ~ : @ /`.
    InvalidByte {
        /// Offset of the first bad byte.
        at: usize,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("name is empty"),
            NameError::TooLong { max } => write!(f, "name is longer than {max} bytes"),
            NameError::InvalidByte { at } => write!(
                f,
                "name has a byte outside A-Z a-z 0-9 - _ . ~ : @ / at offset {at}"
            ),
        }
    }
}

impl core::error::Error for NameError {}

/// A publish was refused; the channel is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// The message is larger than `ChannelConfig::max_message_bytes`.
    MessageTooLarge {
        /// The message size.
        size: usize,
        /// The limit.
        max_message_bytes: usize,
    },
    /// The channel holds `ChannelConfig::max_messages` unacknowledged messages and its
    /// overflow policy is `RejectPublish`.
    ChannelFullMessages {
        /// The limit.
        max_messages: usize,
    },
    /// The channel would exceed `ChannelConfig::max_bytes` and its overflow policy is
    /// `RejectPublish`.
    ChannelFullBytes {
        /// The limit.
        max_bytes: usize,
    },
    /// Creating the channel would exceed `HubConfig::max_channels`.
    TooManyChannels {
        /// The limit.
        max_channels: usize,
    },
    /// The channel's sequence numbers are exhausted (2^64 − 1 messages in one epoch);
    /// reset the channel with a new epoch.
    SeqExhausted,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::MessageTooLarge {
                size,
                max_message_bytes,
            } => write!(
                f,
                "message of {size} bytes exceeds max_message_bytes ({max_message_bytes})"
            ),
            PublishError::ChannelFullMessages { max_messages } => write!(
                f,
                "channel is full: max_messages ({max_messages}) unacknowledged messages"
            ),
            PublishError::ChannelFullBytes { max_bytes } => {
                write!(
                    f,
                    "channel is full: max_bytes ({max_bytes}) would be exceeded"
                )
            }
            PublishError::TooManyChannels { max_channels } => {
                write!(f, "max_channels ({max_channels}) reached")
            }
            PublishError::SeqExhausted => {
                f.write_str("sequence numbers exhausted in this epoch; reset the channel")
            }
        }
    }
}

impl core::error::Error for PublishError {}

/// The client→server (upstream) path refused something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The client's queue is full (`UpstreamConfig::max_queued_messages` or
    /// `max_queued_bytes`); the message was not queued.
    QueueFull {
        /// The message limit.
        max_queued_messages: usize,
        /// The byte limit.
        max_queued_bytes: usize,
    },
    /// A received batch exceeds `UpstreamConfig::max_batch_messages` or `max_batch_bytes`.
    BatchTooLarge {
        /// The message limit.
        max_batch_messages: usize,
        /// The byte limit.
        max_batch_bytes: usize,
    },
    /// A received batch starts after the next expected sequence number: messages in
    /// between were never received. The acknowledged sequence is unchanged.
    SeqGap {
        /// The next sequence number the server expects.
        expected: u64,
        /// The batch's first sequence number.
        got: u64,
    },
    /// The batch's first sequence number is 0 (sequences start at 1).
    ZeroSeq,
    /// The batch's last sequence number would not fit in 64 bits.
    SeqOverflow,
    /// Creating a session for the sender would exceed `HubConfig::max_sessions`.
    TooManySessions {
        /// The limit.
        max_sessions: usize,
    },
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::QueueFull {
                max_queued_messages,
                max_queued_bytes,
            } => write!(
                f,
                "upstream queue full (max_queued_messages {max_queued_messages}, max_queued_bytes {max_queued_bytes})"
            ),
            UpstreamError::BatchTooLarge {
                max_batch_messages,
                max_batch_bytes,
            } => write!(
                f,
                "upstream batch too large (max_batch_messages {max_batch_messages}, max_batch_bytes {max_batch_bytes})"
            ),
            UpstreamError::SeqGap { expected, got } => {
                write!(f, "upstream batch starts at {got}, expected at most {expected}")
            }
            UpstreamError::ZeroSeq => f.write_str("upstream sequence numbers start at 1"),
            UpstreamError::SeqOverflow => {
                f.write_str("upstream batch runs past the largest sequence number")
            }
            UpstreamError::TooManySessions { max_sessions } => {
                write!(f, "max_sessions ({max_sessions}) reached")
            }
        }
    }
}

impl core::error::Error for UpstreamError {}

/// An HTTP request or response does not follow the long-polling mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// A required query parameter or header is missing.
    Missing(&'static str),
    /// A parameter appears more than once.
    Duplicate(&'static str),
    /// A query string has a bad percent-escape or is not UTF-8 after decoding.
    BadEscape,
    /// A channel or client name is invalid.
    Name(&'static str, NameError),
    /// The cursor is malformed.
    Cursor(CursorError),
    /// A numeric parameter is malformed.
    BadNumber(&'static str),
    /// The status code is not one this mapping produces.
    UnexpectedStatus(u16),
    /// A body line is malformed (line index, 0-based).
    BadBody {
        /// Line index of the first bad line.
        line: usize,
    },
    /// An error response carries an unknown `reason`.
    UnknownReason,
    /// The response body is longer than the limit the caller passed.
    BodyTooLarge {
        /// The caller's limit.
        max: usize,
    },
    /// The body holds more messages than the caller's limit.
    TooManyMessages {
        /// The caller's limit.
        max: usize,
    },
    /// Batch sequence numbers are not consecutive.
    NonConsecutive,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Missing(what) => write!(f, "missing {what}"),
            HttpError::Duplicate(what) => write!(f, "{what} given more than once"),
            HttpError::BadEscape => f.write_str("bad percent-escape or non-UTF-8 query"),
            HttpError::Name(what, e) => write!(f, "invalid {what}: {e}"),
            HttpError::Cursor(e) => write!(f, "invalid cursor: {e}"),
            HttpError::BadNumber(what) => write!(f, "invalid number in {what}"),
            HttpError::UnexpectedStatus(s) => write!(f, "unexpected HTTP status {s}"),
            HttpError::BadBody { line } => write!(f, "malformed body line {line}"),
            HttpError::UnknownReason => f.write_str("unknown reason in error response"),
            HttpError::BodyTooLarge { max } => write!(f, "body larger than {max} bytes"),
            HttpError::TooManyMessages { max } => write!(f, "more than {max} messages in body"),
            HttpError::NonConsecutive => f.write_str("batch sequence numbers are not consecutive"),
        }
    }
}

impl core::error::Error for HttpError {}

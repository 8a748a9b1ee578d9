//! Every error the crate reports, one enum per family.
//!
//! - [`ParseError`]: the stream broke one of our limits (the peer's fault). The parser has
//!   already recovered (it skips the rest of the offending line or event); the driver decides
//!   whether to keep the stream.
//! - [`EventError`]: the local caller built an event that cannot be serialized, or gave a buffer
//!   that is too small. Nothing is written.
//! - [`ResponseError`]: the response head makes the EventSource fail for good.
//! - [`UsageError`]: the local caller used the client machine in the wrong state; the state is
//!   left unchanged.
//! - [`ReplayError`]: an event cannot enter the server's replay buffer.

use core::fmt;

/// The stream exceeded a configured limit of the parser.
///
/// The parser does not stop: after a [`ParseError::LineTooLong`] it skips to the end of that
/// line, after a [`ParseError::EventDataTooLarge`] it discards the event being built and skips
/// to the next blank line. Nothing dispatched before the error is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// A line was longer than [`ParserConfig::max_line_length`](crate::ParserConfig::max_line_length) bytes.
    LineTooLong {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// An event's data was longer than [`ParserConfig::max_event_data`](crate::ParserConfig::max_event_data) bytes.
    EventDataTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::LineTooLong { limit } => write!(
                f,
                "event stream line longer than {limit} bytes (ParserConfig::max_line_length); line skipped"
            ),
            ParseError::EventDataTooLarge { limit } => write!(
                f,
                "event data larger than {limit} bytes (ParserConfig::max_event_data); event discarded"
            ),
        }
    }
}

impl core::error::Error for ParseError {}

/// An event that cannot be serialized, or a buffer too small to hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The event type contains CR or LF, which would end the `event:` line early.
    EventTypeContainsNewline,
    /// The id contains CR or LF, which would end the `id:` line early.
    IdContainsNewline,
    /// The id contains U+0000: a receiver ignores such an `id:` field.
    IdContainsNul,
    /// The output buffer is too small; nothing was written.
    InsufficientSize {
        /// Bytes needed to hold the whole serialized event.
        required: usize,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::EventTypeContainsNewline => {
                f.write_str("event type contains CR or LF and cannot be serialized")
            }
            EventError::IdContainsNewline => {
                f.write_str("event id contains CR or LF and cannot be serialized")
            }
            EventError::IdContainsNul => {
                f.write_str("event id contains U+0000, which receivers ignore")
            }
            EventError::InsufficientSize { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for EventError {}

/// Why a response head fails the EventSource for good (no reconnection).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The status is not 200 (204 No Content is the usual way for a server to say "stop").
    Status(u16),
    /// The `Content-Type` is missing or its essence is not `text/event-stream`.
    ContentType,
    /// A redirect status came without a `Location`.
    RedirectWithoutLocation,
    /// More redirects than [`ClientConfig::max_redirects`](crate::ClientConfig::max_redirects).
    TooManyRedirects {
        /// The configured limit.
        limit: u8,
    },
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Status(s) => write!(f, "response status {s} is not 200"),
            ResponseError::ContentType => {
                f.write_str("response content type is not text/event-stream")
            }
            ResponseError::RedirectWithoutLocation => f.write_str("redirect without a Location"),
            ResponseError::TooManyRedirects { limit } => write!(
                f,
                "more than {limit} redirects (ClientConfig::max_redirects)"
            ),
        }
    }
}

impl core::error::Error for ResponseError {}

/// The client machine was used in a state that does not allow the call; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// A response head was given while no request was in flight.
    NoRequestInFlight,
    /// Body bytes were given while the connection is not open.
    NotOpen,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NoRequestInFlight => f.write_str("no request in flight"),
            UsageError::NotOpen => f.write_str("the connection is not open"),
        }
    }
}

impl core::error::Error for UsageError {}

/// An event could not be added to a [`ReplayBuffer`](crate::ReplayBuffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// The serialized event alone is larger than the buffer's byte limit.
    EventTooLarge {
        /// Size of the serialized event.
        size: usize,
        /// [`ReplayConfig::max_bytes`](crate::ReplayConfig::max_bytes).
        limit: usize,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::EventTooLarge { size, limit } => write!(
                f,
                "event of {size} bytes exceeds the replay buffer's {limit} bytes (ReplayConfig::max_bytes)"
            ),
        }
    }
}

impl core::error::Error for ReplayError {}

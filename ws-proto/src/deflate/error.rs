//! Errors of permessage-deflate: negotiation ([`NegotiationError`]), per-message coding
//! ([`DeflateError`]) and the pluggable backend ([`BackendError`]).
//!
//! Invariant: every error a peer can provoke maps to the close code RFC 6455 prescribes
//! ([`DeflateError::close_code`]); none of them panics or leaves memory allocated by a size the
//! peer chose.

use core::fmt;

/// What a DEFLATE backend reports when it cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendError {
    /// The compressed input is not a valid raw DEFLATE stream (for example a distance further
    /// back than the agreed window, or an invalid block type).
    InvalidData,
    /// The backend could not allocate its state.
    OutOfMemory,
    /// The backend was asked for something it does not support (for example a window size it
    /// cannot honour) or it reported an internal inconsistency.
    Unsupported(&'static str),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidData => f.write_str("invalid DEFLATE data"),
            Self::OutOfMemory => f.write_str("the DEFLATE backend could not allocate its state"),
            Self::Unsupported(what) => write!(f, "DEFLATE backend: {what}"),
        }
    }
}

impl core::error::Error for BackendError {}

/// Why compressing or decompressing a message failed.
///
/// Map it to a close code with [`DeflateError::close_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateError {
    /// The inflated message would exceed the `max_output` the caller allowed (its message-size
    /// limit): close with 1009 (message too big). At most `max_output` bytes were appended.
    MessageTooBig {
        /// The number of inflated bytes the call was allowed to append.
        max_output: usize,
    },
    /// The peer's compressed payload is not valid DEFLATE data: close with 1007.
    InvalidData,
    /// The message ended (FIN) in the middle of a DEFLATE block, so its end could not be
    /// decoded: close with 1007.
    TruncatedMessage,
    /// Bytes other than an empty stored block arrived after the final DEFLATE block (BFINAL)
    /// of the message: close with 1007.
    TrailingData,
    /// The backend failed for a reason that is not the peer's data (for example it could not
    /// allocate): close with 1011.
    Backend(BackendError),
}

impl DeflateError {
    /// The RFC 6455 close code to fail the connection with.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::MessageTooBig { .. } => 1009,
            Self::InvalidData | Self::TruncatedMessage | Self::TrailingData => 1007,
            Self::Backend(BackendError::InvalidData) => 1007,
            Self::Backend(_) => 1011,
        }
    }
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MessageTooBig { max_output } => write!(
                f,
                "the inflated message exceeds the message size limit ({max_output} more bytes allowed)"
            ),
            Self::InvalidData => f.write_str("the compressed message is not valid DEFLATE data"),
            Self::TruncatedMessage => {
                f.write_str("the compressed message ends in the middle of a DEFLATE block")
            }
            Self::TrailingData => {
                f.write_str("compressed data after the final DEFLATE block of the message")
            }
            Self::Backend(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for DeflateError {}

impl From<BackendError> for DeflateError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::InvalidData => Self::InvalidData,
            other => Self::Backend(other),
        }
    }
}

/// Why the client refuses the server's `permessage-deflate` response (the client must then
/// fail the WebSocket connection, RFC 7692 section 5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The server accepted `permessage-deflate` more than once.
    DuplicateExtension,
    /// A parameter we do not know (RFC 7692 section 5: the client must fail).
    UnknownParameter {
        /// The parameter name as received.
        name: alloc::string::String,
    },
    /// The same parameter appears twice in the response.
    DuplicateParameter {
        /// The parameter name as received.
        name: alloc::string::String,
    },
    /// A parameter has a value it must not have, lacks one it must have, or has one out of
    /// range (window bits are the decimal integers 8 to 15, without leading zeros).
    InvalidParameterValue {
        /// The parameter name as received.
        name: alloc::string::String,
    },
    /// The response is not an acceptance of any offer we made (for example
    /// `client_max_window_bits` when we did not offer it, a window larger than we asked for,
    /// or no `server_no_context_takeover` when we required it).
    NotOffered,
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateExtension => {
                f.write_str("the server accepted permessage-deflate more than once")
            }
            Self::UnknownParameter { name } => {
                write!(
                    f,
                    "unknown permessage-deflate parameter {name:?} in the response"
                )
            }
            Self::DuplicateParameter { name } => {
                write!(
                    f,
                    "permessage-deflate parameter {name:?} appears twice in the response"
                )
            }
            Self::InvalidParameterValue { name } => {
                write!(f, "invalid value for permessage-deflate parameter {name:?}")
            }
            Self::NotOffered => {
                f.write_str("the server's permessage-deflate response matches none of our offers")
            }
        }
    }
}

impl core::error::Error for NegotiationError {}

//! [`Error`]: why a WebSocket operation failed.

use std::fmt;
use std::io;

use ws_proto::{ProtocolError, SendError};

/// Why a WebSocket operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol: the Close with the error's code was sent and the
    /// connection is over.
    Protocol(ProtocolError),
    /// The stream failed (reset, broken pipe...): the connection is over.
    Io(io::Error),
    /// The connection is closing or closed: nothing more can be sent.
    Closed,
    /// The call itself was invalid (a control payload over 125 bytes, a close code that may
    /// not be sent, a reason over 123 bytes...); nothing changed.
    Invalid(SendError),
}

impl Error {
    pub(crate) fn from_send(e: SendError) -> Error {
        match e {
            SendError::Closing => Error::Closed,
            e => Error::Invalid(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "the peer broke the WebSocket protocol: {e}"),
            Error::Io(e) => write!(f, "the connection failed: {e}"),
            Error::Closed => f.write_str("the WebSocket is closed"),
            Error::Invalid(e) => write!(f, "invalid call: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Protocol(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Invalid(e) => Some(e),
            Error::Closed => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            e => io::Error::other(e),
        }
    }
}

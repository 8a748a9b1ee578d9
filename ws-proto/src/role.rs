//! Which end of the connection this endpoint is.

/// Which end of a WebSocket connection an endpoint plays (RFC 6455 section 5.1: the client
/// masks every frame it sends, the server never does; the server closes TCP first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that sent the opening handshake request.
    Client,
    /// The endpoint that answered the opening handshake.
    Server,
}

//! Sans-IO WebSocket (RFC 6455) for clients and servers, `no_std` + `alloc`.
//!
//! The crate never touches a socket, a clock or a random source: the driver feeds received
//! bytes, the current time and masking keys in, and takes bytes to send, timer deadlines and
//! events out. It runs the same under tokio, plain threads, a fuzzer or a test on virtual time.
//!
//! - [`handshake`]: the opening handshake for both roles.
//! - [`Connection`]: one connection after the handshake: framing, messages (whole or
//!   streamed), UTF-8 validation as bytes arrive, ping/pong, the close handshake, keepalive,
//!   and a limit with its own error for everything that could grow. Messages come in copied
//!   out of the caller's input (`handle_input`), or unmasked and validated where they lie in
//!   the driver's read buffer and handed out as slices of it (`handle_input_buf`, zero-copy).
//!   Messages go out owned
//!   (`send`, the payload shared, not copied), borrowed into the connection's buffer
//!   (`send_text`, `send_chunk` for a message in pieces), or borrowed straight into the
//!   driver's write buffer (`send_into`).
//! - [`frame`] and [`mask`]: the wire layer, usable on its own.
//! - [`deflate`] (feature `deflate`, on by default): permessage-deflate (RFC 7692), enabled
//!   per connection with `Connection::enable_deflate` after the handshake negotiated it.
//!
//! # Example: a client and a server over an in-memory pipe
//!
//! The opening handshake, then the drive loop: feed input, then drain every output
//! (`poll_transmit` until `None`, `poll_timeout`, `poll_event` until `None`).
//!
//! ```
//! use ws_proto::handshake::{Accept, ClientHandshake, ClientOutcome, ClientRequest, HandshakeLimits, ServerHandshake};
//! use ws_proto::{CloseCode, Config, Connection, Event, Instant, Message, SeededMasks};
//!
//! let now = Instant::ZERO; // virtual time: the driver supplies it
//!
//! // Opening handshake (the 16 key bytes come from the caller's random source).
//! let mut client_hs = ClientHandshake::new(&ClientRequest::new("example.com", "/chat", [3; 16]), HandshakeLimits::default())?;
//! let mut server_hs = ServerHandshake::new(HandshakeLimits::default());
//! let mut wire = Vec::new();
//! client_hs.write_request(&mut wire);
//! let request = server_hs.handle_input(&wire)?.expect("whole request");
//! let mut wire = Vec::new();
//! request.accept(&Accept::default(), &mut wire)?;
//! let Some(ClientOutcome::Accepted(accepted)) = client_hs.handle_input(&wire)? else { panic!("rejected") };
//!
//! // One connection on each side. Bytes after the heads (`leftover`) belong to the connection.
//! let mut client = Connection::client(now, Config::default(), SeededMasks::new(1));
//! let mut server = Connection::server(now, Config::default());
//! client.handle_input(now, accepted.leftover())?;
//! server.handle_input(now, request.leftover())?;
//!
//! // Move every byte one side transmits to the other.
//! fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
//!     let mut wire = Vec::new();
//!     while from.poll_transmit(&mut wire).is_some() {}
//!     to.handle_input(now, &wire).expect("valid frames");
//! }
//!
//! client.send(now, Message::text("hello"))?;
//! pump(&mut client, &mut server, now);
//! // The server echoes what it receives.
//! while let Some(event) = server.poll_event() {
//!     if let Event::Message(m) = event {
//!         server.send(now, m)?;
//!     }
//! }
//! pump(&mut server, &mut client, now);
//! assert_eq!(client.poll_event(), Some(Event::Message(Message::text("hello"))));
//!
//! // Close handshake. The peer's Close takes effect when the server takes the events before
//! // it (so it can still answer them): it echoes the Close automatically and finishes (a
//! // server closes the transport first). The client finishes when the transport closes.
//! client.close(now, CloseCode::NORMAL, "bye")?;
//! pump(&mut client, &mut server, now);
//! while let Some(event) = server.poll_event() {
//!     assert!(matches!(event, Event::CloseReceived(_) | Event::Closed(_)));
//! }
//! assert!(server.is_finished());
//! pump(&mut server, &mut client, now);
//! client.handle_eof(now);
//! assert!(client.is_finished());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Real drivers: `examples/echo-server.rs` and `examples/autobahn-client.rs` run this loop
//! over blocking `std::net` sockets with a thread per connection.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod close;
mod config;
mod connection;
mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
mod mask_source;
mod message;
mod role;
mod state;
mod time;
mod unmask_utf8;

#[cfg(feature = "deflate")]
pub mod deflate;

pub use close::{CloseCode, CloseFrame};
pub use config::{Config, Keepalive, MessageMode};
pub use connection::Connection;
pub use error::{ProtocolError, SendError};
pub use mask_source::{MaskSource, SeededMasks};
pub use message::{Chunk, Closed, Event, Message, MessageKind, MessageRef, Text};
pub use role::Role;
pub use time::Instant;

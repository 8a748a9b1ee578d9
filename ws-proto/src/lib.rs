//! Sans-IO WebSocket (RFC 6455) for clients and servers, `no_std` + `alloc`.
//!
//! The crate never touches a socket, a clock or a random source: the driver feeds received
//! bytes, the current time and masking keys in, and takes bytes to send, timer deadlines and
//! events out. It runs the same under tokio, plain threads, a fuzzer or a test on virtual time.
//!
//! - [`handshake`]: the opening handshake for both roles.
//! - [`Connection`]: one connection after the handshake: framing, whole or streamed messages,
//!   UTF-8 validation as bytes arrive, ping/pong, the close handshake, keepalive, and a limit
//!   with its own error for everything that could grow. Its methods and the one order in
//!   which to drain its outputs are listed on the type.
//! - [`frame`], [`mask`] and [`unmask_utf8`]: the wire layer and the unmask + UTF-8 kernels,
//!   usable on their own.
//! - [`deflate`] (feature `deflate`, on by default): permessage-deflate (RFC 7692),
//!   negotiated in the handshake and switched on with [`Config::deflate`].
//!
//! # Example: a client and a server over an in-memory pipe
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
//! client.input_buffer().extend_from_slice(accepted.leftover());
//! client.handle_input(now)?;
//! server.input_buffer().extend_from_slice(request.leftover());
//! server.handle_input(now)?;
//!
//! // The drive loop, for one side: events (answering them), then transmit, then the timer.
//! // Here the server echoes what it receives and `wire` stands in for the transport.
//! fn drive(conn: &mut Connection, now: Instant, wire: &mut Vec<u8>, echo: bool) -> Vec<Event> {
//!     let mut events = Vec::new();
//!     while let Some(event) = conn.poll_event() {
//!         if let (true, Event::Message(m)) = (echo, &event) {
//!             conn.send(now, m.clone()).expect("room to echo");
//!         }
//!         events.push(event);
//!     }
//!     while let Some(bytes) = conn.poll_transmit() {
//!         wire.extend_from_slice(&bytes);
//!     }
//!     let _timer = conn.poll_timeout();
//!     events
//! }
//! // A driver reads from the transport straight into `input_buffer()`; here, from `wire`.
//! fn deliver(wire: &mut Vec<u8>, to: &mut Connection, now: Instant) {
//!     to.input_buffer().extend_from_slice(wire);
//!     wire.clear();
//!     to.handle_input(now).expect("valid frames");
//! }
//!
//! let mut wire = Vec::new();
//! client.send(now, "hello")?;
//! drive(&mut client, now, &mut wire, false);
//! deliver(&mut wire, &mut server, now);
//! drive(&mut server, now, &mut wire, true);
//! deliver(&mut wire, &mut client, now);
//! assert_eq!(drive(&mut client, now, &mut wire, false), [Event::Message(Message::text("hello"))]);
//!
//! // Close handshake: the server echoes the Close automatically and finishes (a server closes
//! // the transport first); the client finishes when the transport closes.
//! client.close(now, CloseCode::NORMAL, "bye")?;
//! drive(&mut client, now, &mut wire, false);
//! deliver(&mut wire, &mut server, now);
//! let events = drive(&mut server, now, &mut wire, true);
//! assert!(matches!(events[..], [Event::CloseReceived(_), Event::Closed(_)]));
//! assert!(server.is_finished());
//! deliver(&mut wire, &mut client, now);
//! client.handle_eof(now);
//! drive(&mut client, now, &mut wire, false);
//! assert!(client.is_finished());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Real drivers: the blocking `std::net` examples in `examples/` and, for tokio, hyper and
//! axum, `rt-tokio`'s `ws` module.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod close;
#[cfg(feature = "deflate")]
mod compression;
mod config;
mod connection;
mod error;
mod events;
pub mod frame;
pub mod handshake;
mod lifecycle;
pub mod mask;
mod mask_source;
mod message;
mod reader;
mod role;
mod send;
mod time;
pub mod unmask_utf8;

#[cfg(feature = "deflate")]
pub mod deflate;

/// permessage-deflate is not compiled in: no value of this type exists, so the connection's
/// compression part is always `None`.
#[cfg(not(feature = "deflate"))]
mod compression {
    pub(crate) enum Compression {}
    pub(crate) type Comp<'a> = Option<&'a mut Compression>;
}

pub use close::{CloseCode, CloseFrame};
pub use config::{Config, Keepalive, MessageMode};
pub use connection::{Connection, SendStream};
pub use error::{ProtocolError, SendError};
#[cfg(feature = "std")]
pub use mask_source::OsMasks;
pub use mask_source::{MaskSource, SeededMasks};
pub use message::{Chunk, Closed, Event, Message, MessageKind, MessageRef, Text};
pub use role::Role;
pub use time::Instant;

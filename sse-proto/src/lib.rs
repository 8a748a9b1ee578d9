//! Sans-IO Server-Sent Events: a spec-exact, incremental, bounded `text/event-stream` parser,
//! its serializer, the EventSource client machine and server helpers. `no_std` + `alloc`.
//!
//! Nothing here touches a socket, a clock or a random source: the driver feeds bytes and
//! [`Instant`]s in, and drains outputs. So the same code runs under tokio, in an embedded
//! loop, on virtual time in tests, and under a fuzzer.
//!
//! # Layers
//!
//! - Wire layer, [`line`](mod@line): find a line end ([`line::decode_line`]) and split a line into a
//!   field ([`line::parse_line`]); borrowed, no allocation, no state.
//! - Parser, [`Parser`]: the WHATWG "event stream interpretation" over chunks of any size
//!   (BOM, CR/LF/CRLF across chunks, lossy UTF-8, `data`/`event`/`id`/`retry`), linear in the
//!   input however it is chunked, bounded by [`ParserConfig`] (each limit has its own
//!   [`ParseError`]). Chunks are borrowed or shared ([`Input`]); events hold [`Text`]s, and
//!   an event whose data lies in one line of shared input gets a slice of it.
//! - Serializer, [`Event`]: builds events that always parse back to themselves; writes into
//!   the caller's buffer ([`Event::write_to`], or [`Event::encode`] into a slice).
//! - Client, [`Client`]: the EventSource machine (CONNECTING / OPEN / CLOSED, response
//!   validation, reconnection with `retry`, backoff with injected jitter, idle timeout). All
//!   its states and transitions are listed in one file (`state.rs`).
//! - Server, [`RESPONSE_HEADERS`], [`KeepAlive`], [`ReplayBuffer`]: resuming from a
//!   `Last-Event-ID` replays what followed, or says [`Replay::Missed`].
//!
//! # Driving the client
//!
//! Inputs are `handle_*` (with `now` first), outputs `poll_*`. After any input, drain
//! [`Client::poll_event`] until `None`, then re-arm the timer from [`Client::poll_timeout`].
//! The example below is a whole conversation over an in-memory "network": connect, receive
//! events, lose the connection, wait the server's `retry`, resume with `Last-Event-ID`.
//!
//! ```
//! use core::time::Duration;
//! use sse_proto::{
//!     Client, ClientConfig, ClientEvent, Event, EventError, Instant, Replay, ReplayBuffer, ReplayConfig,
//!     SplitMix64,
//! };
//!
//! // The server: every event goes through a replay buffer.
//! let mut history = ReplayBuffer::new(ReplayConfig::DEFAULT);
//! fn serve(last_event_id: Option<&str>, history: &ReplayBuffer) -> Result<Vec<u8>, EventError> {
//!     let mut body = Vec::new();
//!     Event::new().retry(Duration::from_millis(500)).write_to(&mut body);
//!     match history.replay_since(last_event_id.unwrap_or("")) {
//!         Replay::Fresh => {}
//!         Replay::Events(missed) => body.extend(missed.concat()),
//!         Replay::Missed => {
//!             Event::new().event_type("reset")?.data("").write_to(&mut body);
//!         }
//!     }
//!     Ok(body)
//! }
//!
//! // The driver's state: a clock, an optional open "connection" holding unread bytes.
//! let mut now = Instant::ZERO;
//! let mut client = Client::new(now, ClientConfig::default(), SplitMix64::new(7));
//! let mut connection: Option<Vec<u8>> = None;
//! let mut received = Vec::new();
//! let mut connects = 0;
//!
//! for step in 0..20 {
//!     // 1. Drain every output.
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             ClientEvent::Connect => {
//!                 connects += 1;
//!                 let last_id = client
//!                     .request_headers()
//!                     .find(|(name, _)| *name == "Last-Event-ID")
//!                     .map(|(_, value)| value.to_owned());
//!                 // "Send the request", get the response head and the first body bytes.
//!                 client.handle_response_head(now, 200, Some("text/event-stream"), None)?;
//!                 connection = Some(serve(last_id.as_deref(), &history)?);
//!             }
//!             ClientEvent::Message(m) => received.push((m.data, m.last_event_id)),
//!             ClientEvent::Disconnect => connection = None,
//!             _ => {} // Open, Reconnecting, Failed, ...
//!         }
//!     }
//!     // 2. Deliver network input, in small chunks.
//!     if let Some(bytes) = connection.as_mut() {
//!         for chunk in bytes.chunks(5) {
//!             client.handle_input(now, chunk)?;
//!         }
//!         bytes.clear();
//!     }
//!     // 3. The server publishes live at step 1 (a new subscriber gets no history); at step 3
//!     //    it publishes, then the connection drops and it publishes once more.
//!     if step == 1 {
//!         let bytes = history.push(&Event::new().id("1")?.data("first"))?.to_vec();
//!         client.handle_input(now, &bytes)?;
//!     }
//!     if step == 3 {
//!         let bytes = history.push(&Event::new().id("2")?.data("second"))?.to_vec();
//!         client.handle_input(now, &bytes)?;
//!         history.push(&Event::new().id("3")?.data("sent while away"))?;
//!         connection = None;
//!         client.handle_network_error(now);
//!     }
//!     // 4. Advance virtual time to the next timer, if nothing else is pending.
//!     if let Some(deadline) = client.poll_timeout() {
//!         now = now.max(deadline);
//!         client.handle_timeout(now);
//!     }
//! }
//!
//! assert_eq!(connects, 2);
//! assert_eq!(now, Instant::from_millis(500), "reconnected after the server's retry");
//! let data: Vec<(&str, &str)> = received.iter().map(|(d, i)| (d.as_str(), i.as_str())).collect();
//! assert_eq!(data, [("first", "1"), ("second", "2"), ("sent while away", "3")]);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! # Features
//!
//! `std` (default) only lets `memchr` and `simdutf8` use runtime CPU feature detection (and
//! turns on `bytes/std`). Without it the crate
//! is `#![no_std]` and needs `alloc`.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
// Two `unsafe` blocks: in `text.rs` (a validated `Text` is not validated again) and in
// `line.rs` (the SSE2 line-end search of a 16-byte block).
#![deny(unsafe_code)]

extern crate alloc;

mod client;
mod config;
mod error;
mod event;
mod input;
pub mod line;
mod parser;
mod rng;
mod server;
mod state;
mod text;
mod time;

pub use client::{is_event_stream, Client, ClientEvent, DisconnectReason};
pub use config::{ClientConfig, ParserConfig, ReplayConfig};
pub use error::{EventError, ParseError, ReplayError, ResponseError, UsageError};
pub use event::{write_comment, Event};
pub use input::Input;
pub use parser::{EventRef, Item, ItemRef, MessageEvent, Parser};
pub use rng::{Rng, SplitMix64};
pub use server::{KeepAlive, Replay, ReplayBuffer, ReplayEvents, RESPONSE_HEADERS};
pub use state::ReadyState;
pub use text::Text;
pub use time::Instant;

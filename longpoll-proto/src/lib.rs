//! Sans-IO long polling: a lossless hold/release machine with cursors.
//!
//! * [`Channel`]: a bounded history of `(seq, message)` in an [`Epoch`]; when full it evicts
//!   the oldest messages (later polls see a gap) or refuses the publisher
//!   ([`Overflow`]).
//! * [`Hub`]: the server side. Tracks many held polls across many channels and clients by
//!   [`PollId`]; answers a poll at once (batch, gap, reset) or holds it until a publish or
//!   its deadline; supersedes duplicate polls; expires idle sessions; de-duplicates
//!   client→server batches ([`upstream`]).
//! * [`Client`]: the client's poll loop: cursor, de-duplication, gap/reset reporting,
//!   backoff with jitter. [`MultiClient`] does the same for several channels polled in one
//!   request ([`Hub::handle_multi_poll`]).
//! * [`http`]: the HTTP mapping as pure functions (query/headers → poll, outcome → status +
//!   headers + NDJSON body, and the client-side inverse).
//!
//! Nothing here touches a socket, a clock or a random source: time is an [`Instant`] the
//! driver passes in, randomness an [`Rng`] it provides. Builds with `#![no_std]` + `alloc`.
//!
//! # Semantics
//!
//! A [`Cursor`] `(epoch, seq)` names the last message a client received. A poll with a
//! cursor gets the messages after it (a bounded batch and the next cursor), or is held until
//! a publish or its deadline (then: empty, same cursor), or is told explicitly that it
//! missed messages ([`Outcome::Gap`]) or that history was lost ([`Outcome::Reset`]).
//! Delivery is at-least-once; the client de-duplicates by sequence number. Nothing is ever
//! skipped silently.
//!
//! # The driver loop
//!
//! After every input, drain `poll_response` (send each answer to the connection with that
//! poll id), then `poll_timeout` (arm one timer), then `poll_event`. Here a publish releases
//! a held poll on virtual time, and the answer travels through the HTTP mapping:
//!
//! ```
//! use bytes::Bytes;
//! use longpoll_proto::{
//!     http, ChannelName, Client, ClientConfig, ClientEvent, ClientId, Cursor, Epoch, Hub,
//!     HubConfig, Instant, Outcome, PollRequest, SplitMix64,
//! };
//! use core::time::Duration;
//!
//! let news = ChannelName::new("news").unwrap();
//! let me = ClientId::new("client-1").unwrap();
//! let mut hub = Hub::new(HubConfig::default(), Epoch(7));
//! let mut now = Instant::ZERO;
//! let mut client = Client::new(now, ClientConfig::default(), SplitMix64::new(1), Some(Cursor::new(7, 0)));
//!
//! // The client asks for a poll; the driver sends it as an HTTP request.
//! let next = client.poll_request(now).expect("a poll is due");
//! let query = http::poll_query(&news, next.cursor, next.timeout);
//! assert_eq!(query, "channel=news&cursor=7:0");
//!
//! // The server driver parses it and hands it to the hub: nothing new, so it is held.
//! let headers = [(http::CLIENT_HEADER, me.as_str().as_bytes())];
//! let request = http::parse_poll_request(&query, headers).unwrap();
//! let poll = hub.handle_poll(now, request);
//! assert!(hub.poll_response().is_none());
//! assert_eq!(hub.poll_timeout(), Some(now + Duration::from_secs(25)));
//!
//! // 100 ms later a message is published: the held poll is released.
//! now = now + Duration::from_millis(100);
//! hub.handle_timeout(now); // early: harmless
//! hub.publish(now, &news, Bytes::from_static(b"{\"hello\":1}")).unwrap();
//! let response = hub.poll_response().expect("released");
//! assert_eq!(response.poll, poll);
//!
//! // The driver renders it; the client side parses it back.
//! let rendered = http::render_response(&response.outcome);
//! assert_eq!(rendered.status, 200);
//! assert_eq!(rendered.body, b"{\"seq\":1,\"data\":\"{\\\"hello\\\":1}\"}\n");
//! let outcome = http::parse_poll_response(
//!     rendered.status,
//!     rendered.headers.iter().map(|(n, v)| (*n, v.as_bytes())),
//!     &rendered.body,
//!     &http::ParseLimits::default(),
//! )
//! .unwrap();
//! client.handle_response(now, outcome);
//! match client.poll_event() {
//!     Some(ClientEvent::Message { message, .. }) => assert_eq!(&message.data[..], b"{\"hello\":1}"),
//!     other => panic!("{other:?}"),
//! }
//! // The next poll goes out at once with the new cursor.
//! assert_eq!(client.poll_request(now).unwrap().cursor, Some(Cursor::new(7, 1)));
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

mod backoff;
mod channel;
mod client;
mod config;
mod cursor;
mod error;
mod hub;
mod id;
mod response;
mod rng;
mod slab;
pub mod state;
mod time;

mod body;
pub mod http;
pub mod upstream;

pub use backoff::Backoff;
pub use channel::{Channel, Read};
pub use client::{Client, ClientEvent, MultiClient, NextMultiPoll, NextPoll};
pub use config::{ChannelConfig, ClientConfig, DuplicatePoll, HubConfig, Overflow, UpstreamConfig};
pub use cursor::{Cursor, Epoch, Seq, MAX_CURSOR_TEXT_LEN};
pub use error::{CursorError, HttpError, NameError, PublishError, UpstreamError};
pub use hub::{Hub, MultiPollRequest, PollRequest, Subscription};
pub use id::{ChannelName, ClientId, PollId, MAX_NAME_LEN};
pub use response::{
    ChannelAnswer, EmptyReason, HubEvent, Message, Outcome, RejectReason, Response,
};
pub use rng::{Rng, SplitMix64};
pub use time::Instant;

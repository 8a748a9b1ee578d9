//! Sans-IO Server-Sent Events (WHATWG `text/event-stream`): work in progress.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

mod client;
mod config;
mod error;
mod event;
pub mod line;
mod parser;
mod rng;
mod server;
mod state;
mod time;

pub use client::{is_event_stream, Client, ClientEvent, DisconnectReason};
pub use config::{ClientConfig, ParserConfig, ReplayConfig};
pub use error::{EventError, ParseError, ReplayError, ResponseError, UsageError};
pub use event::{write_comment, Event};
pub use parser::{Item, MessageEvent, Parser};
pub use rng::{Rng, SplitMix64};
pub use server::{KeepAlive, Replay, ReplayBuffer, ReplayEvents, RESPONSE_HEADERS};
pub use state::ReadyState;
pub use time::Instant;

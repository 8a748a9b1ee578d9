//! Sans-IO WebSocket (RFC 6455) for clients and servers, `no_std` + `alloc`.
//!
//! The connection core (framing, messages, close, ping, limits) is being written; the
//! opening handshake lives in [`handshake`].
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod handshake;
mod role;

pub use role::Role;

#[cfg(feature = "deflate")]
pub mod deflate;

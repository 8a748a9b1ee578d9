//! Tokio drivers for the workspace's sans-IO protocol crates: WebSocket (`ws-proto`),
//! Server-Sent Events (`sse-proto`) and long polling (`longpoll-proto`), over real sockets,
//! hyper and axum, and one publish/subscribe hub behind all three.
//!
//! rt-tokio holds no protocol decisions: it moves bytes, owns the clock (tokio time) and the
//! randomness, and gives tokio users the API they expect.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[allow(dead_code)] // used by every transport as it lands
mod clock;
pub mod http;
pub mod hub;
#[cfg(feature = "longpoll")]
pub mod longpoll;
pub mod net;
#[cfg(feature = "sse")]
pub mod sse;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "ws")]
pub mod ws;

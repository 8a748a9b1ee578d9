//! Tokio drivers for the workspace's sans-IO protocol crates: WebSocket (`ws-proto`),
//! Server-Sent Events (`sse-proto`) and long polling (`longpoll-proto`), over real sockets,
//! hyper and axum, and one publish/subscribe hub behind all three.
//!
//! rt-tokio holds no protocol decisions: it moves bytes, owns the clock (tokio time) and the
//! randomness, and gives tokio users the API they expect.
//!
//! - [`ws`]: WebSocket client and server, over TCP, TLS (feature `tls`), hyper's upgrade and
//!   axum (feature `axum`).
//! - [`sse`]: a Server-Sent Events body fed by the hub, and an EventSource-like client.
//! - [`longpoll`]: the long-poll service on the hub, and the client poll loop.
//! - [`hub`]: channels with bounded history and cursors; publish once, every subscriber on
//!   every transport gets it.
//!
//! A WebSocket server and client:
//!
//! ```
//! use rt_tokio::ws::{accept, connect, CloseCode, Message, ServerOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/chat", listener.local_addr()?);
//! tokio::spawn(async move {
//!     while let Ok((tcp, _)) = listener.accept().await {
//!         tokio::spawn(async move {
//!             let Ok((mut ws, _request)) = accept(tcp, &ServerOptions::default()).await else {
//!                 return;
//!             };
//!             while let Some(Ok(message)) = ws.recv().await {
//!                 if ws.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! });
//!
//! let (mut ws, _response) = connect(&url).await?;
//! ws.send("hello").await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//! assert!(ws.close(CloseCode::NORMAL, "bye").await?.clean);
//! # Ok(())
//! # }
//! ```
//!
//! Each module's documentation opens with its own complete example (SSE and long polling,
//! client and server; the hub).
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

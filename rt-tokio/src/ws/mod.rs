//! WebSocket over tokio: a client ([`connect`], [`ClientBuilder`]; over HTTP/2 by RFC 8441
//! with [`Http2`] and a shared [`Http2Pool`]), a server over any stream ([`accept`],
//! [`accept_with`]), the hyper upgrade ([`upgrade`], HTTP/1.1 and HTTP/2) and, with the
//! `axum` feature, an axum extractor (`axum::WebSocketUpgrade`). Every protocol decision is
//! ws-proto's; this module moves bytes, owns the clock (tokio time) and the randomness (the
//! OS's, for masking and handshake keys).
//!
//! A server and a client on 127.0.0.1:
//!
//! ```
//! use rt_tokio::ws::{accept, connect, ServerOptions};
//! use ws_proto::Message;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/echo", listener.local_addr()?);
//!
//! // The server: accept a connection, echo every message.
//! tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let (mut ws, request) = accept(tcp, &ServerOptions::default()).await?;
//!     assert_eq!(request.path(), "/echo");
//!     while let Some(Ok(message)) = ws.recv().await {
//!         ws.send(message).await?;
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! // The client.
//! let (mut ws, _response) = connect(&url).await?;
//! ws.send("hello").await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//! let closed = ws.close(ws_proto::CloseCode::NORMAL, "bye").await?;
//! assert!(closed.clean);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod error;
mod h2;
mod read_pool;
mod server;
mod socket;
mod upgrade;

pub use client::{connect, ClientBuilder, ConnectError, Response};
pub use error::Error;
pub use h2::{Http2, Http2Pool};
pub use server::{accept, accept_with, AcceptError, Decision, ServerOptions};
pub use socket::{WebSocket, WsReader, WsWriter};
pub use upgrade::{upgrade, upgrade_with, HttpResponse, UpgradedSocket, Upgrading};
pub use ws_proto::{CloseCode, Closed, Message};

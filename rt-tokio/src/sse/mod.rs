//! Server-Sent Events over hyper: a server body fed by the hub ([`SseBody`],
//! [`SseService`]), and an EventSource-like client ([`EventSource`]).
//!
//! The protocol is sse-proto's: its serializer writes every event, its [`KeepAlive`]
//! times the comments, its [`Client`](sse_proto::Client) machine decides every
//! reconnection. The SSE `id:` of a hub message is its [`Cursor`](crate::hub::Cursor)
//! text, so a browser's `Last-Event-ID` resumes through the hub with exactly what it missed
//! (or a `gap` / `reset` event when the history no longer holds it).
//!
//! [`KeepAlive`]: sse_proto::KeepAlive
//!
//! ```
//! use rt_tokio::hub::{ChannelName, Hub, MemoryBackend, MemoryConfig};
//! use rt_tokio::sse::{EventSource, EventSourceConfig, SseClientEvent, SseConfig, SseService};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Hub::new(MemoryBackend::new(MemoryConfig::default()));
//! let news = ChannelName::new("news")?;
//!
//! // Server: GET /events?channel=news, on any hyper (or axum) server.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}/events?channel=news", listener.local_addr()?);
//! let service = SseService::new(hub.clone(), SseConfig::default());
//! tokio::spawn(rt_tokio::http::serve(listener, move |request| {
//!     let service = service.clone();
//!     async move { service.handle(request).await }
//! }));
//!
//! // Client: an EventSource that resumes by itself. Starting after the channel's head
//! // (as a reconnecting browser would, with its Last-Event-ID) it gets every message
//! // published from here on, however soon the server subscribes.
//! let mut config = EventSourceConfig::default();
//! config.last_event_id = Some(hub.head(&news).await?.to_string());
//! let mut events = EventSource::connect(&url, config)?;
//! let sent = hub.publish(&news, "hello").await?;
//! assert_eq!(events.next_event().await, Some(SseClientEvent::Open));
//! match events.next_event().await {
//!     Some(SseClientEvent::Message(m)) => {
//!         assert_eq!(m.data, "hello");
//!         assert_eq!(m.last_event_id, sent.to_string()); // the id is the hub cursor
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "axum")]
mod axum;
mod client;
mod server;

#[cfg(feature = "axum")]
pub use self::axum::LastEventId;
pub use client::{EventSource, EventSourceConfig, FailReason, InvalidUrl, SseClientEvent};
pub use server::{
    error_response, last_event_id, response, subscribe, SseBody, SseConfig, SseEvent, SseService,
};
pub use sse_proto::{ClientConfig, DisconnectReason, MessageEvent, ResponseError};

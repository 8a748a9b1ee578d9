//! Long polling over hyper: [`LongPollServer`], the server service on the longpoll-proto
//! hub fed by the rt-tokio [`Hub`](crate::hub::Hub), and [`LongPollClient`], longpoll-proto's
//! poll loop over hyper's client with upstream sends.
//!
//! The HTTP mapping is longpoll-proto's ([`longpoll_proto::http`]): `GET
//! ?channel=NAME&cursor=EPOCH:SEQ` with the client id in `Longpoll-Client`, answered 200
//! (NDJSON batch), 204 (timeout or superseded), 409 (gap), 410 (reset); `POST` NDJSON
//! batches acknowledged with `Longpoll-Ack`. The cursor is the hub's cursor text.
//!
//! ```
//! use rt_tokio::hub::{ChannelName, Hub, MemoryBackend, MemoryConfig};
//! use rt_tokio::longpoll::{
//!     ClientEvent, LongPollClient, LongPollClientConfig, LongPollConfig, LongPollServer,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Hub::new(MemoryBackend::new(MemoryConfig::default()));
//! let chat = ChannelName::new("chat")?;
//!
//! // Server: GET polls and POST sends on any path, on any hyper (or axum) server.
//! let server = LongPollServer::new(hub.clone(), LongPollConfig::default());
//! let mut upstream = server.upstream().expect("taken once");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}/poll", listener.local_addr()?);
//! tokio::spawn(rt_tokio::http::serve(listener, move |request| {
//!     let server = server.clone();
//!     async move { server.handle(request).await }
//! }));
//!
//! // Client: everything after the start of the channel's epoch.
//! let start = rt_tokio::hub::Cursor::start_of(hub.head(&chat).await?.epoch);
//! let mut client = LongPollClient::connect(&url, chat.clone(), Some(start), LongPollClientConfig::default())?;
//! hub.publish(&chat, "hello").await?;
//! match client.next_event().await {
//!     Some(ClientEvent::Message { message, .. }) => assert_eq!(&message.data[..], b"hello"),
//!     other => panic!("{other:?}"),
//! }
//!
//! // Client → server, acknowledged and de-duplicated.
//! let seq = client.send("hi from the client")?;
//! client.acknowledged(seq).await;
//! let message = upstream.recv().await.expect("one message");
//! assert_eq!((&message.data[..], &message.client), (&b"hi from the client"[..], client.id()));
//! # Ok(())
//! # }
//! ```

mod client;
mod mirror;
mod server;

pub use client::{LongPollClient, LongPollClientConfig};
pub use longpoll_proto::{ClientEvent, ClientId, Message};
pub use server::{LongPollConfig, LongPollServer, LongPollStats, Upstream, UpstreamMessage};

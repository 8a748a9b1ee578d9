//! `axum-hub [ADDR]`: one hub served over SSE and long polling on one axum router, with a
//! ticker publishing every second and a publish endpoint (default address 127.0.0.1:8080).
//!
//! ```sh
//! cargo run -p rt-tokio --features axum --example axum-hub
//! curl -N 'http://127.0.0.1:8080/sse?channel=chat'                     # SSE
//! curl 'http://127.0.0.1:8080/poll?channel=chat&client=me'             # one long poll
//! curl -X POST --data 'hello' 'http://127.0.0.1:8080/publish?channel=chat'
//! curl 'http://127.0.0.1:8080/status'
//! ```
//!
//! Upstream long-poll messages (`POST /poll`) are published on `chat`. `tests/axum_hub.rs`
//! serves [`app`] and drives every route with rt-tokio's clients.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rt_tokio::hub::{ChannelName, Hub, MemoryBackend, MemoryConfig};
use rt_tokio::longpoll::{LongPollConfig, LongPollServer};
use rt_tokio::sse::{LastEventId, SseConfig};

#[derive(Clone)]
struct App {
    hub: Hub,
    longpoll: LongPollServer,
}

type Params = Query<HashMap<String, String>>;

/// The `channel=NAME` parameter, or the 400 text saying what is wrong with it.
fn channel_of(params: &HashMap<String, String>) -> Result<ChannelName, String> {
    let name = params.get("channel").ok_or("missing channel")?;
    ChannelName::new(name).map_err(|e| format!("invalid channel: {e}"))
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

async fn sse(
    State(app): State<App>,
    LastEventId(from): LastEventId,
    Query(params): Params,
) -> Response {
    match channel_of(&params) {
        Ok(channel) => rt_tokio::sse::subscribe(&app.hub, &channel, from, &SseConfig::default())
            .await
            .into_response(),
        Err(message) => bad_request(message),
    }
}

async fn poll(State(app): State<App>, request: Request) -> Response {
    app.longpoll.handle(request).await.into_response()
}

async fn publish(State(app): State<App>, Query(params): Params, request: Request) -> Response {
    let channel = match channel_of(&params) {
        Ok(c) => c,
        Err(message) => return bad_request(message),
    };
    let body = match rt_tokio::http::read_body(request.into_body(), 64 << 10).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, format!("{e}\n")).into_response(),
    };
    match app.hub.publish(&channel, body).await {
        Ok(cursor) => (StatusCode::OK, format!("{cursor}\n")).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn status(State(app): State<App>) -> Response {
    let s = app.hub.stats().await;
    let channels: Vec<String> = s
        .channels
        .iter()
        .map(|c| {
            format!(
                "{{\"name\":\"{}\",\"head\":\"{}\",\"messages\":{},\"bytes\":{},\"subscribers\":{}}}",
                c.info.name, c.info.head, c.info.messages, c.info.bytes, c.subscribers
            )
        })
        .collect();
    let body = format!(
        "{{\"connections\":{{\"websocket\":{},\"sse\":{},\"longpoll\":{}}},\"published\":{},\"channels\":[{}]}}\n",
        s.connections.websocket,
        s.connections.sse,
        s.connections.longpoll,
        s.published,
        channels.join(",")
    );
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The router: SSE (`/sse`), long polling (`/poll`), publishing (`/publish`) and the hub's
/// figures (`/status`), all on `hub`. Spawns the task that publishes upstream long-poll
/// messages on `chat`.
pub fn app(hub: Hub) -> Router {
    let longpoll = LongPollServer::new(hub.clone(), LongPollConfig::default());
    let chat = ChannelName::new("chat").expect("a valid name");
    // Client → server messages arrive once each; this app publishes them on `chat`.
    let mut upstream = longpoll.upstream().expect("taken once");
    let h = hub.clone();
    tokio::spawn(async move {
        while let Some(m) = upstream.recv().await {
            if let Err(e) = h.publish(&chat, m.data).await {
                eprintln!("axum-hub: publish failed: {e}");
            }
        }
    });
    Router::new()
        .route("/sse", get(sse))
        .route("/poll", get(poll).post(poll))
        .route("/publish", post(publish))
        .route("/status", get(status))
        .with_state(App { hub, longpoll })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let hub = Hub::new(MemoryBackend::new(MemoryConfig::default()));
    // Something moving: a tick a second.
    let (h, ticks) = (
        hub.clone(),
        ChannelName::new("ticks").expect("a valid name"),
    );
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            n += 1;
            let _ = h.publish(&ticks, Bytes::from(format!("tick {n}"))).await;
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("axum-hub: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(hub)).await
}

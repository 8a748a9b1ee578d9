//! The demo server: one hub, served to the page over WebSocket (`/ws`), SSE (`/sse`) and
//! long polling (`/poll`), with `POST /send` for the HTTP transports, `/status`, `/cursor`,
//! `/ping` and the page's files.
//!
//! Channels: `room` (chat messages, resumable by cursor on every transport) and `ticks`
//! (one tick a second from [`ticker`], live only: a page never replays old ticks).
//! Limits are [`Limits`]'; every refusal is an error in the transport's own terms (an
//! HTTP status with a JSON body, a WebSocket error message or close code).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rt_tokio::http::{read_body, BodyError, CancellationToken, ConnectionInfo};
use rt_tokio::hub::{
    ChannelName, Cursor, Hub, Item, MemoryBackend, MemoryConfig, Seq, Subscription, Transport,
};
use rt_tokio::longpoll::{LongPollConfig, LongPollServer};
use rt_tokio::sse::{SseBody, SseConfig, SseEvent};
use rt_tokio::ws::{upgrade_with, CloseCode, Decision, Message, ServerOptions, UpgradedSocket};
use serde_json::{json, Value};

use crate::limits::{Limits, RecentIds, TokenBucket};
use crate::wire::{self, ClientFrame, Post, Refusal};

pub type BoxBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

const INDEX_HTML: &str = include_str!("assets/index.html");
const STYLE_CSS: &str = include_str!("assets/style.css");
const APP_JS: &str = include_str!("assets/app.js");

/// Everything the handlers share. Cloning shares it.
#[derive(Clone)]
pub struct App {
    pub hub: Hub,
    longpoll: LongPollServer,
    limits: Limits,
    room: ChannelName,
    ticks: ChannelName,
    /// Cancelled when the server shuts down: streams end, WebSockets close with 1001.
    pub shutdown: CancellationToken,
    recent: Arc<tokio::sync::Mutex<RecentIds>>,
    started: tokio::time::Instant,
    versions: Arc<HttpVersions>,
}

/// WebSockets accepted, SSE streams opened and polls received, by transport and HTTP
/// version (`/status`'s `http_versions`).
#[derive(Default)]
struct HttpVersions {
    /// `[transport][version]`: transports in [`HttpVersions::TRANSPORTS`] order, version 0
    /// for HTTP/1.x, 1 for HTTP/2.
    counts: [[AtomicU64; 2]; 3],
}

impl HttpVersions {
    const TRANSPORTS: [&'static str; 3] = ["websocket", "sse", "longpoll"];

    fn count(&self, transport: usize, version: http::Version) {
        let v = usize::from(version == http::Version::HTTP_2);
        self.counts[transport][v].fetch_add(1, Ordering::Relaxed);
    }

    fn json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (name, counts) in Self::TRANSPORTS.iter().zip(&self.counts) {
            let [h1, h2] = [0, 1].map(|v| counts[v].load(Ordering::Relaxed));
            out.insert(name.to_string(), json!({"http1": h1, "http2": h2}));
        }
        Value::Object(out)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A number in `0..1` that differs from call to call (for retry jitter; not for secrets).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl App {
    /// A new app (a new hub, so a new epoch) with these limits. Call inside a runtime.
    pub fn new(limits: Limits, shutdown: CancellationToken) -> App {
        let mut memory = MemoryConfig::default();
        memory.max_messages = limits.history_messages.max(1);
        memory.max_message_bytes = limits.max_frame_bytes.max(1024);
        Self::with_backend(limits, shutdown, Arc::new(MemoryBackend::new(memory)))
    }

    /// A new app on `backend` (several nodes share one Redis backend's channels), whose
    /// history holds `limits.history_messages`. Call inside a runtime.
    pub fn with_backend(
        limits: Limits,
        shutdown: CancellationToken,
        backend: Arc<dyn rt_tokio::hub::Backend>,
    ) -> App {
        let hub = Hub::from_arc(backend, rt_tokio::hub::HubConfig::default());
        // Long polling's window holds no more than the hub's history, so every transport
        // agrees on what the history holds (and reports the same gaps).
        let mut lp = LongPollConfig::default();
        lp.hub.channel.max_messages = lp
            .hub
            .channel
            .max_messages
            .min(limits.history_messages.max(1));
        let longpoll = LongPollServer::new(hub.clone(), lp);
        App {
            hub,
            longpoll,
            limits,
            room: ChannelName::new("room").expect("a valid name"),
            ticks: ChannelName::new("ticks").expect("a valid name"),
            shutdown,
            recent: Arc::new(tokio::sync::Mutex::new(RecentIds::new(limits.recent_ids))),
            started: tokio::time::Instant::now(),
            versions: Arc::default(),
        }
    }

    /// The handler of one connection: its own send budget, shared by every request on it.
    pub fn connection(
        &self,
        _info: ConnectionInfo,
    ) -> impl Fn(Request<Incoming>) -> futures_util::future::BoxFuture<'static, Response<BoxBody>>
           + Send
           + Sync
           + 'static {
        let app = self.clone();
        let sends = Arc::new(Mutex::new(TokenBucket::new(
            self.limits.send_burst,
            self.limits.send_per_second,
        )));
        move |req| {
            let (app, sends) = (app.clone(), sends.clone());
            Box::pin(async move { app.route(req, sends).await })
        }
    }

    async fn route(
        &self,
        req: Request<Incoming>,
        sends: Arc<Mutex<TokenBucket>>,
    ) -> Response<BoxBody> {
        let path = req.uri().path().to_string();
        match (req.method().clone(), path.as_str()) {
            (Method::GET, "/") => asset(INDEX_HTML, "text/html; charset=utf-8"),
            (Method::GET, "/style.css") => asset(STYLE_CSS, "text/css; charset=utf-8"),
            (Method::GET, "/app.js") => asset(APP_JS, "text/javascript; charset=utf-8"),
            (Method::GET, "/status") => self.status().await,
            (Method::GET, "/cursor") => self.cursor().await,
            (Method::GET, "/ping") => empty(StatusCode::NO_CONTENT),
            // An HTTP/1.1 upgrade is a GET; over HTTP/2 a WebSocket is an extended CONNECT
            // (RFC 8441).
            (Method::GET | Method::CONNECT, "/ws") => self.websocket(req),
            (Method::GET, "/sse") => self.sse(req).await,
            (Method::GET, "/poll") => self.poll(req).await,
            (Method::POST, "/send") => self.send_http(req, &sends).await,
            (
                _,
                "/" | "/style.css" | "/app.js" | "/status" | "/cursor" | "/ping" | "/ws" | "/sse"
                | "/poll",
            ) => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use GET (or POST /send)",
            ),
            (_, "/send") => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use POST",
            ),
            _ => problem(StatusCode::NOT_FOUND, "not_found", "no such page"),
        }
    }

    /// Where a new page starts: `backlog` messages back, within what the history holds.
    pub async fn backlog_start(&self) -> Cursor {
        let head = self.hub.head(&self.room).await.unwrap_or_default();
        let oldest = match self.hub.backend().channels().await {
            Ok(channels) => channels
                .iter()
                .find(|c| c.name == self.room)
                .map_or(head.seq.0 + 1, |c| c.oldest.0),
            Err(_) => head.seq.0 + 1,
        };
        let seq = head
            .seq
            .0
            .saturating_sub(self.limits.backlog)
            .max(oldest.saturating_sub(1));
        Cursor {
            epoch: head.epoch,
            seq: Seq(seq),
        }
    }

    async fn cursor(&self) -> Response<BoxBody> {
        json_response(
            StatusCode::OK,
            &json!({"cursor": self.backlog_start().await.to_string()}),
        )
    }

    /// The figures a status page shows.
    pub async fn status_json(&self) -> Value {
        let s = self.hub.stats().await;
        let lp = self.longpoll.stats();
        let channels: Vec<Value> = s
            .channels
            .iter()
            .map(|c| {
                json!({
                    "name": c.info.name.as_str(),
                    "head": c.info.head.to_string(),
                    "messages": c.info.messages,
                    "bytes": c.info.bytes,
                    "oldest": c.info.oldest.0,
                    "subscribers": c.subscribers,
                })
            })
            .collect();
        json!({
            "epoch": self.hub.head(&self.room).await.map(|h| h.epoch.0.to_string()).unwrap_or_default(),
            "uptime_s": self.started.elapsed().as_secs(),
            "connections": {
                "websocket": s.connections.websocket,
                "sse": s.connections.sse,
                "longpoll": s.connections.longpoll,
            },
            "longpoll": {"sessions": lp.sessions, "held_polls": lp.held_polls},
            "http_versions": self.versions.json(),
            "published": s.published,
            "publish_errors": s.publish_errors,
            "subscribers": s.subscribers,
            "channels": channels,
            "limits": {
                "max_frame_bytes": self.limits.max_frame_bytes,
                "max_text_chars": self.limits.max_text_chars,
                "max_name_chars": self.limits.max_name_chars,
                "send_burst": self.limits.send_burst,
                "send_per_second": self.limits.send_per_second,
                "history_messages": self.limits.history_messages,
            },
        })
    }

    async fn status(&self) -> Response<BoxBody> {
        json_response(StatusCode::OK, &self.status_json().await)
    }

    /// Publishes a checked post on `room`, once per id: a retried id gets its first cursor.
    pub async fn publish(&self, post: &Post, via: &str) -> Result<(Cursor, bool), Refusal> {
        let mut recent = self.recent.lock().await;
        if let Some(cursor) = recent.get(&post.id) {
            return Ok((cursor, true));
        }
        let cursor = self
            .hub
            .publish(&self.room, wire::payload(post, via, now_ms()))
            .await
            .map_err(|e| Refusal::new("unavailable", e.to_string()))?;
        recent.insert(post.id.clone(), cursor);
        Ok((cursor, false))
    }

    async fn send_http(
        &self,
        req: Request<Incoming>,
        sends: &Mutex<TokenBucket>,
    ) -> Response<BoxBody> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json_type {
            return problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type: application/json",
            );
        }
        let body = match read_body(req.into_body(), self.limits.max_frame_bytes).await {
            Ok(b) => b,
            Err(BodyError::TooLarge { limit }) => {
                return problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    &format!("body larger than {limit} bytes (max_frame_bytes)"),
                )
            }
            Err(e) => return problem(StatusCode::BAD_REQUEST, "bad_body", &e.to_string()),
        };
        let value: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    &format!("not JSON: {e}"),
                )
            }
        };
        let post = match wire::post_of(&value, &self.limits) {
            Ok(p) => p,
            Err(r) if r.code == "too_long" => {
                return problem(StatusCode::PAYLOAD_TOO_LARGE, r.code, &r.message)
            }
            Err(r) => return problem(StatusCode::BAD_REQUEST, r.code, &r.message),
        };
        let allowed = sends.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Err(wait) = allowed {
            let ms = wait.as_millis() as u64 + 1;
            let mut r = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"error": "rate_limited", "message": format!(
                    "at most {} messages at once and {} a second per connection; retry in {ms} ms",
                    self.limits.send_burst, self.limits.send_per_second),
                    "retry_after_ms": ms}),
            );
            let secs = ms.div_ceil(1000).max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        let via = req_via(&value).unwrap_or("http");
        match self.publish(&post, via).await {
            Ok((cursor, duplicate)) => json_response(
                StatusCode::OK,
                &json!({"id": post.id, "cursor": cursor.to_string(), "duplicate": duplicate}),
            ),
            Err(r) => problem(StatusCode::SERVICE_UNAVAILABLE, r.code, &r.message),
        }
    }

    /// `GET /sse`: `room` from `Last-Event-ID` (else `?cursor=`, else the backlog), with
    /// ticks merged in. Each stream tells the browser its own reconnection delay (1 to 2 s,
    /// jittered, so a restart does not bring every page back at the same instant).
    async fn sse(&self, req: Request<Incoming>) -> Response<BoxBody> {
        let version = req.version();
        let from = match rt_tokio::sse::last_event_id(req.headers()) {
            Ok(Some(c)) => c,
            Ok(None) => match query(&req, "cursor") {
                Some(text) => match text.parse() {
                    Ok(c) => c,
                    Err(e) => {
                        return problem(
                            StatusCode::BAD_REQUEST,
                            "invalid_cursor",
                            &format!("invalid cursor: {e}"),
                        )
                    }
                },
                None => self.backlog_start().await,
            },
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_cursor",
                    &format!("invalid Last-Event-ID: {e}"),
                )
            }
        };
        let (room, ticks) = match self.subscribe_both(from).await {
            Ok(s) => s,
            Err(r) => {
                let status = if r.code == "cursor_ahead" {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                return problem(status, r.code, &r.message);
            }
        };
        let shutdown = self.shutdown.clone();
        let events = futures_util::stream::unfold(
            (room, ticks, shutdown),
            |(mut room, mut ticks, shutdown)| async move {
                loop {
                    let event = tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => return None,
                        item = room.recv() => match item {
                            Ok(item) => SseEvent::from_item(&item),
                            Err(_) => return None,
                        },
                        item = ticks.recv() => match item {
                            Ok(Item::Message { data, .. }) => tick_event(&data),
                            Ok(_) => continue, // ticks are live only: a gap in them means nothing
                            Err(_) => return None,
                        },
                    };
                    return Some((event, (room, ticks, shutdown)));
                }
            },
        );
        let mut config = SseConfig::default();
        config.retry = Some(Duration::from_millis(1000 + (jitter() * 1000.0) as u64));
        let body = SseBody::new(events, &config).counted(&self.hub);
        self.versions.count(1, version);
        boxed(rt_tokio::sse::response(body))
    }

    async fn subscribe_both(&self, from: Cursor) -> Result<(Subscription, Subscription), Refusal> {
        let room = self
            .hub
            .subscribe(&self.room, Some(from))
            .await
            .map_err(|e| match e {
                rt_tokio::hub::SubscribeError::CursorAhead { .. } => {
                    Refusal::new("cursor_ahead", e.to_string())
                }
                e => Refusal::new("unavailable", e.to_string()),
            })?;
        let ticks = self
            .hub
            .subscribe(&self.ticks, None)
            .await
            .map_err(|e| Refusal::new("unavailable", e.to_string()))?;
        Ok((room, ticks))
    }

    /// `GET /poll`: longpoll-proto's multi-channel poll on the hub (rt-tokio's
    /// `LongPollServer`); a poll held at shutdown is answered 503 at once.
    async fn poll(&self, req: Request<Incoming>) -> Response<BoxBody> {
        self.versions.count(2, req.version());
        tokio::select! {
            response = self.longpoll.handle(req) => boxed(response),
            _ = self.shutdown.cancelled() => problem(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is restarting"),
        }
    }

    /// `GET /ws`: a same-origin WebSocket upgrade with ws-proto's limits from [`Limits`].
    fn websocket(&self, mut req: Request<Incoming>) -> Response<BoxBody> {
        let mut options = ServerOptions::default();
        options.config.max_message_size = self.limits.max_frame_bytes;
        options.config.max_frame_payload = self.limits.max_frame_bytes;
        options.config.keepalive = Some(ws_proto::Keepalive {
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(45),
        });
        let decided = upgrade_with(&mut req, &options, |r| {
            // Any page may open a WebSocket to any server: refuse other sites' pages.
            match r.origin() {
                Some(origin) if !same_origin(origin, r.host()) => {
                    Decision::reject(403, "this page's origin may not use this WebSocket")
                }
                _ => Decision::accept(&options, r),
            }
        });
        match decided {
            Ok((response, upgrading)) => {
                self.versions.count(0, req.version());
                let app = self.clone();
                tokio::spawn(async move {
                    match upgrading.await {
                        Ok(ws) => app.run_websocket(ws).await,
                        Err(e) => eprintln!("demo: upgrade failed: {e}"),
                    }
                });
                boxed(response)
            }
            Err(refusal) => boxed(refusal),
        }
    }

    /// One WebSocket: `hello` first, then hub items out and sends in, until either side
    /// closes or the server shuts down (close 1001).
    pub async fn run_websocket(&self, mut ws: UpgradedSocket) {
        let _counted = self.hub.connection(Transport::WebSocket);
        let limits = self.limits;
        let mut frames = TokenBucket::new(limits.frame_burst, limits.frames_per_second);
        let mut sends = TokenBucket::new(limits.send_burst, limits.send_per_second);
        let mut subscribed: Option<(Subscription, Subscription)> = None;
        let hello_deadline = tokio::time::sleep(limits.hello_timeout);
        tokio::pin!(hello_deadline);
        let ended = loop {
            let out = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break Some((CloseCode::GOING_AWAY, "the server is restarting")),
                _ = &mut hello_deadline, if subscribed.is_none() => {
                    break Some((CloseCode::POLICY_VIOLATION, "no hello in time"))
                }
                incoming = ws.recv() => {
                    let text = match incoming {
                        None => break None,
                        Some(Err(e)) => {
                            // ws-proto has sent the Close with the violation's code (1009 for
                            // an oversized message).
                            eprintln!("demo: websocket ended: {e}");
                            break None;
                        }
                        Some(Ok(Message::Binary(_))) => break Some((CloseCode::UNSUPPORTED_DATA, "text messages only")),
                        Some(Ok(Message::Text(t))) => t,
                    };
                    if frames.take().is_err() {
                        break Some((CloseCode::POLICY_VIOLATION, "flooding: too many messages a second"));
                    }
                    match wire::client_frame(text.as_str(), &limits) {
                        Err(refusal) => wire::error_frame(&refusal, None, None),
                        Ok(ClientFrame::Ping { t }) => wire::pong_frame(t),
                        Ok(ClientFrame::Hello { cursor }) => {
                            if subscribed.is_some() {
                                wire::error_frame(&Refusal::new("already_subscribed", "hello was already sent"), None, None)
                            } else {
                                let from = match cursor {
                                    Some(c) => c,
                                    None => self.backlog_start().await,
                                };
                                match self.subscribe_both(from).await {
                                    Ok(s) => {
                                        subscribed = Some(s);
                                        continue;
                                    }
                                    Err(r) if r.code == "cursor_ahead" => {
                                        let _ = ws.send(wire::error_frame(&r, None, None)).await;
                                        break Some((CloseCode::POLICY_VIOLATION, "cursor was never issued"));
                                    }
                                    Err(_) => break Some((TRY_AGAIN_LATER, "hub unavailable")),
                                }
                            }
                        }
                        Ok(ClientFrame::Send(post)) => {
                            if subscribed.is_none() {
                                wire::error_frame(&Refusal::new("not_subscribed", "send hello first"), Some(&post.id), None)
                            } else if let Err(wait) = sends.take() {
                                let refusal = Refusal::new("rate_limited", format!(
                                    "at most {} messages at once and {} a second", limits.send_burst, limits.send_per_second));
                                wire::error_frame(&refusal, Some(&post.id), Some(wait.as_millis() as u64 + 1))
                            } else {
                                match self.publish(&post, "ws").await {
                                    Ok((cursor, duplicate)) => wire::ack_frame(&post.id, cursor, duplicate),
                                    Err(r) => wire::error_frame(&r, Some(&post.id), None),
                                }
                            }
                        }
                    }
                }
                item = next_item(&mut subscribed) => match item {
                    Hubbed::Room(Some(item)) => wire::item_frame(&item),
                    Hubbed::Tick(Some(Item::Message { data, .. })) => wire::tick_frame(&data),
                    Hubbed::Tick(Some(_)) => continue, // ticks are live only
                    Hubbed::Room(None) | Hubbed::Tick(None) => {
                        break Some((TRY_AGAIN_LATER, "subscription ended, reconnect"))
                    }
                },
            };
            if ws.send(out).await.is_err() {
                break None;
            }
        };
        if let Some((code, reason)) = ended {
            // Close, then read until the peer's Close (bounded by ws-proto's close timeout).
            if ws.close(code, reason).await.is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while ws.recv().await.is_some() {}
                })
                .await;
            }
        }
    }
}

/// 1013 Try Again Later: the server cannot serve this connection now; reconnect.
const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);

/// An item of the room or the ticks subscription (`None`: that subscription ended).
enum Hubbed {
    Room(Option<Item>),
    Tick(Option<Item>),
}

/// The next item of either subscription; pending until `hello` subscribed.
async fn next_item(subs: &mut Option<(Subscription, Subscription)>) -> Hubbed {
    match subs {
        None => std::future::pending().await,
        Some((room, ticks)) => tokio::select! {
            biased;
            item = room.recv() => Hubbed::Room(item.ok()),
            item = ticks.recv() => Hubbed::Tick(item.ok()),
        },
    }
}

fn req_via(v: &Value) -> Option<&'static str> {
    match v.get("via").and_then(Value::as_str) {
        Some("sse") => Some("sse"),
        Some("longpoll") => Some("longpoll"),
        _ => None,
    }
}

/// Whether a browser `Origin` (`http://host:port`) names the host the request went to.
fn same_origin(origin: &str, host: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|o| o.eq_ignore_ascii_case(host))
}

fn query(req: &Request<Incoming>, name: &str) -> Option<String> {
    form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn tick_event(data: &[u8]) -> SseEvent {
    let text = String::from_utf8_lossy(data);
    let event = sse_proto::Event::new().data(&text);
    match event.event_type("tick") {
        Ok(named) => SseEvent::from(&named),
        Err(_) => SseEvent::data(&text),
    }
}

/// Publishes a tick on `ticks` every second until shutdown: the server's clock, uptime and
/// the figures of `/status`, so every page shows them live.
pub async fn ticker(app: App) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        n += 1;
        let status = app.status_json().await;
        let history: serde_json::Map<String, Value> = status["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_string(),
                    json!({"messages": c["messages"], "head": c["head"]}),
                ))
            })
            .collect();
        let tick = json!({
            "n": n,
            "at": now_ms(),
            "uptime_s": status["uptime_s"],
            "epoch": status["epoch"],
            "online": {
                "websocket": status["connections"]["websocket"],
                "sse": status["connections"]["sse"],
                "longpoll": status["longpoll"]["sessions"],
            },
            "published": status["published"],
            "history": history,
            "http_versions": status["http_versions"],
        });
        if let Err(e) = app.hub.publish(&app.ticks, tick.to_string()).await {
            eprintln!("demo: tick not published: {e}");
        }
    }
}

fn boxed<B>(response: Response<B>) -> Response<BoxBody>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    response.map(|b| b.map_err(Into::into).boxed_unsync())
}

fn with_headers(
    mut r: Response<BoxBody>,
    content_type: &'static str,
    cache: &'static str,
) -> Response<BoxBody> {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn asset(text: &'static str, content_type: &'static str) -> Response<BoxBody> {
    let r = boxed(Response::new(Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    let mut r = with_headers(r, content_type, "no-cache");
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    r
}

fn empty(status: StatusCode) -> Response<BoxBody> {
    let mut r = boxed(Response::new(Full::new(Bytes::new())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response<BoxBody> {
    let mut r = boxed(Response::new(Full::new(Bytes::from(format!("{v}\n")))));
    *r.status_mut() = status;
    with_headers(r, "application/json", "no-store")
}

/// An error answer: `{"error": code, "message": ...}` with `status`.
fn problem(status: StatusCode, code: &str, message: &str) -> Response<BoxBody> {
    json_response(status, &json!({"error": code, "message": message}))
}

//! The HTTP servers of the idle and fan-out benchmarks, each in a process of its own (this
//! binary re-run with an environment variable naming it), on a single-threaded tokio
//! runtime, written as rt-tokio's and axum's documentation show a user:
//!
//! - [`HttpServer::RtTokio`]: rt-tokio's hub behind `rt_tokio::http::serve_with`, with
//!   `GET /ws?channel=C` (hyper upgrade, then one hub subscription whose messages go out as
//!   text messages, whatever is queued in one write), `GET /sse?channel=C` (`SseService`), `GET /poll?channel=C` (held long
//!   polls, `LongPollServer`) and `GET /stream?n=N&size=S` (N ready events through `SseBody`).
//! - [`HttpServer::AxumSse`]: `GET /stream?n=N&size=S` through axum 0.8's `Sse`, the same
//!   events, and `GET /sse` (any query): an `Sse` stream that stays open with no events
//!   (axum's default keep-alive), for the idle benchmark.
//! - [`HttpServer::HyperHeld`]: hyper 1.x alone, as its own server example shows
//!   (`http1::Builder::new().serve_connection`, one task per connection), answering every
//!   request with a `text/event-stream` response that sends `retry: 3000` and then stays open:
//!   the least a held SSE stream costs on hyper's HTTP/1.1, which rt-tokio and axum are
//!   built on.
//!
//! Each writes `port N` on stdout first. The rt-tokio server then takes commands on stdin,
//! one a line, answering each with one line on stdout:
//!
//! | command | answer |
//! | --- | --- |
//! | `publish ROUND SIZE` | `published ROUND`: one message on channel `fan` |
//! | `burst COUNT SIZE` | `burst T0`: COUNT messages published back to back from `T0` |
//! | `stats` | `stats SUBSCRIBERS HELD_POLLS`: live hub subscriptions, held long polls |
//!
//! A published message is text, `SIZE` bytes: `INDEX T_NS` then padding, `T_NS` the
//! [`monotonic_ns`] just before it was published, so a subscriber in another process
//! knows how long it took to reach it. Every server exits when its stdin closes.

use std::convert::Infallible;
use std::io::Write as _;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use rt_tokio::http::{serve_with, CancellationToken, ServeConfig};
use rt_tokio::hub::{ChannelName, Hub, MemoryBackend, MemoryConfig};
use rt_tokio::longpoll::{LongPollConfig, LongPollServer};
use rt_tokio::sse::{SseBody, SseConfig, SseEvent, SseService};
use tokio::net::TcpListener;

use crate::stats::monotonic_ns;

/// The channel of every benchmark subscription.
pub const CHANNEL: &str = "fan";
/// Most connections a server process accepts (the hard open-files limit is 20,000).
pub const MAX_CONNECTIONS: usize = 20_000;

/// The HTTP servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpServer {
    /// rt-tokio: hub, WebSocket, SSE, long polling, SSE stream.
    RtTokio,
    /// axum's `Sse`: the SSE stream, and held `Sse` streams.
    AxumSse,
    /// hyper 1.x alone: held event-stream responses.
    HyperHeld,
}

impl HttpServer {
    /// The name on the command line and in the environment.
    pub fn name(self) -> &'static str {
        match self {
            HttpServer::RtTokio => "rt-tokio-hub",
            HttpServer::AxumSse => "axum-sse",
            HttpServer::HyperHeld => "hyper-held",
        }
    }
}

impl FromStr for HttpServer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            HttpServer::RtTokio,
            HttpServer::AxumSse,
            HttpServer::HyperHeld,
        ]
        .into_iter()
        .find(|k| k.name() == s)
        .ok_or_else(|| format!("unknown HTTP server {s:?}"))
    }
}

/// The text of message `index` published at `t_ns`, `size` bytes (at least the two numbers).
pub fn stamped(index: u64, t_ns: u64, size: usize) -> String {
    let mut text = format!("{index} {t_ns} ");
    while text.len() < size {
        text.push('x');
    }
    text
}

/// The index and time stamp of a [`stamped`] message.
pub fn parse_stamp(data: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(data).ok()?;
    let mut words = text.split(' ');
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

/// The payload of every event of `/stream`: `size` bytes of JSON-like text, no line breaks.
pub fn stream_payload(size: usize) -> String {
    let mut text = String::from("{\"user\":\"bench\",\"text\":\"");
    let mut i = 0u32;
    while text.len() + 2 < size {
        text.push((b'a' + (i % 26) as u8) as char);
        i += 1;
    }
    text.push_str("\"}");
    text.truncate(size.max(1));
    text
}

/// `n` and `size` of a `/stream` request (defaults 1,000 and 100 B; at most 10,000,000
/// events of 64 KiB).
fn stream_query(query: Option<&str>) -> (u64, usize) {
    let mut n = 1000u64;
    let mut size = 100usize;
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("n", v)) => n = v.parse().unwrap_or(n),
            Some(("size", v)) => size = v.parse().unwrap_or(size),
            _ => {}
        }
    }
    (n.min(10_000_000), size.clamp(1, 64 << 10))
}

/// Runs `server` on 127.0.0.1 (an ephemeral port, written to stdout as `port N`) until
/// stdin closes, pinned to `cpu` when given.
pub fn run(server: HttpServer, cpu: Option<usize>) -> ! {
    if let Some(cpu) = cpu {
        if !crate::stats::pin_to_cpu(cpu) {
            eprintln!("{}: could not pin to CPU {cpu}", server.name());
        }
    }
    if let Err(e) = crate::stats::raise_nofile_limit() {
        eprintln!(
            "{}: could not raise the open-files limit: {e}",
            server.name()
        );
    }
    let mut command_rx = crate::process::stdin_commands();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result: std::io::Result<()> = runtime.block_on(async move {
        let listener = crate::stats::local_listener()?;
        let port = listener.local_addr()?.port();
        say(&format!("port {port}"));
        match server {
            HttpServer::AxumSse => axum_sse(listener).await,
            HttpServer::HyperHeld => hyper_held(listener).await,
            HttpServer::RtTokio => {
                let app = App::new();
                let mut config = ServeConfig::default();
                config.max_connections = MAX_CONNECTIONS;
                let serving = app.clone();
                tokio::spawn(serve_with(
                    listener,
                    config,
                    CancellationToken::new(),
                    move |_| {
                        let app = serving.clone();
                        move |req| app.clone().route(req)
                    },
                ));
                while let Some(line) = command_rx.recv().await {
                    app.command(&line).await;
                }
                Ok(())
            }
        }
    });
    if let Err(e) = result {
        eprintln!("{}: {e}", server.name());
    }
    std::process::exit(1)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

type Body = Either<SseBody, Full<Bytes>>;

#[derive(Clone)]
struct App {
    hub: Hub,
    sse: SseService,
    longpoll: LongPollServer,
    channel: ChannelName,
}

impl App {
    fn new() -> Self {
        let hub = Hub::new(MemoryBackend::new(MemoryConfig::default()));
        let sse = SseService::new(hub.clone(), SseConfig::default());
        // Polls are held for the whole measurement (longpoll-proto's default is 25 s).
        let mut lp = LongPollConfig::default();
        lp.hub.hold = Duration::from_secs(600);
        lp.hub.max_hold = Duration::from_secs(600);
        let longpoll = LongPollServer::new(hub.clone(), lp);
        App {
            hub,
            sse,
            longpoll,
            channel: ChannelName::new(CHANNEL).expect("a valid name"),
        }
    }

    async fn route(self, mut req: Request<Incoming>) -> Response<Body> {
        match req.uri().path() {
            "/ws" => self.websocket(&mut req).map(Either::Right),
            "/sse" => self.sse.handle(req).await.map(Either::Left),
            "/poll" => self.longpoll.handle(req).await.map(Either::Right),
            "/stream" => {
                let (n, size) = stream_query(req.uri().query());
                let payload = stream_payload(size);
                let events = futures_util::stream::iter(0..n).map(move |i| {
                    let id = i.to_string();
                    let event = sse_proto::Event::new().data(&payload);
                    match event.id(&id) {
                        Ok(event) => SseEvent::from(&event),
                        Err(_) => SseEvent::from(&sse_proto::Event::new().data(&payload)),
                    }
                });
                rt_tokio::sse::response(SseBody::new(events, &SseConfig::default()))
                    .map(Either::Left)
            }
            _ => rt_tokio::http::text_response(http::StatusCode::NOT_FOUND, "no such path")
                .map(Either::Right),
        }
    }

    /// One WebSocket subscribed to the channel: every hub message out as a text message,
    /// until the client goes.
    fn websocket(&self, req: &mut Request<Incoming>) -> Response<Full<Bytes>> {
        use rt_tokio::hub::Item;
        use rt_tokio::ws::{upgrade, Message, ServerOptions};
        let (response, upgrading) = match upgrade(req, &ServerOptions::default()) {
            Ok(upgraded) => upgraded,
            Err(refusal) => return refusal,
        };
        let hub = self.hub.clone();
        let channel = self.channel.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = upgrading.await else { return };
            let Ok(mut sub) = hub.subscribe(&channel, None).await else {
                return;
            };
            // Hub payloads are shared bytes: a text message without a copy.
            let text = |item: Item| match item {
                Item::Message { data, .. } => {
                    ws_proto::Text::from_utf8(data).ok().map(Message::Text)
                }
                _ => None,
            };
            'socket: loop {
                tokio::select! {
                    item = sub.recv() => {
                        let Ok(item) = item else { break };
                        // Everything already queued goes out in one write, as SseBody does.
                        let mut next = Some(item);
                        while let Some(item) = next.take() {
                            if let Some(message) = text(item) {
                                if ws.feed(message).await.is_err() {
                                    break 'socket;
                                }
                            }
                            if sub.queued() > 0 {
                                match sub.recv().await {
                                    Ok(item) => next = Some(item),
                                    Err(_) => break 'socket,
                                }
                            }
                        }
                        if ws.flush().await.is_err() {
                            break;
                        }
                    }
                    incoming = ws.recv() => match incoming {
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                }
            }
        });
        response
    }

    async fn command(&self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["publish", round, size] => {
                let (Ok(round), Ok(size)) = (round.parse::<u64>(), size.parse::<usize>()) else {
                    say("error: publish ROUND SIZE");
                    return;
                };
                let text = stamped(round, monotonic_ns(), size);
                match self.hub.publish(&self.channel, text).await {
                    Ok(_) => say(&format!("published {round}")),
                    Err(e) => say(&format!("error: publish: {e}")),
                }
            }
            ["burst", count, size] => {
                let (Ok(count), Ok(size)) = (count.parse::<u64>(), size.parse::<usize>()) else {
                    say("error: burst COUNT SIZE");
                    return;
                };
                let t0 = monotonic_ns();
                for i in 0..count {
                    let text = stamped(i, monotonic_ns(), size);
                    if let Err(e) = self.hub.publish(&self.channel, text).await {
                        say(&format!("error: publish: {e}"));
                        return;
                    }
                }
                say(&format!("burst {t0}"));
            }
            ["stats"] => {
                let hub = self.hub.stats().await;
                let lp = self.longpoll.stats();
                say(&format!("stats {} {}", hub.subscribers, lp.held_polls));
            }
            _ => say(&format!("error: unknown command {line:?}")),
        }
    }
}

use futures_util::StreamExt as _;

async fn axum_sse(listener: TcpListener) -> std::io::Result<()> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::routing::get;
    use axum::serve::ListenerExt as _;

    async fn stream(
        uri: http::Uri,
    ) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
        let (n, size) = stream_query(uri.query());
        let payload = stream_payload(size);
        let events = futures_util::stream::iter(0..n)
            .map(move |i| Ok(Event::default().id(i.to_string()).data(&payload)));
        Sse::new(events).keep_alive(KeepAlive::default())
    }
    /// Open until the client goes, with no events (keep-alive comments only).
    async fn held() -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
        Sse::new(futures_util::stream::pending()).keep_alive(KeepAlive::default())
    }
    let app = axum::Router::new()
        .route("/stream", get(stream))
        .route("/sse", get(held));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// hyper 1.x alone: every request answered with an event stream that sends `retry: 3000`
/// and then stays open.
async fn hyper_held(listener: TcpListener) -> std::io::Result<()> {
    use hyper::body::Frame;
    use hyper_util::rt::TokioIo;

    async fn held(
        _req: Request<Incoming>,
    ) -> Result<
        Response<
            http_body_util::StreamBody<
                impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>>,
            >,
        >,
        Infallible,
    > {
        let opening = Frame::data(Bytes::from_static(b"retry: 3000\n\n"));
        let frames = futures_util::stream::once(async { Ok(opening) })
            .chain(futures_util::stream::pending());
        let mut response = Response::new(http_body_util::StreamBody::new(frames));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/event-stream"),
        );
        Ok(response)
    }
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                eprintln!("hyper-held: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), hyper::service::service_fn(held)),
        );
    }
}

//! The SSE server side: [`SseBody`], a hyper body fed by a hub subscription or any
//! `Stream` of [`SseEvent`]s, and [`SseService`], which answers `GET ?channel=NAME` with a
//! stream resumed from `Last-Event-ID` through the hub.
//!
//! A stream opens with `retry:` (sse-proto's serializer), then carries events as they come
//! (several ready events go out as one frame), and a keep-alive comment whenever it has
//! been quiet for [`SseConfig::keep_alive`] (sse-proto's [`KeepAlive`]). Hub items map to
//! events as: a message → `id: EPOCH:SEQ` + `data:`; a gap → `event: gap`; a reset →
//! `event: reset`, each with the cursor to resume from as its `id:`, so a reconnecting
//! EventSource resumes after it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use sse_proto::{Event, KeepAlive, RESPONSE_HEADERS};
use tokio::time::Sleep;

use crate::clock;
use crate::http::query_param;
use crate::hub::{
    ChannelName, ConnectionGuard, Cursor, CursorError, Hub, Item, SubscribeError, Subscription,
    Transport,
};

/// Knobs of an SSE stream.
///
/// | knob | default |
/// | --- | --- |
/// | [`keep_alive`](Self::keep_alive) | 15 s |
/// | [`retry`](Self::retry) | 3 s |
/// | [`max_frame_bytes`](Self::max_frame_bytes) | 64 KiB |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SseConfig {
    /// A comment goes out when nothing was sent for this long (`None`: never). Default 15 s.
    pub keep_alive: Option<Duration>,
    /// Sent as `retry:` when the stream opens (`None`: not sent). Default 3 s.
    pub retry: Option<Duration>,
    /// Ready events are joined into one body frame up to about this many bytes. Default 64 KiB.
    pub max_frame_bytes: usize,
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig {
            keep_alive: Some(Duration::from_secs(15)),
            retry: Some(Duration::from_secs(3)),
            max_frame_bytes: 64 << 10,
        }
    }
}

/// One serialized event, ready to send. Built with sse-proto's [`Event`] builder, so it
/// always parses back to itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent(Bytes);

impl SseEvent {
    /// A `message` event with this data.
    pub fn data(data: &str) -> Self {
        SseEvent::from(&Event::new().data(data))
    }

    /// The serialized bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The event a hub item becomes: a message with its cursor as `id:`, a gap or a reset
    /// as a named event (`gap` / `reset`) with a JSON body and the cursor to resume from as
    /// `id:`. A payload that is not UTF-8 becomes an event named `binary` whose data is its
    /// base64 (standard alphabet, padded).
    pub fn from_item(item: &Item) -> Self {
        let id = item.cursor().to_string();
        let event = |kind: Option<&str>, data: &str| {
            let mut e = Event::new().data(data);
            // Cursor text and these names hold no CR, LF or NUL: always accepted.
            if let Ok(with_id) = e.id(&id) {
                e = with_id;
            }
            if let Some(kind) = kind {
                if let Ok(named) = e.event_type(kind) {
                    e = named;
                }
            }
            SseEvent::from(&e)
        };
        match item {
            Item::Message { data, .. } => match std::str::from_utf8(data) {
                Ok(text) => event(None, text),
                Err(_) => event(
                    Some("binary"),
                    &base64::engine::general_purpose::STANDARD.encode(data),
                ),
            },
            Item::Gap {
                missed_from,
                missed_to,
                resume,
            } => event(
                Some("gap"),
                &format!(
                    "{{\"missed_from\":{missed_from},\"missed_to\":{missed_to},\"cursor\":\"{resume}\"}}"
                ),
            ),
            Item::Reset { previous, resume } => event(
                Some("reset"),
                &format!("{{\"previous\":{previous},\"cursor\":\"{resume}\"}}"),
            ),
        }
    }
}

impl From<&Event<'_>> for SseEvent {
    fn from(event: &Event<'_>) -> Self {
        let mut out = Vec::with_capacity(event.encoded_len());
        event.write_to(&mut out);
        SseEvent(Bytes::from(out))
    }
}

enum Kind {
    /// A `text/event-stream` body.
    Stream {
        source: Option<Pin<Box<dyn Stream<Item = SseEvent> + Send>>>,
        keep_alive: Option<(KeepAlive, Pin<Box<Sleep>>)>,
        opening: Option<Bytes>,
        max_frame_bytes: usize,
    },
    /// A short error body.
    Fixed(Option<Bytes>),
}

/// A hyper (and axum) response body: an event stream, or a short error text.
///
/// It ends when its source ends; hyper drops it when the client goes away, which drops
/// the source (a hub subscription unsubscribes).
pub struct SseBody {
    kind: Kind,
    _connection: Option<ConnectionGuard>,
}

impl std::fmt::Debug for SseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseBody").finish_non_exhaustive()
    }
}

fn now() -> sse_proto::Instant {
    sse_proto::Instant::from_micros(clock::now_micros())
}

impl SseBody {
    /// An event stream fed by `events`.
    pub fn new(events: impl Stream<Item = SseEvent> + Send + 'static, config: &SseConfig) -> Self {
        let opening = config.retry.map(|retry| {
            let mut out = Vec::new();
            Event::new().retry(retry).write_to(&mut out);
            Bytes::from(out)
        });
        let keep_alive = config.keep_alive.map(|interval| {
            let ka = KeepAlive::new(now(), interval);
            let sleep = Box::pin(tokio::time::sleep_until(clock::instant_at(
                ka.poll_timeout().as_micros(),
            )));
            (ka, sleep)
        });
        SseBody {
            kind: Kind::Stream {
                source: Some(Box::pin(events)),
                keep_alive,
                opening,
                max_frame_bytes: config.max_frame_bytes.max(1),
            },
            _connection: None,
        }
    }

    /// An event stream of a hub subscription's items ([`SseEvent::from_item`]). It ends
    /// when the subscription ends (cut off as slow, backend failure): the client
    /// reconnects with its `Last-Event-ID` and resumes from history.
    pub fn from_subscription(subscription: Subscription, config: &SseConfig) -> Self {
        let events = futures_util::stream::unfold(subscription, |mut sub| async move {
            match sub.recv().await {
                Ok(item) => Some((SseEvent::from_item(&item), sub)),
                Err(e) => {
                    tracing::debug!(channel = %sub.channel(), "sse: subscription ended: {e}");
                    None
                }
            }
        });
        SseBody::new(events, config)
    }

    /// Counts this stream as an open SSE connection of `hub` while it lives.
    pub fn counted(mut self, hub: &Hub) -> Self {
        self._connection = Some(hub.connection(Transport::Sse));
        self
    }

    fn fixed(text: String) -> Self {
        SseBody {
            kind: Kind::Fixed(Some(Bytes::from(text))),
            _connection: None,
        }
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let (source, keep_alive, opening, max_frame_bytes) = match &mut self.get_mut().kind {
            Kind::Fixed(bytes) => return Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream {
                source,
                keep_alive,
                opening,
                max_frame_bytes,
            } => (source, keep_alive, opening, *max_frame_bytes),
        };
        if let Some(bytes) = opening.take() {
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        let mut out = Vec::new();
        while let Some(events) = source.as_mut() {
            match events.as_mut().poll_next(cx) {
                Poll::Ready(Some(event)) => {
                    out.extend_from_slice(event.as_bytes());
                    if out.len() >= max_frame_bytes {
                        break;
                    }
                }
                Poll::Ready(None) => *source = None,
                Poll::Pending => break,
            }
        }
        if !out.is_empty() {
            if let Some((ka, sleep)) = keep_alive.as_mut() {
                ka.handle_sent(now());
                sleep
                    .as_mut()
                    .reset(clock::instant_at(ka.poll_timeout().as_micros()));
            }
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
        }
        if source.is_none() {
            return Poll::Ready(None);
        }
        if let Some((ka, sleep)) = keep_alive.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                ka.handle_timeout(now());
                let mut comment = Vec::new();
                let sent = ka.poll_transmit(&mut comment).is_some();
                sleep
                    .as_mut()
                    .reset(clock::instant_at(ka.poll_timeout().as_micros()));
                if sent {
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(comment)))));
                }
                // Not due after all (the clock said otherwise): wait for the new deadline.
                let _ = sleep.as_mut().poll(cx);
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Fixed(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Fixed(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Kind::Fixed(None) => SizeHint::with_exact(0),
            Kind::Stream { .. } => SizeHint::default(),
        }
    }
}

/// A `200 text/event-stream` response around `body`, with sse-proto's head
/// (`Cache-Control: no-cache, no-transform`, `X-Accel-Buffering: no`).
pub fn response(body: SseBody) -> Response<SseBody> {
    let mut response = Response::new(body);
    // Sized to the headers: hyper keeps the map (cleared) for the connection's next message,
    // so its room stays with an event stream for its whole life.
    *response.headers_mut() = HeaderMap::with_capacity(RESPONSE_HEADERS.len());
    for (name, value) in RESPONSE_HEADERS {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A short plain-text error response (for a request that cannot be served).
pub fn error_response(status: StatusCode, message: &str) -> Response<SseBody> {
    let mut response = Response::new(SseBody::fixed(format!("{message}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The `Last-Event-ID` of a request as a hub cursor: `Ok(None)` when absent or empty.
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<Cursor>, CursorError> {
    let mut values = headers.get_all("last-event-id").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(CursorError::NotANumber);
    }
    let text = value.to_str().map_err(|_| CursorError::NotANumber)?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some)
}

/// Subscribes to `channel` from `from` and answers with the stream (counted as an SSE
/// connection of `hub`), or with the status a refusal deserves: 400 for a cursor that
/// was never issued, 503 for a limit or a failed backend.
pub async fn subscribe(
    hub: &Hub,
    channel: &ChannelName,
    from: Option<Cursor>,
    config: &SseConfig,
) -> Response<SseBody> {
    match hub.subscribe(channel, from).await {
        Ok(sub) => response(SseBody::from_subscription(sub, config).counted(hub)),
        Err(e @ SubscribeError::CursorAhead { .. }) => {
            error_response(StatusCode::BAD_REQUEST, &e.to_string())
        }
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Serves hub channels as event streams: `GET <any path>?channel=NAME`, resuming after
/// the request's `Last-Event-ID` (or, when it has none, after a `cursor=EPOCH:SEQ` query
/// parameter, for a page's first connection). Errors are short texts: 405 for another
/// method, 400 for a missing or invalid channel or cursor.
#[derive(Clone, Debug)]
pub struct SseService {
    hub: Hub,
    config: SseConfig,
}

impl SseService {
    /// A service over `hub`.
    pub fn new(hub: Hub, config: SseConfig) -> Self {
        SseService { hub, config }
    }

    /// Answers one request.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<SseBody> {
        if request.method() != http::Method::GET {
            return error_response(StatusCode::METHOD_NOT_ALLOWED, "use GET");
        }
        let query = request.uri().query();
        let Some(name) = query_param(query, "channel") else {
            return error_response(StatusCode::BAD_REQUEST, "missing channel parameter");
        };
        let channel = match ChannelName::new(&name) {
            Ok(c) => c,
            Err(e) => {
                return error_response(StatusCode::BAD_REQUEST, &format!("invalid channel: {e}"))
            }
        };
        let from = match last_event_id(request.headers()) {
            Ok(Some(c)) => Some(c),
            Ok(None) => match query_param(query, "cursor").map(|c| c.parse::<Cursor>()) {
                None => None,
                Some(Ok(c)) => Some(c),
                Some(Err(e)) => {
                    return error_response(StatusCode::BAD_REQUEST, &format!("invalid cursor: {e}"))
                }
            },
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid Last-Event-ID: {e}"),
                )
            }
        };
        // Boxed: a caller's future that routes to this and to a held long poll keeps room
        // for the larger of the two for as long as the poll is held.
        Box::pin(subscribe(&self.hub, &channel, from, &self.config)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Seq;
    use http_body_util::BodyExt;

    #[test]
    fn the_response_head_holds_its_headers_and_no_spare_room() {
        let response = response(SseBody::fixed(String::new()));
        let headers = response.headers();
        for (name, value) in RESPONSE_HEADERS {
            assert_eq!(
                headers.get(name).map(|v| v.as_bytes()),
                Some(value.as_bytes())
            );
        }
        assert_eq!(headers.len(), RESPONSE_HEADERS.len());
        // hyper keeps this map for the connection's next message: room for more headers
        // would stay with the stream for its whole life.
        assert!(
            headers.capacity() <= RESPONSE_HEADERS.len() + 1,
            "{}",
            headers.capacity()
        );
    }

    #[test]
    fn hub_items_become_events_that_resume_after_them() {
        let cases = [
            (
                Item::Message {
                    cursor: Cursor::new(7, 3),
                    data: Bytes::from_static(b"hi\nthere"),
                },
                "id: 7:3\ndata: hi\ndata: there\n\n",
            ),
            (
                Item::Message {
                    cursor: Cursor::new(7, 4),
                    data: Bytes::from_static(&[0xff, 0]),
                },
                "event: binary\nid: 7:4\ndata: /wA=\n\n",
            ),
            (
                Item::Gap {
                    missed_from: Seq(1),
                    missed_to: Seq(9),
                    resume: Cursor::new(7, 9),
                },
                "event: gap\nid: 7:9\ndata: {\"missed_from\":1,\"missed_to\":9,\"cursor\":\"7:9\"}\n\n",
            ),
            (
                Item::Reset {
                    previous: crate::hub::Epoch(6),
                    resume: Cursor::new(7, 0),
                },
                "event: reset\nid: 7:0\ndata: {\"previous\":6,\"cursor\":\"7:0\"}\n\n",
            ),
        ];
        for (item, want) in cases {
            assert_eq!(
                std::str::from_utf8(SseEvent::from_item(&item).as_bytes()).unwrap(),
                want
            );
        }
    }

    #[test]
    fn last_event_id_table() {
        let with = |v: &[&str]| {
            let mut h = HeaderMap::new();
            for v in v {
                h.append("last-event-id", HeaderValue::from_str(v).unwrap());
            }
            last_event_id(&h)
        };
        assert_eq!(with(&[]), Ok(None));
        assert_eq!(with(&[""]), Ok(None));
        assert_eq!(with(&[" 3:4 "]), Ok(Some(Cursor::new(3, 4))));
        assert_eq!(with(&["3"]), Err(CursorError::MissingColon));
        assert_eq!(with(&["1:1", "2:2"]), Err(CursorError::NotANumber));
    }

    #[tokio::test(start_paused = true)]
    async fn body_opens_with_retry_and_keeps_alive_when_quiet() {
        let (tx, rx) = tokio::sync::mpsc::channel::<SseEvent>(4);
        let events =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
            );
        let config = SseConfig {
            keep_alive: Some(Duration::from_secs(15)),
            ..SseConfig::default()
        };
        let mut body = SseBody::new(events, &config);
        async fn text_frame(body: &mut SseBody) -> String {
            let f = body.frame().await.unwrap().unwrap();
            String::from_utf8(f.into_data().unwrap().to_vec()).unwrap()
        }
        assert_eq!(text_frame(&mut body).await, "retry: 3000\n\n");
        let start = tokio::time::Instant::now();
        assert_eq!(text_frame(&mut body).await, ":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(15));
        tx.send(SseEvent::data("a")).await.unwrap();
        tx.send(SseEvent::data("b")).await.unwrap();
        // Ready events go out together.
        assert_eq!(text_frame(&mut body).await, "data: a\n\ndata: b\n\n");
        tokio::time::advance(Duration::from_secs(10)).await;
        tx.send(SseEvent::data("c")).await.unwrap();
        assert_eq!(text_frame(&mut body).await, "data: c\n\n");
        // The keep-alive counts from the last event.
        let quiet = tokio::time::Instant::now();
        assert_eq!(text_frame(&mut body).await, ":\n");
        assert_eq!(quiet.elapsed(), Duration::from_secs(15));
        drop(tx);
        assert!(body.frame().await.is_none());
    }
}

//! [`EventSource`]: an EventSource-like client over hyper's HTTP/1.1 client connection,
//! on TCP or (feature `tls`) TLS, as a `Stream` of [`SseClientEvent`]s.
//!
//! Every decision is sse-proto's [`Client`](sse_proto::Client) machine: when to connect and
//! reconnect (`retry:`, backoff with jitter, floor and ceiling), which header fields to send
//! (`Last-Event-ID`...), whether a response opens the stream, fails it for good (wrong status
//! or content type, too many redirects) or is retried (a 5xx with
//! `retry_server_errors`), the idle timeout. This driver moves bytes and time: it opens
//! connections, follows redirects the machine accepts, feeds the body and the clock.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{header, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use sse_proto::{ClientEvent, DisconnectReason, MessageEvent, ParseError, ResponseError};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::clock;
use crate::net::{self, ConnectOptions};

/// Options of an [`EventSource`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct EventSourceConfig {
    /// The machine's knobs (reconnection, backoff, idle timeout, redirects, 5xx retry,
    /// parser limits). Default [`sse_proto::ClientConfig::DEFAULT`].
    pub client: sse_proto::ClientConfig,
    /// How connections are opened (timeout, TLS roots).
    pub connect: ConnectOptions,
    /// Resume after this id (sent as `Last-Event-ID` from the first request on).
    pub last_event_id: Option<String>,
    /// Events buffered between the connection task and the reader; when full, the task
    /// stops reading the socket (TCP back-pressure). Default 0 means 64.
    pub buffer: usize,
}

/// What an [`EventSource`] yields, in order. After [`SseClientEvent::Failed`] or
/// [`SseClientEvent::Ended`] the stream ends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SseClientEvent {
    /// The response was accepted; events flow.
    Open,
    /// An event.
    Message(MessageEvent),
    /// The stream exceeded a parser limit; the offending line or event was skipped.
    ParseError(ParseError),
    /// A redirect is being followed.
    Redirect {
        /// The URL it leads to.
        to: String,
    },
    /// The connection is gone; a new one is opened after `delay`.
    Reconnecting {
        /// The wait before the next attempt.
        delay: Duration,
        /// Why the connection ended.
        reason: DisconnectReason,
        /// The error behind a network failure, if there was one.
        error: Option<String>,
    },
    /// Closed for good by the response (204, another status, wrong content type, too
    /// many redirects, or a redirect the driver cannot follow).
    Failed(FailReason),
    /// The stream ended cleanly and the machine does not reconnect after an end.
    Ended,
}

/// Why an [`EventSource`] gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The machine's verdict on a response head.
    Response(ResponseError),
    /// A `Location` that is not a URL this client can connect to.
    BadRedirect {
        /// The `Location` value.
        location: String,
    },
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailReason::Response(e) => e.fmt(f),
            FailReason::BadRedirect { location } => {
                write!(f, "cannot follow redirect to {location:?}")
            }
        }
    }
}

/// The URL an [`EventSource`] was given is not one it can connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidUrl(pub String);

impl std::fmt::Display for InvalidUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid event stream URL: {}", self.0)
    }
}

impl std::error::Error for InvalidUrl {}

/// An EventSource: connects at once and keeps the stream going as the machine decides.
/// Dropping it closes the connection.
#[derive(Debug)]
pub struct EventSource {
    events: mpsc::Receiver<SseClientEvent>,
    task: AbortHandle,
}

impl EventSource {
    /// Starts connecting to `url` (`http://` or, with feature `tls`, `https://`).
    pub fn connect(url: &str, config: EventSourceConfig) -> Result<EventSource, InvalidUrl> {
        let uri: Uri = url.parse().map_err(|e| InvalidUrl(format!("{url}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http") | Some("https")) {
            return Err(InvalidUrl(format!(
                "{url}: the scheme is not http or https"
            )));
        }
        net::target_of(&uri).map_err(|e| InvalidUrl(format!("{url}: {e}")))?;
        let (tx, rx) = mpsc::channel(if config.buffer == 0 {
            64
        } else {
            config.buffer
        });
        let task = tokio::spawn(drive(uri, config, tx)).abort_handle();
        Ok(EventSource { events: rx, task })
    }

    /// The next event; `None` once closed for good.
    pub async fn next_event(&mut self) -> Option<SseClientEvent> {
        self.events.recv().await
    }

    /// Closes the connection now (`EventSource.close()`).
    pub fn close(&mut self) {
        self.task.abort();
        self.events.close();
    }
}

impl Stream for EventSource {
    type Item = SseClientEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for EventSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> sse_proto::Instant {
    sse_proto::Instant::from_micros(clock::now_micros())
}

fn seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(clock::now_micros())
}

/// `location` resolved against `base` (absolute URL, absolute path, or relative path).
pub(crate) fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    if let Ok(uri) = location.parse::<Uri>() {
        if uri.scheme().is_some() {
            return Some(uri);
        }
    }
    let authority = base.authority()?.as_str();
    let scheme = base.scheme_str()?;
    if location.starts_with("//") {
        return format!("{scheme}:{location}").parse().ok();
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    format!("{scheme}://{authority}{path}").parse().ok()
}

type Connecting =
    Pin<Box<dyn std::future::Future<Output = Result<http::Response<Incoming>, String>> + Send>>;

/// Opens a connection and sends the request; resolves with the response head.
fn request(uri: Uri, headers: Vec<(&'static str, String)>, options: ConnectOptions) -> Connecting {
    Box::pin(async move {
        let target = net::target_of(&uri).map_err(|e| e.to_string())?;
        let stream = net::connect(&target, &options)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("sse client connection ended: {e}");
            }
        });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let host = match uri.port_u16() {
            Some(port) => format!("{}:{port}", uri.host().unwrap_or_default()),
            None => uri.host().unwrap_or_default().to_string(),
        };
        let mut builder = Request::get(path).header(header::HOST, host);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))
    })
}

/// The connection task: runs the machine until it closes or the reader goes away.
async fn drive(mut uri: Uri, config: EventSourceConfig, tx: mpsc::Sender<SseClientEvent>) {
    let mut machine = match &config.last_event_id {
        Some(id) => sse_proto::Client::with_last_event_id(
            now(),
            config.client,
            sse_proto::SplitMix64::new(seed()),
            id,
        ),
        None => sse_proto::Client::new(now(), config.client, sse_proto::SplitMix64::new(seed())),
    };
    let mut connecting: Option<Connecting> = None;
    let mut body: Option<Incoming> = None;
    let mut last_error: Option<String> = None;
    loop {
        while let Some(event) = machine.poll_event() {
            let out = match event {
                ClientEvent::Connect => {
                    body = None;
                    let headers = machine
                        .request_headers()
                        .map(|(n, v)| (n, v.to_string()))
                        .collect();
                    connecting = Some(request(uri.clone(), headers, config.connect.clone()));
                    None
                }
                ClientEvent::Redirect { location } => match resolve(&uri, &location) {
                    Some(next) if net::target_of(&next).is_ok() => {
                        uri = next;
                        let headers = machine
                            .request_headers()
                            .map(|(n, v)| (n, v.to_string()))
                            .collect();
                        connecting = Some(request(uri.clone(), headers, config.connect.clone()));
                        Some(SseClientEvent::Redirect {
                            to: uri.to_string(),
                        })
                    }
                    _ => {
                        let _ = tx
                            .send(SseClientEvent::Failed(FailReason::BadRedirect { location }))
                            .await;
                        return;
                    }
                },
                ClientEvent::Open => Some(SseClientEvent::Open),
                ClientEvent::Message(m) => Some(SseClientEvent::Message(m)),
                ClientEvent::ParseError(e) => Some(SseClientEvent::ParseError(e)),
                ClientEvent::Disconnect => {
                    body = None;
                    connecting = None;
                    None
                }
                ClientEvent::Reconnecting { at, reason } => {
                    body = None;
                    connecting = None;
                    Some(SseClientEvent::Reconnecting {
                        delay: at.saturating_duration_since(now()),
                        reason,
                        error: last_error.take(),
                    })
                }
                ClientEvent::Failed(e) => {
                    let _ = tx
                        .send(SseClientEvent::Failed(FailReason::Response(e)))
                        .await;
                    return;
                }
                ClientEvent::Ended => {
                    let _ = tx.send(SseClientEvent::Ended).await;
                    return;
                }
                _ => None,
            };
            if let Some(out) = out {
                if tx.send(out).await.is_err() {
                    return; // the reader is gone
                }
            }
        }
        let deadline = machine
            .poll_timeout()
            .map(|t| clock::instant_at(t.as_micros()));
        tokio::select! {
            response = async { connecting.as_mut().unwrap().await }, if connecting.is_some() => {
                connecting = None;
                match response {
                    Ok(response) => {
                        let header = |name| {
                            response.headers().get(name).and_then(|v| v.to_str().ok())
                        };
                        let _ = machine.handle_response_head(
                            now(),
                            response.status().as_u16(),
                            header(header::CONTENT_TYPE),
                            header(header::LOCATION),
                        );
                        if machine.ready_state() == sse_proto::ReadyState::Open {
                            body = Some(response.into_body());
                        }
                    }
                    Err(e) => {
                        last_error = Some(e);
                        machine.handle_network_error(now());
                    }
                }
            }
            frame = async { body.as_mut().unwrap().frame().await }, if body.is_some() => {
                match frame {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let _ = machine.handle_input(now(), &data);
                        }
                    }
                    Some(Err(e)) => {
                        body = None;
                        last_error = Some(e.to_string());
                        machine.handle_network_error(now());
                    }
                    None => {
                        body = None;
                        machine.handle_eof(now());
                    }
                }
            }
            _ = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => machine.handle_timeout(now()),
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_resolve_against_the_request_url() {
        let base: Uri = "http://a.example:8080/streams/events?x=1".parse().unwrap();
        let cases = [
            ("https://b.example/s", "https://b.example/s"),
            ("/other?y=2", "http://a.example:8080/other?y=2"),
            ("next", "http://a.example:8080/streams/next"),
            ("//c.example/z", "http://c.example/z"),
        ];
        for (location, want) in cases {
            assert_eq!(
                resolve(&base, location).unwrap().to_string(),
                want,
                "{location}"
            );
        }
    }
}

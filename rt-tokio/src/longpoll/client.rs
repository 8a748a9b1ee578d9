//! [`LongPollClient`]: longpoll-proto's poll loop ([`Client`](longpoll_proto::Client)) over
//! hyper's HTTP/1.1 client connection, as a `Stream` of [`ClientEvent`]s, plus
//! [`LongPollClient::send`] for client→server messages (longpoll-proto's
//! [`Outbox`](longpoll_proto::upstream::Outbox): numbered, batched, resent until
//! acknowledged, de-duplicated by the server).
//!
//! Two tasks: one polls (one connection, a poll at a time), one sends upstream batches on
//! its own connection, so a held poll never delays a send. Every decision (cursor,
//! de-duplication, gap/reset, backoff with jitter, batching) is longpoll-proto's.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{header, HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use longpoll_proto::http::{self as lp_http, ParseLimits};
use longpoll_proto::upstream::Outbox;
use longpoll_proto::{
    Backoff, ChannelName, ClientEvent, ClientId, Cursor, UpstreamConfig, UpstreamError,
};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::AbortHandle;

use crate::clock;
use crate::net::{self, ConnectOptions};
use crate::sse::InvalidUrl;

/// Options of a [`LongPollClient`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LongPollClientConfig {
    /// The poll loop's knobs (hold time asked for, backoff). longpoll-proto's defaults.
    pub client: longpoll_proto::ClientConfig,
    /// Upstream batching and queue limits. longpoll-proto's defaults.
    pub upstream: UpstreamConfig,
    /// How connections are opened.
    pub connect: ConnectOptions,
    /// Limits on a response body. Default 1 MiB / 1024 messages.
    pub parse: ParseLimits,
    /// A poll that takes this much longer than the hold time asked for (or 30 s, the
    /// server's usual maximum), or an upstream POST that takes 30 s plus this, is given
    /// up as failed. Default 10 s.
    pub request_margin: Duration,
    /// The client id sent with every request. Default: a random one.
    pub client_id: Option<ClientId>,
    /// Events buffered for the reader (when full the poll loop waits). Default 64.
    pub buffer: usize,
}

impl Default for LongPollClientConfig {
    fn default() -> Self {
        LongPollClientConfig {
            client: longpoll_proto::ClientConfig::default(),
            upstream: UpstreamConfig::default(),
            connect: ConnectOptions::default(),
            parse: ParseLimits::default(),
            request_margin: Duration::from_secs(10),
            client_id: None,
            buffer: 64,
        }
    }
}

/// A long-poll client for one channel. Dropping it stops both tasks.
#[derive(Debug)]
pub struct LongPollClient {
    events: mpsc::Receiver<ClientEvent>,
    outbox: Arc<Mutex<Outbox>>,
    kick: Arc<Notify>,
    acked: watch::Receiver<u64>,
    cursor: watch::Receiver<Option<Cursor>>,
    id: ClientId,
    tasks: [AbortHandle; 2],
}

fn seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(clock::now_micros())
}

fn now() -> longpoll_proto::Instant {
    longpoll_proto::Instant::from_micros(clock::now_micros())
}

impl LongPollClient {
    /// Starts polling `channel` at `url` (the poll endpoint; its query is replaced) from
    /// `from` (`None`: only what is published from now on).
    pub fn connect(
        url: &str,
        channel: ChannelName,
        from: Option<Cursor>,
        config: LongPollClientConfig,
    ) -> Result<LongPollClient, InvalidUrl> {
        let uri: Uri = url.parse().map_err(|e| InvalidUrl(format!("{url}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http") | Some("https")) {
            return Err(InvalidUrl(format!(
                "{url}: the scheme is not http or https"
            )));
        }
        net::target_of(&uri).map_err(|e| InvalidUrl(format!("{url}: {e}")))?;
        let id = match &config.client_id {
            Some(id) => id.clone(),
            None => ClientId::new(&format!("c{:016x}", seed())).expect("hex is a valid id"),
        };
        let (events_tx, events) = mpsc::channel(config.buffer.max(1));
        let (acked_tx, acked) = watch::channel(0);
        let (cursor_tx, cursor) = watch::channel(from);
        let outbox = Arc::new(Mutex::new(Outbox::new(config.upstream)));
        let kick = Arc::new(Notify::new());
        let target = Endpoint {
            uri,
            id: id.clone(),
            options: config.connect.clone(),
        };
        let poller = tokio::spawn(poll_loop(
            target.clone(),
            channel,
            from,
            config.clone(),
            events_tx,
            cursor_tx,
        ));
        let sender = tokio::spawn(send_loop(
            target,
            config,
            outbox.clone(),
            kick.clone(),
            acked_tx,
        ));
        Ok(LongPollClient {
            events,
            outbox,
            kick,
            acked,
            cursor,
            id,
            tasks: [poller.abort_handle(), sender.abort_handle()],
        })
    }

    /// The client id sent with every request.
    pub fn id(&self) -> &ClientId {
        &self.id
    }

    /// The cursor of the last message received (what the next poll sends).
    pub fn cursor(&self) -> Option<Cursor> {
        *self.cursor.borrow()
    }

    /// The next event; `None` once the client stopped.
    pub async fn next_event(&mut self) -> Option<ClientEvent> {
        self.events.recv().await
    }

    /// Queues a client→server message and returns its sequence number; it is sent (and
    /// resent after failures) until the server acknowledges it. Refused when the queue
    /// is full (`UpstreamConfig::max_queued_*`).
    pub fn send(&self, data: impl Into<Bytes>) -> Result<u64, UpstreamError> {
        let seq = self
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(data.into())?;
        self.kick.notify_one();
        Ok(seq)
    }

    /// Waits until the server has acknowledged every message through `seq`.
    pub async fn acknowledged(&self, seq: u64) {
        let mut acked = self.acked.clone();
        let _ = acked.wait_for(|&a| a >= seq).await;
    }
}

impl Stream for LongPollClient {
    type Item = ClientEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for LongPollClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[derive(Clone)]
struct Endpoint {
    uri: Uri,
    id: ClientId,
    options: ConnectOptions,
}

/// One reusable HTTP/1.1 connection.
struct Connection {
    sender: Option<SendRequest<Full<Bytes>>>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Connection {
    async fn request(
        &mut self,
        endpoint: &Endpoint,
        method: Method,
        query: &str,
        body: Bytes,
        max_body: usize,
    ) -> Result<Answer, String> {
        let ready = match self.sender.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !ready {
            let target = net::target_of(&endpoint.uri).map_err(|e| e.to_string())?;
            let stream = net::connect(&target, &endpoint.options)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().ok_or("no connection")?;
        let uri = &endpoint.uri;
        let host = match uri.port_u16() {
            Some(port) => format!("{}:{port}", uri.host().unwrap_or_default()),
            None => uri.host().unwrap_or_default().to_string(),
        };
        let request = Request::builder()
            .method(method)
            .uri(format!("{}?{query}", uri.path()))
            .header(header::HOST, host)
            .header(lp_http::CLIENT_HEADER, endpoint.id.as_str())
            .header(header::CONTENT_TYPE, lp_http::CONTENT_TYPE)
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(format!("request: {e}"));
            }
        };
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| {
                self.sender = None;
                format!("response body: {e}")
            })?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &[u8])> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect()
}

async fn poll_loop(
    endpoint: Endpoint,
    channel: ChannelName,
    from: Option<Cursor>,
    config: LongPollClientConfig,
    events: mpsc::Sender<ClientEvent>,
    cursor: watch::Sender<Option<Cursor>>,
) {
    let mut machine = longpoll_proto::Client::new(
        now(),
        config.client,
        longpoll_proto::SplitMix64::new(seed()),
        from,
    );
    let mut connection = Connection { sender: None };
    loop {
        while let Some(event) = machine.poll_event() {
            if events.send(event).await.is_err() {
                return;
            }
        }
        cursor.send_replace(machine.cursor());
        if let Some(next) = machine.poll_request(now()) {
            let query = lp_http::poll_query(&channel, next.cursor, next.timeout);
            let limit = next.timeout.unwrap_or(Duration::from_secs(30)) + config.request_margin;
            let answer = tokio::time::timeout(
                limit,
                connection.request(
                    &endpoint,
                    Method::GET,
                    &query,
                    Bytes::new(),
                    config.parse.max_body_bytes,
                ),
            )
            .await;
            match answer {
                Ok(Ok(answer)) => {
                    let parsed = lp_http::parse_poll_response(
                        answer.status.as_u16(),
                        header_pairs(&answer.headers),
                        &answer.body,
                        &config.parse,
                    );
                    match parsed {
                        Ok(outcome) => machine.handle_response(now(), outcome),
                        Err(e) => {
                            tracing::debug!(%channel, "long-poll: bad response: {e}");
                            machine.handle_error(now());
                        }
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(%channel, "long-poll: request failed: {e}");
                    machine.handle_error(now());
                }
                Err(_) => {
                    connection.sender = None;
                    machine.handle_error(now());
                }
            }
            continue;
        }
        let wake = machine
            .poll_timeout()
            .map(|t| clock::instant_at(t.as_micros()));
        tokio::select! {
            _ = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => machine.handle_timeout(now()),
            _ = events.closed() => return,
        }
    }
}

async fn send_loop(
    endpoint: Endpoint,
    config: LongPollClientConfig,
    outbox: Arc<Mutex<Outbox>>,
    kick: Arc<Notify>,
    acked: watch::Sender<u64>,
) {
    let mut connection = Connection { sender: None };
    // longpoll-proto's backoff (doubling, cap, jitter), as for polls.
    let mut backoff = Backoff::new(&config.client);
    let mut rng = longpoll_proto::SplitMix64::new(seed());
    // A POST is answered at once unless the server waits for room for the application
    // (its `upstream_wait`): give up after the margin, as for a poll.
    let limit = Duration::from_secs(30) + config.request_margin;
    loop {
        let batch = outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .poll_batch();
        let Some(batch) = batch else {
            kick.notified().await;
            continue;
        };
        let body = Bytes::from(lp_http::render_send_body(&batch));
        let answer = tokio::time::timeout(
            limit,
            connection.request(
                &endpoint,
                Method::POST,
                &format!("client={}", endpoint.id),
                body,
                config.parse.max_body_bytes,
            ),
        )
        .await
        .unwrap_or_else(|_| {
            connection.sender = None;
            Err("no answer in time".to_string())
        });
        let ack = answer.and_then(|a| {
            lp_http::parse_send_ack(a.status.as_u16(), header_pairs(&a.headers))
                .map_err(|e| format!("{}: {e}", a.status))
        });
        let failed = {
            let mut outbox = outbox.lock().unwrap_or_else(|e| e.into_inner());
            match ack {
                Ok(ack) => {
                    outbox.handle_ack(ack);
                    acked.send_replace(ack);
                    None
                }
                Err(e) => {
                    outbox.handle_failure();
                    Some(e)
                }
            }
        };
        match failed {
            None => backoff.handle_success(),
            Some(e) => {
                let at = backoff.handle_failure(now(), &mut rng);
                tracing::debug!(
                    failures = backoff.failures(),
                    "long-poll: send failed: {e}; resending at {at}"
                );
                tokio::time::sleep_until(clock::instant_at(at.as_micros())).await;
            }
        }
    }
}

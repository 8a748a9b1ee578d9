//! [`LongPollServer`]: a hyper service (usable from axum) for long polls and upstream
//! sends on the longpoll-proto [`Hub`](longpoll_proto::Hub), with the HTTP mapping of
//! [`longpoll_proto::http`].
//!
//! - `GET ?channel=NAME&cursor=E:S` (or `?subs=...`): the poll is handed to longpoll-proto,
//!   which answers at once or holds it; the answer is rendered by longpoll-proto. Channels
//!   are fed from the rt-tokio [`Hub`] by a mirror (see `mirror.rs`), so the long-poll
//!   cursor is the hub's cursor.
//! - A held poll whose client goes away is removed at once: hyper drops the response
//!   future when the connection closes, and dropping it aborts the poll
//!   (`Hub::handle_abort`), not at its deadline.
//! - The longpoll-proto channel is a window of the hub's history (`LongPollConfig::hub`'s
//!   `channel` limits). When longpoll-proto answers a gap, the hub's backend is asked
//!   for what follows the poll's cursor: messages it still holds are sent as the batch
//!   instead, so a long-poll client gets a gap only for what the hub no longer holds.
//! - A channel no poll has used for [`LongPollConfig::mirror_idle`] is let go: its mirror
//!   stops and longpoll-proto forgets it (`Hub::remove_channel`); the next poll starts a
//!   new mirror.
//! - `POST` with an NDJSON batch: longpoll-proto de-duplicates it per client; only new
//!   messages reach [`Upstream`], and the acknowledgement goes back (`Longpoll-Ack`).
//!
//! Bad requests get longpoll-proto's reason or a short text: 400 (malformed), 405 (other
//! methods), 413 (a body over [`LongPollConfig::parse`]'s limit), 503 (limits, backend).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use longpoll_proto::http::{self as lp_http, HttpResponse, ParseLimits};
use longpoll_proto::{ClientId, HttpError, Outcome, PollId};
use tokio::sync::{mpsc, oneshot, watch, Notify};

use super::mirror::{self, MirrorTask};
use crate::clock;
use crate::http::{read_body, text_response, BodyError};
use crate::hub::{ChannelName, Cursor, HistoryRead, Hub, ReadLimit, Seq, Transport};

/// Knobs of a [`LongPollServer`].
///
/// | knob | default | when hit |
/// | --- | --- | --- |
/// | `hub` | longpoll-proto's defaults (hold 25 s, limits) | longpoll-proto's reasons |
/// | `parse.max_body_bytes` / `parse.max_messages` | 1 MiB / 1024 | 413 |
/// | `mirror_wait` | 5 s | 503: the client retries with its cursor |
/// | `mirror_idle` | 5 min | the channel's mirror is stopped and its window freed |
/// | `upstream_buffer` / `upstream_wait` | 1024 / 10 s | 503 `upstream_busy` |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LongPollConfig {
    /// longpoll-proto's hub: hold time, duplicate-poll policy, sessions, per-channel window
    /// kept for long polling (`channel`), upstream limits.
    pub hub: longpoll_proto::HubConfig,
    /// Limits of a POSTed upstream body.
    pub parse: ParseLimits,
    /// Longest wait for a channel's mirror to reach a poll's cursor (a cursor obtained
    /// from another transport or node a moment ago).
    pub mirror_wait: Duration,
    /// A channel no poll used for this long is let go (its mirror task and its window);
    /// never less than `hub.max_hold` plus `mirror_wait`.
    pub mirror_idle: Duration,
    /// Upstream messages buffered for the application.
    pub upstream_buffer: usize,
    /// Longest wait for room in that buffer before a POST is refused.
    pub upstream_wait: Duration,
}

impl Default for LongPollConfig {
    fn default() -> Self {
        LongPollConfig {
            hub: longpoll_proto::HubConfig::default(),
            parse: ParseLimits::default(),
            mirror_wait: Duration::from_secs(5),
            mirror_idle: Duration::from_secs(300),
            upstream_buffer: 1024,
            upstream_wait: Duration::from_secs(10),
        }
    }
}

/// A client→server message, delivered once however often the client retried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamMessage {
    /// Who sent it (the `Longpoll-Client` id).
    pub client: ClientId,
    /// Its payload.
    pub data: Bytes,
}

/// The stream of upstream messages ([`LongPollServer::upstream`]).
#[derive(Debug)]
pub struct Upstream(mpsc::Receiver<UpstreamMessage>);

impl Upstream {
    /// The next message.
    pub async fn recv(&mut self) -> Option<UpstreamMessage> {
        self.0.recv().await
    }
}

impl Stream for Upstream {
    type Item = UpstreamMessage;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Figures of a long-poll server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LongPollStats {
    /// Polls held now.
    pub held_polls: usize,
    /// Live sessions.
    pub sessions: usize,
    /// Channels mirrored from the hub.
    pub channels: usize,
    /// Held polls removed because their client went away.
    pub aborted: u64,
    /// Channels let go after `mirror_idle` without a poll.
    pub evicted: u64,
    /// Gap answers of longpoll-proto replaced by messages from the hub's history.
    pub from_history: u64,
}

/// One mirrored channel.
struct Mirror {
    /// The cursor the mirror applied last.
    head: watch::Receiver<Option<Cursor>>,
    /// Which mirror this is (a channel let go and polled again gets a new one).
    id: u64,
    /// When a poll last used the channel.
    used: tokio::time::Instant,
    _task: MirrorTask,
}

pub(crate) struct State {
    pub(crate) lp: longpoll_proto::Hub,
    waiting: HashMap<PollId, oneshot::Sender<Outcome>>,
    mirrors: HashMap<ChannelName, Mirror>,
    next_mirror: u64,
    evicted: u64,
}

impl State {
    pub(crate) fn now(&self) -> longpoll_proto::Instant {
        longpoll_proto::Instant::from_micros(clock::now_micros())
    }

    /// Continues `channel` at `head` (see `Hub::restart_channel`).
    pub(crate) fn restart(&mut self, channel: &ChannelName, head: Cursor) {
        if let Err(e) = self.lp.restart_channel(self.now(), channel, head) {
            tracing::warn!(%channel, "long-poll: cannot follow channel: {e}");
        }
    }

    /// Whether mirror `id` is `channel`'s current one.
    pub(crate) fn is_mirror(&self, channel: &ChannelName, id: u64) -> bool {
        self.mirrors.get(channel).is_some_and(|m| m.id == id)
    }

    /// Lets go of every channel no poll used since `before` and none is held on: its
    /// mirror stops (dropping `MirrorTask` aborts it) and longpoll-proto forgets it.
    fn evict_idle(&mut self, before: tokio::time::Instant) {
        let idle: Vec<ChannelName> = self
            .mirrors
            .iter()
            .filter(|(_, m)| m.used <= before)
            .map(|(name, _)| name.clone())
            .collect();
        for name in idle {
            if self.lp.channel(&name).is_none() || self.lp.remove_channel(&name) {
                self.mirrors.remove(&name);
                self.evicted += 1;
                tracing::debug!(channel = %name, "long-poll: idle channel let go");
            }
        }
    }

    /// Sends every answer longpoll-proto has to its waiting request.
    pub(crate) fn drain(&mut self) {
        while let Some(response) = self.lp.poll_response() {
            if let Some(tx) = self.waiting.remove(&response.poll) {
                let _ = tx.send(response.outcome);
            }
        }
        while let Some(event) = self.lp.poll_event() {
            tracing::debug!("long-poll: {event:?}");
        }
    }
}

pub(crate) struct Inner {
    hub: Hub,
    config: LongPollConfig,
    state: Mutex<State>,
    timer: Arc<Notify>,
    upstream: mpsc::Sender<UpstreamMessage>,
    upstream_rx: Mutex<Option<mpsc::Receiver<UpstreamMessage>>>,
    upstream_taken: AtomicBool,
    aborted: AtomicU64,
    from_history: AtomicU64,
    /// Abort the timer and the sweeper when the server goes (mirrors are aborted with
    /// `State`).
    _timer_task: MirrorTask,
    _sweep_task: MirrorTask,
}

impl Inner {
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut state);
        drop(state);
        // longpoll-proto's next deadline may have moved.
        self.timer.notify_one();
        out
    }
}

/// The long-poll service over a [`Hub`]. Cloning shares it. Create it inside a tokio
/// runtime (it spawns its timer).
#[derive(Clone)]
pub struct LongPollServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LongPollServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongPollServer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn reply(rendered: HttpResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(rendered.body)));
    *response.status_mut() = StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::OK);
    for (name, value) in rendered.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn bad_request(e: &HttpError) -> Response<Full<Bytes>> {
    let status = match e {
        HttpError::BodyTooLarge { .. } | HttpError::TooManyMessages { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    text_response(status, &e.to_string())
}

/// Aborts a held poll when its response future is dropped (the client went away).
struct PollGuard {
    inner: Arc<Inner>,
    poll: Option<PollId>,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        if let Some(poll) = self.poll.take() {
            let aborted = self.inner.with_state(|s| {
                let held = s.waiting.remove(&poll).is_some();
                if held {
                    let now = s.now();
                    s.lp.handle_abort(now, poll);
                    s.drain();
                }
                held
            });
            if aborted {
                self.inner.aborted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn run_timer(inner: Weak<Inner>, notify: Arc<Notify>) {
    loop {
        let deadline = match inner.upgrade() {
            Some(inner) => {
                let state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                state.lp.poll_timeout()
            }
            None => return,
        };
        match deadline {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(clock::instant_at(at.as_micros())) => {}
                    _ = notify.notified() => continue,
                }
            }
            None => {
                notify.notified().await;
                continue;
            }
        }
        let Some(inner) = inner.upgrade() else { return };
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = state.now();
        state.lp.handle_timeout(now);
        state.drain();
    }
}

/// Lets go of idle channels, checking every quarter of the idle time.
async fn run_sweeper(inner: Weak<Inner>, idle: Duration) {
    loop {
        tokio::time::sleep(idle / 4).await;
        let Some(inner) = inner.upgrade() else { return };
        let now = tokio::time::Instant::now();
        if let Some(before) = now.checked_sub(idle) {
            inner.with_state(|s| s.evict_idle(before));
        }
    }
}

impl LongPollServer {
    /// A server for `hub`'s channels. longpoll-proto's epoch for channels is the hub's
    /// (set per channel by its mirror).
    pub fn new(hub: Hub, config: LongPollConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.upstream_buffer.max(1));
        let notify = Arc::new(Notify::new());
        let idle = config
            .mirror_idle
            .max(config.hub.max_hold + config.mirror_wait);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| Inner {
            hub,
            config,
            state: Mutex::new(State {
                lp: longpoll_proto::Hub::new(config.hub, longpoll_proto::Epoch(0)),
                waiting: HashMap::new(),
                mirrors: HashMap::new(),
                next_mirror: 1,
                evicted: 0,
            }),
            timer: notify.clone(),
            upstream: tx,
            upstream_rx: Mutex::new(Some(rx)),
            upstream_taken: AtomicBool::new(false),
            aborted: AtomicU64::new(0),
            from_history: AtomicU64::new(0),
            _timer_task: MirrorTask(tokio::spawn(run_timer(weak.clone(), notify)).abort_handle()),
            _sweep_task: MirrorTask(tokio::spawn(run_sweeper(weak.clone(), idle)).abort_handle()),
        });
        LongPollServer { inner }
    }

    /// The upstream messages, once (later calls get `None`). Until it is taken, POSTs are
    /// refused with 503: nobody would read them.
    pub fn upstream(&self) -> Option<Upstream> {
        let rx = self
            .inner
            .upstream_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        self.inner.upstream_taken.store(true, Ordering::Release);
        Some(Upstream(rx))
    }

    /// Current figures.
    pub fn stats(&self) -> LongPollStats {
        let state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        LongPollStats {
            held_polls: state.lp.held_polls(),
            sessions: state.lp.sessions(),
            channels: state.mirrors.len(),
            aborted: self.inner.aborted.load(Ordering::Relaxed),
            evicted: state.evicted,
            from_history: self.inner.from_history.load(Ordering::Relaxed),
        }
    }

    /// Answers one request: GET polls, POST sends, anything else 405.
    pub fn handle<'a, B>(
        &'a self,
        request: Request<B>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + 'a
    where
        B: Body + 'a,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        /// What the request asks, taken apart before the future: a held poll keeps nothing
        /// of its request (the head's bytes are hyper's read buffer, which would stay
        /// allocated for as long as the poll is held) and no room for a send's state.
        enum Job<S> {
            Poll(Result<Start, HttpError>),
            Send(Pin<Box<S>>),
            NotAllowed,
        }
        let (parts, body) = request.into_parts();
        let job = match parts.method {
            http::Method::GET => {
                drop(body);
                Job::Poll(self.parse_poll(parts))
            }
            http::Method::POST => Job::Send(Box::pin(async move { self.send(&parts, body).await })),
            _ => Job::NotAllowed,
        };
        async move {
            match job {
                Job::Poll(Ok(start)) => self.poll(start).await,
                Job::Poll(Err(e)) => bad_request(&e),
                Job::Send(send) => send.await,
                Job::NotAllowed => text_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "use GET to poll, POST to send",
                ),
            }
        }
    }

    /// The mirror of `channel` (started if needed), marked as used now.
    fn mirror(&self, channel: &ChannelName) -> Option<watch::Receiver<Option<Cursor>>> {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = tokio::time::Instant::now();
        if let Some(m) = state.mirrors.get_mut(channel) {
            m.used = now;
            return Some(m.head.clone());
        }
        if state.mirrors.len() >= self.inner.config.hub.max_channels {
            return None;
        }
        let id = state.next_mirror;
        state.next_mirror += 1;
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(mirror::run(
            Arc::downgrade(&self.inner),
            self.inner.hub.clone(),
            channel.clone(),
            id,
            tx,
        ));
        state.mirrors.insert(
            channel.clone(),
            Mirror {
                head: rx.clone(),
                id,
                used: now,
                _task: MirrorTask(task.abort_handle()),
            },
        );
        Some(rx)
    }

    /// Makes `cursor` concrete and waits until the channel's mirror has caught up with it
    /// (or with the hub's head), so longpoll-proto answers from the hub's history.
    async fn prepare(
        &self,
        channel: &ChannelName,
        cursor: &mut Option<Cursor>,
    ) -> Result<(), Response<Full<Bytes>>> {
        let Some(mirror) = self.mirror(channel) else {
            return Err(reply(lp_http::render_response(&Outcome::Rejected {
                reason: longpoll_proto::RejectReason::TooManyChannels,
            })));
        };
        // The usual poll: a cursor the mirror has already applied. longpoll-proto can
        // answer it as it stands, without asking the backend for the head.
        let applied = *mirror.borrow();
        if let (Some(c), Some(m)) = (*cursor, applied) {
            if c.epoch == m.epoch && c.seq <= m.seq {
                return Ok(());
            }
        }
        // Boxed: only a poll that waits for its mirror pays for the room, and only while it
        // waits (a held poll's future keeps room for the largest state it can be in).
        Box::pin(self.catch_up(channel, cursor, mirror)).await
    }

    /// [`prepare`](Self::prepare) when the mirror has not applied `cursor`: asks the hub
    /// for the head and waits for the mirror to reach the target.
    async fn catch_up(
        &self,
        channel: &ChannelName,
        cursor: &mut Option<Cursor>,
        mirror: watch::Receiver<Option<Cursor>>,
    ) -> Result<(), Response<Full<Bytes>>> {
        let head = self.inner.hub.head(channel).await.map_err(|e| {
            text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("hub unavailable: {e}"),
            )
        })?;
        let target = match *cursor {
            Some(c) if c.epoch == head.epoch && c.seq <= head.seq => c,
            Some(_) => head,
            None => {
                *cursor = Some(head);
                head
            }
        };
        if !mirror::wait_for(mirror, target, self.inner.config.mirror_wait).await {
            // Answering from a window that does not follow the hub yet could tell the
            // client of a reset that never happened: let it retry with its cursor.
            tracing::warn!(%channel, %target, "long-poll: mirror did not catch up in time");
            return Err(text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "channel not ready, retry",
            ));
        }
        Ok(())
    }

    /// Parses a poll request into what longpoll-proto takes (owned: the request is dropped
    /// before the poll is held).
    fn parse_poll(&self, parts: http::request::Parts) -> Result<Start, HttpError> {
        let query = parts.uri.query().unwrap_or("");
        let headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let multi = query.split('&').any(|p| p.starts_with("subs="));
        let parsed = if multi {
            lp_http::parse_multi_poll_request(
                query,
                headers.iter().copied(),
                self.inner.config.hub.max_channels_per_poll,
            )
            .map(Start::Multi)
        } else {
            lp_http::parse_poll_request(query, headers.iter().copied()).map(Start::One)
        };
        parsed
    }

    async fn poll(&self, start: Start) -> Response<Full<Bytes>> {
        let (start, channels) = match start {
            Start::Multi(mut request) => {
                for sub in &mut request.subscriptions {
                    if let Err(response) = self.prepare(&sub.channel, &mut sub.cursor).await {
                        return response;
                    }
                }
                let channels: Vec<ChannelName> = request
                    .subscriptions
                    .iter()
                    .map(|s| s.channel.clone())
                    .collect();
                (Start::Multi(request), channels)
            }
            Start::One(mut request) => {
                if let Err(response) = self.prepare(&request.channel, &mut request.cursor).await {
                    return response;
                }
                let channels = vec![request.channel.clone()];
                (Start::One(request), channels)
            }
        };
        let _connection = self.inner.hub.connection(Transport::LongPoll);
        let (tx, rx) = oneshot::channel();
        let poll = self.inner.with_state(|s| {
            // A channel let go while this poll waited for its mirror: longpoll-proto would
            // answer it from a channel that follows nothing.
            if !channels.iter().all(|c| s.mirrors.contains_key(c)) {
                return None;
            }
            let now = s.now();
            let poll = match start {
                Start::One(r) => s.lp.handle_poll(now, r),
                Start::Multi(r) => s.lp.handle_multi_poll(now, r),
            };
            s.waiting.insert(poll, tx);
            s.drain();
            Some(poll)
        });
        let Some(poll) = poll else {
            return text_response(StatusCode::SERVICE_UNAVAILABLE, "channel restarting, retry");
        };
        let mut guard = PollGuard {
            inner: self.inner.clone(),
            poll: Some(poll),
        };
        let outcome = rx.await;
        guard.poll = None;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(_) => return text_response(StatusCode::SERVICE_UNAVAILABLE, "poll dropped"),
        };
        match outcome {
            // Boxed: only these may read the hub's history, and a held poll keeps no room
            // for that.
            Outcome::Gap { .. } | Outcome::Multi { .. } => {
                Box::pin(self.answer(&channels, outcome)).await
            }
            other => reply(lp_http::render_response(&other)),
        }
    }

    /// The response to a released poll on `channels` whose outcome may need the hub's
    /// history: gaps filled from it.
    async fn answer(&self, channels: &[ChannelName], outcome: Outcome) -> Response<Full<Bytes>> {
        let outcome = match outcome {
            Outcome::Gap { .. } => self.fill_gap_from_history(&channels[0], outcome).await,
            Outcome::Multi { answers } => {
                let mut filled = Vec::with_capacity(answers.len());
                for answer in answers {
                    let outcome = self
                        .fill_gap_from_history(&answer.channel, answer.outcome)
                        .await;
                    match outcome {
                        Ok(outcome) => filled.push(longpoll_proto::ChannelAnswer {
                            channel: answer.channel,
                            outcome,
                        }),
                        Err(e) => return e,
                    }
                }
                Ok(Outcome::Multi { answers: filled })
            }
            other => Ok(other),
        };
        match outcome {
            Ok(outcome) => reply(lp_http::render_response(&outcome)),
            Err(response) => response,
        }
    }

    /// longpoll-proto's window of `channel` no longer holds what follows a poll's cursor
    /// (a [`Outcome::Gap`]): the hub's history may. Its messages become the batch; a gap
    /// it reports is narrower than longpoll-proto's or the same. Other outcomes pass.
    async fn fill_gap_from_history(
        &self,
        channel: &ChannelName,
        outcome: Outcome,
    ) -> Result<Outcome, Response<Full<Bytes>>> {
        let Outcome::Gap {
            missed_from,
            missed_to,
            resume,
        } = outcome
        else {
            return Ok(outcome);
        };
        let after = Cursor {
            epoch: resume.epoch,
            seq: Seq(missed_from.0.saturating_sub(1)),
        };
        let hub = &self.inner.config.hub;
        let limit = ReadLimit {
            max_messages: hub.max_batch_messages.max(1),
            max_bytes: hub.max_batch_bytes,
        };
        let read = self
            .inner
            .hub
            .backend()
            .read(channel.clone(), after, limit)
            .await
            .map_err(|e| {
                text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("hub unavailable: {e}"),
                )
            })?;
        let lp_gap = Outcome::Gap {
            missed_from,
            missed_to,
            resume,
        };
        Ok(match read {
            HistoryRead::Messages(held) => {
                let consecutive = held.iter().enumerate().all(|(i, m)| {
                    m.cursor.epoch == after.epoch && m.cursor.seq.0 == after.seq.0 + 1 + i as u64
                });
                match held.last() {
                    Some(last) if consecutive => {
                        self.inner.from_history.fetch_add(1, Ordering::Relaxed);
                        Outcome::Batch {
                            next: last.cursor,
                            messages: held
                                .into_iter()
                                .map(|m| longpoll_proto::Message {
                                    seq: m.cursor.seq,
                                    data: m.data,
                                })
                                .collect(),
                        }
                    }
                    _ => lp_gap,
                }
            }
            HistoryRead::Gap {
                missed_from: from,
                missed_to: to,
                resume: at,
            } if at.epoch == resume.epoch && from == missed_from && to < missed_to => {
                Outcome::Gap {
                    missed_from: from,
                    missed_to: to,
                    resume: at,
                }
            }
            // The hub moved on (a new epoch, a head behind the cursor): longpoll-proto's
            // answer stands, and the next poll hears the rest.
            _ => lp_gap,
        })
    }

    async fn send<B>(&self, parts: &http::request::Parts, body: B) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let query = parts.uri.query().unwrap_or("");
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        let client = match lp_http::parse_send_request(query, headers) {
            Ok(c) => c,
            Err(e) => return bad_request(&e),
        };
        let limits = self.inner.config.parse;
        let bytes = match read_body(body, limits.max_body_bytes).await {
            Ok(b) => b,
            Err(e @ BodyError::TooLarge { .. }) => {
                return text_response(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string())
            }
            Err(e) => return text_response(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let batch = match lp_http::parse_send_body(&bytes, &limits) {
            Ok(b) => b,
            Err(e) => return bad_request(&e),
        };
        if !self.inner.upstream_taken.load(Ordering::Acquire) {
            return text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream messages are not read",
            );
        }
        let permits = if batch.messages.is_empty() {
            None
        } else {
            match tokio::time::timeout(
                self.inner.config.upstream_wait,
                self.inner.upstream.reserve_many(batch.messages.len()),
            )
            .await
            {
                Ok(Ok(permits)) => Some(permits),
                Ok(Err(_)) => {
                    return text_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "upstream reader is gone",
                    )
                }
                Err(_) => return text_response(StatusCode::SERVICE_UNAVAILABLE, "upstream_busy"),
            }
        };
        let (result, acked) = self.inner.with_state(|s| {
            let now = s.now();
            let result = s.lp.handle_send(now, &client, &batch);
            let acked = s.lp.upstream_acked(&client).unwrap_or(0);
            (result, acked)
        });
        if let (Ok(accepted), Some(permits)) = (&result, permits) {
            for (permit, data) in permits.zip(batch.messages[accepted.fresh_from..].iter()) {
                permit.send(UpstreamMessage {
                    client: client.clone(),
                    data: data.clone(),
                });
            }
        }
        reply(lp_http::render_send_ack(&result, acked))
    }
}

enum Start {
    One(longpoll_proto::PollRequest),
    Multi(longpoll_proto::MultiPollRequest),
}

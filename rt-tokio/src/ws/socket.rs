//! [`WebSocket`]: one ws-proto [`Connection`] driven over an async byte stream, in the task
//! that uses it (no background task), and its halves after [`WebSocket::split`].
//!
//! The driver follows the connection's one drain order: after every input or mutation, take
//! the events, write what `poll_transmit` hands out, arm the timer. Reading also writes what
//! the protocol requires (Pongs, the Close echo) and fires the timers (keepalive, close
//! timeout), so a task that only receives keeps the connection healthy.
//!
//! Memory: the read buffer is the connection's input buffer, read into directly (nothing is
//! zero-filled or copied on the way); when a read finds nothing to do and the buffer is
//! empty, it is let go into the thread's pool of read buffers ([`super::read_pool`]), so an
//! idle connection holds no read buffer, and the next read takes one from the pool rather
//! than from the allocator. Outgoing bytes are bounded by
//! [`ws_proto::Config::max_send_buffer`] in the connection, plus one batch being written.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Wake, Waker};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;
use ws_proto::{CloseCode, Closed, Connection, Event, Instant, Message, SendError};

use super::error::Error;
use super::read_pool;
use crate::clock;

/// The most bytes taken from the connection for one write (a vectored write of its pieces).
const WRITE_BATCH: usize = 256 * 1024;
/// The most pieces in one vectored write (their slices are on the stack).
const WRITE_PIECES: usize = 16;

/// One WebSocket connection over `S` (TCP, TLS, a hyper upgrade...), client or server.
///
/// - [`recv`](Self::recv) the next message (Pings are answered, the peer's Close is echoed);
///   [`Stream`](futures_util::Stream) of `Result<Message, Error>` too.
/// - [`send`](Self::send) a message and write it; [`feed`](Self::feed) many, then
///   [`flush`](Self::flush) once; [`Sink`](futures_util::Sink) too.
/// - [`close`](Self::close) with a code and reason, completing the handshake;
///   [`ping`](Self::ping).
/// - [`split`](Self::split) into a reader and a writer for two tasks.
///
/// Cancel safety: `recv` is cancel-safe (a message is handed out by the call that returns it,
/// never lost), and so is `flush`. `send` and `feed` queue the message at most once: if
/// cancelled while waiting for room, it was not queued.
pub struct WebSocket<S> {
    inner: Inner<S>,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("connection", &self.inner.conn)
            .finish_non_exhaustive()
    }
}

/// Which half polls: the reader or the writer (only after a split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Reader,
    Writer,
}

/// Wakers of both halves: the stream is polled for writing by either, and only the last
/// waker given to it is woken, so both register here and the stream gets one that wakes
/// both.
#[derive(Default)]
struct BothWakers {
    reader: AtomicWaker,
    writer: AtomicWaker,
}

impl Wake for BothWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.reader.wake();
        self.writer.wake();
    }
}

/// The connection, its stream and what the driver keeps between polls.
struct Inner<S> {
    conn: Connection,
    io: S,
    /// Bytes taken from the connection and not yet written, in order.
    out: VecDeque<Bytes>,
    out_len: usize,
    /// A message `start_send` could not queue yet (the connection's buffer was full).
    slot: Option<Message>,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<u64>,
    /// The read buffer went to the pool (the next read takes one from it).
    released: bool,
    /// The peer closed its side of the stream.
    eof: bool,
    /// Our side of the stream is shut down.
    shut: bool,
    /// How the connection ended, once it did.
    closed: Option<Closed>,
    /// The error to hand out once when the connection ends (a protocol violation, a broken
    /// stream).
    error: Option<Error>,
    /// After a split: the wakers of both halves, and a waker that wakes both.
    split: Option<(Arc<BothWakers>, Waker)>,
}

fn now() -> Instant {
    Instant::from_micros(clock::now_micros())
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A WebSocket over `io`, whose opening handshake is done, driving `conn` (made for
    /// it). Bytes that arrived right after the handshake go in `conn.input_buffer()` before
    /// (they are read at once); [`connect`](super::connect), [`accept`](super::accept) and
    /// the hyper [`upgrade`](super::upgrade) do all of that.
    pub fn from_connection(io: S, mut conn: Connection) -> Self {
        let mut error = None;
        if !conn.input_buffer().is_empty() {
            if let Err(e) = conn.handle_input(now()) {
                error = Some(Error::Protocol(e));
            }
        }
        WebSocket {
            inner: Inner {
                conn,
                io,
                out: VecDeque::new(),
                out_len: 0,
                slot: None,
                timer: Box::pin(tokio::time::sleep_until(clock::instant_at(0))),
                timer_at: None,
                released: false,
                eof: false,
                shut: false,
                closed: None,
                error,
                split: None,
            },
        }
    }

    /// The next message, or `None` once the connection is over ([`closed`](Self::closed)
    /// says how). An `Err` (the peer broke the protocol: the Close with its code was sent;
    /// or the stream failed) is handed out once, then `None`. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.inner.poll_recv(cx, None)).await
    }

    /// Queue `message` and write everything queued (backpressure: waits while the peer is
    /// not reading and the connection's buffer is full).
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        let mut queued = false;
        poll_fn(|cx| {
            if !queued {
                ready!(self.inner.poll_feed(cx, None, &message))?;
                queued = true;
            }
            self.inner.poll_flush(cx, None)
        })
        .await
    }

    /// Queue `message`, writing only what must make room for it: for many small messages,
    /// `feed` each then [`flush`](Self::flush) once.
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| self.inner.poll_feed(cx, None, &message)).await
    }

    /// Write everything queued and flush the stream.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_flush(cx, None)).await
    }

    /// Send a Ping with `payload` (at most 125 bytes) and write it.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.inner
            .conn
            .ping(now(), payload)
            .map_err(Error::from_send)?;
        self.flush().await
    }

    /// Start the close handshake with `code` and `reason` (at most 123 bytes) and complete
    /// it: messages the peer still sends are dropped, until its Close (or the close timeout
    /// of the config). Returns how the connection ended.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<Closed, Error> {
        match self.inner.conn.close(now(), code, reason) {
            Ok(()) | Err(SendError::Closing) => {}
            Err(e) => return Err(Error::from_send(e)),
        }
        while let Some(item) = self.recv().await {
            item?;
        }
        Ok(self.closed().cloned().unwrap_or(Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            clean: false,
        }))
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.inner.closed.as_ref()
    }

    /// The connection this socket drives (for its getters).
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner.io
    }

    /// Split into a reader and a writer usable from two tasks. The reader also writes what
    /// the protocol requires (Pongs, the Close echo) and fires the timers; dropping one half
    /// leaves the other working (the stream closes when both are gone).
    pub fn split(self) -> (WsReader<S>, WsWriter<S>) {
        let mut inner = self.inner;
        let wakers = Arc::new(BothWakers::default());
        inner.split = Some((wakers.clone(), Waker::from(wakers)));
        let shared = Arc::new(Mutex::new(inner));
        (
            WsReader {
                shared: shared.clone(),
            },
            WsWriter { shared },
        )
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Inner<S> {
    /// The waker to poll the stream's write side with: the task's own, or after a split the
    /// one that wakes both halves (with the task's waker registered for its side).
    /// The waker to give the stream when writing, if not the caller's own: after a split,
    /// one that wakes both halves (the caller's waker registered for its half).
    fn split_write_waker(&self, cx: &Context<'_>, side: Option<Side>) -> Option<Waker> {
        match (&self.split, side) {
            (Some((both, waker)), Some(side)) => {
                match side {
                    Side::Reader => both.reader.register(cx.waker()),
                    Side::Writer => both.writer.register(cx.waker()),
                }
                Some(waker.clone())
            }
            _ => None,
        }
    }

    fn write_waker(&self, cx: &Context<'_>, side: Option<Side>) -> Waker {
        self.split_write_waker(cx, side)
            .unwrap_or_else(|| cx.waker().clone())
    }

    /// Write what the connection hands out, in batches, until it has nothing more.
    fn poll_write_out(&mut self, cx: &mut Context<'_>, side: Option<Side>) -> Poll<io::Result<()>> {
        // The caller's context as it is unless split: no waker clone per write.
        let (result, progress) = match self.split_write_waker(cx, side) {
            Some(waker) => self.write_loop(&mut Context::from_waker(&waker)),
            None => self.write_loop(cx),
        };
        if progress {
            if let Some((both, _)) = &self.split {
                // Room was made: the other half may be waiting for it.
                match side {
                    Some(Side::Reader) => both.writer.wake(),
                    Some(Side::Writer) => both.reader.wake(),
                    None => {}
                }
            }
        }
        result
    }

    /// `poll_write_out`'s loop, with the context the stream is polled with; also says whether
    /// any byte was written.
    fn write_loop(&mut self, wcx: &mut Context<'_>) -> (Poll<io::Result<()>>, bool) {
        let mut progress = false;
        let result = loop {
            if self.out.is_empty() {
                while self.out_len < WRITE_BATCH
                    && self.out.len() < WRITE_PIECES
                    && self.conn.pending_transmit() > 0
                {
                    match self.conn.poll_transmit() {
                        Some(bytes) => {
                            self.out_len += bytes.len();
                            self.out.push_back(bytes);
                        }
                        None => break,
                    }
                }
                if self.out.is_empty() {
                    break Poll::Ready(Ok(()));
                }
            }
            let io = Pin::new(&mut self.io);
            let written = if self.out.len() > 1 && io.is_write_vectored() {
                // On the stack: no allocation per write.
                let mut slices = [IoSlice::new(&[]); WRITE_PIECES];
                for (slice, piece) in slices.iter_mut().zip(&self.out) {
                    *slice = IoSlice::new(piece);
                }
                let n = self.out.len().min(WRITE_PIECES);
                Pin::new(&mut self.io).poll_write_vectored(wcx, &slices[..n])
            } else {
                Pin::new(&mut self.io).poll_write(wcx, &self.out[0])
            };
            match written {
                Poll::Pending => break Poll::Pending,
                Poll::Ready(Err(e)) => break Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => {
                    break Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the stream accepts no more bytes",
                    )))
                }
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
                    self.out_len -= n;
                    while n > 0 {
                        let front = &mut self.out[0];
                        if n < front.len() {
                            front.advance(n);
                            break;
                        }
                        n -= front.len();
                        self.out.pop_front();
                    }
                }
            }
        };
        (result, progress)
    }

    /// Queue the message `start_send` could not, if any.
    fn poll_slot(&mut self, cx: &mut Context<'_>, side: Option<Side>) -> Poll<Result<(), Error>> {
        while let Some(message) = self.slot.take() {
            match self.conn.send(now(), message.clone()) {
                Ok(()) => {}
                Err(SendError::BufferFull { .. }) => {
                    self.slot = Some(message);
                    ready!(self.poll_write_out(cx, side)).map_err(|e| self.broken(e))?;
                }
                Err(e) => return Poll::Ready(Err(Error::from_send(e))),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Queue `message`, writing as much as makes room for it.
    fn poll_feed(
        &mut self,
        cx: &mut Context<'_>,
        side: Option<Side>,
        message: &Message,
    ) -> Poll<Result<(), Error>> {
        ready!(self.poll_slot(cx, side))?;
        loop {
            match self.conn.send(now(), message.clone()) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(SendError::BufferFull { .. }) => {
                    // Written out, the connection's buffer is empty, and an empty buffer
                    // takes a message of any size.
                    ready!(self.poll_write_out(cx, side)).map_err(|e| self.broken(e))?;
                }
                Err(e) => return Poll::Ready(Err(self.send_error(e))),
            }
        }
    }

    /// Write everything queued and flush the stream.
    fn poll_flush(&mut self, cx: &mut Context<'_>, side: Option<Side>) -> Poll<Result<(), Error>> {
        ready!(self.poll_slot(cx, side))?;
        ready!(self.poll_write_out(cx, side)).map_err(|e| self.broken(e))?;
        let flushed = match self.split_write_waker(cx, side) {
            Some(waker) => Pin::new(&mut self.io).poll_flush(&mut Context::from_waker(&waker)),
            None => Pin::new(&mut self.io).poll_flush(cx),
        };
        ready!(flushed).map_err(|e| self.broken(e))?;
        Poll::Ready(Ok(()))
    }

    /// Ready when the connection's buffer has room (for `Sink::poll_ready`).
    fn poll_ready(&mut self, cx: &mut Context<'_>, side: Option<Side>) -> Poll<Result<(), Error>> {
        ready!(self.poll_slot(cx, side))?;
        if self.conn.is_finished() {
            return Poll::Ready(Err(Error::Closed));
        }
        Poll::Ready(Ok(()))
    }

    /// Queue `message` without waiting (for `Sink::start_send`, after `poll_ready`): a
    /// message the full buffer cannot take waits in the slot, written before anything else.
    fn start_send(&mut self, message: Message) -> Result<(), Error> {
        match self.conn.send(now(), message.clone()) {
            Ok(()) => Ok(()),
            Err(SendError::BufferFull { .. }) => {
                self.slot = Some(message);
                Ok(())
            }
            Err(e) => Err(self.send_error(e)),
        }
    }

    /// A refused send: once the connection is closing, the error it ended with, if any.
    fn send_error(&mut self, e: SendError) -> Error {
        match e {
            SendError::Closing => Error::Closed,
            e => Error::from_send(e),
        }
    }

    /// The stream broke while writing: the connection is over (as an end of stream).
    fn broken(&mut self, e: io::Error) -> Error {
        self.conn.handle_eof(now());
        self.eof = true;
        Error::Io(io::Error::new(e.kind(), e.to_string()))
    }

    /// Fire the timer if it is due; arm it for the connection's next deadline. Returns
    /// whether the connection had work to do.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(at) = self.conn.poll_timeout() else {
            self.timer_at = None;
            return false;
        };
        let at = at.as_micros();
        let now = clock::now_micros();
        if at <= now {
            self.conn.handle_timeout(Instant::from_micros(now));
            return true;
        }
        if self.timer_at != Some(at) {
            self.timer.as_mut().reset(clock::instant_at(at));
            self.timer_at = Some(at);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.timer_at = None;
            self.conn
                .handle_timeout(Instant::from_micros(clock::now_micros()));
            return true;
        }
        false
    }

    /// The read loop: events first, then what must be written, the timer, and a read.
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        side: Option<Side>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            while let Some(event) = self.conn.poll_event() {
                match event {
                    Event::Message(m) => return Poll::Ready(Some(Ok(m))),
                    Event::Closed(c) => self.closed = Some(c),
                    // Pings are answered by the connection; Pongs and the peer's Close
                    // (echoed, and reported by `closed()`) need nothing here.
                    _ => {}
                }
            }
            // Pongs, the Close echo, replies queued by the other half.
            let queued = !self.out.is_empty() || self.conn.pending_transmit() > 0;
            let written = match queued {
                true => self.poll_write_out(cx, side),
                false => Poll::Ready(Ok(())),
            };
            if let Poll::Ready(Err(e)) = written {
                let e = self.broken(e);
                self.error.get_or_insert(e);
                continue;
            }
            if self.conn.is_finished() {
                if !self.shut {
                    if let Err(e) = ready!(self.poll_write_out(cx, side)) {
                        let _ = self.broken(e);
                    }
                    let waker = self.write_waker(cx, side);
                    let mut wcx = Context::from_waker(&waker);
                    // The server closes the stream first; a client after the server did (or
                    // its wait timed out). A failed shutdown changes nothing now.
                    let _ = ready!(Pin::new(&mut self.io).poll_shutdown(&mut wcx));
                    self.shut = true;
                }
                return Poll::Ready(self.error.take().map(Err));
            }
            if self.poll_timer(cx) {
                if self
                    .conn
                    .poll_timeout()
                    .is_some_and(|t| t.as_micros() <= clock::now_micros())
                {
                    // More work waits (inflating in steps): let other tasks run first.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                continue;
            }
            if self.eof {
                self.conn.handle_eof(now());
                continue;
            }
            if self.released {
                self.released = false;
                if let Some(pooled) = read_pool::take() {
                    // Empty before it went, so the swap is always taken.
                    let _ = self.conn.swap_input_buffer(pooled);
                }
            }
            let buf: &mut BytesMut = self.conn.input_buffer();
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, buf) {
                Poll::Pending => {
                    if buf.is_empty() {
                        // Idle: let the read buffer go into the pool.
                        if let Ok(idle) = self.conn.swap_input_buffer(BytesMut::new()) {
                            read_pool::put(idle);
                            self.released = true;
                        }
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => {
                    self.eof = true;
                    self.conn.handle_eof(now());
                }
                Poll::Ready(Ok(_)) => {
                    if let Err(e) = self.conn.handle_input(now()) {
                        self.error.get_or_insert(Error::Protocol(e));
                    }
                }
                Poll::Ready(Err(e)) => {
                    self.eof = true;
                    self.conn.handle_eof(now());
                    self.error.get_or_insert(Error::Io(e));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_util::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_recv(cx, None)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_util::Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_ready(cx, None)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().inner.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_flush(cx, None)
    }

    /// Starts the close handshake (1000) and writes it; the stream ends when the peer
    /// answers (keep polling the `Stream` side to see it).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let inner = &mut self.get_mut().inner;
        match inner.conn.close(now(), CloseCode::NORMAL, "") {
            Ok(()) | Err(SendError::Closing) => {}
            Err(e) => return Poll::Ready(Err(Error::from_send(e))),
        }
        inner.poll_flush(cx, None)
    }
}

/// The reading half of a split [`WebSocket`].
pub struct WsReader<S> {
    shared: Arc<Mutex<Inner<S>>>,
}

/// The writing half of a split [`WebSocket`].
pub struct WsWriter<S> {
    shared: Arc<Mutex<Inner<S>>>,
}

impl<S> std::fmt::Debug for WsReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsReader").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for WsWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsWriter").finish_non_exhaustive()
    }
}

/// The lock on the halves' shared state (held only within one poll, never across an await;
/// a panic in another half's poll leaves the state as it was, so it is taken over).
fn lock<S>(shared: &Mutex<Inner<S>>) -> MutexGuard<'_, Inner<S>> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsReader<S> {
    /// The next message; see [`WebSocket::recv`]. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| lock(&self.shared).poll_recv(cx, Some(Side::Reader))).await
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<Closed> {
        lock(&self.shared).closed.clone()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsWriter<S> {
    /// Queue `message` and write everything queued; see [`WebSocket::send`].
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        let mut queued = false;
        poll_fn(|cx| {
            let mut inner = lock(&self.shared);
            if !queued {
                ready!(inner.poll_feed(cx, Some(Side::Writer), &message))?;
                queued = true;
            }
            inner.poll_flush(cx, Some(Side::Writer))
        })
        .await
    }

    /// Queue `message`; see [`WebSocket::feed`].
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| lock(&self.shared).poll_feed(cx, Some(Side::Writer), &message)).await
    }

    /// Write everything queued and flush the stream.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| lock(&self.shared).poll_flush(cx, Some(Side::Writer))).await
    }

    /// Send a Ping and write it.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        lock(&self.shared)
            .conn
            .ping(now(), payload)
            .map_err(Error::from_send)?;
        self.flush().await
    }

    /// Start the close handshake and write the Close; the reader sees the peer's answer
    /// and then the end of the stream.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        match lock(&self.shared).conn.close(now(), code, reason) {
            Ok(()) | Err(SendError::Closing) => {}
            Err(e) => return Err(Error::from_send(e)),
        }
        self.flush().await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_util::Stream for WsReader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        lock(&self.shared).poll_recv(cx, Some(Side::Reader))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_util::Sink<Message> for WsWriter<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        lock(&self.shared).poll_ready(cx, Some(Side::Writer))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        lock(&self.shared).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        lock(&self.shared).poll_flush(cx, Some(Side::Writer))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut inner = lock(&self.shared);
        match inner.conn.close(now(), CloseCode::NORMAL, "") {
            Ok(()) | Err(SendError::Closing) => {}
            Err(e) => return Poll::Ready(Err(Error::from_send(e))),
        }
        inner.poll_flush(cx, Some(Side::Writer))
    }
}

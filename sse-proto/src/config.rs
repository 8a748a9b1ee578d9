//! Every limit and knob, with its documented default.

use core::time::Duration;

/// Limits of the [`Parser`](crate::Parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserConfig {
    /// Longest line accepted, in bytes, not counting its terminator. Default 1 MiB.
    /// Exceeding it yields [`ParseError::LineTooLong`](crate::ParseError::LineTooLong).
    pub max_line_length: usize,
    /// Largest data of one event, in bytes as received (the LF between lines included). Default 4 MiB.
    /// Exceeding it yields [`ParseError::EventDataTooLarge`](crate::ParseError::EventDataTooLarge).
    pub max_event_data: usize,
}

impl ParserConfig {
    /// The defaults: 1 MiB lines, 4 MiB events.
    pub const DEFAULT: ParserConfig = ParserConfig {
        max_line_length: 1 << 20,
        max_event_data: 4 << 20,
    };

    /// Sets [`max_line_length`](Self::max_line_length).
    pub const fn with_max_line_length(mut self, bytes: usize) -> Self {
        self.max_line_length = bytes;
        self
    }

    /// Sets [`max_event_data`](Self::max_event_data).
    pub const fn with_max_event_data(mut self, bytes: usize) -> Self {
        self.max_event_data = bytes;
        self
    }
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Knobs of the EventSource [`Client`](crate::Client).
///
/// Reconnection delay after a lost connection: the reconnection time (initially
/// [`initial_reconnection_time`](Self::initial_reconnection_time), then whatever the last
/// `retry:` field said) clamped to [`min_reconnection_time`](Self::min_reconnection_time)
/// ..= [`max_reconnection_time`](Self::max_reconnection_time). After `n` consecutive failures
/// (a connection that did not stay open for [`healthy_period`](Self::healthy_period)) it is
/// doubled `n` times, capped at [`max_backoff`](Self::max_backoff), and up to
/// [`jitter_percent`](Self::jitter_percent) percent is added at random. The first reconnection
/// after a healthy connection waits exactly the reconnection time, as a browser does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Parser limits for the response body. Default [`ParserConfig::DEFAULT`].
    pub parser: ParserConfig,
    /// Reconnection time before any `retry:` field. Default 3 s.
    pub initial_reconnection_time: Duration,
    /// Floor applied to the reconnection time (a server cannot ask for less). Default 250 ms.
    pub min_reconnection_time: Duration,
    /// Ceiling applied to the reconnection time from `retry:`. Default 5 min.
    pub max_reconnection_time: Duration,
    /// Ceiling of the exponential backoff after repeated failures. Default 2 min.
    pub max_backoff: Duration,
    /// Random extra delay on backoff, as a percentage of the delay (0 disables). Default 50.
    pub jitter_percent: u8,
    /// How long a connection must stay open before the failure count resets. Default 10 s.
    pub healthy_period: Duration,
    /// If set, a connection on which no byte arrives for this long (counting from the request,
    /// so it also bounds the wait for the response head) is considered dead and is replaced. Default `None` (browsers have none). A server sending keep-alive comments every
    /// 15 s pairs well with 45 s here.
    pub idle_timeout: Option<Duration>,
    /// Reconnect after the server ends the stream cleanly. Default `true` (the browser's
    /// behaviour); `false` suits finite streams: a clean end then closes the client.
    pub reconnect_after_end: bool,
    /// Most redirects followed for one connection attempt. Default 20 (as Fetch).
    pub max_redirects: u8,
    /// Treat a 5xx response like a network error (reconnect with backoff) instead of failing
    /// for good. Default `false` (the browser's behaviour); clients behind proxies that answer
    /// 502/503 while a server restarts need `true`.
    pub retry_server_errors: bool,
}

impl ClientConfig {
    /// The defaults listed on each field.
    pub const DEFAULT: ClientConfig = ClientConfig {
        parser: ParserConfig::DEFAULT,
        initial_reconnection_time: Duration::from_secs(3),
        min_reconnection_time: Duration::from_millis(250),
        max_reconnection_time: Duration::from_secs(300),
        max_backoff: Duration::from_secs(120),
        jitter_percent: 50,
        healthy_period: Duration::from_secs(10),
        idle_timeout: None,
        reconnect_after_end: true,
        max_redirects: 20,
        retry_server_errors: false,
    };
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Bounds of the server's [`ReplayBuffer`](crate::ReplayBuffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Most events kept. Default 1024.
    pub max_events: usize,
    /// Most bytes of serialized events kept. Default 1 MiB.
    pub max_bytes: usize,
}

impl ReplayConfig {
    /// The defaults: 1024 events, 1 MiB.
    pub const DEFAULT: ReplayConfig = ReplayConfig {
        max_events: 1024,
        max_bytes: 1 << 20,
    };
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

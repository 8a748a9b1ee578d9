//! The HTTP mapping, as pure functions the runtime crate (and any other driver) uses.
//!
//! # Poll request
//!
//! `GET /<anything>?channel=NAME&cursor=EPOCH:SEQ&timeout=MS` with the client id in the
//! `Longpoll-Client` header or a `client=ID` query parameter (one or both, equal if both).
//! `cursor` is optional (absent: only messages published from now on); `timeout` is
//! optional (milliseconds; capped by the server). Unknown parameters (cache busters such as
//! `_=1700000000`) are ignored; a known parameter given twice is an error.
//!
//! # Poll response
//!
//! Every response carries `Cache-Control: no-store` and, when there is one, the cursor to
//! poll with next in `Longpoll-Cursor: EPOCH:SEQ`. `Longpoll-Reason` names why a response
//! has no messages. Bodies are newline-delimited JSON (`application/x-ndjson`).
//!
//! | outcome | status | `Longpoll-Reason` | body |
//! | --- | --- | --- | --- |
//! | batch | 200 | — | one line per message: `{"seq":5,"data":"text"}` (non-UTF-8 payloads: `{"seq":5,"data_b64":"..."}`) |
//! | timeout / superseded | 204 | `timeout` / `superseded` | none (same cursor) |
//! | gap | 409 | `gap` | `{"reason":"gap","missed_from":3,"missed_to":9,"cursor":"7:9"}` |
//! | reset | 410 | `reset` | `{"reason":"reset","previous":6,"cursor":"7:0"}` |
//! | rejected: `cursor_ahead` | 400 | the reason | `{"reason":"cursor_ahead"}` |
//! | rejected: `duplicate_poll`, `too_many_polls_for_client` | 429 | the reason | `{"reason":...}` |
//! | rejected: `too_many_polls`, `too_many_sessions`, `too_many_channels` | 503 | the reason | `{"reason":...}` |
//!
//! Timeouts answer 204 rather than 200 with an empty batch: no body to parse, and
//! `fetch()` code can test `res.status === 204`. From browser JavaScript:
//!
//! ```js
//! const res = await fetch(`/poll?channel=news&cursor=${cursor}`, {headers: {"Longpoll-Client": id}});
//! const next = res.headers.get("Longpoll-Cursor");
//! if (res.status === 200) {
//!   for (const line of (await res.text()).split("\n")) if (line) handle(JSON.parse(line));
//! } else if (res.status === 409 || res.status === 410) {
//!   report(await res.json());          // gap or reset: one JSON object
//! }
//! cursor = next ?? cursor;
//! ```
//!
//! # Multi-channel polls
//!
//! `GET ?subs=news;7:42,sports;7:3,alerts&timeout=MS` (each channel with an optional
//! `;EPOCH:SEQ` cursor; client id as above). A 200 answer lists, one line each, the channels
//! with something to say, tagged with `"channel"`: messages
//! `{"channel":"news","seq":43,"cursor":"7:43","data":"..."}` (the cursor after that
//! message), gaps `{"channel":..,"reason":"gap","missed_from":..,"missed_to":..,"cursor":..}`,
//! resets `{"channel":..,"reason":"reset","previous":..,"cursor":..}` and
//! `{"channel":..,"reason":"cursor_ahead"}`. Channels not listed keep their cursors. Timeout
//! and superseded are 204 with `Longpoll-Reason` and no cursor; refusals as for single polls.
//!
//! # Client→server messages
//!
//! `POST` with the client id as above and an NDJSON body of consecutive
//! `{"seq":N,"data":"..."}` lines (the [`UpstreamBatch`]). Answer: 204 with
//! `Longpoll-Ack: N` (highest consecutive seq received; retries are de-duplicated), or
//! 409 `seq_gap` / 413 `batch_too_large` / 400 `zero_seq` / 503 `too_many_sessions`, each
//! with `Longpoll-Reason` and `Longpoll-Ack` where known.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use crate::body::{base64_decode, parse_line, write_line, Field, Value};
use crate::cursor::{parse_decimal, Cursor, Epoch, Seq};
use crate::error::{HttpError, UpstreamError};
use crate::hub::{MultiPollRequest, PollRequest, Subscription};
use crate::id::{ChannelName, ClientId};
use crate::response::{ChannelAnswer, EmptyReason, Message, Outcome, RejectReason};
use crate::upstream::{Accepted, UpstreamBatch};

/// Header carrying the client id (lower-case; header names compare case-insensitively).
pub const CLIENT_HEADER: &str = "longpoll-client";
/// Header carrying the cursor to poll with next.
pub const CURSOR_HEADER: &str = "longpoll-cursor";
/// Header carrying the machine-readable reason of a response without messages.
pub const REASON_HEADER: &str = "longpoll-reason";
/// Header carrying an upstream acknowledgement.
pub const ACK_HEADER: &str = "longpoll-ack";
/// The body content type.
pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// A response to write: status, headers (lower-case names) and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Limits applied when parsing a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest body accepted. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Most messages accepted in one body. Default 1024.
    pub max_messages: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_body_bytes: 1 << 20,
            max_messages: 1024,
        }
    }
}

// ---- query strings ----

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// Decodes `application/x-www-form-urlencoded` text (`%XX`, `+` is a space).
fn percent_decode(text: &str) -> Result<String, HttpError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(HttpError::BadEscape),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| HttpError::BadEscape)
}

/// The client id, from the query string or the `CLIENT_HEADER` header (both may be given,
/// then they must agree).
fn client_id<'q, 'h: 'q>(
    from_query: Option<&'q str>,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Result<&'q str, HttpError> {
    match (from_query, header(headers, CLIENT_HEADER)?) {
        (Some(q), Some(h)) if q != h => Err(HttpError::Duplicate("client")),
        (Some(q), _) => Ok(q),
        (None, Some(h)) => Ok(h),
        (None, None) => Err(HttpError::Missing("client")),
    }
}

fn set_once(slot: &mut Option<String>, value: String, name: &'static str) -> Result<(), HttpError> {
    if slot.is_some() {
        return Err(HttpError::Duplicate(name));
    }
    *slot = Some(value);
    Ok(())
}

fn header<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    name: &'static str,
) -> Result<Option<&'a str>, HttpError> {
    let mut found = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            if found.is_some() {
                return Err(HttpError::Duplicate(name));
            }
            let text = core::str::from_utf8(v).map_err(|_| HttpError::BadEscape)?;
            found = Some(text.trim_matches(|c| c == ' ' || c == '\t'));
        }
    }
    Ok(found)
}

/// The query string for a poll (without the `?`).
pub fn poll_query(
    channel: &ChannelName,
    cursor: Option<Cursor>,
    timeout: Option<Duration>,
) -> String {
    // Names are URL-safe by construction: no escaping needed.
    let mut q = format!("channel={channel}");
    if let Some(c) = cursor {
        q.push_str(&format!("&cursor={c}"));
    }
    if let Some(t) = timeout {
        q.push_str(&format!("&timeout={}", t.as_millis()));
    }
    q
}

/// Parses a poll request's query string (without the `?`) and headers.
pub fn parse_poll_request<'a>(
    query: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<PollRequest, HttpError> {
    let (mut channel, mut cursor, mut timeout, mut client) = (None, None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "channel" => set_once(&mut channel, percent_decode(v)?, "channel")?,
            "cursor" => set_once(&mut cursor, percent_decode(v)?, "cursor")?,
            "timeout" => set_once(&mut timeout, percent_decode(v)?, "timeout")?,
            "client" => set_once(&mut client, percent_decode(v)?, "client")?,
            _ => {}
        }
    }
    let client = client_id(client.as_deref(), headers)?;
    let channel = channel.ok_or(HttpError::Missing("channel"))?;
    Ok(PollRequest {
        client: ClientId::new(client).map_err(|e| HttpError::Name("client", e))?,
        channel: ChannelName::new(&channel).map_err(|e| HttpError::Name("channel", e))?,
        cursor: match cursor {
            Some(c) => Some(Cursor::parse(&c).map_err(HttpError::Cursor)?),
            None => None,
        },
        timeout: match timeout {
            Some(t) => Some(Duration::from_millis(
                parse_decimal(&t).map_err(|_| HttpError::BadNumber("timeout"))?,
            )),
            None => None,
        },
    })
}

// ---- poll responses ----

fn reject_status(reason: RejectReason) -> u16 {
    match reason {
        RejectReason::CursorAhead => 400,
        RejectReason::DuplicatePoll | RejectReason::TooManyPollsForClient => 429,
        _ => 503,
    }
}

fn base_headers() -> Vec<(&'static str, String)> {
    let mut headers = Vec::with_capacity(4);
    headers.push(("cache-control", "no-store".to_string()));
    headers
}

/// Appends one message line.
fn write_message(body: &mut Vec<u8>, m: &Message) {
    match core::str::from_utf8(&m.data) {
        Ok(text) => write_line(
            body,
            &[("seq", Field::Num(m.seq.0)), ("data", Field::Str(text))],
        ),
        Err(_) => write_line(
            body,
            &[
                ("seq", Field::Num(m.seq.0)),
                ("data_b64", Field::Base64(&m.data)),
            ],
        ),
    }
}

/// Renders an outcome as status, headers and body (see the module table).
pub fn render_response(outcome: &Outcome) -> HttpResponse {
    let mut headers = base_headers();
    let mut body = Vec::new();
    let status = match outcome {
        Outcome::Batch { messages, next } => {
            headers.push((CURSOR_HEADER, next.to_string()));
            // Payload plus the line framing; escapes may grow it a little more.
            body.reserve(messages.iter().map(|m| m.data.len() + 32).sum());
            for m in messages {
                write_message(&mut body, m);
            }
            200
        }
        Outcome::Empty { cursor, reason } => {
            headers.push((CURSOR_HEADER, cursor.to_string()));
            headers.push((REASON_HEADER, reason.as_str().to_string()));
            204
        }
        Outcome::Gap {
            missed_from,
            missed_to,
            resume,
        } => {
            let cursor = resume.to_string();
            write_line(
                &mut body,
                &[
                    ("reason", Field::Str("gap")),
                    ("missed_from", Field::Num(missed_from.0)),
                    ("missed_to", Field::Num(missed_to.0)),
                    ("cursor", Field::Str(&cursor)),
                ],
            );
            headers.push((CURSOR_HEADER, cursor));
            headers.push((REASON_HEADER, "gap".to_string()));
            409
        }
        Outcome::Reset { previous, resume } => {
            let cursor = resume.to_string();
            write_line(
                &mut body,
                &[
                    ("reason", Field::Str("reset")),
                    ("previous", Field::Num(previous.0)),
                    ("cursor", Field::Str(&cursor)),
                ],
            );
            headers.push((CURSOR_HEADER, cursor));
            headers.push((REASON_HEADER, "reset".to_string()));
            410
        }
        Outcome::Rejected { reason } => {
            write_line(&mut body, &[("reason", Field::Str(reason.as_str()))]);
            headers.push((REASON_HEADER, reason.as_str().to_string()));
            reject_status(*reason)
        }
        Outcome::Multi { answers } => {
            for answer in answers {
                write_channel_answer(&mut body, answer);
            }
            200
        }
        Outcome::MultiEmpty { reason } => {
            headers.push((REASON_HEADER, reason.as_str().to_string()));
            204
        }
    };
    if !body.is_empty() {
        headers.push(("content-type", CONTENT_TYPE.to_string()));
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// Appends one channel's part of a multi-channel answer.
fn write_channel_answer(body: &mut Vec<u8>, answer: &ChannelAnswer) {
    let channel = Field::Str(answer.channel.as_str());
    match &answer.outcome {
        Outcome::Batch { messages, next } => {
            for m in messages {
                let cursor = Cursor {
                    epoch: next.epoch,
                    seq: m.seq,
                }
                .to_string();
                let data = match core::str::from_utf8(&m.data) {
                    Ok(text) => ("data", Field::Str(text)),
                    Err(_) => ("data_b64", Field::Base64(&m.data)),
                };
                write_line(
                    body,
                    &[
                        ("channel", Field::Str(answer.channel.as_str())),
                        ("seq", Field::Num(m.seq.0)),
                        ("cursor", Field::Str(&cursor)),
                        data,
                    ],
                );
            }
        }
        Outcome::Gap {
            missed_from,
            missed_to,
            resume,
        } => {
            let cursor = resume.to_string();
            write_line(
                body,
                &[
                    ("channel", channel),
                    ("reason", Field::Str("gap")),
                    ("missed_from", Field::Num(missed_from.0)),
                    ("missed_to", Field::Num(missed_to.0)),
                    ("cursor", Field::Str(&cursor)),
                ],
            );
        }
        Outcome::Reset { previous, resume } => {
            let cursor = resume.to_string();
            write_line(
                body,
                &[
                    ("channel", channel),
                    ("reason", Field::Str("reset")),
                    ("previous", Field::Num(previous.0)),
                    ("cursor", Field::Str(&cursor)),
                ],
            );
        }
        Outcome::Rejected { reason } => write_line(
            body,
            &[
                ("channel", channel),
                ("reason", Field::Str(reason.as_str())),
            ],
        ),
        // Not per-channel answers; never produced inside `Multi`.
        Outcome::Empty { .. } | Outcome::Multi { .. } | Outcome::MultiEmpty { .. } => {}
    }
}

fn field<'a>(fields: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn num(fields: &[(String, Value)], key: &str, line: usize) -> Result<u64, HttpError> {
    match field(fields, key) {
        Some(Value::Num(n)) => Ok(*n),
        _ => Err(HttpError::BadBody { line }),
    }
}

/// Parses NDJSON message lines into `(seq, data)`, checking limits and consecutive seqs.
fn parse_messages(body: &[u8], limits: &ParseLimits) -> Result<Vec<Message>, HttpError> {
    if body.len() > limits.max_body_bytes {
        return Err(HttpError::BodyTooLarge {
            max: limits.max_body_bytes,
        });
    }
    let mut messages: Vec<Message> = Vec::new();
    for (line_no, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        if messages.len() >= limits.max_messages {
            return Err(HttpError::TooManyMessages {
                max: limits.max_messages,
            });
        }
        let bad = HttpError::BadBody { line: line_no };
        let fields = parse_line(line).ok_or(bad.clone())?;
        let seq = Seq(num(&fields, "seq", line_no)?);
        let data = match (field(&fields, "data"), field(&fields, "data_b64")) {
            (Some(Value::Str(s)), None) => Bytes::from(s.clone().into_bytes()),
            (None, Some(Value::Str(s))) => Bytes::from(base64_decode(s.as_bytes()).ok_or(bad)?),
            _ => return Err(bad),
        };
        if let Some(prev) = messages.last() {
            if prev.seq.next() != seq {
                return Err(HttpError::NonConsecutive);
            }
        }
        messages.push(Message { seq, data });
    }
    Ok(messages)
}

/// Client side: parses a poll response back into an [`Outcome`].
pub fn parse_poll_response<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])> + Clone,
    body: &[u8],
    limits: &ParseLimits,
) -> Result<Outcome, HttpError> {
    let cursor = match header(headers.clone(), CURSOR_HEADER)? {
        Some(text) => Some(Cursor::parse(text).map_err(HttpError::Cursor)?),
        None => None,
    };
    let reason = header(headers, REASON_HEADER)?;
    let need_cursor = || cursor.ok_or(HttpError::Missing(CURSOR_HEADER));
    match status {
        200 => {
            let next = need_cursor()?;
            let messages = parse_messages(body, limits)?;
            if messages.last().is_some_and(|m| m.seq != next.seq) {
                return Err(HttpError::NonConsecutive);
            }
            Ok(Outcome::Batch { messages, next })
        }
        204 => Ok(Outcome::Empty {
            cursor: need_cursor()?,
            reason: match reason {
                Some("superseded") => EmptyReason::Superseded,
                _ => EmptyReason::Timeout,
            },
        }),
        409 | 410 => {
            if reason != Some(if status == 409 { "gap" } else { "reset" }) {
                return Err(HttpError::UnknownReason);
            }
            if body.len() > limits.max_body_bytes {
                return Err(HttpError::BodyTooLarge {
                    max: limits.max_body_bytes,
                });
            }
            let line = body.strip_suffix(b"\n").unwrap_or(body);
            let fields = parse_line(line).ok_or(HttpError::BadBody { line: 0 })?;
            let resume = need_cursor()?;
            if status == 409 {
                Ok(Outcome::Gap {
                    missed_from: Seq(num(&fields, "missed_from", 0)?),
                    missed_to: Seq(num(&fields, "missed_to", 0)?),
                    resume,
                })
            } else {
                Ok(Outcome::Reset {
                    previous: Epoch(num(&fields, "previous", 0)?),
                    resume,
                })
            }
        }
        400 | 429 | 503 => match reason.and_then(RejectReason::from_token) {
            Some(reason) if reject_status(reason) == status => Ok(Outcome::Rejected { reason }),
            _ => Err(HttpError::UnknownReason),
        },
        other => Err(HttpError::UnexpectedStatus(other)),
    }
}

// ---- multi-channel polls ----

/// The query string for a multi-channel poll: `subs=NAME;EPOCH:SEQ,NAME,...` (a channel
/// without `;cursor` starts from now on) and an optional `timeout`.
pub fn multi_poll_query(subscriptions: &[Subscription], timeout: Option<Duration>) -> String {
    let mut q = String::from("subs=");
    for (i, s) in subscriptions.iter().enumerate() {
        if i > 0 {
            q.push(',');
        }
        q.push_str(s.channel.as_str());
        if let Some(c) = s.cursor {
            q.push_str(&format!(";{c}"));
        }
    }
    if let Some(t) = timeout {
        q.push_str(&format!("&timeout={}", t.as_millis()));
    }
    q
}

/// Parses a multi-channel poll request (`subs`, `timeout`, client as for
/// [`parse_poll_request`]). At most `max_subscriptions` channels are accepted.
pub fn parse_multi_poll_request<'a>(
    query: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    max_subscriptions: usize,
) -> Result<MultiPollRequest, HttpError> {
    let (mut subs, mut timeout, mut client) = (None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "subs" => set_once(&mut subs, percent_decode(v)?, "subs")?,
            "timeout" => set_once(&mut timeout, percent_decode(v)?, "timeout")?,
            "client" => set_once(&mut client, percent_decode(v)?, "client")?,
            _ => {}
        }
    }
    let client = client_id(client.as_deref(), headers)?;
    let subs = subs.ok_or(HttpError::Missing("subs"))?;
    let mut subscriptions = Vec::new();
    for item in subs.split(',') {
        if subscriptions.len() >= max_subscriptions {
            return Err(HttpError::TooManyMessages {
                max: max_subscriptions,
            });
        }
        let (name, cursor) = match item.split_once(';') {
            Some((n, c)) => (n, Some(Cursor::parse(c).map_err(HttpError::Cursor)?)),
            None => (item, None),
        };
        subscriptions.push(Subscription {
            channel: ChannelName::new(name).map_err(|e| HttpError::Name("channel", e))?,
            cursor,
        });
    }
    Ok(MultiPollRequest {
        client: ClientId::new(client).map_err(|e| HttpError::Name("client", e))?,
        subscriptions,
        timeout: match timeout {
            Some(t) => Some(Duration::from_millis(
                parse_decimal(&t).map_err(|_| HttpError::BadNumber("timeout"))?,
            )),
            None => None,
        },
    })
}

fn str_field<'a>(
    fields: &'a [(String, Value)],
    key: &str,
    line: usize,
) -> Result<&'a str, HttpError> {
    match field(fields, key) {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(HttpError::BadBody { line }),
    }
}

/// Client side: parses the answer to a multi-channel poll back into an [`Outcome`]
/// (`Multi`, `MultiEmpty` or `Rejected`).
pub fn parse_multi_poll_response<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    body: &[u8],
    limits: &ParseLimits,
) -> Result<Outcome, HttpError> {
    let reason = header(headers, REASON_HEADER)?;
    match status {
        200 => {}
        204 => {
            return Ok(Outcome::MultiEmpty {
                reason: match reason {
                    Some("superseded") => EmptyReason::Superseded,
                    _ => EmptyReason::Timeout,
                },
            })
        }
        400 | 429 | 503 => {
            return match reason.and_then(RejectReason::from_token) {
                Some(reason) if reject_status(reason) == status => Ok(Outcome::Rejected { reason }),
                _ => Err(HttpError::UnknownReason),
            }
        }
        other => return Err(HttpError::UnexpectedStatus(other)),
    }
    if body.len() > limits.max_body_bytes {
        return Err(HttpError::BodyTooLarge {
            max: limits.max_body_bytes,
        });
    }
    let mut answers: Vec<ChannelAnswer> = Vec::new();
    let mut count = 0;
    for (line_no, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        count += 1;
        if count > limits.max_messages {
            return Err(HttpError::TooManyMessages {
                max: limits.max_messages,
            });
        }
        let bad = HttpError::BadBody { line: line_no };
        let fields = parse_line(line).ok_or(bad.clone())?;
        let channel =
            ChannelName::new(str_field(&fields, "channel", line_no)?).map_err(|_| bad.clone())?;
        let cursor = || -> Result<Cursor, HttpError> {
            Cursor::parse(str_field(&fields, "cursor", line_no)?).map_err(HttpError::Cursor)
        };
        let outcome = match field(&fields, "reason") {
            None => {
                let seq = Seq(num(&fields, "seq", line_no)?);
                let at = cursor()?;
                if at.seq != seq {
                    return Err(bad);
                }
                let data = match (field(&fields, "data"), field(&fields, "data_b64")) {
                    (Some(Value::Str(s)), None) => Bytes::from(s.clone().into_bytes()),
                    (None, Some(Value::Str(s))) => {
                        Bytes::from(base64_decode(s.as_bytes()).ok_or(bad.clone())?)
                    }
                    _ => return Err(bad),
                };
                // Extend this channel's batch if it is the previous answer.
                if let Some(ChannelAnswer {
                    channel: c,
                    outcome: Outcome::Batch { messages, next },
                }) = answers.last_mut()
                {
                    if *c == channel {
                        if next.epoch != at.epoch || next.seq.next() != seq {
                            return Err(HttpError::NonConsecutive);
                        }
                        messages.push(Message { seq, data });
                        *next = at;
                        continue;
                    }
                }
                Outcome::Batch {
                    messages: alloc::vec![Message { seq, data }],
                    next: at,
                }
            }
            Some(Value::Str(r)) if r == "gap" => Outcome::Gap {
                missed_from: Seq(num(&fields, "missed_from", line_no)?),
                missed_to: Seq(num(&fields, "missed_to", line_no)?),
                resume: cursor()?,
            },
            Some(Value::Str(r)) if r == "reset" => Outcome::Reset {
                previous: Epoch(num(&fields, "previous", line_no)?),
                resume: cursor()?,
            },
            Some(Value::Str(r)) => Outcome::Rejected {
                reason: RejectReason::from_token(r).ok_or(HttpError::UnknownReason)?,
            },
            Some(_) => return Err(bad),
        };
        if answers.iter().any(|a| a.channel == channel) {
            return Err(bad); // one answer per channel
        }
        answers.push(ChannelAnswer { channel, outcome });
    }
    if answers.is_empty() {
        return Err(HttpError::BadBody { line: 0 });
    }
    Ok(Outcome::Multi { answers })
}

// ---- client→server ----

/// Client side: the body of a POSTed upstream batch.
pub fn render_send_body(batch: &UpstreamBatch) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, data) in batch.messages.iter().enumerate() {
        let m = Message {
            seq: Seq(batch.first_seq + i as u64),
            data: data.clone(),
        };
        write_message(&mut body, &m);
    }
    body
}

/// Server side: the client id of a POSTed upstream batch, from its query string (without
/// the `?`; a `client=ID` parameter) or the `CLIENT_HEADER` header, as for polls. Other
/// parameters are ignored.
pub fn parse_send_request<'a>(
    query: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<ClientId, HttpError> {
    let mut client = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "client" {
            set_once(&mut client, percent_decode(v)?, "client")?;
        }
    }
    let client = client_id(client.as_deref(), headers)?;
    ClientId::new(client).map_err(|e| HttpError::Name("client", e))
}

/// Server side: parses a POSTed upstream batch body.
pub fn parse_send_body(body: &[u8], limits: &ParseLimits) -> Result<UpstreamBatch, HttpError> {
    let messages = parse_messages(body, limits)?;
    Ok(UpstreamBatch {
        first_seq: messages.first().map_or(0, |m| m.seq.0),
        messages: messages.into_iter().map(|m| m.data).collect(),
    })
}

/// Server side: the answer to an upstream batch. `acked` is the session's acknowledged seq
/// when the batch was refused (sent so the client can resynchronise).
pub fn render_send_ack(result: &Result<Accepted, UpstreamError>, acked: u64) -> HttpResponse {
    let mut headers = base_headers();
    let status = match result {
        Ok(accepted) => {
            headers.push((ACK_HEADER, accepted.ack.to_string()));
            204
        }
        Err(e) => {
            let (status, reason) = match e {
                UpstreamError::SeqGap { .. } => (409, "seq_gap"),
                UpstreamError::BatchTooLarge { .. } => (413, "batch_too_large"),
                UpstreamError::TooManySessions { .. } => (503, "too_many_sessions"),
                UpstreamError::SeqOverflow => (400, "seq_overflow"),
                _ => (400, "zero_seq"),
            };
            headers.push((ACK_HEADER, acked.to_string()));
            headers.push((REASON_HEADER, reason.to_string()));
            status
        }
    };
    HttpResponse {
        status,
        headers,
        body: Vec::new(),
    }
}

/// Client side: the acknowledged seq from an upstream answer (for any status that carries
/// one: on 409 `seq_gap` the client resumes after it).
pub fn parse_send_ack<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<u64, HttpError> {
    if !matches!(status, 204 | 409) {
        return Err(HttpError::UnexpectedStatus(status));
    }
    let ack = header(headers, ACK_HEADER)?.ok_or(HttpError::Missing(ACK_HEADER))?;
    parse_decimal(ack).map_err(|_| HttpError::BadNumber(ACK_HEADER))
}

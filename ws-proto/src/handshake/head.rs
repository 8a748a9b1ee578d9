//! Incremental reading of an HTTP/1.1 head (request or response) and the owned header list.
//!
//! This file holds the whole handshake state machine: `Reading` → `Done` (head complete) or
//! `Failed` (an error was returned); both end states answer any further input with
//! [`HandshakeError::Finished`].
//!
//! Invariants:
//! - Linear time however the input is chunked: each input byte is examined once by the
//!   end-of-head scanner (which keeps its position and line state across calls) and httparse
//!   runs exactly once, on the complete head.
//! - Bounded memory: at most `max_head_size` head bytes are buffered; the header array given
//!   to httparse has one slot per header line actually received (never a size the peer
//!   declared), at most `max_headers`.
//! - Lines end with CRLF only. A bare LF or a bare CR fails at once (documented choice: RFC
//!   7230 section 3.5 only *allows* accepting a bare LF, and rejecting it leaves no ambiguity
//!   about where the head ends). An empty line before the start line is rejected too.
//! - Bytes after the head's final CRLF are returned untouched as leftover.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::{HandshakeError, HandshakeLimits};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Failed,
}

/// A complete head: its bytes (start line through final CRLF) and what followed it.
#[derive(Debug)]
pub(crate) struct RawHead {
    pub(crate) head: Vec<u8>,
    pub(crate) leftover: Vec<u8>,
    /// Number of header lines (lines after the start line).
    pub(crate) header_lines: usize,
}

/// Accumulates bytes until the empty line that ends a head.
#[derive(Debug)]
pub(crate) struct HeadReader {
    limits: HandshakeLimits,
    state: State,
    buf: Vec<u8>,
    /// The previous byte was a CR.
    prev_cr: bool,
    /// Bytes in the current line before its CR.
    line_len: usize,
    /// Complete lines so far (the start line included).
    lines: usize,
    /// Instrumentation: bytes examined by the scanner in total.
    #[cfg(test)]
    pub(crate) scanned: usize,
}

impl HeadReader {
    pub(crate) fn new(limits: HandshakeLimits) -> Self {
        Self {
            limits,
            state: State::Reading,
            buf: Vec::new(),
            prev_cr: false,
            line_len: 0,
            lines: 0,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// Feeds bytes; returns the complete head once its final CRLF has arrived.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Option<RawHead>, HandshakeError> {
        match self.state {
            State::Reading => {}
            State::Done | State::Failed => return Err(HandshakeError::Finished),
        }
        match self.scan(bytes) {
            Ok(None) => {
                self.buf.extend_from_slice(bytes);
                Ok(None)
            }
            Ok(Some(end)) => {
                self.state = State::Done;
                let mut head = core::mem::take(&mut self.buf);
                head.extend_from_slice(&bytes[..end]);
                Ok(Some(RawHead {
                    head,
                    leftover: bytes[end..].to_vec(),
                    header_lines: self.lines - 1,
                }))
            }
            Err(e) => {
                self.fail();
                Err(e)
            }
        }
    }

    /// Marks the reader failed (also used when the complete head is then rejected).
    pub(crate) fn fail(&mut self) {
        self.state = State::Failed;
        self.buf = Vec::new();
    }

    /// Scans only the new bytes; `Some(n)`: the head ends after `bytes[..n]`.
    fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, HandshakeError> {
        let room = self.limits.max_head_size.saturating_sub(self.buf.len());
        for (i, &b) in bytes.iter().enumerate() {
            #[cfg(test)]
            {
                self.scanned += 1;
            }
            if i >= room {
                return Err(HandshakeError::HeadTooLarge {
                    limit: self.limits.max_head_size,
                });
            }
            if self.prev_cr {
                if b != b'\n' {
                    return Err(HandshakeError::BareCarriageReturn);
                }
                self.prev_cr = false;
                if self.line_len == 0 {
                    if self.lines == 0 {
                        return Err(HandshakeError::MalformedHead {
                            reason: "empty line before the start line",
                        });
                    }
                    return Ok(Some(i + 1));
                }
                self.lines += 1;
                self.line_len = 0;
                if self.lines - 1 > self.limits.max_headers {
                    return Err(HandshakeError::TooManyHeaders {
                        limit: self.limits.max_headers,
                    });
                }
                continue;
            }
            match b {
                b'\r' => self.prev_cr = true,
                b'\n' => return Err(HandshakeError::BareLineFeed),
                _ => self.line_len += 1,
            }
        }
        Ok(None)
    }
}

/// Maps an httparse error to ours.
pub(crate) fn httparse_error(e: httparse::Error) -> HandshakeError {
    let reason = match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Token => "invalid token in the start line",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    };
    HandshakeError::MalformedHead { reason }
}

/// The header fields of a head, in order, names as sent. Lookups are ASCII
/// case-insensitive. Every value is valid UTF-8 (a head with another value is rejected with
/// [`HandshakeError::NonUtf8HeaderValue`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    text: String,
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl Headers {
    /// Copies httparse's borrowed headers into one owned buffer.
    pub(crate) fn from_httparse(parsed: &[httparse::Header<'_>]) -> Result<Self, HandshakeError> {
        let mut text = String::with_capacity(
            parsed
                .iter()
                .map(|h| h.name.len() + h.value.len())
                .sum::<usize>(),
        );
        let mut fields = Vec::with_capacity(parsed.len());
        for h in parsed {
            let value =
                core::str::from_utf8(h.value).map_err(|_| HandshakeError::NonUtf8HeaderValue)?;
            let n = text.len();
            text.push_str(h.name);
            let v = text.len();
            text.push_str(value);
            fields.push((n..v, v..text.len()));
        }
        Ok(Self { text, fields })
    }

    /// Fields parsed elsewhere (by an HTTP server), in order. Fails with
    /// [`HandshakeError::NonUtf8HeaderValue`] on a value that is not UTF-8.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, HandshakeError> {
        let mut text = String::new();
        let mut fields = Vec::new();
        for (name, value) in pairs {
            let value =
                core::str::from_utf8(value).map_err(|_| HandshakeError::NonUtf8HeaderValue)?;
            let n = text.len();
            text.push_str(name);
            let v = text.len();
            text.push_str(value);
            fields.push((n..v, v..text.len()));
        }
        Ok(Self { text, fields })
    }

    /// The value of the first field called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every `(name, value)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields
            .iter()
            .map(|(n, v)| (&self.text[n.clone()], &self.text[v.clone()]))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// How many fields are called `name`.
    pub(crate) fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The only field called `name`: `Ok(None)` if absent, an error if repeated.
    pub(crate) fn single(&self, name: &'static str) -> Result<Option<&str>, HandshakeError> {
        let mut all = self.get_all(name);
        let first = all.next();
        if all.next().is_some() {
            return Err(HandshakeError::DuplicateHeader { name });
        }
        Ok(first)
    }

    /// True if any comma-separated element of any `name` field equals `token`
    /// (ASCII case-insensitive, whitespace around elements ignored).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
    }

    /// Every `name` field joined as one comma list, or `None` if there is none.
    pub(crate) fn combined(&self, name: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for v in self.get_all(name) {
            match &mut out {
                None => out = Some(v.into()),
                Some(s) => {
                    s.push_str(", ");
                    s.push_str(v);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HandshakeLimits {
        HandshakeLimits::default()
    }

    /// Feeds `input` in chunks of `chunk` bytes until the head completes or fails.
    fn feed(
        input: &[u8],
        chunk: usize,
        l: HandshakeLimits,
    ) -> (Result<Option<RawHead>, HandshakeError>, usize) {
        let mut r = HeadReader::new(l);
        for c in input.chunks(chunk.max(1)) {
            match r.push(c) {
                Ok(None) => continue,
                other => return (other, r.scanned),
            }
        }
        (Ok(None), r.scanned)
    }

    #[test]
    fn finds_end_of_head_under_every_split() {
        let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nLEFT\r\n\r\nOVER";
        let head_len = input.len() - b"LEFT\r\n\r\nOVER".len();
        for split in 0..=input.len() {
            let mut r = HeadReader::new(limits());
            let (a, b) = input.split_at(split);
            let first = r.push(a).unwrap();
            let raw = match first {
                Some(raw) => {
                    assert_eq!(r.push(b).unwrap_err(), HandshakeError::Finished);
                    assert_eq!(raw.leftover, &a[head_len..], "split {split}");
                    raw
                }
                None => {
                    let raw = r.push(b).unwrap().expect("complete");
                    assert_eq!(raw.leftover, &b[head_len - split..], "split {split}");
                    raw
                }
            };
            assert_eq!(raw.head, &input[..head_len], "split {split}");
            assert_eq!(raw.header_lines, 1);
        }
        for chunk in 1..input.len() {
            let (res, scanned) = feed(input, chunk, limits());
            let raw = res.unwrap().unwrap();
            assert_eq!(raw.head, &input[..head_len]);
            assert!(scanned <= head_len);
        }
    }

    #[test]
    fn line_ending_errors() {
        let cases: &[(&[u8], HandshakeError)] = &[
            (
                b"GET / HTTP/1.1\nHost: a\r\n\r\n",
                HandshakeError::BareLineFeed,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\n\n",
                HandshakeError::BareLineFeed,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\r\n",
                HandshakeError::BareCarriageReturn,
            ),
            (b"GET / HTTP/1.1\rX", HandshakeError::BareCarriageReturn),
            (
                b"\r\nGET / HTTP/1.1\r\n\r\n",
                HandshakeError::MalformedHead {
                    reason: "empty line before the start line",
                },
            ),
        ];
        for (input, want) in cases {
            let got = crate::handshake::chunking::all_ways(
                input,
                || HeadReader::new(limits()),
                |r, b| r.push(b).map(|h| h.map(|h| h.head)),
            );
            assert_eq!(got, Err(want.clone()));
        }
    }

    #[test]
    fn size_and_count_limits_hit_early() {
        let l = HandshakeLimits {
            max_head_size: 64,
            max_headers: 2,
            ..limits()
        };
        // Exactly at the size limit is fine.
        let mut exact = b"GET / HTTP/1.1\r\nA: ".to_vec();
        exact.resize(60, b'a');
        exact.extend_from_slice(b"\r\n\r\n");
        assert_eq!(exact.len(), 64);
        assert!(feed(&exact, 1, l).0.unwrap().is_some());
        // One byte more fails on that byte.
        let mut over = exact.clone();
        over.insert(20, b'a');
        let (res, scanned) = feed(&over, 1, l);
        assert_eq!(res.unwrap_err(), HandshakeError::HeadTooLarge { limit: 64 });
        assert_eq!(scanned, 65);
        // Three header lines with max_headers = 2.
        let many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
        assert_eq!(
            feed(many, 1, l).0.unwrap_err(),
            HandshakeError::TooManyHeaders { limit: 2 }
        );
        assert!(feed(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", 1, l)
            .0
            .unwrap()
            .is_some());
    }

    /// Regression for tungstenite CVE-2023-43669: a slowly sent huge head must cost linear
    /// work. With the limit raised to 2 MiB, a 1 MiB head in 3-byte chunks is scanned exactly
    /// once; with the default limit it is cut off at 16 KiB + 1 byte.
    #[test]
    fn slow_huge_head_is_linear() {
        let mut head = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        head.resize(1 << 20, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        let big = HandshakeLimits {
            max_head_size: 2 << 20,
            ..limits()
        };
        let (res, scanned) = feed(&head, 3, big);
        assert_eq!(res.unwrap().unwrap().head.len(), head.len());
        assert_eq!(scanned, head.len());
        let (res, scanned) = feed(&head, 1, limits());
        assert_eq!(
            res.unwrap_err(),
            HandshakeError::HeadTooLarge { limit: 16 * 1024 }
        );
        assert_eq!(scanned, 16 * 1024 + 1);
    }

    #[test]
    fn headers_lookup() {
        let mut hs = [httparse::EMPTY_HEADER; 4];
        let mut req = httparse::Request::new(&mut hs);
        req.parse(b"GET / HTTP/1.1\r\nA: x\r\nConnection: keep-alive, Upgrade\r\na: y\r\n\r\n")
            .unwrap();
        let h = Headers::from_httparse(req.headers).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.get("a"), Some("x"));
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(h.combined("a").as_deref(), Some("x, y"));
        assert_eq!(
            h.single("a"),
            Err(HandshakeError::DuplicateHeader { name: "a" })
        );
        assert!(h.has_token("connection", "upgrade"));
        assert!(!h.has_token("connection", "close"));
        assert_eq!(h.count("missing"), 0);
    }
}

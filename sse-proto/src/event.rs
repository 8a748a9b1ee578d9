//! Serializer: the [`Event`] builder and comment lines, written into the caller's buffer.
//!
//! Invariants: nothing here panics; an [`Event`] that exists can always be serialized so that
//! parsing gives it back exactly (fields that cannot are refused when set); output is written
//! only when it fits entirely.

use core::time::Duration;

use alloc::vec::Vec;

use crate::error::EventError;

/// An event to send, built field by field; it borrows its strings.
///
/// ```
/// use sse_proto::Event;
///
/// let event = Event::new().event_type("update")?.id("42")?.data("line 1\r\nline 2");
/// let mut out = Vec::new();
/// event.write_to(&mut out);
/// assert_eq!(out, b"event: update\nid: 42\ndata: line 1\ndata: line 2\n\n");
/// assert_eq!(event.encoded_len(), out.len());
/// # Ok::<(), sse_proto::EventError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Event<'a> {
    comment: Option<&'a str>,
    event_type: Option<&'a str>,
    id: Option<&'a str>,
    retry: Option<u64>,
    data: Option<&'a str>,
}

impl<'a> Event<'a> {
    /// An event with no fields (serializes to a lone blank line).
    pub const fn new() -> Self {
        Event {
            comment: None,
            event_type: None,
            id: None,
            retry: None,
            data: None,
        }
    }

    /// Sets the event type (`event:`). Refused if it contains CR or LF.
    pub fn event_type(mut self, event_type: &'a str) -> Result<Self, EventError> {
        if has_newline(event_type) {
            return Err(EventError::EventTypeContainsNewline);
        }
        self.event_type = Some(event_type);
        Ok(self)
    }

    /// Sets the event id (`id:`); an empty id resets the client's last event ID. Refused if it
    /// contains CR, LF or U+0000.
    pub fn id(mut self, id: &'a str) -> Result<Self, EventError> {
        if has_newline(id) {
            return Err(EventError::IdContainsNewline);
        }
        if id.as_bytes().contains(&0) {
            return Err(EventError::IdContainsNul);
        }
        self.id = Some(id);
        Ok(self)
    }

    /// Sets the data. Any text is accepted: each CRLF, CR or LF starts a new `data:` line, so
    /// the receiver gets exactly this text back (with LF in place of CRLF and CR).
    pub fn data(mut self, data: &'a str) -> Self {
        self.data = Some(data);
        self
    }

    /// Asks the client to use this reconnection time (`retry:`, in whole milliseconds).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(u64::try_from(retry.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Adds a comment (ignored by clients); CR and LF in it start new comment lines.
    pub fn comment(mut self, comment: &'a str) -> Self {
        self.comment = Some(comment);
        self
    }

    /// The event type, if set.
    pub fn get_event_type(&self) -> Option<&'a str> {
        self.event_type
    }

    /// The id, if set.
    pub fn get_id(&self) -> Option<&'a str> {
        self.id
    }

    /// The data, if set.
    pub fn get_data(&self) -> Option<&'a str> {
        self.data
    }

    /// The retry time in milliseconds, if set.
    pub fn get_retry(&self) -> Option<u64> {
        self.retry
    }

    /// Exact number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let mut len = 0;
        self.emit(&mut |piece| len += piece.len());
        len
    }

    /// Writes the event into `out`, returning the bytes written. If `out` is too small,
    /// nothing is written and the error says how much is required.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EventError> {
        let required = self.encoded_len();
        if out.len() < required {
            return Err(EventError::InsufficientSize { required });
        }
        let mut at = 0;
        self.emit(&mut |piece| {
            out[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        });
        Ok(at)
    }

    /// Appends the event to `out`, returning the bytes appended.
    pub fn write_to(&self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.reserve(self.encoded_len());
        self.emit(&mut |piece| out.extend_from_slice(piece));
        out.len() - start
    }

    fn emit(&self, sink: &mut dyn FnMut(&[u8])) {
        if let Some(comment) = self.comment {
            emit_lines(b":", comment, sink);
        }
        if let Some(t) = self.event_type {
            emit_field(b"event", t, sink);
        }
        if let Some(id) = self.id {
            emit_field(b"id", id, sink);
        }
        if let Some(retry) = self.retry {
            let mut digits = [0u8; 20];
            sink(b"retry: ");
            sink(format_u64(retry, &mut digits));
            sink(b"\n");
        }
        if let Some(data) = self.data {
            emit_lines(b"data", data, sink);
        }
        sink(b"\n");
    }
}

/// Appends a comment to `out` (one `:` line per line of `text`; no blank line, so it never
/// dispatches anything). `write_comment("", out)` writes the shortest keep-alive, `:\n`.
pub fn write_comment(text: &str, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    emit_lines(b":", text, &mut |piece| out.extend_from_slice(piece));
    out.len() - start
}

fn has_newline(s: &str) -> bool {
    memchr::memchr2(b'\r', b'\n', s.as_bytes()).is_some()
}

fn emit_field(name: &[u8], value: &str, sink: &mut dyn FnMut(&[u8])) {
    sink(name);
    sink(b": ");
    sink(value.as_bytes());
    sink(b"\n");
}

/// One `prefix` line per line of `text`, splitting at CRLF, CR and LF. A field prefix gets
/// `: ` (or `:` before an empty value); the comment prefix `:` gets a space before text.
fn emit_lines(prefix: &[u8], text: &str, sink: &mut dyn FnMut(&[u8])) {
    let mut rest = text.as_bytes();
    loop {
        let (line, next) = match memchr::memchr2(b'\r', b'\n', rest) {
            None => (rest, None),
            Some(i) => {
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                (&rest[..i], Some(&rest[i + skip..]))
            }
        };
        sink(prefix);
        if !line.is_empty() {
            sink(if prefix == b":" { b" " } else { b": " });
            sink(line);
        } else if prefix != b":" {
            sink(b":");
        }
        sink(b"\n");
        match next {
            None => return,
            Some(next) => rest = next,
        }
    }
}

fn format_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser(e: &Event<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        let n = e.write_to(&mut out);
        assert_eq!(n, e.encoded_len());
        let mut slice = alloc::vec![0u8; n];
        assert_eq!(e.encode(&mut slice), Ok(n));
        assert_eq!(slice, out);
        out
    }

    #[test]
    fn serialization_table() {
        let cases: &[(Event<'_>, &[u8])] = &[
            (Event::new(), b"\n"),
            (Event::new().data(""), b"data:\n\n"),
            (Event::new().data("x"), b"data: x\n\n"),
            (Event::new().data(" x"), b"data:  x\n\n"),
            (
                Event::new().data("a\nb\rc\r\nd"),
                b"data: a\ndata: b\ndata: c\ndata: d\n\n",
            ),
            (Event::new().data("a\n"), b"data: a\ndata:\n\n"),
            (Event::new().data("\r\n\r\n"), b"data:\ndata:\ndata:\n\n"),
            (Event::new().data("a\0b"), b"data: a\0b\n\n"),
            (
                Event::new().retry(Duration::from_millis(1500)).data("x"),
                b"retry: 1500\ndata: x\n\n",
            ),
            (Event::new().retry(Duration::ZERO), b"retry: 0\n\n"),
            (
                Event::new().comment("hi\nthere").data("x"),
                b": hi\n: there\ndata: x\n\n",
            ),
            (Event::new().id("").unwrap(), b"id: \n\n"),
        ];
        for (event, want) in cases {
            assert_eq!(ser(event), *want, "{event:?}");
        }
    }

    #[test]
    fn invalid_fields_are_refused() {
        assert_eq!(
            Event::new().event_type("a\nb"),
            Err(EventError::EventTypeContainsNewline)
        );
        assert_eq!(
            Event::new().event_type("a\r"),
            Err(EventError::EventTypeContainsNewline)
        );
        assert_eq!(Event::new().id("a\r\n"), Err(EventError::IdContainsNewline));
        assert_eq!(Event::new().id("a\0"), Err(EventError::IdContainsNul));
        assert!(Event::new().event_type("a\0b").is_ok());
    }

    #[test]
    fn too_small_buffer_writes_nothing() {
        let e = Event::new().data("hello");
        let mut buf = [0xAAu8; 5];
        assert_eq!(
            e.encode(&mut buf),
            Err(EventError::InsufficientSize { required: 13 })
        );
        assert_eq!(buf, [0xAA; 5]);
    }

    #[test]
    fn comments() {
        let mut out = Vec::new();
        write_comment("", &mut out);
        write_comment("a\r\nb", &mut out);
        assert_eq!(out, b":\n: a\n: b\n");
        assert_eq!(format_u64(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }
}

//! Session layer of the parser: the WHATWG "event stream interpretation" over chunks.
//!
//! Owns the leftovers of partial input (at most one unfinished line, bounded by
//! [`ParserConfig::max_line_length`]) and the three buffers of rule 4. Invariants:
//! - every input byte is scanned once: the unfinished line is known to hold no terminator, so
//!   a new chunk is searched from its own start and appended, never rescanned from the line's
//!   start (a long line in many small chunks stays linear);
//! - the value of a `data:` line that spans chunks is appended straight to the data buffer as
//!   it arrives (not buffered as a line first), so big events are copied once;
//! - the data buffer holds raw bytes and is decoded once, at dispatch: U+FFFD replacement
//!   never spans an ASCII byte such as LF, so this equals decoding each line (rule 1);
//! - memory is bounded by the limits in [`ParserConfig`], whatever the input;
//! - the parser never fails on input (rule 1); exceeding a limit is reported, and the parser
//!   recovers by skipping the offending line or event.

use alloc::borrow::Cow;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::ParserConfig;
use crate::error::ParseError;
use crate::line::{decode_line, parse_line, Line, Status};

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";
const BOM_DONE: u8 = 3;

/// A dispatched event, as an EventSource's `MessageEvent` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageEvent {
    /// The event type: the last `event:` field, or `message` when there was none (rule 13).
    pub event_type: String,
    /// The data: each `data:` value followed by LF, minus the final LF (rules 10, 13).
    pub data: String,
    /// The last event ID at dispatch (rules 11, 13).
    pub last_event_id: String,
}

/// One output of the [`Parser`], in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An event was dispatched.
    Event(MessageEvent),
    /// A valid `retry:` field set the reconnection time, in milliseconds (rule 12). Values
    /// too large for a `u64` saturate.
    Retry(u64),
}

/// A `data:` line being received across chunks, its value going straight into the data
/// buffer.
#[derive(Debug, Clone, Copy)]
struct Streaming {
    /// Length of the data buffer before this line (to undo it if the line is too long).
    data_start: usize,
    /// Bytes of the line so far, name included.
    line_len: usize,
    /// The data limit was exceeded: the rest of the value is dropped, and the error is
    /// reported when the line ends (as if the line had arrived whole).
    overflow: bool,
}

/// What to throw away after a limit was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discard {
    Nothing,
    /// The rest of the current line (it was too long).
    Line,
}

/// Incremental, spec-exact `text/event-stream` parser.
///
/// Feed bytes with [`handle_input`](Self::handle_input) in chunks of any size, split
/// anywhere, then drain [`poll_item`](Self::poll_item) until `None`. Or, without a queue, pull
/// items one at a time with [`next_item`](Self::next_item). Call
/// [`handle_eof`](Self::handle_eof) when the stream ends.
///
/// ```
/// use sse_proto::{Item, Parser};
///
/// let mut parser = Parser::new();
/// for chunk in [&b"\xEF\xBB"[..], b"\xBFid: 7\r", b"\ndata: hel", b"lo\n\nretry: 10\n"] {
///     parser.handle_input(chunk).unwrap();
/// }
/// let Some(Item::Event(ev)) = parser.poll_item() else { panic!() };
/// assert_eq!((ev.event_type.as_str(), ev.data.as_str(), ev.last_event_id.as_str()), ("message", "hello", "7"));
/// assert_eq!(parser.poll_item(), Some(Item::Retry(10)));
/// assert_eq!(parser.poll_item(), None);
/// ```
#[derive(Debug, Clone)]
pub struct Parser {
    config: ParserConfig,
    /// The unfinished line (no terminator inside).
    line: Vec<u8>,
    /// The previous line ended with a CR as the last byte seen: drop one LF.
    pending_lf: bool,
    /// Bytes of the BOM matched so far at the start of the stream; `BOM_DONE` when settled.
    bom: u8,
    discard: Discard,
    /// The current event's data grew past the limit: ignore its data, do not dispatch it.
    discard_event: bool,
    /// The unfinished line is a `data:` field whose value goes straight into `data`.
    streaming: Option<Streaming>,
    /// Raw bytes: each `data` value followed by LF (decoded at dispatch).
    data: Vec<u8>,
    event_type: String,
    id_buffer: String,
    last_event_id: String,
    queue: VecDeque<Item>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser with the default limits ([`ParserConfig::DEFAULT`]).
    pub fn new() -> Self {
        Self::with_config(ParserConfig::DEFAULT)
    }

    /// A parser with the given limits.
    pub fn with_config(config: ParserConfig) -> Self {
        Parser {
            config,
            line: Vec::new(),
            pending_lf: false,
            bom: 0,
            discard: Discard::Nothing,
            discard_event: false,
            streaming: None,
            data: Vec::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            queue: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// The limits in force.
    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// The last event ID string: the ID buffer as of the last blank line (rule 13).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    // ---- inputs ----

    /// Parses a chunk of the stream; queued items come out of [`poll_item`](Self::poll_item).
    ///
    /// The whole chunk is always consumed. If a limit is exceeded, the first such error is
    /// returned after the whole chunk was processed: items before and after it are queued, the
    /// offending line or event is dropped.
    pub fn handle_input(&mut self, mut bytes: &[u8]) -> Result<(), ParseError> {
        let mut first_error = None;
        while !bytes.is_empty() {
            match self.next_item(&mut bytes) {
                Ok(Some(item)) => self.queue.push_back(item),
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The stream ended: an unfinished event (and an unfinished line) is discarded (rule 14),
    /// and the parser is ready for a new stream (a BOM may start it again).
    ///
    /// The last event ID is kept, and the next stream's ID buffer starts from it, not empty:
    /// otherwise the first id-less event after a reconnection would blank the last event ID
    /// and the next reconnection would resume from nothing (Chromium's parser is likewise
    /// created with the EventSource's last event ID). An `id` of an undispatched event is
    /// forgotten. Within one stream, behaviour is exactly the spec's.
    pub fn handle_eof(&mut self) {
        self.line.clear();
        self.pending_lf = false;
        self.bom = 0;
        self.discard = Discard::Nothing;
        self.discard_event = false;
        self.streaming = None;
        self.data.clear();
        self.event_type.clear();
        self.id_buffer.clone_from(&self.last_event_id);
    }

    /// Sets the last event ID (and ID buffer), e.g. to resume a stream stored elsewhere.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.last_event_id.clear();
        self.last_event_id.push_str(id);
        self.id_buffer.clone_from(&self.last_event_id);
    }

    // ---- outputs ----

    /// The next queued item, in stream order.
    pub fn poll_item(&mut self) -> Option<Item> {
        self.queue.pop_front()
    }

    /// Pull interface without a queue: consumes bytes from the front of `input` up to and
    /// including the next line that produces an item, and returns that item. `Ok(None)` means
    /// `input` is now empty.
    ///
    /// On error, `input` has been advanced past the bytes consumed so far and the parser has
    /// recovered; calling again continues with the rest.
    pub fn next_item(&mut self, input: &mut &[u8]) -> Result<Option<Item>, ParseError> {
        loop {
            let Some(&first) = input.first() else {
                return Ok(None);
            };
            if self.pending_lf {
                self.pending_lf = false;
                if first == b'\n' {
                    *input = &input[1..];
                    continue;
                }
            }
            if self.bom != BOM_DONE {
                self.match_bom(input);
                continue;
            }
            match decode_line(input) {
                Status::Partial => {
                    let rest = core::mem::take(input);
                    if self.discard == Discard::Line {
                        return Ok(None);
                    }
                    if let Some(stream) = self.streaming.as_mut() {
                        stream.line_len = stream.line_len.saturating_add(rest.len());
                        if stream.line_len > self.config.max_line_length {
                            return Err(self.line_too_long());
                        }
                        if !stream.overflow {
                            if self.data.len().saturating_add(rest.len())
                                > self.config.max_event_data
                            {
                                stream.overflow = true;
                            } else {
                                self.data.extend_from_slice(rest);
                            }
                        }
                        return Ok(None);
                    }
                    if self.line.len().saturating_add(rest.len()) > self.config.max_line_length {
                        return Err(self.line_too_long());
                    }
                    self.line.extend_from_slice(rest);
                    self.start_streaming();
                    return Ok(None);
                }
                Status::Complete(raw) => {
                    *input = &input[raw.consumed..];
                    self.pending_lf = raw.pending_lf;
                    if self.discard == Discard::Line {
                        self.discard = Discard::Nothing;
                        continue;
                    }
                    if let Some(stream) = self.streaming.take() {
                        let line_len = stream.line_len.saturating_add(raw.content.len());
                        if line_len > self.config.max_line_length {
                            self.data.truncate(stream.data_start);
                            return Err(ParseError::LineTooLong {
                                limit: self.config.max_line_length,
                            });
                        }
                        if stream.overflow
                            || self.data.len() + raw.content.len() > self.config.max_event_data
                        {
                            return Err(self.event_too_large());
                        }
                        self.data.extend_from_slice(raw.content);
                        self.data.push(b'\n');
                        continue;
                    }
                    if self.line.len().saturating_add(raw.content.len())
                        > self.config.max_line_length
                    {
                        self.line.clear();
                        return Err(ParseError::LineTooLong {
                            limit: self.config.max_line_length,
                        });
                    }
                    let result = if self.line.is_empty() {
                        self.process_line(raw.content)
                    } else {
                        let mut line = core::mem::take(&mut self.line);
                        line.extend_from_slice(raw.content);
                        let result = self.process_line(&line);
                        line.clear();
                        self.line = line;
                        result
                    };
                    match result {
                        Ok(None) => continue,
                        other => return other,
                    }
                }
            }
        }
    }

    /// The unfinished line exceeded `max_line_length`: drop it (and what it added to the
    /// data), skip the rest of it.
    fn line_too_long(&mut self) -> ParseError {
        if let Some(stream) = self.streaming.take() {
            self.data.truncate(stream.data_start);
        }
        self.line.clear();
        self.discard = Discard::Line;
        ParseError::LineTooLong {
            limit: self.config.max_line_length,
        }
    }

    /// The event's data exceeded `max_event_data`: drop it, ignore the event's other data
    /// lines, and do not dispatch it.
    fn event_too_large(&mut self) -> ParseError {
        self.data.clear();
        self.discard_event = true;
        ParseError::EventDataTooLarge {
            limit: self.config.max_event_data,
        }
    }

    /// If the unfinished line is known to be a `data` field (its name and the byte after the
    /// colon have arrived), moves its value into the data buffer and streams the rest there.
    fn start_streaming(&mut self) {
        if self.discard_event || self.line.len() < 6 || !self.line.starts_with(b"data:") {
            return;
        }
        let value_start = if self.line[5] == b' ' { 6 } else { 5 };
        let value = &self.line[value_start..];
        let data_start = self.data.len();
        let overflow = data_start + value.len() > self.config.max_event_data;
        if !overflow {
            self.data.extend_from_slice(value);
        }
        self.streaming = Some(Streaming {
            data_start,
            line_len: self.line.len(),
            overflow,
        });
        self.line.clear();
    }

    /// Consumes the start of a stream while it matches the BOM (rule 2). A partial match
    /// followed by something else is ordinary line content.
    fn match_bom(&mut self, input: &mut &[u8]) {
        while let Some(&b) = input.first() {
            if b == BOM[usize::from(self.bom)] {
                self.bom += 1;
                *input = &input[1..];
                if self.bom == BOM_DONE {
                    return;
                }
            } else {
                let matched = &BOM[..usize::from(self.bom)];
                self.line.extend_from_slice(matched);
                self.bom = BOM_DONE;
                return;
            }
        }
    }

    /// Interprets one complete line (rules 5-13).
    fn process_line(&mut self, line: &[u8]) -> Result<Option<Item>, ParseError> {
        let (name, value) = match parse_line(line) {
            Line::Blank => return Ok(self.dispatch()),
            Line::Comment(_) => return Ok(None),
            Line::Field { name, value } => (name, value),
        };
        match name {
            b"data" => {
                if self.discard_event {
                    return Ok(None);
                }
                if self.data.len() + value.len() > self.config.max_event_data {
                    return Err(self.event_too_large());
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                self.event_type.clear();
                push_lossy(&mut self.event_type, value);
            }
            b"id" if memchr::memchr(0, value).is_none() => {
                self.id_buffer.clear();
                push_lossy(&mut self.id_buffer, value);
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let millis = value.iter().fold(0u64, |acc, d| {
                    acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                return Ok(Some(Item::Retry(millis)));
            }
            _ => {}
        }
        Ok(None)
    }

    /// Rule 13: dispatch at a blank line.
    fn dispatch(&mut self) -> Option<Item> {
        if self.last_event_id != self.id_buffer {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        if self.discard_event || self.data.is_empty() {
            self.discard_event = false;
            self.data.clear();
            self.event_type.clear();
            return None;
        }
        self.data.pop(); // the trailing LF every data line adds
        let data = match String::from_utf8(core::mem::take(&mut self.data)) {
            Ok(data) => data,
            Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
        };
        let event_type = if self.event_type.is_empty() {
            String::from("message")
        } else {
            core::mem::take(&mut self.event_type)
        };
        Some(Item::Event(MessageEvent {
            event_type,
            data,
            last_event_id: self.last_event_id.clone(),
        }))
    }
}

/// Rule 1: UTF-8 with U+FFFD for invalid sequences. Valid input (the common case) is checked
/// by the fast validator and borrowed; only invalid input takes the slower replacing path.
fn decode_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match core::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

fn push_lossy(out: &mut String, bytes: &[u8]) {
    out.push_str(&decode_lossy(bytes));
}

//! Session layer of the parser: the WHATWG "event stream interpretation" over chunks.
//!
//! Owns the leftovers of partial input (at most one unfinished line, bounded by
//! [`ParserConfig::max_line_length`]) and the three buffers of rule 4. Invariants:
//! - every input byte is searched for a line end once (twice on a line that breaks a limit):
//!   the unfinished line is known to hold no terminator, so a new chunk is searched from its
//!   own start and appended, never rescanned from the line's start (a long line in many small
//!   chunks stays linear);
//! - the event's data is assembled once: its values are copied, each followed by LF, into a shared
//!   buffer (the arena) that events are split off (no allocation per line or per event), or,
//!   when it is one `data:` line lying whole in shared input, never copied at all (a slice of
//!   the input); the value of a `data:` line that spans chunks goes straight into the arena;
//! - the data is UTF-8-decoded once, at dispatch: U+FFFD replacement never spans an ASCII
//!   byte such as LF, so this equals decoding each line (rule 1); it is not validated again
//!   when the line search found it ASCII or a line spanning chunks was validated piece by
//!   piece as it arrived; the event type and ID buffers are kept as raw bytes and decoded
//!   when they change;
//! - memory is bounded by the limits in [`ParserConfig`], whatever the input;
//! - the parser never fails on input (rule 1); exceeding a limit is reported, and the parser
//!   recovers by skipping the offending line or event.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::config::ParserConfig;
use crate::error::ParseError;
use crate::input::Input;
use crate::line::{decode_line, line_at, parse_line, Line, LineEnds, Status};
use crate::text::{self, Text};

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";
const BOM_DONE: u8 = 3;

/// The arena grows in blocks of at least this many bytes: the data of short events (and new
/// ids and types) are slices of one block, so they share its allocation.
const ARENA_BLOCK: usize = 8 * 1024;

/// A data value and its terminator up to this long are copied as this many bytes (whatever
/// follows them in the input, cut off again).
const SHORT_COPY: usize = 32;

/// After an event, spare arena capacity beyond this is let go (it stays with the event).
const MAX_SPARE: usize = 64 * 1024;

/// The event type when no `event:` field set one (rule 13).
const MESSAGE: Text = Text::from_static(MESSAGE_STR);
const MESSAGE_STR: &str = "message";

/// A dispatched event, as an EventSource's `MessageEvent` shows it.
///
/// The strings are [`Text`]s: cloning an event copies no text, and the data may be a slice of
/// the input the parser was given (see [`Input`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageEvent {
    /// The event type: the last `event:` field, or `message` when there was none (rule 13).
    pub event_type: Text,
    /// The data: each `data:` value followed by LF, minus the final LF (rules 10, 13).
    pub data: Text,
    /// The last event ID at dispatch (rules 11, 13).
    pub last_event_id: Text,
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

/// A dispatched event lent by [`Parser::next_borrowed`]: the [`MessageEvent`] fields,
/// borrowed from the parser and its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// The event type: the last `event:` field, or `message` when there was none (rule 13).
    pub event_type: &'a str,
    /// The data: each `data:` value followed by LF, minus the final LF (rules 10, 13).
    pub data: &'a str,
    /// The last event ID at dispatch (rules 11, 13).
    pub last_event_id: &'a str,
}

/// One output of [`Parser::next_borrowed`]: an [`Item`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRef<'a> {
    /// An event was dispatched.
    Event(EventRef<'a>),
    /// A valid `retry:` field set the reconnection time, in milliseconds (rule 12).
    Retry(u64),
}

/// A `data:` line being received across chunks, its value going straight into the arena.
#[derive(Debug, Clone, Copy)]
struct Streaming {
    /// Arena length, data length and whether there was data, before this line (to undo it if
    /// the line is too long).
    arena_start: usize,
    data_len_start: usize,
    had_data: bool,
    /// Bytes of the line so far, name included.
    line_len: usize,
    /// The data before this line is known to be valid UTF-8, and so is the value up to
    /// `checked` (an arena index): each piece is validated as it arrives, while it is in
    /// cache, not all at dispatch.
    valid: bool,
    checked: usize,
    /// The data limit was exceeded: the rest of the value is dropped, and the error is
    /// reported when the line ends (as if the line had arrived whole).
    overflow: bool,
}

impl Streaming {
    /// Validates what arrived of the value since the last piece, `arena[checked..]`; a
    /// character cut by the piece's end is checked with the next piece (unless `line_end`:
    /// the line, with its LF, is complete).
    #[inline]
    fn check(&mut self, arena: &[u8], line_end: bool) {
        if !self.valid {
            return;
        }
        match simdutf8::compat::from_utf8(&arena[self.checked..]) {
            Ok(_) => self.checked = arena.len(),
            Err(e) if e.error_len().is_none() && !line_end => self.checked += e.valid_up_to(),
            Err(_) => self.valid = false,
        }
    }
}

/// Where the bytes being parsed come from, which decides where a one-line event's data may
/// stay.
#[derive(Debug, Clone, Copy)]
enum Src<'b> {
    /// They do not outlive the call (borrowed input, the buffered line): data is copied.
    Copy,
    /// Shared input: the data may be a slice of it.
    Shared(&'b Bytes),
    /// Input that outlives the item ([`Parser::next_borrowed`]): the data may be lent from it.
    Lent,
}

impl Src<'_> {
    /// A one-line event's data may stay where it is in the view.
    #[inline(always)]
    fn keeps(self) -> bool {
        !matches!(self, Src::Copy)
    }
}

/// An output of the parse loop.
#[derive(Debug)]
enum Out {
    /// An owned item.
    Item(Item),
    /// An event to lend (only from [`Src::Lent`]): its data is where `Parser::lent` says.
    Lent,
}

/// Where the data of the event lent by [`Parser::next_borrowed`] lies.
#[derive(Debug, Clone, Copy)]
enum LentData {
    /// In the input, `input[start..end]`.
    Input(usize, usize),
    /// In `Parser::lent_held` (a slice of an earlier shared input).
    Held,
    /// The whole arena but its last LF.
    Arena,
    /// In `Parser::lossy` (the data was not valid UTF-8).
    Lossy,
}

/// Where [`Parser::fresh_lines`] stopped.
enum Fresh {
    /// At the end of the view.
    End,
    /// After the line that dispatched this item.
    Item(Out),
    /// At a line whose end is not in the view (the rest of the view was searched).
    Partial,
    /// At a line for the general path.
    General,
    /// After a line that broke a limit (the parser recovered).
    Error(ParseError),
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
/// [`handle_eof`](Self::handle_eof) when the stream ends. Chunks may be borrowed (`&[u8]`)
/// or shared ([`Bytes`]); see [`Input`].
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
///
/// // From shared input, a one-line event's data is a slice of it.
/// let chunk = bytes::Bytes::from_static(b"data: no copy\n\n");
/// parser.handle_input(&chunk).unwrap();
/// let Some(Item::Event(ev)) = parser.poll_item() else { panic!() };
/// assert_eq!(ev.data.as_bytes().as_ptr(), chunk[6..].as_ptr());
/// ```
#[derive(Debug, Clone)]
pub struct Parser {
    config: ParserConfig,
    /// The unfinished line (no terminator inside), unless it is a streamed `data:` line.
    line: Vec<u8>,
    /// The previous line ended with a CR as the last byte seen: drop one LF.
    pending_lf: bool,
    /// Bytes of the BOM matched so far at the start of the stream; `BOM_DONE` when settled.
    bom: u8,
    discard: Discard,
    /// The current event's data grew past the limit: ignore its data, do not dispatch it.
    discard_event: bool,
    /// The unfinished line is a `data:` field whose value goes straight into the arena.
    streaming: Option<Streaming>,
    /// The data buffer holds at least one line (it is not the empty string of rule 13).
    has_data: bool,
    /// Length of the data buffer as the spec counts it: each value plus its LF.
    data_len: usize,
    /// The data buffer is known to be valid UTF-8 (every line was found ASCII by the line
    /// search, or validated as it streamed in), so it need not be validated at dispatch;
    /// `false` when not known.
    data_valid: bool,
    /// The event's data when it is one line not copied yet: its range in the input being
    /// parsed (only inside [`next_item`](Self::next_item)) ...
    single: Option<(usize, usize)>,
    /// ... or a slice of an earlier shared input.
    held: Option<Bytes>,
    /// Otherwise the data (each value followed by LF) is the whole of `arena`, whose spare capacity
    /// the next events' data and new ids and types are written into and split off.
    arena: BytesMut,
    /// Raw bytes of the event type buffer (decoded at dispatch).
    event_type: Vec<u8>,
    /// The last event type handed out, reused while the buffer holds the same bytes.
    last_type: Kept,
    /// Raw bytes of the ID buffer (decoded when copied to the last event ID).
    id_buffer: Vec<u8>,
    /// The ID buffer was set since the last event ID was (it may differ from it).
    id_changed: bool,
    last_event_id: Kept,
    queue: VecDeque<Item>,
    /// Where the data of the event lent by [`next_borrowed`](Self::next_borrowed) lies, until
    /// the next call.
    lent: Option<LentData>,
    /// The lent data is known to be valid UTF-8.
    lent_valid: bool,
    /// The lent event's type is `message` (otherwise `last_type`).
    lent_message: bool,
    /// A lent event's data when it is a slice of an earlier shared input.
    lent_held: Option<Bytes>,
    /// A lent event's data after U+FFFD replacement.
    lossy: String,
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
            has_data: false,
            data_len: 0,
            data_valid: true,
            single: None,
            held: None,
            arena: BytesMut::new(),
            event_type: Vec::new(),
            last_type: Kept::new(MESSAGE),
            id_buffer: Vec::new(),
            id_changed: false,
            last_event_id: Kept::new(Text::new()),
            queue: VecDeque::new(),
            lent: None,
            lent_valid: false,
            lent_message: true,
            lent_held: None,
            lossy: String::new(),
        }
    }

    // ---- getters ----

    /// The limits in force.
    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// The last event ID string: the ID buffer as of the last blank line (rule 13).
    pub fn last_event_id(&self) -> &str {
        self.last_event_id.as_str()
    }

    // ---- inputs ----

    /// Parses a chunk of the stream; queued items come out of [`poll_item`](Self::poll_item).
    ///
    /// The whole chunk is always consumed. If a limit is exceeded, the first such error is
    /// returned after the whole chunk was processed: items before and after it are queued, the
    /// offending line or event is dropped.
    pub fn handle_input<'a>(&mut self, input: impl Into<Input<'a>>) -> Result<(), ParseError> {
        self.release_lent();
        let mut input = input.into();
        let mut first_error = None;
        while !input.is_empty() {
            // Items go straight to the queue; only an error stops the step early.
            if let Err(e) = self.step::<true>(&mut input) {
                first_error.get_or_insert(e);
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
        self.release_lent();
        self.line.clear();
        self.pending_lf = false;
        self.bom = 0;
        self.discard = Discard::Nothing;
        self.discard_event = false;
        self.streaming = None;
        self.clear_data();
        self.event_type.clear();
        self.id_buffer.clear();
        self.id_buffer
            .extend_from_slice(self.last_event_id.as_str().as_bytes());
        self.id_changed = false;
    }

    /// Sets the last event ID (and ID buffer), e.g. to resume a stream stored elsewhere.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.last_event_id.set(Text::from(id));
        self.id_buffer.clear();
        self.id_buffer.extend_from_slice(id.as_bytes());
        self.id_changed = false;
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
    pub fn next_item(&mut self, input: &mut Input<'_>) -> Result<Option<Item>, ParseError> {
        self.step::<false>(input)
    }

    /// Parses `input` until it ends, an error, or (unless `QUEUE`, which queues items and goes
    /// on) an item; advances `input` past what was consumed.
    fn step<const QUEUE: bool>(
        &mut self,
        input: &mut Input<'_>,
    ) -> Result<Option<Item>, ParseError> {
        self.release_lent();
        let (view, owner) = input.parts();
        let src = match owner {
            Some(owner) => Src::Shared(owner),
            None => Src::Copy,
        };
        let mut pos = 0;
        let result = self.parse::<QUEUE>(view, src, &mut pos);
        if let Some((start, end)) = self.single.take() {
            // The event's only data line outlives this call: keep it as a slice of its input.
            debug_assert!(owner.is_some(), "`single` is only set for shared input");
            self.held = owner.map(|o| o.slice(start..end));
        }
        input.advance(pos);
        match result {
            Ok(Some(Out::Item(item))) => Ok(Some(item)),
            // Only `Src::Lent` lends.
            Ok(Some(Out::Lent)) | Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pull interface that lends: parses from the start of `input` up to and including the
    /// next line that produces an item, and returns how many bytes it consumed and that item,
    /// borrowed from the parser and from `input` until the next call. `Ok(None)`: all of
    /// `input` was consumed.
    ///
    /// The same items as [`next_item`](Self::next_item) (errors and recovery included), with
    /// no reference count and no allocation per event: a one-line event's data is a slice of
    /// `input` when the line lies whole in it, otherwise of the parser's buffer.
    ///
    /// ```
    /// use sse_proto::{ItemRef, Parser};
    ///
    /// let mut parser = Parser::new();
    /// let (mut rest, mut seen) = (&b"data: a\n\nevent: b\ndata: c\ndata: d\n\nretry: 5\n"[..], Vec::new());
    /// loop {
    ///     let (consumed, item) = parser.next_borrowed(rest);
    ///     rest = &rest[consumed..];
    ///     match item.unwrap() {
    ///         Some(ItemRef::Event(ev)) => seen.push(format!("{}: {}", ev.event_type, ev.data)),
    ///         Some(ItemRef::Retry(ms)) => seen.push(format!("retry {ms}")),
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(seen, ["message: a", "b: c\nd", "retry 5"]);
    /// ```
    pub fn next_borrowed<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> (usize, Result<Option<ItemRef<'a>>, ParseError>) {
        self.release_lent();
        let mut pos = 0;
        let result = self.parse::<false>(input, Src::Lent, &mut pos);
        if self.single.is_some() {
            // The event's only data line does not outlive this call: copy it.
            self.spill_line(input);
        }
        let item = match result {
            Ok(Some(Out::Lent)) => {
                if !self.lent_valid {
                    let raw = self.lent_bytes(input);
                    if !text::is_utf8(raw) {
                        self.lossy = String::from_utf8_lossy(raw).into_owned();
                        self.release_lent();
                        self.lent = Some(LentData::Lossy);
                    }
                }
                let event_type = if self.lent_message {
                    MESSAGE_STR
                } else {
                    self.last_type.as_str()
                };
                Ok(Some(ItemRef::Event(EventRef {
                    event_type,
                    // Valid: known valid, checked just above, or the U+FFFD replacement.
                    data: text::str_of_checked(self.lent_bytes(input)),
                    last_event_id: self.last_event_id.as_str(),
                })))
            }
            Ok(Some(Out::Item(Item::Retry(millis)))) => Ok(Some(ItemRef::Retry(millis))),
            // `Src::Lent` dispatches by lending only.
            Ok(Some(Out::Item(Item::Event(_)))) | Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        (pos, item)
    }

    /// The lent event's data bytes.
    fn lent_bytes<'a>(&'a self, input: &'a [u8]) -> &'a [u8] {
        match self.lent {
            Some(LentData::Input(start, end)) => &input[start..end],
            Some(LentData::Held) => self.lent_held.as_deref().unwrap_or_default(),
            Some(LentData::Arena) => &self.arena[..self.arena.len().saturating_sub(1)],
            Some(LentData::Lossy) => self.lossy.as_bytes(),
            None => &[],
        }
    }

    /// Gives back what the last [`next_borrowed`](Self::next_borrowed) lent: the arena is
    /// empty again for the next event.
    #[inline]
    fn release_lent(&mut self) {
        if let Some(lent) = self.lent.take() {
            match lent {
                LentData::Arena => {
                    self.arena.clear();
                    if self.arena.capacity() > MAX_SPARE {
                        self.arena = BytesMut::new();
                    }
                }
                LentData::Held => self.lent_held = None,
                LentData::Input(..) | LentData::Lossy => {}
            }
        }
    }

    /// [`step`](Self::step) over `view` from `*pos`, advancing `*pos`. `owner` owns `view`
    /// when the input is shared.
    #[inline(always)]
    fn parse<const QUEUE: bool>(
        &mut self,
        view: &[u8],
        src: Src<'_>,
        pos: &mut usize,
    ) -> Result<Option<Out>, ParseError> {
        loop {
            let rest = &view[*pos..];
            let Some(&first) = rest.first() else {
                return Ok(None);
            };
            if self.pending_lf {
                self.pending_lf = false;
                if first == b'\n' {
                    *pos += 1;
                    continue;
                }
            }
            if self.bom != BOM_DONE {
                self.match_bom(rest, pos);
                continue;
            }
            // Lines that start fresh are taken by the fast loop; it comes back here for
            // anything unusual (a limit, a line under way, a field other than data).
            let mut partial = false;
            if self.line_is_fresh() {
                match self.fresh_lines::<QUEUE>(view, src, pos) {
                    Fresh::End => return Ok(None),
                    Fresh::Item(item) => return Ok(Some(item)),
                    Fresh::Error(e) => return Err(e),
                    Fresh::Partial => partial = true,
                    Fresh::General => {}
                }
            }
            let rest = &view[*pos..];
            let found = if partial {
                Status::Partial
            } else {
                decode_line(rest)
            };
            match found {
                Status::Partial => {
                    *pos = view.len();
                    if self.discard == Discard::Line {
                        return Ok(None);
                    }
                    if let Some(stream) = self.streaming.as_mut() {
                        stream.line_len = stream.line_len.saturating_add(rest.len());
                        if stream.line_len > self.config.max_line_length {
                            return Err(self.line_too_long());
                        }
                        if !stream.overflow {
                            if self.data_len.saturating_add(rest.len()) > self.config.max_event_data
                            {
                                stream.overflow = true;
                            } else {
                                append(&mut self.arena, rest);
                                self.data_len += rest.len();
                                stream.check(&self.arena, false);
                            }
                        }
                        return Ok(None);
                    }
                    if self.line.len().saturating_add(rest.len()) > self.config.max_line_length {
                        return Err(self.line_too_long());
                    }
                    self.keep_unfinished(view, rest);
                    return Ok(None);
                }
                Status::Complete(raw) => {
                    let line_start = *pos;
                    let line_len = raw.content.len();
                    *pos += raw.consumed;
                    self.pending_lf = raw.pending_lf;
                    if self.discard == Discard::Line {
                        self.discard = Discard::Nothing;
                        continue;
                    }
                    if let Some(mut stream) = self.streaming.take() {
                        if stream.line_len.saturating_add(line_len) > self.config.max_line_length {
                            self.undo_streaming(stream);
                            return Err(ParseError::LineTooLong {
                                limit: self.config.max_line_length,
                            });
                        }
                        if stream.overflow || self.data_len + line_len > self.config.max_event_data
                        {
                            return Err(self.event_too_large());
                        }
                        append_line(&mut self.arena, raw.content);
                        self.data_len += line_len + 1;
                        stream.check(&self.arena, true);
                        self.data_valid = stream.valid;
                        continue;
                    }
                    if self.line.len().saturating_add(line_len) > self.config.max_line_length {
                        self.line.clear();
                        return Err(ParseError::LineTooLong {
                            limit: self.config.max_line_length,
                        });
                    }
                    let result = if self.line.is_empty() {
                        self.process_line(view, src, line_start, line_start + line_len)
                    } else {
                        // Only the first line of an input completes a buffered one, so no
                        // data line of this input is waiting in `single`.
                        debug_assert!(self.single.is_none());
                        let mut line = core::mem::take(&mut self.line);
                        line.extend_from_slice(raw.content);
                        let result = self.process_line(&line, Src::Copy, 0, line.len());
                        line.clear();
                        self.line = line;
                        result
                    };
                    match result {
                        Ok(None) => continue,
                        Ok(Some(Out::Item(item))) if QUEUE => self.queue.push_back(item),
                        other => return other,
                    }
                }
            }
        }
    }

    /// The fast loop over lines that start fresh (no line under way, BOM settled, no LF
    /// pending) and end in `view`. Their ends come from one [`LineEnds`] (a window of 64
    /// bytes searched at once for all the short lines in it). Blank lines dispatch, a
    /// `data:` line (the most frequent line) has its value go straight to the data buffer, a
    /// comment is skipped (rule 6), any other field goes to
    /// [`process_line`](Self::process_line). None of these leaves a line under way, so the
    /// loop checks no state per line. It returns at the end of `view` (an LF may then be
    /// pending), with an item (unless `QUEUE`, which queues them), or at a line for the
    /// general path: one that breaks a limit, or whose end is not in `view` (`Partial`:
    /// searched already, to its end).
    #[inline(always)]
    fn fresh_lines<const QUEUE: bool>(
        &mut self,
        view: &[u8],
        src: Src<'_>,
        pos: &mut usize,
    ) -> Fresh {
        let mut ends = LineEnds::new();
        loop {
            let rest = &view[*pos..];
            let Some(&first) = rest.first() else {
                return Fresh::End;
            };
            let out = match first {
                b'\n' | b'\r' => {
                    // A blank line (the most frequent line after `data:`): dispatch.
                    *pos += 1;
                    if first == b'\r' {
                        match rest.get(1) {
                            Some(b'\n') => *pos += 1,
                            Some(_) => {}
                            None => self.pending_lf = true,
                        }
                    }
                    self.dispatch(src)
                }
                b'd' if !self.discard_event && data_prefix(rest).is_some() => {
                    let value_start = *pos + data_prefix(rest).unwrap_or(5);
                    let (Some(end), known_ascii) = ends.find(view, value_start) else {
                        return Fresh::Partial;
                    };
                    let value_len = end - value_start;
                    if end - *pos > self.config.max_line_length
                        || self.data_len + value_len > self.config.max_event_data
                    {
                        return Fresh::General;
                    }
                    let raw = line_at(view, value_start, end, known_ascii);
                    *pos = value_start + raw.consumed;
                    self.pending_lf = raw.pending_lf;
                    self.data_valid &= known_ascii;
                    self.push_data(view, src.keeps(), value_start, end);
                    self.data_len += value_len + 1;
                    continue;
                }
                _ => {
                    let (Some(end), _) = ends.find(view, *pos) else {
                        return Fresh::Partial;
                    };
                    if end - *pos > self.config.max_line_length {
                        return Fresh::General;
                    }
                    let line_start = *pos;
                    let raw = line_at(view, line_start, end, false);
                    *pos += raw.consumed;
                    self.pending_lf = raw.pending_lf;
                    if first == b':' {
                        continue;
                    }
                    match self.process_line(view, src, line_start, end) {
                        Ok(out) => out,
                        Err(e) => return Fresh::Error(e),
                    }
                }
            };
            match out {
                Some(Out::Item(item)) if QUEUE => self.queue.push_back(item),
                Some(out) => return Fresh::Item(out),
                None => {}
            }
        }
    }

    /// No line is under way: the next byte starts a new line.
    #[inline]
    fn line_is_fresh(&self) -> bool {
        self.line.is_empty() && self.streaming.is_none() && self.discard == Discard::Nothing
    }

    /// The unfinished line exceeded `max_line_length`: drop it (and what it added to the
    /// data), skip the rest of it.
    fn line_too_long(&mut self) -> ParseError {
        if let Some(stream) = self.streaming.take() {
            self.undo_streaming(stream);
        }
        self.line.clear();
        self.discard = Discard::Line;
        ParseError::LineTooLong {
            limit: self.config.max_line_length,
        }
    }

    /// Takes back what a streamed `data:` line added to the data.
    fn undo_streaming(&mut self, stream: Streaming) {
        self.arena.truncate(stream.arena_start);
        self.data_len = stream.data_len_start;
        self.has_data = stream.had_data;
    }

    /// The event's data exceeded `max_event_data`: drop it, ignore the event's other data
    /// lines, and do not dispatch it.
    fn event_too_large(&mut self) -> ParseError {
        self.clear_data();
        self.discard_event = true;
        ParseError::EventDataTooLarge {
            limit: self.config.max_event_data,
        }
    }

    /// Empties the data buffer.
    fn clear_data(&mut self) {
        self.has_data = false;
        self.data_len = 0;
        self.data_valid = true;
        self.single = None;
        self.held = None;
        self.arena.clear();
    }

    /// Makes the arena hold all of the event's data, so that more can be appended to it.
    #[inline(always)]
    fn spill(&mut self, view: &[u8]) {
        if self.single.is_some() || self.held.is_some() {
            self.spill_line(view);
        }
    }

    /// [`spill`](Self::spill) when the data is one line outside the arena.
    #[inline(never)]
    fn spill_line(&mut self, view: &[u8]) {
        if let Some((start, end)) = self.single.take() {
            append_line(&mut self.arena, &view[start..end]);
        } else if let Some(held) = self.held.take() {
            append_line(&mut self.arena, &held);
        }
    }

    /// Appends a data value (`view[start..end]`) and an LF to the data buffer (rule 10);
    /// the caller checked the limit and accounts for `data_len`. `view[end]`, if present, is
    /// the line's terminator.
    #[inline(always)]
    fn push_data(&mut self, view: &[u8], shared: bool, start: usize, end: usize) {
        if !self.has_data {
            self.has_data = true;
            if shared {
                self.single = Some((start, end));
                return;
            }
        }
        self.spill(view);
        let len = end + 1 - start;
        if let (true, Some(block)) = (len <= SHORT_COPY, view.get(start..start + SHORT_COPY)) {
            // A short value: a copy of fixed size (two vector moves, no call and no branch on
            // the length), cut back to the value and its terminator.
            reserve(&mut self.arena, SHORT_COPY);
            let at = self.arena.len();
            self.arena.extend_from_slice(block);
            self.arena.truncate(at + len);
        } else {
            match view.get(start..end + 1) {
                // One copy with the terminator, which becomes the LF.
                Some(line) => append(&mut self.arena, line),
                None => return append_line(&mut self.arena, &view[start..end]),
            }
        }
        if let Some(last) = self.arena.last_mut() {
            *last = b'\n';
        }
    }

    /// Keeps the start of an unfinished line, `rest` (the end of `view`): if the line is
    /// known to be a `data` field (its name and the byte after the colon have arrived), its
    /// value goes into the arena and the rest of the line is streamed there; otherwise it is
    /// buffered. The caller checked the line length limit.
    fn keep_unfinished(&mut self, view: &[u8], rest: &[u8]) {
        if self.line.is_empty() {
            // Straight from the input: a data line is not copied to the buffer first.
            if !self.start_streaming(view, rest) {
                self.line.extend_from_slice(rest);
            }
        } else {
            let mut line = core::mem::take(&mut self.line);
            line.extend_from_slice(rest);
            if self.start_streaming(view, &line) {
                line.clear();
            }
            self.line = line;
        }
    }

    /// If `line`, the start of the unfinished line, is known to be a `data` field, moves its
    /// value into the arena and streams the rest there.
    fn start_streaming(&mut self, view: &[u8], line: &[u8]) -> bool {
        if self.discard_event || line.len() < 6 || !line.starts_with(b"data:") {
            return false;
        }
        let value_start = if line[5] == b' ' { 6 } else { 5 };
        self.spill(view);
        let value = &line[value_start..];
        let mut stream = Streaming {
            arena_start: self.arena.len(),
            data_len_start: self.data_len,
            had_data: self.has_data,
            line_len: line.len(),
            valid: self.data_valid,
            checked: self.arena.len(),
            overflow: self.data_len + value.len() > self.config.max_event_data,
        };
        // Known again when the line ends, if every piece was valid.
        self.data_valid = false;
        if !stream.overflow {
            append(&mut self.arena, value);
            self.data_len += value.len();
            self.has_data = true;
            stream.check(&self.arena, false);
        }
        self.streaming = Some(stream);
        true
    }

    /// Consumes the start of a stream while it matches the BOM (rule 2). A partial match
    /// followed by something else is ordinary line content.
    fn match_bom(&mut self, rest: &[u8], pos: &mut usize) {
        for &b in rest {
            if b == BOM[usize::from(self.bom)] {
                self.bom += 1;
                *pos += 1;
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

    /// Interprets one complete line, `view[start..end]` (rules 5-13).
    #[inline(always)]
    fn process_line(
        &mut self,
        view: &[u8],
        src: Src<'_>,
        start: usize,
        end: usize,
    ) -> Result<Option<Out>, ParseError> {
        let (name, value) = match parse_line(&view[start..end]) {
            Line::Blank => return Ok(self.dispatch(src)),
            Line::Comment(_) => return Ok(None),
            Line::Field { name, value } => (name, value),
        };
        match name {
            b"data" => {
                if self.discard_event {
                    return Ok(None);
                }
                if self.data_len + value.len() > self.config.max_event_data {
                    return Err(self.event_too_large());
                }
                // The value is the end of the line.
                let value_len = value.len();
                self.data_valid = false;
                self.push_data(view, src.keeps(), end - value_len, end);
                self.data_len += value_len + 1;
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                self.id_buffer.clear();
                self.id_buffer.extend_from_slice(value);
                self.id_changed = true;
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let millis = value.iter().fold(0u64, |acc, d| {
                    acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                return Ok(Some(Out::Item(Item::Retry(millis))));
            }
            _ => {}
        }
        Ok(None)
    }

    /// Rule 13: dispatch at a blank line.
    #[inline(always)]
    fn dispatch(&mut self, src: Src<'_>) -> Option<Out> {
        if !self.has_data && !self.discard_event && !self.id_changed {
            // A keep-alive's blank line: only the type buffer to clear.
            self.event_type.clear();
            return None;
        }
        match src {
            Src::Lent => self.dispatch_lent().then_some(Out::Lent),
            Src::Shared(owner) => self.dispatch_event(Some(owner)).map(Out::Item),
            Src::Copy => self.dispatch_event(None).map(Out::Item),
        }
    }

    /// [`dispatch_event`](Self::dispatch_event) for [`next_borrowed`](Self::next_borrowed):
    /// the data stays where it is and `lent` says where. Returns whether there is an event
    /// to lend (a flag, not an `Out`: nothing large to return through memory).
    #[inline(never)]
    fn dispatch_lent(&mut self) -> bool {
        let has_event = !self.discard_event && self.has_data;
        if !has_event {
            self.discard_event = false;
            self.clear_data();
        }
        // Data in the arena stays there: new texts go to the lent buffers.
        if self.id_changed {
            self.id_changed = false;
            if self.last_event_id.as_str().as_bytes() != &self.id_buffer[..] {
                self.last_event_id.set_lent(&self.id_buffer);
            }
        }
        if !has_event {
            self.event_type.clear();
            return false;
        }
        self.lent_message = self.event_type.is_empty();
        if !self.lent_message {
            if self.last_type.as_str().as_bytes() != &self.event_type[..] {
                self.last_type.set_lent(&self.event_type);
            }
            self.event_type.clear();
        }
        self.lent = Some(match self.single.take() {
            Some((start, end)) => LentData::Input(start, end),
            None => match self.held.take() {
                Some(held) => {
                    self.lent_held = Some(held);
                    LentData::Held
                }
                None => LentData::Arena,
            },
        });
        self.lent_valid = core::mem::replace(&mut self.data_valid, true);
        self.has_data = false;
        self.data_len = 0;
        true
    }

    /// [`dispatch`](Self::dispatch) when there is an event, an id or a discarded event.
    #[inline(never)]
    fn dispatch_event(&mut self, owner: Option<&Bytes>) -> Option<Item> {
        let data = if self.discard_event || !self.has_data {
            self.discard_event = false;
            self.clear_data();
            None
        } else {
            Some(self.take_data(owner))
        };
        // The arena holds no data now: new texts can be split off it.
        if self.id_changed {
            self.id_changed = false;
            if self.last_event_id.as_str().as_bytes() != &self.id_buffer[..] {
                self.last_event_id
                    .set(new_text(&mut self.arena, &self.id_buffer));
            }
        }
        let Some(data) = data else {
            self.event_type.clear();
            return None;
        };
        let event_type = if self.event_type.is_empty() {
            MESSAGE
        } else {
            if self.last_type.as_str().as_bytes() != &self.event_type[..] {
                self.last_type
                    .set(new_text(&mut self.arena, &self.event_type));
            }
            self.event_type.clear();
            self.last_type.text().clone()
        };
        Some(Item::Event(MessageEvent {
            event_type,
            data,
            // No clone call (through `Bytes`' vtable) for the frequent empty ID.
            last_event_id: if self.last_event_id.as_str().is_empty() {
                Text::new()
            } else {
                self.last_event_id.text().clone()
            },
        }))
    }

    /// Takes the event's data out of the data buffer, decoded (rule 1), leaving it empty.
    fn take_data(&mut self, owner: Option<&Bytes>) -> Text {
        let raw = match (self.single.take(), owner) {
            (Some((start, end)), Some(owner)) => owner.slice(start..end),
            _ => match self.held.take() {
                Some(held) => held,
                None => {
                    let mut data = self.arena.split();
                    data.truncate(data.len().saturating_sub(1)); // the last line's LF
                    let data = data.freeze();
                    if self.arena.capacity() > MAX_SPARE {
                        self.arena = BytesMut::new();
                    }
                    data
                }
            },
        };
        self.has_data = false;
        self.data_len = 0;
        if core::mem::replace(&mut self.data_valid, true) {
            Text::from_known_utf8(raw)
        } else {
            Text::from_utf8_lossy(raw)
        }
    }
}

/// If `rest` starts with a `data:` field name, where its value starts (after one space).
#[inline(always)]
fn data_prefix(rest: &[u8]) -> Option<usize> {
    const NAME: u64 = u64::from_le_bytes(*b"data:\0\0\0");
    const NAME_SPACE: u64 = u64::from_le_bytes(*b"data: \0\0");
    match rest.get(..8) {
        // One load and two compares (the frequent case: not at the end of the input).
        Some(head) => {
            let word = u64::from_le_bytes(head.try_into().unwrap_or([0; 8]));
            if word & 0xFFFF_FFFF_FFFF == NAME_SPACE {
                Some(6)
            } else if word & 0xFF_FFFF_FFFF == NAME {
                Some(5)
            } else {
                None
            }
        }
        None => match rest.strip_prefix(b"data:")?.first() {
            Some(b' ') => Some(6),
            _ => Some(5),
        },
    }
}

/// A text the parser hands out again and again (the last event ID, the last event type): a
/// [`Text`] for owned events or, when it last changed for a lent event, a reused buffer (no
/// allocation per change); made a `Text` from that buffer once when an owned event needs it.
#[derive(Debug, Clone)]
struct Kept {
    text: Text,
    lent: String,
    /// The value is `lent`, not `text`.
    in_lent: bool,
}

impl Kept {
    fn new(text: Text) -> Kept {
        Kept {
            text,
            lent: String::new(),
            in_lent: false,
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        if self.in_lent {
            &self.lent
        } else {
            &self.text
        }
    }

    fn set(&mut self, text: Text) {
        self.text = text;
        self.in_lent = false;
    }

    /// Sets the value to raw bytes, decoded (rule 1), in the reused buffer.
    fn set_lent(&mut self, raw: &[u8]) {
        self.lent.clear();
        match core::str::from_utf8(raw) {
            Ok(s) => self.lent.push_str(s),
            Err(_) => self.lent.push_str(&String::from_utf8_lossy(raw)),
        }
        self.in_lent = true;
    }

    /// The value as a [`Text`].
    fn text(&mut self) -> &Text {
        if self.in_lent {
            self.text = Text::from(self.lent.as_str());
            self.in_lent = false;
        }
        &self.text
    }
}

/// Makes room for `n` more bytes in the arena: a new block of at least [`ARENA_BLOCK`], and at
/// least doubling what it holds (a long line arriving in small pieces is copied a bounded
/// number of times).
#[inline]
fn reserve(arena: &mut BytesMut, n: usize) {
    if arena.capacity() - arena.len() < n {
        arena.reserve(n.max(ARENA_BLOCK).max(arena.len()));
    }
}

#[inline]
fn append(arena: &mut BytesMut, bytes: &[u8]) {
    reserve(arena, bytes.len());
    arena.extend_from_slice(bytes);
}

/// Appends a data value and its LF.
#[inline]
fn append_line(arena: &mut BytesMut, value: &[u8]) {
    reserve(arena, value.len() + 1);
    arena.extend_from_slice(value);
    arena.extend_from_slice(b"\n");
}

/// A new text (rule 1's decoding) from raw bytes, split off the arena, which must be empty.
fn new_text(arena: &mut BytesMut, raw: &[u8]) -> Text {
    debug_assert!(arena.is_empty());
    if raw.is_empty() {
        return Text::new();
    }
    append(arena, raw);
    Text::from_utf8_lossy(arena.split().freeze())
}

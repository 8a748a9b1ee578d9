//! Wire layer: one line of `text/event-stream`, borrowed, no allocation, no state.
//!
//! [`decode_line`] finds where the next line ends (CRLF, LF or CR); [`parse_line`] splits a
//! complete line into a blank line, a comment or a field (rules 3, 5-8 of the WHATWG
//! algorithm). Neither decodes UTF-8: line terminators and `:` are ASCII and never occur
//! inside a multi-byte UTF-8 sequence, so splitting bytes first and decoding each piece
//! afterwards gives exactly what decoding the whole stream first would.
//!
//! For the parser's loop over many lines of one input, `LineEnds` (crate-internal) keeps the
//! line-end mask of one 64-byte window, so the short lines in a window cost no search of
//! their own; it holds nothing but that mask and is valid for one input only.

/// The result of looking for something that may not have fully arrived yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The item is complete.
    Complete(T),
    /// More bytes are needed; this is never an error.
    Partial,
}

/// A line found by [`decode_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// The line's bytes, without its terminator.
    pub content: &'a [u8],
    /// Bytes consumed: the content plus its terminator (1 or 2 bytes).
    pub consumed: usize,
    /// The line ended with a CR that was the last byte of the input. If the next input starts
    /// with LF, that LF belongs to this terminator and must be dropped (rule 3).
    pub pending_lf: bool,
    /// The content is known to be ASCII, hence UTF-8 (`false`: not known; the search tells
    /// for lines of up to 128 bytes).
    pub known_ascii: bool,
}

/// Finds the first complete line in `input`.
///
/// A CR ends a line at once, even as the last byte of `input` (then
/// [`RawLine::pending_lf`] is set): the parser never waits for a byte that may not come.
#[inline(always)]
pub fn decode_line(input: &[u8]) -> Status<RawLine<'_>> {
    match find_line_end(input) {
        (None, _) => Status::Partial,
        (Some(i), known_ascii) => {
            let (consumed, pending_lf) = if input[i] == b'\n' {
                (i + 1, false)
            } else {
                match input.get(i + 1) {
                    Some(b'\n') => (i + 2, false),
                    Some(_) => (i + 1, false),
                    None => (i + 1, true),
                }
            };
            Status::Complete(RawLine {
                content: &input[..i],
                consumed,
                pending_lf,
                known_ascii,
            })
        }
    }
}

/// Bytes looked at block by block before calling `memchr2`: most lines (comments, ids,
/// types, blank lines, short data) end within them, and a `memchr2` call costs more than
/// such a line (runtime dispatch, alignment prologue).
const HEAD: usize = 128;

/// Bytes in a block: one 128-bit vector register.
const BLOCK: usize = 16;

/// For the 16 bytes of `block`: bit `i` of the first mask is set when byte `i` is CR or LF,
/// bit `i` of the second when byte `i` is not ASCII.
///
/// On x86-64: two vector compares and two `pmovmskb` (SSE2 is in the target's baseline), no
/// call; the compiler does not find this form by itself from a loop of byte compares.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
#[inline(always)]
fn block_masks(block: &[u8; BLOCK]) -> (u32, u32) {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is enabled for this build (the `cfg` above), so calling its intrinsics is
    // sound; `_mm_loadu_si128` reads 16 bytes from `block`, which holds exactly 16, and
    // needs no alignment.
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        let lf = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
        let cr = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8));
        (
            _mm_movemask_epi8(_mm_or_si128(lf, cr)) as u32,
            _mm_movemask_epi8(v) as u32,
        )
    }
}

/// [`block_masks`] on other targets, from two words: the lowest bit of the first mask is
/// exact (all that is used of it), the second is all ones if any byte is not ASCII.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn block_masks_portable(block: &[u8; BLOCK]) -> (u32, u32) {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // `(x - ONES) & !x & HIGHS` marks the zero bytes of `x` exactly up to the first one (a
    // borrow can only mark bytes above it): the lowest mark of each word is exact.
    let marks = |word: u64| {
        let lf = word ^ (ONES * u64::from(b'\n'));
        let cr = word ^ (ONES * u64::from(b'\r'));
        ((lf.wrapping_sub(ONES) & !lf) | (cr.wrapping_sub(ONES) & !cr)) & HIGHS
    };
    let word = |i: usize| u64::from_le_bytes(block[i..i + 8].try_into().unwrap_or([0; 8]));
    let (low, high) = (word(0), word(8));
    let ends = match marks(low) {
        0 => match marks(high) {
            0 => 0,
            m => 1 << (8 + m.trailing_zeros() / 8),
        },
        m => 1 << (m.trailing_zeros() / 8),
    };
    let non_ascii = if (low | high) & HIGHS == 0 {
        0
    } else {
        u32::MAX
    };
    (ends, non_ascii)
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use block_masks_portable as block_masks;

/// The position of the first CR or LF, and whether the bytes before it (all of them if there
/// is none) are known to be ASCII (`false`: not known).
///
/// The first [`HEAD`] bytes are searched a [`BLOCK`] at a time in registers (the last,
/// partial block as the input's last [`BLOCK`] bytes), and `memchr2` searches the rest (then
/// ASCII is not known). The ASCII test comes with the search at no extra pass, so a short
/// ASCII value need not be validated again.
#[inline(always)]
fn find_line_end(input: &[u8]) -> (Option<usize>, bool) {
    let mut at = 0;
    let mut non_ascii = 0;
    while let Some(block) = input.get(at..at + BLOCK) {
        if at == HEAD {
            let end = memchr::memchr2(b'\n', b'\r', &input[HEAD..]).map(|i| i + HEAD);
            return (end, false);
        }
        let (ends, high) = block_masks(block.try_into().unwrap_or(&[0; BLOCK]));
        if ends != 0 {
            let before = (1 << ends.trailing_zeros()) - 1;
            return (
                Some(at + ends.trailing_zeros() as usize),
                non_ascii | (high & before) == 0,
            );
        }
        non_ascii |= high;
        at += BLOCK;
    }
    if let Some(last) = input.len().checked_sub(BLOCK) {
        // The last block overlaps bytes already searched (they hold no line end).
        let (ends, high) = block_masks(input[last..].try_into().unwrap_or(&[0; BLOCK]));
        if ends == 0 {
            return (None, non_ascii | high == 0);
        }
        let before = (1 << ends.trailing_zeros()) - 1;
        return (
            Some(last + ends.trailing_zeros() as usize),
            non_ascii | (high & before) == 0,
        );
    }
    let end = input.iter().position(|&b| b == b'\n' || b == b'\r');
    let ascii = input[..end.unwrap_or(input.len())].is_ascii();
    (end, ascii)
}

/// Bytes in a window of [`LineEnds`]: one bit per byte in a `u64`.
const WINDOW: usize = 64;

/// For the 64 bytes of `window`: bit `i` of the first mask is set when byte `i` is CR or LF,
/// bit `i` of the second when byte `i` is not ASCII. Both exact.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn window_masks(window: &[u8; WINDOW]) -> (u64, u64) {
    let (mut ends, mut high) = (0, 0);
    for (i, block) in window.chunks_exact(BLOCK).enumerate() {
        let (e, h) = block_masks(block.try_into().unwrap_or(&[0; BLOCK]));
        ends |= u64::from(e) << (i * BLOCK);
        high |= u64::from(h) << (i * BLOCK);
    }
    (ends, high)
}

/// [`window_masks`] on other targets, a word at a time (exact: no borrow between bytes).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn window_masks_portable(window: &[u8; WINDOW]) -> (u64, u64) {
    const LOWS: u64 = u64::from_le_bytes([0x7F; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    // The high bit of each byte of `x`, gathered into the low 8 bits.
    let gather = |x: u64| ((x & HIGHS) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    // High bit set in each byte of `x` that is not zero: exact, no carry leaves a byte.
    let nonzero = |x: u64| ((x & LOWS).wrapping_add(LOWS) | x) & HIGHS;
    let (mut ends, mut high) = (0, 0);
    for (i, word) in window.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let lf = nonzero(w ^ (ONES * u64::from(b'\n')));
        let cr = nonzero(w ^ (ONES * u64::from(b'\r')));
        ends |= gather(!(lf & cr)) << (i * 8);
        high |= gather(w) << (i * 8);
    }
    (ends, high)
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use window_masks_portable as window_masks;

/// Line ends of one input, found a window of 64 bytes at a time: one pass of vector compares
/// marks every CR and LF of the window in a mask, and the lines that end in it are taken from
/// the mask with no search of their own (a line of 20 bytes costs a third of a window, not a
/// search). Lines longer than two windows are searched by `memchr2` beyond them.
///
/// Positions are indices into the input given to [`find`](Self::find), which must be the
/// same input on every call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineEnds {
    /// The window's first byte in the input (`NO_WINDOW`: none yet).
    base: usize,
    /// CR and LF bits of `input[base..base + 64]`.
    ends: u64,
    /// Non-ASCII bits of the same bytes.
    high: u64,
}

/// Windows searched for a line end before `memchr2`.
const WINDOWS: usize = 1;

/// A `base` far from every input position (positions are below `isize::MAX`).
const NO_WINDOW: usize = usize::MAX - WINDOW;

impl LineEnds {
    /// No window loaded yet.
    #[inline(always)]
    pub(crate) fn new() -> LineEnds {
        LineEnds {
            base: NO_WINDOW,
            ends: 0,
            high: 0,
        }
    }

    /// The first CR or LF in `input[from..]`, and whether the bytes from `from` to it (to the
    /// end if there is none) are known to be ASCII (`false`: not known).
    #[inline(always)]
    pub(crate) fn find(&mut self, input: &[u8], from: usize) -> (Option<usize>, bool) {
        let off = from.wrapping_sub(self.base);
        if off < WINDOW {
            let ends = self.ends >> off;
            if ends != 0 {
                let n = ends.trailing_zeros();
                let before = (1u64 << n) - 1;
                return (Some(from + n as usize), (self.high >> off) & before == 0);
            }
        }
        self.find_beyond(input, from)
    }

    /// [`find`](Self::find) when the window holds no line end after `from`.
    #[inline(always)]
    fn find_beyond(&mut self, input: &[u8], from: usize) -> (Option<usize>, bool) {
        let mut non_ascii = false;
        let mut at = from;
        let off = from.wrapping_sub(self.base);
        if off < WINDOW {
            // The rest of the window was searched.
            non_ascii = self.high >> off != 0;
            at = self.base + WINDOW;
        }
        for _ in 0..WINDOWS {
            let Some(window) = input.get(at..at + WINDOW) else {
                // By value, not through `self`: the window can stay in registers.
                let (window, found) = Self::find_in_tail(input, at, non_ascii);
                *self = window;
                return found;
            };
            let (ends, high) = window_masks(window.try_into().unwrap_or(&[0; WINDOW]));
            (self.base, self.ends, self.high) = (at, ends, high);
            if ends != 0 {
                let n = ends.trailing_zeros();
                let before = (1u64 << n) - 1;
                return (Some(at + n as usize), !non_ascii && high & before == 0);
            }
            non_ascii |= high != 0;
            at += WINDOW;
        }
        // A long line: `memchr2` is faster than windows beyond this (ASCII not known).
        self.base = NO_WINDOW;
        let end = memchr::memchr2(b'\n', b'\r', &input[at..]).map(|i| i + at);
        (end, false)
    }

    /// The search from `at`, with fewer than 64 bytes left: the input's last 64 bytes as
    /// the window (the bytes before `at` in it hold no line end after `from`, or are before
    /// it), or, in an input shorter than that, [`find_line_end`].
    /// Returns the window to keep and what was found.
    #[inline(never)]
    fn find_in_tail(input: &[u8], at: usize, non_ascii: bool) -> (LineEnds, (Option<usize>, bool)) {
        if at >= input.len() {
            return (LineEnds::new(), (None, !non_ascii));
        }
        let Some(base) = input.len().checked_sub(WINDOW) else {
            let (end, ascii) = find_line_end(&input[at..]);
            return (LineEnds::new(), (end.map(|e| e + at), ascii && !non_ascii));
        };
        let (ends, high) = window_masks(input[base..].try_into().unwrap_or(&[0; WINDOW]));
        let window = LineEnds { base, ends, high };
        let off = at - base;
        let ends = ends >> off;
        if ends == 0 {
            return (window, (None, !non_ascii && high >> off == 0));
        }
        let n = ends.trailing_zeros();
        let before = (1u64 << n) - 1;
        let found = (
            Some(at + n as usize),
            !non_ascii && (high >> off) & before == 0,
        );
        (window, found)
    }
}

/// Completes a line of `input` that starts at `from` and whose terminator starts at `end`
/// (found by [`LineEnds::find`]): like [`decode_line`] on `input[from..]`.
#[inline(always)]
pub(crate) fn line_at(input: &[u8], from: usize, end: usize, known_ascii: bool) -> RawLine<'_> {
    let (consumed, pending_lf) = if input[end] == b'\n' {
        (end + 1 - from, false)
    } else {
        match input.get(end + 1) {
            Some(b'\n') => (end + 2 - from, false),
            Some(_) => (end + 1 - from, false),
            None => (end + 1 - from, true),
        }
    };
    RawLine {
        content: &input[from..end],
        consumed,
        pending_lf,
        known_ascii,
    }
}

/// One complete line, split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// An empty line: dispatch the event (rule 5).
    Blank,
    /// A line starting with `:`; holds the text after the colon (rule 6).
    Comment(&'a [u8]),
    /// A field: the name before the first `:`, the value after it minus one leading space
    /// (rule 7). A line with no `:` is a field with an empty value (rule 8).
    Field {
        /// The field name; compared case-sensitively (rule 9).
        name: &'a [u8],
        /// The field value.
        value: &'a [u8],
    },
}

/// Splits one complete line (without its terminator) into a [`Line`].
#[inline]
pub fn parse_line(line: &[u8]) -> Line<'_> {
    // The most frequent line first, without searching for its colon.
    if let Some(value) = line.strip_prefix(b"data:") {
        return Line::Field {
            name: &line[..4],
            value: value.strip_prefix(b" ").unwrap_or(value),
        };
    }
    match line.first() {
        None => Line::Blank,
        Some(b':') => Line::Comment(&line[1..]),
        Some(_) => match find_colon(line) {
            None => Line::Field {
                name: line,
                value: &[],
            },
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = value.strip_prefix(b" ").unwrap_or(value);
                Line::Field {
                    name: &line[..colon],
                    value,
                }
            }
        },
    }
}

/// The first `:`: field names are short, so the first bytes are looked at one by one before
/// a `memchr` call.
#[inline]
fn find_colon(line: &[u8]) -> Option<usize> {
    let head = line.len().min(16);
    match line[..head].iter().position(|&b| b == b':') {
        Some(i) => Some(i),
        None => memchr::memchr(b':', &line[head..]).map(|i| i + head),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_line_table() {
        type Want = Option<(&'static [u8], usize, bool)>;
        let cases: &[(&[u8], Want)] = &[
            (b"", None),
            (b"abc", None),
            (b"abc\n", Some((b"abc", 4, false))),
            (b"abc\r\nx", Some((b"abc", 5, false))),
            (b"abc\rx", Some((b"abc", 4, false))),
            (b"abc\r", Some((b"abc", 4, true))),
            (b"\n\n", Some((b"", 1, false))),
            (b"a\r\r\n", Some((b"a", 2, false))),
        ];
        for (input, want) in cases {
            let got = match decode_line(input) {
                Status::Partial => None,
                Status::Complete(l) => Some((l.content, l.consumed, l.pending_lf)),
            };
            assert_eq!(got, *want, "input {input:?}");
        }
    }

    #[test]
    fn find_line_end_at_every_position() {
        for len in [
            1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 79, 80, 81, 100, 200,
        ] {
            for at in 0..len {
                for end in [b'\n', b'\r'] {
                    let mut input = alloc::vec![b'x'; len];
                    input[at] = end;
                    assert_eq!(find_line_end(&input).0, Some(at), "len {len} at {at}");
                    if at + 1 < len {
                        input[at + 1] = b'\n';
                        assert_eq!(find_line_end(&input).0, Some(at), "len {len} at {at}, two");
                    }
                }
            }
            assert_eq!(find_line_end(&alloc::vec![b'x'; len]).0, None);
        }
    }

    #[test]
    fn find_line_end_with_every_byte_value_around_it() {
        for v in 0..=255u8 {
            if v == b'\n' || v == b'\r' {
                continue;
            }
            for at in 0..24 {
                let mut input = alloc::vec![v; 24];
                input[at] = b'\r';
                assert_eq!(find_line_end(&input).0, Some(at), "byte {v:#x}, CR at {at}");
            }
            assert_eq!(find_line_end(&[v; 24]).0, None, "byte {v:#x}");
        }
    }

    #[test]
    fn known_ascii_is_never_wrong_and_known_for_short_lines() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 127, 128, 129, 200] {
            for end in (0..len).map(Some).chain([None]) {
                let mut input = alloc::vec![b'a'; len];
                if let Some(e) = end {
                    input[e] = b'\n';
                }
                let before = end.unwrap_or(len);
                let (found, ascii) = find_line_end(&input);
                assert_eq!(found, end, "len {len} end {end:?}");
                // All ASCII: known as such when found in the head (memchr2 does not tell).
                if before < HEAD || len < HEAD + BLOCK {
                    assert!(ascii, "len {len} end {end:?}: ASCII not known");
                }
                // One byte that is not ASCII, anywhere: reported unless it is after the end.
                for at in 0..len {
                    if Some(at) == end {
                        continue;
                    }
                    let mut input = input.clone();
                    input[at] = 0xC3;
                    let (found, ascii) = find_line_end(&input);
                    assert_eq!(found, end);
                    if at < before {
                        assert!(!ascii, "len {len} end {end:?} non-ASCII at {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn portable_masks_agree_with_the_lowest_line_end() {
        for at in 0..BLOCK {
            for (end, other) in [(b'\n', b'x'), (b'\r', 0xFF), (b'\n', 0x8A)] {
                let mut block = [other; BLOCK];
                block[at] = end;
                let (ends, high) = block_masks(&block);
                let (p_ends, p_high) = block_masks_portable(&block);
                assert_eq!(ends.trailing_zeros(), p_ends.trailing_zeros(), "at {at}");
                assert_eq!(high == 0, p_high == 0, "at {at}");
            }
            assert_eq!(block_masks_portable(&[b'x'; BLOCK]), (0, 0));
        }
    }

    /// Inputs of every length up to 300 bytes (140 under Miri) with line ends, non-ASCII bytes and CRLF at
    /// pseudo-random places.
    fn scan_inputs() -> impl Iterator<Item = alloc::vec::Vec<u8>> {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Miri runs the SSE2 block by interpretation: shorter inputs there.
        let longest = if cfg!(miri) { 140 } else { 300 };
        (0..longest).flat_map(move |len| {
            let mut inputs = alloc::vec::Vec::new();
            for density in [2u64, 8, 40, 400] {
                let input: alloc::vec::Vec<u8> = (0..len)
                    .map(|_| match next() % density {
                        0 => [b'\n', b'\r'][(next() % 2) as usize],
                        1 if next() % 4 == 0 => 0xC3,
                        _ => b'a' + (next() % 26) as u8,
                    })
                    .collect();
                inputs.push(input);
            }
            inputs
        })
    }

    #[test]
    fn line_ends_agree_with_the_line_search() {
        for input in scan_inputs() {
            let mut ends = LineEnds::new();
            let mut from = 0;
            while from <= input.len() {
                let (got, ascii) = ends.find(&input, from);
                let (want, _) = find_line_end(&input[from..]);
                assert_eq!(got, want.map(|w| w + from), "{input:?} from {from}");
                let stop = got.unwrap_or(input.len());
                if ascii {
                    assert!(input[from..stop].is_ascii(), "{input:?} from {from}");
                }
                if stop - from < WINDOW && !input[from..stop].is_ascii() {
                    assert!(!ascii);
                }
                // Every line start, also one just after a CR of a CRLF.
                from = got.map_or(input.len() + 1, |e| e + 1);
            }
        }
    }

    #[test]
    fn line_ends_know_short_ascii_lines() {
        for len in 0..200 {
            let mut input = alloc::vec![b'a'; 300];
            input[len] = b'\n';
            for from in [0, 1, 63, 64, 65].into_iter().filter(|&f| f <= len) {
                let mut ends = LineEnds::new();
                if from > 0 {
                    ends.find(&input, 0);
                }
                let (end, ascii) = ends.find(&input, from);
                assert_eq!(end, Some(len));
                // Known within the two windows searched before `memchr2`.
                if len - from < WINDOW {
                    assert!(ascii, "len {len} from {from}");
                }
            }
        }
    }

    #[test]
    fn portable_window_masks_are_exact() {
        for input in scan_inputs().filter(|i| i.len() >= WINDOW) {
            let window: &[u8; WINDOW] = input[..WINDOW].try_into().unwrap();
            let (ends, high) = window_masks_portable(window);
            for (i, &b) in window.iter().enumerate() {
                assert_eq!(
                    ends >> i & 1 == 1,
                    b == b'\n' || b == b'\r',
                    "{window:?} at {i}"
                );
                assert_eq!(high >> i & 1 == 1, b >= 0x80, "{window:?} at {i}");
            }
            assert_eq!(window_masks(window), (ends, high));
        }
    }

    #[test]
    fn parse_line_table() {
        let f = |name: &'static [u8], value: &'static [u8]| Line::Field { name, value };
        let cases: &[(&[u8], Line<'_>)] = &[
            (b"", Line::Blank),
            (b":", Line::Comment(b"")),
            (b": hi", Line::Comment(b" hi")),
            (b"data", f(b"data", b"")),
            (b"data:", f(b"data", b"")),
            (b"data:x", f(b"data", b"x")),
            (b"data: x", f(b"data", b"x")),
            (b"data:  x", f(b"data", b" x")),
            (b"data: a:b", f(b"data", b"a:b")),
            (b"Data: x", f(b"Data", b"x")),
            (b" data: x", f(b" data", b"x")),
            (b"id:7", f(b"id", b"7")),
            (b"event: a:b", f(b"event", b"a:b")),
            (
                b"a-very-long-field-name-beyond-16:v",
                f(b"a-very-long-field-name-beyond-16", b"v"),
            ),
            (
                b"a-very-long-field-name-beyond-16 without colon",
                f(b"a-very-long-field-name-beyond-16 without colon", b""),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_line(input), *want, "input {input:?}");
        }
    }
}

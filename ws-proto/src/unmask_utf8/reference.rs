//! The reference every [`Kernel`](super::Kernel) must agree with: byte-at-a-time unmasking
//! and `core::str::from_utf8`, written for obviousness, not speed (tests and the
//! `ws_kernels` fuzz target compare the kernels with it).

use super::InvalidUtf8;

/// What [`Kernel::unmask_text`](super::Kernel::unmask_text) computes, from scratch: unmask
/// `text[from..]` in place (`text[i] ^= key[i % 4]`) and judge all of `text`.
pub fn unmask_text(text: &mut [u8], from: usize, key: [u8; 4]) -> Result<usize, InvalidUtf8> {
    for (i, b) in text.iter_mut().enumerate().skip(from) {
        *b ^= key[i % 4];
    }
    judge(text)
}

/// The module's contract for complete text `text`: `Ok(n)` with `text[..n]` valid and
/// `text[n..]` the start of a code point that more bytes could complete, or `Err`.
pub fn judge(text: &[u8]) -> Result<usize, InvalidUtf8> {
    match core::str::from_utf8(text) {
        Ok(_) => Ok(text.len()),
        // Cut off at the end: more bytes could complete it.
        Err(e) if e.error_len().is_none() => Ok(e.valid_up_to()),
        Err(_) => Err(InvalidUtf8),
    }
}

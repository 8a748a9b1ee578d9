//! Unmasking and UTF-8 validation of text payloads, in one pass where the CPU allows it.
//!
//! A text frame's payload is XORed with the masking key and validated as UTF-8 while it is
//! still in a register, instead of stored first and read back by a separate validator. Each
//! implementation is a [`Kernel`]: [`KernelKind::Avx512`] (64 bytes a step, whole messages of
//! at most 125 bytes in one masked step), [`KernelKind::Avx2`] (32 bytes a step) and
//! [`KernelKind::Portable`] (unmask, then simdutf8: every CPU). [`mod@reference`] is the
//! byte-at-a-time definition every kernel must agree with (tests and the `ws_kernels` fuzz
//! target check it).
//!
//! The safe entry points here are the only callers of the `unsafe` kernels in `avx2.rs` and
//! `avx512.rs`; a [`Kernel`] exists only for a kind the CPU supports, so they never run
//! without their features.
//!
//! Contract shared by every entry point, for a buffer of text `t` whose first `valid` bytes
//! are known to be valid UTF-8 ending on a code point boundary (and `t[valid..from]`, at most
//! 3 bytes, the start of a code point): the result is `Ok(n)`, `t[..n]` being valid UTF-8
//! ending on a code point boundary and `t[n..]` (at most 3 bytes) the start of a code point
//! that more bytes could complete, or `Err(InvalidUtf8)` if no bytes could ever make `t`
//! valid.

use bytes::BytesMut;
use core::fmt;

use crate::mask::{apply_mask, extend_unmasked, rotate_key};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod reference;
#[cfg(test)]
mod tests;

/// Text that can never become valid UTF-8, whatever bytes follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl core::error::Error for InvalidUtf8 {}

/// Which implementation a [`Kernel`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// Unmask a machine word at a time, then validate with simdutf8 (two passes): every CPU.
    Portable,
    /// One pass, 32 bytes a step: x86-64 with AVX2.
    Avx2,
    /// One pass, 64 bytes a step, and whole messages of at most 125 bytes in one masked
    /// step: x86-64 with AVX-512 F, BW and VBMI.
    Avx512,
}

impl KernelKind {
    /// Every kind, the portable one first.
    pub const ALL: [KernelKind; 3] = [KernelKind::Portable, KernelKind::Avx2, KernelKind::Avx512];
}

/// An unmask + validate implementation this CPU supports (a value exists only for a
/// supported [`KernelKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kernel(KernelKind);

/// Text shorter than this (after `from`) takes the portable path: the vector set-up would
/// cost more than it saves.
const VECTOR_MIN: usize = 64;

/// The portable path validates in blocks of this size right after unmasking each (it is still
/// in L1).
const VALIDATE_BLOCK: usize = 16 * 1024;

impl Kernel {
    /// The fastest kernel this CPU has.
    pub fn best() -> Kernel {
        [KernelKind::Avx512, KernelKind::Avx2]
            .into_iter()
            .find_map(Kernel::new)
            .unwrap_or(Kernel(KernelKind::Portable))
    }

    /// The kernel of `kind`, if this CPU supports it.
    pub fn new(kind: KernelKind) -> Option<Kernel> {
        let supported = match kind {
            KernelKind::Portable => true,
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx2 => avx2::available(),
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx512 => avx512::available(),
            #[cfg(not(target_arch = "x86_64"))]
            KernelKind::Avx2 | KernelKind::Avx512 => false,
        };
        supported.then_some(Kernel(kind))
    }

    /// Which implementation this is.
    pub fn kind(self) -> KernelKind {
        self.0
    }

    /// Unmask `text[from..]` in place (`text[i]` is XORed with `key[i % 4]`: `text[0]` is
    /// byte 0 of a frame's payload) and validate all of `text` as UTF-8 under the module's
    /// contract, `text[..from]` being unmasked already and `text[..valid]` validated.
    ///
    /// On `Err`, `text[from..]` is unmasked all the same.
    #[inline]
    #[allow(unsafe_code)]
    pub fn unmask_text(
        self,
        text: &mut [u8],
        from: usize,
        valid: usize,
        key: [u8; 4],
    ) -> Result<usize, InvalidUtf8> {
        debug_assert!(valid <= from && from <= text.len());
        let from = from.min(text.len());
        let valid = valid.min(from);
        #[cfg(target_arch = "x86_64")]
        match self.0 {
            KernelKind::Avx512 if from == 0 && text.len() <= 125 => {
                let (n, p) = (text.len(), text.as_mut_ptr());
                // SAFETY: this kernel exists only when the CPU has AVX-512 F, BW and VBMI;
                // source and destination are all of `text` (at most 125 bytes), the same
                // pointer.
                if unsafe { avx512::small(p, p, n, key, true) } {
                    return Ok(n);
                }
                // Invalid, or a code point cut off at the end (which a partial frame may
                // have): the exact answer from the unmasked bytes.
                return valid_prefix_len(text).ok_or(InvalidUtf8);
            }
            KernelKind::Avx512 if text.len() - from >= VECTOR_MIN => {
                let region = &mut text[from..];
                let (len, p) = (region.len(), region.as_mut_ptr());
                let vectors = len / 64 * 64;
                let seed = seed::<64>(&text[..from]);
                // SAFETY: the CPU has the features (see above); source and destination are
                // all of `text[from..]`, the same pointer.
                let ok = unsafe {
                    avx512::unmask_validate(p, p, len, vectors, rotate_key(key, from), &seed)
                };
                return finish(text, ok, from + vectors);
            }
            KernelKind::Avx2 if text.len() - from >= VECTOR_MIN => {
                let region = &mut text[from..];
                let (len, p) = (region.len(), region.as_mut_ptr());
                let vectors = len / 32 * 32;
                let seed = seed::<32>(&text[..from]);
                let key = rotate_key(key, from);
                // SAFETY: this kernel exists only when the CPU has AVX2; source and
                // destination are `text[from..from + vectors]`, the same pointer.
                let ok = unsafe { avx2::unmask_validate(p, p, vectors, key, &seed) };
                // The tail: the key's phase is unchanged, `vectors` being a multiple of 4.
                apply_mask(&mut text[from + vectors..], key, 0);
                return finish(text, ok, from + vectors);
            }
            _ => {}
        }
        apply_mask(&mut text[from..], key, from);
        let n = valid_prefix_len(&text[valid..]).ok_or(InvalidUtf8)?;
        Ok(valid + n)
    }

    /// Append `src` unmasked to `dst` (`src[0]` being byte `phase` of its frame's payload, so
    /// it is XORed with `key[phase % 4]`) and validate all of `dst` as UTF-8 under the
    /// module's contract, `dst[..valid]` being validated already.
    ///
    /// On `Err`, what was appended is unspecified (the caller drops or truncates it).
    #[inline]
    #[allow(unsafe_code)]
    pub fn extend_text(
        self,
        dst: &mut BytesMut,
        valid: usize,
        src: &[u8],
        key: [u8; 4],
        phase: usize,
    ) -> Result<usize, InvalidUtf8> {
        let start = dst.len();
        debug_assert!(valid <= start);
        let valid = valid.min(start);
        #[cfg(target_arch = "x86_64")]
        if src.len() >= VECTOR_MIN && self.0 != KernelKind::Portable {
            let key = rotate_key(key, phase);
            dst.reserve(src.len());
            let out: *mut u8 = dst.spare_capacity_mut()[..src.len()].as_mut_ptr().cast();
            let ok = match self.0 {
                KernelKind::Avx512 => {
                    let vectors = src.len() / 64 * 64;
                    let seed = seed::<64>(&dst[..start]);
                    // SAFETY: the CPU has the features (this kernel exists); `out` has room
                    // for `src.len()` bytes and does not overlap `src`.
                    let ok = unsafe {
                        avx512::unmask_validate(out, src.as_ptr(), src.len(), vectors, key, &seed)
                    };
                    (ok, vectors)
                }
                _ => {
                    let vectors = src.len() / 32 * 32;
                    let seed = seed::<32>(&dst[..start]);
                    // SAFETY: the CPU has AVX2 (this kernel exists); `out` has room for
                    // `src.len()` bytes and does not overlap `src`.
                    let ok =
                        unsafe { avx2::unmask_validate(out, src.as_ptr(), vectors, key, &seed) };
                    for (i, s) in src[vectors..].iter().enumerate() {
                        // SAFETY: `vectors + i < src.len()`, within the reserved room.
                        unsafe { out.add(vectors + i).write(s ^ key[i & 3]) };
                    }
                    (ok, vectors)
                }
            };
            // SAFETY: the kernel (and the tail loop) wrote all `src.len()` bytes after
            // `start`, which the reservation made room for.
            unsafe { dst.set_len(start + src.len()) };
            return finish(dst, ok.0, start + ok.1);
        }
        let mut valid = valid;
        let mut phase = phase;
        for block in src.chunks(VALIDATE_BLOCK) {
            extend_unmasked(dst, block, key, phase);
            phase = phase.wrapping_add(block.len());
            valid += valid_prefix_len(&dst[valid..]).ok_or(InvalidUtf8)?;
        }
        Ok(valid)
    }
}

/// After a vector pass over `text[..checked]` (`ok`: every code point ending within it is
/// valid), the exact answer: the code point that runs past `checked` (and anything after it)
/// is checked from the last boundary before `checked`.
#[inline]
fn finish(text: &[u8], ok: bool, checked: usize) -> Result<usize, InvalidUtf8> {
    if !ok {
        return Err(InvalidUtf8);
    }
    let from = complete_prefix_len(&text[..checked]);
    if from == text.len() {
        return Ok(from);
    }
    Ok(from + valid_prefix_len(&text[from..]).ok_or(InvalidUtf8)?)
}

/// The `N` bytes before a kernel's first vector: the last bytes of `before`, zeros (ASCII)
/// in front of the start of the text.
#[inline]
fn seed<const N: usize>(before: &[u8]) -> [u8; N] {
    let mut seed = [0u8; N];
    let have = before.len().min(N);
    seed[N - have..].copy_from_slice(&before[before.len() - have..]);
    seed
}

/// Reinterpret bytes this crate validated as UTF-8 (a [`Text`](crate::Text)'s) without
/// checking again: checking on every access would cost as much as receiving a short message.
#[allow(unsafe_code)]
#[inline]
pub(crate) fn assume_valid(b: &[u8]) -> &str {
    debug_assert!(core::str::from_utf8(b).is_ok());
    // SAFETY: every caller passes the bytes of a `Text`, which are valid UTF-8: `Text` is
    // built only by `Text::from_utf8` (checked) or from bytes this crate validated.
    unsafe { core::str::from_utf8_unchecked(b) }
}

/// Extend the validated prefix `buf[..*valid]` over the bytes after it (no unmasking): an
/// incomplete code point at the end waits for more bytes; anything that can never become
/// valid fails now.
#[inline]
pub(crate) fn validate_utf8(buf: &[u8], valid: &mut usize) -> Result<(), InvalidUtf8> {
    *valid += valid_prefix_len(&buf[*valid..]).ok_or(InvalidUtf8)?;
    Ok(())
}

/// If `b` can still begin valid UTF-8, the length of its prefix up to the last code point
/// boundary; `None` if it never can. Validates that prefix with simdutf8, then checks that
/// the incomplete tail (at most 3 bytes) is a prefix of some valid code point, so that
/// e.g. F4 90 fails at once instead of when more bytes arrive.
#[inline]
pub(crate) fn valid_prefix_len(b: &[u8]) -> Option<usize> {
    let complete = complete_prefix_len(b);
    if simdutf8::basic::from_utf8(&b[..complete]).is_err() {
        return None;
    }
    if let Err(e) = simdutf8::compat::from_utf8(&b[complete..]) {
        if e.error_len().is_some() {
            return None;
        }
    }
    Some(complete)
}

/// The length of the longest prefix of `b` that does not end inside a multi-byte sequence
/// (judged from the last lead byte within 3 bytes of the end; validity is checked elsewhere).
#[inline]
pub(crate) fn complete_prefix_len(b: &[u8]) -> usize {
    let n = b.len();
    for back in 1..=n.min(3) {
        let c = b[n - back];
        if c & 0xC0 != 0x80 {
            let need = utf8_width(c);
            return if need > back { n - back } else { n };
        }
    }
    n
}

/// The length of the code point a lead byte starts (1 for bytes that cannot start one).
#[inline]
pub(crate) fn utf8_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// A 16-entry table repeated over `N` bytes: entry `i` is `t[i % 16]`, whichever of its low
/// 4 (AVX2 `vpshufb`, per 128-bit lane) or 6 (AVX-512 `vpermb`) bits the lookup uses.
#[cfg(target_arch = "x86_64")]
const fn repeat<const N: usize>(t: [u8; 16]) -> [u8; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = t[i % 16];
        i += 1;
    }
    out
}

/// Subtracted (saturating) from an `N`-byte vector: non-zero where a lead byte near the end
/// needs more bytes than the vector has left.
#[cfg(target_arch = "x86_64")]
const fn incomplete<const N: usize>() -> [u8; N] {
    let mut m = [0xFF; N];
    m[N - 3] = 0xF0 - 1;
    m[N - 2] = 0xE0 - 1;
    m[N - 1] = 0xC0 - 1;
    m
}

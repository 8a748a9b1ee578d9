//! Unmasking and UTF-8 validation of text payloads in one pass (x86-64 with AVX-512 or AVX2).
//!
//! A text frame's payload is XORed with the masking key, stored into the message buffer and
//! validated as UTF-8 while it is still in a register, instead of stored first and read
//! back by a separate validator. The validation is the lookup-table algorithm of Keiser and
//! Lemire, "Validating UTF-8 In Less Than One Instruction Per Byte" (Software: Practice and
//! Experience, 2021), the one simdutf8 uses: three 16-entry tables indexed by the high and
//! low nibble of each byte and the high nibble of the byte after it flag every invalid
//! two-byte pair, and two saturating subtractions find the third and fourth bytes that must
//! be continuations.
//!
//! Invariant kept with the caller: the bytes already in the buffer are valid UTF-8 except for
//! an unfinished code point (at most 3 bytes) at the end. [`extend`] checks every code point
//! that ends within the vectors it processed (64 bytes each with AVX-512 F, BW and VBMI, else
//! 32 with AVX2); one that runs past the last of them is left to the caller, which re-checks
//! from the last code point boundary. [`small_message`] handles a whole message of at most 125
//! bytes in one step (AVX-512 only). [`unmask_validate_in_place`] and [`small_in_place`] do
//! the same to a whole message where it lies in the caller's read buffer (the kernels load
//! each vector before storing it, so source and destination may be the same). Without these
//! features (or on other targets) they all do nothing and return `None`, and the caller
//! unmasks and validates in two steps.

use bytes::BytesMut;

/// Append `src` XOR `key` (where `src[0]` is payload byte `offset`) to `dst` and validate it as
/// the continuation of the text in `dst`. `Some(Ok(n))`: everything was appended and every
/// code point ending within `src[..n]` is valid (`n` is a multiple of 32 or 64; the tail after it is
/// appended but not checked). `Some(Err(()))`: the text is invalid. `None`: not available on
/// this CPU; nothing was appended.
#[inline]
#[allow(unsafe_code)]
pub(crate) fn extend(
    dst: &mut BytesMut,
    src: &[u8],
    key: [u8; 4],
    offset: usize,
) -> Option<Result<usize, ()>> {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= 64 && !scalar_only() {
        if avx512::available() && !avx2_only() {
            // SAFETY: the CPU has the features.
            return Some(unsafe { avx512::extend(dst, src, crate::mask::rotate_key(key, offset)) });
        }
        if avx2::available() {
            // SAFETY: the CPU has AVX2.
            return Some(unsafe { avx2::extend(dst, src, crate::mask::rotate_key(key, offset)) });
        }
    }
    let _ = (dst, src, key, offset);
    None
}

/// A whole single-frame message of at most 125 bytes: append `src` XOR `key` to `dst` and,
/// if `text`, validate it as complete UTF-8 (an unfinished code point at the end is an
/// error). `Some(valid)`: done (`valid` is always true for binary). `None`: not available on
/// this CPU (it takes AVX-512 for the masked loads and stores); nothing was appended.
#[inline]
#[allow(unsafe_code)]
pub(crate) fn small_message(
    dst: &mut BytesMut,
    src: &[u8],
    key: [u8; 4],
    text: bool,
) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if src.len() <= 125 && avx512::available() && !scalar_only() && !avx2_only() {
        // SAFETY: the features were detected and `src` is at most 125 bytes.
        return Some(unsafe { avx512::small_message(dst, src, key, text) });
    }
    let _ = (dst, src, key, text);
    None
}

/// [`extend`] for text that lies in the caller's buffer: unmask all of `buf` in place
/// (`buf[0]` being payload byte 0 of a frame) and validate it, with a zero seed (the start of
/// a message). `Some(Ok(n))`: every code point ending within `buf[..n]` is valid (`n` a
/// multiple of 32 or 64; the tail after it is unmasked but not checked). `Some(Err(()))`: the
/// text is invalid (all of `buf` is unmasked all the same). `None`: not available on this
/// CPU; nothing was changed.
#[inline]
#[allow(unsafe_code)]
pub(crate) fn unmask_validate_in_place(buf: &mut [u8], key: [u8; 4]) -> Option<Result<usize, ()>> {
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= 64 && !scalar_only() {
        let (len, p) = (buf.len(), buf.as_mut_ptr());
        if avx512::available() && !avx2_only() {
            let vectors = len / 64 * 64;
            // SAFETY: the CPU has the features; source and destination are all of `buf`, the
            // same pointer.
            let ok = unsafe { avx512::unmask_validate(p, p, len, vectors, key, &[0; 64]) };
            return Some(if ok { Ok(vectors) } else { Err(()) });
        }
        if avx2::available() {
            let vectors = len / 32 * 32;
            // SAFETY: the CPU has AVX2; source and destination are `buf[..vectors]`, the same
            // pointer.
            let ok = unsafe { avx2::unmask_validate(p, p, vectors, key, &[0; 32]) };
            // The tail (fewer than 32 bytes): the key's phase is unchanged, `vectors` being a
            // multiple of 4.
            crate::mask::apply_mask(&mut buf[vectors..], key, 0);
            return Some(if ok { Ok(vectors) } else { Err(()) });
        }
    }
    let _ = (buf, key);
    None
}

/// [`small_message`] for a message that lies in the caller's buffer: unmask all of `buf`
/// (at most 125 bytes) in place and, if `text`, check that it is complete, valid UTF-8.
/// `Some(valid)`: done. `None`: not available on this CPU; nothing was changed.
#[inline]
#[allow(unsafe_code)]
pub(crate) fn small_in_place(buf: &mut [u8], key: [u8; 4], text: bool) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if buf.len() <= 125 && avx512::available() && !scalar_only() && !avx2_only() {
        let (len, p) = (buf.len(), buf.as_mut_ptr());
        // SAFETY: the features were detected, `buf` is at most 125 bytes, and source and
        // destination are the same pointer.
        return Some(unsafe { avx512::small(p, p, len, key, text) });
    }
    let _ = (buf, key, text);
    None
}

#[cfg(all(test, feature = "std"))]
std::thread_local! {
    /// Tests set it to run the two-step path on a CPU that has AVX2.
    pub(crate) static SCALAR_ONLY: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

#[cfg(all(test, feature = "std"))]
std::thread_local! {
    /// Tests set it to run the AVX2 path on a CPU that has AVX-512.
    pub(crate) static AVX2_ONLY: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

#[inline]
fn avx2_only() -> bool {
    #[cfg(all(test, feature = "std"))]
    return AVX2_ONLY.with(core::cell::Cell::get);
    #[cfg(not(all(test, feature = "std")))]
    false
}

#[inline]
fn scalar_only() -> bool {
    #[cfg(all(test, feature = "std"))]
    return SCALAR_ONLY.with(core::cell::Cell::get);
    #[cfg(not(all(test, feature = "std")))]
    false
}

/// What both vector kernels do around their loop: seed the checks of the first vector with
/// the `N` bytes already in `dst` before `src` (zeros, i.e. ASCII, before the start of the
/// message), make room for `src`, let `kernel(out, seed)` write all of `src` unmasked at `out`
/// and say whether the code points ending within `src[..vectors]` are valid, then take the
/// written bytes into `dst`.
///
/// # Safety
/// `kernel` must write all `src.len()` bytes at the pointer it gets (which is valid for that
/// many writes).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
unsafe fn extend_seeded<const N: usize>(
    dst: &mut BytesMut,
    src: &[u8],
    vectors: usize,
    kernel: impl FnOnce(*mut u8, &[u8; N]) -> bool,
) -> Result<usize, ()> {
    let start = dst.len();
    let mut seed = [0u8; N];
    let have = start.min(N);
    seed[N - have..].copy_from_slice(&dst[start - have..]);
    dst.reserve(src.len());
    let ok = kernel(
        dst.spare_capacity_mut()[..src.len()].as_mut_ptr().cast(),
        &seed,
    );
    // SAFETY: `kernel` wrote all of `src.len()` bytes after `start` (the caller's contract).
    unsafe { dst.set_len(start + src.len()) };
    if ok {
        Ok(vectors)
    } else {
        Err(())
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

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use bytes::BytesMut;
    use core::arch::x86_64::*;

    /// Whether the CPU has AVX2 (detected at run time with `std`, else the compile target's).
    #[inline]
    pub(super) fn available() -> bool {
        #[cfg(feature = "std")]
        {
            std::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(feature = "std"))]
        {
            cfg!(target_feature = "avx2")
        }
    }

    // One bit per kind of error, set in the table entries whose byte pairs can show it; a
    // pair is invalid when the three lookups have a bit in common.
    const TOO_SHORT: u8 = 1 << 0; // a lead byte, then a lead or ASCII byte
    const TOO_LONG: u8 = 1 << 1; // ASCII, then a continuation byte
    const OVERLONG_3: u8 = 1 << 2; // E0 80..9F
    const TOO_LARGE: u8 = 1 << 3; // F4 90.., F5.. 90..
    const SURROGATE: u8 = 1 << 4; // ED A0..BF
    const OVERLONG_2: u8 = 1 << 5; // C0, C1
    const TOO_LARGE_1000: u8 = 1 << 6; // F5..FF 80..8F
    const OVERLONG_4: u8 = 1 << 6; // F0 80..8F
    const TWO_CONTS: u8 = 1 << 7; // two continuations: fine only as 3rd/4th byte
    const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

    /// Indexed by the high nibble of the first byte of a pair.
    pub(super) const BYTE_1_HIGH: [u8; 16] = [
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TWO_CONTS,
        TWO_CONTS,
        TWO_CONTS,
        TWO_CONTS,
        TOO_SHORT | OVERLONG_2,
        TOO_SHORT,
        TOO_SHORT | OVERLONG_3 | SURROGATE,
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
    ];

    /// Indexed by the low nibble of the first byte of a pair.
    pub(super) const BYTE_1_LOW: [u8; 16] = [
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
        CARRY | OVERLONG_2,
        CARRY,
        CARRY,
        CARRY | TOO_LARGE,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
    ];

    /// Indexed by the high nibble of the second byte of a pair.
    pub(super) const BYTE_2_HIGH: [u8; 16] = [
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
    ];

    /// The 16-entry tables in both 128-bit lanes (`vpshufb` looks up within each lane).
    pub(super) const TABLES: [[u8; 32]; 3] = [
        super::repeat(BYTE_1_HIGH),
        super::repeat(BYTE_1_LOW),
        super::repeat(BYTE_2_HIGH),
    ];

    const INCOMPLETE: [u8; 32] = super::incomplete();

    /// # Safety
    /// The CPU must have the features `available()` checks.
    pub(super) unsafe fn extend(dst: &mut BytesMut, src: &[u8], key: [u8; 4]) -> Result<usize, ()> {
        let vectors = src.len() / 32 * 32;
        // SAFETY: the CPU has AVX2 (the caller checked); the kernel writes `out[..vectors]` and
        // the loop the tail, all of `src.len()` bytes.
        unsafe {
            super::extend_seeded(dst, src, vectors, |out, seed: &[u8; 32]| {
                let ok = unmask_validate(out, src.as_ptr(), vectors, key, seed);
                // The tail (fewer than 32 bytes): key phase is unchanged, `vectors` being a
                // multiple of 4.
                for (i, s) in src[vectors..].iter().enumerate() {
                    out.add(vectors + i).write(s ^ key[i & 3]);
                }
                ok
            })
        }
    }

    /// Writes `src[i] ^ key[i % 4]` to `dst[i]` for every `i < len` (a multiple of 32) and
    /// returns whether every code point that ends within those bytes is valid UTF-8, given
    /// the 32 bytes before them in `seed`. `dst` may be `src` (unmasking in place): each
    /// vector is loaded before it is stored.
    ///
    /// # Safety
    /// The CPU must have AVX2, `src` must be valid for reads and `dst` for writes of `len`
    /// bytes, and the two are either the same pointer or do not overlap.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn unmask_validate(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        key: [u8; 4],
        seed: &[u8; 32],
    ) -> bool {
        debug_assert!(len.is_multiple_of(32));
        // SAFETY (whole body): unaligned loads and stores within `src[..len]`, `dst[..len]`
        // (the caller's contract), `seed` and the 32-byte tables; the rest is register
        // arithmetic.
        unsafe {
            let key = _mm256_set1_epi32(i32::from_ne_bytes(key));
            let byte_1_high = _mm256_loadu_si256(TABLES[0].as_ptr().cast());
            let byte_1_low = _mm256_loadu_si256(TABLES[1].as_ptr().cast());
            let byte_2_high = _mm256_loadu_si256(TABLES[2].as_ptr().cast());
            let incomplete = _mm256_loadu_si256(INCOMPLETE.as_ptr().cast());
            let nibble = _mm256_set1_epi8(0x0F);
            let mut prev = _mm256_loadu_si256(seed.as_ptr().cast());
            let mut error = _mm256_setzero_si256();
            // The errors of the code points ending in `input`, given the vector before it.
            macro_rules! check {
                ($prev:expr, $input:expr) => {{
                    let (prev, input) = ($prev, $input);
                    // The input shifted right by 1, 2 and 3 bytes, `prev` filling in.
                    let joined = _mm256_permute2x128_si256::<0x21>(prev, input);
                    let prev1 = _mm256_alignr_epi8::<15>(input, joined);
                    let prev2 = _mm256_alignr_epi8::<14>(input, joined);
                    let prev3 = _mm256_alignr_epi8::<13>(input, joined);
                    let b1h = _mm256_shuffle_epi8(
                        byte_1_high,
                        _mm256_and_si256(_mm256_srli_epi16::<4>(prev1), nibble),
                    );
                    let b1l = _mm256_shuffle_epi8(byte_1_low, _mm256_and_si256(prev1, nibble));
                    let b2h = _mm256_shuffle_epi8(
                        byte_2_high,
                        _mm256_and_si256(_mm256_srli_epi16::<4>(input), nibble),
                    );
                    let special = _mm256_and_si256(_mm256_and_si256(b1h, b1l), b2h);
                    // Bit 7 set where the byte must be a 3rd (after E0..) or 4th (after F0..)
                    // byte of a sequence; `special` has TWO_CONTS (bit 7) where it is one.
                    let third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((0xE0u8 - 0x80) as i8));
                    let fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((0xF0u8 - 0x80) as i8));
                    let must23 = _mm256_and_si256(
                        _mm256_or_si256(third, fourth),
                        _mm256_set1_epi8(0x80u8 as i8),
                    );
                    _mm256_xor_si256(must23, special)
                }};
            }
            let mut i = 0;
            // Two vectors at a time, with one test for all-ASCII.
            while i + 64 <= len {
                let a = _mm256_xor_si256(_mm256_loadu_si256(src.add(i).cast()), key);
                let b = _mm256_xor_si256(_mm256_loadu_si256(src.add(i + 32).cast()), key);
                _mm256_storeu_si256(dst.add(i).cast(), a);
                _mm256_storeu_si256(dst.add(i + 32).cast(), b);
                if _mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0 {
                    // All ASCII: fine unless the vector before ended inside a code point
                    // (non-zero where a lead byte near its end needs more bytes than it had).
                    error = _mm256_or_si256(error, _mm256_subs_epu8(prev, incomplete));
                } else {
                    error = _mm256_or_si256(error, check!(prev, a));
                    error = _mm256_or_si256(error, check!(a, b));
                }
                prev = b;
                i += 64;
            }
            if i < len {
                let a = _mm256_xor_si256(_mm256_loadu_si256(src.add(i).cast()), key);
                _mm256_storeu_si256(dst.add(i).cast(), a);
                error = _mm256_or_si256(error, check!(prev, a));
            }
            _mm256_testz_si256(error, error) == 1
        }
    }
}

/// The same pass with AVX-512 (F, BW and VBMI): a 64-byte vector per step, byte shifts across
/// the whole vector with `vpermt2b`, 64-entry table lookups with `vpermb` (which ignores the
/// top two bits of each index, so no masking of nibbles), and the error terms merged with
/// `vpternlog`: about a third fewer vector operations per byte than the AVX2 version.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use super::avx2::{BYTE_1_HIGH, BYTE_1_LOW, BYTE_2_HIGH};
    use bytes::BytesMut;
    use core::arch::x86_64::*;

    /// Whether the CPU has AVX-512 F, BW and VBMI (detected at run time with `std`, else the
    /// compile target's).
    #[inline]
    pub(super) fn available() -> bool {
        #[cfg(feature = "std")]
        {
            std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vbmi")
        }
        #[cfg(not(feature = "std"))]
        {
            cfg!(all(
                target_feature = "avx512f",
                target_feature = "avx512bw",
                target_feature = "avx512vbmi"
            ))
        }
    }

    /// `vpermt2b` indices taking the 64 bytes that start `n` bytes before `input`, from
    /// `prev` (indices 0..64) and `input` (64..128).
    const fn shift(n: usize) -> [u8; 64] {
        let mut out = [0; 64];
        let mut i = 0;
        while i < 64 {
            out[i] = (64 + i - n) as u8;
            i += 1;
        }
        out
    }

    #[repr(align(64))]
    struct Tables([[u8; 64]; 6]);

    // The 16-entry tables are indexed by the low 6 bits of a byte (`vpermb`).
    static TABLES: Tables = Tables([
        super::repeat(BYTE_1_HIGH),
        super::repeat(BYTE_1_LOW),
        super::repeat(BYTE_2_HIGH),
        shift(1),
        shift(2),
        super::incomplete(),
    ]);

    /// The tables and constants, in registers.
    struct Vectors {
        byte_1_high: __m512i,
        byte_1_low: __m512i,
        byte_2_high: __m512i,
        shift1: __m512i,
        shift2: __m512i,
        incomplete: __m512i,
        third_min: __m512i,
        fourth_min: __m512i,
        high_bit: __m512i,
    }

    impl Vectors {
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
        fn load() -> Vectors {
            // SAFETY: aligned loads of the 64-byte tables.
            let t = |k: usize| unsafe { _mm512_load_si512(TABLES.0[k].as_ptr().cast()) };
            Vectors {
                byte_1_high: t(0),
                byte_1_low: t(1),
                byte_2_high: t(2),
                shift1: t(3),
                shift2: t(4),
                incomplete: t(5),
                third_min: _mm512_set1_epi8((0xE0u8 - 0x80) as i8),
                fourth_min: _mm512_set1_epi8((0xF0u8 - 0x80) as i8),
                high_bit: _mm512_set1_epi8(0x80u8 as i8),
            }
        }
    }

    /// Bit 7 set at each byte from E0 up (a lead byte of 3 or 4 bytes, or an invalid one the
    /// pair check rejects anyway), or after one from F0 up (`prev1` is `input` shifted right
    /// by one byte): two bytes later must come a continuation byte (the 3rd byte of a
    /// sequence or the 4th).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn leads(t: &Vectors, prev1: __m512i, input: __m512i) -> __m512i {
        let third = _mm512_subs_epu8(input, t.third_min);
        let fourth = _mm512_subs_epu8(prev1, t.fourth_min);
        // (third | fourth) & 0x80
        _mm512_ternarylogic_epi32::<0xA8>(third, fourth, t.high_bit)
    }

    /// `error` with the errors of the code points that end in `input` added, given the vector
    /// before it (non-zero bytes where one is invalid) and that vector's [`leads`]. Returns
    /// the new `error` and the leads of `input`.
    ///
    /// Whether a byte must be a 3rd or 4th byte depends on the bytes 2 and 3 before it: the
    /// leads, computed from `input` and the `prev1` the pairs need anyway, shifted by two
    /// bytes. That is one shuffle instead of shifting the input by 2 and by 3.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn check(
        t: &Vectors,
        prev: __m512i,
        prev_leads: __m512i,
        input: __m512i,
        error: __m512i,
    ) -> (__m512i, __m512i) {
        // The input shifted right by 1 byte, `prev` filling in.
        let prev1 = _mm512_permutex2var_epi8(prev, t.shift1, input);
        let b1h = _mm512_permutexvar_epi8(_mm512_srli_epi16::<4>(prev1), t.byte_1_high);
        let b1l = _mm512_permutexvar_epi8(prev1, t.byte_1_low);
        let b2h = _mm512_permutexvar_epi8(_mm512_srli_epi16::<4>(input), t.byte_2_high);
        // b1h & b1l & b2h
        let special = _mm512_ternarylogic_epi32::<0x80>(b1h, b1l, b2h);
        // Bit 7 set where the byte must be a 3rd (after E0..) or 4th (after F0..) byte of a
        // sequence; `special` has TWO_CONTS (bit 7) where it is one.
        let leads = leads(t, prev1, input);
        let must23 = _mm512_permutex2var_epi8(prev_leads, t.shift2, leads);
        // error | (must23 ^ special)
        (
            _mm512_ternarylogic_epi32::<0xF6>(error, must23, special),
            leads,
        )
    }

    /// # Safety
    /// The CPU must have the features `available()` checks, and `src` must be at most 125
    /// bytes long (the masks cover two vectors).
    pub(super) unsafe fn small_message(
        dst: &mut BytesMut,
        src: &[u8],
        key: [u8; 4],
        text: bool,
    ) -> bool {
        debug_assert!(src.len() <= 125);
        dst.reserve(src.len());
        let start = dst.len();
        let spare = &mut dst.spare_capacity_mut()[..src.len()];
        // SAFETY: the caller checked the CPU's features and the length; `spare` has room for
        // `src`.
        let ok = unsafe {
            small(
                spare.as_mut_ptr().cast(),
                src.as_ptr(),
                src.len(),
                key,
                text,
            )
        };
        // SAFETY: `small` wrote all of `spare`.
        unsafe { dst.set_len(start + src.len()) };
        ok
    }

    /// Writes `src[i] ^ key[i % 4]` to `dst[i]` for every `i < n` (at most 125), with masked
    /// loads and stores; if `text`, returns whether those bytes unmasked are complete UTF-8.
    /// `dst` may be `src` (unmasking in place): both vectors are loaded before they are
    /// stored.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VBMI, `src` must be valid for reads and `dst` for
    /// writes of `n` bytes (at most 125), and the two are either the same pointer or do not
    /// overlap.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn small(
        dst: *mut u8,
        src: *const u8,
        n: usize,
        key: [u8; 4],
        text: bool,
    ) -> bool {
        debug_assert!(n <= 125);
        let (m0, m1): (__mmask64, __mmask64) = if n >= 64 {
            (!0, (1u64 << (n - 64)) - 1)
        } else {
            ((1u64 << n) - 1, 0)
        };
        let key = _mm512_set1_epi32(i32::from_ne_bytes(key));
        // SAFETY: masked loads and stores touch only `src[..n]` and `dst[..n]`.
        let (a, b) = unsafe {
            // Bytes past the end read as zero (ASCII), and stay zero.
            let a = _mm512_xor_si512(
                _mm512_maskz_loadu_epi8(m0, src.cast()),
                _mm512_maskz_mov_epi8(m0, key),
            );
            let b = _mm512_xor_si512(
                _mm512_maskz_loadu_epi8(m1, src.wrapping_add(64).cast()),
                _mm512_maskz_mov_epi8(m1, key),
            );
            _mm512_mask_storeu_epi8(dst.cast(), m0, a);
            _mm512_mask_storeu_epi8(dst.wrapping_add(64).cast(), m1, b);
            (a, b)
        };
        if !text || _mm512_movepi8_mask(_mm512_or_si512(a, b)) == 0 {
            return true;
        }
        let t = Vectors::load();
        // The message starts after nothing (zeros) and is followed by zeros (`n` being at most
        // 125): a code point cut off by its end fails like one cut off by ASCII, and that error
        // shows at position `n`, the first zero. Below 64 bytes, that position is in `a`.
        let zero = _mm512_setzero_si512();
        let (mut error, leads) = check(&t, zero, zero, a, zero);
        if n >= 64 {
            (error, _) = check(&t, a, leads, b, error);
        }
        _mm512_test_epi8_mask(error, error) == 0
    }

    /// # Safety
    /// The CPU must have the features `available()` checks.
    pub(super) unsafe fn extend(dst: &mut BytesMut, src: &[u8], key: [u8; 4]) -> Result<usize, ()> {
        let vectors = src.len() / 64 * 64;
        // SAFETY: the caller checked the CPU's features; the kernel writes all of
        // `src.len()` bytes.
        unsafe {
            super::extend_seeded(dst, src, vectors, |out, seed: &[u8; 64]| {
                unmask_validate(out, src.as_ptr(), src.len(), vectors, key, seed)
            })
        }
    }

    /// Writes `src[i] ^ key[i % 4]` to `dst[i]` for every `i < len`, and returns whether
    /// every code point that ends within the first `vectors` bytes (a multiple of 64) is valid
    /// UTF-8, given the 64 bytes before them in `seed`. The bytes after `vectors` are only
    /// unmasked. `dst` may be `src` (unmasking in place): each vector is loaded before it is
    /// stored.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VBMI, `src` must be valid for reads and `dst` for
    /// writes of `len` bytes, and the two are either the same pointer or do not overlap.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn unmask_validate(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        vectors: usize,
        key: [u8; 4],
        seed: &[u8; 64],
    ) -> bool {
        debug_assert!(vectors.is_multiple_of(64) && vectors <= len);
        // SAFETY (whole body): unaligned loads and stores within `src[..len]`, `dst[..len]`
        // (the caller's contract), `seed` and the 64-byte tables (masked ones for the tail);
        // the rest is register arithmetic.
        unsafe {
            let t = Vectors::load();
            let key = _mm512_set1_epi32(i32::from_ne_bytes(key));
            let zero = _mm512_setzero_si512();
            let mut prev = _mm512_loadu_si512(seed.as_ptr().cast());
            // The seed's leads (only its last two bytes' count), zeros before it.
            let mut prev_leads = leads(&t, _mm512_permutex2var_epi8(zero, t.shift1, prev), prev);
            let mut error = zero;
            let mut i = 0;
            while i < vectors {
                let input = _mm512_xor_si512(_mm512_loadu_si512(src.add(i).cast()), key);
                _mm512_storeu_si512(dst.add(i).cast(), input);
                if _mm512_movepi8_mask(input) == 0 {
                    // All ASCII: fine unless the vector before ended inside a code point.
                    // (`prev_leads` stays those of the last non-ASCII vector, or the seed's.
                    // The next check reads only its last two bytes, set only if that vector
                    // ended inside a code point, which `incomplete` flagged at the first
                    // ASCII vector after it.)
                    error = _mm512_or_si512(error, _mm512_subs_epu8(prev, t.incomplete));
                } else {
                    (error, prev_leads) = check(&t, prev, prev_leads, input, error);
                }
                prev = input;
                i += 64;
            }
            // The tail (fewer than 64 bytes): key phase is unchanged, `vectors` being a
            // multiple of 4.
            let rest = len - vectors;
            if rest > 0 {
                let m: __mmask64 = (1u64 << rest) - 1;
                let input = _mm512_maskz_loadu_epi8(m, src.add(vectors).cast());
                _mm512_mask_storeu_epi8(dst.add(vectors).cast(), m, _mm512_xor_si512(input, key));
            }
            _mm512_test_epi8_mask(error, error) == 0
        }
    }
}

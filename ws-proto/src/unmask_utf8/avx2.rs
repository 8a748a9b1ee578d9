//! The one-pass unmask + UTF-8 validation kernel for AVX2: 32 bytes a step.
//!
//! The validation is the lookup-table algorithm of Keiser and Lemire, "Validating UTF-8 In
//! Less Than One Instruction Per Byte" (Software: Practice and Experience, 2021), the one
//! simdutf8 uses: three 16-entry tables indexed by the high and low nibble of each byte and
//! the high nibble of the byte after it flag every invalid two-byte pair, and two saturating
//! subtractions find the third and fourth bytes that must be continuations. Every function
//! here is `unsafe` with its contract stated; the safe entry points are in `super`.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

/// Whether the CPU has AVX2 (detected at run time with `std`, else the compile target's).
#[inline]
pub(crate) fn available() -> bool {
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
pub(crate) const BYTE_1_HIGH: [u8; 16] = [
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
pub(crate) const BYTE_1_LOW: [u8; 16] = [
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
pub(crate) const BYTE_2_HIGH: [u8; 16] = [
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
pub(crate) const TABLES: [[u8; 32]; 3] = [
    super::repeat(BYTE_1_HIGH),
    super::repeat(BYTE_1_LOW),
    super::repeat(BYTE_2_HIGH),
];

const INCOMPLETE: [u8; 32] = super::incomplete();

/// Writes `src[i] ^ key[i % 4]` to `dst[i]` for every `i < len` (a multiple of 32) and
/// returns whether every code point that ends within those bytes is valid UTF-8, given
/// the 32 bytes before them in `seed`. `dst` may be `src` (unmasking in place): each
/// vector is loaded before it is stored.
///
/// # Safety
/// The CPU must have AVX2, `src` must be valid for reads and `dst` for writes of `len`
/// bytes, and the two are either the same pointer or do not overlap.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn unmask_validate(
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

//! The one-pass unmask + UTF-8 validation kernel for AVX-512 (F, BW and VBMI): a 64-byte
//! vector per step, byte shifts across the whole vector with `vpermt2b`, 64-entry table
//! lookups with `vpermb` (which ignores the top two bits of each index, so no masking of
//! nibbles), and the error terms merged with `vpternlog`: about a third fewer vector
//! operations per byte than the AVX2 version. Every function here is `unsafe` with its
//! contract stated, or a `#[target_feature]` helper only called from them; the safe entry
//! points are in `super`.
#![allow(unsafe_code)]

use super::avx2::{BYTE_1_HIGH, BYTE_1_LOW, BYTE_2_HIGH};
use core::arch::x86_64::*;

/// Whether the CPU has AVX-512 F, BW and VBMI (detected at run time with `std`, else the
/// compile target's).
#[inline]
pub(crate) fn available() -> bool {
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
pub(crate) unsafe fn small(
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
pub(crate) unsafe fn unmask_validate(
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

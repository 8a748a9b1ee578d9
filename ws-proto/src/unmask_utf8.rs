//! Unmasking and UTF-8 validation of text payloads in one pass (x86-64 with AVX2).
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
//! that ends within the 32-byte vectors it processed; one that runs past the last of them is
//! left to the caller, which re-checks from the last code point boundary. Without AVX2 (or on
//! other targets) [`extend`] does nothing and returns `None`, and the caller unmasks and
//! validates in two steps.

use bytes::BytesMut;

/// Append `src` XOR `key` (where `src[0]` is payload byte `offset`) to `dst` and validate it as
/// the continuation of the text in `dst`. `Some(Ok(n))`: everything was appended and every
/// code point ending within `src[..n]` is valid (`n` is a multiple of 32; the tail after it is
/// appended but not checked). `Some(Err(()))`: the text is invalid. `None`: not available on
/// this CPU; nothing was appended.
#[inline]
pub(crate) fn extend(
    dst: &mut BytesMut,
    src: &[u8],
    key: [u8; 4],
    offset: usize,
) -> Option<Result<usize, ()>> {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= 64 && avx2::available() && !scalar_only() {
        return Some(avx2::extend(dst, src, crate::mask::rotate_key(key, offset)));
    }
    let _ = (dst, src, key, offset);
    None
}

#[cfg(all(test, feature = "std"))]
std::thread_local! {
    /// Tests set it to run the two-step path on a CPU that has AVX2.
    pub(crate) static SCALAR_ONLY: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

#[inline]
fn scalar_only() -> bool {
    #[cfg(all(test, feature = "std"))]
    return SCALAR_ONLY.with(core::cell::Cell::get);
    #[cfg(not(all(test, feature = "std")))]
    false
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
    const BYTE_1_HIGH: [u8; 16] = [
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
    const BYTE_1_LOW: [u8; 16] = [
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
    const BYTE_2_HIGH: [u8; 16] = [
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

    /// A 16-entry table in both 128-bit lanes (`vpshufb` looks up within each lane).
    const fn lanes(t: [u8; 16]) -> [u8; 32] {
        let mut out = [0; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = t[i % 16];
            i += 1;
        }
        out
    }

    const TABLES: [[u8; 32]; 3] = [lanes(BYTE_1_HIGH), lanes(BYTE_1_LOW), lanes(BYTE_2_HIGH)];

    /// Subtracted (saturating) from the last vector: non-zero where a lead byte near the end
    /// needs more bytes than the vector has left.
    const INCOMPLETE: [u8; 32] = {
        let mut m = [0xFF; 32];
        m[29] = 0xF0 - 1;
        m[30] = 0xE0 - 1;
        m[31] = 0xC0 - 1;
        m
    };

    pub(super) fn extend(dst: &mut BytesMut, src: &[u8], key: [u8; 4]) -> Result<usize, ()> {
        let start = dst.len();
        // The 32 bytes before `src` seed the checks of its first vector (zeros, i.e. ASCII,
        // before the start of the message).
        let mut seed = [0u8; 32];
        let have = start.min(32);
        seed[32 - have..].copy_from_slice(&dst[start - have..]);
        dst.reserve(src.len());
        let vectors = src.len() / 32 * 32;
        let spare = &mut dst.spare_capacity_mut()[..src.len()];
        // SAFETY: `available()` said the CPU has AVX2; `spare` has room for all of `src`.
        let ok = unsafe { unmask_validate(spare.as_mut_ptr().cast(), &src[..vectors], key, &seed) };
        // The tail (fewer than 32 bytes): key phase is unchanged, `vectors` being a multiple
        // of 4.
        for (i, (d, s)) in spare[vectors..].iter_mut().zip(&src[vectors..]).enumerate() {
            d.write(s ^ key[i & 3]);
        }
        // SAFETY: `unmask_validate` wrote `spare[..vectors]` and the loop above the rest.
        unsafe { dst.set_len(start + src.len()) };
        if ok {
            Ok(vectors)
        } else {
            Err(())
        }
    }

    /// Writes `src[i] ^ key[i % 4]` to `dst[i]` for every byte of `src` (a multiple of 32
    /// long) and returns whether every code point that ends within it is valid UTF-8, given
    /// the 32 bytes before it in `seed`.
    ///
    /// # Safety
    /// The CPU must have AVX2, and `dst` must be valid for writes of `src.len()` bytes.
    #[target_feature(enable = "avx2")]
    unsafe fn unmask_validate(dst: *mut u8, src: &[u8], key: [u8; 4], seed: &[u8; 32]) -> bool {
        debug_assert!(src.len() % 32 == 0);
        // SAFETY (whole body): unaligned loads and stores within `src`, `dst` (len checked by
        // the caller), `seed` and the 32-byte tables; the rest is register arithmetic.
        unsafe {
            let key = _mm256_set1_epi32(i32::from_ne_bytes(key));
            let byte_1_high = _mm256_loadu_si256(TABLES[0].as_ptr().cast());
            let byte_1_low = _mm256_loadu_si256(TABLES[1].as_ptr().cast());
            let byte_2_high = _mm256_loadu_si256(TABLES[2].as_ptr().cast());
            let incomplete = _mm256_loadu_si256(INCOMPLETE.as_ptr().cast());
            let nibble = _mm256_set1_epi8(0x0F);
            let mut prev = _mm256_loadu_si256(seed.as_ptr().cast());
            let mut prev_incomplete = _mm256_subs_epu8(prev, incomplete);
            let mut error = _mm256_setzero_si256();
            let mut i = 0;
            while i < src.len() {
                let input = _mm256_xor_si256(_mm256_loadu_si256(src.as_ptr().add(i).cast()), key);
                _mm256_storeu_si256(dst.add(i).cast(), input);
                if _mm256_movemask_epi8(input) == 0 {
                    // All ASCII: fine unless the previous vector ended inside a code point.
                    error = _mm256_or_si256(error, prev_incomplete);
                    prev_incomplete = _mm256_setzero_si256();
                } else {
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
                    error = _mm256_or_si256(error, _mm256_xor_si256(must23, special));
                    prev_incomplete = _mm256_subs_epu8(input, incomplete);
                }
                prev = input;
                i += 32;
            }
            _mm256_testz_si256(error, error) == 1
        }
    }
}

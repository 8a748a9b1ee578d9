//! Masking (RFC 6455 section 5.3): XOR of the payload with a repeating 4-byte key.
//!
//! [`apply_mask`] works in place a machine word at a time over aligned-size chunks, which LLVM
//! turns into SIMD on x86-64 and AArch64. It is safe code; `benches/codec.rs` compares it with
//! a byte-at-a-time loop. `offset` is the position within the frame's payload of `buf[0]`,
//! so a payload that arrives in pieces is unmasked piece by piece.

/// XOR `buf` in place with `key`, where `buf[0]` is byte number `offset` of the frame payload.
///
/// Applying the same key and offset twice restores the input.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    // The key repeats every 4 bytes, so every 32- and 8-byte step starts at key phase 0.
    let half = u64::from(u32::from_ne_bytes(key));
    let word = half | (half << 32);
    let (blocks, rest) = buf.as_chunks_mut::<32>();
    for block in blocks {
        for lane in block.as_chunks_mut::<8>().0 {
            *lane = (u64::from_ne_bytes(*lane) ^ word).to_ne_bytes();
        }
    }
    // Short payloads and tails: a word at a time, then bytes.
    let (lanes, tail) = rest.as_chunks_mut::<8>();
    for lane in lanes {
        *lane = (u64::from_ne_bytes(*lane) ^ word).to_ne_bytes();
    }
    apply_mask_bytes(tail, key);
}

/// Append `src` unmasked (XOR `key`, `src[0]` being payload byte `offset`) to `dst`, in one
/// pass: the bytes are unmasked while they are copied, instead of copied and then unmasked.
#[inline]
pub fn extend_unmasked(dst: &mut bytes::BytesMut, src: &[u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    dst.reserve(src.len());
    let start = dst.len();
    let spare = &mut dst.spare_capacity_mut()[..src.len()];
    xor_into(spare, src, key);
    set_len_after_write(dst, start + src.len());
}

/// `dst[i] = src[i] ^ key[i % 4]` for every i, writing uninitialised memory; 32 bytes a step
/// (LLVM makes it SIMD), bytes at the tail.
#[inline]
fn xor_into(dst: &mut [core::mem::MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut d = dst.chunks_exact_mut(32);
    let mut s = src.chunks_exact(32);
    for (db, sb) in (&mut d).zip(&mut s) {
        for (dl, sl) in db.chunks_exact_mut(8).zip(sb.chunks_exact(8)) {
            let mut v = [0u8; 8];
            v.copy_from_slice(sl);
            let x = (u64::from_ne_bytes(v) ^ word).to_ne_bytes();
            for (o, b) in dl.iter_mut().zip(x) {
                o.write(b);
            }
        }
    }
    for (i, (o, b)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        o.write(b ^ key[i & 3]);
    }
}

/// Mark `len` bytes of `buf` initialised after `xor_into` wrote them.
#[allow(unsafe_code)]
#[inline]
fn set_len_after_write(buf: &mut bytes::BytesMut, len: usize) {
    debug_assert!(len <= buf.capacity());
    // SAFETY: `extend_unmasked` reserved the room and `xor_into` wrote every byte of
    // `spare[..src.len()]`, so the first `len` bytes are initialised. Measured: one pass instead
    // of memcpy followed by an in-place XOR (see benches/codec.rs).
    unsafe { buf.set_len(len) }
}

/// The key as seen from payload byte `offset`.
#[inline]
pub(crate) fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Byte `offset % 4` of the key first: a rotation of the key read as a word.
    let bits = 8 * (offset % 4) as u32;
    let k = u32::from_ne_bytes(key);
    let k = if cfg!(target_endian = "little") {
        k.rotate_right(bits)
    } else {
        k.rotate_left(bits)
    };
    k.to_ne_bytes()
}

/// The byte-at-a-time reference implementation (also used for short tails).
#[inline]
pub fn apply_mask_bytes(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn rfc_example() {
        // RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d.
        let mut data = *b"Hello";
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn word_path_matches_reference_at_every_length_and_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..300usize {
            let input: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            for offset in 0..4 {
                let mut fast = input.clone();
                apply_mask(&mut fast, key, offset);
                let mut slow = input.clone();
                apply_mask_bytes(&mut slow, rotate_key(key, offset));
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn extend_unmasked_matches_reference() {
        let key = [0xA1, 0xB2, 0xC3, 0xD4];
        for len in [0usize, 1, 7, 31, 32, 33, 64, 100, 1000] {
            let input: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
            for offset in 0..5 {
                let mut buf = bytes::BytesMut::from(&b"prefix"[..]);
                extend_unmasked(&mut buf, &input, key, offset);
                let mut want = input.clone();
                apply_mask(&mut want, key, offset);
                assert_eq!(&buf[..6], b"prefix");
                assert_eq!(&buf[6..], &want[..], "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn piecewise_equals_whole() {
        let key = [1, 2, 3, 4];
        let input: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut whole = input.clone();
        apply_mask(&mut whole, key, 0);
        for split in [1usize, 3, 31, 32, 33, 500, 999] {
            let mut parts = input.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(parts, whole, "split {split}");
        }
    }
}

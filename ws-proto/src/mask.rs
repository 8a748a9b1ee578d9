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
    if buf.len() < 32 {
        apply_mask_bytes(buf, key);
        return;
    }
    // The key repeats every 4 bytes, so a 32-byte block always starts at key phase 0.
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for lane in block.chunks_exact_mut(8) {
            let mut v = [0u8; 8];
            v.copy_from_slice(lane);
            let x = u64::from_ne_bytes(v) ^ word;
            lane.copy_from_slice(&x.to_ne_bytes());
        }
    }
    apply_mask_bytes(blocks.into_remainder(), key);
}

/// The key as seen from payload byte `offset`.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut k = key;
    k.rotate_left(offset % 4);
    k
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

//! Every kernel this CPU has against the reference, in place and copying, whole and in
//! pieces, at every vector edge.

use super::{reference, Kernel, KernelKind};
use alloc::vec::Vec;
use bytes::BytesMut;

const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

fn kernels() -> Vec<Kernel> {
    KernelKind::ALL
        .iter()
        .filter_map(|&k| Kernel::new(k))
        .collect()
}

fn masked(text: &[u8], key: [u8; 4]) -> Vec<u8> {
    text.iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect()
}

/// `text`, masked and fed in pieces ending at `cuts` then at its end, through every kernel,
/// in place (`unmask_text`) and copying (`extend_text`): each answer (and the unmasked bytes)
/// must be the reference's for the text so far; feeding stops at the first error.
fn check(text: &[u8], cuts: &[usize]) {
    check_with_key(text, cuts, KEY);
}

fn check_with_key(text: &[u8], cuts: &[usize], key: [u8; 4]) {
    let wire = masked(text, key);
    let ends: Vec<usize> = cuts.iter().copied().chain([text.len()]).collect();
    for k in kernels() {
        // In place: the frame's payload so far lies at the front of one buffer.
        let mut buf = wire.clone();
        let (mut from, mut valid) = (0, 0);
        for &to in &ends {
            let got = k.unmask_text(&mut buf[..to], from, valid, key);
            assert_eq!(&buf[..to], &text[..to], "{:?} unmasking in place", k.kind());
            let want = reference::judge(&text[..to]);
            assert_eq!(got, want, "{:?} in place: {text:02x?} up to {to}", k.kind());
            let Ok(n) = got else { break };
            (from, valid) = (to, n);
        }
        // Copying: behind bytes already held, in the buffer of the message.
        let mut dst = BytesMut::new();
        let (mut from, mut valid) = (0, 0);
        for &to in &ends {
            let got = k.extend_text(&mut dst, valid, &wire[from..to], key, from);
            let want = reference::judge(&text[..to]);
            assert_eq!(got, want, "{:?} copying: {text:02x?} up to {to}", k.kind());
            let Ok(n) = got else { break };
            assert_eq!(
                &dst[..],
                &text[..to],
                "{:?} unmasking while copying",
                k.kind()
            );
            (from, valid) = (to, n);
        }
    }
}

/// Byte values at the edges of every class of the UTF-8 tables.
const EDGES: [u8; 20] = [
    0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
    0xF0, 0xF4, 0xF5, 0xFF,
];

/// `seq` at `pos` in `len` bytes of ASCII, cut off by the end if it runs past it.
fn embed(seq: &[u8], pos: usize, len: usize) -> Vec<u8> {
    let mut t = alloc::vec![b'a'; len];
    let n = seq.len().min(len - pos);
    t[pos..pos + n].copy_from_slice(&seq[..n]);
    t
}

#[test]
fn the_portable_kernel_always_exists_and_best_is_supported() {
    assert_eq!(
        Kernel::new(KernelKind::Portable).map(Kernel::kind),
        Some(KernelKind::Portable)
    );
    assert_eq!(Kernel::new(Kernel::best().kind()), Some(Kernel::best()));
}

#[test]
fn every_byte_pair_at_vector_edges() {
    // Edges of 32-byte (AVX2) and 64-byte (AVX-512) vectors, and the end of the text.
    for pos in [0, 1, 30, 31, 32, 62, 63, 64, 94, 95, 126] {
        for b1 in 0..=255u8 {
            for b2 in 0..=255u8 {
                check(&embed(&[b1, b2], pos, 128), &[]);
            }
        }
    }
}

#[test]
fn three_and_four_byte_sequences_at_vector_edges() {
    for pos in [29, 30, 31, 61, 62, 63, 124] {
        for b1 in 0xC0..=0xFFu8 {
            for &b2 in &EDGES {
                for &b3 in &EDGES {
                    check(&embed(&[b1, b2, b3], pos, 128), &[]);
                    if b1 >= 0xF0 {
                        for &b4 in &EDGES {
                            check(&embed(&[b1, b2, b3, b4], pos, 128), &[]);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_byte_pair_at_the_edges_of_short_texts() {
    // The AVX-512 one-step path (at most 125 bytes, from the start) and just past it.
    for len in [2, 3, 4, 60, 61, 62, 63, 64, 65, 66, 67, 100, 125, 126] {
        let mut positions = alloc::vec![0, len / 2, len - 2, len - 1];
        if len > 64 {
            positions.extend([62, 63, 64]);
        }
        for pos in positions {
            for b1 in 0..=255u8 {
                for b2 in 0..=255u8 {
                    check(&embed(&[b1, b2], pos, len), &[]);
                }
            }
        }
    }
}

#[test]
fn three_and_four_byte_sequences_cut_off_at_the_end_of_short_texts() {
    const EDGES: [u8; 12] = [
        0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF,
    ];
    for len in [2, 3, 4, 60, 61, 62, 63, 64, 65, 66, 67, 125] {
        let mut positions: Vec<usize> = (1..=4).filter(|b| *b <= len).map(|b| len - b).collect();
        if len > 64 {
            positions.extend([61, 62, 63]);
        }
        for pos in positions {
            for b1 in 0xC0..=0xFFu8 {
                for &b2 in &EDGES {
                    for &b3 in &EDGES {
                        check(&embed(&[b1, b2, b3], pos, len), &[]);
                        for &b4 in &EDGES {
                            check(&embed(&[b1, b2, b3, b4], pos, len), &[]);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn sequences_across_piece_boundaries() {
    // Pieces of at least 64 bytes take the vector paths; the sequence straddles the cut.
    let valid = [
        "\u{e9}",
        "\u{4e16}",
        "\u{1f600}",
        "\u{10ffff}",
        "\u{800}",
        "\u{ffff}",
    ];
    let mut seqs: Vec<Vec<u8>> = valid.iter().map(|s| s.as_bytes().to_vec()).collect();
    seqs.extend([
        alloc::vec![0xE0, 0x80, 0x80],
        alloc::vec![0xED, 0xA0, 0x80],
        alloc::vec![0xF4, 0x90, 0x80, 0x80],
        alloc::vec![0xF0, 0x9F, 0x98],
        alloc::vec![0xC3],
        alloc::vec![0x80],
        alloc::vec![0xF8, 0x80, 0x80, 0x80],
    ]);
    for seq in &seqs {
        for cut in [1, 2, 3, 64, 65, 66, 67, 96, 127] {
            for back in 0..=seq.len().min(cut) {
                let pos = cut - back;
                for len in [131, 160, 200] {
                    check(&embed(seq, pos, len), &[cut]);
                    if cut + 64 <= len {
                        check(&embed(seq, pos, len), &[cut, cut + 64]);
                    }
                    check(&embed(seq, pos, len), &[cut, cut, cut + 1]);
                }
            }
        }
    }
}

#[test]
fn sequences_before_an_ascii_vector_and_continuations_after_it() {
    // A non-ASCII vector, then all-ASCII ones (which skip the full check), then more text.
    for seq in [
        &[0xE4u8, 0xB8][..],
        &[0xF0, 0x9F, 0x98],
        &[0xC3],
        &[0xE4, 0xB8, 0x96],
    ] {
        for end in [32, 64, 96, 128] {
            let mut t = embed(seq, end - seq.len(), 256);
            t[200] = 0xC3;
            t[201] = 0xA9;
            check(&t, &[]);
            check(&t, &[end]);
            // A continuation byte right after the all-ASCII run.
            let mut t = embed(&[], 0, 256);
            t[end] = 0x80;
            check(&t, &[]);
        }
    }
}

#[test]
fn long_mixed_text_and_errors_late_in_it() {
    let text: Vec<u8> = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 abc "
        .repeat(300)
        .into_bytes();
    for cuts in [
        &[][..],
        &[1000],
        &[4095, 8191],
        &[33, 97, 3000],
        &[16_383, 16_385],
    ] {
        check(&text, cuts);
        for at in [70, 1000, 16_390, text.len() - 40, text.len() - 1] {
            for bad in [0x80, 0xC0, 0xFF, 0xED] {
                let mut t = text.clone();
                t[at] = bad;
                check(&t, cuts);
            }
        }
    }
}

#[test]
fn every_length_and_key_phase_unmasks_exactly() {
    let text = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 abcdefghijklmnopqrstuvwxyz"
        .repeat(3)
        .into_bytes();
    for len in 0..=text.len().min(300) {
        let t = &text[..len];
        // Cuts at every key phase.
        for cut in [0, 1, 2, 3, len / 2, len.saturating_sub(1)] {
            let cut = cut.min(len);
            check_with_key(t, &[cut], [1, 2, 3, 4]);
        }
    }
}

proptest::proptest! {
    #[test]
    fn random_text_random_damage_random_pieces(
        chars in proptest::collection::vec(proptest::char::any(), 0..300),
        damage in proptest::collection::vec((0usize..2000, proptest::num::u8::ANY), 0..3),
        cuts in proptest::collection::vec(0usize..2000, 0..4),
        key in proptest::array::uniform4(proptest::num::u8::ANY),
    ) {
        let mut text = chars.iter().collect::<alloc::string::String>().into_bytes();
        for (at, b) in damage {
            if !text.is_empty() {
                let at = at % text.len();
                text[at] = b;
            }
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).collect();
        cuts.sort_unstable();
        check_with_key(&text, &cuts, key);
    }
}

/// Small enough for Miri (the gate runs it there, where only the portable kernel exists):
/// the safe entry points on short texts, cut everywhere, valid and not.
#[test]
fn short_texts_cut_everywhere() {
    let texts: [&[u8]; 5] = [
        "aé😀z".as_bytes(),
        b"\xe2\x82\xac\xf0\x9f\x98\x80",
        b"ab\xed\xa0\x80",
        b"\xf4\x90\x80",
        b"ok\xc3",
    ];
    for text in texts {
        for cut in 0..=text.len() {
            check(text, &[cut]);
        }
    }
    assert_eq!(
        super::assume_valid("héllo".as_bytes()),
        "héllo",
        "a Text's bytes read back as the same str"
    );
}

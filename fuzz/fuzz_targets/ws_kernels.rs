//! The unmask + UTF-8 kernels against the reference and `core::str::from_utf8`: random
//! bytes, masks, alignments, lengths and piece boundaries, through every kernel this CPU has,
//! in place and copying.
//!
//! Input: key (4 bytes), alignment (1 byte: the text starts this many bytes, mod 64, into
//! its buffer), number of cuts (1 byte, at most 8), the cuts (2 bytes each), then the text
//! (unmasked: the target masks it).
//!
//! Invariants: after every piece, each kernel's answer is the reference's (`Ok(n)`: the
//! longest valid prefix ending on a code point boundary, the rest an unfinished code point;
//! `Err`: no bytes could make it valid) and agrees with `core::str::from_utf8` on the text so
//! far; the bytes are unmasked exactly, in place even when the answer is `Err`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ws_proto::unmask_utf8::{reference, Kernel, KernelKind};

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let key = [data[0], data[1], data[2], data[3]];
    let align = usize::from(data[4] % 64);
    let ncuts = usize::from(data[5] % 9);
    let rest = &data[6..];
    if rest.len() < ncuts * 2 {
        return;
    }
    let (cut_bytes, text) = rest.split_at(ncuts * 2);
    let mut ends: Vec<usize> = cut_bytes
        .chunks(2)
        .map(|c| usize::from(u16::from_be_bytes([c[0], c[1]])) % (text.len() + 1))
        .collect();
    ends.sort_unstable();
    ends.push(text.len());
    let masked: Vec<u8> = text
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();

    // The reference, from scratch at every end, checked against core::str::from_utf8.
    let want: Vec<_> = ends
        .iter()
        .map(|&to| {
            let w = reference::judge(&text[..to]);
            match (&w, core::str::from_utf8(&text[..to])) {
                (Ok(n), Ok(_)) => assert_eq!(*n, to),
                (Ok(n), Err(e)) => {
                    assert!(e.error_len().is_none());
                    assert_eq!(*n, e.valid_up_to());
                }
                (Err(_), Err(e)) => assert!(e.error_len().is_some()),
                (Err(_), Ok(_)) => panic!("reference rejects valid text"),
            }
            w
        })
        .collect();
    let mut by_reference = masked.clone();
    assert_eq!(
        reference::unmask_text(&mut by_reference, 0, key),
        *want.last().unwrap()
    );
    assert_eq!(by_reference, text);

    for kind in KernelKind::ALL {
        let Some(k) = Kernel::new(kind) else {
            continue;
        };
        // In place, at an alignment the input chooses.
        let mut storage = vec![0u8; align + masked.len()];
        storage[align..].copy_from_slice(&masked);
        let buf = &mut storage[align..];
        let (mut from, mut valid) = (0, 0);
        for (i, &to) in ends.iter().enumerate() {
            let got = k.unmask_text(&mut buf[..to], from, valid, key);
            assert_eq!(got, want[i], "{kind:?} in place up to {to}");
            assert_eq!(&buf[..to], &text[..to], "{kind:?} unmasking in place");
            let Ok(n) = got else { break };
            (from, valid) = (to, n);
        }
        // Copying, behind `align` bytes of ASCII already held.
        let mut dst = BytesMut::from(&b"a".repeat(align)[..]);
        let mut dst_text = b"a".repeat(align);
        let (mut from, mut valid) = (0, align);
        for (i, &to) in ends.iter().enumerate() {
            let got = k.extend_text(&mut dst, valid, &masked[from..to], key, from);
            dst_text.truncate(align);
            dst_text.extend_from_slice(&text[..to]);
            let expected = reference::judge(&dst_text);
            assert_eq!(got, expected, "{kind:?} copying up to {to}");
            assert_eq!(got.is_ok(), want[i].is_ok());
            let Ok(n) = got else { break };
            assert_eq!(&dst[..], &dst_text[..], "{kind:?} unmasking while copying");
            (from, valid) = (to, n);
        }
    }
});

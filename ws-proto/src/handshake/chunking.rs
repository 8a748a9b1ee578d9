//! Test support: feed one input to a fresh decoder whole, one byte at a time, and split at
//! every position, and check every way gives the same result.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt::Debug;

/// Feeds `input` in the given chunks; returns the first `Some`/`Err` and where it came.
fn feed_chunks<D, T, E>(
    dec: &mut D,
    chunks: &[&[u8]],
    feed: &impl Fn(&mut D, &[u8]) -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    for c in chunks {
        if let Some(t) = feed(dec, c)? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Runs `input` whole, byte by byte and split at every position through fresh decoders made
/// by `new`, asserts that all results agree, and returns it. Use inputs that end exactly at
/// the end of the head (leftover depends on chunking and is tested separately).
pub(crate) fn all_ways<D, T: PartialEq + Debug, E: PartialEq + Debug>(
    input: &[u8],
    new: impl Fn() -> D,
    feed: impl Fn(&mut D, &[u8]) -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    let whole = feed_chunks(&mut new(), &[input], &feed);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let one = feed_chunks(&mut new(), &bytes, &feed);
    assert_eq!(
        one,
        whole,
        "byte-by-byte differs for {:?}",
        input.escape_ascii().to_string()
    );
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        let got = feed_chunks(&mut new(), &[a, b], &feed);
        assert_eq!(
            got,
            whole,
            "split at {split} differs for {:?}",
            input.escape_ascii().to_string()
        );
    }
    whole
}

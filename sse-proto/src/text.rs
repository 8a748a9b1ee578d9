//! [`Text`]: the strings of a dispatched event, shared by reference count.
//!
//! Invariant: a `Text`'s bytes are valid UTF-8. Every constructor either validates them or
//! takes a `&str`/`String`, so [`Text::as_str`] never checks again.

use alloc::string::String;
use core::{borrow::Borrow, fmt, hash, ops::Deref};

use bytes::Bytes;

/// An immutable UTF-8 string held in [`Bytes`]: cloning it copies no text, and the parser can
/// hand out a slice of the caller's input or of its own buffer without copying it again.
///
/// Compares, hashes and prints as the `str` it holds.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text(Bytes);

impl Text {
    /// The empty text.
    pub const fn new() -> Text {
        Text(Bytes::new())
    }

    /// A text that refers to a static string (no allocation, no reference count).
    pub const fn from_static(s: &'static str) -> Text {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// The bytes as a text if they are valid UTF-8 (no copy), otherwise the error.
    pub fn from_utf8(bytes: Bytes) -> Result<Text, core::str::Utf8Error> {
        match is_utf8(&bytes) {
            true => Ok(Text(bytes)),
            // The fast validator says only "invalid"; the standard one says where.
            false => core::str::from_utf8(&bytes).map(|_| Text(bytes.clone())),
        }
    }

    /// The bytes decoded as the WHATWG "UTF-8 decode" does: valid input is kept as it is (no
    /// copy), each invalid sequence becomes U+FFFD (a new allocation).
    pub fn from_utf8_lossy(bytes: Bytes) -> Text {
        if is_utf8(&bytes) {
            Text(bytes)
        } else {
            Text::from(String::from_utf8_lossy(&bytes).into_owned())
        }
    }

    /// A text from bytes the parser knows to be valid UTF-8 (found ASCII by its line search,
    /// or validated as they streamed in; checked in debug builds): no second pass over them.
    #[inline]
    pub(crate) fn from_known_utf8(bytes: Bytes) -> Text {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Text(bytes)
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        str_of_validated(&self.0)
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The text's bytes, owned.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// Whether `bytes` are valid UTF-8: the SIMD validator, except for short texts, where an
/// ASCII check (and the standard validator if that fails) costs less than its call.
#[inline]
pub(crate) fn is_utf8(bytes: &[u8]) -> bool {
    if bytes.len() < 128 {
        is_ascii(bytes) || core::str::from_utf8(bytes).is_ok()
    } else {
        simdutf8::basic::from_utf8(bytes).is_ok()
    }
}

/// Whether every byte is ASCII: the bytes OR-ed together a word at a time (the compiler
/// turns the fold into vector ORs), one test at the end.
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    let words = bytes.chunks_exact(8);
    let tail = words.remainder().iter().fold(0u8, |acc, &b| acc | b);
    let all = words.fold(0u64, |acc, w| {
        acc | u64::from_le_bytes(w.try_into().unwrap_or([0xFF; 8]))
    });
    (all & u64::from_le_bytes([0x80; 8])) == 0 && tail < 0x80
}

/// Bytes the caller checked to be valid UTF-8 (with [`is_utf8`], or known valid by the parser:
/// line search or streamed validation; checked again in debug builds), as a `str`.
#[inline]
pub(crate) fn str_of_checked(bytes: &[u8]) -> &str {
    str_of_validated(bytes)
}

/// Reinterprets a `Text`'s bytes without validating them again.
///
/// Every `Text` is built from a `&str`, a `String` or bytes that `from_utf8`/`from_utf8_lossy`
/// validated, and a `Text` is immutable, so its bytes are valid UTF-8; they are not
/// validated again on each access.
#[allow(unsafe_code)]
#[inline]
fn str_of_validated(bytes: &[u8]) -> &str {
    debug_assert!(core::str::from_utf8(bytes).is_ok());
    // SAFETY: see above: a `Text`'s bytes are always valid UTF-8.
    unsafe { core::str::from_utf8_unchecked(bytes) }
}

impl Deref for Text {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl hash::Hash for Text {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Bytes::from(s))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        String::from(t.as_str())
    }
}

impl From<Text> for Bytes {
    fn from(t: Text) -> Bytes {
        t.0
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constructor_holds_valid_utf8() {
        let cases: &[(&[u8], Option<&str>, &str)] = &[
            (b"", Some(""), ""),
            (b"plain", Some("plain"), "plain"),
            (
                "caf\u{e9} \u{1F600}".as_bytes(),
                Some("caf\u{e9} \u{1F600}"),
                "caf\u{e9} \u{1F600}",
            ),
            (b"a\xFFb", None, "a\u{FFFD}b"),
            (b"\xE2\x82", None, "\u{FFFD}"),
            (b"\xED\xA0\x80", None, "\u{FFFD}\u{FFFD}\u{FFFD}"),
        ];
        for (bytes, strict, lossy) in cases {
            let b = Bytes::copy_from_slice(bytes);
            let t = Text::from_utf8(b.clone()).ok();
            assert_eq!(t.as_ref().map(Text::as_str), *strict, "{bytes:?}");
            if let Some(t) = t {
                assert_eq!(t.as_bytes(), &b, "kept without a copy");
            }
            assert_eq!(Text::from_utf8_lossy(b).as_str(), *lossy, "{bytes:?}");
        }
        // Invalid after a long valid stretch (the SIMD validator's block size).
        let mut long = alloc::vec![b'a'; 200];
        long.push(0xC0);
        assert_eq!(
            Text::from_utf8(Bytes::from(long.clone()))
                .unwrap_err()
                .valid_up_to(),
            200
        );
        assert!(Text::from_utf8_lossy(Bytes::from(long)).ends_with('\u{FFFD}'));
        assert_eq!(Text::from_static("message"), "message");
        assert_eq!(Text::from(String::from("x")), *"x");
        assert_eq!(Text::new(), "");
    }

    #[test]
    fn ascii_check_at_every_length_and_position() {
        for len in 0..40 {
            let mut bytes = alloc::vec![b'a'; len];
            assert!(is_ascii(&bytes));
            for at in 0..len {
                bytes[at] = 0x80;
                assert!(!is_ascii(&bytes), "len {len} at {at}");
                bytes[at] = b'a';
            }
        }
    }

    #[test]
    fn compares_and_prints_as_str() {
        let t = Text::from("a\"b");
        assert_eq!(alloc::format!("{t} {t:?}"), "a\"b \"a\\\"b\"");
        let s = String::from("a\"b");
        assert_eq!(t, *"a\"b");
        assert_eq!(t, "a\"b");
        assert_eq!("a\"b", t);
        assert_eq!(s, t);
        assert_eq!(t, s);
        assert_eq!(String::from(t.clone()), "a\"b");
        assert_eq!(t.len(), 3);
    }
}

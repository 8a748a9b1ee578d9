//! [`Input`]: a piece of the stream handed to the parser, borrowed or shared.
//!
//! Invariant: `Input` is a cursor over bytes nobody else can change; advancing it never
//! copies them.

use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};

/// Bytes of the stream for [`Parser::handle_input`](crate::Parser::handle_input) and
/// [`Parser::next_item`](crate::Parser::next_item): borrowed (`&[u8]`, `&Vec<u8>`, `&str`)
/// or shared (`Bytes`, `&Bytes`, `BytesMut`).
///
/// Both are parsed the same way. From shared input, an event whose data is one `data:` line
/// lying whole in that input gets a slice of it as its data (no copy); from borrowed input
/// the data is copied out.
#[derive(Debug, Clone)]
pub struct Input<'a>(Repr<'a>);

#[derive(Debug, Clone)]
enum Repr<'a> {
    Borrowed(&'a [u8]),
    Shared(Bytes),
}

impl<'a> Input<'a> {
    /// Bytes not consumed yet.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes not consumed yet.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Borrowed(b) => b,
            Repr::Shared(b) => b,
        }
    }

    /// The bytes not consumed yet and, for shared input, what owns them.
    #[inline]
    pub(crate) fn parts(&self) -> (&[u8], Option<&Bytes>) {
        match &self.0 {
            Repr::Borrowed(b) => (b, None),
            Repr::Shared(b) => (b, Some(b)),
        }
    }

    /// Consumes `n` bytes (at most [`len`](Self::len)).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        match &mut self.0 {
            Repr::Borrowed(b) => *b = &b[n..],
            Repr::Shared(b) => b.advance(n),
        }
    }
}

impl<'a> From<&'a [u8]> for Input<'a> {
    fn from(b: &'a [u8]) -> Self {
        Input(Repr::Borrowed(b))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Input<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        Input(Repr::Borrowed(b))
    }
}

impl<'a> From<&'a Vec<u8>> for Input<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Input(Repr::Borrowed(b))
    }
}

impl<'a> From<&'a str> for Input<'a> {
    fn from(s: &'a str) -> Self {
        Input(Repr::Borrowed(s.as_bytes()))
    }
}

impl From<Bytes> for Input<'_> {
    fn from(b: Bytes) -> Self {
        Input(Repr::Shared(b))
    }
}

impl From<&Bytes> for Input<'_> {
    fn from(b: &Bytes) -> Self {
        Input(Repr::Shared(b.clone()))
    }
}

impl From<BytesMut> for Input<'_> {
    fn from(b: BytesMut) -> Self {
        Input(Repr::Shared(b.freeze()))
    }
}

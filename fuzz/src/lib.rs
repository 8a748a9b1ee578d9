//! Helpers shared by the fuzz targets: reading a small "plan" (limits, split points) from
//! the front of the input, and splitting the rest into chunks.
//!
//! Input layout used by the byte-stream targets (`ws_*_handshake`, `ws_server_connection`,
//! `sse_parse_chunking`): `[plan bytes...][n: u8][n × u16 cut positions][payload...]`; missing
//! bytes read as zero, so every input is valid. Seed files are written in this layout by
//! `gen-corpus.py`.

/// Reads plan bytes from the front of the input; past the end it yields zeros.
pub struct Plan<'a> {
    data: &'a [u8],
}

impl<'a> Plan<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Plan { data }
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next big-endian u16 (0 past the end).
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// Reads `[n: u8][n × u16]` cut positions (at most 15 cuts) and returns the rest of the
    /// input split at those positions (sorted, taken modulo the payload length + 1). Empty
    /// chunks are kept: feeding an empty chunk must be harmless too.
    pub fn chunks(mut self) -> (Vec<&'a [u8]>, &'a [u8]) {
        let n = usize::from(self.u8() % 16);
        let raw: Vec<u16> = (0..n).map(|_| self.u16()).collect();
        let payload = self.data;
        let mut cuts: Vec<usize> = raw
            .into_iter()
            .map(|c| usize::from(c) % (payload.len() + 1))
            .collect();
        cuts.sort_unstable();
        let mut chunks = Vec::with_capacity(cuts.len() + 1);
        let mut at = 0;
        for c in cuts {
            chunks.push(&payload[at..c]);
            at = c;
        }
        chunks.push(&payload[at..]);
        (chunks, payload)
    }

    /// The bytes not read yet.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_payload() {
        let data = [2u8, 0, 3, 0, 1, b'a', b'b', b'c', b'd'];
        let (chunks, payload) = Plan::new(&data).chunks();
        assert_eq!(payload, b"abcd");
        assert_eq!(chunks, [&b"a"[..], b"bc", b"d"]);
        let (chunks, payload) = Plan::new(&[]).chunks();
        assert!(payload.is_empty());
        assert_eq!(chunks, [&b""[..]]);
    }
}

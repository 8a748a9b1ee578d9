//! Raw WebSocket frames (RFC 6455 section 5.2), written and read at the byte level.
//!
//! The writer encodes exactly what it is told, including things a real endpoint must never
//! send (reserved opcodes, RSV bits, fragmented or oversized control frames), because the
//! conformance cases are made of such frames. The reader is strict: it reports every way in
//! which the implementation under test breaks the framing rules when *it* sends.

/// Opcode of a continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const OP_PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const OP_PONG: u8 = 0xA;

/// Largest payload the reader accepts from the implementation under test (no case needs
/// more than 16 MiB; this bounds the suite's memory whatever the peer declares).
pub const MAX_INCOMING_PAYLOAD: u64 = 64 << 20;

/// One frame, as the suite will put it on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// FIN bit.
    pub fin: bool,
    /// The three RSV bits, as a number 0-7 (RSV1 is 4).
    pub rsv: u8,
    /// The 4-bit opcode, reserved values included.
    pub opcode: u8,
    /// Unmasked payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// A frame with FIN set, no RSV bits.
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> Self {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            payload: payload.into(),
        }
    }
    /// A final text frame.
    pub fn text(payload: impl Into<Vec<u8>>) -> Self {
        Frame::new(OP_TEXT, payload)
    }
    /// A final binary frame.
    pub fn binary(payload: impl Into<Vec<u8>>) -> Self {
        Frame::new(OP_BINARY, payload)
    }
    /// A ping frame.
    pub fn ping(payload: impl Into<Vec<u8>>) -> Self {
        Frame::new(OP_PING, payload)
    }
    /// A pong frame.
    pub fn pong(payload: impl Into<Vec<u8>>) -> Self {
        Frame::new(OP_PONG, payload)
    }
    /// A final continuation frame.
    pub fn continuation(payload: impl Into<Vec<u8>>) -> Self {
        Frame::new(OP_CONTINUATION, payload)
    }
    /// A close frame with a status code and reason.
    pub fn close(code: u16, reason: &[u8]) -> Self {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason);
        Frame::new(OP_CLOSE, p)
    }
    /// A close frame with an empty payload.
    pub fn close_empty() -> Self {
        Frame::new(OP_CLOSE, Vec::new())
    }
    /// The same frame with the FIN bit set to `fin`.
    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }
    /// The same frame with RSV bits `rsv` (0-7).
    pub fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv & 7;
        self
    }
    /// Whether this is a well-formed close frame, i.e. one that starts our closing handshake.
    pub fn is_close(&self) -> bool {
        self.opcode == OP_CLOSE && self.fin && self.rsv == 0
    }
    /// Length of the encoded header (minimal length encoding) with or without a mask.
    pub fn header_len(&self, masked: bool) -> usize {
        let n = self.payload.len();
        let len_bytes = if n < 126 {
            0
        } else if n <= 0xFFFF {
            2
        } else {
            8
        };
        2 + len_bytes + if masked { 4 } else { 0 }
    }
    /// Appends the encoded frame to `out`, masked with `mask` when given (a client must mask,
    /// a server must not). The payload length uses the minimal encoding.
    pub fn encode(&self, mask: Option<[u8; 4]>, out: &mut Vec<u8>) {
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 0x0F);
        out.push(b0);
        let mbit = if mask.is_some() { 0x80 } else { 0 };
        let n = self.payload.len();
        if n < 126 {
            out.push(mbit | n as u8);
        } else if n <= 0xFFFF {
            out.push(mbit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(mbit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        match mask {
            Some(key) => {
                out.extend_from_slice(&key);
                let start = out.len();
                out.extend_from_slice(&self.payload);
                apply_mask(&mut out[start..], key);
            }
            None => out.extend_from_slice(&self.payload),
        }
    }
    /// The encoded frame as a new vector.
    pub fn to_bytes(&self, mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.header_len(mask.is_some()) + self.payload.len());
        self.encode(mask, &mut v);
        v
    }
}

/// XORs `data` with the 4-byte masking key (RFC 6455 section 5.3).
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i];
    }
}

/// A frame header as received from the implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// FIN bit.
    pub fin: bool,
    /// RSV bits (0-7).
    pub rsv: u8,
    /// Opcode.
    pub opcode: u8,
    /// Masking key, if the MASK bit was set.
    pub mask: Option<[u8; 4]>,
    /// Declared payload length.
    pub len: u64,
    /// Header length on the wire.
    pub header_len: usize,
}

/// Why a frame sent by the implementation under test breaks RFC 6455.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameViolation {
    /// RSV bits set although no extension was negotiated (or RSV1 on a frame other than the
    /// first of a data message with permessage-deflate).
    ReservedBits(u8),
    /// Opcode 3-7 or 11-15.
    ReservedOpcode(u8),
    /// Control frame with FIN clear.
    FragmentedControl(u8),
    /// Control frame with a payload over 125 bytes.
    ControlTooLong(u64),
    /// A server frame was masked, or a client frame was not.
    Masking {
        /// Whether the frame was masked.
        masked: bool,
    },
    /// The length was not encoded in the minimal number of bytes.
    NonMinimalLength(u64),
    /// The most significant bit of a 64-bit length was set.
    LengthMsb,
    /// The payload is larger than the suite accepts.
    TooLarge(u64),
}

impl core::fmt::Display for FrameViolation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameViolation::ReservedBits(r) => write!(f, "frame with RSV bits {r:#05b} set"),
            FrameViolation::ReservedOpcode(o) => write!(f, "frame with reserved opcode {o:#x}"),
            FrameViolation::FragmentedControl(o) => {
                write!(f, "fragmented control frame (opcode {o:#x})")
            }
            FrameViolation::ControlTooLong(n) => write!(f, "control frame with {n}-byte payload"),
            FrameViolation::Masking { masked: true } => write!(f, "server sent a masked frame"),
            FrameViolation::Masking { masked: false } => {
                write!(f, "client sent an unmasked frame")
            }
            FrameViolation::NonMinimalLength(n) => {
                write!(f, "length {n} not in minimal encoding")
            }
            FrameViolation::LengthMsb => write!(f, "64-bit length with the top bit set"),
            FrameViolation::TooLarge(n) => write!(f, "frame payload of {n} bytes is too large"),
        }
    }
}

/// Parses a frame header at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed. `expect_masked` is true when the peer is a
/// client (its frames must be masked).
pub fn parse_header(buf: &[u8], expect_masked: bool) -> Result<Option<Header>, FrameViolation> {
    parse_header_ext(buf, expect_masked, false)
}

/// Like [`parse_header`]; with `rsv1_allowed` (permessage-deflate negotiated) RSV1 may be set
/// on the first frame of a data message (the caller checks that it is the first).
pub fn parse_header_ext(
    buf: &[u8],
    expect_masked: bool,
    rsv1_allowed: bool,
) -> Result<Option<Header>, FrameViolation> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    let rsv = (buf[0] >> 4) & 7;
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let len7 = u64::from(buf[1] & 0x7F);
    let (len, mut pos) = match len7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            let n = u64::from(u16::from_be_bytes([buf[2], buf[3]]));
            if n < 126 {
                return Err(FrameViolation::NonMinimalLength(n));
            }
            (n, 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let n = u64::from_be_bytes(b);
            if n >> 63 != 0 {
                return Err(FrameViolation::LengthMsb);
            }
            if n <= 0xFFFF {
                return Err(FrameViolation::NonMinimalLength(n));
            }
            (n, 10)
        }
        n => (n, 2),
    };
    let rsv1_ok = rsv1_allowed && rsv == 4 && matches!(opcode, OP_TEXT | OP_BINARY);
    if rsv != 0 && !rsv1_ok {
        return Err(FrameViolation::ReservedBits(rsv));
    }
    if matches!(opcode, 3..=7 | 11..=15) {
        return Err(FrameViolation::ReservedOpcode(opcode));
    }
    if opcode >= 8 {
        if !fin {
            return Err(FrameViolation::FragmentedControl(opcode));
        }
        if len > 125 {
            return Err(FrameViolation::ControlTooLong(len));
        }
    }
    if masked != expect_masked {
        return Err(FrameViolation::Masking { masked });
    }
    if len > MAX_INCOMING_PAYLOAD {
        return Err(FrameViolation::TooLarge(len));
    }
    let mask = if masked {
        if buf.len() < pos + 4 {
            return Ok(None);
        }
        let k = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(k)
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        rsv,
        opcode,
        mask,
        len,
        header_len: pos,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_length_forms_masked_and_not() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 100_000] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let f = Frame::binary(vec![0xAB; len]);
                let bytes = f.to_bytes(mask);
                assert_eq!(bytes.len(), f.header_len(mask.is_some()) + len);
                // Every prefix shorter than the header is "need more".
                for cut in 0..f.header_len(mask.is_some()) {
                    assert_eq!(parse_header(&bytes[..cut], mask.is_some()), Ok(None));
                }
                let h = parse_header(&bytes, mask.is_some()).unwrap().unwrap();
                assert_eq!(h.len as usize, len);
                assert_eq!(h.mask, mask);
                let mut p = bytes[h.header_len..].to_vec();
                if let Some(k) = h.mask {
                    apply_mask(&mut p, k);
                }
                assert_eq!(p, f.payload);
            }
        }
    }

    #[test]
    fn reader_rejects_what_a_peer_must_not_send() {
        let table: &[(&[u8], bool, FrameViolation)] = &[
            (&[0x91, 0x00], false, FrameViolation::ReservedBits(1)),
            (&[0x83, 0x00], false, FrameViolation::ReservedOpcode(3)),
            (&[0x8B, 0x00], false, FrameViolation::ReservedOpcode(11)),
            (&[0x09, 0x00], false, FrameViolation::FragmentedControl(9)),
            (
                &[0x89, 126, 0, 126],
                false,
                FrameViolation::ControlTooLong(126),
            ),
            (
                &[0x82, 126, 0, 5],
                false,
                FrameViolation::NonMinimalLength(5),
            ),
            (
                &[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
                false,
                FrameViolation::NonMinimalLength(65535),
            ),
            (
                &[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
                false,
                FrameViolation::LengthMsb,
            ),
            (
                &[0x82, 0x80, 1, 2, 3, 4],
                false,
                FrameViolation::Masking { masked: true },
            ),
            (
                &[0x82, 0x00],
                true,
                FrameViolation::Masking { masked: false },
            ),
        ];
        for (bytes, expect_masked, want) in table {
            assert_eq!(
                parse_header(bytes, *expect_masked),
                Err(want.clone()),
                "{bytes:x?}"
            );
        }
    }

    #[test]
    fn writer_emits_deliberately_bad_frames_verbatim() {
        let f = Frame::new(0xB, b"x".to_vec()).rsv(5).fin(false);
        assert_eq!(f.to_bytes(None), vec![0x5B, 0x01, b'x']);
        let c = Frame::close(1000, b"ok");
        assert_eq!(c.to_bytes(None), vec![0x88, 4, 0x03, 0xE8, b'o', b'k']);
        assert!(c.is_close());
        assert!(!Frame::close_empty().rsv(7).is_close());
    }

    #[test]
    fn rsv1_only_on_data_frames_when_negotiated() {
        assert_eq!(
            parse_header_ext(&[0xC1, 0x00], false, false),
            Err(FrameViolation::ReservedBits(4))
        );
        assert!(parse_header_ext(&[0xC1, 0x00], false, true)
            .unwrap()
            .is_some());
        assert!(parse_header_ext(&[0xC2, 0x00], false, true)
            .unwrap()
            .is_some());
        for bad in [[0xC9u8, 0x00], [0x40, 0x00], [0xE1, 0x00], [0xD1, 0x00]] {
            assert!(parse_header_ext(&bad, false, true).is_err(), "{bad:x?}");
        }
    }

    #[test]
    fn mask_is_an_involution_at_every_alignment() {
        for len in 0..13 {
            let orig: Vec<u8> = (0..len as u8).collect();
            let mut d = orig.clone();
            apply_mask(&mut d, [9, 8, 7, 6]);
            for (i, b) in d.iter().enumerate() {
                assert_eq!(*b, orig[i] ^ [9, 8, 7, 6][i % 4]);
            }
            apply_mask(&mut d, [9, 8, 7, 6]);
            assert_eq!(d, orig);
        }
    }
}

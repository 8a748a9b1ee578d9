//! The wire layer: WebSocket frame headers (RFC 6455 section 5.2).
//!
//! Decoding borrows the input, allocates nothing and keeps no state: it returns
//! [`Status::Partial`] until the whole header is there. It enforces every rule that can be
//! judged from the header alone: reserved opcodes, minimal length encodings, the 64-bit length's
//! top bit, and the control frame rules (FIN set, payload at most 125 bytes). Rules that depend
//! on the session (RSV bits negotiated by an extension, masking by role, fragmentation order,
//! size limits) are checked by the connection.

use core::fmt;

/// Progress of a decoder that may need more input. Running out of input is not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// Decoded; the value and the number of bytes it used.
    Complete(T),
    /// More bytes are needed.
    Partial,
}

/// A frame opcode (RFC 6455 section 5.2). Reserved opcodes never decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `0x0`: a continuation of a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: connection close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl Opcode {
    /// The opcode for a 4-bit value, or `None` for a reserved one (3-7, 0xB-0xF).
    pub const fn from_u8(v: u8) -> Option<Opcode> {
        Some(match v {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong are control frames.
    pub const fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// RSV1, the bit permessage-deflate uses to mark a compressed message.
pub const RSV1: u8 = 0b100;
/// RSV2.
pub const RSV2: u8 = 0b010;
/// RSV3.
pub const RSV3: u8 = 0b001;

/// The largest payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// The longest possible frame header: 2 + 8 (64-bit length) + 4 (mask key).
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of a message.
    pub fin: bool,
    /// The three RSV bits, RSV1 as `0b100`, RSV2 as `0b010`, RSV3 as `0b001`.
    pub rsv: u8,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

/// A frame header that breaks a rule of RFC 6455 section 5.2. Each closes with 1002.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The opcode is reserved (3-7 or 0xB-0xF).
    ReservedOpcode(u8),
    /// The length was encoded in more bytes than needed (16-bit under 126, 64-bit under 65536).
    NonMinimalLength,
    /// The most significant bit of a 64-bit length is set.
    LengthTopBitSet,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A control frame whose payload is over 125 bytes. It holds the 7-bit length field
    /// (126 or 127: an extended length, which a control frame may not have), so the error is
    /// the same however the header is split.
    ControlFrameTooLong(u64),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FrameError::NonMinimalLength => f.write_str("payload length not minimally encoded"),
            FrameError::LengthTopBitSet => f.write_str("64-bit payload length has its top bit set"),
            FrameError::FragmentedControlFrame => f.write_str("fragmented control frame"),
            FrameError::ControlFrameTooLong(n) => {
                write!(
                    f,
                    "control frame payload of {n} bytes (at most 125 allowed)"
                )
            }
        }
    }
}

impl core::error::Error for FrameError {}

/// A buffer too small for what must be written into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsufficientSize {
    /// How many bytes the buffer must hold.
    pub required: usize,
}

impl fmt::Display for InsufficientSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buffer too small: {} bytes required", self.required)
    }
}

impl core::error::Error for InsufficientSize {}

impl FrameHeader {
    /// Decode a header from the start of `buf`.
    ///
    /// Returns the header and its length in bytes, or [`Status::Partial`] if `buf` ends before
    /// the header does.
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        let [b0, b1, ref rest @ ..] = *buf else {
            return Ok(Status::Partial);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x07;
        let op = b0 & 0x0F;
        let opcode = Opcode::from_u8(op).ok_or(FrameError::ReservedOpcode(op))?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        // Control-frame rules are judged from the first two bytes, before any extended length
        // (a control frame may not have one), so the error is the same however the input is
        // split and comes as early as possible.
        if opcode.is_control() {
            check_control(fin, u64::from(len7))?;
        }
        let (payload_len, rest) = match len7 {
            126 => {
                let [l0, l1, ref rest @ ..] = *rest else {
                    return Ok(Status::Partial);
                };
                let n = u64::from(u16::from_be_bytes([l0, l1]));
                if n < 126 {
                    return Err(FrameError::NonMinimalLength);
                }
                (n, rest)
            }
            127 => {
                let Some((len, rest)) = rest.split_first_chunk::<8>() else {
                    return Ok(Status::Partial);
                };
                let n = u64::from_be_bytes(*len);
                if n >> 63 != 0 {
                    return Err(FrameError::LengthTopBitSet);
                }
                if n < 65536 {
                    return Err(FrameError::NonMinimalLength);
                }
                (n, rest)
            }
            n => (u64::from(n), rest),
        };
        let mask = if masked {
            let Some(key) = rest.first_chunk::<4>() else {
                return Ok(Status::Partial);
            };
            Some(*key)
        } else {
            None
        };
        let header_len = buf.len() - rest.len() + if masked { 4 } else { 0 };
        Ok(Status::Complete((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// The number of bytes [`FrameHeader::encode`] writes.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        let ext = match self.payload_len {
            0..=125 => 0,
            126..=65535 => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encode into the start of `out`, with the minimal length encoding; returns the length.
    #[inline]
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, InsufficientSize> {
        let required = self.encoded_len();
        if out.len() < required {
            return Err(InsufficientSize { required });
        }
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut i = 2;
        match self.payload_len {
            n @ 0..=125 => out[1] = mask_bit | n as u8,
            n @ 126..=65535 => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                i = 4;
            }
            n => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&n.to_be_bytes());
                i = 10;
            }
        }
        if let Some(key) = self.mask {
            out[i..i + 4].copy_from_slice(&key);
        }
        Ok(required)
    }

    /// Append the encoded header to `out` (the connection's send path: each length form is
    /// written with a copy of known size).
    #[inline]
    pub(crate) fn write_to(&self, out: &mut bytes::BytesMut) {
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        match self.payload_len {
            n @ 0..=125 => out.extend_from_slice(&[b0, mask_bit | n as u8]),
            n @ 126..=65535 => {
                let l = (n as u16).to_be_bytes();
                out.extend_from_slice(&[b0, mask_bit | 126, l[0], l[1]]);
            }
            n => {
                let l = n.to_be_bytes();
                out.extend_from_slice(&[
                    b0,
                    mask_bit | 127,
                    l[0],
                    l[1],
                    l[2],
                    l[3],
                    l[4],
                    l[5],
                    l[6],
                    l[7],
                ]);
            }
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
    }

    /// Append the encoded header to `out`.
    #[inline]
    pub fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        // MAX_HEADER_LEN always suffices.
        let n = self.encode(&mut buf).unwrap_or(0);
        out.extend_from_slice(&buf[..n]);
    }
}

/// `len7` is the 7-bit length field: 126 and 127 announce an extended length, which a control
/// frame may never have.
#[inline]
fn check_control(fin: bool, len7: u64) -> Result<(), FrameError> {
    if !fin {
        return Err(FrameError::FragmentedControlFrame);
    }
    if len7 > MAX_CONTROL_PAYLOAD as u64 {
        return Err(FrameError::ControlFrameTooLong(len7));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Decode `bytes` whole, one byte at a time, and split at every position; all must agree.
    fn decode_all_ways(bytes: &[u8]) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        let whole = FrameHeader::decode(bytes);
        // A decoder that is given a prefix must say Partial or fail with the same error.
        for cut in 0..bytes.len() {
            match FrameHeader::decode(&bytes[..cut]) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(c)) => {
                    assert_eq!(Ok(Status::Complete(c)), whole, "prefix {cut}")
                }
                Err(e) => assert_eq!(Err(e), whole, "prefix {cut}"),
            }
        }
        // Feeding one byte at a time into an accumulating buffer gives the same result.
        let mut acc = Vec::new();
        let mut result = Ok(Status::Partial);
        for b in bytes {
            acc.push(*b);
            result = FrameHeader::decode(&acc);
            if !matches!(result, Ok(Status::Partial)) {
                break;
            }
        }
        assert_eq!(result, whole, "one byte at a time");
        whole
    }

    fn hdr(fin: bool, rsv: u8, opcode: Opcode, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: len,
        }
    }

    #[test]
    fn decode_table() {
        use FrameError::*;
        let k = Some([1, 2, 3, 4]);
        type Case = (
            &'static str,
            Vec<u8>,
            Result<Option<FrameHeader>, FrameError>,
        );
        let cases: Vec<Case> = vec![
            ("empty", vec![], Ok(None)),
            ("one byte", vec![0x81], Ok(None)),
            (
                "text 5 unmasked",
                vec![0x81, 0x05],
                Ok(Some(hdr(true, 0, Opcode::Text, None, 5))),
            ),
            (
                "binary masked",
                vec![0x82, 0x85, 1, 2, 3, 4],
                Ok(Some(hdr(true, 0, Opcode::Binary, k, 5))),
            ),
            ("masked key partial", vec![0x82, 0x85, 1, 2, 3], Ok(None)),
            (
                "continuation no fin",
                vec![0x00, 0x00],
                Ok(Some(hdr(false, 0, Opcode::Continuation, None, 0))),
            ),
            (
                "rsv bits kept",
                vec![0xF1, 0x00],
                Ok(Some(hdr(true, 7, Opcode::Text, None, 0))),
            ),
            (
                "16-bit length",
                vec![0x82, 126, 0x01, 0x00],
                Ok(Some(hdr(true, 0, Opcode::Binary, None, 256))),
            ),
            (
                "16-bit 126 minimal",
                vec![0x82, 126, 0x00, 126],
                Ok(Some(hdr(true, 0, Opcode::Binary, None, 126))),
            ),
            (
                "16-bit non-minimal",
                vec![0x82, 126, 0x00, 125],
                Err(NonMinimalLength),
            ),
            (
                "64-bit length",
                vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0],
                Ok(Some(hdr(true, 0, Opcode::Binary, None, 65536))),
            ),
            (
                "64-bit non-minimal",
                vec![0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
                Err(NonMinimalLength),
            ),
            (
                "64-bit top bit",
                vec![0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
                Err(LengthTopBitSet),
            ),
            (
                "64-bit max",
                vec![0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                Ok(Some(hdr(true, 0, Opcode::Binary, None, u64::MAX >> 1))),
            ),
            ("reserved 3", vec![0x83, 0x00], Err(ReservedOpcode(3))),
            ("reserved 7", vec![0x87, 0x00], Err(ReservedOpcode(7))),
            ("reserved B", vec![0x8B, 0x00], Err(ReservedOpcode(0xB))),
            ("reserved F", vec![0x8F, 0x00], Err(ReservedOpcode(0xF))),
            (
                "ping 125",
                vec![0x89, 125],
                Ok(Some(hdr(true, 0, Opcode::Ping, None, 125))),
            ),
            (
                "ping 126",
                vec![0x89, 126, 0, 126],
                Err(ControlFrameTooLong(126)),
            ),
            (
                "ping 16-bit partial fails early",
                vec![0x89, 126],
                Err(ControlFrameTooLong(126)),
            ),
            (
                "fragmented ping",
                vec![0x09, 0x00],
                Err(FragmentedControlFrame),
            ),
            (
                "fragmented close",
                vec![0x08, 0x80],
                Err(FragmentedControlFrame),
            ),
            (
                "pong masked",
                vec![0x8A, 0x80, 9, 9, 9, 9],
                Ok(Some(hdr(true, 0, Opcode::Pong, Some([9; 4]), 0))),
            ),
        ];
        for (name, bytes, want) in cases {
            let got = decode_all_ways(&bytes);
            match (got, want) {
                (Ok(Status::Partial), Ok(None)) => {}
                (Ok(Status::Complete((h, n))), Ok(Some(w))) => {
                    assert_eq!(h, w, "{name}");
                    assert_eq!(n, bytes.len(), "{name}: consumed");
                }
                (Err(e), Err(w)) => assert_eq!(e, w, "{name}"),
                (g, w) => panic!("{name}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn encode_minimal_and_roundtrip() {
        for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 40] {
            for mask in [None, Some([9, 8, 7, 6])] {
                let h = hdr(len % 2 == 0, 0b100, Opcode::Binary, mask, len);
                let mut out = Vec::new();
                h.write(&mut out);
                assert_eq!(out.len(), h.encoded_len());
                assert_eq!(decode_all_ways(&out), Ok(Status::Complete((h, out.len()))));
            }
        }
        let mut small = [0u8; 3];
        assert_eq!(
            hdr(true, 0, Opcode::Text, None, 200).encode(&mut small),
            Err(InsufficientSize { required: 4 })
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn opcode() -> impl Strategy<Value = Opcode> {
            prop_oneof![
                Just(Opcode::Continuation),
                Just(Opcode::Text),
                Just(Opcode::Binary),
                Just(Opcode::Close),
                Just(Opcode::Ping),
                Just(Opcode::Pong),
            ]
        }

        proptest! {
            #[test]
            fn encode_decode_identity(fin in any::<bool>(), rsv in 0u8..8, op in opcode(),
                                      mask in proptest::option::of(any::<[u8; 4]>()),
                                      len in prop_oneof![0u64..200, 0u64..70000, 0u64..(u64::MAX >> 1)]) {
                let (fin, len) = if op.is_control() { (true, len % 126) } else { (fin, len) };
                let h = hdr(fin, rsv, op, mask, len);
                let mut out = Vec::new();
                h.write(&mut out);
                out.extend_from_slice(b"trailing payload");
                prop_assert_eq!(FrameHeader::decode(&out), Ok(Status::Complete((h, h.encoded_len()))));
            }

            #[test]
            fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
                let _ = FrameHeader::decode(&bytes);
            }
        }
    }
}

//! permessage-deflate (RFC 7692) for the suite's own peer, independent of the implementation
//! under test: negotiation (offers, answers and their checks), a compressor that honours the
//! agreed LZ77 window and a bounded decompressor.
//!
//! - Window 2^15: the suite compresses with `miniz_oxide` (dynamic Huffman blocks, the full
//!   32 KiB window), so the peer's inflater sees what a zlib-like deflater sends.
//! - Windows 2^8-2^14: `miniz_oxide` cannot limit its window, so the suite uses its own LZ77
//!   matcher, which never emits a distance beyond the agreed window, and fixed-Huffman blocks.
//! - Context takeover: with it, both compressors reference earlier messages (within the window);
//!   without it, each message starts from an empty window.
//! - Inflating uses `miniz_oxide` with a 32 KiB window. Before that, the suite's own DEFLATE
//!   scanner walks the peer's blocks and checks every back-reference distance against the
//!   window the peer agreed to and against what the window can hold (nothing from earlier
//!   messages after agreeing to no context takeover).

use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use super::runner::Role;

/// The extension token.
pub const EXTENSION: &str = "permessage-deflate";
/// The trailer a sender strips and a receiver appends (RFC 7692 section 7.2.1).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// One offer the suite makes as a client (the reference's `PerMessageDeflateOffer`): it always
/// offers `client_max_window_bits` (the server may then limit the suite's window) and may
/// request the server's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Request `server_no_context_takeover`.
    pub server_no_context_takeover: bool,
    /// Request `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
}

/// How the suite, as a server, answers a client's offer (the reference's `acceptN`
/// functions): the offer's own requests are always honoured; these add requests of the
/// suite's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptPolicy {
    /// Answer with `client_no_context_takeover`.
    pub client_no_context_takeover: bool,
    /// Answer with `client_max_window_bits=N` (only for an offer that has
    /// `client_max_window_bits`; an offer without it is not accepted by this policy).
    pub client_max_window_bits: Option<u8>,
}

/// What a compression case negotiates, in either role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiation {
    /// As a client: the offers, in order of preference.
    pub offers: Vec<Offer>,
    /// As a server: the policies tried in order, each against every offer of the client.
    pub accept: Vec<AcceptPolicy>,
    /// The largest window the suite's own compressor uses (8-15), whatever the peer allows: a
    /// compressor may always use a smaller window than agreed, and the 13.x cases about
    /// window 9 use 9 in the suite's direction too, so the peer's inflater gets small-window
    /// streams even when the peer does not limit the suite's window.
    pub suite_window_bits: u8,
}

impl Negotiation {
    /// The default offer and answer (sections 12 and 13.1).
    pub fn default_params() -> Self {
        Negotiation {
            offers: vec![Offer {
                server_no_context_takeover: false,
                server_max_window_bits: None,
            }],
            accept: vec![AcceptPolicy {
                client_no_context_takeover: false,
                client_max_window_bits: None,
            }],
            suite_window_bits: 15,
        }
    }
    /// The `Sec-WebSocket-Extensions` value the suite sends as a client.
    pub fn offer_header(&self) -> String {
        let offers: Vec<String> = self
            .offers
            .iter()
            .map(|o| {
                let mut s = format!("{EXTENSION}; client_max_window_bits");
                if o.server_no_context_takeover {
                    s.push_str("; server_no_context_takeover");
                }
                if let Some(b) = o.server_max_window_bits {
                    s.push_str(&format!("; server_max_window_bits={b}"));
                }
                s
            })
            .collect();
        offers.join(", ")
    }
}

/// The parameters in force on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The server compresses each message from an empty window.
    pub server_no_context_takeover: bool,
    /// The client compresses each message from an empty window.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window (8-15).
    pub server_max_window_bits: u8,
    /// The client's LZ77 window (8-15).
    pub client_max_window_bits: u8,
}

impl Agreed {
    /// (window bits, no context takeover) with which `role` compresses.
    pub fn sending(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Client => (self.client_max_window_bits, self.client_no_context_takeover),
            Role::Server => (self.server_max_window_bits, self.server_no_context_takeover),
        }
    }
    /// (window bits, no context takeover) with which the peer of `role` compresses.
    pub fn receiving(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Client => self.sending(Role::Server),
            Role::Server => self.sending(Role::Client),
        }
    }
    /// The parameters in one line.
    pub fn describe(&self) -> String {
        format!(
            "server window {}{}, client window {}{}",
            self.server_max_window_bits,
            if self.server_no_context_takeover {
                " no-takeover"
            } else {
                ""
            },
            self.client_max_window_bits,
            if self.client_no_context_takeover {
                " no-takeover"
            } else {
                ""
            },
        )
    }
}

/// One element of a `Sec-WebSocket-Extensions` value: the name and its parameters.
type Element = (String, Vec<(String, Option<String>)>);

/// Splits a `Sec-WebSocket-Extensions` value into elements (RFC 6455 section 9.1; quoted
/// parameter values are unquoted).
fn parse_elements(value: &str) -> Result<Vec<Element>, String> {
    let mut out = Vec::new();
    for element in value.split(',') {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            return Err(format!("empty extension in {value:?}"));
        }
        let mut params = Vec::new();
        for p in parts {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => {
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    (k.trim(), Some(v.to_string()))
                }
                None => (p.trim(), None),
            };
            if k.is_empty() {
                return Err(format!("empty parameter in {value:?}"));
            }
            params.push((k.to_ascii_lowercase(), v));
        }
        out.push((name.to_ascii_lowercase(), params));
    }
    Ok(out)
}

/// The parameters of one permessage-deflate element, checked for syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (only valid in an offer).
    client_max_window_bits: Option<Option<u8>>,
}

fn window_value(name: &str, v: &str) -> Result<u8, String> {
    match v.parse::<u8>() {
        Ok(b @ 8..=15) if !v.starts_with('0') => Ok(b),
        _ => Err(format!("{name}={v:?} is not 8-15")),
    }
}

fn parse_params(params: &[(String, Option<String>)]) -> Result<Params, String> {
    let mut p = Params::default();
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in params {
        if seen.contains(&k.as_str()) {
            return Err(format!("parameter {k} given twice"));
        }
        seen.push(k);
        match (k.as_str(), v.as_deref()) {
            ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => {
                p.server_max_window_bits = Some(window_value(k, v)?)
            }
            ("client_max_window_bits", None) => p.client_max_window_bits = Some(None),
            ("client_max_window_bits", Some(v)) => {
                p.client_max_window_bits = Some(Some(window_value(k, v)?))
            }
            (k, _) => return Err(format!("invalid parameter {k:?}")),
        }
    }
    Ok(p)
}

/// Suite as client: checks the server's answer (`None` = no `Sec-WebSocket-Extensions`) to
/// `negotiation`'s offers. `Ok(None)`: the server declined; `Err`: the answer is invalid
/// (an extension not offered, an unknown or malformed parameter, or parameters that do not
/// accept any of the offers, RFC 7692 section 7.1).
pub fn check_answer(
    negotiation: &Negotiation,
    answer: Option<&str>,
) -> Result<Option<Agreed>, String> {
    let Some(answer) = answer else {
        return Ok(None);
    };
    let elements = parse_elements(answer)?;
    let [(name, params)] = elements.as_slice() else {
        return Err(format!(
            "answer {answer:?} does not have exactly one extension"
        ));
    };
    if name != EXTENSION {
        return Err(format!(
            "server selected extension {name:?} that was not offered"
        ));
    }
    let p = parse_params(params).map_err(|e| format!("answer {answer:?}: {e}"))?;
    let client_bits = match p.client_max_window_bits {
        Some(None) => {
            return Err(format!(
                "answer {answer:?}: client_max_window_bits needs a value in an answer"
            ))
        }
        Some(Some(b)) => b,
        None => 15,
    };
    let fits = |o: &Offer| {
        (!o.server_no_context_takeover || p.server_no_context_takeover)
            && match (o.server_max_window_bits, p.server_max_window_bits) {
                (Some(_), None) => false,
                (Some(asked), Some(got)) => got <= asked,
                _ => true,
            }
    };
    if !negotiation.offers.iter().any(fits) {
        return Err(format!(
            "answer {answer:?} accepts none of the offers {:?}",
            negotiation.offer_header()
        ));
    }
    Ok(Some(Agreed {
        server_no_context_takeover: p.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover,
        server_max_window_bits: p.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: client_bits,
    }))
}

/// Suite as server: picks the answer to the client's offers (`None` = no
/// `Sec-WebSocket-Extensions` header) following `negotiation.accept`: the first policy that
/// accepts any valid permessage-deflate offer wins. Returns the header value and the
/// parameters, or `None` when the client offered nothing the case accepts (the case is then
/// UNIMPLEMENTED). Malformed offers are declined, as RFC 7692 section 5 requires.
pub fn choose_answer(negotiation: &Negotiation, offers: Option<&str>) -> Option<(String, Agreed)> {
    let elements = parse_elements(offers?).ok()?;
    let offers: Vec<Params> = elements
        .iter()
        .filter(|(name, _)| name == EXTENSION)
        .filter_map(|(_, params)| parse_params(params).ok())
        .collect();
    for policy in &negotiation.accept {
        for o in &offers {
            let client_bits = match (policy.client_max_window_bits, o.client_max_window_bits) {
                (None, _) => None,
                (Some(_), None) => continue,
                (Some(want), Some(None)) => Some(want),
                (Some(want), Some(Some(max))) => Some(want.min(max)),
            };
            let mut answer = EXTENSION.to_string();
            if o.server_no_context_takeover {
                answer.push_str("; server_no_context_takeover");
            }
            if let Some(b) = o.server_max_window_bits {
                answer.push_str(&format!("; server_max_window_bits={b}"));
            }
            if policy.client_no_context_takeover {
                answer.push_str("; client_no_context_takeover");
            }
            if let Some(b) = client_bits {
                answer.push_str(&format!("; client_max_window_bits={b}"));
            }
            return Some((
                answer,
                Agreed {
                    server_no_context_takeover: o.server_no_context_takeover,
                    client_no_context_takeover: policy.client_no_context_takeover,
                    server_max_window_bits: o.server_max_window_bits.unwrap_or(15),
                    client_max_window_bits: client_bits.unwrap_or(15),
                },
            ));
        }
    }
    None
}

/// The suite's compressor for one direction of one connection.
pub struct Compressor {
    no_context_takeover: bool,
    engine: Engine,
}

enum Engine {
    Miniz(Box<CompressorOxide>),
    Window(WindowDeflater),
}

impl Compressor {
    /// A compressor for LZ77 window `2^bits` (8-15).
    pub fn new(bits: u8, no_context_takeover: bool) -> Compressor {
        let engine = if bits >= 15 {
            let mut c = Box::<CompressorOxide>::default();
            c.set_format_and_level(DataFormat::Raw, 6);
            Engine::Miniz(c)
        } else {
            Engine::Window(WindowDeflater::new(bits.max(8)))
        };
        Compressor {
            no_context_takeover,
            engine,
        }
    }

    /// Compresses one message: the payload to send with RSV1 (trailer removed).
    pub fn compress(&mut self, msg: &[u8]) -> Vec<u8> {
        let mut out = match &mut self.engine {
            Engine::Miniz(c) => {
                if self.no_context_takeover {
                    c.reset();
                }
                miniz_sync(c, msg)
            }
            Engine::Window(w) => {
                if self.no_context_takeover {
                    w.history.clear();
                }
                w.compress(msg)
            }
        };
        if out.ends_with(&TRAILER) {
            out.truncate(out.len() - TRAILER.len());
        }
        out
    }

    /// The longest back-reference distance emitted so far (own matcher only; `None` for
    /// miniz_oxide, which is bounded by 2^15 anyway).
    pub fn max_distance(&self) -> Option<usize> {
        match &self.engine {
            Engine::Miniz(_) => None,
            Engine::Window(w) => Some(w.max_distance),
        }
    }
}

fn miniz_sync(c: &mut CompressorOxide, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() / 2 + 64);
    let mut input = msg;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let r = miniz_oxide::deflate::stream::deflate(c, input, &mut buf, MZFlush::Sync);
        input = &input[r.bytes_consumed..];
        out.extend_from_slice(&buf[..r.bytes_written]);
        // Done when all input is in and the flush did not fill the buffer.
        if input.is_empty() && r.bytes_written < buf.len() {
            break;
        }
        if r.status.is_err() && r.bytes_written == 0 && r.bytes_consumed == 0 {
            break;
        }
    }
    out
}

/// LSB-first bit writer (RFC 1951 section 3.1.1).
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let rev = code.reverse_bits() >> (32 - len);
        self.put(rev, len);
    }
    fn align(&mut self) {
        if self.n > 0 {
            self.put(0, 8 - self.n);
        }
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// A literal/length symbol in the fixed Huffman code (RFC 1951 section 3.2.6).
fn fixed_symbol(b: &mut Bits, sym: u32) {
    match sym {
        0..=143 => b.code(0x30 + sym, 8),
        144..=255 => b.code(0x190 + sym - 144, 9),
        256..=279 => b.code(sym - 256, 7),
        _ => b.code(0xC0 + sym - 280, 8),
    }
}

/// The suite's own LZ77 deflater for windows below 2^15: greedy matching over hash chains,
/// never farther back than the window, fixed-Huffman blocks.
struct WindowDeflater {
    window: usize,
    /// The last `window` bytes of earlier messages (context takeover).
    history: Vec<u8>,
    max_distance: usize,
}

const HASH_BITS: u32 = 14;
const MAX_CHAIN: usize = 48;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;

impl WindowDeflater {
    fn new(bits: u8) -> Self {
        WindowDeflater {
            window: 1 << bits,
            history: Vec::new(),
            max_distance: 0,
        }
    }

    fn hash(d: &[u8], i: usize) -> usize {
        let v = u32::from(d[i]) | u32::from(d[i + 1]) << 8 | u32::from(d[i + 2]) << 16;
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    }

    /// One fixed-Huffman block for `msg`, then a sync flush (an empty stored block).
    fn compress(&mut self, msg: &[u8]) -> Vec<u8> {
        let start = self.history.len();
        let mut data = std::mem::take(&mut self.history);
        data.extend_from_slice(msg);
        let mut head = vec![usize::MAX; 1 << HASH_BITS];
        let mut prev = vec![usize::MAX; data.len()];
        let insert = |head: &mut Vec<usize>, prev: &mut Vec<usize>, i: usize| {
            if i + MIN_MATCH <= data.len() {
                let h = Self::hash(&data, i);
                prev[i] = head[h];
                head[h] = i;
            }
        };
        for i in 0..start {
            insert(&mut head, &mut prev, i);
        }
        let mut b = Bits {
            out: Vec::with_capacity(msg.len() / 2 + 16),
            acc: 0,
            n: 0,
        };
        // BFINAL = 0, BTYPE = 01 (fixed Huffman).
        b.put(0, 1);
        b.put(1, 2);
        let mut i = start;
        while i < data.len() {
            let mut best = (0usize, 0usize);
            if i + MIN_MATCH <= data.len() {
                let max_len = MAX_MATCH.min(data.len() - i);
                let mut cand = head[Self::hash(&data, i)];
                let mut chain = 0;
                while cand != usize::MAX && chain < MAX_CHAIN {
                    let dist = i - cand;
                    if dist > self.window {
                        break;
                    }
                    let len = data[cand..]
                        .iter()
                        .zip(&data[i..i + max_len])
                        .take_while(|(a, b)| a == b)
                        .count();
                    if len > best.0 {
                        best = (len, dist);
                        if len == max_len {
                            break;
                        }
                    }
                    cand = prev[cand];
                    chain += 1;
                }
            }
            if best.0 >= MIN_MATCH {
                let (len, dist) = best;
                self.max_distance = self.max_distance.max(dist);
                let li = LEN_BASE
                    .iter()
                    .rposition(|&l| usize::from(l) <= len)
                    .unwrap_or(0);
                fixed_symbol(&mut b, 257 + li as u32);
                b.put(
                    (len - usize::from(LEN_BASE[li])) as u32,
                    u32::from(LEN_EXTRA[li]),
                );
                let di = DIST_BASE
                    .iter()
                    .rposition(|&d| usize::from(d) <= dist)
                    .unwrap_or(0);
                b.code(di as u32, 5);
                b.put(
                    (dist - usize::from(DIST_BASE[di])) as u32,
                    u32::from(DIST_EXTRA[di]),
                );
                for j in i..i + len {
                    insert(&mut head, &mut prev, j);
                }
                i += len;
            } else {
                fixed_symbol(&mut b, u32::from(data[i]));
                insert(&mut head, &mut prev, i);
                i += 1;
            }
        }
        fixed_symbol(&mut b, 256);
        // Sync flush: an empty stored block (BFINAL = 0, BTYPE = 00, LEN 0, NLEN 0xFFFF).
        b.put(0, 3);
        b.align();
        b.out.extend_from_slice(&TRAILER);
        let keep = data.len().saturating_sub(self.window);
        data.drain(..keep);
        self.history = data;
        b.out
    }
}

/// LSB-first bit reader for the distance scanner.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    bit: u32,
}

impl BitReader<'_> {
    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0;
        for i in 0..n {
            let byte = *self.data.get(self.pos)?;
            v |= u32::from((byte >> self.bit) & 1) << i;
            self.bit += 1;
            if self.bit == 8 {
                self.bit = 0;
                self.pos += 1;
            }
        }
        Some(v)
    }
    fn align(&mut self) {
        if self.bit != 0 {
            self.bit = 0;
            self.pos += 1;
        }
    }
    fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// A canonical Huffman code (RFC 1951 section 3.2.2) decoded bit by bit.
struct Huffman {
    count: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut offs = [0u16; 16];
        for i in 1..15 {
            offs[i + 1] = offs[i] + count[i];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[usize::from(offs[usize::from(l)])] = s as u16;
                offs[usize::from(l)] += 1;
            }
        }
        Huffman { count, symbols }
    }
    fn decode(&self, r: &mut BitReader<'_>) -> Option<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= r.bits(1)? as i32;
            let count = i32::from(self.count[len]);
            if code - count < first {
                return self.symbols.get((index + code - first) as usize).copied();
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        None
    }
}

/// Walks a raw DEFLATE stream (one message with its trailer) and returns the first
/// back-reference that reaches farther than `window` bytes, or farther back than the
/// `available` bytes of earlier messages plus what this message produced so far:
/// `(distance, bytes it could reach)`. Malformed data ends the walk silently (the inflater
/// reports it).
fn window_violation(data: &[u8], window: usize, available: usize) -> Option<(usize, usize)> {
    let mut r = BitReader {
        data,
        pos: 0,
        bit: 0,
    };
    let mut produced = 0usize;
    let fixed_lit: Vec<u8> = (0..288)
        .map(|s| match s {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        })
        .collect();
    let (fixed_lit, fixed_dist) = (Huffman::new(&fixed_lit), Huffman::new(&[5u8; 30]));
    loop {
        if r.exhausted() {
            return None;
        }
        let last = r.bits(1)?;
        let kind = r.bits(2)?;
        let dynamic;
        let (lit, dist) = match kind {
            0 => {
                r.align();
                let len =
                    usize::from(*r.data.get(r.pos)?) | usize::from(*r.data.get(r.pos + 1)?) << 8;
                r.pos += 4 + len;
                produced += len;
                if last == 1 {
                    return None;
                }
                continue;
            }
            1 => (&fixed_lit, &fixed_dist),
            2 => {
                let hlit = r.bits(5)? as usize + 257;
                let hdist = r.bits(5)? as usize + 1;
                let hclen = r.bits(4)? as usize + 4;
                const ORDER: [usize; 19] = [
                    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                ];
                let mut cl = [0u8; 19];
                for &i in &ORDER[..hclen] {
                    cl[i] = r.bits(3)? as u8;
                }
                let clh = Huffman::new(&cl);
                let mut lengths = Vec::with_capacity(hlit + hdist);
                while lengths.len() < hlit + hdist {
                    match clh.decode(&mut r)? {
                        s @ 0..=15 => lengths.push(s as u8),
                        16 => {
                            let prev = *lengths.last()?;
                            for _ in 0..3 + r.bits(2)? {
                                lengths.push(prev);
                            }
                        }
                        17 => lengths.resize(lengths.len() + 3 + r.bits(3)? as usize, 0),
                        _ => lengths.resize(lengths.len() + 11 + r.bits(7)? as usize, 0),
                    }
                }
                if lengths.len() != hlit + hdist {
                    return None;
                }
                dynamic = (
                    Huffman::new(&lengths[..hlit]),
                    Huffman::new(&lengths[hlit..]),
                );
                (&dynamic.0, &dynamic.1)
            }
            _ => return None,
        };
        loop {
            let sym = usize::from(lit.decode(&mut r)?);
            match sym {
                0..=255 => produced += 1,
                256 => break,
                257..=285 => {
                    let i = sym - 257;
                    let len = usize::from(LEN_BASE[i]) + r.bits(u32::from(LEN_EXTRA[i]))? as usize;
                    let d = usize::from(dist.decode(&mut r)?);
                    let distance = usize::from(*DIST_BASE.get(d)?)
                        + r.bits(u32::from(*DIST_EXTRA.get(d)?))? as usize;
                    let reach = window.min(available + produced);
                    if distance > reach {
                        return Some((distance, reach));
                    }
                    produced += len;
                }
                _ => return None,
            }
        }
        if last == 1 {
            return None;
        }
    }
}

/// The suite's decompressor for the peer's direction of one connection.
pub struct Decompressor {
    state: Box<InflateState>,
    no_context_takeover: bool,
    window: usize,
    /// Bytes of earlier compressed messages the peer's window may hold.
    history: usize,
    /// The peer ended its DEFLATE stream with a final block: the next message starts anew.
    ended: bool,
}

impl Decompressor {
    /// A decompressor for a peer that compresses with LZ77 window `2^bits`, with or without
    /// context takeover.
    pub fn new(bits: u8, no_context_takeover: bool) -> Decompressor {
        Decompressor {
            state: InflateState::new_boxed(DataFormat::Raw),
            no_context_takeover,
            window: 1 << bits,
            history: 0,
            ended: false,
        }
    }

    /// Inflates one message's payload (as sent, without the trailer); at most `max` bytes.
    /// A back-reference beyond the agreed window (or into an earlier message after no context
    /// takeover was agreed) is an error.
    pub fn decompress(&mut self, payload: &[u8], max: usize) -> Result<Vec<u8>, String> {
        if self.no_context_takeover || self.ended {
            self.state.reset(DataFormat::Raw);
            self.history = 0;
            self.ended = false;
        }
        let mut input = Vec::with_capacity(payload.len() + 4);
        input.extend_from_slice(payload);
        input.extend_from_slice(&TRAILER);
        if let Some((distance, reach)) = window_violation(&input, self.window, self.history) {
            return Err(format!(
                "back-reference distance {distance} beyond the {reach} bytes the agreed \
                 window (2^{} bytes{}) can hold",
                self.window.trailing_zeros(),
                if self.no_context_takeover {
                    ", no context takeover"
                } else {
                    ""
                }
            ));
        }
        let mut out = Vec::new();
        let mut rest: &[u8] = &input;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = miniz_oxide::inflate::stream::inflate(
                &mut self.state,
                rest,
                &mut buf,
                MZFlush::None,
            );
            rest = &rest[r.bytes_consumed..];
            if out.len() + r.bytes_written > max {
                return Err(format!("inflates to more than {max} bytes"));
            }
            out.extend_from_slice(&buf[..r.bytes_written]);
            match r.status {
                Ok(MZStatus::StreamEnd) => {
                    // A final block (RFC 7692 section 7.2.3.4): the stream is over. Only the
                    // rest of an empty stored block (the sender's 0x00 and the trailer) or
                    // the bare trailer may follow; the next message starts a new stream.
                    if rest != [0x00, 0x00, 0x00, 0xFF, 0xFF] && rest != TRAILER {
                        return Err(format!(
                            "{} bytes after the final DEFLATE block",
                            rest.len().saturating_sub(TRAILER.len())
                        ));
                    }
                    self.ended = true;
                    return Ok(out);
                }
                Ok(_) => {}
                Err(MZError::Buf) => {}
                Err(e) => return Err(format!("invalid DEFLATE data ({e:?})")),
            }
            if rest.is_empty() && r.bytes_written < buf.len() {
                self.history = self.window.min(self.history + out.len());
                return Ok(out);
            }
            if r.bytes_consumed == 0 && r.bytes_written == 0 {
                return Err("truncated DEFLATE data".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(n: usize) -> Vec<u8> {
        let words = [
            "alpha ",
            "beta ",
            "gamma ",
            "{\"key\": 12}, ",
            "Faust ",
            "über ",
        ];
        let mut v = Vec::new();
        let mut x = 7u32;
        while v.len() < n {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            v.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
            v.push((x >> 8) as u8);
        }
        v.truncate(n);
        v
    }

    #[test]
    fn every_window_round_trips_and_stays_within_its_window() {
        let data = corpus(200_000);
        for bits in 8..=15u8 {
            for nct in [false, true] {
                let mut c = Compressor::new(bits, nct);
                let mut d = Decompressor::new(bits, nct);
                let mut total = 0;
                for (i, len) in [0usize, 1, 16, 300, 5000, 70_000, 100_000]
                    .iter()
                    .enumerate()
                {
                    let msg = &data[i * 1000..i * 1000 + len];
                    let z = c.compress(msg);
                    total += z.len();
                    assert_eq!(d.decompress(&z, 1 << 20).unwrap(), msg, "bits {bits}");
                }
                assert!(total < 120_000, "bits {bits}: {total}");
                if let Some(m) = c.max_distance() {
                    assert!(m <= 1 << bits && m > (1 << bits) / 2, "bits {bits}: {m}");
                }
            }
        }
    }

    #[test]
    fn context_takeover_references_the_previous_message() {
        let msg = corpus(4000);
        for bits in [9u8, 15] {
            let mut c = Compressor::new(bits, false);
            let first = c.compress(&msg[..400]).len();
            let second = c.compress(&msg[..400]).len();
            assert!(second * 4 < first, "bits {bits}: {first} then {second}");
            let mut c = Compressor::new(bits, true);
            assert_eq!(c.compress(&msg[..400]).len(), first);
            assert_eq!(c.compress(&msg[..400]).len(), first);
        }
    }

    #[test]
    fn decompressor_bounds_and_rejects() {
        let mut c = Compressor::new(15, false);
        let z = c.compress(&[b'a'; 100_000]);
        assert!(Decompressor::new(15, false).decompress(&z, 1000).is_err());
        assert!(Decompressor::new(15, false)
            .decompress(&[0xFF, 0xFF], 1000)
            .is_err());
        // RFC 7692 section 7.2.3.1: "Hello" compressed.
        let hello = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00];
        // RFC 7692 section 7.2.3.2: the second "Hello" refers to the first; fine with context
        // takeover, a violation without.
        let second = [0xF2, 0x00, 0x11, 0x00, 0x00];
        let mut d = Decompressor::new(15, false);
        assert_eq!(d.decompress(&hello, 100).unwrap(), b"Hello");
        assert_eq!(d.decompress(&second, 100).unwrap(), b"Hello");
        let mut d = Decompressor::new(15, true);
        assert_eq!(d.decompress(&hello, 100).unwrap(), b"Hello");
        assert!(d.decompress(&second, 100).is_err());
        // RFC 7692 section 7.2.3.3: a stored block.
        let stored = [
            0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00,
        ];
        assert_eq!(
            Decompressor::new(9, true).decompress(&stored, 100).unwrap(),
            b"Hello"
        );
        // RFC 7692 section 7.2.3.4: "Hello" in a final block, then the next message anew;
        // nothing but an empty stored block may follow a final block.
        let fin = [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00];
        let mut d = Decompressor::new(15, false);
        assert_eq!(d.decompress(&fin, 100).unwrap(), b"Hello");
        assert_eq!(d.decompress(&fin, 100).unwrap(), b"Hello");
        assert_eq!(d.decompress(&fin[..7], 100).unwrap(), b"Hello");
        let mut junk = fin.to_vec();
        junk.push(0x42);
        assert!(Decompressor::new(15, false).decompress(&junk, 100).is_err());
        assert_eq!(
            Decompressor::new(15, false)
                .decompress(&hello, 100)
                .unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn a_peer_beyond_its_window_is_caught() {
        let data = corpus(100_000);
        // miniz_oxide uses a 32 KiB window: fine for a window of 2^15, not for 2^9.
        let mut c = Compressor::new(15, false);
        let z = c.compress(&data[..60_000]);
        assert_eq!(
            Decompressor::new(15, false)
                .decompress(&z, 1 << 20)
                .unwrap(),
            &data[..60_000]
        );
        let e = Decompressor::new(9, false)
            .decompress(&z, 1 << 20)
            .unwrap_err();
        assert!(e.contains("beyond"), "{e}");
        // With context takeover the second message may reach into the first...
        let mut c = Compressor::new(10, false);
        let a = c.compress(&data[..500]);
        let b = c.compress(&data[..500]);
        let mut d = Decompressor::new(10, false);
        assert_eq!(d.decompress(&a, 1000).unwrap(), &data[..500]);
        assert_eq!(d.decompress(&b, 1000).unwrap(), &data[..500]);
        // ...but not when the peer agreed to no context takeover.
        let mut d = Decompressor::new(10, true);
        assert_eq!(d.decompress(&a, 1000).unwrap(), &data[..500]);
        let e = d.decompress(&b, 1000).unwrap_err();
        assert!(e.contains("no context takeover"), "{e}");
    }

    #[test]
    fn negotiation_client_side() {
        let n = Negotiation {
            offers: vec![Offer {
                server_no_context_takeover: true,
                server_max_window_bits: Some(9),
            }],
            accept: vec![],
            suite_window_bits: 15,
        };
        assert_eq!(
            n.offer_header(),
            "permessage-deflate; client_max_window_bits; server_no_context_takeover; \
             server_max_window_bits=9"
        );
        let a = check_answer(
            &n,
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.sending(Role::Client), (10, false));
        assert_eq!(a.receiving(Role::Client), (9, true));
        assert_eq!(check_answer(&n, None), Ok(None));
        for bad in [
            "permessage-deflate; server_max_window_bits=9",
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; x=1",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits",
            "x-webkit-deflate-frame",
            "permessage-deflate, permessage-deflate",
        ] {
            assert!(check_answer(&n, Some(bad)).is_err(), "{bad}");
        }
        let d = Negotiation::default_params();
        let a = check_answer(&d, Some("permessage-deflate; server_max_window_bits=12"))
            .unwrap()
            .unwrap();
        assert_eq!(a.receiving(Role::Client), (12, false));
    }

    #[test]
    fn negotiation_server_side() {
        let n = Negotiation {
            offers: vec![],
            accept: vec![
                AcceptPolicy {
                    client_no_context_takeover: true,
                    client_max_window_bits: Some(9),
                },
                AcceptPolicy {
                    client_no_context_takeover: false,
                    client_max_window_bits: None,
                },
            ],
            suite_window_bits: 15,
        };
        let (h, a) = choose_answer(
            &n,
            Some("permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits"),
        )
        .unwrap();
        assert_eq!(
            h,
            "permessage-deflate; client_no_context_takeover; client_max_window_bits=9"
        );
        assert_eq!(a.sending(Role::Server), (15, false));
        assert_eq!(a.receiving(Role::Server), (9, true));
        // Without client_max_window_bits the second policy takes the first offer.
        let (h, a) =
            choose_answer(&n, Some("permessage-deflate; server_max_window_bits=10")).unwrap();
        assert_eq!(h, "permessage-deflate; server_max_window_bits=10");
        assert_eq!(a.sending(Role::Server), (10, false));
        assert!(choose_answer(&n, None).is_none());
        assert!(choose_answer(&n, Some("permessage-deflate; bogus")).is_none());
        assert!(choose_answer(&n, Some("permessage-deflate; server_max_window_bits=16")).is_none());
    }
}

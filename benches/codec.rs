//! In-memory codec benchmark: ws-proto against tungstenite and fastwebsockets, on the same
//! input buffers, in the same run, alternating which implementation goes first.
//!
//! Decode: a server reads a stream of masked client frames and produces whole messages
//! (binary and text; text is mixed multi-byte UTF-8, validated). Every decoder pays for the
//! copy of the wire bytes into its read buffer, as a socket read makes it: the peers read
//! from an in-memory stream into the buffer their API owns (reads of 128 KiB), ws-proto
//! copies each read into the room `input_buffer` offers (up to 128 KiB), then
//! `handle_input`. The bounds run in the same rounds: each 128 KiB read copied into one
//! reused read buffer, then the payload bytes in it only validated where they lie (simdutf8)
//! or only unmasked in place, while hot: what a decoder that did nothing else would cost.
//! Each implementation decodes on one long-lived connection per case, fed the same wire
//! bytes in every iteration (`fresh` starts a new connection for every iteration instead).
//!
//! Encode: a server encodes messages from one shared payload buffer, one message at a time,
//! each implementation with its cheapest API for a payload the caller keeps, into the
//! buffer its transport writes from (ours: `send` of the borrowed slice, one copy into the
//! connection's buffer, handed out by `poll_transmit`; the peers: their writes into a sink).
//!
//! Run: `cargo bench -p benches --bench codec` (add `-- quick` for a shorter run; `fresh`,
//! `decode-only`, and `only=text` / `only=binary` / `only=65536` select variants and cases).
//! Reports median MB/s (payload bytes), messages/s and our ratio to each peer.

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant as StdInstant;

use bytes::Bytes;
use ws_proto::{Config, Connection, Event, Instant, MessageRef};

const READ_CHUNK: usize = 128 * 1024;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Binary,
    Text,
}

struct Case {
    kind: Kind,
    size: usize,
    count: usize,
    /// Masked client frames, concatenated.
    wire: Vec<u8>,
    /// The payload of every message. All three encoders read this one buffer (ws-proto and
    /// tungstenite through clones of the `Bytes`, fastwebsockets borrowing it).
    payload: Bytes,
}

fn payload(kind: Kind, size: usize) -> Vec<u8> {
    match kind {
        Kind::Binary => (0..size).map(|i| (i * 31 + 7) as u8).collect(),
        Kind::Text => {
            // Mixed multi-byte text (mostly 2-, 3- and 4-byte sequences, a little ASCII):
            // the hard case for a validator.
            let pieces = [
                "κόσμε",
                "世界",
                "😀",
                "héllo ",
                "Ünïcödé",
                "Привет",
                "🚀✓",
                "日本語 ",
            ];
            let mut s = String::new();
            let mut i = 0;
            while s.len() < size {
                s.push_str(pieces[i % pieces.len()]);
                i += 1;
            }
            while s.len() > size {
                s.pop();
            }
            while s.len() < size {
                s.push('a');
            }
            s.into_bytes()
        }
    }
}

fn masked_frame(kind: Kind, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0x80 | if kind == Kind::Text { 1 } else { 2 }];
    let n = payload.len();
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n < 65536 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn case(kind: Kind, size: usize) -> Case {
    // About 4 MiB of payload per iteration (at least 16 messages).
    let count = ((4 << 20) / size).clamp(16, 200_000);
    let payload = payload(kind, size);
    let mut wire = Vec::new();
    for i in 0..count {
        let key = (i as u32).wrapping_mul(0x9E37_79B9).to_ne_bytes();
        wire.extend(masked_frame(kind, &payload, key));
    }
    Case {
        kind,
        size,
        count,
        wire,
        payload: Bytes::from(payload),
    }
}

// ---------- ws-proto ----------

/// One decoder per implementation and case, kept from one iteration to the next like a
/// long-lived connection (`fresh` on the command line makes a new one for every iteration).
struct OursDecoder(Connection);

impl OursDecoder {
    fn new() -> Self {
        OursDecoder(Connection::server(Instant::ZERO, Config::default()))
    }
}

/// Take the events of one read: (messages, payload bytes).
#[inline]
fn take_messages(conn: &mut Connection) -> (usize, usize) {
    let (mut n, mut bytes) = (0, 0);
    while let Some(ev) = conn.poll_event() {
        if let Event::Message(m) = ev {
            bytes += m.payload().len();
            n += 1;
            black_box(&m);
        }
    }
    (n, bytes)
}

/// Decodes the case's wire bytes as a driver reads them: each read copies as much as the room
/// `input_buffer` offers (as the kernel's copy of a socket read), then `handle_input`, then
/// the events.
#[inline(never)]
fn ours_decode(c: &Case, dec: &mut OursDecoder) -> usize {
    let (mut n, mut bytes) = (0, 0);
    let mut wire = &c.wire[..];
    let conn = &mut dec.0;
    while !wire.is_empty() {
        let buf = conn.input_buffer();
        let take = (buf.capacity() - buf.len()).min(wire.len());
        buf.extend_from_slice(&wire[..take]);
        wire = &wire[take..];
        conn.handle_input(Instant::ZERO).unwrap();
        let (m, b) = take_messages(conn);
        n += m;
        bytes += b;
    }
    assert_eq!(bytes, c.count * c.size);
    n
}

/// Each implementation sends with its cheapest API for a payload the caller keeps, one
/// message at a time: we `send` the borrowed slice, which copies it once into the
/// connection's buffer, and take what `poll_transmit` hands out whenever 64 KiB are pending
/// (as a writer that writes when its buffer fills): those `Bytes` are the write buffer the
/// transport reads from. fastwebsockets borrows the slice with its default settings: above
/// 1 KiB it writes the header and the payload to the sink separately (one copy), up to 1 KiB
/// it copies the frame into its write buffer first (two copies). tungstenite clones the
/// `Bytes` and formats the frame into its own buffer before the sink (two copies).
fn ours_encode(c: &Case, message: MessageRef<'_>) -> usize {
    let mut conn = Connection::server(Instant::ZERO, Config::default());
    let mut written = 0;
    // What the transport writes: each piece, then it is dropped (its buffer given back).
    let mut write = |conn: &mut Connection| {
        while let Some(bytes) = conn.poll_transmit() {
            written += black_box(bytes).len();
        }
    };
    for _ in 0..c.count {
        conn.send(Instant::ZERO, message.clone()).unwrap();
        if conn.pending_transmit() >= 64 * 1024 {
            write(&mut conn);
        }
    }
    write(&mut conn);
    assert!(written >= c.count * c.size);
    c.count
}

// ---------- tungstenite ----------

fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_CHUNK)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(16 << 20))
}

/// The input side of a decoder's stream: the case's wire bytes, read from `pos`, which the
/// harness rewinds before each iteration.
struct Input<'a> {
    wire: &'a [u8],
    pos: Rc<Cell<usize>>,
}

impl Input<'_> {
    fn read_into(&self, room: usize) -> &[u8] {
        let pos = self.pos.get();
        let n = room.min(self.wire.len() - pos).min(READ_CHUNK);
        self.pos.set(pos + n);
        &self.wire[pos..pos + n]
    }
}

/// A peer's stream for tungstenite and fastwebsockets: reads `input`, writes into `sink`.
/// Decoders read the case's wire bytes (and write nothing: no control frames); encoders read
/// nothing and write into the harness's output buffer.
struct Stream<'a> {
    input: Input<'a>,
    sink: Vec<u8>,
}

impl<'a> Stream<'a> {
    fn new(wire: &'a [u8], pos: &Rc<Cell<usize>>, sink: Vec<u8>) -> Self {
        Stream {
            input: Input {
                wire,
                pos: pos.clone(),
            },
            sink,
        }
    }

    /// A stream for an encoder: no input, writing into `out` (taken, cleared, and given back
    /// by the caller when done).
    fn writing_into(out: &mut Vec<u8>) -> Stream<'static> {
        let mut sink = std::mem::take(out);
        sink.clear();
        Stream::new(&[], &Rc::new(Cell::new(0)), sink)
    }
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let src = self.input.read_into(buf.len());
        buf[..src.len()].copy_from_slice(src);
        Ok(src.len())
    }
}

impl Write for Stream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type TungsteniteDecoder<'a> = tungstenite::WebSocket<Stream<'a>>;

fn tungstenite_decoder<'a>(c: &'a Case, pos: &Rc<Cell<usize>>) -> TungsteniteDecoder<'a> {
    let stream = Stream::new(&c.wire, pos, Vec::new());
    tungstenite::WebSocket::from_raw_socket(
        stream,
        tungstenite::protocol::Role::Server,
        Some(tungstenite_config()),
    )
}

fn tungstenite_decode(c: &Case, ws: &mut TungsteniteDecoder<'_>) -> usize {
    let mut bytes = 0;
    for _ in 0..c.count {
        let m = ws.read().unwrap();
        bytes += match &m {
            tungstenite::Message::Binary(b) => b.len(),
            tungstenite::Message::Text(t) => t.len(),
            _ => panic!("unexpected"),
        };
        black_box(&m);
    }
    assert_eq!(bytes, c.count * c.size);
    c.count
}

fn tungstenite_encode(c: &Case, message: &tungstenite::Message, out: &mut Vec<u8>) -> usize {
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        Stream::writing_into(out),
        tungstenite::protocol::Role::Server,
        Some(tungstenite_config()),
    );
    for _ in 0..c.count {
        ws.write(message.clone()).unwrap();
    }
    ws.flush().unwrap();
    *out = std::mem::take(&mut ws.get_mut().sink);
    c.count
}

// ---------- fastwebsockets ----------

impl tokio::io::AsyncRead for Stream<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let src = self.input.read_into(buf.remaining());
        buf.put_slice(src);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Stream<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.sink.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

type FastDecoder<'a> = fastwebsockets::FragmentCollector<Stream<'a>>;

fn fast_decoder<'a>(c: &'a Case, pos: &Rc<Cell<usize>>) -> FastDecoder<'a> {
    let stream = Stream::new(&c.wire, pos, Vec::new());
    let mut ws = fastwebsockets::WebSocket::after_handshake(stream, fastwebsockets::Role::Server);
    ws.set_max_message_size(64 << 20);
    fastwebsockets::FragmentCollector::new(ws)
}

fn fast_decode(rt: &tokio::runtime::Runtime, c: &Case, ws: &mut FastDecoder<'_>) -> usize {
    rt.block_on(async {
        let mut bytes = 0;
        for _ in 0..c.count {
            let f = ws.read_frame().await.unwrap();
            bytes += f.payload.len();
            black_box(&f);
        }
        assert_eq!(bytes, c.count * c.size);
    });
    c.count
}

fn fast_encode(rt: &tokio::runtime::Runtime, c: &Case, out: &mut Vec<u8>) -> usize {
    rt.block_on(async {
        let mut ws = fastwebsockets::WebSocket::after_handshake(
            Stream::writing_into(out),
            fastwebsockets::Role::Server,
        );
        for _ in 0..c.count {
            let frame = match c.kind {
                Kind::Binary => {
                    fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(&c.payload))
                }
                Kind::Text => {
                    fastwebsockets::Frame::text(fastwebsockets::Payload::Borrowed(&c.payload))
                }
            };
            ws.write_frame(frame).await.unwrap();
        }
        ws.flush().await.unwrap();
        *out = ws.into_inner().sink;
    });
    c.count
}

// ---------- harness ----------

fn time(f: &mut dyn FnMut() -> usize) -> f64 {
    let t = StdInstant::now();
    black_box(f());
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn size_name(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

fn report(op: &str, c: &Case, names: &[&str], secs: &[f64]) {
    let bytes = (c.count * c.size) as f64;
    let cells: Vec<String> = names
        .iter()
        .zip(secs)
        .map(|(n, s)| {
            format!(
                "{n} {:>9.1} MB/s {:>7.2} M msg/s",
                bytes / s / 1e6,
                c.count as f64 / s / 1e6
            )
        })
        .collect();
    let ratios: Vec<String> = names[1..]
        .iter()
        .zip(&secs[1..])
        .map(|(n, s)| format!("x{:.2} vs {n}", s / secs[0]))
        .collect();
    println!(
        "{op:6} {:6} {:>7} | {} | {}",
        if c.kind == Kind::Text {
            "text"
        } else {
            "binary"
        },
        size_name(c.size),
        cells.join(" | "),
        ratios.join(", ")
    );
}

fn mask_bench(runs: usize) {
    let mut buf = vec![0u8; 64 * 1024];
    let key = [1, 2, 3, 4];
    let reps = 2000;
    let mut word = Vec::new();
    let mut bytewise = Vec::new();
    for _ in 0..runs {
        word.push(time(&mut || {
            for _ in 0..reps {
                ws_proto::mask::apply_mask(black_box(&mut buf), key, 0);
            }
            reps
        }));
        bytewise.push(time(&mut || {
            for _ in 0..reps {
                ws_proto::mask::apply_mask_bytes(black_box(&mut buf), key);
            }
            reps
        }));
    }
    // Unmasking while copying into a message buffer, against copying then unmasking.
    let src = vec![0x5Au8; 64 * 1024];
    let mut fused = Vec::new();
    let mut two_pass = Vec::new();
    for _ in 0..runs {
        fused.push(time(&mut || {
            for _ in 0..reps {
                let mut dst = bytes::BytesMut::with_capacity(src.len());
                ws_proto::mask::extend_unmasked(&mut dst, black_box(&src), key, 0);
                black_box(&dst);
            }
            reps
        }));
        two_pass.push(time(&mut || {
            for _ in 0..reps {
                let mut dst = bytes::BytesMut::with_capacity(src.len());
                dst.extend_from_slice(black_box(&src));
                ws_proto::mask::apply_mask(&mut dst, key, 0);
                black_box(&dst);
            }
            reps
        }));
    }
    let (f, t) = (median(fused), median(two_pass));
    let bytes = (src.len() * reps) as f64;
    println!(
        "unmask 64 KiB while copying: {:.1} GB/s; copy then unmask: {:.1} GB/s (x{:.2})",
        bytes / f / 1e9,
        bytes / t / 1e9,
        t / f
    );
    let bytes = (buf.len() * reps) as f64;
    let (w, b) = (median(word), median(bytewise));
    println!(
        "mask 64 KiB in place: apply_mask {:.1} GB/s, byte-at-a-time {:.1} GB/s (x{:.1})",
        bytes / w / 1e9,
        bytes / b / 1e9,
        b / w
    );
}

/// The frame and header lengths of the case's frames.
fn frame_layout(c: &Case) -> (usize, usize) {
    let header = if c.size < 126 {
        6
    } else if c.size < 65536 {
        8
    } else {
        14
    };
    (header + c.size, header)
}

/// The physical bound of a decoder for a case: each read (128 KiB, as the contenders read)
/// copied once into a reused read buffer (the read's copy, which every decoder pays), then
/// the payload bytes in it only validated where they lie (text: simdutf8, a character cut by
/// the end of a read carried over) or only unmasked in place (binary), while the read is
/// still in cache. Text validated on the masked bytes would cost the same; the input is
/// unmasked first so the validator sees real text.
fn bound(c: &Case, wire: &[u8], buf: &mut Vec<u8>) -> usize {
    let (frame, header) = frame_layout(c);
    let text = c.kind == Kind::Text;
    let mut carry = Utf8Carry::default();
    let mut n = 0;
    for (i, read) in wire.chunks(READ_CHUNK).enumerate() {
        let start = i * READ_CHUNK;
        let end = start + read.len();
        buf.clear();
        buf.extend_from_slice(read);
        let mut pos = start;
        while pos < end {
            // The part of frame `pos / frame` that this read holds.
            let frame_start = pos / frame * frame;
            let payload_start = frame_start + header;
            let frame_end = frame_start + frame;
            let (from, to) = (pos.max(payload_start), frame_end.min(end));
            if from < to {
                let part = &mut buf[from - start..to - start];
                if text {
                    assert!(carry.validate(part, to == frame_end));
                } else {
                    let key = wire[payload_start - 4..payload_start].try_into().unwrap();
                    ws_proto::mask::apply_mask(part, key, from - payload_start);
                }
            }
            if to == frame_end {
                n += 1;
            }
            pos = to;
        }
        black_box(&buf);
    }
    assert_eq!(n, c.count);
    n
}

/// Streaming UTF-8 validation over parts of a text cut anywhere: at most three bytes of a
/// character cut by the end of a part wait for the next part.
#[derive(Default)]
struct Utf8Carry {
    bytes: [u8; 8],
    len: usize,
}

impl Utf8Carry {
    /// Validates the next part of a text (`last`: it ends the text).
    #[inline]
    fn validate(&mut self, part: &[u8], last: bool) -> bool {
        let mut ok = true;
        let mut rest = part;
        if self.len > 0 {
            // The continuation bytes that complete the carried character.
            let head = rest
                .iter()
                .take(4 - self.len)
                .take_while(|b| *b & 0xC0 == 0x80)
                .count();
            self.bytes[self.len..self.len + head].copy_from_slice(&rest[..head]);
            self.len += head;
            rest = &rest[head..];
            if rest.is_empty() && !last {
                return true;
            }
            ok &= simdutf8::basic::from_utf8(&self.bytes[..self.len]).is_ok();
            self.len = 0;
        }
        let cut = if last {
            rest.len()
        } else {
            // Back off to the start of the last character (it may be incomplete).
            (rest.len().saturating_sub(3)..rest.len())
                .rev()
                .find(|&i| rest[i] & 0xC0 != 0x80)
                .unwrap_or(rest.len())
        };
        ok &= simdutf8::basic::from_utf8(black_box(&rest[..cut])).is_ok();
        self.bytes[..rest.len() - cut].copy_from_slice(&rest[cut..]);
        self.len = rest.len() - cut;
        ok
    }
}

/// For text, the wire bytes with the masks removed (so the validator of the bound sees the
/// text); for binary, the wire bytes as they are.
fn bound_input(c: &Case) -> Vec<u8> {
    let mut plain = c.wire.clone();
    if c.kind == Kind::Text {
        let (frame, header) = frame_layout(c);
        for f in plain.chunks_mut(frame) {
            let (h, p) = f.split_at_mut(header);
            let key = [h[header - 4], h[header - 3], h[header - 2], h[header - 1]];
            ws_proto::mask::apply_mask(p, key, 0);
            assert_eq!(&p[..], &c.payload[..]);
        }
    }
    plain
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "quick");
    let fresh = args.iter().any(|a| a == "fresh");
    // `only=text` / `only=binary` / `only=65536` restrict the cases (for profiling).
    let only: Vec<String> = args
        .iter()
        .filter_map(|a| a.strip_prefix("only=").map(String::from))
        .collect();
    let runs = if quick { 5 } else { 15 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    mask_bench(runs);
    let names = ["ws-proto", "tungstenite", "fastwebsockets"];
    let mut out = Vec::with_capacity(8 << 20);
    let mut bound_buf = Vec::with_capacity(READ_CHUNK);
    for kind in [Kind::Binary, Kind::Text] {
        for size in [16, 1024, 64 * 1024, 1 << 20] {
            let label = [
                if kind == Kind::Text { "text" } else { "binary" }.to_string(),
                size.to_string(),
            ];
            if !only.iter().all(|o| label.contains(o)) {
                continue;
            }
            let c = case(kind, size);
            // Decode: one decoder each, rewound to the start of the wire bytes before each
            // iteration (or made anew with `fresh`).
            let tung_pos = Rc::new(Cell::new(0));
            let fast_pos = Rc::new(Cell::new(0));
            let mut ours_dec = OursDecoder::new();
            let mut tung_dec = tungstenite_decoder(&c, &tung_pos);
            let mut fast_dec = fast_decoder(&c, &fast_pos);
            // Contenders: ws-proto, tungstenite, fastwebsockets and the bound, in the same
            // rounds.
            let bound_wire = bound_input(&c);
            let mut samples = vec![Vec::new(); 4];
            for run in 0..runs {
                for k in 0..4 {
                    let which = (run + k) % 4;
                    let s = match which {
                        0 => {
                            if fresh {
                                ours_dec = OursDecoder::new();
                            }
                            time(&mut || ours_decode(&c, &mut ours_dec))
                        }
                        1 => {
                            tung_pos.set(0);
                            if fresh {
                                tung_dec = tungstenite_decoder(&c, &tung_pos);
                            }
                            time(&mut || tungstenite_decode(&c, &mut tung_dec))
                        }
                        2 => {
                            fast_pos.set(0);
                            if fresh {
                                fast_dec = fast_decoder(&c, &fast_pos);
                            }
                            time(&mut || fast_decode(&rt, &c, &mut fast_dec))
                        }
                        _ => time(&mut || bound(&c, &bound_wire, &mut bound_buf)),
                    };
                    samples[which].push(s);
                }
            }
            let ratios = |v: &[Vec<f64>]| -> (f64, f64) {
                // Our ratio to the best peer, and our share of the bound, over the rounds.
                let r: Vec<f64> = (0..v[0].len())
                    .map(|i| v[1][i].min(v[2][i]) / v[0][i])
                    .collect();
                let b: Vec<f64> = (0..v[0].len()).map(|i| v[3][i] / v[0][i]).collect();
                (
                    r.iter().cloned().fold(f64::MAX, f64::min),
                    b.iter().cloned().fold(f64::MAX, f64::min),
                )
            };
            let (worst_ratio, worst_bound) = ratios(&samples);
            let med: Vec<f64> = samples.into_iter().map(median).collect();
            report("decode", &c, &names, &med[..3]);
            let bytes = (c.count * c.size) as f64;
            let best_peer = med[1].min(med[2]);
            println!(
                "       vs best peer x{:.2} (worst round x{:.2}); bound ({}) {:.1} MB/s: \
                 ws-proto at {:.0}% of it (worst round {:.0}%)",
                best_peer / med[0],
                worst_ratio,
                if kind == Kind::Text {
                    "each read copied once + validated"
                } else {
                    "each read copied once + unmasked"
                },
                bytes / med[3] / 1e6,
                100.0 * med[3] / med[0],
                100.0 * worst_bound
            );
            if args.iter().any(|a| a == "decode-only") {
                continue;
            }
            // Encode, all three from the same payload buffer.
            let ours_msg = match kind {
                Kind::Binary => MessageRef::Binary(&c.payload),
                Kind::Text => MessageRef::Text(std::str::from_utf8(&c.payload).unwrap()),
            };
            let tung_msg = match kind {
                Kind::Binary => tungstenite::Message::Binary(c.payload.clone()),
                Kind::Text => tungstenite::Message::Text(c.payload.clone().try_into().unwrap()),
            };
            let mut samples = vec![Vec::new(), Vec::new(), Vec::new()];
            for run in 0..runs {
                for k in 0..3 {
                    let which = (run + k) % 3;
                    let s = match which {
                        0 => time(&mut || ours_encode(&c, ours_msg.clone())),
                        1 => time(&mut || tungstenite_encode(&c, &tung_msg, &mut out)),
                        _ => time(&mut || fast_encode(&rt, &c, &mut out)),
                    };
                    samples[which].push(s);
                }
            }
            let med: Vec<f64> = samples.into_iter().map(median).collect();
            report("encode", &c, &names, &med);
        }
    }
}

//! Text messages through a server `Connection` against `core::str::from_utf8`: the payload
//! (arbitrary bytes) is masked, sent as one or two frames, and fed in arbitrary pieces. Valid
//! UTF-8 must come out as exactly that text; anything else must fail with `InvalidUtf8` and
//! produce no message. This checks the one-pass SIMD unmask + validate paths (payload pieces of
//! 64 bytes or more; whole messages of at most 125 bytes in one piece, with AVX-512; whole
//! single-frame messages of 126 bytes to 8 KiB in one piece, which skip the per-frame state) and
//! the two-step path (other short pieces), and the hand-over between them; the same pieces
//! read as a driver reads them (reads no larger than the room `input_buffer` offers) must
//! give the same outcome. libFuzzer's default
//! `-max_len` (4096) keeps payloads under 4 KiB.
//!
//! Input: key (4 bytes), fragment point (2 bytes, big-endian; 0 = one frame), number of cuts
//! (1 byte, at most 8), the cuts (2 bytes each, positions in the wire bytes), then the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::frame::{FrameHeader, Opcode};
use ws_proto::mask::apply_mask;
use ws_proto::{Config, Connection, Event, Instant, Message, ProtocolError};

fn frame(out: &mut Vec<u8>, fin: bool, opcode: Opcode, payload: &[u8], key: [u8; 4]) {
    FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    }
    .write(out);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key, 0);
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let key = [data[0], data[1], data[2], data[3]];
    let frag = usize::from(u16::from_be_bytes([data[4], data[5]]));
    let ncuts = usize::from(data[6] % 9);
    let rest = &data[7..];
    if rest.len() < ncuts * 2 {
        return;
    }
    let (cut_bytes, payload) = rest.split_at(ncuts * 2);

    let mut wire = Vec::new();
    if frag == 0 || frag >= payload.len() {
        frame(&mut wire, true, Opcode::Text, payload, key);
    } else {
        frame(&mut wire, false, Opcode::Text, &payload[..frag], key);
        // The second frame has its own key.
        frame(
            &mut wire,
            true,
            Opcode::Continuation,
            &payload[frag..],
            [key[3], key[0], key[2], key[1]],
        );
    }
    let mut cuts: Vec<usize> = cut_bytes
        .chunks(2)
        .map(|c| usize::from(u16::from_be_bytes([c[0], c[1]])) % (wire.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(wire.len());

    let run = |reads: bool| {
        let mut conn = Connection::server(Instant::ZERO, Config::default());
        let mut from = 0;
        let mut error = None;
        let mut messages = Vec::new();
        for &to in &cuts {
            let piece = &wire[from..to];
            let result = if reads {
                let mut rest = piece;
                loop {
                    let buf = conn.input_buffer();
                    let n = (buf.capacity() - buf.len()).min(rest.len());
                    buf.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    let r = conn.handle_input(Instant::ZERO);
                    if r.is_err() || rest.is_empty() {
                        break r;
                    }
                }
            } else {
                conn.input_buffer().extend_from_slice(piece);
                conn.handle_input(Instant::ZERO)
            };
            if let Err(e) = result {
                error = Some(e);
                break;
            }
            from = to;
            while let Some(ev) = conn.poll_event() {
                if let Event::Message(m) = ev {
                    messages.push(m);
                }
            }
        }
        (error, messages)
    };
    let (error, messages) = run(false);
    let reads = run(true);
    assert_eq!(reads.0, error, "reads: error");
    assert_eq!(reads.1, messages, "reads: messages");
    match core::str::from_utf8(payload) {
        Ok(text) => {
            assert!(error.is_none(), "valid text rejected: {error:?}");
            assert_eq!(messages.len(), 1);
            let Message::Text(t) = &messages[0] else {
                panic!("not text: {:?}", messages[0]);
            };
            assert_eq!(t.as_str(), text);
        }
        Err(_) => {
            assert!(
                matches!(error, Some(ProtocolError::InvalidUtf8)),
                "invalid text gave {error:?}"
            );
            assert!(messages.is_empty(), "invalid text delivered");
        }
    }
});

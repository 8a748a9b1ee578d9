//! `ServerHandshake` on arbitrary bytes split at arbitrary points.
//!
//! Input: `[limits selector][n][n × u16 cuts][request bytes]` (see `realtime_fuzz::Plan`).
//! Checks: never panics; the outcome (request fields, leftover bytes, or error) is the same
//! whole, in the chosen chunks and byte by byte; later input answers `Finished`; every
//! error's response is a well-formed HTTP response with its status; an accepted request can
//! always be answered with a 101 that our own client validates, and rejected with a 403.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use realtime_fuzz::Plan;
use ws_proto::handshake::{
    Accept, ClientHandshake, ClientOutcome, ClientRequest, HandshakeError, HandshakeLimits,
    Request, ServerHandshake,
};

/// What feeding some chunks produced, with the leftover made independent of chunking.
#[derive(Debug)]
enum Outcome {
    Pending,
    /// Every field of the request except its leftover, the request, and the bytes after
    /// the head (leftover plus later chunks).
    Request(String, Box<Request>, Vec<u8>),
    Error(HandshakeError),
}

impl PartialEq for Outcome {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Outcome::Pending, Outcome::Pending) => true,
            (Outcome::Request(a, _, ra), Outcome::Request(b, _, rb)) => a == b && ra == rb,
            (Outcome::Error(a), Outcome::Error(b)) => a == b,
            _ => false,
        }
    }
}

fn feed(limits: HandshakeLimits, chunks: &[&[u8]]) -> Outcome {
    let mut hs = ServerHandshake::new(limits);
    for (i, chunk) in chunks.iter().enumerate() {
        match hs.handle_input(chunk) {
            Ok(None) => {}
            Ok(Some(req)) => {
                // Bytes after the head: the leftover of this chunk, then every later chunk.
                let mut rest = req.leftover().to_vec();
                for later in &chunks[i + 1..] {
                    rest.extend_from_slice(later);
                }
                assert_eq!(hs.handle_input(b"x"), Err(HandshakeError::Finished));
                let view = format!(
                    "{} {} {:?} {} {:?} {:?} {:?} {:?} {:?}",
                    req.method(),
                    req.path(),
                    req.query(),
                    req.host(),
                    req.origin(),
                    req.key(),
                    req.protocols(),
                    req.extensions(),
                    req.headers().iter().collect::<Vec<_>>(),
                );
                return Outcome::Request(view, Box::new(req), rest);
            }
            Err(e) => {
                assert_ne!(e, HandshakeError::Finished);
                assert_eq!(hs.handle_input(b"x"), Err(HandshakeError::Finished));
                return Outcome::Error(e);
            }
        }
    }
    Outcome::Pending
}

fn limits_from(sel: u8, plan: &mut Plan<'_>) -> HandshakeLimits {
    if sel < 128 {
        return HandshakeLimits::default();
    }
    HandshakeLimits {
        max_head_size: usize::from(plan.u16() % 2048),
        max_headers: usize::from(plan.u8() % 24),
        max_protocols: usize::from(plan.u8() % 8),
        max_extensions: usize::from(plan.u8() % 8),
        max_extension_params: usize::from(plan.u8() % 8),
    }
}

/// Splits a response into head and body, checking the status line and Content-Length.
fn check_response(out: &[u8], status: u16) {
    let text = std::str::from_utf8(out).expect("responses are UTF-8");
    let want = format!("HTTP/1.1 {status} ");
    assert!(text.starts_with(&want), "{text:?}");
    let (head, body) = text.split_once("\r\n\r\n").expect("head ends");
    let len = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .parse::<usize>()
        .expect("decimal");
    assert_eq!(len, body.len(), "{text:?}");
    for line in head.split("\r\n") {
        assert!(line.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f)));
    }
}

fn check_accepted(req: &Request) {
    // The key is base64 of 16 bytes: rebuild the client that sent it.
    let key: [u8; 16] = base64::engine::general_purpose::STANDARD
        .decode(req.key().expect("an HTTP/1.1 request has a key"))
        .expect("validated key")
        .try_into()
        .expect("16 bytes");
    let mut creq = ClientRequest::new("h", "/", key);
    creq.protocols = req.protocols().to_vec();
    if !req.extensions().is_empty() {
        // Display of a parsed offer list must parse back (within the same limits).
        let offers: Vec<String> = req.extensions().iter().map(|e| e.to_string()).collect();
        creq.extensions = Some(offers.join(", "));
    }
    let mut client = ClientHandshake::new(&creq, HandshakeLimits::default())
        .unwrap_or_else(|e| panic!("client for {req:?}: {e}"));
    assert_eq!(Some(client.key()), req.key());

    let ext_name = req.extensions().first().map(|e| e.name.clone());
    let accept = Accept {
        protocol: req.protocols().first().map(String::as_str),
        extensions: ext_name.as_deref(),
        headers: &[("X-Fuzz", "1")],
    };
    let mut out = Vec::new();
    req.accept(&accept, &mut out)
        .expect("accepting what was offered");
    out.extend_from_slice(b"\x81\x00");
    match client.handle_input(&out) {
        Ok(Some(ClientOutcome::Accepted(a))) => {
            assert_eq!(a.protocol(), accept.protocol);
            assert_eq!(
                a.extensions().first().map(|e| e.name.as_str()),
                ext_name.as_deref()
            );
            assert_eq!(a.leftover(), b"\x81\x00");
        }
        other => panic!("our 101 for {req:?} refused: {other:?}"),
    }

    // A protocol that was not offered is refused, writing nothing.
    let mut none = Vec::new();
    let bad = Accept {
        protocol: Some("not offered, ever"),
        ..Accept::default()
    };
    assert!(req.accept(&bad, &mut none).is_err());
    assert!(none.is_empty());

    let mut rej = Vec::new();
    req.reject(403, &[("X-Why", "fuzz")], b"no", &mut rej)
        .expect("valid rejection");
    check_response(&rej, 403);
}

fuzz_target!(|data: &[u8]| {
    let mut plan = Plan::new(data);
    let sel = plan.u8();
    let limits = limits_from(sel, &mut plan);
    let (chunks, payload) = plan.chunks();

    let whole = feed(limits, &[payload]);
    let split = feed(limits, &chunks);
    assert_eq!(
        split,
        whole,
        "chunks {:?}",
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
    );
    if payload.len() <= 4096 {
        let bytes: Vec<&[u8]> = payload.chunks(1).collect();
        assert_eq!(feed(limits, &bytes), whole, "byte by byte");
    }

    match whole {
        Outcome::Pending => {}
        Outcome::Error(e) => {
            let _ = e.to_string();
            let mut out = Vec::new();
            let wrote = e.write_response(&mut out);
            assert_eq!(wrote, e.status().is_some());
            match e.status() {
                Some(status) => check_response(&out, status),
                None => assert!(out.is_empty()),
            }
        }
        Outcome::Request(_, req, rest) => {
            assert_eq!(req.leftover(), &rest[..]);
            assert_eq!(req.method(), "GET");
            assert!(rest.len() <= payload.len());
            assert!(payload.ends_with(&rest));
            check_accepted(&req);
        }
    }
});

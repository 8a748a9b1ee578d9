//! `ClientHandshake` response parsing on arbitrary bytes split at arbitrary points.
//!
//! Input: `[limits selector][n][n × u16 cuts][response bytes]`. The client offers the
//! subprotocols `chat` and `superchat` and the extensions `permessage-deflate;
//! client_max_window_bits, x-webkit-deflate-frame` with the key of RFC 6455's example
//! (`dGhlIHNhbXBsZSBub25jZQ==`, accept `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`), so seeds can reach
//! the 101 path. Checks: never panics; the outcome is the same whole, in chunks and byte by
//! byte; later input answers `Finished`; an accepted response only names what was offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_fuzz::Plan;
use ws_proto::handshake::{
    ClientHandshake, ClientOutcome, ClientRequest, HandshakeError, HandshakeLimits,
};

/// The key bytes of RFC 6455 section 1.3's example ("the sample nonce").
const KEY: [u8; 16] = *b"the sample nonce";

#[derive(Debug, PartialEq)]
enum Outcome {
    Pending,
    Done(ClientOutcome, Vec<u8>),
    Error(HandshakeError),
}

fn leftover(o: &ClientOutcome) -> &[u8] {
    match o {
        ClientOutcome::Accepted(a) => a.leftover(),
        ClientOutcome::Rejected(r) => r.leftover(),
    }
}

fn client(limits: HandshakeLimits) -> ClientHandshake {
    let req = ClientRequest::new("example.com", "/chat", KEY)
        .protocol("chat")
        .protocol("superchat")
        .extensions("permessage-deflate; client_max_window_bits, x-webkit-deflate-frame");
    let hs = ClientHandshake::new(&req, limits).expect("valid request");
    assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    hs
}

fn feed(limits: HandshakeLimits, chunks: &[&[u8]]) -> Outcome {
    let mut hs = client(limits);
    for (i, chunk) in chunks.iter().enumerate() {
        match hs.handle_input(chunk) {
            Ok(None) => {}
            Ok(Some(outcome)) => {
                let mut rest = leftover(&outcome).to_vec();
                for later in &chunks[i + 1..] {
                    rest.extend_from_slice(later);
                }
                assert_eq!(hs.handle_input(b"x"), Err(HandshakeError::Finished));
                return Outcome::Done(outcome, rest);
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

/// A finished response: accepted?, status, reason or accepted details, headers, rest.
type Done = (bool, u16, String, Vec<(String, String)>, Vec<u8>);

/// The outcome with the leftover normalised (only the concatenated rest is compared).
fn normalise(o: Outcome) -> (Option<Done>, Option<HandshakeError>, bool) {
    match o {
        Outcome::Pending => (None, None, true),
        Outcome::Error(e) => (None, Some(e), false),
        Outcome::Done(ClientOutcome::Accepted(a), rest) => {
            let h = a
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            let desc = format!("{:?} {:?}", a.protocol(), a.extensions());
            (Some((true, 101, desc, h, rest)), None, false)
        }
        Outcome::Done(ClientOutcome::Rejected(r), rest) => {
            let h = r
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            (
                Some((false, r.status(), r.reason().to_string(), h, rest)),
                None,
                false,
            )
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut plan = Plan::new(data);
    let limits = if plan.u8() < 128 {
        HandshakeLimits::default()
    } else {
        HandshakeLimits {
            max_head_size: usize::from(plan.u16() % 2048),
            max_headers: usize::from(plan.u8() % 24),
            max_protocols: usize::from(plan.u8() % 8),
            max_extensions: 2 + usize::from(plan.u8() % 8),
            max_extension_params: 1 + usize::from(plan.u8() % 8),
        }
    };
    let (chunks, payload) = plan.chunks();

    let whole_raw = feed(limits, &[payload]);
    if let Outcome::Done(ClientOutcome::Accepted(a), _) = &whole_raw {
        assert!(matches!(
            a.protocol(),
            None | Some("chat") | Some("superchat")
        ));
        for e in a.extensions() {
            assert!(
                e.name.eq_ignore_ascii_case("permessage-deflate")
                    || e.name.eq_ignore_ascii_case("x-webkit-deflate-frame"),
                "{e:?} was not offered"
            );
        }
    }
    if let Outcome::Done(o, rest) = &whole_raw {
        assert_eq!(leftover(o), &rest[..]);
        assert!(payload.ends_with(rest));
    }
    if let Outcome::Error(e) = &whole_raw {
        let _ = e.to_string();
        let mut out = Vec::new();
        // A client never answers with an HTTP response, except for errors in the head's
        // syntax (shared with the server), where the response is simply not sent.
        let wrote = e.write_response(&mut out);
        assert_eq!(wrote, !out.is_empty());
    }
    let whole = normalise(whole_raw);
    let split = normalise(feed(limits, &chunks));
    assert_eq!(
        split,
        whole,
        "chunks {:?}",
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
    );
    if payload.len() <= 4096 {
        let bytes: Vec<&[u8]> = payload.chunks(1).collect();
        assert_eq!(normalise(feed(limits, &bytes)), whole, "byte by byte");
    }
});

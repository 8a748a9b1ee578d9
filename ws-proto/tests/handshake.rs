//! Opening handshake through the public API: full conversations in memory, chunking, and
//! regression tests for past vulnerabilities of WebSocket libraries.

use ws_proto::handshake::{
    accept_key, parse_extension_list, Accept, ClientHandshake, ClientOutcome, ClientRequest,
    ExtensionParseError, HandshakeError, HandshakeLimits, Request, ServerHandshake,
};

/// Feeds `bytes` in chunks of `size` until the server returns the request or an error.
fn serve(bytes: &[u8], size: usize, limits: HandshakeLimits) -> Result<Request, HandshakeError> {
    let mut server = ServerHandshake::new(limits);
    for chunk in bytes.chunks(size) {
        if let Some(r) = server.handle_input(chunk)? {
            return Ok(r);
        }
    }
    panic!("request head never completed");
}

fn request_with(extra: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

#[test]
fn rfc6455_example_key() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn full_conversation_under_every_chunk_size() {
    let req = ClientRequest::new("example.com:8080", "/ws?token=abc", *b"0123456789abcdef")
        .protocol("v2.chat")
        .protocol("v1.chat")
        .extensions("permessage-deflate; client_max_window_bits; server_max_window_bits=10")
        .header("Origin", "https://example.com")
        .header("Cookie", "a=1; b=2");
    for size in 1..=64 {
        let mut client = ClientHandshake::new(&req, HandshakeLimits::default()).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire);
        wire.extend_from_slice(b"\x81\x80abcd"); // first client frame, right behind the head
        let request = serve(&wire, size, HandshakeLimits::default()).unwrap();
        assert_eq!(request.host(), "example.com:8080");
        assert_eq!(
            (request.path(), request.query()),
            ("/ws", Some("token=abc"))
        );
        assert_eq!(request.origin(), Some("https://example.com"));
        assert_eq!(request.header("COOKIE"), Some("a=1; b=2"));
        assert_eq!(request.protocols(), ["v2.chat", "v1.chat"]);
        assert_eq!(request.extensions()[0].name, "permessage-deflate");
        assert_eq!(request.key(), Some(client.key()));

        let mut back = Vec::new();
        let accept = Accept {
            protocol: Some("v1.chat"),
            extensions: Some("permessage-deflate; server_max_window_bits=10"),
            headers: &[("Set-Cookie", "session=1")],
        };
        request.accept(&accept, &mut back).unwrap();
        let head_len = back.len();
        back.extend_from_slice(b"\x81\x02hi\x88\x00");
        let mut outcome = None;
        let mut after = Vec::new();
        for chunk in back.chunks(size) {
            if outcome.is_some() {
                after.extend_from_slice(chunk);
            } else {
                outcome = client.handle_input(chunk).unwrap();
            }
        }
        let Some(ClientOutcome::Accepted(accepted)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(accepted.protocol(), Some("v1.chat"));
        assert_eq!(
            accepted.extensions()[0].to_string(),
            "permessage-deflate; server_max_window_bits=10"
        );
        assert_eq!(accepted.headers().get("set-cookie"), Some("session=1"));
        let mut leftover = accepted.leftover().to_vec();
        leftover.extend_from_slice(&after);
        assert_eq!(leftover, &back[head_len..], "chunk size {size}");
    }
}

/// tungstenite CVE-2023-43669: a huge head sent slowly. 1 MiB in 4-byte chunks is refused
/// once 16 KiB + 1 bytes have arrived (the linear-work counter is checked in the unit tests).
#[test]
fn slow_one_mebibyte_head_is_refused_by_the_size_limit() {
    let mut wire = request_with("");
    wire.truncate(wire.len() - 2);
    wire.extend_from_slice(b"X-Slow: ");
    wire.resize(1 << 20, b'x');
    let mut server = ServerHandshake::new(HandshakeLimits::default());
    let mut fed = 0;
    let err = wire
        .chunks(4)
        .find_map(|c| {
            fed += c.len();
            server.handle_input(c).err()
        })
        .expect("refused");
    assert_eq!(
        err,
        HandshakeError::HeadTooLarge {
            limit: HandshakeLimits::DEFAULT_MAX_HEAD_SIZE
        }
    );
    assert!(
        fed <= HandshakeLimits::DEFAULT_MAX_HEAD_SIZE + 4,
        "fed {fed}"
    );
    let mut out = Vec::new();
    assert!(err.write_response(&mut out));
    assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    assert_eq!(server.handle_input(b"more"), Err(HandshakeError::Finished));
}

/// ws CVE-2024-37890: a flood of headers. Refused with its own error (431) at header 65.
#[test]
fn header_count_flood_has_its_own_error() {
    let flood: String = (0..5000).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let wire = request_with(&flood);
    let limits = HandshakeLimits {
        max_head_size: 1 << 20,
        ..HandshakeLimits::default()
    };
    for size in [1, 3, 1000, wire.len()] {
        let err = serve(&wire, size, limits).unwrap_err();
        assert_eq!(err, HandshakeError::TooManyHeaders { limit: 64 });
        assert_eq!(err.status(), Some(431));
    }
    // Exactly the limit is fine (5 handshake headers + 59 extra = 64).
    let ok: String = (0..59).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    assert!(serve(&request_with(&ok), 5, limits).is_ok());
    let over: String = (0..60).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    assert_eq!(
        serve(&request_with(&over), 5, limits).unwrap_err(),
        HandshakeError::TooManyHeaders { limit: 64 }
    );
}

/// Huge Sec-WebSocket-Protocol lists (GHSA-5v72-xg48-5rpm, CVE-2021-32640): bounded by
/// max_protocols whether in one line or spread over lines, even with a raised head limit.
#[test]
fn huge_protocol_lists_are_bounded() {
    let limits = HandshakeLimits {
        max_head_size: 4 << 20,
        max_headers: 100_000,
        ..HandshakeLimits::default()
    };
    let one_line = format!(
        "Sec-WebSocket-Protocol: {}\r\n",
        vec!["p"; 500_000].join(",")
    );
    let many_lines: String = (0..40)
        .map(|i| format!("Sec-WebSocket-Protocol: p{i}\r\n"))
        .collect();
    for extra in [one_line, many_lines] {
        let err = serve(&request_with(&extra), 4096, limits).unwrap_err();
        assert_eq!(err, HandshakeError::TooManyProtocols { limit: 32 });
        assert_eq!(err.status(), Some(400));
    }
    // Empty elements and odd bytes.
    let commas = format!("Sec-WebSocket-Protocol: {}a\r\n", ",".repeat(10_000));
    assert_eq!(
        serve(&request_with(&commas), 512, limits)
            .unwrap()
            .protocols(),
        ["a"]
    );
    for bad in ["a b", "a;b", "\"a\"", "a\u{7f}", "a/b", "a=b"] {
        let extra = format!("Sec-WebSocket-Protocol: {bad}\r\n");
        let got = serve(&request_with(&extra), 7, limits)
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(
                got,
                HandshakeError::InvalidProtocolList | HandshakeError::MalformedHead { .. }
            ),
            "{bad:?}: {got:?}"
        );
    }
}

/// Odd extension names and huge extension lists (ws GHSA / CVE-2021-32640 family).
#[test]
fn odd_and_huge_extension_lists() {
    let limits = HandshakeLimits {
        max_head_size: 1 << 20,
        ..HandshakeLimits::default()
    };
    let cases: &[(&str, ExtensionParseError)] = &[
        (
            "\"quoted\"",
            ExtensionParseError::ExpectedExtensionName { at: 0 },
        ),
        ("a=b", ExtensionParseError::UnexpectedCharacter { at: 1 }),
        (
            "a;b=\"c",
            ExtensionParseError::UnterminatedQuotedString { at: 4 },
        ),
        (
            "__proto__;constructor=\"x y\"",
            ExtensionParseError::QuotedValueNotToken { at: 22 },
        ),
        (
            "a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q;r",
            ExtensionParseError::TooManyParams { limit: 16 },
        ),
    ];
    for (value, want) in cases {
        let extra = format!("Sec-WebSocket-Extensions: {value}\r\n");
        let err = serve(&request_with(&extra), 3, limits).unwrap_err();
        assert_eq!(
            err,
            HandshakeError::InvalidExtensions(want.clone()),
            "{value:?}"
        );
        assert_eq!(err.status(), Some(400));
    }
    let huge = format!(
        "Sec-WebSocket-Extensions: {}\r\n",
        vec!["x"; 200_000].join(", ")
    );
    assert_eq!(
        serve(&request_with(&huge), 4096, limits).unwrap_err(),
        HandshakeError::InvalidExtensions(ExtensionParseError::TooManyExtensions { limit: 16 })
    );
    // The grammar parser itself: a benign list, whitespace everywhere.
    let list = parse_extension_list(" a ; b = 1 ,, c ").unwrap();
    assert_eq!(
        list.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        ["a; b=1", "c"]
    );
}

/// A client that never checks Sec-WebSocket-Accept is a known bug in other crates.
#[test]
fn wrong_or_missing_accept_is_rejected() {
    let req = ClientRequest::new("h", "/", [9; 16]);
    let good = accept_key(
        ClientHandshake::new(&req, HandshakeLimits::default())
            .unwrap()
            .key(),
    );
    let other = accept_key("dGhlIHNhbXBsZSBub25jZQ==");
    let cases = [
        (String::new(), HandshakeError::MissingAccept),
        (
            format!("Sec-WebSocket-Accept: {other}\r\n"),
            HandshakeError::AcceptMismatch,
        ),
        (
            format!("Sec-WebSocket-Accept: {}\r\n", good.to_lowercase()),
            HandshakeError::AcceptMismatch,
        ),
        (
            format!("Sec-WebSocket-Accept: {good}\r\nSec-WebSocket-Accept: {other}\r\n"),
            HandshakeError::DuplicateHeader {
                name: "Sec-WebSocket-Accept",
            },
        ),
    ];
    for (line, want) in cases {
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{line}\r\n"
        );
        for size in [1, 2, resp.len()] {
            let mut client = ClientHandshake::new(&req, HandshakeLimits::default()).unwrap();
            let got = resp
                .as_bytes()
                .chunks(size)
                .find_map(|c| client.handle_input(c).transpose());
            assert_eq!(got, Some(Err(want.clone())), "{line:?}");
        }
    }
    let resp = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {good}\r\n\r\n");
    let mut client = ClientHandshake::new(&req, HandshakeLimits::default()).unwrap();
    assert!(matches!(
        client.handle_input(resp.as_bytes()),
        Ok(Some(ClientOutcome::Accepted(_)))
    ));
}

#[test]
fn version_errors_answer_426_with_the_supported_version() {
    let wire = String::from_utf8(request_with(""))
        .unwrap()
        .replace("Version: 13", "Version: 8");
    let err = serve(wire.as_bytes(), 1, HandshakeLimits::default()).unwrap_err();
    assert_eq!(err, HandshakeError::UnsupportedVersion);
    let mut out = Vec::new();
    assert!(err.write_response(&mut out));
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
}

//! The opening handshake over HTTP/2 (RFC 8441 extended CONNECT) through the public API: the
//! client's request fields, the server's checks and answer, the client's check of the answer.

use ws_proto::handshake::{
    Accept, ClientOutcome, ClientRequest, ExtendedConnect, HandshakeError, HandshakeForm,
    HandshakeLimits, Headers, Request, EXTENDED_CONNECT_PROTOCOL,
};

fn headers(pairs: &[(&str, &str)]) -> Headers {
    Headers::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_bytes()))).unwrap()
}

fn owned_headers(pairs: &[(String, String)]) -> Headers {
    Headers::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))).unwrap()
}

/// A server-side check of an extended CONNECT with these parts.
fn connect(
    method: &str,
    protocol: Option<&str>,
    target: &str,
    authority: Option<&str>,
    fields: &[(&str, &str)],
) -> Result<Request, HandshakeError> {
    Request::from_extended_connect(
        method,
        protocol,
        target,
        authority,
        headers(fields),
        HandshakeLimits::default(),
    )
}

const VERSION: (&str, &str) = ("sec-websocket-version", "13");

#[test]
fn a_whole_extended_connect_handshake() {
    let request = ClientRequest::new("example.com:8443", "/chat?room=1", [0; 16])
        .protocol("chat.v2")
        .protocol("chat.v1")
        .extensions("permessage-deflate; client_max_window_bits")
        .header("origin", "https://example.com");
    let client = ExtendedConnect::new(&request, HandshakeLimits::default()).unwrap();
    assert_eq!(client.authority(), "example.com:8443");
    assert_eq!(client.path_and_query(), "/chat?room=1");
    let names: Vec<&str> = client.headers().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "sec-websocket-version",
            "sec-websocket-protocol",
            "sec-websocket-extensions",
            "origin"
        ]
    );

    let server = Request::from_extended_connect(
        "CONNECT",
        Some(EXTENDED_CONNECT_PROTOCOL),
        client.path_and_query(),
        Some(client.authority()),
        owned_headers(client.headers()),
        HandshakeLimits::default(),
    )
    .unwrap();
    assert_eq!(server.form(), HandshakeForm::ExtendedConnect);
    assert_eq!(server.method(), "CONNECT");
    assert_eq!((server.path(), server.query()), ("/chat", Some("room=1")));
    assert_eq!(server.host(), "example.com:8443");
    assert_eq!(server.origin(), Some("https://example.com"));
    assert_eq!(server.protocols(), ["chat.v2", "chat.v1"]);
    assert_eq!(server.extensions()[0].name, "permessage-deflate");
    assert_eq!(server.key(), None);
    assert_eq!(server.accept_status(), 200);

    let accept = Accept {
        protocol: Some("chat.v1"),
        extensions: Some("permessage-deflate; client_max_window_bits=15"),
        headers: &[("set-cookie", "a=1")],
    };
    let answer = server.accept_headers(&accept).unwrap();
    let names: Vec<&str> = answer.iter().map(|(n, _)| n.as_str()).collect();
    // No Upgrade, Connection or Sec-WebSocket-Accept: HTTP/2 has none of them.
    assert_eq!(
        names,
        [
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions",
            "set-cookie"
        ]
    );
    // The HTTP/1.1 writers refuse, writing nothing.
    let mut out = Vec::new();
    assert_eq!(
        server.accept(&accept, &mut out),
        Err(HandshakeError::NotHttp11)
    );
    assert_eq!(
        server.reject(403, &[], b"no", &mut out),
        Err(HandshakeError::NotHttp11)
    );
    assert!(out.is_empty());
    assert_eq!(HandshakeError::NotHttp11.status(), None);

    match client.handle_response(200, owned_headers(&answer)).unwrap() {
        ClientOutcome::Accepted(accepted) => {
            assert_eq!(accepted.protocol(), Some("chat.v1"));
            assert_eq!(accepted.extensions()[0].name, "permessage-deflate");
            assert!(accepted.leftover().is_empty());
        }
        other => panic!("not accepted: {other:?}"),
    }
}

#[test]
fn the_server_refuses_what_rfc_8441_forbids_each_with_its_own_error() {
    let ok = Some("websocket");
    let host = Some("h");
    let cases: Vec<(Result<Request, HandshakeError>, HandshakeError, u16)> = vec![
        (
            connect("GET", None, "/", host, &[VERSION]),
            HandshakeError::NotExtendedConnect,
            400,
        ),
        (
            connect("POST", ok, "/", host, &[VERSION]),
            HandshakeError::NotExtendedConnect,
            400,
        ),
        (
            connect("CONNECT", None, "/", host, &[VERSION]),
            HandshakeError::MissingProtocolPseudoHeader,
            400,
        ),
        (
            connect("CONNECT", Some("webtransport"), "/", host, &[VERSION]),
            HandshakeError::UnsupportedProtocolPseudoHeader,
            400,
        ),
        (
            connect("CONNECT", ok, "/", host, &[]),
            HandshakeError::MissingVersion,
            426,
        ),
        (
            connect("CONNECT", ok, "/", host, &[("sec-websocket-version", "8")]),
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            connect("CONNECT", ok, "/", None, &[VERSION]),
            HandshakeError::MissingHost,
            400,
        ),
        (
            connect("CONNECT", ok, "/", Some(" "), &[VERSION]),
            HandshakeError::MissingHost,
            400,
        ),
        (
            connect("CONNECT", ok, "*", host, &[VERSION]),
            HandshakeError::InvalidRequestTarget,
            400,
        ),
        (
            connect("CONNECT", ok, "wss://h/", host, &[VERSION]),
            HandshakeError::InvalidRequestTarget,
            400,
        ),
        (
            connect("CONNECT", ok, "/#frag", host, &[VERSION]),
            HandshakeError::InvalidRequestTarget,
            400,
        ),
        (
            connect(
                "CONNECT",
                ok,
                "/",
                host,
                &[VERSION, ("sec-websocket-protocol", "a b")],
            ),
            HandshakeError::InvalidProtocolList,
            400,
        ),
    ];
    for (got, want, status) in cases {
        assert_eq!(got.as_ref().err(), Some(&want), "{got:?}");
        assert_eq!(want.status(), Some(status), "{want}");
    }
    for field in ["connection", "upgrade", "keep-alive", "transfer-encoding"] {
        let got = connect("CONNECT", ok, "/", host, &[VERSION, (field, "x")]);
        assert!(
            matches!(got, Err(HandshakeError::MalformedHead { .. })),
            "{field}: {got:?}"
        );
    }
}

#[test]
fn what_the_server_tolerates() {
    // The token compares case-insensitively; a key some clients still send is ignored.
    let r = connect(
        "CONNECT",
        Some("WebSocket"),
        "/",
        Some("h"),
        &[VERSION, ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")],
    )
    .unwrap();
    assert_eq!(r.key(), None);
    assert_eq!(r.path(), "/");
    // Without offers the answer is empty.
    assert!(r.accept_headers(&Accept::default()).unwrap().is_empty());
    // Choosing what was not offered is refused as over HTTP/1.1.
    let chose = Accept {
        protocol: Some("chat"),
        ..Accept::default()
    };
    assert_eq!(
        r.accept_headers(&chose),
        Err(HandshakeError::ProtocolNotOffered)
    );
}

#[test]
fn error_answers_over_http2_carry_no_connection_specific_field() {
    for e in [
        HandshakeError::MissingVersion,
        HandshakeError::NotAnUpgrade,
        HandshakeError::MethodNotAllowed,
        HandshakeError::NotExtendedConnect,
    ] {
        let h2 = e.http2_response_headers();
        assert!(h2
            .iter()
            .all(|(n, _)| !n.eq_ignore_ascii_case("connection")
                && !n.eq_ignore_ascii_case("upgrade")));
        assert!(h2.iter().any(|(n, _)| *n == "Content-Type"), "{e}: {h2:?}");
        let h1 = e.response_headers();
        assert_eq!(
            h1.len(),
            h2.len()
                + h1.iter()
                    .filter(|(n, _)| *n == "Connection" || *n == "Upgrade")
                    .count()
        );
    }
    assert!(HandshakeError::MissingVersion
        .http2_response_headers()
        .contains(&("Sec-WebSocket-Version", "13")));
    assert!(HandshakeError::AcceptMismatch
        .http2_response_headers()
        .is_empty());
}

#[test]
fn the_client_checks_the_answer() {
    let request = ClientRequest::new("h", "/", [0; 16])
        .protocol("chat")
        .extensions("permessage-deflate");
    let client = ExtendedConnect::new(&request, HandshakeLimits::default()).unwrap();
    // Any other status is a rejection the caller decides about, with its headers.
    match client
        .handle_response(403, headers(&[("x-why", "banned")]))
        .unwrap()
    {
        ClientOutcome::Rejected(r) => {
            assert_eq!((r.status(), r.reason()), (403, "Forbidden"));
            assert_eq!(r.headers().get("x-why"), Some("banned"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client
            .handle_response(200, headers(&[("sec-websocket-protocol", "other")]))
            .err(),
        Some(HandshakeError::ProtocolNotOffered)
    );
    assert_eq!(
        client
            .handle_response(200, headers(&[("sec-websocket-extensions", "x-custom")]))
            .err(),
        Some(HandshakeError::ExtensionNotOffered {
            name: "x-custom".into()
        })
    );
    assert!(matches!(
        client.handle_response(200, headers(&[])),
        Ok(ClientOutcome::Accepted(a)) if a.protocol().is_none() && a.extensions().is_empty()
    ));
    // The request is validated as over HTTP/1.1, nothing reserved repeated.
    let bad = ClientRequest::new("h", "/", [0; 16]).header("sec-websocket-version", "13");
    assert_eq!(
        ExtendedConnect::new(&bad, HandshakeLimits::default()).err(),
        Some(HandshakeError::ReservedHeader {
            name: "sec-websocket-version".into()
        })
    );
    let bad = ClientRequest::new("h", "no-slash", [0; 16]);
    assert_eq!(
        ExtendedConnect::new(&bad, HandshakeLimits::default()).err(),
        Some(HandshakeError::InvalidPathAndQuery)
    );
}

//! Property tests: a built client request parses on the server side to the same values, and
//! the server's 101 is accepted by the client, under random chunking; the extension grammar
//! round-trips; arbitrary bytes never panic either side. The same requests round-trip over
//! HTTP/2 (RFC 8441 extended CONNECT).

use base64::Engine as _;
use proptest::prelude::*;
use ws_proto::handshake::{
    parse_extension_list, Accept, ClientHandshake, ClientOutcome, ClientRequest, ExtendedConnect,
    ExtensionOffer, ExtensionParam, HandshakeLimits, Headers, Request, ServerHandshake,
    EXTENDED_CONNECT_PROTOCOL,
};

const TOKEN: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}";

fn extension_offer() -> impl Strategy<Value = ExtensionOffer> {
    (
        TOKEN,
        prop::collection::vec((TOKEN, prop::option::of(TOKEN)), 0..4),
    )
        .prop_map(|(name, params)| ExtensionOffer {
            name,
            params: params
                .into_iter()
                .map(|(name, value)| ExtensionParam { name, value })
                .collect(),
        })
}

#[derive(Debug, Clone)]
struct Case {
    request: ClientRequest,
    chunks: Vec<usize>,
    client_frames: Vec<u8>,
    server_frames: Vec<u8>,
    chosen_protocol: Option<prop::sample::Index>,
    chosen_extensions: Vec<prop::sample::Index>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        "[a-z0-9-]{1,12}(\\.[a-z]{2,5})?(:[0-9]{1,5})?",
        "/[A-Za-z0-9/._~%-]{0,16}(\\?[A-Za-z0-9=&%/?-]{0,16})?",
        any::<[u8; 16]>(),
        prop::collection::vec(TOKEN, 0..6),
        prop::collection::vec(extension_offer(), 0..4),
        prop::collection::vec(("X-[A-Za-z0-9-]{1,8}", "[!-~]([ -~]{0,20}[!-~])?"), 0..5),
        (
            prop::collection::vec(1usize..40, 1..20),
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(any::<u8>(), 0..40),
            prop::option::of(any::<prop::sample::Index>()),
            prop::collection::vec(any::<prop::sample::Index>(), 0..3),
        ),
    )
        .prop_map(
            |(host, path, key, protocols, offers, headers, (chunks, cf, sf, cp, ce))| {
                let extensions = (!offers.is_empty()).then(|| {
                    offers
                        .iter()
                        .map(|o| o.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                Case {
                    request: ClientRequest {
                        host,
                        path_and_query: path,
                        key,
                        protocols,
                        extensions,
                        headers,
                    },
                    chunks,
                    client_frames: cf,
                    server_frames: sf,
                    chosen_protocol: cp,
                    chosen_extensions: ce,
                }
            },
        )
}

/// Splits `bytes` by the cyclic list of chunk sizes.
fn chunked<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_and_response_round_trip(c in case()) {
        let limits = HandshakeLimits::default();
        let mut client = ClientHandshake::new(&c.request, limits).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire);
        let head_len = wire.len();
        wire.extend_from_slice(&c.client_frames);

        // Server side, under random chunking.
        let mut server = ServerHandshake::new(limits);
        let mut request = None;
        let mut after = Vec::new();
        for chunk in chunked(&wire, &c.chunks) {
            if request.is_some() {
                after.extend_from_slice(chunk);
            } else {
                request = server.handle_input(chunk).unwrap();
            }
        }
        let request = request.expect("request complete");
        let (path, query) = match c.request.path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (c.request.path_and_query.as_str(), None),
        };
        prop_assert_eq!(request.path(), path);
        prop_assert_eq!(request.query(), query);
        prop_assert_eq!(request.host(), c.request.host.as_str());
        let key = base64::engine::general_purpose::STANDARD.encode(c.request.key);
        prop_assert_eq!(request.key(), Some(key.as_str()));
        prop_assert_eq!(request.protocols(), c.request.protocols.as_slice());
        let offered = match &c.request.extensions {
            Some(v) => parse_extension_list(v).unwrap(),
            None => Vec::new(),
        };
        prop_assert_eq!(request.extensions(), offered.as_slice());
        for (name, value) in &c.request.headers {
            prop_assert!(request.headers().get_all(name).any(|v| v == value));
        }
        let mut leftover = request.leftover().to_vec();
        leftover.extend_from_slice(&after);
        prop_assert_eq!(&leftover, &wire[head_len..]);

        // The server accepts with a protocol and extensions the client offered.
        let protocol = c.chosen_protocol
            .filter(|_| !request.protocols().is_empty())
            .map(|i| i.get(request.protocols()).clone());
        let chosen: Vec<ExtensionOffer> = if request.extensions().is_empty() {
            Vec::new()
        } else {
            c.chosen_extensions.iter().map(|i| i.get(request.extensions()).clone()).collect()
        };
        let ext_value = chosen.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
        let accept = Accept {
            protocol: protocol.as_deref(),
            extensions: (!chosen.is_empty()).then_some(ext_value.as_str()),
            headers: &[("X-Server", "1")],
        };
        let mut back = Vec::new();
        request.accept(&accept, &mut back).unwrap();
        let head_len = back.len();
        back.extend_from_slice(&c.server_frames);

        let mut outcome = None;
        let mut after = Vec::new();
        for chunk in chunked(&back, &c.chunks) {
            if outcome.is_some() {
                after.extend_from_slice(chunk);
            } else {
                outcome = client.handle_input(chunk).unwrap();
            }
        }
        let Some(ClientOutcome::Accepted(accepted)) = outcome else {
            panic!("not accepted: {outcome:?}");
        };
        prop_assert_eq!(accepted.protocol(), protocol.as_deref());
        prop_assert_eq!(accepted.extensions(), chosen.as_slice());
        prop_assert_eq!(accepted.headers().get("x-server"), Some("1"));
        let mut leftover = accepted.leftover().to_vec();
        leftover.extend_from_slice(&after);
        prop_assert_eq!(&leftover, &back[head_len..]);
    }

    #[test]
    fn extended_connect_round_trip(c in case()) {
        let limits = HandshakeLimits::default();
        let client = ExtendedConnect::new(&c.request, limits).unwrap();
        let fields = |pairs: &[(String, String)]| {
            Headers::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))).unwrap()
        };
        let request = Request::from_extended_connect(
            "CONNECT",
            Some(EXTENDED_CONNECT_PROTOCOL),
            client.path_and_query(),
            Some(client.authority()),
            fields(client.headers()),
            limits,
        )
        .unwrap();
        let (path, query) = match c.request.path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (c.request.path_and_query.as_str(), None),
        };
        prop_assert_eq!((request.path(), request.query()), (path, query));
        prop_assert_eq!(request.host(), c.request.host.as_str());
        prop_assert_eq!(request.key(), None);
        prop_assert_eq!(request.protocols(), c.request.protocols.as_slice());
        let offered = match &c.request.extensions {
            Some(v) => parse_extension_list(v).unwrap(),
            None => Vec::new(),
        };
        prop_assert_eq!(request.extensions(), offered.as_slice());

        let protocol = c.chosen_protocol
            .filter(|_| !request.protocols().is_empty())
            .map(|i| i.get(request.protocols()).clone());
        let chosen: Vec<ExtensionOffer> = if request.extensions().is_empty() {
            Vec::new()
        } else {
            c.chosen_extensions.iter().map(|i| i.get(request.extensions()).clone()).collect()
        };
        let ext_value = chosen.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
        let accept = Accept {
            protocol: protocol.as_deref(),
            extensions: (!chosen.is_empty()).then_some(ext_value.as_str()),
            headers: &[("x-server", "1")],
        };
        let answer = request.accept_headers(&accept).unwrap();
        let outcome = client.handle_response(request.accept_status(), fields(&answer)).unwrap();
        let ClientOutcome::Accepted(accepted) = outcome else {
            panic!("not accepted: {outcome:?}");
        };
        prop_assert_eq!(accepted.protocol(), protocol.as_deref());
        prop_assert_eq!(accepted.extensions(), chosen.as_slice());
    }

    #[test]
    fn extension_lists_round_trip(offers in prop::collection::vec(extension_offer(), 1..8)) {
        let text = offers.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
        prop_assert_eq!(parse_extension_list(&text).unwrap(), offers);
    }

    #[test]
    fn extension_values_with_quotes_round_trip(value in TOKEN, ows in "[ \t]{0,3}") {
        let text = format!("e{ows};{ows}p{ows}={ows}\"{value}\"{ows},{ows}");
        let parsed = parse_extension_list(&text).unwrap();
        prop_assert_eq!(parsed[0].params[0].value.as_deref(), Some(value.as_str()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), sizes in prop::collection::vec(1usize..50, 1..8)) {
        let limits = HandshakeLimits { max_head_size: 256, max_headers: 8, ..HandshakeLimits::default() };
        let mut server = ServerHandshake::new(limits);
        let mut client = ClientHandshake::new(&ClientRequest::new("h", "/", [0; 16]), limits).unwrap();
        let mut server_done = false;
        let mut client_done = false;
        for chunk in chunked(&bytes, &sizes) {
            if !server_done {
                match server.handle_input(chunk) {
                    Ok(None) => {}
                    Ok(Some(_)) => server_done = true,
                    Err(e) => {
                        // Every server-side error of a peer's bytes knows its response.
                        let mut out = Vec::new();
                        prop_assert!(e.write_response(&mut out), "{:?}", e);
                        server_done = true;
                    }
                }
            }
            if !client_done {
                client_done = !matches!(client.handle_input(chunk), Ok(None));
            }
        }
    }
}

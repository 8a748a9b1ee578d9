//! permessage-deflate negotiation (RFC 7692 section 7.1): the server picks the first acceptable
//! offer and answers with what it will use; the client accepts only an answer to one of its
//! offers; offer → answer → acceptance agrees on both ends for every configuration pair.
#![cfg(feature = "deflate")]

use ws_proto::deflate::{
    client_accept, client_offer, server_accept, DeflateConfig, DeflateOffer, DeflateParams,
    NegotiationError,
};
use ws_proto::handshake::parse_extension_list;

fn server(offers: &str, config: &DeflateConfig) -> Option<(DeflateParams, String)> {
    server_accept(&parse_extension_list(offers).unwrap(), config)
}

fn client(answer: &str, config: &DeflateConfig) -> Result<Option<DeflateParams>, NegotiationError> {
    client_accept(&parse_extension_list(answer).unwrap(), config)
}

fn p(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
    }
}

#[test]
fn server_picks_the_first_acceptable_offer() {
    let d = DeflateConfig::default();
    let small_peer = DeflateConfig {
        peer_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    let small_own = DeflateConfig {
        max_window_bits: 11,
        ..DeflateConfig::default()
    };
    let nct = DeflateConfig {
        no_context_takeover: true,
        peer_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    #[rustfmt::skip]
    type Case<'a> = (&'a str, &'a DeflateConfig, Option<(DeflateParams, &'a str)>);
    let cases: &[Case] = &[
        ("permessage-deflate", &d, Some((p(false, false, 15, 15), "permessage-deflate"))),
        ("PerMessage-Deflate", &d, Some((p(false, false, 15, 15), "permessage-deflate"))),
        ("", &d, None),
        ("x-webkit-deflate-frame", &d, None),
        // Unknown extensions are ignored, the first valid offer wins.
        ("foo; bar=1, permessage-deflate; client_max_window_bits, permessage-deflate",
            &d, Some((p(false, false, 15, 15), "permessage-deflate"))),
        // Invalid offers are declined and the next one is taken.
        ("permessage-deflate; foo, permessage-deflate; server_no_context_takeover",
            &d, Some((p(true, false, 15, 15), "permessage-deflate; server_no_context_takeover"))),
        ("permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=09, permessage-deflate; client_no_context_takeover=x",
            &d, None),
        ("permessage-deflate; client_max_window_bits; client_max_window_bits", &d, None),
        ("permessage-deflate; server_max_window_bits", &d, None),
        // Quoted values are unquoted by the parser.
        ("permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits=\"12\"",
            &d, Some((p(false, false, 10, 12),
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"))),
        // The answer states the client's window whenever it is below 15.
        ("permessage-deflate; client_max_window_bits=12", &small_peer,
            Some((p(false, false, 15, 10), "permessage-deflate; client_max_window_bits=10"))),
        ("permessage-deflate; client_max_window_bits", &small_peer,
            Some((p(false, false, 15, 10), "permessage-deflate; client_max_window_bits=10"))),
        // Without client_max_window_bits the client cannot limit its window: declined.
        ("permessage-deflate, permessage-deflate; client_max_window_bits=9", &small_peer,
            Some((p(false, false, 15, 9), "permessage-deflate; client_max_window_bits=9"))),
        ("permessage-deflate", &small_peer, None),
        // We may always announce a smaller server window.
        ("permessage-deflate", &small_own,
            Some((p(false, false, 11, 15), "permessage-deflate; server_max_window_bits=11"))),
        ("permessage-deflate; server_max_window_bits=13", &small_own,
            Some((p(false, false, 11, 15), "permessage-deflate; server_max_window_bits=11"))),
        ("permessage-deflate; server_max_window_bits=9", &small_own,
            Some((p(false, false, 9, 15), "permessage-deflate; server_max_window_bits=9"))),
        // server_max_window_bits=8 is accepted: we then send uncompressed.
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate", &d,
            Some((p(false, false, 8, 15), "permessage-deflate; server_max_window_bits=8"))),
        // A client window of 8 is fine for us to inflate.
        ("permessage-deflate; client_max_window_bits=8", &small_peer,
            Some((p(false, false, 15, 8), "permessage-deflate; client_max_window_bits=8"))),
        // Context takeover: honoured when asked, imposed by configuration.
        ("permessage-deflate; client_no_context_takeover", &d,
            Some((p(false, true, 15, 15), "permessage-deflate; client_no_context_takeover"))),
        ("permessage-deflate", &nct, Some((p(true, true, 15, 15),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"))),
    ];
    for (offers, config, want) in cases {
        let got = server(offers, config);
        let want = want.as_ref().map(|(p, s)| (*p, s.to_string()));
        assert_eq!(got, want, "offers {offers:?}");
    }
}

#[test]
fn client_validates_the_answer_against_its_offers() {
    let d = DeflateConfig::default();
    let asks = DeflateConfig {
        peer_max_window_bits: 10,
        peer_no_context_takeover: true,
        max_window_bits: 12,
        ..DeflateConfig::default()
    };
    let with_fallback = DeflateConfig {
        extra_offers: vec![DeflateOffer::default()],
        ..asks.clone()
    };
    let nct = DeflateConfig {
        no_context_takeover: true,
        ..DeflateConfig::default()
    };
    use NegotiationError as E;
    #[rustfmt::skip]
    type Case<'a> = (&'a str, &'a DeflateConfig, Result<Option<DeflateParams>, NegotiationError>);
    let cases: &[Case] = &[
        ("", &d, Ok(None)),
        ("foo", &d, Ok(None)),
        ("permessage-deflate", &d, Ok(Some(p(false, false, 15, 15)))),
        ("permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            &d, Ok(Some(p(true, true, 15, 15)))),
        ("permessage-deflate; client_max_window_bits=9", &d, Ok(Some(p(false, false, 15, 9)))),
        ("permessage-deflate; server_max_window_bits=\"12\"", &d, Ok(Some(p(false, false, 12, 15)))),
        // The value is required in a response.
        ("permessage-deflate; client_max_window_bits", &d,
            Err(E::InvalidParameterValue { name: "client_max_window_bits".into() })),
        // An 8-bit window for us: accepted, and the codec never compresses.
        ("permessage-deflate; client_max_window_bits=8", &d, Ok(Some(p(false, false, 15, 8)))),
        ("permessage-deflate; server_max_window_bits=7", &d,
            Err(E::InvalidParameterValue { name: "server_max_window_bits".into() })),
        ("permessage-deflate; mystery", &d, Err(E::UnknownParameter { name: "mystery".into() })),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", &d,
            Err(E::DuplicateParameter { name: "server_no_context_takeover".into() })),
        ("permessage-deflate, permessage-deflate", &d, Err(E::DuplicateExtension)),
        // We asked for server_no_context_takeover and server_max_window_bits=10: both required.
        ("permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
            &asks, Ok(Some(p(true, false, 10, 11)))),
        ("permessage-deflate; server_no_context_takeover", &asks, Err(E::NotOffered)),
        ("permessage-deflate; server_max_window_bits=10", &asks, Err(E::NotOffered)),
        ("permessage-deflate; server_no_context_takeover; server_max_window_bits=11", &asks, Err(E::NotOffered)),
        ("permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=13",
            &asks, Err(E::NotOffered)),
        // ... unless a plain fallback was offered too.
        ("permessage-deflate", &with_fallback, Ok(Some(p(false, false, 15, 15)))),
        // Without a client_max_window_bits offer, the server cannot set it.
        ("permessage-deflate; client_max_window_bits=10",
            &DeflateConfig { extra_offers: vec![], ..d.clone() }, Ok(Some(p(false, false, 15, 10)))),
        // We said we drop our context: that binds us even if the server does not echo it.
        ("permessage-deflate", &nct, Ok(Some(p(false, true, 15, 15)))),
    ];
    for (answer, config, want) in cases {
        assert_eq!(&client(answer, config), want, "answer {answer:?}");
        if let Err(e) = want {
            assert!(!e.to_string().is_empty());
        }
    }
    // A response to an offer without client_max_window_bits may not carry it.
    let bare = DeflateConfig {
        extra_offers: vec![DeflateOffer::default()],
        ..DeflateConfig::default()
    };
    let only_bare = DeflateConfig {
        extra_offers: vec![],
        ..bare.clone()
    };
    assert_eq!(
        client_offer(&only_bare),
        "permessage-deflate; client_max_window_bits"
    );
    assert_eq!(
        client_offer(&bare),
        "permessage-deflate; client_max_window_bits, permessage-deflate"
    );
}

#[test]
fn offer_grammar() {
    let cases: &[(DeflateConfig, &str)] = &[
        (DeflateConfig::default(), "permessage-deflate; client_max_window_bits"),
        (
            DeflateConfig {
                no_context_takeover: true,
                peer_no_context_takeover: true,
                max_window_bits: 9,
                peer_max_window_bits: 9,
                ..DeflateConfig::default()
            },
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
        ),
        (
            DeflateConfig {
                extra_offers: vec![DeflateOffer {
                    server_max_window_bits: Some(15),
                    client_max_window_bits: Some(10),
                    ..DeflateOffer::default()
                }],
                ..DeflateConfig::default()
            },
            "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=15; client_max_window_bits=10",
        ),
    ];
    for (config, want) in cases {
        let offer = client_offer(config);
        assert_eq!(offer, *want);
        // It parses back into one element per offer.
        assert_eq!(
            parse_extension_list(&offer).unwrap().len(),
            config.offers().len()
        );
    }
}

/// Every pair of (client, server) configurations: the client's offer, the server's answer
/// and the client's acceptance agree, and the agreement respects both configurations.
#[test]
fn both_ends_agree_for_every_configuration_pair() {
    let mut configs = Vec::new();
    for own in [9u8, 12, 15] {
        for peer in [9u8, 11, 15] {
            for nct in [false, true] {
                for peer_nct in [false, true] {
                    configs.push(DeflateConfig {
                        max_window_bits: own,
                        peer_max_window_bits: peer,
                        no_context_takeover: nct,
                        peer_no_context_takeover: peer_nct,
                        ..DeflateConfig::default()
                    });
                }
            }
        }
    }
    let mut agreed = 0;
    for c in &configs {
        let offer = client_offer(c);
        for s in &configs {
            let Some((sp, answer)) = server(&offer, s) else {
                continue;
            };
            agreed += 1;
            let cp = client(&answer, c).unwrap().expect("accepted");
            assert_eq!(cp, sp, "offer {offer:?} answer {answer:?}");
            assert!(cp.client_max_window_bits <= c.max_window_bits.max(9));
            assert!(cp.client_max_window_bits <= s.peer_max_window_bits);
            assert!(cp.server_max_window_bits <= c.peer_max_window_bits);
            assert!(cp.server_max_window_bits <= s.max_window_bits);
            assert_eq!(
                cp.client_no_context_takeover,
                c.no_context_takeover || s.peer_no_context_takeover
            );
            assert_eq!(
                cp.server_no_context_takeover,
                c.peer_no_context_takeover || s.no_context_takeover
            );
        }
    }
    // The client always offers client_max_window_bits, so every pair agrees.
    assert_eq!(agreed, configs.len() * configs.len());
}

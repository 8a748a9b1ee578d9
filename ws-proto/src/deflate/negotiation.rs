//! Negotiating permessage-deflate in the opening handshake (RFC 7692 sections 5 and 7.1),
//! over the `Sec-WebSocket-Extensions` grammar of [`crate::handshake`].
//!
//! Invariants:
//! - A parameter set is valid only if every parameter is one of the four RFC 7692 defines, none
//!   is repeated, the `*_no_context_takeover` ones have no value and window bits are the
//!   decimal integers 8 to 15 without leading zeros (a quoted value is already unquoted by the
//!   parser). The server declines an invalid offer and goes on with the next; the client fails
//!   on an invalid response.
//! - The server answers with exactly what it will use; the client accepts a response only if it
//!   is a valid acceptance of one of its offers, and then honours its own hints too.
//! - Extensions other than `permessage-deflate` are not examined here: the handshake layer
//!   ignores unknown ones in offers and must fail on a response naming one nobody offered.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use super::config::{clamp_bits, DeflateConfig, DeflateOffer, DeflateParams, MAX_WINDOW_BITS};
use super::error::NegotiationError;
use crate::handshake::ExtensionOffer;

/// The extension token (RFC 7692 section 6).
pub const EXTENSION_NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// One `permessage-deflate` element, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ParamSet {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

fn is_deflate(ext: &ExtensionOffer) -> bool {
    ext.name.eq_ignore_ascii_case(EXTENSION_NAME)
}

/// `8`..`15`, plain decimal, no sign, no leading zero.
fn parse_bits(value: &str) -> Option<u8> {
    match value.as_bytes() {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

fn parse_params(ext: &ExtensionOffer) -> Result<ParamSet, NegotiationError> {
    let mut set = ParamSet::default();
    let mut seen = [false; 4];
    for p in &ext.params {
        let name = p.name.as_str();
        let invalid = || NegotiationError::InvalidParameterValue { name: name.into() };
        let index = [
            SERVER_NO_CONTEXT_TAKEOVER,
            CLIENT_NO_CONTEXT_TAKEOVER,
            SERVER_MAX_WINDOW_BITS,
            CLIENT_MAX_WINDOW_BITS,
        ]
        .iter()
        .position(|known| known.eq_ignore_ascii_case(name))
        .ok_or_else(|| NegotiationError::UnknownParameter { name: name.into() })?;
        if core::mem::replace(&mut seen[index], true) {
            return Err(NegotiationError::DuplicateParameter { name: name.into() });
        }
        let value = p.value.as_deref();
        match index {
            0 | 1 => {
                if value.is_some() {
                    return Err(invalid());
                }
                if index == 0 {
                    set.server_no_context_takeover = true;
                } else {
                    set.client_no_context_takeover = true;
                }
            }
            2 => set.server_max_window_bits = Some(value.and_then(parse_bits).ok_or_else(invalid)?),
            _ => {
                set.client_max_window_bits = Some(match value {
                    None => None,
                    Some(v) => Some(parse_bits(v).ok_or_else(invalid)?),
                })
            }
        }
    }
    Ok(set)
}

fn write_element(out: &mut String, set: &ParamSet) {
    out.push_str(EXTENSION_NAME);
    if set.server_no_context_takeover {
        out.push_str("; ");
        out.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if set.client_no_context_takeover {
        out.push_str("; ");
        out.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    if let Some(bits) = set.server_max_window_bits {
        let _ = write!(out, "; {SERVER_MAX_WINDOW_BITS}={bits}");
    }
    match set.client_max_window_bits {
        None => {}
        Some(None) => {
            out.push_str("; ");
            out.push_str(CLIENT_MAX_WINDOW_BITS);
        }
        Some(Some(bits)) => {
            let _ = write!(out, "; {CLIENT_MAX_WINDOW_BITS}={bits}");
        }
    }
}

fn offer_bits(bits: u8) -> u8 {
    bits.clamp(8, MAX_WINDOW_BITS)
}

/// The `Sec-WebSocket-Extensions` value a client sends: [`DeflateConfig::offers`] in order,
/// comma-separated.
///
/// ```
/// use ws_proto::deflate::{client_offer, DeflateConfig};
/// assert_eq!(client_offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
/// let small = DeflateConfig { max_window_bits: 10, peer_max_window_bits: 12, ..DeflateConfig::default() };
/// assert_eq!(
///     client_offer(&small),
///     "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
/// );
/// ```
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut out = String::new();
    for (i, offer) in config.offers().iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let set = ParamSet {
            server_no_context_takeover: offer.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover,
            server_max_window_bits: offer.server_max_window_bits.map(offer_bits),
            client_max_window_bits: offer.client_max_window_bits.map(|b| {
                let b = offer_bits(b);
                (b < MAX_WINDOW_BITS).then_some(b)
            }),
        };
        write_element(&mut out, &set);
    }
    out
}

/// Whether `resp` is a valid acceptance of `offer` (RFC 7692 section 7.1).
fn accepts(offer: &DeflateOffer, resp: &ParamSet) -> bool {
    if offer.server_no_context_takeover && !resp.server_no_context_takeover {
        return false;
    }
    match (offer.server_max_window_bits, resp.server_max_window_bits) {
        (Some(_), None) => return false,
        (Some(asked), Some(got)) if got > offer_bits(asked) => return false,
        _ => {}
    }
    match (offer.client_max_window_bits, resp.client_max_window_bits) {
        (None, Some(_)) => return false,
        (Some(hint), Some(Some(got))) if got > offer_bits(hint) => return false,
        _ => {}
    }
    true
}

/// Validates the server's response (its `Sec-WebSocket-Extensions`, parsed) against what we
/// offered: `Ok(None)` if the server did not accept permessage-deflate, `Ok(Some(params))` if it
/// accepted one of our offers, an error (fail the connection) otherwise.
///
/// ```
/// use ws_proto::deflate::{client_accept, DeflateConfig};
/// use ws_proto::handshake::parse_extension_list;
/// let config = DeflateConfig::default();
/// let response = parse_extension_list("permessage-deflate; client_max_window_bits=10").unwrap();
/// let params = client_accept(&response, &config).unwrap().unwrap();
/// assert_eq!(params.client_max_window_bits, 10);
/// let rogue = parse_extension_list("permessage-deflate; x=1").unwrap();
/// assert!(client_accept(&rogue, &config).is_err());
/// ```
pub fn client_accept(
    response: &[ExtensionOffer],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, NegotiationError> {
    let mut found = response.iter().filter(|e| is_deflate(e));
    let Some(ext) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(NegotiationError::DuplicateExtension);
    }
    let resp = parse_params(ext)?;
    if resp.client_max_window_bits == Some(None) {
        // A response must give the value (RFC 7692 section 7.1.2.2).
        return Err(NegotiationError::InvalidParameterValue {
            name: CLIENT_MAX_WINDOW_BITS.into(),
        });
    }
    let offers: Vec<DeflateOffer> = config.offers();
    let offer = offers
        .iter()
        .find(|o| accepts(o, &resp))
        .ok_or(NegotiationError::NotOffered)?;
    // An 8-bit window is accepted: zlib-family compressors cannot produce one, so the codec
    // then sends every message uncompressed, which RFC 7692 allows.
    let client_bits = resp
        .client_max_window_bits
        .flatten()
        .unwrap_or(MAX_WINDOW_BITS);
    Ok(Some(DeflateParams {
        server_no_context_takeover: resp.server_no_context_takeover,
        // Our own offer to drop the context binds us even if the server did not echo it.
        client_no_context_takeover: resp.client_no_context_takeover
            || offer.client_no_context_takeover,
        server_max_window_bits: resp.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        client_max_window_bits: client_bits,
    }))
}

/// The server's choice: the first `permessage-deflate` offer (in the client's order) that is
/// valid and acceptable under `config`, with the parameters it will use and the
/// `Sec-WebSocket-Extensions` element to answer with. `None`: decline (answer without the
/// extension).
///
/// An offer is declined if a parameter is unknown, repeated or invalid, or if
/// `config.peer_max_window_bits < 15` and it lacks `client_max_window_bits` (the client could
/// not limit its window). An offer of `server_max_window_bits=8` is accepted, and then we send
/// every message uncompressed (zlib-family compressors cannot produce an 8-bit window).
///
/// ```
/// use ws_proto::deflate::{server_accept, DeflateConfig};
/// use ws_proto::handshake::parse_extension_list;
/// let offers = parse_extension_list(
///     "permessage-deflate; foo, permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits",
/// ).unwrap();
/// let (params, answer) = server_accept(&offers, &DeflateConfig::default()).unwrap();
/// assert_eq!(params.server_max_window_bits, 10);
/// assert_eq!(answer, "permessage-deflate; server_max_window_bits=10");
/// ```
pub fn server_accept(
    offers: &[ExtensionOffer],
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    let own_max = clamp_bits(config.max_window_bits);
    let peer_max = clamp_bits(config.peer_max_window_bits);
    for ext in offers.iter().filter(|e| is_deflate(e)) {
        let Ok(offer) = parse_params(ext) else {
            continue;
        };
        // `server_max_window_bits=8` is accepted although no zlib-family compressor can
        // honour it: the codec then sends every message uncompressed (RFC 7692 lets a sender
        // choose per message), so a peer asking for 8 still gets a working extension.
        let server_bits = match offer.server_max_window_bits {
            Some(asked) => asked.min(own_max),
            None => own_max,
        };
        let client_bits = match offer.client_max_window_bits {
            None if peer_max < MAX_WINDOW_BITS => continue,
            None => MAX_WINDOW_BITS,
            Some(hint) => hint.unwrap_or(MAX_WINDOW_BITS).min(peer_max),
        };
        let params = DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || config.no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.peer_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        let answer = ParamSet {
            server_no_context_takeover: params.server_no_context_takeover,
            client_no_context_takeover: params.client_no_context_takeover,
            server_max_window_bits: (offer.server_max_window_bits.is_some()
                || server_bits < MAX_WINDOW_BITS)
                .then_some(server_bits),
            client_max_window_bits: (client_bits < MAX_WINDOW_BITS).then_some(Some(client_bits)),
        };
        let mut out = String::new();
        write_element(&mut out, &answer);
        return Some((params, out));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_extension_list;

    #[test]
    fn window_bits_values() {
        let cases: &[(&str, Option<u8>)] = &[
            ("8", Some(8)),
            ("9", Some(9)),
            ("10", Some(10)),
            ("15", Some(15)),
            ("7", None),
            ("16", None),
            ("09", None),
            ("010", None),
            ("", None),
            ("+9", None),
            ("1", None),
            ("150", None),
        ];
        for (v, want) in cases {
            assert_eq!(parse_bits(v), *want, "{v:?}");
        }
    }

    #[test]
    fn invalid_parameter_sets() {
        let cases: &[(&str, NegotiationError)] = &[
            (
                "permessage-deflate; foo",
                NegotiationError::UnknownParameter { name: "foo".into() },
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                NegotiationError::DuplicateParameter {
                    name: "server_no_context_takeover".into(),
                },
            ),
            (
                "permessage-deflate; client_no_context_takeover=1",
                NegotiationError::InvalidParameterValue {
                    name: "client_no_context_takeover".into(),
                },
            ),
            (
                "permessage-deflate; server_max_window_bits",
                NegotiationError::InvalidParameterValue {
                    name: "server_max_window_bits".into(),
                },
            ),
            (
                "permessage-deflate; client_max_window_bits=16",
                NegotiationError::InvalidParameterValue {
                    name: "client_max_window_bits".into(),
                },
            ),
            (
                "permessage-deflate; client_max_window_bits=9; client_max_window_bits",
                NegotiationError::DuplicateParameter {
                    name: "client_max_window_bits".into(),
                },
            ),
        ];
        for (input, want) in cases {
            let ext = parse_extension_list(input).unwrap();
            assert_eq!(parse_params(&ext[0]).as_ref(), Err(want), "{input}");
        }
    }
}

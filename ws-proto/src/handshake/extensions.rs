//! The `Sec-WebSocket-Extensions` header grammar (RFC 6455 section 9.1), both directions.
//!
//! ```text
//! extension-list  = 1#extension            ; RFC 7230 #rule: empty elements tolerated
//! extension       = token *( OWS ";" OWS extension-param )
//! extension-param = token [ OWS "=" OWS ( token / quoted-string ) ]
//! ```
//!
//! Invariants: parsing is one left-to-right pass over the value (linear time); the number of
//! extensions and of parameters per extension is bounded before anything is pushed; a quoted
//! value is unquoted with its backslash escapes resolved and, as RFC 6455 section 9.1
//! requires, must then be a token. A value that is empty or only commas and whitespace
//! parses to an empty list. Several header lines are combined by the caller into one comma
//! list (`a, b`), which this parser accepts like any other list.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::HandshakeLimits;

/// One extension of a `Sec-WebSocket-Extensions` list: its name and parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionOffer {
    /// The extension name, a token (e.g. `permessage-deflate`).
    pub name: String,
    /// The parameters in the order they appeared.
    pub params: Vec<ExtensionParam>,
}

/// One `name[=value]` parameter of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionParam {
    /// The parameter name, a token.
    pub name: String,
    /// The value, unquoted (escapes resolved), or `None` for a bare name.
    pub value: Option<String>,
}

impl ExtensionOffer {
    /// An extension with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// The first parameter called `name` (ASCII case-insensitive), if any.
    pub fn param(&self, name: &str) -> Option<&ExtensionParam> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for ExtensionParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(value) = &self.value {
            f.write_str("=")?;
            if is_token(value) {
                f.write_str(value)?;
            } else {
                f.write_str("\"")?;
                for c in value.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")?;
            }
        }
        Ok(())
    }
}

/// Serialises as `name; param; param=value`, quoting a value only when it is not a token.
impl fmt::Display for ExtensionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for p in &self.params {
            write!(f, "; {p}")?;
        }
        Ok(())
    }
}

/// Why a `Sec-WebSocket-Extensions` value did not parse. `at` is a byte offset in the value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionParseError {
    /// A list element does not start with an extension name (a token).
    ExpectedExtensionName {
        /// Byte offset of the offending character.
        at: usize,
    },
    /// A `;` is not followed by a parameter name (a token).
    ExpectedParamName {
        /// Byte offset of the offending character (or the end of the value).
        at: usize,
    },
    /// An `=` is not followed by a token or a quoted string.
    ExpectedParamValue {
        /// Byte offset of the offending character (or the end of the value).
        at: usize,
    },
    /// After a name or value, something other than `;`, `,` or the end of the value.
    UnexpectedCharacter {
        /// Byte offset of the offending character.
        at: usize,
    },
    /// A quoted string is not closed.
    UnterminatedQuotedString {
        /// Byte offset of the opening quote.
        at: usize,
    },
    /// A control character inside a quoted string.
    InvalidQuotedCharacter {
        /// Byte offset of the offending character.
        at: usize,
    },
    /// A quoted value that, once unquoted, is not a token (RFC 6455 section 9.1).
    QuotedValueNotToken {
        /// Byte offset of the opening quote.
        at: usize,
    },
    /// More extensions than the limit
    /// ([`HandshakeLimits::max_extensions`]).
    TooManyExtensions {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// More parameters on one extension than the limit
    /// ([`HandshakeLimits::max_extension_params`]).
    TooManyParams {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl fmt::Display for ExtensionParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExpectedExtensionName { at } => {
                write!(f, "expected an extension name (token) at byte {at}")
            }
            Self::ExpectedParamName { at } => {
                write!(
                    f,
                    "expected a parameter name (token) after ';' at byte {at}"
                )
            }
            Self::ExpectedParamValue { at } => {
                write!(
                    f,
                    "expected a token or quoted string after '=' at byte {at}"
                )
            }
            Self::UnexpectedCharacter { at } => {
                write!(f, "expected ';', ',' or the end of the value at byte {at}")
            }
            Self::UnterminatedQuotedString { at } => {
                write!(f, "quoted string opened at byte {at} is not closed")
            }
            Self::InvalidQuotedCharacter { at } => {
                write!(f, "control character in a quoted string at byte {at}")
            }
            Self::QuotedValueNotToken { at } => {
                write!(f, "quoted value at byte {at} is not a token once unquoted")
            }
            Self::TooManyExtensions { limit } => {
                write!(
                    f,
                    "more than {limit} extensions in the list (max_extensions)"
                )
            }
            Self::TooManyParams { limit } => {
                write!(
                    f,
                    "more than {limit} parameters on one extension (max_extension_params)"
                )
            }
        }
    }
}

impl core::error::Error for ExtensionParseError {}

/// Parses a `Sec-WebSocket-Extensions` value with the default bounds
/// ([`HandshakeLimits::DEFAULT_MAX_EXTENSIONS`] extensions,
/// [`HandshakeLimits::DEFAULT_MAX_EXTENSION_PARAMS`] parameters each).
///
/// ```
/// use ws_proto::handshake::parse_extension_list;
/// let offers = parse_extension_list(
///     "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"",
/// ).unwrap();
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[1].params[0].value.as_deref(), Some("10"));
/// assert_eq!(offers[1].to_string(), "permessage-deflate; server_max_window_bits=10");
/// ```
pub fn parse_extension_list(value: &str) -> Result<Vec<ExtensionOffer>, ExtensionParseError> {
    parse_extension_list_bounded(
        value,
        HandshakeLimits::DEFAULT_MAX_EXTENSIONS,
        HandshakeLimits::DEFAULT_MAX_EXTENSION_PARAMS,
    )
}

/// Parses a `Sec-WebSocket-Extensions` value with explicit bounds on the number of
/// extensions and of parameters per extension.
pub fn parse_extension_list_bounded(
    value: &str,
    max_extensions: usize,
    max_params: usize,
) -> Result<Vec<ExtensionOffer>, ExtensionParseError> {
    let mut p = Cursor {
        s: value.as_bytes(),
        i: 0,
    };
    let mut offers = Vec::new();
    loop {
        p.skip_ows();
        match p.peek() {
            None => return Ok(offers),
            Some(b',') => {
                p.i += 1;
                continue;
            }
            Some(_) => {}
        }
        let at = p.i;
        let name = p
            .token()
            .ok_or(ExtensionParseError::ExpectedExtensionName { at })?;
        if offers.len() == max_extensions {
            return Err(ExtensionParseError::TooManyExtensions {
                limit: max_extensions,
            });
        }
        let mut offer = ExtensionOffer::new(name);
        loop {
            p.skip_ows();
            match p.peek() {
                None => {
                    offers.push(offer);
                    return Ok(offers);
                }
                Some(b',') => {
                    p.i += 1;
                    offers.push(offer);
                    break;
                }
                Some(b';') => {
                    p.i += 1;
                    p.skip_ows();
                    let at = p.i;
                    let pname = p
                        .token()
                        .ok_or(ExtensionParseError::ExpectedParamName { at })?;
                    p.skip_ows();
                    let value = if p.peek() == Some(b'=') {
                        p.i += 1;
                        p.skip_ows();
                        Some(p.param_value()?)
                    } else {
                        None
                    };
                    if offer.params.len() == max_params {
                        return Err(ExtensionParseError::TooManyParams { limit: max_params });
                    }
                    offer.params.push(ExtensionParam {
                        name: pname.into(),
                        value,
                    });
                }
                Some(_) => return Err(ExtensionParseError::UnexpectedCharacter { at: p.i }),
            }
        }
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// A non-empty run of tchar; `None` (nothing consumed) if there is none.
    fn token(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        // tchar are ASCII, so the slice is valid UTF-8.
        core::str::from_utf8(&self.s[start..self.i]).ok()
    }

    fn param_value(&mut self) -> Result<String, ExtensionParseError> {
        let at = self.i;
        if self.peek() != Some(b'"') {
            return self
                .token()
                .map(String::from)
                .ok_or(ExtensionParseError::ExpectedParamValue { at });
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(ExtensionParseError::UnterminatedQuotedString { at });
            };
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(ExtensionParseError::UnterminatedQuotedString { at });
                    };
                    if !is_quoted_pair_char(e) {
                        return Err(ExtensionParseError::InvalidQuotedCharacter { at: self.i });
                    }
                    self.i += 1;
                    out.push(e);
                }
                _ if is_qdtext(b) => out.push(b),
                _ => return Err(ExtensionParseError::InvalidQuotedCharacter { at: self.i - 1 }),
            }
        }
        if out.is_empty() || !out.iter().copied().all(is_tchar) {
            return Err(ExtensionParseError::QuotedValueNotToken { at });
        }
        // All tchar: ASCII.
        Ok(out.into_iter().map(char::from).collect())
    }
}

/// RFC 7230 tchar.
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// RFC 7230 token: a non-empty run of tchar.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF)
}

fn is_quoted_pair_char(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| ExtensionParam {
                    name: (*n).into(),
                    value: v.map(String::from),
                })
                .collect(),
        }
    }

    #[test]
    fn valid_lists() {
        let pmd = "permessage-deflate";
        let cases: Vec<(&str, Vec<ExtensionOffer>)> = vec![
            ("", vec![]),
            (" , ,\t", vec![]),
            ("foo", vec![ext("foo", &[])]),
            ("foo,bar", vec![ext("foo", &[]), ext("bar", &[])]),
            ("foo , , bar ,", vec![ext("foo", &[]), ext("bar", &[])]),
            (
                "permessage-deflate; client_max_window_bits",
                vec![ext(pmd, &[("client_max_window_bits", None)])],
            ),
            ("a;b=1;c", vec![ext("a", &[("b", Some("1")), ("c", None)])]),
            (
                "a ; b = 1 ; c\t",
                vec![ext("a", &[("b", Some("1")), ("c", None)])],
            ),
            ("a; b=\"10\"", vec![ext("a", &[("b", Some("10"))])]),
            ("a; b=\"1\\0\"", vec![ext("a", &[("b", Some("10"))])]),
            (
                "x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover",
                vec![
                    ext("x-webkit-deflate-frame", &[]),
                    ext(pmd, &[("server_no_context_takeover", None)]),
                ],
            ),
            (
                "a;b=c, a;b=d",
                vec![ext("a", &[("b", Some("c"))]), ext("a", &[("b", Some("d"))])],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_extension_list(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn invalid_lists() {
        use ExtensionParseError as E;
        let cases: &[(&str, ExtensionParseError)] = &[
            (";a", E::ExpectedExtensionName { at: 0 }),
            ("a, ;b", E::ExpectedExtensionName { at: 3 }),
            ("\"a\"", E::ExpectedExtensionName { at: 0 }),
            ("a;", E::ExpectedParamName { at: 2 }),
            ("a; =1", E::ExpectedParamName { at: 3 }),
            ("a;b=", E::ExpectedParamValue { at: 4 }),
            ("a;b=,", E::ExpectedParamValue { at: 4 }),
            ("a b", E::UnexpectedCharacter { at: 2 }),
            ("a;b=1 2", E::UnexpectedCharacter { at: 6 }),
            ("a/b", E::UnexpectedCharacter { at: 1 }),
            ("a;b=\"1", E::UnterminatedQuotedString { at: 4 }),
            ("a;b=\"1\\", E::UnterminatedQuotedString { at: 4 }),
            ("a;b=\"1\u{1}\"", E::InvalidQuotedCharacter { at: 6 }),
            ("a;b=\"1 2\"", E::QuotedValueNotToken { at: 4 }),
            ("a;b=\"\"", E::QuotedValueNotToken { at: 4 }),
            ("a;b=\"x,y\"", E::QuotedValueNotToken { at: 4 }),
            ("a\u{e9}", E::UnexpectedCharacter { at: 1 }),
            ("a;b\r\n=1", E::UnexpectedCharacter { at: 3 }),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_extension_list(input).as_ref(),
                Err(want),
                "input {input:?}"
            );
            // Every error names what was wrong in words.
            assert!(!want.to_string().is_empty());
        }
    }

    #[test]
    fn bounds() {
        let many = "a,".repeat(HandshakeLimits::DEFAULT_MAX_EXTENSIONS);
        assert_eq!(parse_extension_list(&many).map(|v| v.len()), Ok(16));
        let too_many = "a,".repeat(HandshakeLimits::DEFAULT_MAX_EXTENSIONS + 1);
        assert_eq!(
            parse_extension_list(&too_many),
            Err(ExtensionParseError::TooManyExtensions { limit: 16 })
        );
        let params = alloc::format!("a{}", ";p".repeat(17));
        assert_eq!(
            parse_extension_list(&params),
            Err(ExtensionParseError::TooManyParams { limit: 16 })
        );
        assert_eq!(
            parse_extension_list_bounded("a;p;q, b", 2, 2).map(|v| v.len()),
            Ok(2)
        );
        // A huge list is rejected after the limit, not after reading the whole value.
        let huge = "x,".repeat(500_000);
        assert!(matches!(
            parse_extension_list(&huge),
            Err(ExtensionParseError::TooManyExtensions { .. })
        ));
    }

    #[test]
    fn display_round_trips_and_quotes_non_tokens() {
        let offer = ext(
            "a",
            &[("b", Some("10")), ("c", None), ("d", Some("x y\"z\\"))],
        );
        assert_eq!(offer.to_string(), "a; b=10; c; d=\"x y\\\"z\\\\\"");
        let parsed =
            parse_extension_list("permessage-deflate ;client_max_window_bits; x=\"9\"").unwrap();
        let text = parsed[0].to_string();
        assert_eq!(text, "permessage-deflate; client_max_window_bits; x=9");
        assert_eq!(parse_extension_list(&text).unwrap(), parsed);
        assert_eq!(
            offer.param("B").and_then(|p| p.value.as_deref()),
            Some("10")
        );
    }
}

//! The body format: newline-delimited JSON (`application/x-ndjson`), one flat object per
//! line, written and read by hand (no JSON dependency).
//!
//! Only the subset this crate writes is read back: a line is an object whose values are
//! strings or unsigned integers (`{"seq":1,"data":"hi"}`); whitespace between tokens is
//! allowed; strings support every JSON escape including surrogate pairs. Output escapes
//! `"`, `\` and every control character, so any UTF-8 text round-trips and `JSON.parse`
//! in a browser reads each line. Non-UTF-8 payloads are carried as standard base64 in
//! `data_b64` instead of `data`.

use alloc::string::String;
use alloc::vec::Vec;

/// A value in a flat object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Str(String),
    Num(u64),
}

/// Appends `text` as a JSON string literal (with quotes).
pub(crate) fn write_json_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f {
            continue;
        }
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `"key":value` pairs as one line `{...}\n`.
pub(crate) fn write_line(out: &mut Vec<u8>, fields: &[(&str, Field<'_>)]) {
    out.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(out, key);
        out.push(b':');
        match value {
            Field::Num(n) => out.extend_from_slice(&itoa_buf(*n)),
            Field::Str(s) => write_json_string(out, s),
            Field::Base64(bytes) => {
                out.push(b'"');
                base64_encode(out, bytes);
                out.push(b'"');
            }
        }
    }
    out.extend_from_slice(b"}\n");
}

/// A value to write.
pub(crate) enum Field<'a> {
    Num(u64),
    Str(&'a str),
    Base64(&'a [u8]),
}

fn itoa_buf(mut n: u64) -> Vec<u8> {
    let mut digits = Vec::with_capacity(20);
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

/// Parses one line (without its `\n`) as a flat object. `None` if malformed.
pub(crate) fn parse_line(line: &[u8]) -> Option<Vec<(String, Value)>> {
    let mut p = Parser { s: line, i: 0 };
    p.ws();
    p.eat(b'{')?;
    let mut fields = Vec::new();
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            let value = match p.peek()? {
                b'"' => Value::Str(p.string()?),
                b'0'..=b'9' => Value::Num(p.number()?),
                _ => return None,
            };
            fields.push((key, value));
            p.ws();
            match p.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    }
    p.ws();
    if p.i != line.len() {
        return None;
    }
    Some(fields)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }
    fn number(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.i += 1;
        }
        // JSON forbids leading zeros.
        if self.i - start > 1 && self.s[start] == b'0' {
            return None;
        }
        Some(n)
    }
    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = char::from(self.next()?).to_digit(16)?;
            v = v * 16 + d;
        }
        Some(v)
    }
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            // Copy the run up to the next quote, backslash or control byte in one go.
            let run = self.s[self.i..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(self.s.len() - self.i);
            out.extend_from_slice(&self.s[self.i..self.i + run]);
            self.i += run;
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.eat(b'\\')?;
                                self.eat(b'u')?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => return None, // raw control character
            }
        }
        String::from_utf8(out).ok()
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64_encode(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63]);
        out.push(B64[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63]
        } else {
            b'='
        });
    }
}

/// Strict standard base64 with padding; `None` if malformed.
pub(crate) fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|v| v as u32);
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let chunks = text.len() / 4;
    for (i, q) in text.chunks(4).enumerate() {
        let last = i + 1 == chunks;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Reject non-canonical trailing bits.
        if bytes[3 - pad..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escape_table() {
        let cases = [
            ("", r#""""#),
            ("plain", r#""plain""#),
            ("q\"b\\", r#""q\"b\\""#),
            ("a\nb\rc\td", r#""a\nb\rc\td""#),
            ("\u{0}\u{1f}\u{7f}\u{8}\u{c}", r#""\u0000\u001f\u007f\b\f""#),
            (
                "caf\u{e9} \u{1F600} \u{2028}",
                "\"caf\u{e9} \u{1F600} \u{2028}\"",
            ),
            ("</script>", r#""</script>""#),
        ];
        for (input, want) in cases {
            assert_eq!(escaped(input), want, "{input:?}");
            let line = alloc::format!("{{\"k\":{}}}", escaped(input));
            assert_eq!(
                parse_line(line.as_bytes()),
                Some(vec![("k".to_string(), Value::Str(input.to_string()))]),
                "{line}"
            );
        }
    }

    #[test]
    fn parse_table() {
        let ok = |s: &str| parse_line(s.as_bytes());
        assert_eq!(
            ok(r#" { "seq" : 12 , "data":"x\u00e9\ud83d\ude00\/" } "#),
            Some(vec![
                ("seq".to_string(), Value::Num(12)),
                (
                    "data".to_string(),
                    Value::Str("x\u{e9}\u{1F600}/".to_string())
                ),
            ])
        );
        assert_eq!(ok("{}"), Some(vec![]));
        for bad in [
            "",
            "{",
            "{\"a\":1,}",
            "{\"a\":01}",
            "{\"a\":-1}",
            "{\"a\":1.5}",
            "{\"a\":true}",
            "{\"a\":\"\\ud83d\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"raw\ttab\"}",
            "{\"a\":\"x\"} trailing",
            "{\"a\":18446744073709551616}",
            "[1]",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base64_table() {
        let cases: [(&[u8], &str); 6] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (&[0xff, 0xfe, 0x00], "//4A"),
        ];
        for (raw, text) in cases {
            let mut out = Vec::new();
            base64_encode(&mut out, raw);
            assert_eq!(out, text.as_bytes());
            assert_eq!(base64_decode(text.as_bytes()).as_deref(), Some(raw));
        }
        for bad in ["Zg=", "Z===", "Zh==", "Zg==Zg==", "Z*==", "===="] {
            assert_eq!(base64_decode(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn write_line_shape() {
        let mut out = Vec::new();
        write_line(
            &mut out,
            &[
                ("seq", Field::Num(0)),
                ("n", Field::Num(u64::MAX)),
                ("s", Field::Str("a\"b")),
                ("b", Field::Base64(&[1, 2])),
            ],
        );
        assert_eq!(
            out,
            b"{\"seq\":0,\"n\":18446744073709551615,\"s\":\"a\\\"b\",\"b\":\"AQI=\"}\n"
        );
    }
}

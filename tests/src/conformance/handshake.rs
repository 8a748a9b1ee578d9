//! The opening handshake (RFC 6455 section 4), minimal on purpose: the suite offers no
//! subprotocol, offers or accepts an extension only when a case asks for it (sections 12-13:
//! permessage-deflate), and checks what the implementation under test answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 section 1.3.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest handshake head the suite reads.
const MAX_HEAD: usize = 16 * 1024;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// A `ws://host:port/path` URL, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    /// `host:port` to connect to (and to send as `Host`).
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl WsUrl {
    /// Parses a `ws://` URL (`wss://` is not supported: the suite speaks plain TCP).
    pub fn parse(url: &str) -> Result<WsUrl, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("{url:?}: only ws:// URLs are supported"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(WsUrl { authority, path })
    }

    /// The same server with another path (used for `/runCase?...` style URLs).
    pub fn with_path(&self, path: &str) -> WsUrl {
        WsUrl {
            authority: self.authority.clone(),
            path: path.to_string(),
        }
    }
}

/// A small xorshift generator for handshake nonces and masking keys. The suite is a test
/// peer, not a security boundary; unpredictability against an on-path attacker is not a goal.
#[derive(Clone, Debug)]
pub struct Nonce(u64);

impl Nonce {
    /// Seeded from the clock and a process-wide counter.
    pub fn from_clock() -> Nonce {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let c = COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        Nonce((t ^ c) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A masking key; never all zeros so that masking bugs in the peer show.
    pub fn mask_key(&mut self) -> [u8; 4] {
        let k = (self.next_u64() as u32) | 0x0101_0101;
        k.to_be_bytes()
    }
}

/// Reads an HTTP head (up to and including the blank line). Returns the head and any bytes
/// that followed it (the start of the frame stream).
fn read_head(stream: &mut TcpStream, timeout: Duration) -> Result<(String, Vec<u8>), String> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            let head = String::from_utf8(buf).map_err(|_| "handshake head is not UTF-8")?;
            stream.set_read_timeout(None).map_err(|e| e.to_string())?;
            return Ok((head, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("handshake head longer than {MAX_HEAD} bytes"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("timed out waiting for the handshake".into());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err("connection closed during the handshake".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("handshake read failed: {e}")),
        }
    }
}

/// Header lines of a head as (lower-case name, value) pairs.
fn headers(head: &str) -> Vec<(String, String)> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// All values of a header, joined by `, ` (RFC 9110 section 5.3).
fn header_all(hs: &[(String, String)], name: &str) -> Option<String> {
    let v: Vec<&str> = hs
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect();
    (!v.is_empty()).then(|| v.join(", "))
}

/// Connects to `url` and performs the client handshake. Returns the stream and the bytes
/// already received after the 101 response.
pub fn connect(
    url: &WsUrl,
    nonce: &mut Nonce,
    timeout: Duration,
) -> Result<(TcpStream, Vec<u8>), String> {
    connect_with(url, nonce, timeout, None).map(|(s, rest, _)| (s, rest))
}

/// Like [`connect`], offering the extensions `offer` (a `Sec-WebSocket-Extensions` value).
/// Also returns the server's `Sec-WebSocket-Extensions` answer, for the caller to check
/// against the offer (without an offer, any answer is an error here).
pub fn connect_with(
    url: &WsUrl,
    nonce: &mut Nonce,
    timeout: Duration,
    offer: Option<&str>,
) -> Result<(TcpStream, Vec<u8>, Option<String>), String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = url
        .authority
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", url.authority))?
        .collect();
    let mut last_err = format!("{}: no address", url.authority);
    let mut connected = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last_err = format!("connect to {addr} failed: {e}"),
        }
    }
    let mut stream = connected.ok_or(last_err)?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&nonce.next_u64().to_le_bytes());
    raw[8..].copy_from_slice(&nonce.next_u64().to_le_bytes());
    let key = base64::engine::general_purpose::STANDARD.encode(raw);
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{}\
         User-Agent: ws-conformance\r\n\r\n",
        url.path,
        url.authority,
        offer
            .map(|o| format!("Sec-WebSocket-Extensions: {o}\r\n"))
            .unwrap_or_default()
    );
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("handshake write failed: {e}"))?;
    let (head, rest) = read_head(&mut stream, timeout)?;
    let status = head.lines().next().unwrap_or("");
    let mut parts = status.split_whitespace();
    if parts.next() != Some("HTTP/1.1") || parts.next() != Some("101") {
        return Err(format!("expected a 101 response, got {status:?}"));
    }
    let hs = headers(&head);
    if !header(&hs, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err("response lacks `Upgrade: websocket`".into());
    }
    if !has_token(header(&hs, "connection"), "upgrade") {
        return Err("response lacks `Connection: Upgrade`".into());
    }
    let want = accept_key(&key);
    match header(&hs, "sec-websocket-accept") {
        Some(v) if v == want => {}
        Some(v) => return Err(format!("wrong Sec-WebSocket-Accept {v:?}, want {want:?}")),
        None => return Err("response lacks Sec-WebSocket-Accept".into()),
    }
    let extensions = header_all(&hs, "sec-websocket-extensions");
    if let (Some(ext), None) = (&extensions, offer) {
        return Err(format!(
            "server selected extension {ext:?} that was not offered"
        ));
    }
    if let Some(p) = header(&hs, "sec-websocket-protocol") {
        return Err(format!(
            "server selected subprotocol {p:?} that was not offered"
        ));
    }
    Ok((stream, rest, extensions))
}

/// An accepted opening handshake, server side.
#[derive(Debug)]
pub struct Accepted {
    /// The request target (path and query).
    pub target: String,
    /// Bytes received after the request head (the client's first frames).
    pub rest: Vec<u8>,
    /// The client's `Sec-WebSocket-Extensions` offer, if any.
    pub offered: Option<String>,
    /// The `Sec-WebSocket-Extensions` value the suite answered, if any.
    pub answered: Option<String>,
}

/// Reads a client's opening handshake on `stream` and answers 101 (or 400 and an error).
pub fn accept(stream: &mut TcpStream, timeout: Duration) -> Result<Accepted, String> {
    accept_with(stream, timeout, &mut |_, _| None)
}

/// Like [`accept`]; `answer(target, offered_extensions)` chooses the
/// `Sec-WebSocket-Extensions` answer (`None` = none) before the 101 is written.
pub fn accept_with(
    stream: &mut TcpStream,
    timeout: Duration,
    answer: &mut dyn FnMut(&str, Option<&str>) -> Option<String>,
) -> Result<Accepted, String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (head, rest) = read_head(stream, timeout)?;
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let hs = headers(&head);
    let problem = if method != Some("GET") || version != Some("HTTP/1.1") {
        Some(format!("bad request line {line:?}"))
    } else if !header(&hs, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        Some("request lacks `Upgrade: websocket`".to_string())
    } else if !has_token(header(&hs, "connection"), "upgrade") {
        Some("request lacks `Connection: Upgrade`".to_string())
    } else if header(&hs, "sec-websocket-version") != Some("13") {
        Some("request lacks `Sec-WebSocket-Version: 13`".to_string())
    } else {
        None
    };
    let key = header(&hs, "sec-websocket-key").map(str::to_string);
    let key_ok = key.as_deref().is_some_and(|k| {
        base64::engine::general_purpose::STANDARD
            .decode(k)
            .is_ok_and(|d| d.len() == 16)
    });
    let problem = problem.or_else(|| (!key_ok).then(|| "bad Sec-WebSocket-Key".to_string()));
    if let Some(p) = problem {
        let _ = stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        );
        return Err(p);
    }
    let target = target.unwrap_or("/").to_string();
    let offered = header_all(&hs, "sec-websocket-extensions");
    let answered = answer(&target, offered.as_deref());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{}Server: ws-conformance\r\n\r\n",
        accept_key(key.as_deref().unwrap_or("")),
        answered
            .as_deref()
            .map(|a| format!("Sec-WebSocket-Extensions: {a}\r\n"))
            .unwrap_or_default()
    );
    stream
        .write_all(resp.as_bytes())
        .map_err(|e| format!("handshake write failed: {e}"))?;
    Ok(Accepted {
        target,
        rest,
        offered,
        answered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_example() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn url_parsing() {
        let u = WsUrl::parse("ws://127.0.0.1:9001").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("127.0.0.1:9001", "/")
        );
        let u = WsUrl::parse("ws://localhost/echo?x=1").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("localhost:80", "/echo?x=1")
        );
        let u = WsUrl::parse("ws://h:1?x").unwrap();
        assert_eq!(u.path, "/?x");
        assert!(WsUrl::parse("wss://h:1").is_err());
        assert!(WsUrl::parse("ws:///x").is_err());
    }

    #[test]
    fn mask_keys_vary_and_are_never_zero() {
        let mut n = Nonce::from_clock();
        let a = n.mask_key();
        let b = n.mask_key();
        assert_ne!(a, b);
        assert!(a.iter().all(|b| *b != 0));
    }
}

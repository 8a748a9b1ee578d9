//! A minimal long-polling server on `std::net` (one thread, non-blocking sockets), to show a
//! driver around the hub and the browser side of the HTTP mapping. Not a production server:
//! for that, `rt-tokio`'s `LongPollServer` drives the same hub over hyper (or axum).
//!
//! ```sh
//! cargo run -p longpoll-proto --example chat-server -- 127.0.0.1:8080
//! # browser: http://127.0.0.1:8080/   or with curl:
//! curl -H 'Longpoll-Client: me' 'http://127.0.0.1:8080/poll?channel=chat&cursor=1:0'
//! curl -X POST --data 'hello' 'http://127.0.0.1:8080/publish?channel=chat'
//! ```
//!
//! Bounded: at most 1,000 open connections and 64 KiB per request.

use bytes::Bytes;
use longpoll_proto::http::{self, HttpResponse};
use longpoll_proto::{ChannelName, Epoch, Hub, HubConfig, Instant, PollId};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>long-poll chat</title>
<pre id="log"></pre><input id="msg" autofocus placeholder="say something, press Enter">
<script>
const id = crypto.randomUUID();
let cursor = null;
const log = (s) => { document.getElementById("log").textContent += s + "\n"; };
async function loop() {
  for (;;) {
    const q = "channel=chat" + (cursor ? "&cursor=" + cursor : "");
    let res;
    try { res = await fetch("/poll?" + q, { headers: { "Longpoll-Client": id } }); }
    catch (e) { await new Promise(r => setTimeout(r, 1000 + Math.random() * 1000)); continue; }
    cursor = res.headers.get("Longpoll-Cursor") ?? cursor;
    if (res.status === 200) {
      for (const line of (await res.text()).split("\n")) if (line) log(JSON.parse(line).data);
    } else if (res.status === 409 || res.status === 410) {
      const r = await res.json();
      log(r.reason === "gap" ? `(missed ${r.missed_from}..${r.missed_to})` : "(history reset)");
    } else if (res.status !== 204) {
      await new Promise(r => setTimeout(r, 1000 + Math.random() * 1000));
    }
  }
}
document.getElementById("msg").addEventListener("keydown", async (e) => {
  if (e.key !== "Enter") return;
  await fetch("/publish?channel=chat", { method: "POST", body: e.target.value });
  e.target.value = "";
});
loop();
</script>"#;

fn now(start: std::time::Instant) -> Instant {
    Instant::from_micros(start.elapsed().as_micros() as u64)
}

fn write_response(stream: &mut TcpStream, r: &HttpResponse) {
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (name, value) in &r.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        r.body.len()
    ));
    let _ = stream.set_nonblocking(false);
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(&r.body);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        _ => "Service Unavailable",
    }
}

fn plain(status: u16, content_type: &'static str, body: &[u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type", content_type.to_string())],
        body: body.to_vec(),
    }
}

/// A fully received request: method, target, headers, body.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Parses what has arrived; `None` while incomplete.
fn parse(buf: &[u8]) -> Result<Option<Request>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf).map_err(|_| ())? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let len = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    if buf.len() < head + len {
        return Ok(None);
    }
    Ok(Some(Request {
        method: req.method.unwrap_or("").to_string(),
        target: req.path.unwrap_or("").to_string(),
        headers: req
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect(),
        body: buf[head..head + len].to_vec(),
    }))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    // A new epoch per process start: clients of a previous run are told of the reset.
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let mut hub = Hub::new(HubConfig::default(), Epoch(epoch));
    let start = std::time::Instant::now();
    let mut reading: Vec<(TcpStream, Vec<u8>)> = Vec::new();
    let mut held: HashMap<PollId, TcpStream> = HashMap::new();
    eprintln!("listening on http://{addr}/ (epoch {epoch})");
    loop {
        // Accept.
        while let Ok((stream, _)) = listener.accept() {
            if reading.len() + held.len() < 1_000 {
                stream.set_nonblocking(true)?;
                reading.push((stream, Vec::new()));
            }
        }
        // Read requests.
        let mut i = 0;
        while i < reading.len() {
            let (stream, buf) = &mut reading[i];
            let mut chunk = [0u8; 4096];
            let done = match stream.read(&mut chunk) {
                Ok(0) => true,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    buf.len() > 64 << 10
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => false,
                Err(_) => true,
            };
            let parsed = parse(buf);
            if !done && matches!(parsed, Ok(None)) {
                i += 1;
                continue;
            }
            let (mut stream, _) = reading.swap_remove(i);
            let Ok(Some(req)) = parsed else {
                write_response(&mut stream, &plain(400, "text/plain", b"bad request"));
                continue;
            };
            let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
            let t = now(start);
            match (req.method.as_str(), path) {
                ("GET", "/") => {
                    write_response(&mut stream, &plain(200, "text/html", PAGE.as_bytes()))
                }
                ("GET", "/poll") => {
                    let headers = req.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()));
                    match http::parse_poll_request(query, headers) {
                        Ok(poll) => {
                            let id = hub.handle_poll(t, poll);
                            held.insert(id, stream);
                        }
                        Err(e) => write_response(
                            &mut stream,
                            &plain(400, "text/plain", e.to_string().as_bytes()),
                        ),
                    }
                }
                ("POST", "/publish") => {
                    let channel = query
                        .strip_prefix("channel=")
                        .and_then(|c| ChannelName::new(c).ok());
                    let r = match channel {
                        Some(c) => match hub.publish(t, &c, Bytes::from(req.body)) {
                            Ok(seq) => plain(200, "text/plain", seq.to_string().as_bytes()),
                            Err(e) => plain(503, "text/plain", e.to_string().as_bytes()),
                        },
                        None => plain(400, "text/plain", b"channel=NAME required"),
                    };
                    write_response(&mut stream, &r);
                }
                _ => write_response(&mut stream, &plain(404, "text/plain", b"not found")),
            }
        }
        // Clients that went away: abort their polls.
        let gone: Vec<PollId> = held
            .iter()
            .filter(|(_, s)| {
                let mut probe = [0u8; 1];
                matches!(s.peek(&mut probe), Ok(0))
                    || matches!(s.peek(&mut probe), Err(ref e) if e.kind() != ErrorKind::WouldBlock)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            held.remove(&id);
            hub.handle_abort(now(start), id);
        }
        // Time, then drain: responses, timeout, events.
        hub.handle_timeout(now(start));
        while let Some(response) = hub.poll_response() {
            if let Some(mut stream) = held.remove(&response.poll) {
                write_response(&mut stream, &http::render_response(&response.outcome));
            }
        }
        while let Some(event) = hub.poll_event() {
            eprintln!("{event:?}");
        }
        // Sleep until the next timer or 5 ms (socket readiness is polled, this is a demo).
        let wait = hub
            .poll_timeout()
            .map_or(Duration::from_millis(5), |at| {
                at.saturating_duration_since(now(start))
            })
            .min(Duration::from_millis(5));
        std::thread::sleep(wait);
    }
}

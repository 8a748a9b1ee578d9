//! The demo's own message format (JSON), the same on every transport.
//!
//! A chat message as published on the `room` channel (the hub payload):
//! `{"id":"k3f9...","name":"Ada","text":"hello","via":"ws","at":1700000000000}` — `id` is
//! the sender's own (a retried send with the same `id` is published once), `at` is the
//! server's clock in Unix milliseconds. A tick on the `ticks` channel:
//! `{"n":42,"at":...,"uptime_s":41,"epoch":"...","online":{...},"history":{...}}`.
//!
//! WebSocket, client → server (text frames):
//! - `{"type":"hello","cursor":"EPOCH:SEQ"}` first (`cursor` null: start at the backlog);
//! - `{"type":"send","id":"...","name":"...","text":"..."}`;
//! - `{"type":"ping","t":NUMBER}`.
//!
//! WebSocket, server → client: `{"type":"message","cursor":"E:S","message":{...}}`,
//! `{"type":"gap","missed_from":A,"missed_to":B,"cursor":"E:B"}`,
//! `{"type":"reset","previous":E1,"cursor":"E2:0"}`, `{"type":"tick","tick":{...}}`,
//! `{"type":"ack","id":"...","cursor":"E:S","duplicate":false}`, `{"type":"pong","t":NUMBER}`
//! and `{"type":"error","code":"...","message":"..."}` (with `id` and `retry_after_ms` when
//! they apply). The page keeps the cursor of the last message, gap or reset it got, and
//! sends it in its next `hello`.
//!
//! SSE carries the same hub items as `id: E:S` + the message JSON, `event: gap` /
//! `event: reset` (rt-tokio's `SseEvent::from_item`), and `event: tick` without an id (so
//! ticks never move `Last-Event-ID`). Long polling carries them as longpoll-proto's
//! multi-channel NDJSON lines.

use rt_tokio::hub::{Cursor, Item};
use serde_json::{json, Value};

use crate::limits::Limits;

/// Why a client's message was refused: the `code` the page shows, and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Machine-readable: `invalid_json`, `invalid_message`, `too_long`, `too_large`,
    /// `rate_limited`, `already_subscribed`, `not_subscribed`, `cursor_ahead`.
    pub code: &'static str,
    /// For a person.
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// A chat message a client asked to send, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: String,
    pub name: String,
    pub text: String,
}

/// One WebSocket message from a client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    Hello { cursor: Option<Cursor> },
    Send(Post),
    Ping { t: f64 },
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// Checks a send's fields (shared by the WebSocket `send` and `POST /send`).
pub fn post_of(v: &Value, limits: &Limits) -> Result<Post, Refusal> {
    let id = field(v, "id").unwrap_or_default();
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Refusal::new(
            "invalid_message",
            "id must be 1 to 64 characters of A-Z, a-z, 0-9, - or _",
        ));
    }
    let name = field(v, "name").unwrap_or_default().trim();
    let name_chars = name.chars().count();
    if name_chars == 0 || name_chars > limits.max_name_chars || name.chars().any(char::is_control) {
        return Err(Refusal::new(
            "invalid_message",
            format!(
                "name must be 1 to {} characters, without control characters",
                limits.max_name_chars
            ),
        ));
    }
    let Some(text) = field(v, "text") else {
        return Err(Refusal::new("invalid_message", "text must be a string"));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal::new("invalid_message", "text is empty"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Refusal::new(
            "invalid_message",
            "text may not hold control characters",
        ));
    }
    let chars = text.chars().count();
    if chars > limits.max_text_chars {
        return Err(Refusal::new(
            "too_long",
            format!(
                "text is {chars} characters; at most {} (max_text_chars)",
                limits.max_text_chars
            ),
        ));
    }
    Ok(Post {
        id: id.to_string(),
        name: name.to_string(),
        text: text.to_string(),
    })
}

/// Parses one WebSocket text message.
pub fn client_frame(text: &str, limits: &Limits) -> Result<ClientFrame, Refusal> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Refusal::new("invalid_json", format!("not JSON: {e}")))?;
    match field(&v, "type") {
        Some("hello") => {
            let cursor = match v.get("cursor") {
                None | Some(Value::Null) => None,
                Some(Value::String(c)) => Some(c.parse().map_err(|e| {
                    Refusal::new("invalid_message", format!("invalid cursor: {e}"))
                })?),
                Some(_) => {
                    return Err(Refusal::new(
                        "invalid_message",
                        "cursor must be a string EPOCH:SEQ or null",
                    ))
                }
            };
            Ok(ClientFrame::Hello { cursor })
        }
        Some("send") => post_of(&v, limits).map(ClientFrame::Send),
        Some("ping") => match v.get("t").and_then(Value::as_f64) {
            Some(t) => Ok(ClientFrame::Ping { t }),
            None => Err(Refusal::new("invalid_message", "ping needs a number t")),
        },
        _ => Err(Refusal::new(
            "invalid_message",
            "type must be hello, send or ping",
        )),
    }
}

/// The hub payload of a checked post.
pub fn payload(post: &Post, via: &str, at_ms: u64) -> String {
    json!({"id": post.id, "name": post.name, "text": post.text, "via": via, "at": at_ms})
        .to_string()
}

/// A hub item of `room` as a WebSocket message. The payload is spliced in as it is: only
/// [`payload`] writes to `room`, so it is always one JSON object.
pub fn item_frame(item: &Item) -> String {
    match item {
        Item::Message { cursor, data } => format!(
            "{{\"type\":\"message\",\"cursor\":\"{cursor}\",\"message\":{}}}",
            String::from_utf8_lossy(data)
        ),
        Item::Gap {
            missed_from,
            missed_to,
            resume,
        } => json!({"type": "gap", "missed_from": missed_from.0, "missed_to": missed_to.0,
                    "cursor": resume.to_string()})
        .to_string(),
        Item::Reset { previous, resume } => {
            json!({"type": "reset", "previous": previous.0, "cursor": resume.to_string()})
                .to_string()
        }
        other => json!({"type": "gap", "cursor": other.cursor().to_string()}).to_string(),
    }
}

/// A tick payload as a WebSocket message (spliced: only the ticker writes `ticks`).
pub fn tick_frame(data: &[u8]) -> String {
    format!(
        "{{\"type\":\"tick\",\"tick\":{}}}",
        String::from_utf8_lossy(data)
    )
}

pub fn ack_frame(id: &str, cursor: Cursor, duplicate: bool) -> String {
    json!({"type": "ack", "id": id, "cursor": cursor.to_string(), "duplicate": duplicate})
        .to_string()
}

pub fn pong_frame(t: f64) -> String {
    json!({"type": "pong", "t": t}).to_string()
}

/// An error message; `id` names the send it answers, `retry_after_ms` when to try again.
pub fn error_frame(refusal: &Refusal, id: Option<&str>, retry_after_ms: Option<u64>) -> String {
    let mut v = json!({"type": "error", "code": refusal.code, "message": refusal.message});
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    if let Some(ms) = retry_after_ms {
        v["retry_after_ms"] = json!(ms);
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_table() {
        let l = Limits::default();
        let long = "x".repeat(501);
        let too_long = format!(r#"{{"type":"send","id":"a","name":"n","text":"{long}"}}"#);
        let cases: Vec<(&str, Result<ClientFrame, &str>)> = vec![
            (
                r#"{"type":"hello","cursor":"7:3"}"#,
                Ok(ClientFrame::Hello {
                    cursor: Some(Cursor::new(7, 3)),
                }),
            ),
            (
                r#"{"type":"hello","cursor":null}"#,
                Ok(ClientFrame::Hello { cursor: None }),
            ),
            (
                r#"{"type":"hello"}"#,
                Ok(ClientFrame::Hello { cursor: None }),
            ),
            (r#"{"type":"hello","cursor":"7"}"#, Err("invalid_message")),
            (r#"{"type":"hello","cursor":7}"#, Err("invalid_message")),
            (
                r#"{"type":"send","id":"m-1","name":" Ada ","text":" hi "}"#,
                Ok(ClientFrame::Send(Post {
                    id: "m-1".into(),
                    name: "Ada".into(),
                    text: "hi".into(),
                })),
            ),
            (
                r#"{"type":"send","id":"m 1","name":"Ada","text":"hi"}"#,
                Err("invalid_message"),
            ),
            (
                r#"{"type":"send","id":"m1","name":"","text":"hi"}"#,
                Err("invalid_message"),
            ),
            (
                r#"{"type":"send","id":"m1","name":"Ada","text":"   "}"#,
                Err("invalid_message"),
            ),
            (
                r#"{"type":"send","id":"m1","name":"Ada","text":"a\u0007b"}"#,
                Err("invalid_message"),
            ),
            (
                r#"{"type":"send","id":"m1","name":"Ada","text":5}"#,
                Err("invalid_message"),
            ),
            (&too_long, Err("too_long")),
            (
                r#"{"type":"ping","t":12.5}"#,
                Ok(ClientFrame::Ping { t: 12.5 }),
            ),
            (r#"{"type":"ping"}"#, Err("invalid_message")),
            (r#"{"type":"dance"}"#, Err("invalid_message")),
            (r#"[1,2"#, Err("invalid_json")),
            ("", Err("invalid_json")),
        ];
        for (input, want) in cases {
            let got = client_frame(input, &l).map_err(|r| r.code);
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn frames_are_json() {
        let item = Item::Message {
            cursor: Cursor::new(7, 3),
            data: bytes::Bytes::from(payload(
                &Post {
                    id: "a".into(),
                    name: "Ada \"the\" first".into(),
                    text: "</script>".into(),
                },
                "ws",
                5,
            )),
        };
        let v: Value = serde_json::from_str(&item_frame(&item)).unwrap();
        assert_eq!(v["cursor"], "7:3");
        assert_eq!(v["message"]["name"], "Ada \"the\" first");
        assert_eq!(v["message"]["text"], "</script>");
        let gap = Item::Gap {
            missed_from: rt_tokio::hub::Seq(2),
            missed_to: rt_tokio::hub::Seq(9),
            resume: Cursor::new(7, 9),
        };
        let v: Value = serde_json::from_str(&item_frame(&gap)).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["missed_from"].as_u64(),
                v["cursor"].as_str()
            ),
            (Some("gap"), Some(2), Some("7:9"))
        );
        let e: Value = serde_json::from_str(&error_frame(
            &Refusal::new("rate_limited", "slow down"),
            Some("m1"),
            Some(250),
        ))
        .unwrap();
        assert_eq!(
            (
                e["code"].as_str(),
                e["id"].as_str(),
                e["retry_after_ms"].as_u64()
            ),
            (Some("rate_limited"), Some("m1"), Some(250))
        );
    }
}

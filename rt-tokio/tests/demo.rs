#![cfg(all(feature = "ws", feature = "sse", feature = "longpoll"))]
//! The demo's server (`examples/demo`, compiled in here) on 127.0.0.1, driven with rt-tokio's
//! WebSocket client and hyper: sends acknowledged and fanned out, resume from a cursor on
//! all three transports, explicit gaps and resets, bad input answered in each protocol's
//! terms (error messages, close codes, HTTP statuses), rate limits, `/status`, and the
//! graceful shutdown. `tests/demo_browser.rs` runs the built binary under Chromium.

#[allow(dead_code)]
#[path = "../examples/demo/limits.rs"]
mod limits;
#[allow(dead_code)]
#[path = "../examples/demo/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../examples/demo/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use limits::Limits;
use rt_tokio::http::{serve_with, CancellationToken, ServeConfig};
use rt_tokio::net::ClientStream;
use rt_tokio::ws::{connect, CloseCode, Message, WebSocket};
use serde_json::{json, Value};
use server::App;

async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("in time")
}

struct Demo {
    addr: SocketAddr,
    app: App,
    served: tokio::task::JoinHandle<()>,
}

async fn start(limits: Limits) -> Demo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let app = App::new(limits, shutdown.clone());
    tokio::spawn(server::ticker(app.clone()));
    let a = app.clone();
    let served = tokio::spawn(async move {
        serve_with(listener, ServeConfig::default(), shutdown, |info| {
            a.connection(info)
        })
        .await
    });
    Demo { addr, app, served }
}

type Ws = WebSocket<ClientStream>;

async fn ws(demo: &Demo) -> Ws {
    soon(connect(&format!("ws://{}/ws", demo.addr)))
        .await
        .unwrap()
        .0
}

async fn send_json(ws: &mut Ws, v: Value) {
    ws.send(v.to_string()).await.unwrap();
}

/// The next server message that is not a tick; `None` once the socket is closed.
async fn next(ws: &mut Ws) -> Option<Value> {
    soon(async {
        loop {
            match ws.recv().await? {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] != "tick" {
                        return Some(v);
                    }
                }
                Ok(other) => panic!("{other:?}"),
                Err(_) => return None,
            }
        }
    })
    .await
}

fn post(id: &str, text: &str) -> Value {
    json!({"type": "send", "id": id, "name": "Ada", "text": text})
}

async fn http(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut sender = sender(addr).await;
    let response = soon(sender.send_request(request)).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = soon(body.collect()).await.unwrap().to_bytes();
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (parts.status, parts.headers, v)
}

async fn sender(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

fn send_request(body: &str, content_type: &str) -> Request<Full<Bytes>> {
    Request::post("/send")
        .header("host", "demo")
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header("host", "demo");
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn websocket_sends_are_acked_fanned_out_and_resumed_from_a_cursor() {
    let demo = start(Limits::default()).await;
    let mut a = ws(&demo).await;
    let mut b = ws(&demo).await;
    for s in [&mut a, &mut b] {
        send_json(s, json!({"type": "hello", "cursor": null})).await;
    }
    // Both are subscribed once a ping is answered (hello is handled first, in order).
    for s in [&mut a, &mut b] {
        send_json(s, json!({"type": "ping", "t": 1.5})).await;
        assert_eq!(next(s).await.unwrap(), json!({"type": "pong", "t": 1.5}));
    }
    send_json(&mut a, post("m1", "first")).await;
    let ack = next(&mut a).await.unwrap();
    let message = next(&mut a).await.unwrap();
    let (ack, message) = if ack["type"] == "ack" {
        (ack, message)
    } else {
        (message, ack)
    };
    assert_eq!(
        (ack["id"].as_str(), ack["duplicate"].as_bool()),
        (Some("m1"), Some(false))
    );
    assert_eq!(message["type"], "message");
    assert_eq!(message["cursor"], ack["cursor"]);
    assert_eq!(message["message"]["text"], "first");
    assert_eq!(message["message"]["via"], "ws");
    let c1 = message["cursor"].as_str().unwrap().to_string();
    assert_eq!(next(&mut b).await.unwrap(), message);
    drop(b);

    // Sent again with the same id: acknowledged with the first cursor, published once.
    send_json(&mut a, post("m1", "first")).await;
    let again = next(&mut a).await.unwrap();
    assert_eq!(
        (again["type"].as_str(), again["cursor"].as_str()),
        (Some("ack"), Some(c1.as_str()))
    );
    assert_eq!(again["duplicate"], true);
    for (id, text) in [("m2", "second"), ("m3", "third")] {
        send_json(&mut a, post(id, text)).await;
    }
    // A page coming back with its cursor gets exactly what it missed, in order.
    let mut b = ws(&demo).await;
    send_json(&mut b, json!({"type": "hello", "cursor": c1})).await;
    let texts: Vec<Value> = vec![next(&mut b).await.unwrap(), next(&mut b).await.unwrap()];
    assert_eq!(
        texts
            .iter()
            .map(|v| v["message"]["text"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["second", "third"]
    );
    let status = demo.app.status_json().await;
    let room = status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "room")
        .unwrap()
        .clone();
    assert_eq!(room["messages"], 3);
    assert_eq!(status["connections"]["websocket"], 2);
}

#[tokio::test]
async fn websocket_bad_input_gets_error_messages_and_close_codes() {
    let demo = start(Limits::default()).await;
    let mut w = ws(&demo).await;
    // Errors that leave the connection open.
    w.send("{not json").await.unwrap();
    assert_eq!(next(&mut w).await.unwrap()["code"], "invalid_json");
    send_json(&mut w, post("early", "before hello")).await;
    let e = next(&mut w).await.unwrap();
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("not_subscribed"), Some("early"))
    );
    send_json(&mut w, json!({"type": "hello"})).await;
    send_json(&mut w, json!({"type": "hello"})).await;
    assert_eq!(next(&mut w).await.unwrap()["code"], "already_subscribed");
    send_json(&mut w, post("long", &"x".repeat(501))).await;
    assert_eq!(next(&mut w).await.unwrap()["code"], "too_long");
    send_json(
        &mut w,
        json!({"type": "send", "id": "bad id!", "name": "A", "text": "t"}),
    )
    .await;
    assert_eq!(next(&mut w).await.unwrap()["code"], "invalid_message");
    // Over the send budget (8 at once): refused with when to retry.
    let mut codes = Vec::new();
    let mut delivered = 0;
    for i in 0..10 {
        send_json(&mut w, post(&format!("burst{i}"), "hi")).await;
    }
    while codes.len() < 10 {
        let v = next(&mut w).await.unwrap();
        match v["type"].as_str() {
            Some("ack") => codes.push("ack".to_string()),
            Some("error") => {
                assert!(v["retry_after_ms"].as_u64().unwrap() > 0);
                codes.push(v["code"].as_str().unwrap().to_string());
            }
            Some("message") => delivered += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(codes.iter().filter(|c| *c == "ack").count(), 8, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "rate_limited").count(),
        2,
        "{codes:?}"
    );

    // A message over max_frame_bytes: ws-proto closes with 1009.
    let mut big = ws(&demo).await;
    big.send("x".repeat(5000)).await.unwrap();
    assert!(next(&mut big).await.is_none());
    assert_eq!(big.closed().unwrap().code, CloseCode::MESSAGE_TOO_BIG);
    // Binary: 1003.
    let mut binary = ws(&demo).await;
    binary
        .send(Message::Binary(Bytes::from_static(b"\x00\x01")))
        .await
        .unwrap();
    assert!(next(&mut binary).await.is_none());
    assert_eq!(binary.closed().unwrap().code, CloseCode::UNSUPPORTED_DATA);
    // A flood of any messages (40 at once, 10 a second): 1008.
    let mut flood = ws(&demo).await;
    for _ in 0..60 {
        if flood
            .send(json!({"type": "ping", "t": 0}).to_string())
            .await
            .is_err()
        {
            break;
        }
    }
    while next(&mut flood).await.is_some() {}
    let closed = flood.closed().unwrap();
    assert_eq!(closed.code, CloseCode::POLICY_VIOLATION);
    assert!(closed.reason.contains("flooding"), "{closed:?}");
    // The server is still serving: the 8 accepted messages came back, then the pong.
    send_json(&mut w, json!({"type": "ping", "t": 2})).await;
    loop {
        let v = next(&mut w).await.unwrap();
        match v["type"].as_str() {
            Some("message") => delivered += 1,
            Some("pong") => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delivered, 8);
}

#[tokio::test]
async fn gaps_and_resets_are_explicit_on_every_transport() {
    let demo = start(Limits {
        history_messages: 3,
        ..Limits::default()
    })
    .await;
    let mut cursors = Vec::new();
    for i in 1..=6 {
        let p = wire::Post {
            id: format!("g{i}"),
            name: "Ada".into(),
            text: format!("m{i}"),
        };
        cursors.push(demo.app.publish(&p, "ws").await.unwrap().0);
    }
    let epoch = cursors[0].epoch;
    // The history holds 4..=6: a page at 1 is told 2..=3 are gone, then gets 4..=6.
    let mut w = ws(&demo).await;
    send_json(
        &mut w,
        json!({"type": "hello", "cursor": cursors[0].to_string()}),
    )
    .await;
    let gap = next(&mut w).await.unwrap();
    assert_eq!(
        (
            gap["type"].as_str(),
            gap["missed_from"].as_u64(),
            gap["missed_to"].as_u64()
        ),
        (Some("gap"), Some(2), Some(3))
    );
    for want in ["m4", "m5", "m6"] {
        assert_eq!(next(&mut w).await.unwrap()["message"]["text"], want);
    }
    // A cursor of another epoch (a previous process): a reset, then what this one holds.
    let mut r = ws(&demo).await;
    send_json(&mut r, json!({"type": "hello", "cursor": "12345:9"})).await;
    let reset = next(&mut r).await.unwrap();
    assert_eq!(reset["type"], "reset");
    assert_eq!(reset["previous"], 12345);
    assert_eq!(reset["cursor"], format!("{}:0", epoch.0));
    assert_eq!(next(&mut r).await.unwrap()["type"], "gap"); // 1..=3 left the history
    assert_eq!(next(&mut r).await.unwrap()["message"]["text"], "m4");

    // SSE: the same gap as an `event: gap`, resumed from Last-Event-ID.
    let mut s = sender(demo.addr).await;
    let response = soon(s.send_request(get("/sse", &[("last-event-id", &cursors[0].to_string())])))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    soon(async {
        while !text.contains("data: {\"at\"") || !text.contains("m6") {
            let frame = body.frame().await.unwrap().unwrap();
            if let Ok(data) = frame.into_data() {
                text.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    })
    .await;
    let gap_at = text.find("event: gap").expect("a gap event");
    assert!(text[gap_at..].contains(&format!("id: {}", cursors[2])));
    assert!(text.find("m4").unwrap() > gap_at);

    // Long polling: a `gap` line, then the held messages.
    let (status, _, _) = http(demo.addr, get("/poll", &[])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a poll without a channel");
    let mut lp = sender(demo.addr).await;
    let url = format!("/poll?subs=room;{},ticks&client=t1", cursors[0]);
    let response = soon(lp.send_request(get(&url, &[]))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let lines = soon(response.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    let lines: Vec<Value> = std::str::from_utf8(&lines)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["channel"] == "room")
        .collect();
    assert_eq!(lines[0]["reason"], "gap");
    assert_eq!(lines[0]["cursor"], cursors[2].to_string());
}

#[tokio::test]
async fn http_sends_answer_in_http_terms() {
    let demo = start(Limits::default()).await;
    let ok = r#"{"id":"h1","name":"Ada","text":"hello","via":"sse"}"#;
    let (status, _, v) = http(demo.addr, send_request(ok, "application/json")).await;
    assert_eq!(status, StatusCode::OK);
    let cursor = v["cursor"].clone();
    let (status, _, v) = http(
        demo.addr,
        send_request(ok, "application/json; charset=utf-8"),
    )
    .await;
    assert_eq!(
        (status, v["cursor"].clone(), v["duplicate"].clone()),
        (StatusCode::OK, cursor, json!(true))
    );
    let long = json!({"id": "h2", "name": "Ada", "text": "y".repeat(501)}).to_string();
    let huge = json!({"id": "h3", "name": "Ada", "text": "z".repeat(5000)}).to_string();
    let cases: [(&str, &str, StatusCode, &str); 5] = [
        (
            "{\"id\":",
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            ok,
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            &long,
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_long",
        ),
        (
            &huge,
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            r#"{"id":"h4","name":"","text":"x"}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_message",
        ),
    ];
    for (body, content_type, want, code) in cases {
        let (status, _, v) = http(demo.addr, send_request(body, content_type)).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (want, Some(code)),
            "{body:.40}"
        );
    }
    // One connection flooding: 8 accepted, then 429 with Retry-After.
    let mut flood = sender(demo.addr).await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let body = format!(r#"{{"id":"f{i}","name":"Ada","text":"flood"}}"#);
        let response = soon(flood.send_request(send_request(&body, "application/json")))
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().get("retry-after").is_some());
        }
        statuses.push(response.status());
        let _ = soon(response.into_body().collect()).await;
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 8);
    assert_eq!(statuses[8..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    // Another connection has its own budget.
    let body = r#"{"id":"other","name":"Bo","text":"not limited"}"#;
    assert_eq!(
        http(demo.addr, send_request(body, "application/json"))
            .await
            .0,
        StatusCode::OK
    );
    // Unknown pages and methods.
    assert_eq!(
        http(demo.addr, get("/nope", &[])).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http(demo.addr, get("/send", &[])).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn pages_and_status_are_served() {
    let demo = start(Limits::default()).await;
    let mut s = sender(demo.addr).await;
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
    ] {
        let r = soon(s.send_request(get(path, &[]))).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], content_type);
        let body = soon(r.into_body().collect()).await.unwrap().to_bytes();
        assert!(body.len() > 500, "{path}");
    }
    let mut w = ws(&demo).await;
    send_json(&mut w, json!({"type": "hello"})).await;
    send_json(&mut w, post("s1", "counted")).await;
    assert_eq!(next(&mut w).await.unwrap()["type"], "ack");
    let (status, _, v) = http(demo.addr, get("/status", &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["connections"]["websocket"], 1);
    let room = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "room")
        .unwrap();
    assert_eq!(room["messages"], 1);
    assert!(v["published"].as_u64().unwrap() >= 1);
    // /cursor: where a new page starts (the backlog), in this epoch.
    let (_, _, c) = http(demo.addr, get("/cursor", &[])).await;
    assert_eq!(
        c["cursor"].as_str().unwrap(),
        format!("{}:0", v["epoch"].as_str().unwrap())
    );
    // A tick reaches a subscriber within a couple of seconds.
    let tick = soon(async {
        loop {
            if let Some(Ok(Message::Text(t))) = w.recv().await {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "tick" {
                    return v;
                }
            }
        }
    })
    .await;
    assert!(tick["tick"]["n"].as_u64().unwrap() >= 1);
    assert_eq!(tick["tick"]["online"]["websocket"], 1);
}

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away_and_stops_serving() {
    let demo = start(Limits::default()).await;
    let mut w = ws(&demo).await;
    send_json(&mut w, json!({"type": "hello"})).await;
    send_json(&mut w, json!({"type": "ping", "t": 0})).await;
    assert_eq!(next(&mut w).await.unwrap()["type"], "pong");
    demo.app.shutdown.cancel();
    assert!(next(&mut w).await.is_none());
    assert_eq!(w.closed().unwrap().code, CloseCode::GOING_AWAY);
    soon(demo.served).await.unwrap();
    assert!(tokio::net::TcpStream::connect(demo.addr).await.is_err());
}

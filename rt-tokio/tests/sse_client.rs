//! The EventSource client against small hyper servers on 127.0.0.1: it closes for good on
//! 204, a wrong status or content type and too many redirects; it follows a redirect;
//! with `retry_server_errors` it reconnects after a 503; its idle timeout replaces a
//! silent connection; and the `sse-client` example prints the `sse-dump` JSON shape.
#![cfg(all(feature = "sse", feature = "longpoll"))]

mod common;

#[path = "../examples/sse-client/print.rs"]
mod print;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::boxed;
use http::{Response, StatusCode};
use http_body_util::Full;
use rt_tokio::sse::{
    DisconnectReason, EventSource, EventSourceConfig, FailReason, ResponseError, SseBody,
    SseClientEvent, SseConfig, SseEvent,
};

/// Serves `handler(n)` for the n-th request (0-based); returns the base URL.
async fn server(
    handler: impl Fn(usize) -> Response<common::BoxBody> + Clone + Send + Sync + 'static,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(rt_tokio::http::serve(listener, move |_req| {
        let n = count.fetch_add(1, Ordering::Relaxed);
        let response = handler(n);
        async move { response }
    }));
    url
}

fn status(
    code: u16,
    content_type: Option<&str>,
    location: Option<&str>,
) -> Response<common::BoxBody> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap();
    if let Some(ct) = content_type {
        r.headers_mut().insert("content-type", ct.parse().unwrap());
    }
    if let Some(l) = location {
        r.headers_mut().insert("location", l.parse().unwrap());
    }
    boxed(r)
}

fn stream(events: &[&str], config: SseConfig) -> Response<common::BoxBody> {
    let events: Vec<SseEvent> = events.iter().map(|d| SseEvent::data(d)).collect();
    let body = SseBody::new(
        futures_util::stream::iter(events).chain(futures_util::stream::pending()),
        &config,
    );
    boxed(rt_tokio::sse::response(body))
}

use futures_util::StreamExt;

fn config() -> EventSourceConfig {
    let mut c = EventSourceConfig::default();
    c.client.min_reconnection_time = Duration::from_millis(10);
    c.client.initial_reconnection_time = Duration::from_millis(10);
    c
}

async fn events_until_closed(url: &str, config: EventSourceConfig) -> Vec<SseClientEvent> {
    let es = EventSource::connect(url, config).unwrap();
    tokio::time::timeout(Duration::from_secs(30), es.take(20).collect::<Vec<_>>())
        .await
        .expect("closed in time")
}

#[tokio::test(start_paused = true)]
async fn closes_for_good_on_204_wrong_status_or_type_and_redirect_loops() {
    let cases: Vec<(Response<common::BoxBody>, FailReason)> = vec![
        (
            status(204, None, None),
            FailReason::Response(ResponseError::Status(204)),
        ),
        (
            status(404, Some("text/event-stream"), None),
            FailReason::Response(ResponseError::Status(404)),
        ),
        (
            status(500, Some("text/event-stream"), None),
            FailReason::Response(ResponseError::Status(500)),
        ),
        (
            status(200, Some("text/html"), None),
            FailReason::Response(ResponseError::ContentType),
        ),
        (
            status(302, None, Some("/again")),
            FailReason::Response(ResponseError::TooManyRedirects { limit: 3 }),
        ),
    ];
    for (response, want) in cases {
        let (parts, _) = response.into_parts();
        let url = server(move |_| {
            let mut r = status(parts.status.as_u16(), None, None);
            *r.headers_mut() = parts.headers.clone();
            r
        })
        .await;
        let mut c = config();
        c.client.max_redirects = 3;
        let events = events_until_closed(&url, c).await;
        assert_eq!(
            events.last(),
            Some(&SseClientEvent::Failed(want.clone())),
            "{events:?}"
        );
        let redirects = events
            .iter()
            .filter(|e| matches!(e, SseClientEvent::Redirect { .. }))
            .count();
        let expected = if matches!(
            want,
            FailReason::Response(ResponseError::TooManyRedirects { .. })
        ) {
            3
        } else {
            0
        };
        assert_eq!(redirects, expected);
    }
}

#[tokio::test(start_paused = true)]
async fn follows_a_redirect_and_retries_server_errors_when_asked() {
    let url = server(|n| match n {
        0 => status(307, None, Some("/moved")),
        1 | 2 => status(503, Some("text/html"), None),
        _ => stream(&["hello"], SseConfig::default()),
    })
    .await;
    let mut c = config();
    c.client.retry_server_errors = true;
    let mut es = EventSource::connect(&format!("{url}/start"), c).unwrap();
    let mut seen = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), es.next_event())
            .await
            .unwrap()
            .unwrap();
        let done = matches!(e, SseClientEvent::Message(_));
        seen.push(e);
        if done {
            break;
        }
    }
    assert!(matches!(&seen[0], SseClientEvent::Redirect { to } if to.ends_with("/moved")));
    let retried: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            SseClientEvent::Reconnecting { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(retried, [DisconnectReason::ServerError { status: 503 }; 2]);
    assert!(seen.contains(&SseClientEvent::Open));
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_replaced_after_the_idle_timeout() {
    let mut silent = SseConfig::default();
    silent.keep_alive = None;
    silent.retry = None;
    let url = server(move |_| stream(&[], silent)).await;
    let mut c = config();
    c.client.idle_timeout = Some(Duration::from_secs(5));
    let mut es = EventSource::connect(&url, c).unwrap();
    assert_eq!(es.next_event().await, Some(SseClientEvent::Open));
    let start = tokio::time::Instant::now();
    match es.next_event().await.unwrap() {
        SseClientEvent::Reconnecting { reason, .. } => {
            assert_eq!(reason, DisconnectReason::IdleTimeout)
        }
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_secs(5));
    assert_eq!(es.next_event().await, Some(SseClientEvent::Open));
}

#[tokio::test]
async fn the_example_prints_one_json_line_per_event_and_stops_on_204() {
    // The first stream ends after two events; the reconnection gets 204.
    let url = server(|n| match n {
        0 => {
            let mut config = SseConfig::default();
            config.retry = Some(Duration::from_millis(10));
            let events = ["one", "two \"quoted\"\nline"].map(SseEvent::data);
            let body = SseBody::new(futures_util::stream::iter(events), &config);
            boxed(rt_tokio::sse::response(body))
        }
        _ => status(204, None, None),
    })
    .await;
    let source = EventSource::connect(&url, config()).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let end = print::run(source, &mut out, &mut err).await.unwrap();
    assert_eq!(end, print::End::Stopped);
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        serde_json::json!({"event": "message", "data": "one", "id": ""})
    );
    assert_eq!(lines[1]["data"], "two \"quoted\"\nline");
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("reconnecting") && err.contains("204"), "{err}");
}

#![cfg(all(feature = "sse", feature = "longpoll", feature = "ws"))]
//! SSE and long polling end to end on 127.0.0.1, from one hub: fan-out, SSE resume after a
//! dropped connection, the gap event, long-poll timeouts / supersede / restart, a client
//! gone mid-poll, cursors older than the long-poll window served from the hub's history,
//! multi-channel polls, idle channels let go, upstream sends, and bad requests.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{get, memory, request, TestServer};
use rt_tokio::hub::{ChannelName, Cursor, Epoch, Hub};
use rt_tokio::longpoll::{
    ClientEvent, ClientId, LongPollClient, LongPollClientConfig, LongPollConfig,
};
use rt_tokio::sse::{EventSource, EventSourceConfig, SseClientEvent, SseConfig};

fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

fn sse_config() -> SseConfig {
    let mut c = SseConfig::default();
    c.retry = Some(Duration::from_millis(100));
    c
}

fn es_config(last_event_id: Option<String>) -> EventSourceConfig {
    let mut c = EventSourceConfig::default();
    c.client.min_reconnection_time = Duration::from_millis(10);
    c.last_event_id = last_event_id;
    c
}

/// A subscriber on some transport.
enum Subscriber {
    Sse(EventSource),
    LongPoll(LongPollClient),
    /// Items as WebSocket text messages `"CURSOR DATA"` (see [`ws_bridge`]).
    Ws(Box<rt_tokio::ws::WebSocket<rt_tokio::net::ClientStream>>),
}

/// A WebSocket endpoint for hub subscribers on a free port: `/?channel=NAME&cursor=C`
/// subscribes from that cursor and sends each message as `"CURSOR DATA"` (a gap or a reset
/// as `"! CURSOR"`), the cursor in the same text form SSE's `id:` and the long-poll cursor
/// carry. Returns its `ws://` base URL.
async fn ws_bridge(hub: Hub) -> String {
    use rt_tokio::hub::Item;
    use rt_tokio::ws::{accept, ServerOptions};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let hub = hub.clone();
            tokio::spawn(async move {
                let (mut ws, request) = accept(tcp, &ServerOptions::default()).await.unwrap();
                let query: Vec<(String, String)> =
                    form_urlencoded::parse(request.query().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect();
                let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                let channel = ch(&param("channel").unwrap());
                let from = param("cursor").map(|c| c.parse::<Cursor>().unwrap());
                let mut sub = hub.subscribe(&channel, from).await.unwrap();
                let _guard = hub.connection(rt_tokio::hub::Transport::WebSocket);
                while let Ok(item) = sub.recv().await {
                    let text = match &item {
                        Item::Message { cursor, data } => {
                            format!("{cursor} {}", String::from_utf8_lossy(data))
                        }
                        other => format!("! {}", other.cursor()),
                    };
                    if ws.send(text).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    url
}

impl Subscriber {
    /// The next message as (cursor, text), skipping connection-state events.
    async fn next_message(&mut self) -> (Cursor, String) {
        let work = async {
            match self {
                Subscriber::Sse(es) => loop {
                    match es.next_event().await.expect("sse stream open") {
                        SseClientEvent::Message(m) => {
                            assert_eq!(m.event_type, "message");
                            break (m.last_event_id.parse().unwrap(), m.data.to_string());
                        }
                        SseClientEvent::Open | SseClientEvent::Reconnecting { .. } => {}
                        other => panic!("sse: {other:?}"),
                    }
                },
                Subscriber::LongPoll(lp) => loop {
                    match lp.next_event().await.expect("long-poll client running") {
                        ClientEvent::Message { epoch, message } => {
                            break (
                                Cursor {
                                    epoch,
                                    seq: message.seq,
                                },
                                String::from_utf8(message.data.to_vec()).unwrap(),
                            )
                        }
                        ClientEvent::Backoff { .. } => {}
                        other => panic!("long-poll: {other:?}"),
                    }
                },
                Subscriber::Ws(ws) => {
                    let message = ws.recv().await.expect("websocket open").unwrap();
                    let rt_tokio::ws::Message::Text(t) = message else {
                        panic!("websocket: {message:?}");
                    };
                    let (cursor, data) = t.split_once(' ').unwrap();
                    assert_ne!(cursor, "!", "websocket: a gap or reset: {t}");
                    (cursor.parse().unwrap(), data.to_string())
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), work)
            .await
            .expect("a message in time")
    }
}

async fn open_sse(server: &TestServer, channel: &str, last: Option<Cursor>) -> EventSource {
    let mut es = EventSource::connect(
        &server.url(&format!("/sse?channel={channel}")),
        es_config(last.map(|c| c.to_string())),
    )
    .unwrap();
    assert_eq!(es.next_event().await, Some(SseClientEvent::Open));
    es
}

#[tokio::test]
async fn one_publish_reaches_every_transport() {
    let hub = Hub::new(memory(7, 100));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    let news = ch("news");
    let head = hub.head(&news).await.unwrap();
    let mut subscribers = vec![
        Subscriber::Sse(open_sse(&server, "news", Some(head)).await),
        Subscriber::LongPoll(
            LongPollClient::connect(
                &server.url("/poll"),
                news.clone(),
                Some(head),
                LongPollClientConfig::default(),
            )
            .unwrap(),
        ),
    ];
    let ws_url = ws_bridge(hub.clone()).await;
    let (ws, _) = rt_tokio::ws::connect(&format!("{ws_url}/?channel=news&cursor={head}"))
        .await
        .unwrap();
    subscribers.push(Subscriber::Ws(Box::new(ws)));
    let cursor = hub.publish(&news, "one for all").await.unwrap();
    for s in &mut subscribers {
        assert_eq!(s.next_message().await, (cursor, "one for all".to_string()));
    }
    let stats = hub.stats().await;
    assert_eq!(stats.connections.sse, 1);
    assert_eq!(stats.connections.websocket, 1);
    assert_eq!(stats.published, 1);
}

#[tokio::test(start_paused = true)]
async fn sse_reconnect_after_the_server_drops_resumes_with_exactly_the_missed_events() {
    let hub = Hub::new(memory(3, 100));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    let c = ch("c");
    let mut sub = Subscriber::Sse(open_sse(&server, "c", Some(hub.head(&c).await.unwrap())).await);
    let mut got = Vec::new();
    for i in 1..=3 {
        hub.publish(&c, format!("m{i}")).await.unwrap();
        got.push(sub.next_message().await.1);
    }
    server.drop_connections();
    for i in 4..=6 {
        hub.publish(&c, format!("m{i}")).await.unwrap();
    }
    let Subscriber::Sse(es) = &mut sub else {
        unreachable!()
    };
    // The drop is seen, then the client waits the server's retry and comes back.
    match es.next_event().await.unwrap() {
        SseClientEvent::Reconnecting { delay, .. } => {
            assert_eq!(delay, Duration::from_millis(100))
        }
        other => panic!("{other:?}"),
    }
    for _ in 4..=6 {
        got.push(sub.next_message().await.1);
    }
    hub.publish(&c, "m7").await.unwrap();
    got.push(sub.next_message().await.1);
    assert_eq!(got, ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
}

#[tokio::test]
async fn a_last_event_id_older_than_the_history_gets_the_gap_event() {
    let hub = Hub::new(memory(5, 5));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    let c = ch("c");
    for i in 1..=20 {
        hub.publish(&c, format!("m{i}")).await.unwrap();
    }
    let mut es = open_sse(&server, "c", Some(Cursor::new(5, 2))).await;
    match es.next_event().await.unwrap() {
        SseClientEvent::Message(m) => {
            assert_eq!(m.event_type, "gap");
            assert_eq!(m.last_event_id, "5:15");
            assert_eq!(
                m.data,
                r#"{"missed_from":3,"missed_to":15,"cursor":"5:15"}"#
            );
        }
        other => panic!("{other:?}"),
    }
    let mut sub = Subscriber::Sse(es);
    for i in 16..=20 {
        assert_eq!(
            sub.next_message().await,
            (Cursor::new(5, i), format!("m{i}"))
        );
    }
    // An epoch the hub does not have: a reset event, then the channel from its start.
    let mut es = open_sse(&server, "c", Some(Cursor::new(4, 9))).await;
    match es.next_event().await.unwrap() {
        SseClientEvent::Message(m) => {
            assert_eq!(
                (m.event_type.as_str(), m.last_event_id.as_str()),
                ("reset", "5:0")
            );
        }
        other => panic!("{other:?}"),
    }
}

fn lp_config(hold: Duration) -> LongPollConfig {
    let mut c = LongPollConfig::default();
    c.hub.hold = hold;
    c
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_client_survives_timeouts_a_superseded_poll_and_a_restart() {
    let hub = Hub::new(memory(1, 100));
    let server =
        TestServer::start(hub.clone(), sse_config(), lp_config(Duration::from_secs(2))).await;
    let c = ch("c");
    let mut config = LongPollClientConfig::default();
    config.client_id = Some(ClientId::new("lp-test-client").unwrap());
    let id = config.client_id.clone().unwrap();
    let mut client = LongPollClient::connect(
        &server.url("/poll"),
        c.clone(),
        Some(Cursor::new(1, 0)),
        config,
    )
    .unwrap();
    // Server-side timeouts: several 2-second holds answered 204, the client polls again.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let polls = server.gets.load(std::sync::atomic::Ordering::Relaxed);
    assert!(polls >= 3, "{polls} polls");
    hub.publish(&c, "after timeouts").await.unwrap();
    match client.next_event().await.unwrap() {
        ClientEvent::Message { message, .. } => assert_eq!(&message.data[..], b"after timeouts"),
        other => panic!("{other:?}"),
    }
    // A second poll with the same client id supersedes the client's held one.
    let poll = get(
        server.addr,
        "/poll?channel=c&cursor=1:1",
        &[("longpoll-client", id.as_str())],
    );
    let (status, headers, _) = request(server.addr, poll).await;
    // ...and the client's next poll supersedes that one in turn (lossless either way).
    assert_eq!(status, 204);
    assert_eq!(headers["longpoll-reason"], "superseded");
    hub.publish(&c, "after supersede").await.unwrap();
    match client.next_event().await.unwrap() {
        ClientEvent::Message { message, .. } => assert_eq!(&message.data[..], b"after supersede"),
        other => panic!("{other:?}"),
    }
    // Restart: a new process (new hub, new epoch) on the same port.
    let addr = server.stop().await;
    let hub2 = Hub::new(memory(2, 100));
    let server2 = TestServer::restart_on(
        addr,
        hub2.clone(),
        sse_config(),
        lp_config(Duration::from_secs(2)),
    )
    .await;
    hub2.publish(&c, "after restart").await.unwrap();
    let mut events = Vec::new();
    let data = loop {
        match tokio::time::timeout(Duration::from_secs(120), client.next_event())
            .await
            .unwrap()
            .unwrap()
        {
            ClientEvent::Message { epoch, message } => break (epoch, message.data),
            other => events.push(other),
        }
    };
    assert_eq!(data, (Epoch(2), Bytes::from_static(b"after restart")));
    assert!(
        events.contains(&ClientEvent::Reset {
            previous: Epoch(1),
            epoch: Epoch(2)
        }),
        "{events:?}"
    );
    drop(server2);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_disappears_mid_poll_is_removed_at_once() {
    let hub = Hub::new(memory(1, 100));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let pending = tokio::spawn(sender.send_request(get(
        server.addr,
        "/poll?channel=c&cursor=1:0",
        &[("longpoll-client", "gone")],
    )));
    let start = tokio::time::Instant::now();
    for _ in 0..1000 {
        if server.longpoll.stats().held_polls == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(server.longpoll.stats().held_polls, 1);
    assert_eq!(hub.stats().await.connections.longpoll, 1);
    // The client goes away: its socket closes.
    pending.abort();
    conn.abort();
    for _ in 0..1000 {
        if server.longpoll.stats().held_polls == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let stats = server.longpoll.stats();
    assert_eq!((stats.held_polls, stats.aborted), (0, 1));
    assert_eq!(hub.stats().await.connections.longpoll, 0);
    // Removed at once, not at its 25-second deadline.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn upstream_sends_are_acknowledged_and_delivered_once() {
    let hub = Hub::new(memory(1, 100));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    let mut upstream = server.longpoll.upstream().unwrap();
    assert!(server.longpoll.upstream().is_none(), "taken once");
    let client = LongPollClient::connect(
        &server.url("/poll"),
        ch("c"),
        None,
        LongPollClientConfig::default(),
    )
    .unwrap();
    let mut last = 0;
    for m in ["a", "b", "c"] {
        last = client.send(m).unwrap();
    }
    assert_eq!(last, 3);
    client.acknowledged(3).await;
    for m in ["a", "b", "c"] {
        let got = upstream.recv().await.unwrap();
        assert_eq!((&got.data[..], &got.client), (m.as_bytes(), client.id()));
    }
    // The same batch again (a retry whose ack was lost): acknowledged, not delivered twice.
    let retry = http::Request::post("/poll")
        .header("host", server.addr.to_string())
        .header("longpoll-client", client.id().as_str())
        .body(http_body_util::Full::new(Bytes::from_static(
            b"{\"seq\":2,\"data\":\"b\"}\n{\"seq\":3,\"data\":\"c\"}\n{\"seq\":4,\"data\":\"d\"}\n",
        )))
        .unwrap();
    let (status, headers, _) = request(server.addr, retry).await;
    assert_eq!(
        (status.as_u16(), headers["longpoll-ack"].to_str().unwrap()),
        (204, "4")
    );
    assert_eq!(&upstream.recv().await.unwrap().data[..], b"d");
    // The server hands fresh messages over before it answers: nothing else is coming.
    assert!(
        futures_util::FutureExt::now_or_never(upstream.recv()).is_none(),
        "nothing else"
    );
}

#[tokio::test]
async fn bad_requests_get_a_clear_status_and_a_short_body() {
    let hub = Hub::new(memory(1, 100));
    let mut config = LongPollConfig::default();
    config.parse.max_body_bytes = 64;
    let server = TestServer::start(hub.clone(), sse_config(), config).await;
    let _upstream = server.longpoll.upstream().unwrap();
    hub.publish(&ch("c"), "x").await.unwrap();
    let cases: Vec<(http::Request<http_body_util::Full<Bytes>>, u16, &str)> = vec![
        (
            get(server.addr, "/poll?cursor=1:0", &[("longpoll-client", "a")]),
            400,
            "missing channel",
        ),
        (
            get(
                server.addr,
                "/poll?channel=c&cursor=1",
                &[("longpoll-client", "a")],
            ),
            400,
            "invalid cursor",
        ),
        (
            get(server.addr, "/poll?channel=c", &[]),
            400,
            "missing client",
        ),
        (
            get(
                server.addr,
                "/poll?channel=c&cursor=1:9",
                &[("longpoll-client", "a")],
            ),
            400,
            "cursor_ahead",
        ),
        (get(server.addr, "/sse", &[]), 400, "missing channel"),
        (
            get(server.addr, "/sse?channel=a%20b", &[]),
            400,
            "invalid channel",
        ),
        (
            get(server.addr, "/sse?channel=c", &[("last-event-id", "x:1")]),
            400,
            "invalid Last-Event-ID",
        ),
        (
            get(server.addr, "/sse?channel=c", &[("last-event-id", "1:5")]),
            400,
            "past the channel's head",
        ),
        (
            http::Request::post("/poll?client=a")
                .header("host", "x")
                .body(http_body_util::Full::new(Bytes::from(vec![b' '; 65])))
                .unwrap(),
            413,
            "larger than 64",
        ),
        (
            http::Request::post("/poll?client=a")
                .header("host", "x")
                .body(http_body_util::Full::new(Bytes::from_static(
                    b"{not json}\n",
                )))
                .unwrap(),
            400,
            "malformed body",
        ),
        (
            http::Request::put("/poll")
                .header("host", "x")
                .body(http_body_util::Full::new(Bytes::new()))
                .unwrap(),
            405,
            "use GET",
        ),
    ];
    for (req, status, text) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (got, _, body) = request(server.addr, req).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(got.as_u16(), status, "{what}: {body}");
        assert!(body.contains(text), "{what}: {body:?} lacks {text:?}");
        assert!(body.len() < 200, "{what}: short body");
    }
}

/// The long-poll window (longpoll-proto's channel, 5 messages here) is smaller than the
/// hub's history (20): a client far behind gets from the hub what it still holds, and a
/// gap only for what the hub lost.
#[tokio::test]
async fn a_cursor_older_than_the_long_poll_window_is_served_from_the_hub_history() {
    let hub = Hub::new(memory(1, 20));
    let mut config = LongPollConfig::default();
    config.hub.channel.max_messages = 5;
    config.hub.max_batch_messages = 4;
    let server = TestServer::start(hub.clone(), sse_config(), config).await;
    let c = ch("c");
    for i in 1..=30 {
        hub.publish(&c, format!("m{i}")).await.unwrap();
    }
    let mut client = LongPollClient::connect(
        &server.url("/poll"),
        c.clone(),
        Some(Cursor::new(1, 2)),
        LongPollClientConfig::default(),
    )
    .unwrap();
    let mut events = Vec::new();
    while events.len() < 21 {
        let event = tokio::time::timeout(Duration::from_secs(20), client.next_event())
            .await
            .expect("an event in time")
            .expect("client running");
        events.push(event);
    }
    // The hub holds 11..=30: exactly 3..=10 is a gap, the rest arrives in order.
    assert_eq!(
        events[0],
        ClientEvent::Gap {
            epoch: Epoch(1),
            from: rt_tokio::hub::Seq(3),
            to: rt_tokio::hub::Seq(10)
        }
    );
    for (event, seq) in events[1..].iter().zip(11u64..) {
        match event {
            ClientEvent::Message { epoch, message } => {
                assert_eq!((*epoch, message.seq.0), (Epoch(1), seq));
                assert_eq!(message.data, Bytes::from(format!("m{seq}")));
            }
            other => panic!("{other:?}"),
        }
    }
    // 11..=25 were outside the window: four batches of at most 4 came from the hub.
    assert!(server.longpoll.stats().from_history >= 4);
    assert_eq!(client.cursor(), Some(Cursor::new(1, 30)));
}

async fn multi_poll(server: &TestServer, query: &str) -> (u16, longpoll_proto::Outcome) {
    let (status, headers, body) = request(
        server.addr,
        get(
            server.addr,
            &format!("/poll?{query}"),
            &[("longpoll-client", "multi")],
        ),
    )
    .await;
    let outcome = longpoll_proto::http::parse_multi_poll_response(
        status.as_u16(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        &body,
        &longpoll_proto::http::ParseLimits::default(),
    )
    .unwrap();
    (status.as_u16(), outcome)
}

fn answer(channel: &str, outcome: longpoll_proto::Outcome) -> longpoll_proto::ChannelAnswer {
    longpoll_proto::ChannelAnswer {
        channel: ch(channel),
        outcome,
    }
}

fn batch(seqs: std::ops::RangeInclusive<u64>, next: Cursor) -> longpoll_proto::Outcome {
    longpoll_proto::Outcome::Batch {
        messages: seqs
            .map(|seq| longpoll_proto::Message {
                seq: rt_tokio::hub::Seq(seq),
                data: Bytes::from(format!("m{seq}")),
            })
            .collect(),
        next,
    }
}

/// One request polls several channels: it is answered with every channel that has
/// something (from the hub's history when the window lost it), held while none has,
/// released by a publish on any of them, and answered empty at its deadline.
#[tokio::test(start_paused = true)]
async fn multi_channel_polls_answer_the_channels_that_have_something() {
    let hub = Hub::new(memory(1, 100));
    let mut config = LongPollConfig::default();
    config.hub.channel.max_messages = 3;
    let server = TestServer::start(hub.clone(), sse_config(), config).await;
    let (a, b) = (ch("a"), ch("b"));
    for i in 1..=6 {
        hub.publish(&a, format!("m{i}")).await.unwrap();
    }
    // "a" has 2..=6 after the cursor (all from before its window began); "b" has nothing.
    let (status, outcome) = multi_poll(&server, "subs=a;1:1,b;1:0").await;
    assert_eq!(status, 200);
    assert_eq!(
        outcome,
        longpoll_proto::Outcome::Multi {
            answers: vec![answer("a", batch(2..=6, Cursor::new(1, 6)))]
        }
    );
    assert_eq!(server.longpoll.stats().from_history, 1);
    // Nothing new on either: held until "b" gets a message.
    let held = {
        let server_addr = server.addr;
        tokio::spawn(async move {
            let (status, headers, body) = request(
                server_addr,
                get(
                    server_addr,
                    "/poll?subs=a;1:6,b;1:0",
                    &[("longpoll-client", "multi")],
                ),
            )
            .await;
            longpoll_proto::http::parse_multi_poll_response(
                status.as_u16(),
                headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                &body,
                &longpoll_proto::http::ParseLimits::default(),
            )
            .unwrap()
        })
    };
    for _ in 0..1000 {
        if server.longpoll.stats().held_polls == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(server.longpoll.stats().held_polls, 1);
    hub.publish(&b, "m1").await.unwrap();
    assert_eq!(
        held.await.unwrap(),
        longpoll_proto::Outcome::Multi {
            answers: vec![answer("b", batch(1..=1, Cursor::new(1, 1)))]
        }
    );
    // Nothing new for a second: answered empty at the requested deadline.
    let start = tokio::time::Instant::now();
    let (status, outcome) = multi_poll(&server, "subs=a;1:6,b;1:1&timeout=1000").await;
    assert_eq!(status, 204);
    assert!(matches!(
        outcome,
        longpoll_proto::Outcome::MultiEmpty { .. }
    ));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(server.longpoll.stats().channels, 2);
}

/// A channel no poll used for `mirror_idle` is let go (its hub subscription ends, its
/// window and its `max_channels` slot are freed); a later poll on it resumes without loss.
#[tokio::test(start_paused = true)]
async fn idle_long_poll_channels_are_let_go_and_come_back_without_loss() {
    let hub = Hub::new(memory(1, 100));
    let mut config = LongPollConfig::default();
    config.mirror_idle = Duration::from_secs(60);
    config.hub.max_channels = 2;
    let server = TestServer::start(hub.clone(), sse_config(), config).await;
    let poll = |channel: &str, cursor: &str| {
        let path = format!("/poll?channel={channel}&cursor={cursor}&timeout=100");
        request(
            server.addr,
            get(server.addr, &path, &[("longpoll-client", "idle")]),
        )
    };
    hub.publish(&ch("a"), "m1").await.unwrap();
    assert_eq!(poll("a", "1:1").await.0, 204);
    assert_eq!(poll("b", "1:0").await.0, 204);
    // The bound: a third channel is refused while both are in use.
    let (status, headers, _) = poll("c", "1:0").await;
    assert_eq!(
        (
            status.as_u16(),
            headers["longpoll-reason"].to_str().unwrap()
        ),
        (503, "too_many_channels")
    );
    assert_eq!(server.longpoll.stats().channels, 2);
    assert_eq!(hub.stats().await.subscribers, 2, "one mirror per channel");
    // Idle for long enough: both are let go, and their hub subscriptions end.
    tokio::time::sleep(Duration::from_secs(90)).await;
    let stats = server.longpoll.stats();
    assert_eq!((stats.channels, stats.evicted), (0, 2));
    assert_eq!(hub.stats().await.subscribers, 0);
    // Published meanwhile: a poll from the old cursor gets it, and a new channel fits.
    hub.publish(&ch("a"), "m2").await.unwrap();
    let (status, _, body) = poll("a", "1:1").await;
    assert_eq!(
        (status.as_u16(), &body[..]),
        (200, &b"{\"seq\":2,\"data\":\"m2\"}\n"[..])
    );
    assert_eq!(poll("c", "1:0").await.0, 204);
}

/// Upstream sends refused by the server (nobody reads them yet: 503) are resent with
/// backoff until acknowledged, and delivered once.
#[tokio::test(start_paused = true)]
async fn refused_upstream_sends_are_resent_until_acknowledged() {
    let hub = Hub::new(memory(1, 100));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    let client = LongPollClient::connect(
        &server.url("/poll"),
        ch("c"),
        None,
        LongPollClientConfig::default(),
    )
    .unwrap();
    let seq = client.send("kept").unwrap();
    // Several refusals (the first backoff is 250..=500 ms).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut upstream = server.longpoll.upstream().unwrap();
    tokio::time::timeout(Duration::from_secs(120), client.acknowledged(seq))
        .await
        .expect("acknowledged once the server reads upstream messages");
    assert_eq!(&upstream.recv().await.unwrap().data[..], b"kept");
    assert!(futures_util::FutureExt::now_or_never(upstream.recv()).is_none());
}

/// A page builds its SSE URL with `URLSearchParams`, which writes `:` as `%3A`: the
/// channel and the first connection's cursor are decoded.
#[tokio::test]
async fn sse_query_parameters_are_percent_decoded() {
    let hub = Hub::new(memory(5, 100));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    let room = ch("room:1");
    hub.publish(&room, "first").await.unwrap();
    hub.publish(&room, "second").await.unwrap();
    let mut es = EventSource::connect(
        &server.url("/sse?channel=room%3A1&cursor=5%3A1"),
        es_config(None),
    )
    .unwrap();
    assert_eq!(es.next_event().await, Some(SseClientEvent::Open));
    let mut sub = Subscriber::Sse(es);
    assert_eq!(
        sub.next_message().await,
        (Cursor::new(5, 2), "second".to_string())
    );
}

/// A backend whose live feed never starts (a broker that accepts commands but never
/// confirms a subscription): history works, `watch` hangs.
struct FeedNeverLive(rt_tokio::hub::MemoryBackend);

impl rt_tokio::hub::Backend for FeedNeverLive {
    fn publish(
        &self,
        channel: ChannelName,
        data: Bytes,
    ) -> rt_tokio::hub::BoxFuture<Result<Cursor, rt_tokio::hub::PublishError>> {
        self.0.publish(channel, data)
    }
    fn read(
        &self,
        channel: ChannelName,
        after: Cursor,
        limit: rt_tokio::hub::ReadLimit,
    ) -> rt_tokio::hub::BoxFuture<Result<rt_tokio::hub::HistoryRead, rt_tokio::hub::BackendError>>
    {
        self.0.read(channel, after, limit)
    }
    fn head(
        &self,
        channel: ChannelName,
    ) -> rt_tokio::hub::BoxFuture<Result<Cursor, rt_tokio::hub::BackendError>> {
        self.0.head(channel)
    }
    fn watch(
        &self,
        _channel: ChannelName,
    ) -> rt_tokio::hub::BoxFuture<
        Result<rt_tokio::hub::BoxStream<rt_tokio::hub::FeedItem>, rt_tokio::hub::BackendError>,
    > {
        Box::pin(std::future::pending())
    }
    fn channels(
        &self,
    ) -> rt_tokio::hub::BoxFuture<
        Result<Vec<rt_tokio::hub::ChannelInfo>, rt_tokio::hub::BackendError>,
    > {
        self.0.channels()
    }
}

/// While a channel's mirror cannot follow the hub, a poll is told to retry (503) after
/// `mirror_wait`, not answered from a window that follows nothing: here that window would
/// hold the poll although `m1` exists, and with no head read at all it would report a
/// reset to an epoch the hub never had.
#[tokio::test(start_paused = true)]
async fn a_poll_on_a_channel_whose_mirror_cannot_start_is_told_to_retry() {
    let hub = Hub::new(FeedNeverLive(memory(4, 100)));
    let server = TestServer::start(hub.clone(), sse_config(), LongPollConfig::default()).await;
    hub.publish(&ch("c"), "m1").await.unwrap();
    let start = tokio::time::Instant::now();
    let (status, _, body) = request(
        server.addr,
        get(
            server.addr,
            "/poll?channel=c&cursor=4:0",
            &[("longpoll-client", "patient")],
        ),
    )
    .await;
    assert_eq!(
        (status.as_u16(), String::from_utf8_lossy(&body).trim()),
        (503, "channel not ready, retry")
    );
    assert_eq!(start.elapsed(), LongPollConfig::default().mirror_wait);
}

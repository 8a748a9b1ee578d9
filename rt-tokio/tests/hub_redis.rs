#![cfg(all(
    feature = "redis",
    feature = "sse",
    feature = "longpoll",
    feature = "ws"
))]
//! The Redis hub backend with several server nodes (each a `Hub` on its own
//! `RedisBackend`, its own connections and its own 127.0.0.1 port) against one Redis:
//! cross-node delivery on every transport, a client moving between nodes, trimming (gap),
//! lost history (reset), Redis down (publish errors) and Redis restarted mid-burst.
//!
//! Where Redis comes from (see `redis_server`): `RT_REDIS_URL` names a running server for
//! the tests that do not restart it; otherwise, and always for the restart tests, each test
//! starts its own `redis-server` (from `PATH`, or `RT_REDIS_SERVER`) on a free port. With
//! neither, a test says so and passes, unless `CI=true`, where it fails: `.ci/run` installs
//! Debian's `redis-server`, so there these tests always run.

mod common;
// The demo's server, compiled in here to run it as two nodes on one Redis.
#[allow(dead_code)]
#[path = "../examples/demo/limits.rs"]
mod limits;
#[allow(dead_code)]
#[path = "../examples/demo/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../examples/demo/wire.rs"]
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::TestServer;
use rt_tokio::hub::{
    ChannelName, Cursor, Epoch, Hub, HubConfig, Item, PublishError, RedisBackend, RedisConfig, Seq,
    Subscription,
};
use rt_tokio::longpoll::{ClientEvent, LongPollClient, LongPollClientConfig, LongPollConfig};
use rt_tokio::sse::{EventSource, EventSourceConfig, SseClientEvent, SseConfig};
use tokio::process::{Child, Command};

fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

/// A key prefix no other test (or earlier run against the same server) uses.
fn prefix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A `redis-server` this test started (killed on drop), or a server named by `RT_REDIS_URL`.
struct Redis {
    url: String,
    port: u16,
    child: Option<Child>,
    dir: Option<std::path::PathBuf>,
    persistent: bool,
}

fn redis_binary() -> Option<String> {
    if let Ok(b) = std::env::var("RT_REDIS_SERVER") {
        return Some(b);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("redis-server"))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
    })
}

fn unavailable(what: &str) -> Option<Redis> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {what}: .ci/run installs redis-server");
    }
    eprintln!("skipped: {what} (set RT_REDIS_URL or put redis-server on PATH)");
    None
}

/// A Redis for a test: `RT_REDIS_URL` when `shared_ok`, else our own server.
async fn redis_server(shared_ok: bool) -> Option<Redis> {
    if shared_ok {
        if let Ok(url) = std::env::var("RT_REDIS_URL") {
            return Some(Redis {
                url,
                port: 0,
                child: None,
                dir: None,
                persistent: false,
            });
        }
    }
    if redis_binary().is_none() {
        return unavailable("no redis-server binary");
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    Some(Redis::spawn(port, false).await)
}

impl Redis {
    async fn spawn(port: u16, persistent: bool) -> Redis {
        let dir = std::env::temp_dir().join(format!("rt-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Redis {
            url: format!("redis://127.0.0.1:{port}"),
            port,
            child: None,
            dir: Some(dir),
            persistent,
        };
        r.start().await;
        r
    }

    /// Starts the server process (again) on the same port.
    async fn start(&mut self) {
        let mut cmd = Command::new(redis_binary().unwrap());
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.as_ref().unwrap());
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        self.child = Some(cmd.spawn().expect("redis-server starts"));
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                // Listening; wait until it answers (it may still be loading its AOF).
                let client = redis::Client::open(self.url.as_str()).unwrap();
                if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                    if redis::cmd("PING")
                        .query_async::<String>(&mut c)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not come up on port {}", self.port);
    }

    /// Kills the server at once (SIGKILL: no save, no goodbye to clients).
    async fn kill(&mut self) {
        let mut child = self.child.take().expect("our own server");
        child.kill().await.unwrap();
    }

    async fn command(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut c).await.unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn config(prefix: &str) -> RedisConfig {
    let mut c = RedisConfig::default();
    c.key_prefix = prefix.to_string();
    c.command_timeout = Duration::from_secs(1);
    c.reconnect_min = Duration::from_millis(20);
    c.reconnect_max = Duration::from_millis(200);
    c.ping_interval = Duration::from_millis(500);
    c
}

/// `n` nodes: each a hub on its own backend (own connections).
async fn nodes(redis: &Redis, config: &RedisConfig, n: usize) -> Vec<Hub> {
    let mut hubs = Vec::new();
    for _ in 0..n {
        let backend = RedisBackend::connect(&redis.url, config.clone())
            .await
            .unwrap();
        hubs.push(Hub::with_config(backend, HubConfig::default()));
    }
    hubs
}

async fn recv(sub: &mut Subscription) -> Item {
    tokio::time::timeout(Duration::from_secs(10), sub.recv())
        .await
        .expect("an item in time")
        .expect("subscription open")
}

fn message(item: &Item) -> (Cursor, String) {
    match item {
        Item::Message { cursor, data } => (*cursor, String::from_utf8(data.to_vec()).unwrap()),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_on_any_node_reach_every_node_in_one_order() {
    let Some(redis) = redis_server(true).await else {
        return;
    };
    let hubs = nodes(&redis, &config(&prefix()), 3).await;
    let c = ch("room");
    let mut subs = Vec::new();
    for hub in &hubs {
        subs.push(hub.subscribe(&c, None).await.unwrap());
    }
    let mut published = Vec::new();
    for i in 0..30 {
        let cursor = hubs[i % 3].publish(&c, format!("m{i}")).await.unwrap();
        published.push((cursor, format!("m{i}")));
    }
    // One order: consecutive seqs in one epoch, whichever node published.
    let epoch = published[0].0.epoch;
    for (i, (cursor, _)) in published.iter().enumerate() {
        assert_eq!(*cursor, Cursor::new(epoch.0, i as u64 + 1));
    }
    for sub in &mut subs {
        for expected in &published {
            assert_eq!(&message(&recv(sub).await), expected);
        }
    }
    // Every node agrees on the head.
    for hub in &hubs {
        assert_eq!(hub.head(&c).await.unwrap(), published[29].0);
    }
    let info = hubs[1].stats().await;
    let room = info
        .channels
        .iter()
        .find(|s| s.info.name == c)
        .expect("the channel is listed");
    assert_eq!(
        (room.info.messages, room.info.bytes, room.info.oldest),
        (30, 30 * 2 + 20, Seq(1))
    );
}

fn sse_config() -> SseConfig {
    let mut c = SseConfig::default();
    c.retry = Some(Duration::from_millis(50));
    c
}

fn es_config(last_event_id: Option<Cursor>) -> EventSourceConfig {
    let mut c = EventSourceConfig::default();
    c.client.min_reconnection_time = Duration::from_millis(10);
    c.last_event_id = last_event_id.map(|c| c.to_string());
    c
}

/// A WebSocket endpoint on its own port, as the demo's: `/?channel=NAME&cursor=C` subscribes
/// from that cursor and sends `"CURSOR DATA"` per message, `"! CURSOR"` for a gap or reset.
async fn ws_bridge(hub: Hub) -> String {
    use rt_tokio::ws::{accept, ServerOptions};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let hub = hub.clone();
            tokio::spawn(async move {
                let Ok((mut ws, request)) = accept(tcp, &ServerOptions::default()).await else {
                    return;
                };
                let query: HashMap<String, String> =
                    form_urlencoded::parse(request.query().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect();
                let channel = ch(&query["channel"]);
                let from = query.get("cursor").map(|c| c.parse::<Cursor>().unwrap());
                let mut sub = hub.subscribe(&channel, from).await.unwrap();
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

type Ws = rt_tokio::ws::WebSocket<rt_tokio::net::ClientStream>;

async fn ws_next(ws: &mut Ws) -> String {
    let m = tokio::time::timeout(Duration::from_secs(10), ws.recv())
        .await
        .expect("a websocket message in time")
        .expect("websocket open")
        .unwrap();
    match m {
        rt_tokio::ws::Message::Text(t) => t.to_string(),
        other => panic!("{other:?}"),
    }
}

/// The next SSE message event as (type, id, data).
async fn sse_next(es: &mut EventSource) -> (String, String, String) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), es.next_event())
            .await
            .expect("an SSE event in time")
            .expect("stream open");
        match e {
            SseClientEvent::Message(m) => {
                return (
                    m.event_type.to_string(),
                    m.last_event_id.to_string(),
                    m.data.to_string(),
                )
            }
            SseClientEvent::Open | SseClientEvent::Reconnecting { .. } => {}
            other => panic!("{other:?}"),
        }
    }
}

async fn open_sse(server: &TestServer, channel: &str, last: Option<Cursor>) -> EventSource {
    let mut es = EventSource::connect(
        &server.url(&format!("/sse?channel={channel}")),
        es_config(last),
    )
    .unwrap();
    assert_eq!(es.next_event().await, Some(SseClientEvent::Open));
    es
}

/// The next long-poll message as (cursor, data).
async fn lp_next(lp: &mut LongPollClient) -> (Cursor, String) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), lp.next_event())
            .await
            .expect("a long-poll event in time")
            .expect("client running");
        match e {
            ClientEvent::Message { epoch, message } => {
                return (
                    Cursor {
                        epoch,
                        seq: message.seq,
                    },
                    String::from_utf8(message.data.to_vec()).unwrap(),
                )
            }
            ClientEvent::Backoff { .. } => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_node_a_reaches_node_b_on_every_transport() {
    let Some(redis) = redis_server(true).await else {
        return;
    };
    let hubs = nodes(&redis, &config(&prefix()), 2).await;
    let (a, b) = (hubs[0].clone(), hubs[1].clone());
    let server_b = TestServer::start(b.clone(), sse_config(), LongPollConfig::default()).await;
    let ws_b = ws_bridge(b.clone()).await;
    let news = ch("news");
    let head = a.head(&news).await.unwrap();
    let mut es = open_sse(&server_b, "news", Some(head)).await;
    let mut lp = LongPollClient::connect(
        &server_b.url("/poll"),
        news.clone(),
        Some(head),
        LongPollClientConfig::default(),
    )
    .unwrap();
    let (mut ws, _) = rt_tokio::ws::connect(&format!("{ws_b}/?channel=news&cursor={head}"))
        .await
        .unwrap();
    for i in 1..=3 {
        let cursor = a.publish(&news, format!("from A {i}")).await.unwrap();
        assert_eq!(cursor.seq, Seq(i));
        let text = format!("from A {i}");
        assert_eq!(
            sse_next(&mut es).await,
            ("message".into(), cursor.to_string(), text.clone())
        );
        assert_eq!(lp_next(&mut lp).await, (cursor, text.clone()));
        assert_eq!(ws_next(&mut ws).await, format!("{cursor} {text}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_moving_from_node_a_to_node_b_gets_exactly_what_it_missed() {
    let Some(redis) = redis_server(true).await else {
        return;
    };
    let hubs = nodes(&redis, &config(&prefix()), 2).await;
    let (a, b) = (hubs[0].clone(), hubs[1].clone());
    let server_a = TestServer::start(a.clone(), sse_config(), LongPollConfig::default()).await;
    let server_b = TestServer::start(b.clone(), sse_config(), LongPollConfig::default()).await;
    let ws_a = ws_bridge(a.clone()).await;
    let ws_b = ws_bridge(b.clone()).await;
    let c = ch("c");
    let start = a.head(&c).await.unwrap();

    // SSE on A, then Last-Event-ID on B.
    let mut es = open_sse(&server_a, "c", Some(start)).await;
    let mut lp = LongPollClient::connect(
        &server_a.url("/poll"),
        c.clone(),
        Some(start),
        LongPollClientConfig::default(),
    )
    .unwrap();
    let (mut ws, _) = rt_tokio::ws::connect(&format!("{ws_a}/?channel=c&cursor={start}"))
        .await
        .unwrap();
    let mut expected = Vec::new();
    for i in 1..=5 {
        // Publishes alternate between the nodes: one order anyway.
        let hub = if i % 2 == 0 { &a } else { &b };
        let cursor = hub.publish(&c, format!("m{i}")).await.unwrap();
        expected.push((cursor, format!("m{i}")));
    }
    let mut sse_last = start;
    let mut ws_last = start;
    for (cursor, text) in &expected[..3] {
        let (_, id, data) = sse_next(&mut es).await;
        assert_eq!((id.parse::<Cursor>().unwrap(), &data), (*cursor, text));
        sse_last = *cursor;
        let t = ws_next(&mut ws).await;
        assert_eq!(t, format!("{cursor} {text}"));
        ws_last = *cursor;
    }
    let lp_cursor = {
        let (cursor, _) = lp_next(&mut lp).await;
        cursor
    };
    // Node A goes away for these clients; more is published meanwhile, on B.
    drop((es, lp, ws));
    server_a.drop_connections();
    for i in 6..=8 {
        let cursor = b.publish(&c, format!("m{i}")).await.unwrap();
        expected.push((cursor, format!("m{i}")));
    }
    let mut es = open_sse(&server_b, "c", Some(sse_last)).await;
    let (mut ws, _) = rt_tokio::ws::connect(&format!("{ws_b}/?channel=c&cursor={ws_last}"))
        .await
        .unwrap();
    let mut lp = LongPollClient::connect(
        &server_b.url("/poll"),
        c.clone(),
        Some(lp_cursor),
        LongPollClientConfig::default(),
    )
    .unwrap();
    for (cursor, text) in &expected[3..] {
        let (kind, id, data) = sse_next(&mut es).await;
        assert_eq!(
            (kind.as_str(), id, &data),
            ("message", cursor.to_string(), text)
        );
        assert_eq!(ws_next(&mut ws).await, format!("{cursor} {text}"));
    }
    for (cursor, text) in &expected[1..] {
        assert_eq!(&lp_next(&mut lp).await, &(*cursor, text.clone()));
    }
    // Nothing more (no duplicate) until the next publish, which comes next everywhere.
    let last = a.publish(&c, "last").await.unwrap();
    assert_eq!(sse_next(&mut es).await.1, last.to_string());
    assert_eq!(ws_next(&mut ws).await, format!("{last} last"));
    assert_eq!(lp_next(&mut lp).await, (last, "last".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimming_by_count_bytes_and_age_yields_a_gap_on_another_node() {
    let Some(redis) = redis_server(true).await else {
        return;
    };
    let mut cfg = config(&prefix());
    cfg.max_messages = 5;
    cfg.max_bytes = 1000;
    let hubs = nodes(&redis, &cfg, 2).await;
    let c = ch("c");
    let mut last = Cursor::default();
    for i in 1..=20 {
        last = hubs[0].publish(&c, format!("m{i:02}")).await.unwrap();
    }
    let epoch = last.epoch;
    let mut sub = hubs[1]
        .subscribe(&c, Some(Cursor::new(epoch.0, 2)))
        .await
        .unwrap();
    assert_eq!(
        recv(&mut sub).await,
        Item::Gap {
            missed_from: Seq(3),
            missed_to: Seq(15),
            resume: Cursor::new(epoch.0, 15)
        }
    );
    for i in 16..=20 {
        assert_eq!(
            message(&recv(&mut sub).await),
            (Cursor::new(epoch.0, i), format!("m{i}"))
        );
    }
    // The same over SSE from node B: the gap event, then the rest.
    let server = TestServer::start(hubs[1].clone(), sse_config(), LongPollConfig::default()).await;
    let mut es = open_sse(&server, "c", Some(Cursor::new(epoch.0, 2))).await;
    let (kind, id, data) = sse_next(&mut es).await;
    assert_eq!((kind.as_str(), id), ("gap", format!("{epoch}:15")));
    assert_eq!(
        data,
        format!(r#"{{"missed_from":3,"missed_to":15,"cursor":"{epoch}:15"}}"#)
    );
    assert_eq!(sse_next(&mut es).await.1, format!("{epoch}:16"));

    // Bytes: 3 messages of 400 bytes do not fit in 1000.
    let big = ch("big");
    for _ in 0..3 {
        hubs[0].publish(&big, vec![b'x'; 400]).await.unwrap();
    }
    let info = hubs[1].stats().await;
    let big_info = &info
        .channels
        .iter()
        .find(|s| s.info.name == big)
        .unwrap()
        .info;
    assert_eq!(
        (big_info.messages, big_info.bytes, big_info.oldest),
        (2, 800, Seq(2))
    );
    // Too large for the history at all: refused, nothing stored.
    assert!(matches!(
        hubs[0].publish(&big, vec![b'x'; 1001]).await,
        Err(PublishError::Refused(
            longpoll_proto::PublishError::MessageTooLarge { .. }
        ))
    ));

    // Age: messages older than max_age are gone for a reader on the other node.
    let mut cfg = config(&prefix());
    cfg.max_age = Some(Duration::from_millis(300));
    let aged = nodes(&redis, &cfg, 2).await;
    let old = aged[0].publish(&c, "old").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fresh = aged[0].publish(&c, "fresh").await.unwrap();
    let mut sub = aged[1]
        .subscribe(&c, Some(Cursor::start_of(old.epoch)))
        .await
        .unwrap();
    assert!(matches!(
        recv(&mut sub).await,
        Item::Gap {
            missed_from: Seq(1),
            missed_to: Seq(1),
            ..
        }
    ));
    assert_eq!(message(&recv(&mut sub).await), (fresh, "fresh".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_history_is_a_new_epoch_and_old_cursors_get_a_reset() {
    let Some(redis) = redis_server(true).await else {
        return;
    };
    let p = prefix();
    let hubs = nodes(&redis, &config(&p), 2).await;
    let c = ch("c");
    let mut live = hubs[1].subscribe(&c, None).await.unwrap();
    let first = hubs[0].publish(&c, "before").await.unwrap();
    assert_eq!(message(&recv(&mut live).await), (first, "before".into()));
    // The channel's keys vanish (eviction, expiry, FLUSHALL...).
    redis
        .command(&["DEL", &format!("{p}:{{c}}:m"), &format!("{p}:{{c}}:s")])
        .await;
    let after = hubs[0].publish(&c, "after").await.unwrap();
    assert_ne!(after.epoch, first.epoch, "a new epoch");
    assert_eq!(after.seq, Seq(1));
    // The live subscriber on the other node is told, then goes on in the new epoch.
    assert_eq!(
        recv(&mut live).await,
        Item::Reset {
            previous: first.epoch,
            resume: Cursor::start_of(after.epoch)
        }
    );
    assert_eq!(message(&recv(&mut live).await), (after, "after".into()));
    // A client coming back with a cursor of the old epoch: reset, then the new history.
    let mut back = hubs[1].subscribe(&c, Some(first)).await.unwrap();
    assert!(
        matches!(recv(&mut back).await, Item::Reset { previous, .. } if previous == first.epoch)
    );
    assert_eq!(message(&recv(&mut back).await), (after, "after".into()));
    // A cursor past the head in the current epoch was never issued: refused.
    assert!(hubs[1]
        .subscribe(&c, Some(Cursor::new(after.epoch.0, 9)))
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_while_redis_is_down_fails_and_service_resumes_after() {
    let Some(mut redis) = redis_server(false).await else {
        return;
    };
    let hubs = nodes(&redis, &config(&prefix()), 2).await;
    let c = ch("c");
    let mut sub = hubs[1].subscribe(&c, None).await.unwrap();
    let one = hubs[0].publish(&c, "one").await.unwrap();
    assert_eq!(message(&recv(&mut sub).await), (one, "one".into()));
    redis.kill().await;
    let started = std::time::Instant::now();
    match hubs[0].publish(&c, "lost?").await {
        Err(PublishError::Unavailable(_)) => {}
        other => panic!("publishing with Redis down: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by command_timeout"
    );
    assert!(hubs[0].subscribe(&ch("other"), None).await.is_err());
    // Redis comes back (empty: no persistence): publishing works again, and the subscriber
    // on the other node is told its history is gone, then gets the new messages.
    redis.start().await;
    let two = loop {
        match hubs[0].publish(&c, "two").await {
            Ok(cursor) => break cursor,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("Redis is back but publishing fails: {e}"),
        }
    };
    assert_ne!(two.epoch, one.epoch);
    assert_eq!(
        recv(&mut sub).await,
        Item::Reset {
            previous: one.epoch,
            resume: Cursor::start_of(two.epoch)
        }
    );
    assert_eq!(message(&recv(&mut sub).await), (two, "two".into()));
}

/// What one subscriber saw: every item, resubscribing from its cursor when the
/// subscription ends (as a transport's client reconnects), until it reaches `until`.
async fn collect(
    hub: Hub,
    channel: ChannelName,
    from: Cursor,
    until: tokio::sync::watch::Receiver<Option<Cursor>>,
) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor = from;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    'outer: while tokio::time::Instant::now() < deadline {
        let mut sub = match hub.subscribe(&channel, Some(cursor)).await {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        loop {
            if until.borrow().is_some_and(|end| cursor == end) {
                break 'outer;
            }
            match tokio::time::timeout(Duration::from_millis(200), sub.recv()).await {
                Ok(Ok(item)) => {
                    cursor = item.cursor();
                    items.push(item);
                }
                Ok(Err(_)) => continue 'outer,
                Err(_) => {} // nothing for a while: check the end again
            }
        }
    }
    items
}

/// Checks one subscriber's items against the publishes that returned Ok: in order, no
/// duplicate, and every Ok publish after `from` either delivered (with its payload) or
/// covered by a gap or a reset.
fn check_delivery(items: &[Item], from: Cursor, acked: &[(Cursor, String)]) -> (usize, usize) {
    let mut delivered = HashMap::new();
    let mut covered_gaps: Vec<(Epoch, Seq, Seq)> = Vec::new();
    let mut reset_after: Vec<(Epoch, Seq)> = Vec::new();
    let mut cursor = from;
    for item in items {
        match item {
            Item::Message { cursor: c, data } => {
                assert!(
                    c.epoch == cursor.epoch && c.seq == cursor.seq.next(),
                    "{cursor} then {c}"
                );
                assert!(
                    delivered.insert(*c, data.clone()).is_none(),
                    "duplicate {c}"
                );
            }
            Item::Gap {
                missed_from,
                missed_to,
                resume,
            } => {
                assert_eq!(
                    (resume.epoch, *missed_from),
                    (cursor.epoch, cursor.seq.next())
                );
                covered_gaps.push((resume.epoch, *missed_from, *missed_to));
            }
            Item::Reset { previous, .. } => {
                assert_eq!(*previous, cursor.epoch);
                reset_after.push((cursor.epoch, cursor.seq));
            }
            _ => panic!("{item:?}"),
        }
        cursor = item.cursor();
    }
    let mut resets = 0;
    for (c, text) in acked {
        if c.epoch == from.epoch && c.seq <= from.seq {
            continue;
        }
        if let Some(data) = delivered.get(c) {
            assert_eq!(&data[..], text.as_bytes(), "payload of {c}");
            continue;
        }
        let gap = covered_gaps
            .iter()
            .any(|(e, a, b)| *e == c.epoch && *a <= c.seq && c.seq <= *b);
        let reset = reset_after
            .iter()
            .any(|(e, after)| *e == c.epoch && c.seq > *after);
        assert!(
            gap || reset,
            "{c} ({text}) acknowledged but neither delivered nor covered"
        );
        resets += 1;
    }
    (delivered.len(), resets)
}

/// A burst of publishes from two nodes while Redis is killed and restarted; subscribers on
/// both nodes. Returns (acknowledged publishes, per subscriber (delivered, covered)).
async fn burst_through_a_restart(persistent: bool) -> Option<(usize, Vec<(usize, usize)>)> {
    redis_binary().or_else(|| {
        unavailable("no redis-server binary");
        None
    })?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut redis = Redis::spawn(port, persistent).await;
    let hubs = nodes(&redis, &config(&prefix()), 2).await;
    let c = ch("burst");
    let start = hubs[0].head(&c).await.unwrap();
    let (end_tx, end_rx) = tokio::sync::watch::channel(None);
    let mut collectors = Vec::new();
    for hub in &hubs {
        for _ in 0..2 {
            collectors.push(tokio::spawn(collect(
                hub.clone(),
                c.clone(),
                start,
                end_rx.clone(),
            )));
        }
    }
    let mut acked = Vec::new();
    let mut failed = 0;
    for i in 0..400 {
        if i == 150 {
            redis.kill().await;
        }
        if i == 200 {
            redis.start().await;
        }
        let text = format!("m{i}");
        match hubs[i % 2].publish(&c, text.clone()).await {
            Ok(cursor) => acked.push((cursor, text)),
            Err(PublishError::Unavailable(_)) => failed += 1,
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!("{failed} publishes failed while Redis was down");
    assert!(failed > 0, "some publishes met Redis down");
    assert!(acked.len() > 250, "{} acknowledged", acked.len());
    let last = acked.last().unwrap().0;
    end_tx.send(Some(last)).unwrap();
    let mut results = Vec::new();
    for collector in collectors {
        let items = collector.await.unwrap();
        assert_eq!(
            items.last().map(Item::cursor),
            Some(last),
            "reached the last publish"
        );
        results.push(check_delivery(&items, start, &acked));
    }
    // A client that was away through the restart comes back, to the other node, with the
    // cursor of the 101st acknowledged publish.
    let away = acked[100].0;
    let (_, end_rx) = tokio::sync::watch::channel(Some(last));
    let items = collect(hubs[1].clone(), c.clone(), away, end_rx).await;
    assert_eq!(items.last().map(Item::cursor), Some(last));
    let (delivered, covered) = check_delivery(&items, away, &acked);
    assert_eq!(delivered + covered, acked.len() - 101);
    results.push((delivered, covered));
    Some((acked.len(), results))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_without_persistence_mid_burst_every_ack_is_delivered_or_reset() {
    let Some((acked, mut results)) = burst_through_a_restart(false).await else {
        return;
    };
    eprintln!("acknowledged {acked}; per subscriber (delivered, covered by a reset): {results:?}");
    let (away_delivered, away_covered) = results.pop().unwrap();
    for (delivered, covered) in results {
        assert_eq!(delivered + covered, acked);
        assert!(delivered > 200, "{delivered}");
    }
    // What Redis lost (the away client's missed part of the old epoch) is covered by a
    // reset; what was published after the restart is delivered.
    assert!(
        away_covered > 0 && away_delivered > 100,
        "{away_delivered} {away_covered}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_with_persistence_mid_burst_every_ack_is_delivered() {
    let Some((acked, mut results)) = burst_through_a_restart(true).await else {
        return;
    };
    eprintln!("acknowledged {acked}; per subscriber (delivered, covered): {results:?}");
    let away = results.pop().unwrap();
    for (delivered, covered) in results {
        // Redis kept everything (appendfsync always): nothing is lost, nothing reset.
        assert_eq!((delivered, covered), (acked, 0));
    }
    assert_eq!(away, (acked - 101, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pubsub_connection_is_reestablished_and_nothing_is_missed() {
    let Some(redis) = redis_server(true).await else {
        return;
    };
    let hubs = nodes(&redis, &config(&prefix()), 2).await;
    let c = ch("c");
    let mut sub = hubs[1].subscribe(&c, None).await.unwrap();
    let first = hubs[0].publish(&c, "m0").await.unwrap();
    assert_eq!(message(&recv(&mut sub).await), (first, "m0".into()));
    // Every pub/sub connection is cut (as a network blip or a proxy would); publishes go on
    // meanwhile and reach the stream only.
    redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]).await;
    let mut expected = vec![];
    for i in 1..=20 {
        let cursor = hubs[0].publish(&c, format!("m{i}")).await.unwrap();
        expected.push((cursor, format!("m{i}")));
    }
    // The subscriber on node B gets all of them, in order, once: live or caught up.
    for e in &expected {
        assert_eq!(&message(&recv(&mut sub).await), e);
    }
    let late = hubs[0].publish(&c, "late").await.unwrap();
    assert_eq!(message(&recv(&mut sub).await), (late, "late".into()));
}

#[tokio::test]
async fn bad_configuration_and_unreachable_servers_are_errors() {
    let mut c = RedisConfig::default();
    c.key_prefix = "has space".into();
    let e = RedisBackend::connect("redis://127.0.0.1:1", c)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("key_prefix"), "{e}");
    let e = RedisBackend::connect("nonsense://x", RedisConfig::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bad Redis URL"), "{e}");
    // Nothing listens on a port we just bound and released.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = RedisConfig::default();
    c.command_timeout = Duration::from_millis(500);
    assert!(
        RedisBackend::connect(&format!("redis://127.0.0.1:{port}"), c)
            .await
            .is_err()
    );
}

/// A demo node on its own port with its hub on `backend`.
async fn demo_node(backend: RedisBackend) -> (SocketAddr, server::App) {
    use rt_tokio::http::{serve_with, CancellationToken, ServeConfig};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let app = server::App::with_backend(
        limits::Limits::default(),
        shutdown.clone(),
        std::sync::Arc::new(backend),
    );
    tokio::spawn(server::ticker(app.clone()));
    let a = app.clone();
    tokio::spawn(async move {
        serve_with(listener, ServeConfig::default(), shutdown, |info| {
            a.connection(info)
        })
        .await
    });
    (addr, app)
}

/// The demo's next server message that is not a tick.
async fn demo_next(ws: &mut Ws) -> serde_json::Value {
    loop {
        let v: serde_json::Value = serde_json::from_str(&ws_next(ws).await).unwrap();
        if v["type"] != "tick" {
            return v;
        }
    }
}

async fn demo_page(addr: SocketAddr, cursor: Option<&str>) -> Ws {
    let (mut ws, _) = rt_tokio::ws::connect(&format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let hello = serde_json::json!({"type": "hello", "cursor": cursor});
    ws.send(hello.to_string()).await.unwrap();
    // Subscribed once a ping is answered (hello is handled first, in order).
    ws.send(r#"{"type":"ping","t":1}"#).await.unwrap();
    assert_eq!(demo_next(&mut ws).await["type"], "pong");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_as_two_nodes_on_one_redis() {
    let Some(redis) = redis_server(true).await else {
        return;
    };
    let cfg = config(&prefix());
    let (addr_a, _app_a) = demo_node(
        RedisBackend::connect(&redis.url, cfg.clone())
            .await
            .unwrap(),
    )
    .await;
    let (addr_b, app_b) = demo_node(RedisBackend::connect(&redis.url, cfg).await.unwrap()).await;
    let mut on_a = demo_page(addr_a, None).await;
    let mut on_b = demo_page(addr_b, None).await;
    let post = |id: &str, text: &str| {
        serde_json::json!({"type": "send", "id": id, "name": "Ada", "text": text}).to_string()
    };
    on_a.send(post("m1", "first")).await.unwrap();
    // The page on node B gets the message sent to node A.
    let on_b_message = demo_next(&mut on_b).await;
    assert_eq!(on_b_message["type"], "message");
    assert_eq!(on_b_message["message"]["text"], "first");
    let c1 = on_b_message["cursor"].as_str().unwrap().to_string();
    // The page on B leaves; two more are sent to A; it comes back to B with its cursor.
    drop(on_b);
    on_a.send(post("m2", "second")).await.unwrap();
    on_a.send(post("m3", "third")).await.unwrap();
    let mut seen_on_a = Vec::new();
    while seen_on_a.len() < 3 {
        let v = demo_next(&mut on_a).await;
        if v["type"] == "message" {
            seen_on_a.push(v["message"]["text"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen_on_a, ["first", "second", "third"]);
    let mut back_on_b = demo_page(addr_b, Some(&c1)).await;
    let texts = [
        demo_next(&mut back_on_b).await,
        demo_next(&mut back_on_b).await,
    ];
    assert_eq!(
        texts
            .iter()
            .map(|v| v["message"]["text"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["second", "third"]
    );
    // Node B's status sees the room's history in Redis.
    let status = app_b.status_json().await;
    let room = status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "room")
        .unwrap()
        .clone();
    assert_eq!(room["messages"], 3);
}

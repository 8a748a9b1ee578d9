#![cfg(all(feature = "ws", feature = "sse", feature = "longpoll"))]
//! The demo in a real browser: headless Chromium driven by chromedriver (fantoccini), the
//! demo binary as a child process on a free 127.0.0.1 port.
//!
//! Runs when `DEMO_BROWSER=1`, or `CI=true` unless `DEMO_BROWSER=0`; otherwise it says it
//! is skipped and passes, so `cargo test --workspace` needs only Rust. When it runs, a
//! missing `chromium` or `chromedriver` is a failure. The demo binary is `DEMO_BIN` if set, else
//! built here with `cargo build --release -p rt-tokio --example demo`.
//!
//! 1. Three pages forced to `ws`, `sse` and `longpoll` each send a message; every page
//!    shows all three, in the same order.
//! 2. The server is stopped (SIGTERM), a stand-in answers 502 on its port for a while (a
//!    proxy whose backend is down: EventSource gives up on a 502), then a new process
//!    starts on the same port. The test publishes one message at once, each page sends one
//!    when it is back. Each page reconnects by itself, shows the reset notice, keeps what it
//!    showed before once, and shows exactly what the new history holds: every message of
//!    the new epoch, in order, none twice.
//! 3. An automatic page whose WebSocket endpoint swallows the upgrade (a blackhole, as some
//!    proxies do) falls back to SSE, remembers it for the session, and sends through it.
//! 4. The long-poll page's tab goes elsewhere while more is published than the history
//!    holds, then comes back: its view is restored, a gap notice says what is gone, and
//!    what the history still holds follows.
//!
//! Screenshots of every page go to `target/demo-browser/*.png` at the end, and the WebSocket
//! page's after part 3 to `readme.png` (with `DEMO_UPDATE_SCREENSHOT=1`, to `docs/demo.png`
//! too).
//!
//! A second test runs the demo with `--tls` (its generated certificate, trusted by Chromium
//! through `--ignore-certificate-errors-spki-list` with the SPKI hash the demo prints): pages
//! forced to each transport load over HTTP/2, and the server's per-transport counts
//! (`/status` `http_versions`) show the WebSocket, the event stream and the polls all came
//! over HTTP/2 (the WebSocket as an RFC 8441 extended CONNECT), none over HTTP/1.1. Its
//! screenshot is `target/demo-browser/tls-h2.png` (with `DEMO_UPDATE_SCREENSHOT=1`, also
//! `docs/demo-h2.png`). The demo binary must have feature `tls`
//! (the build here enables it; `.ci/run` builds `DEMO_BIN` with it).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

const CHROMIUM_FLAGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// `DEMO_BROWSER=1`, or `CI=true` unless `DEMO_BROWSER=0` (`.ci/run` runs it in a step of
/// its own and sets 0 for its other `cargo test` runs, so it runs once).
fn enabled() -> bool {
    match std::env::var("DEMO_BROWSER").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => std::env::var("CI").is_ok_and(|v| v == "true"),
    }
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// `target/` (the test binary is `target/<profile>/deps/demo_browser-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The demo binary: `DEMO_BIN`, or built now (release, as the README runs it).
fn demo_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("DEMO_BIN") {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--release", "-p", "rt-tokio", "--example", "demo"])
        .args(["--features", "tls"])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building the demo failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "demo")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the demo executable")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 100 ms until it gives `Some`, for at most `limit`.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_port(addr: SocketAddr) {
    wait_for(
        &format!("{addr} to accept"),
        Duration::from_secs(20),
        || async { tokio::net::TcpStream::connect(addr).await.ok().map(|_| ()) },
    )
    .await
}

fn start_demo(bin: &Path, addr: SocketAddr, args: &[&str]) -> Child {
    Command::new(bin)
        .arg(addr.to_string())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the demo starts")
}

/// SIGTERM, then the exit (bounded): the demo's graceful shutdown.
async fn stop_demo(mut demo: Child) {
    let pid = demo.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), demo.wait())
        .await
        .expect("the demo stops within 10 s after SIGTERM")
        .unwrap();
    assert!(exit.success(), "demo exit: {exit:?}");
}

/// One raw HTTP exchange with the demo (a POST /send as a script would).
async fn post_send(addr: SocketAddr, body: &Value) -> Value {
    use http_body_util::BodyExt;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::post("/send")
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

async fn get_json(addr: SocketAddr, path: &str) -> Value {
    use http_body_util::BodyExt;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// A stand-in on `addr` answering every request 502, as a proxy does while its backend is
/// down, until the returned token is cancelled.
async fn bad_gateway(
    addr: SocketAddr,
) -> (
    rt_tokio::http::CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let listener = wait_for(
        "the demo's port to be free",
        Duration::from_secs(10),
        || async { tokio::net::TcpListener::bind(addr).await.ok() },
    )
    .await;
    let stop = rt_tokio::http::CancellationToken::new();
    let mut config = rt_tokio::http::ServeConfig::default();
    config.drain_timeout = Duration::from_millis(200);
    let task = tokio::spawn(rt_tokio::http::serve_with(
        listener,
        config,
        stop.clone(),
        |_| {
            |_req: http::Request<hyper::body::Incoming>| async {
                rt_tokio::http::text_response(
                    http::StatusCode::BAD_GATEWAY,
                    "bad gateway: the backend is down",
                )
            }
        },
    ));
    (stop, task)
}

struct Browser {
    driver: Child,
    url: String,
    chromium: PathBuf,
    profiles: Vec<PathBuf>,
}

impl Browser {
    async fn start(chromium: PathBuf, chromedriver: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        wait_port(SocketAddr::from(([127, 0, 0, 1], port))).await;
        Browser {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
            profiles: Vec::new(),
        }
    }

    /// A new browser session (its own Chromium, a fresh profile) at `url`.
    async fn open(&mut self, name: &'static str, url: &str, size: (u32, u32)) -> Page {
        self.open_with(name, url, size, &[]).await
    }

    /// [`Browser::open`], Chromium started with `extra` flags too.
    async fn open_with(
        &mut self,
        name: &'static str,
        url: &str,
        size: (u32, u32),
        extra: &[String],
    ) -> Page {
        let profile =
            std::env::temp_dir().join(format!("demo-browser-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        self.profiles.push(profile.clone());
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", size.0, size.1));
        args.extend(extra.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": self.chromium, "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = tokio::time::timeout(
            Duration::from_secs(30),
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&self.url),
        )
        .await
        .expect("a browser session within 30 s")
        .expect("chromedriver opens a session");
        client.goto(url).await.unwrap();
        Page { name, client }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
        for p in &self.profiles {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

struct Page {
    name: &'static str,
    client: Client,
}

/// One confirmed message on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    id: String,
    cursor: String,
    text: String,
}

impl Page {
    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    async fn badge(&self) -> (String, String) {
        let v = self
            .js("const b = document.getElementById('badge'); return [b.dataset.transport || '', b.dataset.state || ''];")
            .await;
        (v[0].as_str().unwrap().into(), v[1].as_str().unwrap().into())
    }

    async fn messages(&self) -> Vec<Shown> {
        let v = self
            .js("return Array.from(document.querySelectorAll('#messages .msg[data-cursor]')).map(e => [e.dataset.id, e.dataset.cursor, e.querySelector('.body').textContent]);")
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| Shown {
                id: m[0].as_str().unwrap().into(),
                cursor: m[1].as_str().unwrap().into(),
                text: m[2].as_str().unwrap().into(),
            })
            .collect()
    }

    /// Every message element's id, confirmed or not (for the duplicate check).
    async fn all_ids(&self) -> Vec<String> {
        let v = self
            .js("return Array.from(document.querySelectorAll('#messages .msg')).map(e => e.dataset.id);")
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    }

    async fn log(&self) -> String {
        self.js("return document.getElementById('log').innerText;")
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn count(&self, selector: &str) -> usize {
        let script = format!(
            "return document.querySelectorAll({}).length;",
            json!(selector)
        );
        self.js(&script).await.as_u64().unwrap() as usize
    }

    /// Types `text` into the composer and presses Send, as a person would.
    async fn say(&self, text: &str) {
        let input = self.client.find(Locator::Css("#text")).await.unwrap();
        input.send_keys(text).await.unwrap();
        self.client
            .find(Locator::Css("#send"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn wait_live(&self, transport: &str, limit: Duration) {
        let what = format!("{} to be live on {transport}", self.name);
        let deadline = Instant::now() + limit;
        loop {
            let badge = self.badge().await;
            if badge == (transport.to_string(), "live".to_string()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}: badge {badge:?}\nlog:\n{}",
                    self.log().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page shows a confirmed message with each of `texts`.
    async fn wait_texts(&self, texts: &[&str], limit: Duration) -> Vec<Shown> {
        let deadline = Instant::now() + limit;
        loop {
            let shown = self.messages().await;
            if texts.iter().all(|t| shown.iter().any(|m| m.text == *t)) {
                return shown;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out waiting for {texts:?}; shows {:?}\nlog:\n{}",
                    self.name,
                    shown.iter().map(|m| &m.text).collect::<Vec<_>>(),
                    self.log().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

fn epoch_of(cursor: &str) -> &str {
    cursor.split(':').next().unwrap()
}

fn seq_of(cursor: &str) -> u64 {
    cursor.split(':').nth(1).unwrap().parse().unwrap()
}

fn assert_unique(page: &str, ids: &[String]) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "{page}: message {id} shown twice: {ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_in_headless_chromium() {
    if !enabled() {
        eprintln!(
            "demo_browser: skipped (DEMO_BROWSER=1 runs it; .ci/run runs it in its own step)"
        );
        return;
    }
    let started = Instant::now();
    let chromium = which(&["chromium", "chromium-browser", "google-chrome"])
        .expect("chromium is not installed (apt-get install chromium chromium-driver)");
    let chromedriver = which(&["chromedriver"])
        .expect("chromedriver is not installed (apt-get install chromium-driver)");
    let bin = demo_binary();
    let shots = target_dir().join("demo-browser");
    std::fs::create_dir_all(&shots).unwrap();

    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let demo = start_demo(&bin, addr, &[]);
    wait_port(addr).await;
    let mut browser = Browser::start(chromium, &chromedriver).await;
    let base = format!("http://{addr}");
    let pages = [
        browser
            .open("ws", &format!("{base}/?transport=ws&name=Ada"), (1280, 900))
            .await,
        browser
            .open(
                "sse",
                &format!("{base}/?transport=sse&name=Grace"),
                (1200, 820),
            )
            .await,
        browser
            .open(
                "longpoll",
                &format!("{base}/?transport=longpoll&name=Linus"),
                (412, 900),
            )
            .await,
    ];
    for p in &pages {
        p.wait_live(p.name, Duration::from_secs(20)).await;
    }

    // 1. One message from each page, sent together: all pages, same order.
    let texts: Vec<String> = pages
        .iter()
        .map(|p| match p.name {
            "ws" => "Hello from Ada, on a WebSocket".to_string(),
            "sse" => "Grace here: reading over SSE, sending by POST".to_string(),
            _ => "Linus on long polling, from a phone".to_string(),
        })
        .collect();
    for (p, t) in pages.iter().zip(&texts) {
        p.say(t).await;
    }
    let want: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut before = Vec::new();
    for p in &pages {
        before.push(p.wait_texts(&want, Duration::from_secs(20)).await);
    }
    for (p, shown) in pages.iter().zip(&before) {
        assert_eq!(shown, &before[0], "{} shows another order", p.name);
        assert!(shown
            .windows(2)
            .all(|w| seq_of(&w[0].cursor) < seq_of(&w[1].cursor)));
    }
    let old_epoch = epoch_of(&before[0][0].cursor).to_string();

    // 2. Restart: SIGTERM, a 502 stand-in on the port for 3 s, a new process.
    stop_demo(demo).await;
    let (stop_502, stand_in) = bad_gateway(addr).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_502.cancel();
    stand_in.await.unwrap();
    // The new process keeps 4 messages per channel (for the gap in part 4).
    let demo = start_demo(&bin, addr, &["--history", "4"]);
    wait_port(addr).await;
    let away = "Deployed: published by a script while the pages were reconnecting";
    let sent = post_send(
        addr,
        &json!({"id": "test-after-restart", "name": "Deploy bot", "text": away}),
    )
    .await;
    let new_epoch = epoch_of(sent["cursor"].as_str().unwrap()).to_string();
    assert_ne!(new_epoch, old_epoch);
    for p in &pages {
        p.wait_live(p.name, Duration::from_secs(30)).await;
    }
    let back: Vec<String> = pages
        .iter()
        .map(|p| {
            let transport = match p.name {
                "ws" => "WebSocket",
                "sse" => "SSE",
                _ => "long polling",
            };
            format!("Back after the restart, still on {transport}")
        })
        .collect();
    for (p, t) in pages.iter().zip(&back) {
        p.say(t).await;
    }
    let mut want_after: Vec<&str> = back.iter().map(String::as_str).collect();
    want_after.push(away);
    let status = wait_for(
        "the new history to hold 4 messages",
        Duration::from_secs(20),
        || async {
            let s = get_json(addr, "/status").await;
            let room = s["channels"]
                .as_array()?
                .iter()
                .find(|c| c["name"] == "room")?
                .clone();
            (room["messages"] == 4).then_some(s)
        },
    )
    .await;
    let held: Vec<u64> = (1..=4).collect();
    assert_eq!(
        status["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "room")
            .unwrap()["head"],
        format!("{new_epoch}:4")
    );
    let mut after = Vec::new();
    for (p, shown_before) in pages.iter().zip(&before) {
        let shown = p.wait_texts(&want_after, Duration::from_secs(20)).await;
        assert_unique(p.name, &p.all_ids().await);
        // What it showed before the restart, still there, once, in the same order.
        assert_eq!(
            &shown[..shown_before.len()],
            &shown_before[..],
            "{}",
            p.name
        );
        // Exactly what the new history holds: every message of the new epoch, in order.
        let new: Vec<u64> = shown
            .iter()
            .filter(|m| epoch_of(&m.cursor) == new_epoch)
            .map(|m| seq_of(&m.cursor))
            .collect();
        assert_eq!(new, held, "{}: new-epoch messages", p.name);
        assert_eq!(shown.len(), shown_before.len() + held.len(), "{}", p.name);
        assert!(
            p.count(".notice.reset").await >= 1,
            "{}: no reset notice",
            p.name
        );
        after.push(shown);
    }
    for (p, shown) in pages.iter().zip(&after) {
        assert_eq!(
            shown, &after[0],
            "{} shows another order after the restart",
            p.name
        );
    }
    let sse_log = pages[1].log().await;
    assert!(
        sse_log.contains("gave up"),
        "the SSE page never met the 502:\n{sse_log}"
    );

    // 3. WebSocket blocked for one page (its endpoint swallows the upgrade): it falls back
    // to SSE, remembers it, and its messages reach the others.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = blackhole.local_addr().unwrap();
    let held_sockets = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = blackhole.accept().await {
            held.push(tcp); // never answered
        }
    });
    let auto = browser
        .open(
            "fallback",
            &format!("{base}/?name=Edsger&ws=ws://{hole}/ws"),
            (1200, 820),
        )
        .await;
    auto.wait_live("sse", Duration::from_secs(30)).await;
    let log = auto.log().await;
    assert!(log.contains("falling back to SSE"), "{log}");
    let remembered = auto
        .js("return sessionStorage.getItem('demo.fallback');")
        .await;
    assert_eq!(remembered, json!("sse"));
    auto.say("My WebSocket is blocked, so this came over SSE")
        .await;
    pages[0]
        .wait_texts(
            &["My WebSocket is blocked, so this came over SSE"],
            Duration::from_secs(20),
        )
        .await;
    auto.wait_texts(
        &["My WebSocket is blocked, so this came over SSE"],
        Duration::from_secs(20),
    )
    .await;
    auto.client.refresh().await.unwrap();
    auto.wait_live("sse", Duration::from_secs(20)).await;
    assert!(
        auto.log().await.contains("remembered"),
        "{}",
        auto.log().await
    );

    // The README's screenshot: the WebSocket page after the restart and the fallback.
    let readme = pages[0].screenshot(&shots, "readme").await;
    if std::env::var("DEMO_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&readme, docs.join("demo.png")).unwrap();
    }

    // 4. A tab away for a while (navigated elsewhere) comes back to more than the history
    // holds: its view is restored, it resumes from its cursor, and a gap notice says what
    // is gone.
    let lp = &pages[2];
    let page_url = lp.client.current_url().await.unwrap();
    lp.client.goto("about:blank").await.unwrap();
    for i in 1..=6 {
        let text = format!("while the tab was away {i}");
        post_send(
            addr,
            &json!({"id": format!("away-{i}"), "name": "Test", "text": text}),
        )
        .await;
    }
    lp.client.goto(page_url.as_str()).await.unwrap();
    lp.wait_live("longpoll", Duration::from_secs(20)).await;
    let held_away: Vec<String> = (3..=6)
        .map(|i| format!("while the tab was away {i}"))
        .collect();
    let held_away: Vec<&str> = held_away.iter().map(String::as_str).collect();
    let shown = lp.wait_texts(&held_away, Duration::from_secs(20)).await;
    assert!(lp.log().await.contains("restored"), "{}", lp.log().await);
    assert_eq!(&shown[..after[2].len()], &after[2][..], "the restored view");
    assert!(!shown
        .iter()
        .any(|m| m.text.ends_with("away 1") || m.text.ends_with("away 2")));
    let gaps = lp
        .js("return Array.from(document.querySelectorAll('#messages .notice.gap')).map(e => e.textContent);")
        .await;
    assert_eq!(gaps.as_array().unwrap().len(), 1, "{gaps}");
    assert!(
        gaps[0].as_str().unwrap().contains("2 messages missed"),
        "{gaps}"
    );
    assert_unique(lp.name, &lp.all_ids().await);

    // Screenshots, once every page has the last message and a fresh tick.
    for p in &pages {
        p.wait_texts(
            &[
                "My WebSocket is blocked, so this came over SSE",
                "while the tab was away 6",
            ],
            Duration::from_secs(20),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for p in pages.iter().chain([&auto]) {
        p.screenshot(&shots, p.name).await;
    }
    for p in pages.into_iter().chain([auto]) {
        p.client.close().await.unwrap();
    }
    held_sockets.abort();
    stop_demo(demo).await;
    drop(browser);
    eprintln!(
        "demo_browser: passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}

/// The demo with `--tls`, its stderr read until it printed the SPKI hash and listens; the
/// rest of its stderr passed on.
async fn start_tls_demo(bin: &Path, addr: SocketAddr) -> (Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut demo = Command::new(bin)
        .arg(addr.to_string())
        .arg("--tls")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the demo starts");
    let mut lines = tokio::io::BufReader::new(demo.stderr.take().unwrap()).lines();
    let mut spki = None;
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            eprintln!("{line}");
            if let Some(hash) = line.strip_prefix("demo: SPKI SHA-256 (base64): ") {
                spki = Some(hash.to_string());
            }
            if line.starts_with("demo: listening on https://") {
                return;
            }
        }
        panic!("the demo ended before listening (built without feature tls?)");
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the demo listens within 20 s");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{line}");
        }
    });
    (demo, spki.expect("the demo prints its SPKI hash"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_over_tls_and_http2_in_headless_chromium() {
    if !enabled() {
        eprintln!("demo_browser (TLS + HTTP/2): skipped (DEMO_BROWSER=1 runs it)");
        return;
    }
    let chromium = which(&["chromium", "chromium-browser", "google-chrome"])
        .expect("chromium is not installed (apt-get install chromium chromium-driver)");
    let chromedriver = which(&["chromedriver"])
        .expect("chromedriver is not installed (apt-get install chromium-driver)");
    let bin = demo_binary();
    let shots = target_dir().join("demo-browser");
    std::fs::create_dir_all(&shots).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (demo, spki) = start_tls_demo(&bin, addr).await;
    let mut browser = Browser::start(chromium, &chromedriver).await;
    let trust = [format!("--ignore-certificate-errors-spki-list={spki}")];
    let base = format!("https://{addr}");
    let mut pages = Vec::new();
    for (name, transport, who) in [
        ("tls-h2", "ws", "Tim"),
        ("tls-sse", "sse", "Radia"),
        ("tls-longpoll", "longpoll", "Vint"),
    ] {
        let url = format!("{base}/?transport={transport}&name={who}");
        let page = browser.open_with(name, &url, (1280, 900), &trust).await;
        page.wait_live(transport, Duration::from_secs(30)).await;
        pages.push(page);
    }
    for (page, text) in pages
        .iter()
        .zip(["ws over h2", "sse over h2", "poll over h2"])
    {
        page.say(text).await;
    }
    for page in &pages {
        page.wait_texts(
            &["ws over h2", "sse over h2", "poll over h2"],
            Duration::from_secs(20),
        )
        .await;
        let hop = page
            .js("return performance.getEntriesByType('navigation')[0].nextHopProtocol;")
            .await;
        assert_eq!(hop, "h2", "{} loaded over {hop}", page.name);
    }
    // The server's counts, fetched by the page (over its HTTP/2 connection).
    let status = pages[0]
        .js("return fetch('/status', {cache: 'no-store'}).then(r => r.json());")
        .await;
    let versions = &status["http_versions"];
    for transport in ["websocket", "sse", "longpoll"] {
        let counts = &versions[transport];
        assert!(
            counts["http2"].as_u64().unwrap() >= 1,
            "{transport} never over HTTP/2: {versions}"
        );
        assert_eq!(
            counts["http1"], 0,
            "{transport} over HTTP/1.1 too: {versions}"
        );
    }
    assert_eq!(versions["websocket"]["http2"], 1, "{versions}");
    // The page shows it once a tick has carried the counts.
    wait_for(
        "the page to show the WebSocket over HTTP/2",
        Duration::from_secs(10),
        || async {
            let shown = pages[0]
                .js("return document.getElementById('http-websocket').textContent;")
                .await;
            (shown == "HTTP/2 ×1").then_some(())
        },
    )
    .await;
    let shot = pages[0].screenshot(&shots, "tls-h2").await;
    if std::env::var("DEMO_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&shot, docs.join("demo-h2.png")).unwrap();
    }
    for page in pages {
        page.client.close().await.unwrap();
    }
    stop_demo(demo).await;
    drop(browser);
    eprintln!(
        "demo_browser (TLS + HTTP/2): passed; server counts {versions}; screenshot {}",
        shot.display()
    );
}

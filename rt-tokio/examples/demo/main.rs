//! `demo [ADDR] [--history N] [--redis URL] [--tls [--cert FILE --key FILE]]`: a live room
//! served over WebSocket, SSE and long polling from one hub (default address
//! 127.0.0.1:8080). Open the address in a browser.
//!
//! With `--tls` (feature `tls`) everything is served over HTTPS, HTTP/2 chosen by ALPN
//! (HTTP/1.1 for clients without it), WebSockets as HTTP/2 streams (RFC 8441) when the
//! browser does so. The certificate is `--cert FILE --key FILE` (PEM: the chain, leaf
//! first, and its private key) or, by default, a self-signed one generated at start for
//! `localhost` and `127.0.0.1`, whose SHA-256 fingerprint and SPKI hash are printed (the
//! hash is what Chromium's `--ignore-certificate-errors-spki-list` takes). Without `--tls`
//! the server still speaks HTTP/2 by prior knowledge (h2c), which browsers never use. With `--redis` (feature `redis`) the hub's channels live in Redis, so several
//! demo processes on different ports are one room: a message sent to any reaches pages on
//! every one, and a page moved to another node resumes from its cursor.
//!
//! ```sh
//! cargo run --release -p rt-tokio --example demo
//! cargo run --release -p rt-tokio --example demo -- 127.0.0.1:9000 --history 100
//! cargo run --release -p rt-tokio --features redis --example demo -- 127.0.0.1:8081 --redis redis://127.0.0.1:6379
//! cargo run --release -p rt-tokio --features tls --example demo -- 127.0.0.1:8443 --tls
//! ```
//!
//! The page picks WebSocket, then SSE, then long polling (`?transport=ws|sse|longpoll`
//! forces one). `/status` has the figures as JSON, among them how many WebSockets, SSE
//! streams and polls came over each HTTP version (`http_versions`), which the page shows. SIGINT or SIGTERM shuts the server down
//! gracefully: WebSockets get close 1001, streams and held polls end, pages reconnect to
//! the next process by themselves. `tests/demo.rs` drives this server in-process;
//! `tests/demo_browser.rs` drives the built binary from headless Chromium.

mod limits;
mod server;
mod tls;
mod wire;

use std::time::Duration;

use rt_tokio::http::{serve_with, CancellationToken, ServeConfig};

use limits::Limits;
use server::App;

fn usage() -> ! {
    eprintln!("usage: demo [ADDR] [--history N] [--redis URL] [--tls [--cert FILE --key FILE]]   (default ADDR 127.0.0.1:8080)");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut limits = Limits::default();
    let mut redis_url = None;
    let (mut tls, mut cert, mut key) = (false, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--history" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => limits.history_messages = n,
                _ => usage(),
            },
            "--redis" => match args.next() {
                Some(url) => redis_url = Some(url),
                None => usage(),
            },
            "--tls" => tls = true,
            "--cert" => cert = Some(args.next().unwrap_or_else(|| usage())),
            "--key" => key = Some(args.next().unwrap_or_else(|| usage())),
            "-h" | "--help" => usage(),
            a if !a.starts_with('-') => addr = a.to_string(),
            _ => usage(),
        }
    }
    if cert.is_some() != key.is_some() || (cert.is_some() && !tls) {
        usage()
    }
    let mut config = ServeConfig::default();
    config.drain_timeout = Duration::from_secs(3);
    let scheme = if tls {
        tls::configure(&mut config, cert, key);
        "https"
    } else {
        "http"
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let app = match redis_url {
        None => App::new(limits, shutdown.clone()),
        Some(url) => App::with_backend(limits, shutdown.clone(), redis_backend(&url, limits).await),
    };
    tokio::spawn(server::ticker(app.clone()));
    tokio::spawn(stop_on_signal(shutdown.clone()));
    eprintln!("demo: listening on {scheme}://{local}");
    serve_with(listener, config, shutdown, |info| app.connection(info)).await;
    // WebSockets close with 1001 on their own; give them a moment to finish the handshake.
    for _ in 0..40 {
        if app.hub.stats().await.connections.websocket == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("demo: stopped");
    Ok(())
}

/// The hub's backend on the Redis server at `url` (exits with a message if it cannot be
/// reached, or if the demo was built without the `redis` feature).
async fn redis_backend(url: &str, limits: Limits) -> std::sync::Arc<dyn rt_tokio::hub::Backend> {
    #[cfg(feature = "redis")]
    {
        let mut config = rt_tokio::hub::RedisConfig::default();
        config.max_messages = limits.history_messages.max(1);
        config.max_message_bytes = limits.max_frame_bytes.max(1024);
        match rt_tokio::hub::RedisBackend::connect(url, config).await {
            Ok(backend) => {
                eprintln!("demo: channels in Redis at {url}");
                std::sync::Arc::new(backend)
            }
            Err(e) => {
                eprintln!("demo: {e}");
                std::process::exit(1)
            }
        }
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (url, limits);
        eprintln!("demo: --redis needs the redis feature: cargo run -p rt-tokio --features redis --example demo");
        std::process::exit(2)
    }
}

/// Cancels `shutdown` on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("demo: shutting down");
    shutdown.cancel();
}

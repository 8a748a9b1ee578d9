//! `demo [ADDR] [--history N] [--redis URL]`: a live room served over WebSocket, SSE and
//! long polling from one hub (default address 127.0.0.1:8080). Open the address in a
//! browser. With `--redis` (feature `redis`) the hub's channels live in Redis, so several
//! demo processes on different ports are one room: a message sent to any reaches pages on
//! every one, and a page moved to another node resumes from its cursor.
//!
//! ```sh
//! cargo run --release -p rt-tokio --example demo
//! cargo run --release -p rt-tokio --example demo -- 127.0.0.1:9000 --history 100
//! cargo run --release -p rt-tokio --features redis --example demo -- 127.0.0.1:8081 --redis redis://127.0.0.1:6379
//! ```
//!
//! The page picks WebSocket, then SSE, then long polling (`?transport=ws|sse|longpoll`
//! forces one). `/status` has the figures as JSON. SIGINT or SIGTERM shuts the server down
//! gracefully: WebSockets get close 1001, streams and held polls end, pages reconnect to
//! the next process by themselves. `tests/demo.rs` drives this server in-process;
//! `tests/demo_browser.rs` drives the built binary from headless Chromium.

mod limits;
mod server;
mod wire;

use std::time::Duration;

use rt_tokio::http::{serve_with, CancellationToken, ServeConfig};

use limits::Limits;
use server::App;

fn usage() -> ! {
    eprintln!("usage: demo [ADDR] [--history N] [--redis URL]   (default ADDR 127.0.0.1:8080)");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut limits = Limits::default();
    let mut redis_url = None;
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
            "-h" | "--help" => usage(),
            a if !a.starts_with('-') => addr = a.to_string(),
            _ => usage(),
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let app = match redis_url {
        None => App::new(limits, shutdown.clone()),
        Some(url) => App::with_backend(limits, shutdown.clone(), redis_backend(&url, limits).await),
    };
    tokio::spawn(server::ticker(app.clone()));
    tokio::spawn(stop_on_signal(shutdown.clone()));
    eprintln!("demo: listening on http://{local}");
    let mut config = ServeConfig::default();
    config.drain_timeout = Duration::from_secs(3);
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

//! An Autobahn testee client on tokio: asks a fuzzing server how many cases there are, runs
//! each one echoing every message (offering permessage-deflate), then asks it to write its
//! reports.
//!
//! With `--http2` every WebSocket is an HTTP/2 extended CONNECT (RFC 8441; h2c by prior
//! knowledge on `ws://`), all of them streams of one connection (an [`Http2Pool`]); `.ci/run`
//! runs it so against `ws-h2-bridge from-h2` in front of the suite.
//!
//! ```sh
//! cargo run --release -p rt-tokio --example ws-autobahn -- ws://127.0.0.1:9001 rt-tokio
//! cargo run --release -p rt-tokio --example ws-autobahn -- ws://127.0.0.1:9003 rt-tokio-h2 --http2
//! ```

use std::error::Error;

use rt_tokio::ws::{ClientBuilder, Http2, Http2Pool};
use ws_proto::deflate::DeflateConfig;
use ws_proto::Message;

/// Open a WebSocket to `base` + `path`, echoing every message if `echo`, until it closes;
/// returns the text messages received (the case count for `/getCaseCount`). Over HTTP/2 on
/// `pool`'s connection if given.
async fn session(
    base: &str,
    path: &str,
    echo: bool,
    pool: Option<&Http2Pool>,
) -> Result<Vec<String>, Box<dyn Error>> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut builder = ClientBuilder::new(url).deflate(DeflateConfig::default());
    if let Some(pool) = pool {
        builder = builder.http2(Http2::Require).pool(pool.clone());
    }
    let (mut ws, _response) = builder.connect().await?;
    let mut texts = Vec::new();
    // A protocol error ends the case (the Close with its code is already sent).
    while let Some(Ok(message)) = ws.recv().await {
        if let Message::Text(t) = &message {
            texts.push(t.to_string());
        }
        if echo && ws.send(message).await.is_err() {
            break;
        }
    }
    Ok(texts)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let pool = match args.iter().position(|a| a == "--http2") {
        Some(i) => {
            args.remove(i);
            Some(Http2Pool::new())
        }
        None => None,
    };
    let pool = pool.as_ref();
    let mut args = args.into_iter();
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let agent = args.next().unwrap_or_else(|| "rt-tokio".to_string());
    let count: u32 = session(&base, "/getCaseCount", false, pool)
        .await?
        .first()
        .ok_or("no case count received")?
        .trim()
        .parse()?;
    for case in 1..=count {
        session(
            &base,
            &format!("/runCase?case={case}&agent={agent}"),
            true,
            pool,
        )
        .await?;
    }
    session(&base, &format!("/updateReports?agent={agent}"), false, pool).await?;
    eprintln!("ws-autobahn: {count} cases run; reports updated for agent {agent}");
    Ok(())
}

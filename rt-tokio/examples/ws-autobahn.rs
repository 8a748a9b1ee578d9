//! An Autobahn testee client on tokio: asks a fuzzing server how many cases there are, runs
//! each one echoing every message (offering permessage-deflate), then asks it to write its
//! reports.
//!
//! ```sh
//! cargo run --release -p rt-tokio --example ws-autobahn -- ws://127.0.0.1:9001 rt-tokio
//! ```

use std::error::Error;

use rt_tokio::ws::ClientBuilder;
use ws_proto::deflate::DeflateConfig;
use ws_proto::Message;

/// Open a WebSocket to `base` + `path`, echoing every message if `echo`, until it closes;
/// returns the text messages received (the case count for `/getCaseCount`).
async fn session(base: &str, path: &str, echo: bool) -> Result<Vec<String>, Box<dyn Error>> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let (mut ws, _response) = ClientBuilder::new(url)
        .deflate(DeflateConfig::default())
        .connect()
        .await?;
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
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let agent = args.next().unwrap_or_else(|| "rt-tokio".to_string());
    let count: u32 = session(&base, "/getCaseCount", false)
        .await?
        .first()
        .ok_or("no case count received")?
        .trim()
        .parse()?;
    for case in 1..=count {
        session(&base, &format!("/runCase?case={case}&agent={agent}"), true).await?;
    }
    session(&base, &format!("/updateReports?agent={agent}"), false).await?;
    eprintln!("ws-autobahn: {count} cases run; reports updated for agent {agent}");
    Ok(())
}

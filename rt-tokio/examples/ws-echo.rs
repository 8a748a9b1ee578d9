//! A WebSocket echo server on tokio: every message back as it came (text as text, binary as
//! binary), permessage-deflate accepted, close handshakes completed. The Autobahn testee for
//! the server role.
//!
//! ```sh
//! cargo run --release -p rt-tokio --example ws-echo -- 127.0.0.1:9001
//! ```

use rt_tokio::ws::{accept, ServerOptions};
use tokio::net::TcpListener;
use ws_proto::deflate::DeflateConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("ws-echo: listening on ws://{}", listener.local_addr()?);
    let options = ServerOptions::default().deflate(DeflateConfig::default());
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let options = options.clone();
        tokio::spawn(async move {
            let Ok((mut ws, _request)) = accept(tcp, &options).await else {
                return;
            };
            while let Some(Ok(message)) = ws.recv().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}

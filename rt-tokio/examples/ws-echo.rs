//! A WebSocket echo server on tokio: every message back as it came (text as text, binary as
//! binary), permessage-deflate accepted, close handshakes completed. The Autobahn testee for
//! the server role.
//!
//! Plain, it accepts WebSockets on raw TCP ([`accept`]). With `--http` it serves them from
//! [`serve_with`]: HTTP/1.1 upgrades and HTTP/2 extended CONNECTs (RFC 8441, h2c by prior
//! knowledge) on one listener; `.ci/run` puts `ws-h2-bridge` in front of it to run the
//! conformance suite over HTTP/2.
//!
//! ```sh
//! cargo run --release -p rt-tokio --example ws-echo -- 127.0.0.1:9001
//! cargo run --release -p rt-tokio --example ws-echo -- 127.0.0.1:9002 --http
//! ```

use rt_tokio::http::{serve_with, CancellationToken, ServeConfig};
use rt_tokio::ws::{accept, upgrade, ServerOptions, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use ws_proto::deflate::DeflateConfig;

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:9001".to_string();
    let mut http = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--http" => http = true,
            a if !a.starts_with('-') => addr = a.to_string(),
            _ => {
                eprintln!("usage: ws-echo [ADDR] [--http]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&addr).await?;
    let options = ServerOptions::default().deflate(DeflateConfig::default());
    if http {
        eprintln!(
            "ws-echo: serving HTTP/1.1 and h2c on http://{}",
            listener.local_addr()?
        );
        let handler = move |mut req: http::Request<hyper::body::Incoming>| {
            let answer = upgrade(&mut req, &options);
            async move {
                match answer {
                    Ok((response, socket)) => {
                        tokio::spawn(async move {
                            if let Ok(ws) = socket.await {
                                echo(ws).await;
                            }
                        });
                        response
                    }
                    Err(refusal) => refusal,
                }
            }
        };
        serve_with(
            listener,
            ServeConfig::default(),
            CancellationToken::new(),
            move |_| handler.clone(),
        )
        .await;
        return Ok(());
    }
    eprintln!("ws-echo: listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let options = options.clone();
        tokio::spawn(async move {
            if let Ok((ws, _request)) = accept(tcp, &options).await {
                echo(ws).await;
            }
        });
    }
}

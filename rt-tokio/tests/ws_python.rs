//! Python's `websockets` (a real permessage-deflate peer) as a client of our server, with
//! compression negotiated: every message echoed intact, the close handshake clean.
//!
//! Without `python3` and `websockets` the test says so and passes, unless `CI` is set: then
//! it fails (`.ci/run` installs `websockets`).
#![cfg(feature = "ws")]

use std::process::Stdio;
use std::time::Duration;

use rt_tokio::ws::{accept, ServerOptions};
use ws_proto::deflate::DeflateConfig;

const CLIENT: &str = r#"
import asyncio, sys
from websockets.asyncio.client import connect

async def main(url):
    async with connect(url, compression="deflate", max_size=None) as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions", "").startswith("permessage-deflate"), ws.response.headers
        sent = ["hello", "é😀 " * 5000, b"\x00\x01" * 40000, "x" * 70000, ""]
        for m in sent:
            await ws.send(m)
            got = await ws.recv()
            assert got == m, (type(got), len(got), len(m))
    print("ok")

asyncio.run(main(sys.argv[1]))
"#;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn have_websockets() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import websockets.asyncio.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn python_websockets_with_compression_against_our_server() {
    if !have_websockets() {
        assert!(!in_ci(), "CI needs python3 with websockets (>= 13)");
        eprintln!("skipped: python3 with the websockets package is not installed");
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/py", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let options = ServerOptions::default().deflate(DeflateConfig::default());
        let (mut ws, _) = accept(tcp, &options).await.unwrap();
        let mut echoed = 0;
        while let Some(Ok(m)) = ws.recv().await {
            ws.send(m).await.unwrap();
            echoed += 1;
        }
        (echoed, ws.closed().cloned())
    });
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .args(["-c", CLIENT, &url])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "python: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (echoed, closed) = server.await.unwrap();
    assert_eq!(echoed, 5);
    assert!(closed.unwrap().clean);
}

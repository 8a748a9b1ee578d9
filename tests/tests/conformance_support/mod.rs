//! Reference peers for the conformance suite's own tests: a tokio-tungstenite echo server
//! and a tokio-tungstenite Autobahn testee client, both started in-process on 127.0.0.1.
#![allow(dead_code)]

use std::net::SocketAddr;

use std::net::TcpListener;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tests::conformance::{CaseFilter, Config, Report};
use tokio_tungstenite::tungstenite::Message;

/// Starts a tokio-tungstenite echo server on 127.0.0.1 (default configuration) on its own
/// runtime thread; returns its address. It lives until the test process exits.
pub fn start_tungstenite_echo_server() -> SocketAddr {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    std_listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    while let Some(msg) = ws.next().await {
                        match msg {
                            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                                if ws.send(m).await.is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
            }
        });
    });
    addr
}

/// Runs a tokio-tungstenite Autobahn testee client against the fuzzing server at
/// `base` (`ws://host:port`): reads the case count, runs every case echoing all messages,
/// then asks for the report. Blocks until done.
pub fn run_tungstenite_autobahn_client(base: &str, agent: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/getCaseCount"))
            .await
            .expect("getCaseCount");
        let mut count = 0usize;
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                count = t.parse().expect("count");
            }
        }
        for n in 1..=count {
            let url = format!("{base}/runCase?case={n}&agent={agent}");
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
                continue;
            };
            while let Some(msg) = ws.next().await {
                match msg {
                    Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                        if ws.send(m).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        let url = format!("{base}/updateReports?agent={agent}");
        if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await {
            while let Some(Ok(_)) = ws.next().await {}
        }
    });
}

/// The time limits used under `cargo test`: the defaults, with a 0.5 s fail-fast pause
/// (the reference's 1 s only costs time; a strict peer fails within microseconds).
pub fn test_config() -> Config {
    Config {
        fail_fast_pause: Duration::from_millis(500),
        ..Config::default()
    }
}

/// Runs the suite (suite as client) against `url` with [`test_config`].
pub fn run_server_suite(url: &str, filter: &CaseFilter) -> Report {
    tests::conformance::run_against_server_with(url, filter, &test_config(), &mut |_| {})
        .expect("valid URL")
}

/// Serves the suite to one client on `listener` with [`test_config`].
pub fn run_client_suite(listener: &TcpListener, filter: &CaseFilter) -> Report {
    tests::conformance::serve_for_client_with(
        listener,
        filter,
        &test_config(),
        Duration::from_secs(30),
        &mut |_| {},
    )
}

//! The echo servers, one per implementation, each written as its own documentation or
//! examples show a user: every text or binary message back as it came, until the peer closes.
//! Each runs in a process of its own on a single-threaded tokio runtime, with TCP_NODELAY on
//! every accepted socket.

use std::io::Write as _;
use std::str::FromStr;

use tokio::net::{TcpListener, TcpStream};

/// The servers under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// rt-tokio's `ws::accept` over the TCP stream, permessage-deflate accepted when offered
    /// (as `rt-tokio/examples/ws-echo.rs`, at level 1 as soketto compresses).
    RtTokio,
    /// tokio-tungstenite's `accept_async` with its default configuration.
    TokioTungstenite,
    /// fastwebsockets' hyper upgrade and `FragmentCollector` (its `echo_server` example).
    Fastwebsockets,
    /// axum's `WebSocketUpgrade` extractor (tokio-tungstenite inside).
    Axum,
    /// soketto with its `Deflate` extension (its `autobahn_server` example).
    Soketto,
    /// The floor: plain TCP echo over tokio, no WebSocket framing (see [`tcp_echo_conn`]).
    TcpEcho,
}

impl Server {
    /// Every server, in the order of the tables.
    pub const ALL: [Server; 6] = [
        Server::RtTokio,
        Server::Fastwebsockets,
        Server::TokioTungstenite,
        Server::Axum,
        Server::Soketto,
        Server::TcpEcho,
    ];

    /// The name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Server::RtTokio => "rt-tokio",
            Server::TokioTungstenite => "tokio-tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
            Server::Axum => "axum",
            Server::Soketto => "soketto",
            Server::TcpEcho => "tcp-echo",
        }
    }

    /// Whether the server speaks plain TCP (the floor), not WebSocket.
    pub fn plain_tcp(self) -> bool {
        self == Server::TcpEcho
    }

    /// Whether the server negotiates permessage-deflate.
    pub fn deflate(self) -> bool {
        matches!(self, Server::RtTokio | Server::Soketto)
    }
}

impl FromStr for Server {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Server::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown server {s:?}"))
    }
}

/// Runs `server` on 127.0.0.1 (an ephemeral port, written to stdout as `port N`) until stdin
/// closes (the parent exited or let go of it), pinned to `cpu` when given.
pub fn run(server: Server, cpu: Option<usize>) -> ! {
    if let Some(cpu) = cpu {
        if !crate::stats::pin_to_cpu(cpu) {
            eprintln!("echo server: could not pin to CPU {cpu}");
        }
    }
    // The idle benchmark holds thousands of connections on these servers.
    if let Err(e) = crate::stats::raise_nofile_limit() {
        eprintln!("echo server: could not raise the open-files limit: {e}");
    }
    // The parent holds our stdin: when it goes, so do we.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result: std::io::Result<()> = runtime.block_on(async move {
        let listener = crate::stats::local_listener()?;
        let port = listener.local_addr()?.port();
        let mut out = std::io::stdout();
        writeln!(out, "port {port}")?;
        out.flush()?;
        match server {
            Server::Axum => axum_server(listener).await,
            _ => loop {
                let (tcp, _) = listener.accept().await?;
                tcp.set_nodelay(true)?;
                match server {
                    Server::RtTokio => tokio::spawn(rt_tokio_conn(tcp)),
                    Server::TokioTungstenite => tokio::spawn(tungstenite_conn(tcp)),
                    Server::Fastwebsockets => tokio::spawn(fastwebsockets_conn(tcp)),
                    Server::Soketto => tokio::spawn(soketto_conn(tcp)),
                    Server::TcpEcho => tokio::spawn(tcp_echo_conn(tcp)),
                    Server::Axum => unreachable!("served above"),
                };
            },
        }
    });
    if let Err(e) = result {
        eprintln!("echo server {}: {e}", server.name());
    }
    std::process::exit(1)
}

async fn rt_tokio_conn(tcp: TcpStream) {
    use rt_tokio::ws::{accept, ServerOptions};
    // permessage-deflate at soketto's level (1) when offered; no context takeover because
    // the client asks for none.
    let options = ServerOptions::default().deflate(crate::client::deflate_config());
    let Ok((mut ws, _request)) = accept(tcp, &options).await else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn tungstenite_conn(tcp: TcpStream) {
    use futures_util::{SinkExt as _, StreamExt as _};
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn fastwebsockets_conn(tcp: TcpStream) {
    use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn handle(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
        let mut ws = FragmentCollector::new(fut.await?);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                _ => {}
            }
        }
        Ok(())
    }
    async fn upgrade(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
        let (response, fut) = upgrade::upgrade(&mut req)?;
        tokio::spawn(async move {
            let _ = tokio::task::unconstrained(handle(fut)).await;
        });
        Ok(response)
    }
    let io = hyper_util::rt::TokioIo::new(tcp);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, hyper::service::service_fn(upgrade))
        .with_upgrades()
        .await;
}

async fn axum_server(listener: TcpListener) -> std::io::Result<()> {
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::routing::get;

    async fn echo(mut socket: WebSocket) {
        while let Some(Ok(message)) = socket.recv().await {
            let data = matches!(message, Message::Text(_) | Message::Binary(_));
            if matches!(message, Message::Close(_)) || (data && socket.send(message).await.is_err())
            {
                break;
            }
        }
    }
    let app = axum::Router::new().route(
        "/",
        get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }),
    );
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

async fn soketto_conn(tcp: TcpStream) {
    use futures_util::io::{BufReader, BufWriter};
    use soketto::handshake::{server::Response, Server};
    use tokio_util::compat::TokioAsyncReadCompatExt as _;

    let io = BufReader::with_capacity(8 * 1024, BufWriter::with_capacity(16 * 1024, tcp.compat()));
    let mut server = Server::new(io);
    server.add_extension(Box::new(soketto::extension::deflate::Deflate::new(
        soketto::Mode::Server,
    )));
    let Ok(request) = server.receive_request().await else {
        return;
    };
    let key = request.key();
    let accept = Response::Accept {
        key,
        protocol: None,
    };
    if server.send_response(&accept).await.is_err() {
        return;
    }
    let (mut sender, mut receiver) = server.into_builder().finish();
    let mut message = Vec::new();
    loop {
        message.clear();
        let sent = match receiver.receive_data(&mut message).await {
            Ok(soketto::Data::Binary(_)) => sender.send_binary_mut(&mut message).await,
            Ok(soketto::Data::Text(_)) => match std::str::from_utf8(&message) {
                Ok(text) => sender.send_text(text).await,
                Err(_) => break,
            },
            Err(soketto::connection::Error::Closed) => break,
            Err(e) => {
                eprintln!("soketto: {e}");
                break;
            }
        };
        if sent.is_err() || sender.flush().await.is_err() {
            break;
        }
    }
}

/// The most bytes a plain TCP echo message may have (the preamble is checked against it).
const TCP_ECHO_MAX: usize = 16 << 20;

/// The physical bound of an echo server: what any server on this runtime must do per round
/// trip, without WebSocket framing. The client first sends the message length (4 bytes,
/// little-endian; in place of the opening handshake), then each message as one write and
/// waits for its echo. Like a WebSocket server, this reads into one buffer kept for the
/// connection (8 KiB, or the message size if larger) until a whole message is there, and
/// writes it back in one write: the same system calls per round trip as the WebSocket
/// servers, only the framing, the masking and the library are gone.
async fn tcp_echo_conn(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut len = [0u8; 4];
    if tcp.read_exact(&mut len).await.is_err() {
        return;
    }
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > TCP_ECHO_MAX {
        eprintln!("tcp-echo: message length {len} out of 1..={TCP_ECHO_MAX}");
        return;
    }
    let mut buf = vec![0u8; len.max(8 * 1024)];
    let mut have = 0;
    loop {
        while have < len {
            match tcp.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => have += n,
            }
        }
        if tcp.write_all(&buf[..len]).await.is_err() {
            return;
        }
        // A client that sent ahead: its next message's bytes move to the front.
        buf.copy_within(len..have, 0);
        have -= len;
    }
}

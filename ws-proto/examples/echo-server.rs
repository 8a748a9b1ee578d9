//! A WebSocket echo server on plain blocking sockets, a thread per connection: it echoes every
//! message (text as text, binary as binary) and completes close handshakes. It is our Autobahn
//! testee for the server role.
//!
//! ```sh
//! cargo run --release -p ws-proto --example echo-server -- 127.0.0.1:9001
//! ```

#[path = "blocking/mod.rs"]
pub mod blocking;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

#[cfg(feature = "deflate")]
use ws_proto::deflate::{server_accept, DeflateConfig, Negotiated};
use ws_proto::handshake::{Accept, HandshakeLimits, ServerHandshake};
use ws_proto::{Config, Connection};

/// Accept connections forever, serving each on its own thread.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = handle(stream) {
                eprintln!("echo-server: connection error: {e}");
            }
        });
    }
    Ok(())
}

fn handle(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let clock = blocking::Clock::new();
    let mut handshake = ServerHandshake::new(HandshakeLimits::default());
    let mut buf = vec![0u8; 16 * 1024];
    let request = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match handshake.handle_input(&buf[..n]) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                // 400, 405, 426 or 431, as the error says.
                let mut out = Vec::new();
                e.write_response(&mut out);
                stream.write_all(&out)?;
                return Ok(());
            }
        }
    };
    // permessage-deflate (with the `deflate` feature, on by default): accept the first offer
    // we can honour, for Autobahn 12.x and 13.x.
    #[cfg(feature = "deflate")]
    let deflate_config = DeflateConfig::default();
    #[cfg(feature = "deflate")]
    let deflate = server_accept(request.extensions(), &deflate_config);
    #[cfg(feature = "deflate")]
    let extensions = deflate.as_ref().map(|(_, answer)| answer.as_str());
    #[cfg(not(feature = "deflate"))]
    let extensions = None;
    let accept = Accept {
        extensions,
        ..Accept::default()
    };
    let mut out = Vec::new();
    request
        .accept(&accept, &mut out)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    stream.write_all(&out)?;
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    if let Some((params, _)) = deflate {
        config.deflate = Some(Negotiated {
            params,
            config: deflate_config,
        });
    }
    let mut conn = Connection::server(clock.now(), config);
    blocking::run(&mut stream, &mut conn, &clock, request.leftover(), Some)?;
    Ok(())
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo-server: listening on ws://{}", listener.local_addr()?);
    serve(listener)
}

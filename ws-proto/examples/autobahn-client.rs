//! An Autobahn testee client on plain blocking sockets: it asks a fuzzing server how many
//! cases there are, runs each one echoing every message, then asks it to write its reports.
//!
//! ```sh
//! cargo run --release -p ws-proto --example autobahn-client -- ws://127.0.0.1:9001 ws-proto
//! ```

#[path = "blocking/mod.rs"]
mod blocking;

use std::error::Error;
use std::net::TcpStream;

#[cfg(feature = "deflate")]
use ws_proto::deflate::{client_accept, client_offer, DeflateConfig, Negotiated};
use ws_proto::handshake::{ClientHandshake, ClientOutcome, ClientRequest, HandshakeLimits};
use ws_proto::{Config, Connection, Message};

/// `ws://host:port/prefix` split into the address to dial, the Host header and the path prefix.
fn parse_url(url: &str) -> Result<(String, String, String), Box<dyn Error>> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or("only ws:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((addr, authority.to_string(), path.to_string()))
}

/// Open a WebSocket connection to `path` and echo until it closes; returns the text messages
/// received (the case count for `/getCaseCount`).
fn session(base: &str, path: &str, echo: bool) -> Result<Vec<String>, Box<dyn Error>> {
    let (addr, host, prefix) = parse_url(base)?;
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_nodelay(true)?;
    let clock = blocking::Clock::new();
    // Offer permessage-deflate (with the `deflate` feature, on by default), for Autobahn
    // 12.x and 13.x.
    #[cfg(feature = "deflate")]
    let deflate_config = DeflateConfig::default();
    let request = ClientRequest::new(host, format!("{prefix}{path}"), blocking::random_key());
    #[cfg(feature = "deflate")]
    let request = request.extensions(client_offer(&deflate_config));
    let mut handshake = ClientHandshake::new(&request, HandshakeLimits::default())?;
    let mut out = Vec::new();
    handshake.write_request(&mut out);
    std::io::Write::write_all(&mut stream, &out)?;
    let mut buf = vec![0u8; 16 * 1024];
    let accepted = loop {
        let n = std::io::Read::read(&mut stream, &mut buf)?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        match handshake.handle_input(&buf[..n])? {
            None => {}
            Some(ClientOutcome::Accepted(a)) => break a,
            Some(ClientOutcome::Rejected(r)) => {
                return Err(format!("handshake rejected with {}", r.status()).into())
            }
        }
    };
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    if let Some(params) = client_accept(accepted.extensions(), &deflate_config)? {
        config.deflate = Some(Negotiated {
            params,
            config: deflate_config,
        });
    }
    let mut conn = Connection::client(clock.now(), config, blocking::mask_source());
    let mut texts = Vec::new();
    blocking::run(&mut stream, &mut conn, &clock, accepted.leftover(), |m| {
        if let Message::Text(t) = &m {
            texts.push(t.to_string());
        }
        echo.then_some(m)
    })?;
    Ok(texts)
}

/// Run every case of the fuzzing server at `base_url` as `agent`, then update its reports.
pub fn run(base_url: &str, agent: &str) -> Result<(), Box<dyn Error>> {
    let count: u32 = session(base_url, "/getCaseCount", false)?
        .first()
        .ok_or("no case count received")?
        .trim()
        .parse()?;
    for case in 1..=count {
        session(
            base_url,
            &format!("/runCase?case={case}&agent={agent}"),
            true,
        )?;
    }
    session(base_url, &format!("/updateReports?agent={agent}"), false)?;
    Ok(())
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let agent = args.next().unwrap_or_else(|| "ws-proto".to_string());
    run(&url, &agent)?;
    eprintln!("autobahn-client: all cases run; reports updated for agent {agent}");
    Ok(())
}

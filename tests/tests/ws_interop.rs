//! Interop: our server (the echo-server example) against a tungstenite client, and our client
//! (the examples' blocking driver) against a tungstenite server. Text, binary, fragmented
//! messages, ping/pong and close codes, over real sockets on 127.0.0.1.

#[allow(dead_code)]
#[path = "../../ws-proto/examples/echo-server.rs"]
mod echo_server;

use echo_server::blocking;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use tungstenite::protocol::CloseFrame;
use tungstenite::Message as TMessage;
use ws_proto::handshake::{ClientHandshake, ClientOutcome, ClientRequest, HandshakeLimits};
use ws_proto::{CloseCode, Config, Connection, Event, Message, MessageKind};

fn start_echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || echo_server::serve(listener));
    format!("ws://{addr}/")
}

fn data_frame(opcode: Data, fin: bool, payload: &[u8]) -> TMessage {
    let header = FrameHeader {
        is_final: fin,
        opcode: OpCode::Data(opcode),
        ..FrameHeader::default()
    };
    TMessage::Frame(Frame::from_payload(header, payload.to_vec().into()))
}

#[test]
fn tungstenite_client_against_our_server() {
    let url = start_echo_server();
    let (mut ws, response) = tungstenite::connect(&url).unwrap();
    assert_eq!(response.status(), 101);
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }

    ws.send(TMessage::text("hello, ws-proto")).unwrap();
    assert_eq!(ws.read().unwrap(), TMessage::text("hello, ws-proto"));

    let binary: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(TMessage::binary(binary.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), TMessage::binary(binary));

    // A fragmented text message with a ping between its fragments.
    ws.send(data_frame(Data::Text, false, "frag".as_bytes()))
        .unwrap();
    ws.send(TMessage::Ping(b"mid".to_vec().into())).unwrap();
    ws.send(TMessage::Frame(Frame::from_payload(
        FrameHeader {
            is_final: true,
            opcode: OpCode::Data(Data::Continue),
            ..FrameHeader::default()
        },
        "mented ✓".as_bytes().to_vec().into(),
    )))
    .unwrap();
    // The pong comes first (it was answered at once), then the echoed message.
    assert_eq!(ws.read().unwrap(), TMessage::Pong(b"mid".to_vec().into()));
    assert_eq!(ws.read().unwrap(), TMessage::text("fragmented ✓"));

    // Close with a code: the server echoes it and closes the connection.
    ws.close(Some(CloseFrame {
        code: 4001.into(),
        reason: "bye".into(),
    }))
    .unwrap();
    loop {
        match ws.read() {
            Ok(TMessage::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), 4001);
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

#[test]
fn our_server_rejects_a_bad_handshake_with_426() {
    let url = start_echo_server();
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 426"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{response}"
    );
}

/// A tungstenite echo server that echoes `count` connections.
fn start_tungstenite_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut ws = tungstenite::accept(stream).unwrap();
                loop {
                    match ws.read() {
                        Ok(m @ (TMessage::Text(_) | TMessage::Binary(_))) => ws.send(m).unwrap(),
                        Ok(_) => {}
                        Err(e) => {
                            eprintln!("tungstenite server: {e}");
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn our_client_against_tungstenite_server() {
    let addr = start_tungstenite_server();
    let mut stream = TcpStream::connect(addr).unwrap();
    let clock = blocking::Clock::new();
    let request = ClientRequest::new(addr.to_string(), "/", blocking::random_key());
    let mut handshake = ClientHandshake::new(&request, HandshakeLimits::default()).unwrap();
    let mut out = Vec::new();
    handshake.write_request(&mut out);
    stream.write_all(&out).unwrap();
    let mut buf = vec![0u8; 4096];
    let accepted = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        match handshake.handle_input(&buf[..n]).unwrap() {
            Some(ClientOutcome::Accepted(a)) => break a,
            Some(ClientOutcome::Rejected(r)) => panic!("rejected {}", r.status()),
            None => {}
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut conn = Connection::client(clock.now(), Config::default(), blocking::mask_source());
    conn.input_buffer().extend_from_slice(accepted.leftover());
    conn.handle_input(clock.now()).unwrap();

    let now = clock.now();
    conn.send(now, Message::text("héllo")).unwrap();
    conn.send(now, Message::binary(vec![1u8, 2, 3])).unwrap();
    conn.send_stream(MessageKind::Text)
        .write(now, "frag".as_bytes())
        .unwrap();
    conn.ping(now, b"p1").unwrap();
    conn.send_stream(MessageKind::Text)
        .finish(now, "mented".as_bytes())
        .unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 13) as u8).collect();
    conn.send(now, Message::binary(big.clone())).unwrap();
    blocking::flush(&mut stream, &mut conn).unwrap();

    let mut messages = Vec::new();
    let mut pongs = Vec::new();
    while messages.len() < 4 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "server closed early");
        conn.input_buffer().extend_from_slice(&buf[..n]);
        conn.handle_input(clock.now()).unwrap();
        while let Some(e) = conn.poll_event() {
            match e {
                Event::Message(m) => messages.push(m),
                Event::Pong(p) => pongs.push(p.to_vec()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(
        messages,
        vec![
            Message::text("héllo"),
            Message::binary(vec![1u8, 2, 3]),
            Message::text("fragmented"),
            Message::binary(big)
        ]
    );
    assert_eq!(pongs, vec![b"p1".to_vec()]);

    // Close with a code; tungstenite echoes it and closes TCP.
    conn.close(clock.now(), CloseCode(4002), "done").unwrap();
    let closed = blocking::run(&mut stream, &mut conn, &clock, &[], |_| None)
        .unwrap()
        .expect("closed");
    assert_eq!(closed.code, CloseCode(4002));
    assert!(closed.clean);
}

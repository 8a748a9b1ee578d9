//! Interop: our client against tungstenite's server handshake and tungstenite's client
//! against our server handshake, over an in-memory pipe (no sockets).

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::server::{Request as TRequest, Response as TResponse};
use tungstenite::http::HeaderValue;
use tungstenite::Message;
use ws_proto::handshake::{
    Accept, ClientHandshake, ClientOutcome, ClientRequest, HandshakeLimits, ServerHandshake,
};

/// One direction of bytes in, one out; reading an empty input would block.
#[derive(Debug, Default)]
struct Pipe {
    input: VecDeque<u8>,
    output: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.input.len());
        for (slot, byte) in buf.iter_mut().zip(self.input.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
#[allow(clippy::result_large_err)] // the callback's error type is tungstenite's
fn our_client_against_tungstenite_server() {
    let req = ClientRequest::new("localhost:9001", "/chat?x=1", *b"interop-key-0001")
        .protocol("superchat")
        .protocol("chat");
    let mut client = ClientHandshake::new(&req, HandshakeLimits::default()).unwrap();
    let mut pipe = Pipe::default();
    client.write_request(&mut pipe.output);
    pipe.input.extend(std::mem::take(&mut pipe.output));

    let callback = |r: &TRequest, mut resp: TResponse| {
        assert_eq!(r.uri().path(), "/chat");
        assert_eq!(r.uri().query(), Some("x=1"));
        assert_eq!(r.headers()["sec-websocket-protocol"], "superchat, chat");
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("chat"));
        Ok(resp)
    };
    let mut ws = tungstenite::accept_hdr(pipe, callback).expect("tungstenite accepts our request");
    ws.send(Message::text("hi")).unwrap();
    let bytes = std::mem::take(&mut ws.get_mut().output);

    match client.handle_input(&bytes).unwrap() {
        Some(ClientOutcome::Accepted(a)) => {
            assert_eq!(a.protocol(), Some("chat"));
            // The server's first frame, unmasked text "hi", is kept right after the head.
            assert_eq!(a.leftover(), b"\x81\x02hi");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tungstenite_client_against_our_server() {
    let mut treq = "ws://localhost/echo?y=2".into_client_request().unwrap();
    treq.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("a, b"));
    let mid = match tungstenite::client(treq, Pipe::default()) {
        Err(tungstenite::HandshakeError::Interrupted(mid)) => mid,
        other => panic!("expected to wait for the response: {other:?}"),
    };
    let mut mid = mid;
    let request_bytes = std::mem::take(&mut mid.get_mut().get_mut().output);

    let mut server = ServerHandshake::new(HandshakeLimits::default());
    let request = request_bytes
        .chunks(5)
        .find_map(|c| server.handle_input(c).unwrap())
        .expect("complete request");
    assert_eq!((request.path(), request.query()), ("/echo", Some("y=2")));
    assert_eq!(request.host(), "localhost");
    assert_eq!(request.protocols(), ["a", "b"]);
    let mut back = Vec::new();
    request
        .accept(
            &Accept {
                protocol: Some("b"),
                ..Accept::default()
            },
            &mut back,
        )
        .unwrap();
    back.extend_from_slice(b"\x81\x05hello"); // our first frame, in the same read
    mid.get_mut().get_mut().input.extend(back);

    let (mut ws, response) = mid.handshake().expect("tungstenite accepts our 101");
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "b");
    assert_eq!(ws.read().unwrap(), Message::text("hello"));
}

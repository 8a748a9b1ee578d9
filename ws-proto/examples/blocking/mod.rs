//! A blocking driver for `ws_proto::Connection` over `std::net::TcpStream`, shared by the
//! examples: it shows the whole drive loop with plain sockets and threads, no async runtime.
#![allow(dead_code)]

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use ws_proto::{Connection, Event, Instant, Message, SendError};

/// Virtual time for the connection: microseconds since this driver started.
pub struct Clock(StdInstant);

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        Clock(StdInstant::now())
    }
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.0.elapsed().as_micros() as u64)
    }
}

/// Unpredictable masking keys, from the OS's secure random source.
pub fn mask_source() -> ws_proto::OsMasks {
    ws_proto::OsMasks::new().expect("the OS random source")
}

/// 16 unpredictable bytes for a handshake key.
pub fn random_key() -> [u8; 16] {
    ws_proto::handshake::random_key().expect("the OS random source")
}

/// Write everything the connection has queued.
pub fn flush(stream: &mut TcpStream, conn: &mut Connection) -> io::Result<()> {
    while let Some(bytes) = conn.poll_transmit() {
        stream.write_all(&bytes)?;
    }
    Ok(())
}

/// Run the connection until it is finished. `leftover` holds bytes that arrived right after
/// the handshake. `on_message` may answer a message (the echo); it runs for every message.
/// Returns how the connection ended.
pub fn run(
    stream: &mut TcpStream,
    conn: &mut Connection,
    clock: &Clock,
    leftover: &[u8],
    mut on_message: impl FnMut(Message) -> Option<Message>,
) -> io::Result<Option<ws_proto::Closed>> {
    let mut closed = None;
    conn.input_buffer().extend_from_slice(leftover);
    let mut have_input = !leftover.is_empty();
    loop {
        if have_input {
            // A protocol error is already answered by the queued Close; the loop ends below.
            let _ = conn.handle_input(clock.now());
        }
        // Drain in order: events (an echo queues more to transmit), then transmit, then the
        // timer. A peer that reset the connection ends it like an end of stream.
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(m) => {
                    if let Some(reply) = on_message(m) {
                        let mut reply = Some(reply);
                        while let Some(r) = reply.take() {
                            if let Err(SendError::BufferFull { .. }) =
                                conn.send(clock.now(), r.clone())
                            {
                                // Backpressure: write what is queued, then try again.
                                flush(stream, conn)?;
                                reply = Some(r);
                            }
                        }
                    }
                }
                Event::Closed(c) => closed = Some(c),
                _ => {}
            }
        }
        if let Err(e) = flush(stream, conn) {
            if !matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) {
                return Err(e);
            }
            conn.handle_eof(clock.now());
            continue;
        }
        if conn.is_finished() {
            // The server closes TCP first; a client has waited for that (or timed out).
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(closed);
        }
        let now = clock.now();
        let timeout = conn.poll_timeout().map(|t| {
            Duration::from_micros(t.as_micros().saturating_sub(now.as_micros()).max(1000))
        });
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            // Work is waiting (inflating in steps): do it before reading more.
            conn.handle_timeout(now);
            have_input = false;
            continue;
        }
        stream.set_read_timeout(timeout)?;
        // Read straight into the connection's buffer. (Safe code cannot read into
        // uninitialised memory, so the room is zero-filled first; tokio's `read_buf`, as
        // rt-tokio uses it, reads into the spare capacity without that.)
        let buf = conn.input_buffer();
        let start = buf.len();
        let room = buf.capacity() - start;
        buf.resize(start + room, 0);
        let read = stream.read(&mut buf[start..]);
        buf.truncate(start + *read.as_ref().unwrap_or(&0));
        have_input = false;
        match read {
            Ok(0) => conn.handle_eof(clock.now()),
            Ok(_) => have_input = true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(clock.now());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                conn.handle_eof(clock.now());
            }
            Err(e) => return Err(e),
        }
    }
}

//! Plays one case over an established WebSocket connection and records what the
//! implementation under test does.
//!
//! Two threads per case: a reader that parses the peer's frames (strictly) and reports
//! `Observed` items over a channel, and the case thread that writes the script, answers
//! the peer's close and ping frames, and runs the closing handshake. Every wait has a
//! deadline, so a peer that hangs makes the case fail, never the suite hang.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::cases::{fragments, Case, Chop, Ev, Step};
use super::deflate::{Agreed, Compressor, Decompressor};
use super::frame::{
    apply_mask, parse_header_ext, Frame, MAX_INCOMING_PAYLOAD, OP_BINARY, OP_CLOSE,
    OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
};
use super::judge::{judge, Observation};
use super::report::CaseResult;

/// Which side of the connection the suite plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The suite is the client (it masks); the implementation under test is a server.
    Client,
    /// The suite is the server; the implementation under test is a client.
    Server,
}

/// Time limits. Every wait in the suite is bounded by one of these.
#[derive(Clone, Debug)]
pub struct Config {
    /// Longest a case of sections 1-7 and 10 may take (script, exchange and close).
    pub case_timeout: Duration,
    /// Longest a section 9 (performance) case may take.
    pub performance_timeout: Duration,
    /// After the script, how long the peer has to fail the connection when it must.
    pub fail_wait: Duration,
    /// How long the closing handshake (and the server's TCP close) may take.
    pub close_wait: Duration,
    /// Longest the opening handshake may take.
    pub handshake_timeout: Duration,
    /// The pause between the parts of a "fail fast" case (6.4.x), as in the reference (1 s).
    /// A strict peer must fail the connection within it after the invalid part.
    pub fail_fast_pause: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            case_timeout: Duration::from_secs(10),
            performance_timeout: Duration::from_secs(100),
            fail_wait: Duration::from_secs(2),
            close_wait: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(5),
            fail_fast_pause: Duration::from_secs(1),
        }
    }
}

/// What the reader thread reports.
#[derive(Debug)]
pub(crate) enum Observed {
    /// A complete message or a pong.
    Event(Ev),
    /// A ping from the peer.
    Ping(Vec<u8>),
    /// A close frame: code (if any) and reason.
    Close(Option<u16>, Vec<u8>),
    /// The TCP stream ended (`true` when by reset or error).
    Eof(bool),
    /// The peer broke the protocol in what it sent.
    Violation(String),
    /// The next message arrived compressed (RSV1, permessage-deflate).
    Compressed,
}

/// Suite and peer did not agree on the extension a compression case needs: closes the
/// connection normally (the closing handshake is still judged) and reports UNIMPLEMENTED, or
/// FAILED when the close went wrong.
pub fn run_declined(
    stream: TcpStream,
    rest: Vec<u8>,
    role: Role,
    case: &Case,
    config: &Config,
    mask_key: [u8; 4],
    why: String,
) -> CaseResult {
    let close_only = Case {
        steps: Vec::new(),
        expect: super::cases::Expect::echo(Vec::new()),
        deflate: None,
        ..case.clone()
    };
    let mut r = run_case(stream, rest, role, &close_only, config, mask_key);
    if r.outcome != super::report::Outcome::Failed {
        r.outcome = super::report::Outcome::Unimplemented;
        r.notes.clear();
    }
    r.notes.insert(0, why);
    r
}

/// Close codes that may appear in a close frame (RFC 6455 section 7.4).
pub fn is_valid_wire_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parses the peer's frame stream; runs on its own thread until EOF or a violation. With
/// `inflater` (permessage-deflate agreed), messages whose first frame has RSV1 are inflated.
fn read_loop(
    mut stream: TcpStream,
    mut buf: Vec<u8>,
    peer_masks: bool,
    mut inflater: Option<Decompressor>,
    tx: Sender<Observed>,
) {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut message: Option<(u8, Vec<u8>)> = None;
    let mut compressed = false;
    let mut closed = false;
    loop {
        // Parse every complete frame in the buffer.
        let mut consumed = 0;
        loop {
            let rest = &buf[consumed..];
            let h = match parse_header_ext(rest, peer_masks, inflater.is_some()) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(v) => {
                    let _ = tx.send(Observed::Violation(v.to_string()));
                    return;
                }
            };
            let total = h.header_len + h.len as usize;
            if rest.len() < total {
                buf.reserve(total - rest.len());
                break;
            }
            let mut payload = rest[h.header_len..total].to_vec();
            consumed += total;
            if let Some(k) = h.mask {
                apply_mask(&mut payload, k);
            }
            if closed {
                let _ = tx.send(Observed::Violation(format!(
                    "frame (opcode {:#x}) after its close frame",
                    h.opcode
                )));
                return;
            }
            let out = match h.opcode {
                OP_TEXT | OP_BINARY if message.is_some() => {
                    Err("new data frame while a fragmented message is in progress".to_string())
                }
                OP_TEXT | OP_BINARY => {
                    compressed = h.rsv & 4 != 0;
                    message = Some((h.opcode, payload));
                    Ok(None)
                }
                OP_CONTINUATION => match message.as_mut() {
                    None => Err("continuation frame with no message in progress".to_string()),
                    Some((_, data))
                        if data.len() as u64 + payload.len() as u64 > MAX_INCOMING_PAYLOAD =>
                    {
                        Err("message larger than the suite accepts".to_string())
                    }
                    Some((_, data)) => {
                        data.extend_from_slice(&payload);
                        Ok(None)
                    }
                },
                OP_PING => Ok(Some(Observed::Ping(payload))),
                OP_PONG => Ok(Some(Observed::Event(Ev::Pong(payload)))),
                OP_CLOSE => {
                    closed = true;
                    close_payload(&payload).map(|(c, r)| Some(Observed::Close(c, r)))
                }
                op => Err(format!("unexpected opcode {op:#x}")),
            };
            let out = match out {
                Ok(None) if h.fin && h.opcode < 8 => {
                    let (op, data) = message.take().unwrap_or((OP_BINARY, Vec::new()));
                    let data = match (compressed, inflater.as_mut()) {
                        (true, Some(inf)) => {
                            let _ = tx.send(Observed::Compressed);
                            inf.decompress(&data, MAX_INCOMING_PAYLOAD as usize)
                                .map_err(|e| format!("compressed message: {e}"))
                        }
                        _ => Ok(data),
                    };
                    compressed = false;
                    match data {
                        Err(e) => Err(e),
                        Ok(data) if op == OP_TEXT => {
                            if core::str::from_utf8(&data).is_err() {
                                Err("text message that is not valid UTF-8".to_string())
                            } else {
                                Ok(Some(Observed::Event(Ev::Text(data))))
                            }
                        }
                        Ok(data) => Ok(Some(Observed::Event(Ev::Binary(data)))),
                    }
                }
                other => other,
            };
            match out {
                Ok(Some(o)) => {
                    if tx.send(o).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = tx.send(Observed::Violation(e));
                    return;
                }
            }
        }
        if consumed > 0 {
            buf.drain(..consumed);
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                let _ = tx.send(Observed::Eof(false));
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = tx.send(Observed::Eof(true));
                return;
            }
        }
    }
}

/// Checks a close frame's payload as the peer sent it.
fn close_payload(p: &[u8]) -> Result<(Option<u16>, Vec<u8>), String> {
    match p.len() {
        0 => Ok((None, Vec::new())),
        1 => Err("close frame with a 1-byte payload".to_string()),
        _ => {
            let code = u16::from_be_bytes([p[0], p[1]]);
            if matches!(code, 0..=999 | 1004..=1006 | 1015) {
                return Err(format!(
                    "close frame with code {code}, which must not be sent"
                ));
            }
            if core::str::from_utf8(&p[2..]).is_err() {
                return Err("close frame with a reason that is not UTF-8".to_string());
            }
            Ok((Some(code), p[2..].to_vec()))
        }
    }
}

/// The state of one case while it runs.
struct Session {
    writer: TcpStream,
    rx: Receiver<Observed>,
    role: Role,
    mask: Option<[u8; 4]>,
    obs: Observation,
    tcp_closed_by_suite: bool,
    reader_done: bool,
    /// permessage-deflate agreed: compresses what the suite sends.
    deflater: Option<Compressor>,
}

impl Session {
    fn peer_gone(&self) -> bool {
        self.obs.peer_close.is_some() || self.obs.eof || self.obs.aborted
    }

    fn write(&mut self, bytes: &[u8], deadline: Instant) {
        if self.tcp_closed_by_suite || self.obs.write_error.is_some() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let left = left.max(Duration::from_millis(10));
        let _ = self.writer.set_write_timeout(Some(left));
        if let Err(e) = self.writer.write_all(bytes) {
            self.obs.write_error = Some(e.to_string());
        }
    }

    fn send_frames(&mut self, frames: &[Frame], chop: Chop, deadline: Instant) {
        if frames.iter().any(Frame::is_close) && !self.obs.suite_sent_close {
            self.obs.suite_sent_close = true;
            if self.obs.suite_closed_first.is_none() {
                self.obs.suite_closed_first = Some(true);
            }
        }
        match chop {
            Chop::Whole => {
                let mut out = Vec::new();
                for f in frames {
                    f.encode(self.mask, &mut out);
                }
                self.write(&out, deadline);
            }
            Chop::PerFrame => {
                for f in frames {
                    let b = f.to_bytes(self.mask);
                    self.write(&b, deadline);
                }
            }
            Chop::Bytes(n) => {
                let mut out = Vec::new();
                for f in frames {
                    f.encode(self.mask, &mut out);
                }
                for c in out.chunks(n.max(1)) {
                    self.write(c, deadline);
                }
            }
        }
    }

    /// The suite closes TCP (server role after the closing handshake, or on abort).
    fn close_tcp(&mut self) {
        if !self.tcp_closed_by_suite {
            let _ = self.writer.shutdown(Shutdown::Both);
            self.tcp_closed_by_suite = true;
        }
    }

    fn handle(&mut self, o: Observed, deadline: Instant) {
        match o {
            Observed::Event(ev) => self.obs.events.push(ev),
            Observed::Compressed => self.obs.compressed += 1,
            Observed::Ping(p) => {
                if !self.obs.suite_sent_close && !self.peer_gone() {
                    let f = Frame::pong(p);
                    let b = f.to_bytes(self.mask);
                    self.write(&b, deadline);
                }
            }
            Observed::Close(code, reason) => {
                self.obs.peer_close = Some((code, reason));
                if self.obs.suite_closed_first.is_none() {
                    self.obs.suite_closed_first = Some(false);
                    self.obs.gone_at_step = Some(self.obs.step);
                }
                if !self.obs.suite_sent_close {
                    self.obs.suite_sent_close = true;
                    let echo = match code {
                        Some(c) => Frame::close(c, b""),
                        None => Frame::close_empty(),
                    };
                    let b = echo.to_bytes(self.mask);
                    self.write(&b, deadline);
                }
                if self.role == Role::Server {
                    self.close_tcp();
                }
            }
            Observed::Eof(reset) => {
                self.reader_done = true;
                self.obs.eof = true;
                self.obs.reset = reset && !self.tcp_closed_by_suite;
                if self.obs.suite_closed_first.is_none() {
                    self.obs.suite_closed_first = Some(false);
                    self.obs.gone_at_step = Some(self.obs.step);
                }
            }
            Observed::Violation(v) => {
                self.reader_done = true;
                self.obs.violations.push(v);
                self.obs.aborted = true;
                if self.obs.suite_closed_first.is_none() {
                    self.obs.suite_closed_first = Some(false);
                    self.obs.gone_at_step = Some(self.obs.step);
                }
                if !self.obs.suite_sent_close {
                    self.obs.suite_sent_close = true;
                    let b = Frame::close(1002, b"").to_bytes(self.mask);
                    self.write(&b, deadline);
                }
                self.close_tcp();
            }
        }
    }

    /// Handles what the reader reports until `done` holds or `until` passes.
    fn pump(&mut self, until: Instant, done: impl Fn(&Session) -> bool) {
        loop {
            if done(self) {
                return;
            }
            if self.reader_done {
                // Nothing more can arrive.
                while let Ok(o) = self.rx.try_recv() {
                    self.handle(o, until);
                }
                return;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                while let Ok(o) = self.rx.try_recv() {
                    self.handle(o, until);
                }
                return;
            }
            match self.rx.recv_timeout(left) {
                Ok(o) => self.handle(o, until),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.reader_done = true,
            }
        }
    }

    fn drain(&mut self, deadline: Instant) {
        while let Ok(o) = self.rx.try_recv() {
            self.handle(o, deadline);
        }
    }
}

/// Runs `case` on a connection whose opening handshake is done. `rest` holds bytes already
/// read after the handshake. `role` is the suite's role.
pub fn run_case(
    stream: TcpStream,
    rest: Vec<u8>,
    role: Role,
    case: &Case,
    config: &Config,
    mask_key: [u8; 4],
) -> CaseResult {
    run_case_with(stream, rest, role, case, config, mask_key, None)
}

/// Like [`run_case`] on a connection with permessage-deflate `agreed` (`None`: no extension):
/// the suite compresses [`Step::SendCompressed`] messages with its own parameters and inflates
/// the peer's RSV1 messages.
pub fn run_case_with(
    stream: TcpStream,
    rest: Vec<u8>,
    role: Role,
    case: &Case,
    config: &Config,
    mask_key: [u8; 4],
    agreed: Option<&Agreed>,
) -> CaseResult {
    let started = Instant::now();
    let limit = if case.performance {
        config.performance_timeout
    } else {
        config.case_timeout
    };
    let deadline = started + limit;
    let suite_bits = case.deflate.as_ref().map_or(15, |n| n.suite_window_bits);
    let reader_stream = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => return CaseResult::broken(case, format!("cannot clone the socket: {e}")),
    };
    let _ = reader_stream.set_read_timeout(None);
    let (tx, rx) = mpsc::channel();
    let peer_masks = role == Role::Server;
    let reader = std::thread::Builder::new()
        .name(format!("ws-conformance reader {}", case.id))
        .spawn({
            let inflater = agreed.map(|a| {
                let (bits, no_takeover) = a.receiving(role);
                Decompressor::new(bits, no_takeover)
            });
            move || read_loop(reader_stream, rest, peer_masks, inflater, tx)
        });
    let reader = match reader {
        Ok(r) => r,
        Err(e) => return CaseResult::broken(case, format!("cannot spawn a thread: {e}")),
    };
    let mut s = Session {
        writer: stream,
        rx,
        role,
        mask: (role == Role::Client).then_some(mask_key),
        obs: Observation::default(),
        tcp_closed_by_suite: false,
        reader_done: false,
        deflater: agreed.map(|a| {
            let (bits, no_takeover) = a.sending(role);
            Compressor::new(bits.min(suite_bits), no_takeover)
        }),
    };

    // 1. The script.
    for (i, step) in case.steps.iter().enumerate() {
        s.drain(deadline);
        s.obs.step = i;
        if Instant::now() >= deadline {
            s.obs.notes.push(format!("time limit reached at step {i}"));
            break;
        }
        match step {
            Step::Send { frames, chop } => {
                if !s.peer_gone() {
                    s.send_frames(frames, *chop, deadline);
                }
            }
            Step::SendPart { frame, from, to } => {
                if !s.peer_gone() {
                    let bytes = frame.to_bytes(s.mask);
                    let hl = frame.header_len(s.mask.is_some());
                    let start = if *from == 0 { 0 } else { hl + from };
                    let end = (hl + to).min(bytes.len());
                    s.write(&bytes[start..end], deadline);
                }
            }
            Step::SendCompressed { opcode, data, frag } => {
                if !s.peer_gone() {
                    let (payload, rsv) = match s.deflater.as_mut() {
                        Some(d) => (d.compress(data), 4),
                        None => (data.clone(), 0),
                    };
                    let mut frames = if *frag == 0 {
                        vec![Frame::new(*opcode, payload)]
                    } else {
                        fragments(*opcode, &payload, *frag)
                    };
                    frames[0].rsv = rsv;
                    s.send_frames(&frames, Chop::Whole, deadline);
                }
            }
            Step::Pause(d) => {
                let until = (Instant::now() + *d).min(deadline);
                s.pump(until, Session::peer_gone);
            }
            Step::FailFastPause => {
                let until = (Instant::now() + config.fail_fast_pause).min(deadline);
                s.pump(until, Session::peer_gone);
            }
            Step::Await { events, max } => {
                let until = (Instant::now() + *max).min(deadline);
                let n = *events;
                s.pump(until, move |s| s.obs.events.len() >= n || s.peer_gone());
            }
        }
    }
    s.drain(deadline);
    s.obs.step = case.steps.len();

    // 2. Wait for the expected exchange, or for the peer to fail the connection.
    if case.expect.close.by_suite {
        let n = case.expect.ok.len();
        s.pump(deadline, move |s| s.obs.events.len() >= n || s.peer_gone());
        if !s.peer_gone() && !s.obs.suite_sent_close {
            let b = Frame::close(1000, b"").to_bytes(s.mask);
            s.obs.suite_sent_close = true;
            s.obs.suite_closed_first = Some(true);
            s.write(&b, deadline);
        }
    } else {
        let until = (Instant::now() + config.fail_wait).min(deadline);
        s.pump(until, Session::peer_gone);
        if !s.peer_gone() && !s.obs.suite_sent_close {
            s.obs.notes.push(format!(
                "peer did not fail the connection within {} ms",
                config.fail_wait.as_millis()
            ));
            let b = Frame::close(1000, b"").to_bytes(s.mask);
            s.obs.suite_sent_close = true;
            s.obs.suite_closed_first = Some(true);
            s.write(&b, deadline);
        }
    }

    // 3. The closing handshake: the peer's close frame, then (suite as client) the server's
    //    TCP close.
    let close_deadline = Instant::now() + config.close_wait;
    s.pump(close_deadline, |s| {
        s.obs.aborted || s.obs.eof || (s.obs.peer_close.is_some() && s.tcp_closed_by_suite)
    });
    if s.obs.peer_close.is_some() && !s.obs.eof && role == Role::Client && !s.obs.aborted {
        s.obs
            .notes
            .push("server did not close the TCP connection after the closing handshake".into());
        s.obs.server_kept_tcp = true;
    }
    if s.obs.peer_close.is_none() && !s.obs.eof && !s.obs.aborted {
        s.obs.notes.push("no close frame from the peer".into());
    }
    s.close_tcp();
    let _ = reader.join();
    s.drain(deadline);
    if let Some(a) = agreed {
        s.obs.notes.push(format!(
            "{} of {} messages from the peer were compressed",
            s.obs.compressed,
            s.obs.events.len()
        ));
        if a.sending(role).0 > suite_bits {
            s.obs.notes.push(format!(
                "the suite compressed with window {suite_bits} (allowed {})",
                a.sending(role).0
            ));
        }
    }
    s.obs.elapsed = started.elapsed();
    judge(case, role, s.obs)
}

//! The case table: sections 1-7, 9, 10, 12 and 13 of the reference suite's case list,
//! written from RFC 6455, RFC 7692 and the published case descriptions.
//!
//! A [`Case`] is data: a script of [`Step`]s the suite plays and an [`Expect`]ation it judges
//! against. Nothing here touches a socket, so the table is unit-tested on its own and the
//! same table drives both roles (suite as client against a server under test, suite as
//! server against a client under test).
//!
//! Sections 12-13 (permessage-deflate): a [`Case`] with a [`Case::deflate`] negotiation offers
//! (suite as client) or accepts (suite as server) the extension, and its
//! [`Step::SendCompressed`] messages are deflated by the suite at send time with the
//! parameters agreed; a peer that declines the extension makes the case
//! [`Outcome::Unimplemented`](super::Outcome::Unimplemented).

use std::time::Duration;

use super::deflate::{AcceptPolicy, Negotiation, Offer};
use super::frame::{Frame, OP_BINARY, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT};

/// Short pause between fragments in cases that interleave pings (5.19, 5.20).
const FRAGMENT_PAUSE: Duration = Duration::from_millis(100);
/// Time a peer has to answer a ping that the script waits for.
const AWAIT_REPLY: Duration = Duration::from_secs(2);

/// How the encoded frames of one [`Step::Send`] are cut into writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chop {
    /// All frames in a single write.
    Whole,
    /// One write per frame.
    PerFrame,
    /// Writes of at most this many bytes (1 = octet-wise).
    Bytes(usize),
}

/// One action of a case's script.
#[derive(Clone, Debug)]
pub enum Step {
    /// Send frames (masked when the suite is the client).
    Send {
        /// The frames, in order.
        frames: Vec<Frame>,
        /// How the encoded bytes are cut into writes.
        chop: Chop,
    },
    /// Send part of one frame's encoding: payload bytes `from..to` (the header goes with
    /// the part that starts at 0). Used to stop in the middle of a frame.
    SendPart {
        /// The whole frame.
        frame: Frame,
        /// First payload byte of this part.
        from: usize,
        /// One past the last payload byte of this part.
        to: usize,
    },
    /// Send one message compressed with the agreed permessage-deflate parameters (RSV1 on
    /// the first frame), split into frames of at most `frag` compressed bytes (0 = one frame).
    SendCompressed {
        /// `OP_TEXT` or `OP_BINARY`.
        opcode: u8,
        /// The uncompressed message.
        data: Vec<u8>,
        /// Largest frame payload (0 = no fragmentation).
        frag: usize,
    },
    /// Wait, collecting what the peer sends; ends early if the peer closes.
    Pause(Duration),
    /// Like `Pause`, for [`Config::fail_fast_pause`](super::Config::fail_fast_pause): the pause
    /// between the parts of a "fail fast" case (6.4.x). A strict peer fails the connection
    /// during the pause after the invalid part; the pause ends as soon as it does.
    FailFastPause,
    /// Wait until the peer has sent this many messages and pongs in total (or closes, or
    /// `max` passes).
    Await {
        /// Total number of messages and pongs to wait for.
        events: usize,
        /// Longest wait.
        max: Duration,
    },
}

/// Something the implementation under test sends that a case compares.
#[derive(Clone, PartialEq, Eq)]
pub enum Ev {
    /// A complete text message (raw bytes; checked for UTF-8 on receipt).
    Text(Vec<u8>),
    /// A complete binary message.
    Binary(Vec<u8>),
    /// A pong frame's payload.
    Pong(Vec<u8>),
}

impl core::fmt::Debug for Ev {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (kind, data) = match self {
            Ev::Text(d) => ("text", d),
            Ev::Binary(d) => ("binary", d),
            Ev::Pong(d) => ("pong", d),
        };
        if data.len() <= 24 {
            write!(f, "{kind}({:?})", String::from_utf8_lossy(data))
        } else {
            write!(
                f,
                "{kind}({} bytes, {:?}..)",
                data.len(),
                String::from_utf8_lossy(&data[..16])
            )
        }
    }
}

/// How the connection must end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseExpect {
    /// True when the suite starts the closing handshake (after the exchange, or in the
    /// script); false when the implementation under test must fail the connection itself.
    pub by_suite: bool,
    /// Close codes the peer may send (a close frame without a code is always accepted).
    pub codes: Vec<u16>,
    /// Whether the close must be clean (close frames both ways, then TCP closed by the
    /// server). When false the peer may also just drop the TCP connection.
    pub require_clean: bool,
}

impl CloseExpect {
    /// The suite closes with 1000; the peer answers 1000 (or no code), cleanly.
    pub fn normal() -> Self {
        CloseExpect {
            by_suite: true,
            codes: vec![1000],
            require_clean: true,
        }
    }
    /// The peer must fail the connection with one of `codes` or by dropping TCP.
    pub fn peer_fails(codes: &[u16]) -> Self {
        CloseExpect {
            by_suite: false,
            codes: codes.to_vec(),
            require_clean: false,
        }
    }
}

/// What a case expects from the implementation under test.
#[derive(Clone, Debug)]
pub struct Expect {
    /// The messages and pongs, in order, for an OK.
    pub ok: Vec<Ev>,
    /// Other sequences the reference accepts as NON-STRICT.
    pub non_strict: Vec<Vec<Ev>>,
    /// For "fail fast" cases: the peer must fail the connection before the script reaches
    /// this step (index into the steps). Failing later is NON-STRICT.
    pub fail_before_step: Option<usize>,
    /// How the connection must end.
    pub close: CloseExpect,
    /// The spec leaves the behaviour open: the result is recorded, never judged.
    pub informational: bool,
}

impl Expect {
    /// Echo/pong exchange, then a normal close started by the suite.
    pub fn echo(ok: Vec<Ev>) -> Self {
        Expect {
            ok,
            non_strict: Vec::new(),
            fail_before_step: None,
            close: CloseExpect::normal(),
            informational: false,
        }
    }
    /// The peer must fail the connection (after sending `ok`) with one of `codes`.
    pub fn fail(ok: Vec<Ev>, codes: &[u16]) -> Self {
        Expect {
            close: CloseExpect::peer_fails(codes),
            ..Expect::echo(ok)
        }
    }
    /// One line for the case list: what comes back and how the connection must end.
    pub fn summary(&self) -> String {
        fn events(evs: &[Ev]) -> String {
            if evs.is_empty() {
                return "nothing back".into();
            }
            let mut parts: Vec<(String, usize)> = Vec::new();
            for e in evs {
                let k = match e {
                    Ev::Text(_) => "text",
                    Ev::Binary(_) => "binary",
                    Ev::Pong(_) => "pong",
                };
                match parts.last_mut() {
                    Some((last, n)) if last == k => *n += 1,
                    _ => parts.push((k.to_string(), 1)),
                }
            }
            let list: Vec<String> = parts
                .into_iter()
                .map(|(k, n)| if n == 1 { k } else { format!("{n} x {k}") })
                .collect();
            format!("back: {}", list.join(", "))
        }
        let codes: Vec<String> = self.close.codes.iter().map(u16::to_string).collect();
        let codes = codes.join("/");
        let close = match (self.close.by_suite, self.close.require_clean) {
            (true, true) => format!("suite closes, clean close {codes}"),
            (true, false) => format!("suite closes, peer answers {codes} or drops TCP"),
            (false, _) => format!("peer fails the connection: {codes} or TCP drop"),
        };
        let mut s = format!("{}; {close}", events(&self.ok));
        if self.fail_before_step.is_some() {
            s.push_str(", before the last part (fail fast; later = NON-STRICT)");
        }
        for alt in &self.non_strict {
            s.push_str(&format!("; NON-STRICT if {}", events(alt)));
        }
        if self.informational {
            s = format!("INFORMATIONAL (recorded, not judged): {s}");
        }
        s
    }
    /// Adds an alternative judged NON-STRICT.
    pub fn or_non_strict(mut self, alt: Vec<Ev>) -> Self {
        self.non_strict.push(alt);
        self
    }
}

/// One test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The reference suite's case number, e.g. `"6.4.3"`.
    pub id: String,
    /// What the suite does.
    pub description: String,
    /// The script.
    pub steps: Vec<Step>,
    /// How the result is judged.
    pub expect: Expect,
    /// Section 9, 12 and 13: reports its time; gets the longer time limit.
    pub performance: bool,
    /// Sections 12-13: the permessage-deflate negotiation (`None`: no extension).
    pub deflate: Option<Negotiation>,
}

impl Case {
    /// The section number (`"6"` for `"6.4.3"`).
    pub fn section(&self) -> &str {
        self.id.split('.').next().unwrap_or("")
    }
}

/// An entry of the case table: the id and description are known up front; the script and
/// expectation are built only when the case runs (section 9 payloads reach 16 MiB).
#[derive(Clone)]
pub struct CaseEntry {
    /// The case number, e.g. `"9.1.6"`.
    pub id: String,
    /// What the suite does.
    pub description: String,
    /// Section 9 (limits and performance).
    pub performance: bool,
    /// What the case expects, in one line ([`Expect::summary`]).
    pub expectation: String,
    make: std::sync::Arc<dyn Fn() -> Case + Send + Sync>,
}

impl CaseEntry {
    fn eager(c: Case) -> CaseEntry {
        let c = std::sync::Arc::new(c);
        CaseEntry {
            id: c.id.clone(),
            description: c.description.clone(),
            performance: c.performance,
            expectation: c.expect.summary(),
            make: std::sync::Arc::new(move || (*c).clone()),
        }
    }
    fn lazy(
        id: String,
        description: String,
        make: impl Fn() -> Case + Send + Sync + 'static,
    ) -> CaseEntry {
        CaseEntry {
            id,
            description,
            performance: true,
            expectation: "echo of every message (timed); suite closes, clean close 1000".into(),
            make: std::sync::Arc::new(make),
        }
    }
    fn lazy_compression(
        id: String,
        description: String,
        make: impl Fn() -> Case + Send + Sync + 'static,
    ) -> CaseEntry {
        CaseEntry {
            expectation: "echo of every message, inflated when compressed (timed); suite \
                          closes, clean close 1000; UNIMPLEMENTED if the extension is declined"
                .into(),
            ..CaseEntry::lazy(id, description, make)
        }
    }
    /// Builds the case (its script and expectation).
    pub fn build(&self) -> Case {
        (self.make)()
    }
    /// The section number (`"6"` for `"6.4.3"`).
    pub fn section(&self) -> &str {
        self.id.split('.').next().unwrap_or("")
    }
}

impl core::fmt::Debug for CaseEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CaseEntry({} {:?})", self.id, self.description)
    }
}

fn case(id: &str, description: impl Into<String>, steps: Vec<Step>, expect: Expect) -> Case {
    Case {
        id: id.to_string(),
        description: description.into(),
        steps,
        expect,
        performance: false,
        deflate: None,
    }
}

fn send(frames: Vec<Frame>) -> Step {
    Step::Send {
        frames,
        chop: Chop::Whole,
    }
}

fn send_chopped(frames: Vec<Frame>, chop: Chop) -> Step {
    Step::Send { frames, chop }
}

fn text(s: impl AsRef<[u8]>) -> Ev {
    Ev::Text(s.as_ref().to_vec())
}

fn pong(s: impl AsRef<[u8]>) -> Ev {
    Ev::Pong(s.as_ref().to_vec())
}

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap_or("zz"), 16).unwrap_or(0))
        .collect()
}

fn repeat(pattern: &[u8], len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + pattern.len());
    while v.len() < len {
        v.extend_from_slice(pattern);
    }
    v.truncate(len);
    v
}

/// `data` split into a fragmented message of `frag`-byte frames (for a compressed payload, the
/// caller sets RSV1 on the first).
pub(crate) fn fragments(opcode: u8, data: &[u8], frag: usize) -> Vec<Frame> {
    let parts: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(frag.max(1)).collect()
    };
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let op = if i == 0 { opcode } else { OP_CONTINUATION };
            Frame::new(op, p.to_vec()).fin(i == last)
        })
        .collect()
}

/// The whole table, in the reference suite's order.
pub fn all_cases() -> Vec<CaseEntry> {
    let mut v: Vec<CaseEntry> = Vec::new();
    for section in [
        section1(),
        section2(),
        section3(),
        section4(),
        section5(),
        section6(),
        section7(),
    ] {
        v.extend(section.into_iter().map(CaseEntry::eager));
    }
    v.extend(section9());
    v.extend(section10().into_iter().map(CaseEntry::eager));
    v.extend(section12());
    v.extend(section13());
    v
}

/// 1: framing: text and binary messages around the length-encoding boundaries.
fn section1() -> Vec<Case> {
    let mut v = Vec::new();
    let lens = [0usize, 125, 126, 127, 128, 65535, 65536];
    for (sub, kind, byte, op) in [(1, "text", b'*', OP_TEXT), (2, "binary", 0xFE, OP_BINARY)] {
        let ev = |d: Vec<u8>| {
            if op == OP_TEXT {
                Ev::Text(d)
            } else {
                Ev::Binary(d)
            }
        };
        for (i, n) in lens.iter().enumerate() {
            let d = vec![byte; *n];
            v.push(case(
                &format!("1.{sub}.{}", i + 1),
                format!("Send {kind} message with payload of length {n}."),
                vec![send(vec![Frame::new(op, d.clone())])],
                Expect::echo(vec![ev(d)]),
            ));
        }
        let d = vec![byte; 65536];
        v.push(case(
            &format!("1.{sub}.8"),
            format!("Send {kind} message with payload of length 65536, in chops of 997 octets."),
            vec![send_chopped(
                vec![Frame::new(op, d.clone())],
                Chop::Bytes(997),
            )],
            Expect::echo(vec![ev(d)]),
        ));
    }
    v
}

/// 2: pings and pongs.
fn section2() -> Vec<Case> {
    let bin = [0x00u8, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF];
    let mut v = vec![
        case(
            "2.1",
            "Send ping without payload.",
            vec![send(vec![Frame::ping(vec![])])],
            Expect::echo(vec![pong("")]),
        ),
        case(
            "2.2",
            "Send ping with small text payload.",
            vec![send(vec![Frame::ping("Hello, world!")])],
            Expect::echo(vec![pong("Hello, world!")]),
        ),
        case(
            "2.3",
            "Send ping with small binary (non UTF-8) payload.",
            vec![send(vec![Frame::ping(bin.to_vec())])],
            Expect::echo(vec![pong(bin)]),
        ),
        case(
            "2.4",
            "Send ping with binary payload of 125 octets.",
            vec![send(vec![Frame::ping(vec![0xFE; 125])])],
            Expect::echo(vec![pong([0xFE; 125])]),
        ),
        case(
            "2.5",
            "Send ping with binary payload of 126 octets (control frames are limited to 125).",
            vec![send(vec![Frame::ping(vec![0xFE; 126])])],
            Expect::fail(vec![], &[1002]),
        ),
        case(
            "2.6",
            "Send ping with binary payload of 125 octets, in octet-wise chops.",
            vec![send_chopped(
                vec![Frame::ping(vec![0xFE; 125])],
                Chop::Bytes(1),
            )],
            Expect::echo(vec![pong([0xFE; 125])]),
        ),
        case(
            "2.7",
            "Send unsolicited pong without payload: nothing comes back.",
            vec![send(vec![Frame::pong(vec![])])],
            Expect::echo(vec![]),
        ),
        case(
            "2.8",
            "Send unsolicited pong with payload: nothing comes back.",
            vec![send(vec![Frame::pong("unsolicited pong payload")])],
            Expect::echo(vec![]),
        ),
        case(
            "2.9",
            "Send unsolicited pong with payload, then ping: only the ping is answered.",
            vec![send(vec![
                Frame::pong("unsolicited pong payload"),
                Frame::ping("ping payload"),
            ])],
            Expect::echo(vec![pong("ping payload")]),
        ),
    ];
    for (id, chop, how) in [
        ("2.10", Chop::PerFrame, ""),
        ("2.11", Chop::Bytes(1), ", in octet-wise chops"),
    ] {
        let pings: Vec<Frame> = (0..10)
            .map(|i| Frame::ping(format!("payload-{i}")))
            .collect();
        let pongs: Vec<Ev> = (0..10).map(|i| pong(format!("payload-{i}"))).collect();
        v.push(case(
            id,
            format!(
                "Send 10 pings with payload{how}: 10 pongs (answering only the last \
                 is allowed by the RFC and judged NON-STRICT)."
            ),
            vec![send_chopped(pings, chop)],
            Expect::echo(pongs).or_non_strict(vec![pong("payload-9")]),
        ));
    }
    v
}

/// 3: reserved bits.
fn section3() -> Vec<Case> {
    let hello = "Hello, world!";
    let mut v = vec![case(
        "3.1",
        "Send small text message with RSV = 1.",
        vec![send(vec![Frame::text(hello).rsv(1)])],
        Expect::fail(vec![], &[1002]),
    )];
    for (id, rsv, chop, how) in [
        ("3.2", 2, Chop::Whole, "in one chop"),
        ("3.3", 3, Chop::PerFrame, "in frame-wise chops"),
        ("3.4", 4, Chop::Bytes(1), "in octet-wise chops"),
    ] {
        v.push(case(
            id,
            format!(
                "Send small text message, then another with RSV = {rsv}, then ping, {how}: \
                 the first is echoed, then the connection is failed."
            ),
            vec![send_chopped(
                vec![
                    Frame::text(hello),
                    Frame::text(hello).rsv(rsv),
                    Frame::ping(hello),
                ],
                chop,
            )],
            Expect::fail(vec![text(hello)], &[1002]).or_non_strict(vec![]),
        ));
    }
    v.push(case(
        "3.5",
        "Send small binary message with RSV = 5.",
        vec![send(vec![Frame::binary(vec![
            0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF,
        ])
        .rsv(5)])],
        Expect::fail(vec![], &[1002]),
    ));
    v.push(case(
        "3.6",
        "Send ping with payload and RSV = 6.",
        vec![send(vec![Frame::ping(hello).rsv(6)])],
        Expect::fail(vec![], &[1002]),
    ));
    v.push(case(
        "3.7",
        "Send close with RSV = 7.",
        vec![send(vec![Frame::close(1000, b"").rsv(7)])],
        Expect::fail(vec![], &[1002]),
    ));
    v
}

/// 4: reserved opcodes (4.1: non-control 3-7; 4.2: control 11-15).
fn section4() -> Vec<Case> {
    let mut v = Vec::new();
    for (sub, base, kind) in [(1, 3u8, "non-control"), (2, 11u8, "control")] {
        for i in 0..5u8 {
            let op = base + i;
            let id = format!("4.{sub}.{}", i + 1);
            let payload: Vec<u8> = if i % 2 == 1 {
                b"reserved opcode payload".to_vec()
            } else {
                Vec::new()
            };
            let with = if payload.is_empty() {
                "empty"
            } else {
                "non-empty"
            };
            if i < 2 {
                v.push(case(
                    &id,
                    format!("Send frame with reserved {kind} opcode {op} and {with} payload."),
                    vec![send(vec![Frame::new(op, payload)])],
                    Expect::fail(vec![], &[1002]),
                ));
            } else {
                v.push(case(
                    &id,
                    format!(
                        "Send small text message, then frame with reserved {kind} opcode \
                         {op} and {with} payload, then ping: the text is echoed, then \
                         the connection is failed."
                    ),
                    vec![send(vec![
                        Frame::text("Hello, world!"),
                        Frame::new(op, payload),
                        Frame::ping("Hello, world!"),
                    ])],
                    Expect::fail(vec![text("Hello, world!")], &[1002]).or_non_strict(vec![]),
                ));
            }
        }
    }
    v
}

/// 5: fragmentation.
fn section5() -> Vec<Case> {
    let f = |op: u8, s: &str, fin: bool| Frame::new(op, s.as_bytes().to_vec()).fin(fin);
    let chops = [
        (Chop::Whole, "in one chop"),
        (Chop::PerFrame, "in frame-wise chops"),
        (Chop::Bytes(1), "in octet-wise chops"),
    ];
    let mut v = vec![
        case(
            "5.1",
            "Send ping fragmented into 2 fragments (control frames must not be fragmented).",
            vec![send(vec![
                f(OP_PING, "fragment1", false),
                f(OP_CONTINUATION, "fragment2", true),
            ])],
            Expect::fail(vec![], &[1002]),
        ),
        case(
            "5.2",
            "Send pong fragmented into 2 fragments.",
            vec![send(vec![
                f(OP_PONG, "fragment1", false),
                f(OP_CONTINUATION, "fragment2", true),
            ])],
            Expect::fail(vec![], &[1002]),
        ),
    ];
    for (i, (chop, how)) in chops.iter().enumerate() {
        v.push(case(
            &format!("5.{}", 3 + i),
            format!("Send text message fragmented into 2 fragments, {how}."),
            vec![send_chopped(
                vec![
                    f(OP_TEXT, "fragment1", false),
                    f(OP_CONTINUATION, "fragment2", true),
                ],
                *chop,
            )],
            Expect::echo(vec![text("fragment1fragment2")]),
        ));
    }
    for (i, (chop, how)) in chops.iter().enumerate() {
        v.push(case(
            &format!("5.{}", 6 + i),
            format!("Send text message in 2 fragments with a ping in between, {how}."),
            vec![send_chopped(
                vec![
                    f(OP_TEXT, "fragment1", false),
                    Frame::ping("ping payload"),
                    f(OP_CONTINUATION, "fragment2", true),
                ],
                *chop,
            )],
            Expect::echo(vec![pong("ping payload"), text("fragment1fragment2")]),
        ));
    }
    for (base, fin) in [(9, true), (12, false)] {
        for (i, (chop, how)) in chops.iter().enumerate() {
            v.push(case(
                &format!("5.{}", base + i),
                format!(
                    "Send continuation frame with FIN = {fin} when no message is in \
                     progress, then a text message, {how}."
                ),
                vec![send_chopped(
                    vec![
                        f(OP_CONTINUATION, "non-continuation payload", fin),
                        Frame::text("Hello, world!"),
                    ],
                    *chop,
                )],
                Expect::fail(vec![], &[1002]),
            ));
        }
    }
    v.push(case(
        "5.15",
        "Send text message in 2 fragments, then continuation frame with FIN = false when \
         no message is in progress, then a text message, in one chop.",
        vec![send(vec![
            f(OP_TEXT, "fragment1", false),
            f(OP_CONTINUATION, "fragment2", true),
            f(OP_CONTINUATION, "fragment3", false),
            f(OP_TEXT, "fragment4", true),
        ])],
        Expect::fail(vec![text("fragment1fragment2")], &[1002]).or_non_strict(vec![]),
    ));
    for (id, fin) in [("5.16", false), ("5.17", true)] {
        let once = vec![
            f(OP_CONTINUATION, "fragment1", fin),
            f(OP_TEXT, "fragment2", false),
            f(OP_CONTINUATION, "fragment3", true),
        ];
        let mut frames = once.clone();
        frames.extend(once);
        v.push(case(
            id,
            format!(
                "Twice: continuation frame with FIN = {fin} when no message is in progress, \
                 then a text message in 2 fragments."
            ),
            vec![send(frames)],
            Expect::fail(vec![], &[1002]),
        ));
    }
    v.push(case(
        "5.18",
        "Send text message in 2 fragments, both with the text opcode.",
        vec![send(vec![
            f(OP_TEXT, "fragment1", false),
            f(OP_TEXT, "fragment2", true),
        ])],
        Expect::fail(vec![], &[1002]),
    ));
    for (id, chop, how) in [
        ("5.19", Chop::PerFrame, ""),
        ("5.20", Chop::Bytes(1), ", each frame in octet-wise chops"),
    ] {
        let s = |fr: Frame| send_chopped(vec![fr], chop);
        v.push(case(
            id,
            format!(
                "Send text message in 5 fragments with pauses, and 2 pings between them{how}: \
                 each ping is answered while the message is still incomplete."
            ),
            vec![
                s(f(OP_TEXT, "fragment1", false)),
                Step::Pause(FRAGMENT_PAUSE),
                s(f(OP_CONTINUATION, "fragment2", false)),
                Step::Pause(FRAGMENT_PAUSE),
                s(Frame::ping("pongme 1!")),
                Step::Await {
                    events: 1,
                    max: AWAIT_REPLY,
                },
                s(f(OP_CONTINUATION, "fragment3", false)),
                Step::Pause(FRAGMENT_PAUSE),
                s(f(OP_CONTINUATION, "fragment4", false)),
                Step::Pause(FRAGMENT_PAUSE),
                s(Frame::ping("pongme 2!")),
                Step::Await {
                    events: 2,
                    max: AWAIT_REPLY,
                },
                s(f(OP_CONTINUATION, "fragment5", true)),
            ],
            Expect::echo(vec![
                pong("pongme 1!"),
                pong("pongme 2!"),
                text("fragment1fragment2fragment3fragment4fragment5"),
            ]),
        ));
    }
    v
}

/// A text message with `payload` in one frame: echoed if valid UTF-8, else the connection
/// must be failed with 1007.
fn utf8_case(id: &str, what: &str, payload: Vec<u8>) -> Case {
    let valid = core::str::from_utf8(&payload).is_ok();
    let hexed: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    let desc = format!(
        "Send text message with {} UTF-8 payload ({what}): 0x{hexed}",
        if valid { "valid" } else { "invalid" }
    );
    let expect = if valid {
        Expect::echo(vec![Ev::Text(payload.clone())])
    } else {
        Expect::fail(vec![], &[1007])
    };
    case(id, desc, vec![send(vec![Frame::text(payload)])], expect)
}

/// 6: UTF-8 handling.
fn section6() -> Vec<Case> {
    let f = |op: u8, s: &[u8], fin: bool| Frame::new(op, s.to_vec()).fin(fin);
    let hello = "Hello-\u{b5}@\u{df}\u{f6}\u{e4}\u{fc}\u{e0}\u{e1}-UTF-8!!".as_bytes();
    let kosme = hex("cebae1bdb9cf83cebcceb5");
    let bad = hex("cebae1bdb9cf83cebcceb5eda080656469746564");
    let one_octet = |op: u8, data: &[u8]| fragments(op, data, 1);
    let mut v = vec![
        case(
            "6.1.1",
            "Send text message with empty payload.",
            vec![send(vec![Frame::text("")])],
            Expect::echo(vec![text("")]),
        ),
        case(
            "6.1.2",
            "Send text message in 3 fragments, each with empty payload.",
            vec![send(vec![
                f(OP_TEXT, b"", false),
                f(OP_CONTINUATION, b"", false),
                f(OP_CONTINUATION, b"", true),
            ])],
            Expect::echo(vec![text("")]),
        ),
        case(
            "6.1.3",
            "Send text message in 3 fragments, first and last with empty payload.",
            vec![send(vec![
                f(OP_TEXT, b"", false),
                f(OP_CONTINUATION, b"middle frame payload", false),
                f(OP_CONTINUATION, b"", true),
            ])],
            Expect::echo(vec![text("middle frame payload")]),
        ),
        case(
            "6.2.1",
            "Send valid UTF-8 text message in one fragment.",
            vec![send(vec![Frame::text(hello)])],
            Expect::echo(vec![text(hello)]),
        ),
        case(
            "6.2.2",
            "Send valid UTF-8 text message in 2 fragments, split on a code point boundary.",
            vec![send(vec![
                f(OP_TEXT, &hello[..13], false),
                f(OP_CONTINUATION, &hello[13..], true),
            ])],
            Expect::echo(vec![text(hello)]),
        ),
        case(
            "6.2.3",
            "Send valid UTF-8 text message in fragments of 1 octet (split inside code points).",
            vec![send(one_octet(OP_TEXT, hello))],
            Expect::echo(vec![text(hello)]),
        ),
        case(
            "6.2.4",
            "Send valid UTF-8 text message (0xcebae1bdb9cf83cebcceb5) in fragments of 1 octet.",
            vec![send(one_octet(OP_TEXT, &kosme))],
            Expect::echo(vec![text(&kosme)]),
        ),
        case(
            "6.3.1",
            "Send invalid UTF-8 text message in one fragment (a surrogate inside).",
            vec![send(vec![Frame::text(bad.clone())])],
            Expect::fail(vec![], &[1007]),
        ),
        case(
            "6.3.2",
            "Send invalid UTF-8 text message in fragments of 1 octet.",
            vec![send(one_octet(OP_TEXT, &bad))],
            Expect::fail(vec![], &[1007]),
        ),
    ];
    // 6.4: fail fast. The sequence becomes invalid in part 2; a strict peer fails the
    // connection before part 3 is sent (step 4).
    let parts_a = [
        hex("cebae1bdb9cf83cebcceb5"),
        hex("f4908080"),
        hex("656469746564"),
    ];
    let parts_b = [
        hex("cebae1bdb9cf83cebcceb5f4"),
        hex("90"),
        hex("8080656469746564"),
    ];
    for (id, parts) in [("6.4.1", &parts_a), ("6.4.2", &parts_b)] {
        let mut e = Expect::fail(vec![], &[1007]);
        e.fail_before_step = Some(4);
        v.push(case(
            id,
            format!(
                "Send invalid UTF-8 text message in 3 frames (0x{} | 0x{} | 0x{}) with \
                 pauses: the connection must be failed on the 2nd frame, before the 3rd.",
                hexs(&parts[0]),
                hexs(&parts[1]),
                hexs(&parts[2])
            ),
            vec![
                send(vec![f(OP_TEXT, &parts[0], false)]),
                Step::FailFastPause,
                send(vec![f(OP_CONTINUATION, &parts[1], false)]),
                Step::FailFastPause,
                send(vec![f(OP_CONTINUATION, &parts[2], true)]),
            ],
            e,
        ));
    }
    for (id, parts) in [("6.4.3", &parts_a), ("6.4.4", &parts_b)] {
        let whole: Vec<u8> = parts.concat();
        let frame = Frame::text(whole);
        let (a, b) = (parts[0].len(), parts[0].len() + parts[1].len());
        let mut e = Expect::fail(vec![], &[1007]);
        e.fail_before_step = Some(4);
        v.push(case(
            id,
            format!(
                "Send invalid UTF-8 text message in one frame, written in 3 chops \
                 (0x{} | 0x{} | 0x{}) with pauses: the connection must be failed on the \
                 2nd chop, inside the frame.",
                hexs(&parts[0]),
                hexs(&parts[1]),
                hexs(&parts[2])
            ),
            vec![
                Step::SendPart {
                    frame: frame.clone(),
                    from: 0,
                    to: a,
                },
                Step::FailFastPause,
                Step::SendPart {
                    frame: frame.clone(),
                    from: a,
                    to: b,
                },
                Step::FailFastPause,
                Step::SendPart {
                    to: frame.payload.len(),
                    frame,
                    from: b,
                },
            ],
            e,
        ));
    }
    for (sub, what, seqs) in utf8_sequences() {
        for (i, p) in seqs.into_iter().enumerate() {
            v.push(utf8_case(&format!("6.{sub}.{}", i + 1), what, p));
        }
    }
    v
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn utf8_sequences() -> Vec<(u32, &'static str, Vec<Vec<u8>>)> {
    let h = |list: &[&str]| list.iter().map(|s| hex(s)).collect::<Vec<_>>();
    let kosme = hex("cebae1bdb9cf83cebcceb5");
    let followed_by_space =
        |r: core::ops::RangeInclusive<u8>| -> Vec<u8> { r.flat_map(|b| [b, 0x20]).collect() };
    let missing_last = h(&[
        "c0",
        "e080",
        "f08080",
        "f8808080",
        "fc80808080",
        "df",
        "efbf",
        "f7bfbf",
        "fbbfbfbf",
        "fdbfbfbfbf",
    ]);
    let enc = |c: u32| -> Vec<u8> {
        let mut b = [0u8; 4];
        char::from_u32(c)
            .map(|c| c.encode_utf8(&mut b).as_bytes().to_vec())
            .unwrap_or_default()
    };
    let mut noncharacters = vec![enc(0xFFFE), enc(0xFFFF)];
    for plane in 1..=16u32 {
        noncharacters.push(enc((plane << 16) | 0xFFFE));
        noncharacters.push(enc((plane << 16) | 0xFFFF));
    }
    vec![
        (
            5,
            "some valid sequences",
            h(&[
                "cebae1bdb9cf83cebcceb5",
                "48656c6c6f",
                "c3b6",
                "e282ac",
                "f09f9880",
            ]),
        ),
        (
            6,
            "a prefix of a valid multi-byte string",
            (1..=kosme.len()).map(|n| kosme[..n].to_vec()).collect(),
        ),
        (
            7,
            "first possible sequence of a length",
            h(&["00", "c280", "e0a080", "f0908080"]),
        ),
        (
            8,
            "first possible 5- and 6-byte sequences",
            h(&["f888808080", "fc8480808080"]),
        ),
        (
            9,
            "last possible sequence of a length",
            h(&["7f", "dfbf", "efbfbf", "f48fbfbf"]),
        ),
        (
            10,
            "last possible 4- to 6-byte patterns",
            h(&["f7bfbfbf", "fbbfbfbfbf", "fdbfbfbfbfbf"]),
        ),
        (
            11,
            "other boundary conditions",
            h(&["ed9fbf", "ee8080", "efbfbd", "f48fbfbf", "f4908080"]),
        ),
        (12, "unexpected continuation bytes", {
            let mut l = h(&[
                "80",
                "bf",
                "80bf",
                "80bf80",
                "80bf80bf",
                "80bf80bf80",
                "80bf80bf80bf",
            ]);
            l.push((0x80..=0xBF).collect());
            l
        }),
        (
            13,
            "lonely start bytes, each followed by a space",
            vec![
                followed_by_space(0xC0..=0xDF),
                followed_by_space(0xE0..=0xEF),
                followed_by_space(0xF0..=0xF7),
                followed_by_space(0xF8..=0xFB),
                followed_by_space(0xFC..=0xFD),
            ],
        ),
        (
            14,
            "sequence with its last continuation byte missing",
            missing_last.clone(),
        ),
        (
            15,
            "concatenated incomplete sequences",
            vec![missing_last.concat()],
        ),
        (16, "impossible bytes", h(&["fe", "ff", "fefeffff"])),
        (
            17,
            "overlong ASCII '/'",
            h(&["c0af", "e080af", "f08080af", "f8808080af", "fc80808080af"]),
        ),
        (
            18,
            "maximum overlong sequences",
            h(&["c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf"]),
        ),
        (
            19,
            "overlong NUL",
            h(&["c080", "e08080", "f0808080", "f880808080", "fc8080808080"]),
        ),
        (
            20,
            "single UTF-16 surrogate",
            h(&[
                "eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf",
            ]),
        ),
        (
            21,
            "paired UTF-16 surrogates",
            h(&[
                "eda080edb080",
                "eda080edbfbf",
                "edadbfedb080",
                "edadbfedbfbf",
                "edae80edb080",
                "edae80edbfbf",
                "edafbfedb080",
                "edafbfedbfbf",
            ]),
        ),
        (22, "noncharacter code point (valid)", noncharacters),
        (
            23,
            "Unicode specials U+FFF9-U+FFFF (valid)",
            (0xFFF9..=0xFFFF).map(enc).collect(),
        ),
    ]
}

/// 7: close handling.
fn section7() -> Vec<Case> {
    let hw = "Hello World!";
    let mut v = vec![
        case(
            "7.1.1",
            "Send a message, then a close frame: the echo, then a clean close.",
            vec![send(vec![Frame::text(hw), Frame::close(1000, b"")])],
            Expect::echo(vec![text(hw)]),
        ),
        case(
            "7.1.2",
            "Send two close frames: the second is ignored.",
            vec![send(vec![Frame::close(1000, b""), Frame::close(1000, b"")])],
            Expect::echo(vec![]),
        ),
        case(
            "7.1.3",
            "Send a ping after the close frame: no pong.",
            vec![send(vec![Frame::close(1000, b""), Frame::ping(hw)])],
            Expect::echo(vec![]),
        ),
        case(
            "7.1.4",
            "Send a text message after the close frame: no echo.",
            vec![send(vec![Frame::close(1000, b""), Frame::text(hw)])],
            Expect::echo(vec![]),
        ),
        case(
            "7.1.5",
            "Send first fragment, close frame, then last fragment: no echo.",
            vec![send(vec![
                Frame::text("fragment1").fin(false),
                Frame::close(1000, b""),
                Frame::continuation("fragment2"),
            ])],
            Expect::echo(vec![]),
        ),
    ];
    let big = repeat(b"BAsd7&jh23", 256 * 1024);
    let mut e = Expect::echo(vec![Ev::Text(big.clone())]);
    e.informational = true;
    v.push(case(
        "7.1.6",
        "Send a 256 KiB message, then close, then ping back to back (whether the echo comes \
         before the close is implementation-defined).",
        vec![send(vec![
            Frame::text(big),
            Frame::close(1000, b""),
            Frame::ping(hw),
        ])],
        e,
    ));
    let fail_on_close = |codes: &[u16]| Expect {
        close: CloseExpect {
            by_suite: true,
            codes: codes.to_vec(),
            require_clean: false,
        },
        ..Expect::echo(vec![])
    };
    let normal_close = |codes: &[u16]| Expect {
        close: CloseExpect {
            by_suite: true,
            codes: codes.to_vec(),
            require_clean: true,
        },
        ..Expect::echo(vec![])
    };
    let star = |n: usize| vec![b'*'; n];
    v.extend([
        case(
            "7.3.1",
            "Send close frame with payload length 0 (no code).",
            vec![send(vec![Frame::close_empty()])],
            normal_close(&[1000]),
        ),
        case(
            "7.3.2",
            "Send close frame with payload length 1.",
            vec![send(vec![Frame::new(0x8, vec![b'*'])])],
            fail_on_close(&[1002]),
        ),
        case(
            "7.3.3",
            "Send close frame with payload length 2 (code 1000).",
            vec![send(vec![Frame::close(1000, b"")])],
            normal_close(&[1000]),
        ),
        case(
            "7.3.4",
            "Send close frame with code and reason.",
            vec![send(vec![Frame::close(1000, hw.as_bytes())])],
            normal_close(&[1000]),
        ),
        case(
            "7.3.5",
            "Send close frame with code and a reason of maximum length (123).",
            vec![send(vec![Frame::close(1000, &star(123))])],
            normal_close(&[1000]),
        ),
        case(
            "7.3.6",
            "Send close frame with code and a reason that is too long (124: payload 126).",
            vec![send(vec![Frame::close(1000, &star(124))])],
            fail_on_close(&[1002]),
        ),
        case(
            "7.5.1",
            "Send close frame with a reason that is not valid UTF-8.",
            vec![send(vec![Frame::close(
                1000,
                &hex("cebae1bdb9cf83cebcceb5eda080656469746564"),
            )])],
            fail_on_close(&[1002, 1007]),
        ),
    ]);
    let valid = [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ];
    for (i, c) in valid.iter().enumerate() {
        let mut codes = vec![1000, *c];
        codes.dedup();
        v.push(case(
            &format!("7.7.{}", i + 1),
            format!("Send close with valid close code {c}."),
            vec![send(vec![Frame::close(*c, b"")])],
            normal_close(&codes),
        ));
    }
    let invalid = [0u16, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];
    for (i, c) in invalid.iter().enumerate() {
        v.push(case(
            &format!("7.9.{}", i + 1),
            format!("Send close with invalid close code {c}."),
            vec![send(vec![Frame::close(*c, b"")])],
            fail_on_close(&[1002]),
        ));
    }
    for (i, c) in [5000u16, 65535].iter().enumerate() {
        let mut e = fail_on_close(&[1000, 1002, *c]);
        e.informational = true;
        v.push(case(
            &format!("7.13.{}", i + 1),
            format!("Send close with close code {c} (outside the defined ranges)."),
            vec![send(vec![Frame::close(*c, b"")])],
            e,
        ));
    }
    v
}

/// 9: limits and performance (built lazily: payloads reach 16 MiB).
fn section9() -> Vec<CaseEntry> {
    const TEXT: &[u8] = b"BAsd7&jh23";
    const BIN: &[u8] = &[0x00, 0xFE, 0x23, 0xFA, 0xF0];
    let kib = 1024usize;
    let mib = 1024 * kib;
    let size_name = |n: usize| {
        if n >= mib {
            format!("{} MiB", n / mib)
        } else if n >= kib {
            format!("{} KiB", n / kib)
        } else {
            format!("{n} bytes")
        }
    };
    fn ev(op: u8, d: Vec<u8>) -> Ev {
        if op == OP_TEXT {
            Ev::Text(d)
        } else {
            Ev::Binary(d)
        }
    }
    fn perf(id: String, desc: String, steps: Vec<Step>, expect: Expect) -> Case {
        Case {
            id,
            description: desc,
            steps,
            expect,
            performance: true,
            deflate: None,
        }
    }
    let mut v = Vec::new();
    let kinds: [(u8, &str, &'static [u8]); 2] =
        [(OP_TEXT, "text", TEXT), (OP_BINARY, "binary", BIN)];
    for (k, (op, kind, pat)) in kinds.iter().copied().enumerate() {
        for (i, n) in [64 * kib, 256 * kib, mib, 4 * mib, 8 * mib, 16 * mib]
            .into_iter()
            .enumerate()
        {
            let id = format!("9.{}.{}", 1 + k, i + 1);
            let desc = format!("Send {kind} message of {} in one frame.", size_name(n));
            v.push(CaseEntry::lazy(id.clone(), desc.clone(), move || {
                let d = repeat(pat, n);
                perf(
                    id.clone(),
                    desc.clone(),
                    vec![send(vec![Frame::new(op, d.clone())])],
                    Expect::echo(vec![ev(op, d)]),
                )
            }));
        }
    }
    for (k, (op, kind, pat)) in kinds.iter().copied().enumerate() {
        for (i, frag) in [
            64,
            256,
            kib,
            4 * kib,
            16 * kib,
            64 * kib,
            256 * kib,
            mib,
            4 * mib,
        ]
        .into_iter()
        .enumerate()
        {
            let id = format!("9.{}.{}", 3 + k, i + 1);
            let desc = format!(
                "Send {kind} message of 4 MiB in {} fragments of {}.",
                (4 * mib).div_ceil(frag),
                size_name(frag)
            );
            v.push(CaseEntry::lazy(id.clone(), desc.clone(), move || {
                let d = repeat(pat, 4 * mib);
                perf(
                    id.clone(),
                    desc.clone(),
                    vec![send(fragments(op, &d, frag))],
                    Expect::echo(vec![ev(op, d)]),
                )
            }));
        }
    }
    for (k, (op, kind, pat)) in kinds.iter().copied().enumerate() {
        for (i, chop) in [64usize, 128, 256, 512, 1024, 2048].into_iter().enumerate() {
            let id = format!("9.{}.{}", 5 + k, i + 1);
            let desc =
                format!("Send {kind} message of 1 MiB in one frame, written in chops of {chop}.");
            v.push(CaseEntry::lazy(id.clone(), desc.clone(), move || {
                let d = repeat(pat, mib);
                perf(
                    id.clone(),
                    desc.clone(),
                    vec![send_chopped(
                        vec![Frame::new(op, d.clone())],
                        Chop::Bytes(chop),
                    )],
                    Expect::echo(vec![ev(op, d)]),
                )
            }));
        }
    }
    for (k, (op, kind, pat)) in kinds.iter().copied().enumerate() {
        for (i, n) in [0usize, 16, 64, 256, 1024, 4096].into_iter().enumerate() {
            let id = format!("9.{}.{}", 7 + k, i + 1);
            let desc = format!(
                "Send 1000 {kind} messages of {}, one at a time, each after the previous \
                 echo (round-trip time).",
                size_name(n)
            );
            v.push(CaseEntry::lazy(id.clone(), desc.clone(), move || {
                let d = repeat(pat, n);
                let mut steps = Vec::with_capacity(2000);
                for m in 0..1000 {
                    steps.push(send(vec![Frame::new(op, d.clone())]));
                    steps.push(Step::Await {
                        events: m + 1,
                        max: Duration::from_secs(5),
                    });
                }
                perf(
                    id.clone(),
                    desc.clone(),
                    steps,
                    Expect::echo(vec![ev(op, d); 1000]),
                )
            }));
        }
    }
    v
}

/// 10: miscellaneous.
fn section10() -> Vec<Case> {
    let d = repeat(b"*", 65536);
    vec![case(
        "10.1.1",
        "Send text message of 65536 bytes in fragments of 1300: the echo may be \
         fragmented any way.",
        vec![send(fragments(OP_TEXT, &d, 1300))],
        Expect::echo(vec![Ev::Text(d)]),
    )]
}

/// A deterministic generator for the compression corpora.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }
}

/// One payload corpus of sections 12-13: the reference uses five files; the suite generates
/// payloads of the same kinds (deterministically, so every run sends the same bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corpus {
    /// JSON records (ASCII, sent as text).
    Json,
    /// A 512x512 8-bit grey bitmap with a BMP header: smooth gradients and noise (binary).
    Bitmap,
    /// Human-readable German verse with umlauts (UTF-8, sent as binary as in the reference).
    Prose,
    /// An HTML page (ASCII, sent as text).
    Html,
    /// A PDF-like file: mostly incompressible stream data between short ASCII objects (binary).
    Pdf,
}

impl Corpus {
    /// The subsection title.
    pub fn title(self) -> &'static str {
        match self {
            Corpus::Json => "JSON data (text)",
            Corpus::Bitmap => "bitmap picture (binary)",
            Corpus::Prose => "human-readable German text (binary)",
            Corpus::Html => "HTML page (text)",
            Corpus::Pdf => "PDF-like, mostly incompressible data (binary)",
        }
    }
    fn opcode(self) -> u8 {
        match self {
            Corpus::Json | Corpus::Html => OP_TEXT,
            _ => OP_BINARY,
        }
    }
    /// The corpus bytes (generated once per process).
    pub fn data(self) -> &'static [u8] {
        use std::sync::OnceLock;
        static CELLS: [OnceLock<Vec<u8>>; 5] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        CELLS[self as usize].get_or_init(|| self.generate())
    }
    fn generate(self) -> Vec<u8> {
        let mut r = Lcg(0x5EED_0000 + self as u64);
        let mut v = Vec::new();
        const NAMES: [&str; 8] = [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
        ];
        const WORDS: [&str; 16] = [
            "Habe",
            "nun,",
            "ach!",
            "Philosophie,",
            "Juristerei",
            "und",
            "Medizin,",
            "Theologie",
            "durchaus",
            "studiert,",
            "mit",
            "heißem",
            "Bemühn.",
            "Da",
            "steh",
            "ich Tor,",
        ];
        match self {
            Corpus::Json => {
                v.extend_from_slice(b"[\n");
                while v.len() < 192 * 1024 {
                    let s = format!(
                        "  {{\"id\": {}, \"name\": \"{}_{}\", \"score\": {}.{}, \"active\": {}, \
                         \"tags\": [\"{}\", \"{}\"], \"location\": {{\"lat\": {}.{:04}, \
                         \"lon\": -{}.{:04}}}}},\n",
                        r.below(1_000_000),
                        NAMES[r.below(8)],
                        r.below(100),
                        r.below(100),
                        r.below(10),
                        r.below(2) == 0,
                        NAMES[r.below(8)],
                        WORDS[r.below(16)].trim_end_matches([',', '.', '!']),
                        r.below(90),
                        r.below(10_000),
                        r.below(180),
                        r.below(10_000),
                    );
                    v.extend_from_slice(s.replace('ß', "ss").replace('ü', "ue").as_bytes());
                }
                v.extend_from_slice(b"]\n");
            }
            Corpus::Bitmap => {
                v.extend_from_slice(b"BM");
                v.extend_from_slice(&[0u8; 52]);
                for i in 0..256u32 {
                    let g = i as u8;
                    v.extend_from_slice(&[g, g, g, 0]);
                }
                for y in 0..512usize {
                    for x in 0..512usize {
                        let base = ((x * 3 + y * 5) / 8 + (x * y) / 2048) as u8;
                        let noise = (r.next() % 8) as u8;
                        v.push(base.wrapping_add(noise));
                    }
                }
            }
            Corpus::Prose => {
                let mut line = 0;
                while v.len() < 216 * 1024 {
                    let n = 4 + r.below(6);
                    let words: Vec<&str> = (0..n).map(|_| WORDS[r.below(16)]).collect();
                    line += 1;
                    let speaker = if line % 7 == 0 { "\nFAUST:\n" } else { "" };
                    v.extend_from_slice(format!("{speaker}{}\n", words.join(" ")).as_bytes());
                }
            }
            Corpus::Html => {
                v.extend_from_slice(
                    b"<!DOCTYPE html>\n<html><head><title>Report</title></head>\n<body>\n",
                );
                while v.len() < 256 * 1024 {
                    let s = format!(
                        "<div class=\"row {}\"><a href=\"/item/{}\">{} {}</a><span \
                         style=\"color:#{:06x}\">{}</span></div>\n",
                        NAMES[r.below(8)],
                        r.below(100_000),
                        NAMES[r.below(8)],
                        r.below(1000),
                        r.next() & 0xFF_FFFF,
                        WORDS[r.below(16)]
                            .replace('ß', "&szlig;")
                            .replace('ü', "&uuml;"),
                    );
                    v.extend_from_slice(s.as_bytes());
                }
                v.extend_from_slice(b"</body></html>\n");
            }
            Corpus::Pdf => {
                v.extend_from_slice(b"%PDF-1.4\n");
                let mut obj = 1;
                while v.len() < 1024 * 1024 {
                    let n = 2000 + r.below(30_000);
                    v.extend_from_slice(
                        format!("{obj} 0 obj\n<< /Length {n} /Filter /FlateDecode >>\nstream\n")
                            .as_bytes(),
                    );
                    for _ in 0..n {
                        v.push(r.next() as u8);
                    }
                    v.extend_from_slice(b"\nendstream\nendobj\n");
                    obj += 1;
                }
            }
        }
        v
    }
}

/// (message size, fragment size or 0) of the 18 cases of each subsection of 12 and 13, as in
/// the reference.
const COMPRESSION_SIZES: [(usize, usize); 18] = [
    (16, 0),
    (64, 0),
    (256, 0),
    (1024, 0),
    (4096, 0),
    (8192, 0),
    (16384, 0),
    (32768, 0),
    (65536, 0),
    (131072, 0),
    (8192, 256),
    (16384, 256),
    (32768, 256),
    (65536, 256),
    (131072, 256),
    (131072, 1024),
    (131072, 4096),
    (131072, 32768),
];

/// Messages per case: the reference sends 1000 of every size; the suite sends 1000 up to
/// 512 bytes and 512 KiB in total above (at least 8: 1 MiB of 128 KiB messages), which keeps
/// a full run well under a minute in release builds.
pub fn compression_message_count(size: usize) -> usize {
    ((512 << 10) / size.max(1)).clamp(8, 1000)
}

/// Cases 12.x.y that `CaseFilter::quick()` keeps (every payload kind): y = 2 (1000 messages
/// of 64 bytes) and 13 (16 messages of 32 KiB in 256-byte frames).
pub const QUICK_SECTION12_CASES: [usize; 2] = [2, 13];
/// Cases 13.x.y that `CaseFilter::quick()` keeps (every parameter set): y = 2, 9 (8
/// messages of 64 KiB in one frame) and 13.
pub const QUICK_SECTION13_CASES: [usize; 3] = [2, 9, 13];

fn compression_cases(
    id_prefix: &str,
    corpus: Corpus,
    negotiation: &Negotiation,
    params: &str,
) -> Vec<CaseEntry> {
    let mut v = Vec::new();
    for (i, (size, frag)) in COMPRESSION_SIZES.into_iter().enumerate() {
        let id = format!("{id_prefix}.{}", i + 1);
        let count = compression_message_count(size);
        let frag_desc = if frag == 0 {
            "in one frame".to_string()
        } else {
            format!("in frames of {frag} compressed bytes")
        };
        let desc = format!(
            "Send {count} compressed messages of {size} bytes ({}), {frag_desc}, one at a \
             time, each after the previous echo; {params}.",
            corpus.title()
        );
        let negotiation = negotiation.clone();
        v.push(CaseEntry::lazy_compression(
            id.clone(),
            desc.clone(),
            move || {
                let data = corpus.data();
                let op = corpus.opcode();
                let mut steps = Vec::with_capacity(2 * count);
                let mut events = Vec::with_capacity(count);
                let mut at = 0usize;
                for m in 0..count {
                    let msg: Vec<u8> = (0..size).map(|k| data[(at + k) % data.len()]).collect();
                    at = (at + size) % data.len();
                    steps.push(Step::SendCompressed {
                        opcode: op,
                        data: msg.clone(),
                        frag,
                    });
                    steps.push(Step::Await {
                        events: m + 1,
                        max: Duration::from_secs(10),
                    });
                    events.push(if op == OP_TEXT {
                        Ev::Text(msg)
                    } else {
                        Ev::Binary(msg)
                    });
                }
                Case {
                    id: id.clone(),
                    description: desc.clone(),
                    steps,
                    expect: Expect::echo(events),
                    performance: true,
                    deflate: Some(negotiation.clone()),
                }
            },
        ));
    }
    v
}

/// The corpora of section 12, in the reference's order.
pub const SECTION12_CORPORA: [Corpus; 5] = [
    Corpus::Json,
    Corpus::Bitmap,
    Corpus::Prose,
    Corpus::Html,
    Corpus::Pdf,
];

/// 12: compression with the default parameters, five kinds of payload.
fn section12() -> Vec<CaseEntry> {
    let mut v = Vec::new();
    for (j, corpus) in SECTION12_CORPORA.into_iter().enumerate() {
        v.extend(compression_cases(
            &format!("12.{}", j + 1),
            corpus,
            &Negotiation::default_params(),
            "default parameters",
        ));
    }
    v
}

/// The negotiations of 13.1-13.7 (the reference's, with window 9 where it once used 8, which
/// zlib cannot do): the suite as client offers `client_max_window_bits` plus the requests
/// shown; as server it answers with the requests shown.
pub fn section13_negotiations() -> Vec<(Negotiation, String)> {
    let offer = |nct: bool, bits: Option<u8>| Offer {
        server_no_context_takeover: nct,
        server_max_window_bits: bits,
    };
    let accept = |nct: bool, bits: Option<u8>| AcceptPolicy {
        client_no_context_takeover: nct,
        client_max_window_bits: bits,
    };
    let sets: [(Vec<Offer>, Vec<AcceptPolicy>); 7] = [
        (vec![offer(false, None)], vec![accept(false, None)]),
        (vec![offer(true, None)], vec![accept(true, None)]),
        (vec![offer(false, Some(9))], vec![accept(false, Some(9))]),
        (vec![offer(false, Some(15))], vec![accept(false, Some(15))]),
        (vec![offer(true, Some(9))], vec![accept(true, Some(9))]),
        (vec![offer(true, Some(15))], vec![accept(true, Some(15))]),
        (
            vec![offer(true, Some(9)), offer(true, None), offer(false, None)],
            vec![
                accept(true, Some(9)),
                accept(true, None),
                accept(false, None),
            ],
        ),
    ];
    sets.into_iter()
        .map(|(offers, accept)| {
            let alternatives = |v: Vec<Vec<String>>| {
                v.into_iter()
                    .map(|p| {
                        if p.is_empty() {
                            "(nothing more)".to_string()
                        } else {
                            format!("({})", p.join("; "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            let o = alternatives(
                offers
                    .iter()
                    .map(|o| {
                        let mut p = Vec::new();
                        if o.server_no_context_takeover {
                            p.push("server_no_context_takeover".to_string());
                        }
                        if let Some(b) = o.server_max_window_bits {
                            p.push(format!("server_max_window_bits={b}"));
                        }
                        p
                    })
                    .collect(),
            );
            let a = alternatives(
                accept
                    .iter()
                    .map(|a| {
                        let mut p = Vec::new();
                        if a.client_no_context_takeover {
                            p.push("client_no_context_takeover".to_string());
                        }
                        if let Some(b) = a.client_max_window_bits {
                            p.push(format!("client_max_window_bits={b}"));
                        }
                        p
                    })
                    .collect(),
            );
            (
                Negotiation {
                    suite_window_bits: offers
                        .iter()
                        .filter_map(|o| o.server_max_window_bits)
                        .min()
                        .unwrap_or(15),
                    offers,
                    accept,
                },
                format!(
                    "suite as client offers client_max_window_bits plus {o}, \
                     as server answers with {a}"
                ),
            )
        })
        .collect()
}

/// 13: compression with different parameters (JSON payload).
fn section13() -> Vec<CaseEntry> {
    let mut v = Vec::new();
    for (j, (negotiation, params)) in section13_negotiations().into_iter().enumerate() {
        v.extend(compression_cases(
            &format!("13.{}", j + 1),
            Corpus::Json,
            &negotiation,
            &params,
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_in_section_order() {
        let cases = all_cases();
        let mut seen = HashSet::new();
        for c in cases.iter().filter(|c| !c.performance) {
            assert!(seen.insert(c.id.clone()), "duplicate {}", c.id);
            let built = c.build();
            assert_eq!(built.id, c.id);
            assert!(!built.steps.is_empty(), "{} has no steps", c.id);
        }
        for c in cases.iter().filter(|c| c.performance) {
            assert!(seen.insert(c.id.clone()), "duplicate {}", c.id);
        }
        let sections: Vec<&str> = cases.iter().map(CaseEntry::section).collect();
        let mut dedup = sections.clone();
        dedup.dedup();
        assert_eq!(
            dedup,
            ["1", "2", "3", "4", "5", "6", "7", "9", "10", "12", "13"]
        );
    }

    #[test]
    fn case_counts_per_subsection() {
        let cases = all_cases();
        let count = |prefix: &str| {
            cases
                .iter()
                .filter(|c| c.id.starts_with(&format!("{prefix}.")))
                .count()
        };
        assert_eq!(count("1.1"), 8);
        assert_eq!(count("1.2"), 8);
        assert_eq!(count("2"), 11);
        assert_eq!(count("3"), 7);
        assert_eq!(count("4.1"), 5);
        assert_eq!(count("4.2"), 5);
        assert_eq!(count("5"), 20);
        assert_eq!(count("6.4"), 4);
        assert_eq!(count("6.22"), 34);
        assert_eq!(count("7.7"), 13);
        assert_eq!(count("7.9"), 9);
        assert_eq!(count("9.3"), 9);
        assert_eq!(count("9.7"), 6);
        assert_eq!(count("12"), 5 * 18);
        assert_eq!(count("13"), 7 * 18);
        assert_eq!(count("13.7"), 18);
    }

    #[test]
    fn compression_cases_send_corpus_slices_with_their_negotiation() {
        let cases = all_cases();
        let find = |id: &str| cases.iter().find(|c| c.id == id).unwrap().build();
        for corpus in SECTION12_CORPORA {
            let d = corpus.data();
            assert!(d.len() > 180 * 1024, "{corpus:?}");
            if corpus.opcode() == OP_TEXT {
                assert!(d.is_ascii(), "{corpus:?}: slices must stay valid UTF-8");
            }
        }
        let c = find("12.2.18");
        assert_eq!(c.deflate, Some(Negotiation::default_params()));
        let msgs: Vec<(&Vec<u8>, usize)> = c
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::SendCompressed { data, frag, opcode } => {
                    assert_eq!(*opcode, OP_BINARY);
                    Some((data, *frag))
                }
                _ => None,
            })
            .collect();
        assert_eq!(msgs.len(), compression_message_count(131072));
        assert!(msgs.iter().all(|(d, f)| d.len() == 131072 && *f == 32768));
        assert_eq!(msgs[0].0[..], Corpus::Bitmap.data()[..131072]);
        assert_eq!(c.expect.ok.len(), msgs.len());
        let c = find("13.5.1");
        assert_eq!(c.steps.len(), 2000);
        let n = c.deflate.unwrap();
        assert_eq!(n.offers[0].server_max_window_bits, Some(9));
        assert!(n.offers[0].server_no_context_takeover);
        assert_eq!(n.accept[0].client_max_window_bits, Some(9));
        assert_eq!(n.suite_window_bits, 9);
        assert_eq!(find("13.7.3").deflate.unwrap().offers.len(), 3);
        assert_eq!(find("13.7.3").deflate.unwrap().suite_window_bits, 9);
        assert_eq!(find("13.4.3").deflate.unwrap().suite_window_bits, 15);
        assert_eq!(find("12.4.3").deflate.unwrap().suite_window_bits, 15);
        assert!(find("1.1.1").deflate.is_none());
    }

    #[test]
    fn utf8_cases_judge_validity_like_rfc3629() {
        let cases = all_cases();
        let find = |id: &str| cases.iter().find(|c| c.id == id).unwrap().build();
        // Valid sequences are echoed, invalid ones fail with 1007.
        for (id, valid) in [
            ("6.7.4", true),
            ("6.8.1", false),
            ("6.9.4", true),
            ("6.11.5", false),
            ("6.20.1", false),
            ("6.21.8", false),
            ("6.22.34", true),
            ("6.6.1", false),
            ("6.6.2", true),
            ("6.6.3", false),
            ("6.6.11", true),
        ] {
            let c = find(id);
            assert_eq!(c.expect.close.by_suite, valid, "{id}");
            if !valid {
                assert_eq!(c.expect.close.codes, vec![1007], "{id}");
            }
        }
    }

    #[test]
    fn fail_fast_parts_are_valid_then_invalid() {
        for id in ["6.4.1", "6.4.2", "6.4.3", "6.4.4"] {
            let cases = all_cases();
            let c = cases.iter().find(|c| c.id == id).unwrap().build();
            assert_eq!(c.expect.fail_before_step, Some(4));
            let mut sent = Vec::new();
            let mut prefix_valid = Vec::new();
            for s in &c.steps {
                match s {
                    Step::Send { frames, .. } => sent.extend_from_slice(&frames[0].payload),
                    Step::SendPart { frame, from, to } => {
                        sent.extend_from_slice(&frame.payload[*from..*to])
                    }
                    _ => continue,
                }
                // "valid so far" = a valid string or one cut inside a code point.
                let ok = match core::str::from_utf8(&sent) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                };
                prefix_valid.push(ok);
            }
            assert_eq!(prefix_valid, [true, false, false], "{id}");
        }
    }

    #[test]
    fn split_cases_split_where_they_say() {
        let cases = all_cases();
        let c = cases.iter().find(|c| c.id == "6.2.2").unwrap().build();
        let Step::Send { frames, .. } = &c.steps[0] else {
            panic!("6.2.2 sends frames")
        };
        // Each fragment is valid UTF-8 on its own: the split is on a code point boundary.
        assert_eq!(frames.len(), 2);
        assert!(frames
            .iter()
            .all(|f| core::str::from_utf8(&f.payload).is_ok()));
        let c = cases.iter().find(|c| c.id == "6.2.3").unwrap().build();
        let Step::Send { frames, .. } = &c.steps[0] else {
            panic!("6.2.3 sends frames")
        };
        // Fragments of one octet: some split a code point.
        assert!(frames.iter().all(|f| f.payload.len() == 1));
        assert!(frames
            .iter()
            .any(|f| core::str::from_utf8(&f.payload).is_err()));
    }

    #[test]
    fn fragments_cover_data_and_mark_fin_on_last() {
        let d: Vec<u8> = (0..200u8).collect();
        let fr = fragments(OP_BINARY, &d, 64);
        assert_eq!(fr.len(), 4);
        assert_eq!(fr[0].opcode, OP_BINARY);
        assert!(fr[1..].iter().all(|f| f.opcode == OP_CONTINUATION));
        assert!(fr[..3].iter().all(|f| !f.fin) && fr[3].fin);
        assert_eq!(
            fr.iter()
                .flat_map(|f| f.payload.clone())
                .collect::<Vec<_>>(),
            d
        );
        assert_eq!(fragments(OP_TEXT, &[], 64).len(), 1);
    }
}

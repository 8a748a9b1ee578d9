//! Sections 12-13 judged against deliberately bad permessage-deflate servers written here on
//! raw sockets with the suite's own pieces: one that agrees to a small window or to no context
//! takeover and then compresses with a 32 KiB window and context takeover anyway, one that
//! answers the offer with an invalid parameter, and one that accepts but echoes uncompressed
//! (which is allowed). Shows that the suite catches window and takeover violations, rejects a
//! bad answer as FAILED, and does not require compressed echoes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use tests::conformance::deflate::{
    choose_answer, AcceptPolicy, Agreed, Compressor, Decompressor, Negotiation,
};
use tests::conformance::frame::{
    apply_mask, parse_header_ext, Frame, OP_CLOSE, OP_CONTINUATION, OP_PING,
};
use tests::conformance::handshake::accept_with;
use tests::conformance::{run_against_server_with, CaseFilter, Config, Outcome, Report, Role};

/// How the bad server behaves.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Grants what the client requests, then compresses with window 2^15 and context
    /// takeover whatever was agreed.
    IgnoreAgreedParameters,
    /// Accepts with the defaults but echoes every message uncompressed.
    EchoUncompressed,
    /// Answers with `client_max_window_bits` without a value (invalid in an answer).
    InvalidAnswer,
}

fn serve(mut s: TcpStream, mode: Mode) {
    let grant = Negotiation {
        offers: vec![],
        accept: vec![AcceptPolicy {
            client_no_context_takeover: false,
            client_max_window_bits: None,
        }],
        suite_window_bits: 15,
    };
    let mut agreed: Option<Agreed> = None;
    let accepted = accept_with(&mut s, Duration::from_secs(5), &mut |_, offer| {
        let (answer, params) = choose_answer(&grant, offer)?;
        agreed = Some(params);
        Some(match mode {
            Mode::InvalidAnswer => "permessage-deflate; client_max_window_bits".to_string(),
            _ => answer,
        })
    });
    let (Ok(acc), Some(agreed)) = (accepted, agreed) else {
        return;
    };
    let (bits, nct) = agreed.receiving(Role::Server);
    let mut inflater = Decompressor::new(bits, nct);
    let mut deflater = Compressor::new(15, false);
    let mut buf = acc.rest;
    let mut chunk = vec![0u8; 65536];
    let mut message: Option<(u8, bool, Vec<u8>)> = None;
    loop {
        while let Ok(Some(h)) = parse_header_ext(&buf, true, true) {
            let total = h.header_len + h.len as usize;
            if buf.len() < total {
                break;
            }
            let mut payload = buf[h.header_len..total].to_vec();
            buf.drain(..total);
            apply_mask(&mut payload, h.mask.unwrap_or([0; 4]));
            match h.opcode {
                OP_CLOSE => {
                    let _ = s.write_all(&Frame::close(1000, b"").to_bytes(None));
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    return;
                }
                OP_PING => {
                    let _ = s.write_all(&Frame::pong(payload).to_bytes(None));
                    continue;
                }
                OP_CONTINUATION => {
                    if let Some((_, _, d)) = message.as_mut() {
                        d.extend_from_slice(&payload);
                    }
                }
                op => message = Some((op, h.rsv & 4 != 0, payload)),
            }
            if !h.fin {
                continue;
            }
            let Some((op, compressed, data)) = message.take() else {
                continue;
            };
            let data = if compressed {
                match inflater.decompress(&data, 1 << 24) {
                    Ok(d) => d,
                    Err(_) => return,
                }
            } else {
                data
            };
            let frame = match mode {
                Mode::EchoUncompressed => Frame::new(op, data),
                _ => Frame::new(op, deflater.compress(&data)).rsv(4),
            };
            if s.write_all(&frame.to_bytes(None)).is_err() {
                return;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn start(mode: Mode) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s, mode));
        }
    });
    addr
}

fn run(addr: SocketAddr, cases: &str) -> Report {
    let config = Config {
        performance_timeout: Duration::from_secs(30),
        ..Config::default()
    };
    run_against_server_with(
        &format!("ws://{addr}"),
        &CaseFilter::parse(cases),
        &config,
        &mut |_| {},
    )
    .unwrap()
}

fn note_of(report: &Report, id: &str, needle: &str) -> bool {
    report
        .get(id)
        .is_some_and(|r| r.notes.iter().any(|n| n.contains(needle)))
}

#[test]
fn a_server_that_ignores_the_agreed_window_or_takeover_fails() {
    let addr = start(Mode::IgnoreAgreedParameters);
    let report = run(addr, "13.1.9,13.3.9,13.2.9,13.4.9");
    println!("{report}");
    // Default parameters and window 15 with takeover: what it does is allowed.
    assert_eq!(report.outcome("13.1.9"), Some(Outcome::Ok), "{report}");
    assert_eq!(report.outcome("13.4.9"), Some(Outcome::Ok), "{report}");
    // Window 9 agreed, 32 KiB used.
    assert_eq!(report.outcome("13.3.9"), Some(Outcome::Failed), "{report}");
    assert!(note_of(&report, "13.3.9", "beyond"), "{report}");
    assert!(note_of(&report, "13.3.9", "2^9"), "{report}");
    // No context takeover agreed, earlier messages referenced.
    assert_eq!(report.outcome("13.2.9"), Some(Outcome::Failed), "{report}");
    assert!(
        note_of(&report, "13.2.9", "no context takeover"),
        "{report}"
    );
}

#[test]
fn uncompressed_echoes_are_fine_and_an_invalid_answer_fails() {
    let addr = start(Mode::EchoUncompressed);
    let report = run(addr, "12.2.2,13.5.9");
    assert_eq!(report.count(Outcome::Ok), 2, "{report}");
    assert!(note_of(&report, "12.2.2", "0 of 1000 messages"), "{report}");

    let addr = start(Mode::InvalidAnswer);
    let report = run(addr, "12.1.1");
    assert_eq!(report.outcome("12.1.1"), Some(Outcome::Failed), "{report}");
    assert!(
        note_of(&report, "12.1.1", "invalid permessage-deflate answer"),
        "{report}"
    );
}

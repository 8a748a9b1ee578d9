//! The suite as a server for clients under test, speaking the reference suite's
//! "fuzzingserver" URL scheme so that existing Autobahn testee clients work unchanged:
//!
//! - `GET /getCaseCount`: one text message with the number of cases, then a normal close;
//! - `GET /runCase?case=N&agent=A`: plays case N (1-based) against the client, which echoes
//!   every message;
//! - `GET /updateReports?agent=A`: a normal close; the run ends and the report is returned;
//! - `GET /getCaseInfo?case=N` and `GET /getCaseStatus?case=N&agent=A`: one text message
//!   with a JSON object (`{"id": .., "description": ..}`, `{"behavior": ..}`), then a normal
//!   close, for testee clients that log them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::cases::Case;
use super::cases::CaseEntry;
use super::deflate::{choose_answer, Agreed};
use super::frame::{parse_header, Frame, OP_CLOSE};
use super::handshake::{accept_with, Nonce};
use super::report::{json_string, CaseResult, Report};
use super::runner::{run_case_with, run_declined, Config, Role};

/// What a request path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    CaseCount,
    CaseInfo(usize),
    CaseStatus(usize),
    RunCase(usize, String),
    UpdateReports(String),
    Other(String),
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => {
                    out.push(v);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_target(target: &str) -> Request {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    };
    match path {
        "/getCaseCount" => Request::CaseCount,
        "/runCase" => match param("case").and_then(|c| c.parse().ok()) {
            Some(n) => Request::RunCase(n, param("agent").unwrap_or_default()),
            None => Request::Other(target.to_string()),
        },
        "/updateReports" => Request::UpdateReports(param("agent").unwrap_or_default()),
        "/getCaseInfo" | "/getCaseStatus" => match param("case").and_then(|c| c.parse().ok()) {
            Some(n) if path == "/getCaseInfo" => Request::CaseInfo(n),
            Some(n) => Request::CaseStatus(n),
            None => Request::Other(target.to_string()),
        },
        _ => Request::Other(target.to_string()),
    }
}

/// Sends `frames` (the last being a close), then reads until the client's close frame or
/// EOF (bounded by `wait`), then closes TCP.
fn finish(mut stream: TcpStream, mut buf: Vec<u8>, frames: &[Frame], wait: Duration) {
    let mut out = Vec::new();
    for f in frames {
        f.encode(None, &mut out);
    }
    let _ = stream.set_write_timeout(Some(wait));
    if stream.write_all(&out).is_ok() {
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 4096];
        'outer: loop {
            let mut pos = 0;
            while let Ok(Some(h)) = parse_header(&buf[pos..], true) {
                let total = h.header_len + h.len as usize;
                if buf.len() - pos < total {
                    break;
                }
                if h.opcode == OP_CLOSE {
                    break 'outer;
                }
                pos += total;
            }
            buf.drain(..pos);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Serves the reference suite's fuzzing-server protocol on `listener` until a client asks
/// for `/updateReports`, or no client connects for `idle_timeout`. Returns the report of
/// the cases the client ran; cases it never ran are FAILED ("not run").
pub fn serve(
    listener: &TcpListener,
    cases: &[CaseEntry],
    config: &Config,
    idle_timeout: Duration,
    progress: &mut dyn FnMut(&CaseResult),
) -> Report {
    let mut results: Vec<Option<CaseResult>> = vec![None; cases.len()];
    let mut agent = String::new();
    let mut nonce = Nonce::from_clock();
    let _ = listener.set_nonblocking(true);
    let mut last = Instant::now();
    loop {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if last.elapsed() > idle_timeout {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        last = Instant::now();
        let _ = stream.set_nonblocking(false);
        // A compression case decides the extension answer from the client's offer.
        let mut running: Option<(Case, Option<Agreed>)> = None;
        let accepted = accept_with(
            &mut stream,
            config.handshake_timeout,
            &mut |target, offer| {
                let Request::RunCase(n, _) = parse_target(target) else {
                    return None;
                };
                let case = cases.get(n.checked_sub(1)?)?.build();
                let chosen = case
                    .deflate
                    .as_ref()
                    .and_then(|neg| choose_answer(neg, offer));
                let (answer, agreed) = match chosen {
                    Some((a, p)) => (Some(a), Some(p)),
                    None => (None, None),
                };
                running = Some((case, agreed));
                answer
            },
        );
        let accepted = match accepted {
            Ok(a) => a,
            Err(_) => continue,
        };
        match parse_target(&accepted.target) {
            Request::CaseCount => finish(
                stream,
                accepted.rest,
                &[
                    Frame::text(cases.len().to_string()),
                    Frame::close(1000, b""),
                ],
                config.close_wait,
            ),
            Request::RunCase(n, a) if (1..=cases.len()).contains(&n) => {
                if agent.is_empty() {
                    agent = a;
                }
                let (case, agreed) = running
                    .take()
                    .unwrap_or_else(|| (cases[n - 1].build(), None));
                let key = nonce.mask_key();
                let r = match (&case.deflate, agreed) {
                    (Some(_), None) => run_declined(
                        stream,
                        accepted.rest,
                        Role::Server,
                        &case,
                        config,
                        key,
                        match &accepted.offered {
                            Some(o) => format!(
                                "the client's offer {o:?} has no permessage-deflate offer \
                                 this case accepts"
                            ),
                            None => "the client offered no extension".to_string(),
                        },
                    ),
                    (_, agreed) => {
                        let mut r = run_case_with(
                            stream,
                            accepted.rest,
                            Role::Server,
                            &case,
                            config,
                            key,
                            agreed.as_ref(),
                        );
                        if let Some(a) = agreed {
                            r.notes
                                .push(format!("permessage-deflate: {}", a.describe()));
                        }
                        r
                    }
                };
                progress(&r);
                results[n - 1] = Some(r);
            }
            Request::UpdateReports(a) => {
                if agent.is_empty() {
                    agent = a;
                }
                finish(
                    stream,
                    accepted.rest,
                    &[Frame::close(1000, b"")],
                    config.close_wait,
                );
                break;
            }
            Request::CaseInfo(n) if (1..=cases.len()).contains(&n) => {
                let c = &cases[n - 1];
                let json = format!(
                    "{{\"id\": {}, \"description\": {}}}",
                    json_string(&c.id),
                    json_string(&c.description)
                );
                finish(
                    stream,
                    accepted.rest,
                    &[Frame::text(json), Frame::close(1000, b"")],
                    config.close_wait,
                )
            }
            Request::CaseStatus(n) if (1..=cases.len()).contains(&n) => {
                let behavior = results[n - 1]
                    .as_ref()
                    .map_or("UNKNOWN", |r| r.outcome.label());
                finish(
                    stream,
                    accepted.rest,
                    &[
                        Frame::text(format!("{{\"behavior\": \"{behavior}\"}}")),
                        Frame::close(1000, b""),
                    ],
                    config.close_wait,
                )
            }
            Request::RunCase(..)
            | Request::CaseInfo(_)
            | Request::CaseStatus(_)
            | Request::Other(_) => finish(
                stream,
                accepted.rest,
                &[Frame::close(1008, b"unknown case or path")],
                config.close_wait,
            ),
        }
        last = Instant::now();
    }
    let _ = listener.set_nonblocking(false);
    Report {
        target: if agent.is_empty() {
            "client".to_string()
        } else {
            format!("client {agent:?}")
        },
        results: results
            .into_iter()
            .zip(cases)
            .map(|(r, c)| {
                r.unwrap_or_else(|| {
                    CaseResult::failed(&c.id, &c.description, "not run by the client".into())
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("/getCaseCount"), Request::CaseCount);
        assert_eq!(
            parse_target("/runCase?case=12&agent=my%20client+x"),
            Request::RunCase(12, "my client x".into())
        );
        assert_eq!(
            parse_target("/updateReports?agent=a"),
            Request::UpdateReports("a".into())
        );
        assert!(matches!(parse_target("/runCase?case=x"), Request::Other(_)));
        assert_eq!(parse_target("/getCaseInfo?case=3"), Request::CaseInfo(3));
        assert_eq!(
            parse_target("/getCaseStatus?case=4&agent=a"),
            Request::CaseStatus(4)
        );
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}

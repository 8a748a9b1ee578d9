//! The suite judged against deliberately bad peers written here on raw sockets: a lax echo
//! server that validates nothing, and a server that accepts the handshake and then never
//! answers. Shows that the suite reports FAILED where it must and that a hanging
//! implementation cannot hang it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tests::conformance::frame::apply_mask;
use tests::conformance::handshake::accept;
use tests::conformance::{run_against_server_with, CaseFilter, Config, Outcome, Report};

/// Reads masked client frames and sends every frame back unmasked, bits and all; answers
/// pings and closes, checks nothing (no RSV, opcode, UTF-8, close-code or length checks).
fn lax_echo(mut s: TcpStream) {
    let Ok(acc) = accept(&mut s, Duration::from_secs(5)) else {
        return;
    };
    let mut buf = acc.rest;
    let mut chunk = [0u8; 65536];
    loop {
        // The reader is strict about lengths and bits; parse loosely here instead.
        while buf.len() >= 2 {
            let len7 = (buf[1] & 0x7F) as usize;
            let (len, mut pos) = match len7 {
                126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
                127 if buf.len() >= 10 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&buf[2..10]);
                    (u64::from_be_bytes(b) as usize, 10)
                }
                126 | 127 => break,
                n => (n, 2),
            };
            if buf.len() < pos + 4 + len {
                break;
            }
            let key = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
            pos += 4;
            let mut payload = buf[pos..pos + len].to_vec();
            apply_mask(&mut payload, key);
            let b0 = buf[0];
            buf.drain(..pos + len);
            let op = b0 & 0x0F;
            let out_b0 = match op {
                0x9 => (b0 & 0xF0) | 0xA,
                0xA => continue,
                _ => b0,
            };
            let mut out = vec![out_b0];
            if len < 126 {
                out.push(len as u8);
            } else if len <= 0xFFFF {
                out.push(126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
            out.extend_from_slice(&payload);
            if s.write_all(&out).is_err() {
                return;
            }
            if op == 0x8 {
                let _ = s.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Accepts the handshake, then reads and discards everything, never answering.
fn mute(mut s: TcpStream) {
    if accept(&mut s, Duration::from_secs(5)).is_err() {
        return;
    }
    let mut chunk = [0u8; 65536];
    while let Ok(n) = s.read(&mut chunk) {
        if n == 0 {
            return;
        }
    }
}

fn start(handler: fn(TcpStream)) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || handler(s));
        }
    });
    addr
}

#[test]
fn lax_server_fails_every_validation_case_and_passes_plain_echoes() {
    let addr = start(lax_echo);
    let filter = CaseFilter::parse(
        "1.1.1,1.1.8,2.1,2.5,3.1,4.1.1,5.1,5.9,5.18,6.3.1,6.4.1,6.4.3,6.20.1,7.3.2,7.5.1,7.9.1",
    );
    let report = run_against_server_with(
        &format!("ws://{addr}"),
        &filter,
        &Config::default(),
        &mut |_| {},
    )
    .unwrap();
    let outcome = |id: &str| report.outcome(id).unwrap_or_else(|| panic!("{id} missing"));
    for id in ["1.1.1", "1.1.8", "2.1"] {
        assert_eq!(outcome(id), Outcome::Ok, "{id}\n{report}");
    }
    for id in [
        "2.5", "3.1", "4.1.1", "5.1", "5.9", "5.18", "6.3.1", "6.4.1", "6.4.3", "6.20.1", "7.3.2",
        "7.5.1", "7.9.1",
    ] {
        assert_eq!(outcome(id), Outcome::Failed, "{id}\n{report}");
    }
    // Echoing an RSV frame back is itself a protocol violation, and is reported as such.
    assert!(
        report
            .get("3.1")
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("RSV")),
        "{report}"
    );
    assert!(!report.passed(false));
}

#[test]
fn hanging_server_fails_within_the_time_limits() {
    let addr = start(mute);
    let config = Config {
        case_timeout: Duration::from_millis(700),
        performance_timeout: Duration::from_secs(1),
        fail_wait: Duration::from_millis(200),
        close_wait: Duration::from_millis(200),
        fail_fast_pause: Duration::from_millis(200),
        ..Config::default()
    };
    let filter = CaseFilter::parse("1.1.1,2.5,6.4.1,9.1.1");
    let t = Instant::now();
    let report =
        run_against_server_with(&format!("ws://{addr}"), &filter, &config, &mut |_| {}).unwrap();
    assert_eq!(report.results.len(), 4);
    assert_eq!(report.count(Outcome::Failed), 4, "{report}");
    // Each case ends within its limit plus the close wait.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    for r in &report.results {
        let limit = if r.performance { 1.0 } else { 0.7 };
        assert!(r.elapsed.as_secs_f64() < limit + 0.5, "{}", Report::row(r));
    }
    let r = report.get("2.5").unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("did not fail")),
        "{}",
        Report::row(r)
    );
}

#[test]
fn readme_lists_every_case_with_its_description_and_expectation() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("tests/README.md");
    for c in tests::conformance::all_cases() {
        let row = format!(
            "| {} | {} | {} |",
            c.id,
            c.description.replace('|', "/"),
            c.expectation.replace('|', "/")
        );
        assert!(
            readme.lines().any(|l| l == row),
            "tests/README.md lacks or has a stale row for {}: regenerate the case list \
             from `ws-conformance --list`\nwant: {row}",
            c.id
        );
    }
}

#[test]
fn fuzzing_server_case_info_status_and_cases_not_run() {
    use tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        tests::conformance::serve_for_client(&listener, &CaseFilter::parse("1.1.2,2.1"))
    });
    // One text message, then the server closes.
    let fetch = |path: &str| -> String {
        let (mut ws, _) = tungstenite::connect(format!("{base}{path}")).unwrap();
        let mut text = String::new();
        while let Ok(m) = ws.read() {
            if let Message::Text(t) = m {
                text = t.to_string();
            }
        }
        text
    };
    assert_eq!(fetch("/getCaseCount"), "2");
    assert!(fetch("/getCaseInfo?case=2").starts_with(r#"{"id": "2.1", "description": "#));
    assert_eq!(
        fetch("/getCaseStatus?case=1&agent=t"),
        r#"{"behavior": "UNKNOWN"}"#
    );
    // Run case 1 only, echoing.
    let (mut ws, _) = tungstenite::connect(format!("{base}/runCase?case=1&agent=t")).unwrap();
    while let Ok(m) = ws.read() {
        if m.is_text() || m.is_binary() {
            ws.send(m).unwrap();
        }
    }
    assert_eq!(
        fetch("/getCaseStatus?case=1&agent=t"),
        r#"{"behavior": "OK"}"#
    );
    fetch("/updateReports?agent=t");
    let report = server.join().unwrap();
    assert_eq!(report.target, "client \"t\"");
    assert_eq!(report.outcome("1.1.2"), Some(Outcome::Ok), "{report}");
    assert_eq!(report.outcome("2.1"), Some(Outcome::Failed));
    assert_eq!(report.get("2.1").unwrap().notes, ["not run by the client"]);
}

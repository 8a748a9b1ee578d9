//! The conformance suite against tokio-tungstenite 0.30 (default configuration), in both
//! roles, through the library and through the `ws-conformance` binary.
//!
//! tungstenite checks UTF-8 per frame, not inside a partially received frame, so it fails
//! the "fail fast" cases where the invalid byte arrives in the middle of one frame (6.4.3,
//! 6.4.4) only once the whole frame is in: NON-STRICT. Everything else it does right. These
//! tests pin that down, which shows the suite passes a good implementation and still tells
//! strict from non-strict behaviour.
//!
//! tokio-tungstenite does not negotiate permessage-deflate: every case of sections 12-13 is
//! UNIMPLEMENTED (never FAILED), which does not fail a run unless compression is required
//! (`--require-compression`).

mod conformance_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use conformance_support::{
    run_client_suite, run_server_suite, run_tungstenite_autobahn_client,
    start_tungstenite_echo_server,
};
use tests::conformance::{CaseFilter, Outcome, Report};

/// Cases where tungstenite is known to be non-strict.
const KNOWN_NON_STRICT: [&str; 2] = ["6.4.3", "6.4.4"];
/// Cases whose behaviour the RFC leaves open.
const INFORMATIONAL: [&str; 3] = ["7.1.6", "7.13.1", "7.13.2"];

fn check_tungstenite_report(report: &Report) {
    println!("{}{}", report.section_summary(), report.summary());
    let unexpected: Vec<String> = report
        .results
        .iter()
        .filter(|r| {
            let want = if r.id.starts_with("12.") || r.id.starts_with("13.") {
                Outcome::Unimplemented
            } else if KNOWN_NON_STRICT.contains(&r.id.as_str()) {
                Outcome::NonStrict
            } else if INFORMATIONAL.contains(&r.id.as_str()) {
                Outcome::Informational
            } else {
                Outcome::Ok
            };
            r.outcome != want
        })
        .map(Report::row)
        .collect();
    assert!(
        unexpected.is_empty(),
        "{}\nunexpected outcomes:\n{}",
        report.summary(),
        unexpected.join("\n")
    );
    // The strict profile fails exactly on the non-strict cases; the lenient one passes.
    let strict_failures: Vec<&str> = report
        .failures(true)
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(strict_failures, KNOWN_NON_STRICT);
    assert!(!report.passed(true));
    assert!(report.passed(false));
    // Sections 12-13 ran (reduced) and were declined; requiring compression fails them.
    let unimplemented = report.ids_with(Outcome::Unimplemented);
    assert_eq!(unimplemented.len(), 5 * 2 + 7 * 3, "{}", report.summary());
    assert!(!report.passed_requiring_compression(false));
    for id in unimplemented {
        let r = report.get(id).unwrap();
        assert!(r.notes[0].contains("declined") || r.notes[0].contains("offered no extension"));
        assert!(r.close.ends_with("1000 clean"), "{}", Report::row(r));
    }
    for id in KNOWN_NON_STRICT {
        let r = report.get(id).unwrap();
        assert!(
            r.notes.iter().any(|n| n.contains("not fail-fast")),
            "{id}: {:?}",
            r.notes
        );
    }
}

#[test]
fn tungstenite_server_is_judged_non_strict_on_fail_fast_cases() {
    let addr = start_tungstenite_echo_server();
    let report = run_server_suite(&format!("ws://{addr}"), &CaseFilter::quick());
    assert!(report.results.len() > 250, "{}", report.summary());
    check_tungstenite_report(&report);
}

#[test]
fn tungstenite_client_is_judged_non_strict_on_fail_fast_cases() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let client = std::thread::spawn(move || run_tungstenite_autobahn_client(&base, "tungstenite"));
    let report = run_client_suite(&listener, &CaseFilter::quick());
    client.join().unwrap();
    assert_eq!(report.target, "client \"tungstenite\"");
    assert!(report.results.len() > 250, "{}", report.summary());
    check_tungstenite_report(&report);
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ws-conformance"))
}

#[test]
fn binary_reports_non_strict_cases_of_a_tungstenite_server_and_exits_non_zero() {
    let addr = start_tungstenite_echo_server();
    let url = format!("ws://{addr}");
    let out = bin()
        .args([
            url.as_str(),
            "--cases",
            "1.1,5.3,6.4,7.9.1",
            "--fail-fast-pause-ms",
            "500",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for id in KNOWN_NON_STRICT {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(id) && l.contains("NON-STRICT")),
            "{id} not reported NON-STRICT:\n{stdout}"
        );
    }
    for id in ["1.1.1", "1.1.8", "5.3", "6.4.1", "6.4.2", "7.9.1"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{id} ")) && l.contains(" OK ")),
            "{id} not reported OK:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("14 cases: 12 OK, 2 NON-STRICT, 0 FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL (strict profile): 2 case(s): 6.4.3 6.4.4"),
        "{stdout}"
    );

    // The lenient profile accepts NON-STRICT.
    let out = bin()
        .args([
            url.as_str(),
            "--cases",
            "6.4.3",
            "--lenient",
            "--fail-fast-pause-ms",
            "500",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn binary_reports_declined_compression_as_unimplemented_not_a_failure_by_default() {
    let addr = start_tungstenite_echo_server();
    let url = format!("ws://{addr}");
    let run = |extra: &[&str]| {
        let mut args = vec![url.as_str(), "--cases", "12.1,13.7,1.1.1"];
        args.extend_from_slice(extra);
        let out = bin().args(&args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, stdout) = run(&[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout
            .contains("37 cases: 1 OK, 0 NON-STRICT, 0 FAILED, 0 INFORMATIONAL, 36 UNIMPLEMENTED"),
        "{stdout}"
    );
    for id in ["12.1.1", "12.1.18", "13.7.1", "13.7.18"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(id) && l.contains("UNIMPLEMENTED")),
            "{id}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains(" 12: 18 cases: 18 UNIMPLEMENTED"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" 13: 18 cases: 18 UNIMPLEMENTED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PASS (strict profile; 36 UNIMPLEMENTED"),
        "{stdout}"
    );
    let (code, stdout) = run(&["--require-compression"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL (strict, compression required profile): 36 case(s): 12.1.1 12.1.2"),
        "{stdout}"
    );
}

#[test]
fn binary_serve_mode_judges_a_tungstenite_client() {
    let mut child = bin()
        .args([
            "--serve",
            "127.0.0.1:0",
            "--cases",
            "2,6.4",
            "--idle-timeout",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    run_tungstenite_autobahn_client(&base, "tungstenite-bin");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("client \"tungstenite-bin\": 15 cases: 13 OK, 2 NON-STRICT"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL (strict profile): 2 case(s): 6.4.3 6.4.4"),
        "{stdout}"
    );
}

#[test]
fn binary_usage_errors_exit_2_and_list_prints_the_table() {
    let out = bin().args(["http://x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["--list", "--cases", "9"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 2 * 54, "{stdout}");
    assert!(stdout.contains("9.3.1    Send text message of 4 MiB in 65536 fragments of 64 bytes."));
}

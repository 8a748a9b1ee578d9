//! The conformance suite against our implementation: ws-proto's echo-server example (suite as
//! client) and autobahn-client example (suite as the fuzzing server), strict profile.
//!
//! Every case must be OK (or INFORMATIONAL), except the known deviations listed below, which
//! are real findings against ws-proto as it stands (see `KNOWN_DEVIATIONS`). The list must
//! only shrink: a case outside it that is not OK fails the test. That includes the reduced
//! sections 12-13: ws-proto negotiates permessage-deflate in both roles and every compressed
//! message must round-trip (UNIMPLEMENTED would fail).

// Both examples include their shared `blocking` driver module; their lints are checked in
// ws-proto's own `cargo clippy --all-targets`, not here.
#![allow(clippy::duplicate_mod)]

#[path = "../../ws-proto/examples/echo-server.rs"]
#[allow(dead_code, clippy::all)]
mod echo_server;

#[path = "../../ws-proto/examples/autobahn-client.rs"]
#[allow(dead_code, clippy::all)]
mod autobahn_client;

mod conformance_support;

use std::net::TcpListener;

use conformance_support::{run_client_suite, run_server_suite};
use tests::conformance::{CaseFilter, Outcome, Report};

/// Known deviations from the strict profile, with the outcomes seen: none. (A message
/// followed in the same read by a Close or an invalid frame used to go unanswered; the
/// connection now applies a Close or a failure only once the events before it were taken.)
const KNOWN_DEVIATIONS: &[(&str, &[Outcome])] = &[];

const INFORMATIONAL: [&str; 3] = ["7.1.6", "7.13.1", "7.13.2"];

/// Checks every case against the strict profile, allowing only the known deviations.
fn check(report: &Report) {
    println!("{report}{}", report.section_summary());
    assert!(report.results.len() > 250, "{}", report.summary());
    // Sections 12-13 ran (reduced: 2 cases per subsection of 12, 3 of 13) and must all be OK, with
    // permessage-deflate in force and ws-proto compressing its echoes.
    let compression: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.id.starts_with("12.") || r.id.starts_with("13."))
        .collect();
    assert_eq!(compression.len(), 5 * 2 + 7 * 3, "{}", report.summary());
    assert!(
        report.passed_requiring_compression(true),
        "{}",
        report.summary()
    );
    let unexpected: Vec<String> = report
        .results
        .iter()
        .filter(|r| {
            let allowed: &[Outcome] = if INFORMATIONAL.contains(&r.id.as_str()) {
                &[Outcome::Informational]
            } else if let Some((_, a)) = KNOWN_DEVIATIONS.iter().find(|(id, _)| *id == r.id) {
                a
            } else {
                &[Outcome::Ok]
            };
            !allowed.contains(&r.outcome)
        })
        .map(Report::row)
        .collect();
    assert!(
        unexpected.is_empty(),
        "{}\nunexpected outcomes:\n{}",
        report.summary(),
        unexpected.join("\n")
    );
    for r in report.failures(true) {
        assert!(
            KNOWN_DEVIATIONS.iter().any(|(id, _)| *id == r.id),
            "{}",
            Report::row(r)
        );
    }
}

#[test]
fn ws_proto_echo_server_strict_profile() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || echo_server::serve(listener));
    let report = run_server_suite(&format!("ws://{addr}"), &CaseFilter::quick());
    check(&report);
}

#[test]
fn ws_proto_autobahn_client_strict_profile() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let client = std::thread::spawn(move || {
        autobahn_client::run(&base, "ws-proto").map_err(|e| e.to_string())
    });
    let report = run_client_suite(&listener, &CaseFilter::quick());
    let ran = client.join().unwrap();
    assert_eq!(report.target, "client \"ws-proto\"");
    check(&report);
    ran.unwrap();
}

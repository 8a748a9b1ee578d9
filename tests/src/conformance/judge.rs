//! Judging: what the implementation under test did, compared with a case's expectation.
//!
//! The rules, as the reference suite publishes them:
//! - the messages and pongs received must equal the expected sequence (OK), or an
//!   alternative the reference allows (NON-STRICT); anything else is FAILED;
//! - the right endpoint must start the close: the suite after an exchange, the
//!   implementation under test when it must fail the connection;
//! - the peer's close code, when it sends one, must be one of the expected codes (a close
//!   frame without a code is accepted), and the close must be clean where required;
//! - a "fail fast" case (6.4.x) is OK only if the connection was failed before the script
//!   reached a given step; failing later is NON-STRICT;
//! - informational cases are recorded, never judged;
//! - anything the peer sends that breaks RFC 6455 fails the case.

use std::time::Duration;

use super::cases::{Case, Ev};
use super::report::{CaseResult, Outcome};
use super::runner::Role;

/// Everything the runner recorded during one case.
#[derive(Debug, Default)]
pub(crate) struct Observation {
    /// Index of the step being played (`steps.len()` after the script).
    pub step: usize,
    /// Messages and pongs from the peer, in order.
    pub events: Vec<Ev>,
    /// The peer's close frame: code and reason.
    pub peer_close: Option<(Option<u16>, Vec<u8>)>,
    /// The TCP stream ended.
    pub eof: bool,
    /// It ended by a reset or an error rather than an orderly close.
    pub reset: bool,
    /// The suite gave up on the connection after a protocol violation by the peer.
    pub aborted: bool,
    /// The suite sent a close frame.
    pub suite_sent_close: bool,
    /// Who closed first: `Some(true)` the suite, `Some(false)` the peer.
    pub suite_closed_first: Option<bool>,
    /// The step during which the peer's close (or TCP drop) was first seen.
    pub gone_at_step: Option<usize>,
    /// Protocol violations in what the peer sent.
    pub violations: Vec<String>,
    /// Remarks for the report.
    pub notes: Vec<String>,
    /// A write failed (typically the peer had dropped the connection).
    pub write_error: Option<String>,
    /// Suite as client: the server kept the TCP connection open after the closing handshake.
    pub server_kept_tcp: bool,
    /// Duration of the case.
    pub elapsed: Duration,
    /// Messages that arrived compressed (permessage-deflate).
    pub compressed: usize,
}

fn worse(a: Outcome, b: Outcome) -> Outcome {
    fn rank(o: Outcome) -> u8 {
        match o {
            Outcome::Ok | Outcome::Informational => 0,
            Outcome::NonStrict => 1,
            Outcome::Unimplemented => 2,
            Outcome::Failed => 3,
        }
    }
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn show(events: &[Ev]) -> String {
    if events.len() > 4 {
        let same = events.iter().all(|e| *e == events[0]);
        if same {
            return format!("{} x {:?}", events.len(), events[0]);
        }
        return format!(
            "{} events, first {:?}, last {:?}",
            events.len(),
            events[0],
            events[events.len() - 1]
        );
    }
    format!("{events:?}")
}

/// Judges one case.
pub(crate) fn judge(case: &Case, role: Role, obs: Observation) -> CaseResult {
    let e = &case.expect;
    let mut notes = obs.notes.clone();
    let mut outcome = Outcome::Ok;

    for v in &obs.violations {
        notes.insert(0, format!("peer broke the protocol: {v}"));
        outcome = Outcome::Failed;
    }

    // Messages and pongs.
    if obs.events == e.ok {
    } else if e.non_strict.contains(&obs.events) {
        outcome = worse(outcome, Outcome::NonStrict);
        notes.push(format!(
            "got {}; strict behaviour is {}",
            show(&obs.events),
            show(&e.ok)
        ));
    } else {
        outcome = Outcome::Failed;
        notes.push(format!(
            "expected {}, got {}",
            show(&e.ok),
            show(&obs.events)
        ));
    }

    // Who closed, how, and with which code.
    let closed_by_suite = obs.suite_closed_first == Some(true);
    let clean = obs.suite_sent_close
        && obs.peer_close.is_some()
        && !obs.reset
        && !obs.aborted
        && !obs.server_kept_tcp
        && (role == Role::Server || obs.eof);
    let peer_code = obs.peer_close.as_ref().and_then(|(c, _)| *c);
    if closed_by_suite != e.close.by_suite {
        outcome = Outcome::Failed;
        if e.close.by_suite {
            notes.push(match peer_code {
                Some(c) => format!("peer closed the connection (code {c}) when it should not"),
                None => "peer closed the connection when it should not".to_string(),
            });
        } else if !notes.iter().any(|n| n.starts_with("peer did not fail")) {
            notes.push("peer did not fail the connection".to_string());
        }
    } else if e.close.require_clean && !clean {
        outcome = Outcome::Failed;
        notes.push("the close was not clean (close frames both ways, then TCP closed)".into());
    }
    if let Some(c) = peer_code {
        if !e.close.codes.contains(&c) {
            outcome = Outcome::Failed;
            notes.push(format!(
                "close code {c}, expected {:?} or none",
                e.close.codes
            ));
        }
    }

    // Fail fast.
    if let (Some(k), false) = (e.fail_before_step, e.close.by_suite) {
        if let Some(g) = obs.gone_at_step {
            if g >= k && outcome == Outcome::Ok {
                outcome = Outcome::NonStrict;
                notes.push(
                    "the connection was failed only after the rest of the message was sent \
                     (not fail-fast)"
                        .into(),
                );
            }
        }
    }

    if let Some(w) = &obs.write_error {
        if !closed_by_suite || outcome != Outcome::Ok {
            notes.push(format!("a write failed: {w}"));
        }
    }

    if e.informational {
        notes.insert(
            0,
            format!(
                "behaviour is not defined by the RFC; got {} and close {}",
                show(&obs.events),
                match peer_code {
                    Some(c) => c.to_string(),
                    None => "without code".into(),
                }
            ),
        );
        outcome = Outcome::Informational;
    }

    let close = format!(
        "{} {} {}",
        if closed_by_suite { "suite" } else { "peer" },
        match (&obs.peer_close, peer_code) {
            (Some(_), Some(c)) => c.to_string(),
            (Some(_), None) => "-".to_string(),
            (None, _) => "none".to_string(),
        },
        if clean {
            "clean"
        } else if obs.peer_close.is_none() {
            "dropped"
        } else {
            "unclean"
        }
    );
    CaseResult {
        id: case.id.clone(),
        description: case.description.clone(),
        outcome,
        close,
        elapsed: obs.elapsed,
        performance: case.performance,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::cases::{CloseExpect, Expect};

    fn case(expect: Expect) -> Case {
        Case {
            id: "x".into(),
            description: String::new(),
            steps: vec![],
            expect,
            performance: false,
            deflate: None,
        }
    }

    fn clean_close_by_suite(events: Vec<Ev>) -> Observation {
        Observation {
            events,
            peer_close: Some((Some(1000), vec![])),
            eof: true,
            suite_sent_close: true,
            suite_closed_first: Some(true),
            ..Observation::default()
        }
    }

    fn failed_by_peer(code: Option<u16>, at: usize) -> Observation {
        Observation {
            peer_close: code.map(|c| (Some(c), vec![])),
            eof: true,
            suite_sent_close: code.is_some(),
            suite_closed_first: Some(false),
            gone_at_step: Some(at),
            ..Observation::default()
        }
    }

    #[test]
    fn echo_ok_mismatch_and_unclean() {
        let c = case(Expect::echo(vec![Ev::Text(b"a".to_vec())]));
        let r = judge(
            &c,
            Role::Client,
            clean_close_by_suite(vec![Ev::Text(b"a".to_vec())]),
        );
        assert_eq!(r.outcome, Outcome::Ok, "{:?}", r.notes);
        let r = judge(
            &c,
            Role::Client,
            clean_close_by_suite(vec![Ev::Text(b"b".to_vec())]),
        );
        assert_eq!(r.outcome, Outcome::Failed);
        let mut o = clean_close_by_suite(vec![Ev::Text(b"a".to_vec())]);
        o.eof = false;
        o.server_kept_tcp = true;
        assert_eq!(judge(&c, Role::Client, o).outcome, Outcome::Failed);
        // As a server the suite closes TCP itself: no EOF needed.
        let mut o = clean_close_by_suite(vec![Ev::Text(b"a".to_vec())]);
        o.eof = false;
        assert_eq!(judge(&c, Role::Server, o).outcome, Outcome::Ok);
    }

    #[test]
    fn failing_the_connection_codes_and_drops() {
        let c = case(Expect::fail(vec![], &[1002]));
        assert_eq!(
            judge(&c, Role::Client, failed_by_peer(Some(1002), 0)).outcome,
            Outcome::Ok
        );
        // Dropping TCP is allowed where a clean close is not required.
        assert_eq!(
            judge(&c, Role::Client, failed_by_peer(None, 0)).outcome,
            Outcome::Ok
        );
        assert_eq!(
            judge(&c, Role::Client, failed_by_peer(Some(1000), 0)).outcome,
            Outcome::Failed
        );
        // The peer did not fail the connection: the suite had to close.
        let r = judge(&c, Role::Client, clean_close_by_suite(vec![]));
        assert_eq!(r.outcome, Outcome::Failed);
    }

    #[test]
    fn fail_fast_late_is_non_strict() {
        let mut e = Expect::fail(vec![], &[1007]);
        e.fail_before_step = Some(4);
        let c = case(e);
        assert_eq!(
            judge(&c, Role::Client, failed_by_peer(Some(1007), 3)).outcome,
            Outcome::Ok
        );
        let r = judge(&c, Role::Client, failed_by_peer(Some(1007), 4));
        assert_eq!(r.outcome, Outcome::NonStrict);
        let r = judge(&c, Role::Client, failed_by_peer(Some(1007), 5));
        assert_eq!(r.outcome, Outcome::NonStrict);
    }

    #[test]
    fn alternative_events_are_non_strict_and_violations_fail() {
        let c = case(Expect::fail(vec![Ev::Text(b"a".to_vec())], &[1002]).or_non_strict(vec![]));
        assert_eq!(
            judge(&c, Role::Client, failed_by_peer(Some(1002), 0)).outcome,
            Outcome::NonStrict
        );
        let mut o = failed_by_peer(Some(1002), 0);
        o.events = vec![Ev::Text(b"a".to_vec())];
        assert_eq!(judge(&c, Role::Client, o).outcome, Outcome::Ok);
        let mut o = failed_by_peer(Some(1002), 0);
        o.events = vec![Ev::Text(b"a".to_vec())];
        o.violations.push("server sent a masked frame".into());
        assert_eq!(judge(&c, Role::Client, o).outcome, Outcome::Failed);
    }

    #[test]
    fn informational_is_never_judged() {
        let mut e = Expect::echo(vec![]);
        e.informational = true;
        e.close = CloseExpect::peer_fails(&[1002]);
        let r = judge(&case(e), Role::Client, failed_by_peer(Some(1000), 0));
        assert_eq!(r.outcome, Outcome::Informational);
    }
}

//! The transition table: every state, every input, both roles.

use super::*;
use alloc::string::ToString;
use alloc::vec::Vec;

const T0: Instant = Instant::from_secs(1);
const NOW: Instant = Instant::from_secs(2);
const DEADLINE: Instant = Instant::from_secs(6);
const LATE: Instant = Instant::from_secs(7);

fn rules(role: Role) -> Rules {
    Rules {
        role,
        close_timeout: Duration::from_secs(5),
        keepalive: None,
    }
}

fn state(phase: Phase, input_open: bool) -> State {
    State {
        phase,
        input_open,
        last_input: T0,
        last_ping: T0,
    }
}

fn bye() -> Option<CloseFrame> {
    Some(CloseFrame {
        code: CloseCode::NORMAL,
        reason: "bye".to_string(),
    })
}

fn clean(code: CloseCode, reason: &str) -> Closed {
    Closed {
        code,
        reason: reason.to_string(),
        clean: true,
    }
}

fn unclean(code: CloseCode) -> Closed {
    Closed {
        code,
        reason: String::new(),
        clean: false,
    }
}

/// The states, by name.
fn states() -> [(&'static str, State); 6] {
    [
        ("open", state(Phase::Open, true)),
        ("open, input stopped", state(Phase::Open, false)),
        (
            "close sent",
            state(Phase::CloseSent { deadline: DEADLINE }, true),
        ),
        (
            "close sent, input stopped",
            state(Phase::CloseSent { deadline: DEADLINE }, false),
        ),
        (
            "awaiting eof",
            state(
                Phase::AwaitingEof {
                    deadline: DEADLINE,
                    closed: clean(CloseCode::NORMAL, "bye"),
                },
                false,
            ),
        ),
        ("finished", state(Phase::Finished, false)),
    ]
}

/// The inputs, by name.
fn inputs() -> [(&'static str, Input); 11] {
    [
        ("received", Input::Received(NOW)),
        ("local close", Input::LocalClose(NOW)),
        ("ping sent", Input::PingSent(NOW)),
        ("close read", Input::CloseRead),
        ("violation read", Input::ViolationRead),
        ("peer close 1000", Input::PeerClose(bye())),
        ("peer close empty", Input::PeerClose(None)),
        ("fail 1002", Input::Fail(CloseCode::PROTOCOL_ERROR)),
        ("eof", Input::Eof),
        ("timeout early", Input::Timeout(NOW)),
        ("timeout late", Input::Timeout(LATE)),
    ]
}

/// The expected outcome of every (state, input, role), written out.
fn expected(st: &str, input: &str, role: Role) -> (State, Actions) {
    let server = role == Role::Server;
    let none = Actions::default();
    let s = |phase: Phase, input_open: bool| state(phase, input_open);
    let close_sent = || Phase::CloseSent { deadline: DEADLINE };
    // A close started at NOW waits until NOW + close_timeout.
    let closing_now = || Phase::CloseSent {
        deadline: NOW + Duration::from_secs(5),
    };
    let awaiting = |deadline: Instant, closed: Closed| Phase::AwaitingEof { deadline, closed };
    let finished = |closed: Closed, send_close: Option<Option<CloseCode>>, discard: bool| {
        (
            s(Phase::Finished, false),
            Actions {
                send_close,
                discard_message: discard,
                closed: Some(closed),
                ..Actions::default()
            },
        )
    };
    // The peer's Close, answered (`echo`) or not: a server finishes, a client waits for EOF.
    let peer_close = |frame: Option<CloseFrame>, echo: bool, deadline: Instant| {
        let closed = match &frame {
            Some(f) => clean(f.code, &f.reason),
            None => clean(CloseCode::NO_STATUS, ""),
        };
        let actions = Actions {
            send_close: echo.then(|| frame.as_ref().map(|f| f.code)),
            discard_message: true,
            close_received: Some(frame.clone()),
            closed: server.then(|| closed.clone()),
            ..Actions::default()
        };
        let next = if server {
            s(Phase::Finished, false)
        } else {
            s(awaiting(deadline, closed), false)
        };
        (next, actions)
    };
    let with_input = |mut st: State| {
        st.last_input = NOW;
        st
    };
    let with_ping = |mut st: State| {
        st.last_ping = NOW;
        st
    };
    let abnormal = || unclean(CloseCode::ABNORMAL);
    let echo_deadline = T0 + Duration::from_secs(5);
    match (st, input) {
        // Finished absorbs everything.
        ("finished", _) => (s(Phase::Finished, false), none),

        ("open", "received") => (with_input(s(Phase::Open, true)), none),
        ("open", "local close") => (s(closing_now(), true), none),
        ("open", "ping sent") => (with_ping(s(Phase::Open, true)), none),
        ("open", "close read" | "violation read") => (s(Phase::Open, false), none),
        ("open" | "open, input stopped", "peer close 1000") => {
            peer_close(bye(), true, echo_deadline)
        }
        ("open" | "open, input stopped", "peer close empty") => {
            peer_close(None, true, echo_deadline)
        }
        ("open" | "open, input stopped", "fail 1002") => finished(
            unclean(CloseCode::PROTOCOL_ERROR),
            Some(Some(CloseCode::PROTOCOL_ERROR)),
            true,
        ),
        ("open" | "open, input stopped", "eof") => finished(abnormal(), None, true),
        // No keepalive: no timer in Open.
        ("open", "timeout early" | "timeout late") => (s(Phase::Open, true), none),

        ("open, input stopped", "received") => (with_input(s(Phase::Open, false)), none),
        ("open, input stopped", "local close") => (s(closing_now(), false), none),
        ("open, input stopped", "ping sent") => (with_ping(s(Phase::Open, false)), none),
        ("open, input stopped", "close read" | "violation read") => (s(Phase::Open, false), none),
        ("open, input stopped", "timeout early" | "timeout late") => (s(Phase::Open, false), none),

        ("close sent", "received") => (with_input(s(close_sent(), true)), none),
        ("close sent" | "close sent, input stopped", "local close") => {
            (s(close_sent(), st == "close sent"), none)
        }
        ("close sent", "ping sent") => (with_ping(s(close_sent(), true)), none),
        ("close sent" | "close sent, input stopped", "close read" | "violation read") => {
            (s(close_sent(), false), none)
        }
        ("close sent" | "close sent, input stopped", "peer close 1000") => {
            peer_close(bye(), false, DEADLINE)
        }
        ("close sent" | "close sent, input stopped", "peer close empty") => {
            peer_close(None, false, DEADLINE)
        }
        ("close sent" | "close sent, input stopped", "fail 1002") => {
            finished(unclean(CloseCode::PROTOCOL_ERROR), None, true)
        }
        ("close sent" | "close sent, input stopped", "eof") => finished(abnormal(), None, true),
        ("close sent" | "close sent, input stopped", "timeout early") => {
            (s(close_sent(), st == "close sent"), none)
        }
        ("close sent" | "close sent, input stopped", "timeout late") => {
            finished(abnormal(), None, true)
        }
        ("close sent, input stopped", "received") => (with_input(s(close_sent(), false)), none),
        ("close sent, input stopped", "ping sent") => (with_ping(s(close_sent(), false)), none),

        ("awaiting eof", "received") => (
            with_input(s(
                awaiting(DEADLINE, clean(CloseCode::NORMAL, "bye")),
                false,
            )),
            none,
        ),
        ("awaiting eof", "ping sent") => (
            with_ping(s(
                awaiting(DEADLINE, clean(CloseCode::NORMAL, "bye")),
                false,
            )),
            none,
        ),
        // Unreachable in practice (nothing is read while awaiting EOF), and a failure then
        // ends the connection like any other.
        ("awaiting eof", "fail 1002") => finished(unclean(CloseCode::PROTOCOL_ERROR), None, true),
        ("awaiting eof", "eof" | "timeout late") => {
            finished(clean(CloseCode::NORMAL, "bye"), None, false)
        }
        ("awaiting eof", _) => (
            s(awaiting(DEADLINE, clean(CloseCode::NORMAL, "bye")), false),
            none,
        ),
        (st, input) => panic!("no expectation for {st} / {input}"),
    }
}

#[test]
fn transition_table_covers_every_state_and_input_in_both_roles() {
    let mut checked = 0;
    for role in [Role::Client, Role::Server] {
        for (st_name, st) in states() {
            for (input_name, input) in inputs() {
                let got = next(&st, input, &rules(role));
                let want = expected(st_name, input_name, role);
                assert_eq!(got, want, "{role:?}: {st_name} --{input_name}-->");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 6 * 11);
}

#[test]
fn entering_finished_says_how_it_ended_exactly_once() {
    // Whatever the path, `closed` is reported on the transition into Finished and never again.
    for role in [Role::Client, Role::Server] {
        for (_, st) in states() {
            for (_, first) in inputs() {
                let (mid, a) = next(&st, first, &rules(role));
                assert_eq!(
                    a.closed.is_some(),
                    !st.is_finished() && mid.is_finished(),
                    "{role:?} {st:?}"
                );
                for (_, second) in inputs() {
                    let (_, b) = next(&mid, second, &rules(role));
                    if mid.is_finished() {
                        assert_eq!(b, Actions::default());
                    }
                }
            }
        }
    }
}

#[test]
fn keepalive_pings_when_quiet_and_gives_up_when_silent() {
    let rules = Rules {
        role: Role::Server,
        close_timeout: Duration::from_secs(5),
        keepalive: Some(Keepalive {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }),
    };
    let open = State::open(Instant::ZERO);
    assert_eq!(open.deadline(&rules), Some(Instant::from_secs(10)));
    let cases: Vec<(Instant, Option<Instant>, bool, bool)> = [
        // (now, the state's last ping after, ping sent, finished)
        (Instant::from_secs(5), None, false, false),
        (
            Instant::from_secs(10),
            Some(Instant::from_secs(10)),
            true,
            false,
        ),
        (Instant::from_secs(30), None, false, true),
    ]
    .into_iter()
    .collect();
    for (now, ping_at, pinged, finished) in cases {
        let (s, a) = next(&open, Input::Timeout(now), &rules);
        assert_eq!(a.send_ping, pinged, "{now}");
        assert_eq!(s.is_finished(), finished, "{now}");
        if let Some(at) = ping_at {
            assert_eq!(s.last_ping, at);
            // The next ping is an interval after this one.
            assert_eq!(s.deadline(&rules), Some(Instant::from_secs(20)));
        }
        if finished {
            assert_eq!(a.closed, Some(unclean(CloseCode::ABNORMAL)));
            assert!(a.discard_message);
            assert_eq!(a.send_close, None, "a dead peer gets no Close");
        }
    }
    // Input resets the clock.
    let (s, _) = next(&open, Input::Received(Instant::from_secs(8)), &rules);
    assert_eq!(s.deadline(&rules), Some(Instant::from_secs(18)));
}

#[test]
fn deadlines_of_each_phase() {
    let r = rules(Role::Client);
    for (name, st) in states() {
        let want = match name {
            "close sent" | "close sent, input stopped" | "awaiting eof" => Some(DEADLINE),
            _ => None,
        };
        assert_eq!(st.deadline(&r), want, "{name}");
        assert_eq!(
            st.reads(),
            matches!(name, "open" | "close sent"),
            "reads in {name}"
        );
        assert_eq!(
            st.can_send(),
            name.starts_with("open"),
            "can send in {name}"
        );
    }
}

#[test]
fn received_in_place_is_next() {
    // `State::received` (the connection's path for every read) agrees with `next` on
    // `Input::Received` in every state and role, with the input's instant before, at and after
    // the last input, and has no actions to drop.
    for role in [Role::Client, Role::Server] {
        for (name, st) in states() {
            for at in [Instant::from_micros(0), NOW, LATE] {
                let (want, actions) = next(&st, Input::Received(at), &rules(role));
                assert_eq!(actions, Actions::default(), "{role:?}: {name}");
                let mut got = st.clone();
                got.received(at);
                assert_eq!(got, want, "{role:?}: {name} at {at:?}");
            }
        }
    }
}

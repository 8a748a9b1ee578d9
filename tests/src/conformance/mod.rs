//! A WebSocket conformance suite (RFC 6455, RFC 7692) in Rust: a byte-level test peer that
//! plays the cases of the reference suite's (Autobahn testsuite) sections 1-7, 9, 10, 12 and
//! 13 (permessage-deflate) against an implementation under test, in either role, and judges
//! them the way the reference does.
//!
//! - [`run_against_server`]: the suite is the client; every case opens its own connection
//!   to the server under test, which must echo every message.
//! - [`serve_for_client`]: the suite is a server speaking the reference's fuzzing-server
//!   URL scheme (`/getCaseCount`, `/runCase?case=N&agent=A`, `/updateReports`), so a
//!   standard Autobahn testee client can be judged.
//!
//! The peer never uses a WebSocket library: it writes raw frames (including deliberately
//! malformed ones) and reads the peer's frames strictly.
//!
//! ```no_run
//! use tests::conformance::{run_against_server, CaseFilter};
//! let report = run_against_server("ws://127.0.0.1:9001", &CaseFilter::parse("1,2,6.4")).unwrap();
//! println!("{report}");
//! assert!(report.passed(true), "strict profile failed");
//! ```

pub mod cases;
pub mod deflate;
pub mod frame;
mod fuzzing_server;
pub mod handshake;
mod judge;
pub mod report;
pub mod runner;

use std::net::TcpListener;
use std::time::Duration;

pub use cases::{all_cases, Case, CaseEntry};
pub use report::{CaseResult, Outcome, Report};
pub use runner::{Config, Role};

use handshake::{connect_with, Nonce, WsUrl};

/// Which cases to run: include patterns (empty = all) minus exclude patterns.
///
/// A pattern is a case number or a prefix of one on dot boundaries: `6` matches every
/// case of section 6, `6.4` matches 6.4.1-6.4.4, `9.1.6` only that case. A trailing `.*`
/// or `*` is ignored (`6.4.*` = `6.4`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFilter {
    include: Vec<String>,
    exclude: Vec<String>,
}

fn clean_pattern(p: &str) -> String {
    p.trim()
        .trim_end_matches('*')
        .trim_end_matches('.')
        .to_string()
}

fn pattern_matches(pattern: &str, id: &str) -> bool {
    id == pattern || (id.starts_with(pattern) && id.as_bytes().get(pattern.len()) == Some(&b'.'))
}

impl CaseFilter {
    /// Every case.
    pub fn all() -> Self {
        CaseFilter::default()
    }
    /// Cases matching any of the comma-separated patterns.
    pub fn parse(include: &str) -> Self {
        CaseFilter::default().include(include)
    }
    /// Adds comma-separated include patterns.
    pub fn include(mut self, patterns: &str) -> Self {
        self.include.extend(
            patterns
                .split(',')
                .map(clean_pattern)
                .filter(|p| !p.is_empty()),
        );
        self
    }
    /// Adds comma-separated exclude patterns.
    pub fn exclude(mut self, patterns: &str) -> Self {
        self.exclude.extend(
            patterns
                .split(',')
                .map(clean_pattern)
                .filter(|p| !p.is_empty()),
        );
        self
    }
    /// Every case, with section 9 reduced to a fast but still meaningful subset (used under
    /// `cargo test`): one-frame messages of 64 KiB to 4 MiB and the 16 MiB limit
    /// (9.1.1-9.1.4, 9.1.6 and the same in 9.2); 4 MiB messages in 65,536 fragments of 64
    /// bytes, in 4 KiB, 64 KiB and in one 4 MiB fragment (9.3.1, 9.3.4, 9.3.6, 9.3.9 and the
    /// same in 9.4); 1 MiB written in 64-byte chops (9.5.1, 9.6.1); 1000 round trips of
    /// empty messages (9.7.1, 9.8.1). Sections 12 and 13: in every subsection (each payload
    /// kind, each parameter set) 1000 messages of 64 bytes and 16 of 32 KiB in 256-byte
    /// frames, and in 13 also 8 of 64 KiB in one frame ([`cases::QUICK_SECTION12_CASES`],
    /// [`cases::QUICK_SECTION13_CASES`]).
    pub fn quick() -> Self {
        let mut f = CaseFilter::all().exclude(
            "9.1.5,9.2.5,9.3.2,9.3.3,9.3.5,9.3.7,9.3.8,9.4.2,9.4.3,9.4.5,9.4.7,9.4.8,\
             9.5.2,9.5.3,9.5.4,9.5.5,9.5.6,9.6.2,9.6.3,9.6.4,9.6.5,9.6.6,\
             9.7.2,9.7.3,9.7.4,9.7.5,9.7.6,9.8.2,9.8.3,9.8.4,9.8.5,9.8.6",
        );
        for (section, subsections, keep) in [
            (12, 5, &cases::QUICK_SECTION12_CASES[..]),
            (13, 7, &cases::QUICK_SECTION13_CASES[..]),
        ] {
            for sub in 1..=subsections {
                for case in 1..=18 {
                    if !keep.contains(&case) {
                        f.exclude.push(format!("{section}.{sub}.{case}"));
                    }
                }
            }
        }
        f
    }
    /// Whether case `id` is selected.
    pub fn matches(&self, id: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| pattern_matches(p, id)))
            && !self.exclude.iter().any(|p| pattern_matches(p, id))
    }
    /// The selected cases, in table order.
    pub fn select(&self) -> Vec<CaseEntry> {
        all_cases()
            .into_iter()
            .filter(|c| self.matches(&c.id))
            .collect()
    }
}

/// Runs the selected cases against the server at `url` (`ws://host:port/path`), with the
/// default time limits.
pub fn run_against_server(url: &str, filter: &CaseFilter) -> Result<Report, String> {
    run_against_server_with(url, filter, &Config::default(), &mut |_| {})
}

/// Like [`run_against_server`], with explicit time limits and a callback per finished case.
pub fn run_against_server_with(
    url: &str,
    filter: &CaseFilter,
    config: &Config,
    progress: &mut dyn FnMut(&CaseResult),
) -> Result<Report, String> {
    let url = WsUrl::parse(url)?;
    let mut nonce = Nonce::from_clock();
    let mut results = Vec::new();
    for entry in filter.select() {
        let case = entry.build();
        let offer = case.deflate.as_ref().map(|n| n.offer_header());
        let r = match connect_with(&url, &mut nonce, config.handshake_timeout, offer.as_deref()) {
            Ok((stream, rest, answer)) => {
                let key = nonce.mask_key();
                match case
                    .deflate
                    .as_ref()
                    .map(|n| deflate::check_answer(n, answer.as_deref()))
                {
                    None => runner::run_case(stream, rest, Role::Client, &case, config, key),
                    Some(Ok(Some(agreed))) => {
                        let mut r = runner::run_case_with(
                            stream,
                            rest,
                            Role::Client,
                            &case,
                            config,
                            key,
                            Some(&agreed),
                        );
                        r.notes
                            .push(format!("permessage-deflate: {}", agreed.describe()));
                        r
                    }
                    Some(Ok(None)) => runner::run_declined(
                        stream,
                        rest,
                        Role::Client,
                        &case,
                        config,
                        key,
                        format!(
                            "the server declined permessage-deflate (offered {:?})",
                            offer.as_deref().unwrap_or("")
                        ),
                    ),
                    Some(Err(e)) => {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                        CaseResult::failed(
                            &case.id,
                            &case.description,
                            format!("handshake: invalid permessage-deflate answer: {e}"),
                        )
                    }
                }
            }
            Err(e) => CaseResult::failed(&case.id, &case.description, format!("handshake: {e}")),
        };
        progress(&r);
        results.push(r);
    }
    Ok(Report {
        target: format!("server ws://{}{}", url.authority, url.path),
        results,
    })
}

/// Serves the selected cases to a client under test that connects to `listener` (see the
/// module docs for the URL scheme). Returns once the client requests `/updateReports`, or
/// after 30 s without a connection.
pub fn serve_for_client(listener: &TcpListener, filter: &CaseFilter) -> Report {
    serve_for_client_with(
        listener,
        filter,
        &Config::default(),
        Duration::from_secs(30),
        &mut |_| {},
    )
}

/// Like [`serve_for_client`], with explicit time limits, idle timeout and progress callback.
pub fn serve_for_client_with(
    listener: &TcpListener,
    filter: &CaseFilter,
    config: &Config,
    idle_timeout: Duration,
    progress: &mut dyn FnMut(&CaseResult),
) -> Report {
    let cases = filter.select();
    fuzzing_server::serve(listener, &cases, config, idle_timeout, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns() {
        let f = CaseFilter::parse("6.4.*, 1.1,9");
        assert!(f.matches("6.4.1") && f.matches("1.1.8") && f.matches("9.8.6"));
        assert!(!f.matches("6.40.1") && !f.matches("1.2.1") && !f.matches("10.1.1"));
        let f = CaseFilter::all().exclude("9");
        assert!(f.matches("10.1.1") && !f.matches("9.1.1"));
        let q = CaseFilter::quick();
        assert!(q.matches("9.3.1") && q.matches("9.1.6") && !q.matches("9.1.5"));
        assert!(q.matches("5.19") && !q.matches("9.7.6"));
        assert!(q.matches("12.3.13") && q.matches("13.7.9") && !q.matches("13.7.1"));
        assert!(!q.matches("12.3.9"));
        assert_eq!(
            q.select().iter().filter(|c| c.section() == "12").count(),
            5 * 2
        );
        assert_eq!(
            q.select().iter().filter(|c| c.section() == "13").count(),
            7 * 3
        );
    }
}

//! `ws-conformance`: run the WebSocket conformance suite against a server or a client.
//!
//! ```text
//! ws-conformance [OPTIONS] ws://HOST:PORT[/PATH]   # suite as client, judge a server
//! ws-conformance [OPTIONS] --serve HOST:PORT       # suite as server, judge a client
//! ws-conformance --list                            # print the case table
//! ```
//! Exit status: 0 when every case passes the profile, 1 when any fails, 2 on usage errors.
//! UNIMPLEMENTED (permessage-deflate declined, sections 12-13) fails only with
//! `--require-compression`.

use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use tests::conformance::{
    run_against_server_with, serve_for_client_with, CaseFilter, Config, Report,
};

const USAGE: &str = "\
usage: ws-conformance [OPTIONS] ws://HOST:PORT[/PATH]
       ws-conformance [OPTIONS] --serve HOST:PORT
       ws-conformance [OPTIONS] --list

Runs the WebSocket conformance suite (Autobahn testsuite sections 1-7, 9, 10, 12, 13).
With a URL the suite is the client: the server under test must echo every message.
With --serve the suite is an Autobahn-compatible fuzzing server
(/getCaseCount, /runCase?case=N&agent=A, /updateReports) for a testee client;
the table is printed when the client requests /updateReports.

options:
  --cases PATTERNS     only these cases (comma-separated: 6, 6.4, 6.4.1, 6.4.*)
  --exclude PATTERNS   skip these cases
  --quick              sections 9, 12 and 13 reduced to a fast subset (default: all)
  --lenient            NON-STRICT outcomes do not fail the run (default: strict profile)
  --require-compression
                       UNIMPLEMENTED (permessage-deflate declined in 12.x/13.x) fails
                       the run (default: reported, not a failure)
  --idle-timeout SECS  --serve: give up after SECS without a connection (default 300)
  --case-timeout SECS  time limit of a case in sections 1-7 and 10 (default 10)
  --fail-fast-pause-ms MS
                       pause between the parts of the 6.4.x cases (default 1000)
  --json PATH          also write the report as JSON to PATH
  --list               print the selected cases and exit
  -h, --help           this text";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ws-conformance: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<ExitCode, String> {
    let mut include = None;
    let mut exclude = Vec::new();
    let mut quick = false;
    let mut strict = true;
    let mut require_compression = false;
    let mut list = false;
    let mut serve = None;
    let mut json = None;
    let mut url = None;
    let mut idle = Duration::from_secs(300);
    let mut config = Config::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "--cases" => include = Some(value("--cases")?),
            "--exclude" => exclude.push(value("--exclude")?),
            "--quick" => quick = true,
            "--lenient" => strict = false,
            "--require-compression" => require_compression = true,
            "--list" => list = true,
            "--json" => json = Some(value("--json")?),
            "--serve" => serve = Some(value("--serve")?),
            "--idle-timeout" => idle = Duration::from_secs(secs(&value("--idle-timeout")?)?),
            "--case-timeout" => {
                config.case_timeout = Duration::from_secs(secs(&value("--case-timeout")?)?)
            }
            "--fail-fast-pause-ms" => {
                let v = value("--fail-fast-pause-ms")?;
                let ms = v
                    .parse()
                    .map_err(|_| format!("{v:?} is not a number of ms"))?;
                config.fail_fast_pause = Duration::from_millis(ms);
            }
            s if s.starts_with("ws://") => url = Some(s.to_string()),
            s => return Err(format!("unexpected argument {s:?}")),
        }
    }
    let mut filter = if quick {
        CaseFilter::quick()
    } else {
        CaseFilter::all()
    };
    if let Some(i) = include {
        filter = filter.include(&i);
    }
    for e in exclude {
        filter = filter.exclude(&e);
    }
    let selected = filter.select();
    if selected.is_empty() {
        return Err("no case matches the filter".into());
    }
    if list {
        for c in selected {
            println!(
                "{:<8} {}\n         expects: {}",
                c.id, c.description, c.expectation
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = match (url, serve) {
        (Some(u), None) => {
            println!("{}", Report::header());
            run_against_server_with(&u, &filter, &config, &mut |r| {
                println!("{}", Report::row(r));
                let _ = std::io::stdout().flush();
            })?
        }
        (None, Some(addr)) => {
            let listener =
                TcpListener::bind(&addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            eprintln!(
                "ws-conformance: serving {} cases on ws://{local} \
                 (/getCaseCount, /runCase?case=N&agent=A, /updateReports)",
                selected.len()
            );
            let mut n = 0usize;
            let report = serve_for_client_with(&listener, &filter, &config, idle, &mut |r| {
                n += 1;
                eprint!("\rcase {n}/{} ({})        ", selected.len(), r.id);
            });
            eprintln!();
            println!("{report}");
            report
        }
        (Some(_), Some(_)) => return Err("give either a URL or --serve, not both".into()),
        (None, None) => return Err("give a ws:// URL or --serve HOST:PORT".into()),
    };
    print!("{}", report.section_summary());
    println!("{}", report.summary());
    if let Some(path) = json {
        std::fs::write(&path, report.to_json()).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let failures = report.failures_requiring_compression(strict, require_compression);
    let profile = match (strict, require_compression) {
        (true, false) => "strict",
        (false, false) => "lenient",
        (true, true) => "strict, compression required",
        (false, true) => "lenient, compression required",
    };
    if failures.is_empty() {
        let unimplemented = report.count(tests::conformance::Outcome::Unimplemented);
        if unimplemented > 0 {
            println!(
                "PASS ({profile} profile; {unimplemented} UNIMPLEMENTED case(s): the peer \
                 declined permessage-deflate, not a failure without --require-compression)"
            );
        } else {
            println!("PASS ({profile} profile)");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        let ids: Vec<&str> = failures.iter().map(|r| r.id.as_str()).collect();
        println!(
            "FAIL ({profile} profile): {} case(s): {}",
            ids.len(),
            ids.join(" ")
        );
        Ok(ExitCode::from(1))
    }
}

fn secs(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))
}

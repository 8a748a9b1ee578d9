//! `sse-dump [--chunk-size N]`: shows what an EventSource would see in a `text/event-stream`.
//!
//! Reads the stream from standard input, feeds the parser at most N bytes at a time (default
//! 4096) and writes, in order, one JSON object per line: `{"event":..,"data":..,"id":..}` for
//! each dispatched event (id is the last event ID) and `{"retry":ms}` for each valid retry
//! field. Exit status 0 at end of input.
//!
//! ```sh
//! curl -sN https://example.com/stream | cargo run -p sse-proto --example sse-dump
//! ```

mod dump;

use std::io;
use std::process::ExitCode;

const USAGE: &str = "usage: sse-dump [--chunk-size N]   (reads text/event-stream on stdin)";

fn main() -> ExitCode {
    let mut chunk_size = 4096usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--chunk-size" => args.next(),
            other => match other.strip_prefix("--chunk-size=") {
                Some(v) => Some(v.to_string()),
                None => {
                    eprintln!("sse-dump: unknown argument {other:?}\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
        };
        match value.as_deref().map(str::parse::<usize>) {
            Some(Ok(n)) if n > 0 => chunk_size = n,
            _ => {
                eprintln!("sse-dump: --chunk-size needs a positive integer\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let stdout = io::stdout().lock();
    match dump::run(
        io::stdin().lock(),
        io::BufWriter::new(stdout),
        io::stderr(),
        chunk_size,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sse-dump: {e}");
            ExitCode::FAILURE
        }
    }
}

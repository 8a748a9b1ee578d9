//! `sse-client URL [--retry-5xx] [--idle-timeout SECS] [--last-event-id ID]`: follows a
//! `text/event-stream` like a browser's EventSource (reconnecting with `Last-Event-ID`) and
//! prints each event as one JSON line, `{"event":..,"data":..,"id":..}`, the shape of
//! sse-proto's `sse-dump`, flushed at once. Reconnects and failures go to standard error.
//! Exits when the stream is closed for good: 0 for a 204 or a clean end, 1 for a wrong
//! status or content type or too many redirects, 2 for bad arguments.
//!
//! ```sh
//! cargo run -p rt-tokio --example sse-client -- http://127.0.0.1:8080/sse?channel=chat
//! ```

mod print;

use std::process::ExitCode;
use std::time::Duration;

use rt_tokio::sse::{EventSource, EventSourceConfig};

const USAGE: &str =
    "usage: sse-client URL [--retry-5xx] [--idle-timeout SECS] [--last-event-id ID]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut url = None;
    let mut config = EventSourceConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--retry-5xx" => config.client.retry_server_errors = true,
            "--idle-timeout" => match args.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(secs) => config.client.idle_timeout = Some(Duration::from_secs(secs)),
                None => {
                    eprintln!("sse-client: --idle-timeout needs seconds\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--last-event-id" => match args.next() {
                Some(id) => config.last_event_id = Some(id),
                None => {
                    eprintln!("sse-client: --last-event-id needs a value\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            other if url.is_none() && !other.starts_with('-') => url = Some(other.to_string()),
            other => {
                eprintln!("sse-client: unexpected argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(url) = url else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let source = match EventSource::connect(&url, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sse-client: {e}");
            return ExitCode::from(2);
        }
    };
    match print::run(source, std::io::stdout().lock(), std::io::stderr()).await {
        Ok(print::End::Failed(_)) => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sse-client: {e}");
            ExitCode::FAILURE
        }
    }
}

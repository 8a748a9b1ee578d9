//! The logic of `sse-client`, shared with its test: follow an EventSource, print each event
//! as one JSON line (the shape of sse-proto's `sse-dump`), reconnects on the error stream.

use std::io::{self, Write};

use rt_tokio::sse::{EventSource, FailReason, SseClientEvent};

/// How the stream ended for good.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// 204 No Content: the server said stop.
    Stopped,
    /// Another verdict (status, content type, redirects).
    Failed(String),
    /// The stream ended and no reconnection was wanted.
    Ended,
}

/// Prints every event of `source` to `out` (flushed at once), connection changes to
/// `err`, until it is closed for good.
pub async fn run(
    mut source: EventSource,
    mut out: impl Write,
    mut err: impl Write,
) -> io::Result<End> {
    while let Some(event) = source.next_event().await {
        match event {
            SseClientEvent::Message(m) => {
                writeln!(
                    out,
                    "{{\"event\":{},\"data\":{},\"id\":{}}}",
                    serde_json::to_string(m.event_type.as_str())?,
                    serde_json::to_string(m.data.as_str())?,
                    serde_json::to_string(m.last_event_id.as_str())?
                )?;
                out.flush()?;
            }
            SseClientEvent::Open => writeln!(err, "sse-client: open")?,
            SseClientEvent::Redirect { to } => writeln!(err, "sse-client: redirected to {to}")?,
            SseClientEvent::Reconnecting {
                delay,
                reason,
                error,
            } => writeln!(
                err,
                "sse-client: reconnecting in {delay:?} ({reason:?}{})",
                error.map(|e| format!(": {e}")).unwrap_or_default()
            )?,
            SseClientEvent::ParseError(e) => writeln!(err, "sse-client: {e}")?,
            SseClientEvent::Failed(FailReason::Response(rt_tokio::sse::ResponseError::Status(
                204,
            ))) => {
                writeln!(err, "sse-client: closed by the server (204)")?;
                return Ok(End::Stopped);
            }
            SseClientEvent::Failed(reason) => {
                writeln!(err, "sse-client: failed: {reason}")?;
                return Ok(End::Failed(reason.to_string()));
            }
            SseClientEvent::Ended => {
                writeln!(err, "sse-client: stream ended")?;
                return Ok(End::Ended);
            }
            other => writeln!(err, "sse-client: {other:?}")?,
        }
    }
    Ok(End::Ended)
}

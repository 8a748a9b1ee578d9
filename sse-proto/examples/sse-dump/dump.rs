//! The logic of `sse-dump`, shared with its test: read a stream, feed the parser N bytes at a
//! time, print one JSON object per event or retry.

use std::io::{self, Read, Write};

use sse_proto::{Item, Parser};

/// Reads `input` to its end, `chunk_size` bytes at most per parser call (each `read` result
/// is fed as it arrives, so a live stream shows events at once), and writes one JSON line per
/// item to `output`, flushing after each chunk. Parser limit errors go to `errors`; the
/// parser skips the offending line or event and goes on.
pub fn run(
    mut input: impl Read,
    mut output: impl Write,
    mut errors: impl Write,
    chunk_size: usize,
) -> io::Result<()> {
    let mut parser = Parser::new();
    let mut buf = vec![0u8; chunk_size.max(1)];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Err(e) = parser.handle_input(&buf[..n]) {
            writeln!(errors, "sse-dump: {e}")?;
        }
        while let Some(item) = parser.poll_item() {
            write_item(&mut output, &item)?;
        }
        output.flush()?;
    }
    parser.handle_eof();
    output.flush()
}

fn write_item(out: &mut impl Write, item: &Item) -> io::Result<()> {
    match item {
        Item::Event(e) => writeln!(
            out,
            "{{\"event\":{},\"data\":{},\"id\":{}}}",
            serde_json::to_string(e.event_type.as_str())?,
            serde_json::to_string(e.data.as_str())?,
            serde_json::to_string(e.last_event_id.as_str())?
        ),
        Item::Retry(ms) => writeln!(out, "{{\"retry\":{ms}}}"),
    }
}

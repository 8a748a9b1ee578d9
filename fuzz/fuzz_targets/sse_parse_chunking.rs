//! The `text/event-stream` parser on arbitrary bytes with arbitrary chunking, compared with
//! parsing the same bytes in one chunk (and byte by byte): the same events, the same
//! `retry` items and the same errors, in the same order; the same last event ID. Also the
//! queue interface (`handle_input` + `poll_item`) gives the same items as the pull interface
//! (`next_item`), and reports an error for a chunk exactly when the pull interface found one
//! in it, also when it is fed shared input (`Bytes`) instead of borrowed. Small limits are
//! chosen by the input.
//!
//! Input: `[limits selector][max_line_length: u16][max_event_data: u16][n][n × u16 cuts]
//! [stream bytes]`; a selector below 128 means the default limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_fuzz::Plan;
use sse_proto::{Input, Item, ParseError, Parser, ParserConfig};

/// Everything the pull interface yields, in order, and the last event ID at the end.
/// Also returns, per chunk, whether an error was found in it.
#[allow(clippy::type_complexity)]
fn pull(
    config: ParserConfig,
    chunks: &[&[u8]],
) -> ((Vec<Result<Item, ParseError>>, String), Vec<bool>) {
    let mut p = Parser::with_config(config);
    let mut out = Vec::new();
    let mut chunk_errors = Vec::new();
    for chunk in chunks {
        let errors_before = out
            .iter()
            .filter(|r: &&Result<Item, ParseError>| r.is_err())
            .count();
        let mut input = Input::from(*chunk);
        loop {
            let before = input.len();
            match p.next_item(&mut input) {
                Ok(Some(item)) => out.push(Ok(item)),
                Ok(None) => {
                    assert!(input.is_empty(), "Ok(None) with input left");
                    break;
                }
                Err(e) => out.push(Err(e)),
            }
            assert!(input.len() <= before);
        }
        let errors_after = out.iter().filter(|r| r.is_err()).count();
        chunk_errors.push(errors_after > errors_before);
    }
    for item in &out {
        if let Ok(Item::Event(ev)) = item {
            assert!(
                ev.data.len() <= 3 * config.max_event_data,
                "data over the limit"
            );
            assert!(!ev.event_type.is_empty());
        }
    }
    ((out, p.last_event_id().to_owned()), chunk_errors)
}

/// The queue interface, fed shared input (`Bytes`, where one-line events are slices of it):
/// items, and whether each chunk returned an error.
fn queue(config: ParserConfig, chunks: &[&[u8]]) -> (Vec<Item>, Vec<bool>) {
    let mut p = Parser::with_config(config);
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for chunk in chunks {
        errors.push(
            p.handle_input(bytes::Bytes::copy_from_slice(chunk))
                .is_err(),
        );
        while let Some(item) = p.poll_item() {
            items.push(item);
        }
    }
    (items, errors)
}

fuzz_target!(|data: &[u8]| {
    let mut plan = Plan::new(data);
    let sel = plan.u8();
    let (line, event) = (plan.u16(), plan.u16());
    let config = if sel < 128 {
        ParserConfig::DEFAULT
    } else {
        ParserConfig::DEFAULT
            .with_max_line_length(usize::from(line % 512))
            .with_max_event_data(usize::from(event % 1024))
    };
    let (chunks, payload) = plan.chunks();

    let (whole, _) = pull(config, &[payload]);
    let (split, split_errors) = pull(config, &chunks);
    assert_eq!(
        split,
        whole,
        "chunks {:?}",
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
    );
    if payload.len() <= 2048 {
        let bytes: Vec<&[u8]> = payload.chunks(1).collect();
        assert_eq!(pull(config, &bytes).0, whole, "byte by byte");
    }

    // The queue interface agrees with the pull interface, chunk by chunk.
    let (items, errors) = queue(config, &chunks);
    let pulled: Vec<Item> = split.0.iter().filter_map(|r| r.clone().ok()).collect();
    assert_eq!(items, pulled);
    assert_eq!(errors, split_errors, "handle_input's errors vs next_item's");
});

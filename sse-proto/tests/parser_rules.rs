//! One table per WHATWG parser rule (numbered as in PROTOCOL-NOTES.md; the WPT
//! `eventsource/format-*` tests are the model). Every case runs on the whole input, split at
//! every position into two chunks, split at every pair of positions into three chunks (short
//! inputs), and fed one byte at a time; all must give the same items.

use bytes::Bytes;
use sse_proto::{Item, ItemRef, MessageEvent, ParseError, Parser, ParserConfig};

#[derive(Debug, Clone, PartialEq)]
enum Out {
    Ev(String, String, String),
    Retry(u64),
    Err(ParseError),
}

fn ev(t: &str, data: &str, id: &str) -> Out {
    Out::Ev(t.into(), data.into(), id.into())
}
fn msg(data: &str) -> Out {
    ev("message", data, "")
}

fn run_chunks(config: ParserConfig, chunks: &[&[u8]]) -> Vec<Out> {
    let borrowed = run_chunks_as(config, chunks, false);
    // Shared input (where one-line events are slices of it) gives exactly the same.
    let shared = run_chunks_as(config, chunks, true);
    assert_eq!(borrowed, shared, "borrowed vs shared input");
    // The lending pull interface gives the same items (it reports every error where it
    // happens, not the first one per chunk: errors are compared by presence).
    let lent = run_chunks_lent(config, chunks);
    let items = |v: &[Out]| -> Vec<Out> {
        v.iter()
            .filter(|o| !matches!(o, Out::Err(_)))
            .cloned()
            .collect()
    };
    let has_error = |v: &[Out]| v.iter().any(|o| matches!(o, Out::Err(_)));
    assert_eq!(items(&borrowed), items(&lent), "poll_item vs next_borrowed");
    assert_eq!(
        has_error(&borrowed),
        has_error(&lent),
        "errors, poll_item vs next_borrowed"
    );
    borrowed
}

fn run_chunks_lent(config: ParserConfig, chunks: &[&[u8]]) -> Vec<Out> {
    let mut p = Parser::with_config(config);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let (consumed, item) = p.next_borrowed(rest);
            rest = &rest[consumed..];
            match item {
                Ok(Some(ItemRef::Event(e))) => out.push(ev(e.event_type, e.data, e.last_event_id)),
                Ok(Some(ItemRef::Retry(ms))) => out.push(Out::Retry(ms)),
                Ok(None) => assert!(rest.is_empty()),
                Err(e) => out.push(Out::Err(e)),
            }
        }
    }
    p.handle_eof();
    out
}

fn run_chunks_as(config: ParserConfig, chunks: &[&[u8]], shared: bool) -> Vec<Out> {
    let mut p = Parser::with_config(config);
    let mut out = Vec::new();
    for chunk in chunks {
        let r = if shared {
            p.handle_input(Bytes::copy_from_slice(chunk))
        } else {
            p.handle_input(*chunk)
        };
        while let Some(item) = p.poll_item() {
            out.push(match item {
                Item::Event(MessageEvent {
                    event_type,
                    data,
                    last_event_id,
                }) => Out::Ev(event_type.into(), data.into(), last_event_id.into()),
                Item::Retry(ms) => Out::Retry(ms),
            });
        }
        if let Err(e) = r {
            // Errors are reported once per chunk, after its items: tests compare the items
            // and the number of errors.
            out.push(Out::Err(e));
        }
    }
    p.handle_eof();
    assert_eq!(p.poll_item(), None);
    out
}

/// Runs `input` at every chunking and checks the items (errors excluded) are `want`.
fn check(input: &[u8], want: &[Out]) {
    check_with(ParserConfig::default(), input, want);
}

fn check_with(config: ParserConfig, input: &[u8], want: &[Out]) {
    let strip = |v: Vec<Out>| -> (Vec<Out>, usize) {
        let errors = v.iter().filter(|o| matches!(o, Out::Err(_))).count();
        (
            v.into_iter()
                .filter(|o| !matches!(o, Out::Err(_)))
                .collect(),
            errors,
        )
    };
    let want_items: Vec<Out> = want
        .iter()
        .filter(|o| !matches!(o, Out::Err(_)))
        .cloned()
        .collect();
    let want_errors = want.len() - want_items.len();
    for i in 0..=input.len() {
        let (items, errors) = strip(run_chunks(config, &[&input[..i], &input[i..]]));
        assert_eq!(
            items,
            want_items,
            "split at {i}: {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            errors,
            want_errors,
            "split at {i} errors: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    if input.len() <= 64 {
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let (items, _) = strip(run_chunks(
                    config,
                    &[&input[..i], &input[i..j], &input[j..]],
                ));
                assert_eq!(
                    items,
                    want_items,
                    "split at {i},{j}: {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let (items, errors) = strip(run_chunks(config, &bytes));
    assert_eq!(
        items,
        want_items,
        "byte at a time: {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(
        errors,
        want_errors,
        "byte at a time errors: {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn rule_01_streaming_utf8_with_replacement() {
    check("data: ok\u{2026}\n\n".as_bytes(), &[msg("ok\u{2026}")]);
    check(
        "data: \u{1F600}\u{e9}\n\n".as_bytes(),
        &[msg("\u{1F600}\u{e9}")],
    );
    check(b"data: a\xFFb\n\n", &[msg("a\u{FFFD}b")]);
    // A truncated sequence before the line end is one U+FFFD (maximal subpart).
    check(b"data: \xE2\x82\n\n", &[msg("\u{FFFD}")]);
    check(b"data: \xF0\x9F\x98\rdata: x\n\n", &[msg("\u{FFFD}\nx")]);
    // Overlong and surrogate encodings: one U+FFFD per byte.
    check(b"data: \xC0\x80\n\n", &[msg("\u{FFFD}\u{FFFD}")]);
    check(
        b"data: \xED\xA0\x80\n\n",
        &[msg("\u{FFFD}\u{FFFD}\u{FFFD}")],
    );
    check(b"event: \xFF\ndata: x\n\n", &[ev("\u{FFFD}", "x", "")]);
    check(b"id: \xFF\ndata: x\n\n", &[ev("message", "x", "\u{FFFD}")]);
    // An invalid field name is an unknown field, never an error.
    check(b"d\xFFata: x\ndata: y\n\n", &[msg("y")]);
}

#[test]
fn rule_02_bom_only_at_start() {
    check(b"\xEF\xBB\xBFdata: 1\n\n", &[msg("1")]);
    // format-bom: a second BOM makes the field name unknown.
    check(
        b"\xEF\xBB\xBFdata: 1\n\n\xEF\xBB\xBFdata: 2\n\ndata: 3\n\n",
        &[msg("1"), msg("3")],
    );
    // format-bom-2: two BOMs at the start: only the first is stripped.
    check(
        b"\xEF\xBB\xBF\xEF\xBB\xBFdata: 1\n\ndata: 2\n\ndata: 3\n\n",
        &[msg("2"), msg("3")],
    );
    // A partial BOM is ordinary (invalid) text.
    check(b"\xEF\xBBdata: 1\n\ndata: 2\n\n", &[msg("2")]);
    check(b"\xEF\xBB\ndata: 2\n\n", &[msg("2")]);
    check(b"\xEFdata: 1\n\ndata: 2\n\n", &[msg("2")]);
    check(b"\xEF\xBB\xBF\n\ndata: x\n\n", &[msg("x")]);
    check(b"\xEF\xBB\xBF", &[]);
}

#[test]
fn rule_03_line_endings() {
    // format-newlines
    check(
        b"data:test\r\ndata\ndata:test\r\n\r",
        &[msg("test\n\ntest")],
    );
    check(b"data: a\rdata: b\r\rdata: c\n\n", &[msg("a\nb"), msg("c")]);
    check(b"data: a\r\n\r\n", &[msg("a")]);
    check(b"data: a\n\r\n", &[msg("a")]);
    check(b"data: a\n\r", &[msg("a")]);
    check(b"data: a\r\r", &[msg("a")]);
    // CRLF split across chunks is one line end, not two (the split runs cover it).
    check(b"data: a\r\ndata: b\r\n\r\n", &[msg("a\nb")]);
    check(b"data: a\n\r\ndata: b\n\n", &[msg("a"), msg("b")]);
    check(b"\r\n\r\n\n\r\rdata: x\r\r", &[msg("x")]);
}

#[test]
fn rule_04_buffers_start_empty() {
    check(b"\n\ndata: x\n\n", &[msg("x")]);
    check(b"data: x\n\ndata: y\n\n", &[msg("x"), msg("y")]);
}

#[test]
fn rule_05_empty_line_dispatches() {
    check(b"data: a\n\n\n\ndata: b\n\n", &[msg("a"), msg("b")]);
    check(b"data: a\ndata: b\n", &[]);
}

#[test]
fn rule_06_comments() {
    // format-comments
    let long = "x".repeat(2048);
    let input =
        format!("data:1\r:\0\n:\r\ndata:2\n:{long}\rdata:3\n:data:fail\r:{long}\ndata:4\n\n",);
    check(input.as_bytes(), &[msg("1\n2\n3\n4")]);
    check(b": comment\n\n", &[]);
    check(b":\n:\n\n", &[]);
}

#[test]
fn rule_07_field_and_value() {
    // format-leading-space
    check(
        b"data:\ttest\rdata: \ndata:test\n\n",
        &[msg("\ttest\n\ntest")],
    );
    check(b"data:  two\n\n", &[msg(" two")]);
    check(b"data:a:b: c\n\n", &[msg("a:b: c")]);
    check(b"data :x\n\n", &[]);
    check(b"event:  x\ndata\n\n", &[ev(" x", "", "")]);
}

#[test]
fn rule_08_field_without_colon() {
    // format-field-data
    check(
        b"data:\n\ndata\ndata\n\ndata:test\n\n",
        &[msg(""), msg("\n"), msg("test")],
    );
    check(b"event\ndata: x\n\n", &[msg("x")]);
    check(b"id: 1\nid\ndata: x\n\n", &[msg("x")]);
}

#[test]
fn rule_09_case_sensitive_and_unknown_fields() {
    // format-field-unknown
    check(
        b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n",
        &[msg("test\n\ntest")],
    );
    // format-field-parsing
    check(
        b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n",
        &[msg("\0\n 2\n1\n3\n\n4")],
    );
    check(
        b"Event: x\nDATA: y\nID: 1\nRetry: 5\ndata: z\n\n",
        &[msg("z")],
    );
}

#[test]
fn rule_10_event_and_data() {
    // format-field-event
    check(
        b"event:test\ndata:x\n\ndata:x\n\n",
        &[ev("test", "x", ""), msg("x")],
    );
    // format-field-event-empty
    check(b"event: \ndata:data\n\n", &[msg("data")]);
    check(b"event: a\nevent: b\ndata: x\n\n", &[ev("b", "x", "")]);
    check(b"data: a\ndata: b\ndata: c\n\n", &[msg("a\nb\nc")]);
    // The type is cleared at every dispatch, even one that sends nothing.
    check(b"event: a\n\ndata: x\n\n", &[msg("x")]);
}

#[test]
fn rule_11_id() {
    // format-field-id, format-field-id-2
    check(
        b"id: 1\ndata: x\n\ndata: y\n\n",
        &[ev("message", "x", "1"), ev("message", "y", "1")],
    );
    check(
        b"id: 1\ndata: x\n\nid\ndata: y\n\n",
        &[ev("message", "x", "1"), msg("y")],
    );
    check(
        b"id: 1\ndata: x\n\nid:\ndata: y\n\n",
        &[ev("message", "x", "1"), msg("y")],
    );
    // format-field-id-null: an id containing U+0000 is ignored entirely.
    check(
        b"id: 1\ndata: x\n\nid: a\0b\ndata: y\n\n",
        &[ev("message", "x", "1"), ev("message", "y", "1")],
    );
    check(b"id: \0\ndata: y\n\n", &[msg("y")]);
    check(b"id: a\nid: b\ndata: y\n\n", &[ev("message", "y", "b")]);
    check(b"id:  sp \ndata: y\n\n", &[ev("message", "y", " sp ")]);
}

#[test]
fn rule_12_retry() {
    check(b"retry: 1000\n", &[Out::Retry(1000)]);
    check(b"retry:03000\ndata:x\n\n", &[Out::Retry(3000), msg("x")]);
    check(b"retry:0\n", &[Out::Retry(0)]);
    // format-field-retry-bogus / -empty
    check(
        b"retry:3000\nretry:1000x\ndata:x\n\n",
        &[Out::Retry(3000), msg("x")],
    );
    check(b"retry\ndata:x\n\n", &[msg("x")]);
    check(b"retry:\nretry: -1\nretry: +1\nretry:  1\nretry: 1 \nretry: 1.5\nretry: 1e3\nretry: \xD9\xA1\n", &[]);
    check(b"Retry: 5\n", &[]);
    // Huge values saturate instead of overflowing.
    check(
        b"retry: 99999999999999999999999999\n",
        &[Out::Retry(u64::MAX)],
    );
}

#[test]
fn rule_13_dispatch() {
    // The id buffer is copied even when nothing is dispatched.
    check(b"id: 5\n\ndata: x\n\n", &[ev("message", "x", "5")]);
    // Empty data: nothing dispatched, type cleared.
    check(b"event: e\nid: 1\n\n", &[]);
    check(b"data\n\n", &[msg("")]);
    check(b"data: a\ndata\n\n", &[msg("a\n")]);
    check(b"event: custom\ndata: 1\n\n", &[ev("custom", "1", "")]);
}

#[test]
fn rule_14_end_of_stream() {
    // format-data-before-final-empty-line
    check(
        b"retry:1000\ndata:test1\n\nid:test\ndata:test2",
        &[Out::Retry(1000), msg("test1")],
    );
    check(b"data: a\n", &[]);
    check(b"data: a\r", &[]);
    // format-null-character
    check(b"data:\0\n\n\n\n", &[msg("\0")]);
    check(b"data: a\0b\n\n", &[msg("a\0b")]);
}

#[test]
fn eof_resets_the_stream_but_keeps_the_last_event_id() {
    let mut p = Parser::new();
    p.handle_input(b"\xEF\xBB\xBFid: 1\ndata: a\n\nid: 2\ndata: partial")
        .unwrap();
    assert!(matches!(p.poll_item(), Some(Item::Event(_))));
    p.handle_eof();
    assert_eq!(p.last_event_id(), "1");
    // The new stream may start with a BOM again; the undispatched id 2 is forgotten.
    p.handle_input(b"\xEF\xBB\xBFdata: b\n\n").unwrap();
    let Some(Item::Event(e)) = p.poll_item() else {
        panic!()
    };
    assert_eq!((e.data.as_str(), e.last_event_id.as_str()), ("b", "1"));
}

#[test]
fn limit_line_too_long() {
    let config = ParserConfig::default().with_max_line_length(8);
    let limit = ParseError::LineTooLong { limit: 8 };
    check_with(config, b"data: 12\n\n", &[msg("12")]);
    check_with(
        config,
        b"data: 123\ndata: ok\n\n",
        &[Out::Err(limit), msg("ok")],
    );
    check_with(
        config,
        b"data: 123456789012345\rdata: ok\n\n",
        &[Out::Err(limit), msg("ok")],
    );
    check_with(
        config,
        b": a long comment line\ndata: ok\n\n",
        &[Out::Err(limit), msg("ok")],
    );
    // Memory stays bounded: the skipped line is not buffered.
    let mut p = Parser::with_config(config);
    assert_eq!(p.handle_input(b"data: 0123"), Err(limit));
    for _ in 0..1000 {
        assert_eq!(p.handle_input(b"0123456789"), Ok(()));
    }
    assert_eq!(p.handle_input(b"\ndata: ok\n\n"), Ok(()));
    assert_eq!(
        p.poll_item(),
        Some(Item::Event(MessageEvent {
            event_type: "message".into(),
            data: "ok".into(),
            last_event_id: "".into()
        }))
    );
}

#[test]
fn limit_event_data_too_large() {
    let config = ParserConfig::default().with_max_event_data(8);
    let limit = ParseError::EventDataTooLarge { limit: 8 };
    check_with(config, b"data: 1234567\n\n", &[msg("1234567")]);
    check_with(config, b"data: 1234\ndata: 567\n\n", &[msg("1234\n567")]);
    // The oversized event is dropped whole; the id in it still counts; the next one arrives.
    check_with(
        config,
        b"data: 1234\ndata: 5678\nid: 3\ndata: x\n\ndata: ok\n\n",
        &[Out::Err(limit), ev("message", "ok", "3")],
    );
}

//! Properties: serialize → parse is identity for every valid event; any chunking of any
//! stream gives the same items (and errors) as one chunk; and the incremental parser agrees
//! with a direct, whole-input transcription of the WHATWG algorithm.

use bytes::Bytes;
use proptest::prelude::*;
use sse_proto::{Event, Input, Item, ItemRef, MessageEvent, ParseError, Parser, ParserConfig};

#[derive(Debug, Clone)]
struct Spec {
    comment: Option<String>,
    event_type: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    data: String,
}

fn text(extra: &'static str) -> impl Strategy<Value = String> {
    // Mostly tricky characters: line ends, colons, spaces, NUL, BOM, multi-byte.
    let pieces = prop::sample::select(vec![
        "a",
        "b",
        " ",
        ":",
        "\r",
        "\n",
        "\r\n",
        "\0",
        "\u{FEFF}",
        "é",
        "\u{2026}",
        "\u{1F600}",
        "data",
        "id",
        "\u{FFFD}",
    ]);
    (
        prop::collection::vec(pieces, 0..12),
        prop::collection::vec(any::<char>(), 0..3),
    )
        .prop_map(move |(p, c)| {
            let mut s: String = p.concat();
            s.extend(c);
            s.retain(|ch| !extra.contains(ch));
            s
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::option::of(text("")),
        prop::option::of(text("\r\n")),
        prop::option::of(text("\r\n\0")),
        prop::option::of(any::<u64>()),
        text(""),
    )
        .prop_map(|(comment, event_type, id, retry, data)| Spec {
            comment,
            event_type,
            id,
            retry,
            data,
        })
}

fn chunked(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        out.push(input[at..c].to_vec());
        at = c;
    }
    out.push(input[at..].to_vec());
    out
}

/// Items and errors in order, through the pull interface (which reports every error); the
/// same from borrowed and from shared input.
fn parse(config: ParserConfig, chunks: &[Vec<u8>]) -> Vec<Result<Item, ParseError>> {
    let borrowed = parse_as(config, chunks, false);
    assert_eq!(
        borrowed,
        parse_as(config, chunks, true),
        "borrowed vs shared input"
    );
    for mix in [false, true] {
        assert_eq!(
            borrowed,
            parse_lent(config, chunks, mix),
            "next_item vs next_borrowed (mixed with shared next_item: {mix})"
        );
    }
    borrowed
}

/// [`parse_as`] through the lending pull interface, the lent items copied into owned ones;
/// with `mix`, every other chunk goes through `next_item` on shared input instead.
fn parse_lent(
    config: ParserConfig,
    chunks: &[Vec<u8>],
    mix: bool,
) -> Vec<Result<Item, ParseError>> {
    let mut p = Parser::with_config(config);
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if mix && i % 2 == 1 {
            let mut input = Input::from(Bytes::copy_from_slice(chunk));
            while !input.is_empty() {
                match p.next_item(&mut input) {
                    Ok(Some(item)) => out.push(Ok(item)),
                    Ok(None) => {}
                    Err(e) => out.push(Err(e)),
                }
            }
            continue;
        }
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let (consumed, item) = p.next_borrowed(rest);
            assert!(consumed > 0 && consumed <= rest.len());
            rest = &rest[consumed..];
            match item {
                Ok(Some(ItemRef::Event(e))) => out.push(Ok(Item::Event(MessageEvent {
                    event_type: e.event_type.into(),
                    data: e.data.into(),
                    last_event_id: e.last_event_id.into(),
                }))),
                Ok(Some(ItemRef::Retry(ms))) => out.push(Ok(Item::Retry(ms))),
                Ok(None) => assert!(rest.is_empty()),
                Err(e) => out.push(Err(e)),
            }
        }
    }
    p.handle_eof();
    out
}

fn parse_as(
    config: ParserConfig,
    chunks: &[Vec<u8>],
    shared: bool,
) -> Vec<Result<Item, ParseError>> {
    let mut p = Parser::with_config(config);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = if shared {
            Input::from(Bytes::copy_from_slice(chunk))
        } else {
            Input::from(&chunk[..])
        };
        while !input.is_empty() {
            match p.next_item(&mut input) {
                Ok(Some(item)) => out.push(Ok(item)),
                Ok(None) => {}
                Err(e) => out.push(Err(e)),
            }
        }
    }
    p.handle_eof();
    out
}

/// The WHATWG algorithm transcribed directly: decode everything, strip one BOM, split lines.
fn reference(input: &[u8]) -> Vec<Item> {
    let text = String::from_utf8_lossy(input);
    let mut text: &str = &text;
    if let Some(rest) = text.strip_prefix('\u{FEFF}') {
        text = rest;
    }
    let (mut data, mut event_type, mut id_buf) = (String::new(), String::new(), String::new());
    let mut out = Vec::new();
    let mut rest = text;
    // Only complete lines are processed; the unterminated tail is discarded (rule 14).
    while let Some(end) = rest.find(['\r', '\n']) {
        let line = &rest[..end];
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
        if line.is_empty() {
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            data.pop();
            let t = if event_type.is_empty() {
                "message".to_string()
            } else {
                std::mem::take(&mut event_type)
            };
            out.push(Item::Event(MessageEvent {
                event_type: t.into(),
                data: std::mem::take(&mut data).into(),
                last_event_id: id_buf.as_str().into(),
            }));
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = match line.find(':') {
            Some(c) => (
                &line[..c],
                line[c + 1..].strip_prefix(' ').unwrap_or(&line[c + 1..]),
            ),
            None => (line, ""),
        };
        match name {
            "event" => event_type = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buf = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                out.push(Item::Retry(value.parse().unwrap_or(u64::MAX)));
            }
            _ => {}
        }
    }
    out
}

fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        &b"data"[..],
        b"data:",
        b"data: ",
        b"id:",
        b"id: 7",
        b"event:",
        b"retry:",
        b"retry: 12",
        b":",
        b" ",
        b"\r",
        b"\n",
        b"\r\n",
        b"\n\n",
        b"x",
        b"yz",
        b"\0",
        b"\xEF\xBB\xBF",
        b"\xEF",
        b"\xE2\x82",
        b"\xAC",
        b"\xFF",
        b"\xF0\x9F\x98\x80",
        b"0123456789",
    ]);
    prop::collection::vec(token, 0..60).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn serialize_then_parse_is_identity(specs in prop::collection::vec(spec(), 1..6), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        let mut last_id = String::new();
        for s in &specs {
            let mut e = Event::new().data(&s.data);
            if let Some(c) = &s.comment { e = e.comment(c); }
            if let Some(t) = &s.event_type { e = e.event_type(t).unwrap(); }
            if let Some(id) = &s.id { e = e.id(id).unwrap(); last_id = id.clone(); }
            if let Some(r) = s.retry { e = e.retry(std::time::Duration::from_millis(r)); want.push(Item::Retry(r)); }
            let n = e.write_to(&mut wire);
            prop_assert_eq!(n, e.encoded_len());
            let event_type = match s.event_type.as_deref() { None | Some("") => "message".to_string(), Some(t) => t.to_string() };
            let data = s.data.replace("\r\n", "\n").replace('\r', "\n");
            want.push(Item::Event(MessageEvent { event_type: event_type.into(), data: data.into(), last_event_id: last_id.as_str().into() }));
        }
        let got: Vec<Item> = parse(ParserConfig::default(), &chunked(&wire, &cuts)).into_iter().map(|r| r.unwrap()).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn any_chunking_gives_the_same_items(input in stream_bytes(), cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let whole = parse(ParserConfig::default(), std::slice::from_ref(&input));
        prop_assert_eq!(&parse(ParserConfig::default(), &chunked(&input, &cuts)), &whole);
        let bytes: Vec<Vec<u8>> = input.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(&parse(ParserConfig::default(), &bytes), &whole);
        // And both agree with the whole-input transcription of the spec.
        let items: Vec<Item> = whole.into_iter().map(|r| r.unwrap()).collect();
        prop_assert_eq!(items, reference(&input));
    }

    #[test]
    fn any_chunking_gives_the_same_items_and_errors_under_small_limits(input in stream_bytes(), cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let config = ParserConfig::default().with_max_line_length(12).with_max_event_data(20);
        let whole = parse(config, std::slice::from_ref(&input));
        prop_assert_eq!(&parse(config, &chunked(&input, &cuts)), &whole);
        let bytes: Vec<Vec<u8>> = input.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(&parse(config, &bytes), &whole);
    }
}

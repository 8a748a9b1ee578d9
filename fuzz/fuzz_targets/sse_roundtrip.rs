//! Serialize arbitrary events with the `Event` builder, parse the bytes back (split at
//! arbitrary points): the parser gives exactly the events and `retry` items the model says
//! (data with CRLF and CR turned into LF, `message` for an empty type, the last ID set so
//! far). Fields the builder refuses are refused for the documented reason. `encoded_len`,
//! `encode` and `write_to` agree.
#![no_main]

use arbitrary::Arbitrary;
use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use sse_proto::{write_comment, Event, EventError, Item, MessageEvent, Parser};

#[derive(Arbitrary, Debug)]
struct Ev {
    comment: Option<String>,
    event_type: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    data: Option<String>,
    /// A comment line written on its own before the event (keep-alive).
    keepalive: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    events: Vec<Ev>,
    cuts: Vec<u16>,
}

fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

fuzz_target!(|input: Input| {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    let mut last_id = String::new();
    for ev in &input.events {
        if let Some(k) = &ev.keepalive {
            let n = write_comment(k, &mut stream);
            assert!(n > 0);
        }
        let mut e = Event::new();
        if let Some(c) = &ev.comment {
            e = e.comment(c);
        }
        if let Some(t) = &ev.event_type {
            match e.event_type(t) {
                Ok(next) => e = next,
                Err(err) => {
                    assert!(t.contains(['\r', '\n']));
                    assert_eq!(err, EventError::EventTypeContainsNewline);
                }
            }
        }
        if let Some(id) = &ev.id {
            match e.id(id) {
                Ok(next) => e = next,
                Err(EventError::IdContainsNewline) => assert!(id.contains(['\r', '\n'])),
                Err(EventError::IdContainsNul) => {
                    assert!(id.contains('\0') && !id.contains(['\r', '\n']))
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        if let Some(r) = ev.retry {
            e = e.retry(Duration::from_millis(r));
        }
        if let Some(d) = &ev.data {
            e = e.data(d);
        }

        // The three ways to serialize agree.
        let len = e.encoded_len();
        let mut buf = vec![0u8; len];
        assert_eq!(e.encode(&mut buf), Ok(len));
        if len > 0 {
            assert_eq!(
                e.encode(&mut buf[..len - 1]),
                Err(EventError::InsufficientSize { required: len })
            );
        }
        let start = stream.len();
        assert_eq!(e.write_to(&mut stream), len);
        assert_eq!(&stream[start..], &buf[..]);

        // The model.
        if let Some(id) = e.get_id() {
            last_id = id.to_owned();
        }
        if let Some(r) = e.get_retry() {
            expected.push(Item::Retry(r));
        }
        if let Some(d) = e.get_data() {
            let t = e.get_event_type().unwrap_or("");
            expected.push(Item::Event(MessageEvent {
                event_type: if t.is_empty() {
                    "message".into()
                } else {
                    t.into()
                },
                data: normalise_newlines(d).into(),
                last_event_id: last_id.as_str().into(),
            }));
        }
    }

    let mut cuts: Vec<usize> = input
        .cuts
        .iter()
        .map(|&c| usize::from(c) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(stream.len());
    let mut parser = Parser::new();
    let mut items = Vec::new();
    let mut at = 0;
    for cut in cuts {
        parser
            .handle_input(&stream[at..cut])
            .expect("within the default limits");
        at = cut;
        while let Some(item) = parser.poll_item() {
            items.push(item);
        }
    }
    assert_eq!(items, expected);
    assert_eq!(parser.last_event_id(), last_id);
});

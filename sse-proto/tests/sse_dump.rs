//! Runs the `sse-dump` example's logic on a sample stream at several chunk sizes and checks
//! its exact output.

#[path = "../examples/sse-dump/dump.rs"]
mod dump;

const SAMPLE: &[u8] = b"\xEF\xBB\xBF: hello\r\nretry: 2500\r\nevent: greet\r\nid: 1\r\ndata: hi \"there\"\r\ndata: \\ tab\t\r\n\r\ndata: caf\xC3\xA9 \xFF\n\nid: \nretry: nope\ndata\n\nid: 3\rdata: x\r\rdata: unfinished";

const EXPECTED: &str = r#"{"retry":2500}
{"event":"greet","data":"hi \"there\"\n\\ tab\t","id":"1"}
{"event":"message","data":"café �","id":"1"}
{"event":"message","data":"","id":""}
{"event":"message","data":"x","id":"3"}
"#;

#[test]
fn dump_output_is_exact_at_every_chunk_size() {
    for chunk_size in [1, 2, 3, 7, 16, 4096] {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        dump::run(SAMPLE, &mut out, &mut errors, chunk_size).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            EXPECTED,
            "chunk size {chunk_size}"
        );
        assert!(errors.is_empty());
    }
}

#[test]
fn dump_reports_limit_errors_on_stderr_and_goes_on() {
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 2 << 20));
    input.extend(b"\n\ndata: ok\n\n");
    let mut out = Vec::new();
    let mut errors = Vec::new();
    dump::run(&input[..], &mut out, &mut errors, 4096).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"event\":\"message\",\"data\":\"ok\",\"id\":\"\"}\n"
    );
    let errors = String::from_utf8(errors).unwrap();
    assert!(errors.contains("max_line_length"), "{errors}");
}

//! What the READMEs state, checked against the code, so the two cannot drift apart:
//!
//! - the defaults they give (ws-proto's `Config` and `HandshakeLimits` tables, sse-proto's and
//!   longpoll-proto's limits and timers, the conformance suite's time limits) equal the
//!   crates' `Default`s, and ws-proto's permessage-deflate memory table is what its backend
//!   reports;
//! - the conformance counts (517 cases, 514 OK + 3 INFORMATIONAL, 216 permessage-deflate
//!   cases, 31 reduced compression cases) and the Autobahn 9.x sizes equal the suite's case
//!   table, and those sizes fit ws-proto's default limits;
//! - every repository path a README or doc comment names exists (and every `file.md#anchor`
//!   link has its heading), and no file names a path of one particular machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::conformance::cases::Step;
use tests::conformance::{all_cases, CaseFilter};

// ----- reading the documents -----

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package is inside the workspace")
        .to_path_buf()
}

/// A repository file, whitespace runs collapsed to one space and `**` (bold) removed, so a
/// sentence reads the same however it is wrapped.
fn prose(path: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(path)).expect(path);
    text.replace("**", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value as a README writes it: `16 MiB`, `131,072`, `5 s`, `250 ms`, `50 %`, `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Bytes(u64),
    Count(u64),
    Time(Duration),
    Percent(u64),
    Off,
}

/// Parses a value at the start of `s`: a number, then optionally a unit; or `off`.
fn parse_value(s: &str) -> Option<Value> {
    let s = s.trim_start();
    if s.starts_with("off") {
        return Some(Value::Off);
    }
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .collect();
    let number: u64 = digits.replace(',', "").parse().ok()?;
    let rest = s[digits.len()..].trim_start();
    let unit: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '%')
        .collect();
    Some(match unit.as_str() {
        "KiB" => Value::Bytes(number << 10),
        "MiB" => Value::Bytes(number << 20),
        "GiB" => Value::Bytes(number << 30),
        "ms" => Value::Time(Duration::from_millis(number)),
        "s" => Value::Time(Duration::from_secs(number)),
        "min" => Value::Time(Duration::from_secs(number * 60)),
        "%" => Value::Percent(number),
        _ => Value::Count(number),
    })
}

/// Every value written right after a code span naming `name` (`name` or `Type::name`), as
/// in "`name` (default 1 MiB", "`name`, default 20", "`name` 3 s", "`name` (off by
/// default)". Mentions followed by anything else are not statements of a value.
fn values_after(text: &str, name: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('`') {
        let after_open = &rest[at + 1..];
        let Some(close) = after_open.find('`') else {
            break;
        };
        let span = &after_open[..close];
        let tail = &after_open[close + 1..];
        if span == name || span.ends_with(&format!("::{name}")) {
            let tail = tail.trim_start_matches([' ', '(', ',', '=', ':']);
            let tail = tail.strip_prefix("default ").unwrap_or(tail);
            if let Some(v) = parse_value(tail) {
                found.push(v);
            }
        }
        rest = tail;
    }
    found
}

/// Asserts that `path` states `name`'s value at least once, and always as `expected`.
fn assert_states(path: &str, text: &str, name: &str, expected: Value) {
    let values = values_after(text, name);
    assert!(
        !values.is_empty(),
        "{path} no longer states the default of `{name}` ({expected:?}) next to its name"
    );
    for v in values {
        assert_eq!(v, expected, "{path}: the default of `{name}`");
    }
}

/// The rows of the Markdown table whose header row starts with `header`: each row's cells.
fn table_rows(path: &str, header: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join(path)).expect(path);
    let mut lines = text.lines().skip_while(|l| !l.starts_with(header));
    assert!(
        lines.next().is_some(),
        "{path}: no table starting {header:?}"
    );
    lines
        .skip(1) // the | --- | line
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The code spans in a table cell, in order.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn bytes(n: usize) -> Value {
    Value::Bytes(n as u64)
}

fn count(n: usize) -> Value {
    Value::Count(n as u64)
}

// ----- ws-proto -----

#[test]
fn ws_proto_limits_tables_are_config_defaults() {
    let config = ws_proto::Config::default();
    let config_value = |field: &str| -> Value {
        match field {
            "max_frame_payload" => bytes(config.max_frame_payload),
            "max_message_size" => bytes(config.max_message_size),
            "max_fragments" => count(config.max_fragments),
            "max_send_buffer" => bytes(config.max_send_buffer),
            "close_timeout" => Value::Time(config.close_timeout),
            "keepalive" => match config.keepalive {
                None => Value::Off,
                Some(k) => Value::Time(k.interval),
            },
            "inflate_step" => bytes(config.inflate_step),
            "max_read_size" => bytes(config.max_read_size),
            other => {
                panic!("ws-proto/README.md names a Config field this test does not know: {other}")
            }
        }
    };
    let rows = table_rows("ws-proto/README.md", "| `Config` field |");
    for row in &rows {
        let field = code_spans(&row[0])[0];
        let stated = parse_value(&row[1]).unwrap_or_else(|| panic!("{field}: {:?}", row[1]));
        assert_eq!(
            stated,
            config_value(field),
            "ws-proto/README.md: Config::{field}"
        );
    }
    assert_eq!(rows.len(), 8, "rows of the Config table");

    let limits = ws_proto::handshake::HandshakeLimits::default();
    let limit_value = |field: &str| -> Value {
        match field {
            "max_head_size" => bytes(limits.max_head_size),
            "max_headers" => count(limits.max_headers),
            "max_protocols" => count(limits.max_protocols),
            "max_extensions" => count(limits.max_extensions),
            "max_extension_params" => count(limits.max_extension_params),
            other => panic!(
                "ws-proto/README.md names a HandshakeLimits field this test does not know: {other}"
            ),
        }
    };
    let mut checked = 0;
    for row in table_rows("ws-proto/README.md", "| `HandshakeLimits` field |") {
        // A row may list several fields and their values: `a` / `b` | 32 / 16.
        let fields = code_spans(&row[0]);
        let values: Vec<&str> = row[1].split(" / ").collect();
        assert_eq!(fields.len(), values.len(), "{row:?}");
        for (field, value) in fields.into_iter().zip(values) {
            let stated = parse_value(value).unwrap_or_else(|| panic!("{field}: {value:?}"));
            assert_eq!(
                stated,
                limit_value(field),
                "ws-proto/README.md: HandshakeLimits::{field}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 5, "fields of the HandshakeLimits table");
}

/// The largest message, the largest single frame and the most fragments of one message in
/// the suite's section 9, and the size of that most-fragmented message.
fn section9_extremes() -> (usize, usize, usize, usize) {
    let (mut message, mut frame, mut fragments, mut fragmented_size) = (0, 0, 0, 0);
    for entry in all_cases().into_iter().filter(|c| c.section() == "9") {
        for step in entry.build().steps {
            if let Step::Send { frames, .. } = step {
                // Each Send of section 9 is one data message, possibly fragmented.
                let size: usize = frames.iter().map(|f| f.payload.len()).sum();
                message = message.max(size);
                frame = frame.max(frames.iter().map(|f| f.payload.len()).max().unwrap_or(0));
                if frames.len() > fragments {
                    fragments = frames.len();
                    fragmented_size = size;
                }
            }
        }
    }
    (message, frame, fragments, fragmented_size)
}

#[test]
fn autobahn_9_sizes_are_the_suites_and_fit_the_defaults() {
    let text = prose("ws-proto/README.md");
    let claim = "Autobahn 9.x (messages up to ";
    let at = text
        .find(claim)
        .expect("ws-proto/README.md states the Autobahn 9.x sizes")
        + claim.len();
    // "16 MiB, a 4 MiB message in 65,536 fragments) passes with the defaults above."
    let rest = &text[at..];
    let largest = parse_value(rest).expect("largest message");
    let rest = rest.split_once(", a ").expect("the fragmented message").1;
    let fragmented = parse_value(rest).expect("fragmented message size");
    let rest = rest.split_once(" message in ").expect("fragment count").1;
    let fragments = parse_value(rest).expect("fragment count");
    assert!(
        rest.contains("fragments) passes with the defaults above"),
        "{rest}"
    );

    let (message, frame, most_fragments, fragmented_size) = section9_extremes();
    assert_eq!(largest, bytes(message), "largest section 9 message");
    assert_eq!(
        fragmented,
        bytes(fragmented_size),
        "the most fragmented message"
    );
    assert_eq!(
        fragments,
        count(most_fragments),
        "most fragments of one message"
    );

    // "passes with the defaults": every section 9 message fits the default limits.
    let config = ws_proto::Config::default();
    assert!(message <= config.max_message_size);
    assert!(frame <= config.max_frame_payload);
    assert!(most_fragments <= config.max_fragments);
}

/// A number written with thousands separators at the start of `s` (`380,185 (371 KiB)`).
fn leading_number(s: &str) -> usize {
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .collect();
    digits
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("no number: {s:?}"))
}

/// The number after `word ` in `s` (`window 15` -> 15).
fn number_after(s: &str, word: &str) -> u8 {
    let rest = s
        .split_once(&format!("{word} "))
        .unwrap_or_else(|| panic!("{s:?}: no {word}"))
        .1;
    leading_number(rest) as u8
}

#[test]
fn ws_proto_deflate_memory_is_what_the_backend_reports() {
    use ws_proto::deflate::{CompressorSettings, DeflateConfig, ZlibRsBackend, MAX_WINDOW_BITS};
    let defaults = DeflateConfig::default();
    let (mut default_compressor, mut decompressor) = (None, None);
    for row in table_rows("ws-proto/README.md", "| state | bytes (measured) |") {
        let measured = leading_number(&row[1]);
        let reported = if row[0].starts_with("compressor") {
            let settings = CompressorSettings {
                window_bits: number_after(&row[0], "window"),
                level: defaults.level,
                mem_level: number_after(&row[0], "memLevel"),
            };
            if row[0].ends_with("(default)") {
                assert_eq!(settings.window_bits, defaults.max_window_bits, "{row:?}");
                assert_eq!(settings.mem_level, defaults.mem_level, "{row:?}");
                default_compressor = Some(measured);
            }
            ZlibRsBackend::compressor_memory(settings)
        } else {
            assert!(row[0].starts_with("decompressor, any window"), "{row:?}");
            decompressor = Some(measured);
            ZlibRsBackend::decompressor_memory(MAX_WINDOW_BITS)
        };
        // What ws-proto/tests/deflate_memory.rs asserts of measured and reported figures.
        assert!(
            measured <= reported && reported - measured <= 4096,
            "ws-proto/README.md: {row:?}: the backend reports {reported}"
        );
    }
    let both =
        default_compressor.expect("a default row") + decompressor.expect("a decompressor row");
    let stated = format!("about {} KiB", (both + 512) / 1024);
    for path in ["ws-proto/README.md", "BENCHMARKS.md"] {
        assert!(
            prose(path).contains(&stated),
            "{path}: a connection with the defaults holds {stated}"
        );
    }
}

// ----- conformance counts -----

/// "N cases, K OK" and "M INFORMATIONAL", as the README writes them after `anchor`.
fn stated_counts(text: &str, anchor: &str) -> (u64, u64, u64) {
    let at = text.find(anchor).unwrap_or_else(|| panic!("no {anchor:?}"));
    let s = &text[at..];
    let number_before = |word: &str| -> u64 {
        let end = s
            .find(word)
            .unwrap_or_else(|| panic!("no {word:?} after {anchor:?}"));
        let digits: String = s[..end]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("no number before {word:?}"))
    };
    (
        number_before(" cases,"),
        number_before(" OK"),
        number_before(" INFORMATIONAL"),
    )
}

#[test]
fn conformance_counts_are_the_case_tables() {
    let cases = all_cases();
    let informational: Vec<&str> = cases
        .iter()
        .filter(|c| c.expectation.starts_with("INFORMATIONAL"))
        .map(|c| c.id.as_str())
        .collect();
    let compression = cases
        .iter()
        .filter(|c| matches!(c.section(), "12" | "13"))
        .count();
    let total = cases.len() as u64;
    // Every case that is not informational is judged; the READMEs report a run where all
    // of those were OK.
    let ok = total - informational.len() as u64;

    let top = prose("README.md");
    assert_eq!(
        stated_counts(&top, "Seen ("),
        (total, ok, informational.len() as u64),
        "README.md: conformance counts"
    );
    let listed = format!("({} are informational", informational.join(", "));
    assert!(top.contains(&listed), "README.md should say {listed:?}");
    assert!(
        top.contains(&format!("all {compression} permessage-deflate cases")),
        "README.md: {compression} permessage-deflate cases"
    );

    let ws = prose("ws-proto/README.md");
    assert_eq!(
        stated_counts(&ws, "--require-compression`: "),
        (total, ok, informational.len() as u64),
        "ws-proto/README.md: conformance counts"
    );

    let quick_compression = CaseFilter::quick()
        .select()
        .iter()
        .filter(|c| matches!(c.section(), "12" | "13"))
        .count();
    let suite = prose("tests/README.md");
    let stated = format!("{quick_compression} cases per role");
    assert_eq!(
        suite.matches(" cases per role").count(),
        suite.matches(&stated).count(),
        "tests/README.md: the reduced sections 12-13 are {stated}"
    );
    assert!(suite.contains(&stated));
}

#[test]
fn conformance_time_limits_are_the_runner_defaults() {
    let config = tests::conformance::Config::default();
    let text = prose("tests/README.md");
    let s = text
        .split_once("Time limits: ")
        .expect("tests/README.md states the time limits")
        .1;
    let stated_before = |what: &str| -> Value {
        let (before, _) = s.split_once(what).unwrap_or_else(|| panic!("no {what:?}"));
        let start = before.rfind(|c: char| !(c.is_ascii_digit() || c == ' ' || c == 's'));
        let start = start.map_or(0, |i| i + 1);
        parse_value(&before[start..]).unwrap_or_else(|| panic!("no time before {what:?}"))
    };
    let secs = |d: Duration| Value::Time(d);
    assert_eq!(
        stated_before(" per case in sections 1-7 and 10"),
        secs(config.case_timeout)
    );
    assert_eq!(
        stated_before(" per section 9, 12 and 13 case"),
        secs(config.performance_timeout)
    );
    assert_eq!(
        stated_before(" for the peer to fail the connection"),
        secs(config.fail_wait)
    );
    assert_eq!(
        stated_before(" for the closing handshake"),
        secs(config.close_wait)
    );
    assert_eq!(
        stated_before(" for the opening handshake"),
        secs(config.handshake_timeout)
    );
    assert!(text.contains(&format!(
        "instead of the reference's {} s",
        config.fail_fast_pause.as_secs()
    )));
}

// ----- sse-proto and longpoll-proto -----

#[test]
fn sse_proto_readme_defaults_are_the_configs() {
    use sse_proto::{ClientConfig, ParserConfig, ReplayConfig};
    let path = "sse-proto/README.md";
    let text = prose(path);
    let parser = ParserConfig::DEFAULT;
    let client = ClientConfig::DEFAULT;
    let replay = ReplayConfig::DEFAULT;
    let time = Value::Time;
    let claims = [
        ("max_line_length", bytes(parser.max_line_length)),
        ("max_event_data", bytes(parser.max_event_data)),
        ("max_redirects", Value::Count(client.max_redirects.into())),
        (
            "initial_reconnection_time",
            time(client.initial_reconnection_time),
        ),
        ("min_reconnection_time", time(client.min_reconnection_time)),
        ("max_reconnection_time", time(client.max_reconnection_time)),
        ("max_backoff", time(client.max_backoff)),
        (
            "jitter_percent",
            Value::Percent(client.jitter_percent.into()),
        ),
        ("healthy_period", time(client.healthy_period)),
        ("idle_timeout", client.idle_timeout.map_or(Value::Off, time)),
        ("max_events", count(replay.max_events)),
        ("max_bytes", bytes(replay.max_bytes)),
    ];
    for (name, expected) in claims {
        assert_states(path, &text, name, expected);
    }
}

#[test]
fn longpoll_proto_readme_defaults_are_the_configs() {
    let path = "longpoll-proto/README.md";
    let text = prose(path);
    let hub = longpoll_proto::HubConfig::default();
    let claims = [
        ("max_messages", count(hub.channel.max_messages)),
        ("max_bytes", bytes(hub.channel.max_bytes)),
        ("max_message_bytes", bytes(hub.channel.max_message_bytes)),
        ("session_ttl", Value::Time(hub.session_ttl)),
        ("max_channels_per_poll", count(hub.max_channels_per_poll)),
    ];
    for (name, expected) in claims {
        assert_states(path, &text, name, expected);
    }
}

#[test]
fn value_parsing_reads_what_the_readmes_write() {
    assert_eq!(parse_value("16 MiB |"), Some(Value::Bytes(16 << 20)));
    assert_eq!(parse_value("131,072"), Some(Value::Count(131_072)));
    assert_eq!(
        parse_value("250 ms ..="),
        Some(Value::Time(Duration::from_millis(250)))
    );
    assert_eq!(
        parse_value("5 min"),
        Some(Value::Time(Duration::from_secs(300)))
    );
    assert_eq!(parse_value("50 %)"), Some(Value::Percent(50)));
    assert_eq!(parse_value("off by default"), Some(Value::Off));
    assert_eq!(parse_value("bytes"), None);
    let text = "`A::x` (default 1 MiB, y), `x`, default 20, `x` and, `x` (2 min)";
    assert_eq!(
        values_after(text, "x"),
        [
            Value::Bytes(1 << 20),
            Value::Count(20),
            Value::Time(Duration::from_secs(120))
        ]
    );
}

// ----- paths -----

/// Every Markdown and Rust file of the repository, outside build output and fuzz corpora.
fn documents() -> Vec<PathBuf> {
    files(&|name| name.ends_with(".md") || name.ends_with(".rs"))
}

/// The repository's files whose name passes `keep`, outside build output and fuzz corpora.
fn files(keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, keep: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                let skip = name.starts_with('.') && name != ".ci"
                    || matches!(name, "target" | "corpus" | "artifacts" | "coverage");
                if !skip {
                    walk(&path, keep, out);
                }
            } else if keep(name) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo_root(), keep, &mut out);
    assert!(out.len() > 100, "found the repository's files");
    out
}

/// The text of a document where paths are named: Markdown outside fenced code blocks, or a
/// Rust file's comment lines.
fn named_text(path: &Path, text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if path.extension().is_some_and(|e| e == "md") {
            if trimmed.starts_with("```") {
                fenced = !fenced;
            } else if !fenced {
                out.push_str(line);
                out.push('\n');
            }
        } else if trimmed.starts_with("//") {
            out.push_str(trimmed.trim_start_matches('/').trim_start_matches('!'));
            out.push('\n');
        }
    }
    out
}

/// The file paths named in code spans and Markdown links: words with a `/` that end in a
/// file extension or a `/`, and link targets that end so or are `#anchor`s. Placeholders
/// (`CRATE/`, `TARGET`, `<sha1>`, `...`, globs) and URLs are not paths of this repository.
fn named_paths(text: &str) -> Vec<String> {
    const EXTENSIONS: [&str; 8] = [".rs", ".md", ".toml", ".py", ".sh", ".txt", ".json", ".yml"];
    let spans = text.split('`').skip(1).step_by(2).map(|span| (span, false));
    let links = text
        .split("](")
        .skip(1)
        .map(|link| (link.split([')', ' ']).next().unwrap_or(""), true));
    let mut paths = Vec::new();
    for (token, is_link) in spans.chain(links) {
        for word in token.split_whitespace() {
            let word = word.trim_matches(|c| matches!(c, '(' | ')' | ',' | ';' | ':' | '"'));
            let file = word.split('#').next().unwrap_or("");
            let names_file = EXTENSIONS.iter().any(|e| file.ends_with(e)) || file.ends_with('/');
            // Links also name files in the same directory, and headings (`#anchor`); an
            // intra-doc link (`Self::read`) names no file.
            let is_path = if is_link {
                names_file || file.is_empty() && word.starts_with('#')
            } else {
                word.contains('/') && names_file
            };
            let placeholder = ["://", "*", "<", "...", "{", "$"]
                .iter()
                .any(|p| word.contains(p))
                || word.split('/').any(|segment| {
                    !segment.is_empty()
                        && segment.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                });
            if is_path && !placeholder {
                paths.push(word.to_string());
            }
        }
    }
    paths
}

/// GitHub's anchors for the headings of a Markdown text.
fn anchors(markdown: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            let title = line.trim_start_matches('#').trim().to_lowercase();
            let slug: String = title
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect();
            out.push(slug);
        }
    }
    out
}

#[test]
fn named_paths_exist() {
    let root = repo_root();
    let mut missing = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("UTF-8 text");
        let dir = doc.parent().expect("a file has a directory");
        let crate_root = dir
            .ancestors()
            .find(|d| d.join("Cargo.toml").exists())
            .unwrap_or(&root);
        for named in named_paths(&named_text(&doc, &text)) {
            let (file, anchor) = named.split_once('#').unwrap_or((&named, ""));
            // Relative to the document, to its crate, or to the repository.
            let in_rust = doc.extension().is_some_and(|e| e == "rs");
            if file.is_empty() && in_rust {
                continue; // rustdoc's own anchors
            }
            let found = if file.is_empty() {
                Some(doc.clone()) // `#anchor`: a heading of this document
            } else {
                [dir, crate_root, &root]
                    .iter()
                    .map(|base| base.join(file))
                    .find(|p| p.exists())
            };
            let shown = doc
                .strip_prefix(&root)
                .unwrap_or(&doc)
                .display()
                .to_string();
            match found {
                None => missing.push(format!("{shown}: {named}")),
                Some(target) if !anchor.is_empty() => {
                    let target_text = std::fs::read_to_string(&target).expect("UTF-8 text");
                    if !anchors(&target_text).iter().any(|a| a == anchor) {
                        missing.push(format!("{shown}: {named} (no such heading)"));
                    }
                }
                Some(_) => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named but not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn path_finding_sees_paths_and_skips_placeholders() {
    let text =
        "see `src/line.rs` and [the table](BENCHMARKS.md#benchmarks), `fuzz/corpus/TARGET/`, \
                `crash-<sha1>`, `CRATE/tests/x.rs`, `text/event-stream`, `ws://a/b.rs`, `tests/`";
    assert_eq!(
        named_paths(text),
        ["src/line.rs", "tests/", "BENCHMARKS.md#benchmarks"]
    );
    assert_eq!(
        anchors("# A (`b`) c\n```sh\n# not a heading\n```\n## Sections 12 and 13 (x-y)"),
        ["a-b-c", "sections-12-and-13-x-y"]
    );
}

#[test]
fn no_path_of_one_machine() {
    // Spelled in pieces so that this file does not name them itself.
    let machine_paths: Vec<String> = ["work", "root", "home", "tmp", "Users"]
        .iter()
        .map(|dir| format!("/{dir}/"))
        .collect();
    let text_files = files(&|name| {
        [
            ".md", ".rs", ".toml", ".sh", ".py", ".txt", ".json", ".lock",
        ]
        .iter()
        .any(|e| name.ends_with(e))
            || name == "run"
    });
    let mut found = Vec::new();
    for file in text_files {
        let text = std::fs::read_to_string(&file).expect("UTF-8 text");
        for (n, line) in text.lines().enumerate() {
            if machine_paths.iter().any(|p| line.contains(p.as_str())) {
                found.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "paths of one machine:\n{}",
        found.join("\n")
    );
}

//! The corpus test: every line of `collector/tests/corpus/*.txt` (log lines
//! as the logging libraries document them) through the parser, checked for
//! the level, request ID, trace ID, span ID and message a person reading the
//! line would name. The format is described in the corpus's README.

use std::sync::Arc;

use crate::assemble::Line;
use crate::record::{ContainerMeta, Level, Record, Stream};

/// Every corpus file, by family.
pub(crate) const FAMILIES: &[(&str, &str)] = &[
    ("go", include_str!("../../tests/corpus/go.txt")),
    ("node", include_str!("../../tests/corpus/node.txt")),
    ("python", include_str!("../../tests/corpus/python.txt")),
    ("java", include_str!("../../tests/corpus/java.txt")),
    ("ecs", include_str!("../../tests/corpus/ecs.txt")),
    ("otel", include_str!("../../tests/corpus/otel.txt")),
    ("dotnet", include_str!("../../tests/corpus/dotnet.txt")),
    ("rust", include_str!("../../tests/corpus/rust.txt")),
    ("gcp", include_str!("../../tests/corpus/gcp.txt")),
    ("web", include_str!("../../tests/corpus/web.txt")),
    ("misc", include_str!("../../tests/corpus/misc.txt")),
];

/// One corpus line and what it should yield.
#[derive(Debug)]
pub(crate) struct Case {
    pub family: &'static str,
    pub level: Option<&'static str>,
    pub request_id: Option<&'static str>,
    pub trace_id: Option<&'static str>,
    pub span_id: Option<&'static str>,
    pub msg: Option<String>,
    pub line: &'static str,
}

/// Every case of every family.
pub(crate) fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (family, text) in FAMILIES {
        for row in text.lines() {
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            let cols: Vec<&'static str> = row.splitn(6, '\t').collect();
            assert_eq!(cols.len(), 6, "{family}: a case needs 6 columns: {row:?}");
            let opt = |s: &'static str| (s != "-").then_some(s);
            out.push(Case {
                family,
                level: opt(cols[0]),
                request_id: opt(cols[1]),
                trace_id: opt(cols[2]),
                span_id: opt(cols[3]),
                msg: opt(cols[4]).map(unescape),
                line: cols[5],
            });
        }
    }
    out
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

pub(crate) fn parse(text: &str) -> Record {
    let line = Line {
        stream: Stream::Stdout,
        ts_ns: 1,
        bytes: text.as_bytes().to_vec(),
        truncated: false,
    };
    super::parse_line(line, Arc::new(ContainerMeta::default()))
}

/// The message the record offers.
fn shown_msg(record: &Record) -> Option<String> {
    record.msg.clone()
}

/// Every wrong extraction: (family, line, what, expected, got).
fn wrong_extractions() -> Vec<String> {
    let mut wrong = Vec::new();
    for case in cases() {
        let r = parse(case.line);
        let got_level = r.level.as_ref().map(Level::as_str);
        let got_msg = shown_msg(&r);
        let checks: [(&str, Option<&str>, Option<&str>); 5] = [
            ("level", case.level, got_level),
            ("request_id", case.request_id, r.request_id.as_deref()),
            ("trace_id", case.trace_id, r.trace_id.as_deref()),
            ("span_id", case.span_id, r.span_id.as_deref()),
            ("msg", case.msg.as_deref(), got_msg.as_deref()),
        ];
        for (what, expected, got) in checks {
            if expected != got {
                wrong.push(format!(
                    "{}: {what}: expected {expected:?}, got {got:?}\n    {}",
                    case.family, case.line
                ));
            }
        }
        assert_eq!(r.message, case.line, "the message is the line as written");
    }
    wrong
}

#[test]
fn corpus_has_several_lines_per_family() {
    let cases = cases();
    for (family, _) in FAMILIES {
        let n = cases.iter().filter(|c| c.family == *family).count();
        assert!(n >= 5, "{family}: only {n} cases");
    }
}

#[test]
fn every_corpus_line_yields_its_level_ids_and_message() {
    let wrong = wrong_extractions();
    assert!(
        wrong.is_empty(),
        "{} wrong extractions over {} lines:\n{}",
        wrong.len(),
        cases().len(),
        wrong.join("\n")
    );
}

/// xorshift64*: a deterministic generator, so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parses `bytes` and checks that the record keeps the line whole.
fn parses_losslessly(bytes: &[u8]) {
    let line = Line {
        stream: Stream::Stderr,
        ts_ns: 7,
        bytes: bytes.to_vec(),
        truncated: false,
    };
    let r = super::parse_line(line, Arc::new(ContainerMeta::default()));
    assert_eq!(r.message, String::from_utf8_lossy(bytes), "{bytes:?}");
    match std::str::from_utf8(bytes) {
        Ok(_) => assert_eq!(r.raw, None),
        Err(_) => assert_eq!(r.raw.as_deref(), Some(bytes)),
    }
    if let Some(msg) = &r.msg {
        assert!(!msg.is_empty() && *msg != r.message, "{bytes:?}");
    }
}

#[test]
fn edge_cases_parse_without_loss() {
    for text in [
        "",
        " ",
        "{}",
        "{",
        "}",
        r#"{"@t":1,"@mt":""}"#,
        r#"{"@t":1,"@mt":"{"}"#,
        r#"{"level":"30","msg":" "}"#,
        "[",
        "[]",
        "ERROR",
        "ERROR:",
        "ERROR:x",
        "I1204 10:00:00.000000 1 a.go:1] ",
        r#"a - - [x/y:z] "" 999 0"#,
        "\u{1b}[",
    ] {
        parses_losslessly(text.as_bytes());
    }
}

#[test]
fn every_cut_of_every_corpus_line_parses_without_loss() {
    for case in cases() {
        let bytes = case.line.as_bytes();
        for end in 0..=bytes.len() {
            parses_losslessly(&bytes[..end]);
            parses_losslessly(&bytes[end..]);
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic_or_lose_the_line() {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\\",
        "=",
        ":",
        " ",
        "  ",
        "\t",
        "|",
        "-",
        "---",
        "#",
        "@",
        "/",
        "{{",
        "}}",
        "\u{1b}[31m",
        "\u{1b}",
        "é",
        "\u{fffd}",
        "level",
        "msg",
        "@mt",
        "@t",
        "{Name}",
        "ERROR",
        "[INFO]",
        "WARN[0000]",
        "I1204 ",
        "] ",
        "00-",
        "traceparent=",
        "request_id=",
        "2026-12-03",
        "07:43:41",
        "\"GET / HTTP/1.1\" ",
        "200 ",
        "500 ",
        "/traces/",
        "\"level\":",
        "\"@mt\":\"{A:x} {B}\"",
        "\"fields\":{",
        "\"spans\":[{",
        "{\"@t\":1,\"@mt\":\"\"}",
        "{\"level\":\"30\",\"msg\":\" \"}",
    ];
    let corpus: Vec<&str> = cases().iter().map(|c| c.line).collect();
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    for _ in 0..5000 {
        let mut bytes: Vec<u8> = Vec::new();
        match rng.below(3) {
            // random bytes, invalid UTF-8 included
            0 => (0..rng.below(200)).for_each(|_| bytes.push(rng.next() as u8)),
            // the log syntax's own pieces, shuffled
            1 => (0..rng.below(40))
                .for_each(|_| bytes.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes())),
            // a corpus line with bytes flipped, cut and spliced
            _ => {
                bytes.extend_from_slice(corpus[rng.below(corpus.len())].as_bytes());
                for _ in 0..rng.below(6) {
                    let at = rng.below(bytes.len() + 1);
                    match rng.below(3) {
                        0 if at < bytes.len() => bytes[at] = rng.next() as u8,
                        1 => bytes.truncate(at),
                        _ => {
                            let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                            bytes.splice(at..at, piece.iter().copied());
                        }
                    }
                }
            }
        }
        parses_losslessly(&bytes);
    }
}

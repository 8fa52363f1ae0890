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

/// The message the record offers, as the UI shows it: until the record
/// has its own `msg`, the UI's `displayMessage()` picks one of these keys of
/// a JSON line's fields.
fn shown_msg(record: &Record) -> Option<String> {
    if !record.message.trim_start().starts_with('{') {
        return None;
    }
    ["msg", "message", "event", "@m", "@message", "body"]
        .iter()
        .find_map(|key| match record.fields.get(*key)? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) if s.is_empty() => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
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

/// Wrong extractions the parser still makes over the corpus; it only goes
/// down.
const STILL_WRONG: usize = 200;

#[test]
fn every_corpus_line_yields_its_level_ids_and_message() {
    let wrong = wrong_extractions();
    assert!(
        wrong.len() <= STILL_WRONG,
        "{} wrong extractions over {} lines:\n{}",
        wrong.len(),
        cases().len(),
        wrong.join("\n")
    );
}

//! The parser as it was before the corpus work (commit dc95a49), kept
//! verbatim but for its imports and the record's new `msg`, so that `benches/parse.rs` can measure the
//! current parser against it side by side, in one run, on one machine.

#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{Map, Value};

use wakeline::assemble::Line;
use wakeline::record::{ContainerMeta, Level, Record};

const LEVEL_KEYS: &[&str] = &[
    "level",
    "lvl",
    "severity",
    "loglevel",
    "log_level",
    "levelname",
];
const REQUEST_ID_KEYS: &[&str] = &[
    "request_id",
    "requestId",
    "req_id",
    "reqId",
    "x_request_id",
    "x-request-id",
    "requestid",
];
const TRACE_ID_KEYS: &[&str] = &["trace_id", "traceId", "traceid"];
const SPAN_ID_KEYS: &[&str] = &["span_id", "spanId", "spanid"];
/// Longest request/trace/span ID taken out of a line; longer ones stay in
/// `fields`, so a hostile value cannot blow up the raw-term index.
const MAX_ID_LEN: usize = 256;

/// The structured part of a line, before it becomes a record.
#[derive(Debug, Default)]
struct Extracted {
    level: Option<Level>,
    request_id: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
    fields: Map<String, Value>,
}

/// Parses an assembled line from `container` into a record (seq 0).
pub fn parse_line(line: Line, container: Arc<ContainerMeta>) -> Record {
    let (message, raw) = match String::from_utf8(line.bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let bytes = e.into_bytes();
            (String::from_utf8_lossy(&bytes).into_owned(), Some(bytes))
        }
    };
    let mut ex = extract(&message);
    if ex.request_id.is_none() {
        ex.request_id = ex.trace_id.clone();
    }
    Record {
        ts_ns: line.ts_ns,
        seq: 0,
        container,
        stream: line.stream,
        level: ex.level,
        request_id: ex.request_id,
        trace_id: ex.trace_id,
        span_id: ex.span_id,
        message,
        // (the record's `msg` came with the new parser)
        msg: None,
        raw,
        fields: ex.fields,
        truncated: line.truncated,
        lines: 1,
        position: wakeline::checkpoint::Position::default(),
    }
}

fn extract(message: &str) -> Extracted {
    let stripped;
    let text = if message.contains('\u{1b}') {
        stripped = strip_ansi(message);
        stripped.as_str()
    } else {
        message
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{')
        && trimmed.ends_with('}')
        && let Ok(map) = serde_json::from_str::<Map<String, Value>>(trimmed)
    {
        return from_map(map);
    }
    if let Some(map) = parse_logfmt(trimmed) {
        return from_map(map);
    }
    from_plain(trimmed)
}

/// Takes the known keys out of a structured line; the rest become `fields`.
fn from_map(mut map: Map<String, Value>) -> Extracted {
    let mut ex = Extracted {
        level: take_first(&mut map, LEVEL_KEYS, level_from_value),
        request_id: take_first(&mut map, REQUEST_ID_KEYS, id_from_value),
        trace_id: take_first(&mut map, TRACE_ID_KEYS, id_from_value),
        span_id: take_first(&mut map, SPAN_ID_KEYS, id_from_value),
        fields: Map::new(),
    };
    if ex.trace_id.is_none()
        && let Some((trace, span)) = map
            .get("traceparent")
            .and_then(Value::as_str)
            .and_then(traceparent)
    {
        ex.trace_id = Some(trace);
        ex.span_id.get_or_insert(span);
    }
    ex.fields = map;
    ex
}

/// Removes and converts the first of `keys` present whose value converts.
fn take_first<T>(
    map: &mut Map<String, Value>,
    keys: &[&str],
    convert: fn(&Value) -> Option<T>,
) -> Option<T> {
    for key in keys {
        if let Some(found) = map.get(*key).and_then(convert) {
            map.remove(*key);
            return Some(found);
        }
    }
    None
}

fn level_from_value(value: &Value) -> Option<Level> {
    match value {
        Value::String(text) => Level::parse(text),
        // pino / bunyan numeric levels
        Value::Number(n) => Some(match n.as_u64()? {
            0..=10 => Level::Trace,
            11..=20 => Level::Debug,
            21..=30 => Level::Info,
            31..=40 => Level::Warn,
            41..=50 => Level::Error,
            _ => Level::Fatal,
        }),
        _ => None,
    }
}

fn id_from_value(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.len() <= MAX_ID_LEN && !text.chars().any(char::is_control))
        .then_some(text)
}

/// Parses a whole line as logfmt: `key=value` pairs (values may be quoted),
/// bare keys allowed. `None` unless it starts with a pair and has two or more,
/// so that prose with one `=` in it stays plain text.
fn parse_logfmt(text: &str) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    let mut pairs = 0;
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let key_len = rest
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '/'))
            })
            .unwrap_or(rest.len());
        if key_len == 0 {
            return None;
        }
        let key = &rest[..key_len];
        rest = &rest[key_len..];
        let Some(after_eq) = rest.strip_prefix('=') else {
            if map.is_empty() || !rest.is_empty() && !rest.starts_with(' ') {
                return None;
            }
            map.insert(key.to_owned(), Value::Bool(true));
            continue;
        };
        let (value, remaining) = logfmt_value(after_eq)?;
        map.insert(key.to_owned(), Value::String(value));
        pairs += 1;
        rest = remaining;
    }
    (pairs >= 2).then_some(map)
}

/// One logfmt value and what follows it.
fn logfmt_value(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(' ').unwrap_or(text.len());
        return Some((text[..end].to_owned(), &text[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other),
            },
            _ => value.push(c),
        }
    }
    None
}

fn from_plain(text: &str) -> Extracted {
    let mut ex = Extracted {
        level: plain_level(text),
        ..Extracted::default()
    };
    ex.request_id = find_key_value(text, REQUEST_ID_KEYS);
    ex.trace_id = find_key_value(text, TRACE_ID_KEYS);
    ex.span_id = find_key_value(text, SPAN_ID_KEYS);
    if ex.trace_id.is_none()
        && let Some((trace, span)) = find_traceparent(text)
    {
        ex.trace_id = Some(trace);
        ex.span_id.get_or_insert(span);
    }
    ex
}

/// A level word among the first few tokens: `ERROR …`, `[warn] …`,
/// `2026-12-03 07:43:41 INFO …`. The first token may be in any case; later
/// ones only in capitals, so that prose ("an error occurred") is not a level.
fn plain_level(text: &str) -> Option<Level> {
    for (i, token) in text.split_ascii_whitespace().take(4).enumerate() {
        let word = token.trim_matches(|c: char| {
            matches!(c, '[' | ']' | '(' | ')' | '<' | '>' | ':' | '|' | ',')
        });
        if i > 0 && word.chars().any(|c| c.is_ascii_lowercase()) {
            continue;
        }
        match Level::parse(word) {
            Some(Level::Other(_)) | None => {}
            Some(level) => return Some(level),
        }
    }
    None
}

/// The value of `key=value` (or `key: value`) for the first of `keys` that
/// occurs as a whole key in free text; IDs are `[A-Za-z0-9._:-]`.
fn find_key_value(text: &str, keys: &[&str]) -> Option<String> {
    for key in keys {
        let mut from = 0;
        while let Some(pos) = text[from..].find(key) {
            let start = from + pos;
            from = start + key.len();
            let boundary = text[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            let rest = &text[from..];
            let Some(value) = rest
                .strip_prefix('=')
                .or_else(|| rest.strip_prefix(": "))
                .or_else(|| rest.strip_prefix(':'))
            else {
                continue;
            };
            if !boundary {
                continue;
            }
            let value = value.trim_start_matches('"');
            let len = value
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
                .unwrap_or(value.len());
            if len > 0 && len <= MAX_ID_LEN {
                return Some(value[..len].to_owned());
            }
        }
    }
    None
}

/// Parses a W3C `traceparent` value: `00-<32 hex trace>-<16 hex span>-<2 hex flags>`.
fn traceparent(value: &str) -> Option<(String, String)> {
    let b = value.trim().as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let is_hex = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    let (version, trace, span, flags) = (&b[0..2], &b[3..35], &b[36..52], &b[53..55]);
    if !is_hex(version) || version == b"ff" || !is_hex(trace) || !is_hex(span) || !is_hex(flags) {
        return None;
    }
    if trace.iter().all(|c| *c == b'0') || span.iter().all(|c| *c == b'0') {
        return None;
    }
    if b.len() > 55 && b[55] != b'-' && b[55].is_ascii_hexdigit() {
        return None;
    }
    // Checked above: every byte is ASCII hex.
    let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
    Some((text(trace), text(span)))
}

/// A traceparent anywhere in free text (`traceparent=00-…`, or bare).
fn find_traceparent(text: &str) -> Option<(String, String)> {
    let mut from = 0;
    while let Some(pos) = text[from..].find("00-") {
        let start = from + pos;
        from = start + 3;
        let boundary = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if boundary && let Some(found) = traceparent(&text[start..]) {
            return Some(found);
        }
    }
    None
}

/// Removes ANSI escape sequences (colours, cursor moves) for parsing only;
/// the stored message keeps them for the UI to render.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // CSI: parameters and intermediates, then one final byte @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

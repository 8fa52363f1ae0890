//! The parser: one whole line in, one [`Record`] out, with zero configuration.
//!
//! Services log in a handful of shapes, and this stage recognizes each without
//! being told: a JSON object per line (most structured loggers, see
//! `json.rs`), possibly after a short prefix (`[1] {…}`, `app | {…}`); logfmt
//! (`level=info msg="…"`); a web server's access line (`access.rs`); klog; or
//! plain text with a timestamp/level prefix (`text.rs`). From each it pulls the
//! fields Wakeline joins and filters on — level, request ID, W3C trace context
//! — and the human message (`msg`), and keeps every other structured key in
//! `fields`. The `message` is always the line exactly as written, so nothing
//! the service wrote is ever lost to a parse. The corpus of real libraries'
//! lines (`collector/tests/corpus/`) is the test of what "recognizes" means.

mod access;
mod json;
mod text;

#[cfg(test)]
mod corpus;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::assemble::Line;
use crate::record::{ContainerMeta, Level, Record};

/// Longest request/trace/span ID taken out of a line; longer ones stay in
/// `fields`, so a hostile value cannot blow up the raw-term index.
const MAX_ID_LEN: usize = 256;
/// Longest text before a JSON object for the line to still count as JSON.
const MAX_JSON_PREFIX: usize = 64;

/// The structured part of a line, before it becomes a record.
#[derive(Debug, Default)]
struct Extracted {
    level: Option<Level>,
    request_id: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
    msg: Option<String>,
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
    if ex.msg.as_deref() == Some(message.as_str()) {
        ex.msg = None;
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
        msg: ex.msg,
        raw,
        fields: ex.fields.into(),
        truncated: line.truncated,
        lines: 1,
        position: crate::checkpoint::Position::default(),
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
    if trimmed.ends_with('}')
        && let Some(open) = trimmed.find('{')
    {
        if open == 0 {
            if let Ok(map) = serde_json::from_str::<Map<String, Value>>(trimmed) {
                return json::from_map(map);
            }
        } else if let Some(ex) = prefixed_json(&trimmed[..open], &trimmed[open..]) {
            return ex;
        }
    }
    if let Some(map) = text::parse_logfmt(trimmed) {
        return text::from_logfmt(map);
    }
    if let Some(ex) = access::parse(trimmed) {
        return ex;
    }
    if let Some(ex) = text::klog(trimmed) {
        return ex;
    }
    text::from_plain(trimmed)
}

/// A JSON object after a short prefix that is only prefix: a pid
/// (`[1] {…}`), a timestamp, a level (`error: {…}`, which gives the level
/// when the object has none), or a compose-style name (`app | {…}`).
fn prefixed_json(prefix: &str, object: &str) -> Option<Extracted> {
    let prefix = prefix.trim_end();
    if prefix.len() > MAX_JSON_PREFIX || prefix.contains('"') {
        return None;
    }
    let named = prefix
        .strip_suffix('|')
        .is_some_and(|name| !name.trim().contains(' '));
    let level = text::prefix_level(prefix);
    if !named && level.is_none() {
        return None;
    }
    let map = serde_json::from_str::<Map<String, Value>>(object).ok()?;
    let mut ex = json::from_map(map);
    if ex.level.is_none() {
        ex.level = level.flatten();
    }
    Some(ex)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stream;

    fn parse(text: &str) -> Record {
        let line = Line {
            stream: Stream::Stdout,
            ts_ns: 1,
            bytes: text.as_bytes().to_vec(),
            truncated: false,
        };
        parse_line(line, Arc::new(ContainerMeta::default()))
    }

    #[test]
    fn json_line_extracts_known_keys_and_keeps_the_rest() {
        let line = r#"{"level":"WARNING","msg":"hi","requestId":"r1","user_id":42}"#;
        let r = parse(line);
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.request_id.as_deref(), Some("r1"));
        assert_eq!(r.message, line);
        assert_eq!(r.fields.get("msg"), Some(&Value::from("hi")));
        assert_eq!(r.fields.get("user_id"), Some(&Value::from(42)));
        assert!(!r.fields.contains_key("level") && !r.fields.contains_key("requestId"));
    }

    #[test]
    fn json_trace_context_becomes_the_request_id_when_none_is_given() {
        let r = parse(
            r#"{"msg":"x","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}"#,
        );
        assert_eq!(
            r.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(r.request_id, r.trace_id);
        assert_eq!(r.span_id.as_deref(), Some("00f067aa0ba902b7"));
    }

    #[test]
    fn pino_numeric_level_is_understood() {
        assert_eq!(
            parse(r#"{"level":50,"msg":"boom"}"#).level,
            Some(Level::Error)
        );
    }

    #[test]
    fn logfmt_line_extracts_known_keys() {
        let r = parse(r#"level=info msg="hello \"world\"" request_id=abc user=7 verbose"#);
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.request_id.as_deref(), Some("abc"));
        assert_eq!(r.fields.get("msg"), Some(&Value::from("hello \"world\"")));
        assert_eq!(r.fields.get("user"), Some(&Value::from("7")));
        assert_eq!(r.fields.get("verbose"), Some(&Value::from(true)));
    }

    #[test]
    fn plain_line_finds_level_request_id_and_traceparent() {
        let r = parse(
            "ERROR something failed request_id=xyz-1 traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.request_id.as_deref(), Some("xyz-1"));
        assert_eq!(
            r.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(r.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(r.fields.is_empty());
    }

    #[test]
    fn plain_level_after_a_timestamp_or_in_brackets() {
        assert_eq!(
            parse("2026-12-03 07:43:41,001 WARNING disk low").level,
            Some(Level::Warn)
        );
        assert_eq!(parse("[error] nope").level, Some(Level::Error));
        assert_eq!(
            parse("\u{1b}[31mERROR\u{1b}[0m red").level,
            Some(Level::Error)
        );
        assert_eq!(parse("an error occurred").level, None);
        assert_eq!(parse("user said hello").level, None);
    }

    #[test]
    fn prose_with_an_equals_sign_stays_plain() {
        let r = parse("x = 5 and request_id: r-9 done");
        assert!(r.fields.is_empty());
        assert_eq!(r.request_id.as_deref(), Some("r-9"));
        assert_eq!(parse("my_request_id=nope").request_id, None);
    }

    #[test]
    fn bad_traceparents_are_ignored() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad).trace_id, None, "{bad}");
        }
    }

    #[test]
    fn invalid_utf8_is_kept_losslessly() {
        let line = Line {
            stream: Stream::Stderr,
            ts_ns: 1,
            bytes: vec![b'o', b'k', 0xff, 0xfe],
            truncated: false,
        };
        let r = parse_line(line, Arc::new(ContainerMeta::default()));
        assert_eq!(r.message, "ok\u{fffd}\u{fffd}");
        assert_eq!(r.raw.as_deref(), Some(&[b'o', b'k', 0xff, 0xfe][..]));
    }

    #[test]
    fn hostile_ids_are_not_extracted() {
        let long = "a".repeat(300);
        let r = parse(&format!(r#"{{"request_id":"{long}","msg":"x"}}"#));
        assert_eq!(r.request_id, None);
        assert!(r.fields.contains_key("request_id"));
        assert_eq!(parse(r#"{"request_id":"a\nb"}"#).request_id, None);
    }
}

//! Text lines: logfmt, klog/glog, and the plain layouts of the logging
//! libraries (Python's logging, gunicorn, uvicorn, celery, loguru, structlog's
//! console, logback and Spring Boot, logrus's TTY layout, .NET's console,
//! Serilog's console, env_logger, tracing's text format, nginx's error log).
//!
//! A plain line is read as a *prefix* and a *message*: the prefix is made of
//! timestamps, bracketed groups (`[main]`, `[INFO]`, `[07:43:41 INF]`), pids,
//! separators (`-`, `|`, `---`), a logger name before ` - ` or ` : `, and at
//! most one level word; the first word that is none of these starts the
//! message. A level is only taken from the prefix, so prose ("an error
//! occurred") never has one, and the message is only split off when the
//! prefix held a timestamp or a level. No regex: one left-to-right scan.

use serde_json::{Map, Value};

use super::{Extracted, MAX_ID_LEN, json, traceparent};
use crate::record::Level;

pub(super) const REQUEST_ID_KEYS: &[&str] = &[
    "request_id",
    "requestId",
    "RequestId",
    "req_id",
    "reqId",
    "x_request_id",
    "x-request-id",
    "requestid",
];
pub(super) const TRACE_ID_KEYS: &[&str] = &["trace_id", "traceId", "traceid"];
pub(super) const SPAN_ID_KEYS: &[&str] = &["span_id", "spanId", "spanid"];

/// Parses a whole line as logfmt: `key=value` pairs (values may be quoted),
/// bare keys allowed. `None` unless it starts with a pair and has two or more,
/// so that prose with one `=` in it stays plain text.
pub(super) fn parse_logfmt(text: &str) -> Option<Map<String, Value>> {
    let (map, pairs) = logfmt_pairs(text, true)?;
    (pairs >= 2).then_some(map)
}

/// logfmt pairs and how many had a value; `None` if something else is met.
fn logfmt_pairs(text: &str, bare_keys: bool) -> Option<(Map<String, Value>, usize)> {
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
            if !bare_keys || map.is_empty() || !rest.is_empty() && !rest.starts_with(' ') {
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
    Some((map, pairs))
}

/// One logfmt value and what follows it.
fn logfmt_value(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(' ').unwrap_or(text.len());
        return Some((text[..end].to_owned(), &text[end..]));
    };
    let (value, len) = quoted_string(quoted)?;
    Some((value, &quoted[len..]))
}

/// The content of a `"…"` string (after its opening quote) with `\` escapes,
/// and how many bytes it took, closing quote included.
fn quoted_string(text: &str) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, i + 1)),
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

/// A logfmt line: the map's keys as in JSON, `msg` as the message.
pub(super) fn from_logfmt(map: Map<String, Value>) -> Extracted {
    json::from_map(map)
}

/// klog/glog: `Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg`, where L is
/// I, W, E or F. A structured klog message is `"msg" key="value" …`.
pub(super) fn klog(text: &str) -> Option<Extracted> {
    let b = text.as_bytes();
    let level = match b.first()? {
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' => Level::Error,
        b'F' => Level::Fatal,
        _ => return None,
    };
    if b.len() < 22 || !b[1..5].iter().all(u8::is_ascii_digit) || b[5] != b' ' || b[8] != b':' {
        return None;
    }
    let close = text.find("] ")?;
    // threadid file:line between the time and the bracket
    let header = &text[6..close];
    let mut parts = header.split_ascii_whitespace();
    let (_time, _thread, location) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !location.contains(':') {
        return None;
    }
    let body = &text[close + 2..];
    let mut ex = Extracted {
        level: Some(level),
        ..Extracted::default()
    };
    if let Some(quoted) = body.strip_prefix('"')
        && let Some((msg, len)) = quoted_string(quoted)
        && let Some((fields, _)) = logfmt_pairs(&quoted[len..], false)
    {
        ex.msg = Some(msg);
        let from_fields = json::from_map(fields);
        ex.request_id = from_fields.request_id;
        ex.trace_id = from_fields.trace_id;
        ex.span_id = from_fields.span_id;
        ex.fields = from_fields.fields;
    } else {
        ex.msg = Some(body.trim().to_owned()).filter(|m| !m.is_empty());
        ids_in_text(body, &mut ex);
    }
    Some(ex)
}

/// A plain line: level and message from its prefix, IDs from anywhere.
pub(super) fn from_plain(text: &str) -> Extracted {
    let prefix = scan_prefix(text);
    let mut ex = Extracted {
        level: prefix.level,
        ..Extracted::default()
    };
    if ex.level.is_some() || prefix.timestamp {
        let mut msg = prefix.rest.trim();
        if let Some((before, map)) = trailing_structure(msg) {
            msg = before;
            let from_tail = json::from_map(map);
            ex.request_id = from_tail.request_id;
            ex.trace_id = from_tail.trace_id;
            ex.span_id = from_tail.span_id;
            ex.fields = from_tail.fields;
        }
        if !msg.is_empty() && msg.len() < text.len() {
            ex.msg = Some(msg.to_owned());
        }
    }
    ids_in_text(text, &mut ex);
    ex
}

/// Request ID, trace and span IDs written as `key=value` or a traceparent in
/// free text, for the ones still empty.
fn ids_in_text(text: &str, ex: &mut Extracted) {
    if ex.request_id.is_none() {
        ex.request_id = find_key_value(text, REQUEST_ID_KEYS);
    }
    if ex.trace_id.is_none() {
        ex.trace_id = find_key_value(text, TRACE_ID_KEYS);
    }
    if ex.span_id.is_none() {
        ex.span_id = find_key_value(text, SPAN_ID_KEYS);
    }
    if ex.trace_id.is_none()
        && let Some((trace, span)) = find_traceparent(text)
    {
        ex.trace_id = Some(trace);
        ex.span_id.get_or_insert(span);
    }
}

/// What the prefix of a plain line says.
#[derive(Debug)]
struct Prefix<'a> {
    level: Option<Level>,
    timestamp: bool,
    /// The text after the prefix.
    rest: &'a str,
}

/// How many words of prefix are read before giving up.
const MAX_PREFIX_UNITS: usize = 12;

fn scan_prefix(text: &str) -> Prefix<'_> {
    let mut p = Prefix {
        level: None,
        timestamp: false,
        rest: text,
    };
    for _ in 0..MAX_PREFIX_UNITS {
        let rest = p.rest.trim_start();
        if rest.is_empty() {
            p.rest = rest;
            return p;
        }
        // A bracketed group: `[INFO]`, `[main]`, `[07:43:41 INF]`, `[1]`.
        if let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']').filter(|c| *c <= 64) else {
                return p;
            };
            let group = &inner[..close];
            if p.level.is_none() {
                p.level = group
                    .split(|c: char| c.is_ascii_whitespace() || c == '/' || c == ':')
                    .find_map(level_word);
            }
            p.timestamp |= group.split_ascii_whitespace().any(is_timestamp);
            p.rest = &inner[close + 1..];
            continue;
        }
        let word_end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let word = &rest[..word_end];
        let after = &rest[word_end..];
        if matches!(word, "-" | "|" | "---" | ":" | "--") {
            p.rest = after;
            continue;
        }
        if p.level.is_none() {
            if is_timestamp(word) {
                p.timestamp = true;
                p.rest = after;
                continue;
            }
            if let Some((level, rest)) = leading_level(word, rest) {
                p.level = Some(level);
                p.rest = rest;
                continue;
            }
            // A logger name before the level: `2005-… - simple_example - DEBUG - …`.
            if p.timestamp && has_letter(word) && after.starts_with(" - ") {
                p.rest = after;
                continue;
            }
            return p;
        }
        // After the level: pids, loggers, categories, span contexts.
        if let Some(skipped) = after_level(word, after, rest) {
            p.rest = skipped;
            continue;
        }
        return p;
    }
    p
}

/// A level word at the start of `rest` (whose first word is `word`), and the
/// text after it: `ERROR`, `Warning:`, `WARN[0000]`, `<info>`, and Python's
/// `ERROR:name:message`.
fn leading_level<'a>(word: &str, rest: &'a str) -> Option<(Level, &'a str)> {
    // Python's default layout glues level, logger and message with colons.
    if let Some((head, tail)) = word.split_once(':')
        && !tail.is_empty()
        && head.bytes().all(|c| c.is_ascii_uppercase())
        && let Some(level) = level_word(head)
    {
        let after_head = &rest[head.len() + 1..];
        let name_end = after_head.find(':')?;
        if after_head[..name_end].contains(char::is_whitespace) {
            return None;
        }
        return Some((level, &after_head[name_end + 1..]));
    }
    // logrus's TTY layout: `INFO[0042]`.
    let bare = match word.find('[') {
        Some(open)
            if word.ends_with(']')
                && word[open + 1..word.len() - 1]
                    .bytes()
                    .all(|c| c.is_ascii_digit()) =>
        {
            &word[..open]
        }
        _ => word,
    };
    let bare = bare.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | ':' | ','));
    let level = level_word(bare)?;
    Some((level, &rest[word.len()..]))
}

/// What follows the level and is still prefix: a pid before `---` (Spring),
/// `29#29:` (nginx), `Category[14]` (.NET), `crate::module:` and
/// `span{…}:` (tracing), a logger before ` - ` or ` : ` (logback, loguru,
/// Spring). Returns the text after it.
fn after_level<'a>(word: &str, after: &'a str, rest: &'a str) -> Option<&'a str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(word) && after.trim_start().starts_with("---") {
        return Some(after);
    }
    if let Some(pid) = word.strip_suffix(':')
        && let Some((a, b)) = pid.split_once('#')
        && digits(a)
        && digits(b)
    {
        return Some(after);
    }
    if let Some(open) = word.find('[')
        && word.ends_with(']')
        && open > 0
        && digits(&word[open + 1..word.len() - 1])
    {
        return Some(after);
    }
    if word.ends_with(':') && word.contains("::") {
        return Some(after);
    }
    // tracing's span context: `name{field=value …}:`, possibly several.
    if let Some(open) = rest.find('{')
        && open > 0
        && rest[..open]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        && let Some(close) = rest[open..].find("}:")
    {
        return Some(&rest[open + close + 2..]);
    }
    if !has_letter(word) {
        return None;
    }
    let padded = after.trim_start_matches(' ');
    if let Some(msg) = padded.strip_prefix("- ") {
        return Some(msg);
    }
    if after.len() > padded.len()
        && let Some(msg) = padded.strip_prefix(": ")
    {
        return Some(msg);
    }
    None
}

/// A known level (not an unknown word) written as a word.
fn level_word(word: &str) -> Option<Level> {
    if word.is_empty() || word.len() > 13 || !word.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    match Level::parse(word)? {
        Level::Other(_) => None,
        level => Some(level),
    }
}

fn has_letter(word: &str) -> bool {
    word.bytes().any(|c| c.is_ascii_alphabetic())
}

/// A date, a time or a zone: `2026-12-03`, `07:43:41,001`, `2009/11/10`,
/// `2026-12-03T07:43:41.001Z`, `+0000`.
fn is_timestamp(word: &str) -> bool {
    let b = word.as_bytes();
    if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        return true;
    }
    if b.len() < 5 || !b[0].is_ascii_digit() {
        return false;
    }
    let allowed = |c: &u8| c.is_ascii_digit() || b"-:.,/+TZ".contains(c);
    if !b.iter().all(allowed) {
        return false;
    }
    let date = b.len() >= 10 && b[4] == b'-' && b[7] == b'-'
        || b.len() >= 10 && b[4] == b'/' && b[7] == b'/';
    let time = b.len() >= 8 && b[2] == b':' && b[5] == b':';
    date || time
}

/// Structured data after the message: logrus's and structlog's padded
/// `key=value` pairs (after two or more spaces), or winston's JSON meta.
/// Returns the message before it and the data.
fn trailing_structure(msg: &str) -> Option<(&str, Map<String, Value>)> {
    if msg.ends_with('}') {
        let mut from = 0;
        while let Some(pos) = msg[from..].find(" {") {
            let start = from + pos + 1;
            if let Ok(map) = serde_json::from_str::<Map<String, Value>>(&msg[start..]) {
                return Some((msg[..start].trim_end(), map));
            }
            from = start;
        }
    }
    if !msg.contains('=') {
        return None;
    }
    let mut from = 0;
    while let Some(pos) = msg[from..].find("  ") {
        let start = from + pos;
        let tail = msg[start..].trim_start();
        if let Some((map, pairs)) = logfmt_pairs(tail, false)
            && pairs > 0
        {
            return Some((msg[..start].trim_end(), map));
        }
        from = start + 2;
    }
    None
}

/// The value of `key=value` (or `key: value`) for the first of `keys` that
/// occurs as a whole key in free text; IDs are `[A-Za-z0-9._:-]`.
pub(super) fn find_key_value(text: &str, keys: &[&str]) -> Option<String> {
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

/// A traceparent anywhere in free text (`traceparent=00-…`, or bare).
pub(super) fn find_traceparent(text: &str) -> Option<(String, String)> {
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

/// Whether `text` is all prefix (timestamps, brackets, a level…), and the
/// level it holds: what may stand before a JSON object (`error: {…}`).
pub(super) fn prefix_level(text: &str) -> Option<Option<Level>> {
    let prefix = scan_prefix(text);
    prefix.rest.trim().is_empty().then_some(prefix.level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_dates_times_and_zones() {
        for yes in [
            "2026-12-03",
            "07:43:41,001",
            "2009/11/10",
            "2026-12-03T07:43:41.001Z",
            "+0000",
            "10:15:30.123",
        ] {
            assert!(is_timestamp(yes), "{yes}");
        }
        for no in ["404", "1", "10.0.0.1", "abc", "12345", "2026"] {
            assert!(!is_timestamp(no), "{no}");
        }
    }

    #[test]
    fn the_prefix_ends_at_the_first_word_of_prose() {
        let p = scan_prefix("2026-12-03 07:43:41 an error occurred");
        assert_eq!(
            (p.level, p.timestamp, p.rest),
            (None, true, " an error occurred")
        );
        let p = scan_prefix("ERROR 404 not found");
        assert_eq!((p.level, p.rest), (Some(Level::Error), " 404 not found"));
        let p = scan_prefix("[error-handler] started");
        assert_eq!(p.level, None);
    }

    #[test]
    fn trailing_pairs_need_two_spaces_and_only_pairs() {
        let (msg, map) = trailing_structure("done  a=1 b=\"x y\"").unwrap();
        assert_eq!(msg, "done");
        assert_eq!(map.get("b"), Some(&Value::from("x y")));
        assert!(trailing_structure("x = 5 and y=6").is_none());
        assert!(trailing_structure("two  spaces then words a=1").is_none());
    }
}

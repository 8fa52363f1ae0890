//! JSON lines: the keys every structured logger of the corpus writes.
//!
//! One pass over the object's top-level keys classifies each by the role it
//! plays (level, request ID, trace ID, span ID, message) and a rank, so the
//! precedence between spellings (`level` before `severity`, `msg` before
//! `message`) costs one `match` per key rather than a lookup per spelling.
//! Only when a role is still empty does the parser look inside the nested
//! objects the libraries use: ECS's `log.level`, loguru's `record`,
//! tracing-subscriber's `fields`/`span`/`spans`, log4j2's `contextMap`,
//! .NET's `Scopes`, OpenTelemetry's `attributes`, Google Cloud's labels, a
//! `request`/`req` object's `id`.
//!
//! Keys read for the level and the IDs leave `fields`; the message's key stays
//! (`fields.msg:…` queries keep working) and nested objects are kept whole.

use serde_json::{Map, Value};

use super::{Extracted, id_from_value, traceparent};
use crate::record::Level;

/// What a top-level key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Level,
    /// OpenTelemetry's SeverityNumber (1–24).
    SeverityNumber,
    Request,
    Trace,
    Span,
    Msg,
    /// A W3C traceparent header value.
    Traceparent,
    /// Google Cloud's `projects/<p>/traces/<id>`.
    CloudTrace,
    /// An object that may hold IDs (rank: its index in `ID_CONTAINERS`), or
    /// an object whose `id` is one (`request`, `req`, `http`, `trace`).
    Container,
}

/// Each role's keys, best first; `role()` must agree (a test checks).
const LEVEL_KEYS: &[&str] = &[
    "level",
    "lvl",
    "severity",
    "loglevel",
    "log_level",
    "levelname",
    "LogLevel",
    "Level",
    "@l",
    "log.level",
    "severity_text",
    "severityText",
    "SeverityText",
];
const SEVERITY_NUMBER_KEYS: &[&str] = &["severity_number", "severityNumber", "SeverityNumber"];
const REQUEST_KEYS: &[&str] = &[
    "request_id",
    "requestId",
    "RequestId",
    "requestID",
    "RequestID",
    "req_id",
    "reqId",
    "requestid",
    "x_request_id",
    "x-request-id",
    "X-Request-ID",
    "X-Request-Id",
    "http.request.id",
];
const TRACE_KEYS: &[&str] = &[
    "trace_id", "traceId", "TraceId", "traceID", "traceid", "trace.id", "@tr",
];
const SPAN_KEYS: &[&str] = &[
    "span_id",
    "spanId",
    "SpanId",
    "spanID",
    "spanid",
    "span.id",
    "@sp",
    "logging.googleapis.com/spanId",
];
const MSG_KEYS: &[&str] = &[
    "msg",
    "message",
    "Message",
    "@m",
    "RenderedMessage",
    "event",
    "body",
    "Body",
    "@message",
];

/// The role and rank (index in its key list) of a top-level key.
fn role(key: &str) -> Option<(Role, u8)> {
    use Role::*;
    Some(match key {
        "level" => (Level, 0),
        "lvl" => (Level, 1),
        "severity" => (Level, 2),
        "loglevel" => (Level, 3),
        "log_level" => (Level, 4),
        "levelname" => (Level, 5),
        "LogLevel" => (Level, 6),
        "Level" => (Level, 7),
        "@l" => (Level, 8),
        "log.level" => (Level, 9),
        "severity_text" => (Level, 10),
        "severityText" => (Level, 11),
        "SeverityText" => (Level, 12),
        "severity_number" => (SeverityNumber, 0),
        "severityNumber" => (SeverityNumber, 1),
        "SeverityNumber" => (SeverityNumber, 2),
        "request_id" => (Request, 0),
        "requestId" => (Request, 1),
        "RequestId" => (Request, 2),
        "requestID" => (Request, 3),
        "RequestID" => (Request, 4),
        "req_id" => (Request, 5),
        "reqId" => (Request, 6),
        "requestid" => (Request, 7),
        "x_request_id" => (Request, 8),
        "x-request-id" => (Request, 9),
        "X-Request-ID" => (Request, 10),
        "X-Request-Id" => (Request, 11),
        "http.request.id" => (Request, 12),
        "trace_id" => (Trace, 0),
        "traceId" => (Trace, 1),
        "TraceId" => (Trace, 2),
        "traceID" => (Trace, 3),
        "traceid" => (Trace, 4),
        "trace.id" => (Trace, 5),
        "@tr" => (Trace, 6),
        "span_id" => (Span, 0),
        "spanId" => (Span, 1),
        "SpanId" => (Span, 2),
        "spanID" => (Span, 3),
        "spanid" => (Span, 4),
        "span.id" => (Span, 5),
        "@sp" => (Span, 6),
        "logging.googleapis.com/spanId" => (Span, 7),
        "msg" => (Msg, 0),
        "message" => (Msg, 1),
        "Message" => (Msg, 2),
        "@m" => (Msg, 3),
        "RenderedMessage" => (Msg, 4),
        "event" => (Msg, 5),
        "body" => (Msg, 6),
        "Body" => (Msg, 7),
        "@message" => (Msg, 8),
        "traceparent" => (Traceparent, 0),
        "logging.googleapis.com/trace" => (CloudTrace, 0),
        "span" => (Container, 0),
        "spans" => (Container, 1),
        "fields" => (Container, 2),
        "contextMap" => (Container, 3),
        "context_map" => (Container, 4),
        "mdc" => (Container, 5),
        "MDC" => (Container, 6),
        "context" => (Container, 7),
        "Scopes" => (Container, 8),
        "Properties" => (Container, 9),
        "attributes" => (Container, 10),
        "Attributes" => (Container, 11),
        "extra" => (Container, 12),
        "labels" => (Container, 13),
        "logging.googleapis.com/labels" => (Container, 14),
        "record" => (Container, 15),
        "request" => (Container, 16),
        "req" => (Container, 17),
        "http" => (Container, 18),
        "trace" => (Container, 19),
        _ => return None,
    })
}

/// Objects (or arrays of objects) whose keys may hold the request, trace or
/// span ID: MDC/context maps, span fields, scopes, attributes, labels; then
/// loguru's `record` and the objects with an `id`.
const ID_CONTAINERS: &[&str] = &[
    "span",
    "spans",
    "fields",
    "contextMap",
    "context_map",
    "mdc",
    "MDC",
    "context",
    "Scopes",
    "Properties",
    "attributes",
    "Attributes",
    "extra",
    "labels",
    "logging.googleapis.com/labels",
    "record",
    "request",
    "req",
    "http",
    "trace",
];
/// How many of `ID_CONTAINERS` are searched key by key.
const KEYED_CONTAINERS: usize = 15;

/// The best value found so far for one role.
struct Best<T> {
    rank: Option<u8>,
    key: Option<&'static str>,
    value: Option<T>,
}

impl<T> Best<T> {
    fn new() -> Best<T> {
        Best {
            rank: None,
            key: None,
            value: None,
        }
    }

    fn offer(&mut self, rank: u8, keys: &'static [&'static str], value: Option<T>) {
        if value.is_some() && self.rank.is_none_or(|r| rank < r) {
            self.rank = Some(rank);
            self.key = keys.get(rank as usize).copied();
            self.value = value;
        }
    }
}

/// Takes the known keys out of a JSON object; the rest become `fields`.
pub(super) fn from_map(mut map: Map<String, Value>) -> Extracted {
    let mut level = Best::new();
    let mut number = Best::new();
    let mut request = Best::new();
    let mut trace = Best::new();
    let mut span = Best::new();
    let mut msg: Best<String> = Best::new();
    let mut parent: Option<(String, String)> = None;
    let mut cloud_trace: Option<String> = None;
    // Which of ID_CONTAINERS the object has (most lines: none).
    let mut containers = 0u32;
    for (key, value) in &map {
        let Some((role, rank)) = role(key) else {
            continue;
        };
        match role {
            Role::Level => level.offer(rank, LEVEL_KEYS, level_from_value(value)),
            Role::SeverityNumber => number.offer(
                rank,
                SEVERITY_NUMBER_KEYS,
                value.as_u64().and_then(level_from_severity_number),
            ),
            Role::Request => request.offer(rank, REQUEST_KEYS, id_from_value(value)),
            Role::Trace => trace.offer(rank, TRACE_KEYS, id_from_value(value)),
            Role::Span => span.offer(rank, SPAN_KEYS, id_from_value(value)),
            Role::Msg => msg.offer(rank, MSG_KEYS, msg_from_value(value)),
            Role::Traceparent => parent = value.as_str().and_then(traceparent),
            Role::CloudTrace => {
                cloud_trace = value
                    .as_str()
                    .and_then(|v| v.rsplit_once("/traces/"))
                    .and_then(|(_, id)| id_from_value(&Value::from(id)))
            }
            Role::Container => containers |= 1 << rank,
        }
    }

    let mut ex = Extracted::default();
    for key in [level.key, number.key].into_iter().flatten() {
        map.remove(key);
    }
    ex.level = level.value.or(number.value);
    ex.request_id = take(&mut map, request);
    ex.trace_id = take(&mut map, trace);
    ex.span_id = take(&mut map, span);
    if ex.trace_id.is_none() {
        if let Some(id) = cloud_trace {
            map.remove("logging.googleapis.com/trace");
            ex.trace_id = Some(id);
        } else if let Some((trace, span)) = parent {
            ex.trace_id = Some(trace);
            ex.span_id.get_or_insert(span);
        }
    }
    ex.msg = msg.value;

    if ex.level.is_none() {
        ex.level = nested_level(&map);
    }
    if ex.msg.is_none() {
        ex.msg = nested_msg(&map);
    }
    let missing = ex.request_id.is_none() || ex.trace_id.is_none() || ex.span_id.is_none();
    if missing && containers != 0 {
        nested_ids(&map, containers, &mut ex);
    }
    // Serilog's compact JSON leaves out `@l` for Information.
    let serilog = map.contains_key("@t") && (map.contains_key("@mt") || map.contains_key("@m"));
    if ex.level.is_none() && serilog {
        ex.level = Some(Level::Info);
    }
    ex.fields = map;
    ex
}

fn take(map: &mut Map<String, Value>, best: Best<String>) -> Option<String> {
    if let Some(key) = best.key {
        map.remove(key);
    }
    best.value
}

pub(super) fn level_from_value(value: &Value) -> Option<Level> {
    match value {
        // slog writes levels between the named ones as INFO+2, ERROR+4.
        Value::String(text) => {
            let named = text.trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
            match Level::parse(named) {
                Some(Level::Other(_)) | None => Level::parse(text),
                known => known,
            }
        }
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

/// OpenTelemetry's SeverityNumber ranges.
fn level_from_severity_number(n: u64) -> Option<Level> {
    Some(match n {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Fatal,
        _ => return None,
    })
}

/// A message value: a non-empty string, or OTLP's `{"stringValue": …}`.
fn msg_from_value(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text,
        Value::Object(map) => map.get("stringValue")?.as_str()?,
        _ => return None,
    };
    (!text.trim().is_empty()).then(|| text.to_owned())
}

fn path<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    let (last, parents) = keys.split_last()?;
    let mut map = map;
    for key in parents {
        map = map.get(*key)?.as_object()?;
    }
    map.get(*last)
}

/// ECS's nested `{"log":{"level":…}}`, loguru's `record.level.name`.
fn nested_level(map: &Map<String, Value>) -> Option<Level> {
    [&["log", "level"][..], &["record", "level", "name"]]
        .iter()
        .find_map(|keys| path(map, keys).and_then(level_from_value))
}

/// tracing-subscriber's `fields.message`, loguru's `record.message`, or a
/// Serilog message template rendered with its properties.
fn nested_msg(map: &Map<String, Value>) -> Option<String> {
    for keys in [&["fields", "message"][..], &["record", "message"]] {
        if let Some(msg) = path(map, keys).and_then(msg_from_value) {
            return Some(msg);
        }
    }
    let rendered = if let Some(template) = map.get("@mt").and_then(Value::as_str) {
        let renderings = map.get("@r").and_then(Value::as_array);
        render_template(template, map, renderings)
    } else {
        let template = map.get("MessageTemplate").and_then(Value::as_str)?;
        let properties = map.get("Properties").and_then(Value::as_object)?;
        render_template(template, properties, None)
    };
    (!rendered.trim().is_empty()).then_some(rendered)
}

/// Request, trace and span IDs inside the nested objects present (a bit per
/// `ID_CONTAINERS` entry), for the roles the top level left empty.
fn nested_ids(map: &Map<String, Value>, containers: u32, ex: &mut Extracted) {
    let has = |name: &str| {
        ID_CONTAINERS
            .iter()
            .position(|c| *c == name)
            .is_some_and(|i| containers & (1 << i) != 0)
    };
    let nested = [
        (&["http", "request", "id"][..], Role::Request),
        (&["request", "id"], Role::Request),
        (&["req", "id"], Role::Request),
        (&["trace", "id"], Role::Trace),
        (&["span", "id"], Role::Span),
    ];
    for (keys, role) in nested {
        if has(keys[0])
            && let Some(id) = path(map, keys).and_then(id_from_value)
        {
            fill(ex, role, id);
        }
    }
    for (i, container) in ID_CONTAINERS[..KEYED_CONTAINERS].iter().enumerate() {
        if containers & (1 << i) == 0 {
            continue;
        }
        match map.get(*container) {
            Some(Value::Object(inner)) => ids_in(inner, ex),
            // tracing's span list is root first, .NET's scopes outer first:
            // the innermost wins.
            Some(Value::Array(items)) => {
                for item in items.iter().rev() {
                    if let Value::Object(inner) = item {
                        ids_in(inner, ex);
                    }
                }
            }
            _ => {}
        }
    }
    // loguru's bound values.
    if has("record")
        && let Some(Value::Object(extra)) = path(map, &["record", "extra"])
    {
        ids_in(extra, ex);
    }
}

fn ids_in(inner: &Map<String, Value>, ex: &mut Extracted) {
    for (key, value) in inner {
        if let Some((role @ (Role::Request | Role::Trace | Role::Span), _)) = role(key)
            && let Some(id) = id_from_value(value)
        {
            fill(ex, role, id);
        }
    }
}

fn fill(ex: &mut Extracted, role: Role, id: String) {
    let slot = match role {
        Role::Request => &mut ex.request_id,
        Role::Trace => &mut ex.trace_id,
        Role::Span => &mut ex.span_id,
        _ => return,
    };
    if slot.is_none() {
        *slot = Some(id);
    }
}

/// Renders a Serilog message template as Serilog does: `{Name}` becomes the
/// property's value (strings quoted unless `:l`), `{@Name}` a structure
/// `{ Key: value }`, a token with a format takes the next of `@r` (the
/// renderings of formatted tokens, in order); `{{`/`}}` are braces.
pub(super) fn render_template(
    template: &str,
    props: &Map<String, Value>,
    renderings: Option<&Vec<Value>>,
) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut renderings = renderings.into_iter().flatten();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let brace = rest.as_bytes()[i];
        rest = &rest[i..];
        if rest.len() > 1 && rest.as_bytes()[1] == brace {
            out.push(brace as char);
            rest = &rest[2..];
            continue;
        }
        let token_end = if brace == b'{' { rest.find('}') } else { None };
        let Some(end) = token_end else {
            out.push(brace as char);
            rest = &rest[1..];
            continue;
        };
        let token = &rest[1..end];
        let whole = &rest[..=end];
        rest = &rest[end + 1..];
        let body = token.trim_start_matches(['@', '$']);
        let (name, format) = match body.split_once(':') {
            Some((name, format)) => (name, Some(format)),
            None => (body, None),
        };
        let name = name.split(',').next().unwrap_or(name);
        let Some(value) = props.get(name) else {
            out.push_str(whole);
            continue;
        };
        if format.is_some()
            && let Some(Value::String(rendered)) = renderings.next()
        {
            out.push_str(rendered);
            continue;
        }
        render_value(&mut out, value, format == Some("l"));
    }
    out.push_str(rest);
    out
}

fn render_value(out: &mut String, value: &Value, literal: bool) {
    match value {
        Value::String(text) if literal => out.push_str(text),
        Value::String(text) => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_value(out, item, false);
            }
            out.push(']');
        }
        Value::Object(map) => {
            if let Some(tag) = map.get("$type").and_then(Value::as_str) {
                out.push_str(tag);
                out.push(' ');
            }
            out.push_str("{ ");
            let mut first = true;
            for (key, item) in map.iter().filter(|(k, _)| *k != "$type") {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                out.push_str(key);
                out.push_str(": ");
                render_value(out, item, false);
            }
            out.push_str(" }");
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_key_has_its_role_and_rank() {
        let lists: [(&[&str], Role); 6] = [
            (LEVEL_KEYS, Role::Level),
            (SEVERITY_NUMBER_KEYS, Role::SeverityNumber),
            (REQUEST_KEYS, Role::Request),
            (TRACE_KEYS, Role::Trace),
            (SPAN_KEYS, Role::Span),
            (MSG_KEYS, Role::Msg),
        ];
        for (keys, expected) in lists {
            for (rank, key) in keys.iter().enumerate() {
                assert_eq!(role(key), Some((expected, rank as u8)), "{key}");
            }
        }
        assert!(ID_CONTAINERS.len() <= 32, "a bit each in a u32");
        for (rank, key) in ID_CONTAINERS.iter().enumerate() {
            assert_eq!(role(key), Some((Role::Container, rank as u8)), "{key}");
        }
    }

    #[test]
    fn serilog_templates_render_like_serilog() {
        let props: Map<String, Value> = serde_json::from_str(
            r#"{"Name":"bob","N":42,"Ok":true,"Tags":["a","b"],"P":{"$type":"Point","X":1}}"#,
        )
        .unwrap();
        let r = |t: &str| render_template(t, &props, None);
        assert_eq!(
            r("Hi {Name}, {{literal}} {Missing}"),
            r#"Hi "bob", {literal} {Missing}"#
        );
        assert_eq!(r("{Name:l} {N,5} {Ok} {Tags}"), r#"bob 42 True ["a", "b"]"#);
        assert_eq!(r("at {@P}"), "at Point { X: 1 }");
        assert_eq!(r("unclosed {Name"), "unclosed {Name");
        assert_eq!(r("stray } brace"), "stray } brace");
        let renderings = vec![Value::from("0000002a")];
        assert_eq!(
            render_template("N={N:x8}", &props, Some(&renderings)),
            "N=0000002a"
        );
    }
}

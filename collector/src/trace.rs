//! The structure of one request, rebuilt from its log lines alone.
//!
//! Services that use `wakeline-middleware` write a few lines of known shape
//! (see middleware/README.md): `request started` / `request finished` for each
//! request a service serves (with `span_id`, and the caller's `parent_span_id`),
//! `call finished` / `call failed` for each outgoing call (with the
//! `child_span_id` it sent in `traceparent`), and `message published` /
//! `message received` for a hop through a queue. From them this module makes:
//!
//! - **spans**: one per span ID with lines, with its service, method, path,
//!   status, start, end and line count, nested under the span that called it;
//! - **calls**: every outgoing call or publish, paired with the span that
//!   served it through the child span ID. A call whose child span has no line
//!   anywhere is `seen: false`: the request ID stopped propagating there, or
//!   the callee is not collected. No tracing backend is needed for this, and
//!   no other log viewer shows it;
//! - **the critical path**: from the first span, the child that ended last,
//!   and so on: the chain that decided how long the request took. A consumer
//!   of a queue is left out of it: the request did not wait for it.
//!
//! Lines written without the middleware still count in their span's lines if
//! they carry a span ID; a request without any such line has no spans.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::record::{Level, Record};
use crate::timefmt::format_rfc3339_ns;

/// The middleware's target for request start/finish lines.
const REQUEST_TARGET: &str = "wakeline_middleware::request";
/// The middleware's target for outgoing call lines.
const CALL_TARGET: &str = "wakeline_middleware::call";

/// One span: a service serving (part of) the request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Span {
    pub span_id: String,
    /// The caller's span ID as the start line gave it (the `child_span_id`
    /// of the caller's call line), if any.
    pub parent_span_id: Option<String>,
    /// The span of this request that made the call, if it is among the spans.
    pub parent: Option<String>,
    pub service: Option<String>,
    pub container: String,
    /// `request`, or `consume` for a message taken from a queue.
    pub kind: &'static str,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub start: String,
    pub end: String,
    #[serde(skip)]
    pub start_ns: i64,
    #[serde(skip)]
    pub end_ns: i64,
    pub duration_ms: f64,
    pub lines: u64,
    pub max_level: Option<String>,
}

/// One outgoing call (or publish) made while serving the request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Call {
    pub from_service: Option<String>,
    pub from_container: String,
    pub from_span_id: Option<String>,
    /// `call`, or `publish` for a message handed to a queue.
    pub kind: &'static str,
    /// The peer as the caller named it (`host:port`, or the queue).
    pub to: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub start: String,
    pub end: String,
    pub duration_ms: Option<f64>,
    pub child_span_id: Option<String>,
    /// Some line was written inside the span this call started.
    pub seen: bool,
    /// That span's ID, when seen.
    pub to_span_id: Option<String>,
    pub to_service: Option<String>,
}

/// A request's structure.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Structure {
    pub spans: Vec<Span>,
    pub calls: Vec<Call>,
    /// Span IDs from the first span down the children that ended last.
    pub critical_path: Vec<String>,
}

fn text<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.fields.get(key).and_then(Value::as_str)
}

fn owned(record: &Record, key: &str) -> Option<String> {
    text(record, key).map(str::to_owned)
}

fn number(record: &Record, key: &str) -> Option<f64> {
    match record.fields.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn status(record: &Record) -> Option<u16> {
    number(record, "status").and_then(|s| u16::try_from(s as i64).ok())
}

fn service_of(record: &Record) -> Option<String> {
    record
        .container
        .service
        .clone()
        .or_else(|| Some(record.container.name.clone()))
}

/// Rebuilds the structure from a request's records (any order).
pub fn structure(records: &[Record]) -> Structure {
    let mut spans: Vec<Span> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut calls: Vec<Call> = Vec::new();
    for record in records {
        let target = text(record, "target");
        let msg = text(record, "msg").unwrap_or_default();
        if let Some(span_id) = record.span_id.as_deref() {
            let i = *by_id.entry(span_id).or_insert_with(|| {
                spans.push(Span {
                    span_id: span_id.to_owned(),
                    parent_span_id: None,
                    parent: None,
                    service: service_of(record),
                    container: record.container.name.clone(),
                    kind: "request",
                    method: None,
                    path: None,
                    status: None,
                    start: String::new(),
                    end: String::new(),
                    start_ns: record.ts_ns,
                    end_ns: record.ts_ns,
                    duration_ms: 0.0,
                    lines: 0,
                    max_level: None,
                });
                spans.len() - 1
            });
            let span = &mut spans[i];
            span.lines += 1;
            span.start_ns = span.start_ns.min(record.ts_ns);
            span.end_ns = span.end_ns.max(record.ts_ns);
            let worst = span.max_level.as_deref().and_then(Level::parse);
            if record.level.is_some() && record.level > worst {
                span.max_level = record.level.as_ref().map(|l| l.as_str().to_owned());
            }
            if target == Some(REQUEST_TARGET) {
                if msg == "request started" || msg == "message received" {
                    span.method = owned(record, "method");
                    span.path = owned(record, "path");
                    span.parent_span_id = owned(record, "parent_span_id");
                    if msg == "message received" {
                        span.kind = "consume";
                    }
                } else {
                    // finished, failed or cancelled: the end of the span.
                    span.status = status(record).or(span.status);
                    if let Some(ms) = number(record, "duration_ms") {
                        span.duration_ms = ms;
                    }
                }
            }
        }
        if target == Some(CALL_TARGET) {
            let duration_ms = number(record, "duration_ms");
            let end_ns = record.ts_ns;
            let start_ns = duration_ms.map_or(end_ns, |ms| end_ns - (ms * 1e6) as i64);
            let method = owned(record, "method");
            calls.push(Call {
                from_service: service_of(record),
                from_container: record.container.name.clone(),
                from_span_id: record.span_id.clone(),
                kind: if method.as_deref() == Some("PUBLISH") {
                    "publish"
                } else {
                    "call"
                },
                to: owned(record, "peer"),
                method,
                path: owned(record, "path"),
                status: status(record),
                error: owned(record, "error"),
                start: format_rfc3339_ns(start_ns),
                end: format_rfc3339_ns(end_ns),
                duration_ms,
                child_span_id: owned(record, "child_span_id"),
                seen: false,
                to_span_id: None,
                to_service: None,
            });
        }
    }

    // Which call started each span: its start line names the call's child span.
    let mut callee_of: HashMap<&str, usize> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        if let Some(parent) = span.parent_span_id.as_deref() {
            callee_of.insert(parent, i);
        }
    }
    let mut parents: Vec<Option<String>> = vec![None; spans.len()];
    for call in &mut calls {
        let Some(child) = call.child_span_id.as_deref() else {
            continue;
        };
        if let Some(&callee) = callee_of.get(child) {
            call.seen = true;
            call.to_span_id = Some(spans[callee].span_id.clone());
            call.to_service = spans[callee].service.clone();
            if call.from_span_id.as_deref() != Some(spans[callee].span_id.as_str()) {
                parents[callee] = call.from_span_id.clone();
            }
        } else if by_id.contains_key(child) {
            // A caller whose own span is the one it sent (OpenTelemetry
            // client spans): lines were written in it.
            call.seen = true;
            call.to_span_id = Some(child.to_owned());
        }
    }
    for (i, span) in spans.iter_mut().enumerate() {
        span.parent = parents[i].take().or_else(|| {
            // No call line names it: the parent may be a span of ours directly.
            span.parent_span_id
                .as_deref()
                .filter(|p| by_id.contains_key(p) && *p != span.span_id)
                .map(str::to_owned)
        });
        span.start = format_rfc3339_ns(span.start_ns);
        span.end = format_rfc3339_ns(span.end_ns);
        if span.duration_ms == 0.0 {
            span.duration_ms = (span.end_ns - span.start_ns) as f64 / 1e6;
        }
    }
    spans.sort_by_key(|s| s.start_ns);
    calls.sort_by(|a, b| a.start.cmp(&b.start));
    let critical_path = critical_path(&spans);
    Structure {
        spans,
        calls,
        critical_path,
    }
}

/// From the earliest root span, repeatedly the child that ended last (among
/// the calls the parent waited for: not the consumers of what it published).
fn critical_path(spans: &[Span]) -> Vec<String> {
    let Some(root) = spans.iter().find(|s| s.parent.is_none()) else {
        return Vec::new();
    };
    let mut path = vec![root.span_id.clone()];
    let mut current = root;
    // Bounded: a malformed log could make a cycle of parents.
    while path.len() <= spans.len() {
        let next = spans
            .iter()
            .filter(|s| s.parent.as_deref() == Some(current.span_id.as_str()))
            .filter(|s| s.kind != "consume" && !path.contains(&s.span_id))
            .max_by_key(|s| s.end_ns);
        let Some(next) = next else {
            break;
        };
        path.push(next.span_id.clone());
        current = next;
    }
    path
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::assemble::Line;
    use crate::record::{ContainerMeta, Stream};

    fn line(service: &str, ts_ns: i64, json: &str) -> Record {
        let meta = ContainerMeta {
            host: "h".into(),
            id: format!("id-{service}"),
            name: format!("chat_{service}_1"),
            image: "img".into(),
            service: Some(service.into()),
            project: Some("chat".into()),
        };
        let line = Line {
            stream: Stream::Stdout,
            ts_ns,
            bytes: json.as_bytes().to_vec(),
            truncated: false,
        };
        crate::parse::parse_line(line, Arc::new(meta))
    }

    const MS: i64 = 1_000_000;

    /// edge → tokens (seen), edge → messages (never arrived), edge publishes
    /// to push (consumed), in the middleware's own line shapes.
    fn request() -> Vec<Record> {
        let r = r#""request_id":"r1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#;
        vec![
            line(
                "edge",
                0,
                &format!(
                    r#"{{"level":"info","msg":"request started","target":"wakeline_middleware::request",{r},"span_id":"e1","method":"POST","path":"/api/messages"}}"#
                ),
            ),
            line(
                "tokens",
                2 * MS,
                &format!(
                    r#"{{"level":"info","msg":"request started","target":"wakeline_middleware::request",{r},"span_id":"t1","method":"GET","path":"/internal/tokens/x","parent_span_id":"c1"}}"#
                ),
            ),
            line(
                "tokens",
                3 * MS,
                &format!(
                    r#"{{"level":"info","msg":"token ok","target":"tokens",{r},"span_id":"t1"}}"#
                ),
            ),
            line(
                "tokens",
                4 * MS,
                &format!(
                    r#"{{"level":"info","msg":"request finished","target":"wakeline_middleware::request",{r},"span_id":"t1","status":200,"duration_ms":2.0}}"#
                ),
            ),
            line(
                "edge",
                5 * MS,
                &format!(
                    r#"{{"level":"info","msg":"call finished","target":"wakeline_middleware::call",{r},"span_id":"e1","peer":"tokens:8080","method":"GET","path":"/internal/tokens/x","status":200,"duration_ms":4.0,"child_span_id":"c1"}}"#
                ),
            ),
            line(
                "edge",
                9 * MS,
                &format!(
                    r#"{{"level":"warn","msg":"call finished","target":"wakeline_middleware::call",{r},"span_id":"e1","peer":"messages:8080","method":"GET","path":"/stats","status":200,"duration_ms":3.5,"child_span_id":"lost"}}"#
                ),
            ),
            line(
                "edge",
                10 * MS,
                &format!(
                    r#"{{"level":"info","msg":"message published","target":"wakeline_middleware::call",{r},"span_id":"e1","peer":"queue","method":"PUBLISH","path":"new-message","child_span_id":"p1"}}"#
                ),
            ),
            line(
                "push",
                30 * MS,
                &format!(
                    r#"{{"level":"info","msg":"message received","target":"wakeline_middleware::request",{r},"span_id":"q1","method":"CONSUME","path":"new-message","parent_span_id":"p1"}}"#
                ),
            ),
            line(
                "push",
                31 * MS,
                &format!(
                    r#"{{"level":"info","msg":"broadcast","target":"push",{r},"span_id":"q1","clients":2}}"#
                ),
            ),
            line(
                "edge",
                12 * MS,
                &format!(
                    r#"{{"level":"info","msg":"request finished","target":"wakeline_middleware::request",{r},"span_id":"e1","status":201,"duration_ms":12.0}}"#
                ),
            ),
        ]
    }

    #[test]
    fn spans_nest_under_the_calls_that_started_them() {
        let s = structure(&request());
        let ids: Vec<&str> = s.spans.iter().map(|s| s.span_id.as_str()).collect();
        assert_eq!(ids, ["e1", "t1", "q1"]);
        let edge = &s.spans[0];
        assert_eq!(edge.parent, None);
        assert_eq!(edge.service.as_deref(), Some("edge"));
        assert_eq!(edge.method.as_deref(), Some("POST"));
        assert_eq!(edge.status, Some(201));
        assert_eq!(edge.duration_ms, 12.0);
        assert_eq!(edge.lines, 5);
        assert_eq!(edge.max_level.as_deref(), Some("warn"));
        let tokens = &s.spans[1];
        assert_eq!(tokens.parent.as_deref(), Some("e1"));
        assert_eq!(tokens.parent_span_id.as_deref(), Some("c1"));
        assert_eq!((tokens.lines, tokens.status), (3, Some(200)));
        let push = &s.spans[2];
        assert_eq!(push.kind, "consume");
        assert_eq!(push.parent.as_deref(), Some("e1"));
        // Without a finished line, the span lasts from its first to last line.
        assert_eq!(push.duration_ms, 1.0);
    }

    #[test]
    fn a_call_whose_span_never_appeared_is_not_seen() {
        let s = structure(&request());
        let by_path = |path: &str| {
            s.calls
                .iter()
                .find(|c| c.path.as_deref() == Some(path))
                .unwrap()
        };
        let tokens = by_path("/internal/tokens/x");
        assert!(tokens.seen);
        assert_eq!(tokens.to_span_id.as_deref(), Some("t1"));
        assert_eq!(tokens.to_service.as_deref(), Some("tokens"));
        assert_eq!(tokens.from_service.as_deref(), Some("edge"));
        assert_eq!(tokens.start, format_rfc3339_ns(MS));
        let lost = by_path("/stats");
        assert!(!lost.seen, "{lost:?}");
        assert_eq!(lost.to.as_deref(), Some("messages:8080"));
        assert_eq!(lost.status, Some(200));
        let publish = by_path("new-message");
        assert_eq!(publish.kind, "publish");
        assert!(publish.seen);
        assert_eq!(s.calls.len(), 3);
    }

    #[test]
    fn the_critical_path_follows_the_child_that_ended_last() {
        // push's consume span ended last, but edge did not wait for it.
        let s = structure(&request());
        assert_eq!(s.critical_path, ["e1", "t1"]);
    }

    #[test]
    fn lines_without_the_middleware_give_no_structure() {
        let plain = vec![line("web", 0, "INFO hello request_id=r1")];
        assert_eq!(structure(&plain), Structure::default());
        assert_eq!(structure(&[]), Structure::default());
    }

    #[test]
    fn a_cycle_of_parents_ends_the_critical_path() {
        let r = r#""request_id":"r""#;
        let records = vec![
            line(
                "a",
                0,
                &format!(
                    r#"{{"msg":"request started","target":"wakeline_middleware::request",{r},"span_id":"a","parent_span_id":"b"}}"#
                ),
            ),
            line(
                "b",
                1,
                &format!(
                    r#"{{"msg":"request started","target":"wakeline_middleware::request",{r},"span_id":"b","parent_span_id":"a"}}"#
                ),
            ),
        ];
        let s = structure(&records);
        assert!(s.critical_path.len() <= 2);
    }
}

//! Carrying a request across a queue: the request ID and trace context in any
//! string map.
//!
//! An HTTP call carries the request in its headers; a message on a queue, a
//! job in a table or an event in an outbox has no headers, but usually has a
//! map of strings beside its body (Kafka and AMQP headers, SQS attributes, a
//! `headers` object in a JSON payload). A [`Carrier`] is such a map.
//!
//! * [`publish`], called while serving a request, writes `x-request-id` and a
//!   child `traceparent` into the map and logs one line shaped like an
//!   outgoing call's (target `wakeline_middleware::call`, `msg` `"message
//!   published"`, `method` `PUBLISH`, `peer` the destination, `path` the
//!   topic, `child_span_id`), so the hop is a call of the request like any
//!   other.
//! * [`consume`], on the other side, reads them back and returns a `request`
//!   span of the same shape as the layer's, continuing the publisher's trace
//!   with a new span ID, after logging a start line shaped like the layer's
//!   `request started` (`msg` `"message received"`, `method` `CONSUME`,
//!   `path` the topic, `parent_span_id` the publisher's child span ID).
//!   Every line written inside that span carries the originating request's
//!   IDs, and calls made inside it propagate them further.
//!
//! Values in the map are untrusted, exactly like incoming headers: an
//! `x-request-id` that is not 1–128 characters of `[A-Za-z0-9._:-]` is
//! replaced by a fresh UUIDv7, a malformed `traceparent` starts a new trace.
//! Keys are the lower-case header names, so a map that was filled from HTTP
//! headers (or will be turned into them) works as is.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::Span;
use tracing::field::{Empty, display};

use crate::context::RequestContext;
use crate::id::{RequestId, new_uuid_v7};
use crate::layer::{REQUEST_LINE_TARGET, start_context};
use crate::propagate::{TRACEPARENT, X_REQUEST_ID};

/// The target of the publish line: the same as an outgoing call's
/// (`CALL_LINE_TARGET` with the `reqwest` feature), so the collector reads a
/// publish as one more call of the request.
const CALL_TARGET: &str = "wakeline_middleware::call";

/// A map of strings that travels with a message: where [`publish`] writes the
/// request ID and trace context and [`consume`] reads them.
pub trait Carrier {
    /// The value under `key`, if any (and if it is text).
    fn get(&self, key: &str) -> Option<&str>;

    /// Sets `key` to `value`, replacing what was there.
    fn set(&mut self, key: &str, value: String);
}

impl Carrier for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, key).map(String::as_str)
    }

    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

impl Carrier for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str)
    }

    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

/// Header names are case-insensitive; a value that is not a valid header
/// value (or a key that is not a valid name) is not written.
impl Carrier for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        HeaderMap::get(self, key).and_then(|v| v.to_str().ok())
    }

    fn set(&mut self, key: &str, value: String) {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return;
        };
        self.insert(name, value);
    }
}

/// OpenTelemetry's propagator reads and writes through these.
struct Reader<'a, C: ?Sized>(&'a C);
struct Writer<'a, C: ?Sized>(&'a mut C);

impl<C: Carrier + ?Sized> Extractor for Reader<'_, C> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    fn keys(&self) -> Vec<&str> {
        // The W3C propagator asks for its keys by name; it never lists them.
        Vec::new()
    }
}

impl<C: Carrier + ?Sized> Injector for Writer<'_, C> {
    fn set(&mut self, key: &str, value: String) {
        if !value.is_empty() {
            self.0.set(key, value);
        }
    }
}

/// Writes the current request's `x-request-id` and a child `traceparent`
/// into `carrier`, without logging; returns the child span ID, or `None`
/// (carrier untouched) outside a request. [`publish`] is this plus the line.
pub fn inject(carrier: &mut (impl Carrier + ?Sized)) -> Option<SpanId> {
    let ctx = RequestContext::current()?;
    let child = RandomIdGenerator::default().new_span_id();
    inject_into(&ctx, child, carrier);
    Some(child)
}

fn inject_into(ctx: &RequestContext, child: SpanId, carrier: &mut (impl Carrier + ?Sized)) {
    carrier.set(X_REQUEST_ID.as_str(), ctx.request_id().as_str().to_owned());
    let cx = Context::new().with_remote_span_context(ctx.child_span_context(child));
    TraceContextPropagator::new().inject_context(&cx, &mut Writer(carrier));
}

/// Hands the current request on to a message: writes `x-request-id` and a
/// child `traceparent` into `carrier` and logs `message published` (target
/// `wakeline_middleware::call`, with `peer` = `destination`, `method` =
/// `PUBLISH`, `path` = `topic` and the `child_span_id`), the line the
/// collector pairs with the consumer's `message received`.
///
/// Returns the child span ID, or `None` outside a request (the carrier is
/// then untouched and nothing is logged).
///
/// ```
/// use std::collections::HashMap;
///
/// let mut headers: HashMap<String, String> = HashMap::new();
/// // Outside a request there is nothing to hand on.
/// assert_eq!(wakeline_middleware::publish(&mut headers, "outbox", "message.created"), None);
/// assert!(headers.is_empty());
/// ```
pub fn publish(
    carrier: &mut (impl Carrier + ?Sized),
    destination: &str,
    topic: &str,
) -> Option<SpanId> {
    let child = inject(carrier)?;
    tracing::info!(
        target: CALL_TARGET,
        peer = destination,
        method = "PUBLISH",
        path = topic,
        child_span_id = %child,
        "message published"
    );
    Some(child)
}

/// The request a message carries: its `x-request-id` if valid (else a fresh
/// UUIDv7) and its `traceparent` as the parent if valid (else a new trace),
/// with a new span ID of its own. Nothing is logged; [`consume`] opens the
/// span and logs the start line.
pub fn extract(carrier: &(impl Carrier + ?Sized)) -> RequestContext {
    let (request_id, parent) = read(carrier);
    RequestContext::start(request_id, parent.as_ref())
}

fn read(carrier: &(impl Carrier + ?Sized)) -> (RequestId, Option<SpanContext>) {
    let request_id = carrier
        .get(X_REQUEST_ID.as_str())
        .and_then(|v| RequestId::try_from(v).ok())
        .unwrap_or_else(|| RequestId::from_uuid(new_uuid_v7()));
    let parent = carrier.get(TRACEPARENT.as_str()).and_then(|_| {
        let cx =
            TraceContextPropagator::new().extract_with_context(&Context::new(), &Reader(carrier));
        let span = cx.span();
        let parent = span.span_context();
        (parent.is_valid() && parent.is_remote()).then(|| parent.clone())
    });
    (request_id, parent)
}

/// Takes over the request a message carries: returns a `request` span (the
/// layer's shape: `request_id`, `trace_id`, `span_id`, `method` = `CONSUME`,
/// `path` = `topic`) whose context continues the publisher's trace with a new
/// span ID, and logs `message received` in it (target
/// `wakeline_middleware::request`, with `parent_span_id` = the publisher's
/// child span ID). Handle the message inside the span (`span.in_scope(..)`,
/// or `.instrument(span)` for a future) and its lines carry the request.
///
/// Hostile or malformed values are not trusted (see the module docs); the
/// span then starts a request of its own.
pub fn consume(carrier: &(impl Carrier + ?Sized), topic: &str) -> Span {
    let (request_id, parent) = read(carrier);
    let span = tracing::error_span!(
        target: "wakeline_middleware",
        "request",
        request_id = %request_id,
        trace_id = Empty,
        span_id = Empty,
        method = "CONSUME",
        path = topic,
    );
    let ctx = start_context(&span, request_id, parent.as_ref());
    span.record("trace_id", display(ctx.trace_id()));
    span.record("span_id", display(ctx.span_id()));
    ctx.attach_to(&span);
    tracing::info!(
        target: REQUEST_LINE_TARGET,
        parent: &span,
        method = "CONSUME",
        path = topic,
        parent_span_id = ctx.parent_span_id().map(display),
        "message received"
    );
    span
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::capture::Capture;
    use crate::log::JsonLayer;

    /// Runs `f` under a JSON subscriber and returns the lines it wrote.
    fn logged<T>(f: impl FnOnce() -> T) -> (Vec<Value>, T) {
        let logs = Capture::default();
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(JsonLayer::new().with_writer(logs.clone()));
        let out = tracing::subscriber::with_default(subscriber, f);
        let raw = logs.raw();
        let lines = if raw.is_empty() {
            Vec::new()
        } else {
            logs.lines()
        };
        (lines, out)
    }

    /// Runs `f` inside a request span with ID `req-1`; returns its context.
    fn in_request<T>(f: impl FnOnce() -> T) -> (RequestContext, T) {
        let ctx = RequestContext::start(RequestId::try_from("req-1").expect("valid"), None);
        let span = tracing::error_span!("request");
        assert!(ctx.attach_to(&span));
        let out = span.in_scope(f);
        (ctx, out)
    }

    fn with_msg<'a>(lines: &'a [Value], msg: &str) -> &'a Value {
        let found: Vec<_> = lines.iter().filter(|l| l["msg"] == msg).collect();
        assert_eq!(found.len(), 1, "one {msg:?} line: {lines:?}");
        found[0]
    }

    #[test]
    fn publish_writes_the_id_and_a_child_traceparent_and_logs_a_call() {
        let (lines, (ctx, (map, child))) = logged(|| {
            in_request(|| {
                let mut map = HashMap::new();
                let child = publish(&mut map, "outbox", "message.created").expect("in a request");
                (map, child)
            })
        });
        assert_eq!(map.get("x-request-id").map(String::as_str), Some("req-1"));
        let expected = format!("00-{}-{}-01", ctx.trace_id(), child);
        assert_eq!(map.get("traceparent"), Some(&expected));
        assert_eq!(map.len(), 2, "nothing else is written: {map:?}");

        let line = with_msg(&lines, "message published");
        assert_eq!(line["target"], "wakeline_middleware::call");
        assert_eq!(line["level"], "info");
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["trace_id"], ctx.trace_id().to_string());
        assert_eq!(line["span_id"], ctx.span_id().to_string());
        assert_eq!(line["peer"], "outbox");
        assert_eq!(line["method"], "PUBLISH");
        assert_eq!(line["path"], "message.created");
        assert_eq!(line["child_span_id"], child.to_string());
        assert_ne!(child, ctx.span_id());
    }

    #[cfg(feature = "reqwest")]
    #[test]
    fn the_publish_line_has_the_call_lines_target() {
        assert_eq!(CALL_TARGET, crate::client::CALL_LINE_TARGET);
    }

    #[test]
    fn publish_outside_a_request_touches_nothing_and_logs_nothing() {
        let (lines, (map, child)) = logged(|| {
            let mut map = BTreeMap::new();
            let child = publish(&mut map, "outbox", "t");
            (map, child)
        });
        assert_eq!(child, None);
        assert!(map.is_empty());
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn consume_continues_the_publishers_request_as_a_child_span() {
        let (lines, (publisher, child, consumer)) = logged(|| {
            let (publisher, (map, child)) = in_request(|| {
                let mut map = BTreeMap::new();
                let child = publish(&mut map, "outbox", "message.created").expect("in a request");
                (map, child)
            });
            let span = consume(&map, "message.created");
            let consumer = span.in_scope(|| {
                tracing::info!(clients = 2, "broadcast");
                RequestContext::current().expect("the consume span carries a context")
            });
            (publisher, child, consumer)
        });
        assert_eq!(consumer.request_id().as_str(), "req-1");
        assert_eq!(consumer.trace_id(), publisher.trace_id());
        assert_eq!(consumer.parent_span_id(), Some(child));
        assert_ne!(consumer.span_id(), child);
        assert_ne!(consumer.span_id(), publisher.span_id());

        let received = with_msg(&lines, "message received");
        assert_eq!(received["target"], "wakeline_middleware::request");
        assert_eq!(received["request_id"], "req-1");
        assert_eq!(received["trace_id"], publisher.trace_id().to_string());
        assert_eq!(received["span_id"], consumer.span_id().to_string());
        assert_eq!(received["method"], "CONSUME");
        assert_eq!(received["path"], "message.created");
        assert_eq!(received["parent_span_id"], child.to_string());

        let broadcast = with_msg(&lines, "broadcast");
        assert_eq!(broadcast["request_id"], "req-1");
        assert_eq!(broadcast["span_id"], consumer.span_id().to_string());
        assert_eq!(broadcast["clients"], 2);
    }

    #[test]
    fn hostile_values_are_replaced_and_never_logged() {
        let long = "x".repeat(10_000);
        for bad_id in [
            "a\r\nb",
            "%0d%0ainjected",
            long.as_str(),
            "<script>alert(1)</script>",
            "",
        ] {
            let mut map = HashMap::new();
            map.insert("x-request-id".to_owned(), bad_id.to_owned());
            map.insert("traceparent".to_owned(), "00-zz-garbage-01".to_owned());
            let (lines, ctx) = logged(|| {
                let span = consume(&map, "t");
                span.in_scope(|| RequestContext::current().expect("a context"))
            });
            let id = uuid::Uuid::parse_str(ctx.request_id().as_str()).expect("a fresh UUID");
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(
                ctx.parent_span_id(),
                None,
                "a bad traceparent starts a trace"
            );
            let received = with_msg(&lines, "message received");
            assert_eq!(received["request_id"], ctx.request_id().as_str());
            assert!(received.get("parent_span_id").is_none(), "{received}");
            let text = serde_json::to_string(&lines).expect("serialize");
            assert!(
                !text.contains("<script>") && !text.contains("injected"),
                "{text}"
            );
            assert!(text.len() < 2_000, "the 10 KB value is not logged");
        }
    }

    #[test]
    fn a_valid_traceparent_with_a_bad_id_keeps_the_trace() {
        let mut map = HashMap::new();
        map.insert("x-request-id".to_owned(), "a b".to_owned());
        map.insert(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        );
        let ctx = extract(&map);
        assert_ne!(ctx.request_id().as_str(), "a b");
        assert_eq!(
            ctx.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            ctx.parent_span_id().map(|s| s.to_string()).as_deref(),
            Some("00f067aa0ba902b7")
        );
    }

    #[test]
    fn a_header_map_carries_the_request_too() {
        let (_, (publisher, headers)) = logged(|| {
            in_request(|| {
                let mut headers = HeaderMap::new();
                inject(&mut headers).expect("in a request");
                headers
            })
        });
        assert_eq!(
            headers.get("X-Request-ID").and_then(|v| v.to_str().ok()),
            Some("req-1")
        );
        let ctx = extract(&headers);
        assert_eq!(ctx.request_id().as_str(), "req-1");
        assert_eq!(ctx.trace_id(), publisher.trace_id());

        // A value no header may hold is not written.
        let mut headers = HeaderMap::new();
        Carrier::set(&mut headers, "x-request-id", "a\nb".to_owned());
        Carrier::set(&mut headers, "bad key", "v".to_owned());
        assert!(headers.is_empty());
    }

    #[test]
    fn a_missing_map_entry_starts_a_new_request() {
        let (lines, ctx) = logged(|| {
            let span = consume(&HashMap::new(), "t");
            span.in_scope(|| RequestContext::current().expect("a context"))
        });
        assert_eq!(ctx.parent_span_id(), None);
        let received = with_msg(&lines, "message received");
        assert_eq!(received["request_id"], ctx.request_id().as_str());
    }
}

//! Reading and writing the request ID and W3C trace context on `http` headers.
//!
//! Parsing and formatting `traceparent` is left to OpenTelemetry's
//! [`TraceContextPropagator`]: it already rejects upper-case hex, all-zero IDs,
//! wrong lengths and unknown flag bits, and it is what the rest of the
//! ecosystem uses, so our headers interoperate with OpenTelemetry SDKs in any
//! language. This module only adapts it to `http::HeaderMap` with a small
//! [`Extractor`] and [`Injector`].
//!
//! [`inject_headers`] is the client-agnostic way to propagate: call it on the
//! headers of any outgoing request made while serving a request (hyper, a gRPC
//! client, a queue message) and the callee will join the same request ID and
//! trace. The reqwest middleware (`PropagateRequestId`, feature `reqwest`) is
//! built on it.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

use crate::context::RequestContext;

/// The default request ID header, `x-request-id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The W3C trace context header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Reads OpenTelemetry propagation fields from an [`HeaderMap`].
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes OpenTelemetry propagation fields into an [`HeaderMap`], replacing
/// any existing value. Empty values and values that are not valid header
/// values are skipped.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            return;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return;
        };
        self.0.insert(name, value);
    }
}

/// The caller's span context from a valid `traceparent` in `headers`;
/// `None` when the header is missing or malformed.
pub fn extract_parent(headers: &HeaderMap) -> Option<SpanContext> {
    if !headers.contains_key(TRACEPARENT) {
        return None;
    }
    let cx = TraceContextPropagator::new()
        .extract_with_context(&Context::new(), &HeaderExtractor(headers));
    let span = cx.span();
    let parent = span.span_context();
    (parent.is_valid() && parent.is_remote()).then(|| parent.clone())
}

/// Writes `ctx`'s request ID (under `header`) and a child `traceparent` whose
/// parent is a new span ID, and returns that child span ID (log it: the
/// callee logs it as its `parent_span_id`).
pub fn inject_context(
    ctx: &RequestContext,
    header: &HeaderName,
    headers: &mut HeaderMap,
) -> SpanId {
    let child = RandomIdGenerator::default().new_span_id();
    inject_child(ctx, child, header, headers);
    child
}

/// Like [`inject_context`], with the call's span ID chosen by the caller
/// (for a client that has a span of its own for the call, such as an
/// exported OpenTelemetry client span).
pub fn inject_child(
    ctx: &RequestContext,
    child_span_id: SpanId,
    header: &HeaderName,
    headers: &mut HeaderMap,
) {
    headers.insert(header.clone(), ctx.request_id().as_header_value().clone());
    let cx = Context::new().with_remote_span_context(ctx.child_span_context(child_span_id));
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// Propagates the current request onto an outgoing call's `headers`:
/// `x-request-id` and a child `traceparent`. Returns the child span ID, or
/// `None` (headers untouched) when no request is being served.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// // Outside a request span there is nothing to propagate.
/// assert_eq!(wakeline_middleware::inject_headers(&mut headers), None);
/// ```
pub fn inject_headers(headers: &mut HeaderMap) -> Option<SpanId> {
    let ctx = RequestContext::current()?;
    Some(inject_context(&ctx, &X_REQUEST_ID, headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::RequestId;
    use opentelemetry::trace::{TraceFlags, TraceId};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).expect("test header name"),
                HeaderValue::from_str(v).expect("test header value"),
            );
        }
        map
    }

    #[test]
    fn extracts_a_valid_traceparent() {
        let map = headers(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]);
        let parent = extract_parent(&map).expect("valid traceparent");
        assert_eq!(
            parent.trace_id(),
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(parent.span_id(), SpanId::from(0x00f0_67aa_0ba9_02b7));
        assert_eq!(parent.trace_flags(), TraceFlags::SAMPLED);
    }

    #[test]
    fn rejects_malformed_traceparents() {
        let long = format!("00-{}-00f067aa0ba902b7-01", "a".repeat(10_000));
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            long.as_str(),
        ] {
            assert_eq!(
                extract_parent(&headers(&[("traceparent", bad)])),
                None,
                "{bad:.60}"
            );
        }
        let mut non_utf8 = HeaderMap::new();
        non_utf8.insert(
            TRACEPARENT,
            HeaderValue::from_bytes(b"00-\xff\xfe").expect("opaque bytes"),
        );
        assert_eq!(extract_parent(&non_utf8), None);
        assert_eq!(extract_parent(&HeaderMap::new()), None);
    }

    #[test]
    fn injects_request_id_and_a_child_traceparent() {
        let ctx = RequestContext::start(RequestId::try_from("abc-123").expect("valid"), None);
        let mut map = HeaderMap::new();
        let child = inject_context(&ctx, &X_REQUEST_ID, &mut map);
        assert_eq!(
            map.get(X_REQUEST_ID).and_then(|v| v.to_str().ok()),
            Some("abc-123")
        );
        let expected = format!("00-{}-{}-01", ctx.trace_id(), child);
        assert_eq!(
            map.get(TRACEPARENT).and_then(|v| v.to_str().ok()),
            Some(expected.as_str())
        );
        assert!(
            !map.contains_key("tracestate"),
            "an empty tracestate is not sent"
        );
        // What we inject, the extractor reads back.
        let parent = extract_parent(&map).expect("round trip");
        assert_eq!(parent.trace_id(), ctx.trace_id());
        assert_eq!(parent.span_id(), child);
        assert_ne!(child, ctx.span_id());
    }
}

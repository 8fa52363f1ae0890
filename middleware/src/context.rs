//! The identity of the request being served, and where code finds it.
//!
//! [`RequestContext`] bundles the request ID with the W3C trace context
//! (trace ID, this service's span ID, the caller's span ID). The layer stores
//! it in two places:
//!
//! * the request's extensions, for handlers (`Extension<RequestContext>` or the
//!   axum extractors);
//! * the extensions of the request's tracing span, in the `tracing-subscriber`
//!   [`Registry`]. That is how the JSON log layer stamps the IDs on every event
//!   and how outgoing calls find them: both look up the *current span*, so
//!   anything that runs inside the span, including a task spawned with
//!   `.in_current_span()`, sees the same context without it being passed
//!   around.
//!
//! Storing it in the registry rather than as span fields means no field is
//! formatted and parsed back per event: the log layer reads the IDs as bytes.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::Span;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use crate::id::RequestId;

/// Who this request is: its request ID and its place in the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    request_id: RequestId,
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    trace_flags: TraceFlags,
}

impl RequestContext {
    /// A context with the given parts (for tests and for work that does not
    /// start from an HTTP request, such as a queue consumer).
    pub fn new(
        request_id: RequestId,
        trace_id: TraceId,
        span_id: SpanId,
        parent_span_id: Option<SpanId>,
        trace_flags: TraceFlags,
    ) -> Self {
        Self {
            request_id,
            trace_id,
            span_id,
            parent_span_id,
            trace_flags,
        }
    }

    /// A context for a new unit of work: it continues the trace of `parent`
    /// (a remote caller's span) with a fresh span ID, or starts a new trace.
    pub fn start(request_id: RequestId, parent: Option<&SpanContext>) -> Self {
        let ids = RandomIdGenerator::default();
        match parent {
            Some(parent) => Self::new(
                request_id,
                parent.trace_id(),
                ids.new_span_id(),
                Some(parent.span_id()),
                parent.trace_flags(),
            ),
            None => Self::new(
                request_id,
                ids.new_trace_id(),
                ids.new_span_id(),
                None,
                TraceFlags::SAMPLED,
            ),
        }
    }

    /// The context of the request being served by the current task, if any.
    ///
    /// Found through the current tracing span and its parents; `None` outside
    /// a request span, or when the global subscriber is not built on
    /// `tracing_subscriber::Registry`.
    pub fn current() -> Option<Self> {
        Span::current()
            .with_subscriber(|(id, dispatch)| {
                let registry = dispatch.downcast_ref::<Registry>()?;
                let span = registry.span(id)?;
                span.scope()
                    .find_map(|s| s.extensions().get::<RequestContext>().cloned())
            })
            .flatten()
    }

    /// Stores this context in `span`'s registry extensions, so that events
    /// inside the span and [`RequestContext::current`] find it. Returns false
    /// when the span is disabled or the subscriber has no registry.
    pub fn attach_to(&self, span: &Span) -> bool {
        span.with_subscriber(|(id, dispatch)| {
            let Some(registry) = dispatch.downcast_ref::<Registry>() else {
                return false;
            };
            let Some(span) = registry.span(id) else {
                return false;
            };
            span.extensions_mut().replace(self.clone());
            true
        })
        .unwrap_or(false)
    }

    /// The request ID.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The W3C trace ID (kept from the caller's `traceparent`, or new).
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This service's span ID for the request.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The caller's span ID, from the incoming `traceparent`.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent_span_id
    }

    /// The W3C trace flags (sampled or not) to pass on.
    pub fn trace_flags(&self) -> TraceFlags {
        self.trace_flags
    }

    /// The span context a downstream call carries: same trace, `child_span_id`
    /// as the caller's span.
    pub fn child_span_context(&self, child_span_id: SpanId) -> SpanContext {
        SpanContext::new(
            self.trace_id,
            child_span_id,
            self.trace_flags,
            true,
            TraceState::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn sample() -> RequestContext {
        RequestContext::start(RequestId::try_from("req-1").expect("valid"), None)
    }

    #[test]
    fn start_without_parent_makes_a_new_valid_trace() {
        let ctx = sample();
        assert_ne!(ctx.trace_id(), TraceId::INVALID);
        assert_ne!(ctx.span_id(), SpanId::INVALID);
        assert_eq!(ctx.parent_span_id(), None);
        assert_ne!(sample().trace_id(), ctx.trace_id());
    }

    #[test]
    fn start_with_parent_keeps_the_trace_and_makes_a_new_span() {
        let parent = SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let ctx = RequestContext::start(RequestId::try_from("r").expect("valid"), Some(&parent));
        assert_eq!(ctx.trace_id(), parent.trace_id());
        assert_eq!(ctx.parent_span_id(), Some(parent.span_id()));
        assert_ne!(ctx.span_id(), parent.span_id());
    }

    #[test]
    fn current_finds_the_context_in_the_span_and_its_children() {
        let subscriber =
            tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new());
        tracing::subscriber::with_default(subscriber, || {
            assert_eq!(RequestContext::current(), None);
            let ctx = sample();
            let span = tracing::info_span!("request");
            assert!(ctx.attach_to(&span));
            let _outer = span.enter();
            assert_eq!(RequestContext::current(), Some(ctx.clone()));
            let _inner = tracing::info_span!("child").entered();
            assert_eq!(RequestContext::current(), Some(ctx));
        });
    }

    #[test]
    fn attach_reports_false_without_a_registry() {
        let span = tracing::info_span!("no subscriber");
        assert!(!sample().attach_to(&span));
    }
}

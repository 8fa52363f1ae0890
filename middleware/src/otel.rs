//! OpenTelemetry interop (feature `otel`): one trace, whoever exports it.
//!
//! A service that already exports traces through `tracing-opentelemetry` has
//! an OpenTelemetry span for our `request` tracing span. Without help, that
//! span would start a new trace of its own, and the trace ID in our log lines
//! would not match the one in the trace backend. So when the layer opens the
//! request span it sets the span's OpenTelemetry parent to the incoming
//! `traceparent` (if any), then adopts the resulting OpenTelemetry trace and
//! span IDs as the request's own. Log lines, outgoing `traceparent` headers
//! and exported spans then all agree.
//!
//! Outgoing reqwest calls get an OpenTelemetry client span of their own
//! ([`client_span`]), and its span ID is the parent sent in `traceparent`, so
//! the callee's exported span hangs off a span that was exported too.
//!
//! When no OpenTelemetry layer is installed, [`adopt_span`] returns `None`
//! and the layer falls back to its own IDs: the feature costs nothing when
//! unused.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::context::RequestContext;
use crate::id::RequestId;

/// Parents `span`'s OpenTelemetry span on `parent` and returns a context
/// with its IDs; `None` if there is no OpenTelemetry layer or its span has
/// no valid IDs.
pub(crate) fn adopt_span(
    span: &Span,
    request_id: &RequestId,
    parent: Option<&SpanContext>,
) -> Option<RequestContext> {
    if let Some(parent) = parent {
        let cx = Context::new().with_remote_span_context(parent.clone());
        span.set_parent(cx).ok()?;
    }
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    if !sc.is_valid() {
        return None;
    }
    Some(RequestContext::new(
        request_id.clone(),
        sc.trace_id(),
        sc.span_id(),
        parent.map(SpanContext::span_id),
        sc.trace_flags(),
    ))
}

/// A client span for an outgoing call, as a child of the current span, and
/// its OpenTelemetry span ID (the `traceparent` parent to send); `None`
/// when no OpenTelemetry layer is installed.
#[cfg(feature = "reqwest")]
pub(crate) fn client_span(
    method: &http::Method,
    path: &str,
) -> Option<(Span, opentelemetry::trace::SpanId)> {
    let span = tracing::info_span!(
        target: "wakeline_middleware::call",
        "call",
        otel.kind = "client",
        http.request.method = method.as_str(),
        url.path = path,
    );
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    let id = sc.span_id();
    sc.is_valid().then_some((span, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::TRACEPARENT;
    use http::{Request, Response};
    use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use std::convert::Infallible;
    use tower::{Layer, ServiceExt};
    use tracing_subscriber::layer::SubscriberExt;

    fn subscriber() -> (SdkTracerProvider, impl tracing::Subscriber) {
        let provider = SdkTracerProvider::builder().build();
        let tracer = provider.tracer("test");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        (provider, subscriber)
    }

    async fn context_seen_by_handler(req: Request<()>) -> RequestContext {
        let svc = crate::RequestIdLayer::new()
            .request_lines(false)
            .layer(tower::service_fn(|req: Request<()>| async move {
                let ctx = req.extensions().get::<RequestContext>().cloned();
                Ok::<_, Infallible>(Response::new(ctx))
            }));
        let response = svc.oneshot(req).await.expect("infallible");
        response.into_body().expect("context in extensions")
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn request_span_joins_the_incoming_otel_trace() {
        let (_provider, subscriber) = subscriber();
        let _guard = tracing::subscriber::set_default(subscriber);
        let req = Request::builder()
            .header(
                TRACEPARENT,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(())
            .expect("request");
        let ctx = block_on(context_seen_by_handler(req));
        assert_eq!(
            ctx.trace_id(),
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(
            ctx.parent_span_id(),
            Some(SpanId::from(0x00f0_67aa_0ba9_02b7))
        );
        assert_ne!(ctx.span_id(), SpanId::from(0x00f0_67aa_0ba9_02b7));
    }

    #[test]
    fn adopted_ids_are_the_otel_span_ids() {
        let (_provider, subscriber) = subscriber();
        let _guard = tracing::subscriber::set_default(subscriber);
        let span = tracing::info_span!("request");
        let id = RequestId::try_from("r-1").expect("valid");
        let ctx = adopt_span(&span, &id, None).expect("an otel layer is installed");
        let otel = span.context();
        assert_eq!(ctx.trace_id(), otel.span().span_context().trace_id());
        assert_eq!(ctx.span_id(), otel.span().span_context().span_id());
    }

    #[cfg(feature = "reqwest")]
    #[test]
    fn an_outgoing_call_gets_an_exported_client_span_in_the_same_trace() {
        let (_provider, subscriber) = subscriber();
        let _guard = tracing::subscriber::set_default(subscriber);
        let request = tracing::info_span!("request");
        let id = RequestId::try_from("r-1").expect("valid");
        let ctx = adopt_span(&request, &id, None).expect("an otel layer is installed");
        let _entered = request.enter();
        let (call, child) = client_span(&http::Method::GET, "/token").expect("a client span");
        let call_cx = call.context();
        let call_sc = call_cx.span().span_context().clone();
        assert_eq!(call_sc.span_id(), child);
        assert_eq!(call_sc.trace_id(), ctx.trace_id());
        assert_ne!(child, ctx.span_id());
    }

    #[cfg(feature = "reqwest")]
    #[test]
    fn without_an_otel_layer_there_is_no_client_span() {
        assert!(client_span(&http::Method::GET, "/").is_none());
    }

    #[test]
    fn without_an_otel_layer_nothing_is_adopted() {
        let span = tracing::info_span!("request");
        let id = RequestId::try_from("r-1").expect("valid");
        assert_eq!(adopt_span(&span, &id, None), None);
    }
}

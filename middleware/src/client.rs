//! Outgoing calls with reqwest (feature `reqwest`): the callee joins our request.
//!
//! [`PropagateRequestId`] is a `reqwest-middleware` middleware. On every call
//! made while a request is being served (that is, inside its tracing span,
//! including tasks spawned with `.in_current_span()`), it sends the same
//! `X-Request-ID` and a child `traceparent` whose parent is a fresh span ID,
//! and logs one line when the call completes: peer, method, path, status,
//! duration and that child span ID. The callee logs the same child span ID as
//! its `parent_span_id`, which is how the collector links the caller's call
//! line to the callee's lines.
//!
//! Outside a request the middleware does nothing, so a shared client can be
//! used by background work too.
//!
//! (`reqwest-tracing` would do the header part but does not support the
//! OpenTelemetry version this crate uses; the whole job is a few lines on top
//! of [`crate::propagate::inject_context`].)

use std::time::Instant;

use http::{Extensions, HeaderName};
use opentelemetry::trace::SpanId;
use reqwest_middleware::{Middleware, Next};
use tracing::Instrument;

use crate::context::RequestContext;
use crate::propagate::{X_REQUEST_ID, inject_child, inject_context};

/// The log target of the per-call lines.
pub const CALL_LINE_TARGET: &str = "wakeline_middleware::call";

/// Propagates the current request ID and trace onto reqwest calls.
///
/// ```
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(wakeline_middleware::PropagateRequestId::new())
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Debug)]
pub struct PropagateRequestId {
    header: HeaderName,
    call_lines: bool,
}

impl PropagateRequestId {
    /// Sends `x-request-id` and `traceparent`, and logs one line per call.
    pub fn new() -> Self {
        Self {
            header: X_REQUEST_ID,
            call_lines: true,
        }
    }

    /// The request ID header to send (default `x-request-id`).
    pub fn header_name(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    /// Whether to log a line per call (default on).
    pub fn call_lines(mut self, enabled: bool) -> Self {
        self.call_lines = enabled;
        self
    }
}

impl Default for PropagateRequestId {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl Middleware for PropagateRequestId {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let Some(ctx) = RequestContext::current() else {
            return next.run(req, extensions).await;
        };
        // With OpenTelemetry exporting, the call gets a client span of its
        // own, whose ID the callee then names as its parent: the exported
        // trace has no dangling links.
        #[cfg(feature = "otel")]
        let call_span = crate::otel::client_span(req.method(), req.url().path());
        #[cfg(not(feature = "otel"))]
        let call_span: Option<(tracing::Span, SpanId)> = None;
        let child_span_id = match &call_span {
            Some((_, id)) => {
                inject_child(&ctx, *id, &self.header, req.headers_mut());
                *id
            }
            None => inject_context(&ctx, &self.header, req.headers_mut()),
        };
        if !self.call_lines {
            return run(next, req, extensions, call_span).await;
        }

        let url = req.url();
        let peer = match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => String::new(),
        };
        let path = url.path().to_owned();
        let method = req.method().clone();
        let start = Instant::now();
        let result = run(next, req, extensions, call_span).await;
        let duration_ms = start.elapsed().as_micros() as f64 / 1e3;
        match &result {
            Ok(response) => tracing::info!(
                target: CALL_LINE_TARGET,
                peer,
                method = %method,
                path,
                status = response.status().as_u16(),
                duration_ms,
                child_span_id = %child_span_id,
                "call finished"
            ),
            Err(error) => tracing::warn!(
                target: CALL_LINE_TARGET,
                peer,
                method = %method,
                path,
                duration_ms,
                child_span_id = %child_span_id,
                error = %error,
                "call failed"
            ),
        }
        result
    }
}

/// Sends the request, inside the call's own span if it has one.
async fn run(
    next: Next<'_>,
    req: reqwest::Request,
    extensions: &mut Extensions,
    call_span: Option<(tracing::Span, SpanId)>,
) -> reqwest_middleware::Result<reqwest::Response> {
    match call_span {
        Some((span, _)) => next.run(req, extensions).instrument(span).await,
        None => next.run(req, extensions).await,
    }
}

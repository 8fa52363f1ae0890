//! The tower layer that gives every request its identity at the edge.
//!
//! For each request, [`RequestIdService`]:
//!
//! 1. keeps a valid incoming `X-Request-ID` (1–128 chars of `[A-Za-z0-9._:-]`)
//!    or makes a new one with its [`MakeRequestId`] (UUIDv7 by default), and
//!    writes the result back into the request's header so handlers that read
//!    the header see the safe value;
//! 2. continues the caller's W3C trace from a valid `traceparent` (new span ID,
//!    same trace ID) or starts a new trace;
//! 3. opens a tracing span `request` with `request_id`, `trace_id`, `span_id`,
//!    `method` and `path`, and stores the [`RequestContext`] (which holds the
//!    [`RequestId`]) in it and in the request's extensions;
//! 4. runs the inner service inside that span (every poll enters it), logs a
//!    start line and an end line (status, duration) if enabled, and sets the
//!    ID on the response.
//!
//! With request lines on, the wall clock is read once when the request starts
//! and once when it ends (see `clock`), and the layer writes its two lines
//! itself just before it emits them and lends them to the JSON writer (see
//! `log::lent`): read and written the general way, the lines cost two thirds
//! as much as the rest of the layer.
//!
//! Nothing about a bad header fails the request: an invalid value is simply
//! not trusted, and since only validated IDs exist as [`RequestId`] values,
//! hostile bytes never reach a log line or a response header.
//!
//! The shape (layer, service, named future, ID policy trait) follows
//! tower-http's `request_id.rs`, so it composes with any tower or hyper stack.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{HeaderName, Request, Response};
use opentelemetry::trace::{SpanId, TraceId};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::field::display;
use tracing::{Level, Span};

use crate::clock;
use crate::context::RequestContext;
use crate::id::{MakeRequestId, MakeUuidV7, RequestId, Trust};
use crate::log::{Fields, Ids, Lend, Message};
use crate::propagate::{X_REQUEST_ID, extract_parent};

/// The log target of the request start and end lines.
pub const REQUEST_LINE_TARGET: &str = "wakeline_middleware::request";

/// Adds [`RequestIdService`] to a stack. Cheap to clone.
///
/// Per request: keeps a valid incoming `x-request-id` (else makes one, a
/// UUIDv7 by default) and a valid `traceparent` (else starts a trace); serves
/// the request inside a `request` span carrying `request_id`, `trace_id`,
/// `span_id`, `method` and `path`; puts the [`RequestContext`] in the request
/// extensions; sets the ID on the response; logs `request started` and
/// `request finished` lines (target [`REQUEST_LINE_TARGET`]) unless turned
/// off. A bad incoming header never fails the request.
///
/// ```
/// use wakeline_middleware::{RequestIdLayer, Trust};
///
/// let layer = RequestIdLayer::new()
///     .header_name(http::HeaderName::from_static("x-correlation-id"))
///     .trust(Trust::AlwaysGenerate)
///     .request_lines(false);
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct RequestIdLayer<M = MakeUuidV7> {
    config: Config,
    make: M,
}

#[derive(Clone, Debug)]
struct Config {
    header: HeaderName,
    trust: Trust,
    request_lines: bool,
    span_level: Level,
}

impl RequestIdLayer {
    /// `x-request-id`, trust valid incoming IDs, UUIDv7, request lines on.
    pub fn new() -> Self {
        Self {
            config: Config {
                header: X_REQUEST_ID,
                trust: Trust::Valid,
                request_lines: true,
                span_level: Level::ERROR,
            },
            make: MakeUuidV7,
        }
    }
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> RequestIdLayer<M> {
    /// The header read and written (default `x-request-id`).
    pub fn header_name(mut self, header: HeaderName) -> Self {
        self.config.header = header;
        self
    }

    /// Whether incoming `X-Request-ID` and `traceparent` are believed.
    pub fn trust(mut self, trust: Trust) -> Self {
        self.config.trust = trust;
        self
    }

    /// Whether to log a line when a request starts and when it ends (default on).
    pub fn request_lines(mut self, enabled: bool) -> Self {
        self.config.request_lines = enabled;
        self
    }

    /// The level of the `request` span (default `ERROR`).
    ///
    /// The span is what carries the IDs to log lines and outgoing calls, so
    /// a filter that disables it loses both. At `ERROR` it is enabled
    /// whenever any line is (`RUST_LOG=warn` still gets IDs on its warnings
    /// and still propagates them); its level says nothing about severity.
    pub fn span_level(mut self, level: Level) -> Self {
        self.config.span_level = level;
        self
    }

    /// Makes new IDs with `make` instead of UUIDv7.
    pub fn make_request_id<M2: MakeRequestId>(self, make: M2) -> RequestIdLayer<M2> {
        RequestIdLayer {
            config: self.config,
            make,
        }
    }
}

impl<S, M: Clone> Layer<S> for RequestIdLayer<M> {
    type Service = RequestIdService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService {
            inner,
            config: self.config.clone(),
            make: self.make.clone(),
        }
    }
}

/// Assigns, propagates and logs the request ID; see [`RequestIdLayer`] and the crate docs.
#[derive(Clone, Debug)]
pub struct RequestIdService<S, M = MakeUuidV7> {
    inner: S,
    config: Config,
    make: M,
}

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for RequestIdService<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: MakeRequestId,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // With request lines on, the wall clock is read here once for the
        // new ID, the start line and the start of the duration, and once
        // more at the end (see `clock`).
        let start = self.config.request_lines.then(clock::read);
        let pin = start.map(clock::pin);
        let trusted = self.config.trust == Trust::Valid;
        let incoming = trusted
            .then(|| req.headers().get(&self.config.header))
            .flatten()
            .and_then(|v| RequestId::from_header_value(v).ok());
        let request_id = match incoming {
            Some(id) => id,
            None => self.make.make_request_id(&req),
        };
        let parent = trusted.then(|| extract_parent(req.headers())).flatten();
        req.headers_mut().insert(
            self.config.header.clone(),
            request_id.as_header_value().clone(),
        );

        let (level, method, path) = (self.config.span_level, req.method(), req.uri().path());
        // Without OpenTelemetry the IDs are known before the span opens and
        // go into it as it does; with it they are the OpenTelemetry span's,
        // known once it is open, and recorded then.
        #[cfg(not(feature = "otel"))]
        let (span, ctx) = {
            let ctx = RequestContext::start(request_id, parent.as_ref());
            let ids = Some((ctx.trace_id(), ctx.span_id()));
            let span = request_span(level, ctx.request_id(), ids, method.as_str(), path);
            (span, ctx)
        };
        #[cfg(feature = "otel")]
        let (span, ctx) = {
            let span = request_span(level, &request_id, None, method.as_str(), path);
            let ctx = start_context(&span, request_id, parent.as_ref());
            span.record("trace_id", display(ctx.trace_id()));
            span.record("span_id", display(ctx.span_id()));
            (span, ctx)
        };
        let (trace_id, span_id) = (ctx.trace_id(), ctx.span_id());
        // The IDs to lend to the request's own lines (see `log::lend`):
        // only once they are attached to the span, as a lookup would find.
        let ids = (ctx.attach_to(&span) && start.is_some()).then_some((trace_id, span_id));

        if start.is_some() {
            let fields = Fields::Start {
                method: req.method().as_str(),
                path: req.uri().path(),
                parent_span_id: ctx.parent_span_id(),
            };
            let _lent = ids.map(|(trace_id, span_id)| {
                let request_id = ctx.request_id();
                let ids = Ids {
                    request_id,
                    trace_id,
                    span_id,
                };
                crate::log::lend(&span, ids, Message::Started, fields)
            });
            // An explicit parent rather than entering the span: same line,
            // one span enter/exit less per request.
            tracing::info!(
                target: REQUEST_LINE_TARGET,
                parent: &span,
                message = Message::Started.as_str(),
                method = req.method().as_str(),
                path = req.uri().path(),
                parent_span_id = ctx.parent_span_id().map(display),
            );
        }
        drop(pin);

        let response_id = ctx.request_id().clone();
        req.extensions_mut().insert(ctx);
        // Entered by hand rather than with `in_scope`: the request is moved
        // once, into the inner service, not into a closure first.
        let entered = span.enter();
        let inner = self.inner.call(req);
        drop(entered);
        ResponseFuture {
            inner,
            span,
            header: Some((self.config.header.clone(), response_id)),
            start,
            ids,
        }
    }
}

/// The `request` span at `level` (tracing needs the level at compile time,
/// hence one callsite per level), with its trace and span IDs if known.
fn request_span(
    level: Level,
    request_id: &RequestId,
    ids: Option<(TraceId, SpanId)>,
    method: &str,
    path: &str,
) -> Span {
    let trace_id = ids.map(|(trace_id, _)| display(trace_id));
    let span_id = ids.map(|(_, span_id)| display(span_id));
    macro_rules! span_at {
        ($level:expr) => {
            tracing::span!(
                target: "wakeline_middleware",
                $level,
                "request",
                request_id = %request_id,
                trace_id,
                span_id,
                method,
                path,
            )
        };
    }
    if level == Level::ERROR {
        span_at!(Level::ERROR)
    } else if level == Level::WARN {
        span_at!(Level::WARN)
    } else if level == Level::INFO {
        span_at!(Level::INFO)
    } else if level == Level::DEBUG {
        span_at!(Level::DEBUG)
    } else {
        span_at!(Level::TRACE)
    }
}

/// The request's [`RequestContext`]: with the `otel` feature and an
/// OpenTelemetry layer installed, the IDs of the OpenTelemetry span (so both
/// agree on one trace); otherwise our own.
pub(crate) fn start_context(
    span: &Span,
    request_id: RequestId,
    parent: Option<&opentelemetry::trace::SpanContext>,
) -> RequestContext {
    #[cfg(feature = "otel")]
    if let Some(ctx) = crate::otel::adopt_span(span, &request_id, parent) {
        return ctx;
    }
    #[cfg(not(feature = "otel"))]
    let _ = span;
    RequestContext::start(request_id, parent)
}

pin_project! {
    /// The response future of [`RequestIdService`]: polls the inner future
    /// inside the request span, then stamps the response.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        header: Option<(HeaderName, RequestId)>,
        // When the request started (since the Unix epoch), while request
        // lines are on and the request has not ended.
        start: Option<Duration>,
        // The trace and span IDs attached to the span, to lend to the end
        // line with the request ID in `header`.
        ids: Option<(TraceId, SpanId)>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before completing: the client went away (hyper drops
            // the future) or a timeout fired. Say so, or the request's
            // trace would just stop.
            let this = this.project();
            if let Some(start) = this.start.take() {
                let end = clock::read();
                let duration_us = duration_us(start, end);
                let duration_ms = duration_us as f64 / 1e3;
                let _pin = clock::pin(end);
                let fields = Fields::End {
                    status: None,
                    duration_us,
                };
                let _lent = lend_line(this.span, this.header.as_ref(), *this.ids, Message::Cancelled, fields);
                tracing::warn!(
                    target: REQUEST_LINE_TARGET,
                    parent: &*this.span,
                    message = Message::Cancelled.as_str(),
                    duration_ms,
                );
            }
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span: &Span = this.span;
        let _entered = span.enter();
        let mut result = ready!(this.inner.poll(cx));
        let header = this.header.take();
        if let Some(start) = this.start.take() {
            // One reading of the clock for the duration and the line's `ts`.
            let end = clock::read();
            let duration_us = duration_us(start, end);
            let duration_ms = duration_us as f64 / 1e3;
            let _pin = clock::pin(end);
            let status = result.as_ref().ok().map(Response::status);
            let (message, fields) = match status {
                Some(status) => (Message::Finished, Some(status.as_u16())),
                None => (Message::Failed, None),
            };
            let fields = Fields::End {
                status: fields,
                duration_us,
            };
            let _lent = lend_line(span, header.as_ref(), *this.ids, message, fields);
            match status {
                Some(status) if status.is_server_error() => {
                    let status = status.as_u16();
                    tracing::error!(
                        target: REQUEST_LINE_TARGET,
                        parent: span,
                        message = Message::Finished.as_str(),
                        status,
                        duration_ms,
                    );
                }
                Some(status) => {
                    let status = status.as_u16();
                    tracing::info!(
                        target: REQUEST_LINE_TARGET,
                        parent: span,
                        message = Message::Finished.as_str(),
                        status,
                        duration_ms,
                    );
                }
                None => {
                    tracing::error!(
                        target: REQUEST_LINE_TARGET,
                        parent: span,
                        message = Message::Failed.as_str(),
                        duration_ms,
                    );
                }
            }
        }
        if let (Ok(response), Some((name, value))) = (&mut result, header) {
            response
                .headers_mut()
                .insert(name, value.into_header_value());
        }
        Poll::Ready(result)
    }
}

/// Writes the request line about to be emitted in `span` ahead and lends it
/// to the JSON writer (see `log::lend`), if the request's IDs are attached
/// to its span and request lines are on.
fn lend_line(
    span: &Span,
    header: Option<&(HeaderName, RequestId)>,
    ids: Option<(TraceId, SpanId)>,
    message: Message,
    fields: Fields<'_>,
) -> Option<Lend> {
    let ((_, request_id), (trace_id, span_id)) = (header?, ids?);
    let ids = Ids {
        request_id,
        trace_id,
        span_id,
    };
    Some(crate::log::lend(span, ids, message, fields))
}

/// Microseconds from `start` to `end`: the lines give the duration in
/// milliseconds to the µs (all a reader needs, and quick to write). In
/// `u64`: `u128` arithmetic and its conversion to `f64` are library calls.
/// Wall-clock readings, so a step of the clock back during the request
/// makes it 0 (and a step forward adds the step).
fn duration_us(start: Duration, end: Duration) -> u64 {
    let elapsed = end.saturating_sub(start);
    elapsed.as_secs() * 1_000_000 + u64::from(elapsed.subsec_micros())
}

#[cfg(test)]
mod tests;

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::capture::Capture;
    use crate::id::RequestId;
    use crate::log::JsonLayer;
    use crate::propagate::TRACEPARENT;

    /// Accepts one connection, answers its request with 204 and returns the
    /// request's headers (names lower-cased).
    async fn serve_once(listener: TcpListener) -> HashMap<String, String> {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut buf = [0; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read request");
            assert_ne!(n, 0, "connection closed before the end of the head");
            head.extend_from_slice(&buf[..n]);
        }
        socket
            .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
            .await
            .expect("write response");
        String::from_utf8(head)
            .expect("ASCII head")
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect()
    }

    /// Makes one GET through [`PropagateRequestId`] to a loopback server,
    /// inside a request span with ID `call-1` or outside any; returns the
    /// headers the server received, the log lines and the server's port.
    fn call(in_request: bool) -> (HashMap<String, String>, Capture, u16) {
        let logs = Capture::default();
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(JsonLayer::new().with_writer(logs.clone()));
        let _guard = tracing::subscriber::set_default(subscriber);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let span = if in_request {
            let span = tracing::error_span!("request");
            let ctx = RequestContext::start(RequestId::try_from("call-1").expect("valid"), None);
            assert!(ctx.attach_to(&span));
            span
        } else {
            tracing::Span::none()
        };
        let (headers, port) = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("address").port();
            let client = reqwest_middleware::ClientBuilder::new(
                reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .expect("client"),
            )
            .with(PropagateRequestId::new())
            .build();
            let call = client
                .get(format!("http://127.0.0.1:{port}/token"))
                .send()
                .instrument(span);
            let both = async { tokio::join!(serve_once(listener), call) };
            let (headers, response) = tokio::time::timeout(Duration::from_secs(10), both)
                .await
                .expect("the call finishes within 10 s");
            assert_eq!(response.expect("response").status().as_u16(), 204);
            (headers, port)
        });
        (headers, logs, port)
    }

    #[test]
    fn a_call_inside_a_request_carries_its_id_and_logs_the_child_span() {
        let (headers, logs, port) = call(true);
        assert_eq!(
            headers.get("x-request-id").map(String::as_str),
            Some("call-1")
        );
        let traceparent = headers.get(TRACEPARENT.as_str()).expect("a traceparent");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");

        let lines = logs.lines();
        let calls: Vec<_> = lines
            .iter()
            .filter(|l| l["target"] == CALL_LINE_TARGET)
            .collect();
        assert_eq!(calls.len(), 1, "one call line: {lines:?}");
        let call = calls[0];
        assert_eq!(call["msg"], "call finished");
        assert_eq!(call["request_id"], "call-1");
        assert_eq!(call["trace_id"], parts[1], "the call continues the trace");
        assert_eq!(call["child_span_id"], parts[2], "the callee's parent");
        assert_ne!(call["span_id"], parts[2], "the child span is new");
        assert_eq!(call["peer"], format!("127.0.0.1:{port}"));
        assert_eq!(call["method"], "GET");
        assert_eq!(call["path"], "/token");
        assert_eq!(call["status"], 204);
    }

    #[test]
    fn a_call_outside_a_request_is_sent_untouched_and_not_logged() {
        let (headers, logs, _) = call(false);
        assert!(!headers.contains_key("x-request-id"), "{headers:?}");
        assert!(!headers.contains_key(TRACEPARENT.as_str()), "{headers:?}");
        assert!(logs.raw().is_empty(), "{}", logs.raw());
    }
}

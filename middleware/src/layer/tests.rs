//! Tests of the layer through a real axum `Router` (driven with `oneshot`),
//! with the JSON log layer capturing what the request wrote.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::capture::Capture;
use crate::log::JsonLayer;

const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// What one request produced: status, response header, what the handler
/// saw (request ID, the header it read, the context), and the log lines.
struct Outcome {
    status: StatusCode,
    response_id: Option<String>,
    body: Value,
    logs: Capture,
}

fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|req: http::Request<Body>| async move {
                let ctx = req.extensions().get::<RequestContext>().cloned();
                tracing::info!(from = "handler", "handling");
                tracing::warn!("handler warning");
                let header = req
                    .headers()
                    .get("x-request-id")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                axum::Json(serde_json::json!({
                    "extension_id": ctx.as_ref().map(|c| c.request_id().to_string()),
                    "header_id": header,
                    "trace_id": ctx.as_ref().map(|c| c.trace_id().to_string()),
                    "span_id": ctx.as_ref().map(|c| c.span_id().to_string()),
                    "parent_span_id": ctx.as_ref().and_then(|c| c.parent_span_id()).map(|s| s.to_string()),
                }))
            }),
        )
        .route("/boom", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route(
            "/hang",
            get(|| async {
                tracing::info!("waiting forever");
                std::future::pending::<()>().await
            }),
        )
}

fn run<M: MakeRequestId + Send + Sync + 'static>(
    layer: RequestIdLayer<M>,
    req: http::Request<Body>,
) -> Outcome {
    run_filtered(layer, req, LevelFilter::TRACE)
}

fn run_filtered<M: MakeRequestId + Send + Sync + 'static>(
    layer: RequestIdLayer<M>,
    req: http::Request<Body>,
    filter: LevelFilter,
) -> Outcome {
    let logs = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(JsonLayer::new().with_writer(logs.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let response = app().layer(layer).oneshot(req).await.expect("infallible");
        let status = response.status();
        let response_id = response
            .headers()
            .get("x-request-id")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Outcome {
            status,
            response_id,
            body,
            logs,
        }
    })
}

fn get_with(headers: &[(&str, HeaderValue)]) -> http::Request<Body> {
    let mut req = http::Request::get("/")
        .body(Body::empty())
        .expect("request");
    for (name, value) in headers {
        req.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.clone(),
        );
    }
    req
}

fn is_uuid_v7(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 7) && s.len() == 36
}

#[test]
fn valid_incoming_id_is_kept_everywhere() {
    let out = run(
        RequestIdLayer::new(),
        get_with(&[("x-request-id", HeaderValue::from_static("edge-42.a_b:c"))]),
    );
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.response_id.as_deref(), Some("edge-42.a_b:c"));
    assert_eq!(out.body["extension_id"], "edge-42.a_b:c");
    assert_eq!(out.body["header_id"], "edge-42.a_b:c");
    let lines = out.logs.lines();
    assert_eq!(
        lines.len(),
        4,
        "start, handler info and warning, end: {lines:?}"
    );
    for line in &lines {
        assert_eq!(line["request_id"], "edge-42.a_b:c");
        assert_eq!(line["trace_id"], out.body["trace_id"]);
        assert_eq!(line["span_id"], out.body["span_id"]);
    }
}

#[test]
fn bad_incoming_ids_are_replaced_by_a_fresh_uuid_v7() {
    let huge = "a".repeat(10 * 1024);
    let cases: Vec<(&str, HeaderValue)> = vec![
        ("empty", HeaderValue::from_static("")),
        ("10 KB", HeaderValue::from_str(&huge).expect("long value")),
        (
            "129 chars",
            HeaderValue::from_str(&"b".repeat(129)).expect("value"),
        ),
        (
            "non-ASCII",
            HeaderValue::from_bytes("idé-ü".as_bytes()).expect("obs-text"),
        ),
        (
            "raw high bytes",
            HeaderValue::from_bytes(b"\xff\xfe\x80").expect("obs-text"),
        ),
        (
            "escaped CR/LF",
            HeaderValue::from_static("a%0D%0Ainjected: yes"),
        ),
        ("backslash CR/LF", HeaderValue::from_static("a\\r\\nb")),
        (
            "JSON breaker",
            HeaderValue::from_static("\",\"level\":\"error"),
        ),
        ("tab", HeaderValue::from_static("a\tb")),
    ];
    for (name, value) in cases {
        let bad = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let out = run(RequestIdLayer::new(), get_with(&[("x-request-id", value)]));
        assert_eq!(out.status, StatusCode::OK, "{name}");
        let id = out.response_id.expect("response has an ID");
        assert!(is_uuid_v7(&id), "{name}: {id}");
        assert_eq!(out.body["extension_id"], id.as_str(), "{name}");
        assert_eq!(
            out.body["header_id"],
            id.as_str(),
            "{name}: handlers see the safe ID"
        );
        let raw = out.logs.raw();
        if !bad.is_empty() {
            assert!(!raw.contains(&bad), "{name}: bad value reached the log");
        }
        for line in out.logs.lines() {
            assert_eq!(line["request_id"], id.as_str(), "{name}");
        }
    }
}

#[test]
fn two_requests_without_an_id_get_different_ids() {
    let a = run(RequestIdLayer::new(), get_with(&[]));
    let b = run(RequestIdLayer::new(), get_with(&[]));
    let (a, b) = (a.response_id.expect("id"), b.response_id.expect("id"));
    assert!(is_uuid_v7(&a) && is_uuid_v7(&b));
    assert_ne!(a, b);
}

#[test]
fn incoming_traceparent_keeps_the_trace_with_a_new_span() {
    let traceparent = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01");
    let out = run(
        RequestIdLayer::new(),
        get_with(&[(
            "traceparent",
            HeaderValue::from_str(&traceparent).expect("value"),
        )]),
    );
    assert_eq!(out.body["trace_id"], PARENT_TRACE);
    assert_eq!(out.body["parent_span_id"], PARENT_SPAN);
    assert_ne!(out.body["span_id"], PARENT_SPAN);
    let lines = out.logs.lines();
    assert_eq!(lines[0]["msg"], "request started");
    assert_eq!(lines[0]["parent_span_id"], PARENT_SPAN);
    assert!(lines[1..].iter().all(|l| l.get("parent_span_id").is_none()));
    assert!(lines.iter().all(|l| l["trace_id"] == PARENT_TRACE));
}

#[test]
fn bad_traceparents_start_a_new_trace_and_never_fail() {
    let huge = format!("00-{}-{PARENT_SPAN}-01", "a".repeat(10 * 1024));
    for bad in [
        HeaderValue::from_static(""),
        HeaderValue::from_static("00-00000000000000000000000000000000-0000000000000000-01"),
        HeaderValue::from_static("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        HeaderValue::from_static("not a traceparent\\r\\n"),
        HeaderValue::from_str(&huge).expect("value"),
        HeaderValue::from_bytes(b"00-\xff\xfe-\x80").expect("obs-text"),
    ] {
        let shown = String::from_utf8_lossy(bad.as_bytes()).into_owned();
        let out = run(RequestIdLayer::new(), get_with(&[("traceparent", bad)]));
        assert_eq!(out.status, StatusCode::OK, "{shown:.40}");
        let trace = out.body["trace_id"].as_str().expect("trace id");
        assert_eq!(trace.len(), 32);
        assert_ne!(trace, PARENT_TRACE);
        assert_ne!(trace, "00000000000000000000000000000000");
        assert_eq!(out.body["parent_span_id"], Value::Null);
        if !shown.is_empty() {
            assert!(
                !out.logs.raw().contains(&shown),
                "{shown:.40} reached the log"
            );
        }
    }
}

#[test]
fn always_generate_ignores_valid_incoming_ids() {
    let traceparent = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01");
    let out = run(
        RequestIdLayer::new().trust(Trust::AlwaysGenerate),
        get_with(&[
            ("x-request-id", HeaderValue::from_static("client-chosen")),
            (
                "traceparent",
                HeaderValue::from_str(&traceparent).expect("value"),
            ),
        ]),
    );
    let id = out.response_id.expect("id");
    assert!(is_uuid_v7(&id), "{id}");
    assert_ne!(out.body["trace_id"], PARENT_TRACE);
    assert_eq!(out.body["parent_span_id"], Value::Null);
}

#[test]
fn request_lines_say_start_and_end() {
    let out = run(RequestIdLayer::new(), get_with(&[]));
    let lines = out.logs.lines();
    let start = &lines[0];
    assert_eq!(start["msg"], "request started");
    assert_eq!(start["target"], REQUEST_LINE_TARGET);
    assert_eq!(start["method"], "GET");
    assert_eq!(start["path"], "/");
    let end = lines.last().expect("end line");
    assert_eq!(end["msg"], "request finished");
    assert_eq!(end["level"], "info");
    assert_eq!(end["status"], 200);
    assert!(
        end["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{end}"
    );
}

#[test]
fn server_errors_end_with_an_error_line() {
    let req = http::Request::get("/boom")
        .body(Body::empty())
        .expect("request");
    let out = run(RequestIdLayer::new(), req);
    assert_eq!(out.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(out.response_id.is_some());
    let lines = out.logs.lines();
    let end = lines.last().expect("end line");
    assert_eq!(end["level"], "error");
    assert_eq!(end["status"], 500);
}

#[test]
fn request_lines_can_be_turned_off() {
    let out = run(RequestIdLayer::new().request_lines(false), get_with(&[]));
    let lines = out.logs.lines();
    assert_eq!(lines.len(), 2, "only the handler's lines: {lines:?}");
    assert_eq!(lines[0]["from"], "handler");
    assert_eq!(
        lines[0]["request_id"],
        out.response_id.as_deref().expect("id")
    );
}

#[test]
fn header_name_and_id_policy_are_configurable() {
    #[derive(Clone)]
    struct Fixed;
    impl MakeRequestId for Fixed {
        fn make_request_id<B>(&mut self, _: &http::Request<B>) -> RequestId {
            RequestId::try_from("fixed-id").expect("valid")
        }
    }
    let layer = RequestIdLayer::new()
        .header_name(HeaderName::from_static("x-correlation-id"))
        .make_request_id(Fixed);
    // The default header is not read when another is configured.
    let out = run(
        layer.clone(),
        get_with(&[("x-request-id", HeaderValue::from_static("ignored"))]),
    );
    assert_eq!(out.body["extension_id"], "fixed-id");
    let out = run(
        layer,
        get_with(&[("x-correlation-id", HeaderValue::from_static("corr-1"))]),
    );
    assert_eq!(out.body["extension_id"], "corr-1");
}

#[test]
fn a_warn_filter_still_stamps_warnings_with_the_id() {
    let out = run_filtered(RequestIdLayer::new(), get_with(&[]), LevelFilter::WARN);
    let lines = out.logs.lines();
    assert_eq!(lines.len(), 1, "only the warning passes: {lines:?}");
    assert_eq!(lines[0]["msg"], "handler warning");
    assert_eq!(
        lines[0]["request_id"],
        out.response_id.as_deref().expect("id")
    );
    assert_eq!(lines[0]["span_id"], out.body["span_id"]);
}

#[test]
fn a_span_level_below_the_filter_loses_the_ids() {
    // The reason the default span level is ERROR.
    let out = run_filtered(
        RequestIdLayer::new().span_level(tracing::Level::INFO),
        get_with(&[]),
        LevelFilter::WARN,
    );
    let lines = out.logs.lines();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].get("request_id").is_none(), "{}", lines[0]);
    assert!(out.response_id.is_some(), "the response still has the ID");
}

#[test]
fn a_request_dropped_before_its_response_logs_a_cancelled_line() {
    use futures_util::FutureExt;
    let logs = Capture::default();
    let subscriber =
        tracing_subscriber::registry().with(JsonLayer::new().with_writer(logs.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let req = http::Request::get("/hang")
        .header("x-request-id", "gone-1")
        .body(Body::empty())
        .expect("request");
    let mut future = Box::pin(app().layer(RequestIdLayer::new()).oneshot(req));
    assert!(
        future.as_mut().now_or_never().is_none(),
        "the handler never answers"
    );
    drop(future);
    let lines = logs.lines();
    let msgs: Vec<_> = lines
        .iter()
        .map(|l| l["msg"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        msgs,
        ["request started", "waiting forever", "request cancelled"]
    );
    let cancelled = &lines[2];
    assert_eq!(cancelled["level"], "warn");
    assert_eq!(cancelled["request_id"], "gone-1");
    assert!(cancelled["duration_ms"].as_f64().is_some());
}

#[test]
fn the_span_carries_the_ids_for_any_subscriber() {
    // A plain fmt subscriber (no JSON layer) shows the span's fields.
    let logs = Capture::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(logs.clone()),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    let req = get_with(&[("x-request-id", HeaderValue::from_static("fmt-7"))]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let response = runtime
        .block_on(app().layer(RequestIdLayer::new()).oneshot(req))
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let text = logs.raw();
    let handling = text
        .lines()
        .find(|l| l.contains("handling"))
        .unwrap_or_else(|| panic!("no handler line in {text}"));
    assert!(handling.contains("request_id=fmt-7"), "{handling}");
    assert!(
        handling.contains("method=\"GET\"") || handling.contains("method=GET"),
        "{handling}"
    );
    assert!(
        handling.contains("path=\"/\"") || handling.contains("path=/"),
        "{handling}"
    );
    let trace = handling
        .split("trace_id=")
        .nth(1)
        .map(|rest| &rest[..32])
        .unwrap_or_else(|| panic!("no trace_id in {handling}"));
    assert!(trace.bytes().all(|b| b.is_ascii_hexdigit()), "{handling}");
    assert!(handling.contains("span_id="), "{handling}");
}

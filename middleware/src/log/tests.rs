//! Tests of the JSON line format: every line parses, has the fixed keys, and
//! carries the IDs of the enclosing request span.

use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::capture::Capture;
use crate::id::RequestId;

fn capture<T>(f: impl FnOnce() -> T) -> (Capture, T) {
    let out = Capture::default();
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new().with_writer(out.clone()));
    let result = tracing::subscriber::with_default(subscriber, f);
    (out, result)
}

#[test]
fn line_outside_a_request_has_the_fixed_keys_and_typed_fields() {
    let (out, ()) = capture(|| {
        tracing::warn!(target: "svc::db", user_id = 42, ratio = 0.5, ok = true, name = "ann", "slow query");
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["level"], "warn");
    assert_eq!(line["msg"], "slow query");
    assert_eq!(line["target"], "svc::db");
    assert_eq!(line["user_id"], 42);
    assert_eq!(line["ratio"], 0.5);
    assert_eq!(line["ok"], true);
    assert_eq!(line["name"], "ann");
    assert!(line.get("request_id").is_none());
    let ts = line["ts"].as_str().expect("ts is a string");
    assert_eq!(ts.len(), "2026-01-02T03:04:05.123456789Z".len(), "{ts}");
    assert!(
        ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.',
        "{ts}"
    );
    // Key order is part of the contract: ts, level, msg, target first.
    assert!(out.raw().starts_with("{\"ts\":\""));
    let raw = out.raw();
    let order =
        ["\"level\"", "\"msg\"", "\"target\"", "\"user_id\""].map(|k| raw.find(k).expect(k));
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{raw}");
}

#[test]
fn lines_inside_a_request_span_carry_its_ids() {
    let ctx = RequestContext::start(RequestId::try_from("req-42").expect("valid"), None);
    let (out, ()) = capture(|| {
        let span = tracing::info_span!("request");
        assert!(ctx.attach_to(&span));
        let _request = span.enter();
        tracing::info!("in the request span");
        let _inner = tracing::debug_span!("db").entered();
        tracing::error!(code = 7, "in a child span");
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["request_id"], "req-42");
        assert_eq!(line["trace_id"], ctx.trace_id().to_string());
        assert_eq!(line["span_id"], ctx.span_id().to_string());
        assert_eq!(line["trace_id"].as_str().map(str::len), Some(32));
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16));
    }
    assert_eq!(lines[1]["level"], "error");
    assert_eq!(lines[1]["code"], 7);
}

#[test]
fn hostile_text_is_escaped_onto_one_line() {
    let nasty = "a\r\nb\"c\\d\te\u{1}f\u{7f}é—\u{2028}";
    let (out, ()) = capture(|| {
        tracing::info!(field = nasty, debug = ?nasty, "{nasty}");
    });
    assert_eq!(out.raw().matches('\n').count(), 1);
    assert!(!out.raw().contains('\r'));
    let lines = out.lines();
    assert_eq!(lines[0]["msg"], nasty);
    assert_eq!(lines[0]["field"], nasty);
    assert_eq!(lines[0]["debug"], format!("{nasty:?}"));
}

#[test]
fn fields_named_like_fixed_keys_are_prefixed() {
    let ctx = RequestContext::start(RequestId::try_from("real").expect("valid"), None);
    let (out, ()) = capture(|| {
        let span = tracing::info_span!("request");
        ctx.attach_to(&span);
        let _g = span.enter();
        tracing::info!(level = "fake", request_id = "spoofed", ts = 1, "hello");
    });
    let raw = out.raw();
    assert_eq!(raw.matches("\"request_id\":").count(), 1, "{raw}");
    assert_eq!(raw.matches("\"level\":").count(), 1, "{raw}");
    let line = &out.lines()[0];
    assert_eq!(line["request_id"], "real");
    assert_eq!(line["field_request_id"], "spoofed");
    assert_eq!(line["level"], "info");
    assert_eq!(line["field_level"], "fake");
    assert_eq!(line["field_ts"], 1);
}

#[test]
fn request_id_field_outside_a_request_is_kept_as_is() {
    let (out, ()) = capture(|| tracing::info!(request_id = "job-7", "background job"));
    assert_eq!(out.lines()[0]["request_id"], "job-7");
}

#[test]
fn non_finite_floats_and_errors_become_strings() {
    let err = io::Error::other("disk on fire");
    let (out, ()) = capture(|| {
        tracing::info!(
            nan = f64::NAN,
            inf = f64::INFINITY,
            error = &err as &dyn std::error::Error
        );
    });
    let line = &out.lines()[0];
    assert_eq!(line["nan"], "NaN");
    assert_eq!(line["inf"], "inf");
    assert_eq!(line["error"], "disk on fire");
    assert_eq!(
        line["msg"], "",
        "an event without a message has an empty msg"
    );
}

#[test]
fn log_crate_records_use_their_own_target_and_drop_log_fields() {
    // What tracing-log turns a `log` record into.
    let (out, ()) = capture(|| {
        tracing::event!(
            target: "log",
            tracing::Level::INFO,
            log.target = "hyper::client",
            log.module_path = "hyper::client::pool",
            log.line = 42u64,
            "pooling idle connection"
        );
    });
    let line = &out.lines()[0];
    assert_eq!(line["target"], "hyper::client");
    assert_eq!(line["msg"], "pooling idle connection");
    assert!(
        line.get("log.line").is_none() && line.get("log.module_path").is_none(),
        "{line}"
    );
}

#[test]
fn a_message_after_other_fields_still_comes_first() {
    let (out, ()) = capture(|| {
        tracing::info!(a = 1, message = "late", b = "x");
        tracing::info!(message = "early", a = 2);
    });
    let raw = out.raw();
    let lines: Vec<&str> = raw.lines().collect();
    assert_eq!(lines.len(), 2, "{raw}");
    for (line, msg) in lines.iter().zip(["late", "early"]) {
        let after_ts = &line[line.find("\",\"level\"").expect("level")..];
        assert!(
            after_ts.starts_with(&format!(
                "\",\"level\":\"info\",\"msg\":\"{msg}\",\"target\":\""
            )),
            "{line}"
        );
    }
    let parsed = out.lines();
    assert_eq!(parsed[0]["a"], 1);
    assert_eq!(parsed[0]["b"], "x");
    assert_eq!(parsed[1]["a"], 2);
}

#[test]
fn interleaved_requests_on_one_thread_keep_their_own_ids() {
    let contexts = ["req-a", "req-b"]
        .map(|id| RequestContext::start(RequestId::try_from(id).expect("valid"), None));
    let (out, ()) = capture(|| {
        let spans = contexts.clone().map(|ctx| {
            let span = tracing::info_span!("request");
            assert!(ctx.attach_to(&span));
            span
        });
        for round in 0..3 {
            for span in &spans {
                span.in_scope(|| tracing::info!(round, "line"));
            }
        }
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 6);
    for (i, line) in lines.iter().enumerate() {
        let ctx = &contexts[i % 2];
        assert_eq!(line["request_id"], ctx.request_id().as_str());
        assert_eq!(line["trace_id"], ctx.trace_id().to_string());
        assert_eq!(line["span_id"], ctx.span_id().to_string());
    }
}

#[test]
fn lent_lines_are_byte_for_byte_what_the_writer_writes() {
    use opentelemetry::trace::TraceFlags;

    use crate::layer::REQUEST_LINE_TARGET;

    let parent = SpanId::from(0x00f0_67aa_0ba9_02b7);
    let ctx = RequestContext::new(
        RequestId::try_from("req-a").expect("valid"),
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0xa3ce_929d_0e0e_4736),
        Some(parent),
        TraceFlags::SAMPLED,
    );
    let (out, ()) = capture(|| {
        let span = tracing::info_span!("request");
        assert!(ctx.attach_to(&span));
        let ids = Ids {
            request_id: ctx.request_id(),
            trace_id: ctx.trace_id(),
            span_id: ctx.span_id(),
        };
        // The same callsites, written the general way and then lent.
        for lent in [false, true] {
            let lend_if = |message, fields| lent.then(|| lend(&span, ids, message, fields));
            let (method, path) = ("GET", "/a\"b\\c\u{7}");
            for parent_span_id in [Some(parent), None] {
                let fields = Fields::Start {
                    method,
                    path,
                    parent_span_id,
                };
                let _lent = lend_if(Message::Started, fields);
                tracing::info!(
                    target: REQUEST_LINE_TARGET,
                    parent: &span,
                    message = "request started",
                    method,
                    path,
                    parent_span_id = parent_span_id.map(display),
                );
            }
            for (status, duration_us) in [(200, 0), (503, 1_234_567), (200, 1_200), (200, 999)] {
                let fields = Fields::End {
                    status: Some(status),
                    duration_us,
                };
                let duration_ms = duration_us as f64 / 1e3;
                let _lent = lend_if(Message::Finished, fields);
                tracing::info!(
                    target: REQUEST_LINE_TARGET,
                    parent: &span,
                    message = "request finished",
                    status,
                    duration_ms,
                );
            }
            let fields = Fields::End {
                status: None,
                duration_us: 1,
            };
            {
                let _lent = lend_if(Message::Failed, fields);
                tracing::error!(
                    target: REQUEST_LINE_TARGET,
                    parent: &span,
                    message = "request failed",
                    duration_ms = 0.001,
                );
            }
            let _lent = lend_if(Message::Cancelled, fields);
            tracing::warn!(
                target: REQUEST_LINE_TARGET,
                parent: &span,
                message = "request cancelled",
                duration_ms = 0.001,
            );
        }
    });
    let raw = out.raw();
    let after_ts: Vec<&str> = raw
        .lines()
        .map(|line| &line[line.find("\",\"level\"").expect("level")..])
        .collect();
    assert_eq!(after_ts.len(), 16, "{raw}");
    assert_eq!(after_ts[..8], after_ts[8..]);
    assert!(after_ts[0].contains("\"parent_span_id\":\"00f067aa0ba902b7\""));
}

#[test]
fn a_lent_line_serves_only_its_span_until_another_line_comes() {
    let [a, b, lent] = ["req-a", "req-b", "req-lent"]
        .map(|id| RequestContext::start(RequestId::try_from(id).expect("valid"), None));
    let (out, ()) = capture(|| {
        let span_a = tracing::info_span!("request");
        let span_b = tracing::info_span!("request");
        assert!(a.attach_to(&span_a) && b.attach_to(&span_b));
        let line = |span: &tracing::Span| {
            tracing::info!(
                target: crate::layer::REQUEST_LINE_TARGET,
                parent: span,
                message = "request failed",
                duration_ms = 1.0,
            );
        };
        // Lent IDs that differ from the attached ones show which were used.
        let ids = Ids {
            request_id: lent.request_id(),
            trace_id: lent.trace_id(),
            span_id: lent.span_id(),
        };
        let fields = Fields::End {
            status: None,
            duration_us: 1_000,
        };
        let _lent = lend(&span_a, ids, Message::Failed, fields);
        line(&span_a);
        line(&span_b);
        line(&span_a);
        let _second = lend(&span_b, ids, Message::Failed, fields);
        let _refused = lend(&span_a, ids, Message::Failed, fields);
        line(&span_a);
    });
    let ids: Vec<String> = out
        .lines()
        .iter()
        .map(|line| line["request_id"].as_str().expect("an ID").to_owned())
        .collect();
    assert_eq!(ids, ["req-lent", "req-b", "req-a", "req-a"]);
}

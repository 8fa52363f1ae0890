//! Hostile or malformed `X-Request-ID` and `traceparent` headers, sent over a
//! real socket: the request still succeeds, a fresh UUIDv7 replaces the ID,
//! and the bad bytes reach neither a log line nor a response header.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use axum::Router;
use axum::routing::get;
use wakeline_middleware::RequestContext;

use common::{Service, is_uuid_v7, spawn_service};

fn service() -> Service {
    spawn_service(
        "victim",
        Router::new().route(
            "/",
            get(|ctx: RequestContext| async move {
                tracing::info!("handled");
                format!("{} {}", ctx.request_id(), ctx.trace_id())
            }),
        ),
    )
}

/// What came back from one raw request.
struct Reply {
    status: u16,
    response_id: Option<String>,
    body: String,
    raw: String,
}

/// Sends `headers` (raw bytes, each ending in CRLF) and reads the whole reply.
fn send_raw(service: &Service, headers: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(service.addr).expect("connect");
    let mut request = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n".to_vec();
    request.extend_from_slice(headers);
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).expect("send");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read reply");
    let raw = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let response_id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .map(str::to_owned);
    Reply {
        status,
        response_id,
        body: body.to_owned(),
        raw,
    }
}

/// Asserts the request succeeded with a fresh ID and `needle` went nowhere.
fn assert_replaced(service: &Service, case: &str, reply: &Reply, needle: &[u8]) {
    assert_eq!(reply.status, 200, "{case}: {}", reply.raw);
    let id = reply
        .response_id
        .as_deref()
        .unwrap_or_else(|| panic!("{case}: no ID in {}", reply.raw));
    assert!(is_uuid_v7(id), "{case}: {id}");
    assert!(
        reply.body.contains(id),
        "{case}: handler saw {}",
        reply.body
    );
    let needle = String::from_utf8_lossy(needle);
    let logs = service.logs.raw();
    if !needle.is_empty() {
        assert!(!logs.contains(needle.as_ref()), "{case}: reached the log");
        assert!(
            !reply.raw.contains(needle.as_ref()),
            "{case}: reached the response"
        );
    }
    let lines: Vec<_> = service
        .logs
        .lines()
        .into_iter()
        .filter(|l| l["request_id"] == id)
        .collect();
    assert_eq!(lines.len(), 3, "{case}: start, handler, end");
}

#[test]
fn hostile_request_ids_are_replaced() {
    let service = service();
    let huge = "x".repeat(10 * 1024);
    let cases: [(&str, Vec<u8>); 7] = [
        ("10 KB", huge.clone().into_bytes()),
        ("empty", Vec::new()),
        ("non-ASCII UTF-8", "räksmörgås-id".as_bytes().to_vec()),
        ("invalid UTF-8", b"id-\xff\xfe".to_vec()),
        ("JSON breaker", b"\"}{\"level\":\"error".to_vec()),
        ("percent-encoded CRLF", b"a%0d%0aSet-Cookie:x".to_vec()),
        ("129 chars", "y".repeat(129).into_bytes()),
    ];
    for (case, value) in cases {
        let mut header = b"X-Request-ID: ".to_vec();
        header.extend_from_slice(&value);
        header.extend_from_slice(b"\r\n");
        let reply = send_raw(&service, &header);
        assert_replaced(&service, case, &reply, &value);
    }
}

#[test]
fn crlf_inside_a_request_id_cannot_inject_anything() {
    let service = service();
    // A bare LF ends the header line for the HTTP parser, so "abc" is the ID
    // and the rest is a separate header: never part of the ID or a log line.
    let reply = send_raw(&service, b"X-Request-ID: abc\nX-Injected: evil\r\n");
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert!(!service.logs.raw().contains("evil"));
    assert!(!reply.raw.contains("evil"));

    // A bare CR inside a value is a malformed message: the HTTP server
    // (hyper) answers 400 before any middleware runs. Either way nothing of
    // it is logged or echoed.
    let reply = send_raw(&service, b"X-Request-ID: abc\rX-Injected: evil2\r\n");
    eprintln!("bare CR in X-Request-ID: HTTP {}", reply.status);
    if reply.status == 200 {
        assert_replaced(&service, "bare CR", &reply, b"evil2");
    } else {
        assert_eq!(reply.status, 400, "{}", reply.raw);
    }
    assert!(!service.logs.raw().contains("evil2"));
    assert!(!reply.raw.contains("evil2"));
}

#[test]
fn hostile_traceparents_start_a_new_trace() {
    let service = service();
    let huge = format!("00-{}-00f067aa0ba902b7-01", "a".repeat(10 * 1024));
    let cases: [(&str, Vec<u8>); 5] = [
        ("10 KB", huge.into_bytes()),
        ("empty", Vec::new()),
        ("invalid UTF-8", b"00-\xff\xfe-zz".to_vec()),
        (
            "all zeros",
            b"00-00000000000000000000000000000000-0000000000000000-01".to_vec(),
        ),
        ("JSON breaker", b"\"}{\"trace_id\":\"evil".to_vec()),
    ];
    for (case, value) in cases {
        let mut header = b"X-Request-ID: \xff\r\ntraceparent: ".to_vec();
        header.extend_from_slice(&value);
        header.extend_from_slice(b"\r\n");
        let reply = send_raw(&service, &header);
        assert_replaced(&service, case, &reply, &value);
        let trace = reply.body.split(' ').nth(1).unwrap_or_default();
        assert_eq!(trace.len(), 32, "{case}: {}", reply.body);
        assert_ne!(trace, "00000000000000000000000000000000", "{case}");
    }
}

//! The router driven in process (`tower::ServiceExt::oneshot`, no socket):
//! real handlers over a real index in a temporary directory, a real hub,
//! ledger, registry and metrics. What these check does not need Docker, so
//! it is checked here in milliseconds; the end-to-end tests in `tests/`
//! drive the real binary against the real engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;

use super::{AUTH_COOKIE, AppState, app};
use crate::checkpoint::ContainerState;
use crate::index::testing::{index_with, record};
use crate::ledger::Ledger;
use crate::live::{DEFAULT_RING, LiveHub};
use crate::metrics::Metrics;
use crate::record::{ContainerMeta, Record};
use crate::source::registry::Registry;

/// A collector's state without Docker: what the handlers read.
struct Fixture {
    state: AppState,
    _dir: TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

impl Fixture {
    fn new(records: &[Record]) -> Fixture {
        let (dir, index) = index_with(records);
        let metrics = Metrics::new();
        metrics.docker_outage.end();
        let (shutdown, receiver) = tokio::sync::watch::channel(false);
        let state = AppState {
            index: Arc::new(index),
            hub: Arc::new(LiveHub::new(DEFAULT_RING, 0)),
            ledger: Arc::new(Ledger::default()),
            registry: Arc::new(Registry::default()),
            metrics: Arc::new(metrics),
            auth_token: None,
            allowed_origins: Arc::from([]),
            loopback_only: true,
            shutdown: receiver,
        };
        Fixture {
            state,
            _dir: dir,
            _shutdown: shutdown,
        }
    }

    fn empty() -> Fixture {
        Fixture::new(&[])
    }

    /// Sends one request through a fresh router; status, content type, body.
    async fn send(&self, request: Request<Body>) -> (StatusCode, String, String) {
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router's error type is Infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("read the response body");
        let body = String::from_utf8(bytes.to_vec()).expect("a UTF-8 body");
        (status, content_type, body)
    }

    /// GET `uri` with the given headers; status and the body as JSON.
    async fn get_with(
        &self,
        uri: &str,
        headers: &[(header::HeaderName, &str)],
    ) -> (StatusCode, Value) {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        let request = request.body(Body::empty()).expect("a valid request");
        let (status, content_type, body) = self.send(request).await;
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {uri}: {status}, not JSON ({e}): {body:?}"));
        assert_eq!(content_type, "application/json", "GET {uri}: {body}");
        (status, json)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.get_with(uri, &[]).await
    }
}

/// Asserts an API error: this status, this `error`, and a `detail` that
/// contains `detail_has`.
fn assert_error(got: &(StatusCode, Value), status: StatusCode, error: &str, detail_has: &str) {
    let (got_status, body) = got;
    assert_eq!(*got_status, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let detail = body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail string: {body}"));
    assert!(
        detail.contains(detail_has),
        "detail {detail:?} should mention {detail_has:?}"
    );
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(2),
        "only error and detail: {body}"
    );
}

fn seqs(records: &Value) -> Vec<u64> {
    records
        .as_array()
        .unwrap_or_else(|| panic!("not a list of records: {records}"))
        .iter()
        .map(|r| r["seq"].as_u64().expect("every record has a seq"))
        .collect()
}

// ---- auth ----

fn with_token(fixture: Fixture) -> Fixture {
    let mut fixture = fixture;
    fixture.state.auth_token = Some(Arc::from("s3cret"));
    fixture
}

#[tokio::test]
async fn with_a_token_the_bearer_header_or_the_cookie_pass() {
    let fixture = with_token(Fixture::empty());
    for path in ["/api/containers", "/api/search?limit=0", "/api/requests/r1"] {
        let (status, body) = fixture
            .get_with(path, &[(header::AUTHORIZATION, "Bearer s3cret")])
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path} with the bearer token: {body}"
        );
        let cookie = format!("theme=dark; {AUTH_COOKIE}=s3cret");
        let (status, body) = fixture
            .get_with(path, &[(header::COOKIE, cookie.as_str())])
            .await;
        assert_eq!(status, StatusCode::OK, "{path} with the cookie: {body}");
    }
}

#[tokio::test]
async fn with_a_token_a_wrong_or_missing_one_is_a_401_json() {
    let fixture = with_token(Fixture::empty());
    for path in [
        "/api/containers",
        "/api/search",
        "/api/requests/r1",
        "/api/live",
        "/metrics",
    ] {
        let missing = fixture.get(path).await;
        assert_error(&missing, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
        let wrong = fixture
            .get_with(path, &[(header::AUTHORIZATION, "Bearer s3cres")])
            .await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
        let longer = fixture
            .get_with(path, &[(header::AUTHORIZATION, "Bearer s3cret2")])
            .await;
        assert_error(&longer, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
        let cookie = format!("{AUTH_COOKIE}=nope");
        let bad_cookie = fixture
            .get_with(path, &[(header::COOKIE, cookie.as_str())])
            .await;
        assert_error(
            &bad_cookie,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Bearer",
        );
        // The token's value under another cookie name is not the token.
        let other_cookie = fixture
            .get_with(path, &[(header::COOKIE, "token=s3cret")])
            .await;
        assert_error(
            &other_cookie,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Bearer",
        );
    }
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let fixture = with_token(Fixture::empty());
    let (status, body) = fixture.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
}

// ---- the live feed's Origin check ----

/// GET /api/live as a browser would (no upgrade: the handler answers after
/// the Origin check, so a 400 "websocket required" means the check passed).
async fn live_handshake(fixture: &Fixture, origin: &str, host: &str) -> (StatusCode, Value) {
    fixture
        .get_with(
            "/api/live",
            &[(header::ORIGIN, origin), (header::HOST, host)],
        )
        .await
}

fn assert_origin_passed(got: &(StatusCode, Value)) {
    assert_error(got, StatusCode::BAD_REQUEST, "websocket required", "");
}

#[tokio::test]
async fn live_refuses_a_foreign_origin() {
    let fixture = Fixture::empty();
    let got = live_handshake(&fixture, "http://evil.example", "127.0.0.1:7070").await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", "evil.example");
    // Same host name, another port: another origin.
    let got = live_handshake(&fixture, "http://127.0.0.1:8080", "127.0.0.1:7070").await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", "127.0.0.1:8080");
}

#[tokio::test]
async fn live_accepts_its_own_origin_by_a_loopback_name() {
    let fixture = Fixture::empty();
    for host in [
        "127.0.0.1:7070",
        "localhost:7070",
        "[::1]:7070",
        "127.0.0.2:7070",
    ] {
        let got = live_handshake(&fixture, &format!("http://{host}"), host).await;
        assert_origin_passed(&got);
    }
    // A trailing slash on the Origin is the same origin.
    let got = live_handshake(&fixture, "http://localhost:7070/", "localhost:7070").await;
    assert_origin_passed(&got);
    // No Origin: not a browser, nothing to check.
    let (status, body) = fixture.get("/api/live").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "websocket required");
}

#[tokio::test]
async fn live_on_loopback_refuses_its_own_origin_by_a_foreign_name() {
    // DNS rebinding: evil.example resolves to 127.0.0.1, so the browser sees
    // a same-origin page; only the name gives it away.
    let mut fixture = Fixture::empty();
    let got = live_handshake(&fixture, "http://evil.example:7070", "evil.example:7070").await;
    assert_error(
        &got,
        StatusCode::FORBIDDEN,
        "forbidden",
        "evil.example:7070",
    );
    // Serving beyond loopback, a same-origin page by any name is ours.
    fixture.state.loopback_only = false;
    let got = live_handshake(&fixture, "http://logs.example:7070", "logs.example:7070").await;
    assert_origin_passed(&got);
    let got = live_handshake(&fixture, "http://evil.example", "logs.example:7070").await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", "evil.example");
}

#[tokio::test]
async fn allowed_origins_let_a_listed_origin_in() {
    let mut fixture = Fixture::empty();
    fixture.state.allowed_origins = Arc::from(["https://ui.example:3000/".to_owned()]);
    let got = live_handshake(&fixture, "https://ui.example:3000", "127.0.0.1:7070").await;
    assert_origin_passed(&got);
    let got = live_handshake(&fixture, "http://ui.example:3000", "127.0.0.1:7070").await;
    assert_error(
        &got,
        StatusCode::FORBIDDEN,
        "forbidden",
        "http://ui.example:3000",
    );
}

#[tokio::test]
async fn live_checks_auth_before_origin_and_parameters_after_it() {
    let fixture = with_token(Fixture::empty());
    let cookie = format!("{AUTH_COOKIE}=s3cret");
    // With the UI's cookie, a same-origin handshake passes auth and origin.
    let got = fixture
        .get_with(
            "/api/live",
            &[
                (header::COOKIE, cookie.as_str()),
                (header::ORIGIN, "http://localhost:7070"),
                (header::HOST, "localhost:7070"),
            ],
        )
        .await;
    assert_origin_passed(&got);
    let got = fixture
        .get_with(
            "/api/live?tail=many",
            &[(header::AUTHORIZATION, "Bearer s3cret")],
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid tail", "many");
}

// ---- errors ----

#[tokio::test]
async fn an_unknown_route_is_a_404_json() {
    let fixture = Fixture::empty();
    for path in ["/nope", "/api", "/api/search/extra", "/api/requests"] {
        let got = fixture.get(path).await;
        assert_error(&got, StatusCode::NOT_FOUND, "not found", "no such route");
    }
}

#[tokio::test]
async fn each_bad_search_parameter_is_a_400_that_says_what_is_wrong() {
    let fixture = Fixture::new(&[record(1, 1, "web", "hello")]);
    let long_q = format!("q={}", "a".repeat(5000));
    let cases: &[(&str, &str, &str)] = &[
        ("limit=abc", "invalid limit", "\"abc\""),
        ("limit=-1", "invalid limit", "\"-1\""),
        ("limit=10001", "invalid limit", "0 to 10000"),
        ("order=sideways", "invalid order", "\"sideways\""),
        ("since=yesterday-ish", "invalid time", "since"),
        ("until=soon", "invalid time", "until"),
        (
            "since=1m&until=2h",
            "invalid time range",
            "since is after until",
        ),
        ("cursor=zzz", "invalid cursor", "next_cursor"),
        ("stream=stdin", "invalid stream", "\"stdin\""),
        (
            "level=abcdefghijklmnopqrstuvwxyz",
            "invalid level",
            "abcdefghijklmnopqrstuvwxyz",
        ),
        ("nope=1", "unknown parameter", "\"nope\""),
        ("tail=5", "unknown parameter", "\"tail\""),
        ("q=message:(", "invalid query", ""),
        (&long_q, "invalid query", "5000 bytes"),
        ("request_id=a%01b", "invalid request id", "printable"),
    ];
    for (query, error, detail) in cases {
        let got = fixture.get(&format!("/api/search?{query}")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, error, detail);
    }
}

#[tokio::test]
async fn a_bad_request_id_in_the_path_is_a_400() {
    let fixture = Fixture::empty();
    let too_long = "r".repeat(300);
    for id in ["a%01b", "tab%09here", "nl%0A", too_long.as_str()] {
        let got = fixture.get(&format!("/api/requests/{id}")).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "invalid request id",
            "printable",
        );
    }
}

// ---- search and requests ----

fn five_records() -> Vec<Record> {
    vec![
        record(1, 10, "web", "INFO one request_id=r1"),
        record(2, 20, "api", "WARN two request_id=r1"),
        record(3, 20, "api", "ERROR three request_id=r1"),
        record(4, 30, "web", "INFO four"),
        record(5, 40, "db", "DEBUG five request_id=r2"),
    ]
}

#[tokio::test]
async fn search_returns_records_in_order_and_pages_with_the_cursor() {
    let fixture = Fixture::new(&five_records());

    let (status, body) = fixture.get("/api/search").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        seqs(&body["hits"]),
        [5, 4, 3, 2, 1],
        "newest first by default"
    );
    assert_eq!(body["total"], 5);
    assert_eq!(body["next_cursor"], Value::Null);
    assert!(body["took_ms"].is_u64(), "{body}");
    let first = &body["hits"][4];
    assert_eq!(first["message"], "INFO one request_id=r1");
    assert_eq!(first["container"], "web");
    assert_eq!(first["level"], "info");
    assert_eq!(first["request_id"], "r1");
    assert_eq!(first["stream"], "stdout");
    assert_eq!(first["ts"], "1970-01-01T00:00:00.000000010Z");

    let mut pages = Vec::new();
    let mut uri = "/api/search?order=asc&limit=2".to_owned();
    loop {
        let (status, body) = fixture.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total"], 5, "total is every match, not the page");
        pages.push(seqs(&body["hits"]));
        let Some(cursor) = body["next_cursor"].as_str() else {
            break;
        };
        uri = format!("/api/search?order=asc&limit=2&cursor={cursor}");
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert_eq!(pages, [vec![1, 2], vec![3, 4], vec![5]]);

    let (_, body) = fixture.get("/api/search?container=api,db&limit=0").await;
    assert_eq!(body["hits"], json!([]));
    assert_eq!(body["total"], 3);
    let (_, body) = fixture
        .get("/api/search?level=WARNING,error&order=asc")
        .await;
    assert_eq!(seqs(&body["hits"]), [2, 3]);
    let (_, body) = fixture.get("/api/search?q=four").await;
    assert_eq!(seqs(&body["hits"]), [4]);
}

#[tokio::test]
async fn a_request_comes_back_oldest_first_with_a_summary_per_service() {
    let fixture = Fixture::new(&five_records());
    let (status, body) = fixture.get("/api/requests/r1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["request_id"], "r1");
    assert_eq!(seqs(&body["records"]), [1, 2, 3]);
    assert_eq!(body["total"], 3);
    assert_eq!(
        body["services"],
        json!([
            {"service": "web", "container": "web", "lines": 1, "max_level": "info",
             "first_ts": "1970-01-01T00:00:00.000000010Z",
             "last_ts": "1970-01-01T00:00:00.000000010Z"},
            {"service": "api", "container": "api", "lines": 2, "max_level": "error",
             "first_ts": "1970-01-01T00:00:00.000000020Z",
             "last_ts": "1970-01-01T00:00:00.000000020Z"},
        ])
    );

    let (status, body) = fixture.get("/api/requests/unknown-id").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"], json!([]));
    assert_eq!(body["services"], json!([]));
    assert_eq!(body["total"], 0);
}

// ---- containers ----

fn meta(id: &str, name: &str) -> ContainerMeta {
    ContainerMeta {
        host: "h".into(),
        id: id.into(),
        name: name.into(),
        image: format!("{name}:latest"),
        service: Some(name.into()),
        project: Some("shop".into()),
    }
}

fn ledger_entry(meta: &ContainerMeta, stamps: &[i64]) -> ContainerState {
    let mut state = ContainerState::default();
    for ts in stamps {
        state.take(*ts, meta, &crate::checkpoint::Position::default());
    }
    state
}

#[tokio::test]
async fn containers_merge_the_registry_with_the_ledger() {
    let mut fixture = Fixture::empty();
    // In the index: "users" (renamed since: the registry's name wins) and
    // "gone" (removed before this run: only the ledger knows it).
    fixture.state.ledger = Arc::new(Ledger::new(BTreeMap::from([
        (
            "c1".to_owned(),
            ledger_entry(
                &meta("c1", "users-old"),
                &[3_000_000_000, 1_000_000_000, 2_000_000_000],
            ),
        ),
        (
            "c2".to_owned(),
            ledger_entry(&meta("c2", "gone"), &[5_000_000_000, 6_000_000_000]),
        ),
    ])));
    let registry = Registry::default();
    let (users, _) = registry.get_or_insert("c1", || meta("c1", "users"));
    users.update(|s| {
        s.state = "running".into();
        s.read_from = "file";
    });
    // Running but unreadable, with no line indexed.
    let (quiet, _) = registry.get_or_insert("c3", || meta("c3", "quiet"));
    quiet.update(|s| {
        s.state = "exited".into();
        s.error = Some("log driver none has no logs API".into());
    });
    fixture.state.registry = Arc::new(registry);

    let (status, body) = fixture.get("/api/containers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"containers": [
            {"id": "c1", "name": "users", "image": "users:latest", "service": "users",
             "project": "shop", "state": "running", "tty": false, "read_from": "file",
             "error": null, "lines": 3,
             "first_ts": "1970-01-01T00:00:01.000000000Z",
             "last_ts": "1970-01-01T00:00:03.000000000Z"},
            {"id": "c2", "name": "gone", "image": "gone:latest", "service": "gone",
             "project": "shop", "state": "removed", "tty": null, "read_from": null,
             "error": null, "lines": 2,
             "first_ts": "1970-01-01T00:00:05.000000000Z",
             "last_ts": "1970-01-01T00:00:06.000000000Z"},
            {"id": "c3", "name": "quiet", "image": "quiet:latest", "service": "quiet",
             "project": "shop", "state": "exited", "tty": false, "read_from": null,
             "error": "log driver none has no logs API", "lines": 0,
             "first_ts": null, "last_ts": null},
        ]})
    );
}

#[tokio::test]
async fn a_removed_container_is_listed_while_the_index_holds_its_lines() {
    let mut fixture = Fixture::empty();
    // "leaving": removed during this run, lines still in the index;
    // "pruned": removed, its lines deleted by retention (no ledger entry).
    let mut leaving = ledger_entry(&meta("c1", "leaving"), &[1_000_000_000]);
    leaving.remove();
    fixture.state.ledger = Arc::new(Ledger::new(BTreeMap::from([("c1".to_owned(), leaving)])));
    let registry = Registry::default();
    for (id, name) in [("c1", "leaving"), ("c2", "pruned")] {
        // What its follow task saw last.
        let (handle, _) = registry.get_or_insert(id, || meta(id, name));
        handle.update(|s| s.state = if id == "c1" { "exited" } else { "removed" }.into());
    }
    fixture.state.registry = Arc::new(registry);

    let (status, body) = fixture.get("/api/containers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = body["containers"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["id"], "c1");
    assert_eq!(listed[0]["state"], "removed", "{body}");
    assert_eq!(listed[0]["lines"], 1);
}

// ---- health ----

#[tokio::test]
async fn healthz_is_ok_when_docker_and_the_index_are() {
    let fixture = Fixture::new(&five_records());
    let (status, body) = fixture.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "status": "ok",
            "docker": {"ok": true, "since": null, "error": null},
            "index": {"ok": true, "records": 5, "since": null, "error": null},
            "unreadable_containers": [],
        })
    );
}

#[tokio::test]
async fn healthz_is_503_degraded_and_names_the_part_that_is_down() {
    let fixture = Fixture::empty();
    let before = crate::timefmt::now_ns();
    let metrics = &fixture.state.metrics;
    metrics
        .docker_outage
        .begin("cannot list containers: refused".into());
    metrics
        .docker_outage
        .begin("cannot list containers: gone".into());
    let (status, body) = fixture.get("/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["docker"]["ok"], false);
    // Since the first failure, with the latest reason.
    assert_eq!(body["docker"]["error"], "cannot list containers: gone");
    let since = body["docker"]["since"].as_str().expect("since");
    let since = crate::timefmt::parse_rfc3339_ns(since).expect("RFC 3339");
    assert!(
        since >= before && since <= crate::timefmt::now_ns(),
        "{body}"
    );
    assert_eq!(body["index"]["ok"], true);
    assert_eq!(body["index"]["since"], Value::Null);

    metrics.docker_outage.end();
    metrics
        .index_outage
        .begin("commits fail (the disk is full)".into());
    let (status, body) = fixture.get("/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["docker"],
        json!({"ok": true, "since": null, "error": null})
    );
    assert_eq!(body["index"]["ok"], false);
    assert_eq!(body["index"]["error"], "commits fail (the disk is full)");
    assert!(body["index"]["since"].is_string(), "{body}");
}

#[tokio::test]
async fn healthz_lists_unreadable_containers() {
    let mut fixture = Fixture::empty();
    let registry = Registry::default();
    registry.get_or_insert("c1", || meta("c1", "fine"));
    let (broken, _) = registry.get_or_insert("c2", || meta("c2", "silent"));
    broken.update(|s| s.error = Some("log driver none has no logs API".into()));
    fixture.state.registry = Arc::new(registry);
    let (status, body) = fixture.get("/healthz").await;
    // An unreadable container does not make the collector unusable.
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["unreadable_containers"],
        json!([{"id": "c2", "name": "silent", "error": "log driver none has no logs API"}])
    );
}

// ---- metrics ----

/// A fixture whose counters, live stats and ledger hold known values.
fn counted() -> Fixture {
    let mut fixture = Fixture::empty();
    let m = &fixture.state.metrics;
    Metrics::add(&m.lines_ingested, 7);
    Metrics::add(&m.lines_indexed, 6);
    Metrics::add(&m.bytes_ingested, 1234);
    Metrics::add(&m.commits, 3);
    Metrics::add(&m.redactions, 4);
    m.read_delay.observe_ns([2_000_000, 2_000_000, 30_000_000]);
    let live = &fixture.state.hub.stats;
    Metrics::add(&live.clients, 2);
    Metrics::add(&live.sent, 40);
    Metrics::add(&live.dropped, 5);
    let mut users = ledger_entry(&meta("0123456789abcdef", "us\"ers"), &[1, 2]);
    users.lag_ns = 1_500_000_000;
    fixture.state.ledger = Arc::new(Ledger::new(BTreeMap::from([(
        "0123456789abcdef".to_owned(),
        users,
    )])));
    fixture
}

async fn scrape(fixture: &Fixture, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut request = Request::get("/metrics");
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    fixture
        .send(request.body(Body::empty()).expect("a valid request"))
        .await
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_same_names() {
    let fixture = counted();
    let (status, content_type, text) = scrape(&fixture, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "# HELP wakeline_lines_ingested_total Log lines read from Docker (published live).",
        "# TYPE wakeline_lines_ingested_total counter",
        "wakeline_lines_ingested_total 7",
        "wakeline_lines_indexed_total 6",
        "wakeline_bytes_ingested_total 1234",
        "wakeline_truncated_lines_total 0",
        "wakeline_redactions_total 4",
        "wakeline_index_commits_total 3",
        "wakeline_index_commit_errors_total 0",
        "wakeline_docker_reconnects_total 0",
        "# TYPE wakeline_live_clients gauge",
        "wakeline_live_clients 2",
        "wakeline_live_sent_total 40",
        "wakeline_live_dropped_total 5",
        "wakeline_live_pending_records 0",
        "# TYPE wakeline_read_delay_seconds histogram",
        "wakeline_read_delay_seconds_bucket{le=\"0.001\"} 0",
        "wakeline_read_delay_seconds_bucket{le=\"0.0025\"} 2",
        "wakeline_read_delay_seconds_bucket{le=\"0.025\"} 2",
        "wakeline_read_delay_seconds_bucket{le=\"0.05\"} 3",
        "wakeline_read_delay_seconds_bucket{le=\"10\"} 3",
        "wakeline_read_delay_seconds_bucket{le=\"+Inf\"} 3",
        "wakeline_read_delay_seconds_count 3",
        "wakeline_read_delay_seconds_sum 0.034",
        "# TYPE wakeline_container_lines_total counter",
        // The ID is cut to 12 characters; a quote in a name is escaped.
        r#"wakeline_container_lines_total{container_id="0123456789ab",container="us\"ers"} 2"#,
        "# TYPE wakeline_container_lag_seconds gauge",
        r#"wakeline_container_lag_seconds{container_id="0123456789ab",container="us\"ers"} 1.5"#,
        "# TYPE wakeline_container_last_line_age_seconds gauge",
    ] {
        assert!(
            lines.contains(&expected),
            "no line {expected:?} in:\n{text}"
        );
    }
    // Every sample's name is one the HELP/TYPE lines announced.
    let families: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for sample in lines.iter().filter(|l| !l.starts_with('#')) {
        let name = sample.split(['{', ' ']).next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| families.contains(base))
            .unwrap_or(name);
        assert!(families.contains(&family), "{sample:?} has no TYPE line");
    }
}

#[tokio::test]
async fn metrics_are_openmetrics_when_the_scraper_asks() {
    let fixture = counted();
    let accept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3";
    let (status, content_type, text) = scrape(&fixture, Some(accept)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "# TYPE wakeline_lines_ingested counter",
        "wakeline_lines_ingested_total 7",
        "wakeline_live_dropped_total 5",
        "wakeline_read_delay_seconds_count 3",
    ] {
        assert!(
            lines.contains(&expected),
            "no line {expected:?} in:\n{text}"
        );
    }
    assert_eq!(lines.last(), Some(&"# EOF"), "{text}");
}

/// Sends `request` and returns the whole response (headers included).
async fn raw(fixture: &Fixture, request: Request<Body>) -> axum::response::Response {
    app(fixture.state.clone())
        .oneshot(request)
        .await
        .expect("the router's error type is Infallible")
}

#[tokio::test]
async fn ui_pages_are_the_shell_with_security_headers_and_etags() {
    let fixture = Fixture::empty();
    for page in ["/", "/search", "/requests/abc", "/containers", "/login"] {
        let response = raw(&fixture, Request::get(page).body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let h = response.headers();
        assert_eq!(
            h[header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{page}"
        );
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src 'self'"),
            "{page}"
        );
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert!(h.contains_key(header::ETAG), "{page}");
    }
    // The API's answers carry the same headers.
    let response = raw(
        &fixture,
        Request::get("/api/search").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );

    // A known ETag is answered 304; an unknown file 404 JSON.
    let response = raw(
        &fixture,
        Request::get("/ui/app.js").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let etag = response.headers()[header::ETAG].clone();
    let again = Request::get("/ui/app.js")
        .header(header::IF_NONE_MATCH, etag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        raw(&fixture, again).await.status(),
        StatusCode::NOT_MODIFIED
    );
    let got = fixture.get("/ui/nope.js").await;
    assert_error(&got, StatusCode::NOT_FOUND, "not found", "nope.js");
    let got = fixture.get("/ui/../Cargo.toml").await;
    assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);

    // Compressed when the client accepts it.
    let gzip = Request::get("/ui/style.css")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        raw(&fixture, gzip).await.headers()[header::CONTENT_ENCODING],
        "gzip"
    );
}

#[tokio::test]
async fn the_ui_needs_no_token_but_its_data_does() {
    let mut fixture = Fixture::empty();
    fixture.state.auth_token = Some(Arc::from("s3cret"));
    let response = raw(&fixture, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    for uri in ["/api/histogram", "/api/context/1", "/api/export"] {
        let got = fixture.get(uri).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
    }
    let (status, body) = fixture.get("/api/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"auth_required": true, "authenticated": false}));
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_that_opens_the_api() {
    let mut fixture = Fixture::empty();
    fixture.state.auth_token = Some(Arc::from("s3cret;x"));
    let login = |body: &'static str, origin: Option<&'static str>| {
        let mut request = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request
                .header(header::ORIGIN, origin)
                .header(header::HOST, "127.0.0.1:7070");
        }
        request.body(Body::from(body)).unwrap()
    };

    let wrong = raw(&fixture, login("token=nope", None)).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(!wrong.headers().contains_key(header::SET_COOKIE));
    let foreign = raw(
        &fixture,
        login("token=s3cret%3Bx", Some("http://evil.example")),
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);

    let ok = raw(
        &fixture,
        login("token=s3cret%3Bx", Some("http://127.0.0.1:7070")),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let cookie = ok.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(pair.starts_with(&format!("{AUTH_COOKIE}=")), "{cookie}");
    let (status, body) = fixture
        .get_with("/api/session", &[(header::COOKIE, pair.as_str())])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["authenticated"], true, "{body}");
    let (status, _) = fixture
        .get_with("/api/search", &[(header::COOKIE, pair.as_str())])
        .await;
    assert_eq!(status, StatusCode::OK);

    let logout = Request::post("/api/logout").body(Body::empty()).unwrap();
    let out = raw(&fixture, logout).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

#[tokio::test]
async fn histogram_context_and_export_answer_from_the_index() {
    let records: Vec<Record> = (0..6)
        .map(|i| {
            let container = if i % 2 == 0 { "web" } else { "api" };
            let text = if i == 3 { "ERROR boom" } else { "INFO fine" };
            record(
                i + 1,
                1_700_000_040_000_000_000 + i as i64 * 1_000_000_000,
                container,
                text,
            )
        })
        .collect();
    let fixture = Fixture::new(&records);

    let (status, body) = fixture.get("/api/histogram?buckets=6").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 6, "{body}");
    assert_eq!(body["interval_ms"], 1000.0, "{body}");
    let errors: u64 = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["counts"]["error"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(errors, 1, "{body}");
    assert_error(
        &fixture.get("/api/histogram?buckets=0").await,
        StatusCode::BAD_REQUEST,
        "invalid buckets",
        "1 to 500",
    );

    // Record 3 is web's second line: web's first before it, third after.
    let (status, body) = fixture.get("/api/context/3?before=5&after=5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seqs = |key: &str| -> Vec<u64> {
        body[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!((seqs("before"), seqs("after")), (vec![1], vec![5]));
    assert_error(
        &fixture.get("/api/context/77").await,
        StatusCode::NOT_FOUND,
        "not found",
        "77",
    );

    let request = Request::get("/api/export?container=api&order=asc&format=text")
        .body(Body::empty())
        .unwrap();
    let (status, content_type, body) = fixture.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; charset=utf-8");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[1].ends_with(" api stdout ERROR boom"), "{body}");
    assert_error(
        &fixture.get("/api/export?format=csv").await,
        StatusCode::BAD_REQUEST,
        "invalid format",
        "ndjson or text",
    );
    let (status, body) = fixture.get("/api/search?limit=1").await;
    assert_eq!(
        (status, body["watermark"].as_u64()),
        (StatusCode::OK, Some(6))
    );
}

// ---- hostile requests ----

/// Every route with a token configured: only `/healthz` and what a browser
/// needs to log in (the UI's files hold no data; the session routes) answer
/// without it. A route added to `app()` belongs in one of these lists.
#[tokio::test]
async fn with_a_token_every_data_route_is_a_401_json_without_it() {
    let fixture = with_token(Fixture::new(&[record(1, 1, "web", "hello")]));
    let guarded = [
        "/api/search",
        "/api/search?q=hello",
        "/api/histogram",
        "/api/context/1",
        "/api/requests/r1",
        "/api/export",
        "/api/export?format=text",
        "/api/containers",
        "/api/live",
        "/api/live?tail=10",
        "/metrics",
    ];
    for path in guarded {
        let got = fixture.get(path).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
        // A WebSocket handshake is refused the same way.
        let upgrade = Request::get(path)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            raw(&fixture, upgrade).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let open = [
        "/healthz",
        "/",
        "/search",
        "/requests/r1",
        "/containers",
        "/login",
        "/ui/style.css",
        "/api/session",
    ];
    for path in open {
        let response = raw(&fixture, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path} needs no token");
    }
    let session = fixture.get("/api/session").await;
    assert_eq!(session.1["authenticated"], false);
    // Logging in and out needs no token (the wrong one is a 401, the same
    // JSON as everywhere).
    let login = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"token":"nope"}"#))
        .unwrap();
    let (status, _, body) = fixture.send(login).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let logout = Request::post("/api/logout").body(Body::empty()).unwrap();
    assert_eq!(raw(&fixture, logout).await.status(), StatusCode::NO_CONTENT);
}

/// The JSON error shape, from a raw response.
async fn error_of(fixture: &Fixture, request: Request<Body>) -> (StatusCode, Value) {
    let (status, content_type, body) = fixture.send(request).await;
    assert_eq!(content_type, "application/json", "{status}: {body:?}");
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{status}, not JSON ({e}): {body:?}"));
    (status, json)
}

#[tokio::test]
async fn hostile_queries_are_a_400_json() {
    let fixture = Fixture::new(&[record(1, 1, "web", "hello aaa")]);
    // The http crate caps a URI at 64 KiB (the real server answers a 1 MB
    // one with a JSON 431: the e2e test `oversized_requests_get_json_errors`).
    let mega = format!("q={}", "a".repeat(60_000));
    let nested = |depth: usize| format!("{}hello{}", "(".repeat(depth), ")".repeat(depth));
    let nested_10k = format!("q={}", nested(10_000));
    let huge_limit = format!("limit={}", "9".repeat(40));
    let cursor = format!("cursor={}", "A".repeat(10_000));
    let cases: Vec<(&str, &str, &str)> = vec![
        (&mega, "invalid query", "60000 bytes"),
        (&nested_10k, "invalid query", "bytes"),
        (&huge_limit, "invalid limit", "0 to 10000"),
        ("limit=1e9", "invalid limit", "1e9"),
        ("cursor=%FF%FE", "invalid cursor", "next_cursor"),
        (&cursor, "invalid cursor", "next_cursor"),
        ("since=99999999999999999999999999d", "invalid time", "since"),
        ("since=1d2x", "invalid time", "since"),
        ("until=-1", "invalid time", "until"),
        ("since=2026-13-45T99:99:99Z", "invalid time", "since"),
    ];
    for path in ["/api/search", "/api/histogram", "/api/export"] {
        for (query, error, detail) in &cases {
            if path != "/api/search" && query.starts_with("limit") {
                continue;
            }
            if path != "/api/search" && query.starts_with("cursor") {
                continue;
            }
            let got = fixture.get(&format!("{path}?{query}")).await;
            assert_eq!(got.0, StatusCode::BAD_REQUEST, "{path}?{query}: {}", got.1);
            assert_error(&got, StatusCode::BAD_REQUEST, error, detail);
        }
    }
    // The live feed checks the same parameters before the upgrade.
    let got = fixture.get(&format!("/api/live?{nested_10k}")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid query", "bytes");
}

#[tokio::test]
async fn deep_nesting_within_the_length_limit_is_refused_before_parsing() {
    let fixture = Fixture::new(&[record(1, 1, "web", "hello aaa")]);
    // 2,000 levels fit in 4096 bytes; a few hundred overflowed the stack of
    // tantivy's recursive query parser (the whole collector aborted).
    let shapes = [
        format!("{}hello{}", "(".repeat(2000), ")".repeat(2000)),
        format!("{}hello", "NOT ".repeat(1000)),
        format!("{}hello{}", "-(".repeat(1300), ")".repeat(1300)),
        format!("{}hello{}", "a OR (".repeat(500), ")".repeat(500)),
        "(".repeat(4000),
    ];
    for q in &shapes {
        for path in ["/api/search", "/api/histogram", "/api/export", "/api/live"] {
            let got = fixture.get(&format!("{path}?q={}", urlencode(q))).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "invalid query", "nests");
        }
    }
    // Operators run together are not nesting, and not a query either.
    let dashes = format!("{}hello", "-".repeat(4000));
    let got = fixture.get(&format!("/api/search?q={dashes}")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid query", "");
}

#[tokio::test]
async fn nesting_at_the_limit_is_searched_and_filtered_live() {
    use crate::query::MAX_QUERY_DEPTH;
    let fixture = Fixture::new(&[record(1, 1, "web", "hello aaa")]);
    let d = MAX_QUERY_DEPTH;
    let shapes = [
        format!("{}hello{}", "(".repeat(d), ")".repeat(d)),
        format!("{}hello", "NOT ".repeat(d)),
        format!("{}hello{}", "+(".repeat(d / 2), ")".repeat(d / 2)),
    ];
    for q in &shapes {
        let (status, body) = fixture
            .get(&format!("/api/search?q={}", urlencode(q)))
            .await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        let (status, body) = fixture.get(&format!("/api/live?q={}", urlencode(q))).await;
        assert_eq!(body["error"], "websocket required", "{q}: {status} {body}");
    }
    let too_deep = format!("{}hello{}", "(".repeat(d + 1), ")".repeat(d + 1));
    let got = fixture
        .get(&format!("/api/search?q={}", urlencode(&too_deep)))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid query", "at most 40");
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn regex_queries_are_a_400_that_says_so() {
    let fixture = Fixture::new(&[record(1, 1, "web", "hello aaa")]);
    // The query parser does not take /regex/ (nothing can be asked of the
    // regex engine, catastrophic shapes included): a 400 with the reason.
    for re in [
        "hel%2Bo",
        "(a%2B)%2B%24",
        "(a|aa)*b",
        "a{1000}{1000}",
        ".{65535}",
        "[",
    ] {
        for path in ["/api/search", "/api/live"] {
            let got = fixture.get(&format!("{path}?q=message:/{re}/")).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "invalid query", "Regex");
        }
    }
}

#[tokio::test]
async fn framework_rejections_carry_the_json_shape() {
    let mut fixture = Fixture::empty();
    fixture.state.auth_token = Some(Arc::from("s3cret"));
    // A body over the login limit: 413, JSON, without reading it all.
    let big = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={}", "a".repeat(1 << 20))))
        .unwrap();
    let (status, body) = error_of(&fixture, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "payload too large", "{body}");
    assert_eq!(
        body["detail"], "failed to buffer the request body: length limit exceeded",
        "axum's own words, in our casing"
    );
    // A huge header reaches the router (hyper limits it on a real socket):
    // it is ignored, and the token check still answers in JSON.
    let huge = "x".repeat(1 << 20);
    let got = fixture
        .get_with("/api/search", &[(header::AUTHORIZATION, huge.as_str())])
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
    // A method the route does not take.
    fixture.state.auth_token = None;
    let post = Request::post("/api/search").body(Body::empty()).unwrap();
    let (status, body) = error_of(&fixture, post).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["error"], "method not allowed", "{body}");
    // A path segment that is not UTF-8.
    let bad = Request::get("/api/requests/%FF%FE")
        .body(Body::empty())
        .unwrap();
    let (status, body) = error_of(&fixture, bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

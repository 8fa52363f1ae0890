//! The live feed under pressure and attack (issue: live feed): a client that
//! stops reading costs ingest nothing and is told what it missed; a foreign
//! web page cannot open the feed; every filter means what it means in search.

use std::time::Duration;

use serde_json::Value;
use tokio_tungstenite::tungstenite;
use tungstenite::client::IntoClientRequest;
use wakeline_e2e::records::data_dir;
use wakeline_e2e::{Collector, ContainerSpec, DEADLINE, Live, NoMessage, poll, query};

/// Opens a WebSocket handshake with extra headers; the HTTP status on refusal.
fn handshake(port: u16, path_query: &str, headers: &[(&str, &str)]) -> Result<(), u16> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut request = format!("ws://127.0.0.1:{port}{path_query}")
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    runtime.block_on(async {
        match tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(tungstenite::Error::Http(response))) => Err(response.status().as_u16()),
            Ok(Err(e)) => panic!("handshake failed without an HTTP answer: {e}"),
            Err(_) => panic!("handshake timed out"),
        }
    })
}

/// Reads records until `n` arrived or nothing comes for a while.
fn read_records(live: &mut Live, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < n {
        let message = match live.next(DEADLINE) {
            Ok(message) => message,
            // The caller compares what came with what it expected.
            Err(NoMessage::Timeout(_)) => break,
            Err(e) => panic!("{e}; got so far: {got:?}"),
        };
        assert!(
            message.get("type").is_none(),
            "unexpected control message {message}"
        );
        got.push(message);
    }
    got
}

fn messages(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["message"].as_str().unwrap_or_default())
        .collect()
}

#[test]
fn stalled_client_gets_a_gap_and_ingest_goes_on() {
    const LINES: u64 = 200_000;
    let dir = data_dir();
    let collector = Collector::start(&dir.path().join("index"));
    let prefix = format!("{}-", "x".repeat(1000));
    let step = format!("count:out:{prefix}:1:{LINES}:0");
    let spec = ContainerSpec::new("live-stall", &[&step]).log_opt("max-size=1g");
    let name = spec.name().to_string();
    // Subscribed before the container starts, then never read while it writes
    // 200k lines of ~1 KB: far more than the hub's ring and the socket buffers.
    let mut stalled = collector.live(&query(&[("container", &name)]));
    let rss_before = collector.metric("process_resident_memory_bytes");
    let _container = spec.run();

    let filter = [("container", name.as_str())];
    let indexed = poll(Duration::from_secs(600), || {
        (collector.total(&filter) >= LINES).then(|| collector.total(&filter))
    })
    .unwrap_or_else(|| {
        // Say where the pipeline stood: reads, indexing, the container.
        let metrics = collector.request("/metrics", None).body;
        let pipeline: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("wakeline_"))
            .collect();
        let state = wakeline_e2e::docker(&["inspect", "-f", "{{.State.Status}}", &name]);
        panic!(
            "only {} of {LINES} lines indexed; container {state}\n{}\n{}",
            collector.total(&filter),
            pipeline.join("\n"),
            collector.diagnostics()
        )
    });
    assert_eq!(
        indexed, LINES,
        "every line is indexed while a live client is stalled"
    );
    let rss_after = collector.metric("process_resident_memory_bytes");
    let grown_mib = (rss_after - rss_before) / (1024.0 * 1024.0);
    // Buffering this client's backlog would take well over 200 MiB.
    assert!(
        grown_mib < 160.0,
        "collector memory grew by {grown_mib:.0} MiB with a stalled client"
    );

    // Reading again: some records, then a gap saying how many were skipped,
    // then records from further on.
    let mut last_seq = 0u64;
    let mut gap = None;
    for _ in 0..LINES {
        let message = stalled
            .next(DEADLINE)
            .unwrap_or_else(|e| panic!("{e} before a gap message; last seq {last_seq}"));
        if message["type"] == "gap" {
            gap = Some(message["dropped"].as_u64().expect("dropped is a number"));
            break;
        }
        last_seq = message["seq"].as_u64().expect("seq");
    }
    let dropped = gap.expect("a gap message after falling behind");
    assert!(dropped > 0);
    let next = stalled
        .next(DEADLINE)
        .unwrap_or_else(|e| panic!("{e}: no record after the gap"));
    let next_seq = next["seq"].as_u64().expect("seq");
    assert!(
        next_seq > last_seq + dropped,
        "after the gap the stream skips ahead"
    );
    assert!(collector.metric("wakeline_live_dropped_total") >= dropped as f64);
}

#[test]
fn foreign_origin_is_refused_and_own_origin_accepted() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let port = collector.port();
    let own = format!("http://127.0.0.1:{port}");
    assert_eq!(
        handshake(port, "/api/live", &[("origin", "https://evil.example")]),
        Err(403)
    );
    assert_eq!(
        handshake(port, "/api/live", &[("origin", "null")]),
        Err(403)
    );
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends
    // matching Host and Origin, but not a loopback name.
    assert_eq!(
        handshake(
            port,
            "/api/live",
            &[
                ("origin", "http://evil.example:1"),
                ("host", "evil.example:1")
            ]
        ),
        Err(403)
    );
    assert_eq!(
        handshake(port, "/api/live", &[("origin", own.as_str())]),
        Ok(())
    );
    assert_eq!(
        handshake(port, "/api/live", &[]),
        Ok(()),
        "non-browser clients send no Origin"
    );
    assert_eq!(handshake(port, "/api/live?tail=oops", &[]), Err(400));
    assert_eq!(handshake(port, "/api/live?q=message:(", &[]), Err(400));
}

#[test]
fn allowed_origins_flag_admits_a_configured_page() {
    let dir = data_dir();
    let collector = Collector::start_with(
        dir.path(),
        &["--allowed-origins", "https://logs.example.com"],
    );
    let port = collector.port();
    assert_eq!(
        handshake(port, "/api/live", &[("origin", "https://logs.example.com")]),
        Ok(())
    );
    assert_eq!(
        handshake(
            port,
            "/api/live",
            &[("origin", "https://other.example.com")]
        ),
        Err(403)
    );
}

#[test]
fn live_requires_the_token_when_one_is_set() {
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--auth-token", "s3cret-token"]);
    let port = collector.port();
    assert_eq!(handshake(port, "/api/live", &[]), Err(401));
    assert_eq!(
        handshake(port, "/api/live", &[("authorization", "Bearer wrong")]),
        Err(401)
    );
    assert_eq!(
        handshake(
            port,
            "/api/live",
            &[("authorization", "Bearer s3cret-token")]
        ),
        Ok(())
    );
    assert_eq!(
        handshake(
            port,
            "/api/live",
            &[("cookie", "wakeline_token=s3cret-token")]
        ),
        Ok(())
    );
}

#[test]
fn live_filters_by_service_request_id_and_query() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let project = wakeline_e2e::unique("live-q");
    let steps = [
        r#"out:{"level":"info","msg":"login ok","request_id":"req-a","user_id":7}"#,
        r#"out:{"level":"warn","msg":"login slow","request_id":"req-b","user_id":8}"#,
        "out:INFO payment captured request_id=req-a",
        "out:ERROR payment failed request_id=req-c",
        "out:done",
    ];
    let live_with = |params: &[(&str, &str)]| {
        let mut all = params.to_vec();
        all.push(("tail", "50"));
        collector.live(&query(&all))
    };
    let project_q = format!("project:{project}");
    let users_service = live_with(&[("service", "users"), ("q", project_q.as_str())]);
    let req_a = live_with(&[("request_id", "req-a"), ("q", project_q.as_str())]);
    let phrase = format!("\"payment failed\" AND {project_q}");
    let by_phrase = live_with(&[("q", phrase.as_str())]);
    let structured = format!("fields.user_id:[8 TO 9] AND {project_q}");
    let by_field = live_with(&[("q", structured.as_str())]);
    let negated = format!("{project_q} AND NOT login AND NOT done");
    let by_not = live_with(&[("q", negated.as_str())]);

    let _users = ContainerSpec::new("live-q-users", &steps)
        .project(&project)
        .service("users")
        .run();
    let _other = ContainerSpec::new("live-q-other", &["out:INFO elsewhere request_id=req-a"])
        .project(&project)
        .service("billing")
        .run();

    let mut users_service = users_service;
    assert_eq!(messages(&read_records(&mut users_service, 5)).len(), 5);
    let mut req_a = req_a;
    let mut got = read_records(&mut req_a, 3);
    got.sort_by_key(|r| r["message"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        messages(&got),
        [
            "INFO elsewhere request_id=req-a",
            "INFO payment captured request_id=req-a",
            r#"{"level":"info","msg":"login ok","request_id":"req-a","user_id":7}"#,
        ]
    );
    let mut by_phrase = by_phrase;
    assert_eq!(
        messages(&read_records(&mut by_phrase, 1)),
        ["ERROR payment failed request_id=req-c"]
    );
    let mut by_field = by_field;
    assert_eq!(
        messages(&read_records(&mut by_field, 1)),
        [r#"{"level":"warn","msg":"login slow","request_id":"req-b","user_id":8}"#]
    );
    let mut by_not = by_not;
    let mut got = read_records(&mut by_not, 3);
    got.sort_by_key(|r| r["message"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        messages(&got),
        [
            "ERROR payment failed request_id=req-c",
            "INFO elsewhere request_id=req-a",
            "INFO payment captured request_id=req-a",
        ]
    );
    // Nothing else arrives for the narrow filters, and the feed stays open.
    let quiet = Duration::from_secs(2);
    assert_eq!(by_phrase.next(quiet), Err(NoMessage::Timeout(quiet)));

    // The live metrics saw these five clients and what they were sent.
    assert_eq!(collector.metric("wakeline_live_clients"), 5.0);
    assert!(collector.metric("wakeline_live_sent_total") >= 13.0);
}

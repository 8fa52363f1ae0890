//! 1,000 concurrent requests through two services on a multi-threaded runtime
//! never mix IDs: every response, every downstream call and every log line
//! belongs to exactly the request it says it does.
//!
//! Its own test binary, because it installs the global subscriber (the tasks
//! run on runtime worker threads, where a thread-local one would not reach).

mod common;

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use futures_util::future::join_all;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::Value;
use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use wakeline_middleware::{JsonLayer, RequestContext, RequestId, RequestIdLayer};

use common::{Capture, propagating_client};

const REQUESTS: usize = 1_000;

/// Log lines per request: front (start, handler, task, call, end) and back
/// (start, handler, end).
const LINES_PER_REQUEST: usize = 8;

async fn front(
    State((client, back)): State<(ClientWithMiddleware, String)>,
    id: RequestId,
) -> String {
    // Yield so that requests interleave on the workers.
    tokio::task::yield_now().await;
    tracing::info!(expected = %id, "front handling");
    let task = tokio::spawn(
        async move {
            tokio::task::yield_now().await;
            tracing::info!(expected = %id, "front task");
            RequestContext::current().map(|c| c.request_id().to_string())
        }
        .in_current_span(),
    );
    let from_task = task.await.ok().flatten().unwrap_or_default();
    let answer = match client.get(&back).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("error: {error}"),
    };
    format!("task={from_task} back={answer}")
}

async fn back(id: RequestId) -> String {
    tokio::task::yield_now().await;
    tracing::info!(expected = %id, "back handling");
    id.to_string()
}

#[test]
fn a_thousand_concurrent_requests_never_mix_ids() {
    let logs = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(JsonLayer::new().with_writer(logs.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("first global subscriber");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let results = runtime.block_on(async {
        let back_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let back_url = format!("http://{}/", back_listener.local_addr().expect("addr"));
        let back_app = Router::new()
            .route("/", get(back))
            .layer(RequestIdLayer::new());
        tokio::spawn(async move { axum::serve(back_listener, back_app).await });

        let front_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let front_url = format!("http://{}/", front_listener.local_addr().expect("addr"));
        let front_app = Router::new()
            .route("/", get(front))
            .with_state((propagating_client(), back_url))
            .layer(RequestIdLayer::new());
        tokio::spawn(async move { axum::serve(front_listener, front_app).await });

        let client = reqwest::Client::new();
        join_all((0..REQUESTS).map(|i| {
            let req = client
                .get(&front_url)
                .header("x-request-id", format!("req-{i}"));
            async move {
                let response = req.send().await.expect("front answers");
                let header = response
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (i, header, response.text().await.expect("body"))
            }
        }))
        .await
    });

    for (i, header, body) in &results {
        let id = format!("req-{i}");
        assert_eq!(header.as_deref(), Some(id.as_str()));
        assert_eq!(body, &format!("task={id} back={id}"));
    }

    // Request lines are written before the response, the task's line before
    // the handler returns: all lines are in by now.
    let lines = logs.lines();
    assert_eq!(lines.len(), REQUESTS * LINES_PER_REQUEST);
    let mut by_id: HashMap<String, Vec<&Value>> = HashMap::new();
    for line in &lines {
        let id = line["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no request_id: {line}"));
        if let Some(expected) = line.get("expected") {
            assert_eq!(
                expected, id,
                "a line logged for one request carries another's ID"
            );
        }
        by_id.entry(id.to_owned()).or_default().push(line);
    }
    assert_eq!(by_id.len(), REQUESTS);
    let mut span_ids = std::collections::HashSet::new();
    for (id, lines) in &by_id {
        assert_eq!(lines.len(), LINES_PER_REQUEST, "{id}");
        let trace = &lines[0]["trace_id"];
        assert!(
            lines.iter().all(|l| &l["trace_id"] == trace),
            "{id}: one trace"
        );
        let spans: std::collections::HashSet<&str> =
            lines.iter().filter_map(|l| l["span_id"].as_str()).collect();
        assert_eq!(spans.len(), 2, "{id}: one span in front, one in back");
        span_ids.extend(spans);
    }
    assert_eq!(
        span_ids.len(),
        2 * REQUESTS,
        "no span ID shared between requests"
    );
}

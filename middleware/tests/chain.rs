//! A three-service chain on loopback (edge → users → tokens), real reqwest
//! calls between real axum servers: every line of every service for one
//! request carries the same ID and trace, and the spans link parent to child.

mod common;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::Value;
use tracing::Instrument;
use wakeline_middleware::{RequestContext, RequestId};

use common::{REQUIRED_KEYS, Service, is_uuid_v7, propagating_client, spawn_service, wait_for};

/// Calls `next` (if any) and returns what it answered.
async fn call(client: &ClientWithMiddleware, next: &str) -> String {
    match client.get(next).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("error: {error}"),
    }
}

struct Chain {
    edge: Service,
    users: Service,
    tokens: Service,
}

fn chain() -> Chain {
    let tokens = spawn_service(
        "tokens",
        Router::new().route(
            "/token",
            get(|id: RequestId| async move {
                tracing::info!(kind = "bearer", "issuing token");
                tokio::spawn(async { tracing::info!("token audit") }.in_current_span());
                format!("token-for-{id}")
            }),
        ),
    );
    let users = spawn_service(
        "users",
        Router::new()
            .route(
                "/user",
                get(
                    |State((client, next)): State<(ClientWithMiddleware, String)>| async move {
                        tracing::info!(user_id = 7, "loading user");
                        let token = call(&client, &next).await;
                        tracing::info!("user loaded");
                        format!("user 7 / {token}")
                    },
                ),
            )
            .with_state((propagating_client(), tokens.url("/token"))),
    );
    let edge = spawn_service(
        "edge",
        Router::new()
            .route(
                "/",
                get(
                    |State((client, next)): State<(ClientWithMiddleware, String)>| async move {
                        tracing::info!("edge handling");
                        call(&client, &next).await
                    },
                ),
            )
            .with_state((propagating_client(), users.url("/user"))),
    );
    Chain {
        edge,
        users,
        tokens,
    }
}

/// Sends one request to the edge; returns (response ID header, body).
fn request(edge: &Service, request_id: Option<&str>) -> (String, String) {
    let runtime = common::client_runtime();
    runtime.block_on(async {
        let mut req = reqwest::Client::new().get(edge.url("/"));
        if let Some(id) = request_id {
            req = req.header("x-request-id", id);
        }
        let response = req.send().await.expect("edge answers");
        assert_eq!(response.status(), 200);
        let id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("response carries the ID")
            .to_owned();
        (id, response.text().await.expect("body"))
    })
}

fn line<'a>(lines: &'a [Value], msg: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["msg"] == msg)
        .unwrap_or_else(|| panic!("no {msg:?} line in {lines:#?}"))
}

/// Asserts the whole chain logged `id` on every line, in one trace, with
/// spans linked caller → callee.
fn assert_joined(chain: &Chain, id: &str) {
    // The spawned audit task may finish after the response.
    wait_for("the spawned task's line", || {
        (!chain.tokens.logs.with_msg("token audit").is_empty()).then_some(())
    });
    let edge = chain.edge.logs.lines();
    let users = chain.users.logs.lines();
    let tokens = chain.tokens.logs.lines();

    let trace_id = line(&edge, "request started")["trace_id"].clone();
    assert_eq!(trace_id.as_str().map(str::len), Some(32));
    for (service, lines, count) in [
        ("edge", &edge, 4),
        ("users", &users, 5),
        ("tokens", &tokens, 4),
    ] {
        assert_eq!(lines.len(), count, "{service}: {lines:#?}");
        for l in lines.iter() {
            for key in REQUIRED_KEYS {
                assert!(l.get(key).is_some(), "{service}: no {key} in {l}");
            }
            assert_eq!(l["request_id"], id, "{service}: {l}");
            assert_eq!(l["trace_id"], trace_id, "{service}: {l}");
        }
        // One span per service per request: every line has the same span ID.
        let span = &lines[0]["span_id"];
        assert!(lines.iter().all(|l| &l["span_id"] == span), "{service}");
    }

    // Parent → child links: each call line names the child span that the
    // callee's start line gives as its parent.
    assert!(
        line(&edge, "request started")
            .get("parent_span_id")
            .is_none()
    );
    for (caller, callee) in [(&edge, &users), (&users, &tokens)] {
        let call = line(caller, "call finished");
        let start = line(callee, "request started");
        assert_eq!(call["span_id"], caller[0]["span_id"]);
        assert_eq!(call["status"], 200);
        assert_eq!(call["method"], "GET");
        assert!(
            call["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:"))
        );
        assert!(call["duration_ms"].as_f64().is_some());
        assert_eq!(start["parent_span_id"], call["child_span_id"]);
        assert_ne!(start["span_id"], call["child_span_id"]);
        assert_ne!(start["span_id"], caller[0]["span_id"]);
    }
    assert_eq!(line(&users, "call finished")["path"], "/token");
    assert_eq!(line(&tokens, "issuing token")["kind"], "bearer");
}

#[test]
fn every_line_of_every_service_carries_the_incoming_id() {
    let chain = chain();
    let (id, body) = request(&chain.edge, Some("order-1234.retry:2"));
    assert_eq!(id, "order-1234.retry:2");
    assert_eq!(body, "user 7 / token-for-order-1234.retry:2");
    assert_joined(&chain, &id);
}

#[test]
fn a_generated_uuid_v7_travels_down_the_chain() {
    let chain = chain();
    let (id, body) = request(&chain.edge, None);
    assert!(is_uuid_v7(&id), "{id}");
    assert_eq!(body, format!("user 7 / token-for-{id}"));
    assert_joined(&chain, &id);
}

#[test]
fn an_invalid_incoming_id_is_replaced_and_never_logged() {
    let chain = chain();
    let (id, body) = request(&chain.edge, Some("spaces are not allowed"));
    assert!(is_uuid_v7(&id), "{id}");
    assert_eq!(body, format!("user 7 / token-for-{id}"));
    assert_joined(&chain, &id);
    for service in [&chain.edge, &chain.users, &chain.tokens] {
        assert!(
            !service.logs.raw().contains("spaces are not allowed"),
            "{}",
            service.name
        );
    }
}

#[test]
fn spawned_tasks_keep_the_id_for_logs_and_calls() {
    let sink = spawn_service(
        "sink",
        Router::new().route("/hook", get(|id: RequestId| async move { id.to_string() })),
    );
    let (done_tx, done_rx) = std::sync::mpsc::channel::<String>();
    let worker = spawn_service(
        "worker",
        Router::new()
            .route(
                "/",
                get(
                    |State((client, next, done)): State<(
                        ClientWithMiddleware,
                        String,
                        std::sync::mpsc::Sender<String>,
                    )>| async move {
                        // Attached: keeps the ID, even after the response is sent.
                        tokio::spawn(
                            async move {
                                tokio::task::yield_now().await;
                                tracing::info!("attached task");
                                let answer = call(&client, &next).await;
                                let _ = done.send(answer);
                            }
                            .in_current_span(),
                        );
                        // Not attached: runs outside the request.
                        tokio::spawn(async {
                            tracing::info!(
                                current = RequestContext::current().is_some(),
                                "detached task"
                            );
                        });
                        "accepted"
                    },
                ),
            )
            .with_state((propagating_client(), sink.url("/hook"), done_tx)),
    );
    let (id, body) = request(&worker, None);
    assert_eq!(body, "accepted");
    let answer = done_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the spawned task's call completed");
    assert_eq!(answer, id, "the downstream service saw the request's ID");
    wait_for("both task lines", || {
        let lines = worker.logs.lines();
        let ok = lines.iter().any(|l| l["msg"] == "attached task")
            && lines.iter().any(|l| l["msg"] == "detached task");
        ok.then_some(())
    });
    let lines = worker.logs.lines();
    assert_eq!(line(&lines, "attached task")["request_id"], id.as_str());
    let call = line(&lines, "call finished");
    assert_eq!(call["request_id"], id.as_str());
    let detached = line(&lines, "detached task");
    assert!(detached.get("request_id").is_none(), "{detached}");
    assert_eq!(detached["current"], false);
    let sink_start = line(&sink.logs.lines(), "request started").clone();
    assert_eq!(sink_start["request_id"], id.as_str());
    assert_eq!(sink_start["parent_span_id"], call["child_span_id"]);
}

#[test]
fn a_failed_call_is_logged_with_the_request_id() {
    // Bind and drop a listener: nothing listens on that port afterwards.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/down", closed.local_addr().expect("addr"));
    drop(closed);
    let caller = spawn_service(
        "caller",
        Router::new()
            .route(
                "/",
                get(
                    |State((client, next)): State<(ClientWithMiddleware, String)>| async move {
                        call(&client, &next).await
                    },
                ),
            )
            .with_state((propagating_client(), dead_url)),
    );
    let (id, body) = request(&caller, Some("doomed-1"));
    assert_eq!(id, "doomed-1");
    assert!(body.starts_with("error: "), "{body}");
    let lines = caller.logs.lines();
    let failed = line(&lines, "call failed");
    assert_eq!(failed["level"], "warn");
    assert_eq!(failed["request_id"], "doomed-1");
    assert_eq!(failed["path"], "/down");
    assert!(
        failed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    assert!(
        failed["child_span_id"]
            .as_str()
            .is_some_and(|s| s.len() == 16),
        "{failed}"
    );
}

//! The deliberately broken hop: `GET /api/legacy/stats`.
//!
//! This is the kind of client every codebase has somewhere: written before
//! the middleware, a plain `reqwest::Client` wrapped by hand to log its calls
//! in the same shape as the instrumented client (`call finished`, target
//! `wakeline_middleware::call`, with `peer`, `method`, `path`, `status`,
//! `duration_ms` and a `child_span_id`). It even makes up a child span ID,
//! but it forgot to send it, and the request ID, to the callee. messages
//! therefore starts a fresh request for it, and no container has a line of
//! the span this call names: the collector reports it as `seen: false`,
//! the place where the request ID stopped propagating.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use chat_common::ApiError;
use serde_json::Value;

use crate::App;

/// A client that logs its calls but does not propagate anything.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
}

impl Client {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { http })
    }

    /// `GET url`, logged like an instrumented call (the bug: nothing injected).
    async fn get_json(&self, url: &str) -> Result<Value, ApiError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ApiError::Internal(e.to_string()))?;
        let peer = format!(
            "{}:{}",
            parsed.host_str().unwrap_or_default(),
            parsed.port_or_known_default().unwrap_or(80)
        );
        // A span ID of its own, as the real client makes one.
        let child_span_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
        let start = Instant::now();
        let result = self.http.get(parsed.clone()).send().await;
        let duration_ms = start.elapsed().as_micros() as f64 / 1e3;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(
                    target: "wakeline_middleware::call",
                    peer, method = "GET", path = parsed.path(), duration_ms, child_span_id,
                    error = %error, "call failed"
                );
                return Err(ApiError::Unavailable {
                    service: "messages",
                    detail: error.to_string(),
                });
            }
        };
        tracing::info!(
            target: "wakeline_middleware::call",
            peer,
            method = "GET",
            path = parsed.path(),
            status = response.status().as_u16(),
            duration_ms,
            child_span_id,
            "call finished"
        );
        response
            .json()
            .await
            .map_err(|e| ApiError::Internal(format!("messages: expected JSON stats, found {e}")))
    }
}

pub(crate) async fn stats(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let url = format!("{}/api/messages/stats", app.messages);
    let stats = app.legacy.get_json(&url).await?;
    tracing::info!("legacy stats served");
    Ok(Json(stats))
}

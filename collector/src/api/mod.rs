//! The HTTP and WebSocket API (DESIGN.md, "HTTP API").
//!
//! `app(state)` builds the whole router so tests can drive it with
//! `tower::ServiceExt::oneshot` without a socket. Handlers that touch tantivy
//! run on the blocking pool: a search must not stall the runtime that also
//! reads Docker's streams.

mod containers;
pub mod error;
mod health;
mod live;
pub mod params;
mod search;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::index::LogIndex;
use crate::ledger::Ledger;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::source::registry::Registry;
use error::ApiError;

/// Name of the cookie the UI's login form sets.
pub const AUTH_COOKIE: &str = "wakeline_token";

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub index: Arc<LogIndex>,
    pub hub: Arc<LiveHub>,
    pub ledger: Arc<Ledger>,
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    pub auth_token: Option<Arc<str>>,
    /// Origins besides our own allowed to open the live feed.
    pub allowed_origins: Arc<[String]>,
    /// Serving on loopback: browsers must reach us by a loopback name.
    pub loopback_only: bool,
    /// Flips to true when the collector shuts down (ends live feeds).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The router with every route.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/search", get(search::search))
        .route("/api/requests/{id}", get(search::request))
        .route("/api/containers", get(containers::containers))
        .route("/api/live", get(live::live))
        .route("/metrics", get(health::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route("/healthz", get(health::healthz))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see the README for the API".into())
}

/// With a token configured, every route but `/healthz` needs it, as a bearer
/// header or as the UI's cookie.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = state.auth_token.as_deref() else {
        return next.run(request).await;
    };
    if presented_token(&request)
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
    {
        return next.run(request).await;
    }
    ApiError::Unauthorized.into_response()
}

fn presented_token(request: &Request) -> Option<&str> {
    let headers = request.headers();
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == AUTH_COOKIE)
        .map(|(_, v)| v)
}

/// Compares without returning early on the first different byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs blocking index work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Unavailable(format!("worker failed: {e}")))?
}

//! The HTTP and WebSocket API (DESIGN.md, "HTTP API").
//!
//! `app(state)` builds the whole router so tests can drive it with
//! `tower::ServiceExt::oneshot` without a socket. Handlers that touch tantivy
//! run on the blocking pool: a search must not stall the runtime that also
//! reads Docker's streams.

mod auth;
mod containers;
pub mod error;
mod export;
mod health;
mod live;
pub mod params;
mod search;
pub mod serve;
#[cfg(test)]
mod tests;
pub mod ui;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

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

/// The Content-Security-Policy of every response: the UI's own files only,
/// no inline script or style, no framing, no other origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// The router with every route.
pub fn app(state: AppState) -> Router {
    let token = middleware::from_fn_with_state(state.clone(), auth::require_token);
    // With a token configured, these need it.
    let guarded = Router::new()
        .route("/api/search", get(search::search))
        .route("/api/histogram", get(search::histogram))
        .route("/api/context/{seq}", get(search::context))
        .route("/api/requests/{id}", get(search::request))
        .route("/api/export", get(export::export))
        .route("/api/containers", get(containers::containers))
        .route("/metrics", get(health::metrics))
        .route_layer(token.clone());
    // The UI's files hold no data; the session routes are how one logs in.
    let open = Router::new()
        .route("/", get(ui::page))
        .route("/search", get(ui::page))
        .route("/requests/{id}", get(ui::page))
        .route("/containers", get(ui::page))
        .route("/login", get(ui::page))
        .route("/ui/{*path}", get(ui::asset))
        .route("/api/session", get(auth::session))
        .route(
            "/api/login",
            post(auth::login)
                .layer(DefaultBodyLimit::max(auth::MAX_LOGIN_BODY))
                .layer(middleware::from_fn(body_deadline)),
        )
        .route("/api/logout", post(auth::logout))
        .route("/healthz", get(health::healthz));
    // The WebSocket stays out of the compression layer.
    let live = Router::new()
        .route("/api/live", get(live::live))
        .route_layer(token);
    Router::new()
        .merge(guarded)
        .merge(open)
        .layer(CompressionLayer::new())
        .merge(live)
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Largest body of a framework error (a rejection's text) kept as `detail`.
const MAX_REJECTION_TEXT: usize = 1024;

/// Errors the handlers did not write themselves (axum's rejections: a body
/// over its limit, a method the route does not take, an unreadable path)
/// come as plain text or with no body; they get the API's JSON shape, with
/// the same status and their text as `detail`.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    // A compressed text is not worth decoding for a detail.
    let encoded = response.headers().contains_key(header::CONTENT_ENCODING);
    let text = axum::body::to_bytes(response.into_body(), MAX_REJECTION_TEXT)
        .await
        .ok()
        .filter(|_| !encoded)
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let error = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    // axum's texts start with a capital ("Failed to buffer…"); ours do not.
    let detail = match text.chars().next() {
        None => format!("the server answered {status}"),
        Some(first) => first.to_lowercase().chain(text.chars().skip(1)).collect(),
    };
    let body = axum::Json(serde_json::json!({ "error": error, "detail": detail }));
    (status, body).into_response()
}

/// How long a request body may take to arrive, from when its head did.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A route that reads a body answers 408 when the body is not all there in
/// [`BODY_READ_TIMEOUT`]: a client trickling it, or stopping short of its
/// `content-length`, no longer holds the request open for ever.
async fn body_deadline(request: Request, next: Next) -> Response {
    match tokio::time::timeout(BODY_READ_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let detail = format!(
                "the request body did not arrive within {} s",
                BODY_READ_TIMEOUT.as_secs()
            );
            let body =
                axum::Json(serde_json::json!({ "error": "request timeout", "detail": detail }));
            (StatusCode::REQUEST_TIMEOUT, body).into_response()
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see the README for the API".into())
}

/// Headers every response carries: a strict CSP, no MIME sniffing, no
/// referrer, no framing.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Runs blocking index work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Unavailable(format!("worker failed: {e}")))?
}

//! What the five chat services share, so each of them reads as its own story.
//!
//! * [`serve`]: JSON log lines on stdout (`wakeline_middleware::log::init`),
//!   the router behind a [`RequestIdLayer`], bound to `LISTEN` (default
//!   `0.0.0.0:8080`, the port every container listens on), and a prompt exit
//!   on SIGTERM: in a `FROM scratch` container the service is PID 1, which
//!   the kernel does not kill on a signal it does not handle.
//! * [`service_url`]: where another service is, from `<NAME>_URL` with the
//!   compose default `http://<name>:8080`.
//! * [`client`]: reqwest with [`PropagateRequestId`], so every call made
//!   while serving a request carries its ID and logs a `call finished` line.
//! * [`ApiError`]: the one error type; every error is a JSON
//!   `{"error", "detail"}` with its status, and an error answered by a
//!   service we called is passed on with its own status.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use reqwest_middleware::ClientWithMiddleware;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use wakeline_middleware::{PropagateRequestId, RequestIdLayer};

/// The address to listen on: `LISTEN`, default `0.0.0.0:8080`.
pub fn listen_addr() -> anyhow::Result<SocketAddr> {
    let text = std::env::var("LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".to_owned());
    text.parse().map_err(|e| {
        anyhow::anyhow!("LISTEN: expected an address like 0.0.0.0:8080, found {text:?} ({e})")
    })
}

/// The base URL of service `name`: `<NAME>_URL`, default `http://<name>:8080`
/// (the service's name on the compose network).
pub fn service_url(name: &str) -> String {
    let var = format!("{}_URL", name.to_ascii_uppercase());
    let url = std::env::var(var).unwrap_or_else(|_| format!("http://{name}:8080"));
    url.trim_end_matches('/').to_owned()
}

/// An HTTP client that propagates the current request to the callee.
pub fn client() -> anyhow::Result<ClientWithMiddleware> {
    let inner = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()?;
    Ok(reqwest_middleware::ClientBuilder::new(inner)
        .with(PropagateRequestId::new())
        .build())
}

/// Starts logging, then serves `app` behind a [`RequestIdLayer`] on
/// [`listen_addr`] until SIGTERM or Ctrl-C. `service` names the start line.
pub async fn serve(service: &'static str, app: Router) -> anyhow::Result<()> {
    serve_with(service, app, Router::new()).await
}

/// Like [`serve`], with `untraced` routes outside the layer: transport that is
/// not part of any request (the queue's long poll), which would otherwise
/// log a request of its own every time it wakes.
pub async fn serve_with(
    service: &'static str,
    app: Router,
    untraced: Router,
) -> anyhow::Result<()> {
    init_logs();
    let addr = listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(service, %addr, "listening");
    let app = app.layer(RequestIdLayer::new()).merge(untraced);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown(service))
        .await?;
    Ok(())
}

/// JSON lines on stdout; a second call (tests) is not an error.
pub fn init_logs() {
    if wakeline_middleware::log::init().is_err() {
        tracing::debug!("logging was already set up");
    }
}

/// Resolves on SIGTERM or Ctrl-C. Open WebSockets and long polls would hold
/// a graceful shutdown forever, so the process exits two seconds later
/// whatever is still open.
async fn shutdown(service: &'static str) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!(service, "shutting down");
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        std::process::exit(0);
    });
}

/// Every error a chat service answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A service we called answered with an error: passed on as it was.
    #[error("{service} answered {status}")]
    Upstream {
        service: &'static str,
        status: StatusCode,
        body: Value,
    },
    /// A service we called did not answer.
    #[error("{service} unreachable: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
    },
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Upstream { status, .. } => *status,
            ApiError::Unavailable { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotFound(_) => "not found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Upstream { .. } => "upstream error",
            ApiError::Unavailable { .. } => "upstream unavailable",
            ApiError::Internal(_) => "internal error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), error = %self, "request refused");
        }
        let body = match self {
            // The callee's own `{"error", "detail"}` says best what went wrong.
            ApiError::Upstream { body, .. } if body.get("error").is_some() => body,
            other => json!({ "error": other.kind(), "detail": other.to_string() }),
        };
        (status, Json(body)).into_response()
    }
}

/// Sends `request` (a call to `service`) and reads a JSON answer; a non-2xx
/// answer becomes [`ApiError::Upstream`] with its status and body.
pub async fn call_json<T: DeserializeOwned>(
    service: &'static str,
    request: reqwest_middleware::RequestBuilder,
) -> Result<T, ApiError> {
    let response = request.send().await.map_err(|e| ApiError::Unavailable {
        service,
        detail: e.to_string(),
    })?;
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = response.bytes().await.map_err(|e| ApiError::Unavailable {
        service,
        detail: format!("reading the answer: {e}"),
    })?;
    if !status.is_success() {
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        return Err(ApiError::Upstream {
            service,
            status,
            body,
        });
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Internal(format!("{service}: expected a JSON answer, found {e}")))
}

/// A JSON body to send: serialized here so the client needs no JSON feature.
pub fn json_body(
    request: reqwest_middleware::RequestBuilder,
    body: &Value,
) -> reqwest_middleware::RequestBuilder {
    request
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_error_keeps_its_status_and_body() {
        let error = ApiError::Upstream {
            service: "tokens",
            status: StatusCode::UNAUTHORIZED,
            body: json!({"error": "unauthorized", "detail": "unknown token"}),
        };
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn service_urls_default_to_the_compose_names() {
        assert_eq!(service_url("nosuchservice"), "http://nosuchservice:8080");
    }
}

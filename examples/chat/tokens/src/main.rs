//! tokens: logging in.
//!
//! `POST /api/tokens` with HTTP Basic credentials asks users to verify the
//! password and returns `{"token","user_id"}` (401 on a wrong name or
//! password); `GET /internal/tokens/current` with `Authorization: Bearer
//! <token>` tells the other services whose token it is (`{"user_id"}`, 401
//! when unknown). The token travels in a header, never in a path: paths are
//! in every request line, and a log tool's demo should not teach putting
//! secrets in logs.
//!
//! What it shows in a trace: a middle hop. A login is edge → tokens → users,
//! and every posted message passes through here to check its token, so the
//! same request ID appears in three services. Tokens are 256 random bits, kept
//! in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chat_common::{ApiError, call_json, json_body};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};

#[derive(Clone)]
struct App {
    tokens: Arc<Mutex<HashMap<String, u64>>>,
    client: ClientWithMiddleware,
    users: String,
}

fn app(state: App) -> Router {
    Router::new()
        .route("/api/tokens", post(login))
        .route("/internal/tokens/current", get(validate))
        .with_state(state)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let state = App {
        tokens: Arc::default(),
        client: chat_common::client()?,
        users: chat_common::service_url("users"),
    };
    chat_common::serve("tokens", app(state)).await
}

/// `(username, password)` from `Authorization: Basic …`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

async fn login(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some((username, password)) = basic_credentials(&headers) else {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Basic base64(username:password)".to_owned(),
        ));
    };
    let body = json!({ "username": username, "password": password });
    let request = json_body(
        app.client.post(format!("{}/internal/verify", app.users)),
        &body,
    );
    let verified: Value = call_json("users", request).await?;
    let Some(user_id) = verified["id"].as_u64() else {
        return Err(ApiError::Internal(format!(
            "users: expected {{\"id\": number}}, found {verified}"
        )));
    };
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    lock(&app).insert(token.clone(), user_id);
    tracing::info!(user_id, "token issued");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "user_id": user_id })),
    ))
}

async fn validate(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let user_id = lock(&app).get(token).copied();
    match user_id {
        Some(user_id) => {
            tracing::info!(user_id, "token valid");
            Ok(Json(json!({ "user_id": user_id })))
        }
        None => Err(ApiError::Unauthorized("unknown token".to_owned())),
    }
}

fn lock(app: &App) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
    // Inserts are single operations: a poisoned map is still consistent.
    app.tokens
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded_and_garbage_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Basic YW5uOnNlOmNyZXQ=".parse().expect("value"),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("ann".to_owned(), "se:cret".to_owned()))
        );
        for bad in ["Bearer x", "Basic !!!", "Basic YW5u"] {
            headers.insert(header::AUTHORIZATION, bad.parse().expect("value"));
            assert_eq!(basic_credentials(&headers), None, "{bad}");
        }
    }
}

//! users: who is who in the chat.
//!
//! `POST /api/users {"username","password"}` registers (201 `{"id","username"}`,
//! 409 when the name is taken), `GET /api/users/{id}` looks a user up (404 when
//! unknown), and `POST /internal/verify {"username","password"}` answers the
//! tokens service with the user's ID (401 on a wrong name or password).
//!
//! What it shows in a trace: the leaf of most requests (tokens and messages
//! call it), and the one service that spends real CPU per request: passwords
//! are hashed with Argon2id, with a cost kept modest (8 MiB, 1 pass) so a
//! registration stays well under 100 ms here. Hashing runs on the blocking
//! pool, inside the request's span so its line carries the request ID.
//! State is in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chat_common::ApiError;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Default)]
struct Users {
    by_name: HashMap<String, u64>,
    /// Index `id - 1`: IDs are dense and never reused.
    list: Vec<User>,
}

struct User {
    id: u64,
    username: String,
    hash: String,
}

type Shared = Arc<Mutex<Users>>;

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// Argon2id at 8 MiB and one pass: real, and quick enough for a demo.
fn kdf() -> Argon2<'static> {
    let params = Params::new(8 * 1024, 1, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn app(state: Shared) -> Router {
    Router::new()
        .route("/api/users", post(register))
        .route("/api/users/{id}", get(lookup))
        .route("/internal/verify", post(verify))
        .with_state(state)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    chat_common::serve("users", app(Shared::default())).await
}

fn valid_username(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

async fn register(
    State(users): State<Shared>,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !valid_username(&body.username) {
        return Err(ApiError::BadRequest(
            "username: expected 1-32 characters of [A-Za-z0-9_-]".to_owned(),
        ));
    }
    if !(4..=128).contains(&body.password.len()) {
        return Err(ApiError::BadRequest(
            "password: expected 4-128 bytes".to_owned(),
        ));
    }
    if lock(&users).by_name.contains_key(&body.username) {
        return Err(ApiError::Conflict(format!(
            "username {:?} is taken",
            body.username
        )));
    }
    let span = tracing::Span::current();
    let password = body.password;
    let hash = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let start = std::time::Instant::now();
        let salt = SaltString::generate(&mut OsRng);
        let hash = kdf()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string());
        let hash_ms = start.elapsed().as_micros() as f64 / 1e3;
        tracing::info!(hash_ms, "password hashed");
        hash
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))?
    .map_err(|e| ApiError::Internal(format!("hashing: {e}")))?;

    let mut users = lock(&users);
    // Checked again: another registration may have taken the name meanwhile.
    if users.by_name.contains_key(&body.username) {
        return Err(ApiError::Conflict(format!(
            "username {:?} is taken",
            body.username
        )));
    }
    let id = users.list.len() as u64 + 1;
    users.by_name.insert(body.username.clone(), id);
    users.list.push(User {
        id,
        username: body.username.clone(),
        hash,
    });
    tracing::info!(user_id = id, username = %body.username, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "username": body.username })),
    ))
}

async fn lookup(State(users): State<Shared>, Path(id): Path<u64>) -> Result<Json<Value>, ApiError> {
    let users = lock(&users);
    let Some(user) = id.checked_sub(1).and_then(|i| users.list.get(i as usize)) else {
        return Err(ApiError::NotFound(format!("no user with id {id}")));
    };
    tracing::info!(user_id = user.id, "user looked up");
    Ok(Json(json!({ "id": user.id, "username": user.username })))
}

async fn verify(
    State(users): State<Shared>,
    Json(body): Json<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let found = {
        let users = lock(&users);
        users
            .by_name
            .get(&body.username)
            .and_then(|id| users.list.get(*id as usize - 1))
            .map(|u| (u.id, u.hash.clone()))
    };
    let refused = || ApiError::Unauthorized("wrong username or password".to_owned());
    let Some((id, hash)) = found else {
        tracing::info!(username = %body.username, "unknown username");
        return Err(refused());
    };
    let span = tracing::Span::current();
    let ok = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        PasswordHash::new(&hash)
            .map(|parsed| {
                kdf()
                    .verify_password(body.password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verifying task: {e}")))?;
    if !ok {
        tracing::info!(user_id = id, "wrong password");
        return Err(refused());
    }
    tracing::info!(user_id = id, "password verified");
    Ok(Json(json!({ "id": id })))
}

fn lock(users: &Shared) -> std::sync::MutexGuard<'_, Users> {
    // A panic while holding the lock leaves consistent data (every update is
    // a single push/insert), so a poisoned lock is still usable.
    users
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn call(app: &Router, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn register_lookup_verify_and_the_refusals() {
        let app = app(Shared::default());
        let ann = json!({"username": "ann", "password": "secret"});
        let (status, body) = call(&app, "POST", "/api/users", ann.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["id"], 1);
        assert_eq!(
            call(&app, "POST", "/api/users", ann.clone()).await.0,
            StatusCode::CONFLICT
        );
        assert_eq!(
            call(&app, "GET", "/api/users/1", Value::Null).await.1["username"],
            "ann"
        );
        assert_eq!(
            call(&app, "GET", "/api/users/9", Value::Null).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&app, "GET", "/api/users/0", Value::Null).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(call(&app, "POST", "/internal/verify", ann).await.1["id"], 1);
        let wrong = json!({"username": "ann", "password": "nope"});
        assert_eq!(
            call(&app, "POST", "/internal/verify", wrong).await.0,
            StatusCode::UNAUTHORIZED
        );
        let bad = json!({"username": "a b", "password": "secret"});
        assert_eq!(
            call(&app, "POST", "/api/users", bad).await.0,
            StatusCode::BAD_REQUEST
        );
    }
}

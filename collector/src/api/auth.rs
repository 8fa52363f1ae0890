//! The optional token: checked on every route but `/healthz`, the UI's
//! files and the session routes, given as a bearer header (scripts) or as a
//! cookie (the browser UI, after its login form posts the token here).
//!
//! The cookie is `HttpOnly` (page scripts cannot read it) and
//! `SameSite=Strict` (other sites' pages cannot send it); login and logout
//! also refuse a browser `Origin` that is not this collector's, as the live
//! feed does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::live::check_origin;
use super::{AUTH_COOKIE, AppState};

/// How long the login cookie lasts.
const COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 3600;
/// Largest login body accepted.
pub const MAX_LOGIN_BODY: usize = 4096;

/// With a token configured, the request must present it.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if authenticated(&state, request.headers()) {
        return next.run(request).await;
    }
    ApiError::Unauthorized.into_response()
}

/// True when no token is configured or the request presents it.
fn authenticated(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = state.auth_token.as_deref() else {
        return true;
    };
    presented_token(headers)
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == AUTH_COOKIE)
        .map(|(_, v)| decode_cookie(v))
}

/// Compares `given` with `expected` in time that depends only on the length
/// of `given` (which the client knows): every byte is compared, with no early
/// return on the first difference or on a length mismatch, so timing reveals
/// neither a prefix of the token nor its length.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    if expected.is_empty() {
        return false;
    }
    // Nonzero when the lengths differ; folded in like any byte difference.
    let mut diff = u8::from(given.len() != expected.len());
    for (i, byte) in given.iter().enumerate() {
        diff |= byte ^ expected[i % expected.len()];
        diff = std::hint::black_box(diff);
    }
    diff == 0
}

/// Any token can go in a cookie: it is percent-encoded there.
fn encode_cookie(token: &str) -> String {
    form_urlencoded::byte_serialize(token.as_bytes()).collect()
}

fn decode_cookie(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `GET /api/session`: whether a token is needed, and whether this request
/// has it (the UI decides from it whether to show its login form).
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Json<serde_json::Value> {
    Json(json!({
        "auth_required": state.auth_token.is_some(),
        "authenticated": authenticated(&state, &headers),
    }))
}

/// `POST /api/login` with `token=…` (a form) or `{"token": "…"}`: sets the
/// cookie when the token is right.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_origin(&headers, &state)?;
    let Some(expected) = state.auth_token.as_deref() else {
        return Err(ApiError::bad(
            "no token configured",
            "this collector runs without --auth-token: there is nothing to log in to",
        ));
    };
    if body.len() > MAX_LOGIN_BODY {
        return Err(ApiError::bad(
            "invalid login",
            format!(
                "expected at most {MAX_LOGIN_BODY} bytes, found {}",
                body.len()
            ),
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let given = if json {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("token")?.as_str().map(str::to_owned))
    } else {
        form_urlencoded::parse(&body)
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    };
    let Some(given) = given else {
        return Err(ApiError::bad(
            "invalid login",
            "expected a form field token=… or a JSON object {\"token\": …}",
        ));
    };
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Unauthorized);
    }
    let cookie = format!(
        "{AUTH_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={COOKIE_MAX_AGE_SECS}",
        encode_cookie(&given)
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// `POST /api/logout`: clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_origin(&headers, &state)?;
    let cookie = format!("{AUTH_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        for given in [
            &b""[..],
            b"s3cre",
            b"s3cret2",
            b"s3creT",
            b"S3cret",
            b"s3crets3cret",
        ] {
            assert!(!constant_time_eq(given, b"s3cret"), "{given:?}");
        }
        assert!(
            !constant_time_eq(b"", b""),
            "no token configured is never matched"
        );
    }

    #[test]
    fn any_token_survives_the_cookie() {
        for token in ["plain", "with space;and=semicolon", "ünï", "a+b%20"] {
            assert_eq!(decode_cookie(&encode_cookie(token)), token);
            assert!(!encode_cookie(token).contains([';', ' ', ',']));
        }
    }
}

//! The API's one error type: every failure maps to a status and a JSON body
//! `{"error": "...", "detail": "..."}`. Bad input is a 400 that says what was
//! expected and what was found; nothing a client sends can produce a 500.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::index::search::SearchError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter, header or query is not acceptable.
    #[error("{error}: {detail}")]
    BadRequest { error: &'static str, detail: String },
    #[error("missing or wrong auth token")]
    Unauthorized,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The index or a worker could not serve the request right now.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn bad(error: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            error,
            detail: detail.into(),
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> ApiError {
        match e {
            SearchError::BadQuery(detail) => ApiError::bad("invalid query", detail),
            SearchError::Index(e) => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, detail) = match self {
            ApiError::BadRequest { error, detail } => {
                (StatusCode::BAD_REQUEST, error.to_owned(), detail)
            }
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized".to_owned(),
                "send Authorization: Bearer <token> (or log in through the UI)".to_owned(),
            ),
            ApiError::NotFound(detail) => (StatusCode::NOT_FOUND, "not found".to_owned(), detail),
            ApiError::Forbidden(detail) => (StatusCode::FORBIDDEN, "forbidden".to_owned(), detail),
            ApiError::Unavailable(detail) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable".to_owned(),
                detail,
            ),
        };
        (status, Json(json!({ "error": error, "detail": detail }))).into_response()
    }
}

//! axum extractors (feature `axum`): `RequestId` and `RequestContext` as
//! handler arguments.
//!
//! The layer already puts the [`RequestContext`] (which holds the
//! [`RequestId`]) in the request extensions, so these are thin;
//! they exist so a handler reads `async fn h(id: RequestId)` instead of
//! `Extension<RequestId>`, and so forgetting the layer is a clear error
//! rather than a silent missing ID. `Option<RequestId>` works for handlers
//! that may also run without the layer.

use axum::Json;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::context::RequestContext;
use crate::id::RequestId;

/// The rejection when a handler asks for the request ID but the
/// [`RequestIdLayer`](crate::RequestIdLayer) is not installed on its route.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "request id missing: expected the RequestIdLayer on this route, found no request id in the extensions"
)]
pub struct MissingRequestId;

impl IntoResponse for MissingRequestId {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": "request id missing",
            "detail": self.to_string(),
        });
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = MissingRequestId;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .map(|ctx| ctx.request_id().clone())
            .ok_or(MissingRequestId)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .map(|ctx| ctx.request_id().clone()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = MissingRequestId;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or(MissingRequestId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn body_text(response: Response) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8 body")
    }

    fn router() -> Router {
        Router::new()
            .route("/id", get(|id: RequestId| async move { id.to_string() }))
            .route(
                "/ctx",
                get(|ctx: RequestContext| async move { ctx.request_id().to_string() }),
            )
            .route(
                "/maybe",
                get(|id: Option<RequestId>| async move { format!("{id:?}") }),
            )
    }

    #[tokio::test]
    async fn extractors_return_the_layer_s_id() {
        let app = router().layer(crate::RequestIdLayer::new());
        for path in ["/id", "/ctx"] {
            let req = Request::get(path)
                .header("x-request-id", "abc-1")
                .body(Body::empty())
                .expect("request");
            let response = app.clone().oneshot(req).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body_text(response).await, "abc-1");
        }
    }

    #[tokio::test]
    async fn without_the_layer_the_rejection_says_why() {
        let req = Request::get("/id").body(Body::empty()).expect("request");
        let response = router().oneshot(req).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value =
            serde_json::from_str(&body_text(response).await).expect("json");
        assert_eq!(body["error"], "request id missing");

        let req = Request::get("/maybe").body(Body::empty()).expect("request");
        let response = router().oneshot(req).await.expect("infallible");
        assert_eq!(body_text(response).await, "None");
    }
}

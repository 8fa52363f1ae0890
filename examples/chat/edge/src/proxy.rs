//! Routing to the services: each API request is passed on with its method,
//! path, query, body, `Content-Type` and `Authorization`, through the client
//! that propagates the request ID; the service's answer comes back as it was.
//! The page's WebSocket is relayed to push the same way: the upgrade carries
//! the ID and a child `traceparent`, and is logged as a call.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message as PageMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_common::ApiError;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message as PushMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tracing::Instrument;

use crate::App;

pub(crate) async fn users(
    State(app): State<App>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let base = app.users.clone();
    forward(&app, "users", &base, method, &uri, &headers, body).await
}

pub(crate) async fn tokens(
    State(app): State<App>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let base = app.tokens.clone();
    forward(&app, "tokens", &base, method, &uri, &headers, body).await
}

pub(crate) async fn messages(
    State(app): State<App>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let base = app.messages.clone();
    forward(&app, "messages", &base, method, &uri, &headers, body).await
}

async fn forward(
    app: &App,
    service: &'static str,
    base: &str,
    method: Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = app.client.request(method, format!("{base}{path}"));
    for name in [header::CONTENT_TYPE, header::AUTHORIZATION] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value.clone());
        }
    }
    let answer = request
        .body(body)
        .send()
        .await
        .map_err(|e| ApiError::Unavailable {
            service,
            detail: e.to_string(),
        })?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.map_err(|e| ApiError::Unavailable {
        service,
        detail: format!("reading the answer: {e}"),
    })?;
    let mut response = (status, Body::from(bytes)).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    Ok(response)
}

/// Accepts the page's WebSocket and relays push's updates to it.
pub(crate) async fn websocket(State(app): State<App>, upgrade: WebSocketUpgrade) -> Response {
    let url = format!("{}/ws", app.push.replacen("http", "ws", 1));
    // The relay outlives the handler; it stays in this request's span, so
    // its lines and its call to push carry the request ID.
    upgrade.on_upgrade(move |page| relay(page, url).in_current_span())
}

async fn relay(mut page: WebSocket, url: String) {
    let Ok(mut request) = url.as_str().into_client_request() else {
        tracing::error!(%url, "push URL is not a WebSocket URL");
        return;
    };
    let child_span_id = wakeline_middleware::inject_headers(request.headers_mut());
    let start = Instant::now();
    let connected = tokio_tungstenite::connect_async(request).await;
    let duration_ms = start.elapsed().as_micros() as f64 / 1e3;
    let peer = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut push = match connected {
        Ok((push, response)) => {
            tracing::info!(
                target: "wakeline_middleware::call",
                peer,
                method = "GET",
                path = "/ws",
                status = response.status().as_u16(),
                duration_ms,
                child_span_id = child_span_id.map(tracing::field::display),
                "call finished"
            );
            push
        }
        Err(error) => {
            tracing::warn!(
                target: "wakeline_middleware::call",
                peer,
                method = "GET",
                path = "/ws",
                duration_ms,
                child_span_id = child_span_id.map(tracing::field::display),
                error = %error,
                "call failed"
            );
            let _ = page.send(PageMessage::Close(None)).await;
            return;
        }
    };
    loop {
        tokio::select! {
            update = push.next() => match update {
                Some(Ok(PushMessage::Text(text))) => {
                    if page.send(PageMessage::Text(text.as_str().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(PushMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            incoming = page.recv() => match incoming {
                Some(Ok(PageMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = push.close(None).await;
    tracing::info!("page websocket closed");
}

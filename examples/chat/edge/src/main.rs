//! edge: the chat's front door, and the only service with a published port.
//!
//! It serves the chat page (`/`, `/app.js`, `/style.css`, embedded, with a
//! strict Content-Security-Policy), routes `/api/users`, `/api/tokens` and
//! `/api/messages` to their services, and relays the page's WebSocket (`/ws`)
//! to push.
//!
//! What it shows in a trace: where a request gets its identity. Its
//! `RequestIdLayer` keeps a valid incoming `X-Request-ID` and replaces a
//! missing or hostile one (CR/LF, 10 KB, `<script>`) with a UUIDv7, echoed in
//! the response; every call it makes carries that ID on.
//!
//! And one broken hop, on purpose: `GET /api/legacy/stats` calls messages with
//! a hand-rolled client (see [`legacy`]) that logs its call like an
//! instrumented one but never sends the ID, so messages serves it under an ID
//! of its own. Wakeline flags that call: no service has a line of the span it
//! names.

mod legacy;
mod proxy;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use reqwest_middleware::ClientWithMiddleware;

const PAGE: &str = include_str!("../static/index.html");
const SCRIPT: &str = include_str!("../static/app.js");
const STYLE: &str = include_str!("../static/style.css");

/// Scripts, styles and connections from this origin only; no inline code,
/// no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

#[derive(Clone)]
struct App {
    client: ClientWithMiddleware,
    users: String,
    tokens: String,
    messages: String,
    push: String,
    legacy: legacy::Client,
    page: &'static str,
}

fn app(state: App) -> Router {
    Router::new()
        .route("/", get(page))
        .route(
            "/app.js",
            get(|| static_file(SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/style.css",
            get(|| static_file(STYLE, "text/css; charset=utf-8")),
        )
        .route("/api/users", axum::routing::post(proxy::users))
        .route("/api/users/{id}", get(proxy::users))
        .route("/api/tokens", axum::routing::post(proxy::tokens))
        .route("/api/messages", get(proxy::messages).post(proxy::messages))
        .route("/api/legacy/stats", get(legacy::stats))
        .route("/ws", get(proxy::websocket))
        .with_state(state)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let wakeline =
        std::env::var("WAKELINE_URL").unwrap_or_else(|_| "http://127.0.0.1:7070".to_owned());
    let state = App {
        client: chat_common::client()?,
        users: chat_common::service_url("users"),
        tokens: chat_common::service_url("tokens"),
        messages: chat_common::service_url("messages"),
        push: chat_common::service_url("push"),
        legacy: legacy::Client::new()?,
        page: Box::leak(page_with(&wakeline)?.into_boxed_str()),
    };
    chat_common::serve("edge", app(state)).await
}

/// The page, told where Wakeline is (for its "open in Wakeline" links).
fn page_with(wakeline: &str) -> anyhow::Result<String> {
    let safe = wakeline
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":/.-_".contains(&b));
    if !(wakeline.starts_with("http://") || wakeline.starts_with("https://")) || !safe {
        anyhow::bail!(
            "WAKELINE_URL: expected an http(s) URL like http://127.0.0.1:7070, found {wakeline:?}"
        );
    }
    Ok(PAGE.replace("{{WAKELINE_URL}}", wakeline.trim_end_matches('/')))
}

async fn page(axum::extract::State(app): axum::extract::State<App>) -> Response {
    let mut response = Html(app.page).into_response();
    secure(&mut response);
    response
}

async fn static_file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    secure(&mut response);
    response
}

fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_gets_a_safe_wakeline_url_only() {
        let page = page_with("http://127.0.0.1:7070/").expect("a plain URL");
        assert!(page.contains("content=\"http://127.0.0.1:7070\""));
        assert!(!page.contains("{{"));
        for bad in ["javascript:alert(1)", "http://x\"><script>", "ftp://host"] {
            assert!(page_with(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(!PAGE.contains("<script>") && !PAGE.contains("style="));
        assert!(!PAGE.contains("<style"));
        assert!(!SCRIPT.contains("innerHTML"), "text goes in as text");
    }
}

//! The browser UI, embedded in the binary (`build.rs` makes the table).
//!
//! Pages (`/`, `/search`, `/requests/{id}`, `/containers`, `/login`) all get
//! `index.html`: the UI routes in the browser, from the URL. Files are under
//! `/ui/`. They carry no data, so they need no token (the API calls they make
//! do). Each has a weak ETag from its content and `Cache-Control: no-cache`,
//! so a browser revalidates and gets 304 until the binary changes.
//!
//! For work on the UI, `WAKELINE_UI_DIR=path/to/ui` serves the files from
//! disk instead, read on every request (a reload shows an edit).

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The environment variable naming a UI folder to serve from disk.
pub const UI_DIR_ENV: &str = "WAKELINE_UI_DIR";

fn ui_dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os(UI_DIR_ENV).map(PathBuf::from))
        .as_ref()
}

/// Any page of the UI: the shell, which routes in the browser.
pub async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /ui/{*path}`.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    if let Some(dir) = ui_dir() {
        return from_disk(dir, path);
    }
    let Some((_, body, etag)) = ASSETS.iter().find(|(name, _, _)| *name == path) else {
        return ApiError::NotFound(format!("no UI file {:?}", shorten(path))).into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == *etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type(path))],
            axum::body::Body::from(*body),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_static(etag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A file of the UI folder given in [`UI_DIR_ENV`]; only plain names, so
/// that nothing outside the folder can be asked for.
fn from_disk(dir: &std::path::Path, path: &str) -> Response {
    let plain = !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    let read = plain.then(|| std::fs::read(dir.join(path)));
    match read {
        Some(Ok(body)) => (
            [
                (header::CONTENT_TYPE, content_type(path)),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        _ => ApiError::NotFound(format!("no UI file {:?}", shorten(path))).into_response(),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_is_embedded_with_its_shell() {
        let shell = ASSETS.iter().find(|(name, _, _)| *name == "index.html");
        let (_, body, etag) = shell.expect("ui/index.html is embedded");
        assert!(String::from_utf8_lossy(body).contains("<html"));
        assert!(etag.starts_with("W/\""));
        assert!(ASSETS.iter().any(|(name, _, _)| *name == "app.js"));
    }

    #[test]
    fn only_plain_names_are_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.js"), "x").unwrap();
        assert_eq!(from_disk(dir.path(), "a.js").status(), StatusCode::OK);
        for bad in [
            "../a.js",
            "",
            ".hidden",
            "a/../../etc/passwd",
            "/etc/passwd",
            "a b",
        ] {
            assert_eq!(
                from_disk(dir.path(), bad).status(),
                StatusCode::NOT_FOUND,
                "{bad}"
            );
        }
    }
}

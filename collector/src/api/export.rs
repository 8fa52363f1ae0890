//! `/api/export`: every record a search matches, as a download (NDJSON, or
//! plain text lines), streamed: a blocking task pages through one index
//! snapshot 1,000 records at a time and hands each page to the response body
//! through a small bounded channel. A million lines go out without being held
//! in memory, later commits do not slip in, and a client that goes away
//! stops the task at its next page.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::AppState;
use super::error::ApiError;
use super::params::{ExportFormat, export_params};
use crate::query::SearchParams;
use crate::record::Record;
use crate::timefmt::format_rfc3339_ns;

/// Records per page read from the index.
const PAGE: usize = 1000;
/// Pages buffered between the reader and the socket.
const BUFFERED_PAGES: usize = 4;

pub async fn export(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (params, format) = export_params(raw.as_deref())?;
    // A bad query is a 400 now, not a download that breaks off.
    state.index.validate(&params)?;
    let name = file_name(&params, format);
    let (pages, mut receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(BUFFERED_PAGES);
    let index = state.index.clone();
    tokio::task::spawn_blocking(move || {
        let searcher = index.searcher();
        let mut query = SearchParams {
            limit: PAGE,
            cursor: None,
            ..params
        };
        loop {
            let page = match index.search_in(&searcher, &query, false) {
                Ok(page) => page,
                Err(e) => {
                    let _ = pages.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut chunk = Vec::with_capacity(page.hits.len() * 256);
            for record in &page.hits {
                write_record(&mut chunk, record, format);
            }
            if pages.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                return; // the client went away
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return,
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let content_type = match format {
        ExportFormat::Ndjson => "application/x-ndjson",
        ExportFormat::Text => "text/plain; charset=utf-8",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// One record as a line of the chosen format.
fn write_record(out: &mut Vec<u8>, record: &Record, format: ExportFormat) {
    match format {
        ExportFormat::Ndjson => {
            // A record always serializes (string keys, finite numbers).
            if serde_json::to_writer(&mut *out, record).is_ok() {
                out.push(b'\n');
            }
        }
        ExportFormat::Text => {
            let ts = format_rfc3339_ns(record.ts_ns);
            let line = format!(
                "{ts} {} {} {}\n",
                record.container.name,
                record.stream,
                // One record, one line: a stray CR or LF inside is shown escaped.
                record.message.replace('\r', "\\r").replace('\n', "\\n")
            );
            out.extend_from_slice(line.as_bytes());
        }
    }
}

/// `wakeline-<request id>.ndjson` for a request, else `wakeline-export.…`.
fn file_name(params: &SearchParams, format: ExportFormat) -> String {
    let extension = match format {
        ExportFormat::Ndjson => "ndjson",
        ExportFormat::Text => "txt",
    };
    let stem = params
        .request_id
        .as_deref()
        .filter(|id| {
            id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .unwrap_or("export");
    format!("wakeline-{stem}.{extension}")
}

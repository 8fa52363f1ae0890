//! `/api/search` and `/api/requests/{id}`: past records from the index.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{search_params, validate_id};
use super::{AppState, blocking};
use crate::query::{MAX_LIMIT, SearchParams};
use crate::record::{Level, Record};
use crate::timefmt::format_rfc3339_ns;

pub async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = search_params(raw.as_deref())?;
    let started = std::time::Instant::now();
    let page = blocking(move || Ok(state.index.search(&params)?)).await?;
    Ok(Json(json!({
        "hits": page.hits,
        "total": page.total,
        "next_cursor": page.next_cursor.map(|c| c.encode()),
        "took_ms": started.elapsed().as_millis() as u64,
    })))
}

/// One service's part in a request.
#[derive(Debug, Serialize)]
struct ServiceSummary {
    service: Option<String>,
    container: String,
    first_ts: String,
    last_ts: String,
    lines: u64,
    max_level: Option<String>,
}

pub async fn request(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    validate_id(&id)?;
    let params = SearchParams {
        request_id: Some(id.clone()),
        limit: MAX_LIMIT,
        ascending: true,
        ..SearchParams::default()
    };
    let page = blocking(move || Ok(state.index.search(&params)?)).await?;
    let services = summarize(&page.hits);
    Ok(Json(json!({
        "request_id": id,
        "records": page.hits,
        "services": services,
        "total": page.total,
    })))
}

/// Per container (one per service in the usual deployment), in order of
/// first appearance in the request.
fn summarize(records: &[Record]) -> Vec<ServiceSummary> {
    struct Acc<'a> {
        first: &'a Record,
        last_ts: i64,
        lines: u64,
        max_level: Option<&'a Level>,
    }
    let mut order: Vec<&str> = Vec::new();
    let mut by_container: HashMap<&str, Acc<'_>> = HashMap::new();
    for record in records {
        let key = record.container.id.as_str();
        let acc = by_container.entry(key).or_insert_with(|| {
            order.push(key);
            Acc {
                first: record,
                last_ts: record.ts_ns,
                lines: 0,
                max_level: None,
            }
        });
        acc.lines += 1;
        acc.last_ts = acc.last_ts.max(record.ts_ns);
        if record.level.as_ref() > acc.max_level {
            acc.max_level = record.level.as_ref();
        }
    }
    order
        .into_iter()
        .filter_map(|key| by_container.remove(key))
        .map(|acc| ServiceSummary {
            service: acc.first.container.service.clone(),
            container: acc.first.container.name.clone(),
            first_ts: format_rfc3339_ns(acc.first.ts_ns),
            last_ts: format_rfc3339_ns(acc.last_ts),
            lines: acc.lines,
            max_level: acc.max_level.map(|l| l.as_str().to_owned()),
        })
        .collect()
}

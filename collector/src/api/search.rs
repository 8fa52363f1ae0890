//! `/api/search`, `/api/requests/{id}`, `/api/histogram` and
//! `/api/context/{seq}`: past records from the index.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{context_params, histogram_params, search_params, validate_id};
use super::{AppState, blocking};
use crate::query::{MAX_LIMIT, SearchParams};
use crate::record::{Level, Record};
use crate::timefmt::{format_rfc3339_ns, now_ns};

pub async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = search_params(raw.as_deref())?;
    let started = std::time::Instant::now();
    let (page, watermark) = blocking(move || {
        let searcher = state.index.searcher();
        let page = state.index.search_in(&searcher, &params, true)?;
        Ok((page, state.index.watermark(&searcher)))
    })
    .await?;
    Ok(Json(json!({
        "hits": page.hits,
        "total": page.total,
        "next_cursor": page.next_cursor.map(|c| c.encode()),
        "took_ms": started.elapsed().as_millis() as u64,
        // The highest seq the searched snapshot holds: `/api/live?after_seq=`
        // with it follows this search with no gap and no repeat.
        "watermark": watermark,
    })))
}

/// `/api/histogram`: matching lines over time, per level.
pub async fn histogram(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (params, buckets) = histogram_params(raw.as_deref())?;
    let started = std::time::Instant::now();
    let chart = blocking(move || Ok(state.index.histogram(&params, buckets, now_ns())?)).await?;
    let buckets: Vec<Value> = chart
        .buckets
        .iter()
        .map(|b| {
            json!({
                "start": format_rfc3339_ns(b.start_ns),
                "end": format_rfc3339_ns(b.end_ns),
                "start_ms": b.start_ns.div_euclid(1_000_000),
                "end_ms": b.end_ns.div_euclid(1_000_000),
                "counts": b.counts,
            })
        })
        .collect();
    Ok(Json(json!({
        "buckets": buckets,
        "total": chart.total,
        "interval_ms": chart.interval_ns as f64 / 1e6,
        "took_ms": started.elapsed().as_millis() as u64,
    })))
}

/// `/api/context/{seq}`: a record and the lines around it in its container.
pub async fn context(
    State(state): State<AppState>,
    Path(seq): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let seq: u64 = seq.parse().map_err(|_| {
        ApiError::bad(
            "invalid seq",
            format!(
                "expected a record's seq (a whole number), found {:?}",
                shorten(&seq)
            ),
        )
    })?;
    let (before, after) = context_params(raw.as_deref())?;
    let found = blocking(move || Ok(state.index.context(seq, before, after)?)).await?;
    let Some(context) = found else {
        return Err(ApiError::NotFound(format!("no record has seq {seq}")));
    };
    Ok(Json(json!({
        "record": context.record,
        "before": context.before,
        "after": context.after,
    })))
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
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
    let structure = crate::trace::structure(&page.hits);
    Ok(Json(json!({
        "request_id": id,
        "records": page.hits,
        "services": services,
        "total": page.total,
        "spans": structure.spans,
        "calls": structure.calls,
        "critical_path": structure.critical_path,
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

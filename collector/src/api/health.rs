//! `/healthz` (is the collector usable?) and `/metrics` (Prometheus text).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;
use crate::checkpoint::ContainerState;
use crate::metrics::Metrics;
use crate::timefmt::now_ns;

pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let docker_ok = state.metrics.docker_up.load(Ordering::Relaxed);
    let index = state.index.clone();
    let probe = tokio::task::spawn_blocking(move || index.count()).await;
    let (index_ok, records, index_error) = match probe {
        Ok(Ok(n)) => (state.metrics.index_ok.load(Ordering::Relaxed), n, None),
        Ok(Err(e)) => (false, 0, Some(e.to_string())),
        Err(e) => (false, 0, Some(e.to_string())),
    };
    let unreadable: Vec<_> = state
        .registry
        .snapshot()
        .into_iter()
        .filter_map(|(id, s)| {
            s.error
                .map(|error| json!({ "id": id, "name": s.meta.name, "error": error }))
        })
        .collect();
    let ok = docker_ok && index_ok;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "docker": { "ok": docker_ok },
        "index": { "ok": index_ok, "records": records, "error": index_error },
        "unreadable_containers": unreadable,
    });
    (status, Json(body))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let live = &state.hub.stats;
    let mut out = String::with_capacity(4096);
    let counters = [
        (
            "wakeline_lines_ingested_total",
            "counter",
            "Log lines read from Docker (published live).",
            Metrics::get(&m.lines_ingested),
        ),
        (
            "wakeline_lines_indexed_total",
            "counter",
            "Log lines added to the index (searchable after the next commit).",
            Metrics::get(&m.lines_indexed),
        ),
        (
            "wakeline_bytes_ingested_total",
            "counter",
            "Bytes of log lines ingested.",
            Metrics::get(&m.bytes_ingested),
        ),
        (
            "wakeline_truncated_lines_total",
            "counter",
            "Lines cut at --max-line-bytes.",
            Metrics::get(&m.truncated_lines),
        ),
        (
            "wakeline_index_commits_total",
            "counter",
            "Index commits.",
            Metrics::get(&m.commits),
        ),
        (
            "wakeline_index_commit_errors_total",
            "counter",
            "Failed index commits.",
            Metrics::get(&m.commit_errors),
        ),
        (
            "wakeline_docker_reconnects_total",
            "counter",
            "Reconnections to the Docker events stream.",
            Metrics::get(&m.docker_reconnects),
        ),
        (
            "wakeline_live_clients",
            "gauge",
            "Connected live WebSocket clients.",
            Metrics::get(&live.clients),
        ),
        (
            "wakeline_live_sent_total",
            "counter",
            "Records sent to live clients.",
            Metrics::get(&live.sent),
        ),
        (
            "wakeline_live_dropped_total",
            "counter",
            "Records dropped for live clients that fell behind.",
            Metrics::get(&live.dropped),
        ),
        (
            "wakeline_live_pending_records",
            "gauge",
            "Records published but not yet committed.",
            state.hub.pending_len() as u64,
        ),
    ];
    for (name, kind, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out.push_str(&m.read_delay.render(
        "wakeline_read_delay_seconds",
        "From a line's Docker timestamp to its publication to live clients: how far behind the engine the collector reads.",
    ));
    if let Some(rss) = resident_bytes() {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory of the collector.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
        );
    }
    let now = now_ns();
    let ledger = state.ledger.snapshot();
    type PerContainer = fn(&ContainerState, i64) -> f64;
    let families: [(&str, &str, &str, PerContainer); 3] = [
        (
            "wakeline_container_lines_total",
            "counter",
            "Lines indexed per container.",
            |s, _| s.lines as f64,
        ),
        (
            "wakeline_container_lag_seconds",
            "gauge",
            "Delay between Docker's timestamp and ingest, for the newest line.",
            |s, _| s.lag_ns as f64 / 1e9,
        ),
        (
            "wakeline_container_last_line_age_seconds",
            "gauge",
            "Time since the newest line of each container.",
            |s, now| now.saturating_sub(s.last_ts) as f64 / 1e9,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (id, s) in &ledger {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(id, &s.name), value(s, now));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

fn labels(id: &str, name: &str) -> String {
    let short: String = id.chars().take(12).collect();
    format!("container_id=\"{short}\",container=\"{}\"", escape(name))
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Resident memory from `/proc/self/status` (Linux only; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

//! `/healthz` (is the collector usable?) and `/metrics` (Prometheus text,
//! written by the `prometheus-client` library from the pipeline's atomics).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, prometheus_text, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use crate::checkpoint::ContainerState;
use crate::ledger::Ledger;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::timefmt::{format_rfc3339_ns, now_ns};

pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let docker_outage = state.metrics.docker_outage.get();
    let docker_ok = docker_outage.is_none();
    let index = state.index.clone();
    let probe = tokio::task::spawn_blocking(move || index.count()).await;
    let (index_ok, records, index_error) = match probe {
        Ok(Ok(n)) => (state.metrics.index_outage.get().is_none(), n, None),
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
    let index_outage = state.metrics.index_outage.get();
    let index_error = index_error.or_else(|| index_outage.as_ref().map(|o| o.1.clone()));
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "docker": {
            "ok": docker_ok,
            "since": docker_outage.as_ref().map(|o| format_rfc3339_ns(o.0)),
            "error": docker_outage.map(|o| o.1),
        },
        "index": {
            "ok": index_ok,
            "records": records,
            "since": index_outage.map(|o| format_rfc3339_ns(o.0)),
            "error": index_error,
        },
        "unreadable_containers": unreadable,
    });
    (status, Json(body))
}

/// OpenMetrics text, for scrapers that ask for it in `Accept`.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The Prometheus exposition, written by `prometheus-client`: in the
/// OpenMetrics text format when the scraper asks for it (Prometheus does),
/// else in the classic text format (version 0.0.4).
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition {
        metrics: Arc::clone(&state.metrics),
        hub: Arc::clone(&state.hub),
        ledger: Arc::clone(&state.ledger),
    }));
    let mut body = String::with_capacity(8192);
    let (encoded, content_type) = if openmetrics {
        (text::encode(&mut body, &registry), OPENMETRICS_CONTENT_TYPE)
    } else {
        (
            prometheus_text::encode(&mut body, &registry),
            prometheus_text::CONTENT_TYPE,
        )
    };
    if encoded.is_err() {
        return ApiError::Unavailable("cannot encode the metrics".into()).into_response();
    }
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Everything `/metrics` reports, read when a scrape encodes it. Counter
/// names go without `_total`: the library appends it.
#[derive(Debug)]
struct Exposition {
    metrics: Arc<Metrics>,
    hub: Arc<LiveHub>,
    ledger: Arc<Ledger>,
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let m = &self.metrics;
        let live = &self.hub.stats;
        let counters = [
            (
                "wakeline_lines_ingested",
                "Log lines read from Docker (published live).",
                &m.lines_ingested,
            ),
            (
                "wakeline_lines_indexed",
                "Log lines added to the index (searchable after the next commit).",
                &m.lines_indexed,
            ),
            (
                "wakeline_bytes_ingested",
                "Bytes of log lines ingested.",
                &m.bytes_ingested,
            ),
            (
                "wakeline_truncated_lines",
                "Lines cut at --max-line-bytes.",
                &m.truncated_lines,
            ),
            (
                "wakeline_engine_log_losses",
                "Holes in containers' logs: lines Docker's rotation deleted before they were read (each marked by a record in that log).",
                &m.engine_losses,
            ),
            (
                "wakeline_redactions",
                "Values that looked like secrets masked by --redact.",
                &m.redactions,
            ),
            ("wakeline_index_commits", "Index commits.", &m.commits),
            (
                "wakeline_index_commit_errors",
                "Failed index commits.",
                &m.commit_errors,
            ),
            (
                "wakeline_docker_reconnects",
                "Reconnections to the Docker events stream.",
                &m.docker_reconnects,
            ),
            (
                "wakeline_retention_deleted_records",
                "Records deleted for --retention or --max-disk, oldest first.",
                &m.retention_deleted,
            ),
        ];
        for (name, help, value) in counters {
            ConstCounter::new(Metrics::get(value)).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        ConstGauge::new(Metrics::get(&m.index_bytes)).encode(encoder.encode_descriptor(
            "wakeline_index_size_bytes",
            "The data dir's size on disk (index and checkpoints).",
            None,
            MetricType::Gauge,
        )?)?;
        let oldest = Metrics::get(&m.oldest_record_ns) as f64 / 1e9;
        ConstGauge::new(oldest).encode(encoder.encode_descriptor(
            "wakeline_oldest_record_timestamp_seconds",
            "Docker's timestamp of the oldest record kept (0: none).",
            None,
            MetricType::Gauge,
        )?)?;
        ConstGauge::new(Metrics::get(&live.clients)).encode(encoder.encode_descriptor(
            "wakeline_live_clients",
            "Connected live WebSocket clients.",
            None,
            MetricType::Gauge,
        )?)?;
        ConstCounter::new(Metrics::get(&live.sent)).encode(encoder.encode_descriptor(
            "wakeline_live_sent",
            "Records sent to live clients.",
            None,
            MetricType::Counter,
        )?)?;
        ConstCounter::new(Metrics::get(&live.dropped)).encode(encoder.encode_descriptor(
            "wakeline_live_dropped",
            "Records dropped for live clients that fell behind.",
            None,
            MetricType::Counter,
        )?)?;
        ConstGauge::new(self.hub.pending_len() as u64).encode(encoder.encode_descriptor(
            "wakeline_live_pending_records",
            "Records published but not yet committed.",
            None,
            MetricType::Gauge,
        )?)?;
        m.read_delay.encode(encoder.encode_descriptor(
            "wakeline_read_delay_seconds",
            "From a line's Docker timestamp to its publication to live clients: how far behind the engine the collector reads.",
            None,
            MetricType::Histogram,
        )?)?;
        if let Some(rss) = resident_bytes() {
            ConstGauge::new(rss).encode(encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory of the collector.",
                None,
                MetricType::Gauge,
            )?)?;
        }
        self.encode_per_container(&mut encoder)
    }
}

impl Exposition {
    /// Families labelled by container, from the ledger.
    fn encode_per_container(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let now = now_ns();
        let ledger = self.ledger.snapshot();
        let labels = |id: &str, s: &ContainerState| {
            let short: String = id.chars().take(12).collect();
            [("container_id", short), ("container", s.name.clone())]
        };
        let mut lines = encoder.encode_descriptor(
            "wakeline_container_lines",
            "Lines indexed per container.",
            None,
            MetricType::Counter,
        )?;
        for (id, s) in &ledger {
            ConstCounter::new(s.lines).encode(lines.encode_family(&labels(id, s))?)?;
        }
        type PerContainer = fn(&ContainerState, i64) -> f64;
        let gauges: [(&str, &str, PerContainer); 2] = [
            (
                "wakeline_container_lag_seconds",
                "Delay between Docker's timestamp and ingest, for the newest line.",
                |s, _| s.lag_ns as f64 / 1e9,
            ),
            (
                "wakeline_container_last_line_age_seconds",
                "Time since the newest line of each container.",
                |s, now| now.saturating_sub(s.last_ts) as f64 / 1e9,
            ),
        ];
        for (name, help, value) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (id, s) in &ledger {
                ConstGauge::new(value(s, now)).encode(family.encode_family(&labels(id, s))?)?;
            }
        }
        Ok(())
    }
}

/// Resident memory from `/proc/self/status` (Linux only; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

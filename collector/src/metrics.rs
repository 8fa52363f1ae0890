//! Counters the pipeline bumps and `/metrics` reads.
//!
//! Plain atomics with relaxed ordering: each counter is independent and a
//! scrape only needs a recent value. Ingest bumps them per batch; the
//! Prometheus library (`prometheus-client`) only comes in at scrape time,
//! when `api/health.rs` hands it their values. Per-container figures come
//! from the index ledger at scrape time instead of being counted twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

#[derive(Debug, Default)]
pub struct Metrics {
    /// Lines read from Docker and published live (the sequencer).
    pub lines_ingested: AtomicU64,
    /// Lines added to the index (the indexer; searchable after the next commit).
    pub lines_indexed: AtomicU64,
    pub bytes_ingested: AtomicU64,
    pub truncated_lines: AtomicU64,
    /// Secrets masked by `--redact` (the sequencer).
    pub redactions: AtomicU64,
    pub commits: AtomicU64,
    pub commit_errors: AtomicU64,
    pub docker_reconnects: AtomicU64,
    /// Holes in containers' logs: lines Docker's rotation deleted before
    /// they were read (each also a marker record in that container's log).
    pub engine_losses: AtomicU64,
    /// Since when, and why, the engine cannot be reached (`/healthz`; none
    /// once the last list of containers worked). One value, so that the
    /// state and its reason are read together.
    pub docker_outage: Outage,
    /// Since when, and why, the index cannot be written (`/healthz`; none
    /// once a commit works again).
    pub index_outage: Outage,
    /// The data dir's size on disk (the last retention pass).
    pub index_bytes: AtomicU64,
    /// The oldest record kept, ns since the epoch (0: none).
    pub oldest_record_ns: AtomicU64,
    /// Records deleted by `--retention` and `--max-disk`.
    pub retention_deleted: AtomicU64,
    /// From a line's Docker timestamp to its publication (the sequencer).
    pub read_delay: Histogram,
}

impl Metrics {
    pub fn new() -> Metrics {
        let metrics = Metrics::default();
        metrics
            .docker_outage
            .begin("the Docker engine has not answered yet".into());
        metrics
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A part that stopped working: since when (ns since the epoch, the first
/// failure) and why (the latest error). Set and cleared on state changes
/// only, so the lock is never taken per line.
#[derive(Debug, Default)]
pub struct Outage(Mutex<Option<(i64, String)>>);

impl Outage {
    /// Marks the part down (keeps the first failure's time).
    pub fn begin(&self, reason: String) {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let since = state.as_ref().map_or_else(crate::timefmt::now_ns, |s| s.0);
        *state = Some((since, reason));
    }

    /// Marks the part working again.
    pub fn end(&self) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Since when and why, while it lasts.
    pub fn get(&self) -> Option<(i64, String)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Upper bounds, in seconds, of the [`Histogram`] buckets (+Inf follows).
pub const DELAY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A Prometheus histogram of delays over [`DELAY_BUCKETS`], observed in
/// batches. The library's own histogram takes a lock per observation; this
/// one costs a few relaxed atomics per batch and is encoded by the library
/// at scrape time ([`EncodeMetric`]).
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket, not cumulative; the last one is +Inf.
    buckets: [AtomicU64; DELAY_BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records a batch of delays in ns (negative ones, from clock skew, as 0):
    /// counted locally first, so a batch costs a few atomics, not three per value.
    pub fn observe_ns(&self, delays: impl IntoIterator<Item = i64>) {
        let mut local = [0u64; DELAY_BUCKETS.len() + 1];
        let mut sum = 0u64;
        for ns in delays {
            let ns = ns.max(0);
            let secs = ns as f64 / 1e9;
            let bucket = DELAY_BUCKETS
                .iter()
                .position(|&bound| secs <= bound)
                .unwrap_or(DELAY_BUCKETS.len());
            local[bucket] += 1;
            sum = sum.saturating_add(ns as u64);
        }
        for (bucket, n) in self.buckets.iter().zip(local) {
            if n > 0 {
                bucket.fetch_add(n, Ordering::Relaxed);
            }
        }
        self.sum_ns.fetch_add(sum, Ordering::Relaxed);
    }
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        let buckets: Vec<(f64, u64)> = DELAY_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total, so +Inf and _count always agree.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let h = Histogram::default();
        h.observe_ns([500_000, 3_000_000, -5]);
        h.observe_ns([3_000_000, 20_000_000_000]);
        let mut registry = Registry::default();
        registry.register("d_seconds", "Delay", h);
        let mut text = String::new();
        prometheus_text::encode(&mut text, &registry).expect("encode to a String");
        // -5 ns counts as 0, in the first bucket with the 0.5 ms one.
        let expected = [
            "# HELP d_seconds Delay.",
            "# TYPE d_seconds histogram",
            "d_seconds_bucket{le=\"0.001\"} 2",
            "d_seconds_bucket{le=\"0.0025\"} 2",
            "d_seconds_bucket{le=\"0.005\"} 4",
            "d_seconds_bucket{le=\"0.01\"} 4",
            "d_seconds_bucket{le=\"0.025\"} 4",
            "d_seconds_bucket{le=\"0.05\"} 4",
            "d_seconds_bucket{le=\"0.1\"} 4",
            "d_seconds_bucket{le=\"0.25\"} 4",
            "d_seconds_bucket{le=\"0.5\"} 4",
            "d_seconds_bucket{le=\"1\"} 4",
            "d_seconds_bucket{le=\"2.5\"} 4",
            "d_seconds_bucket{le=\"10\"} 4",
            "d_seconds_bucket{le=\"+Inf\"} 5",
            "d_seconds_sum 20.0065",
            "d_seconds_count 5",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected, "{text}");
    }
}

//! Counters the pipeline bumps and `/metrics` reads.
//!
//! Plain atomics with relaxed ordering: each counter is independent and a
//! scrape only needs a recent value. Per-container figures come from the
//! index ledger at scrape time instead of being counted twice.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    /// Lines read from Docker and published live (the sequencer).
    pub lines_ingested: AtomicU64,
    /// Lines added to the index (the indexer; searchable after the next commit).
    pub lines_indexed: AtomicU64,
    pub bytes_ingested: AtomicU64,
    pub truncated_lines: AtomicU64,
    pub commits: AtomicU64,
    pub commit_errors: AtomicU64,
    pub docker_reconnects: AtomicU64,
    /// The engine answered the last call (events stream or list).
    pub docker_up: AtomicBool,
    /// The last commit succeeded.
    pub index_ok: AtomicBool,
    /// From a line's Docker timestamp to its publication (the sequencer).
    pub read_delay: Histogram,
}

impl Metrics {
    pub fn new() -> Metrics {
        let metrics = Metrics::default();
        metrics.index_ok.store(true, Ordering::Relaxed);
        metrics
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Upper bounds, in seconds, of the [`Histogram`] buckets (+Inf follows).
pub const DELAY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A Prometheus histogram of delays over [`DELAY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket, not cumulative; the last one is +Inf.
    buckets: [AtomicU64; DELAY_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records a batch of delays in ns (negative ones, from clock skew, as 0):
    /// counted locally first, so a batch costs a few atomics, not three per value.
    pub fn observe_ns(&self, delays: impl IntoIterator<Item = i64>) {
        let mut local = [0u64; DELAY_BUCKETS.len() + 1];
        let (mut count, mut sum) = (0u64, 0u64);
        for ns in delays {
            let ns = ns.max(0);
            let secs = ns as f64 / 1e9;
            let bucket = DELAY_BUCKETS
                .iter()
                .position(|&bound| secs <= bound)
                .unwrap_or(DELAY_BUCKETS.len());
            local[bucket] += 1;
            count += 1;
            sum = sum.saturating_add(ns as u64);
        }
        for (bucket, n) in self.buckets.iter().zip(local) {
            if n > 0 {
                bucket.fetch_add(n, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(count, Ordering::Relaxed);
        self.sum_ns.fetch_add(sum, Ordering::Relaxed);
    }

    /// The histogram in Prometheus text format.
    pub fn render(&self, name: &str, help: &str) -> String {
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = DELAY_BUCKETS
                .get(i)
                .map_or("+Inf".to_string(), |bound| bound.to_string());
            out.push_str(&format!("{name}_bucket{{le=\"{le}\"}} {cumulative}\n"));
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        out.push_str(&format!("{name}_sum {sum}\n"));
        out.push_str(&format!(
            "{name}_count {}\n",
            self.count.load(Ordering::Relaxed)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let h = Histogram::default();
        h.observe_ns([500_000, 3_000_000, 3_000_000, -5, 20_000_000_000]);
        let text = h.render("d", "Delay.");
        assert!(text.contains("# TYPE d histogram\n"), "{text}");
        // -5 ns counts as 0, in the first bucket with the 0.5 ms one.
        assert!(text.contains("d_bucket{le=\"0.001\"} 2\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"0.0025\"} 2\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"0.005\"} 4\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"10\"} 4\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"+Inf\"} 5\n"), "{text}");
        assert!(text.contains("d_count 5\n"), "{text}");
        assert!(text.contains("d_sum 20.0065\n"), "{text}");
    }
}

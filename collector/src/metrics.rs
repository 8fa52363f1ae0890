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

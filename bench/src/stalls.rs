//! Ingest stalls seen from outside: `/metrics` sampled every 100 ms during a live
//! run, to show when `wakeline_lines_ingested_total` stops moving and whether a
//! commit (`wakeline_index_commits_total`) finishes during each pause.
//!
//! Live latency is the sum of everything between Docker and the socket; a pause
//! in ingest delays every record behind it. Sampling the collector's own counters
//! tells a pause in the pipeline (records are neither indexed nor published) from
//! a slow WebSocket, without changing the collector. The same samples give the
//! largest backlog between reading and indexing (ingested − indexed): when the
//! indexer's bounded queue is full, its backpressure slows the readers, and
//! the live feed with them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wakeline_e2e::{Collector, metric};

/// Time between two samples.
const EVERY: Duration = Duration::from_millis(100);
/// A flat stretch at least this long counts as a stall.
const STALL: Duration = Duration::from_millis(300);

/// One `/metrics` reading.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    lines: u64,
    indexed: u64,
    commits: u64,
}

/// What the samples showed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stalls {
    pub count: usize,
    pub longest: Duration,
    /// Stalls during which a commit finished (the counter went up before ingest resumed).
    pub with_commit: usize,
    pub samples: usize,
    /// Most lines read but not yet indexed at one sample.
    pub peak_backlog: u64,
}

fn read(collector: &Collector, started: Instant) -> Option<Sample> {
    let body = collector.request("/metrics", None).body;
    Some(Sample {
        at: started.elapsed(),
        lines: metric(&body, "wakeline_lines_ingested_total")?,
        indexed: metric(&body, "wakeline_lines_indexed_total")?,
        commits: metric(&body, "wakeline_index_commits_total")?,
    })
}

/// Samples until `stop` is set (or `limit` passes), then analyses the samples.
pub fn watch(collector: &Collector, stop: &AtomicBool, limit: Duration) -> Stalls {
    let started = Instant::now();
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
        let next = Instant::now() + EVERY;
        if let Some(sample) = read(collector, started) {
            samples.push(sample);
        }
        // Pacing between samples, not a wait for a condition.
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    analyse(&samples)
}

fn analyse(samples: &[Sample]) -> Stalls {
    let mut stalls = Stalls {
        samples: samples.len(),
        peak_backlog: samples
            .iter()
            .map(|s| s.lines.saturating_sub(s.indexed))
            .max()
            .unwrap_or(0),
        ..Stalls::default()
    };
    // The sample where the current flat stretch began (the last change seen).
    let mut moved_at: Option<&Sample> = None;
    for pair in samples.windows(2) {
        let (before, now) = (&pair[0], &pair[1]);
        if now.lines == before.lines {
            continue;
        }
        if let Some(since) = moved_at {
            let flat = before.at.saturating_sub(since.at);
            if flat >= STALL {
                stalls.count += 1;
                stalls.longest = stalls.longest.max(flat);
                if now.commits > since.commits {
                    stalls.with_commit += 1;
                }
            }
        }
        moved_at = Some(now);
    }
    stalls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: u64, lines: u64, commits: u64) -> Sample {
        Sample {
            at: Duration::from_millis(ms),
            lines,
            indexed: lines.saturating_sub(commits * 5),
            commits,
        }
    }

    #[test]
    fn a_flat_stretch_with_a_commit_in_it_is_counted() {
        let samples = [
            s(0, 0, 0),
            s(100, 10, 0),
            s(200, 10, 0),
            s(300, 10, 0),
            s(400, 10, 0),
            s(500, 10, 1),
            s(600, 30, 1),
            s(700, 40, 1),
            s(800, 40, 1),
            s(900, 50, 1),
        ];
        let stalls = analyse(&samples);
        assert_eq!(stalls.count, 1);
        assert_eq!(stalls.longest, Duration::from_millis(400));
        assert_eq!(stalls.with_commit, 1);
        assert_eq!(stalls.peak_backlog, 5);
    }
}

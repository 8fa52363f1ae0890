//! Retention: the index kept within an age (`--retention`, 7 days by
//! default) and a size on disk (`--max-disk`, a tenth of the data dir's
//! filesystem by default), the oldest records deleted first.
//!
//! The indexer thread runs a pass every [`Retention::period`]: it measures
//! the data dir, reads each segment's size and time range, and picks one
//! cutoff — records stamped before it go. Over the size, whole segments go
//! oldest first (by their newest record) until the index would be back under
//! nine tenths of the limit; past a segment that needs only part deleted,
//! the cutoff is placed inside its time range in proportion. The deletion
//! is one `delete_query` queued with the records being added, so ingest and
//! live clients never wait for it; the next commit makes it durable, empty
//! segments drop at once, and segments left mostly deleted are merged away
//! by the merge policy (see `writer`).

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tantivy::collector::Count;
use tantivy::index::SegmentId;
use tantivy::query::{Query, RangeQuery};
use tantivy::{IndexWriter, Order, Searcher, Term};

use super::LogIndex;
use super::blocks::{Segments, TsRange};
use super::schema::name;
use super::search::edge_ts;
use crate::metrics::Metrics;
use crate::timefmt::now_ns;

/// The limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Records older than this go (`None`: kept whatever their age).
    pub max_age: Option<Duration>,
    /// The data dir is kept under this (`None`: no limit).
    pub max_bytes: Option<u64>,
}

/// What a pass needs to know of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStat {
    /// Its files on disk, deleted records included.
    pub bytes: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    /// Records stored in it, and of those not deleted: deleted records keep
    /// their bytes until a merge rewrites the segment.
    pub docs: u32,
    pub live: u32,
}

impl SegmentStat {
    /// The share of its records still live (1.0 for an empty one).
    fn live_share(&self) -> f64 {
        if self.docs == 0 {
            1.0
        } else {
            f64::from(self.live) / f64::from(self.docs)
        }
    }

    /// The bytes its live records take: what deleting them can free.
    fn live_bytes(&self) -> u64 {
        (self.bytes as f64 * self.live_share()).round() as u64
    }

    /// The oldest live record's timestamp, as far as the segment tells:
    /// retention deletes oldest first, so its deleted records are the first
    /// part of its time range.
    fn live_min_ts(&self) -> i64 {
        let span = self.max_ts.saturating_sub(self.min_ts) as f64;
        self.min_ts
            .saturating_add((span * (1.0 - self.live_share())).floor() as i64)
    }
}

/// What a pass decided and saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Records stamped before this are to be deleted.
    pub cutoff: Option<i64>,
    /// Records the cutoff deletes.
    pub deleted: u64,
    /// The data dir's size on disk, in bytes.
    pub bytes: u64,
    /// The oldest record kept (0: none).
    pub oldest_ts: i64,
}

impl Retention {
    /// How often a pass runs: a quarter of the age limit, between 1 s and
    /// 10 s (a pass lists the data dir and reads each segment's time range:
    /// cheap).
    pub fn period(&self) -> Duration {
        self.max_age
            .map_or(Duration::from_secs(10), |age| age / 4)
            .clamp(Duration::from_secs(1), Duration::from_secs(10))
    }

    /// Whether there is anything to enforce.
    pub fn enabled(&self) -> bool {
        self.max_age.is_some() || self.max_bytes.is_some()
    }

    /// The cutoff for a data dir of `bytes` on disk whose searchable
    /// `segments` (any order) are those given, at `now_ns`; `None` when
    /// nothing must go.
    ///
    /// Over the size limit, the live records of the searchable segments are
    /// brought back under nine tenths of it. Deleted records' bytes are not
    /// counted (deleting more cannot free them: [`Retainer`] has their
    /// segments merged), and neither is the rest of the data dir (segments
    /// being written or merged, files a merge left for deletion, which
    /// [`Retainer`] has collected): they never make committed records go,
    /// else a burst of writes could empty the index.
    pub fn cutoff(&self, now_ns: i64, bytes: u64, segments: &[SegmentStat]) -> Option<i64> {
        let by_age = self
            .max_age
            .map(|age| now_ns.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX)));
        let excess = self.excess(bytes, segments);
        let by_size = (excess > 0)
            .then(|| size_cutoff(excess, segments))
            .flatten();
        by_age.into_iter().chain(by_size).max()
    }

    /// The bytes of live records to delete: 0 unless the data dir is over
    /// the limit and its live records over nine tenths of it.
    fn excess(&self, bytes: u64, segments: &[SegmentStat]) -> u64 {
        self.max_bytes.filter(|max| bytes > *max).map_or(0, |max| {
            let held: u64 = segments.iter().map(SegmentStat::live_bytes).sum();
            held.saturating_sub(max / 10 * 9)
        })
    }
}

/// The cutoff that frees at least `excess` bytes of live records, oldest
/// segments first.
fn size_cutoff(excess: u64, segments: &[SegmentStat]) -> Option<i64> {
    let mut by_age: Vec<&SegmentStat> = segments.iter().filter(|s| s.live > 0).collect();
    by_age.sort_by_key(|s| (s.max_ts, s.min_ts));
    let mut freed = 0u64;
    for segment in by_age {
        let live = segment.live_bytes();
        if freed + live <= excess {
            freed += live;
            if freed == excess {
                return Some(segment.max_ts.saturating_add(1));
            }
            continue;
        }
        // Only part of this one: as far into its live time range as the
        // bytes still needed are into its live bytes.
        let share = (excess - freed) as f64 / live.max(1) as f64;
        let from = segment.live_min_ts();
        let span = segment.max_ts.saturating_sub(from) as f64;
        return Some(from.saturating_add((span * share).ceil() as i64 + 1));
    }
    // Everything: the newest record goes too.
    segments.iter().map(|s| s.max_ts.saturating_add(1)).max()
}

/// The bytes of every file under `dir` (the index and its payload).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Each searchable segment's ID, size, time range and records.
pub fn segment_stats(dir: &Path, searcher: &Searcher) -> Vec<(SegmentId, SegmentStat)> {
    searcher
        .segment_readers()
        .iter()
        .filter_map(|reader| {
            let ts = reader.fast_fields().i64(name::TS).ok()?;
            let bytes = files_of_segment(dir, &reader.segment_id().uuid_string());
            Some((
                reader.segment_id(),
                SegmentStat {
                    bytes,
                    min_ts: ts.min_value(),
                    max_ts: ts.max_value(),
                    docs: reader.max_doc(),
                    live: reader.num_docs(),
                },
            ))
        })
        .collect()
}

/// The bytes of one segment's files (`<uuid>.<ext>` in the index dir).
fn files_of_segment(dir: &Path, id: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(id))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// The indexer thread's retention: the limits, the data dir, and when the
/// last pass ran.
#[derive(Debug)]
pub struct Retainer {
    pub retention: Retention,
    pub data_dir: PathBuf,
    last_pass: Option<Instant>,
    /// The last pass found the data dir near its size limit: passes then
    /// run every second, so a burst of lines cannot overshoot it for long.
    pressing: bool,
    /// Segments holding deleted records' bytes that the last pass wants
    /// merged (the indexer asks tantivy, which needs its writer mutably).
    merge: Vec<SegmentId>,
}

impl Retainer {
    pub fn new(retention: Retention, data_dir: PathBuf) -> Retainer {
        Retainer {
            retention,
            data_dir,
            last_pass: None,
            pressing: false,
            merge: Vec::new(),
        }
    }

    /// The segments the last pass found worth merging (at most once).
    pub fn take_merge(&mut self) -> Vec<SegmentId> {
        std::mem::take(&mut self.merge)
    }

    /// Runs a pass when one is due; true when it queued a deletion.
    pub fn maybe_pass(
        &mut self,
        index: &LogIndex,
        writer: &IndexWriter,
        metrics: &Metrics,
    ) -> bool {
        if !self.retention.enabled() {
            return false;
        }
        let period = if self.pressing {
            Duration::from_secs(1)
        } else {
            self.retention.period()
        };
        if self.last_pass.is_some_and(|last| last.elapsed() < period) {
            return false;
        }
        self.last_pass = Some(Instant::now());
        let outcome = pass(index, &self.data_dir, &self.retention, writer, metrics);
        self.pressing = self
            .retention
            .max_bytes
            .is_some_and(|max| outcome.bytes > max / 10 * 9);
        if self.pressing {
            // What the data dir holds beyond the live records must not keep
            // it over the limit once writes stop: files merges left behind
            // go at tantivy's next collection (it runs after a commit or a
            // merge, and skips a round if a reader is reloading), so one is
            // asked for here; deleted records' bytes go when their segment
            // is merged (tantivy's policy waits for a third deleted).
            if outcome.bytes > outcome.segment_bytes {
                drop(writer.garbage_collect_files());
            }
            let max = self.retention.max_bytes.unwrap_or(u64::MAX);
            if outcome.segment_bytes > max {
                self.merge = worth_merging(outcome.wasteful, outcome.segment_bytes - max / 10 * 9);
            }
        }
        outcome.queued
    }
}

/// What one pass did and saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// A deletion was queued.
    pub queued: bool,
    /// The data dir's size on disk.
    pub bytes: u64,
    /// The searchable segments' files, deleted records included.
    pub segment_bytes: u64,
    /// Segments holding deleted records, with those records' bytes.
    pub wasteful: Vec<(SegmentId, u64)>,
}

/// The segments to merge to give back `needed` bytes of deleted records,
/// most wasteful first: rewriting a segment costs its live bytes, so no more
/// are merged than needed.
fn worth_merging(mut wasteful: Vec<(SegmentId, u64)>, needed: u64) -> Vec<SegmentId> {
    wasteful.sort_by_key(|(_, waste)| std::cmp::Reverse(*waste));
    let mut freed = 0u64;
    wasteful
        .into_iter()
        .take_while(|(_, waste)| {
            let more = freed < needed;
            freed += waste;
            more
        })
        .map(|(id, _)| id)
        .collect()
}

/// One pass: measures, decides and queues the deletion with the records
/// being added (durable at the next commit). Updates the size, oldest-record
/// and deleted-records metrics.
pub fn pass(
    index: &LogIndex,
    dir: &Path,
    retention: &Retention,
    writer: &IndexWriter,
    metrics: &Metrics,
) -> Outcome {
    let searcher = index.searcher();
    let bytes = dir_bytes(dir);
    metrics.index_bytes.store(bytes, Ordering::Relaxed);
    let segments = segment_stats(dir, &searcher);
    let stats: Vec<SegmentStat> = segments.iter().map(|(_, s)| *s).collect();
    let mut outcome = Outcome {
        bytes,
        segment_bytes: stats.iter().map(|s| s.bytes).sum(),
        wasteful: segments
            .iter()
            .filter(|(_, s)| s.live < s.docs)
            .map(|(id, s)| (*id, s.bytes - s.live_bytes()))
            .collect(),
        ..Outcome::default()
    };
    let ts = index.fields().ts;
    let mut cutoff = retention.cutoff(now_ns(), bytes, &stats);
    if let Some(at) = cutoff.as_mut() {
        let mut n = count(&searcher, before(ts, *at).as_ref());
        if n == 0 && retention.excess(bytes, &stats) > 0 {
            // The size estimate fell among deleted records (the live part
            // of a segment's time range is a guess): the oldest live
            // records go at least, so passes make progress while over.
            let oldest = oldest_ts(&searcher, index.segments(), i64::MIN);
            if oldest != 0 {
                *at = (*at).max(oldest.saturating_add(1));
                n = count(&searcher, before(ts, *at).as_ref());
            }
        }
        if n > 0 {
            match writer.delete_query(before(ts, *at)) {
                Ok(_) => {
                    outcome.queued = true;
                    Metrics::add(&metrics.retention_deleted, n);
                    tracing::info!(
                        records = n,
                        before = %crate::timefmt::format_rfc3339_ns(*at),
                        data_dir_bytes = bytes,
                        "deleting the oldest records (--retention, --max-disk)"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "cannot delete old records; will retry"),
            }
        }
    }
    let oldest = oldest_ts(&searcher, index.segments(), cutoff.unwrap_or(i64::MIN));
    metrics
        .oldest_record_ns
        .store(u64::try_from(oldest).unwrap_or(0), Ordering::Relaxed);
    outcome
}

/// Records stamped before `cutoff`.
pub fn before(ts_field: tantivy::schema::Field, cutoff: i64) -> Box<dyn Query> {
    Box::new(RangeQuery::new(
        Bound::Unbounded,
        Bound::Excluded(Term::from_field_i64(ts_field, cutoff)),
    ))
}

/// How many records `query` matches.
pub fn count(searcher: &Searcher, query: &dyn Query) -> u64 {
    searcher.search(query, &Count).map_or(0, |n| n as u64)
}

/// The timestamp of the oldest record stamped at or after `from` (0 when
/// there is none), read from the oldest segments only (a sort of every
/// record took 87 ms at 10 M, on the indexer thread at every pass).
pub fn oldest_ts(searcher: &Searcher, segments: &Arc<Segments>, from: i64) -> i64 {
    let query = TsRange::new(from..=i64::MAX, segments.clone());
    edge_ts(searcher, segments, &query, Order::Asc)
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// The timestamp of the oldest live (undeleted) record: `Ok(None)` when the
/// index holds none. An error is not "none": nothing may be pruned on it.
pub fn oldest_live_ts(
    searcher: &Searcher,
    segments: &Arc<Segments>,
) -> Result<Option<i64>, super::search::SearchError> {
    let query = TsRange::new(i64::MIN..=i64::MAX, segments.clone());
    edge_ts(searcher, segments, &query, Order::Asc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn seg(bytes: u64, min_ts: i64, max_ts: i64) -> SegmentStat {
        SegmentStat {
            bytes,
            min_ts,
            max_ts,
            docs: 100,
            live: 100,
        }
    }

    #[test]
    fn age_alone_cuts_at_now_minus_the_age() {
        let r = Retention {
            max_age: Some(Duration::from_secs(10)),
            max_bytes: None,
        };
        assert_eq!(r.cutoff(100 * S, 1 << 30, &[]), Some(90 * S));
        assert_eq!(r.period(), Duration::from_millis(2500));
        let none = Retention {
            max_age: None,
            max_bytes: None,
        };
        assert!(!none.enabled());
        assert_eq!(none.cutoff(100 * S, 1 << 30, &[]), None);
        assert_eq!(none.period(), Duration::from_secs(10));
    }

    #[test]
    fn over_the_size_whole_old_segments_go_first() {
        let r = Retention {
            max_age: None,
            max_bytes: Some(1000),
        };
        // The data dir is its segments.
        let cut = |segments: &[SegmentStat]| {
            let bytes = segments.iter().map(|s| s.bytes).sum();
            r.cutoff(0, bytes, segments)
        };
        // Under the limit: nothing.
        assert_eq!(cut(&[seg(400, 30, 40), seg(500, 10, 20)]), None);
        // 1,200 bytes: 300 must go to be back under 900; the oldest segment
        // (10..20, 500 bytes) goes only in part, 300/500 of its range.
        let s = [seg(400, 30, 40), seg(500, 10, 20), seg(300, 50, 60)];
        assert_eq!(cut(&s), Some(10 + 6 + 1));
        // 1,400: 500 must go, exactly the oldest segment.
        let s = [seg(600, 30, 40), seg(500, 10, 20), seg(300, 50, 60)];
        assert_eq!(cut(&s), Some(21));
        // 1,600: the oldest and part of the next.
        let s = [seg(800, 30, 40), seg(500, 10, 20), seg(300, 50, 60)];
        assert_eq!(cut(&s), Some(30 + 3 + 1));
    }

    #[test]
    fn files_being_written_or_merged_never_make_records_go() {
        let r = Retention {
            max_age: None,
            max_bytes: Some(1000),
        };
        // 5,000 bytes in the dir, of which the searchable segments hold 800.
        assert_eq!(r.cutoff(0, 5000, &[seg(800, 0, 10)]), None);
        // They hold 1,000: back to 900.
        assert_eq!(r.cutoff(0, 5000, &[seg(1000, 0, 10)]), Some(2));
    }

    #[test]
    fn deleted_records_bytes_are_not_counted_as_what_a_deletion_frees() {
        let r = Retention {
            max_age: None,
            max_bytes: Some(1000),
        };
        // 1,200 bytes on disk, but the oldest segment (0..100) has 60 of
        // its 100 records deleted already: its live 40 % (200 bytes, 60..100)
        // plus 600 bytes is 800, under 900: nothing more goes (the merge
        // gives the 300 deleted bytes back).
        let half_gone = SegmentStat {
            docs: 100,
            live: 40,
            ..seg(500, 0, 100)
        };
        assert_eq!(r.cutoff(0, 1200, &[half_gone, seg(600, 101, 200)]), None);
        // 1,500 on disk, live 200 + 900 = 1,100: 200 must go, the whole live
        // part of the old segment, so the cut is past its newest record;
        // it was placed at 0 + 100 * 200/500 = 40 before, among records
        // already deleted, and deleted nothing.
        assert_eq!(
            r.cutoff(0, 1500, &[half_gone, seg(900, 101, 200)]),
            Some(101)
        );
        // 1,350, live 1,050: 150 of its live 200 bytes, 3/4 into 60..100.
        assert_eq!(
            r.cutoff(0, 1350, &[half_gone, seg(850, 101, 200)]),
            Some(60 + 30 + 1)
        );
    }

    #[test]
    fn merges_are_asked_for_the_most_wasteful_segments_first_and_no_more() {
        let ids: Vec<SegmentId> = (0..3).map(|_| SegmentId::generate_random()).collect();
        let wasteful = vec![(ids[0], 50), (ids[1], 300), (ids[2], 100)];
        assert_eq!(worth_merging(wasteful.clone(), 200), vec![ids[1]]);
        assert_eq!(worth_merging(wasteful.clone(), 301), vec![ids[1], ids[2]]);
        assert_eq!(
            worth_merging(wasteful, 10_000),
            vec![ids[1], ids[2], ids[0]]
        );
        assert!(worth_merging(Vec::new(), 10).is_empty());
    }

    #[test]
    fn the_later_of_the_two_cutoffs_wins() {
        let r = Retention {
            max_age: Some(Duration::from_nanos(50)),
            max_bytes: Some(1000),
        };
        let segments = [seg(800, 0, 10), seg(800, 11, 100)];
        assert_eq!(
            r.cutoff(100, 1600, &segments),
            Some(50),
            "age: 50, size: 10"
        );
        let segments = [seg(800, 0, 60), seg(800, 61, 100)];
        assert_eq!(
            r.cutoff(100, 1600, &segments),
            Some(54),
            "age: 50, size: 54"
        );
    }

    #[test]
    fn the_oldest_live_record_is_found_past_deleted_ones() {
        use crate::index::testing::{index_with, record};
        let records: Vec<_> = (1..=50)
            .map(|i| record(i, i as i64 * S, "web", "x"))
            .collect();
        let (_dir, index) = index_with(&records);
        let oldest = || oldest_live_ts(&index.searcher(), index.segments()).unwrap();
        assert_eq!(oldest(), Some(S));
        // Deleted as a retention pass deletes, in the same segment as the
        // records kept.
        let mut writer: IndexWriter = index
            .tantivy()
            .writer_with_num_threads(1, 15_000_000)
            .unwrap();
        writer
            .delete_query(before(index.fields().ts, 20 * S))
            .unwrap();
        writer.commit().unwrap();
        index.reload().unwrap();
        assert_eq!(oldest(), Some(20 * S));
        writer
            .delete_query(before(index.fields().ts, i64::MAX))
            .unwrap();
        writer.commit().unwrap();
        index.reload().unwrap();
        assert_eq!(oldest(), None, "none left");
    }

    #[test]
    fn a_real_index_reports_its_segments_and_oldest_record() {
        use crate::index::testing::{index_with, record};
        let records: Vec<_> = (1..=50)
            .map(|i| record(i, i as i64 * S, "web", "x"))
            .collect();
        let (dir, index) = index_with(&records);
        let searcher = index.searcher();
        let stats: Vec<SegmentStat> = segment_stats(dir.path(), &searcher)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(stats.len(), 1, "{stats:?}");
        assert_eq!((stats[0].docs, stats[0].live), (50, 50));
        assert!(stats[0].bytes > 0, "{stats:?}");
        assert_eq!((stats[0].min_ts, stats[0].max_ts), (S, 50 * S));
        assert!(dir_bytes(dir.path()) >= stats[0].bytes);
        assert_eq!(oldest_ts(&searcher, index.segments(), i64::MIN), S);
        assert_eq!(oldest_ts(&searcher, index.segments(), 10 * S), 10 * S);
        assert_eq!(
            count(&searcher, before(index.fields().ts, 10 * S).as_ref()),
            9
        );
    }
}

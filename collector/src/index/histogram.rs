//! Matching lines over time, counted by level: what the UI's volume chart
//! draws. It is counted from the fast fields `ts` and `level`, so no record
//! is read from the store: per segment, one pass over the matching
//! documents' two columns, or, when only time is asked (the chart of
//! everything, or of a range), the block summaries' level counts (see
//! `blocks`), read document by document only where a block straddles a
//! bar's edge. tantivy's own aggregations did the same pass at 174 ms for
//! 10 M records; the summaries make it a few ms once computed.
//!
//! The bucket width is a "nice" interval (1 s, 5 m, 1 h …) chosen so that
//! the range fits in at most the number of buckets asked for, and buckets
//! start on multiples of it, so that a chart's bars line up with round times.

use std::collections::BTreeMap;

use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{EnableScoring, Query, Weight};
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocId, Order, SegmentReader};

use super::LogIndex;
use super::blocks::BLOCK;
use super::schema::name;
use super::search::{SearchError, edge_ts};
use crate::query::SearchParams;

/// Most buckets one call may ask for.
pub const MAX_BUCKETS: usize = 500;
/// The key under which lines without a level are counted.
pub const NO_LEVEL: &str = "none";

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000 * MS;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Bucket widths a chart reads easily, smallest first.
const NICE: [i64; 29] = [
    MS,
    2 * MS,
    5 * MS,
    10 * MS,
    20 * MS,
    50 * MS,
    100 * MS,
    200 * MS,
    500 * MS,
    SEC,
    2 * SEC,
    5 * SEC,
    10 * SEC,
    15 * SEC,
    30 * SEC,
    MIN,
    2 * MIN,
    5 * MIN,
    10 * MIN,
    15 * MIN,
    30 * MIN,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
];

/// One bar: `[start_ns, end_ns)` and its lines per level.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start_ns: i64,
    pub end_ns: i64,
    pub counts: BTreeMap<String, u64>,
}

/// The chart's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<Bucket>,
    pub total: u64,
    pub interval_ns: i64,
}

/// The smallest nice width that covers `span_ns` in at most `buckets` bars.
pub fn nice_interval(span_ns: i64, buckets: usize) -> i64 {
    let buckets = buckets.clamp(1, MAX_BUCKETS) as i64;
    // Saturating: a range of centuries spans more than an i64 of ns.
    let needed = span_ns.max(1).saturating_add(buckets - 1) / buckets;
    if let Some(nice) = NICE.iter().copied().find(|&w| w >= needed) {
        return nice;
    }
    // Beyond a week a bar: whole weeks.
    let week = 7 * DAY;
    (needed / week + i64::from(needed % week != 0)).saturating_mul(week)
}

impl LogIndex {
    /// Counts the records matching `p` (its `since`/`until` give the range;
    /// without them, the matching records' own first and last timestamps,
    /// and `until` defaults to `now_ns` when only `since` is given) in at
    /// most `buckets` bars.
    pub fn histogram(
        &self,
        p: &SearchParams,
        buckets: usize,
        now_ns: i64,
    ) -> Result<Histogram, SearchError> {
        let searcher = self.searcher();
        let query = self.filters(p)?;
        let (low, high) = match (p.since_ns, p.until_ns) {
            (Some(since), Some(until)) => (since, until),
            (Some(since), None) => {
                let high = now_ns.max(since);
                // A line stamped after now (a container's clock ahead) gets
                // its bar too.
                let beyond = searcher.segment_readers().iter().any(|segment| {
                    self.segments()
                        .columns(segment)
                        .is_ok_and(|columns| columns.ts.max_value() > high)
                });
                let last = if beyond {
                    edge_ts(&searcher, self.segments(), query.as_ref(), Order::Desc)?
                } else {
                    None
                };
                (since, last.map_or(high, |last| last.max(high)))
            }
            (since, until) => match self.ts_range(&searcher, query.as_ref())? {
                Some((first, last)) => (since.unwrap_or(first), until.unwrap_or(last)),
                None => {
                    return Ok(Histogram {
                        buckets: Vec::new(),
                        total: 0,
                        interval_ns: nice_interval(0, buckets),
                    });
                }
            },
        };
        if low > high {
            return Ok(Histogram {
                buckets: Vec::new(),
                total: 0,
                interval_ns: nice_interval(0, buckets),
            });
        }
        let interval = nice_interval(high.saturating_sub(low).saturating_add(1), buckets);
        let bars = Bars {
            low,
            high,
            // Saturating: a `since` centuries back may put the first bar's
            // start below the first i64 (its index arithmetic is in i128).
            start: low.div_euclid(interval).saturating_mul(interval),
            interval,
            count: (high.div_euclid(interval) - low.div_euclid(interval)) as usize + 1,
        };
        let weight = query.weight(EnableScoring::disabled_from_searcher(&searcher))?;
        let mut per_level: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); bars.count];
        for segment in searcher.segment_readers() {
            let counted = if time_only(p) && segment.alive_bitset().is_none() {
                self.count_by_blocks(segment, &bars)?
            } else {
                None
            };
            let counted = match counted {
                Some(counted) => counted,
                None => {
                    let ts = self.segments().columns(segment)?.ts.clone();
                    count_matches(weight.as_ref(), segment, ts, &bars)?
                }
            };
            counted.add_to(&mut per_level)?;
        }
        let mut histogram = Histogram {
            buckets: Vec::with_capacity(bars.count),
            total: 0,
            interval_ns: interval,
        };
        for (i, counts) in per_level.into_iter().enumerate() {
            histogram.total += counts.values().sum::<u64>();
            let start_ns = i128::from(bars.start) + i as i128 * i128::from(interval);
            let start_ns = i64::try_from(start_ns).unwrap_or(i64::MAX);
            histogram.buckets.push(Bucket {
                start_ns,
                end_ns: start_ns.saturating_add(interval),
                counts,
            });
        }
        Ok(histogram)
    }

    /// A segment's bars from its block summary: a block that lies in one
    /// bar adds its level counts at once; only blocks across a bar's edge or
    /// the range's are read document by document. `None` when the summary
    /// has no level counts.
    fn count_by_blocks<'a>(
        &self,
        segment: &SegmentReader,
        bars: &'a Bars,
    ) -> Result<Option<Counted<'a>>, SearchError> {
        let summary = self.segments().summary(segment)?;
        let Some(levels) = summary.levels() else {
            return Ok(None);
        };
        let ts = self.segments().columns(segment)?.ts.clone();
        let mut counted = Counted::new(segment, ts, bars)?;
        if counted.width != levels.width {
            return Ok(None);
        }
        let mut docs = Vec::with_capacity(BLOCK as usize);
        for (block, &(min, max)) in summary.spans().iter().enumerate() {
            if max < bars.low || min > bars.high {
                continue;
            }
            if bars.low <= min && max <= bars.high && bars.index(min) == bars.index(max) {
                let row = bars.index(min) * counted.width;
                for (count, &add) in counted.counts[row..row + counted.width]
                    .iter_mut()
                    .zip(levels.block(block))
                {
                    *count += u64::from(add);
                }
                continue;
            }
            docs.clear();
            docs.extend(summary.docs(block));
            for chunk in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
                counted.add(chunk);
            }
        }
        Ok(Some(counted))
    }

    /// The first and last timestamps among the records `query` matches:
    /// the oldest and newest hit, each from the segments that can hold it
    /// (a min/max aggregation read every match: 12 % of a chart of 10 M).
    fn ts_range(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
    ) -> Result<Option<(i64, i64)>, SearchError> {
        let first = edge_ts(searcher, self.segments(), query, Order::Asc)?;
        let last = edge_ts(searcher, self.segments(), query, Order::Desc)?;
        Ok(first.zip(last))
    }
}

/// Whether `p` filters on time alone (or not at all): then every document
/// of a block in range matches, and its summary's counts are the bar's.
fn time_only(p: &SearchParams) -> bool {
    p.q.as_deref().is_none_or(|q| q.trim().is_empty())
        && p.request_id.is_none()
        && p.container.is_empty()
        && p.service.is_empty()
        && p.level.is_empty()
        && p.stream.is_empty()
        && p.max_seq.is_none()
        && p.after_seq.is_none()
}

/// The bars: `count` of `interval` from `start`, counting `low..=high`.
struct Bars {
    low: i64,
    high: i64,
    start: i64,
    interval: i64,
    count: usize,
}

impl Bars {
    /// The bar of a timestamp in `low..=high` (in i128: a range of
    /// centuries spans more nanoseconds than an i64 holds).
    fn index(&self, ts: i64) -> usize {
        ((i128::from(ts) - i128::from(self.start)) / i128::from(self.interval)) as usize
    }
}

/// One segment's counts per bar and level ordinal (the last: no level).
struct Counted<'a> {
    bars: &'a Bars,
    ts: Column<i64>,
    level: Option<StrColumn>,
    width: usize,
    counts: Vec<u64>,
    ts_values: Vec<Option<i64>>,
    ords: Vec<Option<u64>>,
}

impl<'a> Counted<'a> {
    fn new(
        segment: &SegmentReader,
        ts: Column<i64>,
        bars: &'a Bars,
    ) -> tantivy::Result<Counted<'a>> {
        let level = segment.fast_fields().str(name::LEVEL)?;
        let width = level.as_ref().map_or(0, |l| l.num_terms()) + 1;
        Ok(Counted {
            bars,
            ts,
            level,
            width,
            counts: vec![0; bars.count * width],
            ts_values: vec![None; COLLECT_BLOCK_BUFFER_LEN],
            ords: vec![None; COLLECT_BLOCK_BUFFER_LEN],
        })
    }

    /// Counts the documents `docs` (at most a collector block of them).
    fn add(&mut self, docs: &[DocId]) {
        let ts = &mut self.ts_values[..docs.len()];
        ts.fill(None);
        self.ts.first_vals(docs, ts);
        let ords = &mut self.ords[..docs.len()];
        ords.fill(None);
        if let Some(level) = &self.level {
            level.ords().first_vals(docs, ords);
        }
        let none = self.width - 1;
        for (ts, ord) in ts.iter().zip(ords.iter()) {
            let Some(ts) = *ts else { continue };
            if ts < self.bars.low || ts > self.bars.high {
                continue;
            }
            let ord = ord.map_or(none, |o| (o as usize).min(none));
            self.counts[self.bars.index(ts) * self.width + ord] += 1;
        }
    }

    /// Adds these counts to the bars', by level name.
    fn add_to(&self, bars: &mut [BTreeMap<String, u64>]) -> tantivy::Result<()> {
        let mut names = Vec::with_capacity(self.width);
        for ord in 0..self.width - 1 {
            let mut name = String::new();
            if let Some(level) = &self.level {
                level.ord_to_str(ord as u64, &mut name)?;
            }
            names.push(name);
        }
        names.push(NO_LEVEL.to_owned());
        for (bar, row) in bars.iter_mut().zip(self.counts.chunks(self.width)) {
            for (name, &count) in names.iter().zip(row) {
                if count > 0 {
                    *bar.entry(name.clone()).or_insert(0) += count;
                }
            }
        }
        Ok(())
    }
}

/// A segment's bars from the documents `weight` matches, read one by one.
fn count_matches<'a>(
    weight: &dyn Weight,
    segment: &SegmentReader,
    ts: Column<i64>,
    bars: &'a Bars,
) -> tantivy::Result<Counted<'a>> {
    let mut counted = Counted::new(segment, ts, bars)?;
    let alive = segment.alive_bitset();
    let mut kept = Vec::with_capacity(COLLECT_BLOCK_BUFFER_LEN);
    weight.for_each_no_score(segment, &mut |docs| match alive {
        None => counted.add(docs),
        Some(alive) => {
            kept.clear();
            kept.extend(docs.iter().copied().filter(|&doc| alive.is_alive(doc)));
            counted.add(&kept);
        }
    })?;
    Ok(counted)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{index_with, record};
    use super::*;

    #[test]
    fn intervals_are_nice_and_cover_the_span() {
        assert_eq!(nice_interval(60 * SEC, 60), SEC);
        assert_eq!(nice_interval(61 * SEC, 60), 2 * SEC);
        assert_eq!(nice_interval(HOUR, 60), MIN);
        assert_eq!(nice_interval(24 * HOUR, 60), 30 * MIN);
        assert_eq!(nice_interval(0, 60), MS);
        assert_eq!(nice_interval(365 * DAY, 10), 6 * 7 * DAY);
    }

    #[test]
    fn lines_are_counted_per_bucket_and_level() {
        let base = 1_700_000_040 * SEC; // a whole minute
        let records = vec![
            record(1, base, "web", "ERROR boom"),
            record(2, base + 100 * MS, "web", "INFO fine"),
            record(3, base + 5 * SEC, "api", "INFO fine"),
            record(4, base + 59 * SEC, "api", "no level here"),
        ];
        let (_dir, index) = index_with(&records);
        let h = index
            .histogram(&SearchParams::default(), 60, base + 120 * SEC)
            .unwrap();
        assert_eq!(h.interval_ns, SEC);
        assert_eq!(h.total, 4);
        assert_eq!(h.buckets.len(), 60);
        let first = &h.buckets[0];
        assert_eq!(first.start_ns, base);
        assert_eq!(first.counts.get("error"), Some(&1));
        assert_eq!(first.counts.get("info"), Some(&1));
        assert_eq!(h.buckets[5].counts.get("info"), Some(&1));
        assert_eq!(h.buckets[59].counts.get(NO_LEVEL), Some(&1));
        let sum: u64 = h.buckets.iter().flat_map(|b| b.counts.values()).sum();
        assert_eq!(sum, 4);

        // Filters apply, and since/until give the range.
        let only_api = SearchParams {
            container: vec!["api".into()],
            since_ns: Some(base),
            until_ns: Some(base + 10 * MIN - 1),
            ..SearchParams::default()
        };
        let h = index.histogram(&only_api, 10, base).unwrap();
        assert_eq!(h.interval_ns, MIN);
        assert_eq!(h.total, 2);
        assert_eq!(h.buckets.len(), 10);
        assert_eq!(h.buckets[0].counts.values().sum::<u64>(), 2);
    }

    #[test]
    fn nothing_matching_is_an_empty_chart() {
        let (_dir, index) = index_with(&[record(1, 5 * SEC, "web", "x")]);
        let none = SearchParams {
            container: vec!["nope".into()],
            ..SearchParams::default()
        };
        let h = index.histogram(&none, 60, 10 * SEC).unwrap();
        assert_eq!(h.total, 0);
        assert!(h.buckets.is_empty());
    }

    /// The chart of many blocks, time only (block counts) or filtered
    /// (document by document), equals counting the records themselves.
    #[test]
    fn block_counts_and_document_counts_equal_the_records() {
        use super::super::testing::index_in_segments;
        use crate::record::{Level, Record};

        let levels = [
            Some(Level::Error),
            Some(Level::Info),
            None,
            Some(Level::Warn),
        ];
        let mut records: Vec<Record> = (0..5_000u64)
            .map(|i| {
                // Mostly in order, with a backlog read late in the middle.
                let ts = if (2_000..2_300).contains(&i) {
                    (i as i64 - 2_000) * 7 * SEC
                } else {
                    i as i64 * 3 * SEC + (i as i64 * 7919 % 5_000) * MS
                };
                let container = if i % 3 == 0 { "api" } else { "web" };
                let mut r = record(i + 1, ts, container, "a line");
                r.level = levels[(i % 4) as usize].clone();
                r
            })
            .collect();
        records.rotate_left(1_234);
        let (_dir, index) = index_in_segments(&[&records[..3_100], &records[3_100..]]);
        let cases = [
            (None, None, 120, vec![]),
            (Some(0), Some(15_000 * SEC), 50, vec![]),
            (Some(3_001 * SEC), Some(9_999 * SEC + 1), 7, vec![]),
            (Some(100 * SEC), None, 500, vec![]),
            (None, Some(600 * SEC), 33, vec![]),
            (None, None, 120, vec!["api".to_string()]),
            (
                Some(500 * SEC),
                Some(4_000 * SEC),
                60,
                vec!["web".to_string()],
            ),
        ];
        let now = 20_000 * SEC;
        for (since, until, buckets, container) in cases {
            let p = SearchParams {
                since_ns: since,
                until_ns: until,
                container: container.clone(),
                ..SearchParams::default()
            };
            let h = index.histogram(&p, buckets, now).unwrap();
            let matching: Vec<&Record> = records
                .iter()
                .filter(|r| since.is_none_or(|s| r.ts_ns >= s))
                .filter(|r| until.is_none_or(|u| r.ts_ns <= u))
                .filter(|r| container.is_empty() || container.contains(&r.container.name))
                .collect();
            assert_eq!(
                h.total as usize,
                matching.len(),
                "{since:?} {until:?} {container:?}"
            );
            let mut expected = vec![BTreeMap::<String, u64>::new(); h.buckets.len()];
            for r in matching {
                let bar = h
                    .buckets
                    .iter()
                    .position(|b| (b.start_ns..b.end_ns).contains(&r.ts_ns))
                    .expect("a bar for every record");
                let level = r.level.as_ref().map_or(NO_LEVEL, Level::as_str);
                *expected[bar].entry(level.to_string()).or_insert(0) += 1;
            }
            let got: Vec<_> = h.buckets.iter().map(|b| b.counts.clone()).collect();
            assert_eq!(got, expected, "{since:?} {until:?} {container:?}");
            assert!(h.buckets.len() <= buckets + 1);
            assert!(h.buckets.windows(2).all(|w| w[0].end_ns == w[1].start_ns));
        }
    }

    /// Ranges of centuries (a `since` of 1700, an `until` of 2261) count
    /// the records without overflowing the bars' arithmetic.
    #[test]
    fn ranges_of_centuries_are_counted() {
        let base = 1_700_000_040 * SEC;
        let records = vec![
            record(1, base, "web", "ERROR boom"),
            record(2, base + 100 * MS, "web", "INFO fine"),
        ];
        let (_dir, index) = index_with(&records);
        let far_past = crate::timefmt::parse_rfc3339_ns("1700-01-01T00:00:00Z").unwrap();
        let far_future = crate::timefmt::parse_rfc3339_ns("2261-12-31T23:59:59Z").unwrap();
        for (since, until) in [
            (Some(far_past), Some(far_future)),
            (Some(far_past), None),
            (None, Some(far_future)),
            (Some(i64::MIN), Some(i64::MAX)),
        ] {
            let p = SearchParams {
                since_ns: since,
                until_ns: until,
                ..SearchParams::default()
            };
            let h = index.histogram(&p, 500, base + SEC).unwrap();
            assert_eq!(h.total, 2, "{since:?}..{until:?}");
            let bar = h
                .buckets
                .iter()
                .find(|b| b.counts.values().sum::<u64>() > 0)
                .unwrap();
            assert!(
                bar.start_ns <= base && base < bar.end_ns,
                "{since:?}..{until:?}: {bar:?} {}",
                h.interval_ns
            );
        }
    }
}

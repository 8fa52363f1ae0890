//! Matching lines over time, counted by level: what the UI's volume chart
//! draws. tantivy's aggregations compute it from the fast fields `ts` and
//! `level` (a histogram with a terms sub-aggregation), so no record is read
//! from the store: the cost is one pass over the matching documents' columns.
//!
//! The bucket width is a "nice" interval (1 s, 5 m, 1 h …) chosen so that
//! the range fits in at most the number of buckets asked for, and buckets
//! start on multiples of it, so that a chart's bars line up with round times.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tantivy::Order;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::agg_result::AggregationResults;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::query::Query;

use super::LogIndex;
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
    let needed = (span_ns.max(1) + buckets - 1) / buckets;
    if let Some(nice) = NICE.iter().copied().find(|&w| w >= needed) {
        return nice;
    }
    // Beyond a week a bar: whole weeks.
    let week = 7 * DAY;
    (needed + week - 1) / week * week
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
            (Some(since), None) => (since, now_ns.max(since)),
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
        let interval = nice_interval(high.saturating_sub(low).saturating_add(1), buckets);
        let start = low.div_euclid(interval) * interval;
        let last = high.div_euclid(interval) * interval;
        let request = json!({
            "over_time": {
                "histogram": {
                    "field": name::TS,
                    "interval": interval as f64,
                    "min_doc_count": 0,
                    "extended_bounds": { "min": start as f64, "max": last as f64 },
                },
                "aggs": {
                    "by_level": {
                        "terms": { "field": name::LEVEL, "size": 64, "missing": NO_LEVEL }
                    }
                }
            }
        });
        let results = self.aggregate(&searcher, query.as_ref(), request)?;
        let mut histogram = Histogram {
            buckets: Vec::new(),
            total: 0,
            interval_ns: interval,
        };
        let entries = results["over_time"]["buckets"].as_array().cloned();
        for entry in entries.unwrap_or_default() {
            let Some(key) = entry["key"].as_f64() else {
                continue;
            };
            // Keys are multiples of the interval computed in f64: snap back.
            let start_ns = ((key / interval as f64).round() as i64).saturating_mul(interval);
            let mut counts = BTreeMap::new();
            for level in entry["by_level"]["buckets"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let count = level["doc_count"].as_u64().unwrap_or(0);
                let key = match &level["key"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if count > 0 {
                    histogram.total += count;
                    *counts.entry(key).or_insert(0) += count;
                }
            }
            // An empty bar that f64 rounding put just outside the range.
            if counts.is_empty() && !(start..=last).contains(&start_ns) {
                continue;
            }
            histogram.buckets.push(Bucket {
                start_ns,
                end_ns: start_ns.saturating_add(interval),
                counts,
            });
        }
        Ok(histogram)
    }

    /// The first and last timestamps among the records `query` matches:
    /// the oldest and newest hit, each from the segments that can hold it
    /// (a min/max aggregation read every match: 12 % of a chart of 10 M).
    fn ts_range(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
    ) -> Result<Option<(i64, i64)>, SearchError> {
        let first = edge_ts(searcher, query, Order::Asc)?;
        let last = edge_ts(searcher, query, Order::Desc)?;
        Ok(first.zip(last))
    }

    /// Runs an aggregation request (Elasticsearch's JSON form) and returns
    /// its result as JSON.
    fn aggregate(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        request: Value,
    ) -> Result<Value, SearchError> {
        let aggregations: Aggregations = serde_json::from_value(request)
            .map_err(|e| SearchError::BadQuery(format!("aggregation request: {e}")))?;
        let context =
            AggContextParams::new(Default::default(), self.tantivy().tokenizers().clone());
        let collector = AggregationCollector::from_aggs(aggregations, context);
        let results: AggregationResults = searcher.search(query, &collector)?;
        serde_json::to_value(&results)
            .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))
    }
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
}

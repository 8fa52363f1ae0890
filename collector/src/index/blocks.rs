//! What is kept per segment between searches: its `ts` and `seq` columns,
//! opened once, and its block summary.
//!
//! Opening a column is not free: the blockwise-linear codec tantivy picks
//! for near-sorted numbers like `ts` and `seq` decodes every block's header
//! (one per 512 values) each time. A request's lookup at 10 M records opened
//! them some 200 times (per segment for the page's order, per hit to rebuild
//! it), which was 63 % of its time.
//!
//! Block summaries: a segment's documents in blocks of [`BLOCK`], with each
//! block's earliest and latest `ts` and its lines per level. Logs are
//! written in time order, so a segment's blocks each span a short time even
//! after merges (a merge appends whole segments), and a question about time
//! can skip what a block's span rules out:
//!
//! - [`TsRange`], the `since`/`until` filter, skips blocks wholly outside
//!   the range, matches blocks wholly inside it without reading a value, and
//!   reads `ts` only in the blocks that straddle an end (tantivy's own range
//!   query reads every value of a segment that straddles one);
//! - the volume chart adds a block's level counts at once when the block
//!   lies in one bar (`histogram.rs`).
//!
//! Segments never change (deletes only hide documents), so all of it is
//! computed once per segment, on first use, and kept in [`Segments`] until
//! the segment is merged away. A summary costs one pass over the segment's
//! `ts` and `level` columns, and about 40 bytes per block: 0.4 MB for 10 M
//! records.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::collector::sort_key::{Comparator, ComparatorEnum, NaturalComparator};
use tantivy::collector::{SegmentSortKeyComputer, SortKeyComputer};
use tantivy::columnar::{Column, ColumnIndex, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::{
    AllScorer, ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED};

use super::schema::name;

/// Documents per block (fewer in unit tests, so that their small indexes
/// have many).
pub const BLOCK: u32 = if cfg!(test) { 64 } else { 1024 };
/// A segment whose `level` column has more distinct values than this gets
/// no level counts (the chart then reads its documents one by one).
const MAX_LEVELS: usize = 32;

/// One segment's blocks.
#[derive(Debug)]
pub struct Summary {
    max_doc: DocId,
    /// Earliest and latest `ts` of each block, deleted documents included.
    spans: Vec<(i64, i64)>,
    /// Lines per level of each block, when the column allows.
    levels: Option<LevelCounts>,
}

/// Per block, `width` counts: one per term ordinal of the segment's `level`
/// column, then one for the lines without a level.
#[derive(Debug)]
pub struct LevelCounts {
    pub width: usize,
    counts: Vec<u32>,
}

impl LevelCounts {
    /// Block `block`'s counts, indexed by level ordinal (the last: none).
    pub fn block(&self, block: usize) -> &[u32] {
        &self.counts[block * self.width..(block + 1) * self.width]
    }
}

impl Summary {
    /// Reads `reader`'s `ts` (given) and `level` columns once.
    fn compute(reader: &SegmentReader, ts: &Column<i64>) -> tantivy::Result<Summary> {
        let max_doc = reader.max_doc();
        let columns = reader.fast_fields();
        let blocks = max_doc.div_ceil(BLOCK) as usize;
        let mut spans = Vec::with_capacity(blocks);
        let mut values = vec![0i64; BLOCK as usize];
        for block in 0..blocks {
            let docs = block_docs(block, max_doc);
            let values = &mut values[..docs.len()];
            read_ts(ts, docs.start, values);
            let (min, max) = values
                .iter()
                .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            spans.push((min, max));
        }
        let levels = match columns.str(name::LEVEL)? {
            Some(column) => level_counts(&column, max_doc, blocks),
            None => Some(LevelCounts {
                width: 1,
                counts: (0..blocks)
                    .map(|block| block_docs(block, max_doc).len() as u32)
                    .collect(),
            }),
        };
        Ok(Summary {
            max_doc,
            spans,
            levels,
        })
    }

    pub fn spans(&self) -> &[(i64, i64)] {
        &self.spans
    }

    pub fn levels(&self) -> Option<&LevelCounts> {
        self.levels.as_ref()
    }

    /// The documents of block `block`.
    pub fn docs(&self, block: usize) -> std::ops::Range<DocId> {
        block_docs(block, self.max_doc)
    }
}

fn block_docs(block: usize, max_doc: DocId) -> std::ops::Range<DocId> {
    let start = block as DocId * BLOCK;
    start..(start + BLOCK).min(max_doc)
}

/// `ts` of the documents `first..first + out.len()`: a contiguous decode when
/// every document has one (as every record does).
pub fn read_ts(ts: &Column<i64>, first: DocId, out: &mut [i64]) {
    if matches!(ts.index, ColumnIndex::Full) {
        ts.values.get_range(u64::from(first), out);
    } else {
        for (doc, value) in (first..).zip(out.iter_mut()) {
            *value = ts.first(doc).unwrap_or(i64::MIN);
        }
    }
}

/// Counts per block and level ordinal, in one pass over the column.
fn level_counts(column: &StrColumn, max_doc: DocId, blocks: usize) -> Option<LevelCounts> {
    let terms = column.num_terms();
    if terms >= MAX_LEVELS {
        return None;
    }
    let width = terms + 1;
    let mut counts = vec![0u32; blocks * width];
    let ords = column.ords();
    match &ords.index {
        ColumnIndex::Empty { .. } => {}
        ColumnIndex::Full => {
            let mut values = vec![0u64; BLOCK as usize];
            for block in 0..blocks {
                let docs = block_docs(block, max_doc);
                let values = &mut values[..docs.len()];
                ords.values.get_range(u64::from(docs.start), values);
                for &ord in values.iter() {
                    counts[block * width + ord as usize] += 1;
                }
            }
        }
        ColumnIndex::Optional(optional) => {
            for (rank, doc) in optional.iter_non_null_docs().enumerate() {
                let ord = ords.values.get_val(rank as u32) as usize;
                counts[(doc / BLOCK) as usize * width + ord] += 1;
            }
        }
        ColumnIndex::Multivalued(_) => {
            for doc in 0..max_doc {
                if let Some(ord) = ords.first(doc) {
                    counts[(doc / BLOCK) as usize * width + ord as usize] += 1;
                }
            }
        }
    }
    for block in 0..blocks {
        let row = &mut counts[block * width..(block + 1) * width];
        let with_level: u32 = row[..terms].iter().sum();
        row[terms] = block_docs(block, max_doc).len() as u32 - with_level;
    }
    Some(LevelCounts { width, counts })
}

/// One segment's columns, opened once, and its summary once computed.
#[derive(Debug)]
pub struct SegmentColumns {
    pub ts: Column<i64>,
    pub seq: Column<u64>,
    summary: OnceLock<Arc<Summary>>,
}

/// What is kept of the segments searched lately.
#[derive(Debug, Default)]
pub struct Segments {
    kept: Mutex<HashMap<SegmentId, Arc<SegmentColumns>>>,
}

impl Segments {
    /// `reader`'s `ts` and `seq` columns, opened now if they were not yet.
    pub fn columns(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentColumns>> {
        let id = reader.segment_id();
        if let Some(columns) = self.lock().get(&id) {
            return Ok(columns.clone());
        }
        // Opened outside the lock: another search may open the same ones
        // meanwhile, which costs time, not correctness.
        let fast = reader.fast_fields();
        let columns = Arc::new(SegmentColumns {
            ts: fast.i64(name::TS)?,
            seq: fast.u64(name::SEQ)?,
            summary: OnceLock::new(),
        });
        Ok(self.lock().entry(id).or_insert(columns).clone())
    }

    /// `reader`'s block summary, computed now if it was not yet.
    pub fn summary(&self, reader: &SegmentReader) -> tantivy::Result<Arc<Summary>> {
        let columns = self.columns(reader)?;
        if let Some(summary) = columns.summary.get() {
            return Ok(summary.clone());
        }
        let summary = Arc::new(Summary::compute(reader, &columns.ts)?);
        Ok(columns.summary.get_or_init(|| summary).clone())
    }

    /// Forgets the segments `searcher` no longer holds (merged or deleted
    /// away). A search on an older snapshot may open them again.
    pub fn keep_only(&self, searcher: &Searcher) {
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        self.lock().retain(|id, _| live.contains(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<SegmentColumns>>> {
        // A panic while holding it cannot leave the map half-updated.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Orders hits by a kept column, `ts` or `seq` (tantivy's
/// `SortByStaticFastValue` opens the column for every segment it visits).
#[derive(Debug, Clone)]
pub struct ByColumn<T> {
    segments: Arc<Segments>,
    pick: fn(&SegmentColumns) -> &Column<T>,
}

impl ByColumn<i64> {
    pub fn ts(segments: Arc<Segments>) -> ByColumn<i64> {
        ByColumn {
            segments,
            pick: |columns| &columns.ts,
        }
    }
}

impl ByColumn<u64> {
    pub fn seq(segments: Arc<Segments>) -> ByColumn<u64> {
        ByColumn {
            segments,
            pick: |columns| &columns.seq,
        }
    }
}

impl<T> SortKeyComputer for ByColumn<T>
where
    T: PartialOrd + Copy + Send + Sync + std::fmt::Debug + 'static,
    ComparatorEnum: Comparator<Option<T>>,
{
    type SortKey = Option<T>;
    type Child = ColumnOf<T>;
    type Comparator = NaturalComparator;

    fn segment_sort_key_computer(&self, reader: &SegmentReader) -> tantivy::Result<ColumnOf<T>> {
        let columns = self.segments.columns(reader)?;
        Ok(ColumnOf((self.pick)(&columns).clone()))
    }
}

/// [`ByColumn`] in one segment.
pub struct ColumnOf<T>(Column<T>);

impl<T> SegmentSortKeyComputer for ColumnOf<T>
where
    T: PartialOrd + Copy + Send + Sync + std::fmt::Debug + 'static,
{
    type SortKey = Option<T>;
    type SegmentSortKey = Option<T>;
    type SegmentComparator = NaturalComparator;

    fn segment_sort_key(&mut self, doc: DocId, _score: Score) -> Option<T> {
        self.0.first(doc)
    }

    fn convert_segment_sort_key(&self, key: Option<T>) -> Option<T> {
        key
    }
}

/// `seq` within `low..=high`, from the kept `seq` column.
#[derive(Debug, Clone)]
pub struct SeqRange {
    range: RangeInclusive<u64>,
    segments: Arc<Segments>,
}

impl SeqRange {
    pub fn new(range: RangeInclusive<u64>, segments: Arc<Segments>) -> SeqRange {
        SeqRange { range, segments }
    }
}

impl Query for SeqRange {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for SeqRange {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let seq = &self.segments.columns(reader)?.seq;
        if let Some(all_or_none) = all_or_none(seq, &self.range, reader.max_doc()) {
            return Ok(all_or_none);
        }
        let mut docs = Vec::new();
        seq.get_docids_for_value_range(self.range.clone(), 0..reader.max_doc(), &mut docs);
        Ok(Box::new(ConstScorer::new(Listed { docs, at: 0 }, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_in(
            &self.segments.columns(reader)?.seq,
            &self.range,
            doc,
            "SeqRange",
        )
    }
}

/// A range's scorer when a segment's column decides it without reading a
/// value: nothing when the range misses the column's min..max, every
/// document when it holds them all (and every document has a value).
fn all_or_none<T>(
    column: &Column<T>,
    range: &RangeInclusive<T>,
    max_doc: DocId,
) -> Option<Box<dyn Scorer>>
where
    T: PartialOrd + Copy + Send + Sync + std::fmt::Debug + 'static,
{
    let (low, high) = (*range.start(), *range.end());
    let (min, max) = (column.min_value(), column.max_value());
    if max_doc == 0 || low > high || max < low || min > high {
        return Some(Box::new(EmptyScorer));
    }
    if low <= min && max <= high && matches!(column.index, ColumnIndex::Full) {
        return Some(Box::new(AllScorer::new(max_doc)));
    }
    None
}

/// Explains a range's match of `doc` from its column's value.
fn explain_in<T>(
    column: &Column<T>,
    range: &RangeInclusive<T>,
    doc: DocId,
    query: &'static str,
) -> tantivy::Result<Explanation>
where
    T: PartialOrd + Copy + Send + Sync + std::fmt::Debug + 'static,
{
    match column.first(doc) {
        Some(value) if range.contains(&value) => Ok(Explanation::new(query, 1.0)),
        _ => Err(tantivy::TantivyError::InvalidArgument(format!(
            "document {doc} does not match {query}"
        ))),
    }
}

/// Documents listed in order.
struct Listed {
    docs: Vec<DocId>,
    at: usize,
}

impl DocSet for Listed {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.at += self.docs[self.at..].partition_point(|&doc| doc < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.at) as u32
    }
}

/// `ts` within `low..=high`, from the `ts` column and the block summaries.
#[derive(Debug, Clone)]
pub struct TsRange {
    range: RangeInclusive<i64>,
    segments: Arc<Segments>,
}

impl TsRange {
    pub fn new(range: RangeInclusive<i64>, segments: Arc<Segments>) -> TsRange {
        TsRange { range, segments }
    }
}

impl Query for TsRange {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for TsRange {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let columns = self.segments.columns(reader)?;
        let ts = &columns.ts;
        if let Some(all_or_none) = all_or_none(ts, &self.range, reader.max_doc()) {
            return Ok(all_or_none);
        }
        let summary = self.segments.summary(reader)?;
        Ok(Box::new(TsRangeScorer::new(
            ts.clone(),
            summary,
            self.range.clone(),
            boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_in(
            &self.segments.columns(reader)?.ts,
            &self.range,
            doc,
            "TsRange",
        )
    }
}

/// The documents of one segment whose `ts` is in range, block by block.
struct TsRangeScorer {
    ts: Column<i64>,
    summary: Arc<Summary>,
    range: RangeInclusive<i64>,
    score: Score,
    /// The block being read, and whether all of it matches.
    block: usize,
    whole: bool,
    /// In a straddling block: its matching documents, and which is current.
    matching: Vec<DocId>,
    at: usize,
    doc: DocId,
    values: Vec<i64>,
    estimate: u32,
}

impl TsRangeScorer {
    fn new(
        ts: Column<i64>,
        summary: Arc<Summary>,
        range: RangeInclusive<i64>,
        score: Score,
    ) -> TsRangeScorer {
        let estimate = summary
            .spans
            .iter()
            .enumerate()
            .filter(|(_, (min, max))| *max >= *range.start() && *min <= *range.end())
            .map(|(block, _)| summary.docs(block).len() as u32)
            .sum();
        let mut scorer = TsRangeScorer {
            ts,
            summary,
            range,
            score,
            block: 0,
            whole: false,
            matching: Vec::new(),
            at: 0,
            doc: 0,
            values: vec![0; BLOCK as usize],
            estimate,
        };
        scorer.enter(0, 0);
        scorer
    }

    /// Positions on the first match at or after `target`, looking from
    /// block `block` on (`target` is in it or before it).
    fn enter(&mut self, mut block: usize, target: DocId) {
        while block < self.summary.spans.len() {
            let (min, max) = self.summary.spans[block];
            let docs = self.summary.docs(block);
            let first = target.max(docs.start);
            if max < *self.range.start() || min > *self.range.end() || first >= docs.end {
                block += 1;
                continue;
            }
            self.block = block;
            if self.range.contains(&min) && self.range.contains(&max) {
                self.whole = true;
                self.doc = first;
                return;
            }
            self.whole = false;
            let values = &mut self.values[..docs.len()];
            read_ts(&self.ts, docs.start, values);
            self.matching.clear();
            self.matching.extend(
                docs.clone()
                    .zip(values.iter())
                    .filter(|(doc, v)| *doc >= first && self.range.contains(v))
                    .map(|(doc, _)| doc),
            );
            if let Some(&doc) = self.matching.first() {
                self.at = 0;
                self.doc = doc;
                return;
            }
            block += 1;
        }
        self.block = self.summary.spans.len();
        self.doc = TERMINATED;
    }
}

impl DocSet for TsRangeScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        if self.whole {
            if self.doc + 1 < self.summary.docs(self.block).end {
                self.doc += 1;
                return self.doc;
            }
        } else if self.at + 1 < self.matching.len() {
            self.at += 1;
            self.doc = self.matching[self.at];
            return self.doc;
        }
        self.enter(self.block + 1, 0);
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        if target >= self.summary.max_doc {
            self.block = self.summary.spans.len();
            self.doc = TERMINATED;
            return TERMINATED;
        }
        let block = (target / BLOCK) as usize;
        if block == self.block {
            if self.whole {
                self.doc = target;
                return target;
            }
            if let Some(at) = self.matching[self.at..]
                .iter()
                .position(|&doc| doc >= target)
            {
                self.at += at;
                self.doc = self.matching[self.at];
                return self.doc;
            }
            self.enter(block + 1, 0);
            return self.doc;
        }
        self.enter(block, target);
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.estimate
    }
}

impl Scorer for TsRangeScorer {
    fn score(&mut self) -> Score {
        self.score
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use tantivy::collector::{Count, DocSetCollector};
    use tantivy::query::{BooleanQuery, Occur, RangeQuery, TermQuery};
    use tantivy::schema::IndexRecordOption;
    use tantivy::{DocAddress, Term};

    use super::super::testing::{index_in_segments, record};
    use super::*;
    use crate::record::Record;

    /// A linear congruential generator: deterministic, so a failure repeats.
    fn numbers(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        }
    }

    /// Three segments: one in time order with jitter (several blocks), one
    /// in no order at all, one small.
    fn segments() -> Vec<Vec<Record>> {
        let mut next = numbers(7);
        let mut seq = 0;
        let mut record_at = |ts: i64, next: &mut dyn FnMut() -> u64| {
            seq += 1;
            let container = ["web", "api", "db"][(next() % 3) as usize];
            record(seq, ts, container, "a line")
        };
        let ordered = (0..3_500)
            .map(|i| record_at(1_000_000 + i * 1_000 + (next() % 5_000) as i64, &mut next))
            .collect();
        let shuffled = (0..2_200)
            .map(|_| record_at((next() % 5_000_000) as i64, &mut next))
            .collect();
        let small = (0..40)
            .map(|i| record_at(4_000_000 + i, &mut next))
            .collect();
        vec![ordered, shuffled, small]
    }

    fn addresses(searcher: &Searcher, query: &dyn Query) -> Vec<DocAddress> {
        let mut found: Vec<DocAddress> = searcher
            .search(query, &DocSetCollector)
            .expect("search")
            .into_iter()
            .collect();
        found.sort();
        found
    }

    #[test]
    fn ranges_match_tantivys_range_query_alone_and_intersected() {
        let batches = segments();
        let slices: Vec<&[Record]> = batches.iter().map(Vec::as_slice).collect();
        let (_dir, index) = index_in_segments(&slices);
        let searcher = index.searcher();
        let f = *index.fields();
        let web = TermQuery::new(
            Term::from_field_text(f.container, "web"),
            IndexRecordOption::Basic,
        );
        let mut next = numbers(11);
        let mut ranges = vec![
            (i64::MIN, i64::MAX),
            (0, 0),
            (5, 4),
            (4_000_000, 4_000_039),
            (4_000_039, 4_000_039),
            (1_002_000, 1_003_000),
        ];
        for _ in 0..150 {
            let a = (next() % 5_200_000) as i64;
            // Narrow ones fall within a block, wide ones hold whole blocks.
            let width = if next().is_multiple_of(2) {
                600_000
            } else {
                3_000_000
            };
            let b = a + (next() % width) as i64;
            ranges.push((a, b));
        }
        for (low, high) in ranges {
            let ours = TsRange::new(low..=high, index.segments().clone());
            let theirs = RangeQuery::new(
                Bound::Included(Term::from_field_i64(f.ts, low)),
                Bound::Included(Term::from_field_i64(f.ts, high)),
            );
            let expected = addresses(&searcher, &theirs);
            assert_eq!(addresses(&searcher, &ours), expected, "{low}..={high}");
            assert_eq!(searcher.search(&ours, &Count).unwrap(), expected.len());
            // Intersected, the range is driven by `seek`.
            let and = |range: Box<dyn Query>| {
                BooleanQuery::new(vec![
                    (Occur::Must, range),
                    (Occur::Must, Box::new(web.clone()) as Box<dyn Query>),
                ])
            };
            assert_eq!(
                addresses(&searcher, &and(Box::new(ours))),
                addresses(&searcher, &and(Box::new(theirs))),
                "{low}..={high} and container:web"
            );
        }
    }

    #[test]
    fn seq_ranges_match_tantivys_range_query() {
        let batches = segments();
        let slices: Vec<&[Record]> = batches.iter().map(Vec::as_slice).collect();
        let (_dir, index) = index_in_segments(&slices);
        let searcher = index.searcher();
        let f = *index.fields();
        let mut next = numbers(13);
        let mut ranges = vec![
            (0, u64::MAX),
            (0, 0),
            (3, 2),
            (5_740, 5_740),
            (3_500, 3_501),
        ];
        for _ in 0..60 {
            let a = next() % 6_000;
            ranges.push((a, a + next() % 3_000));
        }
        for (low, high) in ranges {
            let ours = SeqRange::new(low..=high, index.segments().clone());
            let theirs = RangeQuery::new(
                Bound::Included(Term::from_field_u64(f.seq, low)),
                Bound::Included(Term::from_field_u64(f.seq, high)),
            );
            assert_eq!(
                addresses(&searcher, &ours),
                addresses(&searcher, &theirs),
                "{low}..={high}"
            );
        }
    }

    #[test]
    fn summaries_hold_every_block_and_level_and_are_dropped_with_their_segment() {
        let mut records = segments().remove(0);
        for (i, record) in records.iter_mut().enumerate() {
            record.level = match i % 4 {
                0 => Some(crate::record::Level::Error),
                1 => Some(crate::record::Level::Info),
                _ => None,
            };
        }
        let (_dir, index) = index_in_segments(&[&records]);
        let searcher = index.searcher();
        let segment = &searcher.segment_readers()[0];
        let summary = index.segments().summary(segment).unwrap();
        assert_eq!(summary.spans().len(), 3_500usize.div_ceil(BLOCK as usize));
        let levels = summary.levels().expect("level counts");
        assert_eq!(levels.width, 3); // error, info, none
        for (block, &(min, max)) in summary.spans().iter().enumerate() {
            let docs = summary.docs(block);
            let in_block = &records[docs.start as usize..docs.end as usize];
            assert_eq!(min, in_block.iter().map(|r| r.ts_ns).min().unwrap());
            assert_eq!(max, in_block.iter().map(|r| r.ts_ns).max().unwrap());
            let errors = in_block.iter().filter(|r| r.level.is_some()).count() / 2;
            let counts = levels.block(block);
            assert_eq!(counts.iter().sum::<u32>() as usize, in_block.len());
            assert!((counts[0] as usize).abs_diff(errors) <= 1, "{counts:?}");
        }
        // Kept while the segment is searched, dropped once it is merged away.
        assert!(Arc::ptr_eq(
            &summary,
            &index.segments().summary(segment).unwrap()
        ));
        let mut writer: tantivy::IndexWriter = index
            .tantivy()
            .writer_with_num_threads(1, 15_000_000)
            .unwrap();
        writer
            .add_document(index.to_document(&records[0], &mut Default::default()))
            .unwrap();
        writer.commit().unwrap();
        let ids = index.tantivy().searchable_segment_ids().unwrap();
        assert_eq!(ids.len(), 2);
        writer.merge(&ids).wait().unwrap();
        index.reload().unwrap();
        assert!(index.segments().kept.lock().unwrap().is_empty());
        let merged = index.searcher();
        let summary = index
            .segments()
            .summary(&merged.segment_readers()[0])
            .unwrap();
        assert_eq!(summary.spans().len(), 3_501usize.div_ceil(BLOCK as usize));
    }
}

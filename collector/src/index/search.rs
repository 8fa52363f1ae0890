//! Searching: the API's parameters become one tantivy query.
//!
//! `q` goes through tantivy's own query parser (free text over `message` and
//! `fields`, `field:value`, phrases, AND/OR/NOT), terms are ANDed by default
//! as people expect of a log search. Every other parameter is an exact filter
//! added beside it. Hits are ordered by (`ts`, `seq`) read from fast fields,
//! which makes the order total and stable, and the cursor is simply the last
//! hit's (`ts`, `seq`): the next page is "strictly after it" in that order.

use std::ops::{Bound, RangeInclusive};
use std::sync::Arc;

use tantivy::collector::{Collector, Count, TopDocs};
use tantivy::query::EnableScoring;
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, Query, QueryParser, QueryParserError, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Order, Searcher, SegmentReader, Term};

use super::LogIndex;
use super::blocks::{BLOCK, ByColumn, Segments, SeqRange, TsRange};
use crate::query::{Cursor, MAX_LIMIT, MAX_QUERY_DEPTH, MAX_QUERY_LEN, SearchParams, query_depth};
use crate::record::Record;

/// Why a search was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid query: {0}")]
    BadQuery(String),
    #[error("index unavailable: {0}")]
    Index(tantivy::TantivyError),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> SearchError {
        match e {
            // Raised while running a query the parser accepted but the index
            // cannot answer (e.g. a range on a field that is not fast).
            tantivy::TantivyError::InvalidArgument(detail) => SearchError::BadQuery(detail),
            // e.g. `project:*` (exists) on a field that is not a fast field.
            tantivy::TantivyError::SchemaError(detail) => SearchError::BadQuery(detail),
            other => SearchError::Index(other),
        }
    }
}

/// Sub-queries of a boolean query.
type Clauses = Vec<(Occur, Box<dyn Query>)>;

/// One page of hits.
#[derive(Debug)]
pub struct SearchPage {
    pub hits: Vec<Record>,
    pub total: usize,
    pub next_cursor: Option<Cursor>,
}

impl LogIndex {
    /// The query parser for `q`: free text over message, msg and fields,
    /// every other field by name, AND by default.
    pub fn query_parser(&self) -> QueryParser {
        let f = self.fields();
        let mut parser = QueryParser::for_index(self.tantivy(), vec![f.message, f.msg, f.fields]);
        parser.set_conjunction_by_default();
        parser
    }

    /// Parses `q` alone (also used to validate live filters).
    pub fn parse_q(&self, q: &str) -> Result<Box<dyn Query>, SearchError> {
        if q.len() > MAX_QUERY_LEN {
            return Err(SearchError::BadQuery(format!(
                "q is {} bytes long; at most {MAX_QUERY_LEN} are accepted",
                q.len()
            )));
        }
        let depth = query_depth(q);
        if depth > MAX_QUERY_DEPTH {
            return Err(SearchError::BadQuery(format!(
                "q nests {depth} levels deep (parentheses and NOT, -, + in a row); \
                 at most {MAX_QUERY_DEPTH} are accepted"
            )));
        }
        let parser = self.query_parser();
        let parsed = match parser.parse_query(q) {
            // "NOT debug" alone: everything but debug, as people mean it.
            Err(QueryParserError::AllButQueryForbidden) => {
                parser.parse_query(&format!("* AND ({q})"))
            }
            other => other,
        };
        parsed
            .map(complete_negations)
            .map_err(|e| SearchError::BadQuery(e.to_string()))
    }

    /// The query for every filter but the cursor.
    fn filter_query(&self, p: &SearchParams) -> Result<Clauses, SearchError> {
        let f = self.fields();
        let mut clauses: Clauses = Vec::new();
        if let Some(q) = p.q.as_deref().filter(|q| !q.trim().is_empty()) {
            clauses.push((Occur::Must, self.parse_q(q)?));
        }
        if let Some(id) = &p.request_id {
            let terms = [
                Term::from_field_text(f.request_id, id),
                Term::from_field_text(f.trace_id, id),
            ];
            clauses.push((Occur::Must, any_of(terms)));
        }
        let exact: [(Field, &Vec<String>); 4] = [
            (f.container, &p.container),
            (f.service, &p.service),
            (f.level, &p.level),
            (f.stream, &p.stream),
        ];
        for (field, values) in exact {
            if !values.is_empty() {
                let terms = values.iter().map(|v| Term::from_field_text(field, v));
                clauses.push((Occur::Must, any_of(terms)));
            }
        }
        if p.since_ns.is_some() || p.until_ns.is_some() {
            let since = p.since_ns.unwrap_or(i64::MIN);
            let until = p.until_ns.unwrap_or(i64::MAX);
            clauses.push((Occur::Must, self.ts_within(since..=until)));
        }
        if p.max_seq.is_some() || p.after_seq.is_some() {
            let low = p.after_seq.map_or(Some(0), |s| s.checked_add(1));
            let high = p.max_seq.unwrap_or(u64::MAX);
            // After the last seq there is nothing: an empty range.
            let range = low.map_or(RangeInclusive::new(1, 0), |low| low..=high);
            clauses.push((Occur::Must, self.seq_within(range)));
        }
        Ok(clauses)
    }

    /// Records whose `ts` is in `range`, read from the `ts` column with the
    /// block summaries' help (see `blocks`).
    fn ts_within(&self, range: RangeInclusive<i64>) -> Box<dyn Query> {
        Box::new(TsRange::new(range, self.segments().clone()))
    }

    /// Records whose `seq` is in `range`, read from the kept `seq` column.
    fn seq_within(&self, range: RangeInclusive<u64>) -> Box<dyn Query> {
        Box::new(SeqRange::new(range, self.segments().clone()))
    }

    /// "Strictly after the cursor" in the requested order.
    fn after_cursor(&self, cursor: Cursor, ascending: bool) -> Box<dyn Query> {
        let (t, s) = (cursor.ts_ns, cursor.seq);
        // Empty ranges when the cursor is at an end.
        let (no_ts, no_seq) = (RangeInclusive::new(1, 0), RangeInclusive::new(1, 0));
        let (ts_beyond, seq_beyond) = if ascending {
            (
                t.checked_add(1).map_or(no_ts, |next| next..=i64::MAX),
                s.checked_add(1).map_or(no_seq, |next| next..=u64::MAX),
            )
        } else {
            (
                t.checked_sub(1).map_or(no_ts, |prev| i64::MIN..=prev),
                s.checked_sub(1).map_or(no_seq, |prev| 0..=prev),
            )
        };
        let tie = BooleanQuery::new(vec![
            (Occur::Must, self.ts_within(t..=t)),
            (Occur::Must, self.seq_within(seq_beyond)),
        ]);
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, self.ts_within(ts_beyond)),
            (Occur::Should, Box::new(tie)),
        ]))
    }

    /// Runs a search: exact total, one page of hits in (`ts`, `seq`) order.
    pub fn search(&self, p: &SearchParams) -> Result<SearchPage, SearchError> {
        self.search_in(&self.searcher(), p, true)
    }

    /// Checks that a search would run (its `q` parses), without running it.
    pub fn validate(&self, p: &SearchParams) -> Result<(), SearchError> {
        self.filter_query(p).map(drop)
    }

    /// The query for every filter but the cursor, as one query.
    pub(super) fn filters(&self, p: &SearchParams) -> Result<Box<dyn Query>, SearchError> {
        let clauses = self.filter_query(p)?;
        Ok(combine(&clauses))
    }

    /// A search on a given snapshot (an export pages through one, so that
    /// later commits do not slip in); `count: false` skips the total (0).
    pub fn search_in(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        count: bool,
    ) -> Result<SearchPage, SearchError> {
        let clauses = self.filter_query(p)?;
        let base = combine(&clauses);
        let total = if count {
            searcher.search(&base, &Count)?
        } else {
            0
        };
        if p.limit == 0 || (count && total == 0) {
            return Ok(SearchPage {
                hits: Vec::new(),
                total,
                next_cursor: None,
            });
        }
        let page_query: Box<dyn Query> = match p.cursor {
            None => base,
            Some(cursor) => {
                let mut with_cursor = clauses;
                with_cursor.push((Occur::Must, self.after_cursor(cursor, p.ascending)));
                Box::new(BooleanQuery::new(with_cursor))
            }
        };
        let order = if p.ascending { Order::Asc } else { Order::Desc };
        let limit = p.limit.min(MAX_LIMIT);
        // One more than asked tells whether another page exists.
        let wanted = limit + 1;
        let windowed = if count && total > wanted {
            self.in_window(searcher, page_query.as_ref(), p, total, wanted)?
        } else {
            None
        };
        let mut top = match windowed {
            Some(top) => top,
            None => newest_first(
                searcher,
                self.segments(),
                page_query.as_ref(),
                wanted,
                order,
            )?,
        };
        let more = top.len() > limit;
        top.truncate(limit);
        let mut hits = Vec::with_capacity(top.len());
        for (_key, address) in top {
            hits.push(self.load(searcher, address)?);
        }
        let next_cursor = if more {
            hits.last().map(|r| Cursor {
                ts_ns: r.ts_ns,
                seq: r.seq,
            })
        } else {
            None
        };
        Ok(SearchPage {
            hits,
            total,
            next_cursor,
        })
    }
}

/// Below this many records, a page is collected from everything at once
/// (small in unit tests, so that their indexes take the windowed path).
const WINDOW_MIN_DOCS: u64 = if cfg!(test) { 1_000 } else { 64 * BLOCK as u64 };
/// The fewest records a window holds.
const WINDOW_MIN_BUDGET: u64 = if cfg!(test) { 16 } else { 4 * BLOCK as u64 };

impl LogIndex {
    /// A page of `wanted` hits of `query` collected from a time window that
    /// should hold them: the newest records (the oldest, ascending) where,
    /// at the matches' overall rate (`total` of the index), twice `wanted`
    /// are expected. Every hit outside the window comes after every hit in
    /// it, so when it holds `wanted` they are the page. Otherwise the window
    /// grows sixteenfold once, then `None`: collect from everything.
    ///
    /// A frequent term or a long range otherwise reads (`ts`, `seq`) of
    /// every match in the newest segment, which at 10 M records is most of
    /// what a page costs.
    fn in_window(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        p: &SearchParams,
        total: usize,
        wanted: usize,
    ) -> Result<Option<Vec<(HitKey, DocAddress)>>, SearchError> {
        let docs = searcher.num_docs();
        if docs < WINDOW_MIN_DOCS || total == 0 {
            return Ok(None);
        }
        let order = if p.ascending { Order::Asc } else { Order::Desc };
        // Where the hits can start: the range's end, or the cursor.
        let cursor = p.cursor.map(|c| c.ts_ns);
        let bound = if p.ascending {
            p.since_ns
                .into_iter()
                .chain(cursor)
                .max()
                .unwrap_or(i64::MIN)
        } else {
            p.until_ns
                .into_iter()
                .chain(cursor)
                .min()
                .unwrap_or(i64::MAX)
        };
        let rate_budget = (wanted as u64).saturating_mul(docs) / total as u64;
        let budget = rate_budget.saturating_mul(2).max(WINDOW_MIN_BUDGET);
        windowed(
            searcher,
            self.segments(),
            query,
            wanted,
            order,
            bound,
            budget,
            2,
        )
    }
}

/// The first `wanted` hits of `query` in `order`, from a window of the
/// newest records (the oldest, ascending) before `bound` that holds at
/// least `budget` of them, growing sixteenfold up to `rounds` times; `None`
/// when no window held `wanted` hits.
#[allow(clippy::too_many_arguments)]
fn windowed(
    searcher: &Searcher,
    segments: &Arc<Segments>,
    query: &dyn Query,
    wanted: usize,
    order: Order,
    bound: i64,
    mut budget: u64,
    rounds: usize,
) -> Result<Option<Vec<(HitKey, DocAddress)>>, SearchError> {
    for _ in 0..rounds {
        let Some(edge) = window_edge(searcher, segments, budget, order, bound)? else {
            return Ok(None);
        };
        let window = match order {
            Order::Asc => i64::MIN..=edge,
            Order::Desc => edge..=i64::MAX,
        };
        let within = BooleanQuery::new(vec![
            (Occur::Must, query.box_clone()),
            (
                Occur::Must,
                Box::new(TsRange::new(window, segments.clone())) as Box<dyn Query>,
            ),
        ]);
        let top = newest_first(searcher, segments, &within, wanted, order)?;
        if top.len() >= wanted {
            return Ok(Some(top));
        }
        budget = budget.saturating_mul(16);
    }
    Ok(None)
}

/// The `ts` from which at least `budget` records lie between it and
/// `bound` (beyond which no hit can be), counted in whole blocks of the
/// summaries; `None` when the records there are fewer.
fn window_edge(
    searcher: &Searcher,
    segments: &Segments,
    budget: u64,
    order: Order,
    bound: i64,
) -> Result<Option<i64>, SearchError> {
    let mut blocks: Vec<(i64, u64)> = Vec::new();
    for reader in searcher.segment_readers() {
        let summary = segments.summary(reader)?;
        for (block, &(min, max)) in summary.spans().iter().enumerate() {
            let len = summary.docs(block).len() as u64;
            match order {
                Order::Desc if max <= bound => blocks.push((min, len)),
                Order::Asc if min >= bound => blocks.push((max, len)),
                _ => {}
            }
        }
    }
    match order {
        Order::Desc => blocks.sort_unstable_by_key(|b| std::cmp::Reverse(b.0)),
        Order::Asc => blocks.sort_unstable_by_key(|b| b.0),
    }
    let mut held = 0;
    for (edge, len) in blocks {
        held += len;
        if held >= budget {
            return Ok(Some(edge));
        }
    }
    Ok(None)
}

/// The sort key of a hit: (`ts`, `seq`).
type HitKey = (Option<i64>, Option<u64>);

/// What `TopDocs` ordered by (`ts`, `seq`) finds: the first `wanted` hits in
/// `order`, collected segment by segment from the one with the newest
/// records (the oldest, ascending), and no further than a segment can still
/// hold one: past the `wanted`-th hit's `ts`, the rest is skipped. Log
/// segments hold spans of time, so a page of a frequent term or of a long
/// range is found in the newest segment or two instead of every match of
/// the index being read and sorted (at 10 M lines, 2.4 M matches).
fn newest_first(
    searcher: &Searcher,
    segments: &Arc<Segments>,
    query: &dyn Query,
    wanted: usize,
    order: Order,
) -> Result<Vec<(HitKey, DocAddress)>, SearchError> {
    let collector = TopDocs::with_limit(wanted).order_by((
        (ByColumn::ts(segments.clone()), order),
        (ByColumn::seq(segments.clone()), order),
    ));
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let mut spans: Vec<(u32, &SegmentReader, i64, i64)> = Vec::new();
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let ts = &segments.columns(reader)?.ts;
        spans.push((ord as u32, reader, ts.min_value(), ts.max_value()));
    }
    match order {
        Order::Desc => spans.sort_by_key(|s| std::cmp::Reverse(s.3)),
        Order::Asc => spans.sort_by_key(|s| s.2),
    }
    let mut found: Vec<(HitKey, DocAddress)> = Vec::new();
    for (ord, reader, min, max) in spans {
        if found.len() >= wanted
            && let Some(((Some(last), _), _)) = found.last()
        {
            // Every hit this segment (or any later one) holds comes after
            // the last one kept.
            let beyond = match order {
                Order::Desc => max < *last,
                Order::Asc => min > *last,
            };
            if beyond {
                break;
            }
        }
        let fruit = collector.collect_segment(weight.as_ref(), ord, reader)?;
        found.extend(collector.merge_fruits(vec![fruit])?);
        // (ts, seq) is unique: this order is the collector's.
        match order {
            Order::Desc => found.sort_unstable_by_key(|hit| std::cmp::Reverse(hit.0)),
            Order::Asc => found.sort_unstable_by_key(|hit| hit.0),
        }
        found.truncate(wanted);
    }
    Ok(found)
}

/// The timestamp of the first record `query` matches in `order` (the
/// oldest, ascending), read from the segments that can hold it only.
pub fn edge_ts(
    searcher: &Searcher,
    segments: &Arc<Segments>,
    query: &dyn Query,
    order: Order,
) -> Result<Option<i64>, SearchError> {
    // Most questions match something among the newest (oldest) records.
    let top = if searcher.num_docs() >= WINDOW_MIN_DOCS {
        let bound = match order {
            Order::Asc => i64::MIN,
            Order::Desc => i64::MAX,
        };
        windowed(
            searcher,
            segments,
            query,
            1,
            order,
            bound,
            WINDOW_MIN_BUDGET,
            3,
        )?
    } else {
        None
    };
    let top = match top {
        Some(top) => top,
        None => newest_first(searcher, segments, query, 1, order)?,
    };
    Ok(top.first().and_then(|((ts, _), _)| *ts))
}

/// Up to this many values of one filter are a union of their postings.
const UNION_MAX_TERMS: usize = 32;

/// Records holding any of `terms`: a union of their postings. tantivy's
/// `TermSetQuery` fills a bitset of the segment's size for each field (at
/// 10 M records, 1.25 MB per field and pass, zeroed and scanned for a
/// request's few lines). Long lists of values still go to it: one automaton
/// pass per segment, however many values a (possibly hostile) request lists,
/// rather than a boolean query of that many clauses (not measured here).
fn any_of(terms: impl IntoIterator<Item = Term>) -> Box<dyn Query> {
    let terms: Vec<Term> = terms.into_iter().collect();
    if terms.len() > UNION_MAX_TERMS {
        return Box::new(TermSetQuery::new(terms));
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .into_iter()
        .map(|term| {
            let query = TermQuery::new(term, IndexRecordOption::Basic);
            (Occur::Should, Box::new(query) as Box<dyn Query>)
        })
        .collect();
    if clauses.len() == 1 {
        return clauses.remove(0).1;
    }
    Box::new(BooleanQuery::new(clauses))
}

/// The conjunction of `clauses` (everything when there are none).
fn combine(clauses: &Clauses) -> Box<dyn Query> {
    if clauses.is_empty() {
        return Box::new(AllQuery);
    }
    Box::new(BooleanQuery::new(
        clauses.iter().map(|(o, q)| (*o, q.box_clone())).collect(),
    ))
}

impl LogIndex {
    /// The highest `seq` a snapshot holds (0 when empty). Records are
    /// committed in `seq` order, so the snapshot holds every record up to it.
    pub fn watermark(&self, searcher: &Searcher) -> u64 {
        searcher
            .segment_readers()
            .iter()
            .filter_map(|segment| self.segments().columns(segment).ok())
            .map(|columns| columns.seq.max_value())
            .max()
            .unwrap_or(0)
    }
}

/// Gives every purely negative sub-clause an implicit "everything": tantivy
/// parses `a AND NOT b` as `+a +(-b)`, and a clause of only exclusions
/// matches nothing, so the query would find nothing at all. With this,
/// `container:web AND NOT timeout` means what it says.
fn complete_negations(query: Box<dyn Query>) -> Box<dyn Query> {
    let Some(boolean) = query.downcast_ref::<BooleanQuery>() else {
        return query;
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = boolean
        .clauses()
        .iter()
        .map(|(occur, child)| (*occur, complete_negations(child.box_clone())))
        .collect();
    if !clauses.is_empty() && clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::with_minimum_required_clauses(
        clauses,
        boolean.get_minimum_number_should_match(),
    ))
}

/// A record and the lines around it in its container.
#[derive(Debug)]
pub struct Context {
    pub record: Record,
    /// Oldest first, ending just before `record`.
    pub before: Vec<Record>,
    /// Oldest first, starting just after `record`.
    pub after: Vec<Record>,
}

impl LogIndex {
    /// The record numbered `seq`, if the index holds it.
    pub fn record_by_seq(
        &self,
        searcher: &Searcher,
        seq: u64,
    ) -> Result<Option<Record>, SearchError> {
        // `seq` is a column, not a term: a one-value range runs on it.
        let term = Term::from_field_u64(self.fields().seq, seq);
        let query = RangeQuery::new(Bound::Included(term.clone()), Bound::Included(term));
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, address)) = top.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(self.load(searcher, address)?))
    }

    /// The record numbered `seq` with up to `before` and `after` records of
    /// the same container (by ID: a recreated container of the same name is
    /// another log) on either side, in (`ts`, `seq`) order.
    pub fn context(
        &self,
        seq: u64,
        before: usize,
        after: usize,
    ) -> Result<Option<Context>, SearchError> {
        let searcher = self.searcher();
        let Some(record) = self.record_by_seq(&searcher, seq)? else {
            return Ok(None);
        };
        let id = &record.container.id;
        // Docker's IDs are hex; a quote or backslash could not sit inside
        // the quoted term below.
        if id.is_empty()
            || id
                .chars()
                .any(|c| matches!(c, '"' | '\\') || c.is_control())
        {
            return Ok(Some(Context {
                record,
                before: Vec::new(),
                after: Vec::new(),
            }));
        }
        let around = |limit: usize, ascending: bool| SearchParams {
            q: Some(format!("container_id:\"{id}\"")),
            limit,
            ascending,
            cursor: Some(Cursor {
                ts_ns: record.ts_ns,
                seq: record.seq,
            }),
            ..SearchParams::default()
        };
        let mut earlier = self
            .search_in(&searcher, &around(before, false), false)?
            .hits;
        earlier.reverse();
        let later = self.search_in(&searcher, &around(after, true), false)?.hits;
        Ok(Some(Context {
            record,
            before: earlier,
            after: later,
        }))
    }
}

//! The index: tantivy on local disk, one writer, many readers.
//!
//! `schema` defines what is stored, `containers` the table that stores each
//! container version once, `payload` what each commit says about
//! how far every container was taken (see `crate::checkpoint`), `writer` the single indexing thread
//! that batches records and commits them with their checkpoints, and `search`
//! turns API parameters into tantivy queries. This file opens the index and
//! converts records to documents and back.

pub mod blocks;
pub mod containers;
pub mod histogram;
pub mod payload;
pub mod retention;
pub mod schema;
pub mod search;
pub mod writer;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tantivy::collector::Count;
use tantivy::directory::MmapDirectory;
use tantivy::query::AllQuery;
use tantivy::schema::document::Value as _;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument};

use crate::checkpoint::Position;
use crate::record::{Fields as RecordFields, Level, Record, Stream};
use containers::{ContainerTable, KeyCache};
use payload::CommitPayload;
use schema::{Fields, build_schema};

/// Why the index could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot use data dir {dir}: {source}")]
    DataDir { dir: String, source: std::io::Error },
    #[error("cannot open the index in {dir}: {source}")]
    Open {
        dir: String,
        source: tantivy::TantivyError,
    },
    #[error(
        "the index in {dir} was written by another version of wakeline (its schema differs; \
         this one writes schema {version}, which takes about half the disk): move it away or \
         choose another --data-dir, and the containers' logs still on this host are read again",
        version = schema::VERSION
    )]
    OtherSchema { dir: String },
    #[error("the index in {dir} has a bad commit payload: {detail}")]
    Payload { dir: String, detail: String },
    #[error("cannot start the indexer thread: {0}")]
    Thread(std::io::Error),
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

/// The open index: schema, field handles and a reader reloaded after every
/// commit by the writer thread.
pub struct LogIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    containers: ContainerTable,
    /// Columns and block summaries of the segments searched lately (see
    /// `blocks`).
    segments: Arc<blocks::Segments>,
}

impl std::fmt::Debug for LogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIndex").finish_non_exhaustive()
    }
}

impl LogIndex {
    /// Opens the index in `dir` (creating it if needed) and returns it with
    /// the payload of its last commit.
    pub fn open(dir: &Path) -> Result<(LogIndex, CommitPayload), IndexError> {
        let shown = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|source| IndexError::DataDir {
            dir: shown.clone(),
            source,
        })?;
        let directory = MmapDirectory::open(dir).map_err(|e| IndexError::DataDir {
            dir: shown.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let (schema, fields) = build_schema();
        let index = Index::builder()
            .schema(schema)
            .settings(schema::settings())
            .open_or_create(directory)
            .map_err(|source| match source {
                tantivy::TantivyError::SchemaError(_) => {
                    IndexError::OtherSchema { dir: shown.clone() }
                }
                source => IndexError::Open {
                    dir: shown.clone(),
                    source,
                },
            })?;
        let payload = match index.load_metas()?.payload {
            Some(text) => {
                CommitPayload::from_json(&text).map_err(|detail| IndexError::Payload {
                    dir: shown.clone(),
                    detail,
                })?
            }
            None => CommitPayload {
                version: CommitPayload::VERSION,
                ..CommitPayload::default()
            },
        };
        let containers = ContainerTable::new(
            payload.container_versions.clone(),
            payload.next_container_key,
        );
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok((
            LogIndex {
                index,
                reader,
                fields,
                containers,
                segments: Arc::default(),
            },
            payload,
        ))
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Every container version documents refer to (see `containers`).
    pub fn containers(&self) -> &ContainerTable {
        &self.containers
    }

    pub fn tantivy(&self) -> &Index {
        &self.index
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// What is kept of the segments between searches (see `blocks`).
    pub fn segments(&self) -> &Arc<blocks::Segments> {
        &self.segments
    }

    /// Makes the last commit visible to searches.
    pub fn reload(&self) -> tantivy::Result<()> {
        self.reader.reload()?;
        self.segments.keep_only(&self.reader.searcher());
        Ok(())
    }

    /// Number of committed records (a health probe that touches the index).
    pub fn count(&self) -> tantivy::Result<usize> {
        self.searcher().search(&AllQuery, &Count)
    }

    /// The tantivy document for a record; its container version gets a key
    /// in the table first if it is new (`keys` is the writer's cache).
    pub fn to_document(&self, record: &Record, keys: &mut KeyCache) -> TantivyDocument {
        let f = &self.fields;
        let c = &record.container;
        // Serialized in place: cloning the map into a `Value` and formatting
        // it through `Display` was a fifth of this function.
        let fields_json = if record.fields.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&record.fields).unwrap_or_default()
        };
        // Sized to what it will hold: `TantivyDocument::new()` reserves 1 KiB,
        // and the documents queued for tantivy's indexing threads (up to a
        // commit's worth) were a quarter of the collector's peak memory.
        let mut doc = TantivyDocument::with_capacity(document_bytes(record, &fields_json));
        doc.add_i64(f.ts, record.ts_ns);
        doc.add_u64(f.seq, record.seq);
        doc.add_u64(f.container_key, keys.key(&self.containers, c));
        doc.add_text(f.host, &c.host);
        doc.add_text(f.container_id, &c.id);
        doc.add_text(f.container, &c.name);
        doc.add_text(f.image, &c.image);
        doc.add_text(f.stream, record.stream.as_str());
        let optional = [
            (f.service, c.service.as_deref()),
            (f.project, c.project.as_deref()),
            (f.level, record.level.as_ref().map(Level::as_str)),
            (f.request_id, record.request_id.as_deref()),
            (f.trace_id, record.trace_id.as_deref()),
            (f.span_id, record.span_id.as_deref()),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                doc.add_text(field, value);
            }
        }
        doc.add_text(f.message, &record.message);
        if let Some(msg) = &record.msg {
            doc.add_text(f.msg, msg);
        }
        if !record.fields.is_empty() {
            // Borrowed: building an `OwnedValue` tree first copied every key
            // and value (a third of this function under callgrind).
            doc.add_field_value(f.fields, Json::Fields(&record.fields));
            doc.add_text(f.fields_json, &fields_json);
        }
        if let Some(raw) = &record.raw {
            doc.add_bytes(f.raw, raw);
        }
        if record.truncated {
            doc.add_bool(f.truncated, true);
        }
        if record.lines > 1 {
            doc.add_u64(f.lines, u64::from(record.lines));
        }
        // Its list of fields grew by doubling; the data is already exact.
        doc.shrink_to_fit();
        doc
    }

    /// The record at `address`: its stored document, `ts` and `seq` from
    /// their columns, its container from the table.
    pub fn load(&self, searcher: &Searcher, address: DocAddress) -> tantivy::Result<Record> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let columns = self
            .segments
            .columns(searcher.segment_reader(address.segment_ord))?;
        let ts_ns = columns.ts.first(address.doc_id).unwrap_or_default();
        let seq = columns.seq.first(address.doc_id).unwrap_or_default();
        Ok(self.to_record(&doc, ts_ns, seq))
    }

    /// Rebuilds a record from a stored document and its `ts` and `seq`.
    fn to_record(&self, doc: &TantivyDocument, ts_ns: i64, seq: u64) -> Record {
        let f = &self.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let container = self.containers.get(
            doc.get_first(f.container_key)
                .and_then(|v| v.as_u64())
                .unwrap_or(u64::MAX),
        );
        let fields = text(f.fields_json)
            .and_then(|json| serde_json::from_str::<RecordFields>(&json).ok())
            .unwrap_or_default();
        Record {
            ts_ns,
            seq,
            container,
            stream: text(f.stream)
                .as_deref()
                .and_then(Stream::parse)
                .unwrap_or(Stream::Stdout),
            level: text(f.level).as_deref().and_then(Level::parse),
            request_id: text(f.request_id),
            trace_id: text(f.trace_id),
            span_id: text(f.span_id),
            message: text(f.message).unwrap_or_default(),
            msg: text(f.msg),
            raw: doc
                .get_first(f.raw)
                .and_then(|v| v.as_bytes())
                .map(<[u8]>::to_vec),
            fields,
            truncated: doc
                .get_first(f.truncated)
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            lines: doc
                .get_first(f.lines)
                .and_then(|v| v.as_u64())
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1),
            position: Position::default(),
        }
    }
}

/// Bytes a record's document holds: tantivy writes each text as its
/// length (a VInt) and bytes, each number in 8 bytes, and each JSON object or
/// array as its members and then their 5-byte addresses.
fn document_bytes(record: &Record, fields_json: &str) -> usize {
    let c = &record.container;
    let texts = [
        Some(c.host.as_str()),
        Some(c.id.as_str()),
        Some(c.name.as_str()),
        Some(c.image.as_str()),
        Some(record.stream.as_str()),
        c.service.as_deref(),
        c.project.as_deref(),
        record.level.as_ref().map(Level::as_str),
        record.request_id.as_deref(),
        record.trace_id.as_deref(),
        record.span_id.as_deref(),
        Some(record.message.as_str()),
        record.msg.as_deref(),
    ];
    // ts, seq, the container key, and `lines` when the record has several.
    let mut bytes = if record.lines > 1 { 4 * 8 } else { 3 * 8 };
    bytes += texts
        .iter()
        .flatten()
        .map(|t| leaf_bytes(t.len()))
        .sum::<usize>();
    if !record.fields.is_empty() {
        bytes += leaf_bytes(fields_json.len());
        bytes += entries_bytes(
            record
                .fields
                .entries()
                .iter()
                .map(|(key, value)| (key.as_str(), value)),
        );
    }
    if let Some(raw) = &record.raw {
        bytes += leaf_bytes(raw.len());
    }
    bytes
}

/// A text or bytes value: its VInt length (7 bits a byte), then its bytes.
fn leaf_bytes(len: usize) -> usize {
    let bits = usize::BITS - (len | 1).leading_zeros();
    len + bits.div_ceil(7) as usize
}

/// Addresses: a type byte and a u32.
const ADDRESS_BYTES: usize = 5;

fn entries_bytes<'a>(entries: impl ExactSizeIterator<Item = (&'a str, &'a Value)>) -> usize {
    let addresses = 2 * ADDRESS_BYTES * entries.len();
    let members: usize = entries
        .map(|(key, value)| leaf_bytes(key.len()) + json_bytes(value))
        .sum();
    members + leaf_bytes(addresses)
}

fn json_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 0,
        Value::Number(_) => 8,
        Value::String(text) => leaf_bytes(text.len()),
        Value::Array(items) => {
            items.iter().map(json_bytes).sum::<usize>() + leaf_bytes(ADDRESS_BYTES * items.len())
        }
        Value::Object(map) => entries_bytes(map.iter().map(|(k, v)| (k.as_str(), v))),
    }
}

/// A record's structured fields as tantivy reads them, borrowed, and without
/// the RFC 3339 guessing tantivy's own `impl Value for &serde_json::Value`
/// does (a string field must stay a string to be searchable as text).
#[derive(Debug, Clone, Copy)]
enum Json<'a> {
    Value(&'a Value),
    Fields(&'a RecordFields),
}

/// The members of a JSON object: a record's fields, or a nested object.
enum JsonEntries<'a> {
    Fields(std::slice::Iter<'a, (String, Value)>),
    Map(serde_json::map::Iter<'a>),
}

impl<'a> Iterator for JsonEntries<'a> {
    type Item = (&'a str, Json<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = match self {
            JsonEntries::Fields(entries) => entries.next().map(|(k, v)| (k, v))?,
            JsonEntries::Map(entries) => entries.next()?,
        };
        Some((key.as_str(), Json::Value(value)))
    }
}

impl<'a> tantivy::schema::Value<'a> for Json<'a> {
    type ArrayIter = std::iter::Map<std::slice::Iter<'a, Value>, fn(&'a Value) -> Json<'a>>;
    type ObjectIter = JsonEntries<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        let value = match *self {
            Json::Fields(fields) => {
                return ReferenceValue::Object(JsonEntries::Fields(fields.entries().iter()));
            }
            Json::Value(value) => value,
        };
        match value {
            Value::Null => ReferenceValueLeaf::Null.into(),
            Value::Bool(b) => ReferenceValueLeaf::Bool(*b).into(),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    ReferenceValueLeaf::I64(i).into()
                } else if let Some(u) = n.as_u64() {
                    ReferenceValueLeaf::U64(u).into()
                } else {
                    ReferenceValueLeaf::F64(n.as_f64().unwrap_or_default()).into()
                }
            }
            Value::String(text) => ReferenceValueLeaf::Str(text).into(),
            Value::Array(items) => {
                let wrap: fn(&'a Value) -> Json<'a> = Json::Value;
                ReferenceValue::Array(items.iter().map(wrap))
            }
            Value::Object(map) => ReferenceValue::Object(JsonEntries::Map(map.iter())),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! An index on a temporary directory holding given records.

    use std::sync::Arc;

    use super::*;
    use crate::record::ContainerMeta;

    pub fn record(seq: u64, ts_ns: i64, container: &str, message: &str) -> Record {
        let line = crate::assemble::Line {
            stream: Stream::Stdout,
            ts_ns,
            bytes: message.as_bytes().to_vec(),
            truncated: false,
        };
        let meta = ContainerMeta {
            host: "h".into(),
            id: format!("id-{container}"),
            name: container.into(),
            image: "img".into(),
            service: Some(container.into()),
            project: Some("p".into()),
        };
        let mut record = crate::parse::parse_line(line, Arc::new(meta));
        record.seq = seq;
        record
    }

    pub fn index_with(records: &[Record]) -> (tempfile::TempDir, LogIndex) {
        index_in_segments(&[records])
    }

    /// An index with one segment per batch (one commit each, no merges).
    pub fn index_in_segments(batches: &[&[Record]]) -> (tempfile::TempDir, LogIndex) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (index, _) = LogIndex::open(dir.path()).expect("open index");
        let mut writer: tantivy::IndexWriter = index
            .tantivy()
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        let mut keys = KeyCache::default();
        for batch in batches {
            for record in *batch {
                writer
                    .add_document(index.to_document(record, &mut keys))
                    .expect("add");
            }
            writer.commit().expect("commit");
        }
        index.reload().expect("reload");
        (dir, index)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{index_in_segments, index_with, record};
    use super::*;
    use crate::checkpoint::ContainerState;
    use crate::query::{Cursor, SearchParams};
    use crate::record::ContainerMeta;

    #[test]
    fn record_survives_the_round_trip_through_the_index() {
        let mut original = record(
            3,
            42,
            "web",
            r#"{"level":"error","msg":"x","n":{"a":[1,2]}}"#,
        );
        original.raw = Some(vec![0xff]);
        original.truncated = true;
        let (_dir, index) = index_with(std::slice::from_ref(&original));
        let page = index
            .search(&SearchParams {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.hits, vec![original]);
    }

    #[test]
    fn a_renamed_container_keeps_each_lines_name_and_both_names_filter() {
        let before = record(1, 10, "web", "INFO before the rename");
        let mut after = record(2, 20, "web", "INFO after the rename");
        // Same container ID, new name and service: a new version.
        after.container = std::sync::Arc::new(ContainerMeta {
            name: "web-2".into(),
            service: Some("web-2".into()),
            ..(*before.container).clone()
        });
        let (dir, index) = index_with(&[before.clone(), after.clone()]);
        let names = |index: &LogIndex, p: SearchParams| -> Vec<String> {
            let page = index
                .search(&SearchParams {
                    limit: 10,
                    ascending: true,
                    ..p
                })
                .unwrap();
            page.hits.iter().map(|r| r.container.name.clone()).collect()
        };
        assert_eq!(names(&index, SearchParams::default()), ["web", "web-2"]);
        let by_name = |name: &str| SearchParams {
            container: vec![name.into()],
            ..Default::default()
        };
        assert_eq!(names(&index, by_name("web")), ["web"]);
        assert_eq!(names(&index, by_name("web-2")), ["web-2"]);
        let by_q = |q: &str| SearchParams {
            q: Some(q.into()),
            ..Default::default()
        };
        assert_eq!(names(&index, by_q("service:web-2")), ["web-2"]);
        assert_eq!(
            names(&index, by_q("image:img AND rename")),
            ["web", "web-2"]
        );
        let hits = index
            .search(&SearchParams {
                limit: 10,
                ..by_name("web-2")
            })
            .unwrap()
            .hits;
        assert_eq!(hits, vec![after]);
        // The table is what the commit payload keeps: a reopened index
        // resolves the same keys.
        let stored = index.containers().to_stored();
        assert_eq!(stored.len(), 2);
        let reopened = ContainerTable::new(stored, 0);
        assert_eq!(*reopened.get(0), *before.container);
        drop(dir);
    }

    #[test]
    fn hits_are_ordered_by_ts_then_seq_and_pages_cover_everything_once() {
        // Equal timestamps on purpose: seq must break the ties.
        let records: Vec<Record> = (0..25)
            .map(|i| record(i + 1, (i as i64 / 3) * 10, "web", &format!("line {i}")))
            .collect();
        let (_dir, index) = index_with(&records);
        for ascending in [true, false] {
            let mut seen = Vec::new();
            let mut cursor: Option<Cursor> = None;
            loop {
                let params = SearchParams {
                    limit: 4,
                    ascending,
                    cursor,
                    ..Default::default()
                };
                let page = index.search(&params).unwrap();
                assert_eq!(page.total, 25);
                seen.extend(page.hits.iter().map(|r| r.seq));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let mut expected: Vec<u64> = (1..=25).collect();
            if !ascending {
                expected.reverse();
            }
            assert_eq!(seen, expected, "ascending={ascending}");
        }
    }

    /// The (`ts`, `seq`) of `records` in a search's order.
    fn in_order<'a>(
        records: impl Iterator<Item = &'a &'a Record>,
        ascending: bool,
    ) -> Vec<(i64, u64)> {
        let mut keys: Vec<(i64, u64)> = records.map(|r| (r.ts_ns, r.seq)).collect();
        keys.sort_unstable();
        if !ascending {
            keys.reverse();
        }
        keys
    }

    /// Pages are collected from the newest segment on and stop at the
    /// segments that cannot hold a hit of the page: across segments whose
    /// time spans overlap and were written out of order, every page is still
    /// exactly the full sort's, in both orders, with a filter.
    #[test]
    fn pages_across_segments_are_the_full_sorts() {
        let mut seq = 0;
        // Records stamped from..to every `step`, `each` per stamp.
        let mut span = |from: i64, to: i64, step: i64, each: usize| -> Vec<Record> {
            (from..to)
                .step_by(step as usize)
                .flat_map(|ts| std::iter::repeat_n(ts, each))
                .map(|ts| {
                    seq += 1;
                    let word = if seq % 3 == 0 { "odd" } else { "even" };
                    record(seq, ts, "web", &format!("{word} line {seq}"))
                })
                .collect()
        };
        // Two segments that tie at one ts, their seqs interleaved: whichever
        // is read first, the other holds hits that rank between its own, so
        // a page ending at that ts must read both.
        let interleaved = |records: Vec<Record>| -> [Vec<Record>; 2] {
            let (even, odd) = records.into_iter().partition(|r| r.seq % 2 == 0);
            [even, odd]
        };
        let [at_300_a, at_300_b] = interleaved(span(300, 301, 1, 24));
        let [at_320_a, at_320_b] = interleaved(span(320, 321, 1, 24));
        // Written out of time order, overlapping; ascending, the segment
        // from 290 is read first and stops at 320.
        let batches = [
            span(500, 600, 1, 1),
            span(0, 100, 1, 1),
            span(550, 700, 3, 1),
            span(90, 110, 1, 1),
            at_300_a,
            at_300_b,
            [span(290, 291, 1, 1), at_320_a].concat(),
            at_320_b,
        ];
        let all: Vec<&Record> = batches.iter().flatten().collect();
        let slices: Vec<&[Record]> = batches.iter().map(Vec::as_slice).collect();
        let (_dir, index) = index_in_segments(&slices);
        assert_eq!(index.searcher().segment_readers().len(), batches.len());
        for q in [None, Some("odd")] {
            for ascending in [true, false] {
                let expected = in_order(
                    all.iter()
                        .filter(|r| q.is_none_or(|q| r.message.starts_with(q))),
                    ascending,
                );
                let mut seen = Vec::new();
                let mut cursor = None;
                loop {
                    let page = index
                        .search(&SearchParams {
                            q: q.map(str::to_owned),
                            limit: 7,
                            ascending,
                            cursor,
                            ..Default::default()
                        })
                        .unwrap();
                    assert_eq!(page.total, expected.len());
                    seen.extend(page.hits.iter().map(|r| (r.ts_ns, r.seq)));
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                assert_eq!(seen, expected, "q={q:?} ascending={ascending}");
            }
        }
    }

    /// Pages collected from a time window (see `search::in_window`), with
    /// and without filters, ranges and cursors, in both orders, are the
    /// full sort's: segments out of time order, a backlog stamped across the
    /// others, and runs of equal timestamps.
    #[test]
    fn windowed_pages_are_the_full_sorts() {
        let mut seq = 0;
        // "rare" mostly in the oldest records, a few in the newest: a window
        // sized by its overall rate finds too few of them, but some.
        let mut make = |ts: i64, rare: bool| {
            seq += 1;
            let word = match seq {
                s if rare && s % 10 == 0 => "rare",
                s if s % 3 == 0 => "odd",
                _ => "even",
            };
            record(seq, ts, "web", &format!("{word} line {seq}"))
        };
        let recent: Vec<Record> = (0..3_000)
            .map(|i| make(40_000 + i * 10, i % 600 == 599))
            .collect();
        let older: Vec<Record> = (0..3_000)
            .map(|i| make(i * 10 + i % 7, i < 1_000))
            .collect();
        let backlog: Vec<Record> = (0..2_000)
            .map(|i| make((i * 7_919) % 70_000, false))
            .collect();
        let ties: Vec<Record> = (0..400)
            .map(|i| make(55_000 + (i / 100) * 10, false))
            .collect();
        let batches = [recent, older, backlog, ties];
        let all: Vec<&Record> = batches.iter().flatten().collect();
        let slices: Vec<&[Record]> = batches.iter().map(Vec::as_slice).collect();
        let (_dir, index) = index_in_segments(&slices);
        let ranges = [
            (None, None),
            (Some(20_000), Some(56_000)),
            (Some(55_010), None),
        ];
        for q in [None, Some("odd"), Some("rare")] {
            for (since, until) in ranges {
                for ascending in [true, false] {
                    let expected = in_order(
                        all.iter()
                            .filter(|r| q.is_none_or(|q| r.message.starts_with(q)))
                            .filter(|r| since.is_none_or(|s| r.ts_ns >= s))
                            .filter(|r| until.is_none_or(|u| r.ts_ns <= u)),
                        ascending,
                    );
                    let mut seen = Vec::new();
                    let mut cursor = None;
                    // The first pages and the last: a cursor deep in the past.
                    while seen.len() < expected.len() {
                        let page = index
                            .search(&SearchParams {
                                q: q.map(str::to_owned),
                                since_ns: since,
                                until_ns: until,
                                limit: 10,
                                ascending,
                                cursor,
                                ..Default::default()
                            })
                            .unwrap();
                        assert_eq!(page.total, expected.len());
                        seen.extend(page.hits.iter().map(|r| (r.ts_ns, r.seq)));
                        let Some(next) = page.next_cursor else { break };
                        cursor = Some(next);
                        if seen.len() == 200 && expected.len() > 600 {
                            let (ts_ns, seq) = expected[expected.len() - 300];
                            seen.extend_from_slice(&expected[200..expected.len() - 299]);
                            cursor = Some(Cursor { ts_ns, seq });
                        }
                    }
                    assert_eq!(
                        seen, expected,
                        "q={q:?} {since:?}..{until:?} asc={ascending}"
                    );
                }
            }
        }
    }

    #[test]
    fn filters_and_request_ids_narrow_the_hits() {
        let records = vec![
            record(1, 1, "web", "INFO hello request_id=r1"),
            record(2, 2, "api", "ERROR failed request_id=r1"),
            record(
                3,
                3,
                "api",
                r#"{"msg":"x","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
            ),
        ];
        let (_dir, index) = index_with(&records);
        let count = |p: SearchParams| {
            index
                .search(&SearchParams { limit: 10, ..p })
                .unwrap()
                .total
        };
        assert_eq!(
            count(SearchParams {
                request_id: Some("r1".into()),
                ..Default::default()
            }),
            2
        );
        assert_eq!(
            count(SearchParams {
                request_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(SearchParams {
                container: vec!["api".into()],
                ..Default::default()
            }),
            2
        );
        // Two values are a union of postings; forty, a term set.
        for others in [1, 39] {
            let mut container: Vec<String> = (0..others).map(|i| format!("none-{i}")).collect();
            container.insert(others / 2, "web".into());
            assert_eq!(
                count(SearchParams {
                    container,
                    ..Default::default()
                }),
                1
            );
        }
        assert_eq!(
            count(SearchParams {
                level: vec!["error".into()],
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(SearchParams {
                since_ns: Some(2),
                until_ns: Some(2),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(SearchParams {
                max_seq: Some(1),
                ..Default::default()
            }),
            1
        );
        assert!(
            index
                .search(&SearchParams {
                    q: Some("message:(".into()),
                    ..Default::default()
                })
                .is_err()
        );
    }

    #[test]
    fn payload_is_read_back_from_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (index, payload) = LogIndex::open(dir.path()).unwrap();
        assert_eq!(payload.next_seq, 0);
        let mut writer: tantivy::IndexWriter = index
            .tantivy()
            .writer_with_num_threads(1, 15_000_000)
            .unwrap();
        writer
            .add_document(index.to_document(&record(1, 5, "web", "x"), &mut KeyCache::default()))
            .unwrap();
        let mut state = ContainerState::default();
        state.take(5, &ContainerMeta::default(), &Position::default());
        let written = CommitPayload {
            version: CommitPayload::VERSION,
            next_seq: 2,
            containers: std::collections::BTreeMap::from([("id-web".to_owned(), state)]),
            container_versions: index.containers().to_stored(),
            next_container_key: index.containers().next_key(),
        };
        let mut prepared = writer.prepare_commit().unwrap();
        prepared.set_payload(&written.to_json());
        prepared.commit().unwrap();
        drop(writer);
        drop(index);
        let (_index, read) = LogIndex::open(dir.path()).unwrap();
        assert_eq!(read, written);
    }
}

//! The tantivy schema, built in one place, and the handles to its fields.
//!
//! Every record field the API filters on exactly (container, level, request
//! ID, …) is a raw term; `message` (the line) and `msg` (the app's message)
//! are tokenized text; structured fields live in one JSON field so
//! `fields.user_id:42` works in queries. The JSON is also stored as a string,
//! so a hit is rebuilt exactly as it was parsed.
//!
//! What is kept per document is kept small, because the index is most of what
//! Wakeline costs on disk (issue 19; `wakeline-bench pipeline` prints where the
//! bytes go):
//!
//! - The container's fields (host, ID, name, image, service, project) are the
//!   same on every line of a container: they are indexed, so filters and the
//!   query language find them, but stored once per container version in the
//!   commit payload ([`super::containers`]) and only a small key per document.
//! - `ts` and `seq` are fast fields only: every search sorts on them, ranges
//!   run on the columns, and a hit reads them from there; an inverted index of
//!   values that are unique per line cost 10 bytes a line.
//! - No field norms: hits are ordered by time, never by relevance.
//! - The document store is zstd-compressed in larger blocks ([`settings`]).

use tantivy::IndexSettings;
use tantivy::schema::{
    FAST, Field, IndexRecordOption, JsonObjectOptions, NumericOptions, STORED, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::store::{Compressor, ZstdCompressor};

/// Names of the fields, as the query language and the API know them.
pub mod name {
    pub const TS: &str = "ts";
    pub const SEQ: &str = "seq";
    /// Not a record field: the key of the container version (see `containers`).
    pub const CONTAINER_KEY: &str = "container_key";
    pub const HOST: &str = "host";
    pub const CONTAINER_ID: &str = "container_id";
    pub const CONTAINER: &str = "container";
    pub const IMAGE: &str = "image";
    pub const SERVICE: &str = "service";
    pub const PROJECT: &str = "project";
    pub const STREAM: &str = "stream";
    pub const LEVEL: &str = "level";
    pub const REQUEST_ID: &str = "request_id";
    pub const TRACE_ID: &str = "trace_id";
    pub const SPAN_ID: &str = "span_id";
    pub const MESSAGE: &str = "message";
    pub const MSG: &str = "msg";
    pub const FIELDS: &str = "fields";
    pub const FIELDS_JSON: &str = "fields_json";
    pub const RAW: &str = "raw";
    pub const TRUNCATED: &str = "truncated";
    pub const LINES: &str = "lines";
}

/// Handles to every field of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub ts: Field,
    pub seq: Field,
    /// The document's container version, a key into [`super::containers`].
    pub container_key: Field,
    pub host: Field,
    pub container_id: Field,
    pub container: Field,
    pub image: Field,
    pub service: Field,
    pub project: Field,
    pub stream: Field,
    pub level: Field,
    pub request_id: Field,
    pub trace_id: Field,
    pub span_id: Field,
    pub message: Field,
    pub msg: Field,
    pub fields: Field,
    pub fields_json: Field,
    pub raw: Field,
    pub truncated: Field,
    /// Stored only for a record of several lines (a joined stack trace).
    pub lines: Field,
}

impl Fields {
    /// The raw (exact-match) string fields, in the order the query parser and
    /// the live filter treat them alike.
    pub fn raw_terms(&self) -> [Field; 11] {
        [
            self.host,
            self.container_id,
            self.container,
            self.image,
            self.service,
            self.project,
            self.stream,
            self.level,
            self.request_id,
            self.trace_id,
            self.span_id,
        ]
    }
}

/// Version of the schema: written in the commit payload, and named in the
/// message that refuses an index of another version.
pub const VERSION: u32 = 2;

/// Raw (exact-match) terms without field norms; `stored` for the record's own
/// fields, not for the container's (those are resolved by key at read time).
fn raw_options(stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

/// Tokenized text with positions (phrases), stored, without field norms.
fn text_options() -> TextOptions {
    TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions)
                .set_fieldnorms(false),
        )
        .set_stored()
}

/// How documents are stored: zstd in 64 KiB blocks, where lz4 in 16 KiB
/// blocks took 34 bytes a line of the ingest benchmark's. A hit read from
/// the store decompresses its block (tens of µs), and tantivy caches blocks.
pub fn settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(ZSTD_LEVEL),
        }),
        docstore_blocksize: STORE_BLOCK_BYTES,
        ..IndexSettings::default()
    }
}

const ZSTD_LEVEL: i32 = 3;
const STORE_BLOCK_BYTES: usize = 64 * 1024;

/// Builds the schema and returns it with its field handles.
pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let record = raw_options(true);
    let container = raw_options(false);
    // Fast as well, so that ranges work on structured fields
    // (`fields.duration_ms:[500 TO *]`).
    let json_options = JsonObjectOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions)
                .set_fieldnorms(false),
        )
        .set_fast("raw");
    let fields = Fields {
        ts: b.add_i64_field(name::TS, FAST),
        seq: b.add_u64_field(name::SEQ, FAST),
        container_key: b.add_u64_field(name::CONTAINER_KEY, STORED),
        host: b.add_text_field(name::HOST, container.clone()),
        container_id: b.add_text_field(name::CONTAINER_ID, container.clone()),
        container: b.add_text_field(name::CONTAINER, container.clone()),
        image: b.add_text_field(name::IMAGE, container.clone()),
        service: b.add_text_field(name::SERVICE, container.clone()),
        project: b.add_text_field(name::PROJECT, container),
        stream: b.add_text_field(name::STREAM, record.clone()),
        // Fast too: the volume chart counts lines per level (aggregations).
        level: b.add_text_field(name::LEVEL, record.clone().set_fast("raw")),
        request_id: b.add_text_field(name::REQUEST_ID, record.clone()),
        trace_id: b.add_text_field(name::TRACE_ID, record.clone()),
        span_id: b.add_text_field(name::SPAN_ID, record),
        message: b.add_text_field(name::MESSAGE, text_options()),
        // Tokenized with positions like `message`, so `msg:"a phrase"` works
        // and free text over the default fields finds the message as the app
        // wrote it (JSON escapes undone, a Serilog template rendered).
        msg: b.add_text_field(name::MSG, text_options()),
        fields: b.add_json_field(name::FIELDS, json_options),
        fields_json: b.add_text_field(name::FIELDS_JSON, TextOptions::default().set_stored()),
        raw: b.add_bytes_field(name::RAW, STORED),
        truncated: b.add_bool_field(
            name::TRUNCATED,
            NumericOptions::default().set_indexed().set_stored(),
        ),
        lines: b.add_u64_field(name::LINES, STORED),
    };
    (b.build(), fields)
}

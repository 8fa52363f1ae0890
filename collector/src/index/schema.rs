//! The tantivy schema, built in one place, and the handles to its fields.
//!
//! Every record field the API filters on exactly (container, level, request
//! ID, …) is a raw `STRING` term; `message` (the line) and `msg` (the app's
//! message) are tokenized text; structured fields live in one JSON field so
//! `fields.user_id:42` works in queries. The
//! JSON is also stored as a string, so a hit is rebuilt exactly as it was
//! parsed. `ts` and `seq` are fast fields: every search sorts on them.

use tantivy::schema::{
    FAST, Field, INDEXED, JsonObjectOptions, STORED, STRING, Schema, TEXT, TextFieldIndexing,
    TextOptions,
};

/// Names of the fields, as the query language and the API know them.
pub mod name {
    pub const TS: &str = "ts";
    pub const SEQ: &str = "seq";
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

/// Builds the schema and returns it with its field handles.
pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let raw = STRING | STORED;
    // Fast as well, so that ranges work on structured fields
    // (`fields.duration_ms:[500 TO *]`).
    let json_options = JsonObjectOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(tantivy::schema::IndexRecordOption::WithFreqsAndPositions),
        )
        .set_fast("raw");
    let fields = Fields {
        ts: b.add_i64_field(name::TS, INDEXED | FAST | STORED),
        seq: b.add_u64_field(name::SEQ, INDEXED | FAST | STORED),
        host: b.add_text_field(name::HOST, raw.clone()),
        container_id: b.add_text_field(name::CONTAINER_ID, raw.clone()),
        container: b.add_text_field(name::CONTAINER, raw.clone()),
        image: b.add_text_field(name::IMAGE, raw.clone()),
        service: b.add_text_field(name::SERVICE, raw.clone()),
        project: b.add_text_field(name::PROJECT, raw.clone()),
        stream: b.add_text_field(name::STREAM, raw.clone()),
        // Fast too: the volume chart counts lines per level (aggregations).
        level: b.add_text_field(name::LEVEL, raw.clone() | FAST),
        request_id: b.add_text_field(name::REQUEST_ID, raw.clone()),
        trace_id: b.add_text_field(name::TRACE_ID, raw.clone()),
        span_id: b.add_text_field(name::SPAN_ID, raw),
        message: b.add_text_field(name::MESSAGE, TEXT | STORED),
        // Tokenized with positions like `message`, so `msg:"a phrase"` works
        // and free text over the default fields finds the message as the app
        // wrote it (JSON escapes undone, a Serilog template rendered).
        msg: b.add_text_field(name::MSG, TEXT | STORED),
        fields: b.add_json_field(name::FIELDS, json_options),
        fields_json: b.add_text_field(name::FIELDS_JSON, TextOptions::default().set_stored()),
        raw: b.add_bytes_field(name::RAW, STORED),
        truncated: b.add_bool_field(name::TRUNCATED, INDEXED | STORED),
        lines: b.add_u64_field(name::LINES, STORED),
    };
    (b.build(), fields)
}

//! Wakeline collector: every Docker container's log lines, indexed once,
//! searchable by request ID, streamed live.
//!
//! The modules follow the data flow (DESIGN.md):
//! `source` (Docker) → `assemble` (whole lines) → `parse` (records) and
//! `multiline` (a stack trace's lines joined into one record) →
//! `sequence` (numbering) → `live` (the hub browsers subscribe to) and
//! `index` (tantivy) → `api` (HTTP and WebSocket).
//!
//! The contracts between stages live beside them, not inside one stage:
//! `record` (what a line becomes), `checkpoint` (how far a container was
//! taken: the source resumes from it, the index commits it), `ledger` (the
//! per-container state both read), `query` (what a search asks for: the API,
//! the index and the live `filter` share it).

pub mod api;
pub mod assemble;
pub mod checkpoint;
pub mod config;
pub mod filter;
pub mod index;
pub mod ledger;
pub mod live;
pub mod metrics;
pub mod multiline;
pub mod parse;
pub mod query;
pub mod record;
pub mod redact;
pub mod sequence;
pub mod source;
pub mod timefmt;
pub mod trace;

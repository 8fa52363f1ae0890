//! Wakeline collector: every Docker container's log lines, indexed once,
//! searchable by request ID, streamed live.
//!
//! The modules follow the data flow (DESIGN.md):
//! `source` (Docker) → `assemble` (whole lines) → `parse` (records) →
//! `sequence` (numbering) → `live` (the hub browsers subscribe to) and
//! `index` (tantivy, checkpoints) → `api` (HTTP and WebSocket).

pub mod api;
pub mod assemble;
pub mod config;
pub mod filter;
pub mod index;
pub mod live;
pub mod metrics;
pub mod parse;
pub mod record;
pub mod sequence;
pub mod source;
pub mod timefmt;

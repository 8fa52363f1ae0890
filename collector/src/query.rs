//! What a search asks for: the parameters shared by `/api/search`, the live
//! filter and the live tail, and the cursor that ends a page. Plain data, so
//! that the API and the live filter do not depend on how the index runs it.

/// Most hits one call returns.
pub const MAX_LIMIT: usize = 10_000;
/// Longest `q` accepted.
pub const MAX_QUERY_LEN: usize = 4096;

/// Where a page ends: the last hit's sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub ts_ns: i64,
    pub seq: u64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.ts_ns, self.seq)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (ts, seq) = text.split_once('.')?;
        Some(Cursor {
            ts_ns: ts.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// A search, as the API and the live tail ask for it.
#[derive(Debug, Clone, Default)]
pub struct SearchParams {
    pub q: Option<String>,
    /// Matches `request_id` or `trace_id`.
    pub request_id: Option<String>,
    pub container: Vec<String>,
    pub service: Vec<String>,
    pub level: Vec<String>,
    pub stream: Vec<String>,
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
    pub ascending: bool,
    /// Only records with seq ≤ this (the live tail's seam).
    pub max_seq: Option<u64>,
    /// Only records with seq > this (a follow's seam: what a search's
    /// snapshot did not hold).
    pub after_seq: Option<u64>,
}

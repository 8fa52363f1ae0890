//! What a search asks for: the parameters shared by `/api/search`, the live
//! filter and the live tail, and the cursor that ends a page. Plain data, so
//! that the API and the live filter do not depend on how the index runs it.

/// Most hits one call returns.
pub const MAX_LIMIT: usize = 10_000;
/// Longest `q` accepted.
pub const MAX_QUERY_LEN: usize = 4096;
/// Deepest nesting of `q` accepted ([`query_depth`]). tantivy's query
/// grammar, the query built from it and the live filter all recurse once per
/// level: about 300 levels exhaust a 2 MiB thread stack in a debug build,
/// and a stack overflow aborts the whole collector. Real queries nest a few.
pub const MAX_QUERY_DEPTH: usize = 40;

/// How deep `q` nests: open parentheses plus the unary operators (`NOT`,
/// `-`, `+`) waiting for their operand, at the deepest point. Quoted phrases
/// and `/regex/`s are skipped. An estimate from the bytes, made before
/// anything recursive sees the query.
pub fn query_depth(q: &str) -> usize {
    let bytes = q.as_bytes();
    // Unary operators pending at each enclosing parenthesis, and here.
    let mut enclosing: Vec<usize> = Vec::new();
    let mut pending = 0;
    let mut deepest = 0;
    let mut i = 0;
    while i < bytes.len() {
        let at_token_start = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'(' | b'\n');
        match bytes[i] {
            b'(' => {
                enclosing.push(pending);
                pending = 0;
            }
            b')' => {
                enclosing.pop();
                pending = 0;
            }
            b'"' | b'/' if at_token_start || bytes[i - 1] == b':' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                pending = 0;
            }
            b'-' | b'+' if at_token_start => pending += 1,
            b'N' if at_token_start && bytes[i..].starts_with(b"NOT") => {
                if bytes
                    .get(i + 3)
                    .is_none_or(|b| matches!(b, b' ' | b'(' | b'-' | b'+'))
                {
                    pending += 1;
                }
                i += 2;
            }
            b' ' | b'\t' | b'\n' => {}
            _ => pending = 0,
        }
        let depth = enclosing.len() + enclosing.iter().sum::<usize>() + pending;
        deepest = deepest.max(depth);
        i += 1;
    }
    deepest
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_depth_counts_parentheses_and_pending_unary_operators() {
        assert_eq!(query_depth(""), 0);
        assert_eq!(query_depth("a b c"), 0);
        assert_eq!(query_depth("a AND NOT b AND NOT c"), 1);
        assert_eq!(query_depth("(a OR b) AND (c OR d)"), 1);
        assert_eq!(query_depth("((a))"), 2);
        assert_eq!(query_depth("NOT NOT NOT a"), 3);
        assert_eq!(query_depth("-(-(-a))"), 5);
        assert_eq!(query_depth("request_id:0190a5c4-9a8e-7cc2 NOTICE"), 0);
        assert_eq!(query_depth("\"((( NOT\" message:/((a))/"), 0);
        assert_eq!(query_depth(&"(".repeat(4000)), 4000);
    }
}

//! Web server access lines: the Common and Combined Log Formats that nginx
//! and Apache write by default,
//! `host ident user [date] "request" status size ["referer" "agent" …]`.
//!
//! The status gives the level (5xx error, 4xx warn, else info), so a level
//! filter finds a proxy's failures. nginx's `$request_id` (32 hex) is the
//! request ID when the format appends it, bare or as `request_id=`. The line
//! is its own message.

use super::Extracted;
use super::text::{REQUEST_ID_KEYS, find_key_value};
use crate::record::Level;

/// The extraction for an access line, `None` if `text` is not one.
pub(super) fn parse(text: &str) -> Option<Extracted> {
    // host ident user
    let mut rest = text;
    for _ in 0..3 {
        let end = rest.find(' ')?;
        if end == 0 {
            return None;
        }
        rest = &rest[end + 1..];
    }
    // [10/Oct/2000:13:55:36 -0700]
    let date = rest.strip_prefix('[')?;
    let close = date.find(']')?;
    if close > 40 || !date[..close].contains('/') || !date[..close].contains(':') {
        return None;
    }
    // "GET / HTTP/1.1" (nginx escapes quotes inside as \x22)
    let request = date[close + 1..].strip_prefix(" \"")?;
    let end = request.find('"')?;
    let rest = request[end + 1..].strip_prefix(' ')?;
    let status = rest.get(..3)?;
    if !status.bytes().all(|c| c.is_ascii_digit())
        || rest.as_bytes().get(3).is_some_and(|c| *c != b' ')
    {
        return None;
    }
    let level = match status.as_bytes()[0] {
        b'5' => Level::Error,
        b'4' => Level::Warn,
        b'1'..=b'3' => Level::Info,
        _ => return None,
    };
    let tail = &rest[3..];
    let request_id = find_key_value(tail, REQUEST_ID_KEYS).or_else(|| {
        let last = tail.rsplit(' ').next()?.trim_matches('"');
        (last.len() == 32 && last.bytes().all(|c| c.is_ascii_hexdigit())).then(|| last.to_owned())
    });
    Some(Extracted {
        level: Some(level),
        request_id,
        ..Extracted::default()
    })
}

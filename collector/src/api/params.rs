//! Query-string parameters: the filters shared by `/api/search`, `/api/live`,
//! `/api/histogram` and `/api/export`, and what each adds (`limit`, `tail`,
//! `after_seq`, `buckets`, `format`, `before`/`after` of `/api/context`).
//!
//! The query string is decoded by hand (`form_urlencoded`) rather than by an
//! extractor so that every mistake — an unknown name, a limit that is not a
//! number, a time that is neither RFC 3339 nor a duration — becomes our own
//! 400 with a sentence saying what was expected, not a framework's plain text.

use crate::index::histogram::MAX_BUCKETS;
use crate::query::{Cursor, MAX_LIMIT, SearchParams};
use crate::record::{Level, Stream};
use crate::timefmt::{now_ns, parse_point_in_time};

use super::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Longest ID accepted in `request_id` or `/api/requests/{id}`.
pub const MAX_ID_LEN: usize = 256;

/// Filter names both endpoints accept.
const FILTERS: &[&str] = &["q", "request_id", "container", "service", "level", "stream"];

/// Decodes a raw query string into pairs (lossy for invalid UTF-8, which the
/// checks below then reject or treat as text).
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Checks an ID given by a client (request ID or trace ID).
pub fn validate_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid request id",
            format!(
                "expected 1 to {MAX_ID_LEN} printable characters, found {} bytes",
                id.len()
            ),
        ));
    }
    Ok(())
}

/// Applies one filter parameter; false if `name` is not a filter.
fn apply_filter(p: &mut SearchParams, name: &str, value: &str) -> Result<bool, ApiError> {
    match name {
        "q" => p.q = Some(value.to_owned()),
        "request_id" => {
            validate_id(value)?;
            p.request_id = Some(value.to_owned());
        }
        "container" => p.container.extend(list(value)),
        "service" => p.service.extend(list(value)),
        "level" => {
            for level in list(value) {
                let normalized = Level::parse(&level).ok_or_else(|| {
                    ApiError::bad(
                        "invalid level",
                        format!("expected a level such as error or warn, found {level:?}"),
                    )
                })?;
                p.level.push(normalized.as_str().to_owned());
            }
        }
        "stream" => {
            for stream in list(value) {
                let parsed = Stream::parse(&stream).ok_or_else(|| {
                    ApiError::bad(
                        "invalid stream",
                        format!("expected stdout or stderr, found {stream:?}"),
                    )
                })?;
                p.stream.push(parsed.as_str().to_owned());
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A search-shaped query string: the filters, `since` and `until`, and the
/// names in `extra`, each handed to `take`; anything else is refused.
fn parse_with(
    raw: Option<&str>,
    mut p: SearchParams,
    extra: &[&str],
    mut take: impl FnMut(&mut SearchParams, &str, &str) -> Result<(), ApiError>,
) -> Result<SearchParams, ApiError> {
    let now = now_ns();
    for (name, value) in pairs(raw) {
        if apply_filter(&mut p, &name, &value)? {
            continue;
        }
        match name.as_str() {
            "since" => p.since_ns = Some(point(&name, &value, now)?),
            "until" => p.until_ns = Some(point(&name, &value, now)?),
            other if extra.contains(&other) => take(&mut p, other, &value)?,
            other => {
                let mut known = vec!["since", "until"];
                known.extend_from_slice(extra);
                return Err(unknown(other, &known));
            }
        }
    }
    if let (Some(since), Some(until)) = (p.since_ns, p.until_ns)
        && since > until
    {
        return Err(ApiError::bad("invalid time range", "since is after until"));
    }
    Ok(p)
}

/// A whole number from `min` to `max`, or a 400 (`invalid <name>`).
fn number(error: &'static str, value: &str, min: usize, max: usize) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad(
                error,
                format!("expected a whole number from {min} to {max}, found {value:?}"),
            )
        })
}

/// `asc` or `desc`.
fn ascending(value: &str) -> Result<bool, ApiError> {
    match value {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(ApiError::bad(
            "invalid order",
            format!("expected asc or desc, found {other:?}"),
        )),
    }
}

/// Parameters of `/api/search`.
pub fn search_params(raw: Option<&str>) -> Result<SearchParams, ApiError> {
    let start = SearchParams {
        limit: DEFAULT_LIMIT,
        ..SearchParams::default()
    };
    parse_with(
        raw,
        start,
        &["limit", "cursor", "order"],
        |p, name, value| {
            match name {
                "limit" => p.limit = number("invalid limit", value, 0, MAX_LIMIT)?,
                "cursor" => {
                    p.cursor = Some(Cursor::decode(value).ok_or_else(|| {
                        ApiError::bad(
                            "invalid cursor",
                            "expected the next_cursor value of a previous page",
                        )
                    })?);
                }
                _ => p.ascending = ascending(value)?,
            }
            Ok(())
        },
    )
}

/// Default number of bars of `/api/histogram`.
pub const DEFAULT_BUCKETS: usize = 60;

/// Parameters of `/api/histogram`: the search filters and `buckets`.
pub fn histogram_params(raw: Option<&str>) -> Result<(SearchParams, usize), ApiError> {
    let mut buckets = DEFAULT_BUCKETS;
    let p = parse_with(raw, SearchParams::default(), &["buckets"], |_, _, value| {
        buckets = number("invalid buckets", value, 1, MAX_BUCKETS)?;
        Ok(())
    })?;
    Ok((p, buckets))
}

/// What `/api/export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One record's JSON per line.
    Ndjson,
    /// `<ts> <container> <stream> <message>` per line.
    Text,
}

/// Parameters of `/api/export`: the search filters, `order` and `format`.
pub fn export_params(raw: Option<&str>) -> Result<(SearchParams, ExportFormat), ApiError> {
    let mut format = ExportFormat::Ndjson;
    let p = parse_with(
        raw,
        SearchParams::default(),
        &["order", "format"],
        |p, name, value| {
            if name == "order" {
                p.ascending = ascending(value)?;
                return Ok(());
            }
            format = match value {
                "ndjson" => ExportFormat::Ndjson,
                "text" => ExportFormat::Text,
                other => {
                    return Err(ApiError::bad(
                        "invalid format",
                        format!("expected ndjson or text, found {other:?}"),
                    ));
                }
            };
            Ok(())
        },
    )?;
    Ok((p, format))
}

/// Default and largest number of lines on each side in `/api/context`.
pub const DEFAULT_CONTEXT: usize = 20;
pub const MAX_CONTEXT: usize = 1000;

/// Parameters of `/api/context/{seq}`: `before` and `after`.
pub fn context_params(raw: Option<&str>) -> Result<(usize, usize), ApiError> {
    let (mut before, mut after) = (DEFAULT_CONTEXT, DEFAULT_CONTEXT);
    for (name, value) in pairs(raw) {
        match name.as_str() {
            "before" => before = number("invalid before", &value, 0, MAX_CONTEXT)?,
            "after" => after = number("invalid after", &value, 0, MAX_CONTEXT)?,
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(ApiError::bad(
                    "unknown parameter",
                    format!("{shown:?} is not one of before, after"),
                ));
            }
        }
    }
    Ok((before, after))
}

/// What `/api/live` starts with before following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backfill {
    /// Nothing: only what arrives from now on.
    None,
    /// The last N matching records (`tail=N`).
    Tail(usize),
    /// Every matching record with a seq above this (`after_seq=S`): a
    /// search's `watermark`, so that following it has no gap and no repeat.
    AfterSeq(u64),
}

/// Parameters of `/api/live`: the filters, plus `tail` or `after_seq`.
pub fn live_params(raw: Option<&str>) -> Result<(SearchParams, Backfill), ApiError> {
    let mut p = SearchParams::default();
    let mut backfill = Backfill::None;
    for (name, value) in pairs(raw) {
        if apply_filter(&mut p, &name, &value)? {
            continue;
        }
        match name.as_str() {
            "tail" => backfill = Backfill::Tail(number("invalid tail", &value, 0, MAX_LIMIT)?),
            "after_seq" => {
                let seq = value.parse::<u64>().map_err(|_| {
                    ApiError::bad(
                        "invalid after_seq",
                        format!("expected a search's watermark (a whole number), found {value:?}"),
                    )
                })?;
                backfill = Backfill::AfterSeq(seq);
            }
            other => return Err(unknown(other, &["tail", "after_seq"])),
        }
    }
    Ok((p, backfill))
}

fn point(name: &str, value: &str, now: i64) -> Result<i64, ApiError> {
    parse_point_in_time(value, now)
        .map_err(|detail| ApiError::bad("invalid time", format!("{name}: {detail}")))
}

fn unknown(name: &str, extra: &[&str]) -> ApiError {
    let known: Vec<&str> = FILTERS.iter().chain(extra).copied().collect();
    let shown: String = name.chars().take(64).collect();
    ApiError::bad(
        "unknown parameter",
        format!("{shown:?} is not one of {}", known.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_levels_are_normalized() {
        let p = search_params(Some(
            "level=WARNING,error&container=a,b&container=c&order=asc&limit=5",
        ))
        .unwrap();
        assert_eq!(p.level, ["warn", "error"]);
        assert_eq!(p.container, ["a", "b", "c"]);
        assert!(p.ascending);
        assert_eq!(p.limit, 5);
    }

    #[test]
    fn histogram_export_context_and_live_take_their_own_parameters() {
        let (p, buckets) = histogram_params(Some("level=error&buckets=120&since=1h")).unwrap();
        assert_eq!((p.level.len(), buckets), (1, 120));
        assert!(histogram_params(Some("buckets=0")).is_err());
        assert!(histogram_params(Some("buckets=501")).is_err());
        assert!(histogram_params(Some("limit=5")).is_err());
        let (p, format) = export_params(Some("request_id=r1&order=asc&format=text")).unwrap();
        assert!(p.ascending);
        assert_eq!(format, ExportFormat::Text);
        assert!(export_params(Some("format=xml")).is_err());
        assert_eq!(
            context_params(Some("before=3")).unwrap(),
            (3, DEFAULT_CONTEXT)
        );
        assert!(context_params(Some("before=1001")).is_err());
        assert!(context_params(Some("around=1")).is_err());
        assert_eq!(live_params(Some("tail=5")).unwrap().1, Backfill::Tail(5));
        assert_eq!(
            live_params(Some("after_seq=42")).unwrap().1,
            Backfill::AfterSeq(42)
        );
        assert!(live_params(Some("after_seq=-1")).is_err());
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        for raw in [
            "limit=abc",
            "limit=-1",
            "limit=10001",
            "order=sideways",
            "since=yesterday-ish",
            "cursor=zzz",
            "stream=stdin",
            "nope=1",
            "since=1m&until=2h",
        ] {
            let err = search_params(Some(raw)).unwrap_err();
            assert!(matches!(err, ApiError::BadRequest { .. }), "{raw}: {err}");
        }
    }
}

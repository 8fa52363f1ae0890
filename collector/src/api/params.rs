//! Query-string parameters shared by `/api/search` and `/api/live`.
//!
//! The query string is decoded by hand (`form_urlencoded`) rather than by an
//! extractor so that every mistake — an unknown name, a limit that is not a
//! number, a time that is neither RFC 3339 nor a duration — becomes our own
//! 400 with a sentence saying what was expected, not a framework's plain text.

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

/// Parameters of `/api/search`.
pub fn search_params(raw: Option<&str>) -> Result<SearchParams, ApiError> {
    let mut p = SearchParams {
        limit: DEFAULT_LIMIT,
        ..SearchParams::default()
    };
    let now = now_ns();
    for (name, value) in pairs(raw) {
        if apply_filter(&mut p, &name, &value)? {
            continue;
        }
        match name.as_str() {
            "since" => p.since_ns = Some(point(&name, &value, now)?),
            "until" => p.until_ns = Some(point(&name, &value, now)?),
            "limit" => {
                p.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| *l <= MAX_LIMIT)
                    .ok_or_else(|| {
                        ApiError::bad(
                            "invalid limit",
                            format!(
                                "expected a whole number from 0 to {MAX_LIMIT}, found {value:?}"
                            ),
                        )
                    })?;
            }
            "cursor" => {
                p.cursor = Some(Cursor::decode(&value).ok_or_else(|| {
                    ApiError::bad(
                        "invalid cursor",
                        "expected the next_cursor value of a previous page",
                    )
                })?);
            }
            "order" => {
                p.ascending = match value.as_str() {
                    "asc" => true,
                    "desc" => false,
                    other => {
                        return Err(ApiError::bad(
                            "invalid order",
                            format!("expected asc or desc, found {other:?}"),
                        ));
                    }
                };
            }
            other => {
                return Err(unknown(
                    other,
                    &["since", "until", "limit", "cursor", "order"],
                ));
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

/// Parameters of `/api/live`: the filters, plus `tail`.
pub fn live_params(raw: Option<&str>) -> Result<(SearchParams, usize), ApiError> {
    let mut p = SearchParams::default();
    let mut tail = 0;
    for (name, value) in pairs(raw) {
        if apply_filter(&mut p, &name, &value)? {
            continue;
        }
        match name.as_str() {
            "tail" => {
                tail = value
                    .parse::<usize>()
                    .ok()
                    .filter(|t| *t <= MAX_LIMIT)
                    .ok_or_else(|| {
                        ApiError::bad(
                            "invalid tail",
                            format!(
                                "expected a whole number from 0 to {MAX_LIMIT}, found {value:?}"
                            ),
                        )
                    })?;
            }
            other => return Err(unknown(other, &["tail"])),
        }
    }
    Ok((p, tail))
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

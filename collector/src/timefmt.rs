//! Timestamps as Wakeline stores and shows them: `i64` nanoseconds since the
//! Unix epoch inside, RFC 3339 with exactly nine fractional digits outside.
//!
//! Docker stamps every log line with an RFC 3339 nanosecond timestamp and the
//! index keeps it as a fast `i64` field, so this conversion sits on the ingest
//! hot path: it is hand-written (civil-date arithmetic, no allocation) rather
//! than going through a general date library. It also parses the `since` /
//! `until` parameters of the API, which accept relative durations (`15m`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NS_PER_SEC: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats nanoseconds since the epoch as `2026-12-03T07:43:41.123456789Z`.
pub fn format_rfc3339_ns(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(NS_PER_SEC);
    let nanos = ts_ns.rem_euclid(NS_PER_SEC);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Parses an RFC 3339 timestamp (any number of fractional digits, `Z` or a
/// numeric offset) into nanoseconds since the epoch.
pub fn parse_rfc3339_ns(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = u32::try_from(digits(&b[5..7])?).ok()?;
    let day = u32::try_from(digits(&b[8..10])?).ok()?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix(b".") {
        let len = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let mut scaled = 0i64;
        for (i, c) in frac[..len].iter().enumerate().take(9) {
            scaled += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
        }
        nanos = scaled;
        rest = &frac[len..];
    }
    let offset_secs = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            let total = hours * 3600 + minutes * 60;
            if *sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(NS_PER_SEC)?.checked_add(nanos)
}

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

/// Parses a point in time as the API takes it: RFC 3339, or a duration
/// (`90s`, `15m`, `2h`, `7d`, `1h30m`) meaning that long before `now_ns`.
pub fn parse_point_in_time(text: &str, now_ns: i64) -> Result<i64, String> {
    if let Some(ts) = parse_rfc3339_ns(text) {
        return Ok(ts);
    }
    match humantime::parse_duration(text) {
        Ok(ago) => {
            let ago = i64::try_from(ago.as_nanos()).unwrap_or(i64::MAX);
            Ok(now_ns.saturating_sub(ago))
        }
        Err(_) => Err(format!(
            "expected an RFC 3339 timestamp (2026-12-03T07:43:41Z) or a duration ago (15m, 2h), found {text:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamp_round_trips_with_nanoseconds() {
        let text = "2026-12-03T07:43:41.123456789Z";
        let ns = parse_rfc3339_ns(text).unwrap();
        assert_eq!(ns % NS_PER_SEC, 123_456_789);
        assert_eq!(format_rfc3339_ns(ns), text);
    }

    #[test]
    fn epoch_and_leap_days_are_exact() {
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ns("2024-02-29T00:00:00Z"),
            Some(1_709_164_800 * NS_PER_SEC)
        );
        assert_eq!(format_rfc3339_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_rfc3339_ns(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn short_fractions_and_offsets_are_understood() {
        let utc = parse_rfc3339_ns("2026-12-03T07:43:41.5Z").unwrap();
        assert_eq!(utc % NS_PER_SEC, 500_000_000);
        let shifted = parse_rfc3339_ns("2026-12-03T09:43:41.5+02:00").unwrap();
        assert_eq!(utc, shifted);
    }

    #[test]
    fn garbage_is_rejected_without_panic() {
        for bad in [
            "",
            "2026",
            "2026-13-01T00:00:00Z",
            "2026-12-03T07:43:41.Z",
            "2026-12-03T07:43:41",
            "2026-12-03T07:43:41+2",
            "9999999999-12-03T07:43:41Z",
            "2026-12-03T07:43:41.123Zjunk",
            "２０２６-12-03T07:43:41Z",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn relative_durations_count_back_from_now() {
        let now = 10_000 * NS_PER_SEC;
        assert_eq!(parse_point_in_time("15m", now), Ok(now - 900 * NS_PER_SEC));
        assert_eq!(
            parse_point_in_time("1h30m", now).map(|t| now - t),
            Ok(5400 * NS_PER_SEC)
        );
        assert!(parse_point_in_time("yesterday-ish", now).is_err());
    }
}

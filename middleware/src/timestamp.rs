//! RFC 3339 UTC timestamps with nanoseconds, written straight into a buffer.
//!
//! Every log line starts with one, so it is on the hot path: this is the
//! civil-from-days algorithm (Howard Hinnant's, public domain) and a handful of
//! digit writes, with no allocation, no time-zone database and no dependency,
//! and the date and time of day are reused while the second is the same.
//! The collector sorts and resumes on these values, hence always nine
//! fractional digits and always `Z`.

use std::time::Duration;
#[cfg(test)]
use std::time::{SystemTime, UNIX_EPOCH};

use crate::log::DIGIT_PAIRS;

/// Appends `t` as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` to `out`. Times before 1970
/// are written as the epoch (a log line stamped before 1970 is a broken clock,
/// not a value worth a code path).
#[cfg(test)]
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, t: SystemTime) {
    let since_epoch = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Rfc3339Cache::default().write(out, since_epoch);
}

/// Writes RFC 3339 timestamps, reusing the date and time of day while the
/// second has not changed (the usual case from one line to the next), so a
/// line pays only for its nine fractional digits.
#[derive(Debug)]
pub(crate) struct Rfc3339Cache {
    /// The second `text` holds the date and time of (`u64::MAX`: none yet).
    secs: u64,
    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, the first 20 bytes those of `secs`.
    text: [u8; 30],
}

impl Default for Rfc3339Cache {
    fn default() -> Self {
        Self {
            secs: u64::MAX,
            text: [b'Z'; 30],
        }
    }
}

impl Rfc3339Cache {
    /// Appends the time `since` the Unix epoch as
    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` to `out` (a time before 1970 is
    /// given as zero, see `clock::read`).
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, since: Duration) {
        let secs = since.as_secs();
        if secs != self.secs {
            self.secs = secs;
            self.text[..20].copy_from_slice(&date_and_time(secs));
        }
        put_nanos(&mut self.text[20..29], since.subsec_nanos());
        out.extend_from_slice(&self.text);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` for a count of seconds since the epoch.
fn date_and_time(secs: u64) -> [u8; 20] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut text = *b"0000-00-00T00:00:00.";
    put_digits(&mut text[0..4], u64::from(year));
    put_digits(&mut text[5..7], u64::from(month));
    put_digits(&mut text[8..10], u64::from(day));
    put_digits(&mut text[11..13], rem / 3600);
    put_digits(&mut text[14..16], rem % 3600 / 60);
    put_digits(&mut text[17..19], rem % 60);
    text
}

/// (year, month 1–12, day 1–31) for a count of days since 1970-01-01.
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

/// Writes nanoseconds (below 10^9) as exactly nine digits: two at a time
/// from a table, five divisions instead of nine.
fn put_nanos(slots: &mut [u8], nanos: u32) {
    let mut value = nanos % 1_000_000_000;
    for pair in (1..9).step_by(2).rev() {
        let two = DIGIT_PAIRS[(value % 100) as usize];
        slots[pair..pair + 2].copy_from_slice(&two);
        value /= 100;
    }
    slots[0] = b'0' + value as u8;
}

/// Writes `value` as exactly `slots.len()` decimal digits (zero-padded; a
/// value too wide keeps only its low digits, which cannot happen for the
/// fields above before the year 10000).
fn put_digits(slots: &mut [u8], mut value: u64) {
    for slot in slots.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(secs: u64, nanos: u32) -> String {
        let mut out = Vec::new();
        write_rfc3339(&mut out, UNIX_EPOCH + Duration::new(secs, nanos));
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(
            format(1_709_210_096, 123_456_789),
            "2024-02-29T12:34:56.123456789Z"
        );
        assert_eq!(
            format(1_735_689_599, 999_999_999),
            "2024-12-31T23:59:59.999999999Z"
        );
        assert_eq!(format(4_102_444_800, 0), "2100-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn every_day_for_three_centuries_round_trips() {
        // Days from civil, the inverse, computed the slow way.
        let mut days = 0u64;
        for year in 1970u32..2270 {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let lengths = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            for (m, len) in lengths.iter().enumerate() {
                for d in 1..=*len {
                    assert_eq!(civil_from_days(days), (year, m as u32 + 1, d));
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn the_cache_follows_the_clock_across_seconds() {
        let mut cache = Rfc3339Cache::default();
        let mut out = Vec::new();
        for (secs, nanos, expected) in [
            (1_709_210_096, 5, "2024-02-29T12:34:56.000000005Z"),
            (1_709_210_096, 999_999_999, "2024-02-29T12:34:56.999999999Z"),
            (1_709_210_097, 0, "2024-02-29T12:34:57.000000000Z"),
            (1_709_251_200, 1, "2024-03-01T00:00:00.000000001Z"),
            (1_709_210_096, 7, "2024-02-29T12:34:56.000000007Z"),
        ] {
            out.clear();
            cache.write(&mut out, Duration::new(secs, nanos));
            assert_eq!(String::from_utf8_lossy(&out), expected);
        }
    }

    #[test]
    fn nanoseconds_are_nine_digits() {
        for nanos in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            100_000_000,
            123_456_789,
            999_999_999,
        ] {
            let mut slots = [0u8; 9];
            put_nanos(&mut slots, nanos);
            assert_eq!(
                std::str::from_utf8(&slots),
                Ok(format!("{nanos:09}").as_str())
            );
        }
    }

    #[test]
    fn before_the_epoch_is_the_epoch() {
        let mut out = Vec::new();
        write_rfc3339(&mut out, UNIX_EPOCH - Duration::from_secs(10));
        assert_eq!(out, b"1970-01-01T00:00:00.000000000Z");
    }
}

//! Numbers for JSON lines without going through `core::fmt`.
//!
//! Request lines carry a status and a duration on every request, and
//! `fmt`'s machinery (a `dyn Write`, and the shortest-representation float
//! algorithm) is a measurable part of a line's cost. Integers are written
//! digit by digit; a float with at most three decimals (a duration in ms
//! rounded to the µs, a ratio) is written as integer and fraction, which
//! parses back to the same `f64`. Anything else falls back to `fmt` (in
//! exponent form when very large or small).

use std::fmt::Write as _;

use super::Raw;

/// Appends `value` in decimal, two digits at a time (a status or a count
/// is one or two steps).
pub(super) fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while value >= 100 {
        start -= 2;
        let pair = DIGIT_PAIRS[(value % 100) as usize];
        digits[start..start + 2].copy_from_slice(&pair);
        value /= 100;
    }
    if value >= 10 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[value as usize]);
    } else {
        start -= 1;
        digits[start] = b'0' + value as u8;
    }
    out.extend_from_slice(&digits[start..]);
}

/// "00" to "99" (also the timestamps' digits).
pub(crate) static DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut table = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        table[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    table
};

/// Appends `value` in decimal.
pub(super) fn push_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    push_u64(out, value.unsigned_abs());
}

/// Appends `t` thousandths as a decimal number with no trailing zeros
/// (`1234` is `1.234`, `1200` is `1.2`, `2000` is `2`): what [`push_f64`]
/// writes for `t as f64 / 1e3` below 10^15.
pub(super) fn push_thousandths(out: &mut Vec<u8>, t: u64) {
    push_u64(out, t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let text = [
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if frac.is_multiple_of(100) {
            2
        } else if frac.is_multiple_of(10) {
            3
        } else {
            4
        };
        out.extend_from_slice(&text[..len]);
    }
}

/// Appends a finite `value` as a JSON number that parses back to `value`.
pub(super) fn push_f64(out: &mut Vec<u8>, value: f64) {
    if value.abs() < 1e12 {
        let thousandths = (value * 1000.0).round();
        // Exact when `value` is the double nearest to thousandths / 1000:
        // then the decimal text below parses back to `value`.
        if thousandths / 1000.0 == value {
            let t = thousandths as i64;
            if t < 0 {
                out.push(b'-');
            }
            push_thousandths(out, t.unsigned_abs());
            return;
        }
    }
    // Very large or small values in exponent form: plain `{}` would write
    // hundreds of digits, which some JSON parsers reject.
    let magnitude = value.abs();
    if magnitude >= 1e15 || (magnitude < 1e-5 && magnitude != 0.0) {
        let _ = write!(Raw(out), "{value:e}");
    } else {
        let _ = write!(Raw(out), "{value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn thousandths_are_what_push_f64_writes_for_them() {
        let mut t: u64 = 0;
        while t < 1_000_000_000_000_000 {
            for t in [t, t + 1, t + 10, t + 100, t + 999] {
                assert_eq!(
                    text(|out| push_thousandths(out, t)),
                    text(|out| push_f64(out, t as f64 / 1e3)),
                    "{t}"
                );
            }
            t = t * 3 + 7;
        }
    }

    #[test]
    fn integers_match_display() {
        for v in [0u64, 7, 10, 99, 100, 200, 404, 1_000, 65_535, u64::MAX] {
            assert_eq!(text(|o| push_u64(o, v)), v.to_string());
        }
        for v in [0i64, -1, 42, -9_000, i64::MIN, i64::MAX] {
            assert_eq!(text(|o| push_i64(o, v)), v.to_string());
        }
    }

    #[test]
    fn floats_parse_back_to_the_same_value() {
        let mut values = vec![
            0.0,
            1.0,
            0.5,
            0.25,
            0.125,
            1.234,
            12.3,
            -0.001,
            -7.5,
            999_999.999,
            0.1 + 0.2,
            1e-9,
            1.0 / 3.0,
            123_456_789_012.5,
            1e300,
            -2.5e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        values.extend((0..5000).map(|us| f64::from(us) / 1000.0));
        for v in values {
            let s = text(|o| push_f64(o, v));
            let back: f64 = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(back, v, "{v} written as {s}");
            assert!(
                serde_json::from_str::<serde_json::Value>(&s).is_ok_and(|j| j.is_number()),
                "{s}"
            );
        }
        assert_eq!(text(|o| push_f64(o, 1.5)), "1.5");
        assert_eq!(text(|o| push_f64(o, 200.0)), "200");
        assert_eq!(text(|o| push_f64(o, 0.05)), "0.05");
    }
}

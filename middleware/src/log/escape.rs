//! JSON string escaping and hex, the byte-level work of every log line.
//!
//! Every line escapes its message, target, field names and string values, so
//! this is the hottest loop of the log layer. Almost all of that text needs
//! no escaping, so the scan looks at eight bytes at a time (a word-wide test
//! for control characters, quote, backslash and DEL) and copies clean runs in
//! one go; only a word that contains something to escape is walked byte by
//! byte. Escaping covers every control character, so a value can never break
//! a line in two, whatever a client sent.

use std::fmt::{self, Write as _};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that is zero (exact as a yes/no
/// answer, which is all it is used for).
const fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// Whether any byte of `word` needs escaping: below 0x20, `"`, `\`, or DEL.
/// One expression without branches: the four tests are or-ed together.
const fn needs_escape(word: u64) -> bool {
    // Bytes below 0x20: the has-less-than test, exact for bounds up to 0x80.
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    control
        | zero_bytes(word ^ (ONES * b'"' as u64))
        | zero_bytes(word ^ (ONES * b'\\' as u64))
        | zero_bytes(word ^ (ONES * 0x7f))
        != 0
}

/// Appends `s` as a JSON string literal.
#[inline]
pub(super) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Appends formatted text as a JSON string literal, escaping as it goes.
pub(super) fn push_json_str_fmt(out: &mut Vec<u8>, args: fmt::Arguments<'_>) {
    out.push(b'"');
    // A Debug impl that fails leaves what it wrote; the string is still closed.
    let _ = Escaped(out).write_fmt(args);
    out.push(b'"');
}

/// Whether `bytes` needs no escaping, tested eight bytes at a time. A
/// length that is not a multiple of eight ends with a word that overlaps the
/// one before; a string shorter than a word is tested as one word made of
/// its bytes, repeated where needed (no copy into a padded buffer: most keys
/// and values are that short).
#[inline]
fn is_clean(bytes: &[u8]) -> bool {
    let len = bytes.len();
    if len < 8 {
        let word = match len {
            0 => return true,
            1..=3 => {
                // First, middle and last byte cover every byte of 1–3.
                let (a, b, c) = (bytes[0], bytes[len / 2], bytes[len - 1]);
                u64::from_le_bytes([a, b, c, a, a, a, a, a])
            }
            _ => {
                // Two four-byte reads that overlap cover every byte of 4–7.
                let lo = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
                let hi = u32::from_le_bytes(bytes[len - 4..].try_into().expect("4 bytes"));
                u64::from(lo) | u64::from(hi) << 32
            }
        };
        return !needs_escape(word);
    }
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if needs_escape(u64::from_le_bytes(chunk.try_into().expect("chunks of 8"))) {
            return false;
        }
    }
    if chunks.remainder().is_empty() {
        return true;
    }
    let last = &bytes[len - 8..];
    !needs_escape(u64::from_le_bytes(last.try_into().expect("8 bytes")))
}

/// Appends `s` with JSON string escaping: quote, backslash and every control
/// character (and DEL), so a line can never be split or broken by its content.
#[inline]
pub(super) fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if is_clean(bytes) {
        out.extend_from_slice(bytes);
    } else {
        escape_slow(out, bytes);
    }
}

/// The byte walk of [`escape_into`], apart so that the usual clean case
/// stays small where it is inlined.
#[cold]
#[inline(never)]
fn escape_slow(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&HEX_PAIRS[usize::from(b)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Every byte's two lowercase hex digits.
pub(crate) static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    table
};

/// Writes `bytes` as lowercase hex into `text` (twice as long).
pub(super) fn write_hex(text: &mut [u8], bytes: &[u8]) {
    for (pair, &b) in text.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// `fmt::Write` into a byte buffer, JSON-escaped.
struct Escaped<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, s);
        String::from_utf8(out).expect("escaping keeps UTF-8")
    }

    #[test]
    fn escapes_like_serde_json_at_every_position() {
        // Each special byte at each offset of a string longer than a word,
        // so both the word scan and the byte walk meet it.
        for special in ['"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}'] {
            for at in 0..20 {
                let mut s: String = "abcdefghijklmnopqrst".into();
                s.insert(at, special);
                let json = format!("\"{}\"", escaped(&s));
                let back: String =
                    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
                assert_eq!(back, s);
                assert!(!json.contains(['\n', '\r', '\u{0}']), "{json:?}");
            }
        }
    }

    #[test]
    fn every_short_length_finds_a_special_byte_anywhere() {
        // Lengths below a word and just above take the other paths of
        // `is_clean` (repeated bytes, overlapping reads, overlapping tail).
        for len in 1..=17 {
            assert!(is_clean(&vec![b'a'; len]), "clean, length {len}");
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0, 0x1f, 0x7f] {
                    let mut s = vec![b'a'; len];
                    s[at] = special;
                    assert!(!is_clean(&s), "{special:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn clean_text_and_non_ascii_are_copied_as_is() {
        for s in [
            "",
            "a",
            "request started",
            "wakeline_middleware::request",
            "räksmörgås ✓ 日本語 more than eight",
        ] {
            assert_eq!(escaped(s), s);
        }
    }

    #[test]
    fn word_test_agrees_with_the_byte_test() {
        for b in 0u8..=255 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                let expected = b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    expected,
                    "byte {b:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn word_test_agrees_with_the_byte_test_on_mixed_words() {
        // A fixed-seed xorshift: words with every mix of high, low and
        // special bytes, where borrows between bytes could mislead the test.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bytes = state.to_le_bytes();
            let expected = bytes
                .iter()
                .any(|&b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f);
            assert_eq!(needs_escape(state), expected, "{bytes:02x?}");
        }
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        let mut out = [0u8; 8];
        write_hex(&mut out, &[0x00, 0x0f, 0xa0, 0xff]);
        assert_eq!(&out, b"000fa0ff");
    }
}

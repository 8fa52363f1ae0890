//! Opt-in redaction (`--redact`): values that look like secrets become
//! `[REDACTED]` before a record reaches the live feed or the index.
//!
//! It runs in the sequencer, the one place every parsed record passes
//! through, so nothing downstream (live clients, the index, exports) ever
//! holds the secret. What counts as a secret:
//!
//! - the value after a key that names one: `password`, `passwd`,
//!   `passphrase`, `secret`, `token`, `api_key`/`apikey`, `access_key`,
//!   `private_key`, `secret_key`, `authorization`, alone or as the last word
//!   of a longer key (`db_password`, `accessToken`, `X-Api-Key`), written
//!   `key=value`, `key: value`, `"key":"value"` or `key="a b"`; for
//!   `authorization` the scheme word stays (`Authorization: Bearer [REDACTED]`);
//!   a value that is an object or an array is masked whole, one secret, so
//!   nothing under the key can leak (`{"token":{…}}` → `{"token":[REDACTED]}`;
//!   `null`, `true`, `""`, `{}` and `[]` hold nothing and stay);
//! - `Bearer <token>` (a token with a digit in it) and `Basic <base64>` (when
//!   it decodes to `user:password`) anywhere;
//! - the shapes of common keys: AWS access key IDs (`AKIA`/`ASIA` + 16),
//!   GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`),
//!   Slack tokens (`xoxb-`, `xoxp-`…), JWTs (`eyJ….eyJ….sig`), and the body
//!   of a `-----BEGIN … PRIVATE KEY-----` block. A JSON key of such a shape
//!   (a map keyed by session JWT) is masked too: in `fields` the key is
//!   renamed to its masked form and keeps its value (`#2`, `#3`… when two
//!   keys mask alike), since the key, not what it maps to, is the secret.
//!
//! It is a hand-written scanner over bytes, not a set of regular expressions:
//! one pass per string, a table lookup per byte, and the key tests only run
//! for a word followed by `=` or `:`. Spans start and end at ASCII bytes (or
//! the ends of the text), so masking never splits a UTF-8 character, and the
//! same scanner masks the raw bytes kept for a line that is not UTF-8.
//! It is a safety net, not a guarantee: a secret in a shape it does not know
//! (a bare password in prose, a token without a digit after `Bearer`) passes.

use serde_json::{Map, Value};

use crate::record::Record;

/// What a secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Last words of a key whose value is a secret (compared ignoring case).
const SECRET_KEYS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"passphrase",
    b"secret",
    b"token",
    b"apikey",
    b"api_key",
    b"api-key",
    b"access_key",
    b"accesskey",
    b"private_key",
    b"privatekey",
    b"secret_key",
    b"secretkey",
    b"authorization",
];

/// Masks the secrets of one record in `message`, `msg`, `fields` and `raw`.
/// Returns how many secrets the line held: the largest count among
/// `message`, `msg` and `fields` (they mostly repeat the same value).
///
/// `fields` hold pieces of the line as written (`message`), unescaped: when
/// the line has no escape (`\`) and no secret, neither have they, and their
/// walk (the larger part of the cost for a JSON line) is skipped. `msg` is
/// always scanned: a rendered template holds text the line does not.
pub fn redact_record(record: &mut Record) -> u64 {
    let mut spans = Vec::new();
    let escaped = record.message.as_bytes().contains(&b'\\');
    let in_message = redact_string(&mut record.message, &mut spans);
    if let Some(raw) = &mut record.raw {
        spans.clear();
        find_secrets(raw, &mut spans);
        if !spans.is_empty() {
            *raw = mask(raw, &spans);
        }
    }
    let in_msg = match &mut record.msg {
        Some(msg) => redact_string(msg, &mut spans),
        None => 0,
    };
    let in_fields = if (in_message > 0 || escaped) && !record.fields.is_empty() {
        let mut fields = std::mem::take(&mut record.fields).into_map();
        let count = redact_fields(&mut fields, &mut spans);
        record.fields = fields.into();
        count
    } else {
        0
    };
    in_message.max(in_msg).max(in_fields)
}

/// Masks the secrets in `text` in place; how many there were. `spans` is
/// scratch space, reused across calls.
pub fn redact_string(text: &mut String, spans: &mut Vec<(usize, usize)>) -> u64 {
    spans.clear();
    find_secrets(text.as_bytes(), spans);
    if spans.is_empty() {
        return 0;
    }
    let masked = mask(text.as_bytes(), spans);
    // Spans are bounded by ASCII bytes or the ends of the text, and the
    // mask is ASCII: what comes out is as valid as what went in.
    *text = String::from_utf8(masked)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    spans.len() as u64
}

/// Masks secret-named keys' values (whole, whatever they hold), secrets
/// inside strings and keys that are themselves secrets, at any depth
/// (iteratively: a deeply nested object cannot exhaust the stack).
fn redact_fields(fields: &mut Map<String, Value>, spans: &mut Vec<(usize, usize)>) -> u64 {
    let mut count = 0;
    let mut stack: Vec<&mut Value> = Vec::new();
    redact_entries(fields, &mut stack, spans, &mut count);
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => redact_entries(map, &mut stack, spans, &mut count),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(s) => count += redact_string(s, spans),
                        Value::Object(_) | Value::Array(_) => stack.push(item),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    count
}

fn redact_entries<'a>(
    map: &'a mut Map<String, Value>,
    stack: &mut Vec<&'a mut Value>,
    spans: &mut Vec<(usize, usize)>,
    count: &mut u64,
) {
    *count += redact_keys(map, spans);
    for (key, value) in map.iter_mut() {
        let secret = match value {
            Value::String(s) => !s.is_empty() && s != MASK,
            Value::Number(_) => true,
            Value::Object(map) => !map.is_empty(),
            Value::Array(items) => !items.is_empty(),
            Value::Null | Value::Bool(_) => false,
        };
        if secret && is_secret_key(key.as_bytes()) {
            *value = Value::String(MASK.to_owned());
            *count += 1;
            continue;
        }
        match value {
            Value::String(s) => *count += redact_string(s, spans),
            Value::Object(_) | Value::Array(_) => stack.push(value),
            _ => {}
        }
    }
}

/// Renames the keys that hold a secret (a map keyed by session token, a
/// JWT used as a key) to their masked form, keeping their values; how many
/// secrets they held. Two keys masked alike stay two: the later ones get
/// `#2`, `#3`… so no value is lost.
fn redact_keys(map: &mut Map<String, Value>, spans: &mut Vec<(usize, usize)>) -> u64 {
    let mut secret_keys = Vec::new();
    for key in map.keys() {
        spans.clear();
        find_secrets(key.as_bytes(), spans);
        if !spans.is_empty() {
            secret_keys.push(key.clone());
        }
    }
    let mut count = 0;
    for key in secret_keys {
        let mut masked = key.clone();
        count += redact_string(&mut masked, spans);
        let Some(value) = map.remove(&key) else {
            continue;
        };
        let mut unique = masked.clone();
        let mut n = 1;
        while map.contains_key(&unique) {
            n += 1;
            unique = format!("{masked}#{n}");
        }
        map.insert(unique, value);
    }
    count
}

/// `text` with each span replaced by [`MASK`]; spans sorted, not overlapping.
fn mask(text: &[u8], spans: &[(usize, usize)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + spans.len() * MASK.len());
    let mut at = 0;
    for &(start, end) in spans {
        out.extend_from_slice(&text[at..start]);
        out.extend_from_slice(MASK.as_bytes());
        at = end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Bytes a word (a key, a token) is made of.
const fn word_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.';
        b += 1;
    }
    table
}
static WORD: [bool; 256] = word_table();

fn is_word(b: u8) -> bool {
    WORD[b as usize]
}

/// Characters of a bearer or basic credential (RFC 7235's token68).
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Pushes, in order, the byte ranges of `text` that hold secrets.
pub fn find_secrets(text: &[u8], spans: &mut Vec<(usize, usize)>) {
    let n = text.len();
    let mut i = 0;
    while i < n {
        if !is_word(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let end = start
            + text[start..]
                .iter()
                .position(|&b| !is_word(b))
                .unwrap_or(n - start);
        // Most words start no known shape and precede no separator: only
        // the first byte and the byte after the word are looked at for them.
        let found = match text[start] {
            b'A' | b'g' | b'x' | b'e' | b'-' => shape(text, start, end),
            b'b' | b'B' => scheme(text, start, end),
            _ => None,
        }
        .or_else(|| {
            matches!(
                text.get(end),
                Some(b'"' | b'\'' | b'\\' | b' ' | b'\t' | b'=' | b':')
            )
            .then(|| key_value(text, start, end))
            .flatten()
        });
        match found {
            Some((from, to)) if to > from => {
                spans.push((from, to));
                i = to.max(end);
            }
            Some((_, to)) => i = to.max(end),
            None => i = end,
        }
    }
}

/// A key of a known shape starting at the word `text[start..end]`.
fn shape(text: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let word = &text[start..end];
    let run = |from: usize, ok: fn(u8) -> bool| {
        from + text[from..]
            .iter()
            .position(|&b| !ok(b))
            .unwrap_or(text.len() - from)
    };
    match word.first()? {
        b'A' if word.starts_with(b"AKIA") || word.starts_with(b"ASIA") => {
            let id = word.get(..20)?;
            let tail_ok = id[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            let ends = word.get(20).is_none_or(|b| !b.is_ascii_alphanumeric());
            (tail_ok && ends).then_some((start, start + 20))
        }
        b'g' => {
            let (prefix, min, ok): (usize, usize, fn(u8) -> bool) =
                if word.starts_with(b"github_pat_") {
                    (11, 20, |b| b.is_ascii_alphanumeric() || b == b'_')
                } else if word.len() > 4
                    && word.starts_with(b"gh")
                    && matches!(word[2], b'p' | b'o' | b'u' | b's' | b'r')
                    && word[3] == b'_'
                {
                    (4, 30, |b| b.is_ascii_alphanumeric())
                } else {
                    return None;
                };
            let to = run(start + prefix, ok);
            (to - start - prefix >= min).then_some((start, to))
        }
        b'x' if word.len() > 5
            && word.starts_with(b"xox")
            && matches!(word[3], b'a' | b'b' | b'p' | b'o' | b'r' | b's' | b'e')
            && word[4] == b'-' =>
        {
            let to = run(start + 5, |b| b.is_ascii_alphanumeric() || b == b'-');
            (to - start - 5 >= 10).then_some((start, to))
        }
        b'e' if word.starts_with(b"eyJ") => jwt(text, start),
        b'-' if word.starts_with(b"-----BEGIN") => private_key(text, start),
        _ => None,
    }
}

/// `eyJ<header>.eyJ<payload>.<signature>` (base64url segments).
fn jwt(text: &[u8], start: usize) -> Option<(usize, usize)> {
    let b64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let segment = |from: usize| {
        from + text[from..]
            .iter()
            .position(|&b| !b64url(b))
            .unwrap_or(text.len() - from)
    };
    let header_end = segment(start);
    if header_end - start < 10 || text.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload = header_end + 1;
    if !text[payload..].starts_with(b"eyJ") {
        return None;
    }
    let payload_end = segment(payload);
    if payload_end - payload < 10 {
        return None;
    }
    if text.get(payload_end) != Some(&b'.') {
        return Some((start, payload_end));
    }
    Some((start, segment(payload_end + 1)))
}

/// The body of a private key block: from after `-----BEGIN … PRIVATE
/// KEY-----` to `-----END`, or to the end of the text if the block is cut.
fn private_key(text: &[u8], start: usize) -> Option<(usize, usize)> {
    const HEADER_END: &[u8] = b"PRIVATE KEY-----";
    let window = &text[start..text.len().min(start + 80)];
    let at = window
        .windows(HEADER_END.len())
        .position(|w| w == HEADER_END)?;
    let body = start + at + HEADER_END.len();
    let end = text[body..]
        .windows(9)
        .position(|w| w == b"-----END ")
        .map_or(text.len(), |p| body + p);
    Some((body, end))
}

/// `Bearer <token>` or `Basic <user:password in base64>`.
fn scheme(text: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let word = &text[start..end];
    let bearer = word.eq_ignore_ascii_case(b"bearer");
    if !bearer && !word.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let from = end + text[end..].iter().take_while(|&&b| b == b' ').count();
    if from == end {
        return None;
    }
    let to = from + text[from..].iter().take_while(|&&b| is_token68(b)).count();
    let credential = &text[from..to];
    let secret = if bearer {
        credential.len() >= 8 && credential.iter().any(u8::is_ascii_digit)
    } else {
        use base64::Engine as _;
        credential.len() >= 4
            && base64::engine::general_purpose::STANDARD
                .decode(credential)
                .is_ok_and(|plain| plain.contains(&b':'))
    };
    secret.then_some((from, to))
}

/// The value after a secret-named key: `key=v`, `key: v`, `"key":"v"`.
fn key_value(text: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let mut p = end;
    // A quoted key's closing quote, then spaces, then the separator.
    if start > 0 && matches!(text[start - 1], b'"' | b'\'') && text.get(p) == Some(&text[start - 1])
    {
        p += 1;
    } else if start > 1 && text[start - 1] == b'"' && text[start - 2] == b'\\' {
        // An escaped quote inside a JSON string: \"password\":\"x\"
        if text.get(p..p + 2) == Some(b"\\\"") {
            p += 2;
        }
    }
    p += text[p..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if !matches!(text.get(p), Some(b'=' | b':')) {
        return None;
    }
    let key = &text[start..end];
    // A path (`/etc/passwd:`) is not a key.
    if (start > 0 && text[start - 1] == b'/') || !is_secret_key(key) {
        return None;
    }
    p += 1;
    p += text[p..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let authorization = key.eq_ignore_ascii_case(b"authorization");
    match text.get(p)? {
        &q @ (b'"' | b'\'') => {
            let from = p + 1;
            let from = if authorization {
                after_scheme(text, from)
            } else {
                from
            };
            let close = closing_quote(text, from, q);
            value_span(text, from, close)
        }
        b'\\' if text.get(p + 1) == Some(&b'"') => {
            let from = p + 2;
            let from = if authorization {
                after_scheme(text, from)
            } else {
                from
            };
            let close = text[from..]
                .windows(2)
                .position(|w| w == b"\\\"")
                .map_or(text.len(), |at| from + at);
            value_span(text, from, close)
        }
        b'[' if text[p..].starts_with(MASK.as_bytes()) => Some((p + MASK.len(), p + MASK.len())),
        b'{' | b'[' => {
            // An object or array is masked whole: nothing under the key is
            // left to leak, whatever it holds. An empty one holds nothing.
            let close = closing_bracket(text, p);
            let body = &text[p + 1..close];
            let empty = matches!(body.last(), Some(b'}' | b']'))
                && body[..body.len() - 1].iter().all(u8::is_ascii_whitespace);
            if empty {
                return Some((close, close));
            }
            Some((p, close))
        }
        _ => {
            let from = if authorization {
                after_scheme(text, p)
            } else {
                p
            };
            let to = from
                + text[from..]
                    .iter()
                    .position(|&b| {
                        b.is_ascii_whitespace()
                            || matches!(
                                b,
                                b',' | b';'
                                    | b'&'
                                    | b')'
                                    | b'}'
                                    | b']'
                                    | b'"'
                                    | b'\''
                                    | b'\\'
                                    | b'<'
                                    | b'>'
                            )
                    })
                    .unwrap_or(text.len() - from);
            value_span(text, from, to)
        }
    }
}

/// A value worth masking: not empty, not already masked, not a JSON literal.
fn value_span(text: &[u8], from: usize, to: usize) -> Option<(usize, usize)> {
    let value = &text[from..to];
    if value.is_empty() || value == MASK.as_bytes() || matches!(value, b"null" | b"true" | b"false")
    {
        return Some((to, to));
    }
    Some((from, to))
}

/// Just past the bracket that closes the JSON object or array opening at
/// `text[open]`; the end of the text if it never closes (a cut line).
///
/// Strings are skipped, so a bracket inside one does not count. When the
/// value sits inside a JSON string (its first quote is written `\"`, as in
/// a line that logs a JSON document as text), it is read one escape level
/// down, and a bare `"` (the enclosing string's end) ends it. A counter, not
/// a stack: any depth costs one pass.
fn closing_bracket(text: &[u8], open: usize) -> usize {
    let escaped = text[open..]
        .iter()
        .position(|&b| b == b'"')
        .is_some_and(|at| text[open + at - 1] == b'\\');
    let mut depth = 0u32;
    let (mut in_string, mut after_backslash) = (false, false);
    let mut i = open;
    while i < text.len() {
        let mut c = text[i];
        i += 1;
        if escaped {
            match c {
                b'"' => return i - 1,
                b'\\' => {
                    let Some(&next) = text.get(i) else { break };
                    c = next;
                    i += 1;
                }
                _ => {}
            }
        }
        if in_string {
            if after_backslash {
                after_backslash = false;
            } else if c == b'\\' {
                after_backslash = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// Past an authorization value's scheme word (`Bearer `, `Basic `), if any.
fn after_scheme(text: &[u8], from: usize) -> usize {
    let word = text[from..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let spaces = text[from + word..]
        .iter()
        .take_while(|&&b| b == b' ')
        .count();
    if word > 0 && spaces > 0 {
        from + word + spaces
    } else {
        from
    }
}

/// Where the string opened before `from` by `quote` closes (backslash
/// escapes skipped); the end of the text if it never does.
fn closing_quote(text: &[u8], from: usize, quote: u8) -> usize {
    let mut i = from;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b if b == quote => return i,
            _ => i += 1,
        }
    }
    text.len()
}

/// Whether a key names a secret: one of [`SECRET_KEYS`], alone or as the
/// last word of the key (after `_`, `-`, `.`, or a camelCase capital).
pub fn is_secret_key(key: &[u8]) -> bool {
    let n = key.len();
    if n < 5 {
        return false;
    }
    // The last two letters pick the few candidates (most keys: none).
    let candidates: &[&[u8]] = match [
        key[n - 2].to_ascii_lowercase(),
        key[n - 1].to_ascii_lowercase(),
    ] {
        [b'r', b'd'] => &[b"password"],
        [b'w', b'd'] => &[b"passwd"],
        [b's', b'e'] => &[b"passphrase"],
        [b'e', b't'] => &[b"secret"],
        [b'e', b'n'] => &[b"token"],
        [b'o', b'n'] => &[b"authorization"],
        [b'e', b'y'] => &SECRET_KEYS[5..14],
        _ => return false,
    };
    candidates.iter().any(|suffix| {
        let Some(at) = n.checked_sub(suffix.len()) else {
            return false;
        };
        if !key[at..].eq_ignore_ascii_case(suffix) {
            return false;
        }
        at == 0
            || !key[at - 1].is_ascii_alphanumeric()
            || (key[at].is_ascii_uppercase() && !key[at - 1].is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        let mut text = text.to_owned();
        redact_string(&mut text, &mut Vec::new());
        text
    }

    #[track_caller]
    fn masks(input: &str, expected: &str) {
        assert_eq!(redact(input), expected, "input: {input}");
    }

    #[track_caller]
    fn keeps(input: &str) {
        assert_eq!(redact(input), input, "nothing to mask in: {input}");
    }

    #[test]
    fn authorization_headers_keep_their_scheme() {
        masks(
            "Authorization: Bearer abc123.def456",
            "Authorization: Bearer [REDACTED]",
        );
        masks(
            r#"{"headers":{"authorization":"Basic dXNlcjpwYXNz"}}"#,
            r#"{"headers":{"authorization":"Basic [REDACTED]"}}"#,
        );
        masks(
            "authorization=opaque-value next",
            "authorization=[REDACTED] next",
        );
        masks(
            "curl -H 'Authorization: Token 12345abcde'",
            "curl -H 'Authorization: Token [REDACTED]'",
        );
    }

    #[test]
    fn bearer_and_basic_anywhere() {
        masks(
            "calling with bearer eyXk91kd0a2 now",
            "calling with bearer [REDACTED] now",
        );
        masks("Basic dXNlcjpwYXNz sent", "Basic [REDACTED] sent");
        // Prose: no digit after bearer, nothing that decodes to user:pass.
        keeps("the bearer instrument was signed");
        keeps("Basic settings saved");
        keeps("basic auth failed for user bob");
    }

    #[test]
    fn secret_named_keys_in_every_syntax() {
        masks(
            "login ok password=hunter2 user=bob",
            "login ok password=[REDACTED] user=bob",
        );
        masks(
            r#"{"user":"bob","password":"hun\"ter2"}"#,
            r#"{"user":"bob","password":"[REDACTED]"}"#,
        );
        masks(
            r#"{"passwd": 12345, "x": 1}"#,
            r#"{"passwd": [REDACTED], "x": 1}"#,
        );
        masks("db_password: s3cr3t", "db_password: [REDACTED]");
        masks(
            "client_secret='a b c' next",
            "client_secret='[REDACTED]' next",
        );
        masks("accessToken=abc&user=1", "accessToken=[REDACTED]&user=1");
        masks("X-Api-Key: k-123", "X-Api-Key: [REDACTED]");
        masks("api_key=AB12;", "api_key=[REDACTED];");
        masks(
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI",
            "AWS_SECRET_ACCESS_KEY=[REDACTED]",
        );
        masks("TOKEN = xyz", "TOKEN = [REDACTED]");
        masks(
            r#"msg="login password=\"pa ss\" done""#,
            r#"msg="login password=\"[REDACTED]\" done""#,
        );
        masks(
            r#"{"msg":"user logged in, \"token\": \"abc\""}"#,
            r#"{"msg":"user logged in, \"token\": \"[REDACTED]\""}"#,
        );
    }

    #[test]
    fn every_secret_key_is_recognized() {
        for key in SECRET_KEYS {
            assert!(is_secret_key(key), "{}", String::from_utf8_lossy(key));
            let upper = key.to_ascii_uppercase();
            assert!(is_secret_key(&upper), "{}", String::from_utf8_lossy(&upper));
            let prefixed = [b"db_".as_slice(), key].concat();
            assert!(
                is_secret_key(&prefixed),
                "{}",
                String::from_utf8_lossy(&prefixed)
            );
        }
        for key in [
            "request_id",
            "span_id",
            "target",
            "method",
            "tokens",
            "keys",
            "monkey",
        ] {
            assert!(!is_secret_key(key.as_bytes()), "{key}");
        }
    }

    #[test]
    fn ordinary_keys_and_words_stay() {
        keeps("invalid token provided for user 42");
        keeps("tokens=15 token_count=3 max_tokens=100");
        keeps("open /etc/passwd: permission denied");
        keeps(r#"{"password":null,"token":"","secret":true}"#);
        keeps(r#"{"token":{},"secret":[ ]}"#);
        keeps("broken=yes retoken=1 secretive=no");
        keeps("password=[REDACTED]");
        keeps("the secret of good logs: structure");
    }

    #[test]
    fn a_secret_named_keys_object_or_array_is_masked_whole() {
        masks(
            r#"{"token":{"kind":"refresh","value":"abc"},"user":"bob"}"#,
            r#"{"token":[REDACTED],"user":"bob"}"#,
        );
        masks(
            r#"{"api_key":["k1","k2"],"n":[1]}"#,
            r#"{"api_key":[REDACTED],"n":[1]}"#,
        );
        masks(
            r#"{"secret":{"a":"}]\"}","b":[[{}]]},"x":1}"#,
            r#"{"secret":[REDACTED],"x":1}"#,
        );
        masks("token=[a b] next", "token=[REDACTED] next");
        // A JSON document logged as text inside a JSON string.
        masks(
            r#"{"msg":"config {\"token\":{\"a\":\"b}\"}} loaded","x":1}"#,
            r#"{"msg":"config {\"token\":[REDACTED]} loaded","x":1}"#,
        );
        // A line cut inside the value: masked to its end.
        masks(r#"{"password":{"old":"hunt"#, r#"{"password":[REDACTED]"#);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        masks(
            &format!(r#"{{"secret":{deep},"x":1}}"#),
            r#"{"secret":[REDACTED],"x":1}"#,
        );
    }

    #[test]
    fn a_secret_named_field_is_masked_whole_whatever_it_holds() {
        let line = r#"{"msg":"refresh","token":{"kind":"refresh","value":"abc","password":"p"},"auth":{"client_secret":["s1",{"s2":1}],"api_key":{}},"password":null}"#;
        let mut record = crate::index::testing::record(1, 1, "web", line);
        let count = redact_record(&mut record);
        let fields = Value::Object(record.fields.clone().into_map());
        assert_eq!(fields["token"], MASK, "{fields}");
        assert_eq!(fields["auth"]["client_secret"], MASK, "{fields}");
        assert_eq!(fields["auth"]["api_key"], serde_json::json!({}), "{fields}");
        assert_eq!(fields["password"], Value::Null, "{fields}");
        assert_eq!(
            record.message,
            r#"{"msg":"refresh","token":[REDACTED],"auth":{"client_secret":[REDACTED],"api_key":{}},"password":null}"#
        );
        // One per masked value, the same in the line and in its fields.
        assert_eq!(count, 2);
        let mut fields = record.fields.clone().into_map();
        assert_eq!(
            redact_fields(&mut fields, &mut Vec::new()),
            0,
            "masked once"
        );
    }

    #[test]
    fn keys_that_are_secrets_are_masked_and_keep_their_values() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N";
        let line = format!(
            r#"{{"msg":"sessions","sessions":{{"{jwt}":{{"user":"bob"}}}},"keys":{{"AKIAIOSFODNN7EXAMPLE":1,"ASIAY34FZKBOKMUTVV7A":2,"[REDACTED]":3}}}}"#
        );
        let mut record = crate::index::testing::record(1, 1, "web", &line);
        let count = redact_record(&mut record);
        let fields = serde_json::to_string(&record.fields).unwrap();
        for secret in [jwt, "AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"] {
            assert!(!fields.contains(secret), "{secret} in {fields}");
            assert!(!record.message.contains(secret), "{}", record.message);
        }
        let fields = Value::Object(record.fields.clone().into_map());
        assert_eq!(fields["sessions"][MASK]["user"], "bob", "{fields}");
        // Two keys masked alike, beside one that already was: none lost.
        let keys = fields["keys"].as_object().unwrap();
        let mut values: Vec<_> = keys.values().filter_map(Value::as_u64).collect();
        values.sort_unstable();
        assert_eq!(values, [1, 2, 3], "{fields}");
        assert!(keys.keys().all(|k| k.starts_with(MASK)), "{fields}");
        assert_eq!(count, 3);
    }

    #[test]
    fn known_key_shapes() {
        masks("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED] used");
        masks("id=ASIAY34FZKBOKMUTVV7A.", "id=[REDACTED].");
        masks(
            "push with ghp_16C7e42F292c6912E7710c838347Ae178B4a ok",
            "push with [REDACTED] ok",
        );
        masks(
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "[REDACTED]",
        );
        masks(
            "slack xoxb-123456789012-abcdefghijkl failed",
            "slack [REDACTED] failed",
        );
        masks(
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
            "jwt [REDACTED] end",
        );
        masks(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----",
        );
        masks(
            r#"{"key":"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz"#,
            r#"{"key":"-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]"#,
        );
    }

    #[test]
    fn ids_and_look_alikes_stay() {
        keeps("request_id=0190a5c4-9a8e-7cc2-b4a1-9f3c2a1d7e55");
        keeps("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        keeps("trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7");
        keeps("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        keeps("AKIA is a prefix; AKIAshort and AKIAIOSFODNN7EXAMPLEXX are not keys");
        keeps("ghp_short gho_ xoxb- eyJhbGciOiJIUzI1NiJ9 alone");
        keeps("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
        keeps("GET /api/users?page=2 200 12ms");
        keeps("héllo wörld ✓ password");
    }

    #[test]
    fn records_are_masked_in_message_msg_fields_and_raw() {
        let line = r#"{"msg":"login with Bearer tok3n-abcdef","password":"hunter2","nested":{"api_key":"k1","list":["AKIAIOSFODNN7EXAMPLE"]}}"#;
        let mut record = crate::index::testing::record(1, 1, "web", line);
        let count = redact_record(&mut record);
        assert!(!record.message.contains("hunter2") && !record.message.contains("tok3n"));
        assert!(!record.message.contains("k1\"") && !record.message.contains("AKIA"));
        assert_eq!(record.msg.as_deref(), Some("login with Bearer [REDACTED]"));
        let fields = serde_json::to_string(&record.fields).unwrap();
        for secret in ["hunter2", "tok3n", "\"k1\"", "AKIA"] {
            assert!(!fields.contains(secret), "{secret} in {fields}");
        }
        assert_eq!(count, 4, "{}", record.message);

        let mut raw = b"password=hunter2 \xff".to_vec();
        let mut spans = Vec::new();
        find_secrets(&raw, &mut spans);
        raw = mask(&raw, &spans);
        assert_eq!(raw, b"password=[REDACTED] \xff");
    }

    #[test]
    fn deep_fields_do_not_exhaust_the_stack() {
        let mut value = Value::String("password=x".into());
        for _ in 0..100_000 {
            value = Value::Array(vec![value]);
        }
        let mut fields = Map::new();
        fields.insert("deep".into(), value);
        assert_eq!(redact_fields(&mut fields, &mut Vec::new()), 1);
        // Dropping 100,000 nested Vecs recurses in serde_json's Drop; unwind
        // it by hand so the test checks the redactor, not Drop.
        let mut v = fields.remove("deep");
        while let Some(Value::Array(mut items)) = v {
            v = items.pop();
        }
    }
}

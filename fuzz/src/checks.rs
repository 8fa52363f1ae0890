//! What the fuzz targets check, for any input: the stage never panics, and
//! what it returns agrees with a simple model of what it should return.
//!
//! This file is compiled twice: as `wakeline_fuzz::checks` under libFuzzer
//! (nightly), and by path inside `collector/tests/fuzz_corpus.rs` (stable),
//! which runs every file of `fuzz/corpus/<target>/` through it. So it may only
//! use the `wakeline` crate, `serde_json` and std.

use std::borrow::Cow;
use std::sync::Arc;

use wakeline::assemble::{
    DOCKER_PARTIAL_BYTES, Entry, Line, LineAssembler, split_raw_entries, split_timestamp,
};
use wakeline::parse::parse_line;
use wakeline::record::{ContainerMeta, Stream};
use wakeline::source::logfile;
use wakeline::timefmt::{format_rfc3339_ns, parse_rfc3339_ns};

/// The line assembler, fed either a TTY's raw stream (`split_raw_entries`)
/// or API frames (`split_timestamp`), against a model that joins entries
/// without a limit.
///
/// Input: byte 0 picks the mode (bit 0) and `max_line_bytes` (the rest);
/// then, for TTY mode, the raw stream, cut into newline-terminated chunks;
/// for frames, records of `[header, bytes…]` where the header's top bit is
/// stderr and its low 7 bits the frame's length.
pub fn assemble(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let max_line_bytes = match first >> 1 {
        0 => 1 << 20,
        n => usize::from(n) * 3,
    };
    let mut entries: Vec<(Stream, Entry<'_>)> = Vec::new();
    if first & 1 == 0 {
        for chunk in rest.split_inclusive(|b| *b == b'\n') {
            let split = split_raw_entries(chunk);
            for (i, entry) in split.iter().enumerate() {
                // Every entry but the last is one 16 KiB fragment.
                if i + 1 < split.len() {
                    assert_eq!(entry.content.len(), DOCKER_PARTIAL_BYTES);
                }
                assert!(entry.content.len() <= chunk.len());
            }
            entries.extend(split.into_iter().map(|e| (Stream::Stdout, e)));
        }
    } else {
        let mut rest = rest;
        while let Some((&header, tail)) = rest.split_first() {
            let len = usize::from(header & 0x7f).min(tail.len());
            let (frame, after) = tail.split_at(len);
            rest = after;
            let stream = if header & 0x80 != 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let entry = split_timestamp(frame).unwrap_or(Entry {
                ts_ns: 0,
                content: frame,
            });
            assert!(entry.content.len() <= frame.len());
            entries.push((stream, entry));
        }
    }

    let mut assembler = LineAssembler::new(max_line_bytes);
    let mut model = Model::default();
    let mut got = Vec::new();
    let mut want = Vec::new();
    for (stream, entry) in entries {
        got.extend(assembler.push(stream, entry));
        want.extend(model.push(stream, entry));
        assert_eq!(got.len(), want.len(), "a line completes with its entry");
    }
    got.extend(assembler.flush());
    want.extend(model.flush());
    assert_eq!(got.len(), want.len(), "flush returns every pending line");
    // Flushed lines come out by time; compare them by stream.
    got.sort_by_key(|line| (line.ts_ns, line.stream == Stream::Stderr));
    want.sort_by_key(|line| (line.ts_ns, line.stream == Stream::Stderr));
    for (got, want) in got.iter().zip(&want) {
        assert_eq!((got.stream, got.ts_ns), (want.stream, want.ts_ns));
        if want.bytes.len() <= max_line_bytes {
            assert_eq!(got, want, "a line within the maximum is kept whole");
            continue;
        }
        assert!(got.truncated, "a line over the maximum is flagged");
        assert!(got.bytes.len() <= max_line_bytes);
        // Cut at the maximum, less at most a split UTF-8 character.
        assert!(got.bytes.len() + 3 >= max_line_bytes);
        assert!(
            want.bytes.starts_with(&got.bytes),
            "the cut keeps the start"
        );
    }
}

/// The assembler's contract, written the plain way: an entry's content is
/// appended to its stream's pending line, and one ending in `\n` (less that
/// `\n`, and a `\r` right before it) completes it.
#[derive(Default)]
struct Model {
    pending: [Option<(i64, Vec<u8>)>; 2],
}

impl Model {
    fn push(&mut self, stream: Stream, entry: Entry<'_>) -> Option<Line> {
        let slot = &mut self.pending[usize::from(stream == Stream::Stderr)];
        let (_, bytes) = slot.get_or_insert_with(|| (entry.ts_ns, Vec::new()));
        match entry.content.strip_suffix(b"\n") {
            Some(body) => {
                bytes.extend_from_slice(body.strip_suffix(b"\r").unwrap_or(body));
                let (ts_ns, bytes) = slot.take()?;
                Some(Line {
                    stream,
                    ts_ns,
                    bytes,
                    truncated: false,
                })
            }
            None => {
                bytes.extend_from_slice(entry.content);
                None
            }
        }
    }

    fn flush(&mut self) -> Vec<Line> {
        [Stream::Stdout, Stream::Stderr]
            .into_iter()
            .zip(self.pending.iter_mut())
            .filter_map(|(stream, slot)| {
                let (ts_ns, bytes) = slot.take()?;
                Some(Line {
                    stream,
                    ts_ns,
                    bytes,
                    truncated: false,
                })
            })
            .collect()
    }
}

/// The `json-file` entry decoder: a line of the file in, an entry out. An
/// entry is decoded exactly (checked against `serde_json`'s own reading);
/// anything else is kept whole as one line. Then the same bytes, as the
/// `log` of an entry the way Docker writes one, must come back unchanged.
pub fn decode(data: &[u8]) {
    let entry = decode_line(data);
    let mut whole = data.to_vec();
    whole.push(b'\n');
    if entry.content != whole.as_slice() {
        // serde_json skips an ignored key's value (`attrs`) without checking
        // its UTF-8, so an entry may decode that is not strictly JSON: compare
        // with the reading of its lossy text then (the fields used are valid).
        let value: serde_json::Value = serde_json::from_slice(data)
            .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(data)))
            .expect("a decoded entry is JSON");
        let log = value["log"].as_str().expect("a decoded entry has a log");
        assert_eq!(entry.content, log.as_bytes());
        let time = value["time"].as_str().expect("a decoded entry has a time");
        assert_eq!(parse_rfc3339_ns(time), Some(entry.ts_ns));
        assert_eq!(
            entry.stream == Stream::Stderr,
            value["stream"] == "stderr",
            "{value}"
        );
    }
    // Timestamps read back as they are written.
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(ts) = parse_rfc3339_ns(text)
    {
        let formatted = format_rfc3339_ns(ts);
        assert_eq!(parse_rfc3339_ns(&formatted), Some(ts), "{formatted}");
    }

    let log = String::from_utf8_lossy(data);
    let line = serde_json::json!({
        "log": log,
        "stream": "stderr",
        "time": "2026-01-02T03:04:05.123456789Z",
    })
    .to_string();
    let entry = decode_line(line.as_bytes());
    assert_eq!(entry.content, log.as_bytes());
    assert_eq!(entry.stream, Stream::Stderr);
    assert_eq!(entry.ts_ns, 1_767_323_045_123_456_789);
}

struct Decoded {
    stream: Stream,
    ts_ns: i64,
    content: Vec<u8>,
}

fn decode_line(line: &[u8]) -> Decoded {
    let entry = logfile::decode(line);
    let content = match entry.content {
        Cow::Borrowed(bytes) => bytes.to_vec(),
        Cow::Owned(bytes) => bytes,
    };
    Decoded {
        stream: entry.stream,
        ts_ns: entry.ts_ns,
        content,
    }
}

/// The parser: any bytes make a record that keeps the line (lossless: the
/// exact bytes in `raw` when they are not UTF-8), IDs within their bound,
/// and a record that serializes to the API's JSON.
pub fn parse(data: &[u8]) {
    let line = Line {
        stream: Stream::Stdout,
        ts_ns: 1,
        bytes: data.to_vec(),
        truncated: false,
    };
    let record = parse_line(line, Arc::new(ContainerMeta::default()));
    assert_eq!(record.message, String::from_utf8_lossy(data));
    match std::str::from_utf8(data) {
        Ok(_) => assert!(record.raw.is_none()),
        Err(_) => assert_eq!(record.raw.as_deref(), Some(data)),
    }
    assert_ne!(record.msg.as_deref(), Some(record.message.as_str()));
    for id in [&record.request_id, &record.trace_id, &record.span_id]
        .into_iter()
        .flatten()
    {
        assert!(!id.is_empty() && id.len() <= 256, "{id:?}");
    }
    let json = serde_json::to_value(&record).expect("a record serializes");
    assert_eq!(json["message"], record.message.as_str());
}

//! The line assembler: Docker's log frames in, whole lines out.
//!
//! With `timestamps=1` every entry Docker returns starts with its own RFC 3339
//! nanosecond timestamp and a space. A line longer than 16 KiB is stored as
//! several entries, each but the last without a final newline; this stage
//! joins them back into one line stamped with the first fragment's time, cuts
//! it at `max_line_bytes` (flagging it, never dropping it), and strips the
//! line ending (`\n`, or `\r\n` on a TTY). Bytes are kept as bytes: turning
//! them into text is the parser's job, so invalid UTF-8 cannot hurt here.
//!
//! Non-TTY containers arrive as one frame per entry. TTY containers arrive as
//! a raw byte stream split at newlines, where a 16 KiB fragment runs straight
//! into the next entry's timestamp; `split_raw_entries` finds those seams.

use crate::record::Stream;
use crate::timefmt::parse_rfc3339_ns;

/// Docker's copier emits a partial entry every 16 KiB of a line without a
/// newline (daemon/logger/copier.go).
pub const DOCKER_PARTIAL_BYTES: usize = 16 * 1024;

/// One whole log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub ts_ns: i64,
    pub bytes: Vec<u8>,
    pub truncated: bool,
}

/// A Docker log entry: its timestamp and content, the line ending included
/// if the entry completes a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub ts_ns: i64,
    pub content: &'a [u8],
}

/// Splits `TIMESTAMP SP content` as Docker writes it with `timestamps=1`.
/// `None` when the entry does not start with a timestamp.
pub fn split_timestamp(frame: &[u8]) -> Option<Entry<'_>> {
    let space = frame.iter().take(40).position(|b| *b == b' ')?;
    let text = std::str::from_utf8(&frame[..space]).ok()?;
    let ts_ns = parse_rfc3339_ns(text)?;
    Some(Entry {
        ts_ns,
        content: &frame[space + 1..],
    })
}

/// Splits one newline-terminated chunk of a TTY's raw stream into entries: a
/// 16 KiB partial entry is directly followed by the next entry's timestamp.
pub fn split_raw_entries(chunk: &[u8]) -> Vec<Entry<'_>> {
    let mut entries = Vec::new();
    let Some(mut entry) = split_timestamp(chunk) else {
        return entries;
    };
    while entry.content.len() > DOCKER_PARTIAL_BYTES {
        let Some(next) = split_timestamp(&entry.content[DOCKER_PARTIAL_BYTES..]) else {
            break;
        };
        entries.push(Entry {
            ts_ns: entry.ts_ns,
            content: &entry.content[..DOCKER_PARTIAL_BYTES],
        });
        entry = next;
    }
    entries.push(entry);
    entries
}

#[derive(Debug)]
struct Pending {
    ts_ns: i64,
    bytes: Vec<u8>,
    truncated: bool,
}

/// Joins partial entries into lines, one pending line per stream.
#[derive(Debug)]
pub struct LineAssembler {
    max_line_bytes: usize,
    stdout: Option<Pending>,
    stderr: Option<Pending>,
}

impl LineAssembler {
    pub fn new(max_line_bytes: usize) -> LineAssembler {
        LineAssembler {
            max_line_bytes: max_line_bytes.max(1),
            stdout: None,
            stderr: None,
        }
    }

    fn slot(&mut self, stream: Stream) -> &mut Option<Pending> {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// Feeds one entry; returns the line it completes, if any.
    pub fn push(&mut self, stream: Stream, entry: Entry<'_>) -> Option<Line> {
        let max = self.max_line_bytes;
        let (content, complete) = match entry.content.strip_suffix(b"\n") {
            Some(body) => (body.strip_suffix(b"\r").unwrap_or(body), true),
            None => (entry.content, false),
        };
        let slot = self.slot(stream);
        let pending = slot.get_or_insert_with(|| Pending {
            ts_ns: entry.ts_ns,
            bytes: Vec::with_capacity(content.len().min(max)),
            truncated: false,
        });
        let room = max.saturating_sub(pending.bytes.len());
        if content.len() > room {
            pending.bytes.extend_from_slice(&content[..room]);
            pending.truncated = true;
        } else {
            pending.bytes.extend_from_slice(content);
        }
        if !complete {
            return None;
        }
        // A TTY's `\r\n` split by a 16 KiB cut: the `\r` ended the fragment.
        if content.is_empty() && entry.content == b"\n" && pending.bytes.last() == Some(&b'\r') {
            pending.bytes.pop();
        }
        slot.take().map(|p| finish(stream, p))
    }

    /// The timestamp of the line waiting for its end on `stream`, if any.
    pub fn pending_ts(&self, stream: Stream) -> Option<i64> {
        match stream {
            Stream::Stdout => self.stdout.as_ref(),
            Stream::Stderr => self.stderr.as_ref(),
        }
        .map(|p| p.ts_ns)
    }

    /// Lines still waiting for their end, as they are: called when a
    /// container's output has ended (a last line written without a newline).
    pub fn flush(&mut self) -> Vec<Line> {
        let mut lines = Vec::new();
        for stream in [Stream::Stdout, Stream::Stderr] {
            if let Some(p) = self.slot(stream).take() {
                lines.push(finish(stream, p));
            }
        }
        lines.sort_by_key(|l| l.ts_ns);
        lines
    }

    /// Forgets half-read lines: after a dropped connection they are read again.
    pub fn discard(&mut self) {
        self.stdout = None;
        self.stderr = None;
    }
}

fn finish(stream: Stream, mut pending: Pending) -> Line {
    if pending.truncated {
        // Do not leave half a UTF-8 character at the cut.
        if let Err(e) = std::str::from_utf8(&pending.bytes)
            && e.error_len().is_none()
        {
            pending.bytes.truncate(e.valid_up_to());
        }
    }
    Line {
        stream,
        ts_ns: pending.ts_ns,
        bytes: pending.bytes,
        truncated: pending.truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts_ns: i64, content: &[u8]) -> Entry<'_> {
        Entry { ts_ns, content }
    }

    #[test]
    fn whole_line_is_stripped_of_its_ending() {
        let mut asm = LineAssembler::new(1024);
        let line = asm.push(Stream::Stdout, entry(5, b"hello\r\n")).unwrap();
        assert_eq!(line.bytes, b"hello");
        assert_eq!(line.ts_ns, 5);
        assert!(!line.truncated);
    }

    #[test]
    fn partial_entries_join_into_one_line_with_the_first_timestamp() {
        let mut asm = LineAssembler::new(1 << 20);
        let a = vec![b'a'; DOCKER_PARTIAL_BYTES];
        assert!(asm.push(Stream::Stdout, entry(1, &a)).is_none());
        assert!(asm.push(Stream::Stderr, entry(2, b"other\n")).is_some());
        let line = asm.push(Stream::Stdout, entry(3, b"bc\n")).unwrap();
        assert_eq!(line.bytes.len(), DOCKER_PARTIAL_BYTES + 2);
        assert_eq!(line.ts_ns, 1);
    }

    #[test]
    fn a_crlf_split_between_two_fragments_is_stripped_whole() {
        let mut asm = LineAssembler::new(1 << 20);
        let mut head = vec![b'a'; DOCKER_PARTIAL_BYTES - 1];
        head.push(b'\r');
        assert!(asm.push(Stream::Stdout, entry(1, &head)).is_none());
        let line = asm.push(Stream::Stdout, entry(2, b"\n")).unwrap();
        assert_eq!(line.bytes.len(), DOCKER_PARTIAL_BYTES - 1);
        assert_eq!(line.bytes.last(), Some(&b'a'));
    }

    #[test]
    fn line_over_the_maximum_is_cut_and_flagged() {
        let mut asm = LineAssembler::new(10);
        assert!(asm.push(Stream::Stdout, entry(1, b"0123456")).is_none());
        assert!(asm.push(Stream::Stdout, entry(2, b"789abcdef")).is_none());
        let line = asm.push(Stream::Stdout, entry(3, b"xyz\n")).unwrap();
        assert_eq!(line.bytes, b"0123456789");
        assert!(line.truncated);
        // The next line is whole again.
        let next = asm.push(Stream::Stdout, entry(4, b"ok\n")).unwrap();
        assert_eq!(next.bytes, b"ok");
        assert!(!next.truncated);
    }

    #[test]
    fn cut_does_not_split_a_utf8_character() {
        let mut asm = LineAssembler::new(4);
        let line = asm
            .push(Stream::Stdout, entry(1, "abcé\n".as_bytes()))
            .unwrap();
        assert_eq!(line.bytes, b"abc");
        assert!(line.truncated);
    }

    #[test]
    fn flush_returns_a_last_line_without_newline() {
        let mut asm = LineAssembler::new(1024);
        assert!(asm.push(Stream::Stdout, entry(1, b"no newline")).is_none());
        let lines = asm.flush();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].bytes, b"no newline");
        assert!(asm.flush().is_empty());
    }

    #[test]
    fn timestamp_prefix_is_split() {
        let e = split_timestamp(b"2026-12-03T07:43:41.000000001Z hi there\n").unwrap();
        assert_eq!(e.content, b"hi there\n");
        assert_eq!(e.ts_ns % 1_000_000_000, 1);
        assert!(split_timestamp(b"no timestamp here\n").is_none());
        assert!(split_timestamp(b"").is_none());
    }

    #[test]
    fn tty_raw_chunk_with_glued_partial_splits_at_16k() {
        let ts1 = "2026-12-03T07:43:41.000000001Z ";
        let ts2 = "2026-12-03T07:43:41.000000002Z ";
        let mut chunk = ts1.as_bytes().to_vec();
        chunk.extend(vec![b'x'; DOCKER_PARTIAL_BYTES]);
        chunk.extend(ts2.as_bytes());
        chunk.extend(b"tail\r\n");
        let entries = split_raw_entries(&chunk);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].content.len(), DOCKER_PARTIAL_BYTES);
        assert_eq!(entries[1].content, b"tail\r\n");
        let mut asm = LineAssembler::new(1 << 20);
        assert!(asm.push(Stream::Stdout, entries[0]).is_none());
        let line = asm.push(Stream::Stdout, entries[1]).unwrap();
        assert_eq!(line.bytes.len(), DOCKER_PARTIAL_BYTES + 4);
    }
}

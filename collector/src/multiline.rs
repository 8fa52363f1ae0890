//! Multi-line records: a stack trace written as many lines becomes one record.
//!
//! A Python traceback, a Java or .NET exception with its `at …` frames and
//! `Caused by:` chain, a Go panic with its goroutine dump, a Node error stack
//! and a Rust panic with its backtrace each arrive as many lines; a person
//! reading the log sees one event. The [`Joiner`] puts such continuation lines
//! back into the record they belong to, with no configuration, and strictly:
//!
//! - Only a *possible head* waits for continuation lines: a line that starts a
//!   trace by its shape (`Traceback (most recent call last):`, `panic: …`,
//!   `thread '…' panicked at …`, `java.lang.IllegalStateException: …`,
//!   `Error: …`, Node's `/app/index.js:3`), or a text line logged at warn or
//!   above (the line `logger.exception(…)` writes before its traceback). Any
//!   other line, and every JSON line, is a record at once: holding lines back
//!   would delay the live feed for nothing.
//! - A line joins only in a shape that continues what the record holds so far
//!   (a small state machine per language: frames after an exception line,
//!   `Caused by:` after frames, the goroutine dump after `panic:`, …), on the
//!   same stream, stamped at most [`JOIN_WINDOW_NS`] after the line before
//!   it, and while the record stays within `--max-line-bytes`. A line that
//!   merely starts with spaces in an ordinary stream is never swallowed.
//! - Some lines only belong if a later one confirms it (the blank line and
//!   `During handling of the above exception…` between chained Python
//!   tracebacks, the exception line between a log line and its frames): they
//!   are held *tentatively*, and become records of their own if the
//!   confirmation does not come.
//! - A record waits for its next line at most until Docker's clock has moved
//!   [`JOIN_WINDOW_NS`] plus [`SETTLE_NS`] past its last line: by then a
//!   continuation would have been stamped and written. Reading a backlog,
//!   that is at once; following a live log, a tenth of a second.
//!
//! Whether lines join depends only on their bytes, streams and Docker
//! timestamps, so a log read again after a crash is joined the same way. The
//! joiner works on lines already admitted by the replay, and the reader's
//! checkpoints never pass a line it holds (see `checkpoint`): a record
//! half-built when the collector died is read again from its first line and
//! comes back whole, once.

use std::sync::Arc;

use crate::assemble::Line;
use crate::checkpoint::Checkpoint;
use crate::parse::parse_line;
use crate::record::{ContainerMeta, Level, Record, Stream};

/// Longest gap, in Docker's timestamps, between two lines of one record.
/// The lines of a trace are written in one go (one write, or a few within
/// microseconds); a generous window covers a writer descheduled meanwhile.
pub const JOIN_WINDOW_NS: i64 = 100_000_000;
/// How long after the window a held record is given for its continuation
/// to travel from Docker's stamping to the collector's read.
pub const SETTLE_NS: i64 = 20_000_000;
/// Lines held tentatively at most (a Rust panic's message lines).
const MAX_TENTATIVE: usize = 32;

/// A record ready to be taken, with the lines it covers: the newest Docker
/// timestamp among them and how many carry it (for the stream's checkpoint).
#[derive(Debug)]
pub struct Taken {
    pub record: Record,
    pub newest: Checkpoint,
}

/// Where a record being built stands: what may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A log line at warn or above: its traceback or exception may follow.
    LogLine,
    /// An exception line (or one after a log line): frames must follow.
    ExpectFrames,
    /// Java, .NET, Node or Kotlin frames, `Caused by:`, `... 5 more`.
    Frames,
    /// A blank line after frames: Node's `Node.js v20.1.0` may follow.
    FramesBlank,
    /// Inside a Python traceback: indented frame and code lines.
    PyFrames,
    /// After a traceback's exception line: a chained one may follow.
    PyEnd,
    /// The blank line after an exception line.
    PyEndBlank,
    /// After `During handling of the above exception…`.
    PyChain,
    /// A Go panic and its goroutine dump.
    GoDump,
    /// A Rust panic's head whose message is on the next line.
    RustHead,
    /// A Rust panic's message: `note:` or `stack backtrace:` follows.
    RustMessage,
    /// A Rust backtrace.
    RustFrames,
    /// Node's uncaught-exception report: `file.js:3`, then the source
    /// line, a caret line, a blank line and the error with its frames.
    NodeLocation,
    NodeSource,
    NodeCaret,
    /// Nothing more belongs to the record: it is emitted at once.
    End,
}

/// What a line does to the record being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Join(State),
    Tentative(State),
    Close,
}

/// The record being built on one stream.
#[derive(Debug)]
struct Group {
    head: Record,
    /// The continuation lines joined so far, each after a `\n`.
    more: Vec<u8>,
    more_lines: u32,
    /// Lines that join only if a later line confirms them.
    tentative: Vec<Line>,
    state: State,
    /// The Docker timestamp of the last line, tentative ones included.
    last_ts: i64,
    /// Over the head and the joined lines.
    newest: Checkpoint,
}

impl Group {
    /// The record's size with its tentative lines joined.
    fn bytes(&self) -> usize {
        let tentative: usize = self.tentative.iter().map(|l| 1 + l.bytes.len()).sum();
        self.head.message.len() + self.more.len() + tentative
    }

    fn append(&mut self, line: Line) {
        self.more.push(b'\n');
        self.more.extend_from_slice(&line.bytes);
        self.more_lines += 1;
        self.newest.absorb(Checkpoint {
            ts_ns: line.ts_ns,
            at_ts: 1,
        });
    }

    /// The record, its continuation lines joined to its head.
    fn finish(mut self) -> (Taken, Vec<Line>) {
        let tentative = std::mem::take(&mut self.tentative);
        let mut record = self.head;
        if self.more_lines > 0 {
            let more = String::from_utf8_lossy(&self.more);
            if let Some(msg) = &mut record.msg {
                msg.push_str(&more);
            }
            if let Some(raw) = &mut record.raw {
                raw.extend_from_slice(&self.more);
            } else if let std::borrow::Cow::Owned(_) = more {
                let mut raw = record.message.clone().into_bytes();
                raw.extend_from_slice(&self.more);
                record.raw = Some(raw);
            }
            record.message.push_str(&more);
            record.lines = 1 + self.more_lines;
            // A trace nobody gave a level to is an error.
            if record.level.is_none() {
                record.level = Some(Level::Error);
            }
        }
        (
            Taken {
                record,
                newest: self.newest,
            },
            tentative,
        )
    }
}

/// Joins continuation lines into their records, per stream.
#[derive(Debug)]
pub struct Joiner {
    enabled: bool,
    max_bytes: usize,
    open: [Option<Group>; 2],
}

fn slot(stream: Stream) -> usize {
    usize::from(stream == Stream::Stderr)
}

impl Joiner {
    /// `enabled: false` (`--multiline=off`) makes every line a record.
    pub fn new(enabled: bool, max_bytes: usize) -> Joiner {
        Joiner {
            enabled,
            max_bytes,
            open: [None, None],
        }
    }

    /// Takes one line (already admitted by the replay); appends to `out` the
    /// records it completes, in their stream's order.
    pub fn push(&mut self, line: Line, meta: &Arc<ContainerMeta>, out: &mut Vec<Taken>) {
        let s = slot(line.stream);
        let Some(group) = &mut self.open[s] else {
            return self.start(line, meta, out);
        };
        let step = if line.ts_ns.saturating_sub(group.last_ts) > JOIN_WINDOW_NS
            || group.bytes() + 1 + line.bytes.len() > self.max_bytes
        {
            Step::Close
        } else {
            step(group.state, &text(&line.bytes))
        };
        match step {
            Step::Join(state) => {
                for held in std::mem::take(&mut group.tentative) {
                    group.append(held);
                }
                group.last_ts = line.ts_ns;
                group.append(line);
                group.state = state;
                if state == State::End {
                    self.close(s, meta, out);
                }
            }
            Step::Tentative(state) if group.tentative.len() < MAX_TENTATIVE => {
                group.last_ts = line.ts_ns;
                group.tentative.push(line);
                group.state = state;
            }
            Step::Tentative(_) | Step::Close => {
                self.close(s, meta, out);
                self.push(line, meta, out);
            }
        }
    }

    /// Emits the record open on slot `s`; its tentative lines are taken
    /// again as lines of their own.
    fn close(&mut self, s: usize, meta: &Arc<ContainerMeta>, out: &mut Vec<Taken>) {
        if let Some(group) = self.open[s].take() {
            let (taken, tentative) = group.finish();
            out.push(taken);
            for line in tentative {
                self.push(line, meta, out);
            }
        }
    }

    /// A line with no record open: a record at once, or the head of one.
    fn start(&mut self, line: Line, meta: &Arc<ContainerMeta>, out: &mut Vec<Taken>) {
        let ts_ns = line.ts_ns;
        let stream = line.stream;
        let record = parse_line(line, Arc::clone(meta));
        let newest = Checkpoint { ts_ns, at_ts: 1 };
        let head = if self.enabled && !record.truncated && record.message.len() < self.max_bytes {
            head_state(&record)
        } else {
            None
        };
        match head {
            Some(state) => {
                self.open[slot(stream)] = Some(Group {
                    head: record,
                    more: Vec::new(),
                    more_lines: 0,
                    tentative: Vec::new(),
                    state,
                    last_ts: ts_ns,
                    newest,
                });
            }
            None => out.push(Taken { record, newest }),
        }
    }

    /// Emits the records whose continuation can no longer come: Docker's
    /// clock (`now_ns`, the same host's) is past their last line by the
    /// window and the settling time.
    pub fn flush_quiet(&mut self, now_ns: i64, meta: &Arc<ContainerMeta>, out: &mut Vec<Taken>) {
        for s in 0..2 {
            while self.open[s].as_ref().is_some_and(|g| due(g) <= now_ns) {
                self.close(s, meta, out);
            }
        }
    }

    /// Emits everything held: the log has ended (the container stopped).
    pub fn flush(&mut self, meta: &Arc<ContainerMeta>, out: &mut Vec<Taken>) {
        for s in 0..2 {
            while self.open[s].is_some() {
                self.close(s, meta, out);
            }
        }
    }

    /// Forgets what is held: it will be read again.
    pub fn discard(&mut self) {
        self.open = [None, None];
    }

    /// The Docker timestamp of the first line held on `stream`, if any.
    pub fn held_ts(&self, stream: Stream) -> Option<i64> {
        self.open[slot(stream)].as_ref().map(|g| g.head.ts_ns)
    }

    /// When (Docker's clock, ns) the earliest held record is due.
    pub fn due_ns(&self) -> Option<i64> {
        self.open.iter().flatten().map(due).min()
    }
}

fn due(group: &Group) -> i64 {
    group.last_ts.saturating_add(JOIN_WINDOW_NS + SETTLE_NS)
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Whether a fresh record may have continuation lines, and what may follow.
fn head_state(record: &Record) -> Option<State> {
    let line = record.message.as_str();
    if let Some(state) = trace_head(line) {
        return Some(state);
    }
    let structured = line.trim_start().starts_with('{');
    let serious = record
        .level
        .as_ref()
        .is_some_and(|l| matches!(l, Level::Warn | Level::Error | Level::Fatal));
    (serious && !structured).then_some(State::LogLine)
}

/// A line that starts a trace by its shape alone.
fn trace_head(line: &str) -> Option<State> {
    let t = line.trim_end();
    if t == "Traceback (most recent call last):"
        || t.trim_start()
            .starts_with("+ Exception Group Traceback (most recent call last):")
    {
        return Some(State::PyFrames);
    }
    if t.starts_with("panic: ") || t.starts_with("fatal error: ") {
        return Some(State::GoDump);
    }
    if let Some(rest) = t.strip_prefix("thread '")
        && rest.contains("' panicked at ")
    {
        return Some(if t.ends_with(':') {
            State::RustHead
        } else {
            State::RustMessage
        });
    }
    if t.starts_with("Exception in thread \"")
        || t.starts_with("Unhandled exception. ")
        || t.starts_with("Uncaught ")
        || exception_line(t)
    {
        return Some(State::ExpectFrames);
    }
    if node_location(t) {
        return Some(State::NodeLocation);
    }
    None
}

/// What `line` does to a record in `state`.
fn step(state: State, line: &str) -> Step {
    let t = line.trim_end();
    let blank = t.trim_start().is_empty();
    match state {
        State::LogLine => {
            if t == "Traceback (most recent call last):" {
                Step::Join(State::PyFrames)
            } else if frame(t) {
                Step::Join(State::Frames)
            } else if exception_line(t) {
                Step::Tentative(State::ExpectFrames)
            } else {
                Step::Close
            }
        }
        State::ExpectFrames => {
            if frame(t) {
                Step::Join(State::Frames)
            } else {
                Step::Close
            }
        }
        State::Frames => {
            let s = t.trim_start();
            if frame(t)
                || more_frames(s)
                || s.starts_with("Caused by: ")
                || (s.len() < t.len() && s.starts_with("Suppressed: "))
                || s.starts_with("--- End of ")
                || s.starts_with("---> ")
            {
                Step::Join(State::Frames)
            } else if blank {
                Step::Tentative(State::FramesBlank)
            } else {
                Step::Close
            }
        }
        State::FramesBlank => {
            if t.starts_with("Node.js v") {
                Step::Join(State::End)
            } else {
                Step::Close
            }
        }
        State::PyFrames => {
            if t.starts_with("  ") || t.starts_with('\t') {
                Step::Join(State::PyFrames)
            } else if python_exception(t) {
                Step::Join(State::PyEnd)
            } else {
                Step::Close
            }
        }
        State::PyEnd => {
            if blank {
                Step::Tentative(State::PyEndBlank)
            } else {
                Step::Close
            }
        }
        State::PyEndBlank => {
            if t == "During handling of the above exception, another exception occurred:"
                || t == "The above exception was the direct cause of the following exception:"
            {
                Step::Join(State::PyChain)
            } else {
                Step::Close
            }
        }
        State::PyChain => {
            if blank {
                Step::Join(State::PyChain)
            } else if t == "Traceback (most recent call last):" {
                Step::Join(State::PyFrames)
            } else {
                Step::Close
            }
        }
        State::GoDump => {
            if blank {
                Step::Tentative(State::GoDump)
            } else if go_dump_line(t) {
                Step::Join(State::GoDump)
            } else {
                Step::Close
            }
        }
        State::RustHead => Step::Join(State::RustMessage),
        State::RustMessage => {
            if t.starts_with("note: ") {
                Step::Join(State::End)
            } else if t == "stack backtrace:" {
                Step::Join(State::RustFrames)
            } else {
                Step::Tentative(State::RustMessage)
            }
        }
        State::RustFrames => {
            let s = t.trim_start();
            if s.len() < t.len() && (numbered_frame(s) || s.starts_with("at ")) {
                Step::Join(State::RustFrames)
            } else if t.starts_with("note: ") {
                Step::Join(State::End)
            } else {
                Step::Close
            }
        }
        State::NodeLocation => {
            if blank {
                Step::Close
            } else {
                Step::Tentative(State::NodeSource)
            }
        }
        State::NodeSource => {
            if !t.trim().is_empty() && t.trim().bytes().all(|b| b == b'^') {
                Step::Join(State::NodeCaret)
            } else {
                Step::Close
            }
        }
        State::NodeCaret => {
            if blank {
                Step::Tentative(State::NodeCaret)
            } else if exception_line(t) || t.starts_with("Uncaught ") {
                Step::Join(State::ExpectFrames)
            } else {
                Step::Close
            }
        }
        State::End => Step::Close,
    }
}

/// A frame line of Java, Kotlin, Scala, .NET or Node: indented `at X`, where
/// X names code (`com.x.Y.z(Y.java:10)`, `Object.<anonymous>
/// (/app/index.js:3:7)`, `/app/index.js:3:7`, `Ns.C.M() in /src/C.cs:line 4`).
fn frame(t: &str) -> bool {
    let s = t.trim_start();
    if s.len() == t.len() {
        return false;
    }
    let Some(rest) = s.strip_prefix("at ") else {
        return false;
    };
    let starts_like_code = rest
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '<' | '/' | '.' | '['));
    starts_like_code && (rest.ends_with(')') || ends_with_line_number(rest))
}

/// `…:12`, `…:12:5` or .NET's `…:line 12`.
fn ends_with_line_number(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((before, n)) = text.rsplit_once(":line ") {
        return !before.is_empty() && digits(n);
    }
    let Some((before, last)) = text.rsplit_once(':') else {
        return false;
    };
    if !digits(last) {
        return false;
    }
    match before.rsplit_once(':') {
        Some((path, line)) if digits(line) => !path.is_empty(),
        _ => !before.is_empty(),
    }
}

/// Java's `... 12 more` and logback's `... 3 common frames omitted`.
fn more_frames(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("... ") else {
        return false;
    };
    let (n, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && (tail == "more" || tail == "common frames omitted")
}

/// An exception line that frames may follow: `java.lang.IllegalStateException:
/// boom`, `System.InvalidOperationException: x`, `TypeError: x`,
/// `com.acme.BadThing` (a qualified name alone), `Error: boom`.
fn exception_line(t: &str) -> bool {
    let (name, rest) = match t.split_once(": ") {
        Some((name, rest)) => (name, Some(rest)),
        None => (t.strip_suffix(':').unwrap_or(t), None),
    };
    if name.is_empty() || name.len() > 200 {
        return false;
    }
    let identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    if !name.split('.').all(identifier) {
        return false;
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    let named_like_one = [
        "Exception",
        "Error",
        "Throwable",
        "Fault",
        "Panic",
        "Failure",
    ]
    .iter()
    .any(|suffix| last.ends_with(suffix));
    named_like_one || (name.contains('.') && rest.is_some())
}

/// A traceback's last line: `ValueError: bad`, `KeyboardInterrupt`,
/// `requests.exceptions.ConnectionError: …`.
fn python_exception(t: &str) -> bool {
    let name = t.split_once(':').map_or(t, |(name, _)| name);
    !name.is_empty()
        && name.len() <= 200
        && name.split('.').all(|p| {
            p.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        })
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

/// A line of a Go panic's report after its head.
fn go_dump_line(t: &str) -> bool {
    if t.starts_with('\t')
        || t.starts_with("goroutine ")
        || t.starts_with("created by ")
        || t.starts_with("panic: ")
        || t.starts_with("[signal ")
        || t.starts_with("exit status ")
        || t.starts_with("...additional frames elided...")
    {
        return true;
    }
    // A function line: `main.main()`, `main.(*T).M(0xc0000, {0x4b, 0x5})`.
    let Some(open) = t.find('(') else {
        return false;
    };
    let name = &t[..open];
    t.ends_with(')')
        && !name.is_empty()
        && !name.contains(' ')
        && !t.starts_with(char::is_whitespace)
        && name.contains('.')
}

/// A Rust backtrace's `  12: std::rt::lang_start`.
fn numbered_frame(s: &str) -> bool {
    s.split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Node's first line of an uncaught exception: `/app/index.js:3`.
fn node_location(t: &str) -> bool {
    let Some((path, line)) = t.rsplit_once(':') else {
        return false;
    };
    !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && !path.contains(' ')
        && [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"]
            .iter()
            .any(|ext| path.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: i64 = 1_000;

    fn line(stream: Stream, ts_ns: i64, text: &str) -> Line {
        Line {
            stream,
            ts_ns,
            bytes: text.as_bytes().to_vec(),
            truncated: false,
        }
    }

    /// Feeds `text`'s lines on stderr, a microsecond apart, then flushes.
    fn join_with(joiner: &mut Joiner, text: &str) -> Vec<Taken> {
        let meta = Arc::new(ContainerMeta::default());
        let mut out = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let ts = 1_000_000_000 + i as i64 * US;
            joiner.push(line(Stream::Stderr, ts, l), &meta, &mut out);
        }
        joiner.flush(&meta, &mut out);
        out
    }

    fn join(text: &str) -> Vec<Record> {
        let mut joiner = Joiner::new(true, 1 << 20);
        join_with(&mut joiner, text)
            .into_iter()
            .map(|t| t.record)
            .collect()
    }

    /// The records' messages, for comparing with what a person would group.
    fn messages(text: &str) -> Vec<String> {
        join(text).into_iter().map(|r| r.message).collect()
    }

    #[test]
    fn python_traceback_after_its_log_line_is_one_record() {
        let trace = [
            "ERROR:app:payment failed",
            "Traceback (most recent call last):",
            "  File \"/app/pay.py\", line 12, in charge",
            "    return gateway.charge(amount)",
            "           ^^^^^^^^^^^^^^^^^^^^^^",
            "  File \"/app/gateway.py\", line 40, in charge",
            "    raise GatewayError(\"declined\")",
            "gateway.GatewayError: declined",
        ]
        .join("\n");
        let records = join(&format!("{trace}\nINFO:app:next request"));
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].message, trace);
        assert_eq!(records[0].lines, 8);
        assert_eq!(records[0].level, Some(Level::Error));
        assert_eq!(records[1].message, "INFO:app:next request");
        assert_eq!(records[1].lines, 1);
    }

    #[test]
    fn chained_python_tracebacks_stay_together() {
        let trace = [
            "Traceback (most recent call last):",
            "  File \"/app/a.py\", line 2, in <module>",
            "    int(\"x\")",
            "ValueError: invalid literal for int() with base 10: 'x'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            "  File \"/app/a.py\", line 4, in <module>",
            "    raise RuntimeError(\"bad input\")",
            "RuntimeError: bad input",
        ]
        .join("\n");
        let records = join(&trace);
        assert_eq!(records.len(), 1, "{records:#?}");
        assert_eq!(records[0].lines, 11);
        assert_eq!(
            records[0].level,
            Some(Level::Error),
            "uncaught: no level written"
        );
    }

    #[test]
    fn a_blank_line_after_a_traceback_is_its_own_line() {
        let trace = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nKeyError: 'k'";
        assert_eq!(
            messages(&format!("{trace}\n\nstarting again")),
            [trace, "", "starting again"]
        );
    }

    #[test]
    fn java_exception_with_causes_after_a_logback_line() {
        let trace = [
            "2026-12-04 10:00:00.123 ERROR 1 --- [nio-8080-exec-1] c.a.OrderController : order 42 failed",
            "java.lang.IllegalStateException: stock is negative",
            "\tat com.acme.Stock.take(Stock.java:31)",
            "\tat com.acme.OrderController.place(OrderController.java:57)",
            "\tat java.base/java.lang.Thread.run(Thread.java:833)",
            "Caused by: java.sql.SQLException: deadlock",
            "\tat org.h2.Db.exec(Db.java:9)",
            "\t... 2 more",
            "\tSuppressed: java.io.IOException: closed",
            "\t\tat com.acme.Pool.close(Pool.java:3)",
            "\t... 3 common frames omitted",
        ]
        .join("\n");
        let records = join(&format!(
            "{trace}\n2026-12-04 10:00:01.000  INFO 1 --- [main] ok"
        ));
        assert_eq!(records.len(), 2, "{records:#?}");
        assert_eq!(records[0].message, trace);
        assert_eq!(records[0].level, Some(Level::Error));
        assert_eq!(records[0].lines, 11);
    }

    #[test]
    fn exception_in_thread_main_and_dotnet_unhandled() {
        let java = "Exception in thread \"main\" java.lang.NullPointerException: name\n\tat App.main(App.java:5)";
        let dotnet = "Unhandled exception. System.InvalidOperationException: no orders\n   at Shop.Orders.Next() in /src/Orders.cs:line 42\n   at Shop.Program.Main(String[] args) in /src/Program.cs:line 9\n   --- End of stack trace from previous location ---\n   at Shop.Program.<Main>(String[] args)";
        assert_eq!(messages(&format!("{java}\n{dotnet}")), [java, dotnet]);
    }

    #[test]
    fn go_panic_with_its_goroutine_dump() {
        let trace = [
            "panic: runtime error: index out of range [5] with length 3",
            "",
            "goroutine 1 [running]:",
            "main.lookup(...)",
            "\t/app/main.go:12",
            "main.main()",
            "\t/app/main.go:7 +0x1d",
            "",
            "goroutine 6 [chan receive]:",
            "main.(*Worker).run(0xc000010000, {0x4b5f7e, 0x5})",
            "\t/app/worker.go:30 +0x45",
            "created by main.main in goroutine 1",
            "\t/app/main.go:5 +0x27",
            "exit status 2",
        ]
        .join("\n");
        let records = join(&trace);
        assert_eq!(records.len(), 1, "{records:#?}");
        assert_eq!(records[0].lines, 14);
    }

    #[test]
    fn node_uncaught_error_and_logged_error() {
        let uncaught = [
            "/app/index.js:3",
            "  throw new Error('boom');",
            "  ^",
            "",
            "Error: boom",
            "    at Object.<anonymous> (/app/index.js:3:9)",
            "    at Module._compile (node:internal/modules/cjs/loader:1256:14)",
            "    at node:internal/main/run_main_module:23:47",
            "",
            "Node.js v18.19.0",
        ]
        .join("\n");
        let logged = "TypeError: Cannot read properties of undefined (reading 'id')\n    at handler (/app/routes.js:14:22)\n    at async Promise.all (index 0)";
        assert_eq!(
            messages(&format!("{uncaught}\n{logged}")),
            [uncaught, logged.to_owned()]
        );
    }

    #[test]
    fn rust_panic_with_and_without_backtrace() {
        let short = [
            "thread 'main' panicked at src/main.rs:4:5:",
            "attempt to divide by zero",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ]
        .join("\n");
        let long = [
            "thread 'worker' panicked at src/pool.rs:9:13:",
            "queue closed",
            "with a second line",
            "stack backtrace:",
            "   0: rust_begin_unwind",
            "             at /rustc/abc/library/std/src/panicking.rs:652:5",
            "   1: pool::run",
            "             at ./src/pool.rs:9:13",
            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
        ]
        .join("\n");
        let old = "thread 'main' panicked at 'boom', src/main.rs:2:5\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";
        assert_eq!(
            messages(&format!("{short}\n{long}\n{old}\nafter")),
            [short, long, old.to_owned(), "after".to_owned()]
        );
    }

    #[test]
    fn ordinary_indented_lines_are_not_swallowed() {
        let text = "Config loaded:\n  port: 8080\n  at startup: yes\n    at the moment nothing\nWARN disk almost full\n  at the moment 91%\n    - /var\ndone";
        let records = join(text);
        assert!(records.iter().all(|r| r.lines == 1), "{records:#?}");
        assert_eq!(records.len(), 8);
    }

    #[test]
    fn json_lines_and_info_lines_are_never_held() {
        let mut joiner = Joiner::new(true, 1 << 20);
        let meta = Arc::new(ContainerMeta::default());
        let mut out = Vec::new();
        for text in [
            r#"{"level":"error","msg":"boom"}"#,
            "INFO starting",
            "plain words",
        ] {
            joiner.push(line(Stream::Stdout, 1, text), &meta, &mut out);
            assert_eq!(out.len(), 1, "{text:?} was held");
            out.clear();
        }
        joiner.push(line(Stream::Stdout, 1, "ERROR it broke"), &meta, &mut out);
        assert!(out.is_empty(), "an error line waits for a traceback");
        assert_eq!(joiner.held_ts(Stream::Stdout), Some(1));
        assert_eq!(joiner.held_ts(Stream::Stderr), None);
    }

    #[test]
    fn a_late_continuation_starts_afresh_and_quiet_records_are_flushed() {
        let meta = Arc::new(ContainerMeta::default());
        let mut joiner = Joiner::new(true, 1 << 20);
        let mut out = Vec::new();
        let t0 = 5_000_000_000;
        joiner.push(line(Stream::Stderr, t0, "Error: boom"), &meta, &mut out);
        // The frame comes after the window: the error stands alone.
        let late = t0 + JOIN_WINDOW_NS + 1;
        joiner.push(
            line(Stream::Stderr, late, "    at main (/app/a.js:1:1)"),
            &meta,
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|t| t.record.lines == 1));
        out.clear();
        joiner.push(line(Stream::Stderr, t0, "Error: again"), &meta, &mut out);
        let due = joiner.due_ns().unwrap();
        assert_eq!(due, t0 + JOIN_WINDOW_NS + SETTLE_NS);
        joiner.flush_quiet(due - 1, &meta, &mut out);
        assert!(out.is_empty());
        joiner.flush_quiet(due, &meta, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(joiner.due_ns(), None);
    }

    #[test]
    fn streams_are_joined_separately_and_checkpoints_cover_every_line() {
        let meta = Arc::new(ContainerMeta::default());
        let mut joiner = Joiner::new(true, 1 << 20);
        let mut out = Vec::new();
        joiner.push(line(Stream::Stderr, 10, "Error: boom"), &meta, &mut out);
        joiner.push(line(Stream::Stdout, 11, "GET / 200"), &meta, &mut out);
        joiner.push(
            line(Stream::Stderr, 12, "    at a (/a.js:1:1)"),
            &meta,
            &mut out,
        );
        joiner.push(
            line(Stream::Stderr, 12, "    at b (/b.js:2:2)"),
            &meta,
            &mut out,
        );
        assert_eq!(out.len(), 1, "only stdout's line is out");
        joiner.flush(&meta, &mut out);
        assert_eq!(out[1].record.lines, 3);
        assert_eq!(
            out[1].newest,
            Checkpoint {
                ts_ns: 12,
                at_ts: 2
            }
        );
        assert_eq!(out[1].record.ts_ns, 10, "stamped with its first line");
    }

    #[test]
    fn off_keeps_every_line_and_the_size_limit_splits() {
        let trace = "Error: boom\n    at a (/a.js:1:1)\n    at b (/b.js:2:2)";
        let mut off = Joiner::new(false, 1 << 20);
        assert_eq!(join_with(&mut off, trace).len(), 3);
        // 11 + 1 + 19 fits in 40 bytes, the next frame does not.
        let mut small = Joiner::new(true, 40);
        let taken = join_with(&mut small, trace);
        let lines: Vec<u32> = taken.iter().map(|t| t.record.lines).collect();
        assert_eq!(lines, [2, 1]);
        assert!(taken.iter().all(|t| t.record.message.len() <= 40));
    }

    #[test]
    fn invalid_utf8_in_a_continuation_keeps_the_exact_bytes() {
        let meta = Arc::new(ContainerMeta::default());
        let mut joiner = Joiner::new(true, 1 << 20);
        let mut out = Vec::new();
        joiner.push(line(Stream::Stderr, 1, "Error: bad bytes"), &meta, &mut out);
        let mut frame = line(Stream::Stderr, 2, "    at f (/a.js:1:1)");
        frame.bytes.insert(10, 0xff);
        joiner.push(frame, &meta, &mut out);
        joiner.flush(&meta, &mut out);
        let record = &out[0].record;
        assert_eq!(record.lines, 2);
        let raw = record.raw.as_ref().expect("raw bytes kept");
        assert!(raw.starts_with(b"Error: bad bytes\n    at f"));
        assert!(raw.contains(&0xff));
    }

    /// Random mixes of trace lines, ordinary lines and blank lines on both
    /// streams, with random gaps: every line comes out exactly once, in its
    /// stream's order, and each record's checkpoint covers its lines.
    #[test]
    fn random_streams_lose_and_repeat_no_line() {
        const PIECES: &[&str] = &[
            "ERROR boom",
            "WARN careful",
            "INFO fine",
            "Traceback (most recent call last):",
            "  File \"a.py\", line 1, in <module>",
            "    x()",
            "ValueError: bad",
            "",
            "During handling of the above exception, another exception occurred:",
            "java.lang.IllegalStateException: x",
            "\tat a.B.c(B.java:1)",
            "Caused by: java.io.IOException: y",
            "\t... 3 more",
            "    at f (/a.js:1:1)",
            "Error: z",
            "panic: p",
            "goroutine 1 [running]:",
            "main.main()",
            "thread 'main' panicked at src/main.rs:1:1:",
            "note: run with `RUST_BACKTRACE=1`",
            "stack backtrace:",
            "   0: std::rt",
            "/app/index.js:3",
            "  ^",
            "Node.js v20.0.0",
            "{\"level\":\"error\",\"msg\":\"json\"}",
            "  indented",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let meta = Arc::new(ContainerMeta::default());
        for round in 0..300 {
            let max_bytes = if round % 3 == 0 { 64 } else { 1 << 20 };
            let mut joiner = Joiner::new(true, max_bytes);
            let mut out = Vec::new();
            let mut written: [Vec<String>; 2] = Default::default();
            let mut ts = 1_000_000_000;
            for i in 0..(20 + next(60)) {
                ts += match next(10) {
                    0 => JOIN_WINDOW_NS + 1,
                    1 => 0,
                    _ => next(1_000) as i64 * US,
                };
                let stream = if next(4) == 0 {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                let text = format!(
                    "{}{}",
                    PIECES[next(PIECES.len())],
                    if next(5) == 0 {
                        i.to_string()
                    } else {
                        String::new()
                    }
                );
                written[slot(stream)].push(text.clone());
                joiner.push(line(stream, ts, &text), &meta, &mut out);
                if next(8) == 0 {
                    joiner.flush_quiet(ts + next(300) as i64 * 1_000_000, &meta, &mut out);
                }
            }
            joiner.flush(&meta, &mut out);
            for stream in [Stream::Stdout, Stream::Stderr] {
                let taken: Vec<&Taken> = out.iter().filter(|t| t.record.stream == stream).collect();
                let lines: u32 = taken.iter().map(|t| t.record.lines).sum();
                let expected = &written[slot(stream)];
                assert_eq!(lines as usize, expected.len(), "round {round}");
                let joined: Vec<&str> = taken.iter().map(|t| t.record.message.as_str()).collect();
                assert_eq!(joined.join("\n"), expected.join("\n"), "round {round}");
                for t in &taken {
                    assert_eq!(
                        t.record.message.split('\n').count(),
                        t.record.lines as usize
                    );
                    assert!(t.newest.ts_ns >= t.record.ts_ns && t.newest.at_ts >= 1);
                    assert!(t.record.lines == 1 || t.record.message.len() <= max_bytes);
                }
            }
        }
    }
}

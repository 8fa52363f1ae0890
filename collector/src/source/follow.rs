//! One task per container: follow its stdout and stderr, from where the index
//! stands, for the container's whole life.
//!
//! The task reads the container's `json-file` log from disk when it can (see
//! [`super::logfile`]), else `GET /containers/{id}/logs?follow=1&timestamps=1`,
//! from the container's checkpoints. It turns entries into lines (`assemble`)
//! and lines into records (`parse`, `multiline`), and sends them down the
//! bounded ingest channel, each with the position it takes the log to — so a busy indexer slows this read down rather than losing
//! anything. When the API stream ends because the container stopped, the
//! task parks until the supervisor wakes it (restart, removal); a file is
//! simply watched on. When a read fails for any other reason the task retries
//! with backoff, re-reading from its own position. A log driver with no logs
//! API is a permanent error: reported, not retried.
//!
//! A task that holds no record waiting for a continuation line sleeps until
//! its file changes or the supervisor wakes it, with no timer: a host with
//! hundreds of idle containers should cost nothing at rest (each task woke
//! every 2 s before, 250 wake-ups a second for 500 containers).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{InspectContainerOptions, LogsOptions};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::logfile::{Moved, Rotations, Tail, decode, log_start_ts};
use super::registry::ContainerHandle;
use super::watch::{Watch, Watcher};
use crate::assemble::{Entry, Line, LineAssembler, split_raw_entries, split_timestamp};
use crate::checkpoint::{Checkpoint, Position, QUIET_MARGIN_NS, Replay};
use crate::metrics::Metrics;
use crate::multiline::{Joiner, Taken};
use crate::parse::parse_line;
use crate::record::{ContainerMeta, Record, Stream};
use crate::timefmt::{format_rfc3339_ns, now_ns};

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A log file is read again this often once inotify has failed (see
/// `watch`); while it works, only its events wake a follower.
const RECHECK: Duration = Duration::from_secs(2);

/// How a read of the log ended.
enum ReadEnd {
    /// The stream ended: the container's output is closed (it stopped).
    Ended,
    /// The ingest channel is closed: the collector is shutting down.
    Shutdown,
    /// The container no longer exists.
    Gone,
    /// Its log driver cannot be read; retrying will not help.
    Permanent(String),
    /// Anything else: retry from our position.
    Transient(String),
}

/// Everything a follow task needs.
pub struct Follower {
    pub docker: Docker,
    pub id: String,
    pub handle: Arc<ContainerHandle>,
    pub records: mpsc::Sender<Record>,
    /// How far the log has been taken (and sent down the channel).
    pub position: Position,
    pub max_line_bytes: usize,
    /// Join stack traces into one record (`--multiline=auto`).
    pub multiline: bool,
    /// Set when `json-file` logs may be read from disk.
    pub watcher: Option<Arc<Watcher>>,
    /// Counts the holes Docker's rotation made in a log before it was read.
    pub metrics: Arc<Metrics>,
}

impl Follower {
    pub async fn run(mut self) {
        let mut backoff = BACKOFF_START;
        let mut logged_failure = false;
        loop {
            match self.inspect().await {
                Ok(_) => {}
                Err(ReadEnd::Gone) => return self.removed(),
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            }
            match self.read().await {
                ReadEnd::Ended => {
                    backoff = BACKOFF_START;
                    logged_failure = false;
                }
                ReadEnd::Shutdown => return,
                ReadEnd::Gone => return self.removed(),
                ReadEnd::Permanent(reason) => return self.unreadable(reason).await,
                ReadEnd::Transient(reason) => {
                    if !logged_failure {
                        let name = self.handle.meta().name.clone();
                        tracing::warn!(container = %name, reason = %reason, "log stream dropped; retrying with backoff");
                        logged_failure = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            }
            // The output ended. If the container is running again (restarted
            // meanwhile), read on at once; otherwise wait until the supervisor
            // says it started again or was removed.
            match self.inspect().await {
                Ok(true) => {}
                Ok(false) => self.handle.wake.notified().await,
                Err(ReadEnd::Gone) => return self.removed(),
                Err(_) => tokio::time::sleep(backoff).await,
            }
        }
    }

    /// Reports a log driver that cannot be read, then stays parked until the
    /// container is removed: retrying would not help.
    async fn unreadable(&self, reason: String) {
        let name = self.handle.meta().name.clone();
        tracing::warn!(container = %name, reason = %reason, "logs cannot be read; not retrying");
        self.handle.update(|s| s.error = Some(reason));
        loop {
            self.handle.wake.notified().await;
            if let Err(ReadEnd::Gone) = self.inspect().await {
                return self.removed();
            }
        }
    }

    fn removed(&self) {
        self.handle.update(|s| s.state = "removed".into());
    }

    /// Refreshes the metadata; `Ok(running)`.
    async fn inspect(&self) -> Result<bool, ReadEnd> {
        let info = self
            .docker
            .inspect_container(&self.id, None::<InspectContainerOptions>)
            .await
            .map_err(classify)?;
        let config = info.config.unwrap_or_default();
        let labels = config.labels.unwrap_or_default();
        let state = info.state.unwrap_or_default();
        let running = state.running.unwrap_or(false);
        let status = state.status.map(|s| s.to_string()).unwrap_or_default();
        let name = info
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned();
        let driver = info
            .host_config
            .and_then(|h| h.log_config)
            .and_then(|l| l.typ)
            .unwrap_or_default();
        let log_file = info
            .log_path
            .filter(|path| driver == "json-file" && !path.is_empty())
            .map(PathBuf::from);
        self.handle.update(|s| {
            let meta = ContainerMeta {
                host: s.meta.host.clone(),
                id: self.id.clone(),
                name,
                image: config.image.unwrap_or_default(),
                service: labels.get("com.docker.compose.service").cloned(),
                project: labels.get("com.docker.compose.project").cloned(),
            };
            if *s.meta != meta {
                s.meta = Arc::new(meta);
            }
            s.state = status;
            s.tty = config.tty.unwrap_or(false);
            s.log_file = log_file;
            s.log_driver = driver;
        });
        Ok(running)
    }

    /// Reads the log from our position until it ends or fails: from its
    /// file when that can be opened and watched, else through the API.
    async fn read(&mut self) -> ReadEnd {
        let state = self.handle.state();
        if self.watcher.is_some()
            && state.log_driver == "json-file"
            && state.log_file.is_none()
            && state.state == "created"
        {
            // Not started yet: there is nothing to read, and its file gets
            // a name at the start. Reading the API now would race the start
            // and follow the whole run through the API.
            return ReadEnd::Ended;
        }
        if let (Some(watcher), Some(path)) = (&self.watcher, state.log_file.as_deref()) {
            match open_file(watcher, path, self.position.from_ts_ns()) {
                Ok((tail, watch)) => {
                    self.handle.update(|s| s.read_from = "file");
                    // Everything the log still holds is newer than the newest
                    // line taken: rotation deleted what came between (the
                    // collector was down, or reading elsewhere).
                    let newest = self.position.stdout.ts_ns.max(self.position.stderr.ts_ns);
                    if let Some(oldest) = log_start_ts(path)
                        && newest > 0
                        && oldest > newest + 1
                        && !self.report_loss(newest, oldest).await
                    {
                        return ReadEnd::Shutdown;
                    }
                    return self.read_file(tail, watch).await;
                }
                Err(e) => {
                    tracing::debug!(container = %state.meta.name, error = %e, "log file unreadable; reading through the API")
                }
            }
        }
        self.handle.update(|s| s.read_from = "api");
        self.read_api(state.tty).await
    }

    /// Follows the log file until the container is removed (or reading fails).
    async fn read_file(&mut self, mut tail: Tail, watch: Watch) -> ReadEnd {
        let mut r = self.reading();
        // Whether to ask the engine if the container still runs (at the
        // first end of file, then whenever the supervisor wakes us).
        let mut check_state = true;
        // The container was seen stopped: lines written after that are a new
        // run's, and the engine is asked for its name (a rename while it was
        // stopped) before they are sent. The rename event may come later
        // than the lines on a loaded host.
        let mut stopped = false;
        loop {
            // Everything written so far, across rotations.
            let mut rotated = false;
            loop {
                let read = tail.read_lines(|line| {
                    let decoded = decode(line);
                    let entry = Entry {
                        ts_ns: decoded.ts_ns,
                        content: &decoded.content,
                    };
                    r.lines.extend(r.assembler.push(decoded.stream, entry));
                });
                let n = match read {
                    Ok(n) => n,
                    Err(e) => return ReadEnd::Transient(format!("reading the log file: {e}")),
                };
                if stopped && n > 0 {
                    stopped = false;
                    if let Err(ReadEnd::Gone) = self.inspect().await {
                        return ReadEnd::Gone;
                    }
                }
                if !self.send(&mut r).await {
                    return ReadEnd::Shutdown;
                }
                if n > 0 {
                    continue;
                }
                // At the end of this file. Once the log's path names another
                // file, this one is complete: read it to the end once more
                // (a write may have landed before the rename), then go on.
                if rotated {
                    let moved = tail.next_file();
                    tracing::debug!(container = %self.handle.meta().name, moved = ?moved, position = ?self.position, "log file rotated");
                    // From the oldest file left, what was taken is skipped;
                    // lines still held (from the file just read) are kept.
                    match moved {
                        Ok(Moved::Next) => {}
                        Ok(Moved::Restarted) => r.replay = Replay::new(self.position),
                        Ok(Moved::Lost) => {
                            if let Some(oldest) = tail.first_ts()
                                && oldest > r.newest_read + 1
                                && !self.report_loss(r.newest_read, oldest).await
                            {
                                return ReadEnd::Shutdown;
                            }
                            r.replay = Replay::new(self.position);
                        }
                        Err(e) => return ReadEnd::Transient(format!("opening the log file: {e}")),
                    }
                    rotated = false;
                } else if tail.rotated() {
                    rotated = true;
                } else {
                    break;
                }
            }
            // Everything written is read: a record still waiting for a
            // continuation line is complete once Docker's clock is past it.
            self.flush_quiet(&mut r);
            if !self.send(&mut r).await {
                return ReadEnd::Shutdown;
            }
            if check_state {
                check_state = false;
                let state = self.inspect().await;
                if matches!(state, Ok(false) | Err(ReadEnd::Gone)) {
                    stopped = true;
                    // Stopped or removed: the log is complete, and a last
                    // line without a newline is whole.
                    r.lines.extend(r.assembler.flush());
                    if !self.finish(&mut r).await {
                        return ReadEnd::Shutdown;
                    }
                }
                if let Err(ReadEnd::Gone) = state {
                    return ReadEnd::Gone;
                }
            }
            // A timer only when something can be due: a held record's
            // continuation window, or the next poll once inotify has failed.
            let mut wait = r.until_due();
            if watch.polled() {
                wait = Some(wait.map_or(RECHECK, |due| due.min(RECHECK)));
            }
            tokio::select! {
                _ = watch.changed.notified() => {}
                _ = self.handle.wake.notified() => check_state = true,
                _ = sleep_for(wait) => {}
            }
        }
    }

    /// Sends a record that marks a hole in the log: the lines Docker wrote
    /// after `after_ts` and before `before_ts` were deleted by its rotation
    /// before they could be read. How many is not known (the files are
    /// gone). The marker is stamped just before the first line left, and
    /// both streams' checkpoints move to it, so it is sent once across
    /// restarts. False when shutting down.
    async fn report_loss(&mut self, after_ts: i64, before_ts: i64) -> bool {
        let meta = self.handle.meta();
        let (after, before) = (format_rfc3339_ns(after_ts), format_rfc3339_ns(before_ts));
        tracing::warn!(container = %meta.name, after = %after, before = %before, "log lines lost at the engine: Docker's rotation deleted them before they were read");
        Metrics::add(&self.metrics.engine_losses, 1);
        let text = format!(
            "level=warn msg=\"log lines lost at the engine: Docker's log rotation deleted them before Wakeline read them\" wakeline=lost lost_after={after} lost_before={before}"
        );
        let at = before_ts - 1;
        for stream in [Stream::Stdout, Stream::Stderr] {
            let checkpoint = self.position.get_mut(stream);
            *checkpoint = (*checkpoint).max(Checkpoint {
                ts_ns: at,
                at_ts: 0,
            });
        }
        let line = Line {
            stream: Stream::Stderr,
            ts_ns: at,
            bytes: text.into_bytes(),
            truncated: false,
        };
        let mut record = parse_line(line, meta);
        record.position = self.position;
        self.records.send(record).await.is_ok()
    }

    /// Reads the log through the API from our position until it ends or fails.
    async fn read_api(&mut self, tty: bool) -> ReadEnd {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            since: self.position.since_secs(),
            until: 0,
            timestamps: true,
            tail: "all".into(),
        };
        let mut stream = self.docker.logs(&self.id, Some(options));
        let mut r = self.reading();
        let mut repeats = Repeats::default();
        loop {
            let item = tokio::select! {
                biased;
                item = stream.next() => item,
                // A record waits for a continuation line that did not come.
                _ = sleep_for(r.until_due()) => {
                    self.flush_quiet(&mut r);
                    if !self.send(&mut r).await {
                        return ReadEnd::Shutdown;
                    }
                    continue;
                }
            };
            let Some(item) = item else { break };
            let output = match item {
                Ok(output) => output,
                Err(e) => return classify(e),
            };
            let (assembler, lines) = (&mut r.assembler, &mut r.lines);
            match output {
                LogOutput::StdOut { message } => {
                    push_frame(assembler, Stream::Stdout, &message, lines)
                }
                LogOutput::StdErr { message } => {
                    push_frame(assembler, Stream::Stderr, &message, lines)
                }
                LogOutput::Console { message } if tty => {
                    for entry in split_raw_entries(&message) {
                        lines.extend(assembler.push(Stream::Stdout, entry));
                    }
                }
                // A raw stream from a non-TTY container should not happen;
                // keep the bytes rather than lose a line.
                LogOutput::Console { message } => {
                    push_frame(assembler, Stream::Stdout, &message, lines)
                }
                LogOutput::StdIn { .. } => {}
            }
            lines.retain(|line| !repeats.is_repeat(line));
            r.note_delivery();
            if !self.send(&mut r).await {
                return ReadEnd::Shutdown;
            }
        }
        r.lines.extend(r.assembler.flush());
        r.lines.retain(|line| !repeats.is_repeat(line));
        if !self.finish(&mut r).await {
            return ReadEnd::Shutdown;
        }
        ReadEnd::Ended
    }

    /// A fresh read from our position.
    fn reading(&self) -> Reading {
        Reading {
            assembler: LineAssembler::new(self.max_line_bytes),
            joiner: Joiner::new(self.multiline, self.max_line_bytes),
            replay: Replay::new(self.position),
            lines: Vec::new(),
            taken: Vec::new(),
            newest_read: 0,
            lag_ns: 0,
        }
    }

    /// Emits the records whose continuation lines can no longer come.
    fn flush_quiet(&self, r: &mut Reading) {
        let meta = self.handle.meta();
        r.joiner
            .flush_quiet(now_ns() - r.lag_ns, &meta, &mut r.taken);
    }

    /// The log has ended: sends everything, held records included.
    async fn finish(&mut self, r: &mut Reading) -> bool {
        if !self.send(r).await {
            return false;
        }
        let meta = self.handle.meta();
        r.joiner.flush(&meta, &mut r.taken);
        self.send(r).await
    }

    /// Turns the lines the replay admits into records and sends them, each
    /// with the position it takes the log to; false when shutting down.
    async fn send(&mut self, r: &mut Reading) -> bool {
        if !r.lines.is_empty() {
            let meta = self.handle.meta();
            for line in r.lines.drain(..) {
                r.newest_read = r.newest_read.max(line.ts_ns);
                if r.replay.admit(line.stream, line.ts_ns) {
                    r.joiner.push(line, &meta, &mut r.taken);
                }
            }
        }
        if r.taken.is_empty() {
            return true;
        }
        let mut taken = std::mem::take(&mut r.taken);
        // Per record, the first timestamp of the records queued after it,
        // per stream: no checkpoint may pass a line not yet sent.
        let mut unsent = vec![[i64::MAX; 2]; taken.len()];
        let mut next = [i64::MAX; 2];
        for (i, t) in taken.iter().enumerate().rev() {
            unsent[i] = next;
            let s = usize::from(t.record.stream == Stream::Stderr);
            next[s] = next[s].min(t.record.ts_ns);
        }
        for (Taken { mut record, newest }, unsent) in taken.drain(..).zip(unsent) {
            self.position.get_mut(record.stream).absorb(newest);
            self.raise_quiet_streams(r, unsent);
            record.position = self.position;
            if self.records.send(record).await.is_err() {
                return false;
            }
        }
        r.taken = taken;
        true
    }

    /// Raises each stream's checkpoint to [`QUIET_MARGIN_NS`] behind the
    /// newest line read (see `checkpoint`), so that a stream that stays
    /// quiet does not keep the resume point back — but never past a line of
    /// that stream not yet sent: one the assembler or the joiner holds, or
    /// one queued after this record (`unsent`, per stream).
    fn raise_quiet_streams(&mut self, r: &Reading, unsent: [i64; 2]) {
        if r.newest_read <= QUIET_MARGIN_NS {
            return;
        }
        for stream in [Stream::Stdout, Stream::Stderr] {
            let mut floor = r.newest_read - QUIET_MARGIN_NS;
            floor = floor.min(unsent[usize::from(stream == Stream::Stderr)]);
            for held in [r.assembler.pending_ts(stream), r.joiner.held_ts(stream)] {
                floor = floor.min(held.unwrap_or(i64::MAX));
            }
            let checkpoint = self.position.get_mut(stream);
            *checkpoint = (*checkpoint).max(Checkpoint {
                ts_ns: floor,
                at_ts: 0,
            });
        }
    }
}

/// One read of the log: the lines on their way to becoming records.
struct Reading {
    assembler: LineAssembler,
    joiner: Joiner,
    replay: Replay,
    /// Whole lines not yet through the replay and the joiner.
    lines: Vec<Line>,
    /// Records ready to send.
    taken: Vec<Taken>,
    /// The newest Docker timestamp read, taken or not.
    newest_read: i64,
    /// How far behind Docker's clock the API delivers lines lately: a held
    /// record waits that much longer for its continuation. 0 for files,
    /// read to their end before anything is flushed.
    lag_ns: i64,
}

impl Reading {
    /// How long until a held record is due (`None`: none is held).
    fn until_due(&self) -> Option<Duration> {
        let due = self.joiner.due_ns()?;
        Some(Duration::from_nanos(
            u64::try_from(due + self.lag_ns - now_ns()).unwrap_or(0),
        ))
    }

    /// Notes how late the newest line arrived through the API (the lag
    /// decays by an eighth per delivery, and jumps up at once).
    fn note_delivery(&mut self) {
        if let Some(newest) = self.lines.iter().map(|l| l.ts_ns).max() {
            let lag = (now_ns() - newest).clamp(0, 10 * QUIET_MARGIN_NS);
            self.lag_ns = lag.max(self.lag_ns - self.lag_ns / 8);
        }
    }
}

/// Lines the engine sends twice in one API stream. Docker 20.10's follow
/// sends the first lines of a `json-file` log's new file again after a
/// rotation (seen here: `docker logs -f` of 10,000 lines printed 10,016).
/// A repeat is an exact copy, stamped no later than the newest line already
/// taken from its stream; a line merely stamped earlier (a clock stepped
/// back) is new and kept.
#[derive(Debug, Default)]
struct Repeats {
    /// Per stream: the newest timestamp, and the last lines' (ts, hash).
    newest: [i64; 2],
    recent: [std::collections::VecDeque<(i64, u64)>; 2],
}

impl Repeats {
    /// Lines remembered per stream: far more than a rotation repeats (4 to 6
    /// here), and 16 KiB per stream of a container read through the API.
    const KEEP: usize = 1024;

    fn is_repeat(&mut self, line: &Line) -> bool {
        use std::hash::{Hash, Hasher};
        let s = usize::from(line.stream == Stream::Stderr);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        line.bytes.hash(&mut hasher);
        let key = (line.ts_ns, hasher.finish());
        if line.ts_ns <= self.newest[s] && self.recent[s].contains(&key) {
            return true;
        }
        if self.recent[s].len() == Self::KEEP {
            self.recent[s].pop_front();
        }
        self.recent[s].push_back(key);
        self.newest[s] = self.newest[s].max(line.ts_ns);
        false
    }
}

/// Sleeps for `wait`; forever (no timer at all) when it is `None`.
async fn sleep_for(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Opens a log file at our position and watches its directory.
fn open_file(
    watcher: &Arc<Watcher>,
    path: &Path,
    from_ts_ns: i64,
) -> std::io::Result<(Tail, Watch)> {
    // Watch first: a write between opening and watching would otherwise
    // wait for the next one (or the recheck) to be seen.
    let rotations = Arc::new(Rotations::default());
    let watch = watcher.watch(path, Arc::clone(&rotations))?;
    let tail = Tail::open(path, from_ts_ns, rotations)?;
    Ok((tail, watch))
}

fn push_frame(assembler: &mut LineAssembler, stream: Stream, frame: &[u8], lines: &mut Vec<Line>) {
    match split_timestamp(frame) {
        Some(entry) => lines.extend(assembler.push(stream, entry)),
        None => {
            // Every entry carries a timestamp with timestamps=1; if one does
            // not, store it stamped now rather than drop it.
            let entry = crate::assemble::Entry {
                ts_ns: now_ns(),
                content: frame,
            };
            lines.extend(assembler.push(stream, entry));
        }
    }
}

fn classify(error: DockerError) -> ReadEnd {
    match error {
        DockerError::DockerResponseServerError {
            status_code: 404, ..
        } => ReadEnd::Gone,
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } if status_code == 501 || message.contains("does not support reading") => {
            ReadEnd::Permanent(message)
        }
        other => ReadEnd::Transient(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(stream: Stream, ts_ns: i64, text: &str) -> Line {
        Line {
            stream,
            ts_ns,
            bytes: text.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn exact_repeats_are_dropped_and_earlier_new_lines_kept() {
        let mut repeats = Repeats::default();
        let taken = [
            line(Stream::Stdout, 10, "a"),
            line(Stream::Stdout, 20, "b"),
            line(Stream::Stderr, 15, "a"),
        ];
        assert!(taken.iter().all(|l| !repeats.is_repeat(l)));
        // The engine sends `b` again after a rotation.
        assert!(repeats.is_repeat(&line(Stream::Stdout, 20, "b")));
        // The same text at the same time on the other stream is its own line.
        assert!(!repeats.is_repeat(&line(Stream::Stderr, 20, "b")));
        // Stamped earlier but never seen (a clock stepped back): kept.
        assert!(!repeats.is_repeat(&line(Stream::Stdout, 5, "c")));
        assert!(!repeats.is_repeat(&line(Stream::Stdout, 30, "b")));
    }
}

//! A container's `json-file` log, read straight from disk.
//!
//! Following a log through the API costs the engine about as much CPU again
//! as writing it: dockerd decodes every entry of the file with Go's JSON
//! decoder, formats it and streams it over HTTP, one write per line (measured
//! here: 26 µs of dockerd CPU per line for one follower, on top of 44 µs to
//! write it). When the engine runs on this host, stores the container's log
//! with the `json-file` driver and the file is readable, the collector reads
//! the file itself, as log shippers usually do: the same entries, in the same
//! order, with the same timestamps, but many lines per read and no engine
//! work. Anything else still goes through the API.
//!
//! Docker writes one JSON object per line, `{"log":…,"stream":…,"time":…}`
//! (with `attrs` when the log options ask for labels or env). It rotates by
//! renaming `<id>-json.log` to `.1` (`.1` to `.2`, …) and creating a new file;
//! a file is complete once renamed. [`Tail`] keeps its file open across a
//! rotation, reads it to the end, then moves on to the next newer file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::record::Stream;
use crate::timefmt::{now_ns, parse_rfc3339_ns};

/// Bytes read per call; a caller sends what it got before reading more.
const READ_CAP: usize = 1024 * 1024;
/// Bytes searched for a file's first entry (from its start) or last whole
/// entry (from its end).
const LAST_ENTRY_WINDOW: u64 = 256 * 1024;

/// One entry of the file, decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct FileEntry<'a> {
    pub stream: Stream,
    pub ts_ns: i64,
    /// The entry's bytes, its line ending included when it ends a line.
    pub content: Cow<'a, [u8]>,
}

#[derive(Deserialize)]
struct JsonEntry<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
}

/// Decodes one line of the file (without its `\n`). A line that is not an
/// entry (a file damaged by a crash) is kept whole as a stdout line rather
/// than lost.
pub fn decode(line: &[u8]) -> FileEntry<'_> {
    if let Ok(entry) = serde_json::from_slice::<JsonEntry<'_>>(line)
        && let Some(ts_ns) = parse_rfc3339_ns(&entry.time)
    {
        let stream = if entry.stream == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let content = match entry.log {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        };
        return FileEntry {
            stream,
            ts_ns,
            content,
        };
    }
    let mut content = line.to_vec();
    content.push(b'\n');
    FileEntry {
        stream: Stream::Stdout,
        ts_ns: entry_ts(line).unwrap_or_else(now_ns),
        content: Cow::Owned(content),
    }
}

/// The `time` of an entry, found without decoding the rest: it is the last
/// key, and `"time":"` cannot occur unescaped inside a JSON string.
fn entry_ts(line: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"time\":\"";
    let start = line.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let len = line[start..].iter().position(|b| *b == b'"')?;
    parse_rfc3339_ns(std::str::from_utf8(&line[start..start + len]).ok()?)
}

/// The files of the log, oldest first: `<path>.N` … `<path>.1`, `<path>`.
/// Compressed rotations (`.N.gz`, `--log-opt compress=true`) are not read
/// here; [`Tail::open`] leaves a log whose needed lines are in one to the API.
fn chain(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    for n in 1.. {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        let rotated = PathBuf::from(name);
        if !rotated.is_file() {
            break;
        }
        files.push(rotated);
    }
    files.reverse();
    files
}

/// Whether the engine keeps compressed rotations of the log (`<path>.1.gz`).
fn has_compressed(path: &Path) -> bool {
    let mut name = path.as_os_str().to_owned();
    name.push(".1.gz");
    Path::new(&name).is_file()
}

/// The timestamp of a file's first entry.
fn first_ts(path: &Path) -> Option<i64> {
    first_entry_ts(&File::open(path).ok()?)
}

/// The timestamp of the first entry of an open file (read from its start,
/// whatever the file's offset).
fn first_entry_ts(file: &File) -> Option<i64> {
    use std::os::unix::fs::FileExt as _;
    let mut head = vec![0; LAST_ENTRY_WINDOW as usize];
    let mut len = 0;
    while len < head.len() {
        match file.read_at(&mut head[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    head[..len].split(|b| *b == b'\n').next().and_then(entry_ts)
}

/// The timestamp of the oldest entry the log still holds (its oldest
/// file's first), if any.
pub fn log_start_ts(path: &Path) -> Option<i64> {
    first_ts(chain(path).first()?)
}

/// The timestamp of a file's last whole entry.
fn last_ts(path: &Path) -> Option<i64> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let from = len.saturating_sub(LAST_ENTRY_WINDOW);
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    tail.split(|b| *b == b'\n')
        .rev()
        .filter(|line| !line.is_empty())
        .find_map(entry_ts)
}

/// Which file of a log followed which, as seen when rotations happened:
/// noted by the reader whenever it looks, and by the directory watcher on
/// every file created there (see `watch`), so that it is known even when
/// the reader was held back (a full ingest channel) while the log rotated
/// several times. Files are told apart by inode and creation time, as a
/// deleted file's inode is soon given to a new one.
#[derive(Debug, Default)]
pub struct Rotations(std::sync::Mutex<std::collections::VecDeque<(FileId, FileId)>>);

/// A file's identity: its inode and, where the filesystem keeps it, its
/// creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    inode: u64,
    born: Option<std::time::SystemTime>,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            inode: meta.ino(),
            born: meta.created().ok(),
        }
    }

    fn is(&self, other: &FileId) -> bool {
        self.inode == other.inode
            && (self.born.is_none() || other.born.is_none() || self.born == other.born)
    }
}

/// Pairs remembered: many more than `max-file` ever keeps.
const ROTATIONS_KEPT: usize = 64;

impl Rotations {
    /// Notes which file follows which in the log's chain now.
    pub fn note(&self, log: &Path) {
        let ids = file_ids(&chain(log));
        let mut pairs = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for pair in ids.windows(2) {
            let [Some(older), Some(newer)] = pair else {
                continue;
            };
            // What the chain shows now is the truth: it also replaces what
            // was noted of an earlier file with the same identity (an inode
            // reused where the filesystem keeps no creation time).
            match pairs.iter_mut().find(|(o, _)| o.is(older)) {
                Some(noted) => *noted = (*older, *newer),
                None => {
                    if pairs.len() == ROTATIONS_KEPT {
                        pairs.pop_front();
                    }
                    pairs.push_back((*older, *newer));
                }
            }
        }
    }

    /// The file written after `file`, if a rotation of it was seen.
    pub(crate) fn successor(&self, file: &FileId) -> Option<FileId> {
        let pairs = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pairs.iter().find(|(o, _)| o.is(file)).map(|(_, n)| *n)
    }
}

/// Where a reader stands in the log.
#[derive(Debug)]
pub struct Tail {
    /// The log's current file (`<id>-json.log`).
    path: PathBuf,
    file: File,
    id: FileId,
    /// Which file followed which (shared with the directory's watcher).
    rotations: std::sync::Arc<Rotations>,
    /// Read, not yet a whole line.
    partial: Vec<u8>,
    chunk: Vec<u8>,
}

/// What [`Tail::next_file`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Moved {
    /// To the file written after the one just finished.
    Next,
    /// The file just finished was deleted by rotation before its successor
    /// could be found: reading starts again from the oldest file, and the
    /// caller must skip what it already took.
    Restarted,
    /// The file written after the one just finished was deleted by rotation
    /// before it could be read: its lines (and those of any file between) are
    /// lost at the engine. Reading goes on at the oldest file left.
    Lost,
}

impl Tail {
    /// Opens the log at the oldest file that may hold entries stamped at or
    /// after `from_ts_ns` (every rotated file whose last entry is older is
    /// skipped whole). Fails when such entries may be in a compressed
    /// rotation: the API reads those.
    pub fn open(
        path: &Path,
        from_ts_ns: i64,
        rotations: std::sync::Arc<Rotations>,
    ) -> io::Result<Tail> {
        let files = chain(path);
        if has_compressed(path) && first_ts(&files[0]).is_none_or(|ts| ts > from_ts_ns) {
            return Err(io::Error::other(
                "lines to read are in compressed rotations (compress=true)",
            ));
        }
        let start = files[..files.len() - 1]
            .iter()
            .position(|f| last_ts(f).is_none_or(|ts| ts >= from_ts_ns))
            .unwrap_or(files.len() - 1);
        tracing::debug!(file = %files[start].display(), from_ts_ns, "opening log file");
        rotations.note(path);
        Tail::open_file(path, &files[start], rotations)
    }

    fn open_file(
        path: &Path,
        file: &Path,
        rotations: std::sync::Arc<Rotations>,
    ) -> io::Result<Tail> {
        let file = File::open(file)?;
        let id = FileId::of(&file.metadata()?);
        Ok(Tail {
            path: path.to_path_buf(),
            file,
            id,
            rotations,
            partial: Vec::new(),
            chunk: vec![0; 64 * 1024],
        })
    }

    /// Reads what has been written (up to about a MiB) and passes every whole
    /// line to `line`, without its `\n`. Returns the bytes read: 0 at the end.
    pub fn read_lines(&mut self, mut line: impl FnMut(&[u8])) -> io::Result<usize> {
        let mut total = 0;
        while total < READ_CAP {
            // The bytes were just written by dockerd and sit in the page
            // cache: this read does not wait on a disk.
            let n = match self.file.read(&mut self.chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            total += n;
            let mut data = &self.chunk[..n];
            while let Some(end) = data.iter().position(|b| *b == b'\n') {
                if self.partial.is_empty() {
                    line(&data[..end]);
                } else {
                    self.partial.extend_from_slice(&data[..end]);
                    line(&self.partial);
                    self.partial.clear();
                }
                data = &data[end + 1..];
            }
            self.partial.extend_from_slice(data);
        }
        Ok(total)
    }

    /// Whether the file being read has been rotated away (the log's path now
    /// names another file). Once it has, it is complete: read it to the end,
    /// then call [`Tail::next_file`].
    ///
    /// With `max-file=1` Docker truncates the file instead (same inode): a
    /// file shorter than what was read of it is read again from its start.
    pub fn rotated(&mut self) -> bool {
        if !std::fs::metadata(&self.path).is_ok_and(|m| !FileId::of(&m).is(&self.id)) {
            let read = (&self.file).stream_position();
            let len = self.file.metadata().map(|m| m.len());
            return matches!((read, len), (Ok(read), Ok(len)) if len < read);
        }
        self.rotations.note(&self.path);
        true
    }

    /// The timestamp of the first entry of the file being read.
    pub fn first_ts(&self) -> Option<i64> {
        first_entry_ts(&self.file)
    }

    /// Moves on to the file written after the one just read to its end.
    pub fn next_file(&mut self) -> io::Result<Moved> {
        let files = chain(&self.path);
        let ids = file_ids(&files);
        let at = |id: &FileId| ids.iter().position(|f| f.is_some_and(|f| f.is(id)));
        let successor = self.rotations.successor(&self.id);
        let next = at(&self.id)
            .map(|i| i + 1)
            .or_else(|| successor.as_ref().and_then(at))
            .and_then(|i| files.get(i));
        tracing::debug!(files = ?files, current = ?self.id, successor = ?successor, "next log file");
        let (file, moved) = match next {
            Some(file) => (file, Moved::Next),
            // Both gone: the successor was deleted unread.
            None if successor.is_some() => (&files[0], Moved::Lost),
            None => (&files[0], Moved::Restarted),
        };
        let partial = std::mem::take(&mut self.partial);
        *self = Tail::open_file(&self.path, file, std::sync::Arc::clone(&self.rotations))?;
        if moved == Moved::Next {
            // A file ends with a whole entry; anything left is damage, kept.
            self.partial = partial;
        }
        Ok(moved)
    }
}

/// The identity of each file (`None`: gone meanwhile).
fn file_ids(files: &[PathBuf]) -> Vec<Option<FileId>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).ok().map(|m| FileId::of(&m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    fn entry(log: &str, stream: &str, time: &str) -> String {
        format!(
            "{{\"log\":{},\"stream\":\"{stream}\",\"time\":\"{time}\"}}",
            serde_json::to_string(log).unwrap()
        )
    }

    #[test]
    fn decodes_docker_entries_and_keeps_damaged_lines() {
        let line = entry(
            "a \"quoted\" \u{fffd} line\n",
            "stderr",
            "2026-12-03T16:44:07.23358036Z",
        );
        let decoded = decode(line.as_bytes());
        assert_eq!(decoded.stream, Stream::Stderr);
        assert_eq!(
            decoded.ts_ns,
            parse_rfc3339_ns("2026-12-03T16:44:07.233580360Z").unwrap()
        );
        assert_eq!(&*decoded.content, "a \"quoted\" \u{fffd} line\n".as_bytes());
        // Labels from --log-opt come as attrs, before time.
        let with_attrs = r#"{"log":"x\n","stream":"stdout","attrs":{"k":"\"time\":\"v"},"time":"2026-12-03T16:44:07Z"}"#;
        let decoded = decode(with_attrs.as_bytes());
        assert_eq!(
            (decoded.stream, &*decoded.content),
            (Stream::Stdout, &b"x\n"[..])
        );
        let damaged = br#"{"log":"cut off by a cra"#;
        let decoded = decode(damaged);
        assert_eq!(&*decoded.content, b"{\"log\":\"cut off by a cra\n");
        assert!(decoded.ts_ns > 0);
    }

    #[test]
    fn entry_ts_reads_the_last_key() {
        let line = entry(
            "\"time\":\"1999-01-01T00:00:00Z\"",
            "stdout",
            "2026-12-03T00:00:01Z",
        );
        assert_eq!(
            entry_ts(line.as_bytes()),
            parse_rfc3339_ns("2026-12-03T00:00:01Z")
        );
        assert_eq!(entry_ts(b"no time here"), None);
    }

    fn time(s: u32) -> String {
        format!("2026-12-03T00:00:{s:02}Z")
    }

    /// Appends one stdout entry per second given, its text the second.
    fn write(path: &Path, secs: &[u32]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        for n in secs {
            writeln!(f, "{}", entry(&format!("{n}\n"), "stdout", &time(*n))).unwrap();
        }
    }

    /// Rotates as Docker does with `max-file=keep`: `.1` → `.2` …, the log
    /// → `.1`, and what passes `.{keep - 1}` deleted.
    fn rotate_keeping(path: &Path, keep: u32) {
        let name = |n: u32| format!("{}.{n}", path.display());
        let _ = std::fs::remove_file(name(keep - 1));
        for n in (1..keep - 1).rev() {
            if Path::new(&name(n)).exists() {
                std::fs::rename(name(n), name(n + 1)).unwrap();
            }
        }
        std::fs::rename(path, name(1)).unwrap();
    }

    fn rotate(path: &Path) {
        rotate_keeping(path, 4);
    }

    #[test]
    fn follows_a_file_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        write(&path, &[1, 2]);
        rotate(&path);
        write(&path, &[3]);
        let mut tail = Tail::open(&path, 0, Default::default()).unwrap();
        let mut seen = Vec::new();
        let mut take = |tail: &mut Tail| {
            tail.read_lines(|l| seen.push(decode(l).ts_ns)).unwrap();
        };
        take(&mut tail);
        // Reading the rotated file; it is not the log's path any more.
        assert!(tail.rotated());
        assert_eq!(tail.next_file().unwrap(), Moved::Next);
        take(&mut tail);
        assert!(!tail.rotated());
        // Two rotations while the reader was away: it goes on with .2, then .1, then the log.
        write(&path, &[4]);
        rotate(&path);
        write(&path, &[5]);
        rotate(&path);
        write(&path, &[6]);
        take(&mut tail);
        assert_eq!(tail.next_file().unwrap(), Moved::Next);
        take(&mut tail);
        assert_eq!(tail.next_file().unwrap(), Moved::Next);
        take(&mut tail);
        assert!(!tail.rotated());
        let secs: Vec<i64> = seen
            .iter()
            .map(|ns| ns % 60_000_000_000 / 1_000_000_000)
            .collect();
        assert_eq!(secs, [1, 2, 3, 4, 5, 6]);

        // Opening from a position skips rotated files wholly older than it.
        let tail = Tail::open(
            &path,
            parse_rfc3339_ns(&time(5)).unwrap(),
            Default::default(),
        )
        .unwrap();
        let mut first = None;
        let mut tail = tail;
        tail.read_lines(|l| {
            first.get_or_insert(decode(l).ts_ns);
        })
        .unwrap();
        assert_eq!(first, parse_rfc3339_ns(&time(5)));
    }

    /// Reads what the log holds now, as seconds.
    fn take_secs(tail: &mut Tail) -> Vec<i64> {
        let mut seen = Vec::new();
        tail.read_lines(|l| seen.push(decode(l).ts_ns % 60_000_000_000 / 1_000_000_000))
            .unwrap();
        seen
    }

    #[test]
    fn a_successor_deleted_before_it_was_read_is_lost_and_one_left_is_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        // max-file=3: the log, .1 and .2.
        write(&path, &[1]);
        let mut tail = Tail::open(&path, 0, Default::default()).unwrap();
        assert_eq!(take_secs(&mut tail), [1]);
        rotate_keeping(&path, 3);
        write(&path, &[2]);
        // The reader sees the rotation (and which file follows its own)...
        assert!(tail.rotated());
        // ...and, slower than the writer, finishes its file after one more
        // rotation deleted it: the successor is .1 now, and still next.
        rotate_keeping(&path, 3);
        write(&path, &[3]);
        rotate_keeping(&path, 3);
        write(&path, &[4]);
        assert_eq!(tail.next_file().unwrap(), Moved::Next);
        assert_eq!(take_secs(&mut tail), [2]);
        // Now its successor (3) goes too before it is read: lost; 4 is the
        // oldest left. (The freed inodes are reused by the new files.)
        assert!(tail.rotated());
        rotate_keeping(&path, 3);
        write(&path, &[5]);
        rotate_keeping(&path, 3);
        write(&path, &[6]);
        assert_eq!(tail.next_file().unwrap(), Moved::Lost);
        assert_eq!(tail.first_ts(), parse_rfc3339_ns(&time(4)));
        assert_eq!(take_secs(&mut tail), [4]);
        assert_eq!(log_start_ts(&path), parse_rfc3339_ns(&time(4)));
    }

    /// The reader is held back (as by a full ingest channel) while the log
    /// rotates three times with `max-file=2`: only the directory watcher saw
    /// which file followed which, and that is enough to know that the file
    /// after the reader's was deleted unread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn the_watcher_notes_rotations_the_reader_did_not_see() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        write(&path, &[1]);
        let watcher = crate::source::watch::Watcher::start().unwrap();
        let rotations = std::sync::Arc::new(Rotations::default());
        let _watch = watcher
            .watch(&path, std::sync::Arc::clone(&rotations))
            .unwrap();
        let mut tail = Tail::open(&path, 0, std::sync::Arc::clone(&rotations)).unwrap();
        assert_eq!(take_secs(&mut tail), [1]);
        let noted = |file: &Path| {
            let id = FileId::of(&std::fs::metadata(file).unwrap());
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while rotations.successor(&id).is_none() {
                assert!(std::time::Instant::now() < deadline, "rotation not noted");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        for n in 2..=4 {
            rotate_keeping(&path, 2);
            write(&path, &[n]);
            noted(&dir.path().join("c-json.log.1"));
        }
        // The reader's file (1) and its successor (2) are gone; 3 is left.
        assert_eq!(tail.next_file().unwrap(), Moved::Lost);
        assert_eq!(take_secs(&mut tail), [3]);
    }

    #[test]
    fn a_file_truncated_in_place_is_read_again_from_its_start() {
        // max-file=1: Docker truncates the log instead of renaming it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        write(&path, &[1, 2, 3]);
        let mut tail = Tail::open(&path, 0, Default::default()).unwrap();
        assert_eq!(take_secs(&mut tail), [1, 2, 3]);
        assert!(!tail.rotated());
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        write(&path, &[4]);
        assert!(tail.rotated(), "shorter than what was read");
        assert_eq!(tail.next_file().unwrap(), Moved::Restarted);
        assert_eq!(take_secs(&mut tail), [4]);
    }

    #[test]
    fn lines_in_compressed_rotations_are_left_to_the_api() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let line = |s: u32| {
            format!(
                "{}\n",
                entry("x\n", "stdout", &format!("2026-12-03T00:00:{s:02}Z"))
            )
        };
        std::fs::write(&path, line(10) + &line(11)).unwrap();
        std::fs::write(dir.path().join("c-json.log.1.gz"), b"older, compressed").unwrap();
        let ts = |s: u32| parse_rfc3339_ns(&format!("2026-12-03T00:00:{s:02}Z")).unwrap();
        // From the start, or from before the plain file: the lines needed are compressed.
        assert!(Tail::open(&path, 0, Default::default()).is_err());
        assert!(Tail::open(&path, ts(9), Default::default()).is_err());
        // From within the plain file: everything needed is there.
        assert!(Tail::open(&path, ts(10), Default::default()).is_ok());
        assert!(Tail::open(&path, ts(11), Default::default()).is_ok());
    }

    #[test]
    fn a_line_split_across_reads_is_joined() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let line = entry("whole\n", "stdout", "2026-12-03T00:00:01Z");
        let (head, rest) = line.split_at(10);
        std::fs::write(&path, head).unwrap();
        let mut tail = Tail::open(&path, 0, Default::default()).unwrap();
        let mut lines = Vec::new();
        tail.read_lines(|l| lines.push(l.to_vec())).unwrap();
        assert!(lines.is_empty());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        writeln!(f, "{rest}").unwrap();
        tail.read_lines(|l| lines.push(l.to_vec())).unwrap();
        assert_eq!(lines, [line.into_bytes()]);
    }
}

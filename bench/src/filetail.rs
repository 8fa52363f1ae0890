//! The Docker side of live latency: from a line's Docker timestamp to the
//! moment it can be read in the container's `json-file` log.
//!
//! The live benchmark's clients measure the whole path (Docker `ts` → frame
//! received), and the collector's `wakeline_read_delay_seconds` histogram the
//! path up to its hub (Docker `ts` → published). What neither says is how
//! much of that is Docker's: dockerd stamps a line when it takes it from the
//! container's pipe, then writes it to the log file the collector reads. This
//! thread reads the run's log files itself, from their end at the time it
//! starts, every millisecond, and records `now − time` for every new line:
//! the least any reader of those files could see (to within the 1 ms poll).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wakeline_e2e::{docker, parse_ts};

/// Between two reads of every file.
const POLL: Duration = Duration::from_millis(1);
/// Longest the thread runs, whatever happens.
const DEADLINE: Duration = Duration::from_secs(300);

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// One log file being read: its handle and the bytes of a line not yet complete.
struct Tail {
    file: File,
    partial: Vec<u8>,
}

/// Reads the log files of `container_ids` until `stop` is set and a round
/// found nothing new; returns `now − time` of every line, in ns.
pub fn spawn(container_ids: Vec<String>, stop: Arc<AtomicBool>) -> JoinHandle<Vec<i64>> {
    std::thread::spawn(move || {
        let mut tails: Vec<Tail> = container_ids
            .iter()
            .filter_map(|id| {
                let path = docker(&["inspect", "--format", "{{.LogPath}}", id]);
                let mut file = File::open(path.trim()).ok()?;
                // Only lines written from now on: earlier ones waited for us.
                file.seek(SeekFrom::End(0)).ok()?;
                Some(Tail {
                    file,
                    partial: Vec::new(),
                })
            })
            .collect();
        let mut delays = Vec::new();
        let mut chunk = vec![0u8; 256 * 1024];
        let started = Instant::now();
        while started.elapsed() < DEADLINE {
            let stopping = stop.load(Ordering::Relaxed);
            let mut read_any = false;
            for tail in &mut tails {
                loop {
                    let n = tail.file.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    read_any = true;
                    let now = now_ns();
                    tail.partial.extend_from_slice(&chunk[..n]);
                    let complete = tail.partial.iter().rposition(|&b| b == b'\n');
                    let Some(end) = complete else { continue };
                    for line in tail.partial[..end].split(|&b| b == b'\n') {
                        if let Some(ts) = entry_time(line) {
                            delays.push((now - ts) as i64);
                        }
                    }
                    tail.partial.drain(..=end);
                }
            }
            if stopping && !read_any {
                break;
            }
            std::thread::sleep(POLL);
        }
        delays
    })
}

/// The `"time"` of one `json-file` entry, in ns since the epoch.
fn entry_time(line: &[u8]) -> Option<i128> {
    let text = std::str::from_utf8(line).ok()?;
    let (_, rest) = text.rsplit_once("\"time\":\"")?;
    let (ts, _) = rest.split_once('"')?;
    parse_ts(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_of_a_json_file_entry_is_read() {
        let line = br#"{"log":"level=info msg=tick\n","stream":"stdout","time":"2026-12-05T01:02:03.123456789Z"}"#;
        let ts = entry_time(line).expect("a time");
        assert_eq!(ts % 1_000_000_000, 123_456_789);
        assert_eq!(entry_time(b"not json"), None);
    }
}

//! Ingest: how fast the collector makes a burst of logs searchable, beside how
//! fast `docker logs` merely reads the same logs.
//!
//! K containers each write M numbered logfmt lines carrying a request ID, as fast
//! as they can, and exit. Both sides then read the same finished json-file logs:
//! the baseline is `docker logs -t` for all K in parallel to /dev/null (what any
//! log shipper must at least do: timestamps on, as the engine API sends them),
//! and wakeline is the release collector started on a fresh data dir, timed from
//! its start until `/api/search?q=project:<tag>&limit=0` counts every line. The
//! ratio says what parsing and indexing cost on top of reading.
//!
//! The daemon on the benchmark VM rotates json-file logs at 10 MB × 3 files, so
//! M is chosen to keep one container's log well under 30 MB: past that,
//! `docker logs` itself would lose lines and neither side could be trusted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wakeline_e2e::{Collector, Container, ContainerSpec, poll};

use crate::common::{
    COMMIT_INTERVAL, CpuSample, all_exited, count, dir_bytes, fresh_data_dir, median, memory_kib,
    print_stderr_summary, print_table, run_containers, run_tag, secs_since, start_collector,
    thousands, wait_all_exited,
};

/// Containers writing at once.
pub const CONTAINERS: u64 = 4;
/// Lines each container writes (divided by the `--quick` scale).
const LINES: u64 = 150_000;
/// `docker logs` passes; the median is reported.
const BASELINE_RUNS: usize = 3;
/// How long the collector may take to index everything before the run is called failed.
const INDEX_DEADLINE: Duration = Duration::from_secs(900);
/// How long the count may stand still before the run is called failed.
const NO_PROGRESS: Duration = Duration::from_secs(60);

/// The collector and containers of a finished ingest run, for the search benchmark.
pub struct IngestRun {
    pub collector: Collector,
    pub containers: Vec<Container>,
    /// Compose project label of the containers, and a term in each of their lines.
    pub tag: String,
    pub lines_per_container: u64,
    pub figures: IngestFigures,
    _data_dir: TempDir,
}

/// What the summary needs of an ingest run.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestFigures {
    pub lines: u64,
    /// Bytes of log text per line (with its newline).
    pub text_bytes_per_line: f64,
    pub baseline_secs: f64,
    pub wakeline_secs: f64,
    pub cpu_collector: f64,
    pub cpu_dockerd: f64,
    /// A collector with no new lines to read, 5 s after its start.
    pub idle_kib: Option<u64>,
    pub peak_kib: Option<u64>,
    /// 15 s after every line was searchable.
    pub after_kib: Option<u64>,
    pub index_bytes_per_line: f64,
}

impl IngestRun {
    pub fn report_stderr(&self) {
        print_stderr_summary("\ningest collector", &self.collector.stderr_path());
    }

    /// The request ID of line `i`: the same in every container, so one ID is in K
    /// lines, like a request that crossed K services.
    pub fn request_id(&self, i: u64) -> String {
        format!("{}-{i}", self.tag)
    }
}

/// A line is this prefix followed by its number.
fn line_prefix(tag: &str) -> String {
    format!("level=info msg=served path=/api/users status=200 request_id={tag}-")
}

pub fn run(binary: &Path, scale: u64) -> IngestRun {
    let tag = run_tag("ingest");
    let lines = LINES / scale;
    let expected = CONTAINERS * lines;
    let prefix = line_prefix(&tag);
    let step = format!("count:out:{prefix}:1:{lines}:0");
    let specs = (0..CONTAINERS)
        .map(|i| {
            ContainerSpec::new("bench-ingest", &[step.as_str()])
                .project(&tag)
                .service(&format!("svc{i}"))
        })
        .collect();
    let text_bytes: u64 = (1..=lines)
        .map(|i| (prefix.len() + i.to_string().len() + 1) as u64)
        .sum::<u64>()
        * CONTAINERS;

    let idle_kib = idle_rss(binary);
    println!(
        "ingest: starting {CONTAINERS} writers of {} lines each",
        thousands(lines)
    );
    let started = Instant::now();
    let containers = run_containers(specs);
    wait_all_exited(&containers, Duration::from_secs(600));
    let write_secs = secs_since(started);

    let mut baseline: Vec<f64> = (0..BASELINE_RUNS)
        .map(|_| docker_logs_all(&containers))
        .collect();
    let baseline_secs = median(&mut baseline);

    // The containers must still be there for the collector to read them.
    if let Err(e) = all_exited(&containers) {
        panic!("{e}");
    }
    let data_dir = fresh_data_dir();
    let started = Instant::now();
    let collector = start_collector(binary, data_dir.path());
    let listening_secs = secs_since(started);
    let cpu_start = CpuSample::take(&collector);
    let query = format!("q=project:{tag}");
    let mut last = 0;
    let mut moved = Instant::now();
    let reached = poll(INDEX_DEADLINE, || {
        let now = count(&collector, &query).unwrap_or(last);
        if now != last {
            moved = Instant::now();
        }
        last = now;
        if last >= expected {
            return Some(Ok(()));
        }
        // Lines that are gone from Docker never arrive: say so instead of waiting.
        if moved.elapsed() > NO_PROGRESS {
            return Some(
                all_exited(&containers)
                    .map(|_| ())
                    .and(Err(format!("no new line indexed for {NO_PROGRESS:?}"))),
            );
        }
        None
    });
    let wakeline_secs = secs_since(started);
    match reached {
        Some(Ok(())) => {}
        Some(Err(why)) => panic!(
            "wakeline indexed {last} of {expected} lines: {why}\n{}",
            collector.diagnostics()
        ),
        None => panic!(
            "wakeline indexed {last} of {expected} lines within {INDEX_DEADLINE:?}\n{}",
            collector.diagnostics()
        ),
    }
    let cpu = CpuSample::take(&collector).since(cpu_start);
    let memory = collector.pid().and_then(memory_kib);
    // A duplicate would show up after a later commit; give it a few intervals.
    let changed = poll(Duration::from_secs(3), || {
        count(&collector, &query).filter(|&n| n != expected)
    });
    let index_bytes = dir_bytes(data_dir.path());
    let index_records = count(&collector, "").unwrap_or(0);
    // jemalloc gives freed pages back within its decay time (10 s).
    std::thread::sleep(Duration::from_secs(12));
    let after_kib = collector.pid().and_then(memory_kib).map(|(_, now)| now);

    let rate = |secs: f64| expected as f64 / secs;
    print_table(
        &format!(
            "ingest: {CONTAINERS} containers × {} lines = {} lines, {:.1} MB of log text \
             (written by the containers in {write_secs:.1} s, {} lines/s)",
            thousands(lines),
            thousands(expected),
            text_bytes as f64 / 1e6,
            thousands(rate(write_secs) as u64),
        ),
        &["side", "seconds", "lines/s", "vs docker logs"],
        &[
            vec![
                format!(
                    "docker logs -t, {CONTAINERS} in parallel, to /dev/null (median of {BASELINE_RUNS})"
                ),
                format!("{baseline_secs:.2}"),
                thousands(rate(baseline_secs) as u64),
                "1.00".into(),
            ],
            vec![
                format!("wakeline release, commit {COMMIT_INTERVAL}: start → all searchable"),
                format!("{wakeline_secs:.2}"),
                thousands(rate(wakeline_secs) as u64),
                format!("{:.3}", baseline_secs / wakeline_secs),
            ],
        ],
    );
    println!(
        "  wakeline takes {:.1}× the time of docker logs (of which {listening_secs:.2} s to print `listening on`)",
        wakeline_secs / baseline_secs
    );
    println!(
        "  CPU while indexing: collector {:.1} s ({:.1} µs/line), dockerd {:.1} s, of {:.1} s wall on 2 cores",
        cpu.collector,
        cpu.collector * 1e6 / expected as f64,
        cpu.dockerd,
        wakeline_secs - listening_secs,
    );
    match memory {
        Some((peak, now)) => println!(
            "  collector peak RSS (VmHWM): {:.1} MiB; RSS when done: {:.1} MiB",
            peak as f64 / 1024.0,
            now as f64 / 1024.0
        ),
        None => println!("  collector memory: /proc/<pid>/status not readable"),
    }
    println!(
        "  index on disk: {:.1} MB for {} records = {:.1} bytes/line (log text: {:.1} bytes/line; \
         the index also holds other containers on this host)",
        index_bytes as f64 / 1e6,
        thousands(index_records),
        index_bytes as f64 / index_records.max(1) as f64,
        text_bytes as f64 / expected as f64,
    );
    match after_kib {
        Some(kib) => println!(
            "  collector RSS 15 s after all was searchable: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("  collector memory after: /proc/<pid>/status not readable"),
    }
    match changed {
        None => println!(
            "  count still exactly {} 3 s later: nothing lost, nothing repeated",
            thousands(expected)
        ),
        Some(n) => println!("  COUNT CHANGED after reaching {expected}: now {n} (duplicates?)"),
    }
    let figures = IngestFigures {
        lines: expected,
        text_bytes_per_line: text_bytes as f64 / expected as f64,
        baseline_secs,
        wakeline_secs,
        cpu_collector: cpu.collector,
        cpu_dockerd: cpu.dockerd,
        idle_kib,
        peak_kib: memory.map(|(peak, _)| peak),
        after_kib,
        index_bytes_per_line: index_bytes as f64 / index_records.max(1) as f64,
    };
    IngestRun {
        collector,
        containers,
        tag,
        lines_per_container: lines,
        figures,
        _data_dir: data_dir,
    }
}

/// RSS of an idle collector: one that follows every container of this host
/// with (almost) nothing new to read. A first collector takes what the host's
/// other containers logged until its count stands nearly still for 3 s and is stopped
/// (SIGTERM: it commits); a second one resumes from that data dir, and its
/// RSS 5 s after it listens is the figure.
fn idle_rss(binary: &Path) -> Option<u64> {
    let data_dir = fresh_data_dir();
    let mut first = start_collector(binary, data_dir.path());
    // Caught up: fewer than QUIET_LINES new in 3 s (other engineers' test
    // containers may keep logging a little on a shared host).
    const QUIET_LINES: u64 = 1_000;
    let mut since: Option<(u64, Instant)> = None;
    let caught_up = poll(Duration::from_secs(120), || {
        let now = count(&first, "")?;
        match since {
            Some((then, at)) if now < then + QUIET_LINES => {
                (at.elapsed() >= Duration::from_secs(3)).then_some(())
            }
            _ => {
                since = Some((now, Instant::now()));
                None
            }
        }
    });
    first.terminate();
    if caught_up.is_none() {
        println!("idle: the host's other containers kept logging; idle RSS not measured");
        return None;
    }
    let second = start_collector(binary, data_dir.path());
    std::thread::sleep(Duration::from_secs(5));
    let kib = second.pid().and_then(memory_kib).map(|(_, now)| now);
    let records = count(&second, "").unwrap_or(0);
    match kib {
        Some(kib) => println!(
            "idle: a collector restarted on a data dir holding this host's other containers' \
             {} records, 5 s after it listens: RSS {:.1} MiB",
            thousands(records),
            kib as f64 / 1024.0
        ),
        None => println!("idle: /proc/<pid>/status not readable"),
    }
    kib
}

/// `docker logs -t` of every container at once, output to /dev/null; wall seconds.
/// (The containers write only stdout; docker's own errors come on stderr.)
fn docker_logs_all(containers: &[Container]) -> f64 {
    let started = Instant::now();
    let children: Vec<_> = containers
        .iter()
        .map(|c| {
            Command::new("docker")
                .args(["logs", "-t", &c.id])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run docker logs")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("wait for docker logs");
        assert!(
            output.status.success(),
            "docker logs failed ({}): {} (tests/run.sh removes every wakeline-test=1 \
             container when it starts or ends; run the benchmark again)",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    secs_since(started)
}

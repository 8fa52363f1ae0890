//! Pipeline: the collector's stages from the parser to the committed index, in
//! this process, with no Docker in between.
//!
//! The ingest benchmark times the real binary against `docker logs`, and there
//! dockerd, the writers and the host's mood decide much of the figure. This one
//! feeds the same code (`parse_line`, the sequencer, the live hub and the
//! indexer thread, wired as `main.rs` wires them) with the ingest benchmark's
//! lines from a generator, so what it prints is the collector's own cost: CPU
//! per line, peak memory and bytes on disk per byte of log text, and where
//! those bytes go (tantivy's space usage per component and field). It is the
//! profile target for the index (`valgrind --tool=callgrind … pipeline`), and
//! the place to load millions of lines quickly.
//!
//! Baselines in the same run: the log text's own bytes (the index's ratio is
//! against it) and this process's memory before the first line.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wakeline::assemble::Line;
use wakeline::index::LogIndex;
use wakeline::index::retention::{Retainer, Retention};
use wakeline::index::writer::Indexer;
use wakeline::ledger::Ledger;
use wakeline::live::{DEFAULT_RING, LiveHub};
use wakeline::metrics::Metrics;
use wakeline::parse::parse_line;
use wakeline::record::{ContainerMeta, Stream};
use wakeline::sequence::{INDEXER_QUEUE, Sequencer, index_queue};

use crate::common::{dir_bytes, fresh_data_dir, thousands};

/// Containers the lines are spread over (as the ingest benchmark's).
const CONTAINERS: u64 = 4;
/// The records channel from the readers to the sequencer (`main.rs`'s size).
const INGEST_CHANNEL: usize = 8192;

/// What one pipeline run measured.
#[derive(Debug, Clone, Default)]
pub struct PipelineRun {
    pub lines: u64,
    pub text_bytes: u64,
    pub index_bytes: u64,
    pub wall_secs: f64,
    pub cpu_secs: f64,
    /// This process before the first line: the baseline the peak is read against.
    pub rss_before_kib: u64,
    pub peak_kib: u64,
    pub rss_after_kib: u64,
}

impl PipelineRun {
    pub fn index_ratio(&self) -> f64 {
        self.index_bytes as f64 / self.text_bytes.max(1) as f64
    }

    pub fn cpu_us_per_line(&self) -> f64 {
        self.cpu_secs * 1e6 / self.lines.max(1) as f64
    }
}

/// Line `i` of container `c` (the ingest benchmark's shape, with its request ID).
fn line(tag: &str, c: u64, i: u64) -> String {
    format!("level=info msg=served path=/api/users status=200 request_id={tag}-{i} c={c}")
}

fn meta(c: u64) -> Arc<ContainerMeta> {
    Arc::new(ContainerMeta {
        host: "bench-host".into(),
        id: format!("{c:064x}"),
        name: format!("bench-pipeline-{c}"),
        image: "wakeline-emit:bench".into(),
        service: Some(format!("svc{c}")),
        project: Some("wlbpipeline".into()),
    })
}

pub fn run(lines: u64, print_breakdown: bool) -> PipelineRun {
    let data_dir = fresh_data_dir();
    let tag = "wlbpipe";
    reset_peak();
    let rss_before_kib = self_memory().map_or(0, |m| m.rss);
    let cpu_start = self_cpu_secs();
    let started = Instant::now();
    let text_bytes = feed(data_dir.path(), tag, lines);
    let wall_secs = started.elapsed().as_secs_f64();
    let cpu_secs = self_cpu_secs() - cpu_start;
    let memory = self_memory().unwrap_or_default();
    collect_garbage(data_dir.path());
    let run = PipelineRun {
        lines,
        text_bytes,
        index_bytes: dir_bytes(data_dir.path()),
        wall_secs,
        cpu_secs,
        rss_before_kib,
        peak_kib: memory.hwm,
        rss_after_kib: memory.rss,
    };
    println!(
        "\npipeline (in process: parse → sequencer → hub → indexer → commit): {} lines \
         from {CONTAINERS} containers, {:.1} MB of log text",
        thousands(lines),
        text_bytes as f64 / 1e6
    );
    println!(
        "  {:.2} s wall, {:.2} CPU-s = {:.2} CPU-µs per line ({} lines/s)",
        run.wall_secs,
        run.cpu_secs,
        run.cpu_us_per_line(),
        thousands((lines as f64 / run.wall_secs) as u64)
    );
    println!(
        "  memory: {:.1} MiB before, peak {:.1} MiB (VmHWM), {:.1} MiB after the last commit \
         (anon {:.1}, file {:.1})",
        run.rss_before_kib as f64 / 1024.0,
        run.peak_kib as f64 / 1024.0,
        run.rss_after_kib as f64 / 1024.0,
        memory.anon as f64 / 1024.0,
        memory.file as f64 / 1024.0,
    );
    println!(
        "  index on disk: {:.1} MB = {:.1} bytes/line against {:.1} bytes/line of log text: \
         {:.3} bytes per log byte",
        run.index_bytes as f64 / 1e6,
        run.index_bytes as f64 / lines as f64,
        text_bytes as f64 / lines as f64,
        run.index_ratio()
    );
    if print_breakdown {
        breakdown(data_dir.path(), text_bytes);
    }
    run
}

/// Runs the stages as `main.rs` wires them and feeds them `lines` lines;
/// returns the log text's bytes (with newlines, as a log file holds them).
fn feed(dir: &Path, tag: &str, lines: u64) -> u64 {
    let metas: Vec<_> = (0..CONTAINERS).map(meta).collect();
    // 1 µs apart, like a fast writer's lines.
    let first_ts = 1_800_000_000_000_000_000_i64;
    feed_with(dir, &metas, lines, |i| {
        let c = i % CONTAINERS;
        let text = line(tag, c, i / CONTAINERS);
        (c as usize, first_ts + i as i64 * 1000, text)
    })
}

/// Runs the stages as `main.rs` wires them, with retention off, and feeds
/// them `lines` lines from `next` (line `i` → its container's index in
/// `metas`, its Docker timestamp and its text), in order; the index is
/// committed as the collector commits it (its payload holds the ledger and
/// the container table), so the real binary can open the data dir. Returns
/// the log text's bytes (with newlines, as a log file holds them).
pub fn feed_with(
    dir: &Path,
    metas: &[Arc<ContainerMeta>],
    lines: u64,
    mut next: impl FnMut(u64) -> (usize, i64, String),
) -> u64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (index, payload) = LogIndex::open(dir).expect("open a fresh index");
    let index = Arc::new(index);
    let metrics = Arc::new(Metrics::new());
    let ledger = Arc::new(Ledger::new(payload.containers.clone()));
    let hub = Arc::new(LiveHub::new(DEFAULT_RING, 0));
    let (batches, batch_receiver) = index_queue(INDEXER_QUEUE);
    let indexer = Indexer {
        index: Arc::clone(&index),
        ledger,
        hub: Arc::clone(&hub),
        metrics: Arc::clone(&metrics),
        commit_interval: Duration::from_secs(1),
        next_seq: 1,
        retention: Retainer::new(
            Retention {
                max_age: None,
                max_bytes: None,
            },
            dir.to_path_buf(),
        ),
    }
    .spawn(batch_receiver, runtime.handle().clone())
    .expect("start the indexer");
    let sequencer = Sequencer {
        hub,
        metrics,
        next_seq: 1,
        redact: false,
    };
    let (records, receiver) = mpsc::channel(INGEST_CHANNEL);
    let sequencer = runtime.spawn(sequencer.run(receiver, batches));
    let mut text_bytes = 0;
    for i in 0..lines {
        let (c, ts_ns, text) = next(i);
        text_bytes += text.len() as u64 + 1;
        let line = Line {
            stream: Stream::Stdout,
            ts_ns,
            bytes: text.into_bytes(),
            truncated: false,
        };
        let record = parse_line(line, Arc::clone(&metas[c]));
        records
            .blocking_send(record)
            .expect("the sequencer takes records");
    }
    drop(records);
    runtime.block_on(sequencer).expect("the sequencer finishes");
    indexer.join().expect("the indexer finishes");
    drop(index);
    text_bytes
}

/// Deletes the files of segments merged away (the collector does at its next
/// commit), so that the directory's size is the index's.
pub fn collect_garbage(dir: &Path) {
    let (index, _) = LogIndex::open(dir).expect("reopen the index");
    let writer: tantivy::IndexWriter = index
        .tantivy()
        .writer_with_num_threads(1, 15_000_000)
        .expect("a writer to collect garbage with");
    if let Err(e) = writer.garbage_collect_files().wait() {
        println!("  (could not delete the files of merged segments: {e})");
    }
}

/// Where the bytes of the index go, per component and field (tantivy's own
/// accounting of the live segments).
pub fn breakdown(dir: &Path, text_bytes: u64) {
    let (index, _) = LogIndex::open(dir).expect("reopen the index");
    let usage = match index.searcher().space_usage() {
        Ok(usage) => usage,
        Err(e) => {
            println!("  space usage unavailable: {e}");
            return;
        }
    };
    let mut per: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut add = |component: &str, field: &str, bytes: u64| {
        *per.entry((component.to_owned(), field.to_owned()))
            .or_default() += bytes;
    };
    for segment in usage.segments() {
        add("store", "(all)", segment.store().total().get_bytes());
        let parts = [
            ("termdict", segment.termdict()),
            ("postings", segment.postings()),
            ("positions", segment.positions()),
            ("fast", segment.fast_fields()),
            ("fieldnorms", segment.fieldnorms()),
        ];
        for (component, fields) in parts {
            for field in fields.fields() {
                add(component, field.field_name(), field.total().get_bytes());
            }
        }
        add("deletes", "(all)", segment.deletes().get_bytes());
    }
    let total: u64 = per.values().sum();
    let mut rows: Vec<_> = per.into_iter().filter(|(_, b)| *b > 0).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    println!(
        "  where the bytes go ({} segments, {:.1} MB in segments):",
        usage.segments().len(),
        total as f64 / 1e6
    );
    println!(
        "    {:<11} {:<13} {:>10} {:>9}",
        "component", "field", "MB", "of text"
    );
    for ((component, field), bytes) in rows.iter().take(16) {
        println!(
            "    {component:<11} {field:<13} {:>10.2} {:>9.3}",
            *bytes as f64 / 1e6,
            *bytes as f64 / text_bytes as f64
        );
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Memory {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
}

/// This process's memory from `/proc/self/status`, in KiB.
fn self_memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(Memory {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    })
}

/// Resets this process's peak RSS to its current RSS (`clear_refs` 5), so the
/// peak is this run's.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn self_cpu_secs() -> f64 {
    crate::common::cpu_secs(std::process::id()).unwrap_or(f64::NAN)
}

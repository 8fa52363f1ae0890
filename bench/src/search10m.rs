//! Search at 10 M lines: the real binary answering through HTTP on an index
//! ten times the size of the ingest benchmark's, beside the same questions
//! on an index of a tenth of it and `grep` over the same text.
//!
//! Loading 10 M lines through Docker would take most of an hour on this
//! host, so the index is built in process by the collector's own stages
//! (`pipeline::feed_with`: `parse_line`, the sequencer, the indexer thread
//! and its commits with their payload), from [`loglines`]'s realistic lines
//! spread over 24 hours. That is a data dir like any other: then the release
//! `wakeline` binary is started on it (it also follows this host's
//! containers, as it would anywhere) and asked, over one kept-alive HTTP
//! connection, for a request's lines, a rare term, a frequent term, a phrase,
//! a 1 h range, and the volume chart of everything; each many times, with
//! p50 and p99 printed.
//!
//! Baselines, same run: the same questions asked of a second collector on an
//! index built the same way with a tenth of the lines over the same 24 hours
//! (what growing ten times costs; the two are asked in turn, so the host's
//! noise falls on both), and `grep -F` over the 10 M lines' text file, warm
//! in the page cache (what the lines cost without an index; cheaper than
//! `docker logs | grep`, which also pays dockerd's decoding).
//!
//! Before the collectors start, one retention pass (`Retainer::maybe_pass`,
//! which the indexer thread runs every 10 s by default) is timed on each
//! index in process, with the search for the oldest record it includes.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wakeline::index::LogIndex;
use wakeline::index::retention::{Retainer, Retention, oldest_ts};
use wakeline::metrics::Metrics;
use wakeline::timefmt::{format_rfc3339_ns, now_ns};
use wakeline_e2e::poll;

use crate::common::{
    dir_bytes, fresh_data_dir, median, percentile, print_stderr_summary, print_table,
    start_collector, thousands, wait_caught_up,
};
use crate::http1::{Http, encode};
use crate::loglines::{Generator, PROJECT, SampledRequest, metas};
use crate::pipeline::{breakdown, collect_garbage, feed_with};

/// Lines unless told (`--lines`).
pub const LINES: u64 = 10_000_000;
/// The time the lines are spread over.
const SPAN_HOURS: i64 = 24;
const HOUR_NS: i64 = 3_600_000_000_000;
/// The baseline index has this many times fewer lines.
const SMALLER: u64 = 10;
/// Longest any one question is asked for, per collector pair.
const QUESTION_BUDGET: Duration = Duration::from_secs(60);

/// One index built in process.
pub struct Built {
    pub dir: tempfile::TempDir,
    pub lines: u64,
    pub text_bytes: u64,
    pub index_bytes: u64,
    pub build_secs: f64,
    pub segments: usize,
    pub sample: Vec<SampledRequest>,
    pub first_ts: i64,
    /// The log text, one line per record, when asked for.
    pub text_file: Option<PathBuf>,
}

/// Builds an index of `lines` generated lines ending at `last_ts`; writes
/// their text to `text_file` as well when given.
pub fn build(lines: u64, last_ts: i64, text_file: Option<PathBuf>) -> Built {
    let dir = fresh_data_dir();
    let metas = metas();
    let mut generator = Generator::new(lines, last_ts, SPAN_HOURS * HOUR_NS);
    let mut out = text_file.as_ref().map(|path| {
        BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path).expect("create the text file"),
        )
    });
    let started = Instant::now();
    let text_bytes = feed_with(dir.path(), &metas, lines, |i| {
        let line = generator.next_line(i);
        if let Some(out) = out.as_mut() {
            let _ = out.write_all(line.2.as_bytes());
            let _ = out.write_all(b"\n");
        }
        line
    });
    if let Some(mut out) = out {
        out.flush().expect("write the text file");
    }
    let build_secs = started.elapsed().as_secs_f64();
    collect_garbage(dir.path());
    let segments = LogIndex::open(dir.path())
        .map(|(index, _)| index.searcher().segment_readers().len())
        .unwrap_or(0);
    Built {
        index_bytes: dir_bytes(dir.path()),
        dir,
        lines,
        text_bytes,
        build_secs,
        segments,
        first_ts: generator.first_ts(),
        sample: generator.sample,
        text_file,
    }
}

impl Built {
    fn describe(&self, name: &str) {
        println!(
            "  {name}: {} lines ({:.1} MB of text) in {:.1} s ({} lines/s), index {:.1} MB \
             ({:.3} bytes per log byte) in {} segments, {} sampled requests",
            thousands(self.lines),
            self.text_bytes as f64 / 1e6,
            self.build_secs,
            thousands((self.lines as f64 / self.build_secs) as u64),
            self.index_bytes as f64 / 1e6,
            self.index_bytes as f64 / self.text_bytes.max(1) as f64,
            self.segments,
            self.sample.len()
        );
    }
}

/// One retention pass, timed in process (ms, median of 3), and the search
/// for the oldest record within it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetentionTiming {
    pub pass_ms: f64,
    pub oldest_ms: f64,
}

/// Times `Retainer::maybe_pass` with the default age limit (7 days: nothing
/// to delete, the usual pass) on the index in `dir`; no collector may have
/// it open.
pub fn time_retention(dir: &Path) -> RetentionTiming {
    let (index, _) = LogIndex::open(dir).expect("open the built index");
    let writer: tantivy::IndexWriter = index
        .tantivy()
        .writer_with_num_threads(1, 15_000_000)
        .expect("a writer for the retention pass");
    let metrics = Metrics::new();
    let mut passes = Vec::new();
    let mut oldest = Vec::new();
    for _ in 0..3 {
        let mut retainer = Retainer::new(
            Retention {
                max_age: Some(Duration::from_secs(7 * 86_400)),
                max_bytes: None,
            },
            dir.to_path_buf(),
        );
        let started = Instant::now();
        let queued = retainer.maybe_pass(&index, &writer, &metrics);
        passes.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(!queued, "nothing is older than 7 days");
        let searcher = index.searcher();
        let started = Instant::now();
        std::hint::black_box(oldest_ts(&searcher, index.segments(), i64::MIN));
        oldest.push(started.elapsed().as_secs_f64() * 1e3);
    }
    drop(writer);
    RetentionTiming {
        pass_ms: median(&mut passes),
        oldest_ms: median(&mut oldest),
    }
}

/// The path a question asks of one index in round `n`.
type PathFor = Box<dyn Fn(&Built, usize) -> String>;

/// The questions, as a name and the path asked for round `n`.
struct Question {
    name: &'static str,
    /// Rounds asked (both collectors each round), before the time budget.
    rounds: usize,
    path: PathFor,
    /// What the answer must hold, as a count: records of a request, or `total`.
    found: fn(&serde_json::Value) -> Option<u64>,
}

fn total(v: &serde_json::Value) -> Option<u64> {
    v["total"].as_u64()
}

fn records(v: &serde_json::Value) -> Option<u64> {
    v["records"].as_array().map(|r| r.len() as u64)
}

fn questions() -> Vec<Question> {
    let q = |text: &str| format!("/api/search?q={}", encode(text));
    let (rare, frequent, phrase) = (q(RARE_TERM), q(FREQUENT_TERM), q(PHRASE));
    vec![
        Question {
            name: "request",
            rounds: 1000,
            path: Box::new(|built, n| {
                format!("/api/requests/{}", built.sample[n % built.sample.len()].id)
            }),
            found: records,
        },
        Question {
            name: "rare term",
            rounds: 200,
            path: Box::new(move |_, _| rare.clone()),
            found: total,
        },
        Question {
            name: "frequent term",
            rounds: 200,
            path: Box::new(move |_, _| frequent.clone()),
            found: total,
        },
        Question {
            name: "phrase",
            rounds: 200,
            path: Box::new(move |_, _| phrase.clone()),
            found: total,
        },
        Question {
            name: "1 h range",
            rounds: 200,
            path: Box::new(|built, n| {
                // A different hour each round, never the first or the last.
                let hour = 1 + (n as i64 % (SPAN_HOURS - 2));
                let since = built.first_ts + hour * HOUR_NS;
                format!(
                    "/api/search?since={}&until={}",
                    encode(&format_rfc3339_ns(since)),
                    encode(&format_rfc3339_ns(since + HOUR_NS))
                )
            }),
            found: total,
        },
        Question {
            name: "histogram, everything",
            rounds: 30,
            path: Box::new(|_, _| "/api/histogram?buckets=120".to_string()),
            found: total,
        },
    ]
}

/// A term in about 1 line in 300 (errors of three services and the worker).
const RARE_TERM: &str = "timeout";
/// A term in about 1 line in 4 (every request's last line, most worker lines).
const FREQUENT_TERM: &str = "finished";
const PHRASE: &str = "\"connection reset by peer\"";

/// What one collector answered one question: latencies in ns (warm), the
/// first (cold) call, and what it found.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub sorted_ns: Vec<i64>,
    pub cold_ns: i64,
    pub found: Option<u64>,
    pub wrong: usize,
    pub failed: usize,
}

impl Timings {
    pub fn p(&self, p: f64) -> f64 {
        percentile(&self.sorted_ns, p).map_or(f64::NAN, |ns| ns as f64 / 1e6)
    }
}

/// Per question: (name, 10 M side, baseline side, grep ms and count).
pub struct Search10mFigures {
    pub lines: u64,
    pub small_lines: u64,
    pub answers: Vec<(&'static str, Timings, Timings)>,
    pub grep: Vec<(&'static str, f64, Option<u64>)>,
    pub retention: (RetentionTiming, RetentionTiming),
    pub segments: (usize, usize),
    pub load: Option<f64>,
}

impl Search10mFigures {
    pub fn answer(&self, name: &str) -> Option<&(&'static str, Timings, Timings)> {
        self.answers.iter().find(|a| a.0 == name)
    }

    pub fn grep(&self, name: &str) -> Option<(f64, Option<u64>)> {
        self.grep.iter().find(|g| g.0 == name).map(|g| (g.1, g.2))
    }
}

/// Runs the benchmark; with `keep`, the two data dirs and the text file stay
/// on disk (their paths are printed), to profile the collector on them.
pub fn run(binary: &Path, lines: u64, keep: bool) -> Search10mFigures {
    let small_lines = (lines / SMALLER).max(1);
    println!(
        "\nsearch at {} lines: indexes built in process by the collector's stages, then the \
         release binary asked through HTTP; baseline: the same on {} lines over the same \
         {SPAN_HOURS} h, and grep -F over the text",
        thousands(lines),
        thousands(small_lines)
    );
    // The newest line 10 minutes ago: the default retention (7 days) keeps all.
    let last_ts = now_ns() - 600 * 1_000_000_000;
    let text_dir = tempfile::Builder::new()
        .prefix("wakeline-bench-text-")
        .tempdir()
        .expect("a folder for the text file");
    let big = build(lines, last_ts, Some(text_dir.path().join("lines.log")));
    big.describe("large index");
    breakdown(big.dir.path(), big.text_bytes);
    let small = build(small_lines, last_ts, None);
    small.describe("baseline index");

    let retention = (
        time_retention(big.dir.path()),
        time_retention(small.dir.path()),
    );
    println!(
        "  one retention pass (Retainer::maybe_pass, nothing to delete), median of 3: \
         {:.1} ms at {} lines, {:.1} ms at {}; of which the oldest record's search \
         (top 1 by ts over all): {:.1} ms and {:.1} ms",
        retention.0.pass_ms,
        thousands(lines),
        retention.1.pass_ms,
        thousands(small_lines),
        retention.0.oldest_ms,
        retention.1.oldest_ms
    );

    let grep = grep_baseline(&big);

    let collectors = [
        start_collector(binary, big.dir.path()),
        start_collector(binary, small.dir.path()),
    ];
    for (collector, built) in collectors.iter().zip([&big, &small]) {
        let query = format!("q=project:{PROJECT}");
        let indexed = poll(Duration::from_secs(60), || {
            crate::common::count(collector, &query).filter(|&n| n >= built.lines)
        });
        assert_eq!(
            indexed,
            Some(built.lines),
            "the collector counts every line of the built index\n{}",
            collector.diagnostics()
        );
    }
    for collector in &collectors {
        wait_caught_up(collector);
    }
    let load = crate::common::load_average();
    let mut clients = [
        Http::new(collectors[0].port()),
        Http::new(collectors[1].port()),
    ];
    let mut answers = Vec::new();
    for question in questions() {
        let (a, b) = ask(&question, &mut clients, [&big, &small]);
        answers.push((question.name, a, b));
    }
    let figures = Search10mFigures {
        lines,
        small_lines,
        answers,
        grep,
        retention,
        segments: (big.segments, small.segments),
        load,
    };
    print_report(&figures);
    for (collector, name) in collectors.iter().zip(["large", "baseline"]) {
        print_stderr_summary(
            &format!("search10m ({name}) collector"),
            &collector.stderr_path(),
        );
    }
    drop(collectors);
    if keep {
        println!(
            "  kept: {} ({} lines), {} ({} lines), {}",
            big.dir.keep().display(),
            thousands(lines),
            small.dir.keep().display(),
            thousands(small_lines),
            text_dir.keep().display()
        );
    }
    figures
}

/// Asks `question` of both collectors in turn, round after round.
fn ask(question: &Question, clients: &mut [Http; 2], built: [&Built; 2]) -> (Timings, Timings) {
    let mut out = [Timings::default(), Timings::default()];
    let expected = |side: usize, n: usize| match question.name {
        "request" => {
            let sample = &built[side].sample;
            Some(u64::from(sample[n % sample.len()].lines))
        }
        _ => None,
    };
    const WARM_UP: usize = 5;
    let started = Instant::now();
    for n in 0..question.rounds + WARM_UP {
        if started.elapsed() > QUESTION_BUDGET {
            break;
        }
        // Alternate which side goes first.
        for k in 0..2 {
            let side = (n + k) % 2;
            let path = (question.path)(built[side], n);
            let t = Instant::now();
            let reply = clients[side].get(&path);
            let ns = t.elapsed().as_nanos() as i64;
            let timings = &mut out[side];
            let Ok(reply) = reply.map_err(|e| println!("  {}: {e}", question.name)) else {
                timings.failed += 1;
                continue;
            };
            if reply.status != 200 {
                timings.failed += 1;
                continue;
            }
            let found = (question.found)(&reply.json());
            if expected(side, n).is_some_and(|e| found != Some(e)) {
                timings.wrong += 1;
            }
            timings.found = found;
            if n == 0 {
                timings.cold_ns = ns;
            }
            if n >= WARM_UP {
                timings.sorted_ns.push(ns);
            }
        }
    }
    for timings in &mut out {
        timings.sorted_ns.sort_unstable();
    }
    let [a, b] = out;
    (a, b)
}

/// `grep -F -c` over the text file for a request ID, the rare term and the
/// phrase; ms (median of 3) and the count.
fn grep_baseline(built: &Built) -> Vec<(&'static str, f64, Option<u64>)> {
    let Some(file) = &built.text_file else {
        return Vec::new();
    };
    // Once to bring the file into the page cache.
    let _ = Command::new("cat")
        .arg(file)
        .stdout(std::process::Stdio::null())
        .status();
    let id = built
        .sample
        .first()
        .map(|r| r.id.clone())
        .unwrap_or_default();
    let phrase = PHRASE.trim_matches('"');
    [
        ("request", id.as_str()),
        ("rare term", RARE_TERM),
        ("frequent term", FREQUENT_TERM),
        ("phrase", phrase),
    ]
    .into_iter()
    .map(|(name, pattern)| {
        let mut times = Vec::new();
        let mut found = None;
        for _ in 0..3 {
            let started = Instant::now();
            let output = Command::new("grep")
                .args(["-F", "-c", "-e", pattern])
                .arg(file)
                .env("LC_ALL", "C")
                .output();
            times.push(started.elapsed().as_secs_f64() * 1e3);
            found = output
                .ok()
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
        }
        (name, median(&mut times), found)
    })
    .collect()
}

fn print_report(f: &Search10mFigures) {
    let ms = |v: f64| format!("{v:.2}");
    let rows: Vec<Vec<String>> = f
        .answers
        .iter()
        .map(|(name, big, small)| {
            let found = |t: &Timings| t.found.map_or("-".into(), thousands);
            let grep = f.grep(name).map_or("-".into(), |(ms, n)| {
                format!("{ms:.0} ({})", n.map_or("-".into(), thousands))
            });
            vec![
                name.to_string(),
                ms(big.p(50.0)),
                ms(big.p(99.0)),
                ms(big.sorted_ns.last().map_or(f64::NAN, |&n| n as f64 / 1e6)),
                ms(big.cold_ns as f64 / 1e6),
                found(big),
                ms(small.p(50.0)),
                ms(small.p(99.0)),
                found(small),
                format!("{:.1}", big.p(99.0) / small.p(99.0)),
                grep,
                format!("{}/{}", big.wrong + small.wrong, big.failed + small.failed),
            ]
        })
        .collect();
    print_table(
        &format!(
            "search through HTTP, {} lines ({} segments) beside {} lines ({} segments); ms; \
             load {}",
            thousands(f.lines),
            f.segments.0,
            thousands(f.small_lines),
            f.segments.1,
            f.load.map_or("-".into(), |l| format!("{l:.1}"))
        ),
        &[
            "question",
            "p50",
            "p99",
            "max",
            "cold",
            "found",
            "base p50",
            "base p99",
            "base found",
            "p99 ×",
            "grep -F -c ms (found)",
            "wrong/failed",
        ],
        &rows,
    );
    println!(
        "  questions: request = /api/requests/<one of the sampled IDs, 3–8 lines each>; \
         rare term = q={RARE_TERM}; frequent term = q={FREQUENT_TERM}; phrase = q={PHRASE}; \
         1 h range = since/until an hour of the {SPAN_HOURS} h (a different one each round); \
         all with the API's default limit (100); histogram = /api/histogram?buckets=120, no \
         filter. Found: the count the API returned (the index also holds the host's own \
         containers' lines)."
    );
}

/// `smoke`: the generator, the build and the retention pass on a few lines,
/// with no collector (so `.ci/run` keeps this path building and running).
pub fn smoke(lines: u64) {
    let built = build(lines, now_ns(), None);
    println!("\nsearch10m, smoke (in process, no collector):");
    built.describe("index");
    let timing = time_retention(built.dir.path());
    println!(
        "  one retention pass {:.1} ms, the oldest record's search {:.1} ms",
        timing.pass_ms, timing.oldest_ms
    );
    let (index, _) = LogIndex::open(built.dir.path()).expect("reopen the built index");
    let indexed = index.count().unwrap_or(0) as u64;
    assert_eq!(indexed, lines, "every generated line is in the index");
    assert!(!built.sample.is_empty(), "requests were sampled");
}

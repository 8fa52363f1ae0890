//! What the parser costs per line, against the parser as it was before the
//! corpus work (`parse_before/`), side by side in one run.
//!
//! Two sets of lines: the corpus (`tests/corpus/*.txt`, every logging
//! library's own example lines) and the typical lines of a Wakeline user's
//! services (the middleware's JSON, logfmt, plain text). Criterion measures
//! each parser on each set; then an interleaved run of both prints the cost
//! per line and the ratio after/before, so a busy machine slows both alike.
//!
//! `cargo bench -p wakeline --bench parse`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use wakeline::assemble::Line;
use wakeline::record::{ContainerMeta, Record, Stream};

mod parse_before;

const CORPUS: &[&str] = &[
    include_str!("../tests/corpus/go.txt"),
    include_str!("../tests/corpus/node.txt"),
    include_str!("../tests/corpus/python.txt"),
    include_str!("../tests/corpus/java.txt"),
    include_str!("../tests/corpus/ecs.txt"),
    include_str!("../tests/corpus/otel.txt"),
    include_str!("../tests/corpus/dotnet.txt"),
    include_str!("../tests/corpus/rust.txt"),
    include_str!("../tests/corpus/gcp.txt"),
    include_str!("../tests/corpus/web.txt"),
    include_str!("../tests/corpus/misc.txt"),
];

/// What the services of a Wakeline user typically write.
const TYPICAL: &[&str] = &[
    r#"{"ts":"2026-12-03T07:43:41.001234Z","level":"info","msg":"request started","target":"wakeline_middleware::request","request_id":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","method":"GET","path":"/api/messages"}"#,
    r#"{"ts":"2026-12-03T07:43:41.004321Z","level":"info","msg":"request finished","target":"wakeline_middleware::request","request_id":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","status":200,"duration_ms":3.1}"#,
    r#"{"ts":"2026-12-03T07:43:41.003000Z","level":"warn","msg":"token expired","target":"tokens","request_id":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b","user_id":42}"#,
    r#"level=info msg="hello world" request_id=abc-123 user=7 duration=12ms"#,
    r#"time=2026-12-03T07:43:41.007Z level=ERROR msg="request failed" request_id=8d3e2f1a err="context deadline exceeded""#,
    "2026-12-03 07:43:41,001 INFO GET /login took 12ms request_id=r1",
    "connection reset by peer while reading response header from upstream",
    "Listening on 0.0.0.0:8080",
];

fn corpus_lines() -> Vec<&'static str> {
    CORPUS
        .iter()
        .flat_map(|text| text.lines())
        .filter(|row| !row.is_empty() && !row.starts_with('#'))
        .filter_map(|row| row.splitn(6, '\t').nth(5))
        .collect()
}

fn lines_of(texts: &[&str]) -> Vec<Line> {
    texts
        .iter()
        .map(|text| Line {
            stream: Stream::Stdout,
            ts_ns: 1,
            bytes: text.as_bytes().to_vec(),
            truncated: false,
        })
        .collect()
}

type Parser = fn(Line, Arc<ContainerMeta>) -> Record;

const PARSERS: [(&str, Parser); 2] = [
    ("before", parse_before::parse_line),
    ("after", wakeline::parse::parse_line),
];

fn parse_all(parser: Parser, lines: Vec<Line>, meta: &Arc<ContainerMeta>) {
    for line in lines {
        black_box(parser(line, meta.clone()));
    }
}

fn criterion_runs(c: &mut Criterion, sets: &[(&str, Vec<&'static str>)]) {
    let meta = Arc::new(ContainerMeta::default());
    for (set, texts) in sets {
        let mut group = c.benchmark_group(format!("parse/{set}"));
        group.throughput(Throughput::Elements(texts.len() as u64));
        for (name, parser) in PARSERS {
            group.bench_function(name, |b| {
                b.iter_batched(
                    || lines_of(texts),
                    |lines| parse_all(parser, lines, &meta),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

/// Nanoseconds per line of one pass, the line copies made outside the timing.
fn one_pass(parser: Parser, texts: &[&str], meta: &Arc<ContainerMeta>) -> f64 {
    let lines = lines_of(texts);
    let start = Instant::now();
    parse_all(parser, lines, meta);
    start.elapsed().as_nanos() as f64 / texts.len() as f64
}

/// Both parsers, interleaved pass by pass for about `budget`; the medians.
fn side_by_side(texts: &[&str], budget: Duration) -> (f64, f64) {
    let meta = Arc::new(ContainerMeta::default());
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < budget || before.len() < 21 {
        before.push(one_pass(PARSERS[0].1, texts, &meta));
        after.push(one_pass(PARSERS[1].1, texts, &meta));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut before), median(&mut after))
}

fn main() {
    let sets = [("corpus", corpus_lines()), ("typical", TYPICAL.to_vec())];
    let mut c = Criterion::default().configure_from_args();
    criterion_runs(&mut c, &sets);
    c.final_summary();
    println!("\nside by side (median of interleaved passes):");
    for (set, texts) in &sets {
        let (before, after) = side_by_side(texts, Duration::from_secs(3));
        println!(
            "  {set:8} {:4} lines  before {before:7.0} ns/line  after {after:7.0} ns/line  after/before {:.2}",
            texts.len(),
            after / before
        );
    }
}

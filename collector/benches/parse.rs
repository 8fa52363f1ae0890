//! What the parser and the multi-line joiner cost per line, beside a
//! baseline that does not age: decoding the same line with `serde_json`
//! into a `Value` (what any JSON-reading collector pays at least; a non-JSON
//! line fails fast).
//!
//! Three sets of lines: the corpus (`tests/corpus/*.txt`, every logging
//! library's own example lines), the typical lines of a Wakeline user's
//! services (the middleware's JSON, logfmt, plain text), and stack traces of
//! each language between ordinary lines. Criterion measures each stage on
//! each set; then an interleaved run prints the cost per line and the
//! ratios, so a busy machine slows all alike.
//!
//! `cargo bench -p wakeline --bench parse`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use wakeline::assemble::Line;
use wakeline::multiline::Joiner;
use wakeline::record::{ContainerMeta, Stream};

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

/// Stack traces between ordinary lines, as services write them.
const TRACES: &[&str] = &[
    "2026-12-04 10:00:00.123 ERROR 1 --- [exec-1] c.a.OrderController : order 42 failed",
    "java.lang.IllegalStateException: stock is negative",
    "\tat com.acme.Stock.take(Stock.java:31)",
    "\tat com.acme.OrderController.place(OrderController.java:57)",
    "Caused by: java.sql.SQLException: deadlock",
    "\tat org.h2.Db.exec(Db.java:9)",
    "\t... 2 more",
    "2026-12-04 10:00:00.200 INFO 1 --- [exec-2] c.a.OrderController : order 43 placed",
    "ERROR:shop:payment failed",
    "Traceback (most recent call last):",
    "  File \"/app/pay.py\", line 12, in charge",
    "    return gateway.charge(amount)",
    "gateway.GatewayError: declined",
    "INFO:shop:next",
    "panic: index out of range [5] with length 3",
    "",
    "goroutine 1 [running]:",
    "main.main()",
    "\t/app/main.go:7 +0x1d",
    "level=info msg=\"restarted\"",
];

fn lines_of(texts: &[&str]) -> Vec<Line> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| Line {
            stream: Stream::Stderr,
            ts_ns: 1_000_000_000 + i as i64 * 1_000,
            bytes: text.as_bytes().to_vec(),
            truncated: false,
        })
        .collect()
}

type Stage = fn(Vec<Line>, &Arc<ContainerMeta>);

/// The baseline: a JSON decode of each line.
fn json_decode(lines: Vec<Line>, _meta: &Arc<ContainerMeta>) {
    for line in lines {
        black_box(serde_json::from_slice::<serde_json::Value>(&line.bytes).ok());
    }
}

fn parse(lines: Vec<Line>, meta: &Arc<ContainerMeta>) {
    for line in lines {
        black_box(wakeline::parse::parse_line(line, meta.clone()));
    }
}

/// Parsing through the joiner, as the collector does.
fn parse_and_join(lines: Vec<Line>, meta: &Arc<ContainerMeta>) {
    let mut joiner = Joiner::new(true, 1 << 20);
    let mut out = Vec::new();
    for line in lines {
        joiner.push(line, meta, &mut out);
        black_box(out.drain(..).count());
    }
    joiner.flush(meta, &mut out);
    black_box(out);
}

const STAGES: [(&str, Stage); 3] = [
    ("json-decode", json_decode),
    ("parse", parse),
    ("parse+join", parse_and_join),
];

fn criterion_runs(c: &mut Criterion, sets: &[(&str, Vec<&'static str>)]) {
    let meta = Arc::new(ContainerMeta::default());
    for (set, texts) in sets {
        let mut group = c.benchmark_group(format!("parse/{set}"));
        group.throughput(Throughput::Elements(texts.len() as u64));
        for (name, stage) in STAGES {
            group.bench_function(name, |b| {
                b.iter_batched(
                    || lines_of(texts),
                    |lines| stage(lines, &meta),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

/// Nanoseconds per line of one pass, the line copies made outside the timing.
fn one_pass(stage: Stage, texts: &[&str], meta: &Arc<ContainerMeta>) -> f64 {
    let lines = lines_of(texts);
    let start = Instant::now();
    stage(lines, meta);
    start.elapsed().as_nanos() as f64 / texts.len() as f64
}

/// Every stage, interleaved pass by pass for about `budget`; the medians.
fn side_by_side(texts: &[&str], budget: Duration) -> [f64; 3] {
    let meta = Arc::new(ContainerMeta::default());
    let mut runs: [Vec<f64>; 3] = Default::default();
    let start = Instant::now();
    while start.elapsed() < budget || runs[0].len() < 21 {
        for (i, (_, stage)) in STAGES.iter().enumerate() {
            runs[i].push(one_pass(*stage, texts, &meta));
        }
    }
    runs.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    })
}

fn main() {
    let sets = [
        ("corpus", corpus_lines()),
        ("typical", TYPICAL.to_vec()),
        ("traces", TRACES.to_vec()),
    ];
    let mut c = Criterion::default().configure_from_args();
    criterion_runs(&mut c, &sets);
    c.final_summary();
    println!("\nside by side (median of interleaved passes, ns per line):");
    for (set, texts) in &sets {
        let [json, parse, joined] = side_by_side(texts, Duration::from_secs(3));
        println!(
            "  {set:8} {:4} lines  json-decode {json:6.0}  parse {parse:6.0} ({:.2}x json)  parse+join {joined:6.0} ({:.2}x parse)",
            texts.len(),
            parse / json,
            joined / parse,
        );
    }
}

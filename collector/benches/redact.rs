//! What `--redact` costs per line: the parser alone against the parser then
//! the redactor, on the same lines, side by side in one run.
//!
//! Two sets: the typical lines of a Wakeline user's services (no secret in
//! them: the common case, where the scan finds nothing) and lines that each
//! hold one (a password, a bearer token, an AWS key, a JWT). Criterion
//! measures both pipelines on both sets; then an interleaved run prints the
//! cost per line and the ratio with/without, so a busy machine slows both alike.
//!
//! `cargo bench -p wakeline --bench redact`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use wakeline::assemble::Line;
use wakeline::parse::parse_line;
use wakeline::record::{ContainerMeta, Stream};
use wakeline::redact::redact_record;

/// What the services of a Wakeline user typically write (nothing to mask).
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

/// Lines that each hold a secret.
const SECRETS: &[&str] = &[
    r#"{"ts":"2026-12-03T07:43:41.001234Z","level":"info","msg":"login","user":"bob","password":"hunter2","request_id":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"}"#,
    r#"{"level":"debug","msg":"calling users","headers":{"authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}}"#,
    r#"level=info msg="deploy" aws_access_key_id=AKIAIOSFODNN7EXAMPLE region=eu-west-1"#,
    "2026-12-03 07:43:41,001 DEBUG connecting with DATABASE_PASSWORD=s3cr3t-pass to db:5432",
];

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

/// Parses every line, and redacts each record when `redact`.
fn run(lines: Vec<Line>, meta: &Arc<ContainerMeta>, redact: bool) -> u64 {
    let mut masked = 0;
    for line in lines {
        let mut record = parse_line(line, meta.clone());
        if redact {
            masked += redact_record(&mut record);
        }
        black_box(record);
    }
    masked
}

const PIPELINES: [(&str, bool); 2] = [("parse", false), ("parse+redact", true)];

fn criterion_runs(c: &mut Criterion, sets: &[(&str, &[&str])]) {
    let meta = Arc::new(ContainerMeta::default());
    for (set, texts) in sets {
        let mut group = c.benchmark_group(format!("redact/{set}"));
        group.throughput(Throughput::Elements(texts.len() as u64));
        for (name, redact) in PIPELINES {
            group.bench_function(name, |b| {
                b.iter_batched(
                    || lines_of(texts),
                    |lines| run(lines, &meta, redact),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

/// Nanoseconds per line of one pass of 100 copies of the set, the line
/// copies made outside the timing.
fn one_pass(texts: &[&str], meta: &Arc<ContainerMeta>, redact: bool) -> f64 {
    let lines: Vec<Line> = (0..100).flat_map(|_| lines_of(texts)).collect();
    let n = lines.len();
    let start = Instant::now();
    black_box(run(lines, meta, redact));
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Both pipelines, interleaved pass by pass for about `budget`; the medians.
fn side_by_side(texts: &[&str], budget: Duration) -> (f64, f64) {
    let meta = Arc::new(ContainerMeta::default());
    let (mut plain, mut redacted) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < budget || plain.len() < 21 {
        plain.push(one_pass(texts, &meta, false));
        redacted.push(one_pass(texts, &meta, true));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut plain), median(&mut redacted))
}

fn main() {
    let meta = Arc::new(ContainerMeta::default());
    assert_eq!(run(lines_of(TYPICAL), &meta, true), 0, "nothing to mask");
    assert_eq!(
        run(lines_of(SECRETS), &meta, true),
        SECRETS.len() as u64,
        "one secret per line"
    );
    let sets: [(&str, &[&str]); 2] = [("typical", TYPICAL), ("secrets", SECRETS)];
    let mut c = Criterion::default().configure_from_args();
    criterion_runs(&mut c, &sets);
    c.final_summary();
    println!("\nside by side (median of interleaved passes):");
    for (set, texts) in &sets {
        let (plain, redacted) = side_by_side(texts, Duration::from_secs(3));
        println!(
            "  {set:8} {:2} lines  parse {plain:6.0} ns/line  parse+redact {redacted:6.0} ns/line  \
             redact {:5.0} ns/line  ratio {:.3}",
            texts.len(),
            redacted - plain,
            redacted / plain
        );
    }
}

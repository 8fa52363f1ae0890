//! Search: what "how many lines say X" and "every line of request X" cost with
//! the index, beside what people type today, `docker logs … | grep`.
//!
//! Both sides answer the same two questions about the ingest run's containers:
//! how many lines contain a term (the run's tag, in every one of its lines — the
//! worst case for the index's count, the usual case for grep), and every line of
//! one request ID (in K lines, one per container, like a request that crossed K
//! services). The baseline reads all K logs in parallel into one `grep`. Each
//! question is timed several times and the median reported; wakeline is timed
//! through its HTTP API, so its figure includes the round trip a UI pays. Both
//! answers are checked against each other, so a fast wrong answer shows.

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::{median, print_table, thousands};
use crate::ingest::{CONTAINERS, IngestRun};

/// Timed passes per question and side; the median is reported.
const RUNS: usize = 7;

/// What one side answered and how long it took (median seconds).
struct Answer {
    secs: f64,
    found: Option<u64>,
}

fn timed(mut ask: impl FnMut() -> Option<u64>) -> Answer {
    let mut times = Vec::with_capacity(RUNS);
    let mut found = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let answer = ask();
        times.push(started.elapsed().as_secs_f64());
        if found.is_some() && found != answer {
            println!("  answers differ between passes: {found:?} then {answer:?}");
        }
        found = answer;
    }
    Answer {
        secs: median(&mut times),
        found,
    }
}

/// `docker logs -t` of every container in parallel into one `grep ARGS`; returns
/// grep's stdout.
fn docker_logs_grep(ingest: &IngestRun, grep_args: &str, pattern: &str) -> Option<String> {
    let script = format!(
        "{{ for c in \"$@\"; do docker logs -t \"$c\" & done; wait; }} 2>&1 | grep {grep_args} -e \"$WLB_PATTERN\""
    );
    let output = Command::new("sh")
        .args(["-c", &script, "sh"])
        .args(ingest.containers.iter().map(|c| c.id.as_str()))
        .env("WLB_PATTERN", pattern)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Medians of the two questions, in seconds: (docker logs | grep, wakeline).
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchFigures {
    pub count: (f64, f64),
    pub request: (f64, f64),
}

pub fn run(ingest: &IngestRun) -> SearchFigures {
    let collector = &ingest.collector;
    let lines = ingest.lines_per_container;
    let term = ingest.tag.as_str();
    let request_id = ingest.request_id(lines / 2 + 1);

    let grep_count =
        timed(|| docker_logs_grep(ingest, "-c -F", term).and_then(|out| out.trim().parse().ok()));
    let wakeline_count = timed(|| {
        let response = collector.request(&format!("/api/search?q={term}&limit=0"), None);
        (response.status == 200)
            .then(|| response.json["total"].as_u64())
            .flatten()
    });
    let grep_request = timed(|| {
        docker_logs_grep(ingest, "-F -w", &request_id).map(|out| out.lines().count() as u64)
    });
    let wakeline_request = timed(|| {
        let response = collector.request(&format!("/api/requests/{request_id}"), None);
        (response.status == 200)
            .then(|| response.json["records"].as_array().map(|r| r.len() as u64))
            .flatten()
    });

    let row = |question: String, grep: &Answer, wakeline: &Answer| {
        let found = |a: &Answer| a.found.map_or("error".to_string(), thousands);
        let agree = if grep.found == wakeline.found {
            ""
        } else {
            "  MISMATCH"
        };
        vec![
            question,
            format!("{:.1} ms ({})", grep.secs * 1e3, found(grep)),
            format!("{:.1} ms ({})", wakeline.secs * 1e3, found(wakeline)),
            format!("{:.0}×{agree}", grep.secs / wakeline.secs),
        ]
    };
    print_table(
        &format!(
            "search: on the ingest run's {} lines ({CONTAINERS} containers; index also holds the rest of the host); median of {RUNS}",
            thousands(CONTAINERS * lines)
        ),
        &[
            "question (lines found)",
            "docker logs | grep",
            "wakeline API",
            "speed-up",
        ],
        &[
            row(
                format!("count lines with term {term} (q=…&limit=0)"),
                &grep_count,
                &wakeline_count,
            ),
            row(
                format!("every line of request {request_id} (/api/requests/…)"),
                &grep_request,
                &wakeline_request,
            ),
        ],
    );
    SearchFigures {
        count: (grep_count.secs, wakeline_count.secs),
        request: (grep_request.secs, wakeline_request.secs),
    }
}

//! `wakeline-bench`: how the real collector compares with what people use today.
//!
//! `cargo run --release -p wakeline-bench -- <ingest|search|live|pipeline|all> [--quick]
//! [--readers N] [--stalled N] [--rate N] [--collector PATH]` (live clients, 15
//! and 5 by default, and the writers' lines per second in all, 10,000 by
//! default; `--collector` runs a given `wakeline` binary, e.g. an older build to
//! compare with, instead of building this checkout's)
//!
//! `… -- pipeline [--lines N]`: the collector's stages from the parser to the
//! committed index in this process, no Docker (1,000,000 lines unless told; also
//! the first part of `all`); `… -- smoke`: that on 20,000 lines, a few seconds,
//! which `.ci/run` runs so the benchmarks keep building and running.
//!
//! Every run ends with issue 19's table as Markdown: each measure's figure beside
//! its baseline from the same run and its goal.
//!
//! `… -- search10m [--lines N]`: 10,000,000 lines indexed in process, then the
//! release binary asked through HTTP, beside an index of a tenth of them and
//! `grep`; `… -- many [--containers N]`: the collector at rest following 500
//! idle containers, beside itself with none; `… -- middleware`: the
//! middleware crate's overhead benchmark, read into the table. All three are
//! part of `all`.
//!
//! `… -- ui [--rate N] [--seconds N]`: the browser UI's live page in headless
//! Chromium (5,000 lines/s for 60 s unless told; not part of `all`, since it needs
//! `chromium` and `chromedriver`).
//!
//! Each benchmark runs the release `wakeline` binary against real containers and,
//! in the same invocation and on the same machine, a baseline: `docker logs` to
//! /dev/null for ingest, `docker logs | grep` for search, and the same live run with
//! no WebSocket clients for the live feed. The machine is small and shared, so an
//! absolute time says little; the printed ratio is the result. Nothing here passes
//! or fails on a time: a run fails only when the collector returns wrong counts.
//!
//! The end-to-end harness (`wakeline-e2e`) is reused for images, containers, the
//! collector process and the WebSocket client, so the benchmarks drive the binary
//! exactly as the tests do.

mod clients;
mod common;
mod filetail;
mod http1;
mod ingest;
mod live;
mod loglines;
mod many;
mod middleware;
mod pipeline;
mod search;
mod search10m;
mod stalls;
mod summary;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use common::thousands;
use summary::{Summary, goal, mib};

/// The collector's allocator: the pipeline benchmark runs its stages in this
/// process, and its memory figures should be the collector's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Which benchmarks to run, from the command line.
#[derive(Debug, Clone)]
struct Plan {
    ingest: bool,
    search: bool,
    live: bool,
    ui: bool,
    /// Lines fed to the in-process pipeline benchmark (0: not run).
    pipeline_lines: u64,
    /// Lines of the large index of `search10m` (0: not run).
    search10m_lines: u64,
    /// Containers `many` starts (0: not run).
    many_containers: usize,
    /// Run the middleware crate's overhead benchmark.
    middleware: bool,
    /// Live runs back to back (`--runs`).
    live_runs: usize,
    /// Keep `search10m`'s data dirs (`--keep`), to profile on them.
    keep: bool,
    /// The ui run's load (its own defaults: `--rate` and `--seconds` when given).
    ui_load: ui::Options,
    /// Sizes divided by ten: a smoke run of the benchmark itself, not a measurement.
    quick: bool,
    /// The live run's load: clients that read, clients that connect and never
    /// read until the end, and the writers' rate.
    load: live::Load,
    /// A prebuilt collector to measure instead of this checkout's.
    collector: Option<PathBuf>,
}

const USAGE: &str = "usage: wakeline-bench \
     <ingest|search|live|pipeline|search10m|many|middleware|smoke|ui|all> [--quick] \
     [--readers N] [--stalled N] [--rate LINES_PER_SEC] [--seconds N] [--lines N] \
     [--containers N] [--runs N] [--keep] [--collector PATH]";

/// Lines the pipeline benchmark feeds unless told (`--lines`).
const PIPELINE_LINES: u64 = 1_000_000;
/// Lines of `smoke`: the pipeline benchmark and the summary in a few seconds,
/// with no Docker (`.ci/run` runs it so the benchmarks keep building and running).
const SMOKE_LINES: u64 = 20_000;

fn plan(args: &[String]) -> Result<Plan, String> {
    let mut which = None;
    let mut quick = false;
    let mut load = live::Load::default();
    let mut collector = None;
    let mut ui_load = ui::Options::default();
    let mut lines = None;
    let mut containers = many::CONTAINERS;
    let mut live_runs = 1;
    let mut keep = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--keep" => keep = true,
            "--readers" | "--stalled" | "--rate" => {
                let value = args.next().and_then(|v| v.parse::<usize>().ok());
                let n = value.ok_or_else(|| format!("expected a number after {arg}"))?;
                match arg.as_str() {
                    "--readers" => load.readers = n,
                    "--stalled" => load.stalled = n,
                    _ if n < 4 => return Err("--rate is at least 4 (one line/s per writer)".into()),
                    _ => {
                        load.rate = n as u64;
                        ui_load.rate = n as u64;
                    }
                }
            }
            "--seconds" => {
                let value = args.next().and_then(|v| v.parse::<u64>().ok());
                ui_load.seconds = value
                    .filter(|&n| n > 0)
                    .ok_or("expected a number of seconds after --seconds")?;
            }
            "--lines" => {
                let value = args.next().and_then(|v| v.parse::<u64>().ok());
                lines = Some(
                    value
                        .filter(|&n| n > 0)
                        .ok_or("expected a number of lines after --lines")?,
                );
            }
            "--runs" => {
                let value = args.next().and_then(|v| v.parse::<usize>().ok());
                live_runs = value
                    .filter(|&n| (1..=10).contains(&n))
                    .ok_or("expected 1 to 10 after --runs")?;
            }
            "--containers" => {
                let value = args.next().and_then(|v| v.parse::<usize>().ok());
                containers = value
                    .filter(|&n| n > 0)
                    .ok_or("expected a number of containers after --containers")?;
            }
            "--collector" => {
                let path = args.next().ok_or("expected a path after --collector")?;
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(format!("no collector binary at {}", path.display()));
                }
                collector = Some(path);
            }
            "ingest" | "search" | "live" | "pipeline" | "search10m" | "many" | "middleware"
            | "smoke" | "ui" | "all"
                if which.is_none() =>
            {
                which = Some(arg.clone())
            }
            other => {
                return Err(format!(
                    "expected a benchmark name or --quick, found {other:?}"
                ));
            }
        }
    }
    let which = which.ok_or_else(|| "expected a benchmark name".to_string())?;
    Ok(Plan {
        // Search runs on the index the ingest benchmark builds.
        ingest: matches!(which.as_str(), "ingest" | "search" | "all"),
        search: matches!(which.as_str(), "search" | "all"),
        live: matches!(which.as_str(), "live" | "all"),
        ui: which == "ui",
        pipeline_lines: match which.as_str() {
            "pipeline" => lines.unwrap_or(PIPELINE_LINES),
            "all" => PIPELINE_LINES,
            "smoke" => SMOKE_LINES,
            _ => 0,
        },
        search10m_lines: match which.as_str() {
            "search10m" => lines.unwrap_or(search10m::LINES),
            "all" => search10m::LINES,
            // A quarter: the debug build `.ci/run` runs indexes ~7,000 lines/s.
            "smoke" => SMOKE_LINES / 4,
            _ => 0,
        },
        many_containers: match which.as_str() {
            "many" | "all" => containers,
            _ => 0,
        },
        middleware: matches!(which.as_str(), "middleware" | "all"),
        live_runs,
        keep,
        ui_load,
        quick,
        load,
        collector,
    })
}

/// What sizes are divided by: ten for `--quick`.
fn scale(plan: &Plan) -> u64 {
    if plan.quick { 10 } else { 1 }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = match plan(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("wakeline-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut summary = Summary::default();
    let in_process_only = !(plan.ingest || plan.live || plan.ui || plan.many_containers > 0);
    if in_process_only && plan.middleware && plan.pipeline_lines == 0 {
        common::print_header(None, plan.quick);
        add_middleware(&mut summary, &middleware::run(plan.quick));
        print_summary(&summary);
        return ExitCode::SUCCESS;
    }
    if plan.pipeline_lines > 0 && in_process_only {
        // smoke: no Docker, no collector binary.
        common::print_header(None, plan.quick);
        let run = pipeline::run(plan.pipeline_lines / scale(&plan), true);
        add_pipeline(&mut summary, &run);
        if plan.search10m_lines > 0 {
            search10m::smoke(plan.search10m_lines);
        }
        print_summary(&summary);
        return ExitCode::SUCCESS;
    }
    let binary = match &plan.collector {
        Some(path) => path.clone(),
        None => common::build_release_collector(),
    };
    common::print_header(Some(&binary), plan.quick);
    // In process and first, so that its peak memory is its own.
    if plan.pipeline_lines > 0 {
        let run = pipeline::run(plan.pipeline_lines / scale(&plan), true);
        add_pipeline(&mut summary, &run);
    }
    // Built (and imported) before anything is timed.
    if plan.ingest || plan.live || plan.ui || plan.many_containers > 0 {
        let image = wakeline_e2e::emit_image();
        println!("emit image: {image}\n");
    }

    if plan.ingest {
        let run = ingest::run(&binary, scale(&plan));
        add_ingest(&mut summary, &run.figures);
        if plan.search {
            let figures = search::run(&run);
            add_search(&mut summary, &run.figures, &figures);
        }
        run.report_stderr();
    }
    if plan.live {
        for run in 1..=plan.live_runs {
            if plan.live_runs > 1 {
                println!("\nlive run {run} of {}", plan.live_runs);
            }
            let figures = live::run(&binary, scale(&plan), plan.load);
            let label = (plan.live_runs > 1).then(|| format!("run {run} of {}: ", plan.live_runs));
            add_live(
                &mut summary,
                &figures,
                plan.load.rate,
                label.as_deref().unwrap_or(""),
            );
        }
    }
    if plan.search10m_lines > 0 {
        let figures = search10m::run(&binary, plan.search10m_lines / scale(&plan), plan.keep);
        add_search10m(&mut summary, &figures);
    }
    if plan.many_containers > 0 {
        let figures = many::run(
            &binary,
            plan.many_containers / scale(&plan) as usize,
            many::REST_SECS / scale(&plan),
        );
        add_many(&mut summary, &figures);
    }
    if plan.middleware {
        add_middleware(&mut summary, &middleware::run(plan.quick));
    }
    if plan.ui {
        let mut load = plan.ui_load;
        if plan.quick {
            load.seconds = (load.seconds / 10).max(1);
        }
        ui::run(&binary, load);
    }
    print_summary(&summary);
    ExitCode::SUCCESS
}

fn print_summary(summary: &Summary) {
    if summary.is_empty() {
        return;
    }
    let load = common::load_average().map_or("-".into(), |l| format!("{l:.1}"));
    println!(
        "\nsummary: issue 19's measures, this run beside its baselines (load average now {load})\n"
    );
    print!("{}", summary.to_markdown());
}

fn add_pipeline(summary: &mut Summary, run: &pipeline::PipelineRun) {
    let lines = thousands(run.lines);
    summary.add(
        format!("index size (pipeline, {lines} lines)"),
        format!("{:.3} bytes per log byte", run.index_ratio()),
        format!(
            "log text: {:.1} bytes/line",
            run.text_bytes as f64 / run.lines.max(1) as f64
        ),
        goal::INDEX,
    );
    summary.add(
        format!("collector stages' CPU (pipeline, {lines} lines, in process)"),
        format!("{:.2} CPU-µs per line", run.cpu_us_per_line()),
        format!("{:.1} s wall", run.wall_secs),
        goal::INGEST_CPU,
    );
    summary.add(
        format!("peak RSS (pipeline, {lines} lines)"),
        mib(run.peak_kib),
        format!("{} before the first line", mib(run.rss_before_kib)),
        goal::PEAK,
    );
}

/// ", load 4.2": the host's 1-minute load average now, for a row's figure.
fn load_note() -> String {
    common::load_average().map_or(String::new(), |l| format!(", load {l:.1}"))
}

fn add_ingest(summary: &mut Summary, f: &ingest::IngestFigures) {
    let lines = thousands(f.lines);
    let load = load_note();
    let rate = |secs: f64| thousands((f.lines as f64 / secs) as u64);
    summary.add(
        format!("bulk ingest, {lines} lines, 4 containers: start → all searchable"),
        format!(
            "{} lines/s = {:.2}×{load}",
            rate(f.wakeline_secs),
            f.baseline_secs / f.wakeline_secs
        ),
        format!(
            "`docker logs -t` to /dev/null: {} lines/s",
            rate(f.baseline_secs)
        ),
        goal::INGEST,
    );
    summary.add(
        format!("ingest CPU ({lines} lines)"),
        format!(
            "{:.1} CPU-µs per line",
            f.cpu_collector * 1e6 / f.lines as f64
        ),
        format!("dockerd meanwhile: {:.1} CPU-s", f.cpu_dockerd),
        goal::INGEST_CPU,
    );
    let or_dash = |kib: Option<u64>| kib.map_or("-".into(), mib);
    summary.add(
        "idle RSS (restarted on a caught-up data dir, 5 s after start)",
        or_dash(f.idle_kib),
        "-",
        goal::IDLE,
    );
    summary.add(
        format!("peak RSS during the {lines}-line ingest"),
        or_dash(f.peak_kib),
        format!("idle: {}", or_dash(f.idle_kib)),
        goal::PEAK,
    );
    summary.add(
        "RSS 15 s after the ingest",
        or_dash(f.after_kib),
        format!("idle: {}", or_dash(f.idle_kib)),
        goal::AFTER,
    );
    summary.add(
        "index size (ingest, real pipeline)",
        format!(
            "{:.3} bytes per log byte",
            f.index_bytes_per_line / f.text_bytes_per_line
        ),
        format!("log text: {:.1} bytes/line", f.text_bytes_per_line),
        goal::INDEX,
    );
}

fn add_search(summary: &mut Summary, ingest: &ingest::IngestFigures, f: &search::SearchFigures) {
    let lines = thousands(ingest.lines);
    let ms = |secs: f64| format!("{:.1} ms", secs * 1e3);
    summary.add(
        format!("`/api/requests/{{id}}` on {lines} lines, median of 7"),
        ms(f.request.1),
        format!("`docker logs | grep`: {}", ms(f.request.0)),
        goal::SEARCH_REQUEST,
    );
    summary.add(
        format!("count a term in {lines} lines, median of 7"),
        ms(f.count.1),
        format!("`docker logs | grep -c`: {}", ms(f.count.0)),
        goal::SEARCH_TERM,
    );
}

fn add_search10m(summary: &mut Summary, f: &search10m::Search10mFigures) {
    let (big, small) = (thousands(f.lines), thousands(f.small_lines));
    let load = f.load.map_or(String::new(), |l| format!(", load {l:.1}"));
    let grep = |name: &str| {
        f.grep(name).map_or(String::new(), |(ms, _)| {
            format!("; `grep -F -c` of the text: {ms:.0} ms")
        })
    };
    let row = |summary: &mut Summary, name: &str, measure: String, goal: &'static str| {
        let Some((_, a, b)) = f.answer(name) else {
            return;
        };
        summary.add(
            measure,
            format!("p50 {:.2} ms, p99 {:.2} ms{load}", a.p(50.0), a.p(99.0)),
            format!(
                "{small} lines: p50 {:.2} ms, p99 {:.2} ms{}",
                b.p(50.0),
                b.p(99.0),
                grep(name)
            ),
            goal,
        );
    };
    row(
        summary,
        "request",
        format!("`/api/requests/{{id}}` at {big} lines, through HTTP"),
        goal::SEARCH_REQUEST,
    );
    row(
        summary,
        "rare term",
        format!("a term (`q=timeout`, 1 line in 300) at {big} lines"),
        goal::SEARCH_TERM,
    );
    row(
        summary,
        "frequent term",
        format!("a frequent term (`q=finished`, 1 line in 4) at {big} lines"),
        goal::SEARCH_TERM,
    );
    row(
        summary,
        "phrase",
        format!("a phrase (`q=\"connection reset by peer\"`) at {big} lines"),
        goal::SEARCH_TERM,
    );
    row(
        summary,
        "1 h range",
        format!("a 1 h time range (of 24 h) at {big} lines"),
        goal::SEARCH_TERM,
    );
    row(
        summary,
        "histogram, everything",
        format!("`/api/histogram` over everything (120 buckets) at {big} lines"),
        goal::HISTOGRAM,
    );
    summary.add(
        format!("one retention pass at {big} lines (in process)"),
        format!(
            "{:.1} ms, of which the oldest record's top-1 sort {:.1} ms",
            f.retention.0.pass_ms, f.retention.0.oldest_ms
        ),
        format!(
            "{small} lines: {:.1} ms ({:.1} ms)",
            f.retention.1.pass_ms, f.retention.1.oldest_ms
        ),
        goal::REPORT_ONLY,
    );
}

fn add_many(summary: &mut Summary, f: &many::ManyFigures) {
    let load = |r: &many::Rest| r.load.map_or(String::new(), |l| format!(", load {l:.1}"));
    summary.add(
        format!(
            "RSS at rest following {} mostly idle containers",
            f.containers
        ),
        format!(
            "{}{} (peak while they started: {})",
            mib(f.many.max_rss_kib),
            load(&f.many),
            mib(f.peak_kib)
        ),
        format!("no extra containers: {}", mib(f.idle.max_rss_kib)),
        goal::MANY_RSS,
    );
    summary.add(
        format!(
            "CPU at rest following {} containers, over {:.0} s",
            f.containers, f.many.secs
        ),
        format!("{:.2}% of a core{}", f.many.cpu_pct(), load(&f.many)),
        format!(
            "no extra containers: {:.2}%{}",
            f.idle.cpu_pct(),
            load(&f.idle)
        ),
        goal::MANY_CPU,
    );
}

fn add_middleware(summary: &mut Summary, f: &middleware::MiddlewareFigures) {
    let (Some(bare), Some(on)) = (f.variant(middleware::BARE), f.variant(middleware::LINES_ON))
    else {
        summary.add(
            "middleware, request lines on, over bare axum",
            "- (no side-by-side lines read)",
            "-",
            goal::MIDDLEWARE,
        );
        return;
    };
    summary.add(
        "middleware with its JSON request lines on, per request, over bare axum",
        format!(
            "+{:.3} µs (best round; median round +{:.3} µs)",
            on.best_us - bare.best_us,
            on.median_us - bare.median_us
        ),
        format!(
            "bare axum: {:.3} µs best, {:.3} µs median",
            bare.best_us, bare.median_us
        ),
        goal::MIDDLEWARE,
    );
}

fn add_live(summary: &mut Summary, f: &live::LiveFigures, rate: u64, label: &str) {
    let ms = |ns: Option<i64>| ns.map_or("-".into(), |ns| format!("{:.1} ms", ns as f64 / 1e6));
    let steal = f.steal_pct.map_or("-".into(), |s| format!("{s:.1}%"));
    let load = |l: Option<f64>| l.map_or("-".into(), |l| format!("{l:.1}"));
    summary.add(
        format!(
            "{label}live, {} lines/s, 15 + 5 stalled clients: write → frame",
            thousands(rate)
        ),
        format!(
            "p99 {} (p50 {}), steal {steal}, load {} → {}",
            ms(f.p99_ns),
            ms(f.p50_ns),
            load(f.load.0),
            load(f.load.1)
        ),
        format!(
            "collector's read delay p99 ≤ {} s with clients, ≤ {} s without",
            f.read_delay_p99.0.as_deref().unwrap_or("-"),
            f.read_delay_p99.1.as_deref().unwrap_or("-")
        ),
        goal::LIVE,
    );
    let p99 = |v: Option<(i64, i64)>| ms(v.map(|v| v.1));
    summary.add(
        format!("{label}live: where the p99 accrues (Docker ts → …)"),
        format!(
            "in the log file {} → published to the hub {} → frame received {}",
            p99(f.stages.in_file),
            p99(f.stages.published),
            p99(f.stages.frame)
        ),
        format!(
            "p50: {} → {} → {}",
            ms(f.stages.in_file.map(|v| v.0)),
            ms(f.stages.published.map(|v| v.0)),
            ms(f.stages.frame.map(|v| v.0))
        ),
        goal::REPORT_ONLY,
    );
    let (collector, dockerd) = f.cpu_no_clients;
    summary.add(
        format!(
            "{label}steady {} lines/s, no clients: collector CPU",
            thousands(rate)
        ),
        format!(
            "{:.1} CPU-µs per line ({collector:.1} CPU-s)",
            collector * 1e6 / f.lines.max(1) as f64
        ),
        format!("dockerd writing them: {dockerd:.1} CPU-s"),
        goal::STEADY_CPU,
    );
    let or_dash = |kib: Option<u64>| kib.map_or("-".into(), mib);
    summary.add(
        format!("{label}peak RSS during the live run with clients"),
        or_dash(f.peak_kib.1),
        format!("without clients: {}", or_dash(f.peak_kib.0)),
        goal::PEAK,
    );
}

#[cfg(test)]
mod tests {
    use super::plan;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn search_also_runs_ingest_and_all_runs_everything() {
        let p = plan(&args(&["search"])).expect("valid");
        assert!(p.ingest && p.search && !p.live && !p.quick);
        let p = plan(&args(&["all", "--quick"])).expect("valid");
        assert!(p.ingest && p.search && p.live && p.quick);
        assert_eq!(
            (p.load.readers, p.load.stalled, p.load.rate),
            (15, 5, 10_000)
        );
        let p = plan(&args(&[
            "live",
            "--readers",
            "1",
            "--stalled",
            "0",
            "--rate",
            "4000",
        ]))
        .expect("valid");
        assert_eq!((p.load.readers, p.load.stalled, p.load.rate), (1, 0, 4000));
        assert!(plan(&args(&["live", "--readers"])).is_err());
        assert!(plan(&args(&["live", "--rate", "2"])).is_err());
        let p = plan(&args(&["live"])).expect("valid");
        assert!(!p.ingest && !p.search && p.live && !p.ui);
        let p = plan(&args(&["ui", "--rate", "2000", "--seconds", "30"])).expect("valid");
        assert!(p.ui && !p.ingest && !p.live);
        assert_eq!((p.ui_load.rate, p.ui_load.seconds), (2000, 30));
        let p = plan(&args(&["smoke"])).expect("valid");
        assert!(!p.ingest && !p.live && !p.ui && p.pipeline_lines > 0);
        let p = plan(&args(&["pipeline", "--lines", "5000"])).expect("valid");
        assert_eq!(p.pipeline_lines, 5000);
        assert!(plan(&args(&["pipeline", "--lines", "0"])).is_err());
        let p = plan(&args(&["live"])).expect("valid");
        assert_eq!(p.pipeline_lines, 0);
        let p = plan(&args(&["ui"])).expect("valid");
        assert_eq!((p.ui_load.rate, p.ui_load.seconds), (5000, 60));
        let p = plan(&args(&["search10m", "--lines", "50000"])).expect("valid");
        assert_eq!((p.search10m_lines, p.pipeline_lines), (50_000, 0));
        assert!(!p.ingest && !p.middleware && p.many_containers == 0);
        let p = plan(&args(&["many", "--containers", "20"])).expect("valid");
        assert_eq!(p.many_containers, 20);
        let p = plan(&args(&["all"])).expect("valid");
        assert!(p.middleware && p.many_containers == 500);
        assert_eq!(p.search10m_lines, 10_000_000);
        let p = plan(&args(&["smoke"])).expect("valid");
        assert!(p.search10m_lines > 0 && !p.middleware && p.many_containers == 0);
        assert!(plan(&args(&["ui", "--seconds", "0"])).is_err());
    }

    #[test]
    fn unknown_or_missing_names_are_refused() {
        assert!(plan(&args(&[])).is_err());
        assert!(plan(&args(&["fast"])).is_err());
        assert!(plan(&args(&["live", "--collector", "/nonexistent/wakeline"])).is_err());
        let p = plan(&args(&["live", "--collector", "/bin/sh"])).expect("valid");
        assert_eq!(
            p.collector.as_deref(),
            Some(std::path::Path::new("/bin/sh"))
        );
        assert!(plan(&args(&["ingest", "live"])).is_err());
    }
}

//! `wakeline-bench`: how the real collector compares with what people use today.
//!
//! `cargo run --release -p wakeline-bench -- <ingest|search|live|all> [--quick]
//! [--readers N] [--stalled N] [--rate N] [--collector PATH]` (live clients, 15
//! and 5 by default, and the writers' lines per second in all, 10,000 by
//! default; `--collector` runs a given `wakeline` binary, e.g. an older build to
//! compare with, instead of building this checkout's)
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
mod ingest;
mod live;
mod pipeline;
mod search;
mod stalls;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

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

const USAGE: &str = "usage: wakeline-bench <ingest|search|live|pipeline|ui|all> [--quick] \
     [--readers N] [--stalled N] [--rate LINES_PER_SEC] [--seconds N] [--lines N] \
     [--collector PATH]";

/// Lines the pipeline benchmark feeds unless told (`--lines`).
const PIPELINE_LINES: u64 = 1_000_000;

fn plan(args: &[String]) -> Result<Plan, String> {
    let mut which = None;
    let mut quick = false;
    let mut load = live::Load::default();
    let mut collector = None;
    let mut ui_load = ui::Options::default();
    let mut pipeline_lines = PIPELINE_LINES;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
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
                pipeline_lines = value
                    .filter(|&n| n > 0)
                    .ok_or("expected a number of lines after --lines")?;
            }
            "--collector" => {
                let path = args.next().ok_or("expected a path after --collector")?;
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(format!("no collector binary at {}", path.display()));
                }
                collector = Some(path);
            }
            "ingest" | "search" | "live" | "pipeline" | "ui" | "all" if which.is_none() => {
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
        pipeline_lines: if matches!(which.as_str(), "pipeline" | "all") {
            pipeline_lines
        } else {
            0
        },
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
    if plan.pipeline_lines > 0 && !(plan.ingest || plan.live || plan.ui) {
        common::print_header(None, plan.quick);
        pipeline::run(plan.pipeline_lines / scale(&plan), true);
        return ExitCode::SUCCESS;
    }
    let binary = match &plan.collector {
        Some(path) => path.clone(),
        None => common::build_release_collector(),
    };
    common::print_header(Some(&binary), plan.quick);
    // In process and first, so that its peak memory is its own.
    if plan.pipeline_lines > 0 {
        pipeline::run(plan.pipeline_lines / scale(&plan), true);
    }
    // Built (and imported) before anything is timed.
    let image = wakeline_e2e::emit_image();
    println!("emit image: {image}\n");

    if plan.ingest {
        let scale = if plan.quick { 10 } else { 1 };
        let run = ingest::run(&binary, scale);
        if plan.search {
            search::run(&run);
        }
        run.report_stderr();
    }
    if plan.live {
        let scale = if plan.quick { 10 } else { 1 };
        live::run(&binary, scale, plan.load);
    }
    if plan.ui {
        let mut load = plan.ui_load;
        if plan.quick {
            load.seconds = (load.seconds / 10).max(1);
        }
        ui::run(&binary, load);
    }
    ExitCode::SUCCESS
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
        let p = plan(&args(&["ui"])).expect("valid");
        assert_eq!((p.ui_load.rate, p.ui_load.seconds), (5000, 60));
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

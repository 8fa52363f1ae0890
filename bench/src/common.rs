//! What every benchmark shares: the release collector, its process and data dir,
//! the run's containers, statistics and the printed tables.
//!
//! Each benchmark compares wakeline with a baseline measured in the same run on the
//! same (small, shared, noisy) machine, so the ratio is the result; these helpers
//! keep both sides measured the same way and the output in one table shape.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wakeline_e2e::{Collector, Container, ContainerSpec, docker, poll, workspace_root};

/// The collector's commit interval in every benchmark (its default).
pub const COMMIT_INTERVAL: &str = "1s";

/// `cargo build --release -p wakeline`, then `target/release/wakeline`.
pub fn build_release_collector() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "wakeline", "--bin", "wakeline"])
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build for the release collector");
    assert!(
        status.success(),
        "cargo build --release -p wakeline failed: {status}"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let binary = target.join("release").join("wakeline");
    assert!(
        binary.is_file(),
        "no release binary at {}",
        binary.display()
    );
    binary
}

/// What a reader of the figures needs to know about where they come from.
pub fn print_header(binary: Option<&Path>, quick: bool) {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(workspace_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("wakeline-bench  {date}  commit {commit}  {cores} cores");
    if let Some(binary) = binary {
        println!("collector: {}", binary.display());
    }
    if quick {
        println!("--quick: sizes divided by ten; a smoke run, not a measurement");
    }
}

/// A lowercase alphanumeric tag unique to this process and benchmark: the compose
/// project label of its containers and a search term found only in its lines.
pub fn run_tag(bench: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 100_000);
    format!("wlb{bench}{}x{secs}", std::process::id())
}

pub fn fresh_data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wakeline-bench-data-")
        .tempdir()
        .expect("create a data dir for the collector")
}

/// The release collector on `data_dir`, committing at the default interval.
pub fn start_collector(binary: &Path, data_dir: &Path) -> Collector {
    Collector::start_binary(binary, data_dir, &["--commit-interval", COMMIT_INTERVAL])
}

/// `total` of `GET /api/search?limit=0&<query>`, or `None` on any failure.
pub fn count(collector: &Collector, query: &str) -> Option<u64> {
    let mut path = String::from("/api/search?limit=0");
    if !query.is_empty() {
        path.push('&');
        path.push_str(query);
    }
    let response = collector.request(&path, None);
    if response.status != 200 {
        return None;
    }
    response.json["total"].as_u64()
}

/// Waits (at most 60 s) until the collector has stopped reading: a fresh
/// data dir starts the host's other containers from the beginning of their
/// logs, which is no time to measure anything. Done when
/// `wakeline_lines_ingested_total` holds still for 2 s.
pub fn wait_caught_up(collector: &Collector) {
    let mut last = -1.0;
    let mut still = 0;
    let settled = poll(Duration::from_secs(60), || {
        std::thread::sleep(Duration::from_millis(500));
        let text = collector.request("/metrics", None).body;
        let now: f64 = wakeline_e2e::metric(&text, "wakeline_lines_ingested_total").unwrap_or(0.0);
        still = if now == last { still + 1 } else { 0 };
        last = now;
        (still >= 4).then_some(())
    });
    if settled.is_none() {
        println!("  (the collector was still reading after 60 s)");
    }
}

/// Starts one container per spec (`docker run -d`, one after the other).
pub fn run_containers(specs: Vec<ContainerSpec>) -> Vec<Container> {
    specs.iter().map(ContainerSpec::run).collect()
}

/// Whether every container has exited, or why docker cannot say (a container
/// removed under us: `tests/run.sh` removes every `wakeline-test=1` container
/// when it starts or ends, also while a benchmark runs).
pub fn all_exited(containers: &[Container]) -> Result<bool, String> {
    let mut args = vec!["inspect", "--format", "{{.State.Running}}"];
    args.extend(containers.iter().map(|c| c.id.as_str()));
    let output = Command::new("docker")
        .args(&args)
        .output()
        .map_err(|e| format!("cannot run docker inspect: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "docker inspect failed: {} (a benchmark container was removed; \
             tests/run.sh sweeps wakeline-test=1 containers; run the benchmark again)",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .all(|line| line.trim() == "false"))
}

/// One `docker wait` for all of `containers`, on a thread: it ends with the
/// moment the last one exited. Costs one process, where polling `docker
/// inspect` costs one per poll (4% of a 2-core host at 2 polls a second).
pub fn watch_exits(containers: &[Container]) -> JoinHandle<Result<Instant, String>> {
    let ids: Vec<String> = containers.iter().map(|c| c.id.clone()).collect();
    std::thread::spawn(move || {
        let output = Command::new("docker")
            .arg("wait")
            .args(&ids)
            .output()
            .map_err(|e| format!("cannot run docker wait: {e}"))?;
        let exited = Instant::now();
        if !output.status.success() {
            return Err(format!(
                "docker wait failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(exited)
    })
}

/// Polls until every container has exited; panics past `within` or if one is gone.
pub fn wait_all_exited(containers: &[Container], within: Duration) {
    let outcome = poll(within, || match all_exited(containers) {
        Ok(false) => None,
        Ok(true) => Some(Ok(())),
        Err(e) => Some(Err(e)),
    });
    match outcome {
        None => panic!("containers still running after {within:?}"),
        Some(Err(e)) => panic!("{e}"),
        Some(Ok(())) => {}
    }
    for container in containers {
        let code = docker(&["inspect", "--format", "{{.State.ExitCode}}", &container.id]);
        assert_eq!(code, "0", "container {} exited with {code}", container.name);
    }
}

/// Peak and current resident memory of a process, in KiB, from `/proc/<pid>/status`.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// CPU seconds (user + system, all threads) a process has used, from
/// `/proc/<pid>/stat`; assumes the usual 100 clock ticks per second.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The Docker daemon's process ID, if this host runs one we can see.
pub fn dockerd_pid() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim() == "dockerd").then_some(pid)
        })
}

/// CPU seconds of the collector, this benchmark process and dockerd, read together.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSample {
    pub collector: f64,
    pub bench: f64,
    pub dockerd: f64,
}

impl CpuSample {
    pub fn take(collector: &Collector) -> CpuSample {
        let read = |pid: Option<u32>| pid.and_then(cpu_secs).unwrap_or(f64::NAN);
        CpuSample {
            collector: read(collector.pid()),
            bench: read(Some(std::process::id())),
            dockerd: read(dockerd_pid()),
        }
    }

    pub fn since(self, start: CpuSample) -> CpuSample {
        CpuSample {
            collector: self.collector - start.collector,
            bench: self.bench - start.bench,
            dockerd: self.dockerd - start.dockerd,
        }
    }
}

/// The host's CPU time from `/proc/stat` (all CPUs, in ticks): busy and stolen.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostCpu {
    total: u64,
    steal: u64,
}

impl HostCpu {
    pub fn take() -> Option<HostCpu> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        Some(HostCpu {
            // user nice system idle iowait irq softirq steal (guest is in user)
            total: ticks.iter().take(8).sum(),
            steal: *ticks.get(7)?,
        })
    }
}

pub trait StealSince {
    /// Percent of the host's CPU time stolen since `start`.
    fn steal_pct_since(self, start: Option<HostCpu>) -> Option<f64>;
}

impl StealSince for Option<HostCpu> {
    fn steal_pct_since(self, start: Option<HostCpu>) -> Option<f64> {
        let (end, start) = (self?, start?);
        let total = end.total.checked_sub(start.total).filter(|&t| t > 0)?;
        Some(end.steal.saturating_sub(start.steal) as f64 * 100.0 / total as f64)
    }
}

/// The load average over the last minute.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Bytes of every file under `dir`: what the collector's `--max-disk` counts.
pub use wakeline::index::retention::dir_bytes;

/// The WARN and ERROR lines of a collector's stderr: count and a few distinct samples.
pub fn print_stderr_summary(label: &str, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut samples: Vec<String> = Vec::new();
    let (mut warns, mut errors) = (0, 0);
    for line in text.lines() {
        let is_error = line.contains("ERROR");
        let is_warn = line.contains("WARN");
        errors += usize::from(is_error);
        warns += usize::from(is_warn);
        if (is_error || is_warn) && samples.len() < 4 {
            let sample: String = line.chars().take(240).collect();
            if !samples.contains(&sample) {
                samples.push(sample);
            }
        }
    }
    println!(
        "{label} stderr: {} lines, {errors} ERROR, {warns} WARN ({})",
        text.lines().count(),
        path.display()
    );
    for sample in samples {
        println!("    {sample}");
    }
}

/// Seconds with two decimals, through a stopwatch started at `start`.
pub fn secs_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The value at `p` (0–100) of a sorted slice, nearest rank.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints a table with left-aligned first column and right-aligned figures.
pub fn print_table(title: &str, header: &[&str], rows: &[Vec<String>]) {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("{cell:<w$}", w = widths[0]));
            } else {
                out.push_str(&format!("  {cell:>w$}", w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    println!("\n{title}");
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_and_formatting() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        let sorted: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50));
        assert_eq!(percentile(&sorted, 99.0), Some(99));
        assert_eq!(percentile(&sorted, 100.0), Some(100));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}

//! Live: how long a line takes from a container's write to a WebSocket frame on
//! `/api/live`, with slow clients attached, and what those clients cost ingest.
//!
//! The same run is done twice in one invocation, each on a fresh collector: first
//! with no clients (the baseline for the ingest rate), then with 15 reading and 5
//! stalled clients, all filtered to the run's containers. Writers hold a steady
//! rate (4 × 2,500 lines/s = the 10k lines/s, 20 s; the achieved rate is
//! printed) so that latency, not throughput, is measured.
//! The goal from the issue is p99 < 50 ms; the figures are printed as measured.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wakeline_e2e::{ContainerSpec, metric, poll};

use crate::clients::{ReaderReport, StalledReport, spawn_readers, spawn_stalled};
use crate::common::{
    CpuSample, count, fresh_data_dir, memory_kib, percentile, print_stderr_summary, print_table,
    run_containers, run_tag, secs_since, start_collector, thousands, wait_caught_up, watch_exits,
};
use crate::filetail;
use crate::stalls::{self, Stalls};

const WRITERS: u64 = 4;
/// Seconds the writers write for (divided by the `--quick` scale).
const WRITE_SECS: u64 = 20;

/// The load of a run: how many live clients read, how many stall, and how
/// many lines a second the writers write together (each on an absolute
/// schedule, emit's `rate` step); 15, 5 and 10,000 unless told.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub readers: usize,
    pub stalled: usize,
    pub rate: u64,
}

impl Default for Load {
    fn default() -> Load {
        Load {
            readers: 15,
            stalled: 5,
            rate: 10_000,
        }
    }
}

impl Load {
    /// Lines per second of one writer.
    fn per_writer(&self) -> u64 {
        (self.rate / WRITERS).max(1)
    }

    /// Lines each writer writes in a run.
    fn lines(&self, scale: u64) -> u64 {
        (self.per_writer() * WRITE_SECS / scale).max(1)
    }
}

/// Receive buffer asked for on stalled clients' sockets.
const STALLED_RCVBUF: u32 = 4096;
/// Longest a run may take from the first write until everything is searchable.
const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// What one run measured.
struct Outcome {
    expected: u64,
    /// From the first `docker run` until every writer has exited (`docker wait`).
    write_secs: f64,
    /// From the first `docker run` until the index counts every line.
    ingest_secs: f64,
    readers: Vec<ReaderReport>,
    stalled: Vec<StalledReport>,
    peak_rss_kib: Option<u64>,
    live_dropped: Option<f64>,
    /// p50 and p99 bucket bounds of `wakeline_read_delay_seconds`, in s.
    read_delay: Option<(String, String)>,
    /// p50 and p99 of `wakeline_read_delay_seconds`, interpolated in the
    /// buckets as Prometheus's `histogram_quantile` does, in ns.
    published: Option<(i64, i64)>,
    /// Docker `ts` → line readable in its log file (`filetail`), in ns, sorted.
    in_file_ns: Vec<i64>,
    /// CPU seconds from the first `docker run` until all is searchable.
    cpu: CpuSample,
    stalls: Stalls,
}

/// The buckets of `wakeline_read_delay_seconds` (Docker `ts` → published):
/// (upper bound in s, cumulative count), `+Inf` last.
fn delay_buckets(metrics: &str) -> Vec<(f64, f64)> {
    metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("wakeline_read_delay_seconds_bucket{le=\"")?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect()
}

/// The delays observed between two scrapes: `end`'s buckets less `start`'s.
/// A fresh collector first reads the host's other containers' logs from
/// their beginning (delays of hours); the run's own lines come after.
fn buckets_since(end: &[(f64, f64)], start: &[(f64, f64)]) -> Vec<(f64, f64)> {
    end.iter()
        .map(|&(le, n)| {
            let before = start.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1);
            (le, n - before)
        })
        .collect()
}

/// The `le` bounds within which half and 99% of the delays fell.
fn read_delay(buckets: &[(f64, f64)]) -> Option<(String, String)> {
    let total = buckets.last()?.1;
    let within = |q: f64| {
        buckets
            .iter()
            .find(|(_, cumulative)| *cumulative >= q * total)
            .map(|(le, _)| {
                if le.is_finite() {
                    le.to_string()
                } else {
                    "+Inf".to_string()
                }
            })
    };
    Some((within(0.5)?, within(0.99)?))
}

/// The `q` quantile (0–1) of the delays, interpolated linearly within its
/// bucket (as Prometheus's `histogram_quantile` does), in ns.
fn read_delay_quantile(buckets: &[(f64, f64)], q: f64) -> Option<i64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, cumulative) in buckets {
        if cumulative >= rank {
            // Past the last finite bound, the bound itself (as Prometheus).
            let upper = if le.is_finite() { le } else { lower };
            let share = (rank - below) / (cumulative - below).max(1.0);
            return Some(((lower + (upper - lower) * share) * 1e9) as i64);
        }
        (lower, below) = (le, cumulative);
    }
    None
}

fn one_run(binary: &Path, scale: u64, load: Load) -> Outcome {
    let with_clients = load.readers + load.stalled > 0;
    let tag = run_tag(if with_clients { "live" } else { "livebase" });
    let lines = load.lines(scale);
    let expected = WRITERS * lines;
    let per_writer = load.per_writer();
    let step = format!("rate:out:level=info msg=tick request_id={tag}-:1:{lines}:{per_writer}");
    let specs: Vec<ContainerSpec> = (0..WRITERS)
        .map(|i| {
            ContainerSpec::new("bench-live", &[step.as_str()])
                .project(&tag)
                .service(&format!("svc{i}"))
        })
        .collect();
    let names: Vec<&str> = specs.iter().map(ContainerSpec::name).collect();
    let filter = format!("container={}", names.join(","));

    let data_dir = fresh_data_dir();
    let collector = start_collector(binary, data_dir.path());
    // Not while it reads the host's other containers' logs from their start.
    wait_caught_up(&collector);
    let port = collector.port();
    let done = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let readers = spawn_readers(
        load.readers,
        port,
        filter.clone(),
        expected,
        done.clone(),
        ready_tx.clone(),
    );
    let (stalled, go): (Vec<_>, Vec<_>) = (0..load.stalled)
        .map(|_| {
            let (go_tx, go_rx) = mpsc::channel();
            let client = spawn_stalled(
                port,
                filter.clone(),
                STALLED_RCVBUF,
                ready_tx.clone(),
                go_rx,
            );
            (client, go_tx)
        })
        .unzip();
    drop(ready_tx);
    let connected = load.readers + stalled.len();
    for _ in 0..connected {
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("every live client connects within a minute");
    }
    // Connected is not yet subscribed: wait until the collector counts them all.
    let subscribed = poll(Duration::from_secs(30), || {
        let metrics = collector.request("/metrics", None).body;
        metric::<f64>(&metrics, "wakeline_live_clients").filter(|&n| n >= connected as f64)
    });
    assert!(
        subscribed.is_some(),
        "the collector never counted {connected} live clients"
    );

    let delays_start = delay_buckets(&collector.request("/metrics", None).body);
    let cpu_start = CpuSample::take(&collector);
    let started = Instant::now();
    let containers = run_containers(specs);
    let tail_stop = Arc::new(AtomicBool::new(false));
    let tail = filetail::spawn(
        containers.iter().map(|c| c.id.clone()).collect(),
        tail_stop.clone(),
    );
    let query = format!("q=project:{tag}");
    let exits = watch_exits(&containers);
    let mut last = 0;
    let stop_watching = AtomicBool::new(false);
    let (reached, stalls) = std::thread::scope(|scope| {
        let stop = &stop_watching;
        let collector = &collector;
        let watcher = scope.spawn(move || stalls::watch(collector, stop, RUN_DEADLINE));
        let reached = poll(RUN_DEADLINE, || {
            last = count(collector, &query).unwrap_or(last);
            (last >= expected).then_some(())
        });
        stop_watching.store(true, Ordering::Relaxed);
        (
            reached,
            watcher.join().expect("the /metrics watcher panicked"),
        )
    });
    let ingest_secs = secs_since(started);
    let write_secs = match exits.join().expect("the docker wait thread panicked") {
        Ok(exited) => exited.duration_since(started).as_secs_f64(),
        Err(e) => panic!("{e}"),
    };
    let cpu = CpuSample::take(&collector).since(cpu_start);
    tail_stop.store(true, Ordering::Relaxed);
    let mut in_file_ns = tail.join().expect("the log file reader panicked");
    in_file_ns.sort_unstable();
    assert!(
        reached.is_some(),
        "wakeline indexed {last} of {expected} lines within {RUN_DEADLINE:?}\n{}",
        collector.diagnostics()
    );
    done.store(true, Ordering::Relaxed);
    let readers: Vec<ReaderReport> = readers
        .into_iter()
        .map(|r| r.join().expect("a reader thread panicked"))
        .collect();
    for tx in &go {
        let _ = tx.send(());
    }
    let stalled: Vec<StalledReport> = stalled
        .into_iter()
        .map(|s| s.join().expect("a stalled client thread panicked"))
        .collect();
    let final_metrics = collector.request("/metrics", None).body;
    let delays = buckets_since(&delay_buckets(&final_metrics), &delays_start);
    let outcome = Outcome {
        expected,
        write_secs,
        ingest_secs,
        readers,
        stalled,
        peak_rss_kib: collector.pid().and_then(memory_kib).map(|(peak, _)| peak),
        live_dropped: metric(&final_metrics, "wakeline_live_dropped_total"),
        read_delay: read_delay(&delays),
        published: read_delay_quantile(&delays, 0.5).zip(read_delay_quantile(&delays, 0.99)),
        in_file_ns,
        cpu,
        stalls,
    };
    let label = if with_clients {
        "live (with clients) collector"
    } else {
        "live (no clients) collector"
    };
    print_stderr_summary(label, &collector.stderr_path());
    outcome
}

/// What the summary needs of a live run.
#[derive(Debug, Clone, Default)]
pub struct LiveFigures {
    pub lines: u64,
    /// Write → frame over every reading client.
    pub p50_ns: Option<i64>,
    pub p99_ns: Option<i64>,
    /// The collector's share (Docker ts → published), p99 bucket bound, with
    /// clients and without.
    pub read_delay_p99: (Option<String>, Option<String>),
    /// CPU seconds of the run without clients: collector, dockerd.
    pub cpu_no_clients: (f64, f64),
    /// Peak RSS without and with clients.
    pub peak_kib: (Option<u64>, Option<u64>),
    /// The host's CPU steal over the loaded run, in percent.
    pub steal_pct: Option<f64>,
    /// The host's load average (1 min) before and after the loaded run.
    pub load: (Option<f64>, Option<f64>),
    /// Where the loaded run's latency accrued: p50 and p99 in ns of Docker
    /// `ts` → in the log file, → published to the hub, → frame received.
    pub stages: Stages,
}

/// p50 and p99 (ns) of each point a line passes, from its Docker `ts`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stages {
    pub in_file: Option<(i64, i64)>,
    pub published: Option<(i64, i64)>,
    pub frame: Option<(i64, i64)>,
}

pub fn run(binary: &Path, scale: u64, load: Load) -> LiveFigures {
    let Load {
        readers,
        stalled,
        rate,
    } = load;
    println!(
        "\nlive: {WRITERS} writers × {} lines at {} lines/s each ({} lines/s in all); run once \
         with no clients, then with {readers} reading + {stalled} stalled clients",
        thousands(load.lines(scale)),
        thousands(load.per_writer()),
        thousands(rate),
    );
    let none = Load {
        readers: 0,
        stalled: 0,
        ..load
    };
    let baseline = one_run(binary, scale, none);
    let steal_start = crate::common::HostCpu::take();
    let load_start = crate::common::load_average();
    let loaded = one_run(binary, scale, load);
    let steal_pct =
        crate::common::StealSince::steal_pct_since(crate::common::HostCpu::take(), steal_start);
    let load_end = crate::common::load_average();
    let (p50_ns, p99_ns) = print_report(&baseline, &loaded, load);
    let stages = print_stages(&baseline, &loaded, (p50_ns, p99_ns));
    println!(
        "  host during the run with clients: CPU steal {}, load average {} before, {} after",
        steal_pct.map_or("-".into(), |s| format!("{s:.1}%")),
        load_start.map_or("-".into(), |l| format!("{l:.1}")),
        load_end.map_or("-".into(), |l| format!("{l:.1}")),
    );
    LiveFigures {
        lines: baseline.expected,
        p50_ns,
        p99_ns,
        read_delay_p99: (
            loaded.read_delay.as_ref().map(|d| d.1.clone()),
            baseline.read_delay.as_ref().map(|d| d.1.clone()),
        ),
        cpu_no_clients: (baseline.cpu.collector, baseline.cpu.dockerd),
        peak_kib: (baseline.peak_rss_kib, loaded.peak_rss_kib),
        steal_pct,
        load: (load_start, load_end),
        stages,
    }
}

/// Prints where the latency accrued, for both runs; returns the loaded run's.
fn print_stages(baseline: &Outcome, loaded: &Outcome, frame: (Option<i64>, Option<i64>)) -> Stages {
    let in_file =
        |o: &Outcome| percentile(&o.in_file_ns, 50.0).zip(percentile(&o.in_file_ns, 99.0));
    let stages = Stages {
        in_file: in_file(loaded),
        published: loaded.published,
        frame: frame.0.zip(frame.1),
    };
    let pair = |v: Option<(i64, i64)>| match v {
        Some((p50, p99)) => vec![ms(Some(p50)), ms(Some(p99))],
        None => vec!["-".into(), "-".into()],
    };
    let row = |name: &str, base: Option<(i64, i64)>, with: Option<(i64, i64)>| {
        let mut row = vec![name.to_string()];
        row.extend(pair(base));
        row.extend(pair(with));
        row
    };
    print_table(
        "where write → frame latency accrues: from the line's Docker ts to each point, ms \
         (percentiles of each point; a stage's share is the difference of two points)",
        &[
            "point reached",
            "no clients p50",
            "p99",
            "with clients p50",
            "p99",
        ],
        &[
            row(
                "in its json-file log (bench reads the files every 1 ms)",
                in_file(baseline),
                stages.in_file,
            ),
            row(
                "published to the hub (collector's read-delay histogram, interpolated)",
                baseline.published,
                stages.published,
            ),
            row("frame received by a reading client", None, stages.frame),
        ],
    );
    stages
}

fn ms(ns: Option<i64>) -> String {
    ns.map_or("-".into(), |ns| format!("{:.1}", ns as f64 / 1e6))
}

/// Prints the run's tables; returns p50 and p99 of write → frame.
fn print_report(baseline: &Outcome, loaded: &Outcome, load: Load) -> (Option<i64>, Option<i64>) {
    let Load {
        readers, stalled, ..
    } = load;
    let rate = |o: &Outcome| o.expected as f64 / o.ingest_secs;
    let row = |name: &str, o: &Outcome| {
        vec![
            name.to_string(),
            format!("{:.2}", o.write_secs),
            format!("{:.2}", o.ingest_secs),
            format!("{:.2}", o.ingest_secs - o.write_secs),
            thousands(rate(o) as u64),
            format!("{:.3}", rate(o) / rate(baseline)),
            o.peak_rss_kib
                .map_or("-".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
            format!("{:.1}", o.cpu.collector),
            format!("{:.1}", o.cpu.bench),
            format!("{:.1}", o.cpu.dockerd),
        ]
    };
    print_table(
        &format!(
            "live ingest: {} lines per run, commit 1s; seconds from the first docker run",
            thousands(baseline.expected)
        ),
        &[
            "run",
            "writers done s",
            "all searchable s",
            "after writers s",
            "lines/s",
            "vs no clients",
            "peak RSS MiB",
            "CPU s: collector",
            "bench clients",
            "dockerd",
        ],
        &[
            row("no clients (baseline)", baseline),
            row(
                &format!("{readers} reading + {stalled} stalled clients"),
                loaded,
            ),
        ],
    );
    for (name, o) in [("no clients", baseline), ("with clients", loaded)] {
        let st = o.stalls;
        println!(
            "  ingest stalls ({name}; /metrics every 100 ms, {} samples): {} pauses ≥ 300 ms in \
             wakeline_lines_ingested_total, longest {} ms; a commit finished \
             (wakeline_index_commits_total) during {} of them; largest backlog read but not \
             indexed {} lines",
            st.samples,
            st.count,
            st.longest.as_millis(),
            st.with_commit,
            thousands(st.peak_backlog)
        );
    }

    let mut all: Vec<i64> = loaded
        .readers
        .iter()
        .flat_map(|r| r.latencies_ns.iter().copied())
        .collect();
    all.sort_unstable();
    let received = all.len() as u64;
    let per_client_p99: Vec<i64> = loaded
        .readers
        .iter()
        .filter_map(|r| {
            let mut l = r.latencies_ns.clone();
            l.sort_unstable();
            percentile(&l, 99.0)
        })
        .collect();
    let sum = |f: fn(&ReaderReport) -> u64| loaded.readers.iter().map(f).sum::<u64>();
    print_table(
        &format!(
            "write→frame latency, arrival wall time − Docker ts, over {readers} reading clients (goal: p99 < 50 ms)"
        ),
        &[
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "min ms",
            "per-client p99 ms",
        ],
        &[vec![
            ms(percentile(&all, 50.0)),
            ms(percentile(&all, 90.0)),
            ms(percentile(&all, 99.0)),
            ms(percentile(&all, 99.9)),
            ms(all.last().copied()),
            ms(all.first().copied()),
            format!(
                "{}–{}",
                ms(per_client_p99.iter().min().copied()),
                ms(per_client_p99.iter().max().copied())
            ),
        ]],
    );
    println!(
        "  records received: {} of {} expected ({readers} × {}); gap notices {} ({} dropped); \
         out of order or repeated {}; malformed {}",
        thousands(received),
        thousands(loaded.expected * readers as u64),
        thousands(loaded.expected),
        sum(|r| r.gaps),
        thousands(sum(|r| r.dropped)),
        sum(|r| r.out_of_order),
        sum(|r| r.malformed),
    );
    for (i, error) in loaded
        .readers
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.error.as_ref()?)))
    {
        println!("  reader {i}: {error}");
    }

    let rows: Vec<Vec<String>> = loaded
        .stalled
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                format!("stalled {i}"),
                thousands(s.records),
                s.gaps.to_string(),
                thousands(s.dropped),
                thousands(s.records + s.dropped),
                format!("{:.2}", s.drain_secs),
                s.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let rcvbuf = loaded.stalled.first().map_or(0, |s| s.rcvbuf);
    print_table(
        &format!(
            "stalled clients (SO_RCVBUF asked {STALLED_RCVBUF}, got {rcvbuf}), reading only after the run; {} lines written",
            thousands(loaded.expected)
        ),
        &[
            "client",
            "records",
            "gap notices",
            "dropped (notices)",
            "records + dropped",
            "drain s",
            "error",
        ],
        &rows,
    );
    for (name, o) in [("no clients", baseline), ("with clients", loaded)] {
        if let Some((p50, p99)) = &o.read_delay {
            println!(
                "  collector read delay ({name}; Docker ts → published, /metrics histogram): \
                 p50 ≤ {p50} s, p99 ≤ {p99} s"
            );
        }
    }
    println!(
        "  /metrics wakeline_live_dropped_total at the end: {} (counts every record of the host a client skipped)",
        loaded
            .live_dropped
            .map_or("-".into(), |d| thousands(d as u64))
    );
    (percentile(&all, 50.0), percentile(&all, 99.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_delay_quantiles_interpolate_within_buckets() {
        let metrics = "wakeline_read_delay_seconds_bucket{le=\"0.001\"} 50\n\
            wakeline_read_delay_seconds_bucket{le=\"0.005\"} 90\n\
            wakeline_read_delay_seconds_bucket{le=\"0.01\"} 100\n\
            wakeline_read_delay_seconds_bucket{le=\"+Inf\"} 100\n";
        let buckets = delay_buckets(metrics);
        assert_eq!(read_delay_quantile(&buckets, 0.5), Some(1_000_000));
        // 70 of 100: half way from 50 to 90, so half way from 1 ms to 5 ms.
        assert_eq!(read_delay_quantile(&buckets, 0.7), Some(3_000_000));
        assert_eq!(read_delay_quantile(&buckets, 0.99), Some(9_500_000));
        assert_eq!(read_delay_quantile(&[], 0.5), None);
        assert_eq!(
            read_delay(&buckets),
            Some(("0.001".to_string(), "0.01".to_string()))
        );
        // Less what an earlier scrape had: 40, all in the first bucket.
        let earlier: String = ["0.001", "0.005", "0.01", "+Inf"]
            .iter()
            .map(|le| format!("wakeline_read_delay_seconds_bucket{{le=\"{le}\"}} 40\n"))
            .collect();
        let since = buckets_since(&buckets, &delay_buckets(&earlier));
        assert_eq!(
            since,
            [
                (0.001, 10.0),
                (0.005, 50.0),
                (0.01, 60.0),
                (f64::INFINITY, 60.0)
            ]
        );
    }
}

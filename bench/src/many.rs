//! Many containers: what following 500 mostly idle containers costs the
//! collector at rest, in memory and CPU.
//!
//! A host with a few hundred services keeps a follow task, an inotify watch,
//! a ledger entry and a container table entry per container, all day, for
//! containers that write a line now and then. Baseline, same run and same
//! collector: first it reads the host's other containers, is restarted on
//! that caught-up data dir (a fresh one is not idle: it reads their logs from
//! the start) and is measured at rest; then N containers of the `emit` image
//! are started (`--network none`, which is all they need), each writing one
//! line and then sleeping, and one in 50 also a line every 10 s (1 line/s in
//! all for 500); once the collector has every container's first line and
//! jemalloc's decay time has passed, it is measured at rest again.
//!
//! The ticking containers' lines are spread evenly over the 10 s (for 500,
//! one a second), each waiting before its first tick for its slot: left to
//! when `docker run` happened to start them, they fell anywhere from all in
//! the same second (500 started in 100 s put each one 10 s after the last:
//! one commit every 10 s) to one a second, and the CPU figure with them
//! (0.70 % of a core in a run whose starts took 100 s, 1.13 % in one whose
//! starts took 82 s).
//!
//! At rest means: resident memory (VmRSS, sampled every second; the largest
//! sample is reported) and CPU seconds over the window, as percent of one
//! core. Every container created is labelled `wakeline-test=1` and removed at
//! the end, also when the benchmark panics.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wakeline_e2e::{Collector, emit_image, poll};

use crate::common::{
    count, cpu_secs, fresh_data_dir, load_average, memory_kib, print_stderr_summary, run_tag,
    start_collector, thousands, wait_caught_up,
};

/// Containers unless told (`--containers`).
pub const CONTAINERS: usize = 500;
/// The window the collector is measured at rest over (divided for `--quick`).
pub const REST_SECS: u64 = 30;
/// One container in this many writes a line every 10 s.
const TICKING_EVERY: usize = 50;
/// `docker run`s at once.
const STARTERS: usize = 6;
/// After the last container's first line: jemalloc's decay time (10 s) and a bit.
const SETTLE: Duration = Duration::from_secs(15);
/// How often a ticking container writes a line.
const TICK: Duration = Duration::from_secs(10);

/// The collector at rest over a window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rest {
    pub max_rss_kib: u64,
    pub cpu_secs: f64,
    pub secs: f64,
    pub load: Option<f64>,
}

impl Rest {
    /// CPU as percent of one core.
    pub fn cpu_pct(&self) -> f64 {
        self.cpu_secs * 100.0 / self.secs.max(1e-9)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ManyFigures {
    pub containers: usize,
    pub idle: Rest,
    pub many: Rest,
    /// The collector's peak RSS while the containers started.
    pub peak_kib: u64,
}

/// Removes the containers it holds when dropped (`docker rm -f`, 50 at a time).
struct Created(Mutex<Vec<String>>);

impl Drop for Created {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        let started = Instant::now();
        for chunk in ids.chunks(50) {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(chunk)
                .stdout(std::process::Stdio::null())
                .status();
        }
        if !ids.is_empty() {
            println!(
                "  removed {} containers in {:.1} s",
                ids.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
}

fn rest(collector: &Collector, secs: u64) -> Rest {
    let pid = collector.pid().expect("the collector runs");
    let cpu_start = cpu_secs(pid).unwrap_or(f64::NAN);
    let started = Instant::now();
    let mut max_rss_kib = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        if let Some((_, rss)) = memory_kib(pid) {
            max_rss_kib = max_rss_kib.max(rss);
        }
    }
    Rest {
        max_rss_kib,
        cpu_secs: cpu_secs(pid).unwrap_or(f64::NAN) - cpu_start,
        secs: started.elapsed().as_secs_f64(),
        load: load_average(),
    }
}

/// Starts `n` containers labelled with `tag`, `STARTERS` at a time; their IDs
/// go into `created` as they come.
fn start_containers(n: usize, tag: &str, created: &Created) {
    let image = emit_image();
    let next = Mutex::new(0usize);
    let pid = std::process::id();
    // Ticking container k ticks at `epoch` + k × slot, modulo the tick.
    let epoch = Instant::now();
    let slot = TICK / n.div_ceil(TICKING_EVERY).max(1) as u32;
    let tick_ms = TICK.as_millis();
    std::thread::scope(|scope| {
        for _ in 0..STARTERS {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
                        let i = *next;
                        *next += 1;
                        i
                    };
                    if i >= n {
                        return;
                    }
                    let name = format!("wl-t-{pid}-many-{i}");
                    let ready = format!("out:{tag} container {i} ready");
                    let tick = format!("count:out:{tag} tick {i} :1:0:{}", TICK.as_micros());
                    // Until its slot comes round, counted from now.
                    let due = (slot * (i / TICKING_EVERY) as u32).as_millis();
                    let now = epoch.elapsed().as_millis();
                    let wait = format!("sleep:{}", (due + tick_ms - now % tick_ms) % tick_ms);
                    let project = format!("com.docker.compose.project={tag}");
                    let service = format!("com.docker.compose.service=idle{}", i % 20);
                    let mut args = vec![
                        "run",
                        "-d",
                        "--network",
                        "none",
                        "--name",
                        &name,
                        "--label",
                        "wakeline-test=1",
                        "--label",
                        &project,
                        "--label",
                        &service,
                        &image,
                        &ready,
                    ];
                    if i % TICKING_EVERY == 0 {
                        args.extend([wait.as_str(), tick.as_str()]);
                    } else {
                        args.push("stay");
                    }
                    let output = Command::new("docker").args(&args).output();
                    match output {
                        Ok(o) if o.status.success() => {
                            let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
                            created.0.lock().unwrap_or_else(|e| e.into_inner()).push(id);
                        }
                        Ok(o) => println!(
                            "  docker run {name} failed: {}",
                            String::from_utf8_lossy(&o.stderr).trim()
                        ),
                        Err(e) => println!("  cannot run docker: {e}"),
                    }
                }
            });
        }
    });
}

pub fn run(binary: &Path, containers: usize, rest_secs: u64) -> ManyFigures {
    println!(
        "\nmany containers: the collector at rest ({rest_secs} s) with no extra containers, \
         then following {containers} mostly idle ones (1 in {TICKING_EVERY} writes a line \
         every 10 s)"
    );
    let tag = run_tag("many");
    let data_dir = fresh_data_dir();
    let mut collector = start_collector(binary, data_dir.path());
    wait_caught_up(&collector);
    collector.terminate();
    collector.restart();
    wait_caught_up(&collector);
    let idle = rest(&collector, rest_secs);
    println!(
        "  baseline, no extra containers: RSS {:.1} MiB, CPU {:.2} CPU-s in {:.0} s = {:.2}% \
         of a core (load {})",
        idle.max_rss_kib as f64 / 1024.0,
        idle.cpu_secs,
        idle.secs,
        idle.cpu_pct(),
        idle.load.map_or("-".into(), |l| format!("{l:.1}"))
    );

    let created = Created(Mutex::new(Vec::new()));
    let started = Instant::now();
    start_containers(containers, &tag, &created);
    let running = created.0.lock().map_or(0, |ids| ids.len());
    println!(
        "  {running} containers started in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let query = format!("q=project:{tag} AND ready");
    let mut seen = 0;
    let all = poll(Duration::from_secs(300), || {
        seen = count(&collector, &query).unwrap_or(seen);
        (seen >= running as u64).then_some(())
    });
    let start_secs = started.elapsed().as_secs_f64();
    if all.is_none() {
        println!(
            "  the collector had the first line of {seen} of {running} containers after 300 s"
        );
    } else {
        println!(
            "  every container's first line searchable {start_secs:.1} s after the first docker run"
        );
    }
    let peak_kib = collector
        .pid()
        .and_then(memory_kib)
        .map_or(0, |(peak, _)| peak);
    std::thread::sleep(SETTLE);
    let many = rest(&collector, rest_secs);
    println!(
        "  following {running} containers: RSS {:.1} MiB, CPU {:.2} CPU-s in {:.0} s = {:.2}% \
         of a core (load {}); peak RSS while they started {:.1} MiB",
        many.max_rss_kib as f64 / 1024.0,
        many.cpu_secs,
        many.secs,
        many.cpu_pct(),
        many.load.map_or("-".into(), |l| format!("{l:.1}")),
        peak_kib as f64 / 1024.0
    );
    let lines = count(&collector, &format!("q=project:{tag}")).unwrap_or(0);
    println!("  {} lines of theirs indexed in all", thousands(lines));
    drop(created);
    print_stderr_summary("many collector", &collector.stderr_path());
    ManyFigures {
        containers: running,
        idle,
        many,
        peak_kib,
    }
}

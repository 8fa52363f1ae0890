//! UI: the live page in headless Chromium following a steady stream, beside a
//! page that only counts the same WebSocket feed; and how long `/search?q=…`
//! takes to paint its first result row.
//!
//! One release collector, one Chromium (Debian's `chromium` through its
//! `chromedriver`, driven with fantoccini). Two runs of the same load, one after
//! the other, each with its own four writer containers (emit's `rate` step, N
//! lines/s in all for S seconds):
//!
//! - **baseline**: a tiny static file of the collector (`/ui/favicon.svg`) with a
//!   script that opens `/api/live` with the same filter, `JSON.parse`s and counts
//!   every message and keeps nothing: what the browser costs with no UI at all;
//! - **page**: the live page (`/?container=…`), the real UI.
//!
//! Both runs get the same injected probe (standard APIs only): a
//! `requestAnimationFrame` loop for frame times, `PerformanceObserver` for
//! `longtask` and `long-animation-frame` entries (the latter split a slow frame
//! into script and style/layout time), `performance.memory.usedJSHeapSize`
//! (`--enable-precise-memory-info`), and every 500 ms the display lag: now minus
//! the Docker timestamp of the newest line on screen (the last
//! `.row[data-seq]`'s `.ts` title; for the baseline, of the newest message).
//! The harness samples the page's own counter (`N received`), the heap and the
//! DOM's node count once a second. Then five loads of `/search?q=<the run's
//! tag>`: navigation start → first `.row[data-seq]` painted, watched by a
//! `MutationObserver` installed before any page script runs
//! (`Page.addScriptToEvaluateOnNewDocument` through chromedriver's CDP
//! endpoint), beside five `fetch`es of the same `/api/search` from the page.
//!
//! Nothing here passes or fails on a time; the run fails only when the browser
//! cannot be driven.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use wakeline_e2e::{Collector, ContainerSpec, docker, metric, poll};

use crate::common::{
    cpu_secs, dockerd_pid, fresh_data_dir, median, print_stderr_summary, print_table, run_tag,
    start_collector, thousands, watch_exits,
};

const WRITERS: u64 = 4;
/// The window the page is measured in.
const WINDOW: (u32, u32) = (1280, 900);
/// How long a page may take to receive what was written once the writers exit.
const DRAIN: Duration = Duration::from_secs(20);
/// Loads of the search page (and fetches of its API call) to take the median of.
const SEARCH_LOADS: usize = 5;

/// The load: lines per second of all writers together, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub rate: u64,
    pub seconds: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            rate: 5_000,
            seconds: 60,
        }
    }
}

/// The probe injected into both pages; `arguments[0]` says which kind of page.
/// It keeps its findings in `window.__wlb`.
const PROBE: &str = r#"
const kind = arguments[0];
const m = window.__wlb = {
  kind, frames: [], longtasks: [], lags: [],
  loaf: { count: 0, duration: 0, script: 0, layout: 0, blocking: 0 },
  received: 0, lastTs: null, t0: performance.now(), stop: false,
};
let prev = 0;
let nextLag = 0;
function newestTs() {
  if (kind === 'baseline') return m.lastTs;
  const rows = document.querySelectorAll('.row[data-seq]');
  const last = rows[rows.length - 1];
  const ts = last && last.querySelector('.ts');
  return ts ? ts.getAttribute('title') : null;
}
function tick(t) {
  if (prev) m.frames.push(t - prev);
  prev = t;
  if (t >= nextLag) {
    nextLag = t + 500;
    const ts = newestTs();
    if (ts && m.writing) m.lags.push(Date.now() - Date.parse(ts));
  }
  if (!m.stop) requestAnimationFrame(tick);
}
requestAnimationFrame(tick);
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) m.longtasks.push(e.duration);
  }).observe({ type: 'longtask' });
} catch (e) { m.noLongtask = String(e); }
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const l = m.loaf;
      l.count += 1;
      l.duration += e.duration;
      l.blocking += e.blockingDuration || 0;
      if (e.styleAndLayoutStart) l.layout += e.startTime + e.duration - e.styleAndLayoutStart;
      for (const s of e.scripts || []) l.script += s.duration;
    }
  }).observe({ type: 'long-animation-frame' });
} catch (e) { m.noLoaf = String(e); }
if (kind === 'baseline') {
  const ws = new WebSocket(`ws://${location.host}/api/live?${arguments[1]}`);
  m.gaps = 0;
  m.dropped = 0;
  ws.onopen = () => { m.open = true; };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === 'gap') { m.gaps += 1; m.dropped += msg.dropped; return; }
    m.received += 1;
    m.lastTs = msg.ts;
  };
  ws.onclose = () => { m.closed = true; };
}
return true;
"#;

/// One sample the harness takes every second.
const SAMPLE: &str = r#"
const m = window.__wlb;
let received = m.received;
const counts = document.querySelector('#live .counts');
if (m.kind === 'page' && counts) {
  const n = /^([\d,]+) received/.exec(counts.textContent);
  received = n ? Number(n[1].replace(/,/g, '')) : -1;
}
return {
  received,
  heap: performance.memory ? performance.memory.usedJSHeapSize : -1,
  nodes: document.getElementsByTagName('*').length,
  rows: document.querySelectorAll('.row[data-seq]').length,
};
"#;

/// Everything the probe gathered, returned at the end of a run.
const COLLECT: &str = r#"
const m = window.__wlb;
m.stop = true;
const gc = typeof window.gc === 'function';
if (gc) window.gc();
return {
  frames: m.frames, longtasks: m.longtasks, lags: m.lags, loaf: m.loaf,
  heapAfterGc: gc && performance.memory ? performance.memory.usedJSHeapSize : -1,
  noLongtask: m.noLongtask || null, noLoaf: m.noLoaf || null,
};
"#;

/// Installed before any script of each new document: notes when the first
/// result row of the search page was inserted, and when it was painted.
const SEARCH_WATCH: &str = r#"
(() => {
  if (!location.pathname.startsWith('/search')) return;
  const t = window.__wlbSearch = {};
  const mo = new MutationObserver(() => {
    if (t.inserted || !document.querySelector('#app .row[data-seq]')) return;
    t.inserted = performance.now();
    mo.disconnect();
    requestAnimationFrame(() => setTimeout(() => { t.painted = performance.now(); }, 0));
  });
  mo.observe(document, { childList: true, subtree: true });
})();
"#;

/// `POST /session/{id}/goog/cdp/execute`: one DevTools command through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Headless Chromium through its own chromedriver (own process group, killed on drop).
struct Chrome {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    base: String,
    _logs: tempfile::TempDir,
}

impl Chrome {
    fn open(port: u16) -> Chrome {
        let logs = tempfile::Builder::new()
            .prefix("wakeline-bench-chromedriver-")
            .tempdir()
            .expect("create a folder for chromedriver's log");
        let log =
            File::create(logs.path().join("chromedriver.log")).expect("create chromedriver's log");
        let driver_port = free_port();
        let driver = Command::new(on_path(&["chromedriver"], "/usr/bin/chromedriver"))
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone the log handle")))
            .stderr(Stdio::from(log))
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver (Debian's chromium-driver)");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("build the WebDriver runtime");
        let mut chrome = Chrome {
            runtime,
            client: None,
            driver,
            base: format!("http://127.0.0.1:{port}"),
            _logs: logs,
        };
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": on_path(&["chromium", "chromium-browser", "google-chrome"], "/usr/bin/chromium"),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                    "--lang=en-US",
                    "--no-first-run",
                    "--enable-precise-memory-info",
                    "--js-flags=--expose-gc",
                ],
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let webdriver = format!("http://127.0.0.1:{driver_port}");
        let connected = poll(Duration::from_secs(60), || {
            chrome
                .runtime
                .block_on(
                    ClientBuilder::new(HttpConnector::new())
                        .capabilities(capabilities.clone())
                        .connect(&webdriver),
                )
                .ok()
        });
        chrome.client = Some(connected.expect("chromedriver opens a Chromium session within 60 s"));
        chrome
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open until drop")
    }

    fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.runtime
            .block_on(self.client().goto(&url))
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime
            .block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("execute failed: {e}\n{script}"))
    }

    fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime
            .block_on(self.client().execute_async(script, args))
            .unwrap_or_else(|e| panic!("execute_async failed: {e}\n{script}"))
    }

    fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.runtime
            .block_on(self.client().issue_cmd(Cdp { cmd, params }))
            .unwrap_or_else(|e| panic!("CDP {cmd} failed: {e}"))
    }

    /// Polls `script` (which returns a value or null) until it is not null.
    fn wait(&self, what: &str, script: &str, within: Duration) -> Value {
        poll(within, || {
            let v = self.execute(script, vec![]);
            (!v.is_null()).then_some(v)
        })
        .unwrap_or_else(|| panic!("waited {within:?} for {what}, in vain"))
    }

    /// CPU seconds of chromedriver and every Chromium process it started.
    fn cpu_secs(&self) -> f64 {
        group_cpu_secs(self.driver.id())
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("bound").port()
}

fn on_path(names: &[&str], fallback: &str) -> String {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    });
    found
        .unwrap_or_else(|| PathBuf::from(fallback))
        .to_string_lossy()
        .into_owned()
}

/// CPU seconds (user + system) of every process in process group `pgid`.
fn group_cpu_secs(pgid: u32) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return f64::NAN;
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let group: u32 = rest.split_whitespace().nth(2)?.parse().ok()?;
            (group == pgid).then(|| cpu_secs(pid))?
        })
        .sum()
}

/// The host's CPU time split, from the first line of `/proc/stat` (in ticks).
#[derive(Debug, Clone, Copy, Default)]
struct HostCpu {
    busy: u64,
    idle: u64,
    steal: u64,
}

impl HostCpu {
    fn take() -> HostCpu {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let get = |i: usize| fields.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal
        HostCpu {
            busy: get(0) + get(1) + get(2) + get(5) + get(6),
            idle: get(3) + get(4),
            steal: get(7),
        }
    }

    /// Busy and steal shares of all CPU time since `start`, in percent.
    fn since(self, start: HostCpu) -> (f64, f64) {
        let busy = self.busy.saturating_sub(start.busy) as f64;
        let idle = self.idle.saturating_sub(start.idle) as f64;
        let steal = self.steal.saturating_sub(start.steal) as f64;
        let all = (busy + idle + steal).max(1.0);
        (100.0 * busy / all, 100.0 * steal / all)
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A second-by-second reading of the page.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    received: u64,
    heap: f64,
    nodes: u64,
    rows: u64,
}

/// `wakeline_live_sent_total` and `wakeline_live_dropped_total` now: what the
/// collector sent to its live clients and skipped for them (gap notices). The
/// page is the only client of this collector while it runs.
fn live_counters(collector: &Collector) -> (u64, u64) {
    let body = collector.request("/metrics", None).body;
    let get = |name: &str| metric::<f64>(&body, name).unwrap_or(0.0) as u64;
    (
        get("wakeline_live_sent_total"),
        get("wakeline_live_dropped_total"),
    )
}

fn sample(chrome: &Chrome, at: f64) -> Sample {
    let v = chrome.execute(SAMPLE, vec![]);
    let n = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    Sample {
        at,
        received: n("received").max(0.0) as u64,
        heap: n("heap"),
        nodes: n("nodes") as u64,
        rows: n("rows") as u64,
    }
}

/// What one run (baseline or page) measured.
struct Outcome {
    name: String,
    written: u64,
    /// Records the collector sent to the page and skipped for it (gap notices).
    sent: u64,
    dropped: u64,
    write_secs: f64,
    /// Seconds after the writers exited until the page had received everything.
    drain_secs: Option<f64>,
    samples: Vec<Sample>,
    frames: Vec<f64>,
    longtasks: Vec<f64>,
    lags: Vec<f64>,
    loaf: Value,
    heap_after_gc: f64,
    cpu_chrome: f64,
    cpu_collector: f64,
    cpu_dockerd: f64,
    host_busy: f64,
    host_steal: f64,
    load: String,
}

impl Outcome {
    fn last(&self) -> Sample {
        *self.samples.last().expect("at least one sample")
    }

    /// The heap sample nearest `at` seconds into the writing.
    fn heap_at(&self, at: f64) -> f64 {
        self.samples
            .iter()
            .min_by(|a, b| (a.at - at).abs().total_cmp(&(b.at - at).abs()))
            .map_or(f64::NAN, |s| s.heap)
    }
}

fn writers(tag: &str, opts: Options) -> Vec<ContainerSpec> {
    let per_writer = (opts.rate / WRITERS).max(1);
    let lines = per_writer * opts.seconds;
    let kinds = [
        ("out", "info", "GET /api/orders 200"),
        ("out", "warn", "slow query on orders_by_user"),
        ("out", "debug", "cache miss for session"),
        ("err", "error", "upstream timed out after 3000 ms"),
    ];
    (0..WRITERS as usize)
        .map(|i| {
            let (stream, level, msg) = kinds[i % kinds.len()];
            let step = format!(
                "rate:{stream}:level={level} msg=\"{msg}\" service=svc{i} user_id={} {tag} request_id={tag}-{i}-:1:{lines}:{per_writer}",
                40 + i
            );
            ContainerSpec::new("bench-ui", &[step.as_str()])
                .project(tag)
                .service(&format!("svc{i}"))
                .log_opt("max-size=1g")
        })
        .collect()
}

fn one_run(
    chrome: &Chrome,
    collector: &Collector,
    kind: &str,
    tag: &str,
    opts: Options,
) -> Outcome {
    let specs = writers(tag, opts);
    let names: Vec<&str> = specs.iter().map(ContainerSpec::name).collect();
    let filter = format!("container={}", names.join(","));
    let written = (opts.rate / WRITERS).max(1) * opts.seconds * WRITERS;
    if kind == "baseline" {
        chrome.goto("/ui/favicon.svg");
        chrome.execute(PROBE, vec![json!(kind), json!(filter)]);
        chrome.wait(
            "the baseline's WebSocket to open",
            "return window.__wlb.open ? true : null;",
            Duration::from_secs(30),
        );
    } else {
        chrome.goto(&format!("/?{filter}"));
        chrome.wait(
            "the live page to say live",
            "const s = document.getElementById('status'); return s && s.textContent === 'live' ? true : null;",
            Duration::from_secs(30),
        );
        chrome.execute(PROBE, vec![json!(kind), json!(filter)]);
    }
    // Let the page settle, then one reading before anything is written.
    std::thread::sleep(Duration::from_secs(2));
    let mut samples = vec![sample(chrome, 0.0)];
    chrome.execute("window.__wlb.writing = true; return 0;", vec![]);

    let chrome_cpu = chrome.cpu_secs();
    let collector_cpu = collector.pid().and_then(cpu_secs).unwrap_or(f64::NAN);
    let dockerd_cpu = dockerd_pid().and_then(cpu_secs).unwrap_or(f64::NAN);
    let host = HostCpu::take();
    let counters = live_counters(collector);
    let started = Instant::now();
    let containers: Vec<_> = specs.iter().map(ContainerSpec::run).collect();
    let exits = watch_exits(&containers);
    // One reading a second until the writers are done.
    let mut next = Duration::from_secs(1);
    while !exits.is_finished() {
        let now = started.elapsed();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(100)));
            continue;
        }
        next += Duration::from_secs(1);
        samples.push(sample(chrome, now.as_secs_f64()));
    }
    let write_secs = started.elapsed().as_secs_f64();
    if let Err(e) = exits.join().expect("the docker wait thread") {
        panic!("{e}");
    }
    for container in &containers {
        let code = docker(&["inspect", "--format", "{{.State.ExitCode}}", &container.id]);
        assert_eq!(
            code,
            "0",
            "writer {} exited with {code}: {}",
            container.name,
            container
                .docker_logs()
                .chars()
                .take(400)
                .collect::<String>()
        );
    }
    let host_cpu = HostCpu::take().since(host);
    let cpu_chrome = chrome.cpu_secs() - chrome_cpu;
    let cpu_collector = collector.pid().and_then(cpu_secs).unwrap_or(f64::NAN) - collector_cpu;
    let cpu_dockerd = dockerd_pid().and_then(cpu_secs).unwrap_or(f64::NAN) - dockerd_cpu;
    let load = loadavg();
    chrome.execute("window.__wlb.writing = false; return 0;", vec![]);

    // Drain: until the page has everything (or gave up on some as gaps).
    let drained_at = Instant::now();
    let mut skipped = 0;
    let drained = poll(DRAIN, || {
        let s = sample(chrome, started.elapsed().as_secs_f64());
        samples.push(s);
        skipped = live_counters(collector).1 - counters.1;
        (s.received + skipped >= written).then_some(())
    });
    let drain_secs = drained.map(|()| drained_at.elapsed().as_secs_f64());
    samples.push(sample(chrome, started.elapsed().as_secs_f64()));
    let (sent, dropped) = live_counters(collector);

    let collected = chrome.execute(COLLECT, vec![]);
    let floats = |k: &str| -> Vec<f64> {
        collected[k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    for key in ["noLongtask", "noLoaf"] {
        if let Some(why) = collected[key].as_str() {
            println!("  ({kind}: {key}: {why})");
        }
    }
    Outcome {
        name: kind.to_string(),
        written,
        sent: sent - counters.0,
        dropped: dropped - counters.1,
        write_secs,
        drain_secs,
        samples,
        frames: floats("frames"),
        longtasks: floats("longtasks"),
        lags: floats("lags"),
        loaf: collected["loaf"].clone(),
        heap_after_gc: collected["heapAfterGc"].as_f64().unwrap_or(f64::NAN),
        cpu_chrome,
        cpu_collector,
        cpu_dockerd,
        host_busy: host_cpu.0,
        host_steal: host_cpu.1,
        load,
    }
}

/// The value at `p` (0–100) of unsorted values, nearest rank.
fn pct(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn mib(bytes: f64) -> String {
    if bytes.is_finite() && bytes >= 0.0 {
        format!("{:.1}", bytes / (1024.0 * 1024.0))
    } else {
        "-".into()
    }
}

fn f1(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-".into()
    }
}

fn ratio(page: f64, base: f64) -> String {
    if page.is_finite() && base.is_finite() && base > 0.0 {
        format!("{:.2}", page / base)
    } else {
        "-".into()
    }
}

/// Figures of a run, by name, for the side-by-side table.
fn figures(o: &Outcome, secs: f64) -> Vec<(String, f64, String)> {
    let last = o.last();
    let frames = &o.frames;
    // The writing window's frames: all of them (the probe runs from before the
    // writers start until the drain ends; the extra seconds are idle frames).
    let over = |limit: f64| frames.iter().filter(|&&f| f > limit).count() as f64;
    let loaf = |k: &str| o.loaf[k].as_f64().unwrap_or(f64::NAN);
    let kept = last.received as f64 / o.write_secs.max(secs);
    let max_heap = o.samples.iter().map(|s| s.heap).fold(f64::NAN, f64::max);
    let lag_secs = |p: f64| pct(&o.lags, p) / 1000.0;
    vec![
        (
            "records received".into(),
            last.received as f64,
            thousands(last.received),
        ),
        (
            "records written".into(),
            o.written as f64,
            thousands(o.written),
        ),
        (
            "sent by the collector".into(),
            o.sent as f64,
            thousands(o.sent),
        ),
        (
            "skipped for it (gap notices)".into(),
            o.dropped as f64,
            thousands(o.dropped),
        ),
        ("received lines/s".into(), kept, thousands(kept as u64)),
        (
            "all received s after writers".into(),
            o.drain_secs.unwrap_or(f64::NAN),
            o.drain_secs.map_or("never".into(), |d| format!("{d:.2}")),
        ),
        (
            "newest line on screen: lag p50 s".into(),
            lag_secs(50.0),
            format!("{:.2}", lag_secs(50.0)),
        ),
        (
            "lag p99 s".into(),
            lag_secs(99.0),
            format!("{:.2}", lag_secs(99.0)),
        ),
        (
            "lag max s".into(),
            lag_secs(100.0),
            format!("{:.2}", lag_secs(100.0)),
        ),
        (
            "frames".into(),
            frames.len() as f64,
            thousands(frames.len() as u64),
        ),
        (
            "fps (mean)".into(),
            frames.len() as f64 * 1000.0 / frames.iter().sum::<f64>().max(1.0),
            f1(frames.len() as f64 * 1000.0 / frames.iter().sum::<f64>().max(1.0)),
        ),
        (
            "frame p50 ms".into(),
            pct(frames, 50.0),
            f1(pct(frames, 50.0)),
        ),
        (
            "frame p99 ms".into(),
            pct(frames, 99.0),
            f1(pct(frames, 99.0)),
        ),
        (
            "frame max ms".into(),
            pct(frames, 100.0),
            f1(pct(frames, 100.0)),
        ),
        (
            "frames > 50 ms".into(),
            over(50.0),
            thousands(over(50.0) as u64),
        ),
        (
            "long tasks".into(),
            o.longtasks.len() as f64,
            thousands(o.longtasks.len() as u64),
        ),
        (
            "long tasks total ms".into(),
            o.longtasks.iter().sum(),
            format!("{:.0}", o.longtasks.iter().sum::<f64>()),
        ),
        (
            "long frames (LoAF)".into(),
            loaf("count"),
            format!("{:.0}", loaf("count")),
        ),
        (
            "  LoAF script ms".into(),
            loaf("script"),
            format!("{:.0}", loaf("script")),
        ),
        (
            "  LoAF style+layout ms".into(),
            loaf("layout"),
            format!("{:.0}", loaf("layout")),
        ),
        (
            "  LoAF blocking ms".into(),
            loaf("blocking"),
            format!("{:.0}", loaf("blocking")),
        ),
        (
            "JS heap start MiB".into(),
            o.heap_at(0.0),
            mib(o.heap_at(0.0)),
        ),
        (
            format!("JS heap {:.0} s MiB", secs / 2.0),
            o.heap_at(secs / 2.0),
            mib(o.heap_at(secs / 2.0)),
        ),
        (
            format!("JS heap {secs:.0} s MiB"),
            o.heap_at(secs),
            mib(o.heap_at(secs)),
        ),
        ("JS heap max MiB".into(), max_heap, mib(max_heap)),
        (
            "JS heap end, after gc() MiB".into(),
            o.heap_after_gc,
            mib(o.heap_after_gc),
        ),
        (
            "DOM nodes at end".into(),
            last.nodes as f64,
            thousands(last.nodes),
        ),
        (
            "log rows in DOM at end".into(),
            last.rows as f64,
            thousands(last.rows),
        ),
        ("CPU s: Chromium".into(), o.cpu_chrome, f1(o.cpu_chrome)),
        (
            "CPU s: collector".into(),
            o.cpu_collector,
            f1(o.cpu_collector),
        ),
        ("CPU s: dockerd".into(), o.cpu_dockerd, f1(o.cpu_dockerd)),
        ("host CPU busy %".into(), o.host_busy, f1(o.host_busy)),
        ("host CPU steal %".into(), o.host_steal, f1(o.host_steal)),
    ]
}

fn print_runs(base: &Outcome, page: &Outcome, opts: Options) {
    let secs = opts.seconds as f64;
    let b = figures(base, secs);
    let p = figures(page, secs);
    let rows: Vec<Vec<String>> = b
        .into_iter()
        .zip(p)
        .map(|((name, bv, bs), (_, pv, ps))| vec![name, bs, ps, ratio(pv, bv)])
        .collect();
    print_table(
        &format!(
            "ui live: {WRITERS} writers, {} lines/s in all for {} s; Chromium {}×{} headless; \
             baseline = the same feed counted by a page without UI",
            thousands(opts.rate),
            opts.seconds,
            WINDOW.0,
            WINDOW.1
        ),
        &["", "baseline", "live page", "page / baseline"],
        &rows,
    );
    for o in [base, page] {
        println!(
            "  {}: writers took {:.1} s; load average at the end {}; lines/s by second (received): {}",
            o.name,
            o.write_secs,
            o.load,
            per_second(&o.samples)
        );
    }
}

/// Records received per second, from the samples taken during the writing.
fn per_second(samples: &[Sample]) -> String {
    samples
        .windows(2)
        .filter(|w| w[1].at - w[0].at > 0.5)
        .map(|w| {
            format!(
                "{:.0}",
                (w[1].received - w[0].received) as f64 / (w[1].at - w[0].at)
            )
        })
        .take(90)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Five loads of the search page: navigation start → first row inserted and
/// painted; five fetches of the same API call from the page.
fn search_timing(chrome: &Chrome, tag: &str) {
    chrome.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": SEARCH_WATCH }),
    );
    let path = format!("/search?q={tag}");
    let (mut inserted, mut painted) = (Vec::new(), Vec::new());
    for _ in 0..SEARCH_LOADS {
        chrome.goto("/ui/favicon.svg");
        chrome.goto(&path);
        let t = chrome.wait(
            "the search page's first row to be painted",
            "const t = window.__wlbSearch; return t && t.painted ? t : null;",
            Duration::from_secs(60),
        );
        inserted.push(t["inserted"].as_f64().unwrap_or(f64::NAN));
        painted.push(t["painted"].as_f64().unwrap_or(f64::NAN));
    }
    let fetch = chrome.execute_async(
        r#"
        const [url, n, done] = arguments;
        (async () => {
          const times = [], took = [];
          for (let i = 0; i < n; i += 1) {
            const t0 = performance.now();
            const r = await fetch(url, { headers: { Accept: 'application/json' } });
            const body = await r.json();
            times.push(performance.now() - t0);
            took.push(body.took_ms);
          }
          done({ times, took });
        })();
        "#,
        vec![
            json!(format!("/api/search?q={tag}&limit=100")),
            json!(SEARCH_LOADS),
        ],
    );
    let list = |k: &str| -> Vec<f64> {
        fetch[k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (mut times, mut took) = (list("times"), list("took"));
    let all = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rows = vec![
        vec![
            "navigation → first row painted".to_string(),
            f1(median(&mut painted.clone())),
            all(&painted),
        ],
        vec![
            "navigation → first row inserted".to_string(),
            f1(median(&mut inserted.clone())),
            all(&inserted),
        ],
        vec![
            "fetch /api/search?limit=100 from the page".to_string(),
            f1(median(&mut times.clone())),
            all(&times),
        ],
        vec![
            "  of which the server's took_ms".to_string(),
            f1(median(&mut took)),
            all(&took),
        ],
    ];
    times.clear();
    print_table(
        &format!(
            "search page: /search?q=<the page run's tag> (matches every line it wrote), {SEARCH_LOADS} loads"
        ),
        &["", "median ms", "each ms"],
        &rows,
    );
}

pub fn run(binary: &Path, opts: Options) {
    println!(
        "\nui: {WRITERS} writers × {} lines/s for {} s ({} lines/s in all); Chromium: {}",
        thousands((opts.rate / WRITERS).max(1)),
        opts.seconds,
        thousands(opts.rate),
        Command::new(on_path(&["chromium"], "/usr/bin/chromium"))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    );
    if let Ok(dir) = std::env::var("WAKELINE_UI_DIR") {
        println!(
            "  WAKELINE_UI_DIR={dir}: the collector serves the UI from there, not the embedded copy"
        );
    }
    println!("  load average before: {}", loadavg());
    let data_dir = fresh_data_dir();
    let collector = start_collector(binary, data_dir.path());
    let chrome = Chrome::open(collector.port());
    let base = one_run(&chrome, &collector, "baseline", &run_tag("uibase"), opts);
    let page_tag = run_tag("uipage");
    let page = one_run(&chrome, &collector, "page", &page_tag, opts);
    print_runs(&base, &page, opts);
    search_timing(&chrome, &page_tag);
    drop(chrome);
    print_stderr_summary("ui collector", &collector.stderr_path());
}

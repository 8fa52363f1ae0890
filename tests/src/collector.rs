//! The collector under test: the real `wakeline` process and its HTTP API.
//!
//! It listens on `127.0.0.1:0` so tests in parallel never fight over a port; the
//! port is read from the collector's stdout line `listening on http://127.0.0.1:PORT`
//! (the start-up contract). stderr goes to a file whose tail is printed when a test
//! fails, because a failing end-to-end test is only as useful as its evidence.
//! `kill_9` + `restart` on the same data dir exercise the crash-safety guarantee.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::{DEADLINE, collector_binary, poll, query};

/// How long a fresh collector may take to print its `listening on` line.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running `wakeline` process; killed (SIGKILL) and reaped on drop.
pub struct Collector {
    child: Option<Child>,
    binary: PathBuf,
    /// Flags before `extra_args`: the tests' short commit interval, or none.
    base_args: Vec<String>,
    data_dir: PathBuf,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    token: Option<String>,
    port: u16,
    starts: u32,
    logs: tempfile::TempDir,
    http: reqwest::blocking::Client,
}

/// An HTTP answer: status, raw body and the body as JSON (`Value::Null` if it is not JSON).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lowercase, values as text.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub json: Value,
}

impl Response {
    /// The first value of header `name` (lowercase), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Collector {
    /// Starts `wakeline --data-dir DIR --listen 127.0.0.1:0 --commit-interval 200ms`.
    pub fn start(data_dir: &Path) -> Collector {
        Collector::start_with(data_dir, &[])
    }

    /// Like [`Collector::start`] with extra flags (`--max-line-bytes N`,
    /// `--auth-token T`, …). An `--auth-token` given here is sent by [`Collector::get`].
    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Collector {
        Collector::start_with_env(data_dir, extra_args, &[])
    }

    /// Like [`Collector::start_with`], also setting environment variables
    /// (`WAKELINE_AUTH_TOKEN`, …); a token set either way is sent by [`Collector::get`].
    pub fn start_with_env(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Collector {
        let base_args = ["--commit-interval", "200ms"];
        Collector::launch(collector_binary(), &base_args, data_dir, extra_args, env)
    }

    /// Starts a given `wakeline` binary (a release build, for benchmarks) with only
    /// `--data-dir DIR --listen 127.0.0.1:0` and `args`: no test commit interval.
    pub fn start_binary(binary: &Path, data_dir: &Path, args: &[&str]) -> Collector {
        Collector::launch(binary.to_path_buf(), &[], data_dir, args, &[])
    }

    fn launch(
        binary: PathBuf,
        base_args: &[&str],
        data_dir: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Collector {
        let token = extra_args
            .iter()
            .position(|arg| *arg == "--auth-token")
            .and_then(|i| extra_args.get(i + 1))
            .or_else(|| {
                env.iter()
                    .find(|(key, _)| *key == "WAKELINE_AUTH_TOKEN")
                    .map(|(_, value)| value)
            })
            .map(|token| token.to_string());
        let mut collector = Collector {
            child: None,
            binary,
            base_args: base_args.iter().map(|arg| arg.to_string()).collect(),
            data_dir: data_dir.to_path_buf(),
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
            env: env
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            token,
            port: 0,
            starts: 0,
            logs: tempfile::Builder::new()
                .prefix("wakeline-e2e-logs-")
                .tempdir()
                .expect("create a folder for the collector's output"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("build an HTTP client"),
        };
        collector.spawn();
        collector
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let stderr_path = self.logs.path().join("stderr.log");
        let mut stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .expect("open the collector's stderr log");
        writeln!(stderr, "===== wakeline start #{} =====", self.starts)
            .expect("write to the collector's stderr log");

        let mut child = Command::new(&self.binary)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(&self.base_args)
            .args(&self.extra_args)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn the wakeline binary");

        // Read stdout on a thread: it reports the port once, then keeps draining
        // stdout into a file so the collector never blocks on a full pipe.
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdout_log = self.logs.path().join("stdout.log");
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(stdout_log)
                .ok();
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if let Some(log) = log.as_mut() {
                    let _ = log.write_all(&line);
                }
                if let Some(port) = listening_port(&String::from_utf8_lossy(&line)) {
                    let _ = port_tx.send(port);
                }
            }
        });
        self.child = Some(child);

        match port_rx.recv_timeout(START_DEADLINE) {
            Ok(port) => self.port = port,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "wakeline printed no `listening on http://127.0.0.1:PORT` line within {START_DEADLINE:?}\n{}",
                self.diagnostics()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.child.as_mut().and_then(|child| child.wait().ok());
                panic!(
                    "wakeline closed stdout before printing `listening on …` (exit: {status:?})\n{}",
                    self.diagnostics()
                )
            }
        }
    }

    /// The port the collector listens on (changes on every restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The collector's process ID while it runs (for `/proc/<pid>/status`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The file the collector's stderr goes to (all starts, appended).
    pub fn stderr_path(&self) -> PathBuf {
        self.logs.path().join("stderr.log")
    }

    /// Opens `GET /api/live?<query>` (WebSocket) with the configured token.
    pub fn live(&self, query: &str) -> crate::Live {
        crate::Live::connect(self.port, query, self.token.as_deref())
            .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()))
    }

    /// SIGKILL: no shutdown hook runs, as in a crash or an OOM kill.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as `docker stop` or systemd would send; waits (with a
    /// deadline) for the process to exit and returns its status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the collector is running");
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        let status = crate::poll(crate::DEADLINE, || child.try_wait().ok().flatten());
        status.unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "wakeline did not exit within {:?} of SIGTERM\n{}",
                crate::DEADLINE,
                self.diagnostics()
            )
        })
    }

    /// Starts the collector again on the same data dir with the same flags
    /// (killing it first if it still runs).
    pub fn restart(&mut self) {
        self.kill_9();
        self.spawn();
    }

    /// The collector's exit status, if it has exited (a crash shows up here).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// One sample of `/metrics` (see [`crate::metric`]); panics with the
    /// whole body when it is missing.
    pub fn metric(&self, name: &str) -> f64 {
        let body = self.request("/metrics", self.token.as_deref()).body;
        crate::metric(&body, name)
            .unwrap_or_else(|| panic!("metric {name} missing from /metrics:\n{body}"))
    }

    /// `GET path_and_query` with the configured token; returns status and JSON body.
    pub fn get(&self, path_and_query: &str) -> (u16, Value) {
        let response = self.request(path_and_query, self.token.as_deref());
        (response.status, response.json)
    }

    /// `GET` with an explicit bearer token (or none), for the auth tests and for
    /// non-JSON bodies such as `/metrics`.
    pub fn request(&self, path_and_query: &str, token: Option<&str>) -> Response {
        let url = format!("http://127.0.0.1:{}{path_and_query}", self.port);
        let mut request = self.http.get(&url);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("GET {url} failed: {e}\n{}", self.diagnostics()));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response
            .text()
            .unwrap_or_else(|e| panic!("reading the body of GET {url} failed: {e}"));
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            body,
            json,
        }
    }

    /// `GET /api/search?<params>`, asserting a 200 with a JSON object.
    pub fn search(&self, params: &[(&str, &str)]) -> Value {
        let path = format!("/api/search?{}", query(params));
        let (status, body) = self.get(&path);
        assert_eq!(status, 200, "GET {path} returned {status}: {body}");
        assert!(
            body.is_object(),
            "GET {path} returned no JSON object: {body}"
        );
        body
    }

    /// The `total` of a search (asked with `limit=1`, so it works even if `limit=0` does not).
    pub fn total(&self, params: &[(&str, &str)]) -> u64 {
        let mut params = params.to_vec();
        params.push(("limit", "1"));
        let body = self.search(&params);
        body["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("search {params:?}: `total` is not a number: {body}"))
    }

    /// Polls until a search has at least `n` hits; panics with what it saw at the deadline.
    pub fn wait_total(&self, params: &[(&str, &str)], n: u64) -> u64 {
        self.wait_total_within(params, n, DEADLINE)
    }

    /// [`Collector::wait_total`] with a custom deadline.
    pub fn wait_total_within(&self, params: &[(&str, &str)], n: u64, deadline: Duration) -> u64 {
        let mut last = 0;
        let reached = poll(deadline, || {
            last = self.total(params);
            (last >= n).then_some(last)
        });
        reached.unwrap_or_else(|| {
            panic!(
                "search {params:?}: expected at least {n} hits within {deadline:?}, last total was {last}\n{}",
                self.diagnostics()
            )
        })
    }

    /// Every hit of a search, oldest first, fetched page by page with `next_cursor`.
    pub fn all_hits(&self, params: &[(&str, &str)]) -> Vec<Value> {
        let mut hits = Vec::new();
        let mut cursor: Option<String> = None;
        for _page in 0..10_000 {
            let mut page_params = params.to_vec();
            page_params.push(("order", "asc"));
            page_params.push(("limit", "1000"));
            if let Some(cursor) = cursor.as_deref() {
                page_params.push(("cursor", cursor));
            }
            let body = self.search(&page_params);
            let page = body["hits"]
                .as_array()
                .unwrap_or_else(|| panic!("search {page_params:?}: `hits` is not a list: {body}"));
            hits.extend(page.iter().cloned());
            let next = body["next_cursor"].as_str().map(str::to_string);
            if page.is_empty() || next.is_none() || next == cursor {
                return hits;
            }
            cursor = next;
        }
        panic!("search {params:?}: pagination did not end after 10000 pages")
    }

    /// The last lines of the collector's stderr, for failure messages.
    pub fn diagnostics(&self) -> String {
        let path = self.logs.path().join("stderr.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "--- last lines of wakeline stderr ({}) ---\n{tail}\n---",
            path.display()
        )
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill_9();
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
    }
}

/// Reads the port from `listening on http://127.0.0.1:PORT` (trailing text allowed).
fn listening_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("listening on http://")?;
    let address = rest.split(|c: char| c.is_whitespace() || c == '/').next()?;
    let (_, port) = address.rsplit_once(':')?;
    port.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::listening_port;

    #[test]
    fn reads_the_port_from_the_listening_line() {
        assert_eq!(
            listening_port("listening on http://127.0.0.1:40123\n"),
            Some(40123)
        );
        assert_eq!(
            listening_port("INFO listening on http://127.0.0.1:7070/ ok"),
            Some(7070)
        );
        assert_eq!(listening_port("starting"), None);
    }
}

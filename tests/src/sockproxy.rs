//! A Docker API proxy on a Unix socket, between the collector and the engine.
//!
//! Two things the tests need from it, and that a real deployment meets too:
//! - an **allow-list** of endpoints (method and path, the `/v1.41` version prefix
//!   optional), as a read-only socket proxy gives: anything else answers 403
//!   and is recorded, so a test can assert the collector asked for nothing more;
//! - **faults** on demand: every open connection cut now (the engine's streams
//!   drop mid-line), and new connections refused for a while (the socket file
//!   is gone, as while the engine restarts), then accepted again.
//!
//! Each request gets its own connection to the engine: the proxy reads the
//! request's head, checks it against the list, sends it on with
//! `Connection: close`, then copies bytes both ways until the engine closes.
//! So keep-alive never puts a second, unchecked request on a forwarded
//! connection, and the long-lived chunked answers (logs, events) are plain
//! byte copies. It runs on its own small tokio runtime, so the blocking tests
//! drive it with plain method calls.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, watch};

/// The engine's socket.
const ENGINE: &str = "/var/run/docker.sock";
/// Longest request head read before giving up on a client.
const MAX_HEAD: usize = 64 * 1024;

/// One allowed endpoint: a method and a path pattern whose `*` stands for one
/// path segment (`/containers/*/logs`). The query string is not matched.
#[derive(Clone, Debug)]
pub struct Rule {
    method: String,
    pattern: Vec<String>,
}

impl Rule {
    /// `Rule::new("GET", "/containers/*/json")`.
    pub fn new(method: &str, pattern: &str) -> Rule {
        Rule {
            method: method.to_ascii_uppercase(),
            pattern: segments(pattern).map(str::to_owned).collect(),
        }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let path: Vec<&str> = segments(path).collect();
        path.len() == self.pattern.len()
            && self
                .pattern
                .iter()
                .zip(&path)
                .all(|(want, got)| want == "*" || want == got)
    }
}

/// What the collector needs of the engine (see `collector/src/source/`): the
/// version handshake, the engine's name, the container list and each
/// container's details, its logs, and the events. All of them reads.
pub fn read_only_rules() -> Vec<Rule> {
    vec![
        Rule::new("GET", "/_ping"),
        Rule::new("HEAD", "/_ping"),
        Rule::new("GET", "/version"),
        Rule::new("GET", "/info"),
        Rule::new("GET", "/containers/json"),
        Rule::new("GET", "/containers/*/json"),
        Rule::new("GET", "/containers/*/logs"),
        Rule::new("GET", "/events"),
    ]
}

/// A request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The path as sent, version prefix and query included.
    pub target: String,
    pub allowed: bool,
}

struct Shared {
    rules: Vec<Rule>,
    seen: Mutex<Vec<Seen>>,
    /// Bumped to cut every open connection.
    cut: watch::Sender<u64>,
    /// New connections are refused until then.
    refuse_until: Mutex<Option<Instant>>,
    /// Wakes the acceptor when `refuse_until` changes.
    control: Notify,
    /// Whether the socket is listening now (false while refusing).
    listening: Mutex<bool>,
}

/// A running proxy; stops (and removes its socket) on drop.
pub struct SockProxy {
    shared: Arc<Shared>,
    socket: PathBuf,
    _dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
}

impl SockProxy {
    /// Listens on a fresh socket in a temporary folder and forwards to the
    /// engine what `rules` allow.
    pub fn start(rules: Vec<Rule>) -> SockProxy {
        let dir = tempfile::Builder::new()
            .prefix("wakeline-e2e-proxy-")
            .tempdir()
            .expect("create a folder for the proxy's socket");
        let socket = dir.path().join("docker.sock");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sockproxy")
            .enable_all()
            .build()
            .expect("build the proxy's runtime");
        let shared = Arc::new(Shared {
            rules,
            seen: Mutex::new(Vec::new()),
            cut: watch::channel(0).0,
            refuse_until: Mutex::new(None),
            control: Notify::new(),
            listening: Mutex::new(false),
        });
        let listener = {
            let _guard = runtime.enter();
            UnixListener::bind(&socket).expect("bind the proxy's socket")
        };
        *lock(&shared.listening) = true;
        runtime.spawn(accept_loop(Arc::clone(&shared), listener, socket.clone()));
        SockProxy {
            shared,
            socket,
            _dir: dir,
            runtime: Some(runtime),
        }
    }

    /// The proxy as a `DOCKER_HOST` value: `unix:///tmp/…/docker.sock`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Every request seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// The requests answered 403.
    pub fn denied(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| !s.allowed).collect()
    }

    /// Drops every open connection now (both sides see the stream end
    /// mid-answer); new connections are accepted as before.
    pub fn cut(&self) {
        self.shared.cut.send_modify(|epoch| *epoch += 1);
    }

    /// An outage: cuts every open connection and refuses new ones for
    /// `duration` (the socket file is removed meanwhile, as when the engine
    /// is down), then listens again. Returns once the socket is gone.
    pub fn outage(&self, duration: Duration) {
        *lock(&self.shared.refuse_until) = Some(Instant::now() + duration);
        self.shared.control.notify_one();
        let gone = crate::poll(crate::DEADLINE, || {
            (!*lock(&self.shared.listening)).then_some(())
        });
        assert!(gone.is_some(), "the proxy did not stop listening");
        // Cut after the socket is gone, so no connection slips in between.
        self.cut();
    }

    /// Whether the socket accepts connections now.
    pub fn listening(&self) -> bool {
        *lock(&self.shared.listening)
    }
}

impl Drop for SockProxy {
    fn drop(&mut self) {
        self.cut();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the proxy's state from the others.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The path's segments, the query cut off and a `/vX.Y` prefix skipped.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut parts = path.split('/').filter(|s| !s.is_empty()).peekable();
    if parts.peek().is_some_and(|first| is_version(first)) {
        parts.next();
    }
    parts
}

/// `v1.41` and the like.
fn is_version(segment: &str) -> bool {
    segment.strip_prefix('v').is_some_and(|rest| {
        rest.split_once('.').is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

async fn accept_loop(shared: Arc<Shared>, listener: UnixListener, socket: PathBuf) {
    let mut listener = Some(listener);
    loop {
        let refuse_until = *lock(&shared.refuse_until);
        if let Some(until) = refuse_until.filter(|until| *until > Instant::now()) {
            if listener.take().is_some() {
                let _ = std::fs::remove_file(&socket);
                *lock(&shared.listening) = false;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = shared.control.notified() => {}
            }
            continue;
        }
        let current = match listener.as_ref() {
            Some(current) => current,
            None => match UnixListener::bind(&socket) {
                Ok(bound) => {
                    *lock(&shared.listening) = true;
                    listener.insert(bound)
                }
                Err(e) => {
                    eprintln!(
                        "sockproxy: cannot listen again on {}: {e}",
                        socket.display()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::select! {
            accepted = current.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(serve(Arc::clone(&shared), client));
                }
            }
            _ = shared.control.notified() => {}
        }
    }
}

/// One client connection: one request checked and forwarded (or refused).
async fn serve(shared: Arc<Shared>, mut client: UnixStream) {
    let mut cut = shared.cut.subscribe();
    tokio::select! {
        _ = forward(&shared, &mut client) => {}
        _ = cut.changed() => {}
    }
}

async fn forward(shared: &Shared, client: &mut UnixStream) {
    let mut buffer = Vec::with_capacity(4096);
    let head_len = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > MAX_HEAD {
            return;
        }
        let mut chunk = [0u8; 4096];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_len]).into_owned();
    let mut request_line = head.lines().next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_owned();
    let target = request_line.next().unwrap_or("").to_owned();
    let allowed = shared
        .rules
        .iter()
        .any(|rule| rule.matches(&method, &target));
    lock(&shared.seen).push(Seen {
        method: method.clone(),
        target: target.clone(),
        allowed,
    });
    if !allowed {
        let body = format!(
            "{{\"message\":\"forbidden by the test proxy: {method} {}\"}}",
            target.replace(['"', '\\'], "")
        );
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(answer.as_bytes()).await;
        let _ = client.shutdown().await;
        return;
    }
    let Ok(mut engine) = UnixStream::connect(ENGINE).await else {
        let answer = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = client.write_all(answer.as_bytes()).await;
        return;
    };
    // The same head with `Connection: close`, unless it asks for an upgrade
    // (then the connection is the upgraded stream's and stays as it is).
    let upgrade = head
        .lines()
        .any(|line| header_name(line).is_some_and(|n| n.eq_ignore_ascii_case("upgrade")));
    let mut out = String::with_capacity(head.len() + 20);
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if !upgrade && header_name(line).is_some_and(|n| n.eq_ignore_ascii_case("connection")) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    if !upgrade {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    if engine.write_all(out.as_bytes()).await.is_err()
        || engine.write_all(&buffer[head_len..]).await.is_err()
    {
        return;
    }
    let (mut client_read, mut client_write) = client.split();
    let (mut engine_read, mut engine_write) = engine.split();
    // The answer decides when the exchange is over; the request side may
    // end first (no body) and then simply waits.
    tokio::select! {
        _ = tokio::io::copy(&mut engine_read, &mut client_write) => {}
        _ = async {
            let _ = tokio::io::copy(&mut client_read, &mut engine_write).await;
            std::future::pending::<()>().await
        } => {}
    }
    let _ = client_write.shutdown().await;
}

/// The name of a header line (`Name: value`), if it is one.
fn header_name(line: &str) -> Option<&str> {
    let (name, _) = line.split_once(':')?;
    (!name.is_empty() && !name.contains(' ')).then_some(name)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_with_or_without_the_version_prefix() {
        let logs = Rule::new("GET", "/containers/*/logs");
        assert!(logs.matches("GET", "/v1.41/containers/abc/logs?follow=1"));
        assert!(logs.matches("get", "/containers/abc/logs"));
        assert!(!logs.matches("POST", "/containers/abc/logs"));
        assert!(!logs.matches("GET", "/containers/abc/logs/x"));
        assert!(!logs.matches("GET", "/v1.41/containers/json"));
        let list = Rule::new("GET", "/containers/json");
        assert!(list.matches("GET", "/v1.41/containers/json?all=true"));
        assert!(!list.matches("GET", "/v1/containers/json"));
        assert!(!Rule::new("GET", "/_ping").matches("GET", "/v1.41/containers/_ping"));
    }

    #[test]
    fn header_names_are_read_from_header_lines_only() {
        assert_eq!(header_name("Connection: keep-alive"), Some("Connection"));
        assert_eq!(header_name("GET /a:b HTTP/1.1"), None);
    }
}

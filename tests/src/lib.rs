//! End-to-end test harness: the real `wakeline` binary against the real Docker engine.
//!
//! Nothing is mocked. The harness builds the collector and the static `emit` program
//! with cargo, turns `emit` into an image with `docker import` (nothing can be pulled
//! from a registry), runs containers through the docker CLI, and talks to the
//! collector only through its HTTP API — the contract of DESIGN.md. Tests therefore
//! see exactly what a user would see.
//!
//! Two rules keep the tests honest and parallel-safe:
//! - waiting is [`poll`]ing a condition with a deadline, never a bare sleep;
//! - the collector follows *every* container on the host, including those of tests
//!   running at the same time, so every query filters by the test's own containers.

mod artifacts;
mod browser;
mod collector;
pub mod demo;
mod docker;
pub mod image;
mod live;
pub mod records;
pub mod sockproxy;
mod time;

pub use artifacts::{collector_binary, emit_image};
pub use browser::Browser;
pub use collector::{Collector, Response};
pub use docker::{Container, ContainerSpec, docker};
pub use live::{Live, NoMessage};
pub use sockproxy::{Rule, SockProxy};
pub use time::{format_ts, parse_ts};

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The usual deadline for something the collector should do "soon".
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Calls `check` until it returns `Some`, or gives up at the deadline and returns `None`.
///
/// Between attempts it pauses briefly: that pause is pacing, not the wait itself.
pub fn poll<T>(deadline: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the unlabelled sample `name` in a `/metrics` body
/// (`NAME VALUE` lines of the Prometheus text format); a labelled sample is
/// named with its labels, as in `NAME{le="+Inf"}`.
pub fn metric<T: std::str::FromStr>(body: &str, name: &str) -> Option<T> {
    body.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// The workspace root, found from this crate's manifest directory (`<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("the e2e crate lives in <workspace>/tests")
        .to_path_buf()
}

/// The line `emit size:STREAM:N` writes, without its `\n`: `S<N>:` then the digit
/// at index i is `i % 10`, cut to exactly `n` bytes.
pub fn sized_line(n: usize) -> String {
    let mut line = format!("S{n}:");
    line.truncate(n);
    while line.len() < n {
        let digit = (line.len() % 10) as u8;
        line.push(char::from(b'0' + digit));
    }
    line
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved bytes).
pub fn enc(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Builds `key=value&…` with every value percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", enc(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A name fragment unique to this process and test, usable in container names,
/// compose project labels and request IDs (lowercase letters, digits, `_`).
pub fn unique(test: &str) -> String {
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("wlt{}_{clean}", std::process::id())
}

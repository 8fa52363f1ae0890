//! End-to-end tests of the browser UI: the real `wakeline` binary serving its
//! embedded UI to a real headless Chromium (WebDriver, through chromedriver),
//! real containers writing the lines.
//!
//! Each test starts its own collector, browser and uniquely named containers, and
//! opens pages filtered by its own containers (or by a query term only it writes):
//! the collector sees every container on the host, other tests' included.
//! Assertions are on what the page shows — the UI's stable hooks (`.row[data-seq]`,
//! `#total[data-total]`, `svg#chart[data-total]`, …) — and, where the page claims
//! something about the data, on the API's own answer for the same question.
//! Waiting is polling the page with a deadline ([`Browser::wait`]).

mod live;
mod request;
mod screenshots;
mod search;
mod security;

use std::sync::atomic::{AtomicU32, Ordering};

use wakeline_e2e::records::data_dir;
use wakeline_e2e::{Browser, Collector, Container, ContainerSpec, enc, query};

/// A word only this test run writes: letters and digits, so the index's
/// tokenizer keeps it as one token and a query for it matches only our lines.
fn term(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .subsec_nanos();
    format!("{tag}{}x{n}x{nanos}", std::process::id())
}

/// An `emit` step writing `text` (any bytes: control characters too) and a
/// newline on `stream`, as hex pairs: arguments reach `emit` through Docker's
/// JSON API, and hex keeps escape bytes exactly as written.
fn raw(stream: &str, text: &str) -> String {
    let hex: Vec<String> = text
        .bytes()
        .chain(std::iter::once(b'\n'))
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("hex:{stream}:{}", hex.join(" "))
}

/// Runs a container of `emit` with `steps` (owned strings), optionally in a compose service.
fn run(test: &str, service: Option<&str>, steps: &[String]) -> Container {
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let mut spec = ContainerSpec::new(test, &steps);
    if let Some(service) = service {
        spec = spec.service(service);
    }
    spec.run()
}

/// Waits until the collector has indexed `n` lines of `container`, so a page
/// opened now finds them in the index rather than only live.
fn wait_indexed(collector: &Collector, container: &Container, n: u64) {
    collector.wait_total(&[("container", container.name.as_str())], n);
}

/// Asserts that the page shows exactly one row per expected text, in order,
/// each containing it. A row shows the line's human message: for a plain line
/// `ERROR x` the UI may show `x` with the level in its own cell, so the
/// expected texts leave level prefixes out.
#[track_caller]
fn assert_rows(rows: &[String], expected: &[&str]) {
    assert_eq!(
        rows.len(),
        expected.len(),
        "rows {rows:?}, expected one per {expected:?}"
    );
    for (row, text) in rows.iter().zip(expected) {
        assert!(
            row.contains(text),
            "row {row:?} should show {text:?}: {rows:?}"
        );
    }
}

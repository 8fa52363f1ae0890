//! End-to-end tests of the collector: real Docker containers running `emit`, the real
//! `wakeline` binary, and assertions only on what its HTTP API returns.
//!
//! Each test starts its own collector on a fresh data dir and its own uniquely named
//! containers. The collector follows every container on the host (other tests' too),
//! so every query filters by this test's containers (`container=<name>`, or
//! `q=project:<unique>`), and request IDs are unique per test run. Each test polls
//! the API with a deadline until the expected lines are there, then checks exact
//! counts and fields. One test binary (so the collector and the `emit` image are
//! built once), one module per area of the contract.

mod churn;
mod cli;
mod crash;
mod endpoints;
mod faults;
mod files;
mod follow;
mod hostile;
mod lines;
mod live;
mod load;
mod multiline;
mod parse;
mod pruning;
mod requests;
mod retention;
mod search;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use wakeline_e2e::records::{
    assert_each_once, assert_not_truncated, assert_record_of, by_container, data_dir, hit,
    messages, order_key, short, unique_trace_id, wait_records,
};
use wakeline_e2e::{
    Collector, Container, ContainerSpec, DEADLINE, collector_binary, docker, format_ts, metric,
    parse_ts, poll, query, sized_line, unique,
};

const MIB: usize = 1024 * 1024;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

#[test]
fn emit_image_writes_its_steps_to_docker_logs() {
    let container = ContainerSpec::new(
        "emit_image",
        &["out:hello world", "err:oops", "size:out:12"],
    )
    .run();
    container.wait_exited(DEADLINE);
    let logs = container.docker_logs();
    assert!(logs.contains("hello world\n"), "{logs:?}");
    assert!(logs.contains("oops\n"), "{logs:?}");
    assert!(logs.contains(&format!("{}\n", sized_line(12))), "{logs:?}");
}

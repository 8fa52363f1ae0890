//! Reading records out of API answers: the small checks every test repeats.
//!
//! Records come back as JSON; these helpers find them by message, order them the
//! way the API promises (`ts`, then `seq`), check the fields every record must carry,
//! and shorten 1 MiB messages so a failure message stays readable.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{Collector, Container, parse_ts};

/// A fresh, empty data dir for one collector; removed when dropped.
pub fn data_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("wakeline-e2e-data-")
        .tempdir()
        .expect("create a data dir")
}

/// A 32-hex trace ID unique to this run (the request view is global to the host).
pub fn unique_trace_id(salt: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as u64;
    format!("{:016x}{:08x}{:08x}", nanos, std::process::id(), salt)
}

/// The `message` of each hit, in order.
pub fn messages(hits: &[Value]) -> Vec<&str> {
    hits.iter()
        .map(|h| h["message"].as_str().unwrap_or("<no message>"))
        .collect()
}

/// The one hit whose message is exactly `message`.
pub fn hit<'a>(hits: &'a [Value], message: &str) -> &'a Value {
    let found: Vec<&Value> = hits.iter().filter(|h| h["message"] == message).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one record with message {message:?}, messages are {:?}",
        messages(hits)
    );
    found[0]
}

/// `(ts in ns, seq)`: the total order the API promises.
pub fn order_key(record: &Value) -> (i128, u64) {
    let ts = record["ts"].as_str().and_then(parse_ts);
    let seq = record["seq"].as_u64();
    match (ts, seq) {
        (Some(ts), Some(seq)) => (ts, seq),
        _ => panic!("record without a valid RFC 3339 `ts` or numeric `seq`: {record}"),
    }
}

/// `truncated` is absent (or false) on a line that was not cut.
pub fn assert_not_truncated(record: &Value) {
    assert!(
        record.get("truncated").is_none() || record["truncated"] == false,
        "`truncated` must appear only on cut lines: {}",
        short(record)
    );
}

/// A record without its (possibly huge) message, for failure output.
pub fn short(record: &Value) -> Value {
    let mut record = record.clone();
    if let Some(message) = record.get_mut("message")
        && let Some(text) = message.as_str()
        && text.len() > 200
    {
        *message = json!(format!("{}… ({} bytes)", &text[..100], text.len()));
    }
    record
}

/// Fields every record of `container` must carry.
pub fn assert_record_of(record: &Value, container: &Container) {
    assert_eq!(
        record["container"],
        container.name.as_str(),
        "{}",
        short(record)
    );
    assert_eq!(
        record["container_id"],
        container.id.as_str(),
        "{}",
        short(record)
    );
    let image = record["image"].as_str().unwrap_or_default();
    assert!(
        image.contains("wakeline-test-emit"),
        "image: {}",
        short(record)
    );
    let host = record["host"].as_str().unwrap_or_default();
    assert!(
        !host.is_empty(),
        "host must be the Docker host's name: {}",
        short(record)
    );
    assert!(
        record["stream"] == "stdout" || record["stream"] == "stderr",
        "stream: {}",
        short(record)
    );
    let ts = record["ts"].as_str().unwrap_or_default();
    let fraction = ts.split_once('.').map(|(_, f)| f.trim_end_matches('Z'));
    assert!(
        parse_ts(ts).is_some() && fraction.is_some_and(|f| f.len() == 9),
        "ts must be RFC 3339 with nanoseconds: {}",
        short(record)
    );
    order_key(record);
}

/// The search filter for one container's records (exact name).
pub fn by_container(container: &Container) -> Vec<(&'static str, &str)> {
    vec![("container", container.name.as_str())]
}

/// Waits for exactly `n` records of `container` and returns them oldest first.
pub fn wait_records(collector: &Collector, container: &Container, n: u64) -> Vec<Value> {
    let filter = by_container(container);
    let total = collector.wait_total(&filter, n);
    let hits = collector.all_hits(&filter);
    assert_eq!(
        total,
        n,
        "total for {}: {:?}",
        container.name,
        messages(&hits)
    );
    assert_eq!(
        hits.len() as u64,
        n,
        "hits for {}: {:?}",
        container.name,
        messages(&hits)
    );
    hits
}

/// Asserts that the records' messages are `PREFIX1` … `PREFIXn`, each exactly
/// once, and nothing else; `context` is shown on failure.
pub fn assert_each_once(hits: &[Value], prefix: &str, n: u64, context: &str) {
    let mut counts: std::collections::BTreeMap<u64, u32> = Default::default();
    for record in hits {
        let message = record["message"].as_str().unwrap_or_default();
        let number: u64 = message
            .strip_prefix(prefix)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected record {record} ({context})"));
        *counts.entry(number).or_default() += 1;
    }
    let missing: Vec<u64> = (1..=n).filter(|i| !counts.contains_key(i)).collect();
    let repeated: Vec<(u64, u32)> = counts
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(i, c)| (*i, *c))
        .collect();
    assert!(
        missing.is_empty() && repeated.is_empty(),
        "{context}: {} missing (first {:?}), {} repeated (first {:?})",
        missing.len(),
        &missing[..missing.len().min(10)],
        repeated.len(),
        &repeated[..repeated.len().min(10)],
    );
    assert_eq!(hits.len() as u64, n, "{context}");
}

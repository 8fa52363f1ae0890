//! End-to-end tests of the collector: real Docker containers running `emit`, the real
//! `wakeline` binary, and assertions only on what its HTTP API returns.
//!
//! Each test starts its own collector on a fresh data dir and its own uniquely named
//! containers. The collector follows every container on the host (other tests' too),
//! so every query filters by this test's containers (`container=<name>`, or
//! `q=project:<unique>`), and request IDs are unique per test run. Each test polls
//! the API with a deadline until the expected lines are there, then checks exact
//! counts and fields.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use wakeline_e2e::{
    Collector, Container, ContainerSpec, DEADLINE, collector_binary, docker, format_ts, parse_ts,
    poll, query, sized_line, unique,
};

const MIB: usize = 1024 * 1024;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn data_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("wakeline-e2e-data-")
        .tempdir()
        .expect("create a data dir")
}

/// A 32-hex trace ID unique to this run (the request view is global to the host).
fn unique_trace_id(salt: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!("{:016x}{:08x}{:08x}", nanos, std::process::id(), salt)
}

fn messages(hits: &[Value]) -> Vec<&str> {
    hits.iter()
        .map(|h| h["message"].as_str().unwrap_or("<no message>"))
        .collect()
}

/// The one hit whose message is exactly `message`.
fn hit<'a>(hits: &'a [Value], message: &str) -> &'a Value {
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
fn order_key(record: &Value) -> (i128, u64) {
    let ts = record["ts"].as_str().and_then(parse_ts);
    let seq = record["seq"].as_u64();
    match (ts, seq) {
        (Some(ts), Some(seq)) => (ts, seq),
        _ => panic!("record without a valid RFC 3339 `ts` or numeric `seq`: {record}"),
    }
}

fn assert_not_truncated(record: &Value) {
    assert!(
        record.get("truncated").is_none() || record["truncated"] == false,
        "`truncated` must appear only on cut lines: {}",
        short(record)
    );
}

/// A record without its (possibly huge) message, for failure output.
fn short(record: &Value) -> Value {
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
fn assert_record_of(record: &Value, container: &Container) {
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

fn by_container(container: &Container) -> Vec<(&'static str, &str)> {
    vec![("container", container.name.as_str())]
}

/// Waits for exactly `n` records of `container` and returns them oldest first.
fn wait_records(collector: &Collector, container: &Container, n: u64) -> Vec<Value> {
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

// ---------------------------------------------------------------- the harness itself

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

// ---------------------------------------------------------------- parsing

#[test]
fn json_lines_extract_level_ids_and_fields() {
    let project = unique("json");
    let lines = [
        r#"{"level":"warn","msg":"hi","request_id":"r1","user_id":42}"#,
        r#"{"lvl":"ERROR","requestId":"r2","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","n":1.5}"#,
        r#"{"severity":"Info","req_id":"r3","nested":{"a":[1,2]}}"#,
        r#"{"level":"WARNING","x_request_id":"r4","msg":"w"}"#,
        r#"{"level":"debug","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","msg":"x"}"#,
    ];
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let steps = [
        format!("out:{}", lines[0]),
        format!("err:{}", lines[1]),
        format!("out:{}", lines[2]),
        format!("out:{}", lines[3]),
        format!("out:{}", lines[4]),
    ];
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let container = ContainerSpec::new("json", &steps)
        .project(&project)
        .service("api")
        .run();
    let hits = wait_records(&collector, &container, 5);

    for record in &hits {
        assert_record_of(record, &container);
        assert_not_truncated(record);
        assert_eq!(record["project"], project.as_str(), "{record}");
        assert_eq!(record["service"], "api", "{record}");
    }

    let warn = hit(&hits, lines[0]);
    assert_eq!(warn["level"], "warn", "{warn}");
    assert_eq!(warn["request_id"], "r1", "{warn}");
    assert_eq!(
        warn["fields"],
        json!({"msg": "hi", "user_id": 42}),
        "{warn}"
    );
    assert_eq!(warn["trace_id"], Value::Null, "{warn}");
    assert_eq!(warn["span_id"], Value::Null, "{warn}");
    assert_eq!(warn["stream"], "stdout", "{warn}");

    let error = hit(&hits, lines[1]);
    assert_eq!(error["level"], "error", "{error}");
    assert_eq!(error["request_id"], "r2", "{error}");
    assert_eq!(error["trace_id"], TRACE, "{error}");
    assert_eq!(error["span_id"], SPAN, "{error}");
    assert_eq!(error["fields"], json!({"n": 1.5}), "{error}");
    assert_eq!(error["stream"], "stderr", "{error}");

    let info = hit(&hits, lines[2]);
    assert_eq!(info["level"], "info", "{info}");
    assert_eq!(info["request_id"], "r3", "{info}");
    assert_eq!(info["fields"], json!({"nested": {"a": [1, 2]}}), "{info}");

    let warning = hit(&hits, lines[3]);
    assert_eq!(
        warning["level"], "warn",
        "WARNING is normalized to warn: {warning}"
    );
    assert_eq!(warning["request_id"], "r4", "{warning}");
    assert_eq!(warning["fields"], json!({"msg": "w"}), "{warning}");

    let debug = hit(&hits, lines[4]);
    assert_eq!(debug["level"], "debug", "{debug}");
    assert_eq!(
        debug["trace_id"], "0af7651916cd43dd8448eb211c80319c",
        "{debug}"
    );
    assert_eq!(debug["span_id"], "b7ad6b7169203331", "{debug}");

    // The compose labels are searchable.
    assert_eq!(collector.total(&[("q", &format!("project:{project}"))]), 5);
}

#[test]
fn logfmt_lines_extract_level_ids_and_fields() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let first = r#"level=info msg="hello world" request_id=abc user=7"#;
    let second = "level=ERROR msg=boom request_id=def code=500";
    let container = ContainerSpec::new(
        "logfmt",
        &[&format!("out:{first}"), &format!("err:{second}")],
    )
    .run();
    let hits = wait_records(&collector, &container, 2);

    let info = hit(&hits, first);
    assert_record_of(info, &container);
    assert_eq!(info["level"], "info", "{info}");
    assert_eq!(info["request_id"], "abc", "{info}");
    assert_eq!(
        info["fields"],
        json!({"msg": "hello world", "user": "7"}),
        "{info}"
    );
    assert_eq!(info["stream"], "stdout", "{info}");
    assert_eq!(info["trace_id"], Value::Null, "{info}");

    let error = hit(&hits, second);
    assert_eq!(error["level"], "error", "{error}");
    assert_eq!(error["request_id"], "def", "{error}");
    assert_eq!(
        error["fields"],
        json!({"msg": "boom", "code": "500"}),
        "{error}"
    );
    assert_eq!(error["stream"], "stderr", "{error}");
}

#[test]
fn plain_lines_take_leading_level_request_id_and_traceparent() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let failed = "ERROR something failed request_id=xyz";
    let warning = "WARNING disk almost full";
    let traced = format!("GET /api traceparent=00-{TRACE}-{SPAN}-01");
    let both = format!("INFO ok request_id=abc traceparent=00-{TRACE}-{SPAN}-01");
    let words = "just some words";
    let container = ContainerSpec::new(
        "plain",
        &[
            &format!("out:{failed}"),
            &format!("err:{warning}"),
            &format!("out:{traced}"),
            &format!("out:{both}"),
            &format!("out:{words}"),
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 5);
    for record in &hits {
        assert_record_of(record, &container);
        assert_not_truncated(record);
    }

    let record = hit(&hits, failed);
    assert_eq!(record["level"], "error", "{record}");
    assert_eq!(record["request_id"], "xyz", "{record}");

    let record = hit(&hits, warning);
    assert_eq!(record["level"], "warn", "{record}");
    assert_eq!(record["request_id"], Value::Null, "{record}");
    assert_eq!(record["stream"], "stderr", "{record}");

    let record = hit(&hits, &traced);
    assert_eq!(record["trace_id"], TRACE, "{record}");
    assert_eq!(record["span_id"], SPAN, "{record}");
    assert_eq!(
        record["request_id"], TRACE,
        "no request_id: the trace ID stands in: {record}"
    );

    let record = hit(&hits, &both);
    assert_eq!(record["level"], "info", "{record}");
    assert_eq!(
        record["request_id"], "abc",
        "an explicit request_id wins: {record}"
    );
    assert_eq!(record["trace_id"], TRACE, "{record}");

    let record = hit(&hits, words);
    for key in ["level", "request_id", "trace_id", "span_id"] {
        assert_eq!(
            record[key],
            Value::Null,
            "absent {key} must be null: {record}"
        );
        assert!(
            record.get(key).is_some(),
            "absent {key} must be present as null: {record}"
        );
    }
}

#[test]
fn stdout_and_stderr_lines_are_counted_exactly() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "streams",
        &["count:out:o=:1:2000:0", "count:err:e=:1:1500:0", "out:done"],
    )
    .run();
    let hits = wait_records(&collector, &container, 3501);
    let name = container.name.as_str();
    assert_eq!(
        collector.total(&[("container", name), ("stream", "stdout")]),
        2001
    );
    assert_eq!(
        collector.total(&[("container", name), ("stream", "stderr")]),
        1500
    );

    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for record in &hits {
        let message = record["message"].as_str().unwrap().to_string();
        let expected_stream = if message.starts_with("e=") {
            "stderr"
        } else {
            "stdout"
        };
        assert_eq!(record["stream"], expected_stream, "{record}");
        *seen.entry(message).or_default() += 1;
    }
    let expected: BTreeSet<String> = (1..=2000)
        .map(|i| format!("o={i}"))
        .chain((1..=1500).map(|i| format!("e={i}")))
        .chain(["done".to_string()])
        .collect();
    let found: BTreeSet<String> = seen.keys().cloned().collect();
    assert_eq!(found, expected);
    assert!(
        seen.values().all(|&n| n == 1),
        "duplicates: {:?}",
        seen.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------- following containers

#[test]
fn containers_started_before_after_and_short_lived_are_all_collected() {
    let before = ContainerSpec::new("before", &["out:before-1", "err:before-2", "stay"]).run();
    let seen = poll(DEADLINE, || {
        before.docker_logs().contains("before-2").then_some(())
    });
    assert!(seen.is_some(), "the engine never logged before-2");

    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let after = ContainerSpec::new("after", &["out:after-1", "stay"]).run();
    let quick = ContainerSpec::new("quick", &["out:quick"]).run();
    let quick_err = ContainerSpec::new("quick-err", &["err:quick-err"]).run();

    let hits = wait_records(&collector, &before, 2);
    assert_eq!(hit(&hits, "before-1")["stream"], "stdout");
    assert_eq!(hit(&hits, "before-2")["stream"], "stderr");
    assert_record_of(&hits[0], &before);

    let hits = wait_records(&collector, &after, 1);
    assert_eq!(hits[0]["message"], "after-1");
    assert_record_of(&hits[0], &after);

    let hits = wait_records(&collector, &quick, 1);
    assert_eq!(hits[0]["message"], "quick");
    assert_record_of(&hits[0], &quick);

    let hits = wait_records(&collector, &quick_err, 1);
    assert_eq!(hits[0]["message"], "quick-err");
    assert_eq!(hits[0]["stream"], "stderr");
}

#[test]
fn restarted_container_keeps_every_line_once() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "restarted",
        &["stamp:out:run=", "count:out:l=:1:50:0", "stay"],
    )
    .run();
    let filter = by_container(&container);
    collector.wait_total(&filter, 51);
    container.restart();
    collector.wait_total(&filter, 102);
    container.stop();
    container.start();
    let hits = wait_records(&collector, &container, 153);

    for record in &hits {
        assert_record_of(record, &container);
    }
    // Oldest first, the three runs follow each other: `run=…` then l=1..=50.
    let expected: Vec<String> = (1..=50).map(|i| format!("l={i}")).collect();
    let mut stamps = BTreeSet::new();
    for (run, chunk) in hits.chunks(51).enumerate() {
        let message = chunk[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("run="),
            "run {run} starts with {message:?}"
        );
        stamps.insert(message.to_string());
        let got: Vec<&str> = messages(&chunk[1..]);
        assert_eq!(got, expected, "run {run}");
    }
    assert_eq!(stamps.len(), 3, "three distinct runs: {stamps:?}");
}

#[test]
fn removed_and_recreated_container_keeps_both_lives() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let spec = ContainerSpec::new(
        "recreated",
        &["stamp:out:life=", "count:out:l=:1:50:0", "stay"],
    );
    let first = spec.run();
    let first_id = first.id.clone();
    collector.wait_total(&[("container", spec.name())], 51);
    first.remove();
    let second = spec.run();
    assert_ne!(first_id, second.id);
    let hits = wait_records(&collector, &second, 102);

    let expected: Vec<String> = (1..=50).map(|i| format!("l={i}")).collect();
    for id in [&first_id, &second.id] {
        let life: Vec<Value> = hits
            .iter()
            .filter(|h| h["container_id"] == id.as_str())
            .cloned()
            .collect();
        assert_eq!(
            life.len(),
            51,
            "records of container {id}: {:?}",
            messages(&life)
        );
        assert!(
            life[0]["message"].as_str().unwrap().starts_with("life="),
            "{}",
            life[0]
        );
        assert_eq!(messages(&life[1..]), expected, "container {id}");
        assert!(
            life.iter().all(|h| h["container"] == spec.name()),
            "name kept: {life:?}"
        );
    }

    let (status, body) = collector.get("/api/containers");
    assert_eq!(status, 200, "{body}");
    let containers = body["containers"].as_array().expect("containers list");
    let entry = containers.iter().find(|c| c["id"] == second.id.as_str());
    let entry = entry.unwrap_or_else(|| panic!("no entry for {}: {body}", second.id));
    assert_eq!(entry["name"], spec.name(), "{entry}");
    assert_eq!(entry["lines"], 51, "{entry}");
}

// ---------------------------------------------------------------- long lines, TTY, bytes

#[test]
fn lines_of_16383_16384_16385_bytes_are_one_record_each() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "sizes",
        &[
            "size:out:16383",
            "size:out:16384",
            "size:out:16385",
            "size:err:40000",
            "out:after",
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 5);
    for n in [16383, 16384, 16385, 40000] {
        let expected = sized_line(n);
        let record = hits
            .iter()
            .find(|h| {
                h["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&format!("S{n}:")))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no record of the {n}-byte line: {:?}",
                    hits.iter().map(short).collect::<Vec<_>>()
                )
            });
        let message = record["message"].as_str().unwrap();
        assert_eq!(message.len(), n, "the {n}-byte line: {}", short(record));
        assert!(
            message == expected,
            "the {n}-byte line differs from what was written: {}",
            short(record)
        );
        assert_not_truncated(record);
    }
    assert_eq!(hit(&hits, "after")["stream"], "stdout");
}

#[test]
fn line_over_1mib_is_cut_to_1mib_and_flagged() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "mib",
        &["size:out:1048576", "size:out:1048577", "out:after-big"],
    )
    .run();
    let filter = by_container(&container);
    collector.wait_total_within(&filter, 3, Duration::from_secs(90));
    let hits = wait_records(&collector, &container, 3);

    let exact = hits
        .iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("S1048576:"))
        })
        .unwrap_or_else(|| panic!("no record of the 1 MiB line"));
    assert_eq!(
        exact["message"].as_str().unwrap().len(),
        MIB,
        "{}",
        short(exact)
    );
    assert!(
        exact["message"] == sized_line(MIB).as_str(),
        "{}",
        short(exact)
    );
    assert_not_truncated(exact);

    let cut = hits
        .iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("S1048577:"))
        })
        .unwrap_or_else(|| panic!("no record of the 1 MiB + 1 line"));
    let message = cut["message"].as_str().unwrap();
    assert_eq!(
        message.len(),
        MIB,
        "cut to the 1 MiB maximum: {}",
        short(cut)
    );
    assert!(
        sized_line(MIB + 1).starts_with(message),
        "the cut keeps the start: {}",
        short(cut)
    );
    assert_eq!(cut["truncated"], true, "{}", short(cut));

    assert_not_truncated(hit(&hits, "after-big"));
}

#[test]
fn max_line_bytes_flag_sets_the_cut() {
    let dir = data_dir();
    // 1 KiB is the smallest maximum the collector accepts.
    let collector = Collector::start_with(dir.path(), &["--max-line-bytes", "1024"]);
    let container = ContainerSpec::new(
        "maxbytes",
        &[
            "size:out:1024",
            "size:out:1025",
            "size:err:20000",
            "out:short",
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 4);
    for (n, cut) in [(1024, false), (1025, true), (20000, true)] {
        let record = hits
            .iter()
            .find(|h| {
                h["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&format!("S{n}:")))
            })
            .unwrap_or_else(|| panic!("no record of the {n}-byte line: {:?}", messages(&hits)));
        assert_eq!(
            record["message"],
            sized_line(n)[..1024],
            "{}",
            short(record)
        );
        if cut {
            assert_eq!(record["truncated"], true, "{}", short(record));
        } else {
            assert_not_truncated(record);
        }
    }
    assert_not_truncated(hit(&hits, "short"));
}

#[test]
fn tty_lines_have_no_carriage_return() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("tty", &["out:tty-one", "err:tty-two", "size:out:20000"])
        .tty()
        .run();
    let hits = wait_records(&collector, &container, 3);
    assert_eq!(hit(&hits, "tty-one")["stream"], "stdout");
    // On a TTY both streams are the terminal, which Docker reports as stdout.
    assert_eq!(hit(&hits, "tty-two")["stream"], "stdout");
    let long = hit(&hits, &sized_line(20000));
    assert_not_truncated(long);
    for record in &hits {
        assert!(
            !record["message"].as_str().unwrap().contains('\r'),
            "CR kept: {}",
            short(record)
        );
    }
}

#[test]
fn invalid_utf8_bytes_keep_the_line() {
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "utf8",
        &[
            "out:before-bad",
            "hex:out:66 6f 6f ff fe 62 61 72 0a",
            "hex:err:c3 28 0a",
            "hex:out:e2 82 0a",
            "out:after-bad",
            // A last line without a newline reaches the log when stdout closes.
            "hex:out:6e 6f 2d 6e 6c",
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 6);
    let texts = messages(&hits);
    assert!(texts.contains(&"before-bad"), "{texts:?}");
    assert!(texts.contains(&"after-bad"), "{texts:?}");
    assert!(texts.contains(&"no-nl"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|m| m.starts_with("foo") && m.ends_with("bar") && m.len() > 6),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|m| m.ends_with('(') && m.len() > 1),
        "{texts:?}"
    );
    assert_eq!(collector.exited(), None, "the collector died");
    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn empty_crlf_and_ansi_lines_are_stored_as_written() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "odd-lines",
        &[
            "out:",
            "out:   ",
            // "ab\r\n": a CRLF ending is a line ending, not content.
            "hex:out:61 62 0d 0a",
            // ANSI colours are kept for the UI to render.
            "hex:err:1b 5b 33 31 6d 72 65 64 1b 5b 30 6d 0a",
            "out:end",
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 5);
    let texts = messages(&hits);
    for expected in ["", "   ", "ab", "\u{1b}[31mred\u{1b}[0m", "end"] {
        assert!(texts.contains(&expected), "{expected:?} not in {texts:?}");
    }
}

#[test]
fn many_containers_at_once_lose_no_line() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let containers: Vec<Container> = (0..8)
        .map(|i| {
            ContainerSpec::new(
                &format!("many{i}"),
                &["count:out:x=:1:300:0", "count:err:y=:1:100:0"],
            )
            .run()
        })
        .collect();
    for container in &containers {
        let hits = wait_records(&collector, container, 400);
        let unique: BTreeSet<&str> = messages(&hits).into_iter().collect();
        assert_eq!(unique.len(), 400, "{}", container.name);
    }
}

#[test]
fn renamed_container_repeats_no_line() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("rename", &["count:out:rn=:1:0:20000"]).run();
    collector.wait_total(&by_container(&container), 5);
    let new_name = format!("{}-renamed", container.name);
    docker(&["rename", &container.id, &new_name]);
    collector.wait_total(&[("container", &new_name)], 5);
    container.stop();
    let last_line = docker(&["logs", "--tail", "1", &container.id]);
    let last: u64 = last_line
        .trim()
        .strip_prefix("rn=")
        .unwrap()
        .parse()
        .unwrap();

    // Every number once, under one name or the other, with no hole.
    let names = [container.name.as_str(), new_name.as_str()];
    let mut seen = 0;
    let all_in = poll(DEADLINE, || {
        seen = names
            .iter()
            .map(|name| collector.total(&[("container", name)]))
            .sum();
        (seen >= last).then_some(())
    });
    assert!(
        all_in.is_some(),
        "{seen} of {last} lines under the two names"
    );
    let mut numbers: Vec<u64> = Vec::new();
    for name in names {
        for record in collector.all_hits(&[("container", name)]) {
            assert_eq!(record["container_id"], container.id.as_str());
            let n = record["message"]
                .as_str()
                .and_then(|m| m.strip_prefix("rn="))
                .unwrap();
            numbers.push(n.parse().unwrap());
        }
    }
    numbers.sort_unstable();
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(numbers, expected, "each line once across the rename");
}

// ---------------------------------------------------------------- request view

#[test]
fn request_id_is_traced_across_three_containers_oldest_first() {
    let rid = unique("req");
    let other = format!("{rid}_other");
    let project = unique("req");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let api = ContainerSpec::new(
        "req-api",
        &[
            &format!(r#"out:{{"level":"info","msg":"received","request_id":"{rid}"}}"#),
            &format!(r#"out:{{"level":"info","msg":"unrelated","request_id":"{other}"}}"#),
            &format!(r#"err:{{"level":"error","msg":"failed","request_id":"{rid}"}}"#),
        ],
    )
    .project(&project)
    .service("api")
    .run();
    let auth = ContainerSpec::new(
        "req-auth",
        &[
            &format!("out:level=debug msg=check request_id={rid}"),
            &format!("out:level=warn msg=slow request_id={rid}"),
            "out:level=info msg=idle",
        ],
    )
    .project(&project)
    .service("auth")
    .run();
    let db = ContainerSpec::new("req-db", &[&format!("out:INFO query ok request_id={rid}")])
        .project(&project)
        .service("db")
        .run();

    let path = format!("/api/requests/{rid}");
    let mut last = Value::Null;
    let body = poll(DEADLINE, || {
        let (status, body) = collector.get(&path);
        assert_eq!(status, 200, "GET {path}: {body}");
        last = body.clone();
        let count = body["records"].as_array().map_or(0, Vec::len);
        (count >= 5).then_some(body)
    })
    .unwrap_or_else(|| panic!("GET {path}: expected 5 records, last answer {last}"));

    assert_eq!(body["request_id"], rid.as_str(), "{body}");
    let records = body["records"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{body}");
    for pair in records.windows(2) {
        assert!(
            order_key(&pair[0]) < order_key(&pair[1]),
            "not oldest first (ts, seq): {} then {}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        records.iter().all(|r| r["request_id"] == rid.as_str()),
        "{body}"
    );
    let per_container = |c: &Container| {
        records
            .iter()
            .filter(|r| r["container_id"] == c.id.as_str())
            .count()
    };
    assert_eq!(
        (
            per_container(&api),
            per_container(&auth),
            per_container(&db)
        ),
        (2, 2, 1),
        "{body}"
    );

    let services = body["services"].as_array().expect("services list");
    assert_eq!(services.len(), 3, "one summary per service: {body}");
    for (container, service, lines, max_level) in [
        (&api, "api", 2, "error"),
        (&auth, "auth", 2, "warn"),
        (&db, "db", 1, "info"),
    ] {
        let summary = services
            .iter()
            .find(|s| s["service"] == service)
            .unwrap_or_else(|| panic!("no summary for {service}: {body}"));
        assert_eq!(summary["container"], container.name.as_str(), "{summary}");
        assert_eq!(summary["lines"], lines, "{summary}");
        assert_eq!(summary["max_level"], max_level, "{summary}");
        let own: Vec<&Value> = records
            .iter()
            .filter(|r| r["container_id"] == container.id.as_str())
            .collect();
        let first = own.iter().map(|r| order_key(r).0).min().unwrap();
        let last = own.iter().map(|r| order_key(r).0).max().unwrap();
        assert_eq!(
            summary["first_ts"].as_str().and_then(parse_ts),
            Some(first),
            "{summary}"
        );
        assert_eq!(
            summary["last_ts"].as_str().and_then(parse_ts),
            Some(last),
            "{summary}"
        );
    }
}

#[test]
fn request_view_also_finds_records_by_trace_id() {
    let trace = unique_trace_id(1);
    let rid = unique("bytrace");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "bytrace",
        &[
            &format!(r#"out:{{"level":"info","request_id":"{rid}","trace_id":"{trace}","span_id":"{SPAN}"}}"#),
            &format!("out:WARN retry traceparent=00-{trace}-{SPAN}-01"),
        ],
    )
    .run();
    wait_records(&collector, &container, 2);
    let (status, body) = collector.get(&format!("/api/requests/{trace}"));
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().expect("records list");
    assert_eq!(records.len(), 2, "both lines carry the trace ID: {body}");
}

#[test]
fn unknown_request_id_gives_200_and_empty_lists() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let rid = unique("nobody");
    let (status, body) = collector.get(&format!("/api/requests/{rid}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"], json!([]), "{body}");
    assert_eq!(body["services"], json!([]), "{body}");
}

// ---------------------------------------------------------------- crash safety

#[test]
fn kill_9_at_several_moments_loses_and_repeats_nothing() {
    const LINES: u64 = 20_000;
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let container = ContainerSpec::new("kill9", &["count:out:seq=:1:20000:200"]).run();
    let filter = by_container(&container);

    // Where each kill landed, printed for the record (and shown on failure).
    let mut moments = Vec::new();
    let mut note = |collector: &Collector, what: &str| {
        let moment = format!(
            "{what}: {} indexed, container running: {}",
            collector.total(&filter),
            container.running()
        );
        eprintln!("kill_9 {moment}");
        moments.push(moment);
    };

    // 1: mid-stream, early.
    collector.wait_total_within(&filter, 500, Duration::from_secs(60));
    note(&collector, "first kill");
    collector.kill_9();
    collector.restart();
    // 2: right after start-up, while it is catching up.
    note(&collector, "second kill");
    collector.kill_9();
    collector.restart();
    // 3: later mid-stream; the container then finishes while no collector runs.
    collector.wait_total_within(&filter, 8_000, Duration::from_secs(90));
    note(&collector, "third kill");
    collector.kill_9();
    container.wait_exited(Duration::from_secs(120));
    collector.restart();

    let mut last = 0;
    let caught_up = poll(Duration::from_secs(120), || {
        last = collector.total(&filter);
        (last >= LINES).then_some(())
    });
    let hits = collector.all_hits(&filter);
    let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
    for record in &hits {
        let message = record["message"].as_str().unwrap_or_default();
        let n: u64 = message
            .strip_prefix("seq=")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected record {record}"));
        *counts.entry(n).or_default() += 1;
        assert_eq!(record["container_id"], container.id.as_str());
    }
    let missing: Vec<u64> = (1..=LINES).filter(|n| !counts.contains_key(n)).collect();
    let repeated: Vec<(u64, u32)> = counts
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, c)| (*n, *c))
        .collect();
    assert!(
        missing.is_empty() && repeated.is_empty(),
        "after kills ({moments:?}): {} missing (first {:?}), {} repeated (first {:?}), total {last}",
        missing.len(),
        &missing[..missing.len().min(10)],
        repeated.len(),
        &repeated[..repeated.len().min(10)],
    );
    assert!(caught_up.is_some(), "total stayed at {last}");
    assert_eq!(collector.total(&filter), LINES);
    assert_eq!(hits.len() as u64, LINES);
}

#[test]
fn container_that_ran_while_collector_was_down_is_collected() {
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let early = ContainerSpec::new("down-early", &["out:early"]).run();
    wait_records(&collector, &early, 1);
    collector.kill_9();

    let during = ContainerSpec::new("down-during", &["out:while-down-1", "err:while-down-2"]).run();
    during.wait_exited(DEADLINE);
    collector.restart();
    let hits = wait_records(&collector, &during, 2);
    assert_eq!(messages(&hits).len(), 2);
    assert_eq!(
        collector.total(&by_container(&early)),
        1,
        "nothing repeated"
    );
}

#[test]
fn container_restarted_while_collector_was_down_keeps_every_line_once() {
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "down-restart",
        &["stamp:out:run=", "count:out:l=:1:50:0", "stay"],
    )
    .run();
    wait_records(&collector, &container, 51);
    collector.kill_9();
    container.restart();
    let second_run = poll(DEADLINE, || {
        let logs = container.docker_logs();
        (logs.matches("run=").count() == 2 && logs.matches("l=50\n").count() == 2).then_some(())
    });
    assert!(second_run.is_some(), "the second run never wrote its lines");
    collector.restart();

    let hits = wait_records(&collector, &container, 102);
    let expected: Vec<String> = (1..=50).map(|i| format!("l={i}")).collect();
    for (run, chunk) in hits.chunks(51).enumerate() {
        assert!(
            chunk[0]["message"].as_str().unwrap().starts_with("run="),
            "run {run}"
        );
        assert_eq!(messages(&chunk[1..]), expected, "run {run}");
    }
}

// ---------------------------------------------------------------- containers endpoint

#[test]
fn containers_endpoint_lists_lines_and_reports_log_driver_none() {
    let project = unique("containers");
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let logged = ContainerSpec::new("listed", &["out:a1", "out:a2", "err:a3", "stay"])
        .project(&project)
        .service("web")
        .run();
    let silent = ContainerSpec::new("nologs", &["out:never-seen", "stay"])
        .no_logs()
        .run();

    let mut last = Value::Null;
    let found = poll(DEADLINE, || {
        let (status, body) = collector.get("/api/containers");
        assert_eq!(status, 200, "{body}");
        last = body.clone();
        let list = body["containers"].as_array()?;
        let logged_entry = list.iter().find(|c| c["id"] == logged.id.as_str())?.clone();
        let silent_entry = list.iter().find(|c| c["id"] == silent.id.as_str())?.clone();
        (logged_entry["lines"] == 3).then_some((logged_entry, silent_entry))
    });
    let (entry, silent_entry) = found.unwrap_or_else(|| {
        panic!("both containers with 3 lines for the first, last answer: {last}")
    });

    assert_eq!(entry["name"], logged.name.as_str(), "{entry}");
    assert!(
        entry["image"]
            .as_str()
            .unwrap_or_default()
            .contains("wakeline-test-emit"),
        "{entry}"
    );
    assert_eq!(entry["service"], "web", "{entry}");
    assert_eq!(entry["project"], project.as_str(), "{entry}");
    assert!(entry["state"].is_string(), "{entry}");
    let first = entry["first_ts"].as_str().and_then(parse_ts);
    let last_ts = entry["last_ts"].as_str().and_then(parse_ts);
    assert!(
        first.is_some() && last_ts.is_some() && first <= last_ts,
        "{entry}"
    );

    assert_eq!(silent_entry["name"], silent.name.as_str(), "{silent_entry}");
    assert!(
        silent_entry["lines"] == 0 || silent_entry["lines"].is_null(),
        "{silent_entry}"
    );
    let said: String = silent_entry
        .as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| {
            !matches!(
                key.as_str(),
                "id" | "name" | "image" | "service" | "project"
            )
        })
        .filter_map(|(_, value)| value.as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    assert!(
        said.contains("log"),
        "the entry must say the container has no logs: {silent_entry}"
    );

    let (status, body) = collector.get("/healthz");
    assert_eq!(
        status, 200,
        "a container without logs leaves the collector healthy: {body}"
    );
    assert_eq!(collector.exited(), None);
    // `lines` may count before the index commits; the search sees them after it.
    assert_eq!(collector.wait_total(&by_container(&logged), 3), 3);
}

// ---------------------------------------------------------------- search API

/// Five records, 30 ms apart, of every format, level and stream.
fn search_fixture(collector: &Collector, project: &str) -> (Container, Vec<Value>) {
    let container = ContainerSpec::new(
        "search",
        &[
            r#"out:{"level":"info","msg":"alpha one","request_id":"s1","user_id":42}"#,
            "sleep:30",
            r#"err:{"level":"error","msg":"beta two","request_id":"s2"}"#,
            "sleep:30",
            r#"out:level=warn msg="gamma three" user=9"#,
            "sleep:30",
            "err:plain delta four",
            "sleep:30",
            "out:INFO epsilon five",
        ],
    )
    .project(project)
    .service(&format!("{project}_svc"))
    .run();
    let hits = wait_records(collector, &container, 5);
    (container, hits)
}

#[test]
fn search_filters_by_text_field_level_stream_and_time() {
    let project = unique("search");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let (container, all) = search_fixture(&collector, &project);
    let name = container.name.as_str();
    let found = |params: &[(&str, &str)]| -> Vec<String> {
        let mut params = params.to_vec();
        params.push(("container", name));
        params.push(("order", "asc"));
        params.push(("limit", "100"));
        let body = collector.search(&params);
        let hits = body["hits"].as_array().unwrap_or_else(|| panic!("{body}"));
        assert_eq!(body["total"], hits.len(), "total for {params:?}: {body}");
        assert!(body["took_ms"].is_number(), "took_ms: {body}");
        messages(hits).into_iter().map(str::to_string).collect()
    };
    let msg = |i: usize| all[i]["message"].as_str().unwrap().to_string();
    assert!(
        msg(0).contains("alpha one") && msg(4) == "INFO epsilon five",
        "fixture order: {:?}",
        messages(&all)
    );

    assert_eq!(found(&[("q", "gamma")]), [msg(2)]);
    assert_eq!(found(&[("q", "alpha OR beta")]), [msg(0), msg(1)]);
    assert_eq!(found(&[("q", "\"alpha one\"")]), [msg(0)]);
    assert_eq!(found(&[("q", "level:error")]), [msg(1)]);
    assert_eq!(found(&[("q", "request_id:s2")]), [msg(1)]);
    assert_eq!(found(&[("q", "fields.user_id:42")]), [msg(0)]);
    assert_eq!(found(&[("request_id", "s2")]), [msg(1)]);
    assert_eq!(found(&[("level", "error")]), [msg(1)]);
    assert_eq!(found(&[("level", "info")]), [msg(0), msg(4)]);
    assert_eq!(found(&[("stream", "stderr")]), [msg(1), msg(3)]);
    assert_eq!(found(&[("stream", "stdout")]), [msg(0), msg(2), msg(4)]);
    assert_eq!(collector.total(&[("q", &format!("project:{project}"))]), 5);
    assert_eq!(
        collector.total(&[("service", &format!("{project}_svc"))]),
        5
    );

    // Bounds halfway between records, so inclusive/exclusive does not matter.
    let ts = |i: usize| order_key(&all[i]).0;
    let between = |i: usize| format_ts((ts(i) + ts(i + 1)) / 2);
    assert!(
        ts(0) < ts(1) && ts(1) < ts(2) && ts(2) < ts(3) && ts(3) < ts(4),
        "distinct timestamps"
    );
    assert_eq!(found(&[("since", &between(1))]), [msg(2), msg(3), msg(4)]);
    assert_eq!(found(&[("until", &between(1))]), [msg(0), msg(1)]);
    assert_eq!(
        found(&[("since", &between(0)), ("until", &between(3))]),
        [msg(1), msg(2), msg(3)]
    );
    assert_eq!(found(&[("since", "15m")]).len(), 5);
    assert_eq!(found(&[("since", "2h")]).len(), 5);
    assert_eq!(found(&[("until", "15m")]).len(), 0);
}

#[test]
fn container_filter_matches_the_exact_name_only() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let short = ContainerSpec::new("exact", &["out:exact-short"]);
    // Same name plus a suffix: a prefix or token match would mix the two up.
    let long = ContainerSpec::new("exact", &["out:exact-long", "out:exact-long-2"])
        .with_name(&format!("{}-0", short.name()));
    let short = short.run();
    let long = long.run();
    wait_records(&collector, &long, 2);
    let hits = wait_records(&collector, &short, 1);
    assert_eq!(messages(&hits), ["exact-short"]);
}

#[test]
fn record_ts_is_dockers_own_timestamp() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "dockerts",
        &["out:ts-1", "err:ts-2", "count:out:ts-n:3:20:1000"],
    )
    .run();
    let hits = wait_records(&collector, &container, 20);
    container.wait_exited(DEADLINE);
    // Both streams: `docker logs` writes the container's stderr to its own stderr.
    let output = Command::new("docker")
        .args(["logs", "--timestamps", &container.id])
        .output()
        .unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut docker_ts: BTreeMap<String, i128> = BTreeMap::new();
    for line in logs.lines() {
        let (ts, message) = line.split_once(' ').unwrap();
        docker_ts.insert(message.to_string(), parse_ts(ts).unwrap());
    }
    assert_eq!(docker_ts.len(), 20, "docker logs: {logs}");
    for record in &hits {
        let message = record["message"].as_str().unwrap();
        assert_eq!(
            Some(&order_key(record).0),
            docker_ts.get(message),
            "ts of {message:?}: record says {}, docker logs says {:?}",
            record["ts"],
            docker_ts.get(message).map(|ns| format_ts(*ns))
        );
    }
}

#[test]
fn search_limit_zero_order_and_cursor_pagination() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("pages", &["count:out:pg=:1:57:0"]).run();
    let all = wait_records(&collector, &container, 57);
    let name = container.name.as_str();
    let asc: Vec<String> = messages(&all).into_iter().map(str::to_string).collect();
    let expected: Vec<String> = (1..=57).map(|i| format!("pg={i}")).collect();
    assert_eq!(asc, expected, "order=asc is oldest first");

    let body = collector.search(&[("container", name), ("limit", "0")]);
    assert_eq!(body["total"], 57, "{body}");
    assert_eq!(
        body["hits"],
        json!([]),
        "limit=0 gives only the count: {body}"
    );

    let default = collector.search(&[("container", name), ("limit", "100")]);
    let newest_first: Vec<String> = expected.iter().rev().cloned().collect();
    assert_eq!(
        messages(default["hits"].as_array().unwrap()),
        newest_first,
        "newest first by default"
    );
    let desc = collector.search(&[("container", name), ("limit", "100"), ("order", "desc")]);
    assert_eq!(messages(desc["hits"].as_array().unwrap()), newest_first);

    for order in ["asc", "desc"] {
        let mut got: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0.. {
            assert!(page < 20, "pagination does not end: {got:?}");
            let mut params = vec![("container", name), ("limit", "10"), ("order", order)];
            if let Some(cursor) = cursor.as_deref() {
                params.push(("cursor", cursor));
            }
            let body = collector.search(&params);
            assert_eq!(body["total"], 57, "total on every page: {body}");
            let hits = body["hits"].as_array().unwrap();
            assert!(hits.len() <= 10, "{body}");
            got.extend(messages(hits).into_iter().map(str::to_string));
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        let want = if order == "asc" {
            expected.clone()
        } else {
            newest_first.clone()
        };
        assert_eq!(got, want, "every hit once, in {order} order");
    }
}

#[test]
fn bad_search_input_gets_400_json_never_500() {
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let deep = "(".repeat(10 * 1024);
    let bad: Vec<(&str, String)> = vec![
        ("q", "message:(".to_string()),
        ("q", deep),
        ("limit", "abc".to_string()),
        ("limit", "-1".to_string()),
        ("since", "yesterday-ish".to_string()),
        ("until", "yesterday-ish".to_string()),
        ("since", "2026-13-45T99:99:99Z".to_string()),
        ("order", "sideways".to_string()),
        ("cursor", "not a cursor!".to_string()),
        ("cursor", "AAAA".to_string()),
    ];
    for (key, value) in &bad {
        let path = format!("/api/search?{}", query(&[(key, value)]));
        let shown = format!("{key}={}", &value[..value.len().min(40)]);
        let response = collector.request(&path, None);
        assert_eq!(
            response.status,
            400,
            "{shown}: {}",
            &response.body[..response.body.len().min(500)]
        );
        assert!(
            response.json["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
                && response.json["detail"].is_string(),
            "{shown}: 400 body must be {{\"error\", \"detail\"}}: {}",
            response.body
        );
    }

    // Odd but not wrong: valid, or politely refused with a JSON error; never a 500.
    let mut words = String::new();
    for i in 0.. {
        if words.len() >= 10 * 1024 {
            break;
        }
        words.push_str(&format!("w{i} "));
    }
    let odd = [
        format!("/api/search?{}", query(&[("q", &words)])),
        "/api/search?limit=1000000000".to_string(),
        "/api/search?limit=99999999999999999999999".to_string(),
        "/api/search?q=%22unterminated".to_string(),
        "/api/search?q=%00%FF".to_string(),
        "/api/search?level=%E2%9C%93&stream=both".to_string(),
        "/api/requests/%E2%9C%93%20x".to_string(),
        format!("/api/requests/{}", "r".repeat(10 * 1024)),
    ];
    for path in &odd {
        let response = collector.request(path, None);
        let shown = &path[..path.len().min(60)];
        assert!(
            response.status == 200 || response.status == 400,
            "{shown}: {} {}",
            response.status,
            &response.body[..response.body.len().min(300)]
        );
        if response.status == 400 {
            assert!(
                response.json["error"].is_string(),
                "{shown}: {}",
                response.body
            );
        }
    }

    assert_eq!(collector.exited(), None, "bad input crashed the collector");
    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");
}

// ---------------------------------------------------------------- health, metrics, auth

#[test]
fn healthz_and_metrics_report_ingest() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("metrics", &["count:out:m=:1:20:0"]).run();
    wait_records(&collector, &container, 20);

    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.is_object(), "healthz answers JSON: {body}");

    let mut last = String::new();
    let ingested = poll(DEADLINE, || {
        let response = collector.request("/metrics", None);
        assert_eq!(response.status, 200, "{}", response.body);
        last = response.body.clone();
        let total: f64 = response
            .body
            .lines()
            .filter(|line| line.starts_with("wakeline_lines_ingested_total"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        (total >= 20.0).then_some(total)
    });
    assert!(
        ingested.is_some(),
        "wakeline_lines_ingested_total >= 20 expected in:\n{last}"
    );
}

#[test]
fn environment_variables_work_like_flags() {
    let dir = data_dir();
    let collector = Collector::start_with_env(
        dir.path(),
        &[],
        &[
            ("WAKELINE_AUTH_TOKEN", "env-token"),
            ("WAKELINE_MAX_LINE_BYTES", "2KiB"),
        ],
    );
    assert_eq!(collector.request("/api/containers", None).status, 401);
    let container = ContainerSpec::new("envcfg", &["size:out:3000"]).run();
    let hits = wait_records(&collector, &container, 1);
    assert_eq!(
        hits[0]["message"].as_str().map(str::len),
        Some(2048),
        "{}",
        short(&hits[0])
    );
    assert_eq!(hits[0]["truncated"], true, "{}", short(&hits[0]));
}

#[test]
fn auth_token_guards_every_route_but_healthz() {
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--auth-token", "s3cret-token"]);
    for path in [
        "/api/search?limit=0",
        "/api/containers",
        "/api/requests/abc",
        "/metrics",
    ] {
        assert_eq!(
            collector.request(path, None).status,
            401,
            "{path} without a token"
        );
        assert_eq!(
            collector.request(path, Some("wrong")).status,
            401,
            "{path} with a wrong token"
        );
        let response = collector.request(path, Some("s3cret-token"));
        assert_eq!(
            response.status, 200,
            "{path} with the token: {}",
            response.body
        );
    }
    let response = collector.request("/healthz", None);
    assert_eq!(
        response.status, 200,
        "/healthz stays open: {}",
        response.body
    );
}

// ---------------------------------------------------------------- command line

/// Runs `wakeline ARGS` to its exit (deadline 30 s); returns (status, stderr).
fn run_to_exit(args: &[&str]) -> (std::process::ExitStatus, String) {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(collector_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let status = poll(DEADLINE, || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("wakeline {args:?} still running after {DEADLINE:?}");
    };
    (status, std::fs::read_to_string(stderr.path()).unwrap())
}

fn non_empty_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .collect()
}

#[test]
fn bad_flag_exits_non_zero_with_one_line_error() {
    let (status, stderr) = run_to_exit(&["--no-such-flag"]);
    assert!(!status.success(), "exit status {status}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines = non_empty_lines(&stderr);
    assert_eq!(lines.len(), 1, "one-line error expected, got:\n{stderr}");
    assert!(
        lines[0].contains("--no-such-flag"),
        "the error names the flag: {stderr}"
    );
}

#[test]
fn unreachable_docker_host_exits_non_zero_with_one_line_error() {
    let dir = data_dir();
    let data = dir.path().to_str().unwrap();
    let (status, stderr) = run_to_exit(&[
        "--data-dir",
        data,
        "--listen",
        "127.0.0.1:0",
        "--docker-host",
        "unix:///nonexistent.sock",
    ]);
    assert!(!status.success(), "exit status {status}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for noise in ["Caused by", "backtrace", "Backtrace"] {
        assert!(
            !stderr.contains(noise),
            "one-line error expected, got:\n{stderr}"
        );
    }
    let lines = non_empty_lines(&stderr);
    let last = lines.last().copied().unwrap_or_default().to_lowercase();
    assert!(
        last.contains("nonexistent.sock") || last.contains("docker"),
        "the error says what failed:\n{stderr}"
    );
}

#[test]
fn help_explains_every_flag() {
    let output = Command::new(collector_binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--data-dir",
        "--listen",
        "--auth-token",
        "--docker-host",
        "--max-line-bytes",
        "--commit-interval",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}

// ---------------------------------------------------------------- live stream

/// Reads live messages until one has `message == last`; fails on a gap message.
fn read_live_until(live: &mut wakeline_e2e::Live, last: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let Some(message) = live.next(DEADLINE) else {
            panic!("no live message within {DEADLINE:?}; got so far: {got:?}");
        };
        assert!(
            message["type"] != "gap",
            "gap message: {message}; got so far: {got:?}"
        );
        let text = message["message"]
            .as_str()
            .unwrap_or_else(|| panic!("live message is not a record: {message}"))
            .to_string();
        got.push(text);
        if got.last().is_some_and(|t| t == last) {
            return got;
        }
    }
}

#[test]
fn live_tail_then_follow_has_no_gap_or_duplicate() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("live-seam", &["count:out:lv=:1:400:20000"]).run();
    collector.wait_total(&by_container(&container), 50);
    let mut live = collector.live(&query(&[("container", &container.name), ("tail", "1000")]));
    let got = read_live_until(&mut live, "lv=400");
    let expected: Vec<String> = (1..=400).map(|i| format!("lv={i}")).collect();
    assert_eq!(got, expected, "tail then follow: every line once, in order");
}

#[test]
fn live_filters_apply_to_followed_records() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let spec = ContainerSpec::new(
        "live-filter",
        &[
            "out:o1",
            "err:e1",
            "out:o2",
            r#"err:{"level":"error","msg":"e3"}"#,
            "out:ERROR o3",
            "err:ERROR end",
        ],
    );
    let name = spec.name().to_string();
    // `tail` covers lines written before the subscription is in place.
    let mut stderr_live = collector.live(&query(&[
        ("container", &name),
        ("stream", "stderr"),
        ("tail", "100"),
    ]));
    let mut error_live = collector.live(&query(&[
        ("container", &name),
        ("level", "error"),
        ("tail", "100"),
    ]));
    let _container = spec.run();

    let got = read_live_until(&mut stderr_live, "ERROR end");
    assert_eq!(
        got,
        ["e1", r#"{"level":"error","msg":"e3"}"#, "ERROR end"],
        "stream=stderr"
    );
    let got = read_live_until(&mut error_live, "ERROR end");
    assert_eq!(
        got,
        [r#"{"level":"error","msg":"e3"}"#, "ERROR o3", "ERROR end"],
        "level=error"
    );
}

//! Parsing: what the record says about JSON, logfmt and plain lines, and the
//! line as written (empty, CRLF, ANSI, Docker's own timestamp).

use super::*;

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

/// One corpus case (`collector/tests/corpus`, format in its README): what a
/// person reading the line names, and the line.
struct CorpusCase {
    family: String,
    expected: [Option<String>; 5],
    line: String,
}

fn corpus() -> Vec<CorpusCase> {
    let dir = wakeline_e2e::workspace_root().join("collector/tests/corpus");
    let mut cases = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus directory")
        .map(|e| e.expect("a corpus file").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    for path in files {
        let family = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("a corpus file");
        for row in text
            .lines()
            .filter(|r| !r.is_empty() && !r.starts_with('#'))
        {
            let cols: Vec<&str> = row.splitn(6, '\t').collect();
            let opt = |s: &str| {
                (s != "-").then(|| {
                    s.replace("\\t", "\t")
                        .replace("\\n", "\n")
                        .replace("\\\\", "\\")
                })
            };
            cases.push(CorpusCase {
                family: family.clone(),
                expected: [
                    opt(cols[0]),
                    opt(cols[1]),
                    opt(cols[2]),
                    opt(cols[3]),
                    opt(cols[4]),
                ],
                line: cols[5].to_owned(),
            });
        }
    }
    cases
}

/// Every line of the corpus, written by a real container one after another
/// (as fast as it can, so the multi-line joiner sees them back to back and
/// must join none), comes back with the level, IDs and message of the
/// corpus.
#[test]
fn every_corpus_line_from_a_container_yields_its_level_ids_and_message() {
    let cases = corpus();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let steps: Vec<String> = cases.iter().map(|c| format!("out:{}", c.line)).collect();
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let container = ContainerSpec::new("corpus", &steps).run();
    let hits = wait_records(&collector, &container, cases.len() as u64);
    let mut wrong = Vec::new();
    for case in &cases {
        let found: Vec<&Value> = hits
            .iter()
            .filter(|h| h["message"] == case.line.as_str())
            .collect();
        let Some(record) = found.first() else {
            wrong.push(format!("{}: missing {:?}", case.family, case.line));
            continue;
        };
        for (i, key) in ["level", "request_id", "trace_id", "span_id", "msg"]
            .iter()
            .enumerate()
        {
            let got = record[key].as_str();
            if got != case.expected[i].as_deref() {
                wrong.push(format!(
                    "{}: {key}: expected {:?}, got {got:?}\n    {}",
                    case.family, case.expected[i], case.line
                ));
            }
        }
        assert!(record.get("lines").is_none(), "joined: {record}");
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

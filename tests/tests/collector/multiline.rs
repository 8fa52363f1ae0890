//! Multi-line records: the stack traces of each language, written by a real
//! container, come back as one record each; `--multiline=off` keeps every
//! line; and a trace cut by a `kill -9` of the collector comes back whole,
//! once, while the other stream went on.

use super::*;

const PYTHON: &[&str] = &[
    "ERROR:shop:payment failed",
    "Traceback (most recent call last):",
    "  File \"/app/pay.py\", line 12, in charge",
    "    return gateway.charge(amount)",
    "  File \"/app/gateway.py\", line 40, in charge",
    "    raise GatewayError(\"declined\")",
    "gateway.GatewayError: pythondeclined",
];

const JAVA: &[&str] = &[
    "2026-12-04 10:00:00.123 ERROR 1 --- [nio-8080-exec-1] c.a.OrderController : order 42 failed",
    "java.lang.IllegalStateException: javastock is negative",
    "\tat com.acme.Stock.take(Stock.java:31)",
    "\tat com.acme.OrderController.place(OrderController.java:57)",
    "Caused by: java.sql.SQLException: deadlock",
    "\tat org.h2.Db.exec(Db.java:9)",
    "\t... 2 more",
];

const GO: &[&str] = &[
    "panic: goindex out of range [5] with length 3",
    "",
    "goroutine 1 [running]:",
    "main.main()",
    "\t/app/main.go:7 +0x1d",
    "exit status 2",
];

const NODE: &[&str] = &[
    "TypeError: nodecannot read properties of undefined (reading 'id')",
    "    at handler (/app/routes.js:14:22)",
    "    at async Promise.all (index 0)",
];

const RUST: &[&str] = &[
    "thread 'main' panicked at src/main.rs:4:5:",
    "rustattempt to divide by zero",
    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
];

const DOTNET: &[&str] = &[
    "Unhandled exception. System.InvalidOperationException: dotnetno orders",
    "   at Shop.Orders.Next() in /src/Orders.cs:line 42",
    "   at Shop.Program.Main(String[] args) in /src/Program.cs:line 9",
];

/// The container's steps: each trace in one write, as a logger writes it,
/// except Java's, written a line at a time as `printStackTrace` does; an
/// ordinary line between them, one of them indented.
fn steps() -> Vec<String> {
    let mut steps = Vec::new();
    for (i, trace) in [PYTHON, GO, NODE, RUST, DOTNET].iter().enumerate() {
        steps.push(format!("err:{}", trace.join("\n")));
        steps.push(format!("out:between {i}"));
    }
    steps.extend(JAVA.iter().map(|line| format!("err:{line}")));
    steps.push("err:    indented but ordinary".into());
    steps.push("out:the end".into());
    steps
}

#[test]
fn the_stack_traces_of_each_language_are_one_record_each() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let steps = steps();
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let container = ContainerSpec::new("multiline", &steps).run();
    // 6 traces, 5 lines between them, the indented line and the last one.
    let hits = wait_records(&collector, &container, 13);
    for (trace, level) in [
        (PYTHON, "error"),
        (JAVA, "error"),
        (GO, "fatal"),
        (NODE, "error"),
        (RUST, "error"),
        (DOTNET, "error"),
    ] {
        let text = trace.join("\n");
        let record = hit(&hits, &text);
        assert_eq!(record["lines"], trace.len(), "{record}");
        assert_eq!(record["level"], level, "{record}");
        assert_eq!(record["stream"], "stderr", "{record}");
        assert_record_of(record, &container);
    }
    let indented = hit(&hits, "    indented but ordinary");
    assert!(indented.get("lines").is_none(), "{indented}");
    // A word from deep inside a trace finds the whole record.
    let found = collector.search(&[("q", "deadlock"), ("container", &container.name)]);
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["hits"][0]["message"], JAVA.join("\n"), "{found}");
}

#[test]
fn multiline_off_keeps_every_line_its_own_record() {
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--multiline", "off"]);
    let steps = steps();
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let container = ContainerSpec::new("multiline-off", &steps).run();
    let lines: usize = [PYTHON, JAVA, GO, NODE, RUST, DOTNET]
        .iter()
        .map(|t| t.len())
        .sum::<usize>()
        + 7;
    let hits = wait_records(&collector, &container, lines as u64);
    assert!(hits.iter().all(|r| r.get("lines").is_none()));
    hit(&hits, "\tat com.acme.Stock.take(Stock.java:31)");
}

/// A slow trace on stderr (a frame every 20 ms, well inside the joining
/// window, 4 s in all) while stdout ticks between its frames; the collector is killed
/// in the middle of it. With one checkpoint for both streams the ticks
/// would carry the resume point past the trace's head.
fn trace_cut_by_kill_9(extra_args: &[&str]) {
    const FRAMES: usize = 200;
    let mut steps = vec!["out:before".to_owned(), "err:ERROR order failed".to_owned()];
    let mut trace = vec!["ERROR order failed".to_owned()];
    for i in 1..=FRAMES {
        let frame = format!("\tat com.acme.Step{i}.run(Step{i}.java:{i})");
        steps.push(format!("err:{frame}"));
        trace.push(frame);
        steps.push(format!("out:tick{i}"));
        steps.push("sleep:20".into());
    }
    steps.push("out:after".into());
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();

    let dir = data_dir();
    let mut collector = Collector::start_with(dir.path(), extra_args);
    let container = ContainerSpec::new("multiline-kill", &steps).run();
    let filter = by_container(&container);
    // `before` and a few ticks are in: the trace is being written.
    collector.wait_total_within(&filter, 6, DEADLINE);
    let indexed = collector.total(&filter);
    collector.kill_9();
    let running = container.running();
    assert!(
        running,
        "the container wrote its whole trace (4 s) before the collector indexed 6 lines"
    );
    collector.restart();
    // before, the trace, a tick per frame, after.
    container.wait_exited(Duration::from_secs(60));
    // The trace is one record unless the writer was descheduled for longer
    // than the joining window between two frames (a loaded machine): then it
    // is cut there, by Docker's timestamps, whatever the collector went
    // through, and each frame after the cut is a record of its own.
    let expected = expected_records(&container, &trace);
    let hits = wait_records(&collector, &container, (expected.len() + FRAMES + 2) as u64);
    let context = format!(
        "killed with {indexed} records indexed, container running: {running}, trace in {} records",
        expected.len()
    );
    eprintln!("multiline kill -9: {context}");
    let record = hit(&hits, &expected[0]);
    assert_eq!(
        record["lines"],
        expected[0].lines().count(),
        "{context}: {record}"
    );
    for rest in &expected[1..] {
        hit(&hits, rest);
    }
    let ticks = hits
        .iter()
        .filter(|r| {
            r["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("tick")
        })
        .count();
    assert_eq!(ticks, FRAMES, "{context}");
    hit(&hits, "before");
    hit(&hits, "after");
}

/// The records `trace` (the lines the container wrote to stderr) should be,
/// by the gaps between Docker's timestamps of its lines.
fn expected_records(container: &Container, trace: &[String]) -> Vec<String> {
    const JOIN_WINDOW_NS: i128 = 100_000_000;
    let logs = Command::new("docker")
        .args(["logs", "-t", &container.id])
        .output()
        .expect("docker logs");
    let stderr = String::from_utf8_lossy(&logs.stderr);
    let stamps: Vec<i128> = stderr
        .lines()
        .filter_map(|l| parse_ts(l.split_once(' ')?.0))
        .collect();
    assert_eq!(
        stamps.len(),
        trace.len(),
        "the trace's lines in docker logs"
    );
    let mut records = vec![trace[0].clone()];
    let mut cut = false;
    for i in 1..trace.len() {
        cut |= stamps[i] - stamps[i - 1] > JOIN_WINDOW_NS;
        if cut {
            records.push(trace[i].clone());
        } else {
            let first = &mut records[0];
            first.push('\n');
            first.push_str(&trace[i]);
        }
    }
    records
}

#[test]
fn a_trace_cut_by_kill_9_comes_back_whole_once_reading_files() {
    trace_cut_by_kill_9(&[]);
}

#[test]
fn a_trace_cut_by_kill_9_comes_back_whole_once_through_the_api() {
    trace_cut_by_kill_9(&["--log-files", "api"]);
}

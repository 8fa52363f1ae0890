//! The live stream (`/api/live`, WebSocket): the seam between `tail` and
//! following has no gap and no duplicate; filters apply to followed records.

use super::*;

/// Reads live messages until one has `message == last`; fails on a gap message.
fn read_live_until(live: &mut wakeline_e2e::Live, last: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let message = live
            .next(DEADLINE)
            .unwrap_or_else(|e| panic!("{e}; got so far: {got:?}"));
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
    // stdout and stderr are separate pipes, so their relative order is not fixed:
    // each stream ends with its own marker.
    let spec = ContainerSpec::new(
        "live-filter",
        &[
            "out:o1",
            "err:e1",
            "out:o2",
            r#"err:{"level":"error","msg":"e3"}"#,
            "out:ERROR o3",
            "err:ERROR end-err",
            "out:ERROR end-out",
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

    let got = read_live_until(&mut stderr_live, "ERROR end-err");
    assert_eq!(
        got,
        ["e1", r#"{"level":"error","msg":"e3"}"#, "ERROR end-err"],
        "stream=stderr"
    );

    let mut got = Vec::new();
    while !(got.iter().any(|m| m == "ERROR end-err") && got.iter().any(|m| m == "ERROR end-out")) {
        let message = error_live
            .next(DEADLINE)
            .unwrap_or_else(|e| panic!("level=error: {e}; got so far: {got:?}"));
        assert!(message["type"] != "gap", "gap message: {message}");
        got.push(
            message["message"]
                .as_str()
                .unwrap_or("<not a record>")
                .to_string(),
        );
    }
    got.sort();
    let mut expected = [
        r#"{"level":"error","msg":"e3"}"#,
        "ERROR o3",
        "ERROR end-err",
        "ERROR end-out",
    ];
    expected.sort();
    assert_eq!(got, expected, "level=error");
}

#[test]
fn live_clients_that_never_read_do_not_stall_ingest_and_get_gap_counts() {
    const LINES: u64 = 30_000;
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let spec = ContainerSpec::new("live-stall", &["count:out:stall=:1:30000:0"]);
    // Three subscribers that do not read while the lines flow: their socket
    // buffers fill, and the collector must drop for them, not wait for them.
    let filter = query(&[("container", spec.name())]);
    let mut stalled: Vec<wakeline_e2e::Live> = (0..3).map(|_| collector.live(&filter)).collect();
    let container = spec.run();
    let total =
        collector.wait_total_within(&by_container(&container), LINES, Duration::from_secs(120));
    assert_eq!(total, LINES);

    // Reading now: every line arrives once, in order, or is counted in a gap message.
    let live = &mut stalled[0];
    let (mut received, mut dropped, mut last) = (0u64, 0u64, 0u64);
    while received + dropped < LINES {
        let message = live
            .next(DEADLINE)
            .unwrap_or_else(|e| panic!("{e}: {received} records + {dropped} dropped of {LINES}"));
        if message["type"] == "gap" {
            dropped += message["dropped"]
                .as_u64()
                .unwrap_or_else(|| panic!("gap without a count: {message}"));
            continue;
        }
        let n: u64 = message["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("stall="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected live message {message}"));
        assert!(
            n > last,
            "stall={n} after stall={last}: out of order or repeated"
        );
        last = n;
        received += 1;
    }
    eprintln!("slow live client: {received} received, {dropped} dropped");
    // A gap counts every record of the stream that went by, matching or not:
    // with other tests' containers writing meanwhile it is more than this
    // container's share (README, "Slow clients cost ingest nothing").
    assert!(
        received <= LINES && received + dropped >= LINES,
        "{received} received, {dropped} dropped"
    );
}

/// The UI's "follow": a search, then `/api/live?after_seq=<its watermark>`.
/// Between them every line arrives exactly once while the container writes.
#[test]
fn a_search_followed_from_its_watermark_has_no_gap_or_duplicate() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("follow-seam", &["count:out:fw=:1:1500:2000"]).run();
    let filter = by_container(&container);
    collector.wait_total(&filter, 200);

    // One page holds the whole snapshot, so it is one consistent view.
    let mut params = filter.clone();
    params.extend([("order", "asc"), ("limit", "10000")]);
    let searched = collector.search(&params);
    let watermark = searched["watermark"]
        .as_u64()
        .unwrap_or_else(|| panic!("no watermark: {}", &searched.to_string()[..300]));
    let hits = searched["hits"].as_array().unwrap().clone();
    assert!(
        hits.len() >= 200 && hits.len() < 1500,
        "mid-run: {}",
        hits.len()
    );
    for hit in &hits {
        assert!(
            hit["seq"].as_u64() <= Some(watermark),
            "{hit} beyond {watermark}"
        );
    }

    let mut live = collector.live(&query(&[
        ("container", &container.name),
        ("after_seq", &watermark.to_string()),
    ]));
    let followed = read_live_until(&mut live, "fw=1500");
    let mut all: Vec<String> = messages(&hits).into_iter().map(str::to_string).collect();
    all.extend(followed.iter().cloned());
    let expected: Vec<String> = (1..=1500).map(|i| format!("fw={i}")).collect();
    assert_eq!(
        all, expected,
        "search up to the watermark, then follow: every line once, in order"
    );
    // Nothing older than the watermark came again.
    assert_eq!(
        followed.first().map(String::as_str),
        Some(format!("fw={}", hits.len() + 1).as_str())
    );
}

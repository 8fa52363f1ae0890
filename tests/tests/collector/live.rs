//! The live stream (`/api/live`, WebSocket): the seam between `tail` and
//! following has no gap and no duplicate; filters apply to followed records.

use super::*;

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
        let Some(message) = error_live.next(DEADLINE) else {
            panic!("level=error: no live message within {DEADLINE:?}; got so far: {got:?}");
        };
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

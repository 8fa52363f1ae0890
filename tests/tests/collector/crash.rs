//! Crash safety: `kill -9` of the collector at several moments, and containers
//! that ran or restarted while no collector was running; every line exactly once.

use super::*;

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
    assert_each_once(
        &hits,
        "seq=",
        LINES,
        &format!("after kills ({moments:?}), total {last}"),
    );
    assert!(
        hits.iter()
            .all(|r| r["container_id"] == container.id.as_str())
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

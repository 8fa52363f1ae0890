//! Following containers: started before or after the collector, short-lived,
//! many at once, restarted, removed and recreated, renamed.

use super::*;

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

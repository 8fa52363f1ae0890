//! Container churn: a container restarted many times, one removed and created
//! again under the same name, one renamed, and many that each live for about
//! 50 ms. Every line of every run exactly once, each under the name and ID the
//! container had when it wrote it. The figures (50 restarts, 100
//! brief containers) are ignored tests; CI runs the same tests smaller.

use super::*;

/// Each run writes `run=<ns>` then `l=1` … `l=20`, and exits.
const RUN: [&str; 2] = ["stamp:out:run=", "count:out:l=:1:20:0"];

/// The records of `runs` runs of [`RUN`], oldest first, checked run by run.
fn assert_runs(hits: &[Value], runs: usize, context: &str) {
    assert_eq!(hits.len(), runs * 21, "{context}: {:?}", messages(hits));
    let expected: Vec<String> = (1..=20).map(|i| format!("l={i}")).collect();
    let mut stamps = BTreeSet::new();
    for (run, chunk) in hits.chunks(21).enumerate() {
        let stamp = chunk[0]["message"].as_str().unwrap_or_default();
        assert!(stamp.starts_with("run="), "{context}, run {run}: {stamp}");
        assert!(stamps.insert(stamp.to_owned()), "{context}: {stamp} twice");
        assert_eq!(messages(&chunk[1..]), expected, "{context}, run {run}");
    }
}

fn restarted(restarts: usize) {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("restarts", &RUN).run();
    container.wait_exited(DEADLINE);
    for _ in 0..restarts {
        container.start();
        container.wait_exited(DEADLINE);
    }
    let runs = restarts + 1;
    let filter = by_container(&container);
    collector.wait_total_within(&filter, runs as u64 * 21, Duration::from_secs(60));
    let hits = collector.all_hits(&filter);
    for hit in &hits {
        assert_record_of(hit, &container);
    }
    assert_runs(&hits, runs, &format!("{restarts} restarts"));
    eprintln!(
        "churn: {runs} runs of one container, {} lines, each once",
        hits.len()
    );
}

#[test]
fn container_restarted_10_times_keeps_every_line_of_every_run_once() {
    restarted(10);
}

#[test]
#[ignore = "heavy (50 docker starts); cargo test -p wakeline-e2e --test collector churn -- --ignored"]
fn container_restarted_50_times_keeps_every_line_of_every_run_once() {
    restarted(50);
}

#[test]
fn container_recreated_under_the_same_name_keeps_both_lives_apart() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let spec = ContainerSpec::new("recreate", &RUN);
    let first = spec.run();
    first.wait_exited(DEADLINE);
    // Removing a container deletes its log: the first life must be read
    // before it goes, as it would be on a host where the collector keeps up.
    wait_records(&collector, &first, 21);
    let first_id = first.id.clone();
    first.remove();
    let second = spec.run();
    second.wait_exited(DEADLINE);
    assert_ne!(first_id, second.id);

    let by_name = [("container", spec.name())];
    collector.wait_total(&by_name, 42);
    let hits = collector.all_hits(&by_name);
    assert_runs(&hits, 2, "recreated");
    let ids: Vec<&str> = hits
        .iter()
        .map(|h| h["container_id"].as_str().unwrap_or_default())
        .collect();
    assert!(ids[..21].iter().all(|id| *id == first_id), "{ids:?}");
    assert!(ids[21..].iter().all(|id| *id == second.id), "{ids:?}");
    assert!(hits.iter().all(|h| h["container"] == spec.name()));
    assert_eq!(collector.total(&by_name), 42);
}

#[test]
fn renamed_container_writes_under_its_new_name() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let mut steps = RUN.to_vec();
    steps.push("stay");
    let container = ContainerSpec::new("rename", &steps).run();
    let old_name = container.name.clone();
    wait_records(&collector, &container, 21);
    let new_name = format!("{old_name}-renamed");
    docker(&["rename", &container.id, &new_name]);
    // A second run, under the new name.
    container.restart();

    // Both runs, found by ID; then which name each line carries.
    let by_id = format!("container_id:{}", container.id);
    collector.wait_total(&[("q", by_id.as_str())], 42);
    let names: Vec<String> = collector
        .all_hits(&[("q", by_id.as_str())])
        .iter()
        .map(|h| format!("{} {}", h["container"], h["message"]))
        .collect();
    let new_filter = [("container", new_name.as_str())];
    let renamed = collector.all_hits(&new_filter);
    assert_eq!(
        renamed.len(),
        21,
        "the second run's lines carry the new name: {names:#?}"
    );
    assert_runs(&renamed, 1, "after the rename");
    let before = collector.all_hits(&[("container", old_name.as_str())]);
    assert_runs(&before, 1, "before the rename");
    assert!(
        renamed[0]["message"] != before[0]["message"],
        "two different runs"
    );
    assert!(
        renamed
            .iter()
            .chain(&before)
            .all(|h| h["container_id"] == container.id.as_str())
    );
    let (_, body) = collector.get("/api/containers");
    let listed = body["containers"]
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|c| c["id"] == container.id.as_str())
                .cloned()
        })
        .unwrap_or_default();
    assert_eq!(listed["name"], new_name.as_str(), "{listed}");
    assert_eq!(listed["lines"], 42, "{listed}");
}

/// `n` containers, four started at a time, each writing three lines,
/// sleeping 50 ms, writing two more and exiting.
fn brief_containers(n: usize) {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let project = unique("brief");
    let specs: Vec<ContainerSpec> = (0..n)
        .map(|i| {
            ContainerSpec::new(
                &format!("brief-{i}"),
                &["count:out:l=:1:3:0", "sleep:50", "count:err:m=:1:2:0"],
            )
            .project(&project)
        })
        .collect();
    let containers: Vec<Container> = std::thread::scope(|scope| {
        let workers: Vec<_> = specs
            .chunks(n.div_ceil(4))
            .map(|chunk| {
                scope.spawn(move || chunk.iter().map(ContainerSpec::run).collect::<Vec<_>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("docker run"))
            .collect()
    });
    let query = format!("project:{project}");
    let filter = [("q", query.as_str())];
    let expected = n as u64 * 5;
    collector.wait_total_within(&filter, expected, Duration::from_secs(60));
    let hits = collector.all_hits(&filter);
    let mut by_name: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for hit in &hits {
        by_name
            .entry(hit["container"].as_str().unwrap_or_default())
            .or_default()
            .push(hit);
    }
    assert_eq!(by_name.len(), n, "{:?}", by_name.keys());
    for container in &containers {
        let records = by_name
            .get(container.name.as_str())
            .unwrap_or_else(|| panic!("no record of {}", container.name));
        let mut got: Vec<&str> = records
            .iter()
            .map(|r| r["message"].as_str().unwrap_or_default())
            .collect();
        got.sort_unstable();
        assert_eq!(
            got,
            ["l=1", "l=2", "l=3", "m=1", "m=2"],
            "{}",
            container.name
        );
        assert!(
            records
                .iter()
                .all(|r| r["container_id"] == container.id.as_str())
        );
        let stderr = records.iter().filter(|r| r["stream"] == "stderr").count();
        assert_eq!(stderr, 2, "{}", container.name);
    }
    assert_eq!(collector.total(&filter), expected);
    eprintln!("churn: {n} brief containers, {expected} lines, each once under its name");
}

#[test]
fn twenty_five_brief_containers_are_each_collected_whole() {
    brief_containers(25);
}

#[test]
#[ignore = "heavy (100 containers); cargo test -p wakeline-e2e --test collector churn -- --ignored"]
fn a_hundred_brief_containers_are_each_collected_whole() {
    brief_containers(100);
}

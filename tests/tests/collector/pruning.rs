//! Container churn does not grow the commit payload: a removed container's
//! checkpoint goes, and once retention has deleted its lines it leaves the
//! payload (`meta.json`) and `/api/containers`; a stopped container keeps
//! its checkpoint however old its lines, so a restart reads nothing again.

use std::path::Path;

use super::*;

/// The commit payload of the data dir's last commit (tantivy's `meta.json`
/// holds it as a JSON string); `None` while there is none or it is being
/// replaced.
fn payload(dir: &Path) -> Option<Value> {
    let meta: Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).ok()?).ok()?;
    serde_json::from_str(meta["payload"].as_str()?).ok()
}

/// Whether the payload mentions container `id` anywhere: in the ledger
/// (`containers`) or the container table (`container_versions`).
fn payload_holds(payload: &Value, id: &str) -> bool {
    payload["containers"].get(id).is_some()
        || payload["container_versions"]
            .as_array()
            .is_some_and(|versions| versions.iter().any(|v| v["id"] == id))
}

/// `/api/containers`' entry for container `id`, if it lists it.
fn listed(collector: &Collector, id: &str) -> Option<Value> {
    let (_, body) = collector.get("/api/containers");
    body["containers"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
}

#[test]
fn removed_containers_leave_the_payload_once_retention_deleted_their_lines() {
    let dir = data_dir();
    let mut collector = Collector::start_with(dir.path(), &["--retention", "15s"]);
    // Short-lived jobs: two removed while the collector runs, one while it
    // is down; and one that stops and stays.
    let gone: Vec<Container> = (0..2)
        .map(|i| ContainerSpec::new(&format!("prune-gone{i}"), &["count:out:gone=:1:20:0"]).run())
        .collect();
    let down = ContainerSpec::new("prune-down", &["count:out:down=:1:20:0"]).run();
    let stopped = ContainerSpec::new("prune-stopped", &["count:out:stopped=:1:30:0"]).run();
    for container in gone.iter().chain([&down]) {
        wait_records(&collector, container, 20);
    }
    wait_records(&collector, &stopped, 30);
    stopped.wait_exited(DEADLINE);
    down.wait_exited(DEADLINE);

    let gone_ids: Vec<String> = gone.iter().map(|c| c.id.clone()).collect();
    for container in gone {
        container.remove();
    }
    // Removed, but their lines are still there to search: still listed.
    for id in &gone_ids {
        let entry = poll(DEADLINE, || {
            listed(&collector, id).filter(|entry| entry["state"] == "removed")
        });
        let entry = entry
            .unwrap_or_else(|| panic!("{id} not listed as removed: {:?}", listed(&collector, id)));
        assert_eq!(entry["lines"], 20, "{entry}");
    }
    // Their checkpoints go with the next commit.
    let gone_entries = || -> Vec<Value> {
        let payload = payload(dir.path()).unwrap_or_default();
        gone_ids
            .iter()
            .map(|id| payload["containers"][id.as_str()].clone())
            .collect()
    };
    let marked = poll(DEADLINE, || {
        gone_entries()
            .iter()
            .all(|entry| entry["removed"] == true && entry.get("position").is_none())
            .then_some(())
    });
    assert!(
        marked.is_some(),
        "checkpoints of removed containers still in the payload: {:?}",
        gone_entries()
    );

    // Removed while no collector runs: the list at start-up tells.
    let status = collector.terminate();
    assert!(status.success(), "SIGTERM: {status:?}");
    let down_id = down.id.clone();
    down.remove();
    // A collector asks for the engine's events from a second before it
    // lists the containers: started sooner, it would see this removal's
    // `destroy` event, not test the list. A precondition on the clock, not
    // a wait for the collector.
    let removed_at = std::time::Instant::now();
    poll(DEADLINE, || {
        (removed_at.elapsed() >= Duration::from_millis(2500)).then_some(())
    });
    collector.restart();

    let all_gone: Vec<String> = gone_ids.iter().cloned().chain([down_id]).collect();
    let mut left = Vec::new();
    let pruned = poll(Duration::from_secs(120), || {
        let payload = payload(dir.path())?;
        left = all_gone
            .iter()
            .filter(|id| payload_holds(&payload, id) || listed(&collector, id).is_some())
            .cloned()
            .collect();
        left.is_empty().then_some(())
    });
    assert!(
        pruned.is_some(),
        "removed containers still in the payload or listed: {left:?} of {all_gone:?}"
    );
    // Retention deleted the stopped container's lines too, but it exists:
    // its checkpoint and its entry stay.
    let stopped_filter = by_container(&stopped);
    let deleted = poll(DEADLINE, || {
        (collector.total(&stopped_filter) == 0).then_some(())
    });
    assert!(
        deleted.is_some(),
        "the stopped container's lines were not deleted"
    );
    let payload = payload(dir.path()).expect("a payload");
    assert!(payload_holds(&payload, &stopped.id), "{payload}");
    let entry = &payload["containers"][stopped.id.as_str()];
    assert!(entry.get("removed").is_none(), "{entry}");
    assert!(
        entry["position"]["stdout"]["ts_ns"].as_i64() > Some(0),
        "the stopped container's checkpoint: {entry}"
    );
    let entry = listed(&collector, &stopped.id).expect("the stopped container is listed");
    assert_eq!(entry["lines"], 30, "{entry}");

    // Restarted with a retention that keeps them, the stopped container's
    // lines are not read again: its checkpoint says they were taken.
    let status = collector.terminate();
    assert!(status.success(), "SIGTERM: {status:?}");
    let collector = Collector::start_with(dir.path(), &["--retention", "1h"]);
    // Its follow task has opened its log (from the list at start-up) …
    let reading = poll(DEADLINE, || {
        listed(&collector, &stopped.id).filter(|entry| entry["read_from"].is_string())
    });
    assert!(reading.is_some(), "the stopped container is not followed");
    // … and a container started after it has had its lines taken.
    let after = ContainerSpec::new("prune-after", &["count:out:after=:1:5:0"]).run();
    wait_records(&collector, &after, 5);
    assert_eq!(collector.total(&stopped_filter), 0, "lines read again");
    let entry = listed(&collector, &stopped.id).expect("the stopped container is listed");
    assert_eq!(entry["lines"], 30, "{entry}");
    for id in &all_gone {
        assert!(listed(&collector, id).is_none(), "{id} listed again");
    }
}

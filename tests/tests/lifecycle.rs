//! The collector's own lifecycle: SIGTERM commits what is pending and exits
//! cleanly, even with live clients connected.

use wakeline_e2e::records::data_dir;
use wakeline_e2e::{Collector, ContainerSpec, DEADLINE, poll, query};

#[test]
fn sigterm_commits_pending_lines_and_exits_cleanly() {
    let dir = data_dir();
    // No periodic commit during the test: only the shutdown commit can make
    // these lines durable.
    let mut collector = Collector::start_with(dir.path(), &["--commit-interval", "5m"]);
    let container = ContainerSpec::new("sigterm", &["count:out:pending-:1:300:0"]).run();
    let name = container.name.clone();
    let ingested = poll(DEADLINE, || {
        let (_, body) = collector.get("/api/containers");
        let lines = body["containers"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == name.as_str())?["lines"]
            .as_u64()?;
        (lines == 300).then_some(lines)
    });
    assert_eq!(
        ingested,
        Some(300),
        "ingested (not yet committed) before SIGTERM"
    );
    assert_eq!(
        collector.total(&[("container", &name)]),
        0,
        "nothing committed yet"
    );
    // A live client must not hold the shutdown up.
    let mut live = collector.live(&query(&[("container", &name), ("tail", "1")]));
    let tail = live
        .next(DEADLINE)
        .unwrap_or_else(|e| panic!("{e}: expected the tail record"));
    assert_eq!(tail["message"], "pending-300", "{tail}");

    let status = collector.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    // The server says goodbye with a Close frame; a feed that merely went
    // quiet, or a connection that broke, would fail here.
    assert_eq!(
        live.wait_closed(DEADLINE),
        Ok(()),
        "the live feed was closed"
    );

    // With the container gone, the lines can only come from the final commit.
    container.remove();
    collector.restart();
    assert_eq!(collector.total(&[("container", &name)]), 300);
}

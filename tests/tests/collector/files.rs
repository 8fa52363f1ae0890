//! How logs are read: `json-file` logs straight from disk (the default when
//! the files are readable, as here), across Docker's rotations and a restart
//! of the collector; and everything through the API with `--log-files api`,
//! where Docker 20.10 sends the first lines after each rotation twice.

use std::path::Path;

use super::*;

/// Where a container's log is read from, as `/api/containers` says.
fn read_from(collector: &Collector, container: &Container) -> Option<String> {
    let (status, body) = collector.get("/api/containers");
    assert_eq!(status, 200, "{body}");
    body["containers"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == container.id.as_str())?["read_from"]
        .as_str()
        .map(str::to_owned)
}

fn log_path(container: &Container) -> String {
    docker(&["inspect", "--format", "{{.LogPath}}", &container.id])
        .trim()
        .to_owned()
}

#[test]
fn rotated_log_files_are_read_whole_across_a_collector_restart() {
    const LINES: u64 = 10_000;
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    // About 75 bytes per entry: the log rotates every ~2,700 lines, and five
    // files keep all 10,000, so whatever is missed is the collector's fault.
    let container = ContainerSpec::new("rotate", &["rate:out:n=:1:10000:2000"])
        .log_opt("max-size=200k")
        .log_opt("max-file=5")
        .run();
    let filter = by_container(&container);
    collector.wait_total_within(&filter, 3_000, Duration::from_secs(60));
    assert_eq!(
        read_from(&collector, &container).as_deref(),
        Some("file"),
        "a json-file log on this host is read from disk"
    );
    // Down for a moment while the log goes on rotating; the restart resumes
    // from the checkpoint inside the rotated files.
    let status = collector.terminate();
    assert!(status.success(), "{status:?}");
    collector.restart();
    container.wait_exited(Duration::from_secs(60));
    let rotated = format!("{}.2", log_path(&container));
    assert!(
        Path::new(&rotated).exists(),
        "the log was rotated at least twice ({rotated})"
    );
    collector.wait_total_within(&filter, LINES, Duration::from_secs(60));
    let hits = collector.all_hits(&filter);
    assert_each_once(&hits, "n=", LINES, "rotated json-file log");
    assert_eq!(collector.total(&filter), LINES);
}

#[test]
fn with_log_files_api_every_line_comes_through_the_api() {
    const LINES: u64 = 4_000;
    let dir = data_dir();
    let mut collector = Collector::start_with(dir.path(), &["--log-files", "api"]);
    // ~300 KB of entries: the log rotates three times, and five files keep it all.
    let container = ContainerSpec::new(
        "api",
        &["rate:out:n=:1:2000:1000", "rate:err:n=:2001:4000:1000"],
    )
    .log_opt("max-size=100k")
    .log_opt("max-file=5")
    .run();
    let filter = by_container(&container);
    collector.wait_total_within(&filter, 500, Duration::from_secs(60));
    assert_eq!(read_from(&collector, &container).as_deref(), Some("api"));
    // A crash mid-stream: the resume asks Docker from the checkpoint's second.
    collector.kill_9();
    collector.restart();
    collector.wait_total_within(&filter, LINES, Duration::from_secs(90));
    let hits = collector.all_hits(&filter);
    assert_each_once(&hits, "n=", LINES, "read through the API");
    let stderr = hits.iter().filter(|r| r["stream"] == "stderr").count();
    assert_eq!(stderr, 2_000);
}

/// `max-size` with `max-file=1` (the default when only `max-size` is set): Docker does not rename the full file but truncates it in place, same
/// inode. The reader must notice and read the new content from its start.
#[test]
fn a_log_truncated_in_place_by_max_size_alone_is_followed() {
    const LINES: u64 = 6_000;
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    // About 75 bytes an entry: the file is truncated every ~1,300 lines.
    let container = ContainerSpec::new("truncate", &["rate:out:n=:1:6000:1000"])
        .log_opt("max-size=100k")
        .log_opt("max-file=1")
        .run();
    let filter = by_container(&container);
    container.wait_exited(Duration::from_secs(60));
    let mut total = 0;
    // Generous: a loaded host (a suite in parallel, load 18 here) once
    // took more than 30 s.
    let complete = poll(Duration::from_secs(120), || {
        total = collector.total(&filter);
        // The last line is written after the last truncation: it must come.
        let last = collector.total(&[("container", &container.name), ("q", "\"n=6000\"")]);
        (last == 1).then_some(())
    });
    let hits = collector.all_hits(&filter);
    let numbers: BTreeSet<u64> = hits
        .iter()
        .filter_map(|r| r["message"].as_str()?.strip_prefix("n=")?.parse().ok())
        .collect();
    assert_eq!(numbers.len(), hits.len(), "no line twice");
    eprintln!("truncated in place: {total} of {LINES} lines read");
    assert!(
        complete.is_some(),
        "stuck after a truncation: {total} lines read, the last is {:?}",
        numbers.last()
    );
    assert_eq!(read_from(&collector, &container).as_deref(), Some("file"));
}

/// The collector is down while a container writes far more than its
/// rotated files keep (`max-file=2`): the lines Docker deleted are gone for
/// every reader. Wakeline says so once, with a marker record in that
/// container's log at the hole and a count in `/metrics`; every line still
/// in the log (and every line taken before) is there once; a restart does
/// not mark the same hole again.
#[test]
fn lines_rotation_deleted_before_they_were_read_are_marked_as_lost() {
    const LINES: u64 = 20_000;
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    // About 75 bytes per entry: 50 KB files hold about 650 lines, and two
    // of them are kept. The first 300 lines come slowly, so that the
    // collector has them all before it stops (on a loaded host a running
    // collector can fall a file behind this writer, a hole of its own,
    // marked too: not what is tested here); the rest come fast after 20 s,
    // once it is down.
    let container = ContainerSpec::new(
        "lost",
        &[
            "rate:out:n=:1:300:300",
            "sleep:20000",
            "rate:out:n=:301:20000:4000",
        ],
    )
    .log_opt("max-size=50k")
    .log_opt("max-file=2")
    .run();
    let filter = by_container(&container);
    collector.wait_total_within(&filter, 300, Duration::from_secs(60));
    let status = collector.terminate();
    assert!(status.success(), "{status:?}");
    container.wait_exited(Duration::from_secs(60));

    // What the engine still has: the newest lines only.
    let kept: Vec<u64> = container
        .docker_logs()
        .lines()
        .filter_map(|l| l.strip_prefix("n=")?.parse().ok())
        .collect();
    let first_kept = *kept.first().expect("the log keeps its newest lines");
    assert_eq!(kept.last(), Some(&LINES));
    assert!(first_kept > 2_000, "nothing was deleted: {first_kept}");

    collector.restart();
    let marker = [
        ("container", container.name.as_str()),
        ("q", "\"log lines lost at the engine\""),
    ];
    collector.wait_total_within(&marker, 1, Duration::from_secs(60));
    collector.wait_total_within(&filter, 1, Duration::from_secs(60));
    let newest = [("container", container.name.as_str()), ("q", "\"n=20000\"")];
    collector.wait_total_within(&newest, 1, Duration::from_secs(60));

    let check = |collector: &Collector, context: &str| {
        let hits = collector.all_hits(&filter);
        let (markers, lines): (Vec<_>, Vec<_>) = hits.iter().partition(|h| {
            h["message"]
                .as_str()
                .unwrap_or("")
                .contains("lost at the engine")
        });
        assert_eq!(markers.len(), 1, "{context}: {markers:?}");
        let marker = markers[0];
        assert_eq!(marker["level"], "warn", "{marker}");
        assert_eq!(marker["stream"], "stderr", "{marker}");
        let mut numbers: Vec<u64> = lines
            .iter()
            .map(|h| {
                let m = h["message"].as_str().unwrap_or_default();
                m.strip_prefix("n=")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{h}"))
            })
            .collect();
        numbers.sort_unstable();
        let before = numbers.len();
        numbers.dedup();
        assert_eq!(numbers.len(), before, "{context}: a line indexed twice");
        // Every line the engine kept is there, and the hole is where the
        // marker says: between the last line taken and the first kept.
        for n in &kept {
            assert!(numbers.binary_search(n).is_ok(), "{context}: n={n} missing");
        }
        let taken_before: Vec<u64> = numbers
            .iter()
            .copied()
            .filter(|n| *n < first_kept)
            .collect();
        let last_taken = *taken_before.last().expect("lines taken before the stop");
        assert_eq!(
            taken_before.len() as u64,
            last_taken,
            "{context}: 1..={last_taken} whole"
        );
        let ts = |h: &Value| h["ts"].as_str().unwrap_or_default().to_owned();
        let at = |n: u64| {
            let q = format!("\"n={n}\"");
            let hit = collector.search(&[("container", &container.name), ("q", &q)]);
            ts(&hit["hits"][0])
        };
        assert!(
            at(last_taken) < ts(marker),
            "{context}: marker after the last line taken"
        );
        assert!(
            ts(marker) < at(first_kept),
            "{context}: marker before the first kept"
        );
        assert_eq!(marker["fields"]["wakeline"], "lost", "{marker}");
    };
    check(&collector, "after the restart");
    assert_eq!(collector.metric("wakeline_engine_log_losses_total"), 1.0);

    // Again: the hole is already marked.
    let status = collector.terminate();
    assert!(status.success(), "{status:?}");
    collector.restart();
    collector.wait_total_within(&newest, 1, Duration::from_secs(60));
    check(&collector, "after a second restart");
    assert_eq!(collector.metric("wakeline_engine_log_losses_total"), 0.0);
}

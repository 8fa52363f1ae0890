//! Keeping the disk in bounds: `--retention` deletes records past an age,
//! `--max-disk` keeps the data dir under a size, the oldest records first;
//! both shown in `/metrics`, and neither stops ingest.

use super::*;

#[test]
fn records_past_the_retention_are_deleted_and_newer_ones_kept() {
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--retention", "15s"]);
    let old = ContainerSpec::new("retention-old", &["count:out:old=:1:200:0"]).run();
    wait_records(&collector, &old, 200);
    // A container that keeps writing while the old lines age out.
    let new = ContainerSpec::new("retention-new", &["rate:out:new=:1:100000:20"]).run();
    let gone = poll(Duration::from_secs(60), || {
        (collector.total(&by_container(&old)) == 0).then_some(())
    });
    assert!(
        gone.is_some(),
        "old records still there: {}",
        collector.total(&by_container(&old))
    );
    let kept = poll(DEADLINE, || {
        let n = collector.total(&by_container(&new));
        (n > 0).then_some(n)
    });
    assert!(kept.is_some(), "the newest records are kept");
    let deleted = collector.metric("wakeline_retention_deleted_records_total");
    assert!(deleted >= 200.0, "deleted {deleted}");
    let oldest = poll(DEADLINE, || {
        let oldest = collector.metric("wakeline_oldest_record_timestamp_seconds");
        (oldest > 0.0).then_some(oldest)
    })
    .unwrap_or(0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        oldest > now - 120.0 && oldest <= now + 1.0,
        "oldest {oldest}, now {now}"
    );
    assert!(collector.metric("wakeline_index_size_bytes") > 0.0);
}

/// 250,000 lines into a 2 MiB `--max-disk`: once the writer has exited,
/// the data dir settles under the limit — not only the live records: the
/// files merges leave behind and deleted records' bytes too (this failed
/// one clean-clone CI run in 3 before passes counted them) — keeping the
/// newest line and not the oldest.
#[test]
fn max_disk_keeps_the_data_dir_under_its_limit_oldest_first() {
    const LINES: u64 = 250_000;
    const LIMIT: f64 = 2.0 * MIB as f64;
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--max-disk", "2MiB"]);
    let container = ContainerSpec::new(
        "max-disk",
        &["count:out:a line that takes some room in the index, number=:1:250000:0"],
    )
    .run();
    container.wait_exited(Duration::from_secs(120));
    let filter = by_container(&container);
    let last = "\"number=250000\"";
    let mut size = 0.0;
    // The size is measured by the retention passes: one taken before the
    // lines came (a few KB) says nothing, so a deletion must have happened.
    let settled = poll(Duration::from_secs(120), || {
        size = collector.metric("wakeline_index_size_bytes");
        let deleted = collector.metric("wakeline_retention_deleted_records_total");
        let newest = collector.total(&[("container", &container.name), ("q", last)]);
        (size > 0.0 && size <= LIMIT && deleted > 0.0 && newest == 1).then_some(())
    });
    let total = collector.total(&filter);
    eprintln!("max-disk: {size} bytes on disk, {total} of {LINES} records kept");
    assert!(
        settled.is_some(),
        "{size} bytes on disk, over {LIMIT}; {total} records"
    );
    assert!(total < LINES, "nothing was deleted: {total}");
    let first = collector.total(&[("container", &container.name), ("q", "\"number=1\"")]);
    assert_eq!(first, 0, "the oldest record goes first");
    assert!(collector.metric("wakeline_retention_deleted_records_total") >= (LINES - total) as f64);
}

/// A tmpfs mounted for one test, unmounted (lazily: the collector may still
/// hold files) when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("a mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount a tmpfs (the tests run as root): {status}"
        );
        Tmpfs(dir)
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.0.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remount the tmpfs: {status}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// The data dir on a 2 MiB tmpfs fills up while a container writes: the
/// collector says so in `/healthz`, pauses ingest (Docker keeps the lines),
/// stops promptly and cleanly on SIGTERM meanwhile (it used to wait out its
/// 30 s limit for the indexer and exit with an error), starts again on the
/// full disk, and once the filesystem grows it resumes by itself, every
/// line once.
#[test]
fn a_full_disk_pauses_ingest_and_loses_no_line_when_space_returns() {
    const LINES: u64 = 200_000;
    let disk = Tmpfs::mount("2m");
    let data = disk.0.path().join("data");
    let mut collector = Collector::start_with(&data, &["--max-disk", "unlimited"]);
    let container = ContainerSpec::new(
        "disk-full",
        &["count:out:a line for a disk that fills up, n=:1:200000:0"],
    )
    .run();
    let degraded = poll(Duration::from_secs(120), || {
        let (_, health) = collector.get("/healthz");
        (health["index"]["ok"] == false).then_some(health)
    });
    let degraded = degraded.expect("the index never reported the full disk");
    assert!(degraded["index"]["since"].is_string(), "{degraded}");
    let error = degraded["index"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("the disk is full"), "{degraded}");
    let stderr = std::fs::read_to_string(collector.stderr_path()).unwrap_or_default();
    assert!(stderr.contains("the disk is full"), "{stderr}");
    let before = collector.total(&by_container(&container));
    assert!(before < LINES, "all {before} lines fit in 2 MiB");

    let status = collector.terminate();
    let stderr = std::fs::read_to_string(collector.stderr_path()).unwrap_or_default();
    assert!(
        status.success(),
        "SIGTERM on a full disk: {status}\n{stderr}"
    );
    assert!(
        stderr.contains("the next start reads these lines again"),
        "{stderr}"
    );
    collector.restart();
    let degraded = poll(Duration::from_secs(60), || {
        let (_, health) = collector.get("/healthz");
        (health["index"]["ok"] == false).then_some(())
    });
    assert!(
        degraded.is_some(),
        "restarted on a full disk, the index says it is fine"
    );

    disk.resize("256m");
    let filter = by_container(&container);
    collector.wait_total_within(&filter, LINES, Duration::from_secs(180));
    let hits = collector.all_hits(&filter);
    let prefix = "a line for a disk that fills up, n=";
    assert_each_once(&hits, prefix, LINES, &format!("{before} indexed when full"));
    let (_, health) = collector.get("/healthz");
    assert_eq!(health["index"]["ok"], true, "{health}");
    drop(collector);
}

//! Line assembly: Docker's 16 KiB fragments joined, the maximum line size cut
//! and flagged, TTY line endings, and bytes that are not UTF-8.

use super::*;

/// The record of the `size:…:N` line (its message starts with `S<N>:`).
fn sized_record(hits: &[Value], n: usize) -> &Value {
    let prefix = format!("S{n}:");
    hits.iter()
        .find(|h| {
            h["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&prefix))
        })
        .unwrap_or_else(|| {
            panic!(
                "no record of the {n}-byte line: {:?}",
                hits.iter().map(short).collect::<Vec<_>>()
            )
        })
}

#[test]
fn lines_of_16383_16384_16385_bytes_are_one_record_each() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "sizes",
        &[
            "size:out:16383",
            "size:out:16384",
            "size:out:16385",
            "size:err:40000",
            "out:after",
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 5);
    for n in [16383, 16384, 16385, 40000] {
        let expected = sized_line(n);
        let record = sized_record(&hits, n);
        let message = record["message"].as_str().unwrap();
        assert_eq!(message.len(), n, "the {n}-byte line: {}", short(record));
        assert!(
            message == expected,
            "the {n}-byte line differs from what was written: {}",
            short(record)
        );
        assert_not_truncated(record);
    }
    assert_eq!(hit(&hits, "after")["stream"], "stdout");
}

#[test]
fn line_over_1mib_is_cut_to_1mib_and_flagged() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "mib",
        &["size:out:1048576", "size:out:1048577", "out:after-big"],
    )
    .run();
    let filter = by_container(&container);
    collector.wait_total_within(&filter, 3, Duration::from_secs(90));
    let hits = wait_records(&collector, &container, 3);

    let exact = sized_record(&hits, MIB);
    assert_eq!(
        exact["message"].as_str().unwrap().len(),
        MIB,
        "{}",
        short(exact)
    );
    assert!(
        exact["message"] == sized_line(MIB).as_str(),
        "{}",
        short(exact)
    );
    assert_not_truncated(exact);

    let cut = sized_record(&hits, MIB + 1);
    let message = cut["message"].as_str().unwrap();
    assert_eq!(
        message.len(),
        MIB,
        "cut to the 1 MiB maximum: {}",
        short(cut)
    );
    assert!(
        sized_line(MIB + 1).starts_with(message),
        "the cut keeps the start: {}",
        short(cut)
    );
    assert_eq!(cut["truncated"], true, "{}", short(cut));

    assert_not_truncated(hit(&hits, "after-big"));
}

#[test]
fn max_line_bytes_flag_sets_the_cut() {
    let dir = data_dir();
    // 1 KiB is the smallest maximum the collector accepts.
    let collector = Collector::start_with(dir.path(), &["--max-line-bytes", "1024"]);
    let container = ContainerSpec::new(
        "maxbytes",
        &[
            "size:out:1024",
            "size:out:1025",
            "size:err:20000",
            "out:short",
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 4);
    for (n, cut) in [(1024, false), (1025, true), (20000, true)] {
        let record = sized_record(&hits, n);
        assert_eq!(
            record["message"],
            sized_line(n)[..1024],
            "{}",
            short(record)
        );
        if cut {
            assert_eq!(record["truncated"], true, "{}", short(record));
        } else {
            assert_not_truncated(record);
        }
    }
    assert_not_truncated(hit(&hits, "short"));
}

#[test]
fn tty_lines_have_no_carriage_return() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("tty", &["out:tty-one", "err:tty-two", "size:out:20000"])
        .tty()
        .run();
    let hits = wait_records(&collector, &container, 3);
    assert_eq!(hit(&hits, "tty-one")["stream"], "stdout");
    // On a TTY both streams are the terminal, which Docker reports as stdout.
    assert_eq!(hit(&hits, "tty-two")["stream"], "stdout");
    let long = hit(&hits, &sized_line(20000));
    assert_not_truncated(long);
    for record in &hits {
        assert!(
            !record["message"].as_str().unwrap().contains('\r'),
            "CR kept: {}",
            short(record)
        );
    }
}

#[test]
fn invalid_utf8_bytes_keep_the_line() {
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "utf8",
        &[
            "out:before-bad",
            "hex:out:66 6f 6f ff fe 62 61 72 0a",
            "hex:err:c3 28 0a",
            "hex:out:e2 82 0a",
            "out:after-bad",
            // A last line without a newline reaches the log when stdout closes.
            "hex:out:6e 6f 2d 6e 6c",
        ],
    )
    .run();
    let hits = wait_records(&collector, &container, 6);
    let texts = messages(&hits);
    assert!(texts.contains(&"before-bad"), "{texts:?}");
    assert!(texts.contains(&"after-bad"), "{texts:?}");
    assert!(texts.contains(&"no-nl"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|m| m.starts_with("foo") && m.ends_with("bar") && m.len() > 6),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|m| m.ends_with('(') && m.len() > 1),
        "{texts:?}"
    );
    assert_eq!(collector.exited(), None, "the collector died");
    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");
}

//! The live page (`/`): lines already written, lines written while it is open,
//! and the filters of its URL.

use super::*;

#[test]
fn line_written_before_the_page_opened_is_shown_live() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let line = term("before");
    let container = run(
        "live_before",
        None,
        &[format!("out:INFO {line} written first"), "stay".into()],
    );
    wait_indexed(&collector, &container, 1);

    let browser = Browser::open(collector.port());
    browser.goto(&format!("/?container={}", enc(&container.name)));
    browser.wait_for("#live");
    let rows = browser.wait_row(&line);
    assert_rows(&rows, &[&format!("{line} written first")]);
    assert_eq!(browser.texts(".row[data-seq] .level"), vec!["INFO"]);
    browser.wait_text("#status", "live");
    assert_eq!(
        browser.texts(".row[data-seq] .container"),
        vec![container.name.clone()],
        "the row names its container"
    );
}

#[test]
fn line_written_after_the_page_opened_appears() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let spec = ContainerSpec::new("live_after", &[]);
    let (out, err) = (term("after"), term("aftererr"));

    // The page is open and following before the container even exists.
    let browser = Browser::open(collector.port());
    browser.goto(&format!("/?container={}", enc(spec.name())));
    browser.wait_text("#status", "live");
    assert_eq!(browser.rows(), Vec::<String>::new(), "nothing matches yet");

    let steps = [
        format!("out:{out} on stdout"),
        format!("err:{err} on stderr"),
    ];
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let _container = ContainerSpec::new("live_after", &steps)
        .with_name(spec.name())
        .run();
    browser.wait_row(&err);
    let mut rows = browser.wait_row(&out);
    // Docker copies stdout and stderr separately: their relative order is its own.
    rows.sort();
    let mut expected = vec![format!("{out} on stdout"), format!("{err} on stderr")];
    expected.sort();
    assert_eq!(rows, expected, "both lines, each once");
    assert_eq!(
        browser.count(".row[data-seq].stderr"),
        1,
        "the stderr line, and only it, is marked stderr"
    );
    assert!(
        browser.texts(".row[data-seq].stderr .msg")[0].contains(&err),
        "the stderr row is the err line"
    );
}

#[test]
fn url_filters_apply_on_the_live_page() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let (a_info, a_error, b_error) = (term("ainfo"), term("aerror"), term("berror"));
    let b = run(
        "live_filter_b",
        None,
        &[format!("out:ERROR {b_error} broken"), "stay".into()],
    );
    // B's line is older than A's: the tail comes oldest first, so a line the
    // filter let through would be drawn no later than A's error line.
    wait_indexed(&collector, &b, 1);
    let a = run(
        "live_filter_a",
        None,
        &[
            format!("out:INFO {a_info} fine"),
            format!("out:ERROR {a_error} broken"),
            "stay".into(),
        ],
    );
    wait_indexed(&collector, &a, 2);

    let browser = Browser::open(collector.port());
    let path = format!("/?{}", query(&[("container", &a.name), ("level", "error")]));
    browser.goto(&path);
    // A's info line is older than its error line, B's older still (above):
    // once A's error line is drawn, anything the filter let through would be.
    let rows = browser.wait_row(&a_error);
    browser.wait_text("#status", "live");
    assert_rows(&rows, &[&format!("{a_error} broken")]);
    assert_eq!(browser.texts(".row[data-seq] .level"), vec!["ERROR"]);

    // The same page without the level filter shows both of A's lines, still not B's.
    browser.goto(&format!("/?container={}", enc(&a.name)));
    let rows = browser.wait_row(&a_error);
    assert_rows(
        &rows,
        &[&format!("{a_info} fine"), &format!("{a_error} broken")],
    );
    assert_eq!(
        browser.texts(".row[data-seq] .level"),
        vec!["INFO", "ERROR"]
    );
    assert!(!rows.iter().any(|row| row.contains(&b_error)), "{rows:?}");
}

#[test]
fn pause_holds_new_lines_until_resumed() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let spec = ContainerSpec::new("live_pause", &[]);
    let line = term("paused");

    let browser = Browser::open(collector.port());
    browser.goto(&format!("/?container={}", enc(spec.name())));
    browser.wait_text("#status", "live");
    browser.click("#pause");
    browser.wait_text("#status", "paused");

    let steps = [format!("out:{line} while paused")];
    let _container = ContainerSpec::new("live_pause", &[steps[0].as_str()])
        .with_name(spec.name())
        .run();
    // The line reached the collector (and its live feed) …
    collector.wait_total(&[("container", spec.name())], 1);
    let waiting = browser.wait_text("#status-detail", "waiting");
    assert!(waiting.starts_with("1 "), "one line waits: {waiting:?}");
    // … but the paused page has not shown it.
    assert_eq!(browser.rows(), Vec::<String>::new());

    browser.click("#pause");
    browser.wait_text("#status", "live");
    assert_eq!(
        browser.wait_row(&line),
        vec![format!("{line} while paused")]
    );
}

#[test]
fn containers_page_links_to_the_live_view() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let line = term("listed");
    let container = run(
        "containers_page",
        Some("listed"),
        &[format!("out:{line}"), "stay".into()],
    );
    wait_indexed(&collector, &container, 1);

    let browser = Browser::open(collector.port());
    browser.goto("/containers");
    browser.wait_for("#containers");
    let row = format!("tr.container-row[data-name=\"{}\"]", container.name);
    browser.wait_for(&row);
    browser.wait_text(&format!("{row} td"), "running");
    browser.click(&format!("{row} a.live-link"));
    browser.wait_for("#live");
    assert_eq!(browser.wait_row(&line), vec![line.clone()]);
    assert!(
        browser
            .current_url()
            .ends_with(&format!("/?container={}", enc(&container.name))),
        "{}",
        browser.current_url()
    );
}

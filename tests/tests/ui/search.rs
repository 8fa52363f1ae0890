//! The search page: a deep link's results, count and chart; follow mode; a bad
//! query; and the downloads, which must hold exactly what the search matched.

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

#[test]
fn search_deep_link_shows_its_match_count_and_chart() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let needle = term("needle");
    let container = run(
        "search_deep_link",
        None,
        &[
            "out:INFO an unrelated line".into(),
            format!("err:ERROR {needle} went wrong"),
            "out:INFO another unrelated line".into(),
        ],
    );
    wait_indexed(&collector, &container, 3);

    let browser = Browser::open(collector.port());
    browser.goto(&format!(
        "/search?{}",
        query(&[("q", &needle), ("since", "1h")])
    ));
    browser.wait_for("#search");
    let total = browser.wait("#total[data-total]", |b| b.attr("#total", "data-total"));
    assert_eq!(total, "1");
    assert_eq!(browser.texts("#total"), vec!["1 line"]);
    assert_rows(
        &browser.wait_row(&needle),
        &[&format!("{needle} went wrong")],
    );
    assert_eq!(
        browser.texts("#results .row[data-seq] .level"),
        vec!["ERROR"]
    );
    assert_eq!(browser.count("#results .row[data-seq].stderr"), 1);

    let chart_total = browser.wait("svg#chart[data-total]", |b| {
        b.attr("svg#chart", "data-total")
    });
    assert_eq!(chart_total, "1", "the chart counts the one match");
    let bars = browser.execute(
        "return [...document.querySelectorAll('svg#chart rect.bar')]
           .map((r) => [r.dataset.level, Number(r.dataset.count)]);",
        vec![],
    );
    assert_eq!(
        bars,
        serde_json::json!([["error", 1]]),
        "one bar, of level error, counting one line"
    );
}

#[test]
fn follow_shows_a_new_matching_line_at_the_top() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let word = term("follow");
    let first = run("follow_first", None, &[format!("out:{word} first")]);
    wait_indexed(&collector, &first, 1);

    let browser = Browser::open(collector.port());
    browser.goto(&format!("/search?q={}", enc(&word)));
    assert_eq!(browser.wait_row(&word), vec![format!("{word} first")]);
    browser.click("#follow");
    browser.wait("the URL to say follow=1", |b| {
        b.current_url().contains("follow=1").then_some(())
    });
    browser.wait("the follow feed to be live", |b| {
        (b.attr("#follow-state", "data-state").as_deref() == Some("live")).then_some(())
    });
    assert_eq!(browser.rows(), vec![format!("{word} first")]);

    let _second = run(
        "follow_second",
        None,
        &[
            format!("out:{word} second"),
            "out:a line that does not match".into(),
        ],
    );
    let rows = browser.wait_row(&format!("{word} second"));
    assert_eq!(
        rows,
        vec![format!("{word} second"), format!("{word} first")],
        "the new line on top, nothing else"
    );
    browser.wait_text("#follow-count", "+1");
}

#[test]
fn bad_query_shows_the_servers_message() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let bad = "message:(";
    let answer = collector.request(&format!("/api/search?q={}", enc(bad)), None);
    assert_eq!(answer.status, 400, "{}", answer.body);
    let detail = answer.json["detail"]
        .as_str()
        .filter(|detail| !detail.is_empty())
        .unwrap_or_else(|| panic!("a 400 with a detail: {}", answer.body))
        .to_string();

    let browser = Browser::open(collector.port());
    browser.goto(&format!("/search?q={}", enc(bad)));
    let shown = browser.wait_text("#query-error", &detail);
    assert_eq!(shown, detail);
    assert_eq!(
        browser.attr("#query-error", "hidden"),
        None,
        "the message is not hidden"
    );
    assert_eq!(browser.attr("#q", "aria-invalid").as_deref(), Some("true"));
    assert_eq!(
        browser.execute("return document.getElementById('q').value;", vec![]),
        Value::from(bad),
        "the query stays in the box, to be fixed"
    );
}

#[test]
fn query_typed_in_the_box_runs_on_enter() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let word = term("typed");
    let container = run(
        "search_typed",
        None,
        &[format!("out:{word} found"), "out:not this one".into()],
    );
    wait_indexed(&collector, &container, 2);

    let browser = Browser::open(collector.port());
    browser.goto("/search");
    browser.wait_for("#q");
    browser.type_into("#q", &word);
    browser.press_enter("#q");
    browser.wait("the URL to carry the query", |b| {
        b.current_url()
            .contains(&format!("q={}", enc(&word)))
            .then_some(())
    });
    assert_eq!(browser.wait_row(&word), vec![format!("{word} found")]);
    let total = browser.wait("#total[data-total]", |b| b.attr("#total", "data-total"));
    assert_eq!(total, "1");
}

#[test]
fn downloads_hold_exactly_the_matching_lines() {
    let dir = data_dir();
    let token = term("token");
    let collector = Collector::start_with(dir.path(), &["--auth-token", &token]);
    let word = term("export");
    let mut steps: Vec<String> = (0..25).map(|i| format!("out:{word} line {i}")).collect();
    steps.push("out:a line the search does not match".into());
    steps.push(format!(
        "err:{{\"level\":\"error\",\"msg\":\"{word} as json\"}}"
    ));
    let container = run("downloads", None, &steps);
    wait_indexed(&collector, &container, 27);
    let expected = collector.all_hits(&[("q", &word), ("container", &container.name)]);
    assert_eq!(expected.len(), 26, "the search matches 26 of the 27 lines");

    let browser = Browser::open(collector.port());
    super::security::log_in(&browser, &token, "/search");
    browser.goto(&format!(
        "/search?{}",
        query(&[("q", &word), ("container", &container.name)])
    ));
    let total = browser.wait("#total[data-total]", |b| b.attr("#total", "data-total"));
    assert_eq!(total, "26");
    let cookie = browser
        .cookie("wakeline_token")
        .expect("logged in: the browser holds the session cookie");
    let http = reqwest::blocking::Client::new();
    let fetch = |link: &str| -> String {
        let href = browser
            .attr(link, "href")
            .unwrap_or_else(|| panic!("{link} has an href"));
        let response = http
            .get(browser.url(&href))
            .header("Cookie", format!("wakeline_token={cookie}"))
            .send()
            .unwrap_or_else(|e| panic!("GET {href}: {e}"));
        assert_eq!(response.status(), 200, "GET {href}");
        let disposition = response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            disposition.starts_with("attachment"),
            "GET {href}: {disposition:?}"
        );
        response.text().expect("read the download")
    };

    let ndjson = fetch("a#download-ndjson");
    let records: Vec<Value> = ndjson
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an NDJSON line is a record ({e}): {line:?}"))
        })
        .collect();
    assert_eq!(records.len(), 26, "{ndjson}");
    let seqs = |records: &[Value]| -> BTreeSet<u64> {
        records
            .iter()
            .map(|r| r["seq"].as_u64().expect("a record has a seq"))
            .collect()
    };
    assert_eq!(seqs(&records), seqs(&expected));
    assert_eq!(
        records, expected,
        "the same records, field for field, oldest first"
    );

    let text = fetch("a#download-text");
    let lines: Vec<&str> = text.lines().collect();
    let expected_lines: Vec<String> = expected
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["ts"].as_str().unwrap_or_default(),
                r["container"].as_str().unwrap_or_default(),
                r["stream"].as_str().unwrap_or_default(),
                r["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(lines, expected_lines);
}

#[test]
fn a_stack_trace_is_one_row_that_opens_to_all_its_lines() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let needle = term("trace");
    let trace = [
        format!("Error: {needle} failed"),
        "    at handler (/app/routes.js:14:22)".to_owned(),
        "    at async Promise.all (index 0)".to_owned(),
    ]
    .join("\n");
    let container = run(
        "search_stack_trace",
        None,
        &[format!("err:{trace}"), "out:INFO after".into()],
    );
    wait_indexed(&collector, &container, 2);

    let browser = Browser::open(collector.port());
    browser.goto(&format!(
        "/search?{}",
        query(&[("q", &needle), ("since", "1h")])
    ));
    // Folded: the first line, and a button that says how many lines there are.
    assert_rows(&browser.wait_row(&needle), &[&format!("{needle} failed")]);
    assert_eq!(
        browser.texts("#results .row[data-seq] .show-all"),
        vec!["show all 3 lines"]
    );
    browser.click("#results .row[data-seq] .show-all");
    let shown = browser.wait("the whole trace", |b| {
        let text = b.texts("#results .row[data-seq] .msg").join("");
        text.contains("Promise.all").then_some(text)
    });
    assert!(trace.ends_with(&shown), "{shown:?}");
    assert_eq!(shown.lines().count(), 3, "{shown:?}");
}

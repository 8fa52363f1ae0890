//! The search API: filters, free text and fields, time bounds, ordering,
//! pagination, and bad input answered with 400 and a JSON error, never a 500.

use super::*;
use wakeline_e2e::enc;

/// Five records, 30 ms apart, of every format, level and stream.
fn search_fixture(collector: &Collector, project: &str) -> (Container, Vec<Value>) {
    let container = ContainerSpec::new(
        "search",
        &[
            r#"out:{"level":"info","msg":"alpha one","request_id":"s1","user_id":42}"#,
            "sleep:30",
            r#"err:{"level":"error","msg":"beta two","request_id":"s2"}"#,
            "sleep:30",
            r#"out:level=warn msg="gamma three" user=9"#,
            "sleep:30",
            "err:plain delta four",
            "sleep:30",
            "out:INFO epsilon five",
        ],
    )
    .project(project)
    .service(&format!("{project}_svc"))
    .run();
    let hits = wait_records(collector, &container, 5);
    (container, hits)
}

#[test]
fn search_filters_by_text_field_level_stream_and_time() {
    let project = unique("search");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let (container, all) = search_fixture(&collector, &project);
    let name = container.name.as_str();
    let found = |params: &[(&str, &str)]| -> Vec<String> {
        let mut params = params.to_vec();
        params.push(("container", name));
        params.push(("order", "asc"));
        params.push(("limit", "100"));
        let body = collector.search(&params);
        let hits = body["hits"].as_array().unwrap_or_else(|| panic!("{body}"));
        assert_eq!(body["total"], hits.len(), "total for {params:?}: {body}");
        assert!(body["took_ms"].is_number(), "took_ms: {body}");
        messages(hits).into_iter().map(str::to_string).collect()
    };
    let msg = |i: usize| all[i]["message"].as_str().unwrap().to_string();
    assert!(
        msg(0).contains("alpha one") && msg(4) == "INFO epsilon five",
        "fixture order: {:?}",
        messages(&all)
    );

    assert_eq!(found(&[("q", "gamma")]), [msg(2)]);
    assert_eq!(found(&[("q", "alpha OR beta")]), [msg(0), msg(1)]);
    assert_eq!(found(&[("q", "\"alpha one\"")]), [msg(0)]);
    assert_eq!(found(&[("q", "level:error")]), [msg(1)]);
    assert_eq!(found(&[("q", "request_id:s2")]), [msg(1)]);
    assert_eq!(found(&[("q", "fields.user_id:42")]), [msg(0)]);
    assert_eq!(found(&[("request_id", "s2")]), [msg(1)]);
    assert_eq!(found(&[("level", "error")]), [msg(1)]);
    assert_eq!(found(&[("level", "info")]), [msg(0), msg(4)]);
    assert_eq!(found(&[("stream", "stderr")]), [msg(1), msg(3)]);
    assert_eq!(found(&[("stream", "stdout")]), [msg(0), msg(2), msg(4)]);
    assert_eq!(collector.total(&[("q", &format!("project:{project}"))]), 5);
    assert_eq!(
        collector.total(&[("service", &format!("{project}_svc"))]),
        5
    );

    // Bounds halfway between records, so inclusive/exclusive does not matter.
    let ts = |i: usize| order_key(&all[i]).0;
    let between = |i: usize| format_ts((ts(i) + ts(i + 1)) / 2);
    assert!(
        ts(0) < ts(1) && ts(1) < ts(2) && ts(2) < ts(3) && ts(3) < ts(4),
        "distinct timestamps"
    );
    assert_eq!(found(&[("since", &between(1))]), [msg(2), msg(3), msg(4)]);
    assert_eq!(found(&[("until", &between(1))]), [msg(0), msg(1)]);
    // The same instant written with an offset instead of `Z`.
    let plus_two = format_ts(ts(1) / 2 + ts(2) / 2 + 2 * 3_600_000_000_000).replace('Z', "+02:00");
    assert_eq!(found(&[("since", &plus_two)]), [msg(2), msg(3), msg(4)]);
    assert_eq!(
        found(&[("since", &between(0)), ("until", &between(3))]),
        [msg(1), msg(2), msg(3)]
    );
    assert_eq!(found(&[("since", "15m")]).len(), 5);
    assert_eq!(found(&[("since", "2h")]).len(), 5);
    assert_eq!(found(&[("until", "15m")]).len(), 0);
}

#[test]
fn container_filter_matches_the_exact_name_only() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let short = ContainerSpec::new("exact", &["out:exact-short"]);
    // Same name plus a suffix: a prefix or token match would mix the two up.
    let long = ContainerSpec::new("exact", &["out:exact-long", "out:exact-long-2"])
        .with_name(&format!("{}-0", short.name()));
    let short = short.run();
    let long = long.run();
    wait_records(&collector, &long, 2);
    let hits = wait_records(&collector, &short, 1);
    assert_eq!(messages(&hits), ["exact-short"]);
}

#[test]
fn search_limit_zero_order_and_cursor_pagination() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("pages", &["count:out:pg=:1:57:0"]).run();
    let all = wait_records(&collector, &container, 57);
    let name = container.name.as_str();
    let asc: Vec<String> = messages(&all).into_iter().map(str::to_string).collect();
    let expected: Vec<String> = (1..=57).map(|i| format!("pg={i}")).collect();
    assert_eq!(asc, expected, "order=asc is oldest first");

    let body = collector.search(&[("container", name), ("limit", "0")]);
    assert_eq!(body["total"], 57, "{body}");
    assert_eq!(
        body["hits"],
        json!([]),
        "limit=0 gives only the count: {body}"
    );

    let default = collector.search(&[("container", name), ("limit", "100")]);
    let newest_first: Vec<String> = expected.iter().rev().cloned().collect();
    assert_eq!(
        messages(default["hits"].as_array().unwrap()),
        newest_first,
        "newest first by default"
    );
    let desc = collector.search(&[("container", name), ("limit", "100"), ("order", "desc")]);
    assert_eq!(messages(desc["hits"].as_array().unwrap()), newest_first);

    for order in ["asc", "desc"] {
        let mut got: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0.. {
            assert!(page < 20, "pagination does not end: {got:?}");
            let mut params = vec![("container", name), ("limit", "10"), ("order", order)];
            if let Some(cursor) = cursor.as_deref() {
                params.push(("cursor", cursor));
            }
            let body = collector.search(&params);
            assert_eq!(body["total"], 57, "total on every page: {body}");
            let hits = body["hits"].as_array().unwrap();
            assert!(hits.len() <= 10, "{body}");
            got.extend(messages(hits).into_iter().map(str::to_string));
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        let want = if order == "asc" {
            expected.clone()
        } else {
            newest_first.clone()
        };
        assert_eq!(got, want, "every hit once, in {order} order");
    }
}

#[test]
fn bad_search_input_gets_400_json_never_500() {
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let deep = "(".repeat(10 * 1024);
    let bad: Vec<(&str, String)> = vec![
        ("q", "message:(".to_string()),
        ("q", deep),
        // Accepted by the parser, refused by the index (not a fast field).
        ("q", "project:*".to_string()),
        ("limit", "abc".to_string()),
        ("limit", "-1".to_string()),
        ("since", "yesterday-ish".to_string()),
        ("until", "yesterday-ish".to_string()),
        ("since", "2026-13-45T99:99:99Z".to_string()),
        ("order", "sideways".to_string()),
        ("cursor", "not a cursor!".to_string()),
        ("cursor", "AAAA".to_string()),
    ];
    for (key, value) in &bad {
        let path = format!("/api/search?{}", query(&[(key, value)]));
        let shown = format!("{key}={}", &value[..value.len().min(40)]);
        let response = collector.request(&path, None);
        assert_eq!(
            response.status,
            400,
            "{shown}: {}",
            &response.body[..response.body.len().min(500)]
        );
        assert!(
            response.json["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
                && response.json["detail"].is_string(),
            "{shown}: 400 body must be {{\"error\", \"detail\"}}: {}",
            response.body
        );
    }

    // Odd but not wrong: valid, or politely refused with a JSON error; never a 500.
    let mut words = String::new();
    for i in 0.. {
        if words.len() >= 10 * 1024 {
            break;
        }
        words.push_str(&format!("w{i} "));
    }
    let odd = [
        format!("/api/search?{}", query(&[("q", &words)])),
        "/api/search?limit=1000000000".to_string(),
        "/api/search?limit=99999999999999999999999".to_string(),
        "/api/search?q=%22unterminated".to_string(),
        "/api/search?q=%00%FF".to_string(),
        "/api/search?level=%E2%9C%93&stream=both".to_string(),
        "/api/requests/%E2%9C%93%20x".to_string(),
        format!("/api/requests/{}", "r".repeat(10 * 1024)),
    ];
    for path in &odd {
        let response = collector.request(path, None);
        let shown = &path[..path.len().min(60)];
        assert!(
            response.status == 200 || response.status == 400,
            "{shown}: {} {}",
            response.status,
            &response.body[..response.body.len().min(300)]
        );
        if response.status == 400 {
            assert!(
                response.json["error"].is_string(),
                "{shown}: {}",
                response.body
            );
        }
    }

    assert_eq!(collector.exited(), None, "bad input crashed the collector");
    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn histogram_counts_matching_lines_by_level_over_time() {
    let project = unique("histogram");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let (container, all) = search_fixture(&collector, &project);
    let name = container.name.as_str();
    let chart = |params: &str| -> Value {
        let path = format!("/api/histogram?container={}&{params}", enc(name));
        let (status, body) = collector.get(&path);
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let sum = |body: &Value, level: &str| -> u64 {
        body["buckets"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|b| b["counts"][level].as_u64().unwrap_or(0))
            .sum()
    };

    // The whole range of the matching lines, per level.
    let body = chart("buckets=10");
    assert_eq!(body["total"], 5, "{body}");
    assert_eq!(sum(&body, "info"), 2, "{body}");
    assert_eq!(sum(&body, "error"), 1, "{body}");
    assert_eq!(sum(&body, "warn"), 1, "{body}");
    assert_eq!(sum(&body, "none"), 1, "plain line without a level: {body}");
    let buckets = body["buckets"].as_array().unwrap();
    assert!(!buckets.is_empty() && buckets.len() <= 11, "{body}");
    for b in buckets {
        assert!(b["start_ms"].as_i64() < b["end_ms"].as_i64(), "{b}");
        assert!(parse_ts(b["start"].as_str().unwrap()).is_some(), "{b}");
    }

    // An explicit range is cut in buckets of a round width: a minute around
    // the lines in 60 one-second bars, the lines in the bars of their time.
    let first = order_key(&all[0]).0;
    let start = first - first.rem_euclid(60_000_000_000);
    let body = chart(&format!(
        "buckets=60&since={}&until={}",
        enc(&format_ts(start)),
        enc(&format_ts(start + 59_999_999_999))
    ));
    assert_eq!(body["interval_ms"], 1000.0, "{body}");
    assert_eq!(body["buckets"].as_array().unwrap().len(), 60, "{body}");
    let line_second = ((first - start) / 1_000_000_000) as usize;
    assert!(
        body["buckets"][line_second]["counts"]["info"].as_u64() >= Some(1),
        "the first line (info) falls in bar {line_second}: {body}"
    );

    // Filters apply as in search; a bad parameter is a 400.
    let errors = chart("buckets=5&level=error");
    assert_eq!(errors["total"], 1, "{errors}");
    assert_eq!(sum(&errors, "error"), 1, "{errors}");
    for bad in [
        "buckets=0",
        "buckets=501",
        "buckets=x",
        "q=message:(",
        "limit=3",
    ] {
        let (status, body) = collector.get(&format!("/api/histogram?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["detail"].is_string(), "{bad}: {body}");
    }
}

#[test]
fn context_shows_the_lines_around_a_record_in_its_own_container() {
    let project = unique("context");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    // Another container writing at the same time must not appear in the context.
    let other = ContainerSpec::new("context_other", &["count:out:other-:1:200:2000"])
        .project(&project)
        .run();
    let (_container, all) = search_fixture(&collector, &project);
    wait_records(&collector, &other, 200);
    let seq = all[2]["seq"].as_u64().unwrap();
    let (status, body) = collector.get(&format!("/api/context/{seq}?before=2&after=1"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"], all[2], "{body}");
    let seqs = |key: &str| -> Vec<u64> {
        body[key]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect()
    };
    let seq_of = |i: usize| all[i]["seq"].as_u64().unwrap();
    assert_eq!(seqs("before"), [seq_of(0), seq_of(1)], "{body}");
    assert_eq!(seqs("after"), [seq_of(3)], "{body}");

    // The first line has nothing before it; the default is 20 each side.
    let (_, body) = collector.get(&format!("/api/context/{}", seq_of(0)));
    assert_eq!(body["before"].as_array().map(Vec::len), Some(0), "{body}");
    assert_eq!(body["after"].as_array().map(Vec::len), Some(4), "{body}");

    let (status, body) = collector.get("/api/context/999999999");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "not found", "{body}");
    for bad in [
        "/api/context/x",
        "/api/context/1?before=1001",
        "/api/context/1?around=3",
    ] {
        let (status, body) = collector.get(bad);
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[test]
fn export_streams_every_matching_line_as_ndjson_and_as_text() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container =
        ContainerSpec::new("export", &["count:out:exported-:1:2500:0", "err:the end"]).run();
    let hits = wait_records(&collector, &container, 2501);
    let name = enc(&container.name);

    let response = collector.request(
        &format!("/api/export?container={name}&order=asc&format=ndjson"),
        None,
    );
    assert_eq!(
        response.status,
        200,
        "{}",
        &response.body[..response.body.len().min(300)]
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/x-ndjson")
    );
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"wakeline-export.ndjson\"")
    );
    let exported: Vec<Value> = response
        .body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(
        exported, hits,
        "every record, once, oldest first, as search has them"
    );

    let response = collector.request(
        &format!("/api/export?container={name}&format=text&stream=stderr"),
        None,
    );
    assert_eq!(response.status, 200);
    // Docker stamps each stream on its own: find the stderr line by stream.
    let end = hits.iter().find(|r| r["stream"] == "stderr").unwrap();
    assert_eq!(
        response.body,
        format!(
            "{} {} stderr the end\n",
            end["ts"].as_str().unwrap(),
            container.name
        )
    );

    for bad in ["format=xml", "q=message:(", "limit=5"] {
        let response = collector.request(&format!("/api/export?{bad}"), None);
        assert_eq!(response.status, 400, "{bad}: {}", response.body);
    }
}

//! `/api/containers`, `/healthz`, `/metrics`, the auth token, and configuration
//! through environment variables.

use super::*;

#[test]
fn containers_endpoint_lists_lines_and_reports_log_driver_none() {
    let project = unique("containers");
    let dir = data_dir();
    let mut collector = Collector::start(dir.path());
    let logged = ContainerSpec::new("listed", &["out:a1", "out:a2", "err:a3", "stay"])
        .project(&project)
        .service("web")
        .run();
    let silent = ContainerSpec::new("nologs", &["out:never-seen", "stay"])
        .no_logs()
        .run();

    let mut last = Value::Null;
    let found = poll(DEADLINE, || {
        let (status, body) = collector.get("/api/containers");
        assert_eq!(status, 200, "{body}");
        last = body.clone();
        let list = body["containers"].as_array()?;
        let logged_entry = list.iter().find(|c| c["id"] == logged.id.as_str())?.clone();
        let silent_entry = list.iter().find(|c| c["id"] == silent.id.as_str())?.clone();
        // The silent container's follow task finds out on its first read,
        // which may come after the other container's lines are counted.
        let reported = silent_entry["error"].is_string();
        (logged_entry["lines"] == 3 && reported).then_some((logged_entry, silent_entry))
    });
    let (entry, silent_entry) = found.unwrap_or_else(|| {
        panic!(
            "both containers, 3 lines for the first and an error for the second; \
             last answer: {last}"
        )
    });

    assert_eq!(entry["name"], logged.name.as_str(), "{entry}");
    assert!(
        entry["image"]
            .as_str()
            .unwrap_or_default()
            .contains("wakeline-test-emit"),
        "{entry}"
    );
    assert_eq!(entry["service"], "web", "{entry}");
    assert_eq!(entry["project"], project.as_str(), "{entry}");
    assert!(entry["state"].is_string(), "{entry}");
    let first = entry["first_ts"].as_str().and_then(parse_ts);
    let last_ts = entry["last_ts"].as_str().and_then(parse_ts);
    assert!(
        first.is_some() && last_ts.is_some() && first <= last_ts,
        "{entry}"
    );

    assert_eq!(silent_entry["name"], silent.name.as_str(), "{silent_entry}");
    assert!(
        silent_entry["lines"] == 0 || silent_entry["lines"].is_null(),
        "{silent_entry}"
    );
    let said: String = silent_entry
        .as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| {
            !matches!(
                key.as_str(),
                "id" | "name" | "image" | "service" | "project"
            )
        })
        .filter_map(|(_, value)| value.as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    assert!(
        said.contains("log"),
        "the entry must say the container has no logs: {silent_entry}"
    );

    let (status, body) = collector.get("/healthz");
    assert_eq!(
        status, 200,
        "a container without logs leaves the collector healthy: {body}"
    );
    assert_eq!(collector.exited(), None);
    // `lines` may count before the index commits; the search sees them after it.
    assert_eq!(collector.wait_total(&by_container(&logged), 3), 3);
}

#[test]
fn healthz_and_metrics_report_ingest() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new("metrics", &["count:out:m=:1:20:0"]).run();
    wait_records(&collector, &container, 20);

    let (status, body) = collector.get("/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.is_object(), "healthz answers JSON: {body}");

    let mut last = String::new();
    let value = |body: &str, name: &str| metric::<f64>(body, name).unwrap_or(0.0);
    let ingested = poll(DEADLINE, || {
        let response = collector.request("/metrics", None);
        assert_eq!(response.status, 200, "{}", response.body);
        last = response.body.clone();
        let total = value(&response.body, "wakeline_lines_ingested_total");
        (total >= 20.0).then_some(total)
    });
    assert!(
        ingested.is_some(),
        "wakeline_lines_ingested_total >= 20 expected in:\n{last}"
    );
    // The lines' read delays were observed (other tests' containers are
    // ingested too, so the figures are at least this container's 20).
    let observed = value(&last, "wakeline_read_delay_seconds_count");
    let in_buckets = value(&last, "wakeline_read_delay_seconds_bucket{le=\"+Inf\"}");
    assert!(observed >= 20.0, "read delays observed:\n{last}");
    assert!(in_buckets >= 20.0, "read delays in buckets:\n{last}");
    assert!(
        last.contains("# TYPE wakeline_read_delay_seconds histogram"),
        "{last}"
    );
}

#[test]
fn environment_variables_work_like_flags() {
    let dir = data_dir();
    let collector = Collector::start_with_env(
        dir.path(),
        &[],
        &[
            ("WAKELINE_AUTH_TOKEN", "env-token"),
            ("WAKELINE_MAX_LINE_BYTES", "2KiB"),
        ],
    );
    assert_eq!(collector.request("/api/containers", None).status, 401);
    let container = ContainerSpec::new("envcfg", &["size:out:3000"]).run();
    let hits = wait_records(&collector, &container, 1);
    assert_eq!(
        hits[0]["message"].as_str().map(str::len),
        Some(2048),
        "{}",
        short(&hits[0])
    );
    assert_eq!(hits[0]["truncated"], true, "{}", short(&hits[0]));
}

#[test]
fn auth_token_guards_every_route_but_healthz() {
    let dir = data_dir();
    let collector = Collector::start_with(dir.path(), &["--auth-token", "s3cret-token"]);
    for path in [
        "/api/search?limit=0",
        "/api/containers",
        "/api/requests/abc",
        "/metrics",
    ] {
        assert_eq!(
            collector.request(path, None).status,
            401,
            "{path} without a token"
        );
        assert_eq!(
            collector.request(path, Some("wrong")).status,
            401,
            "{path} with a wrong token"
        );
        let response = collector.request(path, Some("s3cret-token"));
        assert_eq!(
            response.status, 200,
            "{path} with the token: {}",
            response.body
        );
    }
    // The live WebSocket too: refused without the token, accepted with it.
    let refused = wakeline_e2e::Live::connect(collector.port(), "tail=0", None);
    let error = refused
        .err()
        .expect("/api/live without a token must be refused");
    assert!(error.contains("401"), "{error}");
    wakeline_e2e::Live::connect(collector.port(), "tail=0", Some("s3cret-token"))
        .expect("/api/live with the token");

    let response = collector.request("/healthz", None);
    assert_eq!(
        response.status, 200,
        "/healthz stays open: {}",
        response.body
    );
}

#[test]
fn unknown_route_is_404_with_json_error() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let response = collector.request("/api/no-such-route", None);
    assert_eq!(response.status, 404, "{}", response.body);
    assert!(response.json["error"].is_string(), "{}", response.body);
}

//! The request view (`/api/requests/{id}`): one request across containers,
//! oldest first, with a summary per service.

use super::*;

#[test]
fn request_id_is_traced_across_three_containers_oldest_first() {
    let rid = unique("req");
    let other = format!("{rid}_other");
    let project = unique("req");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let api = ContainerSpec::new(
        "req-api",
        &[
            &format!(r#"out:{{"level":"info","msg":"received","request_id":"{rid}"}}"#),
            &format!(r#"out:{{"level":"info","msg":"unrelated","request_id":"{other}"}}"#),
            &format!(r#"err:{{"level":"error","msg":"failed","request_id":"{rid}"}}"#),
        ],
    )
    .project(&project)
    .service("api")
    .run();
    let auth = ContainerSpec::new(
        "req-auth",
        &[
            &format!("out:level=debug msg=check request_id={rid}"),
            &format!("out:level=warn msg=slow request_id={rid}"),
            "out:level=info msg=idle",
        ],
    )
    .project(&project)
    .service("auth")
    .run();
    let db = ContainerSpec::new("req-db", &[&format!("out:INFO query ok request_id={rid}")])
        .project(&project)
        .service("db")
        .run();

    let path = format!("/api/requests/{rid}");
    let mut last = Value::Null;
    let body = poll(DEADLINE, || {
        let (status, body) = collector.get(&path);
        assert_eq!(status, 200, "GET {path}: {body}");
        last = body.clone();
        let count = body["records"].as_array().map_or(0, Vec::len);
        (count >= 5).then_some(body)
    })
    .unwrap_or_else(|| panic!("GET {path}: expected 5 records, last answer {last}"));

    assert_eq!(body["request_id"], rid.as_str(), "{body}");
    let records = body["records"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{body}");
    for pair in records.windows(2) {
        assert!(
            order_key(&pair[0]) < order_key(&pair[1]),
            "not oldest first (ts, seq): {} then {}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        records.iter().all(|r| r["request_id"] == rid.as_str()),
        "{body}"
    );
    let per_container = |c: &Container| {
        records
            .iter()
            .filter(|r| r["container_id"] == c.id.as_str())
            .count()
    };
    assert_eq!(
        (
            per_container(&api),
            per_container(&auth),
            per_container(&db)
        ),
        (2, 2, 1),
        "{body}"
    );

    let services = body["services"].as_array().expect("services list");
    assert_eq!(services.len(), 3, "one summary per service: {body}");
    for (container, service, lines, max_level) in [
        (&api, "api", 2, "error"),
        (&auth, "auth", 2, "warn"),
        (&db, "db", 1, "info"),
    ] {
        let summary = services
            .iter()
            .find(|s| s["service"] == service)
            .unwrap_or_else(|| panic!("no summary for {service}: {body}"));
        assert_eq!(summary["container"], container.name.as_str(), "{summary}");
        assert_eq!(summary["lines"], lines, "{summary}");
        assert_eq!(summary["max_level"], max_level, "{summary}");
        let own: Vec<&Value> = records
            .iter()
            .filter(|r| r["container_id"] == container.id.as_str())
            .collect();
        let first = own.iter().map(|r| order_key(r).0).min().unwrap();
        let last = own.iter().map(|r| order_key(r).0).max().unwrap();
        assert_eq!(
            summary["first_ts"].as_str().and_then(parse_ts),
            Some(first),
            "{summary}"
        );
        assert_eq!(
            summary["last_ts"].as_str().and_then(parse_ts),
            Some(last),
            "{summary}"
        );
    }
}

#[test]
fn request_view_also_finds_records_by_trace_id() {
    let trace = unique_trace_id(1);
    let rid = unique("bytrace");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = ContainerSpec::new(
        "bytrace",
        &[
            &format!(r#"out:{{"level":"info","request_id":"{rid}","trace_id":"{trace}","span_id":"{SPAN}"}}"#),
            &format!("out:WARN retry traceparent=00-{trace}-{SPAN}-01"),
        ],
    )
    .run();
    wait_records(&collector, &container, 2);
    let (status, body) = collector.get(&format!("/api/requests/{trace}"));
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().expect("records list");
    assert_eq!(records.len(), 2, "both lines carry the trace ID: {body}");
}

#[test]
fn unknown_request_id_gives_200_and_empty_lists() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let rid = unique("nobody");
    let (status, body) = collector.get(&format!("/api/requests/{rid}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"], json!([]), "{body}");
    assert_eq!(body["services"], json!([]), "{body}");
}

//! The request page: reached by clicking a request ID in a row, it shows every
//! line of that request across the services it touched.

use super::*;

#[test]
fn clicking_a_request_id_opens_the_request_across_two_services() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let rid = term("req");
    let gateway = run(
        "request_gateway",
        Some("gateway"),
        &[
            format!(r#"out:{{"level":"info","msg":"GET /checkout","request_id":"{rid}"}}"#),
            "out:INFO a line of no request".into(),
            format!(r#"out:{{"level":"info","msg":"200 OK in 84ms","request_id":"{rid}"}}"#),
            "stay".into(),
        ],
    );
    let payments = run(
        "request_payments",
        Some("payments"),
        &[
            format!("err:level=error msg=\"card declined\" request_id={rid}"),
            "stay".into(),
        ],
    );
    wait_indexed(&collector, &gateway, 3);
    wait_indexed(&collector, &payments, 1);
    let (status, request) = collector.get(&format!("/api/requests/{rid}"));
    assert_eq!(status, 200, "{request}");
    assert_eq!(
        request["records"].as_array().map(Vec::len),
        Some(3),
        "{request}"
    );

    let browser = Browser::open(collector.port());
    browser.goto(&format!("/?container={}", enc(&gateway.name)));
    browser.wait_row("GET /checkout");
    browser.click(&format!(".row[data-seq] a.rid[href=\"/requests/{rid}\"]"));
    browser.wait_for("#request");
    assert!(
        browser.current_url().ends_with(&format!("/requests/{rid}")),
        "{}",
        browser.current_url()
    );
    browser.wait_for(".service-row");
    let mut services: Vec<String> = browser
        .execute(
            "return [...document.querySelectorAll('.service-row')].map((r) => r.dataset.service);",
            vec![],
        )
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    services.sort();
    assert_eq!(services, vec!["gateway", "payments"]);
    let rows = browser.rows();
    assert_eq!(
        rows.len(),
        3,
        "the request's three lines and not the other: {rows:?}"
    );
    for expected in ["GET /checkout", "200 OK in 84ms", "card declined"] {
        assert!(
            rows.iter().any(|row| row.contains(expected)),
            "{expected:?} in {rows:?}"
        );
    }
    assert_eq!(
        browser.texts("#request .row[data-seq] .container"),
        order_of(&request),
        "oldest first, as the API orders them"
    );
    browser.wait_for("svg#timeline");
    assert_eq!(
        browser.count("svg#timeline rect.lane-bar"),
        2,
        "one lane per service"
    );
}

/// The containers of a request's records, in the API's order.
fn order_of(request: &serde_json::Value) -> Vec<String> {
    request["records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .map(|r| r["container"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

//! The README's screenshots, made from real traffic (not a test of behaviour):
//!
//! ```sh
//! cargo test -p wakeline-e2e --test ui screenshots -- --ignored
//! ```
//!
//! Four containers of a compose project `shop` write for about a minute —
//! JSON (gateway, users), logfmt (payments) and plain lines with ANSI colours
//! (worker), some warnings and errors, request IDs that cross services — and
//! the live, search, request and containers pages are shot at 1280×800, in the
//! light and the dark theme, into `docs/screenshots/`.

use super::*;

use std::time::Duration;

use wakeline_e2e::{docker, workspace_root};

/// Seconds of traffic each container writes (one tick every `TICK_MS`).
const TICKS: u32 = 150;
const TICK_MS: u32 = 400;
const PROJECT: &str = "shop";

/// A tiny deterministic generator, so every run draws the same day at the shop.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(n)) as u32
    }
}

/// The steps of each container, `(service, steps)`, and a request to show (a
/// checkout: gateway, users and payments); lines of one request are written
/// in the same tick by every service it touches.
type Traffic = (Vec<(&'static str, Vec<String>)>, String);

fn traffic() -> Traffic {
    let services = ["gateway", "users", "payments", "worker"];
    let mut steps: Vec<Vec<String>> = vec![Vec::new(); services.len()];
    let mut rng = Lcg(7);
    let mut shown = None;
    // Gateway answers go out two ticks after the request: after the other
    // services' lines, whose containers start a little later than gateway's.
    let mut answers: std::collections::VecDeque<Vec<String>> = vec![Vec::new(); 2].into();
    let paths = [
        ("GET", "/api/orders"),
        ("GET", "/api/users/me"),
        ("POST", "/api/checkout"),
        ("GET", "/api/products"),
    ];
    for tick in 0..TICKS {
        let rid = format!(
            "0190a5c4-{:04x}-7cc2-b4a1-{:012x}",
            tick,
            0x9f3c_2a1d_7e55_u64 + u64::from(tick)
        );
        let (method, path) = paths[rng.below(paths.len() as u32) as usize];
        let slow = rng.below(12) == 0;
        let declined = path == "/api/checkout" && rng.below(3) == 0;
        let status = if declined { 402 } else { 200 };
        let ms = if slow {
            900 + rng.below(600)
        } else {
            8 + rng.below(60)
        };
        let user = 1000 + rng.below(90);
        // gateway: JSON, a line when a request comes in and one when its
        // answer goes out, and the odd warning.
        steps[0].extend(answers.pop_front().unwrap_or_default());
        answers.push_back(Vec::new());
        steps[0].push(format!(
            r#"out:{{"level":"info","msg":"{method} {path}","request_id":"{rid}","user_id":{user}}}"#
        ));
        answers[1].push(format!(
            r#"out:{{"level":"{}","msg":"{status} {method} {path}","request_id":"{rid}","status":{status},"duration_ms":{ms}}}"#,
            if status == 200 { "info" } else { "warn" }
        ));
        if slow {
            steps[0].push(format!(
                r#"out:{{"level":"warn","msg":"slow upstream users","request_id":"{rid}","duration_ms":{ms}}}"#
            ));
        }
        // users: JSON too (tracing's JSON layer), for the requests that need a user.
        if path != "/api/products" {
            steps[1].push(format!(
                r#"out:{{"level":"info","msg":"loaded user","request_id":"{rid}","user_id":{user},"cache":"{}"}}"#,
                if rng.below(4) == 0 { "miss" } else { "hit" }
            ));
        }
        if slow {
            steps[1].push(format!(
                r#"err:{{"level":"error","msg":"db query timeout","request_id":"{rid}","elapsed_ms":{ms}}}"#
            ));
        }
        // payments: logfmt, for checkouts.
        if path == "/api/checkout" {
            steps[2].push(format!(
                "out:level=info msg=\"charging card\" request_id={rid} amount={}.{:02} currency=EUR",
                10 + rng.below(190),
                rng.below(100)
            ));
            if declined && shown.is_none() && tick > 10 {
                shown = Some(rid.clone());
            }
            if declined {
                steps[2].push(format!(
                    "err:level=error msg=\"card declined\" request_id={rid} reason=insufficient_funds"
                ));
            } else {
                steps[2].push(format!(
                    "out:level=info msg=\"charge captured\" request_id={rid}"
                ));
            }
        }
        // worker: plain lines with a level prefix and ANSI colours.
        if tick % 5 == 0 {
            let job = 4100 + tick / 5;
            let line = if rng.below(6) == 0 {
                format!("WARN job {job}: \x1b[33mretrying\x1b[0m send_receipt (attempt 2)")
            } else {
                format!(
                    "INFO job {job}: \x1b[32m✓\x1b[0m send_receipt done in {}ms",
                    20 + rng.below(200)
                )
            };
            steps[3].push(raw("out", &line));
        }
        for container in &mut steps {
            container.push(format!("sleep:{TICK_MS}"));
        }
    }
    for container in &mut steps {
        container.push("stay".into());
    }
    let shown = shown.expect("the traffic holds a declined checkout");
    (services.into_iter().zip(steps).collect(), shown)
}

/// Runs `shop-<service>` (labelled as a test container, so sweeps remove it),
/// first removing a leftover of an earlier run of this test.
fn run_service(service: &str, steps: &[String]) -> Container {
    let name = format!("{PROJECT}-{service}");
    let leftover = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=^{name}$"),
        "--filter",
        "label=wakeline-test=1",
    ]);
    if !leftover.is_empty() {
        docker(&["rm", "-f", &leftover]);
    }
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    ContainerSpec::new("screenshots", &steps)
        .with_name(&name)
        .project(PROJECT)
        .service(service)
        .run()
}

#[test]
#[ignore = "makes docs/screenshots/*.png; run it by name with --ignored"]
fn screenshots() {
    let out = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&out).expect("create docs/screenshots");
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let (traffic, request) = traffic();
    let containers: Vec<Container> = traffic
        .iter()
        .map(|(service, steps)| run_service(service, steps))
        .collect();
    let project = format!("project:{PROJECT}");
    // A minute of traffic, so the chart has a shape.
    collector.wait_total_within(&[("q", &project)], 250, Duration::from_secs(120));

    let browser = Browser::open(collector.port());
    browser.set_viewport(1280, 800);
    let pages = [
        (
            "live",
            format!("/?{}", query(&[("q", &project)])),
            "#live .row[data-seq]",
        ),
        (
            "search",
            format!("/search?{}", query(&[("q", &project), ("since", "1m")])),
            "svg#chart rect.bar",
        ),
        (
            "request",
            format!("/requests/{}", enc(&request)),
            ".service-row",
        ),
        ("containers", "/containers".to_string(), "tr.container-row"),
    ];
    for theme in ["light", "dark"] {
        browser.goto("/");
        browser.execute(
            "localStorage.setItem('wakeline-theme', arguments[0]);",
            vec![serde_json::json!(theme)],
        );
        for (name, path, ready) in &pages {
            browser.goto(path);
            browser.wait_for(ready);
            if *name == "live" {
                browser.wait("a screenful of live lines", |b| {
                    (b.count(ready) >= 30).then_some(())
                });
                // The counters are redrawn a few times a second, after the rows.
                browser.wait("the live counters", |b| {
                    let counts = b.texts("#live .counts").concat();
                    (!counts.is_empty() && !counts.starts_with("0 ")).then_some(())
                });
            }
            assert_eq!(browser.attr("html", "data-theme").as_deref(), Some(theme));
            let file = out.join(format!("{name}-{theme}.png"));
            browser.screenshot(&file);
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            eprintln!("{} ({size} bytes)", file.display());
            assert!(
                size < 300_000,
                "{} is {size} bytes: README images stay under 300 KB",
                file.display()
            );
        }
    }
    drop(containers);
}

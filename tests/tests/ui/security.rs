//! What log content can and cannot do in the page (markup stays text, escapes
//! are only colours), and the login form in front of a collector with a token.

use super::*;

/// Logs in through the form: opens `path`, expects to be sent to the login
/// page, types `token`, and waits until the page asked for is shown.
pub fn log_in(browser: &Browser, token: &str, path: &str) {
    browser.goto(path);
    browser.wait_for("form#login");
    browser.type_into("input#token", token);
    browser.press_enter("input#token");
    browser.wait("the login page to be left", |b| {
        (b.count("form#login") == 0).then_some(())
    });
}

/// `rgb(r, g, b)` / `rgba(r, g, b, a)` as numbers.
fn rgb(colour: &str) -> (u8, u8, u8) {
    let inner = colour
        .trim()
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')');
    let parts: Vec<u8> = inner
        .split(',')
        .take(3)
        .map(|p| {
            p.trim()
                .parse()
                .unwrap_or_else(|_| panic!("a colour: {colour:?}"))
        })
        .collect();
    assert_eq!(parts.len(), 3, "a colour: {colour:?}");
    (parts[0], parts[1], parts[2])
}

#[test]
fn markup_and_hyperlinks_in_lines_show_as_text_and_run_nothing() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let script = "<script>window.__pwned=1</script>";
    let img = r#"<img src=x onerror="window.__pwned=1">"#;
    let osc8 = "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ here";
    let container = run(
        "markup",
        None,
        &[
            raw("out", script),
            raw("out", img),
            raw("err", osc8),
            "stay".into(),
        ],
    );
    wait_indexed(&collector, &container, 3);

    let browser = Browser::open(collector.port());
    for page in [
        format!("/?container={}", enc(&container.name)),
        format!("/search?container={}", enc(&container.name)),
    ] {
        browser.goto(&page);
        // The three lines, whichever order they are drawn in.
        let mut sorted = browser.wait("the three lines", |b| {
            let rows = b.rows();
            (rows.len() >= 3).then_some(rows)
        });
        sorted.sort();
        let mut expected = vec![
            script.to_string(),
            img.to_string(),
            "click here".to_string(),
        ];
        expected.sort();
        assert_eq!(sorted, expected, "{page}: the lines, as text");
        assert_eq!(
            browser.count(".row .msg script, .row .msg img, .row .msg a"),
            0,
            "{page}: no element was made from a line"
        );
        assert_eq!(
            browser.count("a[href*=\"evil.example\"]"),
            0,
            "{page}: the OSC-8 link is dropped"
        );
        assert_eq!(
            browser.execute("return window.__pwned === undefined;", vec![]),
            serde_json::Value::Bool(true),
            "{page}: nothing in a line ran"
        );
    }
}

#[test]
fn ansi_colours_render_as_colours() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let container = run(
        "ansi",
        None,
        &[
            raw("out", "basic \x1b[31mred\x1b[0m plain"),
            raw("out", "indexed \x1b[38;5;196mred196\x1b[0m"),
            raw("out", "truecolor \x1b[38;2;0;128;255mazure\x1b[0m"),
            "stay".into(),
        ],
    );
    wait_indexed(&collector, &container, 3);

    let browser = Browser::open(collector.port());
    browser.goto(&format!("/?container={}", enc(&container.name)));
    let rows = browser.wait_row("azure");
    assert_eq!(
        rows,
        vec!["basic red plain", "indexed red196", "truecolor azure"],
        "escape sequences are not shown as text"
    );
    assert_eq!(browser.texts(".msg .ansi-fg-1"), vec!["red"]);
    for theme in ["light", "dark"] {
        browser.execute(
            "document.documentElement.dataset.theme = arguments[0];",
            vec![serde_json::json!(theme)],
        );
        let red = browser
            .computed_style(".msg .ansi-fg-1", "color")
            .expect("the red span");
        let (r, g, b) = rgb(&red);
        assert!(
            r >= 150 && g <= r / 2 && b <= r / 2,
            "{theme}: ANSI red renders red, got {red}"
        );
        let plain = browser
            .computed_style(".row[data-seq] .msg", "color")
            .expect("a message");
        assert_ne!(plain, red, "{theme}: the rest of the line is not red");
    }
    let coloured = browser.execute(
        "return [...document.querySelectorAll('.msg span')]
           .filter((s) => s.style.color)
           .map((s) => [s.textContent, getComputedStyle(s).color]);",
        vec![],
    );
    assert_eq!(
        coloured,
        serde_json::json!([["red196", "rgb(255, 0, 0)"], ["azure", "rgb(0, 128, 255)"]])
    );
}

#[test]
fn login_form_guards_the_ui_and_the_right_token_opens_it() {
    let dir = data_dir();
    let token = term("secret");
    let collector = Collector::start_with(dir.path(), &["--auth-token", &token]);
    let line = term("behind");
    let container = run("login", None, &[format!("out:{line}"), "stay".into()]);
    wait_indexed(&collector, &container, 1);

    let browser = Browser::open(collector.port());
    let page = format!("/?container={}", enc(&container.name));
    browser.goto(&page);
    browser.wait_for("form#login");
    assert!(
        browser.current_url().contains("/login"),
        "{}",
        browser.current_url()
    );
    assert_eq!(browser.rows(), Vec::<String>::new(), "no line before login");

    browser.type_into("input#token", "not-the-token");
    browser.press_enter("input#token");
    let error = browser.wait("#login-error to say something", |b| {
        b.texts("#login-error")
            .into_iter()
            .find(|text| !text.trim().is_empty())
    });
    assert!(!error.contains(&token), "{error}");
    assert_eq!(browser.count("form#login"), 1, "still on the login page");
    assert_eq!(browser.cookie("wakeline_token"), None, "no session cookie");

    browser.type_into("input#token", &token);
    browser.press_enter("input#token");
    browser.wait_for("#live");
    assert_eq!(browser.wait_row(&line), vec![line.clone()]);
    browser.wait_text("#status", "live");
    assert!(
        browser.current_url().ends_with(&page),
        "back where the login started: {}",
        browser.current_url()
    );
    assert_eq!(
        browser.cookie_http_only("wakeline_token"),
        Some(true),
        "the session cookie is HttpOnly"
    );
    assert_eq!(
        browser.execute(
            "return document.cookie.includes(arguments[0]);",
            vec![serde_json::json!(token)]
        ),
        serde_json::Value::Bool(false),
        "page scripts cannot read the token"
    );

    // Logging out sends the page back to the form.
    browser.click("#logout");
    browser.wait_for("form#login");
    browser.goto(&page);
    browser.wait_for("form#login");
}

#[test]
fn theme_toggle_switches_between_light_and_dark() {
    let dir = data_dir();
    let collector = Collector::start(dir.path());
    let browser = Browser::open(collector.port());
    browser.goto("/search");
    browser.wait_for("#search");
    let luminance = |b: &Browser| -> u32 {
        let bg = b
            .computed_style("body", "background-color")
            .expect("a body");
        let (r, g, bl) = rgb(&bg);
        u32::from(r) + u32::from(g) + u32::from(bl)
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        browser.click("#theme");
        let theme = browser
            .attr("html", "data-theme")
            .expect("the page has a theme");
        seen.push((theme, luminance(&browser)));
    }
    let light = seen.iter().find(|(t, _)| t == "light").map(|(_, l)| *l);
    let dark = seen.iter().find(|(t, _)| t == "dark").map(|(_, l)| *l);
    let (Some(light), Some(dark)) = (light, dark) else {
        panic!("three clicks go through light and dark: {seen:?}")
    };
    assert!(light > 600 && dark < 200, "{seen:?}");
    // The choice survives a reload.
    let last = seen.last().map(|(t, _)| t.clone());
    browser.goto("/search");
    browser.wait_for("#search");
    assert_eq!(browser.attr("html", "data-theme"), last);
}

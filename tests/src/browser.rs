//! A real browser for the UI tests: headless Chromium driven through WebDriver.
//!
//! Each [`Browser`] starts its own `chromedriver` on a free loopback port (in its
//! own process group, so nothing it starts outlives the test) and opens one
//! session with fantoccini. fantoccini is async; the UI tests, like every other
//! end-to-end test here, are plain synchronous `#[test]`s, so a `Browser` owns a
//! small tokio runtime and each method blocks on one WebDriver command. That
//! keeps the tests readable as a script of what a person does and sees, and lets
//! waiting stay what it is everywhere else in this crate: [`poll`] with a
//! deadline. Reads that would take many round trips (every row's text) are one
//! `execute` of a line of JavaScript instead.
//!
//! chromedriver speaks plain HTTP on loopback, so fantoccini is built without a
//! TLS stack and connects with hyper-util's `HttpConnector`.

use std::cell::RefCell;
use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::{DEADLINE, poll};

/// How long chromedriver may take to answer `/status`, and Chromium to open a session.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// The window every test sees (the screenshots use 1280×800).
pub const WINDOW: (u32, u32) = (1280, 900);

/// One headless Chromium session, pointed at one collector; closed (and its
/// chromedriver killed) on drop.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    driver_port: u16,
    base: String,
    logs: tempfile::TempDir,
    /// For chromedriver's own routes (`/status`, the console log).
    http: reqwest::blocking::Client,
    /// Every console line read so far (reading drains chromedriver's buffer).
    console_seen: RefCell<Vec<String>>,
}

impl Browser {
    /// Starts chromedriver and Chromium; paths given to [`Browser::goto`] are
    /// relative to `http://127.0.0.1:<port>` (the collector's).
    pub fn open(port: u16) -> Browser {
        let logs = tempfile::Builder::new()
            .prefix("wakeline-e2e-chromedriver-")
            .tempdir()
            .expect("create a folder for chromedriver's log");
        let log = File::create(logs.path().join("chromedriver.log"))
            .expect("create chromedriver's log file");
        let driver_port = free_port();
        let driver = Command::new(chromedriver_binary())
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                log.try_clone().expect("clone chromedriver's log handle"),
            ))
            .stderr(Stdio::from(log))
            // Its own process group: Drop kills the group, Chromium included.
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver (Debian's chromium-driver; tests/setup.sh installs it)");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("build the runtime that drives WebDriver");
        let mut browser = Browser {
            runtime,
            client: None,
            driver,
            driver_port,
            base: format!("http://127.0.0.1:{port}"),
            logs,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("build an HTTP client"),
            console_seen: RefCell::new(Vec::new()),
        };
        browser.connect();
        browser
    }

    fn connect(&mut self) {
        let driver_port = self.driver_port;
        let status_url = format!("http://127.0.0.1:{driver_port}/status");
        let ready = poll(START_DEADLINE, || {
            let body: Value = self.http.get(&status_url).send().ok()?.json().ok()?;
            (body["value"]["ready"] == true).then_some(())
        });
        if ready.is_none() {
            panic!(
                "chromedriver did not answer {status_url} within {START_DEADLINE:?}\n{}",
                self.driver_log()
            );
        }
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                    "--lang=en-US",
                    "--no-first-run",
                ],
            },
            // The page's console, for failure messages (see `console`).
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("the capabilities are a JSON object literal")
        };
        let webdriver = format!("http://127.0.0.1:{driver_port}");
        let client = self.runtime.block_on(async {
            tokio::time::timeout(
                START_DEADLINE,
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&webdriver),
            )
            .await
        });
        match client {
            Ok(Ok(client)) => self.client = Some(client),
            Ok(Err(e)) => panic!(
                "opening a Chromium session failed: {e}\n{}",
                self.driver_log()
            ),
            Err(_) => panic!(
                "Chromium did not open a session within {START_DEADLINE:?}\n{}",
                self.driver_log()
            ),
        }
    }

    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the session is open until drop")
    }

    /// Runs one WebDriver command; a failure panics with what the page showed.
    fn run<T, E: std::fmt::Display>(
        &self,
        what: &str,
        command: impl Future<Output = Result<T, E>>,
    ) -> T {
        match self.runtime.block_on(command) {
            Ok(value) => value,
            Err(e) => panic!("{what} failed: {e}\n{}", self.diagnostics()),
        }
    }

    /// The absolute URL of a path on the collector.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Loads `path` (a page of the collector, with its query string).
    pub fn goto(&self, path: &str) {
        let url = self.url(path);
        self.run(&format!("goto {url}"), self.client().goto(&url));
    }

    /// The page's current URL, as the address bar shows it.
    pub fn current_url(&self) -> String {
        self.run("current_url", self.client().current_url())
            .to_string()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.run(
            &format!("execute {script:?}"),
            self.client().execute(script, args),
        )
    }

    /// The `textContent` of every element matching `css`, in document order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let value = self.execute(
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);",
            vec![json!(css)],
        );
        strings(&value)
    }

    /// The message text of every log row on the page, top to bottom.
    pub fn rows(&self) -> Vec<String> {
        self.texts(".row[data-seq] .msg")
    }

    /// How many elements match `css` now.
    pub fn count(&self, css: &str) -> usize {
        let value = self.execute(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(css)],
        );
        value.as_u64().unwrap_or(0) as usize
    }

    /// An attribute of the first element matching `css` (None: no such
    /// element, or no such attribute).
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        let value = self.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(name)],
        );
        value.as_str().map(str::to_string)
    }

    /// The computed value of a CSS property of the first element matching `css`.
    pub fn computed_style(&self, css: &str, property: &str) -> Option<String> {
        let value = self.execute(
            "const e = document.querySelector(arguments[0]);
             return e ? getComputedStyle(e).getPropertyValue(arguments[1]) : null;",
            vec![json!(css), json!(property)],
        );
        value.as_str().map(str::to_string)
    }

    /// Polls `check` against this page until it returns `Some`; at the deadline,
    /// panics saying what was awaited and what the page showed.
    ///
    /// Chromium aborts requests in flight, loopback ones included, when a network
    /// interface appears or goes (`net::ERR_NETWORK_CHANGED`), and every Docker
    /// container started or removed on the host adds or removes a veth. A page
    /// whose module or API request was aborted that way is reloaded (its state
    /// is in its URL), at most a few times per wait and saying so on stderr;
    /// any other failure stays a failure.
    pub fn wait<T>(&self, what: &str, mut check: impl FnMut(&Browser) -> Option<T>) -> T {
        const MAX_RELOADS: u32 = 3;
        let mut reloads = 0;
        let found = poll(DEADLINE, || {
            if let Some(value) = check(self) {
                return Some(value);
            }
            let aborted = self
                .console()
                .iter()
                .any(|line| line.contains("ERR_NETWORK_CHANGED"));
            if aborted && reloads < MAX_RELOADS {
                reloads += 1;
                eprintln!(
                    "browser: a network change (a container's interface) aborted a request of {}; reloading it",
                    self.current_url()
                );
                self.run("refresh", self.client().refresh());
            }
            None
        });
        found.unwrap_or_else(|| {
            panic!(
                "waited {DEADLINE:?} for {what}, in vain\n{}",
                self.diagnostics()
            )
        })
    }

    /// Waits until at least one element matches `css`; returns how many do.
    pub fn wait_for(&self, css: &str) -> usize {
        self.wait(&format!("an element matching {css:?}"), |b| {
            let n = b.count(css);
            (n > 0).then_some(n)
        })
    }

    /// Waits until an element matching `css` has a text containing `needle`; returns that text.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        self.wait(
            &format!("an element matching {css:?} with text containing {needle:?}"),
            |b| b.texts(css).into_iter().find(|text| text.contains(needle)),
        )
    }

    /// Waits until a log row's message contains `needle`; returns every row then.
    pub fn wait_row(&self, needle: &str) -> Vec<String> {
        self.wait(&format!("a row containing {needle:?}"), |b| {
            let rows = b.rows();
            rows.iter().any(|row| row.contains(needle)).then_some(rows)
        })
    }

    /// Clicks (a real pointer click, through WebDriver) the first element matching `css`.
    pub fn click(&self, css: &str) {
        let client = self.client();
        self.run(&format!("click {css:?}"), async {
            client.find(Locator::Css(css)).await?.click().await
        });
    }

    /// Replaces the value of the input matching `css` by typing `text` into it.
    pub fn type_into(&self, css: &str, text: &str) {
        let client = self.client();
        self.run(&format!("type into {css:?}"), async {
            let input = client.find(Locator::Css(css)).await?;
            input.clear().await?;
            input.send_keys(text).await
        });
    }

    /// Presses Enter in the element matching `css` (submits its form).
    pub fn press_enter(&self, css: &str) {
        let client = self.client();
        let enter = fantoccini::key::Key::Enter.to_string();
        self.run(&format!("press Enter in {css:?}"), async {
            client
                .find(Locator::Css(css))
                .await?
                .send_keys(&enter)
                .await
        });
    }

    /// The value of the browser's cookie `name` for this collector, HttpOnly ones included.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.run("get_all_cookies", self.client().get_all_cookies());
        cookies
            .iter()
            .find(|cookie| cookie.name() == name)
            .map(|cookie| cookie.value().to_string())
    }

    /// Whether the browser's cookie `name` is HttpOnly (None: no such cookie).
    pub fn cookie_http_only(&self, name: &str) -> Option<bool> {
        let cookies = self.run("get_all_cookies", self.client().get_all_cookies());
        cookies
            .iter()
            .find(|cookie| cookie.name() == name)
            .map(|cookie| cookie.http_only().unwrap_or(false))
    }

    /// Resizes the window so that the page's viewport is `width`×`height`
    /// (headless Chromium's window has no frame, but that is not promised:
    /// whatever the frame takes is added).
    pub fn set_viewport(&self, width: u32, height: u32) {
        let client = self.client();
        self.run("set_window_size", client.set_window_size(width, height));
        let inner = self.execute("return [innerWidth, innerHeight];", vec![]);
        let frame =
            |outer: u32, inner: &Value| outer.saturating_sub(inner.as_u64().unwrap_or(0) as u32);
        let (dw, dh) = (frame(width, &inner[0]), frame(height, &inner[1]));
        if dw > 0 || dh > 0 {
            self.run(
                "set_window_size",
                client.set_window_size(width + dw, height + dh),
            );
        }
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self.run("screenshot", self.client().screenshot());
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("write the screenshot {}: {e}", path.display()));
    }

    /// The URL and text of the page, and the end of chromedriver's log, for failures.
    pub fn diagnostics(&self) -> String {
        let page = self
            .client
            .as_ref()
            .and_then(|client| {
                self.runtime
                    .block_on(async {
                        tokio::time::timeout(
                            Duration::from_secs(5),
                            client.execute(
                                "const app = document.getElementById('app');
                                 return location.href + '\\n' + (app ? app.innerText : document.body.innerText).slice(0, 3000);",
                                vec![],
                            ),
                        )
                        .await
                    })
                    .ok()?
                    .ok()
            })
            .map(|value| value.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| "(the page could not be read)".to_string());
        format!(
            "--- the page ---\n{page}\n---\n--- the browser's console ---\n{}\n---\n{}",
            {
                self.console();
                self.console_seen.borrow().join("\n")
            },
            self.driver_log()
        )
    }

    /// What the page wrote to its console (errors included) since the last call.
    /// chromedriver keeps it behind its Selenium-era log route, which fantoccini
    /// does not wrap, so it is asked directly.
    pub fn console(&self) -> Vec<String> {
        let Some(client) = self.client.as_ref() else {
            return Vec::new();
        };
        let Ok(Some(session)) = self.runtime.block_on(client.session_id()) else {
            return Vec::new();
        };
        let url = format!(
            "http://127.0.0.1:{}/session/{session}/se/log",
            self.driver_port
        );
        let body: Option<Value> = self
            .http
            .post(&url)
            .json(&json!({ "type": "browser" }))
            .send()
            .ok()
            .and_then(|response| response.json().ok());
        let lines: Vec<String> = body
            .as_ref()
            .and_then(|body| body["value"].as_array())
            .map(|entries| {
                entries
                    .iter()
                    .map(|entry| {
                        format!(
                            "{} {}",
                            entry["level"].as_str().unwrap_or("?"),
                            entry["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.console_seen.borrow_mut().extend(lines.iter().cloned());
        lines
    }

    fn driver_log(&self) -> String {
        let path = self.logs.path().join("chromedriver.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("--- last lines of chromedriver's log ---\n{tail}\n---")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Ends the session: chromedriver quits Chromium.
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        // Whatever is left of the group (chromedriver, a Chromium that did not quit).
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A loopback port nobody listens on now (the OS picks it; chromedriver binds it next).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn chromedriver_binary() -> PathBuf {
    on_path(&["chromedriver"]).unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

/// Debian's `chromium` is `/usr/bin/chromium`; other systems name it differently.
fn chromium_binary() -> String {
    on_path(&["chromium", "chromium-browser", "google-chrome"])
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
        .to_string_lossy()
        .into_owned()
}

/// The strings of a JSON array (non-strings become empty).
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

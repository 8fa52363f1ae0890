//! chat-traffic: a steady, realistic mix of chat requests through the demo's edge.
//!
//! ```text
//! chat-traffic [--seconds N] [--rate R] [--base http://127.0.0.1:8080]
//! ```
//!
//! A few users register and log in, then at `R` requests per second (default 3)
//! for `N` seconds (default 60) they post and list messages, with some requests
//! that fail the way real ones do: a bad token (401), an unknown user (404), a
//! wrong password (401), a taken name (409), the slow search, and the legacy
//! route whose call loses the request ID. Bounded in time and count (at most
//! 3,600 s, 50 requests/s), and only to a loopback address: it is for the demo
//! on this machine. Prints a count per route and status at the end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};

const USERS: usize = 4;
const MAX_SECONDS: u64 = 3_600;
const MAX_RATE: f64 = 50.0;

const LINES: &[&str] = &[
    "deploy is green",
    "who broke the build?",
    "coffee in 5",
    "the users service is slow again",
    "looking at the logs now",
    "found it: request 42 timed out in tokens",
    "lunch?",
    "rolled back, all good",
];

struct Options {
    seconds: u64,
    rate: f64,
    base: String,
}

fn options() -> anyhow::Result<Options> {
    let mut opts = Options {
        seconds: 60,
        rate: 3.0,
        base: "http://127.0.0.1:8080".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                opts.seconds = value("--seconds")?
                    .parse()
                    .context("--seconds: expected a whole number")?
            }
            "--rate" => {
                opts.rate = value("--rate")?
                    .parse()
                    .context("--rate: expected requests per second")?
            }
            "--base" => opts.base = value("--base")?,
            "-h" | "--help" => {
                println!(
                    "chat-traffic [--seconds N (1-{MAX_SECONDS})] [--rate R (0.1-{MAX_RATE})] [--base http://127.0.0.1:PORT]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (expected --seconds, --rate or --base)"),
        }
    }
    if !(1..=MAX_SECONDS).contains(&opts.seconds) {
        bail!(
            "--seconds: expected 1-{MAX_SECONDS}, found {}",
            opts.seconds
        );
    }
    if !(0.1..=MAX_RATE).contains(&opts.rate) {
        bail!("--rate: expected 0.1-{MAX_RATE}, found {}", opts.rate);
    }
    let url = reqwest::Url::parse(&opts.base).context("--base: expected a URL")?;
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback || url.scheme() != "http" {
        bail!(
            "--base: expected http:// on a loopback address, found {}",
            opts.base
        );
    }
    opts.base = opts.base.trim_end_matches('/').to_owned();
    Ok(opts)
}

struct Traffic {
    http: reqwest::Client,
    base: String,
    counts: BTreeMap<(String, u16), u64>,
}

impl Traffic {
    /// Sends one request and counts it under `route`; returns status and JSON.
    async fn send(&mut self, route: &str, request: reqwest::RequestBuilder) -> (u16, Value) {
        let (status, body) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(error) => {
                eprintln!("{route}: {error}");
                (0, Value::Null)
            }
        };
        *self.counts.entry((route.to_owned(), status)).or_default() += 1;
        (status, body)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn register(&mut self, username: &str, password: &str) -> u16 {
        let body = json!({ "username": username, "password": password });
        let request = self.http.post(self.url("/api/users")).json(&body);
        self.send("POST /api/users", request).await.0
    }

    async fn login(&mut self, username: &str, password: &str) -> Option<String> {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let request = self
            .http
            .post(self.url("/api/tokens"))
            .header("authorization", format!("Basic {basic}"));
        let (_, body) = self.send("POST /api/tokens", request).await;
        body["token"].as_str().map(str::to_owned)
    }

    async fn post(&mut self, token: &str, text: &str) {
        let request = self
            .http
            .post(self.url("/api/messages"))
            .bearer_auth(token)
            .json(&json!({ "text": text }));
        self.send("POST /api/messages", request).await;
    }

    async fn get(&mut self, route: &str, path: &str) {
        let request = self.http.get(self.url(path));
        self.send(route, request).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = options()?;
    let mut traffic = Traffic {
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()?,
        base: opts.base.clone(),
        counts: BTreeMap::new(),
    };
    let run = std::process::id();
    let password = "correct horse";
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let name = format!("user{run}_{i}");
        traffic.register(&name, password).await;
        if let Some(token) = traffic.login(&name, password).await {
            tokens.push((name, token));
        }
    }
    if tokens.is_empty() {
        bail!(
            "no user could log in through {}: is the demo up (scripts/demo up)?",
            opts.base
        );
    }

    let total = (opts.seconds as f64 * opts.rate).ceil() as u64;
    let gap = Duration::from_secs_f64(1.0 / opts.rate);
    let start = Instant::now();
    println!(
        "sending {total} requests over {} s to {}",
        opts.seconds, opts.base
    );
    for n in 0..total {
        // An absolute schedule: a slow request does not stretch the run.
        tokio::time::sleep_until((start + gap * n as u32).into()).await;
        let (name, token) = &tokens[n as usize % tokens.len()];
        let text = LINES[n as usize % LINES.len()];
        match n % 20 {
            0..=7 => traffic.post(token, &format!("{text} ({name})")).await,
            8..=12 => traffic.get("GET /api/messages", "/api/messages").await,
            13 => {
                traffic
                    .get("GET /api/messages?slow=1", "/api/messages?slow=1")
                    .await
            }
            14 => {
                traffic
                    .post("0000badtoken", "this should not be posted")
                    .await
            }
            15 => {
                traffic
                    .get("GET /api/users/{unknown}", "/api/users/999999")
                    .await
            }
            16 => {
                traffic
                    .get("GET /api/legacy/stats", "/api/legacy/stats")
                    .await
            }
            17 => {
                traffic.login(name, "wrong password").await;
            }
            18 => {
                traffic.register(name, password).await;
            }
            _ => traffic.get("GET /api/users/{id}", "/api/users/1").await,
        }
        if start.elapsed() > Duration::from_secs(opts.seconds + 30) {
            println!("stopping: the run is 30 s over its time");
            break;
        }
    }
    println!("{:<28} {:>6} {:>6}", "route", "status", "count");
    for ((route, status), count) in &traffic.counts {
        println!("{route:<28} {status:>6} {count:>6}");
    }
    Ok(())
}

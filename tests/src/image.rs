//! The collector as an image: built by `scripts/image`, run the way the README says.
//!
//! The script is the thing under test as much as the Dockerfile, so the harness runs
//! it rather than repeating its steps (`--debug`: the static debug build compiles
//! much faster than release and proves the same things). The image gets its own tag,
//! so a test never replaces the `wakeline:latest` a person built. The container is
//! published on `127.0.0.1::7070`, a free host port Docker picks (no race with other
//! tests for a port), and the index lives in a named volume; both go on drop.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::{Response, docker, poll, unique, workspace_root};

/// The tag the tests build; not `wakeline:latest`, which belongs to the user.
const TEST_TAG: &str = "wakeline-test-image:debug";

/// How long the container may take to answer `/healthz`.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Builds the image with `scripts/image --debug` (once per process) and returns its tag.
pub fn collector_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let script = workspace_root().join("scripts").join("image");
            // cargo's progress and errors (stderr) show as they come, as for the
            // harness's other builds; docker build's steps (stdout) only on failure.
            let output = Command::new("bash")
                .arg(&script)
                .args(["--debug", "--tag", TEST_TAG])
                .current_dir(workspace_root())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/image");
            assert!(
                output.status.success(),
                "scripts/image --debug failed ({}); its output:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout)
            );
            TEST_TAG.to_string()
        })
        .clone()
}

/// A collector container, as the README runs it; removed with its volume on drop.
pub struct ImageCollector {
    pub name: String,
    pub volume: String,
    /// The host port Docker published the collector's 7070 on (on 127.0.0.1).
    pub port: u16,
    http: reqwest::blocking::Client,
}

impl ImageCollector {
    /// `docker run -d` of `image` exactly as the README's command, with a unique
    /// name and volume, a free port on the host's loopback, and the label
    /// `wakeline-test=1` (so `tests/run.sh` sweeps a leftover); then waits until
    /// `/healthz` answers 200.
    pub fn start(image: &str, test: &str) -> ImageCollector {
        let name = unique(test);
        let volume = format!("{name}_data");
        // The guard exists before the container does: a failed start is cleaned up too.
        let mut collector = ImageCollector {
            name,
            volume,
            port: 0,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("build an HTTP client"),
        };
        let data = format!("{}:/data", collector.volume);
        docker(&[
            "run",
            "-d",
            "--name",
            &collector.name,
            "--label",
            "wakeline-test=1",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock:ro",
            "-v",
            "/var/lib/docker/containers:/var/lib/docker/containers:ro",
            "-v",
            &data,
            "-p",
            "127.0.0.1::7070",
            image,
        ]);
        collector.port = collector.published_port();
        let healthy = poll(START_DEADLINE, || {
            collector
                .try_get("/healthz")
                .filter(|response| response.status == 200)
        });
        assert!(
            healthy.is_some(),
            "the collector container did not answer /healthz with 200 within {START_DEADLINE:?}; its output:\n{}",
            collector.logs()
        );
        collector
    }

    /// `docker port NAME 7070` → `127.0.0.1:PORT`.
    fn published_port(&self) -> u16 {
        let mapping = docker(&["port", &self.name, "7070/tcp"]);
        let address = mapping
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(
            address.starts_with("127.0.0.1:"),
            "7070 must be published on the host's loopback only, found {mapping:?}"
        );
        address
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or_else(|| panic!("docker port printed no port: {mapping:?}"))
    }

    /// `GET path` on the published port, or `None` if nothing answered.
    pub fn try_get(&self, path: &str) -> Option<Response> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let response = self.http.get(&url).send().ok()?;
        let status = response.status().as_u16();
        let body = response.text().ok()?;
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Some(Response {
            status,
            headers: Vec::new(),
            body,
            json,
        })
    }

    /// `GET path`, asserting that the collector answered 200; returns the JSON body.
    pub fn get(&self, path: &str) -> Value {
        let response = self.try_get(path).unwrap_or_else(|| {
            panic!(
                "GET {path}: no answer from the container; its output:\n{}",
                self.logs()
            )
        });
        assert_eq!(response.status, 200, "GET {path}: {}", response.body);
        response.json
    }

    /// What the collector wrote (`docker logs`, both streams), for failure messages.
    pub fn logs(&self) -> String {
        let output = Command::new("docker")
            .args(["logs", "--tail", "100", &self.name])
            .output();
        match output {
            Ok(output) => format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(e) => format!("(docker logs failed: {e})"),
        }
    }
}

impl Drop for ImageCollector {
    fn drop(&mut self) {
        // `-v` also removes an anonymous volume; the named one goes explicitly.
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.volume])
            .output();
    }
}

//! The chat demo (`examples/chat`) as a test fixture: its five services in
//! containers on a private network, reached through edge on a free loopback port.
//!
//! The services are built once per test process, in one `cargo build` (debug,
//! static, gnu target: the profile and flags `scripts/image --debug` uses, so
//! the dependencies are shared), stripped, and turned into images with the
//! demo's own `examples/chat/Dockerfile`, tagged with a hash of the binaries so
//! an unchanged build is not rebuilt. The containers run with plain `docker`
//! rather than docker-compose (which `tests/setup.sh` does not install), with
//! the labels compose would give them (`com.docker.compose.project` /
//! `.service`, so the collector names each by its service) plus
//! `wakeline-test=1`, and the network aliases `users`, `tokens`… that the
//! services' default URLs use. Everything is removed on drop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::artifacts::{fnv1a, image_exists};
use crate::{Response, docker, poll, workspace_root};

/// The five services, in start order (callees first).
pub const SERVICES: [&str; 5] = ["users", "tokens", "messages", "push", "edge"];

/// How long the stack may take to answer after its containers start.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// One running chat stack.
pub struct ChatDemo {
    project: String,
    network: String,
    containers: Vec<String>,
    port: u16,
    http: reqwest::blocking::Client,
}

/// Builds the five services (once per process) and returns their images by
/// service name.
pub fn chat_images() -> &'static BTreeMap<String, String> {
    static IMAGES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    IMAGES.get_or_init(build_images)
}

fn build_images() -> BTreeMap<String, String> {
    let binaries = build_binaries();
    let context = tempfile::Builder::new()
        .prefix("wakeline-e2e-chat-")
        .tempdir()
        .expect("create a build context folder");
    let dockerfile = workspace_root().join("examples/chat/Dockerfile");
    let mut images = BTreeMap::new();
    for service in SERVICES {
        let binary = &binaries[service];
        let bytes = std::fs::read(binary).expect("read a chat binary cargo just built");
        let image = format!("wakeline-chat-{service}:e2e-{:016x}", fnv1a(&bytes));
        images.insert(service.to_owned(), image.clone());
        if image_exists(&image) {
            continue;
        }
        let dir = context.path().join(service);
        std::fs::create_dir_all(&dir).expect("create a context folder");
        std::fs::copy(&dockerfile, dir.join("Dockerfile")).expect("copy the Dockerfile");
        stage(binary, &dir.join(format!("chat-{service}")));
        let build = Command::new("docker")
            .args(["build", "-q", "--label", "wakeline-test=1"])
            .args(["--build-arg", &format!("SERVICE={service}"), "-t", &image])
            .arg(&dir)
            // The classic builder: no BuildKit (buildx) is needed.
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("run docker build");
        assert!(
            build.status.success(),
            "docker build of {image} failed: {}",
            String::from_utf8_lossy(&build.stderr)
        );
    }
    images
}

/// Copies `binary` to `to`, stripped when `strip` is installed (a debug
/// binary is mostly debug info the image does not need).
fn stage(binary: &Path, to: &Path) {
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(to)
        .arg(binary)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(binary, to).expect("copy a chat binary into its context");
    }
}

/// One cargo build of the five services; their paths by service name.
fn build_binaries() -> BTreeMap<&'static str, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["build", "--target", "x86_64-unknown-linux-gnu"]);
    for service in SERVICES {
        command.args(["-p", &format!("chat-{service}")]);
    }
    let output = command
        .arg("--message-format=json-render-diagnostics")
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build of the chat services failed ({}); see the compiler output above",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut binaries = BTreeMap::new();
    for message in stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
    {
        let Some(path) = message["executable"].as_str() else {
            continue;
        };
        if let Some(service) = SERVICES
            .iter()
            .find(|s| message["target"]["name"] == format!("chat-{s}").as_str())
        {
            binaries.insert(*service, PathBuf::from(path));
        }
    }
    for service in SERVICES {
        assert!(
            binaries.contains_key(service),
            "cargo reported no executable for chat-{service}"
        );
    }
    binaries
}

impl ChatDemo {
    /// Starts the five services as compose project `<unique>` (on its own
    /// network) and waits until edge and every service behind it answer.
    pub fn start(test: &str) -> ChatDemo {
        let images = chat_images();
        let project = crate::unique(&format!("chat_{test}"));
        let network = format!("{project}_chat");
        docker(&["network", "create", "--label", "wakeline-test=1", &network]);
        let mut demo = ChatDemo {
            project: project.clone(),
            network: network.clone(),
            containers: Vec::new(),
            port: 0,
            http: reqwest::blocking::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        };
        for service in SERVICES {
            let name = format!("{project}_{service}");
            let project_label = format!("com.docker.compose.project={project}");
            let service_label = format!("com.docker.compose.service={service}");
            let mut args = vec![
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                &network,
                "--network-alias",
                service,
                "--label",
                "wakeline-test=1",
                "--label",
                &project_label,
                "--label",
                &service_label,
            ];
            if service == "edge" {
                // Docker picks a free port on the host's loopback.
                args.extend(["-p", "127.0.0.1::8080"]);
            }
            args.push(&images[service]);
            docker(&args);
            demo.containers.push(name);
        }
        let edge = format!("{project}_edge");
        let published = docker(&["port", &edge, "8080/tcp"]);
        demo.port = published
            .lines()
            .find_map(|line| line.rsplit(':').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no published port for {edge}: {published:?}"));
        demo.wait_ready();
        demo
    }

    /// Polls edge until the page and each service behind it answer: users
    /// and tokens refuse (404, 401) rather than edge failing (502).
    fn wait_ready(&self) {
        let ready = poll(READY_DEADLINE, || {
            let page = self.try_request("GET", "/", &[], None)?;
            let list = self.try_request("GET", "/api/messages", &[], None)?;
            let user = self.try_request("GET", "/api/users/999999", &[], None)?;
            let login = self.try_request("POST", "/api/tokens", &[], None)?;
            (page.status == 200 && list.status == 200 && user.status == 404 && login.status == 401)
                .then_some(())
        });
        assert!(
            ready.is_some(),
            "the chat stack did not answer within {READY_DEADLINE:?}\n{}",
            self.diagnostics()
        );
    }

    /// The compose project name the containers carry.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The edge's base URL on the host, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A request through edge; `body` is sent as JSON.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|| {
                panic!(
                    "{method} {path} through edge failed\n{}",
                    self.diagnostics()
                )
            })
    }

    fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Option<Response> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().ok()?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response.text().ok()?;
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Some(Response {
            status,
            headers,
            body,
            json,
        })
    }

    /// Registers `username` and logs in; returns the bearer token.
    pub fn register_and_log_in(&self, username: &str, password: &str) -> String {
        let body = serde_json::json!({ "username": username, "password": password });
        let registered = self.request("POST", "/api/users", &[], Some(&body));
        assert_eq!(registered.status, 201, "register: {}", registered.body);
        let basic = basic_auth(username, password);
        let login = self.request("POST", "/api/tokens", &[("authorization", &basic)], None);
        assert_eq!(login.status, 201, "log in: {}", login.body);
        login.json["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {}", login.body))
            .to_owned()
    }

    /// Posts `text` with `token`, with extra headers (an `X-Request-ID`).
    pub fn post_message(&self, token: &str, text: &str, headers: &[(&str, &str)]) -> Response {
        let bearer = format!("Bearer {token}");
        let mut all = vec![("authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        let body = serde_json::json!({ "text": text });
        self.request("POST", "/api/messages", &all, Some(&body))
    }

    /// Registers a user, logs in and posts one message; returns the request ID
    /// edge gave the post (its `X-Request-ID` answer). The request that goes
    /// through all five services: edge → messages → tokens, users; and the
    /// queue hop messages → push.
    pub fn posted_message_request_id(&self) -> String {
        let token = self.register_and_log_in("ann", "correct horse");
        let posted = self.post_message(&token, "hello from the e2e test", &[]);
        assert_eq!(posted.status, 201, "post: {}", posted.body);
        posted
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-ID on the post's answer: {posted:?}"))
            .to_owned()
    }

    /// The container of `service`.
    pub fn container(&self, service: &str) -> String {
        format!("{}_{service}", self.project)
    }

    /// The last log lines of every container, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for name in &self.containers {
            let logs = Command::new("docker")
                .args(["logs", "--tail", "15", name])
                .output()
                .map(|o| {
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
                .unwrap_or_default();
            out.push_str(&format!("--- {name} ---\n{logs}"));
        }
        out
    }
}

impl Drop for ChatDemo {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&self.containers)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The JSON line a record holds (its `message`), or `Null` if it is not JSON.
pub fn line(record: &Value) -> Value {
    record["message"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null)
}

/// `Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        assert_eq!(basic_auth("ann", "se:cret"), "Basic YW5uOnNlOmNyZXQ=");
        assert_eq!(basic_auth("a", "b"), "Basic YTpi");
        assert_eq!(basic_auth("ab", "c"), "Basic YWI6Yw==");
    }
}

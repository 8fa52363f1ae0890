//! Test containers, driven through the docker CLI.
//!
//! The CLI is what a person would type, it is always installed beside the engine,
//! and it keeps the harness free of a second Docker client that could disagree with
//! the collector's. Every container gets a unique name (`wl-t-<pid>-<test>-<n>`) and
//! the label `wakeline-test=1` (so `tests/run.sh` can sweep leftovers), and is removed
//! on drop. Stops and restarts use `-t 0`: `emit` is PID 1 and ignores SIGTERM, so a
//! grace period would only make tests slower.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{emit_image, poll};

/// Runs `docker ARGS`, asserts success and returns its trimmed stdout.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI");
    assert!(
        output.status.success(),
        "docker {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// What to run: a unique name, labels, flags and `emit` steps. Cloneable, so a test
/// can remove a container and create it again under the same name.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    name: String,
    labels: Vec<(String, String)>,
    tty: bool,
    no_logs: bool,
    log_opts: Vec<String>,
    steps: Vec<String>,
}

impl ContainerSpec {
    /// A container of the `emit` image running `steps`, named after `test`.
    pub fn new(test: &str, steps: &[&str]) -> ContainerSpec {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let test: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        ContainerSpec {
            name: format!("wl-t-{}-{test}-{n}", std::process::id()),
            labels: vec![("wakeline-test".to_string(), "1".to_string())],
            tty: false,
            no_logs: false,
            log_opts: Vec::new(),
            steps: steps.iter().map(|step| step.to_string()).collect(),
        }
    }

    pub fn label(mut self, key: &str, value: &str) -> ContainerSpec {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets `com.docker.compose.project`, which the record reports as `project`.
    pub fn project(self, project: &str) -> ContainerSpec {
        self.label("com.docker.compose.project", project)
    }

    /// Sets `com.docker.compose.service`, which the record reports as `service`.
    pub fn service(self, service: &str) -> ContainerSpec {
        self.label("com.docker.compose.service", service)
    }

    /// Runs with a TTY (`-t`): lines then end in CRLF and both streams are one.
    pub fn tty(mut self) -> ContainerSpec {
        self.tty = true;
        self
    }

    /// Runs with `--log-driver none`: the engine keeps no logs to read.
    pub fn no_logs(mut self) -> ContainerSpec {
        self.no_logs = true;
        self
    }

    /// Adds `--log-opt OPT` (e.g. `max-size=1g`: hosts may rotate logs at a
    /// few MB, and a test writing more must not lose lines to the engine).
    pub fn log_opt(mut self, opt: &str) -> ContainerSpec {
        self.log_opts.push(opt.to_string());
        self
    }

    /// Replaces the generated name (keep the `wl-t-<pid>-` prefix for the sweeps).
    pub fn with_name(mut self, name: &str) -> ContainerSpec {
        self.name = name.to_string();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `docker run -d` of this spec.
    pub fn run(&self) -> Container {
        let image = emit_image();
        let mut args: Vec<&str> = vec!["run", "-d", "--name", &self.name];
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for label in &labels {
            args.extend(["--label", label.as_str()]);
        }
        if self.tty {
            args.push("-t");
        }
        if self.no_logs {
            args.extend(["--log-driver", "none"]);
        }
        for opt in &self.log_opts {
            args.extend(["--log-opt", opt.as_str()]);
        }
        args.push(&image);
        args.extend(self.steps.iter().map(String::as_str));
        let id = docker(&args);
        Container {
            name: self.name.clone(),
            id,
        }
    }
}

/// A container this test created; `docker rm -f` on drop.
#[derive(Debug)]
pub struct Container {
    pub name: String,
    /// The full 64-hex container ID.
    pub id: String,
}

impl Container {
    /// Whether the container's main process is running now.
    pub fn running(&self) -> bool {
        docker(&["inspect", "--format", "{{.State.Running}}", &self.id]) == "true"
    }

    /// Polls until the container has exited (deadline: `within`).
    pub fn wait_exited(&self, within: Duration) {
        let exited = poll(within, || (!self.running()).then_some(()));
        assert!(
            exited.is_some(),
            "container {} still running after {within:?}",
            self.name
        );
    }

    /// Polls until the container is running.
    pub fn wait_running(&self, within: Duration) {
        let running = poll(within, || self.running().then_some(()));
        assert!(
            running.is_some(),
            "container {} not running after {within:?}",
            self.name
        );
    }

    /// `docker restart -t 0`.
    pub fn restart(&self) {
        docker(&["restart", "-t", "0", &self.id]);
    }

    /// `docker stop -t 0`.
    pub fn stop(&self) {
        docker(&["stop", "-t", "0", &self.id]);
    }

    /// `docker start`.
    pub fn start(&self) {
        docker(&["start", &self.id]);
    }

    /// What `docker logs` has for this container (both streams), to know that the
    /// engine has a line before the collector is asked for it.
    pub fn docker_logs(&self) -> String {
        let output = Command::new("docker")
            .args(["logs", &self.id])
            .output()
            .expect("run docker logs");
        let mut text = String::from_utf8_lossy(&output.stdout).to_string();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        text
    }

    /// `docker rm -f` now (drop does it too).
    pub fn remove(self) {
        drop(self);
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
    }
}

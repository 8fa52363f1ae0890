//! The command line: `--help`, bad flags and an unreachable Docker engine are
//! one-line errors with a non-zero exit, never a panic.

use super::*;

/// Runs `wakeline ARGS` to its exit (deadline 30 s); returns (status, stderr).
fn run_to_exit(args: &[&str]) -> (std::process::ExitStatus, String) {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(collector_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let status = poll(DEADLINE, || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("wakeline {args:?} still running after {DEADLINE:?}");
    };
    (status, std::fs::read_to_string(stderr.path()).unwrap())
}

fn non_empty_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .collect()
}

#[test]
fn bad_flag_exits_non_zero_with_one_line_error() {
    let (status, stderr) = run_to_exit(&["--no-such-flag"]);
    assert!(!status.success(), "exit status {status}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines = non_empty_lines(&stderr);
    assert_eq!(lines.len(), 1, "one-line error expected, got:\n{stderr}");
    assert!(
        lines[0].contains("--no-such-flag"),
        "the error names the flag: {stderr}"
    );
}

#[test]
fn unreachable_docker_host_exits_non_zero_with_one_line_error() {
    let dir = data_dir();
    let data = dir.path().to_str().unwrap();
    let (status, stderr) = run_to_exit(&[
        "--data-dir",
        data,
        "--listen",
        "127.0.0.1:0",
        "--docker-host",
        "unix:///nonexistent.sock",
    ]);
    assert!(!status.success(), "exit status {status}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for noise in ["Caused by", "backtrace", "Backtrace"] {
        assert!(
            !stderr.contains(noise),
            "one-line error expected, got:\n{stderr}"
        );
    }
    let lines = non_empty_lines(&stderr);
    let last = lines.last().copied().unwrap_or_default().to_lowercase();
    assert!(
        last.contains("nonexistent.sock") || last.contains("docker"),
        "the error says what failed:\n{stderr}"
    );
}

#[test]
fn help_explains_every_flag() {
    let output = Command::new(collector_binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--data-dir",
        "--listen",
        "--auth-token",
        "--docker-host",
        "--max-line-bytes",
        "--commit-interval",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}

#[test]
fn listening_beyond_loopback_needs_a_token_or_the_explicit_flag() {
    let dir = data_dir();
    let data = dir.path().to_str().unwrap();
    let (status, stderr) = run_to_exit(&["--data-dir", data, "--listen", "0.0.0.0:0"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    let lines = non_empty_lines(&stderr);
    assert_eq!(lines.len(), 1, "one-line error expected, got:\n{stderr}");
    assert!(
        lines[0].contains("--auth-token") && lines[0].contains("--allow-open"),
        "it says what would be accepted: {stderr}"
    );
    // With either, it goes on to the engine (here one that does not exist).
    for extra in [["--allow-open", ""], ["--auth-token", "s3cret"]] {
        let mut args = vec!["--data-dir", data, "--listen", "0.0.0.0:0"];
        args.extend(extra.iter().filter(|a| !a.is_empty()));
        args.extend(["--docker-host", "unix:///nonexistent.sock"]);
        let (status, stderr) = run_to_exit(&args);
        assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("nonexistent.sock"), "{args:?}: {stderr}");
        assert!(!stderr.contains("refusing"), "{args:?}: {stderr}");
    }
}

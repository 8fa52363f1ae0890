//! The two things tests run: the `wakeline` binary and the `emit` image.
//!
//! Both are built by cargo from this workspace once per test process (so a test run
//! always exercises the current source), and cargo's JSON messages say where the
//! executables landed, whatever the target directory is. The image is made with
//! `docker import` of a tar holding only `/emit`: no registry, no base image. It is
//! tagged with a hash of the binary, so an unchanged binary is never re-imported.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::workspace_root;

/// Builds (once per process) and returns the path of `target/debug/wakeline`.
pub fn collector_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            cargo_build(
                &["build", "-p", "wakeline", "--bin", "wakeline"],
                None,
                "wakeline",
            )
        })
        .clone()
}

/// Builds the static `emit` binary and imports it as an image (once per process);
/// returns the image reference to `docker run`.
pub fn emit_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(import_emit_image).clone()
}

fn import_emit_image() -> String {
    let binary = cargo_build(
        &[
            "build",
            "--release",
            "-p",
            "wakeline-emit",
            "--target",
            "x86_64-unknown-linux-gnu",
        ],
        Some("-C target-feature=+crt-static"),
        "wakeline-emit",
    );
    let bytes = std::fs::read(&binary).expect("read the emit binary cargo just built");
    let image = format!("wakeline-test-emit:{:016x}", fnv1a(&bytes));

    if image_exists(&image) {
        return image;
    }

    // A folder of this process's own holding only `emit` (exactly the bytes
    // hashed above), so the tar holds nothing else, and a test process
    // running at the same time can never hand it a half-copied binary.
    let rootfs = tempfile::tempdir().expect("create the emit rootfs folder");
    let rootfs = rootfs.path();
    write_executable(&rootfs.join("emit"), &bytes);

    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-c", "emit"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run tar");
    let tar_out = tar.stdout.take().expect("tar stdout is piped");
    let import = Command::new("docker")
        .args([
            "import",
            "--change",
            r#"ENTRYPOINT ["/emit"]"#,
            "--change",
            "LABEL wakeline-test=1",
            "-",
            &image,
        ])
        .stdin(Stdio::from(tar_out))
        .output()
        .expect("run docker import");
    let tar_status = tar.wait().expect("wait for tar");
    assert!(
        tar_status.success(),
        "tar of the emit rootfs failed: {tar_status}"
    );
    assert!(
        import.status.success(),
        "docker import of {image} failed: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    // Also tag `latest`, so a person can `docker run wakeline-test-emit out:hi`.
    let _ = Command::new("docker")
        .args(["tag", &image, "wakeline-test-emit:latest"])
        .status();
    image
}

fn write_executable(path: &std::path::Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, bytes).expect("write emit into its rootfs folder");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .expect("make emit executable");
}

/// Runs a cargo build of one binary and returns its path from cargo's JSON messages.
fn cargo_build(args: &[&str], rustflags: Option<&str>, target_name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(flags) = rustflags {
        command.env("RUSTFLAGS", flags);
    }
    let output = command.output().expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo {} failed ({}); see the compiler output above",
        args.join(" "),
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact")
        .filter(|msg| msg["target"]["name"] == target_name)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo {} did not report an executable", args.join(" ")))
}

/// Whether the engine has an image by this name (an image tagged with its
/// content's hash need not be made again).
pub(crate) fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run docker image inspect")
        .success()
}

/// FNV-1a: a stable content hash (std's `DefaultHasher` may change between releases).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

//! Embeds the browser UI (`../ui`) in the binary: writes a table of every
//! file there, with its bytes (`include_bytes!`, so cargo rebuilds when one
//! changes) and an ETag computed here from its content. The binary alone then
//! serves the UI; nothing is read from disk or fetched at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let ui = manifest.join("../ui");
    // A directory: cargo rescans every file below it for changes.
    println!("cargo:rerun-if-changed={}", ui.display());
    let mut files = Vec::new();
    if ui.is_dir() {
        collect(&ui, &ui, &mut files);
    }
    files.sort();
    let mut out = String::from("/// Every file of `ui/`: (path below `ui/`, content, ETag).\n");
    out.push_str("pub static ASSETS: &[(&str, &[u8], &str)] = &[\n");
    for (relative, absolute) in &files {
        let bytes = std::fs::read(absolute).expect("read a ui file");
        let etag = format!("W/\\\"{:016x}\\\"", fnv1a(&bytes));
        let absolute = absolute.canonicalize().expect("canonical path");
        writeln!(
            out,
            "    ({relative:?}, include_bytes!({:?}), \"{etag}\"),",
            absolute.display().to_string()
        )
        .expect("write to a string");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("ui_assets.rs");
    std::fs::write(dest, out).expect("write ui_assets.rs");
}

/// Files below `dir`, as (path relative to `root` with `/`, full path);
/// hidden files (editor droppings, `.gitkeep`) are left out.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path));
        }
    }
}

/// FNV-1a, 64 bits: a content hash for ETags, not for security.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

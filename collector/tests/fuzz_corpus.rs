//! Replays the fuzzers' committed corpus (`fuzz/corpus/<target>/`) through
//! the very checks the fuzz targets run (`fuzz/src/checks.rs`, included by
//! path), on the stable toolchain: CI has no nightly to run `cargo fuzz`, but
//! every input the fuzzers kept, and every crash they once found, is checked
//! again on each test run.

#[path = "../../fuzz/src/checks.rs"]
mod checks;

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check",
            file.display()
        );
    }
    eprintln!("{target}: {} inputs replayed", files.len());
}

#[test]
fn assemble_corpus_passes_its_checks() {
    replay("assemble", checks::assemble);
}

#[test]
fn decode_corpus_passes_its_checks() {
    replay("decode", checks::decode);
}

#[test]
fn parse_corpus_passes_its_checks() {
    replay("parse", checks::parse);
}

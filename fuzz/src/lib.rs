//! The checks the fuzz targets run, as a library so that each target is one
//! line and the stable replay test (`collector/tests/fuzz_corpus.rs`, which
//! includes `checks.rs` by path) runs exactly the same code over the corpus.

pub mod checks;

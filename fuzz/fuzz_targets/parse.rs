//! Fuzz target: see `wakeline_fuzz::checks::parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wakeline_fuzz::checks::parse(data));

//! `cargo +nightly fuzz run saved_plan`: the target of tests/common/fuzz/targets.rs.
#![no_main]

#[path = "../../tests/common/fuzz/targets.rs"]
#[allow(dead_code)]
mod targets;

use std::sync::OnceLock;

static SCRATCH: OnceLock<targets::Scratch> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::saved_plan(SCRATCH.get_or_init(targets::Scratch::new), data);
});

//! `cargo +nightly fuzz run procfs_file`: the target of tests/common/fuzz/targets.rs.
#![no_main]

#[path = "../../tests/common/fuzz/targets.rs"]
#[allow(dead_code)]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::procfs_file(data);
});

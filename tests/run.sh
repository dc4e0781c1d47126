#!/usr/bin/env bash
# pgstate's whole test suite, as the README gives it and CI runs it (.ci/run):
#   1. formatting and lints,
#   2. unit, property and integration tests (against the in-memory simulator and the
#      real-kernel transcripts),
#   3. the real-kernel lane: Debian's Linux 6.1 and 6.12 booted under qemu (TCG), running
#      every scenario in tests/kernel/scenarios against a real /proc/net/pktgen
#      (PGSTATE_LAB_KERNELS="5.10 6.1 6.12 7.2" adds bullseye's 5.10 and sid's 7.2;
#      see tests/kernel/lab.sh).
# It installs what it needs itself (apt packages, kernel images) and fails loudly, never
# skips, when a kernel cannot be fetched or booted.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
step "cargo test"
cargo test --locked
step "release build for the kernel lane"
cargo build --locked --release
step "real kernels (qemu)"
tests/kernel/lab.sh test

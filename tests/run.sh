#!/usr/bin/env bash
# pgstate's whole test suite, as the README gives it and CI runs it (.ci/run):
#   1. formatting and lints,
#   2. unit, property and integration tests (against the in-memory simulator and the
#      real-kernel transcripts),
#   3. the real-kernel lane: Debian's Linux 6.1 and 6.12 booted under qemu (TCG), running
#      every scenario in tests/kernel/scenarios against a real /proc/net/pktgen.
# It installs what it needs itself (apt packages, kernel images) and fails loudly, never
# skips, when a kernel cannot be fetched or booted.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Host tools the unit and integration tests use: PyYAML (Debian's python3-yaml) reads `show`
# output the way YAML 1.1 tools such as Ansible do (tests/reconcile.rs).
if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  step "installing python3-yaml"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-yaml
fi

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

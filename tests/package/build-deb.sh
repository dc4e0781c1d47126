#!/usr/bin/env bash
# Builds the Debian package of pgstate: target/debian/pgstate_<version>-1_amd64.deb.
#
#   tests/package/build-deb.sh            # prints the path of the .deb on stdout
#   tests/package/build-deb.sh --tools    # only installs what the build needs (cargo-deb,
#                                         # dpkg-dev, binutils); tests/run.sh does this early
#
# The package is described in Cargo.toml ([package.metadata.deb]) and built by cargo-deb,
# which derives the control file from Cargo.toml (name, version, description, licence),
# computes Depends with dpkg-shlibdeps, marks /etc files as conffiles, writes md5sums and
# strips the binary. cargo-deb is installed once with `cargo install --locked` (a few minutes
# of compiling) into the cache, $PGSTATE_LAB_CACHE/tools/cargo-deb-<version>/ (default
# /var/cache/pgstate-lab); dpkg-dev and binutils come from apt when missing.
#
# Steps:
#   1. `cargo build --locked --release` (a no-op when the binary is fresh; skip
#      it with PGSTATE_DEB_NO_BUILD=1 to package the binary as it is);
#   2. the generated assets in target/deb-assets/:
#        pgstate-watch.service  contrib/pgstate-watch.service with ExecStart=/usr/bin/pgstate
#                               (installed as /lib/systemd/system/pgstate-watch.service)
#        changelog              one entry for the version (Debian wants one)
#        copyright              Debian's machine-readable copyright file (DEP-5): the MIT
#                               text of LICENSE-MIT; Apache-2.0 by reference to
#                               /usr/share/common-licenses, as Debian packages do
#        completions/, man/     shell completions and the man page, written by the
#                               binary's own `completions` and `man` subcommands;
#   3. `cargo deb --no-build` (maintainer scripts: contrib/debian/).
#
# Environment: CARGO_TARGET_DIR (honoured), PGSTATE_LAB_CACHE, PGSTATE_DEB_NO_BUILD.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE=${PGSTATE_LAB_CACHE:-/var/cache/pgstate-lab}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$REPO_ROOT/$TARGET_DIR ;; esac
CARGO_DEB_VERSION=3.8.0
CARGO_DEB=$CACHE/tools/cargo-deb-$CARGO_DEB_VERSION/bin/cargo-deb
ASSETS=$REPO_ROOT/target/deb-assets
# .cargo/config.toml builds for this target (a static executable).
TARGET=x86_64-unknown-linux-gnu
BIN=$TARGET_DIR/$TARGET/release/pgstate

log() { printf '[deb] %s\n' "$*" >&2; }
die() { printf '[deb] ERROR: %s\n' "$*" >&2; exit 1; }

# apt_need PKG:PROBE...: installs the packages whose probe command is missing.
apt_need() {
  local missing=() entry
  for entry in "$@"; do
    command -v "${entry#*:}" >/dev/null 2>&1 || missing+=("${entry%%:*}")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}: run as root (apt-get install)"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}

ensure_cargo_deb() {
  [[ -x $CARGO_DEB ]] && return 0
  command -v cargo >/dev/null 2>&1 || die "cargo not found"
  mkdir -p "$CACHE/tools"
  # one installer at a time; a second one waits and then finds it installed
  exec 8>"$CACHE/tools/.lock"
  flock 8
  if [[ ! -x $CARGO_DEB ]]; then
    local tmp=$CACHE/tools/.cargo-deb-$CARGO_DEB_VERSION.tmp
    rm -rf "$tmp"
    log "installing cargo-deb $CARGO_DEB_VERSION into $CACHE/tools (compiles for a few minutes, once)"
    cargo install --locked --quiet --version "$CARGO_DEB_VERSION" --root "$tmp" cargo-deb >&2 ||
      die "cargo install cargo-deb failed"
    rm -rf "${CARGO_DEB%/bin/cargo-deb}"
    mv "$tmp" "${CARGO_DEB%/bin/cargo-deb}"
  fi
  exec 8>&-
}

# The unit as packaged: the binary is /usr/bin/pgstate, and the manual-install lines of the
# header give way to the package's.
gen_unit() {
  local src=$REPO_ROOT/contrib/pgstate-watch.service out=$ASSETS/pgstate-watch.service
  # shellcheck disable=SC2016  # backquotes in the comment the unit gets
  sed -e 's|/usr/local/bin/pgstate|/usr/bin/pgstate|g' \
    -e '/^#   install /d' -e '/^#   systemctl daemon-reload/d' \
    -e '1a\
#\
# Installed by the Debian package pgstate, not enabled: write the state into /etc/pgstate\
# (see /etc/pgstate/README), then `systemctl enable --now pgstate-watch`.' \
    "$src" >"$out"
  grep -qx 'ExecStart=/usr/bin/pgstate watch /etc/pgstate' "$out" ||
    die "$src: no 'ExecStart=/usr/local/bin/pgstate watch /etc/pgstate' line to adapt"
  ! grep -q /usr/local "$out" || die "$out still names /usr/local"
}

gen_copyright() {
  local out=$ASSETS/copyright holder
  holder=$(sed -n 's/^Copyright (c) //p' "$REPO_ROOT/LICENSE-MIT" | head -n1)
  [[ -n $holder ]] || die "LICENSE-MIT has no 'Copyright (c) ...' line"
  grep -q 'Version 2.0, January 2004' "$REPO_ROOT/LICENSE-APACHE" || die "LICENSE-APACHE is not Apache-2.0"
  {
    printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n'
    printf 'Upstream-Name: pgstate\n\n'
    printf 'Files: *\nCopyright: %s\nLicense: MIT or Apache-2.0\n\n' "$holder"
    printf 'License: MIT\n'
    # DEP-5: the text indented by one space, empty lines as " ."
    sed -e 's/^[[:space:]]*$/./' -e 's/^/ /' "$REPO_ROOT/LICENSE-MIT"
    printf '\nLicense: Apache-2.0\n'
    printf ' Licensed under the Apache License, Version 2.0 (the "License"); you may not\n'
    printf ' use this file except in compliance with the License.\n .\n'
    printf ' On Debian systems, the full text of the Apache License, Version 2.0 can be\n'
    printf ' found in the file /usr/share/common-licenses/Apache-2.0.\n'
  } >"$out"
}

# Debian's changelog (a non-native package needs one): one entry for the version being
# packaged, dated by the last commit so that the same tree gives the same package.
gen_changelog() {
  local version date
  version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/Cargo.toml" | head -n1)
  date=$(git -C "$REPO_ROOT" log -1 --format=%cD 2>/dev/null || date -R)
  {
    printf 'pgstate (%s-1) unstable; urgency=medium\n\n' "$version"
    printf '  * pgstate %s, packaged by tests/package/build-deb.sh.\n\n' "$version"
    printf ' -- pgstate contributors <dev@pgstate.invalid>  %s\n' "$date"
  } >"$ASSETS/changelog"
}

# Completions and man page from the binary (issue 13); Cargo.toml's asset lines install them,
# so a binary without those subcommands fails the package build.
gen_docs() {
  rm -rf "$ASSETS/completions" "$ASSETS/man"
  if "$BIN" completions --help >/dev/null 2>&1; then
    mkdir -p "$ASSETS/completions"
    "$BIN" completions bash >"$ASSETS/completions/pgstate.bash"
    "$BIN" completions zsh >"$ASSETS/completions/_pgstate"
    "$BIN" completions fish >"$ASSETS/completions/pgstate.fish"
    log "shell completions written to $ASSETS/completions"
  fi
  if "$BIN" man --help >/dev/null 2>&1; then
    mkdir -p "$ASSETS/man"
    # the CLI decides how: one page on stdout, or one per subcommand into a directory
    "$BIN" man >"$ASSETS/man/pgstate.1"
    log "man page written to $ASSETS/man"
  fi
}

main() {
  cd "$REPO_ROOT"
  apt_need dpkg-dev:dpkg-shlibdeps binutils:strip
  ensure_cargo_deb
  case ${1:-} in
    --tools) return 0 ;;
    "") ;;
    *) die "usage: build-deb.sh [--tools]" ;;
  esac
  if [[ ${PGSTATE_DEB_NO_BUILD:-0} != 1 ]]; then
    log "cargo build --locked --release"
    cargo build --locked --release --quiet >&2 || die "cargo build --release failed"
  fi
  [[ -x $BIN ]] || die "$BIN missing (cargo build --release)"
  rm -rf "$ASSETS"
  mkdir -p "$ASSETS"
  gen_unit
  gen_copyright
  gen_changelog
  gen_docs
  local out=$TARGET_DIR/debian deb
  mkdir -p "$out"
  rm -f "$out"/pgstate_*.deb
  log "cargo deb --no-build"
  # With --target, cargo-deb reads the `target/release/` assets from target/$TARGET/release/.
  "$CARGO_DEB" deb --no-build --target "$TARGET" --output "$out/" >&2 || die "cargo deb failed"
  deb=$(find "$out" -maxdepth 1 -name 'pgstate_*.deb' -print | head -n1)
  [[ -n $deb ]] || die "cargo deb wrote no pgstate_*.deb into $out"
  printf '%s\n' "$deb"
}

main "$@"

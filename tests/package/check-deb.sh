#!/usr/bin/env bash
# Checks the Debian package that build-deb.sh builds: its control data (`dpkg-deb -I`), its
# file list with modes and owners (`dpkg-deb -c`) and the content of the files the build
# generates. Prints PASS/FAIL per check and a final line "N passed, N failed".
#
#   tests/package/check-deb.sh [--lintian] [DEB]
#
# Without DEB, it runs tests/package/build-deb.sh first. --lintian also runs Debian's
# lintian on it (installed with apt when missing; its errors fail the check, warnings are
# printed).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
lintian=0
deb=""
for arg in "$@"; do
  case $arg in
    --lintian) lintian=1 ;;
    -*) echo "usage: check-deb.sh [--lintian] [DEB]" >&2; exit 2 ;;
    *) deb=$arg ;;
  esac
done
if [[ -z $deb ]]; then
  deb=$("$SCRIPT_DIR/build-deb.sh")
fi
[[ -f $deb ]] || { echo "no such package: $deb" >&2; exit 1; }
if ! command -v file >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends file >/dev/null
fi

PASSED=0
FAILED=0
# check NAME COMMAND...: one PASS/FAIL line; the command's output is shown on failure.
check() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [[ $rc -eq 0 ]]; then
    printf '  PASS  deb  %s\n' "$name"
    PASSED=$((PASSED + 1))
  else
    printf '  FAIL  deb  %s\n' "$name"
    if [[ -n $out ]]; then printf '%s\n' "$out" | sed 's/^/    | /'; fi
    FAILED=$((FAILED + 1))
  fi
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -I "$deb" >"$WORK/info"
dpkg-deb -f "$deb" >"$WORK/control"
dpkg-deb -c "$deb" >"$WORK/list"
dpkg-deb -x "$deb" "$WORK/root"
dpkg-deb -e "$deb" "$WORK/DEBIAN"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/Cargo.toml" | head -n1)

# field NAME VALUE-REGEX: the control file's field matches (whole value).
field() {
  local v
  v=$(sed -n "s/^$1: //p" "$WORK/control")
  grep -qxE "$2" <<<"$v" || { echo "$1: '$v' does not match /$2/"; return 1; }
}
# entry MODE PATH: dpkg-deb -c lists PATH (./PATH) with that mode, owned by root (0/0).
entry() {
  awk -v m="$1" -v p="./$2" '$1 == m && ($2 == "0/0" || $2 == "root/root") && $6 == p { f = 1 } END { exit !f }' "$WORK/list" ||
    { echo "no '$1 root ./$2'; the package has: $(grep -F " ./$2" "$WORK/list" || echo nothing of that name)"; return 1; }
}
# same_files SRC_DIR EXT DEST: every SRC_DIR/*.EXT is in the package under DEST, 0644 and
# identical.
same_files() {
  local src=$1 ext=$2 dest=$3 f n=0
  for f in "$REPO_ROOT/$src"/*."$ext"; do
    entry -rw-r--r-- "$dest/${f##*/}" || return 1
    cmp "$f" "$WORK/root/$dest/${f##*/}" || return 1
    n=$((n + 1))
  done
  [[ $n -gt 0 ]] || { echo "no $src/*.$ext"; return 1; }
}
only_expected_paths() {
  local bad
  bad=$(awk '{ print $6 }' "$WORK/list" | grep -vE '^\./(|etc/|etc/pgstate/.*|usr/|usr/bin/|usr/bin/pgstate|lib/|lib/systemd/|lib/systemd/system/|lib/systemd/system/pgstate-watch\.service|usr/share/|usr/share/doc/|usr/share/doc/pgstate/.*|usr/share/lintian/|usr/share/lintian/overrides/|usr/share/lintian/overrides/pgstate|usr/share/(bash-completion|zsh|fish|man)/.*)$' || true)
  [[ -z $bad ]] || { echo "unexpected paths: $bad"; return 1; }
  # bookworm has merged /usr: the same unit under /usr/lib too would be an aliased file
  ! grep -q '\./usr/lib/systemd' "$WORK/list" || { echo "unit under /usr/lib/systemd"; return 1; }
}
# shellcheck disable=SC2016  # the unit's own $MAINPID
unit_execstart() {
  local u=$WORK/root/lib/systemd/system/pgstate-watch.service
  grep -qx 'ExecStart=/usr/bin/pgstate watch /etc/pgstate' "$u" &&
    grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$u" &&
    grep -qx 'WantedBy=multi-user.target' "$u" &&
    ! grep -n /usr/local "$u"
}
unit_same_as_contrib() {
  # the packaged unit differs from contrib/ only in the binary's path and header comments
  diff <(grep -v '^#' "$REPO_ROOT/contrib/pgstate-watch.service" | sed 's|/usr/local/bin/|/usr/bin/|') \
    <(grep -v '^#' "$WORK/root/lib/systemd/system/pgstate-watch.service")
}
copyright() {
  local c=$WORK/root/usr/share/doc/pgstate/copyright line
  for line in 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
    'License: MIT or Apache-2.0' 'License: MIT' 'License: Apache-2.0'; do
    grep -qxF "$line" "$c" || { echo "no line '$line' in:"; cat "$c"; return 1; }
  done
  grep -q 'Permission is hereby granted, free of charge' "$c" || { echo "no MIT text"; return 1; }
  # Apache-2.0 by reference, as Debian packages do: the file must exist on Debian
  grep -q '/usr/share/common-licenses/Apache-2.0' "$c" && [[ -f /usr/share/common-licenses/Apache-2.0 ]]
}
maintscripts() {
  local s
  for s in postinst prerm postrm; do
    [[ -x $WORK/DEBIAN/$s ]] || { echo "no executable DEBIAN/$s"; return 1; }
    sh -n "$WORK/DEBIAN/$s" || return 1
    grep -q "pgstate-watch.service" "$WORK/DEBIAN/$s" || { echo "$s does not handle the unit"; return 1; }
  done
  # never enabled nor started on installation (see contrib/debian/postinst)
  ! grep -nE 'deb-systemd-invoke (start|restart) ' "$WORK/DEBIAN/postinst"
}
binary_runs() {
  local v
  v=$("$WORK/root/usr/bin/pgstate" --version) || return 1
  [[ $v == "pgstate $version" ]] || { echo "--version: '$v', want 'pgstate $version'"; return 1; }
  local f
  for f in "$WORK"/root/usr/share/doc/pgstate/examples/*.yaml; do
    "$WORK/root/usr/bin/pgstate" validate "$f" >/dev/null || return 1
  done
}
stripped() {
  file -L "$WORK/root/usr/bin/pgstate" | grep -q ', stripped' ||
    { file -L "$WORK/root/usr/bin/pgstate"; return 1; }
}

printf 'package %s:\n' "$deb"
check "control: Package, Version $version-1, Architecture" \
  bash -c "$(declare -f field); WORK=$WORK; field Package pgstate && field Version '${version//./\\.}-1' && field Architecture amd64"
# The binary is static (.cargo/config.toml), so dpkg-shlibdeps finds no shared library to
# depend on: no Depends field at all.
check "control: no Depends (a static binary), Section net, Maintainer" \
  bash -c "$(declare -f field); WORK=$WORK; ! grep -q '^Depends: .' \"\$WORK/control\" && field Section net && field Maintainer '.+<.+@.+>'"
check "conffiles: /etc/pgstate/README" grep -qx /etc/pgstate/README "$WORK/DEBIAN/conffiles"
check "maintainer scripts: systemd handling, no start on install" maintscripts
check "usr/bin/pgstate 0755 root" entry -rwxr-xr-x usr/bin/pgstate
check "usr/bin/pgstate runs (--version, validate examples)" binary_runs
check "usr/bin/pgstate stripped" stripped
check "lib/systemd/system/pgstate-watch.service 0644" entry -rw-r--r-- lib/systemd/system/pgstate-watch.service
check "unit: ExecStart=/usr/bin/pgstate, reload, install" unit_execstart
check "unit: same settings as contrib/pgstate-watch.service" unit_same_as_contrib
check "etc/pgstate/README" entry -rw-r--r-- etc/pgstate/README
check "usr/share/doc/pgstate/copyright (DEP-5, MIT + Apache-2.0)" copyright
check "usr/share/doc/pgstate/README.md" entry -rw-r--r-- usr/share/doc/pgstate/README.md
check "examples: every states/*.yaml, identical" same_files states yaml usr/share/doc/pgstate/examples
check "reference pages: every doc/*.md, identical (the README's links)" same_files doc md usr/share/doc/pgstate/doc
check "usr/share/doc/pgstate/changelog.Debian.gz (version $version-1)" \
  bash -c "zcat '$WORK/root/usr/share/doc/pgstate/changelog.Debian.gz' | head -n1 | grep -qF 'pgstate ($version-1)'"
check "lintian overrides" entry -rw-r--r-- usr/share/lintian/overrides/pgstate
check "no other paths" only_expected_paths

if [[ $lintian -eq 1 ]]; then
  if ! command -v lintian >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lintian >/dev/null
  fi
  lintian --tag-display-limit 0 "$deb" >"$WORK/lintian" 2>&1 || true
  sed 's/^/    lintian: /' "$WORK/lintian"
  check "lintian: no error" bash -c "! grep -q '^E: ' '$WORK/lintian'"
fi

printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
[[ $FAILED -eq 0 ]]

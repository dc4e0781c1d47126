#!/usr/bin/env bash
# Builds the Python wheel of pgstate: target/wheels/pgstate-<version>-py3-none-<tag>.whl,
# which carries the binary and nothing else (maturin's `bin` bindings, as ruff and uv ship
# theirs; pyproject.toml). `pip install` puts it in the environment's bin/.
#
#   tests/package/build-wheel.sh           # prints the path of the wheel on stdout
#   tests/package/build-wheel.sh --tools   # only installs maturin; tests/run.sh does this early
#
# maturin (pinned) is installed from PyPI once into $PGSTATE_LAB_CACHE/tools/maturin-<version>/
# (default /var/cache/pgstate-lab). It builds with `cargo build --release --locked` for the
# target .cargo/config.toml names, so it reuses the release build of tests/run.sh: the wheel's
# binary is the static one the .deb and the lab use. The wheel is checked for that binary
# here; the lab's Debian system installs it into a venv and drives Mininet with it
# (tests/kernel/system-guest.sh, contrib/mininet/).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE=${PGSTATE_LAB_CACHE:-/var/cache/pgstate-lab}
MATURIN_VERSION=1.16.0
TOOLS=$CACHE/tools/maturin-$MATURIN_VERSION

if [[ ! -x $TOOLS/bin/maturin ]]; then
  rm -rf "$TOOLS.part"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$TOOLS.part" "maturin==$MATURIN_VERSION" >&2
  rm -rf "$TOOLS"
  mv "$TOOLS.part" "$TOOLS"
fi
[[ ${1:-} == --tools ]] && exit 0

out=$REPO_ROOT/target/wheels
rm -rf "$out"
cd "$REPO_ROOT"
PYTHONPATH=$TOOLS "$TOOLS/bin/maturin" build --quiet --release --locked \
  --target x86_64-unknown-linux-gnu --out "$out" >&2
wheels=("$out"/pgstate-*.whl)
[[ ${#wheels[@]} == 1 && -f ${wheels[0]} ]] || {
  echo "maturin made no single wheel in $out" >&2
  exit 1
}
# The wheel holds the release binary, byte for byte, as its one script.
python3 - "${wheels[0]}" "$REPO_ROOT/target/x86_64-unknown-linux-gnu/release/pgstate" <<'PY' >&2
import sys, zipfile
wheel, binary = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    scripts = [n for n in z.namelist() if ".data/scripts/" in n]
    assert [s.rsplit("/", 1)[1] for s in scripts] == ["pgstate"], scripts
    info = z.getinfo(scripts[0])
    assert info.external_attr >> 16 & 0o111, "the script is not executable"
    assert z.read(scripts[0]) == open(binary, "rb").read(), "not the release binary"
PY
printf '%s\n' "${wheels[0]}"

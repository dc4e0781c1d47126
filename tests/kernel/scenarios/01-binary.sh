# shellcheck shell=sh
# The pgstate binary runs in the guest (its shared libraries are present).
command -v "$PGSTATE" >/dev/null || fail "$PGSTATE not in PATH"
if "$PGSTATE" --version >/dev/null 2>&1; then
  expect_rc 0 "$PGSTATE" --version
else
  note "--version not supported; trying --help"
  expect_rc 0 "$PGSTATE" --help
fi

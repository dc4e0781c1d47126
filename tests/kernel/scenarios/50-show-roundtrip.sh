# shellcheck shell=sh
# `show` exports the live state; applying that export changes nothing.
expect_rc 0 "$PGSTATE" apply "$STATES/ipv6.yaml"
pg_set kpktgend_1 "add_device eth1@7"
pg_set eth1@7 "count 77"
pg_set eth1@7 "flag !SHARED" || true
pg_set eth1@7 "tos 2e"
expect_rc 0 "$PGSTATE" show
printf '%s\n' "$OUT" >/tmp/shown.yaml
assert_match "$OUT" 'eth1@7:'
expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/shown.yaml
assert_match "$OUT" '^No changes'
expect_rc 0 "$PGSTATE" apply --json /tmp/shown.yaml
assert_match "$OUT" '"writes": 0'
expect_rc 0 "$PGSTATE" diff /tmp/shown.yaml
assert_match "$OUT" '^No differences'

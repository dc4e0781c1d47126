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

# Every example: apply, show, and the export applies as a no-op (issue 11: on every kernel).
# (netns-lab.yaml configures three other namespaces: 96-netns-state applies it there and
# round-trips `show --all-namespaces`.)
for f in "$STATES"/*.yaml; do
  single_namespace_example "$f" || continue
  example_supported "$f" || continue
  pg_reset || fail "reset before $f"
  expect_rc 0 "$PGSTATE" apply "$f"
  expect_rc 0 "$PGSTATE" show
  printf '%s\n' "$OUT" >/tmp/shown.yaml
  expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/shown.yaml
  assert_match "$OUT" '^No changes' "show of $f"
done

# 16 MPLS labels: every supported kernel takes them (Debian's stable releases carry the
# 6.15 count fix) and a 17th is refused with E2BIG; the export round-trips.
pg_reset || fail "reset before mpls"
labels=""
n=1
while [ "$n" -le 16 ]; do
  labels="$labels\"$(printf '%05x000' "$n")\", "
  n=$((n + 1))
done
printf 'devices:\n  d0:\n    thread: 0\n    mpls: [%s]\n' "${labels%, }" >/tmp/mpls16.yaml
expect_rc 0 "$PGSTATE" apply /tmp/mpls16.yaml
assert_file_contains d0 'mpls: 00001000, 00002000, 00003000, 00004000, 00005000, 00006000, 00007000, 00008000, 00009000, 0000a000, 0000b000, 0000c000, 0000d000, 0000e000, 0000f000, 00010000'
expect_rc 0 "$PGSTATE" show
printf '%s\n' "$OUT" >/tmp/shown.yaml
expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/shown.yaml
assert_match "$OUT" '^No changes'
pg_write d0 "mpls $(printf '%08x,' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 | sed 's/,$//')"
assert_eq "$RC" 1 "17 labels"
assert_match "$OUT" 'Argument list too long'

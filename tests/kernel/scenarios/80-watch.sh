# shellcheck shell=sh
# `pgstate watch` on a real kernel: it converges, follows edits saved by renaming a temp file
# and by rewriting in place, keeps the last good state through an invalid edit, repairs a
# parameter changed behind its back, re-attaches a device whose interface was deleted and
# re-created, and exits cleanly on SIGTERM.
mkdir -p /tmp/w
state=/tmp/w/state.yaml
write_state() { # COUNT
  printf 'devices:\n  eth0@0: {thread: 0, count: %s, pkt_size: 64}\n  eth1@1: {thread: 1, count: 77, dst: 198.18.0.7}\n' "$1"
}
write_state 1234 >"$state"
has_count() { grep -q "^Params: count $1 " "$PG/eth0@0" 2>/dev/null; }

"$PGSTATE" watch --poll-interval 500ms --debounce 100ms "$state" >/tmp/watch.log 2>&1 &
watcher=$!
wait_until 10 has_count 1234 || { cat /tmp/watch.log; fail "watch did not converge"; }
assert_file_contains eth1@1 'dst_min: 198\.18\.0\.7 '

note "rename-save"
write_state 2345 >/tmp/w/.state.yaml.swp
mv /tmp/w/.state.yaml.swp "$state"
wait_until 10 has_count 2345 || { cat /tmp/watch.log; fail "rename-save not applied"; }

note "in-place rewrite"
write_state 3456 >"$state"
wait_until 10 has_count 3456 || { cat /tmp/watch.log; fail "in-place rewrite not applied"; }

note "invalid edit keeps the last good state"
printf 'devices:\n  eth0@0: {thread: 0, count: 5, pkt_size: 20}\n' >"$state"
sleep 1.5
has_count 3456 || fail "an invalid edit changed the box"
grep -q 'state.yaml:2:.*pkt_size: 20 is below the kernel minimum 42' /tmp/watch.log || { cat /tmp/watch.log; fail "no located error in the log"; }
write_state 4567 >"$state"
wait_until 10 has_count 4567 || { cat /tmp/watch.log; fail "fixed edit not applied"; }

note "drift behind its back"
pg_set eth0@0 "count 1"
wait_until 10 has_count 4567 || { cat /tmp/watch.log; fail "drift not repaired"; }

note "interface deleted and re-created"
ip link del eth1 || fail "ip link del"
wait_until 10 test ! -e "$PG/eth1@1" || fail "kernel kept eth1@1"
sleep 1
ip link add eth1 type dummy || fail "ip link add"
ip link set eth1 address 02:00:00:00:00:11 up || fail "ip link set up"
wait_until 10 test -e "$PG/eth1@1" || { cat /tmp/watch.log; fail "eth1@1 not re-attached"; }
wait_until 5 grep -q 'dst_min: 198\.18\.0\.7 ' "$PG/eth1@1" || fail "eth1@1 not reconfigured"
assert_file_contains eth1@1 '^Params: count 77 '

note "SIGTERM"
kill -TERM "$watcher"
wait "$watcher"
rc=$?
cat /tmp/watch.log
assert_eq "$rc" 0 "watch exit status after SIGTERM"
expect_rc 0 "$PGSTATE" plan --detailed-exitcode "$state"

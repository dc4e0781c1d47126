# shellcheck shell=sh
# Drift made by hand is repaired: one parameter with exactly one write, a device added by
# hand is removed, a device moved to another thread is put back.
state=$STATES/multiqueue.yaml
expect_rc 0 "$PGSTATE" apply "$state"

note "one parameter changed by hand"
pg_set eth0@1 "udp_src_max 200"
assert_file_contains eth0@1 'udp_src_max: 200 '
expect_rc 2 "$PGSTATE" plan --detailed-exitcode -v "$state"
assert_match "$OUT" 'eth0@1 <- udp_src_max 109'
expect_rc 0 "$PGSTATE" apply --json "$state"
assert_match "$OUT" '"writes": 1$'
assert_file_contains eth0@1 'udp_src_min: 9  udp_src_max: 109 '

note "device added by hand"
pg_set kpktgend_1 "add_device eth2"
expect_rc 0 "$PGSTATE" apply "$state"
assert_missing eth2
assert_file_contains kpktgend_1 '^Stopped: eth0@1 $'
assert_file_contains eth0@1 'Flags: UDPSRC_RND  NO_TIMESTAMP  QUEUE_MAP_CPU  '

note "device moved to another thread by hand"
pg_set kpktgend_0 "rem_device_all"
pg_wait_empty 5 || true
wait_until 5 test ! -e "$PG/eth0@0" || fail "eth0@0 not removed"
pg_set kpktgend_1 "add_device eth0@0"
assert_file_contains kpktgend_1 'eth0@0'
expect_rc 0 "$PGSTATE" apply "$state"
assert_file_contains kpktgend_0 '^Stopped: eth0@0 $'
assert_file_contains kpktgend_1 '^Stopped: eth0@1 $'
assert_file_contains eth0@0 '^Params: count 100000  min_pkt_size: 60  max_pkt_size: 60$'
expect_rc 0 "$PGSTATE" plan --detailed-exitcode "$state"

# shellcheck shell=sh
# Smoke test of the raw pktgen procfs (no pgstate): add a device, set count,
# run it, check the counters, remove it.
assert_exists pgctrl
assert_file_contains pgctrl '^Packet Generator'
assert_exists kpktgend_0

pg_set kpktgend_0 "add_device d0"
assert_file_contains kpktgend_0 '^Result: OK: add_device=d0$'
assert_exists d0
assert_file_contains d0 '^Result: Idle'

pg_set d0 "count 10"
assert_file_contains d0 '^Result: OK: count=10$'
assert_file_contains d0 '^Params: count 10 '

pg_set pgctrl "start"
assert_file_contains d0 'pkts-sofar: 10 '
assert_file_contains d0 '^Result: OK: [0-9]+\(c[0-9]+\+d[0-9]+\) usec, 10 \('
cat "$PG/d0"

pg_set kpktgend_0 "rem_device_all"
pg_wait_empty 5 || fail "device files still present after rem_device_all"
assert_missing d0

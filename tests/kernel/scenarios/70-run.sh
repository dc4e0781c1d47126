# shellcheck shell=sh
# Running traffic: a finite run reports counts equal to `count`; a `count: 0` run with
# --duration stops on time; `pgstate stop` from a second process ends a run; the JSON
# results carry the documented fields.
cat >/tmp/run.yaml <<'YAML'
devices:
  eth0@0: {thread: 0, count: 20000, pkt_size: 60, dst: 198.18.0.1}
  eth1@1: {thread: 1, count: 30000, pkt_size: 1000, dst: 198.18.0.2}
YAML
expect_rc 0 "$PGSTATE" run --json /tmp/run.yaml
for key in '"format_version": 1' '"ended_by": "completed"' '"ok": true' '"wall_ms": ' '"packets": 20000' '"packets": 30000' \
  '"pps": ' '"mbps": ' '"bytes_per_packet": 1000' '"elapsed_us": ' '"errors": 0' '"problems": \[\]'; do
  assert_match "$OUT" "$key" "run --json field $key"
done
assert_file_contains eth0@0 'pkts-sofar: 20000  errors: 0'
assert_file_contains eth1@1 'pkts-sofar: 30000  errors: 0'
assert_file_contains eth1@1 '^Result: OK: [0-9]+\(c[0-9]+\+d[0-9]+\) usec, 30000 \(1000byte,0frags\)'

note "the results table"
expect_rc 0 "$PGSTATE" run /tmp/run.yaml
assert_match "$OUT" '^eth1@1 +1 +30000 +30000 '
assert_match "$OUT" 'Run ended: every stream reached its count'

note "count 0 with --duration"
cat >/tmp/forever.yaml <<'YAML'
devices:
  eth0@0: {thread: 0, count: 0, pkt_size: 60, dst: 198.18.0.1, delay: 100000}
YAML
t0=$(date +%s)
expect_rc 0 "$PGSTATE" run --json --duration 2 /tmp/forever.yaml
t1=$(date +%s)
elapsed=$((t1 - t0))
if [ "$elapsed" -lt 2 ] || [ "$elapsed" -gt 6 ]; then fail "--duration 2 took ${elapsed}s"; fi
assert_match "$OUT" '"ended_by": "duration"'
assert_file_contains kpktgend_0 '^Running: $'
assert_file_contains eth0@0 '^Result: OK: [0-9]+\(c'

note "stop from a second process"
"$PGSTATE" run --json /tmp/forever.yaml >/tmp/run.out 2>&1 &
runner=$!
wait_until 10 grep -q '^Running: eth0@0 $' "$PG/kpktgend_0" || fail "traffic did not start"
expect_rc 0 "$PGSTATE" stop
assert_file_contains kpktgend_0 '^Running: $'
wait "$runner"
rc=$?
cat /tmp/run.out
assert_eq "$rc" 0 "run exit status after pgstate stop"
grep -q '"ended_by": "stopped"' /tmp/run.out || grep -q '"ended_by": "completed"' /tmp/run.out || fail "no ended_by in the run output"

note "status shows the last results"
expect_rc 0 "$PGSTATE" status --json
assert_match "$OUT" '"running": false'
assert_match "$OUT" '"device": "eth0@0"'

note "clear-counters resets what the last run counted"
expect_rc 0 "$PGSTATE" clear-counters
assert_file_contains eth0@0 'pkts-sofar: 0  errors: 0'
assert_file_contains eth0@0 '^Result: OK: Clearing counters\.'

note "a stream that sends nothing is a problem (exit 3)"
cat >/tmp/never.yaml <<'YAML'
devices:
  eth0@0: {thread: 0, count: 10, pkt_size: 60, dst: 198.18.0.1, delay: 2147483647}
YAML
expect_rc 3 "$PGSTATE" run --duration 1 /tmp/never.yaml
assert_match "$OUT" 'eth0@0: sent nothing'

note "destroy removes everything the state owns"
expect_rc 0 "$PGSTATE" destroy --yes /tmp/run.yaml
assert_missing eth0@0
assert_file_contains kpktgend_0 '^Stopped: $'

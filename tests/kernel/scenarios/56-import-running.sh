# shellcheck shell=sh
# `pgstate import` against the kernel's samples/pktgen scripts as users run them, without
# append mode: the script resets pktgen, configures, starts traffic and resets again when
# it exits. With -n 0 the traffic runs until stopped, so the configuration can be compared
# while it runs: once the script's devices are sending (the script writes `start` after its
# last configuration write), `pgstate plan --detailed-exitcode` of the import of the same
# options (no `threads:`: the script owns all of pktgen) must exit 0. Then `stop` ends the
# script's run and its exit trap resets pktgen. This works on every kernel, 5.10 included,
# whose scripts have no append mode (55-import).
S=/samples/pktgen
[ -f "$S/parameters.sh" ] || fail "no $S (lab.sh test provides the samples with this scenario)"
mkdir -p /tmp/impr

any_running() { grep -q '^Running: [^ ]' "$PG"/kpktgend_*; }

# start_script SCRIPT ARGS...: SCRIPT ARGS -n 0 in the background ($pid), until it sends.
start_script() {
  _script=$1
  shift
  pg_settle_threads || { pg_dump; fail "the threads did not settle"; }
  (cd "$S" && exec /lab/bash "./$_script" "$@" -n 0) >/tmp/impr/out 2>&1 &
  pid=$!
  if ! wait_until 60 any_running; then
    cat /tmp/impr/out
    pg_dump
    kill "$pid" 2>/dev/null
    fail "$_script never started sending"
  fi
}

# stop_script SCRIPT: stop the traffic; the script must exit 0 and reset pktgen.
stop_script() {
  echo stop >"$PG/pgctrl" || fail "stop"
  wait "$pid"
  _rc=$?
  [ "$_rc" -eq 0 ] || { cat /tmp/impr/out; fail "$1 exited $_rc after stop"; }
  pg_wait_empty 10 || { pg_dump; fail "the script's exit trap did not reset pktgen"; }
}

# import NAME ARGS...: pgstate import NAME -- ARGS -n 0 into /tmp/impr/state.yaml.
import() {
  _name=$1
  shift
  "$PGSTATE" import "$_name" -- "$@" -n 0 >/tmp/impr/state.yaml 2>/tmp/impr/err ||
    { cat /tmp/impr/err; fail "pgstate import $_name -- $* -n 0"; }
  cat /tmp/impr/err /tmp/impr/state.yaml
}

# check NAME SCRIPT ARGS...: SCRIPT ARGS -n 0 in the background, the import of NAME with
# the same options planned while it sends, then stop.
check() {
  _name=$1
  _script=$2
  shift 2
  note "$_name: $_script $* -n 0"
  start_script "$_script" "$@"
  import "$_name" "$@"
  expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/impr/state.yaml
  # Every device of the box is in the import (the plan would remove any other).
  for _d in $(pg_devices); do
    grep -q "^  $_d:" /tmp/impr/state.yaml || fail "$_d, added by the script, is not in the import"
  done
  stop_script "$_script"
}

m=02:00:00:00:00:02
note "control: an import of other options than the script's plans changes (rc 2)"
start_script pktgen_sample02_multiqueue.sh -i d0 -m $m -t 2 -s 60
import sample02 -i d0 -m $m -t 2 -s 61
expect_rc 2 "$PGSTATE" plan --detailed-exitcode /tmp/impr/state.yaml
assert_match "$OUT" 'pkt_size: 60 -> 61' "the plan names the difference"
stop_script pktgen_sample02_multiqueue.sh

check sample01 pktgen_sample01_simple.sh -i d0 -s 60 -d 198.18.0.42 -m $m
check sample02 pktgen_sample02_multiqueue.sh -i d0 -d 198.18.0.0/15 -p 100-200 -t 2
check sample03 pktgen_sample03_burst_single_flow.sh -i d1 -m $m -t 2 -b 4
check sample04 pktgen_sample04_many_flows.sh -i d0 -s 128 -t 2
check sample05 pktgen_sample05_flow_per_thread.sh -i d2 -m $m -f 1 -c 0
check netif-receive pktgen_bench_xmit_mode_netif_receive.sh -i d0 -m $m -t 2 -b 16
check queue-xmit pktgen_bench_xmit_mode_queue_xmit.sh -i d0 -m $m -6 -d fd00::1:0/112

# shellcheck shell=sh
# `pgstate import` against the kernel's own samples/pktgen scripts (this kernel's, from
# Debian's linux-source package; lab.sh puts them at /samples/pktgen when this scenario is
# selected). For each case, on an empty box: the script runs under bash in append mode
# (-a, -n 1), then `pgstate import CASE -- <the same options>` must give a state that
# `pgstate plan --detailed-exitcode` finds already converged on the box the script left.
#
# Kernel differences (see src/import.rs): 5.10's scripts have no -a (nor -w, -k), so there is
# no box "the script left": not applicable there (exit 77). 6.1's scripts parse -a but set
# their exit trap, which resets pktgen, before parsing it: only APPEND=yes in the environment
# keeps their configuration, so it is set where functions.sh has no trap_exit (6.1).
S=/samples/pktgen
[ -f "$S/parameters.sh" ] || fail "no $S (lab.sh test provides the samples with this scenario)"
if ! grep -qE 'getopts "[^"]*a' "$S/parameters.sh"; then
  echo "NOT APPLICABLE: this kernel's samples/pktgen/parameters.sh has no -a (append mode):"
  grep -E 'getopts' "$S/parameters.sh"
  echo "without it every script resets pktgen when it exits, so there is no configured box to"
  echo "compare the import with"
  exit 77
fi
env_append=""
if ! grep -q 'trap_exit' "$S/functions.sh"; then
  note "this functions.sh sets its reset-on-exit trap before -a is parsed: APPEND=yes in the environment"
  env_append="APPEND=yes"
fi
mkdir -p /tmp/imp

# run_script SCRIPT ARGS...: on settled threads, SCRIPT ARGS -a under bash; it must leave
# a device.
run_script() {
  _script=$1
  shift
  pg_settle_threads || { pg_dump; fail "the threads did not settle"; }
  # shellcheck disable=SC2086  # env_append is empty or one word
  if ! (cd "$S" && env $env_append /lab/bash "./$_script" "$@" -a) >/tmp/imp/out 2>&1; then
    cat /tmp/imp/out
    fail "$_script $* -a failed"
  fi
  [ -n "$(pg_devices)" ] || { cat /tmp/imp/out; pg_dump; fail "$_script left no device"; }
}

# import NAME ARGS...: pgstate import NAME -- ARGS -a into /tmp/imp/state.yaml.
import() {
  _name=$1
  shift
  "$PGSTATE" import "$_name" -- "$@" -a >/tmp/imp/state.yaml 2>/tmp/imp/err ||
    { cat /tmp/imp/err; fail "pgstate import $_name -- $* -a"; }
  cat /tmp/imp/err /tmp/imp/state.yaml
}

# check NAME SCRIPT ARGS...: run SCRIPT with ARGS -a, then import NAME with the same ARGS
# -a and plan it on the box the script left.
check() {
  _name=$1
  _script=$2
  shift 2
  note "$_name: $_script $* -a"
  run_script "$_script" "$@"
  import "$_name" "$@"
  expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/imp/state.yaml
  # Every device the script left is in the import (plan would remove others only on the
  # threads the import owns; this catches one on a thread it does not).
  for _d in $(pg_devices); do
    grep -q "^  $_d:" /tmp/imp/state.yaml || fail "$_d, left by the script, is not in the import"
  done
  pg_reset || fail "pktgen reset failed"
}

m=02:00:00:00:00:02
note "control: an import of other options than the script's plans changes (rc 2)"
run_script pktgen_sample02_multiqueue.sh -i d0 -m $m -t 2 -n 1
import sample02 -i d0 -m $m -t 2 -n 2
expect_rc 2 "$PGSTATE" plan --detailed-exitcode /tmp/imp/state.yaml
assert_match "$OUT" 'count: 1 -> 2' "the plan names the difference"
pg_reset || fail "pktgen reset failed"

check sample01 pktgen_sample01_simple.sh -i d0 -s 60 -d 198.18.0.42 -m $m -n 1
check pktgen_sample01_simple.sh pktgen_sample01_simple.sh -i d1 -m $m -6 -d fd00::7 -p 1000-2000 -k -w 1000 -c 5 -n 1
check sample02 pktgen_sample02_multiqueue.sh -i d0 -d 198.18.0.0/15 -t 2 -n 1
check sample03 pktgen_sample03_burst_single_flow.sh -i d0 -s 60 -d 198.18.0.42 -m $m -t 2 -n 1 -b 8
check burst-single-flow pktgen_sample03_burst_single_flow.sh -i d2 -f 1 -b 0 -n 1
check sample04 pktgen_sample04_many_flows.sh -i d0 -m $m -t 2 -n 1 -p 9-19
check sample05 pktgen_sample05_flow_per_thread.sh -i d0 -s 128 -m $m -t 2 -n 1
check sample05 pktgen_sample05_flow_per_thread.sh -i d1 -6 -d fd00::/120 -n 1
check netif-receive pktgen_bench_xmit_mode_netif_receive.sh -i d0 -s 60 -m $m -n 1
check queue-xmit pktgen_bench_xmit_mode_queue_xmit.sh -i d0 -m $m -t 2 -n 1

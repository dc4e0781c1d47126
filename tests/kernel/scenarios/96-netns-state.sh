# shellcheck shell=sh
# Several network namespaces from one state (issue 14): three `ip netns` namespaces joined by
# veth pairs, configured, checked, repaired, run and refused as one state. Every check of a
# namespace reads its own pktgen from inside it (`ip netns exec NS cat ...`); pgstate itself
# reaches each one through a thread that entered it (REFERENCE §5.7).
IP=/sbin/ip
NSS="h1 h2 h3"
cleanup() { for n in $NSS; do $IP netns del "$n" 2>/dev/null; done; }
trap cleanup EXIT
for n in $NSS; do $IP netns add "$n" || fail "ip netns add $n"; done
$IP link add h1-eth0 netns h1 type veth peer name h2-eth0 netns h2 || fail "veth h1-h2"
$IP link add h2-eth1 netns h2 type veth peer name h3-eth0 netns h3 || fail "veth h2-h3"
for i in h1:h1-eth0 h2:h2-eth0 h2:h2-eth1 h3:h3-eth0; do
  $IP -n "${i%%:*}" link set "${i#*:}" up || fail "up $i"
done
in_ns() { _ns=$1; shift; $IP netns exec "$_ns" "$@"; }
ns_cat() { in_ns "$1" cat "/proc/net/pktgen/$2"; }
# snapshot [nores]: every pktgen file of every namespace, this one included; with nores the
# Result: lines are left out (a write the kernel refused and a rollback change them).
snapshot() {
  for _n in $NSS here; do
    echo "== $_n"
    if [ "$_n" = here ]; then _in=""; else _in="$IP netns exec $_n"; fi
    # shellcheck disable=SC2086,SC2016
    $_in sh -c 'for f in /proc/net/pktgen/*; do echo "-- ${f##*/}"; cat "$f"; done' |
      if [ "${1:-}" = nores ]; then grep -v '^Result:'; else cat; fi
  done
}

note "validate offline: the example and its namespaces"
expect_rc 0 "$PGSTATE" validate "$STATES/netns-lab.yaml"
assert_match "$OUT" 'valid \(4 devices of 3 namespaces in 1 file\)'

note "converge the example in its three namespaces"
expect_rc 0 "$PGSTATE" apply "$STATES/netns-lab.yaml"
assert_match "$OUT" '^namespace h2 \(/run/netns/h2\):$'
assert_match "$OUT" 'All 3 namespaces applied and verified'
assert_match "$(ns_cat h1 kpktgend_0)" '^Stopped: h1-eth0 $'
assert_match "$(ns_cat h1 h1-eth0)" 'dst_min: 10\.0\.12\.2  dst_max: $'
assert_match "$(ns_cat h1 h1-eth0)" 'Flags: UDPDST_RND  UDPCSUM  |Flags: UDPCSUM  UDPDST_RND  '
assert_match "$(ns_cat h2 kpktgend_0)" '^Stopped: h2-eth0 $'
assert_match "$(ns_cat h2 kpktgend_1)" '^Stopped: h2-eth1 $'
assert_match "$(ns_cat h2 h2-eth1)" 'dst_min: 10\.0\.23\.3  dst_max: $'
assert_match "$(ns_cat h3 kpktgend_1)" '^Stopped: h3-eth0 $'
assert_match "$(ns_cat h3 h3-eth0)" '^Params: count 100000  min_pkt_size: 60  max_pkt_size: 60$'
# Nothing leaked into the namespace pgstate runs in.
[ -z "$(pg_devices)" ] || { pg_ls; fail "devices in the lab's own namespace"; }
expect_rc 0 "$PGSTATE" plan --detailed-exitcode "$STATES/netns-lab.yaml"
assert_match "$OUT" 'Plan for 3 namespaces: .*; 0 writes in 0 namespaces\.'
expect_rc 0 "$PGSTATE" apply --json "$STATES/netns-lab.yaml"
assert_match "$OUT" '"writes": 0'

note "show --all-namespaces exports the three as a state that applies as a no-op"
"$PGSTATE" show --all-namespaces >/tmp/all.yaml || fail "show --all-namespaces"
cat /tmp/all.yaml
assert_no_match "$(cat /tmp/all.yaml)" '^devices:' "this namespace has no devices"
assert_match "$(cat /tmp/all.yaml)" '^  h3:$'
expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/all.yaml
expect_rc 0 "$PGSTATE" diff --exit-code "$STATES/netns-lab.yaml"

note "drift in h2: the plan names only h2, one write repairs it"
in_ns h2 sh -c 'echo "count 5" > /proc/net/pktgen/h2-eth1' || fail "drift"
"$PGSTATE" plan --json "$STATES/netns-lab.yaml" >/tmp/drift.json 2>/dev/null || fail "plan --json"
cat /tmp/drift.json
# h2: its action, its write and its summary; h1 and h3: their summaries only.
assert_eq "$(grep -c '"namespace": "h2"' /tmp/drift.json)" 3 "h2 in the plan"
assert_eq "$(grep -c '"namespace": "h1"' /tmp/drift.json)" 1 "h1 in the plan"
assert_eq "$(grep -c '"namespace": "h3"' /tmp/drift.json)" 1 "h3 in the plan"
assert_match "$(cat /tmp/drift.json)" '"command": "count 100000"'
expect_rc 0 "$PGSTATE" diff "$STATES/netns-lab.yaml"
assert_match "$OUT" '^--- live \(namespace h2\)$'
assert_no_match "$OUT" 'namespace h[13]'
expect_rc 0 "$PGSTATE" apply "$STATES/netns-lab.yaml"
assert_match "$OUT" '1 write in total'
assert_match "$(ns_cat h2 h2-eth1)" '^Params: count 100000 '
expect_rc 0 "$PGSTATE" plan --detailed-exitcode "$STATES/netns-lab.yaml"

note "a saved plan covers every namespace: plan --out, apply PLAN, a stale one refused"
in_ns h1 sh -c 'echo "count 6" > /proc/net/pktgen/h1-eth0' || fail "drift in h1"
expect_rc 0 "$PGSTATE" plan --out /tmp/ns.plan "$STATES/netns-lab.yaml"
assert_match "$OUT" '^Saved the plan to /tmp/ns\.plan'
assert_match "$(cat /tmp/ns.plan)" '"namespace": "h3"'
expect_rc 0 "$PGSTATE" apply /tmp/ns.plan
assert_match "$OUT" '1 write in total'
assert_match "$(ns_cat h1 h1-eth0)" '^Params: count 100000 '
in_ns h1 sh -c 'echo "count 7" > /proc/net/pktgen/h1-eth0' || fail "drift in h1"
expect_rc 0 "$PGSTATE" plan --out /tmp/ns.plan "$STATES/netns-lab.yaml"
in_ns h3 sh -c 'echo "count 4" > /proc/net/pktgen/h3-eth0' || fail "drift in h3"
expect_rc 1 "$PGSTATE" apply /tmp/ns.plan
assert_match "$OUT" 'the live state \(namespace h3\) has changed since this plan was made'
assert_match "$(ns_cat h1 h1-eth0)" '^Params: count 7 ' "a refused saved plan writes nothing"
expect_rc 0 "$PGSTATE" apply "$STATES/netns-lab.yaml"
expect_rc 0 "$PGSTATE" plan --detailed-exitcode "$STATES/netns-lab.yaml"

note "status --format prometheus labels every namespace"
expect_rc 0 "$PGSTATE" status --format prometheus "$STATES/netns-lab.yaml"
assert_match "$OUT" '^pgstate_devices\{namespace="h2"\} 2$'
assert_match "$OUT" '^pgstate_device_packets_total\{namespace="h3",device="h3-eth0",thread="1"\} [0-9]+$'
assert_match "$OUT" '^pgstate_pktgen_up\{namespace="h1"\} 1$'

note "error cases change nothing anywhere"
before=$(snapshot)
sed 's/^  h3:$/  nope:/' "$STATES/netns-lab.yaml" | sed 's/count: 100000/count: 7/' >/tmp/nope.yaml
expect_rc 1 "$PGSTATE" apply /tmp/nope.yaml
assert_match "$OUT" 'namespaces\.nope: network namespace /run/netns/nope does not exist'
assert_eq "$(snapshot)" "$before" "a namespace that does not exist"
sed 's/count: 100000/count: 8/; /^  h2:$/,/^  h3:$/s/pkt_size: 60/pkt_size: 20/' "$STATES/netns-lab.yaml" >/tmp/bad.yaml
expect_rc 1 "$PGSTATE" apply /tmp/bad.yaml
assert_match "$OUT" 'bad\.yaml:[0-9]+:[0-9]+: namespaces\.h2\.devices\.h2-eth[01]\.pkt_size: '
assert_eq "$(snapshot)" "$before" "a bad value in one namespace"
printf 'not a namespace\n' >/tmp/plain
sed 's/count: 100000/count: 9/' "$STATES/netns-lab.yaml" |
  awk '{ print } /^  h3:$/ { print "    netns: /tmp/plain" }' >/tmp/plain.yaml
expect_rc 1 "$PGSTATE" apply /tmp/plain.yaml
assert_match "$OUT" 'plain\.yaml:[0-9]+:12: namespaces\.h3\.netns: /tmp/plain is not a network namespace file'
assert_eq "$(snapshot)" "$before" "a netns: that is a regular file"
# A value only the kernel refuses, in h3 (applied last): h1 and h2 were written, and are
# restored; the configuration everywhere is as before (Result: lines aside).
before=$(snapshot nores)
sed 's/count: 100000/count: 10/; s/^        flags: \[UDPCSUM\]$/        node: 1000/' "$STATES/netns-lab.yaml" >/tmp/node.yaml
expect_rc 1 "$PGSTATE" apply /tmp/node.yaml
assert_match "$OUT" 'node\.yaml:[0-9]+:[0-9]+: namespaces\.h3\.devices\.h3-eth0\.node: the kernel refused this setting'
assert_match "$OUT" '^namespace h1 \(applied before it\): rolled back with [0-9]+ writes; the box is as it was before apply$'
assert_match "$OUT" '^namespace h2 \(applied before it\): rolled back with'
assert_match "$OUT" '^Every namespace is as it was before apply\.$'
assert_eq "$(snapshot nores)" "$before" "a value the kernel refuses in one namespace"
expect_rc 0 "$PGSTATE" plan --detailed-exitcode "$STATES/netns-lab.yaml"

note "run all three at once"
sed 's/count: 100000/count: 20000/' "$STATES/netns-lab.yaml" >/tmp/run.yaml
"$PGSTATE" run --json /tmp/run.yaml >/tmp/run.json 2>/tmp/run.err
rc=$?
cat /tmp/run.json /tmp/run.err
assert_eq "$rc" 0 "run rc"
for i in h1:h1-eth0 h2:h2-eth0 h2:h2-eth1 h3:h3-eth0; do
  assert_match "$(ns_cat "${i%%:*}" "${i#*:}")" 'pkts-sofar: 20000  errors: 0' "$i"
done
assert_match "$(cat /tmp/run.json)" '"packets": 80000,'
# The overlap from the kernel's own timestamps, computed here from the device files: each
# namespace ran from its earliest `started:` to its latest `stopped:`, and all three at once
# from the latest start to the earliest stop.
window() { # NS DEV...: prints "start stop" of the namespace's devices
  _ns=$1
  shift
  _s=0
  _e=0
  for _d in "$@"; do
    _l=$(ns_cat "$_ns" "$_d" | sed -n 's/^     started: \([0-9]*\)us  stopped: \([0-9]*\)us.*/\1 \2/p')
    note "$_ns $_d ran from ${_l% *}us to ${_l#* }us" >&2
    if [ "$_s" -eq 0 ] || [ "${_l% *}" -lt "$_s" ]; then _s=${_l% *}; fi
    if [ "${_l#* }" -gt "$_e" ]; then _e=${_l#* }; fi
  done
  echo "$_s $_e"
}
max_start=0
min_stop=0
for w in "$(window h1 h1-eth0)" "$(window h2 h2-eth0 h2-eth1)" "$(window h3 h3-eth0)"; do
  [ "${w% *}" -gt "$max_start" ] && max_start=${w% *}
  if [ "$min_stop" -eq 0 ] || [ "${w#* }" -lt "$min_stop" ]; then min_stop=${w#* }; fi
done
if [ "$min_stop" -gt "$max_start" ]; then
  want_all=$(((min_stop - max_start) / 1000))
  want_concurrent=true
else
  want_all=0
  want_concurrent=false
fi
note "from the files: all three ran at once for ${want_all} ms"
assert_match "$(cat /tmp/run.json)" "\"all_ms\": $want_all,"
assert_match "$(cat /tmp/run.json)" "\"concurrent\": $want_concurrent"
"$PGSTATE" run /tmp/run.yaml >/tmp/run.txt 2>&1 || { cat /tmp/run.txt; fail "run (text)"; }
cat /tmp/run.txt
assert_match "$(cat /tmp/run.txt)" '^Total: 80000 packets, 0 errors in 3 namespaces\.$'
assert_match "$(cat /tmp/run.txt)" '^Overlap: '

note "status and stop across the state's namespaces and --all-namespaces"
expect_rc 0 "$PGSTATE" status /tmp/run.yaml
assert_match "$OUT" '^namespace h3 \(/run/netns/h3\):$'
expect_rc 0 "$PGSTATE" status --all-namespaces --json
assert_match "$OUT" '"namespace": "h2"'
# count 0 in h1: runs until stopped; `stop --all-namespaces` from another process ends it.
sed '/^  h1:$/,/^  h2:$/s/count: 100000/count: 0/; s/count: 100000/count: 1000/' "$STATES/netns-lab.yaml" >/tmp/forever.yaml
"$PGSTATE" run --no-progress /tmp/forever.yaml >/tmp/forever.txt 2>&1 &
runner=$!
wait_until 60 sh -c "$IP netns exec h1 grep -q '^Running: h1-eth0' /proc/net/pktgen/kpktgend_0" || { cat /tmp/forever.txt; fail "h1 did not start"; }
expect_rc 0 "$PGSTATE" stop --all-namespaces
assert_match "$OUT" 'Stopped: no pktgen device is running in 4 namespaces\.'
wait "$runner"
cat /tmp/forever.txt
assert_match "$(ns_cat h1 kpktgend_0)" '^Running: $'
assert_match "$(cat /tmp/forever.txt)" '^Total: '

note "watch keeps the three namespaces; one that goes away is re-attached when it returns"
"$PGSTATE" watch --poll-interval 300ms "$STATES/netns-lab.yaml" >/tmp/watch.log 2>&1 &
watcher=$!
converged() { "$PGSTATE" -q plan --detailed-exitcode "$STATES/netns-lab.yaml" >/dev/null 2>&1; }
wait_until 60 converged || { cat /tmp/watch.log; fail "watch did not converge the namespaces"; }
in_ns h3 sh -c 'echo "count 3" > /proc/net/pktgen/h3-eth0' || fail "drift in h3"
wait_until 30 sh -c "$IP netns exec h3 grep -q '^Params: count 100000 ' /proc/net/pktgen/h3-eth0" ||
  { cat /tmp/watch.log; fail "drift in h3 not repaired"; }
# h3 goes away, and with it the veth pair h2-eth1/h3-eth0 (so h2 loses h2-eth1 too).
$IP netns del h3 || fail "ip netns del h3"
wait_until 30 grep -q 'network namespace is gone' /tmp/watch.log ||
  { cat /tmp/watch.log; fail "no log of h3 going away"; }
kill -0 "$watcher" || fail "watch ended when a namespace went away"
$IP netns add h3 || fail "ip netns add h3 again"
$IP link add h2-eth1 netns h2 type veth peer name h3-eth0 netns h3 || fail "veth h2-h3 again"
$IP -n h2 link set h2-eth1 up || fail "h2-eth1 up again"
$IP -n h3 link set h3-eth0 up || fail "h3-eth0 up again"
wait_until 60 converged || { cat /tmp/watch.log; fail "not converged after h3 came back"; }
assert_match "$(ns_cat h3 kpktgend_1)" '^Stopped: h3-eth0 $'
assert_match "$(ns_cat h2 kpktgend_1)" '^Stopped: h2-eth1 $'
kill -TERM "$watcher"
wait "$watcher"
cat /tmp/watch.log
assert_match "$(cat /tmp/watch.log)" 'network namespace is back; re-attached'

note "watch --metrics-listen serves every namespace, labelled"
"$PGSTATE" watch --poll-interval 300ms --metrics-listen 127.0.0.1:0 "$STATES/netns-lab.yaml" >/tmp/wm.log 2>&1 &
watcher=$!
wait_until 20 grep -q 'local=127\.0\.0\.1:[0-9]' /tmp/wm.log || { cat /tmp/wm.log; fail "no metrics address"; }
addr=$(sed -n 's/.*local=\(127\.0\.0\.1:[0-9]*\).*/\1/p' /tmp/wm.log | head -n1)
scraped_converged() {
  wget -q -O /tmp/wm.body "http://$addr/metrics" &&
    grep -q '^pgstate_converged{namespace="h3"} 1$' /tmp/wm.body &&
    grep -q '^pgstate_converged{namespace="h1"} 1$' /tmp/wm.body
}
wait_until 30 scraped_converged || { cat /tmp/wm.log /tmp/wm.body; fail "metrics never showed every namespace converged"; }
cat /tmp/wm.body
assert_match "$(cat /tmp/wm.body)" '^pgstate_watch_reconciles_total\{namespace="h2"\} [1-9][0-9]*$'
assert_match "$(cat /tmp/wm.body)" '^pgstate_devices\{namespace="h2"\} 2$'
assert_match "$(cat /tmp/wm.body)" '^pgstate_device_packets_total\{namespace="h1",device="h1-eth0",thread="0"\} [0-9]+$'
kill -TERM "$watcher"
wait "$watcher"

note "destroy empties every namespace of the state, and nothing else"
expect_rc 0 "$PGSTATE" destroy --yes "$STATES/netns-lab.yaml"
assert_match "$OUT" 'All 3 namespaces applied and verified'
for n in $NSS; do
  for t in 0 1; do
    assert_match "$(ns_cat "$n" "kpktgend_$t")" '^Stopped: $' "$n kpktgend_$t"
  done
done
expect_rc 0 "$PGSTATE" destroy --yes "$STATES/netns-lab.yaml"
assert_match "$OUT" '0 writes in total'

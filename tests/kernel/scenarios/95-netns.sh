# shellcheck shell=sh
# Network namespaces (REFERENCE §5.7), as Mininet hosts use them: each namespace has its own
# pktgen, pgstate manages one from inside it (with a plain `nsenter -n`, where /sys/class/net
# still shows the host's interfaces), and the seed notes' claim is checked: "starting pktgen
# on multiple hosts [...] will cause the other instances to lock until the first pktgen start
# instance has terminated". On 6.1 and 6.12 it does not: each namespace's start runs and
# returns on its own.
unshare -n sleep 3600 &
holder_a=$!
unshare -n sleep 3600 &
holder_b=$!
ns_ready() { [ "$(readlink /proc/"$1"/ns/net)" != "$(readlink /proc/self/ns/net)" ]; }
wait_until 5 ns_ready "$holder_a" || fail "no namespace A"
wait_until 5 ns_ready "$holder_b" || fail "no namespace B"
in_a() { nsenter -t "$holder_a" -n "$@"; }
in_b() { nsenter -t "$holder_b" -n "$@"; }
cleanup() { kill "$holder_a" "$holder_b" 2>/dev/null; }
trap cleanup EXIT

in_a /sbin/ip link add a0 type dummy || fail "add a0"
in_a /sbin/ip link set a0 up || fail "a0 up"
in_b /sbin/ip link add b0 type dummy || fail "add b0"
in_b /sbin/ip link set b0 up || fail "b0 up"
printf 'devices:\n  a0: {thread: 0, count: 0, pkt_size: 60, delay: 100000}\n' >/tmp/a.yaml
printf 'devices:\n  b0: {thread: 1, count: 5000, pkt_size: 60}\n' >/tmp/b.yaml

note "pgstate inside each namespace sees and manages only that namespace"
expect_rc 0 in_a "$PGSTATE" apply /tmp/a.yaml
expect_rc 0 in_b "$PGSTATE" apply /tmp/b.yaml
assert_match "$(in_a cat /proc/net/pktgen/kpktgend_0)" '^Stopped: a0 $'
assert_match "$(in_b cat /proc/net/pktgen/kpktgend_1)" '^Stopped: b0 $'
assert_file_lacks kpktgend_0 'a0'
assert_file_lacks kpktgend_1 'b0'
expect_rc 0 in_b "$PGSTATE" plan --detailed-exitcode /tmp/b.yaml

note "start in A (count 0: runs until stopped), then start in B"
in_a sh -c 'echo start > /proc/net/pktgen/pgctrl' &
start_a=$!
wait_until 10 sh -c "nsenter -t $holder_a -n grep -q '^Running: a0 ' /proc/net/pktgen/kpktgend_0" || fail "A did not start"
in_b sh -c 'echo start > /proc/net/pktgen/pgctrl' &
start_b=$!
sleep 2
if kill -0 "$start_b" 2>/dev/null; then
  b_blocked=yes
else
  b_blocked=no
fi
a_running=$(in_a sed -n 's/^Running: //p' /proc/net/pktgen/kpktgend_0)
note "start in B while A runs: blocked=$b_blocked; A still running: '$a_running'"
b_file=$(in_b cat /proc/net/pktgen/b0)
in_a sh -c 'echo stop > /proc/net/pktgen/pgctrl'
wait "$start_a"
wait "$start_b"
assert_eq "$b_blocked" no "B's start blocked while A's ran"
assert_eq "$a_running" "a0 " "A kept running while B ran"
assert_match "$b_file" 'pkts-sofar: 5000  errors: 0'
assert_match "$b_file" '^Result: OK: [0-9]+\(c[0-9]+\+d[0-9]+\) usec, 5000 \('
assert_match "$(in_a cat /proc/net/pktgen/a0)" '^Result: OK: '

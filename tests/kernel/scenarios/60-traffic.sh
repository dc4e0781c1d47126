# shellcheck shell=sh
# A short real run on a dummy interface: the kernel's counters equal `count`, and the
# configuration still plans to nothing afterwards (start changes packet sizes left at 0).
cat >/tmp/run.yaml <<'YAML'
devices:
  eth0@0: {thread: 0, count: 2000, pkt_size: 60, dst: 198.18.0.1}
  eth1@1: {thread: 1, count: 3000, dst: 198.18.0.2}
YAML
expect_rc 0 "$PGSTATE" apply /tmp/run.yaml
pg_set pgctrl start
assert_file_contains eth0@0 'pkts-sofar: 2000  errors: 0'
assert_file_contains eth0@0 '^Result: OK: [0-9]+\(c[0-9]+\+d[0-9]+\) usec, 2000 \(60byte,0frags\)'
assert_file_contains eth1@1 'pkts-sofar: 3000  errors: 0'
assert_file_contains eth1@1 '^Params: count 3000  min_pkt_size: 58  max_pkt_size: 58$'
expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/run.yaml

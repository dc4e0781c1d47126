# shellcheck shell=sh
# Bad inputs get a clear error and a non-zero exit, and leave the kernel's state unchanged.
expect_rc 0 "$PGSTATE" apply "$STATES/vlan-qinq.yaml"

# Configuration part of every pktgen file (Result lines change with every write).
snapshot() {
  for f in "$PG"/*; do
    echo "== ${f##*/}"
    sed '/^Current:/,$d; /^Result:/d' "$f"
  done
}
before=$(snapshot)

bad() { # bad NAME YAML EXPECTED-REGEX
  printf '%s\n' "$2" >/tmp/bad.yaml
  note "bad input: $1"
  expect_rc 1 "$PGSTATE" apply /tmp/bad.yaml
  assert_match "$OUT" "$3" "$1 message"
  assert_eq "$(snapshot)" "$before" "live state after $1"
}

bad "unknown key" 'devices:
  eth0@0: {thread: 0, cont: 5}' 'bad\.yaml:2:.*unknown key .cont.'
bad "out-of-range value" 'devices:
  eth0@0:
    thread: 0
    pkt_size: 20' 'bad\.yaml:4:15: devices\.eth0@0\.pkt_size: 20 is below the kernel minimum 42'
bad "missing interface" 'devices:
  nosuch0: {thread: 0}' 'interface nosuch0 does not exist'
bad "interface down" 'devices:
  dn: {thread: 0}' 'interface dn is down'
bad "thread that does not exist" 'devices:
  eth0@9: {thread: 9}' 'thread 9 does not exist'
# The kernel accepts `node 5` with rc 0 and answers only in Result: "ERROR: node not
# possible" (one NUMA node in the guest). pgstate must catch it and roll back.
bad "Result-only refusal" 'devices:
  eth0@0: {thread: 0, count: 7, node: 5}' 'node not possible'
assert_match "$OUT" 'rolled back'

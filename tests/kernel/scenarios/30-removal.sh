# shellcheck shell=sh
# Dropping one device of three on a thread leaves the other two configured exactly as before.
cat >/tmp/three.yaml <<'YAML'
devices:
  eth0@0: {thread: 0, count: 5000, pkt_size: 100, flags: [UDPCSUM], dst: 198.18.0.1}
  eth1@0: {thread: 0, dst: 198.18.0.9, vlan_id: 7, vlan_p: 2, udp_dst_min: 100, udp_dst_max: 200}
  eth2@0: {thread: 0, count: 1}
YAML
grep -v 'eth2@0' /tmp/three.yaml >/tmp/two.yaml
expect_rc 0 "$PGSTATE" apply /tmp/three.yaml
config() { sed '/^Current:/,$d' "$PG/$1"; }
a_before=$(config eth0@0)
b_before=$(config eth1@0)
expect_rc 0 "$PGSTATE" plan /tmp/two.yaml
assert_match "$OUT" '-/\+ eth0@0'
assert_match "$OUT" '- eth2@0'
expect_rc 0 "$PGSTATE" apply /tmp/two.yaml
assert_missing eth2@0
assert_eq "$(config eth0@0)" "$a_before" "eth0@0 configuration"
assert_eq "$(config eth1@0)" "$b_before" "eth1@0 configuration"
expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/two.yaml

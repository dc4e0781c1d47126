# shellcheck shell=sh
# Every example in states/: apply converges, the kernel shows what the example asks for,
# a second `plan --detailed-exitcode` exits 0 and a second `apply` performs zero writes.

# expect_lines FILE REGEX...: each REGEX must match a line of the pktgen file FILE.
expect_lines() {
  _file=$1
  shift
  for _re in "$@"; do
    assert_file_contains "$_file" "$_re"
  done
}

for state in "$STATES"/*.yaml; do
  name=${state##*/}
  single_namespace_example "$state" || { note "$name: other namespaces, see 96-netns-state"; continue; }
  note "example $name"
  pg_reset || fail "reset failed"
  if ! example_supported "$state"; then
    # an older kernel without a parameter the example needs: pgstate refuses at planning
    # time, names the kernel version, and writes nothing
    note "$name needs a newer kernel than $(uname -r): apply must refuse"
    expect_rc 1 "$PGSTATE" apply "$state"
    assert_match "$OUT" 'needs Linux [0-9.]+ or later; this kernel is ' "refusal of $name"
    [ -z "$(pg_devices)" ] || { pg_ls; fail "refused apply of $name left device files"; }
    continue
  fi
  expect_rc 0 "$PGSTATE" apply "$state"
  case $name in
    simple.yaml)
      expect_lines kpktgend_0 '^Stopped: eth0 $'
      expect_lines eth0 '^Params: count 100000  min_pkt_size: 60  max_pkt_size: 60$' \
        'dst_min: 198\.18\.0\.42  dst_max: $' 'dst_mac: 02:00:00:00:00:02$' \
        'udp_src_min: 9  udp_src_max: 109  udp_dst_min: 9  udp_dst_max: 9$' \
        'Flags: UDPSRC_RND  NO_TIMESTAMP  ' ;;
    multiqueue.yaml)
      expect_lines kpktgend_0 '^Stopped: eth0@0 $'
      expect_lines kpktgend_1 '^Stopped: eth0@1 $'
      expect_lines eth0@1 'ifname: eth0@1$' 'Flags: UDPSRC_RND  NO_TIMESTAMP  QUEUE_MAP_CPU  ' ;;
    burst-single-flow.yaml)
      expect_lines eth0@0 'clone_skb: 100000  ifname: eth0@0$' '^     burst: 32$' '^Params: count 1000000 ' ;;
    many-flows.yaml)
      expect_lines eth0@1 '^     flows: 8000 flowlen: 10$' 'src_min: 198\.18\.0\.0  src_max: 198\.19\.255\.255$' \
        'Flags: IPSRC_RND  NO_TIMESTAMP  FLOW_SEQ  ' ;;
    flow-per-thread.yaml)
      expect_lines eth0@1 'src_min: 198\.18\.1\.1  src_max: 198\.18\.1\.1$' '^     burst: 32$' ;;
    netif-receive.yaml)
      expect_lines eth1@0 '^     xmit_mode: netif_receive$' '^     burst: 32$' ;;
    queue-xmit.yaml)
      expect_lines eth0@0 '^     xmit_mode: xmit_queue$'
      assert_file_lacks eth0@0 'burst:' ;;
    ipv6.yaml)
      expect_lines eth0 '^     saddr: 2001:db8:0:1::1  min_saddr: ::  max_saddr: ::$' \
        '^     daddr: 2001:db8::1  min_daddr: 2001:db8::100  max_daddr: 2001:db8::1ff$' \
        '^     traffic_class: 0x2e$' 'Flags: IPV6  IPDST_RND  UDPCSUM  ' ;;
    vlan-qinq.yaml)
      expect_lines eth0@0 '^     vlan_id: 100  vlan_p: 3  vlan_cfi: 0$' '^     svlan_id: 200  vlan_p: 5  vlan_cfi: 0$' '^     tos: 0x10$'
      expect_lines eth1@1 '^     vlan_id: 42  vlan_p: 0  vlan_cfi: 0$' 'Flags: VID_RND  '
      assert_file_lacks eth1@1 'svlan_id' ;;
    mpls.yaml)
      expect_lines eth0 '^     mpls: 0001000a, 0002010a$' 'Flags: MPLS_RND  ' ;;
    imix.yaml)
      expect_lines eth0 '^     imix_weights: 64,7 576,4 1500,1 $' '^Params: count 120000 ' ;;
    *) fail "no kernel expectations for example $name; add them to this scenario" ;;
  esac
  expect_rc 0 "$PGSTATE" plan --detailed-exitcode "$state"
  assert_match "$OUT" '^No changes' "second plan of $name"
  expect_rc 0 "$PGSTATE" apply --json "$state"
  assert_match "$OUT" '"writes": 0' "second apply of $name must not write"
done

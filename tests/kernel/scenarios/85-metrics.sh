# shellcheck shell=sh
# Prometheus metrics on a real kernel, scraped as Prometheus would (busybox wget): `watch
# --metrics-listen` reports its reconcile, converged and repair figures as they happen, and
# pktgen's own per-device counters after a real run equal the kernel's pkts-sofar and errors;
# `status --format prometheus` prints the same per-device lines.
mkdir -p /tmp/m
state=/tmp/m/state.yaml
cat >"$state" <<'YAML'
devices:
  eth0@0: {thread: 0, count: 1500, pkt_size: 60, dst: 198.18.0.1}
  eth1@1: {thread: 1, count: 2500, dst: 198.18.0.2}
  eth2@0: {thread: 0, count: 20000, delay: 99000, dst: 198.18.0.3}
YAML

# Port 0: the kernel picks a free port, which watch logs as local=ADDR.
"$PGSTATE" watch --poll-interval 500ms --debounce 100ms --metrics-listen 127.0.0.1:0 \
  "$state" >/tmp/m/watch.log 2>&1 &
watcher=$!
listening() { grep -q 'local=127\.0\.0\.1:[0-9]' /tmp/m/watch.log; }
wait_until 10 listening || { cat /tmp/m/watch.log; fail "watch did not log its metrics address"; }
addr=$(sed -n 's/.*local=\(127\.0\.0\.1:[0-9]*\).*/\1/p' /tmp/m/watch.log | head -n1)
note "metrics on $addr"

# scrape: the body of /metrics into /tmp/m/body; fails on an HTTP error.
scrape() {
  wget -q -O /tmp/m/body "http://$addr/metrics" || fail "wget http://$addr/metrics failed"
}
# value NAME_WITH_LABELS [FILE]: the sample's value ('' when absent).
value() {
  awk -v n="$1" '$1 == n { print $2 }' "${2:-/tmp/m/body}"
}
# kernel_field DEVICE FIELD: pkts-sofar or errors from the device's proc file.
kernel_field() {
  sed -n "s/.*$2: \([0-9]*\).*/\1/p" "$PG/$1" | head -n1
}
converged_now() { scrape && [ "$(value pgstate_converged)" = 1 ]; }

wait_until 20 converged_now || { cat /tmp/m/watch.log /tmp/m/body; fail "converged never 1"; }
cat /tmp/m/body
assert_eq "$(value pgstate_pktgen_up)" 1 "pgstate_pktgen_up"
assert_eq "$(value pgstate_devices)" 3 "pgstate_devices"
reconciles=$(value pgstate_watch_reconciles_total)
[ "${reconciles:-0}" -ge 1 ] || fail "pgstate_watch_reconciles_total is '$reconciles', expected >= 1"
writes=$(value pgstate_watch_writes_total)
[ "${writes:-0}" -ge 1 ] || fail "pgstate_watch_writes_total is '$writes' after the first apply"
repairs=$(value pgstate_watch_repairs_total)
assert_eq "$repairs" 0 "pgstate_watch_repairs_total before any drift"
assert_eq "$(value pgstate_watch_failures_total)" 0 "pgstate_watch_failures_total"
last=$(value pgstate_last_converge_timestamp_seconds)
now=$(date +%s)
if ! { [ -n "$last" ] && [ "$last" -le "$now" ] && [ "$last" -gt $((now - 600)) ]; }; then
  fail "pgstate_last_converge_timestamp_seconds '$last' is not a recent time (now $now)"
fi

note "drift behind watch's back"
pg_set eth0@0 "count 1"
repaired() { scrape && [ "$(value pgstate_watch_repairs_total)" = $((repairs + 1)) ]; }
wait_until 20 repaired || { cat /tmp/m/watch.log /tmp/m/body; fail "repairs_total did not rise to $((repairs + 1))"; }
assert_file_contains eth0@0 '^Params: count 1500 '
assert_eq "$(value pgstate_converged)" 1 "converged after the repair"
[ "$(value pgstate_watch_writes_total)" -gt "$writes" ] || fail "writes_total did not rise with the repair"

note "a run: the running gauges while it sends, then per-device counters are the kernel's"
# eth2@0 sends for about two seconds (10,100 packets/s; pktgen busy-waits delays under
# 100 µs, so the rate holds under emulation and run's rate check passes). Not `count: 0`:
# of two devices on one thread without a delay, pktgen only ever sends on the one added
# last (they tie on next_tx), so a never-ending stream would starve eth0@0.
"$PGSTATE" run --no-progress "$state" >/tmp/m/run.out 2>&1 &
runner=$!
sending() { scrape && [ "$(value 'pgstate_device_running{device="eth2@0",thread="0"}')" = 1 ]; }
wait_until 20 sending || { cat /tmp/m/run.out /tmp/m/body; fail "eth2@0 never reported running"; }
cat /tmp/m/body
[ "$(value pgstate_devices_running)" -ge 1 ] || fail "pgstate_devices_running is not >= 1 while eth2@0 sends"
wait "$runner"
rc=$?
cat /tmp/m/run.out
assert_eq "$rc" 0 "pgstate run exit status"
scrape
cat /tmp/m/body
assert_eq "$(value pgstate_devices_running)" 0 "pgstate_devices_running after the run"
for dev in eth0@0 eth1@1 eth2@0; do
  thread=${dev#*@}
  k_pkts=$(kernel_field "$dev" pkts-sofar)
  k_errs=$(kernel_field "$dev" errors)
  [ -n "$k_pkts" ] || { cat "$PG/$dev"; fail "no pkts-sofar in $dev"; }
  labels="{device=\"$dev\",thread=\"$thread\"}"
  assert_eq "$(value "pgstate_device_packets_total$labels")" "$k_pkts" "$dev packets in /metrics"
  assert_eq "$(value "pgstate_device_errors_total$labels")" "$k_errs" "$dev errors in /metrics"
  assert_eq "$(value "pgstate_device_running$labels")" 0 "$dev running in /metrics"
done
# The run sent every packet it was asked for: the counters are not merely equal but right.
assert_eq "$(kernel_field eth0@0 pkts-sofar)" 1500 "eth0@0 pkts-sofar"
assert_eq "$(kernel_field eth1@1 pkts-sofar)" 2500 "eth1@1 pkts-sofar"
assert_eq "$(kernel_field eth2@0 pkts-sofar)" 20000 "eth2@0 pkts-sofar"

note "status --format prometheus"
expect_rc 0 "$PGSTATE" status --format prometheus
printf '%s\n' "$OUT" >/tmp/m/status
for dev in eth0@0 eth1@1 eth2@0; do
  labels="{device=\"$dev\",thread=\"${dev#*@}\"}"
  for metric in pgstate_device_packets_total pgstate_device_errors_total pgstate_device_running; do
    assert_eq "$(value "$metric$labels" /tmp/m/status)" "$(value "$metric$labels")" \
      "$metric$labels: status against /metrics"
  done
done
assert_eq "$(value pgstate_devices /tmp/m/status)" 3 "pgstate_devices in status"
assert_eq "$(value pgstate_pktgen_up /tmp/m/status)" 1 "pgstate_pktgen_up in status"
assert_no_match "$OUT" '^pgstate_watch_' "status prints no watch counters"

note "another path is 404"
wget -q -O /dev/null "http://$addr/other" 2>/dev/null && fail "/other answered"

kill -TERM "$watcher"
wait "$watcher"
rc=$?
assert_eq "$rc" 0 "watch exit status after SIGTERM"

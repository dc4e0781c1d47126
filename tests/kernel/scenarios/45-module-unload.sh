# shellcheck shell=sh
# pktgen going away (issue 21): `rmmod pktgen` under plan, status, apply, run and watch, and
# the module loaded again. pktgen's exit stops each thread, which removes its devices and its
# file, then removes pgctrl and the directory (pg_cleanup, pg_net_exit): nothing of the
# configuration survives it.
KO=/lib/modules/pktgen.ko
loaded() { [ -e /proc/net/pktgen/pgctrl ]; }
reload() { loaded || insmod "$KO" || fail "insmod $KO"; }
trap reload EXIT

note "unloaded: the read-only commands say so and change nothing"
expect_rc 0 "$PGSTATE" apply "$STATES/simple.yaml"
rmmod pktgen || fail "rmmod pktgen"
loaded && fail "pktgen still loaded after rmmod"
expect_rc 2 "$PGSTATE" plan --detailed-exitcode "$STATES/simple.yaml"
assert_match "$OUT" 'pktgen is not loaded'
expect_rc 0 "$PGSTATE" status
assert_match "$OUT" 'pktgen is not loaded'
loaded && fail "a read-only command loaded pktgen"
reload

note "apply racing rmmod: an error that says pktgen went, and what is left (nothing)"
{
  echo "devices:"
  i=0
  while [ $i -lt 200 ]; do
    printf '  eth0@%d: {thread: %d, count: 5, pkt_size: 60, dst: 198.18.0.1}\n' $i $((i % 2))
    i=$((i + 1))
  done
} >/tmp/big.yaml
# rmmod lands among the writes: strace holds each write from the 50th on for 20 ms, so the
# apply is still writing a second later. (Not at a random time: a read of a device file
# that rmmod removes meanwhile oopsed Linux 6.1's pktgen in this lab, a NULL pointer
# dereference in pktgen_if_show that kills the reader; the race pgstate can meet is the
# kernel's, and this scenario does not provoke it.)
pg_reset || fail "reset"
/lab/strace -f -o /dev/null -e trace=write -e inject=write:delay_exit=20000:when=50+ \
  "$PGSTATE" apply /tmp/big.yaml >/tmp/race.txt 2>&1 &
applier=$!
wait_until 30 test -e /proc/net/pktgen/eth0@0 || fail "apply did not start writing"
sleep 1
rmmod pktgen || fail "rmmod during apply"
wait "$applier"
rc=$?
cat /tmp/race.txt
assert_eq "$rc" 1 "apply rc"
assert_match "$(cat /tmp/race.txt)" 'pktgen was unloaded during apply, after [1-9][0-9]* of 800 writes'
assert_match "$(cat /tmp/race.txt)" 'nothing of this apply or of the configuration before it is left'
assert_no_match "$(cat /tmp/race.txt)" 'panicked|the kernel refused this setting'
loaded && fail "pktgen is loaded after the race"
reload
[ -z "$(pg_devices)" ] || fail "devices after the module came back"
expect_rc 0 "$PGSTATE" apply /tmp/big.yaml
expect_rc 0 "$PGSTATE" plan --detailed-exitcode /tmp/big.yaml

note "run: rmmod while start runs ends the run with an error that says so, or is refused"
# Whether the kernel lets rmmod through while `start` blocks in pgctrl's write is its call
# (seen both ways on 6.12: EAGAIN, and an unload that took the running devices): either the
# run is told, or it goes on untouched.
pg_reset || fail "reset"
sed 's/count: 100000/count: 0/' "$STATES/simple.yaml" >/tmp/forever.yaml
"$PGSTATE" run --no-progress --duration 3s /tmp/forever.yaml >/tmp/run.txt 2>&1 &
runner=$!
wait_until 30 grep -q '^Running: eth0' /proc/net/pktgen/kpktgend_0 || { cat /tmp/run.txt; fail "not running"; }
if rmmod pktgen 2>/tmp/rmmod.err; then rmmod_rc=0; else rmmod_rc=$?; fi
cat /tmp/rmmod.err
wait "$runner"
rc=$?
cat /tmp/run.txt
if [ "$rmmod_rc" = 0 ]; then
  note "the kernel unloaded pktgen during the run"
  assert_eq "$rc" 1 "run rc"
  assert_match "$(cat /tmp/run.txt)" 'pktgen was unloaded during the run'
  loaded && fail "pktgen loaded after rmmod"
  reload
else
  note "the kernel refused rmmod during the run"
  assert_eq "$rc" 0 "run rc"
  assert_match "$(cat /tmp/run.txt)" 'Run ended: stopped after --duration'
  loaded || fail "pktgen unloaded during a run"
fi
assert_no_match "$(cat /tmp/run.txt)" 'panicked'

note "watch: says pktgen went, keeps running, and converges again when it is back"
pg_reset || fail "reset"
# A poll every 3 s, and rmmod just after one: no read of a device file races it (see above).
"$PGSTATE" watch --poll-interval 3s "$STATES/simple.yaml" >/tmp/watch.log 2>&1 &
watcher=$!
converged() { "$PGSTATE" -q plan --detailed-exitcode "$STATES/simple.yaml" >/dev/null 2>&1; }
wait_until 30 converged || { cat /tmp/watch.log; fail "watch did not converge"; }
sleep 1
rmmod pktgen || fail "rmmod under watch"
wait_until 30 grep -q 'the pktgen module is not loaded' /tmp/watch.log || { cat /tmp/watch.log; fail "watch did not say pktgen went"; }
kill -0 "$watcher" || { cat /tmp/watch.log; fail "watch ended when pktgen went"; }
reload
wait_until 30 converged || { cat /tmp/watch.log; fail "watch did not converge when pktgen came back"; }
kill -TERM "$watcher"
wait "$watcher"
cat /tmp/watch.log
assert_no_match "$(cat /tmp/watch.log)" 'panicked'

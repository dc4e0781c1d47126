# shellcheck shell=sh
# Helpers for kernel-lab scenarios (POSIX sh, runs under busybox sh in the guest).
#
# The guest sources this file before each scenario (and /init uses it too), so
# scenarios can call these functions directly. Each scenario runs in its own
# `sh` process: `fail` (exit 1) ends only that scenario. Scenarios are NOT run
# with `set -e`: use the assert_*/expect_rc helpers or `|| fail ...`.
# Note: `fail` inside $(...) only leaves the command substitution.
#
# Guest environment:
#   PG=/proc/net/pktgen      pktgen procfs directory
#   PGSTATE=pgstate          the binary under test (/usr/bin/pgstate)
#   STATES=/states           the repo's states/ directory
#   Interfaces: d0..d3 dummy up (MAC 02:00:00:00:00:0N), va/vb veth pair up
#   (02:00:00:00:01:0a / :0b), dn dummy down (02:00:00:00:00:ff), lo up,
#   eth0..eth2 dummy up (02:00:00:00:00:1N) for the examples in states/.
#   pktgen state is reset before each scenario (no device files).

PG=/proc/net/pktgen
PGSTATE=${PGSTATE:-pgstate}
STATES=/states
export PG PGSTATE STATES

# Debian's busybox-static runs its own applets before searching PATH, and the
# busybox `ip` applet cannot create veth pairs: use iproute2's ip (copied to
# /sbin/ip by lab.sh) whenever it is there. `busybox ip` still reaches the applet.
if [ -x /sbin/ip ]; then
  ip() { /sbin/ip "$@"; }
fi

# Output of the last expect_rc / pg_write (stdout+stderr) and its status.
OUT=""
RC=0

# fail MSG...: print and end the scenario with status 1.
fail() {
  echo "FAIL: $*"
  exit 1
}

# note MSG...: progress line in the log.
note() {
  echo "-- $*"
}

# _pg_path FILE: FILE if absolute, else $PG/FILE.
_pg_path() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PG" "$1" ;;
  esac
}

# assert_eq ACTUAL EXPECTED [MSG]
assert_eq() {
  [ "$1" = "$2" ] || fail "${3:-assert_eq}: expected '$2', got '$1'"
}

# assert_ne ACTUAL UNEXPECTED [MSG]
assert_ne() {
  [ "$1" != "$2" ] || fail "${3:-assert_ne}: did not expect '$2'"
}

# assert_match TEXT REGEX [MSG]: TEXT (multi-line ok) has a line matching ERE.
assert_match() {
  printf '%s\n' "$1" | grep -qE -- "$2" && return 0
  echo "---- text ----"
  printf '%s\n' "$1"
  echo "--------------"
  fail "${3:-assert_match}: no line matches /$2/"
}

# assert_no_match TEXT REGEX [MSG]
assert_no_match() {
  printf '%s\n' "$1" | grep -qE -- "$2" || return 0
  echo "---- text ----"
  printf '%s\n' "$1"
  echo "--------------"
  fail "${3:-assert_no_match}: a line matches /$2/"
}

# assert_exists FILE / assert_missing FILE (relative names are under $PG)
assert_exists() {
  [ -e "$(_pg_path "$1")" ] || { pg_ls; fail "${2:-assert_exists}: $(_pg_path "$1") does not exist"; }
}
assert_missing() {
  [ ! -e "$(_pg_path "$1")" ] || { pg_ls; fail "${2:-assert_missing}: $(_pg_path "$1") exists"; }
}

# assert_file_contains FILE REGEX [MSG]: some line of FILE matches ERE.
assert_file_contains() {
  _f=$(_pg_path "$1")
  [ -r "$_f" ] || fail "${3:-assert_file_contains}: cannot read $_f"
  grep -qE -- "$2" "$_f" && return 0
  echo "---- $_f ----"
  cat "$_f"
  echo "--------------"
  fail "${3:-assert_file_contains}: $_f has no line matching /$2/"
}

# assert_file_lacks FILE REGEX [MSG]: no line of FILE matches ERE.
assert_file_lacks() {
  _f=$(_pg_path "$1")
  [ -r "$_f" ] || fail "${3:-assert_file_lacks}: cannot read $_f"
  grep -qE -- "$2" "$_f" || return 0
  echo "---- $_f ----"
  cat "$_f"
  echo "--------------"
  fail "${3:-assert_file_lacks}: $_f has a line matching /$2/"
}

# expect_rc CODE CMD [ARGS...]: run CMD, print "$ CMD", its output and rc;
# fail unless it exits with CODE. Output is kept in $OUT, status in $RC.
expect_rc() {
  _want=$1
  shift
  echo "\$ $*"
  OUT=$("$@" 2>&1)
  RC=$?
  [ -n "$OUT" ] && printf '%s\n' "$OUT"
  echo "[rc=$RC]"
  [ "$RC" -eq "$_want" ] || fail "expected rc=$_want, got rc=$RC: $*"
}

# pg_write FILE CMD: one write(2) of "CMD\n" to $PG/FILE (or absolute FILE).
# Prints the command, the error (errno text) on failure and the file's
# Result: line; returns the write status. $OUT holds the error text.
pg_write() {
  _f=$(_pg_path "$1")
  # busybox's echo builtin sends the whole line in one write(2) and, unlike
  # its printf, reports a failed write ("sh: write error: <errno text>")
  OUT=$( { echo "$2" >"$_f"; } 2>&1)
  RC=$?
  if [ "$RC" -eq 0 ]; then
    echo "pg_write ${_f#"$PG"/} <$2> ok"
  else
    # busybox prints e.g. "sh: write error: Invalid argument"
    echo "pg_write ${_f#"$PG"/} <$2> FAILED rc=$RC err=<${OUT##*: }>"
  fi
  if [ -r "$_f" ]; then
    _r=$(grep '^Result:' "$_f" 2>/dev/null | tail -n 1)
    [ -n "$_r" ] && echo "   $_r"
  fi
  return "$RC"
}

# pg_set FILE CMD: pg_write that fails the scenario on a write error.
pg_set() {
  pg_write "$1" "$2" || fail "write <$2> to $1 failed: ${OUT##*: }"
}

# pg_result FILE: print the Result: line of FILE.
pg_result() {
  grep '^Result:' "$(_pg_path "$1")" | tail -n 1
}

# kernel_at_least MAJOR MINOR: the running kernel is MAJOR.MINOR or later.
kernel_at_least() {
  _kv=$(uname -r)
  _kmaj=${_kv%%.*}
  _kmin=${_kv#*.}
  _kmin=${_kmin%%[!0-9]*}
  [ "$_kmaj" -gt "$1" ] || { [ "$_kmaj" -eq "$1" ] && [ "$_kmin" -ge "$2" ]; }
}

# sender_receiver_pair: the receivers' lab (scenarios 97, 98): namespaces `s` and `r` joined
# by the veth pair s-eth0 (02:00:00:00:09:01) / r-eth0 (…:09:02), both deleted on exit.
sender_receiver_pair() {
  trap '/sbin/ip netns del s 2>/dev/null; /sbin/ip netns del r 2>/dev/null' EXIT
  /sbin/ip netns add s || fail "ip netns add s"
  /sbin/ip netns add r || fail "ip netns add r"
  /sbin/ip link add s-eth0 address 02:00:00:00:09:01 netns s type veth \
    peer name r-eth0 address 02:00:00:00:09:02 netns r || fail "veth s-r"
}

# example_supported FILE: 0 when the running kernel has every parameter the example in
# states/ needs (imix.yaml: imix_weights, Linux 5.15+).
example_supported() {
  case ${1##*/} in
    imix.yaml) kernel_at_least 5 15 ;;
    *) return 0 ;;
  esac
}

# single_namespace_example FILE: 0 unless the example in states/ has a top-level
# `namespaces:` (netns-lab.yaml): such an example configures other network namespaces, which
# 96-netns-state creates, applies it in and round-trips; the single-box loops skip it.
single_namespace_example() {
  ! grep -q '^namespaces:' "$1"
}

# pg_devices: names of pktgen device files (everything but pgctrl/kpktgend_*).
pg_devices() {
  for _f in "$PG"/*; do
    [ -e "$_f" ] || continue
    case ${_f##*/} in
      pgctrl | kpktgend_*) ;;
      *) printf '%s\n' "${_f##*/}" ;;
    esac
  done
}

# pg_ls: list $PG.
pg_ls() {
  echo "---- ls $PG ----"
  ls -l "$PG"
}

# pg_dump: cat every pktgen file (debugging).
pg_dump() {
  for _f in "$PG"/*; do
    [ -e "$_f" ] || continue
    echo "==== ${_f##*/} ===="
    cat "$_f"
  done
  echo "==== end ===="
}

# wait_until SECONDS CMD...: poll CMD every 0.1s until it succeeds.
wait_until() {
  _n=$(($1 * 10))
  shift
  while [ "$_n" -gt 0 ]; do
    "$@" && return 0
    sleep 0.1
    _n=$((_n - 1))
  done
  "$@"
}

_pg_no_devices() {
  [ -z "$(pg_devices)" ]
}

# pg_wait_empty [SECONDS]: wait until no device files remain.
pg_wait_empty() {
  wait_until "${1:-10}" _pg_no_devices
}

# pg_reset: stop pktgen, `reset`, and wait until no device files remain.
pg_reset() {
  echo stop >"$PG/pgctrl" 2>/dev/null
  echo reset >"$PG/pgctrl" || return 1
  pg_wait_empty 10
}

# pg_settle_threads: leaves no thread with a removal pending, so that a device added next
# (by a sample script, say) stays. A `reset` (pg_reset's, before every scenario, even on an
# empty box) only flags the threads, and an idle thread acts on the flag when it next wakes,
# also removing a device added in between (REFERENCE §2.2). So each thread gets a device
# (on d3) and a rem_device_all, and once those devices are gone every flag has been used.
pg_settle_threads() {
  for _t in "$PG"/kpktgend_*; do
    _n=${_t##*kpktgend_}
    pg_write "kpktgend_$_n" "add_device d3@settle$_n" >/dev/null || return 1
    pg_write "kpktgend_$_n" "rem_device_all" >/dev/null || return 1
  done
  wait_until 10 _pg_no_devices
}

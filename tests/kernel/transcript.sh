#!/bin/sh
# shellcheck shell=sh
# Re-records a pktgen procfs transcript on the running kernel, in the format of the
# reference transcripts ../shared/pktgen/transcripts/linux-*.txt that tests/sim_transcripts.rs
# replays through the simulator, performing the same cases, writes (refused ones included),
# dumps and listings as a reference transcript, the PLAN (lab.sh copies the shared
# linux-6.12.txt to /lab/transcript-plan.txt). Runs in the kernel-lab guest (busybox sh).
#
# Usage: unshare -n sh transcript.sh PLAN >OUT
# Run it in a fresh network namespace (a fresh pktgen): the `initial` case expects untouched
# thread files (`Result: NA`), and lo stays down there as in the reference guest (case
# add_errors: `add_device lo` -> "Network is down"). It creates its own interfaces: d0..d3
# dummy up (02:00:00:00:00:0N), va/vb veth pair up (02:00:00:00:01:0a/0b), dn dummy down.
# Exit status: 0 when the whole plan was performed (refused writes are data, not failures);
# 2 for a bad plan or a failed out-of-band step (interface setup, rename, ...).
#
# How each PLAN line is performed (the reference's own output is never copied):
#   @@ kernel R          -> "@@ kernel $(uname -r)"
#   @@@ case NAME        -> printed as is; the case's out-of-band steps run as listed below
#   @@ write F <C> ...   -> one `echo C > F` (busybox echo: one write(2), continued after a
#                           short write like bash's); prints the live rc and errno text
#   @@ result / @@ flags following a write
#                        -> the live file's `Result:` line and the line after it (grep -A1) /
#                           its `Flags:` line, read once right after the write
#   @@ dump F ... @@ end -> the live file between the same markers (reference body skipped)
#   @@ ls N (a group)    -> one `ls` of the pktgen directory, one `@@ ls` line per name
#   other lines          -> in case netns the thread file the reference printed without
#                           markers: "@@ dump kpktgend_0"; elsewhere (stderr noise) skipped
# Out-of-band steps, where tests/sim_transcripts.rs infers them:
#   running       before its first dump: `echo start > pgctrl &` in the background (count 0
#                 keeps d0 sending), then wait until every stream was started again and only
#                 the count-0 ones still run (d1, count 20000, finished again); after the
#                 `stop` write: wait for that start
#   iface_gone    before its first ls: `ip link del d3`
#   iface_rename  before its first ls: d2 renamed to d2x (down, rename, up)
#   netns         the whole case in another fresh network namespace (a holder process made
#                 by `unshare -n`, every step through `nsenter -n`)
#   any case      after a successful `rem_device_all` on a thread: wait until the device
#                 files it listed are gone, as the replay does (the kernel's 125 ms sleep
#                 usually suffices, but not on a busy TCG host)

PLAN=${1:?usage: transcript.sh PLAN}
PG=/proc/net/pktgen
ERRF=/tmp/transcript.err.$$

if [ -x /sbin/ip ]; then
  ip() { /sbin/ip "$@"; }
fi

die() {
  echo "transcript.sh: $*" >&2
  exit 2
}

[ -r "$PLAN" ] || die "cannot read plan $PLAN"
[ -e "$PG/pgctrl" ] || die "$PG/pgctrl missing"

setup_netdevs() {
  for n in 0 1 2 3; do
    ip link add "d$n" address "02:00:00:00:00:0$n" type dummy || return 1
    ip link set "d$n" up || return 1
  done
  ip link add va address 02:00:00:00:01:0a type veth peer name vb address 02:00:00:00:01:0b ||
    return 1
  ip link set va up || return 1
  ip link set vb up || return 1
  ip link add dn address 02:00:00:00:00:ff type dummy || return 1
}
setup_netdevs || die "interface setup failed"

# NS: command prefix running a step in the netns case's namespace (empty: this namespace).
NS=""
NS_PID=""
# the background `start` of case running
BG_PID=""

# step CMD...: run CMD here, or in the netns case's namespace.
step() {
  # shellcheck disable=SC2086  # NS is a word list
  $NS "$@"
}

# thread_devices FILE: sets _gone to the device names the thread file lists (Running: and
# Stopped:).
thread_devices() {
  {
    IFS= read -r _l1
    IFS= read -r _l2
  } <"$PG/$1"
  _gone="${_l1#Running:} ${_l2#Stopped:}"
}

# shellcheck disable=SC2317  # called through wait_until
# files_gone NAME...: no pktgen file of these names exists.
files_gone() {
  for _n in "$@"; do
    [ ! -e "$PG/$_n" ] || return 1
  done
}

# do_write FILE CMD: one `echo CMD > FILE`; prints the @@ write line.
do_write() {
  _f=$PG/$1
  _gone=""
  case $1:$2 in
    kpktgend_*:rem_device_all) [ -n "$NS" ] || thread_devices "$1" ;;
  esac
  if [ -z "$NS" ]; then
    # 2> first, so that a failed open of FILE is reported too
    echo "$2" 2>"$ERRF" >"$_f"
  else
    # shellcheck disable=SC2016  # $1/$2 expand in the inner sh
    step sh -c 'echo "$1" >"$2"' sh "$2" "$_f" 2>"$ERRF"
  fi
  _rc=$?
  _err=""
  if [ "$_rc" -ne 0 ]; then
    # busybox prints e.g. "sh: write error: Invalid argument"
    while IFS= read -r _l; do _err=${_l##*: }; done <"$ERRF"
  fi
  echo "@@ write $1 <$2> rc=$_rc err=<$_err>"
  if [ "$_rc" -eq 0 ] && [ -n "$_gone" ]; then
    # shellcheck disable=SC2086  # a list of names
    wait_until 10 files_gone $_gone || echo "transcript.sh: $1: $_gone still listed" >&2
  fi
}

# The write whose Result/Flags lines the plan asks for next.
W_FILE=""
W_RESULT=0
W_FLAGS=0

# flush_write: print the Result/Flags lines of the last write (read once, after the write).
flush_write() {
  [ -n "$W_FILE" ] || return 0
  if [ "$W_RESULT" = 1 ] || [ "$W_FLAGS" = 1 ]; then
    # one read of the file, with shell builtins (no fork: this runs after most writes)
    _src=$PG/$W_FILE
    if [ -n "$NS" ]; then
      step cat "$_src" >"$ERRF.snap"
      _src=$ERRF.snap
    fi
    _res=""
    _after=0
    _flags=""
    _hf=0
    while IFS= read -r _l; do
      if [ "$_after" = 1 ]; then
        _res="$_res
@@ result $_l"
        break
      fi
      case $_l in
        "     Flags:"*) [ "$_hf" = 1 ] || { _flags=$_l; _hf=1; } ;;
        "Result: "*)
          _res="@@ result $_l"
          _after=1
          ;;
      esac
    done <"$_src"
    if [ "$W_RESULT" = 1 ]; then echo "${_res:-@@ result}"; fi
    if [ "$W_FLAGS" = 1 ]; then echo "@@ flags $_flags"; fi
  fi
  W_FILE=""
  W_RESULT=0
  W_FLAGS=0
}

do_dump() {
  echo "@@ dump $1"
  step cat "$PG/$1"
  echo "@@ end"
}

do_ls() {
  step ls -1 "$PG" | while IFS= read -r _n; do echo "@@ ls $_n"; done
}

# streams MODE [SNAPSHOT]: MODE snapshot prints "NAME STARTED;..." (the `started:` of each
# stream's last run); MODE settled succeeds when every stream was started again since
# SNAPSHOT and the count-0 ones run while the others finished (a thread may take a while to
# act on `start`, so "only count-0 streams run" alone is not enough); MODE stopped succeeds
# when no stream runs and none still says `Result: Starting` (the results are written).
streams() {
  # shellcheck disable=SC2016  # awk program
  step sh -c 'awk -v mode="$1" -v snap="$2" "$3" "$4"/*' sh "$1" "${2:-}" '
    FNR == 1 { f = FILENAME; sub(".*/", "", f) }
    f ~ /^kpktgend_/ && /^Running:/ { for (i = 2; i <= NF; i++) { run[$i] = 1; nrun++ } }
    f ~ /^kpktgend_/ || f == "pgctrl" { next }
    FNR == 1 && /^Params: count / { count[f] = $3; names[f] = 1 }
    /^     started: / { started[f] = $2 }
    /^Result: Starting/ { starting = 1 }
    END {
      if (mode == "stopped") exit (nrun || starting) ? 1 : 0
      if (mode == "snapshot") {
        for (f in names) printf "%s %s;", f, started[f]
        exit 0
      }
      n = split(snap, a, ";")
      for (i = 1; i <= n; i++) if (split(a[i], b, " ") == 2) old[b[1]] = b[2]
      for (f in names) {
        if (!(f in old) || started[f] == old[f]) exit 1
        if ((count[f] == 0) != (f in run)) exit 1
      }
      exit 0
    }' "$PG"
}

wait_until() {
  _i=$(($1 * 20))
  shift
  while [ "$_i" -gt 0 ]; do
    "$@" && return 0
    sleep 0.05
    _i=$((_i - 1))
  done
  "$@"
}

# shellcheck disable=SC2317  # called through wait_until
ns_differs() {
  [ "$(readlink "/proc/$NS_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ]
}

# case_begin NAME / case_end: steps at the start and end of a case.
case_begin() {
  CASE=$1
  FIRST_DUMP=1
  FIRST_LS=1
  if [ "$CASE" = netns ]; then
    unshare -n sleep 3600 &
    NS_PID=$!
    wait_until 10 ns_differs || die "netns: no new network namespace"
    NS="nsenter -t $NS_PID -n"
  fi
}

case_end() {
  if [ -n "$BG_PID" ]; then
    echo "transcript.sh: case $CASE: the background start was not stopped" >&2
    echo stop >"$PG/pgctrl"
    wait "$BG_PID"
    BG_PID=""
  fi
  if [ -n "$NS_PID" ]; then
    kill "$NS_PID"
    wait "$NS_PID" 2>/dev/null
    NS=""
    NS_PID=""
  fi
  CASE=""
}

before_dump() {
  [ "$FIRST_DUMP" = 1 ] || return 0
  FIRST_DUMP=0
  if [ "$CASE" = running ]; then
    _snap=$(streams snapshot)
    echo start >"$PG/pgctrl" &
    BG_PID=$!
    wait_until 30 streams settled "$_snap" ||
      die "running: the streams did not all start, with only the count-0 ones still running"
  fi
}

before_ls() {
  [ "$FIRST_LS" = 1 ] || return 0
  FIRST_LS=0
  case $CASE in
    iface_gone) ip link del d3 || die "iface_gone: ip link del d3 failed" ;;
    iface_rename)
      { ip link set d2 down && ip link set d2 name d2x && ip link set d2x up; } ||
        die "iface_rename: renaming d2 failed"
      ;;
  esac
}

after_write() {
  if [ "$CASE" = running ] && [ "$1" = pgctrl ] && [ "$2" = stop ] && [ -n "$BG_PID" ]; then
    wait "$BG_PID"
    BG_PID=""
    wait_until 10 streams stopped || die "running: streams still running after stop"
  fi
}

echo "# Transcript of the pktgen procfs on a real Linux $(uname -r) kernel (kernel lab, qemu, $(grep -c '^processor' /proc/cpuinfo) vCPUs),"
echo "# re-recorded live by tests/kernel/transcript.sh with the cases and writes of the reference transcript of $(sed -n 's/^@@ kernel //p' "$PLAN")."
echo "# '@@ write FILE <CMD> rc=R err=<E>': one write(2) of CMD; R is the shell's status, E the errno text."
echo "# '@@ result': the file's Result line right after that write. '@@ dump FILE' ... '@@ end': the file's whole content."
echo "# '@@@ case NAME' starts a case. Interfaces: d0-d3 dummy (up), va/vb veth pair (up), dn dummy (down), lo down (fresh netns)."

CASE=""
IN_DUMP=0
IN_LS=0
IN_STRAY=0
while IFS= read -r line <&3; do
  if [ "$IN_DUMP" = 1 ]; then
    [ "$line" = "@@ end" ] && IN_DUMP=0
    continue
  fi
  case $line in
    "@@ result"*)
      [ -n "$W_FILE" ] || die "plan: result line without a write: $line"
      W_RESULT=1
      continue
      ;;
    "@@ flags "*)
      [ -n "$W_FILE" ] || die "plan: flags line without a write: $line"
      W_FLAGS=1
      continue
      ;;
  esac
  flush_write
  case $line in
    "@@ ls "*) ;;
    *) IN_LS=0 ;;
  esac
  case $line in
    "@@ "* | "@@@ "* | "#"*) IN_STRAY=0 ;;
  esac
  case $line in
    "#"*) ;;
    "@@ kernel "*) echo "@@ kernel $(uname -r)" ;;
    "@@@ case "*)
      [ -z "$CASE" ] || case_end
      echo "$line"
      case_begin "${line#@@@ case }"
      ;;
    "@@ write "*)
      rest=${line#@@ write }
      file=${rest%% <*}
      cmd=${rest#* <}
      cmd=${cmd%> rc=*}
      if [ -z "$file" ] || [ "$file" = "$rest" ]; then die "plan: bad write line: $line"; fi
      do_write "$file" "$cmd"
      after_write "$file" "$cmd"
      W_FILE=$file
      ;;
    "@@ dump "*)
      before_dump
      do_dump "${line#@@ dump }"
      IN_DUMP=1
      ;;
    "@@ ls "*)
      if [ "$IN_LS" = 0 ]; then
        IN_LS=1
        before_ls
        do_ls
      fi
      ;;
    "@@ end") die "plan: '@@ end' without '@@ dump'" ;;
    "@@"*) die "plan: unknown line: $line" ;;
    *)
      if [ "$CASE" = netns ] && [ "$IN_STRAY" = 0 ]; then
        IN_STRAY=1
        before_dump
        do_dump kpktgend_0
      fi
      ;;
  esac
done 3<"$PLAN"
flush_write
[ -z "$CASE" ] || case_end
rm -f "$ERRF" "$ERRF.snap"
exit 0

#!/bin/bash
# The checks of `lab.sh system`, run as root in the Debian guest (systemd is PID 1, the
# payload disk is mounted read-only on /lab; see tests/kernel/lab-system.sh). Each check
# prints "@@CHECK NAME PASS" or "@@CHECK NAME FAIL why", a failure followed by its output
# as "    | " lines. The phases depend on each other (install, service, Ansible), so a
# failed check does not stop the ones after it, but they may fail with it.
# shellcheck disable=SC2317  # the checks are functions called through check()
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
P=/proc/net/pktgen
STATE=/etc/pgstate/lab.yaml
LOG=/tmp/check.out

# check NAME COMMAND...: runs COMMAND (a function) with its output in $LOG.
check() {
  local name=$1 rc=0
  shift
  "$@" >"$LOG" 2>&1 || rc=$?
  if [[ $rc -eq 0 ]]; then
    echo "@@CHECK $name PASS"
  else
    echo "@@CHECK $name FAIL rc=$rc"
    sed 's/^/    | /' "$LOG" | tail -n 60
  fi
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.5 s.
wait_until() {
  local limit=$1 end
  shift
  end=$((SECONDS + limit))
  while ! "$@" >/dev/null 2>&1; do
    if [[ $SECONDS -ge $end ]]; then
      echo "not true after ${limit}s: $*"
      return 1
    fi
    sleep 0.5
  done
}

# has_count DEVICE N: pktgen's own file shows count N ("Params: count N  min_pkt_size: ...").
has_count() { grep -qE "^Params: count $2 " "$P/$1"; }
show() { local f; for f in "$P"/*; do echo "== $f"; cat "$f"; done; }
journal() { journalctl -u pgstate-watch -b --no-pager -o cat; }
# journal_since N: the unit's journal lines after the first N
journal_since() { journal | tail -n +$(($1 + 1)); }
lines() { journal | wc -l; }

write_state() { # write_state COUNT0: the watch's state, saved the way editors save (rename)
  cat >"$STATE.tmp" <<EOF
# lab state for pgstate-watch
devices:
  d0:
    thread: 0
    count: $1
    pkt_size: 60
    dst: 198.18.0.1
    dst_mac: "02:00:00:00:00:01"
    flags: [NO_TIMESTAMP]
  d1:
    thread: 1
    count: 2000
    dst: 198.18.0.2
EOF
  mv "$STATE.tmp" "$STATE"
}

# ------------------------------------------------------------ the package --
install_deb() {
  dpkg -i /lab/pgstate.deb &&
    [[ $(dpkg-query -W -f '${Status}' pgstate) == "install ok installed" ]]
}
installed_files() {
  /usr/bin/pgstate --version &&
    [[ -f /lib/systemd/system/pgstate-watch.service && -f /etc/pgstate/README ]] &&
    [[ -f /usr/share/doc/pgstate/copyright && -f /usr/share/doc/pgstate/examples/simple.yaml ]] &&
    systemctl cat pgstate-watch.service | grep -qx 'ExecStart=/usr/bin/pgstate watch /etc/pgstate' &&
    dpkg-query -W -f '${Conffiles}\n' pgstate | grep -q /etc/pgstate/README
}
unit_verifies() {
  # systemd's own reading of the unit: unknown or misspelt settings, bad paths
  local out
  out=$(systemd-analyze verify pgstate-watch.service 2>&1) || { echo "$out"; return 1; }
  ! grep -i pgstate-watch <<<"$out"
}
not_started_on_install() {
  local e a
  e=$(systemctl is-enabled pgstate-watch) || true
  a=$(systemctl is-active pgstate-watch) || true
  echo "is-enabled: $e, is-active: $a"
  [[ $e == disabled && $a == inactive ]]
}
ifaces_at_boot() {
  systemctl is-active pgstate-lab-ifaces.service &&
    ip -br link show d0 | grep -q UP && ip -br link show d1 | grep -q UP
}

# ------------------------------------------------------------ the service --
enable_now() {
  write_state 1000
  ! lsmod | grep -q '^pktgen ' || { echo "pktgen already loaded"; return 1; }
  systemctl enable --now pgstate-watch &&
    [[ $(systemctl is-enabled pgstate-watch) == enabled ]] || return 1
  # Type=notify: `systemctl start` returns only after READY=1, that is after the first
  # reconcile, so the state is converged right here, without polling, and STATUS= says so.
  systemctl show -p Type,NotifyAccess,WatchdogUSec,ActiveState,SubState,StatusText pgstate-watch
  [[ $(systemctl show -p Type --value pgstate-watch) == notify ]] &&
    [[ $(systemctl show -p NotifyAccess --value pgstate-watch) == main ]] &&
    [[ $(systemctl show -p ActiveState --value pgstate-watch) == active ]] &&
    [[ $(systemctl show -p SubState --value pgstate-watch) == running ]] &&
    has_count d0 1000 && has_count d1 2000 &&
    systemctl show -p StatusText --value pgstate-watch | grep -E '^(applied \([0-9]+ writes?\), )?converged: 2 devices$'
}
converged() {
  # the service loaded pktgen itself (modprobe inside its sandbox) and wrote the state
  # shellcheck disable=SC2015  # A && B || C on purpose: C reports and fails when any test before it fails
  wait_until 60 has_count d0 1000 && has_count d1 2000 &&
    grep -q 'd0' "$P/kpktgend_0" && grep -q 'd1' "$P/kpktgend_1" &&
    pgstate plan --detailed-exitcode /etc/pgstate &&
    [[ $(systemctl is-active pgstate-watch) == active ]] &&
    journal | grep -E 'applied' || { show; journal; return 1; }
}
edit_converged() {
  local n
  n=$(lines)
  write_state 3000
  wait_until 30 has_count d0 3000 || { show; journal; return 1; }
  # the journal says what the edit changed
  wait_until 10 bash -c "journalctl -u pgstate-watch -b --no-pager -o cat | tail -n +$((n + 1)) | grep -E 'applied.*3000'" ||
    { journal_since "$n"; return 1; }
  journal_since "$n"
}
invalid_edit_kept_out() {
  local n
  n=$(lines)
  sed -i 's/count: 3000/count: -1/' "$STATE"
  # logged with file:line:col; the box keeps the last good state; the service runs on
  wait_until 30 bash -c "journalctl -u pgstate-watch -b --no-pager -o cat | tail -n +$((n + 1)) | grep -F '$STATE:5:12'" ||
    { journal_since "$n"; return 1; }
  # shellcheck disable=SC2015  # A && B || C on purpose: C reports and fails when any test before it fails
  has_count d0 3000 && [[ $(systemctl is-active pgstate-watch) == active ]] || { show; return 1; }
  write_state 3000
}
drift_repaired() {
  local n
  n=$(lines)
  echo "count 7" >"$P/d0"
  has_count d0 7 || { echo "the drift write did not take"; return 1; }
  # repaired at the next poll (--poll-interval, default 5s)
  wait_until 30 has_count d0 3000 || { show; journal_since "$n"; return 1; }
  journal_since "$n"
}
reload_rereads() {
  local pid n status
  pid=$(systemctl show -p MainPID --value pgstate-watch)
  n=$(lines)
  systemctl reload pgstate-watch || return 1
  wait_until 20 bash -c "journalctl -u pgstate-watch -b --no-pager -o cat | tail -n +$((n + 1)) | grep -E 'SIGHUP'" ||
    { journal_since "$n"; return 1; }
  journal_since "$n"
  # the same process (a reload is not a restart), still converged
  [[ $(systemctl show -p MainPID --value pgstate-watch) == "$pid" ]] &&
    [[ $(systemctl is-active pgstate-watch) == active ]] && has_count d0 3000 || return 1
  # Type=notify: RELOADING=1 then READY=1; `systemctl reload` (ExecReload= plus the
  # notifications) ends with the unit active again and a status line for the re-read state
  status=$(systemctl show -p StatusText --value pgstate-watch)
  echo "StatusText: $status"
  [[ $status == *"converged: 2 devices"* ]]
}
no_restarts() {
  # NRestarts stays 0 (Restart=on-failure): no crash, and the watchdog (WatchdogSec=60s)
  # never fired, through edits, drift and a reload
  systemctl show -p NRestarts,ActiveState,SubState,Type,StatusText,WatchdogTimestamp pgstate-watch
  [[ $(systemctl show -p NRestarts --value pgstate-watch) == 0 ]] &&
    [[ $(systemctl show -p ActiveState --value pgstate-watch) == active ]] &&
    [[ $(systemctl show -p Type --value pgstate-watch) == notify ]] &&
    [[ -n $(systemctl show -p StatusText --value pgstate-watch) ]] &&
    ! journal | grep -qi 'watchdog timeout'
}
stop_clean() {
  local n
  n=$(lines)
  systemctl stop pgstate-watch || return 1
  systemctl show -p ActiveState,Result,ExecMainCode,ExecMainStatus pgstate-watch
  journal_since "$n"
  [[ $(systemctl is-active pgstate-watch) == inactive ]] &&
    ! systemctl is-failed --quiet pgstate-watch &&
    [[ $(systemctl show -p Result --value pgstate-watch) == success ]] &&
    journal_since "$n" | grep -q 'watch stops' &&
    has_count d0 3000 # stopping leaves the box as it is
}

# ------------------------------------------------------------ Ansible --
PLAYBOOK=/lab/system-ansible.yml
# play VARS... [--check --diff]: runs the playbook (default callback, -v: each task's
# result as JSON) into /tmp/play.out
play() {
  local extra=() a
  for a in "$@"; do
    case $a in --*) extra+=("$a") ;; *) extra+=(-e "$a") ;; esac
  done
  ANSIBLE_LIBRARY=/lab/ansible/library ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
    ANSIBLE_LOCAL_TEMP=/tmp/ansible-local ANSIBLE_REMOTE_TEMP=/tmp/ansible-remote \
    ansible-playbook -v -c local -i localhost, -e ansible_python_interpreter=/usr/bin/python3 \
    "${extra[@]}" "$PLAYBOOK" >/tmp/play.out 2>&1
  echo "ansible-playbook $* -> rc=$?"
}
# recap KEY: the recap's count for localhost (ok, changed, failed)
recap() { sed -n "s/^localhost *:.* $1=\([0-9]*\).*/\1/p" /tmp/play.out; }
# writes: the pgstate task's "writes" (from its -v result)
writes() { grep -oE '"writes": [0-9]+' /tmp/play.out | tail -n1 | grep -oE '[0-9]+$'; }
play_dump() { tail -n 80 /tmp/play.out; }

ansible_first_run_changed() {
  rm -f "$STATE"
  play variant=a
  [[ $(recap changed) == 1 && $(recap failed) == 0 ]] || { play_dump; return 1; }
  # shellcheck disable=SC2015  # A && B || C on purpose: C reports and fails when any test before it fails
  has_count d2 1000 && grep -q d2 "$P/kpktgend_0" && grep -q d3 "$P/kpktgend_1" &&
    ! [[ -e $P/d0 ]] && [[ -f /etc/pgstate/pgstate.yaml ]] || { show; return 1; }
  echo "writes: $(writes)"
  [[ $(writes) -gt 0 ]]
}
ansible_second_run_ok() {
  play variant=a
  [[ $(recap changed) == 0 && $(recap failed) == 0 && $(recap ok) -ge 1 ]] || { play_dump; return 1; }
  [[ $(writes) == 0 ]] || { play_dump; return 1; }
}
ansible_check_mode() {
  local before after fbefore
  before=$(show)
  fbefore=$(sha256sum /etc/pgstate/pgstate.yaml)
  play variant=b --check --diff
  after=$(show)
  [[ $(recap changed) == 1 && $(recap failed) == 0 ]] || { play_dump; return 1; }
  # the diff shows the plan: d2's count 1000 -> 3000
  grep -qF 'count: 1000 -> 3000' /tmp/play.out || { play_dump; return 1; }
  # nothing written: pktgen's files and the state file as they were, no temporary file left
  [[ $before == "$after" ]] || { diff <(echo "$before") <(echo "$after"); return 1; }
  [[ $(sha256sum /etc/pgstate/pgstate.yaml) == "$fbefore" ]] &&
    [[ -z $(find /etc/pgstate -name '.pgstate-ansible-*') ]] && has_count d2 1000
}
ansible_bad_state_fails() {
  local before after msg fbefore
  before=$(show)
  fbefore=$(sha256sum /etc/pgstate/pgstate.yaml)
  play bad=true
  after=$(show)
  msg=$(grep -E '^fatal: ' /tmp/play.out)
  echo "$msg"
  [[ $(recap failed) == 1 ]] || { play_dump; return 1; }
  # pgstate's located message, naming the state file (line 5, column 12: the -1)
  grep -qE '"msg": "error: /etc/pgstate/pgstate\.yaml:5:12: [^"]*count' <<<"$msg" &&
    [[ $before == "$after" && $(sha256sum /etc/pgstate/pgstate.yaml) == "$fbefore" ]]
}
ansible_apply_changes() {
  play variant=b
  [[ $(recap changed) == 1 && $(recap failed) == 0 ]] || { play_dump; return 1; }
  # shellcheck disable=SC2015  # A && B || C on purpose: C reports and fails when any test before it fails
  has_count d2 3000 && [[ $(writes) == 1 ]] || { play_dump; show; return 1; }
}

# ------------------------------------------------------------ upgrade and purge --
reinstall_restarts() {
  local pid1 pid2
  systemctl start pgstate-watch || return 1
  # shellcheck disable=SC2016  # the $(...) runs in the inner bash, each time it is called
  wait_until 30 bash -c '[[ $(systemctl is-active pgstate-watch) == active ]]' || return 1
  pid1=$(systemctl show -p MainPID --value pgstate-watch)
  # the same version again is an upgrade for the maintainer scripts: postinst try-restarts
  dpkg -i /lab/pgstate.deb || return 1
  pid2=$(systemctl show -p MainPID --value pgstate-watch)
  echo "MainPID $pid1 -> $pid2, $(systemctl is-enabled pgstate-watch)"
  [[ $pid2 != 0 && $pid2 != "$pid1" ]] &&
    [[ $(systemctl is-active pgstate-watch) == active && $(systemctl is-enabled pgstate-watch) == enabled ]]
}
purge_clean() {
  dpkg --purge pgstate || return 1
  systemctl show -p ActiveState,LoadState pgstate-watch
  ls -la /etc/pgstate
  # stopped (prerm), binary, unit and conffile gone, the enable symlink purged, the
  # administrator's state file kept
  [[ $(systemctl is-active pgstate-watch) != active ]] && ! [[ -e /usr/bin/pgstate ]] &&
    ! [[ -e /lib/systemd/system/pgstate-watch.service ]] &&
    ! [[ -e /etc/systemd/system/multi-user.target.wants/pgstate-watch.service ]] &&
    ! [[ -e /etc/pgstate/README ]] && [[ -f /etc/pgstate/pgstate.yaml ]]
}

# ------------------------------------------ the wheel, and Mininet with it --
# After the purge: the only pgstate on the box is the wheel's, in a venv that sees Debian's
# Mininet (--system-site-packages), as a Mininet user's would.
VENV=/opt/pgstate-venv
wheel_install() {
  hash -r && ! command -v pgstate &&
    python3 -m venv --system-site-packages "$VENV" &&
    "$VENV/bin/pip" install --no-index --disable-pip-version-check /lab/pgstate-*.whl &&
    [[ $("$VENV/bin/pgstate" --version) == "pgstate "* ]] &&
    "$VENV/bin/python" -c 'import mininet.net'
}
# contrib/mininet/pgstate_lan.py checks what it shows itself (apply inside each host, the
# seed notes' claim from the hosts' shells, run with overlap and h3's receiver, watch
# repairing a count changed inside h1) and exits 1 naming what did not hold; its figures go
# to the lab's log as @@FIGURE lines.
mininet_lan() {
  local rc=0
  PATH=$VENV/bin:$PATH "$VENV/bin/python" /lab/mininet/pgstate_lan.py \
    --report /tmp/mininet.json || rc=$?
  return "$rc"
}

echo "kernel $(uname -r), $(systemctl --version | head -n1), $(ansible --version | head -n1)"
check deb-install install_deb
check deb-files installed_files
check unit-verify unit_verifies
check deb-not-started-on-install not_started_on_install
check ifaces-at-boot ifaces_at_boot
check watch-enable-now enable_now
check watch-converged converged
check watch-edit-converged edit_converged
check watch-invalid-edit-kept-out invalid_edit_kept_out
check watch-drift-repaired drift_repaired
check watch-reload reload_rereads
check watch-no-restarts no_restarts
check watch-stop-clean stop_clean
check ansible-first-run-changed ansible_first_run_changed
check ansible-second-run-ok ansible_second_run_ok
check ansible-check-mode-writes-nothing ansible_check_mode
check ansible-bad-state-located ansible_bad_state_fails
check ansible-apply-change ansible_apply_changes
check deb-reinstall-restarts-service reinstall_restarts
check deb-purge purge_clean
check wheel-install wheel_install
check mininet-lan mininet_lan
if [[ -f /tmp/mininet.json ]]; then sed 's/^/@@FIGURE mininet /' /tmp/mininet.json; fi
exit 0

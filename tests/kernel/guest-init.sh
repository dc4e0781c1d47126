#!/bin/sh
# /init of the pgstate kernel-lab initramfs (busybox sh). Installed by lab.sh.
#
# Sets up the guest, then either runs every /lab/scenarios/*.sh (LAB_MODE=test)
# or /lab/cmd.sh (LAB_MODE=cmd), printing the marker protocol parsed by lab.sh:
#   @@LAB BEGIN kernel=<release> cpus=<n>
#   @@SCENARIO <name> BEGIN
#   @@SCENARIO <name> PASS | @@SCENARIO <name> FAIL rc=<n> | @@SCENARIO <name> N/A (exit 77)
#   @@CMD BEGIN / @@CMD END rc=<n>
#   @@LAB ABORT <reason>          (setup failed; no @@LAB DONE follows)
#   @@LAB DONE
# and powers off.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C LC_ALL=C

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs -o mode=0755 dev /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
[ -e /dev/null ] || mknod -m 666 /dev/null c 1 3
# keep kernel messages off the console so markers stay on their own lines
echo 1 >/proc/sys/kernel/printk
# A veth hands each packet to its peer through the receiving CPU's backlog (netif_rx), which
# holds net.core.netdev_max_backlog (1000) packets. Under TCG on a loaded host the guest's
# softirqs fall behind pktgen's thread, the backlog overflows and pktgen counts the refused
# packets as transmit errors (seen in CI: 115 errors on one veth of scenario 96). The
# scenarios' runs (at most 100000 packets) fit in a backlog of this size.
echo 100000 >/proc/sys/net/core/netdev_max_backlog

# shellcheck source=/dev/null  # written by lab.sh: LAB_MODE, LAB_SCENARIO_TIMEOUT
. /lab/config

power_off() {
  sync
  poweroff -f
  # not reached; if poweroff fails, panic=-1 + qemu -no-reboot ends the VM
  exit 1
}

abort() {
  echo "@@LAB ABORT $*"
  dmesg | tail -n 40
  power_off
}

# ---- modules (order and parameters computed by lab.sh from modules.dep) ----
while read -r ko params; do
  [ -n "$ko" ] || continue
  # shellcheck disable=SC2086  # params is a word list
  insmod "/lib/modules/$ko" $params || abort "insmod $ko $params failed"
done </lib/modules/modules.load

[ -e /proc/net/pktgen/pgctrl ] || abort "/proc/net/pktgen/pgctrl missing after loading modules"

# helpers (pg_reset, pg_dump, ...) and the iproute2 `ip` wrapper
# shellcheck source=guest-lib.sh
. /lab/guest-lib.sh

# ---- network interfaces ----
# The two NICs of the qemu hub (lab.sh's boot), by their MACs: renamed n0 and n1 before the
# kernel's eth0 and eth1 could be taken for the dummies below; left down until a scenario
# uses them.
for nic in /sys/class/net/*; do
  case $(cat "$nic/address") in
    02:00:00:00:07:01) ip link set "${nic##*/}" name n0 || abort "rename ${nic##*/} to n0" ;;
    02:00:00:00:07:02) ip link set "${nic##*/}" name n1 || abort "rename ${nic##*/} to n1" ;;
  esac
done
{ ip link show n0 && ip link show n1; } >/dev/null 2>&1 || abort "no virtio NICs n0 and n1"
# d0..d3: dummy, up, MAC 02:00:00:00:00:0N; va/vb: veth pair, up;
# dn: dummy, down; eth0..eth2: dummy, up, MAC 02:00:00:00:00:1N (the names the
# examples in states/ use). Re-asserted before every scenario.
lab_setup_netdevs() {
  ip link set lo up || return 1
  for n in 0 1 2 3; do
    ip link show "d$n" >/dev/null 2>&1 || ip link add "d$n" type dummy || return 1
    ip link set "d$n" address "02:00:00:00:00:0$n" up || return 1
  done
  for n in 0 1 2; do
    ip link show "eth$n" >/dev/null 2>&1 || ip link add "eth$n" type dummy || return 1
    ip link set "eth$n" address "02:00:00:00:00:1$n" up || return 1
  done
  if ! ip link show va >/dev/null 2>&1 || ! ip link show vb >/dev/null 2>&1; then
    ip link del va >/dev/null 2>&1
    ip link del vb >/dev/null 2>&1
    ip link add va type veth peer name vb || return 1
  fi
  ip link set va address 02:00:00:00:01:0a up || return 1
  ip link set vb address 02:00:00:00:01:0b up || return 1
  ip link show dn >/dev/null 2>&1 || ip link add dn type dummy || return 1
  ip link set dn address 02:00:00:00:00:ff down || return 1
}

lab_setup_netdevs || abort "network interface setup failed"

echo
echo "@@LAB BEGIN kernel=$(uname -r) cpus=$(grep -c '^processor' /proc/cpuinfo) mode=$LAB_MODE"
ip -br link

# ---- scenarios ----
if [ "$LAB_MODE" = cmd ]; then
  pg_reset || echo "warning: pktgen reset incomplete"
  echo "@@CMD BEGIN"
  # shellcheck source=/dev/null
  (cd /root && . /lab/guest-lib.sh && . /lab/cmd.sh) </dev/null
  rc=$?
  echo "@@CMD END rc=$rc"
else
  any_fail=0
  for s in /lab/scenarios/*.sh; do
    [ -e "$s" ] || continue
    name=$(basename "$s" .sh)
    echo "@@SCENARIO $name BEGIN"
    if ! pg_reset; then
      echo "pktgen reset failed"
      pg_dump
      echo "@@SCENARIO $name FAIL rc=125"
      any_fail=1
      continue
    fi
    if ! lab_setup_netdevs; then
      echo "network interface setup failed"
      ip link
      echo "@@SCENARIO $name FAIL rc=126"
      any_fail=1
      continue
    fi
    # each scenario runs in its own sh with guest-lib.sh sourced first
    # shellcheck disable=SC2016  # $1 expands in the inner sh
    timeout -s KILL "$LAB_SCENARIO_TIMEOUT" \
      sh -c 'cd /root && . /lab/guest-lib.sh && . "$1"' "$name" "$s" </dev/null
    rc=$?
    if [ "$rc" -eq 0 ]; then
      echo "@@SCENARIO $name PASS"
    elif [ "$rc" -eq 77 ]; then
      # the scenario found its subject missing on this kernel and printed why
      echo "@@SCENARIO $name N/A"
    else
      [ "$rc" -eq 137 ] && echo "(killed: time limit ${LAB_SCENARIO_TIMEOUT}s)"
      echo "@@SCENARIO $name FAIL rc=$rc"
      any_fail=1
    fi
  done
  if [ "$any_fail" -ne 0 ]; then
    echo "@@DMESG BEGIN"
    dmesg | tail -n 60
    echo "@@DMESG END"
  fi
fi
echo "@@LAB DONE"
power_off

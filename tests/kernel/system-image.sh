#!/bin/sh
# mmdebstrap --customize-hook for the Debian system image of `lab.sh system`
# (tests/kernel/lab-system.sh). $1 is the root directory of the new system. Everything
# baked into the image is here, so that a change to this file gives a new image (the image
# cache key hashes it).
#
# The image boots with Debian's own initramfs and systemd. At boot:
#   pgstate-lab-ifaces.service  (oneshot, before pgstate-watch) creates the lab's interfaces:
#                               dummies d0..d3 up (MAC 02:00:00:00:00:0N), dn down, the veth
#                               pair va/vb up, as the busybox lab has them;
#   pgstate-lab.service         after multi-user.target: mounts the payload disk (/dev/vdb,
#                               read-only) on /lab, runs /lab/run.sh with its output on the
#                               serial console between "@@LAB BEGIN" and "@@LAB DONE rc=N",
#                               then powers off.
set -eu
root=$1

# no password, a hostname, no login prompts, nothing periodic
chroot "$root" passwd --delete root >/dev/null
echo pgstate-lab >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 pgstate-lab\n::1 localhost\n' >"$root/etc/hosts"
for unit in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer \
  apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
  systemd-timesyncd.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# the journal in memory (the disk is a throw-away snapshot anyway)
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/lab.conf"
# Debian's initramfs needs no fsck of a snapshot
printf '/dev/vda / ext4 rw,errors=remount-ro 0 0\n' >"$root/etc/fstab"

cat >"$root/usr/local/sbin/pgstate-lab-ifaces" <<'EOF'
#!/bin/sh
# The lab's interfaces (as tests/kernel/guest-lib.sh makes them in the busybox lab).
set -e
modprobe dummy numdummies=0
modprobe veth
for n in 0 1 2 3; do
  ip link add "d$n" address "02:00:00:00:00:0$n" type dummy
  ip link set "d$n" up
done
ip link add dn address 02:00:00:00:00:0f type dummy
ip link add va address 02:00:00:00:01:0a type veth peer name vb address 02:00:00:00:01:0b
ip link set va up
ip link set vb up
EOF
chmod 0755 "$root/usr/local/sbin/pgstate-lab-ifaces"
cat >"$root/etc/systemd/system/pgstate-lab-ifaces.service" <<'EOF'
[Unit]
Description=pgstate lab: dummy and veth interfaces for pktgen
DefaultDependencies=no
After=systemd-modules-load.service
Before=network-pre.target pgstate-watch.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/pgstate-lab-ifaces

[Install]
WantedBy=multi-user.target
EOF

cat >"$root/usr/local/sbin/pgstate-lab-run" <<'EOF'
#!/bin/sh
# Runs the payload's checks (see /etc/systemd/system/pgstate-lab.service).
mkdir -p /lab
if ! mount -o ro /dev/vdb /lab; then
  echo "@@LAB ABORT cannot mount the payload disk /dev/vdb"
  systemctl poweroff --no-block
  exit 1
fi
limit=$(cat /lab/timeout 2>/dev/null || echo 900)
echo "@@LAB BEGIN $(uname -r) $(systemctl is-system-running)"
rc=0
timeout -k 10 "$limit" bash /lab/run.sh </dev/null 2>&1 || rc=$?
echo "@@LAB DONE rc=$rc"
systemctl poweroff --no-block
EOF
chmod 0755 "$root/usr/local/sbin/pgstate-lab-run"
cat >"$root/etc/systemd/system/pgstate-lab.service" <<'EOF'
[Unit]
Description=pgstate lab: run the checks of the payload disk, then power off
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/pgstate-lab-run
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no

[Install]
WantedBy=multi-user.target
EOF

mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/pgstate-lab-ifaces.service \
  "$root/etc/systemd/system/multi-user.target.wants/pgstate-lab-ifaces.service"
ln -sf /etc/systemd/system/pgstate-lab.service \
  "$root/etc/systemd/system/multi-user.target.wants/pgstate-lab.service"

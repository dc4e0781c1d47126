# shellcheck shell=sh
# `lab.sh try`: what a user sees running pgstate on a real kernel (runs inside the guest).
show() {
  echo
  echo "\$ $*"
  "$@"
  echo "[exit $?]"
}
echo "Interfaces: eth0, eth1, eth2 are dummy devices of this lab kernel ($(uname -r))."
show pgstate validate /states/simple.yaml
show pgstate plan /states/simple.yaml
show pgstate apply /states/simple.yaml
show pgstate plan --detailed-exitcode /states/simple.yaml
echo
echo "# Someone changes a parameter by hand:"
echo "\$ echo 'count 5' > /proc/net/pktgen/eth0"
echo 'count 5' >/proc/net/pktgen/eth0
show pgstate diff /states/simple.yaml
show pgstate apply -v /states/simple.yaml
show pgstate show
echo "# Traffic: converge, start, progress, results (count 100000 on a dummy interface):"
show pgstate run /states/simple.yaml
show pgstate run --json --duration 1 /states/multiqueue.yaml
show pgstate status
echo
echo "# A state the kernel would misread is refused before any write:"
printf 'devices:\n  eth0:\n    thread: 0\n    pkt_size: 20\n    flags: [UDPCSUMM]\n' >/tmp/bad.yaml
show pgstate apply /tmp/bad.yaml

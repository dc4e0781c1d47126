#!/bin/bash
# instructions.sh [N] [PGSTATE]: instructions pgstate executes for `plan` of N devices (default
# 256) on a converged box, counted by valgrind's callgrind, with the share of loading the
# state and of reading the box. The box is a directory in Linux 6.12's format (--proc-root),
# the interfaces a fake /sys/class/net (--sys-class-net), and the state tests/bench's
# gen-devices.sh state, so the figure is the same on every machine.
#
# Under qemu's TCG, where the lab measures time, pgstate's own instructions are most of what
# separates a plan from the `cat` floor; this counts them natively, without the lab's noise.
# Needs valgrind (apt-get install valgrind).
set -euo pipefail

n=${1:-256}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${2:-${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/pgstate}
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind" >&2; exit 2; }
[[ -x $bin ]] || { echo "instructions.sh: no $bin (cargo build --release)" >&2; exit 2; }

box=$(mktemp -d)
trap 'rm -rf "$box"' EXIT
mkdir -p "$box/pg" "$box/net"
for i in 0 1 2 3; do
  mkdir -p "$box/net/d$i"
  echo 0x1003 >"$box/net/d$i/flags"
  echo 52:54:00:12:34:56 >"$box/net/d$i/address"
done
echo "Packet Generator for packet performance testing. Version: 2.75" >"$box/pg/pgctrl"
"$here/gen-devices.sh" "n$n" "$n" 1000 >"$box/state.yaml"

# Device files as 6.12 prints them after gen-devices.sh's settings; threads list newest first.
stopped0="" stopped1=""
for ((i = 0; i < n; i++)); do
  name=d$((i % 4))@$i
  if ((i % 2)); then stopped1="$name $stopped1"; else stopped0="$name $stopped0"; fi
  cat >"$box/pg/$name" <<EOF
Params: count 1000  min_pkt_size: 60  max_pkt_size: 60
     frags: 0  delay: 0  clone_skb: 0  ifname: $name
     flows: 0 flowlen: 0
     queue_map_min: 0  queue_map_max: 0
     dst_min: 198.18.$((i / 256)).$((i % 256))  dst_max: 
     src_min:   src_max: 
     src_mac: 52:54:00:12:34:56 dst_mac: 02:00:00:00:00:02
     udp_src_min: 9  udp_src_max: 9  udp_dst_min: 9  udp_dst_max: 9
     src_mac_count: 0  dst_mac_count: 0
     Flags: SHARED  
Current:
     pkts-sofar: 0  errors: 0
     started: 0us  stopped: 0us idle: 0us
     seq_num: 0  cur_dst_mac_offset: 0  cur_src_mac_offset: 0
     cur_saddr: 0.0.0.0  cur_daddr: 0.0.0.0
     cur_udp_dst: 0  cur_udp_src: 0
     cur_queue_map: 0
     flows: 0
Result: Idle
EOF
done
printf 'Running: \nStopped: %s\nResult: OK\n' "$stopped0" >"$box/pg/kpktgend_0"
printf 'Running: \nStopped: %s\nResult: OK\n' "$stopped1" >"$box/pg/kpktgend_1"

args=(--proc-root "$box/pg" --sys-class-net "$box/net" --kernel-release 6.12.0 plan "$box/state.yaml")
out=$("$bin" "${args[@]}")
[[ $out == "No changes."* ]] || { echo "instructions.sh: the box is not converged:" >&2; echo "$out" >&2; exit 1; }
valgrind --tool=callgrind --callgrind-out-file="$box/cg" "$bin" "${args[@]}" >/dev/null 2>"$box/vg"
total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$box/vg")
part() { callgrind_annotate --inclusive=yes "$box/cg" 2>/dev/null | awk -v f="$1" '!done && $0 ~ f { gsub(",", "", $1); print $1; done = 1 }'; }
load=$(part 'state_file::load::load_path')
read=$(part 'procfs::observe::read_box')
printf '| devices | instructions | per device | loading the state | reading the box | the rest |\n'
printf '|---:|---:|---:|---:|---:|---:|\n'
printf '| %d | %.1fM | %dK | %.1fM | %.1fM | %.1fM |\n' "$n" "$(bc -l <<<"$total/1000000")" \
  $((total / n / 1000)) "$(bc -l <<<"$load/1000000")" "$(bc -l <<<"$read/1000000")" \
  "$(bc -l <<<"($total-$load-$read)/1000000")"

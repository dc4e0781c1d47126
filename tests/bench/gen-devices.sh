#!/bin/sh
# gen-devices.sh NAME N COUNT0: prints a state of N devices d{i%4}@i on threads 0-1, the first
# with count COUNT0 (the others 1000). The bench states d*.yaml are made with it; the lab's
# timing benchmark makes its own sizes with it in the guest.
name=$1 n=$2 c0=$3
echo "# $n devices on d0..d3 and threads 0-1 (bench corpus; tests/bench/gen-devices.sh $name $n $c0)"
echo "devices:"
i=0
while [ "$i" -lt "$n" ]; do
  c=1000
  [ "$i" -eq 0 ] && c=$c0
  echo "  d$((i % 4))@$i: {thread: $((i % 2)), count: $c, pkt_size: 60, dst: 198.18.$((i / 256)).$((i % 256)), dst_mac: \"02:00:00:00:00:02\"}"
  i=$((i + 1))
done

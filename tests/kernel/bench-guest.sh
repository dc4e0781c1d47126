#!/lab/bash
# pgstate's benchmark on a real kernel: runs in the lab guest under bash (for EPOCHREALTIME),
# started by `lab.sh bench`. Prints one marker line per figure, parsed by lab-bench.sh:
#   @@BENCH writes NAME STRACE_WRITES PGSTATE_WRITES CONVERGED(0|1)
#   @@BENCH time N CAT_US PLAN_US APPLY1_US         (medians of $BENCH_TIME_REPS interleaved rounds, default 9)
#   @@BENCH ifaces PLAN8_US PLAN8_WITH_1000_US
#   @@BENCH sample NAME SCRIPT_WRITES SCRIPT_US EMPTY_WRITES EMPTY_US RERUN_WRITES RERUN_US NO_CHANGES(0|1)
#   @@BENCH watch DEVICES SAVE_TO_CONVERGED_US RSS_KB EDITS
#   @@BENCH sampling ROUNDS PPS_PLAIN PPS_DRAWN PPS_SCRAPED PLAIN... / DRAWN... / SCRAPED...
#                                            (medians of $BENCH_SAMPLING_ROUNDS interleaved rounds, default 5)
#   @@BENCH recv PLACEMENT PAIRS PPS_WITHOUT PPS_WITH SENT RECEIVED IFACE_RX CAPTURE_DROPS CPU_US_WITHOUT CPU_US_WITH
#                                            (medians of $BENCH_RECV_PAIRS interleaved pairs, default 5)
# Writes are counted with strace: every write(2) to a file under /proc/net/pktgen (which
# strace -y shows as /proc/PID/net/pktgen/..., /proc/net being a link to /proc/self/net).
# Parts: $BENCH_PARTS (default "writes time ifaces samples watch"; "recv" and "sampling" on
# request).
set -u
# shellcheck source=guest-lib.sh
. /lab/guest-lib.sh

PARTS=${BENCH_PARTS:-writes time ifaces samples watch}
REPS=${BENCH_REPS:-5}
STRACE=/lab/strace
BENCH=/bench
SCRATCH=/tmp/bench
mkdir -p "$SCRATCH"

# An strace -f -y line of a write(2) to one of pktgen's files.
PKTGEN_WRITE='^([0-9]+ +|\[pid +[0-9]+\] )?write\([0-9]+</proc/([0-9]+/|self/|thread-self/)?net/pktgen/'

part() { [[ " $PARTS " == *" $1 "* ]]; }

now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }

# median of the arguments
median() {
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# time_us CMD...: wall time of one run of CMD, in µs (output discarded).
time_us() {
  local t0 t1
  t0=$(now_us)
  "$@" >/dev/null 2>&1
  t1=$(now_us)
  echo $((t1 - t0))
}

# median_us CMD...: median wall time of $REPS runs.
median_us() {
  local i out=()
  for ((i = 0; i < REPS; i++)); do out+=("$(time_us "$@")"); done
  median "${out[@]}"
}

# pktgen_writes TRACE: write(2) calls on pktgen's files in an strace -f -y log.
pktgen_writes() {
  grep -cE "$PKTGEN_WRITE" "$1"
}

# traced TRACE CMD...: run CMD under strace, counting pktgen writes into TRACE.
traced() {
  local trace=$1
  shift
  "$STRACE" -f -y -qq -e trace=write -o "$trace" "$@"
}

# An empty box. `reset` only flags every thread (T_REMDEVALL), and a thread without devices
# acts on the flag when it next wakes (every 100 ms, longer under TCG), removing a device
# added before then too: reset only a box that has devices (waiting for them to go also
# waits for the flag to be used), and give the threads time to use a reset somebody else
# wrote (a sample script's exit trap).
reset_box() {
  if [[ -n $(pg_devices) ]]; then
    pg_reset >/dev/null 2>&1 || { echo "bench: pktgen reset failed"; exit 1; }
  fi
  sleep 0.3
}

apply_quiet() {
  pgstate apply -q "$1" >"$SCRATCH/apply.out" 2>&1 || {
    echo "bench: pgstate apply $1 failed:"
    cat "$SCRATCH/apply.out"
    return 1
  }
}

# ---- writes: the corpus, then every example from empty and to every other ----
bench_writes() {
  local name from to n plan conv
  corpus_lines | while read -r name from to; do
    reset_box
    # A state this kernel cannot hold (say imix_weights before 5.15) is refused before any
    # write: the transition is not applicable here, and the report checks that the write
    # model agrees (it has no bound for it).
    if [[ $from != - ]] && ! apply_quiet "$from"; then
      if grep -q 'needs Linux' "$SCRATCH/apply.out"; then
        echo "@@BENCH writes $name na na na"
      else
        echo "@@BENCH writes $name -1 -1 0"
      fi
      continue
    fi
    if ! traced "$SCRATCH/trace" pgstate apply --json "$to" >"$SCRATCH/apply.json" 2>"$SCRATCH/apply.err"; then
      if grep -q 'needs Linux' "$SCRATCH/apply.err" "$SCRATCH/apply.json"; then
        echo "@@BENCH writes $name na na na"
        continue
      fi
      echo "bench: $name: apply failed:"
      cat "$SCRATCH/apply.err"
      echo "@@BENCH writes $name -1 -1 0"
      continue
    fi
    n=$(pktgen_writes "$SCRATCH/trace")
    plan=$(sed -n 's/.*"writes": *\([0-9]*\).*/\1/p' "$SCRATCH/apply.json" | head -n1)
    conv=0
    pgstate plan --detailed-exitcode "$to" >/dev/null 2>&1 && conv=1
    echo "@@BENCH writes $name $n ${plan:--1} $conv"
  done
}

# NAME FROM TO lines: tests/bench/corpus.txt with guest paths, then the examples.
corpus_lines() {
  local name from to ex other
  grep -vE '^(#|[[:space:]]*$)' "$BENCH/corpus.txt" | while read -r name from to; do
    echo "$name $(guest_path "$from") $(guest_path "$to")"
  done
  # netns-lab.yaml configures other network namespaces, not this box (write_bounds.rs
  # leaves it out too).
  for ex in /states/*.yaml; do
    grep -q '^namespaces:' "$ex" && continue
    echo "examples/-/$(basename "$ex" .yaml) - $ex"
    for other in /states/*.yaml; do
      [[ $other == "$ex" ]] && continue
      grep -q '^namespaces:' "$other" && continue
      echo "examples/$(basename "$other" .yaml)/$(basename "$ex" .yaml) $other $ex"
    done
  done
}

guest_path() {
  case $1 in
    -) echo - ;;
    states/*) echo "/$1" ;;
    tests/bench/*) echo "$BENCH/${1#tests/bench/}" ;;
    *) echo "$1" ;;
  esac
}

# ---- time: plan and apply against the floor of reading every pktgen file ----
bench_time() {
  local n cat_us plan_us apply_us i a b
  local TIME_REPS=${BENCH_TIME_REPS:-9}
  for n in 1 8 64 256 512; do
    reset_box
    a=$SCRATCH/n$n.yaml
    b=$SCRATCH/n$n-count.yaml
    "$BENCH/gen-devices.sh" "n$n" "$n" 1000 >"$a"
    "$BENCH/gen-devices.sh" "n$n" "$n" 1001 >"$b"
    apply_quiet "$a" || { echo "@@BENCH time $n -1 -1 -1"; continue; }
    # Interleaved, so that a slow moment of the host (the lab shares its cores) falls on
    # the floor and on pgstate alike rather than on one of them.
    local cats=() plans=() applies=()
    for ((i = 0; i < TIME_REPS; i++)); do
      cats+=("$(time_us sh -c 'cat /proc/net/pktgen/*')")
      plans+=("$(time_us pgstate plan "$a")")
      applies+=("$(time_us pgstate apply -q "$b")")
      cats+=("$(time_us sh -c 'cat /proc/net/pktgen/*')")
      applies+=("$(time_us pgstate apply -q "$a")")
    done
    cat_us=$(median "${cats[@]}")
    plan_us=$(median "${plans[@]}")
    apply_us=$(median "${applies[@]}")
    echo "@@BENCH time $n $cat_us $plan_us $apply_us"
  done
}

# ---- ifaces: 1,000 interfaces pgstate does not manage ----
bench_ifaces() {
  local s=$SCRATCH/n8.yaml before after i
  reset_box
  "$BENCH/gen-devices.sh" n8 8 1000 >"$s"
  apply_quiet "$s" || { echo "@@BENCH ifaces -1 -1"; return; }
  before=$(median_us pgstate plan "$s")
  : >"$SCRATCH/links"
  for ((i = 0; i < 1000; i++)); do echo "link add u$i type dummy" >>"$SCRATCH/links"; done
  /sbin/ip -batch "$SCRATCH/links" || { echo "bench: adding 1000 interfaces failed"; return; }
  after=$(median_us pgstate plan "$s")
  echo "@@BENCH ifaces $before $after"
  sed 's/^link add \(u[0-9]*\) .*/link del \1/' "$SCRATCH/links" >"$SCRATCH/unlinks"
  /sbin/ip -batch "$SCRATCH/unlinks" >/dev/null 2>&1
}

# ---- samples: the kernel's own samples/pktgen scripts on the same kernel ----
# Each line: NAME SCRIPT ARGS... (the script's own parameters, -n 1 so traffic is
# negligible). The imported state is written by pgstate show from the box the script left
# in append mode, compared by plan.
sample_lines() {
  cat <<'EOF'
sample01 pktgen_sample01_simple.sh -i d0 -s 60 -d 198.18.0.42 -m 02:00:00:00:00:02 -n 1
sample02 pktgen_sample02_multiqueue.sh -i d0 -s 60 -d 198.18.0.42 -m 02:00:00:00:00:02 -t 2 -n 1
sample03 pktgen_sample03_burst_single_flow.sh -i d0 -s 60 -d 198.18.0.42 -m 02:00:00:00:00:02 -t 2 -n 1 -b 8
sample04 pktgen_sample04_many_flows.sh -i d0 -s 60 -d 198.18.0.42 -m 02:00:00:00:00:02 -t 2 -n 1
sample05 pktgen_sample05_flow_per_thread.sh -i d0 -s 60 -d 198.18.0.42 -m 02:00:00:00:00:02 -t 2 -n 1
netif-receive pktgen_bench_xmit_mode_netif_receive.sh -i d0 -s 60 -d 198.18.0.42 -m 02:00:00:00:00:02 -n 1
queue-xmit pktgen_bench_xmit_mode_queue_xmit.sh -i d0 -s 60 -d 198.18.0.42 -m 02:00:00:00:00:02 -n 1
EOF
}

# config_writes TRACE: pktgen writes before the first `start` (the script's configuration).
config_writes() {
  local start
  start=$(grep -nE "$PKTGEN_WRITE" "$1" | grep -m1 'pgctrl>, "start' | cut -d: -f1)
  if [[ -n $start ]]; then
    head -n "$((start - 1))" "$1" | grep -cE "$PKTGEN_WRITE"
  else
    grep -cE "$PKTGEN_WRITE" "$1"
  fi
}

# run_sample SCRIPT ARGS...: the script from the samples directory, under bash (whose `ip`
# on PATH is iproute2's).
run_sample() {
  local script=$1
  shift
  (cd /samples/pktgen && /lab/bash "./$script" "$@")
}

bench_samples() {
  local name script args sw sus ew eus rw rus same st
  if [[ ! -d /samples/pktgen ]]; then
    echo "bench: /samples/pktgen missing (PGSTATE_LAB_SAMPLES=1 puts the kernel's scripts there)"
    return
  fi
  sample_lines | while read -r name script args; do
    st=$SCRATCH/$name.yaml
    # The script's configuration, left in place by append mode on an empty box. APPEND=yes
    # too: 6.1's functions.sh sets its reset-on-exit trap before `-a` is parsed (see
    # scenario 55-import).
    reset_box
    # shellcheck disable=SC2086  # args is a word list
    APPEND=yes run_sample "$script" $args -a >"$SCRATCH/$name.script.out" 2>&1
    pgstate show >"$st" 2>"$SCRATCH/$name.show.err" || {
      echo "bench: $name: show failed"
      cat "$SCRATCH/$name.script.out" "$SCRATCH/$name.show.err"
      continue
    }
    grep -q '^  [a-z0-9]' "$st" || {
      echo "bench: $name: the script left no device in append mode:"
      tail -n 20 "$SCRATCH/$name.script.out"
    }
    same=0
    pgstate plan --detailed-exitcode "$st" >/dev/null 2>&1 && same=1
    # The script as users run it: configure, start, and reset on exit.
    reset_box
    # shellcheck disable=SC2086
    sus=$(time_us run_sample "$script" $args)
    reset_box
    # shellcheck disable=SC2086,SC2016  # args is a word list; $PATH expands in the guest's bash
    traced "$SCRATCH/$name.strace" /lab/bash -c 'cd /samples/pktgen && exec /lab/bash "$@"' sample "./$script" $args >/dev/null 2>&1
    sw=$(config_writes "$SCRATCH/$name.strace")
    # pgstate converging to the same configuration, from empty and again.
    reset_box
    eus=$(time_us pgstate apply -q "$st")
    rus=$(time_us pgstate apply -q "$st")
    reset_box
    traced "$SCRATCH/$name.pg1" pgstate apply -q "$st" >/dev/null 2>&1
    ew=$(pktgen_writes "$SCRATCH/$name.pg1")
    traced "$SCRATCH/$name.pg2" pgstate apply -q "$st" >/dev/null 2>&1
    rw=$(pktgen_writes "$SCRATCH/$name.pg2")
    if [[ $ew == 0 ]]; then
      echo "bench: $name: no pktgen write traced from an empty box:"
      head -n 5 "$SCRATCH/$name.pg1" "$st"
    fi
    echo "@@BENCH sample $name $sw $sus $ew $eus $rw $rus $same"
  done
}

# ---- watch: from a saved file to a converged box, and memory over a long run ----
# watch_devices N: one watch on an N-device state, 20 edits of the first device's count.
watch_devices() {
  local n=$1 dir=$SCRATCH/watch$1 pid i t0 t1 out=() rss want last=$(($1 - 1))
  reset_box
  mkdir -p "$dir"
  "$BENCH/gen-devices.sh" "w$n" "$n" 1000 >"$dir/state.yaml"
  pgstate watch -q "$dir" >"$SCRATCH/watch$n.log" 2>&1 &
  pid=$!
  wait_until 120 grep -q 'count 1000 ' "$PG/d$((last % 4))@$last" 2>/dev/null || {
    echo "bench: watch of $n devices did not converge"
    kill "$pid"
    return
  }
  for ((i = 1; i <= 20; i++)); do
    want=$((2000 + i))
    "$BENCH/gen-devices.sh" "w$n" "$n" "$want" >"$SCRATCH/next.yaml"
    t0=$(now_us)
    mv "$SCRATCH/next.yaml" "$dir/state.yaml"
    until grep -q "count $want " "$PG/d0@0" 2>/dev/null; do sleep 0.01; done
    t1=$(now_us)
    out+=($((t1 - t0)))
  done
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null
  echo "@@BENCH watch $n $(median "${out[@]}") $rss 20"
}

bench_watch() {
  watch_devices 8
  watch_devices 512
}

# ---- sampling: what watching a run costs the traffic it watches ----
# Two devices on a dummy interface, one per pktgen thread, so that both vCPUs send and any
# CPU the watching takes is taken from pktgen. Interleaved triples: `run --no-progress` with
# nothing else reading the box; `run` with its progress display drawn on a terminal
# (util-linux `script` gives it a pty); and the same while `status --format prometheus`
# scrapes the box every second beside it. The figure is the sum of both devices' pps (the
# `total` row).
bench_sampling() {
  local ip=/sbin/ip count=${BENCH_SAMPLING_COUNT:-2000000} rounds=${BENCH_SAMPLING_ROUNDS:-5} i
  local st=$SCRATCH/sampling.yaml
  local -a plain=() drawn=() scraped=()
  reset_box
  if ! "$ip" link add s0 type dummy || ! "$ip" link set s0 up; then
    echo "bench: sampling: no dummy interface"
    return
  fi
  printf 'devices:\n' >"$st"
  for i in 0 1; do
    printf '  s0@%s: {thread: %s, count: %s, pkt_size: 60, delay: 0, dst: 198.18.0.1, dst_mac: "02:00:00:00:00:02"}\n' \
      "$i" "$i" "$count" >>"$st"
  done
  pps_total() { tr '\r' '\n' <"$1" | awk '$1 == "total" { print $4 }' | tail -n1; }
  # on_pty OUT: `pgstate run` with its progress drawn on a pty, its output in OUT.
  on_pty() {
    TERM=xterm-256color /lab/script -qfec "pgstate run $st" /dev/null >"$1" 2>&1
  }
  for ((i = 0; i < rounds; i++)); do
    pgstate -q run --no-progress "$st" >"$SCRATCH/sampling0.out" 2>&1
    plain+=("$(pps_total "$SCRATCH/sampling0.out")")
    reset_box
    on_pty "$SCRATCH/sampling1.out"
    drawn+=("$(pps_total "$SCRATCH/sampling1.out")")
    reset_box
    : >"$SCRATCH/scraping"
    (while [[ -e $SCRATCH/scraping ]]; do
      pgstate status --format prometheus "$st" >/dev/null 2>&1
      sleep 1
    done) &
    local scraper=$!
    on_pty "$SCRATCH/sampling2.out"
    rm -f "$SCRATCH/scraping"
    wait "$scraper"
    scraped+=("$(pps_total "$SCRATCH/sampling2.out")")
    reset_box
  done
  grep -q $'\e\[' "$SCRATCH/sampling1.out" || echo "bench: sampling: no progress was drawn"
  tr '\r' '\n' <"$SCRATCH/sampling2.out" | tail -n 8
  echo "@@BENCH sampling $rounds $(median "${plain[@]}") $(median "${drawn[@]}") $(median "${scraped[@]}") ${plain[*]} / ${drawn[*]} / ${scraped[*]}"
  "$ip" link del s0
}

# ---- recv: a receiver at the highest rate pktgen reaches on veth ----
# A sender namespace and a receiver namespace over veth (as scenario 97), pktgen at full speed
# (delay 0, start_xmit): runs without and with the receiver, interleaved. Per pair: the
# sender's pps, what the receiver counted against what the interface counted, the capture's
# drops, and pgstate's CPU time (user + system of the whole run).
bench_recv() {
  local ip=/sbin/ip count=${BENCH_RECV_COUNT:-200000} pairs=${BENCH_RECV_PAIRS:-5} i
  local -a pps0=() pps1=() cpu0=() cpu1=() rows=()
  if ! "$ip" netns add bs || ! "$ip" netns add br; then
    echo "bench: netns"
    return
  fi
  "$ip" link add bs-eth0 address 02:00:00:00:0a:01 netns bs type veth \
    peer name br-eth0 address 02:00:00:00:0a:02 netns br
  for ns in bs br; do
    "$ip" netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6'
    "$ip" -n "$ns" link set "$ns-eth0" arp off up
  done
  local sender="    devices:
      bs-eth0: {thread: 0, count: $count, pkt_size: 60, delay: 0, src_min: 10.0.10.1, dst: 10.0.10.2, dst_mac: \"02:00:00:00:0a:02\"}"
  printf 'namespaces:\n  bs:\n%s\n  br:\n    devices: {}\n' "$sender" >"$SCRATCH/recv0.yaml"
  printf 'namespaces:\n  bs:\n%s\n  br:\n    devices: {}\n    receivers:\n      br-eth0: {streams: [bs/bs-eth0]}\n' "$sender" >"$SCRATCH/recv1.yaml"
  # run_cpu STATE OUT: one run; its CPU time (user + system) in µs on stdout, its output in
  # OUT.
  run_cpu() {
    local TIMEFORMAT='%3U %3S'
    { time pgstate -q run --no-progress "$1" >"$2" 2>&1; } 2>"$SCRATCH/cpu"
    awk '{ printf "%d\n", ($1 + $2) * 1000000 }' "$SCRATCH/cpu"
  }
  pps_of() { awk '$1 == "total" { print $4 }' "$1" | head -n1; }
  # Two placements of the receive path, each its interleaved pairs: `same-cpu` as the box is
  # (veth hands a packet to the backlog of the CPU that sent it, so the receiving softirq,
  # and in it the packet socket's filter and copy, run beside pktgen's thread 0 on CPU 0),
  # and `rps-cpu1`: receive packet steering moves br-eth0's receive path to CPU 1.
  local placement
  for placement in same-cpu rps-cpu1; do
    local mask=0
    [[ $placement == rps-cpu1 ]] && mask=2
    "$ip" netns exec br sh -c "echo $mask > /sys/class/net/br-eth0/queues/rx-0/rps_cpus"
    pps0=() pps1=() cpu0=() cpu1=() rows=()
    for ((i = 0; i < pairs; i++)); do
      cpu0+=("$(run_cpu "$SCRATCH/recv0.yaml" "$SCRATCH/recv0.out")")
      pps0+=("$(pps_of "$SCRATCH/recv0.out")")
      cpu1+=("$(run_cpu "$SCRATCH/recv1.yaml" "$SCRATCH/recv1.out")")
      pps1+=("$(pps_of "$SCRATCH/recv1.out")")
      rows+=("$(awk '$1 == "br/br-eth0" && $2 == "bs/bs-eth0" { print $3, $4 }' "$SCRATCH/recv1.out") $(sed -n 's/.*capture kept [0-9]* packets, dropped \([0-9]*\); the interface received \([0-9]*\) packets.*/\2 \1/p' "$SCRATCH/recv1.out")")
    done
    cat "$SCRATCH/recv1.out"
    local last=${rows[$((pairs - 1))]}
    echo "@@BENCH recv $placement $pairs $(median "${pps0[@]}") $(median "${pps1[@]}") $last $(median "${cpu0[@]}") $(median "${cpu1[@]}")"
  done
  "$ip" netns del bs
  "$ip" netns del br
}

# The samples run right after the write counts, on the box as the lab set it up: the
# interface churn of `ifaces` is better behind them.
part writes && bench_writes
part samples && bench_samples
part time && bench_time
part ifaces && bench_ifaces
part watch && bench_watch
part recv && bench_recv
part sampling && bench_sampling
echo "@@BENCH done"

# shellcheck shell=bash
# `lab.sh bench [PARTS...]`: pgstate's benchmark on the lab kernels (sourced by lab.sh).
#
# Boots each kernel of PGSTATE_LAB_KERNELS once and runs tests/kernel/bench-guest.sh in the
# guest. PARTS (default: all) are any of:
#   writes   every transition of tests/bench/corpus.txt and every states/ example from the
#            empty box and to every other, its writes to /proc/net/pktgen counted with
#            strace, against the lower bound that tests/common/bound.rs computes for the
#            booted kernel (tests/write_bounds.rs, run on the host). Deterministic: any
#            transition above its bound, or not converged, fails the run.
#   time     plan (converged box) and apply (one changed parameter) against the floor of
#            `cat` of every pktgen file, at 1, 8, 64, 256 and 512 devices.
#   ifaces   an 8-device plan with and without 1,000 interfaces pgstate does not manage.
#   samples  the kernel's samples/pktgen scripts (from Debian's linux-source package) side
#            by side with pgstate converging to the configuration each one leaves.
#   watch    pgstate watch with 512 devices: saved file to converged box, resident memory.
# Timing figures are ratios measured in the same boot; they are printed, never asserted.
# Tables go to stdout and to target/kernel-lab/bench-<kernel-release>.md.

BENCH_ALL_PARTS="writes time ifaces samples watch"
# Parts that run only when named (`lab.sh bench recv`, `lab.sh bench sampling`).
BENCH_EXTRA_PARTS="recv sampling"

# bench_bounds RELEASE OUT: NAME BOUND lines for the kernel RELEASE.
bench_bounds() {
  local release=$1 out=$2
  (cd "$REPO_ROOT" && PGSTATE_BOUNDS_RELEASE=$release PGSTATE_BOUNDS_OUT=$out \
    cargo test --locked --test write_bounds bounds_for_the_lab -q >"$out.log" 2>&1) ||
    die "computing the write bounds failed: see $out.log"
  [[ -s $out ]] || die "no write bounds for $release (see $out.log)"
}

# ratio A B: A/B with two decimals.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else if (a == 0) printf "1.00"; else printf "-" }'
}

ms() {
  awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'
}

# bench_report LOG RELEASE MD: tables from the guest's markers; returns 1 when a write
# count is above its bound or a transition did not converge.
bench_report() {
  local logf=$1 release=$2 md=$3 rc=0
  local bounds=$OUT_DIR/bounds-$release.txt
  local name n planned conv bound over=0 total=0 total_bound=0 count=0 na=0
  {
    printf '## Linux %s\n\n' "$release"
    if grep -q '^@@BENCH writes ' "$logf"; then
      bench_bounds "$release" "$bounds"
      printf '### Writes against the lower bound (strace in the guest)\n\n'
      printf '| transition | writes | bound | ratio |\n|---|---:|---:|---:|\n'
      while read -r _ _ name n planned conv; do
        bound=$(awk -v n="$name" '$1 == n { print $2 }' "$bounds")
        # The kernel refused the state for a feature it lacks, and the model agrees.
        if [[ $n == na && -z $bound ]]; then
          na=$((na + 1))
          continue
        fi
        if [[ -z $bound || $n == na ]]; then
          printf '| %s | %s | (no bound) | - |\n' "$name" "$n"
          rc=1
          continue
        fi
        count=$((count + 1))
        total=$((total + n))
        total_bound=$((total_bound + bound))
        if [[ $n -lt 0 || $conv != 1 || $n -gt $bound || $n != "$planned" ]]; then
          over=$((over + 1))
          rc=1
          printf '| **%s** | %s (plan said %s, converged %s) | %s | %s |\n' "$name" "$n" "$planned" "$conv" "$bound" "$(ratio "$n" "$bound")"
        elif [[ $name != examples/* ]]; then
          printf '| %s | %s | %s | %s |\n' "$name" "$n" "$bound" "$(ratio "$n" "$bound")"
        fi
      done < <(grep '^@@BENCH writes ' "$logf")
      printf '| all %s transitions (examples: %s from empty and to each other) | %s | %s | %s |\n\n' \
        "$count" "$(grep '^@@BENCH writes examples/' "$logf" | grep -vc ' na na na$')" "$total" "$total_bound" "$(ratio "$total" "$total_bound")"
      printf '%s of %s transitions above their bound or not converged.' "$over" "$count"
      if [[ $na -gt 0 ]]; then
        printf ' %s more need a feature this kernel lacks (it refused them before any write, as the simulator of this kernel does).' "$na"
      fi
      printf '\n\n'
    fi
    if grep -q '^@@BENCH time ' "$logf"; then
      # shellcheck disable=SC2016  # Markdown code spans
      printf '### Plan and apply time against the `cat` floor (medians)\n\n'
      printf '| devices | cat of every file | plan, converged | ratio | apply, one parameter | ratio |\n'
      printf '|---:|---:|---:|---:|---:|---:|\n'
      local c p a
      while read -r _ _ n c p a; do
        printf '| %s | %s ms | %s ms | %s | %s ms | %s |\n' "$n" "$(ms "$c")" "$(ms "$p")" "$(ratio "$p" "$c")" "$(ms "$a")" "$(ratio "$a" "$c")"
      done < <(grep '^@@BENCH time ' "$logf")
      printf '\n'
    fi
    if grep -q '^@@BENCH ifaces ' "$logf"; then
      local b w
      read -r _ _ b w < <(grep '^@@BENCH ifaces ' "$logf" | tail -n1)
      printf '### Unrelated interfaces\n\n| 8-device plan | median |\n|---|---:|\n'
      printf '| without | %s ms |\n| with 1,000 other interfaces | %s ms |\n| ratio | %s |\n\n' "$(ms "$b")" "$(ms "$w")" "$(ratio "$w" "$b")"
    fi
    if grep -q '^@@BENCH sample ' "$logf"; then
      printf '### The kernel'"'"'s samples/pktgen scripts and pgstate (same configuration)\n\n'
      printf '| script | script: config writes | script: time | pgstate from empty: writes | time | pgstate re-run: writes | time | plan on the box the script left |\n'
      printf '|---|---:|---:|---:|---:|---:|---:|---|\n'
      local sw sus ew eus rw rus same
      while read -r _ _ name sw sus ew eus rw rus same; do
        printf '| %s | %s | %s ms | %s | %s ms | %s | %s ms | %s |\n' "$name" "$sw" "$(ms "$sus")" "$ew" "$(ms "$eus")" "$rw" "$(ms "$rus")" \
          "$([[ $same == 1 ]] && echo 'No changes' || echo '**changes**')"
      done < <(grep '^@@BENCH sample ' "$logf")
      # shellcheck disable=SC2016
      printf '\n(The scripts also start traffic, `-n 1`, and reset pktgen on exit; their time includes that.)\n\n'
    fi
    if grep -q '^@@BENCH recv ' "$logf"; then
      local placement n p0 p1 sent got rx drops c0 c1 pairs=""
      printf '### A receiver at the highest rate pktgen reaches on veth\n\n'
      printf '| receive path | sender pps without receiver | with it | ratio | sent | received | the interface received | received / interface | capture drops | CPU µs per million received (with − without) |\n'
      printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
      while read -r _ _ placement n p0 p1 sent got rx drops c0 c1; do
        pairs=$n
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$placement" "$p0" "$p1" \
          "$(awk -v a="$p1" -v b="$p0" 'BEGIN { printf "%.3f", a / b }')" "$sent" "$got" "$rx" \
          "$(awk -v a="$got" -v b="$rx" 'BEGIN { printf "%.3f", a / b }')" "$drops" \
          "$(awk -v a="$c1" -v b="$c0" -v n="$got" 'BEGIN { printf "%.0f", (a - b) / (n / 1e6) }')"
      done < <(grep '^@@BENCH recv ' "$logf")
      printf '\n(Medians of %s interleaved pairs in one boot per receive path; the received figures are the last pair'"'"'s.)\n\n' "$pairs"
    fi
    if grep -q '^@@BENCH sampling ' "$logf"; then
      local n p0 p1 p2 all
      read -r _ _ n p0 p1 p2 all < <(grep '^@@BENCH sampling ' "$logf" | tail -n1)
      # shellcheck disable=SC2016  # backquotes for Markdown
      printf '### A run watched while it sends\n\n| | pps | against no progress |\n|---|---:|---:|\n| `run --no-progress`, nothing scraping | %s | 1.000 |\n| progress drawn on a terminal | %s | %s |\n| progress drawn, `status --format prometheus` every second | %s | %s |\n\n(Medians of %s interleaved rounds in one boot; every round, no progress / drawn / drawn and scraped: %s.)\n\n' \
        "$p0" "$p1" "$(awk -v a="$p1" -v b="$p0" 'BEGIN { printf "%.3f", a / b }')" \
        "$p2" "$(awk -v a="$p2" -v b="$p0" 'BEGIN { printf "%.3f", a / b }')" "$n" "$all"
    fi
    if grep -q '^@@BENCH watch ' "$logf"; then
      local n t r t8=""
      printf '### watch\n\n| devices | saved file to converged box (median of 20 edits, 300 ms debounce) | against 8 devices | resident memory after them |\n|---:|---:|---:|---:|\n'
      while read -r _ _ n t r _; do
        [[ $n == 8 ]] && t8=$t
        printf '| %s | %s ms | %s | %s MiB |\n' "$n" "$(ms "$t")" \
          "$([[ -n $t8 ]] && ratio "$t" "$t8" || echo -)" "$(awk -v k="$r" 'BEGIN { printf "%.1f", k / 1024 }')"
      done < <(grep '^@@BENCH watch ' "$logf")
      printf '\n'
    fi
  } >"$md"
  cat "$md"
  return "$rc"
}

cmd_bench() {
  local parts=${*:-$BENCH_ALL_PARTS} p
  for p in $parts; do
    [[ " $BENCH_ALL_PARTS $BENCH_EXTRA_PARTS " == *" $p "* ]] ||
      die "unknown bench part '$p' (parts: $BENCH_ALL_PARTS $BENCH_EXTRA_PARTS)"
  done
  [[ $LAB_TOOLS == 1 ]] || die "the benchmark needs /lab/bash and /lab/strace (PGSTATE_LAB_TOOLS=1)"
  # shellcheck disable=SC2034  # read by prepare_kernel in lab.sh
  [[ " $parts " == *" samples "* ]] && LAB_SAMPLES=1
  need_root
  ensure_host_tools
  ensure_pgstate_bin
  mkdir -p "$OUT_DIR"
  with_lock
  local cmdfile=$OUT_DIR/.bench-cmd.sh
  printf 'BENCH_PARTS="%s" /lab/bash /lab/bench-guest.sh\n' "$parts" >"$cmdfile"
  COMMON_TREE=$(mktemp -d "$OUT_DIR/.common.XXXXXX")
  trap 'rm -rf "$COMMON_TREE" "$COMMON_TREE.cpio.gz"' EXIT
  build_common_tree "$COMMON_TREE" cmd "$cmdfile"
  cp "$SCRIPT_DIR/bench-guest.sh" "$COMMON_TREE/lab/bench-guest.sh"
  mkdir -p "$COMMON_TREE/bench"
  cp -a "$REPO_ROOT/tests/bench/." "$COMMON_TREE/bench/"
  cpio_gz "$COMMON_TREE" "$COMMON_TREE.cpio.gz"
  local s rc=0 qrc kernels
  kernels=$(kernels_for "6.1 6.12")
  # Every transition and timing runs in one boot. pktgen allocates its flow table (65,536
  # entries, about 1.5 MiB) for every device: 512 devices need more than the usual guest.
  # shellcheck disable=SC2034  # read by boot() in lab.sh
  BOOT_TIMEOUT=${PGSTATE_LAB_BENCH_TIMEOUT:-1800}
  # shellcheck disable=SC2034
  LAB_MEM=${PGSTATE_LAB_MEM:-2048}
  # Timing runs one guest at a time (two guests would share the cores and each other's
  # noise); the write counts do not depend on time, so `bench writes` alone boots LAB_JOBS
  # guests at once, as `test` does.
  local jobs=1
  [[ $parts == writes ]] && jobs=$LAB_JOBS
  local -a krels=()
  for s in $kernels; do
    prepare_kernel "$s"
    # shellcheck disable=SC2153  # KREL (not the local krel below): set by prepare_kernel (lab.sh)
    build_initramfs "$COMMON_TREE.cpio.gz" "$KDIR" "$OUT_DIR/$KREL.bench.initramfs.gz" "$SAMPLES_DIR"
    krels+=("$KREL")
  done
  log "the benchmark ($parts) on ${krels[*]}"
  boot_guests "$jobs" bench. "${krels[@]}"
  local i krel logf
  for i in "${!krels[@]}"; do
    krel=${krels[i]}
    logf=$OUT_DIR/$krel.bench.log
    qrc=$(guest_rc "$krel" bench.)
    if ! grep -q '@@BENCH done' "$logf"; then
      log "$krel: the benchmark did not finish (qemu rc=$qrc); see $logf"
      grep -E '@@LAB ABORT|^bench:' "$logf" >&2 || tail -n 20 "$logf" >&2
      rc=1
      continue
    fi
    grep -E '^bench:' "$logf" >&2 || true
    bench_report "$logf" "$krel" "$OUT_DIR/bench-$krel.md" || {
      log "$krel: write counts above the lower bound (see the table)"
      rc=1
    }
  done
  return "$rc"
}

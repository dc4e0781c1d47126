# shellcheck shell=bash
# `lab.sh system`: the Debian package, the systemd service and the Ansible module on a real
# Debian system (sourced by lab.sh).
#
# Builds the .deb (tests/package/build-deb.sh), then boots a Debian bookworm system under
# qemu (TCG) with the lab's 6.12 cloud kernel, systemd as init and Debian's own initramfs,
# and runs tests/kernel/system-guest.sh in it (as a systemd service, after
# multi-user.target). That script installs the package with `dpkg -i`, runs pgstate-watch
# with a state in /etc/pgstate (edit, reload, drift, stop) and the Ansible module of
# contrib/ansible with `ansible-playbook -c local`, all against the real /proc/net/pktgen.
# Prints one PASS/FAIL line per check and "N passed, N failed".
#
# The image: mmdebstrap (--variant=apt) with SYSTEM_PKGS, the lab's 6.12 kernel package
# (the cached .deb, so its modules and initramfs are Debian's own) and
# tests/kernel/system-image.sh as customize hook, written as a raw ext4 disk
# (mkfs.ext4 -d) into $CACHE/images/<key>/ with the kernel and initrd beside it. <key>
# hashes the package list, the kernel package and version and system-image.sh, so the image
# is rebuilt only when one of them changes (a few minutes; downloads about 150 MB from the
# host's Debian mirrors, read from its apt sources). It boots read-only (qemu snapshot=on:
# every boot starts from the same image). Per run, a small ext4 "payload" disk
# (target/kernel-lab/system-payload.img, /dev/vdb in the guest) carries the .deb, the guest
# script, states/ and contrib/ansible.
#
# The unit is Type=notify with WatchdogSec= (pgstate tells systemd with sd-notify):
# system-guest.sh checks it (enable_now: `systemctl start` returns after READY=1, so the box
# is converged without polling, and StatusText says so; reload_rereads: active again with a
# status after RELOADING=1/READY=1; no_restarts: NRestarts 0, no watchdog timeout).
#
# Environment (besides lab.sh's): PGSTATE_LAB_SYSTEM_MEM (guest MiB, default 1024),
# PGSTATE_LAB_SYSTEM_TIMEOUT (seconds the guest script may take, default 900).

SYSTEM_SUITE=bookworm
SYSTEM_SERIES=6.12
SYSTEM_PKGS="systemd systemd-sysv udev dbus python3 ansible-core iproute2 kmod procps mininet bridge-utils python3-venv"
SYSTEM_MEM=${PGSTATE_LAB_SYSTEM_MEM:-1024}
SYSTEM_TIMEOUT=${PGSTATE_LAB_SYSTEM_TIMEOUT:-900}
SYSTEM_HOST_PKGS=("mmdebstrap:mmdebstrap" "e2fsprogs:mkfs.ext4" "coreutils:sha256sum")

# The host's enabled apt source files that name the suite: mmdebstrap pastes each one into
# the image's sources (so the image uses the same mirrors as the host).
system_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    grep -qE "^[^#]*\\b$SYSTEM_SUITE\\b" "$f" && printf '%s\n' "$f"
  done
  return 0
}

# system_image KERNEL_DEB: sets SYSIMG (directory with rootfs.raw, vmlinuz, initrd.img),
# building the image when its key is not in the cache.
system_image() {
  local kdeb=$1 key dir tmp
  key=$( {
    printf 'suite=%s\npkgs=%s\nkernel=%s %s\n' "$SYSTEM_SUITE" "$SYSTEM_PKGS" "$KPKG" "$KVER"
    cat "$SCRIPT_DIR/system-image.sh"
  } | sha256sum | cut -c1-16)
  dir=$CACHE/images/debian-$SYSTEM_SUITE-$key
  SYSIMG=$dir
  if [[ -f $dir/.complete ]]; then
    log "system image $dir (cached)"
    return 0
  fi
  local -a sources=()
  mapfile -t sources < <(system_sources)
  [[ ${#sources[@]} -gt 0 ]] || die "no apt source file of the host names $SYSTEM_SUITE"
  mkdir -p "$CACHE/images"
  rm -rf "$CACHE"/images/.build.*
  tmp=$(mktemp -d "$CACHE/images/.build.XXXXXX")
  log "building the system image (mmdebstrap $SYSTEM_SUITE: $SYSTEM_PKGS, $KPKG); log: $tmp/mmdebstrap.log"
  local t0=$SECONDS
  # shellcheck disable=SC2016  # $1 is mmdebstrap's, expanded by its hook shell
  mmdebstrap --mode=root --variant=apt --format=directory \
    --include="${SYSTEM_PKGS// /,}" --include="$kdeb" \
    --customize-hook="sh '$SCRIPT_DIR/system-image.sh' \"\$1\"" \
    "$SYSTEM_SUITE" "$tmp/root" "${sources[@]}" >"$tmp/mmdebstrap.log" 2>&1 || {
    tail -n 30 "$tmp/mmdebstrap.log" >&2
    die "mmdebstrap failed (log: $tmp/mmdebstrap.log)"
  }
  # shellcheck disable=SC2153  # KREL: set by resolve_kernel (lab.sh)
  [[ -f $tmp/root/boot/vmlinuz-$KREL && -f $tmp/root/boot/initrd.img-$KREL ]] ||
    die "the image has no /boot/vmlinuz-$KREL or /boot/initrd.img-$KREL"
  cp "$tmp/root/boot/vmlinuz-$KREL" "$tmp/vmlinuz"
  cp "$tmp/root/boot/initrd.img-$KREL" "$tmp/initrd.img"
  truncate -s 4G "$tmp/rootfs.raw"
  mkfs.ext4 -q -F -L pgstate-root -d "$tmp/root" "$tmp/rootfs.raw" >&2 || die "mkfs.ext4 -d failed"
  rm -rf "$tmp/root"
  printf '%s %s %s\n' "$SYSTEM_SUITE" "$KPKG" "$KVER" >"$tmp/.complete"
  # keep one image: remove the ones of older keys
  rm -rf "$CACHE"/images/debian-"$SYSTEM_SUITE"-*
  mv "$tmp" "$dir"
  log "system image built in $((SECONDS - t0))s: $dir ($(du -sh "$dir" | cut -f1) on disk)"
}

# system_payload DEB WHEEL OUT: the per-run disk the guest mounts on /lab.
system_payload() {
  local deb=$1 wheel=$2 out=$3 p
  p=$(mktemp -d "$OUT_DIR/.payload.XXXXXX")
  cp "$deb" "$p/pgstate.deb"
  cp "$wheel" "$p/"
  cp -a "$REPO_ROOT/contrib/mininet" "$p/mininet"
  cp "$SCRIPT_DIR/system-guest.sh" "$p/run.sh"
  cp "$SCRIPT_DIR/system-ansible.yml" "$p/system-ansible.yml"
  cp -a "$REPO_ROOT/states" "$p/states"
  cp -a "$REPO_ROOT/contrib/ansible" "$p/ansible"
  printf '%s\n' "$SYSTEM_TIMEOUT" >"$p/timeout"
  rm -f "$out"
  truncate -s 64M "$out"
  mkfs.ext4 -q -F -L pgstate-lab -d "$p" "$out" >&2 || die "mkfs.ext4 (payload) failed"
  rm -rf "$p"
}

# system_boot DIR PAYLOAD LOG -> qemu exit status
system_boot() {
  local dir=$1 payload=$2 logf=$3 rc=0
  local append="root=/dev/vda rw console=ttyS0,115200 quiet loglevel=3 systemd.show_status=false"
  append+=" panic=-1 mitigations=off net.ifnames=0 $LAB_APPEND"
  local qemu=(timeout --foreground -k 10 "$((SYSTEM_TIMEOUT + 300))"
    qemu-system-x86_64 -accel "$LAB_ACCEL" -cpu max -m "$SYSTEM_MEM" -smp "$LAB_SMP"
    -nodefaults -no-user-config -nographic -serial stdio -monitor none -no-reboot
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" -append "$append"
    -drive "file=$dir/rootfs.raw,format=raw,if=virtio,snapshot=on"
    -drive "file=$payload,format=raw,if=virtio,readonly=on")
  if [[ $LAB_VERBOSE == 1 ]]; then
    "${qemu[@]}" </dev/null 2>&1 | tee "$logf" >&2 || rc=${PIPESTATUS[0]}
  else
    "${qemu[@]}" </dev/null >"$logf" 2>&1 || rc=$?
  fi
  sed -i -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' "$logf"
  return "$rc"
}

# system_results LOG KREL QRC: PASS/FAIL lines from the guest's "@@CHECK NAME PASS|FAIL ..."
# markers (each FAIL followed by its "    | " output lines); returns 1 on any problem.
system_results() {
  local logf=$1 krel=$2 qrc=$3 ok=0 line name rest
  while IFS= read -r line; do
    line=${line#*@@CHECK }
    name=${line%% *}
    rest=${line#* }
    if [[ $rest == PASS ]]; then
      printf '  PASS  %s  %s\n' "$krel" "$name"
      PASSED=$((PASSED + 1))
    else
      printf '  FAIL  %s  %s  (%s)\n' "$krel" "$name" "${rest#FAIL}"
      FAILED=$((FAILED + 1))
      ok=1
      awk -v b="@@CHECK $name FAIL" 'index($0, b) { on = 1; next } on && /^    \| / { print; next } on { exit }' "$logf"
    fi
  done < <(grep -aE '@@CHECK [^ ]+ (PASS|FAIL)' "$logf")
  if ! grep -q '@@LAB BEGIN' "$logf"; then
    log "$krel: the guest did not start the checks (qemu rc=$qrc); see $logf"
    grep -aE '@@LAB ABORT|Kernel panic|Failed to|emergency' "$logf" >&2 || tail -n 30 "$logf" >&2
    ok=1
  fi
  if ! grep -qE '@@LAB DONE rc=0$' "$logf"; then
    log "$krel: '@@LAB DONE rc=0' not seen (qemu rc=$qrc$([[ $qrc == 124 ]] && echo ', timeout')); see $logf"
    grep -aE '@@LAB DONE' "$logf" >&2 || true
    ok=1
  fi
  return "$ok"
}

# `lab.sh system-image`: build (or find) the image only.
cmd_system_image() {
  need_root
  HOST_PKGS+=("${SYSTEM_HOST_PKGS[@]}")
  ensure_host_tools
  with_lock
  resolve_kernel "$SYSTEM_SERIES"
  system_image "$(download_deb "$KPKG" "$KVER")"
  printf '%s\n' "$SYSIMG"
}

cmd_system() {
  need_root
  HOST_PKGS+=("${SYSTEM_HOST_PKGS[@]}")
  ensure_host_tools
  mkdir -p "$OUT_DIR"
  local deb t0=$SECONDS
  deb=$("$REPO_ROOT/tests/package/build-deb.sh") || die "building the .deb failed"
  log ".deb: $deb ($((SECONDS - t0))s)"
  local wheel
  wheel=$("$REPO_ROOT/tests/package/build-wheel.sh") || die "building the wheel failed"
  log "wheel: $wheel"
  with_lock
  resolve_kernel "$SYSTEM_SERIES"
  local kdeb
  kdeb=$(download_deb "$KPKG" "$KVER")
  system_image "$kdeb"
  local payload=$OUT_DIR/system-payload.img logf=$OUT_DIR/$KREL.system.log qrc=0
  system_payload "$deb" "$wheel" "$payload"
  log "booting $KREL with systemd (Debian $SYSTEM_SUITE), log: $logf"
  t0=$SECONDS
  system_boot "$SYSIMG" "$payload" "$logf" || qrc=$?
  log "$KREL finished in $((SECONDS - t0))s (qemu rc=$qrc)"
  PASSED=0
  FAILED=0
  local bad=0
  printf '%s system (%s %s, Debian %s, systemd):\n' "$SYSTEM_SERIES" "$KPKG" "$KVER" "$SYSTEM_SUITE"
  system_results "$logf" "$KREL" "$qrc" || bad=1
  # What the guest measured (the Mininet run's report), for doc/namespaces.md.
  grep -a '^@@FIGURE ' "$logf" | sed 's/^@@FIGURE /  /' || true
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  [[ $bad -eq 0 && $FAILED -eq 0 && $PASSED -gt 0 ]]
}

#!/usr/bin/env bash
# pgstate real-kernel test lab
# ============================
#
# Boots real Debian cloud kernels under qemu (TCG, no KVM needed) with a tiny
# busybox initramfs and runs the scenario scripts in tests/kernel/scenarios/
# against a real /proc/net/pktgen.
#
# Usage (as root, on Debian 12 / bookworm, x86_64; needs Debian's mirror, also
# for the bullseye/sid kernels):
#   lab.sh test [GLOB]     run scenarios matching GLOB (default '*', matched
#                          against the file name without .sh, e.g. '0*' or
#                          '01-binary'; a plain word that matches nothing is
#                          used as a prefix: `test 01`) on every kernel in
#                          PGSTATE_LAB_KERNELS;
#                          builds PGSTATE_BIN with `cargo build --release` if
#                          it does not exist. Prints per-kernel/per-scenario
#                          PASS/FAIL and a final line "N passed, N failed".
#                          With scenario 90-differential selected, each kernel
#                          also gets a `differential` entry (see below).
#   lab.sh prepare         install host packages, fetch + extract kernels only
#                          (and the pktgen samples with PGSTATE_LAB_SAMPLES=1)
#   lab.sh shell-cmd 'CMD' boot and run CMD (busybox sh) in the guest after the
#                          usual setup; prints its output, exits with its status
#   lab.sh try             boot and run tests/kernel/try.sh in the guest
#   lab.sh kernels         print the kernel packages that would be used
#   lab.sh bench [PARTS]   the benchmark (write counts against the lower bound, the kernel's
#                          sample scripts, plan/apply time, unrelated interfaces, watch);
#                          see tests/kernel/lab-bench.sh and BENCHMARKS.md
#   lab.sh system          the Debian package, the pgstate-watch service and the Ansible
#                          module on a Debian bookworm system (systemd) booted with the
#                          6.12 kernel; see tests/kernel/lab-system.sh
#   lab.sh system-image    only build (or find in the cache) that system's image
#
# What it does:
#   1. installs missing host tools with apt-get (--no-install-recommends; one
#      `apt-get update` only when something is missing);
#   2. picks the kernels (see below), fetches them with `apt-get download`
#      into the cache (<cache>/debs), extracts vmlinuz and the pktgen/dummy/veth/sch_netem
#      modules plus their modules.dep dependencies, decompressed (.ko.xz/.ko.zst
#      -> .ko) so busybox insmod can load them (<cache>/kernels/<release>).
#      sid's image package is split: it brings the linux-binary-<release>
#      (usr/lib/modules/<release>/vmlinuz) and linux-modules-<release> packages
#      it depends on. A warm cache does no download;
#   3. builds one initramfs per kernel (cpio newc + gzip) with busybox-static,
#      iproute2's `ip` at /sbin/ip (also /lab/ip), Debian's bash at /lab/bash
#      (and /bin/bash) and strace at /lab/strace (each + the shared libs `ldd`
#      reports), the modules, the pgstate binary (+ its shared libs),
#      <repo>/states at /states, guest-init.sh as /init, guest-lib.sh, the
#      selected scenarios and, with PGSTATE_LAB_SAMPLES=1, the kernel's
#      samples/pktgen/* at /samples/pktgen (see below);
#   4. boots each kernel once with qemu-system-x86_64 -accel tcg, logging the
#      console to <repo>/target/kernel-lab/<kernel-release>.log, and parses
#      the markers the guest prints (see guest-init.sh):
#        @@LAB BEGIN ...            guest setup finished
#        @@SCENARIO <name> BEGIN    scenario started
#        @@SCENARIO <name> PASS     scenario exited 0
#        @@SCENARIO <name> N/A      scenario exited 77: what it tests does not exist on
#                                   this kernel (it prints why); reported as N/A, neither
#                                   passed nor failed
#        @@SCENARIO <name> FAIL rc=N  (137: killed by the per-scenario time
#                                   limit; 125: pktgen reset failed; 126:
#                                   interface setup failed)
#        @@DMESG BEGIN / END        kernel log tail, printed if anything failed
#        @@CMD BEGIN / @@CMD END rc=N   (shell-cmd / try)
#        @@LAB ABORT <reason>       guest setup failed
#        @@LAB DONE                 guest finished; it then powers off
#        @@TRANSCRIPT BEGIN / @@TRANSCRIPT END lines=N
#                                   (scenario 90-differential) a live transcript
#      A scenario without PASS/FAIL, or a log without @@LAB DONE, is a failure.
#   5. differential check (when 90-differential is selected): the transcript the
#      guest recorded (tests/kernel/transcript.sh: the cases and writes of the
#      shared reference transcript PGSTATE_LAB_TRANSCRIPT_PLAN, refused ones
#      included, in a fresh network namespace) is saved as
#      <repo>/target/kernel-lab/transcripts/<kernel-release>.txt and replayed
#      through the simulator on the host:
#        PGSTATE_TRANSCRIPTS=<that file> cargo test --locked --release --test sim_transcripts
#      (cargo's output: target/kernel-lab/<kernel-release>.differential.log).
#      One more PASS/FAIL entry per kernel, named `differential`: it fails when
#      the transcript is missing or truncated or any write status, Result line,
#      Flags line, dump or listing differs between the simulator and the kernel.
#
# Writing scenarios (tests/kernel/scenarios/NN-name.sh, busybox sh): each runs
# in its own `sh` (cwd /root, stdin /dev/null) after guest-lib.sh was sourced;
# exit status 0 = PASS, 77 = N/A (only for a subject this kernel lacks; say why). Before each one pktgen is reset (no device files) and
# the interfaces are re-asserted: d0..d3 dummy up (MAC 02:00:00:00:00:0N),
# va/vb veth pair up (02:00:00:00:01:0a/0b), dn dummy down, lo up.
# pgstate is /usr/bin/pgstate, the repo's states/ is /states; `ip` is
# iproute2's (busybox ip cannot create veth pairs). See guest-lib.sh.
#
# Kernel selection (per series; printed on every run). Supported series:
# 5.10 6.1 6.12 7.2.
#   5.10 = dependency of linux-image-cloud-amd64 in Debian 11 (bullseye main +
#          bullseye-security), must be linux-image-5.10.0-N-cloud-amd64;
#          fallback: newest such package in those suites.
#   6.1  = dependency of the meta package linux-image-cloud-amd64 (the Debian 12
#          default cloud kernel, bookworm main/security), must be 6.1.*;
#          fallback: newest linux-image-6.1.*-cloud-amd64 known to apt.
#   6.12 = dependency of linux-image-6.12-cloud-amd64 (newest 6.12 cloud
#          kernel in the configured apt sources); fallback: newest
#          linux-image-6.12.*-cloud-amd64 known to apt.
#   7.2  = dependency of linux-image-cloud-amd64 in Debian sid, must be
#          linux-image-7.2.*+debN-cloud-amd64; fallback: newest such package in
#          sid (sid drops old kernels: once it has moved past 7.2, only a cached
#          7.2 or PGSTATE_LAB_PKG_7_2 of a package still on the mirror works).
#   6.1 and 6.12 come from the host's configured apt sources (bookworm). 5.10 and
#   7.2 come from other suites, read through a private apt configuration under
#   <cache>/apt/<suite>/: its own sources.list (the Debian mirror, and for
#   bullseye the security mirror, that the host's apt already uses, with
#   signed-by=/usr/share/keyrings/debian-archive-keyring.gpg, Packages indexes
#   only), package lists, apt cache, an empty dpkg status and no preferences,
#   passed to apt-cache and apt-get download as -o options, so the host's apt
#   state is untouched. Its `apt-get update` runs when its lists are missing
#   and no kernel of the series is cached, or when a download fails; delete
#   <cache>/apt/<suite>/lists to pick up newer kernels.
#   If apt knows no kernel of a series, the newest kernel of that series
#   already in the cache is used (offline re-runs).
#
# Guest tools (in the initramfs unless PGSTATE_LAB_TOOLS=0): /lab/bash and /lab/strace
# are Debian's (the host's) bash and strace. Call tools by path: busybox sh
# runs its own applet for names like `ip` even when PATH has another binary
# (guest-lib.sh wraps `ip` as /sbin/ip). bash has no such problem: under
# /lab/bash, `ip` on PATH is iproute2's /sbin/ip.
#
# pktgen samples (PGSTATE_LAB_SAMPLES=1, for benchmarks and scenarios 55-import and
# 56-import-running, which turn it on): for each booted series,
# Debian's linux-source-<series> (150 MB; same apt sources as the kernel; the
# kernel's version when apt has it) is downloaded into <cache>/debs and only
# samples/pktgen/* is extracted from /usr/src/linux-source-<series>.tar.xz into
# <cache>/samples/linux-source-<series>_<version>/pktgen; the guest gets them at
# /samples/pktgen/. Run them with bash, e.g.
#   lab.sh shell-cmd '/lab/bash /samples/pktgen/pktgen_sample01_simple.sh -i d0 \
#     -d 198.18.0.42 -m 02:00:00:00:00:01 -n 1 -a'
# They are GPL-2.0 kernel files: they live in the cache and the guest only,
# never copy them into this repository.
#
# Environment:
#   PGSTATE_BIN          pgstate binary to test (default <repo>/target/x86_64-unknown-linux-gnu/release/pgstate,
#                        honouring CARGO_TARGET_DIR)
#   PGSTATE_LAB_CACHE    cache dir (default /var/cache/pgstate-lab)
#   PGSTATE_LAB_KERNELS  series to use, any of "5.10 6.1 6.12 7.2" (default for
#                        test/prepare/kernels: all four; bench: "6.1 6.12"; shell-cmd/try: "6.12")
#   PGSTATE_LAB_PKG_5_10, PGSTATE_LAB_PKG_6_1, PGSTATE_LAB_PKG_6_12, PGSTATE_LAB_PKG_7_2
#                        force an exact package name for a series
#                        (e.g. linux-image-6.1.0-56-cloud-amd64)
#   PGSTATE_LAB_TOOLS    1 (default) = /lab/bash and /lab/strace in the guest; 0 = leave
#                        them out
#   PGSTATE_LAB_SAMPLES  1 = fetch linux-source-<series> and put samples/pktgen/*
#                        into the guest at /samples/pktgen (default 0; `test` turns it on
#                        when scenario 55-import or 56-import-running is selected)
#   PGSTATE_LAB_MEM      guest memory in MiB (default 512)
#   PGSTATE_LAB_SMP      guest vCPUs (default 2; pktgen gets one kpktgend_N per vCPU)
#   PGSTATE_LAB_JOBS     guests booted at once by `test` and `bench writes` (default: the
#                        host's cores; each guest is one qemu on one host thread). The
#                        timed bench parts always boot one guest at a time.
#   PGSTATE_LAB_BOOT_TIMEOUT      seconds per qemu boot (default 1200)
#   PGSTATE_LAB_SCENARIO_TIMEOUT  seconds per scenario inside the guest (default 360)
#                        Both only catch hangs. Measured on 2 cores shared with other
#                        jobs (load 3-6): a whole test run took 80-240 s per kernel and
#                        15-transitions alone took over 120 s on 6.1.
#   PGSTATE_LAB_STRIP    1 (default) = strip debug info from the pgstate copy in
#                        the initramfs (smaller/faster boot); 0 = copy as is
#   PGSTATE_LAB_VERBOSE  1 = also stream the guest console to stderr
#   PGSTATE_LAB_APPEND   extra kernel command line arguments
#   PGSTATE_LAB_TRANSCRIPT_PLAN  reference transcript whose cases transcript.sh
#                        performs (default <repo>/../shared/pktgen/transcripts/linux-6.12.txt)
#
# Writes only to the cache dir (debs/, kernels/, apt/, samples/), <repo>/target/kernel-lab/, cargo's target dir (the
# differential check builds tests/sim_transcripts.rs) and (via apt) the system.

set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE=${PGSTATE_LAB_CACHE:-/var/cache/pgstate-lab}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$REPO_ROOT/$TARGET_DIR ;; esac
PGSTATE_BIN=${PGSTATE_BIN:-$TARGET_DIR/x86_64-unknown-linux-gnu/release/pgstate}
OUT_DIR=$REPO_ROOT/target/kernel-lab
LAB_MEM=${PGSTATE_LAB_MEM:-512}
LAB_SMP=${PGSTATE_LAB_SMP:-2}
# Single-threaded TCG: with one host thread per vCPU (MTTCG) the guest kernel's live code
# patching (text_poke_bp, int3 on the other vCPU) races under emulation and oopses now and
# then ("Oops: int3" in sched_clock_cpu, seen on 6.12). Round-robin vCPUs never race.
LAB_ACCEL=${PGSTATE_LAB_ACCEL:-tcg,thread=single}
# Guests booted at once by `test`: each is one qemu on one host thread (thread=single), so
# one per core; two halve the suite on a 2-core machine.
LAB_JOBS=${PGSTATE_LAB_JOBS:-$(nproc 2>/dev/null || echo 1)}
[[ $LAB_JOBS =~ ^[1-9][0-9]*$ ]] || LAB_JOBS=1
BOOT_TIMEOUT=${PGSTATE_LAB_BOOT_TIMEOUT:-1200}
SCENARIO_TIMEOUT=${PGSTATE_LAB_SCENARIO_TIMEOUT:-360}
LAB_STRIP=${PGSTATE_LAB_STRIP:-1}
LAB_VERBOSE=${PGSTATE_LAB_VERBOSE:-0}
LAB_APPEND=${PGSTATE_LAB_APPEND:-}
LAB_SAMPLES=${PGSTATE_LAB_SAMPLES:-0}
LAB_TOOLS=${PGSTATE_LAB_TOOLS:-1}
TRANSCRIPT_PLAN=${PGSTATE_LAB_TRANSCRIPT_PLAN:-$REPO_ROOT/../shared/pktgen/transcripts/linux-6.12.txt}
# the scenario that records a live transcript (step 5 of the header)
DIFF_SCENARIO=90-differential
# the scenarios that run the kernel's samples/pktgen scripts: selecting one turns on
# PGSTATE_LAB_SAMPLES
SAMPLES_SCENARIOS=" 55-import 56-import-running "

# Modules the guest needs, with insmod parameters. Dependencies are added
# (and ordered) from modules.dep.
# sch_netem: the receivers' lab scenarios put known loss, reordering, duplication and delay
# on a veth path with `tc qdisc ... netem`. virtio_net (and its transport virtio_pci, a
# module on 5.10 and 6.1, built in since): the two NICs joined by a qemu hub (see boot), the
# lab's one driver that lets pktgen send an skb several times. A name with a leading `?` is
# loaded when the kernel has it as a module and taken as built in otherwise (7.2's split
# packages ship no modules.builtin); guest-init.sh checks that the NICs appeared.
GUEST_MODULES=("pktgen" "dummy numdummies=0" "veth" "sch_netem" "?virtio_pci" "virtio_net")

# host package -> a command (or file) proving it is installed
HOST_PKGS=(
  "qemu-system-x86:qemu-system-x86_64"
  "busybox-static:/bin/busybox"
  "cpio:cpio"
  "xz-utils:xz"
  "zstd:zstd"
  "kmod:depmod"
  "iproute2:ip"
  "gzip:gzip"
  "coreutils:timeout"
  "util-linux:flock"
  "libc-bin:ldd"
  "bash:/bin/bash"
  "strace:strace"
  "bsdutils:script"
)

APT_UPDATED=0

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

need_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, mknod, cache in $CACHE)"
}

# Runs `apt-get update` at most once per lab.sh invocation (also across the
# subshells used below: $$ is the top-level shell's pid).
apt_update_once() {
  local stamp=$CACHE/.apt-updated
  if [[ $APT_UPDATED -eq 0 && $(cat "$stamp" 2>/dev/null) != "$$" ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    mkdir -p "$CACHE"
    printf '%s\n' "$$" >"$stamp"
    APT_UPDATED=1
  fi
}

have() {
  local probe=$1
  if [[ $probe == /* ]]; then
    [[ -x $probe ]]
  else
    command -v "$probe" >/dev/null 2>&1 ||
      [[ -x /sbin/$probe || -x /usr/sbin/$probe ]]
  fi
}

ensure_host_tools() {
  local missing=() entry pkg probe
  for entry in "${HOST_PKGS[@]}"; do
    pkg=${entry%%:*}
    probe=${entry#*:}
    if ! have "$probe" || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    need_root
    apt_update_once
    log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
      die "apt-get install ${missing[*]} failed"
  fi
  local entry2
  for entry2 in "${HOST_PKGS[@]}"; do
    have "${entry2#*:}" || die "${entry2#*:} still missing after installing ${entry2%%:*}"
  done
}

# ---------------------------------------------------------------- kernels --

SUPPORTED_SERIES="5.10 6.1 6.12 7.2"
# What `test`, `prepare` and `kernels` use by default: all four generations (issue 11).
LAB_SERIES=$SUPPORTED_SERIES

# series_suite SERIES: "" = the host's configured apt sources (bookworm), else the
# Debian suite read through a private apt configuration (see private_apt_dir).
series_suite() {
  case $1 in
    5.10) echo bullseye ;;
    6.1 | 6.12) echo "" ;;
    7.2) echo sid ;;
    *) die "unknown kernel series '$1' (supported: $SUPPORTED_SERIES)" ;;
  esac
}

series_meta() {
  case $1 in
    5.10) echo linux-image-cloud-amd64 ;; # in bullseye(-security)
    6.1) echo linux-image-cloud-amd64 ;;
    6.12) echo linux-image-6.12-cloud-amd64 ;;
    7.2) echo linux-image-cloud-amd64 ;; # in sid; falls back to the newest 7.2 once sid moves on
    *) die "unknown kernel series '$1' (supported: $SUPPORTED_SERIES)" ;;
  esac
}

# Regex a linux-image package name of the series must match.
series_regex() {
  case $1 in
    5.10) echo '^linux-image-5\.10\.0-[0-9]+-cloud-amd64$' ;;
    6.1) echo '^linux-image-6\.1\.[0-9]+-[0-9]+-cloud-amd64$' ;;
    6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$' ;;
    7.2) echo '^linux-image-7\.2\.[0-9]+\+deb[0-9]+-cloud-amd64$' ;;
  esac
}

# ------------------------------------------------------------ private apt --
#
# Series of other suites (bullseye, sid) are read through a private apt
# configuration under $CACHE/apt/SUITE: its own sources.list (the Debian mirror
# the host's apt already uses, signed-by the archive keyring), package lists,
# cache, an empty dpkg status and no preferences, so the host's apt state and
# sources stay untouched. `apt-get update` for it runs only when its lists are
# missing or a download failed (at most once per suite and lab.sh run).

private_apt_dir() { printf '%s/apt/%s\n' "$CACHE" "$1"; }

# apt_opts SUITE: prints the apt -o options (one per line) for SUITE ("" = none).
apt_opts() {
  local suite=$1 d
  [[ -n $suite ]] || return 0
  d=$(private_apt_dir "$suite")
  printf '%s\n' -o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o Dir::State::status=/dev/null \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
}

# suite_apt_cache SUITE ARGS... / suite_apt_get SUITE ARGS...
suite_apt_cache() {
  local suite=$1 opts
  shift
  mapfile -t opts < <(apt_opts "$suite")
  apt-cache "${opts[@]}" "$@"
}
suite_apt_get() {
  local suite=$1 opts
  shift
  mapfile -t opts < <(apt_opts "$suite")
  apt-get "${opts[@]}" "$@"
}

# host_debian_uri KIND: the host apt's Debian archive URI (KIND=debian) or
# security archive URI (KIND=debian-security), e.g. http://deb.debian.org/debian/
host_debian_uri() {
  # shellcheck disable=SC2016  # $(REPO_URI) is apt's format placeholder
  apt-get indextargets --no-release-info --format '$(REPO_URI)' 2>/dev/null |
    grep -E "^https?://[^/]+(/[^ ]*)?/$1/\$" | head -n1 || true
}

# private_sources SUITE: write $CACHE/apt/SUITE/sources.list (only Packages indexes).
private_sources() {
  local suite=$1 d main sec opt
  d=$(private_apt_dir "$suite")
  main=$(host_debian_uri debian)
  [[ -n $main ]] || die "no Debian archive (…/debian/) in the host's apt sources: cannot read $suite"
  opt='[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg target=Packages]'
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  {
    printf 'deb %s %s %s main\n' "$opt" "${main%/}" "$suite"
    if [[ $suite != sid ]]; then
      sec=$(host_debian_uri debian-security)
      [[ -n $sec ]] && printf 'deb %s %s %s-security main\n' "$opt" "${sec%/}" "$suite"
    fi
  } >"$d/sources.list.tmp"
  mv "$d/sources.list.tmp" "$d/sources.list"
}

# suite_has_lists SUITE: package lists present (host sources: always assumed).
suite_has_lists() {
  [[ -z $1 ]] && return 0
  compgen -G "$(private_apt_dir "$1")/lists/*_Packages*" >/dev/null
}

# suite_update SUITE: `apt-get update` of the host ("") or a private suite,
# at most once per lab.sh run.
suite_update() {
  local suite=$1
  if [[ -z $suite ]]; then
    apt_update_once
    return
  fi
  local stamp
  stamp=$(private_apt_dir "$suite")/.updated
  [[ $(cat "$stamp" 2>/dev/null) == "$$" ]] && return 0
  need_root
  private_sources "$suite"
  log "apt-get update ($suite, private apt configuration $(private_apt_dir "$suite"))"
  DEBIAN_FRONTEND=noninteractive suite_apt_get "$suite" update -qq >&2 ||
    die "apt-get update for $suite failed"
  printf '%s\n' "$$" >"$stamp"
}

# Print the kernel image package chosen for a series, from apt metadata.
apt_pick_pkg() {
  local series=$1 meta re pkg suite
  meta=$(series_meta "$series")
  re=$(series_regex "$series")
  suite=$(series_suite "$series")
  suite_has_lists "$suite" || return 0
  pkg=$(suite_apt_cache "$suite" depends --important "$meta" 2>/dev/null |
    sed -n 's/^ *Depends: *//p' | grep -E "$re" | sort -V | tail -n1 || true)
  if [[ -z $pkg ]]; then
    pkg=$(suite_apt_cache "$suite" pkgnames linux-image- 2>/dev/null | grep -E "$re" | sort -V | tail -n1 || true)
  fi
  [[ -n $pkg ]] && printf '%s\n' "$pkg"
}

# pkg_candidate_version PKG [SUITE]
pkg_candidate_version() {
  suite_apt_cache "${2:-}" policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' || true
}

# Newest kernel release of a series that is fully extracted in the cache.
cached_release() {
  local series=$1 re rel d
  re=$(series_regex "$series")
  re=${re#^linux-image-}
  re=${re%\$}
  rel=""
  for d in "$CACHE"/kernels/*/; do
    [[ -f $d/.complete ]] || continue
    d=${d%/}
    d=${d##*/}
    if grep -qE "^${re}\$" <<<"$d"; then rel=$d; fi
  done
  [[ -n $rel ]] && printf '%s\n' "$rel"
}

# Sets KPKG KVER KREL KSUITE for a series (does not download; may read package
# lists: `apt-get update` only when apt knows no kernel of the series and none is cached).
resolve_kernel() {
  local series=$1 override_var
  KSUITE=$(series_suite "$series")
  override_var=PGSTATE_LAB_PKG_${series//./_}
  KPKG=${!override_var:-}
  if [[ -z $KPKG ]]; then
    KPKG=$(apt_pick_pkg "$series" || true)
    if [[ -z $KPKG ]]; then
      local crel
      crel=$(cached_release "$series" || true)
      if [[ -z $crel ]]; then
        need_root
        suite_update "$KSUITE"
        KPKG=$(apt_pick_pkg "$series" || true)
      else
        KPKG=linux-image-$crel
      fi
    fi
  fi
  [[ -n $KPKG ]] || die "no $series cloud kernel package found in the apt sources${KSUITE:+ ($KSUITE)}"
  KREL=${KPKG#linux-image-}
  KVER=$(pkg_candidate_version "$KPKG" "$KSUITE")
  if [[ -z $KVER && -f $CACHE/kernels/$KREL/.complete ]]; then
    KVER=$(cat "$CACHE/kernels/$KREL/.complete")
  fi
  [[ -n $KVER ]] || die "apt has no candidate version for $KPKG"
}

# download_deb PKG VER [SUITE]: the cached .deb's path (downloads it if missing).
download_deb() {
  local pkg=$1 ver=$2 suite=${3:-} debdir=$CACHE/debs deb
  mkdir -p "$debdir"
  rm -rf "$debdir"/.dl.*
  # apt names it PKG_VER_ARCH.deb and encodes ':' (epoch) as %3a
  local want
  for want in "$debdir/${pkg}_${ver//:/%3a}"_*.deb; do
    if [[ -f $want ]]; then
      printf '%s\n' "$want"
      return
    fi
  done
  log "downloading $pkg=$ver"
  local tmp
  tmp=$(mktemp -d "$debdir/.dl.XXXXXX")
  if ! (cd "$tmp" && suite_apt_get "$suite" download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2); then
    suite_update "$suite"
    (cd "$tmp" && suite_apt_get "$suite" download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2) || {
      rm -rf "$tmp"
      die "apt-get download $pkg=$ver failed"
    }
  fi
  deb=$(find "$tmp" -maxdepth 1 -name '*.deb' -print | head -n1)
  [[ -n $deb ]] || { rm -rf "$tmp"; die "apt-get download produced no .deb for $pkg"; }
  want=$debdir/$(basename "$deb")
  mv "$deb" "$want"
  rm -rf "$tmp"
  printf '%s\n' "$want"
}

decompress_ko() {
  local src=$1 dst=$2
  case $src in
    *.ko) cp "$src" "$dst" ;;
    *.ko.xz) xz -dc "$src" >"$dst" ;;
    *.ko.zst) zstd -q -dc "$src" >"$dst" ;;
    *.ko.gz) gzip -dc "$src" >"$dst" ;;
    *) die "unknown module format: $src" ;;
  esac
}

# kernel_debs: download the .debs of $KPKG=$KVER (from $KSUITE) and print their
# paths. A split image package (sid since 7.x: the package itself is empty, the
# kernel is in linux-binary-$KREL and the modules in linux-modules-$KREL) also
# brings every linux-binary-*/linux-modules-* package it depends on.
kernel_debs() {
  local deps dep
  download_deb "$KPKG" "$KVER" "$KSUITE"
  deps=$(suite_apt_cache "$KSUITE" show "$KPKG=$KVER" 2>/dev/null |
    awk '/^Depends:/ { sub(/^Depends: */, ""); print; exit }' | tr ',' '\n' |
    sed -nE 's/^ *(linux-(binary|modules)-[^ ]+) \(= ([^)]+)\).*$/\1=\3/p')
  for dep in $deps; do
    download_deb "${dep%%=*}" "${dep#*=}" "$KSUITE"
  done
}

# extract_kernel DEB...: vmlinuz + needed modules of $KREL from its .debs into the cache.
extract_kernel() {
  local kdir=$CACHE/kernels/$KREL deb
  # .modules: a kernel prepared with another GUEST_MODULES list is prepared again.
  if [[ -f $kdir/.complete && $(cat "$kdir/.complete") == "$KVER" &&
    $(cat "$kdir/.modules" 2>/dev/null) == "${GUEST_MODULES[*]}" ]]; then
    return
  fi
  log "extracting $KREL"
  rm -rf "$CACHE"/kernels/.x.*
  local tmp
  tmp=$(mktemp -d "$CACHE/kernels/.x.XXXXXX")
  for deb in "$@"; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" || die "cannot unpack $deb"
  done
  local moddir
  if [[ -d $tmp/lib/modules/$KREL ]]; then
    moddir=lib/modules/$KREL
  elif [[ -d $tmp/usr/lib/modules/$KREL ]]; then
    moddir=usr/lib/modules/$KREL
  else
    die "no modules directory for $KREL in $deb"
  fi
  local base=$tmp
  [[ $moddir == usr/* ]] && base=$tmp/usr
  # Debian does not ship modules.dep (generated at install time): build it.
  depmod -b "$base" "$KREL" || die "depmod failed for $KREL"
  local mroot=$base/lib/modules/$KREL out=$tmp/out
  mkdir -p "$out/modules"
  # bookworm and older: /boot/vmlinuz-$KREL; split packages: /usr/lib/modules/$KREL/vmlinuz
  local vml=$tmp/boot/vmlinuz-$KREL
  [[ -f $vml ]] || vml=$tmp/$moddir/vmlinuz
  cp "$vml" "$out/vmlinuz" || die "no vmlinuz for $KREL in $*"
  : >"$out/modules.load"
  local -A seen=()
  local spec name params line path deps d list
  for spec in "${GUEST_MODULES[@]}"; do
    name=${spec%% *}
    params=""
    [[ $spec == *" "* ]] && params=${spec#* }
    local optional=0
    [[ $name == \?* ]] && optional=1 && name=${name#\?}
    if grep -qE "/${name}\.ko(\.[a-z]+)?\$" "$mroot/modules.builtin" 2>/dev/null; then
      log "  $name is built into $KREL"
      continue
    fi
    if ! line=$(grep -E "(^|/)${name}\.ko(\.[a-z]+)?:" "$mroot/modules.dep" | head -n1); then
      [[ $optional == 1 ]] || die "module $name not found in $KREL modules.dep"
      log "  $name is not a module of $KREL: taken as built in"
      continue
    fi
    path=${line%%:*}
    deps=${line#*:}
    # modules.dep lists deps so that the last one must be loaded first
    list=()
    for d in $deps; do list=("$d" "${list[@]}"); done
    list+=("$path")
    for d in "${list[@]}"; do
      [[ -n ${seen[$d]:-} ]] && continue
      seen[$d]=1
      local ko
      ko=$(basename "$d")
      ko=${ko%.xz}; ko=${ko%.zst}; ko=${ko%.gz}
      decompress_ko "$mroot/$d" "$out/modules/$ko"
      if [[ $d == "$path" ]]; then
        printf '%s %s\n' "$ko" "$params" >>"$out/modules.load"
      else
        printf '%s\n' "$ko" >>"$out/modules.load"
      fi
    done
  done
  printf '%s\n' "$KVER" >"$out/.complete"
  printf '%s\n' "${GUEST_MODULES[*]}" >"$out/.modules"
  rm -rf "$kdir"
  mv "$out" "$kdir"
  rm -rf "$tmp"
}

# prepare_samples SERIES: prints the cache directory holding samples/pktgen/* of
# Debian's linux-source-SERIES (after resolve_kernel: same apt sources as the
# kernel; the version of the booted kernel when apt has it, else the candidate,
# else the newest already cached). Downloads the package (150 MB, kept in the
# cache) and extracts only samples/pktgen/ from its tarball. These files are
# GPL-2.0: they only go into the guest, never into the repository.
prepare_samples() {
  local series=$1 pkg=linux-source-$1 ver="" dir d
  if suite_apt_cache "$KSUITE" show "$pkg=$KVER" >/dev/null 2>&1; then
    ver=$KVER
  else
    ver=$(pkg_candidate_version "$pkg" "$KSUITE")
  fi
  if [[ -z $ver ]]; then
    for d in "$CACHE/samples/${pkg}_"*/; do
      [[ -f $d/.complete ]] && dir=${d%/}
    done
    [[ -n ${dir:-} ]] || die "apt knows no $pkg${KSUITE:+ ($KSUITE)} and none is cached"
    printf '%s/pktgen\n' "$dir"
    return
  fi
  dir=$CACHE/samples/${pkg}_${ver//:/%3a}
  if [[ ! -f $dir/.complete ]]; then
    need_root
    local deb tmp
    deb=$(download_deb "$pkg" "$ver" "$KSUITE")
    log "extracting samples/pktgen from $(basename "$deb")"
    mkdir -p "$CACHE/samples"
    rm -rf "$CACHE"/samples/.x.*
    tmp=$(mktemp -d "$CACHE/samples/.x.XXXXXX")
    dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" |
      tar -xJ -C "$tmp" --wildcards "$pkg/samples/pktgen/*" ||
      die "cannot extract samples/pktgen from $deb"
    [[ -f $tmp/$pkg/samples/pktgen/functions.sh ]] || die "no samples/pktgen/functions.sh in $deb"
    mkdir -p "$tmp/out"
    mv "$tmp/$pkg/samples/pktgen" "$tmp/out/pktgen"
    printf '%s\n' "$ver" >"$tmp/out/.complete"
    rm -rf "$dir"
    mv "$tmp/out" "$dir"
    rm -rf "$tmp"
  fi
  printf '%s/pktgen\n' "$dir"
}

# prepare_kernel SERIES: resolve, download, extract. Sets KPKG KVER KREL KDIR.
prepare_kernel() {
  local series=$1
  resolve_kernel "$series"
  KDIR=$CACHE/kernels/$KREL
  if [[ ! -f $KDIR/.complete || $(cat "$KDIR/.complete") != "$KVER" ||
    $(cat "$KDIR/.modules" 2>/dev/null) != "${GUEST_MODULES[*]}" ]]; then
    need_root
    mkdir -p "$CACHE/kernels"
    local debs
    debs=$(kernel_debs)
    # shellcheck disable=SC2086  # one path per line, no blanks in cache paths
    extract_kernel $debs
  fi
  local mods
  mods=$(sed 's/[[:space:]]*$//' "$KDIR/modules.load" | paste -sd, -)
  log "kernel $series: $KPKG $KVER (insmod order: $mods)"
  SAMPLES_DIR=""
  if [[ $LAB_SAMPLES == 1 ]]; then
    SAMPLES_DIR=$(prepare_samples "$series")
    log "kernel $series: pktgen samples from $SAMPLES_DIR"
  fi
}

# -------------------------------------------------------------- initramfs --

# copy_with_libs SRC DEST_IN_ROOT ROOT: copy an executable and its ldd deps.
copy_with_libs() {
  local src=$1 dst=$2 root=$3
  mkdir -p "$root/$(dirname "$dst")"
  cp -L "$src" "$root/$dst"
  chmod 0755 "$root/$dst"
  local out lib
  if ! out=$(ldd "$src" 2>&1); then
    # "not a dynamic executable" (static binary) is fine
    grep -qE 'not a dynamic executable|statically linked' <<<"$out" && return 0
    die "ldd $src failed: $out"
  fi
  grep -q 'not found' <<<"$out" && die "ldd $src: missing libraries: $out"
  # lines look like "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
  # or "/lib64/ld-linux-x86-64.so.2 (0x...)"
  while read -r lib; do
    [[ -e $lib ]] || continue
    [[ -e $root/$lib ]] && continue
    mkdir -p "$root/$(dirname "$lib")"
    cp -L "$lib" "$root/$lib"
  done < <(grep -oE '(^|[[:space:]])/[^[:space:]]+' <<<"$out" | sed 's/^[[:space:]]*//')
}

# Build the kernel-independent part of the initramfs tree in $1.
# MODE is "test" or "cmd"; for cmd, $3 is a file with the command script.
build_common_tree() {
  local root=$1 mode=$2 cmdfile=${3:-} glob=${4:-*}
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,root,lab/scenarios,lib/modules,states}
  cp /bin/busybox "$root/bin/busybox"
  local applet
  while read -r applet; do
    [[ -n $applet ]] || continue
    [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
  done < <(/bin/busybox --list)
  # iproute2's ip: busybox ip cannot create veth pairs
  local ipbin
  ipbin=$(command -v ip)
  rm -f "$root/bin/ip"
  copy_with_libs "$ipbin" /sbin/ip "$root"
  ln -s /sbin/ip "$root/lab/ip"
  # iproute2's tc, for netem on the receivers' paths
  copy_with_libs "$(command -v tc)" /sbin/tc "$root"
  # Debian's bash and strace for benchmarks and debugging. Call them by path:
  # /lab/bash, /lab/strace (/bin/bash too, for #!/bin/bash scripts).
  if [[ $LAB_TOOLS == 1 ]]; then
    copy_with_libs /bin/bash /lab/bash "$root"
    rm -f "$root/bin/bash"
    ln -s /lab/bash "$root/bin/bash"
    copy_with_libs "$(command -v strace)" /lab/strace "$root"
    # util-linux's script: a pty for what draws only on a terminal (the bench's sampling part)
    copy_with_libs "$(command -v script)" /lab/script "$root"
  fi
  # pgstate
  copy_with_libs "$PGSTATE_BIN" /usr/bin/pgstate "$root"
  if [[ $LAB_STRIP == 1 ]] && command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$root/usr/bin/pgstate" 2>/dev/null || true
  fi
  if [[ -d $REPO_ROOT/states ]]; then
    cp -a "$REPO_ROOT/states/." "$root/states/"
  fi
  cp "$SCRIPT_DIR/guest-init.sh" "$root/init"
  chmod 0755 "$root/init"
  cp "$SCRIPT_DIR/guest-lib.sh" "$root/lab/guest-lib.sh"
  # live transcripts (scenario 90-differential); without the plan that scenario fails
  cp "$SCRIPT_DIR/transcript.sh" "$root/lab/transcript.sh"
  if [[ -f $TRANSCRIPT_PLAN ]]; then
    cp "$TRANSCRIPT_PLAN" "$root/lab/transcript-plan.txt"
  fi
  if [[ $mode == test ]]; then
    local f name
    for f in "$SCRIPT_DIR"/scenarios/*.sh; do
      [[ -e $f ]] || continue
      name=$(basename "$f" .sh)
      # shellcheck disable=SC2053  # glob match intended
      [[ $name == $glob ]] || continue
      cp "$f" "$root/lab/scenarios/$name.sh"
    done
  else
    cp "$cmdfile" "$root/lab/cmd.sh"
  fi
  {
    printf 'LAB_MODE=%s\n' "$mode"
    printf 'LAB_SCENARIO_TIMEOUT=%s\n' "$SCENARIO_TIMEOUT"
  } >"$root/lab/config"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  [[ -e $root/dev/console ]] || mknod -m 600 "$root/dev/console" c 5 1
  [[ -e $root/dev/null ]] || mknod -m 666 "$root/dev/null" c 1 3
}

# cpio_gz DIR OUT [FIND_ARGS...]: gzip'ed newc archive of DIR, owned by root.
cpio_gz() {
  local dir=$1 out=$2
  shift 2
  (cd "$dir" && find . -mindepth 1 "$@" -print0 | LC_ALL=C sort -z |
    cpio --quiet -o -0 -H newc -R 0:0) | gzip -1 >"$out"
}

# build_initramfs COMMON_CPIO_GZ KDIR OUT [SAMPLES_DIR]: the common archive
# followed by an archive with the kernel's modules and, when given, the pktgen
# samples at /samples/pktgen (the kernel unpacks concatenated archives).
build_initramfs() {
  local common=$1 kdir=$2 out=$3 samples=${4:-} work
  work=$(mktemp -d "$OUT_DIR/.rootfs.XXXXXX")
  mkdir -p "$work/lib/modules"
  cp "$kdir"/modules/*.ko "$work/lib/modules/" 2>/dev/null || true
  cp "$kdir/modules.load" "$work/lib/modules/modules.load"
  if [[ -n $samples ]]; then
    mkdir -p "$work/samples"
    cp -r "$samples" "$work/samples/pktgen"
  fi
  cpio_gz "$work" "$work.cpio.gz" \( -type f -o -path './samples*' \)
  cat "$common" "$work.cpio.gz" >"$out.tmp"
  mv "$out.tmp" "$out"
  rm -rf "$work" "$work.cpio.gz"
}

# ------------------------------------------------------------------- boot --

# boot KDIR INITRD LOG -> qemu exit status (124 = timeout)
boot() {
  local kdir=$1 initrd=$2 logf=$3 rc=0
  local append="console=ttyS0,115200 panic=-1 quiet loglevel=4 mitigations=off $LAB_APPEND"
  # --foreground: stay in the terminal's process group so ^C reaches qemu
  # shellcheck disable=SC2054  # qemu's option values are comma-separated lists
  local qemu=(timeout --foreground -k 10 "$BOOT_TIMEOUT"
    qemu-system-x86_64 -accel "$LAB_ACCEL" -cpu max -m "$LAB_MEM" -smp "$LAB_SMP"
    -nodefaults -no-user-config -nographic -serial stdio -monitor none -no-reboot
    -kernel "$kdir/vmlinuz" -initrd "$initrd" -append "$append"
    # Two virtio NICs on one qemu hub, so a frame one sends the other receives: pktgen's
    # clone_skb and burst need a driver with IFF_TX_SKB_SHARING, which veth and every
    # other virtual link of the guest clear (scenario 98-receivers-encap). The guest names
    # them n0 and n1 (guest-init.sh).
    -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,mac=02:00:00:00:07:01
    -netdev hubport,id=n1,hubid=0 -device virtio-net-pci,netdev=n1,mac=02:00:00:00:07:02)
  if [[ $LAB_VERBOSE == 1 ]]; then
    "${qemu[@]}" </dev/null 2>&1 | tee "$logf" >&2 || rc=${PIPESTATUS[0]}
  else
    "${qemu[@]}" </dev/null >"$logf" 2>&1 || rc=$?
  fi
  # the serial console uses CRLF; SeaBIOS prints terminal escapes
  sed -i -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' "$logf"
  return "$rc"
}

# boot_guests JOBS TAG KREL...: boots each kernel of the cache with
# $OUT_DIR/KREL.TAGinitramfs.gz, JOBS guests at once (each is one qemu on one host thread),
# its console in $OUT_DIR/KREL.TAGlog; waits for all. guest_rc KREL TAG: qemu's exit code.
boot_guests() {
  local jobs=$1 tag=$2 krel running=0
  shift 2
  for krel in "$@"; do
    rm -f "$OUT_DIR/$krel.${tag}qrc"
    log "booting $krel ($(du -h "$OUT_DIR/$krel.${tag}initramfs.gz" | cut -f1) initramfs), log: $OUT_DIR/$krel.${tag}log"
    (
      t0=$(date +%s)
      qrc=0
      boot "$CACHE/kernels/$krel" "$OUT_DIR/$krel.${tag}initramfs.gz" "$OUT_DIR/$krel.${tag}log" || qrc=$?
      t1=$(date +%s)
      log "$krel finished in $((t1 - t0))s (qemu rc=$qrc)"
      echo "$qrc" >"$OUT_DIR/$krel.${tag}qrc"
    ) &
    running=$((running + 1))
    if [[ $running -ge $jobs ]]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait
}

guest_rc() {
  cat "$OUT_DIR/$1.${2}qrc" 2>/dev/null || echo 1
}

ensure_pgstate_bin() {
  if [[ ! -e $PGSTATE_BIN ]]; then
    log "$PGSTATE_BIN missing: building pgstate (cargo build --release)"
    command -v cargo >/dev/null 2>&1 || die "cargo not found (needed to build $PGSTATE_BIN)"
    (cd "$REPO_ROOT" && cargo build --release >&2) || die "cargo build --release failed"
    [[ -e $PGSTATE_BIN ]] || die "pgstate binary not found: $PGSTATE_BIN"
  fi
  [[ -x $PGSTATE_BIN ]] || die "$PGSTATE_BIN is not executable"
}

# kernels_for DEFAULT: the series to use (PGSTATE_LAB_KERNELS or DEFAULT).
kernels_for() {
  local s series_list=${PGSTATE_LAB_KERNELS:-$1}
  for s in $series_list; do
    case $s in
      5.10 | 6.1 | 6.12 | 7.2) ;;
      *) die "unknown kernel series '$s' in PGSTATE_LAB_KERNELS (supported: $SUPPORTED_SERIES)" ;;
    esac
  done
  [[ -n ${series_list// /} ]] || die "PGSTATE_LAB_KERNELS is empty"
  printf '%s\n' "$series_list"
}

# Serialise lab runs on this machine (cache + target/kernel-lab), then remove
# leftovers of interrupted runs.
with_lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  if ! flock -n 9; then
    log "waiting for another lab.sh run to finish (lock $CACHE/.lock)"
    flock 9
  fi
  rm -rf "$OUT_DIR"/.common.* "$OUT_DIR"/.rootfs.*
}

cmd_prepare() {
  need_root
  ensure_host_tools
  with_lock
  local s kernels
  kernels=$(kernels_for "$LAB_SERIES")
  for s in $kernels; do
    prepare_kernel "$s"
  done
}

cmd_kernels() {
  local s kernels
  kernels=$(kernels_for "$LAB_SERIES")
  for s in $kernels; do
    resolve_kernel "$s"
    printf '%s %s %s\n' "$s" "$KPKG" "$KVER"
  done
}

# Print scenario results of one log; updates PASSED/FAILED; returns 1 on any problem.
parse_results() {
  local logf=$1 krel=$2 qrc=$3 ok=0 name line
  local -a expected=()
  for name in "${SCENARIOS[@]}"; do expected+=("$name"); done
  if ! grep -q '@@LAB BEGIN' "$logf"; then
    log "$krel: guest setup did not complete (qemu rc=$qrc); see $logf"
    grep -E '@@LAB ABORT|Kernel panic|end Kernel panic' "$logf" >&2 || tail -n 20 "$logf" >&2
    ok=1
  fi
  for name in "${expected[@]}"; do
    line=$(grep -aoE "@@SCENARIO ${name//./\\.} (PASS|FAIL[^@]*|N/A)\$" "$logf" | tail -n1 || true)
    case $line in
      *" PASS")
        printf '  PASS  %s  %s\n' "$krel" "$name"
        PASSED=$((PASSED + 1))
        ;;
      *" N/A")
        printf '  N/A   %s  %s  (not applicable on this kernel; the log says why)\n' "$krel" "$name"
        NOT_APPLICABLE=$((NOT_APPLICABLE + 1))
        print_scenario_output "$logf" "$name"
        ;;
      *" FAIL"*)
        printf '  FAIL  %s  %s  (%s)\n' "$krel" "$name" "${line##*FAIL }"
        FAILED=$((FAILED + 1))
        ok=1
        print_scenario_output "$logf" "$name"
        ;;
      *)
        printf '  FAIL  %s  %s  (no result: not run, or the guest died)\n' "$krel" "$name"
        FAILED=$((FAILED + 1))
        ok=1
        print_scenario_output "$logf" "$name"
        ;;
    esac
  done
  if ! grep -q '@@LAB DONE' "$logf"; then
    log "$krel: '@@LAB DONE' not seen (qemu rc=$qrc$([[ $qrc == 124 ]] && echo ', boot timeout')); see $logf"
    ok=1
  fi
  return "$ok"
}

# differential_check LOG KREL: saves the transcript scenario 90-differential printed
# in LOG as $OUT_DIR/transcripts/KREL.txt and replays it through the simulator
# (tests/sim_transcripts.rs). Prints one PASS/FAIL entry, updates PASSED/FAILED;
# returns 1 on failure.
differential_check() {
  local logf=$1 krel=$2 tdir=$OUT_DIR/transcripts want got rc=0 summary
  local tfile=$tdir/$krel.txt rlog=$OUT_DIR/$krel.differential.log why=""
  mkdir -p "$tdir"
  rm -f "$tfile" "$tfile.tmp" "$rlog"
  want=$(sed -n 's/^@@TRANSCRIPT END lines=\([0-9][0-9]*\)$/\1/p' "$logf" | tail -n1)
  if [[ -z $want ]]; then
    why="no transcript in the log (see scenario $DIFF_SCENARIO)"
  else
    awk '/^@@TRANSCRIPT END/ { exit } on { print } /^@@TRANSCRIPT BEGIN$/ { on = 1 }' \
      "$logf" >"$tfile.tmp"
    got=$(wc -l <"$tfile.tmp")
    if [[ $got -ne $want ]]; then
      why="transcript truncated: $got of $want lines"
    elif [[ $want -eq 0 ]]; then
      why="empty transcript"
    else
      mv "$tfile.tmp" "$tfile"
    fi
  fi
  if [[ -z $why ]] && ! command -v cargo >/dev/null 2>&1; then
    why="cargo not found: cannot replay $tfile"
  fi
  if [[ -z $why ]]; then
    log "replaying $tfile through the simulator"
    (cd "$REPO_ROOT" && PGSTATE_TRANSCRIPTS=$tfile RUST_BACKTRACE=0 \
      cargo test --locked --release --test sim_transcripts -- --nocapture) >"$rlog" 2>&1 || rc=$?
    summary=$(grep -aoE 'replayed [0-9]+ writes, [0-9]+ dumps: [a-z0-9 ]+' "$rlog" | head -n1 || true)
    if [[ $rc -eq 0 && $summary == *"all identical" ]]; then
      printf '  PASS  %s  differential  (%s)\n' "$krel" "$summary"
      PASSED=$((PASSED + 1))
      return 0
    fi
    why="${summary:-cargo test failed (rc=$rc)}; $tfile, $rlog"
  fi
  printf '  FAIL  %s  differential  (%s)\n' "$krel" "$why"
  FAILED=$((FAILED + 1))
  if [[ -f $rlog ]]; then
    # the mismatch report (or the build error), without cargo's progress lines
    grep -avE '^ *(Compiling|Finished|Running|Blocking|Updating|Downloaded?|Locking) ' "$rlog" |
      head -n 200 | sed 's/^/    | /'
  fi
  return 1
}

print_scenario_output() {
  local logf=$1 name=$2
  awk -v b="@@SCENARIO $name BEGIN" -v e="@@SCENARIO $name " '
    index($0, b) { on = 1; print "    | " $0; next }
    on && index($0, e) { print "    | " $0; on = 0; next }
    on { print "    | " $0 }' "$logf"
}

# select_scenarios GLOB: SCENARIOS = names (file name without .sh) matching GLOB.
select_scenarios() {
  local f name
  SCENARIOS=()
  for f in "$SCRIPT_DIR"/scenarios/*.sh; do
    [[ -e $f ]] || continue
    name=$(basename "$f" .sh)
    # shellcheck disable=SC2053  # glob match intended
    [[ $name == $1 ]] && SCENARIOS+=("$name")
  done
  return 0
}

cmd_test() {
  local glob=${1:-*}
  glob=${glob%.sh}
  need_root
  ensure_host_tools
  ensure_pgstate_bin
  mkdir -p "$OUT_DIR"
  with_lock

  SCENARIOS=()
  select_scenarios "$glob"
  if [[ ${#SCENARIOS[@]} -eq 0 && $glob != *[][*?]* ]]; then
    glob="$glob*" # a plain word selects by prefix: `test 01` = `test '01*'`
    select_scenarios "$glob"
  fi
  [[ ${#SCENARIOS[@]} -gt 0 ]] || die "no scenario matches '$glob' in $SCRIPT_DIR/scenarios"

  COMMON_TREE=$(mktemp -d "$OUT_DIR/.common.XXXXXX")
  trap 'rm -rf "$COMMON_TREE" "$COMMON_TREE.cpio.gz"' EXIT
  build_common_tree "$COMMON_TREE" test "" "$glob"
  cpio_gz "$COMMON_TREE" "$COMMON_TREE.cpio.gz"

  PASSED=0
  FAILED=0
  NOT_APPLICABLE=0
  local bad=0 s qrc t0 t1 prc kernels diff=0
  for name in "${SCENARIOS[@]}"; do
    [[ $name == "$DIFF_SCENARIO" ]] && diff=1
    [[ $SAMPLES_SCENARIOS == *" $name "* ]] && LAB_SAMPLES=1
  done
  kernels=$(kernels_for "$LAB_SERIES")
  # Fetch and prepare every kernel in turn (apt and the cache are shared), then boot them
  # LAB_JOBS at a time (each guest is one qemu on one host thread), then read the results
  # in order.
  local -a ready=() krels=() headers=()
  for s in $kernels; do
    # prepare in a subshell (with errexit active) so that one unavailable
    # kernel is reported as failures instead of aborting the whole run
    set +e
    (
      set -e
      prepare_kernel "$s"
    )
    prc=$?
    set -e
    if [[ $prc -ne 0 ]]; then
      log "kernel $s could not be fetched/prepared"
      printf '%s: kernel unavailable\n' "$s"
      for name in "${SCENARIOS[@]}"; do
        printf '  FAIL  %s  %s  (kernel unavailable)\n' "$s" "$name"
      done
      FAILED=$((FAILED + ${#SCENARIOS[@]}))
      if [[ $diff -eq 1 ]]; then
        printf '  FAIL  %s  differential  (kernel unavailable)\n' "$s"
        FAILED=$((FAILED + 1))
      fi
      bad=1
      continue
    fi
    resolve_kernel "$s"
    KDIR=$CACHE/kernels/$KREL
    SAMPLES_DIR=""
    if [[ $LAB_SAMPLES == 1 ]]; then
      SAMPLES_DIR=$(prepare_samples "$s") # warmed by the subshell above: no download
    fi
    build_initramfs "$COMMON_TREE.cpio.gz" "$KDIR" "$OUT_DIR/$KREL.initramfs.gz" "$SAMPLES_DIR"
    ready+=("$s")
    krels+=("$KREL")
    headers+=("$s ($KPKG $KVER)")
  done
  boot_guests "$LAB_JOBS" "" "${krels[@]}"
  local i krel
  for i in "${!ready[@]}"; do
    krel=${krels[i]}
    qrc=$(guest_rc "$krel" "")
    printf '%s:\n' "${headers[i]}"
    parse_results "$OUT_DIR/$krel.log" "$krel" "$qrc" || bad=1
    if [[ $diff -eq 1 ]]; then
      differential_check "$OUT_DIR/$krel.log" "$krel" || bad=1
    fi
  done
  if [[ $NOT_APPLICABLE -gt 0 ]]; then
    printf '%d passed, %d failed, %d not applicable\n' "$PASSED" "$FAILED" "$NOT_APPLICABLE"
  else
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  fi
  [[ $bad -eq 0 && $FAILED -eq 0 && $PASSED -gt 0 ]]
}

# cmd_run_script FILE DEFAULT_KERNELS: boot and run a script file in the guest.
cmd_run_script() {
  local script=$1
  need_root
  ensure_host_tools
  ensure_pgstate_bin
  mkdir -p "$OUT_DIR"
  with_lock
  COMMON_TREE=$(mktemp -d "$OUT_DIR/.common.XXXXXX")
  trap 'rm -rf "$COMMON_TREE" "$COMMON_TREE.cpio.gz"' EXIT
  build_common_tree "$COMMON_TREE" cmd "$script"
  cpio_gz "$COMMON_TREE" "$COMMON_TREE.cpio.gz"
  local s rc=0 qrc crc kernels
  kernels=$(kernels_for "6.12")
  for s in $kernels; do
    prepare_kernel "$s"
    local initrd=$OUT_DIR/$KREL.cmd-initramfs.gz logf=$OUT_DIR/$KREL.cmd.log
    build_initramfs "$COMMON_TREE.cpio.gz" "$KDIR" "$initrd" "$SAMPLES_DIR"
    log "booting $KREL, log: $logf"
    qrc=0
    boot "$KDIR" "$initrd" "$logf" || qrc=$?
    printf '=== %s ===\n' "$KREL"
    awk '/@@CMD END/ { exit } on { print } /@@CMD BEGIN/ { on = 1 }' "$logf"
    crc=$(sed -n 's/.*@@CMD END rc=\([0-9]*\).*/\1/p' "$logf" | tail -n1)
    if [[ -z $crc ]] || ! grep -q '@@LAB DONE' "$logf"; then
      log "$KREL: command did not complete (qemu rc=$qrc); see $logf"
      grep -E '@@LAB ABORT' "$logf" >&2 || tail -n 20 "$logf" >&2
      rc=1
    elif [[ $crc != 0 ]]; then
      log "$KREL: command exited with rc=$crc"
      rc=$crc
    fi
  done
  return "$rc"
}

# shellcheck source=lab-bench.sh
. "$SCRIPT_DIR/lab-bench.sh"
# shellcheck source=lab-system.sh
. "$SCRIPT_DIR/lab-system.sh"

usage() {
  sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

main() {
  local cmd=${1:-test}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    test) cmd_test "${1:-*}" ;;
    prepare) cmd_prepare ;;
    kernels) cmd_kernels ;;
    shell-cmd)
      [[ $# -ge 1 ]] || die "usage: lab.sh shell-cmd 'CMD'"
      mkdir -p "$OUT_DIR"
      local tmpf
      tmpf=$(mktemp "$OUT_DIR/.cmd.XXXXXX")
      printf '%s\n' "$*" >"$tmpf"
      local rc=0
      cmd_run_script "$tmpf" || rc=$?
      rm -f "$tmpf"
      return "$rc"
      ;;
    bench) cmd_bench "$@" ;;
    system) cmd_system ;;
    system-image) cmd_system_image ;;
    try)
      [[ -f $SCRIPT_DIR/try.sh ]] || die "$SCRIPT_DIR/try.sh does not exist yet"
      cmd_run_script "$SCRIPT_DIR/try.sh"
      ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"

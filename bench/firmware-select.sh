#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Side by side: `vsboot firmware select` against libvirt's own choice
# (`virsh domxml-to-native qemu-argv`, a running libvirtd) for the same request over the same
# descriptor directory. Prints the mean wall time per call of each and the ratio.
#
#   sudo bench/firmware-select.sh [BUILDDIR]     (default BUILDDIR: build)
#
# Environment: VSBOOT (binary, default BUILDDIR/src/cli/vsboot), FWDIR (descriptor
# directory, default tests/data/libvirt-fw/debian = Debian 12's own files), RUNS (default 300),
# BENCH_TIMER=loop (time with a date loop even when hyperfine is installed).
# libvirtd runs in a private mount namespace (tests/libvirt/libvirtd-ns.sh) with FWDIR over
# /usr/share/qemu/firmware, and is stopped on exit. virsh talks to it straight through
# /proc/PID/root, so no nsenter is timed. Uses hyperfine when installed, else a date loop.
# Target: vsboot under 5 ms per call and faster than libvirt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
VSBOOT=${VSBOOT:-$BUILD/src/cli/vsboot}
FWDIR=${FWDIR:-$ROOT/tests/data/libvirt-fw/debian}
RUNS=${RUNS:-300}
HARNESS=$ROOT/tests/libvirt/libvirtd-ns.sh

[ "$(id -u)" -eq 0 ] || { echo "firmware-select.sh: needs root (system libvirtd)" >&2; exit 2; }
[ -x "$VSBOOT" ] || { echo "firmware-select.sh: no vsboot at $VSBOOT (build first)" >&2; exit 2; }
FWDIR=$(cd "$FWDIR" && pwd)

TMP=$(mktemp -d /tmp/vsb-bench-XXXXXX)
STATE=$TMP/libvirtd
cleanup() { bash "$HARNESS" stop "$STATE" || true; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The versioned machine name libvirt resolves `q35`/`virt` to, from QEMU itself.
machine_of() {
  "qemu-system-$1" -machine help |
    awk -v a="$2" '$1 == a { if (match($0, /alias of [^)]*/)) print substr($0, RSTART + 9, RLENGTH - 9); else print a; exit }'
}

domain_xml() { # ARCH MACHINE OS-EXTRA
  local cpu=""
  [ "$1" = aarch64 ] && cpu="<cpu mode='custom' match='exact'><model>cortex-a57</model></cpu>"
  cat <<EOF
<domain type='qemu'><name>bench</name>
  <memory unit='KiB'>131072</memory><vcpu placement='static'>1</vcpu>
  <os firmware='efi'><type arch='$1' machine='$2'>hvm</type>$3</os>
  <features><acpi/></features>$cpu
  <devices><emulator>/usr/bin/qemu-system-$1</emulator>
    <controller type='usb' model='none'/><memballoon model='none'/></devices>
</domain>
EOF
}

use_hyperfine() { [ "${BENCH_TIMER:-}" != loop ] && command -v hyperfine >/dev/null; }

mean_ms_loop() { # RUNS CMD... -> mean ms per call, measured with date
  local n=$1 i t0 t1
  shift
  t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do "$@" >/dev/null; done
  t1=$(date +%s%N)
  awk -v d=$((t1 - t0)) -v n="$n" 'BEGIN { printf "%.2f", d / n / 1e6 }'
}

bash "$HARNESS" start "$STATE" "$FWDIR" $$
PID=$(cat "$STATE/libvirtd.pid")
URI="qemu:///system?socket=/proc/$PID/root/run/libvirt/libvirt-sock"

echo "vsboot:   $VSBOOT"
echo "libvirt:  $(/usr/sbin/libvirtd --version | awk '{print $NF}') (libvirtd in a private mount namespace)"
echo "firmware: $FWDIR"
echo "machine:  $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if use_hyperfine; then echo "timer:    hyperfine, $RUNS runs each"; else echo "timer:    date loop, $RUNS runs each"; fi
echo

fail=0
for req in "x86_64 q35 secure-boot+enrolled-keys" "aarch64 virt plain-efi"; do
  read -r arch alias what <<<"$req"
  machine=$(machine_of "$arch" "$alias")
  case $what in
    secure-boot+enrolled-keys)
      extra="<firmware><feature enabled='yes' name='enrolled-keys'/></firmware>"
      vargs=(--feature enrolled-keys) ;;
    *) extra=""; vargs=() ;;
  esac
  xml=$TMP/$arch.xml
  domain_xml "$arch" "$machine" "$extra" >"$xml"
  vsb=("$VSBOOT" firmware select --firmware-dir "$FWDIR" --arch "$arch" --machine "$machine" "${vargs[@]}")
  lv=(virsh -q -c "$URI" domxml-to-native qemu-argv "$xml")

  # Same answer first (this also makes libvirt probe QEMU's capabilities before timing).
  lv_exe=$("${lv[@]}" | grep -o '"filename":"[^"]*","node-name":"libvirt-pflash0-storage"' | cut -d'"' -f4)
  vs_exe=$("${vsb[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mapping"]["executable"]["filename"])')
  echo "request: $arch $machine, $what"
  if [ "$lv_exe" != "$vs_exe" ]; then
    echo "  DIFFERENT CHOICE: libvirt $lv_exe, vsboot $vs_exe"
    fail=1
    continue
  fi
  echo "  both choose $vs_exe"

  if use_hyperfine; then
    hyperfine -N --style none --warmup 20 --runs "$RUNS" --export-json "$TMP/h.json" \
      -n vsboot "${vsb[*]}" -n libvirt "${lv[*]}" -n startup "$VSBOOT --version" >/dev/null 2>&1
    read -r v l s vmin lmin smin < <(python3 -c 'import json,sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
k = ("vsboot", "libvirt", "startup")
print(" ".join("%.2f" % (r[c]["mean"] * 1e3) for c in k), " ".join("%.2f" % (r[c]["min"] * 1e3) for c in k))' "$TMP/h.json")
  else
    mean_ms_loop 20 "${vsb[@]}" >/dev/null
    v=$(mean_ms_loop "$RUNS" "${vsb[@]}")
    l=$(mean_ms_loop "$RUNS" "${lv[@]}")
    s=$(mean_ms_loop "$RUNS" "$VSBOOT" --version)
    vmin=- lmin=- smin=-
  fi
  printf '  %-34s %8s ms/call mean  (min %s)\n' "vsboot firmware select" "$v" "$vmin" \
    "virsh domxml-to-native" "$l" "$lmin" "(vsboot --version: process start)" "$s" "$smin"
  if command -v valgrind >/dev/null; then
    # Instruction counts do not depend on how busy the machine is.
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
             awk '/Collected :/ { print $NF }'; }
    iv=$(ir "${vsb[@]}")
    is=$(ir "$VSBOOT" --version)
    awk -v a="$iv" -v b="$is" 'BEGIN { printf "  instructions: select %.1f M, process start %.1f M, selection itself %.2f M\n", a / 1e6, b / 1e6, (a - b) / 1e6 }'
  fi
  awk -v v="$v" -v l="$l" 'BEGIN {
    printf "  ratio libvirt/vsboot: %.1fx\n", l / v
    printf "  target < 5 ms: %s; faster than libvirt: %s\n", (v < 5 ? "met" : "MISSED"), (v < l ? "yes" : "NO")
  }'
  echo
done
exit $fail

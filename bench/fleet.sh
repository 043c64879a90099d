#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `vsboot fleet` over many VMs against what it replaces: one `vsboot audit` process per VM.
#   state-dir  N VMs provisioned from Debian's Microsoft-keys template (one batch `vsboot
#              provision`), N = 1000, 300, 100 (COUNTS; the directory is cut down between
#              runs, so every count judges the same kind of VM): `vsboot fleet --state-dir`
#              against `vsboot audit NAME --state-dir` run once per VM
#   libvirt    300 domains (LIBVIRT_DOMAINS) served by libvirt's test driver from one XML file
#              (test:///PATH: the client library and its API as for qemu:///system, without a
#              daemon), each with its own NVRAM copy and the secure-boot OVMF build:
#              `vsboot fleet --libvirt test:///PATH` against `vsboot audit --libvirt-xml` of
#              each domain's definition (as virsh dumpxml gives it), once per domain
# Both sides skip the process scan (--no-processes / --no-process-scan): other programs'
# QEMU on a shared machine would otherwise change the work between runs. The per-process side
# runs the first AUDIT_SAMPLE VMs (default 100) and is scaled to N (its cost per VM does not
# depend on N: each process judges one VM); the figures say so. Wall and CPU (user + system)
# seconds, per VM in ms, and the ratio per-process / fleet. Target: a ratio of 5 or more, and a
# fleet cost per VM that stays flat from 100 to 1000.
#
#   bench/fleet.sh [BUILDDIR]        (default BUILDDIR: build)
#
# Environment: VSBOOT (default BUILDDIR/src/cli/vsboot), COUNTS (default "1000 300 100"),
# LIBVIRT_DOMAINS (default 300), AUDIT_SAMPLE (default 100), BENCH_DIR (default $TMPDIR or
# /tmp; about 0.6 MB per VM).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
VSBOOT=${VSBOOT:-$BUILD/src/cli/vsboot}
COUNTS=${COUNTS:-1000 300 100}
LIBVIRT_DOMAINS=${LIBVIRT_DOMAINS:-300}
AUDIT_SAMPLE=${AUDIT_SAMPLE:-100}
OVMF=/usr/share/OVMF

[ -x "$VSBOOT" ] || { echo "fleet.sh: no vsboot at $VSBOOT (build first)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "fleet.sh: /usr/bin/time missing (package time)" >&2; exit 2; }
[ -f $OVMF/OVMF_CODE_4M.secboot.fd ] || { echo "fleet.sh: no $OVMF (package ovmf)" >&2; exit 2; }

TMP=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/vsb-bench-fleet-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# seconds CMD...: "WALL CPU" of one run (stdout discarded; a failure other than "not
# enforced" (exit 1) stops the bench).
seconds() {
  local rc=0
  /usr/bin/time -f "%e %U %S" -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "fleet.sh: $* failed ($rc):" >&2; cat "$TMP/err" >&2; exit 2
  fi
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$TMP/time"
}

# loop FILE: run each line of FILE (a command) in turn, one process each.
loop() {
  while IFS= read -r line; do eval "$line" >/dev/null 2>&1 || [ $? -eq 1 ]; done < "$1"
}
export -f loop

# report LABEL N FLEET_WALL FLEET_CPU SAMPLE SAMPLE_WALL SAMPLE_CPU
report() {
  awk -v l="$1" -v n="$2" -v fw="$3" -v fc="$4" -v s="$5" -v sw="$6" -v sc="$7" 'BEGIN {
    pw = sw / s * n; pc = sc / s * n
    printf "%-10s %5d  fleet %7.2f s (%6.1f ms/VM) cpu %7.2f s (%6.1f ms/VM)\n", l, n, fw,
           fw * 1000 / n, fc, fc * 1000 / n
    printf "%-10s %5s  audit %7.2f s (%6.1f ms/VM) cpu %7.2f s (%6.1f ms/VM)  [%d measured]\n",
           "", "", pw, pw * 1000 / n, pc, pc * 1000 / n, s
    printf "%-10s %5s  ratio audit/fleet: wall %.1fx, cpu %.1fx\n", "", "", pw / fw, pc / fc
  }'
}

echo "vsboot fleet, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- state directories ------------------------------------------------------------------
max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
mkdir -m 700 "$TMP/state"
names=()
for ((i = 0; i < max; i++)); do names+=("vm$i"); done
"$VSBOOT" provision --state-dir "$TMP/state" --enrolled-keys "${names[@]}" >/dev/null
# Warm the page cache and the firmware checksum cache once, outside the timings.
"$VSBOOT" fleet --no-libvirt --no-processes --state-dir "$TMP/state" >/dev/null || true

for n in $(printf '%s\n' $COUNTS | sort -rn); do
  # Cut the directory down to n VMs (the larger counts run first).
  for ((i = n; i < max; i++)); do rm -f "$TMP/state/vm$i.json" "$TMP/state/vm${i}_VARS.fd"; done
  max=$n
  read -r fw fc < <(seconds "$VSBOOT" fleet --no-libvirt --no-processes --state-dir "$TMP/state")
  s=$((n < AUDIT_SAMPLE ? n : AUDIT_SAMPLE))
  : > "$TMP/cmds"
  for ((i = 0; i < s; i++)); do
    echo "'$VSBOOT' audit vm$i --state-dir '$TMP/state' --no-process-scan --json" >> "$TMP/cmds"
  done
  read -r aw ac < <(seconds bash -c 'loop "$0"' "$TMP/cmds")
  report state-dir "$n" "$fw" "$fc" "$s" "$aw" "$ac"
done
echo

# ---- libvirt (test driver) --------------------------------------------------------------
mkdir "$TMP/nvram" "$TMP/dom"
{
  echo "<node>"
  for ((i = 0; i < LIBVIRT_DOMAINS; i++)); do
    cp "$TMP/state/vm0_VARS.fd" "$TMP/nvram/d${i}_VARS.fd"
    uuid=$(printf '6d1c0a8e-0000-4000-8000-%012d' "$i")
    cat <<EOF
  <domain type='test'>
    <name>d$i</name>
    <uuid>$uuid</uuid>
    <memory unit='MiB'>512</memory>
    <os>
      <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
      <loader readonly='yes' secure='yes' type='pflash'>$OVMF/OVMF_CODE_4M.secboot.fd</loader>
      <nvram>$TMP/nvram/d${i}_VARS.fd</nvram>
    </os>
    <features><acpi/><smm state='on'/></features>
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
  </domain>
EOF
  done
  echo "</node>"
} > "$TMP/node.xml"
uri="test://$TMP/node.xml"
n=$LIBVIRT_DOMAINS
read -r fw fc < <(seconds "$VSBOOT" fleet --libvirt "$uri" --no-processes)
"$VSBOOT" fleet --libvirt "$uri" --no-processes --json > "$TMP/libvirt.json" || true
s=$((n < AUDIT_SAMPLE ? n : AUDIT_SAMPLE))
: > "$TMP/cmds"
for ((i = 0; i < s; i++)); do
  # The definition as libvirt's API gives it (virsh dumpxml of the test driver's domain).
  virsh -q -c "$uri" dumpxml "d$i" > "$TMP/dom/d$i.xml"
  echo "'$VSBOOT' audit --libvirt-xml '$TMP/dom/d$i.xml' --no-process-scan --json" >> "$TMP/cmds"
done
read -r aw ac < <(seconds bash -c 'loop "$0"' "$TMP/cmds")
report libvirt "$n" "$fw" "$fc" "$s" "$aw" "$ac"
python3 - "$TMP/libvirt.json" <<'EOF'
import json, sys
vms = json.load(open(sys.argv[1]))["vms"]
v = {}
for vm in vms:
    v[vm["verdict"]] = v.get(vm["verdict"], 0) + 1
print("libvirt domains judged:", len(vms), v)
EOF

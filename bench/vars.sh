#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Side by side: vsboot against virt-firmware's virt-fw-vars (pure Python) on the same jobs:
#   show    `vsboot vars show OVMF_VARS_4M.ms.fd`  vs  `virt-fw-vars -i ... --print --verbose`
#   enroll  PK+KEK+db (own keys) + Secure Boot on into the empty OVMF_VARS_4M.fd, to a new file
#           `vsboot vars enroll IN -o OUT --pk --kek --db --secure-boot on`
#           vs `virt-fw-vars -i IN -o OUT --set-pk --add-kek --add-db --secure-boot`
# and prints the mean wall time of each, the ratio, and whether the targets are met
# (vsboot under 10 ms per call, at least 30x faster than virt-fw-vars).
#
#   bench/vars.sh [BUILDDIR]        (default BUILDDIR: build)
#
# Environment:
#   VSBOOT          binary (default BUILDDIR/src/cli/vsboot)
#   VIRT_FIRMWARE   a checkout of virt-firmware (https://gitlab.com/kraxel/virt-firmware, GitHub
#                   mirror hector-cao/virt-firmware); run from source with Debian's
#                   python3-cryptography: PYTHONPATH=$VIRT_FIRMWARE python3 -m virt.firmware.vars.
#                   This script fetches nothing; without it only vsboot is timed. To get it:
#                     git clone https://gitlab.com/kraxel/virt-firmware /tmp/virt-firmware
#   BENCH_DIR       where the enrolled stores are written (default $TMPDIR or /tmp). vsboot
#                   writes atomically with fsync (file and directory); virt-fw-vars does not, so
#                   on a slow disk the wall time of vsboot's enroll is mostly the flush. Use a
#                   tmpfs (/dev/shm) to compare the work alone.
#   RUNS            runs per vsboot command (default 50; virt-fw-vars gets at most 10, it is
#                   slow); hyperfine when installed, else a date loop
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
VSBOOT=${VSBOOT:-$BUILD/src/cli/vsboot}
RUNS=${RUNS:-50}
VF=${VIRT_FIRMWARE:-}
MS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
EMPTY=/usr/share/OVMF/OVMF_VARS_4M.fd
OWNER=a0baa8a3-041d-48a8-bc87-c36d121b5e3d

[ -x "$VSBOOT" ] || { echo "vars.sh: no vsboot at $VSBOOT (build first)" >&2; exit 2; }
for f in "$MS" "$EMPTY"; do
  [ -f "$f" ] || { echo "vars.sh: $f missing (apt-get install ovmf)" >&2; exit 2; }
done
if [ -n "$VF" ] && [ ! -f "$VF/virt/firmware/vars.py" ]; then
  echo "vars.sh: VIRT_FIRMWARE=$VF is not a virt-firmware checkout (no virt/firmware/vars.py)" >&2
  exit 2
fi

TMP=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/vsb-bench-vars-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

"$VSBOOT" keys generate "$TMP/keys" --cn "vsboot bench" >/dev/null
K=$TMP/keys

vsb_show=("$VSBOOT" vars show "$MS")
vsb_enroll=("$VSBOOT" vars enroll "$EMPTY" -o "$TMP/vsb.fd" --pk "$K/PK.crt" --kek "$K/KEK.crt"
  --db "$K/db.crt" --secure-boot on)
vfw=(env PYTHONPATH="$VF" python3 -W ignore -m virt.firmware.vars -l error)
vfw_show=("${vfw[@]}" -i "$MS" --print --verbose)
vfw_enroll=("${vfw[@]}" -i "$EMPTY" -o "$TMP/vfw.fd" --set-pk "$OWNER" "$K/PK.crt"
  --add-kek "$OWNER" "$K/KEK.crt" --add-db "$OWNER" "$K/db.crt" --secure-boot)

mean_ms_loop() { # RUNS CMD... -> mean ms per call, measured with date
  local n=$1 i t0 t1
  shift
  t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1; done
  t1=$(date +%s%N)
  awk -v d=$((t1 - t0)) -v n="$n" 'BEGIN { printf "%.2f", d / n / 1e6 }'
}

mean_ms() { # RUNS CMD... -> "MEAN CPU MIN": mean wall, user+system and minimum wall ms per call
  local n=$1
  shift
  if command -v hyperfine >/dev/null; then
    local q=() a
    for a in "$@"; do q+=("$(printf '%q' "$a")"); done
    hyperfine -N --style none --warmup 3 --runs "$n" --export-json "$TMP/h.json" \
      "${q[*]}" >/dev/null 2>&1
    python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.2f %.2f %.2f" % (r["mean"] * 1e3, (r["user"] + r["system"]) * 1e3, r["min"] * 1e3))' "$TMP/h.json"
  else
    mean_ms_loop 3 "$@" >/dev/null
    echo "$(mean_ms_loop "$n" "$@") - -"
  fi
}

ir() { # CMD... -> instructions executed (callgrind), or "-" without valgrind
  if command -v valgrind >/dev/null; then
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      awk '/Collected :/ { print $NF }'
  else
    echo -
  fi
}

echo "vsboot:        $VSBOOT"
if [ -n "$VF" ]; then
  echo "virt-firmware: $VF ($(git -C "$VF" log -1 --format='%h %cs' 2>/dev/null || echo 'not a git checkout'))," \
    "python3 $(python3 -c 'import sys; print(sys.version.split()[0])'), cryptography" \
    "$(python3 -c 'import cryptography; print(cryptography.__version__)')"
else
  echo "virt-firmware: not given (set VIRT_FIRMWARE to a checkout to time it side by side)"
fi
if command -v hyperfine >/dev/null; then echo "timer:         hyperfine, $RUNS runs each"; else echo "timer:         date loop, $RUNS runs each"; fi
echo "output dir:    $TMP ($(df -T "$TMP" | awk 'NR == 2 { print $2 }'))"
echo "machine:       $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (wall times need a quiet"
echo "               machine; min = fastest run, cpu = user+system; instruction counts do not depend on load)"
echo

# Both must do the job before they are timed: the enrolled stores must hold the same
# variables, byte for byte (name, GUID, attributes, data, time stamp), compared through the
# virt-firmware JSON format both tools write (the file bytes differ only in record order:
# virt-fw-vars sorts by name).
"${vsb_enroll[@]}" >/dev/null
"${vsb_show[@]}" >/dev/null
if [ -n "$VF" ]; then
  "${vfw_enroll[@]}"
  "$VSBOOT" vars export "$TMP/vsb.fd" --json >"$TMP/vsb.json"
  "${vfw[@]}" -i "$TMP/vfw.fd" --output-json "$TMP/vfw.json"
  if ! python3 - "$TMP/vsb.json" "$TMP/vfw.json" <<'PYEOF'
import json, sys
def load(p):
    return sorted((v["name"], v["guid"], v["attr"], v["data"], v.get("time", ""))
                  for v in json.load(open(p))["variables"])
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    print("enrolled stores differ:\n  vsboot       %s\n  virt-fw-vars %s"
          % ([x[0] for x in a], [x[0] for x in b]), file=sys.stderr)
    sys.exit(1)
print("same result:   %d variables, identical (%s)" % (len(a), " ".join(x[0] for x in a)))
PYEOF
  then
    exit 1
  fi
  echo
fi

fail=0
report() { # LABEL "MEAN CPU MIN" (vsboot) "MEAN CPU MIN"|"" (virt-fw-vars) INSTRUCTIONS
  local v vcpu vmin f="" fcpu fmin
  read -r v vcpu vmin <<<"$2"
  [ -n "$3" ] && read -r f fcpu fmin <<<"$3"
  printf '%-7s vsboot       %8s ms mean  (min %s, cpu %s)' "$1" "$v" "$vmin" "$vcpu"
  [ "$4" != - ] && awk -v a="$4" -v b="$start_ir" \
    'BEGIN { printf "  %.1f M instructions, %.1f M above process start", a / 1e6, (a - b) / 1e6 }'
  printf '\n'
  if [ -n "$f" ]; then
    printf '        virt-fw-vars %8s ms mean  (min %s, cpu %s)\n' "$f" "$fmin" "$fcpu"
    printf '        ratio %.1fx (mean), %.1fx (min)\n' "$(awk -v a="$f" -v b="$v" 'BEGIN { print a / b }')" \
      "$(awk -v a="$fmin" -v b="$vmin" 'BEGIN { print (b > 0 ? a / b : 0) }')"
  fi
  local under ratio_ok=yes
  under=$(awk -v x="$v" 'BEGIN { print (x < 10 ? "met" : "MISSED") }')
  [ -n "$f" ] && ratio_ok=$(awk -v a="$f" -v b="$v" 'BEGIN { print (a / b >= 30 ? "met" : "MISSED") }')
  printf '        target < 10 ms (mean): %s' "$under"
  [ -n "$f" ] && printf '; target >= 30x (mean): %s' "$ratio_ok"
  printf '\n'
  [ "$under" = met ] && [ "$ratio_ok" != MISSED ] || fail=1
}

read -r s scpu smin < <(mean_ms "$RUNS" "$VSBOOT" --version)
start_ir=$(ir "$VSBOOT" --version)
printf '%-7s vsboot       %8s ms mean  (min %s, cpu %s)' start "$s" "$smin" "$scpu"
[ "$start_ir" != - ] && awk -v a="$start_ir" 'BEGIN { printf "  %.1f M instructions", a / 1e6 }'
printf '   (vsboot --version: the process-start floor)\n'

v=$(mean_ms "$RUNS" "${vsb_show[@]}")
f=""
[ -n "$VF" ] && f=$(mean_ms "$((RUNS < 10 ? RUNS : 10))" "${vfw_show[@]}")
report show "$v" "$f" "$(ir "${vsb_show[@]}")"

v=$(mean_ms "$RUNS" "${vsb_enroll[@]}")
f=""
[ -n "$VF" ] && f=$(mean_ms "$((RUNS < 10 ? RUNS : 10))" "${vfw_enroll[@]}")
report enroll "$v" "$f" "$(ir "${vsb_enroll[@]}")"
exit $fail

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The rollover side by side with virt-firmware 24.2 (Debian's python3-virt-firmware, unpacked
# privately into .debs by `./dev.sh test` or scripts/fetch-debs.sh), in one run:
#   - adding Microsoft's four 2023 CAs to Debian's OVMF_VARS_4M.ms.fd:
#     `vsboot vars enroll --microsoft 2023` against `virt-fw-vars --add-kek/--add-db`;
#   - applying Microsoft's signed db update (DBUpdate3P2023.bin) against --add-db of the same
#     certificate, and its signed dbx update: `vsboot vars enroll --dbx-update`, which verifies
#     the signature against the store's KEK before it appends, against `virt-fw-vars
#     --set-dbx`, which stores the lists without verifying anything.
# Both outputs are checked to hold the same variables first (the dbx pair on a store without
# dbx, where append and replace agree). Prints mean and min ms per call and the ratio.
#
#   bench/rollover.sh [BUILDDIR]     (default BUILDDIR: build)
# Environment: RUNS (default 50), BENCH_DIR (where outputs go; default a temporary directory).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
VSBOOT=${VSBOOT:-$BUILD/src/cli/vsboot}
RUNS=${RUNS:-50}
VFWROOT=$ROOT/.debs/bookworm-backports/root
VFW=$VFWROOT/usr/bin/virt-fw-vars
MS=$ROOT/data/microsoft
UPD=$(cd "$ROOT/../shared/data/microsoft/updates" 2>/dev/null && pwd) || {
  echo "rollover.sh: Microsoft's update objects are not in ../shared/data/microsoft" >&2; exit 2; }
TEMPLATE=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
OWNER=77fa9abd-0359-4d32-bd60-28f4e78f784b
command -v hyperfine >/dev/null || { echo "rollover.sh: needs hyperfine" >&2; exit 2; }
[ -x "$VSBOOT" ] || { echo "rollover.sh: no vsboot at $VSBOOT (build first)" >&2; exit 2; }
[ -f "$VFW" ] || {
  echo "rollover.sh: no virt-fw-vars under .debs (scripts/fetch-debs.sh .debs bookworm-backports python3-virt-firmware)" >&2
  exit 2; }

TMP=${BENCH_DIR:-$(mktemp -d /tmp/vsb-rollover-XXXXXX)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$TMP"' EXIT
export VSB_DATA_DIR=$ROOT/data
# virt-fw-vars as a command of its own, so that hyperfine can run it.
cat > "$TMP/virt-fw-vars" <<SH
#!/bin/sh
PYTHONPATH=$VFWROOT/usr/lib/python3/dist-packages exec /usr/bin/python3 $VFW "\$@"
SH
chmod +x "$TMP/virt-fw-vars"
vfw() { "$TMP/virt-fw-vars" "$@"; }
same() { # A B: the same variables (through vsboot's JSON export)
  "$VSBOOT" vars export "$1" --json -o "$TMP/a.json"
  "$VSBOOT" vars export "$2" --json -o "$TMP/b.json"
  python3 -c 'import json,sys
a, b = (sorted(json.load(open(f))["variables"], key=lambda v: (v["name"], v["guid"])) for f in sys.argv[1:])
sys.exit(0 if a == b else "rollover.sh: the two outputs differ")' "$TMP/a.json" "$TMP/b.json"
}

VS_MS=("$VSBOOT" vars enroll "$TEMPLATE" -o "$TMP/vs-ms.fd" --microsoft 2023 --force)
VF_MS=("$TMP/virt-fw-vars" -i "$TEMPLATE" -o "$TMP/vf-ms.fd" --add-kek "$OWNER" "$MS/microsoft-corporation-kek-2k-ca-2023.der"
       --add-db "$OWNER" "$MS/windows-uefi-ca-2023.der" --add-db "$OWNER" "$MS/microsoft-uefi-ca-2023.der"
       --add-db "$OWNER" "$MS/microsoft-option-rom-uefi-ca-2023.der")
"${VS_MS[@]}" >/dev/null 2>&1; "${VF_MS[@]}" >/dev/null 2>&1; same "$TMP/vs-ms.fd" "$TMP/vf-ms.fd"

VS_DBX=("$VSBOOT" vars enroll "$TEMPLATE" -o "$TMP/vs-dbx.fd" --delete dbx --dbx-update "$UPD/DBXUpdate.amd64.bin" --force)
VF_DBX=("$TMP/virt-fw-vars" -i "$TEMPLATE" -o "$TMP/vf-dbx.fd" -d dbx --set-dbx "$UPD/DBXUpdate.amd64.bin")
"${VS_DBX[@]}" >/dev/null 2>&1; "${VF_DBX[@]}" >/dev/null 2>&1; same "$TMP/vs-dbx.fd" "$TMP/vf-dbx.fd"

# Microsoft's signed db update against the nearest virt-fw-vars step: --add-db of the same
# certificate (virt-firmware cannot verify or apply a signed update). Not compared for identity:
# the update keeps the store's later time stamp, --add-db stamps the certificate's notBefore.
VS_DB=("$VSBOOT" vars enroll "$TEMPLATE" -o "$TMP/vs-db.fd" --db-update "$UPD/DBUpdate3P2023.bin" --force)
VF_DB=("$TMP/virt-fw-vars" -i "$TEMPLATE" -o "$TMP/vf-db.fd" --add-db "$OWNER" "$MS/microsoft-uefi-ca-2023.der")
"${VS_DB[@]}" >/dev/null 2>&1; "${VF_DB[@]}" >/dev/null 2>&1

q() { printf '%q ' "$@"; }
bench() { # NAME VSBOOT-CMD VFW-CMD
  hyperfine --warmup 3 --runs "$RUNS" --export-json "$TMP/$1.json" -n vsboot "$2" -n virt-fw-vars "$3" >/dev/null
  python3 - "$1" "$TMP/$1.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[2]))["results"]}
v, f = r["vsboot"], r["virt-fw-vars"]
print(f"{sys.argv[1]:<16} vsboot {v['mean']*1e3:7.1f} ms (min {v['min']*1e3:6.1f})   "
      f"virt-fw-vars {f['mean']*1e3:7.1f} ms (min {f['min']*1e3:6.1f})   ratio {f['mean']/v['mean']:5.1f}x")
PY
}
bench microsoft-2023 "$(q "${VS_MS[@]}")" "$(q "${VF_MS[@]}")"
bench dbx-update "$(q "${VS_DBX[@]}")" "$(q "${VF_DBX[@]}")"
bench db-update "$(q "${VS_DB[@]}")" "$(q "${VF_DB[@]}")"

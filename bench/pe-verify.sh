#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Side by side: `vsboot pe verify IMAGE --db CERT` against `sbverify --cert CERT IMAGE`
# (sbsigntool) on the same signed images, with `sha256sum IMAGE` as the floor (reading and
# hashing the file once is the least any verifier has to do):
#   small   Debian's Microsoft-signed shim (/usr/lib/shim/shimx64.efi.signed, ~1 MB), verified
#           against Microsoft Corporation UEFI CA 2011 taken from Debian's OVMF_VARS_4M.ms.fd
#   large   a generated PE32+ with one 50 MB section (tests/pe/vsb-mkpe), signed by `sbsign`
#           and, a second signature, by `vsboot pe sign`; verified against the signing cert
# Prints mean wall times, the ratios, and whether the targets are met on the large image:
# vsboot no slower than sbverify, and within 1.5x of sha256sum.
#
#   bench/pe-verify.sh [BUILDDIR]        (default BUILDDIR: build)
#
# Environment: VSBOOT (default BUILDDIR/src/cli/vsboot), MKPE (default
# BUILDDIR/tests/pe/vsb-mkpe), RUNS (default 10; hyperfine when installed, else a date loop),
# BENCH_DIR (default $TMPDIR or /tmp; the 50 MB image is written there).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
VSBOOT=${VSBOOT:-$BUILD/src/cli/vsboot}
MKPE=${MKPE:-$BUILD/tests/pe/vsb-mkpe}
RUNS=${RUNS:-10}
SHIM=/usr/lib/shim/shimx64.efi.signed
MS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd

for x in "$VSBOOT" "$MKPE"; do
  [ -x "$x" ] || { echo "pe-verify.sh: no $x (build first)" >&2; exit 2; }
done
for t in sbsign sbverify sha256sum openssl; do
  command -v "$t" >/dev/null || { echo "pe-verify.sh: $t missing (./dev.sh deps)" >&2; exit 2; }
done
for f in "$SHIM" "$MS"; do
  [ -f "$f" ] || { echo "pe-verify.sh: $f missing (./dev.sh deps)" >&2; exit 2; }
done

TMP=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/vsb-bench-pe-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# The Microsoft UEFI CA 2011 certificate, as enrolled in Debian's store (vars export gives the
# raw ESL data; the X.509 entries are the DER certificates).
"$VSBOOT" vars export "$MS" -o "$TMP/ms.json"
python3 - "$TMP/ms.json" "$TMP" <<'EOF'
import json, subprocess, sys
doc = json.load(open(sys.argv[1]))
db = next(v for v in doc["variables"] if v["name"] == "db")
data = bytes.fromhex(db["data"])
off = 0
while off < len(data):
    size = int.from_bytes(data[off + 16:off + 20], "little")
    hdr = int.from_bytes(data[off + 20:off + 24], "little")
    sig = int.from_bytes(data[off + 24:off + 28], "little")
    entry = data[off + 28 + hdr + 16:off + 28 + hdr + sig]
    subj = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
                          input=entry, capture_output=True).stdout
    if b"UEFI CA 2011" in subj:
        open(sys.argv[2] + "/msca.der", "wb").write(entry)
    off += size
EOF
openssl x509 -inform DER -in "$TMP/msca.der" -out "$TMP/msca.pem"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/db.key" -out "$TMP/db.crt" \
  -subj "/CN=vsboot bench db" -days 30 2>/dev/null
"$MKPE" --sections 1 --size $((50 * 1024 * 1024)) "$TMP/large-unsigned.efi"
sbsign --key "$TMP/db.key" --cert "$TMP/db.crt" --output "$TMP/large-sb.efi" \
  "$TMP/large-unsigned.efi" 2>/dev/null
"$VSBOOT" pe sign "$TMP/large-sb.efi" --key "$TMP/db.key" --cert "$TMP/db.crt" \
  -o "$TMP/large.efi" 2>/dev/null

# Both verifiers must accept before anything is timed.
"$VSBOOT" pe verify "$SHIM" --db "$TMP/msca.pem" >/dev/null
sbverify --cert "$TMP/msca.pem" "$SHIM" >/dev/null 2>&1
"$VSBOOT" pe verify "$TMP/large.efi" --db "$TMP/db.crt" >/dev/null
sbverify --cert "$TMP/db.crt" "$TMP/large.efi" >/dev/null 2>&1

mean_ms() { # CMD... -> mean wall ms over RUNS (after one warm-up run)
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$TMP/h.json" "$(printf '%q ' "$@")" \
      >/dev/null 2>&1
    python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' "$TMP/h.json"
  else
    "$@" >/dev/null 2>&1
    local t0 t1
    t0=$(date +%s%N)
    for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1; done
    t1=$(date +%s%N)
    echo "scale=2; ($t1 - $t0) / $RUNS / 1000000" | bc
  fi
}

ratio() { python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }

printf '%-7s %10s %12s %12s %12s %14s %12s\n' image size vsboot_ms sbverify_ms sha256sum_ms \
  vsboot/sbverify vsboot/floor
rc=0
for case in small large; do
  if [ $case = small ]; then img=$SHIM cert=$TMP/msca.pem; else img=$TMP/large.efi cert=$TMP/db.crt; fi
  v=$(mean_ms "$VSBOOT" pe verify "$img" --db "$cert")
  s=$(mean_ms sbverify --cert "$cert" "$img")
  f=$(mean_ms sha256sum "$img")
  r1=$(ratio "$v" "$s")
  r2=$(ratio "$v" "$f")
  printf '%-7s %9sB %12s %12s %12s %14s %12s\n' $case "$(stat -c %s "$img")" "$v" "$s" "$f" "$r1" "$r2"
  if [ $case = large ]; then
    ok1=$(python3 -c "print(float('$r1') <= 1.0)")
    ok2=$(python3 -c "print(float('$r2') <= 1.5)")
    echo "target: vsboot no slower than sbverify on the large image: $ok1"
    echo "target: vsboot within 1.5x of sha256sum on the large image: $ok2"
    [ "$ok1" = True ] && [ "$ok2" = True ] || rc=1
  fi
done
exit $rc

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Start-up cost of the vsboot CLI, two builds side by side in one run (so load on the machine
# falls on both alike): OLD against NEW for three short commands — `--version` (nothing but
# start-up and the dynamic loader), `firmware select` (descriptors, no crypto, no XML) and
# `libvirt-xml` of a provisioned VM (libxml2 in use). Used to measure linking libcrypto and
# libxml2 as normal shared objects against the old static libcrypto + dlopen(libxml2) build.
#
#   bench/startup.sh OLD_VSBOOT [NEW_VSBOOT]     (default NEW: build/src/cli/vsboot)
#
# OLD is any earlier vsboot binary, e.g. built from an older commit:
#   git worktree add /tmp/old COMMIT && meson setup /tmp/old/build /tmp/old && ninja -C /tmp/old/build
# Environment: RUNS (default 200). Needs hyperfine; valgrind for the instruction counts.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=${1:?usage: bench/startup.sh OLD_VSBOOT [NEW_VSBOOT]}
NEW=${2:-$ROOT/build/src/cli/vsboot}
RUNS=${RUNS:-200}
command -v hyperfine >/dev/null || { echo "startup.sh: needs hyperfine" >&2; exit 2; }
for b in "$OLD" "$NEW"; do
  [ -x "$b" ] || { echo "startup.sh: no vsboot at $b" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/vsb-startup-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FWDIR=$ROOT/tests/data/libvirt-fw/debian
"$NEW" provision bench --state-dir "$TMP" --firmware-dir "$FWDIR" \
  --feature secure-boot --feature enrolled-keys >/dev/null

for b in "$OLD" "$NEW"; do
  echo "== $b"; ldd "$b" | grep -E 'libcrypto|libxml2' || echo "   (libcrypto static, libxml2 loaded on first use)"
done
# Instructions executed (valgrind's callgrind, dynamic loader included): the same on a busy and
# an idle machine, where wall times are not.
instr() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
            sed -n 's/.*refs: *//p' | tr -d ,; }
if command -v valgrind >/dev/null; then
  echo "### instructions (callgrind)"
  echo "| command | old | new |"; echo "|:---|---:|---:|"
  echo "| --version | $(instr "$OLD" --version) | $(instr "$NEW" --version) |"
  echo "| firmware select | $(instr "$OLD" firmware select --firmware-dir "$FWDIR" --arch x86_64 \
    --machine q35 --feature secure-boot) | $(instr "$NEW" firmware select --firmware-dir "$FWDIR" \
    --arch x86_64 --machine q35 --feature secure-boot) |"
  echo "| libvirt-xml | $(instr "$OLD" libvirt-xml bench --state-dir "$TMP") | $(instr "$NEW" \
    libvirt-xml bench --state-dir "$TMP") |"
fi
run() { # NAME ARGS...
  local name=$1; shift
  hyperfine -N --warmup 20 --runs "$RUNS" --export-markdown "$TMP/$name.md" \
    -n old "$OLD $*" -n new "$NEW $*" >/dev/null
  echo "### $name"; cat "$TMP/$name.md"
}
run version --version
run firmware-select firmware select --firmware-dir "$FWDIR" --arch x86_64 --machine q35 \
  --feature secure-boot --feature enrolled-keys
run libvirt-xml libvirt-xml bench --state-dir "$TMP"

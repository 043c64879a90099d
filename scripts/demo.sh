#!/usr/bin/env bash
# The main job of vsboot, end to end, on this machine (run by ./dev.sh demo after the build).
# For now: which firmware is installed, and which one is the Secure Boot firmware with keys
# enrolled that libvirt would give a q35 VM, with the reason for every other file.
set -euo pipefail
cd "$(dirname "$0")/.."

VSBOOT=${VSBOOT:-./build/src/cli/vsboot}
if [ ! -x "$VSBOOT" ]; then
  echo "demo.sh: $VSBOOT is not built; run ./dev.sh demo (or ./dev.sh build) first" >&2
  exit 2
fi

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$bold" "$1" "$plain" "${*:2}"; }

step "1. The host's firmware descriptors, in precedence order" \
  vsboot firmware list
"$VSBOOT" firmware list

step "2. Secure Boot firmware with the Microsoft keys enrolled, for a q35 VM, as libvirt picks it" \
  vsboot firmware select --arch x86_64 --machine q35 --feature secure-boot --feature enrolled-keys --explain
"$VSBOOT" firmware select --arch x86_64 --machine q35 \
  --feature secure-boot --feature enrolled-keys --explain

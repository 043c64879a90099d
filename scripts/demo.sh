#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job of vsboot, end to end, on this machine (run by ./dev.sh demo after the build).
# Which firmware is installed, and which one is the Secure Boot firmware with keys enrolled that
# libvirt would give a q35 VM, with the reason for every other file; then the whole job: own
# keys, a VM provisioned with them, a signed EFI app that runs with Secure Boot on and the
# unsigned one that the firmware denies.
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

# ---- The whole job: own keys, a VM provisioned with them, a signed EFI app run under Secure
# Boot, and the unsigned one refused by the firmware. Everything lives in a scratch directory.
PAYLOAD=${PAYLOAD:-./build/tests/payload/sbtest.efi}
if [ ! -f "$PAYLOAD" ]; then
  echo "demo.sh: the test payload $PAYLOAD is not built (ninja -C build)" >&2
  exit 2
fi
DEMO=$(mktemp -d /tmp/vsboot-demo-XXXXXX)
trap 'rm -rf "$DEMO"' EXIT
mkdir "$DEMO/vms"

step "3. Own Secure Boot keys: PK, KEK, db and an owner GUID" \
  vsboot keys generate "$DEMO/keys" --cn "vsboot demo"
"$VSBOOT" keys generate "$DEMO/keys" --cn "vsboot demo"

step "4. Provision VM 'demo': Secure Boot firmware with SMM, its own varstore, our keys enrolled" \
  vsboot provision demo --state-dir "$DEMO/vms" --keys "$DEMO/keys"
"$VSBOOT" provision demo --state-dir "$DEMO/vms" --keys "$DEMO/keys"

step "5. How to start it: the QEMU arguments, and the libvirt XML" \
  vsboot qemu-args demo --state-dir "$DEMO/vms" "&&" vsboot libvirt-xml demo --state-dir "$DEMO/vms" --style explicit
"$VSBOOT" qemu-args demo --state-dir "$DEMO/vms"
"$VSBOOT" libvirt-xml demo --state-dir "$DEMO/vms" --style explicit

step "6. Sign the test EFI app with our db key" \
  vsboot pe sign "$PAYLOAD" --key "$DEMO/keys/db.key" --cert "$DEMO/keys/db.crt" -o "$DEMO/signed.efi"
"$VSBOOT" pe sign "$PAYLOAD" --key "$DEMO/keys/db.key" --cert "$DEMO/keys/db.crt" \
  -o "$DEMO/signed.efi"

step "7. Run it: the firmware starts it with Secure Boot on (QEMU is stopped at the verdict)" \
  vsboot run demo --state-dir "$DEMO/vms" --efi-app "$DEMO/signed.efi"
"$VSBOOT" run demo --state-dir "$DEMO/vms" --efi-app "$DEMO/signed.efi" --timeout 600 2>&1 |
  grep -E 'accelerator|VSBOOT-PAYLOAD|vsboot: the|Access Denied|Security Violation'
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || { echo "demo.sh: the signed app did not run (exit $rc)" >&2; exit 1; }

step "8. The unsigned app: denied by the firmware (exit status 1)" \
  vsboot run demo --state-dir "$DEMO/vms" --efi-app "$PAYLOAD"
set +e
"$VSBOOT" run demo --state-dir "$DEMO/vms" --efi-app "$PAYLOAD" --accel tcg --timeout 600 2>&1 |
  grep -E 'VSBOOT-PAYLOAD|vsboot: the|Access Denied|Security Violation'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 1 ] || { echo "demo.sh: the unsigned app was not denied (exit $rc)" >&2; exit 1; }
printf '\n%sSecure Boot is enforced with our own keys: signed app ran, unsigned app denied.%s\n' \
  "$bold" "$plain"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `./dev.sh demo` installs only what the demo needs: the packages it names, with everything
# they depend on (no Recommends: dev.sh installs with --no-install-recommends), hold no kernel
# image, no systemd or udev, no libvirt daemon. Reads apt's local cache only (no network, no
# root). TAP on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mapfile -t pkgs < <("$root/dev.sh" packages demo)
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${pkgs[@]}" | grep -v '^ ' | sort -u)
echo "TAP version 13"
echo "1..2"
echo "# ${#pkgs[@]} packages named, $(wc -l <<<"$closure") with their dependencies"
unwanted=$(grep -E '^(linux-image|systemd$|systemd-|udev$|libvirt-daemon|init$)' <<<"$closure" || true)
if [ -z "$unwanted" ]; then
  echo "ok 1 - dev.sh demo pulls in no kernel image, systemd, udev or libvirt daemon"
else
  echo "not ok 1 - dev.sh demo would install: $(tr '\n' ' ' <<<"$unwanted")"
fi
missing=$(for p in qemu-system-x86 ovmf; do grep -qx "$p" <<<"$closure" || echo "$p"; done)
if [ -z "$missing" ]; then
  echo "ok 2 - and it installs what the demo runs (QEMU, OVMF)"
else
  echo "not ok 2 - dev.sh demo does not install $missing"
fi
[ -z "$unwanted" ] && [ -z "$missing" ]

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Unpack Debian packages from another suite (bookworm-backports, trixie) into a private tree,
# for conformance tests against newer versions (virt-firmware, libvirt, QEMU). The system's apt
# sources, lists and installed packages are never touched: apt runs with its own sources list,
# lists and cache under DEST/apt, and packages are unpacked with dpkg -x, not installed.
#
#   scripts/fetch-debs.sh DEST SUITE PACKAGE...
#     e.g. scripts/fetch-debs.sh build/debs bookworm-backports python3-virt-firmware
#     libvirt 11.3 for tests/libvirt (VSB_LIBVIRT=11.3): libvirt0 libvirt-common libvirt-clients
#     libvirt-daemon libvirt-daemon-common libvirt-daemon-driver-qemu libvirt-daemon-log
#     libvirt-daemon-lock (its other dependencies are bookworm's, already installed; the
#     harness mounts the tree over the installed libvirt in its private namespace only)
#
# The unpacked files land in DEST/SUITE/root (DEST/SUITE/root/usr/lib/python3/dist-packages/...).
# Already unpacked packages (DEST/SUITE/done/PACKAGE) are not fetched again.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 DEST SUITE PACKAGE..." >&2; exit 2; }
dest=$1 suite=$2
shift 2
case $suite in
  bookworm-backports|trixie|bookworm) ;;
  *) echo "fetch-debs.sh: unknown suite '$suite' (bookworm-backports, trixie)" >&2; exit 2 ;;
esac
base=$(mkdir -p "$dest/$suite" && cd "$dest/$suite" && pwd)
apt=$base/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$base/root" "$base/done" "$base/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
  > "$apt/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
      -o APT::Get::List-Cleanup=0)
todo=()
for p in "$@"; do [ -e "$base/done/$p" ] || todo+=("$p"); done
[ ${#todo[@]} -gt 0 ] || exit 0
if [ -z "$(ls -A "$apt/lists" 2>/dev/null | grep -v partial)" ]; then
  timeout 300 apt-get "${opts[@]}" -q update >&2
fi
cd "$base/debs"
for p in "${todo[@]}"; do
  # The suite's own version, not the host's: pin by suite through the /SUITE syntax.
  timeout 300 apt-get "${opts[@]}" -q download "$p/$suite" >&2
  deb=$(ls -t "${p}"_*.deb | head -n1)
  dpkg -x "$deb" "$base/root"
  touch "$base/done/$p"
done

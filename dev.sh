#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsboot developer entry point on a Debian machine.
#   ./dev.sh demo   install what is missing, build, run the main job end to end
#   ./dev.sh test   install what is missing, build (plain and ASan+UBSan), run the whole suite
#   ./dev.sh fuzz [SECONDS] explore: every libFuzzer harness with a random seed (default 300 s)
#   ./dev.sh deps | build   just those steps
#   ./dev.sh packages demo|test   list the Debian packages that target installs
set -euo pipefail
cd "$(dirname "$0")"

# Dependencies, by Debian package name, in three lists so that `demo` installs only what the
# demo runs (no kernel image, no libvirtd, no systemd upgrade pulled in by them).
# PACKAGES: what the build needs (compiler, libraries, man pages, the gnu-efi test payload).
PACKAGES=(
  meson ninja-build pkg-config gcc gnu-efi
  libglib2.0-dev libjson-glib-dev libxml2-dev libssl-dev liblzma-dev
  scdoc bash-completion libvirt-dev
)
# DEMO_PACKAGES: what scripts/demo.sh runs: QEMU and OVMF, and the ESP tools of `run --efi-app`.
DEMO_PACKAGES=(
  qemu-system-x86 qemu-utils ovmf dosfstools mtools
)
# TEST_PACKAGES: everything the suite uses for real (it never skips), and the packaging checks.
# qemu-efi-arm puts 32-bit ARM builds beside AAVMF: the firmware tests must hold with it too.
TEST_PACKAGES=(
  clang libclang-rt-14-dev
  qemu-system-arm qemu-efi-aarch64 qemu-efi-arm
  sbsigntool efitools
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-utils
  swtpm swtpm-tools python3 python3-cryptography openssl util-linux hyperfine
  shim-signed grub-efi-amd64-signed linux-image-amd64 pesign osslsigncode
  man-db debhelper devscripts dpkg-dev fakeroot lintian
  prometheus
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# deps LIST...: install the packages of the named lists that are not installed yet.
deps() {
  local missing=() list p
  for list in "$@"; do
    local -n pkgs=$list
    for p in "${pkgs[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing ${missing[*]}" >&2
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

build() {
  [ -f build/build.ninja ] || meson setup build
  ninja -C build
}

build_checked() {
  build
  [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
  ninja -C build-asan
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
  fi
  ninja -C build-fuzz
}

# Newer versions from other Debian suites, unpacked privately (never installed, the system's apt
# sources untouched) for the conformance tests: virt-firmware 24.2 is the reference enroller;
# libvirt 11.3 runs the libvirt tests a second time (VSB_LIBVIRT=11.3, tests/libvirt).
fetch_debs() {
  ./scripts/fetch-debs.sh .debs bookworm-backports python3-virt-firmware
  ./scripts/fetch-debs.sh .debs bookworm-backports libvirt0 libvirt-common libvirt-clients \
    libvirt-daemon libvirt-daemon-common libvirt-daemon-driver-qemu libvirt-daemon-log \
    libvirt-daemon-lock
}

run_tests() {
  local rc=0
  # Plain build: everything. Sanitizer build: everything again, any report fails the test,
  # except the packaging (an outside program cannot link a sanitized library; one build's
  # packages prove what the other's would).
  meson test -C build --print-errorlogs --num-processes 2 || rc=1
  meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
    --no-suite package || rc=1
  # Fuzz build: the libFuzzer harnesses, each for a short bounded time.
  meson test -C build-fuzz --suite fuzz --print-errorlogs --num-processes 2 || rc=1
  return $rc
}

# Not part of the suite (its verdict would depend on luck): long runs with random seeds, two
# harnesses at a time; a finding is printed in base64, to be fixed and committed as a seed.
explore() {
  local seconds=${1:-300} rc=0
  for exe in build-fuzz/fuzz/fuzz-*; do
    [ -x "$exe" ] && [ -f "$exe" ] || continue
    local name=${exe##*/fuzz-}
    echo "$exe fuzz/corpus/$name seconds=$seconds"
  done | xargs -P 2 -L 1 sh -c 'fuzz/run-fuzzer.sh "$0" "$@" > "build-fuzz/explore-${0##*/}.log" 2>&1 \
        && echo "$0: clean" || { echo "$0: FINDING, see build-fuzz/explore-${0##*/}.log"; exit 1; }' \
    || rc=1
  return $rc
}

case "${1:-}" in
  deps) deps PACKAGES DEMO_PACKAGES TEST_PACKAGES ;;
  packages) # packages demo|test: the package names that target installs, one a line
    case "${2:-}" in
      demo) printf '%s\n' "${PACKAGES[@]}" "${DEMO_PACKAGES[@]}" ;;
      test) printf '%s\n' "${PACKAGES[@]}" "${DEMO_PACKAGES[@]}" "${TEST_PACKAGES[@]}" ;;
      *) echo "usage: $0 packages demo|test" >&2; exit 2 ;;
    esac ;;
  build) deps PACKAGES; build ;;
  demo) deps PACKAGES DEMO_PACKAGES; build; exec ./scripts/demo.sh ;;
  test) deps PACKAGES DEMO_PACKAGES TEST_PACKAGES; fetch_debs; build_checked; run_tests ;;
  fuzz) deps PACKAGES TEST_PACKAGES; build_checked; explore "${2:-300}" ;;
  *) echo "usage: $0 demo|test|fuzz [SECONDS]|deps|build|packages demo|test" >&2; exit 2 ;;
esac

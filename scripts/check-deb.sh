#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages, end to end, on this machine (root; TAP on stdout):
#   build them from a copy of the source tree (dpkg-buildpackage -us -uc -b), lintian without
#   errors, install them (apt, so their Depends must resolve), smoke-test what was installed (the
#   vsboot command against the host's OVMF, its man pages and completion, the libraries it
#   links, the shared library's versioned exports, the example program built with pkg-config
#   and run), then purge them and check nothing of them is left.
#   scripts/check-deb.sh [WORKDIR]    (default: a fresh temporary directory, removed after)
# DEB_BUILD_OPTIONS is passed through: CI uses nocheck (the suite itself runs the unit tests).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-}
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/vsboot-deb-XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
pkgs=(vsboot vsboot-data libvsboot0.1 libvsboot-dev)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# check NAME COMMAND...: one TAP result; the command's output becomes diagnostics on failure.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name"; printf '%s\n' "$out" | tail -40 | sed 's/^/# /'; fi
}
apt_get() {
  env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"
}
purge() {
  local installed=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed\|config-files' && installed+=("$p")
  done
  [ ${#installed[@]} -eq 0 ] || apt_get purge "${installed[@]}"
}

echo "TAP version 13"
[ "$(id -u)" -eq 0 ] || { echo "1..1"; echo "not ok 1 - needs root (it installs the packages)"; exit 1; }
purge >/dev/null 2>&1 # a run killed half-way left them installed

# ---- build, from a copy: dpkg-buildpackage writes into debian/ and the parent directory.
mkdir -p "$work/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$src" && git ls-files -co --exclude-standard -z | grep -zv '^\.debs$' |
     tar --null -T - -cf -) | tar -x -C "$work/src"
else
  tar -C "$src" --exclude='./build*' --exclude=./.debs -cf - . | tar -x -C "$work/src"
fi
check "dpkg-buildpackage -us -uc -b (log: $work/build.log)" \
  bash -c "cd '$work/src' && dpkg-buildpackage -us -uc -b > ../build.log 2>&1 || { tail -40 ../build.log; exit 1; }"
debs=()
for p in "${pkgs[@]}"; do
  f=$(ls "$work"/"${p}"_*.deb 2>/dev/null | head -1)
  [ -n "$f" ] && debs+=("$f")
done
check "the four packages are built" test ${#debs[@]} -eq ${#pkgs[@]}
# The command carries the library's code (it also uses its private helpers), so it needs the
# data the library reads as much as libvsboot does.
check "vsboot and libvsboot0.1 depend on vsboot-data" bash -c \
  "cd '$work' && dpkg-deb -f vsboot_*.deb Depends | grep -q 'vsboot-data (=' &&
   dpkg-deb -f libvsboot0.1_*.deb Depends | grep -q 'vsboot-data (='"
check "symbols file matches the version script" "$src/scripts/update-deb-symbols.py" --check
# lintian fails on errors; its warnings and infos are printed for the report.
check "lintian: no errors" bash -c "cd '$work' && lintian --fail-on error --display-info ./*.changes 2>&1 | tee lintian.log; exit \${PIPESTATUS[0]}"
sed 's/^/# lintian: /' "$work/lintian.log" 2>/dev/null

# ---- install and smoke-test what is installed.
check "apt-get install the .debs" apt_get install --no-install-recommends "${debs[@]}"
check "vsboot --version is the packaged version" bash -c \
  "/usr/bin/vsboot --version | grep -qx \"vsboot $(dpkg-query -W -f='${Version}' vsboot)\""
check "man vsboot renders without warnings" bash -c \
  "out=\$(MANWIDTH=80 man --warnings -P cat vsboot 2>&1 >/dev/null); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; };
   MANWIDTH=80 man -P cat vsboot | grep -q 'vsboot-firmware' && MANWIDTH=80 man -P cat 5 vsboot-state >/dev/null"
check "bash completion installed where bash-completion loads it" \
  test -f "$(pkg-config --variable=completionsdir bash-completion)/vsboot"
lib=$(dpkg -L libvsboot0.1 | grep '/libvsboot\.so\.[0-9.]*$' | head -1)
for bin in /usr/bin/vsboot "$lib"; do
  check "ldd ${bin##*/}: libcrypto.so.3 and libxml2.so.2, no dlopen needed" bash -c \
    "ldd '$bin' | tee /dev/stderr | grep -q 'libcrypto\\.so\\.3 => /' && ldd '$bin' | grep -q 'libxml2\\.so\\.2 => /'"
done
check "nm -D: every export of ${lib##*/} is versioned VSBOOT_*" bash -c \
  "nm -D --defined-only --with-symbol-versions '$lib' |
     awk '\$2 != \"A\" && \$3 !~ /@@VSBOOT_/ {print; bad=1} END {exit bad}'"

# debian/tests/smoke, as autopkgtest runs it: vsboot firmware select against the installed
# OVMF, vsboot provision and audit of a VM, and the installed example built with pkg-config
# vsboot, linked with the installed libvsboot, run: select, provision, audit, enforced.
mkdir -p "$work/smoke"
check "debian/tests/smoke: firmware select, provision and audit, the example built and run" \
  env AUTOPKGTEST_TMP="$work/smoke" "$work/src/debian/tests/smoke"

# ---- purge: nothing of the packages may remain.
check "apt-get purge" purge
for p in "${pkgs[@]}"; do
  check "dpkg -L $p: not installed" bash -c "! dpkg -L $p >/dev/null 2>&1"
done
check "no file of vsboot left" bash -c \
  "! ls -d /usr/lib/*/libvsboot* /usr/bin/vsboot /usr/include/vsboot /usr/share/vsboot \
     /usr/share/man/man1/vsboot* /usr/share/man/man3/libvsboot* /usr/share/bash-completion/completions/vsboot \
     /usr/lib/*/pkgconfig/vsboot.pc /usr/share/doc/*vsboot* 2>/dev/null | grep ."

echo "1..$n"
[ "$failed" -eq 0 ]

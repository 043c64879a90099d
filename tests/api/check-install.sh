#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What a program outside the tree sees, from the install of this build staged in a directory: the
# installed headers are exactly the public list, none includes OpenSSL or libxml2, each compiles
# alone and the umbrella compiles with -Wall -Wextra -Werror as C (and C++ when a compiler is
# there); a program built with `pkg-config vsboot` links the installed libvsboot, whose SONAME
# carries the minor, and vsb_version() equals the macros it was compiled with.
set -euo pipefail
root=${VSB_SOURCE_ROOT:?} build=${VSB_BUILD_ROOT:?} cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
# The install as meson plans it (meson-info/intro-installed.json: each built or source file and
# its destination, and the library's symlinks), staged without writing into the build tree,
# which the unit suite may run as another user.
python3 - "$build/meson-info/intro-installed.json" "$tmp/dest" <<'PY' ||
import json, os, shutil, sys
plan, dest = json.load(open(sys.argv[1])), sys.argv[2]
links = []
for src, dst in plan.items():
    out = dest + dst
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if os.path.isabs(src):
        shutil.copy2(src, out)
    else:
        links.append(out)
# A library symlink (libvsboot.so, libvsboot.so.0.1) names the real file it stands for.
for out in links:
    d, name = os.path.split(out)
    real = [f for f in os.listdir(d) if f.startswith(name + '.') and not os.path.islink(os.path.join(d, f))]
    os.symlink(max(real, key=len), out)
PY
  { echo "not ok: staging the install failed"; exit 1; }

inc=$(find "$tmp/dest" -type d -path '*/include/vsboot')
pc=$(find "$tmp/dest" -name vsboot.pc)
[ -n "$inc" ] && [ -n "$pc" ] || { echo "not ok: no include/vsboot or vsboot.pc installed"; exit 1; }

# Exactly the public headers, and version.h, installed.
sed -n "/^vsboot_public_headers = files(/,/^)/s/^  '\\(.*\\.h\\)',\$/\\1/p" \
  "$root/include/vsboot/meson.build" | { cat; echo version.h; } | LC_ALL=C sort > "$tmp/public"
(cd "$inc" && ls) | LC_ALL=C sort > "$tmp/installed"
diff -u --label public --label installed "$tmp/public" "$tmp/installed" ||
  { echo "not ok: installed headers differ from the public list"; fail=1; }
if grep -n -E '#[[:space:]]*include[[:space:]]*[<"](openssl|libxml)/' "$inc"/*.h; then
  echo "not ok: a public header includes OpenSSL or libxml2"; fail=1
fi
if grep -n -w -E 'X509|X509_[A-Z_]+|PKCS7|EVP_[A-Z_]+|ASN1_[A-Z_]+|BIO|BIGNUM|xml[A-Z][A-Za-z]*' "$inc"/*.h | grep -v '^\S*:[0-9]*: *\(/\*\| \*\)'; then
  echo "not ok: a public header uses an OpenSSL or libxml2 type"; fail=1
fi

# The installed vsboot.pc as a program would use it, pointed at the destdir.
mkdir "$tmp/pc"
sed "s|^prefix=|prefix=$tmp/dest|" "$pc" > "$tmp/pc/vsboot.pc"
export PKG_CONFIG_PATH=$tmp/pc
cflags=$(pkg-config --cflags vsboot) libs=$(pkg-config --libs vsboot)
# In a sanitizer build the library leaves the sanitizer runtime to the program, which must load
# it first: link the test program with the same -fsanitize.
case ${VSB_SANITIZE:-none} in none) ;; *) libs="-fsanitize=$VSB_SANITIZE $libs" ;; esac

# Each header alone (self-contained), then the umbrella strictly, as C and C++.
for h in "$inc"/*.h; do
  printf '#include <vsboot/%s>\n' "$(basename "$h")" > "$tmp/one.c"
  "$cc" -std=gnu11 -fsyntax-only $cflags "$tmp/one.c" ||
    { echo "not ok: <vsboot/$(basename "$h")> does not compile alone"; fail=1; }
done
cat > "$tmp/umbrella.c" <<'C'
#include <vsboot/vsboot.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
  char want[32];
  guint major = 99, minor = 99, micro = 99;
  snprintf(want, sizeof want, "%d.%d.%d", VSB_VERSION_MAJOR, VSB_VERSION_MINOR,
           VSB_VERSION_MICRO);
  vsb_version_get(&major, &minor, &micro);
  if (strcmp(vsb_version(), want) != 0 || strcmp(VSB_VERSION_STRING, want) != 0 ||
      major != VSB_VERSION_MAJOR || minor != VSB_VERSION_MINOR || micro != VSB_VERSION_MICRO ||
      !VSB_CHECK_VERSION(VSB_VERSION_MAJOR, VSB_VERSION_MINOR, VSB_VERSION_MICRO) ||
      VSB_CHECK_VERSION(VSB_VERSION_MAJOR, VSB_VERSION_MINOR + 1, 0)) {
    fprintf(stderr, "vsb_version() %s, macros %s\n", vsb_version(), want);
    return 1;
  }
  printf("%s\n", vsb_version());
  return vsb_error_quark() != 0 ? 0 : 1;
}
C
if "$cc" -std=gnu11 -Wall -Wextra -Werror $cflags -o "$tmp/umbrella" "$tmp/umbrella.c" $libs; then
  LD_LIBRARY_PATH=$(readlink -f "$(dirname "$pc")/..")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    "$tmp/umbrella" || { echo "not ok: vsb_version() does not equal the macros"; fail=1; }
else
  echo "not ok: <vsboot/vsboot.h> does not compile and link with -Wall -Wextra -Werror"; fail=1
fi
if [ -n "${CXX:-}" ]; then
  cp "$tmp/umbrella.c" "$tmp/umbrella.cc"
  "$CXX" -Wall -Wextra -Werror -fsyntax-only $cflags "$tmp/umbrella.cc" ||
    { echo "not ok: <vsboot/vsboot.h> does not compile as C++"; fail=1; }
fi

# The SONAME says the ABI may change at the next minor release.
so=$(find "$tmp/dest" -name 'libvsboot.so.*.*.*' | head -1)
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
version=$(sed -n "s/^  version : '\\([0-9.]*\\)',\$/\\1/p" "$root/meson.build")
want=libvsboot.so.${version%%.*}
[ "${version%%.*}" = 0 ] && want=libvsboot.so.0.$(echo "$version" | cut -d. -f2)
[ "$soname" = "$want" ] || { echo "not ok: SONAME $soname, want $want"; fail=1; }

[ $fail = 0 ] && echo "ok: $(wc -l < "$tmp/installed") headers installed, all public; SONAME $soname"
exit $fail

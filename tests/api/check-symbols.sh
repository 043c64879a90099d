#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# libvsboot exports exactly the functions and data of libvsboot.sym, each with the version node
# of this release, and libvsboot.sym lists exactly what the public headers mark (the library
# linked without the script shows that set). Every header in include/vsboot is public (listed
# in include/vsboot/meson.build, declarations between VSB_BEGIN_DECLS and VSB_END_DECLS).
#   check-symbols.sh LIBVSBOOT_SO EXPORTS_SO LIBVSBOOT_SYM
set -euo pipefail
lib=$1 exports=$2 sym=$3
root=${VSB_SOURCE_ROOT:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

version=$(sed -n "s/^  version : '\\([0-9.]*\\)',\$/\\1/p" "$root/meson.build")
minor=${version#*.}; minor=${minor%%.*}
node="VSBOOT_${version%%.*}.$minor"
[ "${version%%.*}" = 0 ] || node="VSBOOT_${version%%.*}"

# The script: one node, named for this release, a global list and local: *.
grep -q "^$node {\$" "$sym" || { echo "not ok: $sym has no node $node (version $version)"; fail=1; }
sed -n 's/^    \([A-Za-z_][A-Za-z0-9_]*\);$/\1/p' "$sym" | LC_ALL=C sort > "$tmp/script"
[ -s "$tmp/script" ] || { echo "not ok: $sym lists no symbol"; fail=1; }

# The shared library: every defined dynamic symbol carries the node (the node's own absolute
# symbol aside).
nm -D --defined-only --with-symbol-versions "$lib" | awk '{print $NF}' > "$tmp/lib-raw"
grep -v "^$node\$" "$tmp/lib-raw" | grep -v "@@$node\$" > "$tmp/unversioned" || true
if [ -s "$tmp/unversioned" ]; then
  echo "not ok: exported without version $node:"; sed 's/^/  /' "$tmp/unversioned"; fail=1
fi
grep "@@$node\$" "$tmp/lib-raw" | sed "s/@@$node\$//" | LC_ALL=C sort > "$tmp/lib"
if ! diff -u --label libvsboot.sym --label "nm -D $(basename "$lib")" "$tmp/script" "$tmp/lib"; then
  echo "not ok: the shared library does not export exactly libvsboot.sym"; fail=1
fi

# The marks in the headers against the script.
nm -D --defined-only "$exports" | awk '{print $NF}' |
  grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start |
  grep -v '^__odr_asan\.' | LC_ALL=C sort > "$tmp/marked"  # ASan's ODR markers of globals
if ! diff -u --label libvsboot.sym --label "marked in public headers" "$tmp/script" "$tmp/marked"; then
  echo "not ok: libvsboot.sym differs from the public headers' marks;" \
       "scripts/update-symbols.sh BUILDDIR rewrites it"; fail=1
fi

# include/vsboot holds the public headers only, each marked.
cd "$root/include/vsboot"
sed -n "/^vsboot_public_headers = files(/,/^)/s/^  '\\(.*\\.h\\)',\$/\\1/p" meson.build | sort > "$tmp/public"
for h in *.h; do
  if grep -qx "$h" "$tmp/public"; then
    case $h in export.h|vsboot.h) continue ;; esac
    if grep -q '^G_BEGIN_DECLS' "$h" || ! grep -q '^VSB_BEGIN_DECLS' "$h"; then
      echo "not ok: public $h does not wrap its declarations in VSB_BEGIN_DECLS/VSB_END_DECLS"; fail=1
    fi
  else
    echo "not ok: $h is in include/vsboot but not in its meson.build's public list" \
         "(a private header belongs next to its .c file in src/lib)"; fail=1
  fi
done
for h in $(cat "$tmp/public"); do
  [ -f "$h" ] || { echo "not ok: public header $h does not exist"; fail=1; }
done
# The umbrella includes exactly the public headers (and the generated version.h).
sed -n 's|^#include "vsboot/\(.*\.h\)"$|\1|p' vsboot.h | LC_ALL=C sort > "$tmp/umbrella"
{ grep -v -x vsboot.h "$tmp/public"; echo version.h; } | LC_ALL=C sort > "$tmp/want-umbrella"
if ! diff -u --label "public list + version.h" --label "vsboot.h includes" "$tmp/want-umbrella" "$tmp/umbrella"; then
  echo "not ok: <vsboot/vsboot.h> does not include exactly the public headers"; fail=1
fi

[ $fail = 0 ] && echo "ok: $(wc -l < "$tmp/script") symbols, all $node, all marked in public headers"
exit $fail

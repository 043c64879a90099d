#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Move libvsboot's private headers out of include/vsboot (which holds only the installed API)
# to src/lib next to their .c files, and rewrite every #include "vsboot/NAME.h" of them to
# "NAME.h" (src/lib is on the include path of the library, the CLI, tests and fuzzers).
# Idempotent: run it again after a rebase brings new includes of the old paths.
#   scripts/move-private-headers.sh [SOURCE_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
private="fileio tool json filecache qemu-probe fwimage"
for h in $private; do
  if [ -f "include/vsboot/$h.h" ]; then
    git mv "include/vsboot/$h.h" "src/lib/$h.h"
  fi
done
pattern=$(echo $private | sed 's/ /\\|/g')
files=$(grep -rl --include=*.c --include=*.h --include=*.inc \
          "#include [\"<]vsboot/\\($pattern\\)\\.h[\">]" src tests fuzz bench examples 2>/dev/null || true)
for f in $files; do
  sed -i "s,#include [\"<]vsboot/\\($pattern\\)\\.h[\">],#include \"\\1.h\"," "$f"
done
echo "move-private-headers: $(echo $private | wc -w) headers in src/lib, $(echo $files | wc -w) files rewritten"

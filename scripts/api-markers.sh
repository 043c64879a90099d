#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Mark every public header of include/vsboot/meson.build as API: G_BEGIN_DECLS/G_END_DECLS
# become VSB_BEGIN_DECLS/VSB_END_DECLS (export.h), which export its declarations from the
# shared library. Idempotent, so it can be run again after a rebase or on a new header.
#   scripts/api-markers.sh [SOURCE_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root/include/vsboot"
for h in $(sed -n "/^vsboot_public_headers = files(/,/^)/s/^  '\\(.*\\.h\\)',\$/\\1/p" meson.build); do
  case $h in export.h|vsboot.h|version.h) continue ;; esac
  grep -q 'G_BEGIN_DECLS' "$h" || continue
  sed -i -e 's/^G_BEGIN_DECLS$/VSB_BEGIN_DECLS/' -e 's/^G_END_DECLS$/VSB_END_DECLS/' "$h"
  grep -q '#include "vsboot/export.h"' "$h" ||
    sed -i '0,/^#include /s//#include "vsboot\/export.h"\n#include /' "$h"
done

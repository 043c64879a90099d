#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# List C functions outside tests longer than a limit (default 120 lines),
# longest first: "LINES FILE:LINE FUNCTION".  Needs Universal Ctags.
#   scripts/function-lengths.sh [LIMIT] [PATH...]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-120}
shift || true
[ $# -gt 0 ] || set -- src fuzz bench examples
ctags -R -x --kinds-C=f --fields=+ne --_xformat='%{end} %n %F %N' --languages=C "$@" 2>/dev/null |
  awk -v limit="$limit" '{ len = $1 - $2 + 1; if (len > limit) printf "%5d %s:%s %s\n", len, $3, $2, $4 }' |
  sort -rn

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every built man page formats without a warning from man/groff (all warnings on), and no line of
# it is wider than the 80 columns it is formatted for. TAP output.
# Usage: check-man-warnings.sh PAGE...
set -u
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

if ! command -v man > /dev/null 2>&1; then
  echo "Bail out! man is not installed (Debian: apt-get install man-db)"
  exit 1
fi
[ $# -gt 0 ] || { echo "Bail out! no pages given"; exit 1; }
for page in "$@"; do
  name=${page##*/}
  if ! [ -s "$page" ]; then
    not_ok "$name: missing or empty"
    continue
  fi
  warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -E UTF-8 -l "$page" 2>&1 > /dev/null)
  if [ -n "$warnings" ]; then
    not_ok "$name: man --warnings"
    printf '%s\n' "$warnings" | sed 's/^/# /'
  else
    ok "$name: no warnings"
  fi
  text=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -E UTF-8 -l "$page" 2> /dev/null | col -bx)
  wide=$(printf '%s\n' "$text" | awk 'length($0) > 80')
  if [ -z "$text" ]; then
    not_ok "$name: formats to nothing"
  elif [ -n "$wide" ]; then
    not_ok "$name: lines wider than 80 columns"
    printf '%s\n' "$wide" | sed 's/^/# /'
  else
    ok "$name: fits 80 columns"
  fi
done
echo "1..$n"
[ "$failed" -eq 0 ]

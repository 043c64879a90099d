#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzzer.sh FUZZER SEED_DIR runs=N|seconds=N: fuzz a scratch copy of the seeds.
#   runs=N      the test suite's mode: a fixed seed and a fixed number of runs, so a result
#               is the same on every machine and a CI run never fails by luck;
#   seconds=N   exploration (./dev.sh fuzz): a random seed for a bounded time.
# VSB_FUZZ_TIMEOUT (default 10) is the seconds one input may take before it counts as a hang;
# raise it when exploring on a loaded machine, where a starved process misses 10 s.
# libFuzzer reports a crash with exit 77 by default, which meson reads as "skipped": any
# finding exits 1 here, and the input that caused it is printed (the scratch copy is removed).
set -eu
fuzzer=$1 seeds=$2 limit=$3
case $limit in
  runs=*) bound="-seed=1 -reload=0 -runs=${limit#runs=}" ;;
  seconds=*) bound="-max_total_time=${limit#seconds=}" ;;
  *) echo "run-fuzzer.sh: limit must be runs=N or seconds=N, not '$limit'" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
mkdir "$work/.findings"
status=0
# shellcheck disable=SC2086 # $bound is two options or one
"$fuzzer" $bound -timeout="${VSB_FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -error_exitcode=1 \
  -timeout_exitcode=1 -print_final_stats=1 -artifact_prefix="$work/.findings/" "$work" || status=$?
for f in "$work"/.findings/*; do
  [ -e "$f" ] || continue
  echo "finding $(basename "$f") (base64):"
  base64 "$f"
done
exit "$status"

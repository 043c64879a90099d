#!/bin/sh
# run-fuzzer.sh FUZZER SEED_DIR SECONDS: fuzz a scratch copy of the seeds for a bounded time.
# libFuzzer reports a crash with exit 77 by default, which meson reads as "skipped": any
# finding exits 1 here, and the input that caused it is printed (the scratch copy is removed).
set -eu
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
mkdir "$work/.findings"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
  -timeout_exitcode=1 -print_final_stats=1 -artifact_prefix="$work/.findings/" "$work" || status=$?
for f in "$work"/.findings/*; do
  [ -e "$f" ] || continue
  echo "finding $(basename "$f") (base64):"
  base64 "$f"
done
exit "$status"

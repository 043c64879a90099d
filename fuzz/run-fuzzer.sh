#!/bin/sh
# run-fuzzer.sh FUZZER SEED_DIR SECONDS: fuzz a scratch copy of the seeds for a bounded time.
set -eu
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `vsboot provision` for many VMs: selection, the per-VM varstore copy, enrollment of own keys,
# the state file. For each count (default 10, 100, 1000) into a fresh state directory, twice:
#   plain   --enrolled-keys (Debian's Microsoft-keys template copied; the common case)
#   enroll  --keys DIR (PK/KEK/db generated once with `vsboot keys generate`, enrolled per VM)
# measured two ways:
#   cli     one `vsboot provision` process per VM: wall and CPU time per VM, and the peak RSS
#           of the largest single process (/usr/bin/time %M over the whole loop), next to the
#           cost of starting `vsboot --version` the same way (the process floor of this host)
#   batch   one `vsboot provision vm0 vm1 ... vmN-1` process for all N VMs: wall and CPU per
#           VM and the process's peak RSS (the command as a management stack would call it)
#   lib     vsb_vm_provision() N times in one process (bench/provision-lib.c): wall (mean, p50,
#           p95) and CPU per VM, and the process's peak RSS after 10, 100, 1000 VMs -- memory
#           must stay flat as the count grows
# The state directory is on BENCH_DIR (default /tmp: a disk, so every VM pays the fsyncs of
# its varstore and state file) and, when /dev/shm exists, also on tmpfs (no device flush).
# Target: under 5 ms per VM without enrollment, memory flat as the count grows; judged on the
# batch command's wall time and on the library's CPU time.
#
#   bench/provision.sh [BUILDDIR]        (default BUILDDIR: build)
#
# Environment: VSBOOT (default BUILDDIR/src/cli/vsboot), COUNTS (default "10 100 1000"),
# BENCH_DIR (default $TMPDIR or /tmp), CC (default cc). Firmware checksums are cached in
# $XDG_CACHE_HOME/vsboot (the first VM hashes the files, later ones do not).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
VSBOOT=${VSBOOT:-$BUILD/src/cli/vsboot}
COUNTS=${COUNTS:-10 100 1000}
CC=${CC:-cc}
MACHINE=pc-q35-7.2  # versioned: no QEMU is asked to resolve an alias in the timed loop

[ -x "$VSBOOT" ] || { echo "provision.sh: no vsboot at $VSBOOT (build first)" >&2; exit 2; }
[ -f "$BUILD/src/lib/libvsboot.so" ] || { echo "provision.sh: no libvsboot in $BUILD" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "provision.sh: /usr/bin/time missing (package time)" >&2; exit 2; }

TMP=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/vsb-bench-provision-XXXXXX")
SHM=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then SHM=$(mktemp -d /dev/shm/vsb-bench-provision-XXXXXX); fi
cleanup() { rm -rf "$TMP"; [ -z "$SHM" ] || rm -rf "$SHM"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The in-process driver, built against this build's library.
# shellcheck disable=SC2046
"$CC" -O2 -o "$TMP/provision-lib" "$ROOT/bench/provision-lib.c" -I"$ROOT/include" -I"$BUILD" \
  $(pkg-config --cflags glib-2.0 json-glib-1.0) -L"$BUILD/src/lib" -lvsboot \
  -Wl,-rpath,"$BUILD/src/lib" $(pkg-config --libs glib-2.0 json-glib-1.0)

"$VSBOOT" keys generate "$TMP/keys" >/dev/null
# Warm the checksum cache and the page cache once, outside the timings.
mkdir "$TMP/warm"
"$VSBOOT" provision warm --state-dir "$TMP/warm" --machine $MACHINE --enrolled-keys >/dev/null
"$VSBOOT" provision warmk --state-dir "$TMP/warm" --machine $MACHINE --keys "$TMP/keys" >/dev/null

echo "vsboot provision, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "times per VM in ms; rss = peak resident set in KiB"
echo

# cli: LABEL DIR COUNT ARGS... -> "wall cpu rss" per VM
cli_run() {
  local dir=$1 n=$2
  shift 2
  rm -rf "$dir"; mkdir -p "$dir"
  /usr/bin/time -f '%e %U %S %M' -o "$TMP/time.out" \
    bash -c 'v=$1; d=$2; n=$3; shift 3; for ((i = 0; i < n; i++)); do "$v" provision "vm$i" --state-dir "$d" "$@" >/dev/null || exit 1; done' \
    _ "$VSBOOT" "$dir" "$n" "$@"
  awk -v n="$n" '{ printf "%8.2f %8.2f %8d", $1 * 1000 / n, ($2 + $3) * 1000 / n, $4 }' "$TMP/time.out"
  [ "$(find "$dir" -maxdepth 1 -name '*.json' | wc -l)" -eq "$n" ] || { echo " MISSING VMs" >&2; exit 1; }
  rm -rf "$dir" # each row starts from the same memory and disk state (a tmpfs row holds GBs)
}

batch_run() {
  local dir=$1 n=$2
  shift 2
  rm -rf "$dir"; mkdir -p "$dir"
  local names=()
  for ((i = 0; i < n; i++)); do names+=("vm$i"); done
  /usr/bin/time -f '%e %U %S %M' -o "$TMP/time.out" \
    "$VSBOOT" provision "${names[@]}" --state-dir "$dir" "$@" >/dev/null
  awk -v n="$n" '{ printf "%8.2f %8.2f %8d", $1 * 1000 / n, ($2 + $3) * 1000 / n, $4 }' "$TMP/time.out"
  [ "$(find "$dir" -maxdepth 1 -name '*.json' | wc -l)" -eq "$n" ] || { echo " MISSING VMs" >&2; exit 1; }
  rm -rf "$dir" # each row starts from the same memory and disk state (a tmpfs row holds GBs)
}

floor() {
  local n=$1
  /usr/bin/time -f '%e %U %S %M' -o "$TMP/time.out" \
    bash -c 'v=$1; n=$2; for ((i = 0; i < n; i++)); do "$v" --version >/dev/null; done' _ "$VSBOOT" "$n"
  awk -v n="$n" '{ printf "%8.2f %8.2f %8d", $1 * 1000 / n, ($2 + $3) * 1000 / n, $4 }' "$TMP/time.out"
}

declare -A LIBCPU BATCH
for where in disk ${SHM:+tmpfs}; do
  base=$TMP; [ "$where" = tmpfs ] && base=$SHM
  echo "== state directory on $where ($(df -T "$base" | awk 'NR == 2 { print $2 }'))"
  printf '%-7s %-5s %6s %8s %8s %8s\n' mode how count wall cpu rss
  for n in $COUNTS; do
    printf '%-7s %-5s %6d %s\n' plain cli "$n" "$(cli_run "$base/cli-plain-$n" "$n" --machine $MACHINE --enrolled-keys)"
    printf '%-7s %-5s %6d %s\n' enroll cli "$n" "$(cli_run "$base/cli-enroll-$n" "$n" --machine $MACHINE --keys "$TMP/keys")"
  done
  for n in $COUNTS; do
    row=$(batch_run "$base/batch-plain-$n" "$n" --machine $MACHINE --enrolled-keys)
    printf '%-7s %-5s %6d %s\n' plain batch "$n" "$row"
    BATCH[$where]=$(echo "$row" | awk '{ print $1 }')
    printf '%-7s %-5s %6d %s\n' enroll batch "$n" "$(batch_run "$base/batch-enroll-$n" "$n" --machine $MACHINE --keys "$TMP/keys")"
  done
  n_floor=$(echo "$COUNTS" | awk '{ print ($NF > 200 ? 200 : $NF) }')
  printf '%-7s %-5s %6d %s\n' floor cli "$n_floor" "$(floor "$n_floor")"
  max=$(echo "$COUNTS" | awk '{ print $NF }')
  for mode in plain enroll; do
    rm -rf "$base/lib-$mode"; mkdir -p "$base/lib-$mode"
    extra=()
    [ "$mode" = enroll ] && extra=(--keys "$TMP/keys")
    "$TMP/provision-lib" "$base/lib-$mode" "$max" --machine $MACHINE "${extra[@]}" > "$TMP/lib.out"
    while read -r line; do
      case $line in
        total*) LIBCPU[$where-$mode]=$(echo "$line" | sed -n 's/.*cpu_ms=\([0-9.]*\).*/\1/p') ;;
        *) echo "$line" | awk -v m="$mode" '{
             for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
             printf "%-7s %-5s %6d %8.2f %8.2f %8d   (p50 %.2f, p95 %.2f)\n", m, "lib", v["count"],
               v["mean_ms"], v["cpu_ms"], v["maxrss_kib"], v["p50_ms"], v["p95_ms"] }' ;;
      esac
    done < "$TMP/lib.out"
    rm -rf "$base/lib-$mode"
  done
  echo
done

# Verdict against the 5 ms target per VM without enrollment: the batch command's wall time
# at the largest count, and the library's CPU time.
for where in disk ${SHM:+tmpfs}; do
  wall=${BATCH[$where]}
  ok=$(awk -v c="$wall" 'BEGIN { print (c < 5.0) ? "met" : "NOT met" }')
  echo "target <5 ms per VM without enrollment ($where, vsboot provision NAME..., wall): ${wall} ms -- $ok"
  cpu=${LIBCPU[$where-plain]}
  ok=$(awk -v c="$cpu" 'BEGIN { print (c < 5.0) ? "met" : "NOT met" }')
  echo "target <5 ms per VM without enrollment ($where, in-process CPU): ${cpu} ms -- $ok"
done
echo "memory: compare the rss column across counts (lib rows: one process for all VMs)"

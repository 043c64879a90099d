#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run a real libvirtd (system instance, as root) inside private mount and network namespaces, so
# that tests can ask libvirt itself how it treats firmware descriptors and domain XML without
# touching the host's libvirt state.
#
#   libvirtd-ns.sh start STATEDIR FWDIR [WATCH_PID]
#       Start libvirtd in new mount and network namespaces (the network namespace keeps its
#       network driver away from the host's bridges and firewall). There, FWDIR is
#       bind-mounted over /usr/share/qemu/firmware (an empty directory hides
#       /etc/qemu/firmware), tmpfs covers /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
#       and /var/log/libvirt, and /etc/libvirt is a fresh directory under STATEDIR (so
#       `virsh define` writes nowhere on the host, and the host's autostart networks and
#       domains are not seen). If the host has no libvirt-qemu user (libvirtd refuses to
#       start without it), private copies of /etc/passwd and /etc/group that add it are
#       bind-mounted too. Returns once the QEMU driver answers. With WATCH_PID, a watcher
#       stops this libvirtd as soon as that process is gone (so a test that aborts still
#       cleans up).
#   libvirtd-ns.sh run STATEDIR CMD [ARG...]
#       Run CMD inside the namespaces, with LIBVIRT_DEFAULT_URI=qemu:///system.
#   libvirtd-ns.sh stop STATEDIR
#       Destroy running domains, stop the libvirtd started by `start`, wait for it to be gone.
#   libvirtd-ns.sh with FWDIR CMD [ARG...]
#       start in a fresh state directory, run CMD inside, stop (always, via trap). CMD's exit
#       status is returned.
#
# LIBVIRT_ROOT=DIR (environment of `start` and `with`): DIR holds another libvirt unpacked with
# dpkg -x (scripts/fetch-debs.sh, e.g. 11.3 from bookworm-backports). Inside the namespace its
# libvirtd, virsh, client libraries, driver modules, helpers and data (schemas, CPU map) are
# bind-mounted over the installed ones, so that the daemon, virsh and every program the tests
# run there (vsboot too, through libvirt.so.0) are that version; the host never sees it.
#
# LIBVIRT_HOOKS=DIR (environment of `start` and `with`): DIR is the daemon's /etc/libvirt/hooks
# (e.g. DIR/qemu.d/NAME); libvirtd reads its hooks when it starts.
#
# FWDIR stays a host directory: files changed in it are seen by libvirt at its next request
# (libvirt re-reads the descriptors every time). The first request per architecture makes
# libvirt probe the QEMU binary's capabilities (a few seconds); the cache lives on the tmpfs.
# The mount points (/run/libvirt, /var/lib/libvirt, ...) are created on the host as empty
# directories if missing; nothing is ever written into them outside the namespace.
set -euo pipefail

LIBVIRTD=${LIBVIRTD:-/usr/sbin/libvirtd}
URI=qemu:///system

die() { echo "libvirtd-ns: $*" >&2; exit 2; }

pid_of() {
  local pid
  [ -s "$1/libvirtd.pid" ] || return 1
  pid=$(cat "$1/libvirtd.pid")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  # Make sure the pid still belongs to the libvirtd we started (pid reuse).
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$LIBVIRTD")" ] || return 1
  echo "$pid"
}

# Bind the libvirt unpacked in ROOT over the installed one (inside the namespace only). A
# library is mounted over the file its soname link names, so the link keeps working; the
# driver modules directory is replaced whole (the installed version's modules do not load into
# another libvirt.so).
overlay_libvirt() {
  local root=$1 lib=/usr/lib/x86_64-linux-gnu so f
  [ -x "$root/usr/sbin/libvirtd" ] || die "$root/usr/sbin/libvirtd missing (scripts/fetch-debs.sh)"
  for so in libvirt libvirt-qemu libvirt-lxc libvirt-admin; do
    f=$(readlink -f "$root$lib/$so.so.0")
    [ -f "$f" ] || die "$root$lib/$so.so.0 missing"
    mount --bind "$f" "$(readlink -f "$lib/$so.so.0")"
  done
  for f in /usr/sbin/libvirtd /usr/bin/virsh; do mount --bind "$root$f" "$f"; done
  for f in "$lib/libvirt" /usr/lib/libvirt /usr/share/libvirt; do
    [ -d "$root$f" ] || die "$root$f missing"
    mount --bind "$root$f" "$f"
  done
}

# Runs as the first process of the new mount namespace: set up the mounts, start the daemon.
inner() {
  local state=$1 fwdir=$2 d
  mount --make-rprivate / 2>/dev/null || true
  for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0755 "libvirtd-ns" "$d"
  done
  mkdir -p /usr/share/qemu/firmware
  mount --bind "$fwdir" /usr/share/qemu/firmware
  mkdir -p "$state/empty"
  if [ -d /etc/qemu/firmware ]; then mount --bind "$state/empty" /etc/qemu/firmware; fi

  # A fresh configuration, not a copy of the host's: the host's autostart networks and
  # domains must not be started by this daemon.
  mkdir -p "$state/etc-libvirt"
  # Run QEMU as root (fixtures live in /tmp) and without virtlogd (not running here).
  cat > "$state/etc-libvirt/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
stdio_handler = "file"
EOF
  echo "log_outputs = \"3:file:$state/libvirtd.log\"" > "$state/etc-libvirt/libvirtd.conf"
  mkdir -p /etc/libvirt
  mount --bind "$state/etc-libvirt" /etc/libvirt
  if [ -n "${LIBVIRT_ROOT:-}" ]; then overlay_libvirt "$LIBVIRT_ROOT"; fi
  if [ -n "${LIBVIRT_HOOKS:-}" ]; then
    mkdir -p /etc/libvirt/hooks
    mount --bind "$LIBVIRT_HOOKS" /etc/libvirt/hooks
  fi

  if ! getent passwd libvirt-qemu >/dev/null; then
    cp /etc/passwd "$state/passwd"
    cp /etc/group "$state/group"
    echo "libvirt-qemu:x:64055:64055:libvirt-ns private user:/var/lib/libvirt:/usr/sbin/nologin" >> "$state/passwd"
    getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:" >> "$state/group"
    mount --bind "$state/passwd" /etc/passwd
    mount --bind "$state/group" /etc/group
  fi

  "$LIBVIRTD" -d -p "$state/libvirtd.pid" </dev/null >>"$state/libvirtd.out" 2>&1
}

start() {
  local state=$1 fwdir=$2 watch=${3:-} i pid
  [ "$(id -u)" -eq 0 ] || die "must run as root (libvirtd system instance, mount namespaces)"
  [ -x "$LIBVIRTD" ] || die "$LIBVIRTD is not installed"
  [ -d "$fwdir" ] || die "firmware directory $fwdir does not exist"
  command -v unshare >/dev/null && command -v nsenter >/dev/null || die "unshare/nsenter missing"
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  fwdir=$(cd "$fwdir" && pwd)
  if pid_of "$state" >/dev/null; then die "a libvirtd is already running for $state"; fi
  rm -f "$state/libvirtd.pid"
  unshare -m -n --propagation private bash "$0" __inner "$state" "$fwdir" \
    || die "could not start libvirtd (see $state/libvirtd.out, $state/libvirtd.log)"
  for i in $(seq 100); do
    pid=$(pid_of "$state" || true)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "${pid:-}" ] || die "libvirtd did not write $state/libvirtd.pid (see $state/libvirtd.log)"
  if [ -n "$watch" ]; then
    # Detached from our stdio so whoever waits for our output is not held up by it.
    setsid bash "$0" __watch "$state" "$watch" </dev/null >/dev/null 2>&1 &
  fi
  # The socket appears before the drivers are initialised; wait for the QEMU driver itself.
  for i in $(seq 300); do
    if nsenter -m -t "$pid" virsh -q -c "$URI" uri >/dev/null 2>&1; then return 0; fi
    pid_of "$state" >/dev/null || break
    sleep 0.1
  done
  stop "$state"
  die "libvirtd did not come up (see $state/libvirtd.log)"
}

run() {
  local state=$1 pid
  shift
  pid=$(pid_of "$state") || die "no libvirtd running for $state"
  LIBVIRT_DEFAULT_URI=$URI exec nsenter -m -n -t "$pid" -- "$@"
}

stop() {
  local state=$1 pid i dom
  pid=$(pid_of "$state") || return 0
  for dom in $(nsenter -m -t "$pid" virsh -q -c "$URI" list --name 2>/dev/null); do
    nsenter -m -t "$pid" virsh -q -c "$URI" destroy "$dom" >/dev/null 2>&1 || true
  done
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    [ -d "/proc/$pid" ] || break
    # A zombie (its parent is gone) counts as stopped.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/libvirtd.pid"
}

watch() {
  local state=$1 owner=$2
  while [ -d "/proc/$owner" ] && pid_of "$state" >/dev/null; do sleep 0.5; done
  stop "$state"
}

with() {
  local fwdir=$1 rc=0
  shift
  WITH_STATE=$(mktemp -d /tmp/libvirtd-ns-XXXXXX)
  trap 'stop "$WITH_STATE"; rm -rf "$WITH_STATE"' EXIT
  trap 'exit 130' INT TERM
  start "$WITH_STATE" "$fwdir"
  bash "$0" run "$WITH_STATE" "$@" || rc=$?
  return $rc
}

case "${1:-}" in
  start) [ $# -ge 3 ] || die "usage: $0 start STATEDIR FWDIR [WATCH_PID]"; start "$2" "$3" "${4:-}" ;;
  run) [ $# -ge 3 ] || die "usage: $0 run STATEDIR CMD [ARG...]"; shift; run "$@" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop STATEDIR"; stop "$2" ;;
  with) [ $# -ge 3 ] || die "usage: $0 with FWDIR CMD [ARG...]"; shift; with "$@" ;;
  __inner) inner "$2" "$3" ;;
  __watch) watch "$2" "$3" ;;
  *) die "usage: $0 start STATEDIR FWDIR [WATCH_PID] | run STATEDIR CMD... | stop STATEDIR | with FWDIR CMD..." ;;
esac

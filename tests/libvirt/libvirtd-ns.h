/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A real libvirtd for g_test programs: libvirtd-ns.sh started in private mount+net namespaces
 * (fixture firmware directory over /usr/share/qemu/firmware, tmpfs over libvirt's state,
 * private /etc/libvirt), so tests can `virsh define`/`create` without touching the host.
 * Link with libvirtd_ns_dep (tests/libvirt/meson.build). Root only. */
#pragma once

#include <glib.h>

typedef struct VsbTestLibvirtd VsbTestLibvirtd;

/* Which libvirt the harness runs: the environment variable VSB_LIBVIRT, "host" (default: the
 * installed one, Debian 12's 9.0) or "11.3" (bookworm-backports, unpacked by
 * scripts/fetch-debs.sh under VSB_DEBS_ROOT and bind-mounted over the installed one inside the
 * namespace). A test registered twice in meson with env VSB_LIBVIRT=host and =11.3 runs against
 * both; the harness checks that the daemon really is that version. */
/* The version the harness runs, as libvirt prints it: "9.0.0", "11.3.0". Valid after start. */
const char *vsb_test_libvirtd_version(VsbTestLibvirtd *d);
/* The version as major * 1000000 + minor * 1000 + micro (virConnectGetLibVersion's form). */
unsigned long vsb_test_libvirtd_version_number(VsbTestLibvirtd *d);

/* Start libvirtd with FWDIR as its /usr/share/qemu/firmware (the directory stays live: change
 * files in it between requests). Fails the test when it cannot start. If this process dies
 * first, a watcher stops the daemon. */
VsbTestLibvirtd *vsb_test_libvirtd_start(const char *fwdir);
/* The same with hooks_dir (a host directory) as the daemon's /etc/libvirt/hooks, read when it
 * starts: put the hooks there first (hooks_dir/qemu.d/NAME). */
VsbTestLibvirtd *vsb_test_libvirtd_start_with_hooks(const char *fwdir, const char *hooks_dir);
/* Run a command inside the daemon's namespace (LIBVIRT_DEFAULT_URI=qemu:///system);
 * NULL-terminated argv; returns the exit status as vsb_test_spawn does. */
int vsb_test_libvirtd_runv(VsbTestLibvirtd *d, const char *const *argv, char **out, char **err);
/* Start a command inside the namespace and do not wait for it (e.g. a slow `virsh destroy`
 * whose result does not matter: stop destroys whatever is left). */
void vsb_test_libvirtd_run_async(VsbTestLibvirtd *d, const char *const *argv);
/* `virsh -q ARGS...` inside the namespace. */
int vsb_test_libvirtd_virsh(VsbTestLibvirtd *d, char **out, char **err, const char *arg1,
                            ...) G_GNUC_NULL_TERMINATED;
/* Pid of the running daemon, 0 when stopped. */
int vsb_test_libvirtd_pid(VsbTestLibvirtd *d);
/* Destroy running domains and stop the daemon (idempotent). */
void vsb_test_libvirtd_stop(VsbTestLibvirtd *d);
/* Stop if still running, remove the state directory, free. */
void vsb_test_libvirtd_free(VsbTestLibvirtd *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbTestLibvirtd, vsb_test_libvirtd_free)

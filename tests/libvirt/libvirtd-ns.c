/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "libvirtd-ns.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct VsbTestLibvirtd {
  char *tmp;    /* owned scratch directory */
  char *state;  /* libvirtd-ns.sh state directory inside tmp */
  char *script; /* path of libvirtd-ns.sh */
  gboolean running;
  char *version;  /* what the daemon says it is */
};

static int
harness(VsbTestLibvirtd *d, const char *verb, const char *const *rest, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)"bash");
  g_ptr_array_add(argv, d->script);
  g_ptr_array_add(argv, (char *)verb);
  g_ptr_array_add(argv, d->state);
  for (const char *const *r = rest; r && *r; r++)
    g_ptr_array_add(argv, (char *)*r);
  g_ptr_array_add(argv, NULL);
  return vsb_test_spawn((const char *const *)argv->pdata, NULL, out, err);
}

/* VSB_LIBVIRT=11.3: the unpacked tree libvirtd-ns.sh mounts over the installed libvirt (through
 * LIBVIRT_ROOT in its environment); "host" or unset: none. Anything else fails the test. */
static const char *
wanted_libvirt(char **root)
{
  const char *want = g_getenv("VSB_LIBVIRT");
  *root = NULL;
  if (want == NULL || g_str_equal(want, "host"))
    return NULL;
  if (!g_str_equal(want, "11.3"))
    vsb_test_fail("VSB_LIBVIRT=%s: expected host or 11.3", want);
  const char *debs = g_getenv("VSB_DEBS_ROOT");
  *root = debs ? g_build_filename(debs, "bookworm-backports", "root", NULL) : NULL;
  g_autofree char *daemon = *root ? g_build_filename(*root, "usr/sbin/libvirtd", NULL) : NULL;
  if (daemon == NULL || !g_file_test(daemon, G_FILE_TEST_IS_EXECUTABLE))
    vsb_test_fail("VSB_LIBVIRT=11.3 needs libvirt 11.3 unpacked under VSB_DEBS_ROOT (%s): run "
                  "./dev.sh test, or scripts/fetch-debs.sh .debs bookworm-backports libvirt0 "
                  "libvirt-common libvirt-clients libvirt-daemon libvirt-daemon-common "
                  "libvirt-daemon-driver-qemu", debs ? debs : "unset");
  return "11.3.0";
}

/* Ask the running daemon its version (virsh version --daemon) and hold it to what was asked
 * for, so a test never believes it ran against 11.3 when the mounts did not take. */
static void
check_version(VsbTestLibvirtd *d, const char *want)
{
  g_autofree char *out = NULL, *err = NULL;
  if (vsb_test_libvirtd_virsh(d, &out, &err, "version", "--daemon", NULL) != 0)
    vsb_test_fail("virsh version --daemon failed: %s", err);
  const char *line = strstr(out, "Running against daemon: ");
  if (line == NULL)
    vsb_test_fail("virsh version --daemon printed no daemon version: %s", out);
  line += strlen("Running against daemon: ");
  d->version = g_strndup(line, strcspn(line, " \n"));
  if (want && !g_str_equal(d->version, want))
    vsb_test_fail("VSB_LIBVIRT asked for libvirt %s, the daemon is %s", want, d->version);
  g_test_message("libvirtd %s", d->version);
}

const char *
vsb_test_libvirtd_version(VsbTestLibvirtd *d)
{
  return d->version;
}

unsigned long
vsb_test_libvirtd_version_number(VsbTestLibvirtd *d)
{
  unsigned a = 0, b = 0, c = 0;
  if (d->version == NULL || sscanf(d->version, "%u.%u.%u", &a, &b, &c) != 3)
    vsb_test_fail("libvirtd version '%s' is not major.minor.micro", d->version);
  return a * 1000000ul + b * 1000ul + c;
}

VsbTestLibvirtd *
vsb_test_libvirtd_start(const char *fwdir)
{
  return vsb_test_libvirtd_start_with_hooks(fwdir, NULL);
}

VsbTestLibvirtd *
vsb_test_libvirtd_start_with_hooks(const char *fwdir, const char *hooks_dir)
{
  if (getuid() != 0)
    vsb_test_fail("a libvirtd test must run as root (system libvirtd, mount namespaces)");
  vsb_test_require_tool("unshare");
  vsb_test_require_tool("nsenter");
  vsb_test_require_tool("virsh");
  if (!g_file_test("/usr/sbin/libvirtd", G_FILE_TEST_IS_EXECUTABLE))
    vsb_test_fail("/usr/sbin/libvirtd is not installed (run ./dev.sh test to install it)");
  const char *root = g_getenv("VSB_SOURCE_ROOT");
  g_assert_nonnull(root);

  g_autoptr(GError) error = NULL;
  VsbTestLibvirtd *d = g_new0(VsbTestLibvirtd, 1);
  d->tmp = g_dir_make_tmp("vsboot-libvirtd-XXXXXX", &error);
  g_assert_no_error(error);
  d->state = g_build_filename(d->tmp, "state", NULL);
  d->script = g_build_filename(root, "tests", "libvirt", "libvirtd-ns.sh", NULL);

  g_autofree char *lvroot = NULL;
  const char *want = wanted_libvirt(&lvroot);
  /* The script reads it from its environment; nothing else here runs concurrently yet. */
  if (lvroot)
    g_setenv("LIBVIRT_ROOT", lvroot, TRUE);
  else
    g_unsetenv("LIBVIRT_ROOT");
  if (hooks_dir)
    g_setenv("LIBVIRT_HOOKS", hooks_dir, TRUE);
  else
    g_unsetenv("LIBVIRT_HOOKS");
  g_autofree char *self = g_strdup_printf("%d", (int)getpid());
  const char *args[] = { fwdir, self, NULL };
  g_autofree char *err = NULL;
  if (harness(d, "start", args, NULL, &err) != 0)
    vsb_test_fail("cannot start libvirtd: %s", err);
  d->running = TRUE;
  check_version(d, want);
  return d;
}

int
vsb_test_libvirtd_runv(VsbTestLibvirtd *d, const char *const *argv, char **out, char **err)
{
  g_assert_true(d->running);
  return harness(d, "run", argv, out, err);
}

void
vsb_test_libvirtd_run_async(VsbTestLibvirtd *d, const char *const *argv)
{
  g_assert_true(d->running);
  g_autoptr(GPtrArray) full = g_ptr_array_new();
  g_autoptr(GError) error = NULL;
  const char *head[] = { "bash", d->script, "run", d->state };
  for (gsize i = 0; i < G_N_ELEMENTS(head); i++)
    g_ptr_array_add(full, (char *)head[i]);
  for (const char *const *a = argv; *a; a++)
    g_ptr_array_add(full, (char *)*a);
  g_ptr_array_add(full, NULL);
  /* Without G_SPAWN_DO_NOT_REAP_CHILD, GLib reaps the child itself. */
  if (!g_spawn_async(NULL, (char **)full->pdata, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, &error))
    vsb_test_fail("cannot run %s: %s", argv[0], error->message);
}

int
vsb_test_libvirtd_virsh(VsbTestLibvirtd *d, char **out, char **err, const char *arg1, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  va_list ap;
  g_ptr_array_add(args, (char *)"virsh");
  g_ptr_array_add(args, (char *)"-q");
  va_start(ap, arg1);
  for (const char *a = arg1; a; a = va_arg(ap, const char *))
    g_ptr_array_add(args, (char *)a);
  va_end(ap);
  g_ptr_array_add(args, NULL);
  return vsb_test_libvirtd_runv(d, (const char *const *)args->pdata, out, err);
}

int
vsb_test_libvirtd_pid(VsbTestLibvirtd *d)
{
  g_autofree char *pidfile = g_build_filename(d->state, "libvirtd.pid", NULL);
  g_autofree char *text = NULL;
  if (!d->running || !g_file_get_contents(pidfile, &text, NULL, NULL))
    return 0;
  return atoi(text);
}

void
vsb_test_libvirtd_stop(VsbTestLibvirtd *d)
{
  if (!d->running)
    return;
  g_autofree char *err = NULL;
  if (harness(d, "stop", NULL, NULL, &err) != 0)
    vsb_test_fail("cannot stop libvirtd: %s", err);
  d->running = FALSE;
}

void
vsb_test_libvirtd_free(VsbTestLibvirtd *d)
{
  if (d == NULL)
    return;
  vsb_test_libvirtd_stop(d);
  if (g_getenv("VSB_TEST_KEEP") == NULL) {
    const char *rm[] = { "rm", "-rf", "--", d->tmp, NULL };
    vsb_test_spawn(rm, NULL, NULL, NULL);
  }
  g_free(d->tmp);
  g_free(d->state);
  g_free(d->script);
  g_free(d->version);
  g_free(d);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The console watcher without QEMU: line splitting, escape sequences, first match wins, the
 * verdict stops the process at once, timeouts, processes that just exit, and a watched process
 * that does not outlive its killed watcher. */
#include "testutil.h"

#include "vsboot/error.h"
#include "vsboot/launch.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static VsbLaunchResult *
watch_sh(const char *script, guint timeout_ms)
{
  const char *argv[] = { "sh", "-c", script, NULL };
  gsize n = 0;
  const VsbBootPattern *patterns = vsb_launch_default_patterns(&n);
  g_autoptr(GError) error = NULL;
  VsbLaunchResult *res = vsb_launch_watch(argv, patterns, n, timeout_ms, &error);
  g_assert_no_error(error);
  g_assert_nonnull(res);
  return res;
}

static void
test_marker_with_escapes(void)
{
  /* OVMF clears the screen and colours text; the marker arrives in pieces, CR LF ended. */
  g_autoptr(VsbLaunchResult) res = watch_sh(
    "printf '\\033[2J\\033[01;01HBdsDxe: starting Boot0001\\r\\n'; "
    "printf '\\033[0m\\033[37mVSBOOT-PAY'; sleep 0.2; printf 'LOAD SecureBoot=1 SetupMode=0\\r\\n'; "
    "exec sleep 30", 20000);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_cmpstr(res->line, ==, "VSBOOT-PAYLOAD SecureBoot=1 SetupMode=0");
  g_assert_true(res->killed);
  g_assert_cmpfloat(res->seconds, <, 10.0); /* not the sleep */
  g_assert_nonnull(strstr(res->log, "BdsDxe: starting Boot0001"));
}

static void
test_denied_first(void)
{
  g_autoptr(VsbLaunchResult) res = watch_sh(
    "printf 'BdsDxe: failed to load Boot0001 \"UEFI Misc Device\" from PciRoot(0x0): Access "
    "Denied\\r\\n'; printf 'VSBOOT-PAYLOAD SecureBoot=0 SetupMode=1\\r\\n'; exec sleep 30", 20000);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_DENIED);
  g_assert_nonnull(strstr(res->line, "Access Denied"));
  g_assert_true(res->killed);
}

static void
test_timeout(void)
{
  g_autoptr(VsbLaunchResult) res = watch_sh("printf 'booting...\\n'; exec sleep 30", 300);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_TIMEOUT);
  g_assert_null(res->line);
  g_assert_true(res->killed);
  g_assert_cmpfloat(res->seconds, <, 10.0);
  g_assert_nonnull(strstr(res->log, "booting..."));
}

static void
test_exits_without_verdict(void)
{
  /* stderr is part of the log (QEMU's own errors); no trailing newline still counts. */
  g_autoptr(VsbLaunchResult) res = watch_sh("echo 'qemu: could not open' >&2; exit 3", 20000);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_NONE);
  g_assert_false(res->killed);
  g_assert_cmpint(res->exit_status, ==, 3);
  g_assert_nonnull(strstr(res->log, "could not open"));
  g_autoptr(VsbLaunchResult) last = watch_sh("printf 'Security Violation'", 20000);
  g_assert_cmpint(last->verdict, ==, VSB_BOOT_VERDICT_DENIED);
}

static void
test_cannot_start(void)
{
  const char *argv[] = { "/nonexistent/qemu-system-x86_64", NULL };
  g_autoptr(GError) error = NULL;
  VsbLaunchResult *res = vsb_launch_watch(argv, NULL, 0, 1000, &error);
  g_assert_null(res);
  g_assert_nonnull(error);
  g_assert_nonnull(strstr(error->message, "/nonexistent/qemu-system-x86_64"));
}

/* Inside the trap: watch a "QEMU" that records its pid and stays silent far longer than the
 * trap lets this process live. */
static void
test_watcher_child(void)
{
  if (!g_test_subprocess())
    return;
  g_autofree char *script =
    g_strdup_printf("echo $$ > '%s'; exec sleep 60", g_getenv("VSB_TEST_WATCHED_PIDFILE"));
  g_autoptr(VsbLaunchResult) res = watch_sh(script, 90000);
}

/* vsboot killed with SIGKILL (no cleanup of its own) while it watches QEMU: QEMU goes too. */
static void
test_dies_with_watcher(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *pidfile = g_build_filename(dir, "pid", NULL);
  g_setenv("VSB_TEST_WATCHED_PIDFILE", pidfile, TRUE);
  g_test_trap_subprocess("/launch/dies-with-watcher/child", 1500 * 1000,
                         G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed();
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(pidfile, &text, NULL, NULL));
  int pid = atoi(text);
  g_assert_cmpint(pid, >, 1);
  g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", pid);
  gboolean runs = TRUE;
  for (int i = 0; i < 100 && runs; i++) {
    g_autofree char *stat = NULL;
    const char *paren = NULL;
    /* Gone, or a zombie waiting for its new parent to reap it. */
    runs = g_file_get_contents(stat_path, &stat, NULL, NULL) &&
           (paren = strrchr(stat, ')')) != NULL && paren[1] == ' ' && paren[2] != 'Z';
    if (runs)
      g_usleep(20 * 1000);
  }
  if (runs)
    kill(pid, SIGKILL);
  g_assert_false(runs);
}

static void
test_esp(void)
{
  vsb_test_require_tool("mkfs.vfat");
  vsb_test_require_tool("mdir");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *app = g_build_filename(dir, "app.efi", NULL);
  vsb_test_write_file(app, "MZ not really an app", -1);
  g_autofree char *img = g_build_filename(dir, "esp.img", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(vsb_launch_make_esp(img, app, VSB_FW_ARCH_AARCH64, &error));
  g_assert_no_error(error);
  const char *mdir[] = { "mdir", "-b", "-i", img, "::/EFI/BOOT", NULL };
  const char *envp[] = { "MTOOLS_SKIP_CHECK=1", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_spawn(mdir, envp, &out, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "BOOTAA64.EFI"));
  /* Built in a private directory and renamed: nothing else is left beside the image. */
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *n;
  while ((n = g_dir_read_name(d)) != NULL)
    if (strcmp(n, "app.efi") != 0 && strcmp(n, "esp.img") != 0)
      vsb_test_fail("vsb_launch_make_esp left %s behind", n);
  g_assert_false(vsb_launch_make_esp(img, app, VSB_FW_ARCH_RISCV64, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
  g_clear_error(&error);
  g_autofree char *missing = g_build_filename(dir, "missing.efi", NULL);
  g_assert_false(vsb_launch_make_esp(img, missing, VSB_FW_ARCH_X86_64, &error));
  g_assert_nonnull(strstr(error->message, "missing.efi"));
}

/* ---- the verdict on one boot option ---- */

#define OPT1 "Boot0001 \"UEFI Misc Device\" from PciRoot(0x0)/Pci(0x3,0x0)"
#define OPT2 "Boot0002 \"EFI Internal Shell\" from Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)"
#define SHELL_REFUSED "printf 'BdsDxe: loading " OPT2 "\\r\\n'; printf 'BdsDxe: failed to start " OPT2 ": Security Violation\\r\\n'; "

static VsbLaunchResult *
watch_image_sh(const char *script, const char *option_match, guint settle_ms)
{
  const char *argv[] = { "sh", "-c", script, NULL };
  VsbImageWatch w = { option_match, settle_ms, NULL, 0 };
  g_autoptr(GError) error = NULL;
  VsbLaunchResult *res = vsb_launch_watch_image(argv, &w, 20000, &error);
  g_assert_no_error(error);
  g_assert_nonnull(res);
  return res;
}

/* Debian's shim under Microsoft's keys: the firmware starts it, it finds no GRUB and returns
 * Not Found; the BDS then refuses its own shell. The refusal is not about the image. */
static void
test_image_returned_error(void)
{
  g_autoptr(VsbLaunchResult) res = watch_image_sh(
    "printf 'BdsDxe: loading " OPT1 "\\r\\n'; printf 'BdsDxe: starting " OPT1 "\\r\\n'; "
    "printf 'Failed to open \\\\EFI\\\\BOOT\\\\grubx64.efi - Not Found\\r\\n'; "
    "printf 'BdsDxe: failed to start " OPT1 ": Not Found\\r\\n'; " SHELL_REFUSED "exec sleep 30",
    NULL, 10000);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_nonnull(strstr(res->line, "failed to start Boot0001"));
  g_assert_true(res->killed);
  /* The plain pattern watcher reads the later option's refusal: why this one exists. */
  const char *argv[] = { "sh", "-c", "printf 'BdsDxe: failed to start " OPT1 ": Not Found\\r\\n'; "
                         SHELL_REFUSED, NULL };
  gsize n = 0;
  const VsbBootPattern *pats = vsb_launch_default_patterns(&n);
  g_autoptr(VsbLaunchResult) plain = vsb_launch_watch(argv, pats, n, 20000, NULL);
  g_assert_cmpint(plain->verdict, ==, VSB_BOOT_VERDICT_DENIED);
}

/* OVMF may print "starting" and then the refusal for the same option. */
static void
test_image_refused_after_starting(void)
{
  g_autoptr(VsbLaunchResult) res = watch_image_sh(
    "printf 'BdsDxe: loading " OPT1 "\\r\\n'; printf 'BdsDxe: starting " OPT1 "\\r\\n'; "
    "sleep 0.3; printf 'BdsDxe: failed to start " OPT1 ": Access Denied\\r\\n'; exec sleep 30",
    NULL, 2000);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_DENIED);
  g_assert_nonnull(strstr(res->line, "Boot0001"));
  g_autoptr(VsbLaunchResult) load = watch_image_sh(
    "printf 'BdsDxe: failed to load " OPT1 ": Security Violation\\r\\n'; exec sleep 30", NULL, 2000);
  g_assert_cmpint(load->verdict, ==, VSB_BOOT_VERDICT_DENIED);
}

/* GRUB waits at "grub> " with no newline: started and not refused within the settle time. */
static void
test_image_settles(void)
{
  g_autoptr(VsbLaunchResult) res = watch_image_sh(
    "printf 'BdsDxe: loading " OPT1 "\\r\\n'; printf 'BdsDxe: starting " OPT1 "\\r\\n'; "
    "printf 'grub> '; exec sleep 30", NULL, 500);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_cmpfloat(res->seconds, <, 10.0);
  g_assert_true(res->killed);
  /* Moving on to the next option after "starting" also means it ran (and returned). */
  g_autoptr(VsbLaunchResult) next = watch_image_sh(
    "printf 'BdsDxe: starting " OPT1 "\\r\\n'; printf 'BdsDxe: loading " OPT2 "\\r\\n'; "
    "exec sleep 30", NULL, 10000);
  g_assert_cmpint(next->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_cmpfloat(next->seconds, <, 5.0);
}

/* The image's option found by its device path; earlier options are not about it. */
static void
test_image_option_match(void)
{
  const char *script =
    "printf 'BdsDxe: failed to load Boot0000 \"UEFI PXEv4\" from PciRoot(0x0)/Pci(0x2,0x0): Not Found\\r\\n'; "
    "printf 'BdsDxe: loading " OPT1 "\\r\\n'; printf 'BdsDxe: failed to load " OPT1
    ": Access Denied\\r\\n'; exec sleep 30";
  g_autoptr(VsbLaunchResult) res = watch_image_sh(script, "Pci(0x3,0x0)", 2000);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_DENIED);
  g_autoptr(VsbLaunchResult) first = watch_image_sh(script, NULL, 2000);
  g_assert_cmpint(first->verdict, ==, VSB_BOOT_VERDICT_NONE);
  g_assert_nonnull(strstr(first->line, "could not be loaded"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/launch/marker-with-escapes", test_marker_with_escapes);
  g_test_add_func("/launch/denied-first", test_denied_first);
  g_test_add_func("/launch/timeout", test_timeout);
  g_test_add_func("/launch/exits-without-verdict", test_exits_without_verdict);
  g_test_add_func("/launch/cannot-start", test_cannot_start);
  g_test_add_func("/launch/dies-with-watcher", test_dies_with_watcher);
  g_test_add_func("/launch/dies-with-watcher/child", test_watcher_child);
  g_test_add_func("/launch/esp", test_esp);
  g_test_add_func("/launch/image-returned-error", test_image_returned_error);
  g_test_add_func("/launch/image-refused-after-starting", test_image_refused_after_starting);
  g_test_add_func("/launch/image-settles", test_image_settles);
  g_test_add_func("/launch/image-option-match", test_image_option_match);
  return g_test_run();
}

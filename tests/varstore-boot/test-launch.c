/* The console watcher without QEMU: line splitting, escape sequences, first match wins, the
 * verdict stops the process at once, timeouts, and processes that just exit. */
#include "testutil.h"

#include "vsboot/error.h"
#include "vsboot/launch.h"

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
  g_assert_true(vsb_launch_make_esp(img, app, "aarch64", &error));
  g_assert_no_error(error);
  const char *mdir[] = { "mdir", "-b", "-i", img, "::/EFI/BOOT", NULL };
  const char *envp[] = { "MTOOLS_SKIP_CHECK=1", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_spawn(mdir, envp, &out, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "BOOTAA64.EFI"));
  g_assert_false(vsb_launch_make_esp(img, app, "riscv64", &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
  g_clear_error(&error);
  g_autofree char *missing = g_build_filename(dir, "missing.efi", NULL);
  g_assert_false(vsb_launch_make_esp(img, missing, "x86_64", &error));
  g_assert_nonnull(strstr(error->message, "missing.efi"));
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
  g_test_add_func("/launch/esp", test_esp);
  return g_test_run();
}

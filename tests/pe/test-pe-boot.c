/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The boot that confirms vsboot's verdicts: OVMF with Secure Boot (SMM, secure pflash) under
 * TCG boots an ESP whose EFI/BOOT/BOOTX64.EFI is the image in question, and the serial console
 * says whether the firmware ran it (shim starts and looks for grubx64.efi) or refused it
 * ("Access Denied" for the ESP's boot option). QEMU is stopped as soon as the answer is on the
 * console. Every image is also judged by `vsboot pe verify` against the same store, and the two
 * must agree. */
#include "testutil.h"
#include "pe-fixtures.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
#define MS_VARS "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
#define BLANK_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define SHIM_SIGNED "/usr/lib/shim/shimx64.efi.signed"
#define SHIM_UNSIGNED "/usr/lib/shim/shimx64.efi"
#define GRUB_SIGNED "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
#define BOOT_TIMEOUT_S 240

typedef enum { BOOT_RAN, BOOT_DENIED, BOOT_UNDECIDED } BootResult;

typedef struct {
  GSubprocess *proc;
  GMutex lock;
  GCond cond;
  gboolean done;
  gboolean timed_out;
} Watchdog;

static gpointer
watchdog_thread(gpointer data)
{
  Watchdog *w = data;
  gint64 end = g_get_monotonic_time() + BOOT_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_mutex_lock(&w->lock);
  while (!w->done)
    if (!g_cond_wait_until(&w->cond, &w->lock, end)) {
      w->timed_out = TRUE;
      g_subprocess_force_exit(w->proc);
      break;
    }
  g_mutex_unlock(&w->lock);
  return NULL;
}

/* Boot image from a fresh ESP with a copy of vars; return what the console showed. */
static BootResult
boot(const char *dir, const char *image, const char *vars, char **decisive)
{
  vsb_test_require_tool("qemu-system-x86_64");
  g_autofree char *run = g_build_filename(dir, "run", NULL);
  const char *rm[] = { "rm", "-rf", run, NULL };
  vsb_test_spawn(rm, NULL, NULL, NULL);
  g_autofree char *boot_dir = g_build_filename(run, "esp", "EFI", "BOOT", NULL);
  g_assert_cmpint(g_mkdir_with_parents(boot_dir, 0755), ==, 0);
  g_autofree char *bootx64 = g_build_filename(boot_dir, "BOOTX64.EFI", NULL);
  g_free(vsb_test_copy_file(image, NULL, bootx64, 0644));
  g_autofree char *vars_copy = g_build_filename(run, "vars.fd", NULL);
  g_free(vsb_test_copy_file(vars, NULL, vars_copy, 0644));
  g_autofree char *code = g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s", OVMF_CODE);
  g_autofree char *varsd = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars_copy);
  g_autofree char *esp = g_strdup_printf("file=fat:rw:%s/esp,format=raw,if=virtio", run);
  const char *argv[] = {
    "qemu-system-x86_64", "-machine", "q35,smm=on", "-accel", "tcg", "-m", "512",
    "-global", "driver=cfi.pflash01,property=secure,value=on",
    "-drive", code, "-drive", varsd, "-drive", esp,
    "-display", "none", "-serial", "stdio", "-monitor", "none", "-net", "none", "-no-reboot",
    NULL,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = g_subprocess_newv(
    argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE | G_SUBPROCESS_FLAGS_STDIN_PIPE,
    &error);
  g_assert_no_error(error);
  Watchdog w = { .proc = proc };
  g_mutex_init(&w.lock);
  g_cond_init(&w.cond);
  GThread *t = g_thread_new("watchdog", watchdog_thread, &w);
  g_autoptr(GDataInputStream) in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc));
  BootResult result = BOOT_UNDECIDED;
  GString *log = g_string_new(NULL);
  char *line;
  while ((line = g_data_input_stream_read_line(in, NULL, NULL, NULL)) != NULL) {
    g_string_append_printf(log, "%s\n", line);
    /* shim is running: it looks for its second stage next to itself. */
    if (strstr(line, "grubx64.efi"))
      result = BOOT_RAN;
    /* The firmware refused the ESP's boot option. */
    else if (strstr(line, "\"UEFI Misc Device\"") &&
             (strstr(line, "Access Denied") || strstr(line, "Security Violation")))
      result = BOOT_DENIED;
    if (result != BOOT_UNDECIDED) {
      *decisive = g_strstrip(g_strdup(line));
      g_free(line);
      break;
    }
    g_free(line);
  }
  g_subprocess_force_exit(proc);
  g_subprocess_wait(proc, NULL, NULL);
  g_mutex_lock(&w.lock);
  w.done = TRUE;
  g_cond_signal(&w.cond);
  g_mutex_unlock(&w.lock);
  g_thread_join(t);
  g_mutex_clear(&w.lock);
  g_cond_clear(&w.cond);
  if (result == BOOT_UNDECIDED)
    vsb_test_fail("boot of %s with %s: no verdict on the console%s:\n%s", image, vars,
            w.timed_out ? " (timed out)" : "", log->str);
  g_string_free(log, TRUE);
  return result;
}

static int
vsboot_verdict(const char *image, const char *vars)
{
  return vsb_test_run(NULL, NULL, "pe", "verify", image, "--vars", vars, NULL);
}

static void
check(const char *dir, const char *image, const char *vars, BootResult expect)
{
  g_autofree char *line = NULL;
  gint64 t0 = g_get_monotonic_time();
  BootResult got = boot(dir, image, vars, &line);
  g_test_message("%s with %s: %s in %.1f s (\"%s\")", image, vars,
                 got == BOOT_RAN ? "ran" : "denied",
                 (double)(g_get_monotonic_time() - t0) / G_TIME_SPAN_SECOND, line);
  g_assert_cmpint(got, ==, expect);
  /* vsboot must have said the same without booting. */
  g_assert_cmpint(vsboot_verdict(image, vars), ==, expect == BOOT_RAN ? 0 : 1);
}

/* Microsoft-signed shim with Debian's Microsoft-enrolled store: OVMF runs it. */
static void
test_ms_shim_allowed(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  check(dir, SHIM_SIGNED, MS_VARS, BOOT_RAN);
}

/* Debian-signed grub with the same store: Debian's CA is not in db, OVMF refuses it. */
static void
test_debian_grub_denied(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  check(dir, GRUB_SIGNED, MS_VARS, BOOT_DENIED);
}

/* The user's own keys: shim signed by `vsboot pe sign` runs, Microsoft's shim is refused. */
static void
test_own_keys(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(PeKeys) k = pe_keys_new(dir);
  g_autofree char *own = g_build_filename(dir, "own.fd", NULL);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", BLANK_VARS, "-o", own, "--pk", k->ca_crt,
                        "--kek", k->ca_crt, "--db", k->ca_crt, "--secure-boot", "on", NULL);
  if (rc != 0)
    vsb_test_fail("vars enroll: %s", err);
  g_autofree char *mine = g_build_filename(dir, "shim-vsboot.efi", NULL);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "pe", "sign", SHIM_UNSIGNED, "--key", k->leaf_key, "--cert",
                    k->leaf_crt, "-o", mine, NULL);
  if (rc != 0)
    vsb_test_fail("pe sign: %s", err);
  check(dir, mine, own, BOOT_RAN);
  check(dir, SHIM_SIGNED, own, BOOT_DENIED);
  /* An expired signer: edk2 does not check validity dates, and neither does vsboot. */
  g_autofree char *expired = g_build_filename(dir, "shim-expired.efi", NULL);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "pe", "sign", SHIM_UNSIGNED, "--key", k->expired_key, "--cert",
                    k->expired_crt, "-o", expired, NULL);
  if (rc != 0)
    vsb_test_fail("pe sign: %s", err);
  check(dir, expired, own, BOOT_RAN);
}

/* dbx wins: Microsoft's shim with its own hash added to the Microsoft store's dbx. */
static void
test_dbx_hash_denied(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "pe", "hash", SHIM_SIGNED, NULL), ==, 0);
  g_strstrip(out);
  g_autofree char *vars = g_build_filename(dir, "ms-dbx.fd", NULL);
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", MS_VARS, "-o", vars, "--dbx-hash", out, NULL);
  if (rc != 0)
    vsb_test_fail("vars enroll: %s", err);
  check(dir, SHIM_SIGNED, vars, BOOT_DENIED);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/pe-boot/ms-shim-allowed", test_ms_shim_allowed);
  g_test_add_func("/pe-boot/debian-grub-denied", test_debian_grub_denied);
  g_test_add_func("/pe-boot/own-keys", test_own_keys);
  g_test_add_func("/pe-boot/dbx-hash-denied", test_dbx_hash_denied);
  return g_test_run();
}

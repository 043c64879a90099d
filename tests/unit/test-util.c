/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The private one-per-concept helpers of src/lib/util and the atomic rewrite of fileio.h. */
#include "testutil.h"
#include "util/arch.h"
#include "util/enumname.h"
#include "util/jsonb.h"
#include "util/le.h"
#include "util/timetext.h"
#include "util/ucs2.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "tool.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <openssl/asn1.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
test_le(void)
{
  const guint8 b[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88 };
  g_assert_cmpuint(vsb_le16(b), ==, 0x0201);
  g_assert_cmpuint(vsb_le24(b), ==, 0x030201);
  g_assert_cmpuint(vsb_le32(b), ==, 0x04030201);
  g_assert_cmpuint(vsb_le64(b), ==, G_GUINT64_CONSTANT(0x8807060504030201));
  guint8 w[8] = { 0 };
  vsb_put_le64(w, G_GUINT64_CONSTANT(0x8807060504030201));
  g_assert_cmpmem(w, 8, b, 8);
  vsb_put_le32(w, 0xdeadbeef);
  g_assert_cmpuint(vsb_le32(w), ==, 0xdeadbeef);
  vsb_put_le16(w, 0xcafe);
  g_assert_cmpuint(vsb_le16(w), ==, 0xcafe);
  /* Words 0x0201 + 0x0403 + 0x0605 (the odd last byte is not summed). */
  g_assert_cmpuint(vsb_le16_sum(b, 7), ==, 0x0c09);
}

static void
test_arch(void)
{
  VsbFwArch a = VSB_FW_ARCH_COUNT;
  g_assert_true(vsb_arch_from_pe_machine(0x8664, &a) && a == VSB_FW_ARCH_X86_64);
  g_assert_true(vsb_arch_from_pe_machine(0x014c, &a) && a == VSB_FW_ARCH_I386);
  g_assert_true(vsb_arch_from_pe_machine(0xaa64, &a) && a == VSB_FW_ARCH_AARCH64);
  g_assert_true(vsb_arch_from_pe_machine(0x01c2, &a) && a == VSB_FW_ARCH_ARM);
  g_assert_true(vsb_arch_from_pe_machine(0x01c4, &a) && a == VSB_FW_ARCH_ARM);
  g_assert_false(vsb_arch_from_pe_machine(0x1234, &a));
  g_assert_true(vsb_arch_is_x86(VSB_FW_ARCH_I386));
  g_assert_false(vsb_arch_is_x86(VSB_FW_ARCH_AARCH64));
  g_assert_true(vsb_arch_is_arm(VSB_FW_ARCH_ARM));
  g_assert_cmpstr(vsb_arch_libvirt_name(VSB_FW_ARCH_ARM), ==, "armv7l");
  g_assert_cmpstr(vsb_arch_libvirt_name(VSB_FW_ARCH_X86_64), ==, "x86_64");
  g_assert_cmpint(vsb_arch_from_any_name("armv7l"), ==, VSB_FW_ARCH_ARM);
  g_assert_cmpint(vsb_arch_from_any_name("i686"), ==, VSB_FW_ARCH_I386);
  g_assert_cmpint(vsb_arch_from_any_name("riscv64"), ==, VSB_FW_ARCH_RISCV64);
  g_assert_cmpint(vsb_arch_from_any_name("sparc"), ==, -1);
  g_assert_cmpint(vsb_arch_from_any_name(NULL), ==, -1);
}

static void
test_time(void)
{
  ASN1_TIME *t = ASN1_TIME_set(NULL, 1686679701); /* 2023-06-13T18:08:21Z */
  g_autofree char *a = vsb_time_text_asn1(t, NULL);
  ASN1_TIME_free(t);
  g_assert_cmpstr(a, ==, "2023-06-13T18:08:21Z");
  g_assert_null(vsb_time_text_asn1(NULL, NULL));
  g_autofree char *q = vsb_time_text_asn1(NULL, "?");
  g_assert_cmpstr(q, ==, "?");

  const guint8 raw[16] = { 0xe7, 0x07, 6, 13, 18, 8, 21, 0, 0x10, 0, 0, 0, 0xff, 0x07, 1, 0 };
  VsbEfiTime et;
  vsb_efi_time_read(raw, &et);
  g_assert_cmpuint(et.year, ==, 2023);
  g_assert_cmpuint(et.nanosecond, ==, 16);
  g_assert_cmpint(et.timezone, ==, 2047);
  g_autofree char *e = vsb_time_text_efi(&et);
  g_assert_cmpstr(e, ==, "2023-06-13T18:08:21Z");
  guint8 back[16];
  vsb_efi_time_write(back, &et);
  g_assert_cmpmem(back, 16, raw, 16);
  VsbEfiTime zero = { 0 };
  g_assert_null(vsb_time_text_efi(&zero));
}

static void
test_ucs2(void)
{
  gsize n = 0;
  g_autofree guint8 *u = vsb_utf8_to_ucs2("PK\u00e9", TRUE, &n);
  g_assert_cmpuint(n, ==, 8);
  const guint8 want[8] = { 'P', 0, 'K', 0, 0xe9, 0, 0, 0 };
  g_assert_cmpmem(u, n, want, 8);
  g_autofree char *s = vsb_ucs2_to_utf8(u, n, NULL);
  g_assert_cmpstr(s, ==, "PK\u00e9");
  /* An unpaired surrogate is not text. */
  const guint8 bad[4] = { 0x00, 0xd8, 'A', 0 };
  g_autoptr(GError) error = NULL;
  g_assert_null(vsb_ucs2_to_utf8(bad, sizeof bad, &error));
  g_assert_nonnull(error);
}

typedef enum { COLOUR_RED, COLOUR_GREEN, COLOUR_COUNT } Colour;
static const char *const colour_names[COLOUR_COUNT] = { "red", "green" };
const char *colour_name(Colour v);
int colour_from_name(const char *name);
VSB_ENUM_NAMES(colour, Colour, colour_names, COLOUR_COUNT, "(invalid)")

static void
test_enum_names(void)
{
  g_assert_cmpstr(colour_name(COLOUR_GREEN), ==, "green");
  g_assert_cmpstr(colour_name((Colour)7), ==, "(invalid)");
  g_assert_cmpint(colour_from_name("red"), ==, COLOUR_RED);
  g_assert_cmpint(colour_from_name("blue"), ==, -1);
  g_assert_cmpint(colour_from_name(NULL), ==, -1);
}

static void
test_json_members(void)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(GPtrArray) list = g_ptr_array_new();
  g_ptr_array_add(list, (gpointer) "a");
  json_builder_begin_object(b);
  vsb_json_put_str(b, "s", "x");
  vsb_json_put_str(b, "n", NULL);
  vsb_json_put_int(b, "i", -3);
  vsb_json_put_bool(b, "b", TRUE);
  vsb_json_put_strings(b, "l", list);
  vsb_json_put_strings(b, "e", NULL);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  g_assert_cmpstr(text, ==, "{\"s\":\"x\",\"n\":null,\"i\":-3,\"b\":true,\"l\":[\"a\"],\"e\":[]}");
}

static gboolean
write_twice(int fd, const char *path, gpointer data, GError **error)
{
  return vsb_fd_write_all(fd, data, strlen(data), path, error) &&
         vsb_fd_write_all(fd, data, strlen(data), path, error);
}

static gboolean
write_fails(int fd, const char *path, gpointer data, GError **error)
{
  (void)data;
  if (!vsb_fd_write_all(fd, "partial", 7, path, error))
    return FALSE;
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: given up", path);
  return FALSE;
}

static void
test_rewrite(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "f", NULL);
  g_assert_true(vsb_file_write_atomic(path, "old", 3, 0600, FALSE, NULL));
  g_autoptr(GError) error = NULL;
  g_assert_true(vsb_file_rewrite(path, NULL, write_twice, (gpointer) "ab", &error));
  g_assert_no_error(error);
  g_autofree char *got = NULL;
  g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
  g_assert_cmpstr(got, ==, "abab");
  /* A callback that fails leaves the target as it was and no temporary file behind. */
  g_assert_false(vsb_file_rewrite(path, NULL, write_fails, NULL, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_clear_pointer(&got, g_free);
  g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
  g_assert_cmpstr(got, ==, "abab");
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  guint entries = 0;
  while (g_dir_read_name(d))
    entries++;
  g_assert_cmpuint(entries, ==, 1);

  /* The one copy: a regular file copied into an open one; a FIFO refused at once. */
  g_autofree char *copy = g_build_filename(dir, "copy", NULL);
  int fd = open(copy, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_true(vsb_file_copy_into_fd(path, fd, copy, NULL));
  close(fd);
  g_clear_pointer(&got, g_free);
  g_assert_true(g_file_get_contents(copy, &got, NULL, NULL));
  g_assert_cmpstr(got, ==, "abab");
  g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  fd = open(copy, O_RDWR | O_TRUNC | O_CLOEXEC);
  g_clear_error(&error);
  g_assert_false(vsb_file_copy_into_fd(fifo, fd, copy, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  close(fd);
}

static void
test_spawn(void)
{
  const char *missing[] = { "vsb-no-such-tool", NULL };
  g_autoptr(GError) error = NULL;
  g_assert_null(vsb_tool_spawn(missing, G_SUBPROCESS_FLAGS_NONE, TRUE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_TOOL);
  g_assert_nonnull(strstr(error->message, "cannot run vsb-no-such-tool"));
  const char *truth[] = { "true", NULL };
  g_autoptr(GSubprocess) p = vsb_tool_spawn(truth, G_SUBPROCESS_FLAGS_NONE, TRUE, NULL);
  g_assert_nonnull(p);
  g_assert_true(g_subprocess_wait_check(p, NULL, NULL));
}

/* The child half of /util/run-dies-with-parent: a tool that records its pid, then sleeps far
 * longer than the test lets this process live. */
static void
run_sleeper(gboolean die_with_parent)
{
  const char *script = g_getenv("VSB_TEST_SLEEPER_PIDFILE");
  g_autofree char *cmd = g_strdup_printf("echo $$ > '%s'; exec sleep 60", script);
  const char *argv[] = { "sh", "-c", cmd, NULL };
  int status = -1;
  vsb_tool_run_ex(argv, NULL, 90000,
                  die_with_parent ? VSB_TOOL_RUN_DIE_WITH_PARENT : VSB_TOOL_RUN_DEFAULT, NULL,
                  NULL, &status, NULL);
}

/* Whether pid still runs (a zombie waiting for its reaper does not). */
static gboolean
pid_runs(int pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  if (!g_file_get_contents(path, &stat, NULL, NULL))
    return FALSE;
  const char *close_paren = strrchr(stat, ')');
  return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z';
}

/* The process running the tool is killed (SIGKILL: no cleanup of its own); the tool goes with
 * it only when asked to (swtpm_setup must, or it writes on into a directory recovery removes). */
static void
check_sleeper(gboolean die_with_parent)
{
  g_autofree char *dir = g_dir_make_tmp("vsb-sleeper-XXXXXX", NULL);
  g_autofree char *pidfile = g_build_filename(dir, "pid", NULL);
  g_setenv("VSB_TEST_SLEEPER_PIDFILE", pidfile, TRUE);
  /* The trap kills the subprocess with SIGKILL when its time is up. */
  g_test_trap_subprocess(die_with_parent ? "/util/run-dies-with-parent/sleeper-dies"
                                         : "/util/run-dies-with-parent/sleeper-stays",
                         1500 * 1000, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed();
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(pidfile, &text, NULL, NULL));
  int pid = atoi(text);
  g_assert_cmpint(pid, >, 1);
  gboolean runs = TRUE;
  for (int i = 0; i < 100 && (runs = pid_runs(pid)); i++)
    g_usleep(20 * 1000);
  if (runs)
    kill(pid, SIGKILL);
  g_assert_cmpint(runs, ==, !die_with_parent);
  g_unlink(pidfile);
  g_rmdir(dir);
}

static void
test_run_dies_with_parent(void)
{
  check_sleeper(TRUE);
  check_sleeper(FALSE);
}

/* Run only inside check_sleeper's trap. */
static void
test_sleeper(void)
{
  if (g_test_subprocess())
    run_sleeper(strstr(g_test_get_path(), "sleeper-dies") != NULL);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/util/le", test_le);
  g_test_add_func("/util/arch", test_arch);
  g_test_add_func("/util/time", test_time);
  g_test_add_func("/util/ucs2", test_ucs2);
  g_test_add_func("/util/enum-names", test_enum_names);
  g_test_add_func("/util/json-members", test_json_members);
  g_test_add_func("/util/rewrite", test_rewrite);
  g_test_add_func("/util/spawn", test_spawn);
  g_test_add_func("/util/run-dies-with-parent", test_run_dies_with_parent);
  g_test_add_func("/util/run-dies-with-parent/sleeper-dies", test_sleeper);
  g_test_add_func("/util/run-dies-with-parent/sleeper-stays", test_sleeper);
  return g_test_run();
}

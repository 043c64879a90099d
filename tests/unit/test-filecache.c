/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file-keyed cache: hits while the file is unchanged, misses once it changes, survives a
 * corrupt cache file; and QEMU is asked once per binary version. */
#include "testutil.h"
#include "filecache.h"
#include "qemu-probe.h"

#include <glib/gstdio.h>
#include <string.h>

static char *cache_home;

static void
test_hit_and_change(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *f = g_build_filename(dir, "image.fd", NULL);
  vsb_test_write_file(f, "one", 3);
  g_assert_null(vsb_file_cache_get("t1", f, "sha256"));
  vsb_file_cache_put("t1", f, "sha256", "abc");
  vsb_file_cache_put("t1", f, "size", "3");
  g_autofree char *v1 = vsb_file_cache_get("t1", f, "sha256");
  g_autofree char *v2 = vsb_file_cache_get("t1", f, "size");
  g_assert_cmpstr(v1, ==, "abc");
  g_assert_cmpstr(v2, ==, "3");
  /* A new version of the file (other size, other mtime/ctime): nothing is reused. */
  vsb_test_write_file(f, "second", 6);
  g_assert_null(vsb_file_cache_get("t1", f, "sha256"));
  g_assert_null(vsb_file_cache_get("t1", f, "size"));
  /* A missing file is never a hit. */
  g_autofree char *gone = g_build_filename(dir, "gone", NULL);
  vsb_file_cache_put("t1", gone, "sha256", "x");
  g_assert_null(vsb_file_cache_get("t1", gone, "sha256"));
}

/* Entries for files since removed or changed go at the next write; the others stay. */
static void
test_prune(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keep = g_build_filename(dir, "keep.fd", NULL);
  g_autofree char *gone = g_build_filename(dir, "gone.fd", NULL);
  g_autofree char *changed = g_build_filename(dir, "changed.fd", NULL);
  g_autofree char *added = g_build_filename(dir, "added.fd", NULL);
  vsb_test_write_file(keep, "k", 1);
  vsb_test_write_file(gone, "g", 1);
  vsb_test_write_file(changed, "c", 1);
  vsb_test_write_file(added, "a", 1);
  vsb_file_cache_put("t3", keep, "sha256", "K");
  vsb_file_cache_put("t3", gone, "sha256", "G");
  vsb_file_cache_put("t3", changed, "sha256", "C");
  g_assert_cmpint(g_unlink(gone), ==, 0);
  vsb_test_write_file(changed, "changed", 7);
  vsb_file_cache_put("t3", added, "sha256", "A");
  g_autofree char *cfile = g_build_filename(cache_home, "vsboot", "t3.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(cfile, &text, NULL, NULL));
  g_assert_nonnull(strstr(text, "keep.fd"));
  g_assert_nonnull(strstr(text, "added.fd"));
  g_assert_null(strstr(text, "gone.fd"));
  g_assert_null(strstr(text, "changed.fd"));
  g_autofree char *k = vsb_file_cache_get("t3", keep, "sha256");
  g_autofree char *a = vsb_file_cache_get("t3", added, "sha256");
  g_assert_cmpstr(k, ==, "K");
  g_assert_cmpstr(a, ==, "A");
}

static void
test_corrupt_cache(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *f = g_build_filename(dir, "image.fd", NULL);
  vsb_test_write_file(f, "one", 3);
  g_autofree char *cdir = g_build_filename(cache_home, "vsboot", NULL);
  g_assert_cmpint(g_mkdir_with_parents(cdir, 0700), ==, 0);
  g_autofree char *cfile = g_build_filename(cdir, "t2.json", NULL);
  const char *bad[] = { "", "not json", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "{\"files\": 3}",
                        "{\"files\": {\"x\": []}}", NULL };
  for (int i = 0; bad[i]; i++) {
    vsb_test_write_file(cfile, bad[i], -1);
    g_assert_null(vsb_file_cache_get("t2", f, "sha256"));
    vsb_file_cache_put("t2", f, "sha256", "def");
    g_autofree char *v = vsb_file_cache_get("t2", f, "sha256");
    g_assert_cmpstr(v, ==, "def");
  }
}

static int
count_runs(const char *log)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents(log, &text, NULL, NULL))
    return 0;
  int n = 0;
  for (const char *p = text; *p; p++)
    n += *p == '\n';
  return n;
}

static void
test_qemu_asked_once(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *log = g_build_filename(dir, "runs", NULL);
  g_autofree char *qemu = g_build_filename(dir, "qemu-system-x86_64", NULL);
  g_autofree char *script = g_strdup_printf(
    "#!/bin/sh\necho \"$*\" >> '%s'\n"
    "if [ \"$1\" = --version ]; then echo 'QEMU emulator version 9.1.0'; exit 0; fi\n"
    "echo 'Supported machines are:'\n"
    "echo 'q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-9.1)'\n"
    "echo 'pc-q35-9.1           Standard PC (Q35 + ICH9, 2009)'\n", log);
  vsb_test_write_file(qemu, script, -1);
  g_assert_cmpint(g_chmod(qemu, 0755), ==, 0);
  g_autoptr(GError) error = NULL;
  for (int i = 0; i < 3; i++) {
    g_autoptr(GPtrArray) m = vsb_qemu_list_machines(qemu, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(m->len, ==, 2);
    guint major = 0, minor = 0;
    g_assert_true(vsb_qemu_get_version(qemu, &major, &minor, &error));
    g_assert_cmpuint(major, ==, 9);
  }
  g_assert_cmpint(count_runs(log), ==, 2); /* -machine help and --version, once each */
  /* A replaced binary is asked again and its new answer used. */
  g_autofree char *script2 = g_strdup_printf(
    "#!/bin/sh\necho \"$*\" >> '%s'\n"
    "if [ \"$1\" = --version ]; then echo 'QEMU emulator version 10.0.0'; exit 0; fi\n"
    "echo 'q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-10.0)'\n", log);
  vsb_test_write_file(qemu, script2, -1);
  g_assert_cmpint(g_chmod(qemu, 0755), ==, 0);
  guint major = 0, minor = 0;
  vsb_qemu_get_version(qemu, &major, &minor, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(major, ==, 10);
  g_autoptr(GPtrArray) m = vsb_qemu_list_machines(qemu, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(((VsbQemuMachine *)m->pdata[0])->alias_of, ==, "pc-q35-10.0");
  g_assert_cmpint(count_runs(log), ==, 4);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* Before GLib reads it for the first time: the cache lives in this test's own directory. */
  g_autoptr(GError) error = NULL;
  cache_home = g_dir_make_tmp("vsboot-cache-XXXXXX", &error);
  g_assert_no_error(error);
  g_setenv("XDG_CACHE_HOME", cache_home, TRUE);
  g_test_add_func("/filecache/hit-and-change", test_hit_and_change);
  g_test_add_func("/filecache/corrupt-cache", test_corrupt_cache);
  g_test_add_func("/filecache/prune", test_prune);
  g_test_add_func("/filecache/qemu-asked-once", test_qemu_asked_once);
  int rc = g_test_run();
  const char *rm[] = { "rm", "-rf", cache_home, NULL };
  vsb_test_spawn(rm, NULL, NULL, NULL);
  g_free(cache_home);
  return rc;
}

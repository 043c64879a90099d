/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file helpers every module uses (fileio.h, tool.h), tested where they are dangerous:
 * links planted at names vsboot writes, non-regular files where files are expected, huge and
 * sparse files, concurrent editors, and tools that hang. Every test can fail. */
#include "testutil.h"

#include "vsboot/error.h"
#include "filecache.h"
#include "fileio.h"
#include "tool.h"
#include "vsboot/varstore.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *
slurp(const char *path)
{
  g_autofree char *data = NULL;
  if (!g_file_get_contents(path, &data, NULL, NULL))
    vsb_test_fail("cannot read %s", path);
  return g_steal_pointer(&data);
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir, sorted, joined by spaces: what a step left behind. */
static char *
listing(const char *dir)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while (d && (n = g_dir_read_name(d)) != NULL)
    g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, cmp_names);
  g_ptr_array_add(names, NULL);
  return g_strjoinv(" ", (char **)names->pdata);
}

static void
expect_mode(const char *path, guint mode)
{
  struct stat st;
  if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode)
    vsb_test_fail("%s: expected a regular file of mode %04o, got %s %04o", path, mode,
                  vsb_file_kind(st.st_mode), (guint)(st.st_mode & 07777));
}

/* A symlink at the target is refused without touching the file it points to; with
 * follow_final_symlink the real file is replaced, the link kept, the mode kept. */
static void
test_write_symlink(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *outside = vsb_test_tmpdir();
  g_autofree char *victim = g_build_filename(outside, "victim", NULL);
  g_autofree char *link = g_build_filename(dir, "out.fd", NULL);
  g_autoptr(GError) error = NULL;
  vsb_test_write_file(victim, "precious", -1);
  g_assert_cmpint(g_chmod(victim, 0640), ==, 0);
  g_assert_cmpint(symlink(victim, link), ==, 0);

  g_assert_false(vsb_file_write_atomic(link, "evil", 4, 0644, FALSE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "symbolic link"));
  g_clear_error(&error);
  g_autofree char *after = slurp(victim);
  g_assert_cmpstr(after, ==, "precious");
  g_autofree char *target = g_file_read_link(link, NULL);
  g_assert_cmpstr(target, ==, victim);

  VsbWriteOptions edit = { .mode = 0644, .keep_mode = TRUE, .follow_final_symlink = TRUE };
  g_assert_true(vsb_file_write_atomic_full(link, "edited", 6, &edit, &error));
  g_assert_no_error(error);
  g_autofree char *edited = slurp(victim);
  g_assert_cmpstr(edited, ==, "edited");
  expect_mode(victim, 0640);
  g_autofree char *target2 = g_file_read_link(link, NULL);
  g_assert_cmpstr(target2, ==, victim);
  /* Nothing but the link in dir, nothing but the file outside: no temporary left. */
  g_autofree char *l1 = listing(dir), *l2 = listing(outside);
  g_assert_cmpstr(l1, ==, "out.fd");
  g_assert_cmpstr(l2, ==, "victim");

  /* A relative link in a chain of two is followed to the end. */
  g_autofree char *link2 = g_build_filename(dir, "second", NULL);
  g_assert_cmpint(symlink("out.fd", link2), ==, 0);
  g_assert_true(vsb_file_write_atomic_full(link2, "again", 5, &edit, &error));
  g_assert_no_error(error);
  g_autofree char *again = slurp(victim);
  g_assert_cmpstr(again, ==, "again");
  g_assert_true(g_file_test(link2, G_FILE_TEST_IS_SYMLINK));

  /* Through a dangling link nothing is created. */
  g_autofree char *dangling = g_build_filename(dir, "dangling", NULL);
  g_autofree char *nowhere = g_build_filename(outside, "nowhere", NULL);
  g_assert_cmpint(symlink(nowhere, dangling), ==, 0);
  g_assert_false(vsb_file_write_atomic_full(dangling, "x", 1, &edit, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);
  g_assert_false(g_file_test(nowhere, G_FILE_TEST_EXISTS));
}

/* keep_mode keeps a replaced file's mode; without it, mode applies; new files get mode. */
static void
test_write_modes(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "f", NULL);
  g_autoptr(GError) error = NULL;
  VsbWriteOptions keep = { .mode = 0644, .keep_mode = TRUE };
  g_assert_true(vsb_file_write_atomic_full(path, "1", 1, &keep, &error));
  expect_mode(path, 0644);
  g_assert_cmpint(g_chmod(path, 0600), ==, 0);
  g_assert_true(vsb_file_write_atomic_full(path, "2", 1, &keep, &error));
  expect_mode(path, 0600);
  g_assert_true(vsb_file_write_atomic(path, "3", 1, 0640, FALSE, &error));
  expect_mode(path, 0640);
  g_assert_no_error(error);
}

/* Directories, FIFOs and devices at the target are refused and stay what they were. */
static void
test_write_non_regular(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
  g_autofree char *sub = g_build_filename(dir, "sub", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
  g_assert_false(vsb_file_write_atomic(fifo, "x", 1, 0644, FALSE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "a FIFO"));
  g_clear_error(&error);
  g_assert_false(vsb_file_write_atomic(sub, "x", 1, 0644, FALSE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "a directory"));
  g_clear_error(&error);
  struct stat st;
  g_assert_cmpint(lstat(fifo, &st), ==, 0);
  g_assert_true(S_ISFIFO(st.st_mode));
  g_autofree char *l = listing(dir);
  g_assert_cmpstr(l, ==, "fifo sub");
  /* Exclusive creation never replaces, not even a dangling link. */
  g_autofree char *dangling = g_build_filename(dir, "dangling", NULL);
  g_autofree char *nowhere = g_build_filename(dir, "nowhere", NULL);
  g_assert_cmpint(symlink(nowhere, dangling), ==, 0);
  g_assert_false(vsb_file_write_atomic(dangling, "x", 1, 0600, TRUE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_EXISTS);
  g_assert_false(g_file_test(nowhere, G_FILE_TEST_EXISTS));
}

static gint64
elapsed_ms(gint64 start)
{
  return (g_get_monotonic_time() - start) / 1000;
}

/* The bounded reader: a FIFO with no writer, /dev/zero and a sparse 2 GiB file are refused at
 * once, naming the path and what it is; a stream is read only when asked for. */
static void
test_read_bounded(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
  g_autofree char *sparse = g_build_filename(dir, "sparse", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  gint64 t = g_get_monotonic_time();
  g_assert_null(vsb_file_read(fifo, 1 << 20, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_autofree char *want = g_strdup_printf("%s: not a regular file (a FIFO)", fifo);
  g_assert_cmpstr(error->message, ==, want);
  g_clear_error(&error);
  g_assert_null(vsb_file_read("/dev/zero", 1 << 20, &error));
  g_assert_cmpstr(error->message, ==, "/dev/zero: not a regular file (a character device)");
  g_clear_error(&error);

  int fd = open(sparse, O_WRONLY | O_CREAT | O_EXCL, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(ftruncate(fd, (off_t)2 << 30), ==, 0);
  close(fd);
  g_assert_null(vsb_file_read(sparse, 256 << 20, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "2147483648 bytes"));
  g_clear_error(&error);
  g_assert_null(vsb_file_sha256(fifo, &error));
  g_clear_error(&error);
  g_assert_false(vsb_file_is_qcow2(fifo));
  /* Everything above together: far below five seconds even under a sanitizer on a loaded
   * machine (reading 2 GiB would take much longer). */
  if (elapsed_ms(t) > 5000)
    vsb_test_fail("refusing a FIFO, /dev/zero and a sparse 2 GiB file took %" G_GINT64_FORMAT
                  " ms", elapsed_ms(t));

  /* A file whose size says 0 but holds more (as /proc files, or one growing under us) is read
   * only to max_size + 1 bytes and refused; with room enough it is read whole. */
  g_assert_null(vsb_file_read("/proc/self/maps", 16, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "more than the 16 bytes"));
  g_clear_error(&error);
  g_autoptr(GBytes) maps = vsb_file_read("/proc/self/maps", 16 << 20, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_bytes_get_size(maps), >, 16);

  /* A stream, when asked for, is read to its end but never past max_size + 1 bytes. */
  int p[2];
  g_assert_cmpint(pipe(p), ==, 0);
  g_assert_cmpint(write(p[1], "hello", 5), ==, 5);
  close(p[1]);
  g_autoptr(GBytes) b = vsb_file_read_fd(p[0], "stdin", 16, VSB_READ_ALLOW_STREAM, &error);
  g_assert_no_error(error);
  g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "hello", 5);
  close(p[0]);
  g_assert_null(vsb_file_read_full("/dev/zero", 4096, VSB_READ_ALLOW_STREAM, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "more than the 4096 bytes"));
  g_clear_error(&error);
  /* Without the flag a pipe is refused. */
  g_assert_cmpint(pipe(p), ==, 0);
  close(p[1]);
  g_assert_null(vsb_file_read_fd(p[0], "pipe", 16, VSB_READ_DEFAULT, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  close(p[0]);
}

/* Only what was created is removed: links inside are removed as links, a directory swapped
 * in at the path is refused. */
static void
test_remove_created(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *outside = vsb_test_tmpdir();
  g_autofree char *keep = g_build_filename(outside, "keep", NULL);
  g_autofree char *mine = g_build_filename(dir, "mine", NULL);
  g_autofree char *inner = g_build_filename(mine, "inner", NULL);
  g_autoptr(GError) error = NULL;
  vsb_test_write_file(keep, "keep", -1);
  g_assert_cmpint(g_mkdir(mine, 0700), ==, 0);
  struct stat created;
  g_assert_cmpint(lstat(mine, &created), ==, 0);
  g_assert_cmpint(g_mkdir(inner, 0700), ==, 0);
  g_autofree char *f = g_build_filename(inner, "f", NULL);
  vsb_test_write_file(f, "x", -1);
  g_autofree char *l1 = g_build_filename(mine, "to-outside", NULL);
  g_autofree char *l2 = g_build_filename(inner, "to-keep", NULL);
  g_assert_cmpint(symlink(outside, l1), ==, 0);
  g_assert_cmpint(symlink(keep, l2), ==, 0);

  /* Swapped: the path now names another directory; nothing is removed. */
  g_autofree char *moved = g_build_filename(dir, "moved", NULL);
  g_assert_cmpint(g_rename(mine, moved), ==, 0);
  g_assert_cmpint(g_mkdir(mine, 0700), ==, 0);
  g_autofree char *other = g_build_filename(mine, "other", NULL);
  vsb_test_write_file(other, "other", -1);
  g_assert_false(vsb_dir_remove_created(mine, &created, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_true(g_file_test(other, G_FILE_TEST_IS_REGULAR));
  /* A symlink at the path is never followed. */
  g_autofree char *ln = g_build_filename(dir, "ln", NULL);
  g_assert_cmpint(symlink(moved, ln), ==, 0);
  g_assert_false(vsb_dir_remove_created(ln, &created, &error));
  g_clear_error(&error);
  g_assert_true(g_file_test(moved, G_FILE_TEST_IS_DIR));

  /* The real one goes, with its links, and nothing outside. */
  g_assert_true(vsb_dir_remove_created(moved, &created, &error));
  g_assert_no_error(error);
  g_assert_false(g_file_test(moved, G_FILE_TEST_EXISTS));
  g_autofree char *kept = slurp(keep);
  g_assert_cmpstr(kept, ==, "keep");
  g_autofree char *lo = listing(outside);
  g_assert_cmpstr(lo, ==, "keep");
}

typedef struct {
  char *path;
  VsbFileLock *lock;
} Replacer;

/* Holds the lock, replaces the file by rename (as an editor does), then unlocks. */
static gpointer
replace_then_unlock(gpointer data)
{
  Replacer *r = data;
  g_usleep(200000);
  g_assert_true(vsb_file_write_atomic(r->path, "new", 3, 0644, FALSE, NULL));
  vsb_file_unlock(r->lock);
  return NULL;
}

/* The edit lock: a second editor waits, then fails clearly; it is not a lock QEMU's probe
 * sees; after a replacement it is taken on the new file. */
static void
test_lock(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "vars.fd", NULL);
  g_autofree char *link = g_build_filename(dir, "link.fd", NULL);
  g_autoptr(GError) error = NULL;
  vsb_test_write_file(path, "old", -1);
  g_assert_cmpint(symlink("vars.fd", link), ==, 0);

  VsbFileLock *a = vsb_file_lock(link, TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(vsb_file_lock_get_path(a), ==, path); /* the real file, through the link */
  g_assert_false(vsb_file_is_locked(path, &error)); /* QEMU's probe does not see our lock */
  g_assert_no_error(error);
  gint64 t = g_get_monotonic_time();
  g_assert_null(vsb_file_lock_full(path, TRUE, 300, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_BUSY);
  g_assert_nonnull(strstr(error->message, path));
  g_clear_error(&error);
  gint64 waited = elapsed_ms(t);
  if (waited < 250 || waited > 5000)
    vsb_test_fail("a busy lock with a 300 ms limit gave up after %" G_GINT64_FORMAT " ms", waited);

  /* While we wait, the holder replaces the file and unlocks: we get the lock of the new
   * file (held against a third editor that opens the path now). */
  Replacer r = { path, a };
  GThread *th = g_thread_new("replacer", replace_then_unlock, &r);
  g_autoptr(VsbFileLock) b = vsb_file_lock_full(path, TRUE, 5000, &error);
  g_thread_join(th);
  g_assert_no_error(error);
  g_assert_nonnull(b);
  g_autofree char *now = slurp(path);
  g_assert_cmpstr(now, ==, "new");
  g_assert_null(vsb_file_lock_full(path, TRUE, 0, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_BUSY);
}

/* A tool that hangs is killed after its time limit, with an error that says so. */
static void
test_tool_timeout(void)
{
  const char *argv[] = { "sleep", "30", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_autoptr(GError) error = NULL;
  gint64 t = g_get_monotonic_time();
  g_assert_false(vsb_tool_run_full(argv, 300, &out, &err, &status, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_TOOL);
  g_assert_nonnull(strstr(error->message, "killed"));
  if (elapsed_ms(t) > 3000)
    vsb_test_fail("a hung tool with a 300 ms limit returned after %" G_GINT64_FORMAT " ms",
                  elapsed_ms(t));
  g_clear_error(&error);
  const char *ok[] = { "echo", "hi", NULL };
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_true(vsb_tool_run_full(ok, 5000, &out, &err, &status, &error));
  g_assert_cmpstr(out, ==, "hi\n");
  g_assert_cmpint(status, ==, 0);
  /* Input reaches stdin; a tool waiting for more input than it gets is still bounded. */
  const char *cat[] = { "cat", NULL };
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_true(vsb_tool_run_with_input(cat, "qmp", 5000, &out, &err, &status, &error));
  g_assert_cmpstr(out, ==, "qmp");
  const char *hang[] = { "sh", "-c", "cat; sleep 30", NULL };
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  t = g_get_monotonic_time();
  g_assert_false(vsb_tool_run_with_input(hang, "x", 300, &out, &err, &status, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_TOOL);
  if (elapsed_ms(t) > 3000)
    vsb_test_fail("a hung tool fed stdin returned after %" G_GINT64_FORMAT " ms", elapsed_ms(t));
}

/* Kill the writer (SIGKILL, via the test hook) at each step: the old file is intact, and no
 * temporary file survives the next write. */
static void
test_crash_points(void)
{
  static const char *const points[] = { "after-temp-write", "before-rename" };
  for (guint i = 0; i < G_N_ELEMENTS(points); i++) {
    g_autofree char *dir = vsb_test_tmpdir();
    g_autofree char *path = g_build_filename(dir, "vars.fd", NULL);
    vsb_test_write_file(path, "old", -1);
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
      setenv("VSB_TEST_CRASH_AT", points[i], 1); /* the forked child has one thread */
      vsb_file_write_atomic(path, "new", 3, 0644, FALSE, NULL);
      _exit(0); /* the hook did not fire: the parent sees exit 0 and fails */
    }
    int status = 0;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
      vsb_test_fail("%s: the writer was not killed at the injected point", points[i]);
    g_autofree char *old = slurp(path);
    g_assert_cmpstr(old, ==, "old");
    /* Whatever the killed writer left is named for the target and removed by the next one. */
    g_autofree char *left = listing(dir);
    g_test_message("%s: left %s", points[i], left);
    g_autoptr(GError) error = NULL;
    g_assert_true(vsb_file_write_atomic(path, "next", 4, 0644, FALSE, &error));
    g_autofree char *l = listing(dir);
    g_assert_cmpstr(l, ==, "vars.fd");
  }
}

static char *cache_home;

/* The cache file ($XDG_CACHE_HOME/vsboot/NAME.json) is written by vsboot on its own: a link
 * planted there is left alone and the file it points to is not written. */
static void
test_cache_symlink(void)
{
  g_autofree char *outside = vsb_test_tmpdir();
  g_autofree char *victim = g_build_filename(outside, "victim", NULL);
  g_autofree char *cdir = g_build_filename(cache_home, "vsboot", NULL);
  g_autofree char *cfile = g_build_filename(cdir, "fs.json", NULL);
  vsb_test_write_file(victim, "precious", -1);
  g_assert_cmpint(g_mkdir_with_parents(cdir, 0700), ==, 0);
  g_assert_cmpint(symlink(victim, cfile), ==, 0);
  vsb_file_cache_put("fs", victim, "sha256", "abc");
  g_autofree char *after = slurp(victim);
  g_assert_cmpstr(after, ==, "precious");
  g_assert_true(g_file_test(cfile, G_FILE_TEST_IS_SYMLINK));
  g_autofree char *l = listing(cdir);
  g_assert_cmpstr(l, ==, "fs.json");
}

int
main(int argc, char **argv)
{
  /* Before anything asks GLib for the cache directory (it keeps the first answer). */
  cache_home = g_dir_make_tmp("vsboot-fs-cache-XXXXXX", NULL);
  g_setenv("XDG_CACHE_HOME", cache_home, TRUE);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/fs/write/cache-symlink", test_cache_symlink);
  g_test_add_func("/fs/write/symlink", test_write_symlink);
  g_test_add_func("/fs/write/modes", test_write_modes);
  g_test_add_func("/fs/write/non-regular", test_write_non_regular);
  g_test_add_func("/fs/read/bounded", test_read_bounded);
  g_test_add_func("/fs/remove-created", test_remove_created);
  g_test_add_func("/fs/lock", test_lock);
  g_test_add_func("/fs/tool-timeout", test_tool_timeout);
  g_test_add_func("/fs/crash-points", test_crash_points);
  int rc = g_test_run();
  const char *rm[] = { "rm", "-rf", "--", cache_home, NULL };
  g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(cache_home);
  return rc;
}

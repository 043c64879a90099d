/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* memmem */
/* The vsboot commands that read and write files, against a hostile filesystem: symlinks planted
 * at every name they write, edits through links, many editors at once, SIGKILL in the middle
 * of a write, FIFOs, /dev/zero and sparse 2 GiB files as arguments. Nothing may be followed,
 * lost, left behind, hang, or die of a signal. */
#include "testutil.h"

#include "fileio.h"
#include "vsboot/varstore.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#define OVMF_VARS_4M "/usr/share/OVMF/OVMF_VARS_4M.fd"

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

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

static char *
slurp(const char *path)
{
  g_autofree char *data = NULL;
  if (!g_file_get_contents(path, &data, NULL, NULL))
    vsb_test_fail("cannot read %s", path);
  return g_steal_pointer(&data);
}

static char *
file_sum(const char *path)
{
  g_autoptr(GError) error = NULL;
  char *sum = vsb_file_sha256(path, &error);
  if (sum == NULL)
    vsb_test_fail("%s: %s", path, error->message);
  return sum;
}

/* The 32-byte db hash editor i adds, as hex. */
static char *
hash_hex(guint i)
{
  guint8 h[32];
  for (guint k = 0; k < 32; k++)
    h[k] = (guint8)(0xa0 + k + i * 7);
  h[0] = (guint8)i;
  h[1] = 0x5a;
  return vsb_hex_encode(h, 32);
}

/* TRUE when db in the store at path holds hash i. */
static gboolean
db_has(const char *path, guint i)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) s = vsb_varstore_load(path, &error);
  if (s == NULL)
    vsb_test_fail("%s: %s", path, error->message);
  const VsbVariable *db = vsb_varstore_lookup(s, "db", NULL);
  if (db == NULL)
    return FALSE;
  g_autofree char *hex = hash_hex(i);
  g_autoptr(GBytes) want = vsb_hex_decode(hex, NULL);
  gsize dlen = 0;
  const guint8 *d = g_bytes_get_data(db->data, &dlen);
  return memmem(d, dlen, g_bytes_get_data(want, NULL), 32) != NULL;
}

static void
expect_regular_mode(const char *path, guint mode)
{
  struct stat st;
  if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode)
    vsb_test_fail("%s: expected a regular file of mode %04o", path, mode);
}

static int run_bounded(const char *const *args, gint64 *ms, char **err);

static char *
make_qcow2(const char *dir, const char *name)
{
  char *path = g_build_filename(dir, name, NULL);
  const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", OVMF_VARS_4M, path,
                         NULL };
  g_autofree char *err = NULL;
  if (vsb_test_spawn(argv, NULL, NULL, &err) != 0)
    vsb_test_fail("qemu-img convert failed: %s", err);
  return path;
}

/* --in-place through a symlink edits the real file; the link stays a link, the mode (0640)
 * stays; raw and qcow2. */
static void
test_in_place_symlink(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *store = g_build_filename(dir, "stores", NULL);
  g_assert_cmpint(g_mkdir(store, 0700), ==, 0);
  g_autofree char *raw = vsb_test_copy_file(OVMF_VARS_4M, store, "real.fd", 0640);
  g_autofree char *qcow = make_qcow2(store, "real.qcow2");
  g_assert_cmpint(g_chmod(qcow, 0640), ==, 0);
  const char *reals[] = { raw, qcow };
  for (guint i = 0; i < 2; i++) {
    g_autofree char *link = g_build_filename(dir, i ? "link.qcow2" : "link.fd", NULL);
    g_assert_cmpint(symlink(reals[i], link), ==, 0);
    g_autofree char *hash = hash_hex(i + 1);
    g_autofree char *out = NULL, *err = NULL;
    int rc = vsb_test_run(&out, &err, "vars", "enroll", "--in-place", link, "--db-hash", hash,
                          NULL);
    if (rc != 0)
      vsb_test_fail("vars enroll --in-place %s: exit %d\n%s", link, rc, err);
    g_assert_true(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
    g_autofree char *target = g_file_read_link(link, NULL);
    g_assert_cmpstr(target, ==, reals[i]);
    expect_regular_mode(reals[i], 0640);
    if (!db_has(reals[i], i + 1))
      vsb_test_fail("%s: the real store does not hold the hash enrolled through %s\n%s",
                    reals[i], link, out);
    g_assert_nonnull(strstr(out, reals[i])); /* the report names the file really written */
  }
  g_assert_true(vsb_file_is_qcow2(qcow));
  g_autofree char *l = listing(store);
  g_assert_cmpstr(l, ==, "real.fd real.qcow2");
}

/* The qcow2 writer used .FILE.vsboot-qcow2-PID: a link planted there (PID known: the shell
 * execs vsboot) made qemu-img write through it. Now the name is not used at all. */
static void
test_qcow2_old_temp_name(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *outside = vsb_test_tmpdir();
  g_autofree char *victim = g_build_filename(outside, "victim", NULL);
  vsb_test_write_file(victim, "precious", -1);
  g_autofree char *qcow = make_qcow2(dir, "q.qcow2");
  g_autofree char *hash = hash_hex(9);
  g_autofree char *script = g_strdup_printf(
    "ln -s \"$1\" \"$2/.q.qcow2.vsboot-qcow2-$$\" && echo $$ && exec \"$3\" vars enroll "
    "--in-place \"$2/q.qcow2\" --db-hash %s", hash);
  const char *argv[] = { "sh", "-c", script, "sh", victim, dir, vsb_test_vsboot(), NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_spawn(argv, NULL, &out, &err);
  if (rc != 0)
    vsb_test_fail("vars enroll --in-place with a planted link: exit %d\n%s", rc, err);
  g_autofree char *after = slurp(victim);
  g_assert_cmpstr(after, ==, "precious");
  g_autofree char *planted = g_strdup_printf("%s/.q.qcow2.vsboot-qcow2-%d", dir, atoi(out));
  g_autofree char *target = g_file_read_link(planted, NULL);
  g_assert_cmpstr(target, ==, victim);
  g_autofree char *want = g_strdup_printf(".q.qcow2.vsboot-qcow2-%d q.qcow2", atoi(out));
  g_autofree char *l = listing(dir);
  g_assert_cmpstr(l, ==, want);
  g_assert_true(vsb_file_is_qcow2(qcow));
  g_assert_true(db_has(qcow, 9));
}

/* A symlink planted at an output (-o) is refused, exit 2, and the file it points to is
 * unchanged: vars enroll, vars export, vars import. */
static void
test_output_symlink(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *outside = vsb_test_tmpdir();
  g_autofree char *victim = g_build_filename(outside, "victim", NULL);
  g_autofree char *json = g_build_filename(dir, "vars.json", NULL);
  vsb_test_write_file(victim, "precious", -1);
  g_autofree char *exported = NULL;
  g_assert_cmpint(vsb_test_run(&exported, NULL, "vars", "export", OVMF_VARS_4M, NULL), ==, 0);
  vsb_test_write_file(json, exported, -1);
  g_autofree char *hash = hash_hex(3);
  const char *const cmds[][9] = {
    { "vars", "enroll", OVMF_VARS_4M, "-o", "@", "--db-hash", hash, NULL },
    { "vars", "export", OVMF_VARS_4M, "-o", "@", NULL },
    { "vars", "import", json, "--layout", "4m", "-o", "@", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cmds); i++) {
    g_autofree char *link = g_strdup_printf("%s/out%u", dir, i);
    g_assert_cmpint(symlink(victim, link), ==, 0);
    const char *args[9] = { NULL };
    for (guint k = 0; cmds[i][k]; k++)
      args[k] = strcmp(cmds[i][k], "@") == 0 ? link : cmds[i][k];
    g_autofree char *err = NULL;
    int rc = vsb_test_runv(args, NULL, &err);
    if (rc != 2 || strstr(err, "symbolic link") == NULL)
      vsb_test_fail("%s %s -o LINK: exit %d (expected 2, a symlink refusal)\n%s", args[0],
                    args[1], rc, err);
    g_autofree char *after = slurp(victim);
    g_assert_cmpstr(after, ==, "precious");
    g_assert_true(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
  }
  g_autofree char *l = listing(outside);
  g_assert_cmpstr(l, ==, "victim");
}

/* A qcow2 store naming another file (a backing file, an external data file) is refused: the
 * other file (here a FIFO, which would hang qemu-img) is never read. */
static void
test_qcow2_other_file(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
  g_autofree char *backed = g_build_filename(dir, "backed.qcow2", NULL);
  g_autofree char *ext = g_build_filename(dir, "ext.qcow2", NULL);
  g_autofree char *data_opt = g_strdup_printf("data_file=%s/data.raw", dir);
  const char *mk1[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b", OVMF_VARS_4M, "-F",
                        "raw", backed, NULL };
  const char *mk2[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o", data_opt, ext,
                        "540672", NULL };
  g_assert_cmpint(vsb_test_spawn(mk1, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint(vsb_test_spawn(mk2, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  g_autofree char *data = g_strdup_printf("%s/data.raw", dir);
  g_assert_cmpint(g_unlink(data), ==, 0);
  g_assert_cmpint(symlink(fifo, data), ==, 0); /* the data file is now a FIFO */
  const char *stores[] = { backed, ext };
  const char *why[] = { "a backing file", "an external data file" };
  for (guint i = 0; i < 2; i++) {
    const char *args[] = { "vars", "show", stores[i], NULL };
    g_autofree char *err = NULL;
    gint64 ms = 0;
    int rc = run_bounded(args, &ms, &err);
    if (rc != 2 || strstr(err, why[i]) == NULL || ms > 10000)
      vsb_test_fail("vars show %s: exit %d after %" G_GINT64_FORMAT " ms (expected 2, naming "
                    "%s)\n%s", stores[i], rc, ms, why[i], err);
  }
}

/* keys generate never writes through a link planted at one of its file names: refused, the
 * file it points to unchanged, nothing else created. */
static void
test_keys_symlink(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *outside = vsb_test_tmpdir();
  g_autofree char *victim = g_build_filename(outside, "victim", NULL);
  vsb_test_write_file(victim, "precious", -1);
  static const char *const names[] = { "PK.key", "db.crt", "owner.guid" };
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *keys = g_strdup_printf("%s/keys%u", dir, i);
    g_assert_cmpint(g_mkdir(keys, 0700), ==, 0);
    g_autofree char *link = g_build_filename(keys, names[i], NULL);
    g_assert_cmpint(symlink(victim, link), ==, 0);
    g_autofree char *err = NULL;
    int rc = vsb_test_run(NULL, &err, "keys", "generate", keys, "--bits", "2048", NULL);
    if (rc != 2)
      vsb_test_fail("keys generate with a link at %s: exit %d (expected 2)\n%s", names[i], rc,
                    err);
    g_autofree char *after = slurp(victim);
    g_assert_cmpstr(after, ==, "precious");
    g_autofree char *l = listing(keys);
    g_assert_cmpstr(l, ==, names[i]);
  }
}

/* n editors at once, each adding its own db hash: every one that exits 0 has its hash in
 * the final store, and none may fail (they queue on the edit lock). */
static void
race(const char *store, guint n)
{
  g_autofree GPid *pids = g_new0(GPid, n);
  g_autofree char *errdir = vsb_test_tmpdir(); /* each editor's stderr, for the failure report */
  for (guint i = 0; i < n; i++) {
    g_autofree char *hash = hash_hex(100 + i);
    g_autofree char *errfile = g_strdup_printf("%s/%u", errdir, i);
    const char *argv[] = { "sh", "-c", "f=$1; shift; exec \"$@\" 2>\"$f\"", "sh", errfile,
                           vsb_test_vsboot(), "vars", "enroll", "--in-place", store,
                           "--db-hash", hash, NULL };
    g_autoptr(GError) error = NULL;
    if (!g_spawn_async(NULL, (char **)argv, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                       G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pids[i], &error))
      vsb_test_fail("cannot start vsboot: %s", error->message);
  }
  g_autoptr(GString) failures = g_string_new(NULL);
  for (guint i = 0; i < n; i++) {
    int status = 0;
    g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
    if (!WIFEXITED(status))
      vsb_test_fail("editor %u of %u died of signal %d", i, n, WTERMSIG(status));
    if (WEXITSTATUS(status) != 0) {
      g_autofree char *errfile = g_strdup_printf("%s/%u", errdir, i);
      g_autofree char *err = slurp(errfile);
      g_string_append_printf(failures, "editor %u: exit %d: %s", i, WEXITSTATUS(status), err);
      continue;
    }
    if (!db_has(store, 100 + i))
      vsb_test_fail("%s: editor %u of %u exited 0 but its hash is not in the store (an update "
                    "was lost)", store, i, n);
  }
  if (failures->len)
    vsb_test_fail("%s: concurrent editors failed:\n%s", store, failures->str);
}

static void
test_race(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *two = vsb_test_copy_file(OVMF_VARS_4M, dir, "two.fd", 0640);
  g_autofree char *twenty = vsb_test_copy_file(OVMF_VARS_4M, dir, "twenty.fd", 0640);
  g_autofree char *q = make_qcow2(dir, "five.qcow2");
  race(two, 2);
  race(twenty, 20);
  race(q, 5);
  expect_regular_mode(twenty, 0640);
  g_assert_true(vsb_file_is_qcow2(q));
  g_autofree char *l = listing(dir);
  g_assert_cmpstr(l, ==, "five.qcow2 twenty.fd two.fd");
}

/* SIGKILL at each injected step of --in-place: the store is byte-identical afterwards, and the
 * next edit succeeds and leaves only the store in its directory. */
static void
test_crash(void)
{
  vsb_test_require_tool("qemu-img");
  static const struct {
    const char *point;
    gboolean qcow2;
  } cases[] = {
    { "after-temp-write", FALSE },
    { "before-rename", FALSE },
    { "after-qcow2-convert", TRUE },
    { "before-rename", TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *dir = vsb_test_tmpdir();
    g_autofree char *store = cases[i].qcow2 ? make_qcow2(dir, "vars.qcow2")
                                            : vsb_test_copy_file(OVMF_VARS_4M, dir, "vars.fd", 0600);
    g_autofree char *before = file_sum(store);
    g_autofree char *hash = hash_hex(40 + i);
    const char *argv[] = { vsb_test_vsboot(), "vars", "enroll", "--in-place", store,
                           "--db-hash", hash, NULL };
    g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "VSB_TEST_CRASH_AT", cases[i].point,
                                         TRUE);
    int rc = vsb_test_spawn(argv, (const char *const *)env, NULL, NULL);
    if (rc != 128 + SIGKILL)
      vsb_test_fail("%s (%s): expected the injected SIGKILL, got exit %d", cases[i].point,
                    cases[i].qcow2 ? "qcow2" : "raw", rc);
    g_autofree char *after = file_sum(store);
    g_assert_cmpstr(after, ==, before);
    g_autofree char *left = listing(dir);
    g_test_message("killed at %s: %s", cases[i].point, left);
    g_autofree char *err = NULL;
    rc = vsb_test_run(NULL, &err, "vars", "enroll", "--in-place", store, "--db-hash", hash, NULL);
    if (rc != 0)
      vsb_test_fail("the edit after the crash failed (exit %d)\n%s", rc, err);
    g_assert_true(db_has(store, 40 + i));
    g_autofree char *l = listing(dir);
    g_assert_cmpstr(l, ==, cases[i].qcow2 ? "vars.qcow2" : "vars.fd");
  }
}

/* Run vsboot under a 10 s watchdog (a hang must fail the test, not the suite's timeout);
 * returns the exit status and the elapsed milliseconds. */
static int
run_bounded(const char *const *args, gint64 *ms, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)"timeout");
  g_ptr_array_add(argv, (char *)"-s");
  g_ptr_array_add(argv, (char *)"KILL");
  g_ptr_array_add(argv, (char *)"10");
  g_ptr_array_add(argv, (char *)vsb_test_vsboot());
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add(argv, (char *)*a);
  g_ptr_array_add(argv, NULL);
  gint64 t = g_get_monotonic_time();
  int rc = vsb_test_spawn((const char *const *)argv->pdata, NULL, NULL, err);
  *ms = (g_get_monotonic_time() - t) / 1000;
  return rc;
}

/* Every command in scope, with BAD (a FIFO, /dev/zero, a sparse 2 GiB file) in each file
 * argument: an error within seconds, exit 1..127, no output written, BAD unchanged. */
static void
check_bad_input(const char *dir, const char *bad, const char *store)
{
  g_autofree char *out = g_build_filename(dir, "out", NULL);
  g_autofree char *hash = hash_hex(1);
  g_autofree char *sig = g_strdup_printf("%s/certs/MicrosoftUEFICA2011.pem", vsb_test_data_dir());
  const char *const cmds[][10] = {
    { "vars", "show", "@", NULL },
    { "vars", "show", "@", "--json", NULL },
    { "vars", "export", "@", "-o", "#", NULL },
    { "vars", "import", "@", "--layout", "4m", "-o", "#", NULL },
    { "vars", "enroll", "@", "-o", "#", "--db-hash", hash, NULL },
    { "vars", "enroll", "--in-place", "@", "--db-hash", hash, NULL },
    { "vars", "enroll", store, "-o", "#", "--db", "@", NULL },
    { "vars", "enroll", store, "-o", "#", "--pk", "@", NULL },
    { "vars", "enroll", store, "-o", "#", "--dbx-update", "@", NULL },
    { "vars", "enroll", store, "-o", "#", "--copy-from", "@", NULL },
    { "pe", "info", "@", NULL },
    { "pe", "hash", "@", NULL },
    { "pe", "verify", "@", "--db", sig, NULL },
    { "pe", "sign", "@", "--key", "@", "--cert", sig, "-o", "#", NULL },
    { "firmware", "show", "@", NULL },
    { "firmware", "check", "@", NULL },
    { "firmware", "inspect", "@", NULL },
    { "keys", "generate", "@", NULL },
    { "audit", "--libvirt-xml", "@", NULL },
    { "vars", "enroll", store, "-o", "#", "--db-update", "@", NULL },
    { "vars", "enroll", store, "-o", "#", "--check-boot", "@", NULL },
  };
  struct stat before, after;
  g_assert_cmpint(lstat(bad, &before), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS(cmds); i++) {
    const char *args[10] = { NULL };
    for (guint k = 0; cmds[i][k]; k++)
      args[k] = strcmp(cmds[i][k], "@") == 0 ? bad : strcmp(cmds[i][k], "#") == 0 ? out : cmds[i][k];
    g_autofree char *shown = g_strjoinv(" ", (char **)args);
    g_autofree char *err = NULL;
    gint64 ms = 0;
    int rc = run_bounded(args, &ms, &err);
    /* Ten seconds, not one: a refusal takes milliseconds, but a loaded CI machine running boots
     * in parallel once took 1.9 s to start a process; what this catches is a hang or a read of
     * gigabytes, which take far longer. */
    if (rc < 1 || rc > 127 || ms > 10000)
      vsb_test_fail("vsboot %s: exit %d after %" G_GINT64_FORMAT " ms (expected a refusal, exit "
                    "1..127, within ten seconds)\n%s", shown, rc, ms, err ? err : "");
    if (g_file_test(out, G_FILE_TEST_EXISTS))
      vsb_test_fail("vsboot %s: wrote %s", shown, out);
    g_assert_cmpint(lstat(bad, &after), ==, 0);
    if (after.st_mode != before.st_mode || after.st_size != before.st_size ||
        after.st_ino != before.st_ino)
      vsb_test_fail("vsboot %s: %s was changed", shown, bad);
  }
}

static void
test_fifo(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  check_bad_input(dir, fifo, OVMF_VARS_4M);
}

static void
test_dev_zero(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  check_bad_input(dir, "/dev/zero", OVMF_VARS_4M);
}

static void
test_sparse(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *sparse = g_build_filename(dir, "sparse.fd", NULL);
  int fd = open(sparse, O_WRONLY | O_CREAT | O_EXCL, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(ftruncate(fd, (off_t)2 << 30), ==, 0);
  close(fd);
  check_bad_input(dir, sparse, OVMF_VARS_4M);
  struct stat st;
  g_assert_cmpint(stat(sparse, &st), ==, 0);
  g_assert_cmpint(st.st_blocks, ==, 0); /* never written, still all hole */
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/fs/cli/in-place-symlink", test_in_place_symlink);
  g_test_add_func("/fs/cli/qcow2-old-temp-name", test_qcow2_old_temp_name);
  g_test_add_func("/fs/cli/output-symlink", test_output_symlink);
  g_test_add_func("/fs/cli/keys-symlink", test_keys_symlink);
  g_test_add_func("/fs/cli/qcow2-other-file", test_qcow2_other_file);
  g_test_add_func("/fs/cli/race", test_race);
  g_test_add_func("/fs/cli/crash", test_crash);
  g_test_add_func("/fs/cli/fifo", test_fifo);
  g_test_add_func("/fs/cli/dev-zero", test_dev_zero);
  g_test_add_func("/fs/cli/sparse", test_sparse);
  return g_test_run();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "Never let the file system be turned against vsboot": provisioning in a state directory
 * someone prepared. Symbolic links at every name provision writes, a TPM directory that is not
 * vsboot's, concurrent provisioning of one VM, a reset under a running QEMU, a state file that
 * names another VM's varstore or is a link to a secret, a world-writable state directory, and
 * a kill at every step of the commit: the canaries stay untouched, the errors say what is
 * wrong without quoting foreign files, and a VM is always its old or its new pair. Runs as
 * root, as the cases were reproduced. */
#include "testutil.h"

#include "vsboot/varstore.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OVMF "/usr/share/OVMF/"
#define TEMPLATE OVMF "OVMF_VARS_4M.ms.fd"

static char *
file_sha256(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, NULL))
    vsb_test_fail("cannot read %s", path);
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

static char *
read_text(const char *path)
{
  g_autofree char *data = NULL;
  if (!g_file_get_contents(path, &data, NULL, NULL))
    vsb_test_fail("cannot read %s", path);
  return g_steal_pointer(&data);
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every entry, dot-files included, sorted, space-separated. */
static char *
listing(const char *dir)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (d == NULL)
    vsb_test_fail("cannot list %s", dir);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while ((n = g_dir_read_name(d)))
    g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, cmp_names);
  g_ptr_array_add(names, NULL);
  return g_strjoinv(" ", (char **)names->pdata);
}

static void
assert_contains(const char *text, const char *what)
{
  if (text == NULL || strstr(text, what) == NULL)
    vsb_test_fail("expected \"%s\" in:\n%s", what, text ? text : "(null)");
}

static void
assert_listing(const char *dir, const char *want)
{
  g_autofree char *ls = listing(dir);
  if (strcmp(ls, want) != 0)
    vsb_test_fail("%s holds \"%s\", expected \"%s\"", dir, ls, want);
}

/* A state directory of its own (mode 0700) inside a test directory. */
static char *
state_dir(const char *top, const char *name)
{
  char *d = g_build_filename(top, name, NULL);
  g_assert_cmpint(g_mkdir(d, 0700), ==, 0);
  return d;
}

/* Canaries outside the state directory: a file and a directory with a file in it. */
typedef struct {
  char *file, *dir, *dir_file;
} Canary;

static void
canary_make(Canary *c, const char *top)
{
  c->file = g_build_filename(top, "canary", NULL);
  c->dir = g_build_filename(top, "canary.d", NULL);
  c->dir_file = g_build_filename(c->dir, "inside", NULL);
  vsb_test_write_file(c->file, "canary\n", -1);
  g_assert_cmpint(g_mkdir(c->dir, 0700), ==, 0);
  vsb_test_write_file(c->dir_file, "inside\n", -1);
}

static void
canary_check(const Canary *c)
{
  g_autofree char *f = read_text(c->file);
  g_assert_cmpstr(f, ==, "canary\n");
  g_autofree char *i = read_text(c->dir_file);
  g_assert_cmpstr(i, ==, "inside\n");
  assert_listing(c->dir, "inside");
  struct stat st;
  g_assert_cmpint(stat(c->file, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 07777, ==, 0644);
}

static void
canary_clear(Canary *c)
{
  g_free(c->file);
  g_free(c->dir);
  g_free(c->dir_file);
}

static int
provision(char **out, char **err, const char *dir, const char *name, gboolean tpm,
          gboolean reset)
{
  const char *args[] = { "provision", name, "--state-dir", dir, "--enrolled-keys", "--microsoft", "none",
                         tpm ? "--tpm" : "--json", reset ? "--reset" : NULL, NULL };
  return vsb_test_runv(args, out, err);
}

/* ---- symbolic links at every name ------------------------------------------------------ */

static void
test_symlinks_new(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  Canary c;
  canary_make(&c, top);
  /* Every name a provisioning of "vm" with a TPM creates, reads or removes. */
  static const struct {
    const char *name;
    gboolean dir;
  } names[] = {
    { "vm.json", FALSE },      { "vm_VARS.fd", FALSE },        { "vm.tpm", TRUE },
    { ".vm.lock", FALSE },     { ".vm.vsb-commit", FALSE },    { ".vm.json.vsb-new", FALSE },
    { ".vm_VARS.fd.vsb-new", FALSE }, { ".vm.tpm.vsb-new", TRUE },
    { "vm_VARS.qcow2", FALSE }, { "vm_FW.fd", FALSE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *sub = g_strdup_printf("s%" G_GSIZE_FORMAT, i);
    g_autofree char *dir = state_dir(top, sub);
    g_autofree char *link = g_build_filename(dir, names[i].name, NULL);
    g_assert_cmpint(symlink(names[i].dir ? c.dir : c.file, link), ==, 0);
    g_autofree char *out = NULL, *err = NULL;
    int rc = provision(&out, &err, dir, "vm", TRUE, FALSE);
    if (rc != 2)
      vsb_test_fail("a link at %s: provision exited %d:\n%s", names[i].name, rc, err);
    assert_contains(err, link);
    assert_contains(err, "symbolic link");
    canary_check(&c);
    assert_listing(dir, names[i].name);
  }
  canary_clear(&c);
}

/* A reset replaces and removes: links where it would do either are refused too. */
static void
test_symlinks_reset(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  Canary c;
  canary_make(&c, top);
  static const char *const names[] = { "vm.json", "vm_VARS.fd", "vm_VARS.qcow2", "vm.tpm",
                                       ".vm.json.vsb-new", ".vm_VARS.fd.vsb-new",
                                       ".vm.vsb-commit", ".vm.lock" };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *sub = g_strdup_printf("r%" G_GSIZE_FORMAT, i);
    g_autofree char *dir = state_dir(top, sub);
    g_assert_cmpint(provision(NULL, NULL, dir, "vm", FALSE, FALSE), ==, 0);
    g_autofree char *link = g_build_filename(dir, names[i], NULL);
    g_unlink(link);
    g_assert_cmpint(symlink(g_str_has_suffix(names[i], ".tpm") ? c.dir : c.file, link), ==, 0);
    g_autofree char *before = listing(dir);
    g_autofree char *err = NULL;
    int rc = provision(NULL, &err, dir, "vm", TRUE, TRUE);
    if (rc != 2)
      vsb_test_fail("a link at %s: provision --reset exited %d:\n%s", names[i], rc, err);
    assert_contains(err, link);
    assert_contains(err, "symbolic link");
    canary_check(&c);
    assert_listing(dir, before);
  }
  canary_clear(&c);
}

/* ---- the TPM directory ------------------------------------------------------------------ */

/* Runs provision with writes beyond 100 KiB failing (EFBIG; SIGXFSZ ignored): the TPM state
 * fits, the 528 KiB varstore does not. A failure after the TPM step, without a test hook. */
static int
provision_small_files(char **err, const char *dir, gboolean tpm)
{
  const char *argv[] = { "sh", "-c", "trap '' XFSZ; ulimit -f 200; exec \"$@\"", "sh",
                         vsb_test_vsboot(), "provision", "vm", "--state-dir", dir,
                         "--enrolled-keys", "--microsoft", "none", tpm ? "--tpm" : NULL, NULL };
  return vsb_test_spawn(argv, NULL, NULL, err);
}

static void
test_tpm_not_ours(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  /* An empty directory at NAME.tpm (mkdir's EEXIST): not vsboot's, refused, kept. */
  g_autofree char *d1 = state_dir(top, "empty");
  g_autofree char *t1 = g_build_filename(d1, "vm.tpm", NULL);
  g_assert_cmpint(g_mkdir(t1, 0700), ==, 0);
  g_autofree char *err = NULL;
  g_assert_cmpint(provision(NULL, &err, d1, "vm", TRUE, FALSE), ==, 2);
  assert_contains(err, "holds no TPM state");
  assert_listing(d1, "vm.tpm");
  assert_listing(t1, "");

  /* Someone's files in it: the same, and the files stay. */
  g_autofree char *d2 = state_dir(top, "full");
  g_autofree char *t2 = g_build_filename(d2, "vm.tpm", NULL);
  g_assert_cmpint(g_mkdir(t2, 0700), ==, 0);
  g_autofree char *precious = g_build_filename(t2, "precious", NULL);
  vsb_test_write_file(precious, "precious\n", -1);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(provision(NULL, &err, d2, "vm", TRUE, FALSE), ==, 2);
  assert_contains(err, t2);
  assert_listing(t2, "precious");

  /* Existing TPM state is kept and used; a later step fails (no room for the varstore):
   * the state survives, byte for byte, and nothing else is left. */
  g_autofree char *d3 = state_dir(top, "kept");
  g_autofree char *t3 = g_build_filename(d3, "vm.tpm", NULL);
  g_assert_cmpint(g_mkdir(t3, 0700), ==, 0);
  g_autofree char *permall = g_build_filename(t3, "tpm2-00.permall", NULL);
  vsb_test_write_file(permall, "the VM's TPM identity\n", -1);
  g_clear_pointer(&err, g_free);
  int rc = provision_small_files(&err, d3, TRUE);
  if (rc != 2)
    vsb_test_fail("provision with a 100 KiB file limit exited %d:\n%s", rc, err);
  assert_contains(err, "File too large");
  assert_listing(d3, "vm.tpm");
  assert_listing(t3, "tpm2-00.permall");
  g_autofree char *p = read_text(permall);
  g_assert_cmpstr(p, ==, "the VM's TPM identity\n");

  /* A new TPM state and the same failure: what this run made is gone, all of it. */
  g_autofree char *d4 = state_dir(top, "new");
  g_clear_pointer(&err, g_free);
  rc = provision_small_files(&err, d4, TRUE);
  if (rc != 2)
    vsb_test_fail("provision --tpm with a 100 KiB file limit exited %d:\n%s", rc, err);
  assert_contains(err, "File too large");
  assert_listing(d4, "");
}

/* ---- concurrent provisioning of one VM --------------------------------------------------- */

static void
concurrent(guint n, gboolean reset)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *dir = state_dir(top, "state");
  if (reset)
    g_assert_cmpint(provision(NULL, NULL, dir, "vm", TRUE, FALSE), ==, 0);
  g_autoptr(GPtrArray) procs = g_ptr_array_new_with_free_func(g_object_unref);
  for (guint i = 0; i < n; i++) {
    const char *argv[] = { vsb_test_vsboot(), "provision", "vm", "--state-dir", dir,
                           "--enrolled-keys", "--microsoft", "none", "--tpm", "--json", reset ? "--reset" : NULL, NULL };
    g_autoptr(GError) error = NULL;
    GSubprocess *p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                               G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    g_assert_no_error(error);
    g_ptr_array_add(procs, p);
  }
  /* Bounded: the whole race must end well within a minute (one swtpm_setup, the rest refused
   * at once). communicate drains the pipes, so no process blocks on a full one. */
  gint64 deadline = g_get_monotonic_time() + 90 * G_USEC_PER_SEC;
  for (guint i = 0; i < n; i++) {
    /* GLib's worker reaps each child; its identifier is gone once it has exited. */
    while (g_subprocess_get_identifier(procs->pdata[i]) != NULL) {
      if (g_get_monotonic_time() > deadline) {
        for (guint j = 0; j < n; j++)
          g_subprocess_force_exit(procs->pdata[j]);
        vsb_test_fail("%u concurrent provisionings of one VM still ran after 90 s", n);
      }
      g_usleep(20 * 1000);
    }
  }
  guint won = 0;
  g_autofree char *winner_uuid = NULL;
  for (guint i = 0; i < n; i++) {
    GSubprocess *p = procs->pdata[i];
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, &out, &err, &error));
    g_assert_true(g_subprocess_get_if_exited(p));
    int rc = g_subprocess_get_exit_status(p);
    if (rc == 0) {
      won++;
      g_autoptr(JsonNode) j = vsb_test_parse_json(out);
      g_free(winner_uuid);
      winner_uuid = g_strdup(json_object_get_string_member(json_node_get_object(j), "uuid"));
    } else if (rc != 2 || (!strstr(err, "is being provisioned by another process") &&
                           !strstr(err, "is already provisioned"))) {
      vsb_test_fail("provision %u of %u exited %d:\n%s", i, n, rc, err);
    }
  }
  if (reset ? won < 1 : won != 1)
    vsb_test_fail("%u of %u concurrent provisionings of one VM succeeded", won, n);
  assert_listing(dir, "vm.json vm.tpm vm_VARS.fd");
  g_autofree char *permall = g_build_filename(dir, "vm.tpm", "tpm2-00.permall", NULL);
  g_assert_true(g_file_test(permall, G_FILE_TEST_IS_REGULAR));
  g_autofree char *state = g_build_filename(dir, "vm.json", NULL);
  g_autofree char *text = read_text(state);
  g_autoptr(JsonNode) j = vsb_test_parse_json(text);
  if (!reset)
    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(j), "uuid"), ==,
                    winner_uuid);
  g_autofree char *vars = g_build_filename(dir, "vm_VARS.fd", NULL);
  g_autofree char *sum = file_sha256(vars), *tpl = file_sha256(TEMPLATE);
  g_assert_cmpstr(sum, ==, tpl);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "qemu-args", "vm", "--state-dir", dir,
                               "--qemu-version", "7.2", NULL), ==, 0);
}

static void
test_concurrent_2(void)
{
  concurrent(2, FALSE);
}

static void
test_concurrent_20(void)
{
  concurrent(20, FALSE);
  concurrent(20, TRUE);
}

/* ---- reset while the varstore is in use --------------------------------------------------- */

static void
wait_locked(const char *path, GSubprocess *qemu)
{
  for (int i = 0; i < 600; i++) {
    if (vsb_file_is_locked(path, NULL))
      return;
    if (g_subprocess_get_identifier(qemu) == NULL)
      vsb_test_fail("QEMU exited before it locked %s", path);
    g_usleep(50 * 1000);
  }
  vsb_test_fail("QEMU did not lock %s within 30 s", path);
}

static void
assert_reset_refused(const char *dir, const char *vars, const char *state, const char *why)
{
  g_autofree char *vsum = file_sha256(vars), *ssum = file_sha256(state);
  g_autofree char *before = listing(dir);
  g_autofree char *err = NULL;
  int rc = provision(NULL, &err, dir, "vm", FALSE, TRUE);
  if (rc != 2)
    vsb_test_fail("provision --reset of a VM in use exited %d:\n%s", rc, err);
  assert_contains(err, "VM 'vm' is running: its varstore");
  assert_contains(err, why);
  assert_contains(err, "nothing was changed");
  g_autofree char *vsum2 = file_sha256(vars), *ssum2 = file_sha256(state);
  g_assert_cmpstr(vsum2, ==, vsum);
  g_assert_cmpstr(ssum2, ==, ssum);
  assert_listing(dir, before);
}

static void
test_reset_in_use(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *dir = state_dir(top, "state");
  g_assert_cmpint(provision(NULL, NULL, dir, "vm", FALSE, FALSE), ==, 0);
  g_autofree char *vars = g_build_filename(dir, "vm_VARS.fd", NULL);
  g_autofree char *state = g_build_filename(dir, "vm.json", NULL);
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "qemu-args", "vm", "--state-dir", dir, "--json",
                               NULL), ==, 0);
  g_autoptr(JsonNode) args = vsb_test_parse_json(out);
  JsonArray *a = json_node_get_array(args);
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)"qemu-system-x86_64");
  for (guint i = 0; i < json_array_get_length(a); i++)
    g_ptr_array_add(argv, (char *)json_array_get_string_element(a, i));
  const char *tail[] = { "-accel", "tcg", "-S", "-nodefaults", "-display", "none", NULL };
  for (const char *const *t = tail; *t; t++)
    g_ptr_array_add(argv, (char *)*t);
  g_ptr_array_add(argv, NULL);

  /* A real QEMU, paused, with the VM's flash: it holds QEMU's image locks. */
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) qemu = g_subprocess_newv((const char *const *)argv->pdata,
                                                  G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                    G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error(error);
  wait_locked(vars, qemu);
  assert_reset_refused(dir, vars, state, "as a running QEMU does");
  g_subprocess_force_exit(qemu);
  g_assert_true(g_subprocess_wait(qemu, NULL, NULL));

  /* Open without any lock (QEMU with locking=off, or any other program): found in /proc. */
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_stdin_file_path(l, vars);
  g_autoptr(GSubprocess) holder = g_subprocess_launcher_spawn(l, &error, "sleep", "60", NULL);
  g_assert_no_error(error);
  g_autofree char *who = g_strdup_printf("process %s (sleep) has it open",
                                         g_subprocess_get_identifier(holder));
  assert_reset_refused(dir, vars, state, who);
  g_subprocess_force_exit(holder);
  g_assert_true(g_subprocess_wait(holder, NULL, NULL));

  /* Nobody holds it: the reset goes through. */
  g_autofree char *err = NULL;
  int rc = provision(NULL, &err, dir, "vm", FALSE, TRUE);
  if (rc != 0)
    vsb_test_fail("provision --reset after QEMU stopped exited %d:\n%s", rc, err);
}

/* ---- state files that are not what they claim ------------------------------------------- */

static void
edit_state(const char *state, const char *from, const char *to)
{
  g_autofree char *text = read_text(state);
  if (strstr(text, from) == NULL)
    vsb_test_fail("no \"%s\" in %s", from, state);
  g_autoptr(GString) s = g_string_new(text);
  g_string_replace(s, from, to, 1);
  vsb_test_write_file(state, s->str, -1);
}

static void
test_tampered_names_other_vm(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *dir = state_dir(top, "state");
  g_autofree char *other = state_dir(top, "other");
  g_assert_cmpint(provision(NULL, NULL, dir, "a", TRUE, FALSE), ==, 0);
  g_assert_cmpint(provision(NULL, NULL, dir, "b", TRUE, FALSE), ==, 0);
  g_autofree char *a_json = g_build_filename(dir, "a.json", NULL);
  g_autofree char *a_vars = g_build_filename(dir, "a_VARS.fd", NULL);
  g_autofree char *b_vars = g_build_filename(dir, "b_VARS.fd", NULL);
  g_autofree char *a_tpm = g_build_filename(dir, "a.tpm", NULL);
  g_autofree char *b_tpm = g_build_filename(dir, "b.tpm", NULL);
  g_autofree char *elsewhere = g_build_filename(other, "a_VARS.fd", NULL);
  vsb_test_write_file(elsewhere, "not a's\n", -1);
  g_autofree char *original = read_text(a_json);
  g_autofree char *b_sum = file_sha256(b_vars);
  g_autofree char *b_listing = listing(b_tpm);
  g_autofree char *q_a_vars = g_strdup_printf("\"%s\"", a_vars);
  g_autofree char *q_b_vars = g_strdup_printf("\"%s\"", b_vars);
  g_autofree char *q_else = g_strdup_printf("\"%s\"", elsewhere);
  g_autofree char *q_a_tpm = g_strdup_printf("\"%s\"", a_tpm);
  g_autofree char *q_b_tpm = g_strdup_printf("\"%s\"", b_tpm);
  const struct {
    const char *from, *to, *member;
  } edits[] = {
    { q_a_vars, q_b_vars, "varstore.filename" },
    { q_a_vars, q_else, "varstore.filename" },
    { q_a_vars, "\"/etc/passwd\"", "varstore.filename" },
    { q_a_tpm, q_b_tpm, "tpm-state-dir" },
    { q_a_tpm, "\"/etc\"", "tpm-state-dir" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(edits); i++) {
    vsb_test_write_file(a_json, original, -1);
    edit_state(a_json, edits[i].from, edits[i].to);
    g_autofree char *err = NULL;
    int rc = provision(NULL, &err, dir, "a", TRUE, TRUE);
    if (rc != 2)
      vsb_test_fail("reset of a tampered a.json (%s) exited %d:\n%s", edits[i].to, rc, err);
    assert_contains(err, edits[i].member);
    assert_contains(err, "is not VM 'a''s own file");
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(NULL, &err, "qemu-args", "a", "--state-dir", dir,
                                 "--qemu-version", "7.2", NULL), ==, 2);
    assert_contains(err, "is not VM 'a''s own file");
    g_autofree char *sum = file_sha256(b_vars);
    g_assert_cmpstr(sum, ==, b_sum);
    g_autofree char *bl = listing(b_tpm);
    g_assert_cmpstr(bl, ==, b_listing);
    g_autofree char *e = read_text(elsewhere);
    g_assert_cmpstr(e, ==, "not a's\n");
    assert_listing(dir, "a.json a.tpm a_VARS.fd b.json b.tpm b_VARS.fd");
  }
  /* The untouched file still resets. */
  vsb_test_write_file(a_json, original, -1);
  g_autofree char *err = NULL;
  g_assert_cmpint(provision(NULL, &err, dir, "a", TRUE, TRUE), ==, 0);
}

#define SECRET "S3CRET-TOKEN-4711"

static void
assert_no_secret(const char *dir, const char *json_path)
{
  const char *const cmds[][9] = {
    { "provision", "vm", "--state-dir", dir, "--enrolled-keys", "--microsoft", "none", NULL },
    { "provision", "vm", "--state-dir", dir, "--enrolled-keys", "--microsoft", "none", "--json", NULL },
    { "provision", "vm", "--state-dir", dir, "--enrolled-keys", "--microsoft", "none", "--reset", NULL },
    { "qemu-args", "vm", "--state-dir", dir, "--qemu-version", "7.2", NULL },
    { "libvirt-xml", "vm", "--state-dir", dir, NULL },
    { "run", "vm", "--state-dir", dir, "--dry-run", NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cmds); i++) {
    g_autofree char *out = NULL, *err = NULL;
    int rc = vsb_test_runv(cmds[i], &out, &err);
    if (rc != 2)
      vsb_test_fail("%s with a foreign vm.json exited %d:\n%s", cmds[i][0], rc, err);
    if (strstr(out, SECRET) || strstr(err, SECRET) || strstr(err, "root:"))
      vsb_test_fail("%s quoted the foreign file:\n%s%s", cmds[i][0], out, err);
    assert_contains(err, json_path);
  }
}

static void
test_secret_state_file(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *secret = g_build_filename(top, "shadow", NULL);
  vsb_test_write_file(secret, "root:" SECRET ":19000:0:99999:7:::\n", -1);
  g_assert_cmpint(g_chmod(secret, 0600), ==, 0);
  g_autofree char *json_secret = g_build_filename(top, "creds.json", NULL);
  vsb_test_write_file(json_secret, "{ \"version\": 1, \"name\": \"" SECRET "\" }\n", -1);

  /* A link to it. */
  g_autofree char *d1 = state_dir(top, "link");
  g_autofree char *j1 = g_build_filename(d1, "vm.json", NULL);
  g_assert_cmpint(symlink(secret, j1), ==, 0);
  assert_no_secret(d1, j1);
  /* A hard link to it. */
  g_autofree char *d2 = state_dir(top, "hard");
  g_autofree char *j2 = g_build_filename(d2, "vm.json", NULL);
  g_assert_cmpint(link(secret, j2), ==, 0);
  assert_no_secret(d2, j2);
  /* A copy of it (not JSON), and a JSON file that is not this VM's. */
  g_autofree char *d3 = state_dir(top, "copy");
  g_autofree char *j3 = g_build_filename(d3, "vm.json", NULL);
  g_autofree char *s = read_text(secret);
  vsb_test_write_file(j3, s, -1);
  assert_no_secret(d3, j3);
  g_autofree char *js = read_text(json_secret);
  vsb_test_write_file(j3, js, -1);
  assert_no_secret(d3, j3);
  g_autofree char *after = read_text(secret);
  g_assert_cmpstr(after, ==, "root:" SECRET ":19000:0:99999:7:::\n");
}

/* ---- the state directory ---------------------------------------------------------------- */

static void
test_state_dir_modes(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *dir = g_build_filename(top, "state", NULL);
  g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
  g_assert_cmpint(provision(NULL, NULL, dir, "ok", FALSE, FALSE), ==, 0);
  static const struct {
    int mode;
    const char *shown, *who;
  } modes[] = {
    { 0777, "mode 0777", "group and others can write it" },
    { 01777, "mode 1777", "group and others can write it" },
    { 0770, "mode 0770", "its group can write it" },
    { 0703, "mode 0703", "others can write it" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
    g_assert_cmpint(chmod(dir, (mode_t)modes[i].mode), ==, 0);
    g_autofree char *err = NULL;
    int rc = provision(NULL, &err, dir, "vm", FALSE, FALSE);
    if (rc != 2)
      vsb_test_fail("provision into a %s state directory exited %d:\n%s", modes[i].shown, rc,
                    err);
    assert_contains(err, modes[i].shown);
    assert_contains(err, modes[i].who);
    assert_contains(err, "sticky bit");
    g_clear_pointer(&err, g_free);
    rc = vsb_test_run(NULL, &err, "run", "ok", "--state-dir", dir, "--dry-run", NULL);
    g_assert_cmpint(rc, ==, 2);
    assert_contains(err, modes[i].shown);
    assert_listing(dir, "ok.json ok_VARS.fd");
  }
  /* Another user's directory, even one only its owner writes. */
  g_assert_cmpint(chmod(dir, 0755), ==, 0);
  g_assert_cmpint(chown(dir, 65534, 65534), ==, 0);
  g_autofree char *err = NULL;
  g_assert_cmpint(provision(NULL, &err, dir, "vm", FALSE, FALSE), ==, 2);
  assert_contains(err, "belongs to uid 65534");
  assert_listing(dir, "ok.json ok_VARS.fd");
  /* Back to the caller's, 0755: accepted. */
  g_assert_cmpint(chown(dir, 0, 0), ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(provision(NULL, &err, dir, "vm", FALSE, FALSE), ==, 0);
}

/* run, qemu-args and libvirt-xml refuse a VM whose own files were swapped for links since
 * provisioning. */
static void
test_run_links(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *dir = state_dir(top, "state");
  Canary c;
  canary_make(&c, top);
  g_assert_cmpint(provision(NULL, NULL, dir, "vm", TRUE, FALSE), ==, 0);
  static const char *const names[] = { "vm_VARS.fd", "vm.tpm" };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *p = g_build_filename(dir, names[i], NULL);
    g_autofree char *aside = g_strconcat(p, ".aside", NULL);
    g_assert_cmpint(rename(p, aside), ==, 0);
    g_assert_cmpint(symlink(i == 0 ? c.file : c.dir, p), ==, 0);
    g_autofree char *err = NULL;
    int rc = vsb_test_run(NULL, &err, "run", "vm", "--state-dir", dir, "--dry-run", "--accel",
                          "tcg", NULL);
    g_assert_cmpint(rc, ==, 2);
    assert_contains(err, p);
    assert_contains(err, "symbolic link");
    /* Nor is the link printed for QEMU or libvirt to follow. */
    const char *const emit[][7] = {
      { "qemu-args", "vm", "--state-dir", dir, "--qemu-version", "7.2", NULL },
      { "libvirt-xml", "vm", "--state-dir", dir, NULL },
    };
    for (gsize e = 0; e < G_N_ELEMENTS(emit); e++) {
      g_autofree char *o = NULL, *ee = NULL;
      g_assert_cmpint(vsb_test_runv(emit[e], &o, &ee), ==, 2);
      g_assert_cmpstr(o, ==, "");
      assert_contains(ee, p);
      assert_contains(ee, "symbolic link");
    }
    g_unlink(p);
    g_assert_cmpint(rename(aside, p), ==, 0);
    canary_check(&c);
  }
  canary_clear(&c);
}

/* ---- a kill at every step --------------------------------------------------------------- */

/* In the order a provisioning reaches them; the first three are before the commit point.
 * "after-temp-write" is fileio's, inside the write of the state file's temporary name. */
static const char *const fresh_points[] = {
  "vm-tpm-written", "vm-varstore-written", "after-temp-write", "vm-state-written",
  "vm-committed", "vm-tpm-moved", "vm-varstore-moved", "vm-state-moved", "vm-old-removed",
};
#define FIRST_COMMITTED "vm-committed"

static int
provision_killed_at(const char *dir, const char *point, gboolean tpm, gboolean reset)
{
  const char *argv[] = { vsb_test_vsboot(), "provision", "vm", "--state-dir", dir,
                         "--enrolled-keys", "--microsoft", "none", tpm ? "--tpm" : "--json",
                         reset ? "--reset" : NULL, NULL };
  g_auto(GStrv) env = g_get_environ();
  env = g_environ_setenv(env, "VSB_TEST_CRASH_AT", point, TRUE);
  return vsb_test_spawn(argv, (const char *const *)env, NULL, NULL);
}

static gboolean
committed_at(const char *point)
{
  gboolean after = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS(fresh_points); i++) {
    if (strcmp(fresh_points[i], FIRST_COMMITTED) == 0)
      after = TRUE;
    if (strcmp(fresh_points[i], point) == 0)
      return after;
  }
  vsb_test_fail("unknown point %s", point);
}

static void
test_crash_new(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *tpl = file_sha256(TEMPLATE);
  for (gsize i = 0; i < G_N_ELEMENTS(fresh_points); i++) {
    const char *point = fresh_points[i];
    g_autofree char *dir = state_dir(top, point);
    int rc = provision_killed_at(dir, point, TRUE, FALSE);
    if (rc != 128 + 9)
      vsb_test_fail("provision with VSB_TEST_CRASH_AT=%s exited %d, not killed", point, rc);
    gboolean committed = committed_at(point);
    /* Until recovery, readers see no VM (before the commit point) or refuse it. */
    g_autofree char *err = NULL;
    g_assert_cmpint(vsb_test_run(NULL, &err, "qemu-args", "vm", "--state-dir", dir,
                                 "--qemu-version", "7.2", NULL), ==, 2);
    assert_contains(err, committed ? "unfinished provisioning" : "is not provisioned");
    /* The next provisioning recovers: the new VM (committed), or none and it makes one. */
    g_clear_pointer(&err, g_free);
    g_autofree char *out = NULL;
    rc = provision(&out, &err, dir, "vm", TRUE, FALSE);
    if (committed) {
      if (rc != 2)
        vsb_test_fail("after a kill at %s: provision exited %d:\n%s%s", point, rc, out, err);
      assert_contains(err, "is already provisioned");
    } else if (rc != 0) {
      vsb_test_fail("after a kill at %s: provision exited %d:\n%s", point, rc, err);
    }
    assert_listing(dir, "vm.json vm.tpm vm_VARS.fd");
    g_autofree char *vars = g_build_filename(dir, "vm_VARS.fd", NULL);
    g_autofree char *sum = file_sha256(vars);
    g_assert_cmpstr(sum, ==, tpl);
    g_autofree char *permall = g_build_filename(dir, "vm.tpm", "tpm2-00.permall", NULL);
    g_assert_true(g_file_test(permall, G_FILE_TEST_IS_REGULAR));
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(NULL, &err, "qemu-args", "vm", "--state-dir", dir,
                                 "--qemu-version", "7.2", NULL), ==, 0);
  }
}

static void
test_crash_reset(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *tpl = file_sha256(TEMPLATE);
  /* The old pair: a varstore the VM changed, and its state file. */
  g_autofree char *seed = state_dir(top, "seed");
  g_assert_cmpint(provision(NULL, NULL, seed, "vm", FALSE, FALSE), ==, 0);
  g_autofree char *seed_vars = g_build_filename(seed, "vm_VARS.fd", NULL);
  g_autofree char *seed_json = g_build_filename(seed, "vm.json", NULL);
  g_autofree char *old_vars = NULL;
  gsize old_len = 0;
  g_assert_true(g_file_get_contents(seed_vars, &old_vars, &old_len, NULL));
  old_vars[old_len - 1] = 0x42;
  g_autofree char *old_json = read_text(seed_json);
  g_autofree char *old_sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                                         (const guchar *)old_vars, old_len);
  for (gsize i = 0; i < G_N_ELEMENTS(fresh_points); i++) {
    const char *point = fresh_points[i];
    if (strstr(point, "tpm"))
      continue; /* a reset without --tpm makes no TPM */
    g_autofree char *dir = state_dir(top, point);
    g_autofree char *vars = g_build_filename(dir, "vm_VARS.fd", NULL);
    g_autofree char *json = g_build_filename(dir, "vm.json", NULL);
    g_autofree char *dir_old_json = NULL;
    {
      g_autoptr(GString) s = g_string_new(old_json);
      g_string_replace(s, seed, dir, 0);
      dir_old_json = g_string_free(g_steal_pointer(&s), FALSE);
    }
    vsb_test_write_file(vars, old_vars, (gssize)old_len);
    g_assert_cmpint(g_chmod(vars, 0600), ==, 0);
    vsb_test_write_file(json, dir_old_json, -1);
    int rc = provision_killed_at(dir, point, FALSE, TRUE);
    if (rc != 128 + 9)
      vsb_test_fail("provision --reset with VSB_TEST_CRASH_AT=%s exited %d, not killed", point,
                    rc);
    /* Recovery by the next provisioning; the VM exists either way. */
    g_autofree char *err = NULL;
    rc = provision(NULL, &err, dir, "vm", FALSE, FALSE);
    if (rc != 2)
      vsb_test_fail("after a kill at %s: provision exited %d:\n%s", point, rc, err);
    assert_contains(err, "is already provisioned");
    assert_listing(dir, "vm.json vm_VARS.fd");
    g_autofree char *sum = file_sha256(vars);
    g_autofree char *now_json = read_text(json);
    gboolean old_state = strcmp(now_json, dir_old_json) == 0;
    gboolean old_store = strcmp(sum, old_sum) == 0;
    if (old_state != old_store || (!old_store && strcmp(sum, tpl) != 0))
      vsb_test_fail("after a kill at %s the state file (%s) and varstore (%s) disagree", point,
                    old_state ? "old" : "new", old_store ? "old" : "new");
    if (old_state == committed_at(point))
      vsb_test_fail("after a kill at %s the VM is %s", point, old_state ? "old" : "new");
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(NULL, &err, "qemu-args", "vm", "--state-dir", dir,
                                 "--qemu-version", "7.2", NULL), ==, 0);
  }
}

/* Recovery removes only what is plainly its own: a torn commit record means nothing was
 * committed (the temporary files go, the next VM is made), while a file of another user at a
 * temporary name is refused and left alone. */
static void
test_recovery_limits(void)
{
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *dir = state_dir(top, "torn");
  g_autofree char *rec = g_build_filename(dir, ".vm.vsb-commit", NULL);
  g_autofree char *tmp_vars = g_build_filename(dir, ".vm_VARS.fd.vsb-new", NULL);
  g_autofree char *tmp_json = g_build_filename(dir, ".vm.json.vsb-new", NULL);
  vsb_test_write_file(rec, "vsboot-commit 1\nreset 0\nvarstore vm_VARS.fd\n", -1);
  vsb_test_write_file(tmp_vars, "half a varstore", -1);
  vsb_test_write_file(tmp_json, "{ \"half\": ", -1);
  g_autofree char *out = NULL, *err = NULL;
  int rc = provision(&out, &err, dir, "vm", TRUE, FALSE);
  if (rc != 0)
    vsb_test_fail("provision over a torn commit record exited %d:\n%s", rc, err);
  assert_contains(out, "recovery: removed what an interrupted provisioning of VM 'vm' left (2 "
                       "temporary files)");
  assert_listing(dir, "vm.json vm.tpm vm_VARS.fd");

  /* A commit record naming a file of another VM is no commit record. */
  g_autofree char *dir2 = state_dir(top, "foreign-record");
  g_autofree char *rec2 = g_build_filename(dir2, ".vm.vsb-commit", NULL);
  g_autofree char *other = g_build_filename(dir2, "other_VARS.fd", NULL);
  vsb_test_write_file(other, "other's\n", -1);
  vsb_test_write_file(rec2, "vsboot-commit 1\nreset 1\nremove other_VARS.fd\nend\n", -1);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(provision(NULL, &err, dir2, "vm", FALSE, FALSE), ==, 0);
  g_autofree char *o = read_text(other);
  g_assert_cmpstr(o, ==, "other's\n");
  assert_listing(dir2, "other_VARS.fd vm.json vm_VARS.fd");

  /* Another user's file at a temporary name: refused, kept. */
  g_autofree char *dir3 = state_dir(top, "foreign-temp");
  g_autofree char *tmp3 = g_build_filename(dir3, ".vm.json.vsb-new", NULL);
  vsb_test_write_file(tmp3, "not vsboot's\n", -1);
  g_assert_cmpint(chown(tmp3, 65534, 65534), ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(provision(NULL, &err, dir3, "vm", FALSE, FALSE), ==, 2);
  assert_contains(err, tmp3);
  assert_contains(err, "of uid 65534");
  assert_listing(dir3, ".vm.json.vsb-new");
  g_autofree char *t = read_text(tmp3);
  g_assert_cmpstr(t, ==, "not vsboot's\n");
}

/* A reset that changes the varstore's format removes the old file of the other name, as part
 * of the commit: killed just before that removal, recovery still removes it. */
static void
write_split_descriptor(const char *fw, const char *code, const char *vars, const char *format)
{
  g_autofree char *text = g_strdup_printf(
    "{ \"description\": \"test\", \"interface-types\": [\"uefi\"],\n"
    "  \"mapping\": { \"device\": \"flash\", \"executable\": { \"filename\": \"%s\", "
    "\"format\": \"%s\" }, \"nvram-template\": { \"filename\": \"%s\", \"format\": \"%s\" } },\n"
    "  \"targets\": [ { \"architecture\": \"x86_64\", \"machines\": [\"pc-q35-*\"] } ],\n"
    "  \"features\": [\"enrolled-keys\", \"requires-smm\", \"secure-boot\"], \"tags\": [] }\n",
    code, format, vars, format);
  g_autofree char *path = g_build_filename(fw, "10-test.json", NULL);
  vsb_test_write_file(path, text, -1);
}

static void
test_reset_format_change(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *top = vsb_test_tmpdir();
  g_autofree char *fw = state_dir(top, "fw");
  g_autofree char *qcode = g_build_filename(top, "CODE.qcow2", NULL);
  g_autofree char *qvars = g_build_filename(top, "VARS.qcow2", NULL);
  const char *c1[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                       OVMF "OVMF_CODE_4M.secboot.fd", qcode, NULL };
  const char *c2[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", TEMPLATE, qvars, NULL };
  g_assert_cmpint(vsb_test_spawn(c1, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint(vsb_test_spawn(c2, NULL, NULL, NULL), ==, 0);
  for (int killed = 0; killed < 2; killed++) {
    g_autofree char *dir = state_dir(top, killed ? "killed" : "plain");
    write_split_descriptor(fw, qcode, qvars, "qcow2");
    const char *args[] = { vsb_test_vsboot(), "provision", "vm", "--state-dir", dir,
                           "--machine", "pc-q35-7.2", "--firmware-dir", fw, "--microsoft",
                           "none", NULL, NULL };
    /* Slot 11 is the reset flag below; --microsoft none: a plain copy of the template. */
    g_assert_cmpint(vsb_test_spawn(args, NULL, NULL, NULL), ==, 0);
    assert_listing(dir, "vm.json vm_VARS.qcow2");
    write_split_descriptor(fw, OVMF "OVMF_CODE_4M.secboot.fd", TEMPLATE, "raw");
    args[11] = "--reset";
    g_auto(GStrv) env = g_get_environ();
    if (killed)
      env = g_environ_setenv(env, "VSB_TEST_CRASH_AT", "vm-state-moved", TRUE);
    g_autofree char *err = NULL;
    int rc = vsb_test_spawn(args, (const char *const *)env, NULL, &err);
    if (rc != (killed ? 128 + 9 : 0))
      vsb_test_fail("reset to a raw varstore exited %d:\n%s", rc, err);
    if (killed) {
      g_clear_pointer(&err, g_free);
      args[11] = NULL;
      g_assert_cmpint(vsb_test_spawn(args, NULL, NULL, &err), ==, 2);
      assert_contains(err, "is already provisioned");
    }
    assert_listing(dir, "vm.json vm_VARS.fd");
    g_autofree char *out = NULL;
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(&out, &err, "qemu-args", "vm", "--state-dir", dir,
                                 "--qemu-version", "7.2", NULL), ==, 0);
    g_autofree char *vars = g_build_filename(dir, "vm_VARS.fd", NULL);
    assert_contains(out, vars);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("swtpm_setup");
  vsb_test_require_tool("sleep");
  vsb_test_require_tool("sh");
  if (getuid() != 0)
    vsb_test_fail("test-vm-hostile runs as root (chown to another user, the issue's setting)");
  g_test_add_func("/vm/hostile/symlinks-new", test_symlinks_new);
  g_test_add_func("/vm/hostile/symlinks-reset", test_symlinks_reset);
  g_test_add_func("/vm/hostile/tpm-not-ours", test_tpm_not_ours);
  g_test_add_func("/vm/hostile/concurrent-2", test_concurrent_2);
  g_test_add_func("/vm/hostile/concurrent-20", test_concurrent_20);
  g_test_add_func("/vm/hostile/reset-in-use", test_reset_in_use);
  g_test_add_func("/vm/hostile/tampered-names-other-vm", test_tampered_names_other_vm);
  g_test_add_func("/vm/hostile/secret-state-file", test_secret_state_file);
  g_test_add_func("/vm/hostile/state-dir-modes", test_state_dir_modes);
  g_test_add_func("/vm/hostile/run-links", test_run_links);
  g_test_add_func("/vm/hostile/crash-new", test_crash_new);
  g_test_add_func("/vm/hostile/crash-reset", test_crash_reset);
  g_test_add_func("/vm/hostile/reset-format-change", test_reset_format_change);
  g_test_add_func("/vm/hostile/recovery-limits", test_recovery_limits);
  return g_test_run();
}

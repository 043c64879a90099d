/* The rollover from the command line: `vsboot vars enroll --microsoft SET` on Debian's real
 * Microsoft-keys store adds the 2023 CAs, leaves every other variable as it was, changes nothing
 * when run again, writes nothing for bad input, and gives the same variables as virt-firmware
 * 24.2 (Debian's python3-virt-firmware, unpacked privately by dev.sh into VSB_DEBS_ROOT) doing
 * the same with --add-kek/--add-db. */
#include "testutil.h"

#include <string.h>

#define VARS_MS "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
#define MS_OWNER "77fa9abd-0359-4d32-bd60-28f4e78f784b"

static GBytes *
read_all(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, NULL))
    vsb_test_fail("cannot read %s", path);
  return g_bytes_new_take(g_steal_pointer(&data), len);
}

/* name:guid -> the variable's JSON object, from `vsboot vars export --json`. */
static JsonNode *
export_json(const char *store)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "vars", "export", store, "--json", NULL);
  if (rc != 0)
    vsb_test_fail("vars export %s: exit %d: %s", store, rc, err);
  return vsb_test_parse_json(out);
}

static JsonObject *
find_var(JsonNode *export, const char *name)
{
  JsonArray *vars = json_object_get_array_member(json_node_get_object(export), "variables");
  for (guint i = 0; i < json_array_get_length(vars); i++) {
    JsonObject *v = json_array_get_object_element(vars, i);
    if (g_strcmp0(json_object_get_string_member(v, "name"), name) == 0)
      return v;
  }
  return NULL;
}

/* Every variable of a is in b with the same members, except those named in skip. */
static void
assert_same_variables(JsonNode *a, JsonNode *b, const char *const *skip)
{
  JsonArray *va = json_object_get_array_member(json_node_get_object(a), "variables");
  JsonArray *vb = json_object_get_array_member(json_node_get_object(b), "variables");
  g_assert_cmpuint(json_array_get_length(va), ==, json_array_get_length(vb));
  for (guint i = 0; i < json_array_get_length(va); i++) {
    JsonObject *x = json_array_get_object_element(va, i);
    const char *name = json_object_get_string_member(x, "name");
    if (skip && g_strv_contains(skip, name))
      continue;
    JsonObject *y = find_var(b, name);
    if (y == NULL)
      vsb_test_fail("variable %s is missing", name);
    JsonNode *nx = json_node_init_object(json_node_alloc(), x);
    JsonNode *ny = json_node_init_object(json_node_alloc(), y);
    if (!json_node_equal(nx, ny))
      vsb_test_fail("variable %s differs", name);
    json_node_unref(nx);
    json_node_unref(ny);
  }
}

static void
test_microsoft_2023(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *in = vsb_test_copy_file(VARS_MS, dir, "in.fd", 0640);
  g_autofree char *once = g_build_filename(dir, "once.fd", NULL);
  g_autofree char *twice = g_build_filename(dir, "twice.fd", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, &err, "vars", "enroll", in, "-o", once, "--microsoft",
                               "2023", NULL), ==, 0);
  g_assert_nonnull(strstr(err, "PCR 7"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(&out, &err, "vars", "enroll", once, "-o", twice, "--microsoft",
                               "2023", "--microsoft", "kek-2023", NULL), ==, 0);
  g_assert_null(strstr(err, "PCR 7")); /* nothing changed */
  g_autoptr(GBytes) b1 = read_all(once), b2 = read_all(twice);
  if (!g_bytes_equal(b1, b2))
    vsb_test_fail("--microsoft 2023 twice gives other bytes than once");
  /* KEK and db gained the 2023 CAs; every other variable is as it was. */
  g_autoptr(JsonNode) before = export_json(in), after = export_json(once);
  const char *const kek_db[] = { "KEK", "db", NULL };
  assert_same_variables(before, after, kek_db);
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "vars", "show", once, "--json", NULL), ==, 0);
  g_autoptr(JsonNode) show = vsb_test_parse_json(out);
  JsonObject *ms = json_object_get_object_member(
    json_object_get_object_member(json_node_get_object(show), "secure-boot"), "microsoft");
  const char *const ids[] = { "kek-2011", "kek-2023", "windows-2011", "windows-2023", "uefi-2011",
                              "uefi-2023", "option-rom-2023" };
  for (gsize i = 0; i < G_N_ELEMENTS(ids); i++)
    g_assert_cmpstr(json_object_get_string_member(ms, ids[i]), ==, "enrolled");
}

static void
test_microsoft_bad_input(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *in = vsb_test_copy_file(VARS_MS, dir, "in.fd", 0600);
  g_autofree char *outf = g_build_filename(dir, "out.fd", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "enroll", in, "-o", outf, "--microsoft",
                               "2024", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "'2024'"));
  g_assert_nonnull(strstr(err, "uefi-2023"));
  g_assert_false(g_file_test(outf, G_FILE_TEST_EXISTS));
  /* A shipped certificate that is not Microsoft's file is refused, naming it. */
  g_autofree char *data = g_build_filename(dir, "data", "microsoft", NULL);
  g_assert_cmpint(g_mkdir_with_parents(data, 0755), ==, 0);
  g_autofree char *src_dir = g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "data", "microsoft",
                                              NULL);
  g_autoptr(GDir) d = g_dir_open(src_dir, 0, NULL);
  for (const char *n; (n = g_dir_read_name(d)) != NULL;) {
    g_autofree char *from = g_build_filename(src_dir, n, NULL);
    g_free(vsb_test_copy_file(from, data, n, 0644));
  }
  g_autofree char *bad = g_build_filename(data, "microsoft-uefi-ca-2023.der", NULL);
  g_autoptr(GBytes) der = read_all(bad);
  g_autofree guint8 *flipped = g_memdup2(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
  flipped[100] ^= 1;
  vsb_test_write_file(bad, flipped, (gssize)g_bytes_get_size(der));
  g_autofree char *top = g_build_filename(dir, "data", NULL);
  g_autofree char *env = g_strdup_printf("VSB_DATA_DIR=%s", top);
  g_autofree char *vsboot = g_strdup(vsb_test_vsboot());
  const char *argv[] = { vsboot, "vars", "enroll", in, "-o", outf, "--microsoft", "2023", NULL };
  const char *envp[] = { env, NULL };
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_spawn(argv, envp, NULL, &err), ==, 2);
  g_assert_nonnull(strstr(err, "microsoft-uefi-ca-2023.der"));
  g_assert_false(g_file_test(outf, G_FILE_TEST_EXISTS));
}

/* virt-fw-vars --add-kek/--add-db with the same certificates and owner: the same variables. */
static void
test_microsoft_virt_firmware(void)
{
  const char *debs = g_getenv("VSB_DEBS_ROOT");
  g_autofree char *root = debs ? g_build_filename(debs, "bookworm-backports", "root", NULL) : NULL;
  g_autofree char *vfw = root ? g_build_filename(root, "usr", "bin", "virt-fw-vars", NULL) : NULL;
  if (vfw == NULL || !g_file_test(vfw, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("virt-fw-vars 24.2 is not unpacked under VSB_DEBS_ROOT (%s); dev.sh fetches "
                  "it with scripts/fetch-debs.sh", debs ? debs : "unset");
  g_autofree char *pythonpath = g_build_filename(root, "usr", "lib", "python3", "dist-packages",
                                                 NULL);
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *theirs = g_build_filename(dir, "vfw.fd", NULL);
  g_autofree char *ours = g_build_filename(dir, "vsboot.fd", NULL);
  g_autofree char *certs = g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "data", "microsoft",
                                            NULL);
  g_autofree char *kek = g_build_filename(certs, "microsoft-corporation-kek-2k-ca-2023.der", NULL);
  g_autofree char *win = g_build_filename(certs, "windows-uefi-ca-2023.der", NULL);
  g_autofree char *uefi = g_build_filename(certs, "microsoft-uefi-ca-2023.der", NULL);
  g_autofree char *orom = g_build_filename(certs, "microsoft-option-rom-uefi-ca-2023.der", NULL);
  const char *argv[] = { "/usr/bin/python3", vfw, "-i", VARS_MS, "-o", theirs,
                         "--add-kek", MS_OWNER, kek, "--add-db", MS_OWNER, win,
                         "--add-db", MS_OWNER, uefi, "--add-db", MS_OWNER, orom, NULL };
  g_autofree char *env = g_strdup_printf("PYTHONPATH=%s", pythonpath);
  const char *envp[] = { env, NULL };
  g_autofree char *err = NULL;
  if (vsb_test_spawn(argv, envp, NULL, &err) != 0)
    vsb_test_fail("virt-fw-vars failed: %s", err);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "enroll", VARS_MS, "-o", ours, "--microsoft",
                               "2023", NULL), ==, 0);
  g_autoptr(JsonNode) a = export_json(theirs), b = export_json(ours);
  assert_same_variables(a, b, NULL);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_autofree char *data = g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "data", NULL);
  g_setenv("VSB_DATA_DIR", data, TRUE);
  g_test_add_func("/rollover/microsoft-2023", test_microsoft_2023);
  g_test_add_func("/rollover/microsoft-bad-input", test_microsoft_bad_input);
  g_test_add_func("/rollover/microsoft-virt-firmware", test_microsoft_virt_firmware);
  return g_test_run();
}

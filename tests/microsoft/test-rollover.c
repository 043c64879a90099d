/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

  /* --set-dbx stores a signed update's lists with its time stamp. The firmware (and vsboot)
   * append to an existing dbx, so the two agree where there is none to append to. */
  g_autofree char *dbxupd = g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "..", "shared", "data",
                                             "microsoft", "updates", "DBXUpdate.amd64.bin", NULL);
  g_autofree char *theirs_dbx = g_build_filename(dir, "vfw-dbx.fd", NULL);
  g_autofree char *ours_dbx = g_build_filename(dir, "vsboot-dbx.fd", NULL);
  const char *set_dbx[] = { "/usr/bin/python3", vfw, "-i", VARS_MS, "-o", theirs_dbx, "-d", "dbx",
                            "--set-dbx", dbxupd, NULL };
  g_clear_pointer(&err, g_free);
  if (vsb_test_spawn(set_dbx, envp, NULL, &err) != 0)
    vsb_test_fail("virt-fw-vars --set-dbx failed: %s", err);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "enroll", VARS_MS, "-o", ours_dbx, "--delete",
                               "dbx", "--dbx-update", dbxupd, NULL), ==, 0);
  g_autoptr(JsonNode) c = export_json(theirs_dbx), d = export_json(ours_dbx);
  assert_same_variables(c, d, NULL);
}

/* Microsoft's signed objects, from the shared data beside the checkout (VSB_MS_DATA overrides). */
static char *
ms_object(const char *name)
{
  const char *env = g_getenv("VSB_MS_DATA");
  g_autofree char *root = env ? g_strdup(env)
                              : g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "..", "shared",
                                                 "data", "microsoft", NULL);
  char *p = g_build_filename(root, name, NULL);
  if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("Microsoft's %s is not at %s", name, p);
  return p;
}

/* vars enroll with args; the exit status, and stderr in *err. */
static int
enroll(char **err, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  g_ptr_array_add(args, (char *)"vars");
  g_ptr_array_add(args, (char *)"enroll");
  va_list ap;
  va_start(ap, err);
  for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
    g_ptr_array_add(args, (char *)a);
  va_end(ap);
  g_ptr_array_add(args, NULL);
  return vsb_test_runv((const char *const *)args->pdata, NULL, err);
}

static guint
dbx_entries(const char *store)
{
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "vars", "show", store, "--json", NULL), ==, 0);
  g_autoptr(JsonNode) n = vsb_test_parse_json(out);
  JsonObject *sb = json_object_get_object_member(json_node_get_object(n), "secure-boot");
  return (guint)json_object_get_int_member(json_object_get_object_member(sb, "entries"), "dbx");
}

/* The real objects on Debian's Microsoft store: verified through KEK CA 2011 and appended; a
 * flipped byte in the signature or the payload, the owner's-keys store and a truncated file are
 * refused with nothing written. */
static void
test_signed_updates(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *db3p = ms_object("updates/DBUpdate3P2023.bin");
  g_autofree char *dbx = ms_object("updates/DBXUpdate.amd64.bin");
  g_autofree char *out = g_build_filename(dir, "out.fd", NULL);
  g_autofree char *err = NULL;
  int rc = enroll(&err, VARS_MS, "-o", out, "--db-update", db3p, "--dbx-update", dbx, NULL);
  if (rc != 0)
    vsb_test_fail("the real updates on the Microsoft store: exit %d: %s", rc, err);
  g_assert_cmpuint(dbx_entries(out), >=, 443);
  g_autoptr(GBytes) upd = read_all(dbx);
  gsize len = g_bytes_get_size(upd);
  /* Byte 100 lies in the PKCS#7 signature, the last byte in the payload's last hash. */
  const gsize flips[] = { 100, len - 1 };
  for (gsize i = 0; i < G_N_ELEMENTS(flips); i++) {
    g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(upd, NULL), len);
    bad[flips[i]] ^= 0x01;
    g_autofree char *badf = g_build_filename(dir, "bad.bin", NULL);
    g_autofree char *never = g_build_filename(dir, "never.fd", NULL);
    vsb_test_write_file(badf, bad, (gssize)len);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(enroll(&err, VARS_MS, "-o", never, "--dbx-update", badf, NULL), ==, 1);
    g_assert_nonnull(strstr(err, "does not verify"));
    g_assert_false(g_file_test(never, G_FILE_TEST_EXISTS));
  }
  g_autofree char *never = g_build_filename(dir, "never.fd", NULL);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(enroll(&err, "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd", "-o", never,
                         "--db-update", db3p, NULL), ==, 1);
  g_assert_nonnull(strstr(err, "not trusted"));
  g_assert_false(g_file_test(never, G_FILE_TEST_EXISTS));
  g_autofree char *empty = g_build_filename(dir, "empty.bin", NULL);
  vsb_test_write_file(empty, "", 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(enroll(&err, VARS_MS, "-o", never, "--db-update", empty, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "empty.bin"));
  g_assert_false(g_file_test(never, G_FILE_TEST_EXISTS));
}

/* KEKUpdate_RedHat_PK1.bin is signed by Red Hat's PK key: accepted by a store whose PK is that
 * certificate, refused by Debian's. */
static void
test_kek_update(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *kekupd = ms_object("updates/KEKUpdate_RedHat_PK1.bin");
  g_autofree char *rh = ms_object("certs/redhat-secure-boot-pk-kek-key-1.pem");
  g_autofree char *rhstore = g_build_filename(dir, "rh.fd", NULL);
  g_autofree char *out = g_build_filename(dir, "out.fd", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(enroll(&err, "/usr/share/OVMF/OVMF_VARS_4M.fd", "-o", rhstore, "--pk", rh,
                         "--kek", rh, "--secure-boot", "on", NULL), ==, 0);
  g_clear_pointer(&err, g_free);
  int rc = enroll(&err, rhstore, "-o", out, "--kek-update", kekupd, NULL);
  if (rc != 0)
    vsb_test_fail("Red Hat's KEK update on a Red Hat PK store: exit %d: %s", rc, err);
  g_autofree char *show = NULL;
  g_assert_cmpint(vsb_test_run(&show, NULL, "vars", "show", out, "--json", NULL), ==, 0);
  g_assert_nonnull(strstr(show, "\"kek-2023\" : \"enrolled\""));
  g_autofree char *never = g_build_filename(dir, "never.fd", NULL);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(enroll(&err, VARS_MS, "-o", never, "--kek-update", kekupd, NULL), ==, 1);
  g_assert_false(g_file_test(never, G_FILE_TEST_EXISTS));
}

/* Microsoft's own warning: DBXUpdate2024.bin (revoking Windows Production PCA 2011) only after
 * DBUpdate2024.bin (Windows UEFI CA 2023). */
static void
test_pca2011_rule(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *dbx2024 = ms_object("updates/optional/DBXUpdate2024.bin");
  g_autofree char *db2024 = ms_object("updates/DBUpdate2024.bin");
  g_autofree char *never = g_build_filename(dir, "never.fd", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(enroll(&err, VARS_MS, "-o", never, "--dbx-update", dbx2024, NULL), ==, 1);
  g_assert_nonnull(strstr(err, "Windows UEFI CA 2023"));
  g_assert_false(g_file_test(never, G_FILE_TEST_EXISTS));
  g_autofree char *after = g_build_filename(dir, "after.fd", NULL);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(enroll(&err, VARS_MS, "-o", after, "--db-update", db2024, "--dbx-update",
                         dbx2024, NULL), ==, 0);
  g_autofree char *show = NULL;
  g_assert_cmpint(vsb_test_run(&show, NULL, "vars", "show", after, "--json", NULL), ==, 0);
  g_assert_nonnull(strstr(show, "\"windows-2011\" : \"revoked\""));
  g_autofree char *forced = g_build_filename(dir, "forced.fd", NULL);
  g_assert_cmpint(enroll(NULL, VARS_MS, "-o", forced, "--dbx-update", dbx2024, "--force", NULL),
                  ==, 0);
}

/* --check-boot: revoking the image the VM boots is refused, naming it and the entry. */
static void
test_check_boot(void)
{
  const char *shim = "/usr/lib/shim/shimx64.efi.signed";
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *hash_json = NULL;
  g_assert_cmpint(vsb_test_run(&hash_json, NULL, "pe", "hash", shim, "--json", NULL), ==, 0);
  g_autoptr(JsonNode) h = vsb_test_parse_json(hash_json);
  const char *sha = json_object_get_string_member(json_node_get_object(h), "hash");
  g_assert_nonnull(sha);
  g_autofree char *never = g_build_filename(dir, "never.fd", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(enroll(&err, VARS_MS, "-o", never, "--dbx-hash", sha, "--check-boot", shim,
                         NULL), ==, 1);
  g_assert_nonnull(strstr(err, "shimx64.efi.signed"));
  g_assert_nonnull(strstr(err, "dbx"));
  g_assert_false(g_file_test(never, G_FILE_TEST_EXISTS));
  /* A change that keeps it bootable passes, and the report says so. */
  g_autofree char *ok = g_build_filename(dir, "ok.fd", NULL);
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "vars", "enroll", VARS_MS, "-o", ok, "--microsoft",
                               "2023", "--check-boot", shim, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "allowed before, allowed after"));
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
  g_test_add_func("/rollover/signed-updates", test_signed_updates);
  g_test_add_func("/rollover/kek-update", test_kek_update);
  g_test_add_func("/rollover/pca2011-rule", test_pca2011_rule);
  g_test_add_func("/rollover/check-boot", test_check_boot);
  return g_test_run();
}

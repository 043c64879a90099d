/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot provision / qemu-args / libvirt-xml / run --dry-run through the CLI, on the host's
 * Debian firmware and on descriptor trees made here: what is written (and with which mode and
 * bytes), what is refused, and that a refusal leaves the state directory as it was. */
#include "testutil.h"

#include "vsboot/efivar.h"
#include "vsboot/mscerts.h"
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "vsboot/varstore.h"
#include "vsboot/vm-run.h"
#include "vsboot/error.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OVMF "/usr/share/OVMF/"
#define AAVMF "/usr/share/AAVMF/"
#define DEBIAN_FW "/usr/share/qemu/firmware/"

static char *
file_sha256(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_file_get_contents(path, &data, &len, &error);
  g_assert_no_error(error);
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The directory's entries, sorted, space-separated ("" when empty). */
static char *
listing(const char *dir)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while ((n = g_dir_read_name(d)))
    g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, cmp_names);
  g_ptr_array_add(names, NULL);
  return g_strjoinv(" ", (char **)names->pdata);
}

static JsonObject *
obj(JsonNode *n)
{
  return json_node_get_object(n);
}

static void
assert_contains(const char *text, const char *what)
{
  if (text == NULL || strstr(text, what) == NULL)
    vsb_test_fail("expected \"%s\" in:\n%s", what, text ? text : "(null)");
}

/* A descriptor file in dir. */
static void
write_descriptor(const char *dir, const char *name, const char *arch, const char *machine,
                 const char *mapping, const char *features)
{
  g_autofree char *text = g_strdup_printf(
    "{ \"description\": \"test %s\", \"interface-types\": [\"uefi\"],\n"
    "  \"mapping\": %s,\n"
    "  \"targets\": [ { \"architecture\": \"%s\", \"machines\": [\"%s\"] } ],\n"
    "  \"features\": [%s], \"tags\": [] }\n",
    name, mapping, arch, machine, features);
  g_autofree char *path = g_build_filename(dir, name, NULL);
  vsb_test_write_file(path, text, -1);
}

static char *
split_mapping(const char *code, const char *vars, const char *format)
{
  return g_strdup_printf("{ \"device\": \"flash\", \"executable\": { \"filename\": \"%s\", "
                         "\"format\": \"%s\" }, \"nvram-template\": { \"filename\": \"%s\", "
                         "\"format\": \"%s\" } }",
                         code, format, vars, format);
}

#define SB_SMM "\"requires-smm\", \"secure-boot\""
#define SB_SMM_KEYS "\"enrolled-keys\", \"requires-smm\", \"secure-boot\""

static void
test_basic(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "provision", "web", "--state-dir", dir, "--feature",
                        "secure-boot", "--enrolled-keys", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = obj(root);
  g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, "web");
  g_assert_cmpstr(json_object_get_string_member(o, "arch"), ==, "x86_64");
  g_assert_cmpstr(json_object_get_string_member(o, "machine"), ==, "q35");
  g_assert_true(g_str_has_prefix(json_object_get_string_member(o, "machine-resolved"), "pc-q35-"));
  g_assert_cmpstr(json_object_get_string_member(o, "keys"), ==, "template");
  g_assert_cmpstr(json_object_get_string_member(o, "secure-boot"), ==, "user");
  JsonObject *fw = json_object_get_object_member(o, "firmware");
  g_assert_cmpstr(json_object_get_string_member(fw, "descriptor"), ==,
                  DEBIAN_FW "40-edk2-x86_64-secure-enrolled.json");
  g_assert_cmpstr(json_object_get_string_member(fw, "mode"), ==, "split");
  JsonObject *exe = json_object_get_object_member(fw, "executable");
  JsonObject *tpl = json_object_get_object_member(fw, "nvram-template");
  g_assert_cmpstr(json_object_get_string_member(exe, "filename"), ==, OVMF "OVMF_CODE_4M.ms.fd");
  g_assert_cmpstr(json_object_get_string_member(tpl, "filename"), ==, OVMF "OVMF_VARS_4M.ms.fd");
  g_autofree char *code_sum = file_sha256(OVMF "OVMF_CODE_4M.ms.fd");
  g_autofree char *tpl_sum = file_sha256(OVMF "OVMF_VARS_4M.ms.fd");
  g_assert_cmpstr(json_object_get_string_member(exe, "sha256"), ==, code_sum);
  g_assert_cmpstr(json_object_get_string_member(tpl, "sha256"), ==, tpl_sum);

  g_autofree char *vars = g_build_filename(dir, "web_VARS.fd", NULL);
  JsonObject *vs = json_object_get_object_member(o, "varstore");
  g_assert_cmpstr(json_object_get_string_member(vs, "filename"), ==, vars);
  g_assert_cmpstr(json_object_get_string_member(vs, "format"), ==, "raw");
  /* The template's variables, and Microsoft's 2023 CAs added by default: the template trusts
   * Microsoft (KEK CA 2011), and new boot media are signed only by the 2023 CAs. */
  JsonArray *ms = json_object_get_array_member(o, "microsoft");
  g_assert_cmpuint(json_array_get_length(ms), ==, 4);
  g_assert_cmpstr(json_array_get_string_element(ms, 0), ==, "kek-2023");
  g_autofree char *show = NULL;
  g_assert_cmpint(vsb_test_run(&show, NULL, "vars", "show", vars, "--json", NULL), ==, 0);
  g_assert_nonnull(strstr(show, "\"uefi-2023\" : \"enrolled\""));
  g_assert_nonnull(strstr(show, "\"uefi-2011\" : \"enrolled\""));
  /* With --microsoft none the varstore is the template's bytes. */
  g_autofree char *copy_out = NULL;
  g_assert_cmpint(vsb_test_run(&copy_out, NULL, "provision", "plain", "--state-dir", dir,
                               "--feature", "secure-boot", "--enrolled-keys", "--microsoft",
                               "none", NULL), ==, 0);
  g_autofree char *plain = g_build_filename(dir, "plain_VARS.fd", NULL);
  g_autofree char *plain_sum = file_sha256(plain);
  g_assert_cmpstr(plain_sum, ==, tpl_sum);
  struct stat st;
  g_assert_cmpint(stat(vars, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  g_autofree char *ls = listing(dir);
  g_assert_cmpstr(ls, ==, "plain.json plain_VARS.fd web.json web_VARS.fd");

  /* The state file is what --json printed (minus the report-only members). */
  g_autofree char *state = g_build_filename(dir, "web.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(state, &text, NULL, NULL));
  g_autoptr(JsonNode) sroot = vsb_test_parse_json(text);
  g_assert_cmpstr(json_object_get_string_member(obj(sroot), "uuid"), ==,
                  json_object_get_string_member(o, "uuid"));
  g_assert_cmpint(json_object_get_int_member(obj(sroot), "version"), ==, 1);

  /* Text report. */
  g_autofree char *out2 = NULL;
  rc = vsb_test_run(&out2, NULL, "provision", "web2", "--state-dir", dir, "--enrolled-keys", NULL);
  g_assert_cmpint(rc, ==, 0);
  assert_contains(out2, "VM web2 (x86_64 q35, machine pc-q35-");
  assert_contains(out2, "firmware   " DEBIAN_FW "40-edk2-x86_64-secure-enrolled.json");
  assert_contains(out2, "secure boot user mode (enforcing)");
  assert_contains(out2, "- request: secure-boot on x86 also requires requires-smm");
}

static void
test_exists_and_reset(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *vars = g_build_filename(dir, "vm_VARS.fd", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "vm", "--state-dir", dir,
                               "--enrolled-keys", NULL), ==, 0);
  /* The VM's own changes to its varstore. */
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(vars, &data, &len, NULL));
  data[len - 1] = 0x42;
  vsb_test_write_file(vars, data, (gssize)len);
  g_autofree char *changed = file_sha256(vars);
  g_autofree char *json_before = NULL;
  g_autofree char *state = g_build_filename(dir, "vm.json", NULL);
  g_assert_true(g_file_get_contents(state, &json_before, NULL, NULL));

  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "provision", "vm", "--state-dir", dir, "--enrolled-keys",
                        NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "VM 'vm' is already provisioned");
  assert_contains(err, vars);
  assert_contains(err, "--reset");
  g_autofree char *after = file_sha256(vars);
  g_assert_cmpstr(after, ==, changed);
  /* --json says what exists as well. */
  g_autofree char *jout = NULL;
  rc = vsb_test_run(&jout, NULL, "provision", "vm", "--state-dir", dir, "--enrolled-keys",
                    "--json", NULL);
  g_assert_cmpint(rc, ==, 2);
  {
    g_autoptr(JsonNode) j = vsb_test_parse_json(jout);
    g_assert_true(json_object_get_boolean_member(obj(j), "exists"));
    g_assert_cmpstr(json_object_get_string_member(
                      json_object_get_object_member(obj(j), "varstore"), "filename"),
                    ==, vars);
  }
  g_autofree char *json_after = NULL;
  g_assert_true(g_file_get_contents(state, &json_after, NULL, NULL));
  g_assert_cmpstr(json_after, ==, json_before);

  /* --reset: a fresh copy of the template, no stray files. */
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(&out, &err, "provision", "vm", "--state-dir", dir, "--enrolled-keys",
                    "--microsoft", "none", "--reset", NULL);
  g_assert_cmpint(rc, ==, 0);
  assert_contains(out, "reset: VM 'vm' provisioned again");
  g_autofree char *reset = file_sha256(vars);
  g_autofree char *tpl = file_sha256(OVMF "OVMF_VARS_4M.ms.fd");
  g_assert_cmpstr(reset, ==, tpl);
  g_autofree char *ls = listing(dir);
  g_assert_cmpstr(ls, ==, "vm.json vm_VARS.fd");

  /* A varstore without a state file (interrupted or foreign) is not overwritten either. */
  g_autofree char *orphan = g_build_filename(dir, "orphan_VARS.fd", NULL);
  vsb_test_write_file(orphan, "mine", 4);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "orphan", "--state-dir", dir, "--enrolled-keys",
                    NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, orphan);
  assert_contains(err, "never overwritten");
  g_autofree char *o = NULL;
  g_assert_true(g_file_get_contents(orphan, &o, NULL, NULL));
  g_assert_cmpstr(o, ==, "mine");
  g_autofree char *ls2 = listing(dir);
  g_assert_cmpstr(ls2, ==, "orphan_VARS.fd vm.json vm_VARS.fd");
}

/* Several names in one run: each VM whole or absent, a failure does not stop the others. */
static void
test_batch(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "b", "--state-dir", dir,
                               "--enrolled-keys", NULL), ==, 0);
  g_autofree char *b_before = NULL;
  g_autofree char *b_state = g_build_filename(dir, "b.json", NULL);
  g_assert_true(g_file_get_contents(b_state, &b_before, NULL, NULL));

  /* Text: every VM made is reported; b, which exists, is an error and stays as it was. */
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "provision", "a", "b", "c", "--state-dir", dir,
                        "--enrolled-keys", "--microsoft", "none", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(out, "VM a (x86_64 q35");
  assert_contains(out, "VM c (x86_64 q35");
  g_assert_null(strstr(out, "VM b ("));
  assert_contains(err, "VM 'b' is already provisioned");
  assert_contains(err, "provision: 1 of 3 VMs failed");
  g_autofree char *ls = listing(dir);
  g_assert_cmpstr(ls, ==, "a.json a_VARS.fd b.json b_VARS.fd c.json c_VARS.fd");
  g_autofree char *b_after = NULL;
  g_assert_true(g_file_get_contents(b_state, &b_after, NULL, NULL));
  g_assert_cmpstr(b_after, ==, b_before);
  g_autofree char *tpl = file_sha256(OVMF "OVMF_VARS_4M.ms.fd");
  for (const char *const *n = (const char *const[]){ "a", "c", NULL }; *n; n++) {
    g_autofree char *name = g_strdup_printf("%s_VARS.fd", *n);
    g_autofree char *vars = g_build_filename(dir, name, NULL);
    g_autofree char *sum = file_sha256(vars);
    g_assert_cmpstr(sum, ==, tpl);
  }

  /* JSON: one report per name, in order; a failure carries its error. */
  g_autofree char *jout = NULL;
  rc = vsb_test_run(&jout, NULL, "provision", "d", "a", "e", "--state-dir", dir,
                    "--enrolled-keys", "--json", NULL);
  g_assert_cmpint(rc, ==, 2);
  g_autoptr(JsonNode) j = vsb_test_parse_json(jout);
  JsonArray *arr = json_node_get_array(j);
  g_assert_cmpuint(json_array_get_length(arr), ==, 3);
  JsonObject *d = json_array_get_object_element(arr, 0);
  JsonObject *a = json_array_get_object_element(arr, 1);
  JsonObject *e = json_array_get_object_element(arr, 2);
  g_assert_cmpstr(json_object_get_string_member(d, "name"), ==, "d");
  g_assert_false(json_object_has_member(d, "error"));
  g_assert_true(json_object_has_member(d, "state-file"));
  g_assert_cmpstr(json_object_get_string_member(a, "name"), ==, "a");
  g_assert_true(json_object_get_boolean_member(a, "exists"));
  assert_contains(json_object_get_string_member(a, "error"), "already provisioned");
  g_assert_cmpstr(json_object_get_string_member(e, "name"), ==, "e");
  g_assert_false(json_object_has_member(e, "error"));

  /* A bad or repeated name is refused before any VM is made. */
  g_autofree char *before = listing(dir);
  const char *bad[][8] = {
    { "provision", "f", "f", "--state-dir", dir, "--enrolled-keys", NULL },
    { "provision", "f", "g/h", "--state-dir", dir, "--enrolled-keys", NULL },
  };
  const char *want[] = { "VM name 'f' given twice", "invalid VM name \"g/h\"" };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_runv(bad[i], NULL, &err), ==, 2);
    assert_contains(err, want[i]);
    g_autofree char *now = listing(dir);
    g_assert_cmpstr(now, ==, before);
  }
  /* No name at all. */
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "provision", "--state-dir", dir, NULL), ==, 2);
  assert_contains(err, "expected a VM name");
}

static void
test_user_keys(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_autofree char *state = g_build_filename(dir, "state", NULL);
  g_assert_cmpint(g_mkdir(state, 0755), ==, 0);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "keys", "generate", keys, "--cn", "h7 test", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "provision", "k", "--state-dir", state, "--keys", keys,
                        "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = obj(root);
  g_assert_cmpstr(json_object_get_string_member(o, "keys"), ==, "user");
  g_assert_cmpstr(json_object_get_string_member(o, "keys-dir"), ==, keys);
  g_assert_cmpstr(json_object_get_string_member(o, "secure-boot"), ==, "user");
  /* A key-less Secure Boot template with SMM: Debian's 50-edk2-x86_64-secure. */
  g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(o, "firmware"),
                                                "descriptor"),
                  ==, DEBIAN_FW "50-edk2-x86_64-secure.json");

  g_autofree char *vars = g_build_filename(state, "k_VARS.fd", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(vars, &error);
  g_assert_no_error(error);
  g_autoptr(VsbSecureBootState) sb = vsb_secure_boot_state(store);
  g_assert_cmpint(sb->mode, ==, VSB_SB_MODE_USER);
  g_assert_cmpuint(sb->n_pk, ==, 1);
  g_assert_cmpuint(sb->n_kek, ==, 1);
  g_assert_cmpuint(sb->n_db, ==, 1);
  g_assert_cmpuint(sb->certificates->len, >=, 3);
  VsbSbCert *pk = sb->certificates->pdata[0];
  g_assert_cmpstr(pk->variable, ==, "PK");
  g_assert_cmpstr(pk->subject_cn, ==, "h7 test PK");
  VsbSbCert *db = sb->certificates->pdata[2];
  g_assert_cmpstr(db->variable, ==, "db");
  g_assert_cmpstr(db->subject_cn, ==, "h7 test db");
  struct stat st;
  g_assert_cmpint(stat(vars, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);

  /* A keys directory that is not one. */
  g_autofree char *empty = g_build_filename(dir, "empty", NULL);
  g_assert_cmpint(g_mkdir(empty, 0755), ==, 0);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "k2", "--state-dir", state, "--keys", empty, NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "PK.crt");
  g_autofree char *ls = listing(state);
  g_assert_cmpstr(ls, ==, "k.json k_VARS.fd");
}

static void
test_secure_defaults(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *err = NULL, *out = NULL;
  /* Secure Boot firmware whose template has no PK: refused. */
  int rc = vsb_test_run(NULL, &err, "provision", "s", "--state-dir", dir, "--feature",
                        "secure-boot", "--no-feature", "enrolled-keys", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, OVMF "OVMF_VARS_4M.fd has no PK (setup mode)");
  assert_contains(err, "--allow-setup-mode");
  g_autofree char *ls = listing(dir);
  g_assert_cmpstr(ls, ==, "");
  rc = vsb_test_run(&out, NULL, "provision", "s", "--state-dir", dir, "--feature",
                    "secure-boot", "--no-feature", "enrolled-keys", "--allow-setup-mode",
                    "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  g_assert_cmpstr(json_object_get_string_member(obj(root), "secure-boot"), ==, "setup");
  g_assert_cmpstr(json_object_get_string_member(obj(root), "keys"), ==, "none");

  /* Secure Boot without SMM on x86: refused before anything is looked up. */
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "t", "--state-dir", dir, "--feature",
                    "secure-boot", "--no-feature", "requires-smm", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "secure-boot without requires-smm is refused on x86");
  /* Contradictions. */
  const char *const contradictions[][8] = {
    { "--keys", "/nonexistent", "--enrolled-keys", NULL },
    { "--feature", "secure-boot", "--no-feature", "secure-boot", NULL },
    { "--feature", "no-such-feature", NULL },
    { "--arch", "vax", NULL },
  };
  const char *const reasons[] = { "exclude each other", "both wanted and refused",
                                  "unknown firmware feature 'no-such-feature'",
                                  "unknown architecture 'vax'" };
  for (gsize i = 0; i < G_N_ELEMENTS(contradictions); i++) {
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_ptr_array_add(args, (char *)"provision");
    g_ptr_array_add(args, (char *)"u");
    g_ptr_array_add(args, (char *)"--state-dir");
    g_ptr_array_add(args, dir);
    for (gsize j = 0; contradictions[i][j]; j++)
      g_ptr_array_add(args, (char *)contradictions[i][j]);
    g_ptr_array_add(args, NULL);
    g_autofree char *e = NULL;
    rc = vsb_test_runv((const char *const *)args->pdata, NULL, &e);
    g_assert_cmpint(rc, ==, 2);
    assert_contains(e, reasons[i]);
  }
  g_autofree char *ls2 = listing(dir);
  g_assert_cmpstr(ls2, ==, "s.json s_VARS.fd");
}

static void
test_bad_names(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *sub = g_build_filename(dir, "sub", NULL);
  g_assert_cmpint(g_mkdir(sub, 0755), ==, 0);
  char long_name[80];
  memset(long_name, 'n', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  const char *names[] = { "a/b", "..", "../escape", ".hidden", "", long_name, "tab\there" };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *err = NULL;
    int rc = vsb_test_run(NULL, &err, "provision", names[i], "--state-dir", sub,
                          "--enrolled-keys", NULL);
    g_assert_cmpint(rc, ==, 2);
    assert_contains(err, "invalid VM name");
    g_autofree char *err2 = NULL;
    rc = vsb_test_run(NULL, &err2, "qemu-args", names[i], "--state-dir", sub, NULL);
    g_assert_cmpint(rc, ==, 2);
    assert_contains(err2, "invalid VM name");
  }
  g_autofree char *ls = listing(dir);
  g_assert_cmpstr(ls, ==, "sub");
  g_autofree char *ls2 = listing(sub);
  g_assert_cmpstr(ls2, ==, "");
}

static void
test_state_dir(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *missing = g_build_filename(dir, "missing", NULL);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "provision", "x", "--state-dir", missing,
                        "--enrolled-keys", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "state directory");
  assert_contains(err, "No such file or directory");
  g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));

  g_autofree char *file = g_build_filename(dir, "file", NULL);
  vsb_test_write_file(file, "x", 1);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "x", "--state-dir", file, "--enrolled-keys", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "is not a directory");

  /* Read-only: a tmpfs mounted read-only in a private mount namespace. */
  g_autofree char *ro = g_build_filename(dir, "ro", NULL);
  g_assert_cmpint(g_mkdir(ro, 0755), ==, 0);
  const char *argv[] = { "unshare", "-m", "--propagation", "private", "sh", "-c",
                         "mount -t tmpfs -o ro vsb-ro \"$1\" && shift && exec \"$@\"", "sh", ro,
                         vsb_test_vsboot(), "provision", "x", "--state-dir", ro,
                         "--enrolled-keys", NULL };
  g_autofree char *out = NULL;
  g_clear_pointer(&err, g_free);
  rc = vsb_test_spawn(argv, NULL, &out, &err);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "state directory");
  assert_contains(err, "is not writable: Read-only file system");
  g_autofree char *ls = listing(ro);
  g_assert_cmpstr(ls, ==, "");
}

static void
test_vanished_and_mismatched(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fw = g_build_filename(dir, "fw", NULL);
  g_autofree char *state = g_build_filename(dir, "state", NULL);
  g_assert_cmpint(g_mkdir(fw, 0755), ==, 0);
  g_assert_cmpint(g_mkdir(state, 0755), ==, 0);
  g_autofree char *gone_code = g_build_filename(dir, "gone", "OVMF_CODE_4M.secboot.fd", NULL);
  g_autofree char *gone_vars = g_build_filename(dir, "gone", "OVMF_VARS_4M.ms.fd", NULL);

  struct {
    const char *name;
    char *mapping;
    const char *arch;
    const char *machine;
    const char *features;
    const char *expect[3];
  } cases[] = {
    { "10-code-vanished.json", split_mapping(gone_code, OVMF "OVMF_VARS_4M.ms.fd", "raw"),
      "x86_64", "pc-q35-*", SB_SMM_KEYS,
      { "10-code-vanished.json names firmware that cannot be used", gone_code,
        "No such file or directory (libvirt would choose this descriptor as well; mask it with "
        "an empty /etc/qemu/firmware/10-code-vanished.json" } },
    { "10-vars-vanished.json", split_mapping(OVMF "OVMF_CODE_4M.secboot.fd", gone_vars, "raw"),
      "x86_64", "pc-q35-*", SB_SMM_KEYS,
      { "names a varstore template that cannot be used", gone_vars, NULL } },
    { "10-4m-code-2m-vars.json", split_mapping(OVMF "OVMF_CODE_4M.secboot.fd",
                                               OVMF "OVMF_VARS.ms.fd", "raw"),
      "x86_64", "pc-q35-*", SB_SMM_KEYS,
      { "is a 4 MiB OVMF build, whose varstore is 540672 bytes", OVMF "OVMF_VARS.ms.fd",
        "do not belong together" } },
    { "10-2m-code-4m-vars.json", split_mapping(OVMF "OVMF_CODE.secboot.fd",
                                               OVMF "OVMF_VARS_4M.ms.fd", "raw"),
      "x86_64", "pc-q35-*", SB_SMM_KEYS,
      { "is a 2 MiB OVMF build, whose varstore is 131072 bytes", NULL, NULL } },
    { "10-arm-padded-unpadded.json", split_mapping(AAVMF "AAVMF_CODE.fd", OVMF "OVMF_VARS.fd",
                                                   "raw"),
      "aarch64", "virt-*", "", { "a padded ArmVirt build has 64 MiB for both", NULL, NULL } },
    { "10-format-lie.json", split_mapping(OVMF "OVMF_CODE_4M.secboot.fd",
                                          OVMF "OVMF_VARS_4M.ms.fd", "qcow2"),
      "x86_64", "pc-q35-*", SB_SMM_KEYS,
      { "the descriptor says format qcow2 but the file is not qcow2", NULL, NULL } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    /* One descriptor at a time, so it is the one chosen. */
    const char *rm[] = { "sh", "-c", "rm -f \"$1\"/*", "sh", fw, NULL };
    g_assert_cmpint(vsb_test_spawn(rm, NULL, NULL, NULL), ==, 0);
    write_descriptor(fw, cases[i].name, cases[i].arch, cases[i].machine, cases[i].mapping,
                     cases[i].features);
    g_autofree char *err = NULL;
    int rc = vsb_test_run(NULL, &err, "provision", "v", "--state-dir", state, "--arch",
                          cases[i].arch, "--machine",
                          strcmp(cases[i].arch, "x86_64") == 0 ? "pc-q35-7.2" : "virt-7.2",
                          "--firmware-dir", fw, "--allow-setup-mode", NULL);
    g_assert_cmpint(rc, ==, 2);
    for (int j = 0; j < 3; j++)
      if (cases[i].expect[j])
        assert_contains(err, cases[i].expect[j]);
    g_autofree char *ls = listing(state);
    g_assert_cmpstr(ls, ==, "");
    g_free(cases[i].mapping);
  }

  /* No descriptor matches: every candidate is named with its reason. */
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "provision", "v", "--state-dir", state, "--arch", "riscv64",
                        "--machine", "virt-7.2", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "no firmware descriptor matches riscv64 virt-7.2:");
  assert_contains(err, "60-edk2-x86_64.json: ");
}

static void
test_shapes(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fw = g_build_filename(dir, "fw", NULL);
  g_autofree char *state = g_build_filename(dir, "state", NULL);
  g_assert_cmpint(g_mkdir(fw, 0755), ==, 0);
  g_assert_cmpint(g_mkdir(state, 0755), ==, 0);

  /* qcow2 code and templates, converted here. */
  g_autofree char *qcode = g_build_filename(dir, "CODE.qcow2", NULL);
  g_autofree char *qvars = g_build_filename(dir, "VARS.ms.qcow2", NULL);
  g_autofree char *qempty = g_build_filename(dir, "VARS.qcow2", NULL);
  const char *c1[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                       OVMF "OVMF_CODE_4M.secboot.fd", qcode, NULL };
  const char *c2[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                       OVMF "OVMF_VARS_4M.ms.fd", qvars, NULL };
  const char *c3[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                       OVMF "OVMF_VARS_4M.fd", qempty, NULL };
  g_assert_cmpint(vsb_test_spawn(c1, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint(vsb_test_spawn(c2, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint(vsb_test_spawn(c3, NULL, NULL, NULL), ==, 0);
  g_autofree char *m1 = split_mapping(qcode, qvars, "qcow2");
  write_descriptor(fw, "20-qcow2-enrolled.json", "x86_64", "pc-q35-*", m1,
                   "\"enrolled-keys\", \"requires-smm\", \"secure-boot\"");
  g_autofree char *m2 = split_mapping(qcode, qempty, "qcow2");
  write_descriptor(fw, "21-qcow2-sb.json", "x86_64", "pc-q35-*", m2, SB_SMM);
  write_descriptor(fw, "30-stateless.json", "x86_64", "pc-q35-*",
                   "{ \"device\": \"flash\", \"mode\": \"stateless\", \"executable\": { "
                   "\"filename\": \"" OVMF "OVMF_CODE_4M.fd\", \"format\": \"raw\" } }",
                   "\"amd-sev\"");
  write_descriptor(fw, "31-combined.json", "x86_64", "pc-q35-*",
                   "{ \"device\": \"flash\", \"mode\": \"combined\", \"executable\": { "
                   "\"filename\": \"" OVMF "OVMF_CODE_4M.fd\", \"format\": \"raw\" } }",
                   "\"acpi-s4\"");
  write_descriptor(fw, "32-memory.json", "x86_64", "pc-q35-*",
                   "{ \"device\": \"memory\", \"filename\": \"" OVMF "OVMF_CODE_4M.fd\" }",
                   "\"intel-tdx\"");

  g_autofree char *out = NULL;
  int rc = vsb_test_run(&out, NULL, "provision", "q", "--state-dir", state, "--machine",
                        "pc-q35-7.2", "--firmware-dir", fw, "--enrolled-keys", "--microsoft",
                        "none", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autofree char *qv = g_build_filename(state, "q_VARS.qcow2", NULL);
  {
    g_autoptr(JsonNode) root = vsb_test_parse_json(out);
    JsonObject *vs = json_object_get_object_member(obj(root), "varstore");
    g_assert_cmpstr(json_object_get_string_member(vs, "filename"), ==, qv);
    g_assert_cmpstr(json_object_get_string_member(vs, "format"), ==, "qcow2");
  }
  g_autofree char *qsum = file_sha256(qv), *tsum = file_sha256(qvars);
  g_assert_cmpstr(qsum, ==, tsum);
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "qemu-args", "q", "--state-dir", state, "--qemu-version", "7.2",
                    NULL);
  g_assert_cmpint(rc, ==, 0);
  assert_contains(out, "\"driver\":\"qcow2\",\"file\":\"vsboot-pflash1-storage\"");
  assert_contains(out, "pflash1=vsboot-pflash1-format");

  /* Keys enrolled into a qcow2 template stay qcow2. */
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "keys", "generate", keys, NULL), ==, 0);
  g_autofree char *err = NULL;
  rc = vsb_test_run(NULL, &err, "provision", "qk", "--state-dir", state, "--machine",
                    "pc-q35-7.2", "--firmware-dir", fw, "--keys", keys, NULL);
  if (rc != 0)
    vsb_test_fail("provision --keys into qcow2: %s", err);
  g_autofree char *qkv = g_build_filename(state, "qk_VARS.qcow2", NULL);
  {
    g_autofree char *head = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(qkv, &head, &len, NULL));
    g_assert_cmpuint(len, >, 4);
    g_assert_cmpint(memcmp(head, "QFI\xfb", 4), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbVarstore) store = vsb_varstore_load(qkv, &error);
    g_assert_no_error(error);
    g_autoptr(VsbSecureBootState) sb = vsb_secure_boot_state(store);
    g_assert_cmpint(sb->mode, ==, VSB_SB_MODE_USER);
  }

  /* Stateless: no varstore at all. */
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "provision", "sl", "--state-dir", state, "--machine",
                    "pc-q35-7.2", "--firmware-dir", fw, "--feature", "amd-sev", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  {
    g_autoptr(JsonNode) root = vsb_test_parse_json(out);
    g_assert_true(json_object_get_null_member(obj(root), "varstore"));
    g_assert_cmpstr(json_object_get_string_member(
                      json_object_get_object_member(obj(root), "firmware"), "mode"),
                    ==, "stateless");
  }
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "qemu-args", "sl", "--state-dir", state, "--qemu-version", "3.1",
                    NULL);
  g_assert_cmpint(rc, ==, 0);
  g_assert_cmpstr(out, ==, "-machine pc-q35-7.2 -drive if=pflash,unit=0,format=raw,readonly=on,"
                           "file=" OVMF "OVMF_CODE_4M.fd\n");

  /* Combined: the VM's own read-write copy of the whole image. */
  rc = vsb_test_run(NULL, NULL, "provision", "cb", "--state-dir", state, "--machine",
                    "pc-q35-7.2", "--firmware-dir", fw, "--feature", "acpi-s4", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autofree char *cbv = g_build_filename(state, "cb_FW.fd", NULL);
  g_autofree char *cbsum = file_sha256(cbv), *csum = file_sha256(OVMF "OVMF_CODE_4M.fd");
  g_assert_cmpstr(cbsum, ==, csum);
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "qemu-args", "cb", "--state-dir", state, "--qemu-version", "3.1",
                    NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autofree char *want = g_strdup_printf("-machine pc-q35-7.2 -drive if=pflash,unit=0,format=raw,"
                                          "file=%s\n", cbv);
  g_assert_cmpstr(out, ==, want);

  /* Memory (-bios). */
  rc = vsb_test_run(NULL, NULL, "provision", "mem", "--state-dir", state, "--machine",
                    "pc-q35-7.2", "--firmware-dir", fw, "--feature", "intel-tdx", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "qemu-args", "mem", "--state-dir", state, "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) arr = vsb_test_parse_json(out);
  JsonArray *a = json_node_get_array(arr);
  g_assert_cmpuint(json_array_get_length(a), ==, 4);
  g_assert_cmpstr(json_array_get_string_element(a, 0), ==, "-machine");
  g_assert_cmpstr(json_array_get_string_element(a, 1), ==, "pc-q35-7.2");
  g_assert_cmpstr(json_array_get_string_element(a, 2), ==, "-bios");
  g_assert_cmpstr(json_array_get_string_element(a, 3), ==, OVMF "OVMF_CODE_4M.fd");

  g_autofree char *ls = listing(state);
  g_assert_cmpstr(ls, ==, "cb.json cb_FW.fd mem.json q.json q_VARS.qcow2 qk.json qk_VARS.qcow2 "
                          "sl.json");
}

/* --keys DIR with --microsoft 2023: Microsoft's 2023 CAs next to the owner's keys (as mkosi's
 * FirmwareVariables=microsoft), recorded in the state file; without --microsoft, none. */
static void
test_keys_and_microsoft(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "keys", "generate", keys, "--cn", "ms", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "provision", "both", "--state-dir", dir, "--keys", keys,
                        "--microsoft", "2023", "--json", NULL);
  if (rc != 0)
    vsb_test_fail("provision --keys --microsoft 2023: %s", err);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(obj(root), "microsoft")),
                   ==, 4);
  g_autofree char *vars = g_build_filename(dir, "both_VARS.fd", NULL);
  g_autofree char *show = NULL;
  g_assert_cmpint(vsb_test_run(&show, NULL, "vars", "show", vars, "--json", NULL), ==, 0);
  g_assert_nonnull(strstr(show, "\"kek-2023\" : \"enrolled\""));
  g_assert_nonnull(strstr(show, "\"windows-2023\" : \"enrolled\""));
  g_assert_nonnull(strstr(show, "\"mode\" : \"user\""));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "provision", "own", "--state-dir", dir, "--keys", keys,
                               "--json", NULL), ==, 0);
  g_autoptr(JsonNode) own = vsb_test_parse_json(out);
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(obj(own), "microsoft")),
                   ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "provision", "bad", "--state-dir", dir, "--keys", keys,
                               "--microsoft", "2022", NULL), ==, 2);
  assert_contains(err, "--microsoft");
}

/* The signed-update step of the fixed order: it sees what came before it. */
static gboolean
count_updates(VsbVarstore *store, gpointer data, GError **error)
{
  (void)store;
  (void)error;
  *(guint *)data += 1;
  return TRUE;
}

/* vsb_enroll_apply runs its steps in the one documented order (secureboot.h), whatever the
 * order the caller filled them in: PK, Microsoft's CAs (KEK first), KEK, db, db hashes, the
 * signed updates, dbx, dbx hashes, SecureBootEnable; provision and vars enroll share it. */
static void
test_enroll_order(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "keys", "generate", keys, "--cn", "order", NULL), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(OVMF "OVMF_VARS_4M.fd", &error);
  g_assert_no_error(error);
  X509 *c[3];
  static const char *const files[] = { "PK.crt", "KEK.crt", "db.crt" };
  for (int i = 0; i < 3; i++) {
    g_autofree char *p = g_build_filename(keys, files[i], NULL);
    c[i] = vsb_cert_load(p, &error);
    g_assert_no_error(error);
  }
  g_autoptr(GPtrArray) kek = g_ptr_array_new(), db = g_ptr_array_new();
  g_ptr_array_add(kek, c[1]);
  g_ptr_array_add(db, c[2]);
  g_autoptr(GArray) dbx_hashes = g_array_new(FALSE, TRUE, 32);
  g_autoptr(GArray) db_hashes = g_array_new(FALSE, TRUE, 32);
  g_array_set_size(dbx_hashes, 1);
  g_array_set_size(db_hashes, 1);
  memset(db_hashes->data, 0xdb, 32);
  guint updates = 0;
  VsbGuid owner = { 0 };
  VsbEnrollSteps steps = VSB_ENROLL_STEPS_INIT;
  steps.secure_boot = 1;
  steps.dbx_hashes = dbx_hashes;
  steps.updates = count_updates;
  steps.updates_data = &updates;
  steps.db_hashes = db_hashes;
  steps.db = db;
  steps.kek = kek;
  steps.microsoft = VSB_MS_SET_2023;
  steps.pk = c[0];
  steps.owner = &owner;
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  g_assert_true(vsb_enroll_apply(e, &steps, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(updates, ==, 1);
  GPtrArray *changes = vsb_enroll_get_changes(e);
  g_autoptr(GString) seq = g_string_new(NULL);
  for (guint i = 0; i < changes->len; i++) {
    const VsbEnrollChange *ch = changes->pdata[i];
    g_string_append_printf(seq, "%s%s:%s", i ? " " : "", ch->action, ch->variable);
  }
  /* Microsoft's 2023 set: one KEK CA, three db CAs; then ours; the placeholder dbx is not
   * added (dbx has an entry by then). */
  g_assert_cmpstr(seq->str, ==, "set:PK add:KEK add:db add:db add:db add:KEK add:db add:db "
                  "add:dbx create:SecureBootEnable create:CustomMode");
  for (int i = 0; i < 3; i++)
    X509_free(c[i]);
}

static void
test_tpm_and_aarch64(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "provision", "w11", "--state-dir", dir, "--enrolled-keys",
                        "--tpm", "--json", NULL);
  if (rc != 0)
    vsb_test_fail("provision --tpm: %s", err);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  g_autofree char *tpm = g_build_filename(dir, "w11.tpm", NULL);
  g_assert_cmpstr(json_object_get_string_member(obj(root), "tpm-state-dir"), ==, tpm);
  g_autofree char *permall = g_build_filename(tpm, "tpm2-00.permall", NULL);
  g_assert_true(g_file_test(permall, G_FILE_TEST_IS_REGULAR));
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "qemu-args", "w11", "--state-dir", dir, NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autofree char *tail = g_strdup_printf(" -chardev socket,id=chrtpm,path=%s/swtpm.sock -tpmdev "
                                          "emulator,id=tpm0,chardev=chrtpm -device "
                                          "tpm-crb,tpmdev=tpm0\n", tpm);
  g_assert_true(g_str_has_suffix(out, tail));
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "libvirt-xml", "w11", "--state-dir", dir, NULL);
  g_assert_cmpint(rc, ==, 0);
  assert_contains(out, "<tpm model=\"tpm-crb\">\n    <backend type=\"emulator\" version=\"2.0\"/>");

  /* aarch64: AAVMF, 64 MiB banks, no SMM anywhere. */
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "provision", "arm", "--state-dir", dir, "--arch", "aarch64",
                    "--enrolled-keys", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) aroot = vsb_test_parse_json(out);
  g_assert_true(g_str_has_prefix(json_object_get_string_member(obj(aroot), "machine-resolved"),
                                 "virt-"));
  g_assert_cmpstr(json_object_get_string_member(
                    json_object_get_object_member(obj(aroot), "firmware"), "descriptor"),
                  ==, DEBIAN_FW "40-edk2-aarch64-secure-enrolled.json");
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "qemu-args", "arm", "--state-dir", dir, NULL);
  g_assert_cmpint(rc, ==, 0);
  g_assert_null(strstr(out, "smm"));
  g_assert_null(strstr(out, "cfi.pflash01"));
  assert_contains(out, "-machine virt-");
}

/* Runs vsboot with PATH holding no QEMU. */
static int
run_without_qemu(char **out, char **err, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)vsb_test_vsboot());
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add(argv, (char *)*a);
  g_ptr_array_add(argv, NULL);
  g_auto(GStrv) env = g_get_environ();
  env = g_environ_setenv(env, "PATH", "/nonexistent", TRUE);
  return vsb_test_spawn((const char *const *)argv->pdata, (const char *const *)env, out, err);
}

static void
test_missing_qemu(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  /* Provisioning works without QEMU: q35 then stands for the pc-q35-* family. */
  const char *prov[] = { "provision", "nq", "--state-dir", dir, "--enrolled-keys", "--json",
                         NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = run_without_qemu(&out, &err, prov);
  if (rc != 0)
    vsb_test_fail("provision without QEMU: %s", err);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  g_assert_cmpstr(json_object_get_string_member(obj(root), "machine-resolved"), ==, "q35");

  const char *qa[] = { "qemu-args", "nq", "--state-dir", dir, NULL };
  g_clear_pointer(&err, g_free);
  rc = run_without_qemu(NULL, &err, qa);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "qemu-system-x86_64 is not installed");
  assert_contains(err, "--qemu-version");
  const char *qa2[] = { "qemu-args", "nq", "--state-dir", dir, "--qemu-version", "7.2", NULL };
  g_clear_pointer(&out, g_free);
  rc = run_without_qemu(&out, NULL, qa2);
  g_assert_cmpint(rc, ==, 0);
  assert_contains(out, "-machine q35,smm=on,pflash0=");
  const char *run[] = { "run", "nq", "--state-dir", dir, "--accel", "tcg", NULL };
  g_clear_pointer(&err, g_free);
  rc = run_without_qemu(NULL, &err, run);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "cannot start VM 'nq': qemu-system-x86_64 is not installed");
  g_autofree char *ls = listing(dir);
  g_assert_cmpstr(ls, ==, "nq.json nq_VARS.fd");

  /* Not provisioned / unreadable state. */
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "qemu-args", "other", "--state-dir", dir, "--qemu-version",
                    "7.2", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "VM 'other' is not provisioned");
  g_autofree char *broken = g_build_filename(dir, "broken.json", NULL);
  vsb_test_write_file(broken, "{\"version\": 1, \"name\": \"broken\"", -1);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "libvirt-xml", "broken", "--state-dir", dir, NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, broken);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "qemu-args", "nq", "--state-dir", dir, "--qemu-version", "seven",
                    NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "--qemu-version 'seven' is not X.Y");
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "libvirt-xml", "nq", "--state-dir", dir, "--style", "fancy", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "unknown --style 'fancy'");
  /* Values libvirt or QEMU would take differently (or not at all) are refused, not defaulted. */
  static const struct {
    const char *opt, *value, *expect;
  } bad[] = {
    { "--emulator", "", "emulator: '' is not an absolute path" },
    { "--emulator", "qemu-system-x86_64", "is not an absolute path" },
    { "--memory", "0", "--memory 0: must be 1 to" },
    { "--vcpus", "0", "--vcpus 0: must be 1 to 4096" },
    { "--vcpus", "-3", "--vcpus -3: must be 1 to 4096" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *o = NULL;
    g_clear_pointer(&err, g_free);
    rc = vsb_test_run(&o, &err, "libvirt-xml", "nq", "--state-dir", dir, "--domain", bad[i].opt,
                      bad[i].value, NULL);
    g_assert_cmpint(rc, ==, 2);
    g_assert_cmpstr(o, ==, "");
    assert_contains(err, bad[i].expect);
  }
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "run", "nq", "--state-dir", dir, "--dry-run", "--memory", "0",
                    NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "run: --memory 0: must be 1 to");

  /* A machine type is emitted into -machine as it is: a ',' would add options to it. */
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "inj", "--state-dir", dir, "--enrolled-keys",
                    "--machine", "pc-q35-7.2,smm=off", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "machine type 'pc-q35-7.2,smm=off': character ',' at 10 is not allowed");
  g_autofree char *inj = g_build_filename(dir, "inj_VARS.fd", NULL);
  g_assert_false(g_file_test(inj, G_FILE_TEST_EXISTS));

  /* A hand-edited state file is checked as strictly as the options that made it. */
  g_autofree char *nq_path = g_build_filename(dir, "nq.json", NULL);
  g_autofree char *nq = NULL;
  g_assert_true(g_file_get_contents(nq_path, &nq, NULL, NULL));
  static const struct {
    const char *from, *to, *expect;
  } edits[] = {
    { "\"machine-resolved\" : \"", "\"machine-resolved\" : \",smm=off,x=",
      "machine-resolved: machine type ',smm=off" },
    { "\"uuid\" : \"", "\"uuid\" : \"not-a-uuid", "uuid: 'not-a-uuid" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(edits); i++) {
    g_autofree char *name_from = g_strdup("\"name\" : \"nq\"");
    g_autofree char *name_to = g_strdup_printf("\"name\" : \"ed%" G_GSIZE_FORMAT "\"", i);
    g_assert_nonnull(strstr(nq, edits[i].from));
    g_autoptr(GString) ed = g_string_new(nq);
    g_string_replace(ed, name_from, name_to, 1);
    g_string_replace(ed, edits[i].from, edits[i].to, 1);
    g_autofree char *vm = g_strdup_printf("ed%" G_GSIZE_FORMAT, i);
    g_autofree char *file = g_strdup_printf("%s/%s.json", dir, vm);
    vsb_test_write_file(file, ed->str, -1);
    const char *cmds[] = { "qemu-args", "libvirt-xml" };
    for (gsize c = 0; c < G_N_ELEMENTS(cmds); c++) {
      g_autofree char *o = NULL;
      g_clear_pointer(&err, g_free);
      rc = vsb_test_run(&o, &err, cmds[c], vm, "--state-dir", dir, NULL);
      g_assert_cmpint(rc, ==, 2);
      g_assert_cmpstr(o, ==, "");
      assert_contains(err, edits[i].expect);
    }
  }
}

static void
test_run_dry(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "d", "--state-dir", dir,
                               "--enrolled-keys", NULL), ==, 0);
  g_autofree char *fw = NULL, *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&fw, NULL, "qemu-args", "d", "--state-dir", dir, NULL), ==, 0);
  g_strstrip(fw);
  int rc = vsb_test_run(&out, &err, "run", "d", "--state-dir", dir, "--dry-run", "--memory",
                        "256", "--", "-smp", "2", NULL);
  g_assert_cmpint(rc, ==, 0);
  /* What run starts is what qemu-args prints, plus the rest of the machine. */
  g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
  g_autofree char *prefix = g_strdup_printf("%s -name guest=d %s -accel ", qemu, fw);
  g_assert_true(g_str_has_prefix(out, prefix));
  assert_contains(out, " -m 256 -nodefaults -display none -serial stdio -monitor none -smp 2\n");
  /* auto: this host's KVM cannot run SMM (the requires-smm firmware), so TCG, saying why. */
  if (access("/dev/kvm", R_OK | W_OK) == 0) {
    assert_contains(err, "vsboot: accelerator ");
    if (strstr(err, "TCG"))
      assert_contains(err, "requires SMM and KVM here cannot run it (");
    else
      assert_contains(err, "KVM: it runs SMM");
  } else {
    assert_contains(err, "/dev/kvm is not usable");
  }
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "run", "d", "--state-dir", dir, "--dry-run", "--accel", "tcg",
                    NULL);
  g_assert_cmpint(rc, ==, 0);
  assert_contains(out, " -accel tcg ");
  g_clear_pointer(&out, g_free);
  rc = vsb_test_run(&out, NULL, "run", "d", "--state-dir", dir, "--dry-run", "--accel", "tcg",
                    "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  {
    g_autoptr(JsonNode) j = vsb_test_parse_json(out);
    g_assert_cmpstr(json_object_get_string_member(obj(j), "accelerator"), ==, "tcg");
    JsonArray *av = json_object_get_array_member(obj(j), "argv");
    g_assert_cmpstr(json_array_get_string_element(av, 0), ==, qemu);
    g_assert_cmpstr(json_array_get_string_element(av, 1), ==, "-name");
    g_assert_cmpstr(json_array_get_string_element(av, 2), ==, "guest=d");
  }
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "run", "d", "--state-dir", dir, "--accel", "hvf", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "--accel must be kvm, tcg or auto");
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "run", "d", "--state-dir", dir, "--disk", "/nonexistent.img",
                    "--dry-run", NULL);
  g_assert_cmpint(rc, ==, 2);
  assert_contains(err, "disk /nonexistent.img: No such file or directory");

  /* The run owns its ESP's private directory: made with the plan (the ESP image on the command
   * line, first disk), removed with the run, nothing started before. */
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVm) vm = vsb_vm_load(dir, "d", &error);
  g_assert_no_error(error);
  g_autofree char *app = g_build_filename(dir, "app.efi", NULL);
  vsb_test_write_file(app, "MZ", 2);
  VsbRunOptions ro = { .accel = VSB_ACCEL_TCG, .efi_app = app };
  VsbRun *run = vsb_run_new(vm, &ro, &error);
  g_assert_no_error(error);
  const VsbRunPlan *plan = vsb_run_get_plan(run);
  g_autofree char *esp_dir = NULL;
  for (guint i = 0; i + 1 < plan->argv->len; i++) {
    const char *arg = plan->argv->pdata[i];
    const char *p = strstr(arg, "/esp.img,");
    if (g_str_has_prefix(arg, "file=") && p)
      esp_dir = g_strndup(arg + 5, (gsize)(p - (arg + 5)));
  }
  g_assert_nonnull(esp_dir);
  g_assert_true(g_file_test(esp_dir, G_FILE_TEST_IS_DIR));
  vsb_run_free(run);
  g_assert_false(g_file_test(esp_dir, G_FILE_TEST_EXISTS));
  /* Without an EFI app there is nothing to watch. */
  ro.efi_app = NULL;
  run = vsb_run_new(vm, &ro, &error);
  g_assert_no_error(error);
  g_assert_null(vsb_run_watch_efi_app(run, 1000, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  vsb_run_free(run);
}

static void
test_run_firmware_changed(void)
{
  /* A VM whose code file changes after provisioning: run says so (the varstore may no longer
   * fit the code; the audit's business, but worth a warning at start). */
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fw = g_build_filename(dir, "fw", NULL);
  g_autofree char *state = g_build_filename(dir, "state", NULL);
  g_assert_cmpint(g_mkdir(fw, 0755), ==, 0);
  g_assert_cmpint(g_mkdir(state, 0755), ==, 0);
  g_autofree char *code = g_build_filename(dir, "CODE.fd", NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(OVMF "OVMF_CODE_4M.secboot.fd", &data, &len, NULL));
  vsb_test_write_file(code, data, (gssize)len);
  g_autofree char *m = split_mapping(code, OVMF "OVMF_VARS_4M.ms.fd", "raw");
  write_descriptor(fw, "10-copy.json", "x86_64", "pc-q35-*", m, SB_SMM_KEYS);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "c", "--state-dir", state, "--machine",
                               "pc-q35-7.2", "--firmware-dir", fw, NULL), ==, 0);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "run", "c", "--state-dir", state, "--dry-run",
                               "--accel", "tcg", NULL), ==, 0);
  g_assert_null(strstr(err, "warning"));
  data[len / 2] ^= 0xff;
  vsb_test_write_file(code, data, (gssize)len);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "run", "c", "--state-dir", state, "--dry-run",
                               "--accel", "tcg", NULL), ==, 0);
  g_autofree char *want = g_strdup_printf("vsboot: warning: firmware code %s changed since "
                                          "provisioning", code);
  assert_contains(err, want);
  /* Gone entirely: refused. */
  g_unlink(code);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "run", "c", "--state-dir", state, "--dry-run", NULL),
                  ==, 2);
  assert_contains(err, "firmware code of VM");
  assert_contains(err, "No such file or directory");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  vsb_test_require_tool("qemu-img");
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("qemu-system-aarch64");
  vsb_test_require_tool("swtpm_setup");
  vsb_test_require_tool("unshare");
  if (getuid() != 0)
    vsb_test_fail("test-vm-provision runs as root (read-only mounts in a private namespace)");
  g_test_add_func("/vm/provision/basic", test_basic);
  g_test_add_func("/vm/provision/keys-and-microsoft", test_keys_and_microsoft);
  g_test_add_func("/vm/provision/enroll-order", test_enroll_order);
  g_test_add_func("/vm/provision/exists-and-reset", test_exists_and_reset);
  g_test_add_func("/vm/provision/batch", test_batch);
  g_test_add_func("/vm/provision/user-keys", test_user_keys);
  g_test_add_func("/vm/provision/secure-defaults", test_secure_defaults);
  g_test_add_func("/vm/provision/bad-names", test_bad_names);
  g_test_add_func("/vm/provision/state-dir", test_state_dir);
  g_test_add_func("/vm/provision/vanished-and-mismatched", test_vanished_and_mismatched);
  g_test_add_func("/vm/provision/shapes", test_shapes);
  g_test_add_func("/vm/provision/tpm-and-aarch64", test_tpm_and_aarch64);
  g_test_add_func("/vm/provision/missing-qemu", test_missing_qemu);
  g_test_add_func("/vm/run/dry-run", test_run_dry);
  g_test_add_func("/vm/run/firmware-changed", test_run_firmware_changed);
  return g_test_run();
}

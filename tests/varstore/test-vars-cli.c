/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot vars show / export / import through the CLI: outputs, exit codes, bad input that
 * must leave the output untouched, and QEMU's image lock with a real qemu-system-x86_64. */
#include "testutil.h"
#include "fileio.h"
#include "vsboot/varstore.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OVMF "/usr/share/OVMF/"

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

static void
test_show_ms(void)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "vars", "show", OVMF "OVMF_VARS_4M.ms.fd", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(root);
  JsonObject *sb = json_object_get_object_member(o, "secure-boot");
  g_assert_cmpstr(json_object_get_string_member(sb, "mode"), ==, "user");
  g_assert_true(json_object_get_boolean_member(sb, "enforcing"));
  JsonArray *wk = json_object_get_array_member(sb, "well-known");
  g_assert_cmpuint(json_array_get_length(wk), ==, 3);
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(wk, 0), "id"), ==,
                  "ms-kek-ca-2011");
  JsonArray *vars = json_object_get_array_member(o, "variables");
  g_assert_cmpuint(json_array_get_length(vars), ==, 31);

  /* Text: the same facts. */
  g_autofree char *text = NULL;
  rc = vsb_test_run(&text, NULL, "vars", "show", OVMF "OVMF_VARS_4M.ms.fd", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_assert_nonnull(strstr(text, "Secure Boot: user mode, enforcing"));
  g_assert_nonnull(strstr(text, "Microsoft Corporation KEK CA 2011"));
  g_assert_nonnull(strstr(text, "Microsoft Windows Production PCA 2011"));
  g_assert_nonnull(strstr(text, "Microsoft Corporation UEFI CA 2011"));
  g_assert_nonnull(strstr(text, "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)"));

  /* --all: deleted records too, with their states. */
  g_autofree char *all = NULL;
  rc = vsb_test_run(&all, NULL, "vars", "show", "--all", "--json", OVMF "OVMF_VARS_4M.snakeoil.fd", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) aroot = vsb_test_parse_json(all);
  JsonArray *recs = json_object_get_array_member(json_node_get_object(aroot), "variables");
  g_assert_cmpuint(json_array_get_length(recs), ==, 57);
  guint dead = 0;
  for (guint i = 0; i < json_array_get_length(recs); i++)
    dead += !json_object_get_boolean_member(json_array_get_object_element(recs, i), "live");
  g_assert_cmpuint(dead, ==, 26);
}

static void
test_show_empty(void)
{
  g_autofree char *out = NULL;
  int rc = vsb_test_run(&out, NULL, "vars", "show", "--json", OVMF "OVMF_VARS_4M.fd", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *sb = json_object_get_object_member(json_node_get_object(root), "secure-boot");
  g_assert_cmpstr(json_object_get_string_member(sb, "mode"), ==, "setup");
  g_assert_false(json_object_get_boolean_member(sb, "enforcing"));
  g_autofree char *text = NULL;
  rc = vsb_test_run(&text, NULL, "vars", "show", OVMF "OVMF_VARS.fd", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_assert_nonnull(strstr(text, "Secure Boot: setup mode, NOT enforcing"));
  g_assert_nonnull(strstr(text, "no PK"));
}

static void
test_help(void)
{
  const char *subs[] = { "show", "export", "import", NULL };
  for (int i = 0; subs[i]; i++) {
    g_autofree char *out = NULL;
    int rc = vsb_test_run(&out, NULL, "vars", subs[i], "--help", NULL);
    g_assert_cmpint(rc, ==, 0);
    g_assert_nonnull(strstr(out, "vsboot vars"));
    g_free(g_steal_pointer(&out));
    rc = vsb_test_run(&out, NULL, "help", "vars", subs[i], NULL);
    g_assert_cmpint(rc, ==, 0);
  }
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "vars", "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "import JSON"));
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "frobnicate", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "unknown subcommand"));
}

static void
test_export_import(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const char *stores[] = { OVMF "OVMF_VARS_4M.ms.fd", OVMF "OVMF_VARS_4M.snakeoil.fd",
                           OVMF "OVMF_VARS_4M.fd", OVMF "OVMF_VARS.ms.fd", OVMF "OVMF_VARS.fd" };
  /* Deleted (0x3D/0x3C) records in Debian's stores; the import drops them. */
  const guint deleted[] = { 26, 26, 0, 26, 0 };
  for (gsize i = 0; i < G_N_ELEMENTS(stores); i++) {
    g_autofree char *json = g_build_filename(dir, "vars.json", NULL);
    g_autofree char *out = g_build_filename(dir, "out.fd", NULL);
    g_autofree char *out2 = g_build_filename(dir, "out2.fd", NULL);
    g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "export", stores[i], "--json", "-o", json, NULL), ==, 0);
    g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "import", json, "-o", out, "--template", stores[i], NULL), ==, 0);
    /* Import of an export over the same template: the compacted store, and doing it again on
     * the result gives the same bytes. */
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbVarstore) s = vsb_varstore_load(stores[i], &error);
    g_assert_no_error(error);
    g_autoptr(GBytes) want = vsb_varstore_serialize(s, &error);
    g_autoptr(GBytes) got = vsb_file_read(out, 1 << 20, &error);
    g_assert_no_error(error);
    g_assert_true(g_bytes_equal(want, got));
    /* What the README promises: the same live variables (the export of the result is the
     * export of the original), and the original bytes exactly when it had no deleted records. */
    GPtrArray *recs = vsb_varstore_get_records(s), *live = vsb_varstore_get_variables(s);
    g_assert_cmpuint(recs->len - live->len, ==, deleted[i]);
    g_autofree char *json_orig = NULL, *json_got = NULL;
    g_assert_cmpint(vsb_test_run(&json_orig, NULL, "vars", "export", stores[i], NULL), ==, 0);
    g_assert_cmpint(vsb_test_run(&json_got, NULL, "vars", "export", out, NULL), ==, 0);
    g_assert_cmpstr(json_orig, ==, json_got);
    g_autofree char *orig_sum = file_sha256(stores[i]), *out_sum = file_sha256(out);
    if (deleted[i] == 0)
      g_assert_cmpstr(orig_sum, ==, out_sum);
    else
      g_assert_cmpstr(orig_sum, !=, out_sum);
    g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "export", out, "-o", json, NULL), ==, 0);
    g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "import", json, "-o", out2, "--template", out, NULL), ==, 0);
    g_autofree char *a = file_sha256(out), *b = file_sha256(out2);
    g_assert_cmpstr(a, ==, b);
    g_unlink(out);
    g_unlink(out2);
  }
  /* --layout: an empty template; stdout export is the JSON format. */
  g_autofree char *json = NULL;
  g_assert_cmpint(vsb_test_run(&json, NULL, "vars", "export", OVMF "OVMF_VARS_4M.snakeoil.fd", NULL), ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(json);
  JsonObject *o = json_node_get_object(root);
  g_assert_cmpint(json_object_get_int_member(o, "version"), ==, 2);
  JsonArray *vars = json_object_get_array_member(o, "variables");
  g_assert_cmpuint(json_array_get_length(vars), ==, 31);
  g_autofree char *jp = g_build_filename(dir, "s.json", NULL);
  vsb_test_write_file(jp, json, -1);
  g_autofree char *o4 = g_build_filename(dir, "o4.fd", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "import", jp, "-o", o4, "--layout", "4m", NULL), ==, 0);
  g_autofree char *shown = NULL;
  g_assert_cmpint(vsb_test_run(&shown, NULL, "vars", "show", o4, NULL), ==, 0);
  g_assert_nonnull(strstr(shown, "user mode, enforcing"));
}

/* Bad input: exit 2, a message naming the problem, the output untouched or not created. */
static void
test_bad_input(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *trunc = g_build_filename(dir, "trunc.fd", NULL);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true(g_file_get_contents(OVMF "OVMF_VARS_4M.ms.fd", &data, &len, NULL));
  vsb_test_write_file(trunc, data, 0x30000);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "show", trunc, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "FvLength 0x84000"));
  g_free(g_steal_pointer(&err));

  /* Odd NameSize in PK at 0x545C. */
  g_autofree char *odd = g_build_filename(dir, "odd.fd", NULL);
  data[0x545c + 36] = 5;
  vsb_test_write_file(odd, data, (gssize)len);
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "show", "--json", odd, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "offset 0x545c"));
  g_free(g_steal_pointer(&err));

  /* Missing file, and no file at all. */
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "show", "/nonexistent/VARS.fd", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "/nonexistent/VARS.fd"));
  g_free(g_steal_pointer(&err));
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "show", NULL), ==, 2);
  g_free(g_steal_pointer(&err));

  /* import: bad JSON; output not created. */
  g_autofree char *bad = g_build_filename(dir, "bad.json", NULL);
  g_autofree char *out = g_build_filename(dir, "out.fd", NULL);
  vsb_test_write_file(bad, "{\"version\":2,\"variables\":[{\"name\":\"X\"}]}", -1);
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bad, "-o", out, "--layout", "2m", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "variables[0]"));
  g_free(g_steal_pointer(&err));
  g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));

  /* import: overflow of the 2M layout; an existing output stays as it was. */
  g_free(vsb_test_copy_file(OVMF "OVMF_VARS.fd", NULL, out, 0644));
  g_autofree char *before = file_sha256(out);
  GString *big = g_string_new("{\"version\":2,\"variables\":[{\"name\":\"Big\",\"guid\":"
                              "\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":7,\"data\":\"");
  for (int i = 0; i < 60000; i++)
    g_string_append(big, "00");
  g_string_append(big, "\"}]}");
  g_autofree char *bigp = g_build_filename(dir, "big.json", NULL);
  vsb_test_write_file(bigp, big->str, (gssize)big->len);
  g_string_free(big, TRUE);
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", out, "--template", out, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "need 60068 bytes"));
  g_assert_nonnull(strstr(err, "room for 57244"));
  g_free(g_steal_pointer(&err));
  g_autofree char *after = file_sha256(out);
  g_assert_cmpstr(before, ==, after);

  /* import usage errors. */
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", out, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--template"));
  g_free(g_steal_pointer(&err));
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", out, "--layout", "8m", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "8m"));
  g_free(g_steal_pointer(&err));
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "--layout", "2m", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "-o"));
  g_free(g_steal_pointer(&err));
  /* import: a NUL inside a string would cut the name short ("Fo"): refused by entry and member. */
  g_autofree char *nulp = g_build_filename(dir, "nul.json", NULL);
  vsb_test_write_file(nulp, "{\"version\":2,\"variables\":[{\"name\":\"Fo\\u0000o\",\"guid\":"
                            "\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":7,\"data\":\"00\"}]}", -1);
  g_autofree char *o4 = g_build_filename(dir, "o4.fd", NULL);
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", nulp, "-o", o4, "--layout", "4m", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "nul.json: variables[0]: \"name\" contains a NUL character"));
  g_free(g_steal_pointer(&err));
  g_assert_false(g_file_test(o4, G_FILE_TEST_EXISTS));

  /* A truncated qcow2 store is refused, not read as a blank one. */
  g_autofree char *tq = vsb_test_truncated_qcow2(dir, OVMF "OVMF_VARS_4M.ms.fd");
  g_autofree char *shown = NULL;
  g_assert_cmpint(vsb_test_run(&shown, &err, "vars", "show", tq, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "tr.qcow2: the qcow2 image is corrupt or truncated"));
  g_assert_null(strstr(shown, "blank"));
  g_free(g_steal_pointer(&err));
  g_autofree char *oq = g_build_filename(dir, "out.qcow2", NULL);
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", oq, "--template", tq, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "corrupt or truncated"));
  g_free(g_steal_pointer(&err));
  g_assert_false(g_file_test(oq, G_FILE_TEST_EXISTS));

  /* A single-value option given twice is refused, not "the last one wins". */
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", out, "-o", o4, "--layout", "4m", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--output given twice"));
  g_free(g_steal_pointer(&err));
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", o4, "--layout", "4m", "--layout", "2m", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--layout given twice ('4m', then '2m')"));
  g_free(g_steal_pointer(&err));
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", o4, "-t", OVMF "OVMF_VARS.fd", "--template", OVMF "OVMF_VARS_4M.fd", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--template given twice"));
  g_free(g_steal_pointer(&err));
  g_assert_false(g_file_test(o4, G_FILE_TEST_EXISTS));
  g_autofree char *e1 = g_build_filename(dir, "e1.json", NULL);
  g_autofree char *e2 = g_build_filename(dir, "e2.json", NULL);
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "export", OVMF "OVMF_VARS.fd", "-o", e1, "--output", e2, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--output given twice"));
  g_free(g_steal_pointer(&err));
  g_assert_false(g_file_test(e1, G_FILE_TEST_EXISTS));
  g_assert_false(g_file_test(e2, G_FILE_TEST_EXISTS));

  /* A garbage template. */
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", bigp, "-o", out, "--template", bigp, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "no variable store"));
  g_autofree char *after2 = file_sha256(out);
  g_assert_cmpstr(before, ==, after2);
}

/* Hostile JSON stores: show and enroll refuse each with exit 2 and a message naming what is
 * wrong; enroll writes nothing, -o or in place. */
static void
test_json_store_hostile(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *in = g_build_filename(dir, "in.json", NULL);
  g_autofree char *out = g_build_filename(dir, "out.json", NULL);
  GString *deep = g_string_new("{\"variables\":");
  for (int i = 0; i < 200; i++)
    g_string_append_c(deep, '[');
  static const char g[] = "\"8be4df61-93ca-11d2-aa0d-00e098032b8c\"";
  struct { const char *text; const char *expect; } cases[] = {
    { "{\"version\":2,\"variables\":[{\"name\":\"PK\"}]}", "variables[0]: \"guid\" is missing" },
    { "{\"version\":2,\"variables\":[{\"name\":\"PK\",\"guid\":\"nope\",\"attr\":7,\"data\":\"\"}]}",
      "variables[0] (PK): bad guid \"nope\"" },
    { "{\"variables\":[{\"name\":\"PK\",\"guid\":@G,\"attr\":7,\"data\":\"zz\"}]}",
      "variables[0] (PK): \"data\"" },
    { "{\"variables\":[{\"name\":\"PK\",\"guid\":@G,\"attr\":-1,\"data\":\"\"}]}",
      "variables[0] (PK): \"attr\" is missing or not a 32-bit unsigned integer" },
    { "{\"variables\":[{\"name\":\"PK\",\"guid\":@G,\"attr\":4294967296,\"data\":\"\"}]}",
      "\"attr\" is missing or not a 32-bit unsigned integer" },
    { "{\"variables\":[{\"name\":\"PK\",\"guid\":@G,\"attr\":39,\"data\":\"\",\"time\":\"00\"}]}",
      "\"time\" must be 16 bytes of EFI_TIME in hex" },
    { "{\"variables\":[{\"name\":\"PK\",\"guid\":@G,\"attr\":7,\"data\":\"\"},"
      "{\"name\":\"PK\",\"guid\":@G,\"attr\":7,\"data\":\"01\"}]}",
      "variables[1] (PK) repeats variables[0] (same name and guid)" },
    { "{\"variables\":[{\"name\":\"P\\u0000K\",\"guid\":@G,\"attr\":7,\"data\":\"\"}]}",
      "contains a NUL character" },
    { "{\"variables\":[{\"name\":\"\",\"guid\":@G,\"attr\":7,\"data\":\"\"}]}",
      "variables[0]: empty or invalid name" },
    { "{\"version\":3,\"variables\":[]}", "unsupported \"version\"" },
    { "{\"version\":2,\"variables\":{}}", "expected {\"version\": 2, \"variables\": [...]}" },
    { "[1]", "variables[0] is not an object" },
    { "{\"version\":2,\"variables\":[", "not JSON: line 1" },
    { deep->str, "nested deeper than" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_auto(GStrv) parts = g_strsplit(cases[i].text, "@G", -1);
    g_autofree char *text = g_strjoinv(g, parts);
    vsb_test_write_file(in, text, -1);
    g_autofree char *before = file_sha256(in);
    g_autofree char *err = NULL;
    g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "show", in, NULL), ==, 2);
    if (strstr(err, cases[i].expect) == NULL)
      vsb_test_fail("case %zu: '%s' not in: %s", i, cases[i].expect, err);
    g_assert_nonnull(strstr(err, in));
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "enroll", in, "-o", out, "--secure-boot",
                                 "on", NULL), ==, 2);
    g_assert_nonnull(strstr(err, cases[i].expect));
    g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "enroll", "--in-place", in, "--secure-boot",
                                 "on", NULL), ==, 2);
    g_autofree char *after = file_sha256(in);
    g_assert_cmpstr(before, ==, after);
  }
  g_string_free(deep, TRUE);

  /* A JSON store is no template for import, which builds a flash image. */
  vsb_test_write_file(in, "{\"version\":2,\"variables\":[]}", -1);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "vars", "import", in, "-o", out, "--template", in,
                               NULL), ==, 2);
  g_assert_nonnull(strstr(err, "a template must be a flash image"));
  g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
  /* An empty list is a valid, empty store: setup mode. */
  g_autofree char *text = NULL;
  g_assert_cmpint(vsb_test_run(&text, NULL, "vars", "show", in, NULL), ==, 0);
  g_assert_nonnull(strstr(text, "Secure Boot: setup mode"));

  /* QEMU's "digest" of an authenticated variable survives an enrolment. */
  vsb_test_write_file(in, "{\"version\":2,\"variables\":[{\"name\":\"Priv\",\"guid\":"
                      "\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":39,\"data\":\"01\","
                      "\"time\":\"e9070c06000000000000000000000000\",\"digest\":\"abcd\"}]}", -1);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "enroll", "--in-place", in, "--secure-boot",
                               "on", NULL), ==, 0);
  g_autofree char *doc = NULL;
  g_assert_true(g_file_get_contents(in, &doc, NULL, NULL));
  g_assert_nonnull(strstr(doc, "\"digest\" : \"abcd\""));
  g_assert_nonnull(strstr(doc, "\"SecureBootEnable\""));
}

/* Microsoft's dbx list read back from the compact copy in the user's cache gives the very
 * report the parse gives, and a damaged copy is no copy. */
static void
test_dbx_cache(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *old = g_strdup(g_getenv("XDG_CACHE_HOME"));
  g_setenv("XDG_CACHE_HOME", dir, TRUE);
  g_autofree char *cache = g_build_filename(dir, "vsboot", "dbx-info.json", NULL);
  g_autofree char *first = NULL, *second = NULL, *third = NULL, *fourth = NULL;
  const char *store = OVMF "OVMF_VARS_4M.ms.fd";
  g_assert_cmpint(vsb_test_run(&first, NULL, "vars", "show", store, "--json", NULL), ==, 0);
  g_assert_true(g_file_test(cache, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint(vsb_test_run(&second, NULL, "vars", "show", store, "--json", NULL), ==, 0);
  g_assert_cmpstr(first, ==, second);
  g_assert_nonnull(strstr(first, "\"latest\" : "));

  /* A line the writer never writes: the list is parsed again, the report is the same. */
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(cache, &text, NULL, NULL));
  g_auto(GStrv) parts = g_strsplit(text, "\\nI\\t", 2);
  g_assert_cmpuint(g_strv_length(parts), ==, 2);
  g_autofree char *bad = g_strjoinv("\\nQ\\t", parts);
  vsb_test_write_file(cache, bad, -1);
  g_assert_cmpint(vsb_test_run(&third, NULL, "vars", "show", store, "--json", NULL), ==, 0);
  g_assert_cmpstr(first, ==, third);
  vsb_test_write_file(cache, "not json", -1);
  g_assert_cmpint(vsb_test_run(&fourth, NULL, "vars", "show", store, "--json", NULL), ==, 0);
  g_assert_cmpstr(first, ==, fourth);
  if (old)
    g_setenv("XDG_CACHE_HOME", old, TRUE);
  else
    g_unsetenv("XDG_CACHE_HOME");
}

/* A real QEMU holding the varstore as pflash: writing it is refused unless --force. */
static void
test_qemu_lock(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *vars = g_build_filename(dir, "VARS.fd", NULL);
  g_autofree char *json = g_build_filename(dir, "v.json", NULL);
  g_free(vsb_test_copy_file(OVMF "OVMF_VARS_4M.fd", NULL, vars, 0644));
  g_autoptr(GError) error = NULL;
  g_assert_false(vsb_file_is_locked(vars, &error));
  g_assert_no_error(error);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "export", OVMF "OVMF_VARS_4M.ms.fd", "-o", json, NULL), ==, 0);

  g_autofree char *code = g_strdup("if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE_4M.secboot.fd");
  g_autofree char *varsdrive = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  const char *argv[] = { "qemu-system-x86_64", "-machine", "q35,smm=on", "-accel", "tcg",
                         "-global", "driver=cfi.pflash01,property=secure,value=on",
                         "-drive", code, "-drive", varsdrive, "-S", "-display", "none",
                         "-nodefaults", "-monitor", "none", "-serial", "none", NULL };
  GPid pid;
  g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid, &error);
  g_assert_no_error(error);
  gboolean locked = FALSE;
  for (int i = 0; i < 200 && !locked; i++) {
    locked = vsb_file_is_locked(vars, &error);
    g_assert_no_error(error);
    if (!locked)
      g_usleep(50000);
  }
  g_autofree char *before = file_sha256(vars);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "import", json, "-o", vars, "--template", vars, NULL);
  g_autofree char *after = file_sha256(vars);
  int rc_force = vsb_test_run(NULL, NULL, "vars", "import", json, "-o", vars, "--template", vars, "--force", NULL);
  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
  g_spawn_close_pid(pid);

  g_assert_true(locked);
  g_assert_cmpint(rc, ==, 2);
  g_assert_nonnull(strstr(err, "locked"));
  g_assert_cmpstr(before, ==, after);
  g_assert_cmpint(rc_force, ==, 0);
  g_assert_false(vsb_file_is_locked(vars, &error));
  g_autofree char *shown = NULL;
  g_assert_cmpint(vsb_test_run(&shown, NULL, "vars", "show", vars, NULL), ==, 0);
  g_assert_nonnull(strstr(shown, "user mode"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vars-cli/show-ms", test_show_ms);
  g_test_add_func("/vars-cli/show-empty", test_show_empty);
  g_test_add_func("/vars-cli/help", test_help);
  g_test_add_func("/vars-cli/export-import", test_export_import);
  g_test_add_func("/vars-cli/bad-input", test_bad_input);
  g_test_add_func("/vars-cli/json-store-hostile", test_json_store_hostile);
  g_test_add_func("/vars-cli/dbx-cache", test_dbx_cache);
  g_test_add_func("/vars-cli/qemu-lock", test_qemu_lock);
  return g_test_run();
}

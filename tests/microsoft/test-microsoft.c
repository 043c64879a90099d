/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Microsoft 2023 CA rollover: the shipped certificates (against the compiled sums and
 * the shared data's SHA256SUMS), the set names, which CAs Debian's real stores and
 * stores built from them trust, revocation in each of dbx's forms, and the dbx explained by
 * Microsoft's dbx_info_msft_latest.json. */
#include "testutil.h"

#include "vsboot/efivar.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/mscerts.h"
#include "mscerts-ossl.h"
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "vsboot/siglist.h"
#include "vsboot/varstore.h"

#include <glib/gstdio.h>
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#define OVMF "/usr/share/OVMF/"
/* Microsoft's published objects live beside the checkout: $VSB_MS_DATA, else
 * $VSB_SOURCE_ROOT/../shared/data/microsoft (CI clones with ../shared next to it). */
static char *
shared_ms(void)
{
  const char *dir = g_getenv("VSB_MS_DATA");
  if (dir)
    return g_strdup(dir);
  const char *root = g_getenv("VSB_SOURCE_ROOT");
  if (root == NULL)
    vsb_test_fail("VSB_SOURCE_ROOT is not set (run through meson test)");
  return g_build_filename(root, "..", "shared", "data", "microsoft", NULL);
}

static char *
data_dir(void)
{
  const char *root = g_getenv("VSB_SOURCE_ROOT");
  if (root == NULL)
    vsb_test_fail("VSB_SOURCE_ROOT is not set (run through meson test)");
  return g_build_filename(root, "data", NULL);
}

static GBytes *
read_file(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &data, &len, &error))
    vsb_test_fail("%s", error->message);
  return g_bytes_new_take(g_steal_pointer(&data), len);
}

static char *
sha256_of(GBytes *b)
{
  return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b);
}

/* SHA256SUMS of the shared data: "./certs/NAME" -> hex. */
static GHashTable *
shared_sums(void)
{
  g_autofree char *ms = shared_ms();
  g_autofree char *path = g_build_filename(ms, "SHA256SUMS", NULL);
  g_autoptr(GBytes) text = read_file(path);
  g_autofree char *s = g_strndup(g_bytes_get_data(text, NULL), g_bytes_get_size(text));
  GHashTable *sums = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto(GStrv) f = g_strsplit(*l, "  ", 2);
    if (f[0] && f[1])
      g_hash_table_insert(sums, g_strdup(f[1]), g_strdup(f[0]));
  }
  return sums;
}

/* The TBSCertificate's SHA-256, read with OpenSSL's DER parser rather than the library's
 * table: the first element of the outer SEQUENCE, header included. */
static char *
tbs_sha256(GBytes *der)
{
  gsize len;
  const guint8 *d = g_bytes_get_data(der, &len);
  const unsigned char *p = d;
  long n;
  int tag, cls;
  if (ASN1_get_object(&p, &n, &tag, &cls, (long)len) & 0x80)
    vsb_test_fail("certificate: bad outer header");
  const unsigned char *tbs = p;
  if (ASN1_get_object(&p, &n, &tag, &cls, (long)(len - (gsize)(p - d))) & 0x80 ||
      tag != V_ASN1_SEQUENCE)
    vsb_test_fail("certificate: bad TBSCertificate header");
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, tbs, (gsize)(p - tbs) + (gsize)n);
}

static void
test_data(void)
{
  g_autoptr(GHashTable) sums = shared_sums();
  g_autofree char *dir = data_dir();
  for (guint i = 0; i < VSB_MS_N_CERTS; i++) {
    const VsbMsCert *c = vsb_ms_cert(i);
    g_autofree char *shipped = g_build_filename(dir, "microsoft", c->file, NULL);
    g_autoptr(GBytes) der = read_file(shipped);
    g_autofree char *sum = sha256_of(der);
    g_autofree char *key = g_strdup_printf("./certs/%s", c->file);
    const char *published = g_hash_table_lookup(sums, key);
    if (published == NULL)
      vsb_test_fail("%s is not in the shared data's SHA256SUMS", c->file);
    if (strcmp(sum, published) != 0 || strcmp(sum, c->sha256) != 0)
      vsb_test_fail("%s: shipped %s, SHA256SUMS %s, compiled %s", c->file, sum, published,
                    c->sha256);
    g_autofree char *tbs = tbs_sha256(der);
    g_assert_cmpstr(tbs, ==, c->tbs_sha256);

    /* What the library hands out is that file, and says what the table says of it. */
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) got = vsb_ms_cert_der(c->id, &error);
    g_assert_no_error(error);
    g_assert_true(g_bytes_equal(got, der));
    X509 *x = vsb_ms_cert_load(c->id, &error);
    g_assert_no_error(error);
    char cn[256];
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    g_assert_cmpstr(cn, ==, c->subject_cn);
    struct tm tm;
    g_assert_true(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm));
    g_autofree char *date = g_strdup_printf("%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                                            tm.tm_mday);
    g_assert_cmpstr(date, ==, c->expires);
    X509_free(x);
    VsbMsCertId id;
    g_assert_true(vsb_ms_cert_lookup(c->name, &id));
    g_assert_cmpint(id, ==, c->id);
  }
  /* Every file the library reads is one data/meson.build installs. */
  g_autofree char *build = g_build_filename(dir, "meson.build", NULL);
  g_autoptr(GBytes) bb = read_file(build);
  g_autofree char *btext = g_strndup(g_bytes_get_data(bb, NULL), g_bytes_get_size(bb));
  for (guint i = 0; i < VSB_MS_N_CERTS; i++) {
    g_autofree char *entry = g_strdup_printf("'microsoft/%s'", vsb_ms_cert(i)->file);
    if (strstr(btext, entry) == NULL)
      vsb_test_fail("data/meson.build does not install %s", entry);
  }
  g_assert_nonnull(strstr(btext, "'microsoft/dbx_info_msft_latest.json'"));
  g_autofree char *json = g_build_filename(dir, "microsoft", "dbx_info_msft_latest.json", NULL);
  g_autoptr(GBytes) jb = read_file(json);
  g_autofree char *jsum = sha256_of(jb);
  g_assert_cmpstr(jsum, ==, g_hash_table_lookup(sums, "./dbx_info_msft_latest.json"));
  char owner[VSB_GUID_STRING_LEN + 1];
  g_assert_cmpstr(vsb_guid_format(vsb_ms_owner_guid(), owner), ==,
                  "77fa9abd-0359-4d32-bd60-28f4e78f784b");
}

/* A damaged or missing file is refused, naming it; VSB_DATA_DIR is what is read. */
static void
test_data_checked(void)
{
  g_autofree char *tmp = vsb_test_tmpdir();
  g_autofree char *msdir = g_build_filename(tmp, "microsoft", NULL);
  g_assert_cmpint(g_mkdir(msdir, 0755), ==, 0);
  const VsbMsCert *c = vsb_ms_cert(VSB_MS_UEFI_2023);
  g_autofree char *dir = data_dir();
  g_autofree char *good = g_build_filename(dir, "microsoft", c->file, NULL);
  g_autoptr(GBytes) der = read_file(good);
  g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
  bad[g_bytes_get_size(der) - 1] ^= 1;
  g_autofree char *path = g_build_filename(msdir, c->file, NULL);
  vsb_test_write_file(path, bad, (gssize)g_bytes_get_size(der));

  g_autofree char *saved = g_strdup(g_getenv("VSB_DATA_DIR"));
  g_setenv("VSB_DATA_DIR", tmp, TRUE);
  g_autofree char *seen = vsb_data_dir();
  g_assert_cmpstr(seen, ==, tmp);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = vsb_ms_cert_der(VSB_MS_UEFI_2023, &error);
  g_assert_null(got);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, path));
  g_assert_nonnull(strstr(error->message, c->sha256));
  g_clear_error(&error);
  X509 *x = vsb_ms_cert_load(VSB_MS_KEK_2023, &error);
  g_assert_null(x);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);

  /* Without the dbx list, vars show still reports (and says why the dbx is not explained);
   * which CAs are trusted needs no data file. */
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "vars", "show", "--json", OVMF "OVMF_VARS_4M.ms.fd", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *sb = json_object_get_object_member(json_node_get_object(root), "secure-boot");
  JsonObject *dbx = json_object_get_object_member(sb, "dbx");
  g_assert_cmpint(json_object_get_int_member(dbx, "entries"), ==, 1);
  g_assert_nonnull(strstr(json_object_get_string_member(dbx, "error"), tmp));
  g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(sb, "microsoft"),
                                                "kek-2011"), ==, "enrolled");
  g_setenv("VSB_DATA_DIR", saved, TRUE);
}

static void
test_sets(void)
{
  g_autoptr(GError) error = NULL;
  VsbMsCertSet set = 0;
  g_assert_true(vsb_ms_cert_set_parse("2023", &set, &error));
  g_assert_cmpuint(set, ==, (1u << VSB_MS_KEK_2023) | (1u << VSB_MS_WINDOWS_2023) |
                              (1u << VSB_MS_UEFI_2023) | (1u << VSB_MS_OPTION_ROM_2023));
  g_assert_true(vsb_ms_cert_set_parse("2011", &set, &error));
  g_assert_cmpuint(set, ==, (1u << VSB_MS_KEK_2011) | (1u << VSB_MS_WINDOWS_2011) |
                              (1u << VSB_MS_UEFI_2011));
  g_assert_true(vsb_ms_cert_set_parse("2011,2023", &set, &error));
  g_assert_cmpuint(set, ==, (1u << VSB_MS_N_CERTS) - 1);
  g_assert_true(vsb_ms_cert_set_parse("uefi-2023, option-rom-2023", &set, &error));
  g_assert_cmpuint(set, ==, (1u << VSB_MS_UEFI_2023) | (1u << VSB_MS_OPTION_ROM_2023));
  g_assert_no_error(error);
  const char *bad[] = { "2024", "", "2023,", "KEK-2011" };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    set = 42;
    g_assert_false(vsb_ms_cert_set_parse(bad[i], &set, &error));
    g_assert_cmpuint(set, ==, 42);
    g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
    const char *names[] = { "2023", "2011", "kek-2011", "option-rom-2023", "windows-2023" };
    for (gsize j = 0; j < G_N_ELEMENTS(names); j++)
      if (strstr(error->message, names[j]) == NULL)
        vsb_test_fail("set '%s': the error does not list '%s': %s", bad[i], names[j],
                      error->message);
    g_clear_error(&error);
  }
}

/* ---- stores -------------------------------------------------------------------------------- */

static JsonObject *
show_json(const char *path, JsonNode **root)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "vars", "show", "--json", path, NULL);
  if (rc != 0)
    vsb_test_fail("vars show %s: exit %d\n%s", path, rc, err);
  *root = vsb_test_parse_json(out);
  return json_object_get_object_member(json_node_get_object(*root), "secure-boot");
}

static guint
count_successor_warnings(JsonObject *sb)
{
  JsonArray *w = json_object_get_array_member(sb, "warnings");
  guint n = 0;
  for (guint i = 0; i < json_array_get_length(w); i++)
    n += strstr(json_array_get_string_element(w, i), "without its successor") != NULL;
  return n;
}

/* expect: one of 'e' (enrolled), 'a' (absent), 'r' (revoked) per id, in VsbMsCertId order. */
static void
check_microsoft(JsonObject *sb, const char *expect, const char *what)
{
  JsonObject *ms = json_object_get_object_member(sb, "microsoft");
  g_autoptr(GList) keys = json_object_get_members(ms);
  if (g_list_length(keys) != VSB_MS_N_CERTS)
    vsb_test_fail("%s: microsoft has %u keys", what, g_list_length(keys));
  for (guint i = 0; i < VSB_MS_N_CERTS; i++) {
    const VsbMsCert *c = vsb_ms_cert(i);
    const char *want = expect[i] == 'e' ? "enrolled" : expect[i] == 'r' ? "revoked" : "absent";
    const char *got = json_object_has_member(ms, c->name)
                        ? json_object_get_string_member(ms, c->name) : "(missing)";
    if (strcmp(got, want) != 0)
      vsb_test_fail("%s: %s is %s, expected %s", what, c->name, got, want);
  }
}

static void
test_debian_stores(void)
{
  g_autoptr(JsonNode) r1 = NULL, r2 = NULL, r3 = NULL;
  JsonObject *sb = show_json(OVMF "OVMF_VARS_4M.ms.fd", &r1);
  check_microsoft(sb, "eaeaeaa", "ms");
  g_assert_cmpuint(count_successor_warnings(sb), ==, 3);
  g_assert_true(json_object_get_boolean_member(sb, "microsoft-2011-without-successor"));
  const char *want[] = { "Microsoft Corporation KEK CA 2011",
                         "Microsoft Windows Production PCA 2011",
                         "Microsoft Corporation UEFI CA 2011" };
  g_autofree char *text = NULL;
  int rc = vsb_test_run(&text, NULL, "vars", "show", OVMF "OVMF_VARS_4M.ms.fd", NULL);
  g_assert_cmpint(rc, ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
    g_autofree char *line = g_strdup_printf("holds %s (", want[i]);
    const char *w = strstr(text, line);
    if (w == NULL || strstr(w, "without its successor") == NULL)
      vsb_test_fail("text has no successor warning for %s:\n%s", want[i], text);
  }
  g_assert_nonnull(strstr(text, "Microsoft CAs:"));
  g_assert_nonnull(strstr(text, "UEFI CA 2023 (absent) and Microsoft Option ROM UEFI CA 2023"));

  sb = show_json(OVMF "OVMF_VARS_4M.snakeoil.fd", &r2);
  check_microsoft(sb, "aaaaaaa", "snakeoil");
  g_assert_cmpuint(count_successor_warnings(sb), ==, 0);
  g_assert_false(json_object_get_boolean_member(sb, "microsoft-2011-without-successor"));
  sb = show_json(OVMF "OVMF_VARS_4M.fd", &r3);
  check_microsoft(sb, "aaaaaaa", "empty");
  g_assert_cmpuint(count_successor_warnings(sb), ==, 0);
  JsonObject *dbx = json_object_get_object_member(sb, "dbx");
  g_assert_cmpint(json_object_get_int_member(dbx, "entries"), ==, 0);
}

static VsbVarstore *
load_store(const char *path)
{
  g_autoptr(GError) error = NULL;
  VsbVarstore *s = vsb_varstore_load(path, &error);
  g_assert_no_error(error);
  return s;
}

static void
enroll_ms(VsbEnroll *e, VsbMsCertId id, VsbSbVariable var)
{
  g_autoptr(GError) error = NULL;
  X509 *x = vsb_ms_cert_load(id, &error);
  g_assert_no_error(error);
  g_assert_true(vsb_enroll_add_cert(e, var, x, vsb_ms_owner_guid(), &error));
  g_assert_no_error(error);
  X509_free(x);
}

static char *
save_store(VsbVarstore *s, const char *dir, const char *name)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename(dir, name, NULL);
  g_assert_true(vsb_varstore_save(s, path, 0644, FALSE, &error));
  g_assert_no_error(error);
  return path;
}

static void
test_enrolled_2023(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(VsbVarstore) s = load_store(OVMF "OVMF_VARS_4M.ms.fd");
  g_autoptr(VsbEnroll) e = vsb_enroll_new(s);
  g_autoptr(GError) error = NULL;
  VsbMsCertSet set = 0;
  g_assert_true(vsb_ms_cert_set_parse("2023", &set, &error));
  for (guint i = 0; i < VSB_MS_N_CERTS; i++)
    if (set & (1u << i))
      enroll_ms(e, i, vsb_ms_cert(i)->variable);

  /* The library, on the store in memory. */
  g_autoptr(VsbMsState) st = vsb_secure_boot_microsoft_state(s);
  for (guint i = 0; i < VSB_MS_N_CERTS; i++)
    g_assert_cmpint(st->state[i], ==, VSB_MS_ENROLLED);
  g_assert_false(st->missing_successor);
  g_assert_cmpuint(st->warnings->len, ==, 0);

  /* The CLI, on the written file; the entries carry Microsoft's owner GUID. */
  g_autofree char *path = save_store(s, dir, "all.fd");
  g_autoptr(JsonNode) root = NULL;
  JsonObject *sb = show_json(path, &root);
  check_microsoft(sb, "eeeeeee", "2011+2023");
  g_assert_cmpuint(count_successor_warnings(sb), ==, 0);
  g_assert_false(json_object_get_boolean_member(sb, "microsoft-2011-without-successor"));
  g_autofree char *text = NULL;
  g_assert_cmpint(vsb_test_run(&text, NULL, "vars", "show", path, NULL), ==, 0);
  g_assert_null(strstr(text, "without its successor"));
  g_assert_nonnull(strstr(text, "kek-2023         enrolled"));
  g_autoptr(VsbVarstore) back = load_store(path);
  const VsbVariable *kek = vsb_varstore_lookup(back, "KEK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_autoptr(GPtrArray) entries = vsb_siglist_parse(g_bytes_get_data(kek->data, NULL),
                                                   g_bytes_get_size(kek->data), &error);
  g_assert_no_error(error);
  /* Debian's KEK holds its own key and KEK CA 2011; the new one comes last. */
  g_assert_cmpuint(entries->len, ==, 3);
  const VsbSigEntry *added = entries->pdata[2];
  g_assert_true(vsb_guid_equal(&added->owner, vsb_ms_owner_guid()));
  g_autofree char *added_sum = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, added->data);
  g_assert_cmpstr(added_sum, ==, vsb_ms_cert(VSB_MS_KEK_2023)->sha256);

  /* Only the new KEK: the two db warnings stay, the KEK one goes. */
  g_autoptr(VsbVarstore) s2 = load_store(OVMF "OVMF_VARS_4M.ms.fd");
  g_autoptr(VsbEnroll) e2 = vsb_enroll_new(s2);
  enroll_ms(e2, VSB_MS_KEK_2023, VSB_SB_KEK);
  g_autoptr(VsbMsState) st2 = vsb_secure_boot_microsoft_state(s2);
  g_assert_cmpuint(st2->warnings->len, ==, 2);
  g_assert_true(st2->missing_successor);
  for (guint i = 0; i < st2->warnings->len; i++)
    g_assert_null(strstr(st2->warnings->pdata[i], "KEK CA 2011"));

  /* In the wrong variable it is not enrolled: windows-2023 in KEK trusts nothing in db. */
  g_autoptr(VsbVarstore) s3 = load_store(OVMF "OVMF_VARS_4M.snakeoil.fd");
  g_autoptr(VsbEnroll) e3 = vsb_enroll_new(s3);
  enroll_ms(e3, VSB_MS_WINDOWS_2023, VSB_SB_KEK);
  g_autoptr(VsbMsState) st3 = vsb_secure_boot_microsoft_state(s3);
  g_assert_cmpint(st3->state[VSB_MS_WINDOWS_2023], ==, VSB_MS_ABSENT);
}

/* A self-signed certificate with Microsoft's CN but its own key: the same name verifies
 * nothing Microsoft signed, so it must not count. */
static void
test_lookalike(void)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  g_assert_nonnull(key);
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                             (const unsigned char *)"Microsoft Windows Production PCA 2011", -1,
                             -1, 0);
  X509_set_issuer_name(x, name);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  g_assert_cmpint(X509_sign(x, key, EVP_sha256()), >, 0);
  g_autoptr(VsbVarstore) s = load_store(OVMF "OVMF_VARS_4M.snakeoil.fd");
  g_autoptr(VsbEnroll) e = vsb_enroll_new(s);
  g_autoptr(GError) error = NULL;
  g_assert_true(vsb_enroll_add_cert(e, VSB_SB_DB, x, vsb_ms_owner_guid(), &error));
  g_autoptr(VsbMsState) st = vsb_secure_boot_microsoft_state(s);
  g_assert_cmpint(st->state[VSB_MS_WINDOWS_2011], ==, VSB_MS_ABSENT);
  /* The CN-based list still names it: that is what the old report does. */
  g_autoptr(VsbSecureBootState) sbs = vsb_secure_boot_state(s);
  g_assert_true(vsb_secure_boot_has_known(sbs, "ms-windows-pca-2011", "db"));
  X509_free(x);
  EVP_PKEY_free(key);
}

static void
set_dbx_entry(VsbVarstore *s, VsbSigType type, const void *data, gsize len)
{
  g_autoptr(GPtrArray) entries = vsb_sig_entry_array_new();
  g_ptr_array_add(entries, vsb_sig_entry_new(type, vsb_ms_owner_guid(), data, len));
  g_autoptr(GBytes) list = vsb_siglist_build(entries);
  vsb_varstore_set(s, vsb_variable_new("dbx", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE,
                                       VSB_SB_AUTH_ATTRIBUTES, g_bytes_get_data(list, NULL),
                                       g_bytes_get_size(list)));
}

/* Windows Production PCA 2011 in dbx, in each form the firmware checks: SHA-256 of the DER
 * (through the CLI), the certificate itself, and X509_SHA256 of its TBSCertificate. */
static void
test_revoked(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) der = vsb_ms_cert_der(VSB_MS_WINDOWS_2011, &error);
  g_assert_no_error(error);

  g_autoptr(VsbVarstore) s = load_store(OVMF "OVMF_VARS_4M.ms.fd");
  g_autoptr(VsbEnroll) e = vsb_enroll_new(s);
  g_autoptr(GBytes) hash = vsb_hex_decode(vsb_ms_cert(VSB_MS_WINDOWS_2011)->sha256, &error);
  g_assert_true(vsb_enroll_add_hash(e, VSB_SB_DBX, g_bytes_get_data(hash, NULL),
                                    vsb_ms_owner_guid(), &error));
  g_assert_no_error(error);
  g_autofree char *path = save_store(s, dir, "revoked.fd");
  g_autoptr(JsonNode) root = NULL;
  JsonObject *sb = show_json(path, &root);
  check_microsoft(sb, "earaeaa", "sha256 in dbx");
  /* Revoked, it trusts nothing: only the KEK and UEFI CA warnings remain. */
  g_assert_cmpuint(count_successor_warnings(sb), ==, 2);

  g_autoptr(VsbVarstore) s2 = load_store(OVMF "OVMF_VARS_4M.ms.fd");
  set_dbx_entry(s2, VSB_SIG_X509, g_bytes_get_data(der, NULL), g_bytes_get_size(der));
  g_autoptr(VsbMsState) st2 = vsb_secure_boot_microsoft_state(s2);
  g_assert_cmpint(st2->state[VSB_MS_WINDOWS_2011], ==, VSB_MS_REVOKED);
  g_assert_cmpint(st2->state[VSB_MS_UEFI_2011], ==, VSB_MS_ENROLLED);

  guint8 x509_sha256[48] = { 0 };
  g_autoptr(GBytes) tbs = vsb_hex_decode(vsb_ms_cert(VSB_MS_WINDOWS_2011)->tbs_sha256, &error);
  memcpy(x509_sha256, g_bytes_get_data(tbs, NULL), 32);
  g_autoptr(VsbVarstore) s3 = load_store(OVMF "OVMF_VARS_4M.ms.fd");
  set_dbx_entry(s3, VSB_SIG_X509_SHA256, x509_sha256, sizeof x509_sha256);
  g_autoptr(VsbMsState) st3 = vsb_secure_boot_microsoft_state(s3);
  g_assert_cmpint(st3->state[VSB_MS_WINDOWS_2011], ==, VSB_MS_REVOKED);
  /* A different TBS hash revokes nothing. */
  x509_sha256[0] ^= 1;
  set_dbx_entry(s3, VSB_SIG_X509_SHA256, x509_sha256, sizeof x509_sha256);
  g_autoptr(VsbMsState) st4 = vsb_secure_boot_microsoft_state(s3);
  g_assert_cmpint(st4->state[VSB_MS_WINDOWS_2011], ==, VSB_MS_ENROLLED);
}

/* ---- dbx explained ------------------------------------------------------------------------ */

typedef struct {
  GBytes *hash;
  char *company, *arch, *date;
} Pick;

static void
pick_free(Pick *p)
{
  g_bytes_unref(p->hash);
  g_free(p->company);
  g_free(p->arch);
  g_free(p->date);
  g_free(p);
}

/* The test's own reading of dbx_info: entry index of images[arch]. */
static Pick *
pick(JsonObject *images, const char *arch, guint index)
{
  JsonArray *a = json_object_get_array_member(images, arch);
  JsonObject *o = json_array_get_object_element(a, index);
  Pick *p = g_new0(Pick, 1);
  g_autoptr(GError) error = NULL;
  p->hash = vsb_hex_decode(json_object_get_string_member(o, "authenticodeHash"), &error);
  g_assert_no_error(error);
  p->company = g_strstrip(g_strdup(json_object_get_string_member(o, "companyName")));
  p->arch = g_strdup(arch);
  p->date = g_strdup(json_object_get_string_member(o, "dateOfAddition"));
  return p;
}

static gboolean
listed_in(JsonObject *images, const char *arch, GBytes *hash)
{
  g_autofree char *hex = vsb_hex_encode(g_bytes_get_data(hash, NULL), 32);
  JsonArray *a = json_object_get_array_member(images, arch);
  for (guint i = 0; i < json_array_get_length(a); i++)
    if (g_ascii_strcasecmp(json_object_get_string_member(json_array_get_object_element(a, i),
                                                         "authenticodeHash"), hex) == 0)
      return TRUE;
  return FALSE;
}

static void
check_dbx(JsonObject *dbx, GPtrArray *picks, guint entries, const char *arch, guint latest,
          guint missing)
{
  g_autoptr(GHashTable) companies = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GHashTable) archs = g_hash_table_new(g_str_hash, g_str_equal);
  const char *newest = NULL;
  for (guint i = 0; i < picks->len; i++) {
    Pick *p = picks->pdata[i];
    guint nc = GPOINTER_TO_UINT(g_hash_table_lookup(companies, p->company));
    g_hash_table_insert(companies, p->company, GUINT_TO_POINTER(nc + 1));
    guint na = GPOINTER_TO_UINT(g_hash_table_lookup(archs, p->arch));
    g_hash_table_insert(archs, p->arch, GUINT_TO_POINTER(na + 1));
    if (newest == NULL || strcmp(p->date, newest) > 0)
      newest = p->date;
  }
  g_assert_cmpint(json_object_get_int_member(dbx, "entries"), ==, entries);
  g_assert_cmpint(json_object_get_int_member(dbx, "known"), ==, picks->len);
  g_assert_cmpstr(json_object_get_string_member(dbx, "newest"), ==, newest);
  g_assert_cmpstr(json_object_get_string_member(dbx, "arch"), ==, arch);
  g_assert_cmpint(json_object_get_int_member(dbx, "latest"), ==, latest);
  g_assert_cmpint(json_object_get_int_member(dbx, "missing-from-latest"), ==, missing);
  GHashTable *want[] = { companies, archs };
  const char *member[] = { "by-company", "by-arch" };
  for (int k = 0; k < 2; k++) {
    JsonObject *got = json_object_get_object_member(dbx, member[k]);
    g_assert_cmpuint(json_object_get_size(got), ==, g_hash_table_size(want[k]));
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, want[k]);
    while (g_hash_table_iter_next(&it, &key, &val))
      if (!json_object_has_member(got, key) ||
          json_object_get_int_member(got, key) != GPOINTER_TO_UINT(val))
        vsb_test_fail("%s.%s: expected %u", member[k], (const char *)key, GPOINTER_TO_UINT(val));
  }
}

/* Each dbx entry of the report's variables is named: the picks by their record, the others
 * (placeholder, unknown hash) null. */
static void
check_dbx_names(JsonNode *root, GPtrArray *picks)
{
  JsonArray *vars = json_object_get_array_member(json_node_get_object(root), "variables");
  JsonArray *entries = NULL;
  for (guint i = 0; i < json_array_get_length(vars); i++) {
    JsonObject *v = json_array_get_object_element(vars, i);
    if (strcmp(json_object_get_string_member(v, "name"), "dbx") == 0)
      entries = json_object_get_array_member(json_object_get_object_member(v, "value"), "entries");
  }
  g_assert_nonnull(entries);
  guint named = 0;
  for (guint i = 0; i < json_array_get_length(entries); i++) {
    JsonObject *e = json_array_get_object_element(entries, i);
    g_assert_true(json_object_has_member(e, "dbx-info"));
    JsonNode *n = json_object_get_member(e, "dbx-info");
    if (JSON_NODE_HOLDS_NULL(n))
      continue;
    JsonObject *info = json_node_get_object(n);
    g_autoptr(GBytes) hash = vsb_hex_decode(json_object_get_string_member(e, "hash"), NULL);
    for (guint k = 0; k < picks->len; k++) {
      Pick *p = picks->pdata[k];
      if (!g_bytes_equal(hash, p->hash))
        continue;
      g_assert_cmpstr(json_object_get_string_member(info, "company"), ==, p->company);
      g_assert_cmpstr(json_object_get_string_member(info, "arch"), ==, p->arch);
      g_assert_cmpstr(json_object_get_string_member(info, "date"), ==, p->date);
      g_assert_cmpstr(json_object_get_string_member(info, "kind"), ==, "image");
      named++;
    }
  }
  g_assert_cmpuint(named, ==, picks->len);
}

static void
test_dbx_explained(void)
{
  g_autofree char *dir = data_dir();
  g_autofree char *jpath = g_build_filename(dir, "microsoft", "dbx_info_msft_latest.json", NULL);
  g_autoptr(GBytes) jb = read_file(jpath);
  g_autofree char *jtext = g_strndup(g_bytes_get_data(jb, NULL), g_bytes_get_size(jb));
  g_autoptr(JsonNode) info = vsb_test_parse_json(jtext);
  JsonObject *images = json_object_get_object_member(json_node_get_object(info), "images");
  guint n_x64 = json_array_get_length(json_object_get_array_member(images, "x64"));
  guint n_arm64 = json_array_get_length(json_object_get_array_member(images, "aarch64"));

  /* Three x64 entries (two companies at least), one arm64 entry not listed for x64, and a
   * hash nobody lists, into Debian's Microsoft store (whose dbx holds the placeholder). */
  g_autoptr(GPtrArray) picks = g_ptr_array_new_with_free_func((GDestroyNotify)pick_free);
  g_ptr_array_add(picks, pick(images, "x64", 0));
  g_ptr_array_add(picks, pick(images, "x64", 1));
  g_ptr_array_add(picks, pick(images, "x64", n_x64 - 1));
  for (guint i = 0; i < n_arm64; i++) {
    Pick *p = pick(images, "aarch64", i);
    if (!listed_in(images, "x64", p->hash)) {
      g_ptr_array_add(picks, p);
      break;
    }
    pick_free(p);
  }
  g_assert_cmpuint(picks->len, ==, 4);
  g_assert_cmpstr(((Pick *)picks->pdata[0])->company, !=, ((Pick *)picks->pdata[1])->company);
  g_autoptr(VsbVarstore) s = load_store(OVMF "OVMF_VARS_4M.ms.fd");
  g_autoptr(VsbEnroll) e = vsb_enroll_new(s);
  g_autoptr(GError) error = NULL;
  for (guint i = 0; i < picks->len; i++)
    g_assert_true(vsb_enroll_add_hash(e, VSB_SB_DBX,
                                      g_bytes_get_data(((Pick *)picks->pdata[i])->hash, NULL),
                                      vsb_ms_owner_guid(), &error));
  guint8 unknown[32];
  memset(unknown, 0x5a, sizeof unknown);
  g_assert_true(vsb_enroll_add_hash(e, VSB_SB_DBX, unknown, vsb_ms_owner_guid(), &error));
  g_autofree char *tmp = vsb_test_tmpdir();
  g_autofree char *path = save_store(s, tmp, "dbx.fd");
  g_autoptr(JsonNode) root = NULL;
  JsonObject *sb = show_json(path, &root);
  check_dbx(json_object_get_object_member(sb, "dbx"), picks, 1 + picks->len + 1, "x64", n_x64,
            n_x64 - 3);
  check_dbx_names(root, picks);
  g_autofree char *text = NULL;
  g_assert_cmpint(vsb_test_run(&text, NULL, "vars", "show", path, NULL), ==, 0);
  g_autofree char *line = g_strdup_printf("dbx: %u entries, %u known to Microsoft's list",
                                          1 + picks->len + 1, picks->len);
  if (strstr(text, line) == NULL)
    vsb_test_fail("text lacks '%s':\n%s", line, text);
  g_autofree char *older = g_strdup_printf("it lacks %u of the %u x64 entries", n_x64 - 3, n_x64);
  g_assert_nonnull(strstr(text, older));

  /* An ArmVirt store is compared with the arm64 list. */
  g_autoptr(VsbVarstore) arm = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_ARMVIRT, &error);
  g_assert_no_error(error);
  g_autoptr(VsbEnroll) ea = vsb_enroll_new(arm);
  Pick *last = picks->pdata[3];
  g_assert_true(vsb_enroll_add_hash(ea, VSB_SB_DBX, g_bytes_get_data(last->hash, NULL),
                                    vsb_ms_owner_guid(), &error));
  g_autoptr(VsbDbxInfo) di = vsb_dbx_info_load(NULL, &error);
  g_assert_no_error(error);
  g_autoptr(VsbDbxExplanation) ex = vsb_dbx_explain(di, arm);
  g_assert_cmpstr(ex->arch, ==, "aarch64");
  g_assert_cmpuint(ex->known, ==, 1);
  g_assert_cmpuint(ex->latest, ==, n_arm64);
  g_assert_cmpuint(ex->missing, ==, n_arm64 - 1);
  g_autoptr(GPtrArray) hashes = vsb_dbx_info_hashes(di, "aarch64");
  g_assert_cmpuint(hashes->len, ==, n_arm64);
}

/* Microsoft's own objects: the PCA 2011 certificate and the boot manager SVNs. */
static void
test_dbx_microsoft_objects(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbDbxInfo) di = vsb_dbx_info_load(NULL, &error);
  g_assert_no_error(error);
  g_autoptr(GBytes) der = vsb_ms_cert_der(VSB_MS_WINDOWS_2011, &error);
  g_assert_no_error(error);
  const VsbDbxRecord *r = vsb_dbx_info_lookup(di, VSB_SIG_X509, der, "x64");
  g_assert_nonnull(r);
  g_assert_cmpstr(r->kind, ==, "certificate");
  g_assert_cmpstr(r->date, ==, "2024-02-01");
  g_autoptr(GBytes) svn =
    vsb_hex_decode("01612B139DD5598843AB1C185C3CB2EB92000009000000000000000000000000", &error);
  r = vsb_dbx_info_lookup(di, VSB_SIG_SHA256, svn, "x64");
  g_assert_nonnull(r);
  g_assert_cmpstr(r->kind, ==, "svn");
  g_assert_cmpstr(r->filename, ==, "bootmgfw.efi");

  /* A list without "images" is refused, naming the file. */
  g_autofree char *tmp = vsb_test_tmpdir();
  g_autofree char *bad = g_build_filename(tmp, "bad.json", NULL);
  vsb_test_write_file(bad, "{\"images\": {\"x64\": [{\"hashType\": \"SHA256\", "
                           "\"authenticodeHash\": \"12\"}]}}", -1);
  g_autoptr(VsbDbxInfo) none = vsb_dbx_info_load(bad, &error);
  g_assert_null(none);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, "images.x64[0].authenticodeHash"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* The tests read the source tree's data, and so does every vsboot they run. */
  g_autofree char *dir = data_dir();
  g_setenv("VSB_DATA_DIR", dir, TRUE);
  g_test_add_func("/microsoft/data", test_data);
  g_test_add_func("/microsoft/data-checked", test_data_checked);
  g_test_add_func("/microsoft/sets", test_sets);
  g_test_add_func("/microsoft/debian-stores", test_debian_stores);
  g_test_add_func("/microsoft/enrolled-2023", test_enrolled_2023);
  g_test_add_func("/microsoft/lookalike", test_lookalike);
  g_test_add_func("/microsoft/revoked", test_revoked);
  g_test_add_func("/microsoft/dbx-explained", test_dbx_explained);
  g_test_add_func("/microsoft/dbx-microsoft-objects", test_dbx_microsoft_objects);
  return g_test_run();
}

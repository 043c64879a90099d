/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enrollment: virt-fw-vars' output reproduced byte for byte with the library's primitives, the
 * CLI's reports, and bad input refused with nothing written. */
#include "testutil.h"

#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/guid.h"
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "vsboot/varstore.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#define OVMF_VARS_4M "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define OVMF_VARS_2M "/usr/share/OVMF/OVMF_VARS.fd"
#define OVMF_VARS_4M_MS "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
#define OVMF_CODE_4M "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"

static char *
cert_path(const char *name)
{
  return g_strdup_printf("%s/certs/%s.pem", vsb_test_data_dir(), name);
}

static X509 *
load_cert(const char *name)
{
  g_autofree char *path = cert_path(name);
  g_autoptr(GError) error = NULL;
  X509 *c = vsb_cert_load(path, &error);
  g_assert_no_error(error);
  return c;
}

static char *
sha256_hex(const void *data, gsize len)
{
  guint8 md[32];
  unsigned int n = 0;
  EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
  return vsb_hex_encode(md, n);
}

static char *
file_sha256(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  return sha256_hex(data, len);
}

static void
add(VsbEnroll *e, VsbSbVariable var, const char *cert, const VsbGuid *owner)
{
  g_autoptr(GError) error = NULL;
  X509 *c = load_cert(cert);
  g_assert_true(vsb_enroll_add_cert(e, var, c, owner, &error));
  g_assert_no_error(error);
  X509_free(c);
}

/* virt-fw-vars --enroll-redhat --secure-boot, step by step (efivar.py
 * enroll_platform_with_cert, add_microsoft_keys, enable_secureboot). */
static GBytes *
enroll_redhat(const char *template)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(template, &error);
  g_assert_no_error(error);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  const VsbGuid *rh = &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, *ms = &VSB_GUID_MICROSOFT_VENDOR;
  X509 *pk = load_cert("RedHatSecureBootPKKEKkey1");
  g_assert_true(vsb_enroll_set_pk(e, pk, rh, &error));
  X509_free(pk);
  add(e, VSB_SB_KEK, "RedHatSecureBootPKKEKkey1", rh);
  add(e, VSB_SB_KEK, "MicrosoftCorporationKEKCA2011", ms);
  add(e, VSB_SB_KEK, "MicrosoftCorporationKEK2KCA2023", ms);
  add(e, VSB_SB_DB, "MicrosoftWindowsProductionPCA2011", ms);
  add(e, VSB_SB_DB, "WindowsUEFICA2023", ms);
  add(e, VSB_SB_DB, "MicrosoftCorporationUEFICA2011", ms);
  add(e, VSB_SB_DB, "MicrosoftUEFICA2023", ms);
  g_assert_true(vsb_enroll_set_secure_boot(e, TRUE, &error));
  /* virt-fw-vars writes the variables sorted by name. */
  vsb_varstore_sort_by_name(store);
  GBytes *out = vsb_varstore_serialize(store, &error);
  g_assert_no_error(error);
  return out;
}

/* Notes §5 vector 6: virt-fw-vars 24.4 output hashes. */
static void
test_vector6_4m(void)
{
  g_autoptr(GBytes) out = enroll_redhat(OVMF_VARS_4M);
  gsize len = 0;
  const guint8 *p = g_bytes_get_data(out, &len);
  g_assert_cmpuint(len, ==, 0x84000);
  /* PK header + name at 0x10C8, as the notes quote it. */
  g_autoptr(GBytes) hdr = vsb_hex_decode(
    "aa553f0027000000 0000000000000000 de070a1f0b0f2500 0000000000000000 00000000 06000000 "
    "d0030000 61dfe48bca93d211aa0d00e098032b8c 50004b000000", NULL);
  g_assert_cmpmem(p + 0x10c8, g_bytes_get_size(hdr), g_bytes_get_data(hdr, NULL),
                  g_bytes_get_size(hdr));
  g_autofree char *sum = sha256_hex(p, len);
  g_assert_cmpstr(sum, ==, "2ebc335572f00c3b02a1585b1feeb15fc45872175ba574d9818510e374765543");
}

static void
test_vector6_2m(void)
{
  g_autoptr(GBytes) out = enroll_redhat(OVMF_VARS_2M);
  g_autofree char *sum = sha256_hex(g_bytes_get_data(out, NULL), g_bytes_get_size(out));
  g_assert_cmpstr(sum, ==, "c41ba2fb02d2636d4c998f04824c3702d2a63362bc7709d05569dbfa77932c41");
}

/* virt-fw-vars --secure-boot alone: placeholder dbx, SecureBootEnable=1, CustomMode=0. The
 * CLI writes in the order of the steps; sorting is only needed when several variables are
 * made, so this one goes through the CLI and compares after a sort through the library. */
static void
test_secure_boot_only(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *out = g_build_filename(dir, "vars.fd", NULL);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", OVMF_VARS_4M, "-o", out, "--secure-boot",
                        "on", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(out, &error);
  g_assert_no_error(error);
  const VsbVariable *dbx = vsb_varstore_lookup(store, "dbx", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE);
  g_assert_nonnull(dbx);
  g_assert_cmphex(dbx->attributes, ==, 0x27);
  g_assert_cmpuint(dbx->timestamp.year, ==, 2010);
  g_assert_cmpuint(dbx->timestamp.month, ==, 1);
  g_assert_cmpuint(dbx->timestamp.day, ==, 1);
  /* Notes §5 vector 5. */
  g_autoptr(GBytes) esl = vsb_hex_decode(
    "2616c4c14c509240aca941f936934328 4c000000 00000000 30000000 "
    "a3a8baa01d04a848bc87c36d121b5e3d "
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL);
  g_assert_true(g_bytes_equal(dbx->data, esl));
  const VsbVariable *sbe = vsb_varstore_lookup(store, "SecureBootEnable", NULL);
  g_assert_nonnull(sbe);
  g_assert_cmphex(sbe->attributes, ==, 0x03);
  g_assert_cmpuint(g_bytes_get_size(sbe->data), ==, 1);
  g_assert_cmpuint(((const guint8 *)g_bytes_get_data(sbe->data, NULL))[0], ==, 1);
  g_assert_true(vsb_efi_time_is_zero(&sbe->timestamp));
  vsb_varstore_sort_by_name(store);
  g_autoptr(GBytes) bytes = vsb_varstore_serialize(store, &error);
  g_assert_no_error(error);
  g_autofree char *sum = sha256_hex(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
  g_assert_cmpstr(sum, ==, "45dbc4f2049d842888fd88c36917660b03ad9a79aa697027aa35e7dadfd05700");
}

/* Own keys through the CLI: what the JSON report says and what lands in the store. */
static void
test_cli_own_keys(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_autofree char *out = g_build_filename(dir, "vars.fd", NULL);
  g_autofree char *json = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&json, &err, "keys", "generate", keys, "--json", NULL), ==, 0);
  g_autoptr(JsonNode) kn = vsb_test_parse_json(json);
  const char *owner = json_object_get_string_member(json_node_get_object(kn), "owner");
  VsbGuid owner_guid;
  g_assert_true(vsb_guid_parse(owner, &owner_guid));

  g_autofree char *pk = g_build_filename(keys, "PK.crt", NULL);
  g_autofree char *kek = g_build_filename(keys, "KEK.crt", NULL);
  g_autofree char *db = g_build_filename(keys, "db.crt", NULL);
  g_autofree char *out_json = NULL;
  g_clear_pointer(&err, g_free);
  int rc = vsb_test_run(&out_json, &err, "vars", "enroll", OVMF_VARS_4M, "-o", out, "--pk", pk,
                        "--kek", kek, "--db", db, "--db", db, "--owner", owner, "--secure-boot",
                        "on", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) rn = vsb_test_parse_json(out_json);
  JsonArray *changes = json_object_get_array_member(json_node_get_object(rn), "changes");
  /* set PK, add KEK, add db, skip db (the same certificate again), create dbx, SBE, CM. */
  g_assert_cmpuint(json_array_get_length(changes), ==, 7);
  static const char *const expect[][2] = {
    { "set", "PK" }, { "add", "KEK" }, { "add", "db" }, { "skip", "db" },
    { "create", "dbx" }, { "create", "SecureBootEnable" }, { "create", "CustomMode" },
  };
  for (guint i = 0; i < 7; i++) {
    JsonObject *c = json_array_get_object_element(changes, i);
    g_assert_cmpstr(json_object_get_string_member(c, "action"), ==, expect[i][0]);
    g_assert_cmpstr(json_object_get_string_member(c, "variable"), ==, expect[i][1]);
  }

  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(out, &error);
  g_assert_no_error(error);
  const VsbVariable *v = vsb_varstore_lookup(store, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_assert_nonnull(v);
  g_assert_cmphex(v->attributes, ==, 0x27);
  g_autoptr(GPtrArray) entries = vsb_siglist_parse(g_bytes_get_data(v->data, NULL),
                                                   g_bytes_get_size(v->data), &error);
  g_assert_no_error(error);
  g_assert_cmpuint(entries->len, ==, 1);
  VsbSigEntry *en = entries->pdata[0];
  g_assert_cmpint(en->type, ==, VSB_SIG_X509);
  g_assert_true(vsb_guid_equal(&en->owner, &owner_guid));
  /* The time stamp is the certificate's notBefore. */
  X509 *c = vsb_cert_load(pk, &error);
  g_assert_no_error(error);
  VsbEfiTime nb;
  g_assert_true(vsb_efi_time_from_asn1(X509_get0_notBefore(c), &nb));
  g_assert_cmpint(vsb_efi_time_compare(&nb, &v->timestamp), ==, 0);
  g_autoptr(GBytes) der = vsb_cert_to_der(c);
  g_assert_true(g_bytes_equal(en->data, der));
  X509_free(c);
  const VsbVariable *dbv = vsb_varstore_lookup(store, "db", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE);
  g_assert_nonnull(dbv);
  g_autoptr(GPtrArray) dbe = vsb_siglist_parse(g_bytes_get_data(dbv->data, NULL),
                                               g_bytes_get_size(dbv->data), &error);
  g_assert_cmpuint(dbe->len, ==, 1);
}

/* Hashes: one shared SHA-256 list, a repeated hash skipped, time stamp "now" moving forward. */
static void
test_hashes(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(OVMF_VARS_4M, &error);
  g_assert_no_error(error);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  VsbEfiTime now = { .year = 2030, .month = 5, .day = 6, .hour = 7, .minute = 8, .second = 9 };
  vsb_enroll_set_now(e, &now);
  g_assert_true(vsb_enroll_set_secure_boot(e, TRUE, &error)); /* placeholder dbx */
  guint8 h1[32], h2[32];
  memset(h1, 0x11, 32);
  memset(h2, 0x22, 32);
  const VsbGuid *o = &VSB_GUID_MICROSOFT_VENDOR;
  g_assert_true(vsb_enroll_add_hash(e, VSB_SB_DBX, h1, o, &error));
  g_assert_true(vsb_enroll_add_hash(e, VSB_SB_DBX, h2, o, &error));
  g_assert_true(vsb_enroll_add_hash(e, VSB_SB_DBX, h1, o, &error));
  GPtrArray *changes = vsb_enroll_get_changes(e);
  const VsbEnrollChange *last = changes->pdata[changes->len - 1];
  g_assert_cmpstr(last->action, ==, "skip");
  const VsbVariable *dbx = vsb_varstore_lookup(store, "dbx", NULL);
  /* One list: header 28 + 3 entries of 48. */
  g_assert_cmpuint(g_bytes_get_size(dbx->data), ==, 28 + 3 * 48);
  const guint8 *p = g_bytes_get_data(dbx->data, NULL);
  g_assert_cmpuint(p[16] | p[17] << 8, ==, 28 + 3 * 48);
  g_assert_cmpint(vsb_efi_time_compare(&dbx->timestamp, &now), ==, 0);
  /* Hashes are refused for PK and KEK. */
  g_assert_false(vsb_enroll_add_hash(e, VSB_SB_KEK, h1, o, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
}

/* A signed dbx update (synthetic: the signature is carried, not checked). */
static GBytes *
make_auth2(guint32 n_hashes, gboolean pkcs7)
{
  GByteArray *b = g_byte_array_new();
  guint8 ts[16] = { 0xe8, 0x07, 1, 2, 3, 4, 5, 0, 0x40, 0xe2, 0x01, 0 /* 123456 ns */ };
  g_byte_array_append(b, ts, 16);
  guint8 fake_pkcs7[10] = { 0x30, 0x08, 1, 2, 3, 4, 5, 6, 7, 8 };
  guint32 dw = 24 + sizeof fake_pkcs7;
  guint8 wc[8] = { dw & 0xff, dw >> 8, 0, 0, 0x00, 0x02, 0xf1, 0x0e };
  g_byte_array_append(b, wc, 8);
  const VsbGuid *ct = pkcs7 ? &VSB_GUID_EFI_CERT_TYPE_PKCS7 : &VSB_GUID_EFI_CERT_X509;
  g_byte_array_append(b, ct->b, 16);
  g_byte_array_append(b, fake_pkcs7, sizeof fake_pkcs7);
  guint32 ls = 28 + 48 * n_hashes;
  guint8 hdr[12] = { ls, ls >> 8, ls >> 16, ls >> 24, 0, 0, 0, 0, 48, 0, 0, 0 };
  g_byte_array_append(b, VSB_GUID_EFI_CERT_SHA256.b, 16);
  g_byte_array_append(b, hdr, 12);
  for (guint32 i = 0; i < n_hashes; i++) {
    guint8 sig[48];
    memcpy(sig, VSB_GUID_MICROSOFT_VENDOR.b, 16);
    memset(sig + 16, 0, 32);
    memcpy(sig + 16, &i, sizeof i);
    g_byte_array_append(b, sig, 48);
  }
  return g_byte_array_free_to_bytes(b);
}

/* Microsoft's objects, from the shared data beside the checkout (VSB_MS_DATA overrides). */
static char *
ms_update(const char *name)
{
  const char *env = g_getenv("VSB_MS_DATA");
  g_autofree char *root = env ? g_strdup(env)
                              : g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "..", "shared",
                                                 "data", "microsoft", NULL);
  char *p = g_build_filename(root, "updates", name, NULL);
  if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("Microsoft's %s is not at %s", name, p);
  return p;
}

/* --dbx-update verifies Microsoft's signed update against the store's KEK and appends it, as
 * the firmware does; a setup-mode store trusts nobody (refused) unless --unsigned-update. */
static void
test_dbx_update(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *upd = ms_update("DBXUpdate.amd64.bin");
  g_autofree char *out = g_build_filename(dir, "vars.fd", NULL);
  g_autofree char *o = NULL, *err = NULL;
  int rc = vsb_test_run(&o, &err, "vars", "enroll", OVMF_VARS_4M_MS, "-o", out, "--dbx-update",
                        upd, "--dbx-hash",
                        "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", NULL);
  if (rc != 0)
    vsb_test_fail("--dbx-update on the Microsoft store: exit %d: %s", rc, err);
  g_assert_nonnull(strstr(o, "trusted through KEK"));
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(out, &error);
  g_assert_no_error(error);
  const VsbVariable *dbx = vsb_varstore_lookup(store, "dbx", NULL);
  g_assert_nonnull(dbx);
  g_assert_cmphex(dbx->attributes, ==, 0x27);
  g_autoptr(GPtrArray) entries =
    vsb_siglist_parse(g_bytes_get_data(dbx->data, NULL), g_bytes_get_size(dbx->data), &error);
  g_assert_no_error(error);
  g_assert_cmpuint(entries->len, >=, 443 + 1);
  /* The added hash's "now" is later than the update's 2010 time stamp: time only moves on. */
  g_assert_cmpuint(dbx->timestamp.year, >=, 2026);

  /* The empty template is in setup mode: no certificate to verify against. */
  g_autofree char *out2 = g_build_filename(dir, "setup.fd", NULL);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "vars", "enroll", OVMF_VARS_4M, "-o", out2, "--dbx-update", upd,
                    NULL);
  g_assert_cmpint(rc, ==, 1);
  g_assert_nonnull(strstr(err, "setup mode"));
  g_assert_false(g_file_test(out2, G_FILE_TEST_EXISTS));
  /* The host owner may apply it anyway; the report says it was not verified. */
  g_autofree char *json = NULL;
  rc = vsb_test_run(&json, NULL, "vars", "enroll", OVMF_VARS_4M, "-o", out2, "--dbx-update", upd,
                    "--unsigned-update", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) node = vsb_test_parse_json(json);
  JsonObject *u = json_array_get_object_element(
    json_object_get_array_member(json_node_get_object(node), "updates"), 0);
  g_assert_false(json_object_get_boolean_member(u, "verified"));
  g_assert_nonnull(json_object_get_string_member(u, "unverified-reason"));
  g_assert_cmpint(json_object_get_int_member(u, "entries-added"), ==, 443);
}

/* Copy KEK, db, dbx from the Microsoft-enrolled template, with our own PK. */
static void
test_copy_from(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *out = g_build_filename(dir, "vars.fd", NULL);
  g_autofree char *pk = cert_path("RedHatSecureBootPKKEKkey1");
  g_autofree char *o = NULL, *err = NULL;
  int rc = vsb_test_run(&o, &err, "vars", "enroll", OVMF_VARS_4M, "-o", out, "--copy-from",
                        OVMF_VARS_4M_MS, "--pk", pk, "--secure-boot", "on", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) ms = vsb_varstore_load(OVMF_VARS_4M_MS, &error);
  g_autoptr(VsbVarstore) store = vsb_varstore_load(out, &error);
  g_assert_no_error(error);
  const char *names[] = { "KEK", "db", "dbx" };
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    const VsbVariable *a = vsb_varstore_lookup(ms, names[i], NULL);
    const VsbVariable *b = vsb_varstore_lookup(store, names[i], NULL);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_true(g_bytes_equal(a->data, b->data));
    g_assert_cmpint(vsb_efi_time_compare(&a->timestamp, &b->timestamp), ==, 0);
    g_assert_cmphex(a->attributes, ==, b->attributes);
  }
  /* --copy of a variable the source does not have is an error. */
  g_autofree char *out2 = g_build_filename(dir, "vars2.fd", NULL);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "vars", "enroll", OVMF_VARS_4M, "-o", out2, "--copy-from",
                    OVMF_VARS_4M, "--copy", "KEK", NULL);
  g_assert_cmpint(rc, ==, 2);
  g_assert_nonnull(strstr(err, "no variable KEK"));
  g_assert_false(g_file_test(out2, G_FILE_TEST_EXISTS));
}

/* Each bad input: exit 2, a message naming the problem, no output file, input untouched. */
static void
expect_refused(const char *dir, const char *in_place, const char *needle, ...)
{
  g_autofree char *out = g_build_filename(dir, "never.fd", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  g_ptr_array_add(args, (char *)"vars");
  g_ptr_array_add(args, (char *)"enroll");
  if (in_place) {
    g_ptr_array_add(args, (char *)"--in-place");
    g_ptr_array_add(args, (char *)in_place);
  } else {
    g_ptr_array_add(args, (char *)OVMF_VARS_4M);
    g_ptr_array_add(args, (char *)"-o");
    g_ptr_array_add(args, out);
  }
  va_list ap;
  va_start(ap, needle);
  for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
    g_ptr_array_add(args, (char *)a);
  va_end(ap);
  g_ptr_array_add(args, NULL);
  g_autofree char *before = in_place ? file_sha256(in_place) : NULL;
  g_autofree char *err = NULL;
  int rc = vsb_test_runv((const char *const *)args->pdata, NULL, &err);
  g_test_message("stderr: %s", err);
  g_assert_cmpint(rc, ==, 2);
  g_assert_nonnull(strstr(err, needle));
  g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
  if (in_place) {
    g_autofree char *after = file_sha256(in_place);
    g_assert_cmpstr(before, ==, after);
  }
}

static void
test_bad_input(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *garbage = g_build_filename(dir, "garbage.crt", NULL);
  vsb_test_write_file(garbage, "\x30\x82\x05\x00garbage, not DER", -1);
  g_autofree char *badpem = g_build_filename(dir, "bad.pem", NULL);
  vsb_test_write_file(badpem, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                      -1);
  g_autofree char *two = g_build_filename(dir, "two.pem", NULL);
  g_autofree char *rh = cert_path("RedHatSecureBootPKKEKkey1");
  g_autofree char *ms = cert_path("MicrosoftUEFICA2023");
  g_autofree char *a = NULL, *b = NULL;
  g_assert_true(g_file_get_contents(rh, &a, NULL, NULL));
  g_assert_true(g_file_get_contents(ms, &b, NULL, NULL));
  g_autofree char *ab = g_strconcat(a, b, NULL);
  vsb_test_write_file(two, ab, -1);
  g_autofree char *x509auth = g_build_filename(dir, "x509.auth", NULL);
  g_autoptr(GBytes) notpkcs7 = make_auth2(1, FALSE);
  vsb_test_write_file(x509auth, g_bytes_get_data(notpkcs7, NULL), g_bytes_get_size(notpkcs7));
  g_autofree char *huge = g_build_filename(dir, "huge.auth", NULL);
  g_autoptr(GBytes) big = make_auth2(2000, TRUE); /* ~96 KB of dbx */
  vsb_test_write_file(huge, g_bytes_get_data(big, NULL), g_bytes_get_size(big));
  g_autofree char *small = g_build_filename(dir, "small.fd", NULL);
  g_autofree char *tmpl = NULL;
  gsize tlen = 0;
  g_assert_true(g_file_get_contents(OVMF_VARS_2M, &tmpl, &tlen, NULL));
  vsb_test_write_file(small, tmpl, tlen);

  expect_refused(dir, NULL, "garbage.crt", "--db", garbage, NULL);
  expect_refused(dir, NULL, "bad.pem", "--kek", badpem, NULL);
  expect_refused(dir, NULL, "PK takes exactly one", "--pk", two, NULL);
  expect_refused(dir, NULL, "no-such.crt", "--db", "/nonexistent/no-such.crt", NULL);
  expect_refused(dir, NULL, "is not a GUID", "--owner", "a0baa8a3-041d-48a8-bc87", "--db", rh,
                 NULL);
  expect_refused(dir, NULL, "expected 32", "--db-hash", "e3b0c442", NULL);
  expect_refused(dir, NULL, "not a hex digit", "--dbx-hash",
                 "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL);
  expect_refused(dir, NULL, "x509.auth", "--dbx-update", x509auth, NULL);
  expect_refused(dir, NULL, "on or off", "--secure-boot", "yes", NULL);
  expect_refused(dir, NULL, "nothing to do", NULL);
  expect_refused(dir, NULL, "no variable PK to delete", "--delete", "PK", NULL);
  /* Overflow: 96 KB of dbx hashes do not fit the 2M layout; the sizes are in the message. */
  {
    g_autoptr(GPtrArray) hargs = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(hargs, g_strdup("vars"));
    g_ptr_array_add(hargs, g_strdup("enroll"));
    g_ptr_array_add(hargs, g_strdup("--in-place"));
    g_ptr_array_add(hargs, g_strdup(small));
    for (guint i = 0; i < 2100; i++) {
      g_ptr_array_add(hargs, g_strdup("--dbx-hash"));
      g_ptr_array_add(hargs, g_strdup_printf("%064x", i + 1));
    }
    g_ptr_array_add(hargs, NULL);
    g_autofree char *before = file_sha256(small);
    g_autofree char *err = NULL;
    int rc = vsb_test_runv((const char *const *)hargs->pdata, NULL, &err);
    g_assert_cmpint(rc, ==, 2);
    g_assert_true(g_regex_match_simple("need [0-9]+ bytes.*room for [0-9]+", err, 0, 0));
    g_autofree char *after = file_sha256(small);
    g_assert_cmpstr(before, ==, after);
  }
  /* A single-value option given twice: refused, not "the last one wins" (PK holds one
   * certificate; --pk A --pk B used to enroll only B). Repeatable options stay repeatable. */
  expect_refused(dir, NULL, "--pk given twice", "--pk", rh, "--pk", ms, NULL);
  expect_refused(dir, NULL, "PK holds exactly one certificate", "--pk", rh, "--pk", rh, NULL);
  expect_refused(dir, NULL, "--secure-boot given twice ('on', then 'off')", "--secure-boot", "on",
                 "--secure-boot", "off", NULL);
  expect_refused(dir, NULL, "--owner given twice", "--owner",
                 "a0baa8a3-041d-48a8-bc87-c36d121b5e3d", "--owner",
                 "11111111-2222-3333-4444-555555555555", "--db", rh, NULL);
  expect_refused(dir, NULL, "--copy-from given twice", "--copy-from", OVMF_VARS_4M_MS,
                 "--copy-from", OVMF_VARS_4M_MS, NULL);
  /* Not a signed update (its CertData is no PKCS#7), and a real one cut short: refused. */
  expect_refused(dir, NULL, "huge.auth", "--dbx-update", huge, NULL);
  {
    g_autofree char *real = ms_update("DBXUpdate.amd64.bin");
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(real, &data, &len, NULL));
    g_autofree char *cut = g_build_filename(dir, "cut.bin", NULL);
    vsb_test_write_file(cut, data, 3000);
    expect_refused(dir, NULL, "truncated", "--dbx-update", cut, NULL);
  }
  {
    g_autofree char *out2 = g_build_filename(dir, "out2.fd", NULL);
    expect_refused(dir, NULL, "--output given twice", "-o", out2, "--db", rh, NULL);
    g_assert_false(g_file_test(out2, G_FILE_TEST_EXISTS));
  }
  expect_refused(dir, small, "--in-place given twice", "--in-place", small, "--secure-boot", "on",
                 NULL);
  {
    g_autofree char *out = g_build_filename(dir, "two-db.fd", NULL);
    g_autofree char *json = NULL;
    int rc = vsb_test_run(&json, NULL, "vars", "enroll", OVMF_VARS_4M, "-o", out, "--db", rh,
                          "--db", ms, "--json", NULL);
    g_assert_cmpint(rc, ==, 0);
    g_autoptr(JsonNode) root = vsb_test_parse_json(json);
    JsonArray *changes = json_object_get_array_member(json_node_get_object(root), "changes");
    guint added = 0;
    for (guint i = 0; i < json_array_get_length(changes); i++) {
      JsonObject *c = json_array_get_object_element(changes, i);
      added += g_strcmp0(json_object_get_string_member(c, "variable"), "db") == 0 &&
               g_strcmp0(json_object_get_string_member(c, "action"), "add") == 0;
    }
    g_assert_cmpuint(added, ==, 2);
  }
  /* A truncated qcow2 store: refused, untouched (it used to read as a blank store). */
  {
    g_autofree char *tq = vsb_test_truncated_qcow2(dir, OVMF_VARS_4M_MS);
    expect_refused(dir, tq, "tr.qcow2: the qcow2 image is corrupt or truncated", "--pk", rh,
                   NULL);
  }
  /* A truncated store as input. */
  g_autofree char *trunc = g_build_filename(dir, "trunc.fd", NULL);
  vsb_test_write_file(trunc, tmpl, 0x1000);
  expect_refused(dir, trunc, "trunc.fd", "--secure-boot", "on", NULL);
}

/* --in-place on a store a running QEMU holds: refused, then allowed with --force. */
/* A JSON store (QEMU uefi-vars) is enrolled directly: an edk2 store exported to JSON, enrolled
 * as JSON and imported back over the same template is byte for byte the store the same
 * enrolment gives on the flash image, the reports name the same changes, and --in-place keeps
 * a JSON store JSON. */
static void
test_json_store(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, &err, "keys", "generate", keys, NULL), ==, 0);
  g_autofree char *pk = g_build_filename(keys, "PK.crt", NULL);
  g_autofree char *kek = g_build_filename(keys, "KEK.crt", NULL);
  g_autofree char *db = g_build_filename(keys, "db.crt", NULL);
  g_autofree char *flash = g_build_filename(dir, "flash.fd", NULL);
  g_autofree char *a = g_build_filename(dir, "a.json", NULL);
  g_autofree char *b = g_build_filename(dir, "b.json", NULL);
  g_autofree char *back = g_build_filename(dir, "back.fd", NULL);
  const char *steps[] = { "--pk", pk, "--kek", kek, "--db", db, "--microsoft", "2023",
                          "--dbx-cert", db, "--secure-boot", "on", "--json", NULL };

  g_autoptr(GPtrArray) args = g_ptr_array_new();
  const char *head_flash[] = { "vars", "enroll", OVMF_VARS_4M_MS, "-o", flash };
  for (gsize i = 0; i < G_N_ELEMENTS(head_flash); i++)
    g_ptr_array_add(args, (gpointer)head_flash[i]);
  for (const char *const *p = steps; *p; p++)
    g_ptr_array_add(args, (gpointer)*p);
  g_ptr_array_add(args, NULL);
  g_autofree char *flash_report = NULL;
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_runv((const char *const *)args->pdata, &flash_report, &err), ==, 0);

  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "export", OVMF_VARS_4M_MS, "-o", a, NULL), ==, 0);
  args->pdata[2] = a;
  args->pdata[4] = b;
  g_autofree char *json_report = NULL;
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_runv((const char *const *)args->pdata, &json_report, &err), ==, 0);
  /* The output is JSON, not a flash image. */
  g_autoptr(GBytes) bj = vsb_file_read(b, 1 << 20, NULL);
  g_assert_nonnull(bj);
  g_assert_cmpint(((const char *)g_bytes_get_data(bj, NULL))[0], ==, '{');

  /* The same changes, in the same order. */
  g_autoptr(JsonNode) fr = vsb_test_parse_json(flash_report);
  g_autoptr(JsonNode) jr = vsb_test_parse_json(json_report);
  JsonArray *fc = json_object_get_array_member(json_node_get_object(fr), "changes");
  JsonArray *jc = json_object_get_array_member(json_node_get_object(jr), "changes");
  g_assert_cmpuint(json_array_get_length(fc), ==, json_array_get_length(jc));
  g_assert_cmpuint(json_array_get_length(fc), >, 5);
  for (guint i = 0; i < json_array_get_length(fc); i++) {
    JsonObject *x = json_array_get_object_element(fc, i), *y = json_array_get_object_element(jc, i);
    g_assert_cmpstr(json_object_get_string_member(x, "action"), ==,
                    json_object_get_string_member(y, "action"));
    g_assert_cmpstr(json_object_get_string_member(x, "variable"), ==,
                    json_object_get_string_member(y, "variable"));
    g_assert_cmpstr(json_object_get_string_member(x, "detail"), ==,
                    json_object_get_string_member(y, "detail"));
  }

  /* Imported back over the template: the very bytes of the flash enrolment. */
  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "import", b, "-o", back, "--template",
                               OVMF_VARS_4M_MS, NULL), ==, 0);
  g_autofree char *s1 = file_sha256(flash);
  g_autofree char *s2 = file_sha256(back);
  g_assert_cmpstr(s1, ==, s2);

  /* show judges both alike. */
  g_autofree char *show_flash = NULL, *show_json = NULL;
  g_assert_cmpint(vsb_test_run(&show_flash, NULL, "vars", "show", flash, "--json", NULL), ==, 0);
  g_assert_cmpint(vsb_test_run(&show_json, NULL, "vars", "show", b, "--json", NULL), ==, 0);
  g_autoptr(JsonNode) sf = vsb_test_parse_json(show_flash);
  g_autoptr(JsonNode) sj = vsb_test_parse_json(show_json);
  JsonObject *of = json_node_get_object(sf), *oj = json_node_get_object(sj);
  g_assert_cmpstr(json_object_get_string_member(oj, "format"), ==, "json");
  g_assert_cmpstr(json_object_get_string_member(oj, "layout"), ==, "none");
  g_assert_cmpint(json_object_get_int_member(of, "used"), ==, json_object_get_int_member(oj, "used"));
  JsonObject *bf = json_object_get_object_member(of, "secure-boot");
  JsonObject *bjs = json_object_get_object_member(oj, "secure-boot");
  g_assert_cmpstr(json_object_get_string_member(bjs, "verdict"), ==, "enforced");
  static const char *const same[] = { "mode", "verdict" }; /* "reason" names flash offsets */
  for (gsize i = 0; i < G_N_ELEMENTS(same); i++)
    g_assert_cmpstr(json_object_get_string_member(bf, same[i]), ==,
                    json_object_get_string_member(bjs, same[i]));
  g_autofree char *ef = json_to_string(json_object_get_member(bf, "entries"), FALSE);
  g_autofree char *ej = json_to_string(json_object_get_member(bjs, "entries"), FALSE);
  g_assert_cmpstr(ef, ==, ej);
  g_autofree char *text = NULL;
  g_assert_cmpint(vsb_test_run(&text, NULL, "vars", "show", b, NULL), ==, 0);
  g_assert_nonnull(strstr(text, ": json store, "));
  g_assert_nonnull(strstr(text, "Secure Boot: user mode, enforcing"));

  /* In place, the JSON store stays JSON; off is written as it is for flash. */
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "vars", "enroll", "--in-place", b, "--secure-boot",
                               "off", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "Store: json, "));
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) st = vsb_varstore_load(b, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(vsb_varstore_get_format(st), ==, "json");
  const VsbVariable *sbe = vsb_varstore_lookup(st, "SecureBootEnable", NULL);
  g_assert_nonnull(sbe);
  g_assert_cmpint(((const guint8 *)g_bytes_get_data(sbe->data, NULL))[0], ==, 0);
}

static void
test_locked(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *vars = g_build_filename(dir, "vars.fd", NULL);
  g_autofree char *tmpl = NULL;
  gsize tlen = 0;
  g_assert_true(g_file_get_contents(OVMF_VARS_4M, &tmpl, &tlen, NULL));
  vsb_test_write_file(vars, tmpl, tlen);
  g_autofree char *code_drive = g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s",
                                                OVMF_CODE_4M);
  g_autofree char *vars_drive = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  const char *argv[] = { "qemu-system-x86_64", "-machine", "q35,smm=on", "-accel", "tcg",
                         "-global", "driver=cfi.pflash01,property=secure,value=on",
                         "-drive", code_drive, "-drive", vars_drive, "-S", "-display", "none",
                         "-monitor", "none", "-serial", "none", "-net", "none", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) qemu = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDIN_PIPE, &error);
  g_assert_no_error(error);
  gboolean locked = FALSE;
  for (int i = 0; i < 200 && !locked; i++) {
    g_usleep(50000);
    locked = vsb_file_is_locked(vars, NULL);
  }
  g_assert_true(locked);
  expect_refused(dir, vars, "locked", "--secure-boot", "on", NULL);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", "--in-place", vars, "--secure-boot", "on",
                        "--force", NULL);
  g_subprocess_force_exit(qemu);
  g_subprocess_wait(qemu, NULL, NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(VsbVarstore) store = vsb_varstore_load(vars, &error);
  g_assert_no_error(error);
  g_assert_nonnull(vsb_varstore_lookup(store, "SecureBootEnable", NULL));
}


/* `vsboot keys generate`: the files, their modes, and what the certificates say. */
static void
test_keys_generate(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "k", NULL);
  g_autofree char *json = NULL, *err = NULL;
  int rc = vsb_test_run(&json, &err, "keys", "generate", keys, "--cn", "Test Org", "--bits",
                        "3072", "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) node = vsb_test_parse_json(json);
  JsonObject *root = json_node_get_object(node);
  g_assert_cmpint(json_object_get_int_member(root, "bits"), ==, 3072);
  JsonArray *arr = json_object_get_array_member(root, "keys");
  g_assert_cmpuint(json_array_get_length(arr), ==, 3);

  /* owner.guid: a version-4 GUID, the one the report gives. */
  g_autofree char *guid_path = g_build_filename(keys, "owner.guid", NULL);
  g_autofree char *guid_text = NULL;
  g_assert_true(g_file_get_contents(guid_path, &guid_text, NULL, NULL));
  g_strstrip(guid_text);
  g_assert_cmpstr(guid_text, ==, json_object_get_string_member(root, "owner"));
  g_assert_true(g_uuid_string_is_valid(guid_text));
  g_assert_cmpint(guid_text[14], ==, '4');

  static const char *const roles[] = { "PK", "KEK", "db" };
  char *serials[3] = { NULL };
  for (guint i = 0; i < 3; i++) {
    g_autofree char *kp = g_strdup_printf("%s/%s.key", keys, roles[i]);
    g_autofree char *cp = g_strdup_printf("%s/%s.crt", keys, roles[i]);
    GStatBuf st;
    g_assert_cmpint(g_stat(kp, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(g_stat(cp, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0644);

    g_autoptr(GError) error = NULL;
    X509 *cert = vsb_cert_load(cp, &error);
    g_assert_no_error(error);
    char cn[128];
    g_assert_cmpint(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                              sizeof cn), >, 0);
    g_autofree char *want_cn = g_strdup_printf("Test Org %s", roles[i]);
    g_assert_cmpstr(cn, ==, want_cn);
    g_assert_cmpint(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), ==, 0);
    g_assert_cmpint(X509_get_signature_nid(cert), ==, NID_sha256WithRSAEncryption);
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    g_assert_cmpint(EVP_PKEY_get_bits(pub), ==, 3072);
    g_assert_cmpint(X509_verify(cert, pub), ==, 1); /* self-signed */
    /* PK and KEK are CAs; db is a code-signing leaf. */
    g_assert_cmpint(X509_check_ca(cert) != 0, ==, i != 2);
    if (i == 2)
      g_assert_true(X509_get_extended_key_usage(cert) & XKU_CODE_SIGN);
    g_assert_true(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);
    int days = 0, secs = 0;
    g_assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert),
                                 X509_get0_notAfter(cert)));
    g_assert_cmpint(days, ==, 3650);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    g_assert_false(BN_is_zero(bn));
    char *hex = BN_bn2hex(bn);
    serials[i] = g_strdup(hex);
    OPENSSL_free(hex);
    BN_free(bn);
    /* The private key belongs to the certificate. */
    g_autofree char *pem = NULL;
    gsize pem_len = 0;
    g_assert_true(g_file_get_contents(kp, &pem, &pem_len, NULL));
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    g_assert_nonnull(key);
    g_assert_cmpint(X509_check_private_key(cert, key), ==, 1);
    EVP_PKEY_free(key);
    X509_free(cert);
  }
  g_assert_cmpstr(serials[0], !=, serials[1]);
  g_assert_cmpstr(serials[1], !=, serials[2]);
  for (guint i = 0; i < 3; i++)
    g_free(serials[i]);

  /* Never overwrite: a second run fails and leaves the keys as they were. */
  g_autofree char *pk_key = g_build_filename(keys, "PK.key", NULL);
  g_autofree char *before = file_sha256(pk_key);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "keys", "generate", keys, NULL);
  g_assert_cmpint(rc, ==, 2);
  g_assert_nonnull(strstr(err, "already exists"));
  g_autofree char *after = file_sha256(pk_key);
  g_assert_cmpstr(before, ==, after);
  /* A stray file of the set blocks the whole set. */
  g_autofree char *dir2 = g_build_filename(dir, "k2", NULL);
  g_assert_cmpint(g_mkdir(dir2, 0700), ==, 0);
  g_autofree char *stray = g_build_filename(dir2, "db.crt", NULL);
  vsb_test_write_file(stray, "mine", -1);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "keys", "generate", dir2, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "db.crt already exists"));
  g_autofree char *pk2 = g_build_filename(dir2, "PK.key", NULL);
  g_assert_false(g_file_test(pk2, G_FILE_TEST_EXISTS));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "keys", "generate", keys, "--bits", "1024", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "1024"));
  /* A blank name is refused (it used to become "vsboot" silently), and nothing is written. */
  const char *blank[] = { "", "   " };
  for (gsize i = 0; i < G_N_ELEMENTS(blank); i++) {
    g_autofree char *dir3 = g_build_filename(dir2, "blank", NULL);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(NULL, &err, "keys", "generate", dir3, "--cn", blank[i], NULL),
                    ==, 2);
    g_autofree char *want = g_strdup_printf("common name '%s': must be non-blank", blank[i]);
    g_assert_nonnull(strstr(err, want));
    g_assert_false(g_file_test(dir3, G_FILE_TEST_EXISTS));
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/enroll/vector6-4m", test_vector6_4m);
  g_test_add_func("/enroll/vector6-2m", test_vector6_2m);
  g_test_add_func("/enroll/secure-boot-only", test_secure_boot_only);
  g_test_add_func("/enroll/cli-own-keys", test_cli_own_keys);
  g_test_add_func("/enroll/hashes", test_hashes);
  g_test_add_func("/enroll/dbx-update", test_dbx_update);
  g_test_add_func("/enroll/copy-from", test_copy_from);
  g_test_add_func("/enroll/bad-input", test_bad_input);
  g_test_add_func("/enroll/locked", test_locked);
  g_test_add_func("/enroll/json-store", test_json_store);
  g_test_add_func("/keys/generate", test_keys_generate);
  return g_test_run();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signed authenticated-variable updates (authvar.h): Microsoft's real objects against Debian's
 * real stores, altered copies, a Red Hat PK store, malformed files, and updates signed here
 * with throw-away keys for the time stamp and duplicate rules. */
#include "testutil.h"

#include "vsboot/authvar.h"
#include "vsboot/error.h"
#include "vsboot/guid.h"
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "vsboot/varstore.h"

#include <glib/gstdio.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#define OVMF_VARS_4M "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define OVMF_VARS_4M_MS "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
#define OVMF_VARS_4M_SNAKEOIL "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"

/* Microsoft's objects live beside the checkout: $VSB_MS_DATA, else
 * $VSB_SOURCE_ROOT/../shared/data/microsoft (CI clones with ../shared next to it). */
static char *
ms_path(const char *rel)
{
  const char *dir = g_getenv("VSB_MS_DATA");
  g_autofree char *def = NULL;
  if (dir == NULL) {
    const char *root = g_getenv("VSB_SOURCE_ROOT");
    if (root == NULL)
      vsb_test_fail("VSB_SOURCE_ROOT is not set (run through meson test)");
    def = g_build_filename(root, "..", "shared", "data", "microsoft", NULL);
    dir = def;
  }
  char *p = g_build_filename(dir, rel, NULL);
  if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("missing test data %s (set VSB_MS_DATA to the microsoft data directory)", p);
  return p;
}

static GBytes *
read_bytes(const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, &error))
    vsb_test_fail("%s", error->message);
  return g_bytes_new_take(g_steal_pointer(&data), len);
}

static GBytes *
ms_bytes(const char *rel)
{
  g_autofree char *p = ms_path(rel);
  return read_bytes(p);
}

static VsbAuthvarUpdate *
ms_update(const char *rel)
{
  g_autofree char *p = ms_path(rel);
  g_autoptr(GError) error = NULL;
  VsbAuthvarUpdate *u = vsb_authvar_load(p, &error);
  if (u == NULL)
    vsb_test_fail("%s: %s", rel, error->message);
  return u;
}

static VsbVarstore *
load_store(const char *path)
{
  g_autoptr(GError) error = NULL;
  VsbVarstore *s = vsb_varstore_load(path, &error);
  if (s == NULL)
    vsb_test_fail("%s", error->message);
  return s;
}

static GBytes *
serialize(const VsbVarstore *s)
{
  g_autoptr(GError) error = NULL;
  GBytes *b = vsb_varstore_serialize(s, &error);
  if (b == NULL)
    vsb_test_fail("serialize: %s", error->message);
  return b;
}

static VsbAuthvarResult *
apply_ok(VsbVarstore *s, const VsbAuthvarUpdate *u, const char *name,
         const VsbAuthvarOptions *opts)
{
  g_autoptr(GError) error = NULL;
  VsbAuthvarResult *r = vsb_authvar_apply(s, u, name, NULL, opts, &error);
  if (r == NULL)
    vsb_test_fail("applying %s as %s: %s", u->origin, name, error->message);
  return r;
}

/* The update is refused with code, the message holds want, and the store is untouched. */
static void
apply_refused(VsbVarstore *s, const VsbAuthvarUpdate *u, const char *name, int code,
              const char *want)
{
  g_autoptr(GBytes) before = serialize(s);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbAuthvarResult) r = vsb_authvar_apply(s, u, name, NULL, NULL, &error);
  if (r != NULL)
    vsb_test_fail("%s as %s: applied (%s), expected a refusal containing '%s'", u->origin, name,
                  vsb_authvar_mode_name(r->mode), want);
  if (!g_error_matches(error, VSB_AUTHVAR_ERROR, code) || strstr(error->message, want) == NULL)
    vsb_test_fail("%s as %s: expected code %d with '%s', got code %d: %s", u->origin, name,
                  code, want, error->code, error->message);
  g_autoptr(GBytes) after = serialize(s);
  if (!g_bytes_equal(before, after))
    vsb_test_fail("%s as %s: refused but the store changed", u->origin, name);
  g_test_message("refused as expected: %s", error->message);
}

static GPtrArray *
var_entries(const VsbVarstore *s, const char *name)
{
  const VsbVariable *v = vsb_varstore_lookup(s, name, vsb_sb_known_guid(name));
  if (v == NULL)
    vsb_test_fail("the store has no %s", name);
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(v->data, &len);
  GPtrArray *e = vsb_siglist_parse(d, len, &error);
  if (e == NULL)
    vsb_test_fail("%s: %s", name, error->message);
  return e;
}

static guint
count_type(GPtrArray *entries, VsbSigType type)
{
  guint n = 0;
  for (guint i = 0; i < entries->len; i++)
    n += ((VsbSigEntry *)entries->pdata[i])->type == type;
  return n;
}

static gboolean
has_data(GPtrArray *entries, GBytes *data)
{
  for (guint i = 0; i < entries->len; i++)
    if (g_bytes_equal(((VsbSigEntry *)entries->pdata[i])->data, data))
      return TRUE;
  return FALSE;
}

static int
tcmp(const VsbEfiTime *a, const VsbEfiTime *b)
{
  return vsb_efi_time_compare(a, b);
}

/* ---- Microsoft's objects on Debian's stores --------------------------------------------- */

static void
test_parse_microsoft(void)
{
  static const char *files[] = {
    "updates/DBUpdate2024.bin", "updates/DBUpdate3P2023.bin", "updates/DBUpdateOROM2023.bin",
    "updates/DBXUpdate.amd64.bin", "updates/DBXUpdate.arm64.bin",
    "updates/KEKUpdate_RedHat_PK1.bin", "updates/optional/DBXUpdate2024.bin",
    "updates/optional/DBXUpdateSVN.bin",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autoptr(VsbAuthvarUpdate) u = ms_update(files[i]);
    g_autofree char *ts = vsb_efi_time_to_string(&u->timestamp);
    if (g_strcmp0(ts, "2010-03-06T19:17:21Z") != 0)
      vsb_test_fail("%s: time stamp %s, expected 2010-03-06T19:17:21Z", files[i], ts);
    if (u->pkcs7_wrapped || g_strcmp0(u->digest, "SHA256") != 0 || u->signer_count != 1)
      vsb_test_fail("%s: wrapped %d digest %s signers %u", files[i], u->pkcs7_wrapped,
                    u->digest, u->signer_count);
    if (u->entries->len == 0 || u->payload_offset != 16 + u->cert_length)
      vsb_test_fail("%s: %u entries, payload at %zu", files[i], u->entries->len,
                    u->payload_offset);
    const char *want = strstr(files[i], "RedHat") ? "Red Hat Secure Boot (PK/KEK key 1)"
                                                  : "Microsoft Windows UEFI Key Exchange Key";
    if (u->signer == NULL || strstr(u->signer, want) == NULL)
      vsb_test_fail("%s: signer %s, expected %s", files[i], u->signer, want);
  }
  g_autoptr(VsbAuthvarUpdate) dbx = ms_update("updates/DBXUpdate.amd64.bin");
  if (count_type(dbx->entries, VSB_SIG_SHA256) < 443)
    vsb_test_fail("DBXUpdate.amd64.bin: %u SHA-256 entries", count_type(dbx->entries,
                                                                         VSB_SIG_SHA256));
}

static void
test_ms_db_and_dbx(void)
{
  g_autoptr(VsbVarstore) s = load_store(OVMF_VARS_4M_MS);
  g_autoptr(VsbAuthvarUpdate) db = ms_update("updates/DBUpdate3P2023.bin");
  g_autoptr(VsbAuthvarUpdate) dbx = ms_update("updates/DBXUpdate.amd64.bin");
  g_autoptr(GBytes) ca2023 = ms_bytes("certs/microsoft-uefi-ca-2023.der");
  g_autoptr(GPtrArray) db_before = var_entries(s, "db");
  if (has_data(db_before, ca2023))
    vsb_test_fail("Debian's ms store already holds Microsoft UEFI CA 2023");

  g_autoptr(VsbAuthvarResult) r = apply_ok(s, db, "db", NULL);
  g_assert_true(r->verified);
  g_assert_null(r->unverified_reason);
  g_assert_cmpuint(r->attributes, ==, VSB_AUTHVAR_ATTR_APPEND);
  g_assert_cmpint(r->mode, ==, VSB_AUTHVAR_APPEND);
  g_assert_cmpstr(r->trust_variable, ==, "KEK");
  if (r->trust_subject == NULL || strstr(r->trust_subject, "Microsoft Corporation KEK CA 2011") ==
      NULL)
    vsb_test_fail("db update trusted through %s", r->trust_subject);
  g_assert_true(r->changed && r->existed);
  g_assert_cmpuint(r->entries_added, ==, 1);
  g_assert_cmpuint(r->entries_present, ==, 0);
  g_assert_cmpuint(r->entries_after, ==, db_before->len + 1);
  /* The stored time stamp is the later one; Microsoft's 2010 stamp never moves it back. */
  g_assert_cmpint(tcmp(&r->time_after, &r->time_before), >=, 0);
  g_assert_cmpint(tcmp(&r->time_after, &db->timestamp), >=, 0);
  g_autoptr(GPtrArray) db_after = var_entries(s, "db");
  if (!has_data(db_after, ca2023))
    vsb_test_fail("db lacks Microsoft UEFI CA 2023 after the update");

  g_autoptr(VsbAuthvarResult) rx = apply_ok(s, dbx, "dbx", NULL);
  g_assert_true(rx->verified && rx->changed);
  g_assert_cmpint(rx->mode, ==, VSB_AUTHVAR_APPEND);
  g_autoptr(GPtrArray) dbx_after = var_entries(s, "dbx");
  if (count_type(dbx_after, VSB_SIG_SHA256) < 443)
    vsb_test_fail("dbx holds %u SHA-256 entries after the update",
                  count_type(dbx_after, VSB_SIG_SHA256));
  g_assert_cmpint(tcmp(&rx->time_after, &rx->time_before), >=, 0);

  /* Written and read back, then both updates again: nothing changes. */
  g_autoptr(GBytes) image = serialize(s);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) back = vsb_varstore_load_bytes(image, "reloaded", &error);
  g_assert_no_error(error);
  g_autoptr(VsbAuthvarResult) r2 = apply_ok(back, db, "db", NULL);
  g_autoptr(VsbAuthvarResult) rx2 = apply_ok(back, dbx, "dbx", NULL);
  g_assert_false(r2->changed);
  g_assert_false(rx2->changed);
  g_assert_cmpuint(r2->entries_added, ==, 0);
  g_assert_cmpuint(r2->entries_present, ==, db->entries->len);
  g_assert_cmpuint(rx2->entries_added, ==, 0);
  g_assert_cmpuint(rx2->entries_present, ==, dbx->entries->len);
  g_autoptr(GBytes) again = serialize(back);
  if (!g_bytes_equal(image, again))
    vsb_test_fail("applying the same updates a second time changed the store");
}

static void
test_ms_dbx2024(void)
{
  g_autoptr(VsbVarstore) s = load_store(OVMF_VARS_4M_MS);
  g_autoptr(VsbAuthvarUpdate) u = ms_update("updates/optional/DBXUpdate2024.bin");
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbAuthvarResult) v = vsb_authvar_verify(s, u, "dbx", NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_true(v->verified && v->changed);
  g_autoptr(GBytes) before = serialize(s);
  g_autoptr(GBytes) still = serialize(s);
  g_assert_true(g_bytes_equal(before, still)); /* verify never writes */
  g_autoptr(VsbAuthvarResult) r = apply_ok(s, u, "dbx", NULL);
  g_assert_true(r->verified && r->changed);
  g_assert_cmpuint(r->entries_added, ==, u->entries->len);
  g_autoptr(GPtrArray) dbx = var_entries(s, "dbx");
  for (guint i = 0; i < u->entries->len; i++)
    if (!has_data(dbx, ((VsbSigEntry *)u->entries->pdata[i])->data))
      vsb_test_fail("dbx lacks entry %u of DBXUpdate2024.bin", i);
}

/* OVMF 2M builds take authenticated variables up to 0x2800 bytes: the amd64 dbx update does
 * not fit, the smaller db update does. */
static void
test_too_large_2m(void)
{
  g_autoptr(VsbVarstore) s = load_store("/usr/share/OVMF/OVMF_VARS.ms.fd");
  g_assert_cmpint(vsb_varstore_get_layout(s), ==, VSB_VARSTORE_LAYOUT_OVMF_2M);
  g_autoptr(VsbAuthvarUpdate) dbx = ms_update("updates/DBXUpdate.amd64.bin");
  apply_refused(s, dbx, "dbx", VSB_AUTHVAR_ERROR_REFUSED, "PcdMaxAuthVariableSize");
  g_autoptr(VsbAuthvarUpdate) db = ms_update("updates/DBUpdate3P2023.bin");
  g_autoptr(VsbAuthvarResult) r = apply_ok(s, db, "db", NULL);
  g_assert_true(r->verified && r->changed);
}

/* One byte flipped at offset; the copy still parses. */
static VsbAuthvarUpdate *
flipped(GBytes *orig, gsize offset, const char *origin)
{
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(orig, &len);
  g_autofree guint8 *copy = g_memdup2(d, len);
  g_assert_cmpuint(offset, <, len);
  copy[offset] ^= 0x01;
  g_autoptr(GError) error = NULL;
  VsbAuthvarUpdate *u = vsb_authvar_parse(copy, len, origin, &error);
  if (u == NULL)
    vsb_test_fail("%s: %s", origin, error->message);
  return u;
}

static void
test_tampered(void)
{
  g_autoptr(VsbVarstore) s = load_store(OVMF_VARS_4M_MS);
  g_autoptr(GBytes) orig = ms_bytes("updates/DBXUpdate.amd64.bin");
  g_autoptr(VsbAuthvarUpdate) good = ms_update("updates/DBXUpdate.amd64.bin");
  /* The PKCS#7 ends with the RSA signature value (no unsigned attributes). */
  gsize sig_byte = 16 + good->cert_length - 7;
  g_autoptr(VsbAuthvarUpdate) bad_sig = flipped(orig, sig_byte, "signature-flipped");
  apply_refused(s, bad_sig, "dbx", VSB_AUTHVAR_ERROR_BAD_SIGNATURE, "does not verify");
  /* The last byte of the payload: inside the last SHA-256 hash. */
  g_autoptr(VsbAuthvarUpdate) bad_data = flipped(orig, g_bytes_get_size(orig) - 1,
                                                 "payload-flipped");
  apply_refused(s, bad_data, "dbx", VSB_AUTHVAR_ERROR_BAD_SIGNATURE, "altered");

  /* unsigned_ok applies it anyway and says so. */
  VsbAuthvarOptions opts = { .unsigned_ok = TRUE };
  g_autoptr(VsbAuthvarResult) r = apply_ok(s, bad_data, "dbx", &opts);
  g_assert_false(r->verified);
  g_assert_nonnull(r->unverified_reason);
  g_assert_nonnull(strstr(r->unverified_reason, "does not verify"));
  g_assert_null(r->trust_variable);
  g_assert_true(r->changed);
  g_assert_cmpint(r->mode, ==, VSB_AUTHVAR_APPEND);

  /* The file cut right after its signature parses (an empty payload), but the signature
   * covered the payload. */
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(orig, &len);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbAuthvarUpdate) cut = vsb_authvar_parse(d, 16 + good->cert_length, "cut", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(cut->entries->len, ==, 0);
  g_autoptr(VsbVarstore) s2 = load_store(OVMF_VARS_4M_MS);
  apply_refused(s2, cut, "dbx", VSB_AUTHVAR_ERROR_BAD_SIGNATURE, "does not verify");
}

static void
test_wrong_variable(void)
{
  g_autoptr(VsbVarstore) s = load_store(OVMF_VARS_4M_MS);
  g_autoptr(VsbAuthvarUpdate) dbx = ms_update("updates/DBXUpdate.amd64.bin");
  apply_refused(s, dbx, "db", VSB_AUTHVAR_ERROR_WRONG_VARIABLE, "signed for the variable dbx");
  g_autoptr(VsbAuthvarUpdate) db = ms_update("updates/DBUpdate3P2023.bin");
  apply_refused(s, db, "KEK", VSB_AUTHVAR_ERROR_WRONG_VARIABLE, "signed for the variable db");
  /* Asked for replace: Microsoft signed it for append. */
  g_autoptr(GError) error = NULL;
  VsbAuthvarOptions opts = { .attributes = VSB_AUTHVAR_ATTR_REPLACE };
  g_autoptr(VsbAuthvarResult) r = vsb_authvar_apply(s, db, "db", NULL, &opts, &error);
  g_assert_null(r);
  g_assert_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_BAD_SIGNATURE);
  g_assert_nonnull(strstr(error->message, "0x67 (append)"));
  g_clear_error(&error);
  /* Not a variable with signed updates. */
  g_autoptr(VsbAuthvarResult) r2 = vsb_authvar_apply(s, db, "MokList", &VSB_GUID_SHIM_LOCK,
                                                     NULL, &error);
  g_assert_null(r2);
  g_assert_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED);
}

static void
test_snakeoil_refuses(void)
{
  g_autoptr(VsbVarstore) s = load_store(OVMF_VARS_4M_SNAKEOIL);
  g_autoptr(VsbAuthvarUpdate) db = ms_update("updates/DBUpdate3P2023.bin");
  g_autoptr(VsbAuthvarUpdate) dbx = ms_update("updates/DBXUpdate.amd64.bin");
  g_autoptr(VsbAuthvarUpdate) kek = ms_update("updates/KEKUpdate_RedHat_PK1.bin");
  apply_refused(s, db, "db", VSB_AUTHVAR_ERROR_UNTRUSTED, "not trusted for db");
  apply_refused(s, dbx, "dbx", VSB_AUTHVAR_ERROR_UNTRUSTED, "Microsoft Windows UEFI Key");
  apply_refused(s, kek, "KEK", VSB_AUTHVAR_ERROR_UNTRUSTED, "not trusted for KEK");
  /* unsigned_ok applies it anyway; the signature is intact, so its attributes (append) are
   * still the ones used, and the result says it was not verified. */
  VsbAuthvarOptions opts = { .unsigned_ok = TRUE };
  g_autoptr(VsbAuthvarResult) r = apply_ok(s, db, "db", &opts);
  g_assert_false(r->verified);
  g_assert_nonnull(strstr(r->unverified_reason, "not trusted for db"));
  g_assert_cmpuint(r->attributes, ==, VSB_AUTHVAR_ATTR_APPEND);
  g_assert_cmpint(r->mode, ==, VSB_AUTHVAR_APPEND);
  g_assert_cmpuint(r->entries_added, ==, 1);
  g_assert_null(r->trust_subject);
  /* An empty template has no PK: setup mode, nothing vouches for anything. */
  g_autoptr(VsbVarstore) empty = load_store(OVMF_VARS_4M);
  apply_refused(empty, db, "db", VSB_AUTHVAR_ERROR_UNTRUSTED, "setup mode");
}

static void
test_redhat_kek(void)
{
  g_autoptr(VsbVarstore) s = load_store(OVMF_VARS_4M);
  g_autofree char *pem = ms_path("certs/redhat-secure-boot-pk-kek-key-1.pem");
  g_autoptr(GError) error = NULL;
  X509 *rh = vsb_cert_load(pem, &error);
  g_assert_no_error(error);
  {
    g_autoptr(VsbEnroll) e = vsb_enroll_new(s);
    g_assert_true(vsb_enroll_set_pk(e, rh, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, &error));
    g_assert_no_error(error);
  }
  X509_free(rh);
  g_autoptr(VsbAuthvarUpdate) kek = ms_update("updates/KEKUpdate_RedHat_PK1.bin");
  g_autoptr(VsbAuthvarResult) r = apply_ok(s, kek, "KEK", NULL);
  g_assert_true(r->verified && r->changed);
  g_assert_false(r->existed);
  g_assert_cmpstr(r->trust_variable, ==, "PK");
  g_assert_cmpuint(r->trust_index, ==, 0);
  g_assert_nonnull(strstr(r->trust_subject, "Red Hat Secure Boot (PK/KEK key 1)"));
  g_autoptr(GBytes) kek2023 = ms_bytes("certs/microsoft-corporation-kek-2k-ca-2023.der");
  g_autoptr(GPtrArray) entries = var_entries(s, "KEK");
  if (!has_data(entries, kek2023))
    vsb_test_fail("KEK lacks Microsoft Corporation KEK 2K CA 2023");
  g_assert_cmpint(tcmp(&r->time_after, &kek->timestamp), ==, 0);

  /* Debian's ms store (another PK) refuses it. */
  g_autoptr(VsbVarstore) ms = load_store(OVMF_VARS_4M_MS);
  apply_refused(ms, kek, "KEK", VSB_AUTHVAR_ERROR_UNTRUSTED, "Red Hat Secure Boot");
}

/* ---- malformed files -------------------------------------------------------------------- */

static void
expect_malformed(const guint8 *d, gsize len, const char *what, const char *want)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbAuthvarUpdate) u = vsb_authvar_parse(d, len, what, &error);
  if (u != NULL)
    vsb_test_fail("%s: parsed, expected an error containing '%s'", what, want);
  if (!g_error_matches(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED) ||
      strstr(error->message, want) == NULL || strstr(error->message, what) == NULL)
    vsb_test_fail("%s: expected MALFORMED with '%s', got: %s", what, want, error->message);
  g_test_message("%s", error->message);
}

static void
test_malformed(void)
{
  g_autoptr(GBytes) orig = ms_bytes("updates/DBUpdate3P2023.bin");
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(orig, &len);
  guint32 dw = (guint32)d[16] | (guint32)d[17] << 8 | (guint32)d[18] << 16 |
               (guint32)d[19] << 24;
  expect_malformed(d, 0, "empty", "is empty");
  expect_malformed(d, 10, "cut-10", "offset 0: the file (10 bytes) is truncated inside the "
                   "EFI_TIME");
  expect_malformed(d, 16, "cut-16", "offset 16");
  expect_malformed(d, 30, "cut-30", "WIN_CERTIFICATE_UEFI_GUID header");
  expect_malformed(d, 40, "cut-40", "dwLength 3321 runs past the end");
  expect_malformed(d, 1000, "cut-1000", "runs past the end");
  expect_malformed(d, 16 + dw - 1, "cut-in-pkcs7", "runs past the end");
  expect_malformed(d, 16 + dw + 10, "cut-in-list-header", "payload at offset 3337");
  expect_malformed(d, len - 1, "cut-last-byte", "payload at offset 3337");

  g_autofree guint8 *big = g_malloc0(VSB_AUTHVAR_MAX_FILE_SIZE + 1);
  memcpy(big, d, len);
  expect_malformed(big, VSB_AUTHVAR_MAX_FILE_SIZE + 1, "oversized", "too large");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *bigpath = g_build_filename(dir, "big.auth", NULL);
  vsb_test_write_file(bigpath, big, VSB_AUTHVAR_MAX_FILE_SIZE + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbAuthvarUpdate) lu = vsb_authvar_load(bigpath, &error);
  g_assert_null(lu);
  g_assert_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED);
  g_assert_nonnull(strstr(error->message, "too large"));

  g_autofree guint8 *c = g_memdup2(d, len);
  c[20] = 0x00; c[21] = 0x01;
  expect_malformed(c, len, "revision", "offset 20: WIN_CERTIFICATE wRevision 0x0100");
  memcpy(c, d, len);
  c[22] = 0x02; c[23] = 0x00;
  expect_malformed(c, len, "certtype", "offset 22: WIN_CERTIFICATE wCertificateType 0x0002");
  memcpy(c, d, len);
  c[24] ^= 0xff;
  expect_malformed(c, len, "guid", "offset 24: CertType");
  memcpy(c, d, len);
  c[16] = 24; c[17] = c[18] = c[19] = 0;
  expect_malformed(c, len, "dwlength-24", "dwLength 24 leaves no room");
  memcpy(c, d, len);
  c[40] = 0x31; /* a SET, not a SEQUENCE */
  expect_malformed(c, len, "not-pkcs7", "offset 40: CertData (3297 bytes) is not DER PKCS#7");
  memcpy(c, d, len);
  c[8] = 1; /* Nanosecond */
  expect_malformed(c, len, "nanosecond", "offset 8: EFI_TIME Nanosecond is not 0");
  memcpy(c, d, len);
  c[14] = 1;
  expect_malformed(c, len, "daylight", "offset 14: EFI_TIME Daylight is not 0");
  memcpy(c, d, len);
  c[16 + dw + 20] = 0x10; /* SignatureHeaderSize of the first list */
  expect_malformed(c, len, "list-header", "payload at offset 3337");
  memcpy(c, d, len);
  c[16 + dw] ^= 0xff; /* SignatureType of the first list */
  expect_malformed(c, len, "list-type", "offset 3337: signature list (type");
}

/* ---- updates signed here ---------------------------------------------------------------- */

typedef struct {
  EVP_PKEY *key;
  X509 *cert;
} Signer;

/* A fresh RSA key and certificate for cn, self-signed or issued by issuer; ca adds
 * basicConstraints CA:TRUE so that it can issue. */
static Signer *
signer_new_full(const char *cn, const Signer *issuer, gboolean ca)
{
  Signer *s = g_new0(Signer, 1);
  s->key = EVP_RSA_gen(2048);
  g_assert_nonnull(s->key);
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), g_random_int_range(1, G_MAXINT32));
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : n);
  X509_set_pubkey(x, s->key);
  if (ca) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
    g_assert_nonnull(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  g_assert_cmpint(X509_sign(x, issuer ? issuer->key : s->key, EVP_sha256()), >, 0);
  s->cert = x;
  return s;
}

static Signer *
signer_new(const char *cn)
{
  return signer_new_full(cn, NULL, FALSE);
}

static void
signer_free(Signer *s)
{
  EVP_PKEY_free(s->key);
  X509_free(s->cert);
  g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Signer, signer_free)

static void
put_time(GByteArray *b, guint16 year, guint8 month, guint8 day)
{
  guint8 t[16] = { (guint8)year, (guint8)(year >> 8), month, day, 12, 0, 0 };
  g_byte_array_append(b, t, 16);
}

/* An AUTH_2 file for name/guid/attrs at year-month-day 12:00:00, signed by signer, the
 * SignedData bare or in its ContentInfo; written independently of the library. */
static GBytes *
make_auth2(const char *name, const VsbGuid *guid, guint32 attrs, guint16 year, guint8 month,
           guint8 day, GBytes *payload, const Signer *signer, gboolean wrapped)
{
  g_autoptr(GByteArray) msg = g_byte_array_new();
  for (const char *p = name; *p; p++)
    g_byte_array_append(msg, (const guint8[]){ (guint8)*p, 0 }, 2);
  g_byte_array_append(msg, guid->b, 16);
  g_byte_array_append(msg, (const guint8[]){ (guint8)attrs, 0, 0, 0 }, 4);
  put_time(msg, year, month, day);
  g_byte_array_append(msg, g_bytes_get_data(payload, NULL), (guint)g_bytes_get_size(payload));
  BIO *in = BIO_new_mem_buf(msg->data, (int)msg->len);
  PKCS7 *p7 = PKCS7_sign(signer->cert, signer->key, NULL, in,
                         PKCS7_BINARY | PKCS7_DETACHED | PKCS7_NOATTR);
  g_assert_nonnull(p7);
  BIO_free(in);
  unsigned char *der = NULL;
  int n = wrapped ? i2d_PKCS7(p7, &der) : i2d_PKCS7_SIGNED(p7->d.sign, &der);
  g_assert_cmpint(n, >, 0);
  PKCS7_free(p7);
  GByteArray *out = g_byte_array_new();
  put_time(out, year, month, day);
  guint32 dw = 24 + (guint32)n;
  g_byte_array_append(out, (const guint8[]){ (guint8)dw, (guint8)(dw >> 8), 0, 0, 0x00, 0x02,
                                             0xf1, 0x0e }, 8);
  g_byte_array_append(out, VSB_GUID_EFI_CERT_TYPE_PKCS7.b, 16);
  g_byte_array_append(out, der, (guint)n);
  OPENSSL_free(der);
  g_byte_array_append(out, g_bytes_get_data(payload, NULL), (guint)g_bytes_get_size(payload));
  return g_byte_array_free_to_bytes(out);
}

static VsbAuthvarUpdate *
parse_ok(GBytes *b, const char *origin)
{
  g_autoptr(GError) error = NULL;
  VsbAuthvarUpdate *u = vsb_authvar_parse(g_bytes_get_data(b, NULL), g_bytes_get_size(b),
                                          origin, &error);
  if (u == NULL)
    vsb_test_fail("%s: %s", origin, error->message);
  return u;
}

static GBytes *
sha256_list(guint8 fill, const VsbGuid *owner)
{
  guint8 hash[32];
  memset(hash, fill, sizeof hash);
  g_autoptr(GPtrArray) e = vsb_sig_entry_array_new();
  g_ptr_array_add(e, vsb_sig_entry_new(VSB_SIG_SHA256, owner, hash, sizeof hash));
  return vsb_siglist_build(e);
}

/* A store with our PK and KEK, and Microsoft's KEK CA 2011 in KEK too. */
static VsbVarstore *
own_store(const Signer *pk, const Signer *kek)
{
  VsbVarstore *s = load_store(OVMF_VARS_4M);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(s);
  g_autoptr(GError) error = NULL;
  const VsbGuid *owner = &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS;
  g_assert_true(vsb_enroll_set_pk(e, pk->cert, owner, &error));
  g_assert_true(vsb_enroll_add_cert(e, VSB_SB_KEK, kek->cert, owner, &error));
  g_autofree char *p = ms_path("certs/microsoft-corporation-kek-ca-2011.der");
  X509 *ms = vsb_cert_load(p, &error);
  g_assert_no_error(error);
  g_assert_true(vsb_enroll_add_cert(e, VSB_SB_KEK, ms, &VSB_GUID_MICROSOFT_VENDOR, &error));
  X509_free(ms);
  g_assert_no_error(error);
  return s;
}

static void
test_time_stamps(void)
{
  g_autoptr(Signer) pk = signer_new("authvar test PK");
  g_autoptr(Signer) kek = signer_new("authvar test KEK");
  g_autoptr(VsbVarstore) s = own_store(pk, kek);
  const VsbGuid *isdb = &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE;
  const VsbGuid *a = &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, *b = &VSB_GUID_MICROSOFT_VENDOR;
  g_autoptr(GBytes) h1 = sha256_list(0x11, a), h2 = sha256_list(0x22, a);

  /* Replace, creating db at 2030-01-01. */
  g_autoptr(GBytes) f1 = make_auth2("db", isdb, 0x27, 2030, 1, 1, h1, kek, FALSE);
  g_autoptr(VsbAuthvarUpdate) u1 = parse_ok(f1, "replace-2030");
  g_autoptr(VsbAuthvarResult) r1 = apply_ok(s, u1, "db", NULL);
  g_assert_cmpint(r1->mode, ==, VSB_AUTHVAR_REPLACE);
  g_assert_cmpuint(r1->attributes, ==, VSB_AUTHVAR_ATTR_REPLACE);
  g_assert_cmpstr(r1->trust_variable, ==, "KEK");
  g_assert_cmpuint(r1->trust_index, ==, 0);
  g_assert_false(r1->existed);

  /* An older replace, and the same one again (a replay), are refused. */
  g_autoptr(GBytes) f0 = make_auth2("db", isdb, 0x27, 2029, 6, 1, h2, kek, FALSE);
  g_autoptr(VsbAuthvarUpdate) u0 = parse_ok(f0, "replace-2029");
  apply_refused(s, u0, "db", VSB_AUTHVAR_ERROR_NOT_NEWER, "later than the stored");
  apply_refused(s, u1, "db", VSB_AUTHVAR_ERROR_NOT_NEWER, "replay");

  /* A newer replace goes through and moves the time stamp forward. */
  g_autoptr(GBytes) f2 = make_auth2("db", isdb, 0x27, 2031, 1, 1, h2, kek, FALSE);
  g_autoptr(VsbAuthvarUpdate) u2 = parse_ok(f2, "replace-2031");
  g_autoptr(VsbAuthvarResult) r2 = apply_ok(s, u2, "db", NULL);
  g_assert_cmpint(tcmp(&r2->time_after, &u2->timestamp), ==, 0);
  g_assert_cmpuint(r2->entries_after, ==, 1);

  /* An older append adds its entry but keeps the later time stamp (2031). */
  g_autoptr(GBytes) f3 = make_auth2("db", isdb, 0x67, 2020, 1, 1, h1, kek, FALSE);
  g_autoptr(VsbAuthvarUpdate) u3 = parse_ok(f3, "append-2020");
  g_autoptr(VsbAuthvarResult) r3 = apply_ok(s, u3, "db", NULL);
  g_assert_cmpint(r3->mode, ==, VSB_AUTHVAR_APPEND);
  g_assert_cmpuint(r3->entries_added, ==, 1);
  g_assert_cmpint(tcmp(&r3->time_after, &u2->timestamp), ==, 0);
  const VsbVariable *v = vsb_varstore_lookup(s, "db", isdb);
  g_assert_cmpint(tcmp(&v->timestamp, &u2->timestamp), ==, 0);

  /* Microsoft's 2010 append, through KEK CA 2011: time stamp still 2031. */
  g_autoptr(VsbAuthvarUpdate) ms = ms_update("updates/DBUpdate3P2023.bin");
  g_autoptr(VsbAuthvarResult) r4 = apply_ok(s, ms, "db", NULL);
  g_assert_cmpstr(r4->trust_variable, ==, "KEK");
  g_assert_cmpuint(r4->trust_index, ==, 1);
  g_assert_cmpint(tcmp(&r4->time_after, &u2->timestamp), ==, 0);

  /* A newer append moves it forward. */
  g_autoptr(GBytes) f5 = make_auth2("db", isdb, 0x67, 2032, 2, 2, h1, kek, FALSE);
  g_autoptr(VsbAuthvarUpdate) u5 = parse_ok(f5, "append-2032");
  g_autoptr(VsbAuthvarResult) r5 = apply_ok(s, u5, "db", NULL);
  g_assert_cmpuint(r5->entries_added, ==, 0);
  g_assert_cmpuint(r5->entries_present, ==, 1);
  g_assert_true(r5->changed); /* the time stamp moved */
  g_assert_cmpint(tcmp(&r5->time_after, &u5->timestamp), ==, 0);

  /* The same hash under another owner is another entry for edk2 (FilterSignatureList compares
   * the whole EFI_SIGNATURE_DATA, SignatureOwner included). */
  g_autoptr(GBytes) h1b = sha256_list(0x11, b);
  g_autoptr(GBytes) f6 = make_auth2("db", isdb, 0x67, 2032, 2, 2, h1b, kek, FALSE);
  g_autoptr(VsbAuthvarUpdate) u6 = parse_ok(f6, "append-other-owner");
  g_autoptr(VsbAuthvarResult) r6 = apply_ok(s, u6, "db", NULL);
  g_assert_cmpuint(r6->entries_added, ==, 1);
  g_assert_cmpuint(r6->entries_present, ==, 0);
}

/* Through PK there is no chaining: a certificate PK issued does not sign for it. Through KEK
 * the chain may end at a trusted intermediate. */
static void
test_pk_no_chaining(void)
{
  g_autoptr(Signer) pk = signer_new_full("authvar test PK CA", NULL, TRUE);
  g_autoptr(Signer) leaf = signer_new_full("authvar leaf of PK", pk, FALSE);
  g_autoptr(Signer) kek = signer_new("authvar test KEK");
  g_autoptr(VsbVarstore) s = own_store(pk, kek);
  const VsbGuid *isdb = &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE;
  g_autoptr(GBytes) h = sha256_list(0x44, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS);
  g_autoptr(GBytes) f = make_auth2("db", isdb, 0x67, 2030, 1, 1, h, leaf, FALSE);
  g_autoptr(VsbAuthvarUpdate) u = parse_ok(f, "db-by-leaf-of-pk");
  apply_refused(s, u, "db", VSB_AUTHVAR_ERROR_UNTRUSTED, "authvar leaf of PK");
  {
    g_autoptr(VsbEnroll) e = vsb_enroll_new(s);
    g_autoptr(GError) error = NULL;
    g_assert_true(vsb_enroll_add_cert(e, VSB_SB_KEK, pk->cert,
                                      &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, &error));
  }
  g_autoptr(VsbAuthvarResult) r = apply_ok(s, u, "db", NULL);
  g_assert_true(r->verified);
  g_assert_cmpstr(r->trust_variable, ==, "KEK");
  g_assert_cmpuint(r->trust_index, ==, 2);
  g_assert_nonnull(strstr(r->trust_subject, "authvar test PK CA"));
  g_assert_nonnull(strstr(r->signer, "authvar leaf of PK"));
}

static void
test_own_keys(void)
{
  g_autoptr(Signer) pk = signer_new("authvar test PK");
  g_autoptr(Signer) kek = signer_new("authvar test KEK");
  g_autoptr(Signer) other = signer_new("authvar stranger");
  g_autoptr(VsbVarstore) s = own_store(pk, kek);
  const VsbGuid *isdb = &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE;
  const VsbGuid *gv = &VSB_GUID_EFI_GLOBAL_VARIABLE;
  g_autoptr(GBytes) h = sha256_list(0x33, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS);

  /* db signed by PK: ProcessVarWithPk comes first. */
  g_autoptr(GBytes) f1 = make_auth2("db", isdb, 0x67, 2030, 1, 1, h, pk, FALSE);
  g_autoptr(VsbAuthvarUpdate) u1 = parse_ok(f1, "db-by-pk");
  g_autoptr(VsbAuthvarResult) r1 = apply_ok(s, u1, "db", NULL);
  g_assert_cmpstr(r1->trust_variable, ==, "PK");

  /* KEK signed by KEK: only PK may sign KEK. */
  g_autoptr(GBytes) f2 = make_auth2("KEK", gv, 0x67, 2030, 1, 1, h, kek, FALSE);
  g_autoptr(VsbAuthvarUpdate) u2 = parse_ok(f2, "kek-by-kek");
  apply_refused(s, u2, "KEK", VSB_AUTHVAR_ERROR_UNTRUSTED, "not trusted for KEK");

  /* A stranger's signature over db. */
  g_autoptr(GBytes) f3 = make_auth2("db", isdb, 0x67, 2030, 1, 1, h, other, FALSE);
  g_autoptr(VsbAuthvarUpdate) u3 = parse_ok(f3, "db-by-stranger");
  apply_refused(s, u3, "db", VSB_AUTHVAR_ERROR_UNTRUSTED, "authvar stranger");

  /* The ContentInfo-wrapped form parses, verifies cryptographically, and edk2's
   * VerifyTimeBasedPayload still turns it away (SHA-256 OID expected at byte 13). */
  g_autoptr(GBytes) f4 = make_auth2("db", isdb, 0x67, 2030, 1, 1, h, kek, TRUE);
  g_autoptr(VsbAuthvarUpdate) u4 = parse_ok(f4, "wrapped");
  g_assert_true(u4->pkcs7_wrapped);
  apply_refused(s, u4, "db", VSB_AUTHVAR_ERROR_REFUSED, "ContentInfo");

  /* CheckSignatureListFormat: a list with a SignatureHeaderSize, an X.509 entry that is no
   * certificate. */
  static const guint8 junk[20] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
  g_autoptr(GByteArray) hl = g_byte_array_new();
  const guint32 sizes[3] = { 28 + 16 + 48, 16, 48 };
  g_byte_array_append(hl, VSB_GUID_EFI_CERT_SHA256.b, 16);
  for (int i = 0; i < 3; i++)
    g_byte_array_append(hl, (const guint8[]){ (guint8)sizes[i], 0, 0, 0 }, 4);
  g_byte_array_append(hl, (const guint8[16]){ 0 }, 16);
  g_byte_array_append(hl, VSB_GUID_MICROSOFT_VENDOR.b, 16);
  g_byte_array_append(hl, (const guint8[32]){ 1 }, 32);
  g_autoptr(GBytes) hlb = g_bytes_new(hl->data, hl->len);
  g_autoptr(GBytes) fh = make_auth2("db", isdb, 0x67, 2030, 1, 1, hlb, kek, FALSE);
  gsize fhl = g_bytes_get_size(fh);
  expect_malformed(g_bytes_get_data(fh, NULL), fhl, "header-size", "SignatureHeaderSize other");
  g_autoptr(GPtrArray) bad = vsb_sig_entry_array_new();
  g_ptr_array_add(bad, vsb_sig_entry_new(VSB_SIG_X509, gv, junk, sizeof junk));
  g_autoptr(GBytes) badb = vsb_siglist_build(bad);
  g_autoptr(GBytes) fx = make_auth2("KEK", gv, 0x67, 2030, 1, 1, badb, pk, FALSE);
  expect_malformed(g_bytes_get_data(fx, NULL), g_bytes_get_size(fx), "not-a-cert",
                   "X.509 entry that is not a certificate");

  /* PK replaced by a signature of the current PK; a PK payload of two entries refused. */
  g_autoptr(Signer) pk2 = signer_new("authvar test PK 2");
  g_autoptr(GPtrArray) one = vsb_sig_entry_array_new();
  unsigned char *der = NULL;
  int n = i2d_X509(pk2->cert, &der);
  g_ptr_array_add(one, vsb_sig_entry_new(VSB_SIG_X509, gv, der, (gsize)n));
  OPENSSL_free(der);
  g_autoptr(GBytes) pk_payload = vsb_siglist_build(one);
  g_autoptr(GBytes) f5 = make_auth2("PK", gv, 0x27, 2035, 1, 1, pk_payload, pk, FALSE);
  g_autoptr(VsbAuthvarUpdate) u5 = parse_ok(f5, "new-pk");
  g_autoptr(GBytes) f5a = make_auth2("PK", gv, 0x67, 2035, 1, 1, pk_payload, pk, FALSE);
  g_autoptr(VsbAuthvarUpdate) u5a = parse_ok(f5a, "append-pk");
  apply_refused(s, u5a, "PK", VSB_AUTHVAR_ERROR_REFUSED, "never appended");
  g_autoptr(GBytes) two = g_bytes_new(NULL, 0);
  {
    g_autoptr(GPtrArray) e2 = vsb_sig_entry_array_new();
    g_ptr_array_add(e2, vsb_sig_entry_copy(one->pdata[0]));
    g_ptr_array_add(e2, vsb_sig_entry_copy(one->pdata[0]));
    g_bytes_unref(two);
    two = vsb_siglist_build(e2);
  }
  g_autoptr(GBytes) f5b = make_auth2("PK", gv, 0x27, 2035, 1, 1, two, pk, FALSE);
  g_autoptr(VsbAuthvarUpdate) u5b = parse_ok(f5b, "two-pks");
  apply_refused(s, u5b, "PK", VSB_AUTHVAR_ERROR_REFUSED, "exactly one X.509");
  g_autoptr(VsbAuthvarResult) r5 = apply_ok(s, u5, "PK", NULL);
  g_assert_cmpstr(r5->trust_variable, ==, "PK");
  g_assert_cmpint(r5->mode, ==, VSB_AUTHVAR_REPLACE);
  /* The old PK no longer signs anything. */
  g_autoptr(GBytes) f6 = make_auth2("db", isdb, 0x67, 2036, 1, 1, h, pk, FALSE);
  g_autoptr(VsbAuthvarUpdate) u6 = parse_ok(f6, "db-by-old-pk");
  apply_refused(s, u6, "db", VSB_AUTHVAR_ERROR_UNTRUSTED, "not trusted for db");
  /* Deleting PK (empty payload, replace) signed by the new PK. */
  g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
  g_autoptr(GBytes) f7 = make_auth2("PK", gv, 0x27, 2036, 1, 1, empty, pk2, FALSE);
  g_autoptr(VsbAuthvarUpdate) u7 = parse_ok(f7, "delete-pk");
  g_autoptr(VsbAuthvarResult) r7 = apply_ok(s, u7, "PK", NULL);
  g_assert_cmpint(r7->mode, ==, VSB_AUTHVAR_DELETE);
  g_assert_true(r7->changed);
  g_assert_null(vsb_varstore_lookup(s, "PK", gv));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/authvar/parse/microsoft", test_parse_microsoft);
  g_test_add_func("/authvar/apply/microsoft-db-dbx", test_ms_db_and_dbx);
  g_test_add_func("/authvar/apply/microsoft-dbx2024", test_ms_dbx2024);
  g_test_add_func("/authvar/refuse/tampered", test_tampered);
  g_test_add_func("/authvar/refuse/too-large-2m", test_too_large_2m);
  g_test_add_func("/authvar/refuse/wrong-variable", test_wrong_variable);
  g_test_add_func("/authvar/refuse/snakeoil", test_snakeoil_refuses);
  g_test_add_func("/authvar/apply/redhat-kek", test_redhat_kek);
  g_test_add_func("/authvar/parse/malformed", test_malformed);
  g_test_add_func("/authvar/time-stamps", test_time_stamps);
  g_test_add_func("/authvar/own-keys", test_own_keys);
  g_test_add_func("/authvar/pk-no-chaining", test_pk_no_chaining);
  return g_test_run();
}

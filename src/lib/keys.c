/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Key hierarchy generation with OpenSSL 3 (EVP, X509v3). */
#include "vsboot/keys.h"
#include "vsboot/error.h"
#include "fileio.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "certificate-ossl.h"
#include "ossl-auto.h"
#include "util/enumname.h"
#include "util/osslerr.h"
#include "util/timetext.h"

#define VALIDITY_DAYS 3650

static const char *const role_names[VSB_KEY_N_ROLES] = { "PK", "KEK", "db" };

VSB_ENUM_NAME_ONLY(vsb_key_role, VsbKeyRole, role_names, VSB_KEY_N_ROLES, "?")

/* g_autoptr for the OpenSSL types: ossl-auto.h. */

static gboolean
ssl_fail(GError **error, const char *what)
{
  g_autofree char *detail = vsb_ossl_error_take(FALSE);
  g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "%s: %s", what, detail);
  return FALSE;
}

static gboolean
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value, GError **error)
{
  g_autoptr(X509_EXTENSION) ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
  if (ext == NULL || !X509_add_ext(cert, ext, -1)) {
    g_autofree char *what = g_strdup_printf("cannot add X.509 extension %s=%s",
                                            OBJ_nid2sn(nid), value);
    return ssl_fail(error, what);
  }
  return TRUE;
}

/* A self-signed certificate for key; ca selects CA or code-signing leaf extensions. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, gboolean ca, GError **error)
{
  g_autoptr(X509) cert = X509_new();
  g_autoptr(BIGNUM) serial = BN_new();
  g_autoptr(X509_NAME) name = X509_NAME_new();
  if (cert == NULL || serial == NULL || name == NULL) {
    ssl_fail(error, "out of memory");
    return NULL;
  }
  /* 127 random bits: positive, at most 16 octets (RFC 5280 4.1.2.2). */
  if (!BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) || BN_is_zero(serial) ||
      !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert))) {
    ssl_fail(error, "cannot make a random serial number");
    return NULL;
  }
  if (!X509_set_version(cert, X509_VERSION_3) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                  0) ||
      !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert), VALIDITY_DAYS, 0, NULL) ||
      !X509_set_pubkey(cert, key)) {
    g_autofree char *what = g_strdup_printf("cannot fill in the certificate '%s'", cn);
    ssl_fail(error, what);
    return NULL;
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  if (!add_ext(cert, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE",
               error) ||
      !add_ext(cert, &ctx, NID_key_usage,
               ca ? "critical,digitalSignature,keyCertSign,cRLSign" : "critical,digitalSignature",
               error) ||
      (!ca && !add_ext(cert, &ctx, NID_ext_key_usage, "codeSigning", error)) ||
      !add_ext(cert, &ctx, NID_subject_key_identifier, "hash", error) ||
      !add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always", error))
    return NULL;

  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    g_autofree char *what = g_strdup_printf("cannot sign the certificate '%s'", cn);
    ssl_fail(error, what);
    return NULL;
  }
  return g_steal_pointer(&cert);
}

static GBytes *
bio_contents(BIO *bio)
{
  char *p = NULL;
  long n = BIO_get_mem_data(bio, &p);
  return g_bytes_new(p, n > 0 ? (gsize)n : 0);
}

static void
key_pair_clear(VsbKeyPair *pair)
{
  g_free(pair->key_path);
  g_free(pair->cert_path);
  g_free(pair->subject);
  g_free(pair->serial);
  g_free(pair->not_before);
  g_free(pair->not_after);
  g_free(pair->sha256);
}

void
vsb_key_set_free(VsbKeySet *set)
{
  if (set == NULL)
    return;
  for (int i = 0; i < VSB_KEY_N_ROLES; i++)
    key_pair_clear(&set->pairs[i]);
  g_free(set->dir);
  g_free(set->common_name);
  g_free(set->owner_path);
  g_free(set);
}

/* Describe a finished certificate into pair. */
static void
describe_cert(VsbKeyPair *pair, X509 *cert)
{
  pair->subject = vsb_x509_subject(cert);

  pair->serial = vsb_x509_serial_text(X509_get0_serialNumber(cert));

  pair->not_before = vsb_time_text_asn1(X509_get0_notBefore(cert), "?");
  pair->not_after = vsb_time_text_asn1(X509_get0_notAfter(cert), "?");

  char *sha256 = vsb_x509_sha256_text(cert);
  pair->sha256 = sha256 ? sha256 : g_strdup("");
}

static gboolean
check_parameters(const char *common_name, guint bits, GError **error)
{
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "RSA key size %u is not supported: use 2048, 3072 or 4096", bits);
    return FALSE;
  }
  /* A blank name would make certificates nobody can tell apart in `vars show`. */
  g_autofree char *stripped = g_strstrip(g_strdup(common_name));
  if (!g_utf8_validate(common_name, -1, NULL) || strlen(common_name) > 60 || *stripped == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "common name '%s': must be non-blank UTF-8 text of at most 60 bytes",
                g_utf8_validate(common_name, -1, NULL) ? common_name : "(not UTF-8)");
    return FALSE;
  }
  return TRUE;
}

/* The files of a key set, in writing order (each key before its certificate, the owner GUID
 * last), and their contents once built. */
#define N_KEY_FILES (2 * VSB_KEY_N_ROLES + 1)
typedef struct {
  const char *paths[N_KEY_FILES];
  GBytes *blobs[N_KEY_FILES];
} KeyFiles;

static void
key_files_clear(KeyFiles *kf)
{
  for (gsize i = 0; i < N_KEY_FILES; i++)
    g_clear_pointer(&kf->blobs[i], g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KeyFiles, key_files_clear)

static VsbKeySet *
key_set_new(const char *dir, const char *common_name, guint bits, KeyFiles *kf)
{
  VsbKeySet *set = g_new0(VsbKeySet, 1);
  set->dir = g_strdup(dir);
  set->common_name = g_strdup(common_name);
  set->bits = bits;
  set->owner_path = g_build_filename(dir, "owner.guid", NULL);
  for (int i = 0; i < VSB_KEY_N_ROLES; i++) {
    set->pairs[i].role = i;
    set->pairs[i].key_path = g_strdup_printf("%s/%s.key", dir, role_names[i]);
    set->pairs[i].cert_path = g_strdup_printf("%s/%s.crt", dir, role_names[i]);
    kf->paths[2 * i] = set->pairs[i].key_path;
    kf->paths[2 * i + 1] = set->pairs[i].cert_path;
  }
  kf->paths[2 * VSB_KEY_N_ROLES] = set->owner_path;
  return set;
}

/* Refuse before any work when something is in the way; then make the directory. */
static gboolean
prepare_dir(const char *dir, const KeyFiles *kf, GError **error)
{
  for (gsize i = 0; i < N_KEY_FILES; i++) {
    if (g_file_test(kf->paths[i], G_FILE_TEST_EXISTS) ||
        g_file_test(kf->paths[i], G_FILE_TEST_IS_SYMLINK)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                  "%s already exists; refusing to overwrite keys", kf->paths[i]);
      return FALSE;
    }
  }
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    int e = errno;
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot create directory %s: %s", dir,
                g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

/* One role's key and certificate as PEM, described in the set. */
static gboolean
build_pair(VsbKeySet *set, int role, KeyFiles *kf, GError **error)
{
  g_autoptr(EVP_PKEY) key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)set->bits);
  if (key == NULL)
    return ssl_fail(error, "cannot generate an RSA key");
  g_autofree char *cn = g_strdup_printf("%s %s", set->common_name, role_names[role]);
  g_autoptr(X509) cert = make_cert(key, cn, role != VSB_KEY_DB, error);
  if (cert == NULL)
    return FALSE;
  g_autoptr(BIO) kbio = BIO_new(BIO_s_mem());
  g_autoptr(BIO) cbio = BIO_new(BIO_s_mem());
  if (!PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL) ||
      !PEM_write_bio_X509(cbio, cert))
    return ssl_fail(error, "cannot encode PEM");
  kf->blobs[2 * role] = bio_contents(kbio);
  kf->blobs[2 * role + 1] = bio_contents(cbio);
  describe_cert(&set->pairs[role], cert);
  return TRUE;
}

static void
build_owner(VsbKeySet *set, KeyFiles *kf)
{
  char uuid[VSB_GUID_STRING_LEN + 1];
  g_autofree char *text = g_uuid_string_random();
  if (!vsb_guid_parse(text, &set->owner))
    g_assert_not_reached();
  g_autofree char *line = g_strdup_printf("%s\n", vsb_guid_format(&set->owner, uuid));
  kf->blobs[N_KEY_FILES - 1] = g_bytes_new(line, strlen(line));
}

/* Write every file (never replacing one); on failure remove what was written. */
static gboolean
write_files(const KeyFiles *kf, GError **error)
{
  for (gsize i = 0; i < N_KEY_FILES; i++) {
    gsize len = 0;
    const void *data = g_bytes_get_data(kf->blobs[i], &len);
    /* Private keys (even index below the owner file) are for the owner's eyes only. */
    int mode = (i < N_KEY_FILES - 1 && i % 2 == 0) ? 0600 : 0644;
    if (!vsb_file_write_atomic(kf->paths[i], data, len, mode, TRUE, error)) {
      for (gsize k = 0; k < i; k++)
        g_unlink(kf->paths[k]);
      return FALSE;
    }
  }
  return TRUE;
}

VsbKeySet *
vsb_keys_generate(const char *dir, const char *common_name, guint bits, GError **error)
{
  g_return_val_if_fail(dir != NULL, NULL);
  if (common_name == NULL)
    common_name = "vsboot";
  if (!check_parameters(common_name, bits, error))
    return NULL;
  g_auto(KeyFiles) kf = { { NULL } };
  g_autoptr(VsbKeySet) set = key_set_new(dir, common_name, bits, &kf);
  if (!prepare_dir(dir, &kf, error))
    return NULL;
  /* Build everything in memory first, then write. */
  for (int i = 0; i < VSB_KEY_N_ROLES; i++)
    if (!build_pair(set, i, &kf, error))
      return NULL;
  build_owner(set, &kf);
  if (!write_files(&kf, error))
    return NULL;
  return g_steal_pointer(&set);
}
